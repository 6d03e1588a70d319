-- Review of quarantined changes: who decided what, when and why, and whether the sending
-- device has been told. Entries are never deleted; a decision only changes their status.
ALTER TABLE quarantine ADD COLUMN decided_by TEXT;
ALTER TABLE quarantine ADD COLUMN decided_at INTEGER;
ALTER TABLE quarantine ADD COLUMN decision_reason TEXT;
ALTER TABLE quarantine ADD COLUMN notified_at INTEGER;
CREATE INDEX quarantine_device_status ON quarantine (device_id, status);
