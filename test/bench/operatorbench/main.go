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

// Command operatorbench measures the operator at scale (docs/architecture.md#performance-targets): it starts a
// kube-apiserver (envtest, with the Storefront and ACK CRDs) and the status-only
// stand-ins of test/fake (Jobs, Deployments, HPAs, ACK), builds the
// operator from main.go and runs it as its own process with its generated RBAC, exactly
// as it is deployed, then applies N Aurora + ElastiCache Serverless Storefronts and
// reports:
//   - the time from the first apply until every Storefront is Ready;
//   - the operator's API requests per Storefront (its rest_client_requests_total);
//   - the mutating requests of one full resync at rest: a second operator process,
//     started once everything is Ready, reconciles every Storefront; target 0;
//   - the operator's peak memory (VmHWM, the peak resident set of its process);
//   - the same resync by a third operator process once 5,000 unrelated Secrets and 1,000
//     unrelated Jobs exist beside the fleet, and its peak memory against the second's
//     (target: within 10 %: the cache holds what the operator owns);
//   - every shop's Deployment scaled by the HPA stand-in at rest: the operator's
//     mutating requests (Storefront status writes included) and Events then; target 0.
//
// The operator is the production binary with production flags: no shortcut that only
// the benchmark takes.
package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/yaml"

	shopv1alpha1 "github.com/storefront-operator/storefront/api/v1alpha1"
	"github.com/storefront-operator/storefront/test/bench/benchdoc"
	"github.com/storefront-operator/storefront/test/fake"
	"github.com/storefront-operator/storefront/test/testenv"
)

type options struct {
	storefronts  int
	namespaces   int
	ackDelay     time.Duration
	concurrency  int
	timeout      time.Duration
	settle       time.Duration
	write        string
	operatorArgs string
	// unrelatedSecrets and unrelatedJobs are created beside the fleet for the memory
	// comparison.
	unrelatedSecrets, unrelatedJobs int
}

func main() {
	var o options
	flag.IntVar(&o.storefronts, "storefronts", 500, "Storefronts to apply")
	flag.IntVar(&o.namespaces, "namespaces", 10, "namespaces they are spread over")
	flag.DurationVar(&o.ackDelay, "ack-delay", 2*time.Second, "how long the ACK stand-in's resources stay creating (AWS takes minutes)")
	flag.IntVar(&o.concurrency, "max-concurrent-reconciles", 0, "the operator's --max-concurrent-reconciles; 0 keeps its default")
	flag.DurationVar(&o.timeout, "timeout", 20*time.Minute, "give up after this long")
	flag.DurationVar(&o.settle, "settle", 10*time.Second, "how long the operator must write nothing before the fleet counts as at rest")
	flag.StringVar(&o.write, "write", "", "markdown file whose Operator section receives the results (e.g. docs/benchmarks.md)")
	flag.StringVar(&o.operatorArgs, "operator-args", "", "extra flags for the operator, space-separated")
	flag.IntVar(&o.unrelatedSecrets, "unrelated-secrets", 5000, "Secrets no Storefront owns or references, created before the third operator run")
	flag.IntVar(&o.unrelatedJobs, "unrelated-jobs", 1000, "Jobs no Storefront owns, created before the third operator run")
	flag.Parse()
	ctrl.SetLogger(zap.New(zap.WriteTo(io.Discard)))
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "operatorbench:", err)
		os.Exit(1)
	}
}

