package app_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/storefront-operator/storefront/shop/platform/tracing"
	"github.com/storefront-operator/storefront/test/shoptest"
	"github.com/storefront-operator/storefront/test/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// The trace context a load balancer (or a traced client) sends: trace 0af7…, its span b7ad…,
// sampled.
const (
	lbTraceID    = "0af7651916cd43dd8448eb211c80319c"
	lbSpanID     = "b7ad6b7169203331"
	lbTraceparnt = "00-" + lbTraceID + "-" + lbSpanID + "-01"
)

// tracedShop starts a shop with the demo catalog and Redis, traced into an in-memory
// exporter through the production pipeline (tracing.NewProvider: redaction included).
func tracedShop(t *testing.T, log *syncBuffer) (*shoptest.Shop, *tracetest.InMemoryExporter) {
	t.Helper()
	exp := tracetest.NewInMemoryExporter()
	tp := tracing.NewProvider(sdktrace.NewSimpleSpanProcessor(exp), resource.Empty())
	t.Cleanup(func() { _ = tp.Shutdown(t.Context()) })
	o := shoptest.Options{Demo: true, RedisURL: testenv.RedisURL(t), TracerProvider: tp}
	if log != nil {
		o.Log = log
	}
	shop := shoptest.Start(t, o)
	return shop, exp
}

// waitSpans polls the exporter until a span named name has ended (the server span ends
// after the client has its answer).
func waitSpans(t *testing.T, exp *tracetest.InMemoryExporter, name string) tracetest.SpanStubs {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		spans := exp.GetSpans()
		for _, s := range spans {
			if s.Name == name {
				return spans
			}
		}
		if time.Now().After(deadline) {
			var names []string
			for _, s := range spans {
				names = append(names, s.Name)
			}
			t.Fatalf("no span %q within 5s; spans: %q", name, names)
		}
		time.Sleep(10 * time.Millisecond) // polling the exporter
	}
}

// TestRequestTrace: a product read that misses both cache levels is one trace, continuing
// the load balancer's: the server span (named by the route, a child of the incoming
// span), and under it the SQL statements (pgx) and the Redis commands (go-redis). No
// span carries the shopper's address, browser or anything of the request's values, and
// the access log line names the trace and the server span.
func TestRequestTrace(t *testing.T) {
	log := &syncBuffer{}
	shop, exp := tracedShop(t, log)
	exp.Reset() // the start-up's own work (the OpenAPI document) is not this test's
	const slug = "kettlebell-16-kg"
	const userAgent = "Mozilla/5.0 (shopper-fingerprint-1234)"
	resp, body := shop.Get(t, "/api/v1/products/"+slug, "traceparent", lbTraceparnt,
		"User-Agent", userAgent, "X-Forwarded-For", "203.0.113.77")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("X-Cache") != "miss" {
		t.Fatalf("GET product: %d, X-Cache %q: %s", resp.StatusCode, resp.Header.Get("X-Cache"), body)
	}
	spans := waitSpans(t, exp, "GET /api/v1/products/:idOrSlug")

	byID := map[trace.SpanID]tracetest.SpanStub{}
	var server tracetest.SpanStub
	for _, s := range spans {
		byID[s.SpanContext.SpanID()] = s
		if s.Name == "GET /api/v1/products/:idOrSlug" {
			server = s
		}
	}
	if got := server.SpanContext.TraceID().String(); got != lbTraceID {
		t.Errorf("server span's trace %s, want the load balancer's %s", got, lbTraceID)
	}
	if got := server.Parent.SpanID().String(); got != lbSpanID || !server.Parent.IsRemote() {
		t.Errorf("server span's parent %s (remote %v), want the load balancer's span %s", got, server.Parent.IsRemote(), lbSpanID)
	}
	if server.SpanKind != trace.SpanKindServer {
		t.Errorf("server span kind %v", server.SpanKind)
	}
	if v := attr(server, "http.route"); v != "/api/v1/products/:idOrSlug" {
		t.Errorf("http.route %q", v)
	}
	if v := attr(server, "http.response.status_code"); v != "200" {
		t.Errorf("http.response.status_code %q", v)
	}

	// Every span is in the one trace and descends from the server span.
	var sql, redisCmds []tracetest.SpanStub
	for _, s := range spans {
		if s.SpanContext.TraceID().String() != lbTraceID {
			t.Errorf("span %q is in trace %s, not the request's", s.Name, s.SpanContext.TraceID())
			continue
		}
		if s.SpanContext.SpanID() == server.SpanContext.SpanID() {
			continue
		}
		if !descends(s, server, byID) {
			t.Errorf("span %q (parent %s) does not descend from the server span", s.Name, s.Parent.SpanID())
		}
		switch {
		case attr(s, "db.system.name") == "postgresql":
			sql = append(sql, s)
		case attr(s, "db.system") == "redis":
			redisCmds = append(redisCmds, s)
		}
	}
	var statements int
	for _, s := range sql {
		if q := attr(s, "db.query.text"); q != "" {
			statements++
			if strings.Contains(q, slug) {
				t.Errorf("pgx span %q: db.query.text %q quotes the request's value", s.Name, q)
			}
		}
	}
	if statements == 0 {
		t.Errorf("no pgx statement span under the request (pgx spans: %d)", len(sql))
	}
	var gets, sets int
	for _, s := range redisCmds {
		switch s.Name {
		case "getrange":
			gets++
		case "set":
			sets++
		}
	}
	if gets == 0 || sets == 0 {
		t.Errorf("Redis spans under the request: %d get, %d set, want the miss's read and fill", gets, sets)
	}

	// Nothing identifying the shopper or quoting a value leaves the shop.
	for _, s := range spans {
		for _, kv := range s.Attributes {
			if tracing.Redacted[kv.Key] {
				t.Errorf("span %q exports %s", s.Name, kv.Key)
			}
			v := kv.Value.String()
			for _, secret := range []string{"203.0.113.77", "shopper-fingerprint", "127.0.0.1:"} {
				if strings.Contains(v, secret) && kv.Key != "server.address" && kv.Key != "server.port" {
					t.Errorf("span %q: %s=%q holds %q", s.Name, kv.Key, v, secret)
				}
			}
		}
	}

	// The access log line carries the trace and the server span.
	line := logLine(t, log, "Request", "/api/v1/products/"+slug)
	if line["trace_id"] != lbTraceID || line["span_id"] != server.SpanContext.SpanID().String() {
		t.Errorf("access log trace_id %v span_id %v, want %s %s", line["trace_id"], line["span_id"], lbTraceID, server.SpanContext.SpanID())
	}
}

