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
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilcache "k8s.io/apimachinery/pkg/util/cache"
	testingclock "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	shopv1alpha1 "github.com/storefront-operator/storefront/api/v1alpha1"
)

func TestDesiredDeployment(t *testing.T) {
	db := &storeEndpoint{Host: "db", Port: 5432}
	cases := map[string]struct {
		db, cache  *storeEndpoint
		resources  corev1.ResourceRequirements
		wantEnv    []string
		wantMounts []string
		wantCPU    string
	}{
		"external stores with a cache": {db, &storeEndpoint{Port: 6379}, corev1.ResourceRequirements{},
			[]string{envDatabaseURL, envRedisURL, envCurrency, envJWTSecret, envTOTPKey, envTOTPKeyPrevious, envHTTPAddr, envMetricsAddr, envShutdownDelay, envPaymentProvider},
			[]string{"/tmp"}, "100m"},
		"no cache: REDIS_URL is still there, optional": {db, nil, corev1.ResourceRequirements{},
			[]string{envDatabaseURL, envRedisURL, envCurrency, envJWTSecret, envTOTPKey, envTOTPKeyPrevious, envHTTPAddr, envMetricsAddr, envShutdownDelay, envPaymentProvider},
			[]string{"/tmp"}, "100m"},
		"a database CA bundle is mounted read-only": {&storeEndpoint{Port: 5432, CABundle: &shopv1alpha1.SecretKeyRef{Name: "rds-ca", Key: "ca.pem"}}, nil,
			corev1.ResourceRequirements{},
			[]string{envDatabaseURL, envRedisURL, envCurrency, envJWTSecret, envTOTPKey, envTOTPKeyPrevious, envHTTPAddr, envMetricsAddr, envShutdownDelay, envPaymentProvider},
			[]string{"/tmp", caBundleMountPath}, "100m"},
		"resources given are used as given": {db, nil,
			corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m")}},
			[]string{envDatabaseURL, envRedisURL, envCurrency, envJWTSecret, envTOTPKey, envTOTPKeyPrevious, envHTTPAddr, envMetricsAddr, envShutdownDelay, envPaymentProvider},
			[]string{"/tmp"}, "250m"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			sf := storefrontNamed("acme")
			sf.Spec.Currency = "SEK"
			sf.Spec.Resources = tc.resources
			d := desiredDeployment(sf, testScheme, imageV2, "sum", tc.db, tc.cache)
			g.Expect(d.Name).To(Equal("acme-shop"))
			g.Expect(d.Spec.Replicas).To(BeNil(), "the HPA owns spec.replicas")
			g.Expect(d.Spec.Template.Annotations).To(HaveKeyWithValue(annotationConfigChecksum, "sum"))
			g.Expect(d.Spec.Selector.MatchLabels).To(Equal(selectorLabels(sf, componentShop)))
			g.Expect(d.Spec.Strategy.RollingUpdate.MaxUnavailable.IntValue()).To(BeZero(), "a rollout keeps every serving pod until its replacement is ready")
			pod := d.Spec.Template.Spec
			c := pod.Containers[0]
			g.Expect(c.Image).To(Equal(imageV2))
			g.Expect(c.Args).To(Equal([]string{"serve"}))
			g.Expect(envNames(c.Env)).To(Equal(tc.wantEnv))
			g.Expect(*c.Env[1].ValueFrom.SecretKeyRef.Optional).To(BeTrue(), "REDIS_URL is optional: the key exists only with a cache")
			g.Expect(envValue(c.Env, envCurrency)).To(Equal("SEK"))
			g.Expect(envValue(c.Env, envHTTPAddr)).To(Equal(":8080"))
			g.Expect(envValue(c.Env, envShutdownDelay)).To(Equal("10s"))
			g.Expect(*pod.TerminationGracePeriodSeconds).To(BeNumerically(">", 10+5), "grace covers the shutdown delay and a drain")
			var mounts []string
			for _, m := range c.VolumeMounts {
				mounts = append(mounts, m.MountPath)
			}
			g.Expect(mounts).To(Equal(tc.wantMounts))
			g.Expect(c.Resources.Requests.Cpu().String()).To(Equal(tc.wantCPU))
			g.Expect(c.ReadinessProbe.HTTPGet.Path).To(Equal("/readyz"))
			g.Expect(c.LivenessProbe.HTTPGet.Path).To(Equal("/healthz"))
			g.Expect(c.Ports).To(ContainElement(HaveField("ContainerPort", int32(metricsPort))))
			g.Expect(pod.SecurityContext.RunAsNonRoot).To(HaveValue(BeTrue()))
			g.Expect(c.SecurityContext.Capabilities.Drop).To(ConsistOf(corev1.Capability("ALL")))
		})
	}
}

