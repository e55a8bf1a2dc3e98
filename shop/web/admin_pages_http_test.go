package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/storefront-operator/storefront/shop/admin"
	"github.com/storefront-operator/storefront/shop/cart"
	"github.com/storefront-operator/storefront/shop/orders"
	"github.com/storefront-operator/storefront/test/shoptest"
)

// formValues returns what a browser submits for the form of p whose action is action:
// its inputs (hidden ones included), textareas and selected options, as shown.
func formValues(t *testing.T, p page, action string) url.Values {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(p.Body))
	if err != nil {
		t.Fatalf("parsing HTML: %v", err)
	}
	var form *html.Node
	var find func(n *html.Node)
	find = func(n *html.Node) {
		if n.Type == html.ElementNode && n.Data == "form" && attr(n, "action") == action && form == nil {
			form = n
		}
		for c := n.FirstChild; c != nil && form == nil; c = c.NextSibling {
			find(c)
		}
	}
	find(doc)
	if form == nil {
		t.Fatalf("no form with action %q on %s", action, p.Request.URL)
	}
	v := url.Values{}
	var text func(n *html.Node) string
	text = func(n *html.Node) string {
		var b strings.Builder
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			if c.Type == html.TextNode {
				b.WriteString(c.Data)
			}
			b.WriteString(text(c))
		}
		return b.String()
	}
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			name := attr(n, "name")
			switch {
			case name == "":
			case n.Data == "input" && attr(n, "type") != "submit" && attr(n, "type") != "file":
				v.Add(name, attr(n, "value"))
			case n.Data == "textarea":
				// The HTML parser drops the newline that may follow <textarea>, as browsers do.
				v.Add(name, text(n))
			case n.Data == "select":
				for o := n.FirstChild; o != nil; o = o.NextSibling {
					if o.Type == html.ElementNode && o.Data == "option" {
						if _, sel := attrOK(o, "selected"); sel {
							v.Add(name, attr(o, "value"))
						}
					}
				}
				return
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(form)
	return v
}

// sell places an order of qty units of product id for the customer with email, as the
// checkout does.
func sell(t *testing.T, shop *shoptest.Shop, email string, id int64, qty int) {
	t.Helper()
	var user int64
	if err := queryRow(t, shop, `SELECT id FROM users WHERE email = $1`, email).Scan(&user); err != nil {
		t.Fatal(err)
	}
	req := orders.Request{Items: []cart.Item{{ProductID: id, Quantity: qty}},
		ShippingAddress: orders.Address{Name: "Ada Lovelace", Line1: "12 St James's Square", City: "London", PostalCode: "SW1Y 4JH", Country: "GB"},
		Payment:         orders.Card{Number: orders.CardSuccess, ExpMonth: 12, ExpYear: time.Now().Year() + 1, CVC: "123"}}
	if _, _, err := shop.App.Orders.Place(context.Background(), user, fmt.Sprintf("sell-%d-%d", id, time.Now().UnixNano()), req); err != nil {
		t.Fatalf("selling %d of product %d: %v", qty, id, err)
	}
}

func setStock(t *testing.T, shop *shoptest.Shop, id int64, n int) {
	t.Helper()
	if _, err := shop.App.Admin.SetStock(context.Background(), id, admin.StockInput{Stock: &n}); err != nil {
		t.Fatal(err)
	}
}

func stock(t *testing.T, shop *shoptest.Shop, id int64) int {
	t.Helper()
	return count(t, shop, `SELECT stock FROM products WHERE id = $1`, id)
}

// TestSavingAProductFormLoadedBeforeAnOrderKeepsTheOrder: the edit form shows stock 5, a
// customer buys all 5, the admin saves the form with a new description. The 5 units sold
// must not be for sale again.
func TestSavingAProductFormLoadedBeforeAnOrderKeepsTheOrder(t *testing.T) {
	shop := startShop(t)
	makeAdmin(t, shop, "admin@example.com")
	customer := newVisitor(t, shop)
	register(t, customer, "Carl Customer", "carl@example.com")
	adm := newVisitor(t, shop)
	expectStatus(t, signIn(t, adm, "admin@example.com", password), http.StatusSeeOther)
	id, _ := strconv.ParseInt(productID(t, shop, "stand-mixer-5-l"), 10, 64)
	edit := fmt.Sprintf("/admin/products/%d", id)
	setStock(t, shop, id, 5)

	form := adm.get(edit)
	expectStatus(t, form, 200)
	fields := formValues(t, form, edit)
	if fields.Get("stock") != "5" {
		t.Fatalf("the form shows stock %q, want 5", fields.Get("stock"))
	}
	sell(t, shop, "carl@example.com", id, 5)

	fields.Set("description", "Now with a dough hook.")
	saved := adm.post(edit, fields)
	if got := stock(t, shop, id); got != 0 {
		t.Errorf("saving the form (%d) set the stock back to %d: the 5 units sold are for sale again", saved.StatusCode, got)
	}
	expectStatus(t, saved, http.StatusSeeOther)
	if n := count(t, shop, `SELECT count(*) FROM products WHERE id = $1 AND description = 'Now with a dough hook.'`, id); n != 1 {
		t.Error("the description was not saved")
	}
}

