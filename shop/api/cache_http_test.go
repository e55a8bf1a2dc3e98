package api_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/storefront-operator/storefront/shop/catalog"
	"github.com/storefront-operator/storefront/shop/platform/config"
	"github.com/storefront-operator/storefront/test/shoptest"
	"github.com/storefront-operator/storefront/test/testenv"
)

// eventually polls cond until it holds or the deadline passes, and says how long it took.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > within {
			t.Fatalf("not within %s: %s", within, what)
		}
		time.Sleep(10 * time.Millisecond) // polling interval, not synchronisation
	}
	return time.Since(start)
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

// metric returns the value of the sample named series (name and labels as exposed) on
// shop's /metrics, 0 when absent.
func metric(t *testing.T, shop *shoptest.Shop, series string) float64 {
	t.Helper()
	sc := bufio.NewScanner(strings.NewReader(shop.Metrics(t)))
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		if ok && name == series {
			v, err := strconv.ParseFloat(value, 64)
			if err != nil {
				t.Fatal(err)
			}
			return v
		}
	}
	return 0
}

const (
	redisHits     = `shop_cache_requests_total{level="redis",result="hit"}`
	redisErrors   = `shop_cache_requests_total{level="redis",result="error"}`
	redisRejected = `shop_cache_requests_total{level="redis",result="rejected"}`
	dbQueries     = `shop_db_queries_total`
)

// shopKeys lists the cache entries shop wrote to Redis.
func shopKeys(t *testing.T, shop *shoptest.Shop, admin redis.UniversalClient) []string {
	t.Helper()
	var keys []string
	err := forEachMaster(admin, func(n *redis.Client) error {
		k, err := n.Keys(context.Background(), shop.App.RedisPrefix+":cache:e:*").Result()
		keys = append(keys, k...)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

// forEachMaster runs fn on each master of c, one at a time.
func forEachMaster(c redis.UniversalClient, fn func(*redis.Client) error) error {
	if cc, ok := c.(*redis.ClusterClient); ok {
		var mu sync.Mutex
		return cc.ForEachMaster(context.Background(), func(_ context.Context, n *redis.Client) error {
			mu.Lock()
			defer mu.Unlock()
			return fn(n)
		})
	}
	return fn(c.(*redis.Client))
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
			if redis && metric(t, shop, redisErrors) != 0 {
				t.Errorf("%v Redis errors", metric(t, shop, redisErrors))
			}
		})
	}
}

// TestTwoReplicasShareTheCache: replica B serves what replica A wrote to the cluster-mode
// server without a single SQL statement, and an admin edit on A reaches B within a second.
func TestTwoReplicasShareTheCache(t *testing.T) {
	redisURL := testenv.RedisURL(t)
	a := shoptest.Start(t, shoptest.Options{Demo: true, RedisURL: redisURL})
	b := shoptest.Start(t, shoptest.Options{DatabaseURL: a.DatabaseURL, RedisURL: redisURL})
	_, admin := newAdmin(t, a)
	const slug = "kettlebell-16-kg"
	paths := []string{"/api/v1/products/" + slug, "/api/v1/categories", "/api/v1/products?category=fitness", "/api/v1/search?q=kettlebell"}
	for _, p := range paths {
		if resp, _ := a.Get(t, p); resp.StatusCode != 200 || resp.Header.Get("X-Cache") != "miss" {
			t.Fatalf("a %s: %d, X-Cache %q", p, resp.StatusCode, resp.Header.Get("X-Cache"))
		}
	}
	// b has never seen them: they come from Redis, filled by a, with no statement.
	queries, hits := metric(t, b, dbQueries), metric(t, b, redisHits)
	for _, p := range paths {
		if resp, _ := b.Get(t, p); resp.StatusCode != 200 || resp.Header.Get("X-Cache") != "hit" {
			t.Fatalf("b %s: %d, X-Cache %q; want a Redis hit", p, resp.StatusCode, resp.Header.Get("X-Cache"))
		}
	}
	if n := metric(t, b, dbQueries) - queries; n != 0 {
		t.Errorf("b sent %v SQL statements serving entries from Redis, want 0", n)
	}
	if n := metric(t, b, redisHits) - hits; n != float64(len(paths)) {
		t.Errorf("b: %v Redis hits, want %d", n, len(paths))
	}

	id := productID(t, a, slug)
	resp, body := call(t, a, "PUT", "/api/v1/admin/products/"+strconv.FormatInt(id, 10), admin, map[string]any{
		"slug": slug, "name": "Kettlebell 16 kg", "description": "Cast iron.", "price": map[string]any{"amount": 4500, "currency": "EUR"},
		"category": "fitness", "image_url": "", "attributes": map[string]any{},
	})
	if resp.StatusCode != 200 {
		t.Fatalf("admin edit: %d %s", resp.StatusCode, body)
	}
	took := eventually(t, time.Second, "b serves the edited price", func() bool {
		p, _ := price(t, b, slug)
		return p == 4500
	})
	t.Logf("b served the edit %s after it", took)
	for _, s := range []*shoptest.Shop{a, b} {
		if n := metric(t, s, redisErrors); n != 0 {
			t.Errorf("%v Redis errors", n)
		}
	}
}

