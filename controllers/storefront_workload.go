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
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	shopv1alpha1 "github.com/storefront-operator/storefront/api/v1alpha1"
)

// +kubebuilder:rbac:groups="",resources=serviceaccounts;services,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups=apps,resources=deployments,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups=autoscaling,resources=horizontalpodautoscalers,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups=policy,resources=poddisruptionbudgets,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups=networking.k8s.io,resources=ingresses,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get

// The shop's process contract (docs/architecture.md#the-shops-process-contract).
const (
	shopBinary        = "/shop"
	shopContainerName = "shop"
	componentShop     = "shop"

	httpPortName    = "http"
	httpPort        = 8080
	metricsPortName = "metrics"
	metricsPort     = 9090
	servicePort     = 80

	envDatabaseURL = "DATABASE_URL"
	envRedisURL    = "REDIS_URL"
	envJWTSecret   = "JWT_SECRET"
	// envTOTPKey and envTOTPKeyPrevious seal the admins' TOTP secrets (keyTOTPKey,
	// keyTOTPKeyPrevious; the previous key only while a rotation is under way).
	envTOTPKey         = "TOTP_KEY"
	envTOTPKeyPrevious = "TOTP_KEY_PREVIOUS"
	envAdminEmail      = "ADMIN_EMAIL"
	envAdminPassword   = "ADMIN_PASSWORD"
	envCurrency        = "SHOP_CURRENCY"
	envHTTPAddr        = "HTTP_ADDR"
	envMetricsAddr     = "METRICS_ADDR"
	envShutdownDelay   = "SHUTDOWN_DELAY"
	// envPaymentProvider is spec.payments.provider in the shop's spelling.
	envPaymentProvider = "PAYMENT_PROVIDER"
	// envAdminRequireTOTP is spec.admin.requireTOTP (set only when true).
	envAdminRequireTOTP = "ADMIN_REQUIRE_TOTP"

	// shutdownDelaySeconds is how long a terminating shop keeps serving while /readyz
	// fails, so that load balancers stop sending to it; then it drains.
	shutdownDelaySeconds = 10
	// terminationGraceSeconds leaves the drain 20 seconds after the delay.
	terminationGraceSeconds = shutdownDelaySeconds + 20
	// progressDeadlineSeconds after which a rollout that makes no progress is stuck.
	progressDeadlineSeconds = 600
	// nonRootUID is the distroless "nonroot" user; set explicitly so that runAsNonRoot
	// holds whatever the image's USER says.
	nonRootUID = 65532
	// albIngressClass is the AWS Load Balancer Controller's.
	albIngressClass = "alb"
)

// Annotations of the AWS Load Balancer Controller, as its v2.13 documentation
// (docs/guide/ingress/annotations.md) and source (pkg/annotations/constants.go) name them;
// why each is set: docs/architecture.md#ingress-on-an-alb.
const (
	// albTargetTypeAnnotation "ip" registers pod IPs: the NetworkPolicies then see the
	// load balancer's addresses in the public subnets (--ingress-cidrs) rather than node
	// ports, and pod readiness gates work. The controller's default is instance.
	albTargetTypeAnnotation = "alb.ingress.kubernetes.io/target-type"
	// albSchemeAnnotation "internet-facing": the controller's default (its
	// --default-load-balancer-scheme flag, pkg/config/controller_config.go) is internal,
	// an ALB reachable from nowhere outside the VPC.
	albSchemeAnnotation = "alb.ingress.kubernetes.io/scheme"
	// albHealthCheckPathAnnotation "/readyz": the default is "/" (pkg/ingress/model_builder.go,
	// defaultHealthCheckPathHTTP), a catalog page and a database query every 15 seconds
	// that keeps answering while a pod shuts down.
	albHealthCheckPathAnnotation = "alb.ingress.kubernetes.io/healthcheck-path"
	// albTargetGroupAttributesAnnotation carries the deregistration delay (AWS's default
	// is 300 seconds).
	albTargetGroupAttributesAnnotation = "alb.ingress.kubernetes.io/target-group-attributes"
	// albCertificateARNAnnotation names the ACM certificate of the HTTPS listener.
	albCertificateARNAnnotation = "alb.ingress.kubernetes.io/certificate-arn"
	// albListenPortsAnnotation defaults to HTTP 80 alone, or HTTPS 443 alone when a
	// certificate is given (pkg/ingress/model_build_listener.go, computeIngressListenPorts).
	albListenPortsAnnotation = "alb.ingress.kubernetes.io/listen-ports"
	// albSSLRedirectAnnotation redirects HTTP to the HTTPS port it names.
	albSSLRedirectAnnotation = "alb.ingress.kubernetes.io/ssl-redirect"
	// albReadinessGateLabel on a namespace makes the controller's webhook inject a pod
	// readiness gate per target group (docs/deploy/pod_readiness_gate.md): a rolling
	// update then waits until the ALB sees the new pods healthy. The operator does not
	// own namespaces, so it only warns when the label is missing.
	albReadinessGateLabel = "elbv2.k8s.aws/pod-readiness-gate-inject"
)