func step(format string, args ...any) {
	fmt.Printf("%s  %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

func run(o options) error {
	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	defer cancel()
	// Ctrl-C stops the operator and the API server too.
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	work, err := os.MkdirTemp("", "operatorbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)

	step("building the operator (go build .)")
	binary := filepath.Join(work, "manager")
	build := exec.CommandContext(ctx, "go", "build", "-o", binary, ".")
	build.Dir, build.Stdout, build.Stderr = testenv.RepoRoot(), os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("building the operator: %w", err)
	}

	step("starting kube-apiserver and etcd (envtest) with the Storefront and ACK CRDs")
	env, err := testenv.NewEnvironment()
	if err != nil {
		return err
	}
	// envtest's API server allocates Service IPs from a /24: 254 Services. A fleet needs
	// one per Storefront.
	env.ControlPlane.GetAPIServer().Configure().Set("service-cluster-ip-range", "10.96.0.0/16")
	audit, err := enableAudit(env, work)
	if err != nil {
		return err
	}
	cfg, err := env.Start()
	if err != nil {
		return fmt.Errorf("starting envtest: %w", err)
	}
	defer func() { _ = env.Stop() }()
	scheme := k8sruntime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(shopv1alpha1.AddToScheme(scheme))
	// The harness's own client may go fast: it is not what is measured.
	fast := rest.CopyConfig(cfg)
	fast.QPS, fast.Burst = 500, 1000
	c, err := client.New(fast, client.Options{Scheme: scheme})
	if err != nil {
		return err
	}
	kubeconfig, err := operatorKubeconfig(ctx, env, c, work)
	if err != nil {
		return err
	}
	// The harness watches the Storefronts rather than listing them again and again:
	// listing 500 every quarter of a second would load the API server it measures.
	storefronts, err := cache.New(fast, cache.Options{Scheme: scheme})
	if err != nil {
		return err
	}
	changes, err := watchTransitions(ctx, storefronts)
	if err != nil {
		return err
	}
	go func() { _ = storefronts.Start(ctx) }()
	if !storefronts.WaitForCacheSync(ctx) {
		return errors.New("the harness's cache did not sync")
	}

	step("starting the stand-ins (Jobs, Deployments, HPAs, ACK with a %s provisioning delay)", o.ackDelay)
	standIns, err := fake.Start(ctx, fast, fake.Options{ACKDelay: o.ackDelay})
	if err != nil {
		return err
	}

	flags := operatorFlags(o)
	op, err := startOperator(ctx, binary, kubeconfig, flags, filepath.Join(work, "operator-1.log"))
	if err != nil {
		return err
	}
	step("operator started and watching: %s", strings.Join(flags, " "))

	namespaces := make([]string, o.namespaces)
	for i := range namespaces {
		namespaces[i] = fmt.Sprintf("shops-%02d", i)
		// Labelled for the AWS Load Balancer Controller's pod readiness gates, as
		// docs/install-eks.md labels the shops' namespaces.
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespaces[i],
			Labels: map[string]string{"elbv2.k8s.aws/pod-readiness-gate-inject": "enabled"}}}
		if err := c.Create(ctx, ns); err != nil {
			return err
		}
	}
	step("applying %d Aurora + ElastiCache Serverless Storefronts in %d namespaces", o.storefronts, o.namespaces)
	cpuBefore := sampleCPU(op.cmd.Process.Pid)
	loadBefore := loadAverage()
	start := time.Now()
	for i := range o.storefronts {
		if err := c.Create(ctx, storefront(namespaces[i%len(namespaces)], i), client.FieldValidation("Strict")); err != nil {
			return fmt.Errorf("creating storefront %d: %w", i, err)
		}
	}
	applied := time.Since(start)
	step("applied in %s; waiting until all are Ready", applied.Round(time.Millisecond))

	allReady, err := waitAllReady(ctx, storefronts, o.storefronts, start)
	if err != nil {
		op.stop()
		return err
	}
	provisioning, err := op.metrics(ctx)
	if err != nil {
		op.stop()
		return err
	}
	cpu := sampleCPU(op.cmd.Process.Pid).minus(cpuBefore)
	loadAfter := loadAverage()
	step("all %d Ready after %s", o.storefronts, allReady.Round(time.Millisecond))

	step("waiting until the operator has written nothing for %s", o.settle)
	settled, err := op.waitQuiet(ctx, o.settle)
	if err != nil {
		op.stop()
		return err
	}
	peak1 := op.peakMemory()
	if err := op.stop(); err != nil {
		return err
	}
	// The operator's requests until it was stopped: provisioning, then quiet.
	byResource, err := audit.next()
	if err != nil {
		return err
	}
	eventsByStorefront, otherEvents, warnings, err := transitionEvents(ctx, c)
	if err != nil {
		return err
	}
	nChanges, nEvents, mismatch := eventCheck(changes.count(), eventsByStorefront)
	paths := changes.commonPaths(3)

	step("restarting the operator: one full resync of the fleet at rest")
	op2, err := startOperator(ctx, binary, kubeconfig, flags, filepath.Join(work, "operator-2.log"))
	if err != nil {
		return err
	}
	resync, resyncTime, err := op2.waitResync(ctx, o.storefronts, o.settle)
	if err != nil {
		op2.stop()
		return err
	}
	peak2 := op2.peakMemory()
	if err := op2.stop(); err != nil {
		return err
	}
	notReady, err := countNotReady(ctx, storefronts)
	if err != nil {
		return err
	}

	// The same resync with the cluster's other objects beside the fleet: the operator's
	// memory should follow what it owns, not what the cluster holds.
	step("creating %d unrelated Secrets and %d unrelated Jobs", o.unrelatedSecrets, o.unrelatedJobs)
	if err := createUnrelated(ctx, c, o.unrelatedSecrets, o.unrelatedJobs); err != nil {
		return err
	}
	step("restarting the operator: the same resync beside them")
	op3, err := startOperator(ctx, binary, kubeconfig, flags, filepath.Join(work, "operator-3.log"))
	if err != nil {
		return err
	}
	if _, _, err := op3.waitResync(ctx, o.storefronts, o.settle); err != nil {
		op3.stop()
		return err
	}
	peak3 := op3.peakMemory()

	// Scales at rest: the HPA stand-in scales every shop's Deployment from 2 to 3 pods.
	step("scaling every Deployment from 2 to 3 pods (the HPA stand-in), the fleet at rest")
	scaleBefore, err := op3.metrics(ctx)
	if err != nil {
		op3.stop()
		return err
	}
	eventsBefore, err := countOperatorEvents(ctx, c)
	if err != nil {
		op3.stop()
		return err
	}
	standIns.SetHPAReplicas(3)
	scaled, err := waitScaled(ctx, c, o.storefronts, 3)
	if err != nil {
		op3.stop()
		return err
	}
	scaleAfter, err := op3.waitQuiet(ctx, o.settle)
	if err != nil {
		op3.stop()
		return err
	}
	eventsAfter, err := countOperatorEvents(ctx, c)
	if err != nil {
		op3.stop()
		return err
	}
	if err := op3.stop(); err != nil {
		return err
	}

	r := report{
		opts: o, flags: flags, applied: applied, allReady: allReady, provisioning: provisioning, settled: settled,
		resync: resync, resyncTime: resyncTime, peakProvisioning: peak1, peakResync: peak2, notReadyAfter: notReady,
		cpu: cpu, loadBefore: loadBefore, loadAfter: loadAfter,
		peakUnrelated: peak3, scaled: scaled, scaleMutating: scaleAfter.mutating() - scaleBefore.mutating(),
		scaleEvents: eventsAfter - eventsBefore,
		byResource:  byResource, stateChanges: nChanges, transitionEvents: nEvents, eventMismatch: mismatch,
		otherEvents: otherEvents, warnings: warnings, paths: paths,
	}
	text := r.markdown()
	fmt.Println()
	fmt.Print(text)
	if o.write != "" {
		if err := benchdoc.WriteSection(o.write, "Operator", "operator-bench", text); err != nil {
			return err
		}
		step("wrote the Operator section of %s", o.write)
	}
	if mismatch != "" {
		return fmt.Errorf("not one Event per state change (%d state changes, %d Events): %s", nChanges, nEvents, mismatch)
	}
	if len(warnings) > 0 {
		return fmt.Errorf("warning Events in a fleet that needs no human: %s", describeCounts(warnings))
	}
	if resync.mutating() != 0 {
		return fmt.Errorf("the resync at rest made %.0f mutating requests (%s)", resync.mutating(), resync.byMethod())
	}
	if r.scaleMutating != 0 || r.scaleEvents != 0 {
		return fmt.Errorf("%d scale events at rest made %.0f mutating requests and %d Events", scaled, r.scaleMutating, r.scaleEvents)
	}
	return nil
}

