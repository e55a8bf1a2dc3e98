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
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	shopv1alpha1 "github.com/storefront-operator/storefront/api/v1alpha1"
)

// Per-Storefront metrics for the chart's alerts and dashboards, read from the
// Storefronts' status at scrape time (as kube-state-metrics does): nothing to update in
// the reconcile, nothing left behind by a deleted Storefront. Every series carries the
// Storefront's namespace, its name (storefront, the label the shops' ServiceMonitor puts
// on their series) and its phase, so that alerts can leave Paused and Hibernated ones
// out. Only the leader reports them, as it alone reconciles.
var (
	descStorefrontReady = prometheus.NewDesc("storefront_ready",
		"1 when the Storefront's Ready condition is True, 0 otherwise.",
		[]string{"namespace", labelStorefront, "phase"}, nil)
	descStorefrontACKTerminal = prometheus.NewDesc("storefront_ack_terminal",
		"1 when ACK reports the Storefront's data store (store: database, cache) in a state that needs a human (ACK.Terminal or a terminal AWS status: the condition's reason is ProvisioningFailed), 0 otherwise.",
		[]string{"namespace", labelStorefront, "phase", "store"}, nil)
	descStorefrontMigrationFailed = prometheus.NewDesc("storefront_migration_failed",
		"1 when the Storefront's migration Job failed or its pod cannot start (SchemaMigrated reason MigrationFailed or MigrationPodNotStarting), 0 otherwise.",
		[]string{"namespace", labelStorefront, "phase"}, nil)
	descStorefrontACKWait = prometheus.NewDesc("storefront_ack_wait_seconds",
		"How long the Storefront's data store (store: database, cache) has been waiting for ACK (its condition's reason Provisioning or ProvisioningRetrying), in seconds; absent when it is not waiting.",
		[]string{"namespace", labelStorefront, "phase", "store"}, nil)
)

// storefrontStatusMetrics reports the metrics above from the Storefronts reader holds;
// none while it is nil (not the leader, or not started).
type storefrontStatusMetrics struct {
	reader atomic.Pointer[client.Reader]
	now    func() time.Time
}

var statusMetrics = &storefrontStatusMetrics{now: time.Now}

func init() {
	metrics.Registry.MustRegister(statusMetrics)
}

// Describe implements prometheus.Collector.
func (m *storefrontStatusMetrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descStorefrontReady, descStorefrontACKTerminal, descStorefrontMigrationFailed, descStorefrontACKWait} {
		ch <- d
	}
}

// collectTimeout bounds the cache read of a scrape (a cache not synced yet blocks).
const collectTimeout = 5 * time.Second

// Collect implements prometheus.Collector.
func (m *storefrontStatusMetrics) Collect(ch chan<- prometheus.Metric) {
	r := m.reader.Load()
	if r == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), collectTimeout)
	defer cancel()
	var list shopv1alpha1.StorefrontList
	if err := (*r).List(ctx, &list); err != nil {
		ch <- prometheus.NewInvalidMetric(descStorefrontReady, err)
		return
	}
	now := m.now()
	for i := range list.Items {
		for _, metric := range storefrontMetrics(&list.Items[i], now) {
			ch <- metric
		}
	}
}

// storefrontMetrics are one Storefront's series.
func storefrontMetrics(sf *shopv1alpha1.Storefront, now time.Time) []prometheus.Metric {
	phase := string(sf.Status.Phase)
	conds := sf.Status.Conditions
	out := []prometheus.Metric{
		prometheus.MustNewConstMetric(descStorefrontReady, prometheus.GaugeValue,
			boolValue(meta.IsStatusConditionTrue(conds, shopv1alpha1.ConditionReady)), sf.Namespace, sf.Name, phase),
	}
	migration := meta.FindStatusCondition(conds, shopv1alpha1.ConditionSchemaMigrated)
	failed := migration != nil && (migration.Reason == shopv1alpha1.ReasonMigrationFailed || migration.Reason == shopv1alpha1.ReasonMigrationPodNotStarting)
	out = append(out, prometheus.MustNewConstMetric(descStorefrontMigrationFailed, prometheus.GaugeValue,
		boolValue(failed), sf.Namespace, sf.Name, phase))
	for _, store := range []struct{ name, cond string }{
		{"database", shopv1alpha1.ConditionDatabaseReady},
		{"cache", shopv1alpha1.ConditionCacheReady},
	} {
		c := meta.FindStatusCondition(conds, store.cond)
		terminal := c != nil && c.Status == metav1.ConditionFalse && c.Reason == shopv1alpha1.ReasonProvisioningFailed
		out = append(out, prometheus.MustNewConstMetric(descStorefrontACKTerminal, prometheus.GaugeValue,
			boolValue(terminal), sf.Namespace, sf.Name, phase, store.name))
		if c != nil && c.Status != metav1.ConditionTrue &&
			(c.Reason == shopv1alpha1.ReasonProvisioning || c.Reason == shopv1alpha1.ReasonProvisioningRetrying) {
			out = append(out, prometheus.MustNewConstMetric(descStorefrontACKWait, prometheus.GaugeValue,
				now.Sub(c.LastTransitionTime.Time).Seconds(), sf.Namespace, sf.Name, phase, store.name))
		}
	}
	return out
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// reportStatusMetrics makes the leader report the Storefronts of reader, from its
// election until it stops.
func reportStatusMetrics(reader client.Reader) manager.Runnable {
	return manager.RunnableFunc(func(ctx context.Context) error {
		statusMetrics.reader.Store(&reader)
		<-ctx.Done()
		statusMetrics.reader.CompareAndSwap(&reader, nil)
		return nil
	})
}
