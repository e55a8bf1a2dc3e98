package monitoring

import (
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"testing"

	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	"sigs.k8s.io/yaml"

	"github.com/storefront-operator/storefront/test/testenv"
)

// The release the chart is rendered as: its full name is the release name, so the
// operator's metrics Service (and the job label of its targets) is
// storefront-operator-metrics.
const (
	releaseName      = "storefront-operator"
	releaseNamespace = "storefront-system"
)

// renderTemplate renders the chart as `helm template` does, with values over its
// defaults (checked against values.schema.json), and returns the objects of one
// template file.
func renderTemplate(t *testing.T, values map[string]any, template string) []map[string]any {
	t.Helper()
	ch, err := loader.LoadDir(filepath.Join(testenv.RepoRoot(), "charts", "storefront-operator"))
	if err != nil {
		t.Fatal(err)
	}
	vals := map[string]any{"image": map[string]any{"repository": "registry.example/storefront-operator", "tag": "0.2.0"}}
	for k, v := range values {
		vals[k] = v
	}
	caps := chartutil.DefaultCapabilities.Copy()
	rv, err := chartutil.ToRenderValues(ch, vals, chartutil.ReleaseOptions{
		Name: releaseName, Namespace: releaseNamespace, Revision: 1, IsInstall: true}, caps)
	if err != nil {
		t.Fatalf("values: %v", err)
	}
	files, err := engine.Render(ch, rv)
	if err != nil {
		t.Fatalf("rendering the chart: %v", err)
	}
	text, ok := files["storefront-operator/templates/"+template]
	if !ok {
		names := make([]string, 0, len(files))
		for n := range files {
			names = append(names, n)
		}
		sort.Strings(names)
		t.Fatalf("no template %s among %v", template, names)
	}
	var out []map[string]any
	for _, doc := range splitDocuments(text) {
		var obj map[string]any
		if err := yaml.Unmarshal([]byte(doc), &obj); err != nil {
			t.Fatalf("%s: %v\n%s", template, err, doc)
		}
		if obj != nil {
			out = append(out, obj)
		}
	}
	return out
}

// splitDocuments splits a YAML stream at its "---" lines.
func splitDocuments(s string) []string {
	var docs []string
	start := 0
	for i := 0; i < len(s); {
		end := i
		for end < len(s) && s[end] != '\n' {
			end++
		}
		if s[i:end] == "---" {
			docs = append(docs, s[start:i])
			start = end
		}
		i = end + 1
	}
	return append(docs, s[start:])
}

// promtool is the promtool `make promtool` builds (PROMTOOL, as the Makefile exports
// it, or the newest under bin/tools/promtool/); the test fails, naming the command,
// when there is none.
func promtool(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("PROMTOOL"); p != "" {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	matches, _ := filepath.Glob(filepath.Join(testenv.RepoRoot(), "bin", "tools", "promtool", "*", "promtool"))
	sort.Strings(matches)
	for i := len(matches) - 1; i >= 0; i-- {
		if _, err := exec.LookPath(matches[i]); err == nil {
			return matches[i]
		}
	}
	t.Fatal("promtool not found: run `make promtool` (builds github.com/prometheus/prometheus/cmd/promtool with -tags remove_all_sd into bin/tools/promtool/<version>/; `make test` does it)")
	return ""
}
