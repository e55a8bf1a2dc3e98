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
	"github.com/prometheus/client_golang/prometheus/testutil"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	shopv1alpha1 "github.com/storefront-operator/storefront/api/v1alpha1"
	"github.com/storefront-operator/storefront/test/fake"
)

// Scenario 1: a fresh Storefront on an external database and cache gets every object,
// with the fields that matter, and becomes Ready.
func TestFreshStorefrontBecomesReady(t *testing.T) {
	ns := newNamespace(t)
	standIns := startStandIns(t, ns, fake.Options{})
	startOperator(t, ns, Options{})
	g := NewWithT(t)

	// The migration Job runs until the Storefront has recorded it running: a Job that
	// finished before the operator's status write landed (a conflict with a stale read
	// drops that write) leaves no MigrationRunning state, hence no Event, to assert.
	standIns.SetJobOutcome(imageV1, fake.JobRuns)
	createURLSecret(t, ns, "acme-db", dbURL)
	createURLSecret(t, ns, "acme-redis", redisURL)
	createStorefront(t, newStorefront(ns, withExternalCache(), withReplicas(2, 5),
		withIngress(shopv1alpha1.IngressSpec{Host: "shop.acme.example", ClassName: "alb",
			CertificateARN: "arn:aws:acm:eu-west-1:123456789012:certificate/0a1b2c3d-0000-4000-8000-000000000001"})))
	g.Eventually(func(g Gomega) {
		g.Expect(condition(getStorefront(g, ns), shopv1alpha1.ConditionSchemaMigrated).Reason).To(Equal(shopv1alpha1.ReasonMigrationRunning))
	}).WithTimeout(eventually).WithPolling(poll).Should(Succeed())
	standIns.SetJobOutcome(imageV1, fake.JobSucceeds)
	sf := waitForPhase(t, ns, shopv1alpha1.PhaseReady)

	g.Expect(sf.Finalizers).To(ContainElement(shopv1alpha1.Finalizer))
	for _, tc := range []string{shopv1alpha1.ConditionDatabaseReady, shopv1alpha1.ConditionCacheReady,
		shopv1alpha1.ConditionSchemaMigrated, shopv1alpha1.ConditionAvailable, shopv1alpha1.ConditionReady} {
		c := condition(sf, tc)
		g.Expect(c.Status).To(Equal(metav1.ConditionTrue), "%s: %+v", tc, c)
		g.Expect(c.ObservedGeneration).To(Equal(sf.Generation), tc)
	}
	g.Expect(sf.Status.URL).To(Equal("https://shop.acme.example"))
	g.Expect(sf.Status.ServedImage).To(Equal(imageV1))
	g.Expect(sf.Status.MigratedImage).To(Equal(imageV1))
	g.Expect(sf.Status.FailedImage).To(BeEmpty())
	g.Expect(sf.Status.Database).To(Equal(&shopv1alpha1.EndpointStatus{Endpoint: "db.example.internal", Port: 5433}))
	g.Expect(sf.Status.Cache).To(Equal(&shopv1alpha1.EndpointStatus{Endpoint: "cache.example.internal", Port: 6380}))
	g.Expect(deployment(g, ns).Status.ReadyReplicas).To(Equal(int32(2)))

	// Generated and composed Secrets.
	app := get(g, ns, "acme-app", &corev1.Secret{})
	g.Expect(app.Data[keyJWTSecret]).To(HaveLen(64))
	g.Expect(app.Data[keyTOTPKey]).To(HaveLen(64))
	g.Expect(app.Data[keyAdminPassword]).To(HaveLen(32))
	g.Expect(string(app.Data[keyAdminEmail])).To(MatchRegexp(`^admin-[0-9a-f]{8}@shop\.acme\.example$`))
	conn := get(g, ns, "acme-connection", &corev1.Secret{})
	g.Expect(string(conn.Data[keyDatabaseURL])).To(Equal(dbURL))
	g.Expect(string(conn.Data[keyRedisURL])).To(Equal(redisURL))
	for _, s := range []*corev1.Secret{app, conn} {
		g.Expect(metav1.IsControlledBy(s, sf)).To(BeTrue(), s.Name)
		g.Expect(s.Labels).To(HaveKeyWithValue(labelInstance, "acme"))
		g.Expect(s.Labels).To(HaveKeyWithValue(labelManagedBy, "storefront-operator"))
	}

	// The migration Job that ran.
	jobs := migrationJobs(g, ns)
	g.Expect(jobs).To(HaveLen(1))
	job := jobs[0]
	g.Expect(job.Name).To(Equal("acme-migrate-" + shortHash(imageV1)))
	g.Expect(job.Spec.BackoffLimit).To(Equal(ptr.To[int32](2)))
	g.Expect(job.Spec.ActiveDeadlineSeconds).To(Equal(ptr.To[int64](600)))
	g.Expect(job.Spec.TTLSecondsAfterFinished).NotTo(BeNil())
	mc := job.Spec.Template.Spec.Containers[0]
	g.Expect(mc.Image).To(Equal(imageV1))
	g.Expect(mc.Command).To(Equal([]string{"/shop"}))
	g.Expect(mc.Args).To(Equal([]string{"migrate", "--seed=none"}))
	g.Expect(envNames(mc.Env)).To(ConsistOf(envDatabaseURL, envRedisURL, envCurrency, envAdminEmail, envAdminPassword))

	// The Deployment and its pod template.
	d := deployment(g, ns)
	g.Expect(metav1.IsControlledBy(d, sf)).To(BeTrue())
	g.Expect(d.Spec.Replicas).To(Equal(ptr.To[int32](2)), "the HPA stand-in scaled to min")
	pod := d.Spec.Template.Spec
	c := pod.Containers[0]
	g.Expect(c.Image).To(Equal(imageV1))
	g.Expect(c.Command).To(Equal([]string{"/shop"}))
	g.Expect(c.Args).To(Equal([]string{"serve"}))
	g.Expect(c.ReadinessProbe.HTTPGet.Path).To(Equal("/readyz"))
	g.Expect(c.LivenessProbe.HTTPGet.Path).To(Equal("/healthz"))
	g.Expect(envNames(c.Env)).To(ConsistOf(envDatabaseURL, envRedisURL, envCurrency, envJWTSecret, envTOTPKey, envTOTPKeyPrevious, envHTTPAddr, envMetricsAddr, envShutdownDelay, envPaymentProvider, envPublicURL))
	g.Expect(envValue(c.Env, envCurrency)).To(Equal("EUR"))
	g.Expect(envValue(c.Env, envPaymentProvider)).To(Equal("mock"))
	g.Expect(envValue(c.Env, envPublicURL)).To(Equal("https://shop.acme.example"), "status.url without the load balancer: __Host- cookies")
	g.Expect(envValue(c.Env, envMetricsAddr)).To(Equal(":9090"))
	g.Expect(c.SecurityContext.ReadOnlyRootFilesystem).To(Equal(ptr.To(true)))
	g.Expect(c.SecurityContext.AllowPrivilegeEscalation).To(Equal(ptr.To(false)))
	g.Expect(c.SecurityContext.Capabilities.Drop).To(Equal([]corev1.Capability{"ALL"}))
	g.Expect(c.VolumeMounts).To(ContainElement(corev1.VolumeMount{Name: "tmp", MountPath: "/tmp"}))
	g.Expect(pod.SecurityContext.RunAsNonRoot).To(Equal(ptr.To(true)))
	g.Expect(pod.SecurityContext.SeccompProfile.Type).To(Equal(corev1.SeccompProfileTypeRuntimeDefault))
	g.Expect(*pod.TerminationGracePeriodSeconds).To(BeNumerically(">", 10))
	g.Expect(pod.TopologySpreadConstraints).NotTo(BeEmpty())
	g.Expect(d.Spec.Template.Annotations).To(HaveKey(annotationConfigChecksum))

	// Service, Ingress, HPA, PDB, ServiceAccount.
	svc := get(g, ns, "acme-shop", &corev1.Service{})
	g.Expect(svc.Spec.Selector).To(Equal(d.Spec.Selector.MatchLabels))
	ing := get(g, ns, "acme-shop", &networkingv1.Ingress{})
	g.Expect(ing.Spec.IngressClassName).To(Equal(ptr.To("alb")))
	g.Expect(ing.Annotations).To(HaveKeyWithValue("alb.ingress.kubernetes.io/target-type", "ip"))
	g.Expect(ing.Spec.Rules[0].Host).To(Equal("shop.acme.example"))
	g.Expect(ing.Annotations).To(HaveKeyWithValue("alb.ingress.kubernetes.io/certificate-arn", "arn:aws:acm:eu-west-1:123456789012:certificate/0a1b2c3d-0000-4000-8000-000000000001"))
	g.Expect(ing.Spec.TLS).To(BeEmpty(), "an ALB takes its certificate from ACM")
	hpa := get(g, ns, "acme-shop", &autoscalingv2.HorizontalPodAutoscaler{})
	g.Expect(*hpa.Spec.MinReplicas).To(Equal(int32(2)))
	g.Expect(hpa.Spec.MaxReplicas).To(Equal(int32(5)))
	g.Expect(hpa.Spec.ScaleTargetRef.Name).To(Equal("acme-shop"))
	pdb := get(g, ns, "acme-shop", &policyv1.PodDisruptionBudget{})
	g.Expect(pdb.Spec.MinAvailable.IntValue()).To(Equal(1))
	sa := get(g, ns, "acme-shop", &corev1.ServiceAccount{})
	g.Expect(sa.AutomountServiceAccountToken).To(Equal(ptr.To(false)))
	g.Expect(pod.ServiceAccountName).To(Equal(sa.Name))

	// NetworkPolicies: the external stores' ports come from their URLs.
	np := get(g, ns, "acme-shop", &networkingv1.NetworkPolicy{})
	g.Expect(egressTCPPorts(np)).To(ConsistOf(int32(5433), int32(6380), int32(53)))
	mnp := get(g, ns, "acme-migrate", &networkingv1.NetworkPolicy{})
	g.Expect(egressTCPPorts(mnp)).To(ConsistOf(int32(5433), int32(6380), int32(53)))
	g.Expect(mnp.Spec.Ingress).To(BeEmpty())

	// Every object carries the recommended labels.
	for _, labelsOf := range []map[string]string{d.Labels, svc.Labels, ing.Labels, hpa.Labels, pdb.Labels, sa.Labels, np.Labels, job.Labels} {
		g.Expect(labelsOf).To(HaveKeyWithValue(labelName, "storefront"))
		g.Expect(labelsOf).To(HaveKeyWithValue(labelInstance, "acme"))
		g.Expect(labelsOf).To(HaveKey(labelComponent))
		g.Expect(labelsOf).To(HaveKeyWithValue(labelManagedBy, "storefront-operator"))
	}

	// The phase gauge counts this Storefront, in controller-runtime's registry.
	g.Expect(testutil.ToFloat64(storefrontPhase.WithLabelValues(string(shopv1alpha1.PhaseReady)))).To(BeNumerically(">=", 1))
	families, err := metrics.Registry.Gather()
	g.Expect(err).NotTo(HaveOccurred())
	var names []string
	for _, f := range families {
		names = append(names, f.GetName())
	}
	g.Expect(names).To(ContainElement("storefront_phase"))

	// Events tell the story.
	g.Eventually(func(g Gomega) {
		g.Expect(eventReasons(g, ns)).To(ContainElements(shopv1alpha1.ReasonDatabaseAvailable,
			shopv1alpha1.ReasonMigrationRunning, shopv1alpha1.ReasonMigrationSucceeded, shopv1alpha1.ReasonRollingOut, shopv1alpha1.ReasonReconciled))
	}).WithTimeout(eventually).WithPolling(poll).Should(Succeed())
	// A first rollout is a rollout: nothing on the way to Ready needed a human (a new
	// Deployment read as settled with no pods was PodsUnavailable: Degraded, a Warning).
	// (The misconfiguration warnings of this bare namespace are another matter.)
	for _, reason := range eventReasons(g, ns) {
		g.Expect(failureReasons[reason]).To(BeFalse(), "Event %s on the way to Ready", reason)
	}
}

