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

// Package localcluster runs the whole system on one machine: a control
// plane of the real Kubernetes v1.37.2 programs (kube-apiserver and etcd through
// envtest, kube-controller-manager and kube-scheduler beside them), the operator
// through controllers.Setup, and stand-ins for what cannot run here - a kubelet that
// runs the pods bound to its node as local processes (kubelet.go), metrics-server from
// the process table (metrics.go), the AWS Load
// Balancer Controller and its ALBs (alb.go), and ACK backed by throwaway PostgreSQL and
// Redis servers with TLS from a throwaway CA (ack.go). `make demo` (hack/demo) and the
// end-to-end suite (test/e2e) run on it.
//
// ACK runs test/fake's ACK controllers, with the servers behind them as a
// fake.Provisioner.
package localcluster

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/source"

	shopv1alpha1 "github.com/storefront-operator/storefront/api/v1alpha1"
	"github.com/storefront-operator/storefront/controllers"
	"github.com/storefront-operator/storefront/test/testenv"
)

// Options configure a local cluster. The zero value works from a checkout where `make
// demo` (or the binaries it builds) has run.
type Options struct {
	// Dir holds the cluster's files: certificates, pod logs, the stand-ins' and the
	// operator's logs. Empty: a temporary directory that Stop removes.
	Dir string
	// KubeconfigPath, when set, receives an admin kubeconfig for the API server
	// (removed by Stop, since it points at nothing afterwards).
	KubeconfigPath string
	// Images maps container images to programs; empty fields default to bin/shop and
	// bin/shop-badmigration in the repository.
	Images Images
	// Operator are the operator's settings. Empty subnet and security group lists get
	// made-up IDs, as Terraform's outputs fill them in a real cluster.
	Operator controllers.Options
	// ACKDelay is how long ACK resources stay creating (or deleting) before they are
	// available (or gone), so that the phases can be watched; AWS takes minutes.
	ACKDelay time.Duration
	// TargetRegistrationDelay is how long an EndpointSlice change takes to reach the
	// ALB stand-in (registering or deregistering a target); default
	// DefaultTargetRegistrationDelay.
	TargetRegistrationDelay time.Duration
	// StopGrace bounds how long Stop waits for each pod's processes after SIGTERM
	// before SIGKILL; default 2s.
	StopGrace time.Duration
}

// Cluster is a running local cluster.
type Cluster struct {
	// Config reaches the API server as an administrator.
	Config *rest.Config
	// Client is an uncached client with the Storefront and the built-in kinds.
	Client client.Client

	opts       Options
	dir        string
	ownDir     bool
	kubeconfig string
	env        *envtest.Environment
	ca         *testenv.CA
	kubelet    *kubelet
	alb        *albController
	metrics    *metricsServer
	ack        *ackPlayer
	// podIdentity plays EKS Pod Identity (podidentity.go).
	podIdentity *podIdentity
	guard       *guard
	logFiles    []*os.File
	// controlPlane are kube-controller-manager and kube-scheduler.
	controlPlane []*process
	// transport is HTTPClient's, shared so that its connections are reused.
	transport     *http.Transport
	transportOnce sync.Once

	cancel   context.CancelFunc
	managers sync.WaitGroup
	stopOnce sync.Once
}

// Scheme has the built-in kinds and the Storefront.
func Scheme() *runtime.Scheme {
	s := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(s))
	utilruntime.Must(shopv1alpha1.AddToScheme(s))
	return s
}

