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
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	shopv1alpha1 "github.com/storefront-operator/storefront/api/v1alpha1"
	"github.com/storefront-operator/storefront/test/fake"
)

// rdsSnapshotIdentifier is the RDS rule for DBClusterSnapshotIdentifier (RDS API
// reference, CreateDBClusterSnapshot): 1 to 255 letters, digits or hyphens, a letter
// first, no two consecutive hyphens, no trailing hyphen.
var rdsSnapshotIdentifier = regexp.MustCompile(`^[a-z]([a-z0-9]|-[a-z0-9])*$`)

func TestSnapshotIdentifier(t *testing.T) {
	sf := newStorefront("a-very-long-namespace-name-for-the-shops-of-everyone")
	sf.Name = "acme--shop-with-a-name-that-goes-on-and-on-and-on"
	seen := map[string]bool{}
	for i, image := range []string{imageV1, imageV2, imageV1, imageV2} {
		id := snapshotIdentifier(sf, image, int64(i+1))
		if len(id) > 255 || !rdsSnapshotIdentifier.MatchString(id) {
			t.Errorf("identifier %q is no valid RDS snapshot identifier", id)
		}
		if seen[id] {
			t.Errorf("identifier %q used twice: A → B → A → B collides", id)
		}
		seen[id] = true
	}
	sf = newStorefront("shops")
	sf.UID = "8d3ae5a0-5b8e-4c4e-9f0a-2f4f7c1d9e11"
	if got, want := snapshotIdentifier(sf, imageV2, 3), awsIdentifier("shops", "acme")+"-pre-"+shortHash(imageV2)+"-"+shortHash(string(sf.UID))+"-3"; got != want {
		t.Errorf("identifier %q, want %q", got, want)
	}
	if got, want := onDemandSnapshotIdentifier(sf, 3), awsIdentifier("shops", "acme")+"-manual-"+shortHash(string(sf.UID))+"-3"; got != want {
		t.Errorf("identifier %q, want %q", got, want)
	}
	again := sf.DeepCopy()
	again.UID = "0b6f3c1e-7a2d-4f5b-8c9e-1d2a3b4c5d6e" // created again under the same name
	if snapshotIdentifier(again, imageV2, 3) == snapshotIdentifier(sf, imageV2, 3) || onDemandSnapshotIdentifier(again, 3) == onDemandSnapshotIdentifier(sf, 3) {
		t.Errorf("a Storefront created again names its snapshots as its predecessor did")
	}
}

func snapshotObject(g Gomega, ns, name string) *unstructured.Unstructured {
	return ackObject(g, ns, gvkDBClusterSnapshot, name)
}

// An upgrade on Aurora: a snapshot first, the Job only once RDS reports it available,
// a SnapshotTaken Event, the snapshot object retained (no owner reference, ACK's retain
// policy) under the Snapshot policy, tagged; the first migration takes none.
// Retention deletes the oldest snapshot, except the one spec.database.aurora.restoreFrom
// names: a restore from it may still be waiting to start.
func TestRetentionKeepsTheRestoreSource(t *testing.T) {
	sf := &shopv1alpha1.Storefront{}
	for _, id := range []string{"s1", "s2", "s3", "s4", "s5", "s6"} {
		sf.Status.Snapshots = append(sf.Status.Snapshots, shopv1alpha1.SnapshotStatus{Identifier: id})
	}
	if got := oldestExpendableSnapshot(sf); got != 0 {
		t.Errorf("no restore: the oldest expendable snapshot is %d, want 0", got)
	}
	sf.Spec.Database.Aurora = &shopv1alpha1.AuroraDatabase{RestoreFrom: &shopv1alpha1.RestoreSource{SnapshotIdentifier: "s1"}}
	if got := oldestExpendableSnapshot(sf); got != 1 {
		t.Errorf("restoring s1: the oldest expendable snapshot is %d, want 1", got)
	}
	sf.Status.Snapshots = sf.Status.Snapshots[:1]
	if got := oldestExpendableSnapshot(sf); got != -1 {
		t.Errorf("only the restore source: %d, want -1", got)
	}
}