func envNames(env []corev1.EnvVar) []string {
	var out []string
	for _, e := range env {
		out = append(out, e.Name)
	}
	return out
}

func envValue(env []corev1.EnvVar, name string) string {
	for _, e := range env {
		if e.Name == name {
			return e.Value
		}
	}
	return ""
}

func egressTCPPorts(np *networkingv1.NetworkPolicy) []int32 {
	var out []int32
	for _, r := range np.Spec.Egress {
		for _, p := range r.Ports {
			if p.Protocol != nil && *p.Protocol == corev1.ProtocolTCP && p.Port != nil {
				out = append(out, p.Port.IntVal)
			}
		}
	}
	return out
}

// eventReasons lists the reasons of the events.k8s.io Events about Storefronts in ns.
func eventReasons(g Gomega, ns string) []string {
	var out []string
	for _, e := range storefrontEventItems(g, ns) {
		out = append(out, e.Reason)
	}
	return out
}

// reconcileAtRest waits until a Storefront is at rest - a reconcile writes nothing
// and the Events of its last transitions have all arrived (the recorder posts them
// asynchronously) - then forces 20 reconciles and expects no mutating request. It
// returns the number of the Storefront's Events at rest.
func reconcileAtRest(g Gomega, op *operatorRun, ns string) int {
	ctx := context.Background()
	req := reconcileRequest(ns)
	events := -1
	g.Eventually(func() bool {
		op.counter.Reset()
		_, err := op.reconciler.Reconcile(ctx, req)
		g.Expect(err).NotTo(HaveOccurred())
		n := len(eventReasons(g, ns))
		settled := op.counter.Mutations() == 0 && n == events
		events = n
		return settled
	}).WithTimeout(eventually).WithPolling(poll).Should(BeTrue(), "the Storefront never came to rest")

	op.counter.Reset()
	for range 20 {
		_, err := op.reconciler.Reconcile(ctx, req)
		g.Expect(err).NotTo(HaveOccurred())
	}
	g.Expect(op.counter.Mutations()).To(BeZero(), "mutating requests at rest: %s", op.counter.MutationSummary())
	return events
}

