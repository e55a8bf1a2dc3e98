package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/storefront-operator/storefront/shop/auth"
	"github.com/storefront-operator/storefront/shop/platform/config"
	"github.com/storefront-operator/storefront/test/shoptest"
)

// bootstrapAdmin runs migrate's admin bootstrap (auth.EnsureAdmin) on the shop's
// database, as `shop migrate` does with ADMIN_EMAIL and ADMIN_PASSWORD.
func bootstrapAdmin(t *testing.T, shop *shoptest.Shop, email, password string) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, shop.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close(ctx) }()
	created, err := auth.EnsureAdmin(ctx, conn, email, password)
	if err != nil {
		t.Fatal(err)
	}
	return created
}

type changeProblem struct {
	Type        string `json:"type"`
	ChangeToken string `json:"change_token"`
}

func login(t *testing.T, shop *shoptest.Shop, body map[string]string) (*http.Response, []byte) {
	t.Helper()
	return call(t, shop, "POST", "/api/v1/auth/login", "", body)
}

func TestBootstrapAdminMustChangeItsPassword(t *testing.T) {
	shop := shoptest.Start(t, shoptest.Options{})
	const email, generated = "admin-0a1b2c3d@shop.example.com", "generated-Secret-password-0123456789"
	if !bootstrapAdmin(t, shop, email, generated) {
		t.Fatal("migrate created no admin")
	}

	// The generated password opens no session: it only lets the admin choose another.
	resp, body := login(t, shop, map[string]string{"email": email, "password": generated})
	expectProblem(t, resp, body, http.StatusForbidden, "")
	p := decode[changeProblem](t, body)
	if p.Type != "https://storefront.dev/problems/password-change-required" || p.ChangeToken == "" {
		t.Fatalf("login answered %s", body)
	}
	var s map[string]any
	if json.Unmarshal(body, &s); s["token"] != nil {
		t.Fatalf("a session came with the refusal: %s", body)
	}

	change := func(tok, pw string) (*http.Response, []byte) {
		return call(t, shop, "POST", "/api/v1/auth/password-change", "", map[string]string{"change_token": tok, "new_password": pw})
	}
	t.Run("a short new password is 422", func(t *testing.T) {
		resp, body := change(p.ChangeToken, "short")
		expectProblem(t, resp, body, http.StatusUnprocessableEntity, "new_password")
	})
	t.Run("the generated password again is 422", func(t *testing.T) {
		resp, body := change(p.ChangeToken, generated)
		expectProblem(t, resp, body, http.StatusUnprocessableEntity, "new_password")
	})
	t.Run("a forged token is 401", func(t *testing.T) {
		resp, body := change(p.ChangeToken[:len(p.ChangeToken)-2]+"AA", "the admin's own password")
		expectProblem(t, resp, body, http.StatusUnauthorized, "")
	})

	resp, body = change(p.ChangeToken, "the admin's own password")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("password change: %d %s", resp.StatusCode, body)
	}
	sess := decode[auth.Session](t, body)
	if sess.User.Email != email || sess.User.Role != auth.RoleAdmin {
		t.Fatalf("session %+v", sess)
	}
	if resp, body := call(t, shop, "GET", "/api/v1/admin/orders", sess.Token, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("the admin API with the new session: %d %s", resp.StatusCode, body)
	}

	t.Run("the token works once", func(t *testing.T) {
		resp, body := change(p.ChangeToken, "yet another password")
		expectProblem(t, resp, body, http.StatusUnauthorized, "")
	})
	t.Run("the generated password stops working", func(t *testing.T) {
		resp, body := login(t, shop, map[string]string{"email": email, "password": generated})
		expectProblem(t, resp, body, http.StatusUnauthorized, "")
	})
	t.Run("the new password signs in", func(t *testing.T) {
		if resp, body := login(t, shop, map[string]string{"email": email, "password": "the admin's own password"}); resp.StatusCode != http.StatusOK {
			t.Fatalf("login: %d %s", resp.StatusCode, body)
		}
	})
	t.Run("a later migrate leaves the changed password alone", func(t *testing.T) {
		if bootstrapAdmin(t, shop, email, generated) {
			t.Fatal("a second admin was created")
		}
		if resp, body := login(t, shop, map[string]string{"email": email, "password": "the admin's own password"}); resp.StatusCode != http.StatusOK {
			t.Fatalf("login: %d %s", resp.StatusCode, body)
		}
	})
}

