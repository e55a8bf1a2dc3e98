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
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	klabels "k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	shopv1alpha1 "github.com/storefront-operator/storefront/api/v1alpha1"
	"github.com/storefront-operator/storefront/test/fake"
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
		"an ingress namespace":                      {networkSettings{IngressNamespace: "ingress-nginx"}, nil, 1, false, []int32{53, 5432}},
		"public subnet CIDRs for an ALB in IP mode": {networkSettings{IngressCIDRs: []string{"10.0.48.0/24", "10.0.49.0/24"}}, nil, 2, false, []int32{53, 5432}},
		"a metrics namespace":                       {networkSettings{MetricsNamespace: "monitoring"}, nil, 0, true, []int32{53, 5432}},
		"a cache on its own port":                   {networkSettings{}, &storeEndpoint{Port: 6380}, 0, false, []int32{53, 5432, 6380}},
		"a cache on the database's port":            {networkSettings{}, &storeEndpoint{Port: 5432}, 0, false, []int32{53, 5432, 5432}},
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

// The policies' egress, rule by rule, as the VPC CNI's policy agent would read them.
func TestStoreEgress(t *testing.T) {
	udp, tcp := corev1.ProtocolUDP, corev1.ProtocolTCP
	port := func(p corev1.Protocol, n int32) networkingv1.NetworkPolicyPort {
		return networkingv1.NetworkPolicyPort{Protocol: &p, Port: ptr.To(intstr.FromInt32(n))}
	}
	dns := networkingv1.NetworkPolicyEgressRule{
		Ports: []networkingv1.NetworkPolicyPort{port(udp, 53), port(tcp, 53)},
		To: []networkingv1.NetworkPolicyPeer{{
			NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": "kube-system"}},
			PodSelector:       &metav1.LabelSelector{MatchLabels: map[string]string{"k8s-app": "kube-dns"}},
		}},
	}
	to := func(cidrs ...string) []networkingv1.NetworkPolicyPeer {
		var out []networkingv1.NetworkPolicyPeer
		for _, c := range cidrs {
			out = append(out, networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: c}})
		}
		return out
	}
	dataSubnets := networkSettings{
		DBCIDRs:    []string{"10.0.52.0/24", "10.0.53.0/24", "10.0.54.0/24"},
		CacheCIDRs: []string{"10.0.56.0/24", "10.0.57.0/24", "10.0.58.0/24"},
	}
	aurora := func(sf *shopv1alpha1.Storefront) {
		sf.Spec.Database = shopv1alpha1.DatabaseSpec{Aurora: &shopv1alpha1.AuroraDatabase{}}
		sf.Spec.Cache = &shopv1alpha1.CacheSpec{Serverless: &shopv1alpha1.ServerlessCache{}}
	}
	external := func(sf *shopv1alpha1.Storefront) {
		sf.Spec.Database = shopv1alpha1.DatabaseSpec{External: &shopv1alpha1.ExternalStore{}}
		sf.Spec.Cache = &shopv1alpha1.CacheSpec{External: &shopv1alpha1.ExternalStore{}}
	}
	db, cache := &storeEndpoint{Host: "db", Port: 5432}, &storeEndpoint{Host: "cache", Port: 6379}
	cases := map[string]struct {
		stores    func(*shopv1alpha1.Storefront)
		settings  networkSettings
		want      []networkingv1.NetworkPolicyEgressRule
		wantStore []string // ports open to any address, as the Warning Event lists them
	}{
		"Aurora and ElastiCache with the data subnets' CIDRs: nothing else": {aurora, dataSubnets, []networkingv1.NetworkPolicyEgressRule{
			dns,
			{Ports: []networkingv1.NetworkPolicyPort{port(tcp, 5432)}, To: to("10.0.52.0/24", "10.0.53.0/24", "10.0.54.0/24")},
			{Ports: []networkingv1.NetworkPolicyPort{port(tcp, 6379)}, To: to("10.0.56.0/24", "10.0.57.0/24", "10.0.58.0/24")},
		}, nil},
		"without the flags the store ports are open to any address": {aurora, networkSettings{}, []networkingv1.NetworkPolicyEgressRule{
			dns,
			{Ports: []networkingv1.NetworkPolicyPort{port(tcp, 5432)}},
			{Ports: []networkingv1.NetworkPolicyPort{port(tcp, 6379)}},
		}, []string{"port 5432 (the Aurora database: the operator has no --db-cidrs)", "port 6379 (the ElastiCache cache: the operator has no --cache-cidrs)"}},
		"external stores may be anywhere": {external, dataSubnets, []networkingv1.NetworkPolicyEgressRule{
			dns,
			{Ports: []networkingv1.NetworkPolicyPort{port(tcp, 5432)}},
			{Ports: []networkingv1.NetworkPolicyPort{port(tcp, 6379)}},
		}, []string{"port 5432 (the external database, whose address a NetworkPolicy cannot know)", "port 6379 (the external cache, whose address a NetworkPolicy cannot know)"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			sf := storefrontNamed("acme")
			tc.stores(sf)
			for _, np := range []*networkingv1.NetworkPolicy{
				desiredShopNetworkPolicy(sf, testScheme, tc.settings, db, cache),
				desiredMigrationNetworkPolicy(sf, testScheme, tc.settings, db, cache),
			} {
				g.Expect(np.Spec.Egress).To(Equal(tc.want), np.Name)
				if len(tc.settings.DBCIDRs) > 0 && sf.Spec.Database.Aurora != nil {
					for _, r := range np.Spec.Egress {
						g.Expect(r.To).NotTo(BeEmpty(), "%s: a rule open to any address although the flags are set", np.Name)
						for _, p := range r.To {
							g.Expect(p.IPBlock).To(Or(BeNil(), HaveField("CIDR", Not(Equal("0.0.0.0/0")))))
						}
					}
				}
			}
			g.Expect(openPolicyWarnings(sf, tc.settings, db, cache).stores).To(Equal(tc.wantStore))
		})
	}
}