// albDeregistrationDelaySeconds lets the ALB finish in-flight requests to a deregistered
// pod for as long as the pod may live after SIGTERM: it keeps serving for SHUTDOWN_DELAY
// while the ALB stops sending, then drains until terminationGracePeriodSeconds. AWS's
// 300 seconds would keep a deleted pod's target draining long after the pod is gone.
const albDeregistrationDelaySeconds = terminationGraceSeconds

// reconcileWorkload applies the shop's ServiceAccount, Service and Ingress, and, once an
// image has been migrated, its Deployment, HPA and PodDisruptionBudget. It sets
// Available from the live Deployment.
func (r *StorefrontReconciler) reconcileWorkload(ctx context.Context, s *scope) (ctrl.Result, error) {
	sf := s.sf
	if !s.storesReady() || s.configChecksum == "" {
		// Keep what runs: without a valid connection the pods cannot be rolled.
		return ctrl.Result{}, r.observeDeployment(ctx, s)
	}
	for _, obj := range []client.Object{r.shopServiceAccount(sf), desiredService(sf, r.Scheme)} {
		if _, err := r.applyObject(ctx, obj); err != nil {
			return ctrl.Result{}, err
		}
	}
	ownsHost, err := r.claimHost(ctx, s)
	if err != nil {
		return ctrl.Result{}, err
	}
	if sf.Spec.Ingress != nil && ownsHost {
		ing := desiredIngress(sf, r.Scheme)
		hibernateIngress(sf, ing)
		withOriginVerify(ing, s.media)
		changed, err := r.applyObject(ctx, ing)
		if err != nil {
			return ctrl.Result{}, err
		}
		s.ingress = ing
		if changed {
			r.checkReadinessGateLabel(ctx, sf, ing)
		}
	} else if err := r.deleteOwned(ctx, sf, &networkingv1.Ingress{}, objectName(sf, roleShop)); err != nil {
		return ctrl.Result{}, err
	}

	image := sf.Status.MigratedImage
	if image == "" {
		// Nothing has been migrated yet, so there is nothing the shop could serve.
		return ctrl.Result{}, r.observeDeployment(ctx, s)
	}
	d := desiredDeployment(sf, r.Scheme, image, s.configChecksum, s.database, s.cache)
	withOTLPEnv(&d.Spec.Template.Spec, sf, r.Options.OTLP)
	withClientEnv(&d.Spec.Template.Spec, sf, r.Options)
	withImageEnv(&d.Spec.Template.Spec, s.media)
	written, err := r.applyObject(ctx, d)
	if err != nil {
		return ctrl.Result{}, err
	}
	if written {
		r.warnProxyNotTrusted(ctx, sf)
	}
	s.deployment = d
	if done, err := r.hibernateWorkload(ctx, s); done || err != nil {
		return ctrl.Result{}, err
	}
	if _, err := r.applyObject(ctx, desiredHPA(sf, r.Scheme)); err != nil {
		return ctrl.Result{}, err
	}
	if pdb := desiredPDB(sf, r.Scheme); pdb != nil {
		if _, err := r.applyObject(ctx, pdb); err != nil {
			return ctrl.Result{}, err
		}
	} else if err := r.deleteOwned(ctx, sf, &policyv1.PodDisruptionBudget{}, objectName(sf, roleShop)); err != nil {
		return ctrl.Result{}, err
	}
	setAvailable(s, written)
	wakingAvailable(s)
	return ctrl.Result{}, nil
}

