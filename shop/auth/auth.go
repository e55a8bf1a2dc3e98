package auth

import (
	"context"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"

	"github.com/storefront-operator/storefront/shop/platform/apperr"
)

// User is an account as the API shows it.
type User struct {
	ID    int64  `json:"id"`
	Email string `json:"email"`
	Name  string `json:"name"`
	Role  string `json:"role"`
}

// Account is a user with what signing in checks.
type Account struct {
	User
	PasswordHash string
	// MustChangePassword: the password works only to choose a new one (the bootstrap
	// admin's generated password).
	MustChangePassword bool
	// TOTPSecret is the enrolled second factor ("" for none); TOTPPendingSecret an
	// enrolment not confirmed yet.
	TOTPSecret, TOTPPendingSecret string
	// SessionGeneration is what the account's new sessions carry; raising it revokes the
	// ones issued before (Revocations).
	SessionGeneration int64
	// sealedPending is TOTPPendingSecret as stored (sealed).
	sealedPending string
}

// StoredTOTP is one account's TOTP secrets as stored (sealed; "" for none).
type StoredTOTP struct {
	ID              int64
	Secret, Pending string
}

// Session is a signed-in user with their token.
type Session struct {
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
	User      User      `json:"user"`
}

// MaxNameLength bounds a user's name (characters).
const MaxNameLength = 200

// Observer is told about refused logins; *metrics.Metrics implements it.
type Observer interface {
	// LoginFailed is called with "credentials" or "throttled".
	LoginFailed(reason string)
}

// Options configure a Service.
type Options struct {
	// Secret signs the tokens (JWT_SECRET). Required.
	Secret string
	// TokenTTL is the token lifetime (DefaultTokenTTL when 0).
	TokenTTL time.Duration
	// PasswordCost is the bcrypt cost of new hashes (BcryptCost when 0).
	PasswordCost int
	// Throttle counts failed logins. Required.
	Throttle *Throttle
	// Revocations is where logouts are recorded. Required.
	Revocations *Revocations
	Observer    Observer
	// RequireTOTP makes a TOTP second factor mandatory for admins (ADMIN_REQUIRE_TOTP).
	RequireTOTP bool
	// TOTPKey seals the TOTP secrets at rest (TOTP_KEY, at least MinTOTPKeyLength
	// characters); when empty the key is derived from Secret, and that derived key
	// still opens what it sealed once TOTPKey is set. TOTPKeyPrevious
	// (TOTP_KEY_PREVIOUS) still opens secrets sealed before a rotation.
	TOTPKey, TOTPKeyPrevious string
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// BcryptConcurrency bounds the bcrypt operations (password checks and hashes) that
	// run at once in this process (runtime.GOMAXPROCS(0) when 0); BcryptWait is how long
	// a request waits for a turn (DefaultBcryptWait when 0) before it is refused with
	// 503 and Retry-After: 1.
	BcryptConcurrency int
	BcryptWait        time.Duration
}

// DefaultBcryptWait is how long a request waits for a bcrypt slot: a few comparisons'
// time at cost 12.
const DefaultBcryptWait = time.Second

// Service registers users, signs them in and out, and verifies their tokens. The JSON
// API and the pages (whose HttpOnly cookie carries the same token) both use it.
type Service struct {
	store     Store
	tokens    *Tokens
	revoked   *Revocations
	throttle  *Throttle
	cost      int
	dummyHash []byte
	observer  Observer
	// changeKey signs password-change tokens (derived from the secret).
	changeKey   []byte
	requireTOTP bool
	now         func() time.Time
	// bcryptSlots holds a token per bcrypt operation running (withBcrypt).
	bcryptSlots chan struct{}
	bcryptWait  time.Duration
}

// dummyHash12 is the bcrypt hash, at cost 12, of a random password nobody knows. Login
// compares the password with it when the email has no account, so that an unknown email
// costs the same bcrypt work as a wrong password and the response time does not tell
// which emails have accounts.
const dummyHash12 = "$2a$12$Smov77KM6sTOod/zz2KXp.Gq5SgidQZnfntJiB0bH6IQbcvKyGSpi"

