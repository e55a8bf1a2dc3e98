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

package controllers

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	shopv1alpha1 "github.com/storefront-operator/storefront/api/v1alpha1"
	"github.com/storefront-operator/storefront/test/fake"
)

func withRetain() storefrontOption {
	return withAurora(func(a *shopv1alpha1.AuroraDatabase) { a.DeletionPolicy = shopv1alpha1.DeletionPolicyRetain })
}

// deleteAndWait deletes the Storefront, waits until it is gone, then does what the
// garbage collector (which envtest lacks) does: deletes the objects it owned.
func deleteAndWait(t *testing.T, ns string) {
	t.Helper()
	g := NewWithT(t)
	ctx := context.Background()
	uid := getStorefront(g, ns).UID
	g.Expect(k8sClient.Delete(ctx, newStorefront(ns))).To(Succeed())
	g.Eventually(func() bool { return absent(ns, "acme", &shopv1alpha1.Storefront{}) }).WithTimeout(eventually).WithPolling(poll).Should(BeTrue())
	for _, list := range []client.ObjectList{&corev1.SecretList{}, &batchv1.JobList{}, &corev1.ServiceAccountList{}} {
		g.Expect(k8sClient.List(ctx, list, client.InNamespace(ns))).To(Succeed())
		items, err := meta.ExtractList(list)
		g.Expect(err).NotTo(HaveOccurred())
		for _, item := range items {
			obj := item.(client.Object)
			for _, ref := range obj.GetOwnerReferences() {
				if ref.UID == uid {
					g.Expect(client.IgnoreNotFound(k8sClient.Delete(ctx, obj, client.PropagationPolicy(metav1.DeletePropagationBackground)))).To(Succeed())
				}
			}
		}
	}
}

// Issue 16, item 4: a Retain deletion records the surviving cluster on the kept password
// Secret; the Storefront created again under the same name finds the record and only
// then asks ACK to adopt (adopt for the DBCluster, adopt-or-create for the subnet group and
// instance, with the identifier in adoption-fields): the
// same cluster, the same endpoint, no second cluster in AWS.
func TestRetainThenRecreateAdopts(t *testing.T) {
	ns := newNamespace(t)
	standIns := startStandIns(t, ns, fake.Options{ACKDelay: 300 * time.Millisecond})
	startOperator(t, ns, ackOptions)
	g := NewWithT(t)
	createStorefront(t, newStorefront(ns, withRetain()))
	sf := waitForPhase(t, ns, shopv1alpha1.PhaseReady)
	host := sf.Status.Database.Endpoint
	id := awsIdentifier(ns, "acme")
	for _, k := range ackKinds[:3] {
		g.Expect(ackObject(g, ns, k, "acme-database").GetAnnotations()).NotTo(HaveKey(ackAnnotationAdoptionPolicy), "no adoption without a record")
	}

	deleteAndWait(t, ns)
	g.Expect(get(g, ns, "acme-db-password-v1", &corev1.Secret{}).Annotations).To(HaveKeyWithValue(shopv1alpha1.AnnotationRetainedDBCluster, id))

	createStorefront(t, newStorefront(ns, withRetain()))
	sf = waitForPhase(t, ns, shopv1alpha1.PhaseReady)
	g.Expect(sf.Status.Database.Endpoint).To(Equal(host), "the same cluster")
	cl := ackObject(g, ns, gvkDBCluster, "acme-database")
	g.Expect(cl.GetAnnotations()).To(HaveKeyWithValue(ackAnnotationAdoptionPolicy, "adopt"))
	g.Expect(cl.GetAnnotations()).To(HaveKeyWithValue(ackAnnotationAdoptionFields, `{"dbClusterIdentifier":"`+id+`"}`))
	g.Expect(cl.GetAnnotations()).To(HaveKeyWithValue("services.k8s.aws/adopted", "true"))
	clusters := 0
	for _, r := range standIns.AWS().Resources() {
		if r.Key.Kind == fake.DBClusterGVK.Kind {
			clusters++
		}
	}
	g.Expect(clusters).To(Equal(1))

	// A later deletion that keeps no cluster drops the record: left behind, it would
	// have the next Storefront adopt whatever then holds the identifier.
	updateStorefront(t, ns, func(sf *shopv1alpha1.Storefront) {
		sf.Spec.Database.Aurora.DeletionPolicy = shopv1alpha1.DeletionPolicySnapshot
	})
	deleteAndWait(t, ns)
	kept := get(g, ns, "acme-db-password-v1", &corev1.Secret{})
	g.Expect(kept.Annotations).NotTo(HaveKey(shopv1alpha1.AnnotationRetainedDBCluster))
}

