package catalog

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/storefront-operator/storefront/shop/platform/apperr"
)

// PGStore is the PostgreSQL implementation of Store.
type PGStore struct {
	pool *pgxpool.Pool
}

// NewPGStore returns a store over pool.
func NewPGStore(pool *pgxpool.Pool) *PGStore { return &PGStore{pool: pool} }

const categoriesSQL = `
SELECT c.id, c.slug, c.name, c.description, count(p.id)
FROM categories c LEFT JOIN products p ON p.category_id = c.id
GROUP BY c.id
ORDER BY c.name, c.id`

// ProductColumns are the columns ScanProduct reads, for the queries of other packages
// (search) that return products; p is products, c is categories.
const ProductColumns = `p.id, p.slug, p.name, p.description, p.price_minor, p.currency, p.stock,
	p.image_url, p.attributes, p.created_at, p.updated_at, c.slug, c.name`

// filterSQL is the list filter: $1 category slug, $2 min price, $3 max price (NULL = any).
const filterSQL = `($1::text IS NULL OR c.slug = $1)
	AND ($2::bigint IS NULL OR p.price_minor >= $2)
	AND ($3::bigint IS NULL OR p.price_minor <= $3)`

const countProductsSQL = `SELECT count(*) FROM products p JOIN categories c ON c.id = p.category_id WHERE ` + filterSQL

// OrderBy maps the list sorts to their ORDER BY clauses (id breaks ties so pages are
// stable). Search reuses it for the sorts other than relevance.
var OrderBy = map[Sort]string{
	SortNewest:    "p.created_at DESC, p.id DESC",
	SortPriceAsc:  "p.price_minor ASC, p.id ASC",
	SortPriceDesc: "p.price_minor DESC, p.id DESC",
	SortName:      "p.name ASC, p.id ASC",
}

// listProductsSQL holds one query per sort.
var listProductsSQL = func() map[Sort]string {
	m := map[Sort]string{}
	for s, order := range OrderBy {
		m[s] = `SELECT ` + ProductColumns + `
FROM products p JOIN categories c ON c.id = p.category_id
WHERE ` + filterSQL + `
ORDER BY ` + order + `
LIMIT $4 OFFSET $5`
	}
	return m
}()

const productByIDSQL = `SELECT ` + ProductColumns + ` FROM products p JOIN categories c ON c.id = p.category_id WHERE p.id = $1`

const productBySlugSQL = `SELECT ` + ProductColumns + ` FROM products p JOIN categories c ON c.id = p.category_id WHERE p.slug = $1`

// Categories implements Store.
func (s *PGStore) Categories(ctx context.Context) ([]Category, error) {
	rows, err := s.pool.Query(ctx, categoriesSQL)
	if err != nil {
		return nil, err
	}
	cs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Category, error) {
		var c Category
		err := r.Scan(&c.ID, &c.Slug, &c.Name, &c.Description, &c.ProductCount)
		return c, err
	})
	if err != nil {
		return nil, err
	}
	if cs == nil {
		cs = []Category{}
	}
	return cs, nil
}

// FilterArgs returns the arguments $1..$3 of the list filter.
func FilterArgs(f Filter) []any {
	var cat *string
	if f.Category != "" {
		cat = &f.Category
	}
	return []any{cat, f.MinPrice, f.MaxPrice}
}

// ListProducts implements Store: the page and the total in one round trip.
func (s *PGStore) ListProducts(ctx context.Context, q ListQuery) ([]Product, int64, error) {
	query, ok := listProductsSQL[q.Sort]
	if !ok {
		return nil, 0, fmt.Errorf("unknown sort %q", q.Sort)
	}
	args := FilterArgs(q.Filter)
	var (
		batch pgx.Batch
		items []Product
		total int64
	)
	batch.Queue(query, append(args, q.PerPage, q.Offset())...).Query(func(rows pgx.Rows) error {
		var err error
		items, err = pgx.CollectRows(rows, ScanProduct)
		return err
	})
	batch.Queue(countProductsSQL, args...).QueryRow(func(row pgx.Row) error {
		return row.Scan(&total)
	})
	if err := s.pool.SendBatch(ctx, &batch).Close(); err != nil {
		return nil, 0, err
	}
	return items, total, nil
}

// ProductByID implements Store.
func (s *PGStore) ProductByID(ctx context.Context, id int64) (Product, error) {
	return s.one(ctx, productByIDSQL, id)
}

// ProductBySlug implements Store.
func (s *PGStore) ProductBySlug(ctx context.Context, slug string) (Product, error) {
	return s.one(ctx, productBySlugSQL, slug)
}

func (s *PGStore) one(ctx context.Context, query string, arg any) (Product, error) {
	rows, err := s.pool.Query(ctx, query, arg)
	if err != nil {
		return Product{}, err
	}
	p, err := pgx.CollectExactlyOneRow(rows, ScanProduct)
	if errors.Is(err, pgx.ErrNoRows) {
		return Product{}, apperr.ErrNotFound
	}
	return p, err
}

// ScanProduct scans the ProductColumns of a row.
func ScanProduct(r pgx.CollectableRow) (Product, error) {
	var p Product
	err := r.Scan(ProductFields(&p)...)
	NormalizeProduct(&p)
	return p, err
}

// ProductFields are the scan targets of ProductColumns, for queries that select more.
func ProductFields(p *Product) []any {
	return []any{&p.ID, &p.Slug, &p.Name, &p.Description, &p.Price.Amount, &p.Price.Currency, &p.Stock,
		&p.ImageURL, &p.Attributes, &p.CreatedAt, &p.UpdatedAt, &p.Category.Slug, &p.Category.Name}
}

// NormalizeProduct fixes up a scanned product: times in UTC, attributes never null.
func NormalizeProduct(p *Product) {
	if p.Attributes == nil {
		p.Attributes = map[string]any{}
	}
	p.CreatedAt, p.UpdatedAt = p.CreatedAt.UTC(), p.UpdatedAt.UTC()
}
