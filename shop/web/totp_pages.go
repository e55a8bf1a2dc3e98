package web

import (
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/storefront-operator/storefront/shop/auth"
	"github.com/storefront-operator/storefront/shop/platform/apperr"
)

// adminTOTPPage is the admin's second-factor page: its state, and during an enrolment
// the secret to load into an authenticator app and the form for its first code.
type adminTOTPPage struct {
	*layout
	Status auth.TOTPStatus
	// Enrolment is set right after "Set up": the secret is shown once, on this page.
	Enrolment *auth.TOTPEnrolment
	Form      *form
	Notice    string
}

// requireAdminRole lets admins through without asking for a second factor: the
// second-factor pages are where an admin gets one. The service checks the role again
// against the database.
func (p *Pages) requireAdminRole(c *gin.Context) {
	if pr := principal(c); pr == nil || !pr.IsAdmin() {
		p.fail(c, errors.New("admins only: "+apperr.ErrForbidden.Error()))
		return
	}
	c.Next()
}

func (p *Pages) adminTOTP(c *gin.Context) {
	notice := ""
	if c.Query("done") == "enabled" {
		notice = "The second factor is on: signing in now needs a code from your authenticator app."
	}
	p.renderTOTP(c, http.StatusOK, &adminTOTPPage{Form: newForm(), Notice: notice})
}

// adminBeginTOTP shows a new secret; it becomes the second factor with its first code.
func (p *Pages) adminBeginTOTP(c *gin.Context) {
	e, err := p.auth.BeginTOTP(c.Request.Context(), *principal(c))
	if err != nil {
		p.fail(c, err)
		return
	}
	p.renderTOTP(c, http.StatusOK, &adminTOTPPage{Enrolment: &e, Form: newForm()})
}

// adminConfirmTOTP checks the first code and, with it, signs the admin in again with a
// session that passed the second factor.
func (p *Pages) adminConfirmTOTP(c *gin.Context) {
	f := newForm().read(c, []string{"code"})
	s, err := p.auth.ConfirmTOTP(c.Request.Context(), *principal(c), f.Values["code"])
	switch {
	case err == nil:
		p.startSession(c, s)
		c.Redirect(http.StatusSeeOther, "/admin/totp?done=enabled")
	case f.fieldErrors(err, nil), errors.Is(err, apperr.ErrConflict):
		if f.Error == "" {
			f.Error = sentence(err.Error())
		}
		// The secret stays pending: show it again (from the database) with the error.
		e, perr := p.auth.PendingTOTP(c.Request.Context(), *principal(c))
		if perr != nil {
			p.fail(c, perr)
			return
		}
		f.Values["code"] = ""
		p.renderTOTP(c, http.StatusUnprocessableEntity, &adminTOTPPage{Enrolment: e, Form: f})
	default:
		p.fail(c, err)
	}
}

func (p *Pages) renderTOTP(c *gin.Context, status int, page *adminTOTPPage) {
	st, err := p.auth.TOTPStatus(c.Request.Context(), *principal(c))
	if err != nil {
		p.fail(c, err)
		return
	}
	l, err := p.adminLayout(c, "Second factor")
	if err != nil {
		p.fail(c, err)
		return
	}
	page.layout, page.Status = l, st
	p.render(c, status, "admin_totp", page)
}
