package api

import (
	_ "embed"
	"encoding/json"
	"fmt"

	"github.com/gin-gonic/gin"
	"go.yaml.in/yaml/v3"

	"github.com/storefront-operator/storefront/shop/platform/cache"
)

// openAPIYAML is the OpenAPI 3 description of every endpoint of the API (docs/architecture.md#the-shops-http-api), including
// those that later parts register (auth, cart, orders, admin): it is the contract.
//
//go:embed openapi.yaml
var openAPIYAML []byte

// openAPIDoc is the description as JSON, converted once.
var openAPIDoc = func() cache.Entry {
	var doc any
	if err := yaml.Unmarshal(openAPIYAML, &doc); err != nil {
		panic(fmt.Sprintf("openapi.yaml: %v", err))
	}
	body, err := json.Marshal(doc)
	if err != nil {
		panic(fmt.Sprintf("openapi.yaml as JSON: %v", err))
	}
	return cache.NewEntry(body)
}()

// OpenAPI returns the OpenAPI description as JSON.
func OpenAPI() []byte { return openAPIDoc.Body }

func serveOpenAPI(c *gin.Context) {
	writeEntity(c, openAPIDoc)
}
