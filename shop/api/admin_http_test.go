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

// productInput is a valid product for the admin API.
func productInput(slug string) map[string]any {
	return map[string]any{"slug": slug, "name": "Test " + slug, "description": "A product.", "price": map[string]any{"amount": 1250, "currency": "EUR"},
		"category": "kitchen", "stock": 10, "image_url": "/static/img/categories/kitchen.svg", "attributes": map[string]any{"colour": "red"}}
}

func createProduct(t *testing.T, shop *shoptest.Shop, admin, slug string) int64 {
	t.Helper()
	resp, body := call(t, shop, "POST", "/api/v1/admin/products", admin, productInput(slug))
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("creating %s: %d %s", slug, resp.StatusCode, body)
	}
	return decode[catalog.Product](t, body).ID
}

func TestAdminRoutesRefuseOthers(t *testing.T) {
	shop := shoptest.Start(t, shoptest.Options{Demo: true})
	_, customer := newUser(t, shop)
	demoted, demotedToken := newAdmin(t, shop)
	exec(t, shop.DatabaseURL, `UPDATE users SET role = 'customer' WHERE id = $1`, demoted.ID)
	skillet := productID(t, shop, "cast-iron-skillet-26-cm")
	routes := []struct{ method, path, body string }{
		{"POST", "/api/v1/admin/products", `{}`},
		{"PUT", fmt.Sprintf("/api/v1/admin/products/%d", skillet), `{}`},
		{"DELETE", fmt.Sprintf("/api/v1/admin/products/%d", skillet), ``},
		{"PATCH", fmt.Sprintf("/api/v1/admin/products/%d/stock", skillet), `{"stock":0}`},
		{"POST", fmt.Sprintf("/api/v1/admin/products/%d/images", skillet), ``},
		{"PATCH", fmt.Sprintf("/api/v1/admin/products/%d/images/1", skillet), `{"position":0}`},
		{"DELETE", fmt.Sprintf("/api/v1/admin/products/%d/images/1", skillet), ``},
		{"POST", "/api/v1/admin/categories", `{}`},
		{"PUT", "/api/v1/admin/categories/1", `{}`},
		{"DELETE", "/api/v1/admin/categories/1", ``},
		{"GET", "/api/v1/admin/orders", ``},
		{"PATCH", "/api/v1/admin/orders/1", `{"status":"cancelled"}`},
		{"GET", "/api/v1/admin/totp", ``},
		{"POST", "/api/v1/admin/totp", ``},
		{"POST", "/api/v1/admin/totp/confirm", `{"code":"123456"}`},
	}
	// Every admin route of the router is in the list above.
	listed := map[string]bool{}
	for _, r := range routes {
		listed[r.method] = true
	}
	var n int
	for _, r := range shop.App.Router.Routes() {
		if strings.HasPrefix(r.Path, "/api/v1/admin/") {
			n++
		}
	}
	if n != len(routes) {
		t.Fatalf("the router has %d admin routes, the test covers %d", n, len(routes))
	}
	for _, r := range routes {
		for who, tc := range map[string]struct {
			token  string
			status int
		}{"anonymous": {"", 401}, "a customer": {customer, 403}, "a demoted admin with an admin token": {demotedToken, 403}, "a bad token": {"x.y.z", 401}} {
			t.Run(fmt.Sprintf("%s %s by %s", r.method, r.path, who), func(t *testing.T) {
				var body any
				if r.body != "" {
					body = r.body
				}
				resp, b := call(t, shop, r.method, r.path, tc.token, body)
				expectProblem(t, resp, b, tc.status, "")
			})
		}
	}
	if got := stockOf(t, shop, skillet); got != 55 {
		t.Errorf("the refused requests changed the stock to %d", got)
	}
}

