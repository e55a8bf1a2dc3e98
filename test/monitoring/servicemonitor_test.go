package monitoring

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	dto "github.com/prometheus/client_model/go"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	shopv1alpha1 "github.com/storefront-operator/storefront/api/v1alpha1"
	"github.com/storefront-operator/storefront/controllers"
	"github.com/storefront-operator/storefront/test/fake"
	"github.com/storefront-operator/storefront/test/testenv"
)

const (
	eventually = 60 * time.Second
	poll       = 100 * time.Millisecond
	quiet      = 2 * time.Second
	image      = "registry.example.com/storefront/shop:1.0.0"
	dbURL      = "postgres://shop:s3cret@db.example.internal:5433/shop?sslmode=require"
)

var gvkServiceMonitor = schema.GroupVersionKind{Group: "monitoring.coreos.com", Version: "v1", Kind: "ServiceMonitor"}

// TestServiceMonitorsFollowTheCRDs runs the operator on a cluster without the Prometheus
// Operator's CRDs, then installs them: Auto Storefronts get their ServiceMonitor once
// discovery serves the kind (no restart), Enabled ones report the missing kind until
// then, Disabled ones never get one.
func TestServiceMonitorsFollowTheCRDs(t *testing.T) {
	restCfg := controlPlane(t)
	g := NewWithT(t)
	ctx := context.Background()
	ns := newNamespace(t)
	startStandIns(t, restCfg, ns)
	counter := startOperator(t, restCfg, ns)

	served := func() bool {
		disc := discovery.NewDiscoveryClientForConfigOrDie(restCfg)
		_, err := disc.ServerResourcesForGroupVersion(gvkServiceMonitor.GroupVersion().String())
		return err == nil
	}
	g.Expect(served()).To(BeFalse(), "this suite's control plane starts without the monitoring CRDs")

	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: ns}, StringData: map[string]string{"url": dbURL}}
	g.Expect(k8sClient.Create(ctx, secret)).To(Succeed())
	for name, mode := range map[string]shopv1alpha1.ServiceMonitorMode{
		"auto": "", "enabled": shopv1alpha1.ServiceMonitorEnabled, "disabled": shopv1alpha1.ServiceMonitorDisabled,
	} {
		sf := &shopv1alpha1.Storefront{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
			Spec: shopv1alpha1.StorefrontSpec{
				Image: image, Currency: "EUR",
				Database: shopv1alpha1.DatabaseSpec{External: &shopv1alpha1.ExternalStore{
					URLSecretRef: shopv1alpha1.SecretKeyRef{Name: "db", Key: "url"}}},
				Observability: shopv1alpha1.ObservabilitySpec{ServiceMonitor: mode},
			},
		}
		g.Expect(k8sClient.Create(ctx, sf, client.FieldValidation("Strict"))).To(Succeed())
	}

	// Without the CRDs: Auto and Disabled shops are Ready; Enabled says what is missing.
	waitFor(t, ns, "auto", shopv1alpha1.PhaseReady)
	waitFor(t, ns, "disabled", shopv1alpha1.PhaseReady)
	enabled := waitFor(t, ns, "enabled", shopv1alpha1.PhaseDegraded)
	ready := meta.FindStatusCondition(enabled.Status.Conditions, shopv1alpha1.ConditionReady)
	g.Expect(ready.Reason).To(Equal(shopv1alpha1.ReasonReconcileError))
	g.Expect(ready.Message).To(And(ContainSubstring("does not serve ServiceMonitor (monitoring.coreos.com/v1)"),
		ContainSubstring("install the Prometheus Operator's CRDs")))

	// The operator's per-Storefront metrics, gathered from its registry.
	g.Eventually(func(g Gomega) {
		g.Expect(gauge(g, "storefront_ready", map[string]string{"namespace": ns, "storefront": "auto", "phase": "Ready"})).To(Equal(1.0))
		g.Expect(gauge(g, "storefront_ready", map[string]string{"namespace": ns, "storefront": "enabled", "phase": "Degraded"})).To(Equal(0.0))
		g.Expect(gauge(g, "storefront_ack_terminal", map[string]string{"namespace": ns, "storefront": "auto", "store": "database"})).To(Equal(0.0))
		g.Expect(gauge(g, "storefront_migration_failed", map[string]string{"namespace": ns, "storefront": "auto"})).To(Equal(0.0))
	}).WithTimeout(eventually).WithPolling(poll).Should(Succeed())

	// A cluster admin installs the Prometheus Operator's CRDs; the operator keeps running.
	_, err := envtest.InstallCRDs(restCfg, envtest.CRDInstallOptions{
		Paths: []string{filepath.Join(testenv.RepoRoot(), "test", "crds", "monitoring")}, ErrorIfPathMissing: true})
	g.Expect(err).NotTo(HaveOccurred())

	for _, name := range []string{"auto", "enabled"} {
		sm := waitForServiceMonitor(t, ns, name)
		owner := metav1.GetControllerOf(sm)
		g.Expect(owner).NotTo(BeNil())
		g.Expect(owner.Kind + "/" + owner.Name).To(Equal("Storefront/" + name))
		selector, _, err := unstructured.NestedStringMap(sm.Object, "spec", "selector", "matchLabels")
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(selector).To(Equal(map[string]string{
			"app.kubernetes.io/name": "storefront", "app.kubernetes.io/instance": name, "app.kubernetes.io/component": "shop"}))
		endpoints, _, _ := unstructured.NestedSlice(sm.Object, "spec", "endpoints")
		g.Expect(endpoints).To(HaveLen(1))
		ep := endpoints[0].(map[string]any)
		g.Expect(ep).To(HaveKeyWithValue("port", "metrics"))
		g.Expect(ep).To(HaveKeyWithValue("path", "/metrics"))
		g.Expect(ep["relabelings"]).To(ContainElement(HaveKeyWithValue("targetLabel", "storefront")))
		// The Service it selects is the shop's, and has the metrics port.
		svc := &corev1.Service{}
		g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: name + "-shop"}, svc)).To(Succeed())
		for k, v := range map[string]string{"app.kubernetes.io/instance": name, "app.kubernetes.io/component": "shop"} {
			g.Expect(svc.Labels).To(HaveKeyWithValue(k, v))
		}
		g.Expect(svc.Spec.Ports).To(ContainElement(HaveField("Name", "metrics")))
	}
	waitFor(t, ns, "enabled", shopv1alpha1.PhaseReady)
	// At rest with ServiceMonitors: the operator writes nothing more (what the API server
	// stores of a ServiceMonitor matches what the operator applies).
	g.Eventually(func(g Gomega) {
		counter.Reset()
		g.Consistently(counter.Mutations).WithTimeout(time.Second).WithPolling(poll).Should(BeZero(), "writes at rest")
	}).WithTimeout(eventually).WithPolling(poll).Should(Succeed())
	g.Consistently(func() bool { return absentServiceMonitor(ns, "disabled") }).WithTimeout(quiet).WithPolling(poll).Should(BeTrue(),
		"a Disabled Storefront got a ServiceMonitor")

	// Deleted by someone: the watch brings it back without waiting for a resync.
	sm := waitForServiceMonitor(t, ns, "auto")
	uid := sm.GetUID()
	g.Expect(k8sClient.Delete(ctx, sm)).To(Succeed())
	g.Eventually(func(g Gomega) {
		again := waitForServiceMonitor(t, ns, "auto")
		g.Expect(again.GetUID()).NotTo(Equal(uid))
	}).WithTimeout(eventually).WithPolling(poll).Should(Succeed())

	// Turned off: the operator deletes the one it created.
	g.Eventually(func() error {
		sf := &shopv1alpha1.Storefront{}
		if err := k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "auto"}, sf); err != nil {
			return err
		}
		sf.Spec.Observability.ServiceMonitor = shopv1alpha1.ServiceMonitorDisabled
		return k8sClient.Update(ctx, sf)
	}).WithTimeout(eventually).WithPolling(poll).Should(Succeed())
	g.Eventually(func() bool { return absentServiceMonitor(ns, "auto") }).WithTimeout(eventually).WithPolling(poll).Should(BeTrue())
}

