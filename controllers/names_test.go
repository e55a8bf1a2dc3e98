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
	"regexp"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	shopv1alpha1 "github.com/storefront-operator/storefront/api/v1alpha1"
)

func storefrontNamed(name string) *shopv1alpha1.Storefront {
	return &shopv1alpha1.Storefront{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "shops"}}
}

func TestObjectNames(t *testing.T) {
	long := strings.Repeat("a", 60)
	cases := map[string]struct {
		got, want string
	}{
		"a short name is <name>-<role>":    {objectName(storefrontNamed("acme"), roleShop), "acme-shop"},
		"the connection secret":            {objectName(storefrontNamed("acme"), roleConnection), "acme-connection"},
		"a migration job hashes the image": {migrationJobName(storefrontNamed("acme"), "shop:1.0"), "acme-migrate-" + shortHash("shop:1.0")},
		"a long name keeps 54 characters and a hash": {objectName(storefrontNamed(long), roleConnection),
			long[:54] + "-" + shortHash(long+"-connection")},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if tc.got != tc.want {
				t.Errorf("got %q, want %q", tc.got, tc.want)
			}
			if len(tc.got) > 63 {
				t.Errorf("%q is longer than 63 characters", tc.got)
			}
		})
	}
}

func TestLongNamesStayDistinctAndShort(t *testing.T) {
	a := storefrontNamed(strings.Repeat("x", 62))
	b := storefrontNamed(strings.Repeat("x", 61) + "y")
	for _, role := range []string{roleShop, roleConnection, roleApp, roleMigrate} {
		na, nb := objectName(a, role), objectName(b, role)
		if na == nb {
			t.Errorf("%s: two Storefronts share the name %q", role, na)
		}
		if len(na) > 63 || len(nb) > 63 {
			t.Errorf("%s: names over 63 characters: %q, %q", role, na, nb)
		}
		if strings.HasSuffix(strings.TrimSuffix(na, "-"+shortHash(a.Name+"-"+role)), "-") {
			t.Errorf("%s: %q has a double dash", role, na)
		}
	}
	if ja, jb := migrationJobName(a, "i:1"), migrationJobName(a, "i:2"); ja == jb || len(ja) > 63 {
		t.Errorf("migration job names %q and %q must differ and fit in 63 characters", ja, jb)
	}
	// Stable: a restarted operator must find the Job it created. The name is
	// <name>-migrate-<8 hex of sha256(image)>, cut to 54 characters plus - and 8 hex of
	// the sha256 of the whole (values computed with sha256sum).
	if got, want := migrationJobName(a, "i:1"), strings.Repeat("x", 54)+"-517321e3"; got != want {
		t.Errorf("migration job name %q, want %q", got, want)
	}
}

// AWS identifiers are durable primary keys: a change to their derivation would make ACK
// create new, empty clusters and caches beside the old ones while every other test
// passed. The expected values are literals, computed once outside this code (the
// prefix by hand, the suffix with `printf %s shops/acme | sha256sum | cut -c1-8`).
func TestAWSIdentifier(t *testing.T) {
	valid := regexp.MustCompile(`^[a-z][a-z0-9]*(-[a-z0-9]+)*$`)
	cases := map[string]struct {
		namespace, name, want string
	}{
		"a short name":                      {"shops", "acme", "sf-shops-acme-7cbb1ef7"},
		"the same name in other namespaces": {"team-a", "acme", "sf-team-a-acme-9201d5e7"},
		"and another":                       {"team-b", "acme", "sf-team-b-acme-904efe3f"},
		"a dot becomes a hyphen":            {"prod", "acme.eu", "sf-prod-acme-eu-a7eb4d02"},
		"a long name is cut to 40":          {"shops", strings.Repeat("shop", 20), "sf-shops-shopshopshopshopshopshopshopsho-e180f6a5"},
		"dots and runs of hyphens collapse": {"team--a", "acme.shop", "sf-team-a-acme-shop-c937ef1b"},
		"a cut on a hyphen leaves none":     {"shops", strings.Repeat("a", 30) + "-bbbb", "sf-shops-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-01598357"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got := awsIdentifier(tc.namespace, tc.name)
			if got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
			if !valid.MatchString(got) || len(got) > 49 {
				t.Errorf("%q is not a valid RDS and ElastiCache identifier of at most 49 characters", got)
			}
		})
	}
	if a, b := awsIdentifier("shops-a", "acme"), awsIdentifier("shops", "a-acme"); a == b {
		t.Errorf("two Storefronts share the identifier %q", a)
	}
}

// The final snapshot's identifier names a snapshot that outlives the Storefront.
func TestFinalSnapshotIdentifier(t *testing.T) {
	sf := storefrontNamed("acme")
	sf.UID = "7a1c3e4f-0000-4000-8000-000000000003"
	if got, want := finalSnapshotIdentifier(sf), "sf-shops-acme-7cbb1ef7-final-f7aacef2"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