// Store is the accounts' persistence, implemented by *PGStore.
type Store interface {
	// CreateUser adds a customer; a taken email is apperr.ErrConflict.
	CreateUser(ctx context.Context, email, name, passwordHash string) (int64, error)
	// UserByEmail returns the account with email; a missing one is apperr.ErrNotFound.
	UserByEmail(ctx context.Context, email string) (Account, error)
	// UserByID returns the account with id; a missing one is apperr.ErrNotFound.
	UserByID(ctx context.Context, id int64) (Account, error)
	// SetPassword replaces the hash oldHash of account id with newHash, clears
	// MustChangePassword and raises the session generation, which it returns;
	// apperr.ErrConflict when the hash is no longer oldHash.
	SetPassword(ctx context.Context, id int64, oldHash, newHash string) (int64, error)
	// SetPendingTOTP keeps secret as the account's enrolment under way.
	SetPendingTOTP(ctx context.Context, id int64, secret string) error
	// EnableTOTP makes the pending secret (still pending) the second factor, with step
	// used, replacing an enrolled one only when replace is set, and raises the session
	// generation, which it returns; apperr.ErrConflict when another enrolment replaced
	// the pending secret, or a factor is enrolled and replace is not set.
	EnableTOTP(ctx context.Context, id int64, pending string, step int64, replace bool) (int64, error)
	// UseTOTPStep records step as used when it is later than the last used one, and
	// reports whether it was.
	UseTOTPStep(ctx context.Context, id int64, step int64) (bool, error)
	// TOTPSecrets returns the stored secrets of every account that has one.
	TOTPSecrets(ctx context.Context) ([]StoredTOTP, error)
	// ReplaceTOTPSecrets stores next where old is still stored (a concurrent enrolment
	// wins: apperr.ErrConflict).
	ReplaceTOTPSecrets(ctx context.Context, old, next StoredTOTP) error
}

// NewService returns the auth service on store.
func NewService(store Store, o Options) (*Service, error) {
	tokens, err := NewTokens(o.Secret, o.TokenTTL, o.Now)
	if err != nil {
		return nil, err
	}
	if o.Revocations == nil || o.Throttle == nil {
		return nil, errors.New("auth: Options.Revocations and Options.Throttle are required")
	}
	changeKey, err := hkdf.Key(sha256.New, []byte(o.Secret), nil, "storefront auth password change v1", 32)
	if err != nil {
		return nil, fmt.Errorf("auth: deriving the password-change key: %w", err)
	}
	// Without TOTP_KEY (a shop run by hand) the secrets are sealed with a key derived
	// from the signing secret; with it, that derived key still opens what it sealed.
	derived, err := hkdf.Key(sha256.New, []byte(o.Secret), nil, "storefront totp key from jwt secret v1", 32)
	if err != nil {
		return nil, fmt.Errorf("auth: deriving the TOTP key: %w", err)
	}
	totpKey, previous := hex.EncodeToString(derived), []string{}
	if o.TOTPKey != "" {
		totpKey, previous = o.TOTPKey, []string{o.TOTPKeyPrevious, totpKey}
	}
	box, err := newTOTPBox(totpKey, previous...)
	if err != nil {
		return nil, err
	}
	store = sealedStore{Store: store, box: box}
	s := &Service{store: store, tokens: tokens, revoked: o.Revocations, throttle: o.Throttle,
		cost: o.PasswordCost, observer: o.Observer, dummyHash: []byte(dummyHash12),
		changeKey: changeKey, requireTOTP: o.RequireTOTP, now: o.Now, bcryptWait: o.BcryptWait}
	if s.now == nil {
		s.now = time.Now
	}
	if o.BcryptConcurrency <= 0 {
		o.BcryptConcurrency = runtime.GOMAXPROCS(0)
	}
	s.bcryptSlots = make(chan struct{}, o.BcryptConcurrency)
	if s.bcryptWait <= 0 {
		s.bcryptWait = DefaultBcryptWait
	}
	if s.cost == 0 {
		s.cost = BcryptCost
	}
	if s.cost != BcryptCost {
		// Only tests lower the cost; the dummy must cost what a real hash costs.
		s.dummyHash, err = bcrypt.GenerateFromPassword([]byte("no account has this password"), s.cost)
		if err != nil {
			return nil, fmt.Errorf("auth: %w", err)
		}
	}
	return s, nil
}

