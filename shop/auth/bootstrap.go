// Package auth holds the shop's users: registration, login (bcrypt, throttled per email
// and per client address, unknown emails as slow as wrong passwords), session tokens
// (HS256 JWTs with a jti) and their revocation at logout, roles, and the admin
// bootstrap of `shop migrate` and `shop create-admin`.
//
// The JSON API sends the token as a bearer token; the pages keep the same token in an
// HttpOnly cookie and use the same Service: Login, Verify on every request, Revoke at
// logout.
package auth

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"golang.org/x/crypto/bcrypt"

	"github.com/storefront-operator/storefront/shop/platform/apperr"
)

// BcryptCost is the work factor of password hashes.
const BcryptCost = 12

// Password length limits: bcrypt reads at most 72 bytes.
const (
	MinPasswordLength = 10
	MaxPasswordBytes  = 72
)

// Roles of a user.
const (
	RoleCustomer = "customer"
	RoleAdmin    = "admin"
)

// HashPassword returns the bcrypt hash of password after checking its length.
func HashPassword(password string) (string, error) {
	if err := CheckPassword(password); err != nil {
		return "", err
	}
	h, err := bcrypt.GenerateFromPassword([]byte(password), BcryptCost)
	if err != nil {
		return "", fmt.Errorf("hashing password: %w", err)
	}
	return string(h), nil
}

// CheckPassword validates a new password's length.
func CheckPassword(password string) error {
	if utf8.RuneCountInString(password) < MinPasswordLength {
		return apperr.Invalid("password", fmt.Sprintf("must be at least %d characters", MinPasswordLength))
	}
	if len(password) > MaxPasswordBytes {
		return apperr.Invalid("password", fmt.Sprintf("must be at most %d bytes", MaxPasswordBytes))
	}
	return nil
}

// NormalizeEmail trims and lower-cases an email address after checking its form.
func NormalizeEmail(email string) (string, error) {
	e := strings.ToLower(strings.TrimSpace(email))
	a, err := mail.ParseAddress(e)
	if err != nil || a.Address != e || len(e) > 254 {
		return "", apperr.Invalid("email", "must be an email address")
	}
	return e, nil
}

// Querier is what the bootstrap needs of a connection or transaction.
type Querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

const (
	adminExistsSQL = `SELECT EXISTS (SELECT 1 FROM users WHERE role = 'admin')`
	insertAdminSQL = `INSERT INTO users (email, name, password_hash, role, must_change_password) VALUES ($1, $2, $3, 'admin', true)
ON CONFLICT (email) DO NOTHING`
	// create-admin is also the way back in for an admin who lost the password or the
	// phone: it sets the password, drops the second factor and revokes every session of
	// the account (whoever has the lost phone or password may hold one).
	upsertAdminSQL = `INSERT INTO users (email, name, password_hash, role) VALUES ($1, $2, $3, 'admin')
ON CONFLICT (email) DO UPDATE SET password_hash = EXCLUDED.password_hash, role = 'admin',
    must_change_password = false, totp_secret = NULL, totp_pending_secret = NULL,
    session_generation = users.session_generation + 1
RETURNING (xmax = 0)`
	bootstrapAdminHashSQL = `SELECT id, password_hash FROM users WHERE email = $1 AND role = 'admin' AND NOT must_change_password`
	mustChangeSQL         = `UPDATE users SET must_change_password = true WHERE id = $1 AND password_hash = $2`
)

// EnsureAdmin creates an admin with email and password when no admin exists yet (the
// bootstrap of `shop migrate`). It reports whether it created one. With no admin and an
// empty email or password it does nothing. Run it under the migration lock so that two
// processes cannot both create one.
//
// The password comes from a Secret that stays readable, so it only lets the admin
// choose a new one (must_change_password). An admin bootstrapped by an earlier release
// whose password is still the Secret's is put under the same rule.
func EnsureAdmin(ctx context.Context, q Querier, email, password string) (bool, error) {
	var exists bool
	if err := q.QueryRow(ctx, adminExistsSQL).Scan(&exists); err != nil {
		return false, fmt.Errorf("checking for an admin: %w", err)
	}
	if email == "" || password == "" {
		return false, nil
	}
	if exists {
		return false, expireBootstrapPassword(ctx, q, email, password)
	}
	e, err := NormalizeEmail(email)
	if err != nil {
		return false, fmt.Errorf("ADMIN_EMAIL: %w", err)
	}
	hash, err := HashPassword(password)
	if err != nil {
		return false, fmt.Errorf("ADMIN_PASSWORD: %w", err)
	}
	tag, err := q.Exec(ctx, insertAdminSQL, e, "Administrator", hash)
	if err != nil {
		return false, fmt.Errorf("creating the admin: %w", err)
	}
	if tag.RowsAffected() == 0 {
		// A customer already has this email: promoting them silently would hand a
		// stranger the shop, so refuse.
		return false, fmt.Errorf("ADMIN_EMAIL %s belongs to an existing customer: %w", e, apperr.ErrConflict)
	}
	return true, nil
}

// CreateAdmin creates an admin with email and password, or makes the existing user with
// that email an admin with this password and no second factor (`shop create-admin`, run
// by hand), revoking every session the existing user had on every replica. It reports
// whether the user was new.
func CreateAdmin(ctx context.Context, q Querier, email, password string) (bool, error) {
	e, err := NormalizeEmail(email)
	if err != nil {
		return false, err
	}
	hash, err := HashPassword(password)
	if err != nil {
		return false, err
	}
	var created bool
	if err := q.QueryRow(ctx, upsertAdminSQL, e, "Administrator", hash).Scan(&created); err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) {
			return false, fmt.Errorf("creating the admin: %s", pgErr.Message)
		}
		return false, fmt.Errorf("creating the admin: %w", err)
	}
	return created, nil
}

// expireBootstrapPassword sets must_change_password on the admin email when its
// password is still password (the Secret's).
func expireBootstrapPassword(ctx context.Context, q Querier, email, password string) error {
	var (
		id   int64
		hash string
	)
	err := q.QueryRow(ctx, bootstrapAdminHashSQL, strings.ToLower(strings.TrimSpace(email))).Scan(&id, &hash)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("looking up the bootstrap admin: %w", err)
	}
	if bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)) != nil {
		return nil
	}
	if _, err := q.Exec(ctx, mustChangeSQL, id, hash); err != nil {
		return fmt.Errorf("expiring the bootstrap admin's password: %w", err)
	}
	return nil
}
