package httpserver_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/storefront-operator/storefront/shop/platform/httpserver"
)

// logLines decodes the JSON log lines.
func logLines(t *testing.T, logs *bytes.Buffer) []map[string]any {
	t.Helper()
	var lines []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		lines = append(lines, m)
	}
	return lines
}

// TestAClientThatLeftIsNoServerError: a handler that fails with the cancellation of its
// own request (the client closed the connection, so a query gave up) is no internal
// error: nothing is logged as an error, nothing is written, and the access log says 499
// at info. A cancellation that is not the request's own stays a logged 500.
func TestAClientThatLeftIsNoServerError(t *testing.T) {
	for name, tc := range map[string]struct {
		clientLeft bool
		status     int
		level      string
	}{
		"the client left":           {clientLeft: true, status: 499, level: "INFO"},
		"the client is still there": {clientLeft: false, status: 500, level: "ERROR"},
	} {
		t.Run(name, func(t *testing.T) {
			var logs bytes.Buffer
			r := newRouter(t, &logs)
			r.GET("/load", func(c *gin.Context) {
				err := context.Canceled // another context's, while the client waits
				if tc.clientLeft {
					<-c.Request.Context().Done()
					err = c.Request.Context().Err()
				}
				httpserver.Fail(c, fmt.Errorf("loading the categories: %w", err))
			})
			ctx, cancel := context.WithCancel(context.Background())
			if tc.clientLeft {
				cancel()
			}
			defer cancel()
			req := httptest.NewRequest(http.MethodGet, "/load", nil).WithContext(ctx)
			rec := httptest.NewRecorder()
			r.ServeHTTP(rec, req)

			if rec.Code != tc.status {
				t.Errorf("status %d, want %d", rec.Code, tc.status)
			}
			if tc.clientLeft && rec.Body.Len() != 0 {
				t.Errorf("wrote %q to a client that left", rec.Body.String())
			}
			var errors int
			var access map[string]any
			for _, l := range logLines(t, &logs) {
				if l["level"] == "ERROR" {
					errors++
				}
				if l["msg"] == "Request" {
					access = l
				}
			}
			if want := map[bool]int{true: 0, false: 1}[tc.clientLeft]; errors != want {
				t.Errorf("%d error lines, want %d:\n%s", errors, want, logs.String())
			}
			if access == nil || access["status"] != float64(tc.status) || access["level"] != "INFO" {
				t.Errorf("access log %v, want status %d at INFO", access, tc.status)
			}
			if tc.clientLeft && access != nil && access["bytes"] != float64(0) {
				t.Errorf("access log says %v bytes sent to a client that left", access["bytes"])
			}
		})
	}
}

// TestAClosedConnectionIsA499: over a real connection, net/http cancels the request's
// context when its client closes the connection, and the request is logged as 499.
func TestAClosedConnectionIsA499(t *testing.T) {
	var logs bytes.Buffer
	r := newRouter(t, &logs)
	entered := make(chan struct{})
	r.GET("/slow", func(c *gin.Context) {
		close(entered)
		<-c.Request.Context().Done()
		httpserver.Fail(c, c.Request.Context().Err())
	})
	done := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		defer close(done)
		r.ServeHTTP(w, req)
	}))
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/slow", nil)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		<-entered
		cancel() // the client closes the connection
	}()
	if resp, err := srv.Client().Do(req); err == nil {
		_ = resp.Body.Close()
		t.Fatalf("the request was answered %d", resp.StatusCode)
	}
	<-done
	var access int
	for _, l := range logLines(t, &logs) {
		if l["level"] == "ERROR" {
			t.Errorf("logged as an error: %v", l)
		}
		if l["msg"] == "Request" {
			access++
			if l["status"] != float64(499) {
				t.Errorf("access log %v, want status 499", l)
			}
		}
	}
	if access != 1 {
		t.Errorf("%d access log lines, want 1", access)
	}
}
