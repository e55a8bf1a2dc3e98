package httpserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"
)

// Timeouts of the shop's HTTP servers: generous enough for any page or API call, tight
// enough that slow or idle clients cannot hold connections forever.
const (
	ReadHeaderTimeout = 5 * time.Second
	ReadTimeout       = 15 * time.Second
	WriteTimeout      = 30 * time.Second
	IdleTimeout       = 120 * time.Second
	// DrainTimeout bounds how long shutdown waits for in-flight requests.
	DrainTimeout = 30 * time.Second
)

// NewHTTPServer returns an http.Server with the shop's timeouts around h. The benchmark's
// bare-Gin baseline uses it too, so both run with the same server settings.
func NewHTTPServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: ReadHeaderTimeout,
		ReadTimeout:       ReadTimeout,
		WriteTimeout:      WriteTimeout,
		IdleTimeout:       IdleTimeout,
		MaxHeaderBytes:    1 << 20,
	}
}

// Health answers /healthz and /readyz. Readiness is the database check and "not shutting
// down"; the cache is deliberately not part of it (the shop serves without Redis).
type Health struct {
	// Check reports whether the database answers.
	Check        func(context.Context) error
	shuttingDown atomic.Bool
}

// StartShutdown makes /readyz answer 503 from now on.
func (h *Health) StartShutdown() { h.shuttingDown.Store(true) }

// ShuttingDown reports whether StartShutdown was called.
func (h *Health) ShuttingDown() bool { return h.shuttingDown.Load() }

// Register adds GET /healthz and GET /readyz to r.
func (h *Health) Register(r gin.IRoutes) {
	r.GET("/healthz", func(c *gin.Context) {
		c.JSON(http.StatusOK, gin.H{"status": "ok"})
	})
	r.GET("/readyz", func(c *gin.Context) {
		c.Header("Cache-Control", "no-store")
		if h.ShuttingDown() {
			c.JSON(http.StatusServiceUnavailable, gin.H{"status": "shutting down"})
			return
		}
		if h.Check != nil {
			ctx, cancel := context.WithTimeout(c.Request.Context(), 2*time.Second)
			defer cancel()
			if err := h.Check(ctx); err != nil {
				c.JSON(http.StatusServiceUnavailable, gin.H{"status": "database unavailable"})
				return
			}
		}
		c.JSON(http.StatusOK, gin.H{"status": "ready"})
	})
}

// Server runs the shop's listener (and optionally a separate metrics listener) and shuts
// down as the process contract (docs/architecture.md#the-shops-process-contract) says: readiness off, wait ShutdownDelay, drain.
type Server struct {
	Addr    string
	Handler http.Handler
	// MetricsAddr and MetricsHandler, when both set, serve /metrics on their own listener.
	MetricsAddr    string
	MetricsHandler http.Handler
	Health         *Health
	ShutdownDelay  time.Duration
	Logger         *slog.Logger

	ln, metricsLn net.Listener
}

// Listen opens the listeners, so that Addr is known before Serve (tests listen on :0).
func (s *Server) Listen() error {
	ln, err := net.Listen("tcp", s.Addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", s.Addr, err)
	}
	s.ln = ln
	if s.MetricsAddr != "" && s.MetricsHandler != nil {
		mln, err := net.Listen("tcp", s.MetricsAddr)
		if err != nil {
			_ = ln.Close()
			return fmt.Errorf("listening on %s for metrics: %w", s.MetricsAddr, err)
		}
		s.metricsLn = mln
	}
	return nil
}

// ListenAddr is the address the shop listens on, once Listen succeeded.
func (s *Server) ListenAddr() string { return s.ln.Addr().String() }

// MetricsListenAddr is the metrics listener's address, or "" without one.
func (s *Server) MetricsListenAddr() string {
	if s.metricsLn == nil {
		return ""
	}
	return s.metricsLn.Addr().String()
}

// Serve serves until ctx is done, then shuts down gracefully: /readyz turns 503, the
// server keeps serving for ShutdownDelay while load balancers take it out of rotation,
// then stops accepting and waits for in-flight requests (up to DrainTimeout).
func (s *Server) Serve(ctx context.Context) error {
	if s.ln == nil {
		if err := s.Listen(); err != nil {
			return err
		}
	}
	logger := s.Logger
	if logger == nil {
		logger = slog.Default()
	}
	srv := NewHTTPServer(s.Handler)
	errs := make(chan error, 2)
	go func() { errs <- srv.Serve(s.ln) }()
	var msrv *http.Server
	if s.metricsLn != nil {
		msrv = NewHTTPServer(s.MetricsHandler)
		go func() { errs <- msrv.Serve(s.metricsLn) }()
	}
	logger.Info("Serving", "addr", s.ListenAddr(), "metricsAddr", s.MetricsListenAddr())

	select {
	case err := <-errs:
		return fmt.Errorf("serving: %w", err)
	case <-ctx.Done():
	}

	if s.Health != nil {
		s.Health.StartShutdown()
	}
	logger.Info("Shutting down: readiness is off, still serving during the shutdown delay", "delay", s.ShutdownDelay.String())
	if s.ShutdownDelay > 0 {
		t := time.NewTimer(s.ShutdownDelay)
		select {
		case <-t.C:
		case err := <-errs:
			t.Stop()
			return fmt.Errorf("serving: %w", err)
		}
	}
	logger.Info("Draining in-flight requests")
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), DrainTimeout)
	defer cancel()
	err := srv.Shutdown(dctx)
	if msrv != nil {
		err = errors.Join(err, msrv.Shutdown(dctx))
	}
	if err != nil {
		return fmt.Errorf("draining: %w", err)
	}
	logger.Info("Stopped")
	return nil
}
