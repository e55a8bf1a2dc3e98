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

package fake_test

// What of AWS's answer ACK writes into a DBCluster's spec, by path (rds-controller
// 1.11.1 at 8b3f5f2, runtime at 95428e7):
//
//   - CreateDBCluster: sdk.go sdkCreate works on desired.ko.DeepCopy() and sets the spec
//     fields of the output (EngineVersion among them); runtime reconciler.go
//     createResource patches desired → created: they are stored.
//   - RestoreDBClusterFromSnapshot: sdk.go sdkCreate returns
//     rm.restoreDbClusterFromSnapshot(ctx, desired) (hooks.go), which writes the output
//     into desired itself (setResourceFromRestoreDBClusterFromSnapshotOutput) and
//     returns &resource{r.ko}; references.go ResolveReferences returns the same ko.
//     createResource's patch of desired against the created resource, and
//     lateInitializeResource's, find no difference: nothing is stored.
//   - adopt-or-create: reconciler.go Sync marks the resource managed and adopted
//     (setResourceManagedAndAdopted patches a copy of latest against latest: metadata
//     only) and requeues: nothing of the spec is stored.
//   - ModifyDBCluster: custom_update.go customUpdate copies into desired's copy only
//     AvailabilityZones, BacktrackWindow, BackupRetentionPeriod, CharacterSetName,
//     CopyTagsToSnapshot, DatabaseInsightsMode, DBClusterIdentifier, DatabaseName,
//     DeletionProtection, Engine, EngineMode, KMSKeyID, MasterUsername, Port,
//     EnablePerformanceInsights, PerformanceInsights{KMSKeyID,RetentionPeriod},
//     Preferred{Backup,Maintenance}Window, ReplicationSourceIdentifier,
//     StorageEncrypted (AllocatedStorage for non-Aurora engines), and always ends with
//     SetSynced(False).
//
// sdk.go sdkFind sets EngineVersion and AutoMinorVersionUpgrade from DescribeDBClusters
// (which returns AutoMinorVersionUpgrade for Aurora clusters: RDS API reference,
// DBCluster), and delta.go newResourceDelta reports a nil difference for either
// (customPreCompare normalises the version only when both sides have one). A restored or
// adopted cluster whose spec lacks either therefore differs at every sync:
// ModifyDBCluster without a change, ACK.ResourceSynced False for good. NetworkType,
// late-initialised (generator.yaml), is stored at the sync after the first update.

import (
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/storefront-operator/storefront/test/fake"
)

// writtenBack are the spec fields of a cluster of the stand-in's AWS (eu-west-1,
// account 111122223333) that customUpdate copies from the ModifyDBCluster output, and
// networkType, late-initialised.
var writtenBack = map[string]any{
	"availabilityZones":          []any{"eu-west-1a", "eu-west-1b", "eu-west-1c"},
	"backupRetentionPeriod":      int64(1),
	"copyTagsToSnapshot":         false,
	"kmsKeyID":                   "arn:aws:kms:eu-west-1:111122223333:key/",
	"networkType":                "IPV4",
	"port":                       int64(5432),
	"preferredBackupWindow":      "02:30-03:00",
	"preferredMaintenanceWindow": "sun:04:00-sun:04:30",
}

// checkWrittenBack checks the stored spec holds writtenBack (the KMS key by its
// prefix), and neither engineVersion nor autoMinorVersionUpgrade.
func checkWrittenBack(t *testing.T, u *unstructured.Unstructured) {
	t.Helper()
	spec, _ := u.Object["spec"].(map[string]any)
	for k, want := range writtenBack {
		got := spec[k]
		if k == "kmsKeyID" {
			if s, _ := got.(string); !strings.HasPrefix(s, want.(string)) {
				t.Errorf("spec.%s %v, want the aws/rds key %s…", k, got, want)
			}
			continue
		}
		if !equality.Semantic.DeepEqual(got, want) {
			t.Errorf("spec.%s %#v, want %#v", k, got, want)
		}
	}
	for _, f := range []string{"engineVersion", "autoMinorVersionUpgrade"} {
		if v, ok := spec[f]; ok {
			t.Errorf("spec.%s %v: no path but sdkCreate's stores it", f, v)
		}
	}
}

// setAutoMinorVersionUpgrade gives the cluster's spec autoMinorVersionUpgrade: true,
// RDS's default.
func setAutoMinorVersionUpgrade(u *unstructured.Unstructured) {
	_ = unstructured.SetNestedField(u.Object, true, "spec", "autoMinorVersionUpgrade")
}

// neverSynced checks for d that ACK.ResourceSynced is never True.
func (g *golden) neverSynced(name string, d time.Duration) {
	g.t.Helper()
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		if c := conditions(g.get(fake.DBClusterGVK, name))["ACK.ResourceSynced"]; strings.HasPrefix(c, "True|") {
			g.t.Fatalf("DBCluster %s: ACK.ResourceSynced %q; customUpdate ends every update with SetSynced(False)", name, c)
		}
	}
}

// updateStatusWritten reports whether the status of the sync that applied the master
// password has landed: the runtime patches metadata and spec (patchResourceMetadataAndSpec)
// before the status (patchResourceStatus), so in between the object shows the update's
// annotation with the Synced True of adopt-or-create's read (sdkFind's
// sdk_read_many_post_set_output hook on an available cluster).
func updateStatusWritten(u *unstructured.Unstructured) bool {
	return !strings.HasPrefix(conditions(u)["ACK.ResourceSynced"], "True|")
}

// withoutVersion is clusterSpec as the operator applies it without a version of its own.
func withoutVersion(spec map[string]any) map[string]any {
	delete(spec, "engineVersion")
	return spec
}

