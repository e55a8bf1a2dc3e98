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
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	shopv1alpha1 "github.com/storefront-operator/storefront/api/v1alpha1"
	"github.com/storefront-operator/storefront/test/fake"
)

// Waiting in the scenario tests: generous for a loaded 2-core machine, polled often.
const (
	eventually = 60 * time.Second
	poll       = 100 * time.Millisecond
	// quiet is how long Consistently watches that something does not happen.
	quiet = 3 * time.Second
)

const (
	imageV1 = "registry.example.com/storefront/shop:1.0.0"
	imageV2 = "registry.example.com/storefront/shop:2.0.0"
	imageV3 = "registry.example.com/storefront/shop:3.0.0"

	dbURL    = "postgres://shop:s3cret@db.example.internal:5433/shop?sslmode=require"
	redisURL = "rediss://:t0ken@cache.example.internal:6380/0"
)

// operatorRun is one running operator: a manager with controllers.Setup, restricted to
// one namespace (as --watch-namespaces does), its client counted.
type operatorRun struct {
	counter    *fake.MutationCounter
	reconciler *StorefrontReconciler
	cancel     context.CancelFunc
	done       chan error
}

// startOperator starts an operator for namespace ns; it stops at the end of the test or
// when stop is called.
func startOperator(t *testing.T, ns string, opts Options) *operatorRun {
	t.Helper()
	return startOperatorAs(t, cfg, ns, opts)
}

// startOperatorAs starts an operator that talks to the API server with restCfg.
func startOperatorAs(t *testing.T, restCfg *rest.Config, ns string, opts Options) *operatorRun {
	t.Helper()
	return startOperatorFor(t, restCfg, []string{ns}, opts)
}

// startOperatorFor starts an operator that watches the given namespaces.
func startOperatorFor(t *testing.T, restCfg *rest.Config, namespaces []string, opts Options) *operatorRun {
	t.Helper()
	counter := fake.NewMutationCounter()
	opts.WatchNamespaces = namespaces
	mgr, err := ctrl.NewManager(restCfg, ctrl.Options{
		Scheme:                 testScheme,
		Cache:                  CacheOptions(namespaces),
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		NewClient:              counter.NewClient,
		// Every test starts its own manager with the same controller name.
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		t.Fatalf("creating manager: %v", err)
	}
	if opts.MaxConcurrentReconciles == 0 {
		opts.MaxConcurrentReconciles = 2
	}
	if err := Setup(mgr, opts); err != nil {
		t.Fatalf("setting up the operator: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	run := &operatorRun{
		counter:    counter,
		reconciler: newStorefrontReconciler(mgr, opts),
		cancel:     cancel,
		done:       make(chan error, 1),
	}
	go func() { run.done <- mgr.Start(ctx) }()
	t.Cleanup(run.stop)
	syncCtx, syncCancel := context.WithTimeout(ctx, eventually)
	defer syncCancel()
	if !mgr.GetCache().WaitForCacheSync(syncCtx) {
		t.Fatal("the operator's cache did not sync")
	}
	return run
}

// stop stops the operator and waits until its manager has returned.
func (o *operatorRun) stop() {
	o.cancel()
	if err, ok := <-o.done; ok {
		close(o.done)
		_ = err
	}
}

// startStandIns starts the Job, Deployment, HPA and ACK stand-ins for namespace ns (and
// any more namespaces opts names). ACK's 30-second requeue of what is not synced is
// 200ms here unless opts say otherwise.
func startStandIns(t *testing.T, ns string, opts fake.Options) *fake.StandIns {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	opts.Namespaces = append(opts.Namespaces, ns)
	if opts.ACKRetry == 0 {
		opts.ACKRetry = 200 * time.Millisecond
	}
	s, err := fake.Start(ctx, cfg, opts)
	if err != nil {
		cancel()
		t.Fatalf("starting stand-ins: %v", err)
	}
	t.Cleanup(func() { cancel(); _ = s.Wait() })
	return s
}

// storefrontOption changes a Storefront fixture.
type storefrontOption func(*shopv1alpha1.Storefront)

func withExternalCache() storefrontOption {
	return func(sf *shopv1alpha1.Storefront) {
		sf.Spec.Cache = &shopv1alpha1.CacheSpec{External: &shopv1alpha1.ExternalStore{
			URLSecretRef: shopv1alpha1.SecretKeyRef{Name: "acme-redis", Key: "url"}}}
	}
}

func withIngress(in shopv1alpha1.IngressSpec) storefrontOption {
	return func(sf *shopv1alpha1.Storefront) { sf.Spec.Ingress = &in }
}

func withReplicas(minReplicas, maxReplicas int32) storefrontOption {
	return func(sf *shopv1alpha1.Storefront) {
		sf.Spec.Replicas = shopv1alpha1.ReplicasSpec{Min: minReplicas, Max: maxReplicas, TargetCPUUtilizationPercentage: 70}
	}
}

// newStorefront is "acme" on the external database in Secret acme-db.
func newStorefront(ns string, opts ...storefrontOption) *shopv1alpha1.Storefront {
	sf := &shopv1alpha1.Storefront{
		ObjectMeta: metav1.ObjectMeta{Name: "acme", Namespace: ns},
		Spec: shopv1alpha1.StorefrontSpec{
			Image:    imageV1,
			Currency: "EUR",
			Database: shopv1alpha1.DatabaseSpec{External: &shopv1alpha1.ExternalStore{
				URLSecretRef: shopv1alpha1.SecretKeyRef{Name: "acme-db", Key: "url"}}},
		},
	}
	for _, o := range opts {
		o(sf)
	}
	return sf
}

// createURLSecret creates (or replaces the data of) a Secret with one key "url",
// labelled WatchLabel so that the operator watches it, as the README tells users to.
func createURLSecret(t *testing.T, ns, name, url string) {
	t.Helper()
	ctx := context.Background()
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{WatchLabel: "true"}},
		StringData: map[string]string{"url": url}}
	if err := k8sClient.Create(ctx, s); err != nil {
		if !apierrors.IsAlreadyExists(err) {
			t.Fatalf("creating secret %s: %v", name, err)
		}
		cur := &corev1.Secret{}
		if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(s), cur); err != nil {
			t.Fatal(err)
		}
		cur.Data = map[string][]byte{"url": []byte(url)}
		if err := k8sClient.Update(ctx, cur); err != nil {
			t.Fatalf("updating secret %s: %v", name, err)
		}
	}
}

