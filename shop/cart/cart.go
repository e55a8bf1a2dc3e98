// Package cart keeps each signed-in user's cart in PostgreSQL: lines of products and
// quantities, priced at the products' current prices whenever the cart is read. The
// JSON API and the pages call the same Service; the pages also merge their guest cart
// (kept in a signed cookie) into the user's cart at sign-in with Merge.
package cart

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/storefront-operator/storefront/shop/platform/apperr"
	"github.com/storefront-operator/storefront/shop/platform/money"
)

// MaxQuantity is the largest quantity of one line.
const MaxQuantity = 1000

// Item is a product and a quantity: a line to set, merge or order.
type Item struct {
	ProductID int64 `json:"product_id"`
	Quantity  int   `json:"quantity"`
}

// Line is one line of a cart, priced now.
type Line struct {
	ProductID int64       `json:"product_id"`
	Slug      string      `json:"slug"`
	Name      string      `json:"name"`
	ImageURL  string      `json:"image_url"`
	Quantity  int         `json:"quantity"`
	UnitPrice money.Money `json:"unit_price"`
	LineTotal money.Money `json:"line_total"`
	// Stock is the product's stock now; a line above it cannot be ordered as it is.
	Stock int `json:"stock"`
}

// Cart is a user's cart with its total.
type Cart struct {
	Items []Line      `json:"items"`
	Total money.Money `json:"total"`
}

// Service manages carts.
type Service struct {
	pool     *pgxpool.Pool
	currency string
}

// NewService returns the cart service on pool for a shop selling in currency.
func NewService(pool *pgxpool.Pool, currency string) *Service {
	return &Service{pool: pool, currency: currency}
}

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
	// mergeSQL adds quantities to the lines of existing products only, capped.
	mergeSQL = `INSERT INTO cart_items (user_id, product_id, quantity)
SELECT $1, p.id, m.quantity FROM unnest($2::bigint[], $3::integer[]) AS m (product_id, quantity)
JOIN products p ON p.id = m.product_id
ON CONFLICT (user_id, product_id) DO UPDATE
SET quantity = LEAST(cart_items.quantity + EXCLUDED.quantity, $4), updated_at = now()`
)

// Get returns userID's cart at current prices.
func (s *Service) Get(ctx context.Context, userID int64) (Cart, error) {
	rows, err := s.pool.Query(ctx, cartSQL, userID)
	if err != nil {
		return Cart{}, fmt.Errorf("reading the cart: %w", err)
	}
	lines, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Line, error) {
		var l Line
		err := r.Scan(&l.ProductID, &l.Slug, &l.Name, &l.ImageURL, &l.Quantity, &l.UnitPrice.Amount, &l.UnitPrice.Currency, &l.Stock)
		return l, err
	})
	if err != nil {
		return Cart{}, fmt.Errorf("reading the cart: %w", err)
	}
	c := Cart{Items: lines, Total: money.New(0, s.currency)}
	if c.Items == nil {
		c.Items = []Line{}
	}
	for i := range c.Items {
		l := &c.Items[i]
		if l.LineTotal, err = l.UnitPrice.Mul(int64(l.Quantity)); err != nil {
			return Cart{}, fmt.Errorf("pricing the cart: %w", err)
		}
		if c.Total, err = c.Total.Add(l.LineTotal); err != nil {
			return Cart{}, fmt.Errorf("pricing the cart: %w", err)
		}
	}
	return c, nil
}

// Set makes productID's line hold quantity (0 removes it) and returns the cart. A
// quantity outside 0..MaxQuantity is a 422; an unknown product is apperr.ErrNotFound.
func (s *Service) Set(ctx context.Context, userID, productID int64, quantity int) (Cart, error) {
	if quantity < 0 || quantity > MaxQuantity {
		return Cart{}, apperr.Unprocessable("quantity", fmt.Sprintf("must be between 0 and %d (0 removes the line)", MaxQuantity))
	}
	if quantity == 0 {
		if _, err := s.pool.Exec(ctx, removeSQL, userID, productID); err != nil {
			return Cart{}, fmt.Errorf("removing a cart line: %w", err)
		}
		return s.Get(ctx, userID)
	}
	tag, err := s.pool.Exec(ctx, setSQL, userID, productID, quantity)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23503" {
		// The product was deleted between the SELECT and the INSERT.
		tag, err = pgconn.CommandTag{}, nil
	}
	if err != nil {
		return Cart{}, fmt.Errorf("setting a cart line: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return Cart{}, fmt.Errorf("product %d: %w", productID, apperr.ErrNotFound)
	}
	return s.Get(ctx, userID)
}

// Remove deletes productID's line and returns the cart; a line that is not in the cart
// is apperr.ErrNotFound (whoever else's cart it may be in).
func (s *Service) Remove(ctx context.Context, userID, productID int64) (Cart, error) {
	tag, err := s.pool.Exec(ctx, removeSQL, userID, productID)
	if err != nil {
		return Cart{}, fmt.Errorf("removing a cart line: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return Cart{}, fmt.Errorf("product %d is not in the cart: %w", productID, apperr.ErrNotFound)
	}
	return s.Get(ctx, userID)
}

// Merge adds items (a guest cart) to userID's cart and returns it: quantities of the
// same product are added, each line is capped at MaxQuantity, and items of unknown or
// deleted products or with a quantity below 1 are skipped. It is one statement, so a
// merge is never half applied.
func (s *Service) Merge(ctx context.Context, userID int64, items []Item) (Cart, error) {
	sums := map[int64]int{}
	var order []int64
	for _, it := range items {
		if it.ProductID <= 0 || it.Quantity <= 0 {
			continue
		}
		if _, ok := sums[it.ProductID]; !ok {
			order = append(order, it.ProductID)
		}
		sums[it.ProductID] = min(sums[it.ProductID]+min(it.Quantity, MaxQuantity), MaxQuantity)
	}
	if len(order) > 0 {
		ids, qs := make([]int64, len(order)), make([]int32, len(order))
		for i, id := range order {
			ids[i], qs[i] = id, int32(sums[id])
		}
		if _, err := s.pool.Exec(ctx, mergeSQL, userID, ids, qs, MaxQuantity); err != nil {
			return Cart{}, fmt.Errorf("merging into the cart: %w", err)
		}
	}
	return s.Get(ctx, userID)
}
