package config_test

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/storefront-operator/storefront/shop/platform/config"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestFromEnv(t *testing.T) {
	tests := map[string]struct {
		env     map[string]string
		check   func(t *testing.T, c config.Config)
		wantErr []string
	}{
		"defaults apply when only the database is set": {
			env: map[string]string{"DATABASE_URL": "postgres://u@h/db"},
			check: func(t *testing.T, c config.Config) {
				if c.HTTPAddr != ":8080" || c.Currency != "EUR" || c.ShutdownDelay != 10*time.Second || c.LogLevel != slog.LevelInfo || c.MetricsAddr != ":9090" || c.RedisURL != "" ||
					len(c.TrustedProxies) != 0 || c.PublicURL != "" || c.HTTPS() || c.SearchRate != 10 || c.ShopperStatementTimeout != 500*time.Millisecond {
					t.Errorf("defaults = %+v", c)
				}
			},
		},
		"every variable is read": {
			env: map[string]string{"DATABASE_URL": "postgres://u@h/db?sslmode=verify-full&sslrootcert=/ca.pem", "REDIS_URL": "rediss://h:6379/0",
				"JWT_SECRET": "s", "HTTP_ADDR": ":9000", "METRICS_ADDR": ":9090", "PUBLIC_URL": "https://shop.example.com",
				"SEARCH_RATE_LIMIT": "2.5", "SHOPPER_STATEMENT_TIMEOUT": "250ms", "LOG_LEVEL": "debug", "SHOP_CURRENCY": "JPY",
				"ADMIN_EMAIL": "a@example.com", "ADMIN_PASSWORD": "pw", "SHUTDOWN_DELAY": "1500ms", "TRUSTED_PROXIES": "10.1.0.0/16, 192.0.2.7",
				"TOTP_KEY": strings.Repeat("k", 32), "TOTP_KEY_PREVIOUS": strings.Repeat("p", 64)},
			check: func(t *testing.T, c config.Config) {
				if c.TOTPKey != strings.Repeat("k", 32) || c.TOTPKeyPrevious != strings.Repeat("p", 64) {
					t.Errorf("TOTP keys %q, %q", c.TOTPKey, c.TOTPKeyPrevious)
				}
				if len(c.TrustedProxies) != 2 || c.TrustedProxies[0] != "10.1.0.0/16" || c.TrustedProxies[1] != "192.0.2.7" {
					t.Errorf("trusted proxies = %v", c.TrustedProxies)
				}
				if c.PublicURL != "https://shop.example.com" || !c.HTTPS() || c.SearchRate != 2.5 || c.ShopperStatementTimeout != 250*time.Millisecond {
					t.Errorf("public URL %q, search rate %v, statement timeout %v", c.PublicURL, c.SearchRate, c.ShopperStatementTimeout)
				}
				if c.HTTPAddr != ":9000" || c.MetricsAddr != ":9090" || c.Currency != "JPY" || c.LogLevel != slog.LevelDebug ||
					c.ShutdownDelay != 1500*time.Millisecond || c.AdminEmail != "a@example.com" || c.RedisURL != "rediss://h:6379/0" {
					t.Errorf("config = %+v", c)
				}
			},
		},
		"the application role and its password are read as given": {
			env: map[string]string{"APP_ROLE": " app_b ", "APP_PASSWORD": " pass word with spaces "},
			check: func(t *testing.T, c config.Config) {
				if c.AppRole != "app_b" || c.AppPassword != " pass word with spaces " || c.RetireRole != "" {
					t.Errorf("role %q, password %q, retire %q", c.AppRole, c.AppPassword, c.RetireRole)
				}
			},
		},
		"TRUSTED_PROXIES=none trusts no proxy": {
			env: map[string]string{"TRUSTED_PROXIES": "none"},
			check: func(t *testing.T, c config.Config) {
				if len(c.TrustedProxies) != 0 {
					t.Errorf("trusted proxies = %v", c.TrustedProxies)
				}
			},
		},
		"bad values are all reported by name": {
			env: map[string]string{"LOG_LEVEL": "loud", "SHUTDOWN_DELAY": "soon", "SHOP_CURRENCY": "XAU", "DATABASE_URL": "mysql://x", "REDIS_URL": "http://x", "TRUSTED_PROXIES": "10.0.0.0/33",
				"PUBLIC_URL": "ftp://shop.example.com", "SEARCH_RATE_LIMIT": "-1", "SHOPPER_STATEMENT_TIMEOUT": "forever", "METRICS_ADDR": ":8080",
				"TOTP_KEY": "short-secret-key", "TOTP_KEY_PREVIOUS": "older-short-key"},
			wantErr: []string{"LOG_LEVEL", "SHUTDOWN_DELAY", "SHOP_CURRENCY", "DATABASE_URL", "REDIS_URL", "TRUSTED_PROXIES", "PUBLIC_URL", "SEARCH_RATE_LIMIT", "SHOPPER_STATEMENT_TIMEOUT", "METRICS_ADDR",
				"TOTP_KEY: has 16 characters, fewer than 32", "TOTP_KEY_PREVIOUS: has 15 characters"},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			c, err := config.FromEnv(env(tt.env))
			if len(tt.wantErr) > 0 {
				if err == nil {
					t.Fatal("no error")
				}
				for _, w := range tt.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not name %s", err, w)
					}
				}
				if strings.Contains(err.Error(), "short-secret-key") {
					t.Errorf("error %q repeats a key", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, c)
		})
	}
}

