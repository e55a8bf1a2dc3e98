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
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	shopv1alpha1 "github.com/storefront-operator/storefront/api/v1alpha1"
	"github.com/storefront-operator/storefront/test/localcluster"
	"github.com/storefront-operator/storefront/test/testenv"
)

// The sample's Storefront, and the images the test moves it through.
const (
	readyTimeout = 3 * time.Minute
	goodTag      = "1.5.0"
	badTag       = "1.5.1-badmigration"
	recoveryTag  = "1.5.2"
)

// TestStorefrontLifecycle is issue 9's unattended flow, each step asserted; a failed
// step ends the test, which then prints the Storefront's status, its Events and the end
// of every process's log.
func TestStorefrontLifecycle(t *testing.T) {
	ctx := context.Background()
	objs, err := cluster.Apply(ctx, filepath.Join(testenv.RepoRoot(), "config", "samples", "shop_v1alpha1_storefront.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != 1 || objs[0].GetKind() != "Storefront" {
		t.Fatalf("the sample holds %d objects, want one Storefront", len(objs))
	}
	key := client.ObjectKey{Namespace: objs[0].GetNamespace(), Name: objs[0].GetName()}
	defer dumpOnFailure(t, key)
	w := &watcher{t: t, key: key, progress: localcluster.NewProgress(time.Now())}
	sampleImage := storefront(t, key).Spec.Image
	repo, _ := localcluster.ParseImage(sampleImage)
	s := &lifecycle{w: w, key: key, repo: repo, sampleImage: sampleImage}

	for _, step := range []struct {
		name string
		run  func(*testing.T)
	}{
		{"the sample becomes Ready on Aurora and ElastiCache Serverless", s.sampleReady},
		{"a shopper registers, searches, fills a cart, pays and reads the order back", s.shop},
		{"the shop's database role may not create or drop tables", s.leastPrivilege},
		{"a rotation of the shop's login under load fails no request and loses no order", s.rotateLogin},
		{"an upgrade migrates before any new replica serves and drops no request", s.upgrade},
		{"a failing migration leaves the old version serving and says why", s.badMigration},
		{"a good tag after the failure is Ready again", s.recover},
		{"a deletion with Retain keeps the database and its data", s.deleteRetain},
	} {
		if !t.Run(step.name, step.run) {
			return
		}
	}
}

// oldPodsGone waits until no pod runs image any more.
func oldPodsGone(t *testing.T, ns, image string) {
	t.Helper()
	waitFor(t, "the pods of "+image+" gone", time.Minute, func() (bool, string) {
		pods := servingPods(t, ns, image)
		return len(pods) == 0, fmt.Sprintf("%d pods left", len(pods))
	})
}

type lifecycle struct {
	w           *watcher
	key         client.ObjectKey
	repo        string
	sampleImage string
	base        string // the shop's URL, its host resolving to its load balancer
	lb          string // the load balancer's own address
	orderID     int64
	orderTotal  int64
	shopper     *cartWriter
	// adminPassword replaces the Secret's once the first sign-in changed it.
	adminPassword string
}

func (s *lifecycle) sampleReady(t *testing.T) {
	s.w.t = t
	sf := s.w.waitReady(t, s.sampleImage, readyTimeout)
	if sf.Status.Phase != shopv1alpha1.PhaseReady {
		t.Errorf("phase %s, want Ready", sf.Status.Phase)
	}
	if sf.Status.MigratedImage != s.sampleImage {
		t.Errorf("migratedImage %q, want %q", sf.Status.MigratedImage, s.sampleImage)
	}
	if want := "http://" + sf.Spec.Ingress.Host; sf.Status.URL != want {
		t.Errorf("status.url %q, want %q", sf.Status.URL, want)
	}
	for what, ep := range map[string]*shopv1alpha1.EndpointStatus{"database": sf.Status.Database, "cache": sf.Status.Cache} {
		if ep == nil || ep.Endpoint != "127.0.0.1" || ep.Port == 0 {
			t.Errorf("status.%s = %+v, want this machine's server", what, ep)
		}
	}
	// The Storefront's status carries no pod counts (a scale would write it); the
	// Deployment has them.
	d := &appsv1.Deployment{}
	if err := cluster.Client.Get(context.Background(), client.ObjectKey{Namespace: s.key.Namespace, Name: s.key.Name + "-shop"}, d); err != nil {
		t.Fatal(err)
	} else if d.Status.ReadyReplicas < sf.Spec.Replicas.Min {
		t.Errorf("the Deployment's readyReplicas %d, want at least replicas.min %d", d.Status.ReadyReplicas, sf.Spec.Replicas.Min)
	}
	for _, c := range []struct{ group, kind string }{
		{"rds.services.k8s.aws", "DBCluster"}, {"rds.services.k8s.aws", "DBInstance"}, {"elasticache.services.k8s.aws", "ServerlessCache"},
	} {
		objs := ackObjects(t, s.key.Namespace, c.group, c.kind)
		if len(objs) != 1 || len(objs[0].GetFinalizers()) == 0 {
			t.Errorf("want one %s with ACK's finalizer, have %d", c.kind, len(objs))
		}
	}
	lb, err := cluster.StorefrontURL(context.Background(), s.key.Namespace, s.key.Name)
	if err != nil || lb == "" {
		t.Fatalf("the Ingress has no load balancer address: %q, %v", lb, err)
	}
	s.lb, s.base = lb, sf.Status.URL
	servedThroughTheLoadBalancer(t, s.base+"/healthz")
}

func (s *lifecycle) shop(t *testing.T) {
	api := &shopAPI{base: s.base, http: cluster.HTTPClient(30 * time.Second)}
	email := fmt.Sprintf("shopper-%d@example.com", time.Now().UnixNano())
	var reg struct {
		Token string `json:"token"`
		User  struct {
			Email string `json:"email"`
		} `json:"user"`
	}
	if code, body := api.call(t, http.MethodPost, "/api/v1/auth/register",
		map[string]string{"email": email, "password": "correct horse battery", "name": "Ada Shopper"}, &reg); code != http.StatusCreated {
		t.Fatalf("register: %d %s", code, body)
	}
	if reg.Token == "" || reg.User.Email != email {
		t.Fatalf("register answered %+v", reg)
	}
	api.token = reg.Token

	type money struct {
		Amount   int64  `json:"amount"`
		Currency string `json:"currency"`
	}
	var found struct {
		Items []struct {
			ID    int64  `json:"id"`
			Name  string `json:"name"`
			Price money  `json:"price"`
			Stock int    `json:"stock"`
		} `json:"items"`
		Total int `json:"total"`
	}
	if code, body := api.call(t, http.MethodGet, "/api/v1/search?q=espresso&per_page=10", nil, &found); code != http.StatusOK {
		t.Fatalf("search: %d %s", code, body)
	}
	if len(found.Items) == 0 {
		t.Fatal("searching the demo catalog for espresso found nothing")
	}
	// The best-stocked one: 2 are ordered here, and the rollouts' probe keeps putting
	// one in the cart afterwards.
	product := found.Items[0]
	for _, p := range found.Items {
		if p.Stock > product.Stock {
			product = p
		}
	}
	if product.Stock < 3 || product.Price.Currency != "EUR" {
		t.Fatalf("no espresso product with 3 in stock in EUR: %+v", found.Items)
	}
	s.shopper = &cartWriter{token: reg.Token, productID: product.ID}

	path := fmt.Sprintf("/api/v1/cart/items/%d", product.ID)
	if code, body := api.call(t, http.MethodPut, path, map[string]int{"quantity": 2}, nil); code >= 300 {
		t.Fatalf("adding to the cart: %d %s", code, body)
	}
	var cart struct {
		Items []struct {
			ProductID int64 `json:"product_id"`
			Quantity  int   `json:"quantity"`
		} `json:"items"`
		Total money `json:"total"`
	}
	if code, body := api.call(t, http.MethodGet, "/api/v1/cart", nil, &cart); code != http.StatusOK {
		t.Fatalf("reading the cart: %d %s", code, body)
	}
	if len(cart.Items) != 1 || cart.Items[0].ProductID != product.ID || cart.Items[0].Quantity != 2 || cart.Total.Amount != 2*product.Price.Amount {
		t.Fatalf("cart %+v, want 2 × product %d at %d", cart, product.ID, product.Price.Amount)
	}

	type order struct {
		ID     int64  `json:"id"`
		Status string `json:"status"`
		Total  money  `json:"total"`
		Items  []struct {
			ProductID int64 `json:"product_id"`
			Quantity  int   `json:"quantity"`
		} `json:"items"`
	}
	var placed order
	checkout := map[string]any{
		"shipping_address": map[string]string{"name": "Ada Shopper", "line1": "1 Analytical Row", "city": "London", "postal_code": "N1 7GU", "country": "GB"},
		"payment":          map[string]any{"card_number": "4242 4242 4242 4242", "exp_month": 12, "exp_year": time.Now().Year() + 2, "cvc": "123"},
	}
	if code, body := api.call(t, http.MethodPost, "/api/v1/orders", checkout, &placed, "Idempotency-Key", "e2e-"+email); code != http.StatusCreated {
		t.Fatalf("ordering: %d %s", code, body)
	}
	if placed.ID == 0 || placed.Status != "paid" || placed.Total.Amount != 2*product.Price.Amount {
		t.Fatalf("order %+v, want a paid order of %d", placed, 2*product.Price.Amount)
	}
	var back order
	if code, body := api.call(t, http.MethodGet, fmt.Sprintf("/api/v1/orders/%d", placed.ID), nil, &back); code != http.StatusOK {
		t.Fatalf("reading the order back: %d %s", code, body)
	}
	if back.ID != placed.ID || back.Total != placed.Total || len(back.Items) != 1 || back.Items[0].ProductID != product.ID || back.Items[0].Quantity != 2 {
		t.Fatalf("order read back %+v, placed %+v", back, placed)
	}
	s.orderID, s.orderTotal = placed.ID, placed.Total.Amount
}

func (s *lifecycle) upgrade(t *testing.T) {
	s.w.t = t
	image := s.repo + ":" + goodTag
	b := s.newBuyer(t)
	p := startProbe(s.base, 2, s.shopper)
	l := startLoad(s.base, minReadsPerSecond*1.25, minOrdersPerSecond*1.5, b)
	patchStorefront(t, s.key, map[string]any{"image": image})
	s.w.waitReady(t, image, readyTimeout)
	// The probe goes on until the old pods are gone: through their deregistration,
	// SHUTDOWN_DELAY and drain.
	oldPodsGone(t, s.key.Namespace, s.sampleImage)
	p.finish(t, 50)
	if created, n := l.finish(t), s.ordersIn(t, b); n != created {
		t.Errorf("%d of the buyer's orders in PostgreSQL, %d answered 201", n, created)
	}

	ns := s.key.Namespace
	job := migrationJob(t, ns, image)
	evs := events(t, ns)
	completed := findEvent(evs, "Job", job.Name, "Completed")
	if completed == nil {
		t.Fatalf("no Completed Event of Job %s", job.Name)
	}
	doneAt := eventTime(*completed)
	pods := servingPods(t, ns, image)
	if len(pods) < 2 {
		t.Fatalf("%d pods serve %s, want 2", len(pods), image)
	}
	for _, pod := range pods {
		started := findEvent(evs, "Pod", pod.Name, "Started")
		if started == nil {
			t.Fatalf("no Started Event of pod %s", pod.Name)
		}
		if at := eventTime(*started); !at.After(doneAt) {
			t.Errorf("pod %s of %s started at %s, before its migration Job %s completed at %s",
				pod.Name, image, at.Format(time.StampMicro), job.Name, doneAt.Format(time.StampMicro))
		}
		if at := firstRequest(t, ns, pod.Name); !at.After(doneAt) {
			t.Errorf("pod %s of %s served a request at %s, before its migration Job %s completed at %s",
				pod.Name, image, at.Format(time.StampMicro), job.Name, doneAt.Format(time.StampMicro))
		}
	}
}

func (s *lifecycle) badMigration(t *testing.T) {
	s.w.t = t
	good, bad := s.repo+":"+goodTag, s.repo+":"+badTag
	p := startProbe(s.base, 2, s.shopper)
	patchStorefront(t, s.key, map[string]any{"image": bad})
	var sf *shopv1alpha1.Storefront
	waitFor(t, "SchemaMigrated=False/MigrationFailed for "+bad, readyTimeout, func() (bool, string) {
		sf = storefront(t, s.key)
		s.w.observe(sf)
		c := condition(sf, shopv1alpha1.ConditionSchemaMigrated)
		return c.Status == metav1.ConditionFalse && c.Reason == shopv1alpha1.ReasonMigrationFailed &&
			c.ObservedGeneration == sf.Generation && sf.Status.FailedImage == bad, c.Reason + ": " + c.Message
	})
	// The old version keeps serving for a while after the failure, too.
	keepServing := time.Now().Add(2 * time.Second)
	waitFor(t, "two more seconds of the old version", 10*time.Second, func() (bool, string) {
		return time.Now().After(keepServing), ""
	})
	p.finish(t, 20)

	sf = storefront(t, s.key)
	migrated := condition(sf, shopv1alpha1.ConditionSchemaMigrated)
	if !strings.Contains(migrated.Message, "fails on purpose") {
		t.Errorf("SchemaMigrated says %q, want the migration's own failure", migrated.Message)
	}
	if sf.Status.ServedImage != good || sf.Status.MigratedImage != good {
		t.Errorf("served %q, migrated %q; want the old %q", sf.Status.ServedImage, sf.Status.MigratedImage, good)
	}
	if sf.Status.Phase != shopv1alpha1.PhaseDegraded {
		t.Errorf("phase %s, want Degraded", sf.Status.Phase)
	}
	if pods := servingPods(t, s.key.Namespace, bad); len(pods) != 0 {
		t.Errorf("%d pods run %s", len(pods), bad)
	}
	ready := 0
	for _, pod := range servingPods(t, s.key.Namespace, good) {
		for _, c := range pod.Status.Conditions {
			if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
				ready++
			}
		}
	}
	if ready < int(sf.Spec.Replicas.Min) {
		t.Errorf("%d ready pods run %s, want %d", ready, good, sf.Spec.Replicas.Min)
	}
}

