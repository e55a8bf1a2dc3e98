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
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	shopv1alpha1 "github.com/storefront-operator/storefront/api/v1alpha1"
	"github.com/storefront-operator/storefront/test/fake"
)

// Scenario 7: replicas set by the HPA are never reset, neither by reconciles nor by a
// rollout, and the operator owns no spec.replicas.
func TestHPAOwnsReplicas(t *testing.T) {
	ns := newNamespace(t)
	standIns := startStandIns(t, ns, fake.Options{})
	op := startOperator(t, ns, Options{})
	g := NewWithT(t)
	readyShop(t, ns, withReplicas(2, 10))

	// Scales are not rollouts: the HPA's changes, up and down, write nothing to the
	// Storefront (no status write, no Event) and its conditions stay as they were.
	waitAtRest(t, op)
	before := getStorefront(g, ns)
	events := len(storefrontEvents(g, ns))
	for _, n := range []int32{5, 3, 6} {
		standIns.SetHPAReplicas(n)
		g.Eventually(func(g Gomega) {
			d := deployment(g, ns)
			g.Expect(d.Spec.Replicas).To(Equal(ptr.To(n)))
			g.Expect(d.Status.ObservedGeneration).To(Equal(d.Generation))
			g.Expect(d.Status.AvailableReplicas).To(Equal(n))
		}).WithTimeout(eventually).WithPolling(poll).Should(Succeed())
	}
	g.Consistently(func(g Gomega) {
		g.Expect(op.counter.MutationSummary()).To(BeEmpty())
		g.Expect(getStorefront(g, ns).ResourceVersion).To(Equal(before.ResourceVersion))
		g.Expect(storefrontEvents(g, ns)).To(HaveLen(events))
	}).WithTimeout(quiet).WithPolling(poll).Should(Succeed())

	for range 5 {
		_, err := op.reconciler.Reconcile(context.Background(), reconcileRequest(ns))
		g.Expect(err).NotTo(HaveOccurred())
	}
	// A rollout (new connection URL) rewrites the pod template, not the replicas.
	beforeRollout := deployment(g, ns)
	createURLSecret(t, ns, "acme-db", "postgres://shop:x@db3.example.internal/shop")
	g.Eventually(func(g Gomega) {
		d := deployment(g, ns)
		g.Expect(d.Spec.Template.Annotations[annotationConfigChecksum]).NotTo(Equal(beforeRollout.Spec.Template.Annotations[annotationConfigChecksum]))
	}).WithTimeout(eventually).WithPolling(poll).Should(Succeed())
	waitForPhase(t, ns, shopv1alpha1.PhaseReady)
	d := deployment(g, ns)
	g.Expect(d.Spec.Replicas).To(Equal(ptr.To[int32](6)))
	for _, mf := range d.ManagedFields {
		if mf.Manager == fieldOwner {
			g.Expect(string(mf.FieldsV1.GetRawBytes())).NotTo(ContainSubstring(`"f:replicas"`), "the operator owns spec.replicas")
		}
	}
}

// Scenario 9a: a paused Storefront is left alone, and says so.
func TestPausedStorefront(t *testing.T) {
	ns := newNamespace(t)
	startStandIns(t, ns, fake.Options{})
	op := startOperator(t, ns, Options{})
	g := NewWithT(t)
	readyShop(t, ns)

	updateStorefront(t, ns, func(sf *shopv1alpha1.Storefront) { sf.Spec.Paused = true; sf.Spec.Image = imageV2 })
	sf := waitForPhase(t, ns, shopv1alpha1.PhasePaused)
	c := condition(sf, shopv1alpha1.ConditionReady)
	g.Expect(c.Status).To(Equal(metav1.ConditionFalse))
	g.Expect(c.Reason).To(Equal(shopv1alpha1.ReasonPaused))

	// The stand-ins' last status writes may still be arriving (and be reported even while
	// paused): settle first.
	reconcileAtRest(g, op, ns)
	op.counter.Reset()
	g.Expect(k8sClient.Delete(context.Background(), &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "acme-shop", Namespace: ns}})).To(Succeed())
	g.Consistently(func(g Gomega) {
		g.Expect(jobOf(g, ns, imageV2)).To(BeNil())
		g.Expect(servedImage(g, ns)).To(Equal(imageV1))
		g.Expect(absent(ns, "acme-shop", &corev1.Service{})).To(BeTrue(), "a paused Storefront's Service was recreated")
	}).WithTimeout(quiet).WithPolling(poll).Should(Succeed())
	g.Expect(op.counter.Mutations()).To(BeZero(), op.counter.MutationSummary())

	updateStorefront(t, ns, func(sf *shopv1alpha1.Storefront) { sf.Spec.Paused = false })
	sf = waitForPhase(t, ns, shopv1alpha1.PhaseReady)
	g.Expect(sf.Status.ServedImage).To(Equal(imageV2))
	get(g, ns, "acme-shop", &corev1.Service{})
}

