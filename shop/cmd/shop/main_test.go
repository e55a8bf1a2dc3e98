package main_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/crypto/bcrypt"

	"github.com/storefront-operator/storefront/shop/platform/database"
	"github.com/storefront-operator/storefront/test/testenv"
)

// The tests run the real binaries, built once: bin is `shop`, badBin the same program
// built with -tags badmigration.
var bin, badBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "shop-bin-*")
	if err != nil {
		panic(err)
	}
	bin, badBin = filepath.Join(dir, "shop"), filepath.Join(dir, "shop-badmigration")
	for _, b := range []struct{ out, tags string }{{bin, ""}, {badBin, "badmigration"}} {
		cmd := exec.Command("go", "build", "-tags="+b.tags, "-o", b.out, ".")
		if out, err := cmd.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "building %s: %v\n%s", b.out, err, out)
			os.Exit(1)
		}
	}
	code := func() int { defer testenv.Stop(); defer stopPasswordServer(); return m.Run() }()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

type result struct {
	code           int
	stdout, stderr string
}

// shopEnv is the process environment without any shop variable of the caller's, plus env.
func shopEnv(env ...string) []string {
	var out []string
	for _, kv := range os.Environ() {
		switch strings.SplitN(kv, "=", 2)[0] {
		case "DATABASE_URL", "REDIS_URL", "JWT_SECRET", "HTTP_ADDR", "METRICS_ADDR", "LOG_LEVEL", "SHOP_CURRENCY", "ADMIN_EMAIL", "ADMIN_PASSWORD", "SHUTDOWN_DELAY",
			"APP_ROLE", "APP_PASSWORD", "TRACEPARENT", "TRACESTATE":
			continue
		}
		if strings.HasPrefix(kv, "OTEL_") {
			continue // a developer's collector settings are not the test's
		}
		out = append(out, kv)
	}
	return append(out, env...)
}

func run(t *testing.T, binary string, stdin string, env []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = shopEnv(env...)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("running %s %v: %v", binary, args, err)
	}
	return result{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

func query[T any](t *testing.T, dbURL, sql string, args ...any) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close(ctx) }()
	var v T
	if err := conn.QueryRow(ctx, sql, args...).Scan(&v); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return v
}

func oneLine(t *testing.T, r result, contains ...string) {
	t.Helper()
	if r.code == 0 {
		t.Fatalf("exit 0, want non-zero; stderr %q", r.stderr)
	}
	if lines := strings.Split(strings.TrimRight(r.stderr, "\n"), "\n"); len(lines) != 1 || lines[0] == "" {
		t.Errorf("stderr has %d lines, want one: %q", len(lines), r.stderr)
	}
	for _, c := range contains {
		if !strings.Contains(r.stderr, c) {
			t.Errorf("stderr %q does not mention %q", r.stderr, c)
		}
	}
}

