//! Capture: creating and editing records on the device, offline.
//!
//! Capture is refused, with the reason, when the user's role in the project may not record that
//! kind of record (a peer worker records participants and sessions, not questionnaires or
//! stories): the server would refuse it at sync, so it is never accepted offline.
//!
//! Each capture is one SQLite transaction: load the document, apply the edit through
//! sync-core (which refuses an invalid edit and names the field), check references to other
//! records, save. Either all of it is on disk or none of it is. Edits are authored under the
//! device's server-assigned actor, so capture waits for enrolment.

use crate::error::{DeviceError, Result};
use crate::identity::Identity;
use crate::store::{self, key};
use crate::vault::Vault;
use crate::{Device, now};
use bothy_sync_core::{Editor, FieldError, FieldValue, RecordDoc, RecordKind, instrument};
use serde::{Deserialize, Serialize};
use sqlx::sqlite::SqliteConnection;
use std::collections::BTreeMap;
use std::fmt;
use uuid::Uuid;

/// Whether a participant attended a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttendanceMark {
    /// Came to the session.
    Present,
    /// Expected but did not come.
    Absent,
    /// Came and left before the end.
    LeftEarly,
}

impl AttendanceMark {
    /// The mark as stored in the session's attendance.
    pub fn as_str(self) -> &'static str {
        match self {
            AttendanceMark::Present => "present",
            AttendanceMark::Absent => "absent",
            AttendanceMark::LeftEarly => "left_early",
        }
    }
}

impl fmt::Display for AttendanceMark {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A participant just registered on this device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewParticipant {
    /// The record id.
    pub id: Uuid,
    /// The human-facing code, unique without the device talking to anyone (`K7Q2-0007`).
    pub code: String,
    /// Their contact record (name, phone, postcode district, contact notes), if any was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contact: Option<Uuid>,
}

/// A completed (or partly completed) wellbeing questionnaire.
#[derive(Debug, Clone, PartialEq)]
pub struct WellbeingForm {
    /// The participant answering (known on this device). The response goes into their project.
    pub participant: Uuid,
    /// Which questionnaire, by id (case does not matter): a built-in (`WEMWBS`, `SWEMWBS`,
    /// `ONS4`, `UCLA3`, `ONS_LONELINESS`) or one of the project's own, as last received on
    /// sync ([`crate::ProjectForms::definitions`]). A project's own is recorded with the newest
    /// version this device knows.
    pub instrument: String,
    /// `baseline`, `interim`, `end` or `follow_up`.
    pub timepoint: String,
    /// The day it was answered.
    pub date: chrono::NaiveDate,
    /// The session it was taken at, if any (known on this device).
    pub session: Option<Uuid>,
    /// Item number (from 1) to answer. Unanswered items are simply absent: the form is kept
    /// and shown as incomplete, never scored.
    pub items: BTreeMap<u8, i64>,
}

impl Device {
    /// Registers a participant in `project` (the default project if `None`) with `fields`
    /// (paths as in [`Editor::set`]: `age_band`, `consent.data_use`, `referral.source`...). The
    /// device assigns the participant's code. Their direct identifiers, given as `contact.name`,
    /// `contact.phone`, `contact.postcode_district` and `contact.notes`, go to a contact record
    /// of their own (written in the same transaction), which only the roles that may see them
    /// receive.
    ///
    /// The day they registered (`registered_on`) is today's UK date unless given; so is the
    /// day they were referred (`referral.date`) when a referral source is given without one.
    pub async fn create_participant(
        &self,
        project: Option<&str>,
        fields: &[(&str, FieldValue)],
    ) -> Result<NewParticipant> {
        if fields.iter().any(|(path, _)| *path == "code") {
            return Err(DeviceError::Invalid(vec![FieldError::new(
                "code",
                "is assigned by the device; it cannot be given",
            )]));
        }
        let id = self.require_identity().await?;
        let project = id.writable_project(project)?;
        id.check_may_record(&project, RecordKind::Participant)?;
        let mut tx = store::begin_write(&self.pool).await?;
        let n = store::meta_get(&mut tx, key::PARTICIPANT_COUNTER)
            .await?
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
            + 1;
        let code = crate::code::participant_code(&crate::code::device_prefix(&id.device_id), n);
        let (contact, own): (Vec<_>, Vec<_>) = fields
            .iter()
            .cloned()
            .partition(|(path, _)| path.starts_with("contact."));
        let mut all: Vec<(&str, FieldValue)> = vec![("code", code.clone().into())];
        let today = bothy_sync_core::time::uk_date(now()).to_string();
        let given = |path: &str| own.iter().any(|(p, _)| *p == path);
        if !given("registered_on") {
            all.push(("registered_on", today.clone().into()));
        }
        if given("referral.source") && !given("referral.date") {
            all.push(("referral.date", today.into()));
        }
        all.extend(own);
        let record = create_in(
            &mut tx,
            &self.vault,
            &id,
            RecordKind::Participant,
            &project,
            &all,
        )
        .await?;
        let contact = if contact.is_empty() {
            None
        } else {
            id.check_may_record(&project, RecordKind::Contact)?;
            let record_text = record.to_string();
            let mut fields: Vec<(&str, FieldValue)> = contact
                .iter()
                .map(|(path, v)| (&path["contact.".len()..], v.clone()))
                .collect();
            fields.push(("participant", record_text.as_str().into()));
            Some(
                create_in(
                    &mut tx,
                    &self.vault,
                    &id,
                    RecordKind::Contact,
                    &project,
                    &fields,
                )
                .await?,
            )
        };
        store::meta_set(&mut tx, key::PARTICIPANT_COUNTER, &n.to_string()).await?;
        tx.commit().await?;
        Ok(NewParticipant {
            id: record,
            code,
            contact,
        })
    }

