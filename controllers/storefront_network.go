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
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/meta"
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

// The cluster DNS a shop may ask: CoreDNS in kube-system, labelled k8s-app: kube-dns as
// Kubernetes' and EKS's CoreDNS deployments are.
const (
	dnsNamespace = "kube-system"
	dnsPodLabel  = "k8s-app"
	dnsPodValue  = "kube-dns"
	dnsPort      = 53
)

// Reasons of the Warning Events about NetworkPolicies that let more through than the
// operator's flags could restrict.
const (
	eventReasonShopPortOpen     = "ShopPortOpenToCluster"
	eventReasonStorePortsOpen   = "StoreEgressOpenToAnyAddress"
	eventReasonImagesEgressOpen = "ImagesEgressOpenToAnyAddress"
)

// The shop's way to S3 and, for its credentials, to STS (IRSA) or to the EKS Pod
// Identity agent, which listens on every node's link-local addresses
// (https://docs.aws.amazon.com/eks/latest/userguide/pod-id-how-it-works.html).
const (
	httpsPort            int32 = 443
	podIdentityAgentPort int32 = 80
)

var podIdentityAgentCIDRs = []string{"169.254.170.23/32", "fd00:ec2::23/128"}

// networkSettings are the operator flags that shape the NetworkPolicies.
type networkSettings struct {
	IngressNamespace string
	IngressCIDRs     []string
	MetricsNamespace string
	// DBCIDRs and CacheCIDRs hold the address blocks of the database and cache subnets:
	// the only destinations of the Aurora and ElastiCache ports.
	DBCIDRs    []string
	CacheCIDRs []string
	// ImagesCIDRs are where a shop with an images bucket reaches S3 and STS on 443 (VPC
	// endpoints, or AWS's ranges): empty, any address.
	ImagesCIDRs []string
	// PodIdentity says the images credentials come from the EKS Pod Identity agent: the
	// operator puts no IRSA role on the ServiceAccount (no --images-role-arn).
	PodIdentity bool
}

// networkSettings gathers the flags from the operator's options.
func (r *StorefrontReconciler) networkSettings() networkSettings {
	return networkSettings{
		IngressNamespace: r.Options.IngressNamespace,
		IngressCIDRs:     r.Options.IngressCIDRs,
		MetricsNamespace: r.Options.MetricsNamespace,
		DBCIDRs:          r.Options.DBCIDRs,
		CacheCIDRs:       r.Options.CacheCIDRs,
		ImagesCIDRs:      r.Options.ImagesCIDRs,
		PodIdentity:      r.Options.ImagesRoleARN == "",
	}
}

// shopPortOpenNote is the sentence the Available condition carries while the shop port
// is open to the whole cluster.
const shopPortOpenNote = "The shop port is open to every pod and address in the cluster: the operator has neither --ingress-namespace nor --ingress-cidrs."

// imagesEgressOpenNote is the sentence ImagesReady carries while the shop's pods may
// reach any address on 443.
const imagesEgressOpenNote = "The shop's pods may reach any address on port 443 (S3 and STS): the operator has no --images-cidrs."

// networkState is what the network phases tell the later ones.
type networkState struct {
	// jobsIsolated says a Job may start: <name>-migrate, which selects the pods of every
	// Job, is in place with this reconcile's egress, or the policies are off.
	jobsIsolated bool
	// shopPolicy says <name>-shop was applied (or found as wanted) in this reconcile.
	shopPolicy bool
}

// jobsWaitForPolicyNote says why a login Job waits: the cache is the only store whose
// endpoint can still be missing once the login phase runs.
const jobsWaitForPolicyNote = "its Job waits for the migration pods' NetworkPolicy, whose egress needs the cache's endpoint"

// networkPoliciesEnabled reports spec.networkPolicy.enabled (true unless false).
func networkPoliciesEnabled(sf *shopv1alpha1.Storefront) bool {
	return ptr.Deref(sf.Spec.NetworkPolicy.Enabled, true)
}

