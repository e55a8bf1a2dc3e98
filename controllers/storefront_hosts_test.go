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
	"time"

	. "github.com/onsi/gomega"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	shopv1alpha1 "github.com/storefront-operator/storefront/api/v1alpha1"
	"github.com/storefront-operator/storefront/test/fake"
)

func TestHostOwner(t *testing.T) {
	t0 := metav1.NewTime(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	t1 := metav1.NewTime(t0.Add(time.Second))
	claim := func(ns string, created metav1.Time, opts ...func(*hostClaim)) hostClaim {
		c := hostClaim{key: client.ObjectKey{Namespace: ns, Name: "acme"}, created: created}
		for _, o := range opts {
			o(&c)
		}
		return c
	}
	serving := func(c *hostClaim) { c.serving = true }
	leaving := func(c *hostClaim) { c.leaving = true }

	tests := map[string]struct {
		claims []hostClaim
		want   string // namespace of the owner; "" for none
	}{
		"a single claim owns the host": {
			claims: []hostClaim{claim("team-a", t1)}, want: "team-a"},
		"the older of two new claims owns it": {
			claims: []hostClaim{claim("team-b", t1), claim("team-a", t0)}, want: "team-a"},
		"the one whose Ingress serves it keeps it, however old the other": {
			claims: []hostClaim{claim("team-a", t0), claim("team-b", t1, serving)}, want: "team-b"},
		"of two that serve it (a race, or from before ownership), the older keeps it": {
			claims: []hostClaim{claim("team-b", t1, serving), claim("team-a", t0, serving)}, want: "team-a"},
		"claims of the same second are ordered by namespace and name": {
			claims: []hostClaim{claim("team-b", t0), claim("team-a", t0)}, want: "team-a"},
		"a Storefront being deleted whose Ingress is gone lets go": {
			claims: []hostClaim{claim("team-a", t0, leaving), claim("team-b", t1)}, want: "team-b"},
		"a Storefront being deleted keeps the host while its Ingress serves it": {
			claims: []hostClaim{claim("team-a", t0, leaving, serving), claim("team-b", t1)}, want: "team-a"},
		"a paused Storefront that never served it does not block": {
			claims: []hostClaim{claim("team-a", t0, leaving), claim("team-b", t1)}, want: "team-b"},
		"no claim that counts: no owner": {
			claims: []hostClaim{claim("team-a", t0, leaving)}, want: ""},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			owner, ok := hostOwner(tc.claims)
			if got := owner.key.Namespace; got != tc.want || ok != (tc.want != "") {
				t.Errorf("owner %q (%v), want %q", got, ok, tc.want)
			}
		})
	}
}

func TestHostConflictMessage(t *testing.T) {
	t0 := metav1.NewTime(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	t1 := metav1.NewTime(t0.Add(time.Second))
	a := hostClaim{key: client.ObjectKey{Namespace: "team-a", Name: "acme"}, created: t0}
	b := hostClaim{key: client.ObjectKey{Namespace: "team-b", Name: "acme"}, created: t1}
	tests := map[string]struct {
		owner, self hostClaim
		want        string
	}{
		"the owner serves the host": {
			owner: hostClaim{key: a.key, created: t1, serving: true}, self: hostClaim{key: b.key, created: t0},
			want: "Host shop.example.com is claimed by Storefront team-a/acme (its Ingress serves it): " +
				"this Storefront gets no Ingress until that one is deleted or names another host",
		},
		"the owner is older": {
			owner: a, self: b,
			want: "Host shop.example.com is claimed by Storefront team-a/acme (it was created first): " +
				"this Storefront gets no Ingress until that one is deleted or names another host",
		},
		"both were created in the same second": {
			owner: a, self: hostClaim{key: b.key, created: t0},
			want: "Host shop.example.com is claimed by Storefront team-a/acme (it was created in the same second and its namespace/name sorts first): " +
				"this Storefront gets no Ingress until that one is deleted or names another host",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := hostConflictMessage("shop.example.com", tc.owner, tc.self); got != tc.want {
				t.Errorf("\n got: %s\nwant: %s", got, tc.want)
			}
		})
	}
}

