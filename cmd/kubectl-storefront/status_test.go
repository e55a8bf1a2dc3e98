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

package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	shopv1alpha1 "github.com/storefront-operator/storefront/api/v1alpha1"
	"github.com/storefront-operator/storefront/test/fake"
)

const (
	imageV1 = "registry.example.com/storefront/shop:1.0.0"
	imageV2 = "registry.example.com/storefront/shop:2.0.0"
)

// auroraShop is "acme" on Aurora Serverless v2, no shared cache.
func auroraShop(ns string) *shopv1alpha1.Storefront {
	return &shopv1alpha1.Storefront{
		ObjectMeta: metav1.ObjectMeta{Name: "acme", Namespace: ns},
		Spec: shopv1alpha1.StorefrontSpec{
			Image:    imageV1,
			Currency: "EUR",
			Database: shopv1alpha1.DatabaseSpec{Aurora: &shopv1alpha1.AuroraDatabase{EngineVersion: "16.6",
				MinCapacity: "0.5", MaxCapacity: "4", DeletionPolicy: shopv1alpha1.DeletionPolicyDelete}},
		},
	}
}

// expectStatus compares `kubectl storefront status acme` with testdata/<golden>; with
// -update it writes the file once the output has settled (the same twice in a row, a
// second apart).
func expectStatus(t *testing.T, ns, golden string) {
	t.Helper()
	g := NewWithT(t)
	path := filepath.Join("testdata", golden)
	// Snapshot identifiers carry 8 hex of sha256 of the Storefront's UID, which differs
	// from run to run (controllers/storefront_snapshot.go snapshotIdentifier).
	sum := sha256.Sum256([]byte(getShop(g, ns).UID))
	uid := hex.EncodeToString(sum[:])[:8]
	status := func() (string, error) {
		out, err := run(ns, "status", "acme")
		return strings.ReplaceAll(out, uid, "<uid>"), err
	}
	if *update {
		var last string
		g.Eventually(func(g Gomega) {
			out, err := status()
			g.Expect(err).NotTo(HaveOccurred())
			prev := last
			last = out
			g.Expect(out).To(Equal(prev))
		}).WithTimeout(eventually).WithPolling(time.Second).Should(Succeed())
		g.Expect(os.WriteFile(path, []byte(last), 0o644)).To(Succeed())
		return
	}
	want, err := os.ReadFile(path)
	g.Expect(err).NotTo(HaveOccurred(), "run go test ./cmd/kubectl-storefront -update to write it")
	g.Eventually(status).WithTimeout(eventually).WithPolling(poll).Should(Equal(string(want)))
}

// The database is still being created (AWS takes an hour here): the DBCluster blocks,
// named with ACK's state.
func TestStatusProvisioning(t *testing.T) {
	ns := newNamespace(t, "plugin-provisioning")
	startStandIns(t, ns, fake.Options{ACKDelay: time.Hour})
	startOperator(t, ns)
	if err := k8sClient.Create(context.Background(), auroraShop(ns)); err != nil {
		t.Fatal(err)
	}
	waitForPhase(t, ns, shopv1alpha1.PhaseProvisioning)
	expectStatus(t, ns, "status-provisioning.txt")
}

