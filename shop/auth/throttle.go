package auth

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/storefront-operator/storefront/shop/platform/apperr"
)

// ThrottleLimits bound failed logins and registrations. A client is what
// httpserver.ClientKey makes of the caller's address: an IPv4 address or an IPv6 /64.
//
// Login: a client that failed PerEmailClient times for one email, or PerClient times for
// any emails, within Window is refused (429) — the attacker's client, never the owner's.
// Failures for an email from all clients together only slow its logins down (SoftAfter,
// SoftDelay, MaxSoftDelay): nobody can lock an account by failing from many addresses,
// and the correct password from a client that has not failed always gets in.
type ThrottleLimits struct {
	// PerEmailClient failures for one email from one client within Window.
	PerEmailClient int
	// PerClient failures from one client within Window, whatever the emails: higher,
	// since people behind one NAT share an address, but it stops one client trying
	// many emails.
	PerClient int
	Window    time.Duration
	// SoftAfter failures for one email from all clients within Window start the soft
	// delay: each later attempt for the email waits SoftDelay per failure beyond
	// SoftAfter-1, at most MaxSoftDelay, before its password is checked.
	SoftAfter    int
	SoftDelay    time.Duration
	MaxSoftDelay time.Duration

	// RegisterPerClient registrations from one client within RegisterWindow.
	RegisterPerClient int
	RegisterWindow    time.Duration
	// RegisterGlobal registrations from all clients within RegisterGlobalWindow: each
	// costs a bcrypt hash (about 0.28 s of CPU at cost 12), so this bounds the CPU that
	// many clients together can make the shop spend on them.
	RegisterGlobal       int
	RegisterGlobalWindow time.Duration

	// TOTPPerAccount wrong one-time codes for one account within Window (each after the
	// right password, from any clients) close its code check until the window ends: six
	// digits must not be guessable from many addresses. Only someone who has the
	// password can close it.
	TOTPPerAccount int

	// PasswordChangePerAccount password changes with a valid change token for one
	// account within Window: each costs two bcrypt operations (the comparison with the
	// old password and the new hash), and a token stays valid until it is used.
	PasswordChangePerAccount int
}

// DefaultThrottleLimits: login 5 failures per email from one client and 30 per client in
// 15 minutes, a delay of 0.5 s per failure for one email from the 5th on, at most 3 s;
// registration 5 per client an hour and 60 a minute for the whole shop.
var DefaultThrottleLimits = ThrottleLimits{
	PerEmailClient: 5, PerClient: 30, Window: 15 * time.Minute,
	SoftAfter: 5, SoftDelay: 500 * time.Millisecond, MaxSoftDelay: 3 * time.Second,
	RegisterPerClient: 5, RegisterWindow: time.Hour,
	RegisterGlobal: 60, RegisterGlobalWindow: time.Minute,
	TOTPPerAccount: 10, PasswordChangePerAccount: 5,
}

// withDefaults fills the zero fields of l from DefaultThrottleLimits.
func (l ThrottleLimits) withDefaults() ThrottleLimits {
	d := DefaultThrottleLimits
	or := func(v *int, def int) {
		if *v <= 0 {
			*v = def
		}
	}
	ord := func(v *time.Duration, def time.Duration) {
		if *v <= 0 {
			*v = def
		}
	}
	or(&l.PerEmailClient, d.PerEmailClient)
	or(&l.PerClient, d.PerClient)
	ord(&l.Window, d.Window)
	or(&l.SoftAfter, d.SoftAfter)
	ord(&l.SoftDelay, d.SoftDelay)
	ord(&l.MaxSoftDelay, d.MaxSoftDelay)
	or(&l.RegisterPerClient, d.RegisterPerClient)
	ord(&l.RegisterWindow, d.RegisterWindow)
	or(&l.RegisterGlobal, d.RegisterGlobal)
	ord(&l.RegisterGlobalWindow, d.RegisterGlobalWindow)
	or(&l.TOTPPerAccount, d.TOTPPerAccount)
	or(&l.PasswordChangePerAccount, d.PasswordChangePerAccount)
	return l
}

