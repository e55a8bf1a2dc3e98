package delivery

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"helm.sh/helm/v3/pkg/engine"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apiserver/pkg/admission/plugin/policy/validating"
	"k8s.io/apiserver/pkg/cel/openapi/resolver"
	"k8s.io/client-go/discovery"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	shopv1alpha1 "github.com/storefront-operator/storefront/api/v1alpha1"
	"github.com/storefront-operator/storefront/controllers"
	"github.com/storefront-operator/storefront/test/fake"
)

// policyTestLabel marks the namespaces the tests bind the policy to (the chart's
// admissionPolicy.namespaceSelector), so that the other tests of the package, which share
// the API server, are never judged by it.
const policyTestLabel = "storefront.dev/admission-policy-test"

// policyName is the name of the policy, its binding and its parameters ConfigMap as the
// chart renders them with policyValues: a release of its own, so that the objects
// TestChartInstallsOnAPIServer leaves in the shared API server are not in the way.
const policyName = "tenancy-storefront-policy"

// Allowed values of the tests' policy.
const (
	allowedDBSubnet    = "subnet-0a1b2c3d4e5f60001"
	allowedDBSubnet2   = "subnet-0a1b2c3d4e5f60002"
	allowedDBSG        = "sg-0a1b2c3d4e5f60001"
	allowedCacheSubnet = "subnet-0a1b2c3d4e5f60011"
	allowedCacheSG     = "sg-0a1b2c3d4e5f60002"
)

// policyValues are the chart values that switch the policy on with the tests' lists.
func policyValues() map[string]any {
	return withImage(map[string]any{"fullnameOverride": "tenancy", "admissionPolicy": map[string]any{
		"enabled":                      true,
		"namespaceSelector":            map[string]any{"matchLabels": map[string]any{policyTestLabel: "true"}},
		"allowedDomains":               []any{"shops.example.com", "{namespace}.teams.example.com"},
		"allowedIngressAnnotations":    []any{"alb.ingress.kubernetes.io/healthcheck-*", "alb.ingress.kubernetes.io/wafv2-acl-arn"},
		"allowedImageRegistries":       []any{"registry.example.com/storefront", "mirror.example.com/shop"},
		"allowedDbSubnetIds":           []any{allowedDBSubnet, allowedDBSubnet2},
		"allowedDbSecurityGroupIds":    []any{allowedDBSG},
		"allowedCacheSubnetIds":        []any{allowedCacheSubnet},
		"allowedCacheSecurityGroupIds": []any{allowedCacheSG},
	}})
}

// policyObjects returns the chart's policy objects: the parameters ConfigMap, the
// policy and its binding, failing unless there is exactly one of each.
func policyObjects(t *testing.T, ms []manifest) (*corev1.ConfigMap, *admissionregistrationv1.ValidatingAdmissionPolicy, *admissionregistrationv1.ValidatingAdmissionPolicyBinding) {
	t.Helper()
	var cms []manifest
	for _, m := range find(ms, "ConfigMap") {
		if m.u.GetName() == policyName {
			cms = append(cms, m)
		}
	}
	if len(cms) != 1 {
		t.Fatalf("want one ConfigMap %s, got %v", policyName, cms)
	}
	return cms[0].typed.(*corev1.ConfigMap),
		only(t, ms, "ValidatingAdmissionPolicy").typed.(*admissionregistrationv1.ValidatingAdmissionPolicy),
		only(t, ms, "ValidatingAdmissionPolicyBinding").typed.(*admissionregistrationv1.ValidatingAdmissionPolicyBinding)
}