func createStorefront(t *testing.T, sf *shopv1alpha1.Storefront) {
	t.Helper()
	if err := k8sClient.Create(context.Background(), sf, client.FieldValidation("Strict")); err != nil {
		t.Fatalf("creating storefront: %v", err)
	}
}

// getStorefront reads the Storefront fresh from the API server.
func getStorefront(g Gomega, ns string) *shopv1alpha1.Storefront {
	sf := &shopv1alpha1.Storefront{}
	g.Expect(k8sClient.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "acme"}, sf)).To(Succeed())
	return sf
}

// updateStorefront changes the Storefront, retrying on conflicts.
func updateStorefront(t *testing.T, ns string, change func(*shopv1alpha1.Storefront)) {
	t.Helper()
	g := NewWithT(t)
	g.Eventually(func() error {
		sf := &shopv1alpha1.Storefront{}
		if err := k8sClient.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "acme"}, sf); err != nil {
			return err
		}
		change(sf)
		return k8sClient.Update(context.Background(), sf)
	}).WithTimeout(eventually).WithPolling(poll).Should(Succeed())
}

// refusedUpdate is updateStorefront for a change the API server is expected to refuse:
// it retries only on a Conflict (the operator writes status meanwhile) and returns the
// refusal.
func refusedUpdate(t *testing.T, ns string, change func(*shopv1alpha1.Storefront)) error {
	t.Helper()
	var err error
	NewWithT(t).Eventually(func() bool {
		sf := &shopv1alpha1.Storefront{}
		if err = k8sClient.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "acme"}, sf); err != nil {
			return false
		}
		change(sf)
		err = k8sClient.Update(context.Background(), sf)
		return !apierrors.IsConflict(err)
	}).WithTimeout(eventually).WithPolling(poll).Should(BeTrue())
	return err
}

