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

package localcluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/recorder"
)

// The ALB stand-in plays the AWS Load Balancer Controller (LBC) and the Application
// Load Balancers it creates, no kinder than they are. Sources:
// kubernetes-sigs/aws-load-balancer-controller docs/guide/ingress/annotations.md and
// pkg/ingress (model_builder.go for the health check defaults, model_build_target_group.go,
// model_build_listener_rules.go, model_build_actions.go, enhanced_backend_builder.go),
// pkg/backend/endpoint_resolver.go; and the ELB user guide, "Health checks for
// Application Load Balancer target groups"
// (docs.aws.amazon.com/elasticloadbalancing/latest/application/target-group-health-checks.html).
//
//   - One load balancer per Ingress of class alb (the cluster's default IngressClass),
//     listening on 127.0.0.1 and a port of its own, written into the Ingress's load
//     balancer status.
//   - Listener rules in the LBC's order: the Ingress rules in order, and within a rule
//     exact paths, then prefix paths longest first, then the others in order; the
//     first rule whose host (case-insensitive, "*." wildcards) and path match wins. No
//     match: the Ingress's default backend, else a fixed 404.
//   - A backend whose port name is "use-annotation" takes its action from the
//     alb.ingress.kubernetes.io/actions.<service name> annotation: fixed-response,
//     redirect or forward to services.
//   - A rule whose backend is Service <name> also needs the conditions of the
//     alb.ingress.kubernetes.io/conditions.<name> annotation (pkg/ingress/config_types.go
//     RuleCondition, enhanced_backend_builder.go buildConditions; annotations.md
//     "conditions"): http-header conditions with values only, each a header name and
//     values of which one must match, case-insensitively with * and ? wildcards (the
//     ELB user guide, "HTTP header conditions"); several conditions must all match. A
//     request that fails them falls through to the next rule, in the end the default
//     404: the CDN's origin header keeps requests that bypass it out.
//   - A service backend forwards to a target group: the ready endpoints of the
//     Service's EndpointSlices (written by the real endpointslice controller) on the
//     target port. Registering and deregistering a target take RegistrationDelay after
//     the EndpointSlice changed, as the LBC's reconcile and ELB's registration do.
//   - A registered target is health-checked (alb.ingress.kubernetes.io/healthcheck-path
//     and friends on the Service or the Ingress, the Service's winning; defaults "/",
//     every 15 s, 5 s timeout, 200, 2 healthy / 2 unhealthy): it gets requests once it
//     has passed one check, stops getting them after unhealthy-threshold failures and
//     gets them again after healthy-threshold successes. When no target is healthy
//     but some are unhealthy, all of those get requests (fail open); with none, 503.
//   - A deregistered target gets no new request; requests in flight go on.
//   - Every request goes to one target, once: no retry, whatever the method. A target
//     that refuses the connection or breaks it is a 502; one that cannot be reached
//     within the connection timeout (10 s: a pod whose sandbox is gone) or does not
//     answer within the idle timeout (60 s) a 504.
//
// Not reproduced: TLS listeners, authentication, conditions other than http-header
// (host-header, path-pattern, query-string, http-request-method, source-ip), transforms,
// weighted target groups beyond a single one, IngressGroups (group.name), target-type
// instance (served as ip), the deregistration delay's end (in-flight requests are not
// cut after 300 s), and the race of a reused keep-alive connection that the target
// closes (the stand-in opens a connection per request).

const (
	// albIngressClass is the LBC's IngressClass.
	albIngressClass = "alb"
	// albController is the LBC's controller name for IngressClasses.
	albControllerName = "ingress.k8s.aws/alb"
	// albManager is the field manager of the stand-in's writes.
	albManager = "aws-load-balancer-controller"
	// albAnnotationPrefix prefixes the LBC's annotations.
	albAnnotationPrefix = "alb.ingress.kubernetes.io/"
	// useAnnotation is the magic service port name of an annotation action.
	useAnnotation = "use-annotation"
	// albIdleTimeout is the ALB's default idle timeout.
	albIdleTimeout = 60 * time.Second
	// DefaultTargetRegistrationDelay is how long an endpoint change takes to reach the
	// load balancer by default.
	DefaultTargetRegistrationDelay = 3 * time.Second
)

// albController reconciles Ingresses into load balancers.
type albController struct {
	client   client.Client
	net      *podNetwork
	log      logr.Logger
	recorder recorder.EventRecorder
	delay    time.Duration

	mu  sync.Mutex
	lbs map[types.NamespacedName]*loadBalancer
}

