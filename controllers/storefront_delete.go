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
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/log"

	shopv1alpha1 "github.com/storefront-operator/storefront/api/v1alpha1"
)

// deletionStep removes one group of objects. It reports done once they are all gone;
// until then the Storefront keeps its finalizer and the watches bring us back as each
// object goes.
type deletionStep struct {
	name string
	run  func(ctx context.Context, s *scope) (done bool, err error)
}

// deletionSteps run in order: the workload first so that nothing uses the data stores
// while they go, then the ACK stores, each waiting for ACK to let go of the one before
// (RDS refuses to delete a cluster that has instances, or a subnet group in use), then
// the Secrets.
func (r *StorefrontReconciler) deletionSteps() []deletionStep {
	return []deletionStep{
		{"workload", r.deleteWorkload},
		{"CDN", r.deleteCDN},
		{"images bucket", r.deleteImagesBucket},
		{"cache", r.deleteServerlessCache},
		{"cache users", r.deleteCacheUsers},
		{"restore", r.settleRestore},
		{"restore's snapshot objects", r.removeRestoreSources},
		{"database instance", r.deleteDBInstance},
		{"database cluster", r.deleteDBCluster},
		{"DB subnet group", r.deleteDBSubnetGroup},
		{"secrets", r.deleteSecrets},
	}
}

// reconcileDelete removes what the Storefront owns, step by step, then releases it.
func (r *StorefrontReconciler) reconcileDelete(ctx context.Context, sf *shopv1alpha1.Storefront) (_ ctrl.Result, retErr error) {
	if !controllerutil.ContainsFinalizer(sf, shopv1alpha1.Finalizer) {
		return ctrl.Result{}, nil
	}
	s := &scope{sf: sf}
	before := sf.DeepCopy()
	released := false
	defer func() {
		if released {
			phaseMetrics.forget(client.ObjectKeyFromObject(sf))
			return
		}
		if err := r.writeStatus(ctx, before, sf); err != nil && retErr == nil {
			retErr = err
		}
	}()
	sf.Status.Phase = shopv1alpha1.PhaseDeleting
	for _, step := range r.deletionSteps() {
		done, err := step.run(ctx, s)
		if err != nil {
			reconcileErrors.WithLabelValues("delete-" + step.name).Inc()
			s.setCondition(shopv1alpha1.ConditionReady, false, shopv1alpha1.ReasonDeleting,
				fmt.Sprintf("Deleting the %s: %v", step.name, err))
			return ctrl.Result{}, fmt.Errorf("deleting the %s: %w", step.name, err)
		}
		if !done {
			msg := fmt.Sprintf("Waiting for the %s to be deleted", step.name)
			if s.waitingOn != "" {
				msg += ": " + s.waitingOn
			}
			s.setCondition(shopv1alpha1.ConditionReady, false, shopv1alpha1.ReasonDeleting, msg)
			return ctrl.Result{}, nil
		}
	}
	log.FromContext(ctx).Info("Removing finalizer")
	patch := client.MergeFromWithOptions(sf.DeepCopy(), client.MergeFromWithOptimisticLock{})
	controllerutil.RemoveFinalizer(sf, shopv1alpha1.Finalizer)
	if err := r.Patch(ctx, sf, patch); err != nil && !apierrors.IsNotFound(err) {
		return ctrl.Result{}, fmt.Errorf("removing finalizer: %w", err)
	}
	released = true
	return ctrl.Result{}, nil
}

