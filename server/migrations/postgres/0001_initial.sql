-- Bothy schema, PostgreSQL flavour. Never edit an applied migration: add a new one.
CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);

CREATE TABLE users (
    id TEXT PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    is_admin BIGINT NOT NULL DEFAULT 0,
    active BIGINT NOT NULL DEFAULT 1,
    created_at BIGINT NOT NULL
);

CREATE TABLE projects (slug TEXT PRIMARY KEY, name TEXT NOT NULL, created_at BIGINT NOT NULL);

CREATE TABLE memberships (
    project TEXT NOT NULL REFERENCES projects (slug),
    user_id TEXT NOT NULL REFERENCES users (id),
    role TEXT NOT NULL,
    PRIMARY KEY (project, user_id)
);

CREATE TABLE refresh_tokens (
    token_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id),
    family TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT,
    revoked BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family);

CREATE TABLE enrolments (
    code_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id),
    created_by TEXT,
    expires_at BIGINT NOT NULL,
    used_at BIGINT,
    created_at BIGINT NOT NULL
);

CREATE TABLE devices (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id),
    name TEXT NOT NULL,
    actor TEXT NOT NULL UNIQUE,
    token_hash TEXT NOT NULL,
    app TEXT,
    created_at BIGINT NOT NULL,
    last_sync_at BIGINT,
    revoked_at BIGINT
);

-- The change log's high-water mark. Updating this one row inside every writing transaction
-- orders commits by sequence number, so a reader never skips a change committed late.
CREATE TABLE log_head (id BIGINT PRIMARY KEY, seq BIGINT NOT NULL);
INSERT INTO log_head (id, seq) VALUES (1, 0);

CREATE TABLE records (
    id TEXT PRIMARY KEY,
    project TEXT NOT NULL,
    kind TEXT NOT NULL,
    doc BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX records_project ON records (project, id);

CREATE TABLE change_log (
    seq BIGINT PRIMARY KEY,
    record_id TEXT NOT NULL,
    project TEXT NOT NULL,
    device_id TEXT,
    actor TEXT NOT NULL,
    hash TEXT NOT NULL,
    change BYTEA NOT NULL,
    device_time BIGINT NOT NULL,
    received_at BIGINT NOT NULL,
    UNIQUE (record_id, hash)
);
CREATE INDEX change_log_project_seq ON change_log (project, seq);

CREATE TABLE quarantine (
    id BIGSERIAL PRIMARY KEY,
    record_id TEXT NOT NULL,
    project TEXT,
    device_id TEXT,
    action TEXT NOT NULL,
    code TEXT NOT NULL,
    field TEXT,
    value TEXT,
    message TEXT NOT NULL,
    changes BYTEA,
    status TEXT NOT NULL DEFAULT 'open',
    received_at BIGINT NOT NULL
);
CREATE INDEX quarantine_project ON quarantine (project, status);

CREATE TABLE record_flags (
    record_id TEXT NOT NULL,
    project TEXT NOT NULL,
    field TEXT NOT NULL,
    message TEXT NOT NULL,
    PRIMARY KEY (record_id, field, message)
);

CREATE TABLE conflicts (
    record_id TEXT NOT NULL,
    project TEXT NOT NULL,
    kind TEXT NOT NULL,
    field TEXT NOT NULL,
    conflict_values TEXT NOT NULL,
    PRIMARY KEY (record_id, field)
);
CREATE INDEX conflicts_project ON conflicts (project);

-- Projections: plain tables of merged state, rewritten in the merge's transaction.
CREATE TABLE participants (
    id TEXT PRIMARY KEY,
    project TEXT NOT NULL,
    code TEXT NOT NULL,
    consent_data_use BIGINT NOT NULL,
    consent_story_sharing BIGINT NOT NULL,
    consent_contact BIGINT NOT NULL,
    consent_date TEXT,
    consent_version TEXT,
    age_band TEXT,
    gender TEXT,
    ethnic_group TEXT,
    postcode_district TEXT,
    imd_decile BIGINT,
    rurality TEXT,
    referral_source TEXT,
    referral_date TEXT,
    referral_reason TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX participants_project ON participants (project);

-- Direct identifiers, kept apart: never exported to analysts.
CREATE TABLE participant_identifiers (
    participant_id TEXT PRIMARY KEY,
    project TEXT NOT NULL,
    name TEXT,
    phone TEXT
);

CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    project TEXT NOT NULL,
    site TEXT NOT NULL,
    activity TEXT NOT NULL,
    activity_type TEXT NOT NULL,
    starts_at TEXT NOT NULL,
    ends_at TEXT,
    location TEXT,
    facilitators TEXT NOT NULL,
    unregistered_attendees BIGINT NOT NULL,
    notes TEXT NOT NULL,
    needs_review BIGINT NOT NULL
);
CREATE INDEX sessions_project ON sessions (project, starts_at);

CREATE TABLE attendance (
    session_id TEXT NOT NULL,
    participant_id TEXT NOT NULL,
    project TEXT NOT NULL,
    status TEXT NOT NULL,
    PRIMARY KEY (session_id, participant_id)
);
CREATE INDEX attendance_participant ON attendance (participant_id);

CREATE TABLE wellbeing_responses (
    id TEXT PRIMARY KEY,
    project TEXT NOT NULL,
    participant_id TEXT NOT NULL,
    instrument TEXT NOT NULL,
    timepoint TEXT NOT NULL,
    response_date TEXT NOT NULL,
    session_id TEXT,
    complete BIGINT NOT NULL,
    items_answered BIGINT NOT NULL,
    raw_score BIGINT,
    swemwbs_raw BIGINT,
    metric_score DOUBLE PRECISION,
    incomplete_reason TEXT,
    items TEXT NOT NULL
);
CREATE INDEX wellbeing_participant ON wellbeing_responses (participant_id, instrument, timepoint);

CREATE TABLE stories (
    id TEXT PRIMARY KEY,
    project TEXT NOT NULL,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    participant_id TEXT,
    author TEXT NOT NULL,
    consent_scope TEXT NOT NULL,
    themes TEXT NOT NULL,
    session_id TEXT,
    language TEXT
);
