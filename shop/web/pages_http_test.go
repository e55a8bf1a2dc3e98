package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/storefront-operator/storefront/shop/app"
	"github.com/storefront-operator/storefront/shop/cart"
	"github.com/storefront-operator/storefront/shop/platform/config"
	"github.com/storefront-operator/storefront/shop/web"
	"github.com/storefront-operator/storefront/test/shoptest"
	"github.com/storefront-operator/storefront/test/testenv"
)

func TestCatalogPages(t *testing.T) {
	shop := shoptest.Start(t, shoptest.Options{Demo: true})
	id := productID(t, shop, "aria-wireless-noise-cancelling-headphones")
	tests := map[string]struct {
		path   string
		status int
		want   []string
		absent []string
	}{
		"the home page shows featured products and the categories": {
			path: "/", status: 200,
			want: []string{"<h1", "Featured products", "Shop by category", `href="/categories/coffee-tea"`, "Coffee &amp; Tea", "€", "/static/img/categories/"},
		},
		"all products, first page": {
			path: "/products", status: 200,
			want: []string{"<h1>All products</h1>", "Showing 1–12 of 64 products", `aria-label="Pagination"`, `href="/products?page=2"`, `aria-current="page"`},
		},
		"a category page lists only its products": {
			path: "/categories/audio", status: 200,
			want:   []string{"<h1>Audio</h1>", "Headphones, speakers and turntables", "Aria Wireless Noise-Cancelling Headphones", "Showing 1–8 of 8 products", `href="/categories/audio" aria-current="page"`},
			absent: []string{"Cast Iron Skillet", `aria-label="Pagination"`},
		},
		"a category sorted by price, cheapest first": {
			path: "/categories/audio?sort=price_asc", status: 200,
			want: []string{`<option value="price_asc" selected>`},
		},
		"a price range in major units filters": {
			path: "/products?min_price=100&max_price=130", status: 200,
			want:   []string{"Pulse True Wireless Earbuds", "€129.00", `value="100"`, `value="130"`},
			absent: []string{"Fold Kids", "€39.00"},
		},
		"a category and a price range together": {
			path: "/products?category=kitchen&max_price=30&sort=price_desc", status: 200,
			want:   []string{"Digital Kitchen Scale", `<option value="kitchen" selected>`},
			absent: []string{"Stand Mixer"},
		},
		"a price that is not an amount is reported next to its field": {
			path: "/products?min_price=cheap", status: 400,
			want: []string{`aria-invalid="true" aria-describedby="min-price-error"`, `id="min-price-error"`, "Enter a price such as 19.99.", "Showing 1–12 of 64"},
		},
		"a maximum below the minimum is reported": {
			path: "/products?min_price=50&max_price=10", status: 400,
			want: []string{`id="max-price-error"`, "must not be below the lowest"},
		},
		"an unknown sort is reported and the default used": {
			path: "/products?sort=cheapest", status: 400,
			want: []string{`id="sort-error"`, "Choose a sort order"},
		},
		"a page past the end says so": {
			path: "/products?page=9", status: 200,
			want: []string{"No products on this page", `href="/products"`},
		},
		"an out-of-range page shows the first": {
			path: "/products?page=0", status: 200,
			want: []string{"Showing 1–12 of 64"},
		},
		"the second page": {
			path: "/products?page=2", status: 200,
			want: []string{"Showing 13–24 of 64", `rel="prev"`, `href="/products?page=2" aria-current="page"`},
		},
		"a search finds by name and shows facets": {
			path: "/search?q=espresso", status: 200,
			want: []string{"Results for “espresso”", "Espresso Machine with Steam Wand", "Matches by category", `value="espresso"`, `<option value="relevance" selected>`},
		},
		"a search with a typo falls back to similar names": {
			path: "/search?q=espreso+machne", status: 200,
			want: []string{"Espresso Machine", "similar names"},
		},
		"a search within a category": {
			path: "/search?q=cast+iron&category=coffee-tea", status: 200,
			want:   []string{"Cast Iron Teapot", `href="/search?category=kitchen&amp;q=cast&#43;iron"`},
			absent: []string{"Cast Iron Skillet"},
		},
		"a search for nothing asks for a term": {
			path: "/search?q=", status: 200,
			want: []string{"Type what you are looking for"},
		},
		"a search nothing matches": {
			path: "/search?q=zzzzqqqq", status: 200,
			want: []string{"No products match"},
		},
		"a product page by slug": {
			path: "/products/aria-wireless-noise-cancelling-headphones", status: 200,
			want: []string{"<h1>Aria Wireless Noise-Cancelling Headphones</h1>", "€249.00", "In stock", `action="/cart/items"`, "Battery hours", "Weight (g)", "254", `href="/categories/audio"`},
		},
		"a product page by id": {
			path: "/products/" + id, status: 200,
			want: []string{"Aria Wireless Noise-Cancelling Headphones"},
		},
		"an unknown product is a friendly 404": {
			path: "/products/no-such-thing", status: 404,
			want: []string{"find that page", `href="/products"`, `<html lang="en">`},
		},
		"an unknown category is a 404":    {path: "/categories/no-such-category", status: 404, want: []string{"find that page"}},
		"an unknown path is the HTML 404": {path: "/no/such/page", status: 404, want: []string{"find that page", "Audio"}},
		"search text is escaped, never markup": {
			path: "/search?q=%3Cscript%3Ealert(1)%3C%2Fscript%3E", status: 200,
			want:   []string{"Results for “&lt;script&gt;alert(1)&lt;/script&gt;”"},
			absent: []string{"<script>alert"},
		},
		"the empty cart": {
			path: "/cart", status: 200,
			want: []string{"Your cart is empty"},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			v := newVisitor(t, shop)
			p := v.get(tt.path)
			expectStatus(t, p, tt.status)
			if ct := p.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
				t.Errorf("Content-Type = %q", ct)
			}
			expectContains(t, p, tt.want...)
			for _, a := range tt.absent {
				if strings.Contains(p.Body, a) {
					t.Errorf("page has %q", a)
				}
			}
			checkSecurityHeaders(t, p)
			checkAccessibility(t, p.Body)
		})
	}
}

