//! A project's own instruments: a coordinator defines a five-item questionnaire (one item
//! reverse-scored, three bands) through the API; refused definitions name the field; other
//! roles may not define; devices receive every version in their set-up; responses are scored
//! from the definition into `wellbeing_responses` and `wellbeing_items`; once a version has
//! responses only compatible changes are accepted; the dashboard's form defines one too; an
//! erasure removes the item rows; and a server process started again scores responses of the
//! definitions it stored.

use bothy_sync_core::automerge::ActorId;
use bothy_sync_core::instrument::Definition;
use bothy_sync_core::protocol::{Setup, SyncRequest, SyncResponse};
use bothy_sync_core::{FieldValue, RecordDoc, RecordKind};
use bothy_tests::{Admin, Backend, Harness, ProcessServer, on_both_backends, push_history};
use serde_json::{Value, json};
use uuid::Uuid;

on_both_backends!(instrument_define, definitions_survive_a_restart);

const ID: &str = "MOODS";
const NOW: i64 = 1_793_000_000;

/// A project slug of its own per backend and scenario: the two backends' tests run at once in
/// one process, whose catalogue of definitions is shared.
fn project_for(backend: Backend, scenario: &str) -> String {
    let b = match backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    };
    format!("{scenario}-{b}")
}

/// Five items answered 1-5, item 3 reverse-scored, summed (5-25), banded.
fn moods() -> Value {
    let item = |n: u8, key: &str, text: &str| json!({"number": n, "key": key, "scale": {"min": 1, "max": 5}, "text": text});
    let mut items = vec![
        item(1, "calm", "I have felt calm"),
        item(2, "energy", "I have had energy to spare"),
        item(3, "worry", "I have worried a lot"),
        item(4, "close", "I have felt close to other people"),
        item(5, "cheerful", "I have felt cheerful"),
    ];
    items[0]["scale"]["values"] =
        json!([{"value": 1, "label": "Never"}, {"value": 5, "label": "Always"}]);
    items[2]["reverse"] = json!(true);
    json!({
        "id": ID,
        "version": 1,
        "name": "Five moods",
        "items": items,
        "scoring": {
            "method": "sum",
            "higher_is_better": true,
            "bands": [
                {"name": "low", "min": 5.0, "max": 11.0},
                {"name": "medium", "min": 12.0, "max": 18.0},
                {"name": "high", "min": 19.0, "max": 25.0}
            ]
        }
    })
}