// TestProbesAreNotTraced: kubelet probes and Prometheus scrapes make no spans.
func TestProbesAreNotTraced(t *testing.T) {
	shop, exp := tracedShop(t, nil)
	for _, p := range []string{"/healthz", "/readyz"} {
		if resp, _ := shop.Get(t, p, "traceparent", lbTraceparnt); resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d", p, resp.StatusCode)
		}
	}
	// /metrics is on the metrics listener only, which is never traced.
	shop.Metrics(t)
	// A traced request after them: once its span is there, the probes' would be too.
	exp.Reset()
	shop.Get(t, "/api/v1/categories")
	for _, s := range waitSpans(t, exp, "GET /api/v1/categories") {
		if s.SpanContext.TraceID().String() == lbTraceID {
			t.Errorf("probe or scrape traced: span %q", s.Name)
		}
	}
}

// TestUntracedShop: without a tracer provider (no OTEL_EXPORTER_OTLP_ENDPOINT) the
// router is served as it is, with no instrumentation in front, and the logs carry no
// trace even when the request brings one.
func TestUntracedShop(t *testing.T) {
	log := &syncBuffer{}
	shop := shoptest.Start(t, shoptest.Options{Demo: true, Log: log})
	if shop.App.Handler() != http.Handler(shop.App.Router) {
		t.Fatalf("handler is %T, want the bare router", shop.App.Handler())
	}
	if resp, _ := shop.Get(t, "/api/v1/categories", "traceparent", lbTraceparnt); resp.StatusCode != http.StatusOK {
		t.Fatalf("categories: %d", resp.StatusCode)
	}
	line := logLine(t, log, "Request", "/api/v1/categories")
	if _, ok := line["trace_id"]; ok {
		t.Errorf("untraced shop logged a trace_id: %v", line)
	}
}

func attr(s tracetest.SpanStub, key string) string {
	for _, kv := range s.Attributes {
		if string(kv.Key) == key {
			return kv.Value.String()
		}
	}
	return ""
}

func descends(s, root tracetest.SpanStub, byID map[trace.SpanID]tracetest.SpanStub) bool {
	for i := 0; i < 32; i++ {
		if s.Parent.SpanID() == root.SpanContext.SpanID() {
			return true
		}
		p, ok := byID[s.Parent.SpanID()]
		if !ok {
			return false
		}
		s = p
	}
	return false
}

// logLine returns the JSON log line with msg whose path is path.
func logLine(t *testing.T, log *syncBuffer, msg, path string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		for _, l := range strings.Split(log.String(), "\n") {
			var m map[string]any
			if json.Unmarshal([]byte(l), &m) == nil && m["msg"] == msg && m["path"] == path {
				return m
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %q log line for %s in:\n%s", msg, path, log.String())
		}
		time.Sleep(10 * time.Millisecond) // the access line is written after the answer
	}
}

// syncBuffer is a log sink safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
