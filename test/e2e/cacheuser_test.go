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
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	shopv1alpha1 "github.com/storefront-operator/storefront/api/v1alpha1"
	"github.com/storefront-operator/storefront/test/localcluster"
	"github.com/storefront-operator/storefront/test/testenv"
)

// TestShopCacheUser: the shop logs in to its serverless cache as its own ElastiCache
// user, which can do what the shop does and nothing else; a connection without
// credentials is refused; a rotation of the cache password, under a loop of reads and
// orders, fails no request and loses no order.
func TestShopCacheUser(t *testing.T) {
	ctx := context.Background()
	ns := "cache-user"
	createNamespace(t, ns)
	b, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "config", "samples", "shop_v1alpha1_storefront.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	sf := &shopv1alpha1.Storefront{}
	if err := yaml.UnmarshalStrict(b, sf); err != nil {
		t.Fatal(err)
	}
	sf.Namespace, sf.Name = ns, "cached"
	sf.Spec.Ingress.Host = "cached.example"
	sf.Spec.Database.Aurora.DeletionPolicy = shopv1alpha1.DeletionPolicyDelete
	if err := cluster.Client.Create(ctx, sf); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cluster.Client.Delete(ctx, sf) }()
	key := client.ObjectKeyFromObject(sf)
	defer dumpOnFailure(t, key)
	w := &watcher{t: t, key: key, progress: localcluster.NewProgress(time.Now())}
	ready := w.waitReady(t, sf.Spec.Image, readyTimeout)
	base := "http://" + sf.Spec.Ingress.Host
	servedThroughTheLoadBalancer(t, base+"/api/v1/categories")

	// The shop's user, as REDIS_URL names it.
	user, password := redisCredentials(t, ns, "cached")
	if ready.Status.CacheUser == nil || ready.Status.CacheUser.Active != user {
		t.Fatalf("status.cacheUser %+v, REDIS_URL's user %q", ready.Status.CacheUser, user)
	}
	addr := fmt.Sprintf("%s:%d", ready.Status.Cache.Endpoint, ready.Status.Cache.Port)
	shop := cacheClient(t, addr, user, password)
	if err := shop.Ping(ctx).Err(); err != nil {
		t.Fatalf("PING as the shop's user: %v", err)
	}
	if err := cacheClient(t, addr, "", "").Ping(ctx).Err(); err == nil || !strings.Contains(err.Error(), "NOAUTH") {
		t.Errorf("PING without credentials: %v, want NOAUTH", err)
	}
	for _, cmd := range [][]any{{"FLUSHALL"}, {"CONFIG", "GET", "maxmemory"}, {"KEYS", "*"}} {
		if err := shop.Do(ctx, cmd...).Err(); err == nil || !strings.Contains(err.Error(), "NOPERM") {
			t.Errorf("%v as the shop's user: %v, want NOPERM", cmd, err)
		}
	}

	// A rotation under load: readers, a cart writer, and a buyer placing orders.
	api := &shopAPI{base: base, http: cluster.HTTPClient(30 * time.Second)}
	email := fmt.Sprintf("buyer-%d@example.com", time.Now().UnixNano())
	var reg struct {
		Token string `json:"token"`
	}
	if code, body := api.call(t, http.MethodPost, "/api/v1/auth/register",
		map[string]string{"email": email, "password": "correct horse battery", "name": "Bea Buyer"}, &reg); code != http.StatusCreated {
		t.Fatalf("register: %d %s", code, body)
	}
	api.token = reg.Token
	stock := inStock(t, api)
	p := startProbe(base, 2, nil)
	buyer := startBuyer(api.base, reg.Token, stock)

	patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]string{shopv1alpha1.AnnotationRotateCachePassword: "e2e-1"}}})
	if err := cluster.Client.Patch(ctx, &shopv1alpha1.Storefront{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "cached"}},
		client.RawPatch("application/merge-patch+json", patch)); err != nil {
		t.Fatal(err)
	}
	newUser := strings.TrimSuffix(user, "-v1") + "-v2"
	waitFor(t, "the rotation to "+newUser+" done", 3*time.Minute, func() (bool, string) {
		sf := storefront(t, key)
		w.observe(sf)
		cu := sf.Status.CacheUser
		users := ackObjects(t, ns, "elasticache.services.k8s.aws", "User")
		return cu != nil && cu.Active == newUser && len(cu.Retiring) == 0 && len(users) == 2 && localcluster.ReadyNow(sf),
			fmt.Sprintf("status.cacheUser %+v, %d Users", cu, len(users))
	})
	// The loops go on a little on the new user.
	after := buyer.created.Load()
	waitFor(t, "five more orders on the new user", time.Minute, func() (bool, string) {
		n := buyer.created.Load()
		return n >= after+5, fmt.Sprintf("%d orders since", n-after)
	})
	p.finish(t, 50)
	created := buyer.finish(t)

	rotatedUser, rotatedPassword := redisCredentials(t, ns, "cached")
	if rotatedUser != newUser || rotatedPassword == password {
		t.Errorf("REDIS_URL after the rotation: user %q (want %q), password changed %v", rotatedUser, newUser, rotatedPassword != password)
	}
	if err := cacheClient(t, addr, rotatedUser, rotatedPassword).Ping(ctx).Err(); err != nil {
		t.Errorf("PING as the new user: %v", err)
	}
	if err := cacheClient(t, addr, user, password).Ping(ctx).Err(); err == nil || !strings.Contains(err.Error(), "WRONGPASS") {
		t.Errorf("PING as the retired user: %v, want WRONGPASS", err)
	}

	// Every 201 is an order in PostgreSQL, and nothing more.
	conn := &corev1.Secret{}
	if err := cluster.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "cached-connection"}, conn); err != nil {
		t.Fatal(err)
	}
	db, err := pgx.Connect(ctx, string(conn.Data["DATABASE_URL"]))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = db.Close(ctx) }()
	var stored int64
	if err := db.QueryRow(ctx, `SELECT count(*) FROM orders o JOIN users u ON u.id = o.user_id WHERE u.email = $1`, email).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	t.Logf("orders: %d answered 201, %d in PostgreSQL", created, stored)
	if created == 0 || stored != created {
		t.Errorf("%d orders in PostgreSQL, %d answered 201", stored, created)
	}
}

