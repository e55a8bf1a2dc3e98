// Package web is the shop's storefront: server-rendered HTML pages for shoppers and the
// admin (docs/architecture.md#the-shops-pages), with their templates, stylesheet, script and images embedded. The
// page handlers decode the form or query, call the same services as the JSON API and
// render a template; they hold no business rules.
//
// The pages work without JavaScript (app.js only enhances them), carry a strict
// Content-Security-Policy with no inline script or style, and keep their state in three
// HttpOnly, SameSite=Lax cookies: the session (the API's bearer token), the CSRF seed
// and the signed id of the guest's cart (kept by the cart service).
package web

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/storefront-operator/storefront/shop/admin"
	"github.com/storefront-operator/storefront/shop/auth"
	"github.com/storefront-operator/storefront/shop/cart"
	"github.com/storefront-operator/storefront/shop/catalog"
	"github.com/storefront-operator/storefront/shop/catalogcache"
	"github.com/storefront-operator/storefront/shop/images"
	"github.com/storefront-operator/storefront/shop/orders"
	"github.com/storefront-operator/storefront/shop/platform/apperr"
	"github.com/storefront-operator/storefront/shop/platform/cache"
	"github.com/storefront-operator/storefront/shop/platform/httpserver"
	"github.com/storefront-operator/storefront/shop/platform/logging"
)

// ContentSecurityPolicy is the CSP of every page: resources only from the shop itself,
// no inline script or style (so no nonce is needed), forms posting only to the shop, no
// framing, no <base> rewriting.
const ContentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// CSPFor is ContentSecurityPolicy allowing images from the origin of imageBase too (the
// bucket's or the CDN's, IMAGE_BASE_URL) when it is another host's.
func CSPFor(imageBase string) string {
	u, err := url.Parse(imageBase)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return ContentSecurityPolicy
	}
	return strings.Replace(ContentSecurityPolicy, "img-src 'self';", "img-src 'self' "+u.Scheme+"://"+u.Host+";", 1)
}

// HSTS is the Strict-Transport-Security header sent to clients that came over HTTPS.
const HSTS = "max-age=31536000"

// PerPage is the number of products on a listing page.
const PerPage = 12

// ShopName is the name in the header and the titles.
const ShopName = "Storefront"

// Deps are the services the pages call and the settings they need.
type Deps struct {
	// Catalog reads fresh from the database: the product page (whose stock decides
	// whether it can be added), the cart and the admin pages.
	Catalog *catalog.Service
	// Cached reads the catalog and searches through the shop's one cache, as the JSON API
	// does: the home, listing, search pages and the navigation.
	Cached *catalogcache.Catalog
	Auth   *auth.Service
	Cart   *cart.Service
	Orders *orders.Service
	Admin  *admin.Service
	// Currency is the shop's ISO 4217 currency (price filters are typed in it).
	Currency string
	// Secret is JWT_SECRET; the CSRF and guest-cart keys are derived from it.
	Secret string
	Logger *slog.Logger
	// SearchLimit runs before each search page: the per-client rate limit (nil: none).
	SearchLimit gin.HandlerFunc
	// HTTPS: PUBLIC_URL is https; the cookies get the __Host- prefix and are Secure.
	HTTPS bool
	// CartLimit throttles the creation of guest carts per client (nil: none): each is a
	// row in the database.
	CartLimit *httpserver.ClientLimiter
	// Images adds product images from the admin pages (nil or without a store: the
	// upload form says uploads are off).
	Images *images.Service
	// ImageBaseURL is IMAGE_BASE_URL: its origin, when another host's, joins the CSP's
	// img-src.
	ImageBaseURL string
	// PaymentProvider is PAYMENT_PROVIDER ("mock", or "" for none): "mock" puts the test
	// mode banner on every page.
	PaymentProvider string
}

// Pages serves the storefront.
type Pages struct {
	catalog     *catalog.Service
	cached      *catalogcache.Catalog
	auth        *auth.Service
	carts       *cart.Service
	orders      *orders.Service
	admin       *admin.Service
	currency    string
	keys        keys
	assets      *assets
	templates   map[string]*template.Template
	crossOrigin *http.CrossOriginProtection
	logger      *slog.Logger
	searchLimit gin.HandlerFunc
	https       bool
	cartLimiter *httpserver.ClientLimiter
	// paymentProvider is Deps.PaymentProvider.
	paymentProvider string
	images          *images.Service
	// csp is ContentSecurityPolicy with the image origin (CSPFor).
	csp string
}