func TestRequirements(t *testing.T) {
	c, _ := config.FromEnv(env(nil))
	if err := c.RequireDatabase(); err == nil || !strings.Contains(err.Error(), "DATABASE_URL") {
		t.Errorf("RequireDatabase = %v", err)
	}
	c.DatabaseURL = "postgres://h/db"
	if err := c.RequireServe(); err == nil || !strings.Contains(err.Error(), "JWT_SECRET") {
		t.Errorf("RequireServe = %v", err)
	}
	c.JWTSecret = "x"
	if err := c.RequireServe(); err != nil {
		t.Errorf("RequireServe = %v", err)
	}
}

func TestImageStoreSettings(t *testing.T) {
	base := map[string]string{"DATABASE_URL": "postgres://u@h/db"}
	with := func(kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	for name, tc := range map[string]struct {
		env                 map[string]string
		wantStore, wantBase string
		wantErr             string
	}{
		"none":                       {env: with(), wantStore: "", wantBase: ""},
		"s3 with the CDN's URL":      {env: with("IMAGE_STORE", "s3://shop-a-images/img", "IMAGE_BASE_URL", "https://cdn.example.com/img/"), wantStore: "s3://shop-a-images/img", wantBase: "https://cdn.example.com/img"},
		"s3 needs a base URL":        {env: with("IMAGE_STORE", "s3://shop-a-images"), wantErr: "IMAGE_BASE_URL is required"},
		"a directory serves /images": {env: with("IMAGE_STORE", "/var/lib/shop/images"), wantStore: "/var/lib/shop/images", wantBase: "/images"},
		"a relative directory":       {env: with("IMAGE_STORE", "images"), wantErr: "IMAGE_STORE"},
		"a bad base URL":             {env: with("IMAGE_STORE", "/d", "IMAGE_BASE_URL", "javascript:alert(1)"), wantErr: "IMAGE_BASE_URL"},
		"a protocol-relative base":   {env: with("IMAGE_STORE", "/d", "IMAGE_BASE_URL", "//evil.example"), wantErr: "IMAGE_BASE_URL"},
		"an s3 URL with a query":     {env: with("IMAGE_STORE", "s3://b/p?x=1", "IMAGE_BASE_URL", "https://b.example"), wantErr: "IMAGE_STORE"},
	} {
		t.Run(name, func(t *testing.T) {
			c, err := config.FromEnv(env(tc.env))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one naming %s", err, tc.wantErr)
				}
				return
			}
			if err != nil || c.ImageStore != tc.wantStore || c.ImageBaseURL != tc.wantBase {
				t.Fatalf("got store %q base %q err %v; want %q %q", c.ImageStore, c.ImageBaseURL, err, tc.wantStore, tc.wantBase)
			}
		})
	}
}
