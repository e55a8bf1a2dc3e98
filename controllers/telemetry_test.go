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
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"

	shopv1alpha1 "github.com/storefront-operator/storefront/api/v1alpha1"
	"github.com/storefront-operator/storefront/test/fake"
)

func envMap(env []corev1.EnvVar) map[string]string {
	m := map[string]string{}
	for _, e := range env {
		m[e.Name] = e.Value
	}
	return m
}

func TestOTLPEnv(t *testing.T) {
	collector := OTLPDefaults{Endpoint: "http://otel-collector.observability:4318"}
	for name, tc := range map[string]struct {
		spec     *shopv1alpha1.OTLPSpec
		defaults OTLPDefaults
		want     map[string]string // nil: no OTEL_* variable at all
	}{
		"no endpoint anywhere: nothing": {nil, OTLPDefaults{Protocol: "grpc", SamplingRatio: "0.5"}, nil},
		"the operator's endpoint with the built-in protocol and ratio": {nil, collector, map[string]string{
			envOTLPEndpoint: "http://otel-collector.observability:4318", envOTLPProtocol: "http/protobuf",
			envTracesSampler: "parentbased_traceidratio", envTracesSamplerArg: "0.1", envServiceName: "shop",
			envResourceAttributes: "k8s.namespace.name=team-a,service.namespace=team-a,storefront.name=acme",
		}},
		"the spec overrides each default it sets": {&shopv1alpha1.OTLPSpec{Endpoint: "https://collector.example:4317", Protocol: "grpc", SamplingRatio: "1"},
			OTLPDefaults{Endpoint: "http://other:4318", Protocol: "http/protobuf", SamplingRatio: "0.2"}, map[string]string{
				envOTLPEndpoint: "https://collector.example:4317", envOTLPProtocol: "grpc",
				envTracesSampler: "parentbased_traceidratio", envTracesSamplerArg: "1", envServiceName: "shop",
				envResourceAttributes: "k8s.namespace.name=team-a,service.namespace=team-a,storefront.name=acme",
			}},
		"a spec without endpoint keeps the operator's, with its own ratio": {&shopv1alpha1.OTLPSpec{SamplingRatio: "0.01"}, collector, map[string]string{
			envOTLPEndpoint: "http://otel-collector.observability:4318", envOTLPProtocol: "http/protobuf",
			envTracesSampler: "parentbased_traceidratio", envTracesSamplerArg: "0.01", envServiceName: "shop",
			envResourceAttributes: "k8s.namespace.name=team-a,service.namespace=team-a,storefront.name=acme",
		}},
		"resource attributes are added, may override, and are percent-encoded": {&shopv1alpha1.OTLPSpec{ResourceAttributes: map[string]string{
			"deployment.environment.name": "prod eu,1", "service.namespace": "shops=a"}}, collector, map[string]string{
			envOTLPEndpoint: "http://otel-collector.observability:4318", envOTLPProtocol: "http/protobuf",
			envTracesSampler: "parentbased_traceidratio", envTracesSamplerArg: "0.1", envServiceName: "shop",
			envResourceAttributes: "deployment.environment.name=prod%20eu%2C1,k8s.namespace.name=team-a,service.namespace=shops%3Da,storefront.name=acme",
		}},
	} {
		t.Run(name, func(t *testing.T) {
			sf := newStorefront("team-a")
			sf.Spec.Observability.OTLP = tc.spec
			got := otlpEnv(sf, tc.defaults)
			if tc.want == nil {
				if len(got) != 0 {
					t.Fatalf("env %v, want none", got)
				}
				return
			}
			g := NewWithT(t)
			g.Expect(envMap(got)).To(Equal(tc.want))
		})
	}
}

func TestOTLPEgress(t *testing.T) {
	for name, tc := range map[string]struct {
		endpoint, protocol string
		want               int32 // 0: no rule
	}{
		"no endpoint: no rule":             {"", "", 0},
		"the URL's port":                   {"http://collector:55681", "http/protobuf", 55681},
		"http/protobuf without port: 4318": {"https://collector.example", "http/protobuf", 4318},
		"grpc without port: 4317":          {"http://collector", "grpc", 4317},
	} {
		t.Run(name, func(t *testing.T) {
			sf := newStorefront("team-a")
			rules := otlpEgress(sf, OTLPDefaults{Endpoint: tc.endpoint, Protocol: tc.protocol})
			if tc.want == 0 {
				if len(rules) != 0 {
					t.Fatalf("rules %v, want none", rules)
				}
				return
			}
			if len(rules) != 1 || len(rules[0].Ports) != 1 || rules[0].Ports[0].Port.IntVal != tc.want || len(rules[0].To) != 0 {
				t.Fatalf("rules %+v, want TCP %d to any address", rules, tc.want)
			}
		})
	}
}

