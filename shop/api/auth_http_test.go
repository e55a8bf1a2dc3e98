package api_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/redis/go-redis/v9"
	"golang.org/x/crypto/bcrypt"

	"github.com/storefront-operator/storefront/shop/auth"
	"github.com/storefront-operator/storefront/shop/platform/apperr"
	"github.com/storefront-operator/storefront/shop/platform/config"
	"github.com/storefront-operator/storefront/test/shoptest"
	"github.com/storefront-operator/storefront/test/testenv"
)

func TestRegister(t *testing.T) {
	shop := shoptest.Start(t, shoptest.Options{})
	existing, _ := newUser(t, shop)

	tests := map[string]struct {
		body   any
		status int
		field  string
	}{
		"a new customer is created and signed in":                {body: map[string]string{"email": "  Grace.Hopper@Example.COM ", "password": "a long enough password", "name": "Grace Hopper"}, status: 201},
		"an email that has an account is 409, whatever its case": {body: map[string]string{"email": strings.ToUpper(existing.Email), "password": "a long enough password", "name": "Again"}, status: 409},
		"a malformed email is 422":                               {body: map[string]string{"email": "not-an-email", "password": "a long enough password", "name": "X"}, status: 422, field: "email"},
		"a nine-character password is 422":                       {body: map[string]string{"email": "p9@example.com", "password": "123456789", "name": "X"}, status: 422, field: "password"},
		"a password over 72 bytes is 422":                        {body: map[string]string{"email": "p73@example.com", "password": strings.Repeat("x", 73), "name": "X"}, status: 422, field: "password"},
		"a missing name is 422":                                  {body: map[string]string{"email": "noname@example.com", "password": "a long enough password"}, status: 422, field: "name"},
		"a name with a NUL byte is 422":                          {body: map[string]string{"email": "nul@example.com", "password": "a long enough password", "name": "a\x00b"}, status: 422, field: "name"},
		"malformed JSON is 400":                                  {body: `{"email":`, status: 400, field: "body"},
		"an unknown field is 400":                                {body: `{"email":"u@example.com","password":"a long enough password","name":"U","role":"admin"}`, status: 400, field: "role"},
		"a number where a string goes is 400":                    {body: `{"email":1,"password":"a long enough password","name":"U"}`, status: 400, field: "email"},
		"a body over 1 MiB is 413":                               {body: `{"name":"` + strings.Repeat("n", 1<<20) + `"}`, status: 413},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			resp, body := call(t, shop, "POST", "/api/v1/auth/register", "", tt.body)
			if tt.status != 201 {
				expectProblem(t, resp, body, tt.status, tt.field)
				return
			}
			if resp.StatusCode != 201 {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			s := decode[auth.Session](t, body)
			if s.User.ID == 0 || s.User.Email != "grace.hopper@example.com" || s.User.Name != "Grace Hopper" || s.User.Role != "customer" || s.Token == "" || time.Until(s.ExpiresAt) < time.Hour {
				t.Errorf("session = %+v", s)
			}
			if resp, body := call(t, shop, "GET", "/api/v1/auth/me", s.Token, nil); resp.StatusCode != 200 || decode[auth.User](t, body) != s.User {
				t.Errorf("me with the new token: %d %s", resp.StatusCode, body)
			}
		})
	}
	t.Run("errors name each invalid field at once", func(t *testing.T) {
		resp, body := call(t, shop, "POST", "/api/v1/auth/register", "", map[string]string{"email": "x", "password": "short", "name": ""})
		expectProblem(t, resp, body, 422, "email")
		expectProblem(t, resp, body, 422, "password")
		expectProblem(t, resp, body, 422, "name")
		if !strings.Contains(string(body), "at least 10 characters") {
			t.Errorf("the password error does not say the rule: %s", body)
		}
	})
}

