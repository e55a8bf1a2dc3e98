// Package metrics holds the shop's Prometheus metrics on a registry of its own (not the
// global one), so tests and the benchmark can run several shops in one process.
package metrics

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics is one shop's set of metrics.
type Metrics struct {
	Registry *prometheus.Registry

	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	cache    *prometheus.CounterVec

	ordersPlaced    *prometheus.CounterVec
	ordersDeclined  prometheus.Counter
	ordersCancelled prometheus.Counter
	revenue         *prometheus.CounterVec
	loginFailures   *prometheus.CounterVec
	queries         prometheus.Counter
	revocations     *prometheus.CounterVec
}

// New registers the shop's metrics, plus the Go runtime and process collectors, on a new
// registry.
func New() *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{
		Registry: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shop_http_requests_total",
			Help: "HTTP requests served, by route pattern, method and status code.",
		}, []string{"route", "method", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "shop_http_request_duration_seconds",
			Help:    "HTTP request latency, by route pattern, method and status code.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"route", "method", "status"}),
		cache: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shop_cache_requests_total",
			Help: "Catalog cache lookups by level (local, redis) and result (hit, miss, error; rejected: a Redis entry that failed authentication).",
		}, []string{"level", "result"}),
		ordersPlaced: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shop_orders_placed_total",
			Help: "Orders placed (paid), by currency.",
		}, []string{"currency"}),
		ordersDeclined: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "shop_orders_declined_total",
			Help: "Checkouts refused because the card was declined.",
		}),
		ordersCancelled: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "shop_orders_cancelled_total",
			Help: "Orders cancelled (and restocked).",
		}),
		revenue: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shop_revenue_minor_total",
			Help: "Sum of the totals of placed orders in minor units (cents), by currency.",
		}, []string{"currency"}),
		loginFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shop_login_failures_total",
			Help: "Refused logins, by reason (credentials, throttled).",
		}, []string{"reason"}),
		queries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "shop_db_queries_total",
			Help: "SQL statements sent to PostgreSQL through the pool (transaction control included; not the revocation listener's heartbeats).",
		}),
		revocations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shop_auth_revocation_checks_total",
			Help: "Token revocation checks, by where they were answered (memory, postgres).",
		}, []string{"source"}),
	}
	reg.MustRegister(m.requests, m.duration, m.cache, m.ordersPlaced, m.ordersDeclined, m.ordersCancelled, m.revenue, m.loginFailures, m.queries, m.revocations,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// ObserveRequest records one served request. route is the matched pattern
// (/api/v1/products/:idOrSlug), never the raw path, so the label set stays bounded.
func (m *Metrics) ObserveRequest(route, method string, status int, d time.Duration) {
	s := strconv.Itoa(status)
	m.requests.WithLabelValues(route, method, s).Inc()
	m.duration.WithLabelValues(route, method, s).Observe(d.Seconds())
}

// CacheResult records a cache lookup at level (local or redis) with result hit, miss or error.
func (m *Metrics) CacheResult(level, result string) {
	m.cache.WithLabelValues(level, result).Inc()
}

// OrderPlaced records a placed order of total minor units of currency.
func (m *Metrics) OrderPlaced(currency string, total int64) {
	m.ordersPlaced.WithLabelValues(currency).Inc()
	m.revenue.WithLabelValues(currency).Add(float64(total))
}

// OrderDeclined records a checkout whose card was declined.
func (m *Metrics) OrderDeclined() { m.ordersDeclined.Inc() }

// OrderCancelled records a cancelled order.
func (m *Metrics) OrderCancelled() { m.ordersCancelled.Inc() }

// LoginFailed records a refused login: reason is "credentials" or "throttled".
func (m *Metrics) LoginFailed(reason string) { m.loginFailures.WithLabelValues(reason).Inc() }

// RevocationChecked records a token revocation check answered from source (memory or
// postgres).
func (m *Metrics) RevocationChecked(source string) { m.revocations.WithLabelValues(source).Inc() }

// QueryTracer counts the statements of the connections it is set on
// (pgx.ConnConfig.Tracer) in shop_db_queries_total.
func (m *Metrics) QueryTracer() pgx.QueryTracer { return queryCounter{m.queries} }

type queryCounter struct{ n prometheus.Counter }

func (q queryCounter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	q.n.Inc()
	return ctx
}

func (queryCounter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// RegisterPool exports the statistics of a pgx pool.
func (m *Metrics) RegisterPool(pool *pgxpool.Pool) {
	m.Registry.MustRegister(&poolCollector{pool: pool})
}

// Handler serves the registry in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{Registry: m.Registry})
}

var (
	poolAcquired = prometheus.NewDesc("shop_db_pool_acquired_connections", "Connections currently in use.", nil, nil)
	poolIdle     = prometheus.NewDesc("shop_db_pool_idle_connections", "Idle connections in the pool.", nil, nil)
	poolTotal    = prometheus.NewDesc("shop_db_pool_total_connections", "Connections open (acquired, idle and being made).", nil, nil)
	poolMax      = prometheus.NewDesc("shop_db_pool_max_connections", "The pool's connection limit.", nil, nil)
	poolAcquires = prometheus.NewDesc("shop_db_pool_acquires_total", "Successful connection acquisitions.", nil, nil)
	poolWaited   = prometheus.NewDesc("shop_db_pool_empty_acquires_total", "Acquisitions that had to wait for a connection.", nil, nil)
	poolCanceled = prometheus.NewDesc("shop_db_pool_canceled_acquires_total", "Acquisitions canceled by their context.", nil, nil)
	poolWaitTime = prometheus.NewDesc("shop_db_pool_acquire_seconds_total", "Total time spent acquiring connections.", nil, nil)
)

type poolCollector struct{ pool *pgxpool.Pool }

func (c *poolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{poolAcquired, poolIdle, poolTotal, poolMax, poolAcquires, poolWaited, poolCanceled, poolWaitTime} {
		ch <- d
	}
}

func (c *poolCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.pool.Stat()
	ch <- prometheus.MustNewConstMetric(poolAcquired, prometheus.GaugeValue, float64(s.AcquiredConns()))
	ch <- prometheus.MustNewConstMetric(poolIdle, prometheus.GaugeValue, float64(s.IdleConns()))
	ch <- prometheus.MustNewConstMetric(poolTotal, prometheus.GaugeValue, float64(s.TotalConns()))
	ch <- prometheus.MustNewConstMetric(poolMax, prometheus.GaugeValue, float64(s.MaxConns()))
	ch <- prometheus.MustNewConstMetric(poolAcquires, prometheus.CounterValue, float64(s.AcquireCount()))
	ch <- prometheus.MustNewConstMetric(poolWaited, prometheus.CounterValue, float64(s.EmptyAcquireCount()))
	ch <- prometheus.MustNewConstMetric(poolCanceled, prometheus.CounterValue, float64(s.CanceledAcquireCount()))
	ch <- prometheus.MustNewConstMetric(poolWaitTime, prometheus.CounterValue, s.AcquireDuration().Seconds())
}
