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

package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	shopv1alpha1 "github.com/storefront-operator/storefront/api/v1alpha1"
	"github.com/storefront-operator/storefront/controllers"
	"github.com/storefront-operator/storefront/test/fake"
	"github.com/storefront-operator/storefront/test/testenv"
)

// The plugin is tested as users run it: against a real API server (envtest) through a
// kubeconfig file, with the real operator (controllers.Setup) and the status-only
// stand-ins of test/fake for the Job, Deployment, HPA and ACK controllers, as
// controllers/suite_test.go runs them. No kubelet runs: pods exist only where a test
// writes the kubelet's record itself.

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

const (
	eventually = 60 * time.Second
	poll       = 100 * time.Millisecond
)

var (
	cfg        *rest.Config
	k8sClient  client.Client
	kubeconfig string
	testScheme = testenv.Scheme()
)

func TestMain(m *testing.M) {
	os.Exit(runSuite(m))
}

func runSuite(m *testing.M) int {
	flag.Parse()
	testenv.SuiteLogger() // the operator's logs: stderr with -v, nowhere otherwise
	env, err := testenv.NewEnvironment()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	cfg, err = testenv.StartEnvironment(env)
	if err != nil {
		fmt.Fprintf(os.Stderr, "starting envtest: %v\n", err)
		return 1
	}
	defer func() { _ = env.Stop() }()
	k8sClient, err = client.New(cfg, client.Options{Scheme: testScheme})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	dir, err := os.MkdirTemp("", "kubectl-storefront-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = os.RemoveAll(dir) }()
	if kubeconfig, err = writeKubeconfig(env.KubeConfig, dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	code := m.Run()
	testenv.Stop()
	return code
}

// writeKubeconfig writes envtest's kubeconfig with a second context, current and
// pointing nowhere, so that a command reaches envtest only through --context envtest.
func writeKubeconfig(raw []byte, dir string) (string, error) {
	kc, err := clientcmd.Load(raw)
	if err != nil {
		return "", fmt.Errorf("reading envtest's kubeconfig: %w", err)
	}
	kc.Clusters["nowhere"] = &clientcmdapi.Cluster{Server: "https://127.0.0.1:1"}
	kc.AuthInfos["nobody"] = &clientcmdapi.AuthInfo{Token: "none"}
	kc.Contexts["nowhere"] = &clientcmdapi.Context{Cluster: "nowhere", AuthInfo: "nobody", Namespace: "default"}
	kc.CurrentContext = "nowhere"
	path := filepath.Join(dir, "kubeconfig")
	return path, clientcmd.WriteToFile(*kc, path)
}

// run runs `kubectl storefront args...` against envtest in namespace ns and returns
// its standard output and error.
func run(ns string, args ...string) (string, error) {
	out, _, err := runWithInput(ns, "", args...)
	return out, err
}

// runWithInput runs `kubectl storefront args...` with stdin as its standard input and
// returns its standard output and error.
func runWithInput(ns, stdin string, args ...string) (string, string, error) {
	var out, errOut bytes.Buffer
	cmd := newRootCommand(genericiooptions.IOStreams{In: bytes.NewBufferString(stdin), Out: &out, ErrOut: &errOut})
	cmd.SetArgs(append([]string{"--kubeconfig", kubeconfig, "--context", "envtest", "-n", ns}, args...))
	err := cmd.ExecuteContext(context.Background())
	return out.String(), errOut.String(), err
}

// newNamespace creates the namespace of one test. Names are fixed, so that AWS
// identifiers (sf-<namespace>-<name>-<hash>) in golden output are too.
func newNamespace(t *testing.T, name string) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if err := k8sClient.Create(context.Background(), ns); err != nil {
		t.Fatalf("creating namespace: %v", err)
	}
	return name
}

// ackOptions are the operator's AWS flags (controllers/storefront_ack_scenarios_test.go).
var ackOptions = controllers.Options{
	AWSRegion:             "eu-central-1",
	DBSubnetIDs:           []string{"subnet-0aaa", "subnet-0bbb"},
	DBSecurityGroupIDs:    []string{"sg-0db1", "sg-0db2"},
	CacheSubnetIDs:        []string{"subnet-0ccc", "subnet-0ddd"},
	CacheSecurityGroupIDs: []string{"sg-0cache"},
}

// startOperator runs the operator for ns until the test ends.
func startOperator(t *testing.T, ns string) {
	t.Helper()
	opts := ackOptions
	opts.WatchNamespaces = []string{ns}
	opts.MaxConcurrentReconciles = 2
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 testScheme,
		Cache:                  controllers.CacheOptions(opts.WatchNamespaces),
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Controller:             config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		t.Fatalf("creating manager: %v", err)
	}
	if err := controllers.Setup(mgr, opts); err != nil {
		t.Fatalf("setting up the operator: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	syncCtx, syncCancel := context.WithTimeout(ctx, eventually)
	defer syncCancel()
	if !mgr.GetCache().WaitForCacheSync(syncCtx) {
		t.Fatal("the operator's cache did not sync")
	}
}

// startStandIns starts the Job, Deployment, HPA and ACK stand-ins for ns.
func startStandIns(t *testing.T, ns string, opts fake.Options) *fake.StandIns {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	opts.Namespaces = []string{ns}
	if opts.ACKRetry == 0 {
		opts.ACKRetry = 200 * time.Millisecond
	}
	s, err := fake.Start(ctx, cfg, opts)
	if err != nil {
		cancel()
		t.Fatalf("starting stand-ins: %v", err)
	}
	t.Cleanup(func() { cancel(); _ = s.Wait() })
	return s
}

// waitForPhase waits until the Storefront reports phase for its current generation.
func waitForPhase(t *testing.T, ns string, phase shopv1alpha1.StorefrontPhase) {
	t.Helper()
	NewWithT(t).Eventually(func(g Gomega) {
		sf := &shopv1alpha1.Storefront{}
		g.Expect(k8sClient.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "acme"}, sf)).To(Succeed())
		g.Expect(sf.Status.ObservedGeneration).To(Equal(sf.Generation), "observedGeneration")
		g.Expect(sf.Status.Phase).To(Equal(phase), "phase; conditions: %+v", sf.Status.Conditions)
	}).WithTimeout(eventually).WithPolling(poll).Should(Succeed())
}