func TestChartRendersTheAdmissionPolicyOnlyWhenEnabled(t *testing.T) {
	t.Run("off by default", func(t *testing.T) {
		ms, notes := renderChart(t, withImage(nil))
		for _, kind := range []string{"ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding", "ConfigMap"} {
			if found := find(ms, kind); len(found) != 0 {
				t.Errorf("%v rendered with the policy off", found)
			}
		}
		if strings.Contains(notes, "admission policy") {
			t.Errorf("NOTES.txt speaks of an admission policy that is off:\n%s", notes)
		}
		if v := loadChart(t).Values["admissionPolicy"].(map[string]any)["enabled"]; v != false {
			t.Errorf("values.yaml admissionPolicy.enabled = %v, want false", v)
		}
	})

	t.Run("enabled, one value renders the policy, its binding and its parameters", func(t *testing.T) {
		ms, notes := renderChart(t, policyValues())
		cm, vap, binding := policyObjects(t, ms)
		if want := "its parameters are the ConfigMap\n" + releaseNamespace + "/" + policyName; !strings.Contains(notes, want) {
			t.Errorf("NOTES.txt does not name the policy's parameters (%q):\n%s", want, notes)
		}
		wantData := map[string]string{
			"allowedDomains":               "shops.example.com\n{namespace}.teams.example.com",
			"allowedIngressAnnotations":    "alb.ingress.kubernetes.io/healthcheck-*\nalb.ingress.kubernetes.io/wafv2-acl-arn",
			"allowedImageRegistries":       "registry.example.com/storefront\nmirror.example.com/shop",
			"allowedDbSubnetIds":           allowedDBSubnet + "\n" + allowedDBSubnet2,
			"allowedDbSecurityGroupIds":    allowedDBSG,
			"allowedCacheSubnetIds":        allowedCacheSubnet,
			"allowedCacheSecurityGroupIds": allowedCacheSG,
		}
		if !reflect.DeepEqual(cm.Data, wantData) {
			t.Errorf("parameters\n got: %q\nwant: %q", cm.Data, wantData)
		}
		if cm.Namespace != releaseNamespace {
			t.Errorf("parameters in namespace %q, want the release's (tenants must not edit them)", cm.Namespace)
		}
		if pk := vap.Spec.ParamKind; pk == nil || pk.APIVersion != "v1" || pk.Kind != "ConfigMap" {
			t.Errorf("paramKind %v, want v1 ConfigMap", pk)
		}
		if fp := vap.Spec.FailurePolicy; fp == nil || *fp != admissionregistrationv1.Fail {
			t.Errorf("failurePolicy %v, want Fail", fp)
		}
		rules := vap.Spec.MatchConstraints.ResourceRules
		if len(rules) != 1 || !reflect.DeepEqual(rules[0].Resources, []string{"storefronts"}) ||
			!reflect.DeepEqual(rules[0].Operations, []admissionregistrationv1.OperationType{"CREATE", "UPDATE"}) {
			t.Errorf("resource rules %+v, want CREATE and UPDATE of storefronts (no status, no DELETE)", rules)
		}
		if len(vap.Spec.MatchConditions) != 1 || vap.Spec.MatchConditions[0].Expression != "request.operation == 'CREATE' || object.spec != oldObject.spec" {
			t.Errorf("match conditions %+v", vap.Spec.MatchConditions)
		}
		for _, v := range vap.Spec.Validations {
			if v.MessageExpression == "" || v.Message == "" || v.Reason == nil || *v.Reason != metav1.StatusReasonForbidden {
				t.Errorf("validation %q: every refusal needs a message, a messageExpression and reason Forbidden", v.Expression)
			}
		}
		if binding.Spec.PolicyName != vap.Name || !reflect.DeepEqual(binding.Spec.ValidationActions, []admissionregistrationv1.ValidationAction{"Deny"}) {
			t.Errorf("binding %s to %s with actions %v", binding.Name, binding.Spec.PolicyName, binding.Spec.ValidationActions)
		}
		pr := binding.Spec.ParamRef
		if pr == nil || pr.Name != cm.Name || pr.Namespace != cm.Namespace || pr.ParameterNotFoundAction == nil ||
			*pr.ParameterNotFoundAction != admissionregistrationv1.DenyAction {
			t.Errorf("paramRef %+v, want the ConfigMap %s/%s with parameterNotFoundAction Deny", pr, cm.Namespace, cm.Name)
		}
		if sel := binding.Spec.MatchResources; sel == nil || sel.NamespaceSelector == nil || sel.NamespaceSelector.MatchLabels[policyTestLabel] != "true" {
			t.Errorf("matchResources %+v, want the values' namespaceSelector", sel)
		}
	})

	t.Run("without a namespaceSelector it binds every namespace", func(t *testing.T) {
		values := policyValues()
		delete(values["admissionPolicy"].(map[string]any), "namespaceSelector")
		_, _, binding := policyObjects(t, func() []manifest { ms, _ := renderChart(t, values); return ms }())
		if binding.Spec.MatchResources != nil {
			t.Errorf("matchResources %+v", binding.Spec.MatchResources)
		}
	})

	t.Run("enabled without registries, it refuses to render", func(t *testing.T) {
		ch := loadChart(t)
		vals, err := renderValues(ch, withImage(map[string]any{"admissionPolicy": map[string]any{"enabled": true}}))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := engine.Render(ch, vals); err == nil || !strings.Contains(err.Error(), "admissionPolicy.allowedImageRegistries is empty") {
			t.Errorf("rendering: %v", err)
		}
	})

	t.Run("the schema refuses what the API server or the policy could not use", func(t *testing.T) {
		ch := loadChart(t)
		for name, ap := range map[string]map[string]any{
			"Deny with Warn":                   {"validationActions": []any{"Deny", "Warn"}},
			"an unknown action":                {"validationActions": []any{"Refuse"}},
			"a domain with a scheme":           {"allowedDomains": []any{"https://shops.example.com"}},
			"a registry with a trailing slash": {"allowedImageRegistries": []any{"registry.example.com/"}},
			"a subnet that is a VPC":           {"allowedDbSubnetIds": []any{"vpc-0a1b2c3d"}},
			"a misspelt key":                   {"allowedDomain": []any{"shops.example.com"}},
		} {
			if _, err := renderValues(ch, withImage(map[string]any{"admissionPolicy": ap})); err == nil {
				t.Errorf("%s: accepted", name)
			}
		}
	})
}