// deleteWorkload deletes the Ingress, autoscaler, Deployment, Service, NetworkPolicies
// and the migration and login Jobs (with their pods).
func (r *StorefrontReconciler) deleteWorkload(ctx context.Context, s *scope) (bool, error) {
	sf := s.sf
	shop := objectName(sf, roleShop)
	objs := []namedObject{
		{&networkingv1.Ingress{}, shop},
		{&autoscalingv2.HorizontalPodAutoscaler{}, shop},
		{&policyv1.PodDisruptionBudget{}, shop},
		{&appsv1.Deployment{}, shop},
		{&corev1.Service{}, shop},
		{&networkingv1.NetworkPolicy{}, shop},
		{&networkingv1.NetworkPolicy{}, objectName(sf, roleMigrate)},
	}
	jobs, err := r.databaseJobs(ctx, sf)
	if err != nil {
		return false, err
	}
	for i := range jobs {
		objs = append(objs, namedObject{&jobs[i], jobs[i].Name})
	}
	return r.deleteAll(ctx, sf, objs)
}

// deleteSecrets deletes the generated Secrets and the ServiceAccount, last, since the
// workload used them. The master password Secrets and <name>-app go only under the
// Delete policy; under Retain and Snapshot they are released (no owner reference) and
// kept, so that the kept database or snapshot can still be opened, and its sealed TOTP
// secrets with it, by the Storefront created again. Under Delete too, the password of a
// cluster an earlier Retain kept stays (keptPasswords).
func (r *StorefrontReconciler) deleteSecrets(ctx context.Context, s *scope) (bool, error) {
	sf := s.sf
	objs := []namedObject{
		{&corev1.Secret{}, objectName(sf, roleConnection)},
		{&corev1.ServiceAccount{}, objectName(sf, roleShop)},
	}
	app := &corev1.Secret{}
	switch err := r.Get(ctx, client.ObjectKey{Namespace: sf.Namespace, Name: objectName(sf, roleApp)}, app); {
	case apierrors.IsNotFound(err):
	case err != nil:
		return false, fmt.Errorf("reading secret %s: %w", objectName(sf, roleApp), err)
	default:
		// Settled first for the same reason as the passwords below.
		if err := r.ownUnlessKept(ctx, sf, app, keepsAppSecret(sf)); err != nil {
			return false, err
		}
		if !keepsAppSecret(sf) {
			objs = append(objs, namedObject{&corev1.Secret{}, app.Name})
		}
	}
	passwords, err := r.listPasswords(ctx, sf)
	if err != nil {
		return false, err
	}
	others, err := r.keptPasswords(ctx, sf)
	if err != nil {
		return false, err
	}
	for _, p := range passwords {
		// The policy may have changed while nothing reconciled (paused): settle the owner
		// reference first, so that neither the finalizer nor the garbage collector
		// deletes a password the policy keeps.
		if err := r.ownPasswordPerPolicy(ctx, sf, p.secret, others); err != nil {
			return false, err
		}
		if !keepsDatabase(sf) && !others[p.secret.Name] {
			objs = append(objs, namedObject{&corev1.Secret{}, p.secret.Name})
		}
	}
	if sf.Spec.Database.Aurora != nil {
		if err := r.recordRetainedCluster(ctx, sf, passwords); err != nil {
			return false, err
		}
	}
	return r.deleteAll(ctx, sf, objs)
}

// deleteServerlessCache deletes the cache (whatever the policy: it holds only cached
// data) and waits for ACK.
func (r *StorefrontReconciler) deleteServerlessCache(ctx context.Context, s *scope) (bool, error) {
	return r.deleteACKObject(ctx, s, gvkServerlessCache, objectName(s.sf, roleCache), nil)
}

// deleteDBInstance deletes the cluster's instance and waits for ACK.
func (r *StorefrontReconciler) deleteDBInstance(ctx context.Context, s *scope) (bool, error) {
	return r.deleteACKObject(ctx, s, gvkDBInstance, currentClusterObjectName(s.sf),
		map[string]string{rdsAnnotationSkipFinalSnapshot: "true"})
}

