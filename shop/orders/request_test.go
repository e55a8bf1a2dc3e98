package orders

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/storefront-operator/storefront/shop/cart"
	"github.com/storefront-operator/storefront/shop/platform/apperr"
	"github.com/storefront-operator/storefront/shop/platform/money"
)

var now = time.Date(2026, 6, 15, 12, 0, 0, 0, time.UTC)

// valid returns a valid request; opts adjust it.
func valid(opts ...func(*Request)) Request {
	r := Request{
		Items:           []cart.Item{{ProductID: 1, Quantity: 2}},
		ShippingAddress: Address{Name: "Ada", Line1: "1 Road", City: "London", PostalCode: "N1 9GU", Country: "GB"},
		Payment:         Card{Number: "4242 4242 4242 4242", ExpMonth: 12, ExpYear: 2030, CVC: "123"},
	}
	for _, o := range opts {
		o(&r)
	}
	return r
}

func TestValidate(t *testing.T) {
	tests := map[string]struct {
		req    Request
		fields []string
	}{
		"a valid request":                          {req: valid()},
		"no items means the cart":                  {req: valid(func(r *Request) { r.Items = nil })},
		"a card expiring this month is still good": {req: valid(func(r *Request) { r.Payment.ExpYear, r.Payment.ExpMonth = 2026, 6 })},
		"a card that expired last month":           {req: valid(func(r *Request) { r.Payment.ExpYear, r.Payment.ExpMonth = 2026, 5 }), fields: []string{"payment.exp_year"}},
		"an empty item list":                       {req: valid(func(r *Request) { r.Items = []cart.Item{} }), fields: []string{"items"}},
		"too many lines": {req: valid(func(r *Request) {
			r.Items = make([]cart.Item, MaxLines+1)
			for i := range r.Items {
				r.Items[i] = cart.Item{ProductID: int64(i + 1), Quantity: 1}
			}
		}), fields: []string{"items"}},
		"a product twice":           {req: valid(func(r *Request) { r.Items = append(r.Items, cart.Item{ProductID: 1, Quantity: 1}) }), fields: []string{"items[1].product_id"}},
		"a zero product id":         {req: valid(func(r *Request) { r.Items[0].ProductID = 0 }), fields: []string{"items[0].product_id"}},
		"a quantity over the limit": {req: valid(func(r *Request) { r.Items[0].Quantity = cart.MaxQuantity + 1 }), fields: []string{"items[0].quantity"}},
		"a blank address":           {req: valid(func(r *Request) { r.ShippingAddress = Address{} }), fields: []string{"shipping_address.name", "shipping_address.line1", "shipping_address.city", "shipping_address.postal_code", "shipping_address.country"}},
		"a control character":       {req: valid(func(r *Request) { r.ShippingAddress.City = "Lon\x00don" }), fields: []string{"shipping_address.city"}},
		"broken UTF-8":              {req: valid(func(r *Request) { r.ShippingAddress.Name = "\xff" }), fields: []string{"shipping_address.name"}},
		"a long postal code":        {req: valid(func(r *Request) { r.ShippingAddress.PostalCode = strings.Repeat("9", 21) }), fields: []string{"shipping_address.postal_code"}},
		"a three-letter country":    {req: valid(func(r *Request) { r.ShippingAddress.Country = "GBR" }), fields: []string{"shipping_address.country"}},
		"a Luhn failure":            {req: valid(func(r *Request) { r.Payment.Number = "4242424242424241" }), fields: []string{"payment.card_number"}},
		"eleven digits":             {req: valid(func(r *Request) { r.Payment.Number = "42424242424" }), fields: []string{"payment.card_number"}},
		"a month of 0":              {req: valid(func(r *Request) { r.Payment.ExpMonth = 0 }), fields: []string{"payment.exp_month"}},
		"a two-digit year":          {req: valid(func(r *Request) { r.Payment.ExpYear = 30 }), fields: []string{"payment.exp_year"}},
		"a CVC with a letter":       {req: valid(func(r *Request) { r.Payment.CVC = "12a" }), fields: []string{"payment.cvc"}},
		"everything wrong at once":  {req: Request{Items: []cart.Item{{}}}, fields: []string{"items[0].product_id", "items[0].quantity", "shipping_address.name", "payment.card_number", "payment.exp_month", "payment.exp_year", "payment.cvc"}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := tt.req.Validate(now)
			if len(tt.fields) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				if got.Payment.Number != "4242424242424242" {
					t.Errorf("card number not normalised: %q", got.Payment.Number)
				}
				return
			}
			var ve *apperr.ValidationError
			if !errors.As(err, &ve) || !ve.Unprocessable {
				t.Fatalf("err = %v, want a 422 validation error", err)
			}
			for _, f := range tt.fields {
				found := false
				for _, fe := range ve.Errors {
					found = found || fe.Field == f
				}
				if !found {
					t.Errorf("no error for %s in %v", f, err)
				}
			}
		})
	}
}