// tenantStorefront is the sample Storefront in namespace ns as a tenant under the tests'
// policy writes it: a host in an allowed domain, an allowed annotation, an image from an
// allowed registry, allowed subnets and security groups. change alters it.
func tenantStorefront(t *testing.T, ns string, change func(u *unstructured.Unstructured)) *unstructured.Unstructured {
	t.Helper()
	sf := only(t, buildKustomize(t, "config/samples"), "Storefront").u.DeepCopy()
	sf.SetNamespace(ns)
	set := func(v any, path ...string) {
		if err := unstructured.SetNestedField(sf.Object, v, path...); err != nil {
			t.Fatal(err)
		}
	}
	set("acme.shops.example.com", "spec", "ingress", "host")
	set(map[string]any{"alb.ingress.kubernetes.io/healthcheck-interval-seconds": "10"}, "spec", "ingress", "annotations")
	set("registry.example.com/storefront/shop:1.4.0", "spec", "image")
	set([]any{allowedDBSubnet, allowedDBSubnet2}, "spec", "database", "aurora", "subnetIDs")
	set([]any{allowedDBSG}, "spec", "database", "aurora", "securityGroupIDs")
	set([]any{allowedCacheSubnet}, "spec", "cache", "serverless", "subnetIDs")
	set([]any{allowedCacheSG}, "spec", "cache", "serverless", "securityGroupIDs")
	if change != nil {
		change(sf)
	}
	return sf
}

// setField returns a change that sets one field of a Storefront.
func setField(t *testing.T, v any, path ...string) func(*unstructured.Unstructured) {
	return func(u *unstructured.Unstructured) {
		if err := unstructured.SetNestedField(u.Object, v, path...); err != nil {
			t.Fatal(err)
		}
	}
}

