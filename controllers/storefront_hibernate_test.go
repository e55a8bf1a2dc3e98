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
	"encoding/json"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	shopv1alpha1 "github.com/storefront-operator/storefront/api/v1alpha1"
	"github.com/storefront-operator/storefront/test/fake"
)

// The versions AWS lists as able to pause (Aurora User Guide, "Scaling to Zero ACUs with
// automatic pause and resume for Aurora Serverless v2",
// https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-serverless-v2-auto-pause.html):
// Aurora PostgreSQL 13.15, 14.12, 15.7, 16.3 and higher.
func TestSupportsAutoPause(t *testing.T) {
	cases := map[string]bool{
		"13.15": true, "13.14": false, "14.12": true, "14.11": false, "15.7": true, "15.6": false,
		"16.3": true, "16.2": false, "16.6": true, "17.4": true, "17": true,
		"16": false, "12.22": false, "": false, "x.y": false,
	}
	for version, want := range cases {
		if got := supportsAutoPause(version); got != want {
			t.Errorf("supportsAutoPause(%q) = %t, want %t", version, got, want)
		}
	}
}

// The sleeping Ingress sends every path to the load balancer controller's
// fixed-response action (kubernetes-sigs/aws-load-balancer-controller
// docs/guide/ingress/annotations.md#actions: backend Service <action>, port
// use-annotation); awake, the Ingress is as built.
func TestHibernateIngress(t *testing.T) {
	g := NewWithT(t)
	sf := newStorefront("ns", withIngress(shopv1alpha1.IngressSpec{Host: "acme.example.com", ClassName: "alb"}))
	awake := desiredIngress(sf, nil)
	ing := awake.DeepCopy()
	hibernateIngress(sf, ing)
	g.Expect(ing).To(Equal(awake), "awake: unchanged")

	sf.Spec.Hibernate = true
	hibernateIngress(sf, ing)
	var action struct {
		Type                string            `json:"type"`
		FixedResponseConfig map[string]string `json:"fixedResponseConfig"`
	}
	g.Expect(json.Unmarshal([]byte(ing.Annotations["alb.ingress.kubernetes.io/actions.sleeping"]), &action)).To(Succeed())
	g.Expect(action.Type).To(Equal("fixed-response"))
	g.Expect(action.FixedResponseConfig).To(HaveKeyWithValue("statusCode", "503"))
	g.Expect(action.FixedResponseConfig).To(HaveKeyWithValue("contentType", "text/html"))
	g.Expect(action.FixedResponseConfig["messageBody"]).To(ContainSubstring("This shop is sleeping"))
	g.Expect(len(action.FixedResponseConfig["messageBody"])).To(BeNumerically("<=", 1024), "an ALB fixed response carries at most 1024 characters")
	for _, p := range ing.Spec.Rules[0].HTTP.Paths {
		g.Expect(p.Backend.Service).To(Equal(&networkingv1.IngressServiceBackend{Name: "sleeping",
			Port: networkingv1.ServiceBackendPort{Name: "use-annotation"}}))
	}
	g.Expect(ing.Annotations).To(HaveKeyWithValue("alb.ingress.kubernetes.io/healthcheck-path", "/readyz"), "the other annotations stay")
}

// scalingConfiguration is the DBCluster's spec.serverlessV2ScalingConfiguration.
func scalingConfiguration(g Gomega, ns string) map[string]any {
	u := ackObject(g, ns, gvkDBCluster, "acme-database")
	m, _, _ := unstructured.NestedMap(u.Object, "spec", "serverlessV2ScalingConfiguration")
	return m
}

