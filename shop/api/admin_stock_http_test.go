package api_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/storefront-operator/storefront/shop/catalog"
	"github.com/storefront-operator/storefront/shop/orders"
	"github.com/storefront-operator/storefront/test/shoptest"
)

// TestAStaleProductEditCannotUndoOrders is the oversell of a product edit: an admin
// client reads a product (stock 5), a customer buys all 5, and the client saves its
// copy with a new description. The stock it read must not come back: a second order of
// 5 must be refused.
func TestAStaleProductEditCannotUndoOrders(t *testing.T) {
	shop := shoptest.Start(t, shoptest.Options{Demo: true})
	_, admin := newAdmin(t, shop)
	_, customer := newUser(t, shop)
	body, id, path := stockedProduct(t, shop, admin, "last-five", 5)

	placeOrder(t, shop, customer, []map[string]any{item(id, 5)})
	if got := stockOf(t, shop, id); got != 0 {
		t.Fatalf("stock %d after selling all 5", got)
	}

	// The client's copy, as read before the order, with only the description changed.
	body["description"] = "Now with a longer description."
	resp, b := call(t, shop, "PUT", path, admin, body)
	if got := stockOf(t, shop, id); got != 0 {
		t.Errorf("the edit (%d %s) put the stock back to %d: the 5 units sold are for sale again", resp.StatusCode, b, got)
	}
	resp, b = call(t, shop, "POST", "/api/v1/orders", customer, orderBody([]map[string]any{item(id, 5)}, orders.CardSuccess), "Idempotency-Key", newKey())
	if resp.StatusCode != http.StatusConflict {
		t.Errorf("a second order of the 5 units sold: %d %s; want 409 out of stock", resp.StatusCode, b)
	}
}

