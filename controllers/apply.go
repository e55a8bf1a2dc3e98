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
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"reflect"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
	"sigs.k8s.io/controller-runtime/pkg/log"
)

// annotationAppliedHash records a hash of the fields the operator last applied. The
// subset comparison below cannot see a field we stopped setting (a removed Ingress
// annotation, say); a changed hash can, and then an apply removes it.
const annotationAppliedHash = "shop.storefront.dev/applied-hash"

// applyObject makes the live object hold every field of desired, writing only when
// needed: it compares desired with the cached object and server-side applies desired
// (field owner storefront-operator, forcing ownership so that drift by another writer on
// a field we own is corrected) only when one of our fields differs. desired may be typed
// or unstructured; on return it holds the live object (the cached one when nothing was
// written, the server's answer otherwise). changed reports whether a write happened.
// An object of desired's name that desired's controller does not control is left as it
// is: the error (a notControlledError) names it.
func (r *StorefrontReconciler) applyObject(ctx context.Context, desired client.Object) (changed bool, err error) {
	return r.applyObjectAdopting(ctx, desired, nil)
}

// liveAdopter adjusts want, the content about to be compared and applied, to the live
// object: where another writer (ACK writing back what AWS reports) holds a value that
// already satisfies ours, want takes the live value, so that the operator neither
// writes nor undoes it. The applied-hash annotation stays that of the desired content.
type liveAdopter func(want, live *unstructured.Unstructured)

// applyObjectAdopting is applyObject with adopt, when not nil, run on the content before
// it is compared with the live object.
func (r *StorefrontReconciler) applyObjectAdopting(ctx context.Context, desired client.Object, adopt liveAdopter) (changed bool, err error) {
	gvk, err := apiutil.GVKForObject(desired, r.Scheme)
	if err != nil {
		return false, err
	}
	want, err := applyContent(desired, r.Scheme)
	if err != nil {
		return false, fmt.Errorf("preparing %s %s: %w", gvk.Kind, desired.GetName(), err)
	}

	current, err := r.Scheme.New(gvk)
	if err != nil {
		current = &unstructured.Unstructured{}
	}
	currentObj, ok := current.(client.Object)
	if !ok {
		currentObj = &unstructured.Unstructured{}
	}
	if u, ok := currentObj.(*unstructured.Unstructured); ok {
		u.SetGroupVersionKind(gvk)
	}
	var reader client.Reader = r.Client
	if _, ok := currentObj.(*unstructured.Unstructured); ok && r.ObjectCache != nil {
		// The client reads unstructured objects live; the cache has them (watched).
		reader = r.ObjectCache
	}
	err = reader.Get(ctx, client.ObjectKeyFromObject(desired), currentObj)
	switch {
	case err == nil:
		if err := checkControlled(gvk.Kind, desired, currentObj); err != nil {
			return false, err
		}
		have, err := toUnstructured(currentObj, r.Scheme)
		if err != nil {
			return false, err
		}
		if adopt != nil {
			adopt(want, have)
		}
		if isSubset(want.Object, have.Object, "") == "" {
			return false, copyInto(have, desired, r.Scheme)
		}
		log.FromContext(ctx).V(1).Info("Applying changed object", "kind", gvk.Kind, "name", desired.GetName(),
			"field", isSubset(want.Object, have.Object, ""))
	case apierrors.IsNotFound(err):
		// The cache holds only objects labelled as ours (CacheOptions): an object of this
		// name that is not ours is invisible to it, and a plain apply would take it over.
		// So the apply only creates (createOnly): when an object of this name exists, it
		// is read past the cache and checked, and applied only when it is ours.
		log.FromContext(ctx).Info("Creating object", "kind", gvk.Kind, "name", desired.GetName())
		created := createOnly(want)
		err := r.Apply(ctx, client.ApplyConfigurationFromUnstructured(created), client.FieldOwner(fieldOwner), client.ForceOwnership)
		if err == nil {
			// The API server's answer, as after any apply: callers read what it set (a
			// new Deployment's generation, which its controller has not observed yet).
			return true, copyInto(created, desired, r.Scheme)
		}
		if !apierrors.IsConflict(err) {
			return false, fmt.Errorf("applying %s %s: %w", gvk.Kind, desired.GetName(), err)
		}
		if err := r.checkNotTakingOver(ctx, gvk.Kind, desired, currentObj); err != nil {
			return false, err
		}
		// Ours, and not in the cache yet (or no longer labelled as ours): applied below.
	default:
		return false, fmt.Errorf("reading %s %s: %w", gvk.Kind, desired.GetName(), err)
	}

	if err := r.Apply(ctx, client.ApplyConfigurationFromUnstructured(want), client.FieldOwner(fieldOwner), client.ForceOwnership); err != nil {
		return false, fmt.Errorf("applying %s %s: %w", gvk.Kind, desired.GetName(), err)
	}
	return true, copyInto(want, desired, r.Scheme)
}

// createOnlyResourceVersion makes a server-side apply a create: an apply that names a
// resourceVersion is refused with a Conflict, and writes nothing, unless the object's
// is that one (the generic registry's Store.Update compares them before any change),
// while an apply that creates ignores it (the object is new: Store.Update wipes and
// fills its metadata). No object has resourceVersion 1: it is the revision of an
// empty etcd, and every write moves past it. One request, where a read past the cache
// and then an apply took two for every object a Storefront creates; an object of the
// name that exists (someone else's, or ours before the cache shows it) costs a read.
const createOnlyResourceVersion = "1"

