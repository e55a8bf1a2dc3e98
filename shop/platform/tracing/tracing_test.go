package tracing_test

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/storefront-operator/storefront/shop/platform/tracing"
)

func env(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }

func TestEnabled(t *testing.T) {
	for name, tc := range map[string]struct {
		env  map[string]string
		want bool
	}{
		"nothing set: off":                      {nil, false},
		"an endpoint: on":                       {map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, true},
		"a traces endpoint: on":                 {map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, true},
		"the SDK disabled: off":                 {map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_SDK_DISABLED": "TRUE"}, false},
		"the traces exporter none: off":         {map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_TRACES_EXPORTER": "none"}, false},
		"OTEL_SDK_DISABLED=false leaves it on":  {map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_SDK_DISABLED": "false"}, true},
		"a sampler alone does not turn it on":   {map[string]string{"OTEL_TRACES_SAMPLER": "always_on"}, false},
		"the traces exporter otlp leaves it on": {map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_TRACES_EXPORTER": "otlp"}, true},
	} {
		t.Run(name, func(t *testing.T) {
			if got := tracing.Enabled(env(tc.env)); got != tc.want {
				t.Errorf("Enabled = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestSetup(t *testing.T) {
	tp, err := tracing.Setup(context.Background(), env(nil), "shop", "test")
	if err != nil || tp != nil {
		t.Errorf("off: provider %v, error %v; want none", tp, err)
	}
	_, err = tracing.Setup(context.Background(), env(map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"}), "shop", "test")
	if err == nil {
		t.Error("protocol http/json accepted; the shop exports http/protobuf or grpc")
	}
	for _, protocol := range []string{"", "http/protobuf", "grpc"} {
		tp, err := tracing.Setup(context.Background(), env(map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1", "OTEL_EXPORTER_OTLP_PROTOCOL": protocol}), "shop", "test")
		if err != nil || tp == nil {
			t.Errorf("protocol %q: provider %v, error %v", protocol, tp, err)
			continue
		}
		_ = tp.Shutdown(context.Background())
	}
}

// TestContextFromEnv: TRACEPARENT and TRACESTATE become the remote parent, as the
// environment-carrier convention says; a malformed TRACEPARENT is no parent.
func TestContextFromEnv(t *testing.T) {
	ctx := tracing.ContextFromEnv(context.Background(), env(map[string]string{
		"TRACEPARENT": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "TRACESTATE": "vendor=x"}))
	sc := trace.SpanContextFromContext(ctx)
	if sc.TraceID().String() != "4bf92f3577b34da6a3ce929d0e0e4736" || sc.SpanID().String() != "00f067aa0ba902b7" ||
		!sc.IsSampled() || !sc.IsRemote() || sc.TraceState().Get("vendor") != "x" {
		t.Errorf("span context %+v", sc)
	}
	bad := tracing.ContextFromEnv(context.Background(), env(map[string]string{"TRACEPARENT": "00-zz-00f067aa0ba902b7-01"}))
	if trace.SpanContextFromContext(bad).IsValid() {
		t.Error("a malformed TRACEPARENT made a parent")
	}

	// And the other way: what the operator writes into a Job's environment.
	c := tracing.EnvCarrier{}
	tracing.Propagator().Inject(ctx, c)
	if c["TRACEPARENT"] != "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" || c["TRACESTATE"] != "vendor=x" {
		t.Errorf("injected %v", c)
	}
}

// TestChildrenOnly: the client instrumentations' provider records spans inside a span
// only.
func TestChildrenOnly(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := tracing.NewProvider(sdktrace.NewSimpleSpanProcessor(exp), resource.Empty())
	clients := tracing.ChildrenOnly(tp).Tracer("client")
	_, orphan := clients.Start(context.Background(), "poll")
	orphan.End()
	ctx, parent := tp.Tracer("server").Start(context.Background(), "request")
	_, child := clients.Start(ctx, "query")
	child.End()
	parent.End()
	spans := exp.GetSpans()
	if len(spans) != 2 || spans[0].Name != "query" || spans[1].Name != "request" || spans[0].Parent.SpanID() != spans[1].SpanContext.SpanID() {
		t.Errorf("spans %v, want query under request and no poll", spans)
	}
}