func checkSecurityHeaders(t *testing.T, p page) {
	t.Helper()
	csp := p.Header.Get("Content-Security-Policy")
	if csp != web.ContentSecurityPolicy || strings.Contains(csp, "unsafe-inline") {
		t.Errorf("CSP = %q", csp)
	}
	if p.Header.Get("Referrer-Policy") != "strict-origin-when-cross-origin" || p.Header.Get("X-Content-Type-Options") != "nosniff" || p.Header.Get("X-Frame-Options") != "DENY" {
		t.Errorf("security headers: %v", p.Header)
	}
	// No inline script or style anywhere: the CSP would block it.
	for _, re := range []*regexp.Regexp{regexp.MustCompile(`<script(?:\s[^>]*)?>[^<]`), regexp.MustCompile(`\sstyle=`), regexp.MustCompile(`<style`), regexp.MustCompile(`\son[a-z]+=`)} {
		if loc := re.FindStringIndex(p.Body); loc != nil {
			t.Errorf("inline script or style: %q", p.Body[loc[0]:min(len(p.Body), loc[1]+40)])
		}
	}
}

func productID(t *testing.T, shop *shoptest.Shop, slug string) string {
	t.Helper()
	var id string
	err := queryRow(t, shop, `SELECT id::text FROM products WHERE slug = $1`, slug).Scan(&id)
	if err != nil {
		t.Fatalf("product %s: %v", slug, err)
	}
	return id
}

func queryRow(t *testing.T, shop *shoptest.Shop, sql string, args ...any) pgx.Row {
	t.Helper()
	return shop.App.DB.QueryRow(context.Background(), sql, args...)
}

func TestUnknownPathsAndMethods(t *testing.T) {
	shop := shoptest.Start(t, shoptest.Options{})
	v := newVisitor(t, shop)
	tests := map[string]struct {
		method, path string
		status       int
		contentType  string
	}{
		"an unknown API path stays problem details":       {"GET", "/api/v1/nothing", 404, "application/problem+json"},
		"a wrong method on the API stays problem details": {"DELETE", "/api/v1/categories", 405, "application/problem+json"},
		"an unknown page is HTML":                         {"GET", "/nothing", 404, "text/html; charset=utf-8"},
		"a wrong method on a page is HTML":                {"DELETE", "/cart", 405, "text/html; charset=utf-8"},
		"a GET of a form's target is a 405 page":          {"GET", "/cart/items", 405, "text/html; charset=utf-8"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, shop.URL+tt.path, nil)
			p := v.do(req)
			expectStatus(t, p, tt.status)
			if ct := p.Header.Get("Content-Type"); ct != tt.contentType {
				t.Errorf("Content-Type %q, want %q", ct, tt.contentType)
			}
			isPage := strings.HasPrefix(tt.contentType, "text/html")
			if (p.Header.Get("Content-Security-Policy") == web.ContentSecurityPolicy) != isPage {
				t.Errorf("CSP %q", p.Header.Get("Content-Security-Policy"))
			}
			if isPage {
				checkAccessibility(t, p.Body)
			}
		})
	}

	t.Run("HEAD of a static file", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodHead, shop.URL+"/static/img/placeholder.svg", nil)
		p := v.do(req)
		expectStatus(t, p, 200)
		if p.Header.Get("ETag") == "" || p.Body != "" {
			t.Errorf("ETag %q, body %d bytes", p.Header.Get("ETag"), len(p.Body))
		}
	})
}

