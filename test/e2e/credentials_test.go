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

package e2e_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	shopv1alpha1 "github.com/storefront-operator/storefront/api/v1alpha1"
	"github.com/storefront-operator/storefront/test/localcluster"
)

// The load a rotation and an upgrade must carry without a failed request (issue 19).
const (
	minReadsPerSecond  = 20
	minOrdersPerSecond = 2
)

// secretValue reads one key of a Secret of the Storefront's namespace.
func secretValue(t *testing.T, ns, name, key string) string {
	t.Helper()
	s := &corev1.Secret{}
	if err := cluster.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, s); err != nil {
		t.Fatalf("reading Secret %s: %v", name, err)
	}
	return string(s.Data[key])
}

// connect opens a connection to the shop's database with the URL as given.
func connect(t *testing.T, dbURL string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), dbURL)
	if err != nil {
		t.Fatalf("connecting as %s: %v", userOf(dbURL), err)
	}
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

func userOf(dbURL string) string {
	u, err := url.Parse(dbURL)
	if err != nil {
		return "?"
	}
	return u.User.Username()
}

// sqlState is the SQLSTATE of a PostgreSQL error, "" for another error or none.
func sqlState(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code
	}
	return ""
}

// loadBuyer is a shopper who places orders of one product during a load.
type loadBuyer struct {
	email, token string
	productID    int64
}

// newBuyer registers a shopper for a load and gives the product enough stock for it
// (as the shop's admin, whose login the operator generated).
func (s *lifecycle) newBuyer(t *testing.T) *loadBuyer {
	t.Helper()
	api := &shopAPI{base: s.base, http: cluster.HTTPClient(30 * time.Second)}
	ns := s.key.Namespace
	var login struct {
		Token string `json:"token"`
	}
	admin := map[string]string{
		"email":    secretValue(t, ns, s.key.Name+"-app", "admin-email"),
		"password": secretValue(t, ns, s.key.Name+"-app", "admin-password"),
	}
	if s.adminPassword != "" {
		admin["password"] = s.adminPassword
	}
	code, body := api.call(t, http.MethodPost, "/api/v1/auth/login", admin, &login)
	if code == http.StatusForbidden && s.adminPassword == "" {
		// The first sign-in replaces the Secret's generated password (issue 21).
		var change struct {
			ChangeToken string `json:"change_token"`
		}
		if err := json.Unmarshal([]byte(body), &change); err != nil {
			t.Fatalf("the admin's first login: %d %s", code, body)
		}
		s.adminPassword = "e2e-" + admin["password"]
		code, body = api.call(t, http.MethodPost, "/api/v1/auth/password-change",
			map[string]string{"change_token": change.ChangeToken, "new_password": s.adminPassword}, &login)
	}
	if code != http.StatusOK {
		t.Fatalf("the admin's login: %d %s", code, body)
	}
	api.token = login.Token
	if code, body := api.call(t, http.MethodPatch, fmt.Sprintf("/api/v1/admin/products/%d/stock", s.shopper.productID),
		map[string]int{"stock": 1_000_000}, nil); code != http.StatusOK {
		t.Fatalf("setting the stock: %d %s", code, body)
	}
	b := &loadBuyer{email: fmt.Sprintf("buyer-%d@example.com", time.Now().UnixNano()), productID: s.shopper.productID}
	api.token = ""
	var reg struct {
		Token string `json:"token"`
	}
	if code, body := api.call(t, http.MethodPost, "/api/v1/auth/register",
		map[string]string{"email": b.email, "password": "correct horse battery", "name": "Load Buyer"}, &reg); code != http.StatusCreated {
		t.Fatalf("registering the buyer: %d %s", code, body)
	}
	b.token = reg.Token
	return b
}

// load keeps a steady load through the load balancer, as shoppers would during a
// change: readers browse the catalog at readsPerSecond, buyers order at
// ordersPerSecond. Every request is sent once, never retried; any answer but the
// expected one counts as a failure.
type load struct {
	reads, created, failures atomic.Int64
	mu                       sync.Mutex
	failed                   []string
	started                  time.Time
	stop                     chan struct{}
	wg                       sync.WaitGroup
}

// Workers per kind of request: each sends at its share of the rate, one request at a
// time, so a slow answer lowers the rate (and the test sees it) rather than piling up.
const (
	readWorkers  = 6
	orderWorkers = 2
)

