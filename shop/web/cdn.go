package web

import (
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
)

// SharedMaxAge is how long a shared cache (the CDN, docs/architecture.md#product-images)
// may serve an anonymous page without asking the shop again: short, because stock and
// prices change, and long enough that a burst of shoppers costs the shop one render.
const SharedMaxAge = 60 * time.Second

// SharedCacheControl is the Cache-Control of a page rendered for a request that carries
// none of the shop's cookies: identical for every such visitor, so a shared cache may
// keep it for SharedMaxAge, while browsers revalidate it every time (max-age=0, with the
// ETag). Everything a cookie shaped is private; personal pages are no-store.
var SharedCacheControl = "public, max-age=0, s-maxage=" + strconv.Itoa(int(SharedMaxAge/time.Second))

// checkCartCSRF guards the add-to-cart form. A request carrying any of the shop's
// cookies needs the token, as every form does (checkCSRF). A request carrying none has
// no ambient authority a forger could borrow (no session, no cart), and the product page
// it came from was the shared, cacheable one, which carries no token (a token needs a
// cookie, and a cookie would make the page private); it must instead carry the
// browser's own proof that the form was this origin's: Sec-Fetch-Site: same-origin, or
// an Origin naming this host. A cross-site POST, whose SameSite=Lax cookies the browser
// withholds, arrives cookie-less and fails that proof.
func (p *Pages) checkCartCSRF(c *gin.Context) {
	if p.cookiesShaped(c) || c.PostForm(CSRFField) != "" {
		p.checkCSRF(c)
		return
	}
	if !sameOriginProof(c.Request) {
		p.fail(c, errCSRF)
		return
	}
	if err := p.crossOrigin.Check(c.Request); err != nil {
		p.fail(c, errCSRF)
		return
	}
	c.Next()
}

// sameOriginProof reports whether the browser said the request came from this origin.
func sameOriginProof(r *http.Request) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "same-origin":
		return true
	case "":
	default:
		return false
	}
	o := r.Header.Get("Origin")
	if o == "" || o == "null" {
		return false
	}
	u, err := url.Parse(o)
	return err == nil && u.Host != "" && u.Host == r.Host
}
