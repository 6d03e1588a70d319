//! The web app's languages, in a real browser (Debian's Chromium driven by
//! tests/browser/webapp-i18n.mjs): with every message pseudo-translated ("en-XA": in brackets,
//! with accented letters), every screen (enrolment, home, a new session, its attendance and
//! editing, people, a person, a questionnaire new and answered, a story new and saved, sync,
//! settings) shows no text that is neither a message nor user data: English written into the
//! code would stand out. The settings' language picker names each language in itself, redraws
//! the app in the one chosen, sets `<html lang>` and `dir` and keeps the choice on the device.
//! Left to right and right to left ("ar-XB"), no element of any screen reaches past the edges of
//! a 360 px phone.
//! Screenshots go to target/artifacts/webapp-i18n/<backend>/.

use bothy_tests::{Backend, Harness, on_both_backends};

on_both_backends!(web_app_shows_only_messages_and_fits_right_to_left);

const PROJECT: &str = "strath-carron";

/// Texts found on screens that are not messages, by screen and how the text starts. Listed so
/// that new ones fail this test; remove an entry once its text comes from src/i18n/en.ts.
///
/// Nothing is listed: field and choice labels, hints, the built-in instruments' names and the
/// neutral item labels ("WEMWBS item 1") are messages (test/schema-messages.test.ts in
/// clients/web keeps the schema covered). What stays as written by others, and is not English
/// of the app's: user data; instrument ids (codes); a project's own instrument's name, items
/// and answer labels (the project wrote them); and the public wording of the built-in ONS4,
/// UCLA3 and ONS loneliness questions, which a project replaces with a validated translation
/// through its instrument wording (never translated freely as app text). The walk answers a
/// WEMWBS, whose licensed wording is never in the repository.
const KNOWN_HARD_CODED: &[(&str, &str)] = &[];

fn known(screen: &str, text: &str) -> bool {
    // The right-to-left walk names its screens "<screen> (rtl)".
    let screen = screen.trim_end_matches(" (rtl)");
    KNOWN_HARD_CODED.iter().any(|(s, start)| {
        *s == screen
            && text
                .trim_start_matches(|c: char| c.is_ascii_digit() || c == '.' || c == ' ')
                .starts_with(start)
    })
}

async fn web_app_shows_only_messages_and_fits_right_to_left(backend: Backend) {
    let Some(browser_dir) = bothy_tests::browser_dir("web app languages check") else {
        return;
    };
    let Some(h) = Harness::start(backend).await else {
        return;
    };
    h.project(PROJECT).await;
    h.user("eilidh", PROJECT, "researcher").await;
    let code = h.enrolment_code("eilidh").await;
    let out = bothy_tests::artifacts_dir("webapp-i18n", backend);
    let summary = bothy_tests::run_browser_script(
        &browser_dir,
        "webapp-i18n.mjs",
        &[&h.url(), &code, &PROJECT, &out, &"eilidh"],
        std::time::Duration::from_secs(300),
    )
    .await;
    eprintln!("{}", serde_json::to_string_pretty(&summary).unwrap());

    // Every screen was walked both ways.
    let screens = summary["screens"].as_array().unwrap();
    assert_eq!(screens.len(), 1 + 2 * 12, "{summary}");

    // English written into the code, by screen, beyond what is known.
    let mut unknown = Vec::new();
    for (screen, texts) in summary["hardCoded"].as_object().unwrap() {
        for text in texts.as_array().unwrap() {
            let text = text.as_str().unwrap();
            if !known(screen, text) {
                unknown.push(format!("{screen}: {text:?}"));
            }
        }
    }
    assert!(
        unknown.is_empty(),
        "text not from src/i18n/en.ts on screen:\n{}",
        unknown.join("\n")
    );
    assert_eq!(
        summary["overflow"],
        serde_json::json!({}),
        "elements reach past the 360 px viewport"
    );
    assert_eq!(summary["a11y"], serde_json::json!({}), "WCAG problems");
    assert_eq!(summary["picker"]["saved"]["stored"], "ar-XB", "{summary}");
    assert!(
        std::fs::read_dir(&out).unwrap().count() >= 25,
        "screenshots in {}",
        out.display()
    );
    h.finish().await;
}