func TestEarlierBootstrapAdminStillOnItsSecretMustChangeIt(t *testing.T) {
	shop := shoptest.Start(t, shoptest.Options{})
	// An admin from a release before the forced change: the password is the Secret's.
	const email, generated = "admin@shop.example.com", "generated-Secret-password-0123456789"
	exec(t, shop.DatabaseURL, `INSERT INTO users (email, name, password_hash, role) VALUES ($1, 'Administrator', $2, 'admin')`,
		email, mustHash(t, generated))
	if resp, body := login(t, shop, map[string]string{"email": email, "password": generated}); resp.StatusCode != http.StatusOK {
		t.Fatalf("before migrate: %d %s", resp.StatusCode, body)
	}
	bootstrapAdmin(t, shop, email, generated)
	resp, body := login(t, shop, map[string]string{"email": email, "password": generated})
	expectProblem(t, resp, body, http.StatusForbidden, "")
}

func mustHash(t *testing.T, pw string) string {
	t.Helper()
	h, err := auth.HashPassword(pw)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// totpNow is the code of secret for the step of now plus offset steps.
func totpNow(t *testing.T, secret string, offset int64) string {
	t.Helper()
	c, err := auth.TOTPCode(secret, auth.TOTPStep(time.Now())+offset)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestRFC6238TestVectors(t *testing.T) {
	// RFC 6238 Appendix B, SHA-1 rows: the seed "12345678901234567890", 8-digit codes
	// whose last 6 digits are the 6-digit code of the same step.
	const seedBase32 = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
	vectors := map[int64]string{59: "94287082", 1111111109: "07081804", 1111111111: "14050471",
		1234567890: "89005924", 2000000000: "69279037", 20000000000: "65353130"}
	for unix, want := range vectors {
		got, err := auth.TOTPCode(seedBase32, auth.TOTPStep(time.Unix(unix, 0)))
		if err != nil {
			t.Fatal(err)
		}
		if got != want[2:] {
			t.Errorf("T=%d: code %s, want %s", unix, got, want[2:])
		}
	}
}

func TestAdminTOTPEnrolVerifyReplay(t *testing.T) {
	shop := shoptest.Start(t, shoptest.Options{})
	admin, oldToken := newAdmin(t, shop)
	other, err := shop.App.Auth.IssueSession(context.Background(), admin)
	if err != nil {
		t.Fatal(err)
	}
	otherToken := other.Token
	_, customer := newUser(t, shop)

	if resp, body := call(t, shop, "POST", "/api/v1/admin/totp", customer, nil); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("a customer enrolling: %d %s", resp.StatusCode, body)
	}
	resp, body := call(t, shop, "POST", "/api/v1/admin/totp", oldToken, nil)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("begin: %d %s", resp.StatusCode, body)
	}
	e := decode[auth.TOTPEnrolment](t, body)
	if len(e.Secret) < 32 || e.URI == "" {
		t.Fatalf("enrolment %+v", e)
	}
	// Not enabled until confirmed: login still needs no code.
	if resp, body := login(t, shop, map[string]string{"email": admin.Email, "password": "correct horse battery"}); resp.StatusCode != http.StatusOK {
		t.Fatalf("login before the confirmation: %d %s", resp.StatusCode, body)
	}
	wrong := "000000"
	if wrong == totpNow(t, e.Secret, 0) {
		wrong = "000001"
	}
	resp, body = call(t, shop, "POST", "/api/v1/admin/totp/confirm", oldToken, map[string]string{"code": wrong})
	expectProblem(t, resp, body, http.StatusUnprocessableEntity, "code")

	resp, body = call(t, shop, "POST", "/api/v1/admin/totp/confirm", oldToken, map[string]string{"code": totpNow(t, e.Secret, 0)})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("confirm: %d %s", resp.StatusCode, body)
	}
	verified := decode[auth.Session](t, body).Token

	t.Run("the confirmation replaces the session that made it", func(t *testing.T) {
		resp, body := call(t, shop, "GET", "/api/v1/auth/me", oldToken, nil)
		expectProblem(t, resp, body, http.StatusUnauthorized, "")
	})
	t.Run("every other session from before the enrolment is revoked", func(t *testing.T) {
		for _, r := range []struct{ method, path string }{
			{"GET", "/api/v1/auth/me"}, {"GET", "/api/v1/orders"}, {"GET", "/api/v1/admin/orders"},
			{"POST", "/api/v1/admin/totp"}, {"POST", "/api/v1/admin/totp/confirm"},
		} {
			resp, body := call(t, shop, r.method, r.path, otherToken, map[string]string{"code": totpNow(t, e.Secret, 1)})
			expectProblem(t, resp, body, http.StatusUnauthorized, "")
		}
		if resp, body := call(t, shop, "GET", "/api/v1/admin/orders", verified, nil); resp.StatusCode != http.StatusOK {
			t.Fatalf("the verified session: %d %s", resp.StatusCode, body)
		}
	})
	pw := map[string]string{"email": admin.Email, "password": "correct horse battery"}
	t.Run("login without a code is 401 totp-required", func(t *testing.T) {
		resp, body := login(t, shop, pw)
		expectProblem(t, resp, body, http.StatusUnauthorized, "")
		if p := decode[changeProblem](t, body); p.Type != "https://storefront.dev/problems/totp-required" {
			t.Errorf("type %s", p.Type)
		}
	})
	t.Run("the confirmation's code cannot be replayed", func(t *testing.T) {
		// The confirmation used the current step: its code (and older ones) are spent.
		resp, body := login(t, shop, map[string]string{"email": admin.Email, "password": "correct horse battery", "totp_code": totpNow(t, e.Secret, -1)})
		expectProblem(t, resp, body, http.StatusUnauthorized, "")
	})
	next := totpNow(t, e.Secret, 1)
	t.Run("the next code signs in once", func(t *testing.T) {
		resp, body := login(t, shop, map[string]string{"email": admin.Email, "password": "correct horse battery", "totp_code": next})
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("login with a code: %d %s", resp.StatusCode, body)
		}
		if resp, body := call(t, shop, "GET", "/api/v1/admin/orders", decode[auth.Session](t, body).Token, nil); resp.StatusCode != http.StatusOK {
			t.Fatalf("its session on the admin API: %d %s", resp.StatusCode, body)
		}
		resp, body = login(t, shop, map[string]string{"email": admin.Email, "password": "correct horse battery", "totp_code": next})
		expectProblem(t, resp, body, http.StatusUnauthorized, "")
	})
	t.Run("a wrong password with the code is 401", func(t *testing.T) {
		resp, body := login(t, shop, map[string]string{"email": admin.Email, "password": "wrong password!", "totp_code": totpNow(t, e.Secret, 0)})
		expectProblem(t, resp, body, http.StatusUnauthorized, "")
	})
}