// Scenario 9b: the Ingress follows spec.ingress, and status.url follows the rule: the
// host when set (https with a TLS Secret), else the load balancer's address.
func TestIngressAndURL(t *testing.T) {
	ns := newNamespace(t)
	startStandIns(t, ns, fake.Options{})
	startOperator(t, ns, Options{})
	g := NewWithT(t)
	sf := readyShop(t, ns)
	g.Expect(sf.Status.URL).To(BeEmpty())
	g.Expect(absent(ns, "acme-shop", &networkingv1.Ingress{})).To(BeTrue())

	setIngress := func(in *shopv1alpha1.IngressSpec) {
		updateStorefront(t, ns, func(sf *shopv1alpha1.Storefront) { sf.Spec.Ingress = in })
	}
	waitURL := func(want string) {
		g.Eventually(func(g Gomega) {
			sf := getStorefront(g, ns)
			g.Expect(sf.Status.ObservedGeneration).To(Equal(sf.Generation))
			g.Expect(sf.Status.URL).To(Equal(want))
		}).WithTimeout(eventually).WithPolling(poll).Should(Succeed())
	}
	setLB := func(lb networkingv1.IngressLoadBalancerIngress) {
		g.Eventually(func() error {
			ing := &networkingv1.Ingress{}
			if err := k8sClient.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "acme-shop"}, ing); err != nil {
				return err
			}
			ing.Status.LoadBalancer.Ingress = []networkingv1.IngressLoadBalancerIngress{lb}
			return k8sClient.Status().Update(context.Background(), ing)
		}).WithTimeout(eventually).WithPolling(poll).Should(Succeed())
	}

	setIngress(&shopv1alpha1.IngressSpec{ClassName: "nginx", Annotations: map[string]string{"nginx.ingress.kubernetes.io/proxy-body-size": "8m"}})
	g.Eventually(func(g Gomega) {
		ing := get(g, ns, "acme-shop", &networkingv1.Ingress{})
		g.Expect(ing.Spec.Rules[0].Host).To(BeEmpty())
		g.Expect(ing.Annotations).To(HaveKeyWithValue("nginx.ingress.kubernetes.io/proxy-body-size", "8m"))
		g.Expect(ing.Annotations).NotTo(HaveKey("alb.ingress.kubernetes.io/target-type"))
	}).WithTimeout(eventually).WithPolling(poll).Should(Succeed())
	waitURL("")
	setLB(networkingv1.IngressLoadBalancerIngress{Hostname: "k8s-shops-acme-1234.elb.example.com"})
	waitURL("http://k8s-shops-acme-1234.elb.example.com")
	setLB(networkingv1.IngressLoadBalancerIngress{IP: "127.0.0.1", Ports: []networkingv1.IngressPortStatus{{Port: 8443, Protocol: corev1.ProtocolTCP}}})
	waitURL("http://127.0.0.1:8443")

	// An ALB with an ACM certificate: internet-facing, health-checked on /readyz, HTTPS.
	// An annotation dropped from the spec is dropped from the Ingress.
	const cert = "arn:aws:acm:eu-west-1:123456789012:certificate/0a1b2c3d-0000-4000-8000-000000000001"
	setIngress(&shopv1alpha1.IngressSpec{ClassName: "alb", Host: "shop.acme.example", CertificateARN: cert})
	waitURL("https://shop.acme.example")
	ing := get(g, ns, "acme-shop", &networkingv1.Ingress{})
	g.Expect(ing.Annotations).NotTo(HaveKey("nginx.ingress.kubernetes.io/proxy-body-size"))
	g.Expect(ing.Annotations).To(And(
		HaveKeyWithValue("alb.ingress.kubernetes.io/scheme", "internet-facing"),
		HaveKeyWithValue("alb.ingress.kubernetes.io/healthcheck-path", "/readyz"),
		HaveKeyWithValue("alb.ingress.kubernetes.io/certificate-arn", cert),
		HaveKeyWithValue("alb.ingress.kubernetes.io/listen-ports", `[{"HTTP":80},{"HTTPS":443}]`),
		HaveKeyWithValue("alb.ingress.kubernetes.io/ssl-redirect", "443")))
	g.Expect(ing.Spec.TLS).To(BeEmpty(), "an ALB takes no TLS Secret")
	// The test namespace lacks the readiness gate label: a Warning Event says so.
	g.Eventually(func(g Gomega) {
		g.Expect(eventReasons(g, ns)).To(ContainElement("PodReadinessGateNotInjected"))
	}).WithTimeout(eventually).WithPolling(poll).Should(Succeed())

	// The API server refuses a TLS Secret on an ALB, naming what to use instead.
	err := refusedUpdate(t, ns, func(sf *shopv1alpha1.Storefront) {
		sf.Spec.Ingress = &shopv1alpha1.IngressSpec{ClassName: "alb", Host: "shop.acme.example", TLSSecretName: "acme-tls"}
	})
	g.Expect(err).To(MatchError(ContainSubstring("spec.ingress.tlsSecretName")))
	g.Expect(err).To(MatchError(ContainSubstring("set certificateARN")))

	setIngress(&shopv1alpha1.IngressSpec{ClassName: "alb", Host: "shop.acme.example",
		Annotations: map[string]string{"alb.ingress.kubernetes.io/target-type": "instance"}})
	waitURL("http://shop.acme.example")
	ing = get(g, ns, "acme-shop", &networkingv1.Ingress{})
	g.Expect(ing.Annotations).To(HaveKeyWithValue("alb.ingress.kubernetes.io/target-type", "instance"), "a set target-type is kept")
	g.Expect(ing.Annotations).NotTo(HaveKey("alb.ingress.kubernetes.io/certificate-arn"))

	setIngress(nil)
	waitURL("")
	g.Eventually(func() bool { return absent(ns, "acme-shop", &networkingv1.Ingress{}) }).WithTimeout(eventually).WithPolling(poll).Should(BeTrue())
}

