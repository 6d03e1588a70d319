//! Encryption at rest in the web app, in a real browser (Debian's Chromium driven by
//! tests/browser/webapp-lock.mjs, with a persistent profile): a phone enrols with a PIN and
//! records a participant, a questionnaire and a story; with the browser closed, the raw bytes
//! of the profile's IndexedDB files hold neither the participant's name nor the story's text
//! (while a probe written in clear is found there), nor does any other file of the profile
//! (session restore, history), and the app's stored values read from page
//! JavaScript before unlocking are ciphertext only. Opened again, the app shows the lock screen;
//! a wrong PIN is refused with a clear message, the right one shows everything again, five
//! minutes without input lock it, five wrong PINs make even the right one wait after a reload,
//! and "Forgot PIN?" clears the device for a new enrolment. A store written in clear before
//! encryption at rest is encrypted in place once the user chooses a PIN, losing nothing.
//! Screenshots go to target/artifacts/webapp-lock/<backend>/.

use bothy_tests::{Backend, Harness, on_both_backends};

on_both_backends!(web_app_keeps_its_store_encrypted_and_locked);

const PROJECT: &str = "glen-affric";

async fn web_app_keeps_its_store_encrypted_and_locked(backend: Backend) {
    let Some(browser_dir) = bothy_tests::browser_dir("web app lock check") else {
        return;
    };
    let Some(h) = Harness::start(backend).await else {
        return;
    };
    h.project(PROJECT).await;
    h.user("morven", PROJECT, "researcher").await;
    let code = h.enrolment_code("morven").await;
    let out = bothy_tests::artifacts_dir("webapp-lock", backend);
    let summary = bothy_tests::run_browser_script(
        &browser_dir,
        "webapp-lock.mjs",
        &[&h.url(), &code, &PROJECT, &out],
        std::time::Duration::from_secs(300),
    )
    .await;
    assert_eq!(
        summary["wrongPin"], "Wrong PIN. Tries left before the app makes you wait: 4.",
        "{summary}"
    );
    assert_eq!(
        summary["fifth"],
        "Wrong PIN. Too many wrong PINs in a row: wait 30 seconds before trying again.",
        "{summary}"
    );
    let store = &summary["store"];
    assert_eq!(store["automergeDocs"], 0, "{summary}");
    assert_eq!(store["unsealed"], serde_json::json!([]), "{summary}");
    assert!(
        store["vault"]["iterations"].as_u64().unwrap() >= 600_000,
        "{summary}"
    );
    assert_eq!(summary["legacy"], "encrypted in place", "{summary}");

    // Nothing was synced after the capture: the server holds none of it.
    for key in ["participant", "wellbeing", "story", "session"] {
        let id = summary[key].as_str().unwrap();
        let held = h.sql("SELECT id FROM records WHERE id = $1", &[id]).await;
        assert!(held.is_empty(), "{key} {id} reached the server: {held:?}");
    }
    assert!(
        std::fs::read_dir(&out).unwrap().count() >= 7,
        "screenshots in {}",
        out.display()
    );
    h.finish().await;
}