// Scenario 8: a Ready Storefront at rest costs no write: 20 forced reconciles, and
// reconciles from watch events, make no create, update, patch (apply and status
// included) or delete, and emit no Event.
func TestReadyStorefrontAtRestWritesNothing(t *testing.T) {
	ns := newNamespace(t)
	startStandIns(t, ns, fake.Options{})
	op := startOperator(t, ns, Options{IngressNamespace: "ingress", IngressCIDRs: []string{"10.0.0.0/16"}, MetricsNamespace: "monitoring"})
	g := NewWithT(t)
	readyShop(t, ns, withExternalCache(), withIngress(shopv1alpha1.IngressSpec{
		Host: "shop.acme.example", ClassName: "alb", Annotations: map[string]string{"example.com/team": "shop"}}))

	events := reconcileAtRest(g, op, ns)
	g.Expect(op.counter.Count("get", "Deployment")).To(BeNumerically(">=", 20), "the reconciles did run")

	// Reconciles through the watches: an unrelated annotation on the Storefront.
	for i := range 5 {
		updateStorefront(t, ns, func(sf *shopv1alpha1.Storefront) {
			if sf.Annotations == nil {
				sf.Annotations = map[string]string{}
			}
			sf.Annotations["example.com/poke"] = string(rune('a' + i))
		})
	}
	g.Consistently(op.counter.Mutations).WithTimeout(quiet).WithPolling(poll).Should(BeZero(),
		"mutating requests at rest: %s", op.counter.MutationSummary())
	g.Expect(eventReasons(g, ns)).To(HaveLen(events), "no Event at rest")
}

