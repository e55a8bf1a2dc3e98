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
	"net"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	ctrl "sigs.k8s.io/controller-runtime"

	shopv1alpha1 "github.com/storefront-operator/storefront/api/v1alpha1"
)

// OTLPDefaults are the collector settings of the shops whose spec.observability.otlp
// leaves them out (the operator's --otlp-* flags). They also export the operator's own
// traces when the standard OTEL_* variables do not.
type OTLPDefaults struct {
	// Endpoint is the collector's base URL; empty: shops without one export nothing.
	Endpoint string
	// Protocol is grpc or http/protobuf (the default).
	Protocol string
	// SamplingRatio is the share of new traces kept ("0.1" when empty).
	SamplingRatio string
}

// Defaults of OTLPDefaults.
const (
	defaultOTLPProtocol      = "http/protobuf"
	defaultOTLPSamplingRatio = "0.1"
)

// The environment the shop's OpenTelemetry SDK reads.
const (
	envOTLPEndpoint       = "OTEL_EXPORTER_OTLP_ENDPOINT"
	envOTLPProtocol       = "OTEL_EXPORTER_OTLP_PROTOCOL"
	envTracesSampler      = "OTEL_TRACES_SAMPLER"
	envTracesSamplerArg   = "OTEL_TRACES_SAMPLER_ARG"
	envServiceName        = "OTEL_SERVICE_NAME"
	envResourceAttributes = "OTEL_RESOURCE_ATTRIBUTES"
	// envTraceparent and envTracestate carry a trace context into a process
	// (https://opentelemetry.io/docs/specs/otel/context/env-carriers/).
	envTraceparent = "TRACEPARENT"
	envTracestate  = "TRACESTATE"
)

// otlpSettings are the collector settings of one Storefront: spec.observability.otlp,
// each field falling back to the operator's default. Endpoint "" means no tracing.
func otlpSettings(sf *shopv1alpha1.Storefront, d OTLPDefaults) (endpoint, protocol, ratio string) {
	endpoint, protocol, ratio = d.Endpoint, d.Protocol, d.SamplingRatio
	if o := sf.Spec.Observability.OTLP; o != nil {
		if o.Endpoint != "" {
			endpoint = o.Endpoint
		}
		if o.Protocol != "" {
			protocol = o.Protocol
		}
		if o.SamplingRatio != "" {
			ratio = o.SamplingRatio
		}
	}
	if protocol == "" {
		protocol = defaultOTLPProtocol
	}
	if ratio == "" {
		ratio = defaultOTLPSamplingRatio
	}
	return endpoint, protocol, ratio
}

// otlpEnv is the OTEL_* environment of the shop's containers (serve and migrate), or
// nothing without an endpoint. Its values depend on the spec and the flags only, so the
// Deployment at rest does not change.
func otlpEnv(sf *shopv1alpha1.Storefront, d OTLPDefaults) []corev1.EnvVar {
	endpoint, protocol, ratio := otlpSettings(sf, d)
	if endpoint == "" {
		return nil
	}
	attrs := map[string]string{
		"service.namespace":  sf.Namespace,
		"k8s.namespace.name": sf.Namespace,
		"storefront.name":    sf.Name,
	}
	if o := sf.Spec.Observability.OTLP; o != nil {
		for k, v := range o.ResourceAttributes {
			attrs[k] = v
		}
	}
	keys := make([]string, 0, len(attrs))
	for k := range attrs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	pairs := make([]string, 0, len(keys))
	for _, k := range keys {
		pairs = append(pairs, k+"="+percentEncode(attrs[k]))
	}
	return []corev1.EnvVar{
		{Name: envOTLPEndpoint, Value: endpoint},
		{Name: envOTLPProtocol, Value: protocol},
		{Name: envTracesSampler, Value: "parentbased_traceidratio"},
		{Name: envTracesSamplerArg, Value: ratio},
		{Name: envServiceName, Value: "shop"},
		{Name: envResourceAttributes, Value: strings.Join(pairs, ",")},
	}
}

