//! `bothy list` and `bothy show`: reading what is on the device, with derived scores and
//! conflicts (every value kept, and which device wrote it).

use crate::args::{HistoryArgs, ListArgs, ShowArgs};
use crate::output::{self, Output};
use anyhow::Result;
use bothy_device::{Device, RecordDetails};
use bothy_sync_core::schema::{self, FieldType};
use bothy_sync_core::{Conflict, FieldValue, RecordData, RecordKind};
use std::collections::BTreeMap;
use std::fmt::Write;

pub async fn list(device: &Device, a: ListArgs, out: Output) -> Result<()> {
    let kind = a.kind.as_deref().map(|k| match k {
        "sessions" | "session" => RecordKind::Session,
        "participants" | "participant" => RecordKind::Participant,
        "stories" | "story" => RecordKind::Story,
        _ => RecordKind::Wellbeing,
    });
    let records = device.list(kind).await?;
    out.emit(&records, || {
        if records.is_empty() {
            return "no records on this device".to_owned();
        }
        let mut text = String::new();
        for r in &records {
            let sync = if r.unsynced { "  (not yet synced)" } else { "" };
            let _ = writeln!(text, "{:<11} {}  {}{sync}", r.kind.as_str(), r.id, r.label);
        }
        text
    });
    Ok(())
}

pub async fn show(device: &Device, a: ShowArgs, out: Output) -> Result<()> {
    let id = device.find(None, &a.id).await?;
    let details = device.get(id).await?;
    let ours = device.actor().await?.map(|a| a.to_hex_string());
    let codes: BTreeMap<String, String> = device
        .list(Some(RecordKind::Participant))
        .await?
        .into_iter()
        .filter_map(|p| Some((p.id.to_string(), p.code?)))
        .collect();
    out.emit(&details, || render(&details, ours.as_deref(), &codes));
    Ok(())
}

