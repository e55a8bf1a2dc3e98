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
	"net/url"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	shopv1alpha1 "github.com/storefront-operator/storefront/api/v1alpha1"
	"github.com/storefront-operator/storefront/test/fake"
)

func TestRestoredClusterIdentifier(t *testing.T) {
	sf := newStorefront("a-very-long-namespace-name-for-the-shops-of-everyone")
	sf.Name = "acme--shop-with-a-name-that-goes-on-and-on-and-on"
	for _, seq := range []int64{1, 99, 12345} {
		id := restoredClusterIdentifier(sf, seq)
		// RDS CreateDBCluster: 1 to 63 letters, digits or hyphens, a letter first, no two
		// consecutive hyphens, no trailing hyphen.
		if len(id) > 63 || !rdsSnapshotIdentifier.MatchString(id) {
			t.Errorf("identifier %q is no valid DB cluster identifier", id)
		}
	}
	if got, want := restoredClusterIdentifier(newStorefront("shops"), 2), awsIdentifier("shops", "acme")+"-r2"; got != want {
		t.Errorf("identifier %q, want %q", got, want)
	}
}

// The object that adopts a restore's snapshot: ACK's adopt policy on the identifier,
// retain (deleting it never deletes the snapshot), controlled and labelled apart from
// the operator's own snapshots (retention deletes those, in AWS too), no tags; its name
// is none of the operator's snapshot objects'.
func TestDesiredRestoreSource(t *testing.T) {
	g := NewWithT(t)
	sf := newStorefront("shops")
	sf.UID = "0c7f5e2a-1111-2222-3333-444455556666"
	u := desiredRestoreSource(sf, "eu-central-1", "console-Snap-1", 3)
	g.Expect(u.GetName()).To(Equal(awsIdentifier("shops", "acme") + "-r3-source"))
	g.Expect(u.GetAnnotations()).To(Equal(map[string]string{
		"services.k8s.aws/adoption-policy": "adopt",
		"services.k8s.aws/adoption-fields": `{"dbClusterSnapshotIdentifier":"console-Snap-1"}`,
		"services.k8s.aws/deletion-policy": "retain",
		"services.k8s.aws/region":          "eu-central-1",
	}))
	g.Expect(u.GetLabels()).To(HaveKeyWithValue(labelComponent, componentRestoreSource))
	g.Expect(metav1.IsControlledBy(u, sf)).To(BeTrue())
	g.Expect(u.Object["spec"]).To(Equal(map[string]any{"dbClusterSnapshotIdentifier": "console-Snap-1"}))
	for _, own := range []string{snapshotIdentifier(sf, imageV1, 3), onDemandSnapshotIdentifier(sf, 3), clusterFinalSnapshotIdentifier(sf, restoredClusterIdentifier(sf, 3))} {
		g.Expect(u.GetName()).NotTo(Equal(own))
	}
	long := newStorefront("a-very-long-namespace-name-for-the-shops-of-everyone")
	long.Name = "acme--shop-with-a-name-that-goes-on-and-on-and-on"
	g.Expect(len(restoreSourceName(long, 1<<62))).To(BeNumerically("<=", 253))
}

// restoreEvents are the Storefront's DatabaseRestored Events, in the order they were
// emitted.
func restoreEvents(g Gomega, ns string) []string {
	var out []string
	for _, e := range storefrontEventItems(g, ns) {
		if strings.HasPrefix(e.Note, shopv1alpha1.ConditionDatabaseRestored+"=") {
			out = append(out, e.Reason)
		}
	}
	return out
}

// databaseHost is the host of DATABASE_URL in the connection Secret.
func databaseHost(g Gomega, ns string) string {
	s := get(g, ns, "acme-connection", &corev1.Secret{})
	u, err := url.Parse(string(s.Data[keyDatabaseURL]))
	g.Expect(err).NotTo(HaveOccurred())
	return u.Hostname()
}

// restoreACKDelay is how long the stand-in's AWS takes in the restore tests. RDS takes
// minutes to restore a cluster; one available already at the read after
// RestoreDBClusterFromSnapshot would be Synced True at once and, since a restore stores
// nothing in the spec (rds-controller 1.11.1 hooks.go restoreDbClusterFromSnapshot), not
// reconciled again before ACK's resync: its master password would wait for hours.
const restoreACKDelay = 300 * time.Millisecond

// restoreTo sets spec.database.aurora.restoreFrom.
func restoreTo(t *testing.T, ns, snapshot string) {
	updateStorefront(t, ns, func(sf *shopv1alpha1.Storefront) {
		sf.Spec.Database.Aurora.RestoreFrom = &shopv1alpha1.RestoreSource{SnapshotIdentifier: snapshot}
	})
}

// waitForRestore waits until DatabaseRestored has reason and the shop is Ready.
func waitForRestore(t *testing.T, ns, reason string) *shopv1alpha1.Storefront {
	t.Helper()
	g := NewWithT(t)
	var sf *shopv1alpha1.Storefront
	g.Eventually(func(g Gomega) {
		sf = getStorefront(g, ns)
		g.Expect(condition(sf, shopv1alpha1.ConditionDatabaseRestored).Reason).To(Equal(reason))
		g.Expect(sf.Status.Phase).To(Equal(shopv1alpha1.PhaseReady))
	}, eventually, poll).Should(Succeed())
	return sf
}

