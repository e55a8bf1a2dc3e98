package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/storefront-operator/storefront/shop/web"
)

// TestPreEnrolmentSessionCannotTakeOverAReEnrolment: an admin enrols a second factor,
// then, signed in with it, starts replacing it. Sessions from before the enrolment (the
// one that confirmed it, and another one, say a stolen cookie) are signed out: they
// neither see the new secret on the confirmation's error page nor confirm it, and so
// never get a verified session back, nor keep the account pages.
func TestPreEnrolmentSessionCannotTakeOverAReEnrolment(t *testing.T) {
	shop := startShop(t)
	const email = "reenrol-admin@example.com"
	makeAdmin(t, shop, email)
	v := newVisitor(t, shop)
	expectStatus(t, signIn(t, v, email, password), http.StatusSeeOther)
	old := v.cookie(web.SessionCookie).Value
	o := newVisitor(t, shop)
	expectStatus(t, signIn(t, o, email, password), http.StatusSeeOther)
	other := o.cookie(web.SessionCookie).Value

	// Enrolment, with the session old.
	p := v.get("/admin/totp")
	p = v.post("/admin/totp", url.Values{"csrf_token": {csrf(t, p)}})
	expectStatus(t, p, http.StatusOK)
	first := totpSecretRE.FindStringSubmatch(p.Body)[1]
	r := v.post("/admin/totp/confirm", url.Values{"code": {totpCode(t, first, 0)}, "csrf_token": {csrf(t, p)}})
	expectStatus(t, r, http.StatusSeeOther)
	if v.cookie(web.SessionCookie).Value == old {
		t.Fatal("the confirmation kept the old session")
	}
	// The other browser is signed out: its cookie is dropped and the account page asks
	// it to sign in.
	if loc := o.get("/account").Header.Get("Location"); loc != "/login?next=%2Faccount" {
		t.Errorf("the other session from before the enrolment on /account: Location %q, want the sign-in page", loc)
	}
	if c := o.cookie(web.SessionCookie); c != nil && c.Value != "" {
		t.Error("the other session's cookie was kept")
	}
	// The verified session starts a re-enrolment.
	p = v.post("/admin/totp", url.Values{"csrf_token": {csrf(t, v.get("/admin/totp"))}})
	expectStatus(t, p, http.StatusOK)
	second := totpSecretRE.FindStringSubmatch(p.Body)[1]
	wrong := "000000"
	if wrong == totpCode(t, second, 0) || wrong == totpCode(t, second, -1) || wrong == totpCode(t, second, 1) {
		wrong = "999999"
	}

	for name, token := range map[string]string{"the session that confirmed the enrolment": old, "another session from before it": other} {
		t.Run(name, func(t *testing.T) {
			a := newVisitor(t, shop)
			u, _ := url.Parse(shop.URL)
			// The attacker presents the cookie on every request, even after the shop
			// deleted it.
			as := func() { a.c.Jar.SetCookies(u, []*http.Cookie{{Name: web.SessionCookie, Value: token, Path: "/"}}) }
			as()
			g := a.get("/admin/totp")
			tok := ""
			if g.StatusCode == http.StatusOK {
				tok = csrf(t, g)
			} else {
				as()
				tok = formToken(t, a, "/login")
			}
			as()
			r := a.post("/admin/totp/confirm", url.Values{"code": {wrong}, "csrf_token": {tok}})
			if r.StatusCode == http.StatusUnprocessableEntity || strings.Contains(r.Body, second) || strings.Contains(r.Body, `id="totp-secret"`) {
				t.Errorf("a wrong code gets the enrolment's error page (status %d; the pending secret shown: %v)", r.StatusCode, strings.Contains(r.Body, second))
			}
			as()
			r = a.post("/admin/totp/confirm", url.Values{"code": {totpCode(t, second, 0)}, "csrf_token": {tok}})
			if r.StatusCode == http.StatusSeeOther {
				t.Errorf("the right code for the pending secret was accepted: 303 to %s", r.Header.Get("Location"))
			}
			if got := a.get("/admin/orders"); got.StatusCode == http.StatusOK {
				t.Errorf("the session from before the enrolment reads the admin's orders")
			}
		})
	}

	// The verified session still completes its re-enrolment.
	r = v.post("/admin/totp/confirm", url.Values{"code": {totpCode(t, second, 0)}, "csrf_token": {csrf(t, p)}})
	expectStatus(t, r, http.StatusSeeOther)
	expectStatus(t, v.get("/admin"), http.StatusOK)
}
