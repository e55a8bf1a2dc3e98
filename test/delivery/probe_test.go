package delivery

import (
	"testing"

	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	"helm.sh/helm/v3/pkg/lint"
	"sigs.k8s.io/kustomize/api/krusty"
	"github.com/hashicorp/hcl/v2/hclparse"
)

func TestProbe(t *testing.T) {
	_ = loader.Load
	_ = chartutil.ToRenderValues
	_ = engine.Render
	_ = lint.AllWithKubeVersion
	_ = krusty.MakeKustomizer
	_ = hclparse.NewParser
}
