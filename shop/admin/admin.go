// Package admin is the shop's catalog management: products, categories and stock. Every
// change invalidates the response cache (part 1's two-level cache) on every replica, so
// shoppers see it at once. Order management for admins lives in package orders
// (AdminList, Transition); the JSON API and the admin pages call both.
package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/storefront-operator/storefront/shop/catalog"
	"github.com/storefront-operator/storefront/shop/platform/apperr"
	"github.com/storefront-operator/storefront/shop/platform/logging"
	"github.com/storefront-operator/storefront/shop/platform/money"
)

// Limits of catalog fields.
const (
	MaxNameLength        = 200
	MaxDescriptionLength = 10000
	MaxImageURLLength    = 2000
	MaxAttributes        = 50
	MaxAttributesBytes   = 10000
	// MaxStock keeps stock inside PostgreSQL's integer.
	MaxStock = 1_000_000_000
)

// Invalidator drops every cached catalog response in every replica.
type Invalidator interface {
	Invalidate(ctx context.Context) error
}

// Service manages the catalog.
type Service struct {
	pool        *pgxpool.Pool
	catalog     *catalog.Service
	currency    string
	invalidator Invalidator
}

// NewService returns the admin service; cat reads products back in the shoppers' form.
func NewService(pool *pgxpool.Pool, cat *catalog.Service, currency string, inv Invalidator) *Service {
	return &Service{pool: pool, catalog: cat, currency: currency, invalidator: inv}
}

// ProductInput is a product as an admin writes it (POST and PUT replace all fields).
type ProductInput struct {
	Slug        string         `json:"slug"`
	Name        string         `json:"name"`
	Description string         `json:"description"`
	Price       money.Money    `json:"price"`
	Category    string         `json:"category"`
	Stock       int            `json:"stock"`
	ImageURL    string         `json:"image_url"`
	Attributes  map[string]any `json:"attributes"`
}

// CategoryInput is a category as an admin writes it.
type CategoryInput struct {
	Slug        string `json:"slug"`
	Name        string `json:"name"`
	Description string `json:"description"`
}

// StockInput is the body of the stock update.
type StockInput struct {
	Stock *int `json:"stock"`
}

// Validate checks a product for a shop selling in currency; failures are a 422 naming
// each field. It returns the attributes as JSON.
func (in ProductInput) Validate(currency string) ([]byte, error) {
	var f apperr.Fields
	checkSlug(&f, in.Slug)
	f.Text("name", in.Name, 1, MaxNameLength)
	checkLongText(&f, "description", in.Description, MaxDescriptionLength)
	if in.Price.Currency != currency {
		f.Add("price.currency", "must be the shop's currency, "+currency)
	}
	if in.Price.Amount < 0 || in.Price.Amount > catalog.MaxPrice {
		f.Add("price.amount", fmt.Sprintf("must be between 0 and %d minor units", catalog.MaxPrice))
	}
	if in.Category == "" {
		f.Add("category", "is required: a category slug")
	} else if !catalog.ValidSlug(in.Category) {
		f.Add("category", "must be a category slug")
	}
	if in.Stock < 0 || in.Stock > MaxStock {
		f.Add("stock", fmt.Sprintf("must be between 0 and %d", MaxStock))
	}
	checkImageURL(&f, in.ImageURL)
	attrs := []byte("{}")
	if in.Attributes != nil {
		b, err := json.Marshal(in.Attributes)
		switch {
		case err != nil:
			f.Add("attributes", "must be a JSON object")
		case len(in.Attributes) > MaxAttributes:
			f.Add("attributes", fmt.Sprintf("must have at most %d keys", MaxAttributes))
		case len(b) > MaxAttributesBytes:
			f.Add("attributes", fmt.Sprintf("must be at most %d bytes of JSON", MaxAttributesBytes))
		case strings.Contains(string(b), `\u0000`):
			// PostgreSQL's jsonb cannot hold NUL characters.
			f.Add("attributes", "must not contain NUL characters")
		default:
			attrs = b
		}
	}
	return attrs, f.Unprocessable()
}

// Validate checks a category; failures are a 422 naming each field.
func (in CategoryInput) Validate() error {
	var f apperr.Fields
	checkSlug(&f, in.Slug)
	f.Text("name", in.Name, 1, MaxNameLength)
	checkLongText(&f, "description", in.Description, MaxDescriptionLength)
	return f.Unprocessable()
}

func checkSlug(f *apperr.Fields, slug string) {
	if !catalog.ValidSlug(slug) {
		f.Add("slug", "must be lower-case letters, digits and single dashes, not all digits, at most 120 characters")
	}
}

