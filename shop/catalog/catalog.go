// Package catalog is the shop's product catalog: categories and products, listed with
// filters, sorts and pagination, and looked up by id or slug. The JSON API (package api)
// and the pages (package web) both call its Service.
//
// A product's pictures are its uploaded Images (package images stores them, in order,
// with alt text; docs/architecture.md#product-images). A product without uploads falls
// back to image_url: the per-category SVGs embedded in the shop
// (/static/img/categories/<category-slug>.svg), which the demo catalog's image_url
// values name.
package catalog

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/storefront-operator/storefront/shop/platform/apperr"
	"github.com/storefront-operator/storefront/shop/platform/money"
)

// Category is a product category with the number of products in it.
type Category struct {
	ID           int64  `json:"id"`
	Slug         string `json:"slug"`
	Name         string `json:"name"`
	Description  string `json:"description"`
	ProductCount int64  `json:"product_count"`
}

// CategoryList is the categories in the list envelope.
type CategoryList struct {
	Items []Category `json:"items"`
}

// CategoryRef is how a product names its category.
type CategoryRef struct {
	Slug string `json:"slug"`
	Name string `json:"name"`
}

// Product is one product as shoppers see it.
type Product struct {
	ID          int64       `json:"id"`
	Slug        string      `json:"slug"`
	Name        string      `json:"name"`
	Description string      `json:"description"`
	Price       money.Money `json:"price"`
	Category    CategoryRef `json:"category"`
	Stock       int         `json:"stock"`
	ImageURL    string      `json:"image_url"`
	// Images are the uploaded pictures in their order (never null).
	Images     []Image        `json:"images"`
	Attributes map[string]any `json:"attributes"`
	CreatedAt  time.Time      `json:"created_at"`
	UpdatedAt  time.Time      `json:"updated_at"`
}

// Image is one uploaded picture of a product: its variants are the same picture in
// several widths, for srcset.
type Image struct {
	ID  int64  `json:"id"`
	Alt string `json:"alt"`
	// Width and Height are the uploaded picture's (its aspect ratio).
	Width    int            `json:"width"`
	Height   int            `json:"height"`
	Variants []ImageVariant `json:"variants"`
}

// ImageVariant is one stored width of an Image.
type ImageVariant struct {
	Width  int `json:"width"`
	Height int `json:"height"`
	// Key is the content-addressed object name (sha256 hex and extension).
	Key string `json:"key"`
	// URL is where shoppers load it: IMAGE_BASE_URL and the key.
	URL string `json:"url,omitempty"`
}

// Largest is the widest variant (variants are stored by increasing width).
func (im Image) Largest() ImageVariant {
	if len(im.Variants) == 0 {
		return ImageVariant{}
	}
	return im.Variants[len(im.Variants)-1]
}

// VariantURL is the URL of the image variant key under base (IMAGE_BASE_URL).
func VariantURL(base, key string) string {
	return strings.TrimSuffix(base, "/") + "/" + key
}

// ResolveImages sets the URL of every image variant of ps under base.
func ResolveImages(base string, ps ...*Product) {
	for _, p := range ps {
		for i := range p.Images {
			for j := range p.Images[i].Variants {
				v := &p.Images[i].Variants[j]
				v.URL = VariantURL(base, v.Key)
			}
		}
	}
}

// Sort orders a product list.
type Sort string

// The sorts of the product lists (docs/architecture.md#the-shops-http-api). Search adds SortRelevance.
const (
	SortNewest    Sort = "newest"
	SortPriceAsc  Sort = "price_asc"
	SortPriceDesc Sort = "price_desc"
	SortName      Sort = "name"
	SortRelevance Sort = "relevance"
)

// ListSorts are the sorts of a product list, the first being the default.
var ListSorts = []Sort{SortNewest, SortPriceAsc, SortPriceDesc, SortName}

// Pagination limits.
const (
	DefaultPerPage = 20
	MaxPerPage     = 100
	MaxPage        = 10000
	// MaxPrice bounds price filters (minor units); larger values are refused as out of range.
	MaxPrice int64 = 1_000_000_000_000
)