// desiredIngressClass is the LBC's IngressClass, the cluster's default, so that the
// API server gives it to an Ingress that names none (DefaultIngressClass admission).
func desiredIngressClass() *networkingv1.IngressClass {
	return &networkingv1.IngressClass{
		ObjectMeta: metav1.ObjectMeta{
			Name:        albIngressClass,
			Annotations: map[string]string{networkingv1.AnnotationIsDefaultIngressClass: "true"},
		},
		Spec: networkingv1.IngressClassSpec{Controller: albControllerName},
	}
}

func (a *albController) Reconcile(ctx context.Context, req reconcile.Request) (ctrl.Result, error) {
	ing := &networkingv1.Ingress{}
	if err := a.client.Get(ctx, req.NamespacedName, ing); err != nil || !ing.DeletionTimestamp.IsZero() || !isALB(ing) {
		a.close(req.NamespacedName)
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	lb, err := a.ensure(req.NamespacedName)
	if err != nil {
		return ctrl.Result{}, err
	}
	model, err := a.buildModel(ctx, ing, lb)
	if err != nil {
		// The LBC reports the failure and leaves the load balancer as it was.
		a.recorder.Eventf(ing, nil, corev1.EventTypeWarning, "FailedBuildModel", "Reconcile", "Failed build model due to %s", err)
		return ctrl.Result{RequeueAfter: 10 * time.Second}, nil
	}
	lb.apply(model)
	want := networkingv1.IngressStatus{LoadBalancer: networkingv1.IngressLoadBalancerStatus{
		Ingress: []networkingv1.IngressLoadBalancerIngress{{
			IP:    podIP,
			Ports: []networkingv1.IngressPortStatus{{Port: int32(lb.port), Protocol: corev1.ProtocolTCP}},
		}},
	}}
	if equality.Semantic.DeepEqual(ing.Status, want) {
		return ctrl.Result{}, nil
	}
	ing.Status = want
	if err := a.client.Status().Update(ctx, ing, client.FieldOwner(albManager)); err != nil && !apierrors.IsConflict(err) && !apierrors.IsNotFound(err) {
		return ctrl.Result{}, err
	}
	return ctrl.Result{}, nil
}

// isALB says whether the LBC serves ing: class alb, by field or by the old annotation.
func isALB(ing *networkingv1.Ingress) bool {
	if ing.Spec.IngressClassName != nil {
		return *ing.Spec.IngressClassName == albIngressClass
	}
	return ing.Annotations["kubernetes.io/ingress.class"] == albIngressClass
}

// ingressesOf maps a Service or EndpointSlice to the Ingresses of its namespace.
func ingressesOf(c client.Client) func(context.Context, client.Object) []reconcile.Request {
	return func(ctx context.Context, o client.Object) []reconcile.Request {
		list := &networkingv1.IngressList{}
		if err := c.List(ctx, list, client.InNamespace(o.GetNamespace())); err != nil {
			return nil
		}
		reqs := make([]reconcile.Request, 0, len(list.Items))
		for _, ing := range list.Items {
			reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&ing)})
		}
		return reqs
	}
}

// URL is where the Ingress ns/name is served here, or "" when it is not (yet).
func (a *albController) URL(key types.NamespacedName) string {
	a.mu.Lock()
	defer a.mu.Unlock()
	if lb, ok := a.lbs[key]; ok {
		return fmt.Sprintf("http://%s:%d", podIP, lb.port)
	}
	return ""
}

// addressFor is the listener of the load balancer whose rules name host, as DNS would
// resolve the host to its ALB.
func (a *albController) addressFor(host string) string {
	a.mu.Lock()
	lbs := make([]*loadBalancer, 0, len(a.lbs))
	for _, lb := range a.lbs {
		lbs = append(lbs, lb)
	}
	a.mu.Unlock()
	sort.Slice(lbs, func(i, j int) bool { return lbs[i].port < lbs[j].port })
	for _, lb := range lbs {
		if lb.serves(host) {
			return fmt.Sprintf("%s:%d", podIP, lb.port)
		}
	}
	return ""
}

// originResolver is where the CDN stand-in (test/fake, Distribution) finds a custom
// origin by its domain name: the load balancer whose rules name that host, over plain
// HTTP (the local ALB has no TLS listener; CloudFront would use HTTPS).
func (a *albController) originResolver(host string) (string, bool) {
	addr := a.addressFor(host)
	if addr == "" {
		return "", false
	}
	return "http://" + addr, true
}