func TestStaticAssets(t *testing.T) {
	shop := shoptest.Start(t, shoptest.Options{Demo: true})
	v := newVisitor(t, shop)
	home := v.get("/")
	refs := regexp.MustCompile(`(?:href|src)="(/static/[^"]+)"`).FindAllStringSubmatch(home.Body, -1)
	fingerprinted := regexp.MustCompile(`^/static/(app|favicon)\.[0-9a-f]{10}\.(css|js|svg)$`)
	seen := map[string]bool{}
	for _, r := range refs {
		seen[r[1]] = true
	}
	var n int
	for ref := range seen {
		if !fingerprinted.MatchString(ref) {
			continue
		}
		n++
		p := v.get(ref)
		expectStatus(t, p, 200)
		if cc := p.Header.Get("Cache-Control"); cc != "public, max-age=31536000, immutable" {
			t.Errorf("%s: Cache-Control %q", ref, cc)
		}
		if p.Header.Get("ETag") == "" || len(p.Body) < 100 {
			t.Errorf("%s: ETag %q, %d bytes", ref, p.Header.Get("ETag"), len(p.Body))
		}
		if strings.HasSuffix(ref, ".css") && p.Header.Get("Content-Type") != "text/css; charset=utf-8" {
			t.Errorf("%s: Content-Type %q", ref, p.Header.Get("Content-Type"))
		}
		if again := v.get(ref, "If-None-Match", p.Header.Get("ETag")); again.StatusCode != 304 {
			t.Errorf("%s with its ETag: status %d, want 304", ref, again.StatusCode)
		}
	}
	if n != 3 {
		t.Errorf("the home page links %d fingerprinted files, want 3 (css, js, favicon): %v", n, seen)
	}

	t.Run("every product image of the demo catalog resolves", func(t *testing.T) {
		rows, err := shop.App.DB.Query(context.Background(), `SELECT DISTINCT image_url FROM products`)
		if err != nil {
			t.Fatal(err)
		}
		urls, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		if len(urls) < 8 {
			t.Fatalf("only %d distinct image URLs", len(urls))
		}
		for _, u := range urls {
			p := v.get(u)
			expectStatus(t, p, 200)
			if p.Header.Get("Content-Type") != "image/svg+xml" || !strings.Contains(p.Body, "<svg") {
				t.Errorf("%s: %s, %.60s", u, p.Header.Get("Content-Type"), p.Body)
			}
			if p.Header.Get("Cache-Control") != "public, max-age=86400" {
				t.Errorf("%s: Cache-Control %q", u, p.Header.Get("Cache-Control"))
			}
		}
	})

	t.Run("an unknown static file is 404", func(t *testing.T) {
		for _, path := range []string{"/static/app.css", "/static/app.0000000000.css", "/static/img/../app.css", "/static/img/categories/none.svg"} {
			if p := v.get(path); p.StatusCode != 404 {
				t.Errorf("%s: status %d", path, p.StatusCode)
			}
		}
	})
}

