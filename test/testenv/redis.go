package testenv

import (
	"context"
	"crypto/tls"
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
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisInstall is the command that installs redis-server.
const RedisInstall = "apt-get install -y redis-server"

// ShopRedisUser is the ACL user the shop logs in as on testenv's servers. Its rights are
// exactly controllers.CacheUserAccessString, the access string the operator gives the
// shop's ElastiCache user (see ShopAccessString).
const ShopRedisUser = "shop"

// adminRedisUser is testenv's own user (all rights) for setting servers up and for tests
// that inspect or tamper with what the shop stored.
const adminRedisUser = "testenv-admin"

// RedisOptions shape a throwaway Redis server. The zero value is what ElastiCache
// Serverless presents: cluster mode (one node holding slots 0–16383, announced by
// hostname), TLS only, the shop's ACL user, the default user off.
type RedisOptions struct {
	// Standalone runs the server without cluster support, as an external Redis may be.
	// Only tests that say why use it.
	Standalone bool
	// CA signs the server's certificate (CertFile, KeyFile); nil means TestCA().
	CA *CA
	// Hostname is the host of URL and the name the node announces in CLUSTER SLOTS
	// (cluster-announce-hostname with cluster-preferred-endpoint-type hostname): default
	// "localhost". The server listens on 127.0.0.1 (and ::1 where it exists).
	Hostname string
	// OpenDefaultUser leaves the default user on without a password and creates no shop
	// user; URL then carries no credentials.
	OpenDefaultUser bool
	// ExtraArgs are appended to redis-server's command line.
	ExtraArgs []string

	// noSlots leaves the slots unassigned, and adminPassword and shopPassword replace
	// new random ones: the nodes of a StartRedisCluster share their users.
	noSlots                     bool
	adminPassword, shopPassword string
}

// Redis is a throwaway redis-server without persistence.
type Redis struct {
	// Host and Port are where clients connect; Addr is host:port.
	Host string
	Port int
	Addr string
	// URL is rediss://shop:<password>@host:port, as the operator composes REDIS_URL for
	// an ElastiCache Serverless cache (no database number: cluster mode has only 0).
	URL string
	// CA signed the server certificate: clients trust CA.CAFile (SSL_CERT_FILE) or
	// CA.Pool().
	CA *CA
	// LogPath is redis-server's log.
	LogPath string
	// BusPort is the cluster bus port (0 for a standalone server).
	BusPort int

	opts          RedisOptions
	adminPassword string
	shopPassword  string
	dir           string
	cmd           *exec.Cmd
	exited        chan struct{}
	adminOnce     sync.Once
	admin         redis.UniversalClient
}

// StartRedis starts redis-server on free loopback ports in a temporary directory, shaped
// by o, and waits until it serves: with cluster support, its slots are assigned and the
// cluster state is ok; the shop's ACL user exists.
func StartRedis(ctx context.Context, o RedisOptions) (*Redis, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, fmt.Errorf("redis-server not found on $PATH: install it with `%s`", RedisInstall)
	}
	if o.CA == nil {
		if o.CA, err = TestCA(); err != nil {
			return nil, err
		}
	}
	if o.Hostname == "" {
		o.Hostname = "localhost"
	}
	var shopAccess string
	if !o.OpenDefaultUser {
		if shopAccess, err = ShopAccessString(); err != nil {
			return nil, err
		}
	}
	dir, err := os.MkdirTemp("", "storefront-redis-*")
	if err != nil {
		return nil, err
	}
	if o.adminPassword == "" {
		o.adminPassword, o.shopPassword = randomHex(16), randomHex(16)
	}
	r := &Redis{dir: dir, opts: o, CA: o.CA, Host: o.Hostname, adminPassword: o.adminPassword, shopPassword: o.shopPassword,
		LogPath: filepath.Join(dir, "redis.log")}
	for attempt := 0; attempt < 5; attempt++ {
		err = r.start(ctx, bin)
		if errors.Is(err, errPortTaken) {
			continue
		}
		if err != nil {
			r.Stop()
			return nil, err
		}
		break
	}
	if err != nil {
		r.Stop()
		return nil, errors.New("redis: no free port after 5 attempts")
	}
	if err := r.setUp(ctx, shopAccess); err != nil {
		r.Stop()
		return nil, err
	}
	return r, nil
}

