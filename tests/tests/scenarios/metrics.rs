//! What an operator's Prometheus sees at `/metrics`, and what a device sees when the server is
//! saturated: counters that move with the syncs devices make (requests by outcome, records
//! pushed, acknowledged, refused and pulled, bytes each way, the latency histogram), gauges of
//! the database pool and of the syncs in flight, a token that guards it all; and, with every
//! sync turn taken, `503 busy` with `Retry-After` rather than a misleading "database
//! unavailable", counted as such, which the device library reports as temporary with the wait.

use bothy_device::{Device, DeviceError};
use bothy_server::config::Secret;
use bothy_sync_core::protocol::{self, RecordPush, ReportKind, SyncRequest};
use bothy_tests::{Backend, Harness, on_both_backends};
use serde_bytes::ByteBuf;
use std::collections::HashMap;
use uuid::Uuid;

on_both_backends!(
    metrics_count_what_syncs_carry,
    a_saturated_server_answers_busy
);

const PROJECT: &str = "glen-walks";
const TOKEN: &str = "metrics-token-for-the-scenario";

/// Every sample of a scrape, by its name and labels as written (`name{a="x",b="y"}`).
struct Scrape(HashMap<String, f64>);

impl Scrape {
    /// A sample's value; a missing one is a failure.
    fn get(&self, sample: &str) -> f64 {
        *self
            .0
            .get(sample)
            .unwrap_or_else(|| panic!("no sample {sample} in {:?}", self.0.keys()))
    }
}

/// `GET /metrics` with `token`: (status, content type, body).
async fn get_metrics(h: &Harness, token: Option<&str>) -> (u16, String, String) {
    let mut req = h.http.get(format!("{}/metrics", h.url()));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let res = req.send().await.expect("request sent");
    let status = res.status().as_u16();
    let ct = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    (status, ct, res.text().await.expect("body"))
}

async fn scrape(h: &Harness) -> Scrape {
    let (status, ct, text) = get_metrics(h, Some(TOKEN)).await;
    assert_eq!(status, 200, "{text}");
    assert!(ct.starts_with("application/openmetrics-text"), "{ct}");
    assert!(text.ends_with("# EOF\n"), "{text}");
    let mut samples = HashMap::new();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let (name, value) = line.rsplit_once(' ').expect("`name value`");
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("{line}"));
        samples.insert(name.to_owned(), value);
    }
    Scrape(samples)
}

async fn participant(device: &Device) -> Uuid {
    device
        .create_participant(
            None,
            &[
                ("consent.data_use", true.into()),
                ("age_band", "65-74".into()),
                ("rurality", "rural".into()),
            ],
        )
        .await
        .unwrap()
        .id
}

const OK: &str = r#"bothy_sync_requests_total{status="200",code="ok"}"#;
const BUSY: &str = r#"bothy_sync_requests_total{status="503",code="busy"}"#;
const PUSHED: &str = "bothy_sync_records_pushed_total";
const ACKED: &str = "bothy_sync_records_acknowledged_total";
const PULLED: &str = "bothy_sync_records_pulled_total";
const REFUSED: &str = r#"bothy_sync_record_reports_total{kind="refused"}"#;
const BYTES_IN: &str = "bothy_sync_request_bytes_total";
const BYTES_OUT: &str = "bothy_sync_response_bytes_total";
const LATENCY_COUNT: &str = "bothy_sync_duration_seconds_count";
const QUEUE_BUSY: &str = r#"bothy_sync_busy_total{cause="queue"}"#;
const POOL_BUSY: &str = r#"bothy_sync_busy_total{cause="pool"}"#;
const IN_FLIGHT: &str = "bothy_syncs_in_flight";