// TestStockChangedWhileAnAdminFormWasOpen: a stock typed into a form opened before an
// order is refused with the current stock on the form; saving that form again is a
// decision made knowing it.
func TestStockChangedWhileAnAdminFormWasOpen(t *testing.T) {
	shop := startShop(t)
	makeAdmin(t, shop, "admin@example.com")
	customer := newVisitor(t, shop)
	register(t, customer, "Carl Customer", "carl@example.com")
	adm := newVisitor(t, shop)
	expectStatus(t, signIn(t, adm, "admin@example.com", password), http.StatusSeeOther)
	id, _ := strconv.ParseInt(productID(t, shop, "27-inch-4k-monitor"), 10, 64) // first by name: on page 1
	edit := fmt.Sprintf("/admin/products/%d", id)
	setStock(t, shop, id, 5)

	t.Run("the edit form", func(t *testing.T) {
		fields := formValues(t, adm.get(edit), edit)
		sell(t, shop, "carl@example.com", id, 2) // 3 left
		fields.Set("stock", "20")
		fields.Set("name", "27-inch 4K Monitor (new)")
		p := adm.post(edit, fields)
		expectStatus(t, p, http.StatusConflict)
		expectContains(t, p, "Nothing was saved: the stock changed from 5 to 3", `id="f-stock-error"`, "It is 3 now. Saving again sets it to 20.", `value="20"`, `value="27-inch 4K Monitor (new)"`)
		checkAccessibility(t, p.Body)
		if got := stock(t, shop, id); got != 3 {
			t.Fatalf("stock %d after the refused save, want 3", got)
		}
		again := formValues(t, p, edit)
		if again.Get("expected_stock") != "3" {
			t.Fatalf("the form came back expecting stock %q, want 3", again.Get("expected_stock"))
		}
		expectStatus(t, adm.post(edit, again), http.StatusSeeOther)
		if got := stock(t, shop, id); got != 20 {
			t.Errorf("stock %d after saving again, want 20", got)
		}
	})

	t.Run("an edit form from before the expected stock", func(t *testing.T) {
		fields := formValues(t, adm.get(edit), edit)
		fields.Del("expected_stock")
		sell(t, shop, "carl@example.com", id, 1) // 19 left; the form says 20
		p := adm.post(edit, fields)
		expectStatus(t, p, http.StatusConflict)
		expectContains(t, p, "the stock changed from 20 to 19", `value="19"`, "It is 19 now, as shown: saving keeps it.")
		expectStatus(t, adm.post(edit, formValues(t, p, edit)), http.StatusSeeOther)
		if got := stock(t, shop, id); got != 19 {
			t.Errorf("stock %d, want 19", got)
		}
	})

	t.Run("the stock form of the list", func(t *testing.T) {
		action := edit + "/stock"
		fields := formValues(t, adm.get("/admin/products"), action)
		if fields.Get("expected_stock") != "19" {
			t.Fatalf("the row's form expects stock %q, want 19", fields.Get("expected_stock"))
		}
		sell(t, shop, "carl@example.com", id, 4) // 15 left
		fields.Set("stock", "40")
		p := adm.post(action, fields)
		expectStatus(t, p, http.StatusConflict)
		expectContains(t, p, "The stock was not changed: it went from 19 to 15", "It is 15 now. Saving again sets it to 40.", `value="40"`)
		checkAccessibility(t, p.Body)
		if got := stock(t, shop, id); got != 15 {
			t.Fatalf("stock %d after the refused set, want 15", got)
		}
		expectStatus(t, adm.post(action, formValues(t, p, action)), http.StatusSeeOther)
		if got := stock(t, shop, id); got != 40 {
			t.Errorf("stock %d after saving again, want 40", got)
		}
	})
}
