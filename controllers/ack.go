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
	"strconv"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	shopv1alpha1 "github.com/storefront-operator/storefront/api/v1alpha1"
)

// This file is the operator's only knowledge of ACK: the kinds it creates, the fields it
// reads and writes, the annotations and conditions, all as the real CRDs of
// rds-controller 1.11.1 and elasticache-controller 1.8.0 spell them. The ACK Go modules
// are not a dependency; ACK objects are unstructured.

// +kubebuilder:rbac:groups=rds.services.k8s.aws,resources=dbsubnetgroups;dbclusters;dbinstances,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups=elasticache.services.k8s.aws,resources=serverlesscaches;users;usergroups,verbs=get;list;watch;create;patch;delete

// The ACK kinds the operator creates.
var (
	gvkDBSubnetGroup   = schema.GroupVersionKind{Group: "rds.services.k8s.aws", Version: "v1alpha1", Kind: "DBSubnetGroup"}
	gvkDBCluster       = schema.GroupVersionKind{Group: "rds.services.k8s.aws", Version: "v1alpha1", Kind: "DBCluster"}
	gvkDBInstance      = schema.GroupVersionKind{Group: "rds.services.k8s.aws", Version: "v1alpha1", Kind: "DBInstance"}
	gvkServerlessCache = schema.GroupVersionKind{Group: "elasticache.services.k8s.aws", Version: "v1alpha1", Kind: "ServerlessCache"}
	gvkCacheUser       = schema.GroupVersionKind{Group: "elasticache.services.k8s.aws", Version: "v1alpha1", Kind: "User"}
	gvkCacheUserGroup  = schema.GroupVersionKind{Group: "elasticache.services.k8s.aws", Version: "v1alpha1", Kind: "UserGroup"}

	ackKinds = append([]schema.GroupVersionKind{gvkDBSubnetGroup, gvkDBCluster, gvkDBInstance, gvkServerlessCache, gvkCacheUser, gvkCacheUserGroup,
		gvkBucket, gvkDBClusterSnapshot}, cdnKinds...)
)

// Annotations ACK reads on its objects (runtime apis/core/v1alpha1 and rds-controller
// apis/v1alpha1/annotations.go).
const (
	// ackAnnotationRegion is the region ACK creates the resource in.
	ackAnnotationRegion = "services.k8s.aws/region"
	// ackAnnotationDeletionPolicy is "delete" (the AWS resource goes with the object) or
	// "retain" (only the Kubernetes object goes).
	ackAnnotationDeletionPolicy = "services.k8s.aws/deletion-policy"
	// rdsAnnotationSkipFinalSnapshot: "true" deletes without a final snapshot. ACK's
	// default, when absent, is true: a final snapshot must be asked for.
	rdsAnnotationSkipFinalSnapshot = "rds.services.k8s.aws/skip-final-snapshot"
	// rdsAnnotationFinalSnapshotID names the final snapshot; RDS requires one when the
	// snapshot is not skipped, and refuses a name that exists already.
	rdsAnnotationFinalSnapshotID = "rds.services.k8s.aws/final-db-snapshot-identifier"
	// rdsAnnotationLastAppliedSecret is written by rds-controller once it has sent the
	// password of spec.masterUserPassword to RDS: "<namespace>/<name>.<key>".
	rdsAnnotationLastAppliedSecret = "rds.services.k8s.aws/last-applied-secret-reference"
)

// Values of ackAnnotationDeletionPolicy.
const (
	ackDeletionPolicyDelete = "delete"
	ackDeletionPolicyRetain = "retain"
)

// ACK condition types (runtime apis/core/v1alpha1/conditions.go).
const (
	ackConditionSynced      = "ACK.ResourceSynced"
	ackConditionTerminal    = "ACK.Terminal"
	ackConditionRecoverable = "ACK.Recoverable"
)

// Field paths the operator reads.
var (
	// pathStatus is the resource's own status for DBCluster, ServerlessCache, User and
	// UserGroup.
	pathStatus = []string{"status", "status"}
	// pathDBInstanceStatus is the DBInstance's own status.
	pathDBInstanceStatus = []string{"status", "dbInstanceStatus"}
	// pathDBClusterEndpoint is the writer endpoint, a host name (a string, unlike the
	// other kinds' endpoint objects).
	pathDBClusterEndpoint = []string{"status", "endpoint"}
	// pathDBClusterPort is the port, late-initialised by ACK; 5432 when unset.
	pathDBClusterPort = []string{"spec", "port"}
	// pathEndpointAddress and pathEndpointPort are the DBInstance's and the
	// ServerlessCache's endpoint.
	pathEndpointAddress = []string{"status", "endpoint", "address"}
	pathEndpointPort    = []string{"status", "endpoint", "port"}
)

