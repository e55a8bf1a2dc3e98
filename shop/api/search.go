package api

import (
	"github.com/gin-gonic/gin"

	"github.com/storefront-operator/storefront/shop/platform/httpserver"
	"github.com/storefront-operator/storefront/shop/search"
)

func registerSearch(r gin.IRouter, d Deps) {
	r.GET("/search", orPass(d.SearchLimit), d.search)
}

func (d Deps) search(c *gin.Context) {
	q, err := search.ParseQuery(c.Request.URL.Query())
	if err != nil {
		httpserver.Fail(c, err)
		return
	}
	r, err := d.Catalog.Search(c.Request.Context(), q)
	cachedJSON(c, r, err)
}

// orPass is h, or a handler that passes when h is nil.
func orPass(h gin.HandlerFunc) gin.HandlerFunc {
	if h == nil {
		return func(c *gin.Context) { c.Next() }
	}
	return h
}
