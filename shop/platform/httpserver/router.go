// Package httpserver is the shop's HTTP platform: the Gin engine with its middleware
// (request IDs, JSON access logs, metrics, panic recovery, security headers, body limit,
// the one error-to-problem mapping), health endpoints, and a server with the graceful
// shutdown of docs/architecture.md#the-shops-process-contract.
package httpserver

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/storefront-operator/storefront/shop/platform/apperr"
	"github.com/storefront-operator/storefront/shop/platform/logging"
	"github.com/storefront-operator/storefront/shop/platform/metrics"
	"github.com/storefront-operator/storefront/shop/platform/problem"
)

// RequestIDHeader carries the request ID in and out.
const RequestIDHeader = "X-Request-ID"

// DefaultBodyLimit is the largest request body accepted (1 MiB); larger ones get 413.
const DefaultBodyLimit = 1 << 20

// APIContentSecurityPolicy is the CSP of JSON responses: they load nothing and may not be
// framed. The pages set their own policy on their routes.
const APIContentSecurityPolicy = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

// RouterOptions configure NewRouter.
type RouterOptions struct {
	Logger  *slog.Logger
	Metrics *metrics.Metrics
	// BodyLimit defaults to DefaultBodyLimit.
	BodyLimit int64
	// RouteBodyLimits replace BodyLimit for the routes they name (gin's full path, such
	// as /api/v1/admin/products/:id/images): the image uploads.
	RouteBodyLimits map[string]int64
	// TrustedProxies are the CIDRs or addresses of the load balancers whose
	// X-Forwarded-For is believed (config TRUSTED_PROXIES); none by default.
	TrustedProxies []string
}

func init() {
	// Release mode: no debug route printing, no colour codes (set once for the process).
	gin.SetMode(gin.ReleaseMode)
}

// NewRouter returns a Gin engine with the shop's middleware installed. Handlers report
// errors with Fail; the error middleware writes them as problem details.
func NewRouter(opts RouterOptions) *gin.Engine {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.BodyLimit <= 0 {
		opts.BodyLimit = DefaultBodyLimit
	}
	r := gin.New()
	r.HandleMethodNotAllowed = true
	// The client address is logged and decides login throttling (per client IP), so
	// X-Forwarded-For is believed only from the configured load balancers: from anyone
	// else it could be forged to dodge the throttle. The list is validated by config.
	_ = r.SetTrustedProxies(opts.TrustedProxies)
	r.ContextWithFallback = true
	r.Use(observe(opts.Logger, opts.Metrics), recovery(), securityHeaders, writeErrors, bodyLimit(opts.BodyLimit, opts.RouteBodyLimits))
	// The one place unknown paths and methods are answered: through writeErrors, as a
	// problem, or as the pages' HTML when RenderErrorsWith set a renderer.
	r.NoRoute(func(c *gin.Context) { Fail(c, apperr.ErrNotFound) })
	r.NoMethod(func(c *gin.Context) { Fail(c, apperr.ErrMethodNotAllowed) })
	return r
}

// ErrorRenderer writes the answer for a failed request in another form than problem
// details (the pages' HTML error page); status is the one package problem assigns.
type ErrorRenderer func(c *gin.Context, status int, err error)

// rendererKey holds the request's ErrorRenderer in the Gin context.
const rendererKey = "httpserver.errorRenderer"

// RenderErrorsWith makes writeErrors and the panic recovery answer this request's
// failures with render instead of a problem: the status, Retry-After, the log line and
// the mapping stay the one place's.
func RenderErrorsWith(c *gin.Context, render ErrorRenderer) { c.Set(rendererKey, render) }

func renderer(c *gin.Context) ErrorRenderer {
	if v, ok := c.Get(rendererKey); ok {
		return v.(ErrorRenderer)
	}
	return nil
}

// Fail records err for the error middleware and stops the handler chain. Handlers return
// right after calling it.
func Fail(c *gin.Context, err error) {
	_ = c.Error(err)
	c.Abort()
}

// observe assigns the request ID, puts a logger carrying it into the request context, and
// after the request records the metrics and one access log line.
func observe(logger *slog.Logger, m *metrics.Metrics) gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		id := c.GetHeader(RequestIDHeader)
		if !validRequestID(id) {
			id = newRequestID()
		}
		c.Header(RequestIDHeader, id)
		reqLogger := logger.With("request_id", id)
		c.Request = c.Request.WithContext(logging.WithLogger(c.Request.Context(), reqLogger))

		c.Next()

		route := c.FullPath()
		if route == "" {
			route = "unmatched"
		}
		if span := trace.SpanFromContext(c.Request.Context()); span.IsRecording() && route != "unmatched" {
			// The server span (app.WithTracerProvider) is named by the route, as the
			// HTTP semantic conventions say, once the router has matched it.
			span.SetName(c.Request.Method + " " + route)
			span.SetAttributes(semconv.HTTPRoute(route))
		}
		status := c.Writer.Status()
		d := time.Since(start)
		if m != nil {
			m.ObserveRequest(route, c.Request.Method, status, d)
		}
		level := slog.LevelInfo
		switch route {
		case "/healthz", "/readyz", "/metrics":
			level = slog.LevelDebug // probes and scrapes would drown the log
		}
		if reqLogger.Enabled(c.Request.Context(), level) {
			reqLogger.LogAttrs(c.Request.Context(), level, "Request",
				slog.String("method", c.Request.Method),
				slog.String("path", c.Request.URL.Path),
				slog.String("route", route),
				slog.Int("status", status),
				slog.Int("bytes", c.Writer.Size()),
				slog.Float64("duration_ms", float64(d.Microseconds())/1000),
				slog.String("remote", c.ClientIP()))
		}
	}
}

