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
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	shopv1alpha1 "github.com/storefront-operator/storefront/api/v1alpha1"
	"github.com/storefront-operator/storefront/test/fake"
)

// Deletion: the finalizer removes what the Storefront owns (envtest has no garbage
// collector, so this is the operator's own doing) and releases it; Secrets it only
// reads are kept.
func TestDeletionRemovesOwnedObjects(t *testing.T) {
	ns := newNamespace(t)
	startStandIns(t, ns, fake.Options{})
	startOperator(t, ns, Options{})
	g := NewWithT(t)
	readyShop(t, ns, withExternalCache(), withIngress(shopv1alpha1.IngressSpec{Host: "shop.acme.example"}))

	g.Expect(k8sClient.Delete(context.Background(), newStorefront(ns))).To(Succeed())
	g.Eventually(func() bool { return absent(ns, "acme", &shopv1alpha1.Storefront{}) }).WithTimeout(eventually).WithPolling(poll).Should(BeTrue())
	for name, obj := range map[string]client.Object{
		"acme-shop/Deployment": &appsv1.Deployment{}, "acme-shop/Service": &corev1.Service{},
		"acme-shop/Ingress": &networkingv1.Ingress{}, "acme-shop/HPA": &autoscalingv2.HorizontalPodAutoscaler{},
		"acme-shop/PDB": &policyv1.PodDisruptionBudget{}, "acme-shop/NetworkPolicy": &networkingv1.NetworkPolicy{},
		"acme-migrate/NetworkPolicy": &networkingv1.NetworkPolicy{}, "acme-shop/ServiceAccount": &corev1.ServiceAccount{},
		"acme-connection/Secret": &corev1.Secret{}, "acme-app/Secret": &corev1.Secret{},
	} {
		g.Expect(absent(ns, strings.Split(name, "/")[0], obj)).To(BeTrue(), "%s is left", name)
	}
	g.Expect(migrationJobs(g, ns)).To(BeEmpty())
	get(g, ns, "acme-db", &corev1.Secret{})
	get(g, ns, "acme-redis", &corev1.Secret{})
}

// Deletion waits for each step: while another controller holds an object of the
// workload (an ingress controller's finalizer on the Ingress), the Storefront stays,
// says Deleting, and the Secrets the workload uses are kept.
func TestDeletionWaitsForOtherControllers(t *testing.T) {
	ns := newNamespace(t)
	startStandIns(t, ns, fake.Options{})
	startOperator(t, ns, Options{})
	g := NewWithT(t)
	ctx := context.Background()
	readyShop(t, ns, withIngress(shopv1alpha1.IngressSpec{Host: "shop.acme.example", ClassName: "alb"}))

	const albFinalizer = "ingress.k8s.aws/resources"
	setFinalizer := func(add bool) {
		g.Eventually(func() error {
			ing := &networkingv1.Ingress{}
			if err := k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "acme-shop"}, ing); err != nil {
				return err
			}
			if add {
				controllerutil.AddFinalizer(ing, albFinalizer)
			} else {
				controllerutil.RemoveFinalizer(ing, albFinalizer)
			}
			return k8sClient.Update(ctx, ing)
		}).WithTimeout(eventually).WithPolling(poll).Should(Succeed())
	}
	setFinalizer(true)
	g.Expect(k8sClient.Delete(ctx, newStorefront(ns))).To(Succeed())
	g.Eventually(func(g Gomega) {
		sf := getStorefront(g, ns)
		g.Expect(sf.Status.Phase).To(Equal(shopv1alpha1.PhaseDeleting))
		ready := condition(sf, shopv1alpha1.ConditionReady)
		g.Expect(ready.Reason).To(Equal(shopv1alpha1.ReasonDeleting))
		g.Expect(ready.Message).To(ContainSubstring("workload"))
		g.Expect(absent(ns, "acme-shop", &appsv1.Deployment{})).To(BeTrue())
	}).WithTimeout(eventually).WithPolling(poll).Should(Succeed())
	g.Consistently(func(g Gomega) {
		getStorefront(g, ns)
		get(g, ns, "acme-app", &corev1.Secret{})
	}).WithTimeout(quiet).WithPolling(poll).Should(Succeed())

	setFinalizer(false)
	g.Eventually(func() bool {
		return absent(ns, "acme", &shopv1alpha1.Storefront{}) && absent(ns, "acme-app", &corev1.Secret{})
	}).WithTimeout(eventually).WithPolling(poll).Should(BeTrue())
}

// A Retain deletion keeps <name>-app as it keeps the password Secrets (released, no
// owner reference), and the Storefront created again uses it: the adopted database holds
// the admins' TOTP secrets sealed with its totp-key, and the shop does not start when
// one opens with neither of its keys. Before, the finalizer deleted it under every
// policy and the new Storefront generated other keys. Under Delete it goes.
func TestRetainKeepsTheAppSecret(t *testing.T) {
	ns := newNamespace(t)
	startStandIns(t, ns, fake.Options{ACKDelay: 300 * time.Millisecond})
	startOperator(t, ns, ackOptions)
	g := NewWithT(t)
	createStorefront(t, newStorefront(ns, withRetain()))
	sf := waitForPhase(t, ns, shopv1alpha1.PhaseReady)
	before := get(g, ns, "acme-app", &corev1.Secret{})
	g.Expect(metav1.IsControlledBy(before, sf)).To(BeFalse(), "released from the start, as the password Secrets are")

	deleteAndWait(t, ns)
	kept := get(g, ns, "acme-app", &corev1.Secret{})
	g.Expect(kept.OwnerReferences).To(BeEmpty())

	createStorefront(t, newStorefront(ns, withRetain()))
	waitForPhase(t, ns, shopv1alpha1.PhaseReady)
	after := get(g, ns, "acme-app", &corev1.Secret{})
	for _, k := range []string{keyTOTPKey, keyJWTSecret, keyAdminEmail, keyAdminPassword} {
		g.Expect(string(after.Data[k])).To(Equal(string(before.Data[k])), k)
	}

	updateStorefront(t, ns, func(sf *shopv1alpha1.Storefront) {
		sf.Spec.Database.Aurora.DeletionPolicy = shopv1alpha1.DeletionPolicyDelete
	})
	g.Eventually(func(g Gomega) {
		sf := getStorefront(g, ns)
		g.Expect(metav1.IsControlledBy(get(g, ns, "acme-app", &corev1.Secret{}), sf)).To(BeTrue(), "owned under Delete")
	}).WithTimeout(eventually).WithPolling(poll).Should(Succeed())
	deleteAndWait(t, ns)
	g.Expect(absent(ns, "acme-app", &corev1.Secret{})).To(BeTrue(), "deleted under Delete")
}