// percentEncode escapes a resource attribute value as OTEL_RESOURCE_ATTRIBUTES wants
// (W3C Baggage's value encoding): everything but unreserved characters as %XX, so a ','
// or '=' in a value cannot split the list.
func percentEncode(v string) string {
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// withOTLPEnv adds otlpEnv to the shop's container of a pod spec built by
// desiredDeployment or desiredMigrationJob.
func withOTLPEnv(spec *corev1.PodSpec, sf *shopv1alpha1.Storefront, d OTLPDefaults) {
	env := otlpEnv(sf, d)
	for i := range spec.Containers {
		if c := &spec.Containers[i]; c.Name == shopContainerName || c.Name == migrateContainerName {
			c.Env = append(c.Env, env...)
		}
	}
}

// withTraceContext gives the migration Job's container the trace context of ctx (the
// migration phase's span) as TRACEPARENT and TRACESTATE, so that `shop migrate` joins
// the reconcile's trace. It is set only on the Job being created: Jobs are never
// compared with a desired one afterwards, so nothing is written at rest.
func withTraceContext(ctx context.Context, spec *corev1.PodSpec) {
	carrier := propagation.MapCarrier{}
	propagation.TraceContext{}.Inject(ctx, carrier)
	if carrier["traceparent"] == "" {
		return
	}
	for i := range spec.Containers {
		c := &spec.Containers[i]
		if c.Name != migrateContainerName {
			continue
		}
		c.Env = append(c.Env, corev1.EnvVar{Name: envTraceparent, Value: carrier["traceparent"]})
		if ts := carrier["tracestate"]; ts != "" {
			c.Env = append(c.Env, corev1.EnvVar{Name: envTracestate, Value: ts})
		}
	}
}

// otlpEgress is the egress rule that lets the shop's and the migration's pods reach the
// collector's port (the endpoint's, or OTLP's default for the protocol: 4317 gRPC, 4318
// HTTP), to any address: the collector is commonly a Service in another namespace or a
// node-local agent, which a port rule reaches without knowing where it runs. Nothing
// without an endpoint.
func otlpEgress(sf *shopv1alpha1.Storefront, d OTLPDefaults) []networkingv1.NetworkPolicyEgressRule {
	endpoint, protocol, _ := otlpSettings(sf, d)
	if endpoint == "" {
		return nil
	}
	port := otlpPort(endpoint, protocol)
	if port == 0 {
		return nil
	}
	return []networkingv1.NetworkPolicyEgressRule{{Ports: tcpPorts(port)}}
}

// otlpPort is the TCP port of an OTLP endpoint URL, 0 if it has none that parses.
func otlpPort(endpoint, protocol string) int32 {
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" {
		return 0
	}
	if _, p, err := net.SplitHostPort(u.Host); err == nil {
		n, err := strconv.ParseInt(p, 10, 32)
		if err != nil || n <= 0 || n > 65535 {
			return 0
		}
		return int32(n)
	}
	if protocol == "grpc" {
		return 4317
	}
	return 4318
}

// withOTLPEgress adds otlpEgress to a NetworkPolicy of desiredShopNetworkPolicy or
// desiredMigrationNetworkPolicy.
func withOTLPEgress(np *networkingv1.NetworkPolicy, sf *shopv1alpha1.Storefront, d OTLPDefaults) {
	np.Spec.Egress = append(np.Spec.Egress, otlpEgress(sf, d)...)
}

// tracerName names the operator's spans' instrumentation scope.
const tracerName = "github.com/storefront-operator/storefront/controllers"

// tracer is the reconciler's tracer: Options.TracerProvider's, or the global one (a
// no-op unless main installed SetupTracing's).
func (r *StorefrontReconciler) tracer() trace.Tracer {
	if tp := r.Options.TracerProvider; tp != nil {
		return tp.Tracer(tracerName)
	}
	return otel.Tracer(tracerName)
}

// startReconcileSpan starts the span of one reconcile of sf.
func (r *StorefrontReconciler) startReconcileSpan(ctx context.Context, sf *shopv1alpha1.Storefront) (context.Context, trace.Span) {
	return r.tracer().Start(ctx, "Reconcile Storefront", trace.WithAttributes(
		semconv.K8SNamespaceName(sf.Namespace),
		attribute.String("storefront.name", sf.Name),
		attribute.Int64("storefront.generation", sf.Generation),
	))
}

