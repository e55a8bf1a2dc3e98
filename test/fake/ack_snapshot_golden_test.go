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

package fake

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// clock is a time the test moves.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func snapshotCall(t *testing.T) (*ackCall, *clock) {
	t.Helper()
	clk := &clock{t: time.Date(2026, 12, 4, 17, 0, 0, 0, time.UTC)}
	s := &StandIns{now: clk.now, aws: NewAWS(clk.now, 30*time.Second, nil)}
	return &ackCall{s: s, account: "123456789012", region: "eu-central-1", namespace: "shops"}, clk
}

func objectNamed(name string, spec map[string]any) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{"spec": spec, "metadata": map[string]any{"name": name, "namespace": "shops"}}}
}

func apiCode(err error) string {
	var e *APIError
	if errors.As(err, &e) {
		return e.Code + ": " + e.Message
	}
	if err == nil {
		return ""
	}
	return err.Error()
}

// rds-controller@8b3f5f2 pkg/resource/db_cluster_snapshot: hooks.go
// (ClusterSnapshotStatusCreating "creating", ClusterSnapshotStatusAvailable
// "available", clusterSnapshotCreating, clusterSnapshotAvailable),
// templates/hooks/db_cluster_snapshot/sdk_create_post_set_output.go.tpl (Synced False
// while creating) and sdk_read_many_post_set_output.go.tpl (Synced False until
// available, tags from ListTagsForResource); the ARN of a cluster snapshot
// (arn:aws:rds:<region>:<account>:cluster-snapshot:<id>).
func TestDBClusterSnapshotGolden(t *testing.T) {
	ctx := context.Background()
	c, clk := snapshotCall(t)
	m := dbClusterSnapshotManager{}
	snap := objectNamed("acme-pre-1a2b3c4d-1", map[string]any{"dbClusterIdentifier": "sf-shops-acme", "dbClusterSnapshotIdentifier": "sf-shops-acme-pre-1a2b3c4d-1",
		"tags": []any{map[string]any{"key": "storefront.dev/name", "value": "acme"}}})

	if _, err := m.sdkCreate(ctx, c, snap); apiCode(err) != "DBClusterNotFoundFault: DBCluster sf-shops-acme not found." {
		t.Fatalf("snapshot of a missing cluster: %v", err)
	}
	ck := AWSKey{Account: c.account, Region: c.region, Kind: DBClusterGVK.Kind, ID: "sf-shops-acme"}
	if _, err := c.s.aws.Create(ck, map[string]any{"dbClusterIdentifier": "sf-shops-acme", "engine": "aurora-postgresql", "engineVersion": "16.6",
		"masterUsername": "storefront", "databaseName": "shop"}, "secret-1", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := m.sdkCreate(ctx, c, snap); apiCode(err) != "InvalidDBClusterStateFault: Cannot create a snapshot of DB cluster sf-shops-acme in state creating." {
		t.Fatalf("snapshot of a creating cluster: %v", err)
	}
	clk.add(31 * time.Second)

	created, err := m.sdkCreate(ctx, c, snap)
	if err != nil {
		t.Fatal(err)
	}
	if got := statusOf(created, "status"); got != "creating" {
		t.Errorf("status after create %q, want creating", got)
	}
	if s := conditionOf(created, ConditionSynced); s == nil || s["status"] != "False" {
		t.Errorf("Synced after create: %v, want False", s)
	}
	if arn, _, _ := unstructured.NestedString(created.Object, "status", "ackResourceMetadata", "arn"); arn != "arn:aws:rds:eu-central-1:123456789012:cluster-snapshot:sf-shops-acme-pre-1a2b3c4d-1" {
		t.Errorf("arn %q", arn)
	}
	if _, err := m.sdkCreate(ctx, c, snap); apiCode(err) != "DBClusterSnapshotAlreadyExistsFault: Cannot create the cluster snapshot because one with the identifier sf-shops-acme-pre-1a2b3c4d-1 already exists." {
		t.Errorf("second create: %v", err)
	}
	read, err := m.sdkFind(ctx, c, snap)
	if err != nil {
		t.Fatal(err)
	}
	if got := statusOf(read, "status"); got != "creating" {
		t.Errorf("status while creating %q", got)
	}
	if s := conditionOf(read, ConditionSynced); s == nil || s["status"] != "False" {
		t.Errorf("Synced while creating: %v, want False", s)
	}
	clk.add(31 * time.Second)
	read, err = m.sdkFind(ctx, c, snap)
	if err != nil {
		t.Fatal(err)
	}
	if got := statusOf(read, "status"); got != "available" {
		t.Errorf("status after the delay %q, want available", got)
	}
	if s := conditionOf(read, ConditionSynced); s != nil {
		t.Errorf("Synced when available: %v, want none set by the read hook", s)
	}
	if got := statusOf(read, "engineVersion") + " " + statusOf(read, "masterUsername") + " " + statusOf(read, "snapshotType"); got != "16.6 storefront manual" {
		t.Errorf("engineVersion, masterUsername, snapshotType %q", got)
	}
	res, _ := c.s.aws.Get(AWSKey{Account: c.account, Region: c.region, Kind: DBClusterSnapshotGVK.Kind, ID: "sf-shops-acme-pre-1a2b3c4d-1"})
	if res.Tags["storefront.dev/name"] != "acme" || res.Tags["services.k8s.aws/namespace"] != "shops" {
		t.Errorf("AWS tags %v, want the spec's and ACK's", res.Tags)
	}
	if tags, _, _ := unstructured.NestedSlice(read.Object, "spec", "tags"); len(tags) != 1 {
		t.Errorf("spec.tags after the read %v, want the spec's only (getTags keeps ACK's out of the delta)", tags)
	}
}

// rds-controller@8b3f5f2 templates/hooks/db_cluster/sdk_create_pre_build_request.go.tpl
// (spec.snapshotIdentifier → rm.restoreDbClusterFromSnapshot) and
// pkg/resource/db_cluster/hooks.go restoreDbClusterFromSnapshot with sdk.go
// newRestoreDBClusterFromSnapshotInput: no MasterUserPassword in the input (the
// snapshot's master user and password stay), ServerlessV2ScalingConfiguration in it,
// and no last-applied-secret annotation (sdk_create_post_set_output is not reached),
// so the next sync sets the master password (compareSecretReferenceChanges).
// RestoreDBClusterFromSnapshot's faults: DBClusterSnapshotNotFoundFault,
// InvalidDBClusterSnapshotStateFault (RDS API reference).
func TestRestoreDBClusterFromSnapshotGolden(t *testing.T) {
	ctx := context.Background()
	c, clk := snapshotCall(t)
	ck := AWSKey{Account: c.account, Region: c.region, Kind: DBClusterGVK.Kind, ID: "sf-shops-acme"}
	if _, err := c.s.aws.Create(ck, map[string]any{"dbClusterIdentifier": "sf-shops-acme", "engine": "aurora-postgresql", "engineVersion": "16.6",
		"masterUsername": "storefront", "databaseName": "shop"}, "secret-1", nil); err != nil {
		t.Fatal(err)
	}
	clk.add(31 * time.Second)
	sm := dbClusterSnapshotManager{}
	if _, err := sm.sdkCreate(ctx, c, objectNamed("s", map[string]any{"dbClusterIdentifier": "sf-shops-acme", "dbClusterSnapshotIdentifier": "s1"})); err != nil {
		t.Fatal(err)
	}
	m := dbClusterManager{}
	restore := objectNamed("acme-r1", map[string]any{"dbClusterIdentifier": "sf-shops-acme-r1", "engine": "aurora-postgresql", "snapshotIdentifier": "s1",
		"masterUserPassword":               map[string]any{"namespace": "shops", "name": "acme-master", "key": "password"},
		"serverlessV2ScalingConfiguration": map[string]any{"minCapacity": 0.5, "maxCapacity": 4.0}})
	if _, err := m.sdkCreate(ctx, c, restore); apiCode(err) != "InvalidDBClusterSnapshotStateFault: DBClusterSnapshot s1 is not in available state." {
		t.Fatalf("restore from a creating snapshot: %v", err)
	}
	missing := objectNamed("x", map[string]any{"dbClusterIdentifier": "x", "engine": "aurora-postgresql", "snapshotIdentifier": "nope"})
	if _, err := m.sdkCreate(ctx, c, missing); apiCode(err) != "DBClusterSnapshotNotFoundFault: DBClusterSnapshot nope not found." {
		t.Fatalf("restore from a missing snapshot: %v", err)
	}
	clk.add(31 * time.Second)
	// The master password Secret does not exist: a restore does not read it.
	created, err := m.sdkCreate(ctx, c, restore)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := created.GetAnnotations()[AnnotationLastAppliedSecret]; ok {
		t.Errorf("annotations %v: a restore sets no last-applied-secret", created.GetAnnotations())
	}
	if got := statusOf(created, "status"); got != "creating" {
		t.Errorf("status %q", got)
	}
	res, ok := c.s.aws.Get(AWSKey{Account: c.account, Region: c.region, Kind: DBClusterGVK.Kind, ID: "sf-shops-acme-r1"})
	if !ok {
		t.Fatal("no restored cluster")
	}
	if got := specString2(res.Spec, "masterUsername") + " " + specString2(res.Spec, "databaseName") + " " + specString2(res.Spec, "engineVersion"); got != "storefront shop 16.6" {
		t.Errorf("masterUsername, databaseName, engineVersion of the restored cluster %q, want the snapshot's", got)
	}
	if _, ok := res.Spec["serverlessV2ScalingConfiguration"]; !ok {
		t.Errorf("restored cluster spec %v: newRestoreDBClusterFromSnapshotInput carries serverlessV2ScalingConfiguration", res.Spec)
	}
	if delta := m.compare(created.DeepCopy(), created); len(delta) != 1 || delta[0] != "masterUserPassword" {
		t.Errorf("delta after the restore %v, want [masterUserPassword]", delta)
	}
}
