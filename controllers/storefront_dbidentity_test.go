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
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	shopv1alpha1 "github.com/storefront-operator/storefront/api/v1alpha1"
	"github.com/storefront-operator/storefront/test/fake"
)

func TestExternalDatabaseID(t *testing.T) {
	id := func(raw string) string {
		host, port, err := parsePostgresURL(raw)
		if err != nil {
			t.Fatal(err)
		}
		return externalDatabaseID(&storeEndpoint{Host: host, Port: port, URL: raw})
	}
	base := id("postgres://shop:one@db.example:5432/shop?sslmode=require")
	cases := map[string]struct {
		url  string
		same bool
	}{
		"another password is the same database": {"postgres://shop:two@db.example:5432/shop?sslmode=disable", true},
		"the default port is 5432":              {"postgres://shop:one@DB.example/shop", true},
		"another host is another database":      {"postgres://shop:one@db2.example:5432/shop", false},
		"another port is another database":      {"postgres://shop:one@db.example:5433/shop", false},
		"another database name is another":      {"postgres://shop:one@db.example:5432/shop2", false},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := id(tc.url) == base; got != tc.same {
				t.Errorf("same = %v, want %v", got, tc.same)
			}
		})
	}
	if !strings.HasPrefix(base, "sha256:") || len(base) != len("sha256:")+16 {
		t.Errorf("id %q", base)
	}
}

// Issue 16, item 6: the migrations are recorded with the database they ran on
// (status.migration: the DBCluster's dbClusterResourceID). An ACK DBCluster deleted by
// hand is not created again empty under the running shop: DatabaseReady=False/
// DatabaseLost says so and names the annotation that allows it; with it, a new cluster
// is created and the served image's migration runs on it before the shop is Ready.
func TestLostClusterIsNotRecreatedEmpty(t *testing.T) {
	ns := newNamespace(t)
	startStandIns(t, ns, fake.Options{ACKDelay: 300 * time.Millisecond})
	startOperator(t, ns, ackOptions)
	g := NewWithT(t)
	ctx := context.Background()
	createStorefront(t, newStorefront(ns, withAurora(func(a *shopv1alpha1.AuroraDatabase) { a.DeletionPolicy = shopv1alpha1.DeletionPolicyDelete })))
	sf := waitForPhase(t, ns, shopv1alpha1.PhaseReady)
	resourceID := clusterResourceID(ackObject(g, ns, gvkDBCluster, "acme-database"))
	g.Expect(resourceID).To(HavePrefix("cluster-"))
	g.Expect(sf.Status.Migration).To(Equal(&shopv1alpha1.MigrationStatus{Image: imageV1, Database: resourceID}))
	firstJob := migrationJobs(g, ns)[0].CreationTimestamp
	loginJobs := func(g Gomega) map[string]types.UID {
		list := &batchv1.JobList{}
		g.Expect(k8sClient.List(ctx, list, client.InNamespace(ns), client.MatchingLabels{labelComponent: componentDBLogin})).To(Succeed())
		out := map[string]types.UID{}
		for _, j := range list.Items {
			out[j.Name] = j.UID
		}
		return out
	}
	firstLogins := loginJobs(g)
	g.Expect(firstLogins).NotTo(BeEmpty(), "the application role's login was set")

	// Behind the operator's back: the cluster's and the instance's ACK objects (the
	// cluster first: RDS refuses it while the instance is not deleting, and ACK retries;
	// an instance deleted first under a cluster still in service would be created again,
	// as it should: it holds no data).
	g.Expect(k8sClient.Delete(ctx, ackObject(g, ns, gvkDBCluster, "acme-database"))).To(Succeed())
	g.Expect(k8sClient.Delete(ctx, ackObject(g, ns, gvkDBInstance, "acme-database"))).To(Succeed())
	g.Eventually(func(g Gomega) {
		sf := getStorefront(g, ns)
		c := condition(sf, shopv1alpha1.ConditionDatabaseReady)
		g.Expect(c.Status).To(Equal(metav1.ConditionFalse))
		g.Expect(c.Reason).To(Equal(shopv1alpha1.ReasonDatabaseLost))
		g.Expect(c.Message).To(ContainSubstring("DBCluster acme-database, on which the migrations of " + imageV1 + " ran (" + resourceID + "), is gone"))
		g.Expect(c.Message).To(ContainSubstring(shopv1alpha1.AnnotationRetryProvisioning))
		g.Expect(sf.Status.Phase).To(Equal(shopv1alpha1.PhaseDegraded))
		// Lost from the moment ACK is deleting it; the object goes once AWS is done.
		g.Expect(ackAbsent(ns, gvkDBCluster, "acme-database")).To(BeTrue())
	}).WithTimeout(eventually).WithPolling(poll).Should(Succeed())
	g.Consistently(func() bool { return ackAbsent(ns, gvkDBCluster, "acme-database") }).WithTimeout(quiet).WithPolling(poll).Should(BeTrue(), "re-created empty")

	updateStorefront(t, ns, func(sf *shopv1alpha1.Storefront) {
		sf.Annotations = map[string]string{shopv1alpha1.AnnotationRetryProvisioning: "recreate-empty"}
	})
	sf = waitForPhase(t, ns, shopv1alpha1.PhaseReady)
	g.Expect(ackAbsent(ns, gvkDBCluster, "acme-database")).To(BeFalse())
	g.Expect(sf.Status.Migration).NotTo(BeNil())
	g.Expect(sf.Status.Migration.Image).To(Equal(imageV1))
	var rerun bool
	for _, j := range migrationJobs(g, ns) {
		if j.Annotations[annotationImage] == imageV1 && j.CreationTimestamp.After(firstJob.Time) {
			rerun = true
		}
	}
	g.Expect(rerun).To(BeTrue(), "the served image's migration ran again on the new cluster")
	// The login too: its completed Job (same name, within its TTL) set the role's
	// password in the lost database. Before, it was taken as done on the new one.
	var relogged bool
	for name, uid := range loginJobs(g) {
		if old, ok := firstLogins[name]; !ok || old != uid {
			relogged = true
		}
	}
	g.Expect(relogged).To(BeTrue(), "the login Job ran again on the new cluster")
	g.Expect(sf.Status.Migration.Database).To(HavePrefix("cluster-"))
	g.Expect(sf.Status.Migration.Database).NotTo(Equal(resourceID), "AWS gives the new cluster a new dbClusterResourceID")
}

