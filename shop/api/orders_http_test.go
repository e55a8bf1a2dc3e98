package api_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/storefront-operator/storefront/shop/cart"
	"github.com/storefront-operator/storefront/shop/catalog"
	"github.com/storefront-operator/storefront/shop/orders"
	"github.com/storefront-operator/storefront/shop/platform/config"
	"github.com/storefront-operator/storefront/test/shoptest"
	"github.com/storefront-operator/storefront/test/testenv"
)

func TestPlaceOrder(t *testing.T) {
	shop := shoptest.Start(t, shoptest.Options{Demo: true})
	u, token := newUser(t, shop)
	skillet, mat := productID(t, shop, "cast-iron-skillet-26-cm"), productID(t, shop, "cork-yoga-mat")
	scarce := productID(t, shop, "kettlebell-16-kg")
	exec(t, shop.DatabaseURL, `UPDATE products SET stock = 2 WHERE id = $1`, scarce)

	t.Run("an order from items is paid, priced by the server and takes the stock", func(t *testing.T) {
		before := stockOf(t, shop, skillet)
		key := newKey()
		resp, body := call(t, shop, "POST", "/api/v1/orders", token, orderBody([]map[string]any{item(skillet, 2), item(mat, 1)}, "4242 4242 4242 4242"), "Idempotency-Key", key)
		if resp.StatusCode != 201 {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
		o := decode[orders.Order](t, body)
		if o.Status != orders.StatusPaid || o.Total.Amount != 2*4900+6900 || o.Total.Currency != "EUR" || len(o.Items) != 2 || o.UserID != u.ID ||
			o.Payment.Brand != "visa" || o.Payment.Last4 != "4242" || o.ShippingAddress.Name != "Ada Lovelace" || o.CreatedAt.IsZero() {
			t.Errorf("order = %+v", o)
		}
		if l := o.Items[0]; l.ProductID != skillet || l.Quantity != 2 || l.UnitPrice.Amount != 4900 || l.LineTotal.Amount != 9800 || l.Name != "Cast Iron Skillet 26 cm" {
			t.Errorf("line = %+v", l)
		}
		if got := stockOf(t, shop, skillet); got != before-2 {
			t.Errorf("stock %d, want %d", got, before-2)
		}
		if resp.Header.Get("Location") != fmt.Sprintf("/api/v1/orders/%d", o.ID) {
			t.Errorf("Location = %q", resp.Header.Get("Location"))
		}

		// The same key and body: the same order, 200, nothing taken twice.
		resp, body = call(t, shop, "POST", "/api/v1/orders", token, orderBody([]map[string]any{item(skillet, 2), item(mat, 1)}, "4242424242424242"), "Idempotency-Key", key)
		if resp.StatusCode != 200 || decode[orders.Order](t, body).ID != o.ID || resp.Header.Get("Idempotent-Replayed") != "true" {
			t.Errorf("replay: %d %s", resp.StatusCode, body)
		}
		if got := stockOf(t, shop, skillet); got != before-2 {
			t.Errorf("stock after the replay %d, want %d", got, before-2)
		}
		// The same key with another body: 422.
		resp, body = call(t, shop, "POST", "/api/v1/orders", token, orderBody([]map[string]any{item(skillet, 1)}, "4242424242424242"), "Idempotency-Key", key)
		expectProblem(t, resp, body, 422, "Idempotency-Key")

		// Unit prices are those at purchase.
		exec(t, shop.DatabaseURL, `UPDATE products SET price_minor = 1 WHERE id = $1`, skillet)
		_, body = call(t, shop, "GET", fmt.Sprintf("/api/v1/orders/%d", o.ID), token, nil)
		if got := decode[orders.Order](t, body); got.Items[0].UnitPrice.Amount != 4900 || got.Total.Amount != o.Total.Amount {
			t.Errorf("after a price change the order reads %+v", got)
		}
		exec(t, shop.DatabaseURL, `UPDATE products SET price_minor = 4900 WHERE id = $1`, skillet)
	})

	t.Run("an order of the cart empties the cart", func(t *testing.T) {
		_, tok := newUser(t, shop)
		call(t, shop, "PUT", fmt.Sprintf("/api/v1/cart/items/%d", mat), tok, `{"quantity":3}`)
		o := placeOrder(t, shop, tok, nil)
		if len(o.Items) != 1 || o.Items[0].Quantity != 3 || o.Total.Amount != 3*6900 {
			t.Errorf("order = %+v", o)
		}
		_, body := call(t, shop, "GET", "/api/v1/cart", tok, nil)
		if c := decode[cart.Cart](t, body); len(c.Items) != 0 {
			t.Errorf("cart after the order: %+v", c)
		}
		resp, body := call(t, shop, "POST", "/api/v1/orders", tok, orderBody(nil, orders.CardSuccess), "Idempotency-Key", newKey())
		expectProblem(t, resp, body, 422, "items")
	})

	t.Run("an order of items removes those items from the cart only", func(t *testing.T) {
		_, tok := newUser(t, shop)
		call(t, shop, "PUT", fmt.Sprintf("/api/v1/cart/items/%d", mat), tok, `{"quantity":1}`)
		call(t, shop, "PUT", fmt.Sprintf("/api/v1/cart/items/%d", skillet), tok, `{"quantity":1}`)
		placeOrder(t, shop, tok, []map[string]any{item(skillet, 1)})
		_, body := call(t, shop, "GET", "/api/v1/cart", tok, nil)
		if c := decode[cart.Cart](t, body); len(c.Items) != 1 || c.Items[0].ProductID != mat {
			t.Errorf("cart after the order: %+v", c)
		}
	})

	_, cartToken := newUser(t, shop)
	call(t, shop, "PUT", fmt.Sprintf("/api/v1/cart/items/%d", mat), cartToken, `{"quantity":1}`)
	expired := card(orders.CardSuccess)
	expired["exp_year"], expired["exp_month"] = time.Now().Year(), int(time.Now().Month())-1
	if time.Now().Month() == time.January {
		expired["exp_year"], expired["exp_month"] = time.Now().Year()-1, 12
	}
	with := func(mutate func(b map[string]any)) map[string]any {
		b := orderBody([]map[string]any{item(skillet, 1)}, orders.CardSuccess)
		mutate(b)
		return b
	}
	tests := map[string]struct {
		token  string
		key    string
		body   any
		status int
		field  string
	}{
		"without a token it is 401":                     {token: "-", body: orderBody(nil, orders.CardSuccess), status: 401},
		"without an Idempotency-Key it is 400":          {key: "-", body: orderBody(nil, orders.CardSuccess), status: 400, field: "Idempotency-Key"},
		"an Idempotency-Key over 200 characters is 400": {key: strings.Repeat("k", 201), body: orderBody(nil, orders.CardSuccess), status: 400, field: "Idempotency-Key"},
		"malformed JSON is 400":                         {body: `{"items":[`, status: 400, field: "body"},
		"an unknown field is 400":                       {body: `{"items":[],"coupon":"FREE"}`, status: 400, field: "coupon"},
		"a quantity that is a string is 400":            {body: `{"items":[{"product_id":1,"quantity":"1"}]}`, status: 400, field: "items.quantity"},
		"a declined card is 402":                        {body: orderBody([]map[string]any{item(skillet, 1)}, orders.CardDeclined), status: 402},
		"insufficient funds are 402":                    {body: orderBody([]map[string]any{item(skillet, 1)}, orders.CardInsufficientFunds), status: 402},
		"a card failing the Luhn check is 422":          {body: orderBody([]map[string]any{item(skillet, 1)}, "4242 4242 4242 4241"), status: 422, field: "payment.card_number"},
		"a card number with letters is 422":             {body: orderBody([]map[string]any{item(skillet, 1)}, "4242-4242-4242-424x"), status: 422, field: "payment.card_number"},
		"an expired card is 422":                        {body: with(func(b map[string]any) { b["payment"] = expired }), status: 422, field: "payment.exp_year"},
		"month 13 is 422":                               {body: with(func(b map[string]any) { b["payment"].(map[string]any)["exp_month"] = 13 }), status: 422, field: "payment.exp_month"},
		"a two-letter CVC is 422":                       {body: with(func(b map[string]any) { b["payment"].(map[string]any)["cvc"] = "12" }), status: 422, field: "payment.cvc"},
		"a missing address is 422":                      {body: with(func(b map[string]any) { delete(b, "shipping_address") }), status: 422, field: "shipping_address.line1"},
		"a lower-case country is 422":                   {body: with(func(b map[string]any) { b["shipping_address"].(map[string]any)["country"] = "gb" }), status: 422, field: "shipping_address.country"},
		"more than the stock is 409":                    {body: orderBody([]map[string]any{item(scarce, 3)}, orders.CardSuccess), status: 409},
		"an unknown product is 422":                     {body: orderBody([]map[string]any{item(987654321, 1)}, orders.CardSuccess), status: 422, field: "items[0].product_id"},
		"the same product twice is 422":                 {body: orderBody([]map[string]any{item(skillet, 1), item(skillet, 2)}, orders.CardSuccess), status: 422, field: "items[1].product_id"},
		"an empty item list is 422":                     {body: orderBody([]map[string]any{}, orders.CardSuccess), status: 422, field: "items"},
		"a quantity of 0 is 422":                        {body: orderBody([]map[string]any{item(skillet, 0)}, orders.CardSuccess), status: 422, field: "items[0].quantity"},
		"a declined order of the cart is 402":           {token: cartToken, body: orderBody(nil, orders.CardDeclined), status: 402},
	}
	stocks := func() [3]int64 {
		return [3]int64{stockOf(t, shop, skillet), stockOf(t, shop, mat), stockOf(t, shop, scarce)}
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			tok, key := token, newKey()
			switch tt.token {
			case "-":
				tok = ""
			case "":
			default:
				tok = tt.token
			}
			var headers []string
			if tt.key != "-" {
				if tt.key != "" {
					key = tt.key
				}
				headers = []string{"Idempotency-Key", key}
			}
			ordersBefore, stockBefore := queryInt(t, shop.DatabaseURL, `SELECT count(*) FROM orders`), stocks()
			resp, body := call(t, shop, "POST", "/api/v1/orders", tok, tt.body, headers...)
			expectProblem(t, resp, body, tt.status, tt.field)
			if n := queryInt(t, shop.DatabaseURL, `SELECT count(*) FROM orders`); n != ordersBefore {
				t.Errorf("%d orders after a refused checkout, %d before", n, ordersBefore)
			}
			if got := stocks(); got != stockBefore {
				t.Errorf("stock %v after a refused checkout, %v before", got, stockBefore)
			}
		})
	}
	t.Run("a declined order of the cart keeps the cart", func(t *testing.T) {
		_, body := call(t, shop, "GET", "/api/v1/cart", cartToken, nil)
		if c := decode[cart.Cart](t, body); len(c.Items) != 1 {
			t.Errorf("cart = %+v", c)
		}
	})
	t.Run("a declined key can be used again with another card", func(t *testing.T) {
		key := newKey()
		resp, _ := call(t, shop, "POST", "/api/v1/orders", token, orderBody([]map[string]any{item(mat, 1)}, orders.CardDeclined), "Idempotency-Key", key)
		if resp.StatusCode != 402 {
			t.Fatalf("status %d", resp.StatusCode)
		}
		if resp, body := call(t, shop, "POST", "/api/v1/orders", token, orderBody([]map[string]any{item(mat, 1)}, orders.CardSuccess), "Idempotency-Key", key); resp.StatusCode != 201 {
			t.Errorf("status %d: %s", resp.StatusCode, body)
		}
	})
	t.Run("orders, declines and revenue are in the metrics", func(t *testing.T) {
		text := shop.Metrics(t)
		for _, want := range []string{`shop_orders_placed_total{currency="EUR"}`, `shop_orders_declined_total 4`, `shop_revenue_minor_total{currency="EUR"}`} {
			if !strings.Contains(text, want) {
				t.Errorf("metrics lack %s", want)
			}
		}
		revenue := queryInt(t, shop.DatabaseURL, `SELECT sum(total_minor) FROM orders`)
		if !strings.Contains(text, fmt.Sprintf(`shop_revenue_minor_total{currency="EUR"} %d`, revenue)) {
			t.Errorf("revenue metric is not %d", revenue)
		}
	})
}

