// Package cache is the shop's two-level cache of encoded values: a small in-process LRU
// with a short TTL in front of Redis, shared by every replica (docs/architecture.md, "The
// shop's cache").
//
// Every command is valid in Redis Cluster mode and touches one key: a read is one
// GETRANGE, a write one SET. The keys spread over the slots: no hash tag, and an entry's
// key is "<prefix>:e:<version>:<bucket>", where the bucket is a hash of the entry's key
// modulo Options.Buckets. The buckets bound the number of keys a version can have
// whatever the requests, like a direct-mapped cache: two keys of one bucket replace each
// other.
//
// Invalidation moves a version number kept in Redis ("<prefix>:version"): Invalidate
// increments it and publishes it on "<prefix>:invalidate"; every replica follows the
// channel and re-reads the version every PollInterval, so it moves on within that time
// even if it missed the message. Entries of other versions are never read again and
// expire. Versions only move forward in a process.
//
// Redis is untrusted. Every entry is sealed with an HMAC-SHA256 keyed by HKDF(JWT_SECRET,
// "storefront shop cache v1"), over the Redis key it is stored under, the cache key, its
// time of writing and its body: an entry forged, altered, copied to another key, older
// than RedisTTL or written by another shop (another secret) is a miss, counted as a
// "rejected" Redis result and logged (at most once a minute), and the value is loaded
// from the source and written over it. Someone who can write to Redis can at worst
// withhold entries, or make a newly started replica serve entries up to RedisTTL old by
// rolling the version back; never a body the shop did not produce.
//
// Every read is bounded by the largest value the cache writes under that key (GETRANGE
// key 0 <bound>): go-redis allocates the whole length a reply announces before reading
// it, so a GET of a value planted by someone who can write to Redis allocated it in full,
// in every replica, every PollInterval for the version key: memory, not entries, was then
// what that someone could take. An entry longer than the bound is refused unread, like a
// forged one; a version key longer than 20 bytes is unreadable, like one that holds no
// integer. An absent key and an empty value read the same (GETRANGE answers both with
// ""): a miss, and version 0.
//
// A shop of this image may run under an operator whose access string for the shop's user
// lacks +getrange (controllers.CacheUserAccessString, which also keeps +get for shops of
// older images). Redis then refuses GETRANGE (NOPERM); the cache logs it once at warn and
// reads with GET for the rest of the process, unbounded as before, until the operator is
// upgraded and the shop restarted.
//
// Redis is an optimisation, never a dependency: when it is absent or failing, the cache
// is in-process only and every miss is loaded from the source (PostgreSQL).
package cache

import (
	"context"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/singleflight"

	"github.com/storefront-operator/storefront/shop/platform/apperr"
)

// Entry is a cached value: its encoded body with its entity tag and, when the caller
// gave a decoder, the decoded value. Values are shared between callers: read-only.
type Entry struct {
	Body []byte
	// ETag is a strong entity tag, quotes included.
	ETag  string
	Value any
}

// Loaded is what a load function returns: the encoded body and the value it encodes, and
// whether the entry may be cached (a value that must not be remembered still answers
// the callers waiting for it).
type Loaded struct {
	Body      []byte
	Value     any
	Cacheable bool
}

// NewEntry returns an entry for body with its ETag computed.
func NewEntry(body []byte) Entry { return Entry{Body: body, ETag: ETag(body)} }

// ETag returns a strong entity tag for body: a quoted, truncated SHA-256.
func ETag(body []byte) string {
	sum := sha256.Sum256(body)
	return `"` + base64.RawURLEncoding.EncodeToString(sum[:18]) + `"`
}

// Observer receives one call per lookup: level "local" or "redis", result "hit", "miss",
// "error" or (redis) "rejected". *metrics.Metrics implements it.
type Observer interface {
	CacheResult(level, result string)
}

// Client is what the cache needs of a Redis client: *Redis (OpenRedis) and go-redis's
// clients implement it.
type Client interface {
	GetRange(ctx context.Context, key string, start, end int64) *redis.StringCmd
	Get(ctx context.Context, key string) *redis.StringCmd
	Set(ctx context.Context, key string, value any, expiration time.Duration) *redis.StatusCmd
	Incr(ctx context.Context, key string) *redis.IntCmd
	Publish(ctx context.Context, channel string, message any) *redis.IntCmd
	Subscribe(ctx context.Context, channels ...string) *redis.PubSub
}

