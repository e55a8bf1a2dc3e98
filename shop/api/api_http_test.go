package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/storefront-operator/storefront/shop/catalog"
	"github.com/storefront-operator/storefront/shop/platform/config"
	"github.com/storefront-operator/storefront/shop/search"
	"github.com/storefront-operator/storefront/test/shoptest"
	"github.com/storefront-operator/storefront/test/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

type problemBody struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
	Errors []struct {
		Field   string `json:"field"`
		Message string `json:"message"`
	} `json:"errors"`
}

// expectProblem checks that resp is a problem with status and, when field is set, an
// error naming field.
func expectProblem(t *testing.T, resp *http.Response, body []byte, status int, field string) {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("status = %d, want %d: %s", resp.StatusCode, status, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("Content-Type = %q, want application/problem+json", ct)
	}
	var p problemBody
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatalf("problem is not JSON: %v: %s", err, body)
	}
	if p.Status != status || p.Title == "" || p.Type == "" {
		t.Errorf("problem = %+v", p)
	}
	if field == "" {
		return
	}
	for _, e := range p.Errors {
		if e.Field == field && e.Message != "" {
			return
		}
	}
	t.Errorf("problem does not name field %q: %s", field, body)
}

func decode[T any](t *testing.T, body []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("decoding %s: %v", body, err)
	}
	return v
}

func TestCategories(t *testing.T) {
	shop := shoptest.Start(t, shoptest.Options{Demo: true})
	resp, body := shop.Get(t, "/api/v1/categories")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	got := decode[struct{ Items []catalog.Category }](t, body)
	if len(got.Items) < 8 {
		t.Fatalf("%d categories, want at least 8", len(got.Items))
	}
	var total int64
	for i, c := range got.Items {
		if c.ID == 0 || c.Slug == "" || c.Name == "" || c.Description == "" || c.ProductCount < 1 {
			t.Errorf("category %+v is incomplete", c)
		}
		if i > 0 && got.Items[i-1].Name > c.Name {
			t.Errorf("categories not by name: %q before %q", got.Items[i-1].Name, c.Name)
		}
		total += c.ProductCount
	}
	if total < 60 {
		t.Errorf("the demo catalog has %d products, want at least 60", total)
	}

	t.Run("an empty catalog lists no categories", func(t *testing.T) {
		empty := shoptest.Start(t, shoptest.Options{})
		resp, body := empty.Get(t, "/api/v1/categories")
		if resp.StatusCode != 200 || strings.TrimSpace(string(body)) != `{"items":[]}` {
			t.Errorf("status %d, body %s", resp.StatusCode, body)
		}
	})
}

