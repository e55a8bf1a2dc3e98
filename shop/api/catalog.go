package api

import (
	"github.com/gin-gonic/gin"

	"github.com/storefront-operator/storefront/shop/catalog"
	"github.com/storefront-operator/storefront/shop/platform/httpserver"
)

func registerCatalog(r gin.IRouter, d Deps) {
	r.GET("/categories", d.listCategories)
	r.GET("/products", d.listProducts)
	r.GET("/products/:idOrSlug", d.getProduct)
}

// categoryList is the categories envelope the API answers.
type categoryList = catalog.CategoryList

func (d Deps) listCategories(c *gin.Context) {
	r, err := d.Catalog.Categories(c.Request.Context())
	cachedJSON[categoryList](c, r, err)
}

func (d Deps) listProducts(c *gin.Context) {
	q, err := catalog.ParseListQuery(c.Request.URL.Query(), catalog.ListSorts)
	if err != nil {
		httpserver.Fail(c, err)
		return
	}
	r, err := d.Catalog.ListProducts(c.Request.Context(), q)
	cachedJSON(c, r, err)
}

func (d Deps) getProduct(c *gin.Context) {
	r, err := d.Catalog.Product(c.Request.Context(), c.Param("idOrSlug"))
	cachedJSON(c, r, err)
}
