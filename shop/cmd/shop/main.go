// Command shop is the Storefront web shop (docs/architecture.md#the-shops-process-contract):
//
//	shop serve                          the HTTP server
//	shop migrate [--seed=none|demo]     apply migrations, bootstrap the admin, load the demo catalog once
//	    [--app-role=R [--app-password-file=F]] [--retire-role=R]
//	                                    keep the application roles app_a and app_b; let R log in with
//	                                    the password in F (or APP_PASSWORD); withdraw R's login
//	shop seed --products N              add N synthetic products (COPY), for benchmarks
//	shop create-admin --email E         create or promote an admin; the password is read from stdin
//
// Settings come from the environment: DATABASE_URL (required), REDIS_URL, JWT_SECRET
// (required by serve), HTTP_ADDR, METRICS_ADDR, LOG_LEVEL, SHOP_CURRENCY, ADMIN_EMAIL,
// ADMIN_PASSWORD, SHUTDOWN_DELAY, IMAGE_STORE and IMAGE_BASE_URL (product images),
// APP_ROLE and APP_PASSWORD (migrate), and the standard
// OTEL_* variables: with OTEL_EXPORTER_OTLP_ENDPOINT set, serve and migrate export
// traces with OTLP, and migrate continues the trace of TRACEPARENT and TRACESTATE.
// Failures print one line on stderr and exit non-zero.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/storefront-operator/storefront/shop/app"
	"github.com/storefront-operator/storefront/shop/platform/config"
	"github.com/storefront-operator/storefront/shop/platform/logging"
	"github.com/storefront-operator/storefront/shop/platform/tracing"
)

// version is set at build time (-ldflags -X main.version=...).
var version = "dev"

const usage = "usage: shop serve | migrate [--seed=none|demo] [--app-role=app_a|app_b [--app-password-file=F]] [--retire-role=app_a|app_b] | seed --products N | create-admin --email E"

func main() {
	if err := run(os.Args[1:], os.Stdin); err != nil {
		// One line, whatever the error holds.
		msg := strings.Join(strings.Fields(err.Error()), " ")
		fmt.Fprintf(os.Stderr, "shop: %s\n", msg)
		os.Exit(1)
	}
}

func run(args []string, stdin io.Reader) error {
	if len(args) < 1 {
		return errors.New(usage)
	}
	cfg, err := config.FromEnv(os.Getenv)
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	logger := logging.New(os.Stdout, cfg.LogLevel).With("version", version)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	tp, err := tracing.Setup(ctx, os.Getenv, "shop", version)
	if err != nil {
		return fmt.Errorf("tracing: %w", err)
	}
	var opts []app.Option
	if tp != nil {
		opts = append(opts, app.WithTracerProvider(tp))
		defer func() {
			// Flush the queued spans; a collector that does not answer costs at most this.
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			if err := tp.Shutdown(sctx); err != nil {
				logger.Warn("Flushing traces failed", "error", err)
			}
		}()
	}

	cmd, rest := args[0], args[1:]
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	switch cmd {
	case "serve":
		if err := fs.Parse(rest); err != nil {
			return fmt.Errorf("serve: %w", err)
		}
		return app.Serve(ctx, cfg, logger, opts...)
	case "migrate":
		seedFlag := fs.String("seed", "none", "none or demo: load the demo catalog once")
		appRole := fs.String("app-role", cfg.AppRole, "app_a or app_b: the application role that may log in with the password")
		passwordFile := fs.String("app-password-file", "", "the file holding the application role's password (default: APP_PASSWORD)")
		retireRole := fs.String("retire-role", "", "app_a or app_b: the application role whose login is withdrawn")
		if err := fs.Parse(rest); err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		mode, err := app.ParseSeedMode(*seedFlag)
		if err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		cfg.AppRole, cfg.RetireRole = *appRole, *retireRole
		if *passwordFile != "" {
			if cfg.AppPassword != "" {
				return errors.New("migrate: the application role's password is given twice: APP_PASSWORD and --app-password-file")
			}
			b, err := os.ReadFile(*passwordFile)
			if err != nil {
				return fmt.Errorf("migrate: reading the application role's password: %w", err)
			}
			// A file written by hand ends with a newline; a mounted Secret key does not.
			cfg.AppPassword = strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
		}
		// The migration Job's environment may hand over the operator's trace.
		if _, err := app.Migrate(tracing.ContextFromEnv(ctx, os.Getenv), cfg, mode, logger, opts...); err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		return nil
	case "seed":
		n := fs.Int("products", 0, "number of synthetic products to create")
		if err := fs.Parse(rest); err != nil {
			return fmt.Errorf("seed: %w", err)
		}
		if *n <= 0 {
			return errors.New("seed: --products N with N > 0 is required")
		}
		_, err := app.SeedProducts(ctx, cfg, *n, logger)
		if err != nil {
			return fmt.Errorf("seed: %w", err)
		}
		return nil
	case "create-admin":
		email := fs.String("email", "", "the admin's email")
		if err := fs.Parse(rest); err != nil {
			return fmt.Errorf("create-admin: %w", err)
		}
		if *email == "" {
			return errors.New("create-admin: --email is required (the password is read from stdin)")
		}
		password, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("create-admin: reading the password from stdin: %w", err)
		}
		created, err := app.CreateAdmin(ctx, cfg, *email, strings.TrimRight(password, "\r\n"))
		if err != nil {
			return fmt.Errorf("create-admin: %w", err)
		}
		if created {
			fmt.Fprintf(os.Stdout, "created admin %s\n", strings.ToLower(strings.TrimSpace(*email)))
		} else {
			fmt.Fprintf(os.Stdout, "%s is now an admin with the new password\n", strings.ToLower(strings.TrimSpace(*email)))
		}
		return nil
	default:
		return fmt.Errorf("unknown command %q; %s", cmd, usage)
	}
}
