package database

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// The shop serves as one of two application roles, app_a and app_b, that `shop migrate`
// (run as the database's owner, RDS's master user) creates and keeps to what the shop
// needs: it may log in, read and write the rows of the shop's tables and use their
// sequences, and nothing else (docs/architecture.md#database-roles). Two roles let the
// login rotate without refusing a running pod: the operator sets a new password on the
// inactive role, moves the pods to it, and only then withdraws the other role's login.
//
// Everything here works for an owner that is not a superuser but has CREATEROLE, as
// RDS's master user (a member of rds_superuser) is, on PostgreSQL 15 and on 16 and later:
//   - PostgreSQL 15 lets a CREATEROLE role alter any role that is neither a superuser nor
//     a replication role, "except SUPERUSER, REPLICATION, and BYPASSRLS"
//     (https://www.postgresql.org/docs/15/sql-alterrole.html).
//   - PostgreSQL 16 requires ADMIN OPTION on the role as well, which the creator of a role
//     is granted automatically, and lets it change CREATEDB, REPLICATION and BYPASSRLS only
//     if it has them itself (https://www.postgresql.org/docs/16/sql-alterrole.html,
//     https://www.postgresql.org/docs/16/sql-createrole.html; commits cf5eb37c5 and
//     f1358ca52).
//
// So the roles are created by the owner that maintains them, and an attribute is named
// in ALTER ROLE only when it must change (on 15, naming SUPERUSER, REPLICATION or
// BYPASSRLS at all needs a superuser, even to say NO).

// The application roles.
const (
	AppRoleA = "app_a"
	AppRoleB = "app_b"
)

// AppRoles are the application roles, both maintained by every migrate that is told
// about roles.
var AppRoles = []string{AppRoleA, AppRoleB}

// migrationsTable is goose's bookkeeping (goose.DefaultTablename), which only migrate reads.
const migrationsTable = "goose_db_version"

// RoleChanges is what `shop migrate` does with the application roles besides keeping
// their privileges: activate one (log in with Password) and withdraw another's login.
// The zero value asks for no role management at all (an external database, used as given).
type RoleChanges struct {
	// Activate is the role given LOGIN and Password; "" for none.
	Activate string
	// Password is Activate's new password. It is sent to the server only as a SCRAM
	// verifier and never logged.
	Password string
	// Retire is the role whose login is withdrawn (NOLOGIN, no password), once no pod
	// uses it; "" for none.
	Retire string
}

// Empty reports whether c asks for no role management.
func (c RoleChanges) Empty() bool { return c.Activate == "" && c.Retire == "" && c.Password == "" }

// String describes c without the password, so that printing it by mistake leaks nothing.
func (c RoleChanges) String() string {
	return fmt.Sprintf("activate %q, retire %q", c.Activate, c.Retire)
}

// GoString is String, for %#v.
func (c RoleChanges) GoString() string { return c.String() }

// LogValue is how slog shows c: without the password.
func (c RoleChanges) LogValue() slog.Value {
	return slog.GroupValue(slog.String("activate", c.Activate), slog.String("retire", c.Retire))
}

// Validate checks c before anything connects.
func (c RoleChanges) Validate() error {
	for _, r := range []struct{ flag, role string }{{"app role", c.Activate}, {"retire role", c.Retire}} {
		if r.role != "" && r.role != AppRoleA && r.role != AppRoleB {
			return fmt.Errorf("%s %q is not one of %s", r.flag, r.role, strings.Join(AppRoles, ", "))
		}
	}
	switch {
	case c.Activate != "" && c.Activate == c.Retire:
		return fmt.Errorf("%s cannot be activated and retired at once", c.Activate)
	case c.Activate != "" && c.Password == "":
		return fmt.Errorf("no password for the app role %s", c.Activate)
	case c.Activate == "" && c.Password != "":
		return errors.New("a password for the app role but no app role to set it on")
	case c.Activate != "":
		return CheckPassword(c.Password)
	}
	return nil
}

// observedRole is an application role as pg_roles shows it.
type observedRole struct {
	Super, CreateDB, CreateRole, Replication, BypassRLS, Inherit, Login bool
	// Expires is true when VALID UNTIL is set to something other than infinity.
	Expires bool
}

