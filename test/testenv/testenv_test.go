package testenv_test

import (
	"context"
	"crypto/tls"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
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

// shopClient is what the shop opens for u: a cluster client logging in as the shop's
// user over TLS verified against testenv's CA.
func shopClient(t *testing.T, u string) *redis.ClusterClient {
	t.Helper()
	opts, err := redis.ParseClusterURL(u)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := testenv.TestCA()
	if err != nil {
		t.Fatal(err)
	}
	opts.TLSConfig.RootCAs = ca.Pool()
	opts.DisableIdentity = true
	opts.MaxRetries = -1
	c := redis.NewClusterClient(opts)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// TestRedisIsWhatElastiCacheServerlessPresents pins the shape of the shared server to
// what ElastiCache Serverless answers (docs.aws.amazon.com/AmazonElastiCache/latest/dg/
// SupportedCommands.html: CLUSTER SLOTS "returns state about the single virtual shard";
// .../Clusters.RBAC.html: access only through RBAC users; .../in-transit-encryption.html:
// serverless caches take TLS only).
func TestRedisIsWhatElastiCacheServerlessPresents(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	srv := testenv.SharedRedis(t)
	u, err := url.Parse(testenv.RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	if pw, _ := u.User.Password(); u.Scheme != "rediss" || u.User.Username() != testenv.ShopRedisUser || pw == "" || u.Hostname() != "localhost" || u.Path != "" {
		t.Fatalf("URL %s: want rediss://shop:<password>@localhost:<port>", u.Redacted())
	}
	c := shopClient(t, u.String())

	t.Run("one slot range on the announced hostname", func(t *testing.T) {
		//lint:ignore SA1019 CLUSTER SLOTS is what ElastiCache Serverless documents and the shop reads
		slots, err := c.ClusterSlots(ctx).Result()
		if err != nil {
			t.Fatal(err)
		}
		want := []redis.ClusterSlot{{Start: 0, End: 16383, Nodes: []redis.ClusterNode{{Addr: srv.Addr}}}}
		if len(slots) != 1 || slots[0].Start != 0 || slots[0].End != 16383 || len(slots[0].Nodes) != 1 || slots[0].Nodes[0].Addr != want[0].Nodes[0].Addr {
			t.Errorf("CLUSTER SLOTS = %+v, want %+v", slots, want)
		}
	})
	t.Run("the shop's user reads and writes its keys", func(t *testing.T) {
		if err := c.Set(ctx, "shop:testenv:greeting", "hello", time.Minute).Err(); err != nil {
			t.Fatalf("SET: %v", err)
		}
		// The shop reads with GETRANGE (shop/platform/cache: bounded reads).
		if got, err := c.GetRange(ctx, "shop:testenv:greeting", 0, 1023).Result(); err != nil || got != "hello" {
			t.Fatalf("GETRANGE = %q, %v; want hello", got, err)
		}
	})
	for name, tc := range map[string]struct {
		args []any
		want string
	}{
		"a key outside shop:* is refused":     {[]any{"set", "other:key", "x"}, "NOPERM"},
		"listing keys is refused":             {[]any{"keys", "*"}, "NOPERM"},
		"flushing is refused":                 {[]any{"flushall"}, "NOPERM"},
		"reconfiguring is refused":            {[]any{"config", "set", "maxmemory", "1"}, "NOPERM"},
		"a read of many keys is refused":      {[]any{"mget", "shop:a", "shop:b"}, "NOPERM"},
		"another database is refused":         {[]any{"select", "1"}, "NOPERM"},
		"a channel outside shop:* is refused": {[]any{"publish", "news", "x"}, "NOPERM"},
	} {
		t.Run(name, func(t *testing.T) {
			err := c.Do(ctx, tc.args...).Err()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%v: %v, want an error with %s", tc.args, err, tc.want)
			}
		})
	}
	t.Run("a read across slots is refused even with every right", func(t *testing.T) {
		err := srv.Admin().MGet(ctx, "shop:a", "shop:b").Err()
		if err == nil || !strings.HasPrefix(err.Error(), "CROSSSLOT") {
			t.Errorf("MGET of two slots: %v, want CROSSSLOT", err)
		}
	})
	t.Run("the default user is off", func(t *testing.T) {
		ca, _ := testenv.TestCA()
		anon := redis.NewClient(&redis.Options{Addr: srv.Addr, TLSConfig: &tls.Config{RootCAs: ca.Pool(), ServerName: "localhost"},
			DisableIdentity: true, MaxRetries: -1})
		defer func() { _ = anon.Close() }()
		if err := anon.Ping(ctx).Err(); err == nil || !strings.Contains(err.Error(), "NOAUTH") {
			t.Errorf("PING without credentials: %v, want NOAUTH", err)
		}
	})
	t.Run("plain TCP gets no answer", func(t *testing.T) {
		plain := redis.NewClient(&redis.Options{Addr: srv.Addr, DialTimeout: time.Second, ReadTimeout: time.Second, MaxRetries: -1, DisableIdentity: true})
		defer func() { _ = plain.Close() }()
		if err := plain.Ping(ctx).Err(); err == nil {
			t.Error("PING over plain TCP succeeded")
		}
	})
}

func TestShopAccessStringIsTheOperators(t *testing.T) {
	got, err := testenv.ShopAccessString()
	if err != nil {
		t.Fatal(err)
	}
	// The literal is pinned in controllers/cache_access_test.go; here only that it was read.
	if !strings.HasPrefix(got, "on ~shop:* &shop:* -@all ") {
		t.Errorf("ShopAccessString() = %q", got)
	}
}

func TestRedisClusterOfThreeMasters(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rc, err := testenv.StartRedisCluster(ctx, 3)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rc.Stop)
	c := shopClient(t, rc.URL)
	//lint:ignore SA1019 CLUSTER SLOTS is what ElastiCache Serverless documents and the shop reads
	slots, err := c.ClusterSlots(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	owners := map[string]int{}
	for _, s := range slots {
		owners[s.Nodes[0].Addr] += s.End - s.Start + 1
	}
	if len(owners) != 3 {
		t.Fatalf("slots owned by %v, want three nodes", owners)
	}
	for addr, n := range owners {
		if !strings.HasPrefix(addr, "localhost:") || n < 5000 {
			t.Errorf("%s owns %d slots", addr, n)
		}
	}
	// Keys in slots of every node, through the one seed URL.
	for i := 0; i < 30; i++ {
		if err := c.Set(ctx, "shop:testenv:"+strconv.Itoa(i), i, time.Minute).Err(); err != nil {
			t.Fatalf("SET through the cluster: %v", err)
		}
	}
	var mu sync.Mutex
	perNode := map[string]int64{}
	err = rc.Admin().(*redis.ClusterClient).ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error {
		k, err := n.DBSize(ctx).Result()
		mu.Lock()
		defer mu.Unlock()
		perNode[n.Options().Addr] = k
		return err
	})
	if err != nil || len(perNode) != 3 {
		t.Fatalf("DBSIZE per master: %v, %v", perNode, err)
	}
	for addr, n := range perNode {
		if n == 0 {
			t.Errorf("no key on %s: %v", addr, perNode)
		}
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
		"elasticache.services.k8s.aws_users.yaml",
		"elasticache.services.k8s.aws_usergroups.yaml",
	} {
		if _, err := readFile(dir, f); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	if !real {
		return
	}
	// The real set has the CRDs of product images and the CDN in its subfolder, and
	// every suite's API server loads it.
	paths := testenv.ACKCRDPaths(dir)
	if got, want := paths[len(paths)-1], filepath.Join(dir, testenv.ImagesCDNSubdir); got != want {
		t.Errorf("ACKCRDPaths(%s) = %v, want it to end with %s", dir, paths, want)
	}
	for _, f := range []string{
		"s3.services.k8s.aws_buckets.yaml",
		"cloudfront.services.k8s.aws_distributions.yaml",
		"cloudfront.services.k8s.aws_originaccesscontrols.yaml",
		"cloudfront.services.k8s.aws_cachepolicies.yaml",
		"acm.services.k8s.aws_certificates.yaml",
	} {
		if _, err := readFile(filepath.Join(dir, testenv.ImagesCDNSubdir), f); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}
