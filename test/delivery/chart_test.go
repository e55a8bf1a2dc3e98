package delivery

import (
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	"helm.sh/helm/v3/pkg/lint"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

const (
	releaseName      = "storefront-operator"
	releaseNamespace = "storefront-system"
	keepAnnotation   = "helm.sh/resource-policy"
)

// kubeVersion is the Kubernetes version the chart is rendered and linted for: the one
// of the pinned k8s.io modules and of envtest.
var kubeVersion = &chartutil.KubeVersion{Version: "v1.37.2", Major: "1", Minor: "37"}

func chartDir() string { return repoPath("charts", "storefront-operator") }

func loadChart(t *testing.T) *chart.Chart {
	t.Helper()
	ch, err := loader.LoadDir(chartDir())
	if err != nil {
		t.Fatal(err)
	}
	return ch
}

// valuesFile reads a values file of the chart's ci/ directory.
func valuesFile(t *testing.T, name string) map[string]any {
	t.Helper()
	v, err := chartutil.ReadValuesFile(repoPath("charts", "storefront-operator", "ci", name))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// renderValues merges user values over the chart's defaults and checks them against
// values.schema.json, as `helm install` does.
func renderValues(ch *chart.Chart, user map[string]any) (chartutil.Values, error) {
	caps := chartutil.DefaultCapabilities.Copy()
	caps.KubeVersion = *kubeVersion
	return chartutil.ToRenderValues(ch, user, chartutil.ReleaseOptions{
		Name: releaseName, Namespace: releaseNamespace, Revision: 1, IsInstall: true,
	}, caps)
}

// renderChart renders the chart as `helm template` does and decodes every object;
// NOTES.txt is returned apart.
func renderChart(t *testing.T, user map[string]any) ([]manifest, string) {
	t.Helper()
	ch := loadChart(t)
	vals, err := renderValues(ch, user)
	if err != nil {
		t.Fatalf("values: %v", err)
	}
	files, err := engine.Render(ch, vals)
	if err != nil {
		t.Fatalf("rendering: %v", err)
	}
	var all []manifest
	notes := ""
	for _, name := range sortedKeys(files) {
		if strings.HasSuffix(name, "NOTES.txt") {
			notes = files[name]
			continue
		}
		ms, err := decodeStream(name, []byte(files[name]))
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, ms...)
	}
	return all, notes
}

// testImage is an operator image as `make docker-push IMG=...` leaves it in a registry.
var testImage = map[string]any{"repository": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/storefront-operator", "tag": "0.2.0"}

// withImage is values plus the one value the chart cannot default: the operator image.
func withImage(values map[string]any) map[string]any {
	out := map[string]any{"image": testImage}
	for k, v := range values {
		out[k] = v
	}
	return out
}

var valueSets = map[string]func(t *testing.T) map[string]any{
	"the chart renders with its defaults and an image": func(*testing.T) map[string]any { return withImage(nil) },
	"the chart renders with every value set":           func(t *testing.T) map[string]any { return valuesFile(t, "full-values.yaml") },
}

func TestChartObjectsDecode(t *testing.T) {
	for name, values := range valueSets {
		t.Run(name, func(t *testing.T) {
			ms, notes := renderChart(t, values(t))
			seen := map[string]bool{}
			for _, m := range ms {
				key := m.u.GetKind() + "/" + m.u.GetNamespace() + "/" + m.u.GetName()
				if seen[key] {
					t.Errorf("%s rendered twice", key)
				}
				seen[key] = true
				if m.typed == nil && m.u.GroupVersionKind().Group != "monitoring.coreos.com" {
					t.Errorf("%v: kind not known to client-go or apiextensions", m)
				}
				namespaced := !slices.Contains([]string{"CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding",
					"ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"}, m.u.GetKind())
				// The manager's Role and RoleBinding of each watched namespace live there.
				managerRBAC := (m.u.GetKind() == "Role" || m.u.GetKind() == "RoleBinding") && strings.HasSuffix(m.u.GetName(), "-manager")
				if namespaced && !managerRBAC && m.u.GetNamespace() != releaseNamespace {
					t.Errorf("%v: namespace %q, want the release namespace", m, m.u.GetNamespace())
				}
				if m.u.GetKind() != "CustomResourceDefinition" && m.u.GetLabels()["app.kubernetes.io/managed-by"] != "Helm" {
					t.Errorf("%v: missing the chart's labels: %v", m, m.u.GetLabels())
				}
			}
			for _, kind := range []string{"CustomResourceDefinition", "Deployment", "ServiceAccount", "ClusterRole",
				"ClusterRoleBinding", "Service"} {
				only(t, ms, kind)
			}
			if len(find(ms, "Role")) == 0 || len(find(ms, "Role")) != len(find(ms, "RoleBinding")) {
				t.Errorf("%d Roles and %d RoleBindings", len(find(ms, "Role")), len(find(ms, "RoleBinding")))
			}
			if !strings.Contains(notes, "kubectl -n "+releaseNamespace+" rollout status deployment/") {
				t.Errorf("NOTES.txt does not say how to check the rollout:\n%s", notes)
			}
		})
	}
}

// No operator image is published: without one the chart refuses to install, saying how
// to build it, instead of pointing at an image that does not exist.
func TestChartRequiresAnImage(t *testing.T) {
	ch := loadChart(t)
	tests := map[string]struct {
		values  map[string]any
		wantErr string
	}{
		"no image at all":          {nil, "image.repository is required"},
		"a repository without tag": {map[string]any{"image": map[string]any{"repository": "registry.example/storefront-operator"}}, "image.tag (or image.digest) is required"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			vals, err := renderValues(ch, tc.values)
			if err != nil {
				t.Fatalf("values: %v", err)
			}
			_, err = engine.Render(ch, vals)
			if err == nil {
				t.Fatal("the chart rendered without an operator image")
			}
			for _, want := range []string{tc.wantErr, "make docker-build docker-push IMG=", "docs/install-eks.md"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error does not say %q: %v", want, err)
				}
			}
		})
	}
	t.Run("a digest stands for the tag", func(t *testing.T) {
		digest := "sha256:" + strings.Repeat("ab", 32)
		ms, _ := renderChart(t, map[string]any{"image": map[string]any{"repository": "registry.example/storefront-operator", "digest": digest}})
		if got := containerOf(t, ms).Image; got != "registry.example/storefront-operator@"+digest {
			t.Errorf("image %s", got)
		}
	})
	if v, _ := loadChart(t).Values["image"].(map[string]any); v["repository"] != "" || v["tag"] != "" {
		t.Errorf("values.yaml defaults the image to %v: no default may name an image that was never published", v)
	}
}

