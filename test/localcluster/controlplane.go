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

package localcluster

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// The control plane is envtest's kube-apiserver and etcd plus the real
// kube-controller-manager and kube-scheduler, all v1.37.2 (hack/envtest.sh builds
// them). The API server runs with its default admission plugins (envtest disables
// ServiceAccount; a cluster does not), so pods get their service account and the node
// its not-ready taint until the node lifecycle controller clears it.

// kcmControllers are the controllers of kube-controller-manager the local cluster
// runs: what a Storefront's objects need (Deployments, ReplicaSets, Jobs and their
// TTL, HPAs, PodDisruptionBudgets, EndpointSlices for the ALB, owner-reference garbage
// collection, namespace deletion), what pods need under the ServiceAccount admission
// plugin (the default ServiceAccount, the kube-root-ca.crt ConfigMap), and the node
// lifecycle controller, which lifts the not-ready taint the API server puts on a new
// Node.
var kcmControllers = []string{
	"deployment-controller",
	"replicaset-controller",
	"job-controller",
	"ttl-after-finished-controller",
	"horizontal-pod-autoscaler-controller",
	"disruption-controller",
	"endpointslice-controller",
	"garbage-collector-controller",
	"namespace-controller",
	"serviceaccount-controller",
	"root-ca-certificate-publisher-controller",
	"node-lifecycle-controller",
}

// binaries the cluster runs from the envtest directory.
const (
	kubeControllerManager = "kube-controller-manager"
	kubeScheduler         = "kube-scheduler"
)

// configureAPIServer gives envtest's API server a cluster's admission plugins.
func configureAPIServer(env *envtest.Environment) {
	args := env.ControlPlane.GetAPIServer().Configure()
	args.Disable("disable-admission-plugins")
}

// ControlPlaneBinaries checks that the controller manager and the scheduler are in dir
// (the envtest directory), and says how to build them when they are not.
func ControlPlaneBinaries(dir string) error {
	var missing []string
	for _, b := range []string{kubeControllerManager, kubeScheduler} {
		if st, err := os.Stat(filepath.Join(dir, b)); err != nil || st.Mode()&0o111 == 0 {
			missing = append(missing, b)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%s not found in %s: run `make envtest`, which builds them from source into bin/k8s/", strings.Join(missing, " and "), dir)
	}
	return nil
}

// startControllers starts kube-controller-manager and kube-scheduler, each with the
// identity a cluster gives it (system:kube-controller-manager, system:kube-scheduler,
// bound to their bootstrap roles; the controllers then use a service account each).
// Their logs go to logs/.
func (c *Cluster) startControllers() error {
	bin := c.env.BinaryAssetsDirectory
	if err := ControlPlaneBinaries(bin); err != nil {
		return err
	}
	kcmConfig, err := c.userKubeconfig("system:kube-controller-manager", nil)
	if err != nil {
		return err
	}
	schedConfig, err := c.userKubeconfig("system:kube-scheduler", nil)
	if err != nil {
		return err
	}
	rootCA := filepath.Join(c.dir, "tls", "kube-ca.crt")
	if err := os.WriteFile(rootCA, c.env.ControlPlane.APIServer.SecureServing.CA, 0o644); err != nil {
		return err
	}
	for _, p := range []struct {
		name string
		args []string
	}{
		{kubeControllerManager, []string{
			"--kubeconfig=" + kcmConfig,
			"--secure-port=0",
			"--leader-elect=false",
			"--use-service-account-credentials=true",
			"--controllers=" + strings.Join(kcmControllers, ","),
			"--root-ca-file=" + rootCA,
			"--v=2",
		}},
		{kubeScheduler, []string{
			"--kubeconfig=" + schedConfig,
			"--secure-port=0",
			"--leader-elect=false",
			"--v=2",
		}},
	} {
		cmd := exec.Command(filepath.Join(bin, p.name), p.args...)
		proc, err := startProcess(cmd, filepath.Join(c.dir, "logs", p.name+".log"))
		if err != nil {
			return fmt.Errorf("starting %s: %w", p.name, err)
		}
		c.controlPlane = append(c.controlPlane, proc)
		if err := c.guard.Kill(fmt.Sprint(proc.Pid())); err != nil {
			return err
		}
	}
	// A controller that dies at once (a bad flag) says so here rather than later.
	select {
	case <-c.controlPlane[0].Exited():
		return fmt.Errorf("%s exited: %w", kubeControllerManager, c.controlPlaneExit(0))
	case <-c.controlPlane[1].Exited():
		return fmt.Errorf("%s exited: %w", kubeScheduler, c.controlPlaneExit(1))
	case <-time.After(200 * time.Millisecond):
	}
	return nil
}

func (c *Cluster) controlPlaneExit(i int) error {
	name := []string{kubeControllerManager, kubeScheduler}[i]
	tail, _ := tailLines(filepath.Join(c.dir, "logs", name+".log"), 10)
	return errors.New(tail)
}

// stopControllers stops the controller manager and the scheduler.
func (c *Cluster) stopControllers() {
	for _, p := range c.controlPlane {
		p.Terminate(5 * time.Second)
	}
}

// userKubeconfig writes a kubeconfig of an envtest user and returns its path.
func (c *Cluster) userKubeconfig(name string, groups []string) (string, error) {
	user, err := c.env.AddUser(envtest.User{Name: name, Groups: groups}, nil)
	if err != nil {
		return "", fmt.Errorf("adding user %s: %w", name, err)
	}
	b, err := user.KubeConfig()
	if err != nil {
		return "", err
	}
	path := filepath.Join(c.dir, "tls", strings.ReplaceAll(name, ":", "-")+".kubeconfig")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return "", err
	}
	return path, nil
}
