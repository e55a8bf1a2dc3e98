// Package catalogcache is the shop's one read-through cache of the catalog and search
// services, below the JSON API and the pages, which both read the catalog through it
// (after ardanlabs/service's usercache: the wrapper owns the keys, the encoding, the
// versioning, the invalidation and its debouncing; package cache does the two levels and
// the authentication of what Redis returns). docs/architecture.md, "The shop's cache".
//
// What is cached: the category list, product pages of lists, products, and searches that
// matched the full-text query. Not cached: errors (an unknown product), empty pages, and
// searches that fell back to similar names (typos): each of those asks PostgreSQL again.
// The number of keys in Redis is bounded by the cache's buckets whatever the queries.
//
// Entries are the JSON of the services' values as the API sends them (no HTML escaping):
// the API writes the cached bytes, the pages use the decoded values.
package catalogcache

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/storefront-operator/storefront/shop/catalog"
	"github.com/storefront-operator/storefront/shop/platform/cache"
	"github.com/storefront-operator/storefront/shop/platform/logging"
	"github.com/storefront-operator/storefront/shop/search"
)

// format is part of every key: change it when the JSON of a cached value changes, so that
// replicas of the old and the new version never read each other's entries during a
// rollout.
const format = "v2" // v2: products carry images (issue 26)

// DefaultStockRefresh is how long cached reads may show the stock from before an order.
const DefaultStockRefresh = time.Second

// Options configure a Catalog.
type Options struct {
	// Cache is the two-level cache's configuration (Redis, secret, prefix, observer).
	Cache cache.Options
	// StockRefresh bounds how long cached reads may show the stock from before an order
	// (DefaultStockRefresh when 0): orders invalidate at most once per StockRefresh,
	// the last of a burst included. One invalidation per order would empty the cache at
	// checkout rates.
	StockRefresh time.Duration
}

// Catalog reads the catalog and search services through the cache.
type Catalog struct {
	catalog *catalog.Service
	search  *search.Service
	cache   *cache.Cache

	stockRefresh time.Duration
	mu           sync.Mutex
	lastStock    time.Time
	refreshing   bool
	timer        *time.Timer
	closed       bool
}

// New returns the cached catalog over cat and srch. Call Start, and Close when done.
func New(cat *catalog.Service, srch *search.Service, o Options) (*Catalog, error) {
	c, err := cache.New(o.Cache)
	if err != nil {
		return nil, err
	}
	if o.StockRefresh <= 0 {
		o.StockRefresh = DefaultStockRefresh
	}
	return &Catalog{catalog: cat, search: srch, cache: c, stockRefresh: o.StockRefresh}, nil
}

// Start follows the invalidations of the other replicas until Close.
func (c *Catalog) Start(ctx context.Context) { c.cache.Start(ctx) }

// Close stops following invalidations, and drops a stock invalidation still waiting.
func (c *Catalog) Close() {
	c.mu.Lock()
	c.closed = true
	if c.timer != nil {
		c.timer.Stop()
	}
	c.mu.Unlock()
	c.cache.Close()
}

// Result is a value read through the cache: the value, its JSON (Body, as the API sends
// it) with its entity tag, and whether it came from the cache. Value is shared with
// other readers: read-only.
type Result[T any] struct {
	Value T
	Body  []byte
	ETag  string
	Hit   bool
}

// Categories lists every category with its product count, by name.
func (c *Catalog) Categories(ctx context.Context) (Result[catalog.CategoryList], error) {
	return get(ctx, c, format+"|categories", func(ctx context.Context) (catalog.CategoryList, bool, error) {
		cs, err := c.catalog.Categories(ctx)
		if cs == nil {
			cs = []catalog.Category{}
		}
		return catalog.CategoryList{Items: cs}, true, err
	})
}

// ListProducts returns one page of products (q as catalog.ParseListQuery returns it).
func (c *Catalog) ListProducts(ctx context.Context, q catalog.ListQuery) (Result[catalog.ProductPage], error) {
	return get(ctx, c, format+"|products?"+q.Key(), func(ctx context.Context) (catalog.ProductPage, bool, error) {
		p, err := c.catalog.ListProducts(ctx, q)
		return p, len(p.Items) > 0, err
	})
}

