package api

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/storefront-operator/storefront/shop/admin"
	"github.com/storefront-operator/storefront/shop/images"
	"github.com/storefront-operator/storefront/shop/orders"
	"github.com/storefront-operator/storefront/shop/platform/apperr"
	"github.com/storefront-operator/storefront/shop/platform/httpserver"
)

func registerAdmin(r gin.IRouter, d Deps) {
	// The second factor: open to admins who have none yet (requireAdmin would refuse
	// them when the shop requires one).
	t := r.Group("/admin/totp", d.requireUser, d.requireAdminRole)
	t.GET("", d.totpStatus)
	t.POST("", d.totpBegin)
	t.POST("/confirm", d.totpConfirm)

	g := r.Group("/admin", d.requireUser, d.requireAdmin)
	g.POST("/products", d.adminCreateProduct)
	g.PUT("/products/:id", updateByID(d.Admin.UpdateProduct))
	g.DELETE("/products/:id", deleteByID(d.Admin.DeleteProduct))
	g.PATCH("/products/:id/stock", updateByID(d.Admin.SetStock))
	g.POST(ImagesRoute, d.adminAddImage)
	g.PATCH("/products/:id/images/:imageId", d.adminMoveImage)
	g.DELETE("/products/:id/images/:imageId", d.adminDeleteImage)
	g.POST("/categories", d.adminCreateCategory)
	g.PUT("/categories/:id", updateByID(d.Admin.UpdateCategory))
	g.DELETE("/categories/:id", deleteByID(d.Admin.DeleteCategory))
	g.GET("/orders", d.adminListOrders)
	g.PATCH("/orders/:id", d.adminUpdateOrder)
}

func (d Deps) adminCreateProduct(c *gin.Context) {
	var in admin.ProductInput
	if err := DecodeJSON(c.Request, &in); err != nil {
		httpserver.Fail(c, err)
		return
	}
	p, err := d.Admin.CreateProduct(c.Request.Context(), in)
	if err != nil {
		httpserver.Fail(c, err)
		return
	}
	c.Header("Location", Prefix+"/products/"+strconv.FormatInt(p.ID, 10))
	writeJSON(c, http.StatusCreated, p)
}

// ImagesRoute is the upload route under /admin (its body limit is
// images.UploadBodyLimit, set by the router for Prefix+"/admin"+ImagesRoute).
const ImagesRoute = "/products/:id/images"

// UploadRoute is the upload route's full path, for httpserver.RouterOptions.RouteBodyLimits.
const UploadRoute = Prefix + "/admin" + ImagesRoute

// adminAddImage reads a multipart upload (image, alt) and appends the picture to the
// product's images: 201 with the image and its variants' URLs.
func (d Deps) adminAddImage(c *gin.Context) {
	id, ok := pathID(c, "id")
	if !ok {
		return
	}
	alt, data, err := images.ReadUpload(c.Request)
	if err != nil {
		httpserver.Fail(c, err)
		return
	}
	img, err := d.Images.Add(c.Request.Context(), id, alt, data)
	if err != nil {
		httpserver.Fail(c, err)
		return
	}
	c.Header("Location", Prefix+"/products/"+strconv.FormatInt(id, 10))
	writeJSON(c, http.StatusCreated, img)
}

// imagePosition is the body of PATCH /admin/products/{id}/images/{imageId}.
type imagePosition struct {
	Position *int `json:"position"`
}

func (d Deps) adminMoveImage(c *gin.Context) {
	id, ok := pathID(c, "id")
	if !ok {
		return
	}
	imageID, ok := pathID(c, "imageId")
	if !ok {
		return
	}
	var in imagePosition
	if err := DecodeJSON(c.Request, &in); err != nil {
		httpserver.Fail(c, err)
		return
	}
	if in.Position == nil {
		httpserver.Fail(c, &apperr.ValidationError{Unprocessable: true, Errors: []apperr.FieldError{{Field: "position", Message: "is required"}}})
		return
	}
	if err := d.Images.Move(c.Request.Context(), id, imageID, *in.Position); err != nil {
		httpserver.Fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

func (d Deps) adminDeleteImage(c *gin.Context) {
	id, ok := pathID(c, "id")
	if !ok {
		return
	}
	imageID, ok := pathID(c, "imageId")
	if !ok {
		return
	}
	if err := d.Images.Delete(c.Request.Context(), id, imageID); err != nil {
		httpserver.Fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

func (d Deps) adminCreateCategory(c *gin.Context) {
	var in admin.CategoryInput
	if err := DecodeJSON(c.Request, &in); err != nil {
		httpserver.Fail(c, err)
		return
	}
	cat, err := d.Admin.CreateCategory(c.Request.Context(), in)
	if err != nil {
		httpserver.Fail(c, err)
		return
	}
	writeJSON(c, http.StatusCreated, cat)
}

// adminListOrders filters by status, user_id and email (exact, case-insensitive).
func (d Deps) adminListOrders(c *gin.Context) {
	var f apperr.Fields
	q := orders.ListQuery{}
	q.Page, q.PerPage = pageParams(c, &f)
	if s := c.Query("status"); s != "" {
		st, ok := orders.ParseStatus(s)
		if !ok {
			f.Add("status", "must be one of pending, paid, shipped, delivered, cancelled")
		}
		q.Status = st
	}
	if s := c.Query("user_id"); s != "" {
		id, err := strconv.ParseInt(s, 10, 64)
		if err != nil || id <= 0 {
			f.Add("user_id", "must be a user id (a positive integer)")
		}
		q.UserID = id
	}
	if s := c.Query("email"); s != "" {
		if msg := apperr.CheckText(s, 1, 254); msg != "" {
			f.Add("email", msg)
		}
		q.Email = strings.ToLower(strings.TrimSpace(s))
	}
	if err := f.Err(); err != nil {
		httpserver.Fail(c, err)
		return
	}
	p, err := d.Orders.AdminList(c.Request.Context(), q)
	if err != nil {
		httpserver.Fail(c, err)
		return
	}
	writeJSON(c, http.StatusOK, p)
}

// orderStatusRequest is the body of PATCH /admin/orders/{id}.
type orderStatusRequest struct {
	Status orders.Status `json:"status"`
}

func (d Deps) adminUpdateOrder(c *gin.Context) {
	id, ok := pathID(c, "id")
	if !ok {
		return
	}
	var req orderStatusRequest
	if err := DecodeJSON(c.Request, &req); err != nil {
		httpserver.Fail(c, err)
		return
	}
	o, err := d.Orders.Transition(c.Request.Context(), id, req.Status)
	if err != nil {
		httpserver.Fail(c, err)
		return
	}
	writeJSON(c, http.StatusOK, o)
}
