-- Least data on every device (docs/security.md, "What each device holds").

-- Who first stored each record (the user of the device that pushed it), and whether it is
-- restricted to that user and those who run the project (a `private` story).
ALTER TABLE records ADD COLUMN owner_user TEXT;
ALTER TABLE records ADD COLUMN restricted INTEGER NOT NULL DEFAULT 0;
UPDATE records SET owner_user = (
    SELECT d.user_id FROM change_log c JOIN devices d ON d.id = c.device_id
    WHERE c.record_id = records.id ORDER BY c.seq LIMIT 1
);
UPDATE records SET restricted = 1
    WHERE kind = 'story' AND id IN (SELECT id FROM stories WHERE consent_scope = 'private');

-- Records whose audience narrowed (a story made private), at a position in the change log's
-- numbering: a device past that position that may no longer see the record deletes its copy.
CREATE TABLE withdrawals (
    seq INTEGER NOT NULL,
    record_id TEXT NOT NULL,
    project TEXT NOT NULL,
    withdrawn_at INTEGER NOT NULL
);
CREATE INDEX withdrawals_seq ON withdrawals (seq);

-- Participants' direct identifiers are records of their own (kind `contact`), projected here.
-- The old table is rebuilt from the documents at start-up, when participants in the old format
-- are split (the `contacts` module of the server).
DROP TABLE participant_identifiers;
CREATE TABLE contacts (
    id TEXT PRIMARY KEY,
    project TEXT NOT NULL,
    participant_id TEXT NOT NULL,
    name TEXT,
    phone TEXT,
    postcode_district TEXT,
    notes TEXT,
    created_at INTEGER NOT NULL
);
CREATE INDEX contacts_participant ON contacts (participant_id);
CREATE INDEX contacts_project ON contacts (project);
ALTER TABLE participants DROP COLUMN postcode_district;

-- Participant documents written before contact records, kept on the server only: a device
-- that still holds one is told to replace it, and changes it made to it are carried over.
CREATE TABLE retired_documents (
    record_id TEXT PRIMARY KEY,
    project TEXT NOT NULL,
    doc BLOB NOT NULL,
    retired_seq INTEGER NOT NULL,
    retired_at INTEGER NOT NULL
);
CREATE INDEX retired_documents_seq ON retired_documents (project, retired_seq);

-- Work the server does in code once these tables exist (listed by name; a row is removed when
-- its work is done): `contacts` splits participants in the old format.
CREATE TABLE pending_data_migrations (name TEXT PRIMARY KEY);
INSERT INTO pending_data_migrations (name) VALUES ('contacts');
