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

// Restore in one step (issue 23, docs/architecture.md "Restore"): a new
// spec.database.aurora.restoreFrom.snapshotIdentifier creates a new ACK DBCluster
// <aws-id>-r<N> with spec.snapshotIdentifier (rds-controller creates it with
// RestoreDBClusterFromSnapshot), beside the cluster the shop uses, and its instance.
// RestoreDBClusterFromSnapshot carries no master password, and ACK sets no
// last-applied-secret annotation on a restore, so its next sync sets the referenced
// master password with ModifyDBCluster. The Serverless v2 scaling is in the restore
// call (rds-controller 1.11.1's newRestoreDBClusterFromSnapshotInput has it, and a
// db.serverless instance needs it on its cluster) and stays applied afterwards. The
// steps, each a reason of DatabaseRestored:
//   - Restoring: the new cluster and its instance until both are available;
//   - RestoreSettingPassword: until ACK applied the master password the cluster
//     references;
//   - RestoreMigrating: the database phase now applies the new cluster and, since its dbClusterResourceID is not the one the served image was
//     migrated on, treats it as a database switch (storefront_dbidentity.go): the pods
//     keep the previous cluster while the migration Job of spec.image runs on the new
//     one as the master user (it resets the application roles' passwords, which the
//     snapshot has as they were when it was taken); once it succeeded the connection
//     Secret moves and the pods roll;
//   - Restored once no pod is left that reads the previous connection Secret; then the
//     replaced cluster follows the deletion policy.
// A failure (an unknown snapshot, a Terminal or failed new cluster, a failed migration)
// is RestoreFailed: the shop stays on its cluster and the new cluster is deleted.
// The restored DBCluster names the snapshot's engine version (withSnapshotEngineVersion);
// a snapshot without a DBClusterSnapshot object of the operator's (a final snapshot of an
// earlier cluster, one made in the console) is adopted by one for the restore
// (adoptRestoreSource), removed, never the snapshot, when the restore ends.

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/log"

	shopv1alpha1 "github.com/storefront-operator/storefront/api/v1alpha1"
)

const (
	// restoreRecheck is how soon a restore in progress is looked at again.
	restoreRecheck = 5 * time.Second
	// componentRestoreSource labels the DBClusterSnapshot objects that adopt a restore's
	// snapshot (adoptRestoreSource); the operator's own snapshots are componentSnapshot.
	componentRestoreSource = "restore-source"
)

// restoreSourceName names the DBClusterSnapshot object that adopts the snapshot of
// restore seq: <aws-id>-r<seq>-source. The operator's own snapshot objects are named by
// their identifiers, <aws-id>-pre-… and <aws-id>-manual-…, which end in a number, and
// awsIdentifier differs between Storefronts, so no other object of the operator's has
// this name. At most 49+2+19+7 characters: a valid object name.
func restoreSourceName(sf *shopv1alpha1.Storefront, seq int64) string {
	return restoredClusterIdentifier(sf, seq) + "-source"
}

// desiredRestoreSource is the DBClusterSnapshot object that has ACK adopt DB cluster
// snapshot id for restore seq: adoption policy adopt with the identifier as adoption
// field (runtime reconciler.go Sync; rds-controller db_cluster_snapshot/resource.go
// PopulateResourceFromAnnotation), so that ACK reads the snapshot with
// DescribeDBClusterSnapshots and reports its engine version in status.engineVersion
// (sdk.go sdkFind), and creates nothing: a snapshot RDS does not have is not taken anew.
// ACK's retain policy: deleting the object never deletes the snapshot. Controlled by the
// Storefront, whose deletion and the restore's end remove it. No tags: after the
// adoption the spec's tags are the snapshot's own (sdkFind reads them), so ACK has none
// of ours to put on someone's snapshot.
func desiredRestoreSource(sf *shopv1alpha1.Storefront, region, id string, seq int64) *unstructured.Unstructured {
	u := newACKObject(gvkDBClusterSnapshot)
	u.SetName(restoreSourceName(sf, seq))
	u.SetNamespace(sf.Namespace)
	u.SetLabels(labels(sf, componentRestoreSource))
	fields, _ := json.Marshal(map[string]string{"dbClusterSnapshotIdentifier": id})
	a := map[string]string{
		ackAnnotationDeletionPolicy: ackDeletionPolicyRetain,
		ackAnnotationAdoptionPolicy: ackAdopt,
		ackAnnotationAdoptionFields: string(fields),
	}
	if region != "" {
		a[ackAnnotationRegion] = region
	}
	u.SetAnnotations(a)
	own(sf, u)
	u.Object["spec"] = map[string]any{"dbClusterSnapshotIdentifier": id}
	return u
}

// restoredClusterIdentifier is <aws-id>-r<seq>: a valid DB cluster identifier (a letter
// first, single hyphens, at most 63 characters: awsIdentifier is at most 49).
func restoredClusterIdentifier(sf *shopv1alpha1.Storefront, seq int64) string {
	return awsIdentifier(sf.Namespace, sf.Name) + "-r" + strconv.FormatInt(seq, 10)
}

