//! A small in-memory server speaking the real HTTP API and sync protocol, built on sync-core's
//! merge rules. It lets the device's sync client be tested end to end (acknowledgement, pulls,
//! refusals, erasure, failures) without the real server, and can be told to misbehave.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use bothy_sync_core::automerge::{ActorId, AutoCommit, ChangeHash};
use bothy_sync_core::merge::{MergePolicy, Verdict, merge_incoming};
use bothy_sync_core::protocol::{
    self, Cursor, MEDIA_TYPE, PullData, RecordPull, RecordReport, ReportKind, SyncRequest,
    SyncResponse,
};
use bothy_sync_core::{RecordDoc, RecordKind, server_actor};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use uuid::Uuid;

pub const PROJECT: &str = "highland-heritage";
pub const PASSWORD: &str = "correct-horse-battery-7";

/// Rewrites a response before it is sent (to inject reports, say).
pub type Hook = Box<dyn FnMut(&SyncRequest, &mut SyncResponse) + Send>;

#[derive(Clone)]
struct Device {
    actor: ActorId,
    device_id: String,
}

struct Stored {
    kind: RecordKind,
    project: String,
    doc: RecordDoc,
}

#[derive(Default)]
pub struct ServerState {
    devices: HashMap<String, Device>,
    codes: HashMap<String, String>,
    docs: BTreeMap<Uuid, Stored>,
    /// Change hashes each device (by token) is known to hold, per record.
    known: HashMap<String, BTreeMap<Uuid, BTreeSet<ChangeHash>>>,
    erased: BTreeSet<Uuid>,
    seq: u64,
    pub requests: Vec<SyncRequest>,
    pub refuse: BTreeSet<Uuid>,
    pub fail_next: u32,
    pub lose_next_answer: bool,
    pub page_size: usize,
    pub hook: Option<Hook>,
}

type Shared = Arc<Mutex<ServerState>>;

pub struct FakeServer {
    pub url: String,
    state: Shared,
}

impl FakeServer {
    pub async fn start() -> FakeServer {
        let state: Shared = Arc::new(Mutex::new(ServerState {
            page_size: usize::MAX,
            ..ServerState::default()
        }));
        let app = Router::new()
            .route("/api/v1/devices/enrol", post(enrol))
            .route("/api/v1/auth/login", post(login))
            .route("/api/v1/devices/register", post(register))
            .route("/api/v1/me", get(me))
            .route("/api/v1/sync", post(sync))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        FakeServer { url, state }
    }

    pub fn with<R>(&self, f: impl FnOnce(&mut ServerState) -> R) -> R {
        f(&mut self.state.lock().unwrap())
    }

    /// A single-use enrolment code.
    pub fn enrolment_code(&self) -> String {
        let code = format!("CODE-{}", Uuid::new_v4().simple());
        self.with(|s| s.codes.insert(code.clone(), "ana".into()));
        code
    }

    /// The server's copy of a record.
    pub fn doc(&self, id: Uuid) -> Option<RecordDoc> {
        self.with(|s| s.docs.get(&id).map(|r| r.doc.clone()))
    }

    pub fn heads(&self, id: Uuid) -> Vec<ChangeHash> {
        let mut h = self.doc(id).unwrap().heads();
        h.sort();
        h
    }

    pub fn erase(&self, id: Uuid) {
        self.with(|s| {
            s.docs.remove(&id);
            s.erased.insert(id);
            s.seq += 1;
        });
    }

    pub fn revoke_all(&self) {
        self.with(|s| s.devices.clear());
    }

    pub fn requests(&self) -> Vec<SyncRequest> {
        self.with(|s| s.requests.clone())
    }
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        Json(json!({"error": {"code": code, "message": message}})),
    )
        .into_response()
}

fn identity(s: &mut ServerState) -> Value {
    let token = format!(
        "bd1_{}_{}",
        Uuid::new_v4().simple(),
        Uuid::new_v4().simple()
    );
    let device = Device {
        actor: ActorId::random(),
        device_id: Uuid::now_v7().to_string(),
    };
    s.devices.insert(token.clone(), device.clone());
    json!({
        "device_id": device.device_id,
        "device_token": token,
        "actor": device.actor.to_hex_string(),
        "user": {"id": "u-ana", "username": "ana", "is_admin": false},
        "memberships": [{"project": PROJECT, "role": "researcher"}],
        "server_time": chrono::Utc::now().timestamp(),
    })
}