func TestAdminProducts(t *testing.T) {
	shop := shoptest.Start(t, shoptest.Options{Demo: true})
	_, admin := newAdmin(t, shop)
	mat := productID(t, shop, "cork-yoga-mat")
	with := func(slug string, mutate func(m map[string]any)) map[string]any {
		m := productInput(slug)
		mutate(m)
		return m
	}
	// Read the list once so that it is cached: creating a product must invalidate it.
	_, before := shop.Get(t, "/api/v1/products?category=kitchen&per_page=100")

	tests := []adminCase{
		{name: "a product is created", method: "POST", path: "/api/v1/admin/products", body: productInput("new-pan"), status: 201, check: func(t *testing.T, body []byte) {
			p := decode[catalog.Product](t, body)
			if p.ID == 0 || p.Slug != "new-pan" || p.Price.Amount != 1250 || p.Category.Slug != "kitchen" || p.Stock != 10 || p.Attributes["colour"] != "red" {
				t.Errorf("product = %+v", p)
			}
			_, after := shop.Get(t, "/api/v1/products?category=kitchen&per_page=100")
			if string(after) == string(before) || !strings.Contains(string(after), `"new-pan"`) {
				t.Error("the cached list does not show the new product")
			}
			if resp, _ := shop.Get(t, "/api/v1/products/new-pan"); resp.StatusCode != 200 {
				t.Errorf("GET the new product: %d", resp.StatusCode)
			}
		}},
		{name: "a taken slug is 409", method: "POST", path: "/api/v1/admin/products", body: productInput("cork-yoga-mat"), status: 409},
		{name: "an unknown category is 422", method: "POST", path: "/api/v1/admin/products", body: with("x-1", func(m map[string]any) { m["category"] = "no-such" }), status: 422, field: "category"},
		{name: "another currency is 422", method: "POST", path: "/api/v1/admin/products", body: with("x-2", func(m map[string]any) { m["price"] = map[string]any{"amount": 1, "currency": "USD"} }), status: 422, field: "price.currency"},
		{name: "a negative price is 422", method: "POST", path: "/api/v1/admin/products", body: with("x-3", func(m map[string]any) { m["price"] = map[string]any{"amount": -1, "currency": "EUR"} }), status: 422, field: "price.amount"},
		{name: "a malformed slug is 422", method: "POST", path: "/api/v1/admin/products", body: with("Bad Slug", func(map[string]any) {}), status: 422, field: "slug"},
		{name: "an all-digit slug is 422", method: "POST", path: "/api/v1/admin/products", body: with("12345", func(map[string]any) {}), status: 422, field: "slug"},
		{name: "a negative stock is 422", method: "POST", path: "/api/v1/admin/products", body: with("x-4", func(m map[string]any) { m["stock"] = -1 }), status: 422, field: "stock"},
		{name: "a javascript: image URL is 422", method: "POST", path: "/api/v1/admin/products", body: with("x-5", func(m map[string]any) { m["image_url"] = "javascript:alert(1)" }), status: 422, field: "image_url"},
		{name: "a NUL in an attribute is 422", method: "POST", path: "/api/v1/admin/products", body: with("x-6", func(m map[string]any) { m["attributes"] = map[string]any{"a": "b\x00"} }), status: 422, field: "attributes"},
		{name: "an empty name is 422", method: "POST", path: "/api/v1/admin/products", body: with("x-7", func(m map[string]any) { m["name"] = "" }), status: 422, field: "name"},
		{name: "an unknown field is 400", method: "POST", path: "/api/v1/admin/products", body: `{"slug":"x","sku":"1"}`, status: 400, field: "sku"},
		{name: "a product is replaced", method: "PUT", path: fmt.Sprintf("/api/v1/admin/products/%d", mat), body: with("cork-yoga-mat", func(m map[string]any) {
			m["name"], m["category"], m["price"] = "Cork Mat", "fitness", map[string]any{"amount": 7100, "currency": "EUR"}
			delete(m, "stock") // kept: TestProductUpdatesAndTheStock
		}), status: 200, check: func(t *testing.T, body []byte) {
			if p := decode[catalog.Product](t, body); p.Name != "Cork Mat" || p.Price.Amount != 7100 || p.ID != mat || p.Stock != 42 {
				t.Errorf("product = %+v", p)
			}
			if amount, _ := price(t, shop, "cork-yoga-mat"); amount != 7100 {
				t.Errorf("the product page shows %d", amount)
			}
		}},
		{name: "replacing with a taken slug is 409", method: "PUT", path: fmt.Sprintf("/api/v1/admin/products/%d", mat), body: with("cast-iron-skillet-26-cm", func(m map[string]any) { delete(m, "stock") }), status: 409},
		{name: "replacing a missing product is 404", method: "PUT", path: "/api/v1/admin/products/987654321", body: productInput("ghost"), status: 404},
		{name: "the stock is set", method: "PATCH", path: fmt.Sprintf("/api/v1/admin/products/%d/stock", mat), body: `{"stock":3}`, status: 200, check: func(t *testing.T, body []byte) {
			if p := decode[catalog.Product](t, body); p.Stock != 3 {
				t.Errorf("stock %d", p.Stock)
			}
			_, body = shop.Get(t, "/api/v1/products/cork-yoga-mat")
			if p := decode[catalog.Product](t, body); p.Stock != 3 {
				t.Errorf("the product page shows stock %d", p.Stock)
			}
		}},
		{name: "a negative stock is refused", method: "PATCH", path: fmt.Sprintf("/api/v1/admin/products/%d/stock", mat), body: `{"stock":-5}`, status: 422, field: "stock"},
		{name: "a missing stock is refused", method: "PATCH", path: fmt.Sprintf("/api/v1/admin/products/%d/stock", mat), body: `{}`, status: 422, field: "stock"},
		{name: "a text stock is 400", method: "PATCH", path: fmt.Sprintf("/api/v1/admin/products/%d/stock", mat), body: `{"stock":"3"}`, status: 400, field: "stock"},
		{name: "the stock of a missing product is 404", method: "PATCH", path: "/api/v1/admin/products/987654321/stock", body: `{"stock":1}`, status: 404},
		{name: "deleting a missing product is 404", method: "DELETE", path: "/api/v1/admin/products/987654321", status: 404},
	}
	runAdminCases(t, shop, admin, tests)

	t.Run("a product in an open order cannot be deleted until the order is done", func(t *testing.T) {
		id := createProduct(t, shop, admin, "in-an-order")
		_, customer := newUser(t, shop)
		o := placeOrder(t, shop, customer, []map[string]any{item(id, 1)})
		path := fmt.Sprintf("/api/v1/admin/products/%d", id)
		resp, body := call(t, shop, "DELETE", path, admin, nil)
		expectProblem(t, resp, body, 409, "")
		for _, st := range []string{"shipped", "delivered"} {
			if resp, body := call(t, shop, "PATCH", fmt.Sprintf("/api/v1/admin/orders/%d", o.ID), admin, map[string]string{"status": st}); resp.StatusCode != 200 {
				t.Fatalf("%s: %d %s", st, resp.StatusCode, body)
			}
		}
		if resp, body := call(t, shop, "DELETE", path, admin, nil); resp.StatusCode != 204 {
			t.Fatalf("delete: %d %s", resp.StatusCode, body)
		}
		if resp, _ := shop.Get(t, "/api/v1/products/in-an-order"); resp.StatusCode != 404 {
			t.Errorf("the deleted product answers %d", resp.StatusCode)
		}
		_, body = call(t, shop, "GET", fmt.Sprintf("/api/v1/orders/%d", o.ID), customer, nil)
		if got := decode[orders.Order](t, body); len(got.Items) != 1 || got.Items[0].Name != "Test in-an-order" {
			t.Errorf("the order lost its line: %+v", got)
		}
	})
}