    /// Records a session in `project` (the default project if `None`): `site`, `activity`,
    /// `activity_type` and `start` are required; `end`, `location`, `facilitators.<name>`,
    /// `notes`, `unregistered_attendees` and `attendance.<participant id>` may be given.
    /// When the project's set-up (received on sync) lists sites or activities, `site` and
    /// `activity` must be among them; otherwise capture is refused naming the field.
    pub async fn create_session(
        &self,
        project: Option<&str>,
        fields: &[(&str, FieldValue)],
    ) -> Result<Uuid> {
        let id = self.require_identity().await?;
        let project = id.writable_project(project)?;
        id.check_may_record(&project, RecordKind::Session)?;
        let mut tx = store::begin_write(&self.pool).await?;
        crate::setup::check_session(&mut tx, &project, fields).await?;
        let record = create_in(
            &mut tx,
            &self.vault,
            &id,
            RecordKind::Session,
            &project,
            fields,
        )
        .await?;
        tx.commit().await?;
        Ok(record)
    }

    /// Marks a participant's attendance at a session. The participant must be known on this
    /// device (registered here or received by sync); otherwise the error names
    /// `attendance.<participant id>`.
    pub async fn mark_attendance(
        &self,
        session: Uuid,
        participant: Uuid,
        mark: AttendanceMark,
    ) -> Result<()> {
        let path = format!("attendance.{participant}");
        let reference = Reference {
            path: path.clone(),
            target: participant,
            kind: RecordKind::Participant,
        };
        self.edit_checked(
            session,
            Some(RecordKind::Session),
            Some(reference),
            move |e| e.set(&path, mark.as_str()),
        )
        .await
        .map(|_| ())
    }

    /// Stores a wellbeing questionnaire in the participant's project. Scores are never typed:
    /// they are derived when the record is read. A form with unanswered items is stored and
    /// shown as incomplete, with the reason, and has no score.
    ///
    /// The instrument must be one this device knows for the project (a built-in, or one of
    /// the project's own received on sync); otherwise capture is refused naming `instrument`
    /// and listing the known ones. Answers are checked against the definition's items (an
    /// answer outside an item's scale is refused naming `items.N`).
    pub async fn record_wellbeing(&self, form: &WellbeingForm) -> Result<Uuid> {
        let id = self.require_identity().await?;
        let mut tx = store::begin_write(&self.pool).await?;
        let project = match store::get_record(&mut tx, &self.vault, form.participant).await? {
            Some(r) if r.kind() == Some(RecordKind::Participant) => r.project,
            _ => {
                return Err(DeviceError::Invalid(vec![unknown(
                    "participant",
                    form.participant,
                    RecordKind::Participant,
                )]));
            }
        };
        id.check_may_record(&project, RecordKind::Wellbeing)?;
        let setup = crate::setup::stored(&mut tx).await?;
        // The set-up may have been received by another process on this store since it was
        // opened here: its definitions must be known before the response is checked.
        crate::setup::register(&setup);
        let forms = crate::setup::forms(
            &project,
            setup.projects.iter().find(|p| p.project == project),
        );
        let Some(def) = forms.definition(&form.instrument) else {
            return Err(DeviceError::Invalid(vec![FieldError::new(
                "instrument",
                format!(
                    "`{}` is not an instrument of project {project} on this device; known: {} \
                     (sync to receive the project's newest)",
                    form.instrument.trim(),
                    forms.instrument_ids().join(", ")
                ),
            )]));
        };
        let mut fields: Vec<(String, FieldValue)> = vec![
            ("participant".into(), form.participant.to_string().into()),
            ("instrument".into(), def.id.as_str().into()),
            ("timepoint".into(), form.timepoint.as_str().into()),
            (
                "date".into(),
                form.date.format("%Y-%m-%d").to_string().into(),
            ),
        ];
        if instrument::builtin(&def.id).is_none() {
            fields.push(("instrument_version".into(), i64::from(def.version).into()));
        }
        if let Some(s) = form.session {
            fields.push(("session".into(), s.to_string().into()));
        }
        for (item, answer) in &form.items {
            fields.push((format!("items.{item}"), (*answer).into()));
        }
        let fields: Vec<(&str, FieldValue)> = fields
            .iter()
            .map(|(p, v)| (p.as_str(), v.clone()))
            .collect();
        let record = create_in(
            &mut tx,
            &self.vault,
            &id,
            RecordKind::Wellbeing,
            &project,
            &fields,
        )
        .await?;
        tx.commit().await?;
        Ok(record)
    }

