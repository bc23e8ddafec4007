-- Passkeys (WebAuthn credentials) of users, several per user, each named by its user.
-- `credential_id` is the credential's id, base64url without padding; `credential` the
-- credential as webauthn-rs serializes it (JSON: public key, counter, backup state), updated
-- after each use.
CREATE TABLE user_passkeys (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    name TEXT NOT NULL,
    credential_id TEXT NOT NULL UNIQUE,
    credential TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT
);
CREATE INDEX user_passkeys_user ON user_passkeys (user_id);