// createUnrelated creates Secrets and Jobs that no Storefront owns or references, in a
// namespace of their own: 2 KiB of data per Secret (a TLS certificate and key is about
// that), Jobs of one pod as a CI system leaves them.
func createUnrelated(ctx context.Context, c client.Client, secrets, jobs int) error {
	const ns = "unrelated"
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		return err
	}
	data := bytes.Repeat([]byte("x"), 2048)
	for i := range secrets {
		s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("secret-%05d", i), Namespace: ns,
			Labels: map[string]string{"app.kubernetes.io/name": "someone-else"}}, Data: map[string][]byte{"tls.key": data}}
		if err := c.Create(ctx, s); err != nil {
			return fmt.Errorf("creating unrelated secret %d: %w", i, err)
		}
	}
	for i := range jobs {
		j := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("job-%05d", i), Namespace: ns},
			Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				RestartPolicy: corev1.RestartPolicyNever,
				Containers:    []corev1.Container{{Name: "build", Image: "registry.example.com/ci/build:1", Args: []string{"make"}}},
			}}}}
		if err := c.Create(ctx, j); err != nil {
			return fmt.Errorf("creating unrelated job %d: %w", i, err)
		}
	}
	return nil
}

// countOperatorEvents counts the Events the operator reported.
func countOperatorEvents(ctx context.Context, c client.Reader) (int, error) {
	list := &eventsv1.EventList{}
	if err := c.List(ctx, list); err != nil {
		return 0, err
	}
	n := 0
	for _, e := range list.Items {
		if e.ReportingController == "storefront-operator" {
			n++
		}
	}
	return n, nil
}

