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

// The ACK runtime's reconciler (aws-controllers-k8s/runtime v0.62.0,
// pkg/runtime/reconciler.go at 95428e7), function by function, on unstructured
// objects: Reconcile, reconcile, Sync, createResource, updateResource,
// lateInitializeResource, deleteResource, ensureConditions, handleRequeues,
// HandleReconcileError, and the resource manager's generated wrappers (ReadOne,
// Create, Update, Delete, onError, onSuccess, updateConditions, LateInitialize). The
// names here are theirs, so that each can be read beside its original. What the
// stand-in leaves out is listed in the README ("What the ACK stand-in reproduces").

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

// Errors of the runtime (pkg/errors/error.go), compared by identity as the runtime does.
var (
	errTerminal                = errors.New(TerminalReason)
	errNotFound                = errors.New("resource not found")
	errAdoptedResourceNotFound = errors.New("adopted resource not found")
	errSecretNotFound          = errors.New(SecretNotFoundMessage)
	errSecretTypeNotSupported  = errors.New(SecretTypeNotSupportedMessage)
	errTemporaryOutOfSync      = errors.New("temporary out of sync, reconcile after some time")
)

// terminalError is ackerr.TerminalError.
type terminalError struct{ err error }

func (e *terminalError) Error() string { return e.err.Error() }
func (e *terminalError) Unwrap() error { return e.err }

// requeueNeeded and requeueNeededAfter are pkg/requeue's RequeueNeeded and
// RequeueNeededAfter: their text is the wrapped error's.
type requeueNeeded struct{ err error }

func (e *requeueNeeded) Error() string {
	if e.err == nil {
		return ""
	}
	return e.err.Error()
}
func (e *requeueNeeded) Unwrap() error { return e.err }

type requeueNeededAfter struct {
	requeueNeeded
	// after is the duration in the real controller; the stand-in scales it (see
	// StandIns.scaled) unless exact (the resync period, configured as such).
	after time.Duration
	exact bool
}

// defaultRequeueAfter is requeue.DefaultRequeueAfterDuration.
const defaultRequeueAfter = 30 * time.Second

// defaultResyncPeriod is the runtime's defaultResyncPeriod (neither rds- nor
// elasticache-controller sets RequeueOnSuccessSeconds).
const defaultResyncPeriod = 10 * time.Hour

// resourceManager is what differs between the kinds: the generated sdk.go with its
// hooks, and the manager's IsSynced and late initialisation.
type resourceManager interface {
	// service is the controller's: "rds" or "elasticache".
	service() string
	// idField is the spec field that holds the AWS identifier, which is also the
	// adoption field (PopulateResourceFromAnnotation).
	idField() string
	// terminalCodes are the AWS error codes updateConditions makes terminal.
	terminalCodes() []string
	// lateInitFields are lateInitializeFieldNames.
	lateInitFields() []string
	isSynced(r *unstructured.Unstructured) bool
	// compare is the delta: the spec fields (Spec.<field> in the original) that differ.
	compare(desired, latest *unstructured.Unstructured) []string
	sdkFind(ctx context.Context, c *ackCall, r *unstructured.Unstructured) (*unstructured.Unstructured, error)
	sdkCreate(ctx context.Context, c *ackCall, desired *unstructured.Unstructured) (*unstructured.Unstructured, error)
	sdkUpdate(ctx context.Context, c *ackCall, desired, latest *unstructured.Unstructured, delta []string) (*unstructured.Unstructured, error)
	sdkDelete(ctx context.Context, c *ackCall, r *unstructured.Unstructured) (*unstructured.Unstructured, error)
}

// ackCall is what one reconcile works with: the resource manager's account, region and
// AWS client, and the reconciler's readers (rm.rr).
type ackCall struct {
	s               *StandIns
	account, region string
	namespace       string
}

// key is the AWS key of r's resource.
func (c *ackCall) key(kind string, r *unstructured.Unstructured, idField string) AWSKey {
	return AWSKey{Account: c.account, Region: c.region, Kind: kind, ID: specString(r, idField)}
}

// ackController is the reconciler of one ACK kind (resourceReconciler).
type ackController struct {
	s       *StandIns
	gvk     schema.GroupVersionKind
	rm      resourceManager
	manager string

	mu        sync.Mutex
	failures  map[types.UID]int       // the rate limiter's count, per object
	requested map[types.UID]time.Time // first seen deleted
}

