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

package localcluster_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-logr/logr"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/storefront-operator/storefront/test/localcluster"
	"github.com/storefront-operator/storefront/test/testenv"
)

// One cluster serves the package; each test works in a namespace of its own.
var (
	cluster *localcluster.Cluster
	images  localcluster.Images
)

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	ctrl.SetLogger(logr.Discard())
	if os.Getenv("LOCALCLUSTER_CHILD") == "1" {
		return childMain()
	}
	defer testenv.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	bin, err := os.MkdirTemp("", "localcluster-test-bin-*")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = os.RemoveAll(bin) }()
	if images, err = localcluster.BuildShop(ctx, bin); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if cluster, err = localcluster.Start(ctx, localcluster.Options{Images: images}); err != nil {
		fmt.Fprintf(os.Stderr, "starting the local cluster: %v\n", err)
		return 1
	}
	code := m.Run()
	if code != 0 {
		cluster.DumpLogs(os.Stderr, 30)
	}
	cluster.Stop()
	return code
}

// namespace creates a namespace for the test, which the real namespace controller
// empties and deletes when the test ends.
func namespace(t *testing.T) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "lc-"}}
	if err := cluster.Client.Create(context.Background(), ns); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cluster.Client.Delete(context.Background(), ns) })
	return ns.Name
}

func create(t *testing.T, objs ...client.Object) {
	t.Helper()
	for _, o := range objs {
		if err := cluster.Client.Create(context.Background(), o); err != nil {
			t.Fatalf("creating %T %s: %v", o, o.GetName(), err)
		}
	}
}

func jobPods(t *testing.T, ns, job string) []corev1.Pod {
	t.Helper()
	pods := &corev1.PodList{}
	if err := cluster.Client.List(context.Background(), pods, client.InNamespace(ns), client.MatchingLabels{batchv1.JobNameLabel: job}); err != nil {
		t.Fatal(err)
	}
	return pods.Items
}

func jobCondition(ns, name string, ct batchv1.JobConditionType) func() string {
	return func() string {
		job := &batchv1.Job{}
		if err := cluster.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, job); err != nil {
			return err.Error()
		}
		for _, c := range job.Status.Conditions {
			if c.Type == ct && c.Status == corev1.ConditionTrue {
				return c.Reason
			}
		}
		return fmt.Sprintf("no %s condition yet: %+v", ct, job.Status)
	}
}

func TestJobRunsItsCommandWithTheResolvedEnvironment(t *testing.T) {
	g := NewWithT(t)
	ns := namespace(t)
	create(t,
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "creds"}, StringData: map[string]string{"password": "s3cret"}},
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "settings"}, Data: map[string]string{"MODE": "demo"}},
	)
	// The script fails (exit 9) unless every variable is what the kubelet would set.
	script := `set -e
test "$PASSWORD" = s3cret
test "$DSN" = "user:s3cret@db"
test "$CFG_MODE" = demo
test "$POD" = "$HOSTNAME"
test -z "$MISSING_OPTIONAL"
grep -q 'BEGIN CERTIFICATE' "$SSL_CERT_FILE"
echo "all set in $1"`
	create(t, &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "env"},
		Spec: batchv1.JobSpec{
			BackoffLimit: ptr.To[int32](0),
			Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				RestartPolicy: corev1.RestartPolicyNever,
				Containers: []corev1.Container{{
					Name: "main", Image: "docker.io/library/busybox:1.37",
					Command: []string{"sh", "-c", script + " || exit 9", "script"},
					Args:    []string{"$(CFG_MODE)-mode"},
					EnvFrom: []corev1.EnvFromSource{{Prefix: "CFG_", ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "settings"}}}},
					Env: []corev1.EnvVar{
						{Name: "PASSWORD", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
							LocalObjectReference: corev1.LocalObjectReference{Name: "creds"}, Key: "password"}}},
						{Name: "DSN", Value: "user:$(PASSWORD)@db"},
						{Name: "POD", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
						{Name: "MISSING_OPTIONAL", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
							LocalObjectReference: corev1.LocalObjectReference{Name: "nope"}, Key: "x", Optional: ptr.To(true)}}},
					},
				}},
			}},
		},
	})
	g.Eventually(jobCondition(ns, "env", batchv1.JobComplete), time.Minute, 50*time.Millisecond).Should(Equal("CompletionsReached"))

	pods := jobPods(t, ns, "env")
	g.Expect(pods).To(HaveLen(1))
	p := pods[0]
	g.Expect(p.Status.Phase).To(Equal(corev1.PodSucceeded))
	g.Expect(p.Status.ContainerStatuses[0].State.Terminated).NotTo(BeNil())
	g.Expect(p.Status.ContainerStatuses[0].State.Terminated.ExitCode).To(BeZero())
	g.Expect(logOf(t, "pod "+ns+"/"+p.Name)).To(ContainSubstring("all set in demo-mode"))
}

