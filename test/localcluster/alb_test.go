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

package localcluster_test

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/storefront-operator/storefront/test/shoptest"
)

// shopPods creates n bare shop pods behind the shop Service and an Ingress for shopHost(ns) with a second rule whose
// backend is a fixed-response action, and waits until the load balancer serves them.
func shopPods(t *testing.T, g *WithT, ns string, n int) []string {
	t.Helper()
	dbURL := shoptest.MigratedDatabase(t, true)
	labels := map[string]string{"app": "shop"}
	ing := shopIngress(ns, shopHost(ns))
	// The LBC's documented fixed-response action (docs/guide/ingress/annotations.md,
	// "actions"): a backend whose service is the action's name, port use-annotation.
	ing.Annotations["alb.ingress.kubernetes.io/actions.closed"] =
		`{"type":"fixed-response","fixedResponseConfig":{"contentType":"text/plain","statusCode":"503","messageBody":"Closed for the night"}}`
	ing.Spec.Rules = append(ing.Spec.Rules, networkingv1.IngressRule{
		Host: "closed." + ns + ".example",
		IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{Paths: []networkingv1.HTTPIngressPath{{
			Path: "/", PathType: ptr.To(networkingv1.PathTypePrefix),
			Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: "closed", Port: networkingv1.ServiceBackendPort{Name: "use-annotation"}}},
		}}}},
	})
	create(t,
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "shop-connection"}, StringData: map[string]string{"DATABASE_URL": dbURL}},
		shopService(ns, labels), ing,
	)
	var names []string
	for i := range n {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("shop-%d", i), Labels: labels}, Spec: shopPodSpec(corev1.RestartPolicyAlways)}
		create(t, p)
		names = append(names, p.Name)
	}
	serving(g, "http://"+shopHost(ns)+"/healthz")
	// Every target registered and healthy: n successes in a row go round all of them.
	g.Eventually(func() error {
		for range 2 * n {
			if code, _, err := get("http://"+shopHost(ns)+"/healthz", ""); err != nil || code != http.StatusOK {
				return fmt.Errorf("%d %v", code, err)
			}
		}
		return nil
	}, time.Minute, 200*time.Millisecond).Should(Succeed())
	return names
}

// The load balancer matches the Host strictly and answers what the LBC configures
// (pkg/ingress/model_build_actions.go: build404Action for no rule; the fixed-response
// action of the annotation).
func TestTheALBMatchesHostsStrictlyAndAnswersFixedResponses(t *testing.T) {
	g := NewWithT(t)
	ns := namespace(t)
	shopPods(t, g, ns, 1)
	lb := cluster.IngressURL(ns, "shop")
	g.Expect(lb).NotTo(BeEmpty())

	for _, host := range []string{"unknown.example", "", strings.ToUpper(shopHost(ns)) + ".org"} {
		code, body, err := get(lb+"/healthz", host)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(code).To(Equal(http.StatusNotFound), "host %q has no rule", host)
		g.Expect(body).To(BeEmpty())
	}
	code, _, err := get(lb+"/healthz", strings.ToUpper(shopHost(ns)))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(code).To(Equal(http.StatusOK), "host matching ignores case")

	req, _ := http.NewRequest(http.MethodGet, lb+"/anything", nil)
	req.Host = "closed." + ns + ".example"
	resp, err := cluster.HTTPClient(10 * time.Second).Do(req)
	g.Expect(err).NotTo(HaveOccurred())
	defer func() { _ = resp.Body.Close() }()
	g.Expect(resp.StatusCode).To(Equal(http.StatusServiceUnavailable))
	g.Expect(resp.Header.Get("Content-Type")).To(Equal("text/plain"))
	_, body, _ := get("http://closed."+ns+".example/anything", "")
	g.Expect(body).To(Equal("Closed for the night"))
}

// A backend that dies still gets its share of requests until its deregistration
// reaches the load balancer: each fails with 502 (the pod's address is there, nothing
// listens), none is retried on the other backend. The pod's process is killed twice,
// so that the kubelet holds its restart back (CrashLoopBackOff) and the death lasts.
// Once no target is left, 503.
func TestTheALBDoesNotRetryWhenABackendDies(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	ns := namespace(t)
	names := shopPods(t, g, ns, 2)
	url := "http://" + shopHost(ns) + "/healthz"

	running := func(name string) (corev1.ContainerStatus, bool) {
		pod := &corev1.Pod{}
		g.Expect(cluster.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, pod)).To(Succeed())
		if len(pod.Status.ContainerStatuses) == 0 {
			return corev1.ContainerStatus{}, false
		}
		cs := pod.Status.ContainerStatuses[0]
		return cs, cs.State.Running != nil && cs.Ready
	}
	kill := func(cs corev1.ContainerStatus) {
		pid, err := strconv.Atoi(pidOf(cs))
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(syscall.Kill(pid, syscall.SIGKILL)).To(Succeed())
	}
	cs, ok := running(names[0])
	g.Expect(ok).To(BeTrue())
	kill(cs)
	g.Eventually(func() int32 {
		cs, ok := running(names[0])
		if !ok {
			return -1
		}
		return cs.RestartCount
	}, time.Minute, 50*time.Millisecond).Should(Equal(int32(1)), "the first restart has no back-off")
	serving(g, url)
	// The restarted target back in the group (when its restart outlasted the
	// registration delay it was deregistered, and comes back only after it): else the
	// second death below would get no request at all.
	g.Eventually(func() int { return cluster.HealthyTargets(ns, "shop") }, time.Minute, 50*time.Millisecond).
		Should(Equal(2), "both targets healthy before the second kill")
	cs, _ = running(names[0])
	kill(cs)
	codes := map[int]int{}
	for range 6 {
		code, _, err := get(url, "")
		g.Expect(err).NotTo(HaveOccurred())
		codes[code]++
	}
	g.Expect(codes).To(HaveKey(http.StatusBadGateway), "the dead backend's turns fail: %v", codes)
	g.Expect(codes).To(HaveKey(http.StatusOK), "the live backend's turns succeed: %v", codes)
	g.Expect(codes).To(HaveLen(2), "nothing but 200 and 502: %v", codes)
	g.Eventually(func() string {
		cs, _ := running(names[0])
		if cs.State.Waiting == nil {
			return ""
		}
		return cs.State.Waiting.Reason
	}, 10*time.Second, 50*time.Millisecond).Should(Equal("CrashLoopBackOff"))

	// The dead pod is not ready, its endpoint neither, its target deregistered.
	g.Eventually(func() []int {
		var codes []int
		for range 4 {
			code, _, _ := get(url, "")
			codes = append(codes, code)
		}
		return codes
	}, time.Minute, 50*time.Millisecond).Should(HaveEach(http.StatusOK))

	for _, name := range names {
		g.Expect(cluster.Client.Delete(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}})).To(Succeed())
	}
	g.Eventually(func() (int, error) {
		code, _, err := get(url, "")
		return code, err
	}, time.Minute, 50*time.Millisecond).Should(Equal(http.StatusServiceUnavailable), "no target left")
}
