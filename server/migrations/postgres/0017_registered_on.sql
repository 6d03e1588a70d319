-- The day a person joined the programme, as typed on the device (a UK date, YYYY-MM-DD; the
-- device fills in the UK day when nobody changes it). Records made before the field existed
-- have none: readers fall back to the day the record was created (created_at).
ALTER TABLE participants ADD COLUMN registered_on TEXT;
CREATE INDEX participants_project_registered_on ON participants (project, registered_on);