// New builds the pages: it loads and fingerprints the static files and parses every
// template, so a broken template stops the shop at start, not on a shopper's request.
func New(d Deps) (*Pages, error) {
	if d.Cached == nil {
		return nil, errors.New("web: Deps.Cached (the catalog cache) is required")
	}
	k, err := deriveKeys(d.Secret)
	if err != nil {
		return nil, err
	}
	a, err := loadAssets()
	if err != nil {
		return nil, err
	}
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	p := &Pages{
		catalog:     d.Catalog,
		cached:      d.Cached,
		auth:        d.Auth,
		carts:       d.Cart,
		orders:      d.Orders,
		admin:       d.Admin,
		currency:    d.Currency,
		keys:        k,
		assets:      a,
		crossOrigin: http.NewCrossOriginProtection(),
		logger:      d.Logger,
		searchLimit: d.SearchLimit,
		https:       d.HTTPS,
		cartLimiter: d.CartLimit,

		paymentProvider: d.PaymentProvider,
		images:          d.Images,
		csp:             CSPFor(d.ImageBaseURL),
	}
	if p.searchLimit == nil {
		p.searchLimit = func(c *gin.Context) { c.Next() }
	}
	if p.templates, err = p.parseTemplates(); err != nil {
		return nil, err
	}
	return p, nil
}

// Register adds the pages' routes to r, and makes every failure outside /api/ (unknown
// paths and methods included) answer with the HTML error page; the API keeps its
// problem details.
func (p *Pages) Register(r *gin.Engine) {
	// Engine-wide, so the router's one NoRoute and NoMethod go through it too. Gin adds
	// engine middleware to the routes registered after it only: the API's, registered
	// before, never see it (and it skips /api/ paths for the unknown ones).
	r.Use(p.htmlErrors)
	r.GET("/static/*path", p.securityHeaders, p.assets.serve)
	r.HEAD("/static/*path", p.securityHeaders, p.assets.serve)

	g := r.Group("/", p.securityHeaders, p.session)
	g.GET("/", p.home)
	g.GET("/products", p.allProducts)
	g.GET("/products/:slug", p.product)
	g.GET("/categories/:slug", p.category)
	g.GET("/search", p.searchLimit, p.searchPage)
	g.GET("/cart", p.cart)
	g.GET("/login", p.loginPage)
	g.GET("/register", p.registerPage)

	// Adding to the cart works from the shared (CDN-cached) product page too.
	g.POST("/cart/items", p.checkCartCSRF, p.addToCart)
	post := g.Group("/", p.checkCSRF)
	post.POST("/cart/items/:id", p.updateCartItem)
	post.POST("/cart/items/:id/remove", p.removeCartItem)
	post.POST("/login", p.login)
	post.POST("/password-change", p.passwordChange)
	post.POST("/register", p.register)
	post.POST("/logout", p.logout)

	// Signed-in shoppers only; the others are sent to the login page and back.
	user := g.Group("/", p.requireUser)
	user.GET("/checkout", p.checkoutPage)
	user.GET("/account", p.account)
	user.GET("/account/orders/:id", p.accountOrder)
	user.POST("/checkout", p.checkCSRF, p.checkout)

	// The admin's second factor: open to admins who have none yet.
	totp := g.Group("/admin/totp", p.requireUser, p.requireAdminRole)
	totp.GET("", p.adminTOTP)
	totp.POST("", p.checkCSRF, p.adminBeginTOTP)
	totp.POST("/confirm", p.checkCSRF, p.adminConfirmTOTP)

	// Admins only: a customer gets the 403 page.
	adm := g.Group("/admin", p.requireUser, p.requireAdmin)
	adm.GET("", p.adminHome)
	adm.GET("/products", p.adminProducts)
	adm.GET("/products/new", p.adminNewProduct)
	adm.GET("/products/:id", p.adminEditProduct)
	adm.GET("/categories", p.adminCategories)
	adm.GET("/orders", p.adminOrders)
	adm.GET("/orders/:id", p.adminOrder)
	admPost := adm.Group("", p.checkCSRF)
	admPost.POST("/products", p.adminCreateProduct)
	admPost.POST("/products/:id", p.adminUpdateProduct)
	admPost.POST("/products/:id/stock", p.adminSetStock)
	admPost.POST("/products/:id/delete", p.adminDeleteProduct)
	admPost.POST("/products/:id/images", p.adminAddImage)
	admPost.POST("/products/:id/images/:imageId/move", p.adminMoveImage)
	admPost.POST("/products/:id/images/:imageId/delete", p.adminDeleteImage)
	admPost.POST("/categories", p.adminCreateCategory)
	admPost.POST("/categories/:id", p.adminUpdateCategory)
	admPost.POST("/categories/:id/delete", p.adminDeleteCategory)
	admPost.POST("/orders/:id/status", p.adminSetOrderStatus)

}

