package auth_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/storefront-operator/storefront/shop/auth"
	"github.com/storefront-operator/storefront/shop/platform/apperr"
	"github.com/storefront-operator/storefront/test/shoptest"
)

// replicaService is one shop process on dbURL: a pool, a revocation list that follows
// PostgreSQL (loaded before it returns) and the auth service over them.
func replicaService(t *testing.T, dbURL string) testService {
	t.Helper()
	r, pool := replica(t, dbURL)
	return serviceOn(t, pool, auth.Options{Revocations: r})
}

// refused reports whether s refuses token as revoked (401), failing on any other error.
func refused(t *testing.T, s testService, token string) bool {
	t.Helper()
	_, err := s.Verify(context.Background(), token)
	if err != nil && !errors.Is(err, apperr.ErrUnauthorized) {
		t.Fatalf("Verify: %v", err)
	}
	return err != nil
}

// refusedEverywhere checks that the replica that made the change refuses token at once
// and every other replica within MaxStaleness (auth.Revocations: milliseconds when the
// notification arrives, the PostgreSQL fallback otherwise).
func refusedEverywhere(t *testing.T, what, token string, changed testService, others ...testService) {
	t.Helper()
	if !refused(t, changed, token) {
		t.Errorf("%s: the replica that made the change accepts it", what)
	}
	refusedWithin(t, what, token, others...)
}

// refusedWithin checks that each of replicas refuses token within MaxStaleness of the
// change (which committed before the call).
func refusedWithin(t *testing.T, what, token string, replicas ...testService) {
	t.Helper()
	for _, o := range replicas {
		took := waitFor(t, 2*auth.DefaultMaxStaleness, what+": another replica refuses it", func() bool { return refused(t, o, token) })
		if took > auth.DefaultMaxStaleness+200*time.Millisecond {
			t.Errorf("%s: another replica accepted it for %s", what, took)
		}
		t.Logf("%s: refused by another replica after %s", what, took)
	}
}

func acceptedEverywhere(t *testing.T, what, token string, replicas ...testService) {
	t.Helper()
	for i, r := range replicas {
		if refused(t, r, token) {
			t.Errorf("%s: replica %d refuses it", what, i)
		}
	}
}

// makeAdmin registers an account on s and makes it an admin.
func makeAdmin(t *testing.T, s testService) auth.User {
	t.Helper()
	u := s.register(t)
	if _, err := s.pool.Exec(context.Background(), `UPDATE users SET role = 'admin' WHERE id = $1`, u.ID); err != nil {
		t.Fatal(err)
	}
	u.Role = auth.RoleAdmin
	return u
}

// TestConfirmTOTPRevokesEverySessionOnEveryReplica: enabling a second factor refuses,
// on every replica within MaxStaleness, every session of the account opened before (one
// stolen with the password, say), not only the one that confirmed it; the confirmation's
// own session and later logins work everywhere. Replacing the factor does the same to the
// sessions opened with the old one.
func TestConfirmTOTPRevokesEverySessionOnEveryReplica(t *testing.T) {
	ctx := context.Background()
	dbURL := shoptest.MigratedDatabase(t, false)
	a, b := replicaService(t, dbURL), replicaService(t, dbURL)
	u := makeAdmin(t, a)
	stolen, err := b.Login(ctx, auth.LoginRequest{Email: u.Email, Password: testPassword, Client: "198.51.100.7"})
	if err != nil {
		t.Fatal(err)
	}
	another, err := b.IssueSession(ctx, b.register(t))
	if err != nil {
		t.Fatal(err)
	}
	confirming := a.principal(t, u, "")
	acceptedEverywhere(t, "the stolen session before the enrolment", stolen.Token, a, b)

	e, err := a.BeginTOTP(ctx, confirming)
	if err != nil {
		t.Fatal(err)
	}
	verified, err := a.ConfirmTOTP(ctx, confirming, code(t, e.Secret, 0))
	if err != nil {
		t.Fatal(err)
	}
	refusedEverywhere(t, "the session opened before the enrolment", stolen.Token, a, b)
	acceptedEverywhere(t, "the confirmation's session", verified.Token, a, b)
	if v := b.principal(t, u, verified.Token); !v.MFA {
		t.Error("the confirmation's session is not verified")
	}
	acceptedEverywhere(t, "another account's session", another.Token, a, b)
	// While fresh, the account's generation is a map lookup too: no statement.
	before := b.pool.Stat().AcquireCount()
	for range 100 {
		if !refused(t, b, stolen.Token) || refused(t, b, verified.Token) {
			t.Fatal("wrong answer")
		}
	}
	if n := b.pool.Stat().AcquireCount() - before; n != 0 {
		t.Errorf("200 checks acquired %d connections, want 0", n)
	}
	later, err := b.Login(ctx, auth.LoginRequest{Email: u.Email, Password: testPassword, TOTPCode: code(t, e.Secret, 1), Client: "198.51.100.8"})
	if err != nil {
		t.Fatal(err)
	}
	acceptedEverywhere(t, "a login after the enrolment", later.Token, a, b)

	// b replaces the factor with the verified session: every session opened before,
	// verified ones included, stops working.
	v := b.principal(t, u, later.Token)
	re, err := b.BeginTOTP(ctx, v)
	if err != nil {
		t.Fatal(err)
	}
	replaced, err := b.ConfirmTOTP(ctx, v, code(t, re.Secret, 0))
	if err != nil {
		t.Fatal(err)
	}
	refusedEverywhere(t, "a verified session opened before the replacement", verified.Token, b, a)
	acceptedEverywhere(t, "the replacement's session", replaced.Token, a, b)
}