func (a *albController) ensure(key types.NamespacedName) (*loadBalancer, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if lb, ok := a.lbs[key]; ok {
		return lb, nil
	}
	ln, err := net.Listen("tcp", podIP+":0")
	if err != nil {
		return nil, fmt.Errorf("listening for ingress %s: %w", key, err)
	}
	lb := &loadBalancer{a: a, key: key, port: ln.Addr().(*net.TCPAddr).Port, targetGroups: map[string]*targetGroup{}}
	lb.transport = &http.Transport{
		DisableKeepAlives:     true,
		ResponseHeaderTimeout: albIdleTimeout,
	}
	lb.transport.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		// The ALB's connection timeout to a target.
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		return a.net.DialContext(ctx, network, addr)
	}
	lb.proxy = &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			target, _ := r.In.Context().Value(targetKey{}).(string)
			r.Out.URL.Scheme, r.Out.URL.Host = "http", target
			r.Out.Host = r.In.Host
			// The ALB's headers (X-Forwarded-For appended, -Proto, -Port).
			r.SetXForwarded()
			r.Out.Header.Del("X-Forwarded-Host")
			r.Out.Header.Set("X-Forwarded-Port", strconv.Itoa(lb.port))
		},
		Transport:    lb.transport,
		ErrorHandler: lb.proxyError,
	}
	lb.server = &http.Server{Handler: lb, ReadHeaderTimeout: albIdleTimeout}
	go func() { _ = lb.server.Serve(ln) }()
	a.lbs[key] = lb
	return lb, nil
}

func (a *albController) close(key types.NamespacedName) {
	a.mu.Lock()
	lb, ok := a.lbs[key]
	delete(a.lbs, key)
	a.mu.Unlock()
	if ok {
		lb.close()
	}
}

// CloseAll deletes every load balancer.
func (a *albController) CloseAll() {
	a.mu.Lock()
	keys := make([]types.NamespacedName, 0, len(a.lbs))
	for k := range a.lbs {
		keys = append(keys, k)
	}
	a.mu.Unlock()
	for _, k := range keys {
		a.close(k)
	}
}

// albModel is a load balancer's listener: its rules and default action.
type albModel struct {
	rules         []albRule
	defaultAction albAction
	hosts         []string
	targetGroups  map[string]*targetGroupSpec
}

type albRule struct {
	hosts   []string // lower case; empty: any host
	paths   []string // ALB path patterns: * any characters, ? one
	headers []albHeaderCondition
	action  albAction
}

// albRuleCondition is one element of the conditions annotation, as the LBC parses it
// (pkg/ingress/config_types.go RuleCondition).
type albRuleCondition struct {
	Field            string                  `json:"field"`
	HTTPHeaderConfig *albHTTPHeaderCondition `json:"httpHeaderConfig,omitempty"`
}

type albHTTPHeaderCondition struct {
	HTTPHeaderName string   `json:"httpHeaderName"`
	Values         []string `json:"values"`
}

// albHeaderCondition is an http-header condition: one of values (lower case, ALB
// wildcards) must match the header.
type albHeaderCondition struct {
	name   string
	values []string
}

// conditionsOf parses the alb.ingress.kubernetes.io/conditions.<service> annotation of
// the Ingress: none when absent.
func conditionsOf(ing *networkingv1.Ingress, svcName string) ([]albHeaderCondition, error) {
	key := albAnnotationPrefix + "conditions." + svcName
	raw, ok := ing.Annotations[key]
	if !ok {
		return nil, nil
	}
	var conds []albRuleCondition
	if err := json.Unmarshal([]byte(raw), &conds); err != nil {
		return nil, fmt.Errorf("failed to parse json annotation, %s: %s: %w", key, raw, err)
	}
	var out []albHeaderCondition
	for _, c := range conds {
		if c.Field != "http-header" || c.HTTPHeaderConfig == nil {
			return nil, fmt.Errorf("%s: the local ALB reproduces http-header conditions only, not %q", key, c.Field)
		}
		hc := albHeaderCondition{name: c.HTTPHeaderConfig.HTTPHeaderName}
		for _, v := range c.HTTPHeaderConfig.Values {
			hc.values = append(hc.values, strings.ToLower(v))
		}
		out = append(out, hc)
	}
	return out, nil
}