// restoreSwitched reports whether the restore moved the database phase to the new
// cluster: from RestoreMigrating on, until it failed.
func restoreSwitched(rs *shopv1alpha1.RestoreStatus) bool {
	return rs != nil && (rs.State == shopv1alpha1.ReasonRestoreMigrating || rs.State == shopv1alpha1.ReasonRestored)
}

// currentClusterIdentifier is the AWS identifier of the DB cluster the shop uses: the
// restored one once a restore switched to it, else the one before.
func currentClusterIdentifier(sf *shopv1alpha1.Storefront) string {
	rs := sf.Status.Restore
	switch {
	case restoreSwitched(rs):
		return rs.ClusterIdentifier
	case rs != nil && rs.ReplacedCluster != "":
		return rs.ReplacedCluster
	}
	return awsIdentifier(sf.Namespace, sf.Name)
}

// clusterObjectName is the name of the ACK DBCluster and DBInstance of the cluster id:
// <name>-database for the first, the identifier for restored ones.
func clusterObjectName(sf *shopv1alpha1.Storefront, id string) string {
	if id == awsIdentifier(sf.Namespace, sf.Name) {
		return objectName(sf, roleDatabase)
	}
	return id
}

// currentClusterObjectName is the name of the current cluster's ACK objects.
func currentClusterObjectName(sf *shopv1alpha1.Storefront) string {
	return clusterObjectName(sf, currentClusterIdentifier(sf))
}

// clusterFinalSnapshotIdentifier names the final snapshot of cluster id:
// finalSnapshotIdentifier for the first cluster, <id>-final-<8 hex of the UID> for a
// restored one, so that no two deletions ask for the same name.
func clusterFinalSnapshotIdentifier(sf *shopv1alpha1.Storefront, id string) string {
	if id == awsIdentifier(sf.Namespace, sf.Name) {
		return finalSnapshotIdentifier(sf)
	}
	return id + "-final-" + shortHash(string(sf.UID))
}

// forCluster points a desired DBCluster or DBInstance (built for the first cluster) at
// the cluster id: its object name, identifiers, final snapshot name and, for a restored
// cluster, the snapshot it was created from (kept applied: ACK reads it at create only).
func forCluster(sf *shopv1alpha1.Storefront, u *unstructured.Unstructured, id, snapshot string) *unstructured.Unstructured {
	if id == awsIdentifier(sf.Namespace, sf.Name) {
		return u
	}
	u.SetName(clusterObjectName(sf, id))
	spec, _ := u.Object["spec"].(map[string]any)
	spec["dbClusterIdentifier"] = id
	switch u.GroupVersionKind() {
	case gvkDBCluster:
		if snapshot != "" {
			spec["snapshotIdentifier"] = snapshot
		}
		if a := u.GetAnnotations(); a[rdsAnnotationFinalSnapshotID] != "" {
			a[rdsAnnotationFinalSnapshotID] = clusterFinalSnapshotIdentifier(sf, id)
			u.SetAnnotations(a)
		}
	case gvkDBInstance:
		spec["dbInstanceIdentifier"] = id
	}
	return u
}

// liveSnapshotIdentifier is spec.snapshotIdentifier of the live DBCluster name, if any.
func (r *StorefrontReconciler) liveSnapshotIdentifier(ctx context.Context, sf *shopv1alpha1.Storefront, name string) (string, error) {
	live := newACKObject(gvkDBCluster)
	if err := r.objectReader().Get(ctx, client.ObjectKey{Namespace: sf.Namespace, Name: name}, live); err != nil {
		if apierrors.IsNotFound(err) {
			return "", nil
		}
		return "", fmt.Errorf("reading DBCluster %s: %w", name, err)
	}
	return specField(live, "snapshotIdentifier"), nil
}

// onCurrentCluster points the database phase's desired DBCluster or DBInstance at the
// current cluster.
func (r *StorefrontReconciler) onCurrentCluster(ctx context.Context, sf *shopv1alpha1.Storefront, u *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	id := currentClusterIdentifier(sf)
	if id == awsIdentifier(sf.Namespace, sf.Name) {
		return u, nil
	}
	snapshot := ""
	if u.GroupVersionKind() == gvkDBCluster {
		if rs := sf.Status.Restore; rs != nil && rs.ClusterIdentifier == id {
			snapshot = rs.SnapshotIdentifier
		} else {
			var err error
			if snapshot, err = r.liveSnapshotIdentifier(ctx, sf, clusterObjectName(sf, id)); err != nil {
				return nil, err
			}
		}
	}
	var seq int64
	if rs := sf.Status.Restore; rs != nil && rs.ClusterIdentifier == id {
		seq = rs.Sequence
	}
	return r.withSnapshotEngineVersion(ctx, sf, forCluster(sf, u, id, snapshot), snapshot, seq)
}

