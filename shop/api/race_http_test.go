package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/storefront-operator/storefront/shop/auth"
	"github.com/storefront-operator/storefront/shop/orders"
	"github.com/storefront-operator/storefront/test/shoptest"
)

// rawPost sends a POST from a goroutine: no t.Fatal off the test's goroutine, the caller
// checks the status and body.
func rawPost(client *http.Client, url, token, key string, body []byte) (int, []byte, error) {
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Idempotency-Key", key)
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// buyers creates n customers directly in the database (a bcrypt hash per user would
// dominate the test) and issues each a token through the auth service.
func buyers(t *testing.T, shop *shoptest.Shop, n int) []string {
	t.Helper()
	ctx := context.Background()
	emails := make([]string, n)
	for i := range emails {
		emails[i] = fmt.Sprintf("buyer%d-%d@example.com", i, time.Now().UnixNano())
	}
	rows, err := shop.App.DB.Query(ctx, `INSERT INTO users (email, name, password_hash) SELECT e, 'Buyer', 'x' FROM unnest($1::text[]) AS e RETURNING id`, emails)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		t.Fatal(err)
	}
	tokens := make([]string, n)
	for i, id := range ids {
		s, err := shop.App.Auth.IssueSession(ctx, auth.User{ID: id, Role: auth.RoleCustomer})
		if err != nil {
			t.Fatal(err)
		}
		tokens[i] = s.Token
	}
	return tokens
}

func TestConcurrentBuyersOfTheLastUnits(t *testing.T) {
	shop := shoptest.Start(t, shoptest.Options{Demo: true})
	const buyersN, units = 200, 10
	id := productID(t, shop, "cast-iron-skillet-26-cm")
	exec(t, shop.DatabaseURL, `UPDATE products SET stock = $2 WHERE id = $1`, id, units)
	tokens := buyers(t, shop, buyersN)
	body, _ := json.Marshal(orderBody([]map[string]any{item(id, 1)}, orders.CardSuccess))
	client := &http.Client{Timeout: 2 * time.Minute, Transport: shop.Contract.Transport(&http.Transport{MaxIdleConnsPerHost: buyersN})}

	start := make(chan struct{})
	statuses := make([]int, buyersN)
	errs := make([]error, buyersN)
	var wg sync.WaitGroup
	for i := range tokens {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			statuses[i], _, errs[i] = rawPost(client, shop.URL+"/api/v1/orders", tokens[i], newKey(), body)
		}()
	}
	close(start)
	wg.Wait()

	count := map[int]int{}
	for i, s := range statuses {
		if errs[i] != nil {
			t.Fatalf("buyer %d: %v", i, errs[i])
		}
		count[s]++
	}
	if count[201] != units || count[409] != buyersN-units || len(count) != 2 {
		t.Errorf("statuses %v; want %d × 201 and %d × 409", count, units, buyersN-units)
	}
	if s := stockOf(t, shop, id); s != 0 {
		t.Errorf("stock %d, want 0", s)
	}
	if n := queryInt(t, shop.DatabaseURL, `SELECT count(*) FROM orders o JOIN order_lines l ON l.order_id = o.id WHERE l.product_id = $1 AND o.status = 'paid'`, id); n != units {
		t.Errorf("%d orders in the database, want %d", n, units)
	}
	if n := queryInt(t, shop.DatabaseURL, `SELECT coalesce(sum(quantity), 0) FROM order_lines WHERE product_id = $1`, id); n != units {
		t.Errorf("%d units ordered, want %d", n, units)
	}
}

