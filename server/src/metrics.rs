//! Operational figures for operators, served at `GET /metrics` in the OpenMetrics text format
//! that Prometheus scrapes: how many syncs, how they ended and how long they took, how many
//! records and bytes they carried, how busy the database pool and the sync admission are.
//!
//! Only counts, sizes and timings: no label or value ever names a person, a record, a device,
//! a user or a project, so the figures may go to a monitoring system that holds no personal
//! data. The endpoint is off (404) until the operator sets a bearer token
//! (`BOTHY_METRICS_TOKEN`), which the scraper must send (docs/operations.md, "Metrics").
//!
//! Each server process has its own registry (held in [`crate::state::AppState`]): the figures
//! are those of the process that answers the scrape, as Prometheus expects.

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bothy_sync_core::protocol::{ReportKind, SyncResponse};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};
use std::time::Duration;
use subtle::ConstantTimeEq;

/// The media type of the answer (what Prometheus asks for first).
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Upper bounds of the sync latency buckets, in seconds: from an empty sync on a quiet server
/// (a few milliseconds) to a large bootstrap page under load.
pub const SYNC_SECONDS_BUCKETS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0,
];

/// Every report kind, each counted from zero.
const REPORT_KINDS: [ReportKind; 7] = [
    ReportKind::Quarantined,
    ReportKind::Refused,
    ReportKind::Resend,
    ReportKind::Flagged,
    ReportKind::Erased,
    ReportKind::Released,
    ReportKind::Discarded,
];

/// The name of a report kind as the protocol spells it.
fn kind_name(kind: ReportKind) -> &'static str {
    match kind {
        ReportKind::Quarantined => "quarantined",
        ReportKind::Refused => "refused",
        ReportKind::Resend => "resend",
        ReportKind::Flagged => "flagged",
        ReportKind::Erased => "erased",
        ReportKind::Released => "released",
        ReportKind::Discarded => "discarded",
    }
}

/// How a sync request ended: its HTTP status and the error code (`ok` for a 200).
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SyncOutcome {
    status: u16,
    code: &'static str,
}

/// A single-label set (`kind`, `cause`, ...).
type Label = [(&'static str, &'static str); 1];

/// Why a sync was answered `503 busy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BusyCause {
    /// Every sync turn was taken for longer than the queue timeout.
    Queue,
    /// No database connection came free within the pool's acquire timeout.
    Pool,
}

impl BusyCause {
    fn as_str(self) -> &'static str {
        match self {
            BusyCause::Queue => "queue",
            BusyCause::Pool => "pool",
        }
    }
}

/// What one sync carried, filled in by the handler as it goes (zero for what it never reached).
#[derive(Debug, Default, Clone)]
pub struct SyncTally {
    /// Bytes of the request body as received (compressed).
    pub bytes_in: u64,
    /// Records in the request's push.
    pub pushed: u64,
    /// Bytes of the response body as sent (compressed).
    pub bytes_out: u64,
    /// Pushed records acknowledged (stored).
    pub acknowledged: u64,
    /// Records sent to the device.
    pub pulled: u64,
    /// Reports by kind.
    pub reports: Vec<ReportKind>,
    /// Turned away busy because no sync turn came free in time.
    pub turned_away: bool,
}

impl SyncTally {
    /// Takes the figures of an answer to a push of `self.pushed` records.
    pub fn answered(&mut self, response: &SyncResponse) {
        self.acknowledged = self.pushed.saturating_sub(response.unacked.len() as u64);
        self.pulled = response.records.len() as u64;
        self.reports = response.reports.iter().map(|r| r.kind).collect();
    }
}