// A shop on Aurora 16.6 with a serverless cache and an ALB sleeps and wakes: no HPA and
// 0 replicas asleep, Aurora at 0 ACU with auto-pause, the 503 action on the Ingress,
// the cache kept and named as still costing; awake, all as before.
func TestHibernateAndWake(t *testing.T) {
	ns := newNamespace(t)
	startStandIns(t, ns, fake.Options{})
	op := startOperator(t, ns, ackOptions)
	g := NewWithT(t)
	createStorefront(t, newStorefront(ns, withAurora(), withServerlessCache(), withReplicas(2, 5),
		withIngress(shopv1alpha1.IngressSpec{Host: "acme.example.com", ClassName: "alb"})))
	waitForPhase(t, ns, shopv1alpha1.PhaseReady)
	g.Expect(scalingConfiguration(g, ns)).To(Equal(map[string]any{"minCapacity": 0.5, "maxCapacity": int64(4)}))

	updateStorefront(t, ns, func(sf *shopv1alpha1.Storefront) { sf.Spec.Hibernate = true })
	sf := waitForPhase(t, ns, shopv1alpha1.PhaseHibernated)
	g.Eventually(func(g Gomega) {
		sf = getStorefront(g, ns)
		g.Expect(condition(sf, shopv1alpha1.ConditionAvailable).Reason).To(Equal(shopv1alpha1.ReasonHibernated))
		g.Expect(condition(sf, shopv1alpha1.ConditionAvailable).Message).To(HavePrefix("Deployment acme-shop is scaled to 0"))
	}).WithTimeout(eventually).WithPolling(poll).Should(Succeed())
	ready := condition(sf, shopv1alpha1.ConditionReady)
	g.Expect(ready.Status).To(Equal(metav1.ConditionFalse))
	g.Expect(ready.Reason).To(Equal(shopv1alpha1.ReasonHibernated))
	g.Expect(ready.Message).To(ContainSubstring("the ElastiCache Serverless cache, which cannot pause"))
	g.Expect(sf.Status.Hibernation).To(Equal(&shopv1alpha1.HibernationStatus{MinReplicas: 2, MaxReplicas: 5, DatabasePaused: true,
		StillCosting: "the ElastiCache Serverless cache, which cannot pause: its stored data stays billed; " +
			"the Aurora cluster's storage (its compute pauses after 300 seconds without connections)"}))

	g.Expect(absent(ns, "acme-shop", &autoscalingv2.HorizontalPodAutoscaler{})).To(BeTrue(), "the HPA is removed")
	g.Expect(deployment(g, ns).Spec.Replicas).To(Equal(ptr.To[int32](0)))
	g.Eventually(func(g Gomega) map[string]any { return scalingConfiguration(g, ns) }).WithTimeout(eventually).WithPolling(poll).
		Should(Equal(map[string]any{"minCapacity": int64(0), "maxCapacity": int64(4), "secondsUntilAutoPause": int64(300)}))
	ing := get(g, ns, "acme-shop", &networkingv1.Ingress{})
	g.Expect(ing.Annotations).To(HaveKey("alb.ingress.kubernetes.io/actions.sleeping"))
	g.Expect(ing.Spec.Rules[0].HTTP.Paths[0].Backend.Service.Name).To(Equal("sleeping"))
	g.Expect(ing.Spec.Rules[0].HTTP.Paths[0].Backend.Service.Port.Name).To(Equal("use-annotation"))
	g.Expect(ackObject(g, ns, gvkServerlessCache, "acme-cache")).NotTo(BeNil(), "the cache is kept")
	// Asleep is a rest like any other: nothing is written again and again.
	waitAtRest(t, op)
	g.Consistently(op.counter.Mutations).WithTimeout(quiet).WithPolling(poll).Should(BeZero())

	// A new image while asleep: its migration waits for the wake (a Job would resume
	// the paused database).
	updateStorefront(t, ns, func(sf *shopv1alpha1.Storefront) { sf.Spec.Image = imageV2 })
	g.Eventually(func(g Gomega) {
		c := condition(getStorefront(g, ns), shopv1alpha1.ConditionSchemaMigrated)
		g.Expect(c.Reason).To(Equal(shopv1alpha1.ReasonHibernated))
		g.Expect(c.Message).To(Equal("The migrations of " + imageV2 + " wait until the shop wakes (spec.hibernate: false)"))
	}).WithTimeout(eventually).WithPolling(poll).Should(Succeed())
	g.Consistently(func(g Gomega) {
		g.Expect(jobOf(g, ns, imageV2)).To(BeNil())
		g.Expect(getStorefront(g, ns).Status.Phase).To(Equal(shopv1alpha1.PhaseHibernated))
	}).WithTimeout(quiet).WithPolling(poll).Should(Succeed())

	updateStorefront(t, ns, func(sf *shopv1alpha1.Storefront) { sf.Spec.Hibernate = false })
	sf = waitForPhase(t, ns, shopv1alpha1.PhaseReady)
	g.Expect(sf.Status.Hibernation).To(BeNil())
	g.Expect(sf.Status.MigratedImage).To(Equal(imageV2), "migrated after the wake")
	g.Expect(sf.Status.ServedImage).To(Equal(imageV2))
	hpa := get(g, ns, "acme-shop", &autoscalingv2.HorizontalPodAutoscaler{})
	g.Expect(hpa.Spec.MinReplicas).To(Equal(ptr.To[int32](2)))
	g.Expect(hpa.Spec.MaxReplicas).To(Equal(int32(5)))
	g.Expect(ptr.Deref(deployment(g, ns).Spec.Replicas, 0)).To(BeNumerically(">=", 2), "back at the minimum")
	g.Eventually(func(g Gomega) map[string]any { return scalingConfiguration(g, ns) }).WithTimeout(eventually).WithPolling(poll).
		Should(Equal(map[string]any{"minCapacity": 0.5, "maxCapacity": int64(4)}), "no secondsUntilAutoPause above 0 ACU")
	ing = get(g, ns, "acme-shop", &networkingv1.Ingress{})
	g.Expect(ing.Annotations).NotTo(HaveKey("alb.ingress.kubernetes.io/actions.sleeping"))
	g.Expect(ing.Spec.Rules[0].HTTP.Paths[0].Backend.Service.Name).To(Equal("acme-shop"))
}

