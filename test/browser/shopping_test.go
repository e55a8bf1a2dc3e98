package browser_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/storefront-operator/storefront/test/shoptest"
)

// TestBrowseSearchFilterAndGuestCart is a guest's visit: the home page, keyboard focus,
// a search, the filters, a product, the cart, a quantity change and a removal.
func TestBrowseSearchFilterAndGuestCart(t *testing.T) {
	shop := shoptest.Start(t, shoptest.Options{Demo: true})
	b := newTab(t, shop)

	b.open("/", 200)
	b.expectText("h1", "Good things")
	if !evaluate[bool](b, "scripts ran", `document.documentElement.classList.contains("js")`) {
		b.fail("scripts ran", errNoJS)
	}

	// The first Tab lands on the skip link, which shows a visible focus outline.
	b.do("tab to the skip link", chromedp.KeyEvent("\t"))
	focus := evaluate[[]string](b, "focus style", `(() => { const a = document.activeElement, s = getComputedStyle(a);
		return [a.className, s.outlineStyle, s.outlineWidth, String(a.getBoundingClientRect().top >= 0)]; })()`)
	if focus[0] != "skip-link" || focus[1] == "none" || focus[2] == "0px" || focus[3] != "true" {
		b.fail("focus style", errorf("focused %q with outline %s %s, on screen %s", focus[0], focus[1], focus[2], focus[3]))
	}

	// Search from the header.
	b.fill("#site-search", "coffee")
	b.click("search", ".site-search button", 200)
	b.expectText("h1", "Results for “coffee”")
	b.expectText("main", "Burr Coffee Grinder")

	// Narrow the search to a category and a price range with the filter form.
	b.do("choose a category", chromedp.SetValue(chromedp.CSS("#filter-category"), "coffee-tea"))
	b.fill("#min-price", "20")
	b.fill("#max-price", "60")
	b.click("apply filters", ".filters button[type=submit]", 200)
	if loc := b.location(); !strings.Contains(loc, "category=coffee-tea") || !strings.Contains(loc, "min_price=20") {
		b.fail("filters in the URL", errorf("location %s", loc))
	}
	results := b.text(".grid")
	if !strings.Contains(results, "Pour-Over Coffee Kettle") || strings.Contains(results, "Burr Coffee Grinder") {
		b.fail("filtered results", errorf("results: %s", results))
	}

	// A price that is not one is reported next to the field.
	b.fill("#min-price", "cheap")
	b.click("apply a bad price", ".filters button[type=submit]", 400)
	b.expectText("#min-price-error", "Enter a price such as 19.99")

	// The sort select submits by itself when scripts run. chromedp's SetValue fires the
	// input and change events a person's choice fires, so it is the whole interaction:
	// dispatching another change would submit the form a second time, mid-navigation.
	b.open("/categories/audio", 200)
	b.load("sort by price", 200, chromedp.SetValue(chromedp.CSS("#sort"), "price_desc"))
	if loc := b.location(); !strings.Contains(loc, "sort=price_desc") {
		b.fail("sorted", errorf("location %s", loc))
	}
	b.expectText(".grid li:first-child h3", "Lumen Smart Soundbar")

	// A product, added twice to the cart.
	b.click("open a product", `.grid a[href="/products/pulse-true-wireless-earbuds"]`, 200)
	b.expectText("h1", "Pulse True Wireless Earbuds")
	b.expectText("#stock-state", "In stock")
	b.fill("#quantity", "2")
	b.click("add to cart", ".add-to-cart button", 200)
	b.expectText(".notice.success", "Added Pulse True Wireless Earbuds to your cart")
	b.expectText("#cart-total", "€258.00")
	b.expectText(".cart-link", "2")

	// A second product from a category page.
	b.open("/products/cork-yoga-mat", 200)
	b.click("add the mat", ".add-to-cart button", 200)
	b.expectText("#cart-total", "€327.00")

	// Change a quantity, then remove a line.
	b.fill(`input[name=quantity][id^="qty-"]`, "3")
	b.click("update the quantity", ".qty-form button", 200)
	b.expectText("#cart-total", "€456.00")
	b.click("remove the earbuds", ".inline-form button", 200)
	b.expectText("#cart-total", "€69.00")
	b.expectText(".cart-link", "1")
}