// roleStatement is the statement that brings role to what the shop needs, given what
// exists (nil: the role does not exist), or "" when nothing must change. login says
// whether the role must be able to log in afterwards: true to activate, false to retire,
// nil to leave it as it is. A new role that is not activated cannot log in.
func roleStatement(role string, observed *observedRole, login *bool) string {
	name := pgx.Identifier{role}.Sanitize()
	if observed == nil {
		if login != nil && *login {
			return "CREATE ROLE " + name + " LOGIN NOINHERIT"
		}
		return "CREATE ROLE " + name + " NOLOGIN NOINHERIT"
	}
	var opts []string
	add := func(wrong bool, opt string) {
		if wrong {
			opts = append(opts, opt)
		}
	}
	add(observed.Super, "NOSUPERUSER")
	add(observed.Replication, "NOREPLICATION")
	add(observed.BypassRLS, "NOBYPASSRLS")
	add(observed.CreateDB, "NOCREATEDB")
	add(observed.CreateRole, "NOCREATEROLE")
	// Privileges are granted to each role directly: it inherits nothing from a role it
	// might be made a member of.
	add(observed.Inherit, "NOINHERIT")
	if login != nil {
		add(*login && !observed.Login, "LOGIN")
		add(!*login && observed.Login, "NOLOGIN")
	}
	// A password that expires would refuse the pods one day.
	add(observed.Expires, "VALID UNTIL 'infinity'")
	if len(opts) == 0 {
		return ""
	}
	return "ALTER ROLE " + name + " " + strings.Join(opts, " ")
}

// privilegeTarget is what privilegeStatements grants on: the shop's schema and database,
// the role that runs the migrations (and so owns what they create), and what exists now.
type privilegeTarget struct {
	Schema, Database, Owner string
	// Tables and Sequences are the owner's in the schema but goose's, schema-qualified
	// and quoted. A table someone else owns is not the owner's to grant (and not one the
	// migrations made).
	Tables, Sequences []string
	// MigrationsTable is goose's table, qualified and quoted, when it exists, and
	// MigrationsSequences its identity sequences.
	MigrationsTable     string
	MigrationsSequences []string
	// Routines are the routines the owner defined in the schema for the shop (extension
	// members excluded), each as name(argument types), qualified and quoted.
	Routines []string
}

// privilegeStatements grant the application roles what the shop needs and nothing more:
// connect, use the schema, DML on its tables, its sequences, EXECUTE on its own routines,
// the same on what later migrations create (default privileges of the owner), and no
// right to create anything: no CREATE on the schema or the database, no temporary tables
// (PostgreSQL 15 already creates the public schema without CREATE for PUBLIC; a database
// from an older release may still have it). Goose's bookkeeping is not theirs to read.
// LISTEN and NOTIFY need no privilege. Every statement is idempotent.
func privilegeStatements(t privilegeTarget) []string {
	schema := pgx.Identifier{t.Schema}.Sanitize()
	db := pgx.Identifier{t.Database}.Sanitize()
	owner := pgx.Identifier{t.Owner}.Sanitize()
	roles := make([]string, len(AppRoles))
	for i, r := range AppRoles {
		roles[i] = pgx.Identifier{r}.Sanitize()
	}
	to := strings.Join(roles, ", ")
	s := []string{
		"REVOKE CREATE ON SCHEMA " + schema + " FROM PUBLIC",
		"REVOKE TEMPORARY ON DATABASE " + db + " FROM PUBLIC",
		"REVOKE CREATE, TEMPORARY ON DATABASE " + db + " FROM " + to,
		"REVOKE CREATE ON SCHEMA " + schema + " FROM " + to,
		"GRANT CONNECT ON DATABASE " + db + " TO " + to,
		"GRANT USAGE ON SCHEMA " + schema + " TO " + to,
	}
	if len(t.Tables) > 0 {
		s = append(s, "GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE "+strings.Join(t.Tables, ", ")+" TO "+to)
	}
	if len(t.Sequences) > 0 {
		s = append(s, "GRANT USAGE, SELECT, UPDATE ON SEQUENCE "+strings.Join(t.Sequences, ", ")+" TO "+to)
	}
	if t.MigrationsTable != "" {
		s = append(s, "REVOKE ALL ON TABLE "+t.MigrationsTable+" FROM "+to)
	}
	for _, seq := range t.MigrationsSequences {
		s = append(s, "REVOKE ALL ON SEQUENCE "+seq+" FROM "+to)
	}
	for _, r := range t.Routines {
		s = append(s, "REVOKE EXECUTE ON ROUTINE "+r+" FROM PUBLIC", "GRANT EXECUTE ON ROUTINE "+r+" TO "+to)
	}
	defaults := "ALTER DEFAULT PRIVILEGES FOR ROLE " + owner
	return append(s,
		defaults+" IN SCHEMA "+schema+" GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO "+to,
		defaults+" IN SCHEMA "+schema+" GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO "+to,
		// A per-schema default can only add to the global one, which gives PUBLIC
		// EXECUTE: that is revoked globally (for this owner, in this database).
		defaults+" REVOKE EXECUTE ON ROUTINES FROM PUBLIC",
		defaults+" IN SCHEMA "+schema+" GRANT EXECUTE ON ROUTINES TO "+to,
	)
}

