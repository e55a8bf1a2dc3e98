// Package app wires the shop together from a config.Config: `shop serve`, the tests, the
// benchmark and the pages all build the server through New, so what they run is what
// production runs. It also holds the steps of the other subcommands (Migrate,
// SeedProducts, CreateAdmin) so that they can be run in-process too.
package app

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strconv"

	"github.com/exaring/otelpgx"
	"github.com/gin-gonic/gin"
	"github.com/jackc/pgx/v5/multitracer"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/extra/redisotel/v9"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/trace"

	"github.com/storefront-operator/storefront/shop/admin"
	"github.com/storefront-operator/storefront/shop/api"
	"github.com/storefront-operator/storefront/shop/auth"
	"github.com/storefront-operator/storefront/shop/cart"
	"github.com/storefront-operator/storefront/shop/catalog"
	"github.com/storefront-operator/storefront/shop/catalogcache"
	"github.com/storefront-operator/storefront/shop/images"
	"github.com/storefront-operator/storefront/shop/orders"
	"github.com/storefront-operator/storefront/shop/platform/cache"
	"github.com/storefront-operator/storefront/shop/platform/config"
	"github.com/storefront-operator/storefront/shop/platform/database"
	"github.com/storefront-operator/storefront/shop/platform/httpserver"
	"github.com/storefront-operator/storefront/shop/platform/metrics"
	"github.com/storefront-operator/storefront/shop/platform/tracing"
	"github.com/storefront-operator/storefront/shop/search"
	"github.com/storefront-operator/storefront/shop/web"
)

// App is a running shop's parts.
type App struct {
	Config config.Config
	Logger *slog.Logger
	DB     *pgxpool.Pool
	// ShopperDB answers the shoppers' catalog reads: its connections have
	// SHOPPER_STATEMENT_TIMEOUT as statement_timeout.
	ShopperDB *pgxpool.Pool
	// SearchDB answers the searches: ShopperDB's settings, plus the search's trigram
	// threshold and generic plans (search.ConfigurePool).
	SearchDB *pgxpool.Pool
	Redis    *cache.Redis // nil without REDIS_URL
	// RedisPrefix starts every Redis key and channel of this shop (see keyPrefix).
	RedisPrefix string
	Metrics     *metrics.Metrics
	Health      *httpserver.Health
	Catalog     *catalog.Service
	Search      *search.Service
	// Cached is the one read-through cache of Catalog and Search, which the API and the
	// pages read through.
	Cached *catalogcache.Catalog
	Auth   *auth.Service
	Cart   *cart.Service
	Orders *orders.Service
	Admin  *admin.Service
	// Images adds product images to IMAGE_STORE (ImageStore; nil without one).
	Images     *images.Service
	ImageStore images.Store
	// Revocations is the logged-out token list behind Auth (it follows PostgreSQL until
	// Close).
	Revocations *auth.Revocations
	// Router is the HTTP handler with every route; later parts add theirs in New.
	Router *gin.Engine
	// handler is Router, inside the server span when tracing.
	handler http.Handler
}

// Option adjusts what New builds.
type Option func(*options)

type options struct {
	tracerProvider trace.TracerProvider
}

// WithTracerProvider traces the shop's requests, SQL statements and Redis commands with
// tp (tracing.Setup's, or a test's). Without it nothing is instrumented.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(o *options) { o.tracerProvider = tp }
}