// Scenario 2a: without a cache the connection Secret has no REDIS_URL (the pods' optional
// env var stays unset) and CacheReady says why.
func TestStorefrontWithoutCache(t *testing.T) {
	ns := newNamespace(t)
	startStandIns(t, ns, fake.Options{})
	startOperator(t, ns, Options{})
	g := NewWithT(t)
	sf := readyShop(t, ns)

	c := condition(sf, shopv1alpha1.ConditionCacheReady)
	g.Expect(c.Status).To(Equal(metav1.ConditionTrue))
	g.Expect(c.Reason).To(Equal(shopv1alpha1.ReasonCacheNotConfigured))
	g.Expect(sf.Status.Cache).To(BeNil())
	conn := get(g, ns, "acme-connection", &corev1.Secret{})
	g.Expect(conn.Data).NotTo(HaveKey(keyRedisURL))
	redis := deployment(g, ns).Spec.Template.Spec.Containers[0].Env[1]
	g.Expect(redis.Name).To(Equal(envRedisURL))
	g.Expect(*redis.ValueFrom.SecretKeyRef.Optional).To(BeTrue(), "REDIS_URL is optional: the Secret has no such key")
	g.Expect(egressTCPPorts(get(g, ns, "acme-shop", &networkingv1.NetworkPolicy{}))).To(ConsistOf(int32(5433), int32(53)))
}