func (r *Redis) start(ctx context.Context, bin string) error {
	port, err := FreePort()
	if err != nil {
		return err
	}
	users := fmt.Sprintf("user default off\nuser %s on >%s ~* &* +@all\n", adminRedisUser, r.adminPassword)
	if r.opts.OpenDefaultUser {
		users = fmt.Sprintf("user default on nopass ~* &* +@all\nuser %s on >%s ~* &* +@all\n", adminRedisUser, r.adminPassword)
	}
	// Users go into a configuration file: on the command line redis-server would quote
	// the spaces of "default off" into the user name.
	conf := filepath.Join(r.dir, "redis.conf")
	if err := os.WriteFile(conf, []byte(users), 0o600); err != nil {
		return err
	}
	args := []string{conf, "--port", "0", "--tls-port", strconv.Itoa(port),
		"--tls-cert-file", r.CA.CertFile, "--tls-key-file", r.CA.KeyFile, "--tls-ca-cert-file", r.CA.CAFile,
		"--tls-auth-clients", "no", "--bind", "127.0.0.1", "-::1",
		"--save", "", "--appendonly", "no", "--dir", r.dir, "--logfile", r.LogPath, "--daemonize", "no"}
	if !r.opts.Standalone {
		bus, err := FreePort()
		if err != nil {
			return err
		}
		_ = os.Remove(filepath.Join(r.dir, "nodes.conf"))
		// What ElastiCache Serverless answers: CLUSTER SLOTS names the endpoint's
		// hostname, not an address.
		args = append(args, "--cluster-enabled", "yes", "--cluster-config-file", filepath.Join(r.dir, "nodes.conf"),
			"--cluster-port", strconv.Itoa(bus), "--tls-cluster", "yes",
			"--cluster-announce-hostname", r.opts.Hostname, "--cluster-preferred-endpoint-type", "hostname")
		r.BusPort = bus
	}
	args = append(args, r.opts.ExtraArgs...)
	_ = os.Remove(r.LogPath)
	cmd := exec.Command(bin, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting redis-server: %w", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	r.cmd, r.exited, r.Port = cmd, exited, port
	r.Addr = net.JoinHostPort(r.Host, strconv.Itoa(port))
	u := url.URL{Scheme: "rediss", Host: r.Addr}
	if !r.opts.OpenDefaultUser {
		u.User = url.UserPassword(ShopRedisUser, r.shopPassword)
	}
	r.URL = u.String()

	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			log, _ := os.ReadFile(r.LogPath)
			if strings.Contains(string(log), "Address already in use") {
				return errPortTaken
			}
			return fmt.Errorf("redis-server exited during start:\n%s", log)
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		// With TLS only a plain PING gets no answer; the log line is the readiness signal.
		if log, _ := os.ReadFile(r.LogPath); strings.Contains(string(log), "Ready to accept connections") {
			return nil
		}
		time.Sleep(20 * time.Millisecond) // polling a starting server, not synchronising tests
	}
	return fmt.Errorf("redis-server did not start within 15s; log in %s", r.LogPath)
}

// setUp assigns the slots and waits for the cluster state, then creates the shop's user.
func (r *Redis) setUp(ctx context.Context, shopAccess string) error {
	c := r.nodeAdmin()
	defer func() { _ = c.Close() }()
	if !r.opts.Standalone && !r.opts.noSlots {
		if err := c.Do(ctx, "CLUSTER", "ADDSLOTSRANGE", 0, 16383).Err(); err != nil {
			return fmt.Errorf("assigning the slots: %w", err)
		}
		if err := waitClusterOK(ctx, c, 1); err != nil {
			return err
		}
	}
	if shopAccess != "" {
		if err := applyShopUser(ctx, c, shopAccess, r.shopPassword); err != nil {
			return err
		}
	}
	return nil
}