func TestDesiredIngress(t *testing.T) {
	// The AWS Load Balancer Controller's annotations and values, as its v2.13
	// docs/guide/ingress/annotations.md spells them.
	albDefaults := map[string]string{
		"alb.ingress.kubernetes.io/target-type":             "ip",
		"alb.ingress.kubernetes.io/scheme":                  "internet-facing",
		"alb.ingress.kubernetes.io/healthcheck-path":        "/readyz",
		"alb.ingress.kubernetes.io/target-group-attributes": "deregistration_delay.timeout_seconds=30",
	}
	with := func(extra map[string]string) map[string]string {
		out := map[string]string{}
		for k, v := range albDefaults {
			out[k] = v
		}
		for k, v := range extra {
			out[k] = v
		}
		return out
	}
	const cert = "arn:aws:acm:eu-west-1:123456789012:certificate/0a1b2c3d-0000-4000-8000-000000000001"
	cases := map[string]struct {
		spec       shopv1alpha1.IngressSpec
		wantAnnots map[string]string
		wantTLS    bool
		wantHTTPS  bool
	}{
		"alb serves the internet over HTTP, health-checked on /readyz": {spec: shopv1alpha1.IngressSpec{ClassName: "alb", Host: "shop.example"},
			wantAnnots: albDefaults},
		"alb with an ACM certificate listens on 80 and 443 and redirects to HTTPS": {
			spec: shopv1alpha1.IngressSpec{ClassName: "alb", Host: "shop.example", CertificateARN: cert},
			wantAnnots: with(map[string]string{
				"alb.ingress.kubernetes.io/certificate-arn": cert,
				"alb.ingress.kubernetes.io/listen-ports":    `[{"HTTP":80},{"HTTPS":443}]`,
				"alb.ingress.kubernetes.io/ssl-redirect":    "443",
			}),
			wantHTTPS: true},
		"a certificate given as the user's annotation also turns HTTPS on": {
			spec: shopv1alpha1.IngressSpec{ClassName: "alb", Host: "shop.example", Annotations: map[string]string{"alb.ingress.kubernetes.io/certificate-arn": cert}},
			wantAnnots: with(map[string]string{
				"alb.ingress.kubernetes.io/certificate-arn": cert,
				"alb.ingress.kubernetes.io/listen-ports":    `[{"HTTP":80},{"HTTPS":443}]`,
				"alb.ingress.kubernetes.io/ssl-redirect":    "443",
			}),
			wantHTTPS: true},
		"the user's annotations win": {
			spec: shopv1alpha1.IngressSpec{ClassName: "alb", Annotations: map[string]string{
				"alb.ingress.kubernetes.io/target-type": "instance", "alb.ingress.kubernetes.io/scheme": "internal",
				"alb.ingress.kubernetes.io/healthcheck-path": "/healthz"}},
			wantAnnots: with(map[string]string{
				"alb.ingress.kubernetes.io/target-type": "instance", "alb.ingress.kubernetes.io/scheme": "internal",
				"alb.ingress.kubernetes.io/healthcheck-path": "/healthz"})},
		"listen ports of the user's without HTTPS mean no TLS": {
			spec: shopv1alpha1.IngressSpec{ClassName: "alb", Host: "shop.example", CertificateARN: cert,
				Annotations: map[string]string{"alb.ingress.kubernetes.io/listen-ports": `[{"HTTP":8080}]`}},
			wantAnnots: with(map[string]string{
				"alb.ingress.kubernetes.io/certificate-arn": cert,
				"alb.ingress.kubernetes.io/listen-ports":    `[{"HTTP":8080}]`,
				"alb.ingress.kubernetes.io/ssl-redirect":    "443",
			})},
		"another class gets the annotations as given": {spec: shopv1alpha1.IngressSpec{ClassName: "nginx", Annotations: map[string]string{"a": "b"}},
			wantAnnots: map[string]string{"a": "b"}},
		"another class terminates TLS with the Secret": {spec: shopv1alpha1.IngressSpec{ClassName: "nginx", Host: "shop.example", TLSSecretName: "tls"},
			wantTLS: true, wantHTTPS: true},
		"no class and no annotations": {spec: shopv1alpha1.IngressSpec{Host: "shop.example", TLSSecretName: "tls"}, wantTLS: true, wantHTTPS: true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			sf := storefrontNamed("acme")
			sf.Spec.Ingress = &tc.spec
			ing := desiredIngress(sf, testScheme)
			g.Expect(ing.Annotations).To(Equal(tc.wantAnnots))
			g.Expect(ing.Spec.Rules[0].Host).To(Equal(tc.spec.Host))
			g.Expect(ing.Spec.Rules[0].HTTP.Paths[0].Backend.Service.Name).To(Equal("acme-shop"))
			g.Expect(ing.Spec.TLS != nil).To(Equal(tc.wantTLS))
			g.Expect(ingressServesTLS(&tc.spec)).To(Equal(tc.wantHTTPS))
			if tc.spec.ClassName != "" {
				g.Expect(ing.Spec.IngressClassName).To(HaveValue(Equal(tc.spec.ClassName)))
			}
		})
	}
	t.Run("the deregistration delay covers the pod's shutdown", func(t *testing.T) {
		// SHUTDOWN_DELAY (serving while the ALB stops sending) plus the drain is the
		// termination grace period; the ALB waits for in-flight requests as long.
		g := NewWithT(t)
		sf := storefrontNamed("acme")
		d := desiredDeployment(sf, testScheme, "shop:1", "sum", &storeEndpoint{Host: "db", Port: 5432}, nil)
		g.Expect(d.Spec.Template.Spec.TerminationGracePeriodSeconds).To(HaveValue(BeEquivalentTo(albDeregistrationDelaySeconds)))
		g.Expect(d.Spec.Template.Spec.Containers[0].Env).To(ContainElement(corev1.EnvVar{Name: "SHUTDOWN_DELAY", Value: "10s"}))
		g.Expect(albDeregistrationDelaySeconds).To(BeNumerically(">", shutdownDelaySeconds))
	})
}

