package orders

import (
	"context"
	"fmt"
	"strings"

	"github.com/storefront-operator/storefront/shop/platform/apperr"
	"github.com/storefront-operator/storefront/shop/platform/money"
)

// Charge is a successful payment.
type Charge struct {
	Brand string `json:"brand"`
	Last4 string `json:"last4"`
}

// Payments charges cards. A declined card is apperr.ErrPaymentDeclined.
type Payments interface {
	Charge(ctx context.Context, amount money.Money, card Card) (Charge, error)
}

// Test cards of MockPayments (the usual payment-provider test numbers).
const (
	CardSuccess           = "4242424242424242"
	CardDeclined          = "4000000000000002"
	CardInsufficientFunds = "4000000000009995"
)

// MockPayments is the shop's payment provider: it charges nothing and declines the two
// test cards CardDeclined and CardInsufficientFunds. Every other valid card (checked by
// Request.Validate: Luhn, expiry) succeeds, CardSuccess among them.
type MockPayments struct{}

// Charge implements Payments.
func (MockPayments) Charge(_ context.Context, amount money.Money, card Card) (Charge, error) {
	switch card.Number {
	case CardDeclined:
		return Charge{}, fmt.Errorf("the card was declined: %w", apperr.ErrPaymentDeclined)
	case CardInsufficientFunds:
		return Charge{}, fmt.Errorf("the card was declined (insufficient funds for %s): %w", amount, apperr.ErrPaymentDeclined)
	}
	return Charge{Brand: brand(card.Number), Last4: card.Number[len(card.Number)-4:]}, nil
}

func brand(n string) string {
	switch {
	case strings.HasPrefix(n, "4"):
		return "visa"
	case strings.HasPrefix(n, "34"), strings.HasPrefix(n, "37"):
		return "amex"
	case n[0] == '5' && n[1] >= '1' && n[1] <= '5', n >= "2221" && n[:4] <= "2720":
		return "mastercard"
	}
	return "card"
}