// TestPhoneLayout checks the pages at a phone's width, for a guest and signed in:
// nothing wider than the screen, nothing in the header on top of something else.
func TestPhoneLayout(t *testing.T) {
	shop := startShop(t)
	b := newTab(t, shop)
	b.do("phone viewport", chromedp.EmulateViewport(375, 812, chromedp.EmulateMobile))
	check := func(path string, status int64) {
		t.Helper()
		b.open(path, status)
		w := evaluate[[]int](b, "widths of "+path, `[document.documentElement.scrollWidth, window.innerWidth]`)
		if w[0] > w[1] {
			b.fail("width of "+path, errorf("the page is %dpx wide on a %dpx screen", w[0], w[1]))
		}
		overlaps := evaluate[[]string](b, "header of "+path, `(() => {
			const parts = Array.from(document.querySelectorAll(".brand, .site-search, .account-nav li"));
			const out = [];
			for (let i = 0; i < parts.length; i++) for (let j = i + 1; j < parts.length; j++) {
				const a = parts[i].getBoundingClientRect(), b = parts[j].getBoundingClientRect();
				if (a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom)
					out.push(parts[i].textContent.trim() + " / " + parts[j].textContent.trim());
			}
			return out;
		})()`)
		if len(overlaps) > 0 {
			b.fail("header of "+path, errorf("overlapping: %v", overlaps))
		}
	}
	for _, path := range []string{"/", "/products", "/categories/outdoor?page=1", "/search?q=tent", "/products/ultralight-two-person-tent", "/cart", "/login", "/register"} {
		check(path, 200)
	}
	check("/nothing-here", 404)
	b.open("/", 200)
	b.register("Ada Lovelace", "ada@example.com")
	// Signed in, the header has more links: check at the narrowest common phone.
	b.do("narrow viewport", chromedp.EmulateViewport(320, 640, chromedp.EmulateMobile))
	for _, path := range []string{"/", "/account", "/cart", "/products/ultralight-two-person-tent"} {
		check(path, 200)
	}
	// An admin's header has the most links.
	createAdmin(t, shop)
	b.click("log out", `.account-nav form[action="/logout"] button`, 200)
	b.login("admin@example.com")
	for _, path := range []string{"/", "/admin/products", "/admin/orders", "/admin/categories", "/admin/products/new"} {
		check(path, 200)
	}
}

// TestAccessibilityCheckFindsProblems proves the DOM check used on every page catches
// what it looks for, by breaking a page on purpose.
func TestAccessibilityCheckFindsProblems(t *testing.T) {
	shop := shoptest.Start(t, shoptest.Options{Demo: true})
	b := newTab(t, shop)
	b.open("/products", 200)
	b.do("break the page", chromedp.Evaluate[chromedp.Void](`(() => {
		const main = document.querySelector("main");
		main.insertAdjacentHTML("beforeend",
			'<h1>Second</h1><img src="/static/img/placeholder.svg"><input name="nolabel">' +
			'<input name="bad" aria-invalid="true"><p class="faint">faint text</p>');
		document.querySelector(".faint").style.color = "#cccccc";
	})()`))
	problems := strings.Join(evaluate[[]string](b, "check", a11yScript), "\n")
	for _, want := range []string{"2 h1 elements", "has no alt", "name=nolabel has no label", "invalid field bad has no aria-describedby", `contrast 1.61 < 4.5 for "faint text"`} {
		if !strings.Contains(problems, want) {
			t.Errorf("the check missed %q; it found:\n%s", want, problems)
		}
	}
}

// TestGuestCartWithoutJavaScript adds to the cart and changes it with scripts disabled:
// every form works as plain HTML.
func TestGuestCartWithoutJavaScript(t *testing.T) {
	shop := shoptest.Start(t, shoptest.Options{Demo: true})
	b := newTab(t, shop)
	b.disableJavaScript()
	b.open("/categories/fitness?sort=price_asc", 200)
	if evaluate[bool](b, "scripts off", `document.documentElement.classList.contains("js")`) {
		b.fail("scripts off", errorf("app.js ran with JavaScript disabled"))
	}
	b.do("sort without scripts", chromedp.SetValue(chromedp.CSS("#sort"), "name"))
	b.click("apply the sort", ".filters button[type=submit]", 200)
	b.expectText(".grid li:first-child h3", "Adjustable Dumbbells")
	b.click("open the kettlebell", `.grid a[href="/products/kettlebell-16-kg"]`, 200)
	b.fill("#quantity", "2")
	b.click("add to cart", ".add-to-cart button", 200)
	b.expectText("#cart-total", "€118.00")
	b.fill(`input[name=quantity][id^="qty-"]`, "40")
	b.click("too many", ".qty-form button", 422)
	b.expectText(".field-error", "Only 28 left")
	b.fill(`input[name=quantity][id^="qty-"]`, "1")
	b.click("one", ".qty-form button", 200)
	b.expectText("#cart-total", "€59.00")
}
