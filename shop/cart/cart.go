// Package cart keeps each signed-in user's cart in PostgreSQL: lines of products and
// quantities, priced at the products' current prices whenever the cart is read. The
// JSON API and the pages call the same Service; the pages also merge their guest cart
// (kept in a signed cookie) into the user's cart at sign-in with Merge.
package cart

import (
	"context"
	"fmt"

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

// Store is the carts' persistence, implemented by *PGStore.
type Store interface {
	// Lines returns userID's lines priced now, in the order they were added.
	Lines(ctx context.Context, userID int64) ([]Line, error)
	// Set inserts or replaces a line; found is false for an unknown product.
	Set(ctx context.Context, userID, productID int64, quantity int) (found bool, err error)
	// Remove deletes a line; found is false when it was not there.
	Remove(ctx context.Context, userID, productID int64) (found bool, err error)
	// Add adds quantities to the lines of the products that exist, each capped at max.
	Add(ctx context.Context, userID int64, productIDs []int64, quantities []int32, max int) error
}

// Service manages carts.
type Service struct {
	store    Store
	currency string
}

// NewService returns the cart service on store for a shop selling in currency.
func NewService(store Store, currency string) *Service {
	return &Service{store: store, currency: currency}
}

// Get returns userID's cart at current prices.
func (s *Service) Get(ctx context.Context, userID int64) (Cart, error) {
	lines, err := s.store.Lines(ctx, userID)
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
		if _, err := s.store.Remove(ctx, userID, productID); err != nil {
			return Cart{}, fmt.Errorf("removing a cart line: %w", err)
		}
		return s.Get(ctx, userID)
	}
	found, err := s.store.Set(ctx, userID, productID, quantity)
	if err != nil {
		return Cart{}, fmt.Errorf("setting a cart line: %w", err)
	}
	if !found {
		return Cart{}, fmt.Errorf("product %d: %w", productID, apperr.ErrNotFound)
	}
	return s.Get(ctx, userID)
}

// Remove deletes productID's line and returns the cart; a line that is not in the cart
// is apperr.ErrNotFound (whoever else's cart it may be in).
func (s *Service) Remove(ctx context.Context, userID, productID int64) (Cart, error) {
	found, err := s.store.Remove(ctx, userID, productID)
	if err != nil {
		return Cart{}, fmt.Errorf("removing a cart line: %w", err)
	}
	if !found {
		return Cart{}, fmt.Errorf("product %d is not in the cart: %w", productID, apperr.ErrNotFound)
	}
	return s.Get(ctx, userID)
}

// Merge adds items (a guest cart) to userID's cart and returns it: quantities of the
// same product are added, each line is capped at MaxQuantity, and items of unknown or
// deleted products or with a quantity below 1 are skipped. The store adds them in one
// statement, so a merge is never half applied.
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
		if err := s.store.Add(ctx, userID, ids, qs, MaxQuantity); err != nil {
			return Cart{}, fmt.Errorf("merging into the cart: %w", err)
		}
	}
	return s.Get(ctx, userID)
}