// Restore: nothing of RestoreDBClusterFromSnapshot's output is stored; the updates
// store customUpdate's fields, late initialisation networkType, and the engine version
// and autoMinorVersionUpgrade stay differences, so the cluster is never synced; the
// version applied, it still is not; autoMinorVersionUpgrade applied too, it is.
// rds-controller@8b3f5f2 pkg/resource/db_cluster/sdk.go sdkCreate, hooks.go
// restoreDbClusterFromSnapshot, sdk.go setResourceFromRestoreDBClusterFromSnapshotOutput,
// custom_update.go customUpdate, delta.go newResourceDelta; runtime@95428e7
// pkg/runtime/reconciler.go createResource, updateResource, lateInitializeResource.
func TestGoldenRestoreStoresNoSpecFromAWS(t *testing.T) {
	g := newGolden(t, goldenOptions())
	g.availableCluster(nil)
	g.create(fake.DBClusterSnapshotGVK, "golden-snap", nil, map[string]any{"dbClusterIdentifier": "golden-db", "dbClusterSnapshotIdentifier": "golden-snap"})
	g.waitSynced(fake.DBClusterSnapshotGVK, "golden-snap")
	spec := withoutVersion(clusterSpec("golden-restored", "golden-group", g.ns, "master", ""))
	spec["snapshotIdentifier"] = "golden-snap"
	g.create(fake.DBClusterGVK, "golden-restored", nil, spec)
	var u *unstructured.Unstructured
	waitFor(t, "the restored cluster's master password set, networkType late-initialised and the update's status written", func() bool {
		u = g.get(fake.DBClusterGVK, "golden-restored")
		_, li := u.Object["spec"].(map[string]any)["networkType"]
		return u.GetAnnotations()[fake.AnnotationLastAppliedSecret] != "" && li && updateStatusWritten(u)
	})
	g.neverSynced("golden-restored", 3*time.Second)
	checkWrittenBack(t, g.get(fake.DBClusterGVK, "golden-restored"))
	if v := awsField(g.s, fake.DBClusterGVK, testRegion, "golden-restored", "engineVersion"); v != "16.6" {
		t.Fatalf("AWS engineVersion %v, want the snapshot's 16.6", v)
	}
	if v := awsField(g.s, fake.DBClusterGVK, testRegion, "golden-restored", "autoMinorVersionUpgrade"); v != true {
		t.Fatalf("AWS autoMinorVersionUpgrade %v, want RDS's default true", v)
	}
	g.change(fake.DBClusterGVK, "golden-restored", func(u *unstructured.Unstructured) {
		_ = unstructured.SetNestedField(u.Object, "16.6", "spec", "engineVersion")
	})
	g.neverSynced("golden-restored", 3*time.Second)
	g.change(fake.DBClusterGVK, "golden-restored", setAutoMinorVersionUpgrade)
	g.waitSynced(fake.DBClusterGVK, "golden-restored")
}

// adopt-or-create of a retained cluster: nothing of DescribeDBClusters is stored at
// the adoption; then as after a restore. runtime@95428e7 pkg/runtime/reconciler.go Sync
// (adopt-or-create: setResourceManagedAndAdopted, requeue) and updateResource;
// rds-controller@8b3f5f2 pkg/resource/db_cluster/custom_update.go customUpdate,
// delta.go newResourceDelta.
func TestGoldenAdoptOrCreateStoresNoSpecFromAWS(t *testing.T) {
	g := newGolden(t, goldenOptions())
	g.availableCluster(map[string]string{"services.k8s.aws/deletion-policy": "retain"})
	g.delete(fake.DBClusterGVK, "golden-db")
	waitFor(t, "the retained cluster's object gone", func() bool { return g.get(fake.DBClusterGVK, "golden-db") == nil })
	g.create(fake.DBClusterGVK, "adopter", map[string]string{
		"services.k8s.aws/adoption-policy": "adopt-or-create", "services.k8s.aws/adoption-fields": `{"dbClusterIdentifier": "golden-db"}`,
	}, withoutVersion(clusterSpec("golden-db", "golden-group", g.ns, "master", "")))
	var u *unstructured.Unstructured
	waitFor(t, "the adopted cluster's master password set, networkType late-initialised and the update's status written", func() bool {
		u = g.get(fake.DBClusterGVK, "adopter")
		_, li := u.Object["spec"].(map[string]any)["networkType"]
		return u.GetAnnotations()["services.k8s.aws/adopted"] == "true" && u.GetAnnotations()[fake.AnnotationLastAppliedSecret] != "" && li &&
			updateStatusWritten(u)
	})
	g.neverSynced("adopter", 3*time.Second)
	checkWrittenBack(t, g.get(fake.DBClusterGVK, "adopter"))
	g.change(fake.DBClusterGVK, "adopter", func(u *unstructured.Unstructured) {
		_ = unstructured.SetNestedField(u.Object, "16", "spec", "engineVersion")
	})
	g.neverSynced("adopter", 3*time.Second)
	g.change(fake.DBClusterGVK, "adopter", setAutoMinorVersionUpgrade)
	// delta.go customPreCompare: a desired version of the latest's major is the latest
	// while autoMinorVersionUpgrade holds; ModifyDBCluster gets no version.
	g.waitSynced(fake.DBClusterGVK, "adopter")
	if v := awsField(g.s, fake.DBClusterGVK, testRegion, "golden-db", "engineVersion"); v != "16.6" {
		t.Errorf("AWS engineVersion %v, want 16.6 unchanged", v)
	}
}
