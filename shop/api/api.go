// Package api is the shop's JSON API under /api/v1 (docs/architecture.md#the-shops-http-api): one file per module,
// each handler decoding and validating the request, calling the module's service and
// encoding the answer. Errors go to httpserver.Fail, whose middleware is the one place
// that turns them into problem details. The pages (package web) call the same services.
package api

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/storefront-operator/storefront/shop/admin"
	"github.com/storefront-operator/storefront/shop/auth"
	"github.com/storefront-operator/storefront/shop/cart"
	"github.com/storefront-operator/storefront/shop/catalogcache"
	"github.com/storefront-operator/storefront/shop/images"
	"github.com/storefront-operator/storefront/shop/orders"
	"github.com/storefront-operator/storefront/shop/platform/cache"
	"github.com/storefront-operator/storefront/shop/platform/httpserver"
)

// Prefix is the path prefix of the versioned JSON API.
const Prefix = "/api/v1"

// Deps are the services the handlers call.
type Deps struct {
	// Catalog answers the catalog and search reads, through the shop's one cache.
	Catalog *catalogcache.Catalog
	Auth    *auth.Service
	Cart    *cart.Service
	Orders  *orders.Service
	Admin   *admin.Service
	// Images adds and removes product images (uploads answer 503 without IMAGE_STORE).
	Images *images.Service
	// SearchLimit runs before each search: the per-client rate limit (nil: none).
	SearchLimit gin.HandlerFunc
}

// Register adds every JSON API route to r: /api/v1/... and /api/openapi.json.
func Register(r gin.IRouter, d Deps) {
	v1 := r.Group(Prefix)
	registerCatalog(v1, d)
	registerSearch(v1, d)
	registerAuth(v1, d)
	registerCart(v1, d)
	registerOrders(v1, d)
	registerAdmin(v1, d)
	r.GET("/api/openapi.json", serveOpenAPI)
}

// cachedJSON answers a catalog GET with the JSON that the cached catalog returned, with
// its ETag (304 for a matching If-None-Match) and X-Cache saying whether it came from the
// cache.
func cachedJSON[T any](c *gin.Context, r catalogcache.Result[T], err error) {
	if err != nil {
		httpserver.Fail(c, err)
		return
	}
	if r.Hit {
		c.Header("X-Cache", "hit")
	} else {
		c.Header("X-Cache", "miss")
	}
	writeEntity(c, cache.Entry{Body: r.Body, ETag: r.ETag})
}

// writeEntity sends body with its ETag, or 304 when the client has it already. Clients
// and proxies may store the response but must revalidate it (no-cache): the catalog can
// change at any time.
func writeEntity(c *gin.Context, e cache.Entry) {
	c.Header("ETag", e.ETag)
	c.Header("Cache-Control", "public, no-cache")
	if httpserver.ETagMatches(c.GetHeader("If-None-Match"), e.ETag) {
		c.Status(http.StatusNotModified)
		c.Writer.WriteHeaderNow()
		return
	}
	c.Data(http.StatusOK, "application/json; charset=utf-8", e.Body)
}
