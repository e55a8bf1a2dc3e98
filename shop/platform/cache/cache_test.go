package cache_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/storefront-operator/storefront/shop/platform/cache"
	"github.com/storefront-operator/storefront/test/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

type counts struct {
	mu sync.Mutex
	m  map[string]int
}

func (c *counts) CacheResult(level, result string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]int{}
	}
	c.m[level+" "+result]++
}

func (c *counts) get(k string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[k]
}

func newRedis(t *testing.T) *redis.Client {
	t.Helper()
	rdb, err := cache.OpenRedis(testenv.RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

func newCache(t *testing.T, o cache.Options) *cache.Cache {
	t.Helper()
	c := cache.New(o)
	c.Start(context.Background())
	t.Cleanup(c.Close)
	return c
}

func loader(n *atomic.Int64, body string) func(context.Context) ([]byte, error) {
	return func(context.Context) ([]byte, error) {
		n.Add(1)
		return []byte(body), nil
	}
}

func TestLevels(t *testing.T) {
	ctx := context.Background()
	rdb := newRedis(t)
	var obsA, obsB counts
	a := newCache(t, cache.Options{Redis: rdb, Observer: &obsA})
	b := newCache(t, cache.Options{Redis: rdb, Observer: &obsB})
	var loads atomic.Int64

	e, hit, err := a.Get(ctx, "k", loader(&loads, `{"v":1}`))
	if err != nil || hit || string(e.Body) != `{"v":1}` || e.ETag != cache.ETag(e.Body) {
		t.Fatalf("first get: %+v hit=%v err=%v", e, hit, err)
	}
	if _, hit, _ := a.Get(ctx, "k", loader(&loads, "x")); !hit || obsA.get("local hit") != 1 {
		t.Errorf("second get on a: hit=%v, local hits %d", hit, obsA.get("local hit"))
	}
	e2, hit, _ := b.Get(ctx, "k", loader(&loads, "x"))
	if !hit || obsB.get("redis hit") != 1 || e2.ETag != e.ETag {
		t.Errorf("get on b: hit=%v, redis hits %d, etag %q vs %q", hit, obsB.get("redis hit"), e2.ETag, e.ETag)
	}
	if loads.Load() != 1 {
		t.Errorf("loaded %d times, want 1", loads.Load())
	}
}

func TestConcurrentMissesLoadOnce(t *testing.T) {
	c := newCache(t, cache.Options{Redis: newRedis(t)})
	var loads atomic.Int64
	var wg sync.WaitGroup
	for i := 0; i < 32; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e, _, err := c.Get(context.Background(), "same", loader(&loads, "body"))
			if err != nil || string(e.Body) != "body" {
				t.Errorf("get: %q, %v", e.Body, err)
			}
		}()
	}
	wg.Wait()
	if n := loads.Load(); n != 1 {
		t.Errorf("loaded %d times, want 1", n)
	}
}

func TestVersionMovedElsewhereIsAMiss(t *testing.T) {
	ctx := context.Background()
	rdb := newRedis(t)
	a := newCache(t, cache.Options{Redis: rdb})
	var loads atomic.Int64
	if _, _, err := a.Get(ctx, "k", loader(&loads, "old")); err != nil {
		t.Fatal(err)
	}
	// Another replica invalidated, and its message was lost: only the version moved.
	if err := rdb.Incr(ctx, "shop:cache:version").Err(); err != nil {
		t.Fatal(err)
	}
	fresh := newCache(t, cache.Options{Redis: rdb})
	e, hit, _ := fresh.Get(ctx, "k", loader(&loads, "new"))
	if hit || string(e.Body) != "new" {
		t.Errorf("a replica read %q (hit=%v) stored under an old version", e.Body, hit)
	}
}

func TestLocalEntriesExpire(t *testing.T) {
	c := newCache(t, cache.Options{LocalTTL: 50 * time.Millisecond})
	var loads atomic.Int64
	ctx := context.Background()
	_, _, _ = c.Get(ctx, "k", loader(&loads, "a"))
	deadline := time.Now().Add(5 * time.Second)
	for loads.Load() < 2 && time.Now().Before(deadline) {
		_, _, _ = c.Get(ctx, "k", loader(&loads, "a"))
		time.Sleep(10 * time.Millisecond) // polling interval
	}
	if loads.Load() < 2 {
		t.Error("the local entry never expired")
	}
}

func TestLoadErrorsAreNotCached(t *testing.T) {
	c := newCache(t, cache.Options{})
	ctx := context.Background()
	fail := func(context.Context) ([]byte, error) { return nil, fmt.Errorf("boom") }
	if _, _, err := c.Get(ctx, "k", fail); err == nil {
		t.Fatal("no error")
	}
	var loads atomic.Int64
	if e, hit, err := c.Get(ctx, "k", loader(&loads, "ok")); err != nil || hit || string(e.Body) != "ok" {
		t.Errorf("after a failed load: %q hit=%v err=%v", e.Body, hit, err)
	}
}

func TestOpenRedisRefusesBadURLsWithoutEchoingThem(t *testing.T) {
	_, err := cache.OpenRedis("redis://user:s3cret@host:notaport/0")
	if err == nil {
		t.Fatal("no error")
	}
	if got := err.Error(); got == "" || contains(got, "s3cret") {
		t.Errorf("error %q", got)
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
