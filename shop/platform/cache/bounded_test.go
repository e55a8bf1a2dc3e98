package cache_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/storefront-operator/storefront/shop/platform/cache"
	"github.com/storefront-operator/storefront/test/testenv"
)

// allocated is how many bytes the process allocated while f ran (every goroutine's: an
// upper bound of f's own).
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestOversizedValuesAreNotRead: Redis is untrusted, and go-redis allocates the whole
// length a reply announces before reading it. A value planted at the version key (read
// every PollInterval by every replica, and never overwritten by the shop: INCR fails on
// it) or at an entry's key made every read allocate it in full: hundreds of MiB a tick,
// an OOM. Every read is now bounded by the largest value the cache writes there; a
// longer one is refused unread, as a forged one is.
func TestOversizedValuesAreNotRead(t *testing.T) {
	const planted = 32 << 20
	const bound = 4 << 20 // an entry read is at most ~1 MiB (MaxEntryBytes) and its header
	ctx := context.Background()
	srv := testenv.SharedRedis(t)
	admin := srv.Admin()
	rdb, p := open(t, srv.URL), prefix()
	var obs counts
	// RetryAfter 1ns: an unreadable version skips Redis for no time, so each Refresh reads.
	c := newCache(t, cache.Options{Redis: rdb, Prefix: p, Observer: &obs, RetryAfter: time.Nanosecond})
	big := bytes.Repeat([]byte("9"), planted)
	var loads atomic.Int64

	t.Run("at an entry key", func(t *testing.T) {
		set(t, admin, c.RedisKey("product/a", c.Version()), big)
		var e cache.Entry
		var hit bool
		n := allocated(func() { e, hit = get(t, c, "product/a", loader(&loads, `{"name":"A"}`)) })
		if hit || string(e.Body) != `{"name":"A"}` {
			t.Errorf("served %.40q (hit=%v), want the loaded value", e.Body, hit)
		}
		if obs.get("redis rejected") != 1 {
			t.Errorf("%d rejections counted, want 1", obs.get("redis rejected"))
		}
		if n > bound {
			t.Errorf("a Get over a %d MiB value allocated %d MiB, want under %d MiB", planted>>20, n>>20, bound>>20)
		}
	})

	t.Run("at the version key", func(t *testing.T) {
		v := c.Version()
		set(t, admin, p+":version", big)
		for i := 0; i < 3; i++ {
			if n := allocated(func() { c.Refresh(ctx) }); n > bound {
				t.Errorf("reading a %d MiB version allocated %d MiB, want under %d MiB", planted>>20, n>>20, bound>>20)
			}
		}
		if c.Version() != v {
			t.Errorf("version %d, want %d kept", c.Version(), v)
		}
		// The largest version is still read.
		if err := admin.Set(ctx, p+":version", "9223372036854775806", time.Minute).Err(); err != nil {
			t.Fatal(err)
		}
		c.Refresh(ctx)
		if c.Version() != 9223372036854775806 {
			t.Errorf("version %d after the largest one was stored", c.Version())
		}
	})
}

// TestAnEntryOfTheLargestSizeIsRead: the bound is the largest entry the cache writes,
// not less.
func TestAnEntryOfTheLargestSizeIsRead(t *testing.T) {
	srv := testenv.SharedRedis(t)
	rdb, p := open(t, srv.URL), prefix()
	var obs counts
	const max = 64 << 10
	a := newCache(t, cache.Options{Redis: rdb, Prefix: p, MaxEntryBytes: max})
	b := newCache(t, cache.Options{Redis: rdb, Prefix: p, MaxEntryBytes: max, Observer: &obs})
	body := strings.Repeat("x", max)
	key := "product/" + strings.Repeat("k", 1000)
	var loads atomic.Int64
	get(t, a, key, loader(&loads, body))
	if e, hit := get(t, b, key, loader(&loads, "other")); !hit || string(e.Body) != body {
		t.Errorf("b: hit=%v, %d bytes; redis results %v", hit, len(e.Body), obs.m)
	}
}

// TestWithoutGetrangeTheCacheFallsBackToGet: a shop of this image may run against an
// operator that has not yet added +getrange to its user's access string: GETRANGE is
// refused (NOPERM), and the cache reads with GET as before, saying so once.
func TestWithoutGetrangeTheCacheFallsBackToGet(t *testing.T) {
	ctx := context.Background()
	srv := testenv.SharedRedis(t)
	access, err := testenv.OperatorAccessString()
	if err != nil {
		t.Fatal(err)
	}
	older := strings.Join(strings.Fields(strings.ReplaceAll(" "+access+" ", " +getrange ", " ")), " ")
	if older == access {
		t.Fatalf("the operator's access string %q grants no GETRANGE", access)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name, password := "shop-older-"+hex.EncodeToString(b), hex.EncodeToString(b)+hex.EncodeToString(b)
	args := []any{"ACL", "SETUSER", name, "reset"}
	for _, rule := range strings.Fields(older) {
		args = append(args, rule)
	}
	if err := srv.Admin().Do(ctx, append(args, ">"+password)...).Err(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Admin().Do(context.Background(), "ACL", "DELUSER", name).Err() })

	rdb, p := open(t, "rediss://"+name+":"+password+"@"+srv.Addr), prefix()
	var obs counts
	var log bytes.Buffer
	var mu sync.Mutex
	logger := slog.New(slog.NewJSONHandler(lockedWriter{&mu, &log}, nil))
	a := newCache(t, cache.Options{Redis: rdb, Prefix: p, Observer: &obs, Logger: logger})
	other := newCache(t, cache.Options{Redis: rdb, Prefix: p})
	var loads atomic.Int64
	for _, k := range []string{"k1", "k2"} {
		get(t, other, k, loader(&loads, "v"))
		if _, hit := get(t, a, k, loader(&loads, "x")); !hit {
			t.Errorf("%s: not read from Redis", k)
		}
	}
	if err := other.Invalidate(ctx); err != nil {
		t.Fatal(err)
	}
	a.Refresh(ctx)
	if a.Version() != other.Version() {
		t.Errorf("a follows version %d, want %d", a.Version(), other.Version())
	}
	if obs.get("redis hit") != 2 || obs.get("redis error") != 0 {
		t.Errorf("Redis hits %d (want 2), errors %d (want 0)", obs.get("redis hit"), obs.get("redis error"))
	}
	mu.Lock()
	defer mu.Unlock()
	if n := strings.Count(log.String(), "GETRANGE"); n != 1 || !strings.Contains(log.String(), `"level":"WARN"`) {
		t.Errorf("logged %d warnings about GETRANGE, want 1:\n%s", n, log.String())
	}
}
