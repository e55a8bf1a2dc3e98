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
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	shopv1alpha1 "github.com/storefront-operator/storefront/api/v1alpha1"
)

func TestShopURL(t *testing.T) {
	lb := func(in networkingv1.IngressLoadBalancerIngress) *networkingv1.Ingress {
		return &networkingv1.Ingress{Status: networkingv1.IngressStatus{LoadBalancer: networkingv1.IngressLoadBalancerStatus{
			Ingress: []networkingv1.IngressLoadBalancerIngress{in}}}}
	}
	cases := map[string]struct {
		spec *shopv1alpha1.IngressSpec
		ing  *networkingv1.Ingress
		want string
	}{
		"no ingress: no URL":       {nil, nil, ""},
		"a host with TLS is https": {&shopv1alpha1.IngressSpec{Host: "shop.example", TLSSecretName: "tls"}, nil, "https://shop.example"},
		"an ALB with an ACM certificate is https": {&shopv1alpha1.IngressSpec{ClassName: "alb", Host: "shop.example",
			CertificateARN: "arn:aws:acm:eu-west-1:123456789012:certificate/abc"}, nil, "https://shop.example"},
		"an ALB without a certificate is http": {&shopv1alpha1.IngressSpec{ClassName: "alb", Host: "shop.example"}, nil, "http://shop.example"},
		"a host without TLS is http":           {&shopv1alpha1.IngressSpec{Host: "shop.example"}, lb(networkingv1.IngressLoadBalancerIngress{IP: "1.2.3.4"}), "http://shop.example"},
		"no host and no address yet":           {&shopv1alpha1.IngressSpec{}, &networkingv1.Ingress{}, ""},
		"the load balancer's host name":        {&shopv1alpha1.IngressSpec{}, lb(networkingv1.IngressLoadBalancerIngress{Hostname: "lb.example"}), "http://lb.example"},
		"the load balancer's IP and port":      {&shopv1alpha1.IngressSpec{}, lb(networkingv1.IngressLoadBalancerIngress{IP: "127.0.0.1", Ports: []networkingv1.IngressPortStatus{{Port: 8443}}}), "http://127.0.0.1:8443"},
		"an IPv6 address":                      {&shopv1alpha1.IngressSpec{}, lb(networkingv1.IngressLoadBalancerIngress{IP: "fd00::1"}), "http://[fd00::1]"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := shopURL(tc.spec, tc.ing); got != tc.want {
				t.Errorf("url %q, want %q", got, tc.want)
			}
		})
	}
}