// headersMatch reports whether every header condition holds for h.
func (r albRule) headersMatch(h http.Header) bool {
	for _, c := range r.headers {
		ok := false
		for _, got := range h.Values(c.name) {
			for _, want := range c.values {
				ok = ok || matchPattern(want, strings.ToLower(got))
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// albAction is what a rule does: forward to a target group, answer, or redirect.
type albAction struct {
	Type                string               `json:"type"`
	FixedResponseConfig *fixedResponseConfig `json:"fixedResponseConfig,omitempty"`
	RedirectConfig      *redirectConfig      `json:"redirectConfig,omitempty"`
	ForwardConfig       *forwardConfig       `json:"forwardConfig,omitempty"`
	// targetGroup is the key of the target group a forward goes to.
	targetGroup string
}

type fixedResponseConfig struct {
	ContentType string `json:"contentType,omitempty"`
	StatusCode  string `json:"statusCode"`
	MessageBody string `json:"messageBody,omitempty"`
}

type redirectConfig struct {
	Host       string `json:"host,omitempty"`
	Path       string `json:"path,omitempty"`
	Port       string `json:"port,omitempty"`
	Protocol   string `json:"protocol,omitempty"`
	Query      string `json:"query,omitempty"`
	StatusCode string `json:"statusCode"`
}

type forwardConfig struct {
	TargetGroups []struct {
		ServiceName string              `json:"serviceName,omitempty"`
		ServicePort *intstr.IntOrString `json:"servicePort,omitempty"`
	} `json:"targetGroups"`
}

// targetGroupSpec is a target group as the model wants it.
type targetGroupSpec struct {
	key     string
	service types.NamespacedName
	port    corev1.ServicePort
	hc      healthCheck
	targets map[string]bool
}

// healthCheck is a target group's health check configuration.
type healthCheck struct {
	path               string
	port               string // "traffic-port" or a number
	interval, timeout  time.Duration
	healthy, unhealthy int
	codes              string
}

// buildModel turns the Ingress into listener rules and target groups.
func (a *albController) buildModel(ctx context.Context, ing *networkingv1.Ingress, lb *loadBalancer) (*albModel, error) {
	m := &albModel{
		defaultAction: albAction{Type: "fixed-response", FixedResponseConfig: &fixedResponseConfig{ContentType: "text/plain", StatusCode: "404"}},
		targetGroups:  map[string]*targetGroupSpec{},
	}
	backendAction := func(b networkingv1.IngressBackend) (albAction, error) {
		if b.Service == nil {
			return albAction{}, errors.New(`missing required "service" field`)
		}
		if b.Service.Port.Name == useAnnotation {
			return a.annotationAction(ctx, ing, b.Service.Name, m)
		}
		port := intstr.FromInt32(b.Service.Port.Number)
		if b.Service.Port.Name != "" {
			port = intstr.FromString(b.Service.Port.Name)
		}
		return a.forwardAction(ctx, ing, b.Service.Name, port, m)
	}
	if b := ing.Spec.DefaultBackend; b != nil {
		act, err := backendAction(*b)
		if err != nil {
			return nil, err
		}
		m.defaultAction = act
	}
	for _, rule := range ing.Spec.Rules {
		if rule.HTTP == nil {
			continue
		}
		var hosts []string
		if rule.Host != "" {
			hosts = []string{strings.ToLower(rule.Host)}
			m.hosts = append(m.hosts, strings.ToLower(rule.Host))
		}
		for _, p := range sortIngressPaths(rule.HTTP.Paths) {
			act, err := backendAction(p.Backend)
			if err != nil {
				return nil, fmt.Errorf("ingress: %s: %w", client.ObjectKeyFromObject(ing), err)
			}
			var headers []albHeaderCondition
			if p.Backend.Service != nil {
				if headers, err = conditionsOf(ing, p.Backend.Service.Name); err != nil {
					return nil, fmt.Errorf("ingress: %s: %w", client.ObjectKeyFromObject(ing), err)
				}
			}
			m.rules = append(m.rules, albRule{hosts: hosts, paths: pathPatterns(p), headers: headers, action: act})
		}
	}
	return m, nil
}

// annotationAction parses alb.ingress.kubernetes.io/actions.<name>.
func (a *albController) annotationAction(ctx context.Context, ing *networkingv1.Ingress, name string, m *albModel) (albAction, error) {
	key := albAnnotationPrefix + "actions." + name
	raw, ok := ing.Annotations[key]
	if !ok {
		return albAction{}, fmt.Errorf("missing actions.%s configuration", name)
	}
	var act albAction
	if err := json.Unmarshal([]byte(raw), &act); err != nil {
		return albAction{}, fmt.Errorf("failed to parse json annotation, %s: %s: %w", key, raw, err)
	}
	switch act.Type {
	case "fixed-response":
		if act.FixedResponseConfig == nil {
			return albAction{}, errors.New("missing FixedResponseConfig")
		}
	case "redirect":
		if act.RedirectConfig == nil {
			return albAction{}, errors.New("missing RedirectConfig")
		}
	case "forward":
		if act.ForwardConfig == nil || len(act.ForwardConfig.TargetGroups) != 1 || act.ForwardConfig.TargetGroups[0].ServicePort == nil {
			return albAction{}, errors.New("the local ALB forwards an annotation action to one service (forwardConfig.targetGroups[0].serviceName and servicePort)")
		}
		tg := act.ForwardConfig.TargetGroups[0]
		return a.forwardAction(ctx, ing, tg.ServiceName, *tg.ServicePort, m)
	default:
		return albAction{}, fmt.Errorf("unknown action type: %s", act.Type)
	}
	return act, nil
}

// forwardAction forwards to the target group of the Service's port, which it adds to
// the model with the Service's ready endpoints as targets.
func (a *albController) forwardAction(ctx context.Context, ing *networkingv1.Ingress, svcName string, port intstr.IntOrString, m *albModel) (albAction, error) {
	svc := &corev1.Service{}
	key := types.NamespacedName{Namespace: ing.Namespace, Name: svcName}
	if err := a.client.Get(ctx, key, svc); err != nil {
		return albAction{}, fmt.Errorf("failed to load service: %s: %w", key, err)
	}
	var sp *corev1.ServicePort
	for i := range svc.Spec.Ports {
		p := &svc.Spec.Ports[i]
		if (port.Type == intstr.String && p.Name == port.StrVal) || (port.Type == intstr.Int && p.Port == port.IntVal) {
			sp = p
		}
	}
	if sp == nil {
		return albAction{}, fmt.Errorf("unable to find port %s on service %s", port.String(), key)
	}
	tgKey := fmt.Sprintf("%s/%s:%s", ing.Namespace, svcName, port.String())
	if _, ok := m.targetGroups[tgKey]; !ok {
		annotations := mergeFirst(svc.Annotations, ing.Annotations)
		hc, err := healthCheckOf(annotations)
		if err != nil {
			return albAction{}, err
		}
		targets, err := a.readyTargets(ctx, svc, sp)
		if err != nil {
			return albAction{}, err
		}
		m.targetGroups[tgKey] = &targetGroupSpec{key: tgKey, service: key, port: *sp, hc: hc, targets: targets}
	}
	return albAction{Type: "forward", targetGroup: tgKey}, nil
}

// readyTargets are the pod endpoints of the Service's EndpointSlices on the port, as
// the LBC resolves them for IP targets (pkg/backend/endpoint_resolver.go): ready
// endpoints, and not-ready ones that are not terminating whose pod's containers are
// ready (a readiness gate pending).
func (a *albController) readyTargets(ctx context.Context, svc *corev1.Service, sp *corev1.ServicePort) (map[string]bool, error) {
	slices := &discoveryv1.EndpointSliceList{}
	if err := a.client.List(ctx, slices, client.InNamespace(svc.Namespace), client.MatchingLabels{discoveryv1.LabelServiceName: svc.Name}); err != nil {
		return nil, err
	}
	targets := map[string]bool{}
	for _, s := range slices.Items {
		if s.AddressType != discoveryv1.AddressTypeIPv4 {
			continue
		}
		for _, p := range s.Ports {
			if sp.Name != "" && (p.Name == nil || *p.Name != sp.Name) || p.Port == nil {
				continue
			}
			for _, ep := range s.Endpoints {
				if ep.TargetRef == nil || ep.TargetRef.Kind != "Pod" || len(ep.Addresses) == 0 {
					continue
				}
				addr := net.JoinHostPort(ep.Addresses[0], strconv.Itoa(int(*p.Port)))
				if ep.Conditions.Ready == nil || *ep.Conditions.Ready {
					targets[addr] = true
					continue
				}
				if ep.Conditions.Terminating != nil && *ep.Conditions.Terminating {
					continue
				}
				pod := &corev1.Pod{}
				if err := a.client.Get(ctx, types.NamespacedName{Namespace: svc.Namespace, Name: ep.TargetRef.Name}, pod); err != nil {
					continue
				}
				for _, c := range pod.Status.Conditions {
					if c.Type == corev1.ContainersReady && c.Status == corev1.ConditionTrue {
						targets[addr] = true
					}
				}
			}
		}
	}
	return targets, nil
}

// mergeFirst merges maps, the first holding a key winning (the LBC's MergeStringMap).
func mergeFirst(maps ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range maps {
		for k, v := range m {
			if _, ok := out[k]; !ok {
				out[k] = v
			}
		}
	}
	return out
}

// healthCheckOf is the target group's health check from the annotations, with the
// LBC's defaults (pkg/ingress/model_builder.go).
func healthCheckOf(ann map[string]string) (healthCheck, error) {
	hc := healthCheck{path: "/", port: "traffic-port", interval: 15 * time.Second, timeout: 5 * time.Second, healthy: 2, unhealthy: 2, codes: "200"}
	if v, ok := ann[albAnnotationPrefix+"healthcheck-path"]; ok {
		hc.path = v
	}
	if v, ok := ann[albAnnotationPrefix+"healthcheck-port"]; ok {
		hc.port = v
	}
	if v, ok := ann[albAnnotationPrefix+"success-codes"]; ok {
		hc.codes = v
	}
	for _, f := range []struct {
		name string
		set  func(int)
	}{
		{"healthcheck-interval-seconds", func(n int) { hc.interval = time.Duration(n) * time.Second }},
		{"healthcheck-timeout-seconds", func(n int) { hc.timeout = time.Duration(n) * time.Second }},
		{"healthy-threshold-count", func(n int) { hc.healthy = n }},
		{"unhealthy-threshold-count", func(n int) { hc.unhealthy = n }},
	} {
		if v, ok := ann[albAnnotationPrefix+f.name]; ok {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return hc, fmt.Errorf("failed to parse annotation %s%s: %q", albAnnotationPrefix, f.name, v)
			}
			f.set(n)
		}
	}
	return hc, nil
}

// sortIngressPaths orders a rule's paths as the LBC does (sortIngressPaths in
// model_build_listener_rules.go): exact, then prefix longest first, then the rest.
func sortIngressPaths(paths []networkingv1.HTTPIngressPath) []networkingv1.HTTPIngressPath {
	var exact, prefix, other []networkingv1.HTTPIngressPath
	for _, p := range paths {
		switch {
		case p.PathType != nil && *p.PathType == networkingv1.PathTypeExact:
			exact = append(exact, p)
		case p.PathType != nil && *p.PathType == networkingv1.PathTypePrefix:
			prefix = append(prefix, p)
		default:
			other = append(other, p)
		}
	}
	sort.SliceStable(prefix, func(i, j int) bool { return len(prefix[i].Path) > len(prefix[j].Path) })
	return append(append(exact, prefix...), other...)
}

// pathPatterns are the ALB path patterns of an Ingress path (buildPathPatterns): a
// prefix /foo matches /foo and /foo/*, the prefix / everything.
func pathPatterns(p networkingv1.HTTPIngressPath) []string {
	if p.PathType != nil && *p.PathType == networkingv1.PathTypePrefix {
		if p.Path == "/" {
			return []string{"/*"}
		}
		trimmed := strings.TrimSuffix(p.Path, "/")
		return []string{trimmed, trimmed + "/*"}
	}
	if p.Path == "" {
		return []string{"/*"}
	}
	return []string{p.Path}
}

// matchPattern is ALB pattern matching: case-sensitive, * any run of characters, ?
// exactly one.
func matchPattern(pattern, s string) bool {
	if pattern == "" {
		return s == ""
	}
	switch pattern[0] {
	case '*':
		for i := 0; i <= len(s); i++ {
			if matchPattern(pattern[1:], s[i:]) {
				return true
			}
		}
		return false
	case '?':
		return s != "" && matchPattern(pattern[1:], s[1:])
	}
	return s != "" && s[0] == pattern[0] && matchPattern(pattern[1:], s[1:])
}

// match is the action for a request's host and path, without headers.
func (m *albModel) match(host, urlPath string) albAction {
	return m.matchRequest(host, urlPath, nil)
}

// matchRequest is the action for a request's host, path and headers.
func (m *albModel) matchRequest(host, urlPath string, header http.Header) albAction {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.ToLower(host)
	for _, r := range m.rules {
		if len(r.hosts) > 0 {
			ok := false
			for _, h := range r.hosts {
				ok = ok || matchPattern(h, host)
			}
			if !ok {
				continue
			}
		}
		if !r.headersMatch(header) {
			continue
		}
		for _, p := range r.paths {
			if matchPattern(p, urlPath) {
				return r.action
			}
		}
	}
	return m.defaultAction
}

// loadBalancer is one ALB: a listener and its target groups.
type loadBalancer struct {
	a         *albController
	key       types.NamespacedName
	port      int
	server    *http.Server
	proxy     *httputil.ReverseProxy
	transport *http.Transport

	mu           sync.RWMutex
	model        *albModel
	targetGroups map[string]*targetGroup
}

// targetKey carries the chosen target to the proxy.
type targetKey struct{}

func (lb *loadBalancer) serves(host string) bool {
	lb.mu.RLock()
	defer lb.mu.RUnlock()
	if lb.model == nil {
		return false
	}
	for _, h := range lb.model.hosts {
		if matchPattern(h, strings.ToLower(host)) {
			return true
		}
	}
	return false
}

// apply makes the model the listener's, creating, updating and deleting target groups.
func (lb *loadBalancer) apply(m *albModel) {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	for key, spec := range m.targetGroups {
		tg, ok := lb.targetGroups[key]
		if !ok {
			tg = newTargetGroup(lb, spec)
			lb.targetGroups[key] = tg
		}
		tg.update(spec)
	}
	for key, tg := range lb.targetGroups {
		if _, ok := m.targetGroups[key]; !ok {
			tg.close()
			delete(lb.targetGroups, key)
		}
	}
	lb.model = m
}

func (lb *loadBalancer) close() {
	_ = lb.server.Close()
	lb.mu.Lock()
	defer lb.mu.Unlock()
	for key, tg := range lb.targetGroups {
		tg.close()
		delete(lb.targetGroups, key)
	}
}

func (lb *loadBalancer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	lb.mu.RLock()
	m := lb.model
	var act albAction
	var tg *targetGroup
	if m != nil {
		act = m.matchRequest(r.Host, r.URL.Path, r.Header)
		tg = lb.targetGroups[act.targetGroup]
	}
	lb.mu.RUnlock()
	w.Header().Set("Server", "awselb/2.0")
	switch act.Type {
	case "fixed-response":
		fr := act.FixedResponseConfig
		code, err := strconv.Atoi(fr.StatusCode)
		if err != nil {
			code = http.StatusInternalServerError
		}
		if fr.ContentType != "" {
			w.Header().Set("Content-Type", fr.ContentType)
		}
		w.WriteHeader(code)
		_, _ = w.Write([]byte(fr.MessageBody))
	case "redirect":
		redirect(w, r, act.RedirectConfig, lb.port)
	case "forward":
		target := ""
		if tg != nil {
			target = tg.pick()
		}
		if target == "" {
			albError(w, http.StatusServiceUnavailable)
			return
		}
		lb.proxy.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), targetKey{}, target)))
	default:
		albError(w, http.StatusServiceUnavailable)
	}
}

