-- The on-device store. Never edit an applied migration: add a new one.

-- Settings and identity: server url, device id and token, actor, user, memberships, cursor.
CREATE TABLE meta (
    key   TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
);

-- One row per record: its Automerge document and what the server is known to hold.
CREATE TABLE records (
    id          TEXT PRIMARY KEY NOT NULL,  -- UUID
    kind        TEXT NOT NULL,              -- participant | session | wellbeing | story
    project     TEXT NOT NULL,
    doc         BLOB NOT NULL,              -- the whole document, compacted
    heads       BLOB NOT NULL,              -- the document's heads: sorted 32-byte hashes
    acked_heads BLOB,                       -- heads the server is known to hold; NULL if none
    label       TEXT NOT NULL,              -- one line for lists
    code        TEXT,                       -- a participant's human-facing code
    updated_at  INTEGER NOT NULL            -- device clock, Unix seconds
);
CREATE INDEX records_kind ON records (kind);
CREATE INDEX records_code ON records (code) WHERE code IS NOT NULL;

-- Local copies of records the server refused. Kept, never deleted (except by erasure).
CREATE TABLE set_aside (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    record_id TEXT NOT NULL,
    kind      TEXT,
    project   TEXT,
    doc       BLOB NOT NULL,
    reason    TEXT NOT NULL,
    at        INTEGER NOT NULL
);
CREATE INDEX set_aside_record ON set_aside (record_id);

-- What the server said about pushed records (quarantined values, flags, refusals).
CREATE TABLE reports (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    record_id TEXT NOT NULL,
    kind      TEXT NOT NULL,
    code      TEXT NOT NULL,
    field     TEXT,
    message   TEXT NOT NULL,
    at        INTEGER NOT NULL
);
CREATE INDEX reports_record ON reports (record_id);
