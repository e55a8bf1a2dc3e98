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

// One control plane for the package, started by the first test that needs it so that
// the chart, Terraform and Dockerfile checks run without one. It starts with the
// Storefront CRD of config/crd/bases and the ACK CRDs (testenv.ACKCRDDir: the real ones
// in CI), so that whatever is applied to it is checked against the schemas a cluster has.
var (
	apiOnce   sync.Once
	apiEnv    *envtest.Environment
	apiCfg    *rest.Config
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
		if apiEnv, apiErr = testenv.NewEnvironment(); apiErr != nil {
			return
		}
		if apiCfg, apiErr = testenv.StartEnvironment(apiEnv); apiErr != nil {
			return
		}
		apiClient, apiErr = client.New(apiCfg, client.Options{Scheme: scheme})
	})
	if apiErr != nil {
		t.Fatal(apiErr)
	}
	return apiClient
}
