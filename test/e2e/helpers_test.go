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

package e2e_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	shopv1alpha1 "github.com/storefront-operator/storefront/api/v1alpha1"
	"github.com/storefront-operator/storefront/test/localcluster"
)

// waitFor polls cond every 100ms until it holds, failing t after timeout with what
// cond last reported.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	last := ""
	for {
		ok, state := cond()
		if ok {
			return
		}
		if state != last {
			last = state
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after %s; last: %s", what, timeout, last)
		}
		time.Sleep(100 * time.Millisecond) // polling with a deadline
	}
}

// storefront reads the Storefront.
func storefront(t *testing.T, key client.ObjectKey) *shopv1alpha1.Storefront {
	t.Helper()
	sf := &shopv1alpha1.Storefront{}
	if err := cluster.Client.Get(context.Background(), key, sf); err != nil {
		t.Fatalf("reading Storefront %s: %v", key, err)
	}
	return sf
}

// watcher logs every phase and condition change of a Storefront while a test waits.
type watcher struct {
	t        *testing.T
	key      client.ObjectKey
	progress *localcluster.Progress
}

func (w *watcher) observe(sf *shopv1alpha1.Storefront) {
	for _, line := range w.progress.Observe(sf, time.Now()) {
		w.t.Log(line)
	}
}

// waitReady waits for Ready=True for the current generation, serving image.
func (w *watcher) waitReady(t *testing.T, image string, timeout time.Duration) *shopv1alpha1.Storefront {
	t.Helper()
	var sf *shopv1alpha1.Storefront
	waitFor(t, "Storefront "+w.key.String()+" Ready with "+image, timeout, func() (bool, string) {
		sf = storefront(t, w.key)
		w.observe(sf)
		return localcluster.ReadyNow(sf) && sf.Status.ServedImage == image, fmt.Sprintf("phase %s, served %s", sf.Status.Phase, sf.Status.ServedImage)
	})
	return sf
}

func condition(sf *shopv1alpha1.Storefront, t string) metav1.Condition {
	if c := meta.FindStatusCondition(sf.Status.Conditions, t); c != nil {
		return *c
	}
	return metav1.Condition{Type: t, Status: metav1.ConditionUnknown}
}

// patchStorefront merge-patches the Storefront's spec.
func patchStorefront(t *testing.T, key client.ObjectKey, spec map[string]any) {
	t.Helper()
	b, err := json.Marshal(map[string]any{"spec": spec})
	if err != nil {
		t.Fatal(err)
	}
	sf := &shopv1alpha1.Storefront{}
	sf.Namespace, sf.Name = key.Namespace, key.Name
	if err := cluster.Client.Patch(context.Background(), sf, client.RawPatch("application/merge-patch+json", b)); err != nil {
		t.Fatalf("patching %s with %s: %v", key, b, err)
	}
}

// shopAPI is a client of the shop's JSON API through the ingress.
type shopAPI struct {
	base  string
	token string
	http  *http.Client
}

// call sends a JSON request and decodes a JSON answer into out (when not nil); it
// returns the status and the raw body.
func (a *shopAPI) call(t *testing.T, method, path string, body any, out any, headers ...string) (int, string) {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, a.base+path, r)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if a.token != "" {
		req.Header.Set("Authorization", "Bearer "+a.token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := a.http.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer func() { _ = resp.Body.Close() }()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the answer: %v", method, path, err)
	}
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: decoding %s: %v", method, path, raw, err)
		}
	}
	return resp.StatusCode, string(raw)
}

// probe sends requests through the load balancer in a loop and counts what fails, as
// a shopper would notice it during a rollout: readers browse the catalog, and a
// writer, signed in, keeps changing the quantity of a line of its cart.
type probe struct {
	requests, failures atomic.Int64
	writes             atomic.Int64
	mu                 sync.Mutex
	failed             []string
	stop               chan struct{}
	wg                 sync.WaitGroup
}

// cartWriter is the shopper whose cart the probe's writer changes.
type cartWriter struct {
	token     string
	productID int64
}

