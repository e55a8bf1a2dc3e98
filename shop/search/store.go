package search

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/storefront-operator/storefront/shop/catalog"
	"github.com/storefront-operator/storefront/shop/platform/database"
)

// SimilarityThreshold is the pg_trgm word similarity a name needs to match the text in
// the fallback; the default 0.6 misses common one-letter typos of short words. `<%` reads
// it from the setting pg_trgm.word_similarity_threshold, which the shop sets on its
// connections (RuntimeParams), so that a search needs no transaction to set it.
const SimilarityThreshold = "0.4"

// PGStore is the PostgreSQL implementation of Store.
type PGStore struct {
	pool *pgxpool.Pool
}

// NewPGStore returns a search store over pool, whose configuration went through
// ConfigurePool.
func NewPGStore(pool *pgxpool.Pool) *PGStore { return &PGStore{pool: pool} }

// ConfigurePool sets what the search's connections need: the similarity threshold of the
// fallback, and generic plans. Planning a search with its values cost more than running it
// (0.9-1.0 ms against 0.8 ms for a term of 300 matches at 20,000 products; custom plans
// are what the shop's other pools use, see database.ParseURL), and a search's statement
// leaves the planner one choice whatever the values: the text's matches come from the
// full-text index (the price range is never an index condition, the category filters the
// page), and everything after them works on those rows in memory. The generic plan is
// built once per connection and statement, and TestSearchPlansAreGeneric pins it.
func ConfigurePool(cfg *pgxpool.Config) {
	cfg.ConnConfig.RuntimeParams["pg_trgm.word_similarity_threshold"] = SimilarityThreshold
	cfg.ConnConfig.RuntimeParams["plan_cache_mode"] = "force_generic_plan"
}

// A search is one statement, whatever the text: the full-text matches under the price
// filter are found once (the materialised CTE ft: one GIN index scan of product_search, the
// narrow copy of what a search reads of a product, migration 00007; the text parsed into
// a tsquery once by an InitPlan: in a generic plan a call with $1 in the select list
// would parse it again for every match, 6.5 against 2.6 ms for 1,300 matches); only when there is
// none and the text is short enough ($4, see MaxSimilarLength) are the names searched by
// trigram similarity (sim: a gating one-time filter skips its scan otherwise). The
// matches are counted by category id and the few counts then named (the facets), and
// filtered by category, sorted and cut for the page (joining the categories only for the
// category filter: 15% off the statement for a term of 1,200 matches). Every row carries
// the facets and the match; the LEFT JOIN gives an empty page one row without a product,
// so the facets never need a second statement.
//
// Parameters: $1 text, $2 limit, $3 offset, $4 whether the similarity fallback may run,
// then the price range and the category slug when the statement's filter shape has them
// (see catalog.Shape).
func searchSQL(sort catalog.Sort, sh catalog.Shape) string {
	// The matches carry only what the facets and the page need: the id, the category and
	// the sort's key (narrow rows are cheaper to materialise: 15% off the statement at
	// 20,000 products, docs/benchmarks.md).
	order := "m.rank DESC, m.id ASC"
	outer := "page.rank DESC, p.id ASC"
	key := ""
	if s, ok := catalog.OrderBy[sort]; ok {
		order = strings.ReplaceAll(s, "p.", "m.")
		outer = s
		key = strings.Fields(s)[0] + ", "
	}
	// The price range filters the matches (and so the facets); the category only the page.
	// It is a filter on the matched rows, never an index condition ("+ 0"): the text's
	// index finds at most a few thousand rows, while a wide range ANDed in as a bitmap of
	// the price index reads every product's entry (5 ms at 20,000 products, the plan
	// PostgreSQL 15 chose whenever it underestimated the range).
	price := "TRUE"
	if sh.Price {
		price = "p.price_minor + 0 BETWEEN $5 AND $6"
	}
	// The page joins the categories only to filter by one (every product has one).
	category := ""
	if sh.Category {
		n := 5
		if sh.Price {
			n = 7
		}
		category = fmt.Sprintf("JOIN categories c ON c.id = m.category_id WHERE c.slug = $%d", n)
	}
	// The matches are read twice (facets, page) straight from the two materialised CTEs:
	// a CTE of their union referenced twice would be materialised once more.
	const matches = "(SELECT * FROM ft UNION ALL SELECT * FROM sim) m"
	return `WITH ft AS MATERIALIZED (
	SELECT p.product_id AS id, p.category_id, ` + key + `ts_rank(p.search_vector, (SELECT websearch_to_tsquery('english', $1))) AS rank
	FROM product_search p
	WHERE p.search_vector @@ (SELECT websearch_to_tsquery('english', $1)) AND ` + price + `
), sim AS MATERIALIZED (
	SELECT p.id, p.category_id, ` + key + `word_similarity($1, p.name)::real AS rank
	FROM products p
	WHERE $4::boolean AND NOT EXISTS (SELECT FROM ft) AND $1 <% p.name AND ` + price + `
), facets AS (
	SELECT coalesce(json_agg(json_build_object('slug', f.slug, 'count', f.n) ORDER BY f.n DESC, f.slug), '[]') AS facets
	FROM (SELECT c.slug, g.n FROM (SELECT category_id, count(*) AS n FROM ` + matches + ` GROUP BY category_id) g JOIN categories c ON c.id = g.category_id) f
), page AS (
	SELECT m.id, m.rank FROM ` + matches + `
	` + category + `
	ORDER BY ` + order + `
	LIMIT $2 OFFSET $3
)
SELECT facets.facets, $4::boolean AND NOT EXISTS (SELECT FROM ft), p.id IS NOT NULL, ` + catalog.ProductColumns + `
FROM facets LEFT JOIN (page JOIN products p ON p.id = page.id JOIN categories c ON c.id = p.category_id) ON TRUE
ORDER BY ` + outer
}

