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
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	shopv1alpha1 "github.com/storefront-operator/storefront/api/v1alpha1"
)

// A Retain deletion lets go of the ACK objects and keeps the AWS resources; a Storefront
// created again under the same name has the same AWS identifiers, and ACK refuses to
// create what exists (ACK.Terminal "Resource already exists", runtime reconciler.go
// updateResource) unless told to adopt it (services.k8s.aws/adoption-policy and
// adoption-fields, runtime util.go GetAdoptionPolicy, ExtractAdoptionFields). The
// operator tells it only when the kept password Secret says this Storefront's
// predecessor retained that cluster: adopting whatever happens to hold the identifier
// would hand a shop a database it was never given.

// ACK's adoption annotations (runtime apis/core/v1alpha1/annotations.go).
const (
	ackAnnotationAdoptionPolicy = "services.k8s.aws/adoption-policy"
	ackAnnotationAdoptionFields = "services.k8s.aws/adoption-fields"
	ackAdoptOrCreate            = "adopt-or-create"
	ackAdopt                    = "adopt"
)

// adoptionIDFields are the identifier fields ACK populates from adoption-fields (each
// kind's resource.go PopulateResourceFromAnnotation).
var adoptionIDFields = map[schema.GroupVersionKind]string{
	gvkDBSubnetGroup: "name",
	gvkDBCluster:     "dbClusterIdentifier",
	gvkDBInstance:    "dbInstanceIdentifier",
}

// ackIdentifier is the AWS identifier of the RDS resource of obj (its adoption field).
func ackIdentifier(obj *unstructured.Unstructured) string {
	return specField(obj, adoptionIDFields[obj.GroupVersionKind()])
}

// retainedCluster reports whether a kept password Secret records that the cluster id
// was retained for this Storefront's name.
func retainedCluster(passwords []dbPassword, id string) bool {
	for _, p := range passwords {
		if p.secret.Annotations[shopv1alpha1.AnnotationRetainedDBCluster] == id {
			return true
		}
	}
	return false
}

// withAdoption asks ACK to adopt the resource of u's identifier if AWS has it (and to
// create it otherwise), the DB cluster excepted: it is adopted only (adoptionPolicy).
func withAdoption(u *unstructured.Unstructured, id string) *unstructured.Unstructured {
	field, ok := adoptionIDFields[u.GroupVersionKind()]
	if !ok {
		return u
	}
	fields, _ := json.Marshal(map[string]string{field: id})
	a := u.GetAnnotations()
	if a == nil {
		a = map[string]string{}
	}
	a[ackAnnotationAdoptionPolicy] = adoptionPolicy(u.GroupVersionKind())
	a[ackAnnotationAdoptionFields] = string(fields)
	u.SetAnnotations(a)
	return u
}

// adoptionPolicy is adopt-or-create but for the DB cluster, which is adopted with
// adopt: the runtime (reconciler.go Sync) then stores what DescribeDBClusters returned
// into the object's spec (patchResourceMetadataAndSpec of desired against the read
// resource), as a create stores CreateDBCluster's output. Under adopt-or-create it
// stores nothing of the spec (setResourceManagedAndAdopted patches metadata only), and
// the updates copy back only custom_update.go customUpdate's fields, without
// EngineVersion or AutoMinorVersionUpgrade: sdkFind sets those from DescribeDBClusters
// and delta.go compares them with a nil difference, so a spec without them differs at
// every sync (ModifyDBCluster without a change, ACK.ResourceSynced False for good).
// The cluster is known to exist when the annotations go on (adoptRetainedCluster); one
// gone meanwhile is ACK's AdoptedResourceNotFound, not a new empty cluster.
func adoptionPolicy(gvk schema.GroupVersionKind) string {
	if gvk == gvkDBCluster {
		return ackAdopt
	}
	return ackAdoptOrCreate
}

// notManaged reports whether ACK refused obj because AWS has a resource of its
// identifier that ACK does not manage (and that is not being deleted).
func notManaged(obj *unstructured.Unstructured) bool {
	c, ok := ackConditionOf(obj, ackConditionTerminal)
	return ok && c.Status == "True" && c.Message == "Resource already exists" && !inDeletionWindow(obj)
}

