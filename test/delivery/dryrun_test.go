package delivery

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/storefront-operator/storefront/test/fake"
)

// serverSideApply applies u as `kubectl apply --server-side --force-conflicts` does; with
// client.DryRunAll among opts, as `--dry-run=server` does: the API server defaults,
// validates (apply requests are always Strict: an unknown field is an error) and admits
// the object, and stores nothing.
func serverSideApply(ctx context.Context, c client.Client, u *unstructured.Unstructured, opts ...client.ApplyOption) error {
	obj := u.DeepCopy()
	obj.SetManagedFields(nil)
	obj.SetResourceVersion("")
	return c.Apply(ctx, client.ApplyConfigurationFromUnstructured(obj),
		append([]client.ApplyOption{client.FieldOwner("delivery-test"), client.ForceOwnership}, opts...)...)
}

// ensureNamespaces creates, for real, the namespaces the objects live in: a dry run of a
// namespaced object needs its namespace, as `kubectl apply --dry-run=server` does.
func ensureNamespaces(ctx context.Context, t *testing.T, c client.Client, ms []manifest) {
	t.Helper()
	for _, m := range ms {
		name := m.u.GetNamespace()
		if m.u.GetKind() == "Namespace" {
			name = m.u.GetName()
		}
		if name == "" {
			continue
		}
		if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
	}
}

