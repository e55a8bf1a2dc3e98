package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/storefront-operator/storefront/shop/catalog"
	"github.com/storefront-operator/storefront/test/shoptest"
	"github.com/storefront-operator/storefront/test/testenv"
)

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %s", within, what)
		}
		time.Sleep(20 * time.Millisecond) // polling interval, not synchronisation
	}
}

func price(t *testing.T, shop *shoptest.Shop, slug string) (int64, string) {
	t.Helper()
	resp, body := shop.Get(t, "/api/v1/products/"+slug)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	var p catalog.Product
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatal(err)
	}
	return p.Price.Amount, resp.Header.Get("X-Cache")
}

func TestETagAndConditionalGet(t *testing.T) {
	shop := shoptest.Start(t, shoptest.Options{Demo: true})
	for _, path := range []string{"/api/v1/categories", "/api/v1/products?sort=name", "/api/v1/products/chef-s-knife-20-cm", "/api/v1/search?q=knife", "/api/openapi.json"} {
		t.Run(path, func(t *testing.T) {
			resp, body := shop.Get(t, path)
			etag := resp.Header.Get("ETag")
			if resp.StatusCode != 200 || !strings.HasPrefix(etag, `"`) || len(body) == 0 {
				t.Fatalf("status %d, ETag %q", resp.StatusCode, etag)
			}
			if cc := resp.Header.Get("Cache-Control"); cc != "public, no-cache" {
				t.Errorf("Cache-Control = %q", cc)
			}
			resp, body = shop.Get(t, path, "If-None-Match", etag)
			if resp.StatusCode != http.StatusNotModified || len(body) != 0 || resp.Header.Get("ETag") != etag {
				t.Errorf("If-None-Match with the ETag: status %d, %d bytes, ETag %q", resp.StatusCode, len(body), resp.Header.Get("ETag"))
			}
			resp, _ = shop.Get(t, path, "If-None-Match", "W/"+etag)
			if resp.StatusCode != http.StatusNotModified {
				t.Errorf("If-None-Match with the weak ETag: status %d", resp.StatusCode)
			}
			resp, body = shop.Get(t, path, "If-None-Match", `"something-else"`)
			if resp.StatusCode != 200 || len(body) == 0 {
				t.Errorf("If-None-Match with another ETag: status %d", resp.StatusCode)
			}
		})
	}
	t.Run("errors carry no ETag", func(t *testing.T) {
		resp, _ := shop.Get(t, "/api/v1/products?per_page=0")
		if resp.StatusCode != 400 || resp.Header.Get("ETag") != "" {
			t.Errorf("status %d, ETag %q", resp.StatusCode, resp.Header.Get("ETag"))
		}
	})
}

func TestCacheHitAfterMissAndInvalidation(t *testing.T) {
	for name, redis := range map[string]bool{"with Redis": true, "in-process only": false} {
		t.Run(name, func(t *testing.T) {
			o := shoptest.Options{Demo: true}
			if redis {
				o.RedisURL = testenv.RedisURL(t)
			}
			shop := shoptest.Start(t, o)
			const slug = "cork-yoga-mat"
			if p, cache := price(t, shop, slug); p != 6900 || cache != "miss" {
				t.Fatalf("first read: price %d, X-Cache %q; want 6900, miss", p, cache)
			}
			if p, cache := price(t, shop, slug); p != 6900 || cache != "hit" {
				t.Fatalf("second read: price %d, X-Cache %q; want 6900, hit", p, cache)
			}
			_, before := shop.Get(t, "/api/v1/products?category=fitness&sort=price_asc")

			// A change without invalidation is not seen: the response is cached.
			exec(t, shop.DatabaseURL, `UPDATE products SET price_minor = 5900 WHERE slug = $1`, slug)
			if p, _ := price(t, shop, slug); p != 6900 {
				t.Fatalf("read before invalidation: price %d, want the cached 6900", p)
			}
			if err := shop.App.Invalidate(context.Background()); err != nil {
				t.Fatal(err)
			}
			if p, cache := price(t, shop, slug); p != 5900 || cache != "miss" {
				t.Fatalf("read after invalidation: price %d, X-Cache %q; want 5900, miss", p, cache)
			}
			if _, after := shop.Get(t, "/api/v1/products?category=fitness&sort=price_asc"); string(after) == string(before) {
				t.Error("the product list did not change after invalidation")
			}
		})
	}
}

