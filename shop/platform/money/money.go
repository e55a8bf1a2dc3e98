// Package money represents prices as integer minor units of an ISO 4217 currency, never as
// floats (STYLE 9), and formats them for people.
package money

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Money is an amount in minor units (cents for EUR, yen for JPY, fils for KWD) of Currency.
// Its JSON form is the API's (docs/architecture.md#the-shops-http-api) {"amount": 1999, "currency": "EUR"}.
type Money struct {
	Amount   int64  `json:"amount"`
	Currency string `json:"currency"`
}

// New returns amount minor units of currency.
func New(amount int64, currency string) Money { return Money{Amount: amount, Currency: currency} }

// MinorDigits returns how many decimal digits currency's minor unit has (ISO 4217's
// exponent: JPY 0, EUR 2, KWD 3) and whether currency is one the shop accepts.
func MinorDigits(currency string) (int, bool) {
	if _, ok := currencies[currency]; !ok {
		return 0, false
	}
	if d, ok := nonDecimal[currency]; ok {
		return d, true
	}
	return 2, true
}

// Valid reports whether currency is an ISO 4217 code of a circulating currency (the same
// set the Storefront API accepts in spec.currency).
func Valid(currency string) bool {
	_, ok := currencies[currency]
	return ok
}

// Add returns m + o; both must have the same currency.
func (m Money) Add(o Money) (Money, error) {
	if m.Currency != o.Currency {
		return Money{}, fmt.Errorf("adding %s to %s: currencies differ", o.Currency, m.Currency)
	}
	s := m.Amount + o.Amount
	if (s > m.Amount) != (o.Amount > 0) {
		return Money{}, errors.New("money overflow")
	}
	return Money{Amount: s, Currency: m.Currency}, nil
}

// Mul returns m × n (a line total).
func (m Money) Mul(n int64) (Money, error) {
	if n != 0 && (m.Amount > math.MaxInt64/abs(n) || m.Amount < math.MinInt64/abs(n)) {
		return Money{}, errors.New("money overflow")
	}
	return Money{Amount: m.Amount * n, Currency: m.Currency}, nil
}

func abs(n int64) int64 {
	if n < 0 {
		return -n
	}
	return n
}

// Decimal returns the amount in major units with exactly the currency's minor digits,
// without a symbol: "19.99", "1999" (JPY), "1.999" (KWD), "-0.50".
func (m Money) Decimal() string {
	d, ok := MinorDigits(m.Currency)
	if !ok {
		d = 2
	}
	neg := m.Amount < 0
	a := m.Amount
	var digits string
	if neg {
		digits = strconv.FormatUint(uint64(-(a+1))+1, 10)
	} else {
		digits = strconv.FormatInt(a, 10)
	}
	if d > 0 {
		if len(digits) <= d {
			digits = strings.Repeat("0", d-len(digits)+1) + digits
		}
		digits = digits[:len(digits)-d] + "." + digits[len(digits)-d:]
	}
	if neg {
		return "-" + digits
	}
	return digits
}

// String formats m for people: a symbol for the common currencies ("€19.99", "$5.00",
// "¥1999"), otherwise the code ("CHF 12.50"). Pages use it; the API sends minor units.
func (m Money) String() string {
	if sym, ok := symbols[m.Currency]; ok {
		if m.Amount < 0 {
			return "-" + sym + strings.TrimPrefix(m.Decimal(), "-")
		}
		return sym + m.Decimal()
	}
	return m.Currency + " " + m.Decimal()
}

// Parse reads a decimal amount in major units ("19.99", "20", "1.5") of currency into
// minor units, refusing more fractional digits than the currency has (admin forms use it).
func Parse(s, currency string) (Money, error) {
	d, ok := MinorDigits(currency)
	if !ok {
		return Money{}, fmt.Errorf("unknown currency %q", currency)
	}
	s = strings.TrimSpace(s)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	whole, frac, hasDot := strings.Cut(s, ".")
	if whole == "" || (hasDot && frac == "") || len(frac) > d || strings.Trim(whole+frac, "0123456789") != "" {
		return Money{}, fmt.Errorf("%q is not an amount with at most %d decimal digits", s, d)
	}
	frac += strings.Repeat("0", d-len(frac))
	n, err := strconv.ParseInt(whole+frac, 10, 64)
	if err != nil {
		return Money{}, fmt.Errorf("%q is out of range", s)
	}
	if neg {
		n = -n
	}
	return Money{Amount: n, Currency: currency}, nil
}

var symbols = map[string]string{"EUR": "€", "USD": "$", "GBP": "£", "JPY": "¥", "INR": "₹", "KRW": "₩"}

// nonDecimal lists the currencies whose minor unit is not a hundredth (ISO 4217 exponent).
var nonDecimal = map[string]int{
	"BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0, "PYG": 0,
	"RWF": 0, "UGX": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
	"BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
}

// currencies is the set of circulating ISO 4217 codes, kept equal to the Storefront API's
// spec.currency enum (the shop does not import the operator's API package).
var currencies = func() map[string]struct{} {
	const codes = "AED AFN ALL AMD AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP BYN BZD CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD UYU UZS VED VES VND VUV WST XAF XCD XCG XOF XPF YER ZAR ZMW ZWG"
	m := map[string]struct{}{}
	for _, c := range strings.Fields(codes) {
		m[c] = struct{}{}
	}
	return m
}()
