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

package controllers

import (
	"context"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	shopv1alpha1 "github.com/storefront-operator/storefront/api/v1alpha1"
)

// These tests exercise the CRD's schema in a real kube-apiserver: defaults, enums,
// patterns and CEL rules are enforced there, not in Go.

const minimalStorefront = `
apiVersion: shop.storefront.dev/v1alpha1
kind: Storefront
metadata:
  name: acme
spec:
  image: registry.example.com/storefront/shop:1.4.0
  database:
    external:
      urlSecretRef: {name: acme-db, key: url}
`

func TestStorefrontDefaultsAreApplied(t *testing.T) {
	ns := newNamespace(t)
	ctx := context.Background()
	sf := decodeStorefront(t, minimalStorefront)
	sf.SetNamespace(ns)
	if err := k8sClient.Create(ctx, sf, client.FieldValidation("Strict")); err != nil {
		t.Fatalf("creating a minimal Storefront: %v", err)
	}
	got := &shopv1alpha1.Storefront{}
	if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(sf), got); err != nil {
		t.Fatal(err)
	}
	checks := map[string]struct{ got, want any }{
		"replicas.min": {got.Spec.Replicas.Min, int32(2)},
		"replicas.max": {got.Spec.Replicas.Max, int32(10)},
		"replicas.targetCPUUtilizationPercentage": {got.Spec.Replicas.TargetCPUUtilizationPercentage, int32(70)},
		"currency":                        {got.Spec.Currency, shopv1alpha1.Currency("EUR")},
		"catalog.seed":                    {got.Spec.Catalog.Seed, shopv1alpha1.CatalogSeedNone},
		"networkPolicy.enabled":           {ptr.Deref(got.Spec.NetworkPolicy.Enabled, false), true},
		"paused":                          {got.Spec.Paused, false},
		"migration.activeDeadlineSeconds": {got.Spec.Migration.ActiveDeadlineSeconds, int64(600)},
		"migration.backoffLimit":          {ptr.Deref(got.Spec.Migration.BackoffLimit, -1), int32(2)},
		"ingress":                         {got.Spec.Ingress == nil, true},
		"cache":                           {got.Spec.Cache == nil, true},
	}
	for field, c := range checks {
		if c.got != c.want {
			t.Errorf("spec.%s defaulted to %v, want %v", field, c.got, c.want)
		}
	}
}

func TestStorefrontAuroraDefaultsAreApplied(t *testing.T) {
	ns := newNamespace(t)
	ctx := context.Background()
	sf := decodeStorefront(t, `
apiVersion: shop.storefront.dev/v1alpha1
kind: Storefront
metadata: {name: acme}
spec:
  image: registry.example.com/storefront/shop:1.4.0
  database: {aurora: {}}
  cache: {serverless: {}}
`)
	sf.SetNamespace(ns)
	if err := k8sClient.Create(ctx, sf, client.FieldValidation("Strict")); err != nil {
		t.Fatalf("creating an aurora Storefront: %v", err)
	}
	got := &shopv1alpha1.Storefront{}
	if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(sf), got); err != nil {
		t.Fatal(err)
	}
	a, c := got.Spec.Database.Aurora, got.Spec.Cache.Serverless
	checks := map[string]struct{ got, want any }{
		"database.aurora.engineVersion":     {a.EngineVersion, ""}, // no default: Aurora picks its own
		"database.aurora.minCapacity":       {a.MinCapacity, "0.5"},
		"database.aurora.maxCapacity":       {a.MaxCapacity, "4"},
		"database.aurora.deletionPolicy":    {a.DeletionPolicy, shopv1alpha1.DeletionPolicySnapshot},
		"cache.serverless.maxDataStorageGB": {c.MaxDataStorageGB, int32(5)},
		"cache.serverless.maxECPUPerSecond": {c.MaxECPUPerSecond, int32(5000)},
	}
	for field, c := range checks {
		if c.got != c.want {
			t.Errorf("spec.%s defaulted to %v, want %v", field, c.got, c.want)
		}
	}
}

func TestSampleStorefrontIsValid(t *testing.T) {
	ns := newNamespace(t)
	sf := decodeStorefront(t, readFile(t, "../config/samples/shop_v1alpha1_storefront.yaml"))
	sf.SetNamespace(ns)
	if err := k8sClient.Create(context.Background(), sf, client.FieldValidation("Strict")); err != nil {
		t.Fatalf("the sample Storefront is refused: %v", err)
	}
}