// shopPodSpec is the shop serving on dbURL (from a Secret) as the operator runs it:
// ports http and metrics, a readiness probe on /readyz, SHUTDOWN_DELAY longer than the
// ALB's registration delay so that a terminating pod serves until it is deregistered.
func shopPodSpec(restart corev1.RestartPolicy) corev1.PodSpec {
	return corev1.PodSpec{
		RestartPolicy:                 restart,
		TerminationGracePeriodSeconds: ptr.To[int64](15),
		Containers: []corev1.Container{{
			Name: "shop", Image: "registry.example.com/storefront/shop:1.0.0",
			Command: []string{"/shop"}, Args: []string{"serve"},
			Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}, {Name: "metrics", ContainerPort: 9090}},
			Env: []corev1.EnvVar{
				{Name: "DATABASE_URL", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
					LocalObjectReference: corev1.LocalObjectReference{Name: "shop-connection"}, Key: "DATABASE_URL"}}},
				{Name: "JWT_SECRET", Value: "test-secret-test-secret-test-secret"},
				{Name: "HTTP_ADDR", Value: ":8080"},
				{Name: "METRICS_ADDR", Value: ":9090"},
				{Name: "SHUTDOWN_DELAY", Value: "5s"},
			},
			ReadinessProbe: &corev1.Probe{
				ProbeHandler:  corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/readyz", Port: intstr.FromString("http")}},
				PeriodSeconds: 1, FailureThreshold: 1,
			},
		}},
	}
}

// shopObjects are a Deployment of the shop on dbURL, with its Service and Ingress for
// the host shopHost(ns), as the operator would make them.
func shopObjects(ns, dbURL string, replicas int32) (*appsv1.Deployment, *corev1.Service, *networkingv1.Ingress, *corev1.Secret) {
	labels := map[string]string{"app": "shop"}
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "shop-connection"},
		StringData: map[string]string{"DATABASE_URL": dbURL}}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "shop"},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Strategy: appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDeployment{MaxUnavailable: ptr.To(intstr.FromInt32(0)), MaxSurge: ptr.To(intstr.FromInt32(1))}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       shopPodSpec(corev1.RestartPolicyAlways),
			},
		},
	}
	return d, shopService(ns, labels), shopIngress(ns, shopHost(ns)), secret
}

// shopHost is the test namespace's own host: the load balancers of all tests answer
// for their hosts on this machine.
func shopHost(ns string) string { return "shop." + ns + ".example" }

func shopService(ns string, selector map[string]string) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "shop"},
		Spec: corev1.ServiceSpec{Selector: selector, Ports: []corev1.ServicePort{
			{Name: "http", Port: 80, TargetPort: intstr.FromString("http")},
		}},
	}
}