// withSnapshotEngineVersion gives a restored DBCluster that has no version of the
// user's the version of the snapshot it comes from. ACK stores none of AWS's values for
// a restored cluster (rds-controller 1.11.1 sdk.go sdkCreate returns hooks.go
// restoreDbClusterFromSnapshot, which writes RestoreDBClusterFromSnapshot's output into
// the desired resource itself, so the runtime's createResource patches no difference),
// and its updates copy back a fixed list of fields without EngineVersion
// (custom_update.go customUpdate). sdkFind sets spec.engineVersion from
// DescribeDBClusters and delta.go compares it with a nil difference, so without a
// version in the spec every sync calls ModifyDBCluster and leaves ACK.ResourceSynced
// False: the restore would wait for ever. The snapshot's version is the restored
// cluster's (RestoreDBClusterFromSnapshot gets it too), and delta.go's customPreCompare
// takes a later minor of the same major as equal while autoMinorVersionUpgrade holds
// (desiredDBCluster sets it true), so the value never asks RDS for a change. It is read
// from the status of the snapshot's DBClusterSnapshot object: the operator's own for the
// snapshots it takes, else the one that adopts the snapshot for restore seq
// (adoptRestoreSource; seq 0: none); once applied, the live object keeps it. Until an
// object reports it the version is left out.
func (r *StorefrontReconciler) withSnapshotEngineVersion(ctx context.Context, sf *shopv1alpha1.Storefront, u *unstructured.Unstructured, snapshot string, seq int64) (*unstructured.Unstructured, error) {
	spec, _ := u.Object["spec"].(map[string]any)
	if u.GroupVersionKind() != gvkDBCluster || snapshot == "" || spec == nil || specField(u, "engineVersion") != "" {
		return u, nil
	}
	live := newACKObject(gvkDBCluster)
	switch err := r.objectReader().Get(ctx, client.ObjectKeyFromObject(u), live); {
	case err == nil:
		if v := specField(live, "engineVersion"); v != "" {
			spec["engineVersion"] = v
			return u, nil
		}
	case !apierrors.IsNotFound(err):
		return nil, fmt.Errorf("reading DBCluster %s: %w", u.GetName(), err)
	}
	v, _, err := r.snapshotEngineVersion(ctx, sf, snapshot, seq)
	if v != "" {
		spec["engineVersion"] = v
	}
	return u, err
}

// snapshotEngineVersion is the engine version of DB cluster snapshot id as an ACK object
// reports it, and that object: the operator's own DBClusterSnapshot of that name, else
// restore seq's that adopts it (seq 0: none). nil when neither exists.
func (r *StorefrontReconciler) snapshotEngineVersion(ctx context.Context, sf *shopv1alpha1.Storefront, id string, seq int64) (string, *unstructured.Unstructured, error) {
	if !r.ackKindInstalled(gvkDBClusterSnapshot) {
		return "", nil, nil
	}
	snap, err := r.snapshotObject(ctx, sf, id)
	if err != nil {
		return "", nil, err
	}
	if snap == nil && seq > 0 {
		if snap, err = r.snapshotObject(ctx, sf, restoreSourceName(sf, seq)); err != nil {
			return "", nil, err
		}
	}
	if snap == nil {
		return "", nil, nil
	}
	v, _, _ := unstructured.NestedString(snap.Object, "status", "engineVersion")
	return v, snap, nil
}

// adoptRestoreSource makes sure an ACK object will report the engine version of the
// running restore's snapshot: the operator's own DBClusterSnapshot of it, or else one
// that adopts it (desiredRestoreSource), created here. It returns what the restore
// waits for until the version is known.
func (r *StorefrontReconciler) adoptRestoreSource(ctx context.Context, s *scope) (string, error) {
	sf := s.sf
	rs := sf.Status.Restore
	if !r.ackKindInstalled(gvkDBClusterSnapshot) {
		return fmt.Sprintf("the engine version of snapshot %s, which ACK reports only through a DBClusterSnapshot: %s",
			rs.SnapshotIdentifier, ackNotInstalledMessage(gvkDBClusterSnapshot)), nil
	}
	_, snap, err := r.snapshotEngineVersion(ctx, sf, rs.SnapshotIdentifier, rs.Sequence)
	if err != nil {
		return "", err
	}
	name := restoreSourceName(sf, rs.Sequence)
	if snap == nil {
		log.FromContext(ctx).Info("Adopting the restore's DB cluster snapshot for its engine version", "snapshot", rs.SnapshotIdentifier, "dbClusterSnapshot", name)
		obj := desiredRestoreSource(sf, effective(sf).Region, rs.SnapshotIdentifier, rs.Sequence)
		if err := r.Create(ctx, obj, client.FieldOwner(fieldOwner)); err != nil && !apierrors.IsAlreadyExists(err) {
			return "", fmt.Errorf("creating DBClusterSnapshot %s: %w", name, err)
		}
		return fmt.Sprintf("ACK to adopt snapshot %s (DBClusterSnapshot %s) and report its engine version", rs.SnapshotIdentifier, name), nil
	}
	if snap.GetName() == name && !metav1.IsControlledBy(snap, sf) {
		return fmt.Sprintf("DBClusterSnapshot %s, which is not this Storefront's, to be removed: the operator adopts snapshot %s under that name to read its engine version",
			name, rs.SnapshotIdentifier), nil
	}
	what := fmt.Sprintf("DBClusterSnapshot %s to report the engine version of snapshot %s", snap.GetName(), rs.SnapshotIdentifier)
	if snap.GetName() == name {
		what = fmt.Sprintf("ACK to adopt snapshot %s (DBClusterSnapshot %s) and report its engine version", rs.SnapshotIdentifier, name)
	}
	if c, ok := ackConditionOf(snap, ackConditionTerminal); ok && c.Status == "True" {
		what += " (ACK: " + c.text() + ")"
	}
	return what, nil
}