// TestConditionTable checks every row of the condition table in docs/architecture.md
// against summarise: given the four conditions the phases set and the other input
// (an error, spec.paused, ...), Ready and the phase are the row's.
func TestConditionTable(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "docs", "architecture.md"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(doc)
	begin, end := strings.Index(text, "<!-- condition-table:begin -->"), strings.Index(text, "<!-- condition-table:end -->")
	if begin < 0 || end < begin {
		t.Fatal("docs/architecture.md has no condition table markers")
	}
	var rows [][]string
	for _, line := range strings.Split(text[begin:end], "\n") {
		if !strings.HasPrefix(line, "| ") || strings.HasPrefix(line, "| situation") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "| "), " | ")
		if len(cells) != 8 {
			t.Fatalf("row %q has %d cells, want 8", line, len(cells))
		}
		rows = append(rows, cells)
	}
	if len(rows) < 15 {
		t.Fatalf("%d rows in the condition table", len(rows))
	}
	parse := func(cell string) (metav1.ConditionStatus, string, bool) {
		if cell == "—" {
			return "", "", false
		}
		status, reason, ok := strings.Cut(cell, "/")
		if !ok {
			t.Fatalf("cell %q is not Status/Reason", cell)
		}
		return metav1.ConditionStatus(status), reason, true
	}
	seenReasons := map[string]bool{}
	for _, row := range rows {
		t.Run(row[0], func(t *testing.T) {
			sf := storefrontNamed("acme")
			sf.Generation = 3
			// Before: a Ready shop of generation 2, so that "unchanged" can be seen.
			before := metav1.Condition{Type: shopv1alpha1.ConditionReady, Status: metav1.ConditionTrue,
				Reason: shopv1alpha1.ReasonReconciled, ObservedGeneration: 2}
			sf.Status.Conditions = []metav1.Condition{before}
			sf.Status.Phase, sf.Status.ObservedGeneration = shopv1alpha1.PhaseReady, 2
			for i, ct := range conditionTypes {
				status, reason, given := parse(row[2+i])
				if !given {
					status, reason = metav1.ConditionTrue, "Any"
				}
				seenReasons[reason] = true
				sf.Status.Conditions = append(sf.Status.Conditions, metav1.Condition{Type: ct, Status: status, Reason: reason, ObservedGeneration: 3})
			}
			s := &scope{sf: sf}
			switch row[1] {
			case "—":
			case "error: Forbidden":
				s.err = fmt.Errorf("workload: applying Service acme-shop: %w",
					apierrors.NewForbidden(schema.GroupResource{Resource: "services"}, "acme-shop", errors.New("exceeded quota")))
			case "error: Conflict":
				s.err = fmt.Errorf("workload: %w", apierrors.NewConflict(schema.GroupResource{Resource: "deployments"}, "acme-shop", errors.New("modified")))
			case "not controlled":
				s.err = fmt.Errorf("workload: %w", &notControlledError{kind: "Service", name: "acme-shop"})
			case "host claimed":
				s.hostConflict = "Storefront other/shop serves shop.example"
			case "spec.paused":
				sf.Spec.Paused = true
			case "spec.hibernate":
				sf.Spec.Hibernate = true
			case "deleting":
				now := metav1.Now()
				sf.DeletionTimestamp = &now
			default:
				t.Fatalf("unknown other input %q", row[1])
			}
			summarise(s)
			wantReady, wantReason, checkReady := parse(row[6])
			ready := condition(sf, shopv1alpha1.ConditionReady)
			switch {
			case row[1] == "deleting":
				// The finalizer's phase sets Ready=False/Deleting itself (storefront_delete.go).
			case !checkReady:
				if ready != before {
					t.Errorf("Ready %+v, want it unchanged", ready)
				}
			case ready.Status != wantReady || ready.Reason != wantReason || ready.ObservedGeneration != 3:
				t.Errorf("Ready %s/%s (generation %d), want %s/%s for generation 3", ready.Status, ready.Reason, ready.ObservedGeneration, wantReady, wantReason)
			}
			wantPhase := shopv1alpha1.StorefrontPhase(row[7])
			if row[7] == "—" {
				wantPhase = shopv1alpha1.PhaseReady
				if sf.Status.ObservedGeneration != 2 {
					t.Errorf("observedGeneration %d, want it unchanged (2)", sf.Status.ObservedGeneration)
				}
			}
			if sf.Status.Phase != wantPhase {
				t.Errorf("phase %s, want %s", sf.Status.Phase, wantPhase)
			}
		})
	}
	// Every reason a failure is reported with has a row.
	for reason := range failureReasons {
		if !seenReasons[reason] && !strings.Contains(text[begin:end], "/"+reason+" ") {
			t.Errorf("failure reason %s has no row in the condition table", reason)
		}
	}
}

// A condition of an older generation never makes Ready True.
func TestReadyNeedsCurrentGeneration(t *testing.T) {
	sf := storefrontNamed("acme")
	sf.Generation = 2
	for _, ct := range conditionTypes {
		reason := "Any"
		if ct == shopv1alpha1.ConditionAvailable {
			reason = shopv1alpha1.ReasonDeploymentAvailable
		}
		sf.Status.Conditions = append(sf.Status.Conditions, metav1.Condition{Type: ct, Status: metav1.ConditionTrue, Reason: reason, ObservedGeneration: 2})
	}
	setReady(sf)
	if c := condition(sf, shopv1alpha1.ConditionReady); c.Status != metav1.ConditionTrue {
		t.Fatalf("Ready %+v with every condition True", c)
	}
	sf.Status.Conditions[3].ObservedGeneration = 1
	setReady(sf)
	if c := condition(sf, shopv1alpha1.ConditionReady); c.Status != metav1.ConditionFalse || summarisePhase(sf) != shopv1alpha1.PhaseRollingOut {
		t.Errorf("Ready %+v, phase %s with Available of generation 1; want False, RollingOut", c, summarisePhase(sf))
	}
}