func validRequestID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		ch := id[i]
		if !(ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' || ch == '-' || ch == '_' || ch == '.' || ch == ':') {
			return false
		}
	}
	return true
}

func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// recovery turns a panic into a logged internal error and a problem 500.
func recovery() gin.HandlerFunc {
	return func(c *gin.Context) {
		defer RecoverPanic(c, "Handler panicked", func(c *gin.Context) {
			p, _ := problem.From(errors.New("panic"))
			if render := renderer(c); render != nil {
				render(c, p.Status, nil)
				return
			}
			problem.Write(c.Writer, p)
		})
		c.Next()
	}
}

// RecoverPanic, deferred in a middleware, logs a panic of the handlers after it with
// its stack, answers with respond unless they wrote already, and aborts; the JSON API
// answers a problem, the pages an HTML error page. http.ErrAbortHandler is re-raised,
// as net/http expects.
func RecoverPanic(c *gin.Context, msg string, respond func(*gin.Context)) {
	rec := recover()
	if rec == nil {
		return
	}
	if rec == http.ErrAbortHandler { //nolint:errorlint // a sentinel value, compared as net/http does
		panic(rec)
	}
	logging.FromContext(c.Request.Context()).ErrorContext(c.Request.Context(), msg,
		"panic", rec, "stack", string(debug.Stack()))
	if !c.Writer.Written() {
		respond(c)
	}
	c.Abort()
}

func securityHeaders(c *gin.Context) {
	h := c.Writer.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "strict-origin-when-cross-origin")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Security-Policy", APIContentSecurityPolicy)
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	c.Next()
}

// bodyLimit refuses declared oversized bodies at once and caps the others while they are
// read (the JSON decoder then reports apperr.ErrTooLarge).
func bodyLimit(def int64, routes map[string]int64) gin.HandlerFunc {
	return func(c *gin.Context) {
		limit := def
		if l, ok := routes[c.FullPath()]; ok {
			limit = l
		}
		if c.Request.ContentLength > limit {
			// Close the connection: the unread body would otherwise be drained.
			c.Header("Connection", "close")
			Fail(c, apperr.ErrTooLarge)
			return
		}
		if c.Request.Body != nil && c.Request.Body != http.NoBody {
			c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, limit)
		}
		c.Next()
	}
}

// writeErrors is the one place where handler errors become HTTP responses: problem
// details, or what the request's ErrorRenderer makes of them; nothing for a client that
// went away.
func writeErrors(c *gin.Context) {
	c.Next()
	if len(c.Errors) == 0 || c.Writer.Written() {
		return
	}
	err := c.Errors.Last().Err
	if errors.Is(err, context.Canceled) && errors.Is(c.Request.Context().Err(), context.Canceled) {
		// The client closed the connection and the request's work gave up: no fault of
		// the shop, and nobody to answer. The access log records 499 at info; a
		// cancellation that is not the request's own stays an internal error below.
		// Gin sends the status line after the handlers anyway (to a closed connection,
		// harmlessly); sending it now makes the access log's bytes 0, not -1.
		c.Status(problem.StatusClientClosedRequest)
		c.Writer.WriteHeaderNow()
		return
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		err = apperr.ErrTooLarge
	}
	p, internal := problem.From(err)
	render := renderer(c)
	var throttled *apperr.ThrottledError
	switch {
	case errors.As(err, &throttled):
		c.Header("Retry-After", strconv.Itoa(throttled.RetryAfterSeconds()))
	case errors.Is(err, apperr.ErrTimedOut):
		c.Header("Retry-After", "1")
	case p.Status == http.StatusUnauthorized && render == nil:
		// RFC 6750 §3: a 401 names the scheme the client should use.
		c.Header("WWW-Authenticate", `Bearer realm="shop"`)
	}
	if internal {
		logging.FromContext(c.Request.Context()).ErrorContext(c.Request.Context(), "Request failed",
			"method", c.Request.Method, "route", c.FullPath(), "error", err)
	}
	if render != nil {
		render(c, p.Status, err)
		return
	}
	problem.Write(c.Writer, p)
}