func TestListProducts(t *testing.T) {
	shop := shoptest.Start(t, shoptest.Options{Demo: true})
	total := countProducts(t, shop.DatabaseURL, "")

	type check func(t *testing.T, page catalog.ProductPage)
	sorted := func(less func(a, b catalog.Product) bool) check {
		return func(t *testing.T, page catalog.ProductPage) {
			for i := 1; i < len(page.Items); i++ {
				if less(page.Items[i], page.Items[i-1]) {
					t.Errorf("items %d and %d out of order: %+v / %+v", i-1, i, page.Items[i-1].Name, page.Items[i].Name)
				}
			}
		}
	}
	tests := map[string]struct {
		query  string
		status int
		field  string
		check  check
	}{
		"the default is the first page of 20, newest first": {query: "", status: 200, check: func(t *testing.T, p catalog.ProductPage) {
			if p.Page != 1 || p.PerPage != 20 || p.Total != total || len(p.Items) != 20 {
				t.Errorf("page %d per_page %d total %d items %d; want 1, 20, %d, 20", p.Page, p.PerPage, p.Total, len(p.Items), total)
			}
			sorted(func(a, b catalog.Product) bool { return a.CreatedAt.After(b.CreatedAt) })(t, p)
			first := p.Items[0]
			if first.Price.Currency != "EUR" || first.Price.Amount <= 0 || first.Category.Slug == "" || first.ImageURL == "" || first.Slug == "" || len(first.Attributes) == 0 {
				t.Errorf("product is incomplete: %+v", first)
			}
		}},
		"a category filter keeps that category only": {query: "category=books&per_page=100", status: 200, check: func(t *testing.T, p catalog.ProductPage) {
			if p.Total != countProducts(t, shop.DatabaseURL, "books") || int64(len(p.Items)) != p.Total {
				t.Errorf("total %d, items %d", p.Total, len(p.Items))
			}
			for _, it := range p.Items {
				if it.Category.Slug != "books" {
					t.Errorf("%s is in %s", it.Slug, it.Category.Slug)
				}
			}
		}},
		"a price range keeps prices within it": {query: "min_price=2000&max_price=5000&per_page=100", status: 200, check: func(t *testing.T, p catalog.ProductPage) {
			if len(p.Items) == 0 || int64(len(p.Items)) != p.Total {
				t.Fatalf("total %d, items %d", p.Total, len(p.Items))
			}
			for _, it := range p.Items {
				if it.Price.Amount < 2000 || it.Price.Amount > 5000 {
					t.Errorf("%s costs %d", it.Slug, it.Price.Amount)
				}
			}
		}},
		"price_asc sorts by price up":    {query: "sort=price_asc&per_page=100", status: 200, check: sorted(func(a, b catalog.Product) bool { return a.Price.Amount < b.Price.Amount })},
		"price_desc sorts by price down": {query: "sort=price_desc&per_page=100", status: 200, check: sorted(func(a, b catalog.Product) bool { return a.Price.Amount > b.Price.Amount })},
		"name sorts alphabetically":      {query: "sort=name&per_page=100", status: 200, check: sorted(func(a, b catalog.Product) bool { return a.Name < b.Name })},
		"the second page continues the first": {query: "sort=name&per_page=5&page=2", status: 200, check: func(t *testing.T, p catalog.ProductPage) {
			_, body := shop.Get(t, "/api/v1/products?sort=name&per_page=10")
			ten := decode[catalog.ProductPage](t, body)
			for i := range p.Items {
				if p.Items[i].ID != ten.Items[5+i].ID {
					t.Errorf("page 2 item %d is %s, want %s", i, p.Items[i].Slug, ten.Items[5+i].Slug)
				}
			}
		}},
		"a page past the end is empty but keeps the total": {query: "page=500", status: 200, check: func(t *testing.T, p catalog.ProductPage) {
			if len(p.Items) != 0 || p.Total != total || p.Page != 500 {
				t.Errorf("items %d total %d page %d", len(p.Items), p.Total, p.Page)
			}
		}},
		"an unknown category lists nothing": {query: "category=no-such-thing", status: 200, check: func(t *testing.T, p catalog.ProductPage) {
			if len(p.Items) != 0 || p.Total != 0 {
				t.Errorf("items %d total %d", len(p.Items), p.Total)
			}
		}},
		"per_page 0 is out of range":      {query: "per_page=0", status: 400, field: "per_page"},
		"per_page 101 is out of range":    {query: "per_page=101", status: 400, field: "per_page"},
		"page 0 is out of range":          {query: "page=0", status: 400, field: "page"},
		"a page that is not a number":     {query: "page=two", status: 400, field: "page"},
		"a negative price":                {query: "min_price=-1", status: 400, field: "min_price"},
		"a fractional price":              {query: "max_price=19.99", status: 400, field: "max_price"},
		"a price beyond any product":      {query: "max_price=99999999999999999999", status: 400, field: "max_price"},
		"max_price below min_price":       {query: "min_price=500&max_price=100", status: 400, field: "max_price"},
		"an unknown sort":                 {query: "sort=popular", status: 400, field: "sort"},
		"relevance is a search sort only": {query: "sort=relevance", status: 400, field: "sort"},
		"a category that is not a slug":   {query: "category=" + url.QueryEscape("Books & More"), status: 400, field: "category"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			resp, body := shop.Get(t, "/api/v1/products?"+tt.query)
			if tt.status != 200 {
				expectProblem(t, resp, body, tt.status, tt.field)
				return
			}
			if resp.StatusCode != 200 {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			tt.check(t, decode[catalog.ProductPage](t, body))
		})
	}
}