// reconcileMigrationNetwork applies <name>-migrate once the data stores' endpoints are
// known, before the phases that create Jobs: the login Jobs run as the master user
// before the shop has a database it may use, and a phase that fails later in a
// reconcile must not leave its Jobs unrestricted (docs/architecture.md#network-isolation).
// Until then no Job starts (s.network.jobsIsolated). With spec.networkPolicy.enabled
// false it deletes both policies.
func (r *StorefrontReconciler) reconcileMigrationNetwork(ctx context.Context, s *scope) (ctrl.Result, error) {
	sf := s.sf
	if !networkPoliciesEnabled(sf) {
		for _, role := range []string{roleShop, roleMigrate} {
			if err := r.deleteOwned(ctx, sf, &networkingv1.NetworkPolicy{}, objectName(sf, role)); err != nil {
				return ctrl.Result{}, err
			}
		}
		s.network.jobsIsolated = true
		return ctrl.Result{}, nil
	}
	// Its egress needs every store's port: a policy without one would cut the Jobs (and,
	// for a store that is only briefly not ready, running ones) off it.
	if !s.storesReady() {
		return ctrl.Result{}, nil
	}
	settings := r.networkSettings()
	migrate := desiredMigrationNetworkPolicy(sf, r.Scheme, settings, s.database, s.cache)
	withOTLPEgress(migrate, sf, r.Options.OTLP)
	changed, err := r.applyObject(ctx, migrate)
	if err != nil {
		return ctrl.Result{}, err
	}
	s.network.jobsIsolated = true
	// Once per change of the policy, so that a shop at rest writes no Events. The shop's
	// policy has the same store egress.
	if open := openPolicyWarnings(sf, settings, s.database, s.cache); changed && r.Recorder != nil && len(open.stores) > 0 {
		r.Recorder.Eventf(sf, migrate, corev1.EventTypeWarning, eventReasonStorePortsOpen, "Reconcile",
			"NetworkPolicies %s and %s: egress open to any address on %s", objectName(sf, roleShop), migrate.Name, strings.Join(open.stores, "; "))
	}
	return ctrl.Result{}, nil
}

// reconcileShopNetwork applies <name>-shop once the database the pods use is known (the
// previous one during a switch, which the connection phase reads), before the workload
// phase creates or rolls any pod.
func (r *StorefrontReconciler) reconcileShopNetwork(ctx context.Context, s *scope) (ctrl.Result, error) {
	sf := s.sf
	if !networkPoliciesEnabled(sf) || !s.storesReady() {
		return ctrl.Result{}, nil
	}
	settings := r.networkSettings()
	shop := desiredShopNetworkPolicy(sf, r.Scheme, settings, s.servedDatabase(), s.cache)
	withOTLPEgress(shop, sf, r.Options.OTLP)
	changed, err := r.applyObject(ctx, shop)
	if err != nil {
		return ctrl.Result{}, err
	}
	s.network.shopPolicy = true
	if !changed || r.Recorder == nil {
		return ctrl.Result{}, nil
	}
	open := openPolicyWarnings(sf, settings, s.servedDatabase(), s.cache)
	if open.shopPort {
		r.Recorder.Eventf(sf, shop, corev1.EventTypeWarning, eventReasonShopPortOpen, "Reconcile",
			"NetworkPolicy %s: %s Set them (the load balancer's subnets for an ALB in IP mode) to restrict it.", shop.Name, shopPortOpenNote)
	}
	if open.images {
		r.Recorder.Eventf(sf, shop, corev1.EventTypeWarning, eventReasonImagesEgressOpen, "Reconcile",
			"NetworkPolicy %s: %s Set it to the CIDRs of the S3 and STS VPC endpoints (or AWS's ranges for them) to restrict it.", shop.Name, imagesEgressOpenNote)
	}
	return ctrl.Result{}, nil
}

