//! `bothy participant`, `session`, `wellbeing`, `story`: capture in the field.
//!
//! Options are turned into field paths and values; the device library validates them (through
//! sync-core) and refuses bad input naming the field, so this module only parses what the
//! command line cannot express directly (answer lists, dates, references by code).

use crate::args::{
    Assignment, AttendArgs, ParticipantAddArgs, ParticipantCommand, SessionCommand,
    SessionEditArgs, SessionNewArgs, StoryCommand, StoryEditArgs, StoryNewArgs, WellbeingCommand,
    WellbeingRecordArgs,
};
use crate::interact;
use crate::output::{self, Output};
use anyhow::{Context, Result, anyhow, bail};
use bothy_device::{AttendanceMark, Device, WellbeingForm};
use bothy_sync_core::{FieldValue, RecordData, RecordKind};
use std::collections::BTreeMap;
use uuid::Uuid;

type Fields = Vec<(String, FieldValue)>;

fn put(fields: &mut Fields, path: &str, value: Option<impl Into<FieldValue>>) {
    if let Some(v) = value {
        fields.push((path.to_owned(), v.into()));
    }
}

fn borrowed(fields: &Fields) -> Vec<(&str, FieldValue)> {
    fields
        .iter()
        .map(|(p, v)| (p.as_str(), v.clone()))
        .collect()
}

/// Adds `--set FIELD=VALUE` assignments to a new `kind` record's fields, each value typed for
/// its field (see [`FieldValue::parse_for`]); the record's validation then refuses a value that
/// does not fit, naming the field. A field given twice, or with no value, is refused.
fn set_new(kind: RecordKind, sets: Vec<Assignment>, fields: &mut Fields) -> Result<()> {
    for a in sets {
        once(&a, fields, &[])?;
        if a.value.is_empty() {
            bail!(
                "--set {}=: no value given (an empty value removes a field's value, which only \
                 an edit can do)",
                a.field
            );
        }
        let value = FieldValue::parse_for(kind, &a.field, &a.value);
        fields.push((a.field, value));
    }
    Ok(())
}

/// Adds `--set FIELD=VALUE` assignments to an edit of a `kind` record: a value is set, typed
/// for its field; an empty value removes the field's value.
fn set_edit(
    kind: RecordKind,
    sets: Vec<Assignment>,
    fields: &mut Fields,
    clear: &mut Vec<String>,
) -> Result<()> {
    for a in sets {
        once(&a, fields, clear)?;
        if a.value.is_empty() {
            clear.push(a.field);
        } else {
            let value = FieldValue::parse_for(kind, &a.field, &a.value);
            fields.push((a.field, value));
        }
    }
    Ok(())
}

/// Refuses a `--set` of a field that another option (or another `--set`) already gives.
fn once(a: &Assignment, fields: &Fields, clear: &[String]) -> Result<()> {
    if fields.iter().any(|(path, _)| *path == a.field) || clear.contains(&a.field) {
        bail!(
            "--set {}: `{}` is given twice (by its own option or another --set); give it once",
            a.field,
            a.field
        );
    }
    Ok(())
}

/// Today's date in the UK, whatever zone this machine's clock is set to.
fn today() -> String {
    bothy_sync_core::time::uk_today().to_string()
}

pub async fn participant(device: &Device, command: ParticipantCommand, out: Output) -> Result<()> {
    let ParticipantCommand::Add(a) = command;
    let a: ParticipantAddArgs = *a;
    let mut f = Fields::new();
    put(&mut f, "age_band", a.age_band);
    put(&mut f, "gender", a.gender);
    put(&mut f, "ethnic_group", a.ethnic_group);
    put(
        &mut f,
        "contact.postcode_district",
        a.postcode_district.map(|p| p.to_uppercase()),
    );
    put(&mut f, "imd_decile", a.imd_decile);
    put(&mut f, "rurality", a.rurality);
    // Absent: the device gives today's UK date (and the referral's, with a source).
    put(&mut f, "registered_on", a.registered_on);
    put(&mut f, "referral.source", a.referral_source);
    put(&mut f, "referral.date", a.referral_date);
    put(&mut f, "referral.reason", a.referral_reason);
    let consented = a.consent_data_use || a.consent_story_sharing || a.consent_contact;
    put(
        &mut f,
        "consent.data_use",
        a.consent_data_use.then_some(true),
    );
    put(
        &mut f,
        "consent.story_sharing",
        a.consent_story_sharing.then_some(true),
    );
    put(&mut f, "consent.contact", a.consent_contact.then_some(true));
    let consent_date = a.consent_date.or_else(|| consented.then(today));
    put(&mut f, "consent.date", consent_date);
    put(&mut f, "consent.version", a.consent_version);
    put(&mut f, "contact.name", a.name);
    put(&mut f, "contact.phone", a.phone);
    put(&mut f, "contact.notes", a.contact_notes);
    set_new(RecordKind::Participant, a.set, &mut f)?;
    let p = device
        .create_participant(a.project.as_deref(), &borrowed(&f))
        .await?;
    out.emit(&p, || {
        format!("registered participant {} (id {})", p.code, p.id)
    });
    Ok(())
}