    /// Writes a story: `title` and `consent_scope` are required; `body`, `participant`,
    /// `session`, `language` and `themes.<word>` may be given. `author` defaults to the
    /// device's user. The project is `project`, else the participant's, else the default.
    pub async fn create_story(
        &self,
        project: Option<&str>,
        fields: &[(&str, FieldValue)],
    ) -> Result<Uuid> {
        let id = self.require_identity().await?;
        let mut tx = store::begin_write(&self.pool).await?;
        let participant_project = match field_str(fields, "participant") {
            Some(p) => match Uuid::parse_str(p) {
                Ok(pid) => store::get_record(&mut tx, &self.vault, pid)
                    .await?
                    .map(|r| r.project),
                Err(_) => None,
            },
            None => None,
        };
        let project = match (project, participant_project) {
            (Some(p), _) => id.writable_project(Some(p))?,
            (None, Some(p)) => {
                id.check_writable(&p)?;
                p
            }
            (None, None) => id.writable_project(None)?,
        };
        id.check_may_record(&project, RecordKind::Story)?;
        let mut all: Vec<(&str, FieldValue)> = fields.to_vec();
        if field_str(fields, "author").is_none() {
            let author = match id.username() {
                Some(u) => u.to_owned(),
                None => format!("device {}", crate::code::device_prefix(&id.device_id)),
            };
            all.push(("author", author.into()));
        }
        let record =
            create_in(&mut tx, &self.vault, &id, RecordKind::Story, &project, &all).await?;
        tx.commit().await?;
        Ok(record)
    }

    /// Replaces a story's body with `text`. The change is stored as a character diff, so
    /// another device's concurrent edits elsewhere in the text survive. Returns whether
    /// anything changed.
    pub async fn edit_story_body(&self, story: Uuid, text: &str) -> Result<bool> {
        let text = text.to_owned();
        self.edit_checked(story, Some(RecordKind::Story), None, move |e| {
            e.set("body", text)
        })
        .await
    }

