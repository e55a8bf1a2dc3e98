// Command chartpackage packages the Helm chart the way `helm package --version V
// --app-version V` does, with helm's own Go packages, so that `make chart-package` needs
// no helm binary. The release workflow pushes the archive with `helm push`.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/Masterminds/semver/v3"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
)

func main() {
	chartDir := flag.String("chart", "charts/storefront-operator", "chart directory")
	version := flag.String("version", "", "chart version and appVersion, e.g. v0.2.0 (a leading v is dropped)")
	out := flag.String("out", "bin/charts", "directory the .tgz is written to")
	flag.Parse()
	path, err := packageChart(*chartDir, *version, *out)
	if err != nil {
		fmt.Fprintln(os.Stderr, "chartpackage:", err)
		os.Exit(1)
	}
	fmt.Println(path)
}

func packageChart(chartDir, version, out string) (string, error) {
	v := strings.TrimPrefix(version, "v")
	if _, err := semver.StrictNewVersion(v); err != nil {
		return "", fmt.Errorf("version %q is not semantic (e.g. VERSION=v0.2.0): %w", version, err)
	}
	ch, err := loader.LoadDir(chartDir)
	if err != nil {
		return "", fmt.Errorf("loading %s: %w", chartDir, err)
	}
	if ch.Metadata == nil {
		return "", errors.New("chart has no Chart.yaml")
	}
	ch.Metadata.Version = v
	ch.Metadata.AppVersion = v
	if err := ch.Validate(); err != nil {
		return "", err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return "", err
	}
	return chartutil.Save(ch, out)
}