// TestRenderedManifestsPassServerSideDryRun applies everything the repository delivers,
// rendered as a user would render it, with a server-side dry run against a real
// kube-apiserver that has the Storefront CRD of config/crd/bases and the ACK CRDs: a
// schema error in a template, a kustomization or a sample fails here.
func TestRenderedManifestsPassServerSideDryRun(t *testing.T) {
	c := kubeClient(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sets := map[string]func(t *testing.T) []manifest{
		"the chart with its defaults and an image": func(t *testing.T) []manifest { ms, _ := renderChart(t, withImage(nil)); return ms },
		"the chart with every value set":           func(t *testing.T) []manifest { ms, _ := renderChart(t, valuesFile(t, "full-values.yaml")); return ms },
		"kubectl kustomize config/default":         func(t *testing.T) []manifest { return buildKustomize(t, "config/default") },
		"kubectl kustomize config/samples":         func(t *testing.T) []manifest { return buildKustomize(t, "config/samples") },
	}
	for _, name := range sortedKeys(sets) {
		t.Run(name, func(t *testing.T) {
			ms := sets[name](t)
			ensureNamespaces(ctx, t, c, ms)
			applied := 0
			for _, m := range ms {
				// The Prometheus Operator's CRDs are not installed here; TestChartProbesAndPorts
				// and test/monitoring check the ServiceMonitor's and PrometheusRule's content.
				if m.u.GroupVersionKind().Group == "monitoring.coreos.com" {
					continue
				}
				if err := serverSideApply(ctx, c, m.u, client.DryRunAll); err != nil {
					t.Errorf("%v: refused by the API server: %v", m, err)
				}
				applied++
			}
			if applied == 0 {
				t.Fatal("nothing to apply")
			}
		})
	}

	// The dry run must be able to say no, or the cases above prove nothing.
	t.Run("a misspelt field is refused", func(t *testing.T) {
		sample := only(t, buildKustomize(t, "config/samples"), "Storefront").u.DeepCopy()
		if err := unstructured.SetNestedField(sample.Object, "alb", "spec", "ingress", "clasName"); err != nil {
			t.Fatal(err)
		}
		err := serverSideApply(ctx, c, sample, client.DryRunAll)
		if err == nil || !strings.Contains(err.Error(), "clasName") {
			t.Errorf("a Storefront with spec.ingress.clasName: %v", err)
		}
	})
	t.Run("a TLS Secret on an ALB is refused, naming what to use", func(t *testing.T) {
		sample := only(t, buildKustomize(t, "config/samples"), "Storefront").u.DeepCopy()
		if err := unstructured.SetNestedField(sample.Object, "acme-tls", "spec", "ingress", "tlsSecretName"); err != nil {
			t.Fatal(err)
		}
		err := serverSideApply(ctx, c, sample, client.DryRunAll)
		if err == nil || !strings.Contains(err.Error(), "spec.ingress.tlsSecretName") || !strings.Contains(err.Error(), "certificateARN") {
			t.Errorf("tlsSecretName with className alb: %v", err)
		}
	})
	t.Run("an ACM certificate on an ALB is accepted", func(t *testing.T) {
		sample := only(t, buildKustomize(t, "config/samples"), "Storefront").u.DeepCopy()
		arn := "arn:aws:acm:eu-west-1:123456789012:certificate/0a1b2c3d-0000-4000-8000-000000000001"
		if err := unstructured.SetNestedField(sample.Object, arn, "spec", "ingress", "certificateARN"); err != nil {
			t.Fatal(err)
		}
		if err := serverSideApply(ctx, c, sample, client.DryRunAll); err != nil {
			t.Errorf("certificateARN with className alb: %v", err)
		}
	})
}

// TestDeliveredOperatorServesTheSample runs the operator binary with the arguments the
// chart renders from the values hack/eks feeds it (ci/full-values.yaml), against the API
// server, with the stand-ins of test/localcluster/fake playing ACK, the Job and Deployment
// controllers; then checks what it made of the sample Storefront: an Ingress an ALB serves
// from the internet, and NetworkPolicies that let through only what the flags allow.
func TestDeliveredOperatorServesTheSample(t *testing.T) {
	c := kubeClient(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	const ns = "shops-staging" // one of ci/full-values.yaml's watchNamespaces

	values := valuesFile(t, "full-values.yaml")
	ms, _ := renderChart(t, values)
	var args []string
	for _, a := range containerOf(t, ms).Args {
		switch name := flagName(a); name {
		case "leader-elect": // outside a pod there is no namespace for the Lease
		case "metrics-bind-address", "health-probe-bind-address":
		default:
			args = append(args, a)
		}
	}
	args = append(args, "--metrics-bind-address=0", "--health-probe-bind-address=127.0.0.1:0")
	for _, want := range []string{"--ingress-cidrs=", "--db-cidrs=", "--cache-cidrs="} {
		if !slices.ContainsFunc(args, func(a string) bool { return strings.HasPrefix(a, want) }) {
			t.Fatalf("the chart renders no %s argument: %v", want, args)
		}
	}

	dir := t.TempDir()
	bin := filepath.Join(dir, "manager")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir = repoPath()
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	admin, err := apiEnv.AddUser(envtest.User{Name: "delivery-operator", Groups: []string{"system:masters"}}, apiCfg)
	if err != nil {
		t.Fatal(err)
	}
	kubeconfig, err := admin.KubeConfig()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "kubeconfig"), kubeconfig, 0o600); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(dir, "operator.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	op := exec.Command(bin, args...)
	op.Env = append(os.Environ(), "KUBECONFIG="+filepath.Join(dir, "kubeconfig"))
	op.Stdout, op.Stderr = logFile, logFile
	if err := op.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- op.Wait() }()
	defer func() {
		_ = op.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
			_ = op.Process.Kill()
			<-exited
		}
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("operator log:\n%s", b)
		}
	}()

	standInCtx, stopStandIns := context.WithCancel(ctx)
	standIns, err := fake.Start(standInCtx, apiCfg, fake.Options{Namespaces: []string{ns}})
	if err != nil {
		stopStandIns()
		t.Fatal(err)
	}
	defer func() { stopStandIns(); _ = standIns.Wait() }()

	sample := only(t, buildKustomize(t, "config/samples"), "Storefront").u.DeepCopy()
	sample.SetNamespace(ns)
	ensureNamespaces(ctx, t, c, []manifest{{u: sample}})
	if err := serverSideApply(ctx, c, sample); err != nil {
		t.Fatalf("applying the sample: %v", err)
	}

	ing := &networkingv1.Ingress{}
	shopPolicy := &networkingv1.NetworkPolicy{}
	migratePolicy := &networkingv1.NetworkPolicy{}
	err = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		select {
		case err := <-exited:
			return false, fmt.Errorf("the operator exited: %v", err)
		default:
		}
		for name, obj := range map[string]client.Object{"acme-shop": ing} {
			if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, obj); err != nil {
				return false, client.IgnoreNotFound(err)
			}
		}
		for name, obj := range map[string]client.Object{"acme-shop": shopPolicy, "acme-migrate": migratePolicy} {
			if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, obj); err != nil {
				return false, client.IgnoreNotFound(err)
			}
		}
		return true, nil
	})
	if err != nil {
		t.Fatalf("waiting for the sample's Ingress and NetworkPolicies: %v", err)
	}

	t.Run("the sample's ALB serves the internet and checks /readyz", func(t *testing.T) {
		// Annotation names and values of the AWS Load Balancer Controller v2.13
		// (docs/guide/ingress/annotations.md): its default scheme is internal and its
		// default health check path "/".
		want := map[string]string{
			"alb.ingress.kubernetes.io/scheme":                  "internet-facing",
			"alb.ingress.kubernetes.io/healthcheck-path":        "/readyz",
			"alb.ingress.kubernetes.io/target-type":             "ip",
			"alb.ingress.kubernetes.io/target-group-attributes": "deregistration_delay.timeout_seconds=30",
		}
		for k, v := range want {
			if ing.Annotations[k] != v {
				t.Errorf("Ingress annotation %s = %q, want %q", k, ing.Annotations[k], v)
			}
		}
		if ing.Spec.IngressClassName == nil || *ing.Spec.IngressClassName != "alb" || len(ing.Spec.TLS) != 0 {
			t.Errorf("Ingress class %v, TLS %v: want alb without a TLS Secret", ing.Spec.IngressClassName, ing.Spec.TLS)
		}
	})

	t.Run("the NetworkPolicies let through only what the flags allow", func(t *testing.T) {
		cidrs := func(key string) []string {
			var out []string
			for _, v := range values[key].([]any) {
				out = append(out, v.(string))
			}
			return out
		}
		var from []string
		for _, p := range shopPolicy.Spec.Ingress[0].From {
			if p.IPBlock != nil {
				from = append(from, p.IPBlock.CIDR)
			}
		}
		if !slices.Equal(from, cidrs("ingressCidrs")) {
			t.Errorf("the shop port admits %v, want the public subnets %v", from, cidrs("ingressCidrs"))
		}
		for _, np := range []*networkingv1.NetworkPolicy{shopPolicy, migratePolicy} {
			got := map[int][]string{}
			for _, r := range np.Spec.Egress {
				if len(r.To) == 0 {
					t.Errorf("%s: egress rule %v is open to any address", np.Name, r.Ports)
				}
				for _, p := range r.To {
					if p.IPBlock != nil && p.IPBlock.CIDR == "0.0.0.0/0" {
						t.Errorf("%s: a 0.0.0.0/0 peer although the flags are set", np.Name)
					}
					for _, port := range r.Ports {
						if p.IPBlock != nil {
							got[port.Port.IntValue()] = append(got[port.Port.IntValue()], p.IPBlock.CIDR)
						} else if p.PodSelector != nil && p.PodSelector.MatchLabels["k8s-app"] == "kube-dns" &&
							p.NamespaceSelector.MatchLabels["kubernetes.io/metadata.name"] == "kube-system" {
							got[port.Port.IntValue()] = append(got[port.Port.IntValue()], "kube-dns")
						}
					}
				}
			}
			want := map[int][]string{53: {"kube-dns", "kube-dns"}, 5432: cidrs("dbCidrs"), 6379: cidrs("cacheCidrs")}
			for port, w := range want {
				if !slices.Equal(got[port], w) {
					t.Errorf("%s: egress on port %d to %v, want %v", np.Name, port, got[port], w)
				}
			}
			if len(got) != len(want) {
				t.Errorf("%s: egress on ports %v, want only %v", np.Name, sortedKeys(toStringKeys(got)), sortedKeys(toStringKeys(want)))
			}
		}
	})

	if err := c.Delete(ctx, sample); err != nil && !apierrors.IsNotFound(err) {
		t.Error(errors.Join(errors.New("deleting the sample"), err))
	}
}

func toStringKeys(m map[int][]string) map[string][]string {
	out := map[string][]string{}
	for k, v := range m {
		out[fmt.Sprint(k)] = v
	}
	return out
}
