-- A project's follow-up schedule: when each questionnaire after baseline is due, in weeks
-- after the participant's baseline or in sessions attended (exactly one of the two), each
-- timepoint at most once, in the order the coordinator gave. Delivered to devices in the
-- project's set-up. Setting a schedule replaces every row of the project; an empty schedule
-- has no rows.
CREATE TABLE followup_steps (
    project TEXT NOT NULL REFERENCES projects(slug),
    position BIGINT NOT NULL,
    timepoint TEXT NOT NULL,
    after_weeks BIGINT,
    after_sessions BIGINT,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (project, position),
    UNIQUE (project, timepoint),
    CHECK ((after_weeks IS NULL) <> (after_sessions IS NULL)),
    CHECK (after_weeks IS NULL OR after_weeks BETWEEN 1 AND 260),
    CHECK (after_sessions IS NULL OR after_sessions BETWEEN 1 AND 500)
);