func TestConditionalGet(t *testing.T) {
	shop := shoptest.Start(t, shoptest.Options{Demo: true})
	v := newVisitor(t, shop)
	for _, path := range []string{"/", "/products?page=2", "/categories/books", "/search?q=coffee", "/products/linen-apron"} {
		t.Run(path, func(t *testing.T) {
			p := v.get(path)
			expectStatus(t, p, 200)
			etag := p.Header.Get("ETag")
			if etag == "" || p.Header.Get("Cache-Control") != web.SharedCacheControl || !strings.Contains(p.Header.Get("Vary"), "Cookie") {
				t.Fatalf("ETag %q, Cache-Control %q, Vary %q", etag, p.Header.Get("Cache-Control"), p.Header.Get("Vary"))
			}
			again := v.get(path, "If-None-Match", etag)
			expectStatus(t, again, 304)
			if again.Body != "" {
				t.Errorf("304 with a body of %d bytes", len(again.Body))
			}
			if other := v.get(path, "If-None-Match", `"something-else"`); other.StatusCode != 200 {
				t.Errorf("another ETag: status %d", other.StatusCode)
			}
		})
	}

	t.Run("pages for visitors without cookies set none and may be shared", func(t *testing.T) {
		fresh := newVisitor(t, shop)
		for _, path := range []string{"/", "/products", "/search?q=tea", "/products/linen-apron", "/categories/books"} {
			if p := fresh.get(path); len(p.Header.Values("Set-Cookie")) != 0 || p.Header.Get("Cache-Control") != "public, max-age=0, s-maxage=60" {
				t.Errorf("%s: Set-Cookie %v, Cache-Control %q", path, p.Header.Values("Set-Cookie"), p.Header.Get("Cache-Control"))
			}
		}
	})

	t.Run("a page shaped by the request's cookies is private", func(t *testing.T) {
		guest := newVisitor(t, shop)
		expectStatus(t, guest.get("/login"), 200) // sets the CSRF cookie
		for _, path := range []string{"/", "/products", "/search?q=tea", "/products/linen-apron"} {
			p := guest.get(path)
			if len(p.Header.Values("Set-Cookie")) != 0 {
				t.Errorf("%s set a cookie again", path)
			}
			if cc := p.Header.Get("Cache-Control"); cc != "private, no-cache" {
				t.Errorf("%s with the guest's cookie: Cache-Control %q", path, cc)
			}
		}
	})

	t.Run("a catalog change shows at once", func(t *testing.T) {
		p := v.get("/categories/books")
		if _, err := shop.App.DB.Exec(context.Background(), `UPDATE products SET name = 'The Lighthouse Keeper''s Son' WHERE slug = 'the-lighthouse-keeper-s-daughter'`); err != nil {
			t.Fatal(err)
		}
		if err := shop.App.Invalidate(context.Background()); err != nil {
			t.Fatal(err)
		}
		again := v.get("/categories/books", "If-None-Match", p.Header.Get("ETag"))
		expectStatus(t, again, 200)
		expectContains(t, again, "The Lighthouse Keeper&#39;s Son")
	})

	t.Run("error pages are never stored", func(t *testing.T) {
		p := v.get("/products/nothing-here")
		if p.Header.Get("ETag") != "" || p.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("404: ETag %q, Cache-Control %q", p.Header.Get("ETag"), p.Header.Get("Cache-Control"))
		}
	})
}

func TestHostPrefixedCookiesWithAnHTTPSPublicURL(t *testing.T) {
	shop := shoptest.Start(t, shoptest.Options{Demo: true, Config: func(c *config.Config) {
		c.PublicURL = "https://shop.example.com"
		c.PasswordCost = 4
	}})
	v := newVisitor(t, shop)
	// Plain HTTP here, as between an ALB that ends TLS and the pod: the cookies are
	// Secure anyway, since shoppers reach the shop over https.
	p := v.get("/login")
	expectStatus(t, p, 200)
	cookies := p.Cookies()
	if len(cookies) != 1 || cookies[0].Name != web.HostPrefix+web.CSRFCookie {
		t.Fatalf("cookies = %v, want %s%s", cookies, web.HostPrefix, web.CSRFCookie)
	}
	if c := cookies[0]; !c.Secure || c.Path != "/" || c.Domain != "" || !c.HttpOnly {
		t.Errorf("cookie %s: Secure %v, Path %q, Domain %q, HttpOnly %v", c.Name, c.Secure, c.Path, c.Domain, c.HttpOnly)
	}
	// The whole flow works with the prefixed names: registering sets the session cookie
	// under its prefixed name, and the next page knows the shopper.
	form := v.get("/register")
	reg := v.post("/register", url.Values{"name": {"Host Prefix"}, "email": {"host-prefix@example.com"}, "password": {"correct-horse-battery"},
		"csrf_token": {csrf(t, form)}}, "Cookie", web.HostPrefix+web.CSRFCookie+"="+cookies[0].Value)
	expectStatus(t, reg, http.StatusSeeOther)
	var session *http.Cookie
	for _, c := range reg.Cookies() {
		if c.Name == web.HostPrefix+web.SessionCookie {
			session = c
		}
		if c.Name == web.SessionCookie {
			t.Errorf("a session cookie without the prefix was set")
		}
	}
	if session == nil || !session.Secure {
		t.Fatalf("no Secure %s%s cookie: %v", web.HostPrefix, web.SessionCookie, reg.Cookies())
	}
	acct := v.get("/account", "Cookie", web.HostPrefix+web.SessionCookie+"="+session.Value)
	expectStatus(t, acct, 200)
	expectContains(t, acct, "Host Prefix")
}