// Product returns the product whose id or slug is idOrSlug; an unknown one is
// apperr.ErrNotFound (and not cached).
func (c *Catalog) Product(ctx context.Context, idOrSlug string) (Result[catalog.Product], error) {
	key := idOrSlug
	if allDigits(idOrSlug) { // checked first: a failed ParseInt allocates its error
		if id, err := strconv.ParseInt(idOrSlug, 10, 64); err == nil {
			key = strconv.FormatInt(id, 10) // "007" and "7" are one product
		}
	}
	return get(ctx, c, format+"|product/"+key, func(ctx context.Context) (catalog.Product, bool, error) {
		p, err := c.catalog.Product(ctx, idOrSlug)
		return p, true, err
	})
}

// Search runs q (as search.ParseQuery returns it). Only full-text matches with results
// are cached.
func (c *Catalog) Search(ctx context.Context, q search.Query) (Result[search.Result], error) {
	return get(ctx, c, format+"|search?"+q.Key(), func(ctx context.Context) (search.Result, bool, error) {
		r, err := c.search.Search(ctx, q)
		c.catalog.ResolveImages(r.Items)
		return r, r.Match == search.MatchFullText && len(r.Items) > 0, err
	})
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// get reads key (which starts with format) through the cache, loading it with load
// (which also says whether the value may be cached).
func get[T any](ctx context.Context, c *Catalog, key string, load func(context.Context) (T, bool, error)) (Result[T], error) {
	e, hit, err := c.cache.Get(ctx, key, decode[T], func(ctx context.Context) (cache.Loaded, error) {
		v, cacheable, err := load(ctx)
		if err != nil {
			return cache.Loaded{}, err
		}
		body, err := encode(v)
		if err != nil {
			return cache.Loaded{}, fmt.Errorf("encoding %s: %w", key, err)
		}
		return cache.Loaded{Body: body, Value: v, Cacheable: cacheable}, nil
	})
	if err != nil {
		return Result[T]{}, err
	}
	return Result[T]{Value: e.Value.(T), Body: e.Body, ETag: e.ETag, Hit: hit}, nil
}

// encode is the API's JSON: prices, names and descriptions are data, not HTML, so no
// \u0026 escapes.
func encode(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func decode[T any](b []byte) (any, error) {
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, err
	}
	return v, nil
}

// CatalogChanged makes the cached reads follow a change (catalog.ChangeListener): an edit
// invalidates every replica's entries at once; stock moved by orders does so at most once
// per StockRefresh, the last change of a burst included.
func (c *Catalog) CatalogChanged(ctx context.Context, ch catalog.Change) {
	if ch == catalog.StockMoved {
		c.stockMoved(ctx)
		return
	}
	c.invalidate(ctx)
}

// Invalidate drops every cached entry in every replica now.
func (c *Catalog) Invalidate(ctx context.Context) error { return c.cache.Invalidate(ctx) }

func (c *Catalog) invalidate(ctx context.Context) {
	if err := c.cache.Invalidate(ctx); err != nil {
		// The change is committed; this replica has dropped its entries and reads nothing
		// from Redis until the cache's retry publishes the invalidation.
		logging.FromContext(ctx).WarnContext(ctx, "Cache invalidation after a catalog change failed", "error", err)
	}
}

// stockMoved invalidates now if the last stock invalidation is at least StockRefresh old,
// or else once when StockRefresh has passed.
func (c *Catalog) stockMoved(ctx context.Context) {
	c.mu.Lock()
	wait := c.stockRefresh - time.Since(c.lastStock)
	switch {
	case c.refreshing || c.closed:
		c.mu.Unlock()
		return
	case wait > 0:
		c.refreshing = true
		defer c.mu.Unlock()
		c.timer = time.AfterFunc(wait, func() {
			c.mu.Lock()
			c.refreshing, c.lastStock = false, time.Now()
			c.mu.Unlock()
			ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			c.invalidate(ctx)
		})
		return
	}
	c.lastStock = time.Now()
	c.mu.Unlock()
	// Outside the lock: the invalidation is a Redis round trip.
	c.invalidate(ctx)
}