// noteOpenNetwork, after the phases that set Available and ImagesReady, adds to them
// what the shop's policy leaves open that flags could restrict.
func (r *StorefrontReconciler) noteOpenNetwork(_ context.Context, s *scope) (ctrl.Result, error) {
	if !s.network.shopPolicy {
		return ctrl.Result{}, nil
	}
	open := openPolicyWarnings(s.sf, r.networkSettings(), s.servedDatabase(), s.cache)
	if open.shopPort {
		appendConditionNote(s.sf, shopv1alpha1.ConditionAvailable, shopPortOpenNote)
	}
	if open.images {
		appendConditionNote(s.sf, shopv1alpha1.ConditionImagesReady, imagesEgressOpenNote)
	}
	return ctrl.Result{}, nil
}

// openPolicy says what the policies leave open that flags could have restricted.
type openPolicy struct {
	// shopPort: the HTTP port admits the whole cluster.
	shopPort bool
	// stores: a sentence per data store port open to any address.
	stores []string
	// images: the shop's S3 and STS egress (443) admits any address.
	images bool
}

func openPolicyWarnings(sf *shopv1alpha1.Storefront, settings networkSettings, db, cache *storeEndpoint) openPolicy {
	var o openPolicy
	o.shopPort = settings.IngressNamespace == "" && len(settings.IngressCIDRs) == 0
	for _, st := range storeDestinations(sf, settings, db, cache) {
		if len(st.cidrs) == 0 {
			o.stores = append(o.stores, fmt.Sprintf("port %d (%s)", st.port, st.why))
		}
	}
	o.images = imagesWanted(sf) && len(settings.ImagesCIDRs) == 0
	return o
}

// appendConditionNote adds a sentence to a condition's message, keeping its status,
// reason and transition time.
func appendConditionNote(sf *shopv1alpha1.Storefront, condType, note string) {
	c := meta.FindStatusCondition(sf.Status.Conditions, condType)
	if c == nil || strings.HasSuffix(c.Message, note) {
		return
	}
	msg := strings.TrimSpace(c.Message)
	if msg != "" && !strings.HasSuffix(msg, ".") {
		msg += "." // the note is a sentence of its own
	}
	c.Message = strings.TrimSpace(msg + " " + note)
}

// desiredShopNetworkPolicy denies all traffic of the shop's pods but: the HTTP port from
// the ingress namespace and CIDRs (from anywhere when neither is set), the metrics port
// from the metrics namespace, and the egress of storeEgress and imagesEgress.
func desiredShopNetworkPolicy(sf *shopv1alpha1.Storefront, scheme *runtime.Scheme, settings networkSettings, db, cache *storeEndpoint) *networkingv1.NetworkPolicy {
	var from []networkingv1.NetworkPolicyPeer
	if settings.IngressNamespace != "" {
		from = append(from, namespacePeer(settings.IngressNamespace))
	}
	from = append(from, ipBlockPeers(settings.IngressCIDRs)...)
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
			Egress:      append(storeEgress(sf, settings, db, cache), imagesEgress(sf, settings)...),
		},
	}
	own(sf, np)
	return np
}

// desiredMigrationNetworkPolicy gives migration pods the shop's egress to the data
// stores and no ingress. `shop migrate` touches no image, so no S3 either.
func desiredMigrationNetworkPolicy(sf *shopv1alpha1.Storefront, scheme *runtime.Scheme, settings networkSettings, db, cache *storeEndpoint) *networkingv1.NetworkPolicy {
	np := &networkingv1.NetworkPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy"},
		ObjectMeta: objectMeta(sf, objectName(sf, roleMigrate), componentMigration),
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: selectorLabels(sf, componentMigration)},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress},
			Egress:      storeEgress(sf, settings, db, cache),
		},
	}
	own(sf, np)
	return np
}

// storeDestination is one data store's port and the address blocks it may be reached at
// (none: any address, for the reason why).
type storeDestination struct {
	port  int32
	cidrs []string
	why   string
}

