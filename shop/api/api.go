// Package api is the shop's JSON API under /api/v1 (docs/architecture.md#the-shops-http-api): one file per module,
// each handler decoding and validating the request, calling the module's service and
// encoding the answer. Errors go to httpserver.Fail, whose middleware is the one place
// that turns them into problem details. The pages (package web) call the same services.
package api

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/storefront-operator/storefront/shop/admin"
	"github.com/storefront-operator/storefront/shop/auth"
	"github.com/storefront-operator/storefront/shop/cart"
	"github.com/storefront-operator/storefront/shop/catalog"
	"github.com/storefront-operator/storefront/shop/orders"
	"github.com/storefront-operator/storefront/shop/platform/cache"
	"github.com/storefront-operator/storefront/shop/platform/httpserver"
	"github.com/storefront-operator/storefront/shop/search"
)

// Prefix is the path prefix of the versioned JSON API.
const Prefix = "/api/v1"

// Deps are the services the handlers call.
type Deps struct {
	Catalog *catalog.Service
	Search  *search.Service
	// Cache caches anonymous catalog and search responses; nil disables caching.
	Cache  *cache.Cache
	Auth   *auth.Service
	Cart   *cart.Service
	Orders *orders.Service
	Admin  *admin.Service
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

// cachedJSON answers a cacheable GET: the JSON of load's value, from the response cache
// under key when present, with an ETag and 304 for a matching If-None-Match.
func (d Deps) cachedJSON(c *gin.Context, key string, load func(ctx context.Context) (any, error)) {
	loadBody := func(ctx context.Context) ([]byte, error) {
		v, err := load(ctx)
		if err != nil {
			return nil, err
		}
		// Prices, names and descriptions are data, not HTML: no \u0026 escapes.
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(v); err != nil {
			return nil, err
		}
		return buf.Bytes(), nil
	}
	var (
		e   cache.Entry
		hit bool
		err error
	)
	if d.Cache != nil {
		e, hit, err = d.Cache.Get(c.Request.Context(), key, loadBody)
	} else {
		var body []byte
		body, err = loadBody(c.Request.Context())
		e = cache.NewEntry(body)
	}
	if err != nil {
		httpserver.Fail(c, err)
		return
	}
	if hit {
		c.Header("X-Cache", "hit")
	} else {
		c.Header("X-Cache", "miss")
	}
	writeEntity(c, e)
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
