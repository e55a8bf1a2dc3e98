package api_test

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/storefront-operator/storefront/test/shoptest"
)

// TestContractCatchesDrift proves that the client every suite here uses (shoptest's,
// through call and shop.Get) checks each exchange against the served OpenAPI document:
// a stand-in server answers as a drifted handler would, and each such answer fails the
// request with the reason, while a declared one passes.
func TestContractCatchesDrift(t *testing.T) {
	shop := shoptest.Start(t, shoptest.Options{})
	type answer struct {
		status      int
		contentType string
		headers     []string
		body        string
	}
	problem := func(status int) answer {
		return answer{status: status, contentType: "application/problem+json",
			body: `{"type":"https://storefront.dev/problems/x","title":"X","status":` + strconv.Itoa(status) + `}`}
	}
	tests := map[string]struct {
		method, path, token string
		body                any
		answer              answer
		// want is a part of the error; empty: the exchange is declared and passes.
		want string
	}{
		"a declared answer passes": {method: "GET", path: "/api/v1/categories",
			answer: answer{200, "application/json; charset=utf-8", []string{"ETag", `"1"`}, `{"items":[]}`}},
		"a declared problem passes": {method: "GET", path: "/api/v1/products/nope", answer: problem(404)},
		"a field the document does not declare": {method: "GET", path: "/api/v1/categories",
			answer: answer{200, "application/json", []string{"ETag", `"1"`}, `{"items":[],"next_page":2}`}, want: `property "next_page" is unsupported`},
		"a field the document requires is missing": {method: "GET", path: "/api/v1/auth/me", token: "t",
			answer: answer{200, "application/json", nil, `{"id":1,"email":"a@example.com","name":"A"}`}, want: `property "role" is missing`},
		"a field of the wrong type": {method: "GET", path: "/api/v1/auth/me", token: "t",
			answer: answer{200, "application/json", nil, `{"id":"1","email":"a@example.com","name":"A","role":"customer"}`}, want: `value must be an integer`},
		"a value outside the enum": {method: "GET", path: "/api/v1/auth/me", token: "t",
			answer: answer{200, "application/json", nil, `{"id":1,"email":"a@example.com","name":"A","role":"owner"}`}, want: `value is not one of the allowed values`},
		"a status the operation does not declare": {method: "GET", path: "/api/v1/categories", answer: problem(404),
			want: "status 404 is not declared"},
		"a content type the document does not declare": {method: "GET", path: "/api/v1/categories",
			answer: answer{200, "text/html", []string{"ETag", `"1"`}, `<p>categories</p>`}, want: `Content-Type has unexpected value: "text/html"`},
		"an error that is not a problem": {method: "GET", path: "/api/v1/products?per_page=0",
			answer: answer{400, "application/json", nil, `{"error":"bad per_page"}`}, want: `Content-Type has unexpected value: "application/json"`},
		"a required header is missing": {method: "GET", path: "/api/v1/auth/me", answer: problem(401),
			want: `response header "WWW-Authenticate" missing`},
		"a request the document refuses succeeds": {method: "GET", path: "/api/v1/products?per_page=1000",
			answer: answer{200, "application/json", []string{"ETag", `"1"`}, `{"items":[],"page":1,"per_page":1000,"total":0}`}, want: "the document refuses the request, yet the shop accepted it"},
		"a body the document refuses is accepted": {method: "PUT", path: "/api/v1/cart/items/1", token: "t", body: map[string]any{"quantity": 1, "gift": true},
			answer: answer{200, "application/json", nil, `{"items":[],"total":{"amount":0,"currency":"EUR"}}`}, want: "the document refuses the request"},
		"an undocumented API path that is not a problem 404": {method: "GET", path: "/api/v1/nothing",
			answer: answer{200, "application/json", nil, `{}`}, want: "no operation of the OpenAPI document has this path and method"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			drifted := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", tt.answer.contentType)
				for i := 0; i+1 < len(tt.answer.headers); i += 2 {
					w.Header().Set(tt.answer.headers[i], tt.answer.headers[i+1])
				}
				w.WriteHeader(tt.answer.status)
				_, _ = w.Write([]byte(tt.answer.body))
			}))
			defer drifted.Close()
			// The same client and checks, pointed at the stand-in.
			stand := *shop
			stand.URL = drifted.URL
			req, err := newRequest(tt.method, stand.URL+tt.path, tt.token, tt.body)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := stand.Client.Do(req)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("a declared exchange was refused: %v", err)
				}
				_ = resp.Body.Close()
				return
			}
			if err == nil {
				_ = resp.Body.Close()
				t.Fatalf("the client let a drifted answer through (status %d)", resp.StatusCode)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not say %q", err, tt.want)
			}
		})
	}
}