func TestOpenShopPortIsNoted(t *testing.T) {
	g := NewWithT(t)
	g.Expect(openPolicyWarnings(storefrontNamed("acme"), networkSettings{}, nil, nil).shopPort).To(BeTrue())
	g.Expect(openPolicyWarnings(storefrontNamed("acme"), networkSettings{IngressCIDRs: []string{"10.0.48.0/24"}}, nil, nil).shopPort).To(BeFalse())
	g.Expect(openPolicyWarnings(storefrontNamed("acme"), networkSettings{IngressNamespace: "ingress-nginx"}, nil, nil).shopPort).To(BeFalse())

	sf := storefrontNamed("acme")
	sf.Status.Conditions = []metav1.Condition{{Type: shopv1alpha1.ConditionAvailable, Status: metav1.ConditionTrue, Reason: "DeploymentAvailable", Message: "2 of 2 pods serve shop:1"}}
	appendConditionNote(sf, shopv1alpha1.ConditionAvailable, shopPortOpenNote)
	appendConditionNote(sf, shopv1alpha1.ConditionAvailable, shopPortOpenNote)
	g.Expect(sf.Status.Conditions[0].Message).To(Equal("2 of 2 pods serve shop:1. The shop port is open to every pod and address in the cluster: the operator has neither --ingress-namespace nor --ingress-cidrs."))
}