// observeDeployment sets Available from the cached Deployment when the workload phase
// does not apply it.
func (r *StorefrontReconciler) observeDeployment(ctx context.Context, s *scope) error {
	d := &appsv1.Deployment{}
	err := r.Get(ctx, client.ObjectKey{Namespace: s.sf.Namespace, Name: objectName(s.sf, roleShop)}, d)
	switch {
	case err == nil:
		s.deployment = d
	case !apierrors.IsNotFound(err):
		return fmt.Errorf("reading deployment: %w", err)
	}
	if hibernating(s.sf) && s.deployment != nil && ptr.Deref(s.deployment.Spec.Replicas, 1) == 0 {
		// Asleep while the stores are not ready (a restore switching the database):
		// no pod is wanted, which is not PodsUnavailable.
		asleepAvailable(s, s.deployment)
		return nil
	}
	setAvailable(s, false)
	return nil
}

// setAvailable sets the Available condition from s.deployment; templateWritten says
// that this reconcile has just written a new pod template.
func setAvailable(s *scope, templateWritten bool) {
	prev := meta.FindStatusCondition(s.sf.Status.Conditions, shopv1alpha1.ConditionAvailable)
	ok, reason, msg := deploymentAvailability(s.sf, s.deployment, prev, templateWritten)
	s.setCondition(shopv1alpha1.ConditionAvailable, ok, reason, msg)
}

// rolloutState is what the Deployment controller says of the Deployment's pod template.
type rolloutState int

const (
	// rolloutSettled: the newest ReplicaSet has all the pods. A scale leaves it so: the
	// controller scales without touching Progressing (a scaling event goes through
	// sync, not rolloutRolling, in pkg/controller/deployment), and a complete rollout
	// keeps NewReplicaSetAvailable (syncRolloutStatus skips a complete Deployment).
	rolloutSettled rolloutState = iota
	// rolloutProgressing: a new template's ReplicaSet is taking over.
	rolloutProgressing
	// rolloutStuck: Progressing=False/ProgressDeadlineExceeded.
	rolloutStuck
	// rolloutUnobserved: the controller has not observed the current generation, which
	// may be a new template or only a new spec.replicas (a scale bumps the generation
	// too): the status says nothing about which.
	rolloutUnobserved
)

// Progressing reasons of the Deployment controller (pkg/controller/deployment/util:
// NewRSNewReplicasReason, FoundNewRSReason, ReplicaSetUpdatedReason,
// TimedOutReason): each of the first three names a ReplicaSet of a new template.
var rolloutReasons = map[string]bool{"NewReplicaSetCreated": true, "FoundNewReplicaSet": true, "ReplicaSetUpdated": true}

const progressDeadlineExceeded = "ProgressDeadlineExceeded"

// deploymentRollout reads the rollout state of d, with the Progressing message when
// the rollout is stuck.
func deploymentRollout(d *appsv1.Deployment) (rolloutState, string) {
	if d.Status.ObservedGeneration < d.Generation {
		return rolloutUnobserved, ""
	}
	if n := ptr.Deref(d.Spec.Replicas, 1); d.Status.UpdatedReplicas == n && d.Status.Replicas == n && d.Status.AvailableReplicas == n {
		// Every pod runs the current template and is available (deploymentutil's
		// DeploymentComplete): settled, whatever Progressing still says. A scale during
		// a rollout goes through the controller's sync, which leaves Progressing at
		// ReplicaSetUpdated until the next rolling sync sets NewReplicaSetAvailable.
		return rolloutSettled, ""
	}
	for _, c := range d.Status.Conditions {
		if c.Type != appsv1.DeploymentProgressing {
			continue
		}
		if c.Status == corev1.ConditionFalse && c.Reason == progressDeadlineExceeded {
			return rolloutStuck, c.Message
		}
		if c.Status == corev1.ConditionTrue && rolloutReasons[c.Reason] {
			return rolloutProgressing, c.Message
		}
	}
	if d.Status.Replicas > d.Status.UpdatedReplicas {
		// Pods of an older template still run.
		return rolloutProgressing, ""
	}
	return rolloutSettled, ""
}