// Two Storefronts in two namespaces name the same host: the one that serves it keeps
// it, the other says who owns it and gets no Ingress; when the owner names another host
// or goes away, the other gets its Ingress, through the watches (the resync is ten
// minutes away).
func TestHostOwnership(t *testing.T) {
	nsA, nsB := newNamespace(t), newNamespace(t)
	startStandIns(t, nsA, fake.Options{Namespaces: []string{nsB}})
	startOperatorFor(t, cfg, []string{nsA, nsB}, Options{})
	g := NewWithT(t)
	const host, otherHost = "shop.hosts.example", "other.hosts.example"
	onHost := withIngress(shopv1alpha1.IngressSpec{Host: host})

	liveHost := func(g Gomega, ns string) string {
		ing := get(g, ns, "acme-shop", &networkingv1.Ingress{})
		g.Expect(ing.Spec.Rules).To(HaveLen(1))
		return ing.Spec.Rules[0].Host
	}
	// serves waits until the Storefront of ns is Ready with an Ingress for h.
	serves := func(ns, h string) {
		t.Helper()
		g.Eventually(func(g Gomega) {
			sf := getStorefront(g, ns)
			g.Expect(sf.Status.ObservedGeneration).To(Equal(sf.Generation))
			g.Expect(condition(sf, shopv1alpha1.ConditionReady).Status).To(Equal(metav1.ConditionTrue), "Ready: %+v", condition(sf, shopv1alpha1.ConditionReady))
			g.Expect(sf.Status.URL).To(Equal("http://" + h))
			g.Expect(liveHost(g, ns)).To(Equal(h))
		}).WithTimeout(eventually).WithPolling(poll).Should(Succeed())
	}
	// blocked waits until the Storefront of ns says owner owns h, and has no Ingress.
	blocked := func(ns, owner, why string) {
		t.Helper()
		g.Eventually(func(g Gomega) {
			sf := getStorefront(g, ns)
			g.Expect(sf.Status.ObservedGeneration).To(Equal(sf.Generation))
			ready := condition(sf, shopv1alpha1.ConditionReady)
			g.Expect(ready.Status).To(Equal(metav1.ConditionFalse))
			g.Expect(ready.Reason).To(Equal(shopv1alpha1.ReasonHostConflict))
			g.Expect(ready.Message).To(Equal("Host " + host + " is claimed by Storefront " + owner + "/acme (" + why +
				"): this Storefront gets no Ingress until that one is deleted or names another host"))
			g.Expect(sf.Status.Phase).To(Equal(shopv1alpha1.PhaseDegraded))
			g.Expect(sf.Status.URL).To(BeEmpty(), "the host serves the other shop")
			g.Expect(absent(ns, "acme-shop", &networkingv1.Ingress{})).To(BeTrue(), "no Ingress")
		}).WithTimeout(eventually).WithPolling(poll).Should(Succeed())
	}

	// A serves the host; B, in another namespace, names it too.
	readyShop(t, nsA, onHost)
	serves(nsA, host)
	createURLSecret(t, nsB, "acme-db", dbURL)
	createStorefront(t, newStorefront(nsB, onHost))
	blocked(nsB, nsA, "its Ingress serves it")
	g.Expect(liveHost(g, nsA)).To(Equal(host), "the owner keeps its Ingress")
	g.Eventually(func(g Gomega) {
		g.Expect(eventReasons(g, nsB)).To(ContainElement(shopv1alpha1.ReasonHostConflict))
	}).WithTimeout(eventually).WithPolling(poll).Should(Succeed())

	// The owner names another host: B gets the host.
	updateStorefront(t, nsA, func(sf *shopv1alpha1.Storefront) { sf.Spec.Ingress.Host = otherHost })
	serves(nsB, host)
	serves(nsA, otherHost)

	// A, the older, names the host again: B serves it now, and keeps it.
	updateStorefront(t, nsA, func(sf *shopv1alpha1.Storefront) { sf.Spec.Ingress.Host = host })
	blocked(nsA, nsB, "its Ingress serves it")
	g.Consistently(func(g Gomega) {
		g.Expect(liveHost(g, nsB)).To(Equal(host))
	}).WithTimeout(quiet).WithPolling(poll).Should(Succeed())

	// The owner goes away: A gets the host.
	g.Expect(k8sClient.Delete(context.Background(), newStorefront(nsB))).To(Succeed())
	g.Eventually(func() bool { return absent(nsB, "acme", &shopv1alpha1.Storefront{}) }).WithTimeout(eventually).WithPolling(poll).Should(BeTrue())
	serves(nsA, host)
}
