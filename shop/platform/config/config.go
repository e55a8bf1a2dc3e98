// Package config reads the shop's settings from the environment (docs/architecture.md#the-shops-process-contract). Every
// subcommand uses the same Config; Validate checks what a given subcommand needs.
package config

import (
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/storefront-operator/storefront/shop/platform/money"
)

// Config holds the shop's settings. The zero values of optional fields mean "off".
type Config struct {
	// DatabaseURL is a postgres:// URL; sslmode/sslrootcert in it configure TLS.
	DatabaseURL string
	// RedisURL is a redis:// or rediss:// URL; empty means in-process caching only. The
	// shop speaks cluster mode to it (ElastiCache Serverless), or standalone when the
	// server has no cluster support (shop/platform/cache.OpenRedis).
	RedisURL string
	// RedisRootCAs replaces the system trust store for rediss:// (nil: the system's,
	// SSL_CERT_FILE honoured). It is deliberately not read from the environment: only
	// tests that run the shop in-process set it, since the system store is read once per
	// process.
	RedisRootCAs *x509.CertPool
	// JWTSecret signs the session tokens (required by serve).
	JWTSecret string
	// HTTPAddr is the listen address of the shop.
	HTTPAddr string
	// MetricsAddr is the listener of /metrics, never the public one: the metrics tell
	// revenue and login failures, so they are only where the scraper reaches.
	MetricsAddr string
	// LogLevel is debug, info, warn or error.
	LogLevel slog.Level
	// Currency is the ISO 4217 code every price of this shop is in.
	Currency string
	// AdminEmail and AdminPassword bootstrap the first admin during migrate; that admin
	// must choose a new password at first sign-in.
	AdminEmail    string
	AdminPassword string
	// AdminRequireTOTP (ADMIN_REQUIRE_TOTP=true, from the Storefront's
	// spec.admin.requireTOTP) makes a TOTP second factor mandatory for admins: until an
	// admin has enrolled one and signed in with it, only the enrolment is open to them.
	AdminRequireTOTP bool
	// TOTPKey (TOTP_KEY, at least 32 characters; the operator generates it in the
	// <name>-app Secret) seals the admins' TOTP secrets at rest; TOTPKeyPrevious
	// (TOTP_KEY_PREVIOUS) opens those sealed before a rotation. Without TOTP_KEY the key
	// is derived from JWT_SECRET.
	TOTPKey, TOTPKeyPrevious string
	// AppRole (APP_ROLE, or migrate --app-role) is the application role, app_a or app_b,
	// that migrate lets log in with AppPassword. Without AppRole and RetireRole, migrate
	// manages no roles: the database URL is used as given.
	AppRole string
	// AppPassword (APP_PASSWORD, or the file migrate --app-password-file names) is
	// AppRole's password: sent to the database only as a SCRAM verifier, never logged.
	AppPassword string
	// RetireRole (migrate --retire-role) is the application role whose login migrate
	// withdraws, once no pod uses it.
	RetireRole string
	// ShutdownDelay is how long serve keeps serving with /readyz at 503 after SIGTERM,
	// so that load balancers stop sending before the server drains.
	ShutdownDelay time.Duration
	// TrustedProxies (TRUSTED_PROXIES, comma-separated CIDRs or addresses) are the load
	// balancers whose X-Forwarded-For names the client; the client address decides
	// login throttling. Unset or "none": the connection's peer is the client.
	TrustedProxies []string
	// PublicURL (PUBLIC_URL) is the address shoppers use, such as https://shop.example.com
	// (the operator sets it from the Storefront's status.url). With https, the pages'
	// cookies take the __Host- prefix and are always Secure.
	PublicURL string
	// PaymentProvider (PAYMENT_PROVIDER) takes the payments: PaymentProviderMock, the
	// one there is, which charges nothing; empty: none, and checkout is refused.
	PaymentProvider string
	// ImageStore (IMAGE_STORE) keeps uploaded product images: s3://bucket/prefix (S3,
	// credentials from the pod's identity) or an absolute directory the shop serves under
	// /images/ (hand use). Empty: uploads are refused (503) and the catalog's SVGs show.
	ImageStore string
	// ImageBaseURL (IMAGE_BASE_URL) is where browsers load the images: the CDN's or the
	// bucket's public URL; required with an s3:// store, /images for a directory.
	ImageBaseURL string
	// ShopperStatementTimeout (SHOPPER_STATEMENT_TIMEOUT) is the statement_timeout of the
	// connections that answer shoppers' catalog and search reads: PostgreSQL gives up on
	// a statement after it, and the request gets 503 with Retry-After.
	ShopperStatementTimeout time.Duration
	// SearchRate (SEARCH_RATE_LIMIT) is how many searches a second one client may make in
	// one replica, in bursts of twice as many; past it, 429 with Retry-After.
	SearchRate float64
	// PasswordCost is the bcrypt cost of the password hashes serve computes; 0 means
	// auth.BcryptCost (12). It is deliberately not read from the environment: only tests
	// lower it, because under the race detector one cost-12 hash takes seconds.
	PasswordCost int
	// Limits override abuse limits; zero fields keep the shop's defaults. Not read from
	// the environment either: tests raise the limits that many test requests from one
	// loopback client would reach, and lower delays, except in the tests of the limits.
	Limits Limits
}