func TestChartCRDEqualsConfigCRD(t *testing.T) {
	for name, values := range valueSets {
		t.Run(name, func(t *testing.T) {
			ms, _ := renderChart(t, values(t))
			got := only(t, ms, "CustomResourceDefinition").u.DeepCopy()
			if v := got.GetAnnotations()[keepAnnotation]; v != "keep" {
				t.Fatalf("CRD annotation %s = %q, want keep (helm uninstall must not delete Storefronts)", keepAnnotation, v)
			}
			ann := got.GetAnnotations()
			delete(ann, keepAnnotation)
			got.SetAnnotations(ann)
			want := only(t, readYAMLFile(t, repoPath("config", "crd", "bases", "shop.storefront.dev_storefronts.yaml")),
				"CustomResourceDefinition")
			if !reflect.DeepEqual(got.Object, want.u.Object) {
				t.Errorf("the chart's CRD differs from config/crd/bases: run `make manifests`")
			}
		})
	}
	t.Run("crds.install=false leaves the CRD out", func(t *testing.T) {
		ms, _ := renderChart(t, withImage(map[string]any{"crds": map[string]any{"install": false}}))
		if n := len(find(ms, "CustomResourceDefinition")); n != 0 {
			t.Errorf("got %d CRDs", n)
		}
	})
}