// A retained cluster adopted for a Storefront without a version of its own is synced:
// ACK stores what DescribeDBClusters returned in the adopted object's spec (policy
// adopt, runtime reconciler.go Sync), engineVersion included. Under adopt-or-create it
// stored nothing, and the version DescribeDBClusters returns (sdkFind) against none in
// the spec was a difference at every sync (delta.go): ModifyDBCluster each time, never
// synced (custom_update.go customUpdate ends with Synced False).
func TestRetainThenRecreateAdoptsWithoutAVersion(t *testing.T) {
	ns := newNamespace(t)
	startStandIns(t, ns, fake.Options{ACKDelay: 300 * time.Millisecond})
	op := startOperator(t, ns, ackOptions)
	g := NewWithT(t)
	unversioned := withAurora(func(a *shopv1alpha1.AuroraDatabase) {
		a.DeletionPolicy = shopv1alpha1.DeletionPolicyRetain
		a.EngineVersion = ""
	})
	createStorefront(t, newStorefront(ns, unversioned))
	waitForPhase(t, ns, shopv1alpha1.PhaseReady)
	deleteAndWait(t, ns)
	createStorefront(t, newStorefront(ns, unversioned))
	waitForPhase(t, ns, shopv1alpha1.PhaseReady)
	synced := func(g Gomega) {
		cl := ackObject(g, ns, gvkDBCluster, "acme-database")
		g.Expect(cl.GetAnnotations()).To(HaveKeyWithValue("services.k8s.aws/adopted", "true"))
		g.Expect(cl.Object["spec"]).To(HaveKeyWithValue("engineVersion", fake.DefaultAuroraPostgresVersion))
		c, ok := ackConditionOf(cl, ackConditionSynced)
		g.Expect(ok && c.Status == "True").To(BeTrue(), "ACK.ResourceSynced True")
	}
	g.Eventually(synced, eventually, poll).Should(Succeed())
	g.Consistently(synced, quiet, poll).Should(Succeed())
	reconcileAtRest(g, op, ns)
	g.Consistently(op.counter.Mutations).WithTimeout(quiet).WithPolling(poll).Should(BeZero(),
		"mutating requests at rest: %s", op.counter.MutationSummary())
}

// Issue 16, item 4: without the record (here the kept password Secret lost it), an
// existing identifier is not adopted: ProvisioningFailed says why and how to adopt on
// purpose; following that advice adopts it.
func TestRecreateWithoutTheRecordIsRefused(t *testing.T) {
	ns := newNamespace(t)
	startStandIns(t, ns, fake.Options{ACKDelay: 300 * time.Millisecond})
	startOperator(t, ns, ackOptions)
	g := NewWithT(t)
	createStorefront(t, newStorefront(ns, withRetain()))
	waitForPhase(t, ns, shopv1alpha1.PhaseReady)
	id := awsIdentifier(ns, "acme")
	deleteAndWait(t, ns)
	annotateSecret(g, ns, "acme-db-password-v1", shopv1alpha1.AnnotationRetainedDBCluster, "")

	refused := func() {
		t.Helper()
		createStorefront(t, newStorefront(ns, withRetain()))
		g.Eventually(func(g Gomega) {
			sf := getStorefront(g, ns)
			c := condition(sf, shopv1alpha1.ConditionDatabaseReady)
			g.Expect(c.Reason).To(Equal(shopv1alpha1.ReasonProvisioningFailed))
			g.Expect(c.Message).To(Equal("DBSubnetGroup acme-database: ACK: Resource already exists; AWS already has a resource " + id +
				" that no Retain deletion of this Storefront left behind, so it is not adopted. To adopt it on purpose, put the cluster's master password in Secret acme-db-password-v1 key password and annotate that Secret " +
				shopv1alpha1.AnnotationRetainedDBCluster + "=" + id))
			g.Expect(sf.Status.Phase).To(Equal(shopv1alpha1.PhaseDegraded))
		}).WithTimeout(eventually).WithPolling(poll).Should(Succeed())
		g.Expect(ackAbsent(ns, gvkDBCluster, "acme-database")).To(BeTrue(), "nothing after the refused subnet group")
	}
	refused()

	// The refused Storefront deleted under Retain never had that cluster: it records
	// nothing, and created again it is refused again. Before, the deletion recorded the
	// identifier, and the next Storefront adopted the other shop's cluster, reset its
	// master password and migrated its data.
	deleteAndWait(t, ns)
	g.Expect(get(g, ns, "acme-db-password-v1", &corev1.Secret{}).Annotations).NotTo(HaveKey(shopv1alpha1.AnnotationRetainedDBCluster))
	refused()

	// Adopting on purpose: the annotation, then a re-drive (ACK reconciles a Terminal
	// object only after a spec change).
	annotateSecret(g, ns, "acme-db-password-v1", shopv1alpha1.AnnotationRetainedDBCluster, id)
	updateStorefront(t, ns, func(sf *shopv1alpha1.Storefront) {
		sf.Annotations = map[string]string{shopv1alpha1.AnnotationRetryProvisioning: "adopt"}
	})
	waitForPhase(t, ns, shopv1alpha1.PhaseReady)
	adopted, _, _ := unstructured.NestedString(ackObject(g, ns, gvkDBCluster, "acme-database").Object, "metadata", "annotations", "services.k8s.aws/adopted")
	g.Expect(adopted).To(Equal("true"))
}

