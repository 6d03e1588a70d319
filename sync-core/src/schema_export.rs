//! The record schema as data, for the other languages: every record kind with its fields,
//! their types, allowed values and whether they are required, the envelope, and the built-in
//! instrument definitions. The web app
//! reads the file this writes (`clients/web/src/generated/schema.json`) instead of re-typing the
//! table; a test fails when the committed file is stale (`BOTHY_WRITE_GENERATED=1 cargo test -p
//! bothy-sync-core --test generated` writes it again).

use crate::schema::{
    ATTENDANCE_MARKS, ENVELOPE_FIELDS, Field, FieldType, MapSpec, RecordKind, fields,
};
use serde_json::{Value, json};

/// The schema document: `{"envelope", "attendance_marks", "instruments": [definition...],
/// "kinds": {kind: [field...]}}`, the instruments being the built-in definitions
/// ([`crate::instrument`]).
pub fn schema_document() -> Value {
    let kinds: serde_json::Map<String, Value> = RecordKind::ALL
        .iter()
        .map(|k| (k.as_str().to_owned(), fields_json(fields(*k))))
        .collect();
    json!({
        "generated_by": "bothy-sync-core (sync-core/src/schema_export.rs): do not edit by hand",
        "envelope": ENVELOPE_FIELDS,
        "attendance_marks": ATTENDANCE_MARKS,
        "instruments": crate::instrument::builtins(),
        "kinds": kinds,
    })
}

fn fields_json(list: &[Field]) -> Value {
    Value::Array(
        list.iter()
            .map(|f| {
                let mut field = json!({"name": f.name, "label": f.label(), "ty": type_json(&f.ty),
                                       "required": f.required, "analysts": f.analysts});
                if !f.help.is_empty() {
                    field["help"] = json!(f.help);
                }
                field
            })
            .collect(),
    )
}

fn type_json(ty: &FieldType) -> Value {
    match ty {
        FieldType::Str { max } => json!({"t": "str", "max": max}),
        FieldType::Choice(options) => json!({"t": "choice", "options": options}),
        FieldType::Date => json!({"t": "date"}),
        FieldType::DateTime => json!({"t": "datetime"}),
        FieldType::Int { min, max } => json!({"t": "int", "min": min, "max": max}),
        FieldType::Bool => json!({"t": "bool"}),
        FieldType::RecordRef => json!({"t": "ref"}),
        FieldType::Text => json!({"t": "text"}),
        FieldType::Set => json!({"t": "set"}),
        FieldType::Map(spec) => json!({"t": "map", "spec": match spec {
            MapSpec::Fields(list) => json!({"fields": fields_json(list)}),
            MapSpec::Attendance => json!("attendance"),
            MapSpec::Items => json!("items"),
        }}),
    }
}