// An engine version that cannot pause keeps its minimum capacity, with no
// secondsUntilAutoPause, and the condition says why.
func TestHibernateOnAnEngineThatCannotPause(t *testing.T) {
	ns := newNamespace(t)
	startStandIns(t, ns, fake.Options{})
	startOperator(t, ns, ackOptions)
	g := NewWithT(t)
	createStorefront(t, newStorefront(ns, withAurora(func(a *shopv1alpha1.AuroraDatabase) { a.EngineVersion = "15.4" })))
	waitForPhase(t, ns, shopv1alpha1.PhaseReady)
	updateStorefront(t, ns, func(sf *shopv1alpha1.Storefront) { sf.Spec.Hibernate = true })
	sf := waitForPhase(t, ns, shopv1alpha1.PhaseHibernated)
	g.Expect(sf.Status.Hibernation.DatabasePaused).To(BeFalse())
	g.Expect(condition(sf, shopv1alpha1.ConditionReady).Message).To(ContainSubstring(
		"the Aurora cluster stays at its minimum capacity of 0.5 ACU: engine version 15.4 cannot pause (Aurora PostgreSQL 13.15, 14.12, 15.7, 16.3 or later needed)"))
	g.Consistently(func(g Gomega) map[string]any { return scalingConfiguration(g, ns) }).WithTimeout(quiet).WithPolling(poll).
		Should(Equal(map[string]any{"minCapacity": 0.5, "maxCapacity": int64(4)}))
}

// putToSleep puts a Ready shop to sleep and waits until it is Hibernated and the
// Deployment controller has reported the scale to 0.
func putToSleep(t *testing.T, ns string) {
	t.Helper()
	updateStorefront(t, ns, func(sf *shopv1alpha1.Storefront) { sf.Spec.Hibernate = true })
	waitForPhase(t, ns, shopv1alpha1.PhaseHibernated)
	NewWithT(t).Eventually(func(g Gomega) {
		d := deployment(g, ns)
		g.Expect(d.Status.ObservedGeneration).To(Equal(d.Generation))
		g.Expect(d.Status.Replicas).To(BeZero())
	}).WithTimeout(eventually).WithPolling(poll).Should(Succeed())
}

// asleepShop starts the stand-ins and an operator in a new namespace, and a shop of 2 to
// 5 replicas there, Ready, then asleep.
func asleepShop(t *testing.T) (string, *fake.StandIns, *operatorRun) {
	t.Helper()
	ns := newNamespace(t)
	standIns := startStandIns(t, ns, fake.Options{})
	op := startOperator(t, ns, Options{})
	readyShop(t, ns, withReplicas(2, 5))
	putToSleep(t, ns)
	return ns, standIns, op
}

// woken waits until the woken shop is Ready with status.hibernation gone, the
// Deployment at want replicas at least, then checks that it rests: forced reconciles
// write nothing.
func woken(t *testing.T, op *operatorRun, ns string, want int32) {
	t.Helper()
	g := NewWithT(t)
	sf := waitForPhase(t, ns, shopv1alpha1.PhaseReady)
	g.Expect(sf.Status.Hibernation).To(BeNil())
	g.Expect(condition(sf, shopv1alpha1.ConditionAvailable).Reason).To(Equal(shopv1alpha1.ReasonDeploymentAvailable))
	g.Expect(ptr.Deref(deployment(g, ns).Spec.Replicas, 0)).To(BeNumerically(">=", want))
	reconcileAtRest(g, op, ns)
}