// deleteDBCluster deletes the cluster, after a final snapshot unless the policy is
// Delete, and waits for ACK. A protected cluster is first unprotected, unless the
// policy is Retain (ACK then deletes nothing, and the kept cluster stays protected).
func (r *StorefrontReconciler) deleteDBCluster(ctx context.Context, s *scope) (bool, error) {
	if auroraDeletionPolicy(s.sf) != shopv1alpha1.DeletionPolicyRetain {
		lifted, err := r.liftDeletionProtectionOf(ctx, s, currentClusterObjectName(s.sf))
		if err != nil || !lifted {
			return false, err
		}
	}
	annotations := dbClusterSnapshotAnnotations(s.sf)
	if _, ok := annotations[rdsAnnotationFinalSnapshotID]; ok {
		// A restored cluster's final snapshot has a name of its own (storefront_restore.go).
		annotations[rdsAnnotationFinalSnapshotID] = clusterFinalSnapshotIdentifier(s.sf, currentClusterIdentifier(s.sf))
	}
	return r.deleteACKObject(ctx, s, gvkDBCluster, currentClusterObjectName(s.sf), annotations)
}

// annotationProtectionLifted on the DBCluster records when the finalizer set
// deletionProtection false.
const annotationProtectionLifted = "shop.storefront.dev/deletion-protection-lifted"

// liftDeletionProtectionOf sets the DBCluster name's deletionProtection false and reports true
// once AWS has it: ACK reported the cluster synced and available after the change. RDS
// refuses to delete a protected cluster with InvalidParameterCombination, which
// rds-controller takes as terminal (generator.yaml terminal_codes): a delete sent too
// early would never be retried.
func (r *StorefrontReconciler) liftDeletionProtectionOf(ctx context.Context, s *scope, name string) (bool, error) {
	sf := s.sf
	if !r.ackKindInstalled(gvkDBCluster) {
		return true, nil
	}
	obj := newACKObject(gvkDBCluster)
	if err := r.Get(ctx, client.ObjectKey{Namespace: sf.Namespace, Name: name}, obj); err != nil {
		if apierrors.IsNotFound(err) {
			return true, nil
		}
		return false, fmt.Errorf("reading DBCluster %s: %w", name, err)
	}
	if !metav1.IsControlledBy(obj, sf) || !obj.GetDeletionTimestamp().IsZero() {
		return true, nil
	}
	protected, _, _ := unstructured.NestedBool(obj.Object, "spec", "deletionProtection")
	liftedAt := obj.GetAnnotations()[annotationProtectionLifted]
	if protected || liftedAt == "" {
		if !protected && liftedAt == "" {
			// Never protected (policy Delete from the start): nothing to wait for.
			return true, nil
		}
		patch := client.MergeFrom(obj.DeepCopy())
		_ = unstructured.SetNestedField(obj.Object, false, "spec", "deletionProtection")
		annotations := obj.GetAnnotations()
		if annotations == nil {
			annotations = map[string]string{}
		}
		annotations[annotationProtectionLifted] = time.Now().UTC().Truncate(time.Second).Format(time.RFC3339)
		obj.SetAnnotations(annotations)
		log.FromContext(ctx).Info("Lifting the deletion protection of the DBCluster", "name", name)
		if err := r.Patch(ctx, obj, patch, client.FieldOwner(fieldOwner)); err != nil {
			return false, fmt.Errorf("lifting the deletion protection of DBCluster %s: %w", name, err)
		}
		s.waitingOn = fmt.Sprintf("lifting the deletion protection of DBCluster %s", name)
		return false, nil
	}
	at, err := time.Parse(time.RFC3339, liftedAt)
	if err != nil {
		return false, fmt.Errorf("DBCluster %s: annotation %s: %w", name, annotationProtectionLifted, err)
	}
	own, _, _ := unstructured.NestedString(obj.Object, pathStatus...)
	if !strings.EqualFold(own, "available") || !syncedSince(obj, at) {
		s.waitingOn = fmt.Sprintf("waiting for ACK to lift the deletion protection of DBCluster %s (status %s)", name, orDefault(own, "unknown"))
		return false, nil
	}
	return true, nil
}