func TestHSTSAndSecureCookiesBehindTLS(t *testing.T) {
	shop := shoptest.Start(t, shoptest.Options{Demo: true})
	tests := map[string]struct {
		proto  string
		secure bool
	}{
		"plain HTTP gets no HSTS and plain cookies":               {proto: ""},
		"HTTPS at the load balancer gets HSTS and Secure cookies": {proto: "https", secure: true},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			v := newVisitor(t, shop)
			p := v.get("/login", "X-Forwarded-Proto", tt.proto)
			expectStatus(t, p, 200)
			if got := p.Header.Get("Strict-Transport-Security"); (got == web.HSTS) != tt.secure || (got == "") == tt.secure {
				t.Errorf("Strict-Transport-Security = %q", got)
			}
			cookies := p.Cookies()
			if len(cookies) != 1 || cookies[0].Name != web.CSRFCookie {
				t.Fatalf("cookies = %v, want the CSRF cookie", cookies)
			}
			c := cookies[0]
			if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Secure != tt.secure || c.Path != "/" {
				t.Errorf("cookie %s: HttpOnly %v, SameSite %v, Secure %v, Path %q", c.Name, c.HttpOnly, c.SameSite, c.Secure, c.Path)
			}
			// Never shared: the login page is no-store, any other page setting a cookie private.
			if cc := p.Header.Get("Cache-Control"); cc != "private, no-cache" && cc != "no-store" {
				t.Errorf("a page setting a cookie has Cache-Control %q", cc)
			}
		})
	}
}

