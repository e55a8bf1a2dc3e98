// Package cache is the shop's two-level response cache: a small in-process LRU with a
// short TTL in front of Redis, shared by every replica.
//
// Invalidation works across replicas through a version number kept in Redis: every entry
// is stored with the version that was current when it was computed, Invalidate increments
// the version and publishes it, and an entry whose version is not the current one is a
// miss. Each replica listens on the channel and drops its local entries when the version
// moves; the local TTL bounds how long a replica that missed a message (Redis briefly
// unreachable) can serve an old local entry.
//
// Redis is an optimisation, never a dependency: when it is absent or failing, the cache
// is in-process only and every miss is loaded from the source (PostgreSQL).
package cache

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/singleflight"
)

// Entry is a cached response body with its entity tag.
type Entry struct {
	Body []byte
	// ETag is a strong entity tag, quotes included.
	ETag string
}

// NewEntry returns an entry for body with its ETag computed.
func NewEntry(body []byte) Entry { return Entry{Body: body, ETag: ETag(body)} }

// ETag returns a strong entity tag for body: a quoted, truncated SHA-256.
func ETag(body []byte) string {
	sum := sha256.Sum256(body)
	return `"` + base64.RawURLEncoding.EncodeToString(sum[:18]) + `"`
}

// Observer receives one call per lookup: level "local" or "redis", result "hit", "miss"
// or "error". *metrics.Metrics implements it.
type Observer interface {
	CacheResult(level, result string)
}

// Options configure a Cache. Zero values take the defaults.
type Options struct {
	// Redis is the shared second level; nil means in-process only.
	Redis *redis.Client
	// Prefix namespaces the Redis keys and channel (default "shop:cache").
	Prefix string
	// LocalSize is the number of entries the in-process LRU holds (default 2048).
	LocalSize int
	// LocalTTL is how long an in-process entry lives (default 2s).
	LocalTTL time.Duration
	// RedisTTL is how long a Redis entry lives (default 10m); entries of old versions
	// are never read again and simply expire.
	RedisTTL time.Duration
	// RetryAfter is how long Redis is skipped after it failed (default 1s), so a dead
	// Redis costs one failed call per interval instead of one per request.
	RetryAfter time.Duration
	Observer   Observer
	Logger     *slog.Logger
}

// Cache is safe for concurrent use.
type Cache struct {
	opts       Options
	local      *lru.Cache[string, localEntry]
	versionKey string
	channel    string
	group      singleflight.Group

	// version is the Redis version this replica last saw (or, without Redis, a local
	// counter); local entries of another version are misses.
	version atomic.Int64
	// redisDownUntil (unix nanos) skips Redis after a failure.
	redisDownUntil atomic.Int64
	// pendingInvalidation is set when Invalidate could not reach Redis: until the
	// increment succeeds, Redis entries may be stale, so Redis is not read.
	pendingInvalidation atomic.Bool

	stop    context.CancelFunc
	stopped chan struct{}
	once    sync.Once
}

type localEntry struct {
	Entry
	version int64
	expires time.Time
}