// startOperator runs controllers.Setup in a manager for namespace ns, looking the
// ServiceMonitor kind up every 200ms instead of 30s; the counter counts its writes.
func startOperator(t *testing.T, restCfg *rest.Config, ns string) *fake.MutationCounter {
	t.Helper()
	counter := fake.NewMutationCounter()
	opts := controllers.Options{WatchNamespaces: []string{ns}, MaxConcurrentReconciles: 2, ServiceMonitorRecheck: 200 * time.Millisecond}
	mgr, err := ctrl.NewManager(restCfg, ctrl.Options{
		Scheme:                 testScheme,
		Cache:                  controllers.CacheOptions(opts.WatchNamespaces),
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		NewClient:              counter.NewClient,
		Controller:             config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		t.Fatalf("creating manager: %v", err)
	}
	if err := controllers.Setup(mgr, opts); err != nil {
		t.Fatalf("setting up the operator: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("the operator stopped with: %v", err)
		}
	})
	return counter
}

// startStandIns starts the Job, Deployment and HPA stand-ins (test/fake) for ns.
func startStandIns(t *testing.T, restCfg *rest.Config, ns string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s, err := fake.Start(ctx, restCfg, fake.Options{Namespaces: []string{ns}, ACKRetry: 200 * time.Millisecond})
	if err != nil {
		cancel()
		t.Fatalf("starting stand-ins: %v", err)
	}
	t.Cleanup(func() { cancel(); _ = s.Wait() })
}

