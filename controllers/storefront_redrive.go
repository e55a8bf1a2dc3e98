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

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	shopv1alpha1 "github.com/storefront-operator/storefront/api/v1alpha1"
)

// ACK clears a Terminal condition only at its next reconcile of the object, and it
// reconciles only on a spec change (runtime reconciler.go BindControllerManager:
// GenerationChangedPredicate; terminal errors are not requeued). A cause outside the
// object (a subnet fixed in AWS, a Secret that appeared, a resource of the same
// identifier AWS was still deleting) therefore never clears by itself. The operator
// re-drives ACK by moving a tag on its ACK objects ACK holds Terminal: a spec change ACK
// notices, which AWS also accepts (ACK syncs tags with the service's tagging calls), and
// which asks AWS for nothing else. A healthy object keeps its tag: the change would make
// ACK update it (keepProvisioningTag).

// provisioningTagKey is the tag that moves on the Terminal ACK objects at a re-drive.
const provisioningTagKey = "shop.storefront.dev/provisioning-retry"

// maxDeletionWindowRetry bounds the back-off of the automatic re-drives.
const maxDeletionWindowRetry = 30 * time.Minute

// defaultDeletionWindowRetry is the first wait when Options.DeletionWindowRetry is zero.
const defaultDeletionWindowRetry = 30 * time.Second

// deletionWindowBackoff is the wait before automatic re-drive number n+1 (n done):
// first doubling from first, capped at maxDeletionWindowRetry.
func deletionWindowBackoff(first time.Duration, n int32) time.Duration {
	if first <= 0 {
		first = defaultDeletionWindowRetry
	}
	d := first
	for i := int32(0); i < n && d < maxDeletionWindowRetry; i++ {
		d *= 2
	}
	return min(d, maxDeletionWindowRetry)
}

// inDeletionWindow reports whether ACK refused to create obj because AWS holds a
// resource of its identifier that is being deleted: ACK.Terminal ("Resource already
// exists", runtime reconciler.go updateResource) with the existing resource's status,
// deleting.
func inDeletionWindow(obj *unstructured.Unstructured) bool {
	c, ok := ackConditionOf(obj, ackConditionTerminal)
	if !ok || c.Status != "True" {
		return false
	}
	own, _, _ := unstructured.NestedString(obj.Object, pathStatus...)
	if own == "" {
		own, _, _ = unstructured.NestedString(obj.Object, pathDBInstanceStatus...)
	}
	return strings.EqualFold(own, "deleting")
}

// reconcileProvisioning is the first phase of a Storefront with ACK stores: it settles
// status.effective, handles a new retry-provisioning value (resolving the defaults
// again) and re-drives, with back-off, the ACK objects refused inside AWS's deletion
// window. The database and cache phases apply the tag.
func (r *StorefrontReconciler) reconcileProvisioning(ctx context.Context, s *scope) (ctrl.Result, error) {
	sf := s.sf
	if !usesACK(sf) {
		return ctrl.Result{}, nil
	}
	now := time.Now()
	p := sf.Status.Provisioning
	if p == nil {
		p = &shopv1alpha1.ProvisioningStatus{}
	}
	redrive := func(why string) {
		log.FromContext(ctx).Info("Re-driving ACK", "reason", why, "redrive", p.Redrives+1)
		p.Redrives++
		p.LastRedrive = &metav1.Time{Time: now.Truncate(time.Second)}
	}
	if v := sf.Annotations[shopv1alpha1.AnnotationRetryProvisioning]; v != "" && v != p.HandledRetry {
		p.HandledRetry, p.WindowRedrives = v, 0
		s.redriven = true
		sf.Status.Effective = resolveEffective(r.Options)
		redrive("the retry-provisioning annotation changed")
	}
	settleEffective(sf, r.Options)

	var result ctrl.Result
	window, err := r.deletionWindowObject(ctx, sf)
	if err != nil {
		return ctrl.Result{}, err
	}
	switch {
	case window != "":
		wait := deletionWindowBackoff(r.Options.DeletionWindowRetry, p.WindowRedrives)
		due := now
		if p.LastRedrive != nil {
			due = p.LastRedrive.Add(wait)
		}
		if !now.Before(due) {
			p.WindowRedrives++
			redrive(window + " is refused while AWS deletes a resource of its identifier")
			wait = deletionWindowBackoff(r.Options.DeletionWindowRetry, p.WindowRedrives)
			due = now.Add(wait)
		}
		s.redriveAt = due
		result.RequeueAfter = time.Until(due) + time.Second
	case p.WindowRedrives != 0:
		p.WindowRedrives = 0
	}
	if p.HandledRetry != "" || p.Redrives != 0 {
		sf.Status.Provisioning = p
	}
	return result, nil
}

// bumpRedrive moves the re-drive tag outside the provisioning phase, for a change ACK
// must notice (annotations alone do not make it reconcile a Terminal object).
func bumpRedrive(ctx context.Context, s *scope, why string) {
	p := s.sf.Status.Provisioning
	if p == nil {
		p = &shopv1alpha1.ProvisioningStatus{}
	}
	log.FromContext(ctx).Info("Re-driving ACK", "reason", why, "redrive", p.Redrives+1)
	p.Redrives++
	p.LastRedrive = &metav1.Time{Time: time.Now().Truncate(time.Second)}
	s.sf.Status.Provisioning = p
}