// redirect answers with the redirect action's Location, its #{...} placeholders
// replaced by the request's parts.
func redirect(w http.ResponseWriter, r *http.Request, rc *redirectConfig, port int) {
	host, _, err := net.SplitHostPort(r.Host)
	if err != nil {
		host = r.Host
	}
	vals := map[string]string{"#{protocol}": "http", "#{host}": host, "#{port}": strconv.Itoa(port), "#{path}": strings.TrimPrefix(r.URL.Path, "/"), "#{query}": r.URL.RawQuery}
	sub := func(s, def string) string {
		if s == "" {
			s = def
		}
		for k, v := range vals {
			s = strings.ReplaceAll(s, k, v)
		}
		return s
	}
	proto := strings.ToLower(sub(rc.Protocol, "#{protocol}"))
	loc := proto + "://" + sub(rc.Host, "#{host}")
	if p := sub(rc.Port, "#{port}"); !(proto == "http" && p == "80") && !(proto == "https" && p == "443") {
		loc += ":" + p
	}
	loc += sub(rc.Path, "/#{path}")
	if q := sub(rc.Query, "#{query}"); q != "" {
		loc += "?" + q
	}
	code := http.StatusFound
	if rc.StatusCode == "HTTP_301" {
		code = http.StatusMovedPermanently
	}
	w.Header().Set("Location", loc)
	w.WriteHeader(code)
}

