// Package admin is the shop's catalog management: products, categories and stock. Every
// change is raised as a catalog.Edited event, on which the shop's cache drops its entries
// on every replica, so shoppers see it at once. Order management for admins lives in package orders
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

	"github.com/storefront-operator/storefront/shop/catalog"
	"github.com/storefront-operator/storefront/shop/platform/apperr"
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

// ErrUnknownCategory is what Store returns for a product whose category slug names no
// category.
var ErrUnknownCategory = errors.New("unknown category")

// Store is the catalog's write side, implemented by *PGStore. Slug collisions are
// apperr.ErrConflict; a missing product or category is apperr.ErrNotFound.
type Store interface {
	CreateProduct(ctx context.Context, in ProductInput, attrs []byte) (int64, error)
	// UpdateProduct replaces product id's fields but the stock; it sets the stock to set
	// unless set is nil, and changes nothing unless the stock is expected (nil: any);
	// a stock that is not expected is a *StockChangedError.
	UpdateProduct(ctx context.Context, id int64, in ProductInput, attrs []byte, set, expected *int) error
	// DeleteProductIfClosed deletes product id unless pending or paid orders hold it,
	// and returns how many do.
	DeleteProductIfClosed(ctx context.Context, id int64) (openOrders int64, err error)
	// SetStock sets product id's stock unless it is not expected (nil: any), which is a
	// *StockChangedError.
	SetStock(ctx context.Context, id int64, stock int, expected *int) error
	CreateCategory(ctx context.Context, in CategoryInput) (int64, error)
	UpdateCategory(ctx context.Context, id int64, in CategoryInput) error
	// DeleteCategoryIfEmpty deletes category id unless products are in it, and returns
	// how many are.
	DeleteCategoryIfEmpty(ctx context.Context, id int64) (products int64, err error)
	Category(ctx context.Context, id int64) (catalog.Category, error)
}

// Service manages the catalog.
type Service struct {
	store    Store
	catalog  *catalog.Service
	currency string
	listener catalog.ChangeListener
}

// NewService returns the admin service on store; cat reads products back in the
// shoppers' form, listener is told about each change (nil: nobody is).
func NewService(store Store, cat *catalog.Service, currency string, listener catalog.ChangeListener) *Service {
	return &Service{store: store, catalog: cat, currency: currency, listener: listener}
}

// ProductInput is a product as an admin writes it: POST creates it, PUT replaces every
// field but the stock, which an update changes only as UpdateProduct says.
type ProductInput struct {
	Slug        string      `json:"slug"`
	Name        string      `json:"name"`
	Description string      `json:"description"`
	Price       money.Money `json:"price"`
	Category    string      `json:"category"`
	// Stock is the units for sale; omitted on create means 0, on update "keep it".
	Stock *int `json:"stock"`
	// ExpectedStock (updates only) is the stock the client read and showed: the update
	// sets Stock only if the stock is still that, so that no copy read before an order
	// can put the units sold back on sale.
	ExpectedStock *int           `json:"expected_stock"`
	ImageURL      string         `json:"image_url"`
	Attributes    map[string]any `json:"attributes"`
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
	// ExpectedStock, when set, is the stock the client showed: the stock is set only if
	// it is still that (otherwise *StockChangedError). Without it the set is absolute,
	// as after counting the shelves.
	ExpectedStock *int `json:"expected_stock"`
}

// StockChangedError refuses a change made on a stale stock: the client expected the stock
// to be Expected, and orders or another admin have made it Current since it was read.
// Nothing was saved. It is an apperr.ErrConflict (409).
type StockChangedError struct {
	Expected, Current int
}

func (e *StockChangedError) Error() string {
	return fmt.Sprintf("the stock is %d now, not %d as read: orders or another admin changed it since, and nothing was saved; "+
		"send the stock you want with expected_stock %d, or leave out stock to keep it", e.Current, e.Expected, e.Current)
}

// Unwrap makes the error an apperr.ErrConflict.
func (e *StockChangedError) Unwrap() error { return apperr.ErrConflict }

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
	checkStock(&f, "stock", in.Stock)
	checkStock(&f, "expected_stock", in.ExpectedStock)
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

