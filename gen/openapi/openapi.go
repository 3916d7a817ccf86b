// Package openapi embeds the REST gateway's OpenAPI documents that `make generate`
// writes next to this file from the .proto files: OpenAPI 3.0 (served at
// /openapi.json) and the Swagger 2.0 it is converted from (served at
// /swagger.json, for older tools). This file is written by hand; the JSON is
// generated.
package openapi

import _ "embed"

// JSON is the OpenAPI 3.0 document of the REST gateway.
//
//go:embed papers.openapi.json
var JSON []byte

// Swagger is the same API as a Swagger 2.0 (OpenAPI 2) document.
//
//go:embed papers.swagger.json
var Swagger []byte