// Scenario 2b: an invalid or missing connection Secret is reported, naming the Secret
// and key and never the URL; the running shop is left alone.
func TestInvalidConnectionSecret(t *testing.T) {
	ns := newNamespace(t)
	startStandIns(t, ns, fake.Options{})
	startOperator(t, ns, Options{})
	g := NewWithT(t)
	readyShop(t, ns, withExternalCache())
	checksum := deployment(g, ns).Spec.Template.Annotations[annotationConfigChecksum]

	cases := []struct {
		name, secret, url, reason string
		phase                     shopv1alpha1.StorefrontPhase
		condition                 string
		wantInMessage             []string
	}{
		{"a MySQL URL", "acme-db", "mysql://shop:hunter2@db:3306/shop", shopv1alpha1.ReasonInvalidConnectionSecret,
			shopv1alpha1.PhaseDegraded, shopv1alpha1.ConditionDatabaseReady, []string{"acme-db", "url", "mysql"}},
		{"a URL without a host", "acme-db", "postgres://shop:hunter2@/shop", shopv1alpha1.ReasonInvalidConnectionSecret,
			shopv1alpha1.PhaseDegraded, shopv1alpha1.ConditionDatabaseReady, []string{"acme-db", "url", "no host"}},
		{"garbage", "acme-db", "post gres://shop:hunter2@:db", shopv1alpha1.ReasonInvalidConnectionSecret,
			shopv1alpha1.PhaseDegraded, shopv1alpha1.ConditionDatabaseReady, []string{"acme-db", "url"}},
		{"a bad port", "acme-db", "postgres://shop:hunter2@db:99999/shop", shopv1alpha1.ReasonInvalidConnectionSecret,
			shopv1alpha1.PhaseDegraded, shopv1alpha1.ConditionDatabaseReady, []string{"acme-db", "url", "port"}},
		{"an http cache URL", "acme-redis", "http://:hunter2@cache:6379", shopv1alpha1.ReasonInvalidConnectionSecret,
			shopv1alpha1.PhaseDegraded, shopv1alpha1.ConditionCacheReady, []string{"acme-redis", "url", "redis://"}},
		{"a bad redis database", "acme-redis", "redis://:hunter2@cache:6379/x", shopv1alpha1.ReasonInvalidConnectionSecret,
			shopv1alpha1.PhaseDegraded, shopv1alpha1.ConditionCacheReady, []string{"acme-redis", "url"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			createURLSecret(t, ns, tc.secret, tc.url)
			g.Eventually(func(g Gomega) {
				sf := getStorefront(g, ns)
				c := condition(sf, tc.condition)
				g.Expect(c.Status).To(Equal(metav1.ConditionFalse))
				g.Expect(c.Reason).To(Equal(tc.reason))
				for _, w := range tc.wantInMessage {
					g.Expect(c.Message).To(ContainSubstring(w))
				}
				g.Expect(c.Message).NotTo(ContainSubstring("hunter2"), "the password leaked into the condition")
				g.Expect(sf.Status.Phase).To(Equal(tc.phase))
			}).WithTimeout(eventually).WithPolling(poll).Should(Succeed())
			g.Expect(deployment(g, ns).Spec.Template.Annotations[annotationConfigChecksum]).To(Equal(checksum), "pods were rolled")
			createURLSecret(t, ns, "acme-db", dbURL)
			createURLSecret(t, ns, "acme-redis", redisURL)
			waitForPhase(t, ns, shopv1alpha1.PhaseReady)
		})
	}

	t.Run("a missing secret", func(t *testing.T) {
		g := NewWithT(t)
		g.Expect(k8sClient.Delete(context.Background(), &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "acme-redis", Namespace: ns}})).To(Succeed())
		g.Eventually(func(g Gomega) {
			c := condition(getStorefront(g, ns), shopv1alpha1.ConditionCacheReady)
			g.Expect(c.Reason).To(Equal(shopv1alpha1.ReasonConnectionSecretNotFound))
			g.Expect(c.Message).To(ContainSubstring("acme-redis"))
		}).WithTimeout(eventually).WithPolling(poll).Should(Succeed())
		g.Expect(deployment(g, ns).Spec.Template.Annotations[annotationConfigChecksum]).To(Equal(checksum))
	})
}

