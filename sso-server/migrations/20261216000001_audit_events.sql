-- The audit trail: security events, newest read first. `detail` is a JSON object of
-- event-specific fields; no password, secret or token is ever written here.
CREATE TABLE audit_events (
    id TEXT PRIMARY KEY,
    at_ms BIGINT NOT NULL,
    event TEXT NOT NULL,
    username TEXT,
    actor TEXT,
    client_id TEXT,
    ip TEXT,
    user_agent TEXT,
    detail TEXT NOT NULL
);
CREATE INDEX audit_events_by_time ON audit_events (at_ms, id);
CREATE INDEX audit_events_by_user ON audit_events (username, at_ms);
CREATE INDEX audit_events_by_event ON audit_events (event, at_ms);
