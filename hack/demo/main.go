// Command demo runs the whole system on this machine (`make demo`;
// docs/architecture.md#the-whole-system-on-one-machine): a control
// plane of the real Kubernetes programs (kube-apiserver, etcd, kube-controller-manager,
// kube-scheduler), the operator, and stand-ins for what cannot run here - a kubelet that
// runs pods as local processes, metrics-server, the AWS Load Balancer Controller with
// its ALBs, and ACK
// (test/localcluster) - then applies the sample Storefront and prints one line per
// phase or condition change until it is Ready, then how to reach and explore it. It
// keeps reporting changes until Ctrl-C, which stops and removes everything.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	shopv1alpha1 "github.com/storefront-operator/storefront/api/v1alpha1"
	"github.com/storefront-operator/storefront/controllers"
	"github.com/storefront-operator/storefront/test/localcluster"
	"github.com/storefront-operator/storefront/test/testenv"
)

func main() {
	os.Exit(run(os.Stdout))
}

type options struct {
	sample, kubeconfig, bin, dir string
	ackDelay, timeout            time.Duration
	// cdnAlias, when set, gives the Storefront an images bucket and the CDN (cdn.go).
	cdnAlias string
}

func run(out io.Writer) int {
	var o options
	// A flag set of its own: controller-runtime registers -kubeconfig on the global one.
	fs := flag.NewFlagSet("demo", flag.ExitOnError)
	fs.StringVar(&o.sample, "sample", "config/samples/shop_v1alpha1_storefront.yaml", "Storefront manifest to apply")
	fs.StringVar(&o.kubeconfig, "kubeconfig", "bin/demo.kubeconfig", "where to write the cluster's kubeconfig")
	fs.StringVar(&o.bin, "bin", "bin", "directory of the shop and shop-badmigration binaries")
	fs.StringVar(&o.dir, "dir", "", "keep the cluster's files (logs, certificates, snapshots) in this directory; default: a temporary one, removed on exit")
	fs.DurationVar(&o.ackDelay, "ack-delay", 2*time.Second, "how long ACK resources stay creating before they are available")
	fs.DurationVar(&o.timeout, "timeout", 5*time.Minute, "give up when the Storefront is not Ready by then")
	fs.StringVar(&o.cdnAlias, "cdn-alias", "", "give the Storefront an images bucket and a CDN with this alias (say www.acme.example; not the Ingress host, which becomes the origin), upload a picture as its admin and show it served through the CDN stand-in")
	_ = fs.Parse(os.Args[1:])

	// The operator's and the stand-ins' logs go to files; client-go's own must not
	// clutter the progress lines.
	ctrl.SetLogger(logr.Discard())
	klog.SetLogger(logr.Discard())

	start := time.Now()
	if err := checkPrerequisites(o); err != nil {
		fmt.Fprintf(os.Stderr, "demo: %v\n", err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	operator, stopTracing, err := tracingOptions(ctx, out)
	if err != nil {
		fmt.Fprintf(os.Stderr, "demo: %v\n", err)
		return 1
	}
	defer stopTracing()

	fmt.Fprintln(out, "Starting kube-apiserver, etcd, kube-controller-manager, kube-scheduler, the operator and the stand-ins for the kubelet, metrics-server, the ALB and ACK ...")
	c, err := localcluster.Start(ctx, localcluster.Options{
		Operator:       operator,
		Dir:            o.dir,
		KubeconfigPath: o.kubeconfig,
		Images: localcluster.Images{
			Shop:             filepath.Join(o.bin, "shop"),
			ShopBadMigration: filepath.Join(o.bin, "shop-badmigration"),
		},
		ACKDelay: o.ackDelay,
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "demo: %v\n", err)
		return 1
	}
	defer func() {
		fmt.Fprintln(out, "\nStopping: the shop's processes, PostgreSQL, Redis, the operator and the control plane ...")
		c.Stop()
		if o.dir != "" {
			fmt.Fprintf(out, "Stopped; every process is gone, the logs stay in %s.\n", o.dir)
			return
		}
		fmt.Fprintln(out, "Stopped; every process and temporary directory is gone.")
	}()
	fmt.Fprintf(out, "[%6.1fs] control plane up, kubeconfig %s; logs under %s\n", time.Since(start).Seconds(), o.kubeconfig, c.Dir())

	sample := o.sample
	if o.cdnAlias != "" {
		path, key, err := withCDN(o.sample, c.Dir(), o.cdnAlias)
		if err != nil {
			fmt.Fprintf(os.Stderr, "demo: %v\n", err)
			return 1
		}
		// EKS Pod Identity: the shop's ServiceAccount gets the images role before its
		// pods exist.
		c.AssociatePodIdentity(key.Namespace, key.Name+"-shop", demoImagesRole)
		sample = path
	}
	objs, err := c.Apply(ctx, sample)
	if err != nil {
		fmt.Fprintf(os.Stderr, "demo: %v\n", err)
		return 1
	}
	var sf *shopv1alpha1.Storefront
	for _, u := range objs {
		if u.GetKind() == "Storefront" {
			sf = &shopv1alpha1.Storefront{}
			sf.Namespace, sf.Name = u.GetNamespace(), u.GetName()
		}
	}
	if sf == nil {
		fmt.Fprintf(os.Stderr, "demo: %s holds no Storefront\n", o.sample)
		return 1
	}
	fmt.Fprintf(out, "[%6.1fs] applied %s: Storefront %s/%s\n", time.Since(start).Seconds(), sample, sf.Namespace, sf.Name)

	return watch(ctx, out, c, client.ObjectKeyFromObject(sf), start, o)
}

// watch prints every change of the Storefront until ctx ends, and the way in once it
// is first Ready.
func watch(ctx context.Context, out io.Writer, c *localcluster.Cluster, key client.ObjectKey, start time.Time, o options) int {
	progress := localcluster.NewProgress(start)
	deadline := time.Now().Add(o.timeout)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	announced := false
	for {
		select {
		case <-ctx.Done():
			return 0
		case <-tick.C:
		}
		if o.cdnAlias != "" {
			publishValidationRecords(c) // as whoever runs the DNS zone would
		}
		sf := &shopv1alpha1.Storefront{}
		if err := c.Client.Get(ctx, key, sf); err != nil {
			if ctx.Err() != nil {
				return 0
			}
			fmt.Fprintf(out, "reading the Storefront: %v\n", err)
			continue
		}
		for _, line := range progress.Observe(sf, time.Now()) {
			fmt.Fprintln(out, line)
		}
		if !announced && localcluster.ReadyNow(sf) {
			announced = true
			if err := announce(ctx, out, c, sf, time.Since(start), o); err != nil {
				fmt.Fprintf(os.Stderr, "demo: %v\n", err)
				return 1
			}
		}
		if !announced && time.Now().After(deadline) {
			fmt.Fprintf(os.Stderr, "demo: the Storefront is not Ready after %s; logs under %s\n", o.timeout, c.Dir())
			c.DumpLogs(os.Stderr, 20)
			return 1
		}
	}
}

// announce prints where the shop is, its admin's credentials and what to try, once
// its load balancer serves it (targets are registered a few seconds after the pods are
// ready, as on AWS).
func announce(ctx context.Context, out io.Writer, c *localcluster.Cluster, sf *shopv1alpha1.Storefront, took time.Duration, o options) error {
	lb, err := c.StorefrontURL(ctx, sf.Namespace, sf.Name)
	if err != nil {
		return err
	}
	shopURL, reach, curl := lb, "", "curl -s"
	cdnAddr := ""
	if o.cdnAlias != "" {
		// Behind the CDN the ALB refuses what does not come through it.
		if err := waitForCDN(ctx, c, client.ObjectKeyFromObject(sf), o.cdnAlias); err != nil {
			return err
		}
		cdnAddr = c.ACK().DistributionAddress(o.cdnAlias)
		shopURL = "http://" + o.cdnAlias
		reach = fmt.Sprintf("   (through the CDN stand-in on %s)", cdnAddr)
		curl = fmt.Sprintf("curl -s --connect-to %s:80:%s", o.cdnAlias, cdnAddr)
	} else if ing := sf.Spec.Ingress; ing != nil && ing.Host != "" {
		// The ALB answers for its host only: DNS would point the host at it.
		shopURL = "http://" + ing.Host
		lbHostPort := strings.TrimPrefix(lb, "http://")
		reach = fmt.Sprintf("   (its ALB stand-in listens on %s and answers for %s only)", lbHostPort, ing.Host)
		curl = fmt.Sprintf("curl -s --connect-to %s:80:%s", ing.Host, lbHostPort)
	}
	served := time.Now()
	httpc := c.HTTPClient(5 * time.Second)
	for deadline := time.Now().Add(time.Minute); ; {
		resp, err := httpc.Get(shopURL + "/healthz")
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("the load balancer does not serve %s: %v", shopURL, err)
		}
		time.Sleep(100 * time.Millisecond) // polling the load balancer with a deadline
	}
	app := &corev1.Secret{}
	if err := c.Client.Get(ctx, client.ObjectKey{Namespace: sf.Namespace, Name: sf.Name + "-app"}, app); err != nil {
		return fmt.Errorf("reading the admin credentials: %w", err)
	}
	password, note := string(app.Data["admin-password"]), "the first sign-in asks for a new password"
	cdn := ""
	if o.cdnAlias != "" {
		newPassword := "demo-" + password
		page, err := showImages(ctx, out, httpc, shopURL, string(app.Data["admin-email"]), password, newPassword)
		if err != nil {
			return fmt.Errorf("showing images through the CDN: %w", err)
		}
		password, note = newPassword, "the demo chose it at the first sign-in"
		cdn = cdnLines(o.cdnAlias, cdnAddr, page)
	}
	kc := "kubectl --kubeconfig " + o.kubeconfig
	repo, _ := localcluster.ParseImage(sf.Spec.Image)
	fmt.Fprintf(out, `
Storefront %[1]s/%[2]s is Ready, %.1fs after the demo started; its load balancer serves it %.1fs later.

  Shop        %[5]s%[6]s
  Admin       %[7]s / %[8]s   (Secret %[1]s/%[2]s-app; %[14]s)
%[15]s  Kubeconfig  %[9]s
  Logs        %[10]s   (pods/<namespace>/<pod>/, logs/, ack/)

Try:
  %[11]s -n %[1]s get storefronts,deployments,replicasets,jobs,pods,endpointslices
  %[11]s -n %[1]s describe storefront %[2]s
  %[11]s -n %[1]s top pods
  %[11]s -n %[1]s patch storefront %[2]s --type merge -p '{"spec":{"image":"%[12]s:1.5.0"}}'
  %[13]s '%[5]s/api/v1/search?q=coffee&per_page=3'

A tag ending in -badmigration (%[12]s:1.5.1-badmigration) runs a migration that fails:
the old version keeps serving. Changes keep showing here. Ctrl-C stops and removes everything.

`, sf.Namespace, sf.Name, took.Seconds(), time.Since(served).Seconds(), shopURL, reach,
		app.Data["admin-email"], password, o.kubeconfig, c.Dir(), kc, repo, curl, note, cdn)
	return nil
}

// checkPrerequisites fails at once, with the command that fixes it, when something the
// demo runs is missing.
func checkPrerequisites(o options) error {
	var errs []error
	if _, err := exec.LookPath("redis-server"); err != nil {
		errs = append(errs, fmt.Errorf("redis-server not found on $PATH: install it with `%s`", testenv.RedisInstall))
	}
	if _, err := testenv.FindPostgresBin(); err != nil {
		errs = append(errs, err)
	} else if _, err := localcluster.PgDumpPath(); err != nil {
		errs = append(errs, err)
	}
	if dir, err := testenv.KubebuilderAssets(); err != nil {
		errs = append(errs, err)
	} else if err := localcluster.ControlPlaneBinaries(dir); err != nil {
		errs = append(errs, err)
	}
	for _, b := range []string{"shop", "shop-badmigration"} {
		if _, err := os.Stat(filepath.Join(o.bin, b)); err != nil {
			errs = append(errs, fmt.Errorf("%s not found: run `make demo`, which builds it", filepath.Join(o.bin, b)))
		}
	}
	if _, err := os.Stat(o.sample); err != nil {
		errs = append(errs, fmt.Errorf("the sample %s: %w (run the demo from the repository root)", o.sample, err))
	}
	return errors.Join(errs...)
}

// tracingOptions traces the operator, and makes it hand the collector to the shop and
// its migration Job, when OTEL_EXPORTER_OTLP_ENDPOINT is set in the demo's environment
// (go run ./hack/tracesink receives and prints the traces). The stop function flushes.
func tracingOptions(ctx context.Context, out io.Writer) (controllers.Options, func(), error) {
	var o controllers.Options
	endpoint := os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT")
	if endpoint == "" {
		return o, func() {}, nil
	}
	o.OTLP = controllers.OTLPDefaults{Endpoint: endpoint, Protocol: os.Getenv("OTEL_EXPORTER_OTLP_PROTOCOL"), SamplingRatio: "1"}
	tp, err := controllers.SetupTracing(ctx, os.Getenv, o.OTLP, "demo")
	if err != nil || tp == nil {
		return o, func() {}, err
	}
	o.TracerProvider = tp
	fmt.Fprintf(out, "Tracing: the operator, the migration Job and the shop send their traces to %s (every trace kept)\n", endpoint)
	return o, func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = tp.Shutdown(sctx)
	}, nil
}
