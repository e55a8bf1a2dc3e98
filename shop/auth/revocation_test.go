package auth_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/storefront-operator/storefront/shop/auth"
	"github.com/storefront-operator/storefront/shop/platform/database"
	"github.com/storefront-operator/storefront/test/shoptest"
	"github.com/storefront-operator/storefront/test/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func openPool(t *testing.T, dbURL string) *pgxpool.Pool {
	t.Helper()
	pool, err := database.Open(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// replica is one shop process's revocation list, with a pool of its own.
func replica(t *testing.T, dbURL string) (*auth.Revocations, *pgxpool.Pool) {
	t.Helper()
	pool := openPool(t, dbURL)
	r := auth.NewRevocations(pool, slog.New(slog.DiscardHandler))
	r.Start(context.Background())
	t.Cleanup(r.Close)
	waitFor(t, 5*time.Second, "the revocation list loads", r.Fresh)
	return r, pool
}

func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > within {
			t.Fatalf("not within %s: %s", within, what)
		}
		time.Sleep(5 * time.Millisecond) // polling interval, not synchronisation
	}
	return time.Since(start)
}

func revoked(t *testing.T, r *auth.Revocations, jti string) bool {
	t.Helper()
	v, err := r.IsRevoked(context.Background(), jti)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestRevocationReachesEveryReplicaWithinASecond: PostgreSQL is the source, each replica
// holds the set in memory and hears new revocations through LISTEN/NOTIFY.
func TestRevocationReachesEveryReplicaWithinASecond(t *testing.T) {
	ctx := context.Background()
	dbURL := shoptest.MigratedDatabase(t, false)
	user := createUser(t, dbURL)
	a, _ := replica(t, dbURL)
	b, bPool := replica(t, dbURL)

	if err := a.Revoke(ctx, "before-b-started", user, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	late, _ := replica(t, dbURL)
	if !revoked(t, late, "before-b-started") {
		t.Error("a replica started after a revocation does not know it")
	}

	if err := a.Revoke(ctx, "token-1", user, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if !revoked(t, a, "token-1") {
		t.Error("the revoking replica accepts the token")
	}
	took := waitFor(t, time.Second, "replica b refuses the revoked token", func() bool { return revoked(t, b, "token-1") })
	t.Logf("b refused the token %s after the revocation committed", took)

	// While fresh, a check is a map lookup: no statement.
	before := bPool.Stat().AcquireCount()
	for i := 0; i < 100; i++ {
		if revoked(t, b, "never-revoked") || !revoked(t, b, "token-1") {
			t.Fatal("wrong answer")
		}
	}
	if n := bPool.Stat().AcquireCount() - before; n != 0 {
		t.Errorf("200 checks acquired %d connections, want 0", n)
	}
}

// TestRevocationsFallBackToPostgreSQLWhenTheListenerDies: a listener cut off (here: its
// backend terminated) stops vouching for "not revoked" within MaxStaleness; checks then
// ask PostgreSQL until the listener is back.
func TestRevocationsFallBackToPostgreSQLWhenTheListenerDies(t *testing.T) {
	ctx := context.Background()
	dbURL := shoptest.MigratedDatabase(t, false)
	user := createUser(t, dbURL)
	a, _ := replica(t, dbURL)
	b, _ := replica(t, dbURL)
	admin := openPool(t, dbURL)

	// Terminate b's listener, and revoke while it is gone: the notification is lost.
	terminateListeners(t, admin)
	if err := a.Revoke(ctx, "while-b-was-deaf", user, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	took := waitFor(t, 2*time.Second, "b refuses the token revoked while its listener was down", func() bool {
		return revoked(t, b, "while-b-was-deaf")
	})
	if took > auth.DefaultMaxStaleness+200*time.Millisecond {
		t.Errorf("b accepted the revoked token for %s", took)
	}
	waitFor(t, 5*time.Second, "b's listener is back", b.Fresh)
	if !revoked(t, b, "while-b-was-deaf") {
		t.Error("b forgot the revocation after reconnecting")
	}
}

// terminateListeners terminates the backends of every replica's listener on the database
// (its last statement is a heartbeat, or one of its LISTENs or loads).
func terminateListeners(t *testing.T, admin *pgxpool.Pool) {
	t.Helper()
	var killed int
	if err := admin.QueryRow(context.Background(), `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = current_database() AND pid <> pg_backend_pid() AND (query LIKE 'LISTEN%' OR query = 'SELECT 1'
			OR query LIKE 'SELECT jti, expires_at FROM revoked_tokens%' OR query LIKE 'SELECT id, session_generation FROM users%')`).Scan(&killed); err != nil || killed == 0 {
		t.Fatalf("terminating the listeners: %d, %v", killed, err)
	}
}

func createUser(t *testing.T, dbURL string) int64 {
	t.Helper()
	var id int64
	if err := openPool(t, dbURL).QueryRow(context.Background(),
		`INSERT INTO users (email, name, password_hash, role) VALUES ('r@example.com', 'R', 'x', 'customer') RETURNING id`).Scan(&id); err != nil {
		t.Fatal(err)
	}
	return id
}
