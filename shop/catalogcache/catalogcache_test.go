package catalogcache_test

import (
	"context"
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/storefront-operator/storefront/shop/catalog"
	"github.com/storefront-operator/storefront/shop/catalogcache"
	"github.com/storefront-operator/storefront/shop/platform/cache"
	"github.com/storefront-operator/storefront/shop/platform/database"
	"github.com/storefront-operator/storefront/shop/search"
	"github.com/storefront-operator/storefront/test/shoptest"
	"github.com/storefront-operator/storefront/test/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

type fixture struct {
	cat    *catalog.Service
	srch   *search.Service
	cached *catalogcache.Catalog
	prefix string
}

func newFixture(t *testing.T, stockRefresh time.Duration) fixture {
	t.Helper()
	ctx := context.Background()
	pool, err := database.Open(ctx, shoptest.MigratedDatabase(t, true))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	ca, err := testenv.TestCA()
	if err != nil {
		t.Fatal(err)
	}
	rdb, err := cache.OpenRedis(testenv.RedisURL(t), ca.Pool())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rdb.Close() })
	f := fixture{cat: catalog.NewService(catalog.NewPGStore(pool)), srch: search.NewService(search.NewPGStore(pool)),
		prefix: "shop:catalogcache-" + strconv.FormatInt(time.Now().UnixNano(), 36)}
	f.cached, err = catalogcache.New(f.cat, f.srch, catalogcache.Options{StockRefresh: stockRefresh,
		Cache: cache.Options{Redis: rdb, Secret: "test-secret-test-secret-test-secret", Prefix: f.prefix}})
	if err != nil {
		t.Fatal(err)
	}
	f.cached.Start(ctx)
	t.Cleanup(f.cached.Close)
	return f
}

func (f fixture) version(t *testing.T) int64 {
	t.Helper()
	v, err := testenv.SharedRedis(t).Admin().Get(context.Background(), f.prefix+":version").Int64()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// jsonOf is v as the API encodes it: no HTML escapes, a final newline.
func jsonOf(t *testing.T, v any) string {
	t.Helper()
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestReadsAreTheServices: each cached read answers what the service answers, its Body
// is the API's JSON of it, and the second read is a hit.
func TestReadsAreTheServices(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, 0)
	lq := catalog.ListQuery{Sort: catalog.SortName, Page: 1, PerPage: 5}
	sq, err := search.ParseQuery(url.Values{"q": {"knife"}})
	if err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		cached func() (any, []byte, bool, error)
		direct func() (any, error)
	}{
		"categories": {
			func() (any, []byte, bool, error) {
				r, err := f.cached.Categories(ctx)
				return r.Value, r.Body, r.Hit, err
			},
			func() (any, error) { cs, err := f.cat.Categories(ctx); return catalog.CategoryList{Items: cs}, err },
		},
		"a page of products": {
			func() (any, []byte, bool, error) {
				r, err := f.cached.ListProducts(ctx, lq)
				return r.Value, r.Body, r.Hit, err
			},
			func() (any, error) { return f.cat.ListProducts(ctx, lq) },
		},
		"a product": {
			func() (any, []byte, bool, error) {
				r, err := f.cached.Product(ctx, "cork-yoga-mat")
				return r.Value, r.Body, r.Hit, err
			},
			func() (any, error) { return f.cat.Product(ctx, "cork-yoga-mat") },
		},
		"a search": {
			func() (any, []byte, bool, error) {
				r, err := f.cached.Search(ctx, sq)
				return r.Value, r.Body, r.Hit, err
			},
			func() (any, error) { return f.srch.Search(ctx, sq) },
		},
	} {
		t.Run(name, func(t *testing.T) {
			want, err := tc.direct()
			if err != nil {
				t.Fatal(err)
			}
			for i, wantHit := range []bool{false, true} {
				got, body, hit, err := tc.cached()
				if err != nil {
					t.Fatal(err)
				}
				if jsonOf(t, got) != jsonOf(t, want) || string(body) != jsonOf(t, want) || hit != wantHit {
					t.Errorf("read %d: hit=%v (want %v)\nvalue %s\nbody  %s\nwant  %s", i+1, hit, wantHit, jsonOf(t, got), body, jsonOf(t, want))
				}
			}
		})
	}
	t.Run("an id is one key however it is written", func(t *testing.T) {
		p, err := f.cat.Product(ctx, "chef-s-knife-20-cm")
		if err != nil {
			t.Fatal(err)
		}
		id := strconv.FormatInt(p.ID, 10)
		if r, err := f.cached.Product(ctx, id); err != nil || r.Hit {
			t.Fatalf("first read: hit=%v, %v", r.Hit, err)
		}
		if r, err := f.cached.Product(ctx, "000"+id); err != nil || !r.Hit || r.Value.ID != p.ID {
			t.Errorf("read as 000%s: hit=%v id %d, %v", id, r.Hit, r.Value.ID, err)
		}
	})
}

// TestChanges: an edit invalidates at once; stock moved by orders invalidates at once
// when quiet, then at most once per StockRefresh, the last move of a burst included.
func TestChanges(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, 300*time.Millisecond)
	f.cached.CatalogChanged(ctx, catalog.Edited)
	v := f.version(t)
	f.cached.CatalogChanged(ctx, catalog.Edited)
	if got := f.version(t); got != v+1 {
		t.Fatalf("after a second edit: version %d, want %d", got, v+1)
	}
	for i := 0; i < 20; i++ {
		f.cached.CatalogChanged(ctx, catalog.StockMoved)
	}
	if got := f.version(t); got != v+2 {
		t.Fatalf("after a burst of 20 stock moves: version %d, want %d (the first, at once)", got, v+2)
	}
	deadline := time.Now().Add(time.Second)
	for f.version(t) != v+3 {
		if time.Now().After(deadline) {
			t.Fatalf("the burst's last move was never published: version %d", f.version(t))
		}
		time.Sleep(10 * time.Millisecond) // polling interval, not synchronisation
	}
	f.cached.CatalogChanged(ctx, catalog.Edited)
	if got := f.version(t); got != v+4 {
		t.Errorf("an edit after the burst: version %d, want %d", got, v+4)
	}
}