// podsRolledOut reports whether every pod of d runs d's current template: the
// Deployment controller observed it, no pod of an older template remains, and at least
// spec.replicas.min pods are available.
func podsRolledOut(sf *shopv1alpha1.Storefront, d *appsv1.Deployment) bool {
	state, _ := deploymentRollout(d)
	return state == rolloutSettled && d.Status.AvailableReplicas >= max(sf.Spec.Replicas.Min, 1)
}

// deploymentAvailability says whether the shop serves, that is whether d has at least
// spec.replicas.min available pods (whatever image d runs: an older one serves while
// spec.image migrates or after its migration failed), and with which reason: a rollout
// of a new template in progress or stuck, or settled. prev is the Available condition
// so far; templateWritten says this reconcile wrote d's template. Messages carry no pod
// counts while settled, so that a scale changes nothing in the status.
func deploymentAvailability(sf *shopv1alpha1.Storefront, d *appsv1.Deployment, prev *metav1.Condition, templateWritten bool) (bool, string, string) {
	if d == nil {
		if sf.Status.MigratedImage == "" {
			return false, shopv1alpha1.ReasonWaitingForMigration, "The Deployment is created once an image has been migrated"
		}
		return false, shopv1alpha1.ReasonRollingOut, "The Deployment does not exist yet"
	}
	name := d.Name
	served := containerImage(d.Spec.Template.Spec.Containers, shopContainerName)
	need := max(sf.Spec.Replicas.Min, 1)
	serves := d.Status.AvailableReplicas >= need
	state, msg := deploymentRollout(d)
	if state == rolloutUnobserved {
		// A new template (written now, or whose image the last status did not show
		// yet) is a rollout; otherwise it is a scale, and Available stays as it was.
		if !templateWritten && served == sf.Status.ServedImage && prev != nil && prev.Reason != "" {
			return prev.Status == metav1.ConditionTrue, prev.Reason, prev.Message
		}
		return serves, shopv1alpha1.ReasonRollingOut,
			fmt.Sprintf("Deployment %s: waiting for the Deployment controller to roll out generation %d (%s)", name, d.Generation, served)
	}
	switch state {
	case rolloutStuck:
		return serves, shopv1alpha1.ReasonRolloutStuck, fmt.Sprintf("Deployment %s: %s", name, msg)
	case rolloutProgressing:
		return serves, shopv1alpha1.ReasonRollingOut,
			fmt.Sprintf("Deployment %s: rolling out %s: %d of %d pods updated", name, served, d.Status.UpdatedReplicas, ptr.Deref(d.Spec.Replicas, 1))
	}
	if !serves {
		return false, shopv1alpha1.ReasonPodsUnavailable,
			fmt.Sprintf("Deployment %s: fewer than %d pods of %s are available", name, need, served)
	}
	if served != sf.Spec.Image {
		return true, shopv1alpha1.ReasonDeploymentAvailable,
			fmt.Sprintf("The shop serves %s; %s waits for its migrations", served, sf.Spec.Image)
	}
	return true, shopv1alpha1.ReasonDeploymentAvailable, "The shop serves " + served
}

// desiredServiceAccount is the shop's identity: no API token mounted, the shop never
// talks to Kubernetes.
func desiredServiceAccount(sf *shopv1alpha1.Storefront, scheme *runtime.Scheme) *corev1.ServiceAccount {
	sa := &corev1.ServiceAccount{
		TypeMeta:                     metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"},
		ObjectMeta:                   objectMeta(sf, objectName(sf, roleShop), componentShop),
		AutomountServiceAccountToken: ptr.To(false),
	}
	own(sf, sa)
	return sa
}

// desiredService exposes the shop's HTTP port on 80 and its metrics port.
func desiredService(sf *shopv1alpha1.Storefront, scheme *runtime.Scheme) *corev1.Service {
	svc := &corev1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: objectMeta(sf, objectName(sf, roleShop), componentShop),
		Spec: corev1.ServiceSpec{
			Type:     corev1.ServiceTypeClusterIP,
			Selector: selectorLabels(sf, componentShop),
			Ports: []corev1.ServicePort{
				{Name: httpPortName, Port: servicePort, TargetPort: intstr.FromString(httpPortName), Protocol: corev1.ProtocolTCP},
				{Name: metricsPortName, Port: metricsPort, TargetPort: intstr.FromString(metricsPortName), Protocol: corev1.ProtocolTCP},
			},
		},
	}
	own(sf, svc)
	return svc
}

