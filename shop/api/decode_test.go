package api

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/storefront-operator/storefront/shop/platform/apperr"
)

type orderLine struct {
	ProductID int64 `json:"product_id"`
	Quantity  int   `json:"quantity"`
}

type orderBody struct {
	Items []orderLine `json:"items"`
	Note  string      `json:"note"`
}

func TestDecodeJSON(t *testing.T) {
	tests := map[string]struct {
		body        string
		contentType string
		limit       int64
		wantField   string
		tooLarge    bool
	}{
		"a valid body decodes":                        {body: `{"items":[{"product_id":1,"quantity":2}],"note":"hi"}`},
		"a missing content type is accepted":          {body: `{"note":"x"}`, contentType: "-"},
		"malformed JSON names the body":               {body: `{"note":`, wantField: "body"},
		"broken syntax names the body":                {body: `{"note" "x"}`, wantField: "body"},
		"an unknown field is named":                   {body: `{"nope":1}`, wantField: "nope"},
		"an unknown empty field names the body":       {body: `{"":1}`, wantField: "body"},
		"an unknown field with spaces names the body": {body: `{" a b ":1}`, wantField: "body"},
		"a wrong type names the nested field":         {body: `{"items":[{"product_id":"seven","quantity":1}]}`, wantField: "items.product_id"},
		"a string where a number goes is named":       {body: `{"items":[{"product_id":1,"quantity":"2"}]}`, wantField: "items.quantity"},
		"an empty body is required":                   {body: ``, wantField: "body"},
		"two JSON values are refused":                 {body: `{"note":"a"}{"note":"b"}`, wantField: "body"},
		"a form post is refused":                      {body: `note=a`, contentType: "application/x-www-form-urlencoded", wantField: "body"},
		"a body over the limit is too large":          {body: `{"note":"` + strings.Repeat("x", 200) + `"}`, limit: 64, tooLarge: true},
		"problem+json media types are accepted":       {body: `{"note":"x"}`, contentType: "application/merge-patch+json"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(tt.body))
			switch tt.contentType {
			case "":
				req.Header.Set("Content-Type", "application/json; charset=utf-8")
			case "-":
			default:
				req.Header.Set("Content-Type", tt.contentType)
			}
			if tt.limit > 0 {
				req.Body = http.MaxBytesReader(httptest.NewRecorder(), req.Body, tt.limit)
			}
			var dst orderBody
			err := DecodeJSON(req, &dst)
			switch {
			case tt.tooLarge:
				if !errors.Is(err, apperr.ErrTooLarge) {
					t.Fatalf("err = %v, want ErrTooLarge", err)
				}
			case tt.wantField == "":
				if err != nil {
					t.Fatalf("err = %v", err)
				}
			default:
				var ve *apperr.ValidationError
				if !errors.As(err, &ve) || ve.Unprocessable {
					t.Fatalf("err = %v, want a 400 validation error", err)
				}
				if ve.Errors[0].Field != tt.wantField {
					t.Errorf("field = %q, want %q (%v)", ve.Errors[0].Field, tt.wantField, err)
				}
			}
		})
	}
}