// storeDestinations are the database's and the cache's. The stores are reached by host
// name, which a NetworkPolicy cannot match: an Aurora cluster or ElastiCache cache lives
// in the data subnets the --db-cidrs and --cache-cidrs flags name; an external store
// may be anywhere, so its port is open to any address.
func storeDestinations(sf *shopv1alpha1.Storefront, settings networkSettings, db, cache *storeEndpoint) []storeDestination {
	var out []storeDestination
	if db != nil {
		d := storeDestination{port: db.Port}
		switch {
		case sf.Spec.Database.Aurora == nil:
			d.why = "the external database, whose address a NetworkPolicy cannot know"
		case len(settings.DBCIDRs) == 0:
			d.why = "the Aurora database: the operator has no --db-cidrs"
		default:
			d.cidrs = settings.DBCIDRs
		}
		out = append(out, d)
	}
	if cache != nil {
		d := storeDestination{port: cache.Port}
		switch {
		case sf.Spec.Cache == nil || sf.Spec.Cache.Serverless == nil:
			d.why = "the external cache, whose address a NetworkPolicy cannot know"
		case len(settings.CacheCIDRs) == 0:
			d.why = "the ElastiCache cache: the operator has no --cache-cidrs"
		default:
			d.cidrs = settings.CacheCIDRs
		}
		out = append(out, d)
	}
	return out
}

// storeEgress allows DNS to the cluster's DNS pods only, and each data store's port to
// its destinations.
func storeEgress(sf *shopv1alpha1.Storefront, settings networkSettings, db, cache *storeEndpoint) []networkingv1.NetworkPolicyEgressRule {
	rules := []networkingv1.NetworkPolicyEgressRule{{
		Ports: []networkingv1.NetworkPolicyPort{
			{Protocol: ptr.To(corev1.ProtocolUDP), Port: ptr.To(intstr.FromInt32(dnsPort))},
			{Protocol: ptr.To(corev1.ProtocolTCP), Port: ptr.To(intstr.FromInt32(dnsPort))},
		},
		To: []networkingv1.NetworkPolicyPeer{{
			NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{namespaceNameLabel: dnsNamespace}},
			PodSelector:       &metav1.LabelSelector{MatchLabels: map[string]string{dnsPodLabel: dnsPodValue}},
		}},
	}}
	for _, d := range storeDestinations(sf, settings, db, cache) {
		rules = append(rules, networkingv1.NetworkPolicyEgressRule{Ports: tcpPorts(d.port), To: ipBlockPeers(d.cidrs)})
	}
	return rules
}

// imagesEgress lets a shop with an images bucket reach S3 and STS over HTTPS at
// --images-cidrs (any address without it: S3's and STS's public addresses are many and
// change), and, when EKS Pod Identity gives its credentials, the node's agent.
func imagesEgress(sf *shopv1alpha1.Storefront, settings networkSettings) []networkingv1.NetworkPolicyEgressRule {
	if !imagesWanted(sf) {
		return nil
	}
	rules := []networkingv1.NetworkPolicyEgressRule{{Ports: tcpPorts(httpsPort), To: ipBlockPeers(settings.ImagesCIDRs)}}
	if settings.PodIdentity {
		rules = append(rules, networkingv1.NetworkPolicyEgressRule{Ports: tcpPorts(podIdentityAgentPort), To: ipBlockPeers(podIdentityAgentCIDRs)})
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

func ipBlockPeers(cidrs []string) []networkingv1.NetworkPolicyPeer {
	var out []networkingv1.NetworkPolicyPeer
	for _, cidr := range cidrs {
		out = append(out, networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: cidr}})
	}
	return out
}

func namespacePeer(ns string) networkingv1.NetworkPolicyPeer {
	return networkingv1.NetworkPolicyPeer{NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{namespaceNameLabel: ns}}}
}
