package api_test

import (
	"fmt"
	"net/url"
	"testing"

	"github.com/storefront-operator/storefront/shop/auth"
	"github.com/storefront-operator/storefront/shop/catalog"
	"github.com/storefront-operator/storefront/shop/orders"
	"github.com/storefront-operator/storefront/test/shoptest"
)

// TestSQLMetacharactersAreData sends quotes, comment markers, statement separators, LIKE
// wildcards, backslashes and placeholders in every string field the part-2 API stores,
// and expects each back exactly as sent, with every table still there.
func TestSQLMetacharactersAreData(t *testing.T) {
	shop := shoptest.Start(t, shoptest.Options{Demo: true})
	const evil = `Robert'); DROP TABLE users; -- "x" \ %_ $1 ::text /* */ ' OR '1'='1`
	const short = `'; --%_\"$1` // for fields with short limits

	email := "o'reilly+%_$1@example.com"
	resp, body := call(t, shop, "POST", "/api/v1/auth/register", "", map[string]string{"email": email, "password": evil, "name": evil})
	if resp.StatusCode != 201 {
		t.Fatalf("register: %d %s", resp.StatusCode, body)
	}
	s := decode[auth.Session](t, body)
	if s.User.Name != evil || s.User.Email != email {
		t.Errorf("registered %+v", s.User)
	}
	resp, body = call(t, shop, "POST", "/api/v1/auth/login", "", map[string]string{"email": email, "password": evil})
	if resp.StatusCode != 200 {
		t.Fatalf("login with the same characters in the password: %d %s", resp.StatusCode, body)
	}
	if resp, _ := call(t, shop, "POST", "/api/v1/auth/login", "", map[string]string{"email": "x' OR '1'='1@example.com", "password": "' OR '1'='1"}); resp.StatusCode != 401 {
		t.Errorf("an injection attempt at login: %d", resp.StatusCode)
	}
	if _, body := call(t, shop, "GET", "/api/v1/auth/me", s.Token, nil); decode[auth.User](t, body).Name != evil {
		t.Errorf("me: %s", body)
	}

	_, admin := newAdmin(t, shop)
	resp, body = call(t, shop, "POST", "/api/v1/admin/categories", admin, map[string]string{"slug": "odd-things", "name": evil, "description": evil + "\nsecond line"})
	if resp.StatusCode != 201 {
		t.Fatalf("category: %d %s", resp.StatusCode, body)
	}
	if c := decode[catalog.Category](t, body); c.Name != evil || c.Description != evil+"\nsecond line" {
		t.Errorf("category %+v", c)
	}
	product := productInput("odd-thing")
	product["name"], product["description"], product["category"] = evil, evil, "odd-things"
	product["image_url"] = "/static/img/it's_%25_x.svg"
	product["attributes"] = map[string]any{evil: evil}
	resp, body = call(t, shop, "POST", "/api/v1/admin/products", admin, product)
	if resp.StatusCode != 201 {
		t.Fatalf("product: %d %s", resp.StatusCode, body)
	}
	p := decode[catalog.Product](t, body)
	if p.Name != evil || p.Description != evil || p.ImageURL != "/static/img/it's_%25_x.svg" || p.Attributes[evil] != evil || p.Category.Name != evil {
		t.Errorf("product %+v", p)
	}
	_, body = shop.Get(t, "/api/v1/search?q="+url.QueryEscape("Robert DROP"))
	if sr := decode[catalog.ProductPage](t, body); sr.Total < 1 {
		t.Errorf("search does not find the product: %s", body)
	}

	b := orderBody([]map[string]any{item(p.ID, 1)}, orders.CardSuccess)
	b["shipping_address"] = map[string]any{"name": evil, "line1": evil, "city": evil, "postal_code": short, "country": "FR"}
	key := `';DROP_TABLE_orders;--"%_\$1`
	resp, body = call(t, shop, "POST", "/api/v1/orders", s.Token, b, "Idempotency-Key", key)
	if resp.StatusCode != 201 {
		t.Fatalf("order: %d %s", resp.StatusCode, body)
	}
	o := decode[orders.Order](t, body)
	want := orders.Address{Name: evil, Line1: evil, City: evil, PostalCode: short, Country: "FR"}
	if o.ShippingAddress != want || o.Items[0].Name != evil || o.Email != email {
		t.Errorf("order %+v", o)
	}
	if resp, body := call(t, shop, "POST", "/api/v1/orders", s.Token, b, "Idempotency-Key", key); resp.StatusCode != 200 || decode[orders.Order](t, body).ID != o.ID {
		t.Errorf("replay with the same key: %d %s", resp.StatusCode, body)
	}
	_, body = call(t, shop, "GET", "/api/v1/admin/orders?email="+url.QueryEscape(email), admin, nil)
	if page := decode[orders.Page](t, body); page.Total != 1 || page.Items[0].ID != o.ID || page.Items[0].ShippingAddress != want {
		t.Errorf("admin list by email: %s", body)
	}
	_, body = call(t, shop, "GET", "/api/v1/admin/orders?email="+url.QueryEscape("' OR '1'='1"), admin, nil)
	if page := decode[orders.Page](t, body); page.Total != 0 {
		t.Errorf("an injection attempt in the email filter listed %d orders", page.Total)
	}

	for _, table := range []string{"users", "orders", "order_lines", "products", "categories", "cart_items", "revoked_tokens"} {
		if n := queryInt(t, shop.DatabaseURL, fmt.Sprintf(`SELECT count(*) FROM %s`, table)); n < 0 {
			t.Errorf("%s: %d rows", table, n)
		}
	}
	if n := queryInt(t, shop.DatabaseURL, `SELECT count(*) FROM users`); n != 2 {
		t.Errorf("%d users, want 2", n)
	}
}
