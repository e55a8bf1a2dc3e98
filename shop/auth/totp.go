package auth

import (
	"context"
	"encoding/base32"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"
	"github.com/pquerna/otp/totp"

	"github.com/storefront-operator/storefront/shop/platform/apperr"
)

// TOTP parameters (RFC 6238): HMAC-SHA1, 6 digits, 30-second steps, the ones every
// authenticator app supports. A code of the previous or the next step is accepted too
// (clock drift between the phone and the shop), but each step at most once.
const (
	TOTPPeriod = 30
	// TOTPIssuer names the shop in the authenticator app.
	TOTPIssuer = "Storefront"
)

// TOTPEnrolment is a new secret to load into an authenticator app; it becomes the
// account's second factor once ConfirmTOTP gets a code of it.
type TOTPEnrolment struct {
	// Secret is the base32 secret, for typing in.
	Secret string `json:"secret"`
	// URI is the otpauth:// URI of the secret (what a QR code would carry).
	URI string `json:"uri"`
}

// TOTPStep is the RFC 6238 time step of t: T = floor(unix time / 30).
func TOTPStep(t time.Time) int64 { return t.Unix() / TOTPPeriod }

// TOTPCode is the code of secret for step (for tests and tools).
func TOTPCode(secret string, step int64) (string, error) {
	return hotp.GenerateCodeCustom(secret, uint64(step), hotp.ValidateOpts{Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
}

// matchTOTP returns the step whose code code is (now's, or one step either side), or
// false. The comparison is constant-time (hotp.ValidateCustom).
func matchTOTP(secret, code string, now time.Time) (int64, bool) {
	code = strings.TrimSpace(code)
	if len(code) != 6 {
		return 0, false
	}
	step := TOTPStep(now)
	for _, s := range []int64{step, step - 1, step + 1} {
		ok, err := hotp.ValidateCustom(code, uint64(s), secret, hotp.ValidateOpts{Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
		if err == nil && ok {
			return s, true
		}
	}
	return 0, false
}

// errBadCode refuses a wrong or replayed code alike, so the answer does not say that
// the code was right a moment ago.
var errBadCode = fmt.Errorf("the one-time code is wrong or was used already; wait for the next one: %w", apperr.ErrUnauthorized)

// useTOTP checks code against a's second factor and records its step, so that the same
// code (or an older one) is refused from then on.
// Codes are counted per account before they are checked, and the count forgotten after
// a right one (ThrottleLimits.TOTPPerAccount): concurrent guesses cannot all be checked.
func (s *Service) useTOTP(ctx context.Context, a Account, code string) error {
	if err := s.throttle.AdmitTOTP(ctx, a.ID); err != nil {
		return err
	}
	step, ok := matchTOTP(a.TOTPSecret, code, s.now())
	fresh := false
	if ok {
		var err error
		if fresh, err = s.store.UseTOTPStep(ctx, a.ID, step); err != nil {
			return err
		}
	}
	if !fresh {
		return errBadCode
	}
	return s.throttle.ResetTOTP(ctx, a.ID)
}

// errNeedsVerifiedSession refuses to a session opened without a code any change of an
// enrolled second factor: otherwise a session from before the enrolment (a stolen one,
// say) could read or confirm a new secret and get a verified session back.
var errNeedsVerifiedSession = fmt.Errorf("replacing the second factor needs a session opened with a code: sign in again with one: %w", apperr.ErrForbidden)

// BeginTOTP starts the enrolment of a TOTP second factor for the admin p: a new random
// secret (20 bytes, RFC 4226's recommendation), kept pending until ConfirmTOTP. Starting
// again replaces a pending secret; an enrolled factor stays in force until the new one
// is confirmed.
func (s *Service) BeginTOTP(ctx context.Context, p Principal) (TOTPEnrolment, error) {
	a, err := s.adminAccount(ctx, p)
	if err != nil {
		return TOTPEnrolment{}, err
	}
	if a.TOTPSecret != "" && !p.MFA {
		return TOTPEnrolment{}, errNeedsVerifiedSession
	}
	key, err := totpKey(a.Email, nil)
	if err != nil {
		return TOTPEnrolment{}, fmt.Errorf("generating a TOTP secret: %w", err)
	}
	if err := s.store.SetPendingTOTP(ctx, a.ID, key.Secret()); err != nil {
		return TOTPEnrolment{}, fmt.Errorf("keeping the TOTP secret: %w", err)
	}
	return TOTPEnrolment{Secret: key.Secret(), URI: key.URL()}, nil
}

// totpKey is the key of secret (a new random one when nil) for account.
func totpKey(account string, secret []byte) (*otp.Key, error) {
	return totp.Generate(totp.GenerateOpts{Issuer: TOTPIssuer, AccountName: account, Period: TOTPPeriod,
		SecretSize: 20, Secret: secret, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
}

// PendingTOTP returns the admin p's enrolment under way, or nil: the pages show it again
// after a wrong code. Once the account has a second factor, only a session opened with
// it sees the new secret.
func (s *Service) PendingTOTP(ctx context.Context, p Principal) (*TOTPEnrolment, error) {
	a, err := s.adminAccount(ctx, p)
	if err != nil {
		return nil, err
	}
	if a.TOTPSecret != "" && !p.MFA {
		return nil, errNeedsVerifiedSession
	}
	if a.TOTPPendingSecret == "" {
		return nil, nil
	}
	raw, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(a.TOTPPendingSecret)
	if err != nil {
		return nil, fmt.Errorf("reading the pending TOTP secret: %w", err)
	}
	key, err := totpKey(a.Email, raw)
	if err != nil {
		return nil, err
	}
	return &TOTPEnrolment{Secret: key.Secret(), URI: key.URL()}, nil
}

// ConfirmTOTP makes the pending secret the admin p's second factor once code is one of
// its codes, and returns a new session opened with it (MFA). Every session of the
// account opened before, p's included, is revoked on every replica: a session stolen
// with the password, or with the factor being replaced, is what a new factor answers.
// From now on login needs a code. A wrong code is a 422 on the code field. Replacing a
// second factor takes a session opened with it, as BeginTOTP does.
func (s *Service) ConfirmTOTP(ctx context.Context, p Principal, code string) (Session, error) {
	a, err := s.adminAccount(ctx, p)
	if err != nil {
		return Session{}, err
	}
	if a.TOTPSecret != "" && !p.MFA {
		return Session{}, errNeedsVerifiedSession
	}
	if a.TOTPPendingSecret == "" {
		return Session{}, fmt.Errorf("no enrolment is under way: start one first: %w", apperr.ErrConflict)
	}
	step, ok := matchTOTP(a.TOTPPendingSecret, code, s.now())
	if !ok {
		return Session{}, invalidField("code", "is not the current code of the secret shown; check the phone's clock and try the next code")
	}
	// replace: only a verified session may overwrite a factor, checked again in the
	// UPDATE in case one was enabled since the read above.
	// The same statement raises the account's session generation: the sessions opened
	// before stop working with the change, and this replica refuses them at once.
	gen, err := s.store.EnableTOTP(ctx, a.ID, a.sealedPending, step, p.MFA)
	if err != nil {
		return Session{}, fmt.Errorf("enabling the second factor: %w", err)
	}
	s.revoked.raise(a.ID, gen)
	// The generation revokes p's session too; its jti is revoked as well for the
	// replicas of the previous release that still run during a rollout and know no
	// generations.
	if err := s.Revoke(ctx, p); err != nil {
		return Session{}, err
	}
	return s.issueSession(a.User, true, gen)
}

// TOTPStatus says whether the admin p has a second factor and whether the shop
// requires one.
type TOTPStatus struct {
	Enabled  bool `json:"enabled"`
	Required bool `json:"required"`
	// SessionVerified: the caller's session was opened with a code.
	SessionVerified bool `json:"session_verified"`
}

// TOTPStatus returns p's second-factor state.
func (s *Service) TOTPStatus(ctx context.Context, p Principal) (TOTPStatus, error) {
	a, err := s.adminAccount(ctx, p)
	if err != nil {
		return TOTPStatus{}, err
	}
	return TOTPStatus{Enabled: a.TOTPSecret != "", Required: s.requireTOTP, SessionVerified: p.MFA}, nil
}

// adminAccount is p's account when p is (still) an admin.
func (s *Service) adminAccount(ctx context.Context, p Principal) (Account, error) {
	a, err := s.store.UserByID(ctx, p.UserID)
	if errors.Is(err, apperr.ErrNotFound) {
		return Account{}, fmt.Errorf("the account no longer exists: %w", apperr.ErrUnauthorized)
	}
	if err != nil {
		return Account{}, fmt.Errorf("user %d: %w", p.UserID, err)
	}
	if !p.IsAdmin() || a.Role != RoleAdmin {
		return Account{}, fmt.Errorf("admins only: %w", apperr.ErrForbidden)
	}
	return a, nil
}
