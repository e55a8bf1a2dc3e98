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
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	toolscache "k8s.io/client-go/tools/cache"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	shopv1alpha1 "github.com/storefront-operator/storefront/api/v1alpha1"
)

// The shop's ServiceMonitor: a Prometheus Operator object that makes Prometheus scrape
// the metrics port of the shop's Service (the port the NetworkPolicy opens to
// --metrics-namespace). The Prometheus Operator's CRDs may be missing, or installed
// after the operator started: an Owns of the kind would fail the manager's start, so
// the kind is looked up through discovery at start-up and every
// Options.ServiceMonitorRecheck while it is missing, and watched from the moment it is
// served.

// +kubebuilder:rbac:groups=monitoring.coreos.com,resources=servicemonitors,verbs=get;list;watch;create;update;patch;delete

var gvkServiceMonitor = schema.GroupVersionKind{Group: "monitoring.coreos.com", Version: "v1", Kind: "ServiceMonitor"}

// serviceMonitorResource is the resource name discovery lists for the kind.
const serviceMonitorResource = "servicemonitors"

// defaultServiceMonitorRecheck is how often a missing ServiceMonitor kind is looked up
// again: one discovery request per interval, whatever the number of Storefronts.
const defaultServiceMonitorRecheck = 30 * time.Second

// labelStorefront is the label the ServiceMonitor gives every series scraped from a
// shop, the Storefront's name; the operator's own per-Storefront metrics carry the same
// label (and namespace), so that rules can join the two.
const labelStorefront = "storefront"

// serviceMonitorMode is the Storefront's spec.observability.serviceMonitor, Auto when empty.
func serviceMonitorMode(sf *shopv1alpha1.Storefront) shopv1alpha1.ServiceMonitorMode {
	if m := sf.Spec.Observability.ServiceMonitor; m != "" {
		return m
	}
	return shopv1alpha1.ServiceMonitorAuto
}

// desiredServiceMonitor scrapes the metrics port of the shop's Service (desiredService),
// labelling each series with the Storefront's name.
func desiredServiceMonitor(sf *shopv1alpha1.Storefront) *unstructured.Unstructured {
	sm := &unstructured.Unstructured{}
	sm.SetGroupVersionKind(gvkServiceMonitor)
	meta := objectMeta(sf, objectName(sf, roleShop), componentShop)
	sm.SetName(meta.Name)
	sm.SetNamespace(meta.Namespace)
	sm.SetLabels(meta.Labels)
	own(sf, sm)
	matchLabels := map[string]any{}
	for k, v := range selectorLabels(sf, componentShop) {
		matchLabels[k] = v
	}
	sm.Object["spec"] = map[string]any{
		"selector": map[string]any{"matchLabels": matchLabels},
		// The Service is in the Storefront's namespace; without a namespaceSelector the
		// Prometheus Operator looks in the ServiceMonitor's own.
		"endpoints": []any{map[string]any{
			"port":   metricsPortName,
			"path":   "/metrics",
			"scheme": "http",
			"relabelings": []any{map[string]any{
				"sourceLabels": []any{"__meta_kubernetes_service_label_app_kubernetes_io_instance"},
				"targetLabel":  labelStorefront,
				"action":       "replace",
			}},
		}},
	}
	return sm
}

// reconcileMonitoring creates, keeps or deletes the shop's ServiceMonitor as
// spec.observability.serviceMonitor and the API server's kinds say.
func (r *StorefrontReconciler) reconcileMonitoring(ctx context.Context, s *scope) (ctrl.Result, error) {
	sf := s.sf
	served := r.serviceMonitors.served()
	switch mode := serviceMonitorMode(sf); {
	case mode == shopv1alpha1.ServiceMonitorDisabled:
		if !served {
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, r.removeServiceMonitor(ctx, sf)
	case !served && mode == shopv1alpha1.ServiceMonitorEnabled:
		return ctrl.Result{}, fmt.Errorf("spec.observability.serviceMonitor is Enabled but the API server does not serve %s (%s): install the Prometheus Operator's CRDs (the operator notices them within %s) or set it to Auto",
			gvkServiceMonitor.Kind, gvkServiceMonitor.GroupVersion(), r.serviceMonitors.recheckInterval())
	case !served:
		return ctrl.Result{}, nil
	}
	if _, err := r.applyObject(ctx, desiredServiceMonitor(sf)); err != nil {
		return ctrl.Result{}, err
	}
	return ctrl.Result{}, nil
}

// removeServiceMonitor deletes the shop's ServiceMonitor when the cache shows one the
// Storefront controls.
func (r *StorefrontReconciler) removeServiceMonitor(ctx context.Context, sf *shopv1alpha1.Storefront) error {
	live := &unstructured.Unstructured{}
	live.SetGroupVersionKind(gvkServiceMonitor)
	name := objectName(sf, roleShop)
	if err := r.objectReader().Get(ctx, client.ObjectKey{Namespace: sf.Namespace, Name: name}, live); err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("reading ServiceMonitor %s: %w", name, err)
	}
	if !metav1.IsControlledBy(live, sf) || !live.GetDeletionTimestamp().IsZero() {
		return nil
	}
	log.FromContext(ctx).Info("Deleting ServiceMonitor", "name", name)
	if err := r.Delete(ctx, live); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting ServiceMonitor %s: %w", name, err)
	}
	return nil
}

