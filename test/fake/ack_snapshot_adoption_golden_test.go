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

import (
	"context"
	"slices"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/storefront-operator/storefront/test/fake"
)

// adoptSnapshot are the annotations that adopt DB cluster snapshot id and never delete
// it (runtime apis/core/v1alpha1/annotations.go AnnotationAdoptionPolicy,
// AnnotationAdoptionFields, AnnotationDeletionPolicy).
func adoptSnapshot(id string) map[string]string {
	return map[string]string{
		"services.k8s.aws/adoption-policy": "adopt",
		"services.k8s.aws/adoption-fields": `{"dbClusterSnapshotIdentifier": "` + id + `"}`,
		"services.k8s.aws/deletion-policy": "retain",
	}
}

// checkAdoptedSnapshot checks what the adoption of snapshot id of golden-db wrote:
// ACK's finalizer and adopted annotation, the spec from DescribeDBClusterSnapshots
// (sdkFind sets Spec.DBClusterIdentifier and Spec.DBClusterSnapshotIdentifier, and
// Spec.Tags from ListTagsForResource), the status with the engine version.
func checkAdoptedSnapshot(t *testing.T, u *unstructured.Unstructured, id string, tags []any) {
	t.Helper()
	if a := u.GetAnnotations()["services.k8s.aws/adopted"]; a != "true" {
		t.Errorf("adopted annotation %q, want true", a)
	}
	if !slices.Contains(u.GetFinalizers(), "finalizers.rds.services.k8s.aws/DBClusterSnapshot") {
		t.Errorf("finalizers %v", u.GetFinalizers())
	}
	if c, s := str(u, "spec", "dbClusterIdentifier"), str(u, "spec", "dbClusterSnapshotIdentifier"); c != "golden-db" || s != id {
		t.Errorf("spec dbClusterIdentifier %q dbClusterSnapshotIdentifier %q, want AWS's: golden-db, %s", c, s, id)
	}
	got, _, _ := unstructured.NestedSlice(u.Object, "spec", "tags")
	if asJSON(got) != asJSON(tags) {
		t.Errorf("spec.tags %s, want AWS's %s", asJSON(got), asJSON(tags))
	}
	for path, want := range map[string]string{
		"status":         "available",
		"engine":         "aurora-postgresql",
		"engineVersion":  "16.6",
		"masterUsername": "storefront",
		"snapshotType":   "manual",
	} {
		if v := str(u, "status", path); v != want {
			t.Errorf("status.%s %q, want %q", path, v, want)
		}
	}
	if arn := str(u, "status", "ackResourceMetadata", "arn"); arn != "arn:aws:rds:eu-west-1:111122223333:cluster-snapshot:"+id {
		t.Errorf("arn %q", arn)
	}
}

// Adoption of DB cluster snapshots ACK did not take: a final snapshot of a deleted
// cluster and one taken outside ACK (in the console), with policy adopt, then the
// object deleted under deletion policy retain: the snapshots stay in AWS.
// runtime@95428e7 pkg/runtime/reconciler.go Sync (needAdoption, handlePopulation,
// ReadOne, setResourceManagedAndAdopted, patchResourceMetadataAndSpec), reconcile
// (deletion policy retain: setResourceUnmanaged, no sdkDelete); rds-controller@8b3f5f2
// pkg/resource/db_cluster_snapshot/resource.go PopulateResourceFromAnnotation (the
// primary key dbClusterSnapshotIdentifier), sdk.go sdkFind (DescribeDBClusterSnapshots:
// Spec.DBClusterIdentifier, Status.EngineVersion, Status.SnapshotType...; tags from
// getTags), templates/hooks/db_cluster_snapshot/sdk_read_many_post_set_output.go.tpl
// (Synced False until available). RDS API reference: DescribeDBClusterSnapshots returns
// a final snapshot (DeleteDBCluster FinalDBSnapshotIdentifier) as a manual one.
func TestGoldenAdoptDBClusterSnapshot(t *testing.T) {
	g := newGolden(t, goldenOptions())
	g.availableCluster(map[string]string{
		"rds.services.k8s.aws/skip-final-snapshot":          "false",
		"rds.services.k8s.aws/final-db-snapshot-identifier": "golden-final",
	})
	console := fake.AWSKey{Account: testAccount, Region: testRegion, Kind: fake.DBClusterSnapshotGVK.Kind, ID: "golden-console"}
	if _, err := g.s.AWS().CreateSnapshot(context.Background(), console, map[string]any{"dbClusterIdentifier": "golden-db"}, map[string]string{"team": "billing"}); err != nil {
		t.Fatal(err)
	}
	g.create(fake.DBClusterSnapshotGVK, "console-adopter", adoptSnapshot("golden-console"), map[string]any{"dbClusterSnapshotIdentifier": "golden-console"})
	u := g.waitConditions(fake.DBClusterSnapshotGVK, "console-adopter", availableGroupWant)
	checkAdoptedSnapshot(t, u, "golden-console", []any{map[string]any{"key": "team", "value": "billing"}})

	g.delete(fake.DBClusterGVK, "golden-db")
	waitFor(t, "the final snapshot", func() bool { return awsStatus(g.s, fake.DBClusterSnapshotGVK, testRegion, "golden-final") != "" })
	g.create(fake.DBClusterSnapshotGVK, "final-adopter", adoptSnapshot("golden-final"), map[string]any{"dbClusterSnapshotIdentifier": "golden-final"})
	u = g.waitConditions(fake.DBClusterSnapshotGVK, "final-adopter", availableGroupWant)
	checkAdoptedSnapshot(t, u, "golden-final", nil)

	for _, name := range []string{"console-adopter", "final-adopter"} {
		g.delete(fake.DBClusterSnapshotGVK, name)
		waitFor(t, name+" gone", func() bool { return g.get(fake.DBClusterSnapshotGVK, name) == nil })
	}
	// A DeleteDBClusterSnapshot would show at once: the snapshot deleting, or gone.
	for _, d := range g.s.ACKDeletions() {
		if d.Kind == fake.DBClusterSnapshotGVK.Kind && d.Policy != "retain" {
			t.Errorf("ACK let go of %s/%s with policy %q, want retain", d.Namespace, d.Name, d.Policy)
		}
	}
	for _, id := range []string{"golden-console", "golden-final"} {
		if st := awsStatus(g.s, fake.DBClusterSnapshotGVK, testRegion, id); st != "available" {
			t.Errorf("snapshot %s in AWS: status %q, want available (retain deletes nothing)", id, st)
		}
	}
	for _, d := range g.s.AWS().Deletions() {
		if d.Key.Kind == fake.DBClusterSnapshotGVK.Kind {
			t.Errorf("AWS deleted %s", d.Key)
		}
	}
}