// redisCredentials reads the user and password of the Storefront's REDIS_URL.
func redisCredentials(t *testing.T, ns, name string) (string, string) {
	t.Helper()
	conn := &corev1.Secret{}
	if err := cluster.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name + "-connection"}, conn); err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(string(conn.Data["REDIS_URL"]))
	if err != nil || u.User == nil {
		t.Fatalf("REDIS_URL carries no credentials (%v)", err)
	}
	password, _ := u.User.Password()
	return u.User.Username(), password
}

// cacheClient is a client of the cache at addr as user ("": none), over TLS verified
// against the cluster's CA.
func cacheClient(t *testing.T, addr, user, password string) *redis.Client {
	t.Helper()
	pool, err := localcluster.CAPool(cluster.CAFile())
	if err != nil {
		t.Fatal(err)
	}
	opts, err := redis.ParseURL("rediss://" + addr)
	if err != nil {
		t.Fatal(err)
	}
	opts.TLSConfig.RootCAs, opts.Username, opts.Password, opts.MaxRetries, opts.DisableIdentity = pool, user, password, -1, true
	c := redis.NewClient(opts)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// inStock is product ID → units the buyer may order of the products of the first
// catalog page.
func inStock(t *testing.T, api *shopAPI) map[int64]int {
	t.Helper()
	var page struct {
		Items []struct {
			ID    int64 `json:"id"`
			Stock int   `json:"stock"`
		} `json:"items"`
	}
	if code, body := api.call(t, http.MethodGet, "/api/v1/products?per_page=50", nil, &page); code != http.StatusOK {
		t.Fatalf("listing products: %d %s", code, body)
	}
	out := map[int64]int{}
	for _, p := range page.Items {
		if p.Stock > 1 {
			out[p.ID] = p.Stock - 1
		}
	}
	if len(out) == 0 {
		t.Fatal("no product in stock")
	}
	return out
}

// buyer places orders of one unit in a loop, each with its own Idempotency-Key, and
// counts the 201s and the other answers.
type buyer struct {
	created, failures atomic.Int64
	mu                sync.Mutex
	failed            []string
	stop              chan struct{}
	done              chan struct{}
}

func startBuyer(base, token string, stock map[int64]int) *buyer {
	b := &buyer{stop: make(chan struct{}), done: make(chan struct{})}
	client := cluster.HTTPClient(30 * time.Second)
	var ids []int64
	for id := range stock {
		ids = append(ids, id)
	}
	go func() {
		defer close(b.done)
		for i := 0; ; i++ {
			select {
			case <-b.stop:
				return
			case <-time.After(150 * time.Millisecond): // a buyer's pace, not synchronisation
			}
			id := ids[i%len(ids)]
			if stock[id] == 0 {
				continue
			}
			stock[id]--
			body := fmt.Sprintf(`{"items":[{"product_id":%d,"quantity":1}],`+
				`"shipping_address":{"name":"Bea Buyer","line1":"2 Cache Lane","city":"Leeds","postal_code":"LS1 4AP","country":"GB"},`+
				`"payment":{"card_number":"4242 4242 4242 4242","exp_month":12,"exp_year":%d,"cvc":"123"}}`, id, time.Now().Year()+2)
			req, _ := http.NewRequest(http.MethodPost, base+"/api/v1/orders", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+token)
			req.Header.Set("Idempotency-Key", fmt.Sprintf("cache-user-%d-%d", time.Now().UnixNano(), i))
			resp, err := client.Do(req)
			if err == nil {
				_ = resp.Body.Close()
				if resp.StatusCode == http.StatusCreated {
					b.created.Add(1)
					continue
				}
				err = fmt.Errorf("status %d", resp.StatusCode)
			}
			b.failures.Add(1)
			b.mu.Lock()
			if len(b.failed) < 10 {
				b.failed = append(b.failed, fmt.Sprintf("%s POST /api/v1/orders: %v", time.Now().Format("15:04:05.000"), err))
			}
			b.mu.Unlock()
		}
	}()
	return b
}

// finish stops the buyer, fails t on any answer but 201, and returns the 201s.
func (b *buyer) finish(t *testing.T) int64 {
	t.Helper()
	close(b.stop)
	<-b.done
	if n := b.failures.Load(); n > 0 {
		t.Errorf("%d orders failed, first: %s", n, strings.Join(b.failed, "; "))
	}
	return b.created.Load()
}
