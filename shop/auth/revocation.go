package auth

import (
	"context"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Revocations records logged-out token ids until they expire, for every replica.
// PostgreSQL is the source of truth, and nothing else is trusted (docs/architecture.md,
// "The shop's cache": Redis plays no part).
//
// Each replica keeps the live revocations in memory: loaded from PostgreSQL when its
// listener starts, then followed through LISTEN/NOTIFY (a trigger on revoked_tokens
// notifies every insert, migration 00003). A check is a map lookup while the set is
// fresh: the listener proves its connection every HeartbeatInterval with a query on it,
// after which every notification sent before the query has been read. When the last
// proof is older than MaxStaleness (the listener lost its connection, PostgreSQL is
// slow), checks ask PostgreSQL instead, and fail if it does not answer.
//
// Staleness: a token revoked on one replica is refused by every other replica as soon as
// the notification arrives (milliseconds), and in every case at most MaxStaleness (1 s)
// after the revocation committed.
type Revocations struct {
	pool   *pgxpool.Pool
	logger *slog.Logger
	// Observer, when set, is told where each check was answered; set it before Start.
	Observer RevocationObserver
	// HeartbeatInterval and MaxStaleness are exported for tests; set them before Start.
	HeartbeatInterval time.Duration
	MaxStaleness      time.Duration

	mu      sync.RWMutex
	revoked map[string]time.Time // jti → expiry

	// freshAsOf (unix nanos): every revocation committed before it is in revoked.
	freshAsOf atomic.Int64
	warnedAt  atomic.Int64

	stop context.CancelFunc
	wg   sync.WaitGroup
	once sync.Once
}

// RevocationObserver is told where each revocation check was answered: "memory" or
// "postgres". *metrics.Metrics implements it.
type RevocationObserver interface {
	RevocationChecked(source string)
}

// revocationChannel is the NOTIFY channel of migration 00003's trigger.
const revocationChannel = "shop_revoked_tokens"

// Defaults of Revocations.
const (
	DefaultHeartbeatInterval = 250 * time.Millisecond
	DefaultMaxStaleness      = time.Second
)

const (
	insertRevocationSQL = `INSERT INTO revoked_tokens (jti, user_id, expires_at) VALUES ($1, $2, $3) ON CONFLICT (jti) DO NOTHING`
	isRevokedSQL        = `SELECT EXISTS (SELECT 1 FROM revoked_tokens WHERE jti = $1)`
	liveSQL             = `SELECT jti, expires_at FROM revoked_tokens WHERE expires_at > now() - interval '1 minute'`
	deleteExpiredSQL    = `DELETE FROM revoked_tokens WHERE expires_at < now() - interval '1 hour'`
	deleteThrottledSQL  = `DELETE FROM login_throttle WHERE window_end < now() - interval '1 hour'`
)

// NewRevocations returns the revocation list on pool. Call Start to follow it.
func NewRevocations(pool *pgxpool.Pool, logger *slog.Logger) *Revocations {
	if logger == nil {
		logger = slog.Default()
	}
	return &Revocations{pool: pool, logger: logger, revoked: map[string]time.Time{},
		HeartbeatInterval: DefaultHeartbeatInterval, MaxStaleness: DefaultMaxStaleness}
}

// Revoke records that the token jti of userID is invalid until expiresAt. This replica
// refuses it at once; the others when the notification reaches them.
func (r *Revocations) Revoke(ctx context.Context, jti string, userID int64, expiresAt time.Time) error {
	if _, err := r.pool.Exec(ctx, insertRevocationSQL, jti, userID, expiresAt); err != nil {
		return err
	}
	r.add(jti, expiresAt)
	return nil
}

// IsRevoked reports whether jti was revoked: from memory while the set is fresh,
// otherwise from PostgreSQL.
func (r *Revocations) IsRevoked(ctx context.Context, jti string) (bool, error) {
	r.mu.RLock()
	_, revoked := r.revoked[jti]
	r.mu.RUnlock()
	if revoked || r.Fresh() {
		r.observe("memory")
		return revoked, nil
	}
	r.observe("postgres")
	if err := r.pool.QueryRow(ctx, isRevokedSQL, jti).Scan(&revoked); err != nil {
		return false, err
	}
	return revoked, nil
}

func (r *Revocations) observe(source string) {
	if r.Observer != nil {
		r.Observer.RevocationChecked(source)
	}
}

// Fresh reports whether the in-memory set can answer "not revoked": it held every
// revocation committed up to at most MaxStaleness ago.
func (r *Revocations) Fresh() bool {
	asOf := r.freshAsOf.Load()
	return asOf != 0 && time.Now().UnixNano()-asOf <= int64(r.MaxStaleness)
}

func (r *Revocations) add(jti string, expires time.Time) {
	r.mu.Lock()
	r.revoked[jti] = expires
	r.mu.Unlock()
}

// Start follows the revocations until Close, and deletes expired revocations and throttle
// windows every minute.
func (r *Revocations) Start(ctx context.Context) {
	ctx, r.stop = context.WithCancel(ctx)
	r.wg.Add(2)
	go r.follow(ctx)
	go r.cleanup(ctx)
}

// Close stops following.
func (r *Revocations) Close() {
	r.once.Do(func() {
		if r.stop != nil {
			r.stop()
			r.wg.Wait()
		}
	})
}

// follow runs the listener, reconnecting a second after it fails.
func (r *Revocations) follow(ctx context.Context) {
	defer r.wg.Done()
	for {
		err := r.listen(ctx)
		if ctx.Err() != nil {
			return
		}
		r.warn(ctx, "Following token revocations failed; checking PostgreSQL until it works again", "error", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
}

// listen opens a connection of its own (the pool's settings, without its tracer: the
// heartbeats are not the requests' statements), LISTENs, loads the live revocations,
// then reads notifications and proves the connection every HeartbeatInterval, until an
// error.
func (r *Revocations) listen(ctx context.Context) error {
	cfg := r.pool.Config().ConnConfig.Copy()
	cfg.Tracer = nil
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close(context.WithoutCancel(ctx)) }()
	if _, err := conn.Exec(ctx, "LISTEN "+revocationChannel); err != nil {
		return err
	}
	start := time.Now()
	rows, err := conn.Query(ctx, liveSQL)
	if err != nil {
		return err
	}
	type rev struct {
		jti     string
		expires time.Time
	}
	live, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (rev, error) {
		var v rev
		return v, row.Scan(&v.jti, &v.expires)
	})
	if err != nil {
		return err
	}
	r.mu.Lock()
	for _, v := range live {
		r.revoked[v.jti] = v.expires
	}
	r.mu.Unlock()
	// LISTEN was active before the load began: later revocations come as notifications.
	r.freshAsOf.Store(start.UnixNano())

	lastProof := start
	for {
		if time.Since(lastProof) >= r.HeartbeatInterval {
			at := time.Now()
			if _, err := conn.Exec(ctx, "SELECT 1"); err != nil {
				return err
			}
			// Every notification sent before the query was queued on this connection
			// ahead of its answer, or arrives just after it: read before the next proof.
			r.freshAsOf.Store(at.UnixNano())
			lastProof = at
		}
		wctx, cancel := context.WithDeadline(ctx, lastProof.Add(r.HeartbeatInterval))
		n, err := conn.WaitForNotification(wctx)
		cancel()
		switch {
		case err == nil:
			r.notified(ctx, n)
		case ctx.Err() != nil:
			return ctx.Err()
		case !pgconn.Timeout(err):
			return err
		}
	}
}

// notified adds the revocation a notification carries: "<jti> <expiry unix seconds>".
func (r *Revocations) notified(ctx context.Context, n *pgconn.Notification) {
	jti, exp, ok := strings.Cut(n.Payload, " ")
	secs, err := strconv.ParseInt(exp, 10, 64)
	if !ok || err != nil || jti == "" {
		r.warn(ctx, "Ignoring a malformed revocation notification", "payload", n.Payload)
		return
	}
	r.add(jti, time.Unix(secs, 0))
}

func (r *Revocations) cleanup(ctx context.Context) {
	defer r.wg.Done()
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for _, q := range []string{deleteExpiredSQL, deleteThrottledSQL} {
			if _, err := r.pool.Exec(ctx, q); err != nil && ctx.Err() == nil {
				r.warn(ctx, "Deleting expired revocations and throttle windows failed", "error", err)
			}
		}
		// Memory holds what can still be presented: expired tokens fail their own check.
		cutoff := time.Now().Add(-clockSkew)
		r.mu.Lock()
		for jti, exp := range r.revoked {
			if exp.Before(cutoff) {
				delete(r.revoked, jti)
			}
		}
		r.mu.Unlock()
	}
}

// warn logs at most once a minute.
func (r *Revocations) warn(ctx context.Context, msg string, args ...any) {
	now := time.Now().UnixNano()
	last := r.warnedAt.Load()
	if now-last < int64(time.Minute) || !r.warnedAt.CompareAndSwap(last, now) {
		return
	}
	r.logger.WarnContext(ctx, msg, args...)
}
