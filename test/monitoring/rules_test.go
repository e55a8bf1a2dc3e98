package monitoring

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// The chart's PrometheusRule, rendered with its default values, unit-tested with
// `promtool test rules` (https://prometheus.io/docs/prometheus/latest/configuration/unit_testing_rules/):
// each alert fires on the series it is about and stays quiet on the cases beside it,
// the burn-rate alerts on each side of their thresholds. Defaults: availability
// 0.995 (budget 0.005), latency 0.99 under 0.25s (budget 0.01), checkout declines 0.9
// (budget 0.1); fast burn 14.4 (1h and 5m) or 6 (6h and 30m), slow burn 3 (1d and 2h)
// or 1 (3d and 6h).

// One promtool test: input series (one sample a minute) and the alerts expected at
// given times; an alert listed with no labels must not fire then.
type ruleTest struct {
	// interval is the minutes between samples: 1, or longSample for the cases that span
	// days, which evaluate the rules every longSample minutes too (promtool evaluates
	// every rule at every step: days at one-minute steps take minutes of CPU).
	interval int
	series   []inputSeries
	checks   []alertCheck
}

// longSample is the step, in minutes, of the cases that span days.
const longSample = 15

type inputSeries struct {
	Series string `json:"series"`
	Values string `json:"values"`
}

type alertCheck struct {
	at     string
	alert  string
	firing []map[string]string
}

const (
	shop     = `namespace="shop", storefront="acme"`
	minute   = 1
	hour     = 60 * minute
	day      = 24 * hour
	critical = "critical"
	warning  = "warning"
)

// counter is the values, one sample every iv minutes, of a counter that grows by
// perMinute for each segment's minutes, in promtool's expanding notation: the first
// sample is 0 at minute 0.
func counter(iv int, segments ...[2]int) string {
	var parts []string
	v, first := 0, true
	for _, s := range segments {
		samples, step := s[0]/iv, s[1]*iv
		if first {
			parts = append(parts, fmt.Sprintf("0+%dx%d", step, samples))
			first = false
		} else {
			parts = append(parts, fmt.Sprintf("%d+%dx%d", v+step, step, samples-1))
		}
		v += step * samples
	}
	return strings.Join(parts, " ")
}

// seg is minutes at perMinute.
func seg(minutes, perMinute int) [2]int { return [2]int{minutes, perMinute} }

// requests are a shop's request counters: errPerMin of every 1000 requests a minute
// answered 500, for each segment.
func requests(iv int, segments ...[2]int) []inputSeries {
	ok, bad := make([][2]int, len(segments)), make([][2]int, len(segments))
	for i, s := range segments {
		ok[i], bad[i] = seg(s[0], 1000-s[1]), seg(s[0], s[1])
	}
	return []inputSeries{
		{fmt.Sprintf(`shop_http_requests_total{%s, route="/", method="GET", status="200"}`, shop), counter(iv, ok...)},
		{fmt.Sprintf(`shop_http_requests_total{%s, route="/", method="GET", status="500"}`, shop), counter(iv, bad...)},
	}
}

// latencies are a shop's duration histogram: slowPerMin of every 1000 requests a
// minute slower than 0.25s.
func latencies(iv int, segments ...[2]int) []inputSeries {
	fast, all := make([][2]int, len(segments)), make([][2]int, len(segments))
	for i, s := range segments {
		fast[i], all[i] = seg(s[0], 1000-s[1]), seg(s[0], 1000)
	}
	return []inputSeries{
		{fmt.Sprintf(`shop_http_request_duration_seconds_bucket{%s, route="/", method="GET", status="200", le="0.25"}`, shop), counter(iv, fast...)},
		{fmt.Sprintf(`shop_http_request_duration_seconds_count{%s, route="/", method="GET", status="200"}`, shop), counter(iv, all...)},
	}
}

// checkouts are a shop's order counters: declinedPerMin of every 100 checkouts a
// minute declined.
func checkouts(iv int, segments ...[2]int) []inputSeries {
	placed, declined := make([][2]int, len(segments)), make([][2]int, len(segments))
	for i, s := range segments {
		placed[i], declined[i] = seg(s[0], 100-s[1]), seg(s[0], s[1])
	}
	return []inputSeries{
		{fmt.Sprintf(`shop_orders_placed_total{%s, currency="EUR"}`, shop), counter(iv, placed...)},
		{fmt.Sprintf(`shop_orders_declined_total{%s}`, shop), counter(iv, declined...)},
	}
}

