package delivery

import (
	"fmt"
	"os"
	"sync"
	"testing"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/storefront-operator/storefront/test/testenv"
)

// One control plane for the package (STYLE 12), started by the first test that needs it
// so that the chart, Terraform and Dockerfile checks run without one. It starts without
// CRDs: the install test creates the chart's own.
var (
	apiOnce   sync.Once
	apiEnv    *envtest.Environment
	apiClient client.Client
	apiErr    error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if apiEnv != nil {
		if err := apiEnv.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stopping envtest:", err)
		}
	}
	testenv.Stop()
	os.Exit(code)
}

// kubeClient returns a client of the package's kube-apiserver, starting it on first use.
func kubeClient(t *testing.T) client.Client {
	t.Helper()
	apiOnce.Do(func() {
		var assets string
		if assets, apiErr = testenv.KubebuilderAssets(); apiErr != nil {
			return
		}
		apiEnv = &envtest.Environment{BinaryAssetsDirectory: assets}
		var cfg *rest.Config
		if cfg, apiErr = testenv.StartEnvironment(apiEnv); apiErr != nil {
			return
		}
		apiClient, apiErr = client.New(cfg, client.Options{Scheme: scheme})
	})
	if apiErr != nil {
		t.Fatal(apiErr)
	}
	return apiClient
}
