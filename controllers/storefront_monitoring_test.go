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
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	shopv1alpha1 "github.com/storefront-operator/storefront/api/v1alpha1"
)

func TestDesiredServiceMonitor(t *testing.T) {
	sf := newStorefront("shop-ns")
	sf.UID = "uid-1"
	sm := desiredServiceMonitor(sf)
	if sm.GetName() != "acme-shop" || sm.GetNamespace() != "shop-ns" {
		t.Errorf("name %s/%s, want shop-ns/acme-shop", sm.GetNamespace(), sm.GetName())
	}
	if ref := metav1.GetControllerOf(sm); ref == nil || ref.UID != "uid-1" {
		t.Errorf("controller reference %+v, want the Storefront", ref)
	}
	// It selects exactly the Service desiredService builds, on its metrics port.
	svc := desiredService(sf, nil)
	sel, _, _ := unstructured.NestedStringMap(sm.Object, "spec", "selector", "matchLabels")
	for k, v := range sel {
		if svc.Labels[k] != v {
			t.Errorf("selector %s=%s does not match the Service's labels %v", k, v, svc.Labels)
		}
	}
	eps, _, _ := unstructured.NestedSlice(sm.Object, "spec", "endpoints")
	port := eps[0].(map[string]any)["port"]
	found := false
	for _, p := range svc.Spec.Ports {
		found = found || p.Name == port
	}
	if !found {
		t.Errorf("endpoint port %v is not a port of the Service: %+v", port, svc.Spec.Ports)
	}
}

func TestServiceMonitorMode(t *testing.T) {
	for mode, want := range map[shopv1alpha1.ServiceMonitorMode]shopv1alpha1.ServiceMonitorMode{
		"": shopv1alpha1.ServiceMonitorAuto, shopv1alpha1.ServiceMonitorEnabled: shopv1alpha1.ServiceMonitorEnabled,
		shopv1alpha1.ServiceMonitorDisabled: shopv1alpha1.ServiceMonitorDisabled,
	} {
		sf := newStorefront("ns")
		sf.Spec.Observability.ServiceMonitor = mode
		if got := serviceMonitorMode(sf); got != want {
			t.Errorf("mode %q: %q, want %q", mode, got, want)
		}
	}
}

func TestStorefrontMetricsFromStatus(t *testing.T) {
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	cond := func(typ string, status metav1.ConditionStatus, reason string, since time.Duration) metav1.Condition {
		return metav1.Condition{Type: typ, Status: status, Reason: reason, LastTransitionTime: metav1.NewTime(now.Add(-since))}
	}
	tests := map[string]struct {
		phase shopv1alpha1.StorefrontPhase
		conds []metav1.Condition
		want  map[string]float64 // "metric/store" -> value; absent keys must be absent
	}{
		"a ready shop": {
			phase: shopv1alpha1.PhaseReady,
			conds: []metav1.Condition{cond("Ready", "True", "Reconciled", time.Hour), cond("DatabaseReady", "True", "DatabaseAvailable", time.Hour)},
			want:  map[string]float64{"storefront_ready": 1, "storefront_migration_failed": 0, "storefront_ack_terminal/database": 0, "storefront_ack_terminal/cache": 0},
		},
		"ACK terminal on the database": {
			phase: shopv1alpha1.PhaseDegraded,
			conds: []metav1.Condition{cond("Ready", "False", "NotReady", time.Minute), cond("DatabaseReady", "False", "ProvisioningFailed", time.Minute)},
			want:  map[string]float64{"storefront_ready": 0, "storefront_migration_failed": 0, "storefront_ack_terminal/database": 1, "storefront_ack_terminal/cache": 0},
		},
		"a migration that failed": {
			phase: shopv1alpha1.PhaseDegraded,
			conds: []metav1.Condition{cond("Ready", "False", "NotReady", time.Minute), cond("SchemaMigrated", "False", "MigrationFailed", time.Minute)},
			want:  map[string]float64{"storefront_ready": 0, "storefront_migration_failed": 1, "storefront_ack_terminal/database": 0, "storefront_ack_terminal/cache": 0},
		},
		"a cache waiting for ACK for 90 seconds": {
			phase: shopv1alpha1.PhaseProvisioning,
			conds: []metav1.Condition{cond("CacheReady", "False", "ProvisioningRetrying", 90*time.Second)},
			want: map[string]float64{"storefront_ready": 0, "storefront_migration_failed": 0, "storefront_ack_terminal/database": 0,
				"storefront_ack_terminal/cache": 0, "storefront_ack_wait_seconds/cache": 90},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			sf := newStorefront("ns")
			sf.Status.Phase = tc.phase
			sf.Status.Conditions = tc.conds
			got := map[string]float64{}
			for _, m := range storefrontMetrics(sf, now) {
				key, value := metricKey(t, m, string(tc.phase))
				got[key] = value
			}
			if len(got) != len(tc.want) {
				t.Errorf("series %v, want %v", got, tc.want)
			}
			for k, v := range tc.want {
				if g, ok := got[k]; !ok || g != v {
					t.Errorf("%s = %v (present %v), want %v", k, g, ok, v)
				}
			}
		})
	}
}

// metricKey is "name/store" (or "name") and the value of m, whose namespace, storefront
// and phase labels it checks.
func metricKey(t *testing.T, m prometheus.Metric, phase string) (string, float64) {
	t.Helper()
	var pb dto.Metric
	if err := m.Write(&pb); err != nil {
		t.Fatal(err)
	}
	labels := map[string]string{}
	for _, l := range pb.GetLabel() {
		labels[l.GetName()] = l.GetValue()
	}
	if labels["namespace"] != "ns" || labels["storefront"] != "acme" || labels["phase"] != phase {
		t.Errorf("labels %v, want namespace ns, storefront acme, phase %s", labels, phase)
	}
	name := m.Desc().String()
	for _, n := range []string{"storefront_ready", "storefront_migration_failed", "storefront_ack_terminal", "storefront_ack_wait_seconds"} {
		if containsName(name, n) {
			name = n
		}
	}
	if s, ok := labels["store"]; ok {
		name += "/" + s
	}
	return name, pb.GetGauge().GetValue()
}

func containsName(desc, name string) bool {
	return strings.Contains(desc, `fqName: "`+name+`"`)
}