// shopIngress routes host to the shop Service, health-checked on /readyz every
// second, as the ALB would with those annotations.
func shopIngress(ns, host string) *networkingv1.Ingress {
	return &networkingv1.Ingress{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "shop", Annotations: map[string]string{
			"alb.ingress.kubernetes.io/target-type":                  "ip",
			"alb.ingress.kubernetes.io/healthcheck-path":             "/readyz",
			"alb.ingress.kubernetes.io/healthcheck-interval-seconds": "1",
		}},
		Spec: networkingv1.IngressSpec{Rules: []networkingv1.IngressRule{{
			Host: host,
			IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{Paths: []networkingv1.HTTPIngressPath{{
				Path: "/", PathType: ptr.To(networkingv1.PathTypePrefix),
				Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: "shop", Port: networkingv1.ServiceBackendPort{Name: "http"}}},
			}}}},
		}}},
	}
}

// get sends GET url through the cluster's client (Ingress hosts resolve to their load
// balancers) with an optional Host header, and returns the status and the body.
func get(url, host string) (int, string, error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return 0, "", err
	}
	if host != "" {
		req.Host = host
	}
	resp, err := cluster.HTTPClient(10 * time.Second).Do(req)
	if err != nil {
		return 0, "", err
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// serving waits until url answers 200 through its load balancer.
func serving(g *WithT, url string) {
	g.Eventually(func() (int, error) {
		code, _, err := get(url, "")
		return code, err
	}, 2*time.Minute, 100*time.Millisecond).Should(Equal(http.StatusOK), "%s is served", url)
}

func podsOf(t *testing.T, ns string, labels map[string]string) []corev1.Pod {
	t.Helper()
	pods := &corev1.PodList{}
	if err := cluster.Client.List(context.Background(), pods, client.InNamespace(ns), client.MatchingLabels(labels)); err != nil {
		t.Fatal(err)
	}
	return pods.Items
}

// pidOf is the process ID of a running container, from its container ID.
func pidOf(cs corev1.ContainerStatus) string {
	return strings.TrimPrefix(cs.ContainerID, "localcluster://")
}
func logOf(t *testing.T, name string) string {
	t.Helper()
	for _, l := range cluster.Logs() {
		if l.Name == name {
			b, err := os.ReadFile(l.Path)
			if err != nil {
				t.Fatal(err)
			}
			return string(b)
		}
	}
	var names []string
	for _, l := range cluster.Logs() {
		names = append(names, l.Name)
	}
	t.Fatalf("no log %q among %s", name, strings.Join(names, ", "))
	return ""
}

// The child half of TestNothingOutlivesAKilledProcess: a process that starts a cluster
// with running pods, prints every PID it is responsible for, and waits to be killed.
func childMain() int {
	ctx := context.Background()
	c, err := localcluster.Start(ctx, localcluster.Options{Images: localcluster.Images{Shop: os.Getenv("LOCALCLUSTER_SHOP")}})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	labels := map[string]string{"app": "sleeper"}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "sleeper"},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](2),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name: "sleep", Image: "busybox", Command: []string{"sleep", "1000"},
				}}},
			},
		},
	}
	if err := c.Client.Create(ctx, d); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		pods := &corev1.PodList{}
		if err := c.Client.List(ctx, pods, client.InNamespace("default")); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		var pids []string
		for _, p := range pods.Items {
			if cs := p.Status.ContainerStatuses; len(cs) == 1 && cs[0].State.Running != nil {
				pids = append(pids, strings.TrimPrefix(cs[0].ContainerID, "localcluster://"))
			}
		}
		if len(pids) == 2 {
			fmt.Printf("PIDS %s\n", strings.Join(append(pids, c.ControlPlanePIDs()...), " "))
			fmt.Printf("DIRS %s\n", strings.Join(c.TempDirs(), " "))
			select {} // until killed
		}
		time.Sleep(100 * time.Millisecond) // polling the child's own cluster, not a test
	}
	fmt.Fprintln(os.Stderr, "the pods did not start")
	return 1
}