// TestRegistrationThrottle bursts registrations: per client at the default limit, and
// for the whole shop at a lowered one (the default, 60 a minute, works the same way).
func TestRegistrationThrottle(t *testing.T) {
	shop := shoptest.Start(t, shoptest.Options{Config: func(c *config.Config) {
		c.TrustedProxies = []string{"127.0.0.1/32"}
		c.Limits.RegisterPerClient, c.Limits.RegisterGlobal = 0, 0 // the defaults
	}})
	register := func(t *testing.T, s *shoptest.Shop, ip, email string) (*http.Response, []byte) {
		return call(t, s, "POST", "/api/v1/auth/register", "", map[string]string{"email": email, "password": "a long enough password", "name": "Burst"}, "X-Forwarded-For", ip)
	}
	limits := auth.DefaultThrottleLimits

	t.Run("a burst from one client is refused with 429 and Retry-After after the limit; other clients are not", func(t *testing.T) {
		for i := 0; i < limits.RegisterPerClient; i++ {
			if resp, body := register(t, shop, "203.0.113.50", fmt.Sprintf("burst%d@example.com", i)); resp.StatusCode != 201 {
				t.Fatalf("registration %d: %d %s", i, resp.StatusCode, body)
			}
		}
		resp, body := register(t, shop, "203.0.113.50", "one-too-many@example.com")
		expectProblem(t, resp, body, 429, "")
		ra, err := strconv.Atoi(resp.Header.Get("Retry-After"))
		if err != nil || ra < int(limits.RegisterWindow/time.Second)-60 || ra > int(limits.RegisterWindow/time.Second) {
			t.Errorf("Retry-After = %q, want about %v", resp.Header.Get("Retry-After"), limits.RegisterWindow)
		}
		if resp, body := register(t, shop, "198.51.100.50", "another-client@example.com"); resp.StatusCode != 201 {
			t.Errorf("another client: %d %s", resp.StatusCode, body)
		}
		// Under the limit, an email that has an account is still the contract's 409.
		if resp, body := register(t, shop, "198.51.100.50", "another-client@example.com"); resp.StatusCode != 409 {
			t.Errorf("a taken email: %d %s", resp.StatusCode, body)
		}
	})

	t.Run("registrations from many clients together are refused past the shop's limit", func(t *testing.T) {
		const global = 4
		small := shoptest.Start(t, shoptest.Options{DatabaseURL: shoptest.MigratedDatabase(t, false), Config: func(c *config.Config) {
			c.TrustedProxies = []string{"127.0.0.1/32"}
			c.Limits.RegisterPerClient, c.Limits.RegisterGlobal = 0, global
		}})
		for i := 0; i < global; i++ {
			if resp, body := register(t, small, fmt.Sprintf("192.0.2.%d", i+1), fmt.Sprintf("many%d@example.com", i)); resp.StatusCode != 201 {
				t.Fatalf("registration %d: %d %s", i, resp.StatusCode, body)
			}
		}
		resp, body := register(t, small, "192.0.2.200", "late@example.com")
		expectProblem(t, resp, body, 429, "")
		if ra, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || ra < 1 || ra > int(limits.RegisterGlobalWindow/time.Second) {
			t.Errorf("Retry-After = %q", resp.Header.Get("Retry-After"))
		}
		if n := queryInt(t, small.DatabaseURL, `SELECT count(*) FROM users WHERE email = 'late@example.com'`); n != 0 {
			t.Errorf("a refused registration created the account")
		}
	})
}

