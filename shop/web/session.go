package web

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/storefront-operator/storefront/shop/auth"
	"github.com/storefront-operator/storefront/shop/platform/apperr"
)

// Cookie names. Every cookie is HttpOnly (scripts never need them), SameSite=Lax and,
// behind TLS, Secure. When PUBLIC_URL is https they carry the __Host- prefix
// (HostPrefix): browsers then accept them only Secure, for Path=/ and without a Domain,
// so neither a sibling subdomain nor a plain-HTTP page can plant or overwrite them.
const (
	// SessionCookie carries the JSON API's bearer token of the signed-in user.
	SessionCookie = "sf_session"
	// CSRFCookie holds the random value the CSRF tokens are derived from.
	CSRFCookie = "sf_csrf"
	// CartCookie holds the signed id of the guest's cart (kept in PostgreSQL).
	CartCookie = "sf_cart"
	// CSRFField is the form field carrying the CSRF token.
	CSRFField = "csrf_token"
	// HostPrefix starts every cookie name when PUBLIC_URL is https.
	HostPrefix = "__Host-"
)

// cookieName is the name of the cookie base in this shop.
func (p *Pages) cookieName(base string) string {
	if p.https {
		return HostPrefix + base
	}
	return base
}

// keys are the pages' secrets, each derived from JWT_SECRET with HKDF under its own
// label, so that a value signed for one purpose is never valid for another (a cart
// signature is not a CSRF token, and neither is a JWT signature).
type keys struct {
	csrf, cart []byte
}

func deriveKeys(secret string) (keys, error) {
	if secret == "" {
		return keys{}, errors.New("JWT_SECRET is required: the pages' cookies are signed with keys derived from it")
	}
	derive := func(label string) ([]byte, error) {
		return hkdf.Key(sha256.New, []byte(secret), nil, "storefront web "+label, 32)
	}
	csrf, err := derive("csrf v1")
	if err != nil {
		return keys{}, fmt.Errorf("deriving the CSRF key: %w", err)
	}
	cart, err := derive("guest cart v1")
	if err != nil {
		return keys{}, fmt.Errorf("deriving the cart key: %w", err)
	}
	return keys{csrf: csrf, cart: cart}, nil
}

// behindTLS reports whether the client reached the shop over HTTPS: TLS terminated here,
// or at the load balancer, which says so in X-Forwarded-Proto (the first value when
// proxies chained it). A client can fake the header on plain HTTP; all it gets is
// Secure cookies its own browser will not send back and an HSTS header it ignores.
func behindTLS(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	proto, _, _ := strings.Cut(r.Header.Get("X-Forwarded-Proto"), ",")
	return strings.EqualFold(strings.TrimSpace(proto), "https")
}

// setCookie sets the cookie base (its name in this shop) with the pages' attributes;
// maxAge 0 makes it a session cookie, a negative one deletes it.
func (p *Pages) setCookie(c *gin.Context, base, value string, maxAge time.Duration) {
	ck := &http.Cookie{
		Name:     p.cookieName(base),
		Value:    value,
		Path:     "/",
		HttpOnly: true,
		Secure:   p.https || behindTLS(c.Request),
		SameSite: http.SameSiteLaxMode,
	}
	switch {
	case maxAge < 0:
		ck.MaxAge = -1
	case maxAge > 0:
		ck.MaxAge = int(maxAge / time.Second)
	}
	http.SetCookie(c.Writer, ck)
	// A response that sets a cookie is for this browser only.
	c.Set(ctxSetCookie, true)
}

// cookieValue is the value of the cookie base (its name in this shop), or "".
func (p *Pages) cookieValue(c *gin.Context, base string) string {
	v, err := c.Cookie(p.cookieName(base))
	if err != nil {
		return ""
	}
	return v
}

// Context keys of the pages' request state.
const (
	ctxCSRFSeed  = "web.csrfSeed"
	ctxSetCookie = "web.setCookie"
	ctxPrincipal = auth.PrincipalKey
	// ctxSession is the session token as it stands after this request's changes
	// (signed in, signed out, or an expired token dropped).
	ctxSession = "web.session"
)

