package cache

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// redisLog sends go-redis's own messages (reconnection attempts while Redis is down) to
// the JSON log at debug level instead of its plain-text stderr logger: the cache's
// failures are already reported once per RetryAfter, at warn.
type redisLog struct{}

func (redisLog) Printf(ctx context.Context, format string, v ...any) {
	slog.Default().DebugContext(ctx, "Redis client: "+fmt.Sprintf(format, v...))
}

func init() { redis.SetLogger(redisLog{}) }

// OpenRedis returns a client for REDIS_URL: redis:// or rediss:// (TLS verified against
// roots, or the system's trust store when roots is nil), with the user and password of
// the URL, and short timeouts, since the cache must never make a request slow.
//
// It is always go-redis's ClusterClient, the client for what ElastiCache Serverless
// presents (cluster mode, CLUSTER SLOTS naming the endpoint's hostname). Its slot map
// comes from CLUSTER SLOTS on the URL's server; a server without cluster support (an
// external standalone Redis) answers that with an error, and is then mapped as one node
// holding every slot, as go-redis's own manual set-up does (example_test.go,
// ExampleNewClusterClient_manualSetup). The choice is made on every reload of the map,
// so a server unreachable at start is classified when it answers.
//
// The client sends only the commands of controllers.CacheUserAccessString's list: no
// CLIENT SETINFO (DisableIdentity), no CLIENT MAINT_NOTIFICATIONS, no CLIENT SETNAME.
func OpenRedis(redisURL string, roots *x509.CertPool) (*Redis, error) {
	o, err := redis.ParseURL(redisURL)
	if err != nil {
		// The parse error may quote the URL with its password: say only what failed.
		return nil, errors.New("REDIS_URL cannot be parsed as a redis:// or rediss:// URL")
	}
	node := &redis.Options{
		Addr: o.Addr, Username: o.Username, Password: o.Password, DB: o.DB,
		Protocol: 3, DisableIdentity: true,
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
		DialTimeout:              time.Second, ReadTimeout: 500 * time.Millisecond, WriteTimeout: 500 * time.Millisecond,
		MaxRetries: 1, PoolSize: 2,
	}
	if o.TLSConfig != nil {
		base := o.TLSConfig.Clone()
		base.MinVersion = tls.VersionTLS12
		if roots != nil {
			base.RootCAs = roots
		}
		node.Dialer = tlsDialer(base, node.DialTimeout)
	}
	seed := redis.NewClient(node)
	opts := &redis.ClusterOptions{
		Addrs: []string{o.Addr}, Username: o.Username, Password: o.Password,
		Protocol: node.Protocol, DisableIdentity: true,
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
		Dialer:                   node.Dialer,
		DialTimeout:              node.DialTimeout, ReadTimeout: node.ReadTimeout, WriteTimeout: node.WriteTimeout,
		MaxRetries:   1,
		ClusterSlots: clusterSlots(seed, o.Addr),
	}
	if o.DB > 0 {
		// Only a standalone server has databases; a cluster refuses SELECT, and says so.
		db := o.DB
		opts.OnConnect = func(ctx context.Context, cn *redis.Conn) error { return cn.Select(ctx, db).Err() }
	}
	return &Redis{ClusterClient: redis.NewClusterClient(opts), seed: seed}, nil
}

// Redis is the shop's Redis client (see OpenRedis).
type Redis struct {
	*redis.ClusterClient
	// seed reads the slot map from the URL's server.
	seed *redis.Client
}

// Close closes the client's connections.
func (r *Redis) Close() error { return errors.Join(r.ClusterClient.Close(), r.seed.Close()) }

// clusterSlots reads the slot map from the URL's server: CLUSTER SLOTS, or, from a server
// without cluster support, the whole range on that server.
func clusterSlots(seed *redis.Client, addr string) func(context.Context) ([]redis.ClusterSlot, error) {
	return func(ctx context.Context) ([]redis.ClusterSlot, error) {
		// CLUSTER SLOTS, deprecated since Redis 7 for CLUSTER SHARDS, is what go-redis's own
		// slot loader reads and what ElastiCache Serverless documents; its answer names
		// each node's endpoint and client port directly.
		//lint:ignore SA1019 see above
		slots, err := seed.ClusterSlots(ctx).Result()
		if err != nil && strings.Contains(err.Error(), "cluster support disabled") {
			return []redis.ClusterSlot{{Start: 0, End: 16383, Nodes: []redis.ClusterNode{{Addr: addr}}}}, nil
		}
		return slots, err
	}
}

// tlsDialer dials TLS with the host of each address as the server name: the nodes of a
// cluster are named by CLUSTER SLOTS, not by the URL. An address without a host keeps the
// URL's: go-redis turns a loopback IP that CLUSTER SLOTS names into ":port" when the map
// comes from a ClusterSlots function (osscluster.go, newClusterState and
// replaceLoopbackHost, with no origin), and Go dials ":port" on the local system.
func tlsDialer(base *tls.Config, timeout time.Duration) func(context.Context, string, string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		cfg := base.Clone()
		if host, _, err := net.SplitHostPort(addr); err == nil && host != "" && !cfg.InsecureSkipVerify {
			cfg.ServerName = host
		}
		d := &tls.Dialer{NetDialer: &net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}, Config: cfg}
		return d.DialContext(ctx, network, addr)
	}
}