// removeRestoreSources deletes the DBClusterSnapshot objects that adopted restores'
// snapshots, with ACK's retain policy (the snapshots stay in RDS), and reports whether
// none is left.
func (r *StorefrontReconciler) removeRestoreSources(ctx context.Context, s *scope) (bool, error) {
	sf := s.sf
	if !r.ackKindInstalled(gvkDBClusterSnapshot) {
		return true, nil
	}
	objs, err := r.listACKObjects(ctx, sf, gvkDBClusterSnapshot, client.MatchingLabels(selectorLabels(sf, componentRestoreSource)))
	if err != nil {
		return false, err
	}
	done := true
	for i := range objs {
		if !metav1.IsControlledBy(&objs[i], sf) {
			continue
		}
		gone, err := r.deleteACKObject(ctx, s, gvkDBClusterSnapshot, objs[i].GetName(),
			map[string]string{ackAnnotationDeletionPolicy: ackDeletionPolicyRetain})
		if err != nil {
			return false, err
		}
		done = done && gone
	}
	return done, nil
}

// otherDBClusters are the DBCluster objects of this Storefront's name other than the
// current one: a restore's new or replaced cluster, or a replaced one that Retain kept
// (released, it keeps its labels), the predecessor's included.
func (r *StorefrontReconciler) otherDBClusters(ctx context.Context, sf *shopv1alpha1.Storefront) ([]unstructured.Unstructured, error) {
	if !r.ackKindInstalled(gvkDBCluster) {
		return nil, nil
	}
	clusters, err := r.listACKObjects(ctx, sf, gvkDBCluster, client.MatchingLabels(selectorLabels(sf, roleDatabase)))
	if err != nil {
		return nil, err
	}
	current := currentClusterObjectName(sf)
	return slices.DeleteFunc(clusters, func(c unstructured.Unstructured) bool { return c.GetName() == current }), nil
}

// restoreSwitching reports whether the database phase's cluster is a restored one whose
// migration has not run yet: a database switch, not a lost database.
func restoreSwitching(sf *shopv1alpha1.Storefront) bool {
	rs := sf.Status.Restore
	return rs != nil && rs.State == shopv1alpha1.ReasonRestoreMigrating
}

// snapshotImage is the image status.snapshots recorded for snapshot id.
func snapshotImage(sf *shopv1alpha1.Storefront, id string) string {
	for _, e := range sf.Status.Snapshots {
		if e.Identifier == id {
			return e.Image
		}
	}
	return ""
}

// reconcileRestore is the phase before the database: it starts a restore for a new
// restoreFrom value and carries it up to the switch (RestoreMigrating), after which the
// database, migration and workload phases do the work and finishRestore ends it.
func (r *StorefrontReconciler) reconcileRestore(ctx context.Context, s *scope) (ctrl.Result, error) {
	sf := s.sf
	a := sf.Spec.Database.Aurora
	if a == nil {
		return ctrl.Result{}, nil
	}
	rs := sf.Status.Restore
	if rs == nil && withoutDatabase(sf) {
		passwords, err := r.listPasswords(ctx, sf)
		if err != nil {
			return ctrl.Result{}, err
		}
		if rs = retainedRestore(sf, passwords); rs != nil {
			log.FromContext(ctx).Info("Adopting the restored DB cluster a Retain deletion kept", "cluster", rs.ClusterIdentifier, "snapshot", rs.SnapshotIdentifier)
			sf.Status.Restore = rs
			s.setCondition(shopv1alpha1.ConditionDatabaseRestored, true, shopv1alpha1.ReasonRestored, retainedRestoreMessage(rs))
		}
	}
	if want := a.RestoreFrom; want != nil && (rs == nil || rs.SnapshotIdentifier != want.SnapshotIdentifier) && !rs.InProgress() {
		if !r.ackKindInstalled(gvkDBCluster) || !r.ackKindInstalled(gvkDBInstance) {
			return ctrl.Result{}, nil // the database phase says ACK is missing
		}
		var seq int64 = 1
		if rs != nil {
			seq = rs.Sequence + 1
		}
		rs = &shopv1alpha1.RestoreStatus{
			SnapshotIdentifier: want.SnapshotIdentifier,
			SnapshotImage:      snapshotImage(sf, want.SnapshotIdentifier),
			ClusterIdentifier:  restoredClusterIdentifier(sf, seq),
			Sequence:           seq,
			State:              shopv1alpha1.ReasonRestoring,
			ReplacedCluster:    currentClusterIdentifier(sf),
			StartTime:          metav1.Now(),
		}
		log.FromContext(ctx).Info("Restoring the database from a DB cluster snapshot", "snapshot", rs.SnapshotIdentifier, "cluster", rs.ClusterIdentifier, "replacing", rs.ReplacedCluster)
		sf.Status.Restore = rs
		s.setCondition(shopv1alpha1.ConditionDatabaseRestored, false, shopv1alpha1.ReasonRestoring, fmt.Sprintf(
			"Creating DB cluster %s from snapshot %s; the shop serves from %s meanwhile", rs.ClusterIdentifier, rs.SnapshotIdentifier, rs.ReplacedCluster))
		return ctrl.Result{RequeueAfter: restoreRecheck}, nil
	}
	if rs == nil {
		return ctrl.Result{}, nil
	}
	switch rs.State {
	case shopv1alpha1.ReasonRestoring, shopv1alpha1.ReasonRestoreSettingPassword:
		return r.advanceRestore(ctx, s)
	case shopv1alpha1.ReasonRestoreFailed:
		if rs.CompletionTime == nil {
			return r.removeRestoredCluster(ctx, s)
		}
	case shopv1alpha1.ReasonRestoreMigrating:
		return ctrl.Result{}, nil
	}
	// The restore ended: the restored cluster's live object keeps its engine version.
	if gone, err := r.removeRestoreSources(ctx, s); err != nil || !gone {
		return ctrl.Result{RequeueAfter: restoreRecheck}, err
	}
	return ctrl.Result{}, nil
}