// storefront is an operator gauge of the shop, constant at value for three days of
// samples every iv minutes, in phase.
func storefront(iv int, metric, phase string, value int, extra string) inputSeries {
	return inputSeries{fmt.Sprintf(`%s{%s, phase="%s"%s, job="storefront-operator-metrics", instance="10.0.0.1:8080"}`, metric, shop, phase, extra),
		fmt.Sprintf("%dx%d", value, 3*day/iv)}
}

// paused is the operator's storefront_ready of the shop, Paused.
func paused(iv int) inputSeries { return storefront(iv, "storefront_ready", "Paused", 0, "") }

func shopAlert(severity string) []map[string]string {
	return []map[string]string{{"namespace": "shop", "storefront": "acme", "severity": severity}}
}

func at(minutes int) string { return fmt.Sprintf("%dm", minutes) }

func with(series []inputSeries, more ...inputSeries) []inputSeries {
	return append(append([]inputSeries{}, series...), more...)
}

// burnRateTests are the six SLO alerts' cases, for each SLI. The fast-burn cases start
// after six clean hours, so that the 6h window stays under 6× unless a case means it not to.
func burnRateTests() map[string]ruleTest {
	tests := map[string]ruleTest{}
	type sli struct {
		name   string
		series func(int, ...[2]int) []inputSeries
	}
	const clean = 6 * hour
	for _, s := range []sli{{"ShopAvailability", requests}, {"ShopLatency", latencies}} {
		fast, slow := s.name+"BudgetBurnFast", s.name+"BudgetBurnSlow"
		// Budgets: availability 0.005, latency 0.01, of 1000 requests a minute. bad(x) is
		// x times the budget, in bad requests a minute.
		budget := 5
		if s.name == "ShopLatency" {
			budget = 10
		}
		bad := func(times float64) int { return int(times * float64(budget)) }
		tests[s.name+": a burn of 16× for an hour pages (1h and 5m windows over 14.4×)"] = ruleTest{
			interval: 1,
			series:   s.series(1, seg(clean, 0), seg(hour, bad(16))),
			checks:   []alertCheck{{at(clean + hour), fast, shopAlert(critical)}},
		}
		tests[s.name+": a burn of 12× for an hour does not page (under 14.4× in 1h, under 6× in 6h)"] = ruleTest{
			interval: 1,
			series:   s.series(1, seg(clean, 0), seg(hour, bad(12))),
			checks:   []alertCheck{{at(clean + hour), fast, nil}},
		}
		tests[s.name+": a burn of 7× for six hours pages (6h and 30m windows over 6×)"] = ruleTest{
			interval: 1,
			series:   s.series(1, seg(6*hour+10, bad(7))),
			checks:   []alertCheck{{at(6*hour + 10), fast, shopAlert(critical)}},
		}
		tests[s.name+": a burn of 5× for six hours does not page (under 6×)"] = ruleTest{
			interval: 1,
			series:   s.series(1, seg(6*hour+10, bad(5))),
			checks:   []alertCheck{{at(6*hour + 10), fast, nil}},
		}
		tests[s.name+": a burn of 40× that stopped ten minutes ago no longer pages (the 5m window is clean)"] = ruleTest{
			interval: 1,
			series:   s.series(1, seg(clean, 0), seg(50, bad(40)), seg(10, 0)),
			checks:   []alertCheck{{at(clean + 40), fast, shopAlert(critical)}, {at(clean + hour), fast, nil}},
		}
		tests[s.name+": a fast burn of a Paused shop pages no one"] = ruleTest{
			interval: 1,
			series:   with(s.series(1, seg(clean, 0), seg(hour, bad(16))), paused(1)),
			checks:   []alertCheck{{at(clean + hour), fast, nil}},
		}
		tests[s.name+": a burn of 4× for a day opens a ticket (1d and 2h windows over 3×)"] = ruleTest{
			interval: longSample,
			series:   s.series(longSample, seg(day+30, bad(4))),
			checks:   []alertCheck{{at(day + 30), slow, shopAlert(warning)}},
		}
		tests[s.name+": a burn of 2.4× for two hours after two clean days opens no ticket (under 3× in 2h; under 1× in 3d)"] = ruleTest{
			interval: longSample,
			series:   s.series(longSample, seg(2*day, 0), seg(2*hour, bad(2.4))),
			checks:   []alertCheck{{at(2*day + 2*hour), slow, nil}},
		}
		tests[s.name+": a burn of 1.2× for three days opens a ticket (3d and 6h windows over 1×)"] = ruleTest{
			interval: longSample,
			series:   s.series(longSample, seg(3*day, bad(1.2))),
			checks:   []alertCheck{{at(3 * day), slow, shopAlert(warning)}},
		}
		tests[s.name+": a burn of 0.8× for three days opens no ticket (under 1×)"] = ruleTest{
			interval: longSample,
			series:   s.series(longSample, seg(3*day, bad(0.8))),
			checks:   []alertCheck{{at(3 * day), slow, nil}},
		}
		tests[s.name+": a slow burn of a Hibernated shop opens no ticket"] = ruleTest{
			interval: longSample,
			series:   with(s.series(longSample, seg(day+30, bad(4))), storefront(longSample, "storefront_ready", "Hibernated", 0, "")),
			checks:   []alertCheck{{at(day + 30), slow, nil}},
		}
	}
	// Checkout declines: budget 0.1 of 100 checkouts a minute, so the 14.4× tier cannot
	// be reached; 6× (60% declined) over 6h and 30m pages.
	fast, slow := "ShopCheckoutDeclinesBudgetBurnFast", "ShopCheckoutDeclinesBudgetBurnSlow"
	tests["checkout declines: 65% declined for six hours pages (over 6× the 10% budget)"] = ruleTest{
		interval: 1,
		series:   checkouts(1, seg(6*hour+10, 65)),
		checks:   []alertCheck{{at(6*hour + 10), fast, shopAlert(critical)}},
	}
	tests["checkout declines: 55% declined for six hours does not page (under 6×)"] = ruleTest{
		interval: 1,
		series:   checkouts(1, seg(6*hour+10, 55)),
		checks:   []alertCheck{{at(6*hour + 10), fast, nil}},
	}
	tests["checkout declines: 32% declined for a day opens a ticket (over 3×)"] = ruleTest{
		interval: longSample,
		series:   checkouts(longSample, seg(day+30, 32)),
		checks:   []alertCheck{{at(day + 30), slow, shopAlert(warning)}},
	}
	tests["checkout declines: 12% declined for three days opens a ticket (over 1× in 3d and 6h)"] = ruleTest{
		interval: longSample,
		series:   checkouts(longSample, seg(3*day, 12)),
		checks:   []alertCheck{{at(3 * day), slow, shopAlert(warning)}},
	}
	tests["checkout declines: 8% declined for three days opens no ticket (under 1×)"] = ruleTest{
		interval: longSample,
		series:   checkouts(longSample, seg(3*day, 8)),
		checks:   []alertCheck{{at(3 * day), slow, nil}},
	}
	tests["checkout declines: a Paused shop's declines open no ticket"] = ruleTest{
		interval: longSample,
		series:   with(checkouts(longSample, seg(day+30, 32)), paused(longSample)),
		checks:   []alertCheck{{at(day + 30), slow, nil}},
	}
	return tests
}

