package main

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

const swagger = `{
  "swagger": "2.0",
  "info": {"title": "T", "version": "v1"},
  "consumes": ["application/json"],
  "produces": ["application/json"],
  "paths": {
    "/v1/papers/{paper}": {
      "get": {
        "operationId": "GetPaper",
        "parameters": [
          {"name": "paper", "in": "path", "required": true, "type": "string"},
          {"name": "view", "in": "query", "required": false, "type": "string", "enum": ["A", "B"], "default": "A"},
          {"name": "names", "in": "query", "required": false, "type": "array", "items": {"type": "string"}, "collectionFormat": "multi"},
          {"name": "token", "in": "query", "required": false, "type": "string", "description": "Send it in a header; as a query parameter it is deprecated."}
        ],
        "responses": {
          "200": {"description": "ok", "schema": {"$ref": "#/definitions/Paper"}},
          "default": {"description": "error", "schema": {"$ref": "#/definitions/Status"}}
        },
        "security": [{"UserToken": []}],
        "x-security-optional": true
      }
    },
    "/v1/papers:import": {
      "post": {
        "operationId": "ImportPapers",
        "parameters": [{"name": "body", "in": "body", "required": true, "schema": {"$ref": "#/definitions/Paper"}}],
        "responses": {"200": {"description": "ok"}},
        "consumes": ["application/x-ndjson"],
        "security": [{"AdminToken": []}]
      }
    },
    "/v1/papers/{paper}:cite": {
      "get": {
        "operationId": "CitePaper",
        "responses": {
          "200": {"description": "ok", "schema": {"type": "string"}},
          "default": {"description": "error", "schema": {"$ref": "#/definitions/Status"}}
        },
        "produces": ["application/x-bibtex", "text/plain"]
      }
    },
    "/v1/papers": {
      "get": {"operationId": "ListPapers", "responses": {"200": {"description": "ok"}}},
      "post": {
        "operationId": "CreatePaper",
        "parameters": [{"name": "body", "in": "body", "required": true, "schema": {"$ref": "#/definitions/Paper"}}],
        "responses": {"200": {"description": "ok", "schema": {"$ref": "#/definitions/Paper"}}}
      }
    }
  },
  "definitions": {
    "Paper": {"type": "object", "properties": {"view": {"$ref": "#/definitions/View"}}},
    "View": {"type": "string", "enum": ["A", "B"]},
    "Status": {"type": "object"}
  },
  "securityDefinitions": {
    "AdminToken": {"type": "apiKey", "name": "Authorization", "in": "header", "x-bearer-format": "opaque"},
    "UserToken": {"type": "apiKey", "name": "authorization", "in": "header", "description": "a JWT"},
    "ManageToken": {"type": "apiKey", "name": "manage_token", "in": "query"}
  }
}`

// at returns the value at a path of keys in a decoded JSON document.
func at(t *testing.T, doc any, path ...string) any {
	t.Helper()
	for _, k := range path {
		switch d := doc.(type) {
		case map[string]any:
			doc = d[k]
		case []any:
			var i int
			if err := json.Unmarshal([]byte(k), &i); err != nil || i >= len(d) {
				t.Fatalf("no index %s in %v", k, d)
			}
			doc = d[i]
		default:
			t.Fatalf("no %s in %v (path %v)", k, doc, path)
		}
	}
	return doc
}

