package web

import (
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/storefront-operator/storefront/shop/cart"
)

// guestCartVersion starts the guest cart cookie's value; a cookie of the earlier
// release (the cart itself, "v1.") reads as no cart.
const guestCartVersion = "g2"

// encodeGuestID returns the cookie value naming guest cart id: version, id and an HMAC
// (a key derived from JWT_SECRET), joined by dots. The id alone would let anyone read
// and fill someone else's cart; the signature makes ids unguessable in effect.
func encodeGuestID(key []byte, id int64) string {
	body := guestCartVersion + "." + strconv.FormatInt(id, 10)
	return body + "." + b64.EncodeToString(guestMAC(key, body))
}

// decodeGuestID reads a cookie value; anything malformed, unsigned or tampered with is
// 0 (no cart).
func decodeGuestID(key []byte, value string) int64 {
	if len(value) > 100 || !strings.HasPrefix(value, guestCartVersion+".") {
		return 0
	}
	i := strings.LastIndexByte(value, '.')
	body, sig := value[:i], value[i+1:]
	got, err := b64.DecodeString(sig)
	if err != nil || !hmac.Equal(got, guestMAC(key, body)) {
		return 0
	}
	id, err := strconv.ParseInt(strings.TrimPrefix(body, guestCartVersion+"."), 10, 64)
	if err != nil || id <= 0 {
		return 0
	}
	return id
}

func guestMAC(key []byte, body string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("guest-cart-id\x00"))
	m.Write([]byte(body))
	return m.Sum(nil)
}

const ctxCartOwner = "web.cartOwner"

// cartOwner is whose cart the request works on: the signed-in user's, the guest cart of
// the cookie, or none (a guest who has not added anything, or whose cart expired).
func (p *Pages) cartOwner(c *gin.Context) cart.Owner {
	if pr := principal(c); pr != nil {
		return cart.User(pr.UserID)
	}
	if o, ok := c.Get(ctxCartOwner); ok {
		return o.(cart.Owner)
	}
	o := cart.Guest(decodeGuestID(p.keys.cart, p.cookieValue(c, CartCookie)))
	c.Set(ctxCartOwner, o)
	return o
}

// shopperCart reads the request's cart; an expired guest cart is dropped (the cookie
// goes) and reads as empty.
func (p *Pages) shopperCart(c *gin.Context) (cart.Cart, error) {
	crt, err := p.carts.Get(c.Request.Context(), p.cartOwner(c))
	if errors.Is(err, cart.ErrGuestCartGone) {
		p.dropGuestCart(c)
		return crt, nil
	}
	return crt, err
}

// dropGuestCart forgets the guest cart cookie.
func (p *Pages) dropGuestCart(c *gin.Context) {
	c.Set(ctxCartOwner, cart.Owner{})
	p.setCookie(c, CartCookie, "", -1)
}

// newGuestCart starts a guest cart, under the per-client creation limit, and sets its
// cookie (renewed with every change, so it lives as long as the cart).
func (p *Pages) newGuestCart(c *gin.Context) (cart.Owner, error) {
	if err := p.cartLimit(c); err != nil {
		return cart.Owner{}, err
	}
	o, err := p.carts.NewGuest(c.Request.Context())
	if err != nil {
		return cart.Owner{}, err
	}
	c.Set(ctxCartOwner, o)
	p.keepGuestCookie(c, o)
	return o, nil
}

func (p *Pages) keepGuestCookie(c *gin.Context, o cart.Owner) {
	if o.GuestID != 0 {
		p.setCookie(c, CartCookie, encodeGuestID(p.keys.cart, o.GuestID), cart.GuestTTL)
	}
}