// waitFor waits until Storefront name reports phase for its current generation.
func waitFor(t *testing.T, ns, name string, phase shopv1alpha1.StorefrontPhase) *shopv1alpha1.Storefront {
	t.Helper()
	sf := &shopv1alpha1.Storefront{}
	NewWithT(t).Eventually(func(g Gomega) {
		g.Expect(k8sClient.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, sf)).To(Succeed())
		g.Expect(sf.Status.ObservedGeneration).To(Equal(sf.Generation))
		g.Expect(sf.Status.Phase).To(Equal(phase), "conditions: %+v", sf.Status.Conditions)
	}).WithTimeout(eventually).WithPolling(poll).Should(Succeed())
	return sf
}

func waitForServiceMonitor(t *testing.T, ns, storefront string) *unstructured.Unstructured {
	t.Helper()
	sm := &unstructured.Unstructured{}
	sm.SetGroupVersionKind(gvkServiceMonitor)
	NewWithT(t).Eventually(func() error {
		return k8sClient.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: storefront + "-shop"}, sm)
	}).WithTimeout(eventually).WithPolling(poll).Should(Succeed())
	return sm
}

func absentServiceMonitor(ns, storefront string) bool {
	sm := &unstructured.Unstructured{}
	sm.SetGroupVersionKind(gvkServiceMonitor)
	err := k8sClient.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: storefront + "-shop"}, sm)
	return apierrors.IsNotFound(err) || meta.IsNoMatchError(err)
}

// gauge is the value of the series of name whose labels include want, gathered from
// controller-runtime's registry (what the operator's metrics endpoint serves).
func gauge(g Gomega, name string, want map[string]string) float64 {
	families, err := metrics.Registry.Gather()
	g.Expect(err).NotTo(HaveOccurred())
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			if hasLabels(m, want) {
				return m.GetGauge().GetValue()
			}
		}
	}
	g.Expect(false).To(BeTrue(), "no %s series with %v", name, want)
	return 0
}

func hasLabels(m *dto.Metric, want map[string]string) bool {
	have := map[string]string{}
	for _, l := range m.GetLabel() {
		have[l.GetName()] = l.GetValue()
	}
	for k, v := range want {
		if have[k] != v {
			return false
		}
	}
	return true
}
