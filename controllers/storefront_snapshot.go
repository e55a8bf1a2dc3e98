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

// Snapshots before migrations (issue 23, docs/architecture.md "Snapshots"): before the
// migration Job of a new image starts on Aurora, the operator takes an ACK
// DBClusterSnapshot and waits until RDS reports it available; the last five snapshots
// are kept in status.snapshots, older ones deleted. A failed snapshot, or one whose
// object someone deleted before it became available, stops the migration
// (SchemaMigrated=False/SnapshotFailed) until the retry-migration annotation changes.
// The SnapshotTaken Event follows the status, not the reconcile: it is emitted once the
// status write that records the snapshot available succeeded (emitSnapshotEvents).

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	ctrl "sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	shopv1alpha1 "github.com/storefront-operator/storefront/api/v1alpha1"
)

// +kubebuilder:rbac:groups=rds.services.k8s.aws,resources=dbclustersnapshots,verbs=get;list;watch;create;patch;delete

// gvkDBClusterSnapshot is rds-controller's manual DB cluster snapshot.
var gvkDBClusterSnapshot = schema.GroupVersionKind{Group: "rds.services.k8s.aws", Version: "v1alpha1", Kind: "DBClusterSnapshot"}

const (
	// maxSnapshots is how many snapshots status.snapshots keeps; older ones are deleted.
	maxSnapshots = 5
	// snapshotRecheck is how soon a creating snapshot is looked at again: snapshot
	// objects under the Retain and Snapshot policies have no owner reference, so their
	// changes bring no event.
	snapshotRecheck = 5 * time.Second
	// componentSnapshot labels the snapshot objects.
	componentSnapshot = "database-snapshot"
	// eventReasonSnapshotTaken is the Event of a snapshot that became available.
	eventReasonSnapshotTaken = "SnapshotTaken"
	// Snapshot states (RDS DBClusterSnapshot.Status), and "deleted" for a snapshot whose
	// object was deleted (not by the operator) before it became available.
	snapshotCreating  = "creating"
	snapshotAvailable = "available"
	snapshotFailed    = "failed"
	snapshotDeleted   = "deleted"
	// ackAnnotationAdopted is what ACK writes on a resource it adopted rather than
	// created (runtime apis/core/v1alpha1/annotations.go AnnotationAdopted).
	ackAnnotationAdopted = "services.k8s.aws/adopted"
)

// snapshotIdentifier is <aws-id>-pre-<8 hex of sha256(image)>-<8 hex of sha256(UID)>-<seq>:
// a valid RDS DB cluster snapshot identifier (a letter first, letters, digits and single
// hyphens, no trailing hyphen, at most 255 characters; awsIdentifier is at most 49) and a
// valid object name. The UID, as in final snapshots, keeps a Storefront created again
// under the same name (its sequence starts again) off its predecessor's snapshots, which
// Retain and Snapshot keep: the same name would take an old snapshot for the one before
// this migration, and retention would delete it.
func snapshotIdentifier(sf *shopv1alpha1.Storefront, image string, seq int64) string {
	return awsIdentifier(sf.Namespace, sf.Name) + "-pre-" + shortHash(image) + "-" + shortHash(string(sf.UID)) + "-" + strconv.FormatInt(seq, 10)
}

// onDemandSnapshotIdentifier is <aws-id>-manual-<8 hex of sha256(UID)>-<seq>.
func onDemandSnapshotIdentifier(sf *shopv1alpha1.Storefront, seq int64) string {
	return awsIdentifier(sf.Namespace, sf.Name) + "-manual-" + shortHash(string(sf.UID)) + "-" + strconv.FormatInt(seq, 10)
}

// snapshotPolicy is spec.migration.snapshot, Always when unset.
func snapshotPolicy(sf *shopv1alpha1.Storefront) shopv1alpha1.MigrationSnapshotPolicy {
	if p := sf.Spec.Migration.Snapshot; p != "" {
		return p
	}
	return shopv1alpha1.MigrationSnapshotAlways
}