func TestSnapshotBeforeMigration(t *testing.T) {
	ns := newNamespace(t)
	s := startStandIns(t, ns, fake.Options{})
	opts := ackOptions
	opts.ClusterName = "prod-eu"
	startOperator(t, ns, opts)
	g := NewWithT(t)
	sf := readyShop(t, ns, withAurora())
	g.Expect(sf.Status.Snapshots).To(BeEmpty(), "the first migration runs on an empty database")
	for _, kind := range []schemaKind{{gvkDBCluster, "acme-database"}, {gvkDBSubnetGroup, "acme-database"}, {gvkDBInstance, "acme-database"}} {
		g.Expect(tagsOf(ackObject(g, ns, kind.gvk, kind.name))).To(Equal(map[string]string{
			"storefront.dev/namespace": ns, "storefront.dev/name": "acme", "storefront.dev/cluster": "prod-eu"}), kind.gvk.Kind)
	}

	id := snapshotIdentifier(sf, imageV2, 1)
	// RDS keeps the snapshot creating until the test lets it go.
	s.AWS().SetStatus("DBClusterSnapshot", id, fake.SnapshotStatusCreating)
	updateStorefront(t, ns, func(sf *shopv1alpha1.Storefront) { sf.Spec.Image = imageV2 })
	g.Eventually(func(g Gomega) {
		sf := getStorefront(g, ns)
		c := condition(sf, shopv1alpha1.ConditionSchemaMigrated)
		g.Expect(c.Reason).To(Equal(shopv1alpha1.ReasonTakingSnapshot))
		g.Expect(c.Message).To(ContainSubstring(id))
		g.Expect(sf.Status.Snapshots).To(HaveLen(1))
	}, eventually, poll).Should(Succeed())
	g.Consistently(func(g Gomega) {
		for _, j := range migrationJobs(g, ns) {
			g.Expect(j.Annotations[annotationImage]).NotTo(Equal(imageV2), "the Job waits for the snapshot")
		}
	}, quiet, poll).Should(Succeed())
	s.AWS().SetStatus("DBClusterSnapshot", id, "")
	sf = waitForPhase(t, ns, shopv1alpha1.PhaseReady)
	g.Expect(sf.Status.MigratedImage).To(Equal(imageV2))
	g.Expect(sf.Status.SnapshotSequence).To(Equal(int64(1)))
	g.Expect(sf.Status.Snapshots).To(HaveLen(1))
	e := sf.Status.Snapshots[0]
	g.Expect([]string{e.Identifier, e.Image, e.ForImage, e.State}).To(Equal([]string{id, imageV1, imageV2, "available"}))
	g.Expect(e.MigrationStarted).To(BeTrue())
	g.Expect(e.Time.IsZero()).To(BeFalse())

	obj := snapshotObject(g, ns, id)
	g.Expect(obj.GetOwnerReferences()).To(BeEmpty(), "under Snapshot, deleting the Storefront never deletes the snapshot")
	g.Expect(obj.GetAnnotations()).To(HaveKeyWithValue("services.k8s.aws/deletion-policy", "retain"))
	g.Expect(obj.GetLabels()).To(HaveKeyWithValue(labelInstance, "acme"))
	g.Expect(obj.GetLabels()).To(HaveKeyWithValue(labelComponent, componentSnapshot))
	g.Expect(specField(obj, "dbClusterIdentifier")).To(Equal(awsIdentifier(ns, "acme")))
	g.Expect(tagsOf(obj)).To(Equal(map[string]string{"storefront.dev/namespace": ns, "storefront.dev/name": "acme", "storefront.dev/cluster": "prod-eu"}))
	res, ok := s.AWS().Get(fake.AWSKey{Account: fake.DefaultAWSAccount.ID, Region: "eu-central-1", Kind: "DBClusterSnapshot", ID: id})
	g.Expect(ok).To(BeTrue(), "the snapshot exists in the stand-in's AWS")
	g.Expect(res.Status).To(Equal("available"))
	g.Expect(res.Tags).To(HaveKeyWithValue("storefront.dev/name", "acme"))
	g.Expect(storefrontEvents(g, ns)).To(ContainElement(ContainSubstring(shopv1alpha1.ReasonTakingSnapshot)))
	g.Expect(strings.Join(storefrontEvents(g, ns), "\n")).To(ContainSubstring(eventReasonSnapshotTaken))
}