// Limits are the abuse limits tests may change (see Config.Limits).
type Limits struct {
	// RegisterPerClient and RegisterGlobal: auth.ThrottleLimits.
	RegisterPerClient, RegisterGlobal int
	// LoginSoftDelay and LoginMaxSoftDelay: auth.ThrottleLimits.SoftDelay and MaxSoftDelay.
	LoginSoftDelay, LoginMaxSoftDelay time.Duration
	// GuestCartBurst is how many guest carts one client may start at once
	// (DefaultGuestCartBurst when 0); then one a minute.
	GuestCartBurst int
}

// DefaultGuestCartBurst bounds the guest carts one client starts in a burst: a person
// starts one per browser, a script one per request.
const DefaultGuestCartBurst = 10

// PaymentProviderMock is PAYMENT_PROVIDER's one value: the mock provider (orders.MockPayments).
const PaymentProviderMock = "mock"

// Defaults of the process contract.
const (
	DefaultHTTPAddr      = ":8080"
	DefaultMetricsAddr   = ":9090"
	DefaultCurrency      = "EUR"
	DefaultShutdownDelay = 10 * time.Second
	// DefaultShopperStatementTimeout bounds a catalog or search statement: a normal
	// search takes a few milliseconds, so this is two orders of magnitude of headroom.
	DefaultShopperStatementTimeout = 500 * time.Millisecond
	// DefaultSearchRate is generous for a person and small for a script.
	DefaultSearchRate = 10
)

