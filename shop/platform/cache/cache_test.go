package cache_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"strconv"
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

const secret = "test-secret-test-secret-test-secret"

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

// open returns the shop's client for u (a server of testenv's), as the shop opens it.
func open(t *testing.T, u string) *cache.Redis {
	t.Helper()
	ca, err := testenv.TestCA()
	if err != nil {
		t.Fatal(err)
	}
	rdb, err := cache.OpenRedis(u, ca.Pool())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

// prefix is a key prefix of this test's own, inside the shop's ACL (shop:*).
func prefix() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return "shop:" + hex.EncodeToString(b) + ":cache"
}

func newCache(t *testing.T, o cache.Options) *cache.Cache {
	t.Helper()
	if o.Secret == "" {
		o.Secret = secret
	}
	c, err := cache.New(o)
	if err != nil {
		t.Fatal(err)
	}
	c.Start(context.Background())
	t.Cleanup(c.Close)
	return c
}

func loader(n *atomic.Int64, body string) func(context.Context) (cache.Loaded, error) {
	return func(context.Context) (cache.Loaded, error) {
		n.Add(1)
		return cache.Loaded{Body: []byte(body), Value: body, Cacheable: true}, nil
	}
}

func decodeString(b []byte) (any, error) { return string(b), nil }

func get(t *testing.T, c *cache.Cache, key string, load func(context.Context) (cache.Loaded, error)) (cache.Entry, bool) {
	t.Helper()
	e, hit, err := c.Get(context.Background(), key, decodeString, load)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	return e, hit
}

// eventually polls cond until it holds or within passes.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %s", within, what)
		}
		time.Sleep(10 * time.Millisecond) // polling interval, not synchronisation
	}
}

func TestLevels(t *testing.T) {
	rdb, p := open(t, testenv.RedisURL(t)), prefix()
	var obsA, obsB counts
	a := newCache(t, cache.Options{Redis: rdb, Prefix: p, Observer: &obsA})
	b := newCache(t, cache.Options{Redis: rdb, Prefix: p, Observer: &obsB})
	var loads atomic.Int64

	e, hit := get(t, a, "k", loader(&loads, `{"v":1}`))
	if hit || string(e.Body) != `{"v":1}` || e.ETag != cache.ETag(e.Body) || e.Value != `{"v":1}` {
		t.Fatalf("first get: %+v hit=%v", e, hit)
	}
	if _, hit := get(t, a, "k", loader(&loads, "x")); !hit || obsA.get("local hit") != 1 {
		t.Errorf("second get on a: hit=%v, local hits %d", hit, obsA.get("local hit"))
	}
	e2, hit := get(t, b, "k", loader(&loads, "x"))
	if !hit || obsB.get("redis hit") != 1 || e2.ETag != e.ETag || e2.Value != `{"v":1}` {
		t.Errorf("get on b: hit=%v, redis hits %d, etag %q vs %q, value %v", hit, obsB.get("redis hit"), e2.ETag, e.ETag, e2.Value)
	}
	if loads.Load() != 1 {
		t.Errorf("loaded %d times, want 1", loads.Load())
	}
	if n := obsA.get("redis error") + obsB.get("redis error"); n != 0 {
		t.Errorf("%d Redis errors", n)
	}
}

