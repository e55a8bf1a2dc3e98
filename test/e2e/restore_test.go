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
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	shopv1alpha1 "github.com/storefront-operator/storefront/api/v1alpha1"
	"github.com/storefront-operator/storefront/test/localcluster"
)

// TestRestoreUndoesAnUpgrade is issue 23's restore on real PostgreSQL servers: the shop
// at image A is upgraded to B (the operator snapshots the database before B's
// migration: a pg_dump with the roles' password hashes of the time), an order is
// placed, and a restore of that snapshot brings the database back as it was: the
// order and its buyer are gone, the shop serves from a new server through new
// credentials (the migration of B ran on it as the master user and reset the
// application role's password), Ready. Then, deleted under Retain and created again
// from the same manifest, the shop adopts the restored server with its data.
func TestRestoreUndoesAnUpgrade(t *testing.T) {
	ctx := context.Background()
	ns := "restore"
	createNamespace(t, ns)
	sf := storefrontTrusting(t, ns, "undo", "")
	sf.Spec.Database.Aurora.CABundleSecretRef = nil
	sf.Spec.Cache = nil // not what this test is about
	sf.Spec.Replicas.Min = 1
	if err := cluster.Client.Create(ctx, sf); err != nil {
		t.Fatal(err)
	}
	key := client.ObjectKeyFromObject(sf)
	defer func() {
		// Let the databases go with the test (the continuation below retains them).
		patchStorefront(t, key, map[string]any{"database": map[string]any{"aurora": map[string]any{"deletionPolicy": "Delete"}}})
		_ = cluster.Client.Delete(ctx, sf)
	}()
	defer dumpOnFailure(t, key)
	w := &watcher{t: t, key: key, progress: localcluster.NewProgress(time.Now())}
	w.waitReady(t, sf.Spec.Image, readyTimeout)

	repo, _ := localcluster.ParseImage(sf.Spec.Image)
	upgraded := repo + ":" + goodTag
	patchStorefront(t, key, map[string]any{"image": upgraded})
	cur := w.waitReady(t, upgraded, readyTimeout)
	snapshot := ""
	for _, e := range cur.Status.Snapshots {
		if e.ForImage == upgraded && e.State == "available" {
			snapshot = e.Identifier
		}
	}
	if snapshot == "" {
		t.Fatalf("no available snapshot before the migration of %s in %+v", upgraded, cur.Status.Snapshots)
	}
	before := *cur.Status.Database
	oldAppUser := userOf(secretValue(t, ns, "undo-connection", "DATABASE_URL"))

	// An order after the snapshot, by a buyer registered after it, once the ALB serves
	// the upgraded pods.
	oldPodsGone(t, ns, sf.Spec.Image)
	base := "http://" + sf.Spec.Ingress.Host
	servedThroughTheLoadBalancer(t, base+"/api/v1/categories")
	api := &shopAPI{base: base, http: cluster.HTTPClient(30 * time.Second)}
	email := fmt.Sprintf("after-snapshot-%d@example.com", time.Now().UnixNano())
	var reg struct {
		Token string `json:"token"`
	}
	if code, body := api.call(t, http.MethodPost, "/api/v1/auth/register",
		map[string]string{"email": email, "password": "correct horse battery", "name": "Late Buyer"}, &reg); code != http.StatusCreated {
		t.Fatalf("registering the buyer: %d %s", code, body)
	}
	var product int64
	for id := range inStock(t, api) {
		product = id
		break
	}
	api.token = reg.Token
	order := map[string]any{
		"items":            []map[string]any{{"product_id": product, "quantity": 1}},
		"shipping_address": map[string]string{"name": "Late Buyer", "line1": "1 Undo Street", "city": "Leeds", "postal_code": "LS1 1AA", "country": "GB"},
		"payment":          map[string]any{"card_number": "4242 4242 4242 4242", "exp_month": 12, "exp_year": time.Now().Year() + 2, "cvc": "123"},
	}
	if code, body := api.call(t, http.MethodPost, "/api/v1/orders", order, nil, "Idempotency-Key", email); code != http.StatusCreated {
		t.Fatalf("placing the order: %d %s", code, body)
	}
	if n := ordersOf(t, ns, email); n != 1 {
		t.Fatalf("%d orders of the buyer before the restore, want 1", n)
	}

	patchStorefront(t, key, map[string]any{"database": map[string]any{"aurora": map[string]any{
		"restoreFrom": map[string]any{"snapshotIdentifier": snapshot}}}})
	waitFor(t, "the restore of "+snapshot, 2*readyTimeout, func() (bool, string) {
		cur = storefront(t, key)
		c := condition(cur, shopv1alpha1.ConditionDatabaseRestored)
		if c.Reason == shopv1alpha1.ReasonRestoreFailed {
			t.Fatalf("the restore failed: %s", c.Message)
		}
		return c.Reason == shopv1alpha1.ReasonRestored && cur.Status.Phase == shopv1alpha1.PhaseReady && cur.Status.ServedImage == upgraded,
			fmt.Sprintf("DatabaseRestored %s/%s: %s; phase %s", c.Status, c.Reason, c.Message, cur.Status.Phase)
	})
	if id := cur.Status.Database.ClusterIdentifier; !strings.HasSuffix(id, "-r1") {
		t.Errorf("status.database.clusterIdentifier %q, want the restored <aws-id>-r1", id)
	}
	if *cur.Status.Database == before {
		t.Errorf("status.database %+v after the restore, the server before it", before)
	}
	if m := cur.Status.Migration; m == nil || m.Image != upgraded {
		t.Errorf("status.migration %+v, want %s migrated on the restored cluster", m, upgraded)
	}

	// The data as of the snapshot, on the new server.
	if n := ordersOf(t, ns, email); n != 0 {
		t.Errorf("%d orders of the buyer after the restore, want 0: the order came after the snapshot", n)
	}
	// Through the shop's new credentials: its connection Secret names the new server,
	// and its application role logs in there with the password the migration set.
	appURL := secretValue(t, ns, "undo-connection", "DATABASE_URL")
	if !strings.Contains(appURL, fmt.Sprintf(":%d/", cur.Status.Database.Port)) {
		t.Errorf("the connection Secret does not name the restored server's port %d", cur.Status.Database.Port)
	}
	app := connect(t, appURL)
	var users int
	if err := app.QueryRow(ctx, `SELECT count(*) FROM users WHERE email = $1`, email).Scan(&users); err != nil {
		t.Fatalf("reading users as %s on the restored server: %v", userOf(appURL), err)
	}
	_ = app.Close(ctx)
	if users != 0 {
		t.Errorf("the buyer registered after the snapshot is still there")
	}
	if u := userOf(appURL); u != oldAppUser {
		t.Logf("the shop logs in as %s (was %s)", u, oldAppUser)
	}
	// The pods rolled with the new connection Secret: the ALB serves them once their
	// targets are healthy.
	servedThroughTheLoadBalancer(t, base+"/api/v1/categories")
	api.token = ""
	if code, body := api.call(t, http.MethodPost, "/api/v1/auth/login",
		map[string]string{"email": email, "password": "correct horse battery"}, nil); code != http.StatusUnauthorized {
		t.Errorf("the buyer registered after the snapshot logs in: %d %s, want 401", code, body)
	}

	// Then the shop is deleted under Retain and created again from the same manifest,
	// restoreFrom included: it adopts the restored server, rows written after the
	// restore are there, and nothing is restored again.
	patchStorefront(t, key, map[string]any{"database": map[string]any{"aurora": map[string]any{"deletionPolicy": "Retain"}}})
	w.waitReady(t, upgraded, readyTimeout)
	const note = "written after the restore"
	conn := connect(t, secretValue(t, ns, "undo-migrate-connection", "DATABASE_URL"))
	if _, err := conn.Exec(ctx, `CREATE TABLE restore_probe (note text NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `INSERT INTO restore_probe (note) VALUES ($1)`, note); err != nil {
		t.Fatal(err)
	}
	_ = conn.Close(ctx)
	restored := *cur.Status.Database
	again := &shopv1alpha1.Storefront{ObjectMeta: metav1.ObjectMeta{Name: sf.Name, Namespace: ns}, Spec: *storefront(t, key).Spec.DeepCopy()}
	if err := cluster.Client.Delete(ctx, sf); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the Storefront gone", 2*time.Minute, func() (bool, string) {
		err := cluster.Client.Get(ctx, key, &shopv1alpha1.Storefront{})
		return apierrors.IsNotFound(err), fmt.Sprint(err)
	})
	if err := cluster.Client.Create(ctx, again); err != nil {
		t.Fatal(err)
	}
	cur = w.waitReady(t, upgraded, readyTimeout)
	if *cur.Status.Database != restored {
		t.Errorf("status.database %+v after re-creating, want the retained restored cluster %+v", *cur.Status.Database, restored)
	}
	if rs := cur.Status.Restore; rs == nil || rs.State != shopv1alpha1.ReasonRestored || rs.Sequence != 1 || rs.SnapshotIdentifier != snapshot {
		t.Errorf("status.restore %+v, want the adopted restore of %s (sequence 1)", rs, snapshot)
	}
	var got string
	conn = connect(t, secretValue(t, ns, "undo-migrate-connection", "DATABASE_URL"))
	if err := conn.QueryRow(ctx, `SELECT note FROM restore_probe`).Scan(&got); err != nil {
		t.Fatalf("reading the row written after the restore: %v", err)
	}
	_ = conn.Close(ctx)
	if got != note {
		t.Errorf("restore_probe holds %q, want %q", got, note)
	}
}

// ordersOf counts the orders of the buyer email, read as the master user on the
// database the operator's migrations use.
func ordersOf(t *testing.T, ns, email string) int64 {
	t.Helper()
	conn := connect(t, secretValue(t, ns, "undo-migrate-connection", "DATABASE_URL"))
	defer func() { _ = conn.Close(context.Background()) }()
	var n int64
	if err := conn.QueryRow(context.Background(),
		`SELECT count(*) FROM orders o JOIN users u ON u.id = o.user_id WHERE u.email = $1`, email).Scan(&n); err != nil {
		t.Fatalf("counting the buyer's orders: %v", err)
	}
	return n
}
