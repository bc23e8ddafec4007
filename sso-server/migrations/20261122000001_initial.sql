-- Portable between SQLite and PostgreSQL: TEXT and BIGINT only, times in Unix milliseconds.

CREATE TABLE users (
    id TEXT PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    email TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    disabled BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL
);

-- Relying parties. secret_hash is the SHA-256 of the client secret (hex); NULL for public
-- clients. URI lists are JSON arrays of exact URIs.
CREATE TABLE clients (
    client_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    secret_hash TEXT,
    redirect_uris TEXT NOT NULL,
    post_logout_redirect_uris TEXT NOT NULL,
    backchannel_logout_uri TEXT,
    id_token_alg TEXT NOT NULL DEFAULT 'RS256'
);

-- Live global sessions and the clients that joined each; the authority on whether a session
-- still exists, so that every way it ends (on any replica, or from the CLI) triggers logout.
CREATE TABLE global_sessions (
    sid TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX global_sessions_user ON global_sessions (user_id);

CREATE TABLE session_clients (
    sid TEXT NOT NULL,
    client_id TEXT NOT NULL,
    registered_at BIGINT NOT NULL,
    PRIMARY KEY (sid, client_id)
);

-- The single logout outbox: one row per (ended session, client).
CREATE TABLE logout_deliveries (
    id TEXT PRIMARY KEY,
    sid TEXT NOT NULL,
    user_id TEXT NOT NULL,
    client_id TEXT NOT NULL,
    uri TEXT NOT NULL,
    reason TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    last_error TEXT,
    next_attempt_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX logout_deliveries_due ON logout_deliveries (state, next_attempt_at);
CREATE INDEX logout_deliveries_sid ON logout_deliveries (sid);

-- Token signing keys as PKCS#8 PEM; the newest of each algorithm signs, the two newest are
-- published.
CREATE TABLE signing_keys (
    kid TEXT PRIMARY KEY,
    alg TEXT NOT NULL,
    private_key TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
