package orders_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/storefront-operator/storefront/shop/cart"
	"github.com/storefront-operator/storefront/shop/orders"
	"github.com/storefront-operator/storefront/shop/platform/apperr"
	"github.com/storefront-operator/storefront/shop/platform/database"
	"github.com/storefront-operator/storefront/test/shoptest"
	"github.com/storefront-operator/storefront/test/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// barrierStore makes the transactions of a Transition wait for each other right after
// reading the order's status, so that both decide on the same old status: the worst
// interleaving of two admins, every time instead of by chance.
type barrierStore struct {
	orders.Store
	read *sync.WaitGroup
}

func (s barrierStore) InTx(ctx context.Context, fn func(orders.Tx) error) error {
	return s.Store.InTx(ctx, func(tx orders.Tx) error { return fn(barrierTx{tx, s.read}) })
}

type barrierTx struct {
	orders.Tx
	read *sync.WaitGroup
}

func (t barrierTx) Status(ctx context.Context, id int64) (orders.Status, bool, error) {
	st, ok, err := t.Tx.Status(ctx, id)
	t.read.Done()
	t.read.Wait()
	return st, ok, err
}

func TestTransitionsThatReadTheSameStatusCannotBothWin(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	pool, err := database.Open(ctx, shoptest.MigratedDatabase(t, true))
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	var userID, productID int64
	if err := pool.QueryRow(ctx, `INSERT INTO users (email, name, password_hash) VALUES ('race@example.com', 'Race', '!') RETURNING id`).Scan(&userID); err != nil {
		t.Fatal(err)
	}
	if err := pool.QueryRow(ctx, `SELECT id FROM products WHERE slug = 'foam-roller'`).Scan(&productID); err != nil {
		t.Fatal(err)
	}
	stock := func() int {
		var n int
		if err := pool.QueryRow(ctx, `SELECT stock FROM products WHERE id = $1`, productID).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	store := orders.NewPGStore(pool)
	plain := orders.NewService(store, orders.Options{Currency: "EUR", Payments: orders.MockPayments{}})
	req := orders.Request{
		Items:           []cart.Item{{ProductID: productID, Quantity: 2}},
		ShippingAddress: orders.Address{Name: "Ada", Line1: "1 Road", City: "London", PostalCode: "N1", Country: "GB"},
		Payment:         orders.Card{Number: orders.CardSuccess, ExpMonth: 12, ExpYear: time.Now().Year() + 1, CVC: "123"},
	}

	for name, rivals := range map[string][2]orders.Status{
		"ship against cancel":   {orders.StatusShipped, orders.StatusCancelled},
		"cancel against cancel": {orders.StatusCancelled, orders.StatusCancelled},
	} {
		t.Run(name, func(t *testing.T) {
			o, _, err := plain.Place(ctx, userID, rivals[0].String()+"-"+rivals[1].String(), req)
			if err != nil {
				t.Fatal(err)
			}
			before := stock()
			var read sync.WaitGroup
			read.Add(2)
			racing := orders.NewService(barrierStore{store, &read}, orders.Options{Currency: "EUR", Payments: orders.MockPayments{}})
			var (
				wg   sync.WaitGroup
				errs [2]error
			)
			for i, to := range rivals {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, errs[i] = racing.Transition(ctx, o.ID, to)
				}()
			}
			wg.Wait()
			won := -1
			for i, err := range errs {
				switch {
				case err == nil:
					if won >= 0 {
						t.Fatalf("both transitions won: %v", errs)
					}
					won = i
				case !errors.Is(err, apperr.ErrConflict):
					t.Fatalf("transition %d: %v, want a conflict", i, err)
				}
			}
			if won < 0 {
				t.Fatalf("no transition won: %v", errs)
			}
			got, err := plain.AdminGet(ctx, o.ID)
			if err != nil || got.Status != rivals[won] {
				t.Fatalf("order is %s (%v), the winner set %s", got.Status, err, rivals[won])
			}
			want := before
			if rivals[won] == orders.StatusCancelled {
				want += 2
			}
			if s := stock(); s != want {
				t.Errorf("stock %d, want %d", s, want)
			}
		})
	}
}
