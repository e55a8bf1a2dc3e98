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

	"go.opentelemetry.io/otel/trace"
	ctrl "sigs.k8s.io/controller-runtime"
)

// Options are the operator's settings, parsed from flags by main.go and built directly
// by the envtest suites, the benchmark and hack/demo, so all of them run the same code.
type Options struct {
	// AWSRegion is written as the services.k8s.aws/region annotation on ACK objects.
	AWSRegion string
	// DBSubnetIDs and DBSecurityGroupIDs are the defaults for spec.database.aurora.
	DBSubnetIDs        []string
	DBSecurityGroupIDs []string
	// CacheSubnetIDs and CacheSecurityGroupIDs are the defaults for spec.cache.serverless.
	CacheSubnetIDs        []string
	CacheSecurityGroupIDs []string
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
	if err := newStorefrontReconciler(mgr, opts).SetupWithManager(mgr); err != nil {
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
	}
}

// eventReporter is the reportingController of the operator's Events.
const eventReporter = "storefront-operator"