// desiredDBClusterSnapshot is the snapshot object: labelled, tagged; under Delete
// controlled by the Storefront (it goes with it, and the snapshot in AWS with it), under
// Retain and Snapshot without an owner reference and with ACK's retain policy, so that
// deleting the Storefront never deletes a snapshot in AWS.
func desiredDBClusterSnapshot(sf *shopv1alpha1.Storefront, region, cluster, id, clusterName string) *unstructured.Unstructured {
	u := newACKObject(gvkDBClusterSnapshot)
	u.SetName(id)
	u.SetNamespace(sf.Namespace)
	u.SetLabels(labels(sf, componentSnapshot))
	a := map[string]string{ackAnnotationDeletionPolicy: ackDeletionPolicyRetain}
	if auroraDeletionPolicy(sf) == shopv1alpha1.DeletionPolicyDelete {
		a[ackAnnotationDeletionPolicy] = ackDeletionPolicyDelete
		own(sf, u)
	}
	if region != "" {
		a[ackAnnotationRegion] = region
	}
	u.SetAnnotations(a)
	u.Object["spec"] = map[string]any{
		"dbClusterIdentifier":         cluster,
		"dbClusterSnapshotIdentifier": id,
		"tags":                        costTags(sf, clusterName),
	}
	return u
}

// snapshotStep is what the snapshot before a migration lets the migration do.
type snapshotStep struct {
	// proceed: the Job may start.
	proceed bool
	// reason and message are SchemaMigrated's while it may not.
	reason, message string
	// note is added to SchemaMigrated's message when the Job starts.
	note string
	// requeue: look again shortly.
	requeue bool
}

// snapshotBeforeMigration takes, or waits for, the snapshot that precedes the migration
// of image. An upgrade of an Aurora database (a migrated image before) is snapshotted,
// and so is the first migration on a DB cluster ACK adopted (a Retain deletion kept it,
// or it was adopted on purpose: it holds data); the first migration on a cluster the
// operator created runs on an empty database and takes none. The entry's
// MigrationStarted is set by the caller once the Job exists (snapshotUsed).
func (r *StorefrontReconciler) snapshotBeforeMigration(ctx context.Context, s *scope, image, retry string) (snapshotStep, error) {
	sf := s.sf
	if noSnapshotNote(sf) != "" {
		return snapshotStep{proceed: true}, nil
	}
	if sf.Status.MigratedImage == "" {
		adopted, err := r.adoptedDatabase(ctx, sf)
		if err != nil || !adopted {
			return snapshotStep{proceed: true}, err
		}
	}
	if !r.ackKindInstalled(gvkDBClusterSnapshot) {
		return snapshotStep{reason: shopv1alpha1.ReasonSnapshotFailed,
			message: fmt.Sprintf("Cannot snapshot the database before migrating %s: %s", image, ackNotInstalledMessage(gvkDBClusterSnapshot))}, nil
	}
	entry := pendingSnapshot(sf, image)
	if entry != nil && (entry.State == snapshotFailed || entry.State == snapshotDeleted) {
		if entry.Retry == retry {
			msg := failedSnapshotMessage(sf, entry.Identifier, image)
			if entry.State == snapshotDeleted {
				msg = deletedSnapshotMessage(entry.Identifier, image)
			}
			return snapshotStep{reason: shopv1alpha1.ReasonSnapshotFailed, message: msg}, nil
		}
		entry = nil // a new retry value: another snapshot
	}
	if entry == nil {
		id, err := r.takeSnapshot(ctx, s, image, retry)
		if err != nil {
			return snapshotStep{}, err
		}
		return snapshotStep{reason: shopv1alpha1.ReasonTakingSnapshot, requeue: true,
			message: fmt.Sprintf("Taking DB cluster snapshot %s before migrating %s", id, image)}, nil
	}
	obj, err := r.snapshotObject(ctx, sf, entry.Identifier)
	if err != nil {
		return snapshotStep{}, err
	}
	if obj == nil || !obj.GetDeletionTimestamp().IsZero() {
		// Someone deleted it. Not taken again on its own: whatever deleted it may do so
		// again (a loop of snapshots, each billed), and whoever did it may not want
		// the migration to run; a new retry-migration value says so, as after a
		// failed snapshot.
		entry.State = snapshotDeleted
		return snapshotStep{reason: shopv1alpha1.ReasonSnapshotFailed, message: deletedSnapshotMessage(entry.Identifier, image)}, nil
	}
	state, _, _ := unstructured.NestedString(obj.Object, pathStatus...)
	if t, ok := ackConditionOf(obj, ackConditionTerminal); ok && t.Status == string(metav1.ConditionTrue) {
		state = snapshotFailed
		entry.State = state
		msg := fmt.Sprintf("The DB cluster snapshot %s before the migration of %s failed: %s; the migration does not start (a new %s value takes another snapshot)",
			entry.Identifier, image, t.text(), shopv1alpha1.AnnotationRetryMigration)
		return snapshotStep{reason: shopv1alpha1.ReasonSnapshotFailed, message: msg}, nil
	}
	if state != "" {
		entry.State = state
	}
	switch state {
	case snapshotAvailable:
		log.FromContext(ctx).Info("Snapshot taken before migrating", "snapshot", entry.Identifier, "image", image)
		return snapshotStep{proceed: true, note: "after DB cluster snapshot " + entry.Identifier}, nil
	case snapshotFailed:
		msg := fmt.Sprintf("The DB cluster snapshot %s before the migration of %s failed: RDS reports it %s; the migration does not start (a new %s value takes another snapshot)",
			entry.Identifier, image, state, shopv1alpha1.AnnotationRetryMigration)
		return snapshotStep{reason: shopv1alpha1.ReasonSnapshotFailed, message: msg}, nil
	}
	return snapshotStep{reason: shopv1alpha1.ReasonTakingSnapshot, requeue: true,
		message: fmt.Sprintf("Waiting for DB cluster snapshot %s (%s) before migrating %s", entry.Identifier, orDefault(state, "requested"), image)}, nil
}