func TestLogin(t *testing.T) {
	shop := shoptest.Start(t, shoptest.Options{})
	u, _ := newUser(t, shop)
	login := func(t *testing.T, email, password string, headers ...string) (*http.Response, []byte) {
		return call(t, shop, "POST", "/api/v1/auth/login", "", map[string]string{"email": email, "password": password}, headers...)
	}

	tests := map[string]struct {
		email, password string
		status          int
		field           string
	}{
		"the right password signs in":            {email: u.Email, password: "correct horse battery", status: 200},
		"the email is normalised before lookup":  {email: "  " + strings.ToUpper(u.Email), password: "correct horse battery", status: 200},
		"a wrong password is 401":                {email: u.Email, password: "wrong horse battery", status: 401},
		"an unknown email is 401":                {email: "nobody@example.com", password: "correct horse battery", status: 401},
		"a missing email is 400":                 {email: "", password: "x", status: 400, field: "email"},
		"a missing password is 400":              {email: u.Email, password: "", status: 400, field: "password"},
		"an email with a NUL byte is just a 401": {email: "a\x00@example.com", password: "correct horse battery", status: 401},
		"a password over 72 bytes is just a 401": {email: u.Email, password: strings.Repeat("p", 100), status: 401},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			resp, body := login(t, tt.email, tt.password)
			if tt.status != 200 {
				expectProblem(t, resp, body, tt.status, tt.field)
				if tt.status == 401 && resp.Header.Get("WWW-Authenticate") == "" {
					t.Error("401 without WWW-Authenticate")
				}
				return
			}
			if resp.StatusCode != 200 {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			s := decode[auth.Session](t, body)
			if s.User != u || s.Token == "" || s.ExpiresAt.IsZero() {
				t.Errorf("session = %+v", s)
			}
			if resp.Header.Get("Cache-Control") != "no-store" {
				t.Errorf("Cache-Control = %q", resp.Header.Get("Cache-Control"))
			}
		})
	}

	// A shop that believes X-Forwarded-For from loopback, so that the tests can be many
	// clients; the address it names is the client. Soft delays are shortened so that
	// dozens of failures take seconds, not minutes.
	const softDelay, maxSoftDelay = 20 * time.Millisecond, 60 * time.Millisecond
	proxied := shoptest.Start(t, shoptest.Options{DatabaseURL: shop.DatabaseURL, Config: func(c *config.Config) {
		c.TrustedProxies = []string{"127.0.0.1/32"}
		c.Limits.LoginSoftDelay, c.Limits.LoginMaxSoftDelay = softDelay, maxSoftDelay
	}})
	from := func(t *testing.T, ip, email, password string) (*http.Response, []byte) {
		return call(t, proxied, "POST", "/api/v1/auth/login", "", map[string]string{"email": email, "password": password}, "X-Forwarded-For", ip)
	}
	limits := auth.DefaultThrottleLimits

	t.Run("an attacker failing for one email from many addresses is refused, and the owner from a clean address still gets in", func(t *testing.T) {
		victim, _ := newUser(t, shop)
		attackers := []string{"203.0.113.1", "203.0.113.2", "203.0.113.3"}
		for _, ip := range attackers {
			for i := 0; i < limits.PerEmailClient; i++ {
				if resp, body := from(t, ip, victim.Email, "guess "+ip+" "+strconv.Itoa(i)); resp.StatusCode != 401 {
					t.Fatalf("failure %d from %s: %d %s", i, ip, resp.StatusCode, body)
				}
			}
		}
		// Each attacking client is refused for this email, even with the right password...
		resp, body := from(t, attackers[0], victim.Email, "correct horse battery")
		expectProblem(t, resp, body, 429, "")
		ra, err := strconv.Atoi(resp.Header.Get("Retry-After"))
		if err != nil || ra < 1 || ra > int(limits.Window/time.Second) {
			t.Errorf("Retry-After = %q", resp.Header.Get("Retry-After"))
		}
		// ...while other emails from it are not (its own count is below PerClient).
		if resp, body := from(t, attackers[0], u.Email, "correct horse battery"); resp.StatusCode != 200 {
			t.Errorf("another account from the attacking client: %d %s", resp.StatusCode, body)
		}
		// The owner, from an address that has not failed, gets in: after the soft delay
		// that 15 failures for the email impose (capped), not a refusal.
		start := time.Now()
		resp, body = from(t, "198.51.100.20", victim.Email, "correct horse battery")
		if resp.StatusCode != 200 {
			t.Fatalf("the owner from a clean address: %d %s", resp.StatusCode, body)
		}
		if took := time.Since(start); took < maxSoftDelay {
			t.Errorf("the owner's login took %v: the soft delay (%v) was not applied", took, maxSoftDelay)
		}
		if s := decode[auth.Session](t, body); s.User.ID != victim.ID {
			t.Errorf("signed in as %+v", s.User)
		}
	})

	t.Run("failures from one client across many emails are throttled, for any email", func(t *testing.T) {
		for i := 0; i < limits.PerClient; i++ {
			if resp, body := from(t, "203.0.113.7", "stuffing"+strconv.Itoa(i)+"@example.com", "password123"); resp.StatusCode != 401 {
				t.Fatalf("attempt %d: %d %s", i, resp.StatusCode, body)
			}
		}
		resp, body := from(t, "203.0.113.7", u.Email, "correct horse battery")
		expectProblem(t, resp, body, 429, "")
		if resp.Header.Get("Retry-After") == "" {
			t.Error("no Retry-After")
		}
		if resp, body := from(t, "198.51.100.1", u.Email, "correct horse battery"); resp.StatusCode != 200 {
			t.Errorf("another address: %d %s", resp.StatusCode, body)
		}
	})

	t.Run("an IPv6 client is throttled per /64: rotating addresses in it does not help", func(t *testing.T) {
		for i := 0; i < limits.PerClient; i++ {
			ip := fmt.Sprintf("2001:db8:7:7::%x", i+1)
			if resp, body := from(t, ip, "v6-"+strconv.Itoa(i)+"@example.com", "password123"); resp.StatusCode != 401 {
				t.Fatalf("attempt %d: %d %s", i, resp.StatusCode, body)
			}
		}
		resp, body := from(t, "2001:db8:7:7:ffff::1", u.Email, "correct horse battery")
		expectProblem(t, resp, body, 429, "")
		if resp, body := from(t, "2001:db8:7:8::1", u.Email, "correct horse battery"); resp.StatusCode != 200 {
			t.Errorf("the next /64: %d %s", resp.StatusCode, body)
		}
	})

	t.Run("X-Forwarded-For from a peer that is not a trusted proxy is ignored", func(t *testing.T) {
		direct := shoptest.Start(t, shoptest.Options{Config: func(c *config.Config) { c.TrustedProxies = nil }})
		for i := 0; i < limits.PerClient; i++ {
			resp, _ := call(t, direct, "POST", "/api/v1/auth/login", "", map[string]string{"email": "x" + strconv.Itoa(i) + "@example.com", "password": "password123"},
				"X-Forwarded-For", "198.51.100."+strconv.Itoa(i))
			if resp.StatusCode != 401 {
				t.Fatalf("attempt %d: %d", i, resp.StatusCode)
			}
		}
		resp, body := call(t, direct, "POST", "/api/v1/auth/login", "", map[string]string{"email": "y@example.com", "password": "password123"}, "X-Forwarded-For", "192.0.2.99")
		expectProblem(t, resp, body, 429, "")
	})

	t.Run("refused logins are counted in the metrics", func(t *testing.T) {
		body := proxied.Metrics(t)
		for _, want := range []string{`shop_login_failures_total{reason="credentials"}`, `shop_login_failures_total{reason="throttled"}`} {
			if !strings.Contains(body, want) {
				t.Errorf("metrics lack %s", want)
			}
		}
	})
}

