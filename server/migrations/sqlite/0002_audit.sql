-- Append-only audit log. The API offers no way to change or delete an entry.
CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at INTEGER NOT NULL,
    actor_user_id TEXT,
    actor_username TEXT,
    device_id TEXT,
    action TEXT NOT NULL,
    project TEXT,
    target TEXT,
    details TEXT NOT NULL
);
CREATE INDEX audit_log_project ON audit_log (project, id);
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
