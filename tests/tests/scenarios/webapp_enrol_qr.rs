//! Enrolment by QR code in the web app, in a real browser (Debian's Chromium driven by
//! tests/browser/webapp-enrol-qr.mjs): the link an enrolment QR code holds
//! (`<server>/app/#/enrol?code=<code>`) opens the enrolment screen with the code filled in and
//! removed from the address, and enrols with one tap once a PIN is chosen (never without); an
//! enrolled phone opening another link is told so and leaves that code unused; in a browser
//! with no `BarcodeDetector`, a photo of the QR code is decoded by the app's own lazily loaded
//! decoder (photos with no QR code, or another QR code, are refused with clear messages); and
//! Chromium's fake camera showing the QR code enrols by live scanning. The server then lists the
//! three devices, each for its user. Screenshots go to target/artifacts/webapp-enrol-qr/<backend>/.

use bothy_tests::{Backend, Harness, on_both_backends};

on_both_backends!(web_app_enrols_from_a_qr_code);

const PROJECT: &str = "loch-ness";

async fn web_app_enrols_from_a_qr_code(backend: Backend) {
    let Some(browser_dir) = bothy_tests::browser_dir("web app QR enrolment check") else {
        return;
    };
    let Some(h) = Harness::start(backend).await else {
        return;
    };
    h.project(PROJECT).await;
    for user in ["ailsa", "brodie", "catriona"] {
        h.user(user, PROJECT, "researcher").await;
    }
    let link = h.enrolment_code("ailsa").await;
    let again = h.enrolment_code("ailsa").await;
    let photo = h.enrolment_code("brodie").await;
    let camera = h.enrolment_code("catriona").await;
    let out = bothy_tests::artifacts_dir("webapp-enrol-qr", backend);
    let summary = bothy_tests::run_browser_script(
        &browser_dir,
        "webapp-enrol-qr.mjs",
        &[&h.url(), &link, &again, &photo, &camera, &out],
        std::time::Duration::from_secs(300),
    )
    .await;
    assert_eq!(
        summary["noPin"], "The PIN must be at least 6 characters.",
        "{summary}"
    );
    assert_eq!(
        summary["noQr"],
        "No QR code was found in this photo. Take it again closer, in good light, with the \
         whole code in the picture, or type the code.",
        "{summary}"
    );
    assert_eq!(
        summary["notBothy"],
        "This QR code is not a Bothy enrolment code. It says: https://example.org/opening-hours",
        "{summary}"
    );
    assert_eq!(
        summary["otherServer"],
        "This code is for https://bothy.example.org. Open the app at \
         https://bothy.example.org/app/ to enrol with it.",
        "{summary}"
    );
    assert_eq!(
        summary["already"],
        "This device is already enrolled as ailsa, so the enrolment link was not used. Its code \
         still works on another device until it expires.",
        "{summary}"
    );
    assert_eq!(summary["barcodeDetector"], false, "{summary}");
    assert_eq!(summary["camera"], "enrolled", "{summary}");

    // The server lists each phone for its user, and the code the enrolled phone was shown
    // again is still unused.
    let devices = h.get("/api/v1/admin/devices").await;
    let listed: Vec<(String, String)> = devices
        .as_array()
        .expect("a list of devices")
        .iter()
        .map(|d| {
            (
                d["username"].as_str().unwrap_or_default().to_owned(),
                d["name"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    for (user, name) in [
        ("ailsa", "QR link phone"),
        ("brodie", "QR photo phone"),
        ("catriona", "QR camera phone"),
    ] {
        assert!(
            listed.contains(&(user.to_owned(), name.to_owned())),
            "{user}'s {name} is not listed: {listed:?}"
        );
    }
    assert_eq!(
        listed.iter().filter(|(u, _)| u == "ailsa").count(),
        1,
        "{listed:?}"
    );
    let unused = h
        .sql(
            "SELECT e.used_at FROM enrolments e JOIN users u ON u.id = e.user_id \
             WHERE u.username = 'ailsa' AND e.used_at IS NULL",
            &[],
        )
        .await;
    assert_eq!(unused.len(), 1, "the second code was used: {unused:?}");
    assert!(
        std::fs::read_dir(&out).unwrap().count() >= 5,
        "screenshots in {}",
        out.display()
    );
    h.finish().await;
}
