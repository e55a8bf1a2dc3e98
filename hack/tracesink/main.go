// Command tracesink is a collector for trying traces on one machine: it receives OTLP/HTTP
// traces (test/otlptest, the receiver the tests use) on -addr and prints each trace as an
// indented tree once it has been quiet for a second. Point the operator and the shops at
// it with OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318 (make demo does, when that
// variable is set). A real OpenTelemetry Collector or Jaeger takes its place anywhere.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/storefront-operator/storefront/test/otlptest"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:4318", "address to receive OTLP/HTTP on")
	flag.Parse()
	r, err := otlptest.Listen(*addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "tracesink:", err)
		os.Exit(1)
	}
	defer r.Close()
	fmt.Fprintf(os.Stderr, "tracesink: receiving OTLP/HTTP traces at %s (OTEL_EXPORTER_OTLP_ENDPOINT=%s); Ctrl-C stops\n", r.Endpoint, r.Endpoint)
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt, syscall.SIGTERM)
	printed := map[string]bool{}
	lastSeen := map[string]time.Time{}
	counts := map[string]int{}
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		byTrace := map[string][]otlptest.Span{}
		for _, s := range r.Spans() {
			byTrace[s.TraceID] = append(byTrace[s.TraceID], s)
		}
		for id, spans := range byTrace {
			if len(spans) != counts[id] {
				counts[id], lastSeen[id] = len(spans), time.Now()
				printed[id] = false
				continue
			}
			if !printed[id] && time.Since(lastSeen[id]) > time.Second {
				printed[id] = true
				Print(os.Stdout, spans)
			}
		}
	}
}

// Print writes one trace as a tree: each span under its parent, with its service and
// the attributes that say what it did.
func Print(w io.Writer, spans []otlptest.Span) {
	if len(spans) == 0 {
		return
	}
	children := map[string][]otlptest.Span{}
	ids := map[string]bool{}
	for _, s := range spans {
		ids[s.SpanID] = true
	}
	var roots []otlptest.Span
	for _, s := range spans {
		if s.ParentSpanID == "" || !ids[s.ParentSpanID] {
			roots = append(roots, s)
			continue
		}
		children[s.ParentSpanID] = append(children[s.ParentSpanID], s)
	}
	fmt.Fprintf(w, "trace %s (%d spans)\n", spans[0].TraceID, len(spans))
	var walk func(s otlptest.Span, depth int)
	walk = func(s otlptest.Span, depth int) {
		fmt.Fprintf(w, "%s%s [%s]%s\n", strings.Repeat("  ", depth+1), s.Name, s.Service, describe(s))
		for _, c := range children[s.SpanID] {
			walk(c, depth+1)
		}
	}
	for _, s := range roots {
		walk(s, 0)
	}
}

// describe picks the attributes worth a glance.
func describe(s otlptest.Span) string {
	var parts []string
	keys := make([]string, 0, len(s.Attributes))
	for k := range s.Attributes {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		switch k {
		case "storefront.name", "storefront.generation", "storefront.result", "storefront.status.phase",
			"http.response.status_code", "db.query.text", "shop.migrations.applied":
			v := s.Attributes[k]
			if len(v) > 60 {
				v = v[:57] + "..."
			}
			parts = append(parts, k+"="+v)
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return " " + strings.Join(parts, " ")
}
