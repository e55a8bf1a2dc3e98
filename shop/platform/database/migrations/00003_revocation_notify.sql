-- Every replica keeps the live token revocations in memory and follows new ones through
-- LISTEN/NOTIFY on the channel shop_revoked_tokens (shop/auth, Revocations): PostgreSQL
-- is the source of truth, Redis is not involved. The payload is "<jti> <expiry as unix
-- seconds>"; a trigger rather than the application sends it, so any insert is heard.
--
-- Expand/contract: the previous release inserts into revoked_tokens as before; the
-- trigger only adds a notification nobody of that release listens to.

-- +goose Up
-- +goose StatementBegin
CREATE FUNCTION notify_revoked_token() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('shop_revoked_tokens', NEW.jti || ' ' || floor(extract(epoch FROM NEW.expires_at))::bigint);
    RETURN NULL;
END
$$;
-- +goose StatementEnd
CREATE TRIGGER revoked_tokens_notify AFTER INSERT ON revoked_tokens
    FOR EACH ROW EXECUTE FUNCTION notify_revoked_token();

-- +goose Down
DROP TRIGGER revoked_tokens_notify ON revoked_tokens;
DROP FUNCTION notify_revoked_token();
