package web

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/storefront-operator/storefront/shop/auth"
	"github.com/storefront-operator/storefront/shop/orders"
	"github.com/storefront-operator/storefront/shop/platform/apperr"
	"github.com/storefront-operator/storefront/shop/platform/httpserver"
)

// requireUser sends a signed-out shopper to the login page, to come back here after.
func (p *Pages) requireUser(c *gin.Context) {
	if principal(c) != nil {
		c.Next()
		return
	}
	if c.Request.Method != http.MethodGet {
		p.fail(c, fmt.Errorf("signing in is needed: %w", apperr.ErrUnauthorized))
		return
	}
	c.Redirect(http.StatusSeeOther, "/login?next="+url.QueryEscape(c.Request.URL.RequestURI()))
	c.Abort()
}

// requireAdmin lets admins through (checked against the database, so a demoted admin
// loses access at once) and shows everyone else the 403 page. An admin who needs a
// second factor first is sent to its page.
func (p *Pages) requireAdmin(c *gin.Context) {
	err := p.auth.RequireAdmin(c.Request.Context(), *principal(c))
	if errors.Is(err, auth.ErrTOTPEnrolmentNeeded) && c.Request.Method == http.MethodGet {
		c.Redirect(http.StatusSeeOther, "/admin/totp")
		c.Abort()
		return
	}
	if err != nil {
		p.fail(c, err)
		return
	}
	c.Next()
}

// authPage is the login or the register page.
type authPage struct {
	*layout
	Form *form
	Next string
	// MinPassword is the password rule shown on the register page.
	MinPassword int
	// ChangeToken is the password-change page's token (from the login that asked for it).
	ChangeToken string
}

var (
	loginFields          = []string{"email", "password", "totp_code"}
	registerFields       = []string{"name", "email", "password"}
	passwordChangeFields = []string{"new_password", "confirm_password", "totp_code"}
)

func (p *Pages) authForm(c *gin.Context, status int, tmpl, title string, f *form) {
	l, err := p.layout(c, title)
	if err != nil {
		p.fail(c, err)
		return
	}
	l.NoStore = true
	// Never sent back: the passwords, and a one-time code that is spent or wrong.
	f.Values["password"], f.Values["new_password"], f.Values["confirm_password"], f.Values["totp_code"] = "", "", "", ""
	next := c.Query("next")
	if v := c.PostForm("next"); v != "" {
		next = v
	}
	p.render(c, status, tmpl, &authPage{layout: l, Form: f, Next: safeNext(next, ""), MinPassword: auth.MinPasswordLength,
		ChangeToken: f.Values["change_token"]})
}

func (p *Pages) loginPage(c *gin.Context) {
	if principal(c) != nil {
		c.Redirect(http.StatusSeeOther, safeNext(c.Query("next"), "/account"))
		return
	}
	p.authForm(c, http.StatusOK, "login", "Log in", newForm())
}

func (p *Pages) registerPage(c *gin.Context) {
	if principal(c) != nil {
		c.Redirect(http.StatusSeeOther, safeNext(c.Query("next"), "/account"))
		return
	}
	p.authForm(c, http.StatusOK, "register", "Create an account", newForm())
}

