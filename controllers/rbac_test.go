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
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"

	shopv1alpha1 "github.com/storefront-operator/storefront/api/v1alpha1"
	"github.com/storefront-operator/storefront/test/fake"
)

// The operator works with nothing but the ClusterRole generated from its
// +kubebuilder:rbac markers (config/rbac/role.yaml): a Storefront becomes Ready, is
// deleted and released, as a user bound to that role alone.
func TestOperatorRunsWithGeneratedRBAC(t *testing.T) {
	ns := newNamespace(t)
	g := NewWithT(t)
	ctx := context.Background()

	role := &rbacv1.ClusterRole{}
	g.Expect(yaml.UnmarshalStrict([]byte(readFile(t, "../config/rbac/role.yaml")), role)).To(Succeed())
	role.Name = "storefront-rbac-test-" + ns
	g.Expect(k8sClient.Create(ctx, role)).To(Succeed())
	user := "storefront-operator-" + ns
	binding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: role.Name},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: user}},
	}
	g.Expect(k8sClient.Create(ctx, binding)).To(Succeed())
	t.Cleanup(func() { _ = k8sClient.Delete(ctx, binding); _ = k8sClient.Delete(ctx, role) })
	authn, err := testEnv.ControlPlane.AddUser(envtest.User{Name: user}, cfg)
	g.Expect(err).NotTo(HaveOccurred())

	startStandIns(t, ns, fake.Options{})
	startOperatorAs(t, authn.Config(), ns, Options{MetricsNamespace: "monitoring"})
	readyShop(t, ns, withExternalCache(), withIngress(shopv1alpha1.IngressSpec{Host: "shop.acme.example"}))
	g.Eventually(func(g Gomega) {
		g.Expect(eventReasons(g, ns)).To(ContainElement(shopv1alpha1.ReasonReconciled), "Events need their own permission")
	}).WithTimeout(eventually).WithPolling(poll).Should(Succeed())

	g.Expect(k8sClient.Delete(ctx, newStorefront(ns))).To(Succeed())
	g.Eventually(func() bool { return absent(ns, "acme", &shopv1alpha1.Storefront{}) }).WithTimeout(eventually).WithPolling(poll).Should(BeTrue())
}