// One shop through its main states: Ready, a new image migrating, its migration
// failed (the old image serves), retried and Ready again, hibernated, woken. Each
// command is checked by what the operator then does.
func TestStatusThroughAShopsLife(t *testing.T) {
	ns := newNamespace(t, "plugin-life")
	standIns := startStandIns(t, ns, fake.Options{})
	startOperator(t, ns)
	g := NewWithT(t)
	g.Expect(k8sClient.Create(context.Background(), auroraShop(ns))).To(Succeed())
	waitForPhase(t, ns, shopv1alpha1.PhaseReady)
	expectStatus(t, ns, "status-ready.txt")

	t.Run("-o json", func(t *testing.T) {
		g := NewWithT(t)
		out, err := run(ns, "status", "acme", "-o", "json")
		g.Expect(err).NotTo(HaveOccurred())
		var rep Report
		g.Expect(json.Unmarshal([]byte(out), &rep)).To(Succeed(), out)
		g.Expect(rep.Phase).To(Equal("Ready"))
		g.Expect(rep.Blocking).To(BeNil())
		var kinds []string
		for _, o := range rep.Objects {
			kinds = append(kinds, o.Kind)
		}
		g.Expect(kinds).To(Equal([]string{"DBSubnetGroup", "DBCluster", "DBInstance", "Job (db-login)", "Job (migration)", "Deployment"}))
	})

	// A new image migrates; the old one serves.
	standIns.SetJobOutcome(imageV2, fake.JobRuns)
	setImage(t, ns, imageV2)
	waitForPhase(t, ns, shopv1alpha1.PhaseMigrating)
	expectStatus(t, ns, "status-migrating.txt")

	// Its migration fails. No kubelet runs here: the test writes what the kubelet
	// would record of the failed pod, which status shows under its Job.
	standIns.SetJobOutcome(imageV2, fake.JobFails)
	waitForPhase(t, ns, shopv1alpha1.PhaseDegraded)
	writeFailedPod(t, ns)
	expectStatus(t, ns, "status-failed-migration.txt")
	// logs --migration reads that pod, the newest of the newest migration Job (with no
	// kubelet, envtest's API server answers its log with nothing).
	pod, err := lastMigrationPod(context.Background(), k8sClient, getShop(g, ns))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(pod.Name).To(Equal("acme-migrate-45de5d8a-x7k2p"))
	_, err = run(ns, "logs", "acme", "--migration")
	g.Expect(err).NotTo(HaveOccurred())
	// Without a garbage collector here the pod would outlive its Job's re-run.
	g.Expect(k8sClient.DeleteAllOf(context.Background(), &corev1.Pod{}, client.InNamespace(ns))).To(Succeed())

	// retry-migration: the operator runs the migration again, which now succeeds.
	standIns.SetJobOutcome(imageV2, fake.JobSucceeds)
	var out string
	out, err = run(ns, "retry-migration", "acme")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(out).To(ContainSubstring("migration of " + imageV2 + " will be retried"))
	waitForPhase(t, ns, shopv1alpha1.PhaseReady)
	g.Expect(getShop(g, ns).Status.ServedImage).To(Equal(imageV2))
	_, err = run(ns, "retry-migration", "acme")
	g.Expect(err).To(MatchError(ContainSubstring("has no failed migration to retry")))

	// hibernate, then wake.
	out, err = run(ns, "hibernate", "acme", "--yes")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(out).To(Equal("storefront " + ns + "/acme: hibernating (spec.hibernate: true)\n"))
	waitForPhase(t, ns, shopv1alpha1.PhaseHibernated)
	expectStatus(t, ns, "status-hibernated.txt")
	out, err = run(ns, "wake", "acme")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(out).To(Equal("storefront " + ns + "/acme: waking (spec.hibernate: false)\n"))
	waitForPhase(t, ns, shopv1alpha1.PhaseReady)
}

// The commands that only set an annotation set a new value each time, and refuse
// what the Storefront cannot do, naming why.
func TestRotatePassword(t *testing.T) {
	ns := newNamespace(t, "plugin-rotate")
	g := NewWithT(t)
	g.Expect(k8sClient.Create(context.Background(), auroraShop(ns))).To(Succeed())
	times := []time.Time{time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC), time.Date(2026, 12, 3, 11, 0, 0, 0, time.UTC)}
	defer func(old func() time.Time) { now = old }(now)
	for i, at := range times {
		now = func() time.Time { return at }
		out, err := run(ns, "rotate-password", "acme")
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(out).To(ContainSubstring("db password rotation requested"))
		g.Expect(getShop(g, ns).Annotations).To(HaveKeyWithValue(shopv1alpha1.AnnotationRotateDBPassword, times[i].Format(time.RFC3339Nano)))
	}
	_, err := run(ns, "rotate-password", "acme", "--which=master")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(getShop(g, ns).Annotations).To(HaveKey(shopv1alpha1.AnnotationRotateMasterPassword))
	_, err = run(ns, "rotate-password", "acme", "--which=cache")
	g.Expect(err).To(MatchError(ContainSubstring("has no ElastiCache Serverless cache")))
	_, err = run(ns, "rotate-password", "acme", "--which=root")
	g.Expect(err).To(MatchError(ContainSubstring(`--which="root": use db, master or cache`)))
	_, err = run(ns, "status", "nosuchshop")
	g.Expect(err).To(MatchError(`storefront "nosuchshop" not found in namespace "plugin-rotate"`))
	now = func() time.Time { return times[0] }
	out, err := run(ns, "snapshot", "acme")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(out).To(Equal("storefront " + ns + "/acme: snapshot requested (shop.storefront.dev/snapshot=2026-12-03T10:00:00Z); see status.snapshots\n"))
	g.Expect(getShop(g, ns).Annotations).To(HaveKeyWithValue(shopv1alpha1.AnnotationSnapshot, times[0].Format(time.RFC3339Nano)))
	out, err = run(ns, "restore", "acme", "s1", "--yes")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(out).To(Equal("storefront " + ns + "/acme: restore from snapshot s1 requested (spec.database.aurora.restoreFrom); see the condition DatabaseRestored\n"))
	g.Expect(getShop(g, ns).Spec.Database.Aurora.RestoreFrom).To(Equal(&shopv1alpha1.RestoreSource{SnapshotIdentifier: "s1"}))
	_, err = run(ns, "restore", "acme", "s1", "--yes")
	g.Expect(err).To(MatchError(ContainSubstring("was already restored from snapshot s1")))
	_, err = run(ns, "restore", "acme", "9lives", "--yes")
	g.Expect(err).To(MatchError(ContainSubstring("snapshotIdentifier must start with a letter")))
	_, err = run(ns, "logs", "acme", "--migration")
	g.Expect(err).To(MatchError(ContainSubstring("storefront acme has no migration Job")))
}

