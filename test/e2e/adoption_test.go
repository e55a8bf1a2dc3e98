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
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	shopv1alpha1 "github.com/storefront-operator/storefront/api/v1alpha1"
	"github.com/storefront-operator/storefront/test/localcluster"
)

// TestRetainThenRecreateAdoptsTheDatabase is issue 16's adoption after Retain on a real
// PostgreSQL: a Storefront deleted with Retain and created again under the same name
// gets the same server back (ACK adopts the kept cluster), with the rows written
// before the deletion.
func TestRetainThenRecreateAdoptsTheDatabase(t *testing.T) {
	ctx := context.Background()
	ns := "adoption"
	createNamespace(t, ns)
	newKeeper := func() *shopv1alpha1.Storefront {
		sf := storefrontTrusting(t, ns, "keeper", "")
		sf.Spec.Database.Aurora.CABundleSecretRef = nil
		sf.Spec.Database.Aurora.DeletionPolicy = shopv1alpha1.DeletionPolicyRetain
		sf.Spec.Cache = nil // not what this test is about
		sf.Spec.Replicas.Min = 1
		return sf
	}
	sf := newKeeper()
	if err := cluster.Client.Create(ctx, sf); err != nil {
		t.Fatal(err)
	}
	key := client.ObjectKeyFromObject(sf)
	defer dumpOnFailure(t, key)
	defer func() {
		// Let the database go with the test.
		patchStorefront(t, key, map[string]any{"database": map[string]any{"aurora": map[string]any{"deletionPolicy": "Delete"}}})
		_ = cluster.Client.Delete(ctx, newKeeper())
	}()
	w := &watcher{t: t, key: key, progress: localcluster.NewProgress(time.Now())}
	before := w.waitReady(t, sf.Spec.Image, readyTimeout).Status.Database

	const note = "written before the Retain deletion"
	conn := connect(t, secretValue(t, ns, "keeper-migrate-connection", "DATABASE_URL"))
	if _, err := conn.Exec(ctx, `CREATE TABLE retain_probe (note text NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `INSERT INTO retain_probe (note) VALUES ($1)`, note); err != nil {
		t.Fatal(err)
	}
	_ = conn.Close(ctx)
	// The kept database's TOTP secrets are sealed with this key: the Storefront created
	// again must use it, or serve refuses to start on that database.
	totpKey := secretValue(t, ns, "keeper-app", "totp-key")

	if err := cluster.Client.Delete(ctx, newKeeper()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the Storefront gone", 2*time.Minute, func() (bool, string) {
		err := cluster.Client.Get(ctx, key, &shopv1alpha1.Storefront{})
		return apierrors.IsNotFound(err), fmt.Sprint(err)
	})
	if err := cluster.Client.Create(ctx, newKeeper()); err != nil {
		t.Fatal(err)
	}
	after := w.waitReady(t, sf.Spec.Image, readyTimeout).Status.Database
	if *after != *before {
		t.Errorf("status.database %+v after re-creating, want the retained %+v", *after, *before)
	}
	if got := secretValue(t, ns, "keeper-app", "totp-key"); got != totpKey {
		t.Error("keeper-app's totp-key changed across the Retain deletion: the kept one was not used again")
	}
	clusters := ackObjects(t, ns, "rds.services.k8s.aws", "DBCluster")
	if len(clusters) != 1 {
		t.Fatalf("%d DBClusters, want one", len(clusters))
	}
	if a := clusters[0].GetAnnotations()["services.k8s.aws/adopted"]; a != "true" {
		t.Errorf("the DBCluster's services.k8s.aws/adopted is %q, want true: ACK adopted the retained cluster", a)
	}
	var got string
	conn = connect(t, secretValue(t, ns, "keeper-migrate-connection", "DATABASE_URL"))
	if err := conn.QueryRow(ctx, `SELECT note FROM retain_probe`).Scan(&got); err != nil {
		t.Fatalf("reading the row written before the deletion: %v", err)
	}
	if got != note {
		t.Errorf("retain_probe holds %q, want %q", got, note)
	}
}
