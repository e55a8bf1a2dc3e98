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

// DBClusterSnapshot and restore-from-snapshot, from rds-controller 1.11.1 (at 8b3f5f2):
//   - pkg/resource/db_cluster_snapshot/hooks.go: the statuses (creating, available),
//     clusterSnapshotAvailable, customUpdateDBClusterSnapshot (tags only);
//   - templates/hooks/db_cluster_snapshot/sdk_create_post_set_output.go.tpl and
//     sdk_read_many_post_set_output.go.tpl: Synced False while the snapshot is not
//     available;
//   - generator.yaml (DBClusterSnapshot): no terminal codes, no late initialisation;
//   - templates/hooks/db_cluster/sdk_create_pre_build_request.go.tpl and
//     pkg/resource/db_cluster/hooks.go restoreDbClusterFromSnapshot: a DBCluster with
//     spec.snapshotIdentifier is created with RestoreDBClusterFromSnapshot, whose input
//     (sdk.go newRestoreDBClusterFromSnapshotInput) has no master password: the
//     restored cluster has the snapshot's master user and password, and since the
//     restore returns before sdk_create_post_set_output, the last-applied-secret
//     annotation is not set, so the next sync finds the master password reference
//     changed and sets it with ModifyDBCluster (custom_update.go
//     compareSecretReferenceChanges).

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/log"
)

// DBClusterSnapshotGVK is the ACK kind of a manual DB cluster snapshot.
var DBClusterSnapshotGVK = schema.GroupVersionKind{Group: "rds.services.k8s.aws", Version: "v1alpha1", Kind: "DBClusterSnapshot"}

// Statuses of a DB cluster snapshot (db_cluster_snapshot/hooks.go).
const (
	SnapshotStatusCreating  = "creating"
	SnapshotStatusAvailable = "available"
	// SnapshotStatusFailed is a status RDS reports for a snapshot that could not be
	// taken (DBClusterSnapshot.Status in the RDS API reference); Storefront tests force
	// it with AWS.SetStatus.
	SnapshotStatusFailed = "failed"
)

// Snapshotter is a Provisioner that copies databases: a snapshot is a real copy of the
// cluster's database with its roles' passwords of the time, and a restore a new
// server from it.
type Snapshotter interface {
	// Snapshot copies the database of cluster into snapshot.
	Snapshot(ctx context.Context, cluster, snapshot AWSKey) error
	// Restore starts the server of r.Key from snapshot.
	Restore(ctx context.Context, snapshot AWSKey, r ProvisionRequest) (Endpoint, error)
}

func init() {
	ackManagers = append(ackManagers, struct {
		rm      resourceManager
		gvk     schema.GroupVersionKind
		manager string
	}{dbClusterSnapshotManager{}, DBClusterSnapshotGVK, FieldManagerACKRDS})
}

// CreateSnapshot is CreateDBClusterSnapshot: the snapshot of the cluster named by
// spec.dbClusterIdentifier, creating for AWS's delay, then available. AWS refuses an
// identifier that is taken (by a manual or a final snapshot), a cluster it does not
// have, and one that is not available.
func (a *AWS) CreateSnapshot(ctx context.Context, key AWSKey, spec map[string]any, tags map[string]string) (AWSResource, error) {
	a.mu.Lock()
	key.ID = normalizeID(key.Kind, key.ID)
	fail := func(e *APIError) (AWSResource, error) {
		a.mu.Unlock()
		return AWSResource{}, call(e, OpCreate, key.Kind)
	}
	if e := a.refusal(OpCreate, key); e != nil {
		return fail(e)
	}
	if _, taken := a.resources[key]; taken {
		return fail(NewAPIError("DBClusterSnapshotAlreadyExistsFault", fmt.Sprintf("Cannot create the cluster snapshot because one with the identifier %s already exists.", key.ID)))
	}
	if _, taken := a.snapshots[key]; taken {
		return fail(NewAPIError("DBClusterSnapshotAlreadyExistsFault", fmt.Sprintf("Cannot create the cluster snapshot because one with the identifier %s already exists.", key.ID)))
	}
	cid := specString2(spec, "dbClusterIdentifier")
	c := a.cluster(key, cid)
	if c == nil || c.busyStatus == statusDeleting {
		return fail(NewAPIError("DBClusterNotFoundFault", fmt.Sprintf("DBCluster %s not found.", cid)))
	}
	if c.Status != RDSStatusAvailable {
		return fail(NewAPIError("InvalidDBClusterStateFault", fmt.Sprintf("Cannot create a snapshot of DB cluster %s in state %s.", cid, c.Status)))
	}
	now := a.now()
	out := deepCopyMap(spec)
	delete(out, "tags")
	delete(out, "dbClusterIdentifierRef")
	out["dbClusterIdentifier"] = c.Key.ID
	r := &awsResource{AWSResource: AWSResource{Key: key, Spec: out, Created: now.UTC().Truncate(time.Second), Tags: maps.Clone(tags)},
		provisioned: true}
	r.busyStatus, r.busyUntil, r.Status = SnapshotStatusCreating, now.Add(a.delay), SnapshotStatusCreating
	r.Source = deepCopyMap(c.Spec)
	a.snapshotSources[key] = deepCopyMap(c.Spec)
	a.resources[key] = r
	snap, copies := a.prov.(Snapshotter)
	if !copies || !c.provisioned {
		defer a.mu.Unlock()
		return r.copy(), nil
	}
	r.provisioned = false // creating until the copy is made
	cluster := c.Key
	a.mu.Unlock()
	go func() {
		err := snap.Snapshot(a.ctx, cluster, key)
		a.mu.Lock()
		defer a.mu.Unlock()
		if err != nil {
			log.FromContext(a.ctx).Error(err, "Copying the database of a DB cluster snapshot", "snapshot", key.String())
			a.forced[key.Kind+"/"+key.ID] = SnapshotStatusFailed
		}
		r.provisioned = true
	}()
	a.mu.Lock()
	defer a.mu.Unlock()
	return r.copy(), nil
}