func TestGuestCart(t *testing.T) {
	shop := shoptest.Start(t, shoptest.Options{Demo: true})
	apron := productID(t, shop, "linen-apron")     // €34.00, stock 40
	mixer := productID(t, shop, "stand-mixer-5-l") // €349.00, stock 8
	v := newVisitor(t, shop)
	token := formToken(t, v, "/products/linen-apron")

	t.Run("adding refuses requests without a valid CSRF token", func(t *testing.T) {
		for name, form := range map[string]url.Values{
			"no token":      {"product_id": {apron}, "quantity": {"1"}},
			"a wrong token": {"product_id": {apron}, "quantity": {"1"}, "csrf_token": {"AAAA" + token[4:]}},
			"another browser's token": {"product_id": {apron}, "quantity": {"1"},
				"csrf_token": {formToken(t, newVisitor(t, shop), "/products/linen-apron")}},
		} {
			p := v.post("/cart/items", form)
			if p.StatusCode != 403 || !strings.Contains(p.Body, "This form has expired") {
				t.Errorf("%s: status %d", name, p.StatusCode)
			}
		}
		other := newVisitor(t, shop)
		p := other.post("/cart/items", url.Values{"product_id": {apron}, "quantity": {"1"}, "csrf_token": {token}})
		expectStatus(t, p, 403)
		if v.cookie(web.CartCookie) != nil {
			t.Error("a refused request changed the cart")
		}
	})

	t.Run("a cross-site form post is refused even with a token", func(t *testing.T) {
		p := v.post("/cart/items", url.Values{"product_id": {apron}, "quantity": {"1"}, "csrf_token": {token}}, "Sec-Fetch-Site", "cross-site")
		expectStatus(t, p, 403)
	})

	t.Run("adding starts a guest cart under a signed id cookie and goes to the cart", func(t *testing.T) {
		p := v.post("/cart/items", url.Values{"product_id": {apron}, "quantity": {"2"}, "csrf_token": {token}})
		expectStatus(t, p, http.StatusSeeOther)
		if loc := p.Header.Get("Location"); loc != "/cart?added=linen-apron" {
			t.Errorf("Location = %q", loc)
		}
		var ck *http.Cookie
		for _, c := range p.Cookies() {
			if c.Name == web.CartCookie {
				ck = c
			}
		}
		if ck == nil || !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.MaxAge != int(cart.GuestTTL/time.Second) {
			t.Fatalf("cart cookie = %+v", ck)
		}
		if n := count(t, shop, `SELECT count(*) FROM guest_cart_items WHERE product_id = $1 AND quantity = 2`, apron); n != 1 {
			t.Errorf("%d guest cart lines stored", n)
		}
		cart := v.get("/cart?added=linen-apron")
		expectStatus(t, cart, 200)
		expectContains(t, cart, "Added Linen Apron to your cart", `value="2"`, "€68.00", `<span class="badge">2</span>`)
		if cart.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("the cart has Cache-Control %q", cart.Header.Get("Cache-Control"))
		}
		checkAccessibility(t, cart.Body)
	})

	t.Run("adding more than the stock is refused next to the quantity", func(t *testing.T) {
		p := v.post("/cart/items", url.Values{"product_id": {mixer}, "quantity": {"9"}, "csrf_token": {token}})
		expectStatus(t, p, http.StatusUnprocessableEntity)
		expectContains(t, p, `aria-describedby="quantity-error"`, `id="quantity-error"`, "Only 8 left", `value="9"`)
		checkAccessibility(t, p.Body)
	})

	t.Run("a quantity that is not a number is refused", func(t *testing.T) {
		p := v.post("/cart/items", url.Values{"product_id": {mixer}, "quantity": {"lots"}, "csrf_token": {token}})
		expectStatus(t, p, http.StatusUnprocessableEntity)
		expectContains(t, p, fmt.Sprintf("Enter a whole number from 1 to %d", web.MaxLineQuantity))
	})

	t.Run("adding an unknown product is a 404", func(t *testing.T) {
		expectStatus(t, v.post("/cart/items", url.Values{"product_id": {"999999"}, "quantity": {"1"}, "csrf_token": {token}}), 404)
	})

	t.Run("the cart adds up current prices", func(t *testing.T) {
		expectStatus(t, v.post("/cart/items", url.Values{"product_id": {mixer}, "quantity": {"1"}, "csrf_token": {token}}), http.StatusSeeOther)
		cart := v.get("/cart")
		expectContains(t, cart, "Stand Mixer 5 L", "€349.00", `<span id="cart-total">€417.00</span>`, `href="/checkout"`)
		if _, err := shop.App.DB.Exec(context.Background(), `UPDATE products SET price_minor = 30000 WHERE id = $1`, mixer); err != nil {
			t.Fatal(err)
		}
		expectContains(t, v.get("/cart"), `<span id="cart-total">€368.00</span>`)
	})

	t.Run("changing a quantity", func(t *testing.T) {
		p := v.post("/cart/items/"+apron, url.Values{"quantity": {"3"}, "csrf_token": {token}})
		expectStatus(t, p, http.StatusSeeOther)
		expectContains(t, v.get("/cart"), `<span id="cart-total">€402.00</span>`, `<span class="badge">4</span>`)
	})

	t.Run("a quantity above the stock is refused next to the line", func(t *testing.T) {
		p := v.post("/cart/items/"+mixer, url.Values{"quantity": {"50"}, "csrf_token": {token}})
		expectStatus(t, p, http.StatusUnprocessableEntity)
		expectContains(t, p, `aria-describedby="qty-`+mixer+`-error"`, `id="qty-`+mixer+`-error"`, "Only 8 left", `value="50"`)
		checkAccessibility(t, p.Body)
		if strings.Contains(p.Body, `href="/checkout"`) {
			t.Error("checkout offered with an invalid quantity")
		}
	})

	t.Run("changing a line that is not in the cart is a 404", func(t *testing.T) {
		expectStatus(t, v.post("/cart/items/999999", url.Values{"quantity": {"1"}, "csrf_token": {token}}), 404)
	})

	t.Run("changing a quantity needs the token too", func(t *testing.T) {
		expectStatus(t, v.post("/cart/items/"+apron, url.Values{"quantity": {"9"}}), 403)
		expectStatus(t, v.post("/cart/items/"+apron+"/remove", url.Values{}), 403)
	})

	t.Run("stock sold out since shows on the cart", func(t *testing.T) {
		if _, err := shop.App.DB.Exec(context.Background(), `UPDATE products SET stock = 0 WHERE id = $1`, mixer); err != nil {
			t.Fatal(err)
		}
		cart := v.get("/cart")
		expectContains(t, cart, "This product is out of stock")
		if strings.Contains(cart.Body, `href="/checkout"`) {
			t.Error("checkout offered for an out-of-stock line")
		}
		checkAccessibility(t, cart.Body)
		product := v.get("/products/stand-mixer-5-l")
		expectContains(t, product, "Out of stock", "disabled")
		if strings.Contains(product.Body, `action="/cart/items"`) {
			t.Error("an out-of-stock product offers add to cart")
		}
	})

	t.Run("a quantity of 0 removes the line, and so does remove", func(t *testing.T) {
		expectStatus(t, v.post("/cart/items/"+mixer, url.Values{"quantity": {"0"}, "csrf_token": {token}}), http.StatusSeeOther)
		cart := v.get("/cart")
		if strings.Contains(cart.Body, "Stand Mixer") {
			t.Error("the mixer is still in the cart")
		}
		expectStatus(t, v.post("/cart/items/"+apron+"/remove", url.Values{"csrf_token": {token}}), http.StatusSeeOther)
		expectContains(t, v.get("/cart"), "Your cart is empty")
		if n := count(t, shop, `SELECT count(*) FROM guest_cart_items WHERE product_id IN ($1, $2)`, apron, mixer); n != 0 {
			t.Errorf("%d lines stayed stored", n)
		}
	})

	t.Run("another cart's id under this cookie's signature is an empty cart", func(t *testing.T) {
		other := newVisitor(t, shop)
		tok := formToken(t, other, "/products/linen-apron")
		expectStatus(t, other.post("/cart/items", url.Values{"product_id": {apron}, "quantity": {"1"}, "csrf_token": {tok}}), http.StatusSeeOther)
		w := newVisitor(t, shop)
		tok = formToken(t, w, "/products/cork-yoga-mat")
		expectStatus(t, w.post("/cart/items", url.Values{"product_id": {productID(t, shop, "cork-yoga-mat")}, "quantity": {"1"}, "csrf_token": {tok}}), http.StatusSeeOther)
		parts := strings.Split(w.cookie(web.CartCookie).Value, ".")
		parts[1] = strings.Split(other.cookie(web.CartCookie).Value, ".")[1]
		u, _ := url.Parse(shop.URL)
		w.c.Jar.SetCookies(u, []*http.Cookie{{Name: web.CartCookie, Value: strings.Join(parts, "."), Path: "/"}})
		expectContains(t, w.get("/cart"), "Your cart is empty")
	})
}