// condition returns the Storefront's condition of type t, or an Unknown one.
func condition(sf *shopv1alpha1.Storefront, t string) metav1.Condition {
	if c := meta.FindStatusCondition(sf.Status.Conditions, t); c != nil {
		return *c
	}
	return metav1.Condition{Type: t, Status: metav1.ConditionUnknown}
}

// waitForPhase waits until the Storefront reports phase for its current generation.
func waitForPhase(t *testing.T, ns string, phase shopv1alpha1.StorefrontPhase) *shopv1alpha1.Storefront {
	t.Helper()
	g := NewWithT(t)
	var sf *shopv1alpha1.Storefront
	g.Eventually(func(g Gomega) {
		sf = getStorefront(g, ns)
		g.Expect(sf.Status.ObservedGeneration).To(Equal(sf.Generation), "observedGeneration")
		g.Expect(sf.Status.Phase).To(Equal(phase), "phase; conditions: %+v", sf.Status.Conditions)
	}).WithTimeout(eventually).WithPolling(poll).Should(Succeed())
	return sf
}

// get reads an object of the test namespace fresh from the API server.
func get[T client.Object](g Gomega, ns, name string, obj T) T {
	g.Expect(k8sClient.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, obj)).To(Succeed())
	return obj
}

// absent reports whether the named object is gone.
func absent(ns, name string, obj client.Object) bool {
	err := k8sClient.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, obj)
	return apierrors.IsNotFound(err)
}

// migrationJobs lists the namespace's migration Jobs.
func migrationJobs(g Gomega, ns string) []batchv1.Job {
	list := &batchv1.JobList{}
	g.Expect(k8sClient.List(context.Background(), list, client.InNamespace(ns),
		client.MatchingLabels{labelComponent: componentMigration})).To(Succeed())
	return list.Items
}

func deployment(g Gomega, ns string) *appsv1.Deployment {
	return get(g, ns, "acme-shop", &appsv1.Deployment{})
}

// readyShop creates the secrets and a Storefront with opts and waits until it is Ready.
func readyShop(t *testing.T, ns string, opts ...storefrontOption) *shopv1alpha1.Storefront {
	t.Helper()
	createURLSecret(t, ns, "acme-db", dbURL)
	createURLSecret(t, ns, "acme-redis", redisURL)
	createStorefront(t, newStorefront(ns, opts...))
	return waitForPhase(t, ns, shopv1alpha1.PhaseReady)
}

// waitAtRest waits until the operator has made no mutating request for a second, then
// resets its counter.
func waitAtRest(t *testing.T, op *operatorRun) {
	t.Helper()
	NewWithT(t).Eventually(func(g Gomega) {
		op.counter.Reset()
		g.Consistently(op.counter.Mutations).WithTimeout(time.Second).WithPolling(poll).Should(BeZero())
	}).WithTimeout(eventually).WithPolling(poll).Should(Succeed())
	op.counter.Reset()
}

// storefrontEventItems are the Events about Storefronts in ns, in the order they were
// emitted.
func storefrontEventItems(g Gomega, ns string) []eventsv1.Event {
	list := &eventsv1.EventList{}
	g.Expect(k8sClient.List(context.Background(), list, client.InNamespace(ns))).To(Succeed())
	sort.SliceStable(list.Items, func(i, j int) bool { return list.Items[i].EventTime.Before(&list.Items[j].EventTime) })
	return slices.DeleteFunc(list.Items, func(e eventsv1.Event) bool { return e.Regarding.Kind != "Storefront" })
}

// storefrontEvents lists the Events about Storefronts in ns, as "type reason: note".
func storefrontEvents(g Gomega, ns string) []string {
	var out []string
	for _, e := range storefrontEventItems(g, ns) {
		out = append(out, e.Type+" "+e.Reason+": "+e.Note)
	}
	return out
}

// storefrontEventCount counts the occurrences of the Events about Storefronts in ns
// whose note starts with prefix: a series counts its occurrences (client-go merges
// repeats of an Event into one).
func storefrontEventCount(g Gomega, ns, prefix string) int {
	n := 0
	for _, e := range storefrontEventItems(g, ns) {
		switch {
		case !strings.HasPrefix(e.Note, prefix):
		case e.Series != nil:
			n += int(e.Series.Count)
		default:
			n++
		}
	}
	return n
}