// applyShopUser creates the shop's user with exactly the operator's access string, as
// ElastiCache creates a User from its AccessString: from nothing ("reset" is refused in
// an ElastiCache access string, so it is a separate command here), the password apart.
func applyShopUser(ctx context.Context, c *redis.Client, access, password string) error {
	if err := c.Do(ctx, "ACL", "SETUSER", ShopRedisUser, "reset").Err(); err != nil {
		return fmt.Errorf("resetting the shop's ACL user: %w", err)
	}
	args := []any{"ACL", "SETUSER", ShopRedisUser}
	for _, rule := range strings.Fields(access) {
		args = append(args, rule)
	}
	args = append(args, ">"+password)
	if err := c.Do(ctx, args...).Err(); err != nil {
		return fmt.Errorf("ACL SETUSER %s with the operator's access string %q: %w", ShopRedisUser, access, err)
	}
	return nil
}

// ACLUser is a user a server enforces as ElastiCache does an ElastiCache user: the
// rules of its access string and its passwords.
type ACLUser struct {
	Name, AccessString string
	Passwords          []string
}

// SetACLUsers makes the server enforce exactly users besides testenv's own: each one is
// set from nothing in one ACL SETUSER ("reset", its access string, its passwords), so
// that a connection of a user that stays never sees it half set; users not listed are
// deleted (which closes their connections). Nil users opens the default user, as a
// cache without a user group is.
func (r *Redis) SetACLUsers(ctx context.Context, users []ACLUser) error {
	c := r.nodeAdmin()
	defer func() { _ = c.Close() }()
	keep := map[string]bool{adminRedisUser: true}
	if users == nil {
		users = []ACLUser{{Name: "default", AccessString: "on nopass ~* &* +@all"}}
	}
	for _, u := range users {
		keep[u.Name] = true
		args := []any{"ACL", "SETUSER", u.Name, "reset"}
		for _, rule := range strings.Fields(u.AccessString) {
			args = append(args, rule)
		}
		for _, p := range u.Passwords {
			args = append(args, ">"+p)
		}
		if err := c.Do(ctx, args...).Err(); err != nil {
			return fmt.Errorf("ACL SETUSER %s with access string %q: %w", u.Name, u.AccessString, err)
		}
	}
	names, err := c.Do(ctx, "ACL", "USERS").StringSlice()
	if err != nil {
		return fmt.Errorf("ACL USERS: %w", err)
	}
	for _, name := range names {
		if !keep[name] {
			if name == "default" { // Redis keeps a default user: one not in the group can do nothing
				if err := c.Do(ctx, "ACL", "SETUSER", "default", "reset", "off", "-@all").Err(); err != nil {
					return fmt.Errorf("turning the default user off: %w", err)
				}
				continue
			}
			if err := c.Do(ctx, "ACL", "DELUSER", name).Err(); err != nil {
				return fmt.Errorf("ACL DELUSER %s: %w", name, err)
			}
		}
	}
	return nil
}

// waitClusterOK polls CLUSTER INFO until the node reports cluster_state:ok and knows
// nodes nodes.
func waitClusterOK(ctx context.Context, c *redis.Client, nodes int) error {
	deadline := time.Now().Add(30 * time.Second)
	var info string
	for time.Now().Before(deadline) {
		var err error
		info, err = c.ClusterInfo(ctx).Result()
		if err == nil && strings.Contains(info, "cluster_state:ok") &&
			strings.Contains(info, fmt.Sprintf("cluster_known_nodes:%d\r", nodes)) {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		time.Sleep(50 * time.Millisecond) // polling the cluster state
	}
	return fmt.Errorf("the cluster state did not become ok within 30s:\n%s", info)
}

// TLSConfig is what a client of r uses: r's CA and r's host name.
func (r *Redis) TLSConfig() *tls.Config {
	return &tls.Config{RootCAs: r.CA.Pool(), ServerName: r.Host, MinVersion: tls.VersionTLS12}
}

// nodeAdmin is a new client of this node alone, as testenv's admin user.
func (r *Redis) nodeAdmin() *redis.Client {
	return redis.NewClient(&redis.Options{Addr: r.Addr, Username: adminRedisUser, Password: r.adminPassword,
		TLSConfig: r.TLSConfig(), DisableIdentity: true, MaxRetries: -1, DialTimeout: 5 * time.Second})
}

// Admin is a client with every right on r (a cluster client unless r is standalone),
// for tests that inspect or tamper with what the shop stored. Stop closes it.
func (r *Redis) Admin() redis.UniversalClient {
	r.adminOnce.Do(func() {
		if r.opts.Standalone {
			r.admin = r.nodeAdmin()
			return
		}
		r.admin = redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{r.Addr}, Username: adminRedisUser,
			Password: r.adminPassword, TLSConfig: r.TLSConfig(), DisableIdentity: true, MaxRetries: -1})
	})
	return r.admin
}