// login signs in with the auth service, as the API's login does, and keeps the token in
// the session cookie. The guest cart joins the account's cart.
func (p *Pages) login(c *gin.Context) {
	f := newForm().read(c, loginFields, "password")
	s, err := p.auth.Login(c.Request.Context(), auth.LoginRequest{Email: f.Values["email"], Password: f.Values["password"],
		TOTPCode: f.Values["totp_code"], Client: httpserver.ClientKey(c)})
	var (
		throttled *apperr.ThrottledError
		change    *apperr.PasswordChangeRequiredError
	)
	switch {
	case err == nil:
		p.signedIn(c, s)
	case errors.As(err, &change):
		// The first sign-in with a generated password: choose a new one. The page
		// carries the change token, not the password.
		pf := newForm()
		pf.Values["change_token"] = change.Token
		p.authForm(c, http.StatusOK, "password_change", "Choose a new password", pf)
	case errors.Is(err, apperr.ErrTOTPRequired):
		f.Error = "This account has a second factor: enter the 6-digit code from your authenticator app with your password."
		f.Errors["totp_code"] = "Enter the current code."
		p.authForm(c, http.StatusUnauthorized, "login", "Log in", f)
	case f.fieldErrors(err, nil):
		p.authForm(c, http.StatusUnprocessableEntity, "login", "Log in", f)
	case errors.Is(err, apperr.ErrUnauthorized):
		f.Error = "The email or the password is wrong."
		f.Errors["email"], f.Errors["password"] = "Check the email address.", "Check the password."
		p.authForm(c, http.StatusUnauthorized, "login", "Log in", f)
	case errors.As(err, &throttled):
		p.throttledForm(c, throttled, "login", "Log in", f)
	default:
		p.fail(c, err)
	}
}

func (p *Pages) register(c *gin.Context) {
	f := newForm().read(c, registerFields, "password")
	s, err := p.auth.Register(c.Request.Context(), auth.RegisterRequest{Email: f.Values["email"], Password: f.Values["password"], Name: f.Values["name"],
		Client: httpserver.ClientKey(c)})
	var throttled *apperr.ThrottledError
	switch {
	case err == nil:
		p.signedIn(c, s)
	case f.fieldErrors(err, nil):
		p.authForm(c, http.StatusUnprocessableEntity, "register", "Create an account", f)
	case errors.Is(err, apperr.ErrConflict):
		f.Error = "Please correct the fields marked below."
		f.Errors["email"] = "An account with this email already exists. Log in instead."
		p.authForm(c, http.StatusConflict, "register", "Create an account", f)
	case errors.As(err, &throttled):
		p.throttledForm(c, throttled, "register", "Create an account", f)
	default:
		p.fail(c, err)
	}
}

// passwordChange is the first sign-in's second step: the new password replaces the
// generated one, which stops working, and the admin is signed in.
func (p *Pages) passwordChange(c *gin.Context) {
	f := newForm().read(c, passwordChangeFields, "new_password", "confirm_password")
	f.Values["change_token"] = c.PostForm("change_token")
	if f.Values["new_password"] != f.Values["confirm_password"] {
		f.Error = "Please correct the fields marked below."
		f.Errors["confirm_password"] = "The two passwords differ."
		p.authForm(c, http.StatusUnprocessableEntity, "password_change", "Choose a new password", f)
		return
	}
	s, err := p.auth.ChangePassword(c.Request.Context(), auth.PasswordChangeRequest{Token: f.Values["change_token"],
		NewPassword: f.Values["new_password"], TOTPCode: f.Values["totp_code"]})
	switch {
	case err == nil:
		p.signedIn(c, s)
	case errors.Is(err, apperr.ErrTOTPRequired):
		f.Error = "This account has a second factor: enter the 6-digit code from your authenticator app."
		f.Errors["totp_code"] = "Enter the current code."
		p.authForm(c, http.StatusUnauthorized, "password_change", "Choose a new password", f)
	case f.fieldErrors(err, nil):
		p.authForm(c, http.StatusUnprocessableEntity, "password_change", "Choose a new password", f)
	case errors.Is(err, apperr.ErrUnauthorized):
		lf := newForm()
		lf.Error = sentence(strings.TrimSuffix(err.Error(), ": "+apperr.ErrUnauthorized.Error()))
		p.authForm(c, http.StatusUnauthorized, "login", "Log in", lf)
	default:
		p.fail(c, err)
	}
}