func TestDesiredMigrationNetworkPolicy(t *testing.T) {
	g := NewWithT(t)
	np := desiredMigrationNetworkPolicy(storefrontNamed("acme"), testScheme, networkSettings{}, &storeEndpoint{Port: 5432}, nil)
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

// The flags restrict the Aurora port to the database subnets; what stays open is said by
// a Warning Event (once, not at rest) and, for the shop port, in the Available condition.
func TestNetworkPolicyWarnings(t *testing.T) {
	ns := newNamespace(t)
	startStandIns(t, ns, fake.Options{})
	opts := ackOptions
	opts.DBCIDRs = []string{"10.0.52.0/24", "10.0.53.0/24"}
	op := startOperator(t, ns, opts)
	g := NewWithT(t)
	createStorefront(t, newStorefront(ns, withAurora(), withServerlessCache()))
	sf := waitForPhase(t, ns, shopv1alpha1.PhaseReady)

	g.Expect(condition(sf, shopv1alpha1.ConditionAvailable).Message).To(HaveSuffix(shopPortOpenNote))
	for _, name := range []string{"acme-shop", "acme-migrate"} {
		np := get(g, ns, name, &networkingv1.NetworkPolicy{})
		var db []string
		for _, r := range np.Spec.Egress {
			if r.Ports[0].Port.IntValue() == 5432 {
				for _, p := range r.To {
					db = append(db, p.IPBlock.CIDR)
				}
			}
		}
		g.Expect(db).To(Equal([]string{"10.0.52.0/24", "10.0.53.0/24"}), name)
	}
	g.Eventually(func(g Gomega) {
		g.Expect(eventReasons(g, ns)).To(ContainElements(eventReasonShopPortOpen, eventReasonStorePortsOpen))
	}).WithTimeout(eventually).WithPolling(poll).Should(Succeed())
	events := reconcileAtRest(g, op, ns)
	g.Expect(eventReasons(g, ns)).To(HaveLen(events), "no Event at rest")
}

// podsSelectedBy reports whether the policy's pod selector selects pods labelled podLabels.
func podsSelectedBy(g Gomega, np *networkingv1.NetworkPolicy, podLabels map[string]string) bool {
	sel, err := metav1.LabelSelectorAsSelector(&np.Spec.PodSelector)
	g.Expect(err).NotTo(HaveOccurred())
	return sel.Matches(klabels.Set(podLabels))
}

// expectMigrationPolicyFor checks that acme-migrate exists, selects job's pods, admits
// nothing and lets them out on DNS and the given store ports only.
func expectMigrationPolicyFor(g Gomega, ns string, job *batchv1.Job, ports ...int32) {
	np := &networkingv1.NetworkPolicy{}
	g.Expect(k8sClient.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "acme-migrate"}, np)).
		To(Succeed(), "Job %s runs without the migration pods' NetworkPolicy", job.Name)
	g.Expect(podsSelectedBy(g, np, job.Spec.Template.Labels)).To(BeTrue(), "acme-migrate does not select the pods of Job %s", job.Name)
	g.Expect(np.Spec.PolicyTypes).To(ConsistOf(networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress))
	g.Expect(np.Spec.Ingress).To(BeEmpty())
	g.Expect(egressTCPPorts(np)).To(ConsistOf(toAny(append([]int32{dnsPort}, ports...))...))
}

// The first login's Job runs as the master user before the shop has a database it may
// use: its pods are isolated by acme-migrate from their start, not once the login is
// done (docs/architecture.md#network-isolation). Each policy is still applied once on
// the way to Ready.
func TestLoginJobRunsUnderTheMigrationPolicy(t *testing.T) {
	ns := newNamespace(t)
	standIns := startStandIns(t, ns, fake.Options{})
	standIns.SetJobOutcome(imageV1, fake.JobRuns)
	op := startOperator(t, ns, ackOptions)
	g := NewWithT(t)
	createStorefront(t, newStorefront(ns, withAurora(), withServerlessCache()))

	var login batchv1.Job
	g.Eventually(func(g Gomega) {
		list := &batchv1.JobList{}
		g.Expect(k8sClient.List(context.Background(), list, client.InNamespace(ns),
			client.MatchingLabels{labelComponent: componentDBLogin})).To(Succeed())
		g.Expect(list.Items).NotTo(BeEmpty())
		login = list.Items[0]
	}).WithTimeout(eventually).WithPolling(poll).Should(Succeed())
	expectMigrationPolicyFor(g, ns, &login, 5432, 6379)
	g.Consistently(func(g Gomega) {
		expectMigrationPolicyFor(g, ns, &login, 5432, 6379)
	}).WithTimeout(quiet).WithPolling(poll).Should(Succeed())

	standIns.SetJobOutcome(imageV1, fake.JobSucceeds)
	waitForPhase(t, ns, shopv1alpha1.PhaseReady)
	g.Expect(op.counter.Count("apply", "NetworkPolicy")).To(Equal(2), "one apply per policy: %s", op.counter.MutationSummary())
}

// A phase that fails after the migration (here the workload's: a Service of the shop's
// name that is not ours) does not leave the Jobs of that reconcile unrestricted: the
// policies come before any Job.
func TestMigrationPolicyDoesNotWaitForTheWorkload(t *testing.T) {
	ns := newNamespace(t)
	standIns := startStandIns(t, ns, fake.Options{})
	standIns.SetJobOutcome(imageV1, fake.JobRuns)
	startOperator(t, ns, Options{})
	g := NewWithT(t)
	theirs := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "acme-shop", Namespace: ns},
		Spec:       corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "api", Port: 9000}}},
	}
	g.Expect(k8sClient.Create(context.Background(), theirs)).To(Succeed())
	createURLSecret(t, ns, "acme-db", dbURL)
	createStorefront(t, newStorefront(ns))

	var job *batchv1.Job
	g.Eventually(func(g Gomega) {
		job = jobOf(g, ns, imageV1)
		g.Expect(job).NotTo(BeNil())
	}).WithTimeout(eventually).WithPolling(poll).Should(Succeed())
	g.Eventually(func(g Gomega) {
		g.Expect(condition(getStorefront(g, ns), shopv1alpha1.ConditionReady).Reason).To(Equal(shopv1alpha1.ReasonOwnershipConflict))
	}).WithTimeout(eventually).WithPolling(poll).Should(Succeed())
	expectMigrationPolicyFor(g, ns, job, 5433)
	g.Expect(absent(ns, "acme-shop", &networkingv1.NetworkPolicy{})).To(BeFalse(), "the shop's policy waits for no later phase either")
}

