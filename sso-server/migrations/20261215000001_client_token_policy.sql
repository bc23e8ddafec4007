-- What each client may obtain at /token and in which form (clients::TokenPolicy). Lists are
-- space-separated. Existing clients keep the code exchange and get session-bound refresh tokens.
ALTER TABLE clients ADD COLUMN grant_types TEXT NOT NULL DEFAULT 'authorization_code refresh_token';
ALTER TABLE clients ADD COLUMN client_credentials_scopes TEXT NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN access_token_format TEXT NOT NULL DEFAULT 'opaque';
ALTER TABLE clients ADD COLUMN offline_access BIGINT NOT NULL DEFAULT 0;