// Options configure a Cache. Zero values take the defaults.
type Options struct {
	// Redis is the shared second level; nil means in-process only.
	Redis Client
	// Secret is JWT_SECRET, from which the entries' authentication key is derived.
	// Required with Redis.
	Secret string
	// Prefix namespaces the Redis keys and channel (default "shop:cache").
	Prefix string
	// LocalSize is the number of entries the in-process LRU holds (default 2048).
	LocalSize int
	// LocalTTL is how long an in-process entry lives (default 2s).
	LocalTTL time.Duration
	// RedisTTL is how long a Redis entry lives, and the oldest entry a read accepts
	// (default 10m).
	RedisTTL time.Duration
	// Buckets bounds the keys of a version in Redis (default 65536).
	Buckets int
	// MaxEntryBytes is the largest body written to Redis (default 1 MiB); larger ones stay
	// in-process.
	MaxEntryBytes int
	// PollInterval is how often the version is re-read from Redis (default 500ms), the
	// bound on how long a replica that missed an invalidation message serves entries of
	// the old version.
	PollInterval time.Duration
	// RetryAfter is how long Redis is skipped after it failed (default 1s), so a dead
	// Redis costs one failed call per interval instead of one per request.
	RetryAfter time.Duration
	// LoadTimeout bounds a load (DefaultLoadTimeout when 0). A load is shared by every
	// caller of its key and outlives the caller who started it, so no caller's context
	// bounds it; past LoadTimeout it fails with apperr.ErrTimedOut (503, Retry-After).
	LoadTimeout time.Duration
	Observer    Observer
	Logger      *slog.Logger
}

// DefaultLoadTimeout is LoadTimeout's default: the shoppers' statements end at
// SHOPPER_STATEMENT_TIMEOUT (500ms by default) each, so this bounds what no statement
// timeout does, such as waiting for a pool connection.
const DefaultLoadTimeout = 5 * time.Second

// Cache is safe for concurrent use.
type Cache struct {
	opts       Options
	macKey     []byte
	local      *lru.Cache[string, localEntry]
	versionKey string
	channel    string
	group      singleflight.Group
	// entryMax is the longest value read from an entry's key: the longest entry the
	// cache writes.
	entryMax int
	// getOnly says that Redis refused GETRANGE: reads are GETs (see read).
	getOnly atomic.Bool

	// version is the shared version this replica follows; versionKnown says it was read
	// from Redis at least once (until then Redis is not used).
	version      atomic.Int64
	versionKnown atomic.Bool
	// epoch counts this replica's invalidations: local entries of an older epoch are
	// misses, even before the shared version moves.
	epoch atomic.Int64
	// redisDownUntil (unix nanos) skips Redis after a failure.
	redisDownUntil atomic.Int64

	// mu guards the publication of invalidations: requested counts the Invalidate
	// calls, published the calls covered by a successful publication. While requested >
	// published (stale), Redis entries may be stale and Redis is not used.
	mu        sync.Mutex
	requested int64
	published int64
	stale     atomic.Bool

	// failedAt and rejectedAt (unix nanos) are when a failure and a rejection were last
	// logged.
	failedAt   atomic.Int64
	rejectedAt atomic.Int64
	stop       context.CancelFunc
	wg         sync.WaitGroup
	once       sync.Once
}

type localEntry struct {
	Entry
	version, epoch int64
	expires        time.Time
}

// macLabel is the HKDF info of the entries' authentication key.
const macLabel = "storefront shop cache v1"

