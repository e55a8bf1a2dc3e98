// Package metrics holds the shop's Prometheus metrics on a registry of its own (not the
// global one), so tests and the benchmark can run several shops in one process.
package metrics

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/storefront-operator/storefront/shop/platform/database"
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
	timeouts        prometheus.Counter
	revocations     *prometheus.CounterVec
	pools           *poolCollector
}

// New registers the shop's metrics, plus the Go runtime and process collectors, on a new
// registry.
func New() *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{
		Registry: reg,
		pools:    &poolCollector{},
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
		timeouts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "shop_db_statement_timeouts_total",
			Help: "Statements PostgreSQL cancelled at their statement_timeout (answered 503).",
		}),
		queries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "shop_db_queries_total",
			Help: "SQL statements sent to PostgreSQL through the pool (transaction control included; not the revocation listener's heartbeats).",
		}),
		revocations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shop_auth_revocation_checks_total",
			Help: "Token revocation checks, by where they were answered (memory, postgres).",
		}, []string{"source"}),
	}
	reg.MustRegister(m.requests, m.duration, m.cache, m.ordersPlaced, m.ordersDeclined, m.ordersCancelled, m.revenue, m.loginFailures, m.queries, m.timeouts, m.revocations, m.pools,
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
// (pgx.ConnConfig.Tracer) in shop_db_queries_total, and those cancelled at their
// statement_timeout in shop_db_statement_timeouts_total.
func (m *Metrics) QueryTracer() pgx.QueryTracer { return queryCounter{m.queries, m.timeouts} }

type queryCounter struct{ n, timeouts prometheus.Counter }

func (q queryCounter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	q.n.Inc()
	return ctx
}

func (q queryCounter) TraceQueryEnd(_ context.Context, _ *pgx.Conn, d pgx.TraceQueryEndData) {
	if d.Err != nil && database.IsStatementTimeout(d.Err) {
		q.timeouts.Inc()
	}
}

// RegisterPool exports the statistics of a pgx pool, labelled pool=name.
func (m *Metrics) RegisterPool(name string, pool *pgxpool.Pool) {
	m.pools.mu.Lock()
	defer m.pools.mu.Unlock()
	m.pools.pools = append(m.pools.pools, namedPool{name, pool})
}

// Handler serves the registry in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{Registry: m.Registry})
}

var (
	poolAcquired = prometheus.NewDesc("shop_db_pool_acquired_connections", "Connections currently in use.", []string{"pool"}, nil)
	poolIdle     = prometheus.NewDesc("shop_db_pool_idle_connections", "Idle connections in the pool.", []string{"pool"}, nil)
	poolTotal    = prometheus.NewDesc("shop_db_pool_total_connections", "Connections open (acquired, idle and being made).", []string{"pool"}, nil)
	poolMax      = prometheus.NewDesc("shop_db_pool_max_connections", "The pool's connection limit.", []string{"pool"}, nil)
	poolAcquires = prometheus.NewDesc("shop_db_pool_acquires_total", "Successful connection acquisitions.", []string{"pool"}, nil)
	poolWaited   = prometheus.NewDesc("shop_db_pool_empty_acquires_total", "Acquisitions that had to wait for a connection.", []string{"pool"}, nil)
	poolCanceled = prometheus.NewDesc("shop_db_pool_canceled_acquires_total", "Acquisitions canceled by their context.", []string{"pool"}, nil)
	poolWaitTime = prometheus.NewDesc("shop_db_pool_acquire_seconds_total", "Total time spent acquiring connections.", []string{"pool"}, nil)
)

// poolCollector reports every registered pool: one collector, since a registry takes
// each metric's description once.
type poolCollector struct {
	mu    sync.Mutex
	pools []namedPool
}

type namedPool struct {
	name string
	pool *pgxpool.Pool
}

func (c *poolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{poolAcquired, poolIdle, poolTotal, poolMax, poolAcquires, poolWaited, poolCanceled, poolWaitTime} {
		ch <- d
	}
}

func (c *poolCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	pools := append([]namedPool(nil), c.pools...)
	c.mu.Unlock()
	for _, p := range pools {
		c.collect(ch, p.pool.Stat(), []string{p.name})
	}
}

func (c *poolCollector) collect(ch chan<- prometheus.Metric, s *pgxpool.Stat, labels []string) {
	ch <- prometheus.MustNewConstMetric(poolAcquired, prometheus.GaugeValue, float64(s.AcquiredConns()), labels...)
	ch <- prometheus.MustNewConstMetric(poolIdle, prometheus.GaugeValue, float64(s.IdleConns()), labels...)
	ch <- prometheus.MustNewConstMetric(poolTotal, prometheus.GaugeValue, float64(s.TotalConns()), labels...)
	ch <- prometheus.MustNewConstMetric(poolMax, prometheus.GaugeValue, float64(s.MaxConns()), labels...)
	ch <- prometheus.MustNewConstMetric(poolAcquires, prometheus.CounterValue, float64(s.AcquireCount()), labels...)
	ch <- prometheus.MustNewConstMetric(poolWaited, prometheus.CounterValue, float64(s.EmptyAcquireCount()), labels...)
	ch <- prometheus.MustNewConstMetric(poolCanceled, prometheus.CounterValue, float64(s.CanceledAcquireCount()), labels...)
	ch <- prometheus.MustNewConstMetric(poolWaitTime, prometheus.CounterValue, s.AcquireDuration().Seconds(), labels...)
}