// Woken with lower bounds in the same update (hibernate: false and replicas {1,1}):
// the shop wakes to the new minimum, not to the 2 remembered at sleep, which the new HPA
// scales back to 1 before they start and which would never be available, leaving the
// shop "Waking" (RollingOut, Ready=False) for ever though it serves.
func TestWakeWithLowerReplicaBounds(t *testing.T) {
	ns, standIns, op := asleepShop(t)
	g := NewWithT(t)
	g.Expect(getStorefront(g, ns).Status.Hibernation.MinReplicas).To(Equal(int32(2)))

	// Pods start slower than the HPA acts: the Deployment controller reports nothing
	// until the HPA has the Deployment at its new maximum.
	standIns.SetRolloutsHeld(true)
	updateStorefront(t, ns, func(sf *shopv1alpha1.Storefront) {
		sf.Spec.Hibernate = false
		sf.Spec.Replicas.Min, sf.Spec.Replicas.Max = 1, 1
	})
	g.Eventually(func(g Gomega) {
		g.Expect(get(g, ns, "acme-shop", &autoscalingv2.HorizontalPodAutoscaler{}).Status.ObservedGeneration).NotTo(BeNil())
		g.Expect(deployment(g, ns).Spec.Replicas).To(Equal(ptr.To[int32](1)))
	}).WithTimeout(eventually).WithPolling(poll).Should(Succeed())
	standIns.SetRolloutsHeld(false)
	woken(t, op, ns, 1)
	hpa := get(g, ns, "acme-shop", &autoscalingv2.HorizontalPodAutoscaler{})
	g.Expect(hpa.Spec.MinReplicas).To(Equal(ptr.To[int32](1)))
	g.Expect(hpa.Spec.MaxReplicas).To(Equal(int32(1)))
	g.Expect(deployment(g, ns).Spec.Replicas).To(Equal(ptr.To[int32](1)))
}

// Asleep, then awake again before the status write of the first sleeping reconcile
// landed (it is dropped on a Conflict): the Deployment is at 0, the HPA deleted, and
// status.hibernation was never stored. The operator is stopped to leave exactly that
// state. An HPA never scales up a target at 0 (ScalingDisabled), so the operator must:
// the shop wakes to its minimum.
func TestWakeWithoutHibernationStatus(t *testing.T) {
	ns := newNamespace(t)
	startStandIns(t, ns, fake.Options{})
	op := startOperator(t, ns, Options{})
	g := NewWithT(t)
	readyShop(t, ns, withReplicas(2, 5))

	op.stop()
	ctx := context.Background()
	g.Expect(k8sClient.Delete(ctx, &autoscalingv2.HorizontalPodAutoscaler{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "acme-shop"}})).To(Succeed())
	g.Expect(k8sClient.Patch(ctx, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "acme-shop"}},
		client.RawPatch(types.MergePatchType, []byte(`{"spec":{"replicas":0}}`)), client.FieldOwner(hibernationFieldOwner))).To(Succeed())
	updateStorefront(t, ns, func(sf *shopv1alpha1.Storefront) { sf.Spec.Hibernate = true })
	updateStorefront(t, ns, func(sf *shopv1alpha1.Storefront) { sf.Spec.Hibernate = false })
	g.Expect(getStorefront(g, ns).Status.Hibernation).To(BeNil())
	g.Eventually(func(g Gomega) {
		g.Expect(deployment(g, ns).Status.Replicas).To(BeZero())
	}).WithTimeout(eventually).WithPolling(poll).Should(Succeed())

	op = startOperator(t, ns, Options{})
	woken(t, op, ns, 2)
	for _, reason := range warningReasons(g, ns) {
		g.Expect(reason).NotTo(Equal(shopv1alpha1.ReasonPodsUnavailable), "a wake is not PodsUnavailable")
	}
}

// A new image set while asleep rolls out after the wake; when that rollout passes its
// progress deadline with no pod available, the shop is Degraded with RolloutStuck and a
// Warning Event, as any stuck rollout (docs/architecture.md, the condition table), not
// "Waking" for ever.
func TestWakeIntoAStuckRolloutIsDegraded(t *testing.T) {
	ns, standIns, op := asleepShop(t)
	g := NewWithT(t)
	setImage(t, ns, imageV2)

	// The scale from 0 and the new template reach the Deployment controller together.
	standIns.SetRolloutsHeld(true)
	updateStorefront(t, ns, func(sf *shopv1alpha1.Storefront) { sf.Spec.Hibernate = false })
	g.Eventually(func(g Gomega) {
		d := deployment(g, ns)
		g.Expect(ptr.Deref(d.Spec.Replicas, 0)).To(Equal(int32(2)))
		g.Expect(containerImage(d.Spec.Template.Spec.Containers, shopContainerName)).To(Equal(imageV2))
	}).WithTimeout(eventually).WithPolling(poll).Should(Succeed())
	standIns.SetRolloutsStuck(true)
	standIns.SetRolloutsHeld(false)

	sf := waitForPhase(t, ns, shopv1alpha1.PhaseDegraded)
	c := condition(sf, shopv1alpha1.ConditionAvailable)
	g.Expect(c.Status).To(Equal(metav1.ConditionFalse), "no pod serves")
	g.Expect(c.Reason).To(Equal(shopv1alpha1.ReasonRolloutStuck))
	g.Expect(c.Message).To(ContainSubstring("has timed out progressing"))
	g.Eventually(func(g Gomega) {
		g.Expect(warningReasons(g, ns)).To(ContainElement(shopv1alpha1.ReasonRolloutStuck))
	}).WithTimeout(eventually).WithPolling(poll).Should(Succeed())

	standIns.SetRolloutsStuck(false)
	woken(t, op, ns, 2)
}

