package auth_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/crypto/bcrypt"

	"github.com/storefront-operator/storefront/shop/auth"
	"github.com/storefront-operator/storefront/shop/platform/apperr"
	"github.com/storefront-operator/storefront/shop/platform/database"
	"github.com/storefront-operator/storefront/test/shoptest"
)

// failures counts the refused logins the service reports.
type failures struct{ credentials, throttled atomic.Int64 }

func (f *failures) LoginFailed(reason string) {
	switch reason {
	case "credentials":
		f.credentials.Add(1)
	case "throttled":
		f.throttled.Add(1)
	}
}

// testService is an auth service on a new database, with a pool large enough that every
// concurrent request of a test has its own connection (as many replicas would).
type testService struct {
	*auth.Service
	pool        *pgxpool.Pool
	observed    *failures
	revocations *auth.Revocations
}

func newTestService(t *testing.T, o auth.Options) testService {
	t.Helper()
	cfg, err := database.ParseURL(shoptest.MigratedDatabase(t, false))
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = 64
	pool, err := database.OpenConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	o.Revocations = auth.NewRevocations(pool, nil)
	return serviceOn(t, pool, o)
}

// serviceOn is the auth service on pool with o's revocation list (a new one, not
// followed, when nil).
func serviceOn(t *testing.T, pool *pgxpool.Pool, o auth.Options) testService {
	t.Helper()
	// No soft delay worth waiting for: the tests are about the hard limits.
	limits := auth.ThrottleLimits{SoftDelay: time.Nanosecond, MaxSoftDelay: time.Nanosecond, RegisterPerClient: 1000, RegisterGlobal: 1000}
	f := &failures{}
	o.Secret, o.PasswordCost, o.Observer = "test-secret-test-secret-test-secret", bcrypt.MinCost, f
	o.Throttle = auth.NewThrottle(pool, limits)
	if o.Revocations == nil {
		o.Revocations = auth.NewRevocations(pool, nil)
	}
	s, err := auth.NewService(auth.NewPGStore(pool), o)
	if err != nil {
		t.Fatal(err)
	}
	return testService{Service: s, pool: pool, observed: f, revocations: o.Revocations}
}

var userSeq atomic.Int64

const testPassword = "correct horse battery"

func (s testService) register(t *testing.T) auth.User {
	t.Helper()
	se, err := s.Register(context.Background(), auth.RegisterRequest{
		Email: fmt.Sprintf("u%d@example.com", userSeq.Add(1)), Password: testPassword, Name: "U", Client: "setup"})
	if err != nil {
		t.Fatal(err)
	}
	return se.User
}

// together runs n calls of fn at once: every goroutine waits at the barrier, which opens
// when all have started, so that they race for the same counts.
func together(n int, fn func(i int) error) []error {
	errs := make([]error, n)
	var ready, done sync.WaitGroup
	start := make(chan struct{})
	ready.Add(n)
	done.Add(n)
	for i := range n {
		go func() {
			defer done.Done()
			ready.Done()
			<-start
			errs[i] = fn(i)
		}()
	}
	ready.Wait()
	close(start)
	done.Wait()
	return errs
}

// outcomes counts 401s and 429s; anything else fails the test.
func outcomes(t *testing.T, errs []error) (unauthorized, throttled int) {
	t.Helper()
	for i, err := range errs {
		var te *apperr.ThrottledError
		switch {
		case errors.As(err, &te):
			if te.RetryAfter <= 0 {
				t.Errorf("attempt %d: throttled without a Retry-After: %v", i, err)
			}
			throttled++
		case errors.Is(err, apperr.ErrUnauthorized):
			unauthorized++
		default:
			t.Errorf("attempt %d: %v, want 401 or 429", i, err)
		}
	}
	return unauthorized, throttled
}