// desiredIngress routes spec.ingress.host (any host when empty) to the Service.
func desiredIngress(sf *shopv1alpha1.Storefront, scheme *runtime.Scheme) *networkingv1.Ingress {
	spec := sf.Spec.Ingress
	meta := objectMeta(sf, objectName(sf, roleShop), componentShop)
	if a := ingressAnnotations(spec); len(a) > 0 {
		meta.Annotations = a
	}
	ing := &networkingv1.Ingress{
		TypeMeta:   metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "Ingress"},
		ObjectMeta: meta,
		Spec: networkingv1.IngressSpec{
			Rules: []networkingv1.IngressRule{{
				Host: spec.Host,
				IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{
					Paths: []networkingv1.HTTPIngressPath{{
						Path:     "/",
						PathType: ptr.To(networkingv1.PathTypePrefix),
						Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{
							Name: objectName(sf, roleShop),
							Port: networkingv1.ServiceBackendPort{Name: httpPortName},
						}},
					}},
				}},
			}},
		},
	}
	if spec.ClassName != "" {
		ing.Spec.IngressClassName = ptr.To(spec.ClassName)
	}
	// An ALB takes its certificate from ACM, never from a Secret (the API refuses
	// tlsSecretName with class alb).
	if spec.TLSSecretName != "" && spec.ClassName != albIngressClass {
		ing.Spec.TLS = []networkingv1.IngressTLS{{Hosts: []string{spec.Host}, SecretName: spec.TLSSecretName}}
	}
	own(sf, ing)
	return ing
}

// ingressAnnotations are spec.ingress.annotations, plus, for class alb, what makes the
// ALB serve the shop from the internet (see the alb*Annotation constants) wherever the
// user's annotations do not say otherwise.
func ingressAnnotations(spec *shopv1alpha1.IngressSpec) map[string]string {
	out := map[string]string{}
	if spec.ClassName == albIngressClass {
		out[albTargetTypeAnnotation] = "ip"
		out[albSchemeAnnotation] = "internet-facing"
		out[albHealthCheckPathAnnotation] = "/readyz"
		out[albTargetGroupAttributesAnnotation] = fmt.Sprintf("deregistration_delay.timeout_seconds=%d", albDeregistrationDelaySeconds)
		if spec.CertificateARN != "" {
			out[albCertificateARNAnnotation] = spec.CertificateARN
		}
		if spec.CertificateARN != "" || spec.Annotations[albCertificateARNAnnotation] != "" {
			out[albListenPortsAnnotation] = `[{"HTTP":80},{"HTTPS":443}]`
			out[albSSLRedirectAnnotation] = "443"
		}
	}
	for k, v := range spec.Annotations {
		out[k] = v
	}
	return out
}

// ingressServesTLS reports whether the Ingress really terminates TLS: with class alb, an
// HTTPS listener (a certificate from certificateARN or the annotation, or one the user's
// listen-ports ask for, which the controller then discovers in ACM by host); with other
// classes, a TLS Secret.
func ingressServesTLS(spec *shopv1alpha1.IngressSpec) bool {
	if spec.ClassName == albIngressClass {
		return strings.Contains(ingressAnnotations(spec)[albListenPortsAnnotation], `"HTTPS"`)
	}
	return spec.TLSSecretName != ""
}

// checkReadinessGateLabel warns, with an Event, when an ALB with pod targets serves a
// namespace without the label that injects pod readiness gates: without them a rolling
// update may stop old pods before the ALB sends traffic to the new ones. It runs when the
// Ingress was written, so a shop at rest reads nothing more; and it reads each namespace
// once per namespaceGateTTL, not once per Storefront (the operator does not watch
// namespaces: that would take cluster-wide rights).
func (r *StorefrontReconciler) checkReadinessGateLabel(ctx context.Context, sf *shopv1alpha1.Storefront, ing *networkingv1.Ingress) {
	if ptr.Deref(ing.Spec.IngressClassName, "") != albIngressClass || ing.Annotations[albTargetTypeAnnotation] != "ip" || r.Recorder == nil {
		return
	}
	if r.namespaceGated(ctx, sf.Namespace) {
		return
	}
	r.Recorder.Eventf(sf, ing, corev1.EventTypeWarning, eventReasonReadinessGateNotInjected, "Reconcile",
		"Namespace %s lacks the label %s=enabled: the AWS Load Balancer Controller injects no pod readiness gates, so a rollout may stop old pods before the ALB sends traffic to new ones (kubectl label namespace %s %s=enabled)",
		sf.Namespace, albReadinessGateLabel, sf.Namespace, albReadinessGateLabel)
}

