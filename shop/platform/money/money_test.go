package money_test

import (
	"encoding/json"
	"testing"

	"github.com/storefront-operator/storefront/shop/platform/money"
)

func TestMinorDigits(t *testing.T) {
	tests := map[string]struct {
		currency string
		digits   int
		ok       bool
	}{
		"the euro has cents":             {"EUR", 2, true},
		"the yen has no minor unit":      {"JPY", 0, true},
		"the Kuwaiti dinar has fils":     {"KWD", 3, true},
		"a fund code is not a currency":  {"XAU", 0, false},
		"lower-case codes are not codes": {"eur", 0, false},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			d, ok := money.MinorDigits(tt.currency)
			if d != tt.digits || ok != tt.ok {
				t.Errorf("MinorDigits(%q) = %d, %v; want %d, %v", tt.currency, d, ok, tt.digits, tt.ok)
			}
		})
	}
}

func TestFormatting(t *testing.T) {
	tests := map[string]struct {
		m       money.Money
		decimal string
		str     string
	}{
		"euros with cents":                 {money.New(1999, "EUR"), "19.99", "€19.99"},
		"less than one euro pads zeros":    {money.New(5, "EUR"), "0.05", "€0.05"},
		"yen have no decimal point":        {money.New(1999, "JPY"), "1999", "¥1999"},
		"dinars have three digits":         {money.New(1999, "KWD"), "1.999", "KWD 1.999"},
		"a negative amount keeps its sign": {money.New(-50, "USD"), "-0.50", "-$0.50"},
		"zero":                             {money.New(0, "CHF"), "0.00", "CHF 0.00"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			if got := tt.m.Decimal(); got != tt.decimal {
				t.Errorf("Decimal() = %q, want %q", got, tt.decimal)
			}
			if got := tt.m.String(); got != tt.str {
				t.Errorf("String() = %q, want %q", got, tt.str)
			}
		})
	}
}

func TestParse(t *testing.T) {
	tests := map[string]struct {
		in, currency string
		want         int64
		wantErr      bool
	}{
		"two decimals":                    {"19.99", "EUR", 1999, false},
		"one decimal is padded":           {"1.5", "EUR", 150, false},
		"whole number":                    {"20", "EUR", 2000, false},
		"yen refuse decimals":             {"20.5", "JPY", 0, true},
		"dinars take three decimals":      {"1.999", "KWD", 1999, false},
		"too many decimals is an error":   {"1.999", "EUR", 0, true},
		"letters are an error":            {"abc", "EUR", 0, true},
		"a dangling point is an error":    {"12.", "EUR", 0, true},
		"an unknown currency is an error": {"1", "XYZ", 0, true},
		"a huge number is an error":       {"99999999999999999999", "EUR", 0, true},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := money.Parse(tt.in, tt.currency)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Parse(%q) error = %v, wantErr %v", tt.in, err, tt.wantErr)
			}
			if err == nil && (got.Amount != tt.want || got.Currency != tt.currency) {
				t.Errorf("Parse(%q) = %+v, want %d %s", tt.in, got, tt.want, tt.currency)
			}
		})
	}
}

func TestArithmeticAndJSON(t *testing.T) {
	sum, err := money.New(1999, "EUR").Add(money.New(1, "EUR"))
	if err != nil || sum.Amount != 2000 {
		t.Errorf("Add = %+v, %v; want 2000", sum, err)
	}
	if _, err := money.New(1, "EUR").Add(money.New(1, "USD")); err == nil {
		t.Error("adding different currencies succeeded")
	}
	line, err := money.New(1999, "EUR").Mul(3)
	if err != nil || line.Amount != 5997 {
		t.Errorf("Mul = %+v, %v; want 5997", line, err)
	}
	if _, err := money.New(1<<62, "EUR").Mul(4); err == nil {
		t.Error("overflowing Mul succeeded")
	}
	b, _ := json.Marshal(money.New(1999, "EUR"))
	if string(b) != `{"amount":1999,"currency":"EUR"}` {
		t.Errorf("JSON = %s", b)
	}
}
