package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/storefront-operator/storefront/shop/auth"
	"github.com/storefront-operator/storefront/shop/orders"
	"github.com/storefront-operator/storefront/test/shoptest"
)

// call sends method path with an optional bearer token, a JSON body (a string or []byte
// is sent as is, anything else is marshalled) and extra headers (name, value pairs),
// through the shop's client, which checks the exchange against the OpenAPI document.
func call(t testing.TB, shop *shoptest.Shop, method, path, token string, body any, headers ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := newRequest(method, shop.URL+path, token, body)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return shop.Do(t, req)
}

// newRequest builds the request of call.
func newRequest(method, url, token string, body any) (*http.Request, error) {
	var raw []byte
	switch b := body.(type) {
	case nil:
	case string:
		raw = []byte(b)
	case []byte:
		raw = b
	default:
		var err error
		if raw, err = json.Marshal(b); err != nil {
			return nil, err
		}
	}
	req, err := http.NewRequest(method, url, bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return req, nil
}

var userSeq atomic.Int64

// newUser registers a customer through the API and returns it with its token.
func newUser(t *testing.T, shop *shoptest.Shop) (auth.User, string) {
	t.Helper()
	email := fmt.Sprintf("user%d-%d@example.com", userSeq.Add(1), time.Now().UnixNano())
	resp, body := call(t, shop, "POST", "/api/v1/auth/register", "", map[string]string{
		"email": email, "password": "correct horse battery", "name": "Test User"})
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("register: %d %s", resp.StatusCode, body)
	}
	var s auth.Session
	if err := json.Unmarshal(body, &s); err != nil {
		t.Fatal(err)
	}
	return s.User, s.Token
}

// newAdmin registers a user, makes it an admin in the database and issues its token.
func newAdmin(t *testing.T, shop *shoptest.Shop) (auth.User, string) {
	t.Helper()
	u, _ := newUser(t, shop)
	exec(t, shop.DatabaseURL, `UPDATE users SET role = 'admin' WHERE id = $1`, u.ID)
	u.Role = auth.RoleAdmin
	s, err := shop.App.Auth.IssueSession(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	return u, s.Token
}

// queryInt runs a query returning one integer.
func queryInt(t testing.TB, dbURL, sql string, args ...any) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close(ctx) }()
	var n int64
	if err := conn.QueryRow(ctx, sql, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

// productID returns the id of the product with slug.
func productID(t testing.TB, shop *shoptest.Shop, slug string) int64 {
	t.Helper()
	return queryInt(t, shop.DatabaseURL, `SELECT id FROM products WHERE slug = $1`, slug)
}

func stockOf(t testing.TB, shop *shoptest.Shop, id int64) int64 {
	t.Helper()
	return queryInt(t, shop.DatabaseURL, `SELECT stock FROM products WHERE id = $1`, id)
}

var keySeq atomic.Int64

func newKey() string { return fmt.Sprintf("key-%d-%d", keySeq.Add(1), time.Now().UnixNano()) }

// address and card are a valid shipping address and the success test card.
func address() map[string]any {
	return map[string]any{"name": "Ada Lovelace", "line1": "12 St James's Square", "city": "London", "postal_code": "SW1Y 4JH", "country": "GB"}
}

func card(number string) map[string]any {
	return map[string]any{"card_number": number, "exp_month": 12, "exp_year": time.Now().Year() + 2, "cvc": "123"}
}

// orderBody is an order request for items (nil: the cart) paid with card number.
func orderBody(items []map[string]any, number string) map[string]any {
	b := map[string]any{"shipping_address": address(), "payment": card(number)}
	if items != nil {
		b["items"] = items
	}
	return b
}

func item(id int64, qty int) map[string]any { return map[string]any{"product_id": id, "quantity": qty} }

// placeOrder places an order and fails the test unless it is 201.
func placeOrder(t *testing.T, shop *shoptest.Shop, token string, items []map[string]any) orders.Order {
	t.Helper()
	resp, body := call(t, shop, "POST", "/api/v1/orders", token, orderBody(items, orders.CardSuccess), "Idempotency-Key", newKey())
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("placing an order: %d %s", resp.StatusCode, body)
	}
	return decode[orders.Order](t, body)
}