func checkStock(f *apperr.Fields, field string, n *int) {
	if n != nil && (*n < 0 || *n > MaxStock) {
		f.Add(field, fmt.Sprintf("must be between 0 and %d", MaxStock))
	}
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

// CreateProduct adds a product. A taken slug is apperr.ErrConflict; an unknown category
// is a 422 naming the field.
func (s *Service) CreateProduct(ctx context.Context, in ProductInput) (catalog.Product, error) {
	attrs, err := in.Validate(s.currency)
	if err != nil {
		return catalog.Product{}, err
	}
	if in.ExpectedStock != nil {
		return catalog.Product{}, apperr.Unprocessable("expected_stock", "is only for updates: a new product has no stock to compare with")
	}
	id, err := s.store.CreateProduct(ctx, in, attrs)
	if err != nil {
		return catalog.Product{}, fmt.Errorf("creating product: %w", categoryError(err, in.Category))
	}
	return s.changed(ctx, id)
}

// UpdateProduct replaces product id's fields. Orders take stock between a client's read
// and its save, so the stock is never written from a copy:
//   - stock omitted: the stock is kept;
//   - stock with expected_stock: the same value keeps the stock (the client did not
//     change it, whatever orders did since); another sets it, only if the stock is still
//     expected_stock;
//   - stock alone (a client that sends the product back as read): it is the stock the
//     client read, and must still be the stock; it is kept.
//
// A stock that is not what the client read refuses the whole update with a
// *StockChangedError (409) naming the current stock.
func (s *Service) UpdateProduct(ctx context.Context, id int64, in ProductInput) (catalog.Product, error) {
	attrs, err := in.Validate(s.currency)
	if err != nil {
		return catalog.Product{}, err
	}
	var set, expected *int
	switch {
	case in.Stock == nil && in.ExpectedStock != nil:
		return catalog.Product{}, apperr.Unprocessable("expected_stock", "is only sent with stock")
	case in.Stock == nil:
	case in.ExpectedStock == nil:
		expected = in.Stock
	case *in.Stock != *in.ExpectedStock:
		set, expected = in.Stock, in.ExpectedStock
	}
	if err := s.store.UpdateProduct(ctx, id, in, attrs, set, expected); err != nil {
		return catalog.Product{}, fmt.Errorf("updating product %d: %w", id, categoryError(err, in.Category))
	}
	return s.changed(ctx, id)
}

// DeleteProduct removes product id (and its cart lines). A product in pending or paid
// orders is refused with apperr.ErrConflict: cancelling those orders must be able to
// put it back into stock. Set its stock to 0 to stop selling it.
func (s *Service) DeleteProduct(ctx context.Context, id int64) error {
	open, err := s.store.DeleteProductIfClosed(ctx, id)
	if err != nil {
		return fmt.Errorf("deleting product %d: %w", id, err)
	}
	if open > 0 {
		return fmt.Errorf("product %d is in %d open (pending or paid) orders; set its stock to 0 instead: %w", id, open, apperr.ErrConflict)
	}
	s.invalidate(ctx)
	return nil
}

// SetStock sets product id's stock; with in.ExpectedStock, only if the stock is still that.
// Orders take stock only through the checkout's guarded decrement.
func (s *Service) SetStock(ctx context.Context, id int64, in StockInput) (catalog.Product, error) {
	if in.Stock == nil {
		return catalog.Product{}, apperr.Unprocessable("stock", "is required")
	}
	var f apperr.Fields
	checkStock(&f, "stock", in.Stock)
	checkStock(&f, "expected_stock", in.ExpectedStock)
	if err := f.Unprocessable(); err != nil {
		return catalog.Product{}, err
	}
	if err := s.store.SetStock(ctx, id, *in.Stock, in.ExpectedStock); err != nil {
		return catalog.Product{}, fmt.Errorf("setting the stock of product %d: %w", id, err)
	}
	return s.changed(ctx, id)
}

// CreateCategory adds a category; a taken slug is apperr.ErrConflict.
func (s *Service) CreateCategory(ctx context.Context, in CategoryInput) (catalog.Category, error) {
	if err := in.Validate(); err != nil {
		return catalog.Category{}, err
	}
	id, err := s.store.CreateCategory(ctx, in)
	if err != nil {
		return catalog.Category{}, fmt.Errorf("creating category: %w", err)
	}
	s.invalidate(ctx)
	return s.store.Category(ctx, id)
}

// UpdateCategory replaces category id.
func (s *Service) UpdateCategory(ctx context.Context, id int64, in CategoryInput) (catalog.Category, error) {
	if err := in.Validate(); err != nil {
		return catalog.Category{}, err
	}
	if err := s.store.UpdateCategory(ctx, id, in); err != nil {
		return catalog.Category{}, fmt.Errorf("updating category %d: %w", id, err)
	}
	s.invalidate(ctx)
	return s.store.Category(ctx, id)
}

// DeleteCategory removes category id; one that still has products is apperr.ErrConflict.
func (s *Service) DeleteCategory(ctx context.Context, id int64) error {
	n, err := s.store.DeleteCategoryIfEmpty(ctx, id)
	if err != nil {
		return fmt.Errorf("deleting category %d: %w", id, err)
	}
	if n > 0 {
		return fmt.Errorf("category %d still has %d products; move or delete them first: %w", id, n, apperr.ErrConflict)
	}
	s.invalidate(ctx)
	return nil
}

// changed raises the change and reads the product back, fresh from the database.
func (s *Service) changed(ctx context.Context, id int64) (catalog.Product, error) {
	s.invalidate(ctx)
	return s.catalog.Product(ctx, strconv.FormatInt(id, 10))
}

// invalidate raises catalog.Edited: the change is committed.
func (s *Service) invalidate(ctx context.Context) {
	if s.listener != nil {
		s.listener.CatalogChanged(ctx, catalog.Edited)
	}
}

// categoryError turns the store's ErrUnknownCategory into a 422 naming the field.
func categoryError(err error, slug string) error {
	if errors.Is(err, ErrUnknownCategory) {
		return apperr.Unprocessable("category", "no category has the slug "+slug)
	}
	return err
}
