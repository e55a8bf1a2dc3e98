package api

import (
	"context"

	"github.com/gin-gonic/gin"

	"github.com/storefront-operator/storefront/shop/catalog"
	"github.com/storefront-operator/storefront/shop/platform/httpserver"
)

func registerCatalog(r gin.IRouter, d Deps) {
	r.GET("/categories", d.listCategories)
	r.GET("/products", d.listProducts)
	r.GET("/products/:idOrSlug", d.getProduct)
}

// categoryList is the categories envelope.
type categoryList struct {
	Items []catalog.Category `json:"items"`
}

func (d Deps) listCategories(c *gin.Context) {
	d.cachedJSON(c, "categories", func(ctx context.Context) (any, error) {
		cs, err := d.Catalog.Categories(ctx)
		return categoryList{Items: cs}, err
	})
}

func (d Deps) listProducts(c *gin.Context) {
	q, err := catalog.ParseListQuery(c.Request.URL.Query(), catalog.ListSorts)
	if err != nil {
		httpserver.Fail(c, err)
		return
	}
	d.cachedJSON(c, "products?"+q.Key(), func(ctx context.Context) (any, error) {
		return d.Catalog.ListProducts(ctx, q)
	})
}

func (d Deps) getProduct(c *gin.Context) {
	idOrSlug := c.Param("idOrSlug")
	d.cachedJSON(c, "product/"+idOrSlug, func(ctx context.Context) (any, error) {
		return d.Catalog.Product(ctx, idOrSlug)
	})
}