// restoreFailure is why the new cluster cannot become the shop's database, or "": ACK
// gave up (Terminal), RDS failed the cluster, or RDS does not know the snapshot
// (DBClusterSnapshotNotFoundFault, which rds-controller retries for ever).
func restoreFailure(obj *unstructured.Unstructured, st ackState) string {
	if st.Ready {
		return ""
	}
	if failureReasons[st.Reason] {
		return st.Message
	}
	if c, ok := ackConditionOf(obj, ackConditionRecoverable); ok && c.Status == "True" && strings.Contains(c.text(), "DBClusterSnapshotNotFoundFault") {
		return st.Message
	}
	return ""
}

// advanceRestore creates the new cluster and its instance and waits until RDS has them
// available and ACK applied the master password, then switches the database phase to
// the new cluster.
func (r *StorefrontReconciler) advanceRestore(ctx context.Context, s *scope) (ctrl.Result, error) {
	sf := s.sf
	rs := sf.Status.Restore
	waitFor := func(reason, msg string) (ctrl.Result, error) {
		rs.State = reason
		s.setCondition(shopv1alpha1.ConditionDatabaseRestored, false, reason, msg)
		return ctrl.Result{RequeueAfter: restoreRecheck}, nil
	}
	passwords, err := r.listPasswords(ctx, sf)
	if err != nil {
		return ctrl.Result{}, err
	}
	if len(passwords) == 0 {
		return waitFor(shopv1alpha1.ReasonRestoring, "Waiting for the master password Secret before restoring")
	}
	newest := passwords[len(passwords)-1]
	eff := effective(sf)
	sgs := firstNonEmpty(sf.Spec.Database.Aurora.SecurityGroupIDs, eff.DBSecurityGroupIDs)
	desired := withProvisioningTag(sf, r.Options.ClusterName, desiredDBCluster(sf, r.Scheme, eff.Region, sgs, newest))
	if desired, err = r.withSnapshotEngineVersion(ctx, sf, forCluster(sf, desired, rs.ClusterIdentifier, rs.SnapshotIdentifier), rs.SnapshotIdentifier, rs.Sequence); err != nil {
		return ctrl.Result{}, err
	}
	// Without the version the cluster is created all the same (RestoreDBClusterFromSnapshot
	// takes the snapshot's, and RDS's answer to it is the one clear word on a snapshot that
	// does not exist: ACK reports nothing when an adoption finds nothing), and gets it
	// before it can be synced: a restore takes minutes, an adoption one read.
	awaiting := ""
	if specField(desired, "engineVersion") == "" {
		if awaiting, err = r.adoptRestoreSource(ctx, s); err != nil {
			return ctrl.Result{}, err
		}
	}
	spec := desired.Object["spec"].(map[string]any)
	// Until the switch the cluster may be deleted after a failure, so it is neither
	// protected nor worth a final snapshot (the snapshot holds its data); the database
	// phase applies the policy's protection and final snapshot at the switch.
	spec["deletionProtection"] = false
	an := desired.GetAnnotations()
	an[rdsAnnotationSkipFinalSnapshot] = "true"
	delete(an, rdsAnnotationFinalSnapshotID)
	desired.SetAnnotations(an)
	cluster, err := r.applyACK(ctx, desired)
	if err != nil {
		return ctrl.Result{}, err
	}
	host, _, _ := unstructured.NestedString(cluster.Object, pathDBClusterEndpoint...)
	st := readACKState(cluster, pathStatus, host)
	if cause := restoreFailure(cluster, st); cause != "" {
		if strings.Contains(cause, "DBClusterSnapshotNotFoundFault") {
			return r.failRestore(ctx, s, fmt.Sprintf("Snapshot %s does not exist in RDS%s, so DB cluster %s cannot be restored from it: %s",
				rs.SnapshotIdentifier, inRegion(desired), rs.ClusterIdentifier, cause))
		}
		return r.failRestore(ctx, s, fmt.Sprintf("Restoring snapshot %s as DB cluster %s failed: %s", rs.SnapshotIdentifier, rs.ClusterIdentifier, cause))
	}
	also := ""
	if awaiting != "" {
		also = "; waiting for " + awaiting
	}
	if !st.Ready || st.Maintenance != "" {
		return waitFor(shopv1alpha1.ReasonRestoring, fmt.Sprintf("Restoring snapshot %s as DB cluster %s: %s%s; the shop serves from %s meanwhile",
			rs.SnapshotIdentifier, rs.ClusterIdentifier, st.Message, also, rs.ReplacedCluster))
	}
	if awaiting != "" {
		// ACK syncs no restored cluster without a version (withSnapshotEngineVersion);
		// should one be ready all the same, the restore waits for its version.
		return waitFor(shopv1alpha1.ReasonRestoring, fmt.Sprintf("DB cluster %s is available; waiting for %s; the shop serves from %s meanwhile",
			rs.ClusterIdentifier, awaiting, rs.ReplacedCluster))
	}
	instance := forCluster(sf, withProvisioningTag(sf, r.Options.ClusterName, desiredDBInstance(sf, r.Scheme, eff.Region)), rs.ClusterIdentifier, "")
	if instance, err = r.applyACK(ctx, instance); err != nil {
		return ctrl.Result{}, err
	}
	address, _, _ := unstructured.NestedString(instance.Object, pathEndpointAddress...)
	ist := readACKState(instance, pathDBInstanceStatus, address)
	if cause := restoreFailure(instance, ist); cause != "" {
		return r.failRestore(ctx, s, fmt.Sprintf("The instance of restored DB cluster %s failed: %s", rs.ClusterIdentifier, cause))
	}
	if !ist.Ready {
		return waitFor(shopv1alpha1.ReasonRestoring, fmt.Sprintf("Restoring snapshot %s as DB cluster %s: %s; the shop serves from %s meanwhile",
			rs.SnapshotIdentifier, rs.ClusterIdentifier, ist.Message, rs.ReplacedCluster))
	}
	// The restored cluster has the master password of the snapshot's time; ACK sets the
	// referenced one at the sync after the restore (no last-applied annotation yet).
	applied := cluster.GetAnnotations()[rdsAnnotationLastAppliedSecret]
	if rs.State == shopv1alpha1.ReasonRestoring || applied != newest.ref() || !syncedAfter(cluster, newest.secret.CreationTimestamp) {
		return waitFor(shopv1alpha1.ReasonRestoreSettingPassword, fmt.Sprintf(
			"DB cluster %s is available; waiting for ACK to set the master password %s on it (the snapshot has the password of its time)",
			rs.ClusterIdentifier, newest.secret.Name))
	}
	rs.State = shopv1alpha1.ReasonRestoreMigrating
	log.FromContext(ctx).Info("Switching to the restored DB cluster", "cluster", rs.ClusterIdentifier, "snapshot", rs.SnapshotIdentifier)
	s.setCondition(shopv1alpha1.ConditionDatabaseRestored, false, shopv1alpha1.ReasonRestoreMigrating, restoreMigratingMessage(sf))
	return ctrl.Result{RequeueAfter: restoreRecheck}, nil
}

