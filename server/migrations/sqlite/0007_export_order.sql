-- Exports read sessions in (start, id) order and each session's marks by its primary key, so
-- a million-row attendance export streams without sorting.
CREATE INDEX sessions_project_start_id ON sessions (project, starts_at, id);