// New returns a cache. Call Start to follow the invalidations of other replicas, and
// Close when done.
func New(opts Options) (*Cache, error) {
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
	if opts.Buckets <= 0 {
		opts.Buckets = 1 << 16
	}
	if opts.MaxEntryBytes <= 0 {
		opts.MaxEntryBytes = 1 << 20
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = 500 * time.Millisecond
	}
	if opts.RetryAfter <= 0 {
		opts.RetryAfter = time.Second
	}
	if opts.LoadTimeout <= 0 {
		opts.LoadTimeout = DefaultLoadTimeout
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	c := &Cache{opts: opts, versionKey: opts.Prefix + ":version", channel: opts.Prefix + ":invalidate",
		entryMax: headerSize + maxKeyBytes + opts.MaxEntryBytes}
	if opts.Redis != nil {
		if opts.Secret == "" {
			return nil, errors.New("cache: a secret is required to authenticate the shared entries")
		}
		key, err := hkdf.Key(sha256.New, []byte(opts.Secret), nil, macLabel, 32)
		if err != nil {
			return nil, fmt.Errorf("cache: deriving the entry key: %w", err)
		}
		c.macKey = key
	}
	local, err := lru.New[string, localEntry](opts.LocalSize)
	if err != nil {
		return nil, err
	}
	c.local = local
	return c, nil
}

// Start subscribes to the invalidation channel and reads the shared version (waiting up
// to a second for each), then follows both until Close: the channel, and a read of the
// version every PollInterval (which also retries a failed publication). Without Redis it
// does nothing.
func (c *Cache) Start(ctx context.Context) {
	ctx, c.stop = context.WithCancel(ctx)
	if c.opts.Redis == nil {
		return
	}
	sub := c.opts.Redis.Subscribe(ctx, c.channel)
	wait, cancel := context.WithTimeout(ctx, time.Second)
	if _, err := sub.Receive(wait); err != nil {
		// go-redis subscribes again when Redis answers; the poll covers the meantime.
		c.failed(ctx, "subscribing to cache invalidations", err)
	}
	cancel()
	c.refresh(ctx)
	c.wg.Add(2)
	go c.follow(ctx, sub)
	go c.poll(ctx)
}

// Close stops following invalidations.
func (c *Cache) Close() {
	c.once.Do(func() {
		if c.stop != nil {
			c.stop()
			c.wg.Wait()
		}
	})
}

func (c *Cache) follow(ctx context.Context, sub *redis.PubSub) {
	defer c.wg.Done()
	defer func() { _ = sub.Close() }()
	// go-redis resubscribes by itself after a connection loss; messages published in
	// between are lost, which the poll makes up for.
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

func (c *Cache) poll(ctx context.Context) {
	defer c.wg.Done()
	t := time.NewTicker(c.opts.PollInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		c.refresh(ctx)
	}
}

// refresh reads the shared version, and retries a publication that failed.
func (c *Cache) refresh(ctx context.Context) {
	if c.down() {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if c.stale.Load() {
		if err := c.publish(ctx); err != nil && ctx.Err() == nil {
			c.failed(ctx, "publishing a cache invalidation", err)
		}
		return
	}
	raw, tooLong, err := c.read(ctx, c.versionKey, versionMaxBytes)
	var v int64
	switch {
	case err != nil:
	case tooLong:
		// Not even read: a version is at most versionMaxBytes long.
		err = fmt.Errorf("the version key %s holds more than %d bytes: not a version", c.versionKey, versionMaxBytes)
	case len(raw) > 0:
		if v, err = strconv.ParseInt(string(raw), 10, 64); err != nil {
			err = fmt.Errorf("the version key %s holds %q: not a version", c.versionKey, raw)
		}
	}
	if err != nil {
		if ctx.Err() == nil {
			c.failed(ctx, "reading the cache version", err)
		}
		return
	}
	c.adopt(v)
	c.versionKnown.Store(true)
}

// adopt moves the version forward to v (never back), dropping the local entries.
func (c *Cache) adopt(v int64) {
	for {
		cur := c.version.Load()
		if v <= cur {
			return
		}
		if c.version.CompareAndSwap(cur, v) {
			c.local.Purge()
			return
		}
	}
}

// Invalidate makes every cached entry, in every replica sharing the Redis, a miss: at
// once in this replica, and in the others when they receive the new version (published
// now, or read by their next poll). A failed publication is reported and retried by
// the poll; until it succeeds this replica reads nothing from Redis.
func (c *Cache) Invalidate(ctx context.Context) error {
	c.epoch.Add(1)
	c.local.Purge()
	if c.opts.Redis == nil {
		return nil
	}
	c.mu.Lock()
	c.requested++
	c.stale.Store(true)
	c.mu.Unlock()
	if err := c.publish(ctx); err != nil {
		c.observe("redis", "error")
		c.markDown()
		return fmt.Errorf("publishing cache invalidation: %w", err)
	}
	return nil
}

// publish increments the shared version and announces it, covering every Invalidate
// call made before it.
func (c *Cache) publish(ctx context.Context) error {
	c.mu.Lock()
	covers := c.requested
	c.mu.Unlock()
	v, err := c.opts.Redis.Incr(ctx, c.versionKey).Result()
	if err != nil {
		return err
	}
	if cur := c.version.Load(); v <= cur {
		// The version key was lost (a restart without persistence, a flush) or rolled
		// back: continue from this replica's version, never below it.
		v = cur + 1
		if err := c.opts.Redis.Set(ctx, c.versionKey, v, 0).Err(); err != nil {
			return err
		}
	}
	c.adopt(v)
	c.versionKnown.Store(true)
	c.mu.Lock()
	c.published = max(c.published, covers)
	c.stale.Store(c.requested > c.published)
	c.mu.Unlock()
	return c.opts.Redis.Publish(ctx, c.channel, strconv.FormatInt(v, 10)).Err()
}

// Get returns the entry for key, loading it with load on a miss (once per key at a time
// across concurrent callers) and storing it in both levels when it is cacheable. decode
// turns a body read from Redis into the entry's value (nil: no value). hit reports
// whether the entry came from the cache.
//
// The load is shared: it runs under the first caller's context values but not its
// cancellation, bounded by LoadTimeout, and each caller waits for it under its own
// context. A caller whose context ends gets ctx.Err() at once, and the load goes on for
// the others (and fills the cache): one client closing its connection must not fail the
// shoppers waiting for the same key.
func (c *Cache) Get(ctx context.Context, key string, decode func([]byte) (any, error), load func(context.Context) (Loaded, error)) (e Entry, hit bool, err error) {
	v, ep := c.version.Load(), c.epoch.Load()
	if le, ok := c.local.Get(key); ok && le.version == v && le.epoch == ep && time.Now().Before(le.expires) {
		c.observe("local", "hit")
		return le.Entry, true, nil
	}
	c.observe("local", "miss")

	shared := c.redisUsable()
	if shared {
		if e, ok := c.redisGet(ctx, key, v, decode); ok {
			c.storeLocal(key, e, v, ep)
			return e, true, nil
		}
	}
	if err := ctx.Err(); err != nil {
		return Entry{}, false, err // the caller is gone: start nothing for it
	}

	// singleflight per key, version and epoch: concurrent misses share one load.
	flight := c.group.DoChan(strconv.FormatInt(v, 10)+"|"+strconv.FormatInt(ep, 10)+"|"+key, func() (any, error) {
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.opts.LoadTimeout)
		defer cancel()
		return c.load(lctx, key, v, ep, shared, load)
	})
	select {
	case <-ctx.Done():
		return Entry{}, false, ctx.Err()
	case r := <-flight:
		if r.Err != nil {
			return Entry{}, false, r.Err
		}
		return r.Val.(Entry), false, nil
	}
}

// load is the shared load of key (version v, epoch ep) under ctx, which no caller
// cancels; shared says whether the entry goes to Redis.
func (c *Cache) load(ctx context.Context, key string, v, ep int64, shared bool, load func(context.Context) (Loaded, error)) (_ any, err error) {
	// DoChan runs the load in a goroutine of its own, where a panic would end the
	// process: it becomes an error of this load, an internal one (a 500 that is logged).
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("cache: loading %q panicked: %v\n%s", key, r, debug.Stack())
		}
	}()
	// A flight that ended just before this one began may have stored the entry.
	if le, ok := c.local.Get(key); ok && le.version == v && le.epoch == ep && time.Now().Before(le.expires) {
		return le.Entry, nil
	}
	l, err := load(ctx)
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return nil, fmt.Errorf("%w: loading %q took over %s: %w", apperr.ErrTimedOut, key, c.opts.LoadTimeout, err)
		}
		return nil, err
	}
	e := Entry{Body: l.Body, ETag: ETag(l.Body), Value: l.Value}
	if !l.Cacheable {
		return e, nil
	}
	// Redis first, then this replica: whoever finds the entry here finds it in Redis too.
	if shared && c.redisUsable() && c.version.Load() == v && len(l.Body) <= c.opts.MaxEntryBytes && len(key) <= maxKeyBytes {
		rkey := c.redisKey(key, v)
		if err := c.opts.Redis.Set(ctx, rkey, c.seal(rkey, key, l.Body, time.Now()), c.opts.RedisTTL).Err(); err != nil {
			c.observe("redis", "error")
			c.failed(ctx, "writing a cache entry", err)
		}
	}
	c.storeLocal(key, e, v, ep)
	return e, nil
}