// checkLongText allows line breaks and tabs, which names may not hold.
func checkLongText(f *apperr.Fields, field, s string, max int) {
	switch {
	case !utf8.ValidString(s):
		f.Add(field, "must be valid UTF-8")
	case strings.ContainsRune(s, 0):
		f.Add(field, "must not contain NUL characters")
	case utf8.RuneCountInString(s) > max:
		f.Add(field, fmt.Sprintf("must be at most %d characters", max))
	}
}

func checkImageURL(f *apperr.Fields, s string) {
	if s == "" {
		return
	}
	u, err := url.Parse(s)
	if len(s) > MaxImageURLLength || err != nil || !utf8.ValidString(s) || strings.ContainsAny(s, "\x00\r\n\t ") ||
		!(u.Scheme == "https" || u.Scheme == "http" || (u.Scheme == "" && u.Host == "" && strings.HasPrefix(s, "/") && !strings.HasPrefix(s, "//"))) {
		f.Add("image_url", "must be a path on this site (/static/...) or an http(s) URL")
	}
}

const (
	categoryIDSQL     = `SELECT id FROM categories WHERE slug = $1`
	insertProductSQL  = `INSERT INTO products (category_id, slug, name, description, price_minor, currency, stock, image_url, attributes) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id`
	updateProductSQL  = `UPDATE products SET category_id = $2, slug = $3, name = $4, description = $5, price_minor = $6, currency = $7, stock = $8, image_url = $9, attributes = $10, updated_at = now() WHERE id = $1`
	lockProductSQL    = `SELECT id FROM products WHERE id = $1 FOR UPDATE`
	openOrdersSQL     = `SELECT count(DISTINCT o.id) FROM order_lines l JOIN orders o ON o.id = l.order_id WHERE l.product_id = $1 AND o.status IN ('pending', 'paid')`
	deleteProductSQL  = `DELETE FROM products WHERE id = $1`
	setStockSQL       = `UPDATE products SET stock = $2, updated_at = now() WHERE id = $1`
	insertCategorySQL = `INSERT INTO categories (slug, name, description) VALUES ($1, $2, $3) RETURNING id`
	updateCategorySQL = `UPDATE categories SET slug = $2, name = $3, description = $4, updated_at = now() WHERE id = $1`
	categorySQL       = `SELECT c.id, c.slug, c.name, c.description, (SELECT count(*) FROM products p WHERE p.category_id = c.id) FROM categories c WHERE c.id = $1`
	deleteCategorySQL = `DELETE FROM categories WHERE id = $1`
	categoryUseSQL    = `SELECT count(*) FROM products WHERE category_id = $1`
)

// CreateProduct adds a product. A taken slug is apperr.ErrConflict; an unknown category
// is a 422 naming the field.
func (s *Service) CreateProduct(ctx context.Context, in ProductInput) (catalog.Product, error) {
	attrs, err := in.Validate(s.currency)
	if err != nil {
		return catalog.Product{}, err
	}
	var id int64
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		catID, err := categoryID(ctx, tx, in.Category)
		if err != nil {
			return err
		}
		err = tx.QueryRow(ctx, insertProductSQL, catID, in.Slug, in.Name, in.Description, in.Price.Amount, in.Price.Currency, in.Stock, in.ImageURL, attrs).Scan(&id)
		return conflict(err, "a product with slug "+in.Slug+" already exists")
	})
	if err != nil {
		return catalog.Product{}, fmt.Errorf("creating product: %w", err)
	}
	return s.changed(ctx, id)
}

// UpdateProduct replaces product id.
func (s *Service) UpdateProduct(ctx context.Context, id int64, in ProductInput) (catalog.Product, error) {
	attrs, err := in.Validate(s.currency)
	if err != nil {
		return catalog.Product{}, err
	}
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		catID, err := categoryID(ctx, tx, in.Category)
		if err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, updateProductSQL, id, catID, in.Slug, in.Name, in.Description, in.Price.Amount, in.Price.Currency, in.Stock, in.ImageURL, attrs)
		if err := conflict(err, "a product with slug "+in.Slug+" already exists"); err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("product %d: %w", id, apperr.ErrNotFound)
		}
		return nil
	})
	if err != nil {
		return catalog.Product{}, fmt.Errorf("updating product: %w", err)
	}
	return s.changed(ctx, id)
}

// DeleteProduct removes product id (and its cart lines). A product in pending or paid
// orders is refused with apperr.ErrConflict: cancelling those orders must be able to
// put it back into stock. Set its stock to 0 to stop selling it.
func (s *Service) DeleteProduct(ctx context.Context, id int64) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// Locking the row first makes a checkout that is taking its stock finish (and
		// its order visible) before the open orders are counted.
		var got int64
		if err := tx.QueryRow(ctx, lockProductSQL, id).Scan(&got); errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("product %d: %w", id, apperr.ErrNotFound)
		} else if err != nil {
			return err
		}
		var open int64
		if err := tx.QueryRow(ctx, openOrdersSQL, id).Scan(&open); err != nil {
			return err
		}
		if open > 0 {
			return fmt.Errorf("product %d is in %d open (pending or paid) orders; set its stock to 0 instead: %w", id, open, apperr.ErrConflict)
		}
		_, err := tx.Exec(ctx, deleteProductSQL, id)
		return err
	})
	if err != nil {
		return fmt.Errorf("deleting product: %w", err)
	}
	s.invalidate(ctx)
	return nil
}