// FromEnv reads the configuration through getenv (os.Getenv in main, a map in tests). It
// reports every malformed variable at once, naming each.
func FromEnv(getenv func(string) string) (Config, error) {
	c := Config{
		DatabaseURL:   strings.TrimSpace(getenv("DATABASE_URL")),
		RedisURL:      strings.TrimSpace(getenv("REDIS_URL")),
		JWTSecret:     getenv("JWT_SECRET"),
		HTTPAddr:      orDefault(getenv("HTTP_ADDR"), DefaultHTTPAddr),
		MetricsAddr:   orDefault(getenv("METRICS_ADDR"), DefaultMetricsAddr),
		Currency:      orDefault(getenv("SHOP_CURRENCY"), DefaultCurrency),
		AdminEmail:    strings.TrimSpace(getenv("ADMIN_EMAIL")),
		AdminPassword: getenv("ADMIN_PASSWORD"),
		AppRole:       strings.TrimSpace(getenv("APP_ROLE")),
		AppPassword:   getenv("APP_PASSWORD"),
		ShutdownDelay: DefaultShutdownDelay,

		ShopperStatementTimeout: DefaultShopperStatementTimeout,
		SearchRate:              DefaultSearchRate,
	}
	var errs []error
	if err := c.LogLevel.UnmarshalText([]byte(orDefault(getenv("LOG_LEVEL"), "info"))); err != nil {
		errs = append(errs, fmt.Errorf("LOG_LEVEL: %q is not one of debug, info, warn, error", getenv("LOG_LEVEL")))
	}
	if v := strings.TrimSpace(getenv("SHUTDOWN_DELAY")); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			errs = append(errs, fmt.Errorf("SHUTDOWN_DELAY: %q is not a non-negative duration such as 10s", v))
		}
		c.ShutdownDelay = d
	}
	if v := strings.TrimSpace(getenv("SHOPPER_STATEMENT_TIMEOUT")); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < time.Millisecond {
			errs = append(errs, fmt.Errorf("SHOPPER_STATEMENT_TIMEOUT: %q is not a duration of at least 1ms such as 500ms", v))
		}
		c.ShopperStatementTimeout = d
	}
	if v := strings.TrimSpace(getenv("SEARCH_RATE_LIMIT")); v != "" {
		r, err := strconv.ParseFloat(v, 64)
		if err != nil || !(r > 0) || math.IsInf(r, 0) {
			errs = append(errs, fmt.Errorf("SEARCH_RATE_LIMIT: %q is not a positive number of searches a second", v))
		}
		c.SearchRate = r
	}
	switch v := strings.TrimSpace(getenv("TRUSTED_PROXIES")); v {
	case "", "none":
		// Nobody's X-Forwarded-For is believed unless the operator names the load
		// balancers: trusting every private address by default would let anything in the
		// network (another pod, a sidecar) pick the address it is throttled as.
	default:
		for _, p := range strings.Split(v, ",") {
			p = strings.TrimSpace(p)
			if _, _, err := net.ParseCIDR(p); err != nil {
				if net.ParseIP(p) == nil {
					errs = append(errs, fmt.Errorf("TRUSTED_PROXIES: %q is not an IP address or CIDR", p))
					continue
				}
			}
			c.TrustedProxies = append(c.TrustedProxies, p)
		}
	}
	if v := strings.TrimSpace(getenv("PUBLIC_URL")); v != "" {
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
			errs = append(errs, fmt.Errorf("PUBLIC_URL: %q is not an http:// or https:// URL such as https://shop.example.com", v))
		} else {
			c.PublicURL = u.String()
		}
	}
	c.TOTPKey, c.TOTPKeyPrevious = strings.TrimSpace(getenv("TOTP_KEY")), strings.TrimSpace(getenv("TOTP_KEY_PREVIOUS"))
	for name, v := range map[string]string{"TOTP_KEY": c.TOTPKey, "TOTP_KEY_PREVIOUS": c.TOTPKeyPrevious} {
		if v != "" && len(v) < 32 {
			errs = append(errs, fmt.Errorf("%s: has %d characters, fewer than 32", name, len(v)))
		}
	}
	if v := strings.TrimSpace(getenv("ADMIN_REQUIRE_TOTP")); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("ADMIN_REQUIRE_TOTP: %q is not true or false", v))
		}
		c.AdminRequireTOTP = b
	}
	switch v := strings.TrimSpace(getenv("PAYMENT_PROVIDER")); v {
	case "", PaymentProviderMock:
		c.PaymentProvider = v
	default:
		errs = append(errs, fmt.Errorf("PAYMENT_PROVIDER: %q is not a provider this shop has; the one there is: %s", v, PaymentProviderMock))
	}
	c.ImageStore = strings.TrimSpace(getenv("IMAGE_STORE"))
	c.ImageBaseURL = strings.TrimSuffix(strings.TrimSpace(getenv("IMAGE_BASE_URL")), "/")
	switch {
	case c.ImageStore == "":
	case strings.HasPrefix(c.ImageStore, "s3://"):
		if u, err := url.Parse(c.ImageStore); err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" {
			errs = append(errs, fmt.Errorf("IMAGE_STORE: %q is not s3://bucket/prefix", c.ImageStore))
		}
		if c.ImageBaseURL == "" {
			errs = append(errs, errors.New("IMAGE_BASE_URL is required with an s3:// IMAGE_STORE: the bucket's or the CDN's public URL"))
		}
	case strings.HasPrefix(c.ImageStore, "/"):
		if c.ImageBaseURL == "" {
			c.ImageBaseURL = "/images"
		}
	default:
		errs = append(errs, fmt.Errorf("IMAGE_STORE: %q is neither s3://bucket/prefix nor an absolute directory", c.ImageStore))
	}
	if v := c.ImageBaseURL; v != "" && !strings.HasPrefix(v, "/") {
		if u, err := url.Parse(v); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.RawQuery != "" {
			errs = append(errs, fmt.Errorf("IMAGE_BASE_URL: %q is not an http(s):// URL or a path such as /images", v))
		}
	} else if strings.HasPrefix(v, "//") {
		errs = append(errs, fmt.Errorf("IMAGE_BASE_URL: %q is not an http(s):// URL or a path such as /images", v))
	}
	if c.MetricsAddr == c.HTTPAddr && !strings.HasSuffix(c.HTTPAddr, ":0") { // :0 is a new port each time
		errs = append(errs, fmt.Errorf("METRICS_ADDR: %q is HTTP_ADDR too; /metrics is never served on the public listener", c.MetricsAddr))
	}
	if !money.Valid(c.Currency) {
		errs = append(errs, fmt.Errorf("SHOP_CURRENCY: %q is not an ISO 4217 currency code", c.Currency))
	}
	if c.DatabaseURL != "" {
		if u, err := url.Parse(c.DatabaseURL); err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
			errs = append(errs, errors.New("DATABASE_URL: not a postgres:// URL"))
		}
	}
	if c.RedisURL != "" {
		if u, err := url.Parse(c.RedisURL); err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") {
			errs = append(errs, errors.New("REDIS_URL: not a redis:// or rediss:// URL"))
		}
	}
	return c, errors.Join(errs...)
}

// HTTPS reports whether PUBLIC_URL is an https:// URL.
func (c Config) HTTPS() bool { return strings.HasPrefix(c.PublicURL, "https://") }

// RequireDatabase checks what every subcommand needs.
func (c Config) RequireDatabase() error {
	if c.DatabaseURL == "" {
		return errors.New("DATABASE_URL is required")
	}
	return nil
}

// RequireServe checks what serve needs beyond the database.
func (c Config) RequireServe() error {
	if err := c.RequireDatabase(); err != nil {
		return err
	}
	if c.JWTSecret == "" {
		return errors.New("JWT_SECRET is required by serve")
	}
	return nil
}

func orDefault(v, def string) string {
	if v = strings.TrimSpace(v); v == "" {
		return def
	}
	return v
}
