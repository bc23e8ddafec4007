-- Second factors (factors module). A user's TOTP secret: base32, or `sealed:v1:...` when
-- tokens.key_encryption_key is set. Recovery codes are stored as SHA-256 digests, one row per
-- code; `used_at` is set, once, when one is used.
CREATE TABLE user_totp (
    user_id TEXT PRIMARY KEY,
    secret TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT
);
CREATE TABLE recovery_codes (
    user_id TEXT NOT NULL,
    code_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    used_at BIGINT,
    PRIMARY KEY (user_id, code_hash)
);
-- Whether a client's users must give a second factor: 'optional', 'required', or NULL for
-- the center's default (login.mfa).
ALTER TABLE clients ADD COLUMN mfa TEXT;
-- The same for a protected host entry (forward auth).
ALTER TABLE forward_auth_hosts ADD COLUMN mfa TEXT;
