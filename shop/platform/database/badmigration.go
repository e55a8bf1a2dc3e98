//go:build badmigration

package database

import (
	"context"
	"database/sql"

	"github.com/pressly/goose/v3"
)

// BadMigrationVersion is the version of the migration that the badmigration build adds:
// higher than any real migration, so it is always the last one applied and always fails.
const BadMigrationVersion int64 = 99999999999

// The badmigration build (go build -tags badmigration ./shop/cmd/shop) exists for the
// demo and the end-to-end tests of a failed rollout: its migrate applies the real
// migrations, then fails on this one, so the previous version must keep serving.
func init() {
	extraMigrations = append(extraMigrations, goose.NewGoMigration(BadMigrationVersion,
		&goose.GoFunc{RunTx: func(ctx context.Context, tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, `DO $$ BEGIN RAISE EXCEPTION 'badmigration build: this migration fails on purpose'; END $$`)
			return err
		}}, nil))
}