type schemaKind struct {
	gvk  schema.GroupVersionKind
	name string
}

// A failed snapshot stops the migration with its cause; a new retry-migration value
// takes another (the sequence moves on), which lets the migration run.
func TestFailedSnapshotBlocksMigration(t *testing.T) {
	ns := newNamespace(t)
	s := startStandIns(t, ns, fake.Options{})
	startOperator(t, ns, ackOptions)
	g := NewWithT(t)
	sf := readyShop(t, ns, withAurora())
	id := snapshotIdentifier(sf, imageV2, 1)
	s.AWS().SetStatus("DBClusterSnapshot", id, fake.SnapshotStatusFailed)
	updateStorefront(t, ns, func(sf *shopv1alpha1.Storefront) { sf.Spec.Image = imageV2 })
	g.Eventually(func(g Gomega) {
		sf := getStorefront(g, ns)
		g.Expect(sf.Status.Phase).To(Equal(shopv1alpha1.PhaseDegraded))
		c := condition(sf, shopv1alpha1.ConditionSchemaMigrated)
		g.Expect(c.Reason).To(Equal(shopv1alpha1.ReasonSnapshotFailed))
		g.Expect(c.Message).To(Equal("The DB cluster snapshot " + id + " before the migration of " + imageV2 +
			" failed: RDS reports it failed; the migration does not start (a new shop.storefront.dev/retry-migration value takes another snapshot)"))
	}, eventually, poll).Should(Succeed())
	g.Consistently(func(g Gomega) {
		for _, j := range migrationJobs(g, ns) {
			g.Expect(j.Annotations[annotationImage]).NotTo(Equal(imageV2), "no migration without its snapshot")
		}
		g.Expect(getStorefront(g, ns).Status.MigratedImage).To(Equal(imageV1))
	}, quiet, poll).Should(Succeed())

	updateStorefront(t, ns, func(sf *shopv1alpha1.Storefront) {
		sf.Annotations = map[string]string{shopv1alpha1.AnnotationRetryMigration: "1"}
	})
	sf = waitForPhase(t, ns, shopv1alpha1.PhaseReady)
	g.Expect(sf.Status.MigratedImage).To(Equal(imageV2))
	g.Expect(sf.Status.SnapshotSequence).To(Equal(int64(2)))
	g.Expect(sf.Status.Snapshots).To(HaveLen(2))
	g.Expect(sf.Status.Snapshots[0].State).To(Equal("failed"))
	g.Expect(sf.Status.Snapshots[1].Identifier).To(Equal(snapshotIdentifier(sf, imageV2, 2)))
	g.Expect(sf.Status.Snapshots[1].State).To(Equal("available"))
}