// readyShopWithSnapshot makes a Ready Aurora shop (withAurora with changes) that
// migrated from imageV1 to imageV2, so that a snapshot of imageV1's schema exists, and
// returns the Storefront and that snapshot's identifier.
func readyShopWithSnapshot(t *testing.T, ns string, changes ...func(*shopv1alpha1.AuroraDatabase)) (*shopv1alpha1.Storefront, string) {
	t.Helper()
	g := NewWithT(t)
	sf := readyShop(t, ns, withAurora(changes...))
	updateStorefront(t, ns, func(sf *shopv1alpha1.Storefront) { sf.Spec.Image = imageV2 })
	g.Eventually(func(g Gomega) {
		sf = getStorefront(g, ns)
		g.Expect(sf.Status.MigratedImage).To(Equal(imageV2))
		g.Expect(sf.Status.Phase).To(Equal(shopv1alpha1.PhaseReady))
	}, eventually, poll).Should(Succeed())
	return sf, snapshotIdentifier(sf, imageV2, 1)
}

// restoredShop makes a Ready Aurora shop (withAurora with changes), restores the
// snapshot taken before imageV2's migration, and waits until the replaced cluster is
// retained or deleted, as the deletion policy says. It returns that snapshot.
func restoredShop(t *testing.T, ns string, changes ...func(*shopv1alpha1.AuroraDatabase)) string {
	t.Helper()
	g := NewWithT(t)
	sf, snapshot := readyShopWithSnapshot(t, ns, changes...)
	restoreTo(t, ns, snapshot)
	waitForRestore(t, ns, shopv1alpha1.ReasonRestored)
	want := shopv1alpha1.ReplacedClusterDeleted
	if auroraDeletionPolicy(sf) == shopv1alpha1.DeletionPolicyRetain {
		want = shopv1alpha1.ReplacedClusterRetained
	}
	g.Eventually(func(g Gomega) {
		g.Expect(getStorefront(g, ns).Status.Restore.ReplacedClusterState).To(Equal(want))
	}, eventually, poll).Should(Succeed())
	return snapshot
}

// Upgrade (snapshot S before the migration of v2), then restore S: a new cluster
// <aws-id>-r1 from S in the same subnet group, with the scaling and the current master
// password (ACK sets it after the restore: rds-controller 1.11.1 restoreDbClusterFromSnapshot
// sends none, test/fake/ack_snapshot.go), the migration of the served image run on it
// as the master user with the application role reset, the connection Secret moved to
// it, the steps in order, each with an Event.
func TestRestoreFromSnapshot(t *testing.T) {
	ns := newNamespace(t)
	s := startStandIns(t, ns, fake.Options{ACKDelay: restoreACKDelay})
	opts := ackOptions
	opts.ClusterName = "prod-eu"
	startOperator(t, ns, opts)
	g := NewWithT(t)
	sf, snapshot := readyShopWithSnapshot(t, ns)
	oldDatabase := sf.Status.Migration.Database
	oldHost := databaseHost(g, ns)
	awsID := awsIdentifier(ns, "acme")
	g.Expect(sf.Status.Database.ClusterIdentifier).To(Equal(awsID))

	restoreTo(t, ns, snapshot)
	sf = waitForRestore(t, ns, shopv1alpha1.ReasonRestored)
	newID := awsID + "-r1"
	rs := sf.Status.Restore
	g.Expect(rs).NotTo(BeNil())
	g.Expect([]string{rs.SnapshotIdentifier, rs.SnapshotImage, rs.ClusterIdentifier, rs.State, rs.ReplacedCluster}).To(Equal(
		[]string{snapshot, imageV1, newID, shopv1alpha1.ReasonRestored, awsID}))
	g.Expect(rs.Sequence).To(Equal(int64(1)))
	g.Expect(rs.CompletionTime).NotTo(BeNil())
	g.Expect(rs.CompletionTime.Before(&rs.StartTime)).To(BeFalse())
	g.Expect(sf.Status.Database.ClusterIdentifier).To(Equal(newID))
	g.Expect(condition(sf, shopv1alpha1.ConditionDatabaseRestored).Status).To(BeEquivalentTo("True"))

	cluster := ackObject(g, ns, gvkDBCluster, newID)
	g.Expect(specField(cluster, "dbClusterIdentifier")).To(Equal(newID))
	g.Expect(specField(cluster, "snapshotIdentifier")).To(Equal(snapshot))
	g.Expect(specField(cluster, "dbSubnetGroupName")).To(Equal(awsID), "the same subnet group")
	g.Expect(specField(cluster, "engine")).To(Equal(auroraEngine))
	scaling, _, _ := unstructured.NestedMap(cluster.Object, "spec", "serverlessV2ScalingConfiguration")
	g.Expect(scaling).To(Equal(map[string]any{"minCapacity": 0.5, "maxCapacity": int64(4)}), "the Serverless v2 scaling")
	password, _, _ := unstructured.NestedString(cluster.Object, "spec", "masterUserPassword", "name")
	g.Expect(cluster.GetAnnotations()).To(HaveKeyWithValue(rdsAnnotationLastAppliedSecret, ns+"/"+password+".password"),
		"ACK applied the master password after the restore")
	g.Expect(cluster.GetAnnotations()).To(HaveKeyWithValue(rdsAnnotationFinalSnapshotID, newID+"-final-"+shortHash(string(sf.UID))))
	g.Expect(tagsOf(cluster)).To(Equal(map[string]string{"storefront.dev/namespace": ns, "storefront.dev/name": "acme", "storefront.dev/cluster": "prod-eu"}))
	instance := ackObject(g, ns, gvkDBInstance, newID)
	g.Expect(specField(instance, "dbClusterIdentifier")).To(Equal(newID))
	g.Expect(specField(instance, "dbInstanceClass")).To(Equal(auroraInstanceClass))
	res, ok := s.AWS().Get(fake.AWSKey{Account: fake.DefaultAWSAccount.ID, Region: "eu-central-1", Kind: "DBCluster", ID: newID})
	g.Expect(ok).To(BeTrue(), "the restored cluster exists in the stand-in's AWS")
	g.Expect(res.Spec).To(HaveKeyWithValue("dbSubnetGroupName", awsID))

	g.Expect(sf.Status.Migration.Database).To(Equal(clusterResourceID(cluster)), "the migration ran on the restored cluster")
	g.Expect(sf.Status.Migration.Database).NotTo(Equal(oldDatabase))
	g.Expect(sf.Status.MigratedImage).To(Equal(imageV2))
	var onNew []string
	for _, j := range migrationJobs(g, ns) {
		if j.Annotations[annotationDatabase] == sf.Status.Migration.Database && j.Annotations[annotationImage] == imageV2 {
			c := j.Spec.Template.Spec.Containers[0]
			onNew = append(onNew, strings.Join(c.Args, " "))
			for _, e := range c.Env {
				if e.Name == envDatabaseURL {
					g.Expect(e.ValueFrom.SecretKeyRef.Name).To(Equal("acme-migrate-connection"), "the migration logs in as the master user")
				}
			}
		}
	}
	g.Expect(onNew).To(HaveLen(1), "the served image's migration ran on the restored cluster")
	g.Expect(onNew[0]).To(ContainSubstring("--app-role="+sf.Status.Credentials.ActiveRole), "it resets the application role's password")
	migrate := get(g, ns, "acme-migrate-connection", &corev1.Secret{})
	g.Expect(string(migrate.Data[keyDatabaseURL])).To(HavePrefix("postgres://"+dbMasterUsername+":"), "never an application role's URL")

	g.Expect(databaseHost(g, ns)).To(Equal(sf.Status.Database.Endpoint))
	g.Expect(databaseHost(g, ns)).NotTo(Equal(oldHost), "the connection Secret moved to the restored cluster")
	g.Expect(databaseHost(g, ns)).To(HavePrefix(newID))
	g.Eventually(func(g Gomega) {
		g.Expect(restoreEvents(g, ns)).To(Equal([]string{shopv1alpha1.ReasonRestoring, shopv1alpha1.ReasonRestoreSettingPassword,
			shopv1alpha1.ReasonRestoreMigrating, shopv1alpha1.ReasonRestored}))
	}, eventually, poll).Should(Succeed())
}