// ackFinalizer is the finalizer ACK puts on the objects it manages
// ("finalizers.rds.services.k8s.aws/DBCluster"); it is removed once the AWS resource is
// deleted or, with the retain policy, let go.
func ackFinalizer(gvk schema.GroupVersionKind) string {
	return "finalizers." + gvk.Group + "/" + gvk.Kind
}

// newACKObject is an empty object of an ACK kind, to read into.
func newACKObject(gvk schema.GroupVersionKind) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(gvk)
	return u
}

// terminalStatuses are own-status values of the other kinds that need a human:
// ElastiCache's failed creation. (DB clusters and instances: rdsStatusFailure.) ACK may
// report such a resource as synced: nothing it does will change it.
var terminalStatuses = map[string]bool{
	"create-failed": true,
}

// ackState is what an ACK object says about the AWS resource behind it.
type ackState struct {
	// Ready: synced, its own status available, and an endpoint when it has one; or a DB
	// cluster or instance in maintenance that keeps its endpoint (Maintenance).
	Ready bool
	// Maintenance is the RDS status of a Ready DB cluster or instance that is not
	// available but serves (modifying, backing-up...); "" when available.
	Maintenance string
	// Reason is a Storefront condition reason when not ready: ProvisioningFailed,
	// ProvisioningRetrying, Provisioning, or one of rdsStatusFailure's.
	Reason string
	// Message explains the state, with ACK's own message verbatim.
	Message string
}

// ackCondition is one of the object's status conditions.
type ackCondition struct {
	Status, Reason, Message string
}

// ackConditionOf returns the object's condition of type t, if any.
func ackConditionOf(obj *unstructured.Unstructured, t string) (ackCondition, bool) {
	conds, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
	for _, c := range conds {
		m, ok := c.(map[string]any)
		if !ok || m["type"] != t {
			continue
		}
		str := func(k string) string { s, _ := m[k].(string); return s }
		return ackCondition{Status: str("status"), Reason: str("reason"), Message: str("message")}, true
	}
	return ackCondition{}, false
}

// text is the condition's message, or its reason when it has none: ACK puts an error's
// text in either, depending on the code path that set it.
func (c ackCondition) text() string {
	if c.Message != "" {
		return c.Message
	}
	return c.Reason
}