// Stop stops the server and removes its directory.
func (r *Redis) Stop() {
	if r == nil {
		return
	}
	if r.admin != nil {
		_ = r.admin.Close()
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

// RedisCluster is a throwaway Redis Cluster of several masters on loopback, with TLS on
// the client port and the cluster bus, and the shop's ACL user on every node.
type RedisCluster struct {
	Nodes []*Redis
	// URL is the first node's: clients discover the others from CLUSTER SLOTS.
	URL string
	CA  *CA
}

// StartRedisCluster starts masters cluster-mode servers, joins them with CLUSTER MEET and
// splits the 16384 slots evenly between them.
func StartRedisCluster(ctx context.Context, masters int) (*RedisCluster, error) {
	if masters < 1 {
		return nil, errors.New("redis cluster: at least one master")
	}
	rc := &RedisCluster{}
	admin, shop := randomHex(16), randomHex(16)
	for i := 0; i < masters; i++ {
		r, err := StartRedis(ctx, RedisOptions{noSlots: true, adminPassword: admin, shopPassword: shop})
		if err != nil {
			rc.Stop()
			return nil, err
		}
		rc.Nodes = append(rc.Nodes, r)
	}
	rc.URL, rc.CA = rc.Nodes[0].URL, rc.Nodes[0].CA
	first := rc.Nodes[0].nodeAdmin()
	defer func() { _ = first.Close() }()
	for _, n := range rc.Nodes[1:] {
		// MEET takes an address; the nodes then announce their hostname.
		if err := first.Do(ctx, "CLUSTER", "MEET", "127.0.0.1", n.Port, n.BusPort).Err(); err != nil {
			rc.Stop()
			return nil, fmt.Errorf("joining the cluster: %w", err)
		}
	}
	per := 16384 / masters
	for i, n := range rc.Nodes {
		from, to := i*per, (i+1)*per-1
		if i == masters-1 {
			to = 16383
		}
		c := n.nodeAdmin()
		err := c.Do(ctx, "CLUSTER", "ADDSLOTSRANGE", from, to).Err()
		_ = c.Close()
		if err != nil {
			rc.Stop()
			return nil, fmt.Errorf("assigning slots %d-%d: %w", from, to, err)
		}
	}
	for _, n := range rc.Nodes {
		c := n.nodeAdmin()
		err := waitClusterOK(ctx, c, masters)
		_ = c.Close()
		if err != nil {
			rc.Stop()
			return nil, err
		}
	}
	return rc, nil
}

// Admin is a cluster client with every right, for tests that inspect the keys.
func (rc *RedisCluster) Admin() redis.UniversalClient { return rc.Nodes[0].Admin() }

// Stop stops every node.
func (rc *RedisCluster) Stop() {
	for _, n := range rc.Nodes {
		n.Stop()
	}
}

var (
	redisOnce   sync.Once
	redisServer *Redis
	redisErr    error
)

// SharedRedis returns this process's shared throwaway server (started on first use,
// stopped by Main): ElastiCache Serverless's shape, see RedisOptions. Tests do not get a
// database each, since cluster mode has only one; the shop's keys are its own anyway
// (they start with a prefix derived from its PostgreSQL database). Tests that kill,
// wipe or reconfigure their server start one of their own with StartRedis.
func SharedRedis(t testing.TB) *Redis {
	t.Helper()
	redisOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		redisServer, redisErr = StartRedis(ctx, RedisOptions{})
		if redisErr == nil {
			register(redisServer.Stop)
		}
	})
	if redisErr != nil {
		t.Fatalf("testenv: %v", redisErr)
	}
	return redisServer
}

// RedisURL returns the shared server's URL (rediss://shop:<password>@localhost:<port>).
// Clients trust its certificate through TestCA().
func RedisURL(t testing.TB) string {
	t.Helper()
	return SharedRedis(t).URL
}
