-- A number that changes whenever anything a device's project set-up is made of changes (sites,
-- activities, instrument wording and definitions, follow-up schedules), kept by triggers so
-- that every writer, in any server process, moves it. A server process keeps the set-ups it
-- computed while the number stays the same, instead of reading them again at every sync.
CREATE TABLE setup_epoch (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    n BIGINT NOT NULL
);
INSERT INTO setup_epoch (id, n) VALUES (1, 0);
CREATE FUNCTION setup_epoch_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE setup_epoch SET n = n + 1 WHERE id = 1;
    RETURN NULL;
END;
$$;
CREATE TRIGGER setup_epoch_sites AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON sites
    FOR EACH STATEMENT EXECUTE FUNCTION setup_epoch_bump();
CREATE TRIGGER setup_epoch_activities AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON activities
    FOR EACH STATEMENT EXECUTE FUNCTION setup_epoch_bump();
CREATE TRIGGER setup_epoch_instrument_wording AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON instrument_wording
    FOR EACH STATEMENT EXECUTE FUNCTION setup_epoch_bump();
CREATE TRIGGER setup_epoch_instrument_definitions AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON instrument_definitions
    FOR EACH STATEMENT EXECUTE FUNCTION setup_epoch_bump();
CREATE TRIGGER setup_epoch_followup_steps AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON followup_steps
    FOR EACH STATEMENT EXECUTE FUNCTION setup_epoch_bump();