async fn enrol(State(s): State<Shared>, Json(body): Json<Value>) -> Response {
    let mut s = s.lock().unwrap();
    let code = body["code"].as_str().unwrap_or_default();
    if s.codes.remove(code).is_none() {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_code",
            "This enrolment code is not valid or was already used.",
        );
    }
    (StatusCode::CREATED, Json(identity(&mut s))).into_response()
}

async fn login(Json(body): Json<Value>) -> Response {
    if body["username"] == "ana" && body["password"] == PASSWORD {
        Json(json!({
            "access_token": "user-jwt", "refresh_token": "r", "token_type": "Bearer",
            "expires_in": 900,
            "user": {"id": "u-ana", "username": "ana", "is_admin": false},
            "memberships": [{"project": PROJECT, "role": "researcher"}],
        }))
        .into_response()
    } else {
        error(
            StatusCode::UNAUTHORIZED,
            "bad_credentials",
            "Wrong username or password.",
        )
    }
}

fn bearer(headers: &HeaderMap) -> String {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default()
        .to_owned()
}

async fn register(State(s): State<Shared>, headers: HeaderMap) -> Response {
    if bearer(&headers) != "user-jwt" {
        return error(StatusCode::UNAUTHORIZED, "unauthenticated", "Log in first.");
    }
    (StatusCode::CREATED, Json(identity(&mut s.lock().unwrap()))).into_response()
}

async fn me(State(s): State<Shared>, headers: HeaderMap) -> Response {
    let s = s.lock().unwrap();
    match s.devices.get(&bearer(&headers)) {
        Some(d) => Json(json!({
            "user": {"id": "u-ana", "username": "ana", "is_admin": false},
            "memberships": [{"project": PROJECT, "role": "researcher"}, {"project": "island-choirs", "role": "analyst"}],
            "device_id": d.device_id,
        }))
        .into_response(),
        None => error(StatusCode::UNAUTHORIZED, "unauthenticated", "Unknown credential."),
    }
}

async fn sync(State(s): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let mut s = s.lock().unwrap();
    let token = bearer(&headers);
    let Some(device) = s.devices.get(&token).cloned() else {
        return error(
            StatusCode::UNAUTHORIZED,
            "device_revoked",
            "This device's credential is not valid: enrol it again.",
        );
    };
    if headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        != Some(MEDIA_TYPE)
    {
        return error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "media_type",
            "Wrong media type.",
        );
    }
    if s.fail_next > 0 {
        s.fail_next -= 1;
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "database_unavailable",
            "The database is unreachable.",
        );
    }
    let (request, version): (SyncRequest, u16) = match protocol::decode(&body) {
        Ok(x) => x,
        Err(e) => return error(StatusCode::BAD_REQUEST, "bad_message", &e.to_string()),
    };
    s.requests.push(request.clone());
    let known_before = s.known.get(&token).cloned();
    let mut response = s.process(&token, &device, &request);
    if let Some(hook) = s.hook.as_mut() {
        hook(&request, &mut response);
    }
    if s.lose_next_answer {
        // Committed here, but the answer never reaches the device.
        s.lose_next_answer = false;
        match known_before {
            Some(k) => s.known.insert(token, k),
            None => s.known.remove(&token),
        };
        return error(
            StatusCode::BAD_GATEWAY,
            "bad_gateway",
            "The connection was lost.",
        );
    }
    (
        [(header::CONTENT_TYPE, MEDIA_TYPE)],
        protocol::encode_with(&response, version, protocol::ENCODING_BROTLI),
    )
        .into_response()
}

