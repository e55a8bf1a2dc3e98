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
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	shopv1alpha1 "github.com/storefront-operator/storefront/api/v1alpha1"
)

func TestShopURL(t *testing.T) {
	lb := func(in networkingv1.IngressLoadBalancerIngress) *networkingv1.Ingress {
		return &networkingv1.Ingress{Status: networkingv1.IngressStatus{LoadBalancer: networkingv1.IngressLoadBalancerStatus{
			Ingress: []networkingv1.IngressLoadBalancerIngress{in}}}}
	}
	cases := map[string]struct {
		spec *shopv1alpha1.IngressSpec
		ing  *networkingv1.Ingress
		want string
	}{
		"no ingress: no URL":       {nil, nil, ""},
		"a host with TLS is https": {&shopv1alpha1.IngressSpec{Host: "shop.example", TLSSecretName: "tls"}, nil, "https://shop.example"},
		"an ALB with an ACM certificate is https": {&shopv1alpha1.IngressSpec{ClassName: "alb", Host: "shop.example",
			CertificateARN: "arn:aws:acm:eu-west-1:123456789012:certificate/abc"}, nil, "https://shop.example"},
		"an ALB without a certificate is http": {&shopv1alpha1.IngressSpec{ClassName: "alb", Host: "shop.example"}, nil, "http://shop.example"},
		"a host without TLS is http":           {&shopv1alpha1.IngressSpec{Host: "shop.example"}, lb(networkingv1.IngressLoadBalancerIngress{IP: "1.2.3.4"}), "http://shop.example"},
		"no host and no address yet":           {&shopv1alpha1.IngressSpec{}, &networkingv1.Ingress{}, ""},
		"the load balancer's host name":        {&shopv1alpha1.IngressSpec{}, lb(networkingv1.IngressLoadBalancerIngress{Hostname: "lb.example"}), "http://lb.example"},
		"the load balancer's IP and port":      {&shopv1alpha1.IngressSpec{}, lb(networkingv1.IngressLoadBalancerIngress{IP: "127.0.0.1", Ports: []networkingv1.IngressPortStatus{{Port: 8443}}}), "http://127.0.0.1:8443"},
		"an IPv6 address":                      {&shopv1alpha1.IngressSpec{}, lb(networkingv1.IngressLoadBalancerIngress{IP: "fd00::1"}), "http://[fd00::1]"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := shopURL(tc.spec, tc.ing); got != tc.want {
				t.Errorf("url %q, want %q", got, tc.want)
			}
		})
	}
}

func TestSummarisePhaseAndReady(t *testing.T) {
	c := func(t string, ok bool, reason string) metav1.Condition {
		s := metav1.ConditionFalse
		if ok {
			s = metav1.ConditionTrue
		}
		return metav1.Condition{Type: t, Status: s, Reason: reason, ObservedGeneration: 2}
	}
	allTrue := []metav1.Condition{
		c(shopv1alpha1.ConditionDatabaseReady, true, "x"), c(shopv1alpha1.ConditionCacheReady, true, "x"),
		c(shopv1alpha1.ConditionSchemaMigrated, true, "x"), c(shopv1alpha1.ConditionAvailable, true, "x"),
	}
	with := func(over metav1.Condition) []metav1.Condition {
		out := append([]metav1.Condition(nil), allTrue...)
		for i := range out {
			if out[i].Type == over.Type {
				out[i] = over
			}
		}
		return out
	}
	stale := c(shopv1alpha1.ConditionAvailable, true, "x")
	stale.ObservedGeneration = 1
	cases := map[string]struct {
		conditions []metav1.Condition
		paused     bool
		wantPhase  shopv1alpha1.StorefrontPhase
		wantReady  bool
	}{
		"everything true":                    {allTrue, false, shopv1alpha1.PhaseReady, true},
		"a condition of an older generation": {with(stale), false, shopv1alpha1.PhaseRollingOut, false},
		"the database secret is missing":     {with(c(shopv1alpha1.ConditionDatabaseReady, false, shopv1alpha1.ReasonConnectionSecretNotFound)), false, shopv1alpha1.PhaseProvisioning, false},
		"the database secret is invalid":     {with(c(shopv1alpha1.ConditionDatabaseReady, false, shopv1alpha1.ReasonInvalidConnectionSecret)), false, shopv1alpha1.PhaseDegraded, false},
		"a migration runs":                   {with(c(shopv1alpha1.ConditionSchemaMigrated, false, shopv1alpha1.ReasonMigrationRunning)), false, shopv1alpha1.PhaseMigrating, false},
		"a migration failed":                 {with(c(shopv1alpha1.ConditionSchemaMigrated, false, shopv1alpha1.ReasonMigrationFailed)), false, shopv1alpha1.PhaseDegraded, false},
		"a rollout is stuck":                 {with(c(shopv1alpha1.ConditionAvailable, false, shopv1alpha1.ReasonRolloutStuck)), false, shopv1alpha1.PhaseDegraded, false},
		"a rollout runs":                     {with(c(shopv1alpha1.ConditionAvailable, false, shopv1alpha1.ReasonRollingOut)), false, shopv1alpha1.PhaseRollingOut, false},
		"paused wins":                        {allTrue, true, shopv1alpha1.PhasePaused, true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			sf := storefrontNamed("acme")
			sf.Generation = 2
			sf.Spec.Paused = tc.paused
			sf.Status.Conditions = tc.conditions
			setReady(sf)
			ready := condition(sf, shopv1alpha1.ConditionReady)
			if (ready.Status == metav1.ConditionTrue) != tc.wantReady || ready.ObservedGeneration != 2 {
				t.Errorf("Ready %+v, want True=%v for generation 2", ready, tc.wantReady)
			}
			if got := summarisePhase(sf); got != tc.wantPhase {
				t.Errorf("phase %s, want %s", got, tc.wantPhase)
			}
		})
	}
}