// TestPasswordsAtProductionCost runs the real cost (12): the stored hash has it, and an
// unknown email takes as long as a wrong password (the comparison with a dummy hash).
// Under the race detector each comparison takes seconds, which makes the difference
// plain: without the dummy comparison an unknown email answers in milliseconds.
func TestPasswordsAtProductionCost(t *testing.T) {
	shop := shoptest.Start(t, shoptest.Options{Config: func(c *config.Config) { c.PasswordCost = 0 }})
	u, _ := newUser(t, shop)
	hash := ""
	if err := shop.App.DB.QueryRow(context.Background(), `SELECT password_hash FROM users WHERE id = $1`, u.ID).Scan(&hash); err != nil {
		t.Fatal(err)
	}
	if cost, err := bcrypt.Cost([]byte(hash)); err != nil || cost < 12 {
		t.Errorf("stored hash cost %d (%v), want at least 12", cost, err)
	}
	timed := func(email string) time.Duration {
		start := time.Now()
		resp, body := call(t, shop, "POST", "/api/v1/auth/login", "", map[string]string{"email": email, "password": "not the password"})
		if resp.StatusCode != 401 {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
		return time.Since(start)
	}
	wrong := timed(u.Email)
	unknown := timed("no-account-" + u.Email)
	if unknown < wrong/3 {
		t.Errorf("unknown email answered in %s, wrong password in %s: the unknown email path skips the bcrypt work", unknown, wrong)
	}
}

func TestTokens(t *testing.T) {
	shop := shoptest.Start(t, shoptest.Options{})
	u, token := newUser(t, shop)
	cfg := shoptest.Config(shop.DatabaseURL)

	mint := func(secret string, now time.Time) string {
		tk, err := auth.NewTokens(secret, time.Hour, func() time.Time { return now })
		if err != nil {
			t.Fatal(err)
		}
		s, _, err := tk.Issue(u.ID, auth.RoleCustomer)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	parts := strings.Split(token, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var claims map[string]any
	_ = json.Unmarshal(payload, &claims)
	claims["role"] = "admin"
	forged, _ := json.Marshal(claims)
	withAdminRole := parts[0] + "." + base64.RawURLEncoding.EncodeToString(forged) + "." + parts[2]
	sig := []byte(parts[2])
	sig[len(sig)/2] ^= 1
	badSignature := parts[0] + "." + parts[1] + "." + string(sig)
	none := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims{"sub": strconv.FormatInt(u.ID, 10), "role": "customer", "jti": "x", "iss": auth.Issuer, "exp": time.Now().Add(time.Hour).Unix()})
	noneToken, _ := none.SignedString(jwt.UnsafeAllowNoneSignatureType)
	hs512 := jwt.NewWithClaims(jwt.SigningMethodHS512, jwt.MapClaims{"sub": strconv.FormatInt(u.ID, 10), "role": "customer", "jti": "y", "iss": auth.Issuer, "exp": time.Now().Add(time.Hour).Unix()})
	hs512Token, _ := hs512.SignedString([]byte(cfg.JWTSecret))

	tests := map[string]struct {
		header string
		status int
	}{
		"a valid token":                        {"Bearer " + token, 200},
		"the scheme is case-insensitive":       {"bearer " + token, 200},
		"no Authorization header":              {"", 401},
		"a Basic scheme":                       {"Basic dXNlcjpwYXNz", 401},
		"garbage":                              {"Bearer not.a.token", 401},
		"a payload changed to the admin role":  {"Bearer " + withAdminRole, 401},
		"a changed signature":                  {"Bearer " + badSignature, 401},
		"an expired token":                     {"Bearer " + mint(cfg.JWTSecret, time.Now().Add(-2*time.Hour)), 401},
		"a token issued in the future":         {"Bearer " + mint(cfg.JWTSecret, time.Now().Add(time.Hour)), 401},
		"a token signed with another secret":   {"Bearer " + mint("another-secret", time.Now()), 401},
		"the none algorithm":                   {"Bearer " + noneToken, 401},
		"another HMAC algorithm than HS256":    {"Bearer " + hs512Token, 401},
		"a token minted with the right secret": {"Bearer " + mint(cfg.JWTSecret, time.Now()), 200},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			resp, body := call(t, shop, "GET", "/api/v1/auth/me", "", nil, "Authorization", tt.header)
			if tt.status == 401 {
				expectProblem(t, resp, body, 401, "")
				if !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
					t.Errorf("WWW-Authenticate = %q", resp.Header.Get("WWW-Authenticate"))
				}
				return
			}
			if resp.StatusCode != 200 || decode[auth.User](t, body).ID != u.ID {
				t.Errorf("status %d: %s", resp.StatusCode, body)
			}
		})
	}
}

