package api

import (
	_ "embed"

	"github.com/gin-gonic/gin"

	"github.com/storefront-operator/storefront/shop/admin"
	"github.com/storefront-operator/storefront/shop/auth"
	"github.com/storefront-operator/storefront/shop/cart"
	"github.com/storefront-operator/storefront/shop/catalog"
	"github.com/storefront-operator/storefront/shop/images"
	"github.com/storefront-operator/storefront/shop/orders"
	"github.com/storefront-operator/storefront/shop/platform/apperr"
	"github.com/storefront-operator/storefront/shop/platform/cache"
	"github.com/storefront-operator/storefront/shop/platform/money"
	"github.com/storefront-operator/storefront/shop/platform/problem"
	"github.com/storefront-operator/storefront/shop/search"
)

// The served OpenAPI 3.0.3 document, openapi.json, is generated: `go generate ./shop/api`
// (part of `make generate`) merges the component schemas derived from OpenAPIGo with the
// hand-written openapi.yaml, which keeps what no Go type describes: the paths, the
// statuses each handler answers, headers, security, prose, formats and patterns, and
// which request fields are required. Never edit openapi.json; a test fails when it is
// stale.
//
//go:generate go run ./internal/openapigen/cmd -source openapi.yaml -out openapi.json

//go:embed openapi.json
var openAPIJSON []byte

// openAPIDoc is the document with its ETag.
var openAPIDoc = cache.NewEntry(openAPIJSON)

// OpenAPI returns the OpenAPI document as JSON, as /api/openapi.json serves it.
func OpenAPI() []byte { return openAPIDoc.Body }

func serveOpenAPI(c *gin.Context) {
	writeEntity(c, openAPIDoc)
}

// OpenAPIFromGo is what the Go code contributes to the OpenAPI document: the generator
// (internal/openapigen) derives each named schema from a Go value's type, so that adding
// a field to a response type adds it to the document.
type OpenAPIFromGo struct {
	// Responses are the types the handlers encode, by schema name. Their schemas list
	// every JSON field with its type, require every field without omitempty (the encoder
	// always writes those) and allow no other property: the answer has exactly that shape.
	Responses map[string]any
	// Requests are the types the handlers decode, by schema name. They allow no other
	// property either (DecodeJSON refuses unknown fields); which fields are required is
	// a rule of the service, not of the type, so openapi.yaml says it.
	Requests map[string]any
	// Enums name string types with a fixed set of values (the slice's element type is the
	// enum type): each is a schema of its own, listing the values, and a field of that
	// type refers to it.
	Enums map[string]any
	// Constants replace a "${Name}" value anywhere in openapi.yaml, so that limits and
	// lists the code defines (page sizes, text lengths, sorts) are not copied by hand.
	Constants map[string]any
}

// OpenAPIGo lists the Go types and constants behind the OpenAPI document.
var OpenAPIGo = OpenAPIFromGo{
	Responses: map[string]any{
		"Problem":       problem.Problem{},
		"FieldError":    apperr.FieldError{},
		"Money":         money.Money{},
		"Category":      catalog.Category{},
		"CategoryList":  categoryList{},
		"CategoryRef":   catalog.CategoryRef{},
		"Product":       catalog.Product{},
		"Image":         catalog.Image{},
		"ImageVariant":  catalog.ImageVariant{},
		"ProductList":   catalog.ProductPage{},
		"SearchResult":  search.Result{},
		"User":          auth.User{},
		"Session":       auth.Session{},
		"TOTPStatus":    auth.TOTPStatus{},
		"TOTPEnrolment": auth.TOTPEnrolment{},
		"Cart":          cart.Cart{},
		"CartItem":      cart.Line{},
		"Order":         orders.Order{},
		"OrderLine":     orders.Line{},
		"OrderList":     orders.Page{},
		// Orders answer with the address they were sent, and the checkout needs every
		// field of it: the same schema serves both directions.
		"Address": orders.Address{},
	},
	Requests: map[string]any{
		"RegisterRequest":       auth.RegisterRequest{},
		"LoginRequest":          auth.LoginRequest{},
		"PasswordChangeRequest": auth.PasswordChangeRequest{},
		"TOTPCode":              totpCodeRequest{},
		"CartItemRequest":       cartItemRequest{},
		"OrderRequest":          orders.Request{},
		"Card":                  orders.Card{},
		"ProductInput":          admin.ProductInput{},
		"CategoryInput":         admin.CategoryInput{},
		"StockUpdate":           admin.StockInput{},
		"OrderStatusUpdate":     orderStatusRequest{},
		"ImagePosition":         imagePosition{},
	},
	Enums: map[string]any{
		"OrderStatus": orders.Statuses,
	},
	Constants: map[string]any{
		"ListSorts":         catalog.ListSorts,
		"DefaultListSort":   catalog.ListSorts[0],
		"SearchSorts":       search.Sorts,
		"DefaultSearchSort": search.Sorts[0],
		"DefaultPerPage":    catalog.DefaultPerPage,
		"MaxPerPage":        catalog.MaxPerPage,
		"MaxPage":           catalog.MaxPage,
		"MaxPrice":          catalog.MaxPrice,
		// search.ParseQuery refuses raw text over four times MaxQueryLength before it
		// collapses the whitespace and counts again.
		"MaxQueryInputLength":  search.MaxQueryLength * 4,
		"SearchMatches":        []search.Match{search.MatchFullText, search.MatchSimilar},
		"Roles":                []string{auth.RoleCustomer, auth.RoleAdmin},
		"MinPasswordLength":    auth.MinPasswordLength,
		"MaxPasswordBytes":     auth.MaxPasswordBytes,
		"MaxUserNameLength":    auth.MaxNameLength,
		"MaxQuantity":          cart.MaxQuantity,
		"MaxLines":             orders.MaxLines,
		"MaxIdempotencyKey":    orders.MaxIdempotencyKey,
		"MaxNameLength":        admin.MaxNameLength,
		"MaxDescriptionLength": admin.MaxDescriptionLength,
		"MaxImageURLLength":    admin.MaxImageURLLength,
		"MaxAttributes":        admin.MaxAttributes,
		"MaxStock":             admin.MaxStock,
		"MaxImageBytes":        images.MaxUploadBytes,
		"MaxAltLength":         images.MaxAltLength,
	},
}
