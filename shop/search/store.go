package search

import (
	"context"
	"fmt"

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

// The queries take $1 text, $2 category slug, $3 min price, $4 max price (NULL = any),
// then $5 limit and $6 offset.
const (
	fullTextMatch = `p.search_vector @@ websearch_to_tsquery('english', $1)`
	similarMatch  = `$1 <% p.name`
	priceFilter   = `($3::bigint IS NULL OR p.price_minor >= $3) AND ($4::bigint IS NULL OR p.price_minor <= $4)`
	categoryCond  = `($2::text IS NULL OR c.slug = $2)`

	fullTextRank = `ts_rank_cd(p.search_vector, websearch_to_tsquery('english', $1)) DESC, p.id ASC`
	similarRank  = `word_similarity($1, p.name) DESC, p.id ASC`
)

func pageSQL(match, order string) string {
	return `SELECT ` + catalog.ProductColumns + `
FROM products p JOIN categories c ON c.id = p.category_id
WHERE ` + match + ` AND ` + categoryCond + ` AND ` + priceFilter + `
ORDER BY ` + order + `
LIMIT $5 OFFSET $6`
}

// facetsSQL ignores the category filter on purpose: $1 text, $2 min price, $3 max price.
func facetsSQL(match string) string {
	return `SELECT c.slug, count(*)
FROM products p JOIN categories c ON c.id = p.category_id
WHERE ` + match + ` AND ($2::bigint IS NULL OR p.price_minor >= $2) AND ($3::bigint IS NULL OR p.price_minor <= $3)
GROUP BY c.slug
ORDER BY count(*) DESC, c.slug`
}

// queries holds every statement, one per purpose, built once from constants.
var queries = func() map[string]string {
	m := map[string]string{
		"fulltext facets": facetsSQL(fullTextMatch),
		"similar facets":  facetsSQL(similarMatch),
		"fulltext " + string(catalog.SortRelevance): pageSQL(fullTextMatch, fullTextRank),
		"similar " + string(catalog.SortRelevance):  pageSQL(similarMatch, similarRank),
	}
	for s, order := range catalog.OrderBy {
		m["fulltext "+string(s)] = pageSQL(fullTextMatch, order)
		m["similar "+string(s)] = pageSQL(similarMatch, order)
	}
	return m
}()

const setSimilarityThresholdSQL = `SELECT set_config('pg_trgm.word_similarity_threshold', $1, true)`

// FullText implements Store: page and facets in one round trip.
func (s *PGStore) FullText(ctx context.Context, q Query) ([]catalog.Product, []Facet, error) {
	var batch pgx.Batch
	items, facets := s.queue(&batch, "fulltext", q)
	if err := s.pool.SendBatch(ctx, &batch).Close(); err != nil {
		return nil, nil, err
	}
	return *items, *facets, nil
}

// Similar implements Store. The similarity threshold is a setting, so the queries run
// in a transaction that sets it locally.
func (s *PGStore) Similar(ctx context.Context, q Query) ([]catalog.Product, []Facet, error) {
	var items *[]catalog.Product
	var facets *[]Facet
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var batch pgx.Batch
		batch.Queue(setSimilarityThresholdSQL, similarityThreshold)
		items, facets = s.queue(&batch, "similar", q)
		return tx.SendBatch(ctx, &batch).Close()
	})
	if err != nil {
		return nil, nil, err
	}
	return *items, *facets, nil
}

func (s *PGStore) queue(batch *pgx.Batch, kind string, q Query) (*[]catalog.Product, *[]Facet) {
	page, ok := queries[kind+" "+string(q.Sort)]
	if !ok {
		page = queries[kind+" "+string(catalog.SortRelevance)]
	}
	args := append([]any{q.Text}, catalog.FilterArgs(q.Filter)...)
	var items []catalog.Product
	var facets []Facet
	batch.Queue(page, append(args, q.PerPage, q.Offset())...).Query(func(rows pgx.Rows) error {
		var err error
		items, err = pgx.CollectRows(rows, catalog.ScanProduct)
		if err != nil {
			return fmt.Errorf("reading results: %w", err)
		}
		return nil
	})
	batch.Queue(queries[kind+" facets"], q.Text, q.MinPrice, q.MaxPrice).Query(func(rows pgx.Rows) error {
		var err error
		facets, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (Facet, error) {
			var f Facet
			err := r.Scan(&f.Slug, &f.Count)
			return f, err
		})
		if err != nil {
			return fmt.Errorf("reading facets: %w", err)
		}
		return nil
	})
	return &items, &facets
}
