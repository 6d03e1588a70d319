//! Registration and referral dates typed on the device drive the reports: people captured in
//! the second quarter whose registration date was typed as a day of the first count as new in
//! the first quarter's report, not the second's; a record without a registration date (made
//! before the field existed) counts by the day its record was created; referral dates give the
//! quarter's new referrals; and the participants export's `registered_on` is the typed date
//! when there is one, in one column.

use super::analysis::{get_jsonl, get_ok, researcher_and_analyst};
use bothy_sync_core::FieldValue;
use bothy_tests::{Backend, Harness, on_both_backends};
use serde_json::Value;
use uuid::Uuid;

on_both_backends!(typed_registration_dates_count_in_their_quarter);

const P: &str = "strathspey";
/// 2026-04-02 12:00 UTC: the device's clock when everyone here was captured.
const CAPTURED_AT: i64 = 1_775_131_200;

async fn get(h: &Harness, path: &str, token: &str) -> String {
    get_ok(h, &format!("/api/v1/projects/{P}/{path}"), token).await
}

async fn typed_registration_dates_count_in_their_quarter(backend: Backend) {
    let Some(h) = Harness::start(backend).await else {
        return;
    };
    let (d, analyst) = researcher_and_analyst(&h, P).await;

    // Five people registered on 30 March (typed) and referred on 2 March, from two sources
    // (all from one source, the count by source, marked, would give the total away, so the
    // total would be withheld).
    let mut typed = Vec::new();
    for k in 0..5 {
        let fields: [(&str, FieldValue); 4] = [
            ("consent.data_use", true.into()),
            ("registered_on", "2026-03-30".into()),
            ("referral.source", if k < 3 { "gp" } else { "self" }.into()),
            ("referral.date", "2026-03-02".into()),
        ];
        typed.push(d.create_participant(Some(P), &fields).await.unwrap().id);
    }
    // Six with no registration date (as records made before the field existed), referred in May.
    let mut untyped: Vec<Uuid> = Vec::new();
    for k in 0..6 {
        let fields: [(&str, FieldValue); 3] = [
            ("consent.data_use", true.into()),
            (
                "referral.source",
                if k < 3 { "self" } else { "link_worker" }.into(),
            ),
            ("referral.date", "2026-05-10".into()),
        ];
        let id = d.create_participant(Some(P), &fields).await.unwrap().id;
        d.edit(id, |e| e.clear("registered_on")).await.unwrap();
        untyped.push(id);
    }
    d.sync().await.unwrap();
    // Everyone was captured on 2 April by the device's clock.
    let at = CAPTURED_AT.to_string();
    h.sql(
        "UPDATE participants SET created_at = CAST($1 AS BIGINT) WHERE project = $2",
        &[&at, P],
    )
    .await;
    let stored = h
        .sql(
            "SELECT id, registered_on FROM participants WHERE project = $1",
            &[P],
        )
        .await;
    assert_eq!(stored.len(), 11);
    for row in &stored {
        let id: Uuid = row["id"].as_str().unwrap().parse().unwrap();
        let want = if typed.contains(&id) {
            Value::from("2026-03-30")
        } else {
            Value::Null
        };
        assert_eq!(row["registered_on"], want, "{id}");
    }

    let quarter = |q: &'static str| {
        let (h, analyst) = (&h, &analyst);
        async move {
            let body = get(h, &format!("reports/quarterly?quarter={q}"), analyst).await;
            serde_json::from_str::<Value>(&body).unwrap()
        }
    };
    let q1 = quarter("2026-Q1").await;
    assert_eq!(q1["new_participants"], 5, "{q1}");
    assert_eq!(q1["new_referrals"], 5, "{q1}");
    let q2 = quarter("2026-Q2").await;
    assert_eq!(q2["new_participants"], 6, "{q2}");
    assert_eq!(q2["new_referrals"], 6, "{q2}");
    let md = get(&h, "reports/quarterly?quarter=2026-Q1&format=md", &analyst).await;
    assert!(md.contains("| New participants | 5 |"), "{md}");
    assert!(md.contains("| New referrals | 5 |"), "{md}");
    let csv = get(&h, "reports/quarterly?quarter=2026-Q2&format=csv", &analyst).await;
    assert!(csv.contains("summary,new_referrals,6"), "{csv}");

    // The export's one `registered_on` column: the typed date, else the creation day.
    let rows: Vec<Value> = get_jsonl(
        &h,
        &format!("/api/v1/projects/{P}/exports/participants?format=jsonl"),
        &analyst,
    )
    .await;
    assert_eq!(rows.len(), 11);
    for row in &rows {
        let id: Uuid = row["participant_id"].as_str().unwrap().parse().unwrap();
        let want = if typed.contains(&id) {
            "2026-03-30"
        } else {
            "2026-04-02"
        };
        assert_eq!(row["registered_on"], want, "{row}");
        assert!(row.get("field_registered_on").is_none(), "{row}");
    }
    let csv = get(&h, "exports/participants?format=csv", &analyst).await;
    let header = csv.lines().next().unwrap();
    assert_eq!(
        header
            .split(',')
            .filter(|c| c.contains("registered_on"))
            .count(),
        1,
        "{header}"
    );
    // The date filter reads the same date.
    let q1_rows = get(
        &h,
        "exports/participants?format=jsonl&from=2026-01-01&to=2026-03-31",
        &analyst,
    )
    .await;
    assert_eq!(q1_rows.lines().count(), 5);
    h.finish().await;
}