async fn call(api: &Admin, method: &str, path: &str, token: &str, body: Value) -> (u16, Value) {
    let url = format!("{}{path}", api.base);
    let req = match method {
        "GET" => api.http.get(url),
        _ => api.http.put(url).json(&body),
    };
    let res = req.bearer_auth(token).send().await.expect("request sent");
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// Defining `def` is refused with `code`, and the message names every `needle`.
async fn refused(api: &Admin, path: &str, token: &str, def: Value, code: &str, needles: &[&str]) {
    let (s, v) = call(api, "PUT", path, token, def).await;
    assert_eq!((s, v["error"]["code"].as_str()), (400, Some(code)), "{v}");
    let message = v["error"]["message"].as_str().unwrap();
    for needle in needles {
        assert!(message.contains(needle), "{needle:?} not in: {message}");
    }
}

/// Enrols a device without a store: (device token, actor).
async fn raw_device(api: &Admin, username: &str) -> (String, ActorId) {
    let code = api.enrolment_code(username).await;
    let v = api
        .post_json(
            "/api/v1/devices/enrol",
            None,
            json!({"code": code, "name": "raw"}),
        )
        .await
        .expect("enrols");
    let actor = ActorId::try_from(v["actor"].as_str().unwrap()).expect("hex actor");
    (v["device_token"].as_str().unwrap().to_owned(), actor)
}

async fn sync(api: &Admin, token: &str, request: &SyncRequest) -> SyncResponse {
    let res = api
        .http
        .post(format!("{}/api/v1/sync", api.base))
        .bearer_auth(token)
        .header("content-type", bothy_sync_core::protocol::MEDIA_TYPE)
        .body(bothy_sync_core::protocol::encode(request))
        .send()
        .await
        .expect("sync sent");
    let status = res.status();
    let body = res.bytes().await.expect("body");
    assert!(status.is_success(), "sync answered {status}");
    bothy_sync_core::protocol::decode(&body)
        .expect("response decodes")
        .0
}

/// Pushes records; every one must be accepted as it is.
async fn push(api: &Admin, token: &str, docs: Vec<(Uuid, RecordDoc)>) {
    let push = docs
        .into_iter()
        .map(|(id, mut doc)| push_history(id, &mut doc))
        .collect();
    let r = sync(
        api,
        token,
        &SyncRequest {
            push,
            ..SyncRequest::default()
        },
    )
    .await;
    assert!(
        r.unacked.is_empty() && r.reports.is_empty(),
        "pushed records accepted: {:?}",
        r.reports
    );
}

/// The set-up a device starting from nothing receives.
async fn setup_of(api: &Admin, token: &str) -> Setup {
    sync(api, token, &SyncRequest::default())
        .await
        .setup
        .expect("a device without the set-up receives it")
}

/// The definitions of one project in a set-up.
fn definitions_in(setup: &Setup, project: &str) -> Vec<Definition> {
    setup
        .projects
        .iter()
        .find(|p| p.project == project)
        .map(|p| p.definitions.clone())
        .unwrap_or_default()
}

fn participant(actor: &ActorId, project: &str, code: &str) -> RecordDoc {
    RecordDoc::create(
        actor.clone(),
        RecordKind::Participant,
        project,
        &[
            ("code", code.into()),
            ("consent.data_use", true.into()),
            ("consent.date", "2026-10-30".into()),
        ],
        NOW,
    )
    .expect("a valid participant")
}

/// A response of the project's instrument `ID`, version `version` (left out: 1).
fn response(
    actor: &ActorId,
    project: &str,
    participant: Uuid,
    version: Option<u32>,
    answers: &[(u8, i64)],
) -> RecordDoc {
    let mut fields: Vec<(String, FieldValue)> = vec![
        ("participant".into(), participant.to_string().into()),
        ("instrument".into(), ID.into()),
        ("timepoint".into(), "baseline".into()),
        ("date".into(), "2026-11-01".into()),
    ];
    if let Some(v) = version {
        fields.push(("instrument_version".into(), FieldValue::Int(i64::from(v))));
    }
    for (n, a) in answers {
        fields.push((format!("items.{n}"), FieldValue::Int(*a)));
    }
    let refs: Vec<(&str, FieldValue)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.clone()))
        .collect();
    RecordDoc::create(actor.clone(), RecordKind::Wellbeing, project, &refs, NOW)
        .expect("a valid response")
}

/// (instrument_version, score, band, complete, raw_score) of a response, as projected.
async fn projected(api_db: &bothy_tests::TestDb, id: Uuid) -> Value {
    let rows = api_db
        .sql(
            "SELECT instrument_version, score, band, complete, raw_score \
             FROM wellbeing_responses WHERE id = $1",
            &[&id.to_string()],
        )
        .await;
    assert_eq!(rows.len(), 1, "one projected row for {id}");
    let r = &rows[0];
    json!([
        r["instrument_version"],
        r["score"].as_f64(),
        r["band"],
        r["complete"]
            .as_i64()
            .map(|c| c != 0)
            .or(r["complete"].as_bool()),
        r["raw_score"],
    ])
}

/// The response's item rows: [item, answer, scored].
async fn item_rows(db: &bothy_tests::TestDb, id: Uuid) -> Vec<[i64; 3]> {
    db.sql(
        "SELECT item, answer, scored FROM wellbeing_items WHERE response_id = $1 ORDER BY item",
        &[&id.to_string()],
    )
    .await
    .iter()
    .map(|r| {
        [
            r["item"].as_i64().unwrap(),
            r["answer"].as_i64().unwrap(),
            r["scored"].as_i64().unwrap(),
        ]
    })
    .collect()
}

// ---- the dashboard ----

fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("HTTP client")
}

/// A form field's value as a browser encodes it.
fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' => {
                (b as char).to_string()
            }
            b' ' => "+".to_owned(),
            b => format!("%{b:02X}"),
        })
        .collect()
}