// queries holds every statement, one per sort and filter shape, built once from
// constants.
var queries = func() map[queryKey]string {
	q := map[queryKey]string{}
	for _, s := range Sorts {
		for _, sh := range catalog.Shapes {
			q[queryKey{s, sh}] = searchSQL(s, sh)
		}
	}
	return q
}()

type queryKey struct {
	sort  catalog.Sort
	shape catalog.Shape
}

// Search implements Store.
func (s *PGStore) Search(ctx context.Context, q Query, similar bool) ([]catalog.Product, []Facet, Match, error) {
	sql, ok := queries[queryKey{q.Sort, q.Shape()}]
	if !ok {
		return nil, nil, "", fmt.Errorf("unknown sort %q", q.Sort)
	}
	rows, err := s.pool.Query(ctx, sql, append([]any{q.Text, q.PerPage, q.Offset(), similar}, catalog.FilterArgs(q.Filter)...)...)
	if err != nil {
		return nil, nil, "", database.Timeout(err)
	}
	// Every row repeats the facets; keep the first row's bytes and decode them once.
	var (
		facetsJSON []byte
		bySimilar  bool
		items      []catalog.Product
	)
	for rows.Next() {
		var (
			p      catalog.Product
			raw    []byte
			sim    bool
			isItem bool
		)
		dest := append([]any{&raw, &sim, &isItem}, catalog.ProductFields(&p)...)
		if facetsJSON == nil {
			// The first row says whether it is a product before its columns are read:
			// the one row of an empty page has none.
			if err := rows.Scan(append([]any{&raw, &sim, &isItem}, make([]any, len(dest)-3)...)...); err != nil {
				rows.Close()
				return nil, nil, "", fmt.Errorf("reading results: %w", err)
			}
			facetsJSON, bySimilar = raw, sim
			if !isItem {
				continue
			}
		}
		if err := rows.Scan(dest...); err != nil {
			rows.Close()
			return nil, nil, "", fmt.Errorf("reading results: %w", err)
		}
		catalog.NormalizeProduct(&p)
		items = append(items, p)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, "", fmt.Errorf("reading results: %w", database.Timeout(err))
	}
	var facets []Facet
	if facetsJSON != nil {
		if err := json.Unmarshal(facetsJSON, &facets); err != nil {
			return nil, nil, "", fmt.Errorf("reading facets: %w", err)
		}
	}
	match := MatchFullText
	if bySimilar {
		match = MatchSimilar
	}
	return items, facets, match, nil
}