// pendingSnapshot is the last snapshot taken before the migration of image whose Job
// has not started yet; nil if there is none.
func pendingSnapshot(sf *shopv1alpha1.Storefront, image string) *shopv1alpha1.SnapshotStatus {
	for i := len(sf.Status.Snapshots) - 1; i >= 0; i-- {
		if e := &sf.Status.Snapshots[i]; e.ForImage == image && !e.MigrationStarted {
			return e
		}
	}
	return nil
}

// snapshotUsed records that the migration Job of image exists, so the available
// snapshot before it is used up: another migration of image takes a new one. It is
// called once the Job was created or is seen, never before: a status that said so
// while the Job's creation failed would make the next reconcile take a second snapshot.
func snapshotUsed(sf *shopv1alpha1.Storefront, image string) {
	if e := pendingSnapshot(sf, image); e != nil && e.State == snapshotAvailable {
		e.MigrationStarted = true
	}
}

// adoptedDatabase reports whether ACK adopted the shop's DB cluster instead of creating
// it: a database with data before this Storefront's first migration.
func (r *StorefrontReconciler) adoptedDatabase(ctx context.Context, sf *shopv1alpha1.Storefront) (bool, error) {
	if sf.Spec.Database.Aurora == nil {
		return false, nil
	}
	cluster := newACKObject(gvkDBCluster)
	name := currentClusterObjectName(sf)
	if err := r.objectReader().Get(ctx, ctrl.ObjectKey{Namespace: sf.Namespace, Name: name}, cluster); err != nil {
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		return false, fmt.Errorf("reading DBCluster %s: %w", name, err)
	}
	return cluster.GetAnnotations()[ackAnnotationAdopted] == "true", nil
}

