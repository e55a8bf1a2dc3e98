package auth_test

import (
	"context"
	"errors"
	"testing"

	"github.com/storefront-operator/storefront/shop/auth"
	"github.com/storefront-operator/storefront/shop/platform/apperr"
)

// TestPreEnrolmentSessionCannotTakeOverAReEnrolment: a session opened without a code
// (stolen, say) of an admin who has a second factor neither sees nor confirms the
// enrolment that a verified session started, and the session that confirmed an
// enrolment stops working: the confirmation replaced it.
func TestPreEnrolmentSessionCannotTakeOverAReEnrolment(t *testing.T) {
	ctx := context.Background()
	s := newTestService(t, auth.Options{})
	u := s.register(t)
	if _, err := s.pool.Exec(ctx, `UPDATE users SET role = 'admin' WHERE id = $1`, u.ID); err != nil {
		t.Fatal(err)
	}
	u.Role = auth.RoleAdmin
	oldSession, err := s.IssueSession(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	other := s.principal(t, u, "") // another session from before the enrolment
	old := s.principal(t, u, oldSession.Token)
	e, err := s.BeginTOTP(ctx, old)
	if err != nil {
		t.Fatal(err)
	}
	verified, err := s.ConfirmTOTP(ctx, old, code(t, e.Secret, 0))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Verify(ctx, oldSession.Token); !errors.Is(err, apperr.ErrUnauthorized) {
		t.Errorf("the session that confirmed the enrolment still verifies (%v): it must be replaced by the new one", err)
	}
	v := s.principal(t, u, verified.Token)
	if !v.MFA {
		t.Fatal("the confirmation's session is not verified")
	}
	re, err := s.BeginTOTP(ctx, v)
	if err != nil {
		t.Fatal(err)
	}

	for name, p := range map[string]auth.Principal{"the confirming session": old, "another pre-enrolment session": other} {
		if pending, err := s.PendingTOTP(ctx, p); !errors.Is(err, apperr.ErrForbidden) || pending != nil {
			t.Errorf("%s reads the pending secret: %v, %v; want 403", name, pending, err)
		}
		if _, err := s.ConfirmTOTP(ctx, p, code(t, re.Secret, 0)); !errors.Is(err, apperr.ErrForbidden) {
			t.Errorf("%s confirms the re-enrolment: %v; want 403", name, err)
		}
	}
	// The verified session still completes its own re-enrolment.
	if pending, err := s.PendingTOTP(ctx, v); err != nil || pending == nil || pending.Secret != re.Secret {
		t.Fatalf("the verified session's pending secret: %v, %v", pending, err)
	}
	if _, err := s.ConfirmTOTP(ctx, v, code(t, re.Secret, 0)); err != nil {
		t.Fatalf("the verified session confirming: %v", err)
	}
}