// Tokens returns the token signer (for tools and tests that mint tokens).
func (s *Service) Tokens() *Tokens { return s.tokens }

// RegisterRequest is what register needs.
type RegisterRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
	Name     string `json:"name"`
	// Client is the caller as httpserver.ClientKey names it, for throttling.
	Client string `json:"-"`
}

// Validate checks the request and returns it with the email normalised; failures are a
// 422 naming each field.
func (r RegisterRequest) Validate() (RegisterRequest, error) {
	var f apperr.Fields
	email, err := NormalizeEmail(r.Email)
	if err != nil {
		f.Add("email", "must be an email address such as ada@example.com")
	}
	if err := CheckPassword(r.Password); err != nil {
		var ve *apperr.ValidationError
		if errors.As(err, &ve) {
			f.Add("password", ve.Errors[0].Message)
		}
	}
	name := strings.TrimSpace(r.Name)
	f.Text("name", name, 1, MaxNameLength)
	return RegisterRequest{Email: email, Password: r.Password, Name: name, Client: r.Client}, f.Unprocessable()
}

// Register creates a customer account and signs it in. An email that already has an
// account is apperr.ErrConflict. Too many registrations from req.Client or at the shop
// are an *apperr.ThrottledError, refused before the password is hashed.
func (s *Service) Register(ctx context.Context, req RegisterRequest) (Session, error) {
	req, err := req.Validate()
	if err != nil {
		return Session{}, err
	}
	if err := s.throttle.AdmitRegistration(ctx, req.Client); err != nil {
		return Session{}, err
	}
	var hash []byte
	if berr := s.withBcrypt(ctx, func() { hash, err = bcrypt.GenerateFromPassword([]byte(req.Password), s.cost) }); berr != nil {
		return Session{}, berr
	}
	if err != nil {
		return Session{}, fmt.Errorf("hashing the password: %w", err)
	}
	u := User{Email: req.Email, Name: req.Name, Role: RoleCustomer}
	if u.ID, err = s.store.CreateUser(ctx, u.Email, u.Name, string(hash)); err != nil {
		return Session{}, fmt.Errorf("creating the account: %w", err)
	}
	// A new account's generation is 0.
	return s.issueSession(u, false, 0)
}

// LoginRequest is what login needs.
type LoginRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
	// TOTPCode is the current code of the account's second factor, when it has one.
	TOTPCode string `json:"totp_code,omitempty"`
	// Client is the caller as httpserver.ClientKey names it, for throttling.
	Client string `json:"-"`
}