// Throttle counts failed logins and registrations in PostgreSQL, so every replica sees
// the same counts. A login attempt costs a bcrypt comparison (hundreds of milliseconds of
// CPU), so the one small write per failure is not what an attacker can exhaust; a
// throttled attempt is refused with one read, before any bcrypt work.
type Throttle struct {
	pool   *pgxpool.Pool
	limits ThrottleLimits
}

// NewThrottle returns a throttle over pool with limits (zero fields take the defaults).
func NewThrottle(pool *pgxpool.Pool, limits ThrottleLimits) *Throttle {
	return &Throttle{pool: pool, limits: limits.withDefaults()}
}

// Limits returns the limits in force.
func (t *Throttle) Limits() ThrottleLimits { return t.limits }

const (
	throttleCheckSQL = `SELECT key, failures, window_end - now() FROM login_throttle WHERE key = ANY($1) AND window_end > now()`
	// throttleCountSQL adds one to key's count in its window (a new window when the old
	// one ended) and returns the count and the window's remaining time.
	throttleCountSQL = `INSERT INTO login_throttle (key, failures, window_end) VALUES ($1, 1, now() + $2::interval)
ON CONFLICT (key) DO UPDATE SET
    failures   = CASE WHEN login_throttle.window_end <= now() THEN 1 ELSE login_throttle.failures + 1 END,
    window_end = CASE WHEN login_throttle.window_end <= now() THEN now() + $2::interval ELSE login_throttle.window_end END
RETURNING failures, window_end - now()`
	throttleResetSQL = `DELETE FROM login_throttle WHERE key = ANY($1)`
)

// throttleKey hashes what is counted: the table holds no plain emails or addresses.
func throttleKey(kind string, values ...string) []byte {
	h := sha256.New()
	h.Write([]byte(kind))
	for _, v := range values {
		// Length-prefixed, so that ("a|b", "c") and ("a", "b|c") differ.
		fmt.Fprintf(h, ":%d:%s", len(v), v)
	}
	return h.Sum(nil)
}