func TestCheckoutWithoutAPaymentProvider(t *testing.T) {
	shop := shoptest.Start(t, shoptest.Options{Demo: true, Config: func(c *config.Config) { c.PaymentProvider = "" }})
	_, token := newUser(t, shop)
	skillet := productID(t, shop, "cast-iron-skillet-26-cm")
	before := stockOf(t, shop, skillet)
	resp, body := call(t, shop, "POST", "/api/v1/orders", token, orderBody([]map[string]any{item(skillet, 1)}, "4242424242424242"), "Idempotency-Key", newKey())
	expectProblem(t, resp, body, 503, "")
	if !strings.Contains(string(body), "payments-unavailable") || !strings.Contains(string(body), "PAYMENT_PROVIDER") {
		t.Errorf("the problem does not say why: %s", body)
	}
	if n := queryInt(t, shop.DatabaseURL, `SELECT count(*) FROM orders`); n != 0 {
		t.Errorf("%d orders written", n)
	}
	if got := stockOf(t, shop, skillet); got != before {
		t.Errorf("stock %d, want %d", got, before)
	}
}

func TestOrdersAreTheirOwners(t *testing.T) {
	shop := shoptest.Start(t, shoptest.Options{Demo: true})
	_, alice := newUser(t, shop)
	_, bob := newUser(t, shop)
	mat := productID(t, shop, "cork-yoga-mat")
	a1 := placeOrder(t, shop, alice, []map[string]any{item(mat, 1)})
	a2 := placeOrder(t, shop, alice, []map[string]any{item(mat, 2)})
	b1 := placeOrder(t, shop, bob, []map[string]any{item(mat, 1)})

	tests := map[string]struct {
		token, path string
		status      int
		field       string
		check       func(t *testing.T, body []byte)
	}{
		"a user lists their own orders, newest first": {token: alice, path: "/api/v1/orders", status: 200, check: func(t *testing.T, body []byte) {
			p := decode[orders.Page](t, body)
			if p.Total != 2 || len(p.Items) != 2 || p.Items[0].ID != a2.ID || p.Items[1].ID != a1.ID || p.Page != 1 || p.PerPage != 20 || len(p.Items[0].Items) != 1 {
				t.Errorf("page = %+v", p)
			}
		}},
		"pages split the list": {token: alice, path: "/api/v1/orders?per_page=1&page=2", status: 200, check: func(t *testing.T, body []byte) {
			if p := decode[orders.Page](t, body); p.Total != 2 || len(p.Items) != 1 || p.Items[0].ID != a1.ID {
				t.Errorf("page = %+v", p)
			}
		}},
		"a user reads their own order":            {token: alice, path: fmt.Sprintf("/api/v1/orders/%d", a1.ID), status: 200},
		"another user's order is 404":             {token: alice, path: fmt.Sprintf("/api/v1/orders/%d", b1.ID), status: 404},
		"a missing order is 404":                  {token: alice, path: "/api/v1/orders/987654321", status: 404},
		"an order id that is not a number is 404": {token: alice, path: "/api/v1/orders/latest", status: 404},
		"per_page 101 is 400":                     {token: alice, path: "/api/v1/orders?per_page=101", status: 400, field: "per_page"},
		"page 0 is 400":                           {token: alice, path: "/api/v1/orders?page=0", status: 400, field: "page"},
		"an anonymous list is 401":                {path: "/api/v1/orders", status: 401},
		"an anonymous read is 401":                {path: fmt.Sprintf("/api/v1/orders/%d", a1.ID), status: 401},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			resp, body := call(t, shop, "GET", tt.path, tt.token, nil)
			if tt.status != 200 {
				expectProblem(t, resp, body, tt.status, tt.field)
				return
			}
			if resp.StatusCode != 200 {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			if resp.Header.Get("Cache-Control") != "no-store" {
				t.Errorf("Cache-Control = %q", resp.Header.Get("Cache-Control"))
			}
			if tt.check != nil {
				tt.check(t, body)
			}
		})
	}
	t.Run("bob's list holds only bob's order", func(t *testing.T) {
		_, body := call(t, shop, "GET", "/api/v1/orders", bob, nil)
		if p := decode[orders.Page](t, body); p.Total != 1 || p.Items[0].ID != b1.ID {
			t.Errorf("page = %+v", p)
		}
	})
	if resp, _ := call(t, shop, "GET", "/api/v1/orders", "", nil); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("anonymous: %d", resp.StatusCode)
	}
}

