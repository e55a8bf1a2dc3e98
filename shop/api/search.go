package api

import (
	"context"

	"github.com/gin-gonic/gin"

	"github.com/storefront-operator/storefront/shop/platform/httpserver"
	"github.com/storefront-operator/storefront/shop/search"
)

func registerSearch(r gin.IRouter, d Deps) {
	r.GET("/search", d.search)
}

func (d Deps) search(c *gin.Context) {
	q, err := search.ParseQuery(c.Request.URL.Query())
	if err != nil {
		httpserver.Fail(c, err)
		return
	}
	d.cachedJSON(c, "search?"+q.Key(), func(ctx context.Context) (any, error) {
		return d.Search.Search(ctx, q)
	})
}