// Scenario 9c: the NetworkPolicies follow the operator's flags and spec.networkPolicy.
func TestNetworkPoliciesFollowFlags(t *testing.T) {
	ns := newNamespace(t)
	startStandIns(t, ns, fake.Options{})
	startOperator(t, ns, Options{IngressNamespace: "ingress-nginx", IngressCIDRs: []string{"10.0.0.0/16", "10.1.0.0/16"}, MetricsNamespace: "monitoring"})
	g := NewWithT(t)
	readyShop(t, ns, withExternalCache())

	np := get(g, ns, "acme-shop", &networkingv1.NetworkPolicy{})
	g.Expect(np.Spec.PodSelector.MatchLabels).To(Equal(selectorLabels(newStorefront(ns), componentShop)))
	g.Expect(np.Spec.PolicyTypes).To(ConsistOf(networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress))
	g.Expect(np.Spec.Ingress).To(HaveLen(2))
	web := np.Spec.Ingress[0]
	g.Expect(web.Ports[0].Port.IntValue()).To(Equal(8080))
	g.Expect(web.From).To(HaveLen(3))
	g.Expect(web.From[0].NamespaceSelector.MatchLabels).To(Equal(map[string]string{"kubernetes.io/metadata.name": "ingress-nginx"}))
	g.Expect(web.From[1].IPBlock.CIDR).To(Equal("10.0.0.0/16"))
	g.Expect(web.From[2].IPBlock.CIDR).To(Equal("10.1.0.0/16"))
	metrics := np.Spec.Ingress[1]
	g.Expect(metrics.Ports[0].Port.IntValue()).To(Equal(9090))
	g.Expect(metrics.From[0].NamespaceSelector.MatchLabels).To(Equal(map[string]string{"kubernetes.io/metadata.name": "monitoring"}))
	g.Expect(egressTCPPorts(np)).To(ConsistOf(int32(53), int32(5433), int32(6380)))

	updateStorefront(t, ns, func(sf *shopv1alpha1.Storefront) { sf.Spec.NetworkPolicy.Enabled = ptr.To(false) })
	g.Eventually(func() bool {
		return absent(ns, "acme-shop", &networkingv1.NetworkPolicy{}) && absent(ns, "acme-migrate", &networkingv1.NetworkPolicy{})
	}).WithTimeout(eventually).WithPolling(poll).Should(BeTrue())
	waitForPhase(t, ns, shopv1alpha1.PhaseReady)
}