func countProducts(t *testing.T, dbURL, category string) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close(ctx) }()
	var n int64
	err = conn.QueryRow(ctx, `SELECT count(*) FROM products p JOIN categories c ON c.id = p.category_id WHERE $1 = '' OR c.slug = $1`, category).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func exec(t *testing.T, dbURL, sql string, args ...any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close(ctx) }()
	if _, err := conn.Exec(ctx, sql, args...); err != nil {
		t.Fatal(err)
	}
}

// TestSearchBounds is the adversarial search: a long random text, a statement that
// outlives its timeout, and a client past its rate.
func TestSearchBounds(t *testing.T) {
	dbURL := shoptest.MigratedDatabase(t, true)
	t.Run("a long random text matching nothing never falls back to similarity", func(t *testing.T) {
		shop := shoptest.Start(t, shoptest.Options{DatabaseURL: dbURL})
		long := strings.Repeat("espreso machne ", 3)[:search.MaxSimilarLength+1]
		resp, body := shop.Get(t, "/api/v1/search?q="+url.QueryEscape(long))
		if resp.StatusCode != 200 {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
		if r := decode[search.Result](t, body); r.Match != search.MatchFullText || r.Total != 0 || len(r.Items) != 0 {
			t.Errorf("a %d-character typo: %+v", len(long), r)
		}
		random := make([]byte, search.MaxQueryLength)
		for i := range random {
			random[i] = "abcdefghijklmnopqrstuvwxyz0123456789 "[i*7919%37]
		}
		resp, body = shop.Get(t, "/api/v1/search?q="+url.QueryEscape(string(random)))
		if resp.StatusCode != 200 {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
		if r := decode[search.Result](t, body); r.Match != search.MatchFullText || r.Total != 0 {
			t.Errorf("200 random characters: %+v", r)
		}
	})

	t.Run("a statement past the statement timeout is 503 with Retry-After, and counted", func(t *testing.T) {
		shop := shoptest.Start(t, shoptest.Options{DatabaseURL: dbURL, Config: func(c *config.Config) { c.ShopperStatementTimeout = 200 * time.Millisecond }})
		// A lock nothing else takes makes the search wait: statement_timeout counts the
		// wait, so the statement runs out of time whatever the machine's speed.
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		conn, err := pgx.Connect(ctx, dbURL)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = conn.Close(ctx) }()
		tx, err := conn.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = tx.Rollback(ctx) }()
		if _, err := tx.Exec(ctx, `LOCK TABLE products IN ACCESS EXCLUSIVE MODE`); err != nil {
			t.Fatal(err)
		}
		before := metric(t, shop, `shop_db_statement_timeouts_total`)
		resp, body := shop.Get(t, "/api/v1/search?q=lamp")
		expectProblem(t, resp, body, 503, "")
		if resp.Header.Get("Retry-After") != "1" {
			t.Errorf("Retry-After = %q", resp.Header.Get("Retry-After"))
		}
		if n := metric(t, shop, `shop_db_statement_timeouts_total`) - before; n != 1 {
			t.Errorf("shop_db_statement_timeouts_total grew by %v", n)
		}
		_ = tx.Rollback(ctx)
		if resp, body := shop.Get(t, "/api/v1/search?q=lamp"); resp.StatusCode != 200 {
			t.Errorf("after the lock: %d %s", resp.StatusCode, body)
		}
	})

	t.Run("a client past its search rate gets 429 with Retry-After; another client does not", func(t *testing.T) {
		shop := shoptest.Start(t, shoptest.Options{DatabaseURL: dbURL, Config: func(c *config.Config) {
			c.TrustedProxies = []string{"127.0.0.1/32"}
			c.SearchRate = 0.01 // one search per 100 s, a burst of 1
		}})
		from := func(ip string) (*http.Response, []byte) {
			return call(t, shop, "GET", "/api/v1/search?q=lamp", "", nil, "X-Forwarded-For", ip)
		}
		if resp, body := from("203.0.113.9"); resp.StatusCode != 200 {
			t.Fatalf("the first search: %d %s", resp.StatusCode, body)
		}
		resp, body := from("203.0.113.9")
		expectProblem(t, resp, body, 429, "")
		if ra, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || ra < 90 || ra > 100 {
			t.Errorf("Retry-After = %q, want about 100", resp.Header.Get("Retry-After"))
		}
		if resp, body := from("198.51.100.9"); resp.StatusCode != 200 {
			t.Errorf("another client: %d %s", resp.StatusCode, body)
		}
	})
}

