package orders

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/storefront-operator/storefront/shop/cart"
	"github.com/storefront-operator/storefront/shop/platform/apperr"
)

// Limits of an order request.
const (
	// MaxLines bounds the lines of one order.
	MaxLines = 100
	// MaxIdempotencyKey bounds the Idempotency-Key header.
	MaxIdempotencyKey = 200
)

// Address is where an order ships.
type Address struct {
	Name       string `json:"name"`
	Line1      string `json:"line1"`
	City       string `json:"city"`
	PostalCode string `json:"postal_code"`
	Country    string `json:"country"`
}

// Card is the payment card of a checkout. It is never stored: orders keep its brand
// and last four digits.
type Card struct {
	Number   string `json:"card_number"`
	ExpMonth int    `json:"exp_month"`
	ExpYear  int    `json:"exp_year"`
	CVC      string `json:"cvc"`
}

// Request is the body of POST /api/v1/orders. Items nil (omitted) orders the cart.
type Request struct {
	Items           []cart.Item `json:"items"`
	ShippingAddress Address     `json:"shipping_address"`
	Payment         Card        `json:"payment"`
}

var (
	countryRE = regexp.MustCompile(`^[A-Z]{2}$`)
	cvcRE     = regexp.MustCompile(`^[0-9]{3,4}$`)
)

// Validate checks an order request as of now and returns it normalised (the card number
// as digits only, trimmed address fields). Every problem is reported at once, as a 422
// naming the field by its JSON path (items[2].quantity, payment.card_number).
func (r Request) Validate(now time.Time) (Request, error) {
	var f apperr.Fields
	out := r
	if r.Items != nil {
		switch {
		case len(r.Items) == 0:
			f.Add("items", "must not be empty (omit items to order the cart)")
		case len(r.Items) > MaxLines:
			f.Add("items", fmt.Sprintf("must have at most %d lines", MaxLines))
		default:
			seen := map[int64]int{}
			for i, it := range r.Items {
				if it.ProductID <= 0 {
					f.Add(fmt.Sprintf("items[%d].product_id", i), "must be a product id (a positive integer)")
				} else if j, dup := seen[it.ProductID]; dup {
					f.Add(fmt.Sprintf("items[%d].product_id", i), fmt.Sprintf("repeats items[%d]; set one quantity per product", j))
				} else {
					seen[it.ProductID] = i
				}
				if it.Quantity < 1 || it.Quantity > cart.MaxQuantity {
					f.Add(fmt.Sprintf("items[%d].quantity", i), fmt.Sprintf("must be between 1 and %d", cart.MaxQuantity))
				}
			}
		}
	}

	a := &out.ShippingAddress
	a.Name, a.Line1, a.City = strings.TrimSpace(a.Name), strings.TrimSpace(a.Line1), strings.TrimSpace(a.City)
	a.PostalCode, a.Country = strings.TrimSpace(a.PostalCode), strings.TrimSpace(a.Country)
	f.Text("shipping_address.name", a.Name, 1, 200)
	f.Text("shipping_address.line1", a.Line1, 1, 200)
	f.Text("shipping_address.city", a.City, 1, 100)
	f.Text("shipping_address.postal_code", a.PostalCode, 1, 20)
	if !countryRE.MatchString(a.Country) {
		f.Add("shipping_address.country", "must be an ISO 3166-1 alpha-2 code in capitals, such as DE")
	}

	p := &out.Payment
	digits, ok := cardDigits(p.Number)
	switch {
	case !ok:
		f.Add("payment.card_number", "must be 12 to 19 digits (spaces and dashes allowed)")
	case !luhn(digits):
		f.Add("payment.card_number", "is not a valid card number (Luhn check failed)")
	default:
		p.Number = digits
	}
	monthOK := p.ExpMonth >= 1 && p.ExpMonth <= 12
	if !monthOK {
		f.Add("payment.exp_month", "must be between 1 and 12")
	}
	yearOK := p.ExpYear >= 2000 && p.ExpYear <= 2100
	if !yearOK {
		f.Add("payment.exp_year", "must be a four-digit year")
	}
	if monthOK && yearOK {
		now = now.UTC()
		if p.ExpYear*12+p.ExpMonth < now.Year()*12+int(now.Month()) {
			f.Add("payment.exp_year", "the card has expired")
		}
	}
	if !cvcRE.MatchString(p.CVC) {
		f.Add("payment.cvc", "must be 3 or 4 digits")
	}
	return out, f.Unprocessable()
}

// Hash identifies a validated request for idempotency: the same key must come with the
// same hash. It covers the items (or "the cart"), the address and the card's last four
// digits and expiry, not the full number or the CVC, which are never stored in any form.
func (r Request) Hash() []byte {
	last4 := r.Payment.Number
	if len(last4) > 4 {
		last4 = last4[len(last4)-4:]
	}
	b, err := json.Marshal(struct {
		Items    []cart.Item `json:"items"`
		Address  Address     `json:"address"`
		Last4    string      `json:"last4"`
		ExpMonth int         `json:"exp_month"`
		ExpYear  int         `json:"exp_year"`
	}{r.Items, r.ShippingAddress, last4, r.Payment.ExpMonth, r.Payment.ExpYear})
	if err != nil {
		panic(err) // plain structs always marshal
	}
	sum := sha256.Sum256(b)
	return sum[:]
}

// CheckIdempotencyKey validates the Idempotency-Key header: 1..200 printable ASCII
// characters. A missing or malformed key is a 400 naming the header.
func CheckIdempotencyKey(key string) error {
	if key == "" {
		return apperr.Invalid("Idempotency-Key", "header is required: a unique key per order, such as a UUID")
	}
	if len(key) > MaxIdempotencyKey {
		return apperr.Invalid("Idempotency-Key", fmt.Sprintf("must be at most %d characters", MaxIdempotencyKey))
	}
	for i := 0; i < len(key); i++ {
		if key[i] < 0x21 || key[i] > 0x7e {
			return apperr.Invalid("Idempotency-Key", "must be printable ASCII without spaces")
		}
	}
	return nil
}

// cardDigits strips spaces and dashes and checks for 12..19 digits.
func cardDigits(s string) (string, bool) {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == ' ' || r == '-':
		default:
			return "", false
		}
	}
	d := b.String()
	return d, len(d) >= 12 && len(d) <= 19
}

// luhn reports whether digits pass the Luhn checksum.
func luhn(digits string) bool {
	sum := 0
	double := false
	for i := len(digits) - 1; i >= 0; i-- {
		d := int(digits[i] - '0')
		if double {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return sum%10 == 0
}
