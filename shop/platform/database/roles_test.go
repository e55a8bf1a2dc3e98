package database_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/storefront-operator/storefront/shop/platform/database"
	"github.com/storefront-operator/storefront/test/testenv"
)

var (
	pwOnce   sync.Once
	pwServer *testenv.Postgres
	pwErr    error
)

// passwordServer is a server of this package's own that asks the application roles for
// a SCRAM password, as RDS does (the shared test server trusts everyone), and logs every
// statement, so that a test can look for a password in what the server saw. The tests
// that use it change roles every database of it shares: they do not run in parallel.
func passwordServer(t *testing.T) *testenv.Postgres {
	t.Helper()
	pwOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if pwServer, pwErr = testenv.StartPostgres(ctx); pwErr != nil {
			return
		}
		// The master role first, so that its own password is set before logging starts.
		if pwErr = testenv.EnsureMasterRole(ctx, pwServer.URL); pwErr != nil {
			return
		}
		if pwErr = pwServer.RequirePasswords(ctx, testenv.MasterRole); pwErr != nil {
			return
		}
		pwErr = pwServer.Configure(ctx, map[string]string{"log_statement": "all"})
	})
	if pwErr != nil {
		t.Fatalf("starting the password server: %v", pwErr)
	}
	return pwServer
}

func stopPasswordServer() {
	if pwServer != nil {
		pwServer.Stop()
	}
}

// shopDatabase is a migrated database owned by the RDS-like master on srv, and a pool
// connected as the master.
func shopDatabase(t *testing.T, adminURL string) (masterURL string, pool *pgxpool.Pool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	masterURL = testenv.MasterDatabase(t, adminURL)
	if _, err := database.Migrate(ctx, masterURL, nil); err != nil {
		t.Fatalf("migrating as %s: %v", testenv.MasterRole, err)
	}
	pool, err := database.Open(ctx, masterURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return masterURL, pool
}

// as is dbURL with another user and password.
func as(dbURL, user, password string) string { return testenv.WithUser(dbURL, user, password) }

func newPassword(prefix string) string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return prefix + "-" + hex.EncodeToString(b)
}

func sqlstate(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code
	}
	return ""
}

// login connects as the URL's user, returning the error of a refused login.
func login(t *testing.T, dbURL string) (*pgx.Conn, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dbURL)
	if err == nil {
		t.Cleanup(func() { _ = conn.Close(context.Background()) })
	}
	return conn, err
}

func mustLogin(t *testing.T, dbURL string) *pgx.Conn {
	t.Helper()
	conn, err := login(t, dbURL)
	if err != nil {
		t.Fatalf("logging in as %s: %v", userOf(dbURL), err)
	}
	return conn
}

func refused(t *testing.T, dbURL string) {
	t.Helper()
	if _, err := login(t, dbURL); sqlstate(err) != "28P01" {
		t.Errorf("logging in as %s: %v, want password authentication failed (28P01)", userOf(dbURL), err)
	}
}

func userOf(dbURL string) string {
	u, _ := url.Parse(dbURL)
	return u.User.Username()
}

func maintain(t *testing.T, pool *pgxpool.Pool, c database.RoleChanges) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var log bytes.Buffer
	if err := database.MaintainRoles(ctx, pool, c, slog.New(slog.NewJSONHandler(&log, nil))); err != nil {
		t.Fatalf("MaintainRoles(%v): %v", c, err)
	}
	if c.Password != "" && strings.Contains(log.String(), c.Password) {
		t.Errorf("the log shows the password:\n%s", log.String())
	}
	return log.String()
}

type roleRow struct {
	Name                                                                string
	Super, CreateDB, CreateRole, Replication, BypassRLS, Inherit, Login bool
	MemberOf                                                            int
}