// TestProductUpdatesAndTheStock is the update contract: the stock changes only when the
// client proves it read the current one (expected_stock), is kept when the client sends
// none, and a stale one refuses the whole update with a 409 naming the current stock.
func TestProductUpdatesAndTheStock(t *testing.T) {
	shop := shoptest.Start(t, shoptest.Options{Demo: true})
	_, admin := newAdmin(t, shop)
	_, customer := newUser(t, shop)
	body, id, path := stockedProduct(t, shop, admin, "stocked", 5)
	placeOrder(t, shop, customer, []map[string]any{item(id, 2)}) // 3 left
	with := func(mutate func(m map[string]any)) map[string]any {
		m := map[string]any{}
		for k, v := range body {
			m[k] = v
		}
		mutate(m)
		return m
	}
	stockIs := func(want int64) func(t *testing.T, body []byte) {
		return func(t *testing.T, body []byte) {
			t.Helper()
			if p := decode[catalog.Product](t, body); int64(p.Stock) != want {
				t.Errorf("the answer says stock %d, want %d", p.Stock, want)
			}
			if got := stockOf(t, shop, id); got != want {
				t.Errorf("stock %d, want %d", got, want)
			}
		}
	}
	conflictNaming := func(current int64) func(t *testing.T, body []byte) {
		return func(t *testing.T, body []byte) {
			t.Helper()
			if p := decode[problemBody](t, body); !strings.Contains(p.Detail, fmt.Sprintf("the stock is %d now", current)) {
				t.Errorf("the problem does not name the current stock %d: %s", current, body)
			}
			if got := stockOf(t, shop, id); got != current {
				t.Errorf("stock %d after a refused update, want %d", got, current)
			}
		}
	}
	tests := []struct {
		name, method, path string
		body               any
		status             int
		field              string
		check              func(t *testing.T, body []byte)
	}{
		{name: "without stock the stock is kept", method: "PUT", path: path, body: with(func(m map[string]any) { delete(m, "stock"); m["name"] = "Renamed" }), status: 200, check: stockIs(3)},
		{name: "the stock as read before an order is refused", method: "PUT", path: path, body: with(func(m map[string]any) { m["name"] = "Stale" }), status: 409, check: func(t *testing.T, body []byte) {
			conflictNaming(3)(t, body)
			if n := queryInt(t, shop.DatabaseURL, `SELECT count(*) FROM products WHERE id = $1 AND name = 'Renamed'`, id); n != 1 {
				t.Error("the refused update saved the other fields")
			}
		}},
		{name: "the current stock sent back keeps it", method: "PUT", path: path, body: with(func(m map[string]any) { m["stock"] = 3 }), status: 200, check: stockIs(3)},
		{name: "a new stock with a stale expected stock is refused", method: "PUT", path: path, body: with(func(m map[string]any) { m["stock"], m["expected_stock"] = 10, 5 }), status: 409, check: conflictNaming(3)},
		{name: "a new stock with the current expected stock is set", method: "PUT", path: path, body: with(func(m map[string]any) { m["stock"], m["expected_stock"] = 10, 3 }), status: 200, check: stockIs(10)},
		{name: "a stock left as read keeps what orders did since", method: "PUT", path: path, body: with(func(m map[string]any) { m["stock"], m["expected_stock"] = 4, 4 }), status: 200, check: stockIs(10)},
		{name: "an expected stock without stock is 422", method: "PUT", path: path, body: with(func(m map[string]any) { delete(m, "stock"); m["expected_stock"] = 10 }), status: 422, field: "expected_stock"},
		{name: "a negative expected stock is 422", method: "PUT", path: path, body: with(func(m map[string]any) { m["expected_stock"] = -1 }), status: 422, field: "expected_stock"},
		{name: "an expected stock on create is 422", method: "POST", path: "/api/v1/admin/products", body: with(func(m map[string]any) { m["slug"], m["expected_stock"] = "stocked-2", 5 }), status: 422, field: "expected_stock"},
		{name: "a product created without stock has none", method: "POST", path: "/api/v1/admin/products", body: with(func(m map[string]any) { m["slug"] = "stocked-3"; delete(m, "stock") }), status: 201, check: func(t *testing.T, body []byte) {
			if p := decode[catalog.Product](t, body); p.Stock != 0 {
				t.Errorf("stock %d", p.Stock)
			}
		}},
		{name: "a stock set on a stale expected stock is refused", method: "PATCH", path: path + "/stock", body: map[string]int{"stock": 7, "expected_stock": 9}, status: 409, check: conflictNaming(10)},
		{name: "a stock set on the current expected stock is set", method: "PATCH", path: path + "/stock", body: map[string]int{"stock": 7, "expected_stock": 10}, status: 200, check: stockIs(7)},
		{name: "a stock set without an expected stock is absolute", method: "PATCH", path: path + "/stock", body: map[string]int{"stock": 1}, status: 200, check: stockIs(1)},
		{name: "the expected stock of a missing product is 404", method: "PATCH", path: "/api/v1/admin/products/987654321/stock", body: map[string]int{"stock": 1, "expected_stock": 1}, status: 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := call(t, shop, tt.method, tt.path, admin, tt.body)
			if tt.status >= 400 {
				expectProblem(t, resp, body, tt.status, tt.field)
			} else if resp.StatusCode != tt.status {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			if tt.check != nil {
				tt.check(t, body)
			}
		})
	}
}

// stockedProduct creates the product slug with stock units through the admin API and
// returns the body it sent, its id and its admin path.
func stockedProduct(t *testing.T, shop *shoptest.Shop, admin string, slug string, stock int) (map[string]any, int64, string) {
	t.Helper()
	body := productInput(slug)
	body["stock"] = stock
	resp, b := call(t, shop, "POST", "/api/v1/admin/products", admin, body)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("creating: %d %s", resp.StatusCode, b)
	}
	id := decode[catalog.Product](t, b).ID
	return body, id, fmt.Sprintf("/api/v1/admin/products/%d", id)
}