// waitScaled waits until n of the shops' Deployments have replicas available pods for a
// generation their controller observed, and returns how many scale events that was.
func waitScaled(ctx context.Context, c client.Reader, n int, replicas int32) (int, error) {
	for {
		list := &appsv1.DeploymentList{}
		if err := c.List(ctx, list, client.MatchingLabels{"app.kubernetes.io/managed-by": "storefront-operator"}); err != nil {
			return 0, err
		}
		done := 0
		for _, d := range list.Items {
			if d.Spec.Replicas != nil && *d.Spec.Replicas == replicas && d.Status.ObservedGeneration == d.Generation &&
				d.Status.AvailableReplicas == replicas {
				done++
			}
		}
		if done >= n {
			return done, nil
		}
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("%d of %d Deployments scaled when time ran out: %w", done, n, ctx.Err())
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// operatorFlags are the flags the operator runs with: production defaults, the AWS
// settings a cluster would give it, metrics on a free port.
func operatorFlags(o options) []string {
	flags := []string{
		"--health-probe-bind-address=0",
		"--aws-region=eu-central-1",
		"--db-subnet-ids=subnet-0aaa,subnet-0bbb",
		"--db-security-group-ids=sg-0db",
		"--cache-subnet-ids=subnet-0ccc,subnet-0ddd",
		"--cache-security-group-ids=sg-0cache",
		// The subnets' CIDRs, as docs/install-eks.md passes them (the Terraform outputs
		// public_subnet_cidrs, db_subnet_cidrs and cache_subnet_cidrs): the shop port is
		// open to the ALB's subnets only, the stores' egress is restricted, and the shop
		// believes X-Forwarded-For from the ALB.
		"--ingress-cidrs=10.0.0.0/20,10.0.16.0/20",
		"--db-cidrs=10.0.32.0/20,10.0.48.0/20",
		"--cache-cidrs=10.0.64.0/20,10.0.80.0/20",
		"--metrics-namespace=monitoring",
		"--zap-log-level=info",
	}
	if o.concurrency > 0 {
		flags = append(flags, "--max-concurrent-reconciles="+strconv.Itoa(o.concurrency))
	}
	return append(flags, strings.Fields(o.operatorArgs)...)
}

// storefront is the i-th Storefront: Aurora Serverless v2 and ElastiCache Serverless,
// an Ingress, the API's defaults for the rest.
func storefront(ns string, i int) *shopv1alpha1.Storefront {
	return &shopv1alpha1.Storefront{
		ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("shop-%03d", i), Namespace: ns},
		Spec: shopv1alpha1.StorefrontSpec{
			Image:    "registry.example.com/storefront/shop:1.4.0",
			Currency: "EUR",
			Ingress:  &shopv1alpha1.IngressSpec{Host: fmt.Sprintf("shop-%03d.example.com", i), ClassName: "alb"},
			Database: shopv1alpha1.DatabaseSpec{Aurora: &shopv1alpha1.AuroraDatabase{}},
			Cache:    &shopv1alpha1.CacheSpec{Serverless: &shopv1alpha1.ServerlessCache{}},
		},
	}
}

// operatorKubeconfig writes a kubeconfig for a user bound to the operator's generated
// ClusterRole (config/rbac/role.yaml) and nothing else.
func operatorKubeconfig(ctx context.Context, env *envtest.Environment, c client.Client, dir string) (string, error) {
	raw, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "config", "rbac", "role.yaml"))
	if err != nil {
		return "", err
	}
	role := &rbacv1.ClusterRole{}
	if err := yaml.UnmarshalStrict(raw, role); err != nil {
		return "", err
	}
	const user = operatorUser
	role.Name = "storefront-operator-bench"
	binding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: role.Name},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: user}},
	}
	for _, obj := range []client.Object{role, binding} {
		if err := c.Create(ctx, obj); err != nil {
			return "", err
		}
	}
	authn, err := env.ControlPlane.AddUser(envtest.User{Name: user}, nil)
	if err != nil {
		return "", err
	}
	data, err := authn.KubeConfig()
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "operator.kubeconfig")
	return path, os.WriteFile(path, data, 0o600)
}