func TestDesiredHPAAndPDB(t *testing.T) {
	cases := map[string]struct {
		min, max, target int32
		wantPDB          bool
		wantTarget       int32
	}{
		"two or more pods keep one through disruptions": {2, 10, 70, true, 70},
		"one pod: a PDB would block node drains":        {1, 3, 50, false, 50},
		"a target unset outside the API server":         {3, 3, 0, true, 70},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			sf := storefrontNamed("acme")
			sf.Spec.Replicas = shopv1alpha1.ReplicasSpec{Min: tc.min, Max: tc.max, TargetCPUUtilizationPercentage: tc.target}
			hpa := desiredHPA(sf, testScheme)
			g.Expect(*hpa.Spec.MinReplicas).To(Equal(tc.min))
			g.Expect(hpa.Spec.MaxReplicas).To(Equal(tc.max))
			g.Expect(*hpa.Spec.Metrics[0].Resource.Target.AverageUtilization).To(Equal(tc.wantTarget))
			g.Expect(hpa.Spec.ScaleTargetRef.Name).To(Equal("acme-shop"))
			pdb := desiredPDB(sf, testScheme)
			g.Expect(pdb != nil).To(Equal(tc.wantPDB))
			if pdb != nil {
				g.Expect(pdb.Spec.MinAvailable.IntValue()).To(Equal(1))
			}
		})
	}
}

