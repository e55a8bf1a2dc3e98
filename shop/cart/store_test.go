package cart_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/storefront-operator/storefront/shop/cart"
	"github.com/storefront-operator/storefront/shop/platform/apperr"
	"github.com/storefront-operator/storefront/shop/platform/database"
	"github.com/storefront-operator/storefront/test/shoptest"
)

// statementLog records every statement a pool sends (pgx's QueryTracer sees each Exec,
// Query and QueryRow, BEGIN and COMMIT included).
type statementLog struct {
	mu  sync.Mutex
	sql []string
}

func (l *statementLog) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sql = append(l.sql, strings.Fields(d.SQL)[0])
	return ctx
}

func (l *statementLog) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func (l *statementLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.sql
	l.sql = nil
	return s
}

// TestSetStatements pins what a PUT of a line costs: BEGIN, the owner's lock, one
// statement that sets the line and reads it back, COMMIT — 4 statements, whether the
// line is new, changed, refused for a full cart or for an unknown product; no re-read of
// the cart.
func TestSetStatements(t *testing.T) {
	dbURL := shoptest.MigratedDatabase(t, true)
	ctx := context.Background()
	cfg, err := database.ParseURL(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	log := &statementLog{}
	cfg.ConnConfig.Tracer = log
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	var user, skillet, mat int64
	if err := pool.QueryRow(ctx, `INSERT INTO users (email, name, password_hash) VALUES ('set@example.com', 'Set', 'x') RETURNING id`).Scan(&user); err != nil {
		t.Fatal(err)
	}
	if err := pool.QueryRow(ctx, `SELECT (SELECT id FROM products WHERE slug = 'cast-iron-skillet-26-cm'), (SELECT id FROM products WHERE slug = 'cork-yoga-mat')`).Scan(&skillet, &mat); err != nil {
		t.Fatal(err)
	}
	store := cart.NewPGStore(pool)
	svc := cart.NewService(store, "EUR")
	guest, err := svc.NewGuest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := "begin SELECT WITH commit"
	wantGuest := "begin UPDATE WITH commit"
	for _, tt := range []struct {
		name     string
		owner    cart.Owner
		product  func() int64
		quantity int
		wantErr  error
		store    bool // through the store with a cap of one line
		want     string
	}{
		{name: "a new line of a user's cart", owner: cart.User(user), product: func() int64 { return skillet }, quantity: 2, want: want},
		{name: "a changed line of a user's cart", owner: cart.User(user), product: func() int64 { return skillet }, quantity: 5, want: want},
		{name: "an unknown product", owner: cart.User(user), product: func() int64 { return 987654321 }, quantity: 1, wantErr: apperr.ErrNotFound, want: want},
		{name: "a new line refused by the cap", owner: cart.User(user), product: func() int64 { return mat }, quantity: 1, store: true, want: want},
		{name: "a new line of a guest's cart", owner: guest, product: func() int64 { return mat }, quantity: 1, want: wantGuest},
		{name: "quantity 0 removes in one statement", owner: cart.User(user), product: func() int64 { return skillet }, quantity: 0, want: "DELETE"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			log.take()
			var l cart.Line
			var err error
			if tt.store {
				var res cart.SetResult
				l, res, err = store.Set(ctx, tt.owner, tt.product(), tt.quantity, 1)
				if err != nil || res != cart.SetFull || l.Quantity != 0 {
					t.Fatalf("Set in a full cart: %+v %v %v, want SetFull", l, res, err)
				}
			} else {
				l, err = svc.Set(ctx, tt.owner, tt.product(), tt.quantity)
			}
			got := log.take()
			if (tt.wantErr == nil && err != nil) || !errors.Is(err, tt.wantErr) {
				t.Fatalf("Set: %v, want %v", err, tt.wantErr)
			}
			if g := strings.Join(got, " "); !strings.EqualFold(g, tt.want) {
				t.Errorf("statements %q, want %q", g, tt.want)
			}
			if len(got) > 4 {
				t.Errorf("%d statements, more than 4", len(got))
			}
			if err == nil && !tt.store && tt.quantity > 0 && (l.ProductID != tt.product() || l.Quantity != tt.quantity || l.LineTotal.Amount != l.UnitPrice.Amount*int64(tt.quantity)) {
				t.Errorf("line %+v", l)
			}
		})
	}
}