// Filter restricts a product list.
type Filter struct {
	// Category is a category slug; empty means all.
	Category string
	MinPrice *int64
	MaxPrice *int64
}

// ListQuery asks for one page of products.
type ListQuery struct {
	Filter
	Sort    Sort
	Page    int
	PerPage int
}

// ProductPage is one page of a product list, in the API's list envelope (docs/architecture.md#the-shops-http-api).
type ProductPage struct {
	Items   []Product `json:"items"`
	Page    int       `json:"page"`
	PerPage int       `json:"per_page"`
	Total   int64     `json:"total"`
}

// Offset is the number of rows before the page.
func (q ListQuery) Offset() int { return (q.Page - 1) * q.PerPage }

// Key is a canonical form of q for cache keys: equal queries give equal keys.
func (q ListQuery) Key() string {
	var b strings.Builder
	b.WriteString("c=")
	b.WriteString(q.Category)
	b.WriteString("&min=")
	if q.MinPrice != nil {
		b.WriteString(strconv.FormatInt(*q.MinPrice, 10))
	}
	b.WriteString("&max=")
	if q.MaxPrice != nil {
		b.WriteString(strconv.FormatInt(*q.MaxPrice, 10))
	}
	fmt.Fprintf(&b, "&sort=%s&page=%d&per_page=%d", q.Sort, q.Page, q.PerPage)
	return b.String()
}

// ParseListQuery reads a list query from URL parameters (category, min_price, max_price,
// sort, page, per_page), applies the defaults and validates it: the first of sorts is
// the default sort and only sorts are accepted. Errors are an *apperr.ValidationError
// naming each bad parameter. Unknown parameters are ignored.
func ParseListQuery(v url.Values, sorts []Sort) (ListQuery, error) {
	var f apperr.Fields
	q := ListQuery{Sort: sorts[0], Page: 1, PerPage: DefaultPerPage}
	q.Category = v.Get("category")
	if q.Category != "" && !ValidSlug(q.Category) {
		f.Add("category", "must be a category slug (lower-case letters, digits and dashes)")
	}
	q.MinPrice = parsePrice(v, "min_price", &f)
	q.MaxPrice = parsePrice(v, "max_price", &f)
	if q.MinPrice != nil && q.MaxPrice != nil && *q.MaxPrice < *q.MinPrice {
		f.Add("max_price", "must be greater than or equal to min_price")
	}
	if s := v.Get("sort"); s != "" {
		q.Sort = Sort(s)
		if !contains(sorts, q.Sort) {
			f.Add("sort", "must be one of "+joinSorts(sorts))
		}
	}
	q.Page = parseInt(v, "page", 1, 1, MaxPage, &f)
	q.PerPage = parseInt(v, "per_page", DefaultPerPage, 1, MaxPerPage, &f)
	return q, f.Err()
}

func parsePrice(v url.Values, name string, f *apperr.Fields) *int64 {
	s := v.Get(name)
	if s == "" {
		return nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n > MaxPrice {
		f.Add(name, fmt.Sprintf("must be an integer amount in minor units between 0 and %d", MaxPrice))
		return nil
	}
	return &n
}

func parseInt(v url.Values, name string, def, lo, hi int, f *apperr.Fields) int {
	s := v.Get(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi {
		f.Add(name, fmt.Sprintf("must be an integer between %d and %d", lo, hi))
		return def
	}
	return n
}

// ValidSlug reports whether s is a well-formed slug: lower-case letters, digits and
// single dashes, not all digits (so that an all-digit path segment is an id), at most
// 120 characters.
func ValidSlug(s string) bool {
	if s == "" || len(s) > 120 || s[0] == '-' || s[len(s)-1] == '-' || !utf8.ValidString(s) {
		return false
	}
	digits := true
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case ch >= 'a' && ch <= 'z':
			digits = false
		case ch >= '0' && ch <= '9':
		case ch == '-':
			digits = false
			if s[i-1] == '-' {
				return false
			}
		default:
			return false
		}
	}
	return !digits
}