// cartLimit takes a guest-cart creation from the client's budget, or says when to
// come back.
func (p *Pages) cartLimit(c *gin.Context) error {
	if p.cartLimiter == nil {
		return nil
	}
	if ok, wait := p.cartLimiter.Allow(httpserver.ClientKey(c)); !ok {
		return &apperr.ThrottledError{What: "new carts from this address", RetryAfter: wait}
	}
	return nil
}

// htmlErrors makes the request's failures the HTML error page (through the router's
// one error path, httpserver's writeErrors), with the pages' security headers, except
// under the API.
func (p *Pages) htmlErrors(c *gin.Context) {
	if !isAPIPath(c.Request.URL.Path) {
		p.setSecurityHeaders(c)
		httpserver.RenderErrorsWith(c, p.errorPage)
	}
	c.Next()
}

func isAPIPath(path string) bool {
	return strings.HasPrefix(path, "/api/") || path == "/api" || path == "/metrics" || path == "/healthz" || path == "/readyz"
}

// securityHeaders replaces the API's CSP with the pages' and adds HSTS behind TLS.
// X-Content-Type-Options, Referrer-Policy and X-Frame-Options come from the router's
// middleware.
func (p *Pages) securityHeaders(c *gin.Context) {
	p.setSecurityHeaders(c)
	c.Next()
}

func (p *Pages) setSecurityHeaders(c *gin.Context) {
	h := c.Writer.Header()
	h.Set("Content-Security-Policy", p.csp)
	h.Set("Referrer-Policy", "strict-origin-when-cross-origin")
	h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")
	if behindTLS(c.Request) {
		h.Set("Strict-Transport-Security", HSTS)
	}
}

// fail records err for the router's error middleware (which renders the error page)
// and stops the handler chain.
func (p *Pages) fail(c *gin.Context, err error) { httpserver.Fail(c, err) }

// errorView is what the error page says for a status.
type errorView struct {
	Heading, Message string
}

var errorViews = map[int]errorView{
	http.StatusBadRequest:            {"That request didn't look right", "Something in the address or the form was not valid. Go back and try again."},
	http.StatusUnauthorized:          {"Please log in", "You need to log in to see this page."},
	http.StatusPaymentRequired:       {"The payment did not go through", "Your card was declined and nothing was charged."},
	http.StatusTooManyRequests:       {"Too many attempts", "Please wait a moment and try again."},
	http.StatusForbidden:             {"You can't do that here", "You don't have permission to see this page or do this."},
	http.StatusNotFound:              {"We couldn't find that page", "The page may have moved, or the product is no longer sold. Try searching for it."},
	http.StatusMethodNotAllowed:      {"That didn't work", "This page cannot be used that way. Go back and try again."},
	http.StatusConflict:              {"That didn't work", "Something changed in the meantime. Reload the page and try again."},
	http.StatusRequestEntityTooLarge: {"That was too much", "The form you sent was too large."},
	http.StatusInternalServerError:   {"Something went wrong on our side", "We've logged the problem. Please try again in a moment."},
	http.StatusServiceUnavailable:    {"That took too long", "The shop gave up on this request. Please try again in a moment, or search for something shorter."},
}

type errorPage struct {
	*layout
	Status    int
	View      errorView
	RequestID string
	Fields    []apperr.FieldError
}

// errorPage renders the friendly error page. Its navigation is best effort: when the
// categories cannot be loaded (the database is down) the page is shown without them.
func (p *Pages) errorPage(c *gin.Context, status int, err error) {
	view, ok := errorViews[status]
	if !ok {
		view = errorViews[http.StatusInternalServerError]
		if status < 500 {
			view = errorViews[http.StatusBadRequest]
		}
	}
	switch {
	case errors.Is(err, errCSRF):
		view.Message = "This form has expired or did not come from this shop. Reload the page and try again."
	case errors.Is(err, apperr.ErrNoPaymentProvider):
		view = errorView{"This shop takes no payments", "No payment provider is configured, so no order can be placed. Nothing was charged and your cart is kept."}
	}
	data := &errorPage{Status: status, View: view, RequestID: c.Writer.Header().Get(httpserver.RequestIDHeader)}
	var ve *apperr.ValidationError
	if errors.As(err, &ve) {
		data.Fields = ve.Errors
	}
	data.layout = p.bareLayout(c, view.Heading)
	if cats, cerr := p.categories(c.Request.Context()); cerr == nil {
		data.Categories = cats
	}
	data.NoStore = true
	var buf bytes.Buffer
	if terr := p.templates["error"].ExecuteTemplate(&buf, "layout", data); terr != nil {
		logging.FromContext(c.Request.Context()).ErrorContext(c.Request.Context(), "Rendering the error page failed", "error", terr)
		c.Header("Cache-Control", "no-store")
		c.Data(status, "text/plain; charset=utf-8", []byte(view.Heading+"\n"))
		return
	}
	c.Header("Cache-Control", "no-store")
	c.Data(status, "text/html; charset=utf-8", buf.Bytes())
}