// Issue 16, items 4 and 6: an ACK DBCluster deleted by hand and created again by hand
// under the same identifier is another, empty cluster (AWS gives it a new
// dbClusterResourceID): DatabaseLost says so and nothing moves to it until
// retry-provisioning; then the served image migrates it before the shop is Ready.
func TestRecreatedClusterIsLost(t *testing.T) {
	ns := newNamespace(t)
	standIns := startStandIns(t, ns, fake.Options{ACKDelay: 300 * time.Millisecond})
	startOperator(t, ns, ackOptions)
	g := NewWithT(t)
	ctx := context.Background()
	createStorefront(t, newStorefront(ns, withAurora(func(a *shopv1alpha1.AuroraDatabase) { a.DeletionPolicy = shopv1alpha1.DeletionPolicyDelete })))
	sf := waitForPhase(t, ns, shopv1alpha1.PhaseReady)
	first := sf.Status.Migration.Database
	g.Expect(first).To(HavePrefix("cluster-"))
	saved := ackObject(g, ns, gvkDBCluster, "acme-database")
	checksum := deployment(g, ns).Spec.Template.Annotations[annotationConfigChecksum]

	g.Expect(k8sClient.Delete(ctx, ackObject(g, ns, gvkDBCluster, "acme-database"))).To(Succeed())
	g.Expect(k8sClient.Delete(ctx, ackObject(g, ns, gvkDBInstance, "acme-database"))).To(Succeed())
	g.Eventually(func() bool {
		for _, r := range standIns.AWS().Resources() {
			if r.Key.Kind == fake.DBClusterGVK.Kind {
				return false
			}
		}
		return true
	}).WithTimeout(eventually).WithPolling(poll).Should(BeTrue(), "AWS done deleting the cluster")

	// Created again by hand from what was saved, as kubectl apply of an old manifest would.
	again := newACKObject(gvkDBCluster)
	again.SetNamespace(ns)
	again.SetName(saved.GetName())
	again.SetLabels(saved.GetLabels())
	annotations := saved.GetAnnotations()
	delete(annotations, rdsAnnotationLastAppliedSecret) // ACK's own, not the manifest's
	again.SetAnnotations(annotations)
	again.SetOwnerReferences(saved.GetOwnerReferences())
	again.Object["spec"] = saved.Object["spec"]
	g.Expect(k8sClient.Create(ctx, again)).To(Succeed())

	var second string
	g.Eventually(func(g Gomega) {
		cl := ackObject(g, ns, gvkDBCluster, "acme-database")
		second = clusterResourceID(cl)
		g.Expect(second).To(HavePrefix("cluster-"), "%v\n%v", cl.Object["status"], condition(getStorefront(g, ns), shopv1alpha1.ConditionDatabaseReady))
		g.Expect(second).NotTo(Equal(first))
		sf := getStorefront(g, ns)
		c := condition(sf, shopv1alpha1.ConditionDatabaseReady)
		g.Expect(c.Reason).To(Equal(shopv1alpha1.ReasonDatabaseLost))
		g.Expect(c.Message).To(Equal("DBCluster acme-database is another cluster (" + second + ") than the one the migrations of " + imageV1 +
			" ran on (" + first + "): it was deleted and created again outside the operator, and is empty. " +
			"The shop is not moved to it; to migrate it and move the shop to it, set the annotation " + shopv1alpha1.AnnotationRetryProvisioning + " to a new value"))
	}).WithTimeout(eventually).WithPolling(poll).Should(Succeed())
	g.Consistently(func(g Gomega) {
		g.Expect(getStorefront(g, ns).Status.Migration.Database).To(Equal(first))
		g.Expect(deployment(g, ns).Spec.Template.Annotations[annotationConfigChecksum]).To(Equal(checksum))
		g.Expect(ackAbsent(ns, gvkDBInstance, "acme-database")).To(BeTrue())
	}).WithTimeout(quiet).WithPolling(poll).Should(Succeed(), "nothing moves to the empty cluster")

	updateStorefront(t, ns, func(sf *shopv1alpha1.Storefront) {
		sf.Annotations = map[string]string{shopv1alpha1.AnnotationRetryProvisioning: "migrate-the-new-cluster"}
	})
	sf = waitForPhase(t, ns, shopv1alpha1.PhaseReady)
	g.Expect(sf.Status.Migration).To(Equal(&shopv1alpha1.MigrationStatus{Image: imageV1, Database: second}))
	g.Expect(jobOf(g, ns, imageV1).Annotations).To(HaveKeyWithValue(annotationDatabase, second))
}