func operatorAlertTests() map[string]ruleTest {
	notReady := func(phase string) []map[string]string {
		return []map[string]string{{"namespace": "shop", "storefront": "acme", "severity": "warning"}}
	}
	reconciles := func(errPerMin int) []inputSeries {
		return []inputSeries{
			{`controller_runtime_reconcile_total{controller="storefront", result="success", job="storefront-operator-metrics"}`, counter(1, seg(hour, 100-errPerMin))},
			{`controller_runtime_reconcile_total{controller="storefront", result="error", job="storefront-operator-metrics"}`, counter(1, seg(hour, errPerMin))},
		}
	}
	up := func(v int) inputSeries {
		return inputSeries{`up{job="storefront-operator-metrics", namespace="storefront-system", instance="10.0.0.1:8080"}`, fmt.Sprintf("%dx60", v)}
	}
	return map[string]ruleTest{
		"StorefrontNotReady: not Ready (Degraded) fires after 15 minutes, not before": {
			series: []inputSeries{storefront(1, "storefront_ready", "Degraded", 0, "")},
			checks: []alertCheck{{at(14), "StorefrontNotReady", nil}, {at(15), "StorefrontNotReady", notReady("Degraded")}},
		},
		"StorefrontNotReady: a Storefront still provisioning does not fire; StorefrontProvisioningSlow does after 45 minutes": {
			series: []inputSeries{storefront(1, "storefront_ready", "Provisioning", 0, "")},
			checks: []alertCheck{{at(60), "StorefrontNotReady", nil}, {at(44), "StorefrontProvisioningSlow", nil},
				{at(45), "StorefrontProvisioningSlow", shopAlert(warning)}},
		},
		"StorefrontProvisioningSlow: a Degraded Storefront is StorefrontNotReady's": {
			series: []inputSeries{storefront(1, "storefront_ready", "Degraded", 0, "")},
			checks: []alertCheck{{at(60), "StorefrontProvisioningSlow", nil}},
		},
		"StorefrontNotReady: a Ready Storefront does not fire": {
			series: []inputSeries{storefront(1, "storefront_ready", "Ready", 1, "")},
			checks: []alertCheck{{at(60), "StorefrontNotReady", nil}},
		},
		"StorefrontNotReady: Paused and Hibernated Storefronts do not fire": {
			series: []inputSeries{paused(1), {strings.Replace(storefront(1, "storefront_ready", "Hibernated", 0, "").Series, `"acme"`, `"other"`, 1), "0x60"}},
			checks: []alertCheck{{at(60), "StorefrontNotReady", nil}},
		},
		"StorefrontMigrationFailed: a failed migration fires": {
			series: []inputSeries{storefront(1, "storefront_migration_failed", "Degraded", 1, "")},
			checks: []alertCheck{{at(1), "StorefrontMigrationFailed", shopAlert(critical)}},
		},
		"StorefrontMigrationFailed: no failure, or a Paused Storefront's, does not fire": {
			series: []inputSeries{storefront(1, "storefront_migration_failed", "Ready", 0, ""),
				{strings.Replace(storefront(1, "storefront_migration_failed", "Paused", 1, "").Series, `"acme"`, `"other"`, 1), "1x60"}},
			checks: []alertCheck{{at(10), "StorefrontMigrationFailed", nil}},
		},
		"StorefrontACKTerminal: a terminal database fires after 5 minutes, naming the store": {
			series: []inputSeries{storefront(1, "storefront_ack_terminal", "Degraded", 1, `, store="database"`),
				storefront(1, "storefront_ack_terminal", "Degraded", 0, `, store="cache"`)},
			checks: []alertCheck{{at(4), "StorefrontACKTerminal", nil},
				{at(5), "StorefrontACKTerminal", []map[string]string{{"namespace": "shop", "storefront": "acme", "store": "database", "severity": critical}}}},
		},
		"StorefrontACKTerminal: a Hibernated Storefront's terminal store does not fire": {
			series: []inputSeries{storefront(1, "storefront_ack_terminal", "Hibernated", 1, `, store="database"`)},
			checks: []alertCheck{{at(10), "StorefrontACKTerminal", nil}},
		},
		"StorefrontReconcileErrors: 11% of reconciles failing for 30 minutes fires": {
			series: reconciles(11),
			checks: []alertCheck{{at(30), "StorefrontReconcileErrors", []map[string]string{{"severity": warning}}}},
		},
		"StorefrontReconcileErrors: 9% of reconciles failing does not fire (the threshold is 10%)": {
			series: reconciles(9),
			checks: []alertCheck{{at(60), "StorefrontReconcileErrors", nil}},
		},
		"StorefrontOperatorDown: the operator's target down for 5 minutes fires": {
			series: []inputSeries{up(0)},
			checks: []alertCheck{{at(4), "StorefrontOperatorDown", nil},
				{at(5), "StorefrontOperatorDown", []map[string]string{{"severity": critical}}}},
		},
		"StorefrontOperatorDown: no target at all fires": {
			series: []inputSeries{{`up{job="something-else", namespace="storefront-system"}`, "1x60"}},
			checks: []alertCheck{{at(10), "StorefrontOperatorDown", []map[string]string{{"severity": critical}}}},
		},
		"StorefrontOperatorDown: the operator up does not fire": {
			series: []inputSeries{up(1)},
			checks: []alertCheck{{at(30), "StorefrontOperatorDown", nil}},
		},
	}
}

