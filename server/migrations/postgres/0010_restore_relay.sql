-- Generations of this database's data that restores replaced: the generation a backup was
-- taken in, and the one the restore replaced (with those it had superseded itself). A device
-- whose cursor names one of them synced with a timeline this database lost, and may vouch for
-- changes the server acknowledged there (docs/protocol.md, section 9.6).
CREATE TABLE superseded_generations (
    generation_id TEXT PRIMARY KEY,
    generation BIGINT NOT NULL,
    superseded_at BIGINT NOT NULL
);

-- The superseded generation a device is reconciling from, while it sends back what the server
-- lost; NULL otherwise. Set when its cursor names a superseded generation, cleared once its
-- request holds everything it had left to send.
ALTER TABLE devices ADD COLUMN relay_from TEXT;