// deleteDBSubnetGroup deletes the subnet group and waits for ACK.
func (r *StorefrontReconciler) deleteDBSubnetGroup(ctx context.Context, s *scope) (bool, error) {
	var extra map[string]string
	kept, err := r.clusterKeptInSubnetGroup(ctx, s.sf)
	if err != nil {
		return false, err
	}
	if kept != "" {
		// RDS refuses to delete a subnet group a cluster is in, and ACK retries that
		// for ever: the group stays in AWS with the cluster.
		log.FromContext(ctx).Info("Keeping the DB subnet group: a retained DB cluster is in it", "dbCluster", kept)
		extra = map[string]string{ackAnnotationDeletionPolicy: ackDeletionPolicyRetain}
	}
	return r.deleteACKObject(ctx, s, gvkDBSubnetGroup, objectName(s.sf, roleDatabase), extra)
}

// clusterKeptInSubnetGroup is the name of another DBCluster object of the Storefront
// (otherDBClusters) that still stands and is in the Storefront's subnet group: a
// replaced cluster a restore released under Retain (this Storefront's or, re-created,
// its predecessor's) while the policy is now another. "" if none.
func (r *StorefrontReconciler) clusterKeptInSubnetGroup(ctx context.Context, sf *shopv1alpha1.Storefront) (string, error) {
	others, err := r.otherDBClusters(ctx, sf)
	if err != nil {
		return "", err
	}
	group := awsIdentifier(sf.Namespace, sf.Name)
	for i := range others {
		if c := &others[i]; c.GetDeletionTimestamp().IsZero() && specField(c, "dbSubnetGroupName") == group {
			return c.GetName(), nil
		}
	}
	return "", nil
}

// settleRestore ends a restore the deletion finds unfinished, so that the deletion
// policy applies to the cluster the shop's pods use and no other cluster of the
// Storefront is left in the subnet group (RDS refuses to delete a group in use, and ACK
// retries that for ever). Before the pods moved (Restoring, RestoreSettingPassword,
// RestoreMigrating) the restore is abandoned as a failed one is: its new cluster is
// deleted without a final snapshot (the snapshot holds its data; the pods' writes are
// in the replaced cluster, which the policy then takes). A finished restore whose
// replaced cluster was not yet released or deleted finishes that first.
func (r *StorefrontReconciler) settleRestore(ctx context.Context, s *scope) (bool, error) {
	sf := s.sf
	rs := sf.Status.Restore
	if rs == nil || sf.Spec.Database.Aurora == nil {
		return true, nil
	}
	switch rs.State {
	case shopv1alpha1.ReasonRestoring, shopv1alpha1.ReasonRestoreSettingPassword, shopv1alpha1.ReasonRestoreMigrating:
		log.FromContext(ctx).Info("Abandoning the restore: the Storefront is being deleted", "cluster", rs.ClusterIdentifier, "keeping", rs.ReplacedCluster)
		rs.State = shopv1alpha1.ReasonRestoreFailed
		s.setCondition(shopv1alpha1.ConditionDatabaseRestored, false, shopv1alpha1.ReasonRestoreFailed, fmt.Sprintf(
			"The Storefront is being deleted before the restore of snapshot %s ended: DB cluster %s is deleted, and the deletion policy (%s) applies to DB cluster %s, which the shop used",
			rs.SnapshotIdentifier, rs.ClusterIdentifier, auroraDeletionPolicy(sf), rs.ReplacedCluster))
		fallthrough
	case shopv1alpha1.ReasonRestoreFailed:
		if rs.CompletionTime == nil {
			if _, err := r.removeRestoredCluster(ctx, s); err != nil {
				return false, err
			}
			return rs.CompletionTime != nil, nil
		}
	case shopv1alpha1.ReasonRestored:
		if rs.InProgress() {
			if _, err := r.disposeReplacedCluster(ctx, s); err != nil {
				return false, err
			}
			return !rs.InProgress(), nil
		}
	}
	return true, nil
}