// Login checks the credentials and returns a new session. Bad credentials (unknown email
// or wrong password, indistinguishable in answer and in time) are apperr.ErrUnauthorized.
// Each attempt is counted as a failure before the password is checked (given back when
// the password is right); a client with too many failures (for this email, or for any)
// gets an *apperr.ThrottledError before any password work; failures for the email from
// all clients only delay the attempt (ThrottleLimits), so the owner still gets in. When
// every bcrypt slot stays busy for BcryptWait the answer is errBcryptBusy (503).
//
// The right password of an account that must change it gets no session but an
// *apperr.PasswordChangeRequiredError (its token goes to ChangePassword). An account
// with a second factor needs TOTPCode too: without one, apperr.ErrTOTPRequired; a
// wrong or replayed one counts as a failed login.
func (s *Service) Login(ctx context.Context, req LoginRequest) (Session, error) {
	var f apperr.Fields
	if strings.TrimSpace(req.Email) == "" {
		f.Add("email", "is required")
	}
	if req.Password == "" {
		f.Add("password", "is required")
	}
	if err := f.Err(); err != nil {
		return Session{}, err
	}
	email := strings.ToLower(strings.TrimSpace(req.Email))
	if !utf8.ValidString(email) || strings.ContainsRune(email, 0) || len(email) > 254 {
		// Cannot be an account's email; still costs a comparison below.
		email = ""
	}
	// The attempt is counted as a failure now, before the password is checked, so that
	// concurrent attempts cannot all pass the limit (Throttle.AdmitLogin).
	delay, err := s.throttle.AdmitLogin(ctx, email, req.Client)
	if err != nil {
		var te *apperr.ThrottledError
		if errors.As(err, &te) {
			s.observe("throttled")
		}
		return Session{}, err
	}
	if delay > 0 {
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return Session{}, ctx.Err()
		}
	}
	var a Account
	err = apperr.ErrNotFound
	if email != "" {
		a, err = s.store.UserByEmail(ctx, email)
	}
	hash := s.dummyHash
	switch {
	case errors.Is(err, apperr.ErrNotFound):
	case err != nil:
		return Session{}, fmt.Errorf("looking up the account: %w", err)
	default:
		hash = []byte(a.PasswordHash)
	}
	if berr := s.withBcrypt(ctx, func() { err = bcrypt.CompareHashAndPassword(hash, []byte(req.Password)) }); berr != nil {
		// Not checked, so no failure: give the attempt back.
		s.observe("throttled")
		return Session{}, s.releaseLogin(ctx, email, req.Client, berr)
	}
	if err != nil || a.ID == 0 {
		s.observe("credentials")
		return Session{}, fmt.Errorf("wrong email or password: %w", apperr.ErrUnauthorized)
	}
	if a.MustChangePassword {
		tok, exp := s.newChangeToken(a)
		return Session{}, s.releaseLogin(ctx, email, req.Client, &apperr.PasswordChangeRequiredError{Token: tok, ExpiresAt: exp})
	}
	mfa := a.TOTPSecret != ""
	if mfa {
		if strings.TrimSpace(req.TOTPCode) == "" {
			return Session{}, s.releaseLogin(ctx, email, req.Client, apperr.ErrTOTPRequired)
		}
		if err := s.useTOTP(ctx, a, req.TOTPCode); err != nil {
			if !errors.Is(err, apperr.ErrUnauthorized) {
				// Throttled (or failed) before the code was checked: the right password
				// is no failure.
				return Session{}, s.releaseLogin(ctx, email, req.Client, err)
			}
			// A wrong code stays a failed login.
			s.observe("credentials")
			return Session{}, err
		}
	}
	if err := s.throttle.ResetLogin(ctx, email, req.Client); err != nil {
		return Session{}, err
	}
	// The generation read with the password: if a change raised it since, this session
	// is refused like the others it revoked.
	return s.issueSession(a.User, mfa, a.SessionGeneration)
}

// releaseLogin gives back the attempt Login counted, and returns answer (or the
// throttle's error).
func (s *Service) releaseLogin(ctx context.Context, email, client string, answer error) error {
	if err := s.throttle.ReleaseLogin(context.WithoutCancel(ctx), email, client); err != nil {
		return err
	}
	return answer
}

// errBcryptBusy refuses a request that waited BcryptWait for a turn to hash or compare a
// password: 503 with Retry-After: 1 (apperr.ErrTimedOut), nothing was done.
var errBcryptBusy = fmt.Errorf("the shop is checking too many passwords at once; retry in a moment: %w", apperr.ErrTimedOut)