// TestOrdersRefreshCachedStock: product pages are cached, and an order changes the
// stock they show; every replica shows the new stock within about a second.
func TestOrdersRefreshCachedStock(t *testing.T) {
	redisURL := testenv.RedisURL(t)
	a := shoptest.Start(t, shoptest.Options{Demo: true, RedisURL: redisURL})
	b := shoptest.Start(t, shoptest.Options{DatabaseURL: a.DatabaseURL, RedisURL: redisURL})
	_, token := newUser(t, a)
	id := productID(t, a, "cork-yoga-mat")
	stockOn := func(s *shoptest.Shop) (int, string) {
		resp, body := s.Get(t, "/api/v1/products/cork-yoga-mat")
		return decode[catalog.Product](t, body).Stock, resp.Header.Get("X-Cache")
	}
	before, _ := stockOn(a)
	if _, cache := stockOn(b); cache != "hit" {
		t.Fatalf("b's read is not cached: X-Cache %s", cache)
	}
	for i := 0; i < 3; i++ { // a burst: the last order's stock must show too
		placeOrder(t, a, token, []map[string]any{item(id, 1)})
	}
	for name, s := range map[string]*shoptest.Shop{"a": a, "b": b} {
		eventually(t, 5*time.Second, name+" shows the stock after the orders", func() bool {
			st, _ := stockOn(s)
			return st == before-3
		})
	}
}
