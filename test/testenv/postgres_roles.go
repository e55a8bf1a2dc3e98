package testenv

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// MasterRole is shaped like RDS's master user, which migrates the shop's database: it
// may log in, create databases and roles, and is not a superuser (RDS's is a member of
// rds_superuser, itself no superuser; this one has even less). MasterPassword is its
// password, for servers that ask for one.
const (
	MasterRole     = "rds_like_master"
	MasterPassword = "rds-like-master-test-password"
)

// EnsureMasterRole creates MasterRole on the server at adminURL (a superuser's) unless
// it exists. Test binaries create it at the same time, so "already exists" is success.
func EnsureMasterRole(ctx context.Context, adminURL string) error {
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return fmt.Errorf("connecting to %s: %w", redactURL(adminURL), err)
	}
	defer func() { _ = conn.Close(ctx) }()
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)`, MasterRole).Scan(&exists); err != nil {
		return err
	}
	if exists {
		return nil
	}
	_, err = conn.Exec(ctx, "CREATE ROLE "+pgx.Identifier{MasterRole}.Sanitize()+
		" LOGIN CREATEDB CREATEROLE NOSUPERUSER PASSWORD '"+MasterPassword+"'")
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && (pgErr.Code == "42710" || pgErr.Code == "23505") {
		return nil
	}
	return err
}

// MasterDatabase creates a database owned by MasterRole on the server at adminURL, as
// RDS makes the cluster's database owned by its master user, and returns the URL that
// connects to it as MasterRole. The database is dropped when t ends.
func MasterDatabase(t testing.TB, adminURL string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := EnsureMasterRole(ctx, adminURL); err != nil {
		t.Fatalf("testenv: creating %s: %v", MasterRole, err)
	}
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	defer func() { _ = conn.Close(ctx) }()
	name := "t_" + randomHex(8)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()+" OWNER "+pgx.Identifier{MasterRole}.Sanitize()); err != nil {
		t.Fatalf("testenv: creating database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := dropDatabase(ctx, adminURL, name); err != nil {
			t.Logf("testenv: dropping database %s: %v", name, err)
		}
	})
	u, err := url.Parse(adminURL)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	u.Path = "/" + name
	return WithUser(u.String(), MasterRole, MasterPassword)
}

// PostgresMasterURL is MasterDatabase on the shared test server.
func PostgresMasterURL(t testing.TB) string {
	t.Helper()
	return MasterDatabase(t, PostgresAdminURL(t))
}

// WithUser is dbURL, the same database, with another user and password.
func WithUser(dbURL, user, password string) string {
	u, err := url.Parse(dbURL)
	if err != nil {
		panic(err) // our own URLs
	}
	u.User = url.UserPassword(user, password)
	return u.String()
}

// RequirePasswords makes the server ask for a SCRAM password from every role connecting
// over TCP but the superuser `postgres` and the roles in trusted, as a managed database
// does: pg_hba.conf is rewritten and the configuration reloaded. It returns once new
// connections are checked that way.
func (p *Postgres) RequirePasswords(ctx context.Context, trusted ...string) error {
	conn, err := pgx.Connect(ctx, p.URL)
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close(ctx) }()
	var hbaFile string
	if err := conn.QueryRow(ctx, `SHOW hba_file`).Scan(&hbaFile); err != nil {
		return err
	}
	var b strings.Builder
	b.WriteString("local all all trust\n")
	for _, role := range append([]string{"postgres"}, trusted...) {
		fmt.Fprintf(&b, "host all %s 127.0.0.1/32 trust\n", role)
	}
	b.WriteString("host all all 127.0.0.1/32 scram-sha-256\n")
	if err := os.WriteFile(hbaFile, []byte(b.String()), 0o600); err != nil {
		return fmt.Errorf("writing %s: %w", hbaFile, err)
	}
	// A role without a password can log in only while the old rules apply.
	const probe = "testenv_password_probe"
	if _, err := conn.Exec(ctx, "DROP ROLE IF EXISTS "+probe); err != nil {
		return err
	}
	if _, err := conn.Exec(ctx, "CREATE ROLE "+probe+" LOGIN"); err != nil {
		return err
	}
	if _, err := conn.Exec(ctx, `SELECT pg_reload_conf()`); err != nil {
		return err
	}
	probeURL := WithUser(p.URL, probe, "")
	return pollUntil(ctx, 10*time.Second, "the server to ask for passwords", func() bool {
		c, err := pgx.Connect(ctx, probeURL)
		if err == nil {
			_ = c.Close(ctx)
			return false
		}
		var pgErr *pgconn.PgError
		return errors.As(err, &pgErr) && pgErr.Code == "28P01"
	})
}

// Configure sets server parameters with ALTER SYSTEM and reloads the configuration,
// returning once a new session sees every value (parameters that need a restart are
// refused).
func (p *Postgres) Configure(ctx context.Context, settings map[string]string) error {
	conn, err := pgx.Connect(ctx, p.URL)
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close(ctx) }()
	for name, value := range settings {
		if _, err := conn.Exec(ctx, fmt.Sprintf("ALTER SYSTEM SET %s = '%s'", pgx.Identifier{name}.Sanitize(), strings.ReplaceAll(value, "'", "''"))); err != nil {
			return err
		}
	}
	if _, err := conn.Exec(ctx, `SELECT pg_reload_conf()`); err != nil {
		return err
	}
	return pollUntil(ctx, 10*time.Second, "the new settings", func() bool {
		c, err := pgx.Connect(ctx, p.URL)
		if err != nil {
			return false
		}
		defer func() { _ = c.Close(ctx) }()
		for name, value := range settings {
			var got string
			if err := c.QueryRow(ctx, `SELECT current_setting($1)`, name).Scan(&got); err != nil || got != value {
				return false
			}
		}
		return true
	})
}

// Log returns what the server wrote to its log so far.
func (p *Postgres) Log() (string, error) {
	b, err := os.ReadFile(p.logPath)
	return string(b), err
}

func pollUntil(ctx context.Context, timeout time.Duration, what string, done func() bool) error {
	deadline := time.Now().Add(timeout)
	for !done() {
		if time.Now().After(deadline) {
			return fmt.Errorf("waited %s for %s", timeout, what)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond): // polling the server, not synchronising tests
		}
	}
	return nil
}