// withBcrypt runs fn, a bcrypt operation, when one of the process's bcrypt slots is
// free: each takes a core for hundreds of milliseconds, so a flood of logins (distinct
// emails from many addresses, which no per-client limit stops) must not take every
// core from the other requests. It waits at most BcryptWait for a slot (errBcryptBusy).
func (s *Service) withBcrypt(ctx context.Context, fn func()) error {
	select {
	case s.bcryptSlots <- struct{}{}:
	default:
		t := time.NewTimer(s.bcryptWait)
		defer t.Stop()
		select {
		case s.bcryptSlots <- struct{}{}:
		case <-t.C:
			return errBcryptBusy
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	defer func() { <-s.bcryptSlots }()
	fn()
	return nil
}

func (s *Service) observe(reason string) {
	if s.observer != nil {
		s.observer.LoginFailed(reason)
	}
}

// IssueSession signs a new token for u, opened without a code, at the account's current
// session generation (tools and tests that need a session without a login).
func (s *Service) IssueSession(ctx context.Context, u User) (Session, error) {
	a, err := s.store.UserByID(ctx, u.ID)
	if err != nil {
		return Session{}, fmt.Errorf("user %d: %w", u.ID, err)
	}
	return s.issueSession(u, false, a.SessionGeneration)
}

// issueSession signs a new token for u, marking the session as opened with a TOTP code
// (mfa), at the account's session generation gen.
func (s *Service) issueSession(u User, mfa bool, gen int64) (Session, error) {
	tok, p, err := s.tokens.issue(u.ID, u.Role, mfa, gen)
	if err != nil {
		return Session{}, err
	}
	return Session{Token: tok, ExpiresAt: p.ExpiresAt, User: u}, nil
}

// Verify checks a token (signature, algorithm, issuer, expiry) and that it was not
// revoked, by a logout or by a change that revoked every session of the account before
// it (Revocations.SessionRevoked), and returns its principal. Every refusal is
// apperr.ErrUnauthorized.
func (s *Service) Verify(ctx context.Context, token string) (Principal, error) {
	p, err := s.tokens.Parse(token)
	if err != nil {
		return Principal{}, err
	}
	revoked, err := s.revoked.SessionRevoked(ctx, p)
	if err != nil {
		return Principal{}, fmt.Errorf("checking token revocation: %w", err)
	}
	if revoked {
		return Principal{}, fmt.Errorf("token revoked: %w", apperr.ErrUnauthorized)
	}
	return p, nil
}

// Revoke makes p's token stop working on every replica until it would have expired
// (logout).
func (s *Service) Revoke(ctx context.Context, p Principal) error {
	if err := s.revoked.Revoke(ctx, p.TokenID, p.UserID, p.ExpiresAt); err != nil {
		return fmt.Errorf("revoking the token: %w", err)
	}
	return nil
}

// User returns the account with id; a missing one is apperr.ErrNotFound.
func (s *Service) User(ctx context.Context, id int64) (User, error) {
	a, err := s.store.UserByID(ctx, id)
	if err != nil {
		return User{}, fmt.Errorf("user %d: %w", id, err)
	}
	return a.User, nil
}

// ErrTOTPEnrolmentNeeded refuses the admin pages and API to an admin whose session was
// not opened with a TOTP code while one is required (see RequireAdmin).
var ErrTOTPEnrolmentNeeded = fmt.Errorf("admins need a TOTP second factor here: enrol one (POST /api/v1/admin/totp, or the admin pages' Second factor page) or sign in again with your code: %w", apperr.ErrForbidden)

// RequireAdmin checks, against the database rather than the token, that p is still an
// admin: a demoted admin loses the admin API at once, not when the token expires.
// Non-admins are apperr.ErrForbidden. An admin with a second factor (or any admin, with
// RequireTOTP) needs a session opened with a code (ErrTOTPEnrolmentNeeded): a session
// from before the enrolment no longer opens the admin pages.
func (s *Service) RequireAdmin(ctx context.Context, p Principal) error {
	a, err := s.adminAccount(ctx, p)
	if err != nil {
		return err
	}
	if (s.requireTOTP || a.TOTPSecret != "") && !p.MFA {
		return ErrTOTPEnrolmentNeeded
	}
	return nil
}
