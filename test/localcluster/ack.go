/*
Copyright 2026 The Storefront Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package localcluster

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	"github.com/storefront-operator/storefront/test/fake"
	"github.com/storefront-operator/storefront/test/testenv"
)

// ackPlayer is the fake.Provisioner behind test/fake's ACK stand-in, which plays ACK's
// rds-controller and elasticache-controller here too, over test/fake's AWS: each DB
// cluster AWS creates gets a throwaway PostgreSQL server with TLS, holding the database
// and the master user (its password from the referenced Secret, which the stand-in
// reads as ACK does); each serverless cache a redis-server that accepts TLS only, as
// ElastiCache Serverless does. The servers belong to the AWS resources (account,
// region, identifier), not to the objects: a retained cluster keeps its server after
// its object is gone (Cluster.RetainedDatabases), and an object that adopts it is
// served by that server, data included. AWS calls Deprovision once it is done
// deleting: the final snapshot the rds annotations asked for (a pg_dump file, see
// Cluster.Snapshots), then the server stops.
type ackPlayer struct {
	ca       *testenv.CA
	dir      string
	guard    *guard
	standIns *fake.StandIns

	mu        sync.Mutex
	databases map[fake.AWSKey]*dbServer
	caches    map[fake.AWSKey]*cacheServer
	snapshots map[string]string // final snapshot identifier → dump file
	copies    map[string]dbCopy // DB cluster snapshot identifier → its copy (ack_snapshot.go)
}

// dbServer is the PostgreSQL server of one DB cluster.
type dbServer struct {
	pg       *testenv.Postgres
	endpoint fake.Endpoint
	database string
	user     string
	logPath  string
}

// cacheServer is the redis-server of one serverless cache.
type cacheServer struct {
	redis    *testenv.Redis
	endpoint fake.Endpoint
	logPath  string
}

// RetainedDatabase is a database whose DBCluster was deleted with the retain policy: its
// server keeps running until the cluster stops.
type RetainedDatabase struct {
	// Namespace and Name are the DBCluster's; Identifier its dbClusterIdentifier.
	Namespace, Name, Identifier string
	// Endpoint is where the server listens (TLS required); Database and User the
	// cluster's databaseName and masterUsername.
	Endpoint       fake.Endpoint
	Database, User string
}

// ackRetry stands for the ACK runtime's 30-second requeue of a resource that is not
// synced (fake.Options.ACKRetry).
const ackRetry = 200 * time.Millisecond

// setupACK runs fake's ACK stand-in on mgr with the ackPlayer behind its AWS.
func (c *Cluster) setupACK(mgr manager.Manager) error {
	c.ack = &ackPlayer{
		ca: c.ca, dir: filepath.Join(c.dir, "ack"), guard: c.guard,
		databases: map[fake.AWSKey]*dbServer{}, caches: map[fake.AWSKey]*cacheServer{}, snapshots: map[string]string{}, copies: map[string]dbCopy{},
	}
	acct := fake.DefaultAWSAccount
	if region := c.opts.Operator.AWSRegion; region != "" {
		acct.Region = region
	}
	if err := os.MkdirAll(filepath.Join(c.ack.dir, "snapshots"), 0o755); err != nil {
		return err
	}
	for _, gvk := range []schema.GroupVersionKind{fake.DBSubnetGroupGVK, fake.DBClusterGVK, fake.DBInstanceGVK, fake.ServerlessCacheGVK} {
		if _, err := mgr.GetRESTMapper().RESTMapping(gvk.GroupKind(), gvk.Version); err != nil {
			return fmt.Errorf("the ACK CRD of %s is not installed: %w", gvk.Kind, err)
		}
	}
	s, err := fake.SetupACK(mgr, fake.Options{ACKDelay: c.opts.ACKDelay, ACKRetry: ackRetry, AWSAccount: acct, Provisioner: c.ack})
	c.ack.standIns = s
	return err
}

// ACK is the ACK stand-in, with its AWS.
func (c *Cluster) ACK() *fake.StandIns { return c.ack.standIns }

// RetainedDatabases lists the databases kept after their DBCluster was deleted with
// the retain policy (any value but delete), whose resource AWS still holds.
func (c *Cluster) RetainedDatabases() []RetainedDatabase {
	var out []RetainedDatabase
	for _, d := range c.ack.standIns.ACKDeletions() {
		if d.Kind != fake.DBClusterGVK.Kind || d.Policy == "delete" {
			continue
		}
		if _, ok := c.ack.standIns.AWS().Get(d.Resource); !ok {
			continue
		}
		c.ack.mu.Lock()
		db := c.ack.databases[d.Resource]
		c.ack.mu.Unlock()
		if db != nil {
			out = append(out, RetainedDatabase{Namespace: d.Namespace, Name: d.Name, Identifier: d.Resource.ID,
				Endpoint: db.endpoint, Database: db.database, User: db.user})
		}
	}
	return out
}

// Snapshots maps the final snapshots taken of deleted DBClusters to their dump files.
func (c *Cluster) Snapshots() map[string]string {
	c.ack.mu.Lock()
	defer c.ack.mu.Unlock()
	out := map[string]string{}
	for k, v := range c.ack.snapshots {
		out[k] = v
	}
	return out
}

// Stop stops every data store server.
func (a *ackPlayer) Stop() {
	a.mu.Lock()
	dbs, caches := a.databases, a.caches
	a.databases, a.caches = map[fake.AWSKey]*dbServer{}, map[fake.AWSKey]*cacheServer{}
	a.mu.Unlock()
	var wg sync.WaitGroup
	for _, db := range dbs {
		wg.Go(db.pg.Stop)
	}
	for _, c := range caches {
		wg.Go(c.redis.Stop)
	}
	wg.Wait()
}

// Logs lists the data store servers' logs.
func (a *ackPlayer) Logs() []LogFile {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []LogFile
	for _, db := range a.databases {
		out = append(out, LogFile{Name: fmt.Sprintf("postgres %s:%d", db.endpoint.Address, db.endpoint.Port), Path: db.logPath})
	}
	for _, c := range a.caches {
		out = append(out, LogFile{Name: fmt.Sprintf("redis %s:%d", c.endpoint.Address, c.endpoint.Port), Path: c.logPath})
	}
	return out
}

// Provision starts a DB cluster's PostgreSQL (with its database and master user) or a
// serverless cache's Redis.
func (a *ackPlayer) Provision(ctx context.Context, r fake.ProvisionRequest) (fake.Endpoint, error) {
	switch r.Key.Kind {
	case fake.DBClusterGVK.Kind:
		db, err := a.startDatabase(ctx, r.Database, r.MasterUsername, r.MasterPassword)
		if err != nil {
			return fake.Endpoint{}, err
		}
		a.mu.Lock()
		a.databases[r.Key] = db
		a.mu.Unlock()
		return db.endpoint, nil
	case fake.ServerlessCacheGVK.Kind:
		cache, err := a.startCache(ctx)
		if err != nil {
			return fake.Endpoint{}, err
		}
		a.mu.Lock()
		a.caches[r.Key] = cache
		a.mu.Unlock()
		return cache.endpoint, nil
	}
	return fake.Endpoint{}, fmt.Errorf("no server for a %s", r.Key.Kind)
}

// ApplyCacheUsers has a serverless cache's redis-server enforce the users of its user
// group, with ACL SETUSER from each user's access string and passwords, as ElastiCache
// does: a connection without credentials is refused (NOAUTH) and a command outside a
// user's access string too (NOPERM).
func (a *ackPlayer) ApplyCacheUsers(ctx context.Context, key fake.AWSKey, users []fake.CacheUser) error {
	a.mu.Lock()
	cache := a.caches[key]
	a.mu.Unlock()
	if cache == nil {
		return errors.New("no cache server for the serverless cache")
	}
	var acl []testenv.ACLUser
	if users != nil {
		acl = []testenv.ACLUser{}
	}
	for _, u := range users {
		acl = append(acl, testenv.ACLUser{Name: u.Name, AccessString: u.AccessString, Passwords: u.Passwords})
	}
	return cache.redis.SetACLUsers(ctx, acl)
}

// ResetMasterPassword gives the master user a new password.
func (a *ackPlayer) ResetMasterPassword(ctx context.Context, key fake.AWSKey, user, password string) error {
	a.mu.Lock()
	db := a.databases[key]
	a.mu.Unlock()
	if db == nil {
		return errors.New("no database server for the cluster")
	}
	return db.exec(ctx, "ALTER ROLE "+pgx.Identifier{user}.Sanitize()+" PASSWORD "+quoteLiteral(password))
}

// Deprovision takes a deleted DB cluster's final snapshot when asked and stops its
// server, or a serverless cache's.
func (a *ackPlayer) Deprovision(ctx context.Context, key fake.AWSKey, finalSnapshot string) error {
	a.mu.Lock()
	db, cache := a.databases[key], a.caches[key]
	a.mu.Unlock()
	if db != nil {
		if finalSnapshot != "" {
			if err := a.snapshot(ctx, db, finalSnapshot); err != nil {
				return fmt.Errorf("taking the final snapshot %s: %w", finalSnapshot, err)
			}
		}
		db.pg.Stop()
	}
	if cache != nil {
		cache.redis.Stop()
	}
	a.mu.Lock()
	delete(a.databases, key)
	delete(a.caches, key)
	a.mu.Unlock()
	return nil
}

// snapshot dumps the cluster's database into snapshots/<id>.sql.
func (a *ackPlayer) snapshot(ctx context.Context, db *dbServer, id string) error {
	pgDump, err := PgDumpPath()
	if err != nil {
		return err
	}
	u, err := url.Parse(db.pg.URL)
	if err != nil {
		return err
	}
	u.Path = "/" + db.database
	path := filepath.Join(a.dir, "snapshots", id+".sql")
	cmd := exec.CommandContext(ctx, pgDump, "--no-owner", "--file", path, u.String())
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("pg_dump: %w: %s", err, out)
	}
	a.mu.Lock()
	a.snapshots[id] = path
	a.mu.Unlock()
	return nil
}

// startDatabase starts a PostgreSQL server that requires TLS (with the throwaway CA's
// certificate) and a password for everyone but its superuser, and creates the master
// user and the database it owns.
func (a *ackPlayer) startDatabase(ctx context.Context, database, user, password string) (*dbServer, error) {
	pg, err := testenv.StartPostgres(ctx)
	if err != nil {
		return nil, err
	}
	db := &dbServer{pg: pg, endpoint: fake.Endpoint{Address: podIP, Port: int64(pg.Port)}, database: database, user: user}
	ok := false
	defer func() {
		if !ok {
			pg.Stop()
		}
	}()
	var dataDir string
	if err := db.query(ctx, "SHOW data_directory", &dataDir); err != nil {
		return nil, err
	}
	db.logPath = filepath.Join(filepath.Dir(dataDir), "postgres.log")
	if bin, err := testenv.FindPostgresBin(); err == nil {
		_ = a.guard.Kill(childrenIn(bin)...)
	}
	_ = a.guard.Remove(filepath.Dir(dataDir))
	if err := a.enableTLS(ctx, db, dataDir); err != nil {
		return nil, err
	}
	// RDS's master user may create databases and roles and is no superuser (a member of
	// rds_superuser, which is none either): the shop's migrations make the application
	// roles with it.
	for _, stmt := range []string{
		"CREATE ROLE " + pgx.Identifier{user}.Sanitize() + " LOGIN CREATEDB CREATEROLE NOSUPERUSER PASSWORD " + quoteLiteral(password),
		"CREATE DATABASE " + pgx.Identifier{database}.Sanitize() + " OWNER " + pgx.Identifier{user}.Sanitize(),
	} {
		if err := db.exec(ctx, stmt); err != nil {
			return nil, err
		}
	}
	// What the shop will do: TLS verified against the CA, the master user's password.
	u := url.URL{Scheme: "postgres", User: url.UserPassword(user, password), Host: fmt.Sprintf("%s:%d", podIP, pg.Port),
		Path: "/" + database, RawQuery: url.Values{"sslmode": {"verify-full"}, "sslrootcert": {a.ca.CAFile}}.Encode()}
	conn, err := pgx.Connect(ctx, u.String())
	if err != nil {
		return nil, fmt.Errorf("connecting as the master user with TLS: %w", err)
	}
	_ = conn.Close(ctx)
	ok = true
	return db, nil
}

// enableTLS turns TLS on and requires it (and a password) from everyone but the
// superuser, as RDS does with rds.force_ssl; PostgreSQL applies both on reload.
func (a *ackPlayer) enableTLS(ctx context.Context, db *dbServer, dataDir string) error {
	st, err := os.Stat(dataDir)
	if err != nil {
		return err
	}
	owner := st.Sys().(*syscall.Stat_t)
	for _, f := range []struct {
		from, to string
		mode     os.FileMode
	}{{a.ca.CertFile, "server.crt", 0o644}, {a.ca.KeyFile, "server.key", 0o600}} {
		b, err := os.ReadFile(f.from)
		if err != nil {
			return err
		}
		to := filepath.Join(dataDir, f.to)
		if err := os.WriteFile(to, b, f.mode); err != nil {
			return err
		}
		// PostgreSQL refuses a key it does not own.
		if err := os.Chown(to, int(owner.Uid), int(owner.Gid)); err != nil {
			return err
		}
	}
	hba := `# Written by localcluster: TLS and a password for all but the superuser.
local all all trust
host all postgres 127.0.0.1/32 trust
host all postgres ::1/128 trust
hostssl all all 127.0.0.1/32 scram-sha-256
hostssl all all ::1/128 scram-sha-256
`
	hbaPath := filepath.Join(dataDir, "pg_hba.conf")
	if err := os.WriteFile(hbaPath, []byte(hba), 0o600); err != nil {
		return err
	}
	if err := os.Chown(hbaPath, int(owner.Uid), int(owner.Gid)); err != nil {
		return err
	}
	for _, stmt := range []string{
		"ALTER SYSTEM SET ssl = on",
		"ALTER SYSTEM SET ssl_cert_file = 'server.crt'",
		"ALTER SYSTEM SET ssl_key_file = 'server.key'",
		"ALTER SYSTEM SET password_encryption = 'scram-sha-256'",
		"SELECT pg_reload_conf()",
	} {
		if err := db.exec(ctx, stmt); err != nil {
			return err
		}
	}
	return nil
}

// exec runs one statement as the superuser on the server's postgres database.
func (db *dbServer) exec(ctx context.Context, stmt string) error {
	conn, err := pgx.Connect(ctx, db.pg.URL)
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close(ctx) }()
	if _, err := conn.Exec(ctx, stmt); err != nil {
		return fmt.Errorf("%s: %w", firstWords(stmt), err)
	}
	return nil
}

func (db *dbServer) query(ctx context.Context, q string, dest ...any) error {
	conn, err := pgx.Connect(ctx, db.pg.URL)
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close(ctx) }()
	return conn.QueryRow(ctx, q).Scan(dest...)
}

// firstWords keeps a statement's first words for an error message (no password).
func firstWords(stmt string) string {
	n := 0
	for i, r := range stmt {
		if r == ' ' {
			if n++; n == 3 {
				return stmt[:i]
			}
		}
	}
	return stmt
}

// quoteLiteral quotes s as an SQL string literal: DDL takes no parameters.
func quoteLiteral(s string) string {
	out := []byte{'\''}
	for i := 0; i < len(s); i++ {
		if s[i] == '\'' {
			out = append(out, '\'')
		}
		out = append(out, s[i])
	}
	return string(append(out, '\''))
}

// startCache starts a redis-server shaped like an ElastiCache Serverless endpoint: cluster
// mode with one node holding every slot and announcing the endpoint's name in CLUSTER
// SLOTS (cluster-announce-hostname, cluster-preferred-endpoint-type hostname), TLS only,
// its certificate from the cluster's CA. The default user is on without a password, as a
// cache without a user group is, until AWS has the server enforce the users of the
// cache's user group (ApplyCacheUsers).
func (a *ackPlayer) startCache(ctx context.Context) (*cacheServer, error) {
	r, err := testenv.StartRedis(ctx, testenv.RedisOptions{
		CA:       a.ca,
		Hostname: podIP, OpenDefaultUser: true,
	})
	if err != nil {
		return nil, err
	}
	cache := &cacheServer{redis: r, endpoint: fake.Endpoint{Address: podIP, Port: int64(r.Port)}, logPath: r.LogPath}
	if bin, err := exec.LookPath("redis-server"); err == nil {
		_ = a.guard.Kill(childrenIn(filepath.Dir(bin))...)
	}
	_ = a.guard.Remove(filepath.Dir(cache.logPath))
	// What the shop will do: rediss:// verified against the CA, in cluster mode.
	roots := a.ca.Pool()
	if roots == nil {
		r.Stop()
		return nil, fmt.Errorf("no CA certificate in %s", a.ca.CAFile)
	}
	addr := podIP + ":" + strconv.Itoa(r.Port)
	opts, err := redis.ParseClusterURL("rediss://" + addr)
	if err != nil {
		r.Stop()
		return nil, err
	}
	opts.TLSConfig.RootCAs, opts.DisableIdentity = roots, true
	rc := redis.NewClusterClient(opts)
	defer func() { _ = rc.Close() }()
	//lint:ignore SA1019 CLUSTER SLOTS is what ElastiCache Serverless documents and the shop reads
	slots, err := rc.ClusterSlots(ctx).Result()
	if err != nil {
		r.Stop()
		return nil, fmt.Errorf("reaching redis-server with TLS: %w", err)
	}
	if len(slots) != 1 || slots[0].Start != 0 || slots[0].End != 16383 || slots[0].Nodes[0].Addr != addr {
		r.Stop()
		return nil, fmt.Errorf("redis-server's CLUSTER SLOTS is %+v, want 0-16383 on %s", slots, addr)
	}
	return cache, nil
}