func TestChartRBACEqualsConfigRBAC(t *testing.T) {
	cfgRules := func(file, kind string) []rbacv1.PolicyRule {
		m := only(t, readYAMLFile(t, repoPath("config", "rbac", file)), kind)
		switch r := m.typed.(type) {
		case *rbacv1.ClusterRole:
			return r.Rules
		case *rbacv1.Role:
			return r.Rules
		}
		t.Fatalf("%v is not a role", m)
		return nil
	}
	for name, values := range valueSets {
		t.Run(name, func(t *testing.T) {
			vals := values(t)
			ms, _ := renderChart(t, vals)
			sa := only(t, ms, "ServiceAccount").u.GetName()
			cr := only(t, ms, "ClusterRole").typed.(*rbacv1.ClusterRole)
			want := cfgRules("role.yaml", "ClusterRole")
			var leader *rbacv1.Role
			managerRoles := map[string]*rbacv1.Role{}
			for _, m := range find(ms, "Role") {
				r := m.typed.(*rbacv1.Role)
				if strings.HasSuffix(r.Name, "-leader-election") {
					leader = r
				} else {
					managerRoles[r.Namespace] = r
				}
			}
			if leader == nil {
				t.Fatal("no leader-election Role")
			}
			if want := cfgRules("leader_election_role.yaml", "Role"); !reflect.DeepEqual(leader.Rules, want) {
				t.Errorf("leader-election Role rules differ from config/rbac: run `make chart-sync`\n got: %v\nwant: %v", leader.Rules, want)
			}
			crb := only(t, ms, "ClusterRoleBinding").typed.(*rbacv1.ClusterRoleBinding)
			bindings := []struct {
				ref      rbacv1.RoleRef
				subjects []rbacv1.Subject
				role     string
			}{{crb.RoleRef, crb.Subjects, cr.Name}}
			for _, m := range find(ms, "RoleBinding") {
				rb := m.typed.(*rbacv1.RoleBinding)
				role := leader.Name
				if r, ok := managerRoles[rb.Namespace]; ok && !strings.HasSuffix(rb.Name, "-leader-election") {
					role = r.Name
				}
				bindings = append(bindings, struct {
					ref      rbacv1.RoleRef
					subjects []rbacv1.Subject
					role     string
				}{rb.RoleRef, rb.Subjects, role})
			}
			namespaces, _ := vals["watchNamespaces"].([]any)
			if len(namespaces) == 0 {
				if !reflect.DeepEqual(cr.Rules, want) {
					t.Errorf("ClusterRole rules differ from config/rbac/role.yaml: run `make manifests`\n got: %v\nwant: %v", cr.Rules, want)
				}
				if len(managerRoles) != 0 {
					t.Errorf("manager Roles %v without watchNamespaces", managerRoles)
				}
			} else {
				// With watchNamespaces: no cluster-wide rights on namespaced resources
				// (Secrets above all); each namespace gets them in a Role.
				for _, r := range cr.Rules {
					if !reflect.DeepEqual(r.Resources, []string{"namespaces"}) {
						t.Errorf("the ClusterRole grants %v cluster-wide although watchNamespaces is set", r.Resources)
					}
				}
				for _, n := range namespaces {
					role, ok := managerRoles[n.(string)]
					if !ok {
						t.Errorf("no manager Role in watched namespace %s", n)
						continue
					}
					if got := append(append([]rbacv1.PolicyRule{}, cr.Rules...), role.Rules...); !sameRules(got, want) {
						t.Errorf("ClusterRole and Role in %s differ from config/rbac/role.yaml: run `make manifests`\n got: %v\nwant: %v", n, got, want)
					}
				}
				if len(managerRoles) != len(namespaces) {
					t.Errorf("manager Roles in %d namespaces, want %d", len(managerRoles), len(namespaces))
				}
			}
			for _, b := range bindings {
				if b.ref.Name != b.role {
					t.Errorf("binding refers to %q, want %q", b.ref.Name, b.role)
				}
				wantSubject := []rbacv1.Subject{{Kind: "ServiceAccount", Name: sa, Namespace: releaseNamespace}}
				if !reflect.DeepEqual(b.subjects, wantSubject) {
					t.Errorf("binding subjects %v, want %v", b.subjects, wantSubject)
				}
			}
			deploy := only(t, ms, "Deployment").typed.(*appsv1.Deployment)
			if got := deploy.Spec.Template.Spec.ServiceAccountName; got != sa {
				t.Errorf("Deployment runs as %q, want the chart's ServiceAccount %q", got, sa)
			}
		})
	}
}

// sameRules reports whether a and b hold the same rules, in any order.
func sameRules(a, b []rbacv1.PolicyRule) bool {
	if len(a) != len(b) {
		return false
	}
	used := make([]bool, len(b))
outer:
	for _, r := range a {
		for i, w := range b {
			if !used[i] && reflect.DeepEqual(r, w) {
				used[i] = true
				continue outer
			}
		}
		return false
	}
	return true
}