func TestMigrate(t *testing.T) {
	t.Run("from empty, then again", func(t *testing.T) {
		db := testenv.PostgresURL(t)
		r := run(t, bin, "", []string{"DATABASE_URL=" + db}, "migrate")
		if r.code != 0 || r.stderr != "" {
			t.Fatalf("first migrate: exit %d, stderr %q", r.code, r.stderr)
		}
		if !strings.Contains(r.stdout, `"msg":"Migrated"`) || !strings.Contains(r.stdout, fmt.Sprintf(`"applied":%d`, len(migrations(t)))) {
			t.Errorf("stdout %s", r.stdout)
		}
		for _, table := range []string{"categories", "products", "users", "catalog_seeds"} {
			if !query[bool](t, db, `SELECT to_regclass($1) IS NOT NULL`, table) {
				t.Errorf("table %s missing", table)
			}
		}
		if n := query[int64](t, db, `SELECT count(*) FROM products`); n != 0 {
			t.Errorf("--seed=none loaded %d products", n)
		}
		r = run(t, bin, "", []string{"DATABASE_URL=" + db}, "migrate", "--seed=none")
		if r.code != 0 || !strings.Contains(r.stdout, `"applied":0`) {
			t.Errorf("second migrate: exit %d, stdout %s stderr %q", r.code, r.stdout, r.stderr)
		}
	})

	t.Run("two processes at once apply everything once", func(t *testing.T) {
		db := testenv.PostgresURL(t)
		env := []string{"DATABASE_URL=" + db, "ADMIN_EMAIL=admin@example.com", "ADMIN_PASSWORD=correct-horse"}
		var wg sync.WaitGroup
		results := make([]result, 2)
		for i := range results {
			wg.Add(1)
			go func() { defer wg.Done(); results[i] = run(t, bin, "", env, "migrate", "--seed=demo") }()
		}
		wg.Wait()
		for i, r := range results {
			if r.code != 0 {
				t.Errorf("process %d: exit %d, stderr %q", i, r.code, r.stderr)
			}
		}
		if n := query[int64](t, db, `SELECT count(*) FROM goose_db_version WHERE version_id > 0`); n != int64(len(migrations(t))) {
			t.Errorf("%d migrations recorded, want %d", n, len(migrations(t)))
		}
		if n := query[int64](t, db, `SELECT count(*) FROM products`); n != 64 {
			t.Errorf("%d products, want the demo's 64 once", n)
		}
		if n := query[int64](t, db, `SELECT count(*) FROM users WHERE role = 'admin'`); n != 1 {
			t.Errorf("%d admins, want 1", n)
		}
	})

	t.Run("the demo catalog is loaded once however often migrate runs", func(t *testing.T) {
		db := testenv.PostgresURL(t)
		for i := 0; i < 2; i++ {
			if r := run(t, bin, "", []string{"DATABASE_URL=" + db}, "migrate", "--seed=demo"); r.code != 0 {
				t.Fatalf("run %d: %q", i, r.stderr)
			}
		}
		if n := query[int64](t, db, `SELECT count(*) FROM products`); n != 64 {
			t.Errorf("%d products after two demo seeds, want 64", n)
		}
		if n := query[int64](t, db, `SELECT count(*) FROM categories`); n != 8 {
			t.Errorf("%d categories, want 8", n)
		}
		// Deleting the demo products does not bring them back: the seed is recorded.
		_ = query[int64](t, db, `WITH d AS (DELETE FROM products RETURNING 1) SELECT count(*) FROM d`)
		if r := run(t, bin, "", []string{"DATABASE_URL=" + db}, "migrate", "--seed=demo"); r.code != 0 {
			t.Fatal(r.stderr)
		}
		if n := query[int64](t, db, `SELECT count(*) FROM products`); n != 0 {
			t.Errorf("the demo catalog came back: %d products", n)
		}
	})

	t.Run("the admin is bootstrapped once, lower-cased, with bcrypt cost 12", func(t *testing.T) {
		db := testenv.PostgresURL(t)
		r := run(t, bin, "", []string{"DATABASE_URL=" + db, "ADMIN_EMAIL=Admin@Example.COM", "ADMIN_PASSWORD=correct-horse"}, "migrate")
		if r.code != 0 {
			t.Fatal(r.stderr)
		}
		hash := query[string](t, db, `SELECT password_hash FROM users WHERE email = 'admin@example.com' AND role = 'admin'`)
		if cost, err := bcrypt.Cost([]byte(hash)); err != nil || cost < 12 {
			t.Errorf("bcrypt cost %d, %v", cost, err)
		}
		if bcrypt.CompareHashAndPassword([]byte(hash), []byte("correct-horse")) != nil {
			t.Error("the hash does not match the password")
		}
		r = run(t, bin, "", []string{"DATABASE_URL=" + db, "ADMIN_EMAIL=other@example.com", "ADMIN_PASSWORD=another-one"}, "migrate")
		if n := query[int64](t, db, `SELECT count(*) FROM users`); r.code != 0 || n != 1 {
			t.Errorf("exit %d, %d users after a second bootstrap; want one", r.code, n)
		}
	})

	t.Run("an unreachable database exits non-zero with one clear line", func(t *testing.T) {
		port, _ := testenv.FreePort()
		r := run(t, bin, "", []string{fmt.Sprintf("DATABASE_URL=postgres://shop:hunter2@127.0.0.1:%d/shop", port)}, "migrate")
		oneLine(t, r, "connecting to database", "refused")
		if strings.Contains(r.stderr, "hunter2") {
			t.Errorf("the password leaked: %q", r.stderr)
		}
	})

	bad := map[string]struct {
		env      []string
		args     []string
		mentions string
	}{
		"no DATABASE_URL":            {nil, []string{"migrate"}, "DATABASE_URL is required"},
		"an unknown seed":            {[]string{"DATABASE_URL=postgres://h/db"}, []string{"migrate", "--seed=everything"}, "--seed"},
		"an unknown flag":            {[]string{"DATABASE_URL=postgres://h/db"}, []string{"migrate", "--force"}, "force"},
		"an unknown command":         {nil, []string{"dance"}, "unknown command"},
		"no command":                 {nil, nil, "usage"},
		"a bad currency":             {[]string{"DATABASE_URL=postgres://h/db", "SHOP_CURRENCY=ABC"}, []string{"migrate"}, "SHOP_CURRENCY"},
		"serve without a JWT secret": {[]string{"DATABASE_URL=postgres://h/db"}, []string{"serve"}, "JWT_SECRET"},
	}
	for name, tt := range bad {
		t.Run(name+" exits non-zero with one line", func(t *testing.T) {
			oneLine(t, run(t, bin, "", tt.env, tt.args...), tt.mentions)
		})
	}
}