// setDeploymentStatus writes the shop Deployment's status as the Deployment controller
// would after observing a scale to 2 whose pods never become available (they crash):
// the counts, Available=False/MinimumReplicasUnavailable since since, Progressing kept
// (a scale leaves it, and a complete rollout never times out: pkg/controller/deployment
// progress.go syncRolloutStatus skips a complete Deployment).
func setDeploymentStatus(t *testing.T, ns string, since time.Time) {
	t.Helper()
	NewWithT(t).Eventually(func(g Gomega) {
		d := deployment(g, ns)
		d.Status.ObservedGeneration = d.Generation
		d.Status.Replicas, d.Status.UpdatedReplicas, d.Status.ReadyReplicas, d.Status.AvailableReplicas, d.Status.UnavailableReplicas = 2, 2, 0, 0, 2
		conds := []appsv1.DeploymentCondition{{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionFalse,
			Reason: fake.DeploymentReasonMinimumReplicasUnavailable, Message: "Deployment does not have minimum availability.",
			LastUpdateTime: metav1.NewTime(since), LastTransitionTime: metav1.NewTime(since)}}
		for _, c := range d.Status.Conditions {
			if c.Type == appsv1.DeploymentProgressing {
				conds = append(conds, c)
			}
		}
		d.Status.Conditions = conds
		g.Expect(k8sClient.Status().Update(context.Background(), d)).To(Succeed())
	}).WithTimeout(eventually).WithPolling(poll).Should(Succeed())
}

// A woken shop whose pods never become available (crash-looping) is "Waking"
// (RollingOut) for as long as a rollout may take to progress (the Deployment's
// progressDeadlineSeconds), then PodsUnavailable: Degraded, a Warning Event. The
// Deployment controller reports no deadline for a scale.
func TestWakeWhosePodsNeverBecomeAvailableIsDegraded(t *testing.T) {
	ns, standIns, op := asleepShop(t)
	g := NewWithT(t)

	standIns.SetRolloutsHeld(true)
	updateStorefront(t, ns, func(sf *shopv1alpha1.Storefront) { sf.Spec.Hibernate = false })
	g.Eventually(func(g Gomega) int32 { return ptr.Deref(deployment(g, ns).Spec.Replicas, 0) }).
		WithTimeout(eventually).WithPolling(poll).Should(Equal(int32(2)))

	setDeploymentStatus(t, ns, time.Now())
	g.Eventually(func(g Gomega) {
		sf := getStorefront(g, ns)
		g.Expect(sf.Status.Phase).To(Equal(shopv1alpha1.PhaseRollingOut))
		g.Expect(condition(sf, shopv1alpha1.ConditionAvailable).Message).To(HavePrefix("Waking: Deployment acme-shop has 0 of 2 pods available"))
	}).WithTimeout(eventually).WithPolling(poll).Should(Succeed())

	setDeploymentStatus(t, ns, time.Now().Add(-(progressDeadlineSeconds+60)*time.Second))
	sf := waitForPhase(t, ns, shopv1alpha1.PhaseDegraded)
	c := condition(sf, shopv1alpha1.ConditionAvailable)
	g.Expect(c.Status).To(Equal(metav1.ConditionFalse))
	g.Expect(c.Reason).To(Equal(shopv1alpha1.ReasonPodsUnavailable))
	g.Eventually(func(g Gomega) {
		g.Expect(warningReasons(g, ns)).To(ContainElement(shopv1alpha1.ReasonPodsUnavailable))
	}).WithTimeout(eventually).WithPolling(poll).Should(Succeed())

	standIns.SetRolloutsHeld(false)
	woken(t, op, ns, 2)
}
