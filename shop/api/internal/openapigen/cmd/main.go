// Command cmd writes the shop's OpenAPI document: `go generate ./shop/api` runs it as
// `go run ./internal/openapigen/cmd -source openapi.yaml -out openapi.json`.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"

	"github.com/storefront-operator/storefront/shop/api"
	"github.com/storefront-operator/storefront/shop/api/internal/openapigen"
)

func main() {
	source := flag.String("source", "openapi.yaml", "the hand-written part of the document")
	out := flag.String("out", "openapi.json", "where to write the generated document")
	flag.Parse()
	if err := run(*source, *out); err != nil {
		fmt.Fprintln(os.Stderr, "openapigen:", err)
		os.Exit(1)
	}
}

func run(source, out string) error {
	src, err := os.ReadFile(source)
	if err != nil {
		return err
	}
	doc, err := openapigen.Generate(src, api.OpenAPIGo)
	if err != nil {
		return err
	}
	if old, err := os.ReadFile(out); err == nil && bytes.Equal(old, doc) {
		return nil // unchanged: keep the file's time, so nothing rebuilds
	}
	return os.WriteFile(out, doc, 0o644)
}
