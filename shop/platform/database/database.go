// Package database opens the shop's PostgreSQL pool and applies its schema migrations.
//
// Migrations are the versioned SQL files in migrations/ (embedded), applied by goose under
// a PostgreSQL session advisory lock, so two `shop migrate` processes starting together
// apply each migration once: the second waits for the first and then finds nothing to do.
// Every migration is expand/contract-safe (see migrations/00001_catalog.sql).
package database

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/storefront-operator/storefront/shop/platform/apperr"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// extraMigrations are Go migrations added by build tags (see badmigration.go).
var extraMigrations []*goose.Migration

// MigrationLockID is the advisory lock key that serialises migrate runs (and the
// bootstrap steps that follow them) across processes.
const MigrationLockID int64 = 0x73686f702d6d6967 // "shop-mig"

// defaultConnectTimeout bounds connecting when DATABASE_URL sets no connect_timeout, so an
// unreachable database fails fast with a clear error instead of hanging.
const defaultConnectTimeout = 5 * time.Second

// ParseURL parses DATABASE_URL into a pool configuration. TLS settings (sslmode,
// sslrootcert) come from the URL; the trust store is the system's.
func ParseURL(databaseURL string) (*pgxpool.Config, error) {
	cfg, err := pgxpool.ParseConfig(databaseURL)
	if err != nil {
		// pgx's parse errors may quote the URL, password included: say only what failed.
		return nil, errors.New("DATABASE_URL cannot be parsed as a PostgreSQL URL")
	}
	if !strings.Contains(databaseURL, "connect_timeout") {
		cfg.ConnConfig.ConnectTimeout = defaultConnectTimeout
	}
	// Plan every execution with its values. The catalog's generic plans are much worse
	// than custom ones: a price range's selectivity is unknown without its values (the
	// planner then ANDs the price index into every search), and so is a full-text
	// query's; planning costs about 0.3 ms, a bad generic plan several. The search's pool,
	// whose statements have one good plan whatever the values, overrides it
	// (search.ConfigurePool).
	if _, ok := cfg.ConnConfig.RuntimeParams["plan_cache_mode"]; !ok {
		cfg.ConnConfig.RuntimeParams["plan_cache_mode"] = "force_custom_plan"
	}
	return cfg, nil
}

// Open connects a pool to databaseURL and checks that the database answers.
func Open(ctx context.Context, databaseURL string) (*pgxpool.Pool, error) {
	cfg, err := ParseURL(databaseURL)
	if err != nil {
		return nil, err
	}
	return OpenConfig(ctx, cfg)
}

// OpenConfig connects a pool configured by ParseURL (and adjusted by the caller, e.g.
// with a tracer) and checks that the database answers.
func OpenConfig(ctx context.Context, cfg *pgxpool.Config) (*pgxpool.Pool, error) {
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("opening database pool: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connecting to database %s: %w", describe(cfg.ConnConfig), Unwrap(err))
	}
	return pool, nil
}

// describe names the database without credentials: host:port/dbname.
func describe(c *pgx.ConnConfig) string {
	return fmt.Sprintf("%s:%d/%s", c.Host, c.Port, c.Database)
}

// StatementTimeoutSQLState and the message's end tell a statement cancelled at its
// statement_timeout from one cancelled by its context (the same SQLSTATE, 57014).
const StatementTimeoutSQLState = "57014"

// IsStatementTimeout reports whether err is PostgreSQL's cancellation of a statement at
// its statement_timeout.
func IsStatementTimeout(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == StatementTimeoutSQLState && strings.HasSuffix(pgErr.Message, "statement timeout")
}

// Timeout returns err wrapped in apperr.ErrTimedOut when it is a statement timeout (503
// for the caller, not a logged internal error), otherwise err.
func Timeout(err error) error {
	if IsStatementTimeout(err) {
		return fmt.Errorf("%w (statement_timeout)", apperr.ErrTimedOut)
	}
	return err
}

// Unwrap shortens pgx's connect errors, which repeat the host once per address tried, to
// their cause: the server's message, or the network error.
func Unwrap(err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return fmt.Errorf("%s (SQLSTATE %s)", pgErr.Message, pgErr.Code)
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return dnsErr
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) {
		return opErr
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		if inner := errors.Unwrap(ce); inner != nil {
			return inner
		}
	}
	return err
}

// Migrations returns the embedded migration files.
func Migrations() fs.FS {
	sub, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		panic(err) // the embed pattern guarantees the directory
	}
	return sub
}

// Migrate applies every pending migration to the database at databaseURL under the
// migration advisory lock and returns the versions it applied.
func Migrate(ctx context.Context, databaseURL string, logger *slog.Logger) ([]int64, error) {
	cfg, err := ParseURL(databaseURL)
	if err != nil {
		return nil, err
	}
	db := stdlib.OpenDB(*cfg.ConnConfig)
	defer func() { _ = db.Close() }()
	if err := db.PingContext(ctx); err != nil {
		return nil, fmt.Errorf("connecting to database %s: %w", describe(cfg.ConnConfig), Unwrap(err))
	}
	// Poll for the lock every second for up to 10 minutes (the migration Job's deadline):
	// a concurrent migrate holds it only while it works.
	locker, err := lock.NewPostgresSessionLocker(lock.WithLockID(MigrationLockID), lock.WithLockTimeout(1, 600))
	if err != nil {
		return nil, fmt.Errorf("creating migration lock: %w", err)
	}
	opts := []goose.ProviderOption{goose.WithSessionLocker(locker), goose.WithDisableGlobalRegistry(true)}
	if logger != nil {
		opts = append(opts, goose.WithSlog(logger))
	}
	if len(extraMigrations) > 0 {
		opts = append(opts, goose.WithGoMigrations(extraMigrations...))
	}
	provider, err := goose.NewProvider(goose.DialectPostgres, db, Migrations(), opts...)
	if err != nil {
		return nil, fmt.Errorf("loading migrations: %w", err)
	}
	results, err := provider.Up(ctx)
	var applied []int64
	for _, r := range results {
		applied = append(applied, r.Source.Version)
	}
	var partial *goose.PartialError
	if errors.As(err, &partial) {
		return applied, fmt.Errorf("migration %d (%s) failed: %w", partial.Failed.Source.Version,
			baseName(partial.Failed.Source.Path), partial.Err)
	}
	if err != nil {
		return applied, fmt.Errorf("applying migrations: %w", err)
	}
	return applied, nil
}

func baseName(p string) string {
	if p == "" {
		return "go migration"
	}
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[i+1:]
	}
	return p
}

// WithAdvisoryLock runs fn in a transaction that holds the migration advisory lock, so the
// steps after the migrations (admin bootstrap, demo seed) are serialised across processes
// too.
func WithAdvisoryLock(ctx context.Context, pool *pgxpool.Pool, fn func(pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, MigrationLockID); err != nil {
			return fmt.Errorf("taking the migration lock: %w", err)
		}
		return fn(tx)
	})
}

// SchemaReady reports whether the migrations have created the catalog, for the
// subcommands that need it (seed, create-admin) to fail with a helpful message.
func SchemaReady(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}) error {
	var ok bool
	if err := q.QueryRow(ctx, `SELECT to_regclass('products') IS NOT NULL AND to_regclass('users') IS NOT NULL`).Scan(&ok); err != nil {
		return fmt.Errorf("checking the schema: %w", err)
	}
	if !ok {
		return errors.New("the schema is not migrated: run `shop migrate` first")
	}
	return nil
}
