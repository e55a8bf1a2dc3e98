package cache_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/storefront-operator/storefront/shop/platform/apperr"
	"github.com/storefront-operator/storefront/shop/platform/cache"
	"github.com/storefront-operator/storefront/test/testenv"
)

// blockedLoad is a load that holds its caller until release is closed, and gives up when
// its context ends, as a PostgreSQL query does. started receives once per load begun.
type blockedLoad struct {
	loads   atomic.Int64
	started chan struct{}
	release chan struct{}
}

func newBlockedLoad() *blockedLoad {
	return &blockedLoad{started: make(chan struct{}, 8), release: make(chan struct{})}
}

func (b *blockedLoad) load(ctx context.Context) (cache.Loaded, error) {
	b.loads.Add(1)
	b.started <- struct{}{}
	select {
	case <-ctx.Done():
		return cache.Loaded{}, ctx.Err()
	case <-b.release:
		return cache.Loaded{Body: []byte("v"), Value: "v", Cacheable: true}, nil
	}
}

type result struct {
	e   cache.Entry
	err error
}

// getAsync runs Get in a goroutine and returns where its result arrives.
func getAsync(ctx context.Context, c *cache.Cache, key string, load func(context.Context) (cache.Loaded, error)) <-chan result {
	ch := make(chan result, 1)
	go func() {
		e, _, err := c.Get(ctx, key, decodeString, load)
		ch <- result{e, err}
	}()
	return ch
}

func inProcess(t *testing.T) *cache.Cache {
	t.Helper()
	c, err := cache.New(cache.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestALeaderThatLeavesDoesNotFailTheOthers: the first caller of a key starts the load
// that later callers share; when its client goes away, the others still get the value
// (the load ran under the first caller's context, and every caller got context.Canceled:
// 500s for the shoppers who stayed).
func TestALeaderThatLeavesDoesNotFailTheOthers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := inProcess(t)
		b := newBlockedLoad()
		leaderCtx, leave := context.WithCancel(context.Background())
		defer leave()
		leader := getAsync(leaderCtx, c, "k", b.load)
		<-b.started
		follower := getAsync(context.Background(), c, "k", b.load)
		synctest.Wait() // the follower waits for the leader's load

		leave()
		synctest.Wait()
		close(b.release)
		if r := <-follower; r.err != nil || string(r.e.Body) != "v" {
			t.Errorf("the caller who stayed got %q, %v; want the value", r.e.Body, r.err)
		}
		if r := <-leader; !errors.Is(r.err, context.Canceled) {
			t.Errorf("the caller who left got %q, %v; want context.Canceled", r.e.Body, r.err)
		}
		if n := b.loads.Load(); n != 1 {
			t.Errorf("%d loads, want 1", n)
		}
	})
}

// TestAWaiterThatLeavesReturnsAtOnce: a caller waiting for another's load answers its
// own cancellation at once, and the load goes on for the others.
func TestAWaiterThatLeavesReturnsAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := inProcess(t)
		b := newBlockedLoad()
		leader := getAsync(context.Background(), c, "k", b.load)
		<-b.started
		waiterCtx, leave := context.WithCancel(context.Background())
		waiter := getAsync(waiterCtx, c, "k", b.load)
		synctest.Wait()

		leave()
		synctest.Wait() // everything else is blocked on the load
		select {
		case r := <-waiter:
			if !errors.Is(r.err, context.Canceled) {
				t.Errorf("the caller who left got %q, %v; want context.Canceled", r.e.Body, r.err)
			}
		default:
			t.Error("the caller who left is still waiting for the load")
		}
		close(b.release)
		if r := <-leader; r.err != nil || string(r.e.Body) != "v" {
			t.Errorf("the first caller got %q, %v; want the value", r.e.Body, r.err)
		}
	})
}

// TestALeaderThatLeavesStillFillsTheCache: the load of a caller who went away completes
// and is stored in both levels, with no Redis error: the next caller of this replica and
// another replica read it without loading again.
func TestALeaderThatLeavesStillFillsTheCache(t *testing.T) {
	rdb, p := open(t, testenv.RedisURL(t)), prefix()
	var obs counts
	a := newCache(t, cache.Options{Redis: rdb, Prefix: p, Observer: &obs})
	other := newCache(t, cache.Options{Redis: rdb, Prefix: p})
	b := newBlockedLoad()
	ctx, leave := context.WithCancel(context.Background())
	defer leave()
	leader := getAsync(ctx, a, "k", b.load)
	<-b.started
	leave()
	if r := <-leader; !errors.Is(r.err, context.Canceled) {
		t.Errorf("the caller who left got %q, %v; want context.Canceled", r.e.Body, r.err)
	}
	close(b.release)

	var again atomic.Int64
	if e, _ := get(t, a, "k", loader(&again, "loaded again")); string(e.Body) != "v" || again.Load() != 0 {
		t.Errorf("the next caller got %q after %d loads; want the left caller's load, v", e.Body, again.Load())
	}
	if e, hit := get(t, other, "k", loader(&again, "loaded again")); !hit || string(e.Body) != "v" {
		t.Errorf("another replica got %q (hit %v); want v from Redis", e.Body, hit)
	}
	if n := obs.get("redis error"); n != 0 {
		t.Errorf("%d Redis errors", n)
	}
}

// TestALoadIsBoundedByItsOwnTimeout: no caller's context bounds a shared load, so it
// has its own bound, LoadTimeout: past it the callers get apperr.ErrTimedOut (503 with
// Retry-After), not a load that hangs on.
func TestALoadIsBoundedByItsOwnTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := inProcess(t)
		hang := func(ctx context.Context) (cache.Loaded, error) {
			<-ctx.Done()
			return cache.Loaded{}, ctx.Err()
		}
		start := time.Now()
		_, _, err := c.Get(context.Background(), "k", decodeString, hang)
		if !errors.Is(err, apperr.ErrTimedOut) {
			t.Errorf("got %v, want apperr.ErrTimedOut", err)
		}
		if d := time.Since(start); d != cache.DefaultLoadTimeout {
			t.Errorf("gave up after %s, want %s", d, cache.DefaultLoadTimeout)
		}
	})
}

// TestAPanickingLoadIsAnError: a load runs in a goroutine of its own, where a panic
// would end the process; it is the callers' error instead.
func TestAPanickingLoadIsAnError(t *testing.T) {
	c := inProcess(t)
	_, _, err := c.Get(context.Background(), "k", decodeString, func(context.Context) (cache.Loaded, error) { panic("load bug") })
	if err == nil || !strings.Contains(err.Error(), "load bug") {
		t.Errorf("got %v, want the panic as an error", err)
	}
	var loads atomic.Int64
	if e, _ := get(t, c, "k", loader(&loads, "ok")); string(e.Body) != "ok" {
		t.Errorf("after the panic: %q", e.Body)
	}
}