// adoptionAdvice explains a refused existing resource and how to adopt it on purpose.
func adoptionAdvice(sf *shopv1alpha1.Storefront, id string, newest *dbPassword) string {
	secret := passwordSecretName(sf, 1)
	if newest != nil {
		secret = newest.secret.Name
	}
	return fmt.Sprintf("; AWS already has a resource %s that no Retain deletion of this Storefront left behind, so it is not adopted. "+
		"To adopt it on purpose, put the cluster's master password in Secret %s key %s and annotate that Secret %s=%s",
		id, secret, keyDBPassword, shopv1alpha1.AnnotationRetainedDBCluster, id)
}

// recordRetainedCluster writes the retained cluster's identifier on the kept password
// Secrets, at a Retain deletion, and for a restored cluster the snapshot it came from
// (retainedRestore reads both). Only a cluster that served this Storefront is recorded:
// one ACK refused because AWS already had another's cluster of that identifier ("Resource
// already exists") would otherwise be adopted, and its master password reset, by the
// Storefront created again. Any other deletion drops the record: its cluster is deleted
// or snapshotted, and a record left behind would have the next Storefront adopt
// whatever then holds the identifier.
func (r *StorefrontReconciler) recordRetainedCluster(ctx context.Context, sf *shopv1alpha1.Storefront, passwords []dbPassword) error {
	// After a restore the shop's data is in the restored cluster: the one a restore
	// replaced (kept too under Retain) must never be adopted as if it were current.
	id := currentClusterIdentifier(sf)
	retain := auroraDeletionPolicy(sf) == shopv1alpha1.DeletionPolicyRetain
	if retain && !servedCluster(sf, id) {
		// Not this Storefront's: a record an earlier Retain deletion wrote stays.
		return nil
	}
	snapshot := ""
	if rs := sf.Status.Restore; restoreSwitched(rs) && rs.ClusterIdentifier == id {
		snapshot = rs.SnapshotIdentifier
	}
	if !retain {
		id, snapshot = "", ""
	}
	for _, p := range passwords {
		a := p.secret.Annotations
		if a[shopv1alpha1.AnnotationRetainedDBCluster] == id && a[shopv1alpha1.AnnotationRetainedDBClusterSnapshot] == snapshot {
			continue
		}
		patch := client.MergeFrom(p.secret.DeepCopy())
		if p.secret.Annotations == nil {
			p.secret.Annotations = map[string]string{}
		}
		setOrDelete(p.secret.Annotations, shopv1alpha1.AnnotationRetainedDBCluster, id)
		setOrDelete(p.secret.Annotations, shopv1alpha1.AnnotationRetainedDBClusterSnapshot, snapshot)
		if retain {
			log.FromContext(ctx).Info("Recording the retained DB cluster on the password Secret", "secret", p.secret.Name, "dbClusterIdentifier", id, "snapshot", snapshot)
		} else {
			log.FromContext(ctx).Info("Dropping the record of a retained DB cluster: the deletion policy keeps none", "secret", p.secret.Name, "deletionPolicy", auroraDeletionPolicy(sf))
		}
		if err := r.Patch(ctx, p.secret, patch); err != nil {
			return fmt.Errorf("recording the retained cluster on secret %s: %w", p.secret.Name, err)
		}
	}
	return nil
}

// setOrDelete sets key to value in m, or deletes it when value is "".
func setOrDelete(m map[string]string, key, value string) {
	if value == "" {
		delete(m, key)
		return
	}
	m[key] = value
}

// servedCluster reports whether the DB cluster id served this Storefront: the database
// phase found it ready (status.database names it). A restore abandoned by the deletion
// after its switch (RestoreMigrating) left status.database on the restored cluster while
// the pods, and the migrations status.migration records, stayed on the replaced one.
func servedCluster(sf *shopv1alpha1.Storefront, id string) bool {
	d := sf.Status.Database
	if d == nil || id == "" {
		return false
	}
	if d.ClusterIdentifier == id {
		return true
	}
	rs := sf.Status.Restore
	return rs != nil && rs.ReplacedCluster == id && d.ClusterIdentifier == rs.ClusterIdentifier && knewACluster(sf)
}