func contains(sorts []Sort, s Sort) bool {
	for _, x := range sorts {
		if x == s {
			return true
		}
	}
	return false
}

func joinSorts(sorts []Sort) string {
	parts := make([]string, len(sorts))
	for i, s := range sorts {
		parts[i] = string(s)
	}
	return strings.Join(parts, ", ")
}

// Change is a change to the catalog that copies of it (the cache) must follow. Package
// admin and package orders raise them; package catalogcache listens.
type Change int

const (
	// Edited: products or categories were created, changed or deleted. Copies drop
	// every entry at once.
	Edited Change = iota + 1
	// StockMoved: orders took or returned stock. Copies may show the stock from before
	// for a bounded time, so that checkouts do not empty them.
	StockMoved
)

// ChangeListener is told about catalog changes; *catalogcache.Catalog implements it.
type ChangeListener interface {
	CatalogChanged(ctx context.Context, ch Change)
}

// Store is the catalog's persistence, implemented by *PGStore.
type Store interface {
	Categories(ctx context.Context) ([]Category, error)
	ListProducts(ctx context.Context, q ListQuery) ([]Product, int64, error)
	ProductByID(ctx context.Context, id int64) (Product, error)
	ProductBySlug(ctx context.Context, slug string) (Product, error)
}

// Service answers catalog questions.
type Service struct {
	store Store
	// imageBase is IMAGE_BASE_URL: the image variants' URLs are under it.
	imageBase string
}

// NewService returns a catalog service over store.
func NewService(store Store) *Service { return &Service{store: store, imageBase: DefaultImageBase} }

// DefaultImageBase is where the shop serves a local image store itself.
const DefaultImageBase = "/images"

// WithImageBaseURL sets the base of the image variants' URLs (IMAGE_BASE_URL) and
// returns s.
func (s *Service) WithImageBaseURL(base string) *Service {
	if base != "" {
		s.imageBase = base
	}
	return s
}

// ResolveImages sets the URLs of the images of ps (products another package read).
func (s *Service) ResolveImages(ps []Product) {
	for i := range ps {
		ResolveImages(s.imageBase, &ps[i])
	}
}

// Categories lists every category with its product count, by name.
func (s *Service) Categories(ctx context.Context) ([]Category, error) {
	cs, err := s.store.Categories(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing categories: %w", err)
	}
	return cs, nil
}

// ListProducts returns one page of products (q as ParseListQuery returns it).
func (s *Service) ListProducts(ctx context.Context, q ListQuery) (ProductPage, error) {
	items, total, err := s.store.ListProducts(ctx, q)
	if err != nil {
		return ProductPage{}, fmt.Errorf("listing products: %w", err)
	}
	if items == nil {
		items = []Product{}
	}
	s.ResolveImages(items)
	return ProductPage{Items: items, Page: q.Page, PerPage: q.PerPage, Total: total}, nil
}

// Product returns the product whose id (all digits) or slug is idOrSlug; a malformed or
// unknown one is apperr.ErrNotFound.
func (s *Service) Product(ctx context.Context, idOrSlug string) (Product, error) {
	var (
		p   Product
		err error
	)
	if id, perr := strconv.ParseInt(idOrSlug, 10, 64); perr == nil {
		if id <= 0 {
			return Product{}, fmt.Errorf("product %q: %w", idOrSlug, apperr.ErrNotFound)
		}
		p, err = s.store.ProductByID(ctx, id)
	} else {
		if !ValidSlug(idOrSlug) {
			return Product{}, fmt.Errorf("product %q: %w", truncate(idOrSlug, 64), apperr.ErrNotFound)
		}
		p, err = s.store.ProductBySlug(ctx, idOrSlug)
	}
	if err != nil {
		return Product{}, fmt.Errorf("product %q: %w", truncate(idOrSlug, 64), err)
	}
	ResolveImages(s.imageBase, &p)
	return p, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