func TestInvalidStorefrontsAreRefused(t *testing.T) {
	ns := newNamespace(t)
	cases := map[string]struct {
		patch     string // YAML merged over minimalStorefront's spec
		wantField string // the field the API server's message must name
	}{
		"an empty image": {
			patch: `image: ""`, wantField: "spec.image"},
		"an image with a space": {
			patch: `image: "shop: 1.0"`, wantField: "spec.image"},
		"an image with a leading space": {
			patch: `image: " shop:1.0"`, wantField: "spec.image"},
		"an image with a tab": {
			patch: `image: "shop:1.0\t"`, wantField: "spec.image"},
		"an image with a newline": {
			patch: `image: "shop:1.0\nshop:2.0"`, wantField: "spec.image"},
		"an image with a vertical tab": {
			patch: `image: "shop:\v1.0"`, wantField: "spec.image"},
		"an image with a no-break space": {
			patch: `image: "shop:\u00a01.0"`, wantField: "spec.image"},
		"an image with an ideographic space": {
			patch: `image: "shop:1.0\u3000"`, wantField: "spec.image"},
		"an image with a line separator": {
			patch: `image: "shop:1.0\u2028"`, wantField: "spec.image"},
		"max replicas below min": {
			patch: `replicas: {min: 5, max: 2}`, wantField: "spec.replicas.max"},
		"zero min replicas": {
			patch: `replicas: {min: 0, max: 2}`, wantField: "spec.replicas.min"},
		"a CPU target over 100%": {
			patch: `replicas: {targetCPUUtilizationPercentage: 150}`, wantField: "spec.replicas.targetCPUUtilizationPercentage"},
		"a currency that is not ISO 4217": {
			patch: `currency: EURO`, wantField: "spec.currency"},
		"a lower-case currency": {
			patch: `currency: eur`, wantField: "spec.currency"},
		"both aurora and external databases": {
			patch: `database: {aurora: {}, external: {urlSecretRef: {name: a, key: url}}}`, wantField: "spec.database"},
		"no database at all": {
			patch: `database: {external: null}`, wantField: "spec.database"},
		"both serverless and external caches": {
			patch: `cache: {serverless: {}, external: {urlSecretRef: {name: r, key: url}}}`, wantField: "spec.cache"},
		"an unknown deletion policy": {
			patch: `database: {external: null, aurora: {deletionPolicy: Forget}}`, wantField: "spec.database.aurora.deletionPolicy"},
		"a capacity not in half-ACU steps": {
			patch: `database: {external: null, aurora: {minCapacity: "0.7"}}`, wantField: "spec.database.aurora.minCapacity"},
		"max capacity below min capacity": {
			patch: `database: {external: null, aurora: {minCapacity: "8", maxCapacity: "4"}}`, wantField: "spec.database.aurora.maxCapacity"},
		"a capacity above 256 ACU": {
			patch: `database: {external: null, aurora: {maxCapacity: "300"}}`, wantField: "spec.database.aurora.maxCapacity"},
		"an unknown catalog seed": {
			patch: `catalog: {seed: everything}`, wantField: "spec.catalog.seed"},
		"an external database without a secret name": {
			patch: `database: {external: {urlSecretRef: {name: "", key: url}}}`, wantField: "spec.database.external.urlSecretRef.name"},
		"a TLS secret without a host": {
			patch: `ingress: {tlsSecretName: acme-tls}`, wantField: "spec.ingress.tlsSecretName"},
		"an ingress host that is not a DNS name": {
			patch: `ingress: {host: "Shop_Acme!"}`, wantField: "spec.ingress.host"},
		"a serverless cache below 1000 ECPU/s": {
			patch: `cache: {serverless: {maxECPUPerSecond: 10}}`, wantField: "spec.cache.serverless.maxECPUPerSecond"},
		"a migration deadline under a minute": {
			patch: `migration: {activeDeadlineSeconds: 5}`, wantField: "spec.migration.activeDeadlineSeconds"},
		"a negative backoff limit": {
			patch: `migration: {backoffLimit: -1}`, wantField: "spec.migration.backoffLimit"},
		"an unknown field": {
			patch: `colour: blue`, wantField: "spec.colour"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			obj := mergedStorefront(t, tc.patch)
			obj.SetNamespace(ns)
			obj.SetGenerateName("invalid-")
			obj.SetName("")
			err := k8sClient.Create(context.Background(), obj, client.FieldValidation("Strict"))
			if err == nil {
				t.Fatalf("the API server accepted a Storefront with %s", name)
			}
			if !apierrors.IsInvalid(err) && !apierrors.IsBadRequest(err) {
				t.Fatalf("want an Invalid or BadRequest error, got %v", err)
			}
			if !strings.Contains(err.Error(), tc.wantField) {
				t.Errorf("the error does not name %s:\n%v", tc.wantField, err)
			}
		})
	}
}

