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
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	klabels "k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	shopv1alpha1 "github.com/storefront-operator/storefront/api/v1alpha1"
	"github.com/storefront-operator/storefront/test/fake"
)

// The cache selects every kind by the operator's label, the ACK kinds included, and
// Storefronts by nothing.
func TestCacheOptionsSelectOwnedObjects(t *testing.T) {
	g := NewWithT(t)
	opts := CacheOptions(nil)
	g.Expect(opts.DefaultLabelSelector).NotTo(BeNil())
	g.Expect(opts.DefaultLabelSelector.Matches(klabels.Set{labelManagedBy: fieldOwner})).To(BeTrue())
	g.Expect(opts.DefaultLabelSelector.Matches(klabels.Set{labelName: appName})).To(BeFalse(), "an object without managed-by is not cached")
	g.Expect(opts.DefaultLabelSelector.Matches(klabels.Set{})).To(BeFalse())
	sfSelected := false
	for obj, by := range opts.ByObject {
		if _, ok := obj.(*shopv1alpha1.Storefront); ok {
			sfSelected = true
			g.Expect(by.Label.Empty()).To(BeTrue(), "Storefronts carry no label of ours")
			continue
		}
		g.Expect(by.Label.Matches(klabels.Set{})).To(BeFalse(), "%T cached unfiltered", obj)
	}
	g.Expect(sfSelected).To(BeTrue())
}

// An ACK object of the name the Storefront needs that it does not control (created by
// someone else, without our label, so the label-selected cache does not show it) is
// found by the create-only apply, read past the cache and left alone: Ready=False/OwnershipConflict
// names it, as for the built-in kinds (TestObjectNotControlledIsLeftAlone). Once it is
// gone the shop gets its own, labelled and controlled.
func TestACKObjectNotControlledIsLeftAlone(t *testing.T) {
	cases := []struct {
		name    string
		gvk     schema.GroupVersionKind
		object  string
		spec    map[string]any
		options Options
		shop    []storefrontOption
		crds    func(*testing.T)
	}{
		{
			name: "DBSubnetGroup", gvk: gvkDBSubnetGroup, object: "acme-database",
			spec:    map[string]any{"name": "billing-db", "description": "the billing team's", "subnetIDs": []any{"subnet-0fff"}},
			options: ackOptions, shop: []storefrontOption{withAurora()},
		},
		{
			name: "Bucket", gvk: gvkBucket, object: "acme-images",
			spec:    map[string]any{"name": "billing-images"},
			options: Options{AWSRegion: "eu-central-1"},
			shop: []storefrontOption{func(sf *shopv1alpha1.Storefront) {
				sf.Spec.Images = &shopv1alpha1.ImagesSpec{Bucket: &shopv1alpha1.ImagesBucket{}}
			}},
			crds: requireImagesCDNCRDs,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.crds != nil {
				tc.crds(t)
			}
			ns := newNamespace(t)
			startStandIns(t, ns, fake.Options{})
			startOperator(t, ns, tc.options)
			g := NewWithT(t)
			ctx := context.Background()
			theirs := newACKObject(tc.gvk)
			theirs.SetNamespace(ns)
			theirs.SetName(tc.object)
			theirs.SetLabels(map[string]string{"team": "billing"})
			theirs.Object["spec"] = tc.spec
			g.Expect(k8sClient.Create(ctx, theirs)).To(Succeed())

			createURLSecret(t, ns, "acme-db", dbURL)
			createURLSecret(t, ns, "acme-redis", redisURL)
			createStorefront(t, newStorefront(ns, tc.shop...))
			sf := waitForPhase(t, ns, shopv1alpha1.PhaseDegraded)
			c := condition(sf, shopv1alpha1.ConditionReady)
			g.Expect(c.Reason).To(Equal(shopv1alpha1.ReasonOwnershipConflict))
			g.Expect(c.Message).To(ContainSubstring(tc.gvk.Kind + " " + tc.object + " exists and has no controller"))
			g.Eventually(func(g Gomega) {
				g.Expect(warningReasons(g, ns)).To(ContainElement(shopv1alpha1.ReasonOwnershipConflict))
			}).WithTimeout(eventually).WithPolling(poll).Should(Succeed())

			live := ackObject(g, ns, tc.gvk, tc.object)
			g.Expect(live.GetLabels()).To(Equal(theirs.GetLabels()), "the %s was taken over", tc.gvk.Kind)
			g.Expect(live.GetOwnerReferences()).To(BeEmpty())
			g.Expect(live.GetAnnotations()).NotTo(HaveKey(annotationAppliedHash))
			g.Expect(asJSON(g, specSubset(live, keysOf(tc.spec)))).To(Equal(asJSON(g, tc.spec)))
			for _, mf := range live.GetManagedFields() {
				g.Expect(mf.Manager).NotTo(Equal(fieldOwner), "the operator wrote to the %s", tc.gvk.Kind)
			}

			// The ACK stand-in put its finalizer on it (as ACK does on every object it
			// manages); the owner removes it with the object.
			g.Expect(k8sClient.Delete(ctx, live)).To(Succeed())
			g.Eventually(func() error {
				u := newACKObject(tc.gvk)
				if err := k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: tc.object}, u); err != nil {
					return client.IgnoreNotFound(err)
				}
				u.SetFinalizers(nil)
				return client.IgnoreNotFound(k8sClient.Update(ctx, u))
			}).WithTimeout(eventually).WithPolling(poll).Should(Succeed())
			// Theirs is gone: absent, or already replaced by the operator's own (the
			// create-only apply may run between two polls, so absence alone may never show).
			g.Eventually(func(g Gomega) {
				u := newACKObject(tc.gvk)
				err := k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: tc.object}, u)
				if err == nil {
					g.Expect(u.GetUID()).NotTo(Equal(theirs.GetUID()), "the %s is still theirs", tc.gvk.Kind)
					return
				}
				g.Expect(apierrors.IsNotFound(err)).To(BeTrue(), "reading the %s: %v", tc.gvk.Kind, err)
			}).WithTimeout(eventually).WithPolling(poll).Should(Succeed())
			g.Eventually(func(g Gomega) {
				ours := ackObject(g, ns, tc.gvk, tc.object)
				g.Expect(metav1.IsControlledBy(ours, getStorefront(g, ns))).To(BeTrue())
				g.Expect(ours.GetLabels()).To(HaveKeyWithValue(labelManagedBy, fieldOwner))
			}).WithTimeout(eventually).WithPolling(poll).Should(Succeed())
			g.Eventually(func(g Gomega) {
				g.Expect(condition(getStorefront(g, ns), shopv1alpha1.ConditionReady).Reason).NotTo(Equal(shopv1alpha1.ReasonOwnershipConflict))
			}).WithTimeout(eventually).WithPolling(poll).Should(Succeed())
		})
	}
}