// Scenario 2c: a changed external URL is recomposed into the connection Secret and rolls
// the pods through the checksum annotation (after the migration, when it names another
// database).
func TestSecretChangeRollsPods(t *testing.T) {
	ns := newNamespace(t)
	startStandIns(t, ns, fake.Options{})
	startOperator(t, ns, Options{})
	g := NewWithT(t)
	readyShop(t, ns)
	before := deployment(g, ns)

	const moved = "postgresql://shop:n3w@db2.example.internal:6432/shop"
	createURLSecret(t, ns, "acme-db", moved)
	g.Eventually(func(g Gomega) {
		conn := get(g, ns, "acme-connection", &corev1.Secret{})
		g.Expect(string(conn.Data[keyDatabaseURL])).To(Equal(moved))
		d := deployment(g, ns)
		g.Expect(d.Spec.Template.Annotations[annotationConfigChecksum]).NotTo(Equal(before.Spec.Template.Annotations[annotationConfigChecksum]))
		g.Expect(d.Generation).To(BeNumerically(">", before.Generation))
		g.Expect(egressTCPPorts(get(g, ns, "acme-shop", &networkingv1.NetworkPolicy{}))).To(ContainElement(int32(6432)))
	}).WithTimeout(eventually).WithPolling(poll).Should(Succeed())
	// A Secret change leaves the generation as it is, so the phase alone cannot tell a
	// status written before the change from one written after it: wait for the endpoint.
	g.Eventually(func(g Gomega) {
		sf := getStorefront(g, ns)
		g.Expect(sf.Status.Database).To(Equal(&shopv1alpha1.EndpointStatus{Endpoint: "db2.example.internal", Port: 6432}))
		g.Expect(sf.Status.Phase).To(Equal(shopv1alpha1.PhaseReady))
	}).WithTimeout(eventually).WithPolling(poll).Should(Succeed())
	// Another host and port is another database (issue 16): the served image's migration
	// ran on it first. A new password alone is the same database: no migration again.
	movedID := externalDatabaseID(&storeEndpoint{Host: "db2.example.internal", Port: 6432, URL: moved})
	g.Expect(getStorefront(g, ns).Status.Migration).To(Equal(&shopv1alpha1.MigrationStatus{Image: imageV1, Database: movedID}))
	job := jobOf(g, ns, imageV1)
	g.Expect(job.Annotations).To(HaveKeyWithValue(annotationDatabase, movedID))
	checksum := deployment(g, ns).Spec.Template.Annotations[annotationConfigChecksum]
	createURLSecret(t, ns, "acme-db", "postgresql://shop:n3wer@db2.example.internal:6432/shop")
	g.Eventually(func(g Gomega) {
		g.Expect(deployment(g, ns).Spec.Template.Annotations[annotationConfigChecksum]).NotTo(Equal(checksum))
	}).WithTimeout(eventually).WithPolling(poll).Should(Succeed())
	g.Expect(migrationJobs(g, ns)).To(HaveLen(1))
	g.Expect(jobOf(g, ns, imageV1).UID).To(Equal(job.UID), "a new password re-runs no migration")
}

