// Package testenv starts throwaway PostgreSQL and Redis servers for a test binary's
// lifetime and hands each test its own database, so suites pass on any machine that has
// the server binaries, whatever else runs on it. It also locates the repository's
// envtest assets (CRDs) for the Kubernetes suites.
//
// Use it from TestMain:
//
//	func TestMain(m *testing.M) { testenv.Main(m) }
//
// then call PostgresURL(t) or RedisURL(t) in a test. Servers start on first use and stop
// when the test binary ends. TEST_DATABASE_URL points the PostgreSQL helpers at an
// existing server instead; Redis is always a throwaway server of testenv's, shaped like
// ElastiCache Serverless (see RedisOptions).
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// PostgresInstall is the command that installs the PostgreSQL server binaries.
const PostgresInstall = "apt-get install -y postgresql"

// Postgres is a throwaway PostgreSQL server.
type Postgres struct {
	// URL connects as the superuser to the server's `postgres` database.
	URL  string
	Port int

	dir     string
	cmd     *exec.Cmd
	exited  chan struct{}
	logPath string
}

// FindPostgresBin returns the directory holding initdb and postgres: $PATH first, then
// Debian's /usr/lib/postgresql/<version>/bin, newest version first.
func FindPostgresBin() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		if _, err := exec.LookPath("postgres"); err == nil {
			return filepath.Dir(p), nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return versionOf(dirs[i]) > versionOf(dirs[j]) })
	for _, d := range dirs {
		if isExecutable(filepath.Join(d, "initdb")) && isExecutable(filepath.Join(d, "postgres")) {
			return d, nil
		}
	}
	return "", fmt.Errorf("PostgreSQL server binaries (initdb, postgres) not found on $PATH or under /usr/lib/postgresql: install them with `%s`", PostgresInstall)
}

func versionOf(binDir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return v
}

func isExecutable(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir() && st.Mode()&0o111 != 0
}

// StartPostgres initialises a cluster in a temporary directory and starts it on a free
// loopback port with durability off (fsync, synchronous_commit, full_page_writes): the
// data is thrown away anyway. PostgreSQL refuses to run as root, so as root the server
// runs as the `postgres` system user (or `nobody`) in a directory that user owns.
func StartPostgres(ctx context.Context) (*Postgres, error) {
	bin, err := FindPostgresBin()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "storefront-pg-*")
	if err != nil {
		return nil, err
	}
	cred, err := unprivilegedCredential(dir)
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	data := filepath.Join(dir, "data")
	sock := filepath.Join(dir, "sock")
	if err := os.Mkdir(sock, 0o700); err != nil {
		return nil, err
	}
	if cred != nil {
		if err := os.Chown(sock, int(cred.Uid), int(cred.Gid)); err != nil {
			return nil, err
		}
	}

	initdb := exec.CommandContext(ctx, filepath.Join(bin, "initdb"), "-D", data, "-U", "postgres",
		"--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync", "--no-instructions")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("initdb: %w\n%s", err, out)
	}

	p := &Postgres{dir: dir, exited: make(chan struct{}), logPath: filepath.Join(dir, "postgres.log")}
	for attempt := 0; attempt < 5; attempt++ {
		port, err := FreePort()
		if err != nil {
			return nil, err
		}
		if err := p.start(bin, data, sock, port, cred); err != nil {
			if errors.Is(err, errPortTaken) {
				continue
			}
			p.Stop()
			return nil, err
		}
		return p, nil
	}
	p.Stop()
	return nil, errors.New("postgres: no free port after 5 attempts")
}

var errPortTaken = errors.New("port taken")