// albError writes the ALB's own error page.
func albError(w http.ResponseWriter, code int) {
	w.Header().Set("Content-Type", "text/html")
	w.WriteHeader(code)
	title := fmt.Sprintf("%d %s", code, http.StatusText(code))
	_, _ = fmt.Fprintf(w, "<html>\r\n<head><title>%s</title></head>\r\n<body>\r\n<center><h1>%s</h1></center>\r\n</body>\r\n</html>\r\n", title, title)
}

func (lb *loadBalancer) proxyError(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, context.Canceled) {
		return
	}
	target, _ := r.Context().Value(targetKey{}).(string)
	lb.a.log.Info("Target failed", "ingress", lb.key.String(), "target", target, "path", r.URL.Path, "error", err.Error())
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, os.ErrDeadlineExceeded) {
		albError(w, http.StatusGatewayTimeout)
		return
	}
	albError(w, http.StatusBadGateway)
}

// targetState is a target's health as ELB reports it.
type targetState string

const (
	targetInitial   targetState = "initial"
	targetHealthy   targetState = "healthy"
	targetUnhealthy targetState = "unhealthy"
)

// targetGroup is one target group: its targets, registered and deregistered after the
// registration delay, and their health checks.
type targetGroup struct {
	lb   *loadBalancer
	next atomic.Uint64

	mu      sync.Mutex
	spec    targetGroupSpec
	targets map[string]*target
	// want is the latest wish for each address (register or not) and its generation,
	// applied when the registration delay has passed.
	want   map[string]wish
	gen    uint64
	closed bool
}