// SetStock sets product id's stock.
func (s *Service) SetStock(ctx context.Context, id int64, in StockInput) (catalog.Product, error) {
	if in.Stock == nil {
		return catalog.Product{}, apperr.Unprocessable("stock", "is required")
	}
	if *in.Stock < 0 || *in.Stock > MaxStock {
		return catalog.Product{}, apperr.Unprocessable("stock", fmt.Sprintf("must be between 0 and %d", MaxStock))
	}
	tag, err := s.pool.Exec(ctx, setStockSQL, id, *in.Stock)
	if err != nil {
		return catalog.Product{}, fmt.Errorf("setting stock: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return catalog.Product{}, fmt.Errorf("product %d: %w", id, apperr.ErrNotFound)
	}
	return s.changed(ctx, id)
}

// CreateCategory adds a category; a taken slug is apperr.ErrConflict.
func (s *Service) CreateCategory(ctx context.Context, in CategoryInput) (catalog.Category, error) {
	if err := in.Validate(); err != nil {
		return catalog.Category{}, err
	}
	var id int64
	err := s.pool.QueryRow(ctx, insertCategorySQL, in.Slug, in.Name, in.Description).Scan(&id)
	if err := conflict(err, "a category with slug "+in.Slug+" already exists"); err != nil {
		return catalog.Category{}, fmt.Errorf("creating category: %w", err)
	}
	s.invalidate(ctx)
	return s.category(ctx, id)
}

// UpdateCategory replaces category id.
func (s *Service) UpdateCategory(ctx context.Context, id int64, in CategoryInput) (catalog.Category, error) {
	if err := in.Validate(); err != nil {
		return catalog.Category{}, err
	}
	tag, err := s.pool.Exec(ctx, updateCategorySQL, id, in.Slug, in.Name, in.Description)
	if err := conflict(err, "a category with slug "+in.Slug+" already exists"); err != nil {
		return catalog.Category{}, fmt.Errorf("updating category: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return catalog.Category{}, fmt.Errorf("category %d: %w", id, apperr.ErrNotFound)
	}
	s.invalidate(ctx)
	return s.category(ctx, id)
}

// DeleteCategory removes category id; one that still has products is apperr.ErrConflict.
func (s *Service) DeleteCategory(ctx context.Context, id int64) error {
	tag, err := s.pool.Exec(ctx, deleteCategorySQL, id)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23503" {
		var n int64
		_ = s.pool.QueryRow(ctx, categoryUseSQL, id).Scan(&n)
		return fmt.Errorf("category %d still has %d products; move or delete them first: %w", id, n, apperr.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("deleting category: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("category %d: %w", id, apperr.ErrNotFound)
	}
	s.invalidate(ctx)
	return nil
}

func (s *Service) category(ctx context.Context, id int64) (catalog.Category, error) {
	var c catalog.Category
	err := s.pool.QueryRow(ctx, categorySQL, id).Scan(&c.ID, &c.Slug, &c.Name, &c.Description, &c.ProductCount)
	if errors.Is(err, pgx.ErrNoRows) {
		return c, fmt.Errorf("category %d: %w", id, apperr.ErrNotFound)
	}
	return c, err
}

// changed invalidates the cache after a product change and reads the product back.
func (s *Service) changed(ctx context.Context, id int64) (catalog.Product, error) {
	s.invalidate(ctx)
	return s.catalog.Product(ctx, strconv.FormatInt(id, 10))
}

func (s *Service) invalidate(ctx context.Context) {
	if s.invalidator == nil {
		return
	}
	if err := s.invalidator.Invalidate(ctx); err != nil {
		// The change is committed; the cache has already dropped this replica's entries
		// and stops trusting Redis until the invalidation reaches it (cache.Invalidate).
		logging.FromContext(ctx).WarnContext(ctx, "Cache invalidation after a catalog change failed", "error", err)
	}
}

func categoryID(ctx context.Context, tx pgx.Tx, slug string) (int64, error) {
	var id int64
	err := tx.QueryRow(ctx, categoryIDSQL, slug).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, apperr.Unprocessable("category", "no category has the slug "+slug)
	}
	return id, err
}

// conflict maps a unique violation to apperr.ErrConflict with msg.
func conflict(err error, msg string) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		return fmt.Errorf("%s: %w", msg, apperr.ErrConflict)
	}
	return err
}
