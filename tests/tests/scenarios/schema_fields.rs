//! Every plain field of the schema reaches the tables and the exports with no code of its own:
//! each plain field (text, choice, date, date and time, number, true or false, record id) of a
//! participant, session or story has a column in its projection table, read from the
//! database's own list of columns; a participant, a session and a story that hold a value in
//! every one of those fields are pushed, and each value is found in its column; the analyst's
//! export of each has a column for every field analysts may see, holding the value pushed
//! (or the columns that already carry it), and none for a field withheld from analysts.

use bothy_server::analysis::export::{self, Dataset};
use bothy_server::storage::projection;
use bothy_sync_core::automerge::ActorId;
use bothy_sync_core::protocol::SyncRequest;
use bothy_sync_core::schema::{self, Analysts, Field, FieldType, RecordKind};
use bothy_sync_core::{FieldValue, RecordDoc};
use bothy_tests::{Backend, Harness, on_both_backends, push_history};
use serde_json::Value;
use std::collections::BTreeMap;
use uuid::Uuid;

on_both_backends!(every_plain_field_has_a_column_and_reaches_the_export);

const P: &str = "schema-fields";
const NOW: i64 = 1_780_000_000;

/// The columns of a table, as the database lists them.
async fn table_columns(h: &Harness, backend: Backend, table: &str) -> Vec<String> {
    let sql = match backend {
        Backend::Sqlite => format!("SELECT name FROM pragma_table_info('{table}')"),
        Backend::Postgres => format!(
            "SELECT CAST(column_name AS TEXT) AS name FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name = '{table}'"
        ),
    };
    let rows = h.db.sql(&sql, &[]).await;
    rows.iter()
        .map(|r| r["name"].as_str().expect("a column name").to_owned())
        .collect()
}

/// A valid value for a plain field: the field's name as text (as long as the field allows),
/// the last choice, the largest number, true, a date, a time that grows with the field's place
/// in the schema (so `end` comes after `start`), or the record a reference should point at.
fn sample(kind: RecordKind, field: &Field, refs: &BTreeMap<&str, Uuid>) -> FieldValue {
    let place = schema::fields(kind)
        .iter()
        .position(|f| f.name == field.name)
        .expect("a field of the kind");
    match field.ty {
        FieldType::Str { max } => FieldValue::Str(field.name.chars().take(max).collect()),
        FieldType::Choice(values) => values.last().copied().expect("a choice").into(),
        FieldType::Int { max, .. } => FieldValue::Int(max),
        FieldType::Bool => FieldValue::Bool(true),
        FieldType::Date => "2026-05-04".into(),
        FieldType::DateTime => format!("2026-05-04T10:{place:02}:00Z").into(),
        FieldType::RecordRef => refs
            .get(field.name)
            .copied()
            .unwrap_or_else(Uuid::now_v7)
            .to_string()
            .into(),
        FieldType::Text | FieldType::Map(_) | FieldType::Set => {
            unreachable!("`{}` is not a plain field", field.name)
        }
    }
}

/// A record of `kind` with a value in every plain field, and `more` besides.
fn record(
    actor: &ActorId,
    kind: RecordKind,
    refs: &BTreeMap<&str, Uuid>,
    more: &[(&str, FieldValue)],
) -> (RecordDoc, BTreeMap<&'static str, FieldValue>) {
    let values: BTreeMap<&'static str, FieldValue> = projection::plain_columns(kind)
        .map(|(f, _)| (f.name, sample(kind, f, refs)))
        .collect();
    let mut fields: Vec<(&str, FieldValue)> = values.iter().map(|(k, v)| (*k, v.clone())).collect();
    fields.extend(more.iter().cloned());
    let doc = RecordDoc::create(actor.clone(), kind, P, &fields, NOW)
        .unwrap_or_else(|e| panic!("a {kind} with every plain field: {e}"));
    (doc, values)
}

/// A pushed value as the database or an export gives it back.
fn as_json(v: &FieldValue, bool_as_number: bool) -> Value {
    match v {
        FieldValue::Str(s) => Value::from(s.as_str()),
        FieldValue::Int(n) => Value::from(*n),
        FieldValue::Bool(b) if bool_as_number => Value::from(i64::from(*b)),
        FieldValue::Bool(b) => Value::from(*b),
    }
}

/// An export as the analyst gets it.
async fn export_body(h: &Harness, dataset: Dataset, format: &str, token: &str) -> String {
    let res = h
        .http
        .get(format!(
            "{}/api/v1/projects/{P}/exports/{}?format={format}",
            h.url(),
            dataset.as_str()
        ))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = res.status();
    let body = res.text().await.unwrap();
    assert!(status.is_success(), "{}: {status} {body}", dataset.as_str());
    body
}

async fn jsonl(h: &Harness, dataset: Dataset, token: &str) -> Vec<serde_json::Map<String, Value>> {
    export_body(h, dataset, "jsonl", token)
        .await
        .lines()
        .map(|l| match serde_json::from_str(l).unwrap() {
            Value::Object(o) => o,
            other => panic!("not an object: {other}"),
        })
        .collect()
}