// TestConcurrentWrongPasswordsAreCappedPerEmailAndClient: 40 wrong passwords for one
// email from one client at once get exactly PerEmailClient 401s (each a bcrypt
// comparison); the others are 429 before any bcrypt work, and so is the right password
// afterwards. Counting the failure after the comparison let every one of them through.
func TestConcurrentWrongPasswordsAreCappedPerEmailAndClient(t *testing.T) {
	s := newTestService(t, auth.Options{})
	u := s.register(t)
	const n, client = 40, "203.0.113.9"
	errs := together(n, func(i int) error {
		_, err := s.Login(context.Background(), auth.LoginRequest{Email: u.Email, Password: fmt.Sprint("wrong guess ", i), Client: client})
		return err
	})
	limit := auth.DefaultThrottleLimits.PerEmailClient
	if unauth, throttled := outcomes(t, errs); unauth != limit || throttled != n-limit {
		t.Errorf("%d concurrent wrong passwords: %d × 401 and %d × 429, want %d and %d", n, unauth, throttled, limit, n-limit)
	}
	if got := s.observed.credentials.Load(); got != int64(limit) {
		t.Errorf("%d password comparisons failed, want %d", got, limit)
	}
	var te *apperr.ThrottledError
	if _, err := s.Login(context.Background(), auth.LoginRequest{Email: u.Email, Password: testPassword, Client: client}); !errors.As(err, &te) {
		t.Errorf("the right password from the throttled client: %v, want 429", err)
	}
	// Another client is not refused: the owner gets in.
	if _, err := s.Login(context.Background(), auth.LoginRequest{Email: u.Email, Password: testPassword, Client: "198.51.100.1"}); err != nil {
		t.Errorf("the owner from another client: %v", err)
	}
}

// TestConcurrentLoginsAcrossEmailsAreCappedPerClient: one client trying 40 emails at
// once gets exactly PerClient 401s.
func TestConcurrentLoginsAcrossEmailsAreCappedPerClient(t *testing.T) {
	s := newTestService(t, auth.Options{})
	const n, client = 40, "203.0.113.10"
	errs := together(n, func(i int) error {
		_, err := s.Login(context.Background(), auth.LoginRequest{Email: fmt.Sprintf("victim%d@example.com", i), Password: "password123", Client: client})
		return err
	})
	limit := auth.DefaultThrottleLimits.PerClient
	if unauth, throttled := outcomes(t, errs); unauth != limit || throttled != n-limit {
		t.Errorf("%d concurrent logins for distinct emails: %d × 401 and %d × 429, want %d and %d", n, unauth, throttled, limit, n-limit)
	}
}

// TestSuccessfulLoginsDoNotCount: the right password, with or without the code step,
// leaves no failure behind: more successes than any limit from one client all get in.
func TestSuccessfulLoginsDoNotCount(t *testing.T) {
	s := newTestService(t, auth.Options{})
	u := s.register(t)
	for i := range auth.DefaultThrottleLimits.PerClient + 1 {
		if _, err := s.Login(context.Background(), auth.LoginRequest{Email: u.Email, Password: testPassword, Client: "192.0.2.1"}); err != nil {
			t.Fatalf("login %d: %v", i, err)
		}
	}
	admin, _, _ := s.enrolledAdmin(t)
	for i := range auth.DefaultThrottleLimits.PerEmailClient + 1 {
		_, err := s.Login(context.Background(), auth.LoginRequest{Email: admin.Email, Password: testPassword, Client: "192.0.2.2"})
		if !errors.Is(err, apperr.ErrTOTPRequired) {
			t.Fatalf("login %d without a code: %v, want totp-required", i, err)
		}
	}
}

