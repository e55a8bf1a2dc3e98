package api_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	"github.com/storefront-operator/storefront/shop/cart"
	"github.com/storefront-operator/storefront/test/shoptest"
)

func TestCart(t *testing.T) {
	shop := shoptest.Start(t, shoptest.Options{Demo: true})
	_, token := newUser(t, shop)
	skillet, mat := productID(t, shop, "cast-iron-skillet-26-cm"), productID(t, shop, "cork-yoga-mat")
	itemPath := func(id int64) string { return fmt.Sprintf("/api/v1/cart/items/%d", id) }

	if resp, body := call(t, shop, "GET", "/api/v1/cart", token, nil); resp.StatusCode != 200 || string(body) != `{"items":[],"total":{"amount":0,"currency":"EUR"}}`+"\n" {
		t.Fatalf("empty cart: %d %s", resp.StatusCode, body)
	}

	tests := []struct {
		name   string
		method string
		path   string
		token  string
		body   any
		status int
		field  string
		check  func(t *testing.T, c cart.Cart)
	}{
		{name: "setting a line adds it at the current price", method: "PUT", path: itemPath(skillet), body: `{"quantity":2}`, status: 200, check: func(t *testing.T, c cart.Cart) {
			if len(c.Items) != 1 || c.Items[0].ProductID != skillet || c.Items[0].Quantity != 2 || c.Items[0].UnitPrice.Amount != 4900 ||
				c.Items[0].LineTotal.Amount != 9800 || c.Total.Amount != 9800 || c.Items[0].Name != "Cast Iron Skillet 26 cm" {
				t.Errorf("cart = %+v", c)
			}
		}},
		{name: "a second line adds to the total", method: "PUT", path: itemPath(mat), body: `{"quantity":1}`, status: 200, check: func(t *testing.T, c cart.Cart) {
			if len(c.Items) != 2 || c.Total.Amount != 9800+6900 {
				t.Errorf("cart = %+v", c)
			}
		}},
		{name: "setting a line again replaces its quantity", method: "PUT", path: itemPath(skillet), body: `{"quantity":3}`, status: 200, check: func(t *testing.T, c cart.Cart) {
			if c.Items[0].Quantity != 3 || c.Total.Amount != 3*4900+6900 {
				t.Errorf("cart = %+v", c)
			}
		}},
		{name: "the largest quantity is accepted", method: "PUT", path: itemPath(mat), body: fmt.Sprintf(`{"quantity":%d}`, cart.MaxQuantity), status: 200},
		{name: "a quantity above the largest is 422", method: "PUT", path: itemPath(mat), body: fmt.Sprintf(`{"quantity":%d}`, cart.MaxQuantity+1), status: 422, field: "quantity"},
		{name: "a negative quantity is 422", method: "PUT", path: itemPath(mat), body: `{"quantity":-1}`, status: 422, field: "quantity"},
		{name: "a missing quantity is 400", method: "PUT", path: itemPath(mat), body: `{}`, status: 400, field: "quantity"},
		{name: "a fractional quantity is 400", method: "PUT", path: itemPath(mat), body: `{"quantity":1.5}`, status: 400, field: "quantity"},
		{name: "an unknown product is 404", method: "PUT", path: itemPath(987654321), body: `{"quantity":1}`, status: 404},
		{name: "a product id that is not a number is 404", method: "PUT", path: "/api/v1/cart/items/skillet", body: `{"quantity":1}`, status: 404},
		{name: "quantity 0 removes the line", method: "PUT", path: itemPath(mat), body: `{"quantity":0}`, status: 200, check: func(t *testing.T, c cart.Cart) {
			if len(c.Items) != 1 || c.Items[0].ProductID != skillet {
				t.Errorf("cart = %+v", c)
			}
		}},
		{name: "deleting a line that is not in the cart is 404", method: "DELETE", path: itemPath(mat), status: 404},
		{name: "deleting a line removes it", method: "DELETE", path: itemPath(skillet), status: 200, check: func(t *testing.T, c cart.Cart) {
			if len(c.Items) != 0 || c.Total.Amount != 0 {
				t.Errorf("cart = %+v", c)
			}
		}},
		{name: "an anonymous read is 401", method: "GET", path: "/api/v1/cart", token: "-", status: 401},
		{name: "an anonymous write is 401", method: "PUT", path: itemPath(mat), token: "-", body: `{"quantity":1}`, status: 401},
		{name: "an anonymous delete is 401", method: "DELETE", path: itemPath(mat), token: "-", status: 401},
	}
	for _, tt := range tests { // in order: each step builds on the previous cart
		t.Run(tt.name, func(t *testing.T) {
			tok := token
			if tt.token == "-" {
				tok = ""
			}
			resp, body := call(t, shop, tt.method, tt.path, tok, tt.body)
			if tt.status != 200 {
				expectProblem(t, resp, body, tt.status, tt.field)
				return
			}
			if resp.StatusCode != 200 {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			if tt.check != nil {
				tt.check(t, decode[cart.Cart](t, body))
			}
		})
	}

	t.Run("totals follow the current prices", func(t *testing.T) {
		call(t, shop, "PUT", itemPath(mat), token, `{"quantity":2}`)
		exec(t, shop.DatabaseURL, `UPDATE products SET price_minor = 5000 WHERE id = $1`, mat)
		_, body := call(t, shop, "GET", "/api/v1/cart", token, nil)
		if c := decode[cart.Cart](t, body); c.Total.Amount != 10000 || c.Items[0].UnitPrice.Amount != 5000 {
			t.Errorf("cart = %+v", c)
		}
	})

	t.Run("a deleted product leaves the cart", func(t *testing.T) {
		_, admin := newAdmin(t, shop)
		id := createProduct(t, shop, admin, "soon-gone")
		call(t, shop, "PUT", itemPath(id), token, `{"quantity":1}`)
		if resp, body := call(t, shop, "DELETE", fmt.Sprintf("/api/v1/admin/products/%d", id), admin, nil); resp.StatusCode != 204 {
			t.Fatalf("delete: %d %s", resp.StatusCode, body)
		}
		_, body := call(t, shop, "GET", "/api/v1/cart", token, nil)
		for _, l := range decode[cart.Cart](t, body).Items {
			if l.ProductID == id {
				t.Error("the deleted product is still in the cart")
			}
		}
	})

	t.Run("another user's cart is not visible and its lines are 404", func(t *testing.T) {
		_, other := newUser(t, shop)
		_, body := call(t, shop, "GET", "/api/v1/cart", other, nil)
		if c := decode[cart.Cart](t, body); len(c.Items) != 0 {
			t.Errorf("the other user sees %+v", c)
		}
		resp, body := call(t, shop, "DELETE", itemPath(mat), other, nil)
		expectProblem(t, resp, body, http.StatusNotFound, "")
		_, body = call(t, shop, "GET", "/api/v1/cart", token, nil)
		if c := decode[cart.Cart](t, body); len(c.Items) != 1 || c.Items[0].ProductID != mat {
			t.Errorf("the owner's cart changed: %+v", c)
		}
	})
}

func TestCartMerge(t *testing.T) {
	shop := shoptest.Start(t, shoptest.Options{Demo: true})
	u, token := newUser(t, shop)
	skillet, mat, kettlebell := productID(t, shop, "cast-iron-skillet-26-cm"), productID(t, shop, "cork-yoga-mat"), productID(t, shop, "kettlebell-16-kg")
	call(t, shop, "PUT", fmt.Sprintf("/api/v1/cart/items/%d", skillet), token, `{"quantity":2}`)
	call(t, shop, "PUT", fmt.Sprintf("/api/v1/cart/items/%d", mat), token, fmt.Sprintf(`{"quantity":%d}`, cart.MaxQuantity-1))

	c, err := shop.App.Cart.Merge(context.Background(), u.ID, []cart.Item{
		{ProductID: skillet, Quantity: 3},      // added: 5
		{ProductID: mat, Quantity: 5},          // capped
		{ProductID: kettlebell, Quantity: 1},   // new line
		{ProductID: kettlebell, Quantity: 2},   // same product twice: summed
		{ProductID: 987654321, Quantity: 1},    // unknown: skipped
		{ProductID: skillet, Quantity: 0},      // nothing to add
		{ProductID: mat, Quantity: -4},         // nonsense: skipped
		{ProductID: -1, Quantity: 1},           // nonsense: skipped
		{ProductID: kettlebell, Quantity: 1e9}, // capped
	})
	if err != nil {
		t.Fatal(err)
	}
	got := map[int64]int{}
	for _, l := range c.Items {
		got[l.ProductID] = l.Quantity
	}
	want := map[int64]int{skillet: 5, mat: cart.MaxQuantity, kettlebell: cart.MaxQuantity}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("merged cart %v, want %v", got, want)
	}
	if c, err := shop.App.Cart.Merge(context.Background(), u.ID, nil); err != nil || len(c.Items) != 3 {
		t.Errorf("an empty merge: %+v, %v", c, err)
	}
}