// Issue 16, item 6: an external URL moved to another (empty) database. The served
// image's migration runs on the new database first, through acme-migrate-connection,
// while the connection Secret and the pods keep the previous one; once it succeeded the
// connection Secret moves and the pods roll.
func TestExternalDatabaseSwitchMigratesFirst(t *testing.T) {
	ns := newNamespace(t)
	standIns := startStandIns(t, ns, fake.Options{})
	startOperator(t, ns, Options{})
	g := NewWithT(t)
	sf := readyShop(t, ns)
	oldID := sf.Status.Migration.Database
	g.Expect(oldID).To(HavePrefix("sha256:"))
	d := deployment(g, ns)
	oldGeneration, checksum := d.Generation, d.Spec.Template.Annotations[annotationConfigChecksum]
	databaseURL := func(g Gomega, secret string) string {
		return string(get(g, ns, secret, &corev1.Secret{}).Data[keyDatabaseURL])
	}

	const newURL = "postgres://shop:s3cret@db2.example.internal:5432/shop?sslmode=require"
	newID := externalDatabaseID(&storeEndpoint{Host: "db2.example.internal", Port: 5432, URL: newURL})
	standIns.SetJobOutcome(imageV1, fake.JobRuns)
	createURLSecret(t, ns, "acme-db", newURL)
	g.Eventually(func(g Gomega) {
		job := jobOf(g, ns, imageV1)
		g.Expect(job).NotTo(BeNil())
		g.Expect(job.Annotations).To(HaveKeyWithValue(annotationDatabase, newID))
		g.Expect(job.Status.Active).To(Equal(int32(1)))
		env := job.Spec.Template.Spec.Containers[0].Env
		g.Expect(env).To(ContainElement(secretEnv(envDatabaseURL, "acme-migrate-connection", keyDatabaseURL, false)))
		g.Expect(databaseURL(g, "acme-migrate-connection")).To(Equal(newURL))
		g.Expect(databaseURL(g, "acme-connection")).To(Equal(dbURL), "the pods keep the previous database while the Job runs")
		sf := getStorefront(g, ns)
		c := condition(sf, shopv1alpha1.ConditionSchemaMigrated)
		g.Expect(c.Reason).To(Equal(shopv1alpha1.ReasonMigrationRunning))
		g.Expect(c.Message).To(HavePrefix("The external database moved to db2.example.internal:5432 (" + newID + ", previously " + oldID +
			"): the pods keep the previous database until the migrations of " + imageV1 + " ran on the new one. "))
		g.Expect(sf.Status.Migration.Database).To(Equal(oldID))
	}).WithTimeout(eventually).WithPolling(poll).Should(Succeed())
	g.Consistently(func(g Gomega) {
		g.Expect(databaseURL(g, "acme-connection")).To(Equal(dbURL))
		g.Expect(deployment(g, ns).Generation).To(Equal(oldGeneration), "the Deployment was touched while the migration ran")
	}).WithTimeout(quiet).WithPolling(poll).Should(Succeed())

	standIns.SetJobOutcome(imageV1, fake.JobSucceeds)
	g.Eventually(func(g Gomega) {
		g.Expect(databaseURL(g, "acme-connection")).To(Equal(newURL))
		g.Expect(deployment(g, ns).Spec.Template.Annotations[annotationConfigChecksum]).NotTo(Equal(checksum), "the pods roll to the new database")
		sf := getStorefront(g, ns)
		g.Expect(sf.Status.Migration).To(Equal(&shopv1alpha1.MigrationStatus{Image: imageV1, Database: newID}))
		g.Expect(sf.Status.Phase).To(Equal(shopv1alpha1.PhaseReady))
	}).WithTimeout(eventually).WithPolling(poll).Should(Succeed())
}