// While the cache has no endpoint, <name>-migrate cannot have its egress: the login Job
// waits for it and DatabaseReady says so; once the cache is there, both come in order.
func TestLoginJobWaitsForTheMigrationPolicy(t *testing.T) {
	ns := newNamespace(t)
	standIns := startStandIns(t, ns, fake.Options{})
	startOperator(t, ns, ackOptions)
	g := NewWithT(t)
	id := awsIdentifier(ns, "acme")
	standIns.AWS().Refuse(fake.ServerlessCacheGVK.Kind, fake.OpCreate, id, fake.NewAPIError("InsufficientCacheClusterCapacity", "try again"))
	createStorefront(t, newStorefront(ns, withAurora(), withServerlessCache()))

	g.Eventually(func(g Gomega) {
		c := condition(getStorefront(g, ns), shopv1alpha1.ConditionDatabaseReady)
		g.Expect(c.Message).To(ContainSubstring(jobsWaitForPolicyNote))
	}).WithTimeout(eventually).WithPolling(poll).Should(Succeed())
	g.Consistently(func(g Gomega) {
		list := &batchv1.JobList{}
		g.Expect(k8sClient.List(context.Background(), list, client.InNamespace(ns))).To(Succeed())
		g.Expect(list.Items).To(BeEmpty())
		g.Expect(absent(ns, "acme-migrate", &networkingv1.NetworkPolicy{})).To(BeTrue())
	}).WithTimeout(quiet).WithPolling(poll).Should(Succeed())

	standIns.AWS().Allow(fake.ServerlessCacheGVK.Kind, fake.OpCreate, id)
	waitForPhase(t, ns, shopv1alpha1.PhaseReady)
}

// egressTo lists, per TCP port of the policy's egress, the CIDRs its rules admit ("any"
// for a rule without peers).
func egressTo(np *networkingv1.NetworkPolicy) map[int32][]string {
	out := map[int32][]string{}
	for _, r := range np.Spec.Egress {
		for _, p := range r.Ports {
			if p.Protocol == nil || *p.Protocol != corev1.ProtocolTCP || p.Port == nil {
				continue
			}
			if len(r.To) == 0 {
				out[p.Port.IntVal] = append(out[p.Port.IntVal], "any")
			}
			for _, peer := range r.To {
				if peer.IPBlock != nil {
					out[p.Port.IntVal] = append(out[p.Port.IntVal], peer.IPBlock.CIDR)
				}
			}
		}
	}
	return out
}

