package web_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"testing"
	"time"

	"github.com/storefront-operator/storefront/shop/auth"
	"github.com/storefront-operator/storefront/shop/platform/config"
	"github.com/storefront-operator/storefront/shop/web"
	"github.com/storefront-operator/storefront/test/shoptest"
)

var (
	changeTokenRE = regexp.MustCompile(`name="change_token" value="([^"]+)"`)
	totpSecretRE  = regexp.MustCompile(`id="totp-secret">([A-Z2-7]+)<`)
)

// bootstrapAdmin runs migrate's admin bootstrap on shop's database.
func bootstrapAdmin(t *testing.T, shop *shoptest.Shop, email, pw string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := shop.App.DB.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	if created, err := auth.EnsureAdmin(ctx, conn, email, pw); err != nil || !created {
		t.Fatalf("bootstrap: %v %v", created, err)
	}
}

func totpCode(t *testing.T, secret string, offset int64) string {
	t.Helper()
	c, err := auth.TOTPCode(secret, auth.TOTPStep(time.Now())+offset)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestFirstSignInChangesTheGeneratedPassword(t *testing.T) {
	shop := startShop(t)
	const email, generated = "admin-1f2e3d4c@shop.example.com", "generated-secret-password-0123"
	bootstrapAdmin(t, shop, email, generated)
	v := newVisitor(t, shop)

	p := signIn(t, v, email, generated)
	expectStatus(t, p, http.StatusOK)
	expectContains(t, p, "Choose a new password", `action="/password-change"`)
	checkAccessibility(t, p.Body)
	if v.cookie(web.SessionCookie) != nil {
		t.Fatal("the generated password opened a session")
	}
	m := changeTokenRE.FindStringSubmatch(p.Body)
	if m == nil {
		t.Fatalf("no change token on the page")
	}
	t.Run("two different passwords are refused next to the field", func(t *testing.T) {
		r := v.post("/password-change", url.Values{"change_token": {m[1]}, "new_password": {"the admin's own password"},
			"confirm_password": {"something else entirely"}, "csrf_token": {csrf(t, p)}})
		expectStatus(t, r, http.StatusUnprocessableEntity)
		expectContains(t, r, `id="f-confirm_password-error"`)
		checkAccessibility(t, r.Body)
	})
	r := v.post("/password-change", url.Values{"change_token": {m[1]}, "new_password": {"the admin's own password"},
		"confirm_password": {"the admin's own password"}, "csrf_token": {csrf(t, p)}})
	expectStatus(t, r, http.StatusSeeOther)
	if v.cookie(web.SessionCookie) == nil {
		t.Fatal("the change signed nobody in")
	}
	expectStatus(t, v.get("/admin"), http.StatusOK)

	other := newVisitor(t, shop)
	expectStatus(t, signIn(t, other, email, generated), http.StatusUnauthorized)
	expectStatus(t, signIn(t, other, email, "the admin's own password"), http.StatusSeeOther)
}

func TestAdminTOTPPages(t *testing.T) {
	shop := startShop(t)
	const email = "totp-admin@example.com"
	makeAdmin(t, shop, email)
	v := newVisitor(t, shop)
	expectStatus(t, signIn(t, v, email, password), http.StatusSeeOther)

	p := v.get("/admin/totp")
	expectStatus(t, p, http.StatusOK)
	expectContains(t, p, "no second factor")
	p = v.post("/admin/totp", url.Values{"csrf_token": {csrf(t, p)}})
	expectStatus(t, p, http.StatusOK)
	checkAccessibility(t, p.Body)
	m := totpSecretRE.FindStringSubmatch(p.Body)
	if m == nil {
		t.Fatalf("no secret on the page:\n%.3000s", p.Body)
	}
	secret := m[1]
	wrong := "000000"
	if wrong == totpCode(t, secret, 0) {
		wrong = "000001"
	}
	r := v.post("/admin/totp/confirm", url.Values{"code": {wrong}, "csrf_token": {csrf(t, p)}})
	expectStatus(t, r, http.StatusUnprocessableEntity)
	expectContains(t, r, `id="f-code-error"`, secret)
	r = v.post("/admin/totp/confirm", url.Values{"code": {totpCode(t, secret, 0)}, "csrf_token": {csrf(t, r)}})
	expectStatus(t, r, http.StatusSeeOther)
	expectContains(t, v.get("/admin/totp?done=enabled"), "The second factor is on")
	expectStatus(t, v.get("/admin"), http.StatusOK)

	// Signing in now takes a code, each code once.
	w := newVisitor(t, shop)
	p = signIn(t, w, email, password)
	expectStatus(t, p, http.StatusUnauthorized)
	expectContains(t, p, `name="totp_code"`, `id="f-totp_code-error"`)
	checkAccessibility(t, p.Body)
	next := totpCode(t, secret, 1)
	ok := w.post("/login", url.Values{"email": {email}, "password": {password}, "totp_code": {next}, "csrf_token": {csrf(t, p)}})
	expectStatus(t, ok, http.StatusSeeOther)
	expectStatus(t, w.get("/admin"), http.StatusOK)

	x := newVisitor(t, shop)
	form := x.get("/login")
	replay := x.post("/login", url.Values{"email": {email}, "password": {password}, "totp_code": {next}, "csrf_token": {csrf(t, form)}})
	expectStatus(t, replay, http.StatusUnauthorized)
	if x.cookie(web.SessionCookie) != nil {
		t.Error("a replayed code opened a session")
	}
}

func TestRequireTOTPSendsAdminsToEnrol(t *testing.T) {
	shop := shoptest.Start(t, shoptest.Options{Config: func(c *config.Config) { c.PasswordCost = 4; c.AdminRequireTOTP = true }})
	const email = "must-enrol@example.com"
	makeAdmin(t, shop, email)
	v := newVisitor(t, shop)
	expectStatus(t, signIn(t, v, email, password), http.StatusSeeOther)
	p := v.get("/admin/orders")
	expectStatus(t, p, http.StatusSeeOther)
	if loc := p.Header.Get("Location"); loc != "/admin/totp" {
		t.Fatalf("redirected to %q", loc)
	}
	expectContains(t, v.get("/admin/totp"), "This shop requires one for admins")
}