func TestConcurrentRequestsWithOneIdempotencyKey(t *testing.T) {
	shop := shoptest.Start(t, shoptest.Options{Demo: true})
	const n = 50
	_, token := newUser(t, shop)
	id := productID(t, shop, "cork-yoga-mat")
	before := stockOf(t, shop, id)
	body, _ := json.Marshal(orderBody([]map[string]any{item(id, 2)}, orders.CardSuccess))
	key := newKey()
	client := &http.Client{Timeout: time.Minute, Transport: shop.Contract.Transport(&http.Transport{MaxIdleConnsPerHost: n})}

	start := make(chan struct{})
	statuses, ids := make([]int, n), make([]int64, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			var b []byte
			statuses[i], b, errs[i] = rawPost(client, shop.URL+"/api/v1/orders", token, key, body)
			var o orders.Order
			if errs[i] == nil {
				errs[i] = json.Unmarshal(b, &o)
			}
			ids[i] = o.ID
		}()
	}
	close(start)
	wg.Wait()

	count := map[int]int{}
	for i := range statuses {
		if errs[i] != nil {
			t.Fatalf("request %d: %v", i, errs[i])
		}
		count[statuses[i]]++
		if ids[i] != ids[0] || ids[i] == 0 {
			t.Errorf("request %d answered order %d, request 0 order %d", i, ids[i], ids[0])
		}
	}
	if count[201] != 1 || count[200] != n-1 {
		t.Errorf("statuses %v; want one 201 and %d × 200", count, n-1)
	}
	if got := queryInt(t, shop.DatabaseURL, `SELECT count(*) FROM orders WHERE idempotency_key = $1`, key); got != 1 {
		t.Errorf("%d orders with the key, want 1", got)
	}
	if got := stockOf(t, shop, id); got != before-2 {
		t.Errorf("stock %d, want %d", got, before-2)
	}
}

func TestCancelRacingShip(t *testing.T) {
	shop := shoptest.Start(t, shoptest.Options{Demo: true})
	_, admin := newAdmin(t, shop)
	_, customer := newUser(t, shop)
	id := productID(t, shop, "foam-roller")
	client := &http.Client{Timeout: time.Minute, Transport: shop.Contract.Transport(nil)}
	patch := func(order int64, status string) (int, error) {
		req, _ := http.NewRequest(http.MethodPatch, fmt.Sprintf("%s/api/v1/admin/orders/%d", shop.URL, order), bytes.NewReader([]byte(`{"status":"`+status+`"}`)))
		req.Header.Set("Authorization", "Bearer "+admin)
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		return resp.StatusCode, nil
	}

	for round, rivals := range [][2]string{
		{"shipped", "cancelled"}, {"cancelled", "shipped"}, {"shipped", "cancelled"}, {"cancelled", "shipped"},
		{"cancelled", "cancelled"}, {"cancelled", "cancelled"}, {"shipped", "cancelled"}, {"cancelled", "shipped"},
	} {
		t.Run(fmt.Sprintf("round %d: %s against %s", round, rivals[0], rivals[1]), func(t *testing.T) {
			o := placeOrder(t, shop, customer, []map[string]any{item(id, 3)})
			before := stockOf(t, shop, id)
			var (
				wg       sync.WaitGroup
				statuses [2]int
				errs     [2]error
			)
			start := make(chan struct{})
			for i, to := range rivals {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					statuses[i], errs[i] = patch(o.ID, to)
				}()
			}
			close(start)
			wg.Wait()
			for _, err := range errs {
				if err != nil {
					t.Fatal(err)
				}
			}
			won := -1
			switch {
			case statuses[0] == 200 && statuses[1] == 409:
				won = 0
			case statuses[1] == 200 && statuses[0] == 409:
				won = 1
			default:
				t.Fatalf("statuses %v; want one 200 and one 409", statuses)
			}
			final := orders.Status(rivals[won])
			_, body := call(t, shop, "GET", fmt.Sprintf("/api/v1/orders/%d", o.ID), customer, nil)
			if got := decode[orders.Order](t, body).Status; got != final {
				t.Errorf("order is %s, the winner set %s", got, final)
			}
			want := before
			if final == orders.StatusCancelled {
				want += 3 // restocked exactly once
			}
			if got := stockOf(t, shop, id); got != want {
				t.Errorf("stock %d, want %d (before %d, %s won)", got, want, before, final)
			}
		})
	}
}
