package auth

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/storefront-operator/storefront/shop/platform/apperr"
)

// Issuer is the iss claim of the shop's tokens.
const Issuer = "storefront-shop"

// DefaultTokenTTL is how long a session token is valid.
const DefaultTokenTTL = 24 * time.Hour

// clockSkew is how far apart the replicas' clocks may be when checking iat and exp.
const clockSkew = 5 * time.Second

// PrincipalKey is the one key under which the HTTP layers (the JSON API's bearer token,
// the pages' session cookie) keep the verified caller of a request: a *Principal.
const PrincipalKey = "shop.principal"

// Principal is the verified caller of a request: who, in which role, with which token.
type Principal struct {
	UserID int64
	Role   string
	// TokenID is the token's jti; logout revokes it.
	TokenID   string
	ExpiresAt time.Time
	// MFA: the session was opened with a TOTP code (login with totp_code, or the
	// confirmation of an enrolment).
	MFA bool
	// Generation is the account's session generation when the token was issued: once the
	// account's is higher (a second factor enabled, a password changed), the token is
	// refused (Revocations.SessionRevoked).
	Generation int64
}

// IsAdmin reports whether the token was issued to an admin.
func (p Principal) IsAdmin() bool { return p.Role == RoleAdmin }

// claims are the JWT claims: the registered ones (sub = user id, jti, iat, exp, iss), the
// role, whether the session was opened with a code, and the account's session generation
// (omitted when 0, as in tokens of releases before it).
type claims struct {
	Role string `json:"role"`
	MFA  bool   `json:"mfa,omitempty"`
	Gen  int64  `json:"gen,omitempty"`
	jwt.RegisteredClaims
}

// Tokens signs and checks HS256 JWTs with the shop's secret (JWT_SECRET). It knows
// nothing of revocation; Service adds that.
type Tokens struct {
	secret []byte
	ttl    time.Duration
	now    func() time.Time
}

// NewTokens returns a signer for secret whose tokens live ttl (DefaultTokenTTL when 0).
// now is the clock (time.Now when nil).
func NewTokens(secret string, ttl time.Duration, now func() time.Time) (*Tokens, error) {
	if secret == "" {
		return nil, errors.New("JWT_SECRET is empty")
	}
	if ttl <= 0 {
		ttl = DefaultTokenTTL
	}
	if now == nil {
		now = time.Now
	}
	return &Tokens{secret: []byte(secret), ttl: ttl, now: now}, nil
}

// Issue returns a signed token for the user with a new random jti, and its expiry. The
// token carries session generation 0: it is refused once the account's generation was
// ever raised (Service.IssueSession reads it).
func (t *Tokens) Issue(userID int64, role string) (string, Principal, error) {
	return t.issue(userID, role, false, 0)
}

// issue is Issue, with the mfa claim when the session was opened with a TOTP code, and
// the account's session generation gen.
func (t *Tokens) issue(userID int64, role string, mfa bool, gen int64) (string, Principal, error) {
	var id [16]byte
	if _, err := rand.Read(id[:]); err != nil {
		return "", Principal{}, fmt.Errorf("generating a token id: %w", err)
	}
	now := t.now().UTC().Truncate(time.Second)
	p := Principal{UserID: userID, Role: role, TokenID: base64.RawURLEncoding.EncodeToString(id[:]), ExpiresAt: now.Add(t.ttl), MFA: mfa, Generation: gen}
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, claims{
		Role: role,
		MFA:  mfa,
		Gen:  gen,
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    Issuer,
			Subject:   strconv.FormatInt(userID, 10),
			ID:        p.TokenID,
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(p.ExpiresAt),
		},
	})
	s, err := tok.SignedString(t.secret)
	if err != nil {
		return "", Principal{}, fmt.Errorf("signing a token: %w", err)
	}
	return s, p, nil
}

// Parse checks raw's signature (HS256 only: "none" and other algorithms are refused),
// issuer, issue time and expiry, and returns its principal. Every failure is
// apperr.ErrUnauthorized, without saying which check failed.
func (t *Tokens) Parse(raw string) (Principal, error) {
	var c claims
	_, err := jwt.ParseWithClaims(raw, &c, func(*jwt.Token) (any, error) { return t.secret, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithIssuer(Issuer),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(clockSkew),
		jwt.WithTimeFunc(t.now),
	)
	if err != nil {
		return Principal{}, fmt.Errorf("invalid token: %w", apperr.ErrUnauthorized)
	}
	id, err := strconv.ParseInt(c.Subject, 10, 64)
	if err != nil || id <= 0 || c.ID == "" || len(c.ID) > 100 || (c.Role != RoleCustomer && c.Role != RoleAdmin) || c.Gen < 0 {
		return Principal{}, fmt.Errorf("invalid token claims: %w", apperr.ErrUnauthorized)
	}
	return Principal{UserID: id, Role: c.Role, TokenID: c.ID, ExpiresAt: c.ExpiresAt.UTC(), MFA: c.MFA, Generation: c.Gen}, nil
}
