// Package cart keeps carts in PostgreSQL: a signed-in user's, and a guest's (under an id
// the pages keep in a signed cookie). Both are the same model with the same rules — at
// most MaxLines different products, at most MaxQuantity of each — and are priced at the
// products' current prices whenever they are read. The JSON API and the pages call the
// same Service; at sign-in the pages merge the guest's cart into the user's
// (MergeGuest).
package cart

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/storefront-operator/storefront/shop/platform/apperr"
	"github.com/storefront-operator/storefront/shop/platform/money"
)

// MaxQuantity is the largest quantity of one line, in every cart.
const MaxQuantity = 1000

// MaxLines is the most different products one cart holds (an order has at most as many
// lines, orders.MaxLines).
const MaxLines = 100

// GuestTTL is how long a guest cart lives without being used.
const GuestTTL = 7 * 24 * time.Hour

// Item is a product and a quantity: a line to set or order.
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

// Cart is a cart with its total.
type Cart struct {
	Items []Line      `json:"items"`
	Total money.Money `json:"total"`
}

// Count is the number of items (the sum of the quantities).
func (c Cart) Count() int {
	n := 0
	for _, l := range c.Items {
		n += l.Quantity
	}
	return n
}

// Quantity is how many of product id the cart holds.
func (c Cart) Quantity(id int64) int {
	for _, l := range c.Items {
		if l.ProductID == id {
			return l.Quantity
		}
	}
	return 0
}

// Owner says whose cart: a user's or a guest's. The zero Owner has no cart.
type Owner struct {
	UserID, GuestID int64
}

// User is the cart of user id.
func User(id int64) Owner { return Owner{UserID: id} }

// Guest is the guest cart id.
func Guest(id int64) Owner { return Owner{GuestID: id} }

// None reports whether o names no cart (a guest who never added anything).
func (o Owner) None() bool { return o.UserID == 0 && o.GuestID == 0 }

// ErrFull refuses a new line in a cart of MaxLines lines (422 on product_id).
var ErrFull = apperr.Unprocessable("product_id", fmt.Sprintf("the cart already holds %d different products, the most it can: check out or remove one first", MaxLines))

// ErrGuestCartGone says a guest cart expired (or never existed): the pages start a new
// one.
var ErrGuestCartGone = fmt.Errorf("the guest cart expired: %w", apperr.ErrNotFound)

// SetResult is what Store.Set did.
type SetResult int

// Store.Set outcomes.
const (
	SetDone SetResult = iota
	SetNoProduct
	SetFull
)

// Store is the carts' persistence, implemented by *PGStore.
type Store interface {
	// Lines returns o's lines priced now, in the order they were added; an expired or
	// unknown guest cart is ErrGuestCartGone.
	Lines(ctx context.Context, o Owner) ([]Line, error)
	// Set inserts or replaces a line, unless the product is unknown or a new line would
	// exceed maxLines, and returns the line as set (with no LineTotal); an expired guest
	// cart is ErrGuestCartGone.
	Set(ctx context.Context, o Owner, productID int64, quantity, maxLines int) (Line, SetResult, error)
	// Remove deletes a line; found is false when it was not there.
	Remove(ctx context.Context, o Owner, productID int64) (found bool, err error)
	// NewGuest creates a guest cart (and deletes a batch of expired ones).
	NewGuest(ctx context.Context) (int64, error)
	// MergeGuest adds guest's lines to userID's cart in one transaction, summing the
	// quantities of a product (capped at maxQuantity) and adding new lines only while
	// the cart has fewer than maxLines, then deletes the guest cart. An expired guest
	// cart adds nothing.
	MergeGuest(ctx context.Context, guestID, userID int64, maxQuantity, maxLines int) error
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

// Get returns o's cart at current prices; the zero Owner's is empty. An expired guest
// cart is ErrGuestCartGone.
func (s *Service) Get(ctx context.Context, o Owner) (Cart, error) {
	c := Cart{Items: []Line{}, Total: money.New(0, s.currency)}
	if o.None() {
		return c, nil
	}
	lines, err := s.store.Lines(ctx, o)
	if err != nil {
		if errors.Is(err, ErrGuestCartGone) {
			return c, err
		}
		return Cart{}, fmt.Errorf("reading the cart: %w", err)
	}
	if lines != nil {
		c.Items = lines
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

// Set makes productID's line hold quantity (0 removes it) and returns that line priced
// now (quantity 0: the zero Line), not the whole cart: a client that wants the cart
// reads it. A quantity outside 0..MaxQuantity is a 422, and so is a new line in a full
// cart (ErrFull); an unknown product is apperr.ErrNotFound.
func (s *Service) Set(ctx context.Context, o Owner, productID int64, quantity int) (Line, error) {
	if quantity < 0 || quantity > MaxQuantity {
		return Line{}, apperr.Unprocessable("quantity", fmt.Sprintf("must be between 0 and %d (0 removes the line)", MaxQuantity))
	}
	if quantity == 0 {
		if _, err := s.store.Remove(ctx, o, productID); err != nil {
			return Line{}, fmt.Errorf("removing a cart line: %w", err)
		}
		return Line{}, nil
	}
	l, res, err := s.store.Set(ctx, o, productID, quantity, MaxLines)
	switch {
	case errors.Is(err, ErrGuestCartGone):
		return Line{}, err
	case err != nil:
		return Line{}, fmt.Errorf("setting a cart line: %w", err)
	case res == SetNoProduct:
		return Line{}, fmt.Errorf("product %d: %w", productID, apperr.ErrNotFound)
	case res == SetFull:
		return Line{}, ErrFull
	}
	if l.LineTotal, err = l.UnitPrice.Mul(int64(l.Quantity)); err != nil {
		return Line{}, fmt.Errorf("pricing the line: %w", err)
	}
	return l, nil
}

// Remove deletes productID's line; a line that is not in the cart is
// apperr.ErrNotFound (whoever else's cart it may be in).
func (s *Service) Remove(ctx context.Context, o Owner, productID int64) error {
	found, err := s.store.Remove(ctx, o, productID)
	if err != nil {
		return fmt.Errorf("removing a cart line: %w", err)
	}
	if !found {
		return fmt.Errorf("product %d is not in the cart: %w", productID, apperr.ErrNotFound)
	}
	return nil
}

// NewGuest starts a guest cart. The caller throttles it: every guest cart is a row.
func (s *Service) NewGuest(ctx context.Context) (Owner, error) {
	id, err := s.store.NewGuest(ctx)
	if err != nil {
		return Owner{}, fmt.Errorf("creating a guest cart: %w", err)
	}
	return Guest(id), nil
}

// MergeGuest moves guest's cart into userID's (at sign-in): quantities of the same
// product are summed and capped at MaxQuantity, and new lines stop at MaxLines. The
// guest cart is gone afterwards.
func (s *Service) MergeGuest(ctx context.Context, guest Owner, userID int64) error {
	if guest.GuestID == 0 {
		return nil
	}
	if err := s.store.MergeGuest(ctx, guest.GuestID, userID, MaxQuantity, MaxLines); err != nil {
		return fmt.Errorf("merging the guest cart: %w", err)
	}
	return nil
}
