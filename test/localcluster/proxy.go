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
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

// ingressController plays an ingress controller and kube-proxy together: each Ingress
// gets a reverse proxy on a port of its own on 127.0.0.1, which routes by the Ingress's
// rules to its backend Service, and from the Service's selector and target port to the
// ready pods' ports here; it writes that address into the Ingress status as a load
// balancer would (ip 127.0.0.1 and the port), so the operator's status.url rule yields
// it when the Storefront names no host.
//
// As ingress-nginx does, a request that could not reach a pod (connection refused) is
// sent to another one, and so is an idempotent request whose connection broke before an
// answer; no ready pod is a 503.
type ingressController struct {
	client client.Client
	k      *kubelet
	log    logr.Logger

	mu      sync.Mutex
	proxies map[types.NamespacedName]*ingressProxy
}

type ingressProxy struct {
	c      *ingressController
	key    types.NamespacedName
	port   int
	server *http.Server
	next   atomic.Uint64
	proxy  *httputil.ReverseProxy
}

func (c *ingressController) Reconcile(ctx context.Context, req reconcile.Request) (ctrl.Result, error) {
	ing := &networkingv1.Ingress{}
	if err := c.client.Get(ctx, req.NamespacedName, ing); err != nil || !ing.DeletionTimestamp.IsZero() {
		c.close(req.NamespacedName)
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	p, err := c.ensure(req.NamespacedName)
	if err != nil {
		return ctrl.Result{}, err
	}
	want := networkingv1.IngressStatus{LoadBalancer: networkingv1.IngressLoadBalancerStatus{
		Ingress: []networkingv1.IngressLoadBalancerIngress{{
			IP:    podIP,
			Ports: []networkingv1.IngressPortStatus{{Port: int32(p.port), Protocol: corev1.ProtocolTCP}},
		}},
	}}
	if equality.Semantic.DeepEqual(ing.Status, want) {
		return ctrl.Result{}, nil
	}
	return ctrl.Result{}, updateStatus(ctx, c.client, ing, &ing.Status, want, ingressManager)
}

// URL is where the Ingress ns/name is served here, or "" when it is not (yet).
func (c *ingressController) URL(key types.NamespacedName) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if p, ok := c.proxies[key]; ok {
		return fmt.Sprintf("http://%s:%d", podIP, p.port)
	}
	return ""
}

func (c *ingressController) ensure(key types.NamespacedName) (*ingressProxy, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if p, ok := c.proxies[key]; ok {
		return p, nil
	}
	ln, err := net.Listen("tcp", podIP+":0")
	if err != nil {
		return nil, fmt.Errorf("listening for ingress %s: %w", key, err)
	}
	p := &ingressProxy{c: c, key: key, port: ln.Addr().(*net.TCPAddr).Port}
	p.proxy = &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetXForwarded()
			r.Out.URL.Scheme = "http"
			r.Out.Host = r.In.Host // the Host the client asked for, as ingress-nginx sends it
		},
		Transport:    &retryingTransport{base: newBackendTransport()},
		ErrorHandler: p.proxyError,
	}
	p.server = &http.Server{Handler: p, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = p.server.Serve(ln) }()
	c.proxies[key] = p
	return p, nil
}

func (c *ingressController) close(key types.NamespacedName) {
	c.mu.Lock()
	p, ok := c.proxies[key]
	delete(c.proxies, key)
	c.mu.Unlock()
	if ok {
		_ = p.server.Close()
	}
}

// CloseAll stops every proxy.
func (c *ingressController) CloseAll() {
	c.mu.Lock()
	keys := make([]types.NamespacedName, 0, len(c.proxies))
	for k := range c.proxies {
		keys = append(keys, k)
	}
	c.mu.Unlock()
	for _, k := range keys {
		c.close(k)
	}
}

// backendsKey carries a request's candidate pod addresses to the transport.
type backendsKey struct{}

func (p *ingressProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	backends, err := p.backends(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	if r.Body != nil && r.Body != http.NoBody {
		// Kept so that a request that reached no pod can be sent to another.
		body, err := io.ReadAll(io.LimitReader(r.Body, 64<<20))
		if err != nil {
			http.Error(w, "reading the request body: "+err.Error(), http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	}
	p.proxy.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), backendsKey{}, backends)))
}