// New connects to the database (which must answer) and Redis (which need not), and
// builds the router. Close releases what it opened.
func New(ctx context.Context, cfg config.Config, logger *slog.Logger, opts ...Option) (*App, error) {
	if err := cfg.RequireDatabase(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.Default()
	}
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	tp := o.tracerProvider
	m := metrics.New()
	pcfg, err := database.ParseURL(cfg.DatabaseURL)
	if err != nil {
		return nil, err
	}
	pcfg.ConnConfig.Tracer = m.QueryTracer()
	if tp != nil {
		// A span per statement, under the request's; the SQL is parameterised, so the
		// statement text holds no value (otelpgx records the arguments only when asked).
		pcfg.ConnConfig.Tracer = multitracer.New(m.QueryTracer(),
			otelpgx.NewTracer(otelpgx.WithTracerProvider(tracing.ChildrenOnly(tp)), otelpgx.WithMeterProvider(metricnoop.NewMeterProvider())))
	}
	pool, err := database.OpenConfig(ctx, pcfg)
	if err != nil {
		return nil, err
	}
	a := &App{Config: cfg, Logger: logger, DB: pool, Metrics: m}
	a.Metrics.RegisterPool("main", pool)
	// A pool of its own, rather than SET per statement: a search stays one statement and
	// one round trip, and the timeout cannot leak to the checkout's or the admin's
	// statements (which wait on row locks by design).
	scfg := pcfg.Copy()
	scfg.ConnConfig.RuntimeParams["statement_timeout"] = strconv.FormatInt(cfg.ShopperStatementTimeout.Milliseconds(), 10)
	if a.ShopperDB, err = database.OpenConfig(ctx, scfg); err != nil {
		pool.Close()
		return nil, err
	}
	a.Metrics.RegisterPool("shopper", a.ShopperDB)
	// The search's own pool: plan_cache_mode is a session setting, and the catalog's
	// statements need custom plans where the search's are cheaper generic.
	searchCfg := scfg.Copy()
	search.ConfigurePool(searchCfg)
	if a.SearchDB, err = database.OpenConfig(ctx, searchCfg); err != nil {
		pool.Close()
		a.ShopperDB.Close()
		return nil, err
	}
	a.Metrics.RegisterPool("search", a.SearchDB)

	if cfg.RedisURL != "" {
		a.Redis, err = cache.OpenRedis(cfg.RedisURL, cfg.RedisRootCAs)
		if err != nil {
			pool.Close()
			a.ShopperDB.Close()
			a.SearchDB.Close()
			return nil, err
		}
		if tp != nil {
			// Before the first command: the hook is added to each cluster node as it is
			// created. Commands are recorded by name only (their values are cache
			// entries), and without the caller's file and line, which cost a stack walk.
			if err := redisotel.InstrumentTracing(a.Redis.ClusterClient, redisotel.WithTracerProvider(tracing.ChildrenOnly(tp)),
				redisotel.WithDBStatement(false), redisotel.WithCallerEnabled(false)); err != nil {
				a.Close()
				return nil, err
			}
		}
		// Redis is not a dependency: a failed ping is logged and the shop starts anyway.
		if err := a.Redis.Ping(ctx).Err(); err != nil {
			logger.Warn("Cache unreachable at start; serving from the database until it answers", "error", err)
		}
	}
	a.RedisPrefix = keyPrefix(pool)
	a.Catalog = catalog.NewService(catalog.NewPGStore(a.ShopperDB)).WithImageBaseURL(cfg.ImageBaseURL)
	a.Search = search.NewService(search.NewPGStore(a.SearchDB))
	copts := cache.Options{Secret: cfg.JWTSecret, Prefix: a.RedisPrefix + ":cache", Observer: a.Metrics, Logger: logger}
	if a.Redis != nil {
		copts.Redis = a.Redis
	}
	a.Cached, err = catalogcache.New(a.Catalog, a.Search, catalogcache.Options{Cache: copts})
	if err != nil {
		a.Close()
		return nil, err
	}
	a.Cached.Start(context.WithoutCancel(ctx))

	a.Revocations = auth.NewRevocations(pool, logger)
	a.Revocations.Observer = a.Metrics
	a.Revocations.Start(context.WithoutCancel(ctx))
	a.Auth, err = auth.NewService(auth.NewPGStore(pool), auth.Options{
		Secret: cfg.JWTSecret, PasswordCost: cfg.PasswordCost, Observer: a.Metrics, RequireTOTP: cfg.AdminRequireTOTP,
		TOTPKey: cfg.TOTPKey, TOTPKeyPrevious: cfg.TOTPKeyPrevious,
		Revocations: a.Revocations, Throttle: auth.NewThrottle(pool, auth.ThrottleLimits{
			RegisterPerClient: cfg.Limits.RegisterPerClient, RegisterGlobal: cfg.Limits.RegisterGlobal,
			SoftDelay: cfg.Limits.LoginSoftDelay, MaxSoftDelay: cfg.Limits.LoginMaxSoftDelay,
		}),
	})
	if err != nil {
		a.Close()
		return nil, err
	}
	if n, err := a.Auth.ResealTOTP(ctx); err != nil {
		a.Close()
		return nil, fmt.Errorf("sealing the TOTP secrets with TOTP_KEY: %w", err)
	} else if n > 0 {
		logger.Info("Resealed TOTP secrets with the current TOTP_KEY", "accounts", n)
	}
	a.Cart = cart.NewService(cart.NewPGStore(pool), cfg.Currency)
	var payments orders.Payments // none: checkout answers ErrNoPaymentProvider
	if cfg.PaymentProvider == config.PaymentProviderMock {
		payments = orders.MockPayments{}
	}
	a.Orders = orders.NewService(orders.NewPGStore(pool), orders.Options{Currency: cfg.Currency, Observer: a.Metrics, Catalog: a.Cached, Payments: payments})
	a.Admin = admin.NewService(admin.NewPGStore(pool), a.Catalog, cfg.Currency, a.Cached)
	if cfg.ImageStore != "" {
		if a.ImageStore, err = images.Open(ctx, cfg.ImageStore); err != nil {
			a.Close()
			return nil, err
		}
	}
	a.Images = images.NewService(pool, a.ImageStore, images.NewProcessor(images.DefaultConcurrency), a.Cached, cfg.ImageBaseURL)

	a.Health = &httpserver.Health{Check: pool.Ping}
	a.Router = httpserver.NewRouter(httpserver.RouterOptions{Logger: logger, Metrics: a.Metrics, TrustedProxies: cfg.TrustedProxies,
		RouteBodyLimits: map[string]int64{api.UploadRoute: images.UploadBodyLimit, web.UploadRoute: images.UploadBodyLimit}})
	a.Health.Register(a.Router)
	// One limiter for the API's and the pages' searches: a client has one budget.
	searchLimit := httpserver.NewClientLimiter(cfg.SearchRate, int(math.Ceil(2*cfg.SearchRate)), "searches").Handler
	api.Register(a.Router, api.Deps{Catalog: a.Cached, Auth: a.Auth, Cart: a.Cart, Orders: a.Orders, Admin: a.Admin, Images: a.Images, SearchLimit: searchLimit})
	if ls, ok := a.ImageStore.(*images.LocalStore); ok {
		// A directory store is served by the shop itself (hand use; in a cluster the
		// bucket or the CDN serves the images).
		a.Router.GET(catalog.DefaultImageBase+"/:key", gin.WrapH(ls))
		a.Router.HEAD(catalog.DefaultImageBase+"/:key", gin.WrapH(ls))
	}
	pages, err := web.New(web.Deps{Catalog: a.Catalog, Cached: a.Cached,
		Auth: a.Auth, Cart: a.Cart, Orders: a.Orders, Admin: a.Admin, Images: a.Images, ImageBaseURL: cfg.ImageBaseURL,
		Currency: cfg.Currency, Secret: cfg.JWTSecret, Logger: logger, SearchLimit: searchLimit,
		HTTPS: cfg.HTTPS(), PaymentProvider: cfg.PaymentProvider, CartLimit: guestCartLimit(cfg)})
	if err != nil {
		a.Close()
		return nil, fmt.Errorf("building the pages: %w", err)
	}
	pages.Register(a.Router)
	a.handler = a.Router
	if tp != nil {
		a.handler = otelhttp.NewHandler(a.Router, "shop",
			otelhttp.WithTracerProvider(tp),
			otelhttp.WithPropagators(tracing.Propagator()),
			otelhttp.WithMeterProvider(metricnoop.NewMeterProvider()), // the shop's metrics are Prometheus's
			// The method until the router names the route (httpserver's observe renames
			// the span "GET /api/v1/products/:idOrSlug").
			otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return r.Method }),
			// Probes and scrapes would be most of the spans and say nothing.
			otelhttp.WithFilter(func(r *http.Request) bool {
				switch r.URL.Path {
				case "/healthz", "/readyz", "/metrics":
					return false
				}
				return true
			}))
	}
	return a, nil
}

