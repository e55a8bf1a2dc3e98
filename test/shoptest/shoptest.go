// Package shoptest builds shops for tests: a migrated throwaway database (optionally with
// the demo catalog) and an app.App built exactly as `shop serve` builds it, served by a
// real HTTP server on a loopback port.
package shoptest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace"
	"golang.org/x/crypto/bcrypt"

	"github.com/storefront-operator/storefront/shop/app"
	"github.com/storefront-operator/storefront/shop/platform/config"
	"github.com/storefront-operator/storefront/shop/platform/logging"
	"github.com/storefront-operator/storefront/test/testenv"
)

// Options select what a test shop has.
type Options struct {
	// Demo loads the demo catalog.
	Demo bool
	// DatabaseURL reuses a migrated database (another shop's) instead of a new one.
	DatabaseURL string
	// RedisURL is the cache's Redis (testenv.RedisURL, a server of testenv's: its
	// certificate is trusted); empty means in-process cache only.
	RedisURL string
	// Log receives the shop's JSON logs (default: discarded).
	Log io.Writer
	// Config adjusts the configuration before the app is built.
	Config func(*config.Config)
	// TracerProvider traces the shop (app.WithTracerProvider); nil: no tracing, as
	// without OTEL_EXPORTER_OTLP_ENDPOINT.
	TracerProvider trace.TracerProvider
}

// Shop is a running test shop.
type Shop struct {
	App *app.App
	URL string // http://127.0.0.1:port
	// MetricsURL is /metrics on the metrics listener (METRICS_ADDR), another port.
	MetricsURL  string
	DatabaseURL string
	// Client checks every exchange against Contract: a request or answer that breaks
	// the OpenAPI document fails the request (and so the test) with the reason.
	Client *http.Client
	// Contract is built from the document the shop serves at /api/openapi.json.
	Contract *Contract
}

// AppRole and AppPassword are the application role test shops serve as, and its password.
const (
	AppRole     = "app_a"
	AppPassword = "shoptest-app-role-password"
)

// MigratedDatabase returns the URL of a new database with the schema applied (and the
// demo catalog when demo is set), as production has it: the database is owned by a
// master role that is no superuser (testenv.MasterRole), which migrates it and keeps the
// application roles, and the URL returned logs in as the application role AppRole.
func MigratedDatabase(t testing.TB, demo bool) string {
	t.Helper()
	masterURL := testenv.PostgresMasterURL(t)
	mode := app.SeedNone
	if demo {
		mode = app.SeedDemo
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cfg := Config(masterURL)
	cfg.AppRole, cfg.AppPassword = AppRole, AppPassword
	if _, err := app.Migrate(ctx, cfg, mode, Logger(nil)); err != nil {
		t.Fatalf("migrating the test database: %v", err)
	}
	return testenv.WithUser(masterURL, AppRole, AppPassword)
}

// Config is the configuration of a test shop on dbURL.
func Config(dbURL string) config.Config {
	cfg, err := config.FromEnv(func(k string) string {
		switch k {
		case "DATABASE_URL":
			return dbURL
		case "JWT_SECRET":
			return "test-secret-test-secret-test-secret"
		case "HTTP_ADDR":
			return "127.0.0.1:0"
		case "METRICS_ADDR":
			return "127.0.0.1:0"
		case "SHUTDOWN_DELAY":
			return "0s"
		}
		return ""
	})
	if err != nil {
		panic(err) // constant input
	}
	// Real bcrypt at its lowest cost: under the race detector one hash at the
	// production cost (12) takes seconds. Tests of the production cost set it back to 0.
	cfg.PasswordCost = bcrypt.MinCost
	// Test suites register many accounts from the one loopback client; the tests of the
	// registration throttle set these back to zero (the defaults).
	cfg.Limits.RegisterPerClient, cfg.Limits.RegisterGlobal = 100000, 100000
	cfg.Limits.GuestCartBurst = 100000
	// Test shops take mock payments, as the operator's default (spec.payments.provider:
	// Mock) has them; the tests of a shop without a provider set it back to "".
	cfg.PaymentProvider = config.PaymentProviderMock
	// Likewise for searches (the fuzz target searches thousands of times a second).
	cfg.SearchRate = 1e6
	return cfg
}

// Logger returns the shop's JSON logger (logging.New) at debug level writing to w, or a
// discarding one.
func Logger(w io.Writer) *slog.Logger {
	if w == nil {
		w = io.Discard
	}
	return logging.New(w, slog.LevelDebug)
}

// Start builds a shop with app.New and serves it on a loopback port until the test ends.
func Start(t testing.TB, o Options) *Shop {
	t.Helper()
	dbURL := o.DatabaseURL
	if dbURL == "" {
		dbURL = MigratedDatabase(t, o.Demo)
	}
	cfg := Config(dbURL)
	cfg.RedisURL = o.RedisURL
	if o.RedisURL != "" {
		ca, err := testenv.TestCA()
		if err != nil {
			t.Fatal(err)
		}
		cfg.RedisRootCAs = ca.Pool()
	}
	if o.Config != nil {
		o.Config(&cfg)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var opts []app.Option
	if o.TracerProvider != nil {
		opts = append(opts, app.WithTracerProvider(o.TracerProvider))
	}
	a, err := app.New(ctx, cfg, Logger(o.Log), opts...)
	if err != nil {
		cancel()
		t.Fatalf("building the shop: %v", err)
	}
	srv := a.Server()
	if err := srv.Listen(); err != nil {
		cancel()
		a.Close()
		t.Fatalf("listening: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("shop stopped with: %v", err)
		}
		a.Close()
	})
	url := "http://" + srv.ListenAddr()
	contract, err := servedContract(url)
	if err != nil {
		t.Fatal(err)
	}
	metricsURL := ""
	if addr := srv.MetricsListenAddr(); addr != "" {
		metricsURL = "http://" + addr + "/metrics"
	}
	return &Shop{App: a, URL: url, MetricsURL: metricsURL, DatabaseURL: dbURL, Contract: contract,
		Client: &http.Client{Timeout: 30 * time.Second, Transport: contract.Transport(nil)}}
}

// servedContract builds the Contract from the document the shop at url serves.
func servedContract(url string) (*Contract, error) {
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Get(url + "/api/openapi.json")
	if err != nil {
		return nil, fmt.Errorf("fetching the OpenAPI document: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	doc, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetching the OpenAPI document: status %d, %v", resp.StatusCode, err)
	}
	return NewContract(doc)
}

// Metrics returns the exposition of the shop's /metrics, from the metrics listener.
func (s *Shop) Metrics(t testing.TB) string {
	t.Helper()
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Get(s.MetricsURL)
	if err != nil {
		t.Fatalf("GET %s: %v", s.MetricsURL, err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: status %d, %v", s.MetricsURL, resp.StatusCode, err)
	}
	return string(body)
}

// Get sends a GET with optional headers (name, value pairs) and returns the response
// with its body read.
func (s *Shop) Get(t testing.TB, path string, headers ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, s.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return s.Do(t, req)
}

// Do sends req and returns the response with its body read.
func (s *Shop) Do(t testing.TB, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	resp, err := s.Client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading %s: %v", req.URL.Path, err)
	}
	return resp, body
}
