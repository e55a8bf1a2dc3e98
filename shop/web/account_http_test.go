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

	"github.com/storefront-operator/storefront/shop/app"
	"github.com/storefront-operator/storefront/shop/platform/config"
	"github.com/storefront-operator/storefront/shop/web"
	"github.com/storefront-operator/storefront/test/shoptest"
)

// password satisfies the account rules.
const password = "correct-horse-battery"

// startShop starts a demo shop whose password hashes are cheap (the race detector makes
// a production-cost hash take seconds).
func startShop(t *testing.T) *shoptest.Shop {
	t.Helper()
	return shoptest.Start(t, shoptest.Options{Demo: true, Config: func(c *config.Config) { c.PasswordCost = 4 }})
}

// register creates an account through the register form and leaves v signed in.
func register(t *testing.T, v *visitor, name, email string) {
	t.Helper()
	form := v.get("/register")
	expectStatus(t, form, 200)
	p := v.post("/register", url.Values{"name": {name}, "email": {email}, "password": {password}, "csrf_token": {csrf(t, form)}})
	expectStatus(t, p, http.StatusSeeOther)
	if v.cookie(web.SessionCookie) == nil {
		t.Fatal("registering set no session cookie")
	}
}

// signIn logs v in through the login form.
func signIn(t *testing.T, v *visitor, email, pw string) page {
	t.Helper()
	form := v.get("/login")
	return v.post("/login", url.Values{"email": {email}, "password": {pw}, "csrf_token": {csrf(t, form)}})
}

// makeAdmin creates an admin account in shop's database.
func makeAdmin(t *testing.T, shop *shoptest.Shop, email string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := app.CreateAdmin(ctx, shoptest.Config(shop.DatabaseURL), email, password); err != nil {
		t.Fatal(err)
	}
}