// A restore asked for while the shop sleeps: the cluster is restored, its migrations
// wait for the wake as every migration does (a Job would resume the paused database),
// and meanwhile the shop is Hibernated, not Degraded (its Deployment at 0 is not
// PodsUnavailable), and the restore's condition says what it waits for. Waking finishes
// the restore.
func TestRestoreWhileHibernating(t *testing.T) {
	ns := newNamespace(t)
	startStandIns(t, ns, fake.Options{ACKDelay: restoreACKDelay})
	startOperator(t, ns, ackOptions)
	g := NewWithT(t)
	sf, snapshot := readyShopWithSnapshot(t, ns)
	updateStorefront(t, ns, func(sf *shopv1alpha1.Storefront) { sf.Spec.Hibernate = true })
	waitForPhase(t, ns, shopv1alpha1.PhaseHibernated)

	restoreTo(t, ns, snapshot)
	g.Eventually(func(g Gomega) {
		sf = getStorefront(g, ns)
		c := condition(sf, shopv1alpha1.ConditionDatabaseRestored)
		g.Expect(c.Reason).To(Equal(shopv1alpha1.ReasonRestoreMigrating))
		g.Expect(c.Message).To(ContainSubstring("wait until the shop wakes (spec.hibernate: false)"))
		g.Expect(condition(sf, shopv1alpha1.ConditionSchemaMigrated).Reason).To(Equal(shopv1alpha1.ReasonHibernated))
	}, eventually, poll).Should(Succeed())
	g.Consistently(func(g Gomega) {
		sf := getStorefront(g, ns)
		g.Expect(sf.Status.Phase).To(Equal(shopv1alpha1.PhaseHibernated))
		g.Expect(condition(sf, shopv1alpha1.ConditionAvailable).Reason).To(Equal(shopv1alpha1.ReasonHibernated))
		g.Expect(sf.Status.Restore.State).To(Equal(shopv1alpha1.ReasonRestoreMigrating))
	}).WithTimeout(quiet).WithPolling(poll).Should(Succeed())
	for _, reason := range eventReasons(g, ns) {
		g.Expect(failureReasons[reason]).To(BeFalse(), "Event %s while asleep", reason)
	}

	updateStorefront(t, ns, func(sf *shopv1alpha1.Storefront) { sf.Spec.Hibernate = false })
	sf = waitForRestore(t, ns, shopv1alpha1.ReasonRestored)
	g.Expect(sf.Status.Database.ClusterIdentifier).To(Equal(awsIdentifier(ns, "acme") + "-r1"))
	waitForPhase(t, ns, shopv1alpha1.PhaseReady)
}

