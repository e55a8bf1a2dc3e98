package shoptest_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/storefront-operator/storefront/test/shoptest"
	"github.com/storefront-operator/storefront/test/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// Every shop test serves as the application role, as production does: what the shop
// needs beyond it fails the suites.
func TestTestShopsServeAsTheApplicationRole(t *testing.T) {
	shop := shoptest.Start(t, shoptest.Options{Demo: true})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, shop.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close(ctx) }()
	var user string
	var super bool
	if err := conn.QueryRow(ctx, `SELECT current_user, rolsuper FROM pg_roles WHERE rolname = current_user`).Scan(&user, &super); err != nil || user != shoptest.AppRole || super {
		t.Errorf("the shop's database user is %s (superuser %v), %v", user, super, err)
	}
	var pgErr *pgconn.PgError
	if _, err := conn.Exec(ctx, `CREATE TABLE t (id int)`); !errors.As(err, &pgErr) || pgErr.Code != "42501" {
		t.Errorf("CREATE TABLE as the shop: %v", err)
	}
	if resp, body := shop.Get(t, "/api/v1/products"); resp.StatusCode != 200 {
		t.Errorf("products: %d %s", resp.StatusCode, body)
	}
}
