-- Project set-up: sites, activities and instrument wording, delivered to devices on sync.
-- Nothing is deleted: sites and activities are archived (hidden from devices, kept for
-- the sessions that name them).
CREATE TABLE sites (
    project TEXT NOT NULL REFERENCES projects(slug),
    slug TEXT NOT NULL,
    name TEXT NOT NULL,
    archived INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (project, slug)
);
CREATE TABLE activities (
    project TEXT NOT NULL REFERENCES projects(slug),
    slug TEXT NOT NULL,
    name TEXT NOT NULL,
    activity_type TEXT NOT NULL,
    site TEXT,
    archived INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (project, slug)
);
-- One wording per (project, instrument, language); project '' is the server-wide wording,
-- which applies to every project without its own.
CREATE TABLE instrument_wording (
    project TEXT NOT NULL,
    instrument TEXT NOT NULL,
    language TEXT NOT NULL,
    licence TEXT,
    items TEXT NOT NULL,
    responses TEXT NOT NULL,
    version INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (project, instrument, language)
);