// TestEnrolmentRevokesEarlierSessionsOnEveryReplica: two replicas on one database. An
// admin's session stolen before the enrolment works on both; once the admin confirms a
// second factor on one, both refuse it (401 problem, the same answer as a logged-out
// token): the replica that confirmed at once, the other within a second
// (auth.Revocations). The confirmation's session opens the admin API on both.
func TestEnrolmentRevokesEarlierSessionsOnEveryReplica(t *testing.T) {
	a := shoptest.Start(t, shoptest.Options{})
	b := shoptest.Start(t, shoptest.Options{DatabaseURL: a.DatabaseURL})
	admin, confirming := newAdmin(t, a)
	resp, body := login(t, b, map[string]string{"email": admin.Email, "password": "correct horse battery"})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("login: %d %s", resp.StatusCode, body)
	}
	stolen := decode[auth.Session](t, body).Token
	for _, s := range []*shoptest.Shop{a, b} {
		if resp, body := call(t, s, "GET", "/api/v1/admin/orders", stolen, nil); resp.StatusCode != http.StatusOK {
			t.Fatalf("the stolen session before the enrolment: %d %s", resp.StatusCode, body)
		}
	}

	resp, body = call(t, a, "POST", "/api/v1/admin/totp", confirming, nil)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("begin: %d %s", resp.StatusCode, body)
	}
	e := decode[auth.TOTPEnrolment](t, body)
	resp, body = call(t, a, "POST", "/api/v1/admin/totp/confirm", confirming, map[string]string{"code": totpNow(t, e.Secret, 0)})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("confirm: %d %s", resp.StatusCode, body)
	}
	verified := decode[auth.Session](t, body).Token

	resp, body = call(t, a, "GET", "/api/v1/auth/me", stolen, nil)
	expectProblem(t, resp, body, http.StatusUnauthorized, "")
	refusedWithinStaleness(t, b, stolen, "b", "the stolen session")
	for _, s := range []*shoptest.Shop{a, b} {
		resp, body := call(t, s, "GET", "/api/v1/admin/orders", stolen, nil)
		expectProblem(t, resp, body, http.StatusUnauthorized, "")
		if resp, body := call(t, s, "GET", "/api/v1/admin/orders", verified, nil); resp.StatusCode != http.StatusOK {
			t.Errorf("the confirmation's session: %d %s", resp.StatusCode, body)
		}
	}
}

