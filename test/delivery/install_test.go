package delivery

import (
	"context"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

var strict = client.FieldValidation("Strict")

// createAll creates objects on the API server with Strict field validation, skipping the
// kinds listed in skip.
func createAll(ctx context.Context, t *testing.T, c client.Client, ms []manifest, skip ...string) {
	t.Helper()
	for _, m := range ms {
		if contains(skip, m.u.GetKind()) {
			continue
		}
		if err := c.Create(ctx, m.u.DeepCopy(), strict); err != nil {
			t.Errorf("creating %v: %v", m, err)
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func restrictedNamespace(ctx context.Context, t *testing.T, c client.Client, name string) {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{
		"pod-security.kubernetes.io/enforce": "restricted",
	}}}
	err := c.Create(ctx, ns)
	if apierrors.IsAlreadyExists(err) {
		// Another test of the package made it; enforcement is what this one needs.
		existing := &corev1.Namespace{}
		if err = c.Get(ctx, client.ObjectKey{Name: name}, existing); err == nil {
			if existing.Labels == nil {
				existing.Labels = map[string]string{}
			}
			existing.Labels["pod-security.kubernetes.io/enforce"] = "restricted"
			err = c.Update(ctx, existing)
		}
	}
	if err != nil {
		t.Fatal(err)
	}
}

// TestChartInstallsOnAPIServer creates what `helm install` would, with every value set,
// on a real kube-apiserver: the API server accepts every object, establishes the CRD,
// admits the operator's pod under the restricted Pod Security Standard, and accepts the
// sample Storefront against the chart's CRD.
func TestChartInstallsOnAPIServer(t *testing.T) {
	c := kubeClient(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	restrictedNamespace(ctx, t, c, releaseNamespace)
	values := valuesFile(t, "full-values.yaml")
	// With watchNamespaces the chart puts the operator's Roles in those namespaces,
	// which exist before the chart is installed.
	watched, _ := values["watchNamespaces"].([]any)
	for _, n := range watched {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: n.(string)}}
		if err := c.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
	}
	ms, _ := renderChart(t, values)
	// The CRD exists already (the package's API server starts with config/crd/bases):
	// the chart's copy is applied over it, as `helm upgrade` would.
	for _, m := range find(ms, "CustomResourceDefinition") {
		if err := serverSideApply(ctx, c, m.u); err != nil {
			t.Fatalf("applying the chart's CRD: %v", err)
		}
	}
	// The ServiceMonitor's and PrometheusRule's CRDs belong to the Prometheus Operator,
	// which envtest lacks; TestChartProbesAndPorts and test/monitoring check their content.
	createAll(ctx, t, c, ms, "ServiceMonitor", "PrometheusRule", "CustomResourceDefinition")

	crd := &apiextensionsv1.CustomResourceDefinition{}
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		if err := c.Get(ctx, client.ObjectKey{Name: "storefronts.shop.storefront.dev"}, crd); err != nil {
			return false, err
		}
		for _, cond := range crd.Status.Conditions {
			if cond.Type == apiextensionsv1.Established && cond.Status == apiextensionsv1.ConditionTrue {
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		t.Fatalf("CRD not established: %v", err)
	}

	t.Run("the operator pod is admitted under restricted enforcement", func(t *testing.T) {
		d := only(t, ms, "Deployment").typed.(*appsv1.Deployment)
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "operator-pod", Namespace: releaseNamespace, Labels: d.Spec.Template.Labels},
			Spec:       *d.Spec.Template.Spec.DeepCopy(),
		}
		if err := c.Create(ctx, pod, strict); err != nil {
			t.Fatalf("operator pod refused: %v", err)
		}
		// The admission check must be able to say no, or the line above proves nothing.
		bad := pod.DeepCopy()
		bad.ObjectMeta = metav1.ObjectMeta{Name: "privileged-pod", Namespace: releaseNamespace}
		bad.Spec.Containers[0].SecurityContext.Capabilities.Add = []corev1.Capability{"NET_ADMIN"}
		err := c.Create(ctx, bad)
		if err == nil || !strings.Contains(err.Error(), "violates PodSecurity") {
			t.Errorf("a privileged pod was not refused by PodSecurity admission: %v", err)
		}
	})

	t.Run("the sample Storefront is valid against the chart's CRD", func(t *testing.T) {
		for _, m := range buildKustomize(t, "config/samples") {
			ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: m.u.GetNamespace()}}
			if err := c.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
				t.Fatal(err)
			}
			// The CRD may be established a moment before the API server serves it.
			err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
				err := c.Create(ctx, m.u.DeepCopy(), strict)
				if apierrors.IsNotFound(err) || strings.Contains(errString(err), "no matches for kind") {
					return false, nil
				}
				return err == nil, err
			})
			if err != nil {
				t.Errorf("creating %v: %v", m, err)
			}
		}
	})

	t.Run("config/default creates on the same API server", func(t *testing.T) {
		// The CRD and the namespace already exist: the chart created them.
		createAll(ctx, t, c, buildKustomize(t, "config/default"), "CustomResourceDefinition", "Namespace")
	})
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