func TestGuestCartCreationIsThrottled(t *testing.T) {
	shop := shoptest.Start(t, shoptest.Options{Demo: true, Config: func(c *config.Config) { c.Limits.GuestCartBurst = 2 }})
	apron := productID(t, shop, "linen-apron")
	for i := range 3 {
		v := newVisitor(t, shop) // a client that drops its cookies: a new cart each time
		p := v.post("/cart/items", url.Values{"product_id": {apron}, "quantity": {"1"}, "csrf_token": {formToken(t, v, "/products/linen-apron")}})
		if i < 2 {
			expectStatus(t, p, http.StatusSeeOther)
			continue
		}
		expectStatus(t, p, http.StatusTooManyRequests)
		if p.Header.Get("Retry-After") == "" {
			t.Error("429 without Retry-After")
		}
	}
	if n := count(t, shop, `SELECT count(*) FROM guest_carts`); n != 2 {
		t.Errorf("%d guest carts stored, want 2", n)
	}
}

func TestServerErrorPage(t *testing.T) {
	var logs syncBuffer
	shop := shoptest.Start(t, shoptest.Options{Log: &logs})
	shop.App.DB.Close() // every query now fails
	shop.App.ShopperDB.Close()
	shop.App.SearchDB.Close()
	v := newVisitor(t, shop)
	p := v.get("/", "X-Request-ID", "req-broken-db")
	expectStatus(t, p, 500)
	expectContains(t, p, "Something went wrong on our side", "req-broken-db", `<html lang="en">`)
	if strings.Contains(p.Body, "closed pool") || strings.Contains(p.Body, "pgx") {
		t.Errorf("the 500 page shows the internal error:\n%s", p.Body)
	}
	checkSecurityHeaders(t, p)
	// The failure is logged before the page is written, so it is in the log by now.
	if !strings.Contains(logs.String(), `"msg":"Request failed"`) || !strings.Contains(logs.String(), `"request_id":"req-broken-db"`) {
		t.Errorf("the failure was not logged with its request ID:\n%s", logs.String())
	}
}