// layout is what every page's frame shows: the header with the search box, the
// category navigation, the cart count, the account links.
type layout struct {
	Title       string
	Description string
	Categories  []catalog.Category
	// CurrentCategory marks the navigation entry of the category page being shown.
	CurrentCategory string
	// Query fills the search box on the search page.
	Query     string
	CartCount int
	// SignedIn and Admin decide the account links; AdminArea adds the admin navigation.
	SignedIn, Admin, AdminArea bool
	// Path is the request's path, to mark the current navigation entry.
	Path string
	// NoStore marks pages that must never be stored (personal or one-off pages).
	NoStore bool
	// TestMode: the payment provider is the mock (PAYMENT_PROVIDER=mock); every page
	// says that no card is charged. TakesPayments: a provider is configured at all.
	TestMode, TakesPayments bool

	p *Pages
	c *gin.Context
}

// CSRFToken returns the token for the page's forms (setting the CSRF cookie when the
// browser has none): templates call it, so only pages with forms set the cookie.
func (l *layout) CSRFToken() string { return l.p.csrfToken(l.c) }

// CSRFField is the name of the forms' token field.
func (l *layout) CSRFField() string { return CSRFField }

// bareLayout is the frame without the category navigation. The cart count of a
// signed-in shopper is best effort: the header must not fail a page.
func (p *Pages) bareLayout(c *gin.Context, title string) *layout {
	l := &layout{Title: title, p: p, c: c, Path: c.Request.URL.Path, TestMode: p.paymentProvider == "mock", TakesPayments: p.paymentProvider != ""}
	if pr := principal(c); pr != nil {
		l.SignedIn, l.Admin = true, pr.IsAdmin()
	}
	if crt, err := p.shopperCart(c); err == nil {
		l.CartCount = crt.Count()
	}
	return l
}

// layout returns the frame of a page titled title, with the category navigation.
func (p *Pages) layout(c *gin.Context, title string) (*layout, error) {
	l := p.bareLayout(c, title)
	cats, err := p.categories(c.Request.Context())
	if err != nil {
		return nil, err
	}
	l.Categories = cats
	return l, nil
}

func (p *Pages) categories(ctx context.Context) ([]catalog.Category, error) {
	r, err := p.cached.Categories(ctx)
	return r.Value.Items, err
}

// render executes the page template name with data and writes it with status. A 200 page
// that is not NoStore gets an ETag, and a request whose If-None-Match holds it gets 304:
// anonymous pages are identical for everyone with the same cookies, so browsers and
// caches revalidate instead of downloading again.
func (p *Pages) render(c *gin.Context, status int, name string, data interface{ frame() *layout }) {
	t, ok := p.templates[name]
	if !ok {
		p.fail(c, fmt.Errorf("no page template %q", name))
		return
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", data); err != nil {
		p.fail(c, fmt.Errorf("rendering page %s: %w", name, err))
		return
	}
	h := c.Writer.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Add("Vary", "Cookie")
	if status != http.StatusOK || data.frame().NoStore {
		h.Set("Cache-Control", "no-store")
		c.Data(status, "text/html; charset=utf-8", buf.Bytes())
		return
	}
	// A page that the request's cookies shaped (the session, the cart badge, a CSRF
	// token bound to the cookie) is this browser's alone: private, since many CDNs
	// ignore Vary: Cookie and would hand it to the next visitor.
	if p.cookiesShaped(c) || c.GetBool(ctxSetCookie) {
		h.Set("Cache-Control", "private, no-cache")
	} else {
		h.Set("Cache-Control", SharedCacheControl)
	}
	etag := cache.ETag(buf.Bytes())
	h.Set("ETag", etag)
	if httpserver.ETagMatches(c.GetHeader("If-None-Match"), etag) {
		c.Status(http.StatusNotModified)
		c.Writer.WriteHeaderNow()
		return
	}
	c.Data(status, "text/html; charset=utf-8", buf.Bytes())
}

func (l *layout) frame() *layout { return l }

// cookiesShaped reports whether the request carries any of the shop's cookies, or its
// session changed during the request.
func (p *Pages) cookiesShaped(c *gin.Context) bool {
	if p.sessionBinding(c) != "" {
		return true
	}
	for _, base := range []string{SessionCookie, CSRFCookie, CartCookie} {
		if p.cookieValue(c, base) != "" {
			return true
		}
	}
	return false
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
