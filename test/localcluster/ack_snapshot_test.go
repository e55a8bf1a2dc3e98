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

package localcluster_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/storefront-operator/storefront/test/fake"
)

// A DBClusterSnapshot on the local cluster is a real copy of the database with the
// roles' passwords of its time; a DBCluster restored from it (spec.snapshotIdentifier)
// serves that data, and a role logs in with the password it had then, not the one set
// after the snapshot.
//
// What it reproduces, from the Aurora User Guide:
//   - USER_CreateSnapshotCluster.html ("Creating a DB cluster snapshot"): "Amazon RDS
//     creates a storage volume snapshot of your DB cluster, backing up the entire DB
//     cluster and not just individual databases." The whole cluster volume, roles and
//     their password hashes included: hence a pg_dump of the database plus its roles
//     with their password hashes (ackPlayer.Snapshot), not the rows alone.
//   - aurora-restore-snapshot.html ("Restoring from a DB cluster snapshot"): "You can't
//     restore from a DB cluster snapshot to an existing DB cluster; a new DB cluster is
//     created when you restore." Hence a server of its own (another port).
//   - API_RestoreDBClusterFromSnapshot.html (RDS API Reference): its request parameters
//     have no master user name or password (nor has rds-controller's
//     newRestoreDBClusterFromSnapshotInput, test/fake/ack_snapshot.go), so the new
//     cluster has the snapshot's master user and password, and every role the
//     password it had then; this test pins an application role's.
//
// https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/USER_CreateSnapshotCluster.html
// https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-restore-snapshot.html
// https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_RestoreDBClusterFromSnapshot.html
func TestACKSnapshotIsARealCopyWithThePasswordsOfItsTime(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	ns := namespace(t)
	const password = "Aa1-not-a-real-password-0123456"
	createStrict(t,
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "master"}, StringData: map[string]string{"password": password}},
		ackObject(fake.DBSubnetGroupGVK, ns, "group", nil, map[string]any{
			"name": "group-" + ns, "description": "test", "subnetIDs": []any{"subnet-1", "subnet-2"}}),
	)
	spec := func(id string) map[string]any {
		return map[string]any{
			"dbClusterIdentifier": id, "engine": "aurora-postgresql", "engineVersion": "16.6", "engineMode": "provisioned",
			"databaseName": "shop", "masterUsername": "storefront", "dbSubnetGroupName": "group-" + ns, "storageEncrypted": true,
			"masterUserPassword": map[string]any{"namespace": ns, "name": "master", "key": "password"},
		}
	}
	createStrict(t, ackObject(fake.DBClusterGVK, ns, "source", map[string]string{fake.AnnotationDeletionPolicy: "delete"}, spec("source-"+ns)))
	src := available(g, fake.DBClusterGVK, ns, "source")
	host, _, _ := unstructured.NestedString(src.Object, "status", "endpoint")
	port, _, _ := unstructured.NestedInt64(src.Object, "spec", "port")
	conn, err := pgx.Connect(ctx, databaseURL(host, port, "storefront", password, "shop", "require"))
	g.Expect(err).NotTo(HaveOccurred())
	_, err = conn.Exec(ctx, `CREATE ROLE app_a LOGIN PASSWORD 'then-password'; CREATE TABLE orders (n int); INSERT INTO orders VALUES (1); GRANT SELECT ON orders TO app_a`)
	g.Expect(err).NotTo(HaveOccurred())

	createStrict(t, ackObject(fake.DBClusterSnapshotGVK, ns, "s1", nil, map[string]any{
		"dbClusterIdentifier": "source-" + ns, "dbClusterSnapshotIdentifier": "s1-" + ns}))
	available(g, fake.DBClusterSnapshotGVK, ns, "s1")

	// After the snapshot: another order, another password.
	_, err = conn.Exec(ctx, `INSERT INTO orders VALUES (2); ALTER ROLE app_a PASSWORD 'later-password'`)
	g.Expect(err).NotTo(HaveOccurred())
	_ = conn.Close(ctx)

	restored := spec("restored-" + ns)
	restored["snapshotIdentifier"] = "s1-" + ns
	// A restore stores nothing of RDS's answer: a field DescribeDBClusters returns and
	// the spec lacks would differ at every sync (test/fake TestGoldenRestoreStoresNoSpecFromAWS).
	restored["autoMinorVersionUpgrade"] = true
	createStrict(t, ackObject(fake.DBClusterGVK, ns, "restored", map[string]string{fake.AnnotationDeletionPolicy: "delete"}, restored))
	r := available(g, fake.DBClusterGVK, ns, "restored")
	rhost, _, _ := unstructured.NestedString(r.Object, "status", "endpoint")
	// ACK stores nothing of the restore's answer in the spec (rds-controller hooks.go
	// restoreDbClusterFromSnapshot fills the desired object itself) until an update
	// copies the port back; the port is read here as DescribeDBClusters answers it.
	var rport int64
	for _, res := range cluster.ACK().AWS().Resources() {
		if res.Key.Kind == fake.DBClusterGVK.Kind && res.Key.ID == "restored-"+ns && res.Endpoint != nil {
			rport = int64(res.Endpoint.Port)
		}
	}
	g.Expect(rport).NotTo(BeZero(), "the stand-in's AWS serves the restored cluster")
	g.Expect(rport).NotTo(Equal(port), "the restore is a server of its own")

	app, err := pgx.Connect(ctx, databaseURL(rhost, rport, "app_a", "then-password", "shop", "require"))
	g.Expect(err).NotTo(HaveOccurred(), "app_a logs in with the password of the snapshot's time")
	var orders []int
	rows, err := app.Query(ctx, `SELECT n FROM orders ORDER BY n`)
	g.Expect(err).NotTo(HaveOccurred())
	for rows.Next() {
		var n int
		g.Expect(rows.Scan(&n)).To(Succeed())
		orders = append(orders, n)
	}
	rows.Close()
	_ = app.Close(ctx)
	g.Expect(orders).To(Equal([]int{1}), "the order placed after the snapshot is not in the restore")
	if c, err := pgx.Connect(ctx, databaseURL(rhost, rport, "app_a", "later-password", "shop", "require")); err == nil {
		_ = c.Close(ctx)
		t.Error("app_a logged in to the restore with the password set after the snapshot")
	}
	// The source keeps what it has.
	c, err := pgx.Connect(ctx, databaseURL(host, port, "app_a", "later-password", "shop", "require"))
	g.Expect(err).NotTo(HaveOccurred())
	_ = c.Close(ctx)
}
