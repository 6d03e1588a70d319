-- A number that changes whenever anything a device's project set-up is made of changes (sites,
-- activities, instrument wording and definitions, follow-up schedules), kept by triggers so
-- that every writer, in any server process, moves it. A server process keeps the set-ups it
-- computed while the number stays the same, instead of reading them again at every sync.
CREATE TABLE setup_epoch (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    n INTEGER NOT NULL
);
INSERT INTO setup_epoch (id, n) VALUES (1, 0);
CREATE TRIGGER setup_epoch_sites_insert AFTER INSERT ON sites
BEGIN
    UPDATE setup_epoch SET n = n + 1 WHERE id = 1;
END;
CREATE TRIGGER setup_epoch_sites_update AFTER UPDATE ON sites
BEGIN
    UPDATE setup_epoch SET n = n + 1 WHERE id = 1;
END;
CREATE TRIGGER setup_epoch_sites_delete AFTER DELETE ON sites
BEGIN
    UPDATE setup_epoch SET n = n + 1 WHERE id = 1;
END;
CREATE TRIGGER setup_epoch_activities_insert AFTER INSERT ON activities
BEGIN
    UPDATE setup_epoch SET n = n + 1 WHERE id = 1;
END;
CREATE TRIGGER setup_epoch_activities_update AFTER UPDATE ON activities
BEGIN
    UPDATE setup_epoch SET n = n + 1 WHERE id = 1;
END;
CREATE TRIGGER setup_epoch_activities_delete AFTER DELETE ON activities
BEGIN
    UPDATE setup_epoch SET n = n + 1 WHERE id = 1;
END;
CREATE TRIGGER setup_epoch_instrument_wording_insert AFTER INSERT ON instrument_wording
BEGIN
    UPDATE setup_epoch SET n = n + 1 WHERE id = 1;
END;
CREATE TRIGGER setup_epoch_instrument_wording_update AFTER UPDATE ON instrument_wording
BEGIN
    UPDATE setup_epoch SET n = n + 1 WHERE id = 1;
END;
CREATE TRIGGER setup_epoch_instrument_wording_delete AFTER DELETE ON instrument_wording
BEGIN
    UPDATE setup_epoch SET n = n + 1 WHERE id = 1;
END;
CREATE TRIGGER setup_epoch_instrument_definitions_insert AFTER INSERT ON instrument_definitions
BEGIN
    UPDATE setup_epoch SET n = n + 1 WHERE id = 1;
END;
CREATE TRIGGER setup_epoch_instrument_definitions_update AFTER UPDATE ON instrument_definitions
BEGIN
    UPDATE setup_epoch SET n = n + 1 WHERE id = 1;
END;
CREATE TRIGGER setup_epoch_instrument_definitions_delete AFTER DELETE ON instrument_definitions
BEGIN
    UPDATE setup_epoch SET n = n + 1 WHERE id = 1;
END;
CREATE TRIGGER setup_epoch_followup_steps_insert AFTER INSERT ON followup_steps
BEGIN
    UPDATE setup_epoch SET n = n + 1 WHERE id = 1;
END;
CREATE TRIGGER setup_epoch_followup_steps_update AFTER UPDATE ON followup_steps
BEGIN
    UPDATE setup_epoch SET n = n + 1 WHERE id = 1;
END;
CREATE TRIGGER setup_epoch_followup_steps_delete AFTER DELETE ON followup_steps
BEGIN
    UPDATE setup_epoch SET n = n + 1 WHERE id = 1;
END;
