package auth

import (
	"context"
	"crypto/sha256"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/storefront-operator/storefront/shop/platform/apperr"
)

// ThrottleLimits bound failed logins in a fixed window, per email and per client IP.
type ThrottleLimits struct {
	// PerEmail failures for one email (whether or not it has an account) within Window.
	PerEmail int
	// PerIP failures from one client address within Window: higher, since people behind
	// one NAT share it, but it stops one client trying many emails.
	PerIP  int
	Window time.Duration
}

// DefaultThrottleLimits: 5 failures per email and 30 per IP in 15 minutes.
var DefaultThrottleLimits = ThrottleLimits{PerEmail: 5, PerIP: 30, Window: 15 * time.Minute}

// Throttle counts failed logins in PostgreSQL, so every replica sees the same counts.
// A login attempt costs a bcrypt comparison (hundreds of milliseconds of CPU), so the
// one small write per failure is not what an attacker can exhaust; a throttled attempt
// is refused with one read, before any bcrypt work.
type Throttle struct {
	pool   *pgxpool.Pool
	limits ThrottleLimits
}

// NewThrottle returns a throttle over pool with limits (the zero value takes the defaults).
func NewThrottle(pool *pgxpool.Pool, limits ThrottleLimits) *Throttle {
	if limits.PerEmail <= 0 {
		limits.PerEmail = DefaultThrottleLimits.PerEmail
	}
	if limits.PerIP <= 0 {
		limits.PerIP = DefaultThrottleLimits.PerIP
	}
	if limits.Window <= 0 {
		limits.Window = DefaultThrottleLimits.Window
	}
	return &Throttle{pool: pool, limits: limits}
}

const (
	throttleCheckSQL = `SELECT key, failures, window_end - now() FROM login_throttle WHERE key = ANY($1) AND window_end > now()`
	throttleFailSQL  = `INSERT INTO login_throttle (key, failures, window_end) VALUES ($1, 1, now() + $2::interval)
ON CONFLICT (key) DO UPDATE SET
    failures   = CASE WHEN login_throttle.window_end <= now() THEN 1 ELSE login_throttle.failures + 1 END,
    window_end = CASE WHEN login_throttle.window_end <= now() THEN now() + $2::interval ELSE login_throttle.window_end END`
	throttleResetSQL = `DELETE FROM login_throttle WHERE key = $1`
)

// throttleKey hashes the email or address: the table holds no plain addresses.
func throttleKey(kind, value string) []byte {
	sum := sha256.Sum256([]byte(kind + ":" + value))
	return sum[:]
}

// Check returns an *apperr.ThrottledError when email or ip reached its limit.
func (t *Throttle) Check(ctx context.Context, email, ip string) error {
	ek, ik := throttleKey("email", email), throttleKey("ip", ip)
	rows, err := t.pool.Query(ctx, throttleCheckSQL, [][]byte{ek, ik})
	if err != nil {
		return fmt.Errorf("checking the login throttle: %w", err)
	}
	var (
		key      []byte
		failures int
		left     time.Duration
		blocked  *apperr.ThrottledError
	)
	_, err = pgx.ForEachRow(rows, []any{&key, &failures, &left}, func() error {
		limit, what := t.limits.PerIP, "login attempts from this address"
		if string(key) == string(ek) {
			limit, what = t.limits.PerEmail, "login attempts for this email"
		}
		if failures >= limit && (blocked == nil || left > blocked.RetryAfter) {
			blocked = &apperr.ThrottledError{What: what, RetryAfter: left}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("checking the login throttle: %w", err)
	}
	if blocked != nil {
		return blocked
	}
	return nil
}

// Fail counts a failed login for email and ip.
func (t *Throttle) Fail(ctx context.Context, email, ip string) error {
	b := &pgx.Batch{}
	b.Queue(throttleFailSQL, throttleKey("email", email), t.limits.Window)
	b.Queue(throttleFailSQL, throttleKey("ip", ip), t.limits.Window)
	if err := t.pool.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("counting a failed login: %w", err)
	}
	return nil
}

// Reset forgets the failures of email after a successful login (the address keeps its
// count: one success must not reopen a client that is trying many emails).
func (t *Throttle) Reset(ctx context.Context, email string) error {
	if _, err := t.pool.Exec(ctx, throttleResetSQL, throttleKey("email", email)); err != nil {
		return fmt.Errorf("resetting the login throttle: %w", err)
	}
	return nil
}
