package search_test

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/storefront-operator/storefront/shop/app"
	"github.com/storefront-operator/storefront/shop/catalog"
	"github.com/storefront-operator/storefront/shop/platform/database"
	"github.com/storefront-operator/storefront/shop/search"
	"github.com/storefront-operator/storefront/test/shoptest"
)

// lastStatement keeps the last statement a pool sent, with its arguments.
type lastStatement struct {
	sql  string
	args []any
}

func (l *lastStatement) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	l.sql, l.args = d.SQL, d.Args
	return ctx
}

func (l *lastStatement) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// TestSearchPlanFindsMatchesByTextOnly pins the plan of a normal uncached search at the
// benchmark's size (20,000 products, a max_price above every price, as make bench-shop
// sends): the matches come from the full-text index alone, and the price range filters
// them. Before, PostgreSQL ANDed a bitmap of the whole price index into the text's
// (reading all 20,000 entries: 5 of the statement's 10 ms for "mat").
func TestSearchPlanFindsMatchesByTextOnly(t *testing.T) {
	ctx := context.Background()
	dbURL := shoptest.MigratedDatabase(t, false)
	if _, err := app.SeedProducts(ctx, shoptest.Config(dbURL), 20000, nil); err != nil {
		t.Fatal(err)
	}
	cfg, err := database.ParseURL(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	last := &lastStatement{}
	cfg.ConnConfig.Tracer = last
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	maxPrice := int64(100_000_000)
	for _, text := range []string{"mat", "lamp"} {
		q := search.Query{Text: text, ListQuery: catalog.ListQuery{Page: 1, PerPage: 20, Sort: catalog.SortRelevance, Filter: catalog.Filter{MaxPrice: &maxPrice}}}
		items, _, match, err := search.NewPGStore(pool).Search(ctx, q, true)
		if err != nil || len(items) == 0 || match != search.MatchFullText {
			t.Fatalf("search %q: %d items, %s, %v", text, len(items), match, err)
		}
		rows, err := pool.Query(ctx, "EXPLAIN "+last.sql, last.args...)
		if err != nil {
			t.Fatal(err)
		}
		lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		plan := strings.Join(lines, "\n")
		if strings.Contains(plan, "products_price_idx") || !strings.Contains(plan, "Bitmap Index Scan on products_search_idx") {
			t.Errorf("search %q: want the matches from products_search_idx alone, plan:\n%s", text, plan)
		}
	}
}
