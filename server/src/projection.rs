//! Relational projections of merged records: plain tables (participants, sessions, attendance,
//! wellbeing_responses with computed scores, wellbeing_items with each answer and the value it
//! is scored as, stories) that analysts and plain SQL can read. Responses are scored from their
//! instrument's definition, built-in or the project's own ([`crate::instruments`]).
//! They are rewritten for a record in the same transaction as its merge, so they never lag.

use crate::db::Tx;
use bothy_sync_core::record::{RecordData, RecordView};

/// Item rows written by one statement (five parameters each, well within every backend's
/// limit on parameters).
const ITEM_ROWS_PER_INSERT: usize = 100;

fn b(v: bool) -> i64 {
    i64::from(v)
}

/// Rewrites the projection rows of one record.
pub async fn project(
    tx: &mut Tx,
    id: &str,
    view: &RecordView,
    needs_review: bool,
) -> Result<(), sqlx::Error> {
    let project = view.project.as_str();
    match &view.data {
        RecordData::Participant(p) => {
            for table in [
                "DELETE FROM participants WHERE id = $1",
                "DELETE FROM participant_identifiers WHERE participant_id = $1",
            ] {
                sqlx::query(table).bind(id).execute(&mut **tx).await?;
            }
            sqlx::query(
                "INSERT INTO participants (id, project, code, consent_data_use, \
                 consent_story_sharing, consent_contact, consent_date, consent_version, age_band, \
                 gender, ethnic_group, postcode_district, imd_decile, rurality, referral_source, \
                 referral_date, referral_reason, created_at) VALUES \
                 ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)",
            )
            .bind(id)
            .bind(project)
            .bind(&p.code)
            .bind(b(p.consent_data_use))
            .bind(b(p.consent_story_sharing))
            .bind(b(p.consent_contact))
            .bind(&p.consent_date)
            .bind(&p.consent_version)
            .bind(&p.age_band)
            .bind(&p.gender)
            .bind(&p.ethnic_group)
            .bind(&p.postcode_district)
            .bind(p.imd_decile)
            .bind(&p.rurality)
            .bind(&p.referral_source)
            .bind(&p.referral_date)
            .bind(&p.referral_reason)
            .bind(view.created)
            .execute(&mut **tx)
            .await?;
            if p.name.is_some() || p.phone.is_some() {
                sqlx::query(
                    "INSERT INTO participant_identifiers (participant_id, project, name, phone) \
                     VALUES ($1, $2, $3, $4)",
                )
                .bind(id)
                .bind(project)
                .bind(&p.name)
                .bind(&p.phone)
                .execute(&mut **tx)
                .await?;
            }
        }
        RecordData::Session(s) => {
            for table in [
                "DELETE FROM sessions WHERE id = $1",
                "DELETE FROM attendance WHERE session_id = $1",
            ] {
                sqlx::query(table).bind(id).execute(&mut **tx).await?;
            }
            sqlx::query(
                "INSERT INTO sessions (id, project, site, activity, activity_type, starts_at, \
                 ends_at, location, facilitators, unregistered_attendees, notes, needs_review) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
            )
            .bind(id)
            .bind(project)
            .bind(&s.site)
            .bind(&s.activity)
            .bind(&s.activity_type)
            .bind(&s.start)
            .bind(&s.end)
            .bind(&s.location)
            .bind(s.facilitators.iter().cloned().collect::<Vec<_>>().join(";"))
            .bind(s.unregistered_attendees)
            .bind(&s.notes)
            .bind(b(needs_review))
            .execute(&mut **tx)
            .await?;
            for (participant, status) in &s.attendance {
                sqlx::query(
                    "INSERT INTO attendance (session_id, participant_id, project, status) \
                     VALUES ($1, $2, $3, $4)",
                )
                .bind(id)
                .bind(participant)
                .bind(project)
                .bind(status)
                .execute(&mut **tx)
                .await?;
            }
        }
        RecordData::Wellbeing(w) => {
            for table in [
                "DELETE FROM wellbeing_responses WHERE id = $1",
                "DELETE FROM wellbeing_items WHERE response_id = $1",
            ] {
                sqlx::query(table).bind(id).execute(&mut **tx).await?;
            }
            let score = w.score_in(&view.project);
            let (swemwbs_raw, incomplete_reason) = match &score {
                bothy_sync_core::Score::Wemwbs { swemwbs_raw, .. } => (Some(*swemwbs_raw), None),
                bothy_sync_core::Score::Swemwbs { raw, .. } => (Some(*raw), None),
                bothy_sync_core::Score::Incomplete { reason, .. } => (None, Some(reason.clone())),
                bothy_sync_core::Score::Ons4 { .. }
                | bothy_sync_core::Score::Total { .. }
                | bothy_sync_core::Score::PerItem { .. } => (None, None),
            };
            let items: serde_json::Map<String, serde_json::Value> = w
                .items
                .iter()
                .map(|(k, v)| (k.to_string(), serde_json::Value::from(*v)))
                .collect();
            // The two scores that may be absent are bound as numbers, always, with a flag for
            // NULL: sqlx's `Any` driver sends a NULL `f64` to PostgreSQL typed as `real`, and a
            // statement first prepared with that refuses a number later on the same connection.
            sqlx::query(
                "INSERT INTO wellbeing_responses (id, project, participant_id, instrument, \
                 timepoint, response_date, session_id, complete, items_answered, raw_score, \
                 swemwbs_raw, metric_score, incomplete_reason, items, instrument_version, \
                 score, band) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, \
                 CASE WHEN $18 = 1 THEN $12 END, $13, $14, $15, CASE WHEN $19 = 1 THEN $16 END, \
                 $17)",
            )
            .bind(id)
            .bind(project)
            .bind(&w.participant)
            .bind(&w.instrument)
            .bind(&w.timepoint)
            .bind(&w.date)
            .bind(&w.session)
            .bind(b(score.is_complete()))
            .bind(w.items.len() as i64)
            .bind(score.raw())
            .bind(swemwbs_raw)
            .bind(score.metric().unwrap_or_default())
            .bind(incomplete_reason)
            .bind(serde_json::Value::Object(items).to_string())
            .bind(i64::from(w.instrument_version.unwrap_or(1)))
            .bind(score.value().unwrap_or_default())
            .bind(score.band())
            .bind(b(score.metric().is_some()))
            .bind(b(score.value().is_some()))
            .execute(&mut **tx)
            .await?;
            // One row per answer, with the value it is scored as (reversed where the item is
            // reverse-scored; as given when the definition is not known here).
            let definition = w.definition(project);
            let rows: Vec<(i64, i64, i64)> = w
                .items
                .iter()
                .map(|(number, answer)| {
                    let scored = definition
                        .as_ref()
                        .and_then(|d| d.item(*number))
                        .map_or(*answer, |item| item.scored_value(*answer));
                    (i64::from(*number), *answer, scored)
                })
                .collect();
            for chunk in rows.chunks(ITEM_ROWS_PER_INSERT) {
                let values: Vec<String> = (0..chunk.len())
                    .map(|i| {
                        let p = 5 * i;
                        format!(
                            "(${}, ${}, ${}, ${}, ${})",
                            p + 1,
                            p + 2,
                            p + 3,
                            p + 4,
                            p + 5
                        )
                    })
                    .collect();
                let sql = format!(
                    "INSERT INTO wellbeing_items (response_id, project, item, answer, scored) \
                     VALUES {}",
                    values.join(", ")
                );
                let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
                for (item, answer, scored) in chunk {
                    query = query
                        .bind(id)
                        .bind(project)
                        .bind(*item)
                        .bind(*answer)
                        .bind(*scored);
                }
                query.execute(&mut **tx).await?;
            }
        }
        RecordData::Story(s) => {
            sqlx::query("DELETE FROM stories WHERE id = $1")
                .bind(id)
                .execute(&mut **tx)
                .await?;
            sqlx::query(
                "INSERT INTO stories (id, project, title, body, participant_id, author, \
                 consent_scope, themes, session_id, language) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            )
            .bind(id)
            .bind(project)
            .bind(&s.title)
            .bind(&s.body)
            .bind(&s.participant)
            .bind(&s.author)
            .bind(&s.consent_scope)
            .bind(s.themes.iter().cloned().collect::<Vec<_>>().join(";"))
            .bind(&s.session)
            .bind(&s.language)
            .execute(&mut **tx)
            .await?;
        }
    }
    Ok(())
}