// Issue 16, item 2: what the finalizer waits for is observable. Under Snapshot it first
// lifts the cluster's deletion protection (and waits for ACK to apply it), deletes the
// cluster, then waits on the subnet group, which RDS refuses to delete while the
// cluster is still deleting (ACK.Recoverable, retried): Ready's message says each.
func TestDeletionWaitsAreObservable(t *testing.T) {
	ns := newNamespace(t)
	startStandIns(t, ns, fake.Options{ACKDelay: 2 * time.Second})
	startOperator(t, ns, ackOptions)
	g := NewWithT(t)
	createStorefront(t, newStorefront(ns, withAurora()))
	waitForPhase(t, ns, shopv1alpha1.PhaseReady)
	g.Expect(k8sClient.Delete(context.Background(), newStorefront(ns))).To(Succeed())
	seen := map[string]bool{}
	g.Eventually(func() bool {
		sf := &shopv1alpha1.Storefront{}
		if err := k8sClient.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "acme"}, sf); err != nil {
			return client.IgnoreNotFound(err) == nil
		}
		msg := condition(sf, shopv1alpha1.ConditionReady).Message
		switch {
		case strings.Contains(msg, "deletion protection of DBCluster acme-database"):
			seen["protection"] = true
		case strings.Contains(msg, "Waiting for the DB subnet group to be deleted") && strings.Contains(msg, "InvalidDBSubnetGroupStateFault"):
			seen["subnet group retried while the cluster deletes"] = true
		}
		return false
	}).WithTimeout(eventually).WithPolling(50 * time.Millisecond).Should(BeTrue())
	g.Expect(seen).To(HaveKey("protection"))
	g.Expect(seen).To(HaveKey("subnet group retried while the cluster deletes"))
}

// annotateSecret sets (or, with value "", removes) an annotation of a Secret, as a
// user would, retrying when the operator wrote the Secret meanwhile.
func annotateSecret(g Gomega, ns, name, key, value string) {
	g.Eventually(func() error {
		secret := &corev1.Secret{}
		if err := k8sClient.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, secret); err != nil {
			return err
		}
		if value == "" {
			delete(secret.Annotations, key)
		} else {
			metav1.SetMetaDataAnnotation(&secret.ObjectMeta, key, value)
		}
		return k8sClient.Update(context.Background(), secret)
	}).WithTimeout(eventually).WithPolling(poll).Should(Succeed())
}