func TestChartPodSecurityIsRestricted(t *testing.T) {
	for name, values := range valueSets {
		t.Run(name, func(t *testing.T) {
			ms, _ := renderChart(t, values(t))
			d := only(t, ms, "Deployment").typed.(*appsv1.Deployment)
			if v := restrictedViolations(t, d.Spec.Template.ObjectMeta, d.Spec.Template.Spec); v != "" {
				t.Errorf("operator pod violates the restricted Pod Security Standard: %s", v)
			}
			c := d.Spec.Template.Spec.Containers[0]
			if c.SecurityContext == nil || c.SecurityContext.ReadOnlyRootFilesystem == nil || !*c.SecurityContext.ReadOnlyRootFilesystem {
				t.Error("operator container's root filesystem is writable")
			}
		})
	}
	// The check above must be able to fail: a privileged container is not restricted.
	t.Run("a privileged container is reported", func(t *testing.T) {
		ms, _ := renderChart(t, withImage(map[string]any{"securityContext": map[string]any{"privileged": true}}))
		d := only(t, ms, "Deployment").typed.(*appsv1.Deployment)
		if v := restrictedViolations(t, d.Spec.Template.ObjectMeta, d.Spec.Template.Spec); !strings.Contains(v, "privileged") {
			t.Errorf("want a privileged violation, got %q", v)
		}
	})
}

func containerOf(t *testing.T, ms []manifest) corev1.Container {
	t.Helper()
	d := only(t, ms, "Deployment").typed.(*appsv1.Deployment)
	if len(d.Spec.Template.Spec.Containers) != 1 {
		t.Fatalf("want one container, got %d", len(d.Spec.Template.Spec.Containers))
	}
	return d.Spec.Template.Spec.Containers[0]
}

func TestChartOperatorFlags(t *testing.T) {
	tests := map[string]struct {
		values   map[string]any
		wantArgs []string
	}{
		"defaults pass the flags' defaults, with leader election for rolling updates": {
			wantArgs: []string{"--leader-elect", "--metrics-bind-address=:8080", "--health-probe-bind-address=:8081",
				"--max-concurrent-reconciles=4", "--zap-log-level=info"},
		},
		"one replica without leaderElect runs without leader election": {
			values: map[string]any{"leaderElect": false},
			wantArgs: []string{"--metrics-bind-address=:8080", "--health-probe-bind-address=:8081",
				"--max-concurrent-reconciles=4", "--zap-log-level=info"},
		},
		"two replicas elect a leader even when leaderElect is false": {
			values: map[string]any{"leaderElect": false, "replicaCount": 2},
			wantArgs: []string{"--leader-elect", "--metrics-bind-address=:8080", "--health-probe-bind-address=:8081",
				"--max-concurrent-reconciles=4", "--zap-log-level=info"},
		},
		"every operator flag is fed from its camelCase value": {
			values: valuesFile(t, "full-values.yaml"),
			wantArgs: []string{
				"--leader-elect",
				"--metrics-bind-address=:8443",
				"--health-probe-bind-address=0.0.0.0:9440",
				"--watch-namespaces=shops,shops-staging",
				"--aws-region=eu-west-1",
				"--cluster-name=storefront",
				"--images-role-arn=arn:aws:iam::123456789012:role/storefront-shop-images",
				"--db-subnet-ids=subnet-0a1b2c3d4e5f60001,subnet-0a1b2c3d4e5f60002,subnet-0a1b2c3d4e5f60003",
				"--db-security-group-ids=sg-0a1b2c3d4e5f60001",
				"--cache-subnet-ids=subnet-0a1b2c3d4e5f60011,subnet-0a1b2c3d4e5f60012,subnet-0a1b2c3d4e5f60013",
				"--cache-security-group-ids=sg-0a1b2c3d4e5f60002",
				"--ingress-namespace=kube-system",
				"--ingress-cidrs=10.0.48.0/24,10.0.49.0/24,10.0.50.0/24",
				"--db-cidrs=10.0.52.0/24,10.0.53.0/24,10.0.54.0/24",
				"--cache-cidrs=10.0.56.0/24,10.0.57.0/24,10.0.58.0/24",
				"--images-cidrs=10.0.60.0/24,10.0.61.0/24,10.0.62.0/24",
				"--metrics-namespace=monitoring",
				"--max-concurrent-reconciles=8",
				"--otlp-endpoint=http://otel-collector.observability:4318",
				"--otlp-protocol=grpc",
				"--otlp-sampling-ratio=0.25",
				"--otlp-namespace=observability",
				"--zap-log-level=debug",
				"--zap-stacktrace-level=panic",
			},
		},
	}
	known := operatorFlags(t)
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			ms, _ := renderChart(t, withImage(tc.values))
			c := containerOf(t, ms)
			if !reflect.DeepEqual(c.Args, tc.wantArgs) {
				t.Errorf("args\n got: %q\nwant: %q", c.Args, tc.wantArgs)
			}
			if !reflect.DeepEqual(c.Command, []string{"/manager"}) {
				t.Errorf("command %q, want [/manager] (the operator image's binary)", c.Command)
			}
			for _, a := range c.Args {
				flagName := strings.SplitN(strings.TrimPrefix(a, "--"), "=", 2)[0]
				if !known[flagName] {
					t.Errorf("%s: main.go defines no flag %q", a, flagName)
				}
			}
		})
	}
	t.Run("every operator flag has a value", func(t *testing.T) {
		vals := loadChart(t).Values
		// zap's other flags are for debugging, passed through extraArgs.
		passedThroughExtraArgs := map[string]bool{"zap-devel": true, "zap-encoder": true, "zap-stacktrace-level": true, "zap-time-encoding": true}
		for _, flagName := range sortedKeys(known) {
			if passedThroughExtraArgs[flagName] {
				continue
			}
			if _, ok := vals[camelCase(flagName)]; !ok {
				t.Errorf("values.yaml has no %s for --%s", camelCase(flagName), flagName)
			}
		}
		for flagName := range passedThroughExtraArgs {
			if !known[flagName] {
				t.Errorf("the exclusion %s is no flag of the operator", flagName)
			}
		}
	})
}

