-- Hosts protected through nginx auth_request, registered with `sso-server forward-auth add`.
-- hosts, allowed_users and allowed_groups are JSON arrays of strings.
CREATE TABLE forward_auth_hosts (
    name TEXT PRIMARY KEY,
    hosts TEXT NOT NULL,
    allowed_users TEXT NOT NULL,
    allowed_groups TEXT NOT NULL,
    idle_timeout_secs BIGINT NOT NULL,
    absolute_timeout_secs BIGINT NOT NULL
);
