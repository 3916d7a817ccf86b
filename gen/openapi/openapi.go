// Package openapi embeds the OpenAPI (Swagger 2.0) document that `make generate`
// writes next to this file from the .proto files. This file is the only one in gen/
// written by hand; the JSON is generated.
package openapi

import _ "embed"

// JSON is the generated OpenAPI document of the REST gateway.
//
//go:embed papers.swagger.json
var JSON []byte