// camelCase turns a flag name into its value name: db-subnet-ids -> dbSubnetIds.
func camelCase(flagName string) string {
	parts := strings.Split(flagName, "-")
	for i := 1; i < len(parts); i++ {
		parts[i] = strings.ToUpper(parts[i][:1]) + parts[i][1:]
	}
	return strings.Join(parts, "")
}

func TestChartProbesAndPorts(t *testing.T) {
	tests := map[string]struct {
		values             map[string]any
		wantMetrics        int32 // 0: no metrics port, Service or ServiceMonitor
		wantHealth         int32
		wantServiceMonitor bool
	}{
		"defaults expose metrics on 8080 and probes on 8081": {wantMetrics: 8080, wantHealth: 8081},
		"every value set moves the ports and adds a ServiceMonitor": {
			values: valuesFile(t, "full-values.yaml"), wantMetrics: 8443, wantHealth: 9440, wantServiceMonitor: true,
		},
		"metricsBindAddress 0 switches metrics off": {
			values:     map[string]any{"metricsBindAddress": "0", "serviceMonitor": map[string]any{"enabled": true}},
			wantHealth: 8081,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			ms, _ := renderChart(t, withImage(tc.values))
			c := containerOf(t, ms)
			ports := map[string]int32{}
			for _, p := range c.Ports {
				ports[p.Name] = p.ContainerPort
			}
			if ports["metrics"] != tc.wantMetrics || ports["health"] != tc.wantHealth {
				t.Errorf("ports %v, want metrics %d health %d", ports, tc.wantMetrics, tc.wantHealth)
			}
			for probe, path := range map[*corev1.Probe]string{c.LivenessProbe: "/healthz", c.ReadinessProbe: "/readyz"} {
				if probe == nil || probe.HTTPGet == nil || probe.HTTPGet.Path != path || probe.HTTPGet.Port.StrVal != "health" {
					t.Errorf("want an HTTP probe on %s at the health port, got %+v", path, probe)
				}
			}
			if c.Resources.Requests.Cpu().IsZero() || c.Resources.Limits.Memory().IsZero() {
				t.Errorf("resources %v lack a CPU request or a memory limit", c.Resources)
			}
			svcs := find(ms, "Service")
			monitors := find(ms, "ServiceMonitor")
			if tc.wantMetrics == 0 {
				if len(svcs) != 0 || len(monitors) != 0 {
					t.Errorf("metrics off, yet %d Services and %d ServiceMonitors", len(svcs), len(monitors))
				}
				return
			}
			svc := only(t, ms, "Service").typed.(*corev1.Service)
			if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Port != tc.wantMetrics || svc.Spec.Ports[0].TargetPort.StrVal != "metrics" {
				t.Errorf("metrics Service ports %v", svc.Spec.Ports)
			}
			d := only(t, ms, "Deployment").typed.(*appsv1.Deployment)
			for k, v := range svc.Spec.Selector {
				if d.Spec.Template.Labels[k] != v {
					t.Errorf("Service selector %s=%s does not select the operator pods %v", k, v, d.Spec.Template.Labels)
				}
			}
			if got := len(monitors) == 1; got != tc.wantServiceMonitor {
				t.Fatalf("ServiceMonitor rendered: %v, want %v", got, tc.wantServiceMonitor)
			}
			if tc.wantServiceMonitor {
				sm := monitors[0].u
				if sm.GetAPIVersion() != "monitoring.coreos.com/v1" {
					t.Errorf("ServiceMonitor apiVersion %s", sm.GetAPIVersion())
				}
				eps, _, _ := unstructured.NestedSlice(sm.Object, "spec", "endpoints")
				if len(eps) != 1 || eps[0].(map[string]any)["port"] != "metrics" {
					t.Errorf("ServiceMonitor endpoints %v, want the metrics port", eps)
				}
				sel, _, _ := unstructured.NestedStringMap(sm.Object, "spec", "selector", "matchLabels")
				if len(sel) == 0 || !subset(sel, svc.Labels) {
					t.Errorf("ServiceMonitor selector %v does not select the Service %v", sel, svc.Labels)
				}
			}
		})
	}
}