func TestGetProduct(t *testing.T) {
	shop := shoptest.Start(t, shoptest.Options{Demo: true})
	_, body := shop.Get(t, "/api/v1/products/cast-iron-skillet-26-cm")
	bySlug := decode[catalog.Product](t, body)

	tests := map[string]struct {
		path   string
		status int
	}{
		"by slug":                       {"/api/v1/products/cast-iron-skillet-26-cm", 200},
		"by id":                         {"/api/v1/products/" + jsonInt(bySlug.ID), 200},
		"an unknown slug is 404":        {"/api/v1/products/no-such-product", 404},
		"an unknown id is 404":          {"/api/v1/products/987654321", 404},
		"id zero is 404":                {"/api/v1/products/0", 404},
		"an id beyond int64 is 404":     {"/api/v1/products/99999999999999999999999", 404},
		"a malformed slug is 404":       {"/api/v1/products/Cast_Iron", 404},
		"a path below a product is 404": {"/api/v1/products/cast-iron-skillet-26-cm/reviews", 404},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			resp, body := shop.Get(t, tt.path)
			if tt.status != 200 {
				expectProblem(t, resp, body, tt.status, "")
				return
			}
			if resp.StatusCode != 200 {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			p := decode[catalog.Product](t, body)
			if p.ID != bySlug.ID || p.Slug != "cast-iron-skillet-26-cm" || p.Name != "Cast Iron Skillet 26 cm" ||
				p.Category.Slug != "kitchen" || p.Price.Amount != 4900 || p.Stock != 55 || p.Attributes["material"] != "cast iron" {
				t.Errorf("product = %+v", p)
			}
			var raw map[string]any
			_ = json.Unmarshal(body, &raw)
			for _, k := range []string{"id", "slug", "name", "description", "price", "category", "stock", "image_url", "attributes"} {
				if _, ok := raw[k]; !ok {
					t.Errorf("product JSON lacks %q", k)
				}
			}
		})
	}
}

func jsonInt(n int64) string { b, _ := json.Marshal(n); return string(b) }