// TestDeploymentAvailability walks the Available rows of the condition table
// (docs/architecture.md#conditions-and-phases). The Deployment statuses are those the
// Deployment controller writes (test/fake DeploymentSteps, which cites
// pkg/controller/deployment): a scale bumps the generation and leaves Progressing as it
// was; a new template moves Progressing to NewReplicaSetCreated, then
// ReplicaSetUpdated, then NewReplicaSetAvailable.
func TestDeploymentAvailability(t *testing.T) {
	progressing := func(status corev1.ConditionStatus, reason string) appsv1.DeploymentCondition {
		return appsv1.DeploymentCondition{Type: appsv1.DeploymentProgressing, Status: status, Reason: reason,
			Message: `ReplicaSet "acme-shop-5d4f" ` + map[string]string{"ProgressDeadlineExceeded": "has timed out progressing."}[reason]}
	}
	settled := progressing(corev1.ConditionTrue, "NewReplicaSetAvailable")
	live := func(image string, gen, observed int64, mutate func(*appsv1.DeploymentStatus)) *appsv1.Deployment {
		d := &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: "acme-shop", Generation: gen},
			Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](2), Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				Containers: []corev1.Container{{Name: shopContainerName, Image: image}}}}},
			Status: appsv1.DeploymentStatus{ObservedGeneration: observed, Replicas: 2, UpdatedReplicas: 2, ReadyReplicas: 2, AvailableReplicas: 2,
				Conditions: []appsv1.DeploymentCondition{settled}},
		}
		if mutate != nil {
			mutate(&d.Status)
		}
		return d
	}
	withProgressing := func(c appsv1.DeploymentCondition) func(*appsv1.DeploymentStatus) {
		return func(s *appsv1.DeploymentStatus) { s.Conditions = []appsv1.DeploymentCondition{c} }
	}
	// progressed is a rollout's status: replicas pods, updated of the new template.
	progressed := func(c appsv1.DeploymentCondition, replicas, updated int32) func(*appsv1.DeploymentStatus) {
		return func(s *appsv1.DeploymentStatus) {
			s.Conditions = []appsv1.DeploymentCondition{c}
			s.Replicas, s.UpdatedReplicas = replicas, updated
		}
	}
	availableBefore := &metav1.Condition{Type: shopv1alpha1.ConditionAvailable, Status: metav1.ConditionTrue,
		Reason: shopv1alpha1.ReasonDeploymentAvailable, Message: "The shop serves " + imageV1}
	cases := map[string]struct {
		d               *appsv1.Deployment
		migratedTo      string
		servedBefore    string
		prev            *metav1.Condition
		templateWritten bool
		want            bool
		reason          string
	}{
		"no Deployment before the first migration": {d: nil, want: false, reason: shopv1alpha1.ReasonWaitingForMigration},
		"every pod serves the image":               {d: live(imageV1, 2, 2, nil), migratedTo: imageV1, servedBefore: imageV1, want: true, reason: shopv1alpha1.ReasonDeploymentAvailable},
		"a scale not observed yet keeps the condition": {d: live(imageV1, 3, 2, nil), migratedTo: imageV1, servedBefore: imageV1,
			prev: availableBefore, want: true, reason: shopv1alpha1.ReasonDeploymentAvailable},
		"a scale up observed, new pods not ready yet": {d: live(imageV1, 3, 3, func(s *appsv1.DeploymentStatus) {
			s.Replicas, s.UpdatedReplicas, s.UnavailableReplicas = 5, 5, 3
		}), migratedTo: imageV1, servedBefore: imageV1, prev: availableBefore, want: true, reason: shopv1alpha1.ReasonDeploymentAvailable},
		"a template written now, not observed yet": {d: live(imageV2, 3, 2, nil), migratedTo: imageV2, servedBefore: imageV1,
			prev: availableBefore, templateWritten: true, want: true, reason: shopv1alpha1.ReasonRollingOut},
		"a template another reconcile wrote, not observed yet": {d: live(imageV2, 3, 2, nil), migratedTo: imageV2, servedBefore: imageV1,
			prev: availableBefore, want: true, reason: shopv1alpha1.ReasonRollingOut},
		"a new ReplicaSet created": {d: live(imageV2, 3, 3, progressed(progressing(corev1.ConditionTrue, "NewReplicaSetCreated"), 2, 0)),
			migratedTo: imageV2, servedBefore: imageV2, want: true, reason: shopv1alpha1.ReasonRollingOut},
		"a new ReplicaSet taking over": {d: live(imageV2, 3, 3, progressed(progressing(corev1.ConditionTrue, "ReplicaSetUpdated"), 3, 1)),
			migratedTo: imageV2, servedBefore: imageV2, want: true, reason: shopv1alpha1.ReasonRollingOut},
		"the first rollout, no pod available yet": {d: live(imageV1, 1, 1, func(s *appsv1.DeploymentStatus) {
			s.Replicas, s.UpdatedReplicas, s.ReadyReplicas, s.AvailableReplicas = 2, 2, 0, 0
			s.Conditions = []appsv1.DeploymentCondition{progressing(corev1.ConditionTrue, "ReplicaSetUpdated")}
		}), migratedTo: imageV1, servedBefore: imageV1, want: false, reason: shopv1alpha1.ReasonRollingOut},
		"a rollout a scale interrupted, every pod updated and available": {d: live(imageV2, 4, 4, withProgressing(progressing(corev1.ConditionTrue, "ReplicaSetUpdated"))),
			migratedTo: imageV2, servedBefore: imageV2, want: true, reason: shopv1alpha1.ReasonDeploymentAvailable},
		"old pods still running": {d: live(imageV2, 3, 3, func(s *appsv1.DeploymentStatus) { s.Replicas = 3 }),
			migratedTo: imageV2, servedBefore: imageV2, want: true, reason: shopv1alpha1.ReasonRollingOut},
		"past its progress deadline, the old pods serve": {d: live(imageV2, 3, 3, progressed(progressing(corev1.ConditionFalse, "ProgressDeadlineExceeded"), 3, 1)),
			migratedTo: imageV2, servedBefore: imageV2, want: true, reason: shopv1alpha1.ReasonRolloutStuck},
		"serving the old image while the new one migrates or after its migration failed": {d: live(imageV0, 2, 2, nil), migratedTo: imageV0,
			servedBefore: imageV0, want: true, reason: shopv1alpha1.ReasonDeploymentAvailable},
		"fewer available pods than min, no rollout": {d: live(imageV1, 2, 2, func(s *appsv1.DeploymentStatus) { s.AvailableReplicas = 1 }),
			migratedTo: imageV1, servedBefore: imageV1, want: false, reason: shopv1alpha1.ReasonPodsUnavailable},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			sf := storefrontNamed("acme")
			sf.Spec.Image = imageV1
			if tc.migratedTo == imageV2 {
				sf.Spec.Image = imageV2
			}
			sf.Spec.Replicas.Min = 2
			sf.Status.MigratedImage = tc.migratedTo
			sf.Status.ServedImage = tc.servedBefore
			ok, reason, msg := deploymentAvailability(sf, tc.d, tc.prev, tc.templateWritten)
			if ok != tc.want || reason != tc.reason {
				t.Errorf("got %v/%s (%s), want %v/%s", ok, reason, msg, tc.want, tc.reason)
			}
		})
	}
}

