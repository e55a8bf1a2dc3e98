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

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	shopv1alpha1 "github.com/storefront-operator/storefront/api/v1alpha1"
)

// The helpers every phase shares for the objects a Storefront owns: their metadata,
// their controller reference, and what the operator may do to an object of the name it
// wants that it finds already there.

// objectMeta is the metadata of an object of the given component.
func objectMeta(sf *shopv1alpha1.Storefront, name, component string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: sf.Namespace, Labels: labels(sf, component)}
}

// storefrontKind is the kind of the controller references the operator sets.
var storefrontKind = shopv1alpha1.GroupVersion.WithKind("Storefront")

// own makes sf the controller of obj, a desired object built for sf's namespace: its
// only owner reference, which garbage-collects it with sf and routes its events to sf.
func own(sf *shopv1alpha1.Storefront, obj client.Object) {
	obj.SetOwnerReferences([]metav1.OwnerReference{*metav1.NewControllerRef(sf, storefrontKind)})
}

// notControlledError says that an object of the name the Storefront needs exists and is
// controlled by something else, or by nothing: the operator does not take it over (it
// may be someone's Service or Secret of the same name), and the Storefront's Ready
// condition names it (OwnershipConflict).
type notControlledError struct {
	kind, name string
	// controller describes the object's controller, "" when it has none.
	controller string
}

func (e *notControlledError) Error() string {
	by := "has no controller"
	if e.controller != "" {
		by = "is controlled by " + e.controller
	}
	return fmt.Sprintf("%s %s exists and %s, not by this Storefront: it is left alone; delete or rename it, or rename the Storefront",
		e.kind, e.name, by)
}

// checkControlled returns a notControlledError when live is not controlled by the
// controller that desired names (desired built with own). Objects built without a
// controller (the master-password Secrets kept under the Retain policy) are not checked.
func checkControlled(kind string, desired, live metav1.Object) error {
	want := metav1.GetControllerOfNoCopy(desired)
	if want == nil {
		return nil
	}
	have := metav1.GetControllerOfNoCopy(live)
	if have != nil && have.UID == want.UID && have.Kind == want.Kind {
		return nil
	}
	e := &notControlledError{kind: kind, name: live.GetName()}
	if have != nil {
		e.controller = have.Kind + " " + have.Name
	}
	return e
}

// deleteOwned deletes the named object of obj's kind when the cache shows it and the
// Storefront controls it: get, check we control it, delete. Checking the cache first
// keeps a reconcile at rest free of writes; an object we do not control is never
// deleted.
func (r *StorefrontReconciler) deleteOwned(ctx context.Context, sf *shopv1alpha1.Storefront, obj client.Object, name string) error {
	if err := r.Get(ctx, client.ObjectKey{Namespace: sf.Namespace, Name: name}, obj); err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("reading %T %s: %w", obj, name, err)
	}
	if !metav1.IsControlledBy(obj, sf) || !obj.GetDeletionTimestamp().IsZero() {
		return nil
	}
	log.FromContext(ctx).Info("Deleting object no longer wanted", "kind", fmt.Sprintf("%T", obj), "object", klog.KObj(obj))
	if err := r.Delete(ctx, obj, client.PropagationPolicy(metav1.DeletePropagationBackground)); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting %T %s: %w", obj, name, err)
	}
	return nil
}

// checkNotTakingOver reads, past the cache, the object of desired's name that the cache
// does not show (scratch is an empty object of its kind) and that a create-only apply
// found (applyObject): when it exists and desired's controller does not control it, it
// returns a notControlledError. This holds for every kind, the ACK ones (unstructured) included:
// the cache selects all of them by the operator's label (CacheOptions), so an ACK object
// of our name that someone else created is read here, never applied over.
func (r *StorefrontReconciler) checkNotTakingOver(ctx context.Context, kind string, desired, scratch client.Object) error {
	if r.APIReader == nil {
		return nil
	}
	err := r.APIReader.Get(ctx, client.ObjectKeyFromObject(desired), scratch)
	switch {
	case apierrors.IsNotFound(err):
		return nil
	case err != nil:
		return fmt.Errorf("reading %s %s: %w", kind, desired.GetName(), err)
	}
	return checkControlled(kind, desired, scratch)
}

// createOwned creates obj, built with own. AlreadyExists is a cache that has not seen our
// object yet (its events bring us back: nil), unless the object of that name is not ours:
// then a notControlledError names it.
func (r *StorefrontReconciler) createOwned(ctx context.Context, kind string, obj client.Object, scratch client.Object) error {
	err := r.Create(ctx, obj, client.FieldOwner(fieldOwner))
	if !apierrors.IsAlreadyExists(err) {
		if err != nil {
			return fmt.Errorf("creating %s %s: %w", kind, obj.GetName(), err)
		}
		return nil
	}
	if r.APIReader == nil || r.APIReader.Get(ctx, client.ObjectKeyFromObject(obj), scratch) != nil {
		return nil
	}
	return checkControlled(kind, obj, scratch)
}
