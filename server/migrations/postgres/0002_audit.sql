-- Append-only audit log. The API offers no way to change or delete an entry.
CREATE TABLE audit_log (
    id BIGSERIAL PRIMARY KEY,
    at BIGINT NOT NULL,
    actor_user_id TEXT,
    actor_username TEXT,
    device_id TEXT,
    action TEXT NOT NULL,
    project TEXT,
    target TEXT,
    details TEXT NOT NULL
);
CREATE INDEX audit_log_project ON audit_log (project, id);
CREATE FUNCTION audit_log_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
