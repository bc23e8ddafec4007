-- Secrets the center makes itself on first start, shared by every replica through the database
-- (the HMAC key of CSRF tokens, ...). value is base64, or sealed:v1:… when
-- tokens.key_encryption_key is set.
CREATE TABLE server_secrets (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