    /// Applies any edit to a record as one change, e.g.
    /// `device.edit(id, |e| e.set("end", "2026-11-01T12:00:00Z"))`. An edit that leaves a
    /// field invalid is refused and nothing is written. Returns whether anything changed.
    pub async fn edit<F>(&self, id: Uuid, edits: F) -> Result<bool>
    where
        F: FnOnce(&mut Editor<'_>) + Send,
    {
        self.edit_checked(id, None, None, edits).await
    }

    /// Resolves a true conflict on `field` of record `id` by setting `value` (one of the
    /// conflicting values, as shown, or a new one): an ordinary edit, which supersedes every
    /// conflicting value and syncs like any other. An invalid value is refused, naming the
    /// field; a field not in conflict here is refused too (it may have been resolved already).
    pub async fn resolve_conflict(&self, id: Uuid, field: &str, value: &str) -> Result<()> {
        let details = self.get(id).await?;
        if !details.conflicts.iter().any(|c| c.field == field) {
            return Err(DeviceError::Usage(format!(
                "{field} has no conflict on record {id} on this device (it may have been \
                 resolved already: sync, then look again)"
            )));
        }
        let value = FieldValue::parse_for(details.view.kind, field, value);
        let field = field.to_owned();
        self.edit_checked(id, None, None, move |e| e.set(&field, value))
            .await?;
        Ok(())
    }

    /// Loads a record (checking its kind if given), checks that a record the edit refers to is
    /// known here, applies `edits` and saves; all in one transaction.
    async fn edit_checked<F>(
        &self,
        id: Uuid,
        kind: Option<RecordKind>,
        reference: Option<Reference>,
        edits: F,
    ) -> Result<bool>
    where
        F: FnOnce(&mut Editor<'_>) + Send,
    {
        let identity = self.require_identity().await?;
        let mut tx = store::begin_write(&self.pool).await?;
        let Some(row) = store::get_record(&mut tx, &self.vault, id).await? else {
            return Err(not_found(id, kind));
        };
        if let Some(k) = kind
            && row.kind() != Some(k)
        {
            return Err(DeviceError::NotFound(format!(
                "record {id} is a {}, not a {k}",
                row.kind
            )));
        }
        match row.kind() {
            Some(k) => identity.check_may_record(&row.project, k)?,
            None => identity.check_writable(&row.project)?,
        }
        if let Some(r) = reference
            && let Some(error) = check_reference(
                &mut tx,
                &self.vault,
                &r.path,
                r.target,
                r.kind,
                &row.project,
            )
            .await?
        {
            return Err(DeviceError::Invalid(vec![error]));
        }
        let mut doc = RecordDoc::load(&row.doc, identity.actor.clone())?;
        let changed = doc.edit(now(), edits)?.is_some();
        if changed {
            store::put_record(&mut tx, &self.vault, id, &mut doc, now()).await?;
            tx.commit().await?;
        }
        Ok(changed)
    }
}

/// A record an edit refers to, which must be known on the device.
struct Reference {
    /// The field path to name if it is not (`attendance.<id>`).
    path: String,
    target: Uuid,
    kind: RecordKind,
}

/// Creates a record of `kind` after checking that the records it refers to are known here.
async fn create_in(
    conn: &mut SqliteConnection,
    vault: &Vault,
    identity: &Identity,
    kind: RecordKind,
    project: &str,
    fields: &[(&str, FieldValue)],
) -> Result<Uuid> {
    let mut errors = Vec::new();
    for (path, value) in fields {
        let target = match (kind, *path) {
            (RecordKind::Wellbeing | RecordKind::Story | RecordKind::Contact, "participant") => {
                RecordKind::Participant
            }
            (RecordKind::Wellbeing | RecordKind::Story, "session") => RecordKind::Session,
            (RecordKind::Session, p) if p.starts_with("attendance.") => RecordKind::Participant,
            _ => continue,
        };
        let raw = match (path.strip_prefix("attendance."), value) {
            (Some(key), _) => key,
            (None, FieldValue::Str(s)) => s.as_str(),
            _ => continue, // the type error is reported by validation
        };
        let Ok(target_id) = Uuid::parse_str(raw) else {
            continue; // the format error is reported by validation
        };
        errors.extend(check_reference(conn, vault, path, target_id, target, project).await?);
    }
    let mut doc = match RecordDoc::create(identity.actor.clone(), kind, project, fields, now()) {
        Ok(doc) if errors.is_empty() => doc,
        Ok(_) => return Err(DeviceError::Invalid(errors)),
        Err(bothy_sync_core::RecordError::Invalid(mut more)) => {
            more.extend(errors);
            more.sort();
            more.dedup();
            return Err(DeviceError::Invalid(more));
        }
        Err(e) => return Err(e.into()),
    };
    let id = Uuid::now_v7();
    store::put_record(conn, vault, id, &mut doc, now()).await?;
    Ok(id)
}

/// Checks that `target` is a known record of `kind` in `project`; the error names `path`.
async fn check_reference(
    conn: &mut SqliteConnection,
    vault: &Vault,
    path: &str,
    target: Uuid,
    kind: RecordKind,
    project: &str,
) -> Result<Option<FieldError>> {
    Ok(match store::get_record(conn, vault, target).await? {
        Some(r) if r.kind() == Some(kind) && r.project == project => None,
        Some(r) if r.kind() == Some(kind) => Some(FieldError::new(
            path,
            format!(
                "{kind} {target} belongs to project `{}`, not `{project}`",
                r.project
            ),
        )),
        _ => Some(unknown(path, target, kind)),
    })
}

fn unknown(path: &str, id: Uuid, kind: RecordKind) -> FieldError {
    let hint = match kind {
        RecordKind::Participant => "register them first (bothy participant add) or sync",
        _ => "record it first or sync",
    };
    FieldError::new(
        path,
        format!("{kind} {id} is not known on this device: {hint}"),
    )
}

pub(crate) fn not_found(id: Uuid, kind: Option<RecordKind>) -> DeviceError {
    let what = kind.map_or("record", RecordKind::as_str);
    DeviceError::NotFound(format!("no {what} {id} on this device"))
}

fn field_str<'a>(fields: &'a [(&str, FieldValue)], path: &str) -> Option<&'a str> {
    fields.iter().find_map(|(p, v)| match v {
        FieldValue::Str(s) if *p == path => Some(s.as_str()),
        _ => None,
    })
}