// A settled Deployment's message names no pod counts: a scale must not change it.
func TestAvailableMessageIgnoresScale(t *testing.T) {
	sf := storefrontNamed("acme")
	sf.Spec.Image, sf.Spec.Replicas.Min = imageV1, 2
	d := func(n int32) *appsv1.Deployment {
		return &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "acme-shop", Generation: 4},
			Spec: appsv1.DeploymentSpec{Replicas: ptr.To(n), Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				Containers: []corev1.Container{{Name: shopContainerName, Image: imageV1}}}}},
			Status: appsv1.DeploymentStatus{ObservedGeneration: 4, Replicas: n, UpdatedReplicas: n, ReadyReplicas: n, AvailableReplicas: n}}
	}
	_, _, two := deploymentAvailability(sf, d(2), nil, false)
	_, _, nine := deploymentAvailability(sf, d(9), nil, false)
	if two != nine || two != "The shop serves "+imageV1 {
		t.Errorf("messages %q and %q, want both %q", two, nine, "The shop serves "+imageV1)
	}
}

const imageV0 = "registry.example.com/storefront/shop:0.9.0"

func TestDesiredDeploymentRequireTOTP(t *testing.T) {
	for name, tc := range map[string]struct {
		require bool
		want    string
	}{
		"spec.admin.requireTOTP sets ADMIN_REQUIRE_TOTP=true": {true, "true"},
		"without it the variable is absent":                   {false, ""},
	} {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			sf := storefrontNamed("acme")
			sf.Spec.Admin.RequireTOTP = tc.require
			d := desiredDeployment(sf, testScheme, "shop:1", "sum", &storeEndpoint{Host: "db", Port: 5432}, nil)
			g.Expect(envValue(d.Spec.Template.Spec.Containers[0].Env, envAdminRequireTOTP)).To(Equal(tc.want))
		})
	}
}

