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

package e2e_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	shopv1alpha1 "github.com/storefront-operator/storefront/api/v1alpha1"
	"github.com/storefront-operator/storefront/test/localcluster"
	"github.com/storefront-operator/storefront/test/testenv"
)

// TestHibernateAndWake puts the sample to sleep and wakes it with `kubectl storefront`:
// asleep, no pod of the shop exists (so no shop process runs) and the ALB answers every
// path with the 503 sleeping page of the Ingress's fixed-response action; awake, the
// shop serves again. The plugin's status of the live shop names its pods.
func TestHibernateAndWake(t *testing.T) {
	ctx := context.Background()
	ns := "hibernate"
	createNamespace(t, ns)
	sf := storefrontTrusting(t, ns, "sleepy", "")
	sf.Spec.Database.Aurora.CABundleSecretRef = nil
	if err := cluster.Client.Create(ctx, sf); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cluster.Client.Delete(ctx, sf) }()
	key := client.ObjectKeyFromObject(sf)
	defer dumpOnFailure(t, key)
	w := &watcher{t: t, key: key, progress: localcluster.NewProgress(time.Now())}
	w.waitReady(t, sf.Spec.Image, readyTimeout)
	base := "http://" + sf.Spec.Ingress.Host
	servedThroughTheLoadBalancer(t, base+"/api/v1/categories")
	plugin := buildPlugin(t)
	out := runPlugin(t, plugin, ns, "status", "sleepy")
	t.Logf("kubectl storefront status sleepy:\n%s", out)
	for _, want := range []string{"Blocking: nothing, the shop is Ready", "├── DBCluster sleepy-database: Synced, status available",
		"└── Pod sleepy-shop-"} {
		if !strings.Contains(out, want) {
			t.Errorf("kubectl storefront status lacks %q", want)
		}
	}

	runPlugin(t, plugin, ns, "hibernate", "sleepy", "--yes")
	waitFor(t, "the shop hibernated with no pod left", 2*time.Minute, func() (bool, string) {
		cur := storefront(t, key)
		pods := servingPods(t, ns, sf.Spec.Image)
		return cur.Status.Phase == shopv1alpha1.PhaseHibernated && len(pods) == 0,
			fmt.Sprintf("phase %s, %d pods", cur.Status.Phase, len(pods))
	})
	httpc := cluster.HTTPClient(10 * time.Second)
	for _, path := range []string{"/", "/api/v1/categories", "/cart"} {
		waitFor(t, "the sleeping page at "+path, time.Minute, func() (bool, string) {
			code, body := get(httpc, base+path)
			return code == http.StatusServiceUnavailable && strings.Contains(body, "This shop is sleeping"),
				fmt.Sprintf("%d %.80s", code, body)
		})
	}

	out = runPlugin(t, plugin, ns, "status", "sleepy")
	t.Logf("kubectl storefront status sleepy, asleep:\n%s", out)
	runPlugin(t, plugin, ns, "wake", "sleepy")
	w.waitReady(t, sf.Spec.Image, readyTimeout)
	if n := len(servingPods(t, ns, sf.Spec.Image)); n < int(sf.Spec.Replicas.Min) {
		t.Errorf("%d pods after waking, want at least %d", n, sf.Spec.Replicas.Min)
	}
	servedThroughTheLoadBalancer(t, base+"/api/v1/categories")
}

// buildPlugin builds kubectl-storefront into the test's temporary directory.
func buildPlugin(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "kubectl-storefront")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/kubectl-storefront")
	cmd.Dir = testenv.RepoRoot()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building kubectl-storefront: %v\n%s", err, out)
	}
	return bin
}

// runPlugin runs `kubectl storefront args...` against the local cluster in ns.
func runPlugin(t *testing.T, bin, ns string, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"--kubeconfig", cluster.KubeconfigPath(), "-n", ns}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("kubectl storefront %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String()
}

// get answers the status and body of a GET, or 0 and the error.
func get(c *http.Client, url string) (int, string) {
	resp, err := c.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer func() { _ = resp.Body.Close() }()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
