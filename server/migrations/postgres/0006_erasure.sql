-- Erasure of a participant (subject rights): one tombstone per erased record id. A tombstone
-- holds only the random record id, its project and kind, the participant it belonged to (also
-- a random id) and when and by whom it was erased: never any personal data. `seq` is a value
-- of the change log's head taken in the erasure's transaction, so a device whose cursor is
-- below it has not yet been told to purge the record. Tombstones are never deleted: they also
-- make the server refuse re-uploads of the erased records.
CREATE TABLE erasures (
    record_id TEXT PRIMARY KEY,
    project TEXT NOT NULL,
    kind TEXT NOT NULL,
    participant_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    erased_at BIGINT NOT NULL,
    erased_by TEXT
);
CREATE INDEX erasures_project_seq ON erasures (project, seq);
CREATE INDEX erasures_participant ON erasures (participant_id);
CREATE INDEX stories_participant ON stories (participant_id);