// Names that cannot work are refused before anything exists: the name is a DNS-1035
// label of at most 42 characters (shopv1alpha1.MaxNameLength says why), and the API
// server's message names metadata.name.
func TestStorefrontNamesAreRefused(t *testing.T) {
	ns := newNamespace(t)
	longest := "a" + strings.Repeat("b", shopv1alpha1.MaxNameLength-1)
	cases := map[string]struct {
		name   string
		refuse bool
	}{
		"a dot (a valid object name, not a Service name)": {"my.shop", true},
		"a leading digit":                 {"1shop", true},
		"a trailing hyphen":               {"shop-", true},
		"one character too long":          {longest + "c", true},
		"70 characters":                   {strings.Repeat("s", 70), true},
		"the longest name":                {longest, false},
		"a name with a hyphen and digits": {"shop-2", false},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			obj := mergedStorefront(t, "")
			obj.SetNamespace(ns)
			obj.SetName(tc.name)
			err := k8sClient.Create(context.Background(), obj, client.FieldValidation("Strict"))
			if !tc.refuse {
				if err != nil {
					t.Fatalf("the API server refused %q: %v", tc.name, err)
				}
				for _, derived := range []string{objectName(storefrontNamed(tc.name), roleShop), migrationJobName(storefrontNamed(tc.name), imageV1),
					passwordSecretName(storefrontNamed(tc.name), 9999), cachePasswordSecretName(storefrontNamed(tc.name), 9999)} {
					if len(derived) > 63 || shortName(derived) != derived {
						t.Errorf("derived name %q (%d characters) does not fit in 63 without shortening", derived, len(derived))
					}
				}
				return
			}
			if err == nil {
				t.Fatalf("the API server accepted the name %q", tc.name)
			}
			if !apierrors.IsInvalid(err) {
				t.Fatalf("want an Invalid error, got %v", err)
			}
			if !strings.Contains(err.Error(), "metadata.name") {
				t.Errorf("the error does not name metadata.name:\n%v", err)
			}
		})
	}
}

func TestDatabaseKindCannotChange(t *testing.T) {
	ns := newNamespace(t)
	ctx := context.Background()
	sf := decodeStorefront(t, minimalStorefront)
	sf.SetNamespace(ns)
	if err := k8sClient.Create(ctx, sf); err != nil {
		t.Fatal(err)
	}
	sf.Spec.Database = shopv1alpha1.DatabaseSpec{Aurora: &shopv1alpha1.AuroraDatabase{}}
	err := k8sClient.Update(ctx, sf)
	if err == nil || !strings.Contains(err.Error(), "spec.database") {
		t.Fatalf("switching external to aurora: want an error naming spec.database, got %v", err)
	}
}

func decodeStorefront(t *testing.T, manifest string) *shopv1alpha1.Storefront {
	t.Helper()
	sf := &shopv1alpha1.Storefront{}
	if err := yaml.UnmarshalStrict([]byte(manifest), sf); err != nil {
		t.Fatalf("decoding Storefront: %v", err)
	}
	return sf
}

// mergedStorefront returns minimalStorefront with patch merged into its spec (JSON merge
// semantics: null deletes), as unstructured so that unknown fields reach the server.
func mergedStorefront(t *testing.T, patch string) *unstructured.Unstructured {
	t.Helper()
	base := map[string]any{}
	if err := yaml.Unmarshal([]byte(minimalStorefront), &base); err != nil {
		t.Fatal(err)
	}
	over := map[string]any{}
	if err := yaml.Unmarshal([]byte(patch), &over); err != nil {
		t.Fatalf("patch %q: %v", patch, err)
	}
	spec := base["spec"].(map[string]any)
	mergeInto(spec, over)
	return &unstructured.Unstructured{Object: base}
}

func mergeInto(dst, src map[string]any) {
	for k, v := range src {
		if v == nil {
			delete(dst, k)
			continue
		}
		if sm, ok := v.(map[string]any); ok {
			if dm, ok := dst[k].(map[string]any); ok {
				mergeInto(dm, sm)
				continue
			}
		}
		dst[k] = v
	}
}
