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
// CPU), so the few small writes per attempt are not what an attacker can exhaust.
//
// An attempt is counted before its password is checked (AdmitLogin, AdmitTOTP): the
// count is taken and compared with the limit in one transaction, under the rows' locks,
// so that concurrent attempts cannot all read the same old count and all get a bcrypt
// comparison. A refused attempt costs that one short transaction, rolled back, and no
// bcrypt work; the right password gives its reservation back (ResetLogin, ReleaseLogin).
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
	// throttleCountSQL adds one to key's count in its window (a new window when the old
	// one ended) and returns the count and the window's remaining time. The upsert locks
	// the row until the transaction ends: concurrent counts of one key queue up.
	throttleCountSQL = `INSERT INTO login_throttle (key, failures, window_end) VALUES ($1, 1, now() + $2::interval)
ON CONFLICT (key) DO UPDATE SET
    failures   = CASE WHEN login_throttle.window_end <= now() THEN 1 ELSE login_throttle.failures + 1 END,
    window_end = CASE WHEN login_throttle.window_end <= now() THEN now() + $2::interval ELSE login_throttle.window_end END
RETURNING failures, window_end - now()`
	// throttleUncountSQL gives back one attempt that turned out not to be a failure.
	throttleUncountSQL = `UPDATE login_throttle SET failures = failures - 1 WHERE key = $1 AND failures > 0 AND window_end > now()`
	throttleResetSQL   = `DELETE FROM login_throttle WHERE key = $1`
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

// loginKeys are the counts of a login attempt, always in this order (the order the
// rows are locked in, so that concurrent transactions cannot deadlock): failures for
// email from every client, for email from client, and from client for any email.
func loginKeys(email, client string) [3][]byte {
	return [3][]byte{throttleKey("email", email), throttleKey("email-client", email, client), throttleKey("client", client)}
}

// AdmitLogin counts a login attempt by client for email as a failure before its password
// is checked, and returns the soft delay the attempt must wait (from the earlier
// failures for email from every client). When client reached its limit, for email or
// for all emails, it counts nothing and returns an *apperr.ThrottledError. The attempt
// stays a failure unless the password was right: ResetLogin or ReleaseLogin.
func (t *Throttle) AdmitLogin(ctx context.Context, email, client string) (time.Duration, error) {
	keys := loginKeys(email, client)
	var (
		delay   time.Duration
		blocked *apperr.ThrottledError
	)
	err := pgx.BeginFunc(ctx, t.pool, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		for _, k := range keys {
			b.Queue(throttleCountSQL, k, t.limits.Window)
		}
		res := tx.SendBatch(ctx, b)
		defer res.Close()
		for i, c := range []struct {
			limit int
			what  string
		}{{0, ""}, {t.limits.PerEmailClient, "login attempts for this email from this address"}, {t.limits.PerClient, "login attempts from this address"}} {
			var (
				n    int
				left time.Duration
			)
			if err := res.QueryRow().Scan(&n, &left); err != nil {
				return err
			}
			if i == 0 {
				delay = t.softDelay(n - 1) // the failures before this attempt
				continue
			}
			if n > c.limit && (blocked == nil || left > blocked.RetryAfter) {
				blocked = &apperr.ThrottledError{What: c.what, RetryAfter: left}
			}
		}
		if err := res.Close(); err != nil {
			return err
		}
		if blocked != nil {
			// Roll back: a refused attempt is no failure (as before any check), so the
			// client's count for other emails and the email's soft delay do not grow.
			return blocked
		}
		return nil
	})
	var refused *apperr.ThrottledError
	if errors.As(err, &refused) {
		return 0, refused
	}
	if err != nil {
		return 0, fmt.Errorf("counting a login attempt: %w", err)
	}
	return delay, nil
}

func (t *Throttle) softDelay(failures int) time.Duration {
	if failures < t.limits.SoftAfter {
		return 0
	}
	return min(time.Duration(failures-t.limits.SoftAfter+1)*t.limits.SoftDelay, t.limits.MaxSoftDelay)
}

// ResetLogin forgets the failures for email after a successful login, from every client
// and from client, and gives back the attempt AdmitLogin counted for client (client
// keeps its count for all emails: one success must not reopen a client that is trying
// many emails).
func (t *Throttle) ResetLogin(ctx context.Context, email, client string) error {
	keys := loginKeys(email, client)
	b := &pgx.Batch{}
	b.Queue(throttleResetSQL, keys[0])
	b.Queue(throttleResetSQL, keys[1])
	b.Queue(throttleUncountSQL, keys[2])
	if err := t.pool.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("resetting the login throttle: %w", err)
	}
	return nil
}

// ReleaseLogin gives back the attempt AdmitLogin counted, when the password was right
// but the attempt got no session for another reason (a second factor or a password
// change to come, the shop too busy to check it): it was no failure.
func (t *Throttle) ReleaseLogin(ctx context.Context, email, client string) error {
	b := &pgx.Batch{}
	for _, k := range loginKeys(email, client) {
		b.Queue(throttleUncountSQL, k)
	}
	if err := t.pool.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("releasing a login attempt: %w", err)
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

// AdmitTOTP counts a one-time code of account userID as wrong before it is checked, and
// returns an *apperr.ThrottledError when that makes more than TOTPPerAccount within the
// window: counting first, in one statement, keeps concurrent guesses within the limit.
// A right code forgets the count (ResetTOTP).
func (t *Throttle) AdmitTOTP(ctx context.Context, userID int64) error {
	var (
		n    int
		left time.Duration
	)
	if err := t.pool.QueryRow(ctx, throttleCountSQL, throttleKey("totp", fmt.Sprint(userID)), t.limits.Window).Scan(&n, &left); err != nil {
		return fmt.Errorf("counting a one-time code: %w", err)
	}
	if n > t.limits.TOTPPerAccount {
		return &apperr.ThrottledError{What: "wrong one-time codes for this account", RetryAfter: left}
	}
	return nil
}

// ResetTOTP forgets account userID's wrong codes after a right one.
func (t *Throttle) ResetTOTP(ctx context.Context, userID int64) error {
	if _, err := t.pool.Exec(ctx, throttleResetSQL, throttleKey("totp", fmt.Sprint(userID))); err != nil {
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