// readACKState judges an ACK object. statusPath is its own status field (nil when the
// kind has none, like DBSubnetGroup); endpoint is its endpoint as read by the caller ("-"
// when the kind has none). ACK.Terminal wins over everything: ACK keeps a Synced=True of
// its read beside a Terminal of a refused update, so Synced alone is never ready. Then a
// DB cluster's or instance's own status when it needs a human (stopped, failed...),
// then maintenance that keeps the endpoint (Ready, with Maintenance set: RDS serves
// while it modifies, backs up or upgrades, and ACK says Synced=False whenever the
// status is not available), then ACK.Recoverable, and an unknown Synced, which means
// ACK is retrying.
func readACKState(obj *unstructured.Unstructured, statusPath []string, endpoint string) ackState {
	what := obj.GetKind() + " " + obj.GetName()
	if c, ok := ackConditionOf(obj, ackConditionTerminal); ok && c.Status == "True" {
		return ackState{Reason: shopv1alpha1.ReasonProvisioningFailed, Message: fmt.Sprintf("%s: ACK: %s", what, orDefault(c.text(), "terminal condition"))}
	}
	own := ""
	if statusPath != nil {
		own, _, _ = unstructured.NestedString(obj.Object, statusPath...)
	}
	recoverable, isRecoverable := ackConditionOf(obj, ackConditionRecoverable)
	isRecoverable = isRecoverable && recoverable.Status == "True"
	if isRDSKind(obj) && own != "" {
		if reason, advice, failed := rdsStatusFailure(own); failed {
			return ackState{Reason: reason, Message: fmt.Sprintf("%s: AWS reports status %s%s", what, own, advice)}
		}
		if rdsMaintenance(own) && endpoint != "" && endpoint != noEndpoint {
			msg := fmt.Sprintf("%s is %s and serves meanwhile", what, strings.ToLower(own))
			if isRecoverable {
				msg += fmt.Sprintf(" (ACK is retrying: %s)", orDefault(recoverable.text(), "recoverable error"))
			}
			return ackState{Ready: true, Maintenance: strings.ToLower(own), Message: msg}
		}
	}
	if isRecoverable {
		return ackState{Reason: shopv1alpha1.ReasonProvisioningRetrying, Message: fmt.Sprintf("%s: ACK is retrying: %s", what, orDefault(recoverable.text(), "recoverable error"))}
	}
	if terminalStatuses[strings.ToLower(own)] {
		return ackState{Reason: shopv1alpha1.ReasonProvisioningFailed, Message: fmt.Sprintf("%s: AWS reports status %s", what, own)}
	}
	synced, found := ackConditionOf(obj, ackConditionSynced)
	switch {
	case !found:
		return ackState{Reason: shopv1alpha1.ReasonProvisioning, Message: fmt.Sprintf("%s: waiting for ACK to create it", what)}
	case synced.Status == "Unknown":
		// The runtime's ensureConditions: a reconcile error that is not terminal; ACK
		// retries. Its reason holds the error.
		return ackState{Reason: shopv1alpha1.ReasonProvisioningRetrying, Message: fmt.Sprintf("%s: ACK is retrying: %s", what, orDefault(synced.Reason, synced.Message))}
	case synced.Status != "True":
		msg := fmt.Sprintf("%s: not synced yet", what)
		if own != "" {
			msg = fmt.Sprintf("%s: status %s, not synced yet", what, own)
		}
		if t := synced.text(); t != "" {
			msg += " (ACK: " + t + ")"
		}
		return ackState{Reason: shopv1alpha1.ReasonProvisioning, Message: msg}
	case statusPath != nil && !strings.EqualFold(own, "available") && !strings.EqualFold(own, "active"):
		// ElastiCache users and user groups say active where the others say available.
		return ackState{Reason: shopv1alpha1.ReasonProvisioning, Message: fmt.Sprintf("%s: status %s, waiting for available", what, orDefault(own, "unknown"))}
	case endpoint == "":
		return ackState{Reason: shopv1alpha1.ReasonProvisioning, Message: fmt.Sprintf("%s: available, waiting for its endpoint", what)}
	}
	return ackState{Ready: true, Message: fmt.Sprintf("%s is available", what)}
}

// syncedAfter reports whether the object's ACK.ResourceSynced condition is True and
// was set after t (lastTransitionTime has a second's resolution).
func syncedAfter(obj *unstructured.Unstructured, t metav1.Time) bool {
	conds, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
	for _, c := range conds {
		m, ok := c.(map[string]any)
		if !ok || m["type"] != ackConditionSynced || m["status"] != "True" {
			continue
		}
		s, _ := m["lastTransitionTime"].(string)
		at, err := time.Parse(time.RFC3339, s)
		return err == nil && at.After(t.Time)
	}
	return false
}

// syncedSince reports whether the object's ACK.ResourceSynced condition is True and
// was set at or after t (t at a second's resolution, as the condition's time).
func syncedSince(obj *unstructured.Unstructured, t time.Time) bool {
	return syncedAfter(obj, metav1.Time{Time: t.Add(-time.Second)})
}

// noEndpoint stands for the endpoint of a kind that has none.
const noEndpoint = "-"

