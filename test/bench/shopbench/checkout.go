package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/storefront-operator/storefront/shop/auth"
)

// The checkout scenario: customers registered through the API buy one unit of one of
// checkoutProducts products per order (items in the body, a new Idempotency-Key each),
// paying with the success test card. Every product first gets checkoutStock units
// through the admin API, so the scenario never runs out; afterwards the harness checks
// in the database that each product's stock plus the units in its order lines is
// exactly checkoutStock, and that the orders are exactly the 201s the clients received.
const (
	benchSecret        = "bench-secret-bench-secret-bench-secret"
	benchAdminEmail    = "bench-admin@example.com"
	benchAdminPassword = "bench-admin-password"
	checkoutCustomers  = 8
	checkoutProducts   = 100
	checkoutStock      = 1_000_000
	contestBuyers      = 200
	contestUnits       = 10
)

type checkout struct {
	admin     string
	customers []string
	products  []int64
	succeeded atomic.Int64
}

func prepareCheckout(ctx context.Context, shop, dbURL string) (*checkout, error) {
	co := &checkout{}
	// The bootstrap admin must replace its generated password at first sign-in: login
	// answers 403 with a change token, the change answers the session.
	var change struct {
		ChangeToken string `json:"change_token"`
	}
	if err := postJSON(ctx, shop+"/api/v1/auth/login", "", map[string]string{"email": benchAdminEmail, "password": benchAdminPassword}, http.StatusForbidden, &change); err != nil {
		return nil, fmt.Errorf("admin login: %w", err)
	}
	var login struct{ Token string }
	if err := postJSON(ctx, shop+"/api/v1/auth/password-change", "", map[string]string{"change_token": change.ChangeToken, "new_password": benchAdminPassword + "-changed"}, http.StatusOK, &login); err != nil {
		return nil, fmt.Errorf("admin password change: %w", err)
	}
	co.admin = login.Token
	for i := 0; i < checkoutCustomers; i++ {
		var reg struct{ Token string }
		body := map[string]string{"email": fmt.Sprintf("buyer%d@example.com", i), "password": "bench-buyer-password", "name": fmt.Sprintf("Buyer %d", i)}
		// As customers behind a load balancer (the shop trusts 127.0.0.1's
		// X-Forwarded-For): one address each, so the registration throttle (5 per client
		// an hour) sees eight clients, not one.
		if err := postJSON(ctx, shop+"/api/v1/auth/register", "", body, http.StatusCreated, &reg, "X-Forwarded-For", fmt.Sprintf("198.51.100.%d", i+1)); err != nil {
			return nil, fmt.Errorf("registering a customer: %w", err)
		}
		co.customers = append(co.customers, reg.Token)
	}
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return nil, err
	}
	defer func() { _ = conn.Close(ctx) }()
	rows, err := conn.Query(ctx, `SELECT id FROM products ORDER BY id LIMIT $1`, checkoutProducts)
	if err != nil {
		return nil, err
	}
	if co.products, err = pgx.CollectRows(rows, pgx.RowTo[int64]); err != nil {
		return nil, err
	}
	for _, id := range co.products {
		if err := sendJSON(ctx, http.MethodPatch, fmt.Sprintf("%s/api/v1/admin/products/%d/stock", shop, id), co.admin, map[string]int{"stock": checkoutStock}, http.StatusOK, nil); err != nil {
			return nil, fmt.Errorf("restocking product %d: %w", id, err)
		}
	}
	return co, nil
}

func (co *checkout) scenario(shop string) scenario {
	return scenario{
		name:      fmt.Sprintf("POST /api/v1/orders (checkout: 1 line, %d products, %d customers)", checkoutProducts, checkoutCustomers),
		want:      http.StatusCreated,
		succeeded: &co.succeeded,
		request: func(i int64) (*http.Request, error) {
			body, err := json.Marshal(orderRequest(co.products[i%int64(len(co.products))]))
			if err != nil {
				return nil, err
			}
			req, err := http.NewRequest(http.MethodPost, shop+"/api/v1/orders", bytes.NewReader(body))
			if err != nil {
				return nil, err
			}
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+co.customers[i%int64(len(co.customers))])
			req.Header.Set("Idempotency-Key", fmt.Sprintf("bench-%d", i))
			return req, nil
		},
	}
}

func orderRequest(productID int64) map[string]any {
	return map[string]any{
		"items":            []map[string]int64{{"product_id": productID, "quantity": 1}},
		"shipping_address": map[string]string{"name": "Bench Buyer", "line1": "1 Load Street", "city": "Berlin", "postal_code": "10115", "country": "DE"},
		"payment":          map[string]any{"card_number": "4242 4242 4242 4242", "exp_month": 12, "exp_year": time.Now().Year() + 3, "cvc": "123"},
	}
}

// stockCheck is what the database says after the checkout scenario.
type stockCheck struct {
	products, inexact, negative int64
	units, orders, responses    int64
}

func (s stockCheck) exact() bool {
	return s.inexact == 0 && s.negative == 0 && s.orders == s.responses && s.units == s.orders && s.products == checkoutProducts
}