func (p *Postgres) start(bin, data, sock string, port int, cred *syscall.Credential) error {
	logf, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(filepath.Join(bin, "postgres"), "-D", data, "-p", strconv.Itoa(port),
		"-k", sock, "-c", "listen_addresses=127.0.0.1",
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
		"-c", "max_connections=400", "-c", "shared_buffers=128MB", "-c", "log_min_messages=warning")
	cmd.Stdout, cmd.Stderr = logf, logf
	// Pdeathsig stops the server if the test binary is killed before Stop runs.
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGQUIT, Setpgid: true}
	if err := cmd.Start(); err != nil {
		_ = logf.Close()
		return fmt.Errorf("starting postgres: %w", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); _ = logf.Close(); close(exited) }()
	p.cmd, p.exited, p.Port = cmd, exited, port
	p.URL = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port)

	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			log, _ := os.ReadFile(p.logPath)
			if strings.Contains(string(log), "could not bind") || strings.Contains(string(log), "Address already in use") {
				return errPortTaken
			}
			return fmt.Errorf("postgres exited during start:\n%s", log)
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		conn, err := pgx.Connect(ctx, p.URL)
		if err == nil {
			_ = conn.Close(ctx)
			cancel()
			return nil
		}
		cancel()
		time.Sleep(50 * time.Millisecond) // polling a starting server, not synchronising tests
	}
	return fmt.Errorf("postgres did not accept connections within 30s; log in %s", p.logPath)
}

// Stop stops the server and removes its directory.
func (p *Postgres) Stop() {
	if p == nil {
		return
	}
	if p.cmd != nil && p.cmd.Process != nil {
		// SIGQUIT is PostgreSQL's immediate shutdown: nothing to keep.
		_ = p.cmd.Process.Signal(syscall.SIGQUIT)
		select {
		case <-p.exited:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
			<-p.exited
		}
	}
	_ = os.RemoveAll(p.dir)
}

// CreateDatabase creates a new empty database with a unique name and returns its URL.
func (p *Postgres) CreateDatabase(ctx context.Context) (name, dbURL string, err error) {
	return createDatabase(ctx, p.URL)
}

func createDatabase(ctx context.Context, adminURL string) (name, dbURL string, err error) {
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return "", "", fmt.Errorf("connecting to %s: %w", redactURL(adminURL), err)
	}
	defer func() { _ = conn.Close(ctx) }()
	name = "t_" + randomHex(8)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", "", fmt.Errorf("creating database %s: %w", name, err)
	}
	u, err := url.Parse(adminURL)
	if err != nil {
		return "", "", err
	}
	u.Path = "/" + name
	return name, u.String(), nil
}

func dropDatabase(ctx context.Context, adminURL, name string) error {
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close(ctx) }()
	_, err = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
	return err
}

// unprivilegedCredential returns nil when not root; as root, the credential of an
// unprivileged system user, after handing dir to it.
func unprivilegedCredential(dir string) (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			return nil, fmt.Errorf("handing %s to %s: %w", dir, name, err)
		}
		return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
	}
	return nil, errors.New("running as root and no unprivileged user (postgres or nobody) exists for PostgreSQL: create one with `useradd --system postgres`")
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparseable URL)"
	}
	return u.Redacted()
}

var (
	pgOnce   sync.Once
	pgServer *Postgres
	pgErr    error
)

// PostgresURL returns the URL of a new, empty database for t, dropped when t ends. The
// server is TEST_DATABASE_URL's when set (a URL of a role that may create databases),
// otherwise a throwaway server started on first use.
func PostgresURL(t testing.TB) string {
	t.Helper()
	admin, err := postgresAdminURL()
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	name, dbURL, err := createDatabase(ctx, admin)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := dropDatabase(ctx, admin, name); err != nil {
			t.Logf("testenv: dropping database %s: %v", name, err)
		}
	})
	return dbURL
}

// PostgresAdminURL returns the superuser URL of the shared test server (starting it on
// first use), for tests that manage databases and roles themselves.
func PostgresAdminURL(t testing.TB) string {
	t.Helper()
	admin, err := postgresAdminURL()
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	return admin
}

func postgresAdminURL() (string, error) {
	if u := os.Getenv("TEST_DATABASE_URL"); u != "" {
		return u, nil
	}
	pgOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		pgServer, pgErr = StartPostgres(ctx)
		if pgErr == nil {
			register(pgServer.Stop)
		}
	})
	if pgErr != nil {
		return "", pgErr
	}
	return pgServer.URL, nil
}