// Six upgrades: every upgrade its own snapshot (a new migration Job; going back to an
// image whose Job is still there re-runs nothing), the last five kept, the older
// deleted in AWS too although retained (the policy is turned to delete first); under
// Delete the snapshots are controlled by the Storefront; spec.migration.snapshot: Never
// takes none.
func TestSnapshotSequenceAndRetention(t *testing.T) {
	ns := newNamespace(t)
	s := startStandIns(t, ns, fake.Options{})
	startOperator(t, ns, ackOptions)
	g := NewWithT(t)
	readyShop(t, ns, withAurora())
	var images []string
	for v := 2; v <= 9; v++ {
		images = append(images, fmt.Sprintf("registry.example.com/storefront/shop:%d.0.0", v))
	}
	last := images[6:]
	images = images[:6]
	for _, image := range images {
		updateStorefront(t, ns, func(sf *shopv1alpha1.Storefront) { sf.Spec.Image = image })
		g.Eventually(func(g Gomega) {
			sf := getStorefront(g, ns)
			g.Expect(sf.Status.MigratedImage).To(Equal(image))
			g.Expect(sf.Status.Phase).To(Equal(shopv1alpha1.PhaseReady))
		}, eventually, poll).Should(Succeed())
	}
	sf := getStorefront(g, ns)
	g.Expect(sf.Status.SnapshotSequence).To(Equal(int64(6)))
	var ids []string
	for _, e := range sf.Status.Snapshots {
		ids = append(ids, e.Identifier)
	}
	var want []string
	for i, image := range images[1:] {
		want = append(want, snapshotIdentifier(sf, image, int64(i+2)))
	}
	g.Expect(ids).To(Equal(want))
	first := snapshotIdentifier(sf, images[0], 1)
	g.Eventually(func() bool {
		_, ok := s.AWS().Get(fake.AWSKey{Account: fake.DefaultAWSAccount.ID, Region: "eu-central-1", Kind: "DBClusterSnapshot", ID: first})
		return ok
	}, eventually, poll).Should(BeFalse(), "the sixth snapshot deletes the first, in AWS too")

	updateStorefront(t, ns, func(sf *shopv1alpha1.Storefront) {
		sf.Spec.Migration.Snapshot = shopv1alpha1.MigrationSnapshotNever
		sf.Spec.Database.Aurora.DeletionPolicy = shopv1alpha1.DeletionPolicyDelete
		sf.Spec.Image = last[0]
	})
	g.Eventually(func(g Gomega) {
		sf := getStorefront(g, ns)
		g.Expect(sf.Status.MigratedImage).To(Equal(last[0]))
	}, eventually, poll).Should(Succeed())
	g.Expect(getStorefront(g, ns).Status.SnapshotSequence).To(Equal(int64(6)), "Never takes no snapshot")

	updateStorefront(t, ns, func(sf *shopv1alpha1.Storefront) {
		sf.Spec.Migration.Snapshot = shopv1alpha1.MigrationSnapshotAlways
		sf.Spec.Image = last[1]
	})
	g.Eventually(func(g Gomega) {
		g.Expect(getStorefront(g, ns).Status.MigratedImage).To(Equal(last[1]))
	}, eventually, poll).Should(Succeed())
	obj := snapshotObject(g, ns, snapshotIdentifier(sf, last[1], 7))
	g.Expect(obj.GetAnnotations()).To(HaveKeyWithValue("services.k8s.aws/deletion-policy", "delete"))
	g.Expect(obj.GetOwnerReferences()).To(HaveLen(1), "under Delete the snapshot goes with the Storefront")
}

// External database: the migration runs at once and its condition says that no
// snapshot is taken.
func TestNoSnapshotOfExternalDatabase(t *testing.T) {
	ns := newNamespace(t)
	s := startStandIns(t, ns, fake.Options{})
	startOperator(t, ns, Options{})
	g := NewWithT(t)
	readyShop(t, ns)
	s.SetJobOutcome(imageV2, fake.JobRuns)
	updateStorefront(t, ns, func(sf *shopv1alpha1.Storefront) { sf.Spec.Image = imageV2 })
	g.Eventually(func(g Gomega) {
		c := condition(getStorefront(g, ns), shopv1alpha1.ConditionSchemaMigrated)
		g.Expect(c.Message).To(HaveSuffix("is running; no snapshot is taken of an external database"))
	}, eventually, poll).Should(Succeed())
	g.Expect(getStorefront(g, ns).Status.Snapshots).To(BeEmpty())
}