// operator is one running operator process.
type operator struct {
	cmd     *exec.Cmd
	metrics func(ctx context.Context) (requests, error)
	done    chan error
	log     string
}

func startOperator(ctx context.Context, binary, kubeconfig string, flags []string, logPath string) (*operator, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	args := append([]string{fmt.Sprintf("--metrics-bind-address=127.0.0.1:%d", port)}, flags...)
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	op := &operator{cmd: cmd, done: make(chan error, 1), log: logPath}
	go func() { op.done <- cmd.Wait(); logFile.Close() }()
	url := fmt.Sprintf("http://127.0.0.1:%d/metrics", port)
	op.metrics = func(ctx context.Context) (requests, error) { return scrape(ctx, url) }
	deadline := time.Now().Add(time.Minute)
	for {
		// The Storefront controller starts its workers once its caches are synced; a
		// Storefront applied before that would count as found at start-up.
		log, _ := os.ReadFile(logPath)
		for _, line := range bytes.Split(log, []byte("\n")) {
			if bytes.Contains(line, []byte(`"msg":"Starting workers"`)) && bytes.Contains(line, []byte(`"controller":"storefront"`)) {
				return op, nil
			}
		}
		select {
		case err := <-op.done:
			return nil, fmt.Errorf("the operator exited: %v; its log:\n%s", err, tail(logPath))
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			op.stop()
			return nil, fmt.Errorf("the operator's metrics endpoint did not come up; its log:\n%s", tail(logPath))
		}
	}
}

// stop ends the process with SIGTERM, as Kubernetes does, and waits for it.
func (o *operator) stop() error {
	_ = o.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-o.done:
		return nil
	case <-time.After(30 * time.Second):
		_ = o.cmd.Process.Kill()
		<-o.done
		return errors.New("the operator did not stop within 30s of SIGTERM")
	}
}

// peakMemory is the peak resident set size of the process (VmHWM), in bytes.
func (o *operator) peakMemory() int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", o.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if fields := strings.Fields(s.Text()); len(fields) >= 2 && fields[0] == "VmHWM:" {
			kb, _ := strconv.ParseInt(fields[1], 10, 64)
			return kb * 1024
		}
	}
	return 0
}

// waitQuiet waits until the operator made no mutating request for d, and returns its
// counts then.
func (o *operator) waitQuiet(ctx context.Context, d time.Duration) (requests, error) {
	last, err := o.metrics(ctx)
	if err != nil {
		return requests{}, err
	}
	since := time.Now()
	for time.Since(since) < d {
		select {
		case <-ctx.Done():
			return requests{}, ctx.Err()
		case <-time.After(time.Second):
		}
		now, err := o.metrics(ctx)
		if err != nil {
			return requests{}, err
		}
		if now.mutating() != last.mutating() {
			since = time.Now()
		}
		last = now
	}
	return last, nil
}