// Reconcile is the runtime's Reconcile: read the object past the cache, refuse a
// changed region before anything else, reconcile, and write what happened.
func (c *ackController) Reconcile(ctx context.Context, req reconcile.Request) (ctrl.Result, error) {
	desired := newUnstructured(c.gvk)
	if err := c.s.apiReader.Get(ctx, req.NamespacedName, desired); err != nil {
		if apierrors.IsNotFound(err) {
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, err
	}
	call := &ackCall{s: c.s, account: c.getOwnerAccountID(desired), region: c.getRegion(desired), namespace: req.Namespace}
	if c.regionDrifted(desired) {
		// The runtime returns ackerr.NewTerminalError from Reconcile: no status is
		// written, and controller-runtime retries with its backoff.
		log.FromContext(ctx).V(1).Info("Resource already exists in region " + call.region + ", but the desired state specifies region " +
			desired.GetAnnotations()[AnnotationRegion])
		return c.rateLimited(desired.GetUID()), nil
	}
	latest, err := c.reconcile(ctx, call, desired)
	return c.handleReconcileError(ctx, desired, latest, err)
}

// getRegion: status.ackResourceMetadata.region, else the region annotation, else the
// controller's region (namespace annotations are not reproduced).
func (c *ackController) getRegion(u *unstructured.Unstructured) string {
	if r, _, _ := unstructured.NestedString(u.Object, "status", "ackResourceMetadata", "region"); r != "" {
		return r
	}
	if r, ok := u.GetAnnotations()[AnnotationRegion]; ok {
		return r
	}
	return c.s.acct.Region
}

// getOwnerAccountID: status.ackResourceMetadata.ownerAccountID, else the controller's.
func (c *ackController) getOwnerAccountID(u *unstructured.Unstructured) string {
	if a, _, _ := unstructured.NestedString(u.Object, "status", "ackResourceMetadata", "ownerAccountID"); a != "" {
		return a
	}
	return c.s.acct.ID
}

// regionDrifted: the object's resource lives in one region (its status says which)
// and the annotation (or the controller's region) names another.
func (c *ackController) regionDrifted(u *unstructured.Unstructured) bool {
	current, _, _ := unstructured.NestedString(u.Object, "status", "ackResourceMetadata", "region")
	if current == "" {
		return false
	}
	if r, ok := u.GetAnnotations()[AnnotationRegion]; ok {
		return r != current
	}
	return c.s.acct.Region != current
}

func (c *ackController) reconcile(ctx context.Context, call *ackCall, res *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	if !res.GetDeletionTimestamp().IsZero() {
		c.mu.Lock()
		if _, seen := c.requested[res.GetUID()]; !seen {
			c.requested[res.GetUID()] = c.s.now()
		}
		c.mu.Unlock()
		if !c.isManaged(res) {
			return res, nil
		}
		if DeletionPolicy(res) == "delete" {
			return c.deleteResource(ctx, call, res)
		}
		log.FromContext(ctx).V(1).Info("AWS resource will not be deleted - deletion policy set to retain")
		if err := c.release(ctx, res, "retain", ""); err != nil {
			return res, err
		}
		return c.handleRequeues(res)
	}
	latest, err := c.sync(ctx, call, res)
	if err != nil {
		return latest, err
	}
	return c.handleRequeues(latest)
}

// sync is Sync. Its deferred ensureConditions sees the local latest and err, not
// what a return statement returns, as in the original.
func (c *ackController) sync(ctx context.Context, call *ackCall, desired *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	var latest *unstructured.Unstructured
	var err error
	clearConditions(desired)
	defer func() { c.ensureConditions(latest, err) }()

	isAdopted := desired.GetAnnotations()[AnnotationAdopted] == "true"
	adoptionPolicy, err := getAdoptionPolicy(desired)
	if err != nil {
		return withTerminalCondition(desired, err, c.s.now()), errTerminal
	}
	// The ResourceAdoption feature gate is on by default (pkg/featuregate).
	needAdoption := adoptionPolicy != "" && !isAdopted && !c.isManaged(desired)
	if !needAdoption {
		adoptionPolicy = ""
	}
	resolved := desired.DeepCopy() // ResolveReferences: the operator uses no references
	if needAdoption {
		populated, err := c.handlePopulation(desired, adoptionPolicy)
		if err != nil {
			return withTerminalCondition(desired, err, c.s.now()), errTerminal
		}
		if adoptionPolicy == AdoptionPolicyAdoptOrCreate {
			resolved = resolved.DeepCopy()
			resolved.Object["status"] = deepCopyValue(populated.Object["status"])
		} else {
			resolved = populated
		}
	}

	latest, err = c.readOne(ctx, call, resolved)
	if err != nil {
		if err != errNotFound {
			return latest, err
		}
		if adoptionPolicy == AdoptionPolicyAdopt || isAdopted {
			return nil, errAdoptedResourceNotFound
		}
		if latest, err = c.createResource(ctx, call, resolved); err != nil {
			return latest, err
		}
	} else if adoptionPolicy == AdoptionPolicyAdopt {
		if err = c.setResourceManagedAndAdopted(ctx, latest); err != nil {
			return latest, err
		}
		if latest, err = c.patchResourceMetadataAndSpec(ctx, desired, latest); err != nil {
			return latest, err
		}
	} else {
		if adoptionPolicy == AdoptionPolicyAdoptOrCreate {
			if err = c.setResourceManagedAndAdopted(ctx, latest); err != nil {
				return latest, err
			}
			err = &requeueNeeded{errors.New("adopted resource, requeuing to check for updates")}
			return latest, err
		}
		if latest, err = c.updateResource(ctx, call, resolved, latest); err != nil {
			return latest, err
		}
	}
	if latest, err = c.lateInitializeResource(ctx, call, latest); err != nil {
		return latest, err
	}
	return latest, nil
}

// getAdoptionPolicy is pkg/runtime/util.go GetAdoptionPolicy.
func getAdoptionPolicy(u *unstructured.Unstructured) (string, error) {
	policy, ok := u.GetAnnotations()[AnnotationAdoptionPolicy]
	if !ok {
		return "", nil
	}
	if policy != AdoptionPolicyAdopt && policy != AdoptionPolicyAdoptOrCreate {
		return "", fmt.Errorf("unrecognized adoption policy %s. Supported policies are \"%s\" and \"%s\"", policy, AdoptionPolicyAdopt, AdoptionPolicyAdoptOrCreate)
	}
	return policy, nil
}

// handlePopulation reads the adoption-fields annotation into a copy of desired
// (PopulateResourceFromAnnotation: the identifier field).
func (c *ackController) handlePopulation(desired *unstructured.Unstructured, policy string) (*unstructured.Unstructured, error) {
	fields := map[string]string{}
	if err := json.Unmarshal([]byte(desired.GetAnnotations()[AnnotationAdoptionFields]), &fields); err != nil {
		if policy == AdoptionPolicyAdoptOrCreate {
			return desired, nil
		}
		return desired, &terminalError{fmt.Errorf("unmarshalling adoption-fields annotation: %v", err)}
	}
	populated := desired.DeepCopy()
	id, ok := fields[c.rm.idField()]
	if !ok {
		if policy == AdoptionPolicyAdoptOrCreate {
			return populated, nil
		}
		return nil, fmt.Errorf("Error populating adoption fields: %v", &terminalError{fmt.Errorf("required field missing: %s", c.rm.idField())})
	}
	_ = unstructured.SetNestedField(populated.Object, id, "spec", c.rm.idField())
	return populated, nil
}

func (c *ackController) isManaged(u *unstructured.Unstructured) bool {
	return controllerutil.ContainsFinalizer(u, Finalizer(c.gvk))
}

// createResource marks the object managed, creates the resource, reads it back and
// writes what AWS returned into the object's metadata and spec. An AWS error unmarks it.
func (c *ackController) createResource(ctx context.Context, call *ackCall, desired *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	if !c.isManaged(desired) {
		if err := c.setResourceManaged(ctx, desired); err != nil {
			return nil, err
		}
	}
	latest, err := c.create(ctx, call, desired)
	if err != nil {
		var awsErr *APIError
		if errors.As(err, &awsErr) {
			if mErr := c.setResourceUnmanaged(ctx, desired); mErr != nil {
				return latest, err
			}
		}
		return latest, err
	}
	observed, err := c.readOne(ctx, call, latest)
	if err != nil {
		return latest, err
	}
	latest.Object["status"] = deepCopyValue(observed.Object["status"])
	return c.patchResourceMetadataAndSpec(ctx, desired, latest)
}

// updateResource refuses an object that is not managed (Terminal "Resource already
// exists"), then updates what the delta says and writes the result back.
func (c *ackController) updateResource(ctx context.Context, call *ackCall, desired, latest *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	if !c.isManaged(latest) {
		setCondition(latest, ConditionTerminal, "True", strPtr(NotManagedMessage), strPtr(NotManagedReason), c.s.now())
		return latest, errTerminal
	}
	delta := c.rm.compare(desired, latest)
	if len(delta) == 0 {
		return latest, nil
	}
	log.FromContext(ctx).V(1).Info("desired resource state has changed", "diff", delta)
	updated, err := c.update(ctx, call, desired, latest, delta)
	if err != nil {
		return updated, err
	}
	if latest.GetAnnotations()[AnnotationAdopted] == "true" {
		setAnnotation(updated, AnnotationAdopted, "true")
	}
	return c.patchResourceMetadataAndSpec(ctx, desired, updated)
}

// lateInitializeResource runs the manager's LateInitialize and writes its fields back.
func (c *ackController) lateInitializeResource(ctx context.Context, call *ackCall, latest *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	li, err := c.lateInitialize(ctx, call, latest)
	if li != nil {
		var patchErr error
		li, patchErr = c.patchResourceMetadataAndSpec(ctx, latest, li)
		if patchErr != nil {
			err = patchErr
		}
	}
	return li, err
}

// deleteResource reads the resource (gone: let go), deletes it, and lets go of the
// object as soon as AWS accepted the call.
func (c *ackController) deleteResource(ctx context.Context, call *ackCall, current *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	observed, err := c.readOne(ctx, call, current)
	if err != nil {
		if err == errNotFound {
			return current, c.release(ctx, current, "delete", "")
		}
		return current, err
	}
	latest, err := c.delete(ctx, call, observed)
	if latest != nil {
		latest, _ = c.patchResourceMetadataAndSpec(ctx, current, latest)
	}
	if err != nil {
		return latest, err
	}
	released := current
	if latest != nil {
		released = latest
	}
	snapshot := ""
	if skip, id, _ := FinalSnapshot(current); c.gvk == DBClusterGVK && !skip {
		snapshot = id
	}
	return latest, c.release(ctx, released, "delete", snapshot)
}

// release is setResourceUnmanaged of a deleted object, recorded in ACKDeletions (before
// the object can vanish, so that a reader who saw it gone finds it there).
func (c *ackController) release(ctx context.Context, u *unstructured.Unstructured, policy, snapshot string) error {
	c.mu.Lock()
	requested := c.requested[u.GetUID()]
	c.mu.Unlock()
	call := &ackCall{s: c.s, account: c.getOwnerAccountID(u), region: c.getRegion(u)}
	key := call.key(c.gvk.Kind, u, c.rm.idField())
	key.ID = normalizeID(key.Kind, key.ID)
	d := ACKDeletion{Kind: c.gvk.Kind, Namespace: u.GetNamespace(), Name: u.GetName(), Resource: key,
		Policy: policy, FinalSnapshot: snapshot, Requested: requested, Released: c.s.now()}
	c.s.mu.Lock()
	c.s.deletions = append(c.s.deletions, d)
	c.s.mu.Unlock()
	if err := c.setResourceUnmanaged(ctx, u); err != nil {
		c.s.mu.Lock()
		if i := slices.Index(c.s.deletions, d); i >= 0 {
			c.s.deletions = slices.Delete(c.s.deletions, i, i+1)
		}
		c.s.mu.Unlock()
		return err
	}
	c.mu.Lock()
	delete(c.requested, u.GetUID())
	c.mu.Unlock()
	return nil
}

func (c *ackController) setResourceManaged(ctx context.Context, res *unstructured.Unstructured) error {
	if c.isManaged(res) {
		return nil
	}
	orig := res.DeepCopy()
	controllerutil.AddFinalizer(res, Finalizer(c.gvk))
	_, err := c.patchResourceMetadataAndSpec(ctx, orig, res)
	return err
}

func (c *ackController) setResourceManagedAndAdopted(ctx context.Context, res *unstructured.Unstructured) error {
	if c.isManaged(res) {
		return nil
	}
	orig := res.DeepCopy()
	controllerutil.AddFinalizer(res, Finalizer(c.gvk))
	setAnnotation(res, AnnotationAdopted, "true")
	_, err := c.patchResourceMetadataAndSpec(ctx, orig, res)
	return err
}

func (c *ackController) setResourceUnmanaged(ctx context.Context, res *unstructured.Unstructured) error {
	if !c.isManaged(res) {
		return nil
	}
	orig := res.DeepCopy()
	controllerutil.RemoveFinalizer(res, Finalizer(c.gvk))
	_, err := c.patchResourceMetadataAndSpec(ctx, orig, res)
	return err
}

// patchResourceMetadataAndSpec merge-patches the object from desired's metadata and
// spec to latest's, unless they are equal by the delta (ID lists compare as sets); the
// returned object keeps latest's status.
func (c *ackController) patchResourceMetadataAndSpec(ctx context.Context, desired, latest *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	if metadataEqual(desired, latest) && len(c.rm.compare(desired.DeepCopy(), latest)) == 0 {
		return latest, nil
	}
	before, after := metadataAndSpec(desired), metadataAndSpec(latest)
	if err := c.s.client.Patch(ctx, after, client.MergeFrom(before), client.FieldOwner(c.manager)); err != nil {
		return latest, err
	}
	out := latest.DeepCopy()
	out.SetResourceVersion(after.GetResourceVersion())
	out.SetGeneration(after.GetGeneration())
	return out, nil
}

func metadataEqual(a, b *unstructured.Unstructured) bool {
	return equality.Semantic.DeepEqual(a.GetAnnotations(), b.GetAnnotations()) &&
		equality.Semantic.DeepEqual(a.GetLabels(), b.GetLabels()) &&
		slices.Equal(a.GetFinalizers(), b.GetFinalizers())
}

// metadataAndSpec is the part of u the patch of metadata and spec may change.
func metadataAndSpec(u *unstructured.Unstructured) *unstructured.Unstructured {
	out := &unstructured.Unstructured{Object: map[string]any{"spec": deepCopyValue(u.Object["spec"])}}
	out.SetGroupVersionKind(u.GroupVersionKind())
	out.SetNamespace(u.GetNamespace())
	out.SetName(u.GetName())
	out.SetAnnotations(u.GetAnnotations())
	out.SetLabels(u.GetLabels())
	out.SetFinalizers(u.GetFinalizers())
	if out.GetFinalizers() == nil {
		out.SetFinalizers([]string{}) // a removed last finalizer must show in the patch
	}
	return out
}

// ensureConditions gives latest an ACK.ResourceSynced (unless a hook set one: then
// from IsSynced and the reconcile error) and a Ready mirroring Terminal, Recoverable
// or Synced.
func (c *ackController) ensureConditions(res *unstructured.Unstructured, reconcileErr error) {
	if res == nil {
		return
	}
	now := c.s.now()
	if conditionOf(res, ConditionSynced) == nil {
		status, message, reason := "False", NotSyncedMessage, ""
		if c.rm.isSynced(res) {
			status, message = "True", SyncedMessage
		}
		if reconcileErr != nil {
			reason = reconcileErr.Error()
			if reconcileErr == errTerminal {
				status, message = "False", NotSyncedMessage
			} else {
				status, message = "Unknown", UnknownSyncedMessage
			}
		}
		setCondition(res, ConditionSynced, status, &message, &reason, now)
	}
	terminal, recoverable, synced := conditionOf(res, ConditionTerminal), conditionOf(res, ConditionRecoverable), conditionOf(res, ConditionSynced)
	switch {
	case terminal != nil && terminal["status"] == "True":
		setCondition(res, ConditionReady, "False", optString(terminal["message"]), strPtr(ConditionTerminal), now)
	case recoverable != nil && recoverable["status"] == "True":
		setCondition(res, ConditionReady, "False", optString(recoverable["message"]), strPtr(ConditionRecoverable), now)
	case synced != nil:
		setCondition(res, ConditionReady, synced["status"].(string), optString(synced["message"]), optString(synced["reason"]), now)
	default:
		setCondition(res, ConditionReady, "Unknown", strPtr(UnknownSyncedMessage), nil, now)
	}
}

// handleRequeues: synced, resync after the resync period; not synced, look again
// after requeue.DefaultRequeueAfterDuration.
func (c *ackController) handleRequeues(latest *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	if latest == nil {
		return latest, nil
	}
	if synced := conditionOf(latest, ConditionSynced); synced != nil {
		if synced["status"] == "True" {
			// A manager with RequeueOnSuccessSeconds (acm-controller: 60) looks again
			// that soon (ack_acm.go).
			if r, ok := c.rm.(interface{ requeueOnSuccessSeconds() int }); ok {
				return latest, &requeueNeededAfter{after: time.Duration(r.requeueOnSuccessSeconds()) * time.Second}
			}
			return latest, &requeueNeededAfter{after: c.s.ackResync, exact: true}
		}
		return latest, &requeueNeededAfter{requeueNeeded: requeueNeeded{errTemporaryOutOfSync}, after: defaultRequeueAfter}
	}
	return latest, nil
}

// handleReconcileError writes latest's status (a merge patch from desired's, whose
// conditions Sync cleared), then requeues as the error says: not at all after success
// or a terminal error, after a duration, or with the rate limiter's backoff.
func (c *ackController) handleReconcileError(ctx context.Context, desired, latest *unstructured.Unstructured, err error) (ctrl.Result, error) {
	if latest != nil {
		if perr := c.patchStatus(ctx, desired, latest); perr != nil && !apierrors.IsNotFound(perr) {
			log.FromContext(ctx).V(1).Info("Patching the status", "error", perr.Error())
		}
	}
	uid := desired.GetUID()
	if err == nil || err == errTerminal {
		c.forget(uid)
		return ctrl.Result{}, nil
	}
	var after *requeueNeededAfter
	if errors.As(err, &after) {
		c.forget(uid)
		d := after.after
		if !after.exact {
			d = c.s.scaled(d)
		}
		return ctrl.Result{RequeueAfter: d}, nil
	}
	var needed *requeueNeeded
	if !errors.As(err, &needed) {
		log.FromContext(ctx).V(1).Info("Reconciler error", "error", err.Error())
	}
	return c.rateLimited(uid), nil
}

// rateLimited is controller-runtime's per-object exponential backoff (5ms doubling),
// capped at Options.ACKRetry instead of 1000s.
func (c *ackController) rateLimited(uid types.UID) ctrl.Result {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.failures[uid]
	c.failures[uid] = n + 1
	d := 5 * time.Millisecond << min(n, 30)
	return ctrl.Result{RequeueAfter: min(d, c.s.ackRetry)}
}

func (c *ackController) forget(uid types.UID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.failures, uid)
}

