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
	"testing"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/storefront-operator/storefront/test/fake"
)

func TestIsSubset(t *testing.T) {
	cases := map[string]struct {
		want, have any
		diff       string
	}{
		"equal scalars":                   {"a", "a", ""},
		"different scalars":               {"a", "b", "."},
		"int64 and float64 of one number": {int64(3), float64(3), ""},
		"extra keys in have are defaults or other owners": {
			map[string]any{"a": "1"}, map[string]any{"a": "1", "b": "2"}, ""},
		"a missing key": {map[string]any{"a": "1", "c": "3"}, map[string]any{"a": "1"}, ".c"},
		"a changed nested value": {
			map[string]any{"spec": map[string]any{"port": int64(80)}},
			map[string]any{"spec": map[string]any{"port": int64(81)}}, ".spec.port"},
		"an empty object the server dropped": {map[string]any{"emptyDir": map[string]any{}}, map[string]any{}, ""},
		"lists match item by item, items may hold defaults": {
			[]any{map[string]any{"name": "a"}}, []any{map[string]any{"name": "a", "protocol": "TCP"}}, ""},
		"a list item added by another writer": {
			[]any{"serve"}, []any{"serve", "--debug"}, "."},
		"a list item removed by another writer": {
			[]any{map[string]any{"name": "a"}, map[string]any{"name": "b"}}, []any{map[string]any{"name": "a"}}, "."},
		"reordered list items": {[]any{"a", "b"}, []any{"b", "a"}, "[0]"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := isSubset(tc.want, tc.have, ""); got != tc.diff {
				t.Errorf("isSubset = %q, want %q", got, tc.diff)
			}
		})
	}
}

func TestApplyContent(t *testing.T) {
	g := NewWithT(t)
	d := desiredDeployment(storefrontNamed("acme"), testScheme, imageV1, "abc", nil, nil)
	u, err := applyContent(d, testScheme)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(u.Object).NotTo(HaveKey("status"), "status is not ours to apply")
	_, found, _ := unstructured.NestedFieldNoCopy(u.Object, "metadata", "creationTimestamp")
	g.Expect(found).To(BeFalse())
	_, found, _ = unstructured.NestedFieldNoCopy(u.Object, "spec", "replicas")
	g.Expect(found).To(BeFalse(), "spec.replicas belongs to the HPA")
	_, found, _ = unstructured.NestedFieldNoCopy(u.Object, "spec", "template", "metadata", "creationTimestamp")
	g.Expect(found).To(BeFalse(), "nulls are pruned")
	g.Expect(u.GetAPIVersion()).To(Equal("apps/v1"))
	g.Expect(u.GetKind()).To(Equal("Deployment"))
	hash := u.GetAnnotations()[annotationAppliedHash]
	g.Expect(hash).To(HaveLen(16))

	again, err := applyContent(d, testScheme)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(again.GetAnnotations()[annotationAppliedHash]).To(Equal(hash), "the hash is stable")
	d.Spec.Template.Annotations = nil
	changed, err := applyContent(d, testScheme)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(changed.GetAnnotations()[annotationAppliedHash]).NotTo(Equal(hash), "a removed field changes the hash")
}

// Drift by another writer on a field the operator owns is corrected, even when that
// writer took ownership of the field.
func TestDriftIsCorrected(t *testing.T) {
	ns := newNamespace(t)
	startStandIns(t, ns, fake.Options{})
	startOperator(t, ns, Options{})
	g := NewWithT(t)
	readyShop(t, ns)
	ctx := context.Background()

	g.Eventually(func() error {
		svc := get(g, ns, "acme-shop", &corev1.Service{})
		svc.Spec.Ports[0].TargetPort = intstr.FromInt32(9999)
		return k8sClient.Update(ctx, svc, client.FieldOwner("kubectl-edit"))
	}).WithTimeout(eventually).WithPolling(poll).Should(Succeed())
	g.Eventually(func() error {
		d := get(g, ns, "acme-shop", &appsv1.Deployment{})
		d.Spec.Template.Spec.Containers[0].Args = []string{"serve", "--debug"}
		return k8sClient.Update(ctx, d, client.FieldOwner("kubectl-edit"))
	}).WithTimeout(eventually).WithPolling(poll).Should(Succeed())

	g.Eventually(func(g Gomega) {
		svc := get(g, ns, "acme-shop", &corev1.Service{})
		g.Expect(svc.Spec.Ports[0].TargetPort).To(Equal(intstr.FromString(httpPortName)))
		d := get(g, ns, "acme-shop", &appsv1.Deployment{})
		g.Expect(d.Spec.Template.Spec.Containers[0].Args).To(Equal([]string{"serve"}))
	}).WithTimeout(eventually).WithPolling(poll).Should(Succeed())
}

// The API server behaviour createOnly relies on, on the real kube-apiserver: a
// server-side apply naming resourceVersion 1 creates an absent object (recording the
// apply's field manager, operation Apply, as any apply does), and is refused with a
// Conflict, writing nothing, when an object of the name exists
// (k8s.io/apiserver pkg/registry/generic/registry/store.go, Store.Update: a create
// wipes the metadata, an update compares the resourceVersions first). etcd's revision
// is 1 only while it is empty, so no object's resourceVersion is 1.
func TestCreateOnlyApply(t *testing.T) {
	ns := newNamespace(t)
	g := NewWithT(t)
	ctx := context.Background()
	content := func(value string) *unstructured.Unstructured {
		u := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "v1", "kind": "ConfigMap",
			"metadata": map[string]any{"name": "probe", "namespace": ns},
			"data":     map[string]any{"k": value},
		}}
		return u
	}
	apply := func(u *unstructured.Unstructured) error {
		return k8sClient.Apply(ctx, client.ApplyConfigurationFromUnstructured(u), client.FieldOwner(fieldOwner), client.ForceOwnership)
	}

	g.Expect(apply(createOnly(content("first")))).To(Succeed())
	live := get(g, ns, "probe", &corev1.ConfigMap{})
	g.Expect(live.Data).To(Equal(map[string]string{"k": "first"}))
	g.Expect(live.ResourceVersion).NotTo(Equal(createOnlyResourceVersion))
	g.Expect(live.ManagedFields).To(HaveLen(1))
	g.Expect(live.ManagedFields[0].Manager).To(Equal(fieldOwner))
	g.Expect(string(live.ManagedFields[0].Operation)).To(Equal("Apply"))

	err := apply(createOnly(content("second")))
	g.Expect(apierrors.IsConflict(err)).To(BeTrue(), "want a Conflict, got %v", err)
	again := get(g, ns, "probe", &corev1.ConfigMap{})
	g.Expect(again.Data).To(Equal(map[string]string{"k": "first"}))
	g.Expect(again.ResourceVersion).To(Equal(live.ResourceVersion), "the refused apply wrote")
}