// throttledForm shows the form again with 429 and Retry-After.
func (p *Pages) throttledForm(c *gin.Context, throttled *apperr.ThrottledError, tmpl, title string, f *form) {
	c.Header("Retry-After", strconv.Itoa(throttled.RetryAfterSeconds()))
	f.Error = fmt.Sprintf("Too many %s. Try again in %d seconds.", throttled.What, throttled.RetryAfterSeconds())
	p.authForm(c, http.StatusTooManyRequests, tmpl, title, f)
}

// signedIn starts the session, merges the guest cart into the account's cart (the cart
// service adds the quantities) and goes where the shopper was heading.
func (p *Pages) signedIn(c *gin.Context, s auth.Session) {
	guest := p.cartOwner(c)
	p.startSession(c, s)
	if guest.GuestID != 0 {
		if err := p.carts.MergeGuest(c.Request.Context(), guest, s.User.ID); err != nil {
			p.fail(c, err)
			return
		}
		p.dropGuestCart(c)
	}
	c.Redirect(http.StatusSeeOther, safeNext(c.PostForm("next"), "/account"))
}

// logout revokes the token (it stops working for the API too, on every replica) and
// drops the cookie.
func (p *Pages) logout(c *gin.Context) {
	if pr := principal(c); pr != nil {
		if err := p.auth.Revoke(c.Request.Context(), *pr); err != nil {
			p.fail(c, err)
			return
		}
	}
	p.clearSession(c)
	c.Redirect(http.StatusSeeOther, "/")
}

// OrdersPerPage is the number of orders on a page of the order history.
const OrdersPerPage = 10

type accountPage struct {
	*layout
	User   auth.User
	Orders orders.Page
	Pages  pagination
}

func (p *Pages) account(c *gin.Context) {
	pr := principal(c)
	l, err := p.layout(c, "Your account")
	if err != nil {
		p.fail(c, err)
		return
	}
	l.NoStore = true
	u, err := p.auth.User(c.Request.Context(), pr.UserID)
	if err != nil {
		p.fail(c, err)
		return
	}
	page := pageNumber(c)
	list, err := p.orders.List(c.Request.Context(), pr.UserID, page, OrdersPerPage)
	if err != nil {
		p.fail(c, err)
		return
	}
	p.render(c, http.StatusOK, "account", &accountPage{layout: l, User: u, Orders: list,
		Pages: paginateBy(c.Request.URL, page, list.Total, OrdersPerPage)})
}

// pageNumber reads ?page=, 1 when absent or out of range.
func pageNumber(c *gin.Context) int {
	n, err := strconv.Atoi(c.Query("page"))
	if err != nil || n < 1 || n > 10000 {
		return 1
	}
	return n
}

type orderPage struct {
	*layout
	Order orders.Order
	// Placed is set on the confirmation shown right after the checkout.
	Placed bool
	// Admin pages show the customer and the status transitions.
	AdminView     bool
	Transitions   []orders.Status
	Notice, Error string
}

// pathID reads the :id of a route; anything but a positive integer is a 404.
func pathID(c *gin.Context, what string) (int64, error) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("%s %q: %w", what, truncate(c.Param("id"), 32), apperr.ErrNotFound)
	}
	return id, nil
}

// accountOrder shows one of the shopper's orders (another's is a 404, as in the API);
// right after the checkout it is the confirmation.
func (p *Pages) accountOrder(c *gin.Context) {
	id, err := pathID(c, "order")
	if err != nil {
		p.fail(c, err)
		return
	}
	o, err := p.orders.Get(c.Request.Context(), principal(c).UserID, id)
	if err != nil {
		p.fail(c, err)
		return
	}
	placed := c.Query("placed") == "1"
	title := fmt.Sprintf("Order %d", o.ID)
	if placed {
		title = "Thank you for your order"
	}
	l, err := p.layout(c, title)
	if err != nil {
		p.fail(c, err)
		return
	}
	l.NoStore = true
	p.render(c, http.StatusOK, "order", &orderPage{layout: l, Order: o, Placed: placed})
}