func count(t *testing.T, shop *shoptest.Shop, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := queryRow(t, shop, sql, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestRegisterLoginLogout(t *testing.T) {
	shop := startShop(t)
	v := newVisitor(t, shop)

	t.Run("the register form refuses bad input next to each field", func(t *testing.T) {
		form := v.get("/register")
		checkAccessibility(t, form.Body)
		p := v.post("/register", url.Values{"name": {""}, "email": {"not-an-email"}, "password": {"short"}, "csrf_token": {csrf(t, form)}})
		expectStatus(t, p, http.StatusUnprocessableEntity)
		expectContains(t, p, `id="f-email-error"`, `id="f-password-error"`, `id="f-name-error"`, `value="not-an-email"`, `role="alert"`)
		if strings.Contains(p.Body, `value="short"`) {
			t.Error("the password was sent back")
		}
		checkAccessibility(t, p.Body)
	})

	t.Run("registering signs in with an HttpOnly session cookie", func(t *testing.T) {
		form := v.get("/register")
		p := v.post("/register", url.Values{"name": {"Ada Lovelace"}, "email": {"Ada@Example.com"}, "password": {password}, "csrf_token": {csrf(t, form)}})
		expectStatus(t, p, http.StatusSeeOther)
		if loc := p.Header.Get("Location"); loc != "/account" {
			t.Errorf("Location %q", loc)
		}
		var ck *http.Cookie
		for _, c := range p.Cookies() {
			if c.Name == web.SessionCookie {
				ck = c
			}
		}
		if ck == nil || !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.MaxAge <= 0 {
			t.Fatalf("session cookie %+v", ck)
		}
		acct := v.get("/account")
		expectStatus(t, acct, 200)
		expectContains(t, acct, "Ada Lovelace", "ada@example.com", "You have no orders yet", `action="/logout"`)
		if acct.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("account Cache-Control %q", acct.Header.Get("Cache-Control"))
		}
		checkAccessibility(t, acct.Body)
		// Signed in, catalog pages are private.
		if cc := v.get("/").Header.Get("Cache-Control"); cc != "private, no-cache" {
			t.Errorf("home Cache-Control signed in: %q", cc)
		}
	})

	t.Run("the same email cannot register twice", func(t *testing.T) {
		w := newVisitor(t, shop)
		form := w.get("/register")
		p := w.post("/register", url.Values{"name": {"Ada"}, "email": {"ada@example.com"}, "password": {password}, "csrf_token": {csrf(t, form)}})
		expectStatus(t, p, http.StatusConflict)
		expectContains(t, p, `aria-describedby="f-email-error"`, "already exists")
	})

	token := v.cookie(web.SessionCookie).Value

	t.Run("logging out needs the CSRF token", func(t *testing.T) {
		expectStatus(t, v.post("/logout", url.Values{}), http.StatusForbidden)
		expectStatus(t, v.get("/account"), 200)
	})

	t.Run("logging out revokes the token", func(t *testing.T) {
		p := v.post("/logout", url.Values{"csrf_token": {csrf(t, v.get("/account"))}})
		expectStatus(t, p, http.StatusSeeOther)
		if v.cookie(web.SessionCookie) != nil {
			t.Error("the session cookie survived the logout")
		}
		if loc := v.get("/account").Header.Get("Location"); loc != "/login?next=%2Faccount" {
			t.Errorf("/account after logout redirects to %q", loc)
		}
		// The token no longer works anywhere: not in a cookie, not on the API.
		w := newVisitor(t, shop)
		u, _ := url.Parse(shop.URL)
		w.c.Jar.SetCookies(u, []*http.Cookie{{Name: web.SessionCookie, Value: token, Path: "/"}})
		expectStatus(t, w.get("/account"), http.StatusSeeOther)
		api := w.get("/api/v1/auth/me", "Authorization", "Bearer "+token)
		expectStatus(t, api, http.StatusUnauthorized)
	})

	t.Run("a wrong password is refused", func(t *testing.T) {
		p := signIn(t, v, "ada@example.com", "wrong-password-123")
		expectStatus(t, p, http.StatusUnauthorized)
		expectContains(t, p, "The email or the password is wrong", `aria-describedby="f-email-error"`, `value="ada@example.com"`)
		checkAccessibility(t, p.Body)
	})

	t.Run("repeated wrong passwords are throttled", func(t *testing.T) {
		w := newVisitor(t, shop)
		var p page
		for i := 0; i < 10; i++ {
			if p = signIn(t, w, "victim@example.com", "wrong-password-123"); p.StatusCode == http.StatusTooManyRequests {
				break
			}
			expectStatus(t, p, http.StatusUnauthorized)
		}
		expectStatus(t, p, http.StatusTooManyRequests)
		expectContains(t, p, "Too many login attempts for this email from this address. Try again in", `role="alert"`)
		if p.Header.Get("Retry-After") == "" {
			t.Error("no Retry-After")
		}
		checkAccessibility(t, p.Body)
	})

	t.Run("the owner signs in from another address after an attacker's failures", func(t *testing.T) {
		proxied := shoptest.Start(t, shoptest.Options{DatabaseURL: shop.DatabaseURL, Config: func(c *config.Config) {
			c.PasswordCost = 4
			c.TrustedProxies = []string{"127.0.0.1/32"}
			c.Limits.LoginSoftDelay, c.Limits.LoginMaxSoftDelay = 10*time.Millisecond, 30*time.Millisecond
		}})
		attacker := newVisitor(t, proxied)
		attacker.header.Set("X-Forwarded-For", "203.0.113.66")
		for i := 0; i < 5; i++ {
			expectStatus(t, signIn(t, attacker, "ada@example.com", "wrong-password-123"), http.StatusUnauthorized)
		}
		expectStatus(t, signIn(t, attacker, "ada@example.com", password), http.StatusTooManyRequests)
		owner := newVisitor(t, proxied)
		owner.header.Set("X-Forwarded-For", "198.51.100.66")
		expectStatus(t, signIn(t, owner, "ada@example.com", password), http.StatusSeeOther)
		expectStatus(t, owner.get("/account"), http.StatusOK)
	})

	t.Run("a burst of registrations from one address is refused with 429", func(t *testing.T) {
		limited := shoptest.Start(t, shoptest.Options{DatabaseURL: shop.DatabaseURL, Config: func(c *config.Config) {
			c.PasswordCost = 4
			c.TrustedProxies = []string{"127.0.0.1/32"}
			c.Limits.RegisterPerClient, c.Limits.RegisterGlobal = 0, 0
		}})
		var p page
		for i := 0; i < 10; i++ {
			w := newVisitor(t, limited)
			w.header.Set("X-Forwarded-For", "203.0.113.77")
			form := w.get("/register")
			p = w.post("/register", url.Values{"name": {"Burst"}, "email": {fmt.Sprintf("page-burst%d@example.com", i)}, "password": {password}, "csrf_token": {csrf(t, form)}})
			if p.StatusCode == http.StatusTooManyRequests {
				break
			}
			expectStatus(t, p, http.StatusSeeOther)
		}
		expectStatus(t, p, http.StatusTooManyRequests)
		expectContains(t, p, "Too many registrations from this address. Try again in", `role="alert"`)
		if p.Header.Get("Retry-After") == "" {
			t.Error("no Retry-After")
		}
		checkAccessibility(t, p.Body)
	})

	t.Run("logging in goes back where the shopper was heading", func(t *testing.T) {
		form := v.get("/login?next=%2Fcheckout")
		expectContains(t, form, `name="next" value="/checkout"`)
		p := v.post("/login", url.Values{"email": {"ada@example.com"}, "password": {password}, "next": {"/checkout"}, "csrf_token": {csrf(t, form)}})
		expectStatus(t, p, http.StatusSeeOther)
		if loc := p.Header.Get("Location"); loc != "/checkout" {
			t.Errorf("Location %q", loc)
		}
		if loc := v.get("/login").Header.Get("Location"); loc != "/account" {
			t.Errorf("the login page signed in redirects to %q", loc)
		}
	})

	t.Run("a login never redirects to another site", func(t *testing.T) {
		for _, next := range []string{"//evil.example/x", "https://evil.example/", "/\\evil.example", "javascript:alert(1)"} {
			w := newVisitor(t, shop)
			form := w.get("/login")
			p := w.post("/login", url.Values{"email": {"ada@example.com"}, "password": {password}, "next": {next}, "csrf_token": {csrf(t, form)}})
			if loc := p.Header.Get("Location"); loc != "/account" {
				t.Errorf("next=%q redirected to %q", next, loc)
			}
		}
	})
}

func TestGuestCartJoinsTheAccount(t *testing.T) {
	shop := startShop(t)
	apron := productID(t, shop, "linen-apron")
	mixer := productID(t, shop, "stand-mixer-5-l")
	v := newVisitor(t, shop)
	tok := formToken(t, v, "/products/linen-apron")
	expectStatus(t, v.post("/cart/items", url.Values{"product_id": {apron}, "quantity": {"2"}, "csrf_token": {tok}}), http.StatusSeeOther)

	register(t, v, "Grace Hopper", "grace@example.com")
	if v.cookie(web.CartCookie) != nil {
		t.Error("the guest cart cookie survived the merge")
	}
	cart := v.get("/cart")
	expectContains(t, cart, "Linen Apron", `<span id="cart-total">€68.00</span>`, `<span class="badge">2</span>`)

	t.Run("the account's cart is the API's cart", func(t *testing.T) {
		session := v.cookie(web.SessionCookie).Value
		api := v.get("/api/v1/cart", "Authorization", "Bearer "+session)
		expectStatus(t, api, 200)
		if !strings.Contains(api.Body, `"product_id":`+apron) || !strings.Contains(api.Body, `"quantity":2`) {
			t.Errorf("API cart: %s", api.Body)
		}
	})

	t.Run("signed in, the cart pages use the cart service", func(t *testing.T) {
		tok := formToken(t, v, "/products/stand-mixer-5-l")
		expectStatus(t, v.post("/cart/items", url.Values{"product_id": {mixer}, "quantity": {"1"}, "csrf_token": {tok}}), http.StatusSeeOther)
		tok = csrf(t, v.get("/cart"))
		expectStatus(t, v.post("/cart/items/"+apron, url.Values{"quantity": {"3"}, "csrf_token": {tok}}), http.StatusSeeOther)
		expectContains(t, v.get("/cart"), `<span id="cart-total">€451.00</span>`)
		p := v.post("/cart/items/"+mixer, url.Values{"quantity": {"9"}, "csrf_token": {tok}})
		expectStatus(t, p, http.StatusUnprocessableEntity)
		expectContains(t, p, "Only 8 left")
		expectStatus(t, v.post("/cart/items/"+mixer+"/remove", url.Values{"csrf_token": {tok}}), http.StatusSeeOther)
		if n := count(t, shop, `SELECT count(*) FROM cart_items ci JOIN users u ON u.id = ci.user_id WHERE u.email = 'grace@example.com'`); n != 1 {
			t.Errorf("%d cart lines in the database, want 1", n)
		}
	})

	t.Run("a login adds the guest cart to the saved one", func(t *testing.T) {
		expectStatus(t, v.post("/logout", url.Values{"csrf_token": {csrf(t, v.get("/cart"))}}), http.StatusSeeOther)
		tok := formToken(t, v, "/products/linen-apron")
		expectStatus(t, v.post("/cart/items", url.Values{"product_id": {apron}, "quantity": {"1"}, "csrf_token": {tok}}), http.StatusSeeOther)
		expectStatus(t, signIn(t, v, "grace@example.com", password), http.StatusSeeOther)
		expectContains(t, v.get("/cart"), `value="4"`, `<span id="cart-total">€136.00</span>`)
	})
}

// checkoutForm is a valid checkout with card number card.
func checkoutForm(token, key, card string) url.Values {
	return url.Values{"csrf_token": {token}, "idempotency_key": {key}, "name": {"Ada Lovelace"}, "line1": {"12 St James's Square"},
		"city": {"London"}, "postal_code": {"SW1Y 4JH"}, "country": {"GB"}, "card_number": {card},
		"exp_month": {"12"}, "exp_year": {fmt.Sprint(time.Now().Year() + 2)}, "cvc": {"123"}}
}

var keyRE = regexp.MustCompile(`name="idempotency_key" value="([^"]+)"`)

func TestCheckout(t *testing.T) {
	shop := startShop(t)
	kettle := productID(t, shop, "pour-over-coffee-kettle") // €59.00, stock 38
	v := newVisitor(t, shop)

	t.Run("a guest is sent to log in first", func(t *testing.T) {
		p := newVisitor(t, shop).get("/checkout")
		expectStatus(t, p, http.StatusSeeOther)
		if loc := p.Header.Get("Location"); loc != "/login?next=%2Fcheckout" {
			t.Errorf("Location %q", loc)
		}
	})

	register(t, v, "Ada Lovelace", "ada@example.com")

	t.Run("an empty cart goes back to the cart", func(t *testing.T) {
		if loc := v.get("/checkout").Header.Get("Location"); loc != "/cart" {
			t.Errorf("Location %q", loc)
		}
	})

	tok := formToken(t, v, "/products/pour-over-coffee-kettle")
	expectStatus(t, v.post("/cart/items", url.Values{"product_id": {kettle}, "quantity": {"2"}, "csrf_token": {tok}}), http.StatusSeeOther)

	form := v.get("/checkout")
	expectStatus(t, form, 200)
	expectContains(t, form, `id="checkout-total">€118.00<`, "4242 4242 4242 4242", `autocomplete="cc-number"`)
	checkAccessibility(t, form.Body)
	token := csrf(t, form)
	key := keyRE.FindStringSubmatch(form.Body)[1]

	t.Run("the checkout needs the CSRF token", func(t *testing.T) {
		f := checkoutForm("", key, "4242 4242 4242 4242")
		f.Del("csrf_token")
		expectStatus(t, v.post("/checkout", f), http.StatusForbidden)
	})

	t.Run("invalid fields are refused next to each, keeping what was typed but the card", func(t *testing.T) {
		f := checkoutForm(token, key, "4242 4242 4242 4241")
		f.Set("country", "Britain")
		f.Set("exp_month", "13")
		f.Set("city", "")
		p := v.post("/checkout", f)
		expectStatus(t, p, http.StatusUnprocessableEntity)
		expectContains(t, p, `id="f-country-error"`, `id="f-card_number-error"`, `id="f-exp_month-error"`, `id="f-city-error"`,
			"Luhn", `value="Britain"`, `value="12 St James&#39;s Square"`, `value="SW1Y 4JH"`, `value="`+key+`"`)
		if strings.Contains(p.Body, "4242 4242 4242 4241") || strings.Contains(p.Body, `value="123"`) {
			t.Error("the card number or CVC was sent back")
		}
		checkAccessibility(t, p.Body)
	})

	t.Run("an expired card is refused", func(t *testing.T) {
		f := checkoutForm(token, key, "4242 4242 4242 4242")
		f.Set("exp_year", fmt.Sprint(time.Now().Year()-1))
		p := v.post("/checkout", f)
		expectStatus(t, p, http.StatusUnprocessableEntity)
		expectContains(t, p, `id="f-exp_year-error"`, "expired")
	})

	t.Run("a declined card places no order and takes no stock", func(t *testing.T) {
		p := v.post("/checkout", checkoutForm(token, key, "4000 0000 0000 0002"))
		expectStatus(t, p, http.StatusPaymentRequired)
		expectContains(t, p, "Your card was declined", `aria-describedby="f-card_number-error"`, `value="Ada Lovelace"`)
		checkAccessibility(t, p.Body)
		if n := count(t, shop, `SELECT count(*) FROM orders`); n != 0 {
			t.Errorf("%d orders after a declined card", n)
		}
		if n := count(t, shop, `SELECT stock FROM products WHERE id = $1`, kettle); n != 38 {
			t.Errorf("stock %d after a declined card, want 38", n)
		}
	})

	var orderURL string
	t.Run("the success card places the order and shows the confirmation", func(t *testing.T) {
		p := v.post("/checkout", checkoutForm(token, key, "4242 4242 4242 4242"))
		expectStatus(t, p, http.StatusSeeOther)
		orderURL = p.Header.Get("Location")
		if !regexp.MustCompile(`^/account/orders/\d+\?placed=1$`).MatchString(orderURL) {
			t.Fatalf("Location %q", orderURL)
		}
		conf := v.get(orderURL)
		expectStatus(t, conf, 200)
		expectContains(t, conf, "Thank you for your order", "Pour-Over Coffee Kettle", `id="order-total">€118.00<`, "Paid", "ending in 4242", "SW1Y 4JH")
		checkAccessibility(t, conf.Body)
		if n := count(t, shop, `SELECT stock FROM products WHERE id = $1`, kettle); n != 36 {
			t.Errorf("stock %d after the order, want 36", n)
		}
		expectContains(t, v.get("/cart"), "Your cart is empty")
		acct := v.get("/account")
		expectContains(t, acct, strings.Split(strings.TrimPrefix(orderURL, "/account/orders/"), "?")[0], "€118.00")
	})

	t.Run("the same form submitted twice places one order", func(t *testing.T) {
		p := v.post("/checkout", checkoutForm(token, key, "4242 4242 4242 4242"))
		expectStatus(t, p, http.StatusSeeOther)
		if loc := p.Header.Get("Location"); loc != orderURL {
			t.Errorf("the replay went to %q, the order is %q", loc, orderURL)
		}
		if n := count(t, shop, `SELECT count(*) FROM orders`); n != 1 {
			t.Errorf("%d orders", n)
		}
	})

	t.Run("another shopper's order is not found", func(t *testing.T) {
		w := newVisitor(t, shop)
		register(t, w, "Eve", "eve@example.com")
		path := strings.Split(orderURL, "?")[0]
		expectStatus(t, w.get(path), http.StatusNotFound)
		expectStatus(t, w.get("/account/orders/not-a-number"), http.StatusNotFound)
	})
}

func TestAdminPages(t *testing.T) {
	shop := startShop(t)
	makeAdmin(t, shop, "admin@example.com")
	mixer := productID(t, shop, "stand-mixer-5-l")
	var kitchen string
	if err := queryRow(t, shop, `SELECT id::text FROM categories WHERE slug = 'kitchen'`).Scan(&kitchen); err != nil {
		t.Fatal(err)
	}
	customer := newVisitor(t, shop)
	register(t, customer, "Carl Customer", "carl@example.com")
	admin := newVisitor(t, shop)
	expectStatus(t, signIn(t, admin, "admin@example.com", password), http.StatusSeeOther)

	gets := []string{"/admin", "/admin/products", "/admin/products/new", "/admin/products/" + mixer, "/admin/categories", "/admin/orders"}
	posts := []string{"/admin/products", "/admin/products/" + mixer, "/admin/products/" + mixer + "/stock", "/admin/products/" + mixer + "/delete",
		"/admin/categories", "/admin/categories/" + kitchen, "/admin/categories/" + kitchen + "/delete", "/admin/orders/1/status"}

	t.Run("admin pages send guests to log in", func(t *testing.T) {
		guest := newVisitor(t, shop)
		for _, path := range gets {
			p := guest.get(path)
			if p.StatusCode != http.StatusSeeOther || !strings.HasPrefix(p.Header.Get("Location"), "/login?next=") {
				t.Errorf("GET %s: %d to %q", path, p.StatusCode, p.Header.Get("Location"))
			}
		}
	})

	t.Run("admin pages are refused to customers", func(t *testing.T) {
		tok := csrf(t, customer.get("/account"))
		for _, path := range gets {
			p := customer.get(path)
			expectStatus(t, p, http.StatusForbidden)
			expectContains(t, p, "You can&#39;t do that here")
		}
		for _, path := range posts {
			expectStatus(t, customer.post(path, url.Values{"csrf_token": {tok}, "stock": {"0"}, "status": {"shipped"}}), http.StatusForbidden)
		}
		if n := count(t, shop, `SELECT stock FROM products WHERE id = $1`, mixer); n != 8 {
			t.Errorf("a customer changed the stock to %d", n)
		}
	})

	t.Run("every admin page renders for the admin", func(t *testing.T) {
		for _, path := range gets {
			p := admin.get(path)
			expectStatus(t, p, 200)
			if p.Header.Get("Cache-Control") != "no-store" {
				t.Errorf("%s: Cache-Control %q", path, p.Header.Get("Cache-Control"))
			}
			checkAccessibility(t, p.Body)
			checkSecurityHeaders(t, p)
		}
	})

	tok := csrf(t, admin.get("/admin/products"))

	t.Run("admin forms need the CSRF token", func(t *testing.T) {
		expectStatus(t, admin.post("/admin/products/"+mixer+"/stock", url.Values{"stock": {"3"}}), http.StatusForbidden)
		expectStatus(t, admin.post("/admin/products/"+mixer+"/stock", url.Values{"stock": {"3"}, "csrf_token": {csrf(t, customer.get("/account"))}}), http.StatusForbidden)
	})

	t.Run("setting the stock shows on the product page", func(t *testing.T) {
		p := admin.post("/admin/products/"+mixer+"/stock", url.Values{"stock": {"3"}, "csrf_token": {tok}})
		expectStatus(t, p, http.StatusSeeOther)
		expectContains(t, admin.get(p.Header.Get("Location")), "The stock was updated")
		expectContains(t, newVisitor(t, shop).get("/products/stand-mixer-5-l"), "Only 3 left")
		first := productID(t, shop, "27-inch-4k-monitor") // first by name: on page 1
		bad := admin.post("/admin/products/"+first+"/stock", url.Values{"stock": {"-1"}, "page": {"1"}, "csrf_token": {tok}})
		expectStatus(t, bad, http.StatusUnprocessableEntity)
		expectContains(t, bad, `aria-describedby="stock-`+first+`-error"`, `value="-1"`)
		checkAccessibility(t, bad.Body)
	})

	product := url.Values{"csrf_token": {tok}, "name": {"Copper Saucepan"}, "slug": {"copper-saucepan"}, "description": {"Heats evenly."},
		"price": {"89.50"}, "category": {"kitchen"}, "stock": {"4"}, "image_url": {"/static/img/categories/kitchen.svg"}, "attributes": {`{"material": "copper"}`}}

	t.Run("a product form with bad values is refused next to the fields", func(t *testing.T) {
		bad := url.Values{}
		for k, v := range product {
			bad[k] = v
		}
		bad.Set("slug", "Not A Slug")
		bad.Set("price", "cheap")
		bad.Set("attributes", "[1, 2]")
		p := admin.post("/admin/products", bad)
		expectStatus(t, p, http.StatusUnprocessableEntity)
		expectContains(t, p, `id="f-price-error"`, `id="f-attributes-error"`, `value="Not A Slug"`)
		checkAccessibility(t, p.Body)
		bad.Set("price", "89.50")
		bad.Set("attributes", "{}")
		p = admin.post("/admin/products", bad)
		expectStatus(t, p, http.StatusUnprocessableEntity)
		expectContains(t, p, `id="f-slug-error"`)
	})

	t.Run("creating, editing and deleting a product", func(t *testing.T) {
		expectStatus(t, admin.post("/admin/products", product), http.StatusSeeOther)
		shown := newVisitor(t, shop).get("/products/copper-saucepan")
		expectStatus(t, shown, 200)
		expectContains(t, shown, "Copper Saucepan", "€89.50", "Only 4 left", "Material")
		expectStatus(t, admin.post("/admin/products", product), http.StatusConflict)
		id := productID(t, shop, "copper-saucepan")
		edit := admin.get("/admin/products/" + id)
		expectContains(t, edit, `value="89.50"`, `<option value="kitchen" selected>`)
		product.Set("name", "Copper Saucepan 18 cm")
		expectStatus(t, admin.post("/admin/products/"+id, product), http.StatusSeeOther)
		expectContains(t, newVisitor(t, shop).get("/products/copper-saucepan"), "Copper Saucepan 18 cm")
		expectStatus(t, admin.post("/admin/products/"+id+"/delete", url.Values{"csrf_token": {tok}}), http.StatusSeeOther)
		expectStatus(t, newVisitor(t, shop).get("/products/copper-saucepan"), http.StatusNotFound)
	})

	t.Run("categories", func(t *testing.T) {
		expectStatus(t, admin.post("/admin/categories", url.Values{"csrf_token": {tok}, "slug": {"garden"}, "name": {"Garden"}, "description": {"Tools and seeds."}}), http.StatusSeeOther)
		expectContains(t, newVisitor(t, shop).get("/categories/garden"), "<h1>Garden</h1>", "Tools and seeds.")
		dup := admin.post("/admin/categories", url.Values{"csrf_token": {tok}, "slug": {"garden"}, "name": {"Garden 2"}})
		expectStatus(t, dup, http.StatusConflict)
		expectContains(t, dup, `aria-describedby="new-slug-error"`)
		checkAccessibility(t, dup.Body)
		var garden string
		if err := queryRow(t, shop, `SELECT id::text FROM categories WHERE slug = 'garden'`).Scan(&garden); err != nil {
			t.Fatal(err)
		}
		expectStatus(t, admin.post("/admin/categories/"+garden, url.Values{"csrf_token": {tok}, "slug": {"garden"}, "name": {"Garden & Patio"}, "description": {""}}), http.StatusSeeOther)
		expectContains(t, newVisitor(t, shop).get("/"), "Garden &amp; Patio")
		inUse := admin.post("/admin/categories/"+kitchen+"/delete", url.Values{"csrf_token": {tok}})
		expectStatus(t, inUse, http.StatusConflict)
		expectContains(t, inUse, "still has products")
		expectStatus(t, admin.post("/admin/categories/"+garden+"/delete", url.Values{"csrf_token": {tok}}), http.StatusSeeOther)
		expectStatus(t, newVisitor(t, shop).get("/categories/garden"), http.StatusNotFound)
	})

	t.Run("orders move through their states", func(t *testing.T) {
		apron := productID(t, shop, "linen-apron")
		ctok := formToken(t, customer, "/products/linen-apron")
		expectStatus(t, customer.post("/cart/items", url.Values{"product_id": {apron}, "quantity": {"1"}, "csrf_token": {ctok}}), http.StatusSeeOther)
		form := customer.get("/checkout")
		placed := customer.post("/checkout", checkoutForm(csrf(t, form), keyRE.FindStringSubmatch(form.Body)[1], "4242424242424242"))
		expectStatus(t, placed, http.StatusSeeOther)
		id := regexp.MustCompile(`\d+`).FindString(placed.Header.Get("Location"))

		list := admin.get("/admin/orders?status=paid")
		expectContains(t, list, "/admin/orders/"+id, "carl@example.com", `<option value="paid" selected>`)
		expectContains(t, admin.get("/admin/orders?status=shipped"), "0 orders")
		detail := admin.get("/admin/orders/" + id)
		expectContains(t, detail, `<option value="shipped">`, `<option value="cancelled">`, "carl@example.com")
		p := admin.post("/admin/orders/"+id+"/status", url.Values{"csrf_token": {tok}, "status": {"shipped"}})
		expectStatus(t, p, http.StatusSeeOther)
		expectContains(t, admin.get(p.Header.Get("Location")), `id="order-status">Shipped<`, "The order status was changed")
		expectContains(t, customer.get("/account/orders/"+id), `id="order-status">Shipped<`)
		back := admin.post("/admin/orders/"+id+"/status", url.Values{"csrf_token": {tok}, "status": {"paid"}})
		expectStatus(t, back, http.StatusConflict)
		expectContains(t, back, "The status was not changed")
		expectStatus(t, admin.post("/admin/orders/999999/status", url.Values{"csrf_token": {tok}, "status": {"shipped"}}), http.StatusNotFound)
	})
}

func TestPaymentsSayWhatTheyAre(t *testing.T) {
	t.Run("with the mock provider every page says no card is charged", func(t *testing.T) {
		shop := startShop(t) // shoptest's shops take mock payments
		v := newVisitor(t, shop)
		for _, path := range []string{"/", "/products", "/products/linen-apron", "/search?q=tea", "/cart", "/login", "/register", "/no-such-page"} {
			p := v.get(path)
			expectContains(t, p, `class="test-mode-banner"`, "Test mode — no card is charged")
		}
	})

	t.Run("without a provider there is no banner, and checkout is refused, taking nothing", func(t *testing.T) {
		shop := shoptest.Start(t, shoptest.Options{Demo: true, Config: func(c *config.Config) { c.PasswordCost = 4; c.PaymentProvider = "" }})
		v := newVisitor(t, shop)
		if p := v.get("/"); strings.Contains(p.Body, "test-mode-banner") || !strings.Contains(p.Body, "This shop takes no payments yet") {
			t.Errorf("the home page of a shop without payments:\n%.3000s", p.Body)
		}
		register(t, v, "Ada Lovelace", "ada-nopay@example.com")
		kettle := productID(t, shop, "pour-over-coffee-kettle")
		tok := formToken(t, v, "/products/pour-over-coffee-kettle")
		expectStatus(t, v.post("/cart/items", url.Values{"product_id": {kettle}, "quantity": {"1"}, "csrf_token": {tok}}), http.StatusSeeOther)
		form := v.get("/checkout")
		expectStatus(t, form, 200)
		p := v.post("/checkout", checkoutForm(csrf(t, form), keyRE.FindStringSubmatch(form.Body)[1], "4242 4242 4242 4242"))
		expectStatus(t, p, http.StatusServiceUnavailable)
		expectContains(t, p, "This shop takes no payments", "Nothing was charged")
		checkAccessibility(t, p.Body)
		if n := count(t, shop, `SELECT count(*) FROM orders`); n != 0 {
			t.Errorf("%d orders written", n)
		}
		expectContains(t, v.get("/cart"), `value="1"`)
	})
}