// shop.storefront.dev/snapshot: each new value one on-demand snapshot of the served
// image, recorded like the others with a SnapshotTaken Event; the same value again
// takes none.
func TestOnDemandSnapshot(t *testing.T) {
	ns := newNamespace(t)
	s := startStandIns(t, ns, fake.Options{})
	startOperator(t, ns, ackOptions)
	g := NewWithT(t)
	sf := readyShop(t, ns, withAurora())
	updateStorefront(t, ns, func(sf *shopv1alpha1.Storefront) {
		sf.Annotations = map[string]string{shopv1alpha1.AnnotationSnapshot: "before-black-friday"}
	})
	id := onDemandSnapshotIdentifier(sf, 1)
	g.Eventually(func(g Gomega) {
		sf := getStorefront(g, ns)
		g.Expect(sf.Status.SnapshotRequest).To(Equal("before-black-friday"))
		g.Expect(sf.Status.Snapshots).To(HaveLen(1))
		e := sf.Status.Snapshots[0]
		g.Expect([]string{e.Identifier, e.Image, e.ForImage, e.State}).To(Equal([]string{id, imageV1, "", "available"}))
	}, eventually, poll).Should(Succeed())
	res, ok := s.AWS().Get(fake.AWSKey{Account: fake.DefaultAWSAccount.ID, Region: "eu-central-1", Kind: "DBClusterSnapshot", ID: id})
	g.Expect(ok).To(BeTrue())
	g.Expect(res.Status).To(Equal("available"))
	g.Eventually(func(g Gomega) {
		g.Expect(strings.Join(storefrontEvents(g, ns), "\n")).To(ContainSubstring("SnapshotTaken: DB cluster snapshot " + id + " of " + imageV1 + " is available"))
	}, eventually, poll).Should(Succeed())
	updateStorefront(t, ns, func(sf *shopv1alpha1.Storefront) { sf.Labels = map[string]string{"poke": "1"} })
	g.Consistently(func(g Gomega) {
		g.Expect(getStorefront(g, ns).Status.SnapshotSequence).To(Equal(int64(1)), "the same value takes no other snapshot")
	}, quiet, poll).Should(Succeed())
}

// snapshotTakenEvents counts the SnapshotTaken Events about the Storefront in ns: an
// Event emitted again is the same Event object with series.count raised (client-go
// tools/events recordToSink, isomorphic events), so a series counts its count. It also
// returns the earliest time one was emitted.
func snapshotTakenEvents(g Gomega, ns string) (int32, time.Time) {
	list := &eventsv1.EventList{}
	g.Expect(k8sClient.List(context.Background(), list, client.InNamespace(ns))).To(Succeed())
	var n int32
	var first time.Time
	for _, e := range list.Items {
		if e.Regarding.Kind != "Storefront" || e.Reason != eventReasonSnapshotTaken {
			continue
		}
		n++
		if e.Series != nil {
			n += e.Series.Count - 1
		}
		if first.IsZero() || e.EventTime.Time.Before(first) {
			first = e.EventTime.Time
		}
	}
	return n, first
}

