// Command openapi3 turns the Swagger 2.0 document that protoc-gen-openapiv2 writes
// into an OpenAPI 3.0 document, for the generators that no longer read Swagger 2
// (openapi-typescript 7, among others). `make generate` runs it:
//
//	go run ./cmd/openapi3 gen/openapi/papers.swagger.json gen/openapi/papers.openapi.json
//
// It converts what that generator emits and refuses anything else, so a new key
// from a newer generator stops `make generate` instead of vanishing from the
// document. Beyond the plain translation (definitions to components, body
// parameters to request bodies, consumes and produces to media types), it
//   - turns an API key in the Authorization header into an HTTP bearer scheme
//     (Swagger 2 has none), with its `x-bearer-format` as the bearer format;
//   - makes an operation's security optional (adds `{}`) when the operation has
//     `x-security-optional: true`, which Swagger 2 from protoc-gen-openapiv2
//     cannot say, and marks operations without security as public (`security:
//     []`);
//   - describes path parameters that expanded resource names introduced
//     (`/v1/papers/{paper}`), which come without a description;
//   - adds a `4XX` response beside `default` (both google.rpc.Status): every
//     operation can fail on its input;
//   - refers to an enum schema from a parameter whose values are that enum's,
//     rather than repeating them;
//   - marks a query parameter deprecated when its description (the field's
//     .proto comment) says it is deprecated.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: openapi3 SWAGGER_JSON OPENAPI_JSON")
		os.Exit(2)
	}
	if err := run(os.Args[1], os.Args[2]); err != nil {
		fmt.Fprintln(os.Stderr, "openapi3:", err)
		os.Exit(1)
	}
}

func run(in, out string) error {
	src, err := os.ReadFile(in) //nolint:gosec // a file the caller (make generate) names
	if err != nil {
		return err
	}
	doc, err := convert(src)
	if err != nil {
		return fmt.Errorf("%s: %w", in, err)
	}
	return os.WriteFile(out, doc, 0o644) //nolint:gosec // a generated document in the repository, readable by all
}

