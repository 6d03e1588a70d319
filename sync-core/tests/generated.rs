//! Files generated from sync-core for the other languages are current: the web app's copy of
//! the record schema is exactly what sync-core emits. `BOTHY_WRITE_GENERATED=1` writes it
//! again instead of comparing.

use std::path::PathBuf;

fn web_schema_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../clients/web/src/generated/schema.json")
}

#[test]
fn the_web_apps_schema_is_generated_from_sync_core() {
    let mut text = serde_json::to_string_pretty(&bothy_sync_core::schema_export::schema_document())
        .expect("the schema serialises");
    text.push('\n');
    let path = web_schema_path();
    if std::env::var_os("BOTHY_WRITE_GENERATED").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &text).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == text,
        "{} is stale: run `BOTHY_WRITE_GENERATED=1 cargo test -p bothy-sync-core --test \
         generated`, then rebuild the web app (`npm run build` in clients/web) and commit both",
        path.display()
    );
}
