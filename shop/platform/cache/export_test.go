package cache

import (
	"context"
	"time"
)

// RedisKey is where key's entry of version v lives.
func (c *Cache) RedisKey(key string, v int64) string { return c.redisKey(key, v) }

// Seal is the entry the cache would write for key under rkey at time at.
func (c *Cache) Seal(rkey, key string, body []byte, at time.Time) []byte {
	return c.seal(rkey, key, body, at)
}

// Version is the shared version the cache follows.
func (c *Cache) Version() int64 { return c.version.Load() }

// Refresh does what the poll does every PollInterval.
func (c *Cache) Refresh(ctx context.Context) { c.refresh(ctx) }