type wish struct {
	register bool
	gen      uint64
}

type target struct {
	addr   string
	state  targetState
	run    int // consecutive results of the kind last seen
	lastOK bool
	stop   chan struct{}
}

func newTargetGroup(lb *loadBalancer, spec *targetGroupSpec) *targetGroup {
	return &targetGroup{lb: lb, spec: *spec, targets: map[string]*target{}, want: map[string]wish{}}
}

// update takes a new spec: changed targets are (de)registered after the delay.
func (tg *targetGroup) update(spec *targetGroupSpec) {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	tg.spec.hc, tg.spec.port = spec.hc, spec.port
	addrs := map[string]bool{}
	for addr := range spec.targets {
		addrs[addr] = true
	}
	for addr := range tg.targets {
		addrs[addr] = true
	}
	for addr := range tg.want {
		addrs[addr] = true
	}
	for addr := range addrs {
		register := spec.targets[addr]
		if w, pending := tg.want[addr]; pending {
			if w.register == register {
				continue
			}
		} else if _, registered := tg.targets[addr]; registered == register {
			continue
		}
		tg.gen++
		w := wish{register: register, gen: tg.gen}
		tg.want[addr] = w
		time.AfterFunc(tg.lb.a.delay, func() { tg.settle(addr, w) })
	}
}