async fn every_plain_field_has_a_column_and_reaches_the_export(backend: Backend) {
    let Some(h) = Harness::start(backend).await else {
        return;
    };

    // Every plain field has a column in its kind's table.
    for kind in projection::FROM_SCHEMA {
        let table = projection::table(kind);
        let columns = table_columns(&h, backend, table).await;
        assert!(!columns.is_empty(), "no columns listed for {table}");
        for (field, column) in projection::plain_columns(kind) {
            assert!(
                columns.iter().any(|c| c == column),
                "the {kind} field `{}` has no column `{column}` in {table} on {backend:?}: add a \
                 migration for each backend adding it",
                field.name
            );
        }
    }

    h.project(P).await;
    h.user("rita", P, "researcher").await;
    h.user("ana", P, "analyst").await;
    let analyst = h.login("ana", "ana-password").await.unwrap();
    let (token, actor) = h.raw_device("rita").await;

    // A participant who consented to data use and story sharing, a session, and a shareable
    // story about both, each with a value in every plain field.
    let (participant, session, story) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    let refs = BTreeMap::from([("participant", participant), ("session", session)]);
    let consent = [
        ("consent.data_use", FieldValue::Bool(true)),
        ("consent.story_sharing", FieldValue::Bool(true)),
    ];
    let (p_doc, p_values) = record(&actor, RecordKind::Participant, &refs, &consent);
    let (s_doc, s_values) = record(&actor, RecordKind::Session, &refs, &[]);
    let (t_doc, t_values) = record(&actor, RecordKind::Story, &refs, &[]);
    assert_eq!(
        t_values.get("consent_scope"),
        Some(&FieldValue::from("public")),
        "the story must be shareable to reach the export"
    );
    let pushed = [
        (RecordKind::Participant, participant, p_doc, p_values),
        (RecordKind::Session, session, s_doc, s_values),
        (RecordKind::Story, story, t_doc, t_values),
    ];
    let exported = [
        (Dataset::Participants, "participant_id"),
        (Dataset::Sessions, "session_id"),
        (Dataset::Stories, "story_id"),
    ];
    let push = pushed
        .iter()
        .map(|(_, id, doc, _)| push_history(*id, &mut doc.clone()))
        .collect();
    let response = h
        .sync_raw(
            &token,
            &SyncRequest {
                push,
                ..SyncRequest::default()
            },
        )
        .await;
    assert!(response.reports.is_empty(), "{:?}", response.reports);

    for (kind, id, _, values) in &pushed {
        let table = projection::table(*kind);
        // The table name is one of the projection's own.
        let rows =
            h.db.sql(
                &format!("SELECT * FROM {table} WHERE id = $1"),
                &[&id.to_string()],
            )
            .await;
        assert_eq!(rows.len(), 1, "{table} has no row for the {kind}");
        for (field, column) in projection::plain_columns(*kind) {
            assert_eq!(
                rows[0][column],
                as_json(&values[field.name], true),
                "{table}.{column} (the {kind} field `{}`)",
                field.name
            );
        }
    }

    // The exports: a column for every field analysts may see, none for a withheld one.
    for ((kind, id, _, values), (dataset, id_column)) in pushed.iter().zip(exported) {
        let rows = jsonl(&h, dataset, &analyst).await;
        let id = id.to_string();
        let row = rows
            .iter()
            .find(|r| r[id_column].as_str() == Some(id.as_str()))
            .unwrap_or_else(|| panic!("the {kind} is not in the {} export", dataset.as_str()));
        // The CSV has the dictionary's columns, every row as many fields as the header.
        let csv = export_body(&h, dataset, "csv", &analyst).await;
        let mut reader = csv::Reader::from_reader(csv.as_bytes());
        let header: Vec<String> = reader
            .headers()
            .unwrap()
            .iter()
            .map(str::to_owned)
            .collect();
        let listed: Vec<&str> = dataset.columns().iter().map(|c| c.name).collect();
        assert_eq!(header, listed, "{} CSV header", dataset.as_str());
        for record in reader.records() {
            assert_eq!(
                record.unwrap().len(),
                listed.len(),
                "{} CSV row",
                dataset.as_str()
            );
        }
        for (field, _) in projection::plain_columns(*kind) {
            let what = format!("{} export, {kind} field `{}`", dataset.as_str(), field.name);
            match (field.analysts, export::covering(dataset, field.name)) {
                (Analysts::Withhold, _) => {
                    assert!(
                        !row.contains_key(field.name),
                        "{what}: withheld, yet exported"
                    )
                }
                (_, Some(columns)) => {
                    for c in columns {
                        assert!(row.contains_key(*c), "{what}: no column `{c}`");
                    }
                }
                (_, None) => assert_eq!(
                    row.get(field.name),
                    Some(&as_json(&values[field.name], false)),
                    "{what}"
                ),
            }
        }
    }
    h.finish().await;
}