// A restore from a snapshot RDS does not know fails (rds-controller would retry
// DBClusterSnapshotNotFoundFault for ever): the shop stays on its cluster, the new
// cluster object is deleted; another value retries under the next identifier.
func TestFailedRestoreKeepsTheDatabase(t *testing.T) {
	ns := newNamespace(t)
	startStandIns(t, ns, fake.Options{ACKDelay: restoreACKDelay})
	startOperator(t, ns, ackOptions)
	g := NewWithT(t)
	// No version of the user's: the operator adopts the snapshot to learn its version.
	sf := readyShop(t, ns, withAurora(func(a *shopv1alpha1.AuroraDatabase) { a.EngineVersion = "" }))
	awsID := awsIdentifier(ns, "acme")
	oldHost := databaseHost(g, ns)
	oldDatabase := sf.Status.Migration.Database

	restoreTo(t, ns, "no-such-snapshot")
	g.Eventually(func(g Gomega) {
		sf = getStorefront(g, ns)
		c := condition(sf, shopv1alpha1.ConditionDatabaseRestored)
		g.Expect(c.Reason).To(Equal(shopv1alpha1.ReasonRestoreFailed))
		g.Expect(c.Message).To(HavePrefix("Snapshot no-such-snapshot does not exist in RDS in region eu-central-1, so DB cluster " + awsID + "-r1 cannot be restored from it: "))
		g.Expect(c.Message).To(ContainSubstring("DBClusterSnapshotNotFoundFault"))
		g.Expect(c.Message).To(ContainSubstring("The shop stays on DB cluster " + awsID + "; DB cluster " + awsID + "-r1 is deleted"))
		g.Expect(sf.Status.Restore.CompletionTime).NotTo(BeNil(), "the new cluster object is gone")
	}, eventually, poll).Should(Succeed())
	g.Expect(absent(ns, awsID+"-r1", newACKObject(gvkDBCluster))).To(BeTrue())
	g.Expect(absent(ns, restoreSourceName(sf, 1), newACKObject(gvkDBClusterSnapshot))).To(BeTrue(),
		"the object that would have adopted the snapshot is removed with the failed restore")
	g.Expect(sf.Status.Database.ClusterIdentifier).To(Equal(awsID))
	g.Expect(sf.Status.Migration.Database).To(Equal(oldDatabase))
	g.Expect(databaseHost(g, ns)).To(Equal(oldHost))
	g.Expect(strings.Join(storefrontEvents(g, ns), "\n")).To(ContainSubstring("Warning " + shopv1alpha1.ReasonRestoreFailed))
	g.Consistently(func(g Gomega) {
		sf := getStorefront(g, ns)
		g.Expect(sf.Status.Phase).To(Equal(shopv1alpha1.PhaseReady), "the shop serves on")
		g.Expect(sf.Status.Restore.State).To(Equal(shopv1alpha1.ReasonRestoreFailed), "the same value is not retried")
	}, quiet, poll).Should(Succeed())

	// An on-demand snapshot, then a restore from it: the next identifier.
	updateStorefront(t, ns, func(sf *shopv1alpha1.Storefront) {
		sf.Annotations = map[string]string{shopv1alpha1.AnnotationSnapshot: "1"}
	})
	snapshot := onDemandSnapshotIdentifier(sf, 1)
	g.Eventually(func(g Gomega) {
		sf := getStorefront(g, ns)
		g.Expect(sf.Status.Snapshots).To(HaveLen(1))
		g.Expect(sf.Status.Snapshots[0].State).To(Equal("available"))
	}, eventually, poll).Should(Succeed())
	restoreTo(t, ns, snapshot)
	sf = waitForRestore(t, ns, shopv1alpha1.ReasonRestored)
	g.Expect(sf.Status.Restore.ClusterIdentifier).To(Equal(awsID + "-r2"))
	g.Expect(sf.Status.Database.ClusterIdentifier).To(Equal(awsID + "-r2"))
	g.Expect(databaseHost(g, ns)).To(HavePrefix(awsID + "-r2"))
}

// A restore from a snapshot the operator took no DBClusterSnapshot object of (one made
// in the console, the final snapshot of an earlier cluster): on real ACK a restored
// cluster whose spec lacks the engine version is never synced (rds-controller 1.11.1
// stores nothing of the restore's answer; test/fake TestGoldenRestoreStoresNoSpecFromAWS),
// so the operator adopts the snapshot with a DBClusterSnapshot object of its own, gives
// the restored cluster the version ACK reports, and removes that object, with ACK's
// retain policy, once the restore ended: the snapshot stays in RDS.
func TestRestoreFromASnapshotWithoutObject(t *testing.T) {
	cases := []struct {
		name string
		// snapshot makes the snapshot in the stand-in's AWS only and returns it and its
		// engine version.
		snapshot func(t *testing.T, s *fake.StandIns, ns string) (string, string)
	}{
		{
			name: "made in the console",
			snapshot: func(t *testing.T, s *fake.StandIns, ns string) (string, string) {
				key := fake.AWSKey{Account: fake.DefaultAWSAccount.ID, Region: "eu-central-1", Kind: fake.DBClusterSnapshotGVK.Kind, ID: "console-before-the-sale"}
				if _, err := s.AWS().CreateSnapshot(context.Background(), key, map[string]any{"dbClusterIdentifier": awsIdentifier(ns, "acme")}, map[string]string{"team": "shop"}); err != nil {
					t.Fatal(err)
				}
				return key.ID, fake.DefaultAuroraPostgresVersion
			},
		},
		{
			name: "the final snapshot of an earlier cluster",
			snapshot: func(t *testing.T, s *fake.StandIns, ns string) (string, string) {
				g := NewWithT(t)
				cluster := fake.AWSKey{Account: fake.DefaultAWSAccount.ID, Region: "eu-central-1", Kind: fake.DBClusterGVK.Kind, ID: "earlier-acme"}
				_, err := s.AWS().Create(cluster, map[string]any{"dbClusterIdentifier": cluster.ID, "engine": auroraEngine, "engineVersion": "15.10",
					"masterUsername": dbMasterUsername, "databaseName": auroraDatabaseName}, "an-earlier-password", nil)
				g.Expect(err).NotTo(HaveOccurred())
				final := "earlier-acme-final"
				g.Eventually(func() error {
					return s.AWS().Delete(cluster, fake.DeleteParams{FinalSnapshotID: &final})
				}, eventually, poll).Should(Succeed(), "deleted once available")
				g.Eventually(func() bool { _, ok := s.AWS().Get(cluster); return ok }, eventually, poll).Should(BeFalse())
				return final, "15.10"
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ns := newNamespace(t)
			s := startStandIns(t, ns, fake.Options{ACKDelay: restoreACKDelay})
			startOperator(t, ns, ackOptions)
			g := NewWithT(t)
			// No version of the user's: the restored cluster's is the snapshot's.
			readyShop(t, ns, withAurora(func(a *shopv1alpha1.AuroraDatabase) { a.EngineVersion = "" }))
			awsID := awsIdentifier(ns, "acme")
			snapshot, version := tc.snapshot(t, s, ns)
			snapshotKey := fake.AWSKey{Account: fake.DefaultAWSAccount.ID, Region: "eu-central-1", Kind: fake.DBClusterSnapshotGVK.Kind, ID: snapshot}
			g.Eventually(func() string { r, _ := s.AWS().Get(snapshotKey); return r.Status }, eventually, poll).Should(Equal("available"))

			restoreTo(t, ns, snapshot)
			sf := waitForRestore(t, ns, shopv1alpha1.ReasonRestored)
			g.Expect(sf.Status.Restore.SnapshotImage).To(BeEmpty(), "not a snapshot of the operator's")
			g.Expect(sf.Status.Database.ClusterIdentifier).To(Equal(awsID + "-r1"))
			cluster := ackObject(g, ns, gvkDBCluster, awsID+"-r1")
			g.Expect(specField(cluster, "snapshotIdentifier")).To(Equal(snapshot))
			g.Expect(specField(cluster, "engineVersion")).To(Equal(version), "the snapshot's version, as ACK reported it")
			auto, _, _ := unstructured.NestedBool(cluster.Object, "spec", "autoMinorVersionUpgrade")
			g.Expect(auto).To(BeTrue())

			source := restoreSourceName(sf, 1)
			g.Eventually(func() bool { return absent(ns, source, newACKObject(gvkDBClusterSnapshot)) }, eventually, poll).Should(BeTrue(),
				"the adopting object is removed once the restore ended")
			var released []string
			for _, d := range s.ACKDeletions() {
				if d.Kind == fake.DBClusterSnapshotGVK.Kind {
					released = append(released, d.Name+" "+d.Resource.ID+" "+d.Policy)
				}
			}
			g.Expect(released).To(Equal([]string{source + " " + snapshot + " retain"}), "ACK adopted the snapshot and let go of it without deleting it")
			res, ok := s.AWS().Get(snapshotKey)
			g.Expect(ok).To(BeTrue(), "the snapshot is still in AWS")
			g.Expect(res.Status).To(Equal("available"))
			if snapshot == "console-before-the-sale" {
				g.Expect(res.Tags).To(HaveKeyWithValue("team", "shop"))
			}
		})
	}
}