func TestChartSchemaRejectsBadValues(t *testing.T) {
	tests := map[string]struct {
		values  map[string]any
		wantErr string
	}{
		"a misspelt top-level key":                {map[string]any{"awsregion": "eu-west-1"}, "awsregion"},
		"a region that is not one":                {map[string]any{"awsRegion": "Europe"}, "awsRegion"},
		"a subnet ID that is a VPC ID":            {map[string]any{"dbSubnetIds": []any{"vpc-0a1b2c3d"}}, "dbSubnetIds"},
		"a security group ID without its prefix":  {map[string]any{"cacheSecurityGroupIds": []any{"0a1b2c3d"}}, "cacheSecurityGroupIds"},
		"watch namespaces as one comma string":    {map[string]any{"watchNamespaces": "a,b"}, "watchNamespaces"},
		"zero concurrent reconciles":              {map[string]any{"maxConcurrentReconciles": 0}, "maxConcurrentReconciles"},
		"an unknown log level":                    {map[string]any{"zapLogLevel": "verbose"}, "zapLogLevel"},
		"a CIDR without its prefix length":        {map[string]any{"ingressCidrs": []any{"10.0.0.0"}}, "ingressCidrs"},
		"leaderElect as a string":                 {map[string]any{"leaderElect": "yes"}, "leaderElect"},
		"a probe bind address without a port":     {map[string]any{"healthProbeBindAddress": "0"}, "healthProbeBindAddress"},
		"a pull policy Kubernetes does not know":  {map[string]any{"image": map[string]any{"pullPolicy": "Sometimes"}}, "pullPolicy"},
		"a negative replica count":                {map[string]any{"replicaCount": -1}, "replicaCount"},
		"an extra argument that is not a flag":    {map[string]any{"extraArgs": []any{"rm -rf"}}, "extraArgs"},
		"a ServiceMonitor interval without units": {map[string]any{"serviceMonitor": map[string]any{"interval": "30"}}, "interval"},
	}
	ch := loadChart(t)
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := renderValues(ch, tc.values)
			if err == nil {
				t.Fatalf("values %v accepted", tc.values)
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("error does not name %s: %v", tc.wantErr, err)
			}
		})
	}
	t.Run("the full values file is accepted", func(t *testing.T) {
		if _, err := renderValues(ch, valuesFile(t, "full-values.yaml")); err != nil {
			t.Error(err)
		}
	})
}

func TestChartLint(t *testing.T) {
	for name, values := range valueSets {
		t.Run(name, func(t *testing.T) {
			l := lint.AllWithKubeVersion(chartDir(), values(t), releaseNamespace, kubeVersion)
			for _, m := range l.Messages {
				// helm lint prints INFO too; a clean chart has nothing to say at all.
				t.Errorf("helm lint: %s", m.Error())
			}
		})
	}
}

func TestChartValuesMatchSchemaDocs(t *testing.T) {
	// Every key of values.yaml is described by values.schema.json, so additionalProperties
	// false cannot reject a documented default.
	data, err := os.ReadFile(repoPath("charts", "storefront-operator", "values.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	var schema struct {
		Properties map[string]any `json:"properties"`
	}
	if err := yaml.Unmarshal(data, &schema); err != nil {
		t.Fatal(err)
	}
	for k := range loadChart(t).Values {
		if _, ok := schema.Properties[k]; !ok {
			t.Errorf("values.yaml key %s is not in values.schema.json", k)
		}
	}
}

// subset reports whether every label of sel is in labels.
func subset(sel, labels map[string]string) bool {
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return true
}
