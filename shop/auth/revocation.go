package auth

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
)

// Revocations records logged-out token ids until they expire, for every replica.
//
// PostgreSQL holds the durable record. With Redis configured, each revocation is also
// written there and checks read Redis (one round trip, no database query per request).
// Checks fail safe to PostgreSQL whenever Redis cannot be trusted to know every
// revocation:
//   - Redis errors (down, timing out): PostgreSQL answers, and Redis is skipped for a
//     second so a dead Redis costs one failed call per second, not one per request;
//   - Redis lost its data (restarted, flushed): the "loaded" marker is gone, so
//     PostgreSQL answers until a replica has copied every live revocation back.
//
// A revocation written while Redis was unreachable is marked unsynced in PostgreSQL and
// copied to Redis by the next sync (every two seconds, by any replica). Until then a
// replica that reads Redis (reachable again, data intact) could accept the token: the
// window is at most one sync interval after Redis comes back, and only for logouts made
// while it was unreachable.
type Revocations struct {
	pool   *pgxpool.Pool
	redis  *redis.Client
	prefix string
	logger *slog.Logger
	// syncInterval is how often Start's loop copies unsynced revocations to Redis.
	syncInterval time.Duration

	redisDownUntil atomic.Int64
	stop           context.CancelFunc
	done           chan struct{}
	once           sync.Once
}

const (
	insertRevocationSQL = `INSERT INTO revoked_tokens (jti, user_id, expires_at, redis_synced) VALUES ($1, $2, $3, $4)
ON CONFLICT (jti) DO UPDATE SET redis_synced = revoked_tokens.redis_synced OR EXCLUDED.redis_synced`
	isRevokedSQL       = `SELECT EXISTS (SELECT 1 FROM revoked_tokens WHERE jti = $1)`
	unsyncedSQL        = `SELECT jti, expires_at FROM revoked_tokens WHERE NOT redis_synced AND expires_at > now() ORDER BY expires_at LIMIT 1000`
	liveSQL            = `SELECT jti, expires_at FROM revoked_tokens WHERE expires_at > now()`
	markSyncedSQL      = `UPDATE revoked_tokens SET redis_synced = true WHERE jti = ANY($1)`
	deleteExpiredSQL   = `DELETE FROM revoked_tokens WHERE expires_at < now() - interval '1 hour'`
	deleteThrottledSQL = `DELETE FROM login_throttle WHERE window_end < now() - interval '1 hour'`
)

// NewRevocations returns the revocation list on pool, mirrored in rdb when it is not
// nil under keys starting with prefix.
func NewRevocations(pool *pgxpool.Pool, rdb *redis.Client, prefix string, logger *slog.Logger) *Revocations {
	if logger == nil {
		logger = slog.Default()
	}
	return &Revocations{pool: pool, redis: rdb, prefix: prefix, logger: logger, syncInterval: 2 * time.Second, done: make(chan struct{})}
}

func (r *Revocations) key(jti string) string { return r.prefix + ":revoked:" + jti }

// loadedKey marks a Redis that holds every live revocation. It has no expiry: it goes
// only with the data (a restart without persistence, a flush).
func (r *Revocations) loadedKey() string { return r.prefix + ":revoked:loaded" }

func (r *Revocations) redisUsable() bool {
	return r.redis != nil && time.Now().UnixNano() >= r.redisDownUntil.Load()
}

func (r *Revocations) redisFailed(ctx context.Context, err error) {
	r.redisDownUntil.Store(time.Now().Add(time.Second).UnixNano())
	r.logger.WarnContext(ctx, "Token revocation store (Redis) unavailable; checking PostgreSQL", "error", err)
}

// Revoke records that the token jti of userID is invalid until expiresAt.
func (r *Revocations) Revoke(ctx context.Context, jti string, userID int64, expiresAt time.Time) error {
	synced := false
	if r.redisUsable() {
		if err := r.redis.Set(ctx, r.key(jti), "1", redisTTL(expiresAt)).Err(); err != nil {
			r.redisFailed(ctx, err)
		} else {
			synced = true
		}
	}
	if _, err := r.pool.Exec(ctx, insertRevocationSQL, jti, userID, expiresAt, synced); err != nil {
		return err
	}
	return nil
}

