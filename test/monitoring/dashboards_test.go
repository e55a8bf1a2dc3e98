package monitoring

import (
	"encoding/json"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/promql/parser"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	// The operator's metrics register on controller-runtime's registry when the
	// controllers package loads.
	_ "github.com/storefront-operator/storefront/controllers"
	shopmetrics "github.com/storefront-operator/storefront/shop/platform/metrics"
)

// TestDashboardQueriesNameGatheredMetrics renders the chart's dashboard ConfigMaps and
// parses every query of every panel and template variable with Prometheus's PromQL
// parser: each must parse, and each metric it selects must be one the shop's or the
// operator's registry describes. A renamed metric fails here, not on a blank panel.
func TestDashboardQueriesNameGatheredMetrics(t *testing.T) {
	known := describedMetrics(t)
	objs := renderTemplate(t, map[string]any{"grafanaDashboards": map[string]any{"enabled": true}}, "grafana-dashboards.yaml")
	titles := map[string]bool{}
	for _, cm := range objs {
		md := cm["metadata"].(map[string]any)
		if l := md["labels"].(map[string]any); l["grafana_dashboard"] != "1" {
			t.Errorf("ConfigMap %s is not labelled grafana_dashboard: \"1\" (the sidecar's default): %v", md["name"], l)
		}
		for file, body := range cm["data"].(map[string]any) {
			var dash dashboard
			if err := json.Unmarshal([]byte(body.(string)), &dash); err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			titles[dash.Title] = true
			queries := dash.queries()
			if len(queries) == 0 {
				t.Errorf("%s: no queries", file)
			}
			for where, q := range queries {
				for _, name := range metricNames(t, file+": "+where, q) {
					if !known[name] {
						t.Errorf("%s: %s: metric %s is not described by the shop's or the operator's registry", file, where, name)
					}
				}
			}
		}
	}
	for _, want := range []string{"Storefront fleet", "Storefront shop"} {
		if !titles[want] {
			t.Errorf("no dashboard %q among %v", want, titles)
		}
	}
}

// dashboard is the part of a Grafana dashboard's JSON model that holds queries.
type dashboard struct {
	Title  string  `json:"title"`
	Panels []panel `json:"panels"`
	// Templating holds the variables; a query variable's label_values(selector, label)
	// names a metric too.
	Templating struct {
		List []struct {
			Name  string `json:"name"`
			Type  string `json:"type"`
			Query any    `json:"query"`
		} `json:"list"`
	} `json:"templating"`
}

type panel struct {
	Title   string `json:"title"`
	Targets []struct {
		RefID string `json:"refId"`
		Expr  string `json:"expr"`
	} `json:"targets"`
	// Panels are a collapsed row's.
	Panels []panel `json:"panels"`
}

var labelValues = regexp.MustCompile(`^label_values\((.*),\s*[A-Za-z_][A-Za-z0-9_]*\)$`)

// queries are the dashboard's PromQL expressions by where they are.
func (d dashboard) queries() map[string]string {
	out := map[string]string{}
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			for _, tg := range p.Targets {
				out["panel "+p.Title+" query "+tg.RefID] = tg.Expr
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		q, _ := v.Query.(string)
		if m, ok := v.Query.(map[string]any); ok {
			q, _ = m["query"].(string)
		}
		// label_values(selector, label) is Grafana's, not PromQL: its selector is.
		if m := labelValues.FindStringSubmatch(q); m != nil {
			q = m[1]
		}
		out["variable "+v.Name] = q
	}
	return out
}

// grafanaVariables are replaced by values of their type before parsing: Grafana
// substitutes them before Prometheus sees the query.
var grafanaVariables = strings.NewReplacer("$__rate_interval", "5m", "$__interval", "1m", "$__range", "1h")

// metricNames parses q and returns the metric names its selectors name.
func metricNames(t *testing.T, where, q string) []string {
	t.Helper()
	expr, err := parser.NewParser(parser.Options{}).ParseExpr(grafanaVariables.Replace(q))
	if err != nil {
		t.Errorf("%s: %q does not parse: %v", where, q, err)
		return nil
	}
	var names []string
	parser.Inspect(expr, func(node parser.Node, _ []parser.Node) error {
		if vs, ok := node.(*parser.VectorSelector); ok {
			if vs.Name == "" {
				t.Errorf("%s: a selector without a metric name: %s", where, vs)
			}
			names = append(names, vs.Name)
		}
		return nil
	})
	return names
}

var fqName = regexp.MustCompile(`fqName: "([^"]+)"`)

// describedMetrics are the names of the series the shop's registry (shop/platform/metrics)
// and the operator's (controller-runtime's, with the controllers package's metrics) can
// expose, from their collectors' descriptions: a histogram or summary of name exposes
// name_bucket, name_sum and name_count as well.
func describedMetrics(t *testing.T) map[string]bool {
	t.Helper()
	known := map[string]bool{}
	operator, ok := ctrlmetrics.Registry.(prometheus.Collector)
	if !ok {
		t.Fatalf("controller-runtime's registry %T describes nothing", ctrlmetrics.Registry)
	}
	for _, c := range []prometheus.Collector{shopmetrics.New().Registry, operator} {
		ch := make(chan *prometheus.Desc)
		go func() { c.Describe(ch); close(ch) }()
		for d := range ch {
			m := fqName.FindStringSubmatch(d.String())
			if m == nil {
				t.Fatalf("cannot read the name of %s", d)
			}
			for _, suffix := range []string{"", "_bucket", "_sum", "_count"} {
				known[m[1]+suffix] = true
			}
		}
	}
	for _, must := range []string{"shop_http_requests_total", "storefront_ready", "controller_runtime_reconcile_total"} {
		if !known[must] {
			names := make([]string, 0, len(known))
			for n := range known {
				names = append(names, n)
			}
			sort.Strings(names)
			t.Fatalf("the registries do not describe %s: %v", must, names)
		}
	}
	return known
}