// TestPasswordChangeRevokesEarlierSessionsOnEveryReplica: an admin of an earlier release
// signed in with the Secret's password; migrate demands a new one. Once it is set on one
// replica, the old session is refused by both; the change's session works on both.
func TestPasswordChangeRevokesEarlierSessionsOnEveryReplica(t *testing.T) {
	a := shoptest.Start(t, shoptest.Options{})
	b := shoptest.Start(t, shoptest.Options{DatabaseURL: a.DatabaseURL})
	const email, generated = "admin@shop.example.com", "generated-Secret-password-0123456789"
	exec(t, a.DatabaseURL, `INSERT INTO users (email, name, password_hash, role) VALUES ($1, 'Administrator', $2, 'admin')`,
		email, mustHash(t, generated))
	resp, body := login(t, a, map[string]string{"email": email, "password": generated})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("before migrate: %d %s", resp.StatusCode, body)
	}
	old := decode[auth.Session](t, body).Token
	bootstrapAdmin(t, a, email, generated)
	resp, body = login(t, b, map[string]string{"email": email, "password": generated})
	expectProblem(t, resp, body, http.StatusForbidden, "")
	for _, s := range []*shoptest.Shop{a, b} {
		if resp, body := call(t, s, "GET", "/api/v1/admin/orders", old, nil); resp.StatusCode != http.StatusOK {
			t.Fatalf("the old password's session before the change: %d %s", resp.StatusCode, body)
		}
	}

	resp, body = call(t, b, "POST", "/api/v1/auth/password-change", "", map[string]string{
		"change_token": decode[changeProblem](t, body).ChangeToken, "new_password": "the admin's own password"})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("password change: %d %s", resp.StatusCode, body)
	}
	changed := decode[auth.Session](t, body).Token
	resp, body = call(t, b, "GET", "/api/v1/auth/me", old, nil)
	expectProblem(t, resp, body, http.StatusUnauthorized, "")
	refusedWithinStaleness(t, a, old, "a", "the old password's session")
	for _, s := range []*shoptest.Shop{a, b} {
		if resp, body := call(t, s, "GET", "/api/v1/admin/orders", changed, nil); resp.StatusCode != http.StatusOK {
			t.Errorf("the password change's session: %d %s", resp.StatusCode, body)
		}
	}
}

func TestRequireTOTPForAdmins(t *testing.T) {
	shop := shoptest.Start(t, shoptest.Options{Config: func(c *config.Config) { c.AdminRequireTOTP = true }})
	_, token := newAdmin(t, shop)
	resp, body := call(t, shop, "GET", "/api/v1/admin/orders", token, nil)
	expectProblem(t, resp, body, http.StatusForbidden, "")

	resp, body = call(t, shop, "GET", "/api/v1/admin/totp", token, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status: %d %s", resp.StatusCode, body)
	}
	if st := decode[auth.TOTPStatus](t, body); st.Enabled || !st.Required || st.SessionVerified {
		t.Fatalf("status %+v", st)
	}
	resp, body = call(t, shop, "POST", "/api/v1/admin/totp", token, nil)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("begin: %d %s", resp.StatusCode, body)
	}
	e := decode[auth.TOTPEnrolment](t, body)
	resp, body = call(t, shop, "POST", "/api/v1/admin/totp/confirm", token, map[string]string{"code": totpNow(t, e.Secret, 0)})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("confirm: %d %s", resp.StatusCode, body)
	}
	if resp, body := call(t, shop, "GET", "/api/v1/admin/orders", decode[auth.Session](t, body).Token, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("after the enrolment: %d %s", resp.StatusCode, body)
	}
}