func TestConvert(t *testing.T) {
	out, err := convert([]byte(swagger))
	if err != nil {
		t.Fatal(err)
	}
	var doc any
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatal(err)
	}
	get := []string{"paths", "/v1/papers/{paper}", "get"}
	imp := []string{"paths", "/v1/papers:import", "post"}
	cite := []string{"paths", "/v1/papers/{paper}:cite", "get"}
	create := []string{"paths", "/v1/papers", "post"}
	tests := []struct {
		name string
		path []string
		want any
	}{
		{"the document is OpenAPI 3.0", []string{"openapi"}, "3.0.3"},
		{"info is kept", []string{"info", "title"}, "T"},
		{"an expanded path parameter is described", append(get, "parameters", "0", "description"), "The id of the resource named `papers/{paper}`."},
		{"a path parameter's type becomes its schema", append(get, "parameters", "0", "schema"), map[string]any{"type": "string"}},
		{"an enum parameter refers to its enum schema", append(get, "parameters", "1", "schema"), map[string]any{"$ref": "#/components/schemas/View"}},
		{"a repeated query parameter explodes", append(get, "parameters", "2", "explode"), true},
		{"a query parameter its description calls deprecated is deprecated", append(get, "parameters", "3", "deprecated"), true},
		{"other parameters are not deprecated", append(get, "parameters", "2", "deprecated"), nil},
		{"response schemas refer to components", append(get, "responses", "200", "content", "application/json", "schema", "$ref"), "#/components/schemas/Paper"},
		{"client errors get a 4XX response", append(get, "responses", "4XX", "content", "application/json", "schema", "$ref"), "#/components/schemas/Status"},
		{"optional security allows anonymous calls", append(get, "security"), []any{map[string]any{}, map[string]any{"UserToken": []any{}}}},
		{"the extension is consumed", append(get, "x-security-optional"), nil},
		{"a body becomes a request body of the consumed type", append(imp, "requestBody", "content", "application/x-ndjson", "schema", "$ref"), "#/components/schemas/Paper"},
		{"a body's media type is the operation's alone", append(imp, "requestBody", "content", "application/json"), nil},
		{"an operation's own media types are its answer's", append(cite, "responses", "200", "content"),
			map[string]any{"application/x-bibtex": map[string]any{"schema": map[string]any{"type": "string"}}, "text/plain": map[string]any{"schema": map[string]any{"type": "string"}}}},
		{"its errors stay JSON", append(cite, "responses", "4XX", "content"),
			map[string]any{"application/json": map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/Status"}}}},
		{"an operation's media types do not leak into the next one's body", append(create, "requestBody", "content"),
			map[string]any{"application/json": map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/Paper"}}}},
		{"nor into its answers", append(create, "responses", "200", "content"),
			map[string]any{"application/json": map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/Paper"}}}},
		{"security is kept", append(imp, "security"), []any{map[string]any{"AdminToken": []any{}}}},
		{"an operation without security is public", []string{"paths", "/v1/papers", "get", "security"}, []any{}},
		{"definitions become component schemas, references rewritten", []string{"components", "schemas", "Paper", "properties", "view", "$ref"}, "#/components/schemas/View"},
		{"an Authorization API key becomes a bearer scheme", []string{"components", "securitySchemes", "AdminToken"}, map[string]any{"type": "http", "scheme": "bearer", "bearerFormat": "opaque"}},
		{"a bearer scheme keeps its description", []string{"components", "securitySchemes", "UserToken"}, map[string]any{"type": "http", "scheme": "bearer", "description": "a JWT"}},
		{"another API key stays one", []string{"components", "securitySchemes", "ManageToken"}, map[string]any{"type": "apiKey", "in": "query", "name": "manage_token"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := at(t, doc, tt.path...); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("%v = %#v, want %#v", tt.path, got, tt.want)
			}
		})
	}
	// The document keeps the order a reader expects, not the alphabet's.
	if i, j := strings.Index(string(out), `"openapi"`), strings.Index(string(out), `"components"`); i < 0 || j < i {
		t.Errorf("openapi at %d, components at %d: want openapi first", i, j)
	}
}

func TestConvertRefusesWhatItDoesNotKnow(t *testing.T) {
	tests := map[string]string{
		"a Swagger 1.2 document":    `{"swagger": "1.2", "paths": {}}`,
		"an unknown top-level key":  `{"swagger": "2.0", "paths": {}, "webhooks": {}}`,
		"an unknown operation key":  `{"swagger": "2.0", "paths": {"/a": {"get": {"callbacks": {}, "responses": {}}}}}`,
		"a formData parameter":      `{"swagger": "2.0", "paths": {"/a": {"post": {"parameters": [{"name": "f", "in": "formData", "type": "file"}], "responses": {}}}}}`,
		"an oauth2 security scheme": `{"swagger": "2.0", "paths": {}, "securityDefinitions": {"o": {"type": "oauth2", "flow": "implicit"}}}`,
		"an unknown path item key":  `{"swagger": "2.0", "paths": {"/a": {"parameters": []}}}`,
		"response headers":          `{"swagger": "2.0", "paths": {"/a": {"get": {"responses": {"200": {"description": "x", "headers": {}}}}}}}`,
		"a pipe-separated array":    `{"swagger": "2.0", "paths": {"/a": {"get": {"parameters": [{"name": "n", "in": "query", "type": "array", "collectionFormat": "pipes"}], "responses": {}}}}}`,
		"a duplicate key":           `{"swagger": "2.0", "paths": {}, "paths": {}}`,
		"no JSON object":            `[]`,
	}
	for name, src := range tests {
		t.Run(name, func(t *testing.T) {
			if out, err := convert([]byte(src)); err == nil {
				t.Errorf("converted to %s, want an error", out)
			}
		})
	}
}