func (s stockCheck) String() string {
	return fmt.Sprintf("%d orders placed over the run (warm-ups included) = %d orders in the database = %d units taken; "+
		"stock + ordered units = %d for %d of %d products, none negative — %s",
		s.responses, s.orders, s.units, checkoutStock, s.products-s.inexact, s.products, verdict(s.exact(), "exact"))
}

func (co *checkout) verify(ctx context.Context, dbURL string) (stockCheck, error) {
	s := stockCheck{responses: co.succeeded.Load()}
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return s, err
	}
	defer func() { _ = conn.Close(ctx) }()
	err = conn.QueryRow(ctx, `
SELECT count(*), count(*) FILTER (WHERE p.stock + coalesce(l.units, 0) <> $2), count(*) FILTER (WHERE p.stock < 0), coalesce(sum(l.units), 0)
FROM products p LEFT JOIN (SELECT product_id, sum(quantity) AS units FROM order_lines GROUP BY product_id) l ON l.product_id = p.id
WHERE p.id = ANY($1)`, co.products, checkoutStock).Scan(&s.products, &s.inexact, &s.negative, &s.units)
	if err != nil {
		return s, err
	}
	err = conn.QueryRow(ctx, `SELECT count(*) FROM orders WHERE status = 'paid'`).Scan(&s.orders)
	return s, err
}

// contestResult is the outcome of contestBuyers concurrent checkouts of contestUnits units.
type contestResult struct {
	created, outOfStock, other int
	stock, orders              int64
	elapsed                    time.Duration
}

func (c contestResult) exact() bool {
	return c.created == contestUnits && c.outOfStock == contestBuyers-contestUnits && c.other == 0 && c.stock == 0 && c.orders == contestUnits
}

func (c contestResult) String() string {
	return fmt.Sprintf("%d customers bought the last %d units of one product at once in %.0f ms: %d × 201, %d × 409, %d other; %d orders, stock %d — %s",
		contestBuyers, contestUnits, float64(c.elapsed.Microseconds())/1000, c.created, c.outOfStock, c.other, c.orders, c.stock, verdict(c.exact(), "exact"))
}

// lastUnitsContest sets one product to contestUnits units and lets contestBuyers
// customers buy one each at the same moment. The customers are created in the database
// and their tokens minted with the shop's secret: registering 200 accounts through the
// API would spend most of a minute on bcrypt, which is not what is measured here.
func lastUnitsContest(ctx context.Context, shop, dbURL string, co *checkout) (contestResult, error) {
	var res contestResult
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return res, err
	}
	defer func() { _ = conn.Close(ctx) }()
	var product int64
	if err := conn.QueryRow(ctx, `SELECT id FROM products ORDER BY id DESC LIMIT 1`).Scan(&product); err != nil {
		return res, err
	}
	if err := sendJSON(ctx, http.MethodPatch, fmt.Sprintf("%s/api/v1/admin/products/%d/stock", shop, product), co.admin, map[string]int{"stock": contestUnits}, http.StatusOK, nil); err != nil {
		return res, err
	}
	emails := make([]string, contestBuyers)
	for i := range emails {
		emails[i] = fmt.Sprintf("contest%d@example.com", i)
	}
	rows, err := conn.Query(ctx, `INSERT INTO users (email, name, password_hash) SELECT e, 'Contest', '!' FROM unnest($1::text[]) AS e RETURNING id`, emails)
	if err != nil {
		return res, err
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return res, err
	}
	tokens, err := auth.NewTokens(benchSecret, time.Hour, nil)
	if err != nil {
		return res, err
	}
	body, _ := json.Marshal(orderRequest(product))
	client := &http.Client{Timeout: time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: contestBuyers}}
	statuses := make([]int, contestBuyers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, id := range ids {
		tok, _, err := tokens.Issue(id, auth.RoleCustomer)
		if err != nil {
			return res, err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, shop+"/api/v1/orders", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+tok)
			req.Header.Set("Idempotency-Key", fmt.Sprintf("contest-%d", i))
			resp, err := client.Do(req)
			if err != nil {
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			statuses[i] = resp.StatusCode
		}()
	}
	began := time.Now()
	close(start)
	wg.Wait()
	res.elapsed = time.Since(began)
	for _, s := range statuses {
		switch s {
		case http.StatusCreated:
			res.created++
		case http.StatusConflict:
			res.outOfStock++
		default:
			res.other++
		}
	}
	err = conn.QueryRow(ctx, `SELECT p.stock, (SELECT count(*) FROM order_lines l WHERE l.product_id = p.id) FROM products p WHERE p.id = $1`, product).Scan(&res.stock, &res.orders)
	return res, err
}

func postJSON(ctx context.Context, url, token string, body any, want int, out any, headers ...string) error {
	return sendJSON(ctx, http.MethodPost, url, token, body, want, out, headers...)
}

// sendJSON sends body as JSON with the token and the headers (name, value pairs) and
// decodes the answer, which must have status want, into out.
func sendJSON(ctx context.Context, method, url, token string, body any, want int, out any, headers ...string) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != want {
		return fmt.Errorf("%s %s: status %d: %s", method, url, resp.StatusCode, raw)
	}
	if out != nil {
		return json.Unmarshal(raw, out)
	}
	return nil
}