// IsRevoked reports whether jti was revoked.
func (r *Revocations) IsRevoked(ctx context.Context, jti string) (bool, error) {
	if r.redisUsable() {
		vals, err := r.redis.MGet(ctx, r.key(jti), r.loadedKey()).Result()
		switch {
		case err != nil:
			r.redisFailed(ctx, err)
		case vals[1] != nil:
			return vals[0] != nil, nil
		}
		// Without the marker, Redis may have lost revocations: ask PostgreSQL.
	}
	var revoked bool
	if err := r.pool.QueryRow(ctx, isRevokedSQL, jti).Scan(&revoked); err != nil {
		return false, err
	}
	return revoked, nil
}

// Start runs the maintenance loop until Close: with Redis, copy unsynced revocations (or
// all of them, when Redis lost them) every SyncInterval; always, delete expired
// revocations and throttle windows every minute.
func (r *Revocations) Start(ctx context.Context) {
	ctx, r.stop = context.WithCancel(ctx)
	go func() {
		defer close(r.done)
		sync := time.NewTicker(r.syncInterval)
		defer sync.Stop()
		cleanup := time.NewTicker(time.Minute)
		defer cleanup.Stop()
		r.sync(ctx)
		for {
			select {
			case <-ctx.Done():
				return
			case <-sync.C:
				r.sync(ctx)
			case <-cleanup.C:
				for _, q := range []string{deleteExpiredSQL, deleteThrottledSQL} {
					if _, err := r.pool.Exec(ctx, q); err != nil && ctx.Err() == nil {
						r.logger.WarnContext(ctx, "Deleting expired revocations and throttle windows failed", "error", err)
					}
				}
			}
		}
	}()
}

// Close stops the loop started by Start.
func (r *Revocations) Close() {
	r.once.Do(func() {
		if r.stop != nil {
			r.stop()
			<-r.done
		}
	})
}

// sync copies revocations to Redis: every live one when the loaded marker is missing,
// otherwise those written while Redis was unreachable.
func (r *Revocations) sync(ctx context.Context) {
	if r.redis == nil || !r.redisUsable() {
		return
	}
	n, err := r.redis.Exists(ctx, r.loadedKey()).Result()
	if err != nil {
		if ctx.Err() == nil {
			r.redisFailed(ctx, err)
		}
		return
	}
	query := unsyncedSQL
	if n == 0 {
		query = liveSQL
	}
	if err := r.copyToRedis(ctx, query, n == 0); err != nil && ctx.Err() == nil {
		r.logger.WarnContext(ctx, "Copying token revocations to Redis failed", "error", err)
	}
}

func (r *Revocations) copyToRedis(ctx context.Context, query string, all bool) error {
	rows, err := r.pool.Query(ctx, query)
	if err != nil {
		return err
	}
	type rev struct {
		jti     string
		expires time.Time
	}
	revs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (rev, error) {
		var v rev
		return v, row.Scan(&v.jti, &v.expires)
	})
	if err != nil {
		return err
	}
	if len(revs) == 0 && !all {
		return nil
	}
	jtis := make([]string, len(revs))
	_, err = r.redis.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, v := range revs {
			jtis[i] = v.jti
			p.Set(ctx, r.key(v.jti), "1", redisTTL(v.expires))
		}
		if all {
			p.Set(ctx, r.loadedKey(), "1", 0)
		}
		return nil
	})
	if err != nil {
		return errors.Join(errors.New("writing to Redis"), err)
	}
	if len(jtis) > 0 {
		if _, err := r.pool.Exec(ctx, markSyncedSQL, jtis); err != nil {
			return err
		}
	}
	return nil
}

// redisTTL keeps a revocation in Redis until its token expires, plus the clock skew the
// token checks allow; never 0, which Redis would take as "forever".
func redisTTL(expires time.Time) time.Duration {
	return max(time.Until(expires), 0) + clockSkew
}