func startProbe(base string, readers int, w *cartWriter) *probe {
	p := &probe{stop: make(chan struct{})}
	client := cluster.HTTPClient(10 * time.Second)
	// No search: the probe runs flat out from one address, and the shop limits searches
	// per client (SEARCH_RATE_LIMIT); the paced load of credentials_test.go searches.
	paths := []string{"/api/v1/products?per_page=3", "/api/v1/categories", "/api/v1/products?per_page=2&sort=price_asc"}
	loop := func(w int, send func(i int) (string, error)) {
		defer p.wg.Done()
		for i := w; ; i++ {
			select {
			case <-p.stop:
				return
			default:
			}
			what, err := send(i)
			p.requests.Add(1)
			if err == nil {
				continue
			}
			p.failures.Add(1)
			p.mu.Lock()
			if len(p.failed) < 10 {
				p.failed = append(p.failed, fmt.Sprintf("%s %s: %v", time.Now().Format("15:04:05.000"), what, err))
			}
			p.mu.Unlock()
		}
	}
	for r := range readers {
		p.wg.Add(1)
		go loop(r, func(i int) (string, error) {
			path := paths[i%len(paths)]
			return "GET " + path, expect(client, http.MethodGet, base+path, "", nil, http.StatusOK)
		})
	}
	if w != nil {
		p.wg.Add(1)
		go loop(0, func(i int) (string, error) {
			path := fmt.Sprintf("/api/v1/cart/items/%d", w.productID)
			body := fmt.Sprintf(`{"quantity":%d}`, i%2) // 0 removes the line (204), 1 answers the line (200)
			want := http.StatusOK
			if i%2 == 0 {
				want = http.StatusNoContent
			}
			err := expect(client, http.MethodPut, base+path, w.token, strings.NewReader(body), want)
			if err == nil {
				p.writes.Add(1)
			}
			return "PUT " + path, err
		})
	}
	return p
}

// expect sends one request and fails unless the answer has the code.
func expect(client *http.Client, method, url, token string, body io.Reader, code int) error {
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	_ = resp.Body.Close()
	if resp.StatusCode != code {
		return fmt.Errorf("status %d: %s", resp.StatusCode, strings.TrimSpace(string(b)))
	}
	return nil
}

// finish stops the probe and fails t if any request failed or too few were sent.
func (p *probe) finish(t *testing.T, minRequests int64) {
	t.Helper()
	close(p.stop)
	p.wg.Wait()
	t.Logf("probe: %d requests through the load balancer (%d cart writes), %d failed", p.requests.Load(), p.writes.Load(), p.failures.Load())
	if n := p.failures.Load(); n > 0 {
		t.Errorf("%d of %d requests through the load balancer failed, first: %s", n, p.requests.Load(), strings.Join(p.failed, "; "))
	}
	if p.requests.Load() < minRequests {
		t.Errorf("the probe sent only %d requests, want at least %d", p.requests.Load(), minRequests)
	}
}

// servedThroughTheLoadBalancer waits until url answers 200 through its ALB: targets
// are registered and health-checked a few seconds after the pods are ready.
func servedThroughTheLoadBalancer(t *testing.T, url string) {
	t.Helper()
	client := cluster.HTTPClient(10 * time.Second)
	waitFor(t, url+" served through the load balancer", time.Minute, func() (bool, string) {
		err := expect(client, http.MethodGet, url, "", nil, http.StatusOK)
		return err == nil, fmt.Sprint(err)
	})
}