func (c *ackController) patchStatus(ctx context.Context, desired, latest *unstructured.Unstructured) error {
	status := func(u *unstructured.Unstructured) *unstructured.Unstructured {
		out := &unstructured.Unstructured{Object: map[string]any{}}
		if st, ok := u.Object["status"]; ok {
			out.Object["status"] = deepCopyValue(st)
		}
		out.SetGroupVersionKind(u.GroupVersionKind())
		out.SetNamespace(desired.GetNamespace())
		out.SetName(desired.GetName())
		return out
	}
	before, after := status(desired), status(latest)
	patch := client.MergeFrom(before)
	data, err := patch.Data(after)
	if err != nil || string(data) == "{}" {
		return err
	}
	return c.s.client.Status().Patch(ctx, after, patch, client.FieldOwner(c.manager))
}

// The resource manager's generated wrappers (manager.go).

func (c *ackController) readOne(ctx context.Context, call *ackCall, r *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	observed, err := c.rm.sdkFind(ctx, call, r)
	if err != nil {
		if observed != nil {
			return c.onError(call, observed, err)
		}
		return c.onError(call, r, err)
	}
	return c.onSuccess(call, observed)
}

func (c *ackController) create(ctx context.Context, call *ackCall, r *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	created, err := c.rm.sdkCreate(ctx, call, r)
	if err != nil {
		if created != nil {
			return c.onError(call, created, err)
		}
		return c.onError(call, r, err)
	}
	return c.onSuccess(call, created)
}

