package web

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/json"
	"strings"
	"time"
)

// Guest cart limits: the cookie stays far below browsers' 4 KB cookie limit.
const (
	MaxGuestCartLines = 30
	MaxLineQuantity   = 99
	guestCartLifetime = 30 * 24 * time.Hour
	guestCartVersion  = "v1"
)

// CartLine is one product and quantity of a guest cart.
type CartLine struct {
	ProductID int64 `json:"p"`
	Quantity  int   `json:"q"`
}

// GuestCart is the cart of a shopper who is not signed in. It lives in the browser, in
// a cookie signed with an HMAC (a key derived from JWT_SECRET), so the shop keeps no
// state for anonymous visitors and a tampered cookie is simply an empty cart. It holds
// only product ids and quantities: prices always come from the catalog.
type GuestCart struct {
	Lines []CartLine
}

// Quantity returns the quantity of product id (0 when absent).
func (g *GuestCart) Quantity(id int64) int {
	for _, l := range g.Lines {
		if l.ProductID == id {
			return l.Quantity
		}
	}
	return 0
}

// Set sets the quantity of product id; 0 or less removes the line. The quantity is
// capped at MaxLineQuantity. It reports false when the cart is full.
func (g *GuestCart) Set(id int64, qty int) bool {
	qty = min(qty, MaxLineQuantity)
	for i, l := range g.Lines {
		if l.ProductID == id {
			if qty <= 0 {
				g.Lines = append(g.Lines[:i], g.Lines[i+1:]...)
			} else {
				g.Lines[i].Quantity = qty
			}
			return true
		}
	}
	if qty <= 0 {
		return true
	}
	if len(g.Lines) >= MaxGuestCartLines {
		return false
	}
	g.Lines = append(g.Lines, CartLine{ProductID: id, Quantity: qty})
	return true
}

// Count is the number of items (the sum of the quantities).
func (g *GuestCart) Count() int {
	n := 0
	for _, l := range g.Lines {
		n += l.Quantity
	}
	return n
}

// encodeGuestCart returns the cookie value of g: version, payload and HMAC, joined by dots.
func encodeGuestCart(key []byte, g GuestCart) string {
	payload, _ := json.Marshal(g.Lines) // a slice of two-int structs always encodes
	body := guestCartVersion + "." + b64.EncodeToString(payload)
	return body + "." + b64.EncodeToString(cartMAC(key, body))
}

// decodeGuestCart reads a cookie value; anything malformed, unsigned, tampered with or
// out of bounds is an empty cart.
func decodeGuestCart(key []byte, value string) GuestCart {
	i := strings.LastIndexByte(value, '.')
	if i < 0 || !strings.HasPrefix(value, guestCartVersion+".") {
		return GuestCart{}
	}
	body, sig := value[:i], value[i+1:]
	got, err := b64.DecodeString(sig)
	if err != nil || !hmac.Equal(got, cartMAC(key, body)) {
		return GuestCart{}
	}
	payload, err := b64.DecodeString(strings.TrimPrefix(body, guestCartVersion+"."))
	if err != nil {
		return GuestCart{}
	}
	var lines []CartLine
	if err := json.Unmarshal(payload, &lines); err != nil || len(lines) > MaxGuestCartLines {
		return GuestCart{}
	}
	var g GuestCart
	for _, l := range lines {
		if l.ProductID <= 0 || l.Quantity <= 0 || l.Quantity > MaxLineQuantity || g.Quantity(l.ProductID) > 0 {
			return GuestCart{}
		}
		g.Lines = append(g.Lines, l)
	}
	return g
}

func cartMAC(key []byte, body string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("guest-cart\x00"))
	m.Write([]byte(body))
	return m.Sum(nil)
}