// cdn returns a change that gives a Storefront a CDN with these aliases, enabled (with
// the images bucket the API then requires) or not.
func cdn(t *testing.T, enabled bool, aliases ...string) func(*unstructured.Unstructured) {
	return func(u *unstructured.Unstructured) {
		list := make([]any, len(aliases))
		for i, a := range aliases {
			list[i] = a
		}
		setField(t, map[string]any{"enabled": enabled, "aliases": list}, "spec", "cdn")(u)
		if enabled {
			setField(t, map[string]any{"bucket": map[string]any{}}, "spec", "images")(u)
		}
	}
}

// TestAdmissionPolicyOnTheAPIServer installs the policy the chart renders into a real
// kube-apiserver (1.37 enforces ValidatingAdmissionPolicy) and checks what it refuses,
// with which message, and that it never stands in the operator's way.
func TestAdmissionPolicyOnTheAPIServer(t *testing.T) {
	c := kubeClient(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "team-", Labels: map[string]string{policyTestLabel: "true"}}}
	if err := c.Create(ctx, ns); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Delete(context.Background(), ns) })
	team := ns.Name
	params := "parameter %s of ConfigMap " + releaseNamespace + "/" + policyName + ": "

	refusals := []struct {
		name    string
		change  func(*unstructured.Unstructured)
		message string
	}{
		{"a host outside the allowed domains", setField(t, "shop.acme.example", "spec", "ingress", "host"),
			"spec.ingress.host: shop.acme.example is not within the allowed domains (" +
				fmt.Sprintf(params, "allowedDomains") + "shops.example.com, " + team + ".teams.example.com)"},
		{"a host that only ends like an allowed domain", setField(t, "acme.evilshops.example.com", "spec", "ingress", "host"),
			"spec.ingress.host: acme.evilshops.example.com is not within the allowed domains"},
		{"a host in another team's domain", setField(t, "acme.team-other.teams.example.com", "spec", "ingress", "host"),
			"spec.ingress.host: acme.team-other.teams.example.com is not within the allowed domains"},
		{"an Ingress without a host", func(u *unstructured.Unstructured) {
			unstructured.RemoveNestedField(u.Object, "spec", "ingress", "host")
		},
			"spec.ingress.host: required (an Ingress without a host answers for every host of its load balancer) (" +
				fmt.Sprintf(params, "allowedDomains")},
		{"a CDN alias outside the allowed domains", cdn(t, true, "www.acme.shops.example.com", "shop.acme.example"),
			"spec.cdn.aliases: shop.acme.example is not within the allowed domains (" +
				fmt.Sprintf(params, "allowedDomains") + "shops.example.com, " + team + ".teams.example.com)"},
		{"a CDN alias that only ends like an allowed domain", cdn(t, true, "www.evilshops.example.com"),
			"spec.cdn.aliases: www.evilshops.example.com is not within the allowed domains"},
		{"CDN aliases in another team's domain, with the CDN off (switched on later, they would pass as already had)",
			cdn(t, false, "acme.team-other.teams.example.com", "*.team-other.teams.example.com"),
			"spec.cdn.aliases: acme.team-other.teams.example.com, *.team-other.teams.example.com are not within the allowed domains (" +
				fmt.Sprintf(params, "allowedDomains")},
		{"an annotation that joins another team's ALB",
			setField(t, map[string]any{"alb.ingress.kubernetes.io/group.name": "team-b"}, "spec", "ingress", "annotations"),
			"spec.ingress.annotations: alb.ingress.kubernetes.io/group.name is not allowed (" + fmt.Sprintf(params, "allowedIngressAnnotations") +
				"alb.ingress.kubernetes.io/healthcheck-*, alb.ingress.kubernetes.io/wafv2-acl-arn)"},
		{"an ingress controller snippet next to an allowed annotation",
			setField(t, map[string]any{"alb.ingress.kubernetes.io/healthcheck-path": "/readyz", "nginx.ingress.kubernetes.io/configuration-snippet": "return 302 https://evil;"}, "spec", "ingress", "annotations"),
			"spec.ingress.annotations: nginx.ingress.kubernetes.io/configuration-snippet is not allowed ("},
		{"an image from another registry", setField(t, "docker.io/library/shop:1.4.0", "spec", "image"),
			"spec.image: docker.io/library/shop:1.4.0 is not from an allowed registry (" + fmt.Sprintf(params, "allowedImageRegistries") +
				"registry.example.com/storefront, mirror.example.com/shop)"},
		{"an image from a repository that only starts like an allowed one", setField(t, "mirror.example.com/shopper:1.4.0", "spec", "image"),
			"spec.image: mirror.example.com/shopper:1.4.0 is not from an allowed registry"},
		{"an image from a registry whose name extends an allowed one", setField(t, "registry.example.com.evil.io/storefront/shop:1.4.0", "spec", "image"),
			"spec.image: registry.example.com.evil.io/storefront/shop:1.4.0 is not from an allowed registry"},
		{"a database subnet not allowed", setField(t, []any{allowedDBSubnet, "subnet-0badbadbadbad0001"}, "spec", "database", "aurora", "subnetIDs"),
			"spec.database.aurora.subnetIDs: subnet-0badbadbadbad0001 not allowed (" + fmt.Sprintf(params, "allowedDbSubnetIds") +
				allowedDBSubnet + ", " + allowedDBSubnet2 + ")"},
		{"a database security group not allowed", setField(t, []any{"sg-0badbadbadbad0001"}, "spec", "database", "aurora", "securityGroupIDs"),
			"spec.database.aurora.securityGroupIDs: sg-0badbadbadbad0001 not allowed (" + fmt.Sprintf(params, "allowedDbSecurityGroupIds") + allowedDBSG + ")"},
		{"a cache subnet not allowed", setField(t, []any{allowedDBSubnet}, "spec", "cache", "serverless", "subnetIDs"),
			"spec.cache.serverless.subnetIDs: " + allowedDBSubnet + " not allowed (" + fmt.Sprintf(params, "allowedCacheSubnetIds") + allowedCacheSubnet + ")"},
		{"a cache security group not allowed", setField(t, []any{allowedDBSG}, "spec", "cache", "serverless", "securityGroupIDs"),
			"spec.cache.serverless.securityGroupIDs: " + allowedDBSG + " not allowed (" + fmt.Sprintf(params, "allowedCacheSecurityGroupIds") + allowedCacheSG + ")"},
	}
	acceptances := []struct {
		name   string
		change func(*unstructured.Unstructured)
	}{
		{"the tenant's sample as the parameters allow it", nil},
		{"a host in the team's own domain", setField(t, "acme."+team+".teams.example.com", "spec", "ingress", "host")},
		{"an allowed domain itself", setField(t, "shops.example.com", "spec", "ingress", "host")},
		{"an image of the allowed repository by tag", setField(t, "mirror.example.com/shop:2.0.0", "spec", "image")},
		{"an image of the allowed repository by digest", setField(t, "mirror.example.com/shop@sha256:"+strings.Repeat("ab", 32), "spec", "image")},
		{"CDN aliases within the allowed domains, a wildcard of the team's own domain included",
			cdn(t, true, "www.acme.shops.example.com", "*."+team+".teams.example.com")},
		{"no Ingress at all", func(u *unstructured.Unstructured) { unstructured.RemoveNestedField(u.Object, "spec", "ingress") }},
		{"no subnets or security groups: the operator's defaults", func(u *unstructured.Unstructured) {
			for _, p := range [][]string{{"database", "aurora"}, {"cache", "serverless"}} {
				unstructured.RemoveNestedField(u.Object, "spec", p[0], p[1], "subnetIDs")
				unstructured.RemoveNestedField(u.Object, "spec", p[0], p[1], "securityGroupIDs")
			}
		}},
	}
	dryRunCreate := func(u *unstructured.Unstructured) error {
		return c.Create(ctx, u.DeepCopy(), client.DryRunAll)
	}

	t.Run("with the policy off, the chart renders none and every Storefront is accepted", func(t *testing.T) {
		ms, _ := renderChart(t, withImage(nil))
		if found := find(ms, "ValidatingAdmissionPolicy"); len(found) != 0 {
			t.Fatalf("policy rendered with defaults: %v", found)
		}
		for _, r := range refusals {
			if err := dryRunCreate(tenantStorefront(t, team, r.change)); err != nil {
				t.Errorf("%s: refused without the policy: %v", r.name, err)
			}
		}
	})

	// What the chart renders is what is installed: no second copy of the policy.
	ms, _ := renderChart(t, policyValues())
	cm, vap, binding := policyObjects(t, ms)
	ensureNamespaces(ctx, t, c, []manifest{{u: &unstructured.Unstructured{Object: map[string]any{"metadata": map[string]any{"namespace": releaseNamespace}}}}})
	for _, obj := range []client.Object{cm, vap, binding} {
		u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
		if err != nil {
			t.Fatal(err)
		}
		if err := serverSideApply(ctx, c, &unstructured.Unstructured{Object: u}); err != nil {
			t.Fatalf("installing %s %s: %v", obj.GetObjectKind().GroupVersionKind().Kind, obj.GetName(), err)
		}
	}
	t.Cleanup(func() {
		for _, obj := range []client.Object{binding, vap, cm} {
			_ = c.Delete(context.Background(), obj)
		}
	})

	// kube-controller-manager's ValidatingAdmissionPolicy status controller type-checks
	// every expression against the schemas the API server publishes and writes warnings
	// into status.typeChecking (k8s.io/kubernetes cmd/kube-controller-manager/app/
	// validatingadmissionpolicystatus.go). envtest runs no controller manager, so the same
	// TypeChecker runs here, against this API server's OpenAPI v3 (the Storefront CRD and
	// ConfigMap schemas): a misspelt field or a type error would be a warning.
	t.Run("every expression type-checks against the Storefront CRD and ConfigMap without a warning", func(t *testing.T) {
		dc, err := discovery.NewDiscoveryClientForConfig(apiCfg)
		if err != nil {
			t.Fatal(err)
		}
		tc := &validating.TypeChecker{SchemaResolver: &resolver.ClientDiscoveryResolver{Discovery: dc}, RestMapper: c.RESTMapper()}
		for _, w := range tc.Check(vap) {
			t.Errorf("%s: %s", w.FieldRef, w.Warning)
		}
		// The check must be able to fail: it knows the schemas, so a misspelt field of
		// the Storefront, or of the ConfigMap, is a warning.
		for _, expr := range []string{"object.spec.imgae != ''", "params.dta.size() > 0"} {
			if res := tc.CheckExpression(tc.CreateContext(vap), expr); res.String() == "" {
				t.Errorf("%s: no warning: the type checker did not resolve the schemas", expr)
			}
		}
	})

	// The API server learns of a policy, a binding and parameters through informers:
	// wait until it refuses what it must.
	waitForRefusal(ctx, t, dryRunCreate, tenantStorefront(t, team, refusals[0].change), refusals[0].message)

	t.Run("each refusal names the field and the rule", func(t *testing.T) {
		for _, r := range refusals {
			t.Run(r.name, func(t *testing.T) {
				err := dryRunCreate(tenantStorefront(t, team, r.change))
				if err == nil {
					t.Fatal("accepted")
				}
				if !apierrors.IsForbidden(err) {
					t.Errorf("not Forbidden: %v", err)
				}
				want := "ValidatingAdmissionPolicy '" + policyName + "' with binding '" + policyName + "' denied request: " + r.message
				if !strings.Contains(err.Error(), want) {
					t.Errorf("message\n got: %v\nwant: %s", err, want)
				}
			})
		}
	})
	t.Run("what the parameters allow is accepted", func(t *testing.T) {
		for _, a := range acceptances {
			if err := dryRunCreate(tenantStorefront(t, team, a.change)); err != nil {
				t.Errorf("%s: %v", a.name, err)
			}
		}
	})
	t.Run("namespaces outside the binding's selector are not judged", func(t *testing.T) {
		other := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "unbound-"}}
		if err := c.Create(ctx, other); err != nil {
			t.Fatal(err)
		}
		defer func() { _ = c.Delete(context.Background(), other) }()
		if err := dryRunCreate(tenantStorefront(t, other.Name, refusals[0].change)); err != nil {
			t.Errorf("refused outside the selector: %v", err)
		}
	})

	t.Run("tightening the parameters later never blocks the operator: the Storefront is deleted", func(t *testing.T) {
		stop := runOperator(ctx, t, team)
		defer stop()
		sf := tenantStorefront(t, team, cdn(t, false, "www.acme.shops.example.com"))
		if err := c.Create(ctx, sf); err != nil {
			t.Fatalf("creating under the loose parameters: %v", err)
		}
		key := client.ObjectKeyFromObject(sf)
		live := &unstructured.Unstructured{}
		live.SetGroupVersionKind(sf.GroupVersionKind())
		waitFor(ctx, t, "the operator's finalizer and a status", func() (bool, error) {
			if err := c.Get(ctx, key, live); err != nil {
				return false, err
			}
			_, hasStatus, _ := unstructured.NestedString(live.Object, "status", "phase")
			return hasStatus && len(live.GetFinalizers()) == 1, nil
		})

		// Tighten: none of what the Storefront uses is allowed any more.
		tight := cm.DeepCopy()
		tight.Data = map[string]string{
			"allowedDomains":         "other.example.com",
			"allowedImageRegistries": "registry.example.com/other",
		}
		u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(tight)
		if err != nil {
			t.Fatal(err)
		}
		if err := serverSideApply(ctx, c, &unstructured.Unstructured{Object: u}); err != nil {
			t.Fatal(err)
		}
		waitForRefusal(ctx, t, dryRunCreate, tenantStorefront(t, team, nil),
			"spec.ingress.host: acme.shops.example.com is not within the allowed domains ("+fmt.Sprintf(params, "allowedDomains")+"other.example.com)")

		update := func(change func(*unstructured.Unstructured)) error {
			return wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
				if err := c.Get(ctx, key, live); err != nil {
					return false, err
				}
				change(live)
				err := c.Update(ctx, live)
				if apierrors.IsConflict(err) {
					return false, nil
				}
				return true, err
			})
		}
		t.Run("a spec change that keeps what the Storefront had passes", func(t *testing.T) {
			if err := update(setField(t, int64(11), "spec", "replicas", "max")); err != nil {
				t.Error(err)
			}
		})
		t.Run("a spec change that brings a value no longer allowed is refused", func(t *testing.T) {
			err := update(setField(t, "registry.example.com/storefront/shop:1.5.0", "spec", "image"))
			if err == nil || !strings.Contains(err.Error(), "spec.image: registry.example.com/storefront/shop:1.5.0 is not from an allowed registry") {
				t.Errorf("changing the image: %v", err)
			}
		})
		t.Run("a CDN alias added next to one it had is refused, naming the new one only", func(t *testing.T) {
			err := update(setField(t, []any{"www.acme.shops.example.com", "cdn.acme.shops.example.com"}, "spec", "cdn", "aliases"))
			if err == nil || !strings.Contains(err.Error(), "spec.cdn.aliases: cdn.acme.shops.example.com is not within the allowed domains ("+fmt.Sprintf(params, "allowedDomains")+"other.example.com)") {
				t.Errorf("adding an alias: %v", err)
			}
		})
		t.Run("an annotation write passes", func(t *testing.T) {
			if err := update(func(u *unstructured.Unstructured) {
				u.SetAnnotations(map[string]string{shopv1alpha1.AnnotationRetryMigration: "1"})
			}); err != nil {
				t.Error(err)
			}
		})

		if err := c.Delete(ctx, sf); err != nil {
			t.Fatal(err)
		}
		waitFor(ctx, t, "the Storefront to be gone (the operator's finalizer removal admitted)", func() (bool, error) {
			err := c.Get(ctx, key, live)
			if apierrors.IsNotFound(err) {
				return true, nil
			}
			return false, err
		})
	})

	t.Run("without its parameters the policy refuses, saying so", func(t *testing.T) {
		if err := c.Delete(ctx, cm); err != nil {
			t.Fatal(err)
		}
		waitForRefusal(ctx, t, dryRunCreate, tenantStorefront(t, team, nil),
			"no params found for policy binding with `Deny` parameterNotFoundAction")
	})
}

