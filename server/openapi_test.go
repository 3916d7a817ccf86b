package server_test

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// openAPIDoc is the part of an OpenAPI 3 document these tests read.
type openAPIDoc struct {
	OpenAPI string `json:"openapi"`
	Info    struct {
		Title, Version, Description string
	} `json:"info"`
	Paths map[string]map[string]struct {
		OperationID string                `json:"operationId"`
		Security    []map[string][]string `json:"security"`
		Parameters  []struct {
			Name, In string
		} `json:"parameters"`
		RequestBody struct {
			Content map[string]any `json:"content"`
		} `json:"requestBody"`
	} `json:"paths"`
	Components struct {
		SecuritySchemes map[string]struct {
			Type, Scheme, BearerFormat, In, Name string
		} `json:"securitySchemes"`
	} `json:"components"`
}

func getOpenAPI(t *testing.T, ts *testServer) openAPIDoc {
	t.Helper()
	r := ts.rest(t, "GET", "/openapi.json", "", nil)
	if r.Status != 200 {
		t.Fatalf("openapi.json: %d", r.Status)
	}
	var doc openAPIDoc
	if err := json.Unmarshal(r.Raw, &doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

// TestOpenAPIDocument checks what a generator of clients reads from /openapi.json:
// OpenAPI 3, one path per resource, bearer schemes, update_mask on the PATCH
// methods, NDJSON for the import; /swagger.json keeps Swagger 2.0.
func TestOpenAPIDocument(t *testing.T) {
	t.Parallel()
	ts := startServer(t, testConfig(t))
	doc := getOpenAPI(t, ts)
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Errorf("openapi.json is OpenAPI %q, want 3.x", doc.OpenAPI)
	}
	if doc.Info.Title != "Paper Catalog API" || doc.Info.Version != "v1" || doc.Info.Description == "" {
		t.Errorf("info: %+v", doc.Info)
	}
	operations := map[string]string{
		"/v1/papers/{paper} get":                             "CatalogService_GetPaper",
		"/v1/papers/{paper} patch":                           "CatalogService_UpdatePaper",
		"/v1/papers/{paper} delete":                          "CatalogService_DeletePaper",
		"/v1/subscriptions/{subscription} get":               "SubscriptionService_GetSubscription",
		"/v1/subscriptions/{subscription} patch":             "SubscriptionService_UpdateSubscription",
		"/v1/papers/{paper}:upvote post":                     "CatalogService_UpvotePaper",
		"/v1/papers:import post":                             "CatalogService_ImportPapers",
		"/v1/subscriptions/{subscription}:previewDigest get": "SubscriptionService_PreviewDigest",
	}
	for key, id := range operations {
		path, method, _ := strings.Cut(key, " ")
		if got := doc.Paths[path][method].OperationID; got != id {
			t.Errorf("%s: operation %q, want %q", key, got, id)
		}
	}
	for _, key := range []string{"/v1/papers/{paper} patch", "/v1/subscriptions/{subscription} patch"} {
		path, method, _ := strings.Cut(key, " ")
		if !slices.ContainsFunc(doc.Paths[path][method].Parameters, func(p struct{ Name, In string }) bool {
			return p.Name == "update_mask" && p.In == "query"
		}) {
			t.Errorf("%s has no update_mask query parameter", key)
		}
	}
	if content := doc.Paths["/v1/papers:import"]["post"].RequestBody.Content; content["application/x-ndjson"] == nil || len(content) != 1 {
		t.Errorf("the import's request body is %v, want application/x-ndjson alone", content)
	}
	for name, format := range map[string]string{"AdminToken": "opaque", "UserToken": "JWT"} {
		s := doc.Components.SecuritySchemes[name]
		if s.Type != "http" || s.Scheme != "bearer" || s.BearerFormat != format {
			t.Errorf("security scheme %s: %+v, want a %s bearer scheme", name, s, format)
		}
	}

	r := ts.rest(t, "GET", "/swagger.json", "", nil)
	if r.Status != 200 || r.Body["swagger"] != "2.0" {
		t.Errorf("swagger.json: %d, swagger %v", r.Status, r.Body["swagger"])
	}
}

// TestOpenAPISecurityMatchesService calls every operation of /openapi.json
// without credentials: an operation whose security has no anonymous alternative
// must answer 401, and every other one must not. This keeps proto/openapi.yaml's
// security lists true to the service.
func TestOpenAPISecurityMatchesService(t *testing.T) {
	t.Parallel()
	ts := startServer(t, testConfig(t))
	doc := getOpenAPI(t, ts)
	n := 0
	for path, item := range doc.Paths {
		url := strings.NewReplacer("{paper}", "2111.13056", "{subscription}", "abc123").Replace(path)
		for method, op := range item {
			n++
			var body any
			if method == "post" || method == "patch" {
				body = "{}"
			}
			needsCredentials := len(op.Security) > 0 && !slices.ContainsFunc(op.Security, func(r map[string][]string) bool { return len(r) == 0 })
			r := ts.rest(t, strings.ToUpper(method), url, "", body)
			if needsCredentials != (r.Status == 401) {
				t.Errorf("%s %s (%s, security %v) without credentials: %d %s", method, url, op.OperationID, op.Security, r.Status, r.Raw)
			}
		}
	}
	if n < 20 {
		t.Errorf("only %d operations in openapi.json", n)
	}
}

// TestRESTCarriesZeroValues checks the JSON that typed REST clients read: zero
// values are present (0, false, "", []), int64 fields are strings, unset
// messages are absent.
func TestRESTCarriesZeroValues(t *testing.T) {
	t.Parallel()
	ts := startServer(t, testConfig(t))
	if r := ts.rest(t, "POST", "/v1/papers?paper_id=2111.13056", adminToken, `{"title": "A paper nobody voted for"}`); r.Status != 200 {
		t.Fatalf("create: %d %s", r.Status, r.Raw)
	}
	r := ts.rest(t, "GET", "/v1/papers/2111.13056", "", nil)
	if r.Status != 200 {
		t.Fatalf("get: %d %s", r.Status, r.Raw)
	}
	for field, want := range map[string]any{
		"upvotes":        "0", // int64: a string
		"github_stars":   "0",
		"arxiv_version":  float64(0), // int32: a number
		"viewer_upvoted": false,
		"abstract":       "",
		"keywords":       []any{},
	} {
		if got, ok := r.Body[field]; !ok || !reflect.DeepEqual(got, want) {
			t.Errorf("%s = %#v (present %v), want %#v", field, got, ok, want)
		}
	}
	if _, ok := r.Body["published_time"]; ok {
		t.Errorf("unset published_time is present: %s", r.Raw)
	}

	r = ts.rest(t, "GET", "/v1/papers:trending", "", nil)
	papers, _ := r.Body["papers"].([]any)
	if r.Status != 200 || len(papers) != 1 {
		t.Fatalf("trending: %d %s", r.Status, r.Raw)
	}
	if score, ok := papers[0].(map[string]any)["trending_score"]; !ok || score != float64(0) {
		t.Errorf("trending_score of a paper without upvotes = %#v (present %v), want 0", score, ok)
	}
	r = ts.rest(t, "GET", "/v1/papers?filter=upvotes%20%3E%2010", "", nil)
	if r.Status != 200 || !reflect.DeepEqual(r.Body["papers"], []any{}) || r.Body["next_page_token"] != "" || r.Body["total_size"] != float64(0) {
		t.Errorf("an empty page: %d %s", r.Status, r.Raw)
	}
}