// backends are the addresses of the ready pods behind the rule r matches, starting at
// the next in turn.
func (p *ingressProxy) backends(r *http.Request) ([]string, error) {
	ctx := r.Context()
	ing := &networkingv1.Ingress{}
	if err := p.c.client.Get(ctx, p.key, ing); err != nil {
		return nil, fmt.Errorf("ingress %s: %w", p.key, err)
	}
	backend := matchRule(ing, r.Host, r.URL.Path)
	if backend == nil || backend.Service == nil {
		return nil, fmt.Errorf("ingress %s: no rule for %s%s", p.key, r.Host, r.URL.Path)
	}
	svc := &corev1.Service{}
	if err := p.c.client.Get(ctx, types.NamespacedName{Namespace: p.key.Namespace, Name: backend.Service.Name}, svc); err != nil {
		return nil, fmt.Errorf("service %s/%s: %w", p.key.Namespace, backend.Service.Name, err)
	}
	var target *intstr.IntOrString
	for _, sp := range svc.Spec.Ports {
		if (backend.Service.Port.Name != "" && sp.Name == backend.Service.Port.Name) ||
			(backend.Service.Port.Name == "" && sp.Port == backend.Service.Port.Number) {
			t := sp.TargetPort
			if t.IntValue() == 0 && t.Type == intstr.Int {
				t = intstr.FromInt32(sp.Port)
			}
			target = &t
		}
	}
	if target == nil {
		return nil, fmt.Errorf("service %s/%s has no port %s", svc.Namespace, svc.Name, backendPort(backend.Service.Port))
	}
	var addrs []string
	for _, pod := range p.c.k.ReadyPods(svc.Namespace, svc.Spec.Selector) {
		if port, ok := pod.HostPort(*target); ok {
			addrs = append(addrs, podIP+":"+strconv.Itoa(int(port)))
		}
	}
	if len(addrs) == 0 {
		return nil, fmt.Errorf("service %s/%s has no ready endpoints", svc.Namespace, svc.Name)
	}
	// Sorted, then rotated, so that successive requests go round the pods.
	slices.Sort(addrs)
	start := int(p.next.Add(1) % uint64(len(addrs)))
	return append(addrs[start:], addrs[:start]...), nil
}

func backendPort(p networkingv1.ServiceBackendPort) string {
	if p.Name != "" {
		return p.Name
	}
	return strconv.Itoa(int(p.Number))
}

// matchRule is the backend of the rule for host and path: rules for the host first,
// then rules for any host, then - since here clients reach the proxy by its address,
// not the Ingress host - any rule; the longest matching path wins; else the default
// backend.
func matchRule(ing *networkingv1.Ingress, host, path string) *networkingv1.IngressBackend {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	for _, pass := range []func(networkingv1.IngressRule) bool{
		func(r networkingv1.IngressRule) bool { return r.Host != "" && strings.EqualFold(r.Host, host) },
		func(r networkingv1.IngressRule) bool { return r.Host == "" },
		func(networkingv1.IngressRule) bool { return true },
	} {
		var best *networkingv1.IngressBackend
		bestLen := -1
		for _, rule := range ing.Spec.Rules {
			if !pass(rule) || rule.HTTP == nil {
				continue
			}
			for i := range rule.HTTP.Paths {
				hp := &rule.HTTP.Paths[i]
				if pathMatches(hp, path) && len(hp.Path) > bestLen {
					best, bestLen = &hp.Backend, len(hp.Path)
				}
			}
		}
		if best != nil {
			return best
		}
	}
	return ing.Spec.DefaultBackend
}

func pathMatches(hp *networkingv1.HTTPIngressPath, path string) bool {
	if hp.PathType != nil && *hp.PathType == networkingv1.PathTypeExact {
		return path == hp.Path
	}
	prefix := strings.TrimSuffix(hp.Path, "/")
	return prefix == "" || path == prefix || strings.HasPrefix(path, prefix+"/")
}

func (p *ingressProxy) proxyError(w http.ResponseWriter, r *http.Request, err error) {
	if !errors.Is(err, context.Canceled) {
		p.c.log.Info("Proxying failed", "ingress", p.key.String(), "path", r.URL.Path, "error", err.Error())
	}
	w.WriteHeader(http.StatusBadGateway)
}

func newBackendTransport() *http.Transport {
	return &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 2 * time.Second}).DialContext,
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     30 * time.Second,
	}
}

// retryingTransport sends a request to its first candidate pod and moves on to the next
// when the pod could not be reached, or, for an idempotent request, when the connection
// broke before an answer.
type retryingTransport struct {
	base *http.Transport
}

func (t *retryingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	backends, _ := req.Context().Value(backendsKey{}).([]string)
	if len(backends) == 0 {
		return nil, errors.New("no backend")
	}
	var lastErr error
	for i, addr := range backends {
		out := req.Clone(req.Context())
		out.URL.Host = addr
		if i > 0 && req.GetBody != nil {
			body, err := req.GetBody()
			if err != nil {
				return nil, err
			}
			out.Body = body
		}
		resp, err := t.base.RoundTrip(out)
		if err == nil {
			return resp, nil
		}
		lastErr = err
		if !retryable(req, err) {
			break
		}
	}
	return nil, lastErr
}

func retryable(req *http.Request, err error) bool {
	if req.Context().Err() != nil {
		return false
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" || errors.Is(err, syscall.ECONNREFUSED) {
		return true
	}
	switch req.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return true
	}
	return false
}