// TestWithTraceContext: the migration container gets the span of ctx as TRACEPARENT
// (sampled flag included) and no other container does; without a span, nothing.
func TestWithTraceContext(t *testing.T) {
	tp := sdktrace.NewTracerProvider()
	ctx, span := tp.Tracer("test").Start(context.Background(), "phase migration")
	defer span.End()
	spec := &corev1.PodSpec{Containers: []corev1.Container{{Name: migrateContainerName}, {Name: "sidecar"}}}
	withTraceContext(ctx, spec)
	sc := span.SpanContext()
	want := "00-" + sc.TraceID().String() + "-" + sc.SpanID().String() + "-01"
	if got := envMap(spec.Containers[0].Env)[envTraceparent]; got != want {
		t.Errorf("TRACEPARENT %q, want %q", got, want)
	}
	if len(spec.Containers[1].Env) != 0 {
		t.Errorf("sidecar env %v", spec.Containers[1].Env)
	}
	bare := &corev1.PodSpec{Containers: []corev1.Container{{Name: migrateContainerName}}}
	withTraceContext(context.Background(), bare)
	if len(bare.Containers[0].Env) != 0 {
		t.Errorf("without a span: env %v", bare.Containers[0].Env)
	}
}

// TestTracedReconcile: with a tracer provider, every reconcile is a span "Reconcile
// Storefront" naming the Storefront and its generation, with a child per phase; the
// migration Job carries the migration phase's span as TRACEPARENT (a child of a
// reconcile of this Storefront), the shop pods the collector settings and no trace
// context, and both NetworkPolicies let the pods reach the collector's port. At rest,
// nothing is written.
func TestTracedReconcile(t *testing.T) {
	ns := newNamespace(t)
	startStandIns(t, ns, fake.Options{})
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	run := startOperator(t, ns, Options{TracerProvider: tp, OTLP: OTLPDefaults{Endpoint: "http://otel-collector.observability:4318"}})
	g := NewWithT(t)
	readyShop(t, ns, withExternalCache())

	jobs := migrationJobs(g, ns)
	g.Expect(jobs).To(HaveLen(1))
	jobEnv := envMap(jobs[0].Spec.Template.Spec.Containers[0].Env)
	g.Expect(jobEnv).To(HaveKeyWithValue(envOTLPEndpoint, "http://otel-collector.observability:4318"))
	parts := strings.Split(jobEnv[envTraceparent], "-")
	g.Expect(parts).To(HaveLen(4), "TRACEPARENT %q", jobEnv[envTraceparent])

	var mine []tracetest.SpanStub
	byID := map[trace.SpanID]tracetest.SpanStub{}
	for _, s := range exp.GetSpans() {
		byID[s.SpanContext.SpanID()] = s
		if s.Name == "Reconcile Storefront" && attrOf(s, "k8s.namespace.name") == ns {
			mine = append(mine, s)
		}
	}
	g.Expect(mine).NotTo(BeEmpty())
	for _, s := range mine {
		g.Expect(attrOf(s, "storefront.name")).To(Equal("acme"))
		g.Expect(attrOf(s, "storefront.generation")).NotTo(BeEmpty())
		g.Expect(attrOf(s, "storefront.result")).To(BeElementOf("ok", "error"))
		g.Expect(attrOf(s, "storefront.status.phase")).NotTo(BeEmpty())
	}
	// The Job's parent span: the migration phase of one of this Storefront's reconciles.
	migration, ok := byID[spanIDOf(t, parts[2])]
	g.Expect(ok).To(BeTrue(), "TRACEPARENT names span %s, which was not exported", parts[2])
	g.Expect(migration.Name).To(Equal("phase migration"))
	g.Expect(migration.SpanContext.TraceID().String()).To(Equal(parts[1]))
	reconcile := byID[migration.Parent.SpanID()]
	g.Expect(reconcile.Name).To(Equal("Reconcile Storefront"))
	g.Expect(attrOf(reconcile, "k8s.namespace.name")).To(Equal(ns))
	// That reconcile ran every phase, each a child of it, in order.
	var phases []string
	for _, s := range exp.GetSpans() {
		if s.Parent.SpanID() == reconcile.SpanContext.SpanID() {
			phases = append(phases, attrOf(s, "storefront.phase"))
		}
	}
	var want []string
	for _, p := range run.reconciler.phases() {
		want = append(want, p.name)
	}
	g.Expect(phases).To(Equal(want))

	d := deployment(g, ns)
	shopEnv := envMap(d.Spec.Template.Spec.Containers[0].Env)
	g.Expect(shopEnv).To(HaveKeyWithValue(envTracesSampler, "parentbased_traceidratio"))
	g.Expect(shopEnv).To(HaveKeyWithValue(envOTLPEndpoint, "http://otel-collector.observability:4318"))
	g.Expect(shopEnv).NotTo(HaveKey(envTraceparent))
	for _, name := range []string{objectName(newStorefront(ns), roleShop), objectName(newStorefront(ns), roleMigrate)} {
		np := get(g, ns, name, &networkingv1.NetworkPolicy{})
		var collector bool
		for _, r := range np.Spec.Egress {
			for _, p := range r.Ports {
				collector = collector || (p.Port.IntVal == 4318 && len(r.To) == 0)
			}
		}
		g.Expect(collector).To(BeTrue(), "NetworkPolicy %s has no egress to the collector's port", name)
	}

	// At rest, the traced reconciles change nothing.
	generation := d.Generation
	run.counter.Reset()
	g.Consistently(func(g Gomega) {
		g.Expect(deployment(g, ns).Generation).To(Equal(generation))
	}).WithTimeout(quiet).WithPolling(poll).Should(Succeed())
	g.Expect(run.counter.Mutations()).To(BeZero(), "writes at rest: %s", run.counter.MutationSummary())
}