// guestCartLimit throttles new guest carts per client: a burst, then one a minute.
func guestCartLimit(cfg config.Config) *httpserver.ClientLimiter {
	burst := cfg.Limits.GuestCartBurst
	if burst == 0 {
		burst = config.DefaultGuestCartBurst
	}
	return httpserver.NewClientLimiter(1.0/60, burst, "new carts")
}

// Handler is the shop's HTTP handler.
func (a *App) Handler() http.Handler { return a.handler }

// Invalidate drops every cached catalog entry in every replica now (for changes made
// behind the services' back, as tests do in SQL).
func (a *App) Invalidate(ctx context.Context) error { return a.Cached.Invalidate(ctx) }

// Server returns the HTTP server of `shop serve` for this app: HTTP_ADDR, METRICS_ADDR
// and SHUTDOWN_DELAY from the config.
func (a *App) Server() *httpserver.Server {
	s := &httpserver.Server{
		Addr:          a.Config.HTTPAddr,
		Handler:       a.Handler(),
		Health:        a.Health,
		ShutdownDelay: a.Config.ShutdownDelay,
		Logger:        a.Logger,
	}
	if a.Config.MetricsAddr != "" {
		s.MetricsAddr = a.Config.MetricsAddr
		s.MetricsHandler = a.MetricsHandler()
	}
	return s
}

