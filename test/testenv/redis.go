package testenv

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisInstall is the command that installs redis-server.
const RedisInstall = "apt-get install -y redis-server"

// redisDatabases is how many logical databases the throwaway server has: one per test.
const redisDatabases = 4096

// Redis is a throwaway redis-server without persistence.
type Redis struct {
	Addr string
	Port int

	dir    string
	cmd    *exec.Cmd
	exited chan struct{}
	nextDB atomic.Int64
}

// StartRedis starts redis-server on a free loopback port, with no persistence, in a
// temporary directory. extraArgs are appended to its command line (e.g. TLS options).
func StartRedis(ctx context.Context, extraArgs ...string) (*Redis, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, fmt.Errorf("redis-server not found on $PATH: install it with `%s`", RedisInstall)
	}
	dir, err := os.MkdirTemp("", "storefront-redis-*")
	if err != nil {
		return nil, err
	}
	r := &Redis{dir: dir}
	for attempt := 0; attempt < 5; attempt++ {
		port, err := FreePort()
		if err != nil {
			return nil, err
		}
		err = r.start(ctx, bin, port, extraArgs)
		if errors.Is(err, errPortTaken) {
			continue
		}
		if err != nil {
			r.Stop()
			return nil, err
		}
		return r, nil
	}
	r.Stop()
	return nil, errors.New("redis: no free port after 5 attempts")
}

func (r *Redis) start(ctx context.Context, bin string, port int, extraArgs []string) error {
	logPath := filepath.Join(r.dir, "redis.log")
	args := []string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", r.dir, "--databases", strconv.Itoa(redisDatabases), "--logfile", logPath, "--daemonize", "no"}
	args = append(args, extraArgs...)
	cmd := exec.Command(bin, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting redis-server: %w", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	r.cmd, r.exited, r.Port = cmd, exited, port
	r.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))

	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			log, _ := os.ReadFile(logPath)
			if strings.Contains(string(log), "Address already in use") {
				return errPortTaken
			}
			return fmt.Errorf("redis-server exited during start:\n%s", log)
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		// With TLS on the main port a plain PING gets no answer; the log line is the
		// readiness signal that works for both.
		if log, _ := os.ReadFile(logPath); strings.Contains(string(log), "Ready to accept connections") {
			return nil
		}
		time.Sleep(20 * time.Millisecond) // polling a starting server, not synchronising tests
	}
	return fmt.Errorf("redis-server did not start within 15s; log in %s", logPath)
}

// Stop stops the server and removes its directory.
func (r *Redis) Stop() {
	if r == nil {
		return
	}
	if r.cmd != nil && r.cmd.Process != nil {
		_ = r.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-r.exited:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-r.cmd.Process.Pid, syscall.SIGKILL)
			<-r.exited
		}
	}
	_ = os.RemoveAll(r.dir)
}

// Kill stops the server abruptly (SIGKILL), as a crash would. Used by tests of the
// shop's behaviour when its cache disappears.
func (r *Redis) Kill() {
	if r.cmd != nil && r.cmd.Process != nil {
		_ = syscall.Kill(-r.cmd.Process.Pid, syscall.SIGKILL)
		<-r.exited
	}
}

// URL returns a redis:// URL of logical database db.
func (r *Redis) URL(db int) string {
	return fmt.Sprintf("redis://%s/%d", r.Addr, db)
}

// NewDB returns the URL of a logical database no other test of this process uses.
func (r *Redis) NewDB() (string, error) {
	n := r.nextDB.Add(1)
	if n >= redisDatabases {
		return "", fmt.Errorf("redis: all %d test databases used", redisDatabases)
	}
	return r.URL(int(n)), nil
}

var (
	redisOnce   sync.Once
	redisServer *Redis
	redisErr    error
	redisDBNext atomic.Int64
)

// RedisURL returns a redis:// URL of a logical database no other test of this process
// uses, flushed when t ends. The server is TEST_REDIS_URL's when set, otherwise a
// throwaway server started on first use.
func RedisURL(t testing.TB) string {
	t.Helper()
	if base := os.Getenv("TEST_REDIS_URL"); base != "" {
		u, err := url.Parse(base)
		if err != nil {
			t.Fatalf("testenv: TEST_REDIS_URL: %v", err)
		}
		// Databases 1..15 exist on a default server; 0 is left to whoever else uses it.
		n := redisDBNext.Add(1)%15 + 1
		u.Path = "/" + strconv.FormatInt(n, 10)
		t.Cleanup(func() { flushRedis(u.Host, int(n)) })
		return u.String()
	}
	redisOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		redisServer, redisErr = StartRedis(ctx)
		if redisErr == nil {
			register(redisServer.Stop)
		}
	})
	if redisErr != nil {
		t.Fatalf("testenv: %v", redisErr)
	}
	u, err := redisServer.NewDB()
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	return u
}

// flushRedis empties one logical database of the server at addr.
func flushRedis(addr string, db int) {
	c := redis.NewClient(&redis.Options{Addr: addr, DB: db})
	defer func() { _ = c.Close() }()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = c.FlushDB(ctx).Err()
}