func TestAdminCategories(t *testing.T) {
	shop := shoptest.Start(t, shoptest.Options{Demo: true})
	_, admin := newAdmin(t, shop)
	kitchen := queryInt(t, shop.DatabaseURL, `SELECT id FROM categories WHERE slug = 'kitchen'`)
	_, before := shop.Get(t, "/api/v1/categories")
	var created catalog.Category

	tests := []adminCase{
		{name: "a category is created", method: "POST", path: "/api/v1/admin/categories", body: `{"slug":"garden","name":"Garden","description":"Outside."}`, status: 201, check: func(t *testing.T, body []byte) {
			created = decode[catalog.Category](t, body)
			if created.ID == 0 || created.Slug != "garden" || created.Name != "Garden" || created.ProductCount != 0 {
				t.Errorf("category = %+v", created)
			}
			if _, after := shop.Get(t, "/api/v1/categories"); string(after) == string(before) || !strings.Contains(string(after), `"garden"`) {
				t.Error("the cached category list does not show the new category")
			}
		}},
		{name: "a taken slug is 409", method: "POST", path: "/api/v1/admin/categories", body: `{"slug":"kitchen","name":"Kitchen 2"}`, status: 409},
		{name: "a missing name is 422", method: "POST", path: "/api/v1/admin/categories", body: `{"slug":"nameless"}`, status: 422, field: "name"},
		{name: "a malformed slug is 422", method: "POST", path: "/api/v1/admin/categories", body: `{"slug":"-bad-","name":"Bad"}`, status: 422, field: "slug"},
		{name: "a category is renamed", method: "PUT", path: fmt.Sprintf("/api/v1/admin/categories/%d", kitchen), body: `{"slug":"kitchen","name":"Cooking","description":"Pots."}`, status: 200, check: func(t *testing.T, body []byte) {
			if c := decode[catalog.Category](t, body); c.Name != "Cooking" || c.ProductCount < 1 {
				t.Errorf("category = %+v", c)
			}
			_, body = shop.Get(t, "/api/v1/products/cast-iron-skillet-26-cm")
			if p := decode[catalog.Product](t, body); p.Category.Name != "Cooking" {
				t.Errorf("the product page shows category %q", p.Category.Name)
			}
		}},
		{name: "renaming to a taken slug is 409", method: "PUT", path: fmt.Sprintf("/api/v1/admin/categories/%d", kitchen), body: `{"slug":"books","name":"Books"}`, status: 409},
		{name: "replacing a missing category is 404", method: "PUT", path: "/api/v1/admin/categories/987654321", body: `{"slug":"ghost","name":"Ghost"}`, status: 404},
		{name: "a category with products cannot be deleted", method: "DELETE", path: fmt.Sprintf("/api/v1/admin/categories/%d", kitchen), status: 409},
		{name: "deleting a missing category is 404", method: "DELETE", path: "/api/v1/admin/categories/987654321", status: 404},
	}
	runAdminCases(t, shop, admin, tests)
	t.Run("an empty category is deleted", func(t *testing.T) {
		if resp, body := call(t, shop, "DELETE", fmt.Sprintf("/api/v1/admin/categories/%d", created.ID), admin, nil); resp.StatusCode != 204 {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
		if _, body := shop.Get(t, "/api/v1/categories"); strings.Contains(string(body), `"garden"`) {
			t.Error("the deleted category is still listed")
		}
	})
}

func TestAdminOrders(t *testing.T) {
	shop := shoptest.Start(t, shoptest.Options{Demo: true})
	_, admin := newAdmin(t, shop)
	alice, aliceToken := newUser(t, shop)
	_, bobToken := newUser(t, shop)
	mat := productID(t, shop, "cork-yoga-mat")
	a := placeOrder(t, shop, aliceToken, []map[string]any{item(mat, 2)})
	b := placeOrder(t, shop, bobToken, []map[string]any{item(mat, 1)})
	c := placeOrder(t, shop, bobToken, []map[string]any{item(mat, 1)})
	patch := func(t *testing.T, id int64, status string) (*http.Response, []byte) {
		return call(t, shop, "PATCH", fmt.Sprintf("/api/v1/admin/orders/%d", id), admin, map[string]string{"status": status})
	}

	lists := map[string]struct {
		query  string
		want   []int64
		status int
		field  string
	}{
		"every order, newest first":             {query: "", want: []int64{c.ID, b.ID, a.ID}, status: 200},
		"by customer email, any case":           {query: "email=" + strings.ToUpper(alice.Email), want: []int64{a.ID}, status: 200},
		"by user id":                            {query: fmt.Sprintf("user_id=%d", alice.ID), want: []int64{a.ID}, status: 200},
		"by status":                             {query: "status=paid&per_page=2", want: []int64{c.ID, b.ID}, status: 200},
		"a status with no orders":               {query: "status=shipped", want: []int64{}, status: 200},
		"an unknown status is 400":              {query: "status=lost", status: 400, field: "status"},
		"a user id that is not a number is 400": {query: "user_id=abc", status: 400, field: "user_id"},
		"per_page out of range is 400":          {query: "per_page=0", status: 400, field: "per_page"},
	}
	for name, tt := range lists {
		t.Run("list: "+name, func(t *testing.T) {
			resp, body := call(t, shop, "GET", "/api/v1/admin/orders?"+tt.query, admin, nil)
			if tt.status != 200 {
				expectProblem(t, resp, body, tt.status, tt.field)
				return
			}
			p := decode[orders.Page](t, body)
			got := []int64{}
			for _, o := range p.Items {
				got = append(got, o.ID)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("orders %v, want %v", got, tt.want)
			}
			if strings.Contains(tt.query, "status=paid") && p.Total != 3 {
				t.Errorf("total %d, want 3", p.Total)
			}
		})
	}

	stock := stockOf(t, shop, mat)
	steps := []struct {
		name   string
		id     int64
		to     string
		status int
		field  string
		stock  int64 // the stock change the step makes
	}{
		{name: "paid to shipped", id: a.ID, to: "shipped", status: 200},
		{name: "shipped cannot be cancelled", id: a.ID, to: "cancelled", status: 409},
		{name: "shipped cannot go back to paid", id: a.ID, to: "paid", status: 409},
		{name: "shipped to delivered", id: a.ID, to: "delivered", status: 200},
		{name: "delivered is final", id: a.ID, to: "shipped", status: 409},
		{name: "paid cannot skip to delivered", id: b.ID, to: "delivered", status: 409},
		{name: "paid to paid is not a transition", id: b.ID, to: "paid", status: 409},
		{name: "paid to cancelled restocks", id: b.ID, to: "cancelled", status: 200, stock: 1},
		{name: "cancelled is final and restocks once", id: b.ID, to: "cancelled", status: 409},
		{name: "an unknown status is 422", id: c.ID, to: "lost", status: 422, field: "status"},
		{name: "a missing order is 404", id: 987654321, to: "shipped", status: 404},
	}
	for _, st := range steps {
		t.Run("transition: "+st.name, func(t *testing.T) {
			resp, body := patch(t, st.id, st.to)
			if st.status != 200 {
				expectProblem(t, resp, body, st.status, st.field)
			} else if o := decode[orders.Order](t, body); resp.StatusCode != 200 || string(o.Status) != st.to {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			stock += st.stock
			if got := stockOf(t, shop, mat); got != stock {
				t.Errorf("stock %d, want %d", got, stock)
			}
		})
	}
	t.Run("the customer sees the new status", func(t *testing.T) {
		_, body := call(t, shop, "GET", fmt.Sprintf("/api/v1/orders/%d", a.ID), aliceToken, nil)
		if o := decode[orders.Order](t, body); o.Status != orders.StatusDelivered {
			t.Errorf("status %s", o.Status)
		}
	})
	t.Run("a body without status is 422", func(t *testing.T) {
		resp, body := call(t, shop, "PATCH", fmt.Sprintf("/api/v1/admin/orders/%d", c.ID), admin, `{}`)
		expectProblem(t, resp, body, 422, "status")
	})
}

// adminCase is one admin request and what it must answer: a problem with status (and
// the field it names) for 4xx, else the status and whatever check verifies in the body.
type adminCase struct {
	name, method, path string
	body               any
	status             int
	field              string
	check              func(t *testing.T, body []byte)
}

// runAdminCases sends each case as admin, in order (later cases build on earlier ones).
func runAdminCases(t *testing.T, shop *shoptest.Shop, admin string, tests []adminCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := call(t, shop, tt.method, tt.path, admin, tt.body)
			if tt.status >= 400 {
				expectProblem(t, resp, body, tt.status, tt.field)
				return
			}
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			if tt.check != nil {
				tt.check(t, body)
			}
		})
	}
}