func TestLogoutRevokesEverywhere(t *testing.T) {
	t.Run("PostgreSQL only: another replica refuses the token", func(t *testing.T) {
		a := shoptest.Start(t, shoptest.Options{})
		b := shoptest.Start(t, shoptest.Options{DatabaseURL: a.DatabaseURL})
		_, token := newUser(t, a)
		if resp, _ := call(t, b, "GET", "/api/v1/auth/me", token, nil); resp.StatusCode != 200 {
			t.Fatalf("b before logout: %d", resp.StatusCode)
		}
		if resp, body := call(t, a, "POST", "/api/v1/auth/logout", token, nil); resp.StatusCode != 204 {
			t.Fatalf("logout: %d %s", resp.StatusCode, body)
		}
		// The revoking replica at once; another one when the notification reaches it,
		// within a second in every case (auth.Revocations).
		if resp, _ := call(t, a, "GET", "/api/v1/auth/me", token, nil); resp.StatusCode != 401 {
			t.Errorf("a after logout: %d", resp.StatusCode)
		}
		eventually(t, time.Second, "b refuses the token", func() bool {
			resp, _ := call(t, b, "GET", "/api/v1/auth/me", token, nil)
			return resp.StatusCode == 401
		})
		if resp, _ := call(t, a, "POST", "/api/v1/auth/logout", token, nil); resp.StatusCode != 401 {
			t.Errorf("a second logout with the revoked token: %d", resp.StatusCode)
		}
		if resp, _ := call(t, a, "POST", "/api/v1/auth/logout", "", nil); resp.StatusCode != 401 {
			t.Errorf("logout without a token: %d", resp.StatusCode)
		}
	})

	t.Run("with Redis: Redis plays no part, wiped or dead", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		srv, err := testenv.StartRedis(ctx, testenv.RedisOptions{}) // its own: this test wipes and kills it
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(srv.Stop)
		a := shoptest.Start(t, shoptest.Options{RedisURL: srv.URL})
		b := shoptest.Start(t, shoptest.Options{DatabaseURL: a.DatabaseURL, RedisURL: srv.URL})
		me := func(s *shoptest.Shop, token string) int {
			resp, _ := call(t, s, "GET", "/api/v1/auth/me", token, nil)
			return resp.StatusCode
		}
		_, t1 := newUser(t, a)
		_, t2 := newUser(t, a)
		if resp, _ := call(t, a, "POST", "/api/v1/auth/logout", t1, nil); resp.StatusCode != 204 {
			t.Fatalf("logout: %d", resp.StatusCode)
		}
		eventually(t, time.Second, "b refuses the logged-out token", func() bool { return me(b, t1) == 401 })
		if me(a, t1) != 401 || me(b, t2) != 200 {
			t.Fatalf("a %d, other token %d", me(a, t1), me(b, t2))
		}
		if keys, _ := srv.Admin().Keys(ctx, "*revoked*").Result(); len(keys) != 0 {
			t.Errorf("revocations in Redis: %v", keys)
		}

		// Whatever happens to Redis, the token stays refused.
		if err := srv.Admin().(*redis.ClusterClient).ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error {
			return n.FlushAll(ctx).Err()
		}); err != nil {
			t.Fatal(err)
		}
		if me(a, t1) != 401 || me(b, t1) != 401 || me(b, t2) != 200 {
			t.Errorf("after wiping Redis: a %d, b %d, other token %d", me(a, t1), me(b, t1), me(b, t2))
		}
		srv.Kill()
		if resp, body := call(t, b, "POST", "/api/v1/auth/logout", t2, nil); resp.StatusCode != 204 {
			t.Fatalf("logout with Redis down: %d %s", resp.StatusCode, body)
		}
		eventually(t, time.Second, "a refuses the token logged out on b", func() bool { return me(a, t2) == 401 })
		if me(b, t2) != 401 || me(a, t1) != 401 {
			t.Errorf("with Redis down: b %d, first token %d", me(b, t2), me(a, t1))
		}
	})
}