// alertsCovered are the chart's alerts; each must have a firing and a not-firing case.
func TestPrometheusRuleUnitTests(t *testing.T) {
	tool := promtool(t)
	objs := renderTemplate(t, map[string]any{"prometheusRule": map[string]any{"enabled": true}}, "prometheusrule.yaml")
	if len(objs) != 1 || objs[0]["kind"] != "PrometheusRule" {
		t.Fatalf("rendered %v, want one PrometheusRule", objs)
	}
	spec := objs[0]["spec"].(map[string]any)
	alerts := map[string]bool{}
	var groupOrder []string
	for _, g := range spec["groups"].([]any) {
		groupOrder = append(groupOrder, g.(map[string]any)["name"].(string))
		for _, r := range g.(map[string]any)["rules"].([]any) {
			rule := r.(map[string]any)
			if name, ok := rule["alert"].(string); ok {
				alerts[name] = true
				ann, _ := rule["annotations"].(map[string]any)
				if ann["summary"] == nil || ann["description"] == nil {
					t.Errorf("alert %s has no summary or description", name)
				}
				// The cases check when alerts fire and with which labels; the annotations'
				// text is not theirs to pin.
				delete(rule, "annotations")
			}
		}
	}

	tests := burnRateTests()
	for name, tc := range operatorAlertTests() {
		tests[name] = tc
	}
	firing, quiet := map[string]bool{}, map[string]bool{}
	cases := map[int][]map[string]any{}
	for name, tc := range tests {
		if tc.interval == 0 {
			tc.interval = 1
		}
		var checks []map[string]any
		for _, c := range tc.checks {
			if !alerts[c.alert] {
				t.Errorf("%s: the chart has no alert %s", name, c.alert)
			}
			var exp []map[string]any
			for _, l := range c.firing {
				exp = append(exp, map[string]any{"exp_labels": l})
			}
			if len(exp) > 0 {
				firing[c.alert] = true
			} else {
				quiet[c.alert] = true
			}
			checks = append(checks, map[string]any{"eval_time": c.at, "alertname": c.alert, "exp_alerts": exp})
		}
		cases[tc.interval] = append(cases[tc.interval], map[string]any{
			"name": name, "interval": at(tc.interval), "input_series": tc.series, "alert_rule_test": checks})
	}
	for a := range alerts {
		if !firing[a] || !quiet[a] {
			t.Errorf("alert %s needs a firing and a not-firing case (firing %v, not firing %v)", a, firing[a], quiet[a])
		}
	}

	dir := t.TempDir()
	// RULES_TEST_DIR keeps the files, to run promtool on them by hand.
	if d := os.Getenv("RULES_TEST_DIR"); d != "" {
		dir = d
	}
	writeYAML(t, filepath.Join(dir, "rules.yaml"), spec)
	// One file per sampling step: a file evaluates the rules at one interval.
	args := []string{"test", "rules"}
	n := 0
	for iv, cs := range cases {
		name := fmt.Sprintf("tests-%dm.yaml", iv)
		// The recording rules' group is evaluated first at each step: promtool's order is
		// otherwise random, and at 15-minute steps the alerts would read the previous
		// step's ratios, past the 5-minute lookback, and find none.
		writeYAML(t, filepath.Join(dir, name), map[string]any{
			"rule_files": []string{"rules.yaml"}, "evaluation_interval": at(iv), "group_eval_order": groupOrder, "tests": cs})
		args = append(args, name)
		n += len(cs)
	}
	cmd := exec.Command(tool, "check", "rules", "rules.yaml")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("promtool check rules: %v\n%s", err, out)
	}
	cmd = exec.Command(tool, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("promtool %s (%d cases): %v\n%s", strings.Join(args, " "), n, err, out)
	}
	t.Logf("promtool %s: %d cases passed", strings.Join(args, " "), n)
}

func writeYAML(t *testing.T, path string, v any) {
	t.Helper()
	b, err := yaml.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}