// TestShopOnAThreeMasterCluster runs two replicas on a Redis Cluster of three masters:
// entries land in slots of every node, reads follow them, and invalidations published
// through one node reach subscribers of another.
func TestShopOnAThreeMasterCluster(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rc, err := testenv.StartRedisCluster(ctx, 3)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rc.Stop)
	a := shoptest.Start(t, shoptest.Options{Demo: true, RedisURL: rc.URL})
	b := shoptest.Start(t, shoptest.Options{DatabaseURL: a.DatabaseURL, RedisURL: rc.URL})
	var slugs []string
	_, body := a.Get(t, "/api/v1/products?per_page=100")
	for _, p := range decode[catalog.ProductPage](t, body).Items {
		slugs = append(slugs, p.Slug)
		a.Get(t, "/api/v1/products/"+p.Slug)
	}
	perNode := map[string]int{}
	err = forEachMaster(rc.Admin(), func(n *redis.Client) error {
		k, err := n.Keys(ctx, a.App.RedisPrefix+":cache:e:*").Result()
		perNode[n.Options().Addr] = len(k)
		return err
	})
	if err != nil || len(perNode) != 3 {
		t.Fatalf("keys per master: %v, %v", perNode, err)
	}
	for addr, n := range perNode {
		if n == 0 {
			t.Errorf("no entry on %s: %v", addr, perNode)
		}
	}
	for _, slug := range slugs {
		if _, cache := price(t, b, slug); cache != "hit" {
			t.Fatalf("b %s: X-Cache %s, want a hit from the cluster", slug, cache)
		}
	}
	exec(t, a.DatabaseURL, `UPDATE products SET price_minor = 1234 WHERE slug = $1`, slugs[0])
	if err := a.App.Invalidate(ctx); err != nil {
		t.Fatal(err)
	}
	took := eventually(t, time.Second, "b follows a's invalidation", func() bool {
		p, _ := price(t, b, slugs[0])
		return p == 1234
	})
	t.Logf("b followed after %s", took)
	for _, s := range []*shoptest.Shop{a, b} {
		if n := metric(t, s, redisErrors); n != 0 {
			t.Errorf("%v Redis errors", n)
		}
	}
}

// TestForgedEntriesAreNeverServed: whoever can write to Redis cannot change what
// shoppers see, through the API or the pages.
func TestForgedEntriesAreNeverServed(t *testing.T) {
	ctx := context.Background()
	srv := testenv.SharedRedis(t)
	a := shoptest.Start(t, shoptest.Options{Demo: true, RedisURL: srv.URL})
	reads := []string{"/api/v1/products/cork-yoga-mat", "/api/v1/products?category=fitness", "/api/v1/search?q=yoga", "/api/v1/categories",
		"/", "/products", "/categories/fitness", "/search?q=yoga"}
	for _, p := range reads {
		if resp, _ := a.Get(t, p); resp.StatusCode != 200 {
			t.Fatalf("%s: %d", p, resp.StatusCode)
		}
	}
	keys := shopKeys(t, a, srv.Admin())
	if len(keys) < 5 {
		t.Fatalf("%d entries in Redis", len(keys))
	}
	// Each entry rewritten: the name and price changed in place, as an attacker would.
	for _, k := range keys {
		raw, err := srv.Admin().Get(ctx, k).Bytes()
		if err != nil {
			t.Fatal(err)
		}
		forged := bytes.ReplaceAll(raw, []byte("Cork Yoga Mat"), []byte("FORGED NAME!!"))
		forged = bytes.ReplaceAll(forged, []byte(`"amount":6900`), []byte(`"amount":1`))
		if bytes.Equal(forged, raw) {
			forged = append(forged, ' ') // still valid JSON
		}
		if err := srv.Admin().Set(ctx, k, forged, time.Minute).Err(); err != nil {
			t.Fatal(err)
		}
	}
	// A replica of another shop's secret writes into this shop's keys as well.
	foreign := shoptest.Start(t, shoptest.Options{DatabaseURL: a.DatabaseURL, RedisURL: srv.URL,
		Config: func(c *config.Config) { c.JWTSecret = "another-shop-another-secret-000000" }})
	exec(t, a.DatabaseURL, `UPDATE products SET name = 'Foreign Yoga Mat' WHERE slug = 'cork-yoga-mat'`)
	foreign.Get(t, "/api/v1/search?q=mat") // a new key, sealed with the other secret
	exec(t, a.DatabaseURL, `UPDATE products SET name = 'Cork Yoga Mat' WHERE slug = 'cork-yoga-mat'`)

	b := shoptest.Start(t, shoptest.Options{DatabaseURL: a.DatabaseURL, RedisURL: srv.URL})
	for _, p := range append(reads, "/api/v1/search?q=mat") {
		resp, body := b.Get(t, p)
		if resp.StatusCode != 200 || bytes.Contains(body, []byte("FORGED")) || bytes.Contains(body, []byte("Foreign")) || bytes.Contains(body, []byte(`"amount":1,`)) {
			t.Errorf("%s: %d, a forged entry was served:\n%.300s", p, resp.StatusCode, body)
		}
		if resp.Header.Get("X-Cache") == "hit" {
			t.Errorf("%s: X-Cache hit for a forged entry", p)
		}
	}
	if n := metric(t, b, redisRejected); n < float64(len(keys)) {
		t.Errorf("%v rejected entries counted, want at least %d", n, len(keys))
	}
}

