-- A lost device is wiped at its next contact (docs/security.md, "Lost devices"). Revoking a
-- device, or removing its user, orders a wipe (`wipe_requested_at`). The first answer that
-- tells the device to wipe itself sets `wipe_sent_at`; the device's confirmation sets
-- `wipe_confirmed_at` and lists, in `device_wipe_losses`, each record whose changes had not
-- reached the server when the device deleted it. A loss row holds a random record id, its
-- kind and project, a count and a time on the device's clock: never a field value or a name.
ALTER TABLE devices ADD COLUMN wipe_requested_at BIGINT;
ALTER TABLE devices ADD COLUMN wipe_sent_at BIGINT;
ALTER TABLE devices ADD COLUMN wipe_confirmed_at BIGINT;

CREATE TABLE device_wipe_losses (
    device_id TEXT NOT NULL REFERENCES devices (id),
    record_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    project TEXT NOT NULL,
    unsynced_changes BIGINT NOT NULL,
    last_edited_at BIGINT,
    PRIMARY KEY (device_id, record_id)
);