/// The registry and every figure in it.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    sync_requests: Family<SyncOutcome, Counter>,
    sync_seconds: Histogram,
    records_pushed: Counter,
    records_acknowledged: Counter,
    record_reports: Family<Label, Counter>,
    records_pulled: Counter,
    request_bytes: Counter,
    response_bytes: Counter,
    sync_busy: Family<Label, Counter>,
    syncs_in_flight: Gauge,
    syncs_waiting: Gauge,
    sync_limit: Gauge,
    pool_max: Gauge,
    pool_size: Gauge,
    pool_idle: Gauge,
    pool_in_use: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A fresh registry, every figure at zero.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("bothy");
        let m = Metrics {
            sync_requests: Family::default(),
            sync_seconds: Histogram::new(SYNC_SECONDS_BUCKETS),
            records_pushed: Counter::default(),
            records_acknowledged: Counter::default(),
            record_reports: Family::default(),
            records_pulled: Counter::default(),
            request_bytes: Counter::default(),
            response_bytes: Counter::default(),
            sync_busy: Family::default(),
            syncs_in_flight: Gauge::default(),
            syncs_waiting: Gauge::default(),
            sync_limit: Gauge::default(),
            pool_max: Gauge::default(),
            pool_size: Gauge::default(),
            pool_idle: Gauge::default(),
            pool_in_use: Gauge::default(),
            registry: Registry::default(),
        };
        registry.register(
            "sync_requests",
            "Sync requests answered, by HTTP status and error code (`ok` for 200)",
            m.sync_requests.clone(),
        );
        registry.register_with_unit(
            "sync_duration",
            "Time to answer a sync that succeeded (200), from the end of authentication to the \
             encoded answer, waiting for a turn included",
            Unit::Seconds,
            m.sync_seconds.clone(),
        );
        registry.register(
            "sync_records_pushed",
            "Records pushed in syncs that were answered 200",
            m.records_pushed.clone(),
        );
        registry.register(
            "sync_records_acknowledged",
            "Pushed records stored and acknowledged (merged, quarantined or flagged)",
            m.records_acknowledged.clone(),
        );
        registry.register(
            "sync_record_reports",
            "Reports about pushed records, by kind (refused, quarantined, resend, ...)",
            m.record_reports.clone(),
        );
        registry.register(
            "sync_records_pulled",
            "Records sent to devices in sync answers",
            m.records_pulled.clone(),
        );
        registry.register_with_unit(
            "sync_request",
            "Bytes of sync request bodies received, as sent (compressed)",
            Unit::Bytes,
            m.request_bytes.clone(),
        );
        registry.register_with_unit(
            "sync_response",
            "Bytes of sync response bodies sent, as sent (compressed)",
            Unit::Bytes,
            m.response_bytes.clone(),
        );
        registry.register(
            "sync_busy",
            "Syncs answered 503 busy, by cause: `queue` (no sync turn free in time) or `pool` \
             (no database connection free in time)",
            m.sync_busy.clone(),
        );
        registry.register(
            "syncs_in_flight",
            "Syncs holding a turn now",
            m.syncs_in_flight.clone(),
        );
        registry.register(
            "syncs_waiting",
            "Syncs waiting for a turn now",
            m.syncs_waiting.clone(),
        );
        registry.register(
            "syncs_max_in_flight",
            "Syncs allowed to hold a turn at once (max_syncs_in_flight)",
            m.sync_limit.clone(),
        );
        registry.register(
            "db_pool_max_connections",
            "The database pool's most connections",
            m.pool_max.clone(),
        );
        registry.register(
            "db_pool_connections",
            "Connections the database pool holds open now, idle or in use",
            m.pool_size.clone(),
        );
        registry.register(
            "db_pool_idle_connections",
            "Open database connections idle now",
            m.pool_idle.clone(),
        );
        registry.register(
            "db_pool_in_use_connections",
            "Database connections in use now",
            m.pool_in_use.clone(),
        );
        for kind in REPORT_KINDS {
            let _ = m.record_reports.get_or_create(&[("kind", kind_name(kind))]);
        }
        for cause in [BusyCause::Queue, BusyCause::Pool] {
            let _ = m.sync_busy.get_or_create(&[("cause", cause.as_str())]);
        }
        for (status, code) in [(200, "ok"), (503, "busy")] {
            let _ = m.sync_requests.get_or_create(&SyncOutcome { status, code });
        }
        Metrics { registry, ..m }
    }

    /// Counts one sync answered with `status` (and error `code`), what it carried, and, when
    /// it succeeded, how long it took.
    pub fn sync_answered(
        &self,
        status: StatusCode,
        code: &'static str,
        elapsed: Duration,
        tally: &SyncTally,
    ) {
        self.sync_requests
            .get_or_create(&SyncOutcome {
                status: status.as_u16(),
                code,
            })
            .inc();
        self.request_bytes.inc_by(tally.bytes_in);
        if status == StatusCode::OK {
            self.sync_seconds.observe(elapsed.as_secs_f64());
            self.records_pushed.inc_by(tally.pushed);
            self.records_acknowledged.inc_by(tally.acknowledged);
            self.records_pulled.inc_by(tally.pulled);
            self.response_bytes.inc_by(tally.bytes_out);
            for kind in &tally.reports {
                self.record_reports
                    .get_or_create(&[("kind", kind_name(*kind))])
                    .inc();
            }
        }
    }

    /// Counts one sync answered `503 busy`.
    pub fn sync_busy(&self, cause: BusyCause) {
        self.sync_busy
            .get_or_create(&[("cause", cause.as_str())])
            .inc();
    }

    /// The OpenMetrics text of every figure, the gauges read now from `state`.
    pub fn render(&self, state: &AppState) -> String {
        let pool = &state.db.pool;
        let size = i64::from(pool.size());
        let idle = i64::try_from(pool.num_idle()).unwrap_or(i64::MAX);
        self.pool_max
            .set(i64::from(pool.options().get_max_connections()));
        self.pool_size.set(size);
        self.pool_idle.set(idle);
        self.pool_in_use.set((size - idle).max(0));
        let admission = &state.admission;
        let as_i64 = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
        self.syncs_in_flight.set(as_i64(admission.in_flight()));
        self.syncs_waiting.set(as_i64(admission.waiting()));
        self.sync_limit.set(as_i64(admission.limit()));
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

/// Whether `headers` carry `Authorization: Bearer <token>`, compared in constant time.
fn bearer_matches(headers: &HeaderMap, token: &str) -> bool {
    let Some(given) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    else {
        return false;
    };
    given.trim().as_bytes().ct_eq(token.as_bytes()).into()
}

/// `GET /metrics`: the server's figures for Prometheus.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "health",
    security(("metrics_token" = [])),
    responses(
        (status = 200, description = "Every figure in the OpenMetrics text format (docs/operations.md, \"Metrics\"): counts, sizes and timings only", content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8", body = String),
        (status = 401, description = "no or the wrong metrics token", body = crate::openapi::ErrorBody),
        (status = 404, description = "metrics are off: no metrics token is configured (`BOTHY_METRICS_TOKEN`)", body = crate::openapi::ErrorBody),
    )
)]
pub async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> ApiResult<Response> {
    let Some(token) = &state.config.metrics_token else {
        return Err(ApiError::NotFound(
            "metrics are off: set BOTHY_METRICS_TOKEN to serve them".into(),
        ));
    };
    if !bearer_matches(&headers, token.expose()) {
        return Err(ApiError::Unauthorized(
            "send the metrics token as `Authorization: Bearer <token>`".into(),
        ));
    }
    let body = state.metrics.render(&state);
    Ok((
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, CONTENT_TYPE),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn the_bearer_token_must_match_exactly() {
        let mut h = HeaderMap::new();
        assert!(!bearer_matches(&h, "a-token-of-sixteen"));
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer a-token-of-sixteen"),
        );
        assert!(bearer_matches(&h, "a-token-of-sixteen"));
        assert!(!bearer_matches(&h, "a-token-of-sixteeN"));
        assert!(!bearer_matches(&h, "a-token-of-sixtee"));
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Basic a-token-of-sixteen"),
        );
        assert!(!bearer_matches(&h, "a-token-of-sixteen"));
    }

    #[test]
    fn a_tally_counts_what_was_acknowledged_pulled_and_reported() {
        let id = uuid::Uuid::now_v7();
        let response = SyncResponse {
            unacked: vec![id],
            reports: vec![bothy_sync_core::protocol::RecordReport {
                id,
                kind: ReportKind::Refused,
                code: "not_allowed".into(),
                field: None,
                message: String::new(),
            }],
            ..SyncResponse::default()
        };
        let mut tally = SyncTally {
            pushed: 3,
            bytes_in: 100,
            ..SyncTally::default()
        };
        tally.answered(&response);
        assert_eq!((tally.acknowledged, tally.pulled), (2, 0));
        assert_eq!(tally.reports, vec![ReportKind::Refused]);
    }
}