// Scenario 9d: a rollout past its progress deadline is reported: Available stays True
// while the old pods serve, with reason RolloutStuck and the Deployment's message,
// Ready=False, phase Degraded, a Warning Event.
func TestStuckRolloutIsDegraded(t *testing.T) {
	ns := newNamespace(t)
	standIns := startStandIns(t, ns, fake.Options{})
	startOperator(t, ns, Options{})
	g := NewWithT(t)
	readyShop(t, ns)

	standIns.SetRolloutsStuck(true)
	setImage(t, ns, imageV2)
	sf := waitForPhase(t, ns, shopv1alpha1.PhaseDegraded)
	c := condition(sf, shopv1alpha1.ConditionAvailable)
	g.Expect(c.Status).To(Equal(metav1.ConditionTrue), "the old pods keep serving")
	g.Expect(c.Reason).To(Equal(shopv1alpha1.ReasonRolloutStuck))
	g.Expect(c.Message).To(ContainSubstring("has timed out progressing"))
	g.Expect(condition(sf, shopv1alpha1.ConditionReady).Status).To(Equal(metav1.ConditionFalse))
	g.Expect(deployment(g, ns).Status.AvailableReplicas).To(Equal(int32(2)), "the old pods keep serving")
	g.Eventually(func(g Gomega) {
		g.Expect(warningReasons(g, ns)).To(ContainElement(shopv1alpha1.ReasonRolloutStuck))
	}).WithTimeout(eventually).WithPolling(poll).Should(Succeed())

	standIns.SetRolloutsStuck(false)
	waitForPhase(t, ns, shopv1alpha1.PhaseReady)
}

// Scenario 10: Ready=True is never reported for a generation whose objects were not
// yet observed: every status seen during an upgrade either is not Ready or describes a
// Deployment that serves the image of the generation it claims.
func TestReadyNeverReportedForUnobservedGeneration(t *testing.T) {
	ns := newNamespace(t)
	standIns := startStandIns(t, ns, fake.Options{})
	startOperator(t, ns, Options{})
	g := NewWithT(t)
	readyShop(t, ns)

	wc, err := client.NewWithWatch(cfg, client.Options{Scheme: testScheme})
	g.Expect(err).NotTo(HaveOccurred())
	w, err := wc.Watch(context.Background(), &shopv1alpha1.StorefrontList{}, client.InNamespace(ns))
	g.Expect(err).NotTo(HaveOccurred())
	defer w.Stop()
	var seen []*shopv1alpha1.Storefront
	collect := func() {
		for {
			select {
			case ev := <-w.ResultChan():
				if sf, ok := ev.Object.(*shopv1alpha1.Storefront); ok {
					seen = append(seen, sf)
				}
			default:
				return
			}
		}
	}

	images := map[int64]string{getStorefront(g, ns).Generation: imageV1}
	for _, image := range []string{imageV2, imageV3} {
		standIns.SetJobOutcome(image, fake.JobRuns)
		setImage(t, ns, image)
		images[getStorefront(g, ns).Generation] = image
		g.Eventually(func(g Gomega) { g.Expect(jobOf(g, ns, image)).NotTo(BeNil()) }).WithTimeout(eventually).WithPolling(poll).Should(Succeed())
		collect()
		// The Deployment controller lags: the new template is not observed yet.
		standIns.SetRolloutsHeld(true)
		standIns.SetJobOutcome(image, fake.JobSucceeds)
		// The Deployment is applied before the status of the same reconcile is
		// written: wait for both.
		g.Eventually(func(g Gomega) {
			g.Expect(servedImage(g, ns)).To(Equal(image))
			g.Expect(getStorefront(g, ns).Status.Phase).To(Equal(shopv1alpha1.PhaseRollingOut))
		}).WithTimeout(eventually).WithPolling(poll).Should(Succeed())
		g.Consistently(func(g Gomega) {
			sf := getStorefront(g, ns)
			g.Expect(condition(sf, shopv1alpha1.ConditionReady).Status).NotTo(Equal(metav1.ConditionTrue),
				"Ready while the Deployment controller has not observed the new template")
			g.Expect(sf.Status.Phase).To(Equal(shopv1alpha1.PhaseRollingOut))
		}).WithTimeout(quiet).WithPolling(poll).Should(Succeed())
		standIns.SetRolloutsHeld(false)
		waitForPhase(t, ns, shopv1alpha1.PhaseReady)
		collect()
	}

	readyCount := 0
	for _, sf := range seen {
		ready := meta.FindStatusCondition(sf.Status.Conditions, shopv1alpha1.ConditionReady)
		if ready == nil || ready.Status != metav1.ConditionTrue {
			continue
		}
		readyCount++
		g.Expect(ready.ObservedGeneration).To(Equal(sf.Status.ObservedGeneration))
		g.Expect(sf.Status.ServedImage).To(Equal(images[ready.ObservedGeneration]),
			"Ready=True for generation %d while serving %s", ready.ObservedGeneration, sf.Status.ServedImage)
		if sf.Status.ObservedGeneration == sf.Generation {
			g.Expect(sf.Status.ServedImage).To(Equal(sf.Spec.Image))
		}
	}
	g.Expect(readyCount).To(BeNumerically(">", 0), "the watch saw the Ready statuses")
}

