package browser_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/jackc/pgx/v5"

	"github.com/storefront-operator/storefront/shop/app"
	"github.com/storefront-operator/storefront/shop/platform/config"
	"github.com/storefront-operator/storefront/test/shoptest"
)

const password = "correct-horse-battery"

// startShop starts a demo shop with cheap password hashes.
func startShop(t *testing.T) *shoptest.Shop {
	t.Helper()
	return shoptest.Start(t, shoptest.Options{Demo: true, Config: func(c *config.Config) { c.PasswordCost = 4 }})
}

// register creates an account through the header's Register link and the form.
func (b *tab) register(name, email string) {
	b.t.Helper()
	b.click("go to register", `.account-nav a[href^="/register"]`, 200)
	b.fill("#f-name", name)
	b.fill("#f-email", email)
	b.fill("#f-password", password)
	b.click("create the account", `main form button[type=submit]`, 200)
	b.expectText("h1", "Your account")
}

// login signs in through the header's Log in link and the form.
func (b *tab) login(email string) {
	b.t.Helper()
	b.click("go to log in", `.account-nav a[href^="/login"]`, 200)
	b.fill("#f-email", email)
	b.fill("#f-password", password)
	b.click("log in", "main form button[type=submit]", 200)
	b.expectText("h1", "Your account")
}

// createAdmin creates the admin admin@example.com in shop's database.
func createAdmin(t *testing.T, shop *shoptest.Shop) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := app.CreateAdmin(ctx, shoptest.Config(shop.DatabaseURL), "admin@example.com", password); err != nil {
		t.Fatal(err)
	}
}

// checkout fills the checkout form and pays with card, expecting status.
func (b *tab) checkout(card string, status int64) {
	b.t.Helper()
	b.fill("#f-name", "Ada Lovelace")
	b.fill("#f-line1", "12 St James's Square")
	b.fill("#f-city", "London")
	b.fill("#f-postal_code", "SW1Y 4JH")
	b.fill("#f-country", "GB")
	b.fill("#f-card_number", card)
	b.fill("#f-exp_month", "12")
	b.fill("#f-exp_year", fmt.Sprint(time.Now().Year()+2))
	b.fill("#f-cvc", "123")
	b.click("pay", `form[action="/checkout"] button[type=submit]`, status)
}

