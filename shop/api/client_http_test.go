package api_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	openapitypes "github.com/oapi-codegen/runtime/types"

	"github.com/storefront-operator/storefront/shop/orders"
	"github.com/storefront-operator/storefront/test/apiclient"
	"github.com/storefront-operator/storefront/test/shoptest"
)

// TestGeneratedClient shops through the client oapi-codegen generates from the served
// document (test/apiclient), as a client team would: every answer decodes into the
// generated types, and every exchange also passes the contract check of shop.Client.
func TestGeneratedClient(t *testing.T) {
	shop := shoptest.Start(t, shoptest.Options{Demo: true})
	ctx := context.Background()
	var token string
	bearer := apiclient.WithRequestEditorFn(func(_ context.Context, req *http.Request) error {
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		return nil
	})
	c, err := apiclient.NewClientWithResponses(shop.URL, apiclient.WithHTTPClient(shop.Client), bearer)
	if err != nil {
		t.Fatal(err)
	}
	must := func(what string, status int, err error, want int) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if status != want {
			t.Fatalf("%s: status %d, want %d", what, status, want)
		}
	}

	cats, err := c.ListCategoriesWithResponse(ctx, nil)
	must("categories", cats.StatusCode(), err, 200)
	if len(cats.JSON200.Items) < 8 {
		t.Errorf("%d categories", len(cats.JSON200.Items))
	}
	perPage, sort, category := 5, apiclient.ListProductsParamsSortPriceAsc, cats.JSON200.Items[0].Slug
	list, err := c.ListProductsWithResponse(ctx, &apiclient.ListProductsParams{Category: &category, Sort: &sort, PerPage: &perPage})
	must("products", list.StatusCode(), err, 200)
	if len(list.JSON200.Items) == 0 || list.JSON200.Items[0].Category.Slug != category || list.JSON200.PerPage != 5 {
		t.Errorf("products: %+v", list.JSON200)
	}
	found, err := c.SearchWithResponse(ctx, &apiclient.SearchParams{Q: "knife"})
	must("search", found.StatusCode(), err, 200)
	if found.JSON200.Total == 0 || found.JSON200.Match != "fulltext" {
		t.Errorf("search: total %d, match %s", found.JSON200.Total, found.JSON200.Match)
	}
	product := found.JSON200.Items[0]
	one, err := c.GetProductWithResponse(ctx, product.Slug, nil)
	must("product", one.StatusCode(), err, 200)
	if one.JSON200.Id != product.Id || one.JSON200.Price.Amount <= 0 {
		t.Errorf("product: %+v", one.JSON200)
	}
	missing, err := c.GetProductWithResponse(ctx, "no-such-product", nil)
	must("a missing product", missing.StatusCode(), err, 404)
	if missing.ApplicationproblemJSON404 == nil || missing.ApplicationproblemJSON404.Status != 404 {
		t.Errorf("a missing product: %s", missing.Body)
	}

	email := "client-" + time.Now().Format("150405.000000000") + "@example.com"
	reg, err := c.RegisterWithResponse(ctx, apiclient.RegisterRequest{Email: openapitypes.Email(email), Password: "correct horse battery", Name: "Client Team"})
	must("register", reg.StatusCode(), err, 201)
	bad, err := c.LoginWithResponse(ctx, apiclient.LoginRequest{Email: email, Password: "wrong password"})
	must("a wrong password", bad.StatusCode(), err, 401)
	login, err := c.LoginWithResponse(ctx, apiclient.LoginRequest{Email: email, Password: "correct horse battery"})
	must("login", login.StatusCode(), err, 200)
	token = login.JSON200.Token
	me, err := c.MeWithResponse(ctx)
	must("me", me.StatusCode(), err, 200)
	if string(me.JSON200.Email) != email || me.JSON200.Role != "customer" {
		t.Errorf("me: %+v", me.JSON200)
	}

	line, err := c.SetCartItemWithResponse(ctx, product.Id, apiclient.CartItemRequest{Quantity: 2})
	must("set a cart line", line.StatusCode(), err, 200)
	if line.JSON200.ProductId != product.Id || line.JSON200.Quantity != 2 || line.JSON200.LineTotal.Amount != 2*product.Price.Amount {
		t.Errorf("cart line: %+v", line.JSON200)
	}
	order := apiclient.OrderRequest{
		ShippingAddress: apiclient.Address{Name: "Ada Lovelace", Line1: "12 St James's Square", City: "London", PostalCode: "SW1Y 4JH", Country: "GB"},
		Payment:         apiclient.Card{CardNumber: orders.CardSuccess, ExpMonth: 12, ExpYear: time.Now().Year() + 2, Cvc: "123"},
	}
	key := &apiclient.PlaceOrderParams{IdempotencyKey: newKey()}
	placed, err := c.PlaceOrderWithResponse(ctx, key, order)
	must("place an order", placed.StatusCode(), err, 201)
	if placed.JSON201.Status != apiclient.Paid || placed.JSON201.Total.Amount != 2*product.Price.Amount || placed.HTTPResponse.Header.Get("Location") == "" {
		t.Errorf("order: %+v", placed.JSON201)
	}
	replay, err := c.PlaceOrderWithResponse(ctx, key, order)
	must("replay the order", replay.StatusCode(), err, 200)
	if replay.JSON200.Id != placed.JSON201.Id {
		t.Errorf("the replay is order %d, not %d", replay.JSON200.Id, placed.JSON201.Id)
	}
	mine, err := c.ListOrdersWithResponse(ctx, nil)
	must("my orders", mine.StatusCode(), err, 200)
	if mine.JSON200.Total != 1 || mine.JSON200.Items[0].Id != placed.JSON201.Id {
		t.Errorf("orders: %+v", mine.JSON200)
	}

	out, err := c.LogoutWithResponse(ctx)
	must("logout", out.StatusCode(), err, 204)
	gone, err := c.MeWithResponse(ctx)
	must("me after logout", gone.StatusCode(), err, 401)
	if gone.ApplicationproblemJSON401 == nil || gone.HTTPResponse.Header.Get("WWW-Authenticate") == "" {
		t.Errorf("me after logout: %s", gone.Body)
	}
}
