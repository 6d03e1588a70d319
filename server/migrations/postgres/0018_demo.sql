-- A demo project (`bothy-server demo`): filled with synthetic people by a seeded generator, and
-- the only kind of project `bothy-server demo --remove` deletes. 1 for a demo, else 0.
ALTER TABLE projects ADD COLUMN demo INTEGER NOT NULL DEFAULT 0;