pub async fn session(device: &Device, command: SessionCommand, out: Output) -> Result<()> {
    match command {
        SessionCommand::New(a) => session_new(device, a, out).await,
        SessionCommand::Attend(a) => attend(device, a, out).await,
        SessionCommand::Edit(a) => session_edit(device, a, out).await,
    }
}

async fn session_new(device: &Device, a: SessionNewArgs, out: Output) -> Result<()> {
    let mut f = Fields::new();
    put(&mut f, "site", Some(a.site));
    put(&mut f, "activity", Some(a.activity));
    put(&mut f, "activity_type", Some(a.activity_type));
    put(&mut f, "start", Some(a.start));
    put(&mut f, "end", a.end);
    put(&mut f, "location", a.location);
    put(&mut f, "notes", a.notes);
    put(&mut f, "unregistered_attendees", a.unregistered);
    for name in a.facilitators {
        put(&mut f, &format!("facilitators.{}", name.trim()), Some(true));
    }
    set_new(RecordKind::Session, a.set, &mut f)?;
    let id = device
        .create_session(a.project.as_deref(), &borrowed(&f))
        .await?;
    out.emit(&serde_json::json!({ "id": id }), || {
        format!("recorded session {id}")
    });
    Ok(())
}

async fn attend(device: &Device, a: AttendArgs, out: Output) -> Result<()> {
    let session = device.find(Some(RecordKind::Session), &a.session).await?;
    let participant = device
        .find(Some(RecordKind::Participant), &a.participant)
        .await?;
    let mark = if a.absent {
        AttendanceMark::Absent
    } else if a.left_early {
        AttendanceMark::LeftEarly
    } else {
        AttendanceMark::Present
    };
    device.mark_attendance(session, participant, mark).await?;
    let code = participant_code(device, participant).await;
    out.emit(
        &serde_json::json!({ "session": session, "participant": participant, "mark": mark }),
        || format!("marked {code} {mark} at session {session}"),
    );
    Ok(())
}

async fn session_edit(device: &Device, a: SessionEditArgs, out: Output) -> Result<()> {
    let session = device.find(Some(RecordKind::Session), &a.session).await?;
    let mut set = Fields::new();
    put(&mut set, "start", a.start);
    put(&mut set, "end", a.end);
    put(&mut set, "notes", a.notes);
    put(&mut set, "unregistered_attendees", a.unregistered);
    put(&mut set, "site", a.site);
    put(&mut set, "activity", a.activity);
    put(&mut set, "activity_type", a.activity_type);
    put(&mut set, "location", a.location);
    for name in &a.add_facilitator {
        put(
            &mut set,
            &format!("facilitators.{}", name.trim()),
            Some(true),
        );
    }
    let mut clear: Vec<String> = a
        .remove_facilitator
        .iter()
        .map(|n| format!("facilitators.{}", n.trim()))
        .collect();
    if a.clear_end {
        clear.push("end".into());
    }
    set_edit(RecordKind::Session, a.set, &mut set, &mut clear)?;
    if set.is_empty() && clear.is_empty() {
        bail!(
            "nothing to change: give at least one of --start, --end, --clear-end, --notes, \
             --unregistered, --site, --activity, --type, --location, --add-facilitator, \
             --remove-facilitator, --set"
        );
    }
    let changed = device
        .edit(session, move |e| {
            for (path, value) in set {
                e.set(&path, value);
            }
            for path in clear {
                e.clear(&path);
            }
        })
        .await?;
    out.emit(
        &serde_json::json!({ "id": session, "changed": changed }),
        || {
            if changed {
                format!("updated session {session}")
            } else {
                format!("session {session} already had those values; nothing changed")
            }
        },
    );
    Ok(())
}

/// Parses `4,3,,5` into item answers; blank entries are unanswered items.
fn parse_items(s: &str) -> Result<BTreeMap<u8, i64>> {
    let mut items = BTreeMap::new();
    for (i, entry) in s.split(',').enumerate() {
        let entry = entry.trim();
        if entry.is_empty() {
            continue;
        }
        let number =
            u8::try_from(i + 1).map_err(|_| anyhow!("--items: there are more than 255 answers"))?;
        let answer: i64 = entry.parse().map_err(|_| {
            anyhow!(
                "--items: answer {} ({entry:?}) is not a whole number",
                i + 1
            )
        })?;
        items.insert(number, answer);
    }
    Ok(items)
}

