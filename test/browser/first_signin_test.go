package browser_test

import (
	"context"
	"testing"
	"time"

	"github.com/storefront-operator/storefront/shop/auth"
)

// TestFirstSignInChangesTheGeneratedPassword: the bootstrap admin (as `shop migrate`
// creates it from the app Secret) signs in with the generated password, is made to
// choose a new one, lands signed in on the admin pages, and the generated password no
// longer works.
func TestFirstSignInChangesTheGeneratedPassword(t *testing.T) {
	shop := startShop(t)
	const email, generated = "admin-5e6f7a8b@shop.example.com", "generated-secret-password-0123"
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := shop.App.DB.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	created, err := auth.EnsureAdmin(ctx, conn, email, generated)
	conn.Release()
	if err != nil || !created {
		t.Fatalf("bootstrap: %v %v", created, err)
	}

	b := newTab(t, shop)
	b.open("/login?next=/admin", 200)
	b.fill("#f-email", email)
	b.fill("#f-password", generated)
	b.click("log in with the generated password", "main form button[type=submit]", 200)
	b.expectText("h1", "Choose a new password")
	b.fill("#f-new_password", "the admin's own password")
	b.fill("#f-confirm_password", "the admin's own password")
	b.click("save the new password", "main form button[type=submit]", 200)
	b.expectText("h1", "Admin")
	if loc := b.location(); loc != "/admin" {
		t.Fatalf("landed on %s", loc)
	}

	// In a fresh browser the generated password is refused and the new one works.
	c := newTab(t, shop)
	c.open("/login", 200)
	c.fill("#f-email", email)
	c.fill("#f-password", generated)
	c.click("log in with the old password", "main form button[type=submit]", 401)
	c.fill("#f-email", email)
	c.fill("#f-password", "the admin's own password")
	c.click("log in with the new password", "main form button[type=submit]", 200)
	c.expectText("h1", "Your account")
}
