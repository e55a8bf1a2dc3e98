package auth

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/storefront-operator/storefront/shop/platform/apperr"
)

func TestTOTPBox(t *testing.T) {
	const secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
	keyA, keyB := strings.Repeat("a", MinTOTPKeyLength), strings.Repeat("b", MinTOTPKeyLength)
	boxA, err := newTOTPBox(keyA)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := boxA.seal(7, secret)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(sealed, sealPrefix+boxA.current.id+":") || strings.Contains(sealed, secret) || len(sealed) > 128 {
		t.Fatalf("sealed = %q", sealed)
	}
	if again, _ := boxA.seal(7, secret); again == sealed {
		t.Error("two seals of one secret are equal: the nonce is not random")
	}
	if got, current, err := boxA.open(7, sealed); got != secret || !current || err != nil {
		t.Errorf("open = %q, %v, %v", got, current, err)
	}
	if _, _, err := boxA.open(8, sealed); !errors.Is(err, errUnsealed) {
		t.Errorf("another account's row opened it: %v", err)
	}
	tampered := sealed[:len(sealed)-2] + "AA"
	if tampered == sealed {
		tampered = sealed[:len(sealed)-2] + "BB"
	}
	if _, _, err := boxA.open(7, tampered); !errors.Is(err, errUnsealed) {
		t.Errorf("a tampered value opened: %v", err)
	}

	rotating, err := newTOTPBox(keyB, "", keyA)
	if err != nil {
		t.Fatal(err)
	}
	if got, current, err := rotating.open(7, sealed); got != secret || current || err != nil {
		t.Errorf("open with TOTP_KEY_PREVIOUS = %q, %v, %v; want the secret, not current", got, current, err)
	}
	onlyB, _ := newTOTPBox(keyB)
	if _, _, err := onlyB.open(7, sealed); !errors.Is(err, errUnsealed) {
		t.Errorf("a key that did not seal it opened it: %v", err)
	}
	if got, current, err := onlyB.open(7, secret); got != secret || current || err != nil {
		t.Errorf("a secret stored in the clear = %q, %v, %v; want it, not current", got, current, err)
	}
	if got, current, err := onlyB.open(7, ""); got != "" || !current || err != nil {
		t.Errorf("no secret = %q, %v, %v", got, current, err)
	}
	if _, err := newTOTPBox("short"); err == nil {
		t.Error("a key of 5 characters was accepted")
	}
}

// racedStore holds one secret sealed with an old key that another replica reseals first.
type racedStore struct {
	Store
	rows     []StoredTOTP
	replaced int
}

func (s *racedStore) TOTPSecrets(context.Context) ([]StoredTOTP, error) { return s.rows, nil }

func (s *racedStore) ReplaceTOTPSecrets(context.Context, StoredTOTP, StoredTOTP) error {
	s.replaced++
	return fmt.Errorf("the second factor changed meanwhile: %w", apperr.ErrConflict)
}

// TestResealTOTPLosingTheRaceIsNoError: replicas starting together reseal the same rows;
// the one whose compare-and-swap finds the row changed starts anyway.
func TestResealTOTPLosingTheRaceIsNoError(t *testing.T) {
	keyA, keyB := strings.Repeat("a", MinTOTPKeyLength), strings.Repeat("b", MinTOTPKeyLength)
	old, _ := newTOTPBox(keyA)
	sealed, err := old.seal(3, "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")
	if err != nil {
		t.Fatal(err)
	}
	box, _ := newTOTPBox(keyB, keyA)
	st := &racedStore{rows: []StoredTOTP{{ID: 3, Secret: sealed}}}
	s := &Service{store: sealedStore{Store: st, box: box}}
	n, err := s.ResealTOTP(context.Background())
	if err != nil || n != 0 || st.replaced != 1 {
		t.Errorf("ResealTOTP = %d, %v after %d replacements; want 0, nil after 1", n, err, st.replaced)
	}
	// A secret that opens with neither key stops the start.
	st.rows = []StoredTOTP{{ID: 3, Secret: sealed}}
	s = &Service{store: sealedStore{Store: st, box: func() *totpBox { b, _ := newTOTPBox(keyB); return b }()}}
	if _, err := s.ResealTOTP(context.Background()); !errors.Is(err, errUnsealed) {
		t.Errorf("ResealTOTP without the sealing key = %v, want errUnsealed", err)
	}
}
