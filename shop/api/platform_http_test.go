package api_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/storefront-operator/storefront/shop/api"
	"github.com/storefront-operator/storefront/shop/api/internal/openapigen"
	"github.com/storefront-operator/storefront/shop/platform/config"
	"github.com/storefront-operator/storefront/test/shoptest"
)

func TestPlatformThroughTheShopRouter(t *testing.T) {
	shop := shoptest.Start(t, shoptest.Options{Demo: true})
	tests := map[string]struct {
		method, path string
		body         []byte
		headers      []string
		status       int
	}{
		"liveness":                               {method: "GET", path: "/healthz", status: 200},
		"readiness":                              {method: "GET", path: "/readyz", status: 200},
		"an unknown API path is 404":             {method: "GET", path: "/api/v1/nothing", status: 404},
		"a write to a read-only resource is 405": {method: "DELETE", path: "/api/v1/categories", status: 405},
		"a body over 1 MiB is 413":               {method: "POST", path: "/api/v1/products", body: make([]byte, 1<<20+1), status: 413},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, shop.URL+tt.path, bytes.NewReader(tt.body))
			req.Header.Set("X-Request-ID", "req-"+strings.ReplaceAll(tt.path, "/", "."))
			resp, body := shop.Do(t, req)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %.300s", resp.StatusCode, tt.status, body)
			}
			if resp.Header.Get("X-Request-ID") != req.Header.Get("X-Request-ID") {
				t.Errorf("X-Request-ID %q, sent %q", resp.Header.Get("X-Request-ID"), req.Header.Get("X-Request-ID"))
			}
			if resp.Header.Get("X-Content-Type-Options") != "nosniff" || resp.Header.Get("Content-Security-Policy") == "" || resp.Header.Get("Referrer-Policy") == "" {
				t.Errorf("security headers missing: %v", resp.Header)
			}
			if tt.status >= 400 {
				expectProblem(t, resp, body, tt.status, "")
			}
		})
	}
}

func TestMetrics(t *testing.T) {
	shop := shoptest.Start(t, shoptest.Options{Demo: true})
	shop.Get(t, "/api/v1/products")
	shop.Get(t, "/api/v1/products")
	shop.Get(t, "/api/v1/products/no-such")
	text := shop.Metrics(t)
	for _, want := range []string{
		`shop_http_requests_total{method="GET",route="/api/v1/products",status="200"} 2`,
		`shop_http_requests_total{method="GET",route="/api/v1/products/:idOrSlug",status="404"} 1`,
		`shop_http_request_duration_seconds_bucket{method="GET",route="/api/v1/products",status="200",le="+Inf"} 2`,
		`shop_cache_requests_total{level="local",result="hit"} 1`,
		`shop_cache_requests_total{level="local",result="miss"}`,
		`shop_db_pool_max_connections{pool="main"}`,
		`shop_db_pool_max_connections{pool="shopper"}`,
		`shop_db_pool_acquires_total{pool="shopper"}`,
		`shop_db_pool_max_connections{pool="search"}`,
		`shop_db_statement_timeouts_total 0`,
		`go_goroutines`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %s", want)
		}
	}

	t.Run("the public port never serves /metrics", func(t *testing.T) {
		// A plain client: /metrics is no operation of the API's document.
		resp, err := http.Get(shop.URL + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != 404 || strings.Contains(string(body), "shop_http_requests_total") {
			t.Errorf("/metrics on the public port = %d: %.200s", resp.StatusCode, body)
		}
		if shop.MetricsURL == "" || strings.HasPrefix(shop.MetricsURL, shop.URL) {
			t.Errorf("metrics at %q, the shop at %q", shop.MetricsURL, shop.URL)
		}
	})
	t.Run("METRICS_ADDR cannot be the public listener", func(t *testing.T) {
		_, err := config.FromEnv(func(k string) string {
			return map[string]string{"HTTP_ADDR": ":8080", "METRICS_ADDR": ":8080"}[k]
		})
		if err == nil || !strings.Contains(err.Error(), "METRICS_ADDR") {
			t.Errorf("err = %v", err)
		}
	})
}

func TestOpenAPI(t *testing.T) {
	shop := shoptest.Start(t, shoptest.Options{})
	resp, body := shop.Get(t, "/api/openapi.json")
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("status %d, type %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var doc struct {
		OpenAPI    string                                `json:"openapi"`
		Paths      map[string]map[string]json.RawMessage `json:"paths"`
		Components map[string]map[string]any             `json:"components"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatalf("not JSON: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Errorf("openapi = %q", doc.OpenAPI)
	}
	param := regexp.MustCompile(`\{[^}]+\}`)
	described := map[string]bool{}
	for path, ops := range doc.Paths {
		for method, raw := range ops {
			if method == "parameters" {
				continue
			}
			var op map[string]any
			if err := json.Unmarshal(raw, &op); err != nil {
				t.Fatalf("%s %s: %v", method, path, err)
			}
			described[strings.ToUpper(method)+" "+param.ReplaceAllString(path, "{}")] = true
			if _, ok := op["responses"]; !ok {
				t.Errorf("%s %s has no responses", method, path)
			}
			if _, ok := op["operationId"]; !ok {
				t.Errorf("%s %s has no operationId", method, path)
			}
		}
	}

	t.Run("every registered route is described", func(t *testing.T) {
		ginParam := regexp.MustCompile(`[:*][^/]+`)
		for _, r := range shop.App.Router.Routes() {
			if strings.Contains(r.Handler, "/shop/web.") {
				continue // the HTML pages are not part of the JSON API
			}
			key := r.Method + " " + ginParam.ReplaceAllString(r.Path, "{}")
			if !described[key] {
				t.Errorf("route %s %s is not in the OpenAPI description", r.Method, r.Path)
			}
		}
	})

	t.Run("every endpoint of the API is described", func(t *testing.T) {
		for _, e := range []string{
			"GET /healthz", "GET /readyz", "GET /api/openapi.json",
			"GET /api/v1/categories", "GET /api/v1/products", "GET /api/v1/products/{}", "GET /api/v1/search",
			"POST /api/v1/auth/register", "POST /api/v1/auth/login", "POST /api/v1/auth/logout", "GET /api/v1/auth/me",
			"GET /api/v1/cart", "PUT /api/v1/cart/items/{}", "DELETE /api/v1/cart/items/{}",
			"POST /api/v1/orders", "GET /api/v1/orders", "GET /api/v1/orders/{}",
			"POST /api/v1/admin/products", "PUT /api/v1/admin/products/{}", "DELETE /api/v1/admin/products/{}",
			"PATCH /api/v1/admin/products/{}/stock",
			"POST /api/v1/admin/categories", "PUT /api/v1/admin/categories/{}", "DELETE /api/v1/admin/categories/{}",
			"GET /api/v1/admin/orders", "PATCH /api/v1/admin/orders/{}",
		} {
			if !described[e] {
				t.Errorf("%s is not described", e)
			}
		}
	})

	t.Run("the served document is the generated one, valid under kin-openapi", func(t *testing.T) {
		if !bytes.Equal(body, api.OpenAPI()) {
			t.Error("the shop serves another document than shop/api/openapi.json")
		}
		if err := openapigen.Validate(body); err != nil {
			t.Error(err)
		}
	})
}