// createOnly returns want to be applied only if no object of its name exists.
func createOnly(want *unstructured.Unstructured) *unstructured.Unstructured {
	u := want.DeepCopy()
	u.SetResourceVersion(createOnlyResourceVersion)
	return u
}

// applyContent turns desired into the body of a server-side apply: typed zero values
// that mean "unset" (creationTimestamp: null, status: {}) are dropped, and the hash of
// what remains is recorded in annotationAppliedHash.
func applyContent(desired client.Object, scheme *runtime.Scheme) (*unstructured.Unstructured, error) {
	u, err := toUnstructured(desired, scheme)
	if err != nil {
		return nil, err
	}
	delete(u.Object, "status")
	unstructured.RemoveNestedField(u.Object, "metadata", "creationTimestamp")
	unstructured.RemoveNestedField(u.Object, "metadata", "resourceVersion")
	unstructured.RemoveNestedField(u.Object, "metadata", "uid")
	unstructured.RemoveNestedField(u.Object, "metadata", "managedFields")
	unstructured.RemoveNestedField(u.Object, "metadata", "generation")
	pruneNulls(u.Object)
	annotations := u.GetAnnotations()
	delete(annotations, annotationAppliedHash)
	if len(annotations) == 0 {
		annotations = nil
	}
	u.SetAnnotations(annotations)
	body, err := json.Marshal(u.Object)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(body)
	if annotations == nil {
		annotations = map[string]string{}
	}
	annotations[annotationAppliedHash] = hex.EncodeToString(sum[:])[:16]
	u.SetAnnotations(annotations)
	return u, nil
}

// toUnstructured converts obj (typed or unstructured) to an unstructured copy with its
// apiVersion and kind set.
func toUnstructured(obj client.Object, scheme *runtime.Scheme) (*unstructured.Unstructured, error) {
	gvk, err := apiutil.GVKForObject(obj, scheme)
	if err != nil {
		return nil, err
	}
	var content map[string]any
	if u, ok := obj.(*unstructured.Unstructured); ok {
		content = runtime.DeepCopyJSON(u.Object)
	} else if content, err = runtime.DefaultUnstructuredConverter.ToUnstructured(obj); err != nil {
		return nil, err
	}
	u := &unstructured.Unstructured{Object: content}
	u.SetGroupVersionKind(gvk)
	return u, nil
}

// copyInto copies the live object u into obj, which may be typed or unstructured.
func copyInto(u *unstructured.Unstructured, obj client.Object, scheme *runtime.Scheme) error {
	if dst, ok := obj.(*unstructured.Unstructured); ok {
		dst.Object = runtime.DeepCopyJSON(u.Object)
		return nil
	}
	gvk, err := apiutil.GVKForObject(obj, scheme)
	if err != nil {
		return err
	}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, obj); err != nil {
		return fmt.Errorf("decoding %s %s: %w", gvk.Kind, u.GetName(), err)
	}
	// The typed decoder leaves TypeMeta empty; keep it for callers that log the kind.
	obj.GetObjectKind().SetGroupVersionKind(gvk)
	return nil
}

// pruneNulls removes null values, which in a typed object mean "not set".
func pruneNulls(m map[string]any) {
	for k, v := range m {
		switch t := v.(type) {
		case nil:
			delete(m, k)
		case map[string]any:
			pruneNulls(t)
		case []any:
			for _, item := range t {
				if im, ok := item.(map[string]any); ok {
					pruneNulls(im)
				}
			}
		}
	}
}

// isSubset reports where want is not contained in have, or "" when it is: every field
// of want must be in have with an equal value (maps may hold more keys: the API server
// defaults fields and other writers own theirs); lists must have the same length and
// match item by item. An empty map in want matches a missing field: the server drops
// empty objects it has no defaults for.
func isSubset(want, have any, path string) string {
	switch w := want.(type) {
	case map[string]any:
		h, ok := have.(map[string]any)
		if !ok {
			if have == nil && len(w) == 0 {
				return ""
			}
			return pathOrRoot(path)
		}
		for k, wv := range w {
			hv, found := h[k]
			if !found {
				if m, ok := wv.(map[string]any); ok && len(m) == 0 {
					continue
				}
				return path + "." + k
			}
			if p := isSubset(wv, hv, path+"."+k); p != "" {
				return p
			}
		}
		return ""
	case []any:
		h, ok := have.([]any)
		if !ok || len(h) != len(w) {
			return pathOrRoot(path)
		}
		for i := range w {
			if p := isSubset(w[i], h[i], fmt.Sprintf("%s[%d]", path, i)); p != "" {
				return p
			}
		}
		return ""
	default:
		if numbersEqual(want, have) || reflect.DeepEqual(want, have) {
			return ""
		}
		return pathOrRoot(path)
	}
}

// numbersEqual compares JSON numbers that one side holds as int64 and the other as
// float64 (unstructured content decoded from JSON versus converted from Go).
func numbersEqual(a, b any) bool {
	af, aok := asFloat(a)
	bf, bok := asFloat(b)
	return aok && bok && af == bf
}

func asFloat(v any) (float64, bool) {
	switch n := v.(type) {
	case int64:
		return float64(n), true
	case int32:
		return float64(n), true
	case int:
		return float64(n), true
	case float64:
		return n, true
	}
	return 0, false
}

func pathOrRoot(path string) string {
	if path == "" {
		return "."
	}
	return path
}
