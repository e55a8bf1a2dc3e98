package search_test

import (
	"context"
	"fmt"
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

// TestSearchPlansAreGeneric pins the plans of the searches at the benchmark's size
// (20,000 products, as make bench-shop seeds them). The search's pool plans once per
// connection and statement (plan_cache_mode force_generic_plan, search.ConfigurePool:
// planning with the values cost 0.9-1.0 ms a search), so the one generic plan of each
// statement must be good for every value:
//   - the matches come from the full-text index alone, never ANDed with a bitmap of the
//     price index (which read all 20,000 entries: 5 of the statement's 10 ms for "mat"
//     when PostgreSQL underestimated a wide range);
//   - the text is parsed into a tsquery once (an InitPlan), not by ts_rank's argument
//     for every match, which a generic plan cannot fold into a constant (6.5 against
//     2.6 ms for "walnut", 1,300 matches).
//
// The plan is PostgreSQL's own: EXPLAIN (VERBOSE) EXECUTE of the statement prepared on a
// connection of a pool configured as the shop's (PostgreSQL 15 docs, "PREPARE": under
// force_generic_plan EXECUTE runs the cached generic plan, whose parameters EXPLAIN shows
// as $n and never the values).
func TestSearchPlansAreGeneric(t *testing.T) {
	ctx := context.Background()
	dbURL := shoptest.MigratedDatabase(t, false)
	if _, err := app.SeedProducts(ctx, shoptest.Config(dbURL), 20000, nil); err != nil {
		t.Fatal(err)
	}
	cfg, err := database.ParseURL(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	search.ConfigurePool(cfg)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)

	// The statements answer through the generic plans: the bench's request, and a typo.
	maxPrice := int64(100_000_000)
	for text, want := range map[string]search.Match{"mat": search.MatchFullText, "walnut": search.MatchFullText, "walnot": search.MatchSimilar} {
		q := search.Query{Text: text, ListQuery: catalog.ListQuery{Page: 1, PerPage: 20, Sort: catalog.SortRelevance, Filter: catalog.Filter{MaxPrice: &maxPrice}}}
		items, facets, match, err := search.NewPGStore(pool).Search(ctx, q, true)
		if err != nil || len(items) != 20 || len(facets) == 0 || match != want {
			t.Errorf("search %q: %d items, %d facets, %s (want 20, some, %s), %v", text, len(items), len(facets), match, want, err)
		}
	}

	conn, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	var mode string
	if err := conn.QueryRow(ctx, "SHOW plan_cache_mode").Scan(&mode); err != nil || mode != "force_generic_plan" {
		t.Fatalf("plan_cache_mode = %q, %v; want force_generic_plan", mode, err)
	}
	for _, sort := range search.Sorts {
		for _, sh := range catalog.Shapes {
			t.Run(fmt.Sprintf("sort %s, price %v, category %v", sort, sh.Price, sh.Category), func(t *testing.T) {
				// $1 text, $2 limit, $3 offset, $4 similar, [$5 $6 price], [category].
				args := []string{"'walnut'", "20", "0", "true"}
				if sh.Price {
					args = append(args, "0", "100000000")
				}
				if sh.Category {
					args = append(args, "'kitchen'")
				}
				if _, err := conn.Conn().Prepare(ctx, "probe", search.StatementOf(sort, sh)); err != nil {
					t.Fatal(err)
				}
				defer func() {
					if err := conn.Conn().Deallocate(ctx, "probe"); err != nil {
						t.Error(err)
					}
				}()
				rows, err := conn.Query(ctx, "EXPLAIN (VERBOSE) EXECUTE probe("+strings.Join(args, ", ")+")")
				if err != nil {
					t.Fatal(err)
				}
				lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
				if err != nil {
					t.Fatal(err)
				}
				plan := strings.Join(lines, "\n")
				if strings.Contains(plan, "walnut") {
					t.Errorf("the plan holds the value, it is not the generic plan:\n%s", plan)
				}
				if strings.Contains(plan, "products_price_idx") || !strings.Contains(plan, "Bitmap Index Scan on product_search_vector_idx") {
					t.Errorf("want the matches from product_search_vector_idx alone, plan:\n%s", plan)
				}
				for _, l := range lines {
					if strings.Contains(l, "ts_rank(") && strings.Contains(l, "websearch_to_tsquery") {
						t.Errorf("ts_rank parses the text for every match:\n%s\nplan:\n%s", l, plan)
					}
				}
			})
		}
	}
}
