package api_test

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"regexp"
	"testing"
	"time"

	"github.com/storefront-operator/storefront/shop/api"
	"github.com/storefront-operator/storefront/shop/cart"
	"github.com/storefront-operator/storefront/shop/orders"
	"github.com/storefront-operator/storefront/shop/platform/apperr"
	"github.com/storefront-operator/storefront/shop/platform/problem"
)

// knownField matches the field names an order request's errors may carry.
var knownField = regexp.MustCompile(`^(body|Idempotency-Key|items(\[\d+\]\.(product_id|quantity))?|items\.(product_id|quantity)|shipping_address(\.(name|line1|city|postal_code|country))?|payment(\.(card_number|exp_month|exp_year|cvc))?|[A-Za-z0-9_.-]+)$`)

// FuzzOrderRequest decodes and validates arbitrary order bodies and Idempotency-Keys as
// POST /api/v1/orders does, without a database: every input is either refused as a 400
// or 422 problem naming its fields, or accepted as a request inside every limit, whose
// validation is stable (validating it again changes nothing) and whose idempotency hash
// is deterministic.
func FuzzOrderRequest(f *testing.F) {
	now := time.Date(2026, 6, 15, 12, 0, 0, 0, time.UTC)
	for _, seed := range []struct{ body, key string }{
		{`{"items":[{"product_id":1,"quantity":2}],"shipping_address":{"name":"Ada","line1":"1 Road","city":"London","postal_code":"N1","country":"GB"},"payment":{"card_number":"4242 4242 4242 4242","exp_month":12,"exp_year":2030,"cvc":"123"}}`, "k1"},
		{`{"shipping_address":{"name":"Ada","line1":"1 Road","city":"London","postal_code":"N1","country":"GB"},"payment":{"card_number":"4000000000000002","exp_month":1,"exp_year":2027,"cvc":"1234"}}`, "k2"},
		{`{"items":[],"shipping_address":{},"payment":{}}`, ""},
		{`{"items":[{"product_id":1,"quantity":1},{"product_id":1,"quantity":1}]}`, "dup"},
		{`{"items":[{"product_id":-1,"quantity":1e3}]}`, "x y"},
		{`{"payment":{"card_number":"4242-4242-4242-4241","exp_month":13,"exp_year":99,"cvc":"12a"}}`, "\x00"},
		{`{"shipping_address":{"name":"a\u0000b","country":"gb"}}`, "k"},
		{`{"items":null}{}`, "k"},
		{`[1,2,3]`, "k"},
		{`{"coupon":"FREE"}`, "k"},
	} {
		f.Add([]byte(seed.body), seed.key)
	}
	f.Fuzz(func(t *testing.T, body []byte, key string) {
		req := httptest.NewRequest(http.MethodPost, "/api/v1/orders", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		refused := func(err error, stage string) {
			var ve *apperr.ValidationError
			if !errors.As(err, &ve) || len(ve.Errors) == 0 {
				t.Fatalf("%s: %v is not a validation error with fields", stage, err)
			}
			p, internal := problem.From(err)
			if internal || (p.Status != 400 && p.Status != 422) {
				t.Fatalf("%s: %v maps to %d", stage, err, p.Status)
			}
			for _, fe := range ve.Errors {
				if fe.Message == "" || !knownField.MatchString(fe.Field) {
					t.Fatalf("%s: field error %+v", stage, fe)
				}
			}
		}
		r, err := api.DecodeOrderRequest(req)
		if err != nil {
			refused(err, "decoding")
			return
		}
		if err := orders.CheckIdempotencyKey(key); err != nil {
			refused(err, "Idempotency-Key")
		}
		v, err := r.Validate(now)
		if err != nil {
			refused(err, "validating")
			return
		}
		if v.Items != nil && (len(v.Items) == 0 || len(v.Items) > orders.MaxLines) {
			t.Fatalf("accepted %d items", len(v.Items))
		}
		seen := map[int64]bool{}
		for _, it := range v.Items {
			if it.ProductID <= 0 || seen[it.ProductID] || it.Quantity < 1 || it.Quantity > cart.MaxQuantity {
				t.Fatalf("accepted item %+v", it)
			}
			seen[it.ProductID] = true
		}
		if !regexp.MustCompile(`^[0-9]{12,19}$`).MatchString(v.Payment.Number) || !regexp.MustCompile(`^[A-Z]{2}$`).MatchString(v.ShippingAddress.Country) {
			t.Fatalf("accepted payment %+v, address %+v", v.Payment, v.ShippingAddress)
		}
		again, err := v.Validate(now)
		if err != nil || !bytes.Equal(again.Hash(), v.Hash()) {
			t.Fatalf("validating the validated request: %v; hashes equal %v", err, bytes.Equal(again.Hash(), v.Hash()))
		}
	})
}
