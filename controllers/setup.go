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

// Package controllers holds the Storefront reconciler and its wiring.
package controllers

import (
	"fmt"
	"time"

	"go.opentelemetry.io/otel/trace"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	klabels "k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	utilcache "k8s.io/apimachinery/pkg/util/cache"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	shopv1alpha1 "github.com/storefront-operator/storefront/api/v1alpha1"
)

// Options are the operator's settings, parsed from flags by main.go and built directly
// by the envtest suites, the benchmark and hack/demo, so all of them run the same code.
type Options struct {
	// AWSRegion is written as the services.k8s.aws/region annotation on ACK objects.
	AWSRegion string
	// ClusterName, when set, is the storefront.dev/cluster cost allocation tag on every
	// AWS resource created through ACK.
	ClusterName string
	// DBSubnetIDs and DBSecurityGroupIDs are the defaults for spec.database.aurora.
	DBSubnetIDs        []string
	DBSecurityGroupIDs []string
	// CacheSubnetIDs and CacheSecurityGroupIDs are the defaults for spec.cache.serverless.
	CacheSubnetIDs        []string
	CacheSecurityGroupIDs []string
	// DeletionWindowRetry is the first wait before the operator asks ACK again to create
	// a resource AWS is still deleting under the same identifier; it doubles up to 30
	// minutes (storefront_redrive.go). Zero: 30 seconds.
	DeletionWindowRetry time.Duration
	// IngressNamespace is the namespace (of the ingress controller) allowed to reach the
	// shop port. IngressCIDRs are address blocks allowed too (the public subnets, where an
	// ALB in IP mode connects from). Neither set: the shop port is open to all.
	IngressNamespace string
	IngressCIDRs     []string
	// DBCIDRs and CacheCIDRs are the address blocks of the database and cache subnets,
	// the only destinations the NetworkPolicies allow on the Aurora and ElastiCache
	// ports. Empty: those ports are open to any address (a Warning Event says so).
	DBCIDRs    []string
	CacheCIDRs []string
	// MetricsNamespace is the namespace allowed to scrape the shop's metrics port.
	MetricsNamespace string
	// MaxConcurrentReconciles bounds parallel reconciles of Storefronts.
	MaxConcurrentReconciles int
	// OTLP are the collector settings of shops whose spec.observability.otlp leaves
	// them out (telemetry.go).
	OTLP OTLPDefaults
	// TracerProvider traces the reconciles; nil: the global provider (main installs
	// SetupTracing's; a no-op otherwise).
	TracerProvider trace.TracerProvider
	// ServiceMonitorRecheck is how often the operator asks discovery whether
	// ServiceMonitors are served, while they are not (storefront_monitoring.go); 0: 30s.
	ServiceMonitorRecheck time.Duration
	// WatchNamespaces are the namespaces the operator watches (--watch-namespaces); all
	// when empty. CacheOptions takes the same list.
	WatchNamespaces []string
	// ImagesRoleARN is the IAM role of the shops' images buckets (--images-role-arn),
	// put on the ServiceAccount of every shop with spec.images.bucket for IRSA; empty:
	// no annotation (EKS Pod Identity associations, or another credentials path).
	ImagesRoleARN string
	// ImagesCIDRs are the address blocks at which shops with spec.images.bucket reach S3
	// and STS over HTTPS (--images-cidrs: the VPC endpoints' subnets, or AWS's ranges of
	// the region): their only egress on 443. Empty: 443 is open to any address for
	// those shops (a Warning Event and ImagesReady say so).
	ImagesCIDRs []string
}

// WatchLabel on a Secret that a Storefront references (an external database or cache
// URL, a CA bundle) makes the operator watch it, so that a change is reconciled at once,
// as CloudNativePG's cnpg.io/reload label does. Without it the operator reads the Secret
// from the API server on each reconcile of the Storefront, so a change is seen at the
// next reconcile, at the latest after resyncPeriod (10 minutes). Its value is not read.
const WatchLabel = "shop.storefront.dev/watch"

// CacheOptions are the manager's cache options (main.go and the tests use them): only
// the objects the operator owns (labelled app.kubernetes.io/managed-by:
// storefront-operator) are cached, so that the operator's memory grows with the shops,
// not with the cluster's Secrets, Jobs, Deployments and ACK objects; managedFields are
// dropped; and only namespaces are watched when some are given. The label is the cache's
// default selector, so it covers every kind the operator watches: the built-in kinds of
// ownedKinds and the ACK kinds (ackKinds, cdnKinds, the Bucket), which a per-kind
// ByObject could not name when ACK is not installed (the cache resolves every ByObject
// kind through discovery when it starts). Storefronts are cached whole. The Secrets users
// reference are cached apart, when labelled WatchLabel (Setup). An object of a name the
// operator needs that the cache does not show is created by a create-only apply, and
// read through the API reader only when one exists (applyObject, checkNotTakingOver).
func CacheOptions(namespaces []string) cache.Options {
	owned := klabels.SelectorFromSet(klabels.Set{labelManagedBy: fieldOwner})
	opts := cache.Options{
		// The operator reads managedFields only on cache user groups (groupSettled: when
		// it last changed the members); a fleet's other cached objects (ACK objects
		// carry long ones) take much less memory without them.
		DefaultTransform:     stripManagedFieldsExceptUserGroups,
		DefaultLabelSelector: owned,
		ByObject: map[client.Object]cache.ByObject{
			&shopv1alpha1.Storefront{}: {Label: klabels.Everything()},
		},
	}
	for _, obj := range ownedKinds() {
		opts.ByObject[obj] = cache.ByObject{Label: owned}
	}
	if len(namespaces) > 0 {
		opts.DefaultNamespaces = map[string]cache.Config{}
		for _, n := range namespaces {
			opts.DefaultNamespaces[n] = cache.Config{}
		}
	}
	return opts
}

