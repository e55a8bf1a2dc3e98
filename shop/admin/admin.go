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
	UpdateProduct(ctx context.Context, id int64, in ProductInput, attrs []byte) error
	// DeleteProductIfClosed deletes product id unless pending or paid orders hold it,
	// and returns how many do.
	DeleteProductIfClosed(ctx context.Context, id int64) (openOrders int64, err error)
	SetStock(ctx context.Context, id int64, stock int) error
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

// CreateProduct adds a product. A taken slug is apperr.ErrConflict; an unknown category
// is a 422 naming the field.
func (s *Service) CreateProduct(ctx context.Context, in ProductInput) (catalog.Product, error) {
	attrs, err := in.Validate(s.currency)
	if err != nil {
		return catalog.Product{}, err
	}
	id, err := s.store.CreateProduct(ctx, in, attrs)
	if err != nil {
		return catalog.Product{}, fmt.Errorf("creating product: %w", categoryError(err, in.Category))
	}
	return s.changed(ctx, id)
}

// UpdateProduct replaces product id.
func (s *Service) UpdateProduct(ctx context.Context, id int64, in ProductInput) (catalog.Product, error) {
	attrs, err := in.Validate(s.currency)
	if err != nil {
		return catalog.Product{}, err
	}
	if err := s.store.UpdateProduct(ctx, id, in, attrs); err != nil {
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

// SetStock sets product id's stock.
func (s *Service) SetStock(ctx context.Context, id int64, in StockInput) (catalog.Product, error) {
	if in.Stock == nil {
		return catalog.Product{}, apperr.Unprocessable("stock", "is required")
	}
	if *in.Stock < 0 || *in.Stock > MaxStock {
		return catalog.Product{}, apperr.Unprocessable("stock", fmt.Sprintf("must be between 0 and %d", MaxStock))
	}
	if err := s.store.SetStock(ctx, id, *in.Stock); err != nil {
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
