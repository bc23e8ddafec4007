-- A worker claims a batch of due deliveries with one statement, tagging them with a claim id.
ALTER TABLE logout_deliveries ADD COLUMN claim TEXT;