// MaintainRoles creates and maintains the application roles and their privileges on the
// database pool is connected to, as its user (the owner of the shop's schema), and
// applies c. It runs in one transaction under the migration lock, so concurrent
// migrates do it one after the other and each does the same. The roles are shared by
// every database of the server: a concurrent change from another database's migrate is
// retried.
func MaintainRoles(ctx context.Context, pool *pgxpool.Pool, c RoleChanges, logger *slog.Logger) error {
	if err := c.Validate(); err != nil {
		return err
	}
	var verifier string
	if c.Activate != "" {
		v, err := ScramVerifier(c.Password)
		if err != nil {
			return err
		}
		if verifier, err = verifierLiteral(v); err != nil {
			return err
		}
	}
	if logger == nil {
		logger = slog.Default()
	}
	logger.Info("Maintaining application roles", "roles", c)
	const attempts = 6
	for attempt := 1; ; attempt++ {
		err := WithAdvisoryLock(ctx, pool, func(tx pgx.Tx) error { return maintainRoles(ctx, tx, c, verifier, logger) })
		if err == nil || attempt == attempts || !retryable(err) {
			return err
		}
		// Another database's migrate changed the same role: wait a little, differently
		// from it, and do it all again.
		delay := time.Duration(attempt)*50*time.Millisecond + rand.N(50*time.Millisecond)
		logger.Info("Retrying application roles after a concurrent change", "attempt", attempt, "error", err.Error())
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
	}
}

func maintainRoles(ctx context.Context, tx pgx.Tx, c RoleChanges, verifier string, logger *slog.Logger) error {
	target, err := readPrivilegeTarget(ctx, tx)
	if err != nil {
		return err
	}
	observed, err := readRoles(ctx, tx)
	if err != nil {
		return err
	}
	for _, role := range AppRoles {
		var login *bool
		switch role {
		case c.Activate:
			login = ptr(true)
		case c.Retire:
			login = ptr(false)
		}
		if stmt := roleStatement(role, observed[role], login); stmt != "" {
			logger.Info("Changing application role", "role", role, "statement", stmt)
			if _, err := tx.Exec(ctx, stmt); err != nil {
				return roleError(role, err)
			}
		}
		switch role {
		case c.Activate:
			if _, err := tx.Exec(ctx, "ALTER ROLE "+pgx.Identifier{role}.Sanitize()+" PASSWORD "+verifier); err != nil {
				return roleError(role, err)
			}
		case c.Retire:
			if _, err := tx.Exec(ctx, "ALTER ROLE "+pgx.Identifier{role}.Sanitize()+" PASSWORD NULL"); err != nil {
				return roleError(role, err)
			}
		}
	}
	for _, stmt := range privilegeStatements(target) {
		if _, err := tx.Exec(ctx, stmt); err != nil {
			return fmt.Errorf("granting the application roles their privileges: %s: %w", stmt, err)
		}
	}
	if err := verifyRoles(ctx, tx, target); err != nil {
		return err
	}
	logger.Info("Maintained application roles", "roles", c, "schema", target.Schema)
	return nil
}

func ptr[T any](v T) *T { return &v }

// roleError explains a refused role change; on PostgreSQL 16 the usual cause is a role
// that another role created.
func roleError(role string, err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "42501" {
		return fmt.Errorf("maintaining application role %s: %w (the migrating role needs CREATEROLE and, on PostgreSQL 16 and later, ADMIN OPTION on %s, which it has when it created it)", role, err, role)
	}
	return fmt.Errorf("maintaining application role %s: %w", role, err)
}