// adoptRetainedCluster says whether the DBCluster is applied with ACK's adoption
// annotations. A kept record is not enough: the cluster it names must exist and not be
// deleting, or ACK would adopt a cluster on its way out (DescribeDBClusters returns it
// while deleting) and then report the adopted resource missing for good. So the
// DBCluster is first applied without them; ACK refuses it ("Resource already exists")
// with the existing cluster's status. Deleting: never adopted (the deletion window's
// re-drives create a new cluster once AWS is done). Anything else: the annotations go
// on, with a re-drive, since ACK reconciles a Terminal object only after a spec change.
func (r *StorefrontReconciler) adoptRetainedCluster(ctx context.Context, s *scope, retained bool) (bool, error) {
	if !retained {
		return false, nil
	}
	live := newACKObject(gvkDBCluster)
	key := client.ObjectKey{Namespace: s.sf.Namespace, Name: currentClusterObjectName(s.sf)}
	if err := r.objectReader().Get(ctx, key, live); err != nil {
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		return false, fmt.Errorf("reading DBCluster %s: %w", key.Name, err)
	}
	if _, ok := live.GetAnnotations()[ackAnnotationAdoptionPolicy]; ok {
		return true, nil
	}
	if !notManaged(live) {
		return false, nil
	}
	bumpRedrive(ctx, s, "adopting the DBCluster a Retain deletion kept")
	return true, nil
}

// adoptingMessage is the DBCluster's state while ACK has not yet adopted it.
func adoptingMessage(cluster *unstructured.Unstructured, id string) string {
	return fmt.Sprintf("DBCluster %s: asking ACK to adopt the cluster %s, which the Retain deletion of this Storefront kept", cluster.GetName(), id)
}

// retainedDeletingAdvice completes the deletion window's message when the cluster AWS
// is deleting is the one a Retain deletion kept.
func retainedDeletingAdvice(id string) string {
	return fmt.Sprintf("; the cluster being deleted is %s, which the Retain deletion of this Storefront kept: it is not adopted, since its data goes with it "+
		"(a final snapshot, if one was taken, holds it). Once AWS is done, ACK creates a new, empty cluster; to keep that from happening, delete the Storefront", id)
}

// retainedRestore is the restore of the cluster that a Retain deletion of this
// Storefront's predecessor kept, when that cluster is a restored one (<aws-id>-r<N>),
// or nil. The Storefront created again takes it as its own finished restore, so that
// the database phase adopts that cluster under its name (the data is there; the cluster
// the restore replaced holds the data of before it) and a restoreFrom still naming its
// snapshot restores nothing again. A record written without the snapshot (before the
// operator recorded it) is taken to be of spec's restoreFrom, the manifest's. Only a
// Storefront that has no database yet takes it: one that has would switch clusters.
func retainedRestore(sf *shopv1alpha1.Storefront, passwords []dbPassword) *shopv1alpha1.RestoreStatus {
	a := sf.Spec.Database.Aurora
	if a == nil || sf.Status.Restore != nil || !withoutDatabase(sf) {
		return nil
	}
	prefix := awsIdentifier(sf.Namespace, sf.Name) + "-r"
	for _, p := range passwords {
		id := p.secret.Annotations[shopv1alpha1.AnnotationRetainedDBCluster]
		seq, err := strconv.ParseInt(strings.TrimPrefix(id, prefix), 10, 64)
		if !strings.HasPrefix(id, prefix) || err != nil || seq < 1 || restoredClusterIdentifier(sf, seq) != id {
			continue
		}
		snapshot := p.secret.Annotations[shopv1alpha1.AnnotationRetainedDBClusterSnapshot]
		if snapshot == "" && a.RestoreFrom != nil {
			snapshot = a.RestoreFrom.SnapshotIdentifier
		}
		now := metav1.Now()
		return &shopv1alpha1.RestoreStatus{
			SnapshotIdentifier: snapshot,
			ClusterIdentifier:  id,
			Sequence:           seq,
			State:              shopv1alpha1.ReasonRestored,
			StartTime:          now,
			CompletionTime:     &now,
		}
	}
	return nil
}

// withoutDatabase reports whether the Storefront has had no database yet: the only
// time it may take a retained restore.
func withoutDatabase(sf *shopv1alpha1.Storefront) bool {
	return sf.Status.Database == nil && sf.Status.Migration == nil
}

// retainedRestoreMessage is DatabaseRestored's message for a retainedRestore.
func retainedRestoreMessage(rs *shopv1alpha1.RestoreStatus) string {
	from := "restored from a snapshot"
	if rs.SnapshotIdentifier != "" {
		from = "restored from snapshot " + rs.SnapshotIdentifier
	}
	return fmt.Sprintf("DB cluster %s, %s, is the one the Retain deletion of this Storefront kept: adopted with its data, not restored again", rs.ClusterIdentifier, from)
}