func TestInvalidationReachesAnotherInstance(t *testing.T) {
	redisURL := testenv.RedisURL(t)
	a := shoptest.Start(t, shoptest.Options{Demo: true, RedisURL: redisURL})
	b := shoptest.Start(t, shoptest.Options{DatabaseURL: a.DatabaseURL, RedisURL: redisURL})
	const slug = "kettlebell-16-kg"

	if p, cache := price(t, a, slug); p != 5900 || cache != "miss" {
		t.Fatalf("a: price %d, X-Cache %q", p, cache)
	}
	// b has never seen the product: it comes from Redis, filled by a.
	if p, cache := price(t, b, slug); p != 5900 || cache != "hit" {
		t.Fatalf("b: price %d, X-Cache %q; want a Redis hit", p, cache)
	}
	exec(t, a.DatabaseURL, `UPDATE products SET price_minor = 4500 WHERE slug = $1`, slug)
	if err := a.App.Invalidate(context.Background()); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "b serves the new price after a's invalidation", func() bool {
		p, _ := price(t, b, slug)
		return p == 4500
	})
	_, body := b.Get(t, "/metrics")
	if !strings.Contains(string(body), `shop_cache_requests_total{level="redis",result="hit"}`) {
		t.Error("b's metrics show no Redis hit")
	}
}

func TestRedisKilledMidTest(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	redis, err := testenv.StartRedis(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(redis.Stop)
	shop := shoptest.Start(t, shoptest.Options{Demo: true, RedisURL: redis.URL(1)})
	const slug = "foam-roller"
	if p, _ := price(t, shop, slug); p != 2400 {
		t.Fatalf("price %d", p)
	}
	if _, cache := price(t, shop, slug); cache != "hit" {
		t.Fatalf("X-Cache %q, want hit", cache)
	}

	redis.Kill()

	// Still correct: cached or from the database, never an error.
	if p, _ := price(t, shop, slug); p != 2400 {
		t.Fatalf("price %d with Redis dead", p)
	}
	exec(t, shop.DatabaseURL, `UPDATE products SET price_minor = 1999 WHERE slug = $1`, slug)
	if err := shop.App.Invalidate(ctx); err == nil {
		t.Error("Invalidate reported success with Redis dead")
	}
	for i := 0; i < 3; i++ {
		if p, _ := price(t, shop, slug); p != 1999 {
			t.Fatalf("read %d after invalidation with Redis dead: price %d, want 1999", i, p)
		}
	}
	for _, path := range []string{"/api/v1/products", "/api/v1/search?q=roller", "/api/v1/categories", "/api/v1/products?page=2&per_page=7"} {
		if resp, body := shop.Get(t, path); resp.StatusCode != 200 {
			t.Errorf("%s with Redis dead: %d %s", path, resp.StatusCode, body)
		}
	}
	if resp, body := shop.Get(t, "/readyz"); resp.StatusCode != 200 {
		t.Errorf("/readyz with Redis dead: %d %s", resp.StatusCode, body)
	}
	_, body := shop.Get(t, "/metrics")
	if !strings.Contains(string(body), `shop_cache_requests_total{level="redis",result="error"}`) {
		t.Error("metrics show no Redis error")
	}
}

func TestStartsWithRedisUnreachable(t *testing.T) {
	port, err := testenv.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	shop := shoptest.Start(t, shoptest.Options{Demo: true, RedisURL: "redis://127.0.0.1:" + jsonInt(int64(port)) + "/0"})
	if resp, _ := shop.Get(t, "/readyz"); resp.StatusCode != 200 {
		t.Errorf("/readyz = %d", resp.StatusCode)
	}
	if p, _ := price(t, shop, "foam-roller"); p != 2400 {
		t.Errorf("price %d", p)
	}
}

func TestShopsSharingARedisKeepTheirOwnCatalogs(t *testing.T) {
	redisURL := testenv.RedisURL(t)
	a := shoptest.Start(t, shoptest.Options{Demo: true, RedisURL: redisURL})
	b := shoptest.Start(t, shoptest.Options{Demo: true, RedisURL: redisURL})
	exec(t, b.DatabaseURL, `UPDATE products SET price_minor = 1 WHERE slug = 'cork-yoga-mat'`)
	if p, _ := price(t, a, "cork-yoga-mat"); p != 6900 {
		t.Fatalf("a: %d", p)
	}
	if p, cache := price(t, b, "cork-yoga-mat"); p != 1 || cache != "miss" {
		t.Errorf("b read %d (X-Cache %s): another shop's cached entry", p, cache)
	}
}