// waitResync waits until the operator reconciled every Storefront at least once and
// then stayed quiet, and returns its requests and how long the resync took.
func (o *operator) waitResync(ctx context.Context, n int, quiet time.Duration) (requests, time.Duration, error) {
	start := time.Now()
	for {
		r, err := o.metrics(ctx)
		if err != nil {
			return requests{}, 0, err
		}
		if r.reconciles >= float64(n) && r.queueDepth == 0 {
			break
		}
		select {
		case <-ctx.Done():
			return requests{}, 0, fmt.Errorf("waiting for the resync (%v reconciles of %d): %w", r.reconciles, n, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
	took := time.Since(start)
	r, err := o.waitQuiet(ctx, quiet)
	return r, took, err
}

// requests are the operator's API requests by HTTP method, and its reconciles.
type requests struct {
	methods    map[string]float64
	reconciles float64
	queueDepth float64
	// reconcileSeconds is the time spent in the storefront controller's reconciles.
	reconcileSeconds float64
}

func (r requests) total() float64 {
	t := 0.0
	for _, v := range r.methods {
		t += v
	}
	return t
}

func (r requests) mutating() float64 {
	t := 0.0
	for m, v := range r.methods {
		if m != "GET" {
			t += v
		}
	}
	return t
}

func (r requests) byMethod() string {
	var keys []string
	for k := range r.methods {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %.0f", k, r.methods[k]))
	}
	return strings.Join(parts, ", ")
}

// scrape reads the operator's metrics endpoint: client-go's request counter
// (rest_client_requests_total, by method), controller-runtime's reconcile counter and
// work queue depth of the storefront controller.
func scrape(ctx context.Context, url string) (requests, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return requests{}, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return requests{}, err
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		return requests{}, err
	}
	r := requests{methods: map[string]float64{}}
	for _, m := range families["rest_client_requests_total"].GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == "method" {
				r.methods[l.GetValue()] += m.GetCounter().GetValue()
			}
		}
	}
	for _, m := range families["controller_runtime_reconcile_total"].GetMetric() {
		if hasLabel(m.GetLabel(), "controller", "storefront") {
			r.reconciles += m.GetCounter().GetValue()
		}
	}
	for _, m := range families["controller_runtime_reconcile_time_seconds"].GetMetric() {
		if hasLabel(m.GetLabel(), "controller", "storefront") {
			r.reconcileSeconds += m.GetHistogram().GetSampleSum()
		}
	}
	for _, m := range families["workqueue_depth"].GetMetric() {
		if hasLabel(m.GetLabel(), "name", "storefront") {
			r.queueDepth += m.GetGauge().GetValue()
		}
	}
	return r, nil
}

func hasLabel(labels []*dto.LabelPair, name, value string) bool {
	for _, l := range labels {
		if l.GetName() == name && l.GetValue() == value {
			return true
		}
	}
	return false
}