func TestRedisKilledMidTest(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	srv, err := testenv.StartRedis(ctx, testenv.RedisOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	shop := shoptest.Start(t, shoptest.Options{Demo: true, RedisURL: srv.URL})
	const slug = "foam-roller"
	if p, _ := price(t, shop, slug); p != 2400 {
		t.Fatalf("price %d", p)
	}
	if _, cache := price(t, shop, slug); cache != "hit" {
		t.Fatalf("X-Cache %q, want hit", cache)
	}

	srv.Kill()

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
	if metric(t, shop, redisErrors) == 0 {
		t.Error("metrics show no Redis error")
	}
}

func TestStartsWithRedisUnreachable(t *testing.T) {
	port, err := testenv.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	shop := shoptest.Start(t, shoptest.Options{Demo: true, RedisURL: "rediss://shop:pw@localhost:" + jsonInt(int64(port))})
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

// TestWhatIsNotCached: typo searches (similar names), empty results and unknown products
// go to PostgreSQL every time; they write nothing to Redis.
func TestWhatIsNotCached(t *testing.T) {
	srv := testenv.SharedRedis(t)
	shop := shoptest.Start(t, shoptest.Options{Demo: true, RedisURL: srv.URL})
	for _, p := range []string{"/api/v1/search?q=espreso+machne", "/api/v1/search?q=zzzzqqqq", "/api/v1/products?category=no-such-category",
		"/api/v1/products?page=999", "/api/v1/products/no-such-product"} {
		for i := 0; i < 2; i++ {
			if resp, _ := shop.Get(t, p); resp.Header.Get("X-Cache") == "hit" {
				t.Errorf("%s: read %d was a hit", p, i+1)
			}
		}
	}
	if keys := shopKeys(t, shop, srv.Admin()); len(keys) != 0 {
		t.Errorf("Redis holds %d entries: %v", len(keys), keys)
	}
}

// TestTheShopUsesExactlyItsAccessString: on a server whose shop user has exactly the
// operator's access string (controllers.CacheUserAccessString), a shop's life (start,
// reads, writes, invalidations, a second replica, stop) is refused nothing (ACL LOG
// stays empty), and every command the string grants is used.
func TestTheShopUsesExactlyItsAccessString(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	srv, err := testenv.StartRedis(ctx, testenv.RedisOptions{}) // its own: it reads the server's statistics
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	admin := srv.Admin()
	if err := admin.Do(ctx, "CONFIG", "RESETSTAT").Err(); err != nil {
		t.Fatal(err)
	}
	func() {
		a := shoptest.Start(t, shoptest.Options{Demo: true, RedisURL: srv.URL})
		b := shoptest.Start(t, shoptest.Options{DatabaseURL: a.DatabaseURL, RedisURL: srv.URL})
		for _, s := range []*shoptest.Shop{a, b, a} {
			for _, p := range []string{"/api/v1/products/cork-yoga-mat", "/api/v1/categories", "/search?q=yoga", "/"} {
				s.Get(t, p)
			}
		}
		if err := a.App.Invalidate(ctx); err != nil {
			t.Fatal(err)
		}
		eventually(t, time.Second, "b follows the invalidation", func() bool {
			_, c := price(t, b, "cork-yoga-mat")
			return c == "miss"
		})
		a.App.Close()
		b.App.Close()
	}()
	if log, err := admin.Do(ctx, "ACL", "LOG").Slice(); err != nil || len(log) != 0 {
		t.Errorf("ACL LOG: %v %v; want nothing refused", log, err)
	}
	stats, err := admin.Info(ctx, "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	access, err := testenv.ShopAccessString()
	if err != nil {
		t.Fatal(err)
	}
	for _, rule := range strings.Fields(access) {
		cmd, ok := strings.CutPrefix(rule, "+")
		if !ok {
			continue
		}
		if !strings.Contains(stats, "cmdstat_"+cmd+":calls=") {
			t.Errorf("the access string grants %s, which the shop never sent:\n%s", cmd, stats)
		}
	}
}