// serviceMonitorWatch knows whether the API server serves ServiceMonitors and, from the
// moment it does, turns their events into reconciles of the Storefronts that control
// them. nil (a reconciler built without SetupWithManager): never served.
type serviceMonitorWatch struct {
	discovery discovery.DiscoveryInterface
	cache     cache.Cache
	lister    client.Reader
	recheck   time.Duration
	// events feeds the controller: a ServiceMonitor (mapped to its Storefront) or a
	// Storefront to reconcile.
	events chan event.GenericEvent

	// servedAtStart says discovery listed the kind when the controller was set up, so
	// that the first reconciles need not wait for Start's lookup.
	servedAtStart bool

	mu sync.Mutex
	// isServed is set once the kind is served and its informer feeds events.
	isServed bool
}

func (w *serviceMonitorWatch) served() bool {
	if w == nil {
		return false
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.isServed || w.servedAtStart
}

func (w *serviceMonitorWatch) recheckInterval() time.Duration {
	if w == nil || w.recheck <= 0 {
		return defaultServiceMonitorRecheck
	}
	return w.recheck
}

// kindServed asks discovery whether the API server serves ServiceMonitors now.
func (w *serviceMonitorWatch) kindServed() (bool, error) {
	list, err := w.discovery.ServerResourcesForGroupVersion(gvkServiceMonitor.GroupVersion().String())
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("looking up %s: %w", gvkServiceMonitor.GroupVersion(), err)
	}
	for _, res := range list.APIResources {
		if res.Name == serviceMonitorResource {
			return true, nil
		}
	}
	return false, nil
}

// Start implements manager.Runnable: it runs on the leader, beside the controller, and
// looks the kind up until it is served; then it watches ServiceMonitors and reconciles
// every Storefront, so that those left without one get it.
func (w *serviceMonitorWatch) Start(ctx context.Context) error {
	logger := log.FromContext(ctx).WithValues("kind", gvkServiceMonitor.String())
	ticker := time.NewTicker(w.recheckInterval())
	defer ticker.Stop()
	for {
		served, err := w.kindServed()
		switch {
		case err != nil:
			logger.Error(err, "Looking up the ServiceMonitor kind; retrying")
		case served:
			if err := w.watch(ctx); err != nil {
				logger.Error(err, "Watching ServiceMonitors; retrying")
				break
			}
			logger.Info("The API server serves ServiceMonitors: creating the shops'")
			w.mu.Lock()
			w.isServed = true
			w.mu.Unlock()
			w.reconcileAll(ctx)
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
		}
	}
}

// watch starts (or joins) the cache's informer of ServiceMonitors and forwards the
// events of the operator's own to the controller.
func (w *serviceMonitorWatch) watch(ctx context.Context) error {
	obj := &unstructured.Unstructured{}
	obj.SetGroupVersionKind(gvkServiceMonitor)
	inf, err := w.cache.GetInformer(ctx, obj)
	if err != nil {
		return err
	}
	forward := func(o any) {
		if tomb, ok := o.(toolscache.DeletedFinalStateUnknown); ok {
			o = tomb.Obj
		}
		if u, ok := o.(*unstructured.Unstructured); ok && u.GetLabels()[labelManagedBy] == fieldOwner {
			select {
			case w.events <- event.GenericEvent{Object: u}:
			case <-ctx.Done():
			}
		}
	}
	_, err = inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    forward,
		UpdateFunc: func(_, o any) { forward(o) },
		DeleteFunc: forward,
	})
	return err
}

// reconcileAll queues every Storefront.
func (w *serviceMonitorWatch) reconcileAll(ctx context.Context) {
	var list shopv1alpha1.StorefrontList
	if err := w.lister.List(ctx, &list); err != nil {
		log.FromContext(ctx).Error(err, "Listing Storefronts to give them ServiceMonitors; they get them at their next reconcile")
		return
	}
	for i := range list.Items {
		select {
		case w.events <- event.GenericEvent{Object: &list.Items[i]}:
		case <-ctx.Done():
			return
		}
	}
}

// storefrontOf maps a ServiceMonitor to the Storefront that controls it, and a
// Storefront to itself.
func storefrontOf(_ context.Context, o client.Object) []reconcile.Request {
	if _, ok := o.(*shopv1alpha1.Storefront); ok {
		return []reconcile.Request{{NamespacedName: client.ObjectKeyFromObject(o)}}
	}
	if ref := metav1.GetControllerOfNoCopy(o); ref != nil && ref.Kind == storefrontKind.Kind && ref.APIVersion == storefrontKind.GroupVersion().String() {
		return []reconcile.Request{{NamespacedName: client.ObjectKey{Namespace: o.GetNamespace(), Name: ref.Name}}}
	}
	return nil
}

// watchServiceMonitors adds the ServiceMonitor source to the controller and the
// runnable that feeds it, and the per-Storefront metrics (storefront_monitoring_metrics.go).
func (r *StorefrontReconciler) watchServiceMonitors(mgr ctrl.Manager, b *builder.Builder) error {
	disc, err := discovery.NewDiscoveryClientForConfig(mgr.GetConfig())
	if err != nil {
		return fmt.Errorf("creating a discovery client: %w", err)
	}
	w := &serviceMonitorWatch{
		discovery: disc,
		cache:     mgr.GetCache(),
		lister:    mgr.GetClient(),
		recheck:   r.Options.ServiceMonitorRecheck,
		events:    make(chan event.GenericEvent, 1024),
	}
	if w.servedAtStart, err = w.kindServed(); err != nil {
		// Start looks again.
		mgr.GetLogger().Error(err, "Looking up the ServiceMonitor kind")
	}
	r.serviceMonitors = w
	b.WatchesRawSource(source.Channel(w.events, handler.EnqueueRequestsFromMapFunc(storefrontOf)))
	if err := mgr.Add(w); err != nil {
		return err
	}
	return mgr.Add(reportStatusMetrics(mgr.GetClient()))
}
