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

// One control plane per test binary (STYLE 12); every test works in its own namespace.
//
// Which stand-ins this suite uses, and why (docs/architecture.md#what-stands-in-for-the-cloud-in-tests):
//   - The API server and etcd are real (envtest): CRD schemas, CEL rules, server-side apply,
//     admission and optimistic concurrency are the real ones.
//   - The Deployment, ReplicaSet, Job and HPA controllers are the status-only stand-ins of
//     test/fake/status.go, not kube-controller-manager: a test here reacts to one status
//     transition at a time (a scale that is not a rollout, a Job that fails with
//     BackoffLimitExceeded, a rollout held or past its deadline) and must be able to set it
//     up in milliseconds and hold it there, which the real controllers, driven by pods that
//     run, cannot. No garbage collector runs here: deletion order is asserted on the objects
//     the operator deletes itself; cascading deletion through owner references is tested
//     against the real garbage collector in test/localcluster.
//   - ACK and AWS are the stand-ins of test/fake (ack_runtime.go, ack_managers.go, aws.go),
//     because nothing of AWS runs here; each behaviour is pinned by a golden test citing the
//     upstream runtime or controller (test/fake/*_golden_test.go).
//   - No kubelet, no ALB: pods never run in this suite; test/localcluster and test/e2e run
//     them (kubelet and ALB stand-ins over the real controllers).
var (
	testEnv    *envtest.Environment
	cfg        *rest.Config
	k8sClient  client.Client
	testScheme = testenv.Scheme()
)

func TestMain(m *testing.M) {
	os.Exit(runSuite(m))
}

func runSuite(m *testing.M) int {
	flag.Parse()
	testenv.SuiteLogger() // the operator's logs: stderr with -v, nowhere otherwise

	var err error
	testEnv, err = testenv.NewEnvironment()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	cfg, err = testenv.StartEnvironment(testEnv)
	if err != nil {
		fmt.Fprintf(os.Stderr, "starting envtest: %v\n", err)
		return 1
	}
	defer func() {
		if err := testEnv.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "stopping envtest: %v\n", err)
		}
	}()
	k8sClient, err = client.New(cfg, client.Options{Scheme: testScheme})
	if err != nil {
		fmt.Fprintf(os.Stderr, "creating client: %v\n", err)
		return 1
	}
	code := m.Run()
	testenv.Stop()
	return code
}

// newNamespace creates a namespace for one test.
func newNamespace(t *testing.T) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "sf-test-"}}
	if err := k8sClient.Create(context.Background(), ns); err != nil {
		t.Fatalf("creating namespace: %v", err)
	}
	t.Cleanup(func() { _ = k8sClient.Delete(context.Background(), ns) })
	return ns.Name
}