// namespaceGateTTL is how long a namespace's readiness gate label is remembered: a
// label added or removed meanwhile is seen by the next Ingress written after it.
const namespaceGateTTL = time.Minute

// namespaceGated reports whether namespace has the ALB's pod readiness gate label. A
// namespace that cannot be read is reported gated (logged): no Warning on a guess.
func (r *StorefrontReconciler) namespaceGated(ctx context.Context, namespace string) bool {
	if r.namespaceGates != nil {
		if gated, ok := r.namespaceGates.Get(namespace); ok {
			return gated.(bool)
		}
	}
	ns := &corev1.Namespace{}
	if err := r.APIReader.Get(ctx, client.ObjectKey{Name: namespace}, ns); err != nil {
		log.FromContext(ctx).Error(err, "Reading the namespace for its pod readiness gate label", "namespace", namespace)
		return true
	}
	gated := ns.Labels[albReadinessGateLabel] == "enabled"
	if r.namespaceGates != nil {
		r.namespaceGates.Add(namespace, gated, namespaceGateTTL)
	}
	return gated
}

// paymentProvider is PAYMENT_PROVIDER for spec.payments.provider: "mock" for Mock, the
// one provider and the default (an object stored before the field existed has none).
func paymentProvider(sf *shopv1alpha1.Storefront) string {
	switch sf.Spec.Payments.Provider {
	case shopv1alpha1.PaymentProviderMock, "":
		return "mock"
	}
	return strings.ToLower(string(sf.Spec.Payments.Provider))
}

// eventReasonReadinessGateNotInjected is the reason of checkReadinessGateLabel's Event.
const eventReasonReadinessGateNotInjected = "PodReadinessGateNotInjected"

// desiredDeployment runs `/shop serve` with image. spec.replicas is left out: the HPA
// owns it, and an apply that set it would fight the autoscaler.
func desiredDeployment(sf *shopv1alpha1.Storefront, scheme *runtime.Scheme, image, checksum string, db, cache *storeEndpoint) *appsv1.Deployment {
	env := append(shopEnv(sf),
		secretEnv(envJWTSecret, objectName(sf, roleApp), keyJWTSecret, false),
		secretEnv(envTOTPKey, objectName(sf, roleApp), keyTOTPKey, false),
		secretEnv(envTOTPKeyPrevious, objectName(sf, roleApp), keyTOTPKeyPrevious, true),
		corev1.EnvVar{Name: envHTTPAddr, Value: fmt.Sprintf(":%d", httpPort)},
		corev1.EnvVar{Name: envMetricsAddr, Value: fmt.Sprintf(":%d", metricsPort)},
		corev1.EnvVar{Name: envShutdownDelay, Value: fmt.Sprintf("%ds", shutdownDelaySeconds)},
		corev1.EnvVar{Name: envPaymentProvider, Value: paymentProvider(sf)},
	)
	if sf.Spec.Admin.RequireTOTP {
		env = append(env, corev1.EnvVar{Name: envAdminRequireTOTP, Value: "true"})
	}
	container := corev1.Container{
		Name:    shopContainerName,
		Image:   image,
		Command: []string{shopBinary},
		Args:    []string{"serve"},
		Ports: []corev1.ContainerPort{
			{Name: httpPortName, ContainerPort: httpPort, Protocol: corev1.ProtocolTCP},
			{Name: metricsPortName, ContainerPort: metricsPort, Protocol: corev1.ProtocolTCP},
		},
		Env:       env,
		Resources: shopResources(sf),
		ReadinessProbe: &corev1.Probe{
			ProbeHandler:     corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/readyz", Port: intstr.FromString(httpPortName)}},
			PeriodSeconds:    5,
			TimeoutSeconds:   2,
			SuccessThreshold: 1,
			FailureThreshold: 2,
		},
		LivenessProbe: &corev1.Probe{
			ProbeHandler:        corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromString(httpPortName)}},
			InitialDelaySeconds: 5,
			PeriodSeconds:       10,
			TimeoutSeconds:      2,
			SuccessThreshold:    1,
			FailureThreshold:    3,
		},
		SecurityContext:          containerSecurityContext(),
		VolumeMounts:             shopVolumeMounts(db),
		TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
	}
	podLabels := labels(sf, componentShop)
	spec := shopPodSpec(sf, corev1.RestartPolicyAlways, container, db)
	spec.TerminationGracePeriodSeconds = ptr.To[int64](terminationGraceSeconds)
	spec.TopologySpreadConstraints = []corev1.TopologySpreadConstraint{
		{MaxSkew: 1, TopologyKey: corev1.LabelTopologyZone, WhenUnsatisfiable: corev1.ScheduleAnyway,
			LabelSelector: &metav1.LabelSelector{MatchLabels: selectorLabels(sf, componentShop)}},
		{MaxSkew: 1, TopologyKey: corev1.LabelHostname, WhenUnsatisfiable: corev1.ScheduleAnyway,
			LabelSelector: &metav1.LabelSelector{MatchLabels: selectorLabels(sf, componentShop)}},
	}
	d := &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: objectMeta(sf, objectName(sf, roleShop), componentShop),
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: selectorLabels(sf, componentShop)},
			// New pods are ready before old ones stop: a rollout drops no capacity.
			Strategy: appsv1.DeploymentStrategy{
				Type: appsv1.RollingUpdateDeploymentStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDeployment{
					MaxUnavailable: ptr.To(intstr.FromInt32(0)),
					MaxSurge:       ptr.To(intstr.FromString("25%")),
				},
			},
			RevisionHistoryLimit:    ptr.To[int32](5),
			ProgressDeadlineSeconds: ptr.To[int32](progressDeadlineSeconds),
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{
					Labels:      podLabels,
					Annotations: map[string]string{annotationConfigChecksum: checksum},
				},
				Spec: spec,
			},
		},
	}
	own(sf, d)
	return d
}