// startPhaseSpan starts the span of one phase, a child of the reconcile's.
func (r *StorefrontReconciler) startPhaseSpan(ctx context.Context, name string) (context.Context, trace.Span) {
	return r.tracer().Start(ctx, "phase "+name, trace.WithAttributes(attribute.String("storefront.phase", name)))
}

// endSpan records what a reconcile or a phase came to — its error, the requeue it
// asked for, and for the reconcile the Storefront's phase — and ends the span.
func endSpan(span trace.Span, res ctrl.Result, err error, sf *shopv1alpha1.Storefront) {
	if !span.IsRecording() {
		return
	}
	result := "ok"
	if err != nil {
		result = "error"
		span.SetStatus(codes.Error, err.Error())
	}
	span.SetAttributes(attribute.String("storefront.result", result),
		attribute.Bool("storefront.requeue", res.RequeueAfter > 0 || err != nil),
		attribute.Float64("storefront.requeue_after_seconds", res.RequeueAfter.Seconds()))
	if sf != nil {
		span.SetAttributes(attribute.String("storefront.status.phase", string(sf.Status.Phase)))
	}
	span.End()
}

// SetupTracing returns the operator's tracer provider, or nil when it exports nothing:
// the standard OTEL_* variables decide when OTEL_EXPORTER_OTLP_ENDPOINT (or the traces
// one) is set, as they do for the shop; otherwise the --otlp-* defaults, when they name
// an endpoint. The caller installs it (otel.SetTracerProvider) and shuts it down on exit.
func SetupTracing(ctx context.Context, getenv func(string) string, d OTLPDefaults, version string) (*sdktrace.TracerProvider, error) {
	if strings.EqualFold(getenv("OTEL_SDK_DISABLED"), "true") || strings.EqualFold(getenv("OTEL_TRACES_EXPORTER"), "none") {
		return nil, nil
	}
	fromEnv := getenv(envOTLPEndpoint) != "" || getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != ""
	if !fromEnv && d.Endpoint == "" {
		return nil, nil
	}
	protocol := getenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
	if protocol == "" {
		protocol = getenv(envOTLPProtocol)
	}
	var opts []sdktrace.TracerProviderOption
	if !fromEnv {
		if protocol == "" {
			protocol = d.Protocol
		}
		ratio := d.SamplingRatio
		if ratio == "" {
			ratio = defaultOTLPSamplingRatio
		}
		f, err := strconv.ParseFloat(ratio, 64)
		if err != nil || f < 0 || f > 1 {
			return nil, fmt.Errorf("--otlp-sampling-ratio=%q: want a number from 0 to 1", ratio)
		}
		if getenv(envTracesSampler) == "" {
			opts = append(opts, sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(f))))
		}
	}
	var (
		exp sdktrace.SpanExporter
		err error
	)
	switch protocol {
	case "", "http/protobuf":
		var o []otlptracehttp.Option
		if !fromEnv {
			o = append(o, otlptracehttp.WithEndpointURL(d.Endpoint))
		}
		exp, err = otlptracehttp.New(ctx, o...)
	case "grpc":
		var o []otlptracegrpc.Option
		if !fromEnv {
			o = append(o, otlptracegrpc.WithEndpointURL(d.Endpoint))
		}
		exp, err = otlptracegrpc.New(ctx, o...)
	default:
		return nil, fmt.Errorf("OTLP protocol %q: want http/protobuf or grpc", protocol)
	}
	if err != nil {
		return nil, fmt.Errorf("creating the OTLP trace exporter: %w", err)
	}
	res, err := resource.New(ctx, resource.WithTelemetrySDK(),
		resource.WithAttributes(semconv.ServiceName("storefront-operator"), semconv.ServiceVersion(version)),
		resource.WithFromEnv())
	if err != nil {
		return nil, fmt.Errorf("describing the tracing resource: %w", err)
	}
	opts = append(opts, sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	return sdktrace.NewTracerProvider(opts...), nil
}
