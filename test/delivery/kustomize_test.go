package delivery

import (
	"os"
	"reflect"
	"regexp"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// buildKustomize runs what `kubectl kustomize <dir>` runs, with kustomize's Go API, and
// decodes every object.
func buildKustomize(t *testing.T, dir string) []manifest {
	t.Helper()
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	res, err := k.Run(filesys.MakeFsOnDisk(), repoPath(dir))
	if err != nil {
		t.Fatalf("kustomize build %s: %v", dir, err)
	}
	out, err := res.AsYaml()
	if err != nil {
		t.Fatal(err)
	}
	ms, err := decodeStream(dir, out)
	if err != nil {
		t.Fatal(err)
	}
	return ms
}

func TestKustomizeDefaultBuildsTheOperator(t *testing.T) {
	ms := buildKustomize(t, "config/default")
	for _, m := range ms {
		if m.typed == nil {
			t.Errorf("%v: kind not known to client-go or apiextensions", m)
		}
		if m.u.GetKind() != "Namespace" && m.u.GetKind() != "CustomResourceDefinition" &&
			m.u.GetKind() != "ClusterRole" && m.u.GetKind() != "ClusterRoleBinding" && m.u.GetNamespace() != "storefront-system" {
			t.Errorf("%v: not in storefront-system", m)
		}
	}
	ns := only(t, ms, "Namespace").typed.(*corev1.Namespace)
	if ns.Name != "storefront-system" || ns.Labels["pod-security.kubernetes.io/enforce"] != "restricted" {
		t.Errorf("namespace %s labels %v: want storefront-system enforcing restricted", ns.Name, ns.Labels)
	}
	d := only(t, ms, "Deployment").typed.(*appsv1.Deployment)
	if d.Name != "storefront-controller-manager" {
		t.Errorf("Deployment %s, want storefront-controller-manager", d.Name)
	}
	c := d.Spec.Template.Spec.Containers[0]
	chart, err := os.ReadFile(repoPath("charts/storefront-operator/Chart.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	appVersion := regexp.MustCompile(`(?m)^appVersion: "?([^"\s]+)"?$`).FindStringSubmatch(string(chart))
	if appVersion == nil {
		t.Fatal("charts/storefront-operator/Chart.yaml has no appVersion")
	}
	if want := "ghcr.io/storefront-operator/storefront-operator:" + appVersion[1]; c.Image != want {
		t.Errorf("image %s, want %s: the kustomize images transformer pins the chart's appVersion", c.Image, want)
	}
	if v := restrictedViolations(t, d.Spec.Template.ObjectMeta, d.Spec.Template.Spec); v != "" {
		t.Errorf("operator pod violates the restricted Pod Security Standard: %s", v)
	}
	sa := only(t, ms, "ServiceAccount").u.GetName()
	if d.Spec.Template.Spec.ServiceAccountName != sa {
		t.Errorf("Deployment runs as %s, the ServiceAccount is %s", d.Spec.Template.Spec.ServiceAccountName, sa)
	}
	crb := only(t, ms, "ClusterRoleBinding").typed.(*rbacv1.ClusterRoleBinding)
	cr := only(t, ms, "ClusterRole").typed.(*rbacv1.ClusterRole)
	if crb.RoleRef.Name != cr.Name || len(crb.Subjects) != 1 || crb.Subjects[0].Name != sa || crb.Subjects[0].Namespace != "storefront-system" {
		t.Errorf("ClusterRoleBinding %v does not bind %s to %s", crb, cr.Name, sa)
	}
	known := operatorFlags(t)
	for _, a := range c.Args {
		if name := flagName(a); !known[name] {
			t.Errorf("%s: main.go defines no flag %q", a, name)
		}
	}
	svc := only(t, ms, "Service").typed.(*corev1.Service)
	if !subset(svc.Spec.Selector, d.Spec.Template.Labels) {
		t.Errorf("metrics Service selector %v does not select the pods %v", svc.Spec.Selector, d.Spec.Template.Labels)
	}
}

// The chart and config/default are two ways to install one operator: with the chart's
// defaults, both must run the same pod and grant the same rights.
func TestKustomizeAndChartInstallTheSameOperator(t *testing.T) {
	kust := buildKustomize(t, "config/default")
	chartObjs, _ := renderChart(t, withImage(nil))

	kd := only(t, kust, "Deployment").typed.(*appsv1.Deployment)
	cd := only(t, chartObjs, "Deployment").typed.(*appsv1.Deployment)
	kc, cc := kd.Spec.Template.Spec.Containers[0], cd.Spec.Template.Spec.Containers[0]
	same := map[string][2]any{
		"replicas":                   {*kd.Spec.Replicas, *cd.Spec.Replicas},
		"container name":             {kc.Name, cc.Name},
		"command":                    {kc.Command, cc.Command},
		"args":                       {kc.Args, cc.Args},
		"ports":                      {kc.Ports, cc.Ports},
		"liveness probe":             {kc.LivenessProbe, cc.LivenessProbe},
		"readiness probe":            {kc.ReadinessProbe, cc.ReadinessProbe},
		"resources":                  {kc.Resources, cc.Resources},
		"container security context": {kc.SecurityContext, cc.SecurityContext},
		"pod security context":       {kd.Spec.Template.Spec.SecurityContext, cd.Spec.Template.Spec.SecurityContext},
		"termination grace period":   {kd.Spec.Template.Spec.TerminationGracePeriodSeconds, cd.Spec.Template.Spec.TerminationGracePeriodSeconds},
	}
	for _, what := range sortedKeys(same) {
		if !reflect.DeepEqual(same[what][0], same[what][1]) {
			t.Errorf("%s differs:\nkustomize: %+v\n    chart: %+v", what, same[what][0], same[what][1])
		}
	}
	for _, kind := range []string{"ClusterRole", "Role"} {
		k, c := only(t, kust, kind).u.Object["rules"], only(t, chartObjs, kind).u.Object["rules"]
		if !reflect.DeepEqual(k, c) {
			t.Errorf("%s rules differ:\nkustomize: %v\n    chart: %v", kind, k, c)
		}
	}
	kcrd, ccrd := only(t, kust, "CustomResourceDefinition").u.DeepCopy(), only(t, chartObjs, "CustomResourceDefinition").u.DeepCopy()
	if !reflect.DeepEqual(kcrd.Object["spec"], ccrd.Object["spec"]) {
		t.Error("CRD specs differ between kustomize and the chart")
	}
	ksvc := only(t, kust, "Service").typed.(*corev1.Service)
	csvc := only(t, chartObjs, "Service").typed.(*corev1.Service)
	if !reflect.DeepEqual(ksvc.Spec.Ports, csvc.Spec.Ports) {
		t.Errorf("metrics Service ports differ: %v vs %v", ksvc.Spec.Ports, csvc.Spec.Ports)
	}
}

func TestSamplesAreValidStorefronts(t *testing.T) {
	ms := buildKustomize(t, "config/samples")
	if len(ms) == 0 {
		t.Fatal("config/samples builds nothing")
	}
	for _, m := range ms {
		if m.u.GetAPIVersion() != "shop.storefront.dev/v1alpha1" || m.u.GetKind() != "Storefront" {
			t.Errorf("%v: not a Storefront", m)
		}
	}
	// TestChartInstallsOnAPIServer creates them against the chart's CRD.
}

func flagName(arg string) string {
	name := arg
	for len(name) > 0 && name[0] == '-' {
		name = name[1:]
	}
	for i := range name {
		if name[i] == '=' {
			return name[:i]
		}
	}
	return name
}