func orderCount(t *testing.T, shop *shoptest.Shop) int {
	t.Helper()
	var n int
	if err := shop.App.DB.QueryRow(context.Background(), `SELECT count(*) FROM orders`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestCheckoutJourney is the whole purchase, once with JavaScript and once without: a
// guest fills a cart, registers (the cart survives), searches, filters, adds a second
// product, changes a quantity, pays with the success card, sees the confirmation and
// finds the order in the account.
func TestCheckoutJourney(t *testing.T) {
	for name, scripts := range map[string]bool{"with JavaScript": true, "with JavaScript disabled": false} {
		t.Run(name, func(t *testing.T) {
			shop := startShop(t)
			b := newTab(t, shop)
			if !scripts {
				b.disableJavaScript()
			}

			b.open("/products/cork-yoga-mat", 200)
			if ran := evaluate[bool](b, "scripts", `document.documentElement.classList.contains("js")`); ran != scripts {
				b.fail("scripts", errorf("app.js ran: %v, want %v", ran, scripts))
			}
			b.click("add the mat as a guest", ".add-to-cart button", 200)
			b.expectText("#cart-total", "€69.00")

			b.register("Ada Lovelace", "ada@example.com")
			b.click("open the cart", ".cart-link", 200)
			b.expectText("main table", "Cork Yoga Mat")
			b.expectText("#cart-total", "€69.00")

			b.fill("#site-search", "kettle")
			b.click("search", ".site-search button", 200)
			b.expectText("h1", "Results for “kettle”")
			b.do("filter by category", chromedp.SetValue(chromedp.CSS("#filter-category"), "coffee-tea"))
			b.fill("#max-price", "100")
			b.click("apply the filters", ".filters button[type=submit]", 200)
			if got := b.text(".grid"); !strings.Contains(got, "Pour-Over Coffee Kettle") || strings.Contains(got, "Camping Stove") {
				b.fail("filtered", errorf("results %q", got))
			}
			b.click("open the kettle", `.grid a[href="/products/pour-over-coffee-kettle"]`, 200)
			b.click("add the kettle", ".add-to-cart button", 200)
			b.expectText("#cart-total", "€128.00")

			b.fill("#qty-"+productIDOf(t, shop, "pour-over-coffee-kettle"), "2")
			b.click("two kettles", `form[action="/cart/items/`+productIDOf(t, shop, "pour-over-coffee-kettle")+`"] button`, 200)
			b.expectText("#cart-total", "€187.00")

			b.click("check out", `a[href="/checkout"]`, 200)
			b.expectText("#checkout-total", "€187.00")
			b.checkout("4242 4242 4242 4242", 200)
			b.expectText("h1", "Thank you for your order")
			b.expectText("#order-total", "€187.00")
			b.expectText("#order-status", "Paid")
			id := b.text("#order-id")

			b.click("my orders", `main a[href="/account"]`, 200)
			b.expectText("main table", "Order "+id)
			b.expectText("main table", "€187.00")
			b.expectText(".cart-link", "0")
			if n := orderCount(t, shop); n != 1 {
				t.Errorf("%d orders, want 1", n)
			}
		})
	}
}

// TestDeclinedCard shows the decline next to the card number and places no order.
func TestDeclinedCard(t *testing.T) {
	shop := startShop(t)
	b := newTab(t, shop)
	b.open("/", 200)
	b.register("Grace Hopper", "grace@example.com")
	b.open("/products/french-press-1-l", 200)
	b.click("add to cart", ".add-to-cart button", 200)
	b.click("check out", `a[href="/checkout"]`, 200)
	b.checkout("4000 0000 0000 0002", 402)
	b.expectText("#form-error", "Your card was declined")
	b.expectText("#f-card_number-error", "declined")
	if v := value(b, "card field", chromedp.Value(chromedp.CSS("#f-card_number"))); v != "" {
		b.fail("card field", errorf("the card number was kept: %q", v))
	}
	if v := value(b, "name field", chromedp.Value(chromedp.CSS("#f-name"))); v != "Ada Lovelace" {
		b.fail("name field", errorf("the name was not kept: %q", v))
	}
	if n := orderCount(t, shop); n != 0 {
		t.Errorf("%d orders after a declined card", n)
	}
	b.open("/account", 200)
	b.expectText("main", "You have no orders yet")
}

// TestAdminChangesStock: the admin sets a product's stock and shoppers see it.
func TestAdminChangesStock(t *testing.T) {
	shop := startShop(t)
	createAdmin(t, shop)
	monitor := productIDOf(t, shop, "27-inch-4k-monitor") // first by name: on the first page

	shopper := newTab(t, shop)
	shopper.open("/products/27-inch-4k-monitor", 200)
	shopper.expectText("#stock-state", "In stock")

	b := newTab(t, shop)
	b.open("/", 200)
	b.login("admin@example.com")
	b.click("admin", `.account-nav a[href="/admin"]`, 200)
	b.click("products", `main a[href="/admin/products"]`, 200)
	b.fill("#stock-"+monitor, "2")
	b.click("save the stock", `form[action="/admin/products/`+monitor+`/stock"] button`, 200)
	b.expectText(".notice.success", "The stock was updated")

	shopper.open("/products/27-inch-4k-monitor", 200)
	shopper.expectText("#stock-state", "Only 2 left")

	b.fill("#stock-"+monitor, "0")
	b.click("sell out", `form[action="/admin/products/`+monitor+`/stock"] button`, 200)
	shopper.open("/products/27-inch-4k-monitor", 200)
	shopper.expectText("#stock-state", "Out of stock")
	if n := value(shopper, "add button", chromedp.Evaluate[int](`document.querySelectorAll(".add-to-cart").length`)); n != 0 {
		shopper.fail("add button", errorf("an out-of-stock product offers add to cart"))
	}
}

func productIDOf(t *testing.T, shop *shoptest.Shop, slug string) string {
	t.Helper()
	rows, err := shop.App.DB.Query(context.Background(), `SELECT id::text FROM products WHERE slug = $1`, slug)
	if err != nil {
		t.Fatal(err)
	}
	id, err := pgx.CollectExactlyOneRow(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatalf("product %s: %v", slug, err)
	}
	return id
}
