-- The groups of each user, one row per membership. Group names are 1-64 characters of
-- letters, digits, '.', '_' and '-' (no commas: nginx receives them comma-separated).
CREATE TABLE user_groups (
    user_id TEXT NOT NULL,
    group_name TEXT NOT NULL,
    PRIMARY KEY (user_id, group_name)
);