// TestRevokedSessionsOnStaleReplicas: a replica whose listener is cut off when a factor
// is enabled refuses the earlier sessions within MaxStaleness all the same, and from
// memory again once its listener is back; one whose listener never proved itself asks
// PostgreSQL on every check.
func TestRevokedSessionsOnStaleReplicas(t *testing.T) {
	ctx := context.Background()
	dbURL := shoptest.MigratedDatabase(t, false)
	a, b := replicaService(t, dbURL), replicaService(t, dbURL)
	c := serviceOn(t, openPool(t, dbURL), auth.Options{}) // its revocation list not started
	u := makeAdmin(t, a)
	stolen, err := a.IssueSession(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	stolenToken := stolen.Token
	confirming := a.principal(t, u, "")
	e, err := a.BeginTOTP(ctx, confirming)
	if err != nil {
		t.Fatal(err)
	}

	terminateListeners(t, b.pool)
	verified, err := a.ConfirmTOTP(ctx, confirming, code(t, e.Secret, 0))
	if err != nil {
		t.Fatal(err)
	}
	if c.revocations.Fresh() {
		t.Fatal("c's revocation list is fresh")
	}
	refusedEverywhere(t, "the session opened before the enrolment, the other replicas deaf", stolenToken, a, b, c)
	acceptedEverywhere(t, "the confirmation's session", verified.Token, a, b, c)
	waitFor(t, 5*time.Second, "b's listener is back", b.revocations.Fresh)
	if !refused(t, b, stolenToken) {
		t.Error("b forgot the revocation after reconnecting")
	}
	acceptedEverywhere(t, "the confirmation's session", verified.Token, a, b)
}

// TestPasswordChangeRevokesEverySessionOnEveryReplica: an admin from an earlier release
// signed in with the Secret's password; migrate then demands a new one (EnsureAdmin).
// Once it is set, the sessions opened with the old password are refused on every replica;
// the password change's own session works.
func TestPasswordChangeRevokesEverySessionOnEveryReplica(t *testing.T) {
	ctx := context.Background()
	dbURL := shoptest.MigratedDatabase(t, false)
	a, b := replicaService(t, dbURL), replicaService(t, dbURL)
	u := makeAdmin(t, a)
	old, err := a.Login(ctx, auth.LoginRequest{Email: u.Email, Password: testPassword, Client: "198.51.100.9"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := auth.EnsureAdmin(ctx, a.pool, u.Email, testPassword); err != nil {
		t.Fatal(err)
	}
	_, err = b.Login(ctx, auth.LoginRequest{Email: u.Email, Password: testPassword, Client: "198.51.100.9"})
	var change *apperr.PasswordChangeRequiredError
	if !errors.As(err, &change) {
		t.Fatalf("login with the expired password: %v", err)
	}
	acceptedEverywhere(t, "the old password's session before the change", old.Token, a, b)
	changed, err := b.ChangePassword(ctx, auth.PasswordChangeRequest{Token: change.Token, NewPassword: "a password of my own"})
	if err != nil {
		t.Fatal(err)
	}
	refusedEverywhere(t, "the session opened with the old password", old.Token, b, a)
	acceptedEverywhere(t, "the password change's session", changed.Token, a, b)
}

// TestCreateAdminRevokesEverySession: `shop create-admin` on an existing admin (a lost
// password or phone) sets a password and drops the factor; every session of the account
// stops working on every replica, which hear it from PostgreSQL alone.
func TestCreateAdminRevokesEverySession(t *testing.T) {
	ctx := context.Background()
	dbURL := shoptest.MigratedDatabase(t, false)
	a, b := replicaService(t, dbURL), replicaService(t, dbURL)
	u, _, verified := a.enrolledAdmin(t)
	acceptedEverywhere(t, "the verified session", verified.Token, a, b)
	if _, err := auth.CreateAdmin(ctx, a.pool, u.Email, "the recovered password"); err != nil {
		t.Fatal(err)
	}
	// No replica made the change: each hears it from PostgreSQL.
	refusedWithin(t, "a session from before create-admin", verified.Token, a, b)
	s, err := b.Login(ctx, auth.LoginRequest{Email: u.Email, Password: "the recovered password", Client: "198.51.100.10"})
	if err != nil {
		t.Fatal(err)
	}
	acceptedEverywhere(t, "a login after create-admin", s.Token, a, b)
}