func TestSeedAndCreateAdmin(t *testing.T) {
	db := testenv.PostgresURL(t)
	env := []string{"DATABASE_URL=" + db}
	oneLine(t, run(t, bin, "", env, "seed", "--products", "10"), "shop migrate")
	if r := run(t, bin, "", env, "migrate"); r.code != 0 {
		t.Fatal(r.stderr)
	}
	if r := run(t, bin, "", env, "seed", "--products", "2500"); r.code != 0 {
		t.Fatalf("seed: %q", r.stderr)
	}
	if r := run(t, bin, "", env, "seed", "--products", "500"); r.code != 0 {
		t.Fatalf("second seed: %q", r.stderr)
	}
	if n := query[int64](t, db, `SELECT count(*) FROM products`); n != 3000 {
		t.Errorf("%d products, want 3000", n)
	}
	if n := query[int64](t, db, `SELECT count(*) FROM products WHERE search_vector = ''::tsvector`); n != 0 {
		t.Errorf("%d seeded products have no search vector", n)
	}
	oneLine(t, run(t, bin, "", env, "seed", "--products", "0"), "--products")

	r := run(t, bin, "long enough password\n", env, "create-admin", "--email", "Boss@Example.com")
	if r.code != 0 || !strings.Contains(r.stdout, "created admin boss@example.com") {
		t.Fatalf("create-admin: exit %d, %q %q", r.code, r.stdout, r.stderr)
	}
	hash := query[string](t, db, `SELECT password_hash FROM users WHERE email = 'boss@example.com' AND role = 'admin'`)
	if bcrypt.CompareHashAndPassword([]byte(hash), []byte("long enough password")) != nil {
		t.Error("the stored hash does not match the password from stdin")
	}
	r = run(t, bin, "another password\n", env, "create-admin", "--email", "boss@example.com")
	if r.code != 0 || !strings.Contains(r.stdout, "now an admin") {
		t.Errorf("second create-admin: %q %q", r.stdout, r.stderr)
	}
	oneLine(t, run(t, bin, "short\n", env, "create-admin", "--email", "x@example.com"), "password")
	oneLine(t, run(t, bin, "long enough password\n", env, "create-admin", "--email", "not-an-email"), "email")
}

// serveProcess starts `shop serve` on a free port and waits until it is ready.
func serveProcess(t *testing.T, binary string, env ...string) (base string, cmd *exec.Cmd, logs *syncBuffer) {
	t.Helper()
	port, err := testenv.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	base = fmt.Sprintf("http://127.0.0.1:%d", port)
	cmd = exec.Command(binary, "serve")
	cmd.Env = shopEnv(append([]string{"JWT_SECRET=test", fmt.Sprintf("HTTP_ADDR=127.0.0.1:%d", port)}, env...)...)
	logs = &syncBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == 200 {
				return base, cmd, logs
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve not ready within 30s; logs:\n%s", logs.String())
		}
		time.Sleep(50 * time.Millisecond) // polling a starting process
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func get(url string) (int, error) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, err
	}
	defer func() { _ = resp.Body.Close() }()
	_, err = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, err
}