// nestedPort reads an integer port, which JSON may have decoded as int64 or float64.
func nestedPort(obj *unstructured.Unstructured, path ...string) int32 {
	v, found, _ := unstructured.NestedFieldNoCopy(obj.Object, path...)
	if !found {
		return 0
	}
	switch n := v.(type) {
	case int64:
		return int32(n)
	case float64:
		return int32(n)
	case string:
		p, _ := strconv.Atoi(n)
		return int32(p)
	}
	return 0
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// newACKOwned is an ACK object of sf with the given role: named <name>-<role>, labelled,
// annotated, and controlled by sf (so that its changes are watched).
func newACKOwned(sf *shopv1alpha1.Storefront, scheme *runtime.Scheme, gvk schema.GroupVersionKind, role string, annotations map[string]string) *unstructured.Unstructured {
	u := newACKObject(gvk)
	u.SetName(objectName(sf, role))
	u.SetNamespace(sf.Namespace)
	u.SetLabels(labels(sf, role))
	u.SetAnnotations(annotations)
	own(sf, u)
	return u
}

// ackAnnotations are the annotations of sf's ACK object of kind gvk: the region, when
// the operator has one, and the deletion policy. They are applied from the start, not
// only at deletion, so that a deletion by another path (a namespace deleted) follows
// the policy too.
func ackAnnotations(sf *shopv1alpha1.Storefront, gvk schema.GroupVersionKind, region string) map[string]string {
	a := map[string]string{ackAnnotationDeletionPolicy: ackDeletionPolicy(sf, gvk)}
	if region != "" {
		a[ackAnnotationRegion] = region
	}
	return a
}

// ackDeletionPolicy maps spec.database.aurora.deletionPolicy to ACK's for an object of
// kind gvk. Retain keeps the database's AWS resources (the cluster, its instance and the
// subnet group it needs); Snapshot and Delete delete them (Snapshot after a final
// snapshot of the cluster). The serverless cache holds only cached data and always goes,
// and its users and user group, which open nothing else, with it.
func ackDeletionPolicy(sf *shopv1alpha1.Storefront, gvk schema.GroupVersionKind) string {
	if p, ok := imagesCDNDeletionPolicy(sf, gvk); ok {
		return p
	}
	if gvk.Group != gvkServerlessCache.Group && auroraDeletionPolicy(sf) == shopv1alpha1.DeletionPolicyRetain {
		return ackDeletionPolicyRetain
	}
	return ackDeletionPolicyDelete
}

// applyACK applies an ACK object, tolerating what ACK writes back, and returns it as
// the cache has it (with the status ACK reported) or, when it is not cached yet, as
// applied. The re-drive tag moves only on an object ACK holds Terminal
// (keepProvisioningTag).
func (r *StorefrontReconciler) applyACK(ctx context.Context, desired *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	live := newACKObject(desired.GroupVersionKind())
	switch err := r.objectReader().Get(ctx, client.ObjectKeyFromObject(desired), live); {
	case err == nil:
		keepProvisioningTag(desired, live)
	case !apierrors.IsNotFound(err):
		return nil, fmt.Errorf("reading %s %s: %w", desired.GetKind(), desired.GetName(), err)
	}
	if _, err := r.applyObjectAdopting(ctx, desired, adoptACKWriteBacks); err != nil {
		return nil, err
	}
	live = newACKObject(desired.GroupVersionKind())
	if err := r.objectReader().Get(ctx, client.ObjectKeyFromObject(desired), live); err != nil {
		if apierrors.IsNotFound(err) {
			return desired, nil
		}
		return nil, fmt.Errorf("reading %s %s: %w", desired.GetKind(), desired.GetName(), err)
	}
	return live, nil
}

// ackObjectExists reports whether the cache holds the object.
func (r *StorefrontReconciler) ackObjectExists(ctx context.Context, obj *unstructured.Unstructured) (bool, error) {
	live := newACKObject(obj.GroupVersionKind())
	err := r.objectReader().Get(ctx, client.ObjectKeyFromObject(obj), live)
	switch {
	case err == nil:
		return true, nil
	case apierrors.IsNotFound(err):
		return false, nil
	}
	return false, fmt.Errorf("reading %s %s: %w", obj.GetKind(), obj.GetName(), err)
}

// removeACKObject deletes the named ACK object of kind gvk when the cache shows it and
// sf controls it, with the deletion policy it carries.
func (r *StorefrontReconciler) removeACKObject(ctx context.Context, sf *shopv1alpha1.Storefront, gvk schema.GroupVersionKind, name string) error {
	if !r.ackKindInstalled(gvk) {
		return nil
	}
	live := newACKObject(gvk)
	if err := r.objectReader().Get(ctx, client.ObjectKey{Namespace: sf.Namespace, Name: name}, live); err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("reading %s %s: %w", gvk.Kind, name, err)
	}
	if !metav1.IsControlledBy(live, sf) || !live.GetDeletionTimestamp().IsZero() {
		return nil
	}
	log.FromContext(ctx).Info("Deleting ACK object no longer wanted", "kind", gvk.Kind, "name", name)
	if err := r.Delete(ctx, live); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting %s %s: %w", gvk.Kind, name, err)
	}
	return nil
}

// objectReader reads unstructured objects: from the cache when there is one.
func (r *StorefrontReconciler) objectReader() client.Reader {
	if r.ObjectCache != nil {
		return r.ObjectCache
	}
	return r.Client
}

// listACKObjects lists the ACK objects of kind gvk in sf's namespace that carry labels,
// through the object cache (the manager's client reads unstructured objects from the
// API server).
func (r *StorefrontReconciler) listACKObjects(ctx context.Context, sf *shopv1alpha1.Storefront, gvk schema.GroupVersionKind, labels client.MatchingLabels) ([]unstructured.Unstructured, error) {
	list := &unstructured.UnstructuredList{}
	list.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
	if err := r.objectReader().List(ctx, list, client.InNamespace(sf.Namespace), labels); err != nil {
		return nil, fmt.Errorf("listing %ss: %w", gvk.Kind, err)
	}
	return list.Items, nil
}

