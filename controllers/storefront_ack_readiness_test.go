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
	"testing"
	"time"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	shopv1alpha1 "github.com/storefront-operator/storefront/api/v1alpha1"
	"github.com/storefront-operator/storefront/test/fake"
)

// Issue 16, item 1: a cluster RDS modifies keeps serving, and so does the shop
// (DatabaseReady=True/DatabaseMaintenance, Ready), although ACK says Synced=False (rds
// db_cluster/sdk.go sdkFind: not available is never synced); a new image's migration
// waits for the maintenance to end and says so; a stopped cluster is DatabaseStopped.
func TestMaintenanceKeepsTheDatabaseReady(t *testing.T) {
	ns := newNamespace(t)
	standIns := startStandIns(t, ns, fake.Options{ACKResync: 300 * time.Millisecond})
	startOperator(t, ns, ackOptions)
	g := NewWithT(t)
	createStorefront(t, newStorefront(ns, withAurora()))
	waitForPhase(t, ns, shopv1alpha1.PhaseReady)
	id := awsIdentifier(ns, "acme")

	standIns.AWS().SetStatus(fake.DBClusterGVK.Kind, id, "modifying")
	g.Eventually(func(g Gomega) {
		cl := ackObject(g, ns, gvkDBCluster, "acme-database")
		st, _, _ := unstructured.NestedString(cl.Object, "status", "status")
		g.Expect(st).To(Equal("modifying"))
		synced, _ := ackConditionOf(cl, ackConditionSynced)
		g.Expect(synced.Status).To(Equal("False"), "ACK's own view: not synced")
		c := condition(getStorefront(g, ns), shopv1alpha1.ConditionDatabaseReady)
		g.Expect(c.Status).To(Equal(metav1.ConditionTrue), c.Message)
		g.Expect(c.Reason).To(Equal(shopv1alpha1.ReasonDatabaseMaintenance))
		g.Expect(c.Message).To(ContainSubstring("DBCluster acme-database is modifying and serves meanwhile"))
	}).WithTimeout(eventually).WithPolling(poll).Should(Succeed())
	g.Consistently(func(g Gomega) {
		g.Expect(getStorefront(g, ns).Status.Phase).To(Equal(shopv1alpha1.PhaseReady))
	}).WithTimeout(quiet).WithPolling(poll).Should(Succeed())

	// A new image waits for the maintenance; the old one keeps serving.
	updateStorefront(t, ns, func(sf *shopv1alpha1.Storefront) { sf.Spec.Image = imageV2 })
	g.Eventually(func(g Gomega) {
		c := condition(getStorefront(g, ns), shopv1alpha1.ConditionSchemaMigrated)
		g.Expect(c.Reason).To(Equal(shopv1alpha1.ReasonWaitingForDatabase))
		g.Expect(c.Message).To(Equal("The migrations of " + imageV2 + " wait for the database's maintenance to end: DBCluster acme-database is modifying and serves meanwhile"))
	}).WithTimeout(eventually).WithPolling(poll).Should(Succeed())
	g.Consistently(func(g Gomega) {
		g.Expect(migrationJobs(g, ns)).To(HaveLen(1), "only the first image's Job")
		g.Expect(deployment(g, ns).Spec.Template.Spec.Containers[0].Image).To(Equal(imageV1))
	}).WithTimeout(quiet).WithPolling(poll).Should(Succeed())

	standIns.AWS().SetStatus(fake.DBClusterGVK.Kind, id, "")
	sf := waitForPhase(t, ns, shopv1alpha1.PhaseReady)
	g.Expect(sf.Status.MigratedImage).To(Equal(imageV2))
	g.Expect(condition(sf, shopv1alpha1.ConditionDatabaseReady).Reason).To(Equal(shopv1alpha1.ReasonDatabaseAvailable))

	standIns.AWS().SetStatus(fake.DBClusterGVK.Kind, id, "stopped")
	g.Eventually(func(g Gomega) {
		sf := getStorefront(g, ns)
		c := condition(sf, shopv1alpha1.ConditionDatabaseReady)
		g.Expect(c.Status).To(Equal(metav1.ConditionFalse))
		g.Expect(c.Reason).To(Equal(shopv1alpha1.ReasonDatabaseStopped))
		g.Expect(c.Message).To(HavePrefix("DBCluster acme-database: AWS reports status stopped; start it"))
		g.Expect(sf.Status.Phase).To(Equal(shopv1alpha1.PhaseDegraded))
	}).WithTimeout(eventually).WithPolling(poll).Should(Succeed())
	standIns.AWS().SetStatus(fake.DBClusterGVK.Kind, id, "")
	waitForPhase(t, ns, shopv1alpha1.PhaseReady)
}
