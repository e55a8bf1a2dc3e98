package admin

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/storefront-operator/storefront/shop/catalog"
	"github.com/storefront-operator/storefront/shop/platform/apperr"
)

// PGStore is the PostgreSQL implementation of Store.
type PGStore struct {
	pool *pgxpool.Pool
}

// NewPGStore returns a store over pool.
func NewPGStore(pool *pgxpool.Pool) *PGStore { return &PGStore{pool: pool} }

const (
	categoryIDSQL    = `SELECT id FROM categories WHERE slug = $1`
	insertProductSQL = `INSERT INTO products (category_id, slug, name, description, price_minor, currency, stock, image_url, attributes) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id`
	// The stock changes only when $8 is set; a NULL keeps the stock the checkout moves.
	updateProductSQL  = `UPDATE products SET category_id = $2, slug = $3, name = $4, description = $5, price_minor = $6, currency = $7, stock = COALESCE($8::integer, stock), image_url = $9, attributes = $10, updated_at = now() WHERE id = $1`
	lockStockSQL      = `SELECT stock FROM products WHERE id = $1 FOR UPDATE`
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

// CreateProduct implements Store.
func (s *PGStore) CreateProduct(ctx context.Context, in ProductInput, attrs []byte) (int64, error) {
	var id int64
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		catID, err := categoryID(ctx, tx, in.Category)
		if err != nil {
			return err
		}
		var stock int
		if in.Stock != nil {
			stock = *in.Stock
		}
		err = tx.QueryRow(ctx, insertProductSQL, catID, in.Slug, in.Name, in.Description, in.Price.Amount, in.Price.Currency, stock, in.ImageURL, attrs).Scan(&id)
		return conflict(err, "a product with slug "+in.Slug+" already exists")
	})
	return id, err
}

// UpdateProduct implements Store.
func (s *PGStore) UpdateProduct(ctx context.Context, id int64, in ProductInput, attrs []byte, set, expected *int) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		catID, err := categoryID(ctx, tx, in.Category)
		if err != nil {
			return err
		}
		if err := lockStock(ctx, tx, id, expected); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, updateProductSQL, id, catID, in.Slug, in.Name, in.Description, in.Price.Amount, in.Price.Currency, set, in.ImageURL, attrs)
		return conflict(err, "a product with slug "+in.Slug+" already exists")
	})
}

// lockStock locks product id's row until tx ends, so that no checkout takes stock
// between the check and the update, and refuses a stock that is not expected (nil: any)
// with a *StockChangedError; a missing product is apperr.ErrNotFound.
func lockStock(ctx context.Context, tx pgx.Tx, id int64, expected *int) error {
	var current int
	err := tx.QueryRow(ctx, lockStockSQL, id).Scan(&current)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return apperr.ErrNotFound
	case err != nil:
		return err
	case expected != nil && current != *expected:
		return &StockChangedError{Expected: *expected, Current: current}
	}
	return nil
}

// DeleteProductIfClosed implements Store.
func (s *PGStore) DeleteProductIfClosed(ctx context.Context, id int64) (int64, error) {
	var open int64
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// Locking the row first makes a checkout that is taking its stock finish (and
		// its order visible) before the open orders are counted.
		var got int64
		if err := tx.QueryRow(ctx, lockProductSQL, id).Scan(&got); errors.Is(err, pgx.ErrNoRows) {
			return apperr.ErrNotFound
		} else if err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, openOrdersSQL, id).Scan(&open); err != nil || open > 0 {
			return err
		}
		_, err := tx.Exec(ctx, deleteProductSQL, id)
		return err
	})
	return open, err
}

// SetStock implements Store.
func (s *PGStore) SetStock(ctx context.Context, id int64, stock int, expected *int) error {
	if expected == nil {
		// An absolute set: one statement, as before the expected stock existed.
		tag, err := s.pool.Exec(ctx, setStockSQL, id, stock)
		if err == nil && tag.RowsAffected() == 0 {
			err = apperr.ErrNotFound
		}
		return err
	}
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := lockStock(ctx, tx, id, expected); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, setStockSQL, id, stock)
		return err
	})
}

// CreateCategory implements Store.
func (s *PGStore) CreateCategory(ctx context.Context, in CategoryInput) (int64, error) {
	var id int64
	err := s.pool.QueryRow(ctx, insertCategorySQL, in.Slug, in.Name, in.Description).Scan(&id)
	return id, conflict(err, "a category with slug "+in.Slug+" already exists")
}

// UpdateCategory implements Store.
func (s *PGStore) UpdateCategory(ctx context.Context, id int64, in CategoryInput) error {
	tag, err := s.pool.Exec(ctx, updateCategorySQL, id, in.Slug, in.Name, in.Description)
	if err := conflict(err, "a category with slug "+in.Slug+" already exists"); err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return apperr.ErrNotFound
	}
	return nil
}

// DeleteCategoryIfEmpty implements Store: the foreign key (ON DELETE RESTRICT) refuses
// the delete while products are in the category, whatever happens concurrently.
func (s *PGStore) DeleteCategoryIfEmpty(ctx context.Context, id int64) (int64, error) {
	tag, err := s.pool.Exec(ctx, deleteCategorySQL, id)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23503" {
		var n int64
		if err := s.pool.QueryRow(ctx, categoryUseSQL, id).Scan(&n); err != nil {
			return 0, err
		}
		return max(n, 1), nil
	}
	if err != nil {
		return 0, err
	}
	if tag.RowsAffected() == 0 {
		return 0, apperr.ErrNotFound
	}
	return 0, nil
}

// Category implements Store.
func (s *PGStore) Category(ctx context.Context, id int64) (catalog.Category, error) {
	var c catalog.Category
	err := s.pool.QueryRow(ctx, categorySQL, id).Scan(&c.ID, &c.Slug, &c.Name, &c.Description, &c.ProductCount)
	if errors.Is(err, pgx.ErrNoRows) {
		return c, fmt.Errorf("category %d: %w", id, apperr.ErrNotFound)
	}
	return c, err
}

func categoryID(ctx context.Context, tx pgx.Tx, slug string) (int64, error) {
	var id int64
	err := tx.QueryRow(ctx, categoryIDSQL, slug).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, ErrUnknownCategory
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
