package auth_test

import (
	"errors"
	"testing"
	"time"

	"github.com/storefront-operator/storefront/shop/auth"
	"github.com/storefront-operator/storefront/shop/platform/apperr"
)

func TestTokensRoundTrip(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	clock := now
	tk, err := auth.NewTokens("secret", time.Hour, func() time.Time { return clock })
	if err != nil {
		t.Fatal(err)
	}
	raw, issued, err := tk.Issue(42, auth.RoleAdmin)
	if err != nil {
		t.Fatal(err)
	}
	_, other, _ := tk.Issue(42, auth.RoleAdmin)
	if issued.TokenID == "" || issued.TokenID == other.TokenID {
		t.Errorf("token ids %q and %q", issued.TokenID, other.TokenID)
	}
	tests := map[string]struct {
		at time.Time
		ok bool
	}{
		"just issued":                        {now, true},
		"a second before expiry":             {now.Add(time.Hour - time.Second), true},
		"within the clock skew after expiry": {now.Add(time.Hour + 3*time.Second), true},
		"beyond the clock skew after expiry": {now.Add(time.Hour + time.Minute), false},
		"a minute before it was issued":      {now.Add(-time.Minute), false},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			clock = tt.at
			p, err := tk.Parse(raw)
			if !tt.ok {
				if !errors.Is(err, apperr.ErrUnauthorized) {
					t.Errorf("err = %v", err)
				}
				return
			}
			if err != nil || p != issued || !p.IsAdmin() {
				t.Errorf("p = %+v, err = %v; issued %+v", p, err, issued)
			}
		})
	}
	if _, err := auth.NewTokens("", 0, nil); err == nil {
		t.Error("an empty secret was accepted")
	}
}
