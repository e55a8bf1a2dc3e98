package catalog

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"

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
// (search) that return products; p is products, c is categories. The images come in the
// same row, as one JSON array in their order (a correlated subquery on the
// product_images primary key's table, by its (product_id, position) index).
const ProductColumns = `p.id, p.slug, p.name, p.description, p.price_minor, p.currency, p.stock,
	p.image_url, p.attributes, p.created_at, p.updated_at, c.slug, c.name, ` + imagesColumn

// imagesColumn is a product's images as a JSON array of Image.
const imagesColumn = `COALESCE((SELECT jsonb_agg(jsonb_build_object('id', i.id, 'alt', i.alt, 'width', i.width,
	'height', i.height, 'variants', i.variants) ORDER BY i.position, i.id)
	FROM product_images i WHERE i.product_id = p.id), '[]'::jsonb)`

// Shape says which filters a query has. Each shape is its own statement holding only
// its conditions (no "$1 IS NULL OR ..."), which the planner reads best.
type Shape struct {
	Price, Category bool
}

// Shapes are every Shape.
var Shapes = []Shape{{false, false}, {true, false}, {false, true}, {true, true}}

// Shape returns the shape of f: a price condition when either bound is set.
func (f Filter) Shape() Shape {
	return Shape{Price: f.MinPrice != nil || f.MaxPrice != nil, Category: f.Category != ""}
}

// FilterSQL is the filter of shape sh as SQL whose parameters start at $first: the price
// range ($first, $first+1) and then the category slug; "TRUE" without filters.
func FilterSQL(first int, sh Shape) string {
	var conds []string
	if sh.Price {
		conds = append(conds, fmt.Sprintf("p.price_minor BETWEEN $%d AND $%d", first, first+1))
		first += 2
	}
	if sh.Category {
		conds = append(conds, fmt.Sprintf("c.slug = $%d", first))
	}
	if len(conds) == 0 {
		return "TRUE"
	}
	return strings.Join(conds, " AND ")
}

// FilterArgs returns the parameters of FilterSQL for f (an absent price bound admits
// every price).
func FilterArgs(f Filter) []any {
	var args []any
	if f.MinPrice != nil || f.MaxPrice != nil {
		lo, hi := int64(0), int64(math.MaxInt64)
		if f.MinPrice != nil {
			lo = *f.MinPrice
		}
		if f.MaxPrice != nil {
			hi = *f.MaxPrice
		}
		args = append(args, lo, hi)
	}
	if f.Category != "" {
		args = append(args, f.Category)
	}
	return args
}

// OrderBy maps the list sorts to their ORDER BY clauses (id breaks ties so pages are
// stable). Search reuses it for the sorts other than relevance.
var OrderBy = map[Sort]string{
	SortNewest:    "p.created_at DESC, p.id DESC",
	SortPriceAsc:  "p.price_minor ASC, p.id ASC",
	SortPriceDesc: "p.price_minor DESC, p.id DESC",
	SortName:      "p.name ASC, p.id ASC",
}

// listKey names one list statement: a sort and a filter shape.
type listKey struct {
	sort  Sort
	shape Shape
}

// listProductsSQL holds one statement per sort and filter shape: $1 limit, $2 offset,
// then the filter from $3. countProductsSQL counts with the filter from $1.
var listProductsSQL, countProductsSQL = func() (map[listKey]string, map[Shape]string) {
	list, count := map[listKey]string{}, map[Shape]string{}
	for _, sh := range Shapes {
		count[sh] = `SELECT count(*) FROM products p JOIN categories c ON c.id = p.category_id WHERE ` + FilterSQL(1, sh)
		for s, order := range OrderBy {
			list[listKey{s, sh}] = `SELECT ` + ProductColumns + `
FROM products p JOIN categories c ON c.id = p.category_id
WHERE ` + FilterSQL(3, sh) + `
ORDER BY ` + order + `
LIMIT $1 OFFSET $2`
		}
	}
	return list, count
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

// ListProducts implements Store: the page and the total in one round trip.
func (s *PGStore) ListProducts(ctx context.Context, q ListQuery) ([]Product, int64, error) {
	sh := q.Shape()
	query, ok := listProductsSQL[listKey{q.Sort, sh}]
	if !ok {
		return nil, 0, fmt.Errorf("unknown sort %q", q.Sort)
	}
	args := FilterArgs(q.Filter)
	var (
		batch pgx.Batch
		items []Product
		total int64
	)
	batch.Queue(query, append([]any{q.PerPage, q.Offset()}, args...)...).Query(func(rows pgx.Rows) error {
		var err error
		items, err = pgx.CollectRows(rows, ScanProduct)
		return err
	})
	batch.Queue(countProductsSQL[sh], args...).QueryRow(func(row pgx.Row) error {
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
		&p.ImageURL, &p.Attributes, &p.CreatedAt, &p.UpdatedAt, &p.Category.Slug, &p.Category.Name, &p.Images}
}

// NormalizeProduct fixes up a scanned product: times in UTC, attributes and images never
// null.
func NormalizeProduct(p *Product) {
	if p.Attributes == nil {
		p.Attributes = map[string]any{}
	}
	if p.Images == nil {
		p.Images = []Image{}
	}
	p.CreatedAt, p.UpdatedAt = p.CreatedAt.UTC(), p.UpdatedAt.UTC()
}