// startOperatorWithClient starts an operator for ns (as startOperator does) whose
// client is wrap(the default client).
func startOperatorWithClient(t *testing.T, ns string, opts Options, wrap func(client.WithWatch) client.WithWatch) {
	t.Helper()
	opts.WatchNamespaces = []string{ns}
	opts.MaxConcurrentReconciles = 2
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 testScheme,
		Cache:                  CacheOptions(opts.WatchNamespaces),
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		NewClient: func(config *rest.Config, options client.Options) (client.Client, error) {
			base, err := client.NewWithWatch(config, options)
			if err != nil {
				return nil, err
			}
			return wrap(base), nil
		},
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		t.Fatalf("creating manager: %v", err)
	}
	if err := Setup(mgr, opts); err != nil {
		t.Fatalf("setting up the operator: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = mgr.Start(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	syncCtx, syncCancel := context.WithTimeout(ctx, eventually)
	defer syncCancel()
	if !mgr.GetCache().WaitForCacheSync(syncCtx) {
		t.Fatal("the operator's cache did not sync")
	}
}

// Item 1 of the snapshot leftovers: the status writes that record the snapshot before
// the migration available are refused twice with a real Conflict (someone edits the
// Storefront just before each: the optimistic lock refuses the write, as the API
// server does for a stale resourceVersion). Exactly one SnapshotTaken Event, emitted
// only after the write that recorded the snapshot succeeded.
func TestSnapshotTakenOnceDespiteConflicts(t *testing.T) {
	ns := newNamespace(t)
	startStandIns(t, ns, fake.Options{})
	var (
		mu        sync.Mutex
		conflicts int
		written   time.Time // when the first write recording it available was sent
	)
	recordsAvailable := func(obj client.Object) bool {
		sf, ok := obj.(*shopv1alpha1.Storefront)
		if !ok {
			return false
		}
		for _, e := range sf.Status.Snapshots {
			if e.ForImage == imageV2 && e.State == "available" {
				return true
			}
		}
		return false
	}
	startOperatorWithClient(t, ns, ackOptions, func(base client.WithWatch) client.WithWatch {
		return interceptor.NewClient(base, interceptor.Funcs{
			SubResourcePatch: func(ctx context.Context, cl client.Client, sub string, obj client.Object, patch client.Patch, opts ...client.SubResourcePatchOption) error {
				mu.Lock()
				defer mu.Unlock()
				if sub != "status" || !recordsAvailable(obj) || !written.IsZero() {
					return cl.SubResource(sub).Patch(ctx, obj, patch, opts...)
				}
				if conflicts < 2 {
					// Someone edits the Storefront between the operator's read and its write.
					latest := &shopv1alpha1.Storefront{}
					if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(obj), latest); err != nil {
						return err
					}
					metav1.SetMetaDataAnnotation(&latest.ObjectMeta, "example.com/edited", strconv.Itoa(conflicts))
					if err := k8sClient.Update(ctx, latest); err != nil {
						return err
					}
					err := cl.SubResource(sub).Patch(ctx, obj, patch, opts...)
					if apierrors.IsConflict(err) {
						conflicts++
					}
					return err
				}
				written = time.Now()
				return cl.SubResource(sub).Patch(ctx, obj, patch, opts...)
			},
		})
	})
	g := NewWithT(t)
	readyShop(t, ns, withAurora())
	updateStorefront(t, ns, func(sf *shopv1alpha1.Storefront) { sf.Spec.Image = imageV2 })
	sf := waitForPhase(t, ns, shopv1alpha1.PhaseReady)
	g.Expect(sf.Status.MigratedImage).To(Equal(imageV2))
	g.Expect(sf.Status.SnapshotSequence).To(Equal(int64(1)), "one snapshot, however often its write was refused")
	g.Expect(sf.Status.Snapshots).To(HaveLen(1))
	g.Expect(sf.Status.Snapshots[0].State).To(Equal("available"))
	g.Expect(sf.Status.Snapshots[0].MigrationStarted).To(BeTrue())
	mu.Lock()
	g.Expect(conflicts).To(Equal(2), "the API server refused two writes")
	sent := written
	mu.Unlock()
	g.Eventually(func(g Gomega) {
		n, _ := snapshotTakenEvents(g, ns)
		g.Expect(n).To(Equal(int32(1)))
	}, eventually, poll).Should(Succeed())
	g.Consistently(func(g Gomega) {
		n, first := snapshotTakenEvents(g, ns)
		g.Expect(n).To(Equal(int32(1)))
		g.Expect(first.Before(sent.Truncate(time.Microsecond))).To(BeFalse(), "emitted only after the status recording it was written")
	}, quiet, poll).Should(Succeed())
	id := snapshotIdentifier(sf, imageV2, 1)
	g.Expect(strings.Join(storefrontEvents(g, ns), "\n")).To(ContainSubstring(
		"Normal SnapshotTaken: DB cluster snapshot " + id + " of " + imageV1 + " is available; migrating " + imageV2))
}