func (c *ackController) update(ctx context.Context, call *ackCall, desired, latest *unstructured.Unstructured, delta []string) (*unstructured.Unstructured, error) {
	updated, err := c.rm.sdkUpdate(ctx, call, desired, latest, delta)
	if err != nil {
		if updated != nil {
			return c.onError(call, updated, err)
		}
		return c.onError(call, latest, err)
	}
	return c.onSuccess(call, updated)
}

func (c *ackController) delete(ctx context.Context, call *ackCall, r *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	observed, err := c.rm.sdkDelete(ctx, call, r)
	if err != nil {
		if observed != nil {
			return c.onError(call, observed, err)
		}
		return c.onError(call, r, err)
	}
	return c.onSuccess(call, observed)
}

// lateInitialize is the manager's LateInitialize: a second read, the fields of
// lateInitializeFieldNames AWS defaulted copied into the spec, ACK.LateInitialized.
func (c *ackController) lateInitialize(ctx context.Context, call *ackCall, latest *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	fields := c.rm.lateInitFields()
	if len(fields) == 0 {
		return latest, nil
	}
	now := c.s.now()
	cp := latest.DeepCopy()
	observed, err := c.readOne(ctx, call, cp)
	if err != nil {
		setCondition(cp, ConditionLateInitialized, "False", strPtr("Unable to complete Read operation required for late initialization"), strPtr("Late Initialization Failure"), now)
		setCondition(cp, ConditionSynced, "False", nil, nil, now)
		return cp, err
	}
	for _, f := range fields {
		if v, ok := observed.Object["spec"].(map[string]any)[f]; ok {
			if _, set := cp.Object["spec"].(map[string]any)[f]; !set {
				cp.Object["spec"].(map[string]any)[f] = deepCopyValue(v)
			}
		}
	}
	setCondition(cp, ConditionLateInitialized, "True", strPtr(LateInitializedMessage), strPtr(LateInitializedMessage), now)
	return cp, nil
}

