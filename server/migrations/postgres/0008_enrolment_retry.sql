-- Enrolment survives a lost answer: a device sends an enrolment id it made (and kept) before
-- asking. The code remembers a hash of that id and the device it made, so the same device
-- asking again with the same code, while the code is valid, gets that device back (with a fresh
-- token) instead of "already used"; any other device is still refused.
ALTER TABLE enrolments ADD COLUMN enrolment_id_hash TEXT;
ALTER TABLE enrolments ADD COLUMN device_id TEXT;
