package app

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/exaring/otelpgx"
	"github.com/jackc/pgx/v5"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/storefront-operator/storefront/shop/auth"
	"github.com/storefront-operator/storefront/shop/platform/config"
	"github.com/storefront-operator/storefront/shop/platform/database"
	"github.com/storefront-operator/storefront/shop/seed"
)

// MigrateResult says what Migrate did.
type MigrateResult struct {
	Applied      []int64
	AdminCreated bool
	DemoLoaded   bool
	// RolesMaintained: the application roles were created or kept, and changed as asked.
	RolesMaintained bool
}

// Migrate is `shop migrate`: it applies the pending migrations under the advisory lock,
// then, still serialised by the lock, maintains the application roles when asked to
// (cfg.AppRole, cfg.RetireRole), creates the admin from ADMIN_EMAIL/ADMIN_PASSWORD
// when no admin exists and loads the demo catalog when mode is demo and it was never
// loaded. Running it twice, or twice at once, does each thing once.
//
// With WithTracerProvider, it records a span "shop migrate" (a child of the trace
// context in ctx, the operator's reconcile when the Job's environment carried it) with
// a child per step and the SQL statements of its pool.
func Migrate(ctx context.Context, cfg config.Config, mode SeedMode, logger *slog.Logger, opts ...Option) (res MigrateResult, retErr error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	tracer := tracerOf(o.tracerProvider)
	ctx, span := tracer.Start(ctx, "shop migrate", trace.WithAttributes(attribute.String("shop.seed", string(mode))))
	defer func() { endSpan(span, retErr) }()
	if err := cfg.RequireDatabase(); err != nil {
		return res, err
	}
	roles := database.RoleChanges{Activate: cfg.AppRole, Password: cfg.AppPassword, Retire: cfg.RetireRole}
	if err := roles.Validate(); err != nil {
		return res, err
	}
	if logger == nil {
		logger = slog.Default()
	}
	sctx, step := tracer.Start(ctx, "apply migrations")
	applied, err := database.Migrate(sctx, cfg.DatabaseURL, logger)
	res.Applied = applied
	step.SetAttributes(attribute.Int("shop.migrations.applied", len(applied)))
	endSpan(step, err)
	if err != nil {
		return res, err
	}
	pcfg, err := database.ParseURL(cfg.DatabaseURL)
	if err != nil {
		return res, err
	}
	if o.tracerProvider != nil {
		pcfg.ConnConfig.Tracer = otelpgx.NewTracer(otelpgx.WithTracerProvider(o.tracerProvider),
			otelpgx.WithMeterProvider(metricnoop.NewMeterProvider()))
	}
	pool, err := database.OpenConfig(ctx, pcfg)
	if err != nil {
		return res, err
	}
	defer pool.Close()
	if !roles.Empty() {
		sctx, step := tracer.Start(ctx, "maintain application roles")
		err := database.MaintainRoles(sctx, pool, roles, logger)
		endSpan(step, err)
		if err != nil {
			return res, err
		}
		res.RolesMaintained = true
	}
	sctx, step = tracer.Start(ctx, "bootstrap admin and catalog")
	defer func() { endSpan(step, retErr) }()
	err = database.WithAdvisoryLock(sctx, pool, func(tx pgx.Tx) error {
		created, err := auth.EnsureAdmin(sctx, tx, cfg.AdminEmail, cfg.AdminPassword)
		if err != nil {
			return err
		}
		res.AdminCreated = created
		if mode == SeedDemo {
			loaded, err := seed.Demo(sctx, tx, cfg.Currency)
			if err != nil {
				return err
			}
			res.DemoLoaded = loaded
		}
		return nil
	})
	if err != nil {
		return res, err
	}
	step.SetAttributes(attribute.Bool("shop.admin_created", res.AdminCreated), attribute.Bool("shop.demo_loaded", res.DemoLoaded))
	logger.InfoContext(ctx, "Migrated", "applied", len(res.Applied), "adminCreated", res.AdminCreated, "demoLoaded", res.DemoLoaded, "rolesMaintained", res.RolesMaintained)
	return res, nil
}

// SeedProducts is `shop seed --products N`: n synthetic products in one COPY. It returns
// up to 100 of their slugs.
func SeedProducts(ctx context.Context, cfg config.Config, n int, logger *slog.Logger) ([]string, error) {
	if err := cfg.RequireDatabase(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.Default()
	}
	conn, err := connect(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer func() { _ = conn.Close(context.WithoutCancel(ctx)) }()
	if err := database.SchemaReady(ctx, conn); err != nil {
		return nil, err
	}
	start := time.Now()
	slugs, err := seed.Synthetic(ctx, conn, n, cfg.Currency)
	if err != nil {
		return nil, err
	}
	logger.Info("Seeded synthetic products", "products", n, "seconds", time.Since(start).Seconds())
	return slugs, nil
}

// CreateAdmin is `shop create-admin`: it creates the admin, or makes the user with that
// email an admin with this password. It reports whether the user was new.
func CreateAdmin(ctx context.Context, cfg config.Config, email, password string) (bool, error) {
	if err := cfg.RequireDatabase(); err != nil {
		return false, err
	}
	conn, err := connect(ctx, cfg)
	if err != nil {
		return false, err
	}
	defer func() { _ = conn.Close(context.WithoutCancel(ctx)) }()
	if err := database.SchemaReady(ctx, conn); err != nil {
		return false, err
	}
	return auth.CreateAdmin(ctx, conn, email, password)
}

func connect(ctx context.Context, cfg config.Config) (*pgx.Conn, error) {
	pc, err := database.ParseURL(cfg.DatabaseURL)
	if err != nil {
		return nil, err
	}
	conn, err := pgx.ConnectConfig(ctx, pc.ConnConfig)
	if err != nil {
		return nil, fmt.Errorf("connecting to database %s:%d/%s: %w", pc.ConnConfig.Host, pc.ConnConfig.Port, pc.ConnConfig.Database, database.Unwrap(err))
	}
	return conn, nil
}

// tracerOf is the shop's tracer of tp, or a no-op one without tracing.
func tracerOf(tp trace.TracerProvider) trace.Tracer {
	if tp == nil {
		return tracenoop.NewTracerProvider().Tracer("")
	}
	return tp.Tracer("github.com/storefront-operator/storefront/shop")
}

// endSpan ends span, recording err (its message only: errors here name no secret; the
// database package strips URLs from its errors).
func endSpan(span trace.Span, err error) {
	if err != nil {
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}