// redisGet reads and opens key's entry of version v; ok is false on a miss, whatever
// the reason (absent, another key's, rejected, Redis failing).
func (c *Cache) redisGet(ctx context.Context, key string, v int64, decode func([]byte) (any, error)) (Entry, bool) {
	rkey := c.redisKey(key, v)
	raw, tooLong, err := c.read(ctx, rkey, c.entryMax)
	switch {
	case err != nil && ctx.Err() != nil:
		// The caller went away: no fault of Redis, which stays in use for the others.
		return Entry{}, false
	case err != nil:
		c.observe("redis", "error")
		c.failed(ctx, "reading a cache entry, serving from the database", err)
		return Entry{}, false
	case len(raw) == 0:
		c.observe("redis", "miss")
		return Entry{}, false
	}
	var body []byte
	if tooLong {
		// Not even read: no entry the cache writes is that long.
		err = fmt.Errorf("%w: longer than any entry (%d bytes)", errRejected, c.entryMax)
	} else {
		body, err = c.open(rkey, key, raw, time.Now())
	}
	if errors.Is(err, errOtherKey) {
		c.observe("redis", "miss") // another key of the same bucket
		return Entry{}, false
	}
	var value any
	if err == nil && decode != nil {
		if value, err = decode(body); err != nil {
			err = fmt.Errorf("%w: decoding: %w", errRejected, err)
		}
	}
	if err != nil {
		c.observe("redis", "rejected")
		c.warn(ctx, &c.rejectedAt, "Refused a cache entry from Redis; loading from the database", "key", rkey, "reason", err)
		return Entry{}, false
	}
	c.observe("redis", "hit")
	return Entry{Body: body, ETag: ETag(body), Value: value}, true
}