// enrolledAdmin is an admin with a TOTP second factor, its secret and a session opened
// with it.
func (s testService) enrolledAdmin(t *testing.T) (auth.User, string, auth.Session) {
	t.Helper()
	ctx := context.Background()
	u := s.register(t)
	if _, err := s.pool.Exec(ctx, `UPDATE users SET role = 'admin' WHERE id = $1`, u.ID); err != nil {
		t.Fatal(err)
	}
	u.Role = auth.RoleAdmin
	p := s.principal(t, u, "")
	e, err := s.BeginTOTP(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	v, err := s.ConfirmTOTP(ctx, p, code(t, e.Secret, 0))
	if err != nil {
		t.Fatal(err)
	}
	return u, e.Secret, v
}

// principal verifies token (a new session of u when ""), as the HTTP layers do.
func (s testService) principal(t *testing.T, u auth.User, token string) auth.Principal {
	t.Helper()
	if token == "" {
		se, err := s.IssueSession(context.Background(), u)
		if err != nil {
			t.Fatal(err)
		}
		token = se.Token
	}
	p, err := s.Verify(context.Background(), token)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func code(t *testing.T, secret string, offset int64) string {
	t.Helper()
	c, err := auth.TOTPCode(secret, auth.TOTPStep(time.Now())+offset)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// wrongCode is a code of none of the steps login accepts now.
func wrongCode(t *testing.T, secret string) string {
	t.Helper()
	for _, c := range []string{"000000", "111111", "222222", "333333"} {
		if c != code(t, secret, -1) && c != code(t, secret, 0) && c != code(t, secret, 1) {
			return c
		}
	}
	t.Fatal("no wrong code")
	return ""
}

// TestConcurrentWrongTOTPCodesAreCappedPerAccount: 40 sign-ins at once with the right
// password and wrong codes, each from another client, get exactly TOTPPerAccount code
// checks (401); the others are 429.
func TestConcurrentWrongTOTPCodesAreCappedPerAccount(t *testing.T) {
	s := newTestService(t, auth.Options{})
	admin, secret, _ := s.enrolledAdmin(t)
	wrong := wrongCode(t, secret)
	const n = 40
	errs := together(n, func(i int) error {
		_, err := s.Login(context.Background(), auth.LoginRequest{Email: admin.Email, Password: testPassword, TOTPCode: wrong,
			Client: fmt.Sprintf("198.51.100.%d", i+1)})
		return err
	})
	limit := auth.DefaultThrottleLimits.TOTPPerAccount
	if unauth, throttled := outcomes(t, errs); unauth != limit || throttled != n-limit {
		t.Errorf("%d concurrent wrong codes: %d × 401 and %d × 429, want %d and %d", n, unauth, throttled, limit, n-limit)
	}
}

// TestBusyBcryptSlotsRefuseWithoutCounting: while every bcrypt slot is taken, a login
// (and a registration) waits BcryptWait and is refused with 503 (apperr.ErrTimedOut,
// Retry-After: 1), its password unchecked; the refused login is no failure.
func TestBusyBcryptSlotsRefuseWithoutCounting(t *testing.T) {
	s := newTestService(t, auth.Options{BcryptConcurrency: 2, BcryptWait: 20 * time.Millisecond})
	u := s.register(t)
	const client = "203.0.113.20"
	release := auth.HoldBcryptSlots(s.Service)
	for i := range auth.DefaultThrottleLimits.PerEmailClient + 1 {
		if _, err := s.Login(context.Background(), auth.LoginRequest{Email: u.Email, Password: "wrong guess", Client: client}); !errors.Is(err, apperr.ErrTimedOut) {
			t.Fatalf("login %d while the slots are busy: %v, want ErrTimedOut", i, err)
		}
	}
	if _, err := s.Register(context.Background(), auth.RegisterRequest{Email: "busy@example.com", Password: testPassword, Name: "B", Client: client}); !errors.Is(err, apperr.ErrTimedOut) {
		t.Errorf("registering while the slots are busy: %v, want ErrTimedOut", err)
	}
	release()
	if got := s.observed.credentials.Load(); got != 0 {
		t.Errorf("%d passwords checked while the slots were busy", got)
	}
	// None of the refused attempts counted: the client still has all its attempts.
	for i := range auth.DefaultThrottleLimits.PerEmailClient {
		if _, err := s.Login(context.Background(), auth.LoginRequest{Email: u.Email, Password: "wrong guess", Client: client}); !errors.Is(err, apperr.ErrUnauthorized) {
			t.Fatalf("wrong password %d after the slots freed: %v, want 401", i, err)
		}
	}
	if _, err := s.Login(context.Background(), auth.LoginRequest{Email: u.Email, Password: testPassword, Client: client}); err == nil {
		t.Error("a login past the limit got in")
	}
}
