package search

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/storefront-operator/storefront/shop/catalog"
)

// similarityThreshold is the pg_trgm word similarity a name needs to match the text in
// the fallback; the default 0.6 misses common one-letter typos of short words.
const similarityThreshold = "0.4"

// PGStore is the PostgreSQL implementation of Store.
type PGStore struct {
	pool *pgxpool.Pool
}

// NewPGStore returns a search store over pool.
func NewPGStore(pool *pgxpool.Pool) *PGStore { return &PGStore{pool: pool} }

// A search is one statement: the matches under the price filter are found once (the
// materialised CTE m: one GIN index scan), then counted by category for the facets and
// filtered by category, sorted and cut for the page. Every row carries the facets; an
// empty page returns no row, and facetsSQL answers alone.
//
// Parameters: $1 text, $2 limit, $3 offset, then the price range and the category slug
// when the statement's filter shape has them (see catalog.Shape).
type matcher struct {
	// match selects the products matching $1; rank scores them (higher is better).
	match, rank string
}

var (
	fullText = matcher{
		match: `p.search_vector @@ websearch_to_tsquery('english', $1)`,
		rank:  `ts_rank(p.search_vector, websearch_to_tsquery('english', $1))`,
	}
	similar = matcher{
		match: `$1 <% p.name`,
		rank:  `word_similarity($1, p.name)`,
	}
)

func searchSQL(m matcher, sort catalog.Sort, sh catalog.Shape) string {
	order := "m.rank DESC, m.id ASC"
	outer := "page.rank DESC, p.id ASC"
	if s, ok := catalog.OrderBy[sort]; ok {
		order = strings.ReplaceAll(s, "p.", "m.")
		outer = s
	}
	// The price range filters the matches (and so the facets); the category only the page.
	price := catalog.FilterSQL(4, catalog.Shape{Price: sh.Price})
	category := ""
	if sh.Category {
		n := 4
		if sh.Price {
			n = 6
		}
		category = fmt.Sprintf("WHERE c.slug = $%d", n)
	}
	return `WITH m AS MATERIALIZED (
	SELECT p.id, p.category_id, p.price_minor, p.created_at, p.name, ` + m.rank + ` AS rank
	FROM products p
	WHERE ` + m.match + ` AND ` + price + `
), facets AS (
	SELECT json_agg(json_build_object('slug', f.slug, 'count', f.n) ORDER BY f.n DESC, f.slug) AS facets
	FROM (SELECT c.slug, count(*) AS n FROM m JOIN categories c ON c.id = m.category_id GROUP BY c.slug) f
), page AS (
	SELECT m.id, m.rank FROM m JOIN categories c ON c.id = m.category_id
	` + category + `
	ORDER BY ` + order + `
	LIMIT $2 OFFSET $3
)
SELECT facets.facets, ` + catalog.ProductColumns + `
FROM page JOIN products p ON p.id = page.id JOIN categories c ON c.id = p.category_id, facets
ORDER BY ` + outer
}

// facetsSQL counts the matches by category alone: $1 text, then the price range when
// withPrice.
func facetsSQL(m matcher, withPrice bool) string {
	return `SELECT c.slug, count(*)
FROM products p JOIN categories c ON c.id = p.category_id
WHERE ` + m.match + ` AND ` + catalog.FilterSQL(2, catalog.Shape{Price: withPrice}) + `
GROUP BY c.slug
ORDER BY count(*) DESC, c.slug`
}

// queries holds every statement, one per purpose and filter shape, built once from
// constants.
var queries = func() map[string]string {
	q := map[string]string{}
	for _, withPrice := range []bool{false, true} {
		q[facetsKey("fulltext", withPrice)] = facetsSQL(fullText, withPrice)
		q[facetsKey("similar", withPrice)] = facetsSQL(similar, withPrice)
	}
	for _, s := range Sorts {
		for _, sh := range catalog.Shapes {
			q[queryKey("fulltext", s, sh)] = searchSQL(fullText, s, sh)
			q[queryKey("similar", s, sh)] = searchSQL(similar, s, sh)
		}
	}
	return q
}()

func queryKey(kind string, s catalog.Sort, sh catalog.Shape) string {
	return fmt.Sprintf("%s %s %t %t", kind, s, sh.Price, sh.Category)
}

func facetsKey(kind string, withPrice bool) string {
	return fmt.Sprintf("%s facets %t", kind, withPrice)
}

const setSimilarityThresholdSQL = `SELECT set_config('pg_trgm.word_similarity_threshold', $1, true)`

// querier is a pool or a transaction.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// FullText implements Store.
func (s *PGStore) FullText(ctx context.Context, q Query) ([]catalog.Product, []Facet, error) {
	return run(ctx, s.pool, "fulltext", q)
}

// Similar implements Store. The similarity threshold is a setting, so the queries run
// in a transaction that sets it locally.
func (s *PGStore) Similar(ctx context.Context, q Query) (items []catalog.Product, facets []Facet, err error) {
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, setSimilarityThresholdSQL, similarityThreshold); err != nil {
			return err
		}
		items, facets, err = run(ctx, tx, "similar", q)
		return err
	})
	return items, facets, err
}

func run(ctx context.Context, db querier, kind string, q Query) ([]catalog.Product, []Facet, error) {
	sh := q.Shape()
	sql, ok := queries[queryKey(kind, q.Sort, sh)]
	if !ok {
		return nil, nil, fmt.Errorf("unknown sort %q", q.Sort)
	}
	filter := catalog.FilterArgs(q.Filter)
	rows, err := db.Query(ctx, sql, append([]any{q.Text, q.PerPage, q.Offset()}, filter...)...)
	if err != nil {
		return nil, nil, err
	}
	// Every row repeats the facets; keep the first row's bytes and decode them once.
	var facetsJSON []byte
	items, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (catalog.Product, error) {
		var p catalog.Product
		var raw []byte
		err := r.Scan(append([]any{&raw}, catalog.ProductFields(&p)...)...)
		if facetsJSON == nil {
			facetsJSON = raw
		}
		catalog.NormalizeProduct(&p)
		return p, err
	})
	if err != nil {
		return nil, nil, fmt.Errorf("reading results: %w", err)
	}
	if len(items) > 0 {
		var facets []Facet
		if err := json.Unmarshal(facetsJSON, &facets); err != nil {
			return nil, nil, fmt.Errorf("reading facets: %w", err)
		}
		return items, facets, nil
	}
	// An empty page (past the end, another category, or no match at all) carries no
	// facets: count them alone.
	facetArgs := []any{q.Text}
	if sh.Price {
		facetArgs = append(facetArgs, filter[0], filter[1])
	}
	rows, err = db.Query(ctx, queries[facetsKey(kind, sh.Price)], facetArgs...)
	if err != nil {
		return nil, nil, err
	}
	facets, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Facet, error) {
		var f Facet
		err := r.Scan(&f.Slug, &f.Count)
		return f, err
	})
	if err != nil {
		return nil, nil, fmt.Errorf("reading facets: %w", err)
	}
	return items, facets, nil
}
