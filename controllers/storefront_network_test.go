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

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
)

func TestDesiredShopNetworkPolicy(t *testing.T) {
	db := &storeEndpoint{Host: "db", Port: 5432}
	cases := map[string]struct {
		settings    networkSettings
		cache       *storeEndpoint
		wantFrom    int  // peers allowed to the HTTP port; 0 means anywhere
		wantMetrics bool // a rule for the metrics port
		wantEgress  []int32
	}{
		"no flags: the shop port is open to all, metrics to none": {networkSettings{}, nil, 0, false, []int32{53, 5432}},
		"an ingress namespace":                       {networkSettings{IngressNamespace: "ingress-nginx"}, nil, 1, false, []int32{53, 5432}},
		"VPC CIDRs for an ALB in IP mode":            {networkSettings{IngressCIDRs: []string{"10.0.0.0/16", "10.1.0.0/16"}}, nil, 2, false, []int32{53, 5432}},
		"a metrics namespace":                        {networkSettings{MetricsNamespace: "monitoring"}, nil, 0, true, []int32{53, 5432}},
		"a cache on its own port":                    {networkSettings{}, &storeEndpoint{Port: 6380}, 0, false, []int32{53, 5432, 6380}},
		"a cache on the database's port is one rule": {networkSettings{}, &storeEndpoint{Port: 5432}, 0, false, []int32{53, 5432}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			np := desiredShopNetworkPolicy(storefrontNamed("acme"), testScheme, tc.settings, db, tc.cache)
			g.Expect(np.Spec.PolicyTypes).To(ConsistOf(networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress))
			g.Expect(np.Spec.Ingress[0].Ports[0].Port.IntValue()).To(Equal(httpPort))
			g.Expect(np.Spec.Ingress[0].From).To(HaveLen(tc.wantFrom))
			if tc.wantMetrics {
				g.Expect(np.Spec.Ingress).To(HaveLen(2))
				g.Expect(np.Spec.Ingress[1].Ports[0].Port.IntValue()).To(Equal(metricsPort))
				g.Expect(np.Spec.Ingress[1].From[0].NamespaceSelector.MatchLabels).To(HaveKeyWithValue(namespaceNameLabel, "monitoring"))
			} else {
				g.Expect(np.Spec.Ingress).To(HaveLen(1), "the metrics port is closed without --metrics-namespace")
			}
			g.Expect(egressTCPPorts(np)).To(ConsistOf(toAny(tc.wantEgress)...))
			g.Expect(np.Spec.Egress[0].Ports).To(ContainElement(HaveField("Protocol", HaveValue(Equal(corev1.ProtocolUDP)))), "DNS over UDP")
		})
	}
}

func TestDesiredMigrationNetworkPolicy(t *testing.T) {
	g := NewWithT(t)
	np := desiredMigrationNetworkPolicy(storefrontNamed("acme"), testScheme, &storeEndpoint{Port: 5432}, nil)
	g.Expect(np.Name).To(Equal("acme-migrate"))
	g.Expect(np.Spec.PodSelector.MatchLabels).To(HaveKeyWithValue(labelComponent, componentMigration))
	g.Expect(np.Spec.Ingress).To(BeEmpty(), "nothing may connect to a migration")
	g.Expect(egressTCPPorts(np)).To(ConsistOf(int32(53), int32(5432)))
}

func toAny(ports []int32) []any {
	out := make([]any, len(ports))
	for i, p := range ports {
		out[i] = p
	}
	return out
}
