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
	"maps"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/events"

	shopv1alpha1 "github.com/storefront-operator/storefront/api/v1alpha1"
)

func TestClientEnv(t *testing.T) {
	cases := map[string]struct {
		opts    Options
		ingress *shopv1alpha1.IngressSpec
		want    map[string]string
		warned  bool
	}{
		"ALB subnets given: their blocks are the trusted proxies": {
			opts: Options{IngressCIDRs: []string{"10.0.0.0/24", "10.0.1.0/24"}}, ingress: &shopv1alpha1.IngressSpec{},
			want: map[string]string{envTrustedProxies: "10.0.0.0/24,10.0.1.0/24"},
		},
		"only an ingress namespace: no proxy is trusted, and a Warning says so": {
			opts: Options{IngressNamespace: "ingress-nginx"}, ingress: &shopv1alpha1.IngressSpec{Host: "shop.example.com"},
			want:   map[string]string{envPublicURL: "http://shop.example.com"},
			warned: true,
		},
		"TLS from ACM: the public URL is https": {
			ingress: &shopv1alpha1.IngressSpec{Host: "shop.example.com", ClassName: albIngressClass, CertificateARN: "arn:aws:acm:eu-west-1:123456789012:certificate/x"},
			want:    map[string]string{envPublicURL: "https://shop.example.com"},
		},
		"no Ingress: neither": {
			opts: Options{IngressNamespace: "ingress-nginx"},
			want: map[string]string{},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			sf := storefrontNamed("acme")
			sf.Spec.Ingress = tc.ingress
			d := desiredDeployment(sf, testScheme, "shop:1", "sum", nil, nil)
			withClientEnv(&d.Spec.Template.Spec, sf, tc.opts)
			got := map[string]string{}
			for _, e := range d.Spec.Template.Spec.Containers[0].Env {
				if e.Name == envTrustedProxies || e.Name == envPublicURL {
					got[e.Name] = e.Value
				}
			}
			if !maps.Equal(got, tc.want) {
				t.Errorf("env %v, want %v", got, tc.want)
			}
			rec := events.NewFakeRecorder(1)
			r := &StorefrontReconciler{Options: tc.opts, Recorder: rec}
			r.warnProxyNotTrusted(t.Context(), sf)
			if warned := len(rec.Events) == 1; warned != tc.warned {
				t.Errorf("warned %v, want %v", warned, tc.warned)
			}
			if tc.warned {
				if e := <-rec.Events; e[:len(corev1.EventTypeWarning)] != corev1.EventTypeWarning {
					t.Errorf("event %q is not a Warning", e)
				}
			}
		})
	}
}
