package main_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/storefront-operator/storefront/test/testenv"
)

var (
	pwOnce   sync.Once
	pwServer *testenv.Postgres
	pwErr    error
)

// passwordServer is a server that asks the application roles for their passwords, as
// RDS does; the shared test server trusts every login.
func passwordServer(t *testing.T) *testenv.Postgres {
	t.Helper()
	pwOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if pwServer, pwErr = testenv.StartPostgres(ctx); pwErr == nil {
			pwErr = pwServer.RequirePasswords(ctx, testenv.MasterRole)
		}
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

// loginError is the error of logging in with dbURL, nil when it works.
func loginError(dbURL string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dbURL)
	if err == nil {
		_ = conn.Close(ctx)
	}
	return err
}

func passwordRefused(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "28P01"
}

// TestMigrateKeepsTheApplicationRoles runs the process contract the operator's Jobs
// use: DATABASE_URL is the master user's, --app-role names the role that may log in
// with the password of the Secret version mounted at --app-password-file (or given in
// APP_PASSWORD), --retire-role the role whose login is withdrawn after a rollout.
func TestMigrateKeepsTheApplicationRoles(t *testing.T) {
	srv := passwordServer(t)
	master := testenv.MasterDatabase(t, srv.URL)
	dir := t.TempDir()
	pwA, pwB := "app-a-password-v1-Zk3mQ9xV2pL7", "app-b-password-v1-wR4tY8uN1bC6"
	fileA := filepath.Join(dir, "app-a-v1")
	if err := os.WriteFile(fileA, []byte(pwA+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	noPassword := func(t *testing.T, r result) {
		t.Helper()
		for _, pw := range []string{pwA, pwB} {
			if strings.Contains(r.stdout+r.stderr, pw) {
				t.Errorf("the output shows a password:\n%s%s", r.stdout, r.stderr)
			}
		}
	}

	t.Run("the first Job migrates as the master and activates app_a from a mounted Secret", func(t *testing.T) {
		r := run(t, bin, "", []string{"DATABASE_URL=" + master}, "migrate", "--seed=demo", "--app-role=app_a", "--app-password-file="+fileA)
		noPassword(t, r)
		if r.code != 0 || !strings.Contains(r.stdout, `"rolesMaintained":true`) {
			t.Fatalf("exit %d, stdout %s, stderr %q", r.code, r.stdout, r.stderr)
		}
		if err := loginError(testenv.WithUser(master, "app_a", pwA)); err != nil {
			t.Errorf("app_a with the file's password (its newline dropped): %v", err)
		}
		if err := loginError(testenv.WithUser(master, "app_b", pwB)); !passwordRefused(err) {
			t.Errorf("app_b before its activation: %v", err)
		}
	})

	t.Run("the shop serves as app_a", func(t *testing.T) {
		base, _, logs := serveProcess(t, bin, "DATABASE_URL="+testenv.WithUser(master, "app_a", pwA))
		for _, path := range []string{"/readyz", "/api/v1/products?sort=price_desc", "/api/v1/search?q=tent", "/api/v1/categories"} {
			if code, err := get(base + path); err != nil || code != http.StatusOK {
				t.Errorf("GET %s = %d, %v", path, code, err)
			}
		}
		resp, err := http.Post(base+"/api/v1/auth/register", "application/json",
			strings.NewReader(`{"email": "shopper@example.com", "password": "correct-horse-battery", "name": "Shopper"}`))
		if err != nil || resp.StatusCode != http.StatusCreated {
			t.Errorf("register: %v %v; logs:\n%s", resp, err, logs.String())
		}
		if resp != nil {
			_ = resp.Body.Close()
		}
	})

	t.Run("two Jobs at once activating app_b from APP_PASSWORD both succeed", func(t *testing.T) {
		var wg sync.WaitGroup
		results := make([]result, 2)
		for i := range results {
			wg.Add(1)
			go func() {
				defer wg.Done()
				results[i] = run(t, bin, "", []string{"DATABASE_URL=" + master, "APP_PASSWORD=" + pwB}, "migrate", "--app-role=app_b")
			}()
		}
		wg.Wait()
		for i, r := range results {
			noPassword(t, r)
			if r.code != 0 {
				t.Errorf("Job %d: exit %d, stderr %q", i, r.code, r.stderr)
			}
		}
		for role, pw := range map[string]string{"app_a": pwA, "app_b": pwB} {
			if err := loginError(testenv.WithUser(master, role, pw)); err != nil {
				t.Errorf("%s during the rotation: %v", role, err)
			}
		}
	})

	t.Run("after the rollout, a Job withdraws app_a's login", func(t *testing.T) {
		r := run(t, bin, "", []string{"DATABASE_URL=" + master}, "migrate", "--retire-role=app_a")
		if r.code != 0 {
			t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
		}
		if err := loginError(testenv.WithUser(master, "app_a", pwA)); !passwordRefused(err) {
			t.Errorf("app_a after its retirement: %v", err)
		}
		if err := loginError(testenv.WithUser(master, "app_b", pwB)); err != nil {
			t.Errorf("app_b after app_a's retirement: %v", err)
		}
	})

	t.Run("without role flags, migrate leaves the roles alone", func(t *testing.T) {
		r := run(t, bin, "", []string{"DATABASE_URL=" + master}, "migrate")
		if r.code != 0 || !strings.Contains(r.stdout, `"rolesMaintained":false`) {
			t.Fatalf("exit %d, stdout %s, stderr %q", r.code, r.stdout, r.stderr)
		}
		if err := loginError(testenv.WithUser(master, "app_b", pwB)); err != nil {
			t.Errorf("app_b: %v", err)
		}
	})

	bad := map[string]struct {
		env      []string
		args     []string
		mentions string
	}{
		"a role that is not an application role":   {nil, []string{"--app-role=rds_superuser", "--app-password-file=" + fileA}, `app role "rds_superuser" is not one of app_a, app_b`},
		"APP_ROLE that is not an application role": {[]string{"APP_ROLE=postgres", "APP_PASSWORD=" + pwB}, nil, `app role "postgres" is not one of app_a, app_b`},
		"an application role without a password":   {nil, []string{"--app-role=app_a"}, "no password for the app role app_a"},
		"a password given twice":                   {[]string{"APP_PASSWORD=" + pwB}, []string{"--app-role=app_a", "--app-password-file=" + fileA}, "given twice"},
		"a password file that is missing":          {nil, []string{"--app-role=app_a", "--app-password-file=" + filepath.Join(dir, "none")}, "reading the application role's password"},
		"a password too short":                     {[]string{"APP_PASSWORD=short-secret"}, []string{"--app-role=app_a"}, "has 12 characters, want 16 to 256"},
		"a role activated and retired at once":     {[]string{"APP_PASSWORD=" + pwB}, []string{"--app-role=app_b", "--retire-role=app_b"}, "cannot be activated and retired at once"},
	}
	for name, tt := range bad {
		t.Run(name+" exits non-zero with one line, before connecting", func(t *testing.T) {
			// An address nothing listens on: the error must come before any connection.
			port, _ := testenv.FreePort()
			env := append([]string{fmt.Sprintf("DATABASE_URL=postgres://u@127.0.0.1:%d/shop", port)}, tt.env...)
			r := run(t, bin, "", env, append([]string{"migrate"}, tt.args...)...)
			oneLine(t, r, tt.mentions)
			noPassword(t, r)
			if strings.Contains(r.stderr, "short-secret") {
				t.Errorf("stderr shows the password: %q", r.stderr)
			}
		})
	}
}
