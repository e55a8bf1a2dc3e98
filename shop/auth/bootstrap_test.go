package auth_test

import (
	"errors"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/storefront-operator/storefront/shop/auth"
	"github.com/storefront-operator/storefront/shop/platform/apperr"
)

func TestNormalizeEmail(t *testing.T) {
	tests := map[string]struct {
		in, want string
		ok       bool
	}{
		"lower-cases and trims":       {"  Ada@Example.COM ", "ada@example.com", true},
		"keeps plus addressing":       {"ada+shop@example.com", "ada+shop@example.com", true},
		"refuses a missing at sign":   {"ada.example.com", "", false},
		"refuses a display name":      {"Ada <ada@example.com>", "", false},
		"refuses an empty string":     {"", "", false},
		"refuses an overlong address": {strings.Repeat("a", 250) + "@example.com", "", false},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := auth.NormalizeEmail(tt.in)
			if (err == nil) != tt.ok || got != tt.want {
				t.Fatalf("NormalizeEmail(%q) = %q, %v", tt.in, got, err)
			}
			var ve *apperr.ValidationError
			if err != nil && (!errors.As(err, &ve) || ve.Errors[0].Field != "email") {
				t.Errorf("error %v does not name the email field", err)
			}
		})
	}
}

func TestCheckPassword(t *testing.T) {
	tests := map[string]struct {
		password string
		ok       bool
	}{
		"ten characters are enough":                 {"abcdefghij", true},
		"nine are too few":                          {"abcdefghi", false},
		"72 bytes are the most":                     {strings.Repeat("x", 72), true},
		"73 bytes are too many":                     {strings.Repeat("x", 73), false},
		"multi-byte characters count as characters": {"ééééééééé€", true},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			if err := auth.CheckPassword(tt.password); (err == nil) != tt.ok {
				t.Fatalf("CheckPassword: %v", err)
			}
		})
	}
}

func TestHashPassword(t *testing.T) {
	h, err := auth.HashPassword("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if cost, _ := bcrypt.Cost([]byte(h)); cost != auth.BcryptCost || auth.BcryptCost < 12 {
		t.Errorf("cost %d", cost)
	}
	if bcrypt.CompareHashAndPassword([]byte(h), []byte("correct horse battery")) != nil {
		t.Error("the hash does not verify")
	}
	if _, err := auth.HashPassword("short"); err == nil {
		t.Error("a short password was hashed")
	}
}