// retryable reports whether err comes from a concurrent change of the same catalog rows
// (roles are shared by all databases, which do not share the migration lock).
func retryable(err error) bool {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return false
	}
	switch pgErr.Code {
	case "40001", "40P01", "23505", "42710": // serialization, deadlock, unique (pg_authid), role exists
		return true
	case "XX000":
		return strings.Contains(pgErr.Message, "tuple concurrently updated")
	}
	return false
}

const readTargetSQL = `SELECT current_schema(), current_database(), current_user`

const readMigrationsTableSQL = `SELECT coalesce(to_regclass(format('%I.%I', $1::text, $2::text))::text, '')`

const readMigrationSequencesSQL = `
SELECT format('%I.%I', n.nspname, s.relname)
FROM pg_depend d
JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S'
JOIN pg_namespace n ON n.oid = s.relnamespace
WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass
  AND d.refobjid = $1::regclass
ORDER BY 1`

// readRelationsSQL lists the owner's relations of the given kinds in the schema, but
// goose's table and what belongs to it (its identity sequence).
const readRelationsSQL = `
SELECT format('%I.%I', n.nspname, c.relname)
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = $1 AND c.relkind = ANY($2::"char"[])
  AND c.relowner = (SELECT oid FROM pg_roles WHERE rolname = current_user)
  AND c.relname <> '` + migrationsTable + `'
  AND NOT EXISTS (SELECT 1 FROM pg_depend d
                  WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                    AND d.refclassid = 'pg_class'::regclass
                    AND d.refobjid = to_regclass(format('%I.%I', $1::text, '` + migrationsTable + `')))
ORDER BY 1`

const readRoutinesSQL = `
SELECT format('%I.%I(%s)', n.nspname, p.proname, pg_get_function_identity_arguments(p.oid))
FROM pg_proc p
JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname = current_schema()
  AND p.proowner = (SELECT oid FROM pg_roles WHERE rolname = current_user)
  AND NOT EXISTS (SELECT 1 FROM pg_depend d
                  WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')
ORDER BY 1`

func readPrivilegeTarget(ctx context.Context, tx pgx.Tx) (privilegeTarget, error) {
	var t privilegeTarget
	var schema *string
	if err := tx.QueryRow(ctx, readTargetSQL).Scan(&schema, &t.Database, &t.Owner); err != nil {
		return t, fmt.Errorf("reading the schema: %w", err)
	}
	if schema == nil {
		return t, errors.New("the migrating role has no current schema: check its search_path")
	}
	t.Schema = *schema
	if err := tx.QueryRow(ctx, readMigrationsTableSQL, t.Schema, migrationsTable).Scan(&t.MigrationsTable); err != nil {
		return t, fmt.Errorf("reading the migrations table: %w", err)
	}
	if t.MigrationsTable != "" {
		seqs, err := collectStrings(ctx, tx, readMigrationSequencesSQL, t.MigrationsTable)
		if err != nil {
			return t, fmt.Errorf("reading the migrations table's sequences: %w", err)
		}
		t.MigrationsSequences = seqs
		// to_regclass quotes only where needed; qualify it for the statements.
		t.MigrationsTable = pgx.Identifier{t.Schema, migrationsTable}.Sanitize()
	}
	tables, err := collectStrings(ctx, tx, readRelationsSQL, t.Schema, []string{"r", "p", "v", "m", "f"})
	if err != nil {
		return t, fmt.Errorf("reading the shop's tables: %w", err)
	}
	sequences, err := collectStrings(ctx, tx, readRelationsSQL, t.Schema, []string{"S"})
	if err != nil {
		return t, fmt.Errorf("reading the shop's sequences: %w", err)
	}
	t.Tables, t.Sequences = tables, sequences
	routines, err := collectStrings(ctx, tx, readRoutinesSQL)
	if err != nil {
		return t, fmt.Errorf("reading the shop's routines: %w", err)
	}
	t.Routines = routines
	return t, nil
}