func TestMoneyInTheShopsCurrency(t *testing.T) {
	dbURL := testenv.PostgresURL(t)
	cfg := shoptest.Config(dbURL)
	cfg.Currency = "JPY"
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := app.Migrate(ctx, cfg, app.SeedDemo, nil); err != nil {
		t.Fatal(err)
	}
	shop := shoptest.Start(t, shoptest.Options{DatabaseURL: dbURL, Config: func(c *config.Config) { c.Currency = "JPY" }})
	v := newVisitor(t, shop)
	expectContains(t, v.get("/products/aria-wireless-noise-cancelling-headphones"), "¥24,900")
	// Price filters are typed in yen: no decimals.
	p := v.get("/products?max_price=5000")
	expectStatus(t, p, 200)
	expectContains(t, p, "¥3,900")
	expectContains(t, v.get("/products?max_price=49.5"), "Enter a price such as 1999.")
}

func TestSearchPageRateLimit(t *testing.T) {
	shop := shoptest.Start(t, shoptest.Options{Demo: true, Config: func(c *config.Config) { c.SearchRate = 0.01 }})
	v := newVisitor(t, shop)
	expectStatus(t, v.get("/search?q=tent"), 200)
	// One search per 100 s: the second page is refused.
	p := v.get("/search?q=lamp")
	expectStatus(t, p, http.StatusTooManyRequests)
	expectContains(t, p, "Too many attempts", `<html lang="en">`)
	if ra := p.Header.Get("Retry-After"); ra == "" || ra == "0" {
		t.Errorf("Retry-After = %q", ra)
	}
	checkAccessibility(t, p.Body)
}

func TestGuestCartLineCapAndExpiry(t *testing.T) {
	shop := shoptest.Start(t, shoptest.Options{})
	if _, err := app.SeedProducts(context.Background(), shoptest.Config(shop.DatabaseURL), cart.MaxLines+1, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := shop.App.DB.Exec(context.Background(), `UPDATE products SET stock = 10`); err != nil {
		t.Fatal(err)
	}
	rows, err := shop.App.DB.Query(context.Background(), `SELECT slug, id FROM products ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	type product struct {
		Slug string
		ID   int64
	}
	products, err := pgx.CollectRows(rows, pgx.RowToStructByPos[product])
	if err != nil {
		t.Fatal(err)
	}
	v := newVisitor(t, shop)
	token := formToken(t, v, "/products/"+products[0].Slug)
	for _, p := range products[:cart.MaxLines] {
		expectStatus(t, v.post("/cart/items", url.Values{"product_id": {fmt.Sprint(p.ID)}, "quantity": {"1"}, "csrf_token": {token}}), http.StatusSeeOther)
	}
	t.Run("the 101st product is refused on its page", func(t *testing.T) {
		p := v.post("/cart/items", url.Values{"product_id": {fmt.Sprint(products[cart.MaxLines].ID)}, "quantity": {"1"}, "csrf_token": {token}})
		expectStatus(t, p, http.StatusUnprocessableEntity)
		expectContains(t, p, fmt.Sprintf("Your cart is full (%d different products)", cart.MaxLines))
		if n := count(t, shop, `SELECT count(*) FROM guest_cart_items`); n != cart.MaxLines {
			t.Errorf("%d lines stored", n)
		}
	})
	t.Run("a cart unused for 7 days is gone, and its cookie with it", func(t *testing.T) {
		if _, err := shop.App.DB.Exec(context.Background(), `UPDATE guest_carts SET touched_at = now() - interval '7 days 1 minute'`); err != nil {
			t.Fatal(err)
		}
		p := v.get("/cart")
		expectContains(t, p, "Your cart is empty")
		if v.cookie(web.CartCookie) != nil {
			t.Error("the expired cart's cookie was kept")
		}
		// Adding again starts a new cart.
		expectStatus(t, v.post("/cart/items", url.Values{"product_id": {fmt.Sprint(products[0].ID)}, "quantity": {"1"}, "csrf_token": {token}}), http.StatusSeeOther)
		expectContains(t, v.get("/cart"), `<span class="badge">1</span>`)
	})
}