// Issue 16, item 4: a retained cluster that AWS is deleting (here deleted in AWS after
// the Retain deletion) is not adopted, record or not: ACK's refusal shows its deleting
// status, the condition says what happens and what to do, and once AWS is done the
// deletion window's re-drive creates a new cluster, not marked adopted.
func TestRetainedClusterStillDeletingIsNotAdopted(t *testing.T) {
	ns := newNamespace(t)
	standIns := startStandIns(t, ns, fake.Options{ACKDelay: 5 * time.Second})
	opts := ackOptions
	opts.DeletionWindowRetry = 500 * time.Millisecond
	startOperator(t, ns, opts)
	g := NewWithT(t)
	ctx := context.Background()
	createStorefront(t, newStorefront(ns, withRetain()))
	waitForPhase(t, ns, shopv1alpha1.PhaseReady)
	retainedID := clusterResourceID(ackObject(g, ns, gvkDBCluster, "acme-database"))
	id := awsIdentifier(ns, "acme")
	deleteAndWait(t, ns)
	g.Expect(get(g, ns, "acme-db-password-v1", &corev1.Secret{}).Annotations).To(HaveKeyWithValue(shopv1alpha1.AnnotationRetainedDBCluster, id))

	// Someone deletes the retained cluster in AWS (its deletion protection first).
	aws := standIns.AWS()
	var cluster, instance fake.AWSKey
	for _, r := range aws.Resources() {
		switch r.Key.Kind {
		case fake.DBClusterGVK.Kind:
			cluster = r.Key
		case fake.DBInstanceGVK.Kind:
			instance = r.Key
		}
	}
	_, err := aws.Modify(ctx, cluster, map[string]any{"deletionProtection": false}, nil)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(aws.Delete(instance, fake.DeleteParams{SkipFinalSnapshot: true})).To(Succeed())
	g.Expect(aws.Delete(cluster, fake.DeleteParams{SkipFinalSnapshot: true})).To(Succeed())

	createStorefront(t, newStorefront(ns, withRetain()))
	g.Eventually(func(g Gomega) {
		c := condition(getStorefront(g, ns), shopv1alpha1.ConditionDatabaseReady)
		g.Expect(c.Reason).To(Equal(shopv1alpha1.ReasonProvisioningRetrying))
		g.Expect(c.Message).To(HavePrefix("DBCluster acme-database: AWS is still deleting a resource of the same identifier (ACK: Resource already exists)"))
		g.Expect(c.Message).To(HaveSuffix("; the cluster being deleted is " + id + ", which the Retain deletion of this Storefront kept: it is not adopted, since its data goes with it " +
			"(a final snapshot, if one was taken, holds it). Once AWS is done, ACK creates a new, empty cluster; to keep that from happening, delete the Storefront"))
		g.Expect(ackObject(g, ns, gvkDBCluster, "acme-database").GetAnnotations()).NotTo(HaveKey(ackAnnotationAdoptionPolicy))
	}).WithTimeout(eventually).WithPolling(poll).Should(Succeed())

	sf := waitForPhase(t, ns, shopv1alpha1.PhaseReady)
	cl := ackObject(g, ns, gvkDBCluster, "acme-database")
	g.Expect(cl.GetAnnotations()).NotTo(HaveKey(ackAnnotationAdoptionPolicy))
	g.Expect(cl.GetAnnotations()).NotTo(HaveKey("services.k8s.aws/adopted"))
	g.Expect(clusterResourceID(cl)).NotTo(Equal(retainedID), "a new cluster")
	g.Expect(sf.Status.Migration.Database).To(Equal(clusterResourceID(cl)))
}