// SetTags replaces the tags of the resource at key (AddTagsToResource and
// RemoveTagsFromResource).
func (a *AWS) SetTags(key AWSKey, tags map[string]string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	key.ID = normalizeID(key.Kind, key.ID)
	r := a.settle(key)
	if r == nil {
		return call(notFound(key), OpModify, key.Kind)
	}
	r.Tags = maps.Clone(tags)
	return nil
}

// restoreRefusal is why AWS refuses RestoreDBClusterFromSnapshot, and the snapshot's
// source cluster settings when it does not.
func (a *AWS) restoreRefusal(key AWSKey, snapshot string) (map[string]any, *APIError) {
	sk := AWSKey{Account: key.Account, Region: key.Region, Kind: DBClusterSnapshotGVK.Kind, ID: normalizeID(DBClusterSnapshotGVK.Kind, snapshot)}
	if s := a.settle(sk); s != nil {
		if s.Status != SnapshotStatusAvailable {
			return nil, NewAPIError("InvalidDBClusterSnapshotStateFault", fmt.Sprintf("DBClusterSnapshot %s is not in available state.", snapshot))
		}
		return a.snapshotSources[sk], nil
	}
	if _, ok := a.snapshots[sk]; ok {
		return a.snapshotSources[sk], nil
	}
	return nil, NewAPIError("DBClusterSnapshotNotFoundFault", fmt.Sprintf("DBClusterSnapshot %s not found.", snapshot))
}

// finalSnapshot is the final snapshot at key (DeleteDBCluster's
// FinalDBSnapshotIdentifier) as DescribeDBClusterSnapshots returns it: a manual snapshot
// like one CreateDBClusterSnapshot took (RDS API reference, DescribeDBClusterSnapshots,
// SnapshotType "manual"; DeleteDBCluster, FinalDBSnapshotIdentifier: "The DB cluster
// snapshot identifier of the new DB cluster snapshot created when SkipFinalSnapshot is
// disabled"), available, of the deleted cluster, without tags (the operator's clusters
// do not copy tags to snapshots). So ACK can adopt it (rds-controller
// db_cluster_snapshot/sdk.go sdkFind reads it with DescribeDBClusterSnapshots).
func (a *AWS) finalSnapshot(key AWSKey) (AWSResource, bool) {
	created, ok := a.snapshots[key]
	if !ok || key.Kind != DBClusterSnapshotGVK.Kind {
		return AWSResource{}, false
	}
	source := deepCopyMap(a.snapshotSources[key])
	spec := map[string]any{"dbClusterSnapshotIdentifier": key.ID}
	if id := specString2(source, "dbClusterIdentifier"); id != "" {
		spec["dbClusterIdentifier"] = id
	}
	return AWSResource{Key: key, Status: SnapshotStatusAvailable, Spec: spec, Created: created.UTC().Truncate(time.Second), Source: source}, true
}

// deleteFinalSnapshot is DeleteDBClusterSnapshot of a final snapshot: gone at once (the
// stand-in keeps nothing of a final snapshot but its time and source); false when key
// is none.
func (a *AWS) deleteFinalSnapshot(key AWSKey) bool {
	if _, ok := a.finalSnapshot(key); !ok {
		return false
	}
	delete(a.snapshots, key)
	delete(a.snapshotSources, key)
	now := a.now()
	a.deletions = append(a.deletions, AWSDeletion{Key: key, Accepted: now, Gone: now})
	return true
}

// restoredSpec is the restored cluster's settings: those of the call, and from the
// snapshot what RestoreDBClusterFromSnapshot takes from it (engine, engine version,
// master user, database name, port) when the call does not name them.
func restoredSpec(spec, source map[string]any) map[string]any {
	out := deepCopyMap(spec)
	for _, f := range []string{"engine", "engineVersion", "masterUsername", "databaseName", "port", "kmsKeyID", "storageEncrypted"} {
		if _, set := out[f]; !set {
			if v, ok := source[f]; ok {
				out[f] = deepCopyValue(v)
			}
		}
	}
	return out
}

