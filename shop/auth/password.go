package auth

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/storefront-operator/storefront/shop/platform/apperr"
)

// PasswordChangeTTL is how long a password-change token (login's answer for an account
// that must replace its password) stays valid.
const PasswordChangeTTL = 10 * time.Minute

// PasswordChangeRequest is the first sign-in's password change: the token of the login
// that found the password must be changed, and the new password.
type PasswordChangeRequest struct {
	Token       string `json:"change_token"`
	NewPassword string `json:"new_password"`
	// TOTPCode is needed when the account has a second factor.
	TOTPCode string `json:"totp_code,omitempty"`
}

// errBadChangeToken refuses an unknown, expired or used change token.
var errBadChangeToken = fmt.Errorf("the password-change token is invalid, expired or used; sign in again with the current password: %w", apperr.ErrUnauthorized)

// ChangePassword replaces the password of an account that must change it (the bootstrap
// admin) and signs it in. The old password stops working at once, and so does every
// session opened before (on every replica, Revocations); the token works once, because
// it is bound to the old password's hash.
func (s *Service) ChangePassword(ctx context.Context, req PasswordChangeRequest) (Session, error) {
	if err := CheckPassword(req.NewPassword); err != nil {
		return Session{}, unprocessable(err, "new_password")
	}
	id, ok := s.parseChangeToken(req.Token)
	if !ok {
		return Session{}, errBadChangeToken
	}
	a, err := s.store.UserByID(ctx, id)
	if errors.Is(err, apperr.ErrNotFound) {
		return Session{}, errBadChangeToken
	}
	if err != nil {
		return Session{}, fmt.Errorf("user %d: %w", id, err)
	}
	if !a.MustChangePassword || !hmac.Equal([]byte(req.Token), []byte(s.changeToken(a, s.changeExpiry(req.Token)))) {
		return Session{}, errBadChangeToken
	}
	if err := s.throttle.AdmitPasswordChange(ctx, a.ID); err != nil {
		return Session{}, err
	}
	var same bool
	if err := s.withBcrypt(ctx, func() { same = bcrypt.CompareHashAndPassword([]byte(a.PasswordHash), []byte(req.NewPassword)) == nil }); err != nil {
		return Session{}, err
	}
	if same {
		return Session{}, invalidField("new_password", "must differ from the password it replaces")
	}
	mfa := a.TOTPSecret != ""
	if mfa {
		if req.TOTPCode == "" {
			return Session{}, apperr.ErrTOTPRequired
		}
		if err := s.useTOTP(ctx, a, req.TOTPCode); err != nil {
			return Session{}, err
		}
	}
	var hash []byte
	if berr := s.withBcrypt(ctx, func() { hash, err = bcrypt.GenerateFromPassword([]byte(req.NewPassword), s.cost) }); berr != nil {
		return Session{}, berr
	}
	if err != nil {
		return Session{}, fmt.Errorf("hashing the password: %w", err)
	}
	gen, err := s.store.SetPassword(ctx, a.ID, a.PasswordHash, string(hash))
	if err != nil {
		if errors.Is(err, apperr.ErrConflict) {
			return Session{}, errBadChangeToken
		}
		return Session{}, fmt.Errorf("changing the password: %w", err)
	}
	s.revoked.raise(a.ID, gen)
	return s.issueSession(a.User, mfa, gen)
}

// invalidField is a 422 naming field.
func invalidField(field, msg string) error {
	var f apperr.Fields
	f.Add(field, msg)
	return f.Unprocessable()
}

// unprocessable turns CheckPassword's error into a 422 on field.
func unprocessable(err error, field string) error {
	var ve *apperr.ValidationError
	if errors.As(err, &ve) {
		var f apperr.Fields
		f.Add(field, ve.Errors[0].Message)
		return f.Unprocessable()
	}
	return err
}

// changeToken is "<user id>.<expiry>.<mac>" in base64url: an HMAC, under a key of its own,
// of the account, the expiry and the current password hash, so the token dies when the
// password changes.
func (s *Service) changeToken(a Account, exp int64) string {
	var payload [16]byte
	binary.BigEndian.PutUint64(payload[:8], uint64(a.ID))
	binary.BigEndian.PutUint64(payload[8:], uint64(exp))
	m := hmac.New(sha256.New, s.changeKey)
	m.Write(payload[:])
	m.Write([]byte(a.PasswordHash))
	return base64.RawURLEncoding.EncodeToString(payload[:]) + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func (s *Service) newChangeToken(a Account) (string, time.Time) {
	exp := s.now().Add(PasswordChangeTTL).Truncate(time.Second)
	return s.changeToken(a, exp.Unix()), exp
}

// parseChangeToken returns the account id of an unexpired, well-formed token (its MAC
// is checked against the account by the caller).
func (s *Service) parseChangeToken(tok string) (int64, bool) {
	payload, ok := changePayload(tok)
	if !ok {
		return 0, false
	}
	id := int64(binary.BigEndian.Uint64(payload[:8]))
	exp := int64(binary.BigEndian.Uint64(payload[8:]))
	return id, id > 0 && s.now().Unix() < exp
}

func (s *Service) changeExpiry(tok string) int64 {
	payload, _ := changePayload(tok)
	return int64(binary.BigEndian.Uint64(payload[8:]))
}

func changePayload(tok string) ([]byte, bool) {
	if len(tok) > 200 {
		return make([]byte, 16), false
	}
	raw, _, _ := strings.Cut(tok, ".")
	payload, err := base64.RawURLEncoding.DecodeString(raw)
	if err != nil || len(payload) != 16 {
		return make([]byte, 16), false
	}
	return payload, true
}