// convert returns the OpenAPI 3.0 document, indented, for a Swagger 2.0 one.
func convert(src []byte) ([]byte, error) {
	sw, err := parseObject(src)
	if err != nil {
		return nil, err
	}
	if err := sw.only("swagger", "info", "tags", "host", "basePath", "schemes", "consumes", "produces",
		"paths", "definitions", "securityDefinitions", "security", "externalDocs"); err != nil {
		return nil, err
	}
	var version string
	if err := sw.decode("swagger", &version); err != nil || version != "2.0" {
		return nil, fmt.Errorf("not a Swagger 2.0 document (swagger: %q)", version)
	}
	c := converter{consumes: []string{"application/json"}, produces: []string{"application/json"}, enums: map[string]string{}}
	if err := sw.decodeIfSet("consumes", &c.consumes); err != nil {
		return nil, err
	}
	if err := sw.decodeIfSet("produces", &c.produces); err != nil {
		return nil, err
	}
	if err := c.findEnums(sw.get("definitions")); err != nil {
		return nil, err
	}

	doc := &object{}
	doc.set("openapi", "3.0.3")
	doc.setRaw("info", sw.get("info"))
	servers := []map[string]string{{"url": "/", "description": "the paperd that serves this document"}}
	if host := sw.get("host"); host != nil {
		var h, base string
		if err := json.Unmarshal(host, &h); err != nil {
			return nil, err
		}
		if err := sw.decodeIfSet("basePath", &base); err != nil {
			return nil, err
		}
		servers = []map[string]string{{"url": "https://" + h + base}}
	}
	doc.set("servers", servers)
	if sec := sw.get("security"); sec != nil {
		doc.setRaw("security", sec)
	}
	doc.setRaw("tags", sw.get("tags"))
	doc.setRaw("externalDocs", sw.get("externalDocs"))
	for _, k := range sw.keys {
		if strings.HasPrefix(k, "x-") {
			doc.setRaw(k, sw.get(k))
		}
	}

	paths, err := parseObject(sw.get("paths"))
	if err != nil {
		return nil, fmt.Errorf("paths: %w", err)
	}
	outPaths := &object{}
	for _, p := range paths.keys {
		item, err := c.pathItem(p, paths.get(p))
		if err != nil {
			return nil, fmt.Errorf("paths %s: %w", p, err)
		}
		outPaths.set(p, item)
	}
	doc.set("paths", outPaths)

	components := &object{}
	if defs := sw.get("definitions"); defs != nil {
		components.setRaw("schemas", refs(defs))
	}
	if defs := sw.get("securityDefinitions"); defs != nil {
		schemes, err := securitySchemes(defs)
		if err != nil {
			return nil, fmt.Errorf("securityDefinitions: %w", err)
		}
		components.set("securitySchemes", schemes)
	}
	doc.set("components", components)

	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

type converter struct {
	consumes, produces []string
	// enums maps the values of each string enum schema, joined by commas, to its
	// name.
	enums map[string]string
}

func (c converter) findEnums(raw json.RawMessage) error {
	if raw == nil {
		return nil
	}
	defs, err := parseObject(raw)
	if err != nil {
		return fmt.Errorf("definitions: %w", err)
	}
	for _, name := range defs.keys {
		var s struct {
			Type string   `json:"type"`
			Enum []string `json:"enum"`
		}
		if err := json.Unmarshal(defs.get(name), &s); err != nil {
			return fmt.Errorf("definitions %s: %w", name, err)
		}
		if s.Type == "string" && len(s.Enum) > 0 {
			c.enums[strings.Join(s.Enum, ",")] = name
		}
	}
	return nil
}

var methods = []string{"get", "put", "post", "delete", "options", "head", "patch"}

func (c converter) pathItem(path string, raw json.RawMessage) (*object, error) {
	item, err := parseObject(raw)
	if err != nil {
		return nil, err
	}
	out := &object{}
	for _, k := range item.keys {
		if !slices.Contains(methods, k) {
			return nil, fmt.Errorf("unsupported key %q", k)
		}
		op, err := c.operation(path, item.get(k))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
		out.set(k, op)
	}
	return out, nil
}

func (c converter) operation(path string, raw json.RawMessage) (*object, error) {
	op, err := parseObject(raw)
	if err != nil {
		return nil, err
	}
	if err := op.only("summary", "description", "operationId", "responses", "parameters", "tags",
		"consumes", "produces", "security", "deprecated", "externalDocs"); err != nil {
		return nil, err
	}
	// Copies: decoding into a slice reuses its array, which is the document's.
	consumes, produces := slices.Clone(c.consumes), slices.Clone(c.produces)
	if err := op.decodeIfSet("consumes", &consumes); err != nil {
		return nil, err
	}
	if err := op.decodeIfSet("produces", &produces); err != nil {
		return nil, err
	}
	out := &object{}
	for _, k := range []string{"tags", "summary", "description", "externalDocs", "operationId"} {
		out.setRaw(k, op.get(k))
	}

	var params []json.RawMessage
	if err := op.decodeIfSet("parameters", &params); err != nil {
		return nil, err
	}
	var outParams []*object
	for _, raw := range params {
		p, err := parseObject(raw)
		if err != nil {
			return nil, err
		}
		var in string
		if err := p.decode("in", &in); err != nil {
			return nil, err
		}
		if in == "body" {
			body, err := requestBody(p, consumes)
			if err != nil {
				return nil, err
			}
			out.set("requestBody", body)
			continue
		}
		param, err := c.parameter(path, p)
		if err != nil {
			return nil, err
		}
		outParams = append(outParams, param)
	}
	if len(outParams) > 0 {
		// Parameters go before the request body, as a reader expects.
		body := out.get("requestBody")
		out.del("requestBody")
		out.set("parameters", outParams)
		out.setRaw("requestBody", body)
	}

	responses, err := parseObject(op.get("responses"))
	if err != nil {
		return nil, fmt.Errorf("responses: %w", err)
	}
	outResponses := &object{}
	for _, code := range responses.keys {
		// An operation's own media types (a citation's) are those of its
		// answers; errors are JSON (google.rpc.Status) whatever it produces.
		mediaTypes := produces
		if code[0] != '2' {
			mediaTypes = c.produces
		}
		r, err := response(responses.get(code), mediaTypes)
		if err != nil {
			return nil, fmt.Errorf("responses %s: %w", code, err)
		}
		if code == "default" && !slices.ContainsFunc(responses.keys, func(k string) bool { return k[0] == '4' }) {
			clientError := &object{}
			clientError.set("description", "The request was refused (INVALID_ARGUMENT, UNAUTHENTICATED, NOT_FOUND, ...): "+
				"a google.rpc.Status whose code is the gRPC code; INVALID_ARGUMENT carries a google.rpc.BadRequest in details.")
			clientError.setRaw("content", r.get("content"))
			outResponses.set("4XX", clientError)
		}
		outResponses.set(code, r)
	}
	out.set("responses", outResponses)
	out.setRaw("deprecated", op.get("deprecated"))

	security := []map[string][]string{}
	if err := op.decodeIfSet("security", &security); err != nil {
		return nil, err
	}
	optional := false
	if err := op.decodeIfSet("x-security-optional", &optional); err != nil {
		return nil, err
	}
	if optional && len(security) > 0 {
		security = append([]map[string][]string{{}}, security...)
	}
	out.set("security", security)
	for _, k := range op.keys {
		if strings.HasPrefix(k, "x-") && k != "x-security-optional" {
			out.setRaw(k, op.get(k))
		}
	}
	return out, nil
}

// requestBody turns a Swagger body parameter into a request body, one media type
// per consumed type.
func requestBody(p *object, consumes []string) (*object, error) {
	if err := p.only("name", "in", "description", "required", "schema"); err != nil {
		return nil, err
	}
	content := &object{}
	for _, mt := range consumes {
		media := &object{}
		media.setRaw("schema", refs(p.get("schema")))
		content.set(mt, media)
	}
	out := &object{}
	out.setRaw("description", p.get("description"))
	out.set("content", content)
	out.setRaw("required", p.get("required"))
	return out, nil
}

// parameter turns a Swagger path, query or header parameter into an OpenAPI 3 one,
// its type into a schema.
func (c converter) parameter(path string, p *object) (*object, error) {
	if err := p.only("name", "in", "description", "required", "type", "format", "items", "enum",
		"default", "collectionFormat", "pattern", "minimum", "maximum", "minLength", "maxLength"); err != nil {
		return nil, err
	}
	var name, in string
	if err := p.decode("name", &name); err != nil {
		return nil, err
	}
	if err := p.decode("in", &in); err != nil {
		return nil, err
	}
	if in == "formData" {
		return nil, fmt.Errorf("parameter %s: formData parameters are not supported", name)
	}
	out := &object{}
	out.set("name", name)
	out.set("in", in)
	if d := p.get("description"); d != nil {
		out.setRaw("description", d)
		// The .proto comment of a field that is deprecated as a query
		// parameter only (manage_token: a header carries it now) says so.
		if in == "query" && strings.Contains(string(d), "deprecated") {
			out.set("deprecated", true)
		}
	} else if in == "path" {
		out.set("description", pathParamDescription(path, name))
	}
	out.setRaw("required", p.get("required"))
	schema := &object{}
	for _, k := range []string{"type", "format", "items", "enum", "default", "pattern", "minimum", "maximum", "minLength", "maxLength"} {
		schema.setRaw(k, refs(p.get(k)))
	}
	var enum []string
	if err := p.decodeIfSet("enum", &enum); err != nil {
		return nil, err
	}
	if name, ok := c.enums[strings.Join(enum, ",")]; ok && len(enum) > 0 {
		schema = &object{}
		schema.set("$ref", "#/components/schemas/"+name)
	}
	out.set("schema", schema)
	var format string
	if err := p.decodeIfSet("collectionFormat", &format); err != nil {
		return nil, err
	}
	switch format {
	case "":
	case "multi": // ?names=a&names=b
		out.set("style", "form")
		out.set("explode", true)
	case "csv":
		out.set("style", "form")
		out.set("explode", false)
	default:
		return nil, fmt.Errorf("parameter %s: collectionFormat %q is not supported", name, format)
	}
	return out, nil
}

// pathParamDescription describes a parameter such as paper in /v1/papers/{paper}
// as the last segment of the resource name papers/{paper}.
func pathParamDescription(path, name string) string {
	placeholder := "{" + name + "}"
	if collection, ok := strings.CutSuffix(strings.SplitN(path, placeholder, 2)[0], "/"); ok {
		collection = collection[strings.LastIndex(collection, "/")+1:]
		return fmt.Sprintf("The id of the resource named `%s/%s`.", collection, placeholder)
	}
	return fmt.Sprintf("The `%s` of the path.", placeholder)
}

func response(raw json.RawMessage, produces []string) (*object, error) {
	r, err := parseObject(raw)
	if err != nil {
		return nil, err
	}
	if err := r.only("description", "schema", "headers", "examples"); err != nil {
		return nil, err
	}
	if r.get("headers") != nil || r.get("examples") != nil {
		return nil, errors.New("response headers and examples are not supported")
	}
	out := &object{}
	out.setRaw("description", r.get("description"))
	if schema := r.get("schema"); schema != nil {
		content := &object{}
		for _, mt := range produces {
			media := &object{}
			media.setRaw("schema", refs(schema))
			content.set(mt, media)
		}
		out.set("content", content)
	}
	return out, nil
}

// securitySchemes converts security definitions. An API key in the Authorization
// header is what Swagger 2 offers for bearer tokens; it becomes an HTTP bearer
// scheme.
func securitySchemes(raw json.RawMessage) (*object, error) {
	defs, err := parseObject(raw)
	if err != nil {
		return nil, err
	}
	out := &object{}
	for _, name := range defs.keys {
		d, err := parseObject(defs.get(name))
		if err != nil {
			return nil, err
		}
		if err := d.only("type", "description", "name", "in", "x-bearer-format"); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		var typ, in, header string
		if err := d.decode("type", &typ); err != nil {
			return nil, err
		}
		if err := d.decodeIfSet("in", &in); err != nil {
			return nil, err
		}
		if err := d.decodeIfSet("name", &header); err != nil {
			return nil, err
		}
		s := &object{}
		switch {
		case typ == "apiKey" && in == "header" && strings.EqualFold(header, "authorization"):
			s.set("type", "http")
			s.set("scheme", "bearer")
			s.setRaw("bearerFormat", d.get("x-bearer-format"))
		case typ == "apiKey":
			s.set("type", "apiKey")
			s.set("in", in)
			s.set("name", header)
		case typ == "basic":
			s.set("type", "http")
			s.set("scheme", "basic")
		default:
			return nil, fmt.Errorf("%s: security scheme type %q is not supported", name, typ)
		}
		s.setRaw("description", d.get("description"))
		out.set(name, s)
	}
	return out, nil
}

// refs rewrites references to Swagger definitions into references to components.
func refs(raw json.RawMessage) json.RawMessage {
	if raw == nil {
		return nil
	}
	return bytes.ReplaceAll(raw, []byte(`"#/definitions/`), []byte(`"#/components/schemas/`))
}

// object is a JSON object that keeps the order of its keys.
type object struct {
	keys []string
	vals map[string]json.RawMessage
}

func parseObject(raw json.RawMessage) (*object, error) {
	if raw == nil {
		return nil, errors.New("missing object")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if tok != json.Delim('{') {
		return nil, fmt.Errorf("want an object, have %v", tok)
	}
	o := &object{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, _ := tok.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		if o.get(key) != nil {
			return nil, fmt.Errorf("duplicate key %q", key)
		}
		o.setRaw(key, v)
	}
	_, err = dec.Token()
	return o, err
}

func (o *object) get(k string) json.RawMessage { return o.vals[k] }

// setRaw sets k to v, keeping k's place if it is set already; a nil v sets nothing.
func (o *object) setRaw(k string, v json.RawMessage) {
	if v == nil {
		return
	}
	if o.vals == nil {
		o.vals = map[string]json.RawMessage{}
	}
	if _, ok := o.vals[k]; !ok {
		o.keys = append(o.keys, k)
	}
	o.vals[k] = v
}

func (o *object) set(k string, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only values of this program's own types are set
	}
	o.setRaw(k, b)
}

func (o *object) del(k string) {
	if _, ok := o.vals[k]; ok {
		delete(o.vals, k)
		o.keys = slices.DeleteFunc(o.keys, func(s string) bool { return s == k })
	}
}

func (o *object) decode(k string, v any) error {
	raw := o.get(k)
	if raw == nil {
		return fmt.Errorf("missing %q", k)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("%s: %w", k, err)
	}
	return nil
}

func (o *object) decodeIfSet(k string, v any) error {
	if o.get(k) == nil {
		return nil
	}
	return o.decode(k, v)
}

// only fails on keys outside allowed, except extensions (x-…).
func (o *object) only(allowed ...string) error {
	for _, k := range o.keys {
		if !slices.Contains(allowed, k) && !strings.HasPrefix(k, "x-") {
			return fmt.Errorf("unsupported key %q", k)
		}
	}
	return nil
}

// MarshalJSON writes the object with its keys in order.
func (o *object) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range o.keys {
		if i > 0 {
			b.WriteByte(',')
		}
		kb, err := json.Marshal(k)
		if err != nil {
			return nil, err
		}
		b.Write(kb)
		b.WriteByte(':')
		b.Write(o.vals[k])
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}