func (c *ackController) onError(call *ackCall, r *unstructured.Unstructured, err error) (*unstructured.Unstructured, error) {
	if r == nil {
		return nil, err
	}
	r1, updated := c.updateConditions(call, r, err)
	if !updated {
		return r, err
	}
	if t := conditionOf(r1, ConditionTerminal); t != nil && t["status"] == "True" {
		return r1, errTerminal
	}
	return r1, err
}

func (c *ackController) onSuccess(call *ackCall, r *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	if r == nil {
		return nil, nil
	}
	r1, updated := c.updateConditions(call, r, nil)
	if !updated {
		return r, nil
	}
	return r1, nil
}

// updateConditions is the generated updateConditions: ACK.Terminal for the kind's
// terminal AWS codes, a missing Secret and terminal errors; ACK.Recoverable for any
// other error; both set without a lastTransitionTime, as the generated code does.
func (c *ackController) updateConditions(call *ackCall, r *unstructured.Unstructured, err error) (*unstructured.Unstructured, bool) {
	ko := r.DeepCopy()
	setStatusDefaults(ko, call)
	terminal, recoverable, synced := conditionOf(ko, ConditionTerminal), conditionOf(ko, ConditionRecoverable), conditionOf(ko, ConditionSynced)
	var awsErr *APIError
	isAWS := errors.As(err, &awsErr)
	var termErr *terminalError
	if (isAWS && slices.Contains(c.rm.terminalCodes(), awsErr.Code)) || err == errSecretTypeNotSupported || err == errSecretNotFound || errors.As(err, &termErr) {
		if terminal == nil {
			terminal = appendCondition(ko, ConditionTerminal)
		}
		msg := err.Error()
		if isAWS && err != errSecretTypeNotSupported && err != errSecretNotFound && !errors.As(err, &termErr) {
			msg = awsErr.APIMessage()
		}
		terminal["status"], terminal["message"] = "True", msg
	} else {
		if terminal != nil {
			terminal["status"] = "False"
			delete(terminal, "message")
		}
		if err != nil {
			if recoverable == nil {
				recoverable = appendCondition(ko, ConditionRecoverable)
			}
			msg := err.Error()
			if isAWS {
				msg = awsErr.APIMessage()
			}
			recoverable["status"], recoverable["message"] = "True", msg
		} else if recoverable != nil {
			recoverable["status"] = "False"
			delete(recoverable, "message")
		}
	}
	if terminal != nil || recoverable != nil || synced != nil {
		return ko, true
	}
	return nil, false
}