// inRegion is " in region <r>" for an ACK object with a region annotation, "" without
// (ACK's own region).
func inRegion(u *unstructured.Unstructured) string {
	if r := u.GetAnnotations()[ackAnnotationRegion]; r != "" {
		return " in region " + r
	}
	return ""
}

// restoreMigratingMessage explains RestoreMigrating: the served image's migration gate
// against the image recorded with the snapshot.
func restoreMigratingMessage(sf *shopv1alpha1.Storefront) string {
	rs := sf.Status.Restore
	was := "an image the operator did not record"
	if rs.SnapshotImage != "" {
		was = rs.SnapshotImage
	}
	if hibernating(sf) {
		// Migrations wait for the wake (a Job would resume the paused database).
		return fmt.Sprintf("The migrations of %s on restored DB cluster %s (snapshot %s, taken with the schema of %s) wait until the shop wakes (spec.hibernate: false); the shop then moves from %s",
			sf.Spec.Image, rs.ClusterIdentifier, rs.SnapshotIdentifier, was, rs.ReplacedCluster)
	}
	return fmt.Sprintf("Running the migrations of %s on restored DB cluster %s (snapshot %s, taken with the schema of %s; they also reset the application roles' passwords), then moving the pods from %s",
		sf.Spec.Image, rs.ClusterIdentifier, rs.SnapshotIdentifier, was, rs.ReplacedCluster)
}

