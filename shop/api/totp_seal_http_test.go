package api_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/storefront-operator/storefront/shop/auth"
	"github.com/storefront-operator/storefront/shop/platform/config"
	"github.com/storefront-operator/storefront/test/shoptest"
)

func queryString(t *testing.T, dbURL, sql string, args ...any) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close(ctx) }()
	var s string
	if err := conn.QueryRow(ctx, sql, args...).Scan(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

// TestTOTPSecretsSealedAtRest: an enrolled secret is stored sealed (AES-GCM, never in the
// clear), by a shop without TOTP_KEY under a key derived from JWT_SECRET; a shop given
// TOTP_KEY reseals it at start, and so does a shop given a new TOTP_KEY with the old one
// as TOTP_KEY_PREVIOUS, secrets stored in the clear before sealing included; the admins
// keep signing in with their codes.
func TestTOTPSecretsSealedAtRest(t *testing.T) {
	const keyA, keyB = "first-totp-key-first-totp-key-first-totp", "second-totp-key-second-totp-key-second-t"
	withKeys := func(key, previous string) func(*config.Config) {
		return func(c *config.Config) { c.TOTPKey, c.TOTPKeyPrevious = key, previous }
	}
	shop := shoptest.Start(t, shoptest.Options{})
	admin, token := newAdmin(t, shop)
	resp, body := call(t, shop, "POST", "/api/v1/admin/totp", token, nil)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("begin: %d %s", resp.StatusCode, body)
	}
	e := decode[auth.TOTPEnrolment](t, body)
	pending := queryString(t, shop.DatabaseURL, `SELECT totp_pending_secret FROM users WHERE id = $1`, admin.ID)
	if !strings.HasPrefix(pending, "gcm1:") || strings.Contains(pending, e.Secret) {
		t.Errorf("the pending secret is stored as %q", pending)
	}
	if resp, body := call(t, shop, "POST", "/api/v1/admin/totp/confirm", token, map[string]string{"code": totpNow(t, e.Secret, 0)}); resp.StatusCode != http.StatusOK {
		t.Fatalf("confirm: %d %s", resp.StatusCode, body)
	}
	sealedA := queryString(t, shop.DatabaseURL, `SELECT totp_secret FROM users WHERE id = $1`, admin.ID)
	if !strings.HasPrefix(sealedA, "gcm1:") || strings.Contains(sealedA, e.Secret) || len(sealedA) > 128 {
		t.Fatalf("the secret is stored as %q", sealedA)
	}

	derived := sealedA
	shoptest.Start(t, shoptest.Options{DatabaseURL: shop.DatabaseURL, Config: withKeys(keyA, "")})
	sealedA = queryString(t, shop.DatabaseURL, `SELECT totp_secret FROM users WHERE id = $1`, admin.ID)
	if !strings.HasPrefix(sealedA, "gcm1:") || sealedA[5:13] == derived[5:13] {
		t.Errorf("with TOTP_KEY the secret is stored as %q (before: %q), want a new key id", sealedA, derived)
	}

	// An admin whose secret was stored in the clear, before secrets were sealed.
	legacy, _ := newAdmin(t, shop)
	const legacySecret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
	exec(t, shop.DatabaseURL, `UPDATE users SET totp_secret = $2 WHERE id = $1`, legacy.ID, legacySecret)

	rotated := shoptest.Start(t, shoptest.Options{DatabaseURL: shop.DatabaseURL, Config: withKeys(keyB, keyA)})
	sealedB := queryString(t, shop.DatabaseURL, `SELECT totp_secret FROM users WHERE id = $1`, admin.ID)
	if sealedB == sealedA || !strings.HasPrefix(sealedB, "gcm1:") || sealedB[5:13] == sealedA[5:13] {
		t.Errorf("after the rotation the secret is stored as %q (before: %q), want a new key id", sealedB, sealedA)
	}
	if s := queryString(t, shop.DatabaseURL, `SELECT totp_secret FROM users WHERE id = $1`, legacy.ID); !strings.HasPrefix(s, "gcm1:"+sealedB[5:13]+":") {
		t.Errorf("the secret stored in the clear is now %q, want it sealed with the new key", s)
	}
	for _, a := range []struct {
		email, secret string
	}{{admin.Email, e.Secret}, {legacy.Email, legacySecret}} {
		resp, body := login(t, rotated, map[string]string{"email": a.email, "password": "correct horse battery", "totp_code": totpNow(t, a.secret, 1)})
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s signing in with a code after the rotation: %d %s", a.email, resp.StatusCode, body)
		}
	}
}
