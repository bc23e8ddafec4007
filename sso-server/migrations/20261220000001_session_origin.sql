-- Where each global session was started: the client's address and its browser's User-Agent,
-- shown to the user on their account page. Sessions started before are NULL ("unknown").
ALTER TABLE global_sessions ADD COLUMN ip TEXT;
ALTER TABLE global_sessions ADD COLUMN user_agent TEXT;