// failRestore records a failed restore: the shop stays on (or goes back to) the
// replaced cluster and the new cluster is deleted.
func (r *StorefrontReconciler) failRestore(ctx context.Context, s *scope, msg string) (ctrl.Result, error) {
	sf := s.sf
	rs := sf.Status.Restore
	log.FromContext(ctx).Info("Restore failed; keeping the database", "cluster", rs.ClusterIdentifier, "keeping", rs.ReplacedCluster)
	rs.State = shopv1alpha1.ReasonRestoreFailed
	s.setCondition(shopv1alpha1.ConditionDatabaseRestored, false, shopv1alpha1.ReasonRestoreFailed, fmt.Sprintf(
		"%s. The shop stays on DB cluster %s; DB cluster %s is deleted. Set spec.database.aurora.restoreFrom to another snapshot to retry",
		msg, rs.ReplacedCluster, rs.ClusterIdentifier))
	return r.removeRestoredCluster(ctx, s)
}

// removeRestoredCluster deletes the new cluster of a failed restore and its instance,
// without a final snapshot (the snapshot it came from holds its data).
func (r *StorefrontReconciler) removeRestoredCluster(ctx context.Context, s *scope) (ctrl.Result, error) {
	rs := s.sf.Status.Restore
	name := clusterObjectName(s.sf, rs.ClusterIdentifier)
	skip := map[string]string{rdsAnnotationSkipFinalSnapshot: "true", ackAnnotationDeletionPolicy: ackDeletionPolicyDelete}
	instanceGone, err := r.deleteACKObject(ctx, s, gvkDBInstance, name, skip)
	if err != nil || !instanceGone {
		return ctrl.Result{RequeueAfter: restoreRecheck}, err
	}
	// A restore that failed after the switch (its migration) has the policy's
	// protection on the cluster, which RDS would refuse to delete for good.
	lifted, err := r.liftDeletionProtectionOf(ctx, s, name)
	if err != nil || !lifted {
		return ctrl.Result{RequeueAfter: restoreRecheck}, err
	}
	clusterGone, err := r.deleteACKObject(ctx, s, gvkDBCluster, name, skip)
	if err != nil || !clusterGone {
		return ctrl.Result{RequeueAfter: restoreRecheck}, err
	}
	sourcesGone, err := r.removeRestoreSources(ctx, s)
	if err != nil || !sourcesGone {
		return ctrl.Result{RequeueAfter: restoreRecheck}, err
	}
	now := metav1.Now()
	rs.CompletionTime = &now
	return ctrl.Result{}, nil
}

// finishRestore is the phase after the workload: a restore that switched ends Restored
// once the migration ran on the new cluster and the pods roll with its connection
// Secret; a failed migration fails the restore. Then the replaced cluster follows the
// deletion policy.
func (r *StorefrontReconciler) finishRestore(ctx context.Context, s *scope) (ctrl.Result, error) {
	sf := s.sf
	rs := sf.Status.Restore
	if rs == nil || sf.Spec.Database.Aurora == nil {
		return ctrl.Result{}, nil
	}
	switch rs.State {
	case shopv1alpha1.ReasonRestoreMigrating:
		if c := meta.FindStatusCondition(sf.Status.Conditions, shopv1alpha1.ConditionSchemaMigrated); s.dbSwitch.pending && c != nil && c.Reason == shopv1alpha1.ReasonMigrationFailed {
			sf.Status.FailedImage, sf.Status.FailedRetry = "", ""
			res, err := r.failRestore(ctx, s, fmt.Sprintf("The migrations of %s failed on restored DB cluster %s: %s", sf.Spec.Image, rs.ClusterIdentifier, c.Message))
			// The old cluster's migration state stands: SchemaMigrated is recomputed
			// on it at the next reconcile.
			return earliest(res, ctrl.Result{RequeueAfter: restoreRecheck}), err
		}
		m := sf.Status.Migration
		migrated := !s.dbSwitch.pending && s.databaseID != "" && m != nil && m.Database == s.databaseID
		// Restored once no pod is left that reads the previous connection Secret (a
		// terminating one still serves from the replaced cluster).
		moved := false
		if migrated {
			var err error
			if moved, err = r.loginRolledOut(ctx, s); err != nil {
				return ctrl.Result{}, err
			}
		}
		if !moved {
			s.setCondition(shopv1alpha1.ConditionDatabaseRestored, false, shopv1alpha1.ReasonRestoreMigrating, restoreMigratingMessage(sf))
			return ctrl.Result{RequeueAfter: restoreRecheck}, nil
		}
		now := metav1.Now()
		rs.State, rs.CompletionTime = shopv1alpha1.ReasonRestored, &now
		log.FromContext(ctx).Info("Restored the database from a DB cluster snapshot", "cluster", rs.ClusterIdentifier, "snapshot", rs.SnapshotIdentifier)
		s.setCondition(shopv1alpha1.ConditionDatabaseRestored, true, shopv1alpha1.ReasonRestored, fmt.Sprintf(
			"The shop serves from DB cluster %s, restored from snapshot %s; DB cluster %s is %s",
			rs.ClusterIdentifier, rs.SnapshotIdentifier, rs.ReplacedCluster, replacedFate(sf)))
		return r.disposeReplacedCluster(ctx, s)
	case shopv1alpha1.ReasonRestored:
		// An adopted restore (retainedRestore) replaced nothing of this Storefront's.
		if rs.ReplacedCluster != "" && rs.ReplacedClusterState != shopv1alpha1.ReplacedClusterRetained && rs.ReplacedClusterState != shopv1alpha1.ReplacedClusterDeleted {
			return r.disposeReplacedCluster(ctx, s)
		}
	}
	return ctrl.Result{}, nil
}