func TestSearch(t *testing.T) {
	shop := shoptest.Start(t, shoptest.Options{Demo: true})
	get := func(t *testing.T, query string) search.Result {
		t.Helper()
		resp, body := shop.Get(t, "/api/v1/search?"+query)
		if resp.StatusCode != 200 {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
		return decode[search.Result](t, body)
	}
	facetSum := func(r search.Result) int64 {
		var n int64
		for _, f := range r.Facets.Categories {
			n += f.Count
		}
		return n
	}

	t.Run("a word in a name finds the product first", func(t *testing.T) {
		r := get(t, "q=espresso")
		if r.Match != search.MatchFullText || len(r.Items) == 0 || !strings.Contains(strings.ToLower(r.Items[0].Name), "espresso") {
			t.Fatalf("result = %+v", r)
		}
		if r.Total != facetSum(r) || r.Total < 2 {
			t.Errorf("total %d, facets sum %d", r.Total, facetSum(r))
		}
	})
	t.Run("names weigh more than descriptions", func(t *testing.T) {
		// "cast iron" is in the names of the skillet and the teapot, and in descriptions.
		r := get(t, "q=bread")
		if len(r.Items) < 2 || !strings.Contains(strings.ToLower(r.Items[0].Name), "bread") {
			t.Fatalf("first result for bread is %q", r.Items[0].Name)
		}
	})
	t.Run("a category name matches its products", func(t *testing.T) {
		r := get(t, "q=outdoor&per_page=100")
		if r.Total < 8 {
			t.Fatalf("outdoor matched %d products", r.Total)
		}
		for _, it := range r.Items[:8] {
			if it.Category.Slug != "outdoor" {
				t.Errorf("top result %s is in %s", it.Slug, it.Category.Slug)
			}
		}
	})
	t.Run("a typo falls back to similar names", func(t *testing.T) {
		r := get(t, "q="+url.QueryEscape("espreso machne"))
		if r.Match != search.MatchSimilar || len(r.Items) == 0 || r.Items[0].Slug != "espresso-machine-with-steam-wand" {
			t.Fatalf("match %s, items %+v", r.Match, r.Items)
		}
	})
	t.Run("facets ignore the category filter and the total follows it", func(t *testing.T) {
		all := get(t, "q=coffee")
		only := get(t, "q=coffee&category=coffee-tea")
		if len(only.Facets.Categories) != len(all.Facets.Categories) {
			t.Errorf("facets changed with the category filter: %+v vs %+v", only.Facets, all.Facets)
		}
		var want int64
		for _, f := range all.Facets.Categories {
			if f.Slug == "coffee-tea" {
				want = f.Count
			}
		}
		if want == 0 || only.Total != want {
			t.Errorf("filtered total %d, coffee-tea facet %d", only.Total, want)
		}
		for _, it := range only.Items {
			if it.Category.Slug != "coffee-tea" {
				t.Errorf("%s is in %s", it.Slug, it.Category.Slug)
			}
		}
	})
	t.Run("sorts and price filters apply to results", func(t *testing.T) {
		r := get(t, "q=coffee&sort=price_asc&max_price=5000")
		if len(r.Items) == 0 {
			t.Fatal("no results")
		}
		if !sort.SliceIsSorted(r.Items, func(i, j int) bool { return r.Items[i].Price.Amount < r.Items[j].Price.Amount }) {
			t.Error("not sorted by price")
		}
		for _, it := range r.Items {
			if it.Price.Amount > 5000 {
				t.Errorf("%s costs %d", it.Slug, it.Price.Amount)
			}
		}
	})
	t.Run("web-search syntax and SQL-looking text are just text", func(t *testing.T) {
		for _, q := range []string{`"cast iron" -skillet`, `'); DROP TABLE products; --`, `coffee OR tea`, `!!! ::: &&&`} {
			resp, body := shop.Get(t, "/api/v1/search?q="+url.QueryEscape(q))
			if resp.StatusCode != 200 {
				t.Errorf("q=%q: status %d: %s", q, resp.StatusCode, body)
			}
		}
		if n := countProducts(t, shop.DatabaseURL, ""); n < 60 {
			t.Errorf("the catalog has %d products after the searches", n)
		}
	})
	t.Run("a search is one statement, the fallback's included", func(t *testing.T) {
		for _, q := range []string{"espresso", "espreso machne", "zzqxjv", "coffee&category=outdoor&page=9"} {
			before := metric(t, shop, dbQueries)
			get(t, "q="+strings.ReplaceAll(q, " ", "+")+"&max_price=99999999") // a price no other request used: a cache miss
			if n := metric(t, shop, dbQueries) - before; n != 1 {
				t.Errorf("q=%s ran %v statements", q, n)
			}
		}
	})
	t.Run("nothing similar is an empty result", func(t *testing.T) {
		r := get(t, "q=zzqxjv")
		if len(r.Items) != 0 || r.Total != 0 || r.Facets.Categories == nil {
			t.Errorf("result = %+v", r)
		}
	})

	bad := map[string]struct {
		query string
		field string
	}{
		"a missing q":                    {"", "q"},
		"a blank q":                      {"q=" + url.QueryEscape("   "), "q"},
		"a q longer than 200 characters": {"q=" + strings.Repeat("a", 201), "q"},
		"a q with a NUL byte":            {"q=a%00b", "q"},
		"a q that is not UTF-8":          {"q=%ff%fe", "q"},
		"per_page out of range":          {"q=tea&per_page=1000", "per_page"},
		"an unknown sort":                {"q=tea&sort=best", "sort"},
		"a negative min_price":           {"q=tea&min_price=-5", "min_price"},
	}
	for name, tt := range bad {
		t.Run(name+" is 400", func(t *testing.T) {
			resp, body := shop.Get(t, "/api/v1/search?"+tt.query)
			expectProblem(t, resp, body, 400, tt.field)
		})
	}
}