// Start starts the control plane, installs the CRDs, and runs the operator and the
// stand-ins. On error, whatever started is stopped again.
func Start(ctx context.Context, opts Options) (c *Cluster, err error) {
	if opts.TargetRegistrationDelay == 0 {
		opts.TargetRegistrationDelay = DefaultTargetRegistrationDelay
	}
	if opts.StopGrace == 0 {
		opts.StopGrace = 2 * time.Second
	}
	bin := filepath.Join(testenv.RepoRoot(), "bin")
	if opts.Images.Shop == "" {
		opts.Images.Shop = filepath.Join(bin, "shop")
	}
	if opts.Images.ShopBadMigration == "" {
		opts.Images.ShopBadMigration = filepath.Join(bin, "shop-badmigration")
	}
	// Pods run in directories of their own, maybe as another user.
	for _, p := range []*string{&opts.Images.Shop, &opts.Images.ShopBadMigration} {
		abs, err := filepath.Abs(*p)
		if err != nil {
			return nil, err
		}
		*p = abs
	}
	defaultIDs(&opts.Operator)

	cl := &Cluster{opts: opts, dir: opts.Dir}
	defer func() {
		if err != nil {
			cl.Stop()
		}
	}()
	c = cl
	if c.dir == "" {
		if c.dir, err = os.MkdirTemp("", "localcluster-*"); err != nil {
			return nil, err
		}
		c.ownDir = true
	}
	if err := os.MkdirAll(c.dir, 0o755); err != nil {
		return nil, err
	}
	// Pods and servers that run as another user (PostgreSQL as root) read from here.
	if err := os.Chmod(c.dir, 0o755); err != nil {
		return nil, err
	}
	guardDir, err := os.MkdirTemp("", "localcluster-guard-*")
	if err != nil {
		return nil, err
	}
	if c.guard, err = startGuard(guardDir); err != nil {
		_ = os.RemoveAll(guardDir)
		return nil, err
	}
	if err := c.guard.Remove(guardDir); err != nil {
		return nil, err
	}
	if c.ownDir {
		if err := c.guard.Remove(c.dir); err != nil {
			return nil, err
		}
	}
	if c.ca, err = testenv.NewCA(filepath.Join(c.dir, "tls")); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(c.dir, "logs"), 0o755); err != nil {
		return nil, err
	}

	if c.env, err = testenv.NewEnvironment(); err != nil {
		return nil, err
	}
	if err := ControlPlaneBinaries(c.env.BinaryAssetsDirectory); err != nil {
		return nil, err
	}
	configureAPIServer(c.env)
	aggregation, err := configureAggregation(c.env, filepath.Join(c.dir, "tls", "aggregation"))
	if err != nil {
		return nil, err
	}
	if c.Config, err = testenv.StartEnvironment(c.env); err != nil {
		c.env = nil
		return nil, fmt.Errorf("starting the control plane: %w", err)
	}
	if err := c.guard.Kill(childrenIn(c.env.BinaryAssetsDirectory)...); err != nil {
		return nil, err
	}
	if err := c.guard.Remove(c.env.ControlPlane.APIServer.CertDir, c.env.ControlPlane.Etcd.DataDir); err != nil {
		return nil, err
	}
	if opts.KubeconfigPath != "" {
		if err := c.writeKubeconfig(opts.KubeconfigPath); err != nil {
			return nil, err
		}
	}
	if err := c.startControllers(); err != nil {
		return nil, err
	}
	scheme := Scheme()
	if c.Client, err = client.New(c.Config, client.Options{Scheme: scheme}); err != nil {
		return nil, err
	}
	// The kubelet registers its node; the LBC's IngressClass is the default one.
	if err := registerNode(ctx, c.Client); err != nil {
		return nil, err
	}
	if err := c.Client.Create(ctx, desiredIngressClass()); err != nil && !apierrors.IsAlreadyExists(err) {
		return nil, fmt.Errorf("creating the alb IngressClass: %w", err)
	}

	runCtx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	standInLog, err := c.fileLogger("localcluster.log")
	if err != nil {
		return nil, err
	}
	operatorLog, err := c.fileLogger("operator.log")
	if err != nil {
		return nil, err
	}
	standIns, err := c.newManager(scheme, standInLog, cache.Options{ByObject: map[client.Object]cache.ByObject{
		// The kubelet watches the pods bound to its node.
		&corev1.Pod{}: {Field: fields.OneTermEqualSelector("spec.nodeName", NodeName)},
	}})
	if err != nil {
		return nil, err
	}
	if err := c.setupStandIns(runCtx, standIns, standInLog); err != nil {
		return nil, err
	}
	if c.metrics, err = startMetricsServer(c.kubelet, aggregation); err != nil {
		return nil, fmt.Errorf("starting the metrics server: %w", err)
	}
	if err := c.metrics.register(ctx, c.Client, aggregation.servingCA); err != nil {
		return nil, err
	}
	operator, err := c.newManager(scheme, operatorLog, controllers.CacheOptions(opts.Operator.WatchNamespaces))
	if err != nil {
		return nil, err
	}
	if err := controllers.Setup(operator, opts.Operator); err != nil {
		return nil, err
	}
	for _, m := range []manager.Manager{standIns, operator} {
		c.managers.Add(1)
		go func() {
			defer c.managers.Done()
			if err := m.Start(runCtx); err != nil {
				standInLog.Error(err, "Manager stopped")
			}
		}()
	}
	for _, m := range []manager.Manager{standIns, operator} {
		syncCtx, cancel := context.WithTimeout(ctx, time.Minute)
		ok := m.GetCache().WaitForCacheSync(syncCtx)
		cancel()
		if !ok {
			var logs strings.Builder
			c.DumpLogs(&logs, 10)
			return nil, fmt.Errorf("the managers' caches did not sync; the logs' last lines:\n%s", logs.String())
		}
	}
	go heartbeat(runCtx, c.Client, func(err error) { standInLog.Error(err, "Node heartbeat") })
	if err := c.waitSchedulable(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// waitSchedulable waits until the node lifecycle controller has lifted the not-ready
// taint the API server put on the new Node: from then on pods are scheduled.
func (c *Cluster) waitSchedulable(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for {
		node := &corev1.Node{}
		err := c.Client.Get(ctx, client.ObjectKey{Name: NodeName}, node)
		if err == nil {
			tainted := false
			for _, t := range node.Spec.Taints {
				tainted = tainted || t.Key == corev1.TaintNodeNotReady
			}
			if !tainted {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			var logs strings.Builder
			c.DumpLogs(&logs, 10)
			return fmt.Errorf("node %s still has the %s taint: is kube-controller-manager running? The logs' last lines:\n%s", NodeName, corev1.TaintNodeNotReady, logs.String())
		case <-time.After(50 * time.Millisecond): // polling the API server with a deadline
		}
	}
}

// defaultIDs fills the network settings the operator needs for ACK resources with
// made-up IDs.
func defaultIDs(o *controllers.Options) {
	if o.AWSRegion == "" {
		o.AWSRegion = "eu-west-1"
	}
	// The ALB stand-in connects to the pods from loopback, as an ALB in IP mode does from
	// its subnets (Terraform passes those): the shops trust its X-Forwarded-For.
	if len(o.IngressCIDRs) == 0 {
		o.IngressCIDRs = []string{"127.0.0.1/32"}
	}
	for _, f := range []struct {
		ids *[]string
		def []string
	}{
		{&o.DBSubnetIDs, []string{"subnet-0a1b2c3d4e5f60001", "subnet-0a1b2c3d4e5f60002"}},
		{&o.DBSecurityGroupIDs, []string{"sg-0a1b2c3d4e5f60001"}},
		{&o.CacheSubnetIDs, []string{"subnet-0a1b2c3d4e5f60001", "subnet-0a1b2c3d4e5f60002"}},
		{&o.CacheSecurityGroupIDs, []string{"sg-0a1b2c3d4e5f60002"}},
	} {
		if len(*f.ids) == 0 {
			*f.ids = f.def
		}
	}
}

func (c *Cluster) newManager(scheme *runtime.Scheme, log logr.Logger, cacheOpts cache.Options) (manager.Manager, error) {
	return ctrl.NewManager(c.Config, ctrl.Options{
		Scheme:                 scheme,
		Cache:                  cacheOpts,
		Logger:                 log,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		// Tests may run several clusters in one process, each registering the same names.
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	})
}

// setupStandIns registers the kubelet, ALB and ACK stand-ins.
func (c *Cluster) setupStandIns(_ context.Context, mgr manager.Manager, log logr.Logger) error {
	cl := mgr.GetClient()
	c.kubelet = newKubelet(cl, mgr.GetAPIReader(), c.opts.Images, c.ca.CAFile, c.dir, mgr.GetEventRecorder("kubelet"), log.WithName("kubelet"))
	onThisNode := predicate.NewPredicateFuncs(func(o client.Object) bool {
		p, ok := o.(*corev1.Pod)
		return ok && p.Spec.NodeName == NodeName
	})
	if err := ctrl.NewControllerManagedBy(mgr).Named("kubelet").
		For(&corev1.Pod{}, builder.WithPredicates(onThisNode)).
		WatchesRawSource(source.Channel(c.kubelet.finished, &handler.EnqueueRequestForObject{})).
		WithOptions(controller.Options{MaxConcurrentReconciles: 4}).
		Complete(c.kubelet); err != nil {
		return fmt.Errorf("setting up the kubelet: %w", err)
	}
	c.alb = &albController{
		client: cl, net: c.kubelet.net, log: log.WithName("alb"), recorder: mgr.GetEventRecorder("aws-load-balancer-controller"),
		delay: c.opts.TargetRegistrationDelay, lbs: map[types.NamespacedName]*loadBalancer{},
	}
	if err := ctrl.NewControllerManagedBy(mgr).Named("aws-load-balancer-controller").
		For(&networkingv1.Ingress{}).
		Watches(&corev1.Service{}, handler.EnqueueRequestsFromMapFunc(ingressesOf(cl))).
		Watches(&discoveryv1.EndpointSlice{}, handler.EnqueueRequestsFromMapFunc(ingressesOf(cl))).
		Complete(c.alb); err != nil {
		return fmt.Errorf("setting up the ALB stand-in: %w", err)
	}
	if err := c.setupACK(mgr); err != nil {
		return err
	}
	// The CDN stand-in reaches a shop's origin, its Ingress host, on the local ALB.
	c.ack.standIns.SetCDNOriginResolver(c.alb.originResolver)
	// EKS Pod Identity: the kubelet gives associated pods the agent's credentials, which
	// are the only ones the S3 stand-in accepts writes with.
	s3Endpoint, _ := c.ack.standIns.S3()
	var err error
	if c.podIdentity, err = startPodIdentity(cl, c.opts.Operator.AWSRegion, s3Endpoint); err != nil {
		return err
	}
	c.kubelet.podIdentity = c.podIdentity
	c.ack.standIns.SetS3AccessKeys(c.podIdentity.known)
	return nil
}

// Stop stops the operator and the stand-ins, every process (SIGTERM, then SIGKILL
// after StopGrace), the data store servers and the control plane, and removes what it
// created on disk. It is safe to call more than once.
func (c *Cluster) Stop() {
	c.stopOnce.Do(func() {
		if c.cancel != nil {
			c.cancel()
			c.managers.Wait()
		}
		c.stopControllers()
		if c.kubelet != nil {
			c.kubelet.StopAll(c.opts.StopGrace)
		}
		if c.alb != nil {
			c.alb.CloseAll()
		}
		if c.ack != nil && c.ack.standIns != nil {
			c.ack.standIns.CloseCDN() // the S3 server and the distributions' proxies
		}
		c.podIdentity.close()
		c.metrics.Stop()
		if c.transport != nil {
			c.transport.CloseIdleConnections()
		}
		if c.ack != nil {
			c.ack.Stop()
		}
		if c.env != nil {
			_ = c.env.Stop()
		}
		c.guard.Stop()
		for _, f := range c.logFiles {
			_ = f.Close()
		}
		if c.kubeconfig != "" {
			_ = os.Remove(c.kubeconfig)
		}
		if c.ownDir {
			_ = os.RemoveAll(c.dir)
		}
	})
}

// Dir is the cluster's directory.
func (c *Cluster) Dir() string { return c.dir }

// CAFile is the throwaway CA's certificate, which the data stores' certificates chain to.
func (c *Cluster) CAFile() string { return c.ca.CAFile }

// KubeconfigPath is where the kubeconfig was written ("" when Options asked for none).
func (c *Cluster) KubeconfigPath() string { return c.kubeconfig }

// IngressURL is the address of the load balancer of the Ingress ns/name, or "" when
// it has none.
func (c *Cluster) IngressURL(namespace, name string) string {
	return c.alb.URL(types.NamespacedName{Namespace: namespace, Name: name})
}

// HTTPClient is a client that reaches the hosts the Ingresses name at their load
// balancers, as DNS would resolve them to their ALBs, and a CDN alias at its
// distribution stand-in (plain HTTP), as its CNAME would; any other address is dialled
// as it is. The load balancers match the Host strictly: a request to a load balancer's
// bare address matches no host rule.
func (c *Cluster) HTTPClient(timeout time.Duration) *http.Client {
	c.transportOnce.Do(func() {
		var d net.Dialer
		c.transport = &http.Transport{
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				if host, _, err := net.SplitHostPort(addr); err == nil {
					if lb := c.alb.addressFor(host); lb != "" {
						addr = lb
					} else if d := c.ack.standIns.DistributionAddress(host); d != "" {
						addr = d
					}
				}
				return d.DialContext(ctx, network, addr)
			},
			MaxIdleConnsPerHost: 16,
			IdleConnTimeout:     30 * time.Second,
		}
	})
	return &http.Client{Timeout: timeout, Transport: c.transport}
}

func (c *Cluster) writeKubeconfig(path string) error {
	user, err := c.env.AddUser(envtest.User{Name: "localcluster-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return fmt.Errorf("adding the kubeconfig user: %w", err)
	}
	b, err := user.KubeConfig()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return fmt.Errorf("writing the kubeconfig: %w", err)
	}
	c.kubeconfig = path
	return c.guard.Remove(path)
}

func (c *Cluster) fileLogger(name string) (logr.Logger, error) {
	f, err := os.OpenFile(filepath.Join(c.dir, "logs", name), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return logr.Discard(), err
	}
	c.logFiles = append(c.logFiles, f)
	return zap.New(zap.WriteTo(f), zap.UseDevMode(false)), nil
}

// LogFile is one process's log.
type LogFile struct {
	// Name says whose log it is: "pod shops/acme-shop-7d9c-x2b4q", "operator", ...
	Name string
	Path string
}

// Logs lists every log of the cluster: the operator's, the stand-ins', the data
// stores', and each pod's, the pods' in order of name.
func (c *Cluster) Logs() []LogFile {
	logs := []LogFile{
		{"operator", filepath.Join(c.dir, "logs", "operator.log")},
		{"stand-ins", filepath.Join(c.dir, "logs", "localcluster.log")},
		{kubeControllerManager, filepath.Join(c.dir, "logs", kubeControllerManager+".log")},
		{kubeScheduler, filepath.Join(c.dir, "logs", kubeScheduler+".log")},
	}
	if c.ack != nil {
		logs = append(logs, c.ack.Logs()...)
	}
	var pods []LogFile
	_ = filepath.WalkDir(filepath.Join(c.dir, "pods"), func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, ".log") {
			rel, _ := filepath.Rel(filepath.Join(c.dir, "pods"), filepath.Dir(path))
			pods = append(pods, LogFile{Name: "pod " + filepath.ToSlash(rel), Path: path})
		}
		return nil
	})
	sort.Slice(pods, func(i, j int) bool { return pods[i].Name < pods[j].Name })
	return append(logs, pods...)
}

// DumpLogs writes the last lines of every log to w, for a failed test.
func (c *Cluster) DumpLogs(w io.Writer, lines int) {
	for _, l := range c.Logs() {
		tail, err := tailLines(l.Path, lines)
		if err != nil {
			continue
		}
		_, _ = fmt.Fprintf(w, "----- %s (%s), last %d lines -----\n%s\n", l.Name, l.Path, lines, tail)
	}
}

// tailLines is the last n lines of the file at path.
func tailLines(path string, n int) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	all := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(all) > n {
		all = all[len(all)-n:]
	}
	return strings.Join(all, "\n"), nil
}