pub async fn wellbeing(device: &Device, command: WellbeingCommand, out: Output) -> Result<()> {
    match command {
        WellbeingCommand::Record(a) => record_wellbeing(device, a, out).await,
        WellbeingCommand::Items {
            instrument,
            project,
        } => super::instruments::items(device, &instrument, project.as_deref(), out).await,
        WellbeingCommand::Instruments(a) => {
            super::instruments::known(device, a.project.as_deref(), out).await
        }
    }
}

async fn record_wellbeing(device: &Device, a: WellbeingRecordArgs, out: Output) -> Result<()> {
    let items = parse_items(&a.items)?;
    let date = match &a.date {
        Some(d) => chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d")
            .with_context(|| format!("--date: {d:?} is not a date like 2026-11-01"))?,
        None => bothy_sync_core::time::uk_today(),
    };
    let participant = device
        .find(Some(RecordKind::Participant), &a.participant)
        .await?;
    let session = match &a.session {
        Some(s) => Some(device.find(Some(RecordKind::Session), s).await?),
        None => None,
    };
    let form = WellbeingForm {
        participant,
        instrument: a.instrument,
        timepoint: a.timepoint,
        date,
        session,
        items,
    };
    let id = device.record_wellbeing(&form).await?;
    let stored = device.get(id).await?;
    let (RecordData::Wellbeing(w), Some(score)) = (&stored.view.data, &stored.score) else {
        bail!("the stored record {id} is not a questionnaire");
    };
    // The instrument as stored: its id as defined, and the version of a project's own.
    let instrument = match w.instrument_version {
        Some(v) => format!("{} version {v}", w.instrument),
        None => w.instrument.clone(),
    };
    out.emit(&serde_json::json!({ "id": id, "score": score }), || {
        format!(
            "recorded {instrument} {} ({id})\n{}",
            form.timepoint,
            output::score(score)
        )
    });
    Ok(())
}

pub async fn story(device: &Device, command: StoryCommand, out: Output) -> Result<()> {
    match command {
        StoryCommand::New(a) => story_new(device, a, out).await,
        StoryCommand::Edit(a) => story_edit(device, a, out).await,
    }
}

async fn story_new(device: &Device, a: StoryNewArgs, out: Output) -> Result<()> {
    let mut f = Fields::new();
    put(&mut f, "title", Some(a.title));
    put(&mut f, "consent_scope", Some(a.consent_scope));
    put(&mut f, "language", a.language);
    if let Some(p) = &a.participant {
        let id = device.find(Some(RecordKind::Participant), p).await?;
        put(&mut f, "participant", Some(id.to_string()));
    }
    if let Some(s) = &a.session {
        let id = device.find(Some(RecordKind::Session), s).await?;
        put(&mut f, "session", Some(id.to_string()));
    }
    for theme in a.themes {
        put(&mut f, &format!("themes.{}", theme.trim()), Some(true));
    }
    let text = interact::story_text(a.text, "")?;
    if text.trim().is_empty() {
        bail!("the story has no text; nothing was saved");
    }
    put(&mut f, "body", Some(text));
    set_new(RecordKind::Story, a.set, &mut f)?;
    let id = device
        .create_story(a.project.as_deref(), &borrowed(&f))
        .await?;
    out.emit(&serde_json::json!({ "id": id }), || {
        format!("saved story {id}")
    });
    Ok(())
}

async fn story_edit(device: &Device, a: StoryEditArgs, out: Output) -> Result<()> {
    let id = device.find(Some(RecordKind::Story), &a.story).await?;
    let current = match device.get(id).await?.view.data {
        RecordData::Story(s) => s.body,
        _ => bail!("record {id} is not a story"),
    };
    let text = interact::story_text(a.text, &current)?;
    let changed = device.edit_story_body(id, &text).await?;
    out.emit(&serde_json::json!({ "id": id, "changed": changed }), || {
        if changed {
            format!("saved story {id}")
        } else {
            format!("story {id} is unchanged")
        }
    });
    Ok(())
}

/// A participant's code for messages, or the id if it cannot be read.
async fn participant_code(device: &Device, id: Uuid) -> String {
    match device.get(id).await.map(|d| d.view.data) {
        Ok(RecordData::Participant(p)) if !p.code.is_empty() => p.code,
        _ => id.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_parse_with_blanks_for_unanswered_items() {
        let items = parse_items("4, 3,,5").unwrap();
        assert_eq!(items, BTreeMap::from([(1, 4), (2, 3), (4, 5)]));
        let err = parse_items("4,x").unwrap_err().to_string();
        assert_eq!(err, "--items: answer 2 (\"x\") is not a whole number");
        assert!(parse_items("").unwrap().is_empty());
    }
}
