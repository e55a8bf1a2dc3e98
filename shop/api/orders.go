package api

import (
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/storefront-operator/storefront/shop/orders"
	"github.com/storefront-operator/storefront/shop/platform/apperr"
	"github.com/storefront-operator/storefront/shop/platform/httpserver"
)

// IdempotencyKeyHeader names the checkout's idempotency key.
const IdempotencyKeyHeader = "Idempotency-Key"

func registerOrders(r gin.IRouter, d Deps) {
	g := r.Group("/orders", d.requireUser)
	g.POST("", d.placeOrder)
	g.GET("", d.listOrders)
	g.GET("/:id", d.getOrder)
}

// DecodeOrderRequest reads the body of POST /api/v1/orders: strict JSON decoding
// (DecodeJSON), then the order rules (orders.Request.Validate); the fuzz target drives it.
func DecodeOrderRequest(r *http.Request) (orders.Request, error) {
	var req orders.Request
	if err := DecodeJSON(r, &req); err != nil {
		return orders.Request{}, err
	}
	return req, nil
}

// placeOrder answers 201 with a new order, or 200 with the order an earlier request with
// the same Idempotency-Key and body placed (Idempotent-Replayed: true).
func (d Deps) placeOrder(c *gin.Context) {
	key := c.GetHeader(IdempotencyKeyHeader)
	if err := orders.CheckIdempotencyKey(key); err != nil {
		httpserver.Fail(c, err)
		return
	}
	req, err := DecodeOrderRequest(c.Request)
	if err != nil {
		httpserver.Fail(c, err)
		return
	}
	o, created, err := d.Orders.Place(c.Request.Context(), principal(c).UserID, key, req)
	if err != nil {
		httpserver.Fail(c, err)
		return
	}
	c.Header("Location", Prefix+"/orders/"+strconv.FormatInt(o.ID, 10))
	status := http.StatusCreated
	if !created {
		status = http.StatusOK
		c.Header("Idempotent-Replayed", "true")
	}
	writeJSON(c, status, o)
}

func (d Deps) listOrders(c *gin.Context) {
	var f apperr.Fields
	page, perPage := pageParams(c, &f)
	if err := f.Err(); err != nil {
		httpserver.Fail(c, err)
		return
	}
	p, err := d.Orders.List(c.Request.Context(), principal(c).UserID, page, perPage)
	if err != nil {
		httpserver.Fail(c, err)
		return
	}
	writeJSON(c, http.StatusOK, p)
}

func (d Deps) getOrder(c *gin.Context) {
	id, ok := pathID(c, "id")
	if !ok {
		return
	}
	o, err := d.Orders.Get(c.Request.Context(), principal(c).UserID, id)
	if err != nil {
		httpserver.Fail(c, err)
		return
	}
	writeJSON(c, http.StatusOK, o)
}