// TestEveryReadIsOneKey: the cache of the previous release read the version and the
// entry with one MGET of two keys in different slots. On a cluster-mode server (what
// ElastiCache Serverless is) that is CROSSSLOT, and the operator's access string does not
// even allow MGET: every read was a Redis error, hidden by the fall-back to PostgreSQL.
// The cache now reads one key per GET.
func TestEveryReadIsOneKey(t *testing.T) {
	ctx := context.Background()
	rdb, p := open(t, testenv.RedisURL(t)), prefix()
	var legacy counts
	versionKey, dataKey := p+":version", p+":e:product/cork-yoga-mat"
	admin := testenv.SharedRedis(t).Admin()
	if s1, s2 := admin.ClusterKeySlot(ctx, versionKey).Val(), admin.ClusterKeySlot(ctx, dataKey).Val(); s1 == s2 {
		t.Fatalf("the two keys share slot %d", s1)
	}
	// The previous release's read (shop/platform/cache/cache.go, redisGet, before this change).
	legacyGet := func(c redis.Cmdable) {
		if _, err := c.MGet(ctx, versionKey, dataKey).Result(); err != nil {
			legacy.CacheResult("redis", "error")
		}
	}
	legacyGet(rdb)
	if err := admin.MGet(ctx, versionKey, dataKey).Err(); err == nil || !strings.HasPrefix(err.Error(), "CROSSSLOT") {
		t.Errorf("MGET across slots with every right: %v, want CROSSSLOT", err)
	}
	if legacy.get("redis error") != 1 {
		t.Errorf("the previous release's read: %d Redis errors, want 1", legacy.get("redis error"))
	}

	var obs counts
	a := newCache(t, cache.Options{Redis: rdb, Prefix: p, Observer: &obs})
	b := newCache(t, cache.Options{Redis: rdb, Prefix: p, Observer: &obs})
	var loads atomic.Int64
	for i := 0; i < 20; i++ {
		get(t, a, "k"+strconv.Itoa(i), loader(&loads, "v"))
		get(t, b, "k"+strconv.Itoa(i), loader(&loads, "v"))
	}
	if err := a.Invalidate(ctx); err != nil {
		t.Fatal(err)
	}
	if obs.get("redis error") != 0 || obs.get("redis hit") != 20 {
		t.Errorf("new cache: %d Redis errors (want 0), %d Redis hits (want 20)", obs.get("redis error"), obs.get("redis hit"))
	}
}

