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
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	shopv1alpha1 "github.com/storefront-operator/storefront/api/v1alpha1"
)

var (
	storefrontPhase = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "storefront_phase",
		Help: "Number of Storefronts in each phase.",
	}, []string{"phase"})

	reconcileErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "storefront_reconcile_errors_total",
		Help: "Reconciles of a Storefront that ended in an error, by the phase that failed.",
	}, []string{"phase"})

	phaseMetrics = &phaseTracker{phases: map[types.NamespacedName]shopv1alpha1.StorefrontPhase{}}
)

// allPhases are reported even at zero, so dashboards see every series.
var allPhases = []shopv1alpha1.StorefrontPhase{
	shopv1alpha1.PhaseProvisioning, shopv1alpha1.PhaseMigrating, shopv1alpha1.PhaseRollingOut,
	shopv1alpha1.PhaseReady, shopv1alpha1.PhaseDegraded, shopv1alpha1.PhaseDeleting, shopv1alpha1.PhasePaused,
	shopv1alpha1.PhaseHibernated,
}

func init() {
	// controller-runtime's registry is what its metrics server exposes.
	metrics.Registry.MustRegister(storefrontPhase, reconcileErrors)
	for _, p := range allPhases {
		storefrontPhase.WithLabelValues(string(p)).Set(0)
	}
}

// phaseTracker remembers each Storefront's phase so that storefront_phase counts
// Storefronts, not reconciles.
type phaseTracker struct {
	mu     sync.Mutex
	phases map[types.NamespacedName]shopv1alpha1.StorefrontPhase
}

func (t *phaseTracker) set(key types.NamespacedName, p shopv1alpha1.StorefrontPhase) {
	t.mu.Lock()
	defer t.mu.Unlock()
	old, known := t.phases[key]
	if known && old == p {
		return
	}
	if known && old != "" {
		storefrontPhase.WithLabelValues(string(old)).Dec()
	}
	t.phases[key] = p
	if p != "" {
		storefrontPhase.WithLabelValues(string(p)).Inc()
	}
}

func (t *phaseTracker) forget(key types.NamespacedName) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if old, known := t.phases[key]; known && old != "" {
		storefrontPhase.WithLabelValues(string(old)).Dec()
	}
	delete(t.phases, key)
}