// session resolves the session cookie into the signed-in principal. A token that no
// longer works (expired, revoked by a logout elsewhere, tampered with) is dropped: the
// shopper simply browses signed out.
func (p *Pages) session(c *gin.Context) {
	token := p.cookieValue(c, SessionCookie)
	if token == "" {
		c.Next()
		return
	}
	pr, err := p.auth.Verify(c.Request.Context(), token)
	switch {
	case err == nil:
		c.Set(ctxPrincipal, &pr)
	case errors.Is(err, apperr.ErrUnauthorized):
		p.clearSession(c)
	default:
		p.fail(c, err)
		return
	}
	c.Next()
}

// principal returns the signed-in shopper, or nil.
func principal(c *gin.Context) *auth.Principal {
	if v, ok := c.Get(ctxPrincipal); ok {
		return v.(*auth.Principal)
	}
	return nil
}

// startSession sets the session cookie to the API token of s; it expires with the
// token.
func (p *Pages) startSession(c *gin.Context, s auth.Session) {
	p.setCookie(c, SessionCookie, s.Token, time.Until(s.ExpiresAt))
	c.Set(ctxSession, s.Token)
}

func (p *Pages) clearSession(c *gin.Context) {
	p.setCookie(c, SessionCookie, "", -1)
	c.Set(ctxSession, "")
	c.Set(ctxPrincipal, (*auth.Principal)(nil))
}

// sessionBinding is the session the CSRF tokens of this response are bound to: the
// session cookie as this request leaves it.
func (p *Pages) sessionBinding(c *gin.Context) string {
	if v, ok := c.Get(ctxSession); ok {
		return v.(string)
	}
	return p.cookieValue(c, SessionCookie)
}

var b64 = base64.RawURLEncoding

// csrfToken returns the CSRF token for the forms of this response: an HMAC of the
// browser's random CSRF cookie and its session. It sets the cookie when the browser has
// none yet (so pages without forms set no cookie and stay shareable).
//
// This is the signed double-submit pattern: a cross-site attacker can make the browser
// send the cookie but can neither read it nor compute the HMAC without the server's key,
// and binding the token to the session means a token obtained in another session (or
// planted with a cookie from a sibling domain) is worthless.
func (p *Pages) csrfToken(c *gin.Context) string {
	seed := c.GetString(ctxCSRFSeed)
	if seed == "" {
		seed = p.cookieValue(c, CSRFCookie)
	}
	if !validSeed(seed) {
		var b [18]byte
		_, _ = rand.Read(b[:])
		seed = b64.EncodeToString(b[:])
		p.setCookie(c, CSRFCookie, seed, 0)
	}
	c.Set(ctxCSRFSeed, seed)
	return p.csrfMAC(seed, p.sessionBinding(c))
}

func (p *Pages) csrfMAC(seed, session string) string {
	m := hmac.New(sha256.New, p.keys.csrf)
	m.Write([]byte(seed))
	m.Write([]byte{0})
	m.Write([]byte(session))
	return b64.EncodeToString(m.Sum(nil))
}

func validSeed(s string) bool {
	b, err := b64.DecodeString(s)
	return err == nil && len(b) == 18
}

// errCSRF is the refusal of a state-changing request without a valid token. It is a 403
// whose page says what to do.
var errCSRF = fmt.Errorf("the form has expired or did not come from this shop; reload the page and try again: %w", apperr.ErrForbidden)

// checkCSRF guards every state-changing page route: the browser's own cross-origin
// signals (Sec-Fetch-Site, Origin, checked by net/http's CrossOriginProtection) must not
// say the request came from another site, and the form must carry the token of this
// browser's CSRF cookie and session.
func (p *Pages) checkCSRF(c *gin.Context) {
	if err := p.crossOrigin.Check(c.Request); err != nil {
		p.fail(c, errCSRF)
		return
	}
	seed := p.cookieValue(c, CSRFCookie)
	got := c.PostForm(CSRFField)
	if !validSeed(seed) || got == "" {
		p.fail(c, errCSRF)
		return
	}
	// The token was issued with the session cookie this request still carries.
	want := p.csrfMAC(seed, p.cookieValue(c, SessionCookie))
	if !hmac.Equal([]byte(got), []byte(want)) {
		p.fail(c, errCSRF)
		return
	}
	c.Next()
}
