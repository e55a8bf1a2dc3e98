package problem_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/storefront-operator/storefront/shop/platform/apperr"
	"github.com/storefront-operator/storefront/shop/platform/problem"
)

func TestFrom(t *testing.T) {
	tests := map[string]struct {
		err      error
		status   int
		internal bool
		fields   int
	}{
		"a wrapped not-found is 404":            {fmt.Errorf("product 7: %w", apperr.ErrNotFound), 404, false, 0},
		"a conflict is 409":                     {apperr.ErrConflict, 409, false, 0},
		"out of stock is 409":                   {apperr.ErrOutOfStock, 409, false, 0},
		"unauthorized is 401":                   {apperr.ErrUnauthorized, 401, false, 0},
		"forbidden is 403":                      {apperr.ErrForbidden, 403, false, 0},
		"too large is 413":                      {apperr.ErrTooLarge, 413, false, 0},
		"a validation error is 400 with fields": {apperr.Invalid("per_page", "must be between 1 and 100"), 400, false, 1},
		"an unprocessable validation is 422":    {&apperr.ValidationError{Unprocessable: true, Errors: []apperr.FieldError{{Field: "a", Message: "b"}, {Field: "c", Message: "d"}}}, 422, false, 2},
		"anything else is an internal 500":      {errors.New("pq: connection reset by peer 10.0.0.1"), 500, true, 0},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			p, internal := problem.From(tt.err)
			if p.Status != tt.status || internal != tt.internal || len(p.Errors) != tt.fields {
				t.Errorf("From(%v) = %+v, internal %v", tt.err, p, internal)
			}
			if p.Title != http.StatusText(tt.status) || p.Type == "" {
				t.Errorf("title/type = %q/%q", p.Title, p.Type)
			}
			if internal && p.Detail == tt.err.Error() {
				t.Error("an internal error's text leaked into the detail")
			}
		})
	}
}

func TestWrite(t *testing.T) {
	rec := httptest.NewRecorder()
	rec.Header().Set("ETag", `"abc"`)
	p, _ := problem.From(apperr.Invalid("page", "must be at least 1"))
	problem.Write(rec, p)
	if ct := rec.Header().Get("Content-Type"); ct != problem.ContentType {
		t.Errorf("Content-Type = %q", ct)
	}
	if rec.Header().Get("ETag") != "" {
		t.Error("an error response kept an ETag")
	}
	var got map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"type", "title", "status", "detail", "errors"} {
		if _, ok := got[k]; !ok {
			t.Errorf("problem lacks %q: %s", k, rec.Body)
		}
	}
	if errs := got["errors"].([]any); errs[0].(map[string]any)["field"] != "page" {
		t.Errorf("errors = %v", errs)
	}
}