// desiredHPA scales the Deployment between spec.replicas.min and max on CPU.
func desiredHPA(sf *shopv1alpha1.Storefront, scheme *runtime.Scheme) *autoscalingv2.HorizontalPodAutoscaler {
	target := sf.Spec.Replicas.TargetCPUUtilizationPercentage
	if target == 0 {
		target = 70 // the API's default, for objects built without the API server
	}
	hpa := &autoscalingv2.HorizontalPodAutoscaler{
		TypeMeta:   metav1.TypeMeta{APIVersion: "autoscaling/v2", Kind: "HorizontalPodAutoscaler"},
		ObjectMeta: objectMeta(sf, objectName(sf, roleShop), componentShop),
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: objectName(sf, roleShop)},
			MinReplicas:    ptr.To(max(sf.Spec.Replicas.Min, 1)),
			MaxReplicas:    max(sf.Spec.Replicas.Max, sf.Spec.Replicas.Min, 1),
			Metrics: []autoscalingv2.MetricSpec{{
				Type: autoscalingv2.ResourceMetricSourceType,
				Resource: &autoscalingv2.ResourceMetricSource{
					Name: corev1.ResourceCPU,
					Target: autoscalingv2.MetricTarget{
						Type:               autoscalingv2.UtilizationMetricType,
						AverageUtilization: ptr.To(target),
					},
				},
			}},
		},
	}
	own(sf, hpa)
	return hpa
}

// desiredPDB keeps one pod through voluntary disruptions when there are two or more;
// with one, a PDB would block node drains forever, so there is none (nil).
func desiredPDB(sf *shopv1alpha1.Storefront, scheme *runtime.Scheme) *policyv1.PodDisruptionBudget {
	if sf.Spec.Replicas.Min < 2 {
		return nil
	}
	pdb := &policyv1.PodDisruptionBudget{
		TypeMeta:   metav1.TypeMeta{APIVersion: "policy/v1", Kind: "PodDisruptionBudget"},
		ObjectMeta: objectMeta(sf, objectName(sf, roleShop), componentShop),
		Spec: policyv1.PodDisruptionBudgetSpec{
			MinAvailable: ptr.To(intstr.FromInt32(1)),
			Selector:     &metav1.LabelSelector{MatchLabels: selectorLabels(sf, componentShop)},
		},
	}
	own(sf, pdb)
	return pdb
}

