package search

import (
	"context"
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

// A search is one statement: the matches under the price filters are found once (the
// materialised CTE m: one GIN index scan), then counted by category for the facets and
// filtered by category, sorted and cut for the page. Every row carries the facets; an
// empty page returns no row, and facetsSQL answers alone.
//
// Parameters: $1 text, $2 category slug, $3 min price, $4 max price (NULL = any), $5
// limit, $6 offset.
type matcher struct {
	// match selects the products matching $1; rank scores them (higher is better).
	match, rank string
}

var (
	fullText = matcher{
		match: `p.search_vector @@ websearch_to_tsquery('english', $1)`,
		rank:  `ts_rank_cd(p.search_vector, websearch_to_tsquery('english', $1))`,
	}
	similar = matcher{
		match: `$1 <% p.name`,
		rank:  `word_similarity($1, p.name)`,
	}
)

const priceFilter = `($3::bigint IS NULL OR p.price_minor >= $3) AND ($4::bigint IS NULL OR p.price_minor <= $4)`

func searchSQL(m matcher, sort catalog.Sort) string {
	order := "m.rank DESC, m.id ASC"
	outer := "page.rank DESC, p.id ASC"
	if s, ok := catalog.OrderBy[sort]; ok {
		order = strings.ReplaceAll(s, "p.", "m.")
		outer = s
	}
	return `WITH m AS MATERIALIZED (
	SELECT p.id, p.category_id, p.price_minor, p.created_at, p.name, ` + m.rank + ` AS rank
	FROM products p
	WHERE ` + m.match + ` AND ` + priceFilter + `
), facets AS (
	SELECT json_agg(json_build_object('slug', f.slug, 'count', f.n) ORDER BY f.n DESC, f.slug) AS facets
	FROM (SELECT c.slug, count(*) AS n FROM m JOIN categories c ON c.id = m.category_id GROUP BY c.slug) f
), page AS (
	SELECT m.id, m.rank FROM m JOIN categories c ON c.id = m.category_id
	WHERE $2::text IS NULL OR c.slug = $2
	ORDER BY ` + order + `
	LIMIT $5 OFFSET $6
)
SELECT facets.facets, ` + catalog.ProductColumns + `
FROM page JOIN products p ON p.id = page.id JOIN categories c ON c.id = p.category_id, facets
ORDER BY ` + outer
}

// facetsSQL counts the matches by category alone: $1 text, $2 min price, $3 max price.
func facetsSQL(m matcher) string {
	return `SELECT c.slug, count(*)
FROM products p JOIN categories c ON c.id = p.category_id
WHERE ` + m.match + ` AND ($2::bigint IS NULL OR p.price_minor >= $2) AND ($3::bigint IS NULL OR p.price_minor <= $3)
GROUP BY c.slug
ORDER BY count(*) DESC, c.slug`
}

// queries holds every statement, one per purpose, built once from constants.
var queries = func() map[string]string {
	q := map[string]string{"fulltext facets": facetsSQL(fullText), "similar facets": facetsSQL(similar)}
	for _, s := range Sorts {
		q["fulltext "+string(s)] = searchSQL(fullText, s)
		q["similar "+string(s)] = searchSQL(similar, s)
	}
	return q
}()

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
	sql, ok := queries[kind+" "+string(q.Sort)]
	if !ok {
		return nil, nil, fmt.Errorf("unknown sort %q", q.Sort)
	}
	args := append([]any{q.Text}, catalog.FilterArgs(q.Filter)...)
	rows, err := db.Query(ctx, sql, append(args, q.PerPage, q.Offset())...)
	if err != nil {
		return nil, nil, err
	}
	var facets []Facet
	items, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (catalog.Product, error) {
		var p catalog.Product
		err := r.Scan(append([]any{&facets}, catalog.ProductFields(&p)...)...)
		catalog.NormalizeProduct(&p)
		return p, err
	})
	if err != nil {
		return nil, nil, fmt.Errorf("reading results: %w", err)
	}
	if len(items) > 0 {
		return items, facets, nil
	}
	// An empty page (past the end, another category, or no match at all) carries no
	// facets: count them alone.
	rows, err = db.Query(ctx, queries[kind+" facets"], q.Text, q.MinPrice, q.MaxPrice)
	if err != nil {
		return nil, nil, err
	}
	facets, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (Facet, error) {
		var f Facet
		err := r.Scan(&f.Slug, &f.Count)
		return f, err
	})
	if err != nil {
		return nil, nil, fmt.Errorf("reading facets: %w", err)
	}
	return items, facets, nil
}
