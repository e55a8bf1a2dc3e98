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
	"strings"
	"testing"

	. "github.com/onsi/gomega"

	shopv1alpha1 "github.com/storefront-operator/storefront/api/v1alpha1"
)

func TestDesiredAppSecret(t *testing.T) {
	cases := map[string]struct {
		existing  map[string][]byte
		ingress   *shopv1alpha1.IngressSpec
		wantEmail string
		keep      map[string]string
	}{
		"a new shop without a host": {
			wantEmail: `^admin-[0-9a-f]{8}@acme\.shops\.storefront\.local$`},
		"a new shop with a host": {
			ingress: &shopv1alpha1.IngressSpec{Host: "shop.acme.example"}, wantEmail: `^admin-[0-9a-f]{8}@shop\.acme\.example$`},
		"a wildcard host is no mail domain": {
			ingress: &shopv1alpha1.IngressSpec{Host: "*.acme.example"}, wantEmail: `^admin-[0-9a-f]{8}@acme\.shops\.storefront\.local$`},
		"existing values are never rewritten, missing ones are added": {
			existing:  map[string][]byte{keyJWTSecret: []byte("kept-jwt"), keyAdminEmail: []byte("ops@acme.example")},
			wantEmail: `^ops@acme\.example$`,
			keep:      map[string]string{keyJWTSecret: "kept-jwt"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			sf := storefrontNamed("acme")
			sf.Spec.Ingress = tc.ingress
			s, err := desiredAppSecret(sf, testScheme, tc.existing)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(s.Name).To(Equal("acme-app"))
			g.Expect(string(s.Data[keyAdminEmail])).To(MatchRegexp(tc.wantEmail))
			g.Expect(missingAppKeys(s.Data)).To(BeFalse())
			for k, v := range tc.keep {
				g.Expect(string(s.Data[k])).To(Equal(v))
			}
			if tc.keep == nil {
				g.Expect(s.Data[keyJWTSecret]).To(HaveLen(64))
			}
			g.Expect(s.Data[keyAdminPassword]).To(HaveLen(32))
			g.Expect(strings.Trim(string(s.Data[keyAdminPassword]), alphanumerics)).To(BeEmpty(), "alphanumerics only")
			// The shop refuses a TOTP_KEY of fewer than 32 characters (auth.MinTOTPKeyLength).
			g.Expect(s.Data[keyTOTPKey]).To(HaveLen(64))
			g.Expect(s.Data).NotTo(HaveKey(keyTOTPKeyPrevious), "only set by hand, for a rotation")
			g.Expect(s.OwnerReferences).To(HaveLen(1))
		})
	}
}

func TestGeneratedSecretsDiffer(t *testing.T) {
	a, _ := desiredAppSecret(storefrontNamed("acme"), testScheme, nil)
	b, _ := desiredAppSecret(storefrontNamed("acme"), testScheme, nil)
	if string(a.Data[keyJWTSecret]) == string(b.Data[keyJWTSecret]) || string(a.Data[keyAdminPassword]) == string(b.Data[keyAdminPassword]) ||
		string(a.Data[keyTOTPKey]) == string(b.Data[keyTOTPKey]) || string(a.Data[keyTOTPKey]) == string(a.Data[keyJWTSecret]) {
		t.Error("two generated secrets are equal: not random")
	}
}

func TestDesiredConnectionSecret(t *testing.T) {
	db := &storeEndpoint{Host: "db", Port: 5432, URL: "postgres://u:p@db/shop"}
	cache := &storeEndpoint{Host: "cache", Port: 6379, URL: "redis://cache:6379/0"}
	cases := map[string]struct {
		cache *storeEndpoint
		want  map[string]string
	}{
		"database and cache":     {cache, map[string]string{keyDatabaseURL: db.URL, keyRedisURL: cache.URL}},
		"no cache: no REDIS_URL": {nil, map[string]string{keyDatabaseURL: db.URL}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			s, err := desiredConnectionSecret(storefrontNamed("acme"), testScheme, db, tc.cache)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(s.Name).To(Equal("acme-connection"))
			got := map[string]string{}
			for k, v := range s.Data {
				got[k] = string(v)
			}
			g.Expect(got).To(Equal(tc.want))
		})
	}
}

func TestConfigChecksum(t *testing.T) {
	base := map[string][]byte{"a": []byte("1"), "b": []byte("2")}
	cases := map[string]struct {
		other map[string][]byte
		same  bool
	}{
		"the same data in another map": {map[string][]byte{"b": []byte("2"), "a": []byte("1")}, true},
		"a changed value":              {map[string][]byte{"a": []byte("1"), "b": []byte("3")}, false},
		"a removed key":                {map[string][]byte{"a": []byte("1")}, false},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := configChecksum(base) == configChecksum(tc.other); got != tc.same {
				t.Errorf("checksums equal = %v, want %v", got, tc.same)
			}
		})
	}
	if configChecksum(base, nil) == configChecksum(nil, base) {
		t.Error("which Secret holds a key must matter")
	}
}
