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

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"

	shopv1alpha1 "github.com/storefront-operator/storefront/api/v1alpha1"
)

// +kubebuilder:rbac:groups=networking.k8s.io,resources=networkpolicies,verbs=get;list;watch;create;patch;delete

// namespaceNameLabel is set by the API server on every namespace (since 1.21), so a
// NetworkPolicy can select a namespace by name.
const namespaceNameLabel = "kubernetes.io/metadata.name"

// networkSettings are the operator flags that shape the NetworkPolicies.
type networkSettings struct {
	IngressNamespace string
	IngressCIDRs     []string
	MetricsNamespace string
}

// reconcileNetwork applies the shop's and the migration's NetworkPolicies, or deletes
// them when spec.networkPolicy.enabled is false. Their egress needs the data stores'
// ports, so they wait for the stores.
func (r *StorefrontReconciler) reconcileNetwork(ctx context.Context, s *scope) (ctrl.Result, error) {
	sf := s.sf
	if !ptr.Deref(sf.Spec.NetworkPolicy.Enabled, true) {
		for _, role := range []string{roleShop, roleMigrate} {
			if err := r.deleteOwned(ctx, sf, &networkingv1.NetworkPolicy{}, objectName(sf, role)); err != nil {
				return ctrl.Result{}, err
			}
		}
		return ctrl.Result{}, nil
	}
	if !s.storesReady() {
		return ctrl.Result{}, nil
	}
	settings := networkSettings{
		IngressNamespace: r.Options.IngressNamespace,
		IngressCIDRs:     r.Options.IngressCIDRs,
		MetricsNamespace: r.Options.MetricsNamespace,
	}
	for _, np := range []*networkingv1.NetworkPolicy{
		desiredShopNetworkPolicy(sf, r.Scheme, settings, s.database, s.cache),
		desiredMigrationNetworkPolicy(sf, r.Scheme, s.database, s.cache),
	} {
		if _, err := r.applyObject(ctx, np); err != nil {
			return ctrl.Result{}, err
		}
	}
	return ctrl.Result{}, nil
}

// desiredShopNetworkPolicy denies all traffic of the shop's pods but: the HTTP port from
// the ingress namespace and CIDRs (from anywhere when neither is set), the metrics port
// from the metrics namespace, and the egress of storeEgress.
func desiredShopNetworkPolicy(sf *shopv1alpha1.Storefront, scheme *runtime.Scheme, settings networkSettings, db, cache *storeEndpoint) *networkingv1.NetworkPolicy {
	var from []networkingv1.NetworkPolicyPeer
	if settings.IngressNamespace != "" {
		from = append(from, namespacePeer(settings.IngressNamespace))
	}
	for _, cidr := range settings.IngressCIDRs {
		from = append(from, networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: cidr}})
	}
	ingress := []networkingv1.NetworkPolicyIngressRule{{Ports: tcpPorts(httpPort), From: from}}
	if settings.MetricsNamespace != "" {
		ingress = append(ingress, networkingv1.NetworkPolicyIngressRule{
			Ports: tcpPorts(metricsPort),
			From:  []networkingv1.NetworkPolicyPeer{namespacePeer(settings.MetricsNamespace)},
		})
	}
	np := &networkingv1.NetworkPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy"},
		ObjectMeta: objectMeta(sf, objectName(sf, roleShop), componentShop),
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: selectorLabels(sf, componentShop)},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress},
			Ingress:     ingress,
			Egress:      storeEgress(db, cache),
		},
	}
	own(sf, np, scheme)
	return np
}

// desiredMigrationNetworkPolicy gives migration pods the shop's egress and no ingress.
func desiredMigrationNetworkPolicy(sf *shopv1alpha1.Storefront, scheme *runtime.Scheme, db, cache *storeEndpoint) *networkingv1.NetworkPolicy {
	np := &networkingv1.NetworkPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy"},
		ObjectMeta: objectMeta(sf, objectName(sf, roleMigrate), componentMigration),
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: selectorLabels(sf, componentMigration)},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress},
			Egress:      storeEgress(db, cache),
		},
	}
	own(sf, np, scheme)
	return np
}

// storeEgress allows DNS, the database port and the cache port. The stores are reached
// by host name, which a NetworkPolicy cannot match, so any address is allowed on those
// ports.
func storeEgress(db, cache *storeEndpoint) []networkingv1.NetworkPolicyEgressRule {
	dns := []networkingv1.NetworkPolicyPort{
		{Protocol: ptr.To(corev1.ProtocolUDP), Port: ptr.To(intstr.FromInt32(53))},
		{Protocol: ptr.To(corev1.ProtocolTCP), Port: ptr.To(intstr.FromInt32(53))},
	}
	rules := []networkingv1.NetworkPolicyEgressRule{{Ports: dns}}
	var ports []int32
	if db != nil {
		ports = append(ports, db.Port)
	}
	if cache != nil && (db == nil || cache.Port != db.Port) {
		ports = append(ports, cache.Port)
	}
	if len(ports) > 0 {
		rules = append(rules, networkingv1.NetworkPolicyEgressRule{Ports: tcpPorts(ports...)})
	}
	return rules
}

func tcpPorts(ports ...int32) []networkingv1.NetworkPolicyPort {
	out := make([]networkingv1.NetworkPolicyPort, 0, len(ports))
	for _, p := range ports {
		out = append(out, networkingv1.NetworkPolicyPort{Protocol: ptr.To(corev1.ProtocolTCP), Port: ptr.To(intstr.FromInt32(p))})
	}
	return out
}

func namespacePeer(ns string) networkingv1.NetworkPolicyPeer {
	return networkingv1.NetworkPolicyPeer{NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{namespaceNameLabel: ns}}}
}