func roles(t *testing.T, conn *pgx.Conn) []roleRow {
	t.Helper()
	rows, err := conn.Query(context.Background(), `
		SELECT rolname, rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls, rolinherit, rolcanlogin,
		       (SELECT count(*) FROM pg_auth_members m WHERE m.member = r.oid)
		FROM pg_roles r WHERE rolname IN ('app_a', 'app_b') ORDER BY rolname`)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[roleRow])
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestMaintainRoles(t *testing.T) {
	srv := passwordServer(t)
	masterURL, pool := shopDatabase(t, srv.URL)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	pwA, pwB, pwA2 := newPassword("app-a-first"), newPassword("app-b-first"), newPassword("app-a-second")
	maintain(t, pool, database.RoleChanges{Activate: database.AppRoleA, Password: pwA})
	master := mustLogin(t, masterURL)
	appA := mustLogin(t, as(masterURL, "app_a", pwA))

	t.Run("the roles may log in, the activated one only, and nothing else", func(t *testing.T) {
		want := []roleRow{{Name: "app_a", Login: true}, {Name: "app_b"}}
		if got := roles(t, master); len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
			t.Errorf("roles %+v, want %+v", got, want)
		}
	})

	t.Run("the activated role logs in with its password and no other", func(t *testing.T) {
		refused(t, as(masterURL, "app_a", pwB))
		refused(t, as(masterURL, "app_b", pwA))
		refused(t, as(masterURL, "app_b", ""))
	})

	t.Run("the app role reads and writes every table of the shop", func(t *testing.T) {
		var missing []string
		rows, err := appA.Query(ctx, `
			SELECT c.relname || ' ' || p.priv FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace,
			       unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE']) p(priv)
			WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND c.relname <> 'goose_db_version'
			  AND NOT has_table_privilege(c.oid, p.priv)
			UNION ALL
			SELECT c.relname || ' USAGE' FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
			WHERE n.nspname = 'public' AND c.relname NOT LIKE 'goose%'
			  AND CASE WHEN c.relkind = 'S' THEN NOT has_sequence_privilege(c.oid, 'USAGE') ELSE false END`)
		if err == nil {
			missing, err = pgx.CollectRows(rows, pgx.RowTo[string])
		}
		if err != nil || len(missing) > 0 {
			t.Errorf("the app role lacks %v (%v)", missing, err)
		}
		var tables int
		if err := appA.QueryRow(ctx, `SELECT count(*) FROM pg_tables WHERE schemaname = 'public'`).Scan(&tables); err != nil || tables < 8 {
			t.Errorf("%d tables, %v", tables, err)
		}
		// What the shop does, triggers and pg_trgm included.
		for _, stmt := range []string{
			`INSERT INTO categories (slug, name) VALUES ('tools', 'Tools')`,
			`INSERT INTO products (category_id, slug, name, price_minor, currency, stock)
			 SELECT id, 'claw-hammer', 'Claw Hammer', 2500, 'EUR', 3 FROM categories WHERE slug = 'tools'`,
			`UPDATE categories SET name = 'Hardware' WHERE slug = 'tools'`,
			`UPDATE products SET stock = stock - 1 WHERE slug = 'claw-hammer' AND stock >= 1`,
			`SELECT set_config('pg_trgm.word_similarity_threshold', '0.3', false)`,
			`INSERT INTO users (email, password_hash) VALUES ('a@example.com', 'x')`,
			`INSERT INTO login_throttle (key, failures, window_end) VALUES ('\x01', 1, now())`,
			`DELETE FROM login_throttle`,
		} {
			if _, err := appA.Exec(ctx, stmt); err != nil {
				t.Errorf("%s: %v", stmt, err)
			}
		}
		var found string
		if err := appA.QueryRow(ctx, `SELECT search_vector::text FROM products WHERE 'hamer' <% name`).Scan(&found); err != nil || !strings.Contains(found, "'hardwar':3B") {
			t.Errorf("a fuzzy search as the app role: %q, %v", found, err)
		}
	})

	t.Run("the app role can change nothing but rows", func(t *testing.T) {
		for _, stmt := range []string{
			`CREATE TABLE evil (id int)`,
			`CREATE TEMP TABLE evil (id int)`,
			`CREATE VIEW evil AS SELECT 1`,
			`CREATE SEQUENCE evil`,
			`CREATE FUNCTION evil() RETURNS int LANGUAGE sql AS 'SELECT 1'`,
			`CREATE TYPE evil AS (a int)`,
			`CREATE SCHEMA evil`,
			`CREATE EXTENSION hstore`,
			`CREATE DATABASE evil`,
			`CREATE ROLE evil`,
			`ALTER ROLE app_b LOGIN`,
			`ALTER ROLE app_a CREATEDB`,
			`SET ROLE rds_like_master`,
			`DROP TABLE products`,
			`ALTER TABLE products ADD COLUMN evil int`,
			`CREATE INDEX evil ON products (name)`,
			`TRUNCATE products`,
			`DROP FUNCTION products_search_vector()`,
			`SELECT * FROM goose_db_version`,
			`DELETE FROM goose_db_version`,
			`COPY products TO '/tmp/products'`,
		} {
			if _, err := appA.Exec(ctx, stmt); sqlstate(err) != "42501" {
				t.Errorf("%s: %v, want permission denied (42501)", stmt, err)
			}
		}
	})

	t.Run("LISTEN and NOTIFY work for the app role", func(t *testing.T) {
		listener := mustLogin(t, as(masterURL, "app_a", pwA))
		if _, err := listener.Exec(ctx, `LISTEN shop_test`); err != nil {
			t.Fatal(err)
		}
		if _, err := appA.Exec(ctx, `SELECT pg_notify('shop_test', 'revoked')`); err != nil {
			t.Fatal(err)
		}
		wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
		defer wcancel()
		n, err := listener.WaitForNotification(wctx)
		if err != nil || n.Payload != "revoked" {
			t.Errorf("notification %+v, %v", n, err)
		}
	})

	t.Run("what a later migration creates is the app roles' too, and no one else's", func(t *testing.T) {
		for _, stmt := range []string{
			`CREATE TABLE later_notes (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, note text NOT NULL)`,
			`CREATE SEQUENCE later_numbers`,
			`CREATE FUNCTION later_answer() RETURNS int LANGUAGE sql AS 'SELECT 42'`,
		} {
			if _, err := master.Exec(ctx, stmt); err != nil {
				t.Fatalf("%s: %v", stmt, err)
			}
		}
		var answer, next int
		if _, err := appA.Exec(ctx, `INSERT INTO later_notes (note) VALUES ('hi')`); err != nil {
			t.Error(err)
		}
		if err := appA.QueryRow(ctx, `SELECT later_answer(), nextval('later_numbers')`).Scan(&answer, &next); err != nil || answer != 42 || next != 1 {
			t.Errorf("later objects: %d, %d, %v", answer, next, err)
		}
		for fn, want := range map[string]bool{
			"later_answer()":           false, // a routine of the shop's: the app roles only
			"products_search_vector()": false,
			"similarity(text,text)":    true, // pg_trgm's: left as PostgreSQL made it
		} {
			var public bool
			if err := master.QueryRow(ctx, `SELECT has_function_privilege('public', $1, 'EXECUTE')`, fn).Scan(&public); err != nil || public != want {
				t.Errorf("PUBLIC may execute %s: %v, want %v (%v)", fn, public, want, err)
			}
		}
	})

	t.Run("setting the same password again changes nothing", func(t *testing.T) {
		before := roles(t, master)
		maintain(t, pool, database.RoleChanges{Activate: database.AppRoleA, Password: pwA})
		if after := roles(t, master); after[0] != before[0] || after[1] != before[1] {
			t.Errorf("roles %+v, were %+v", after, before)
		}
		mustLogin(t, as(masterURL, "app_a", pwA))
		if _, err := appA.Exec(ctx, `SELECT 1`); err != nil {
			t.Errorf("a session of before: %v", err)
		}
	})

	t.Run("a rotation never refuses the password a running pod holds", func(t *testing.T) {
		running := mustLogin(t, as(masterURL, "app_a", pwA))
		maintain(t, pool, database.RoleChanges{Activate: database.AppRoleB, Password: pwB})
		mustLogin(t, as(masterURL, "app_b", pwB))
		mustLogin(t, as(masterURL, "app_a", pwA)) // a pod of the old ReplicaSet opening a connection
		// The rollout finished: the old role's login is withdrawn.
		maintain(t, pool, database.RoleChanges{Retire: database.AppRoleA})
		refused(t, as(masterURL, "app_a", pwA))
		mustLogin(t, as(masterURL, "app_b", pwB))
		if _, err := running.Exec(ctx, `SELECT 1`); err != nil {
			t.Errorf("an open session ends only with its pod: %v", err)
		}
		if got := roles(t, master); got[0].Login || !got[1].Login {
			t.Errorf("after retiring app_a: %+v", got)
		}
		// The next rotation brings app_a back with a new password only.
		maintain(t, pool, database.RoleChanges{Activate: database.AppRoleA, Password: pwA2})
		mustLogin(t, as(masterURL, "app_a", pwA2))
		refused(t, as(masterURL, "app_a", pwA))
		maintain(t, pool, database.RoleChanges{Retire: database.AppRoleB})
		refused(t, as(masterURL, "app_b", pwB))
	})

	t.Run("the server never saw a password", func(t *testing.T) {
		log, err := srv.Log()
		if err != nil {
			t.Fatal(err)
		}
		// log_statement=all did record the statements that set them.
		if !strings.Contains(log, `ALTER ROLE "app_a" PASSWORD 'SCRAM-SHA-256$4096:`) || !strings.Contains(log, `ALTER ROLE "app_b" PASSWORD NULL`) {
			t.Fatalf("the server did not log the password statements:\n%s", lastLines(log, 40))
		}
		for _, pw := range []string{pwA, pwB, pwA2} {
			if strings.Contains(log, pw) {
				t.Errorf("the server log holds the password %s", pw)
			}
		}
	})
}

func lastLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func TestMaintainRolesConcurrently(t *testing.T) {
	srv := passwordServer(t)
	// Two databases of one server share the roles but not the migration lock; each
	// database runs two migrates at once, as two Jobs might.
	urlA, poolA := shopDatabase(t, srv.URL)
	urlB, poolB := shopDatabase(t, srv.URL)
	pw := newPassword("app-a-concurrent")
	c := database.RoleChanges{Activate: database.AppRoleA, Password: pw}
	var wg sync.WaitGroup
	errs := make([]error, 6)
	for i, pool := range []*pgxpool.Pool{poolA, poolA, poolA, poolB, poolB, poolB} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			errs[i] = database.MaintainRoles(ctx, pool, c, slog.New(slog.DiscardHandler))
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("migrate %d: %v", i, err)
		}
	}
	for _, u := range []string{urlA, urlB} {
		conn := mustLogin(t, as(u, "app_a", pw))
		if _, err := conn.Exec(context.Background(), `INSERT INTO categories (slug, name) VALUES ('tools', 'Tools')`); err != nil {
			t.Errorf("%s: %v", u, err)
		}
	}
}

func TestMaintainRolesRefusesWhatItCannotTakeBack(t *testing.T) {
	srv := passwordServer(t)
	masterURL, pool := shopDatabase(t, srv.URL)
	pw := newPassword("app-a-refuses")
	c := database.RoleChanges{Activate: database.AppRoleA, Password: pw}
	maintain(t, pool, c)
	// The superuser of the same database: a right it grants, only it can take back.
	super := mustLogin(t, as(masterURL, "postgres", ""))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	tests := map[string]struct {
		grant, undo string
		want        []string
	}{
		"a schema another role owns lets everyone create in it": {
			`CREATE SCHEMA extra; GRANT CREATE ON SCHEMA extra TO PUBLIC`, `DROP SCHEMA extra`,
			[]string{"app_a may create objects in schema extra", "app_b may create objects in schema extra", "rds_like_master cannot take it back"}},
		"an app role was made a member of a predefined role": {
			`GRANT pg_read_all_data TO app_a`, `REVOKE pg_read_all_data FROM app_a`,
			[]string{"app_a is a member of pg_read_all_data"}},
		"an app role owns a table": {
			`CREATE TABLE owned (id int); ALTER TABLE owned OWNER TO app_b`, `DROP TABLE owned`,
			[]string{"app_b owns owned"}},
		"an app role was made a superuser": {
			`ALTER ROLE app_b SUPERUSER`, `ALTER ROLE app_b NOSUPERUSER`,
			[]string{"maintaining application role app_b", "must be superuser"}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := super.Exec(ctx, tt.grant); err != nil {
				t.Fatal(err)
			}
			err := database.MaintainRoles(ctx, pool, c, slog.New(slog.DiscardHandler))
			if _, uerr := super.Exec(ctx, tt.undo); uerr != nil {
				t.Fatal(uerr)
			}
			if err == nil {
				t.Fatal("MaintainRoles succeeded")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if strings.Contains(err.Error(), pw) {
				t.Error("the error shows the password")
			}
			maintain(t, pool, c) // undone: fine again
		})
	}

	t.Run("a superuser that migrates puts a superuser app role right", func(t *testing.T) {
		if _, err := super.Exec(ctx, `ALTER ROLE app_b SUPERUSER`); err != nil {
			t.Fatal(err)
		}
		superPool, err := database.Open(ctx, as(masterURL, "postgres", ""))
		if err != nil {
			t.Fatal(err)
		}
		defer superPool.Close()
		maintain(t, superPool, c)
		if got := roles(t, super); got[1].Super {
			t.Errorf("app_b is still a superuser: %+v", got)
		}
	})
}

func TestMaintainRolesAsSuperuser(t *testing.T) {
	// Databases the tests migrate as the shared server's superuser: the extensions'
	// functions, which the superuser owns too, stay PostgreSQL's.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dbURL := testenv.PostgresURL(t)
	if _, err := database.Migrate(ctx, dbURL, nil); err != nil {
		t.Fatal(err)
	}
	pool, err := database.Open(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	maintain(t, pool, database.RoleChanges{Activate: database.AppRoleA, Password: newPassword("app-a-super")})
	var public, shops bool
	if err := pool.QueryRow(ctx, `SELECT has_function_privilege('public', 'similarity(text,text)', 'EXECUTE'),
		has_function_privilege('public', 'products_search_vector()', 'EXECUTE')`).Scan(&public, &shops); err != nil || !public || shops {
		t.Errorf("PUBLIC may execute similarity: %v, products_search_vector: %v (%v)", public, shops, err)
	}
}
