-- Revoking every session of an account at once: when an admin enables or replaces a
-- second factor, when a password changes (the forced first change, `shop create-admin`),
-- every session opened before stops working, on every replica (shop/auth, Revocations).
--
-- A session token carries the account's session_generation of when it was issued (the
-- `gen` claim, absent for 0); raising the generation refuses every token with a lower
-- one. A counter rather than a "valid from" instant: the replicas' clocks and the second
-- granularity of a token's iat cannot tell a session issued in the same second as the
-- change, or on a replica whose clock is behind, from one issued before it.
--
-- Replicas follow the generations as they follow revocations (migration 00003): a trigger
-- notifies every raise on the channel shop_session_generations with "<user id>
-- <generation>", and the listener loads the accounts above 0 (the partial index) when it
-- (re)connects.
--
-- Expand/contract: the previous release inserts users without the column (0) and never
-- raises it; its tokens have no `gen` claim (0), valid while the account's generation is 0.

-- +goose Up
ALTER TABLE users ADD COLUMN session_generation bigint NOT NULL DEFAULT 0 CHECK (session_generation >= 0);
CREATE INDEX users_session_generation_idx ON users (id) WHERE session_generation > 0;
-- +goose StatementBegin
CREATE FUNCTION notify_session_generation() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('shop_session_generations', NEW.id || ' ' || NEW.session_generation);
    RETURN NULL;
END
$$;
-- +goose StatementEnd
CREATE TRIGGER users_session_generation_notify AFTER UPDATE OF session_generation ON users
    FOR EACH ROW WHEN (NEW.session_generation > OLD.session_generation)
    EXECUTE FUNCTION notify_session_generation();

-- +goose Down
DROP TRIGGER users_session_generation_notify ON users;
DROP FUNCTION notify_session_generation();
DROP INDEX users_session_generation_idx;
ALTER TABLE users DROP COLUMN session_generation;