// Item 2: the snapshot object recorded as creating is deleted (by someone else): the
// entry says deleted, SchemaMigrated=False/SnapshotFailed names it, the migration does
// not start, and nothing is taken again until a new retry-migration value, which takes
// the next snapshot and lets the migration run.
func TestDeletedSnapshotStopsMigration(t *testing.T) {
	ns := newNamespace(t)
	s := startStandIns(t, ns, fake.Options{})
	startOperator(t, ns, ackOptions)
	g := NewWithT(t)
	sf := readyShop(t, ns, withAurora())
	id := snapshotIdentifier(sf, imageV2, 1)
	s.AWS().SetStatus("DBClusterSnapshot", id, fake.SnapshotStatusCreating)
	updateStorefront(t, ns, func(sf *shopv1alpha1.Storefront) { sf.Spec.Image = imageV2 })
	g.Eventually(func(g Gomega) {
		g.Expect(condition(getStorefront(g, ns), shopv1alpha1.ConditionSchemaMigrated).Reason).To(Equal(shopv1alpha1.ReasonTakingSnapshot))
	}, eventually, poll).Should(Succeed())

	g.Expect(k8sClient.Delete(context.Background(), snapshotObject(g, ns, id))).To(Succeed())
	want := "The DB cluster snapshot " + id + " before the migration of " + imageV2 +
		" was deleted before it became available (its DBClusterSnapshot object is gone); the migration does not start (a new shop.storefront.dev/retry-migration value takes another snapshot)"
	g.Eventually(func(g Gomega) {
		sf := getStorefront(g, ns)
		c := condition(sf, shopv1alpha1.ConditionSchemaMigrated)
		g.Expect([]string{string(c.Status), c.Reason, c.Message}).To(Equal([]string{"False", "SnapshotFailed", want}))
		g.Expect(sf.Status.Phase).To(Equal(shopv1alpha1.PhaseDegraded))
		g.Expect(sf.Status.Snapshots).To(HaveLen(1))
		g.Expect([]string{sf.Status.Snapshots[0].Identifier, sf.Status.Snapshots[0].State}).To(Equal([]string{id, "deleted"}))
	}, eventually, poll).Should(Succeed())
	g.Consistently(func(g Gomega) {
		sf := getStorefront(g, ns)
		g.Expect(sf.Status.SnapshotSequence).To(Equal(int64(1)), "not taken again on its own")
		g.Expect(sf.Status.MigratedImage).To(Equal(imageV1))
		for _, j := range migrationJobs(g, ns) {
			g.Expect(j.Annotations[annotationImage]).NotTo(Equal(imageV2), "no migration without its snapshot")
		}
	}, quiet, poll).Should(Succeed())
	g.Expect(strings.Join(storefrontEvents(g, ns), "\n")).To(ContainSubstring("Warning SnapshotFailed: SchemaMigrated=False: " + want))

	updateStorefront(t, ns, func(sf *shopv1alpha1.Storefront) {
		sf.Annotations = map[string]string{shopv1alpha1.AnnotationRetryMigration: "1"}
	})
	sf = waitForPhase(t, ns, shopv1alpha1.PhaseReady)
	g.Expect(sf.Status.MigratedImage).To(Equal(imageV2))
	g.Expect(sf.Status.SnapshotSequence).To(Equal(int64(2)))
	var got [][]string
	for _, e := range sf.Status.Snapshots {
		got = append(got, []string{e.Identifier, e.State})
	}
	g.Expect(got).To(Equal([][]string{{id, "deleted"}, {snapshotIdentifier(sf, imageV2, 2), "available"}}))
}