func TestBadMigrationKeepsTheOldVersionServing(t *testing.T) {
	db := testenv.PostgresURL(t)
	if r := run(t, bin, "", []string{"DATABASE_URL=" + db}, "migrate", "--seed=demo"); r.code != 0 {
		t.Fatal(r.stderr)
	}
	base, _, _ := serveProcess(t, bin, "DATABASE_URL="+db)

	r := run(t, badBin, "", []string{"DATABASE_URL=" + db}, "migrate", "--seed=demo")
	oneLine(t, r, "badmigration", "99999999999")
	ms := migrations(t)
	if v := query[int64](t, db, `SELECT max(version_id) FROM goose_db_version`); v != ms[len(ms)-1] {
		t.Errorf("schema version %d after the failed migration, want %d", v, ms[len(ms)-1])
	}
	for _, path := range []string{"/readyz", "/api/v1/products", "/api/v1/search?q=tent"} {
		if code, err := get(base + path); err != nil || code != 200 {
			t.Errorf("old version: GET %s = %d, %v", path, code, err)
		}
	}
	// The good build still migrates cleanly afterwards.
	if r := run(t, bin, "", []string{"DATABASE_URL=" + db}, "migrate"); r.code != 0 {
		t.Errorf("migrate after the failure: %q", r.stderr)
	}
}

// TestServeDrainsOnSIGTERM plays a rollout: clients keep sending until the "load
// balancer" sees /readyz turn 503 after SIGTERM; every request sent must succeed, and the
// process must exit 0.
func TestServeDrainsOnSIGTERM(t *testing.T) {
	db := testenv.PostgresURL(t)
	if r := run(t, bin, "", []string{"DATABASE_URL=" + db}, "migrate", "--seed=demo"); r.code != 0 {
		t.Fatal(r.stderr)
	}
	// Four clients searching as fast as they can are one client (127.0.0.1) far past the
	// search rate limit, which is not what this test is about.
	base, cmd, logs := serveProcess(t, bin, "DATABASE_URL="+db, "SHUTDOWN_DELAY=2s", "LOG_LEVEL=warn", "SEARCH_RATE_LIMIT=1000000")

	var outOfRotation atomic.Bool
	var sent, failed, afterSignal atomic.Int64
	var signalled atomic.Bool
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 10 * time.Second}
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; !outOfRotation.Load(); i++ {
				// Uncached searches, so requests really are in flight in the database.
				resp, err := client.Get(fmt.Sprintf("%s/api/v1/search?q=coffee&min_price=%d", base, w*100000+i))
				sent.Add(1)
				if signalled.Load() {
					afterSignal.Add(1)
				}
				if err != nil {
					failed.Add(1)
					t.Errorf("request failed: %v", err)
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
				if resp.StatusCode != 200 {
					failed.Add(1)
					t.Errorf("status %d", resp.StatusCode)
				}
			}
		}()
	}
	// Let traffic flow, then signal.
	for sent.Load() < 50 {
		time.Sleep(10 * time.Millisecond) // polling a counter
	}
	signalled.Store(true)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// The load balancer polls readiness and takes the pod out of rotation on 503.
	for !outOfRotation.Load() {
		code, err := get(base + "/readyz")
		if err != nil {
			t.Fatalf("/readyz failed during the shutdown delay: %v", err)
		}
		if code == http.StatusServiceUnavailable {
			outOfRotation.Store(true)
		}
		time.Sleep(20 * time.Millisecond) // the load balancer's probe interval
	}
	wg.Wait()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("serve exited with %v; logs:\n%s", err, logs.String())
		}
	case <-time.After(40 * time.Second):
		t.Fatal("serve did not exit after SIGTERM")
	}
	if failed.Load() != 0 || sent.Load() < 50 {
		t.Errorf("%d of %d requests failed", failed.Load(), sent.Load())
	}
	t.Logf("%d requests, %d sent after SIGTERM, none failed", sent.Load(), afterSignal.Load())
}

// migrations returns the versions of the embedded migrations, in order.
func migrations(t *testing.T) []int64 {
	t.Helper()
	names, err := fs.Glob(database.Migrations(), "*.sql")
	if err != nil || len(names) == 0 {
		t.Fatalf("embedded migrations: %v %v", names, err)
	}
	sort.Strings(names)
	var vs []int64
	for _, n := range names {
		v, err := strconv.ParseInt(strings.SplitN(n, "_", 2)[0], 10, 64)
		if err != nil {
			t.Fatalf("migration %s: %v", n, err)
		}
		vs = append(vs, v)
	}
	return vs
}