func attrOf(s tracetest.SpanStub, key string) string {
	for _, kv := range s.Attributes {
		if string(kv.Key) == key {
			return kv.Value.String()
		}
	}
	return ""
}

func spanIDOf(t *testing.T, hex string) trace.SpanID {
	id, err := trace.SpanIDFromHex(hex)
	if err != nil {
		t.Fatalf("span ID %q: %v", hex, err)
	}
	return id
}

// TestObservabilityValidation: the API server refuses a bad spec.observability.otlp,
// naming the field, and takes a good one.
func TestObservabilityValidation(t *testing.T) {
	ns := newNamespace(t)
	for name, tc := range map[string]struct {
		otlp  string
		field string // "": accepted
	}{
		"a full, valid block":               {`{endpoint: "http://otel-collector.observability:4318", protocol: grpc, samplingRatio: "0.25", resourceAttributes: {deployment.environment.name: prod}}`, ""},
		"ratio 1":                           {`{samplingRatio: "1"}`, ""},
		"an endpoint that is no URL":        {`{endpoint: "otel-collector:4318"}`, "spec.observability.otlp.endpoint"},
		"an endpoint with a query":          {`{endpoint: "http://c:4318/?token=x"}`, "spec.observability.otlp.endpoint"},
		"an unknown protocol":               {`{protocol: "http/json"}`, "spec.observability.otlp.protocol"},
		"a ratio above 1":                   {`{samplingRatio: "1.5"}`, "spec.observability.otlp.samplingRatio"},
		"a ratio that is no number":         {`{samplingRatio: "ten percent"}`, "spec.observability.otlp.samplingRatio"},
		"an attribute name with a comma":    {`{resourceAttributes: {"a,b": x}}`, "spec.observability.otlp.resourceAttributes"},
		"an attribute value over 255 chars": {`{resourceAttributes: {a: "` + strings.Repeat("x", 256) + `"}}`, "spec.observability.otlp.resourceAttributes"},
	} {
		t.Run(name, func(t *testing.T) {
			sf := decodeStorefront(t, minimalStorefront+"  observability:\n    otlp: "+tc.otlp+"\n")
			sf.SetNamespace(ns)
			sf.SetName("o-" + strings.NewReplacer(" ", "-", ",", "").Replace(strings.ToLower(name)))
			if len(sf.Name) > 40 {
				sf.Name = sf.Name[:40]
			}
			sf.Name = strings.TrimSuffix(sf.Name, "-")
			err := k8sClient.Create(context.Background(), sf)
			switch {
			case tc.field == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.field != "" && err == nil:
				t.Fatal("accepted")
			case tc.field != "" && !strings.Contains(err.Error(), tc.field):
				t.Errorf("error does not name %s: %v", tc.field, err)
			}
		})
	}
}