// After a restore the shop's data is in the restored cluster <aws-id>-r1; a Retain
// deletion records it (and the snapshot it came from) on the kept password Secrets.
// The Storefront created again from the same manifest (restoreFrom still naming that
// snapshot) adopts -r1 under its own object name with the subnet group, restores
// nothing again, and leaves alone both the cluster that restore replaced (kept in AWS
// by the Retain policy, data of before the restore) and that cluster's released ACK
// objects: before this, the record was read for <aws-id> only, and the Storefront
// stopped at the subnet group with advice that led to the replaced cluster.
func TestRetainAfterRestoreThenRecreateAdoptsTheRestoredCluster(t *testing.T) {
	ns := newNamespace(t)
	standIns := startStandIns(t, ns, fake.Options{ACKDelay: restoreACKDelay})
	startOperator(t, ns, ackOptions)
	g := NewWithT(t)
	retain := func(a *shopv1alpha1.AuroraDatabase) { a.DeletionPolicy = shopv1alpha1.DeletionPolicyRetain }
	snapshot := restoredShop(t, ns, retain)
	id := awsIdentifier(ns, "acme")
	restored := id + "-r1"
	before := getStorefront(g, ns)
	host := before.Status.Database.Endpoint
	resourceID := before.Status.Migration.Database
	g.Expect(before.Status.Database.ClusterIdentifier).To(Equal(restored))

	deleteAndWait(t, ns)
	kept := get(g, ns, "acme-db-password-v1", &corev1.Secret{}).Annotations
	g.Expect(kept).To(HaveKeyWithValue(shopv1alpha1.AnnotationRetainedDBCluster, restored))
	g.Expect(kept).To(HaveKeyWithValue(shopv1alpha1.AnnotationRetainedDBClusterSnapshot, snapshot))
	released := ackObject(g, ns, gvkDBCluster, "acme-database")

	createStorefront(t, newStorefront(ns, withAurora(retain, func(a *shopv1alpha1.AuroraDatabase) {
		a.RestoreFrom = &shopv1alpha1.RestoreSource{SnapshotIdentifier: snapshot}
	}), func(sf *shopv1alpha1.Storefront) { sf.Spec.Image = imageV2 }))
	sf := waitForPhase(t, ns, shopv1alpha1.PhaseReady)
	g.Expect(sf.Status.Database.ClusterIdentifier).To(Equal(restored))
	g.Expect(sf.Status.Database.Endpoint).To(Equal(host), "the same cluster")
	g.Expect(sf.Status.Migration.Database).To(Equal(resourceID), "the same database")
	rs := sf.Status.Restore
	g.Expect(rs).NotTo(BeNil())
	g.Expect([]any{rs.SnapshotIdentifier, rs.ClusterIdentifier, rs.Sequence, rs.State, rs.ReplacedCluster}).To(Equal(
		[]any{snapshot, restored, int64(1), shopv1alpha1.ReasonRestored, ""}), "no new restore")
	c := condition(sf, shopv1alpha1.ConditionDatabaseRestored)
	g.Expect(c.Reason).To(Equal(shopv1alpha1.ReasonRestored))
	g.Expect(c.Message).To(Equal("DB cluster " + restored + ", restored from snapshot " + snapshot +
		", is the one the Retain deletion of this Storefront kept: adopted with its data, not restored again"))

	for _, k := range []struct {
		schemaKind
		fields string
	}{
		{schemaKind{gvkDBSubnetGroup, "acme-database"}, `{"name":"` + id + `"}`},
		{schemaKind{gvkDBCluster, restored}, `{"dbClusterIdentifier":"` + restored + `"}`},
		{schemaKind{gvkDBInstance, restored}, `{"dbInstanceIdentifier":"` + restored + `"}`},
	} {
		a := ackObject(g, ns, k.gvk, k.name).GetAnnotations()
		g.Expect(a).To(HaveKeyWithValue(ackAnnotationAdoptionFields, k.fields), k.gvk.Kind)
		g.Expect(a).To(HaveKeyWithValue("services.k8s.aws/adopted", "true"), k.gvk.Kind)
	}
	// The replaced cluster's released objects are someone else's now.
	still := ackObject(g, ns, gvkDBCluster, "acme-database")
	g.Expect(still.GetResourceVersion()).To(Equal(released.GetResourceVersion()), "not touched")
	var clusters []string
	for _, r := range standIns.AWS().Resources() {
		if r.Key.Kind == fake.DBClusterGVK.Kind {
			clusters = append(clusters, r.Key.ID)
		}
	}
	g.Expect(clusters).To(ConsistOf(id, restored), "no cluster created")
}

