package api

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/storefront-operator/storefront/shop/cart"
	"github.com/storefront-operator/storefront/shop/platform/apperr"
	"github.com/storefront-operator/storefront/shop/platform/httpserver"
)

func registerCart(r gin.IRouter, d Deps) {
	g := r.Group("/cart", d.requireUser)
	g.GET("", d.getCart)
	g.PUT("/items/:product_id", d.setCartItem)
	g.DELETE("/items/:product_id", d.deleteCartItem)
}

func (d Deps) getCart(c *gin.Context) {
	ct, err := d.Cart.Get(c.Request.Context(), cart.User(principal(c).UserID))
	if err != nil {
		httpserver.Fail(c, err)
		return
	}
	writeJSON(c, http.StatusOK, ct)
}

// cartItemRequest is the body of PUT /cart/items/{product_id}.
type cartItemRequest struct {
	Quantity *int `json:"quantity"`
}

func (d Deps) setCartItem(c *gin.Context) {
	id, ok := pathID(c, "product_id")
	if !ok {
		return
	}
	var req cartItemRequest
	if err := DecodeJSON(c.Request, &req); err != nil {
		httpserver.Fail(c, err)
		return
	}
	if req.Quantity == nil {
		httpserver.Fail(c, apperr.Invalid("quantity", "is required (0 removes the line)"))
		return
	}
	l, err := d.Cart.Set(c.Request.Context(), cart.User(principal(c).UserID), id, *req.Quantity)
	if err != nil {
		httpserver.Fail(c, err)
		return
	}
	if *req.Quantity == 0 {
		c.Status(http.StatusNoContent)
		return
	}
	writeJSON(c, http.StatusOK, l)
}

func (d Deps) deleteCartItem(c *gin.Context) {
	id, ok := pathID(c, "product_id")
	if !ok {
		return
	}
	if err := d.Cart.Remove(c.Request.Context(), cart.User(principal(c).UserID), id); err != nil {
		httpserver.Fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}