// setStatusDefaults fills status.ackResourceMetadata's region, partition and owner
// account, and an empty conditions list.
func setStatusDefaults(u *unstructured.Unstructured, call *ackCall) {
	st := statusMap(u)
	md, _ := st["ackResourceMetadata"].(map[string]any)
	if md == nil {
		md = map[string]any{}
		st["ackResourceMetadata"] = md
	}
	for k, v := range map[string]string{"region": call.region, "partition": Partition, "ownerAccountID": call.account} {
		if _, ok := md[k]; !ok {
			md[k] = v
		}
	}
	if _, ok := st["conditions"]; !ok {
		st["conditions"] = []any{}
	}
}

// secretValueFromReference is the reconciler's SecretValueFromReference: the
// Secret is read past the cache, in the object's namespace when the reference names
// none; a missing Secret or key is ackerr.SecretNotFound, a type but Opaque
// ackerr.SecretTypeNotSupported.
func (call *ackCall) secretValueFromReference(ctx context.Context, ref map[string]any) (string, error) {
	if ref == nil {
		return "", nil
	}
	ns, _ := ref["namespace"].(string)
	if ns == "" {
		ns = call.namespace
	}
	name, _ := ref["name"].(string)
	key, _ := ref["key"].(string)
	secret := &corev1.Secret{}
	if err := call.s.apiReader.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, secret); err != nil {
		return "", errSecretNotFound
	}
	if secret.Type != corev1.SecretTypeOpaque {
		return "", errSecretTypeNotSupported
	}
	v, ok := secret.Data[key]
	if !ok {
		return "", errSecretNotFound
	}
	return string(v), nil
}

