package web

import (
	"reflect"
	"testing"
)

// FuzzGuestCartCookie feeds arbitrary cookie values to the guest cart decoder: it must
// never panic, and whatever it accepts must be a cart within the limits that encodes
// back to a value decoding to the same cart.
func FuzzGuestCartCookie(f *testing.F) {
	k, err := deriveKeys("fuzz-secret")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(encodeGuestCart(k.cart, GuestCart{Lines: []CartLine{{1, 2}, {3, 4}}}))
	f.Add(encodeGuestCart(k.cart, GuestCart{}))
	f.Add("v1..")
	f.Add("v1.W10.")
	f.Add("")
	f.Fuzz(func(t *testing.T, value string) {
		g := decodeGuestCart(k.cart, value)
		if len(g.Lines) > MaxGuestCartLines {
			t.Fatalf("%d lines", len(g.Lines))
		}
		seen := map[int64]bool{}
		for _, l := range g.Lines {
			if l.ProductID <= 0 || l.Quantity <= 0 || l.Quantity > MaxLineQuantity || seen[l.ProductID] {
				t.Fatalf("accepted line %+v", l)
			}
			seen[l.ProductID] = true
		}
		again := decodeGuestCart(k.cart, encodeGuestCart(k.cart, g))
		if !reflect.DeepEqual(again.Lines, g.Lines) {
			t.Fatalf("round trip changed %v into %v", g.Lines, again.Lines)
		}
	})
}