// CheckLogin returns an *apperr.ThrottledError when client reached its limit, for email
// or for all emails; otherwise the soft delay the attempt must wait, from the failures
// for email from every client.
func (t *Throttle) CheckLogin(ctx context.Context, email, client string) (time.Duration, error) {
	ek, eck, ck := throttleKey("email", email), throttleKey("email-client", email, client), throttleKey("client", client)
	rows, err := t.pool.Query(ctx, throttleCheckSQL, [][]byte{ek, eck, ck})
	if err != nil {
		return 0, fmt.Errorf("checking the login throttle: %w", err)
	}
	var (
		key      []byte
		failures int
		left     time.Duration
		delay    time.Duration
		blocked  *apperr.ThrottledError
	)
	_, err = pgx.ForEachRow(rows, []any{&key, &failures, &left}, func() error {
		limit, what := t.limits.PerClient, "login attempts from this address"
		switch string(key) {
		case string(ek):
			delay = t.softDelay(failures)
			return nil
		case string(eck):
			limit, what = t.limits.PerEmailClient, "login attempts for this email from this address"
		}
		if failures >= limit && (blocked == nil || left > blocked.RetryAfter) {
			blocked = &apperr.ThrottledError{What: what, RetryAfter: left}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("checking the login throttle: %w", err)
	}
	if blocked != nil {
		return 0, blocked
	}
	return delay, nil
}

func (t *Throttle) softDelay(failures int) time.Duration {
	if failures < t.limits.SoftAfter {
		return 0
	}
	return min(time.Duration(failures-t.limits.SoftAfter+1)*t.limits.SoftDelay, t.limits.MaxSoftDelay)
}

// FailLogin counts a failed login for email, for email from client, and for client.
func (t *Throttle) FailLogin(ctx context.Context, email, client string) error {
	b := &pgx.Batch{}
	for _, k := range [][]byte{throttleKey("email", email), throttleKey("email-client", email, client), throttleKey("client", client)} {
		b.Queue(throttleCountSQL, k, t.limits.Window)
	}
	if err := t.pool.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("counting a failed login: %w", err)
	}
	return nil
}

// ResetLogin forgets the failures for email after a successful login, from every client
// and from client (client keeps its count for all emails: one success must not reopen a
// client that is trying many emails).
func (t *Throttle) ResetLogin(ctx context.Context, email, client string) error {
	if _, err := t.pool.Exec(ctx, throttleResetSQL, [][]byte{throttleKey("email", email), throttleKey("email-client", email, client)}); err != nil {
		return fmt.Errorf("resetting the login throttle: %w", err)
	}
	return nil
}

// AdmitRegistration counts a registration attempt by client and by the whole shop, and
// returns an *apperr.ThrottledError when either is over its limit. It runs before the
// password is hashed, so a refused attempt costs no bcrypt work.
func (t *Throttle) AdmitRegistration(ctx context.Context, client string) error {
	b := &pgx.Batch{}
	b.Queue(throttleCountSQL, throttleKey("register-client", client), t.limits.RegisterWindow)
	b.Queue(throttleCountSQL, throttleKey("register"), t.limits.RegisterGlobalWindow)
	res := t.pool.SendBatch(ctx, b)
	defer res.Close()
	var blocked *apperr.ThrottledError
	for i, c := range []struct {
		limit int
		what  string
	}{{t.limits.RegisterPerClient, "registrations from this address"}, {t.limits.RegisterGlobal, "registrations at this shop; the shop takes new accounts again shortly"}} {
		var (
			n    int
			left time.Duration
		)
		if err := res.QueryRow().Scan(&n, &left); err != nil {
			return fmt.Errorf("counting a registration (%d): %w", i, err)
		}
		if n > c.limit && (blocked == nil || left > blocked.RetryAfter) {
			blocked = &apperr.ThrottledError{What: c.what, RetryAfter: left}
		}
	}
	if err := res.Close(); err != nil {
		return fmt.Errorf("counting a registration: %w", err)
	}
	if blocked != nil {
		return blocked
	}
	return nil
}

// CheckTOTP returns an *apperr.ThrottledError when account userID had TOTPPerAccount
// wrong codes within the window.
func (t *Throttle) CheckTOTP(ctx context.Context, userID int64) error {
	k := throttleKey("totp", fmt.Sprint(userID))
	var (
		key      []byte
		failures int
		left     time.Duration
	)
	err := t.pool.QueryRow(ctx, throttleCheckSQL, [][]byte{k}).Scan(&key, &failures, &left)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("checking the one-time code throttle: %w", err)
	}
	if failures >= t.limits.TOTPPerAccount {
		return &apperr.ThrottledError{What: "wrong one-time codes for this account", RetryAfter: left}
	}
	return nil
}

// FailTOTP counts a wrong (or replayed) code for account userID.
func (t *Throttle) FailTOTP(ctx context.Context, userID int64) error {
	var (
		n    int
		left time.Duration
	)
	if err := t.pool.QueryRow(ctx, throttleCountSQL, throttleKey("totp", fmt.Sprint(userID)), t.limits.Window).Scan(&n, &left); err != nil {
		return fmt.Errorf("counting a wrong one-time code: %w", err)
	}
	return nil
}

// ResetTOTP forgets account userID's wrong codes after a right one.
func (t *Throttle) ResetTOTP(ctx context.Context, userID int64) error {
	if _, err := t.pool.Exec(ctx, throttleResetSQL, [][]byte{throttleKey("totp", fmt.Sprint(userID))}); err != nil {
		return fmt.Errorf("resetting the one-time code throttle: %w", err)
	}
	return nil
}

// AdmitPasswordChange counts a password change for account userID and returns an
// *apperr.ThrottledError when it is over PasswordChangePerAccount within the window. It
// runs before any bcrypt work.
func (t *Throttle) AdmitPasswordChange(ctx context.Context, userID int64) error {
	var (
		n    int
		left time.Duration
	)
	if err := t.pool.QueryRow(ctx, throttleCountSQL, throttleKey("password-change", fmt.Sprint(userID)), t.limits.Window).Scan(&n, &left); err != nil {
		return fmt.Errorf("counting a password change: %w", err)
	}
	if n > t.limits.PasswordChangePerAccount {
		return &apperr.ThrottledError{What: "password changes for this account", RetryAfter: left}
	}
	return nil
}