// events lists the namespace's Events (events.k8s.io/v1), oldest first.
func events(t *testing.T, ns string) []eventsv1.Event {
	t.Helper()
	list := &eventsv1.EventList{}
	if err := cluster.Client.List(context.Background(), list, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	sort.SliceStable(list.Items, func(i, j int) bool { return eventTime(list.Items[i]).Before(eventTime(list.Items[j])) })
	return list.Items
}

func eventTime(e eventsv1.Event) time.Time {
	if !e.EventTime.IsZero() {
		return e.EventTime.Time
	}
	if e.Series != nil {
		return e.Series.LastObservedTime.Time
	}
	return e.DeprecatedLastTimestamp.Time
}

// findEvent is the first Event about kind/name with reason, or nil.
func findEvent(evs []eventsv1.Event, kind, name, reason string) *eventsv1.Event {
	for i := range evs {
		e := &evs[i]
		if e.Regarding.Kind == kind && e.Regarding.Name == name && e.Reason == reason {
			return e
		}
	}
	return nil
}

// migrationJob is the migration Job of image.
func migrationJob(t *testing.T, ns, image string) *batchv1.Job {
	t.Helper()
	jobs := &batchv1.JobList{}
	if err := cluster.Client.List(context.Background(), jobs, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	for i := range jobs.Items {
		if cs := jobs.Items[i].Spec.Template.Spec.Containers; len(cs) == 1 && cs[0].Image == image {
			return &jobs.Items[i]
		}
	}
	t.Fatalf("no migration Job of %s in %s", image, ns)
	return nil
}

// servingPods are the pods of the namespace's ReplicaSets (the Deployment's) that run
// image.
func servingPods(t *testing.T, ns, image string) []corev1.Pod {
	t.Helper()
	pods := &corev1.PodList{}
	if err := cluster.Client.List(context.Background(), pods, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	var out []corev1.Pod
	for _, p := range pods.Items {
		if o := metav1.GetControllerOf(&p); o != nil && o.Kind == "ReplicaSet" && p.Spec.Containers[0].Image == image {
			out = append(out, p)
		}
	}
	return out
}

// firstRequest is when the pod's shop first logged a request, from its log.
func firstRequest(t *testing.T, ns, pod string) time.Time {
	t.Helper()
	for _, l := range cluster.Logs() {
		if l.Name != "pod "+ns+"/"+pod {
			continue
		}
		f, err := os.Open(l.Path)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = f.Close() }()
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var entry struct {
				Time time.Time `json:"time"`
				Msg  string    `json:"msg"`
			}
			if json.Unmarshal(sc.Bytes(), &entry) == nil && entry.Msg == "Request" {
				return entry.Time
			}
		}
		t.Fatalf("pod %s/%s logged no request", ns, pod)
	}
	t.Fatalf("no log of pod %s/%s", ns, pod)
	return time.Time{}
}

// ackObjects lists the namespace's objects of an ACK kind.
func ackObjects(t *testing.T, ns, group, kind string) []unstructured.Unstructured {
	t.Helper()
	list := &unstructured.UnstructuredList{}
	list.SetAPIVersion(group + "/v1alpha1")
	list.SetKind(kind + "List")
	if err := cluster.Client.List(context.Background(), list, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	return list.Items
}

// dumpOnFailure prints what explains a failure: the Storefront's status, the
// namespace's Events and the end of every process's log.
func dumpOnFailure(t *testing.T, key client.ObjectKey) {
	if !t.Failed() {
		return
	}
	var b strings.Builder
	sf := &shopv1alpha1.Storefront{}
	if err := cluster.Client.Get(context.Background(), key, sf); err == nil {
		y, _ := yaml.Marshal(sf.Status)
		fmt.Fprintf(&b, "===== Storefront %s, generation %d, status:\n%s\n", key, sf.Generation, y)
	} else if apierrors.IsNotFound(err) {
		fmt.Fprintf(&b, "===== Storefront %s: gone\n", key)
	}
	fmt.Fprintf(&b, "===== Events in %s:\n", key.Namespace)
	list := &eventsv1.EventList{}
	if err := cluster.Client.List(context.Background(), list, client.InNamespace(key.Namespace)); err == nil {
		sort.SliceStable(list.Items, func(i, j int) bool { return eventTime(list.Items[i]).Before(eventTime(list.Items[j])) })
		for _, e := range list.Items {
			fmt.Fprintf(&b, "%s %-7s %s/%s %s: %s\n", eventTime(e).Format("15:04:05.000"), e.Type, e.Regarding.Kind, e.Regarding.Name, e.Reason, e.Note)
		}
	}
	cluster.DumpLogs(&b, 40)
	t.Log("\n" + b.String())
}

// createNamespace creates the namespace ns of a test.
func createNamespace(t *testing.T, ns string) {
	t.Helper()
	if err := cluster.Client.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		t.Fatalf("creating namespace %s: %v", ns, err)
	}
}