// replacedFate says what the deletion policy does with the replaced cluster.
func replacedFate(sf *shopv1alpha1.Storefront) string {
	if auroraDeletionPolicy(sf) == shopv1alpha1.DeletionPolicyRetain {
		return "kept (deletionPolicy Retain)"
	}
	return fmt.Sprintf("deleted after a final snapshot %s (deletionPolicy %s)",
		clusterFinalSnapshotIdentifier(sf, sf.Status.Restore.ReplacedCluster), auroraDeletionPolicy(sf))
}

// disposeReplacedCluster applies the deletion policy to the cluster the restore
// replaced: Retain releases its ACK objects (no owner reference, ACK's retain policy),
// Snapshot and Delete delete it after a final snapshot, never without one.
func (r *StorefrontReconciler) disposeReplacedCluster(ctx context.Context, s *scope) (ctrl.Result, error) {
	sf := s.sf
	rs := sf.Status.Restore
	if rs.ReplacedCluster == "" || rs.ReplacedCluster == rs.ClusterIdentifier {
		rs.ReplacedClusterState = shopv1alpha1.ReplacedClusterDeleted
		return ctrl.Result{}, nil
	}
	name := clusterObjectName(sf, rs.ReplacedCluster)
	if auroraDeletionPolicy(sf) == shopv1alpha1.DeletionPolicyRetain {
		for _, gvk := range []schema.GroupVersionKind{gvkDBInstance, gvkDBCluster} {
			if err := r.releaseACKObject(ctx, sf, gvk, name); err != nil {
				return ctrl.Result{}, err
			}
		}
		rs.ReplacedClusterState = shopv1alpha1.ReplacedClusterRetained
		return ctrl.Result{}, nil
	}
	rs.ReplacedClusterState = shopv1alpha1.ReplacedClusterDeleting
	gone, err := r.deleteACKObject(ctx, s, gvkDBInstance, name,
		map[string]string{rdsAnnotationSkipFinalSnapshot: "true", ackAnnotationDeletionPolicy: ackDeletionPolicyDelete})
	if err != nil || !gone {
		return ctrl.Result{RequeueAfter: restoreRecheck}, err
	}
	lifted, err := r.liftDeletionProtectionOf(ctx, s, name)
	if err != nil || !lifted {
		return ctrl.Result{RequeueAfter: restoreRecheck}, err
	}
	gone, err = r.deleteACKObject(ctx, s, gvkDBCluster, name, map[string]string{
		rdsAnnotationSkipFinalSnapshot: "false",
		rdsAnnotationFinalSnapshotID:   clusterFinalSnapshotIdentifier(sf, rs.ReplacedCluster),
		ackAnnotationDeletionPolicy:    ackDeletionPolicyDelete,
	})
	if err != nil || !gone {
		return ctrl.Result{RequeueAfter: restoreRecheck}, err
	}
	rs.ReplacedClusterState = shopv1alpha1.ReplacedClusterDeleted
	return ctrl.Result{}, nil
}

// releaseACKObject keeps an ACK object and its AWS resource for good: ACK's retain
// deletion policy, and no owner reference, so that deleting the Storefront leaves it.
func (r *StorefrontReconciler) releaseACKObject(ctx context.Context, sf *shopv1alpha1.Storefront, gvk schema.GroupVersionKind, name string) error {
	obj := newACKObject(gvk)
	if err := r.Get(ctx, client.ObjectKey{Namespace: sf.Namespace, Name: name}, obj); err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("reading %s %s: %w", gvk.Kind, name, err)
	}
	if !metav1.IsControlledBy(obj, sf) && obj.GetAnnotations()[ackAnnotationDeletionPolicy] == ackDeletionPolicyRetain {
		return nil
	}
	patch := client.MergeFrom(obj.DeepCopy())
	a := obj.GetAnnotations()
	if a == nil {
		a = map[string]string{}
	}
	a[ackAnnotationDeletionPolicy] = ackDeletionPolicyRetain
	obj.SetAnnotations(a)
	if err := controllerutil.RemoveControllerReference(sf, obj, r.Scheme); err != nil {
		return fmt.Errorf("releasing %s %s: %w", gvk.Kind, name, err)
	}
	log.FromContext(ctx).Info("Keeping the replaced DB cluster's ACK object (deletionPolicy Retain)", "kind", gvk.Kind, "name", name)
	if err := r.Patch(ctx, obj, patch, client.FieldOwner(fieldOwner)); err != nil {
		return fmt.Errorf("releasing %s %s: %w", gvk.Kind, name, err)
	}
	return nil
}