// snapshotObject reads the DBClusterSnapshot id; nil when it does not exist. The cache
// may not have seen one just created, so its NotFound is confirmed past the cache.
func (r *StorefrontReconciler) snapshotObject(ctx context.Context, sf *shopv1alpha1.Storefront, id string) (*unstructured.Unstructured, error) {
	obj := newACKObject(gvkDBClusterSnapshot)
	key := ctrl.ObjectKey{Namespace: sf.Namespace, Name: id}
	err := r.objectReader().Get(ctx, key, obj)
	if apierrors.IsNotFound(err) && r.APIReader != nil {
		err = r.APIReader.Get(ctx, key, obj)
	}
	switch {
	case err == nil:
		return obj, nil
	case apierrors.IsNotFound(err) && r.APIReader != nil:
		return nil, nil
	case apierrors.IsNotFound(err):
		// Without a reader past the cache a NotFound proves nothing: wait.
		return newACKObject(gvkDBClusterSnapshot), nil
	}
	return nil, fmt.Errorf("reading DBClusterSnapshot %s: %w", id, err)
}

// deletedSnapshotMessage is SchemaMigrated's message when the snapshot before the
// migration of image was deleted before it became available.
func deletedSnapshotMessage(id, image string) string {
	return fmt.Sprintf("The DB cluster snapshot %s before the migration of %s was deleted before it became available (its DBClusterSnapshot object is gone); "+
		"the migration does not start (a new %s value takes another snapshot)", id, image, shopv1alpha1.AnnotationRetryMigration)
}

// noSnapshotNote says, while a migration runs, why no snapshot preceded it: an external
// database, or spec.migration.snapshot Never.
func noSnapshotNote(sf *shopv1alpha1.Storefront) string {
	switch {
	case sf.Spec.Database.Aurora == nil:
		return "no snapshot is taken of an external database"
	case snapshotPolicy(sf) == shopv1alpha1.MigrationSnapshotNever:
		return "no snapshot was taken (spec.migration.snapshot: Never)"
	}
	return ""
}

// failedSnapshotMessage keeps the message recorded when the snapshot failed.
func failedSnapshotMessage(sf *shopv1alpha1.Storefront, id, image string) string {
	for _, c := range sf.Status.Conditions {
		if c.Type == shopv1alpha1.ConditionSchemaMigrated && c.Reason == shopv1alpha1.ReasonSnapshotFailed && c.Message != "" {
			return c.Message
		}
	}
	return fmt.Sprintf("The DB cluster snapshot %s before the migration of %s failed; the migration does not start (a new %s value takes another snapshot)",
		id, image, shopv1alpha1.AnnotationRetryMigration)
}

// takeSnapshot creates the next snapshot object, before the migration of forImage
// ("" for an on-demand one), records it and deletes those beyond maxSnapshots.
func (r *StorefrontReconciler) takeSnapshot(ctx context.Context, s *scope, forImage, retry string) (string, error) {
	sf := s.sf
	seq := sf.Status.SnapshotSequence + 1
	id := onDemandSnapshotIdentifier(sf, seq)
	if forImage != "" {
		id = snapshotIdentifier(sf, forImage, seq)
	}
	obj := desiredDBClusterSnapshot(sf, effective(sf).Region, currentClusterIdentifier(sf), id, r.Options.ClusterName)
	log.FromContext(ctx).Info("Creating DB cluster snapshot", "snapshot", id, "image", sf.Status.MigratedImage, "before", forImage)
	if err := r.Create(ctx, obj, ctrl.FieldOwner(fieldOwner)); err != nil && !apierrors.IsAlreadyExists(err) {
		return "", fmt.Errorf("creating DBClusterSnapshot %s: %w", id, err)
	}
	sf.Status.SnapshotSequence = seq
	sf.Status.Snapshots = append(sf.Status.Snapshots, shopv1alpha1.SnapshotStatus{
		Identifier: id, Image: sf.Status.MigratedImage, ForImage: forImage, Time: metav1.Now(), State: snapshotCreating, Retry: retry,
	})
	for len(sf.Status.Snapshots) > maxSnapshots {
		i := oldestExpendableSnapshot(sf)
		if i < 0 {
			break
		}
		if err := r.deleteSnapshot(ctx, sf, sf.Status.Snapshots[i].Identifier); err != nil {
			return "", err
		}
		sf.Status.Snapshots = slices.Delete(sf.Status.Snapshots, i, i+1)
	}
	return id, nil
}

