package database_test

import (
	"context"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/storefront-operator/storefront/shop/platform/database"
	"github.com/storefront-operator/storefront/test/testenv"
)

func TestMain(m *testing.M) {
	code := m.Run()
	stopPasswordServer()
	testenv.Stop()
	os.Exit(code)
}

func TestParseURL(t *testing.T) {
	tests := map[string]struct {
		url     string
		timeout time.Duration
		plan    string
		tls     bool
	}{
		"a bare URL gets a connect timeout and custom plans": {"postgres://u:p@db:5432/shop?sslmode=disable", 5 * time.Second, "force_custom_plan", false},
		"the URL's own settings win":                         {"postgres://u@db/shop?sslmode=disable&connect_timeout=2&plan_cache_mode=auto", 2 * time.Second, "auto", false},
		"sslmode=require turns TLS on":                       {"postgres://u@db/shop?sslmode=require", 5 * time.Second, "force_custom_plan", true},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			cfg, err := database.ParseURL(tt.url)
			if err != nil {
				t.Fatal(err)
			}
			c := cfg.ConnConfig
			if c.ConnectTimeout != tt.timeout || c.RuntimeParams["plan_cache_mode"] != tt.plan || (c.TLSConfig != nil) != tt.tls {
				t.Errorf("timeout %s, plan %q, TLS %v", c.ConnectTimeout, c.RuntimeParams["plan_cache_mode"], c.TLSConfig != nil)
			}
		})
	}
	_, err := database.ParseURL("postgres://u:s3cret@db:notaport/shop")
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("a bad URL: %v", err)
	}
}