func startLoad(base string, readsPerSecond, ordersPerSecond float64, b *loadBuyer) *load {
	l := &load{stop: make(chan struct{}), started: time.Now()}
	httpClient := cluster.HTTPClient(10 * time.Second)
	// One read in five searches: about 5 searches/s from the test's one address, under the
	// shop's default limit of 10 per client per replica.
	paths := []string{"/api/v1/products?per_page=3", "/api/v1/categories", "/api/v1/search?q=coffee&per_page=2",
		"/api/v1/products?per_page=2&sort=price_asc", "/api/v1/categories"}
	run := func(workers int, perSecond float64, send func(i int) (string, error)) {
		interval := time.Duration(float64(workers) / perSecond * float64(time.Second))
		for w := range workers {
			l.wg.Add(1)
			go func() {
				defer l.wg.Done()
				tick := time.NewTicker(interval) // pacing the load, not synchronising
				defer tick.Stop()
				for i := w; ; i += workers {
					select {
					case <-l.stop:
						return
					case <-tick.C:
					}
					if what, err := send(i); err != nil {
						l.failures.Add(1)
						l.mu.Lock()
						if len(l.failed) < 10 {
							l.failed = append(l.failed, fmt.Sprintf("%s %s: %v", time.Now().Format("15:04:05.000"), what, err))
						}
						l.mu.Unlock()
					}
				}
			}()
		}
	}
	run(readWorkers, readsPerSecond, func(i int) (string, error) {
		path := paths[i%len(paths)]
		err := expect(httpClient, http.MethodGet, base+path, "", nil, http.StatusOK)
		if err == nil {
			l.reads.Add(1)
		}
		return "GET " + path, err
	})
	run(orderWorkers, ordersPerSecond, func(i int) (string, error) {
		body, _ := json.Marshal(map[string]any{
			"items":            []map[string]any{{"product_id": b.productID, "quantity": 1}},
			"shipping_address": map[string]string{"name": "Load Buyer", "line1": "1 Steady Street", "city": "Leeds", "postal_code": "LS1 1AA", "country": "GB"},
			"payment":          map[string]any{"card_number": "4242 4242 4242 4242", "exp_month": 12, "exp_year": time.Now().Year() + 2, "cvc": "123"},
		})
		req, err := http.NewRequest(http.MethodPost, base+"/api/v1/orders", strings.NewReader(string(body)))
		if err != nil {
			return "POST /api/v1/orders", err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+b.token)
		req.Header.Set("Idempotency-Key", fmt.Sprintf("%s-%d", b.email, i))
		resp, err := httpClient.Do(req)
		if err != nil {
			return "POST /api/v1/orders", err
		}
		defer func() { _ = resp.Body.Close() }()
		if resp.StatusCode != http.StatusCreated {
			return "POST /api/v1/orders", fmt.Errorf("status %d", resp.StatusCode)
		}
		l.created.Add(1)
		return "", nil
	})
	return l
}

// finish stops the load and fails t on any failed request or a rate below the minimum;
// it returns the number of orders the shop answered 201 to.
func (l *load) finish(t *testing.T) int64 {
	t.Helper()
	close(l.stop)
	l.wg.Wait()
	secs := time.Since(l.started).Seconds()
	reads, created, failures := l.reads.Load(), l.created.Load(), l.failures.Load()
	t.Logf("load: %d reads (%.1f/s), %d orders created (%.1f/s), %d failed, over %.0fs", reads, float64(reads)/secs, created, float64(created)/secs, failures, secs)
	if failures > 0 {
		t.Errorf("%d requests failed, first: %s", failures, strings.Join(l.failed, "; "))
	}
	if r := float64(reads) / secs; r < minReadsPerSecond {
		t.Errorf("%.1f reads/s, want at least %d", r, minReadsPerSecond)
	}
	if r := float64(created) / secs; r < minOrdersPerSecond {
		t.Errorf("%.1f orders/s, want at least %d", r, minOrdersPerSecond)
	}
	return created
}

// ordersIn counts the buyer's orders in PostgreSQL, read as the master user.
func (s *lifecycle) ordersIn(t *testing.T, b *loadBuyer) int64 {
	t.Helper()
	conn := connect(t, secretValue(t, s.key.Namespace, s.key.Name+"-migrate-connection", "DATABASE_URL"))
	var n int64
	if err := conn.QueryRow(context.Background(),
		`SELECT count(*) FROM orders o JOIN users u ON u.id = o.user_id WHERE u.email = $1`, b.email).Scan(&n); err != nil {
		t.Fatalf("counting the buyer's orders: %v", err)
	}
	return n
}