// deletionWindowObject names the first of sf's ACK objects ACK refused inside a
// deletion window, or "".
func (r *StorefrontReconciler) deletionWindowObject(ctx context.Context, sf *shopv1alpha1.Storefront) (string, error) {
	type named struct {
		gvk  schema.GroupVersionKind
		name string
	}
	var objs []named
	if sf.Spec.Database.Aurora != nil {
		// The cluster in use: a restored one has a name of its own (storefront_restore.go).
		cluster := currentClusterObjectName(sf)
		objs = append(objs, named{gvkDBSubnetGroup, objectName(sf, roleDatabase)}, named{gvkDBCluster, cluster}, named{gvkDBInstance, cluster})
	}
	if sf.Spec.Cache != nil && sf.Spec.Cache.Serverless != nil {
		objs = append(objs, named{gvkServerlessCache, objectName(sf, roleCache)})
	}
	for _, o := range objs {
		if !r.ackKindInstalled(o.gvk) {
			continue
		}
		live := newACKObject(o.gvk)
		if err := r.objectReader().Get(ctx, client.ObjectKey{Namespace: sf.Namespace, Name: o.name}, live); err != nil {
			if client.IgnoreNotFound(err) == nil {
				continue
			}
			return "", fmt.Errorf("reading %s %s: %w", o.gvk.Kind, o.name, err)
		}
		if inDeletionWindow(live) {
			return o.gvk.Kind + " " + live.GetName(), nil
		}
	}
	return "", nil
}

// withProvisioningTag puts the cost allocation tags (costTags) on an ACK object's
// spec.tags and, once there was a re-drive, the re-drive count. applyACK keeps the
// count from moving on an object that does not need it (keepProvisioningTag).
func withProvisioningTag(sf *shopv1alpha1.Storefront, clusterName string, u *unstructured.Unstructured) *unstructured.Unstructured {
	spec, _ := u.Object["spec"].(map[string]any)
	if spec == nil {
		return u
	}
	tags := costTags(sf, clusterName)
	if p := sf.Status.Provisioning; p != nil && p.Redrives > 0 {
		tags = append(tags, map[string]any{"key": provisioningTagKey, "value": strconv.Itoa(int(p.Redrives))})
	}
	spec["tags"] = tags
	return u
}

// keepProvisioningTag gives desired's re-drive tag the live object's value (or drops it
// when the live object has none) unless ACK holds the live object Terminal. A moved tag
// is a spec change to ACK, which then updates the resource: it syncs the tags and, on a
// DBCluster, DBInstance or ServerlessCache, reports the resource not synced for a pass
// or two (rds db_cluster/custom_update.go customUpdate, db_instance/sdk.go sdkUpdate:
// Synced False; elasticache serverless_cache/hooks.go customUpdateServerlessCache: a
// requeue while modifying), which the operator reads as not ready. Only a Terminal
// object needs the change: ACK reconciles any other by itself. An object that goes
// Terminal later, with a tag behind the count, is moved then, as the re-drive asked.
func keepProvisioningTag(desired, live *unstructured.Unstructured) {
	if c, ok := ackConditionOf(live, ackConditionTerminal); ok && c.Status == "True" {
		return
	}
	tags, found, _ := unstructured.NestedSlice(desired.Object, "spec", "tags")
	if !found {
		return
	}
	liveValue, liveHas := tagValue(live, provisioningTagKey)
	kept := make([]any, 0, len(tags))
	for _, t := range tags {
		if m, ok := t.(map[string]any); ok && m["key"] == provisioningTagKey {
			if !liveHas {
				continue
			}
			m["value"] = liveValue
		}
		kept = append(kept, t)
	}
	_ = unstructured.SetNestedSlice(desired.Object, kept, "spec", "tags")
}

// tagValue is the value of the tag key in u's spec.tags.
func tagValue(u *unstructured.Unstructured, key string) (string, bool) {
	tags, _, _ := unstructured.NestedSlice(u.Object, "spec", "tags")
	for _, t := range tags {
		if m, ok := t.(map[string]any); ok && m["key"] == key {
			v, _ := m["value"].(string)
			return v, true
		}
	}
	return "", false
}

// deletionWindowMessage explains a refusal inside the deletion window, with the next
// re-drive when the provisioning phase planned one.
func deletionWindowMessage(s *scope, what string) string {
	msg := fmt.Sprintf("%s: AWS is still deleting a resource of the same identifier (ACK: Resource already exists); "+
		"the operator asks ACK again with back-off, up to %s apart", what, maxDeletionWindowRetry)
	if !s.redriveAt.IsZero() {
		msg += fmt.Sprintf(" (next at %s)", s.redriveAt.UTC().Format(time.RFC3339))
	}
	return msg
}

// judgeACK is readACKState, but for a refusal inside the deletion window, which the
// operator re-drives: ProvisioningRetrying rather than ProvisioningFailed.
func judgeACK(s *scope, obj *unstructured.Unstructured, statusPath []string, endpoint string) ackState {
	if inDeletionWindow(obj) {
		return ackState{Reason: shopv1alpha1.ReasonProvisioningRetrying, Message: deletionWindowMessage(s, obj.GetKind()+" "+obj.GetName())}
	}
	return readACKState(obj, statusPath, endpoint)
}