impl ServerState {
    fn process(&mut self, token: &str, device: &Device, request: &SyncRequest) -> SyncResponse {
        let now = chrono::Utc::now().timestamp();
        let mut response = SyncResponse::default();
        let report = |id, kind, code: &str, field: Option<String>, message: String| RecordReport {
            id,
            kind,
            code: code.into(),
            field,
            message,
        };
        for push in &request.push {
            let id = push.id;
            if self.erased.contains(&id) || self.refuse.contains(&id) {
                response.reports.push(report(
                    id,
                    ReportKind::Refused,
                    "not_allowed",
                    None,
                    "You may not write this record.".into(),
                ));
                self.known_mut(token, id).clear();
                response.unacked.push(id);
                continue;
            }
            let policy = MergePolicy {
                sender_actor: device.actor.clone(),
                compensating_actor: server_actor(),
                now,
                relay: Default::default(),
            };
            let stored = self.docs.get(&id).map(|r| r.doc.clone());
            let mut raw: Vec<Vec<u8>> = push.changes.iter().map(|c| c.to_vec()).collect();
            if let Some(document) = &push.document {
                let mut doc = AutoCommit::load(document).unwrap();
                raw.extend(doc.get_changes(&[]).iter().map(|c| c.raw_bytes().to_vec()));
            }
            let pushed: Vec<ChangeHash> = bothy_sync_core::merge::decode_changes(&raw)
                .map(|cs| cs.iter().map(|c| c.hash()).collect())
                .unwrap_or_default();
            match merge_incoming(stored, &raw, &policy) {
                Verdict::AlreadyHave => {
                    self.known_mut(token, id).extend(pushed);
                }
                Verdict::Accepted(accepted) => {
                    let env = accepted.doc.envelope().unwrap();
                    for q in &accepted.quarantined {
                        response.reports.push(report(
                            id,
                            ReportKind::Quarantined,
                            "invalid_value",
                            Some(q.field.clone()),
                            q.message.clone(),
                        ));
                    }
                    if !accepted.flagged.is_empty() {
                        response.reports.push(report(
                            id,
                            ReportKind::Flagged,
                            "needs_review",
                            Some(accepted.flagged[0].field.clone()),
                            accepted.flagged[0].message.clone(),
                        ));
                    }
                    self.docs.insert(
                        id,
                        Stored {
                            kind: env.kind,
                            project: env.project,
                            doc: accepted.doc,
                        },
                    );
                    self.seq += 1;
                    self.known_mut(token, id).extend(pushed);
                }
                Verdict::Refused { code, message } => {
                    response.unacked.push(id);
                    response.reports.push(report(
                        id,
                        ReportKind::Refused,
                        code.as_str(),
                        None,
                        message,
                    ));
                    self.known_mut(token, id).clear();
                }
                Verdict::MissingDependencies(_) => {
                    response.unacked.push(id);
                    response.reports.push(report(
                        id,
                        ReportKind::Resend,
                        "missing_dependencies",
                        None,
                        "Send the whole history.".into(),
                    ));
                }
            }
        }
        let ids: Vec<Uuid> = self.docs.keys().copied().collect();
        let page_size = self.page_size;
        for id in ids {
            let stored = self.docs.get_mut(&id).unwrap();
            let all = stored.doc.automerge().get_changes(&[]);
            let (kind, project) = (stored.kind, stored.project.clone());
            let snapshot = stored.doc.save();
            let known = self.known_mut(token, id);
            let missing: Vec<_> = all.iter().filter(|c| !known.contains(&c.hash())).collect();
            if missing.is_empty() {
                continue;
            }
            if response.records.len() >= page_size {
                response.more = true;
                break;
            }
            let data = if known.is_empty() {
                PullData::Snapshot(serde_bytes::ByteBuf::from(snapshot))
            } else {
                PullData::Changes(
                    missing
                        .iter()
                        .map(|c| serde_bytes::ByteBuf::from(c.raw_bytes().to_vec()))
                        .collect(),
                )
            };
            known.extend(all.iter().map(|c| c.hash()));
            response.records.push(RecordPull {
                id,
                kind,
                project,
                data,
            });
        }
        response.erased = self.erased.iter().copied().collect();
        response.cursor = Cursor {
            seq: self.seq,
            ..Cursor::default()
        };
        response.server_time = now;
        response
    }

    fn known_mut(&mut self, token: &str, id: Uuid) -> &mut BTreeSet<ChangeHash> {
        self.known
            .entry(token.to_owned())
            .or_default()
            .entry(id)
            .or_default()
    }
}
