// Package tracing builds the shop's OpenTelemetry tracer provider from the standard
// OTEL_* environment variables, and carries a trace context through a process's
// environment (TRACEPARENT, TRACESTATE).
//
// Tracing is on only when an OTLP endpoint is configured (OTEL_EXPORTER_OTLP_ENDPOINT or
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) and neither OTEL_SDK_DISABLED=true nor
// OTEL_TRACES_EXPORTER=none says otherwise. When it is off, Setup returns nil and the
// shop installs no instrumentation at all: not even a no-op tracer is called.
package tracing

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/embedded"
)

// Enabled reports whether the environment asks for traces to be exported.
func Enabled(getenv func(string) string) bool {
	if strings.EqualFold(strings.TrimSpace(getenv("OTEL_SDK_DISABLED")), "true") {
		return false
	}
	if strings.EqualFold(strings.TrimSpace(getenv("OTEL_TRACES_EXPORTER")), "none") {
		return false
	}
	return getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != ""
}

// Setup returns a tracer provider exporting with OTLP as the environment says, or nil
// when tracing is off (see Enabled). The protocol is OTEL_EXPORTER_OTLP_TRACES_PROTOCOL
// or OTEL_EXPORTER_OTLP_PROTOCOL: http/protobuf (the default, as the specification
// says) or grpc; the exporters read the endpoint, headers, timeout and TLS variables
// themselves, the SDK the sampler (OTEL_TRACES_SAMPLER, OTEL_TRACES_SAMPLER_ARG) and
// the resource (OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES). The caller shuts the
// provider down on exit, which flushes the spans still queued.
func Setup(ctx context.Context, getenv func(string) string, service, version string) (*sdktrace.TracerProvider, error) {
	if !Enabled(getenv) {
		return nil, nil
	}
	protocol := strings.TrimSpace(getenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"))
	if protocol == "" {
		protocol = strings.TrimSpace(getenv("OTEL_EXPORTER_OTLP_PROTOCOL"))
	}
	var (
		exp sdktrace.SpanExporter
		err error
	)
	switch protocol {
	case "", "http/protobuf":
		exp, err = otlptracehttp.New(ctx)
	case "grpc":
		exp, err = otlptracegrpc.New(ctx)
	default:
		return nil, fmt.Errorf("OTEL_EXPORTER_OTLP_PROTOCOL=%q: want http/protobuf or grpc", protocol)
	}
	if err != nil {
		return nil, fmt.Errorf("creating the OTLP trace exporter: %w", err)
	}
	res, err := Resource(ctx, service, version)
	if err != nil {
		return nil, err
	}
	// Export failures (a collector down) are reported through the global handler: in
	// the JSON log rather than the SDK's plain-text default.
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		slog.Default().Warn("OpenTelemetry", "error", err)
	}))
	return NewProvider(sdktrace.NewBatchSpanProcessor(exp), res), nil
}

// Resource describes the process: service.name and service.version, overridden by
// OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES (which the operator sets from
// spec.observability.otlp).
func Resource(ctx context.Context, service, version string) (*resource.Resource, error) {
	res, err := resource.New(ctx,
		resource.WithTelemetrySDK(),
		resource.WithAttributes(semconv.ServiceName(service), semconv.ServiceVersion(version)),
		// Later detectors win: the environment overrides the defaults above.
		resource.WithFromEnv(),
	)
	if err != nil {
		return nil, fmt.Errorf("describing the tracing resource: %w", err)
	}
	return res, nil
}

// NewProvider returns a tracer provider sending the spans to sp after dropping the
// attributes that identify a person (see Redacted). The sampler is the environment's
// (OTEL_TRACES_SAMPLER), parentbased_always_on by default. Tests pass a processor around
// an in-memory exporter.
func NewProvider(sp sdktrace.SpanProcessor, res *resource.Resource, opts ...sdktrace.TracerProviderOption) *sdktrace.TracerProvider {
	opts = append([]sdktrace.TracerProviderOption{sdktrace.WithResource(res), sdktrace.WithSpanProcessor(redactor{sp})}, opts...)
	return sdktrace.NewTracerProvider(opts...)
}

// Propagator is the shop's trace context propagation: W3C Trace Context only. Baggage
// from the internet is not accepted: the shop has no use for it and would forward it.
func Propagator() propagation.TextMapPropagator { return propagation.TraceContext{} }

