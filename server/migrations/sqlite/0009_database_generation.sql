-- Which database this is and which generation of its data: one row, made by the server at its
-- first start on this schema (ids are random UUIDs, made in Rust). A restore starts a new
-- generation: a higher counter and a fresh random id, so two restores of one backup differ.
CREATE TABLE database_generation (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    database_id TEXT NOT NULL,
    generation INTEGER NOT NULL,
    generation_id TEXT NOT NULL,
    started_at INTEGER NOT NULL
);