// read returns the value of key, reading at most max+1 bytes of it: tooLong says that it
// is longer than max (raw is then its first max+1 bytes). An absent key reads as empty.
//
// GETRANGE is a read of one key, valid in cluster mode, in Redis since 2.4, in Valkey,
// and among the commands ElastiCache Serverless supports ("Supported and restricted
// Valkey, Memcached, and Redis OSS commands", String commands:
// https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/SupportedCommands.html).
// Redis answers it with at most max+1 bytes whatever the value's length, so go-redis
// allocates no more.
//
// A user refused GETRANGE (an operator that predates it in the access string) falls back
// to GET, whose reply is as long as the value: logged once, at warn.
func (c *Cache) read(ctx context.Context, key string, max int) (raw []byte, tooLong bool, err error) {
	if !c.getOnly.Load() {
		raw, err = c.opts.Redis.GetRange(ctx, key, 0, int64(max)).Bytes()
		if !refusedGetrange(err) {
			return raw, len(raw) > max, err
		}
		if c.getOnly.CompareAndSwap(false, true) {
			c.opts.Logger.WarnContext(ctx, "Redis refuses GETRANGE to the shop's user, whose access string predates it: "+
				"reading the cache with GET, unbounded, until the operator is upgraded and the shop restarted", "error", err)
		}
	}
	raw, err = c.opts.Redis.Get(ctx, key).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, false, nil
	}
	return raw, len(raw) > max, err
}

// refusedGetrange says whether err is Redis refusing GETRANGE to the user (NOPERM naming
// the command), not a key or a channel.
func refusedGetrange(err error) bool {
	return redis.IsPermissionError(err) && strings.Contains(strings.ToLower(err.Error()), "getrange")
}

// redisKey is where key's entry of version v lives: its bucket.
func (c *Cache) redisKey(key string, v int64) string {
	sum := sha256.Sum256([]byte(key))
	bucket := binary.BigEndian.Uint64(sum[:8]) % uint64(c.opts.Buckets)
	return c.opts.Prefix + ":e:" + strconv.FormatInt(v, 10) + ":" + strconv.FormatUint(bucket, 36)
}

// The sealed form of an entry: magic, time of writing (unix seconds), MAC, the cache
// key's length and the cache key, then the body.
const (
	sealMagic  = "sc1"
	headerSize = len(sealMagic) + 8 + sha256.Size + 2
	// maxKeyBytes is the longest cache key an entry holds (its length takes 2 bytes).
	maxKeyBytes = math.MaxUint16
	// versionMaxBytes is the longest version: an int64 in decimal ("-9223372036854775808").
	versionMaxBytes = 20
	// clockSkew is how far apart the replicas' clocks may be.
	clockSkew = 5 * time.Second
)

var (
	errRejected = errors.New("rejected")
	errOtherKey = errors.New("another key's entry")
)

