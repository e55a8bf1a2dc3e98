package main_test

import (
	"fmt"
	"net/http"
	"strings"
	"syscall"
	"testing"

	"github.com/storefront-operator/storefront/test/otlptest"
	"github.com/storefront-operator/storefront/test/testenv"
)

// The trace context the operator hands the migration Job (its migration phase's span).
const (
	jobTraceID     = "4bf92f3577b34da6a3ce929d0e0e4736"
	jobParentID    = "00f067aa0ba902b7"
	jobTraceparent = "00-" + jobTraceID + "-" + jobParentID + "-01"
)

// TestMigrateJoinsTheTraceOfItsEnvironment: `shop migrate` with TRACEPARENT (OpenTelemetry's
// environment carrier, as the operator sets it on the Job) exports, with OTLP over HTTP to
// a collector, a span "shop migrate" in that trace, a child of the given span, with a
// child per step and the SQL statements under them; OTEL_SERVICE_NAME and
// OTEL_RESOURCE_ATTRIBUTES name the resource.
func TestMigrateJoinsTheTraceOfItsEnvironment(t *testing.T) {
	col, err := otlptest.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer col.Close()
	db := testenv.PostgresURL(t)
	r := run(t, bin, "", []string{"DATABASE_URL=" + db, "TRACEPARENT=" + jobTraceparent,
		"OTEL_EXPORTER_OTLP_ENDPOINT=" + col.Endpoint, "OTEL_SERVICE_NAME=shop-migrate",
		"OTEL_RESOURCE_ATTRIBUTES=k8s.namespace.name=team-a,storefront.name=acme"}, "migrate")
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("migrate: exit %d, stderr %q", r.code, r.stderr)
	}
	// The process flushed its spans before exiting: nothing to wait for.
	spans := col.Spans()
	root := otlptest.Named(spans, "shop migrate")
	if len(root) != 1 {
		t.Fatalf("%d spans \"shop migrate\", want 1; spans: %v", len(root), names(spans))
	}
	m := root[0]
	if m.TraceID != jobTraceID || m.ParentSpanID != jobParentID {
		t.Errorf("shop migrate: trace %s parent %s, want %s %s", m.TraceID, m.ParentSpanID, jobTraceID, jobParentID)
	}
	if m.Service != "shop-migrate" || m.Resource["storefront.name"] != "acme" || m.Resource["k8s.namespace.name"] != "team-a" {
		t.Errorf("resource %v", m.Resource)
	}
	for _, step := range []string{"apply migrations", "bootstrap admin and catalog"} {
		ss := otlptest.Named(spans, step)
		if len(ss) != 1 || ss[0].ParentSpanID != m.SpanID {
			t.Errorf("step %q: %+v, want one child of shop migrate", step, ss)
		}
	}
	if a := otlptest.Named(spans, "apply migrations"); len(a) == 1 && a[0].Attributes["shop.migrations.applied"] != fmt.Sprint(len(migrations(t))) {
		t.Errorf("apply migrations: attributes %v, want shop.migrations.applied %d", a[0].Attributes, len(migrations(t)))
	}
	var sql int
	for _, s := range spans {
		if s.TraceID != jobTraceID {
			t.Errorf("span %q in trace %s", s.Name, s.TraceID)
		}
		if s.Attributes["db.query.text"] != "" {
			sql++
		}
	}
	if sql == 0 {
		t.Errorf("no SQL span; spans: %v", names(spans))
	}
}

// TestServeExportsTraces: `shop serve` with an OTLP endpoint and the sampler the operator
// sets (parentbased_traceidratio) exports a request's server span in the trace the client
// sent (a sampled parent is followed whatever the ratio), flushing on SIGTERM; an
// unsampled parent is not exported.
func TestServeExportsTraces(t *testing.T) {
	col, err := otlptest.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer col.Close()
	db := testenv.PostgresURL(t)
	if r := run(t, bin, "", []string{"DATABASE_URL=" + db}, "migrate", "--seed=demo"); r.code != 0 {
		t.Fatalf("migrate: %s", r.stderr)
	}
	base, cmd, logs := serveProcess(t, bin, "DATABASE_URL="+db, "SHUTDOWN_DELAY=0s",
		"OTEL_EXPORTER_OTLP_ENDPOINT="+col.Endpoint, "OTEL_TRACES_SAMPLER=parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG=0")
	const sampledTrace, unsampledTrace = "11111111111111111111111111111111", "22222222222222222222222222222222"
	for _, tp := range []string{"00-" + sampledTrace + "-1111111111111111-01", "00-" + unsampledTrace + "-2222222222222222-00"} {
		req, _ := http.NewRequest(http.MethodGet, base+"/api/v1/categories", nil)
		req.Header.Set("traceparent", tp)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("categories: %d", resp.StatusCode)
		}
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("serve exited with %v; logs:\n%s", err, logs.String())
	}
	spans := col.Spans()
	server := otlptest.Named(spans, "GET /api/v1/categories")
	if len(server) != 1 || server[0].TraceID != sampledTrace || server[0].ParentSpanID != "1111111111111111" || server[0].Service != "shop" {
		t.Fatalf("server spans %+v, want one in the sampled trace; all: %v", server, names(spans))
	}
	for _, s := range spans {
		if s.TraceID == unsampledTrace {
			t.Errorf("span %q of the unsampled trace was exported", s.Name)
		}
	}
	if !strings.Contains(logs.String(), `"trace_id":"`+sampledTrace+`"`) {
		t.Errorf("no log line with the request's trace_id:\n%s", logs.String())
	}
}

func names(spans []otlptest.Span) []string {
	var out []string
	for _, s := range spans {
		out = append(out, s.Name)
	}
	return out
}