// Item 3: a DB cluster ACK adopted (kept by a Retain deletion, docs "Adoption") holds
// data, so the first migration of the Storefront created again is preceded by a
// snapshot, although no image was migrated by it yet; the first Storefront, on the
// cluster it created empty, took none.
func TestSnapshotBeforeFirstMigrationOfAdoptedDatabase(t *testing.T) {
	ns := newNamespace(t)
	s := startStandIns(t, ns, fake.Options{ACKDelay: 300 * time.Millisecond})
	startOperator(t, ns, ackOptions)
	g := NewWithT(t)
	createStorefront(t, newStorefront(ns, withRetain()))
	sf := waitForPhase(t, ns, shopv1alpha1.PhaseReady)
	g.Expect(sf.Status.Snapshots).To(BeEmpty(), "a created cluster is empty: no snapshot")
	deleteAndWait(t, ns)

	createStorefront(t, newStorefront(ns, withRetain()))
	sf = waitForPhase(t, ns, shopv1alpha1.PhaseReady)
	g.Expect(ackObject(g, ns, gvkDBCluster, "acme-database").GetAnnotations()).To(HaveKeyWithValue("services.k8s.aws/adopted", "true"))
	id := snapshotIdentifier(sf, imageV1, 1)
	g.Expect(sf.Status.MigratedImage).To(Equal(imageV1))
	g.Expect(sf.Status.SnapshotSequence).To(Equal(int64(1)))
	g.Expect(sf.Status.Snapshots).To(HaveLen(1))
	e := sf.Status.Snapshots[0]
	g.Expect([]string{e.Identifier, e.Image, e.ForImage, e.State}).To(Equal([]string{id, "", imageV1, "available"}))
	g.Expect(e.MigrationStarted).To(BeTrue())
	res, ok := s.AWS().Get(fake.AWSKey{Account: fake.DefaultAWSAccount.ID, Region: "eu-central-1", Kind: "DBClusterSnapshot", ID: id})
	g.Expect(ok).To(BeTrue(), "the snapshot exists in the stand-in's AWS")
	g.Expect(res.Spec["dbClusterIdentifier"]).To(Equal(awsIdentifier(ns, "acme")), "a snapshot of the adopted cluster")
	g.Eventually(func(g Gomega) {
		g.Expect(storefrontEvents(g, ns)).To(ContainElement("Normal SnapshotTaken: DB cluster snapshot " + id + " is available; migrating " + imageV1))
	}, eventually, poll).Should(Succeed())
}

// A Storefront created again under the same name starts its snapshot sequence again;
// its snapshots must not be its predecessor's, which the Snapshot policy kept (the
// objects too): the same name made the create answer AlreadyExists, taken for success,
// so the predecessor's old snapshot passed for the new one (available at once, the
// migration started "after" it), and retention later deleted it.
func TestRecreatedStorefrontTakesItsOwnSnapshots(t *testing.T) {
	ns := newNamespace(t)
	startStandIns(t, ns, fake.Options{})
	startOperator(t, ns, ackOptions)
	g := NewWithT(t)
	snapshotOnce := func(value string) shopv1alpha1.SnapshotStatus {
		updateStorefront(t, ns, func(sf *shopv1alpha1.Storefront) {
			sf.Annotations = map[string]string{shopv1alpha1.AnnotationSnapshot: value}
		})
		var e shopv1alpha1.SnapshotStatus
		g.Eventually(func(g Gomega) {
			sf := getStorefront(g, ns)
			g.Expect(sf.Status.Snapshots).To(HaveLen(1))
			e = sf.Status.Snapshots[0]
			g.Expect(e.State).To(Equal("available"))
		}, eventually, poll).Should(Succeed())
		return e
	}
	readyShop(t, ns, withAurora())
	first := snapshotOnce("1")
	deleteAndWait(t, ns)

	createStorefront(t, newStorefront(ns, withAurora()))
	sf := waitForPhase(t, ns, shopv1alpha1.PhaseReady)
	kept := snapshotObject(g, ns, first.Identifier)
	second := snapshotOnce("1")
	g.Expect(second.Identifier).To(Equal(onDemandSnapshotIdentifier(sf, 1)))
	g.Expect(second.Identifier).NotTo(Equal(first.Identifier), "its own snapshot")
	g.Expect(second.Time.After(first.Time.Time)).To(BeTrue())
	g.Expect(snapshotObject(g, ns, first.Identifier).GetResourceVersion()).To(Equal(kept.GetResourceVersion()), "the predecessor's snapshot untouched")
}
