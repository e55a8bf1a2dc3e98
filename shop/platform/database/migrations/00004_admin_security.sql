-- Admin sign-in hardening (issue 21): a forced password change at first sign-in and a
-- TOTP second factor (RFC 6238).
--
-- Expand only: new columns with defaults. The previous release inserts users without
-- them and never reads them.

-- +goose Up
ALTER TABLE users
    -- Set for the bootstrap admin (whose password sits in a Secret): login refuses to
    -- issue a session until a new password replaces it.
    ADD COLUMN must_change_password boolean NOT NULL DEFAULT false,
    -- The enrolled TOTP secret (base32), NULL without a second factor.
    ADD COLUMN totp_secret text CHECK (length(totp_secret) BETWEEN 16 AND 128),
    -- A secret shown for enrolment and not yet confirmed with a code.
    ADD COLUMN totp_pending_secret text CHECK (length(totp_pending_secret) BETWEEN 16 AND 128),
    -- The last 30-second time step whose code was accepted: a code of that step or an
    -- earlier one is refused, so a code cannot be replayed.
    ADD COLUMN totp_last_step bigint NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE users
    DROP COLUMN totp_last_step,
    DROP COLUMN totp_pending_secret,
    DROP COLUMN totp_secret,
    DROP COLUMN must_change_password;
