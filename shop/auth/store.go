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
	userByEmailSQL = `SELECT id, email, name, role, password_hash FROM users WHERE email = $1`
	userByIDSQL    = `SELECT id, email, name, role FROM users WHERE id = $1`
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
func (s *PGStore) UserByEmail(ctx context.Context, email string) (User, string, error) {
	var (
		u    User
		hash string
	)
	err := s.pool.QueryRow(ctx, userByEmailSQL, email).Scan(&u.ID, &u.Email, &u.Name, &u.Role, &hash)
	if errors.Is(err, pgx.ErrNoRows) {
		return User{}, "", apperr.ErrNotFound
	}
	return u, hash, err
}

// UserByID implements Store.
func (s *PGStore) UserByID(ctx context.Context, id int64) (User, error) {
	var u User
	err := s.pool.QueryRow(ctx, userByIDSQL, id).Scan(&u.ID, &u.Email, &u.Name, &u.Role)
	if errors.Is(err, pgx.ErrNoRows) {
		return User{}, apperr.ErrNotFound
	}
	return u, err
}
