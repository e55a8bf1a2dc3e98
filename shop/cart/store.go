package cart

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// PGStore is the PostgreSQL implementation of Store.
type PGStore struct {
	pool *pgxpool.Pool
}

// NewPGStore returns a store over pool.
func NewPGStore(pool *pgxpool.Pool) *PGStore { return &PGStore{pool: pool} }

const (
	cartSQL = `SELECT p.id, p.slug, p.name, p.image_url, ci.quantity, p.price_minor, p.currency, p.stock
FROM cart_items ci JOIN products p ON p.id = ci.product_id
WHERE ci.user_id = $1
ORDER BY ci.added_at, p.id`
	// setSQL inserts or replaces a line; no row is written for an unknown product.
	setSQL = `INSERT INTO cart_items (user_id, product_id, quantity)
SELECT $1, p.id, $3 FROM products p WHERE p.id = $2
ON CONFLICT (user_id, product_id) DO UPDATE SET quantity = EXCLUDED.quantity, updated_at = now()`
	removeSQL = `DELETE FROM cart_items WHERE user_id = $1 AND product_id = $2`
	// addSQL adds quantities to the lines of existing products only, capped.
	addSQL = `INSERT INTO cart_items (user_id, product_id, quantity)
SELECT $1, p.id, m.quantity FROM unnest($2::bigint[], $3::integer[]) AS m (product_id, quantity)
JOIN products p ON p.id = m.product_id
ON CONFLICT (user_id, product_id) DO UPDATE
SET quantity = LEAST(cart_items.quantity + EXCLUDED.quantity, $4), updated_at = now()`
)

// Lines implements Store.
func (s *PGStore) Lines(ctx context.Context, userID int64) ([]Line, error) {
	rows, err := s.pool.Query(ctx, cartSQL, userID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Line, error) {
		var l Line
		err := r.Scan(&l.ProductID, &l.Slug, &l.Name, &l.ImageURL, &l.Quantity, &l.UnitPrice.Amount, &l.UnitPrice.Currency, &l.Stock)
		return l, err
	})
}

// Set implements Store.
func (s *PGStore) Set(ctx context.Context, userID, productID int64, quantity int) (bool, error) {
	tag, err := s.pool.Exec(ctx, setSQL, userID, productID, quantity)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23503" {
		// The product was deleted between the SELECT and the INSERT.
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return tag.RowsAffected() > 0, nil
}

// Remove implements Store.
func (s *PGStore) Remove(ctx context.Context, userID, productID int64) (bool, error) {
	tag, err := s.pool.Exec(ctx, removeSQL, userID, productID)
	if err != nil {
		return false, err
	}
	return tag.RowsAffected() > 0, nil
}

// Add implements Store.
func (s *PGStore) Add(ctx context.Context, userID int64, productIDs []int64, quantities []int32, max int) error {
	_, err := s.pool.Exec(ctx, addSQL, userID, productIDs, quantities, max)
	return err
}