// defaultTags are the tags the runtime adds to every resource it creates
// (--resource-tags: controller version and namespace). They never reach the object's
// spec (FilterSystemTags).
func (call *ackCall) defaultTags(service string) map[string]string {
	version := map[string]string{"rds": "1.11.1", "elasticache": "1.8.0"}[service]
	return map[string]string{"services.k8s.aws/controller-version": service + "-" + version, "services.k8s.aws/namespace": call.namespace}
}

// Conditions on unstructured objects, as pkg/condition sets them: the first of a type
// is updated in place, a new one appended; Set* stamp lastTransitionTime every time.

func statusMap(u *unstructured.Unstructured) map[string]any {
	st, _ := u.Object["status"].(map[string]any)
	if st == nil {
		st = map[string]any{}
		u.Object["status"] = st
	}
	return st
}

func conditionOf(u *unstructured.Unstructured, t string) map[string]any {
	st, _ := u.Object["status"].(map[string]any)
	conds, _ := st["conditions"].([]any)
	for _, c := range conds {
		if m, ok := c.(map[string]any); ok && m["type"] == t {
			return m
		}
	}
	return nil
}

func appendCondition(u *unstructured.Unstructured, t string) map[string]any {
	st := statusMap(u)
	conds, _ := st["conditions"].([]any)
	m := map[string]any{"type": t}
	st["conditions"] = append(conds, m)
	return m
}