// The replaced cluster follows the deletion policy: under Retain its ACK objects are
// released (no owner reference, ACK's retain policy) and it stays in AWS, and the
// lost-database check watches the restored cluster, not it; under Snapshot it is
// deleted after a final snapshot of its own name.
func TestRestoreRetainsReplacedCluster(t *testing.T) {
	for _, policy := range []shopv1alpha1.DeletionPolicy{shopv1alpha1.DeletionPolicyRetain, shopv1alpha1.DeletionPolicySnapshot} {
		t.Run(string(policy), func(t *testing.T) {
			ns := newNamespace(t)
			s := startStandIns(t, ns, fake.Options{ACKDelay: restoreACKDelay})
			startOperator(t, ns, ackOptions)
			g := NewWithT(t)
			sf := readyShop(t, ns, withAurora(func(a *shopv1alpha1.AuroraDatabase) { a.DeletionPolicy = policy }))
			awsID := awsIdentifier(ns, "acme")
			updateStorefront(t, ns, func(sf *shopv1alpha1.Storefront) {
				sf.Annotations = map[string]string{shopv1alpha1.AnnotationSnapshot: "1"}
			})
			g.Eventually(func(g Gomega) {
				sf := getStorefront(g, ns)
				g.Expect(sf.Status.Snapshots).To(HaveLen(1))
				g.Expect(sf.Status.Snapshots[0].State).To(Equal("available"))
			}, eventually, poll).Should(Succeed())
			restoreTo(t, ns, onDemandSnapshotIdentifier(sf, 1))
			waitForRestore(t, ns, shopv1alpha1.ReasonRestored)
			key := fake.AWSKey{Account: fake.DefaultAWSAccount.ID, Region: "eu-central-1", Kind: "DBCluster", ID: awsID}
			switch policy {
			case shopv1alpha1.DeletionPolicyRetain:
				g.Eventually(func(g Gomega) {
					g.Expect(getStorefront(g, ns).Status.Restore.ReplacedClusterState).To(Equal(shopv1alpha1.ReplacedClusterRetained))
				}, eventually, poll).Should(Succeed())
				for _, gvk := range []schemaKind{{gvkDBCluster, "acme-database"}, {gvkDBInstance, "acme-database"}} {
					obj := ackObject(g, ns, gvk.gvk, gvk.name)
					g.Expect(obj.GetOwnerReferences()).To(BeEmpty(), gvk.gvk.Kind)
					g.Expect(obj.GetAnnotations()).To(HaveKeyWithValue(ackAnnotationDeletionPolicy, ackDeletionPolicyRetain), gvk.gvk.Kind)
				}
				_, ok := s.AWS().Get(key)
				g.Expect(ok).To(BeTrue(), "the replaced cluster stays in AWS")

				// The lost-database check watches the current cluster only: the
				// replaced one's object may go, the restored one's may not.
				g.Expect(k8sClient.Delete(context.Background(), ackObject(g, ns, gvkDBCluster, "acme-database"))).To(Succeed())
				g.Consistently(func(g Gomega) {
					sf := getStorefront(g, ns)
					g.Expect(condition(sf, shopv1alpha1.ConditionDatabaseReady).Reason).To(Equal(shopv1alpha1.ReasonDatabaseAvailable))
					g.Expect(sf.Status.Phase).To(Equal(shopv1alpha1.PhaseReady))
				}, quiet, poll).Should(Succeed())
				g.Expect(k8sClient.Delete(context.Background(), ackObject(g, ns, gvkDBCluster, awsID+"-r1"))).To(Succeed())
				g.Eventually(func(g Gomega) {
					g.Expect(condition(getStorefront(g, ns), shopv1alpha1.ConditionDatabaseReady).Reason).To(Equal(shopv1alpha1.ReasonDatabaseLost))
				}, eventually, poll).Should(Succeed())
			default:
				g.Eventually(func(g Gomega) {
					g.Expect(getStorefront(g, ns).Status.Restore.ReplacedClusterState).To(Equal(shopv1alpha1.ReplacedClusterDeleted))
				}, eventually, poll).Should(Succeed())
				g.Expect(absent(ns, "acme-database", newACKObject(gvkDBCluster))).To(BeTrue())
				g.Eventually(func() bool {
					_, ok := s.AWS().Get(key)
					return ok
				}, eventually, poll).Should(BeFalse(), "the replaced cluster is deleted (AWS takes restoreACKDelay)")
				var final string
				for _, d := range s.AWS().Deletions() {
					if d.Key.Kind == "DBCluster" && d.Key.ID == awsID {
						final = d.FinalSnapshot
					}
				}
				g.Expect(final).To(Equal(awsID+"-final-"+shortHash(string(sf.UID))), "never deleted without a final snapshot")
			}
		})
	}
}