// shopEnv is the environment both the server and the migration need. REDIS_URL is
// always there and optional: the connection Secret has the key only while a cache is
// configured, so adding or removing a cache changes the Secret (whose checksum rolls the
// pods) and never the template, and a pod started just after the key went starts
// without a cache instead of failing with CreateContainerConfigError.
func shopEnv(sf *shopv1alpha1.Storefront) []corev1.EnvVar {
	env := []corev1.EnvVar{
		secretEnv(envDatabaseURL, objectName(sf, roleConnection), keyDatabaseURL, false),
		secretEnv(envRedisURL, objectName(sf, roleConnection), keyRedisURL, true),
	}
	currency := string(sf.Spec.Currency)
	if currency == "" {
		currency = "EUR"
	}
	return append(env, corev1.EnvVar{Name: envCurrency, Value: currency})
}

func secretEnv(name, secret, key string, optional bool) corev1.EnvVar {
	ref := &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: secret}, Key: key}
	if optional {
		ref.Optional = ptr.To(true)
	}
	return corev1.EnvVar{Name: name, ValueFrom: &corev1.EnvVarSource{SecretKeyRef: ref}}
}

// shopResources is spec.resources, or requests of 100m CPU / 128Mi and a 512Mi memory
// limit when it is empty (the HPA's utilisation target needs a CPU request).
func shopResources(sf *shopv1alpha1.Storefront) corev1.ResourceRequirements {
	res := sf.Spec.Resources
	if len(res.Requests) > 0 || len(res.Limits) > 0 || len(res.Claims) > 0 {
		return *res.DeepCopy()
	}
	return corev1.ResourceRequirements{
		Requests: corev1.ResourceList{
			corev1.ResourceCPU:    resource.MustParse("100m"),
			corev1.ResourceMemory: resource.MustParse("128Mi"),
		},
		Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("512Mi")},
	}
}

// containerSecurityContext is the restricted Pod Security Standard.
func containerSecurityContext() *corev1.SecurityContext {
	return &corev1.SecurityContext{
		RunAsNonRoot:             ptr.To(true),
		AllowPrivilegeEscalation: ptr.To(false),
		ReadOnlyRootFilesystem:   ptr.To(true),
		Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
		SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}
}

// Volumes of the shop's pods: /tmp is writable although the root filesystem is not, and
// the database CA bundle is mounted when the database has one.
const (
	tmpVolume      = "tmp"
	caBundleVolume = "database-ca"
)

func shopVolumeMounts(db *storeEndpoint) []corev1.VolumeMount {
	mounts := []corev1.VolumeMount{{Name: tmpVolume, MountPath: "/tmp"}}
	if db != nil && db.CABundle != nil {
		mounts = append(mounts, corev1.VolumeMount{Name: caBundleVolume, MountPath: caBundleMountPath, ReadOnly: true})
	}
	return mounts
}

// shopPodSpec is what the shop's Deployment and migration Jobs share.
func shopPodSpec(sf *shopv1alpha1.Storefront, restart corev1.RestartPolicy, container corev1.Container, db *storeEndpoint) corev1.PodSpec {
	volumes := []corev1.Volume{{Name: tmpVolume, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
	if db != nil && db.CABundle != nil {
		volumes = append(volumes, corev1.Volume{Name: caBundleVolume, VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
			SecretName: db.CABundle.Name,
			Items:      []corev1.KeyToPath{{Key: db.CABundle.Key, Path: db.CABundle.Key}},
		}}})
	}
	return corev1.PodSpec{
		ServiceAccountName:           objectName(sf, roleShop),
		AutomountServiceAccountToken: ptr.To(false),
		RestartPolicy:                restart,
		SecurityContext: &corev1.PodSecurityContext{
			RunAsNonRoot:   ptr.To(true),
			RunAsUser:      ptr.To[int64](nonRootUID),
			RunAsGroup:     ptr.To[int64](nonRootUID),
			FSGroup:        ptr.To[int64](nonRootUID),
			SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
		},
		Containers: []corev1.Container{container},
		Volumes:    volumes,
	}
}