// retainedRestore takes only a record of this Storefront's own restored identifier, and
// only while the Storefront has no database of its own yet.
func TestRetainedRestore(t *testing.T) {
	id := awsIdentifier("shops", "acme")
	kept := func(annotations ...string) []dbPassword {
		a := map[string]string{}
		for i := 0; i+1 < len(annotations); i += 2 {
			a[annotations[i]] = annotations[i+1]
		}
		return []dbPassword{{version: 1, secret: &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "acme-db-password-v1", Namespace: "shops", Annotations: a}}}}
	}
	restoreFrom := func(snapshot string) func(*shopv1alpha1.AuroraDatabase) {
		return func(a *shopv1alpha1.AuroraDatabase) {
			a.RestoreFrom = &shopv1alpha1.RestoreSource{SnapshotIdentifier: snapshot}
		}
	}
	cluster, snapshot := shopv1alpha1.AnnotationRetainedDBCluster, shopv1alpha1.AnnotationRetainedDBClusterSnapshot
	for _, tc := range []struct {
		name      string
		sf        *shopv1alpha1.Storefront
		passwords []dbPassword
		want      []any // cluster, sequence, snapshot; nil for none
	}{
		{"no record", newStorefront("shops", withAurora()), kept(), nil},
		{"the first cluster: adopted as ever, no restore", newStorefront("shops", withAurora()), kept(cluster, id), nil},
		{"a restored cluster with its snapshot", newStorefront("shops", withAurora()), kept(cluster, id+"-r2", snapshot, "snap-b"), []any{id + "-r2", int64(2), "snap-b"}},
		{"the record's snapshot, not the manifest's", newStorefront("shops", withAurora(restoreFrom("snap-c"))), kept(cluster, id+"-r2", snapshot, "snap-b"), []any{id + "-r2", int64(2), "snap-b"}},
		{"an older record: the manifest's snapshot", newStorefront("shops", withAurora(restoreFrom("snap-c"))), kept(cluster, id+"-r1"), []any{id + "-r1", int64(1), "snap-c"}},
		{"an older record and no restoreFrom", newStorefront("shops", withAurora()), kept(cluster, id+"-r1"), []any{id + "-r1", int64(1), ""}},
		{"another Storefront's cluster", newStorefront("shops", withAurora()), kept(cluster, awsIdentifier("shops", "other")+"-r1"), nil},
		{"no sequence", newStorefront("shops", withAurora()), kept(cluster, id+"-r0"), nil},
		{"not a sequence", newStorefront("shops", withAurora()), kept(cluster, id+"-rx"), nil},
		{"a leading zero", newStorefront("shops", withAurora()), kept(cluster, id+"-r01"), nil},
		{"an external database", newStorefront("shops"), kept(cluster, id+"-r1"), nil},
		{"a Storefront with a database already", func() *shopv1alpha1.Storefront {
			sf := newStorefront("shops", withAurora())
			sf.Status.Database = &shopv1alpha1.EndpointStatus{Endpoint: "db", ClusterIdentifier: id}
			return sf
		}(), kept(cluster, id+"-r1"), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rs := retainedRestore(tc.sf, tc.passwords)
			if tc.want == nil {
				if rs != nil {
					t.Fatalf("got a restore %+v, want none", rs)
				}
				return
			}
			if rs == nil {
				t.Fatalf("got no restore, want %v", tc.want)
			}
			if got := []any{rs.ClusterIdentifier, rs.Sequence, rs.SnapshotIdentifier}; !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
			if rs.State != shopv1alpha1.ReasonRestored || rs.ReplacedCluster != "" || rs.CompletionTime == nil {
				t.Errorf("got %+v, want a finished restore that replaced nothing", rs)
			}
		})
	}
}

// servedCluster: only a cluster the Storefront had ready is recorded at a Retain
// deletion; a restore abandoned after its switch leaves status.database on the restored
// cluster while the shop's data stayed in the replaced one.
func TestServedCluster(t *testing.T) {
	const id, restored = "sf-shops-acme-12345678", "sf-shops-acme-12345678-r1"
	migrated := &shopv1alpha1.MigrationStatus{Image: imageV1, Database: "cluster-ABC"}
	abandoned := &shopv1alpha1.RestoreStatus{ClusterIdentifier: restored, ReplacedCluster: id, State: shopv1alpha1.ReasonRestoreFailed}
	cases := map[string]struct {
		database  *shopv1alpha1.EndpointStatus
		migration *shopv1alpha1.MigrationStatus
		restore   *shopv1alpha1.RestoreStatus
		id        string
		want      bool
	}{
		"never ready (ACK refused another's cluster)": {id: id},
		"ready on it":      {database: &shopv1alpha1.EndpointStatus{ClusterIdentifier: id}, migration: migrated, id: id, want: true},
		"ready on another": {database: &shopv1alpha1.EndpointStatus{ClusterIdentifier: restored}, id: id},
		"a restore abandoned after its switch: the replaced cluster": {
			database: &shopv1alpha1.EndpointStatus{ClusterIdentifier: restored}, migration: migrated, restore: abandoned, id: id, want: true},
		"a restore abandoned on a Storefront never migrated": {
			database: &shopv1alpha1.EndpointStatus{ClusterIdentifier: restored}, restore: abandoned, id: id},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			sf := storefrontNamed("acme")
			sf.Status.Database, sf.Status.Migration, sf.Status.Restore = tc.database, tc.migration, tc.restore
			if got := servedCluster(sf, tc.id); got != tc.want {
				t.Errorf("servedCluster = %v, want %v", got, tc.want)
			}
		})
	}
}