func TestTOTPGuessesAreCappedPerAccount(t *testing.T) {
	shop := shoptest.Start(t, shoptest.Options{Config: func(c *config.Config) {
		// Each guess from another address, as a botnet would send them.
		c.TrustedProxies = []string{"127.0.0.1"}
		c.Limits.LoginSoftDelay, c.Limits.LoginMaxSoftDelay = time.Millisecond, time.Millisecond
	}})
	admin, token := newAdmin(t, shop)
	resp, body := call(t, shop, "POST", "/api/v1/admin/totp", token, nil)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("begin: %d %s", resp.StatusCode, body)
	}
	e := decode[auth.TOTPEnrolment](t, body)
	if resp, body := call(t, shop, "POST", "/api/v1/admin/totp/confirm", token, map[string]string{"code": totpNow(t, e.Secret, 0)}); resp.StatusCode != http.StatusOK {
		t.Fatalf("confirm: %d %s", resp.StatusCode, body)
	}
	wrong := func() string {
		for _, c := range []string{"000000", "111111", "222222"} {
			if c != totpNow(t, e.Secret, 0) && c != totpNow(t, e.Secret, 1) && c != totpNow(t, e.Secret, -1) {
				return c
			}
		}
		t.Fatal("no wrong code")
		return ""
	}()
	attempt := func(i int, code string) (*http.Response, []byte) {
		return call(t, shop, "POST", "/api/v1/auth/login", "", map[string]string{"email": admin.Email, "password": "correct horse battery", "totp_code": code},
			"X-Forwarded-For", fmt.Sprintf("198.51.100.%d", i+1))
	}
	for i := range auth.DefaultThrottleLimits.TOTPPerAccount {
		resp, body := attempt(i, wrong)
		expectProblem(t, resp, body, http.StatusUnauthorized, "")
	}
	resp, body = attempt(200, totpNow(t, e.Secret, 1))
	expectProblem(t, resp, body, http.StatusTooManyRequests, "")
	if resp.Header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
}

// TestPasswordChangeThrottledPerAccount: a valid change token buys at most
// auth.DefaultThrottleLimits.PasswordChangePerAccount attempts (each costs two bcrypt
// operations) per window; then 429 with Retry-After, the right new password included.
func TestPasswordChangeThrottledPerAccount(t *testing.T) {
	shop := shoptest.Start(t, shoptest.Options{})
	const email, generated = "admin-0a1b2c3d@shop.example.com", "generated-Secret-password-0123456789"
	if !bootstrapAdmin(t, shop, email, generated) {
		t.Fatal("migrate created no admin")
	}
	_, body := login(t, shop, map[string]string{"email": email, "password": generated})
	tok := decode[changeProblem](t, body).ChangeToken
	change := func(pw string) (*http.Response, []byte) {
		return call(t, shop, "POST", "/api/v1/auth/password-change", "", map[string]string{"change_token": tok, "new_password": pw})
	}
	if n := auth.DefaultThrottleLimits.PasswordChangePerAccount; n != 5 {
		t.Fatalf("PasswordChangePerAccount = %d, the README and the OpenAPI document say 5", n)
	}
	for i := 0; i < 5; i++ {
		resp, body := change(generated) // the old password again: 422 after the bcrypt comparison
		expectProblem(t, resp, body, http.StatusUnprocessableEntity, "new_password")
	}
	resp, body := change("the admin's own password")
	expectProblem(t, resp, body, http.StatusTooManyRequests, "")
	if ra := resp.Header.Get("Retry-After"); ra == "" || ra == "0" {
		t.Errorf("429 with Retry-After %q", ra)
	}
	if resp, _ := login(t, shop, map[string]string{"email": email, "password": "the admin's own password"}); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("the refused change took effect: login with it answered %d", resp.StatusCode)
	}
	// Once the window ends (its rows gone), the token works again.
	exec(t, shop.DatabaseURL, `DELETE FROM login_throttle`)
	if resp, body := change("the admin's own password"); resp.StatusCode != http.StatusOK {
		t.Fatalf("after the window: %d %s", resp.StatusCode, body)
	}
}

// refusedWithinStaleness checks that replica s, which did not make the change, refuses
// token within the revocation list's staleness bound (auth.DefaultMaxStaleness).
func refusedWithinStaleness(t *testing.T, s *shoptest.Shop, token, replica, what string) {
	t.Helper()
	took := eventually(t, 2*time.Second, replica+" refuses "+what, func() bool {
		resp, _ := call(t, s, "GET", "/api/v1/auth/me", token, nil)
		return resp.StatusCode == http.StatusUnauthorized
	})
	if took > auth.DefaultMaxStaleness+200*time.Millisecond {
		t.Errorf("%s accepted %s for %s", replica, what, took)
	}
}