// deleteACKObject deletes one ACK object the Storefront controls, once its deletion
// annotations (the policy, plus extra) say what the policy says: they are applied from
// the start, but a Storefront paused or made by an older operator may lack them. It
// reads past the cache, since it waits for ACK's finalizer, and reports done once the
// object is gone; until then s.waitingOn says what ACK reports. extra wins over the
// policy: a restore deletes the cluster it replaced or abandoned with its own.
func (r *StorefrontReconciler) deleteACKObject(ctx context.Context, s *scope, gvk schema.GroupVersionKind, name string, extra map[string]string) (bool, error) {
	sf := s.sf
	if !r.ackKindInstalled(gvk) {
		return true, nil
	}
	obj := newACKObject(gvk)
	if err := r.Get(ctx, client.ObjectKey{Namespace: sf.Namespace, Name: name}, obj); err != nil {
		if apierrors.IsNotFound(err) {
			return true, nil
		}
		return false, fmt.Errorf("reading %s %s: %w", gvk.Kind, name, err)
	}
	if !metav1.IsControlledBy(obj, sf) {
		return true, nil
	}
	if !obj.GetDeletionTimestamp().IsZero() {
		s.waitingOn = fmt.Sprintf("ACK still holds %s %s", gvk.Kind, name)
		if st := readACKState(obj, nil, noEndpoint); st.Reason == shopv1alpha1.ReasonProvisioningFailed || st.Reason == shopv1alpha1.ReasonProvisioningRetrying {
			s.waitingOn += " (" + st.Message + ")"
		}
		return false, nil
	}
	want := map[string]string{ackAnnotationDeletionPolicy: ackDeletionPolicy(sf, gvk)}
	for k, v := range extra {
		want[k] = v
	}
	if current := obj.GetAnnotations(); !hasAll(current, want) {
		patch := client.MergeFrom(obj.DeepCopy())
		annotations := map[string]string{}
		for k, v := range current {
			annotations[k] = v
		}
		for k, v := range want {
			annotations[k] = v
		}
		obj.SetAnnotations(annotations)
		log.FromContext(ctx).Info("Setting the deletion annotations", "kind", gvk.Kind, "name", name, "annotations", want)
		if err := r.Patch(ctx, obj, patch, client.FieldOwner(fieldOwner)); err != nil {
			return false, fmt.Errorf("annotating %s %s for deletion: %w", gvk.Kind, name, err)
		}
	}
	log.FromContext(ctx).Info("Deleting ACK object", "kind", gvk.Kind, "name", name, "deletionPolicy", want[ackAnnotationDeletionPolicy])
	if err := r.Delete(ctx, obj); err != nil && !apierrors.IsNotFound(err) {
		return false, fmt.Errorf("deleting %s %s: %w", gvk.Kind, name, err)
	}
	s.waitingOn = fmt.Sprintf("ACK is deleting %s %s", gvk.Kind, name)
	return false, nil
}

func hasAll(have, want map[string]string) bool {
	for k, v := range want {
		if have[k] != v {
			return false
		}
	}
	return true
}

type namedObject struct {
	obj  client.Object
	name string
}

// deleteAll deletes those of objs that the cache shows and sf controls, and reports
// whether none is left.
func (r *StorefrontReconciler) deleteAll(ctx context.Context, sf *shopv1alpha1.Storefront, objs []namedObject) (bool, error) {
	done := true
	for _, o := range objs {
		if err := r.Get(ctx, client.ObjectKey{Namespace: sf.Namespace, Name: o.name}, o.obj); err != nil {
			if apierrors.IsNotFound(err) {
				continue
			}
			return false, fmt.Errorf("reading %T %s: %w", o.obj, o.name, err)
		}
		if !metav1.IsControlledBy(o.obj, sf) {
			continue
		}
		done = false
		if !o.obj.GetDeletionTimestamp().IsZero() {
			continue
		}
		if err := r.deleteOwned(ctx, sf, o.obj, o.name); err != nil {
			return false, err
		}
	}
	return done, nil
}