// During an Aurora database switch (a restore) the migrations' Secret keeps the master
// user's URL, which the login phase writes: the application role may not run
// migrations (its privileges on goose_db_version are revoked,
// shop/platform/database/roles.go privilegeStatements), and a Job started while the
// connection phase had written the role's URL there failed with SQLSTATE 42501. An
// external database's switch writes its URL there (it serves both).
func TestSwitchKeepsTheMasterURLForMigrations(t *testing.T) {
	ns := newNamespace(t)
	ctx := context.Background()
	g := NewWithT(t)
	r := &StorefrontReconciler{Client: k8sClient, APIReader: k8sClient, Scheme: testScheme, Options: ackOptions}
	const appURL = "postgres://app_a:secret@new.example:5432/shop?sslmode=require"
	for name, tc := range map[string]struct {
		aurora bool
		want   bool
	}{"aurora": {aurora: true}, "external": {want: true}} {
		sf := newStorefront(ns, withAurora())
		sf.Name = name
		if !tc.aurora {
			sf.Spec.Database = shopv1alpha1.DatabaseSpec{External: &shopv1alpha1.ExternalStore{URLSecretRef: shopv1alpha1.SecretKeyRef{Name: "db", Key: "url"}}}
		}
		createStorefront(t, sf)
		sf = get(g, ns, name, &shopv1alpha1.Storefront{})
		s := &scope{sf: sf, database: &storeEndpoint{Host: "new.example", Port: 5432, URL: appURL}}
		s.dbSwitch.pending = true
		_, err := r.connectionDatabase(ctx, s)
		g.Expect(err).NotTo(HaveOccurred())
		written := !absent(ns, name+"-migrate-connection", &corev1.Secret{})
		g.Expect(written).To(Equal(tc.want), name)
	}
}

// The migration of the served image fails on the restored cluster: the restore fails,
// the shop stays on the cluster it had (the connection Secret never named the restored
// one, so no pod started on a database without the schema), and the restored cluster
// is deleted. Before, the switch forgot the migration state, so the next reconcile no
// longer saw a switch: the connection Secret moved to the restored cluster at once and
// the restore stayed RestoreMigrating for ever.
func TestFailedMigrationFailsTheRestore(t *testing.T) {
	ns := newNamespace(t)
	standIns := startStandIns(t, ns, fake.Options{ACKDelay: restoreACKDelay})
	startOperator(t, ns, ackOptions)
	g := NewWithT(t)
	sf, snapshot := readyShopWithSnapshot(t, ns)
	awsID := awsIdentifier(ns, "acme")
	oldHost := databaseHost(g, ns)
	oldDatabase := sf.Status.Migration.Database

	standIns.SetJobOutcome(imageV2, fake.JobFails)
	restoreTo(t, ns, snapshot)
	g.Eventually(func(g Gomega) {
		g.Expect(databaseHost(g, ns)).To(Equal(oldHost), "the pods' database until the migration succeeded")
		sf = getStorefront(g, ns)
		c := condition(sf, shopv1alpha1.ConditionDatabaseRestored)
		g.Expect(c.Reason).To(Equal(shopv1alpha1.ReasonRestoreFailed))
		g.Expect(c.Message).To(HavePrefix("The migrations of " + imageV2 + " failed on restored DB cluster " + awsID + "-r1: "))
		g.Expect(c.Message).To(HaveSuffix("The shop stays on DB cluster " + awsID + "; DB cluster " + awsID + "-r1 is deleted. Set spec.database.aurora.restoreFrom to another snapshot to retry"))
		g.Expect(sf.Status.Restore.CompletionTime).NotTo(BeNil(), "the new cluster object is gone")
	}, eventually, poll).Should(Succeed())
	g.Expect(absent(ns, awsID+"-r1", newACKObject(gvkDBCluster))).To(BeTrue())
	g.Eventually(func(g Gomega) {
		sf = getStorefront(g, ns)
		g.Expect(sf.Status.Database.ClusterIdentifier).To(Equal(awsID))
		g.Expect(sf.Status.Migration.Database).To(Equal(oldDatabase))
		g.Expect(sf.Status.MigratedImage).To(Equal(imageV2))
		g.Expect(sf.Status.Phase).To(Equal(shopv1alpha1.PhaseReady))
	}, eventually, poll).Should(Succeed())
	g.Expect(databaseHost(g, ns)).To(Equal(oldHost))
}

