-- Instruments a project defines itself (docs/instruments.md): one row per id and version, the
-- definition as JSON. A version that has responses only ever changes compatibly; anything
-- else is a new version, so old responses keep their meaning.
CREATE TABLE instrument_definitions (
    project TEXT NOT NULL,
    instrument TEXT NOT NULL,
    version BIGINT NOT NULL,
    definition TEXT NOT NULL,
    defined_by TEXT,
    defined_at BIGINT NOT NULL,
    PRIMARY KEY (project, instrument, version)
);

-- Responses of any instrument: the version of a project's own definition, the score analysed
-- (WEMWBS total, SWEMWBS metric, any other instrument's reported score) and its band.
ALTER TABLE wellbeing_responses ADD COLUMN instrument_version BIGINT;
ALTER TABLE wellbeing_responses ADD COLUMN score DOUBLE PRECISION;
ALTER TABLE wellbeing_responses ADD COLUMN band TEXT;
UPDATE wellbeing_responses SET score = CASE instrument
    WHEN 'WEMWBS' THEN CAST(raw_score AS DOUBLE PRECISION) WHEN 'SWEMWBS' THEN metric_score END;

-- One row per answered item: the answer given and the value scored (after reversing).
CREATE TABLE wellbeing_items (
    response_id TEXT NOT NULL,
    project TEXT NOT NULL,
    item BIGINT NOT NULL,
    answer BIGINT NOT NULL,
    scored BIGINT NOT NULL,
    PRIMARY KEY (response_id, item)
);
-- The built-in instruments recorded so far reverse no item.
INSERT INTO wellbeing_items (response_id, project, item, answer, scored)
    SELECT w.id, w.project, CAST(j.key AS BIGINT), CAST(j.value AS BIGINT), CAST(j.value AS BIGINT)
    FROM wellbeing_responses w, json_each_text(CAST(w.items AS json)) j;
