-- Fills a Bothy PostgreSQL database (migrations applied, tables empty) with 10,000 records of
-- realistic sizes, for timing the VACUUM (FULL) an erasure runs: 3,000 participants, 500
-- sessions, 5,500 wellbeing responses, 1,000 stories; documents of random (incompressible)
-- bytes sized like real ones; 2.5 change log rows per record; the analysts' projections.
\set ON_ERROR_STOP on
CREATE TEMP TABLE r AS
SELECT g AS n, md5('r' || g)::uuid::text AS id,
       CASE WHEN g <= 3000 THEN 'participant' WHEN g <= 3500 THEN 'session'
            WHEN g <= 9000 THEN 'wellbeing' ELSE 'story' END AS kind
FROM generate_series(1, 10000) g;
CREATE FUNCTION pg_temp.noise(len int, seed text) RETURNS bytea LANGUAGE sql AS $$
  SELECT substring(string_agg(decode(md5(seed || i), 'hex'), ''::bytea) FROM 1 FOR len)
  FROM generate_series(0, len / 16) i $$;
INSERT INTO records (id, project, kind, doc, created_at, updated_at)
SELECT id, 'bench', kind,
       pg_temp.noise(CASE kind WHEN 'participant' THEN 700 WHEN 'session' THEN 1500
                               WHEN 'wellbeing' THEN 900 ELSE 3500 END, id),
       1700000000 + n, 1700000000 + n
FROM r;
INSERT INTO change_log (seq, record_id, project, device_id, actor, hash, change, device_time, received_at)
SELECT row_number() OVER (ORDER BY r.n, c), r.id, 'bench', 'device-1', md5('actor'),
       md5(r.id || c) || md5(r.id || c), pg_temp.noise(CASE WHEN r.kind = 'story' THEN 1400 ELSE 350 END, r.id || c),
       1700000000 + r.n, 1700000000 + r.n
FROM r, generate_series(1, CASE WHEN r.n % 2 = 0 THEN 3 ELSE 2 END) c;
INSERT INTO participants (id, project, code, consent_data_use, consent_story_sharing, consent_contact,
    consent_date, consent_version, age_band, gender, ethnic_group, postcode_district, imd_decile,
    rurality, referral_source, referral_date, referral_reason, created_at)
SELECT id, 'bench', 'A1-' || n, 1, 1, 0, '2026-11-03', 'v1', '65-74', 'woman', 'white_scottish',
       'IV' || (n % 50), n % 10 + 1, 'remote_rural', 'gp', '2026-10-01', 'isolation', 1700000000
FROM r WHERE kind = 'participant';
INSERT INTO participant_identifiers (participant_id, project, name, phone)
SELECT id, 'bench', 'Participant Name ' || n, '07700 9' || lpad(n::text, 5, '0')
FROM r WHERE kind = 'participant';
INSERT INTO sessions (id, project, site, activity, activity_type, starts_at, ends_at, location,
    facilitators, unregistered_attendees, notes, needs_review)
SELECT id, 'bench', 'glen-hall', 'walk', 'walking', '2026-11-03T10:00:00Z', NULL, NULL, '[]', 0,
       repeat('notes ', 20), 0
FROM r WHERE kind = 'session';
INSERT INTO attendance (session_id, participant_id, project, status)
SELECT s.id, p.id, 'bench', 'present'
FROM r s JOIN r p ON p.kind = 'participant' AND p.n % 500 = s.n % 500
WHERE s.kind = 'session';
INSERT INTO wellbeing_responses (id, project, participant_id, instrument, timepoint, response_date,
    session_id, complete, items_answered, raw_score, swemwbs_raw, metric_score, incomplete_reason, items)
SELECT id, 'bench', md5('r' || (n % 3000 + 1))::uuid::text, 'wemwbs', 'baseline', '2026-11-03', NULL,
       1, 14, 42, 21, 20.0, NULL, '[3,3,3,3,3,3,3,3,3,3,3,3,3,3]'
FROM r WHERE kind = 'wellbeing';
INSERT INTO stories (id, project, title, body, participant_id, author, consent_scope, themes, session_id, language)
SELECT id, 'bench', 'Story ' || n, encode(pg_temp.noise(1500, id), 'base64'),
       md5('r' || (n % 3000 + 1))::uuid::text, 'ruth', 'project', '[]', NULL, 'en'
FROM r WHERE kind = 'story';
-- One participant's rows deleted, as an erasure leaves them: dead row versions.
DELETE FROM records WHERE id = md5('r1')::uuid::text;
DELETE FROM change_log WHERE record_id = md5('r1')::uuid::text;
DELETE FROM participants WHERE id = md5('r1')::uuid::text;
DELETE FROM participant_identifiers WHERE participant_id = md5('r1')::uuid::text;
ANALYZE;
SELECT pg_size_pretty(pg_database_size(current_database())) AS database_size,
       (SELECT count(*) FROM records) AS records, (SELECT count(*) FROM change_log) AS change_log_rows;
CHECKPOINT;