// --watch-namespaces: an operator limited to one namespace leaves the others alone.
func TestWatchNamespacesLimitTheOperator(t *testing.T) {
	watched, other := newNamespace(t), newNamespace(t)
	startOperator(t, watched, Options{})
	g := NewWithT(t)
	createURLSecret(t, other, "acme-db", dbURL)
	createStorefront(t, newStorefront(other))
	g.Consistently(func(g Gomega) {
		sf := getStorefront(g, other)
		g.Expect(sf.Finalizers).To(BeEmpty())
		g.Expect(sf.Status.Phase).To(BeEmpty())
		g.Expect(migrationJobs(g, other)).To(BeEmpty())
	}).WithTimeout(quiet).WithPolling(poll).Should(Succeed())
}

// What the spec no longer asks for goes: a removed cache leaves the connection Secret
// (which rolls the pods) and the egress; min replicas of 1 removes the PodDisruptionBudget.
func TestSpecChangesRemoveWhatIsNoLongerWanted(t *testing.T) {
	ns := newNamespace(t)
	startStandIns(t, ns, fake.Options{})
	startOperator(t, ns, Options{})
	g := NewWithT(t)
	readyShop(t, ns, withExternalCache(), withReplicas(2, 5))
	get(g, ns, "acme-shop", &policyv1.PodDisruptionBudget{})
	checksum := deployment(g, ns).Spec.Template.Annotations[annotationConfigChecksum]

	updateStorefront(t, ns, func(sf *shopv1alpha1.Storefront) {
		sf.Spec.Cache = nil
		sf.Spec.Replicas.Min = 1
	})
	g.Eventually(func(g Gomega) {
		g.Expect(get(g, ns, "acme-connection", &corev1.Secret{}).Data).NotTo(HaveKey(keyRedisURL))
		g.Expect(deployment(g, ns).Spec.Template.Annotations[annotationConfigChecksum]).NotTo(Equal(checksum), "the pods roll")
		g.Expect(egressTCPPorts(get(g, ns, "acme-shop", &networkingv1.NetworkPolicy{}))).NotTo(ContainElement(int32(6380)))
		g.Expect(*get(g, ns, "acme-shop", &autoscalingv2.HorizontalPodAutoscaler{}).Spec.MinReplicas).To(Equal(int32(1)))
		g.Expect(absent(ns, "acme-shop", &policyv1.PodDisruptionBudget{})).To(BeTrue())
	}).WithTimeout(eventually).WithPolling(poll).Should(Succeed())
	sf := waitForPhase(t, ns, shopv1alpha1.PhaseReady)
	g.Expect(condition(sf, shopv1alpha1.ConditionCacheReady).Reason).To(Equal(shopv1alpha1.ReasonCacheNotConfigured))
	g.Expect(sf.Status.Cache).To(BeNil())
}

