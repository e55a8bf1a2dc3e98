package monitoring

import (
	"context"
	"flag"
	"fmt"
	"os"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/storefront-operator/storefront/test/testenv"
)

// The envtest suite of this package starts WITHOUT the Prometheus Operator's CRDs: a test
// installs them (test/crds/monitoring) while the operator runs, as a cluster admin may,
// so the suite's control plane is its own, not the controllers package's (whose tests
// would otherwise see ServiceMonitors appear). The promtool and dashboard tests need no
// control plane and do not start one.
var (
	testEnv    *envtest.Environment
	cfg        *rest.Config
	k8sClient  client.Client
	testScheme = testenv.Scheme()
	// envErr is why the control plane did not start; the tests that need it fail with it.
	envErr error
)

func TestMain(m *testing.M) {
	flag.Parse()
	testenv.SuiteLogger() // the operator's logs: stderr with -v, nowhere otherwise
	code := m.Run()
	if testEnv != nil {
		if err := testEnv.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "stopping envtest: %v\n", err)
		}
	}
	testenv.Stop()
	os.Exit(code)
}

// controlPlane starts the suite's envtest on first use.
func controlPlane(t *testing.T) *rest.Config {
	t.Helper()
	if cfg == nil && envErr == nil {
		testEnv, envErr = testenv.NewEnvironment()
		if envErr == nil {
			cfg, envErr = testenv.StartEnvironment(testEnv)
			if envErr != nil {
				testEnv = nil
			}
		}
		if envErr == nil {
			k8sClient, envErr = client.New(cfg, client.Options{Scheme: testScheme})
		}
	}
	if envErr != nil {
		t.Fatalf("starting envtest: %v", envErr)
	}
	return cfg
}

// newNamespace creates a namespace for one test.
func newNamespace(t *testing.T) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "sf-monitoring-"}}
	if err := k8sClient.Create(context.Background(), ns); err != nil {
		t.Fatalf("creating namespace: %v", err)
	}
	t.Cleanup(func() { _ = k8sClient.Delete(context.Background(), ns) })
	return ns.Name
}
