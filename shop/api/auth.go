package api

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/storefront-operator/storefront/shop/auth"
	"github.com/storefront-operator/storefront/shop/platform/apperr"
	"github.com/storefront-operator/storefront/shop/platform/httpserver"
)

func registerAuth(r gin.IRouter, d Deps) {
	g := r.Group("/auth")
	g.POST("/register", d.register)
	g.POST("/login", d.login)
	g.POST("/password-change", d.passwordChange)
	g.POST("/logout", d.requireUser, d.logout)
	g.GET("/me", d.requireUser, d.me)
}

// BearerToken returns the token of an "Authorization: Bearer <token>" header, or "".
func BearerToken(r *http.Request) string {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(token)
}

// requireUser lets the request through only with a valid, unrevoked bearer token, and
// keeps the caller's principal for the handler. Answers about a user are private: no
// shared cache may keep them.
func (d Deps) requireUser(c *gin.Context) {
	c.Header("Cache-Control", "no-store")
	token := BearerToken(c.Request)
	if token == "" {
		httpserver.Fail(c, fmt.Errorf("sign in and send Authorization: Bearer <token>: %w", apperr.ErrUnauthorized))
		return
	}
	p, err := d.Auth.Verify(c.Request.Context(), token)
	if err != nil {
		httpserver.Fail(c, err)
		return
	}
	c.Set(auth.PrincipalKey, &p)
	c.Next()
}

// requireAdmin follows requireUser: 403 unless the caller is (still) an admin.
func (d Deps) requireAdmin(c *gin.Context) {
	if err := d.Auth.RequireAdmin(c.Request.Context(), principal(c)); err != nil {
		httpserver.Fail(c, err)
		return
	}
	c.Next()
}

// principal is the caller requireUser verified (the pages keep theirs under the same
// key, as the same type).
func principal(c *gin.Context) auth.Principal {
	p, _ := c.Get(auth.PrincipalKey)
	return *p.(*auth.Principal)
}

func (d Deps) register(c *gin.Context) {
	var req auth.RegisterRequest
	if err := DecodeJSON(c.Request, &req); err != nil {
		httpserver.Fail(c, err)
		return
	}
	req.Client = httpserver.ClientKey(c)
	s, err := d.Auth.Register(c.Request.Context(), req)
	if err != nil {
		httpserver.Fail(c, err)
		return
	}
	c.Header("Cache-Control", "no-store")
	writeJSON(c, http.StatusCreated, s)
}

func (d Deps) login(c *gin.Context) {
	var req auth.LoginRequest
	if err := DecodeJSON(c.Request, &req); err != nil {
		httpserver.Fail(c, err)
		return
	}
	req.Client = httpserver.ClientKey(c)
	s, err := d.Auth.Login(c.Request.Context(), req)
	if err != nil {
		httpserver.Fail(c, err)
		return
	}
	c.Header("Cache-Control", "no-store")
	writeJSON(c, http.StatusOK, s)
}

// passwordChange is the first sign-in's password change (login answered 403
// password-change-required with the change token).
func (d Deps) passwordChange(c *gin.Context) {
	var req auth.PasswordChangeRequest
	if err := DecodeJSON(c.Request, &req); err != nil {
		httpserver.Fail(c, err)
		return
	}
	s, err := d.Auth.ChangePassword(c.Request.Context(), req)
	if err != nil {
		httpserver.Fail(c, err)
		return
	}
	c.Header("Cache-Control", "no-store")
	writeJSON(c, http.StatusOK, s)
}

// requireAdminRole follows requireUser for the second-factor routes, which admins
// without a second factor must reach: the service checks the role in the database.
func (d Deps) requireAdminRole(c *gin.Context) {
	if !principal(c).IsAdmin() {
		httpserver.Fail(c, fmt.Errorf("admins only: %w", apperr.ErrForbidden))
		return
	}
	c.Next()
}

// totpCodeRequest is the body of POST /admin/totp/confirm.
type totpCodeRequest struct {
	Code string `json:"code"`
}

func (d Deps) totpStatus(c *gin.Context) {
	st, err := d.Auth.TOTPStatus(c.Request.Context(), principal(c))
	if err != nil {
		httpserver.Fail(c, err)
		return
	}
	writeJSON(c, http.StatusOK, st)
}

func (d Deps) totpBegin(c *gin.Context) {
	e, err := d.Auth.BeginTOTP(c.Request.Context(), principal(c))
	if err != nil {
		httpserver.Fail(c, err)
		return
	}
	writeJSON(c, http.StatusCreated, e)
}

func (d Deps) totpConfirm(c *gin.Context) {
	var req totpCodeRequest
	if err := DecodeJSON(c.Request, &req); err != nil {
		httpserver.Fail(c, err)
		return
	}
	s, err := d.Auth.ConfirmTOTP(c.Request.Context(), principal(c), req.Code)
	if err != nil {
		httpserver.Fail(c, err)
		return
	}
	writeJSON(c, http.StatusOK, s)
}

func (d Deps) logout(c *gin.Context) {
	if err := d.Auth.Revoke(c.Request.Context(), principal(c)); err != nil {
		httpserver.Fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

func (d Deps) me(c *gin.Context) {
	u, err := d.Auth.User(c.Request.Context(), principal(c).UserID)
	if errors.Is(err, apperr.ErrNotFound) {
		err = fmt.Errorf("the account no longer exists: %w", apperr.ErrUnauthorized)
	}
	if err != nil {
		httpserver.Fail(c, err)
		return
	}
	writeJSON(c, http.StatusOK, u)
}