// waitAllReady polls the Storefronts until n are Ready for their generation, and
// returns the time since start.
func waitAllReady(ctx context.Context, c client.Reader, n int, start time.Time) (time.Duration, error) {
	lastReport := time.Now()
	for {
		list := &shopv1alpha1.StorefrontList{}
		if err := c.List(ctx, list); err != nil {
			return 0, err
		}
		ready, phases := 0, map[shopv1alpha1.StorefrontPhase]int{}
		for i := range list.Items {
			sf := &list.Items[i]
			phases[sf.Status.Phase]++
			if sf.Status.Phase == shopv1alpha1.PhaseReady && sf.Status.ObservedGeneration == sf.Generation {
				ready++
			}
		}
		if ready >= n {
			return time.Since(start), nil
		}
		if time.Since(lastReport) > 10*time.Second {
			step("%d of %d Ready (%v)", ready, n, phases)
			lastReport = time.Now()
		}
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("%d of %d Storefronts Ready when time ran out (%v): %w", ready, n, phases, ctx.Err())
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func countNotReady(ctx context.Context, c client.Reader) (int, error) {
	list := &shopv1alpha1.StorefrontList{}
	if err := c.List(ctx, list); err != nil {
		return 0, err
	}
	n := 0
	for _, sf := range list.Items {
		if sf.Status.Phase != shopv1alpha1.PhaseReady {
			n++
		}
	}
	return n, nil
}

type report struct {
	opts                         options
	flags                        []string
	applied, allReady            time.Duration
	provisioning, settled        requests
	resync                       requests
	resyncTime                   time.Duration
	peakProvisioning, peakResync int64
	notReadyAfter                int
	cpu                          cpuSample
	loadBefore, loadAfter        string
	// peakUnrelated is the peak memory of the same resync beside unrelated objects.
	peakUnrelated int64
	// scaled Deployments at rest, and the operator's mutating requests and Events then.
	scaled        int
	scaleMutating float64
	scaleEvents   int
	// byResource are the operator's requests until all Ready and settled, by verb and
	// resource (the API server's audit log).
	byResource breakdown
	// stateChanges are the Storefronts' condition changes the harness watched, and
	// transitionEvents the operator's Events for them; eventMismatch says where they
	// differ.
	stateChanges, transitionEvents int
	eventMismatch                  string
	// otherEvents are the operator's Events that report no state change, and warnings
	// its Warning Events, by "type kind reason"; paths are the most frequent sequences
	// of state changes.
	otherEvents, warnings map[string]int
	paths                 []pathCount
}

func (r report) markdown() string {
	n := float64(r.opts.storefronts)
	var b bytes.Buffer
	fmt.Fprintf(&b, "Measured %s on %s/%s with %d CPUs (`make bench-operator`; flags: `%s`).\n\n",
		time.Now().UTC().Format("2006-01-02"), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), strings.Join(os.Args[1:], " "))
	fmt.Fprintf(&b, "| figure | value |\n|---|---|\n")
	fmt.Fprintf(&b, "| Storefronts (Aurora + ElastiCache Serverless, Ingress) | %d in %d namespaces |\n", r.opts.storefronts, r.opts.namespaces)
	fmt.Fprintf(&b, "| ACK stand-in provisioning delay (each of DB cluster, DB instance, cache) | %s |\n", r.opts.ackDelay)
	fmt.Fprintf(&b, "| time to apply them all | %s |\n", r.applied.Round(time.Millisecond))
	fmt.Fprintf(&b, "| **time from the first apply until all are Ready** | **%s** |\n", r.allReady.Round(100*time.Millisecond))
	fmt.Fprintf(&b, "| **API requests per Storefront** until all Ready | **%.1f** (%.0f in all: %s) |\n",
		r.provisioning.total()/n, r.provisioning.total(), r.provisioning.byMethod())
	fmt.Fprintf(&b, "| of which mutating | %.1f per Storefront |\n", r.provisioning.mutating()/n)
	if r.provisioning.reconciles > 0 {
		fmt.Fprintf(&b, "| operator reconciles until all Ready, mean duration | %.0f (%.1f per Storefront), %.0f ms |\n",
			r.provisioning.reconciles, r.provisioning.reconciles/n, 1000*r.provisioning.reconcileSeconds/r.provisioning.reconciles)
	}
	fmt.Fprintf(&b, "| CPU time until all Ready: operator / kube-apiserver + etcd / stand-ins and harness | %.0f s / %.0f s / %.0f s |\n",
		r.cpu.operator, r.cpu.controlPlane, r.cpu.harness)
	fmt.Fprintf(&b, "| load average (1, 5, 15 min) before / when all Ready (the machine is shared) | %s / %s |\n", r.loadBefore, r.loadAfter)
	fmt.Fprintf(&b, "| API requests per Storefront once settled | %.1f (%s) |\n", r.settled.total()/n, r.settled.byMethod())
	fmt.Fprintf(&b, "| **mutating requests over one full resync at rest** (a restarted operator reconciles all %d) | **%.0f** (target 0; all requests: %s) |\n",
		r.opts.storefronts, r.resync.mutating(), r.resync.byMethod())
	fmt.Fprintf(&b, "| reconciles in that resync, and its duration | %.0f in %s |\n", r.resync.reconciles, r.resyncTime.Round(time.Millisecond))
	fmt.Fprintf(&b, "| **operator peak memory** (VmHWM) while provisioning | **%s** |\n", mib(r.peakProvisioning))
	fmt.Fprintf(&b, "| operator peak memory during the resync | %s |\n", mib(r.peakResync))
	fmt.Fprintf(&b, "| Storefronts not Ready after the resync | %d |\n", r.notReadyAfter)
	fmt.Fprintf(&b, "| **operator peak memory, the same resync beside %d unrelated Secrets (2 KiB each) and %d unrelated Jobs** | **%s** (%+.1f %% of %s without them; target within 10 %%) |\n",
		r.opts.unrelatedSecrets, r.opts.unrelatedJobs, mib(r.peakUnrelated), 100*float64(r.peakUnrelated-r.peakResync)/float64(max(r.peakResync, 1)), mib(r.peakResync))
	fmt.Fprintf(&b, "| **Deployment scale events at rest** (the HPA stand-in, 2 → 3 pods): Storefront writes and Events | **%d scale events: %.0f mutating requests, %d Events** (target 0 and 0) |\n",
		r.scaled, r.scaleMutating, r.scaleEvents)
	check := "one each (met)"
	if r.eventMismatch != "" {
		check = "MISSED: " + r.eventMismatch
	}
	fmt.Fprintf(&b, "| **Events per state change** (condition status or reason changes the harness watched, against the operator's Events for them) | **%d state changes (%.1f per Storefront), %d Events**: %s |\n",
		r.stateChanges, float64(r.stateChanges)/n, r.transitionEvents, check)
	fmt.Fprintf(&b, "| Events that report no state change | %s |\n", describeCounts(r.otherEvents))
	fmt.Fprintf(&b, "| **Warning Events** (this fleet needs no human) | **%s** (target none) |\n", describeCounts(r.warnings))
	fmt.Fprintf(&b, "\nThe most frequent sequences of state changes on the way to Ready (one step per stored version that changed a condition's status or reason; the first step is the first status):\n\n")
	for _, p := range r.paths {
		fmt.Fprintf(&b, "- %d Storefronts: %s\n", p.storefronts, p.path)
	}
	fmt.Fprintf(&b, "\nThe operator's requests until all Ready and settled, by verb and resource (the API server's audit log of its user; a watch counts when it starts):\n\n%s", r.byResource.table(r.opts.storefronts))
	fmt.Fprintf(&b, "\nOperator flags: `%s` (metrics on a free port); client rate limits and reconcile concurrency are the binary's defaults unless the flags say otherwise.\n", strings.Join(r.flags, " "))
	return b.String()
}

func mib(b int64) string {
	return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20))
}

