package httpserver_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/storefront-operator/storefront/shop/platform/apperr"
	"github.com/storefront-operator/storefront/shop/platform/httpserver"
	"github.com/storefront-operator/storefront/shop/platform/metrics"
)

func newRouter(t *testing.T, logs io.Writer) *gin.Engine {
	t.Helper()
	if logs == nil {
		logs = io.Discard
	}
	r := httpserver.NewRouter(httpserver.RouterOptions{
		Logger:  slogJSON(logs),
		Metrics: metrics.New(),
	})
	r.GET("/panic", func(c *gin.Context) { panic("handler bug") })
	r.GET("/fail", func(c *gin.Context) { httpserver.Fail(c, errors.New("db password=hunter2 leaked")) })
	r.GET("/missing", func(c *gin.Context) { httpserver.Fail(c, fmt.Errorf("thing 7: %w", apperr.ErrNotFound)) })
	r.POST("/echo", func(c *gin.Context) {
		b, err := io.ReadAll(c.Request.Body)
		if err != nil {
			httpserver.Fail(c, err)
			return
		}
		c.Data(200, "text/plain", b)
	})
	return r
}

func do(r http.Handler, method, path string, body io.Reader, headers ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, body)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	rec := httptest.NewRecorder()
	r.ServeHTTP(rec, req)
	return rec
}

func TestMiddleware(t *testing.T) {
	var logs bytes.Buffer
	r := newRouter(t, &logs)
	tests := map[string]struct {
		method, path string
		body         io.Reader
		headers      []string
		status       int
		check        func(t *testing.T, rec *httptest.ResponseRecorder)
	}{
		"a panic becomes a problem 500 and is logged": {method: "GET", path: "/panic", status: 500, check: func(t *testing.T, rec *httptest.ResponseRecorder) {
			if !strings.Contains(logs.String(), "handler bug") {
				t.Error("the panic was not logged")
			}
		}},
		"an internal error is a plain 500 without its text": {method: "GET", path: "/fail", status: 500, check: func(t *testing.T, rec *httptest.ResponseRecorder) {
			if strings.Contains(rec.Body.String(), "hunter2") {
				t.Error("the internal error leaked into the response")
			}
			if !strings.Contains(logs.String(), `"msg":"Request failed"`) {
				t.Error("the internal error was not logged")
			}
		}},
		"a sentinel error maps to its status": {method: "GET", path: "/missing", status: 404},
		"an unknown route is a problem 404":   {method: "GET", path: "/nope", status: 404},
		"a wrong method is a problem 405":     {method: "DELETE", path: "/missing", status: 405},
		"a declared body over 1 MiB is 413 before the handler": {method: "POST", path: "/echo",
			body: bytes.NewReader(make([]byte, httpserver.DefaultBodyLimit+1)), status: 413},
		"a streamed body over 1 MiB is 413 while read": {method: "POST", path: "/echo",
			body: io.MultiReader(strings.NewReader("x"), bytes.NewReader(make([]byte, httpserver.DefaultBodyLimit))), status: 413},
		"a body within the limit passes": {method: "POST", path: "/echo", body: strings.NewReader("hello"), status: 200},
		"a valid request ID is kept": {method: "GET", path: "/missing", headers: []string{"X-Request-ID", "abc-123"}, status: 404, check: func(t *testing.T, rec *httptest.ResponseRecorder) {
			if got := rec.Header().Get("X-Request-ID"); got != "abc-123" {
				t.Errorf("X-Request-ID = %q", got)
			}
			if !strings.Contains(logs.String(), `"request_id":"abc-123"`) {
				t.Error("the request ID is not in the log")
			}
		}},
		"a hostile request ID is replaced": {method: "GET", path: "/missing", headers: []string{"X-Request-ID", "a\"b<script>"}, status: 404, check: func(t *testing.T, rec *httptest.ResponseRecorder) {
			if got := rec.Header().Get("X-Request-ID"); len(got) != 32 || strings.ContainsAny(got, "\"<") {
				t.Errorf("X-Request-ID = %q", got)
			}
		}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			if tt.body == nil {
				tt.body = http.NoBody
			}
			req := httptest.NewRequest(tt.method, tt.path, tt.body)
			if strings.Contains(name, "streamed") {
				req.ContentLength = -1
			}
			for i := 0; i+1 < len(tt.headers); i += 2 {
				req.Header.Set(tt.headers[i], tt.headers[i+1])
			}
			rec := httptest.NewRecorder()
			r.ServeHTTP(rec, req)
			if rec.Code != tt.status {
				t.Fatalf("status = %d, want %d: %s", rec.Code, tt.status, rec.Body)
			}
			if rec.Header().Get("X-Request-ID") == "" {
				t.Error("no X-Request-ID")
			}
			for h, want := range map[string]string{
				"X-Content-Type-Options":  "nosniff",
				"Referrer-Policy":         "strict-origin-when-cross-origin",
				"Content-Security-Policy": httpserver.APIContentSecurityPolicy,
			} {
				if got := rec.Header().Get(h); got != want {
					t.Errorf("%s = %q, want %q", h, got, want)
				}
			}
			if tt.status >= 400 {
				if ct := rec.Header().Get("Content-Type"); ct != "application/problem+json" {
					t.Errorf("Content-Type = %q", ct)
				}
				var p map[string]any
				if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || p["status"] != float64(tt.status) {
					t.Errorf("problem = %s", rec.Body)
				}
			}
			if tt.check != nil {
				tt.check(t, rec)
			}
		})
	}
}

