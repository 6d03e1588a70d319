-- What a device said at its last sync: how many of its records still held changes the server
-- had not acknowledged (less what that sync acknowledged), and how many records it pushed.
ALTER TABLE devices ADD COLUMN pending_records INTEGER;
ALTER TABLE devices ADD COLUMN last_pushed INTEGER;

-- Failed logins, for rate limiting. `key` is `account:<username>` or `address:<ip>`. Kept in
-- the database so every server process behind a load balancer sees the same counts.
CREATE TABLE login_failures (
    key TEXT NOT NULL,
    at INTEGER NOT NULL,
    attempt TEXT NOT NULL
);
CREATE INDEX login_failures_key ON login_failures (key, at);
CREATE INDEX login_failures_attempt ON login_failures (attempt);
CREATE INDEX login_failures_at ON login_failures (at);