// Redacted are the span attributes that are never exported: the instrumentations
// record them by default, but they identify a shopper (the client's address, which
// the shop believes only from its load balancers, and the browser) or could carry
// data (Redis commands with their values; redisotel is configured not to record them,
// this is the second lock).
var Redacted = map[attribute.Key]bool{
	semconv.ClientAddressKey:      true,
	semconv.NetworkPeerAddressKey: true,
	semconv.NetworkPeerPortKey:    true,
	semconv.UserAgentOriginalKey:  true,
	"http.client_ip":              true,
	"db.statement":                true, // go-redis's command line (otelpgx writes db.query.text: parameterised SQL)
}

// redactor drops the Redacted attributes from each ended span before the next
// processor sees it.
type redactor struct{ next sdktrace.SpanProcessor }

func (r redactor) OnStart(parent context.Context, s sdktrace.ReadWriteSpan) {
	r.next.OnStart(parent, s)
}

func (r redactor) OnEnd(s sdktrace.ReadOnlySpan) {
	for _, kv := range s.Attributes() {
		if Redacted[kv.Key] {
			r.next.OnEnd(redactedSpan{s})
			return
		}
	}
	r.next.OnEnd(s)
}

func (r redactor) Shutdown(ctx context.Context) error   { return r.next.Shutdown(ctx) }
func (r redactor) ForceFlush(ctx context.Context) error { return r.next.ForceFlush(ctx) }

// redactedSpan is an ended span without the Redacted attributes. Embedding the
// interface is how the SDK lets a processor present a span differently.
type redactedSpan struct{ sdktrace.ReadOnlySpan }

func (s redactedSpan) Attributes() []attribute.KeyValue {
	all := s.ReadOnlySpan.Attributes()
	kept := make([]attribute.KeyValue, 0, len(all))
	for _, kv := range all {
		if !Redacted[kv.Key] {
			kept = append(kept, kv)
		}
	}
	return kept
}

// ContextFromEnv returns ctx carrying the remote span context of the process's
// environment: TRACEPARENT and TRACESTATE, OpenTelemetry's convention for handing a
// trace to a child process or a batch job
// (https://opentelemetry.io/docs/specs/otel/context/env-carriers/). The operator sets
// them on the migration Job, so that `shop migrate`'s spans join the reconcile's trace.
func ContextFromEnv(ctx context.Context, getenv func(string) string) context.Context {
	c := EnvCarrier{}
	for _, k := range []string{"TRACEPARENT", "TRACESTATE"} {
		if v := getenv(k); v != "" {
			c[k] = v
		}
	}
	return Propagator().Extract(ctx, c)
}

// EnvCarrier is a propagation carrier of environment variables: the names are the
// propagator's keys in upper case (traceparent: TRACEPARENT).
type EnvCarrier map[string]string

// Get returns the value of key's variable.
func (c EnvCarrier) Get(key string) string { return c[strings.ToUpper(key)] }

// Set sets key's variable.
func (c EnvCarrier) Set(key, value string) { c[strings.ToUpper(key)] = value }

// Keys lists the variables set, in the propagator's lower case.
func (c EnvCarrier) Keys() []string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, strings.ToLower(k))
	}
	return keys
}

// ChildrenOnly returns a provider whose tracers record a span only inside another one:
// the client instrumentations (pgx, go-redis) trace the statements of a request or a
// command, not the background work of the cache's version poll (two Redis reads a
// second) or the revocation list, which would each make a trace of one span.
func ChildrenOnly(tp trace.TracerProvider) trace.TracerProvider { return childrenOnly{tp: tp} }

type childrenOnly struct {
	embedded.TracerProvider
	tp trace.TracerProvider
}

func (p childrenOnly) Tracer(name string, opts ...trace.TracerOption) trace.Tracer {
	return childTracer{t: p.tp.Tracer(name, opts...)}
}

type childTracer struct {
	embedded.Tracer
	t trace.Tracer
}

func (t childTracer) Start(ctx context.Context, name string, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		// The span of ctx: a non-recording, invalid one. Ending it does nothing.
		return ctx, trace.SpanFromContext(ctx)
	}
	return t.t.Start(ctx, name, opts...)
}