// waitForRefusal waits until create(sf) is refused with a message containing want.
func waitForRefusal(ctx context.Context, t *testing.T, create func(*unstructured.Unstructured) error, sf *unstructured.Unstructured, want string) {
	t.Helper()
	var last error
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(context.Context) (bool, error) {
		last = create(sf)
		return last != nil && strings.Contains(last.Error(), want), nil
	})
	if err != nil {
		t.Fatalf("waiting for the policy to refuse with %q: last answer %v", want, last)
	}
}

// waitFor polls done until it is true, failing the test after a minute.
func waitFor(ctx context.Context, t *testing.T, what string, done func() (bool, error)) {
	t.Helper()
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 2*time.Minute, true, func(context.Context) (bool, error) {
		return done()
	})
	if err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}

// runOperator runs the operator (controllers.Setup, as main.go does) for namespace ns,
// with the stand-ins of test/localcluster/fake playing ACK and the workload controllers;
// stop stops both.
func runOperator(ctx context.Context, t *testing.T, ns string) (stop func()) {
	t.Helper()
	ctrl.SetLogger(logr.Discard())
	s := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(s))
	utilruntime.Must(shopv1alpha1.AddToScheme(s))
	mgr, err := ctrl.NewManager(apiCfg, ctrl.Options{
		Scheme:                 s,
		Cache:                  controllers.CacheOptions([]string{ns}),
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Controller:             config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := controllers.Setup(mgr, controllers.Options{MaxConcurrentReconciles: 2, WatchNamespaces: []string{ns}}); err != nil {
		t.Fatal(err)
	}
	opCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- mgr.Start(opCtx) }()
	standIns, err := fake.Start(opCtx, apiCfg, fake.Options{Namespaces: []string{ns}})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	return func() {
		cancel()
		_ = standIns.Wait()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("operator: %v", err)
		}
	}
}

// The platform team's guide documents every value of the policy, the reason a host
// conflict reports, and is linked from the README and the architecture.
func TestMultiTenancyGuide(t *testing.T) {
	guide := readDoc(t, "docs/multi-tenancy.md")
	for key := range loadChart(t).Values["admissionPolicy"].(map[string]any) {
		if !strings.Contains(guide, "`"+key+"`") && !strings.Contains(guide, "admissionPolicy."+key) {
			t.Errorf("docs/multi-tenancy.md does not document admissionPolicy.%s", key)
		}
	}
	for _, want := range []string{"## Namespaces per team", "## The admission policy", "## Host ownership",
		"## What the operator's RBAC allows", "## What a tenant can still do", shopv1alpha1.ReasonHostConflict, "--watch-namespaces"} {
		if !strings.Contains(guide, want) {
			t.Errorf("docs/multi-tenancy.md does not say %q", want)
		}
	}
	for _, doc := range []string{"README.md", "docs/architecture.md"} {
		if !strings.Contains(readDoc(t, doc), "multi-tenancy.md") {
			t.Errorf("%s does not link docs/multi-tenancy.md", doc)
		}
	}
}