func collectStrings(ctx context.Context, tx pgx.Tx, sql string, args ...any) ([]string, error) {
	rows, err := tx.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

const readRolesSQL = `
SELECT rolname, rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls, rolinherit, rolcanlogin,
       rolvaliduntil IS NOT NULL AND rolvaliduntil <> 'infinity'
FROM pg_roles WHERE rolname = ANY($1)`

func readRoles(ctx context.Context, tx pgx.Tx) (map[string]*observedRole, error) {
	rows, err := tx.Query(ctx, readRolesSQL, AppRoles)
	if err != nil {
		return nil, fmt.Errorf("reading the application roles: %w", err)
	}
	out := map[string]*observedRole{}
	var name string
	var o observedRole
	_, err = pgx.ForEachRow(rows, []any{&name, &o.Super, &o.CreateDB, &o.CreateRole, &o.Replication, &o.BypassRLS, &o.Inherit, &o.Login, &o.Expires}, func() error {
		r := o
		out[name] = &r
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading the application roles: %w", err)
	}
	return out, nil
}

// verifySQL lists, per application role, every way it could change the database other
// than through DML: a privilege to create (in the database, as temporary tables, in any
// schema), objects it owns (an owner may alter and drop them), roles it is a member of,
// and attributes. A role with none of them has only what privilegeStatements granted.
const verifySQL = `
SELECT r.rolname,
       has_database_privilege(r.oid, current_database(), 'CREATE'),
       has_database_privilege(r.oid, current_database(), 'TEMPORARY'),
       coalesce((SELECT string_agg(quote_ident(n.nspname), ', ' ORDER BY n.nspname)
                 FROM pg_namespace n WHERE has_schema_privilege(r.oid, n.oid, 'CREATE')), ''),
       coalesce((SELECT string_agg(o.name, ', ' ORDER BY o.name) FROM (
                   SELECT c.oid::regclass::text AS name FROM pg_class c WHERE c.relowner = r.oid
                   UNION ALL SELECT quote_ident(n.nspname) FROM pg_namespace n WHERE n.nspowner = r.oid
                   UNION ALL SELECT p.oid::regprocedure::text FROM pg_proc p WHERE p.proowner = r.oid
                   UNION ALL SELECT quote_ident(d.datname) FROM pg_database d WHERE d.datdba = r.oid) o), ''),
       coalesce((SELECT string_agg(quote_ident(g.rolname), ', ' ORDER BY g.rolname)
                 FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid WHERE m.member = r.oid), ''),
       r.rolsuper OR r.rolcreatedb OR r.rolcreaterole OR r.rolreplication OR r.rolbypassrls
FROM pg_roles r WHERE r.rolname = ANY($1)
ORDER BY r.rolname`

// verifyRoles refuses to finish while an application role can do more than the shop
// needs, naming what and how to undo it: a right the migrating role cannot revoke (it
// owns neither the object nor the grant) must be revoked by whoever granted it.
func verifyRoles(ctx context.Context, tx pgx.Tx, t privilegeTarget) error {
	rows, err := tx.Query(ctx, verifySQL, AppRoles)
	if err != nil {
		return fmt.Errorf("checking the application roles: %w", err)
	}
	var problems []string
	var (
		name, schemas, owns, memberOf string
		createDB, temp, attributes    bool
	)
	seen := 0
	_, err = pgx.ForEachRow(rows, []any{&name, &createDB, &temp, &schemas, &owns, &memberOf, &attributes}, func() error {
		seen++
		if createDB {
			problems = append(problems, fmt.Sprintf("%s may create schemas in database %s", name, t.Database))
		}
		if temp {
			problems = append(problems, fmt.Sprintf("%s may create temporary tables in database %s", name, t.Database))
		}
		if schemas != "" {
			problems = append(problems, fmt.Sprintf("%s may create objects in schema %s", name, schemas))
		}
		if owns != "" {
			problems = append(problems, fmt.Sprintf("%s owns %s", name, owns))
		}
		if memberOf != "" {
			problems = append(problems, fmt.Sprintf("%s is a member of %s", name, memberOf))
		}
		if attributes {
			problems = append(problems, fmt.Sprintf("%s has a role attribute beyond LOGIN", name))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("checking the application roles: %w", err)
	}
	if seen != len(AppRoles) {
		return fmt.Errorf("checking the application roles: found %d of %d", seen, len(AppRoles))
	}
	if len(problems) > 0 {
		return fmt.Errorf("the application roles can do more than the shop needs, and %s cannot take it back: %s; revoke it as the role that granted it",
			t.Owner, strings.Join(problems, "; "))
	}
	return nil
}
