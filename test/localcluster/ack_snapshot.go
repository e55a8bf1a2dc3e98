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

// DB cluster snapshots on the local cluster's PostgreSQL servers (fake.Snapshotter): a
// snapshot is a pg_dump of the cluster's database plus its roles with their password
// hashes as they were, as an Aurora snapshot holds the whole cluster volume; a restore
// is a new server with those roles and that dump, so the master user and the shop's
// roles log in with the passwords of the snapshot's time.

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/jackc/pgx/v5"

	"github.com/storefront-operator/storefront/test/fake"
	"github.com/storefront-operator/storefront/test/testenv"
)

// dbRole is a role of a snapshot: its name, attributes and password hash.
type dbRole struct {
	name                        string
	login, createDB, createRole bool
	password                    *string // SCRAM verifier, nil: none
}

// dbCopy is a snapshot of a DB cluster.
type dbCopy struct {
	dump, database, user string
	roles                []dbRole
}

var _ fake.Snapshotter = (*ackPlayer)(nil)

// Snapshot dumps the cluster's database and roles.
func (a *ackPlayer) Snapshot(ctx context.Context, cluster, snapshot fake.AWSKey) error {
	a.mu.Lock()
	db := a.databases[cluster]
	a.mu.Unlock()
	if db == nil {
		return errors.New("no database server for the cluster")
	}
	conn, err := pgx.Connect(ctx, db.pg.URL)
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close(ctx) }()
	rows, err := conn.Query(ctx, `SELECT rolname, rolcanlogin, rolcreatedb, rolcreaterole, rolpassword FROM pg_authid
		WHERE NOT rolsuper AND rolname !~ '^pg_' ORDER BY rolname`)
	if err != nil {
		return fmt.Errorf("reading the roles: %w", err)
	}
	c := dbCopy{database: db.database, user: db.user}
	for rows.Next() {
		var r dbRole
		if err := rows.Scan(&r.name, &r.login, &r.createDB, &r.createRole, &r.password); err != nil {
			rows.Close()
			return err
		}
		c.roles = append(c.roles, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	pgDump, err := PgDumpPath()
	if err != nil {
		return err
	}
	u, err := url.Parse(db.pg.URL)
	if err != nil {
		return err
	}
	u.Path = "/" + db.database
	c.dump = filepath.Join(a.dir, "snapshots", snapshot.ID+".sql")
	if out, err := exec.CommandContext(ctx, pgDump, "--file", c.dump, u.String()).CombinedOutput(); err != nil {
		return fmt.Errorf("pg_dump: %w: %s", err, out)
	}
	a.mu.Lock()
	a.copies[snapshot.ID] = c
	a.mu.Unlock()
	return nil
}

// Restore starts a new server with the snapshot's roles, passwords and data.
func (a *ackPlayer) Restore(ctx context.Context, snapshot fake.AWSKey, r fake.ProvisionRequest) (fake.Endpoint, error) {
	a.mu.Lock()
	c, ok := a.copies[snapshot.ID]
	a.mu.Unlock()
	if !ok {
		return fake.Endpoint{}, fmt.Errorf("no copy of snapshot %s (a final snapshot keeps no roles)", snapshot.ID)
	}
	psql, err := psqlPath()
	if err != nil {
		return fake.Endpoint{}, err
	}
	// The master user's password is replaced by the snapshot's hash below.
	db, err := a.startDatabase(ctx, c.database, c.user, "restoring-"+snapshot.ID)
	if err != nil {
		return fake.Endpoint{}, err
	}
	ok = false
	defer func() {
		if !ok {
			db.pg.Stop()
		}
	}()
	for _, role := range c.roles {
		attrs := " NOLOGIN"
		if role.login {
			attrs = " LOGIN"
		}
		if role.createDB {
			attrs += " CREATEDB"
		}
		if role.createRole {
			attrs += " CREATEROLE"
		}
		if role.password != nil {
			attrs += " PASSWORD " + quoteLiteral(*role.password)
		}
		verb := "CREATE ROLE "
		if role.name == c.user {
			verb = "ALTER ROLE "
		}
		if err := db.exec(ctx, verb+pgx.Identifier{role.name}.Sanitize()+attrs); err != nil {
			return fake.Endpoint{}, err
		}
	}
	u, err := url.Parse(db.pg.URL)
	if err != nil {
		return fake.Endpoint{}, err
	}
	u.Path = "/" + c.database
	if out, err := exec.CommandContext(ctx, psql, "--no-psqlrc", "--quiet", "-v", "ON_ERROR_STOP=1", "--file", c.dump, u.String()).CombinedOutput(); err != nil {
		return fake.Endpoint{}, fmt.Errorf("psql restoring %s: %w: %s", snapshot.ID, err, out)
	}
	ok = true
	a.mu.Lock()
	a.databases[r.Key] = db
	a.mu.Unlock()
	return db.endpoint, nil
}

// psqlPath is the psql beside pg_dump, else the one on $PATH.
func psqlPath() (string, error) {
	if dump, err := PgDumpPath(); err == nil {
		p := filepath.Join(filepath.Dir(dump), "psql")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	if p, err := exec.LookPath("psql"); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("psql not found beside pg_dump nor on $PATH: install it with `%s`", testenv.PostgresInstall)
}