// seal returns body sealed for key under rkey at time at.
func (c *Cache) seal(rkey, key string, body []byte, at time.Time) []byte {
	out := make([]byte, headerSize, headerSize+len(key)+len(body))
	copy(out, sealMagic)
	binary.BigEndian.PutUint64(out[len(sealMagic):], uint64(at.Unix()))
	binary.BigEndian.PutUint16(out[headerSize-2:], uint16(len(key)))
	out = append(append(out, key...), body...)
	copy(out[len(sealMagic)+8:], c.mac(rkey, out[len(sealMagic):len(sealMagic)+8], key, body))
	return out
}

// open checks raw, read from rkey, and returns its body if it is key's authentic,
// unexpired entry; errOtherKey for another key's authentic entry (a shared bucket).
func (c *Cache) open(rkey, key string, raw []byte, now time.Time) ([]byte, error) {
	if len(raw) < headerSize || string(raw[:len(sealMagic)]) != sealMagic {
		return nil, fmt.Errorf("%w: not a sealed entry", errRejected)
	}
	at := raw[len(sealMagic) : len(sealMagic)+8]
	mac := raw[len(sealMagic)+8 : headerSize-2]
	n := int(binary.BigEndian.Uint16(raw[headerSize-2:]))
	if len(raw) < headerSize+n {
		return nil, fmt.Errorf("%w: truncated", errRejected)
	}
	storedKey, body := string(raw[headerSize:headerSize+n]), raw[headerSize+n:]
	if !hmac.Equal(mac, c.mac(rkey, at, storedKey, body)) {
		return nil, fmt.Errorf("%w: authentication failed (forged, altered, moved from another key, or another shop's)", errRejected)
	}
	written := time.Unix(int64(binary.BigEndian.Uint64(at)), 0)
	if now.Sub(written) > c.opts.RedisTTL+clockSkew || written.Sub(now) > clockSkew {
		return nil, fmt.Errorf("%w: written at %s, outside the entries' lifetime", errRejected, written.UTC().Format(time.RFC3339))
	}
	if storedKey != key {
		return nil, errOtherKey
	}
	return body, nil
}

// mac authenticates an entry: the Redis key it is stored under, its time of writing, the
// cache key and the body, each length-prefixed.
func (c *Cache) mac(rkey string, at []byte, key string, body []byte) []byte {
	h := hmac.New(sha256.New, c.macKey)
	var n [8]byte
	for _, part := range [][]byte{[]byte(sealMagic), []byte(rkey), at, []byte(key), body} {
		binary.BigEndian.PutUint64(n[:], uint64(len(part)))
		h.Write(n[:])
		h.Write(part)
	}
	return h.Sum(nil)
}

// storeLocal keeps e unless the version or epoch moved on while it was loaded.
func (c *Cache) storeLocal(key string, e Entry, v, ep int64) {
	if c.version.Load() != v || c.epoch.Load() != ep {
		return
	}
	c.local.Add(key, localEntry{Entry: e, version: v, epoch: ep, expires: time.Now().Add(c.opts.LocalTTL)})
}

// redisUsable says whether Redis may be read and written now: configured, its version
// known, no invalidation waiting for publication, not failing.
func (c *Cache) redisUsable() bool {
	return c.opts.Redis != nil && c.versionKnown.Load() && !c.stale.Load() && !c.down()
}

func (c *Cache) down() bool { return time.Now().UnixNano() < c.redisDownUntil.Load() }

func (c *Cache) markDown() {
	c.redisDownUntil.Store(time.Now().Add(c.opts.RetryAfter).UnixNano())
}

// failed records a Redis failure: Redis is skipped for RetryAfter, and the failure logged.
func (c *Cache) failed(ctx context.Context, what string, err error) {
	c.markDown()
	c.warn(ctx, &c.failedAt, "Cache unavailable: "+what, "error", err)
}

// warn logs at most once a minute per kind (at: when that kind was last logged): a flood
// of forged entries or a dead Redis must not flood the log; the metric counts every one.
func (c *Cache) warn(ctx context.Context, at *atomic.Int64, msg string, args ...any) {
	now := time.Now().UnixNano()
	last := at.Load()
	if now-last < int64(time.Minute) || !at.CompareAndSwap(last, now) {
		return
	}
	c.opts.Logger.WarnContext(ctx, msg, args...)
}

func (c *Cache) observe(level, result string) {
	if c.opts.Observer != nil {
		c.opts.Observer.CacheResult(level, result)
	}
}
