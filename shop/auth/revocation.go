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

// Revocations records logged-out token ids until they expire, and each account's session
// generation (raised when a second factor is enabled or replaced and when the password
// changes: every session issued before is refused), for every replica. PostgreSQL is the
// source of truth, and nothing else is trusted (docs/architecture.md, "The shop's cache":
// Redis plays no part).
//
// Each replica keeps the live revocations and the generations above 0 in memory: loaded
// from PostgreSQL when its listener starts, then followed through LISTEN/NOTIFY (triggers
// notify every insert into revoked_tokens, migration 00003, and every raise of
// users.session_generation, migration 00008). A check is two map lookups while the set is
// fresh: the listener proves its connection every HeartbeatInterval with a query on it,
// after which every notification sent before the query has been read. When the last
// proof is older than MaxStaleness (the listener lost its connection, PostgreSQL is
// slow), checks ask PostgreSQL instead, and fail if it does not answer.
//
// Staleness: a token revoked on one replica (or a session of an account whose generation
// was raised there) is refused by every other replica as soon as the notification arrives
// (milliseconds), and in every case at most MaxStaleness (1 s) after the change committed.
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
	// generations: user id → session generation, for the accounts above 0. Never
	// lowered, never pruned: few accounts ever raise it (admins, password changes).
	generations map[int64]int64

	// freshAsOf (unix nanos): every revocation and generation committed before it is in
	// memory.
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

// revocationChannel is the NOTIFY channel of migration 00003's trigger, generationChannel
// migration 00008's.
const (
	revocationChannel = "shop_revoked_tokens"
	generationChannel = "shop_session_generations"
)

// Defaults of Revocations.
const (
	DefaultHeartbeatInterval = 250 * time.Millisecond
	DefaultMaxStaleness      = time.Second
)

const (
	insertRevocationSQL = `INSERT INTO revoked_tokens (jti, user_id, expires_at) VALUES ($1, $2, $3) ON CONFLICT (jti) DO NOTHING`
	isRevokedSQL        = `SELECT EXISTS (SELECT 1 FROM revoked_tokens WHERE jti = $1)`
	liveSQL             = `SELECT jti, expires_at FROM revoked_tokens WHERE expires_at > now() - interval '1 minute'`
	// One statement when the memory is stale: the token's jti and its account's generation.
	isSessionRevokedSQL = `SELECT EXISTS (SELECT 1 FROM revoked_tokens WHERE jti = $1)
    OR coalesce((SELECT session_generation FROM users WHERE id = $2), 0) > $3`
	generationsSQL     = `SELECT id, session_generation FROM users WHERE session_generation > 0`
	deleteExpiredSQL   = `DELETE FROM revoked_tokens WHERE expires_at < now() - interval '1 hour'`
	deleteThrottledSQL = `DELETE FROM login_throttle WHERE window_end < now() - interval '1 hour'`
)

// NewRevocations returns the revocation list on pool. Call Start to follow it.
func NewRevocations(pool *pgxpool.Pool, logger *slog.Logger) *Revocations {
	if logger == nil {
		logger = slog.Default()
	}
	return &Revocations{pool: pool, logger: logger, revoked: map[string]time.Time{}, generations: map[int64]int64{},
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

// SessionRevoked reports whether p's token was revoked: its jti by a logout, or every
// session of its account issued before the account's generation was raised (p.Generation
// lower than the account's). From memory while the set is fresh, otherwise from
// PostgreSQL. A revocation in memory holds even when stale: neither is ever undone.
func (r *Revocations) SessionRevoked(ctx context.Context, p Principal) (bool, error) {
	r.mu.RLock()
	_, revoked := r.revoked[p.TokenID]
	revoked = revoked || r.generations[p.UserID] > p.Generation
	r.mu.RUnlock()
	if revoked || r.Fresh() {
		r.observe("memory")
		return revoked, nil
	}
	r.observe("postgres")
	if err := r.pool.QueryRow(ctx, isSessionRevokedSQL, p.TokenID, p.UserID, p.Generation).Scan(&revoked); err != nil {
		return false, err
	}
	return revoked, nil
}

// raise records that the sessions of userID issued before generation gen are revoked.
// The statement that raised it is the caller's (it is part of the change that revokes
// them, enabling a factor or setting a password); this replica refuses them at once, the
// others when the notification reaches them.
func (r *Revocations) raise(userID, gen int64) {
	r.mu.Lock()
	// Notifications and the callers' own raises may arrive in any order: keep the highest.
	if gen > r.generations[userID] {
		r.generations[userID] = gen
	}
	r.mu.Unlock()
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
// heartbeats are not the requests' statements), LISTENs, loads the live revocations and
// the generations, then reads notifications and proves the connection every HeartbeatInterval, until an
// error.
func (r *Revocations) listen(ctx context.Context) error {
	cfg := r.pool.Config().ConnConfig.Copy()
	cfg.Tracer = nil
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close(context.WithoutCancel(ctx)) }()
	for _, ch := range []string{revocationChannel, generationChannel} {
		if _, err := conn.Exec(ctx, "LISTEN "+ch); err != nil {
			return err
		}
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
	rows, err = conn.Query(ctx, generationsSQL)
	if err != nil {
		return err
	}
	type generation struct{ user, gen int64 }
	gens, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (generation, error) {
		var g generation
		return g, row.Scan(&g.user, &g.gen)
	})
	if err != nil {
		return err
	}
	r.mu.Lock()
	for _, v := range live {
		r.revoked[v.jti] = v.expires
	}
	r.mu.Unlock()
	for _, g := range gens {
		r.raise(g.user, g.gen)
	}
	// LISTEN was active before the loads began: later changes come as notifications.
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

// notified adds the revocation a notification carries: "<jti> <expiry unix seconds>", or
// on generationChannel "<user id> <generation>".
func (r *Revocations) notified(ctx context.Context, n *pgconn.Notification) {
	if n.Channel == generationChannel {
		id, gen, ok := strings.Cut(n.Payload, " ")
		user, err1 := strconv.ParseInt(id, 10, 64)
		g, err2 := strconv.ParseInt(gen, 10, 64)
		if !ok || err1 != nil || err2 != nil {
			r.warn(ctx, "Ignoring a malformed session generation notification", "payload", n.Payload)
			return
		}
		r.raise(user, g)
		return
	}
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