// TestSessionServiceForThePages drives what the pages call for their HttpOnly cookie:
// the same token as the API, issued, verified and revoked through auth.Service.
func TestSessionServiceForThePages(t *testing.T) {
	shop := shoptest.Start(t, shoptest.Options{})
	ctx := context.Background()
	u, _ := newUser(t, shop)
	s, err := shop.App.Auth.IssueSession(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	p, err := shop.App.Auth.Verify(ctx, s.Token)
	if err != nil || p.UserID != u.ID || p.Role != auth.RoleCustomer || !p.ExpiresAt.Equal(s.ExpiresAt) {
		t.Fatalf("Verify = %+v, %v", p, err)
	}
	// The cookie's token works on the API too.
	if resp, _ := call(t, shop, "GET", "/api/v1/auth/me", s.Token, nil); resp.StatusCode != 200 {
		t.Errorf("the API refuses the pages' token: %d", resp.StatusCode)
	}
	if err := shop.App.Auth.Revoke(ctx, p); err != nil {
		t.Fatal(err)
	}
	if _, err := shop.App.Auth.Verify(ctx, s.Token); !errors.Is(err, apperr.ErrUnauthorized) {
		t.Errorf("Verify after Revoke = %v", err)
	}
	if resp, _ := call(t, shop, "GET", "/api/v1/auth/me", s.Token, nil); resp.StatusCode != 401 {
		t.Errorf("the API accepts the revoked token: %d", resp.StatusCode)
	}
	if _, err := shop.App.Auth.Login(ctx, auth.LoginRequest{Email: u.Email, Password: "correct horse battery", Client: "192.0.2.1"}); err != nil {
		t.Errorf("Login for the pages: %v", err)
	}
}

// TestTokenChecksCostNoQuery: a replica answers "not revoked" from memory, so an
// authenticated request's only statements are its handler's (/auth/me: one account
// lookup).
func TestTokenChecksCostNoQuery(t *testing.T) {
	shop := shoptest.Start(t, shoptest.Options{RedisURL: testenv.RedisURL(t)})
	_, token := newUser(t, shop)
	eventually(t, 5*time.Second, "the revocation list is loaded", shop.App.Revocations.Fresh)
	const n = 20
	mem, pg, queries := metric(t, shop, `shop_auth_revocation_checks_total{source="memory"}`),
		metric(t, shop, `shop_auth_revocation_checks_total{source="postgres"}`), metric(t, shop, dbQueries)
	for i := 0; i < n; i++ {
		if resp, _ := call(t, shop, "GET", "/api/v1/auth/me", token, nil); resp.StatusCode != 200 {
			t.Fatalf("me: %d", resp.StatusCode)
		}
	}
	if d := metric(t, shop, `shop_auth_revocation_checks_total{source="memory"}`) - mem; d != n {
		t.Errorf("%v checks answered from memory, want %d", d, n)
	}
	if d := metric(t, shop, `shop_auth_revocation_checks_total{source="postgres"}`) - pg; d != 0 {
		t.Errorf("%v checks asked PostgreSQL, want 0", d)
	}
	if d := metric(t, shop, dbQueries) - queries; d != n {
		t.Errorf("%v statements for %d requests, want %d (the account lookups)", d, n, n)
	}
}
