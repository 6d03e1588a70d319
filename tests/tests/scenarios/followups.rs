//! A project's follow-up schedule: a coordinator sets it over HTTP; devices receive it in the
//! project's set-up, under a new set-up version, and keep it offline; researchers and peer
//! workers read it but may not set it; every invalid schedule is refused with 422 naming the
//! step and the problem, leaving the stored one as it was; clearing it reaches devices too;
//! every change is audited.

use bothy_sync_core::followup::FollowUp;
use bothy_sync_core::protocol::{Setup, SyncRequest};
use bothy_tests::{Backend, Harness, on_both_backends};
use serde_json::{Value, json};

on_both_backends!(follow_up_schedule);

const P: &str = "p";

async fn call(h: &Harness, method: &str, path: &str, token: &str, body: Value) -> (u16, Value) {
    let url = format!("{}{path}", h.url());
    let req = match method {
        "GET" => h.http.get(url),
        _ => h.http.put(url).json(&body),
    };
    let res = req.bearer_auth(token).send().await.expect("request sent");
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// The schedule of project `P` in a set-up (empty when the project is not in it).
fn schedule_in(setup: &Setup) -> Vec<FollowUp> {
    setup
        .projects
        .iter()
        .find(|p| p.project == P)
        .map(|p| p.followups.clone())
        .unwrap_or_default()
}

async fn follow_up_schedule(backend: Backend) {
    let Some(h) = Harness::start(backend).await else {
        return;
    };
    h.project(P).await;
    h.project("q").await;
    for (user, role) in [
        ("cora", "coordinator"),
        ("rita", "researcher"),
        ("pete", "peer_worker"),
        ("anna", "analyst"),
    ] {
        h.user(user, P, role).await;
    }
    h.user("quinn", "q", "coordinator").await;
    let cora = h.login("cora", "cora-password").await.unwrap();
    let path = format!("/api/v1/projects/{P}/followups");

    // Nothing set: an empty schedule, and the set-up a device receives has none.
    let (s, v) = call(&h, "GET", &path, &cora, Value::Null).await;
    assert_eq!((s, &v), (200, &json!({"project": P, "followups": []})));
    let (device, _) = h.raw_device("pete").await;
    let first = h.sync_raw(&device, &SyncRequest::default()).await;
    let before = first.setup.expect("a new device receives the set-up");
    assert!(schedule_in(&before).is_empty(), "{before:?}");

    // The coordinator sets a schedule.
    let (s, v) = call(
        &h,
        "PUT",
        &path,
        &cora,
        json!({"followups": [
            {"timepoint": "interim", "after_weeks": 8},
            {"timepoint": "end", "after_weeks": 12},
            {"timepoint": "follow_up", "after_sessions": 20},
        ]}),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let set = vec![
        FollowUp::weeks("interim", 8),
        FollowUp::weeks("end", 12),
        FollowUp::sessions("follow_up", 20),
    ];
    assert_eq!(v["followups"], json!(set));

    // The device's next sync brings it, in order, under a new set-up version; a sync after
    // that sends no set-up at all.
    let again = SyncRequest {
        cursor: first.cursor,
        setup: Some(before.version.clone()),
        ..SyncRequest::default()
    };
    let changed = h
        .sync_raw(&device, &again)
        .await
        .setup
        .expect("a changed schedule sends the set-up again");
    assert_ne!(changed.version, before.version);
    assert_eq!(schedule_in(&changed), set);
    let settled = SyncRequest {
        setup: Some(changed.version.clone()),
        ..again.clone()
    };
    assert!(h.sync_raw(&device, &settled).await.setup.is_none());

    // Any member reads it; only the project's admins and coordinators (and server admins)
    // set it.
    for user in ["rita", "pete", "anna"] {
        let token = h.login(user, &format!("{user}-password")).await.unwrap();
        let (s, v) = call(&h, "GET", &path, &token, Value::Null).await;
        assert_eq!((s, &v["followups"]), (200, &json!(set)), "{user} reads");
        let (s, v) = call(&h, "PUT", &path, &token, json!({"followups": []})).await;
        assert_eq!(s, 403, "{user} sets: {v}");
        assert!(
            v["error"]["message"]
                .as_str()
                .unwrap()
                .contains("may not manage its set-up"),
            "{v}"
        );
    }
    let quinn = h.login("quinn", "quinn-password").await.unwrap();
    for method in ["GET", "PUT"] {
        let (s, v) = call(&h, method, &path, &quinn, json!({"followups": []})).await;
        assert_eq!(s, 403, "another project's coordinator: {method} {v}");
    }
    let admin = h.admin_token.clone();
    let (s, _) = call(&h, "GET", &path, &admin, Value::Null).await;
    assert_eq!(s, 200);
    let (s, v) = call(
        &h,
        "GET",
        "/api/v1/projects/nowhere/followups",
        &admin,
        Value::Null,
    )
    .await;
    assert_eq!(s, 404, "{v}");

    // Every invalid schedule is refused with 422, naming the step and the problem.
    for (steps, message) in [
        (
            json!([{"timepoint": "midway", "after_weeks": 4}]),
            "step 1 (midway): timepoint: `midway` is not a timepoint; use one of interim, end, follow_up",
        ),
        (
            json!([{"timepoint": "end", "after_weeks": 8}, {"timepoint": "baseline", "after_weeks": 1}]),
            "step 2 (baseline): timepoint: baseline is where the schedule starts, not a \
             follow-up; use one of interim, end, follow_up",
        ),
        (
            json!([{"timepoint": "end", "after_weeks": 8, "after_sessions": 10}]),
            "step 1 (end): give after_weeks or after_sessions, not both: a step is due by one \
             measure",
        ),
        (
            json!([{"timepoint": "end"}]),
            "step 1 (end): give after_weeks (weeks after baseline) or after_sessions (sessions \
             attended)",
        ),
        (
            json!([{"timepoint": "end", "after_weeks": 261}]),
            "step 1 (end): after_weeks: 261 is out of range; give 1 to 260 weeks",
        ),
        (
            json!([{"timepoint": "end", "after_weeks": 0}]),
            "step 1 (end): after_weeks: 0 is out of range; give 1 to 260 weeks",
        ),
        (
            json!([{"timepoint": "interim", "after_sessions": 501}]),
            "step 1 (interim): after_sessions: 501 is out of range; give 1 to 500 sessions",
        ),
        (
            json!([{"timepoint": "end", "after_weeks": 8}, {"timepoint": "end", "after_sessions": 10}]),
            "step 2 (end): timepoint: end is already step 1; each timepoint may appear once",
        ),
        (
            json!([{"timepoint": "end", "after_weeks": "8"}]),
            "step 1 (end): after_weeks: give a whole number of weeks, 1 to 260",
        ),
        (
            json!("end:8w"),
            "followups: give a list of steps such as [{\"timepoint\":\"end\",\"after_weeks\":12}] \
             ([] clears the schedule)",
        ),
    ] {
        let (s, v) = call(&h, "PUT", &path, &cora, json!({"followups": steps})).await;
        assert_eq!(s, 422, "{steps}: {v}");
        assert_eq!(v["error"]["code"], "invalid_followups", "{v}");
        assert_eq!(v["error"]["message"], message, "{steps}");
    }
    let (s, v) = call(&h, "PUT", &path, &cora, json!({"steps": []})).await;
    assert_eq!(s, 422, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("steps: not a field"),
        "{v}"
    );
    // Nothing was stored by any of them.
    let (_, v) = call(&h, "GET", &path, &cora, Value::Null).await;
    assert_eq!(v["followups"], json!(set));

    // Clearing it reaches the device too.
    let (s, v) = call(&h, "PUT", &path, &cora, json!({"followups": []})).await;
    assert_eq!((s, &v["followups"]), (200, &json!([])), "{v}");
    let cleared = h
        .sync_raw(&device, &settled)
        .await
        .setup
        .expect("a cleared schedule sends the set-up again");
    assert!(schedule_in(&cleared).is_empty(), "{cleared:?}");
    assert_ne!(cleared.version, changed.version);
    assert_eq!(
        cleared.version, before.version,
        "the set-up is as it was before any schedule"
    );

    // A server admin sets it too.
    let (s, _) = call(
        &h,
        "PUT",
        &path,
        &admin,
        json!({"followups": [{"timepoint": "end", "after_sessions": 10}]}),
    )
    .await;
    assert_eq!(s, 200);

    // Every change is audited, with the schedule before and after.
    let audit = h.get("/api/v1/admin/audit").await;
    let entries: Vec<&Value> = audit
        .as_array()
        .expect("audit entries")
        .iter()
        .filter(|e| e["action"] == "followups.set")
        .collect();
    assert_eq!(entries.len(), 3, "{audit}");
    let text = audit.to_string();
    assert!(
        text.contains("interim:8w") && text.contains("end:10s"),
        "{text}"
    );
    h.finish().await;
}
