package testenv_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"github.com/storefront-operator/storefront/test/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func TestPostgresRoundTrip(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dbURL := testenv.PostgresURL(t)
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatalf("connecting to the throwaway database: %v", err)
	}
	defer func() { _ = conn.Close(ctx) }()

	if _, err := conn.Exec(ctx, `CREATE TABLE greeting (id serial PRIMARY KEY, body text NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	const body = `O'Brien; DROP TABLE greeting; --`
	var id int
	if err := conn.QueryRow(ctx, `INSERT INTO greeting (body) VALUES ($1) RETURNING id`, body).Scan(&id); err != nil {
		t.Fatal(err)
	}
	var got string
	if err := conn.QueryRow(ctx, `SELECT body FROM greeting WHERE id = $1`, id).Scan(&got); err != nil {
		t.Fatal(err)
	}
	if got != body {
		t.Errorf("read back %q, want %q", got, body)
	}
	var version string
	if err := conn.QueryRow(ctx, `SHOW server_version`).Scan(&version); err != nil {
		t.Fatal(err)
	}
	t.Logf("PostgreSQL %s at %s", version, dbURL)
}

func TestEachTestGetsItsOwnDatabase(t *testing.T) {
	a, b := testenv.PostgresURL(t), testenv.PostgresURL(t)
	if a == b {
		t.Fatalf("two calls returned the same database %s", a)
	}
}

func TestRedisRoundTrip(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	u := testenv.RedisURL(t)
	opts, err := redis.ParseURL(u)
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opts)
	defer func() { _ = c.Close() }()
	if err := c.Set(ctx, "greeting", "hello", time.Minute).Err(); err != nil {
		t.Fatalf("SET: %v", err)
	}
	got, err := c.Get(ctx, "greeting").Result()
	if err != nil || got != "hello" {
		t.Fatalf("GET = %q, %v; want hello", got, err)
	}

	// A second test database must not see the first one's keys.
	other, err := redis.ParseURL(testenv.RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	c2 := redis.NewClient(other)
	defer func() { _ = c2.Close() }()
	if n, err := c2.Exists(ctx, "greeting").Result(); err != nil || n != 0 {
		t.Errorf("second database sees the first's key: exists=%d err=%v", n, err)
	}
}

func TestACKCRDDirHoldsTheKindsTheOperatorUses(t *testing.T) {
	dir, real, err := testenv.ACKCRDDir()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("ACK CRDs from %s (real: %v)", dir, real)
	for _, f := range []string{
		"rds.services.k8s.aws_dbclusters.yaml",
		"rds.services.k8s.aws_dbinstances.yaml",
		"rds.services.k8s.aws_dbsubnetgroups.yaml",
		"elasticache.services.k8s.aws_serverlesscaches.yaml",
	} {
		if _, err := readFile(dir, f); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}
