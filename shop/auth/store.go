package auth

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/storefront-operator/storefront/shop/platform/apperr"
)

// PGStore is the PostgreSQL implementation of Store.
type PGStore struct {
	pool *pgxpool.Pool
}

// NewPGStore returns a store over pool.
func NewPGStore(pool *pgxpool.Pool) *PGStore { return &PGStore{pool: pool} }

const (
	insertUserSQL  = `INSERT INTO users (email, name, password_hash, role) VALUES ($1, $2, $3, 'customer') RETURNING id`
	accountCols    = `id, email, name, role, password_hash, must_change_password, coalesce(totp_secret, ''), coalesce(totp_pending_secret, ''), session_generation`
	userByEmailSQL = `SELECT ` + accountCols + ` FROM users WHERE email = $1`
	userByIDSQL    = `SELECT ` + accountCols + ` FROM users WHERE id = $1`
	// The old hash in the WHERE makes a change token single-use and loses a race with a
	// concurrent change. Raising the session generation in the same statement revokes
	// the sessions opened before with the change, or not at all.
	setPasswordSQL = `UPDATE users SET password_hash = $3, must_change_password = false, session_generation = session_generation + 1
WHERE id = $1 AND password_hash = $2 RETURNING session_generation`
	setPendingTOTPSQL = `UPDATE users SET totp_pending_secret = $2 WHERE id = $1`
	enableTOTPSQL     = `UPDATE users SET totp_secret = totp_pending_secret, totp_pending_secret = NULL, totp_last_step = $3,
    session_generation = session_generation + 1
WHERE id = $1 AND totp_pending_secret = $2 AND (totp_secret IS NULL OR $4) RETURNING session_generation`
	// One statement checks and records the step, so two requests with the same code
	// cannot both pass.
	totpSecretsSQL = `SELECT id, coalesce(totp_secret, ''), coalesce(totp_pending_secret, '') FROM users
WHERE totp_secret IS NOT NULL OR totp_pending_secret IS NOT NULL`
	replaceTOTPSQL = `UPDATE users SET totp_secret = nullif($4, ''), totp_pending_secret = nullif($5, '')
WHERE id = $1 AND coalesce(totp_secret, '') = $2 AND coalesce(totp_pending_secret, '') = $3`
	useTOTPStepSQL = `UPDATE users SET totp_last_step = $2 WHERE id = $1 AND totp_secret IS NOT NULL AND totp_last_step < $2`
)

// CreateUser implements Store.
func (s *PGStore) CreateUser(ctx context.Context, email, name, passwordHash string) (int64, error) {
	var id int64
	err := s.pool.QueryRow(ctx, insertUserSQL, email, name, passwordHash).Scan(&id)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		return 0, fmt.Errorf("an account with this email already exists: %w", apperr.ErrConflict)
	}
	return id, err
}

// UserByEmail implements Store.
func (s *PGStore) UserByEmail(ctx context.Context, email string) (Account, error) {
	return s.account(ctx, userByEmailSQL, email)
}

// UserByID implements Store.
func (s *PGStore) UserByID(ctx context.Context, id int64) (Account, error) {
	return s.account(ctx, userByIDSQL, id)
}

func (s *PGStore) account(ctx context.Context, sql string, arg any) (Account, error) {
	var a Account
	err := s.pool.QueryRow(ctx, sql, arg).Scan(&a.ID, &a.Email, &a.Name, &a.Role, &a.PasswordHash,
		&a.MustChangePassword, &a.TOTPSecret, &a.TOTPPendingSecret, &a.SessionGeneration)
	if errors.Is(err, pgx.ErrNoRows) {
		return Account{}, apperr.ErrNotFound
	}
	return a, err
}

// SetPassword implements Store.
func (s *PGStore) SetPassword(ctx context.Context, id int64, oldHash, newHash string) (int64, error) {
	return s.returningOne(ctx, "the password was changed in the meantime", setPasswordSQL, id, oldHash, newHash)
}

// SetPendingTOTP implements Store.
func (s *PGStore) SetPendingTOTP(ctx context.Context, id int64, secret string) error {
	return s.exactlyOne(ctx, "the account no longer exists", setPendingTOTPSQL, id, secret)
}

// EnableTOTP implements Store.
func (s *PGStore) EnableTOTP(ctx context.Context, id int64, pending string, step int64, replace bool) (int64, error) {
	return s.returningOne(ctx, "a newer enrolment replaced this one; enter a code for the secret shown last", enableTOTPSQL, id, pending, step, replace)
}

// UseTOTPStep implements Store.
func (s *PGStore) UseTOTPStep(ctx context.Context, id int64, step int64) (bool, error) {
	tag, err := s.pool.Exec(ctx, useTOTPStepSQL, id, step)
	if err != nil {
		return false, fmt.Errorf("recording the one-time code: %w", err)
	}
	return tag.RowsAffected() == 1, nil
}

// exactlyOne runs an UPDATE that must change one row; none is apperr.ErrConflict with msg.
func (s *PGStore) exactlyOne(ctx context.Context, msg, sql string, args ...any) error {
	tag, err := s.pool.Exec(ctx, sql, args...)
	if err != nil {
		return err
	}
	if tag.RowsAffected() != 1 {
		return fmt.Errorf("%s: %w", msg, apperr.ErrConflict)
	}
	return nil
}

// returningOne runs an UPDATE … RETURNING of one integer that must change one row; none
// is apperr.ErrConflict with msg.
func (s *PGStore) returningOne(ctx context.Context, msg, sql string, args ...any) (int64, error) {
	var v int64
	err := s.pool.QueryRow(ctx, sql, args...).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, fmt.Errorf("%s: %w", msg, apperr.ErrConflict)
	}
	return v, err
}

// TOTPSecrets implements Store.
func (s *PGStore) TOTPSecrets(ctx context.Context) ([]StoredTOTP, error) {
	rows, err := s.pool.Query(ctx, totpSecretsSQL)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (StoredTOTP, error) {
		var t StoredTOTP
		err := r.Scan(&t.ID, &t.Secret, &t.Pending)
		return t, err
	})
}

// ReplaceTOTPSecrets implements Store.
func (s *PGStore) ReplaceTOTPSecrets(ctx context.Context, old, next StoredTOTP) error {
	return s.exactlyOne(ctx, "the second factor changed meanwhile", replaceTOTPSQL, old.ID, old.Secret, old.Pending, next.Secret, next.Pending)
}
