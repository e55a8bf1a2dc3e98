package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/storefront-operator/storefront/shop/web"
	"github.com/storefront-operator/storefront/test/shoptest"
)

// TestSharedProductPage pins what makes pages CDN-safe (docs/architecture.md#product-images):
// a visitor without the shop's cookies gets a page with no cookie and no token, public
// for shared caches (s-maxage); anything a cookie shaped is private; and the shared
// product page's add-to-cart form works on the browser's same-origin proof alone.
func TestSharedProductPage(t *testing.T) {
	shop := shoptest.Start(t, shoptest.Options{Demo: true})
	apron := productID(t, shop, "linen-apron")
	form := url.Values{"product_id": {apron}, "quantity": {"1"}}

	anon := newVisitor(t, shop)
	p := anon.get("/products/linen-apron")
	expectStatus(t, p, 200)
	if p.Header.Get("Cache-Control") != web.SharedCacheControl || web.SharedCacheControl != "public, max-age=0, s-maxage=60" {
		t.Errorf("Cache-Control %q", p.Header.Get("Cache-Control"))
	}
	if len(p.Header.Values("Set-Cookie")) != 0 || strings.Contains(p.Body, `name="csrf_token"`) || !strings.Contains(p.Body, `action="/cart/items"`) {
		t.Fatalf("the shared page sets %v and has a token: %v", p.Header.Values("Set-Cookie"), strings.Contains(p.Body, "csrf_token"))
	}

	t.Run("a cookie-less add without the browser's same-origin proof is refused", func(t *testing.T) {
		for name, headers := range map[string][]string{
			"no proof":              nil,
			"cross-site":            {"Sec-Fetch-Site", "cross-site"},
			"same-site, not origin": {"Sec-Fetch-Site", "same-site"},
			"another origin":        {"Origin", "https://evil.example"},
			"an opaque origin":      {"Origin", "null"},
		} {
			v := newVisitor(t, shop)
			p := v.post("/cart/items", form, headers...)
			if p.StatusCode != http.StatusForbidden || v.cookie(web.CartCookie) != nil {
				t.Errorf("%s: status %d, cart cookie %v", name, p.StatusCode, v.cookie(web.CartCookie))
			}
		}
	})

	t.Run("a cookie-less add from this origin starts the cart", func(t *testing.T) {
		for name, headers := range map[string][]string{
			"Sec-Fetch-Site": {"Sec-Fetch-Site", "same-origin"},
			"Origin":         {"Origin", shop.URL},
		} {
			v := newVisitor(t, shop)
			p := v.post("/cart/items", form, headers...)
			expectStatus(t, p, http.StatusSeeOther)
			if p.Header.Get("Location") != "/cart?added=linen-apron" || v.cookie(web.CartCookie) == nil {
				t.Fatalf("%s: Location %q, cart cookie %v", name, p.Header.Get("Location"), v.cookie(web.CartCookie))
			}
			// Now the browser has a cart: its pages are private and its forms need the token.
			again := v.get("/products/linen-apron")
			if again.Header.Get("Cache-Control") != "private, no-cache" || !strings.Contains(again.Body, `name="csrf_token"`) {
				t.Errorf("%s: with a cart, Cache-Control %q", name, again.Header.Get("Cache-Control"))
			}
			expectStatus(t, v.post("/cart/items", form, headers...), http.StatusForbidden)
			expectStatus(t, v.post("/cart/items", url.Values{"product_id": {apron}, "quantity": {"1"}, "csrf_token": {csrf(t, again)}}, headers...), http.StatusSeeOther)
		}
	})
}