func reconcileRequest(ns string) ctrl.Request {
	return ctrl.Request{NamespacedName: types.NamespacedName{Namespace: ns, Name: "acme"}}
}

// The operator's cache holds what it owns, not the namespace's other Secrets and Jobs;
// a referenced Secret without WatchLabel is read from the API server on each reconcile
// (so it works, and a change shows at the next reconcile), one with the label is
// watched (a change is reconciled at once).
func TestCacheHoldsOnlyOwnedObjects(t *testing.T) {
	ns := newNamespace(t)
	startStandIns(t, ns, fake.Options{})
	op := startOperator(t, ns, Options{})
	g := NewWithT(t)
	ctx := context.Background()

	// A referenced Secret without the watch label.
	plain := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "acme-db", Namespace: ns}, StringData: map[string]string{"url": dbURL}}
	g.Expect(k8sClient.Create(ctx, plain)).To(Succeed())
	unrelated := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "someone-elses", Namespace: ns}, StringData: map[string]string{"k": "v"}}
	g.Expect(k8sClient.Create(ctx, unrelated)).To(Succeed())
	createStorefront(t, newStorefront(ns))
	sf := waitForPhase(t, ns, shopv1alpha1.PhaseReady)
	g.Expect(sf.Status.Database.Endpoint).To(Equal("db.example.internal"))

	cached := op.reconciler.Client
	for name, obj := range map[string]client.Object{"someone-elses": &corev1.Secret{}, "acme-db": &corev1.Secret{}} {
		err := cached.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, obj)
		g.Expect(apierrors.IsNotFound(err)).To(BeTrue(), "Secret %s is in the operator's cache: %v", name, err)
	}
	g.Expect(cached.Get(ctx, client.ObjectKey{Namespace: ns, Name: "acme-app"}, &corev1.Secret{})).To(Succeed(), "its own Secret")
	g.Expect(cached.Get(ctx, client.ObjectKey{Namespace: ns, Name: "acme-shop"}, &appsv1.Deployment{})).To(Succeed(), "its own Deployment")

	// With the label, a change is reconciled at once (the resync is 10 minutes away).
	updated := get(g, ns, "acme-db", &corev1.Secret{})
	updated.Labels = map[string]string{WatchLabel: "true"}
	g.Expect(k8sClient.Update(ctx, updated)).To(Succeed())
	createURLSecret(t, ns, "acme-db", "postgres://shop:s3cret@db2.example.internal:5433/shop")
	g.Eventually(func(g Gomega) {
		g.Expect(getStorefront(g, ns).Status.Database.Endpoint).To(Equal("db2.example.internal"))
	}).WithTimeout(eventually).WithPolling(poll).Should(Succeed())
}
