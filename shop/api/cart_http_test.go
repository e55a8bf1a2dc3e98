package api_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/storefront-operator/storefront/shop/app"
	"github.com/storefront-operator/storefront/shop/cart"
	"github.com/storefront-operator/storefront/shop/orders"
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

	getCart := func(t *testing.T) cart.Cart {
		t.Helper()
		resp, body := call(t, shop, "GET", "/api/v1/cart", token, nil)
		if resp.StatusCode != 200 {
			t.Fatalf("GET /api/v1/cart: %d %s", resp.StatusCode, body)
		}
		return decode[cart.Cart](t, body)
	}

	tests := []struct {
		name   string
		method string
		path   string
		token  string
		body   any
		status int
		field  string
		check  func(t *testing.T, body []byte)
	}{
		{name: "setting a line answers that line at the current price", method: "PUT", path: itemPath(skillet), body: `{"quantity":2}`, status: 200, check: func(t *testing.T, body []byte) {
			want := `{"product_id":` + fmt.Sprint(skillet) + `,"slug":"cast-iron-skillet-26-cm","name":"Cast Iron Skillet 26 cm",`
			if l := decode[cart.Line](t, body); l.ProductID != skillet || l.Quantity != 2 || l.UnitPrice.Amount != 4900 || l.LineTotal.Amount != 9800 ||
				!strings.HasPrefix(string(body), want) {
				t.Errorf("line = %s", body)
			}
		}},
		{name: "a second line answers only itself", method: "PUT", path: itemPath(mat), body: `{"quantity":1}`, status: 200, check: func(t *testing.T, body []byte) {
			if l := decode[cart.Line](t, body); l.ProductID != mat || l.Quantity != 1 || l.LineTotal.Amount != 6900 || strings.Contains(string(body), `"items"`) {
				t.Errorf("line = %s", body)
			}
			if c := getCart(t); len(c.Items) != 2 || c.Total.Amount != 9800+6900 {
				t.Errorf("cart = %+v", c)
			}
		}},
		{name: "setting a line again replaces its quantity", method: "PUT", path: itemPath(skillet), body: `{"quantity":3}`, status: 200, check: func(t *testing.T, body []byte) {
			if l := decode[cart.Line](t, body); l.Quantity != 3 || l.LineTotal.Amount != 3*4900 {
				t.Errorf("line = %s", body)
			}
			if c := getCart(t); c.Items[0].Quantity != 3 || c.Total.Amount != 3*4900+6900 {
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
		{name: "quantity 0 removes the line and is 204", method: "PUT", path: itemPath(mat), body: `{"quantity":0}`, status: 204, check: func(t *testing.T, body []byte) {
			if c := getCart(t); len(c.Items) != 1 || c.Items[0].ProductID != skillet {
				t.Errorf("cart = %+v", c)
			}
		}},
		{name: "quantity 0 of a line that is not there is 204 too", method: "PUT", path: itemPath(mat), body: `{"quantity":0}`, status: 204},
		{name: "deleting a line that is not in the cart is 404", method: "DELETE", path: itemPath(mat), status: 404},
		{name: "deleting a line removes it and is 204", method: "DELETE", path: itemPath(skillet), status: 204, check: func(t *testing.T, body []byte) {
			if c := getCart(t); len(c.Items) != 0 || c.Total.Amount != 0 {
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
			if tt.status >= 300 {
				expectProblem(t, resp, body, tt.status, tt.field)
				return
			}
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.status, body)
			}
			if tt.status == http.StatusNoContent && len(body) != 0 {
				t.Errorf("a 204 with a body: %q", body)
			}
			if tt.check != nil {
				tt.check(t, body)
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

// guestCart starts a guest cart with items through the cart service, as the pages do.
func guestCart(t *testing.T, shop *shoptest.Shop, items map[int64]int) cart.Owner {
	t.Helper()
	ctx := context.Background()
	g, err := shop.App.Cart.NewGuest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for id, q := range items {
		if _, err := shop.App.Cart.Set(ctx, g, id, q); err != nil {
			t.Fatalf("guest line %d×%d: %v", id, q, err)
		}
	}
	return g
}

func TestCartMergeGuest(t *testing.T) {
	shop := shoptest.Start(t, shoptest.Options{Demo: true})
	ctx := context.Background()
	u, token := newUser(t, shop)
	skillet, mat, kettlebell := productID(t, shop, "cast-iron-skillet-26-cm"), productID(t, shop, "cork-yoga-mat"), productID(t, shop, "kettlebell-16-kg")
	call(t, shop, "PUT", fmt.Sprintf("/api/v1/cart/items/%d", skillet), token, `{"quantity":2}`)
	call(t, shop, "PUT", fmt.Sprintf("/api/v1/cart/items/%d", mat), token, fmt.Sprintf(`{"quantity":%d}`, cart.MaxQuantity-1))

	g := guestCart(t, shop, map[int64]int{skillet: 3, mat: 5, kettlebell: 1})
	if err := shop.App.Cart.MergeGuest(ctx, g, u.ID); err != nil {
		t.Fatal(err)
	}
	c, err := shop.App.Cart.Get(ctx, cart.User(u.ID))
	if err != nil {
		t.Fatal(err)
	}
	got := map[int64]int{}
	for _, l := range c.Items {
		got[l.ProductID] = l.Quantity
	}
	want := map[int64]int{skillet: 5, mat: cart.MaxQuantity, kettlebell: 1}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("merged cart %v, want %v (summed, capped at %d)", got, want, cart.MaxQuantity)
	}
	if _, err := shop.App.Cart.Get(ctx, g); !errors.Is(err, cart.ErrGuestCartGone) {
		t.Errorf("the guest cart after the merge: %v", err)
	}
	if n := queryInt(t, shop.DatabaseURL, `SELECT count(*) FROM guest_carts WHERE id = $1`, g.GuestID); n != 0 {
		t.Errorf("the merged guest cart is still stored")
	}
}

// seedProducts adds n synthetic products and returns the ids of all products.
func seedProducts(t *testing.T, shop *shoptest.Shop, n int) []int64 {
	t.Helper()
	if _, err := app.SeedProducts(context.Background(), shoptest.Config(shop.DatabaseURL), n, nil); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(context.Background(), shop.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close(context.Background()) }()
	rows, err := conn.Query(context.Background(), `SELECT id FROM products ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

func TestCartLineCap(t *testing.T) {
	shop := shoptest.Start(t, shoptest.Options{})
	ctx := context.Background()
	ids := seedProducts(t, shop, cart.MaxLines+5)
	exec(t, shop.DatabaseURL, `UPDATE products SET stock = 10`)
	u, token := newUser(t, shop)
	for _, id := range ids[:cart.MaxLines] {
		if resp, body := call(t, shop, "PUT", fmt.Sprintf("/api/v1/cart/items/%d", id), token, `{"quantity":1}`); resp.StatusCode != http.StatusOK {
			t.Fatalf("line %d: %d %s", id, resp.StatusCode, body)
		}
	}
	t.Run("the 101st line of a user's cart is 422", func(t *testing.T) {
		resp, body := call(t, shop, "PUT", fmt.Sprintf("/api/v1/cart/items/%d", ids[cart.MaxLines]), token, `{"quantity":1}`)
		expectProblem(t, resp, body, http.StatusUnprocessableEntity, "product_id")
	})
	t.Run("a full cart still changes its lines", func(t *testing.T) {
		if resp, body := call(t, shop, "PUT", fmt.Sprintf("/api/v1/cart/items/%d", ids[0]), token, `{"quantity":3}`); resp.StatusCode != http.StatusOK {
			t.Fatalf("%d %s", resp.StatusCode, body)
		}
	})
	t.Run("the 101st line of a guest's cart is refused", func(t *testing.T) {
		g, err := shop.App.Cart.NewGuest(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range ids[:cart.MaxLines] {
			if _, err := shop.App.Cart.Set(ctx, g, id, 1); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := shop.App.Cart.Set(ctx, g, ids[cart.MaxLines], 1); !errors.Is(err, cart.ErrFull) {
			t.Fatalf("the 101st guest line: %v", err)
		}
	})
	t.Run("a merge stops adding lines at the cap", func(t *testing.T) {
		v, _ := newUser(t, shop)
		exec(t, shop.DatabaseURL, `INSERT INTO cart_items (user_id, product_id, quantity) SELECT $1, unnest($2::bigint[]), 1`, v.ID, ids[:cart.MaxLines-2])
		g := guestCart(t, shop, map[int64]int{ids[0]: 2, ids[cart.MaxLines]: 1, ids[cart.MaxLines+1]: 1, ids[cart.MaxLines+2]: 1})
		if err := shop.App.Cart.MergeGuest(ctx, g, v.ID); err != nil {
			t.Fatal(err)
		}
		c, err := shop.App.Cart.Get(ctx, cart.User(v.ID))
		if err != nil {
			t.Fatal(err)
		}
		if len(c.Items) != cart.MaxLines || c.Quantity(ids[0]) != 3 {
			t.Errorf("merged into a nearly full cart: %d lines, %d of the first", len(c.Items), c.Quantity(ids[0]))
		}
	})
	t.Run("checking out a cart over the cap is 422 and takes nothing", func(t *testing.T) {
		// Written behind the service's back (as a cart from before the cap could be).
		exec(t, shop.DatabaseURL, `INSERT INTO cart_items (user_id, product_id, quantity) SELECT $1, unnest($2::bigint[]), 1 ON CONFLICT DO NOTHING`, u.ID, ids[:cart.MaxLines+1])
		resp, body := call(t, shop, "POST", "/api/v1/orders", token, orderBody(nil, orders.CardSuccess), "Idempotency-Key", newKey())
		expectProblem(t, resp, body, http.StatusUnprocessableEntity, "items")
		if n := queryInt(t, shop.DatabaseURL, `SELECT count(*) FROM products WHERE stock <> 10`); n != 0 {
			t.Errorf("%d products lost stock", n)
		}
	})
}

func TestGuestCartExpires(t *testing.T) {
	shop := shoptest.Start(t, shoptest.Options{Demo: true})
	ctx := context.Background()
	skillet := productID(t, shop, "cast-iron-skillet-26-cm")
	g := guestCart(t, shop, map[int64]int{skillet: 1})
	exec(t, shop.DatabaseURL, `UPDATE guest_carts SET touched_at = now() - interval '6 days 23 hours' WHERE id = $1`, g.GuestID)
	if c, err := shop.App.Cart.Get(ctx, g); err != nil || len(c.Items) != 1 {
		t.Fatalf("a cart used 6 days 23 hours ago: %+v %v", c, err)
	}
	// Reading it counted as use: it has 7 days again.
	if n := queryInt(t, shop.DatabaseURL, `SELECT count(*) FROM guest_carts WHERE id = $1 AND touched_at > now() - interval '1 minute'`, g.GuestID); n != 1 {
		t.Error("reading the cart did not renew it")
	}
	exec(t, shop.DatabaseURL, `UPDATE guest_carts SET touched_at = now() - interval '7 days 1 minute' WHERE id = $1`, g.GuestID)
	if _, err := shop.App.Cart.Get(ctx, g); !errors.Is(err, cart.ErrGuestCartGone) {
		t.Fatalf("a cart unused for 7 days: %v", err)
	}
	if _, err := shop.App.Cart.Set(ctx, g, skillet, 2); !errors.Is(err, cart.ErrGuestCartGone) {
		t.Fatalf("writing to an expired cart: %v", err)
	}
	u, _ := newUser(t, shop)
	if err := shop.App.Cart.MergeGuest(ctx, g, u.ID); err != nil {
		t.Fatal(err)
	}
	if c, _ := shop.App.Cart.Get(ctx, cart.User(u.ID)); len(c.Items) != 0 {
		t.Errorf("an expired cart was merged: %+v", c)
	}
	// Starting a cart deletes expired ones.
	if _, err := shop.App.Cart.NewGuest(ctx); err != nil {
		t.Fatal(err)
	}
	if n := queryInt(t, shop.DatabaseURL, `SELECT count(*) FROM guest_carts WHERE id = $1`, g.GuestID); n != 0 {
		t.Error("the expired cart was not purged")
	}
}