// A shop with an images bucket reaches S3 (and STS, or the EKS Pod Identity agent, for
// its credentials) under its NetworkPolicy; the migration pods and a shop without
// images do not.
func TestImagesEgress(t *testing.T) {
	requireImagesCDNCRDs(t)
	cases := map[string]struct {
		opts        Options
		want443     []string
		wantAgent   bool
		wantWarning bool
	}{
		"no flags: 443 to any address, said, and the Pod Identity agent": {Options{}, []string{"any"}, true, true},
		"--images-cidrs and IRSA: 443 to those CIDRs (S3 and STS), no agent": {
			Options{ImagesCIDRs: []string{"10.0.60.0/24", "10.0.61.0/24"}, ImagesRoleARN: "arn:aws:iam::123456789012:role/storefront-shop-images"},
			[]string{"10.0.60.0/24", "10.0.61.0/24"}, false, false},
		"--images-cidrs and Pod Identity: 443 to those CIDRs and the agent": {
			Options{ImagesCIDRs: []string{"10.0.60.0/24"}}, []string{"10.0.60.0/24"}, true, false},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			ns := newNamespace(t)
			startStandIns(t, ns, fake.Options{})
			startOperator(t, ns, tc.opts)
			g := NewWithT(t)
			readyShop(t, ns, func(sf *shopv1alpha1.Storefront) {
				sf.Spec.Images = &shopv1alpha1.ImagesSpec{Bucket: &shopv1alpha1.ImagesBucket{}}
			})
			shop := egressTo(get(g, ns, "acme-shop", &networkingv1.NetworkPolicy{}))
			g.Expect(shop).To(HaveKeyWithValue(int32(443), tc.want443))
			if tc.wantAgent {
				g.Expect(shop).To(HaveKeyWithValue(int32(80), []string{"169.254.170.23/32", "fd00:ec2::23/128"}))
			} else {
				g.Expect(shop).NotTo(HaveKey(int32(80)))
			}
			g.Expect(egressTo(get(g, ns, "acme-migrate", &networkingv1.NetworkPolicy{}))).NotTo(Or(HaveKey(int32(443)), HaveKey(int32(80))),
				"migrations touch no image")
			const openNote = imagesEgressOpenNote
			g.Eventually(func(g Gomega) {
				msg := condition(getStorefront(g, ns), shopv1alpha1.ConditionImagesReady).Message
				if tc.wantWarning {
					g.Expect(msg).To(HaveSuffix(openNote))
					g.Expect(warningReasons(g, ns)).To(ContainElement(eventReasonImagesEgressOpen))
				} else {
					g.Expect(msg).NotTo(ContainSubstring(openNote))
				}
			}).WithTimeout(eventually).WithPolling(poll).Should(Succeed())
			if !tc.wantWarning {
				g.Expect(warningReasons(g, ns)).NotTo(ContainElement(eventReasonImagesEgressOpen))
			}

			updateStorefront(t, ns, func(sf *shopv1alpha1.Storefront) { sf.Spec.Images = nil })
			g.Eventually(func(g Gomega) {
				shop := egressTo(get(g, ns, "acme-shop", &networkingv1.NetworkPolicy{}))
				g.Expect(shop).NotTo(Or(HaveKey(int32(443)), HaveKey(int32(80))), "no images, no S3")
			}).WithTimeout(eventually).WithPolling(poll).Should(Succeed())
		})
	}
}

// The images egress, rule by rule: only the shop's policy, only with a bucket.
func TestImagesEgressRules(t *testing.T) {
	tcp := corev1.ProtocolTCP
	port := func(n int32) []networkingv1.NetworkPolicyPort {
		return []networkingv1.NetworkPolicyPort{{Protocol: &tcp, Port: ptr.To(intstr.FromInt32(n))}}
	}
	to := func(cidrs ...string) []networkingv1.NetworkPolicyPeer {
		var out []networkingv1.NetworkPolicyPeer
		for _, c := range cidrs {
			out = append(out, networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: c}})
		}
		return out
	}
	agent := networkingv1.NetworkPolicyEgressRule{Ports: port(80), To: to("169.254.170.23/32", "fd00:ec2::23/128")}
	endpoints := []string{"10.0.60.0/24", "10.0.61.0/24"}
	cases := map[string]struct {
		images   bool
		settings networkSettings
		want     []networkingv1.NetworkPolicyEgressRule
		wantOpen bool
	}{
		"no images: nothing":                       {false, networkSettings{ImagesCIDRs: endpoints, PodIdentity: true}, nil, false},
		"IRSA without --images-cidrs: any address": {true, networkSettings{}, []networkingv1.NetworkPolicyEgressRule{{Ports: port(443)}}, true},
		"IRSA with --images-cidrs":                 {true, networkSettings{ImagesCIDRs: endpoints}, []networkingv1.NetworkPolicyEgressRule{{Ports: port(443), To: to(endpoints...)}}, false},
		"Pod Identity with --images-cidrs: and the agent": {true, networkSettings{ImagesCIDRs: endpoints, PodIdentity: true},
			[]networkingv1.NetworkPolicyEgressRule{{Ports: port(443), To: to(endpoints...)}, agent}, false},
	}
	db := &storeEndpoint{Host: "db", Port: 5432}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			sf := storefrontNamed("acme")
			if tc.images {
				sf.Spec.Images = &shopv1alpha1.ImagesSpec{Bucket: &shopv1alpha1.ImagesBucket{}}
			}
			shop := desiredShopNetworkPolicy(sf, testScheme, tc.settings, db, nil)
			g.Expect(shop.Spec.Egress).To(Equal(append(storeEgress(sf, tc.settings, db, nil), tc.want...)))
			migrate := desiredMigrationNetworkPolicy(sf, testScheme, tc.settings, db, nil)
			g.Expect(migrate.Spec.Egress).To(Equal(storeEgress(sf, tc.settings, db, nil)), "migrations touch no image")
			g.Expect(openPolicyWarnings(sf, tc.settings, db, nil).images).To(Equal(tc.wantOpen))
		})
	}
}