// countingReader counts the reads it passes on.
type countingReader struct {
	client.Reader
	gets int
}

func (c *countingReader) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	c.gets++
	return c.Reader.Get(ctx, key, obj, opts...)
}

// The readiness gate label is read once per namespace and remembered for
// namespaceGateTTL (the API server is real: envtest), not once per Storefront.
func TestNamespaceGateIsReadOncePerNamespace(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	ns := newNamespace(t)
	reader := &countingReader{Reader: k8sClient}
	clock := testingclock.NewFakeClock(time.Now())
	r := &StorefrontReconciler{APIReader: reader, namespaceGates: utilcache.NewLRUExpireCacheWithClock(16, clock)}

	g.Expect(r.namespaceGated(ctx, ns)).To(BeFalse())
	g.Expect(r.namespaceGated(ctx, ns)).To(BeFalse())
	g.Expect(reader.gets).To(Equal(1))

	namespace := &corev1.Namespace{}
	g.Expect(k8sClient.Get(ctx, client.ObjectKey{Name: ns}, namespace)).To(Succeed())
	namespace.Labels = map[string]string{albReadinessGateLabel: "enabled"}
	g.Expect(k8sClient.Update(ctx, namespace)).To(Succeed())
	clock.Step(namespaceGateTTL - time.Second)
	g.Expect(r.namespaceGated(ctx, ns)).To(BeFalse(), "remembered for namespaceGateTTL")
	clock.Step(2 * time.Second)
	g.Expect(r.namespaceGated(ctx, ns)).To(BeTrue(), "read again after namespaceGateTTL")
	g.Expect(reader.gets).To(Equal(2))

	// A namespace that cannot be read gives no Warning on a guess, and is not remembered.
	g.Expect(r.namespaceGated(ctx, "no-such-namespace")).To(BeTrue())
	g.Expect(r.namespaceGated(ctx, "no-such-namespace")).To(BeTrue())
	g.Expect(reader.gets).To(Equal(4))
}