// A new restoreFrom waits until the previous restore cleaned up after itself.
func TestRestoreInProgress(t *testing.T) {
	done := metav1.Now()
	for _, tc := range []struct {
		name string
		rs   *shopv1alpha1.RestoreStatus
		want bool
	}{
		{"none", nil, false},
		{"restoring", &shopv1alpha1.RestoreStatus{State: shopv1alpha1.ReasonRestoring}, true},
		{"setting the password", &shopv1alpha1.RestoreStatus{State: shopv1alpha1.ReasonRestoreSettingPassword}, true},
		{"migrating", &shopv1alpha1.RestoreStatus{State: shopv1alpha1.ReasonRestoreMigrating}, true},
		{"restored, the replaced cluster not yet disposed of", &shopv1alpha1.RestoreStatus{State: shopv1alpha1.ReasonRestored, ReplacedCluster: "a"}, true},
		{"restored, the replaced cluster deleting", &shopv1alpha1.RestoreStatus{State: shopv1alpha1.ReasonRestored, ReplacedCluster: "a", ReplacedClusterState: shopv1alpha1.ReplacedClusterDeleting}, true},
		{"restored, the replaced cluster deleted", &shopv1alpha1.RestoreStatus{State: shopv1alpha1.ReasonRestored, ReplacedCluster: "a", ReplacedClusterState: shopv1alpha1.ReplacedClusterDeleted}, false},
		{"restored, the replaced cluster retained", &shopv1alpha1.RestoreStatus{State: shopv1alpha1.ReasonRestored, ReplacedCluster: "a", ReplacedClusterState: shopv1alpha1.ReplacedClusterRetained}, false},
		{"adopted after a Retain deletion (replaced nothing)", &shopv1alpha1.RestoreStatus{State: shopv1alpha1.ReasonRestored}, false},
		{"failed, the new cluster being deleted", &shopv1alpha1.RestoreStatus{State: shopv1alpha1.ReasonRestoreFailed}, true},
		{"failed, the new cluster gone", &shopv1alpha1.RestoreStatus{State: shopv1alpha1.ReasonRestoreFailed, CompletionTime: &done}, false},
	} {
		if got := tc.rs.InProgress(); got != tc.want {
			t.Errorf("%s: InProgress %v, want %v", tc.name, got, tc.want)
		}
	}
}

// awsHas reports whether the stand-in's AWS has the resource of kind and id.
func awsHas(s *fake.StandIns, kind, id string) bool {
	_, ok := s.AWS().Get(fake.AWSKey{Account: fake.DefaultAWSAccount.ID, Region: "eu-central-1", Kind: kind, ID: id})
	return ok
}

// A Storefront deleted while a restore runs: the restore is abandoned first (its new
// cluster deleted without a final snapshot: the snapshot holds its data), then the
// policy takes the cluster the pods used (Snapshot: a final snapshot). Before, the
// deletion took only the cluster status.restore called current and waited for ever on
// the subnet group, which RDS refuses to delete while the other cluster is in it.
func TestDeletionDuringRestore(t *testing.T) {
	ns := newNamespace(t)
	standIns := startStandIns(t, ns, fake.Options{ACKDelay: 2 * time.Second})
	startOperator(t, ns, ackOptions)
	g := NewWithT(t)
	sf, snapshot := readyShopWithSnapshot(t, ns)
	awsID := awsIdentifier(ns, "acme")
	restoreTo(t, ns, snapshot)
	g.Eventually(func(g Gomega) {
		g.Expect(condition(getStorefront(g, ns), shopv1alpha1.ConditionDatabaseRestored).Reason).To(Equal(shopv1alpha1.ReasonRestoring))
		g.Expect(awsHas(standIns, "DBCluster", awsID+"-r1")).To(BeTrue())
	}, eventually, poll).Should(Succeed())

	deleteAndWait(t, ns)
	finals := map[string]string{}
	for _, d := range standIns.AWS().Deletions() {
		if d.Key.Kind == "DBCluster" {
			finals[d.Key.ID] = d.FinalSnapshot
		}
	}
	g.Expect(finals).To(Equal(map[string]string{awsID: finalSnapshotIdentifier(sf), awsID + "-r1": ""}),
		"the shop's cluster with its final snapshot, the abandoned restore's without")
	g.Eventually(func() bool { return awsHas(standIns, "DBSubnetGroup", awsID) }).WithTimeout(eventually).WithPolling(poll).Should(BeFalse())
}

// Retain, a restore (the replaced cluster released and kept), then the policy turned to
// Delete and the Storefront deleted: the restored cluster goes, the kept one stays in
// AWS and so does the subnet group it is in. Before, the deletion waited for ever on the
// subnet group (RDS: InvalidDBSubnetGroupStateFault, retried by ACK).
func TestDeletionKeepsTheSubnetGroupOfARetainedCluster(t *testing.T) {
	ns := newNamespace(t)
	standIns := startStandIns(t, ns, fake.Options{ACKDelay: restoreACKDelay})
	startOperator(t, ns, ackOptions)
	g := NewWithT(t)
	restoredShop(t, ns, func(a *shopv1alpha1.AuroraDatabase) { a.DeletionPolicy = shopv1alpha1.DeletionPolicyRetain })
	awsID := awsIdentifier(ns, "acme")
	updateStorefront(t, ns, func(sf *shopv1alpha1.Storefront) {
		sf.Spec.Database.Aurora.DeletionPolicy = shopv1alpha1.DeletionPolicyDelete
	})
	g.Eventually(func(g Gomega) {
		sf := getStorefront(g, ns)
		g.Expect(sf.Status.ObservedGeneration).To(Equal(sf.Generation))
	}, eventually, poll).Should(Succeed())

	deleteAndWait(t, ns)
	g.Expect(awsHas(standIns, "DBCluster", awsID)).To(BeTrue(), "the retained cluster stays")
	g.Expect(awsHas(standIns, "DBSubnetGroup", awsID)).To(BeTrue(), "and the subnet group it is in")
	g.Eventually(func() bool { return awsHas(standIns, "DBCluster", awsID+"-r1") }).WithTimeout(eventually).WithPolling(poll).Should(BeFalse())
	g.Expect(ackAbsent(ns, gvkDBSubnetGroup, "acme-database")).To(BeTrue())
	// The kept cluster opens only with the password of its time, which the restored
	// cluster shared: Delete takes the restored cluster's passwords, not that one.
	// Before, the finalizer owned and deleted every version.
	g.Expect(absent(ns, "acme-db-password-v1", &corev1.Secret{})).To(BeFalse(), "the kept cluster's password")
}