fn form(fields: &[(&str, &str)]) -> String {
    fields
        .iter()
        .map(|(k, v)| format!("{k}={}", enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Logs in through the dashboard's form: the session cookie (`name=value`).
async fn dashboard_login(h: &Harness, username: &str) -> String {
    let res = browser()
        .post(format!("{}/dashboard/login", h.url()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[
            ("username", username),
            ("password", &format!("{username}-password")),
        ]))
        .send()
        .await
        .expect("login form posted");
    assert_eq!(res.status(), 303, "{username} logs in");
    let set = res.headers()["set-cookie"].to_str().unwrap().to_owned();
    set.split(';').next().unwrap().to_owned()
}

async fn page(h: &Harness, path: &str, cookie: &str) -> (u16, String) {
    let res = browser()
        .get(format!("{}{path}", h.url()))
        .header("cookie", cookie)
        .send()
        .await
        .expect("page requested");
    (res.status().as_u16(), res.text().await.unwrap_or_default())
}

/// Posts the instruments form from `origin`: (status, location, body).
async fn post_form(
    h: &Harness,
    path: &str,
    cookie: &str,
    origin: &str,
    body: String,
) -> (u16, String, String) {
    let res = browser()
        .post(format!("{}{path}", h.url()))
        .header("cookie", cookie)
        .header("origin", origin)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .expect("form posted");
    let status = res.status().as_u16();
    let location = res
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, location, res.text().await.unwrap_or_default())
}

async fn instrument_define(backend: Backend) {
    let Some(h) = Harness::start(backend).await else {
        return;
    };
    let p = project_for(backend, "moods");
    let p = p.as_str();
    h.project(p).await;
    h.project("elsewhere").await;
    h.user("cora", p, "coordinator").await;
    h.user("rita", p, "researcher").await;
    h.user("olly", "elsewhere", "coordinator").await;
    let cora = h.login("cora", "cora-password").await.unwrap();
    let rita = h.login("rita", "rita-password").await.unwrap();
    let olly = h.login("olly", "olly-password").await.unwrap();
    let path = format!("/api/v1/projects/{p}/instruments");

    // Any member lists the instruments: the built-ins, and none of the project's yet.
    let (s, v) = call(&h, "GET", &path, &rita, Value::Null).await;
    assert_eq!(s, 200, "{v}");
    let builtin: Vec<&str> = v["builtin"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        builtin,
        ["WEMWBS", "SWEMWBS", "ONS4", "UCLA3", "ONS_LONELINESS"]
    );
    assert_eq!(v["project"], json!([]));
    let (s, _) = call(&h, "GET", &path, &olly, Value::Null).await;
    assert_eq!(s, 403, "a coordinator of another project lists them");

    // Only the project's admins and coordinators (and server admins) define one.
    let (s, v) = call(&h, "PUT", &path, &rita, moods()).await;
    assert_eq!(s, 403, "a researcher defines an instrument: {v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("researcher"),
        "{v}"
    );
    let (s, _) = call(&h, "PUT", &path, &olly, moods()).await;
    assert_eq!(s, 403, "a coordinator of another project defines one");
    let (s, v) = call(
        &h,
        "PUT",
        "/api/v1/projects/no-such-project/instruments",
        &h.admin_token,
        moods(),
    )
    .await;
    assert_eq!(s, 404, "{v}");

    // Refused definitions name the field.
    let mut duplicate = moods();
    duplicate["items"][1]["number"] = json!(1);
    refused(
        &h,
        &path,
        &cora,
        duplicate,
        "invalid_definition",
        &[
            "items[1].number: duplicate item 1",
            "items: item 2 is missing",
        ],
    )
    .await;
    let mut empty = moods();
    empty["items"][2]["scale"] = json!({});
    refused(
        &h,
        &path,
        &cora,
        empty,
        "invalid_definition",
        &["items[2].scale: empty scale"],
    )
    .await;
    let mut gaps = moods();
    gaps["scoring"]["lookup"] = Value::Array(
        (5..=25)
            .filter(|raw| *raw != 7 && *raw != 20)
            .map(|raw| json!({"raw": raw, "score": raw * 4}))
            .collect(),
    );
    refused(
        &h,
        &path,
        &cora,
        gaps,
        "invalid_definition",
        &[
            "scoring.lookup: no value for raw total 7",
            "scoring.lookup: no value for raw total 20",
        ],
    )
    .await;
    let mut builtin_id = moods();
    builtin_id["id"] = json!("WEMWBS");
    refused(
        &h,
        &path,
        &cora,
        builtin_id,
        "invalid_definition",
        &["id: `WEMWBS` is a built-in instrument"],
    )
    .await;
    let mut misspelt = moods();
    misspelt["items"][2]["revers"] = json!(true);
    refused(
        &h,
        &path,
        &cora,
        misspelt,
        "invalid_definition",
        &["items[2].revers: unknown field `revers`"],
    )
    .await;
    let mut missing = moods();
    missing["scoring"]
        .as_object_mut()
        .unwrap()
        .remove("higher_is_better");
    refused(
        &h,
        &path,
        &cora,
        missing,
        "invalid_definition",
        &["scoring: missing field `higher_is_better`"],
    )
    .await;
    refused(
        &h,
        &path,
        &cora,
        json!([1]),
        "invalid_json",
        &["JSON object"],
    )
    .await;
    let res = h
        .http
        .put(format!("{}{path}", h.url()))
        .bearer_auth(&cora)
        .body(moods().to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 415, "a definition not sent as JSON");
    let (_, v) = call(&h, "GET", &path, &cora, Value::Null).await;
    assert_eq!(v["project"], json!([]), "nothing refused was stored");

    // Defined.
    let (s, v) = call(&h, "PUT", &path, &cora, moods()).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        v,
        json!({"instrument": ID, "version": 1, "project": p, "items": 5, "created": true,
               "changed": true})
    );
    let audit = h
        .get(&format!(
            "/api/v1/projects/{p}/audit?action=instrument.define"
        ))
        .await;
    let entries = audit.as_array().unwrap();
    assert_eq!(entries.len(), 1, "{audit}");
    assert_eq!(entries[0]["username"], "cora");
    assert_eq!(entries[0]["target"], ID);
    assert_eq!(entries[0]["details"]["version"], 1);
    // The same again changes nothing.
    let (s, v) = call(&h, "PUT", &path, &cora, moods()).await;
    assert_eq!(
        (s, &v["created"], &v["changed"]),
        (200, &json!(false), &json!(false))
    );
    // Without responses, a version may still change in any way.
    let mut flipped = moods();
    flipped["items"][2]["reverse"] = json!(false);
    let (s, v) = call(&h, "PUT", &path, &cora, flipped).await;
    assert_eq!(
        (s, &v["created"], &v["changed"]),
        (200, &json!(false), &json!(true)),
        "{v}"
    );
    let (s, _) = call(&h, "PUT", &path, &cora, moods()).await;
    assert_eq!(s, 200);
    let (_, v) = call(&h, "GET", &path, &rita, Value::Null).await;
    assert_eq!(v["project"], json!([moods()]));

    // A device receives the definition in its set-up.
    let (token, actor) = raw_device(&h, "rita").await;
    let setup = setup_of(&h, &token).await;
    let v1: Definition = serde_json::from_value(moods()).unwrap();
    assert_eq!(definitions_in(&setup, p), [v1]);

    // Responses are scored from the definition: item 3 counts as 6 minus the answer.
    let (who, other) = (Uuid::new_v4(), Uuid::new_v4());
    let (high, low, partial) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    push(
        &h,
        &token,
        vec![
            (who, participant(&actor, p, "MD-0001")),
            (other, participant(&actor, p, "MD-0002")),
            // An unscored form first: scores of later ones must still be stored.
            (
                partial,
                response(&actor, p, other, Some(1), &[(1, 3), (3, 1)]),
            ),
        ],
    )
    .await;
    push(
        &h,
        &token,
        vec![
            (
                high,
                response(
                    &actor,
                    p,
                    who,
                    Some(1),
                    &[(1, 4), (2, 3), (3, 2), (4, 5), (5, 4)],
                ),
            ),
            (
                low,
                response(
                    &actor,
                    p,
                    other,
                    None,
                    &[(1, 2), (2, 2), (3, 5), (4, 2), (5, 1)],
                ),
            ),
        ],
    )
    .await;
    assert_eq!(
        projected(&h.db, high).await,
        json!([1, 20.0, "high", true, 20])
    );
    assert_eq!(
        item_rows(&h.db, high).await,
        [[1, 4, 4], [2, 3, 3], [3, 2, 4], [4, 5, 5], [5, 4, 4]]
    );
    assert_eq!(projected(&h.db, low).await, json!([1, 8.0, "low", true, 8]));
    assert_eq!(
        item_rows(&h.db, low).await,
        [[1, 2, 2], [2, 2, 2], [3, 5, 1], [4, 2, 2], [5, 1, 1]]
    );
    assert_eq!(
        projected(&h.db, partial).await,
        json!([1, null, null, false, null])
    );
    assert_eq!(item_rows(&h.db, partial).await, [[1, 3, 3], [3, 1, 5]]);
    let record = h.record(p, high).await;
    assert_eq!(record["score"]["score"], 20.0, "{record}");

    // Now that version 1 has responses, changes that would reinterpret them are refused,
    // each named; wording may still change.
    let mut incompatible = moods();
    incompatible["items"][2]
        .as_object_mut()
        .unwrap()
        .remove("reverse");
    incompatible["items"][0]["scale"] = json!({"min": 1, "max": 4});
    incompatible["scoring"]["bands"][0]["max"] = json!(10.0);
    incompatible["scoring"]["bands"][1]["min"] = json!(11.0);
    incompatible["scoring"]["bands"][2]["max"] = json!(24.0);
    refused(
        &h,
        &path,
        &cora,
        incompatible.clone(),
        "incompatible_change",
        &[
            "already has responses",
            "items[2].reverse: item 3 is no longer reverse-scored",
            "items[0].scale: item 1's answers change from 1-5 to 1-4",
            "scoring.bands:",
            "publish a new version instead",
        ],
    )
    .await;
    let mut reworded = moods();
    reworded["name"] = json!("Five moods (2027 wording)");
    reworded["items"][1]["scale"]["values"] = json!([{"value": 3, "label": "Sometimes"}]);
    reworded["items"][4]["text"] = json!("I have been cheerful");
    let (s, v) = call(&h, "PUT", &path, &cora, reworded.clone()).await;
    assert_eq!(
        (s, &v["created"], &v["changed"]),
        (200, &json!(false), &json!(true)),
        "{v}"
    );
    // The change is published as version 2; version 1's responses keep their scores.
    let mut v2 = incompatible;
    v2["version"] = json!(2);
    let (s, v) = call(&h, "PUT", &path, &h.admin_token, v2.clone()).await;
    assert_eq!((s, &v["created"]), (200, &json!(true)), "{v}");
    let (_, v) = call(&h, "GET", &path, &rita, Value::Null).await;
    assert_eq!(v["project"], json!([reworded, v2]));
    assert_eq!(
        projected(&h.db, high).await,
        json!([1, 20.0, "high", true, 20])
    );

    // Devices receive both versions, oldest first; a response of version 2 is scored by it.
    let (token2, actor2) = raw_device(&h, "rita").await;
    let setup = setup_of(&h, &token2).await;
    let versions: Vec<(String, u32, String)> = definitions_in(&setup, p)
        .into_iter()
        .map(|d| (d.id, d.version, d.name))
        .collect();
    assert_eq!(
        versions,
        [
            (ID.to_owned(), 1, "Five moods (2027 wording)".to_owned()),
            (ID.to_owned(), 2, "Five moods".to_owned())
        ]
    );
    let later = Uuid::new_v4();
    push(
        &h,
        &token2,
        vec![(
            later,
            response(
                &actor2,
                p,
                who,
                Some(2),
                &[(1, 4), (2, 3), (3, 2), (4, 4), (5, 4)],
            ),
        )],
    )
    .await;
    // 4 + 3 + 2 (no longer reversed) + 4 + 4 = 17: `medium` is 11-18 in version 2.
    assert_eq!(
        projected(&h.db, later).await,
        json!([2, 17.0, "medium", true, 17])
    );
    assert_eq!(
        item_rows(&h.db, later).await,
        [[1, 4, 4], [2, 3, 3], [3, 2, 2], [4, 4, 4], [5, 4, 4]]
    );
    // The version-1 change stays refused now that a later version exists too.
    let mut flipped = moods();
    flipped["items"][2]["reverse"] = json!(false);
    refused(
        &h,
        &path,
        &cora,
        flipped,
        "incompatible_change",
        &["items[2].reverse"],
    )
    .await;

    // The dashboard: a coordinator's page lists the versions, with a form.
    let cookie = dashboard_login(&h, "cora").await;
    let page_path = format!("/dashboard/projects/{p}/instruments");
    let (s, body) = page(&h, &format!("/dashboard/projects/{p}"), &cookie).await;
    assert_eq!(s, 200);
    assert!(
        body.contains(&format!("href=\"{page_path}\"")),
        "link to the instruments"
    );
    let (s, body) = page(&h, &page_path, &cookie).await;
    assert_eq!(s, 200, "{body}");
    assert!(body.contains("<code>MOODS</code>") && body.contains("Five moods (2027 wording)"));
    assert!(body.contains("<textarea id=\"definition\" name=\"definition\""));
    assert!(!body.contains("<script"));
    let origin = h.url();
    // A refused definition: the form again, with the text sent and the problems.
    let mut bad = moods();
    bad["id"] = json!("MOODS_SHORT");
    bad["items"][1]["number"] = json!(1);
    let (s, _, body) = post_form(
        &h,
        &page_path,
        &cookie,
        &origin,
        form(&[("format", "json"), ("definition", &bad.to_string())]),
    )
    .await;
    assert_eq!(s, 400, "{body}");
    assert!(
        body.contains("<li>items[1].number: duplicate item 1</li>"),
        "{body}"
    );
    assert!(
        body.contains("&quot;MOODS_SHORT&quot;"),
        "the text sent is kept"
    );
    let (s, _, body) = post_form(
        &h,
        &page_path,
        &cookie,
        &origin,
        form(&[("format", "json"), ("definition", "{\"id\": ")]),
    )
    .await;
    assert_eq!(s, 400);
    assert!(body.contains("<li>line 1, column"), "{body}");
    let (s, _, body) = post_form(
        &h,
        &page_path,
        &cookie,
        &origin,
        form(&[("format", "json"), ("definition", &reworded_incompatible())]),
    )
    .await;
    assert_eq!(s, 400);
    assert!(
        body.contains("Publish the change as a new version")
            && body.contains("items[2].reverse: item 3 is no longer reverse-scored"),
        "{body}"
    );
    // From another site: refused.
    let csv = "instrument,version,name,item,key,min,max,reverse,text\r\n\
               MOODS_SHORT,1,Two moods,1,calm,1,5,no,I have felt calm\r\n\
               ,,,2,worry,1,5,yes,I have worried a lot\r\n";
    let sidecar = "{\"scoring\": {\"method\": \"sum\", \"higher_is_better\": true}}";
    let csv_form = form(&[("format", "csv"), ("csv", csv), ("sidecar", sidecar)]);
    let (s, _, _) = post_form(
        &h,
        &page_path,
        &cookie,
        "https://elsewhere.example",
        csv_form.clone(),
    )
    .await;
    assert_eq!(s, 403);
    // As a spreadsheet with its sidecar: saved, and the page says so.
    let (s, location, body) = post_form(&h, &page_path, &cookie, &origin, csv_form).await;
    assert_eq!(s, 303, "{body}");
    assert_eq!(
        location,
        format!("{page_path}?defined=MOODS_SHORT&version=1")
    );
    let (s, body) = page(&h, &location, &cookie).await;
    assert_eq!(s, 200);
    assert!(body.contains("Saved MOODS_SHORT version 1."), "{body}");
    assert!(body.contains("<code>MOODS_SHORT</code>"));
    let (_, v) = call(&h, "GET", &path, &rita, Value::Null).await;
    let short = &v["project"][2];
    assert_eq!(
        (&short["id"], &short["items"][1]["reverse"]),
        (&json!("MOODS_SHORT"), &json!(true)),
        "{v}"
    );
    // A researcher may not see the page; others are sent to log in.
    let rita_cookie = dashboard_login(&h, "rita").await;
    let (s, body) = page(&h, &page_path, &rita_cookie).await;
    assert_eq!(s, 403);
    assert!(body.contains("Not available to you"));
    let (s, _, _) = post_form(
        &h,
        &page_path,
        &rita_cookie,
        &origin,
        form(&[("format", "json"), ("definition", &moods().to_string())]),
    )
    .await;
    assert_eq!(s, 403);

    // Erasing a participant removes their item rows with their responses.
    let erased = h
        .admin(
            &format!("/api/v1/projects/{p}/participants/{other}/erase"),
            json!({"reason": "request of the person"}),
        )
        .await;
    assert_eq!(erased["counts"]["wellbeing_responses"], 2, "{erased}");
    assert!(item_rows(&h.db, low).await.is_empty());
    assert!(item_rows(&h.db, partial).await.is_empty());
    assert_eq!(item_rows(&h.db, high).await.len(), 5, "others' rows stay");
    h.finish().await;
}

/// Version 1 of `ID` with item 3 no longer reversed, as JSON text.
fn reworded_incompatible() -> String {
    let mut def = moods();
    def["items"][2]["reverse"] = json!(false);
    def.to_string()
}

/// A server process started again knows the definitions it stored: a response of a project's
/// own instrument is accepted and scored.
async fn definitions_survive_a_restart(backend: Backend) {
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_bothy-test-server"));
    let Some(mut s) = ProcessServer::start(backend, bin).await else {
        return;
    };
    let p = project_for(backend, "restart");
    let p = p.as_str();
    s.project(p).await;
    s.user("rhona", p, "researcher").await;
    let path = format!("/api/v1/projects/{p}/instruments");
    let (status, v) = call(&s, "PUT", &path, &s.admin_token, moods()).await;
    assert_eq!(status, 200, "{v}");
    s.restart().await;

    // The test records with the definitions as the API lists them (its own catalogue is this
    // test process's); the server must know them before any sync tells it of them.
    let (token, actor) = raw_device(&s, "rhona").await;
    let (status, listed) = call(&s, "GET", &path, &s.admin_token, Value::Null).await;
    assert_eq!(status, 200, "{listed}");
    for def in listed["project"].as_array().unwrap() {
        bothy_sync_core::instrument::define(p, serde_json::from_value(def.clone()).unwrap());
    }
    let (who, answer) = (Uuid::new_v4(), Uuid::new_v4());
    push(
        &s,
        &token,
        vec![
            (who, participant(&actor, p, "RS-0001")),
            (
                answer,
                response(
                    &actor,
                    p,
                    who,
                    None,
                    &[(1, 1), (2, 1), (3, 5), (4, 1), (5, 1)],
                ),
            ),
        ],
    )
    .await;
    assert_eq!(
        projected(&s.db, answer).await,
        json!([1, 5.0, "low", true, 5]),
        "server log:\n{}",
        s.log_tail()
    );
    let setup = setup_of(&s, &token).await;
    let v1: Definition = serde_json::from_value(moods()).unwrap();
    assert_eq!(definitions_in(&setup, p), [v1]);

    // Several server processes share one PostgreSQL database: a version another process
    // stored (written here straight into the database) is known to this one when a device
    // pushes a response of it, with no restart and no set-up in between.
    if backend == Backend::Postgres {
        let mut v2 = moods();
        v2["version"] = json!(2);
        v2["items"][0]["scale"]["max"] = json!(7);
        v2["scoring"]["bands"][2]["max"] = json!(27.0);
        s.db.sql(
            "INSERT INTO instrument_definitions (project, instrument, version, definition,              defined_by, defined_at) VALUES ($1, $2, 2, $3, 'another-process', 0)",
            &[p, ID, &v2.to_string()],
        )
        .await;
        bothy_sync_core::instrument::define(p, serde_json::from_value(v2).unwrap());
        let later = Uuid::new_v4();
        push(
            &s,
            &token,
            vec![(
                later,
                response(
                    &actor,
                    p,
                    who,
                    Some(2),
                    &[(1, 7), (2, 5), (3, 1), (4, 5), (5, 5)],
                ),
            )],
        )
        .await;
        assert_eq!(
            projected(&s.db, later).await,
            json!([2, 27.0, "high", true, 27]),
            "server log:\n{}",
            s.log_tail()
        );
    }
    s.finish().await;
}