// stripManagedFieldsExceptUserGroups drops managedFields from every cached object but
// the ElastiCache UserGroups, whose apply times say whether ACK synced the members since
// (storefront_cacheuser.go, groupSettled).
func stripManagedFieldsExceptUserGroups(in any) (any, error) {
	if u, ok := in.(*unstructured.Unstructured); ok && u.GroupVersionKind() == gvkCacheUserGroup {
		return in, nil
	}
	return strip(in)
}

var strip = cache.TransformStripManagedFields()

// ownedKinds are the built-in kinds the operator creates, all labelled by objectMeta.
func ownedKinds() []client.Object {
	return []client.Object{
		&corev1.Secret{}, &corev1.ServiceAccount{}, &corev1.Service{}, &appsv1.Deployment{}, &batchv1.Job{},
		&autoscalingv2.HorizontalPodAutoscaler{}, &policyv1.PodDisruptionBudget{}, &networkingv1.Ingress{},
		&networkingv1.NetworkPolicy{},
	}
}

// newWatchedSecretsCache is the cache of the Secrets labelled WatchLabel, in the watched
// namespaces.
func newWatchedSecretsCache(mgr ctrl.Manager, namespaces []string) (cache.Cache, error) {
	exists, err := klabels.NewRequirement(WatchLabel, selection.Exists, nil)
	if err != nil {
		return nil, err
	}
	opts := CacheOptions(namespaces)
	opts.ByObject = map[client.Object]cache.ByObject{&corev1.Secret{}: {Label: klabels.NewSelector().Add(*exists)}}
	opts.Scheme, opts.Mapper, opts.HTTPClient = mgr.GetScheme(), mgr.GetRESTMapper(), mgr.GetHTTPClient()
	c, err := cache.New(mgr.GetConfig(), opts)
	if err != nil {
		return nil, fmt.Errorf("creating the cache of watched Secrets: %w", err)
	}
	if err := mgr.Add(c); err != nil {
		return nil, err
	}
	return c, nil
}

// Client rate limits for the operator's API client (main.go sets them on its
// rest.Config). client-go's default of 5 requests per second (controller-runtime raises
// it to 20, burst 30) paces a fleet to the limiter rather than to the API server: a
// Storefront makes about 30 writes on its way to Ready, so 500 of them would take over
// ten minutes at 20 per second. 100 per second with bursts of 200 lets the API server
// set the pace and stays modest next to the ACK and kube controllers that share it.
const (
	ClientQPS   = 100
	ClientBurst = 200
)

// Setup registers the Storefront controller with mgr.
func Setup(mgr ctrl.Manager, opts Options) error {
	r := newStorefrontReconciler(mgr, opts)
	watched, err := newWatchedSecretsCache(mgr, opts.WatchNamespaces)
	if err != nil {
		return err
	}
	r.WatchedSecrets = watched
	if err := r.SetupWithManager(mgr); err != nil {
		return fmt.Errorf("setting up the Storefront controller: %w", err)
	}
	return nil
}

// newStorefrontReconciler builds the reconciler Setup registers.
func newStorefrontReconciler(mgr ctrl.Manager, opts Options) *StorefrontReconciler {
	if opts.MaxConcurrentReconciles <= 0 {
		opts.MaxConcurrentReconciles = 1
	}
	return &StorefrontReconciler{
		Client:    mgr.GetClient(),
		APIReader: mgr.GetAPIReader(),
		// Reading unstructured objects through the cache starts an informer for their
		// kind; the controller watches the same kinds, so it is shared.
		ObjectCache:  mgr.GetCache(),
		ACKInstalled: servedACKKinds(mgr.GetRESTMapper()),
		Scheme:       mgr.GetScheme(),
		Options:      opts,
		Recorder:     mgr.GetEventRecorder(eventReporter),
		// A namespace per Storefront at most; old entries make room.
		namespaceGates: utilcache.NewLRUExpireCache(4096),
	}
}

// eventReporter is the reportingController of the operator's Events.
const eventReporter = "storefront-operator"
