// Package apiclient is the shop's JSON API client as a client team would generate it
// from the served OpenAPI document, with oapi-codegen (the version go.mod pins as a tool).
// The shop/api suites drive the real shop through it, and a test here fails when
// client.gen.go is not what the current document generates: `make generate` rewrites it.
package apiclient

//go:generate go tool oapi-codegen -config oapi-codegen.yaml ../../shop/api/openapi.json
