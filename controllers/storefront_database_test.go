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

	corev1 "k8s.io/api/core/v1"

	shopv1alpha1 "github.com/storefront-operator/storefront/api/v1alpha1"
)

func TestParsePostgresURL(t *testing.T) {
	cases := map[string]struct {
		url      string
		host     string
		port     int32
		errorHas string
	}{
		"a full URL":                          {"postgres://shop:pw@db.example:6432/shop?sslmode=require", "db.example", 6432, ""},
		"the postgresql scheme, default port": {"postgresql://shop:pw@db.example/shop", "db.example", 5432, ""},
		"an upper-case scheme":                {"POSTGRES://db.example/shop", "db.example", 5432, ""},
		"an IPv6 host":                        {"postgres://shop:pw@[fd00::1]:5433/shop", "fd00::1", 5433, ""},
		"an empty value":                      {"", "", 0, "empty"},
		"another scheme":                      {"mysql://shop:pw@db.example/shop", "", 0, `scheme "mysql"`},
		"no host":                             {"postgres:///shop", "", 0, "no host"},
		"a port out of range":                 {"postgres://shop:pw@db.example:70000/shop", "", 0, "invalid port"},
		"not a URL":                           {"host=db.example user=shop", "", 0, "not a postgres"},
		"an unparseable URL":                  {"postgres://shop:pw@db.example:port/shop", "", 0, "not a valid"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			host, port, err := parsePostgresURL(tc.url)
			if tc.errorHas != "" {
				if err == nil || !strings.Contains(err.Error(), tc.errorHas) {
					t.Fatalf("error %v, want one containing %q", err, tc.errorHas)
				}
				if strings.Contains(err.Error(), "pw") {
					t.Errorf("the error leaks the password: %v", err)
				}
				return
			}
			if err != nil || host != tc.host || port != tc.port {
				t.Errorf("got %q, %d, %v; want %q, %d", host, port, err, tc.host, tc.port)
			}
		})
	}
}

func TestEndpointFromSecret(t *testing.T) {
	ref := shopv1alpha1.SecretKeyRef{Name: "acme-db", Key: "url"}
	cases := map[string]struct {
		data       map[string][]byte
		wantReason string
		wantHost   string
	}{
		"a valid URL, whitespace trimmed": {map[string][]byte{"url": []byte(" postgres://u:p@db/shop\n")}, "", "db"},
		"the key is missing":              {map[string][]byte{"other": []byte("x")}, shopv1alpha1.ReasonConnectionSecretNotFound, ""},
		"the URL is invalid":              {map[string][]byte{"url": []byte("redis://db")}, shopv1alpha1.ReasonInvalidConnectionSecret, ""},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			ep, reason, msg, err := endpointFromSecret(&corev1.Secret{Data: tc.data}, ref, parsePostgresURL)
			if err != nil {
				t.Fatal(err)
			}
			if reason != tc.wantReason {
				t.Fatalf("reason %q, want %q (%s)", reason, tc.wantReason, msg)
			}
			if tc.wantReason != "" {
				if ep != nil || !strings.Contains(msg, "acme-db") || !strings.Contains(msg, "url") {
					t.Errorf("want no endpoint and a message naming the Secret and key, got %v, %q", ep, msg)
				}
				return
			}
			if ep.Host != tc.wantHost || ep.URL != "postgres://u:p@db/shop" {
				t.Errorf("endpoint %+v", ep)
			}
		})
	}
}
