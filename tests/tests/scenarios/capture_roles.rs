//! A device refuses at capture what its user's role may not record, with the reason, so nothing
//! is accepted offline only to be refused at sync: from enrolment (before any sync), and again
//! after a change of role reaches it on sync.

use bothy_device::{DeviceError, WellbeingForm};
use bothy_sync_core::{FieldValue, Instrument};
use bothy_tests::{Backend, Harness, on_both_backends};
use serde_json::json;

on_both_backends!(role_the_device_ignores_is_refused_at_capture);

fn wemwbs(participant: uuid::Uuid) -> WellbeingForm {
    WellbeingForm {
        participant,
        instrument: Instrument::Wemwbs.to_string(),
        timepoint: "baseline".into(),
        date: chrono::NaiveDate::from_ymd_opt(2026, 11, 1).unwrap(),
        session: None,
        items: (1..=14).map(|i| (i, 3)).collect(),
    }
}

fn story(participant: uuid::Uuid) -> Vec<(&'static str, FieldValue)> {
    vec![
        ("title", "The walk back".into()),
        ("consent_scope", "project".into()),
        ("participant", participant.to_string().into()),
    ]
}

async fn set_role(h: &Harness, username: &str, role: &str) {
    h.admin(
        "/api/v1/admin/projects/highland-heritage/members",
        json!({"username": username, "role": role}),
    )
    .await;
}

/// A peer worker's device refuses a questionnaire and a story at capture, naming the project,
/// the role and what it may not record; writes nothing; and sync then refuses nothing. Made a
/// researcher on the server, the same device records both after its next sync; made a peer
/// worker again, it refuses them again and deletes those it held.
async fn role_the_device_ignores_is_refused_at_capture(backend: Backend) {
    let Some(h) = Harness::start(backend).await else {
        return;
    };
    h.project("highland-heritage").await;
    h.user("ruth", "highland-heritage", "peer_worker").await;
    // Enrolled, never synced: the enrolment answer carried the role.
    let ruth = h.device("ruth", "ruth-phone").await;
    let person = ruth.create_participant(None, &[]).await.unwrap();
    let session = ruth
        .create_session(
            None,
            &[
                ("site", "ullapool-hall".into()),
                ("activity", "heritage-crafts".into()),
                ("activity_type", "heritage".into()),
                ("start", "2026-11-01T10:00:00Z".into()),
            ],
        )
        .await
        .unwrap();

    let err = ruth.record_wellbeing(&wemwbs(person.id)).await.unwrap_err();
    assert!(matches!(err, DeviceError::Usage(_)), "{err:?}");
    assert_eq!(
        err.to_string(),
        "your role in project highland-heritage (peer worker) may not record wellbeing \
         questionnaires; ask a coordinator"
    );
    let err = ruth
        .create_story(None, &story(person.id))
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "your role in project highland-heritage (peer worker) may not record stories; ask a \
         coordinator"
    );
    assert_eq!(
        ruth.list(None).await.unwrap().len(),
        2,
        "nothing was written"
    );

    let summary = ruth.sync().await.unwrap();
    assert_eq!(summary.acked, 2);
    assert!(summary.reports.is_empty(), "{:?}", summary.reports);
    assert_eq!(summary.set_aside, 0);

    // Made a researcher on the server: the next sync tells the device.
    set_role(&h, "ruth", "researcher").await;
    ruth.sync().await.unwrap();
    let response = ruth.record_wellbeing(&wemwbs(person.id)).await.unwrap();
    let written = ruth.create_story(None, &story(person.id)).await.unwrap();
    ruth.mark_attendance(session, person.id, bothy_device::AttendanceMark::Present)
        .await
        .unwrap();
    let summary = ruth.sync().await.unwrap();
    assert_eq!(summary.acked, 3);
    assert!(summary.reports.is_empty(), "{:?}", summary.reports);
    let stored = h.record("highland-heritage", response).await;
    assert_eq!(stored["kind"], "wellbeing", "{stored}");

    // A peer worker again: questionnaires and stories are refused at capture once more, and the
    // ones the device held leave it (a peer worker's device holds none).
    set_role(&h, "ruth", "peer_worker").await;
    let summary = ruth.sync().await.unwrap();
    assert_eq!(summary.withdrawn, 2, "{summary:?}");
    assert_eq!(summary.withdrawn_unsynced, 0);
    assert!(ruth.get(written).await.is_err());
    assert!(ruth.get(response).await.is_err());
    let err = ruth.record_wellbeing(&wemwbs(person.id)).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("(peer worker) may not record wellbeing questionnaires"),
        "{err}"
    );
    let err = ruth
        .create_story(None, &story(person.id))
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("(peer worker) may not record stories"),
        "{err}"
    );
    // Still allowed: participants and sessions.
    ruth.create_participant(None, &[]).await.unwrap();
    let summary = ruth.sync().await.unwrap();
    assert!(summary.reports.is_empty(), "{:?}", summary.reports);
    h.finish().await;
}

/// The web app's tables of what each role may record and what it is sent
/// (clients/web/src/roles.ts) are sync-core's.
#[test]
fn web_app_role_table_matches_sync_core() {
    use bothy_sync_core::RecordKind;
    use bothy_sync_core::roles::{ROLES, may_pull, may_push};
    let path = bothy_tests::workspace_root().join("clients/web/src/roles.ts");
    let source = std::fs::read_to_string(&path).expect("the web app's roles.ts");
    type Rule = fn(&str, RecordKind) -> bool;
    let tables: [(&str, Rule, &str); 2] = [
        ("WRITES", may_push, "may record"),
        ("RECEIVES", may_pull, "is sent"),
    ];
    for (name, core_may, what) in tables {
        let table = source
            .split(&format!("export const {name}"))
            .nth(1)
            .and_then(|rest| rest.split("};").next())
            .unwrap_or_else(|| panic!("roles.ts declares `export const {name} = {{...}};`"));
        for role in ROLES {
            let line = table
                .lines()
                .find(|l| l.trim_start().starts_with(&format!("{role}:")));
            let web: Vec<&str> = line
                .map(|l| {
                    l.split('"')
                        .enumerate()
                        .filter(|(i, _)| i % 2 == 1)
                        .map(|(_, s)| s)
                        .collect()
                })
                .unwrap_or_default();
            let core: Vec<&str> = RecordKind::ALL
                .iter()
                .filter(|k| core_may(role, **k))
                .map(|k| k.as_str())
                .collect();
            assert_eq!(web, core, "what a {role} {what}, in {}", path.display());
        }
    }
}