// settle applies a wish once its delay has passed, unless a newer one replaced it.
func (tg *targetGroup) settle(addr string, w wish) {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	if tg.closed || tg.want[addr] != w {
		return
	}
	delete(tg.want, addr)
	t, registered := tg.targets[addr]
	switch {
	case w.register && !registered:
		t = &target{addr: addr, state: targetInitial, stop: make(chan struct{})}
		tg.targets[addr] = t
		go tg.healthCheck(t)
	case !w.register && registered:
		// Draining: no new requests; those in flight go on.
		close(t.stop)
		delete(tg.targets, addr)
	}
}

// healthCheck checks t at once and then every interval until it is deregistered.
func (tg *targetGroup) healthCheck(t *target) {
	for {
		tg.mu.Lock()
		hc := tg.spec.hc
		tg.mu.Unlock()
		ok := tg.check(t.addr, hc)
		tg.mu.Lock()
		if ok == t.lastOK {
			t.run++
		} else {
			t.lastOK, t.run = ok, 1
		}
		switch {
		case ok && t.state == targetInitial:
			// "After your target is registered, it must pass one health check to be
			// considered healthy."
			t.state = targetHealthy
		case ok && t.state == targetUnhealthy && t.run >= hc.healthy:
			t.state = targetHealthy
		case !ok && t.state != targetUnhealthy && t.run >= hc.unhealthy:
			t.state = targetUnhealthy
		}
		tg.mu.Unlock()
		select {
		case <-t.stop:
			return
		case <-time.After(hc.interval):
		}
	}
}

// check is one health check: GET the path on the target (or its health check port)
// within the timeout, the answer's code among the success codes.
func (tg *targetGroup) check(addr string, hc healthCheck) bool {
	host, port, _ := net.SplitHostPort(addr)
	if hc.port != "traffic-port" {
		port = hc.port
	}
	ctx, cancel := context.WithTimeout(context.Background(), hc.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+net.JoinHostPort(host, port)+hc.path, nil)
	if err != nil {
		return false
	}
	req.Header.Set("User-Agent", "ELB-HealthChecker/2.0")
	c := &http.Client{
		Transport:     &http.Transport{DialContext: tg.lb.a.net.DialContext, DisableKeepAlives: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	resp, err := c.Do(req)
	if err != nil {
		return false
	}
	_ = resp.Body.Close()
	return codeMatches(hc.codes, resp.StatusCode)
}

// codeMatches reads success codes as "200", "200,202" or "200-299".
func codeMatches(codes string, code int) bool {
	for _, part := range strings.Split(codes, ",") {
		part = strings.TrimSpace(part)
		if lo, hi, ok := strings.Cut(part, "-"); ok {
			l, err1 := strconv.Atoi(lo)
			h, err2 := strconv.Atoi(hi)
			if err1 == nil && err2 == nil && code >= l && code <= h {
				return true
			}
		} else if n, err := strconv.Atoi(part); err == nil && n == code {
			return true
		}
	}
	return false
}

// pick chooses the next target round robin among the healthy ones; with none healthy
// but some unhealthy, among those (fail open); else none.
func (tg *targetGroup) pick() string {
	tg.mu.Lock()
	var healthy, unhealthy []string
	for addr, t := range tg.targets {
		switch t.state {
		case targetHealthy:
			healthy = append(healthy, addr)
		case targetUnhealthy:
			unhealthy = append(unhealthy, addr)
		}
	}
	tg.mu.Unlock()
	pool := healthy
	if len(pool) == 0 {
		pool = unhealthy
	}
	if len(pool) == 0 {
		return ""
	}
	sort.Strings(pool)
	return pool[int(tg.next.Add(1)%uint64(len(pool)))]
}

// States reports each registered target's health, for tests.
func (tg *targetGroup) States() map[string]targetState {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	out := map[string]targetState{}
	for addr, t := range tg.targets {
		out[addr] = t.state
	}
	return out
}

func (tg *targetGroup) close() {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	tg.closed = true
	for addr, t := range tg.targets {
		close(t.stop)
		delete(tg.targets, addr)
	}
}