func getShop(g Gomega, ns string) *shopv1alpha1.Storefront {
	sf := &shopv1alpha1.Storefront{}
	g.Expect(k8sClient.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "acme"}, sf)).To(Succeed())
	return sf
}

func setImage(t *testing.T, ns, image string) {
	t.Helper()
	NewWithT(t).Eventually(func() error {
		sf := &shopv1alpha1.Storefront{}
		if err := k8sClient.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "acme"}, sf); err != nil {
			return err
		}
		sf.Spec.Image = image
		return k8sClient.Update(context.Background(), sf)
	}).WithTimeout(eventually).WithPolling(poll).Should(Succeed())
}

// writeFailedPod records, as the kubelet would, a failed pod of imageV2's migration Job.
func writeFailedPod(t *testing.T, ns string) {
	t.Helper()
	g := NewWithT(t)
	ctx := context.Background()
	jobs := &batchv1.JobList{}
	g.Expect(k8sClient.List(ctx, jobs, client.InNamespace(ns), client.MatchingLabels{labelComponent: componentMigration})).To(Succeed())
	var job *batchv1.Job
	for i := range jobs.Items {
		if jobs.Items[i].Spec.Template.Spec.Containers[0].Image == imageV2 {
			job = &jobs.Items[i]
		}
	}
	g.Expect(job).NotTo(BeNil(), "the migration Job of %s", imageV2)
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: job.Name + "-x7k2p", Namespace: ns, Labels: map[string]string{labelJobName: job.Name}},
		Spec:       corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{{Name: "migrate", Image: imageV2}}},
	}
	g.Expect(k8sClient.Create(ctx, pod)).To(Succeed())
	pod.Status = corev1.PodStatus{Phase: corev1.PodFailed, ContainerStatuses: []corev1.ContainerStatus{{
		Name: "migrate", Image: imageV2,
		State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1, Reason: "Error",
			Message: `migrate: 00012_orders_index.sql: ERROR: could not create unique index "orders_number_key" (SQLSTATE 23505)`}},
	}}}
	g.Expect(k8sClient.Status().Update(ctx, pod)).To(Succeed())
}

// restore: the spec field set by merge patch, and status while RDS creates the new
// cluster (the stand-in holds it creating), then Restored.
func TestStatusRestoring(t *testing.T) {
	ns := newNamespace(t, "plugin-restore")
	standIns := startStandIns(t, ns, fake.Options{})
	startOperator(t, ns)
	g := NewWithT(t)
	g.Expect(k8sClient.Create(context.Background(), auroraShop(ns))).To(Succeed())
	waitForPhase(t, ns, shopv1alpha1.PhaseReady)
	_, err := run(ns, "snapshot", "acme")
	g.Expect(err).NotTo(HaveOccurred())
	var snapshot string
	g.Eventually(func(g Gomega) {
		sf := getShop(g, ns)
		g.Expect(sf.Status.Snapshots).To(HaveLen(1))
		g.Expect(sf.Status.Snapshots[0].State).To(Equal("available"))
		snapshot = sf.Status.Snapshots[0].Identifier
	}).WithTimeout(eventually).WithPolling(poll).Should(Succeed())
	restored := getShop(g, ns).Status.Database.ClusterIdentifier + "-r1"
	standIns.AWS().SetStatus("DBCluster", restored, "creating")
	out, err := run(ns, "restore", "acme", snapshot, "-y")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(out).To(ContainSubstring("restore from snapshot " + snapshot + " requested"))
	// The plugin refuses once status.restore shows the operator took the request.
	g.Eventually(func(g Gomega) {
		g.Expect(getShop(g, ns).Status.Restore).NotTo(BeNil())
	}).WithTimeout(eventually).WithPolling(poll).Should(Succeed())
	_, err = run(ns, "restore", "acme", "other", "--yes")
	g.Expect(err).To(MatchError(ContainSubstring("is restoring snapshot " + snapshot)))
	expectStatus(t, ns, "status-restoring.txt")

	standIns.AWS().SetStatus("DBCluster", restored, "")
	g.Eventually(func(g Gomega) {
		sf := getShop(g, ns)
		g.Expect(sf.Status.Restore.State).To(Equal(shopv1alpha1.ReasonRestored))
		g.Expect(sf.Status.Phase).To(Equal(shopv1alpha1.PhaseReady))
	}).WithTimeout(eventually).WithPolling(poll).Should(Succeed())
	out, err = run(ns, "status", "acme")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(out).To(ContainSubstring("Restore: snapshot " + snapshot + " into DB cluster " + restored + ": Restored"))
}