/// `bothy history RECORD`: the device's own history of a record, then the server's (with user
/// and device names) when it can be reached.
pub async fn history(device: &Device, a: HistoryArgs, out: Output) -> Result<()> {
    let id = device.find(None, &a.id).await?;
    let local = device.local_history(id).await?;
    let (server, note) = match device.server_history(id, &local.project).await {
        Ok(v) => (Some(v), None),
        Err(bothy_device::DeviceError::Unreachable { .. }) => (
            None,
            Some("the server cannot be reached: showing this device's history only".to_owned()),
        ),
        Err(e) => (
            None,
            Some(format!("the server's history is not available: {e}")),
        ),
    };
    let value = serde_json::json!({"local": local, "server": server, "note": note});
    out.emit(&value, || {
        let fields = |list: &[serde_json::Value]| -> String {
            list.iter()
                .map(|f| {
                    let field = f["field"].as_str().unwrap_or("?");
                    match (f["op"].as_str(), f["value"].as_str()) {
                        (Some("set"), Some(v)) => format!("{field} = {v:?}"),
                        (Some("set"), None) => format!("{field} set"),
                        (Some(op), _) => format!("{field} {op}"),
                        _ => field.to_owned(),
                    }
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut t = String::new();
        let _ = writeln!(
            t,
            "history of {} ({}) on this device:",
            local.id, local.project
        );
        for c in &local.changes {
            let list = serde_json::to_value(&c.entry.fields).unwrap_or_default();
            let _ = writeln!(
                t,
                "  {}  {:<12} device clock {}  {}",
                &c.entry.hash[..12],
                c.author,
                output::time(c.entry.time),
                fields(list.as_array().map_or(&[], Vec::as_slice))
            );
        }
        if let Some(server) = &server {
            let _ = writeln!(t, "on the server:");
            for c in server["changes"].as_array().into_iter().flatten() {
                let who = match (c["author"].as_str(), c["username"].as_str()) {
                    (Some("server"), _) => "server".to_owned(),
                    (_, Some(user)) => format!(
                        "{user} on {}",
                        c["device_name"].as_str().unwrap_or("a device")
                    ),
                    _ => "unknown device".to_owned(),
                };
                let received = c["received_at"]
                    .as_i64()
                    .map_or("not logged".into(), output::time);
                let _ = writeln!(
                    t,
                    "  {}  {who}  device clock {}  received {received}  {}",
                    c["hash"].as_str().map_or("?", |h| &h[..h.len().min(12)]),
                    c["device_time"].as_i64().map_or("?".into(), output::time),
                    fields(c["fields"].as_array().map_or(&[], Vec::as_slice))
                );
            }
        }
        if let Some(note) = &note {
            let _ = writeln!(t, "note: {note}");
        }
        t
    });
    Ok(())
}

fn render(d: &RecordDetails, ours: Option<&str>, codes: &BTreeMap<String, String>) -> String {
    let who = |id: &str| match codes.get(id) {
        Some(code) => format!("{code} ({id})"),
        None => id.to_owned(),
    };
    let mut t = String::new();
    let sync = if d.unsynced {
        "not yet synced"
    } else {
        "synced"
    };
    let _ = writeln!(
        t,
        "{} {}  project {}, {sync}",
        d.view.kind, d.id, d.view.project
    );
    let mut line = |k: &str, v: &str| {
        let _ = writeln!(t, "  {k:<22} {v}");
    };
    let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    // The fields the typed view does not name (a field added to the schema), by their labels.
    let more = more_lines(d.view.kind, more_of(&d.view.data), &who);
    match &d.view.data {
        RecordData::Participant(p) => {
            line("code", &p.code);
            line("age band", &opt(&p.age_band));
            line("gender", &opt(&p.gender));
            line("ethnic group", &opt(&p.ethnic_group));
            line(
                "IMD decile",
                &p.imd_decile.map_or("-".into(), |n| n.to_string()),
            );
            line("rurality", &opt(&p.rurality));
            line(
                "consent",
                &format!(
                    "data use {}, story sharing {}, contact {}; date {}, version {}",
                    yes(p.consent_data_use),
                    yes(p.consent_story_sharing),
                    yes(p.consent_contact),
                    opt(&p.consent_date),
                    opt(&p.consent_version)
                ),
            );
            line(
                "referral",
                &format!(
                    "{} on {}: {}",
                    opt(&p.referral_source),
                    opt(&p.referral_date),
                    opt(&p.referral_reason)
                ),
            );
            for (label, value) in &more {
                line(label, value);
            }
            match &d.contact {
                Some((cid, c)) => {
                    line("name", &opt(&c.name));
                    line("phone", &opt(&c.phone));
                    line("postcode district", &opt(&c.postcode_district));
                    if c.notes.is_some() {
                        line("contact notes", &opt(&c.notes));
                    }
                    line("contact record", &cid.to_string());
                }
                None => line("contact details", "not on this device"),
            }
        }
        RecordData::Contact(c) => {
            line("participant", &who(&c.participant));
            line("name", &opt(&c.name));
            line("phone", &opt(&c.phone));
            line("postcode district", &opt(&c.postcode_district));
            line("contact notes", &opt(&c.notes));
            for (label, value) in &more {
                line(label, value);
            }
        }
        RecordData::Session(s) => {
            line("site", &s.site);
            line("activity", &format!("{} ({})", s.activity, s.activity_type));
            line("start", &s.start);
            line("end", &opt(&s.end));
            line("location", &opt(&s.location));
            let f: Vec<&str> = s.facilitators.iter().map(String::as_str).collect();
            line("facilitators", &f.join(", "));
            line(
                "unregistered attendees",
                &s.unregistered_attendees.to_string(),
            );
            for (label, value) in &more {
                line(label, value);
            }
            line("attendance", &format!("{} marked", s.attendance.len()));
            for (pid, mark) in &s.attendance {
                let _ = writeln!(t, "    {mark:<11} {}", who(pid));
            }
            if !s.notes.is_empty() {
                let _ = writeln!(t, "  notes:\n{}", indent(&s.notes));
            }
        }
        RecordData::Wellbeing(w) => {
            line("participant", &who(&w.participant));
            line(
                "questionnaire",
                &format!("{} {}", w.instrument, w.timepoint),
            );
            line("date", &w.date);
            line("session", &w.session.clone().map_or("-".into(), |s| s));
            let answers: Vec<String> = w.items.iter().map(|(i, a)| format!("{i}:{a}")).collect();
            line("answers", &answers.join(" "));
            for (label, value) in &more {
                line(label, value);
            }
            if let Some(score) = &d.score {
                line("score", &output::score(score));
            }
        }
        RecordData::Story(s) => {
            line("title", &s.title);
            line("author", &s.author);
            line(
                "participant",
                &s.participant.as_deref().map_or("-".into(), who),
            );
            line("consent scope", &s.consent_scope);
            let themes: Vec<&str> = s.themes.iter().map(String::as_str).collect();
            line("themes", &themes.join(", "));
            line("session", &opt(&s.session));
            line("language", &opt(&s.language));
            for (label, value) in &more {
                line(label, value);
            }
            let _ = writeln!(t, "  text:\n{}", indent(&s.body));
        }
    }
    if !d.conflicts.is_empty() {
        let _ = writeln!(
            t,
            "conflicts (set differently on two devices; every value is kept):"
        );
        for c in &d.conflicts {
            let _ = writeln!(t, "  {}", conflict(c, ours));
        }
    }
    if !d.problems.is_empty() {
        let _ = writeln!(t, "needs review:");
        for p in &d.problems {
            let _ = writeln!(t, "  {p}");
        }
    }
    t
}

/// The plain fields a record's typed view does not name.
fn more_of(data: &RecordData) -> &BTreeMap<String, FieldValue> {
    match data {
        RecordData::Participant(p) => &p.more,
        RecordData::Contact(c) => &c.more,
        RecordData::Session(s) => &s.more,
        RecordData::Wellbeing(w) => &w.more,
        RecordData::Story(s) => &s.more,
    }
}

/// Lines for fields the typed view does not name, in schema order: each field's label (as
/// the other lines are written: lower case but for an abbreviation) and its value (a record
/// id with the participant's code when known, yes/no for true/false).
fn more_lines(
    kind: RecordKind,
    more: &BTreeMap<String, FieldValue>,
    who: &dyn Fn(&str) -> String,
) -> Vec<(String, String)> {
    let ordered = schema::fields(kind)
        .iter()
        .filter_map(|f| Some((f.name, Some(f), more.get(f.name)?)));
    // Values of fields this build does not know (none from a typed view, but kept if present).
    let unknown = more
        .iter()
        .filter(|(name, _)| schema::field(kind, name).is_none())
        .map(|(name, v)| (name.as_str(), None, v));
    ordered
        .chain(unknown)
        .map(|(name, field, value)| {
            let label = field.map_or_else(|| name.replace('_', " "), |f| f.label());
            let shown = match value {
                FieldValue::Str(s) if field.is_some_and(|f| f.ty == FieldType::RecordRef) => who(s),
                FieldValue::Str(s) => s.clone(),
                FieldValue::Int(n) => n.to_string(),
                FieldValue::Bool(b) => yes(*b).to_owned(),
            };
            (line_label(&label), shown)
        })
        .collect()
}

/// A label as `show` writes its lines: `Room` as `room`, `IMD decile` kept.
fn line_label(label: &str) -> String {
    let first = label.split_whitespace().next().unwrap_or_default();
    if first.chars().count() > 1 && first.chars().all(|c| !c.is_lowercase()) {
        return label.to_owned();
    }
    let mut chars = label.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn conflict(c: &Conflict, ours: Option<&str>) -> String {
    let values: Vec<String> = c
        .values
        .iter()
        .map(|v| {
            let device = if Some(v.actor.as_str()) == ours {
                "this device".to_owned()
            } else if bothy_sync_core::is_server_actor_hex(&v.actor) {
                "the server".to_owned()
            } else {
                format!("device {}", &v.actor[..v.actor.len().min(8)])
            };
            let shown = if v.winner { ", shown" } else { "" };
            format!("{:?} ({device}, {}{shown})", v.value, output::time(v.time))
        })
        .collect();
    format!("{}: {}", c.field, values.join(" vs "))
}

fn yes(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|l| format!("    {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `bothy sites`.
pub async fn sites(device: &Device, a: crate::args::SetupArgs, out: Output) -> Result<()> {
    let forms = device.project_setup(a.project.as_deref()).await?;
    out.emit(&forms.sites, || {
        if forms.sites.is_empty() {
            return format!(
                "no sites set up for {} (any site name is accepted; sync to receive the set-up)",
                forms.project
            );
        }
        forms
            .sites
            .iter()
            .map(|s| format!("{:<24} {}\n", s.slug, s.name))
            .collect()
    });
    Ok(())
}

/// `bothy activities`.
pub async fn activities(device: &Device, a: crate::args::SetupArgs, out: Output) -> Result<()> {
    let forms = device.project_setup(a.project.as_deref()).await?;
    out.emit(&forms.activities, || {
        if forms.activities.is_empty() {
            return format!(
                "no activities set up for {} (any activity name is accepted; sync to receive \
                 the set-up)",
                forms.project
            );
        }
        forms
            .activities
            .iter()
            .map(|a| {
                format!(
                    "{:<24} {:<32} {}{}\n",
                    a.slug,
                    a.name,
                    a.activity_type,
                    a.site
                        .as_deref()
                        .map(|s| format!(" at {s}"))
                        .unwrap_or_default()
                )
            })
            .collect()
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use bothy_sync_core::RecordView;
    use bothy_sync_core::record::Session;

    fn session(more: BTreeMap<String, FieldValue>) -> RecordDetails {
        RecordDetails {
            id: uuid::Uuid::nil(),
            contact: None,
            view: RecordView {
                kind: RecordKind::Session,
                project: "highland-heritage".into(),
                created: 0,
                data: RecordData::Session(Session {
                    site: "ullapool-hall".into(),
                    activity: "weaving".into(),
                    activity_type: "heritage".into(),
                    start: "2026-11-01T10:00:00Z".into(),
                    end: None,
                    facilitators: Default::default(),
                    location: None,
                    attendance: BTreeMap::new(),
                    unregistered_attendees: 0,
                    notes: String::new(),
                    more,
                }),
            },
            score: None,
            conflicts: Vec::new(),
            problems: Vec::new(),
            unsynced: true,
            heads: Vec::new(),
        }
    }

    #[test]
    fn show_prints_fields_the_typed_view_does_not_name_with_their_labels() {
        // Fields a newer schema may add: text, a number, yes/no, and a record id.
        let pid = "0192f0c4-5e6a-7b3c-8d9e-0123456789ab";
        let more = BTreeMap::from([
            ("room".to_owned(), FieldValue::from("Back room")),
            ("visitors_under_16".to_owned(), FieldValue::Int(4)),
            ("hearing_loop".to_owned(), FieldValue::Bool(true)),
            ("host".to_owned(), FieldValue::from(pid)),
        ]);
        let codes = BTreeMap::from([(pid.to_owned(), "K7Q2-0001".to_owned())]);
        let text = render(&session(more), None, &codes);
        for want in [
            "  room                   Back room\n",
            "  visitors under 16      4\n",
            "  hearing loop           yes\n",
            "  host                   0192f0c4-5e6a-7b3c-8d9e-0123456789ab\n",
        ] {
            assert!(text.contains(want), "{want:?} not in:\n{text}");
        }
        // Printed with the session's other fields, before its attendance.
        let room = text.find("  room").unwrap();
        assert!(
            room > text.find("  unregistered attendees").unwrap(),
            "{text}"
        );
        assert!(room < text.find("  attendance").unwrap(), "{text}");
        // A record with none prints nothing more.
        let plain = render(&session(BTreeMap::new()), None, &codes);
        assert!(!plain.contains("room"), "{plain}");
    }

    #[test]
    fn labels_are_written_as_the_other_lines() {
        assert_eq!(line_label("Room"), "room");
        assert_eq!(
            line_label("Unregistered attendees"),
            "unregistered attendees"
        );
        assert_eq!(line_label("IMD decile"), "IMD decile");
        assert_eq!(line_label("A"), "a");
        assert_eq!(line_label(""), "");
    }

    #[test]
    fn a_known_field_uses_its_schema_label_and_a_record_id_its_code() {
        // `participant` of a story is a record id: shown with the participant's code.
        let pid = "0192f0c4-5e6a-7b3c-8d9e-0123456789ab";
        let codes = BTreeMap::from([(pid.to_owned(), "K7Q2-0001".to_owned())]);
        let who = |id: &str| match codes.get(id) {
            Some(code) => format!("{code} ({id})"),
            None => id.to_owned(),
        };
        let more = BTreeMap::from([
            ("participant".to_owned(), FieldValue::from(pid)),
            ("language".to_owned(), FieldValue::from("gd")),
        ]);
        let lines = more_lines(RecordKind::Story, &more, &who);
        assert_eq!(
            lines,
            vec![
                ("participant".to_owned(), format!("K7Q2-0001 ({pid})")),
                ("language".to_owned(), "gd".to_owned()),
            ]
        );
    }
}