// oldestExpendableSnapshot is the index of the oldest snapshot in status.snapshots that
// retention may delete, -1 if none: the one spec.database.aurora.restoreFrom names is
// kept (a restore from it may not have started or ended), even beyond maxSnapshots.
func oldestExpendableSnapshot(sf *shopv1alpha1.Storefront) int {
	keep := ""
	if a := sf.Spec.Database.Aurora; a != nil && a.RestoreFrom != nil {
		keep = a.RestoreFrom.SnapshotIdentifier
	}
	return slices.IndexFunc(sf.Status.Snapshots, func(e shopv1alpha1.SnapshotStatus) bool { return e.Identifier != keep })
}

// deleteSnapshot deletes a snapshot the operator took, in AWS too: a retained one's
// deletion policy is turned to delete first (ACK reads it when the object goes).
func (r *StorefrontReconciler) deleteSnapshot(ctx context.Context, sf *shopv1alpha1.Storefront, id string) error {
	obj := newACKObject(gvkDBClusterSnapshot)
	if err := r.objectReader().Get(ctx, ctrl.ObjectKey{Namespace: sf.Namespace, Name: id}, obj); err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("reading DBClusterSnapshot %s: %w", id, err)
	}
	if obj.GetLabels()[labelInstance] != sf.Name || !obj.GetDeletionTimestamp().IsZero() {
		return nil
	}
	if obj.GetAnnotations()[ackAnnotationDeletionPolicy] != ackDeletionPolicyDelete {
		patch := ctrl.MergeFrom(obj.DeepCopy())
		a := obj.GetAnnotations()
		a[ackAnnotationDeletionPolicy] = ackDeletionPolicyDelete
		obj.SetAnnotations(a)
		if err := r.Patch(ctx, obj, patch); err != nil {
			return fmt.Errorf("setting the deletion policy of DBClusterSnapshot %s: %w", id, err)
		}
	}
	log.FromContext(ctx).Info("Deleting old DB cluster snapshot", "snapshot", id)
	if err := r.Delete(ctx, obj); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting DBClusterSnapshot %s: %w", id, err)
	}
	return nil
}

// Tag keys of the cost allocation tags on every AWS resource the operator creates
// through ACK.
const (
	tagKeyNamespace = "storefront.dev/namespace"
	tagKeyName      = "storefront.dev/name"
	tagKeyCluster   = "storefront.dev/cluster"
)

// costTags are the cost allocation tags of sf's AWS resources: its namespace and name,
// and the operator's --cluster-name when set, in ACK's tag list form.
func costTags(sf *shopv1alpha1.Storefront, clusterName string) []any {
	tags := []any{
		map[string]any{"key": tagKeyNamespace, "value": sf.Namespace},
		map[string]any{"key": tagKeyName, "value": sf.Name},
	}
	if clusterName != "" {
		tags = append(tags, map[string]any{"key": tagKeyCluster, "value": clusterName})
	}
	return tags
}

// reconcileOnDemandSnapshot takes a snapshot whenever the shop.storefront.dev/snapshot
// annotation takes a value not handled before (Aurora only), and follows the states of
// the snapshots taken.
func (r *StorefrontReconciler) reconcileOnDemandSnapshot(ctx context.Context, s *scope) (bool, error) {
	sf := s.sf
	want := strings.TrimSpace(sf.Annotations[shopv1alpha1.AnnotationSnapshot])
	if sf.Spec.Database.Aurora == nil || want == "" || want == sf.Status.SnapshotRequest || s.database == nil || !r.ackKindInstalled(gvkDBClusterSnapshot) {
		return r.refreshSnapshotStates(ctx, sf), nil
	}
	if _, err := r.takeSnapshot(ctx, s, "", ""); err != nil {
		return false, err
	}
	sf.Status.SnapshotRequest = want
	return true, nil
}