// MetricsHandler serves GET /metrics, for the metrics listener only.
func (a *App) MetricsHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", a.Metrics.Handler())
	return mux
}

// Close releases the app's connections.
func (a *App) Close() {
	if a.Revocations != nil {
		a.Revocations.Close()
	}
	if a.Cached != nil {
		a.Cached.Close()
	}
	if a.Redis != nil {
		_ = a.Redis.Close()
	}
	a.DB.Close()
	a.ShopperDB.Close()
	a.SearchDB.Close()
}

// Serve runs `shop serve` until ctx is done, then shuts down gracefully.
func Serve(ctx context.Context, cfg config.Config, logger *slog.Logger, opts ...Option) error {
	if err := cfg.RequireServe(); err != nil {
		return err
	}
	a, err := New(ctx, cfg, logger, opts...)
	if err != nil {
		return err
	}
	defer a.Close()
	return a.Server().Serve(ctx)
}

// keyPrefix namespaces the Redis keys by database (host, port, name): the replicas of
// one shop share their cache entries and invalidations, while two shops pointed at the
// same Redis (as on a developer machine or in the demo) never see each other's. It starts
// with "shop:", as the operator's access string for the shop's ElastiCache user expects
// (controllers.CacheUserAccessString: ~shop:* &shop:*), and has no hash tag, so the keys
// spread over the slots.
func keyPrefix(pool *pgxpool.Pool) string {
	c := pool.Config().ConnConfig
	sum := sha256.Sum256([]byte(fmt.Sprintf("%s:%d/%s", c.Host, c.Port, c.Database)))
	return "shop:" + hex.EncodeToString(sum[:6])
}

var errUsage = errors.New("usage")

// SeedMode says whether migrate loads the demo catalog.
type SeedMode string

// Seed modes of `shop migrate --seed`.
const (
	SeedNone SeedMode = "none"
	SeedDemo SeedMode = "demo"
)

// ParseSeedMode validates a --seed value.
func ParseSeedMode(s string) (SeedMode, error) {
	switch m := SeedMode(s); m {
	case SeedNone, SeedDemo:
		return m, nil
	}
	return "", fmt.Errorf("--seed=%q: %w: want none or demo", s, errUsage)
}
