//! Which records analysts may read one at a time (through the record and history endpoints):
//! the same rule as the exports.

use crate::storage::{self, Db};
use bothy_sync_core::record::{RecordData, RecordView};

/// Whether an analyst may read a record. Participants and their responses only with consent to
/// data use; stories only when their consent allows sharing; contacts (direct identifiers)
/// never. A record refused here is answered as if it did not exist.
pub async fn analyst_may_read(db: &Db, view: &RecordView) -> Result<bool, sqlx::Error> {
    let consented =
        |participant: String, story: bool| async move {
            let consents = storage::analysis::consents(&db.pool, &participant).await?;
            Ok::<_, sqlx::Error>(consents.is_some_and(|c| {
                c.consent_data_use == 1 && (!story || c.consent_story_sharing == 1)
            }))
        };
    Ok(match &view.data {
        RecordData::Participant(p) => p.consent_data_use,
        // Direct identifiers never reach analysts.
        RecordData::Contact(_) => false,
        RecordData::Session(_) => true,
        RecordData::Wellbeing(w) => consented(w.participant.clone(), false).await?,
        RecordData::Story(s) => {
            (s.consent_scope == "project" || s.consent_scope == "public")
                && match &s.participant {
                    None => true,
                    Some(p) => consented(p.clone(), true).await?,
                }
        }
    })
}