// New returns a cache. Call Start to follow invalidations published by other replicas,
// and Close when done.
func New(opts Options) *Cache {
	if opts.Prefix == "" {
		opts.Prefix = "shop:cache"
	}
	if opts.LocalSize <= 0 {
		opts.LocalSize = 2048
	}
	if opts.LocalTTL <= 0 {
		opts.LocalTTL = 2 * time.Second
	}
	if opts.RedisTTL <= 0 {
		opts.RedisTTL = 10 * time.Minute
	}
	if opts.RetryAfter <= 0 {
		opts.RetryAfter = time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	local, err := lru.New[string, localEntry](opts.LocalSize)
	if err != nil {
		panic(err) // only for a non-positive size, excluded above
	}
	return &Cache{
		opts:       opts,
		local:      local,
		versionKey: opts.Prefix + ":version",
		channel:    opts.Prefix + ":invalidate",
		stopped:    make(chan struct{}),
	}
}

// redisLog sends go-redis's own messages (reconnection attempts while Redis is down) to
// the JSON log at debug level instead of its plain-text stderr logger: the cache's
// failures are already reported once per RetryAfter, at warn.
type redisLog struct{}

func (redisLog) Printf(ctx context.Context, format string, v ...any) {
	slog.Default().DebugContext(ctx, "Redis client: "+fmt.Sprintf(format, v...))
}

func init() { redis.SetLogger(redisLog{}) }

// OpenRedis returns a client for a redis:// or rediss:// URL (TLS with the system's
// trust store), with short timeouts: the cache must never make a request slow.
func OpenRedis(redisURL string) (*redis.Client, error) {
	opts, err := redis.ParseURL(redisURL)
	if err != nil {
		// The parse error may quote the URL with its password: say only what failed.
		return nil, errors.New("REDIS_URL cannot be parsed as a redis:// or rediss:// URL")
	}
	opts.DialTimeout = time.Second
	opts.ReadTimeout = 500 * time.Millisecond
	opts.WriteTimeout = 500 * time.Millisecond
	opts.MaxRetries = 1
	return redis.NewClient(opts), nil
}

// Start follows the invalidations of other replicas until Close. Without Redis it does
// nothing.
func (c *Cache) Start(ctx context.Context) {
	ctx, c.stop = context.WithCancel(ctx)
	if c.opts.Redis == nil {
		close(c.stopped)
		return
	}
	go c.follow(ctx)
}

// Close stops following invalidations.
func (c *Cache) Close() {
	c.once.Do(func() {
		if c.stop != nil {
			c.stop()
			<-c.stopped
		}
	})
}

func (c *Cache) follow(ctx context.Context) {
	defer close(c.stopped)
	sub := c.opts.Redis.Subscribe(ctx, c.channel)
	defer func() { _ = sub.Close() }()
	// go-redis resubscribes by itself after a connection loss; messages published in
	// between are lost, which the local TTL and the version check on every local miss
	// make up for.
	ch := sub.Channel(redis.WithChannelHealthCheckInterval(5 * time.Second))
	for {
		select {
		case <-ctx.Done():
			return
		case msg, ok := <-ch:
			if !ok {
				return
			}
			if v, err := strconv.ParseInt(msg.Payload, 10, 64); err == nil {
				c.adopt(v)
			}
		}
	}
}

// adopt makes v the current version, dropping local entries when it changed.
func (c *Cache) adopt(v int64) {
	if c.version.Swap(v) != v {
		c.local.Purge()
	}
}

// Invalidate makes every cached entry, in every replica sharing the Redis, a miss. Call
// it after every catalog change (part 2's admin does).
func (c *Cache) Invalidate(ctx context.Context) error {
	c.local.Purge()
	if c.opts.Redis == nil {
		c.version.Add(1)
		return nil
	}
	// Until Redis has the new version, neither local nor Redis entries may be trusted.
	c.pendingInvalidation.Store(true)
	c.version.Add(1)
	if err := c.publishInvalidation(ctx); err != nil {
		c.observe("redis", "error")
		c.markRedisDown()
		return fmt.Errorf("publishing cache invalidation: %w", err)
	}
	return nil
}

func (c *Cache) publishInvalidation(ctx context.Context) error {
	v, err := c.opts.Redis.Incr(ctx, c.versionKey).Result()
	if err != nil {
		return err
	}
	c.pendingInvalidation.Store(false)
	c.adopt(v)
	if err := c.opts.Redis.Publish(ctx, c.channel, strconv.FormatInt(v, 10)).Err(); err != nil {
		return err
	}
	return nil
}

// Get returns the entry for key, loading it with load on a miss (once per key at a time
// across concurrent callers) and storing it in both levels. hit reports whether the
// entry came from the cache.
func (c *Cache) Get(ctx context.Context, key string, load func(context.Context) ([]byte, error)) (e Entry, hit bool, err error) {
	v := c.version.Load()
	if le, ok := c.local.Get(key); ok && le.version == v && time.Now().Before(le.expires) {
		c.observe("local", "hit")
		return le.Entry, true, nil
	}
	c.observe("local", "miss")

	if c.redisUsable() {
		rv, re, found, rerr := c.redisGet(ctx, key)
		switch {
		case rerr != nil:
			c.observe("redis", "error")
			c.markRedisDown()
			c.opts.Logger.WarnContext(ctx, "Cache unavailable, serving from the database", "error", rerr)
		default:
			if rv != v {
				c.adopt(rv)
				v = rv
			}
			if found {
				c.observe("redis", "hit")
				c.storeLocal(key, re, v)
				return re, true, nil
			}
			c.observe("redis", "miss")
		}
	}

	// singleflight per key and version: concurrent misses share one load.
	res, err, _ := c.group.Do(strconv.FormatInt(v, 10)+"|"+key, func() (any, error) {
		// A flight that ended just before this one began may have stored the entry.
		if le, ok := c.local.Get(key); ok && le.version == v && time.Now().Before(le.expires) {
			return le.Entry, nil
		}
		body, err := load(ctx)
		if err != nil {
			return nil, err
		}
		e := NewEntry(body)
		c.storeLocal(key, e, v)
		if c.redisUsable() {
			if err := c.redisSet(ctx, key, e, v); err != nil {
				c.observe("redis", "error")
				c.markRedisDown()
			}
		}
		return e, nil
	})
	if err != nil {
		return Entry{}, false, err
	}
	return res.(Entry), false, nil
}

// storeLocal keeps e unless the version moved on while it was loaded.
func (c *Cache) storeLocal(key string, e Entry, v int64) {
	if c.version.Load() != v {
		return
	}
	c.local.Add(key, localEntry{Entry: e, version: v, expires: time.Now().Add(c.opts.LocalTTL)})
}

func (c *Cache) redisUsable() bool {
	if c.opts.Redis == nil {
		return false
	}
	if time.Now().UnixNano() < c.redisDownUntil.Load() {
		return false
	}
	if c.pendingInvalidation.Load() {
		// Retry the increment that failed; until it succeeds Redis may hold stale entries.
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if err := c.publishInvalidation(ctx); err != nil {
			c.observe("redis", "error")
			c.markRedisDown()
			return false
		}
	}
	return true
}

func (c *Cache) markRedisDown() {
	c.redisDownUntil.Store(time.Now().Add(c.opts.RetryAfter).UnixNano())
}

func (c *Cache) dataKey(key string) string { return c.opts.Prefix + ":e:" + key }

// redisGet reads the current version and the entry in one round trip. The stored value
// is "<version>\n<etag>\n<body>"; an entry of another version counts as not found.
func (c *Cache) redisGet(ctx context.Context, key string) (version int64, e Entry, found bool, err error) {
	vals, err := c.opts.Redis.MGet(ctx, c.versionKey, c.dataKey(key)).Result()
	if err != nil {
		return 0, Entry{}, false, err
	}
	if s, ok := vals[0].(string); ok {
		if version, err = strconv.ParseInt(s, 10, 64); err != nil {
			return 0, Entry{}, false, fmt.Errorf("cache version %q: %w", s, err)
		}
	}
	raw, ok := vals[1].(string)
	if !ok {
		return version, Entry{}, false, nil
	}
	ev, rest, ok1 := cut(raw)
	etag, body, ok2 := cut(rest)
	if !ok1 || !ok2 || ev != strconv.FormatInt(version, 10) {
		return version, Entry{}, false, nil
	}
	return version, Entry{Body: []byte(body), ETag: etag}, true, nil
}

func (c *Cache) redisSet(ctx context.Context, key string, e Entry, v int64) error {
	val := strconv.FormatInt(v, 10) + "\n" + e.ETag + "\n" + string(e.Body)
	return c.opts.Redis.Set(ctx, c.dataKey(key), val, c.opts.RedisTTL).Err()
}

func cut(s string) (before, after string, ok bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

func (c *Cache) observe(level, result string) {
	if c.opts.Observer != nil {
		c.opts.Observer.CacheResult(level, result)
	}
}