// An object of the name the Storefront needs that it does not control is left alone:
// Ready=False/OwnershipConflict names it (phase Degraded, a Warning Event); once it is
// gone, the shop gets its own.
func TestObjectNotControlledIsLeftAlone(t *testing.T) {
	ns := newNamespace(t)
	startStandIns(t, ns, fake.Options{})
	startOperator(t, ns, Options{})
	g := NewWithT(t)
	ctx := context.Background()
	theirs := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "acme-shop", Namespace: ns, Labels: map[string]string{"team": "billing"}},
		Spec:       corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "api", Port: 9000}}, Selector: map[string]string{"app": "billing"}},
	}
	g.Expect(k8sClient.Create(ctx, theirs)).To(Succeed())
	createURLSecret(t, ns, "acme-db", dbURL)
	createStorefront(t, newStorefront(ns))

	sf := waitForPhase(t, ns, shopv1alpha1.PhaseDegraded)
	c := condition(sf, shopv1alpha1.ConditionReady)
	g.Expect(c.Reason).To(Equal(shopv1alpha1.ReasonOwnershipConflict))
	g.Expect(c.Message).To(ContainSubstring("Service acme-shop exists and has no controller"))
	g.Eventually(func(g Gomega) {
		g.Expect(warningReasons(g, ns)).To(ContainElement(shopv1alpha1.ReasonOwnershipConflict))
	}).WithTimeout(eventually).WithPolling(poll).Should(Succeed())
	live := get(g, ns, "acme-shop", &corev1.Service{})
	g.Expect(live.Labels).To(Equal(theirs.Labels), "the Service was taken over")
	g.Expect(live.Spec.Selector).To(Equal(theirs.Spec.Selector))
	g.Expect(live.OwnerReferences).To(BeEmpty())

	g.Expect(k8sClient.Delete(ctx, live)).To(Succeed())
	waitForPhase(t, ns, shopv1alpha1.PhaseReady)
	g.Expect(metav1.IsControlledBy(get(g, ns, "acme-shop", &corev1.Service{}), getStorefront(g, ns))).To(BeTrue())
}

// A reconcile error that retrying cannot fix (here a cluster's admission policy refuses
// the shop's Service) is not hidden behind a calm phase: Degraded, with the cause.
func TestPersistentErrorIsDegraded(t *testing.T) {
	ns := newNamespace(t)
	startStandIns(t, ns, fake.Options{})
	startOperator(t, ns, Options{})
	g := NewWithT(t)
	ctx := context.Background()
	policy := &admissionregistrationv1.ValidatingAdmissionPolicy{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "no-shop-service-"},
		Spec: admissionregistrationv1.ValidatingAdmissionPolicySpec{
			FailurePolicy: ptr.To(admissionregistrationv1.Fail),
			MatchConstraints: &admissionregistrationv1.MatchResources{ResourceRules: []admissionregistrationv1.NamedRuleWithOperations{{
				RuleWithOperations: admissionregistrationv1.RuleWithOperations{
					Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create, admissionregistrationv1.Update},
					Rule:       admissionregistrationv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"services"}},
				},
			}}},
			Validations: []admissionregistrationv1.Validation{{Expression: "object.metadata.name != 'acme-shop'", Message: "no Service named acme-shop here"}},
		},
	}
	g.Expect(k8sClient.Create(ctx, policy)).To(Succeed())
	binding := &admissionregistrationv1.ValidatingAdmissionPolicyBinding{
		ObjectMeta: metav1.ObjectMeta{Name: policy.Name},
		Spec: admissionregistrationv1.ValidatingAdmissionPolicyBindingSpec{
			PolicyName:        policy.Name,
			ValidationActions: []admissionregistrationv1.ValidationAction{admissionregistrationv1.Deny},
			MatchResources: &admissionregistrationv1.MatchResources{NamespaceSelector: &metav1.LabelSelector{
				MatchLabels: map[string]string{corev1.LabelMetadataName: ns}}},
		},
	}
	g.Expect(k8sClient.Create(ctx, binding)).To(Succeed())
	unbind := func() {
		_ = k8sClient.Delete(ctx, binding)
		_ = k8sClient.Delete(ctx, policy)
	}
	t.Cleanup(unbind)
	// The API server enforces a new policy once its informer has it.
	g.Eventually(func() error {
		probe := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "acme-shop", Namespace: ns},
			Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80}}}}
		return k8sClient.Create(ctx, probe, client.DryRunAll)
	}).WithTimeout(eventually).WithPolling(poll).Should(HaveOccurred())
	createURLSecret(t, ns, "acme-db", dbURL)
	createStorefront(t, newStorefront(ns))

	sf := waitForPhase(t, ns, shopv1alpha1.PhaseDegraded)
	c := condition(sf, shopv1alpha1.ConditionReady)
	g.Expect(c.Reason).To(Equal(shopv1alpha1.ReasonReconcileError))
	g.Expect(c.Message).To(ContainSubstring("applying Service acme-shop"))
	g.Expect(c.Message).To(ContainSubstring("no Service named acme-shop here"))
	g.Eventually(func(g Gomega) {
		g.Expect(warningReasons(g, ns)).To(ContainElement(shopv1alpha1.ReasonReconcileError))
	}).WithTimeout(eventually).WithPolling(poll).Should(Succeed())

	unbind()
	waitForPhase(t, ns, shopv1alpha1.PhaseReady)
}
