package database

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func TestRoleStatement(t *testing.T) {
	yes, no := ptr(true), ptr(false)
	healthy := &observedRole{Login: true}
	tests := map[string]struct {
		role     string
		observed *observedRole
		login    *bool
		want     string
	}{
		"a missing role to activate is created able to log in":          {"app_a", nil, yes, `CREATE ROLE "app_a" LOGIN NOINHERIT`},
		"a missing role that is not activated is created without login": {"app_b", nil, nil, `CREATE ROLE "app_b" NOLOGIN NOINHERIT`},
		"a missing role to retire is created without login":             {"app_b", nil, no, `CREATE ROLE "app_b" NOLOGIN NOINHERIT`},
		"a role as the shop needs it is left alone":                     {"app_a", healthy, nil, ""},
		"an active role activated again is left alone":                  {"app_a", healthy, yes, ""},
		"activating a role that cannot log in gives it LOGIN":           {"app_b", &observedRole{}, yes, `ALTER ROLE "app_b" LOGIN`},
		"retiring a role takes LOGIN away":                              {"app_a", healthy, no, `ALTER ROLE "app_a" NOLOGIN`},
		"a role not named keeps its login either way":                   {"app_b", &observedRole{}, nil, ""},
		"every attribute beyond LOGIN is named, and only those": {"app_a",
			&observedRole{Super: true, CreateDB: true, CreateRole: true, Replication: true, BypassRLS: true, Inherit: true, Login: true, Expires: true}, yes,
			`ALTER ROLE "app_a" NOSUPERUSER NOREPLICATION NOBYPASSRLS NOCREATEDB NOCREATEROLE NOINHERIT VALID UNTIL 'infinity'`},
		"one attribute set by hand is the only one named": {"app_a", &observedRole{CreateDB: true, Login: true}, nil, `ALTER ROLE "app_a" NOCREATEDB`},
		"a name is quoted as an identifier":               {`odd"name`, nil, nil, `CREATE ROLE "odd""name" NOLOGIN NOINHERIT`},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			if got := roleStatement(tt.role, tt.observed, tt.login); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestPrivilegeStatements(t *testing.T) {
	got := privilegeStatements(privilegeTarget{
		Schema: "public", Database: "shop", Owner: "storefront",
		Tables:              []string{"public.categories", "public.products"},
		Sequences:           []string{"public.categories_id_seq"},
		MigrationsTable:     `"public"."goose_db_version"`,
		MigrationsSequences: []string{"public.goose_db_version_id_seq"},
		Routines:            []string{"public.products_search_vector()"},
	})
	want := []string{
		`REVOKE CREATE ON SCHEMA "public" FROM PUBLIC`,
		`REVOKE TEMPORARY ON DATABASE "shop" FROM PUBLIC`,
		`REVOKE CREATE, TEMPORARY ON DATABASE "shop" FROM "app_a", "app_b"`,
		`REVOKE CREATE ON SCHEMA "public" FROM "app_a", "app_b"`,
		`GRANT CONNECT ON DATABASE "shop" TO "app_a", "app_b"`,
		`GRANT USAGE ON SCHEMA "public" TO "app_a", "app_b"`,
		`GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE public.categories, public.products TO "app_a", "app_b"`,
		`GRANT USAGE, SELECT, UPDATE ON SEQUENCE public.categories_id_seq TO "app_a", "app_b"`,
		`REVOKE ALL ON TABLE "public"."goose_db_version" FROM "app_a", "app_b"`,
		`REVOKE ALL ON SEQUENCE public.goose_db_version_id_seq FROM "app_a", "app_b"`,
		`REVOKE EXECUTE ON ROUTINE public.products_search_vector() FROM PUBLIC`,
		`GRANT EXECUTE ON ROUTINE public.products_search_vector() TO "app_a", "app_b"`,
		`ALTER DEFAULT PRIVILEGES FOR ROLE "storefront" IN SCHEMA "public" GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO "app_a", "app_b"`,
		`ALTER DEFAULT PRIVILEGES FOR ROLE "storefront" IN SCHEMA "public" GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO "app_a", "app_b"`,
		`ALTER DEFAULT PRIVILEGES FOR ROLE "storefront" REVOKE EXECUTE ON ROUTINES FROM PUBLIC`,
		`ALTER DEFAULT PRIVILEGES FOR ROLE "storefront" IN SCHEMA "public" GRANT EXECUTE ON ROUTINES TO "app_a", "app_b"`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	odd := privilegeStatements(privilegeTarget{Schema: `Shop "1"`, Database: "my-db", Owner: `o"wner`})
	for _, s := range []string{`REVOKE CREATE ON SCHEMA "Shop ""1""" FROM PUBLIC`, `REVOKE TEMPORARY ON DATABASE "my-db" FROM PUBLIC`,
		`ALTER DEFAULT PRIVILEGES FOR ROLE "o""wner" REVOKE EXECUTE ON ROUTINES FROM PUBLIC`} {
		if !strings.Contains(strings.Join(odd, "\n"), s) {
			t.Errorf("identifiers are not quoted: no %s in\n%s", s, strings.Join(odd, "\n"))
		}
	}
	for _, s := range odd {
		if strings.Contains(s, "goose") || strings.Contains(s, "ROUTINE ") || strings.Contains(s, " ON TABLE ") || strings.Contains(s, " ON SEQUENCE ") {
			t.Errorf("without tables, sequences, a migrations table or routines: %s", s)
		}
	}
}

func TestRoleChangesValidate(t *testing.T) {
	const pw = "Zk3mQ9xV2pL7wR4tY8uN1bC6dF0gH5jS"
	tests := map[string]struct {
		changes RoleChanges
		wantErr string
	}{
		"nothing asked":                         {RoleChanges{}, ""},
		"activate with a password":              {RoleChanges{Activate: "app_b", Password: pw}, ""},
		"retire alone":                          {RoleChanges{Retire: "app_a"}, ""},
		"activate one and retire the other":     {RoleChanges{Activate: "app_b", Password: pw, Retire: "app_a"}, ""},
		"a role that is not an app role":        {RoleChanges{Activate: "postgres", Password: pw}, `app role "postgres" is not one of app_a, app_b`},
		"retire a role that is not an app role": {RoleChanges{Retire: "rds_superuser"}, `retire role "rds_superuser" is not one of app_a, app_b`},
		"activate and retire the same role":     {RoleChanges{Activate: "app_a", Password: pw, Retire: "app_a"}, "app_a cannot be activated and retired at once"},
		"activate without a password":           {RoleChanges{Activate: "app_a"}, "no password for the app role app_a"},
		"a password without a role":             {RoleChanges{Password: pw}, "a password for the app role but no app role"},
		"a password too short":                  {RoleChanges{Activate: "app_a", Password: "short"}, "has 5 characters, want 16 to 256"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			err := tt.changes.Validate()
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("Validate: %v, want %q", err, tt.wantErr)
			}
			if tt.changes.Empty() != (tt.changes == RoleChanges{}) {
				t.Errorf("Empty: %v", tt.changes.Empty())
			}
		})
	}
}

func TestRoleChangesNeverShowThePassword(t *testing.T) {
	c := RoleChanges{Activate: "app_b", Password: "Zk3mQ9xV2pL7wR4tY8uN1bC6dF0gH5jS", Retire: "app_a"}
	var log bytes.Buffer
	slog.New(slog.NewJSONHandler(&log, nil)).Info("roles", "changes", c)
	for _, out := range []string{fmt.Sprint(c), fmt.Sprintf("%v %+v %#v %s", c, c, c, c), log.String()} {
		if strings.Contains(out, c.Password) || !strings.Contains(out, "app_b") {
			t.Errorf("shown as %s", out)
		}
	}
}