func TestHealth(t *testing.T) {
	var dbErr error
	var mu sync.Mutex
	h := &httpserver.Health{Check: func(context.Context) error { mu.Lock(); defer mu.Unlock(); return dbErr }}
	r := httpserver.NewRouter(httpserver.RouterOptions{Logger: slogJSON(io.Discard)})
	h.Register(r)
	if rec := do(r, "GET", "/readyz", nil); rec.Code != 200 {
		t.Errorf("ready: %d", rec.Code)
	}
	mu.Lock()
	dbErr = errors.New("connection refused")
	mu.Unlock()
	if rec := do(r, "GET", "/readyz", nil); rec.Code != 503 {
		t.Errorf("database down: %d", rec.Code)
	}
	if rec := do(r, "GET", "/healthz", nil); rec.Code != 200 {
		t.Errorf("liveness with the database down: %d", rec.Code)
	}
	mu.Lock()
	dbErr = nil
	mu.Unlock()
	h.StartShutdown()
	if rec := do(r, "GET", "/readyz", nil); rec.Code != 503 {
		t.Errorf("shutting down: %d", rec.Code)
	}
}

// TestGracefulShutdown proves the §3.1 sequence: after the signal /readyz is 503 while
// the server still serves for the shutdown delay, then it drains: requests in flight when
// draining starts complete with 200, and Serve returns nil.
func TestGracefulShutdown(t *testing.T) {
	release := make(chan struct{})
	var started sync.WaitGroup
	health := &httpserver.Health{}
	r := httpserver.NewRouter(httpserver.RouterOptions{Logger: slogJSON(io.Discard)})
	health.Register(r)
	r.GET("/slow", func(c *gin.Context) {
		started.Done()
		<-release
		c.String(200, "done")
	})
	r.GET("/fast", func(c *gin.Context) { c.String(200, "ok") })

	srv := &httpserver.Server{Addr: "127.0.0.1:0", Handler: r, Health: health, ShutdownDelay: 2 * time.Second, Logger: slogJSON(io.Discard)}
	if err := srv.Listen(); err != nil {
		t.Fatal(err)
	}
	base := "http://" + srv.ListenAddr()
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx) }()

	const inflight = 8
	started.Add(inflight)
	results := make(chan error, inflight)
	for i := 0; i < inflight; i++ {
		go func() {
			resp, err := http.Get(base + "/slow")
			if err != nil {
				results <- err
				return
			}
			defer func() { _ = resp.Body.Close() }()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != 200 || string(b) != "done" {
				results <- fmt.Errorf("status %d body %q", resp.StatusCode, b)
				return
			}
			results <- nil
		}()
	}
	started.Wait()
	cancel() // SIGTERM

	// During the delay: not ready, but still serving new requests.
	deadline := time.Now().Add(5 * time.Second)
	for {
		resp, err := http.Get(base + "/readyz")
		if err != nil {
			t.Fatalf("/readyz during the delay: %v", err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode == 503 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("/readyz never turned 503")
		}
	}
	if resp, err := http.Get(base + "/fast"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("a new request during the delay failed: %v", err)
	}
	select {
	case err := <-served:
		t.Fatalf("Serve returned %v while requests were in flight", err)
	default:
	}
	close(release)
	for i := 0; i < inflight; i++ {
		if err := <-results; err != nil {
			t.Errorf("in-flight request failed: %v", err)
		}
	}
	if err := <-served; err != nil {
		t.Errorf("Serve = %v", err)
	}
	if _, err := http.Get(base + "/fast"); err == nil {
		t.Error("the server still accepts connections after shutdown")
	}
}

func TestMetricsListener(t *testing.T) {
	m := metrics.New()
	r := httpserver.NewRouter(httpserver.RouterOptions{Logger: slogJSON(io.Discard), Metrics: m})
	r.GET("/x", func(c *gin.Context) { c.String(200, "x") })
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	srv := &httpserver.Server{Addr: "127.0.0.1:0", Handler: r, MetricsAddr: "127.0.0.1:0", MetricsHandler: mux, Logger: slogJSON(io.Discard)}
	if err := srv.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx) }()
	defer func() { cancel(); <-served }()

	if resp, err := http.Get("http://" + srv.ListenAddr() + "/x"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET /x: %v", err)
	}
	resp, err := http.Get("http://" + srv.MetricsListenAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if !strings.Contains(string(b), `shop_http_requests_total{method="GET",route="/x",status="200"} 1`) {
		t.Errorf("metrics lack the request:\n%s", b)
	}
	if resp, _ := http.Get("http://" + srv.ListenAddr() + "/metrics"); resp.StatusCode != 404 {
		t.Errorf("/metrics on the main listener = %d, want 404", resp.StatusCode)
	}
}