// snapshotStatus adds what DescribeDBClusterSnapshots returns of a snapshot
// (sdk.go sdkFind).
func snapshotStatus(st map[string]any, r AWSResource) {
	st["status"] = r.Status
	st["snapshotType"] = "manual"
	st["snapshotCreateTime"] = r.Created.UTC().Format(time.RFC3339)
	st["storageEncrypted"] = true
	progress := int64(100)
	if r.Status == SnapshotStatusCreating {
		progress = 0
	}
	st["percentProgress"] = progress
	for _, f := range []string{"engine", "engineVersion", "masterUsername"} {
		if v := specString2(r.Source, f); v != "" {
			st[f] = v
		}
	}
	var tags []any
	for _, k := range sortedKeys(r.Tags) {
		tags = append(tags, map[string]any{"key": k, "value": r.Tags[k]})
	}
	if tags != nil {
		st["tagList"] = tags
	}
}

func sortedKeys(m map[string]string) []string { return slices.Sorted(maps.Keys(m)) }

// specTags are the tags of an ACK spec ([{key, value}]).
func specTags(spec map[string]any) map[string]string {
	out := map[string]string{}
	for _, t := range sliceOf(spec["tags"]) {
		m, _ := t.(map[string]any)
		k, _ := m["key"].(string)
		v, _ := m["value"].(string)
		if k != "" {
			out[k] = v
		}
	}
	return out
}

// withSpecTags are the controller's default tags and the spec's tags, as the create
// call sends them (ackrt's EnsureTags, then the spec's Tags).
func withSpecTags(defaults map[string]string, spec map[string]any) map[string]string {
	out := maps.Clone(defaults)
	maps.Copy(out, specTags(spec))
	return out
}

// dbClusterSnapshotManager: Synced False while not available (the create and read
// hooks), update syncs tags only (customUpdateDBClusterSnapshot).
type dbClusterSnapshotManager struct{}

func (dbClusterSnapshotManager) service() string                          { return "rds" }
func (dbClusterSnapshotManager) idField() string                          { return "dbClusterSnapshotIdentifier" }
func (dbClusterSnapshotManager) terminalCodes() []string                  { return nil }
func (dbClusterSnapshotManager) lateInitFields() []string                 { return nil }
func (dbClusterSnapshotManager) isSynced(*unstructured.Unstructured) bool { return true }

// compare is the generated delta plus compareTags.
func (dbClusterSnapshotManager) compare(desired, latest *unstructured.Unstructured) []string {
	var delta []string
	a, _ := desired.Object["spec"].(map[string]any)
	b, _ := latest.Object["spec"].(map[string]any)
	if specString2(a, "dbClusterIdentifier") != specString2(b, "dbClusterIdentifier") {
		delta = append(delta, "dbClusterIdentifier")
	}
	if !maps.Equal(specTags(a), specTags(b)) {
		delta = append(delta, "tags")
	}
	return delta
}

func (m dbClusterSnapshotManager) sdkFind(_ context.Context, c *ackCall, r *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	ko, res, err := find(c, DBClusterSnapshotGVK.Kind, m.idField(), r)
	if err != nil {
		return nil, err
	}
	// sdk_read_many_post_set_output: the tags are AWS's (getTags), without ACK's own.
	setTagsFromAWS(ko, res)
	if statusOf(ko, "status") != SnapshotStatusAvailable {
		setCondition(ko, ConditionSynced, "False", nil, nil, c.s.now())
	}
	return ko, nil
}

func (m dbClusterSnapshotManager) sdkCreate(ctx context.Context, c *ackCall, desired *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	spec := desired.Object["spec"].(map[string]any)
	res, err := c.s.aws.CreateSnapshot(ctx, c.key(DBClusterSnapshotGVK.Kind, desired, m.idField()), spec, withSpecTags(c.defaultTags(m.service()), spec))
	if err != nil {
		return nil, err
	}
	ko := desired.DeepCopy()
	setFromAWS(ko, res)
	setStatusDefaults(ko, c)
	if statusOf(ko, "status") == SnapshotStatusCreating {
		setCondition(ko, ConditionSynced, "False", nil, nil, c.s.now())
	}
	return ko, nil
}

// sdkUpdate is customUpdateDBClusterSnapshot: only tags change (syncTags).
func (m dbClusterSnapshotManager) sdkUpdate(_ context.Context, c *ackCall, desired, latest *unstructured.Unstructured, delta []string) (*unstructured.Unstructured, error) {
	for _, f := range delta {
		if f == "tags" {
			key := c.key(DBClusterSnapshotGVK.Kind, desired, m.idField())
			if err := c.s.aws.SetTags(key, withSpecTags(c.defaultTags(m.service()), desired.Object["spec"].(map[string]any))); err != nil {
				return nil, err
			}
		}
	}
	return desired, nil
}

func (m dbClusterSnapshotManager) sdkDelete(_ context.Context, c *ackCall, r *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	return nil, c.s.aws.Delete(c.key(DBClusterSnapshotGVK.Kind, r, m.idField()), DeleteParams{})
}