func (s *lifecycle) recover(t *testing.T) {
	s.w.t = t
	image := s.repo + ":" + recoveryTag
	p := startProbe(s.base, 1, s.shopper)
	patchStorefront(t, s.key, map[string]any{"image": image})
	sf := s.w.waitReady(t, image, readyTimeout)
	oldPodsGone(t, s.key.Namespace, s.repo+":"+goodTag)
	p.finish(t, 10)
	if sf.Status.Phase != shopv1alpha1.PhaseReady {
		t.Errorf("phase %s, want Ready", sf.Status.Phase)
	}
}

func (s *lifecycle) deleteRetain(t *testing.T) {
	s.w.t = t
	ctx := context.Background()
	ns := s.key.Namespace
	patchStorefront(t, s.key, map[string]any{"database": map[string]any{"aurora": map[string]any{"deletionPolicy": "Retain"}}})
	var identifier string
	waitFor(t, "the DBCluster's retain deletion policy", time.Minute, func() (bool, string) {
		clusters := ackObjects(t, ns, "rds.services.k8s.aws", "DBCluster")
		if len(clusters) != 1 {
			return false, fmt.Sprintf("%d DBClusters", len(clusters))
		}
		identifier, _, _ = unstructured.NestedString(clusters[0].Object, "spec", "dbClusterIdentifier")
		a := clusters[0].GetAnnotations()["services.k8s.aws/deletion-policy"]
		return a == "retain", "deletion-policy " + a
	})
	secrets := &corev1.SecretList{}
	if err := cluster.Client.List(ctx, secrets, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	var password *corev1.Secret
	for i := range secrets.Items {
		if strings.HasPrefix(secrets.Items[i].Name, s.key.Name+"-db-password-v") {
			password = &secrets.Items[i]
		}
	}
	if password == nil {
		t.Fatal("no master password Secret")
	}

	sf := storefront(t, s.key)
	if err := cluster.Client.Delete(ctx, sf); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the Storefront gone", 2*time.Minute, func() (bool, string) {
		// Observe the object read here: a second read could already find it gone.
		sf := &shopv1alpha1.Storefront{}
		err := cluster.Client.Get(ctx, s.key, sf)
		if apierrors.IsNotFound(err) {
			return true, ""
		}
		if err == nil {
			s.w.observe(sf)
		}
		return false, fmt.Sprint(err)
	})

	// The shop is gone: no pod, no Ingress, the proxy closed.
	waitFor(t, "the shop's pods gone", time.Minute, func() (bool, string) {
		pods := &corev1.PodList{}
		if err := cluster.Client.List(ctx, pods, client.InNamespace(ns)); err != nil {
			return false, err.Error()
		}
		var names []string
		for _, p := range pods.Items {
			if o := metav1.GetControllerOf(&p); o != nil && o.Kind == "ReplicaSet" {
				names = append(names, p.Name)
			}
		}
		return len(names) == 0, strings.Join(names, ", ")
	})
	waitFor(t, "the load balancer deleted", time.Minute, func() (bool, string) {
		resp, err := http.Get(s.lb + "/healthz")
		if err == nil {
			_ = resp.Body.Close()
			return false, resp.Status
		}
		return errors.Is(err, syscall.ECONNREFUSED), err.Error()
	})

	// The database and its data are still there, reachable with the kept password.
	if err := cluster.Client.Get(ctx, client.ObjectKeyFromObject(password), &corev1.Secret{}); err != nil {
		t.Fatalf("the master password Secret %s: %v", password.Name, err)
	}
	var kept *localcluster.RetainedDatabase
	for _, db := range cluster.RetainedDatabases() {
		if db.Identifier == identifier {
			kept = &db
		}
	}
	if kept == nil {
		t.Fatalf("ACK retained no database for DBCluster %s: %+v", identifier, cluster.RetainedDatabases())
	}
	u := url.URL{
		Scheme:   "postgres",
		User:     url.UserPassword(kept.User, string(password.Data["password"])),
		Host:     net.JoinHostPort(kept.Endpoint.Address, fmt.Sprint(kept.Endpoint.Port)),
		Path:     "/" + kept.Database,
		RawQuery: url.Values{"sslmode": {"verify-full"}, "sslrootcert": {cluster.CAFile()}}.Encode(),
	}
	conn, err := pgx.Connect(ctx, u.String())
	if err != nil {
		t.Fatalf("connecting to the retained database with the kept password: %v", err)
	}
	defer func() { _ = conn.Close(ctx) }()
	var total int64
	if err := conn.QueryRow(ctx, `SELECT total_minor FROM orders WHERE id = $1`, s.orderID).Scan(&total); err != nil {
		t.Fatalf("reading order %d from the retained database: %v", s.orderID, err)
	}
	if total != s.orderTotal {
		t.Errorf("the retained order's total is %d, want %d", total, s.orderTotal)
	}
}