// TestKeysSpread: no hash tag gathers the entries in one slot, so they spread over the
// cluster's nodes.
func TestKeysSpread(t *testing.T) {
	ctx := context.Background()
	srv := testenv.SharedRedis(t)
	rdb, p := open(t, srv.URL), prefix()
	c := newCache(t, cache.Options{Redis: rdb, Prefix: p})
	var loads atomic.Int64
	for i := 0; i < 1000; i++ {
		get(t, c, "product/"+strconv.Itoa(i), loader(&loads, "v"))
	}
	keys, err := srv.Admin().Keys(ctx, p+":e:*").Result()
	if err != nil {
		t.Fatal(err)
	}
	slots := map[int64]bool{}
	for _, k := range keys {
		s, err := srv.Admin().ClusterKeySlot(ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		slots[s] = true
	}
	if len(keys) < 990 || len(slots) <= 100 {
		t.Errorf("1000 entries: %d keys in %d slots, want about 1000 keys in more than 100 slots", len(keys), len(slots))
	}
}

// TestBucketsBoundTheKeys: however many distinct keys are asked for, a version has at
// most Buckets keys in Redis; two keys of one bucket replace each other (a miss, not a
// rejection).
func TestBucketsBoundTheKeys(t *testing.T) {
	ctx := context.Background()
	srv := testenv.SharedRedis(t)
	rdb, p := open(t, srv.URL), prefix()
	var obs counts
	c := newCache(t, cache.Options{Redis: rdb, Prefix: p, Buckets: 16, Observer: &obs})
	other := newCache(t, cache.Options{Redis: rdb, Prefix: p, Buckets: 16, Observer: &obs})
	var loads atomic.Int64
	for i := 0; i < 500; i++ {
		get(t, c, "search?q="+strconv.Itoa(i), loader(&loads, strconv.Itoa(i)))
	}
	keys, err := srv.Admin().Keys(ctx, p+":e:*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) > 16 {
		t.Errorf("%d keys for 500 entries, want at most 16", len(keys))
	}
	// Another replica asking for an early key finds its bucket taken by a later one.
	if e, hit := get(t, other, "search?q=0", loader(&loads, "0")); hit || e.Value != "0" {
		t.Errorf("an overwritten bucket: hit=%v value %v", hit, e.Value)
	}
	if obs.get("redis rejected") != 0 {
		t.Errorf("%d rejections for a shared bucket", obs.get("redis rejected"))
	}
}

// TestUntrustedEntries: what Redis returns is never served unless this shop sealed it
// for this key, this version, within RedisTTL.
func TestUntrustedEntries(t *testing.T) {
	ctx := context.Background()
	srv := testenv.SharedRedis(t)
	admin := srv.Admin()
	rdb := open(t, srv.URL)
	for name, tamper := range map[string]func(t *testing.T, c, foreign *cache.Cache, rkey string){
		"a forged entry": func(t *testing.T, c, _ *cache.Cache, rkey string) {
			set(t, admin, rkey, []byte(`{"name":"Forged","price":1}`))
		},
		"an entry with a forged seal": func(t *testing.T, c, _ *cache.Cache, rkey string) {
			raw := c.Seal(rkey, "product/a", []byte(`{"name":"A"}`), time.Now())
			copy(raw[3+8:], make([]byte, 32))
			set(t, admin, rkey, raw)
		},
		"an altered entry": func(t *testing.T, c, _ *cache.Cache, rkey string) {
			raw, err := admin.Get(ctx, rkey).Bytes()
			if err != nil {
				t.Fatal(err)
			}
			raw[len(raw)-2] ^= 1
			set(t, admin, rkey, raw)
		},
		"an entry copied from another key": func(t *testing.T, c, _ *cache.Cache, rkey string) {
			var loads atomic.Int64
			get(t, c, "product/b", loader(&loads, `{"name":"B"}`))
			raw, err := admin.Get(ctx, c.RedisKey("product/b", c.Version())).Bytes()
			if err != nil {
				t.Fatal(err)
			}
			set(t, admin, rkey, raw)
		},
		"an entry of another version": func(t *testing.T, c, _ *cache.Cache, rkey string) {
			old := c.RedisKey("product/a", c.Version()-1)
			set(t, admin, rkey, c.Seal(old, "product/a", []byte(`{"name":"Old"}`), time.Now()))
		},
		"an entry sealed with another shop's secret": func(t *testing.T, _, foreign *cache.Cache, rkey string) {
			set(t, admin, rkey, foreign.Seal(rkey, "product/a", []byte(`{"name":"Foreign"}`), time.Now()))
		},
		"an entry older than RedisTTL": func(t *testing.T, c, _ *cache.Cache, rkey string) {
			set(t, admin, rkey, c.Seal(rkey, "product/a", []byte(`{"name":"Stale"}`), time.Now().Add(-11*time.Minute)))
		},
		"an entry from the future": func(t *testing.T, c, _ *cache.Cache, rkey string) {
			set(t, admin, rkey, c.Seal(rkey, "product/a", []byte(`{"name":"Later"}`), time.Now().Add(time.Hour)))
		},
		"a truncated entry": func(t *testing.T, c, _ *cache.Cache, rkey string) {
			set(t, admin, rkey, c.Seal(rkey, "product/a", []byte(`{"name":"A"}`), time.Now())[:20])
		},
	} {
		t.Run(name, func(t *testing.T) {
			p := prefix()
			var obs counts
			writer := newCache(t, cache.Options{Redis: rdb, Prefix: p})
			reader := newCache(t, cache.Options{Redis: rdb, Prefix: p, Observer: &obs})
			foreign := newCache(t, cache.Options{Redis: rdb, Prefix: p, Secret: "another-shop-another-secret-xxxxx"})
			var loads atomic.Int64
			// Two versions, so that "another version" has one.
			if err := writer.Invalidate(ctx); err != nil {
				t.Fatal(err)
			}
			eventually(t, 2*time.Second, "the reader follows the version", func() bool { return reader.Version() == writer.Version() })
			get(t, writer, "product/a", loader(&loads, `{"name":"A"}`))
			rkey := writer.RedisKey("product/a", writer.Version())
			tamper(t, writer, foreign, rkey)

			e, hit := get(t, reader, "product/a", loader(&loads, `{"name":"A"}`))
			if hit || string(e.Body) != `{"name":"A"}` {
				t.Errorf("served %s (hit=%v), want the loaded value", e.Body, hit)
			}
			if obs.get("redis rejected") != 1 {
				t.Errorf("%d rejections counted, want 1", obs.get("redis rejected"))
			}
			// The load wrote a sound entry over it.
			if e, hit := get(t, newCache(t, cache.Options{Redis: rdb, Prefix: p}), "product/a", loader(&loads, "x")); !hit || string(e.Body) != `{"name":"A"}` {
				t.Errorf("after the reload: %s hit=%v", e.Body, hit)
			}
		})
	}
}

func set(t *testing.T, c redis.Cmdable, key string, raw []byte) {
	t.Helper()
	if err := c.Set(context.Background(), key, raw, time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
}

// TestInvalidationReachesOtherReplicas: through the channel at once, and through the
// poll of the version when the message is lost (here: the version moved without one).
func TestInvalidationReachesOtherReplicas(t *testing.T) {
	ctx := context.Background()
	srv := testenv.SharedRedis(t)
	rdb, p := open(t, srv.URL), prefix()
	a := newCache(t, cache.Options{Redis: rdb, Prefix: p})
	b := newCache(t, cache.Options{Redis: rdb, Prefix: p})
	var loads atomic.Int64
	get(t, b, "k", loader(&loads, "old"))

	start := time.Now()
	if err := a.Invalidate(ctx); err != nil {
		t.Fatal(err)
	}
	eventually(t, time.Second, "b drops its entry after a's invalidation", func() bool {
		e, _ := get(t, b, "k", loader(&loads, "new"))
		return e.Value == "new"
	})
	t.Logf("published invalidation seen by b after %s", time.Since(start))

	start = time.Now()
	if err := srv.Admin().Incr(ctx, p+":version").Err(); err != nil { // no message
		t.Fatal(err)
	}
	eventually(t, time.Second, "b follows a version moved without a message (PollInterval 500ms)", func() bool {
		e, _ := get(t, b, "k", loader(&loads, "newer"))
		return e.Value == "newer"
	})
	t.Logf("unannounced version seen by b after %s", time.Since(start))
}

// TestVersionsOnlyMoveForward: a version key rolled back or lost (a flush, a restart
// without persistence) never brings old entries back, and invalidation goes on above.
func TestVersionsOnlyMoveForward(t *testing.T) {
	ctx := context.Background()
	srv := testenv.SharedRedis(t)
	rdb, p := open(t, srv.URL), prefix()
	a := newCache(t, cache.Options{Redis: rdb, Prefix: p})
	for i := 0; i < 3; i++ {
		if err := a.Invalidate(ctx); err != nil {
			t.Fatal(err)
		}
	}
	v := a.Version()
	if err := srv.Admin().Del(ctx, p+":version").Err(); err != nil {
		t.Fatal(err)
	}
	a.Refresh(ctx)
	if a.Version() != v {
		t.Fatalf("version %d after the key was deleted, want %d kept", a.Version(), v)
	}
	if err := a.Invalidate(ctx); err != nil {
		t.Fatal(err)
	}
	stored, err := srv.Admin().Get(ctx, p+":version").Int64()
	if err != nil || a.Version() != v+1 || stored != v+1 {
		t.Errorf("after invalidating: version %d, stored %d (%v); want %d", a.Version(), stored, err, v+1)
	}
}

func TestConcurrentMissesLoadOnce(t *testing.T) {
	c := newCache(t, cache.Options{Redis: open(t, testenv.RedisURL(t)), Prefix: prefix()})
	var loads atomic.Int64
	var wg sync.WaitGroup
	for i := 0; i < 32; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e, _, err := c.Get(context.Background(), "same", decodeString, loader(&loads, "body"))
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

func TestLocalEntriesExpire(t *testing.T) {
	c := newCache(t, cache.Options{LocalTTL: 50 * time.Millisecond})
	var loads atomic.Int64
	get(t, c, "k", loader(&loads, "a"))
	eventually(t, 5*time.Second, "the local entry expires", func() bool {
		get(t, c, "k", loader(&loads, "a"))
		return loads.Load() >= 2
	})
}

func TestWhatIsNotCached(t *testing.T) {
	srv := testenv.SharedRedis(t)
	p := prefix()
	c := newCache(t, cache.Options{Redis: open(t, srv.URL), Prefix: p})
	ctx := context.Background()
	fail := func(context.Context) (cache.Loaded, error) { return cache.Loaded{}, fmt.Errorf("boom") }
	if _, _, err := c.Get(ctx, "k", decodeString, fail); err == nil {
		t.Fatal("no error")
	}
	var loads atomic.Int64
	if e, hit := get(t, c, "k", loader(&loads, "ok")); hit || string(e.Body) != "ok" {
		t.Errorf("after a failed load: %q hit=%v", e.Body, hit)
	}
	uncacheable := func(context.Context) (cache.Loaded, error) {
		loads.Add(1)
		return cache.Loaded{Body: []byte("[]"), Value: "[]"}, nil
	}
	for i := 0; i < 2; i++ {
		if _, hit := get(t, c, "empty", uncacheable); hit {
			t.Error("an uncacheable value was served from the cache")
		}
	}
	if n, _ := srv.Admin().Exists(ctx, c.RedisKey("empty", c.Version())).Result(); n != 0 {
		t.Error("an uncacheable value was written to Redis")
	}
}

func TestOpenRedisRefusesBadURLsWithoutEchoingThem(t *testing.T) {
	_, err := cache.OpenRedis("redis://user:s3cret@host:notaport/0", nil)
	if err == nil {
		t.Fatal("no error")
	}
	if got := err.Error(); got == "" || strings.Contains(got, "s3cret") {
		t.Errorf("error %q", got)
	}
}

// TestAServerNamedByALoopbackAddress: the local cluster's ServerlessCache stand-in
// announces 127.0.0.1 in CLUSTER SLOTS, which go-redis rewrites to ":port" (see
// tlsDialer); TLS must still verify the URL's name.
func TestAServerNamedByALoopbackAddress(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	srv, err := testenv.StartRedis(ctx, testenv.RedisOptions{Hostname: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	var obs counts
	c := newCache(t, cache.Options{Redis: open(t, srv.URL), Prefix: prefix(), Observer: &obs})
	var loads atomic.Int64
	get(t, c, "k", loader(&loads, "v"))
	if obs.get("redis miss") != 1 || obs.get("redis error") != 0 {
		t.Errorf("Redis misses %d (want 1), errors %d (want 0)", obs.get("redis miss"), obs.get("redis error"))
	}
	if n, err := srv.Admin().Exists(ctx, c.RedisKey("k", c.Version())).Result(); err != nil || n != 1 {
		t.Errorf("the entry is not in Redis: %d, %v", n, err)
	}
}

// TestStandaloneServer: an external Redis (spec.cache.external) may have no cluster
// support; that is the only reason this test runs a standalone server. The same client
// maps it as one node holding every slot.
func TestStandaloneServer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	srv, err := testenv.StartRedis(ctx, testenv.RedisOptions{Standalone: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	rdb, p := open(t, srv.URL), prefix()
	var obs counts
	a := newCache(t, cache.Options{Redis: rdb, Prefix: p, Observer: &obs})
	b := newCache(t, cache.Options{Redis: rdb, Prefix: p, Observer: &obs})
	var loads atomic.Int64
	get(t, a, "k", loader(&loads, "v1"))
	if _, hit := get(t, b, "k", loader(&loads, "x")); !hit || obs.get("redis hit") != 1 {
		t.Errorf("b: hit=%v, redis hits %d", hit, obs.get("redis hit"))
	}
	if err := a.Invalidate(ctx); err != nil {
		t.Fatal(err)
	}
	eventually(t, time.Second, "b follows a's invalidation", func() bool {
		e, _ := get(t, b, "k", loader(&loads, "v2"))
		return e.Value == "v2"
	})
	if obs.get("redis error") != 0 {
		t.Errorf("%d Redis errors", obs.get("redis error"))
	}
}

// TestRejectionsAreCountedAndLoggedOnce: every refused entry is counted, one line is
// logged (a flood of forgeries must not flood the log).
func TestRejectionsAreCountedAndLoggedOnce(t *testing.T) {
	srv := testenv.SharedRedis(t)
	rdb, p := open(t, srv.URL), prefix()
	var obs counts
	var log bytes.Buffer
	var mu sync.Mutex
	c := newCache(t, cache.Options{Redis: rdb, Prefix: p, Observer: &obs,
		Logger: slog.New(slog.NewJSONHandler(lockedWriter{&mu, &log}, nil))})
	var loads atomic.Int64
	for i := 0; i < 5; i++ {
		key := "product/" + strconv.Itoa(i)
		set(t, srv.Admin(), c.RedisKey(key, c.Version()), []byte("forged"))
		if e, _ := get(t, c, key, loader(&loads, "real")); e.Value != "real" {
			t.Fatalf("served %v", e.Value)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if obs.get("redis rejected") != 5 || strings.Count(log.String(), "Refused a cache entry") != 1 {
		t.Errorf("%d rejections counted (want 5), logged:\n%s", obs.get("redis rejected"), log.String())
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}
