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

package localcluster

import (
	"net/http"
	"strings"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// The conditions annotation as the LBC documents it (docs/guide/ingress/annotations.md,
// "conditions": `[{"field":"http-header","httpHeaderConfig":{"httpHeaderName":
// "HeaderName", "values":["HeaderValue1", "HeaderValue2"]}}]`): a request forwards only
// when the header has one of the values, case-insensitively, * and ? as wildcards; the
// operator puts the CDN's origin header there.
func TestALBHTTPHeaderConditions(t *testing.T) {
	ing := &networkingv1.Ingress{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "acme-shop", Annotations: map[string]string{
			"alb.ingress.kubernetes.io/conditions.acme-shop": `[{"field":"http-header","httpHeaderConfig":{"httpHeaderName":"X-Origin-Verify","values":["S3cret-Value","other-*"]}}]`,
		}},
		Spec: networkingv1.IngressSpec{Rules: []networkingv1.IngressRule{{Host: "origin.acme.example",
			IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{Paths: []networkingv1.HTTPIngressPath{{
				Path: "/", PathType: ptr.To(networkingv1.PathTypePrefix),
				Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: "acme-shop"}}}}}}}}},
	}
	headers, err := conditionsOf(ing, "acme-shop")
	if err != nil {
		t.Fatal(err)
	}
	m := &albModel{
		defaultAction: albAction{Type: "fixed-response", FixedResponseConfig: &fixedResponseConfig{StatusCode: "404", ContentType: "text/plain"}},
		rules:         []albRule{{hosts: []string{"origin.acme.example"}, paths: []string{"/*"}, headers: headers, action: albAction{Type: "forward", targetGroup: "shop"}}},
	}
	for name, tc := range map[string]struct {
		header http.Header
		want   string
	}{
		"the origin header forwards":                   {http.Header{"X-Origin-Verify": {"S3cret-Value"}}, "shop"},
		"in any case":                                  {http.Header{"X-Origin-Verify": {"s3cret-value"}}, "shop"},
		"a wildcard value matches":                     {http.Header{"X-Origin-Verify": {"other-42"}}, "shop"},
		"one of several values of the header suffices": {http.Header{"X-Origin-Verify": {"nope", "S3cret-Value"}}, "shop"},
		"without the header: the default 404":          {http.Header{}, "404"},
		"a wrong value: the default 404":               {http.Header{"X-Origin-Verify": {"S3cret-Value-not"}}, "404"},
	} {
		t.Run(name, func(t *testing.T) {
			act := m.matchRequest("origin.acme.example", "/products/1", tc.header)
			got := act.targetGroup
			if act.Type == "fixed-response" {
				got = act.FixedResponseConfig.StatusCode
			}
			if got != tc.want {
				t.Errorf("matchRequest(%v) = %s, want %s", tc.header, got, tc.want)
			}
		})
	}
	// Without the annotation there is no condition; an unsupported field is an error.
	if h, err := conditionsOf(ing, "other"); err != nil || h != nil {
		t.Errorf("conditionsOf without annotation = %v, %v", h, err)
	}
	ing.Annotations["alb.ingress.kubernetes.io/conditions.acme-shop"] = `[{"field":"source-ip","sourceIpConfig":{"values":["10.0.0.0/8"]}}]`
	if _, err := conditionsOf(ing, "acme-shop"); err == nil || !strings.Contains(err.Error(), "http-header conditions only") {
		t.Errorf("conditionsOf(source-ip) = %v, want the stand-in's refusal", err)
	}
}