async fn metrics_count_what_syncs_carry(backend: Backend) {
    let Some(h) = Harness::start_with(backend, |c| {
        c.metrics_token = Some(Secret::new(TOKEN));
    })
    .await
    else {
        return;
    };
    // The token guards the figures.
    assert_eq!(get_metrics(&h, None).await.0, 401);
    assert_eq!(get_metrics(&h, Some("not-the-metrics-token")).await.0, 401);

    let zero = scrape(&h).await;
    for sample in [
        OK,
        BUSY,
        PUSHED,
        ACKED,
        PULLED,
        REFUSED,
        BYTES_IN,
        BYTES_OUT,
        LATENCY_COUNT,
        QUEUE_BUSY,
        POOL_BUSY,
        IN_FLIGHT,
    ] {
        assert_eq!(zero.get(sample), 0.0, "{sample} before any sync");
    }
    let max = zero.get("bothy_db_pool_max_connections");
    assert!(max >= 1.0, "{max}");
    assert_eq!(zero.get("bothy_syncs_max_in_flight"), 2.0 * max);
    assert_eq!(
        zero.get("bothy_db_pool_connections"),
        zero.get("bothy_db_pool_idle_connections") + zero.get("bothy_db_pool_in_use_connections")
    );

    h.project(PROJECT).await;
    h.user("ada", PROJECT, "researcher").await;
    h.user("ben", PROJECT, "researcher").await;
    let a = h.device("ada", "phone-a").await;
    let b = h.device("ben", "phone-b").await;
    for _ in 0..5 {
        participant(&a).await;
    }
    let pushed = a.sync().await.unwrap();
    assert_eq!((pushed.pushed, pushed.acked), (5, 5), "{pushed:?}");
    let pulled = b.sync().await.unwrap();
    assert_eq!(pulled.received, 5, "{pulled:?}");

    let after = scrape(&h).await;
    let requests = f64::from(pushed.requests + pulled.requests);
    assert_eq!(after.get(OK), requests);
    assert_eq!(after.get(LATENCY_COUNT), requests);
    assert!(after.get("bothy_sync_duration_seconds_sum") > 0.0);
    assert_eq!(
        after.get(r#"bothy_sync_duration_seconds_bucket{le="+Inf"}"#),
        requests
    );
    assert_eq!(after.get(PUSHED), 5.0);
    assert_eq!(after.get(ACKED), 5.0);
    assert_eq!(after.get(PULLED), 5.0);
    assert_eq!(after.get(REFUSED), 0.0);
    assert!(after.get(BYTES_IN) > 0.0);
    assert!(after.get(BYTES_OUT) > 0.0);
    assert_eq!(after.get(IN_FLIGHT), 0.0);
    assert_eq!(after.get(BUSY), 0.0);

    // A push the server refuses: counted as pushed and refused, not acknowledged; its body's
    // bytes are counted exactly.
    let (token, _actor) = h.raw_device("ada").await;
    let junk = Uuid::now_v7();
    let body = protocol::encode(&SyncRequest {
        push: vec![RecordPush {
            id: junk,
            changes: vec![],
            document: Some(ByteBuf::from(b"not an automerge document".to_vec())),
        }],
        ..SyncRequest::default()
    });
    let sent = body.len() as f64;
    let (status, answer) = h.post_sync(&token, body).await;
    assert_eq!(status.as_u16(), 200, "{}", String::from_utf8_lossy(&answer));
    let (response, _) = protocol::decode::<protocol::SyncResponse>(&answer).unwrap();
    assert!(response.unacked.contains(&junk), "{response:?}");
    assert!(
        response
            .reports
            .iter()
            .any(|r| r.id == junk && r.kind == ReportKind::Refused),
        "{response:?}"
    );
    // A request with no valid credential.
    let (status, _) = h.post_sync("bd1_not-a-credential", vec![1, 2, 3]).await;
    assert_eq!(status.as_u16(), 401);

    let last = scrape(&h).await;
    assert_eq!(last.get(OK), requests + 1.0);
    assert_eq!(last.get(PUSHED), 6.0);
    assert_eq!(last.get(ACKED), 5.0);
    assert_eq!(last.get(REFUSED), 1.0);
    assert_eq!(last.get(PULLED), 5.0 + response.records.len() as f64);
    assert_eq!(last.get(BYTES_IN), after.get(BYTES_IN) + sent);
    assert_eq!(
        last.get(BYTES_OUT),
        after.get(BYTES_OUT) + answer.len() as f64
    );
    assert_eq!(
        last.get(r#"bothy_sync_requests_total{status="401",code="unauthorized"}"#),
        1.0
    );
    // Counts only: nothing that names a person, a device, a user or a project.
    let (_, _, text) = get_metrics(&h, Some(TOKEN)).await;
    for private in [PROJECT, "ada", "ben", "phone-a", &junk.to_string(), &token] {
        assert!(!text.contains(private), "{private} in the metrics");
    }
    h.finish().await;
}

async fn a_saturated_server_answers_busy(backend: Backend) {
    let Some(h) = Harness::start_with(backend, |c| {
        c.max_syncs_in_flight = Some(1);
        c.sync_queue_timeout = 0;
        c.metrics_token = Some(Secret::new(TOKEN));
    })
    .await
    else {
        return;
    };
    h.project(PROJECT).await;
    h.user("ada", PROJECT, "researcher").await;
    let phone = h.device("ada", "phone").await;
    participant(&phone).await;
    let (token, _actor) = h.raw_device("ada").await;

    // Every turn is taken, as by a long sync.
    let state = &h.server.as_ref().expect("running").state;
    let held = state.admission.hold(1).expect("the only turn");
    assert_eq!(scrape(&h).await.get(IN_FLIGHT), 1.0);

    let res = h
        .http
        .post(format!("{}/api/v1/sync", h.url()))
        .bearer_auth(&token)
        .header("content-type", protocol::MEDIA_TYPE)
        .body(protocol::encode(&SyncRequest::default()))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 503);
    let after: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((2..=5).contains(&after), "Retry-After: {after}");
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "busy", "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("busy") && message.contains("retries by itself"),
        "{message}"
    );
    assert!(!message.contains("database"), "{message}");

    // The device library: a temporary failure, with the server's wait, and nothing lost.
    let err = phone.sync().await.unwrap_err();
    assert!(
        matches!(err, DeviceError::ServerFault { status: 503, .. }),
        "{err:?}"
    );
    assert!(err.is_temporary());
    let wait = err.retry_after().expect("the server's Retry-After");
    assert!((2..=5).contains(&wait.as_secs()), "{wait:?}");
    assert_eq!(phone.status().await.unwrap().unsynced_records, 1);

    let busy = scrape(&h).await;
    assert_eq!(busy.get(QUEUE_BUSY), 2.0);
    assert_eq!(busy.get(POOL_BUSY), 0.0);
    assert_eq!(busy.get(BUSY), 2.0);
    assert_eq!(busy.get(OK), 0.0);
    assert_eq!(busy.get(PUSHED), 0.0);

    // The turn comes free: the same sync goes through.
    drop(held);
    let done = phone.sync().await.unwrap();
    assert_eq!(done.acked, 1);
    let last = scrape(&h).await;
    assert_eq!(last.get(IN_FLIGHT), 0.0);
    assert_eq!(last.get(PUSHED), 1.0);
    assert!(last.get(OK) >= 1.0);
    h.finish().await;
}

/// A server with no metrics token serves no metrics.
#[tokio::test]
async fn metrics_are_off_without_a_token() {
    let Some(h) = Harness::start(Backend::Sqlite).await else {
        return;
    };
    let (status, _, body) = get_metrics(&h, Some(TOKEN)).await;
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("BOTHY_METRICS_TOKEN"), "{body}");
    h.finish().await;
}