func TestNothingOutlivesAKilledProcess(t *testing.T) {
	g := NewWithT(t)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "LOCALCLUSTER_CHILD=1", "LOCALCLUSTER_SHOP="+images.Shop)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(cmd.Start()).To(Succeed())
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()

	r := bufio.NewReader(out)
	line, err := r.ReadString('\n')
	g.Expect(err).NotTo(HaveOccurred(), "the child printed no PIDs")
	pids := strings.Fields(strings.TrimPrefix(strings.TrimSpace(line), "PIDS "))
	dirLine, err := r.ReadString('\n')
	g.Expect(err).NotTo(HaveOccurred(), "the child printed no directories")
	dirs := strings.Fields(strings.TrimPrefix(strings.TrimSpace(dirLine), "DIRS "))
	g.Expect(dirs).To(HaveLen(4))
	for _, d := range dirs {
		g.Expect(d).To(BeADirectory())
	}
	g.Expect(len(pids)).To(BeNumerically(">=", 4), "two pods, kube-apiserver and etcd: %q", line)
	for _, pid := range pids {
		g.Expect(alive(pid)).To(BeTrue(), "process %s runs before the kill", pid)
	}

	g.Expect(cmd.Process.Signal(syscall.SIGKILL)).To(Succeed())
	_ = cmd.Wait()
	for _, pid := range pids {
		g.Eventually(func() bool { return alive(pid) }, 30*time.Second, 100*time.Millisecond).Should(BeFalse(), "process %s outlived its parent", pid)
	}
	for _, d := range dirs {
		g.Eventually(func() string { return d }, 10*time.Second, 100*time.Millisecond).ShouldNot(BeAnExistingFile(), "directory left behind")
	}
}

// alive reports whether pid runs (a zombie waiting for init to reap it does not).
func alive(pid string) bool {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return false
	}
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	return len(fields) > 0 && fields[0] != "Z" && fields[0] != "X"
}

func TestDeletingAPodStopsItsProcessAndTheDeploymentReplacesIt(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	ns := namespace(t)
	labels := map[string]string{"app": "sleeper"}
	create(t, &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "sleeper"},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](1),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					TerminationGracePeriodSeconds: ptr.To[int64](5),
					Containers:                    []corev1.Container{{Name: "sleep", Image: "busybox", Command: []string{"sleep", "1000"}}},
				},
			},
		},
	})
	running := func() (name, pid string) {
		pods := &corev1.PodList{}
		g.Expect(cluster.Client.List(ctx, pods, client.InNamespace(ns))).To(Succeed())
		for _, p := range pods.Items {
			if cs := p.Status.ContainerStatuses; p.DeletionTimestamp == nil && len(cs) == 1 && cs[0].State.Running != nil {
				return p.Name, strings.TrimPrefix(cs[0].ContainerID, "localcluster://")
			}
		}
		return "", ""
	}
	var first, pid string
	g.Eventually(func() string { first, pid = running(); return first }, time.Minute, 50*time.Millisecond).ShouldNot(BeEmpty())
	g.Expect(alive(pid)).To(BeTrue())

	// kubectl delete pod: a graceful deletion the kubelet completes once the process is gone.
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: first}}
	g.Expect(cluster.Client.Delete(ctx, pod)).To(Succeed())
	g.Eventually(func() bool { return alive(pid) }, time.Minute, 50*time.Millisecond).Should(BeFalse(), "the process stops")
	g.Eventually(func() bool {
		return apierrors.IsNotFound(cluster.Client.Get(ctx, client.ObjectKeyFromObject(pod), &corev1.Pod{}))
	}, time.Minute, 50*time.Millisecond).Should(BeTrue(), "the Pod object goes once its process has")
	g.Eventually(func() string { name, _ := running(); return name }, time.Minute, 50*time.Millisecond).
		Should(And(Not(BeEmpty()), Not(Equal(first))), "another pod replaces it")
}