func TestMigrate(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dbURL := testenv.PostgresURL(t)
	applied, err := database.Migrate(ctx, dbURL, nil)
	if err != nil || len(applied) == 0 || applied[0] != 1 {
		t.Fatalf("first run applied %v, %v", applied, err)
	}
	applied, err = database.Migrate(ctx, dbURL, nil)
	if err != nil || len(applied) != 0 {
		t.Fatalf("second run applied %v, %v", applied, err)
	}
	pool, err := database.Open(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if err := database.SchemaReady(ctx, pool); err != nil {
		t.Error(err)
	}

	t.Run("the schema enforces the catalog's invariants", func(t *testing.T) {
		if _, err := pool.Exec(ctx, `INSERT INTO categories (slug, name) VALUES ('tools', 'Tools')`); err != nil {
			t.Fatal(err)
		}
		insert := `INSERT INTO products (category_id, slug, name, description, price_minor, currency, stock)
			SELECT id, $1, $2, $3, $4, 'EUR', $5 FROM categories WHERE slug = 'tools'`
		if _, err := pool.Exec(ctx, insert, "claw-hammer", "Claw Hammer", "A forged steel hammer.", 2500, 3); err != nil {
			t.Fatal(err)
		}
		for name, args := range map[string][]any{
			"negative stock":    {"saw", "Saw", "", 100, -1},
			"a duplicate slug":  {"claw-hammer", "Other", "", 100, 1},
			"an all-digit slug": {"12345", "Digits", "", 100, 1},
			"a negative price":  {"pliers", "Pliers", "", -5, 1},
		} {
			if _, err := pool.Exec(ctx, insert, args...); err == nil {
				t.Errorf("%s was accepted", name)
			}
		}
		var weights string
		if err := pool.QueryRow(ctx, `SELECT search_vector::text FROM products WHERE slug = 'claw-hammer'`).Scan(&weights); err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"'hammer':2A", "'tool':3B", "'steel':6C"} {
			if !strings.Contains(weights, want) {
				t.Errorf("search vector %s lacks %s", weights, want)
			}
		}
		// Renaming the category re-weighs its products.
		if _, err := pool.Exec(ctx, `UPDATE categories SET name = 'Hardware' WHERE slug = 'tools'`); err != nil {
			t.Fatal(err)
		}
		if err := pool.QueryRow(ctx, `SELECT search_vector::text FROM products WHERE slug = 'claw-hammer'`).Scan(&weights); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(weights, "'hardwar':3B") || strings.Contains(weights, "'tool'") {
			t.Errorf("after the rename: %s", weights)
		}
		if _, err := pool.Exec(ctx, `INSERT INTO users (email, password_hash) VALUES ('Mixed@Example.com', 'x')`); err == nil {
			t.Error("a mixed-case email was stored")
		}
	})

	// product_search (migration 00007) is what search reads: it must follow every change
	// of a product's searched columns, and only those.
	t.Run("product_search follows the products", func(t *testing.T) {
		type row struct {
			Category, Price int64
			Name, Vector    string
		}
		read := func() (row, error) {
			var r row
			err := pool.QueryRow(ctx, `SELECT s.category_id, s.price_minor, s.name, s.search_vector::text
				FROM product_search s JOIN products p ON p.id = s.product_id
				WHERE p.slug = 'claw-hammer' AND s.category_id = p.category_id AND s.price_minor = p.price_minor
					AND s.created_at = p.created_at AND s.name = p.name AND s.search_vector = p.search_vector`).Scan(&r.Category, &r.Price, &r.Name, &r.Vector)
			return r, err
		}
		var options []string
		if err := pool.QueryRow(ctx, `SELECT reloptions FROM pg_class WHERE relname = 'product_search_vector_idx'`).Scan(&options); err != nil || !slices.Contains(options, "fastupdate=off") {
			t.Errorf("product_search_vector_idx options %q, %v: want fastupdate=off (no pending list for searches to scan)", options, err)
		}
		if _, err := pool.Exec(ctx, `INSERT INTO categories (slug, name) VALUES ('garden', 'Garden')`); err != nil {
			t.Fatal(err)
		}
		for _, change := range []string{
			`UPDATE products SET name = 'Framing Hammer' WHERE slug = 'claw-hammer'`,
			`UPDATE products SET description = 'Drop-forged, with a walnut handle.' WHERE slug = 'claw-hammer'`,
			`UPDATE products SET price_minor = 3100 WHERE slug = 'claw-hammer'`,
			`UPDATE products SET category_id = (SELECT id FROM categories WHERE slug = 'garden') WHERE slug = 'claw-hammer'`,
			`UPDATE categories SET name = 'Yard' WHERE slug = 'garden'`,
			`UPDATE products SET created_at = '2026-01-02T03:04:05Z' WHERE slug = 'claw-hammer'`,
		} {
			if _, err := pool.Exec(ctx, change); err != nil {
				t.Fatal(err)
			}
			if _, err := read(); err != nil {
				t.Errorf("after %s: product_search differs from products (%v)", change, err)
			}
		}
		r, err := read()
		if err != nil || r.Price != 3100 || r.Name != "Framing Hammer" || !strings.Contains(r.Vector, "'walnut'") || !strings.Contains(r.Vector, "'yard':3B") {
			t.Errorf("product_search row %+v, %v", r, err)
		}
		// Stock is not searched: an order's update leaves product_search's row as it was.
		var before, after string
		if err := pool.QueryRow(ctx, `SELECT s.ctid::text FROM product_search s JOIN products p ON p.id = s.product_id WHERE p.slug = 'claw-hammer'`).Scan(&before); err != nil {
			t.Fatal(err)
		}
		if _, err := pool.Exec(ctx, `UPDATE products SET stock = stock + 1 WHERE slug = 'claw-hammer'`); err != nil {
			t.Fatal(err)
		}
		if err := pool.QueryRow(ctx, `SELECT s.ctid::text FROM product_search s JOIN products p ON p.id = s.product_id WHERE p.slug = 'claw-hammer'`).Scan(&after); err != nil || after != before {
			t.Errorf("a stock update rewrote the product_search row: %s -> %s (%v)", before, after, err)
		}
		if _, err := pool.Exec(ctx, `DELETE FROM products WHERE slug = 'claw-hammer'`); err != nil {
			t.Fatal(err)
		}
		var left int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM product_search s WHERE NOT EXISTS (SELECT FROM products p WHERE p.id = s.product_id)`).Scan(&left); err != nil || left != 0 {
			t.Errorf("%d product_search rows outlived their product (%v)", left, err)
		}
	})
}