// refreshSnapshotStates copies RDS's status of the recorded snapshots into
// status.snapshots (deleted for one whose object is gone); true while one is creating.
func (r *StorefrontReconciler) refreshSnapshotStates(ctx context.Context, sf *shopv1alpha1.Storefront) bool {
	creating := false
	for i := range sf.Status.Snapshots {
		e := &sf.Status.Snapshots[i]
		if e.State != snapshotCreating && e.State != "" {
			continue
		}
		obj, err := r.snapshotObject(ctx, sf, e.Identifier)
		switch {
		case err != nil:
			creating = true
			continue
		case obj == nil || !obj.GetDeletionTimestamp().IsZero():
			e.State = snapshotDeleted
			continue
		}
		if st, _, _ := unstructured.NestedString(obj.Object, pathStatus...); st != "" {
			e.State = st
		}
		if e.State == snapshotCreating {
			creating = true
		}
	}
	return creating
}

// emitSnapshotEvents emits SnapshotTaken for each snapshot the status now records
// available and the previous status did not. It runs after the status write
// succeeded: that write is refused when the status changed meanwhile (optimistic
// lock), so each snapshot becomes available in exactly one written status, and a
// reconcile whose write was refused emits nothing and is followed by one that
// sees the snapshot available again.
func (r *StorefrontReconciler) emitSnapshotEvents(before, after *shopv1alpha1.Storefront) {
	if r.Recorder == nil {
		return
	}
	was := map[string]string{}
	for _, e := range before.Status.Snapshots {
		was[e.Identifier] = e.State
	}
	for _, e := range after.Status.Snapshots {
		if e.State != snapshotAvailable || was[e.Identifier] == snapshotAvailable {
			continue
		}
		related := newACKObject(gvkDBClusterSnapshot)
		related.SetNamespace(after.Namespace)
		related.SetName(e.Identifier)
		of := ""
		if e.Image != "" {
			of = " of " + e.Image
		}
		if e.ForImage == "" {
			r.Recorder.Eventf(after, related, corev1.EventTypeNormal, eventReasonSnapshotTaken, "Reconcile",
				"DB cluster snapshot %s%s is available", e.Identifier, of)
			continue
		}
		r.Recorder.Eventf(after, related, corev1.EventTypeNormal, eventReasonSnapshotTaken, "Reconcile",
			"DB cluster snapshot %s%s is available; migrating %s", e.Identifier, of, e.ForImage)
	}
}

// reconcileSnapshots is the phase of on-demand snapshots and of the snapshots' states.
func (r *StorefrontReconciler) reconcileSnapshots(ctx context.Context, s *scope) (reconcile.Result, error) {
	creating, err := r.reconcileOnDemandSnapshot(ctx, s)
	if err != nil || !creating {
		return reconcile.Result{}, err
	}
	return reconcile.Result{RequeueAfter: snapshotRecheck}, nil
}

// withCostTags puts the cost allocation tags on an ACK object whose tags are spec.tags
// (ACM's Certificate, CloudFront's Distribution). CloudFront's OriginAccessControl and
// CachePolicy cannot be tagged: their CRDs have no tags field, as the AWS APIs have none.
func withCostTags(sf *shopv1alpha1.Storefront, clusterName string, u *unstructured.Unstructured) *unstructured.Unstructured {
	if spec, ok := u.Object["spec"].(map[string]any); ok {
		spec["tags"] = costTags(sf, clusterName)
	}
	return u
}

// withBucketCostTags puts the cost allocation tags on an S3 Bucket, whose tags are
// spec.tagging.tagSet (s3-controller's PutBucketTagging shape).
func withBucketCostTags(sf *shopv1alpha1.Storefront, clusterName string, u *unstructured.Unstructured) *unstructured.Unstructured {
	if spec, ok := u.Object["spec"].(map[string]any); ok {
		spec["tagging"] = map[string]any{"tagSet": costTags(sf, clusterName)}
	}
	return u
}