// ackKindInstalled reports whether the API server served the ACK kind when the operator
// started: the watches are set up then, so a kind installed later takes a restart, and
// asking the API server again on every reconcile would cost a discovery request each
// time ACK is missing.
func (r *StorefrontReconciler) ackKindInstalled(gvk schema.GroupVersionKind) bool {
	if r.ACKInstalled == nil {
		return true
	}
	return r.ACKInstalled[gvk]
}

// servedACKKinds asks the API server which ACK kinds it serves.
func servedACKKinds(mapper meta.RESTMapper) map[schema.GroupVersionKind]bool {
	served := map[schema.GroupVersionKind]bool{}
	for _, gvk := range ackKinds {
		_, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		// Only a definite "no such kind" counts as missing: were discovery to fail, the
		// watch will say so when the manager starts.
		served[gvk] = err == nil || !meta.IsNoMatchError(err)
	}
	return served
}

func ackNotInstalledMessage(gvk schema.GroupVersionKind) string {
	controller := strings.SplitN(gvk.Group, ".", 2)[0] + "-controller"
	return fmt.Sprintf("The API server does not serve %s (%s): install ACK's %s and its CRDs, then restart the operator",
		gvk.Kind, gvk.GroupVersion(), controller)
}

// idListPaths are the lists of AWS IDs the operator sets. AWS keeps them as sets and ACK
// writes them back in AWS's order.
var idListPaths = [][]string{
	{"spec", "subnetIDs"},
	{"spec", "vpcSecurityGroupIDs"},
	{"spec", "securityGroupIDs"},
	{"spec", "userIDs"},
}

// adoptACKWriteBacks is the liveAdopter of ACK objects. ACK writes back into the spec
// what AWS reports; two of those values differ from ours without contradicting them, and
// applying ours again would fight ACK (and, for the engine version, ask RDS for a
// downgrade): an ID list holding our IDs in another order, and an engine version that
// AWS raised to a later minor version of the same major version.
func adoptACKWriteBacks(want, live *unstructured.Unstructured) {
	for _, path := range idListPaths {
		w, found, _ := unstructured.NestedStringSlice(want.Object, path...)
		l, liveFound, _ := unstructured.NestedStringSlice(live.Object, path...)
		if found && liveFound && sameSet(w, l) {
			_ = unstructured.SetNestedStringSlice(want.Object, l, path...)
		}
	}
	// ElastiCache answers a User's access string expanded; elasticache-controller keeps
	// what was asked in status.lastRequestedAccessString and sees no difference while it
	// equals the spec's (pkg/resource/user/hooks.go filterDelta).
	if w, found, _ := unstructured.NestedString(want.Object, "spec", "accessString"); found {
		asked, _, _ := unstructured.NestedString(live.Object, "status", "lastRequestedAccessString")
		if l, liveFound, _ := unstructured.NestedString(live.Object, "spec", "accessString"); liveFound && asked == w {
			_ = unstructured.SetNestedField(want.Object, l, "spec", "accessString")
		}
	}
	w, found, _ := unstructured.NestedString(want.Object, "spec", "engineVersion")
	l, liveFound, _ := unstructured.NestedString(live.Object, "spec", "engineVersion")
	if found && liveFound && minorUpgradeOf(l, w) {
		_ = unstructured.SetNestedField(want.Object, l, "spec", "engineVersion")
	}
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	count := map[string]int{}
	for _, s := range a {
		count[s]++
	}
	for _, s := range b {
		count[s]--
	}
	for _, n := range count {
		if n != 0 {
			return false
		}
	}
	return true
}

// minorUpgradeOf reports whether version have is want or a later version of the same
// major version ("16.8" of "16.6"; not "17.1" of "16.6").
func minorUpgradeOf(have, want string) bool {
	hp, wp := strings.Split(have, "."), strings.Split(want, ".")
	if hp[0] != wp[0] {
		return false
	}
	for i := 1; i < max(len(hp), len(wp)); i++ {
		h, w := versionPart(hp, i), versionPart(wp, i)
		if h != w {
			return h > w
		}
	}
	return true
}

func versionPart(parts []string, i int) int {
	if i >= len(parts) {
		return 0
	}
	n, err := strconv.Atoi(parts[i])
	if err != nil {
		return -1
	}
	return n
}