func setCondition(u *unstructured.Unstructured, t, status string, message, reason *string, now time.Time) {
	m := conditionOf(u, t)
	if m == nil {
		m = appendCondition(u, t)
	}
	m["status"] = status
	m["lastTransitionTime"] = now.UTC().Format(time.RFC3339)
	for k, v := range map[string]*string{"message": message, "reason": reason} {
		if v == nil || *v == "" {
			delete(m, k)
		} else {
			m[k] = *v
		}
	}
}

func clearConditions(u *unstructured.Unstructured) {
	statusMap(u)["conditions"] = []any{}
}

// withTerminalCondition is condition.WithTerminalCondition: a copy with ACK.Terminal
// True and the error as message.
func withTerminalCondition(u *unstructured.Unstructured, err error, now time.Time) *unstructured.Unstructured {
	ko := u.DeepCopy()
	msg := err.Error()
	setCondition(ko, ConditionTerminal, "True", &msg, nil, now)
	return ko
}

func setAnnotation(u *unstructured.Unstructured, k, v string) {
	a := u.GetAnnotations()
	if a == nil {
		a = map[string]string{}
	}
	a[k] = v
	u.SetAnnotations(a)
}

func strPtr(s string) *string { return &s }

func optString(v any) *string {
	if s, ok := v.(string); ok {
		return &s
	}
	return nil
}

func newUnstructured(gvk schema.GroupVersionKind) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(gvk)
	return u
}
