//! Files generated from sync-core for the other languages are current: the web app's copy of
//! the record schema is exactly what sync-core emits. `BOTHY_WRITE_GENERATED=1` writes it
//! again instead of comparing.

mod common;

use std::path::PathBuf;

fn web_schema_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../clients/web/src/generated/schema.json")
}

#[test]
fn the_web_apps_schema_is_generated_from_sync_core() {
    let mut text = serde_json::to_string_pretty(&bothy_sync_core::schema_export::schema_document())
        .expect("the schema serialises");
    text.push('\n');
    common::generated_file_is_current(&web_schema_path(), &text, "generated");
}