// Retain, a restore (the replaced cluster kept, with the master password of its time,
// which the restored cluster shares), then a master password rotation: the restored
// cluster moves to v2, and v1 stays, since the kept cluster opens only with it. Before,
// the rotation deleted every version below the one in use, and the kept cluster could
// no longer be opened.
func TestRotationKeepsTheRetainedClustersPassword(t *testing.T) {
	ns := newNamespace(t)
	startStandIns(t, ns, fake.Options{ACKDelay: 2 * time.Second}) // RDS takes its time to reset a password: ACK syncs after the new Secret
	startOperator(t, ns, ackOptions)
	g := NewWithT(t)
	restoredShop(t, ns, func(a *shopv1alpha1.AuroraDatabase) { a.DeletionPolicy = shopv1alpha1.DeletionPolicyRetain })
	awsID := awsIdentifier(ns, "acme")
	ref := func(g Gomega, name string) string {
		v, _, _ := unstructured.NestedString(ackObject(g, ns, gvkDBCluster, name).Object, "spec", "masterUserPassword", "name")
		return v
	}
	g.Expect(ref(g, "acme-database")).To(Equal("acme-db-password-v1"))

	updateStorefront(t, ns, func(sf *shopv1alpha1.Storefront) {
		sf.Annotations = map[string]string{shopv1alpha1.AnnotationRotateMasterPassword: "2026-12"}
	})
	g.Eventually(func(g Gomega) {
		sf := getStorefront(g, ns)
		g.Expect(sf.Status.Credentials.MasterPassword).To(Equal(&shopv1alpha1.MasterPasswordStatus{HandledRotation: "2026-12"}))
		g.Expect(ackObject(g, ns, gvkDBCluster, awsID+"-r1").GetAnnotations()).To(HaveKeyWithValue(rdsAnnotationLastAppliedSecret, ns+"/acme-db-password-v2.password"))
		g.Expect(sf.Status.Phase).To(Equal(shopv1alpha1.PhaseReady))
	}, eventually, poll).Should(Succeed())
	g.Consistently(func(g Gomega) {
		g.Expect(absent(ns, "acme-db-password-v1", &corev1.Secret{})).To(BeFalse(), "the kept cluster's password")
	}, quiet, poll).Should(Succeed())
	g.Expect(ref(g, "acme-database")).To(Equal("acme-db-password-v1"))
}

// Hibernation after a restore pauses the restored cluster: with no engineVersion in the
// Storefront's spec, the version is the restored cluster's, which the operator applies
// from its snapshot (ACK stores none of AWS's values for a restored cluster; without a
// version the cluster differs from DescribeDBClusters at every sync and is never synced:
// the restore stayed Restoring). Before, it was read from <name>-database, gone after a
// restore under Snapshot: "engine version unknown cannot pause", and the restored
// cluster kept its minimum capacity.
func TestHibernateAfterRestorePausesTheRestoredCluster(t *testing.T) {
	ns := newNamespace(t)
	startStandIns(t, ns, fake.Options{ACKDelay: restoreACKDelay})
	op := startOperator(t, ns, ackOptions)
	g := NewWithT(t)
	restoredShop(t, ns, func(a *shopv1alpha1.AuroraDatabase) { a.EngineVersion = "" })
	waitForPhase(t, ns, shopv1alpha1.PhaseReady)
	reconcileAtRest(g, op, ns)
	g.Consistently(op.counter.Mutations).WithTimeout(quiet).WithPolling(poll).Should(BeZero(),
		"mutating requests at rest after the restore: %s", op.counter.MutationSummary())
	awsID := awsIdentifier(ns, "acme")
	g.Expect(ackAbsent(ns, gvkDBCluster, "acme-database")).To(BeTrue())
	restored := ackObject(g, ns, gvkDBCluster, awsID+"-r1")
	g.Expect(restored.Object["spec"]).To(HaveKeyWithValue("engineVersion", fake.DefaultAuroraPostgresVersion), "the snapshot's version")
	c, ok := ackConditionOf(restored, ackConditionSynced)
	g.Expect(ok && c.Status == "True").To(BeTrue(), "the restored cluster synced")

	updateStorefront(t, ns, func(sf *shopv1alpha1.Storefront) { sf.Spec.Hibernate = true })
	sf := waitForPhase(t, ns, shopv1alpha1.PhaseHibernated)
	g.Expect(sf.Status.Hibernation.DatabasePaused).To(BeTrue())
	g.Eventually(func(g Gomega) {
		scaling, _, _ := unstructured.NestedMap(ackObject(g, ns, gvkDBCluster, awsID+"-r1").Object, "spec", "serverlessV2ScalingConfiguration")
		g.Expect(scaling).To(HaveKeyWithValue("minCapacity", BeNumerically("==", 0)))
	}, eventually, poll).Should(Succeed())
}