// leastPrivilege: the shop's pods log in as an application role that may read and write
// the shop's rows and nothing more; the master user is only in the migrations' Secret.
func (s *lifecycle) leastPrivilege(t *testing.T) {
	ns := s.key.Namespace
	sf := storefront(t, s.key)
	if c := sf.Status.Credentials; c == nil || c.ActiveRole != "app_a" {
		t.Fatalf("status.credentials %+v, want the shop on app_a", c)
	}
	shopURL := secretValue(t, ns, s.key.Name+"-connection", "DATABASE_URL")
	if u := userOf(shopURL); u != "app_a" {
		t.Fatalf("the shop's DATABASE_URL logs in as %q, want app_a", u)
	}
	if u := userOf(secretValue(t, ns, s.key.Name+"-migrate-connection", "DATABASE_URL")); u != "storefront" {
		t.Errorf("the migrations log in as %q, want the master user storefront", u)
	}
	conn := connect(t, shopURL)
	ctx := context.Background()
	var orders int64
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM orders`).Scan(&orders); err != nil || orders == 0 {
		t.Fatalf("the shop's role reads %d orders: %v", orders, err)
	}
	for _, stmt := range []string{
		`CREATE TABLE e2e_not_allowed (v int)`,
		`CREATE TEMPORARY TABLE e2e_not_allowed (v int)`,
		`DROP TABLE orders`,
		`TRUNCATE orders`,
	} {
		_, err := conn.Exec(ctx, stmt)
		if code := sqlState(err); code != "42501" {
			t.Errorf("%s as the shop's role: %v (SQLSTATE %q), want insufficient_privilege (42501)", stmt, err, code)
		}
	}
}

// rotateLogin rotates the shop's login under load: no request fails, every order the
// shop confirmed is in PostgreSQL, the shop ends on app_b and app_a may not log in.
func (s *lifecycle) rotateLogin(t *testing.T) {
	s.w.t = t
	ns := s.key.Namespace
	oldURL := secretValue(t, ns, s.key.Name+"-connection", "DATABASE_URL")
	b := s.newBuyer(t)
	l := startLoad(s.base, minReadsPerSecond*1.25, minOrdersPerSecond*1.5, b)
	value := fmt.Sprintf("e2e-%d", time.Now().Unix())
	patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]string{shopv1alpha1.AnnotationRotateDBPassword: value}}})
	sf := &shopv1alpha1.Storefront{}
	sf.Namespace, sf.Name = s.key.Namespace, s.key.Name
	if err := cluster.Client.Patch(context.Background(), sf, client.RawPatch("application/merge-patch+json", patch)); err != nil {
		t.Fatal(err)
	}
	var switched bool
	waitFor(t, "the rotation "+value+" handled", readyTimeout, func() (bool, string) {
		sf := storefront(t, s.key)
		s.w.observe(sf)
		c := sf.Status.Credentials
		if c == nil {
			return false, "no status.credentials"
		}
		switched = switched || c.ActiveRole == "app_b"
		return c.HandledRotation == value && c.RetiringRole == "" && localcluster.ReadyNow(sf),
			fmt.Sprintf("active %s, retiring %q, handled %q, phase %s", c.ActiveRole, c.RetiringRole, c.HandledRotation, sf.Status.Phase)
	})
	created := l.finish(t)
	if n := s.ordersIn(t, b); n != created {
		t.Errorf("%d of the buyer's orders in PostgreSQL, %d answered 201", n, created)
	}
	if !switched {
		t.Error("the shop never logged in as app_b")
	}
	newURL := secretValue(t, ns, s.key.Name+"-connection", "DATABASE_URL")
	if u := userOf(newURL); u != "app_b" {
		t.Errorf("after the rotation the shop logs in as %q, want app_b", u)
	}
	connect(t, newURL)
	conn, err := pgx.Connect(context.Background(), oldURL)
	if err == nil {
		_ = conn.Close(context.Background())
		t.Error("app_a still logs in after the rotation")
	} else if code := sqlState(err); code != "28000" && code != "28P01" {
		t.Errorf("app_a's login after the rotation: %v, want it refused (28000 or 28P01)", err)
	}
}