func TestHash(t *testing.T) {
	base, _ := valid().Validate(now)
	spaced, _ := valid(func(r *Request) { r.Payment.Number = "4242-4242-4242-4242"; r.Payment.CVC = "999" }).Validate(now)
	other, _ := valid(func(r *Request) { r.Items[0].Quantity = 3 }).Validate(now)
	cartOrder, _ := valid(func(r *Request) { r.Items = nil }).Validate(now)
	if !bytes.Equal(base.Hash(), spaced.Hash()) {
		t.Error("the card's formatting or CVC changed the hash")
	}
	if bytes.Equal(base.Hash(), other.Hash()) || bytes.Equal(base.Hash(), cartOrder.Hash()) {
		t.Error("different requests have the same hash")
	}
}

func TestLuhn(t *testing.T) {
	for number, want := range map[string]bool{
		"4242424242424242": true, "4000000000000002": true, "4000000000009995": true, "5555555555554444": true,
		"378282246310005": true, "4242424242424241": false, "1234567812345678": false, "0000000000000000": true,
	} {
		if got := luhn(number); got != want {
			t.Errorf("luhn(%s) = %v", number, got)
		}
	}
}

func TestMockPayments(t *testing.T) {
	tests := map[string]struct {
		number   string
		declined bool
		brand    string
	}{
		"the success card is charged":      {number: CardSuccess, brand: "visa"},
		"the declined card is declined":    {number: CardDeclined, declined: true},
		"insufficient funds are declined":  {number: CardInsufficientFunds, declined: true},
		"a Mastercard test number is paid": {number: "5555555555554444", brand: "mastercard"},
		"an Amex test number is paid":      {number: "378282246310005", brand: "amex"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			c, err := MockPayments{}.Charge(context.Background(), money.New(100, "EUR"), Card{Number: tt.number})
			if tt.declined != errors.Is(err, apperr.ErrPaymentDeclined) {
				t.Fatalf("err = %v", err)
			}
			if !tt.declined && (c.Brand != tt.brand || c.Last4 != tt.number[len(tt.number)-4:]) {
				t.Errorf("charge = %+v", c)
			}
		})
	}
}

func TestTransitions(t *testing.T) {
	legal := map[[2]Status]bool{
		{StatusPending, StatusPaid}: true, {StatusPending, StatusCancelled}: true,
		{StatusPaid, StatusShipped}: true, {StatusPaid, StatusCancelled}: true,
		{StatusShipped, StatusDelivered}: true,
	}
	for _, from := range Statuses {
		for _, to := range Statuses {
			if got := CanTransition(from, to); got != legal[[2]Status{from, to}] {
				t.Errorf("CanTransition(%s, %s) = %v", from, to, got)
			}
		}
	}
	if _, ok := ParseStatus("lost"); ok {
		t.Error("ParseStatus accepted lost")
	}
}

func TestCheckIdempotencyKey(t *testing.T) {
	for key, ok := range map[string]bool{"": false, "a": true, "550e8400-e29b-41d4-a716-446655440000": true, "with space": false,
		"tab\t": false, "é": false, strings.Repeat("k", MaxIdempotencyKey): true, strings.Repeat("k", MaxIdempotencyKey+1): false} {
		err := CheckIdempotencyKey(key)
		if (err == nil) != ok {
			t.Errorf("CheckIdempotencyKey(%q) = %v", key, err)
		}
		var ve *apperr.ValidationError
		if err != nil && (!errors.As(err, &ve) || ve.Unprocessable || ve.Errors[0].Field != "Idempotency-Key") {
			t.Errorf("CheckIdempotencyKey(%q): %v is not a 400 naming the header", key, err)
		}
	}
}
