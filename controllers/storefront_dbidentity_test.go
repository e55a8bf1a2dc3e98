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
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

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
}