// cpuSample is CPU time in seconds: of the operator, of the API server and etcd (the
// harness's children), of the harness with the stand-ins.
type cpuSample struct{ operator, controlPlane, harness float64 }

func (a cpuSample) minus(b cpuSample) cpuSample {
	return cpuSample{a.operator - b.operator, a.controlPlane - b.controlPlane, a.harness - b.harness}
}

func sampleCPU(operatorPID int) cpuSample {
	s := cpuSample{operator: processCPU(operatorPID), harness: processCPU(os.Getpid())}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == operatorPID {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		fields := statFields(stat)
		if len(fields) > 2 && fields[1] == strconv.Itoa(os.Getpid()) && (fields[0] == "kube-apiserver" || fields[0] == "etcd") {
			s.controlPlane += processCPU(pid)
		}
	}
	return s
}

// processCPU is the user and system time of a process, in seconds.
func processCPU(pid int) float64 {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	fields := statFields(stat)
	if len(fields) < 13 {
		return 0
	}
	utime, _ := strconv.ParseFloat(fields[11], 64)
	stime, _ := strconv.ParseFloat(fields[12], 64)
	const clockTicks = 100 // USER_HZ on Linux
	return (utime + stime) / clockTicks
}

// statFields splits /proc/<pid>/stat into the command (without parentheses) and the
// fields after the state: fields[1] is the ppid, fields[11] and fields[12] utime and
// stime (proc(5)).
func statFields(stat []byte) []string {
	s := string(stat)
	open, close := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || close < open {
		return nil
	}
	rest := strings.Fields(s[close+1:])
	if len(rest) < 2 {
		return nil
	}
	return append([]string{s[open+1 : close]}, rest[1:]...)
}

func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], ", ")
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// tail is the end of a log file, for error messages.
func tail(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}
