//! `bothy admin`: projects, users, members, enrolment codes and devices, through the server's
//! admin API with a user access token from logging in. The token lives only for this command;
//! nothing is stored.

use crate::args::{
    AdminArgs, AdminCommand, AdminDeviceCommand, AdminInstrumentCommand, AdminMemberCommand,
    AdminParticipantCommand, AdminProjectCommand, AdminSetupCommand, AdminUserCommand,
};
use crate::commands::APP;
use crate::interact;
use crate::output::{self, Output};
use anyhow::{Result, anyhow};
use bothy_device::{Device, ServerApi};
use serde_json::{Value, json};
use std::fmt::Write;
use std::path::Path;

pub async fn run(a: AdminArgs, store: &Path, out: Output) -> Result<()> {
    // A definition is checked first: a mistake in the file needs no server and no password.
    let definition = match &a.command {
        AdminCommand::Instrument(AdminInstrumentCommand::Define(d)) => Some(
            super::instruments::load_definition(&d.file, d.scoring.as_deref())?,
        ),
        _ => None,
    };
    let schedule = match &a.command {
        AdminCommand::Followups(c) => super::followups::precheck(c)?,
        _ => None,
    };
    let server = match a.server {
        Some(s) => s,
        None => enrolled_server(store)
            .await
            .ok_or_else(|| anyhow!("give the server with --server URL or $BOTHY_SERVER"))?,
    };
    let user = a
        .user
        .ok_or_else(|| anyhow!("give an admin's username with --user or $BOTHY_USER"))?;
    let api = ServerApi::new(&server, APP)?;
    let password = interact::password(a.password, &user)?;
    let token = api.login(&user, &password).await?.access_token;
    let token = Some(token.as_str());

    match a.command {
        AdminCommand::Project(AdminProjectCommand::Create { slug, name }) => {
            let v: Value = api
                .post_json(
                    "/api/v1/admin/projects",
                    token,
                    &json!({"slug": slug, "name": name}),
                )
                .await?;
            out.emit(&v, || format!("created project {slug} ({name})"));
        }
        AdminCommand::Participant(c) => participant_command(&api, token, c, out).await?,
        AdminCommand::Site(c) => setup_command(&api, token, "sites", c, out).await?,
        AdminCommand::Activity(c) => setup_command(&api, token, "activities", c, out).await?,
        AdminCommand::Followups(c) => {
            super::followups::run(&api, token, c, schedule, out).await?;
        }
        AdminCommand::Instrument(AdminInstrumentCommand::Load {
            file,
            instrument,
            project,
        }) => {
            let text = std::fs::read_to_string(&file)
                .map_err(|e| anyhow!("cannot read {}: {e}", file.display()))?;
            let body: Value = serde_json::from_str(&text)
                .map_err(|e| anyhow!("{} is not JSON: {e}", file.display()))?;
            let mut path = format!("/api/v1/admin/instruments/{}", query_value(&instrument));
            if let Some(p) = &project {
                path.push_str(&format!("?project={}", query_value(p)));
            }
            let v: Value = api.put_json(&path, token, &body).await?;
            out.emit(&v, || {
                format!(
                    "loaded {} wording ({}, version {}, {} items) for {}",
                    s(&v, "instrument"),
                    s(&v, "language"),
                    plain(&v["version"]),
                    plain(&v["items"]),
                    project
                        .as_deref()
                        .unwrap_or("every project without its own")
                )
            });
        }
        AdminCommand::Instrument(AdminInstrumentCommand::Define(d)) => {
            let definition = definition.expect("loaded above");
            super::instruments::define(&api, token, &d, &definition, out).await?;
        }
        AdminCommand::Instrument(AdminInstrumentCommand::List {
            project: Some(project),
        }) => super::instruments::list_project(&api, token, &project, out).await?,
        AdminCommand::Instrument(AdminInstrumentCommand::List { project: None }) => {
            let v: Value = api.get_json("/api/v1/admin/instruments", token).await?;
            out.emit(&v, || {
                rows(
                    &v,
                    |w| {
                        format!(
                            "{:<8} {:<16} {:<6} version {}",
                            s(w, "instrument"),
                            w["project"].as_str().unwrap_or("(server-wide)"),
                            s(w, "language"),
                            plain(&w["version"])
                        )
                    },
                    "no wording loaded: forms show \"WEMWBS item 1\" and so on",
                )
            });
        }
        AdminCommand::Project(AdminProjectCommand::List) => {
            let v: Value = api.get_json("/api/v1/admin/projects", token).await?;
            out.emit(&v, || {
                rows(
                    &v,
                    |p| format!("{:<24} {}", s(p, "slug"), s(p, "name")),
                    "no projects",
                )
            });
        }
        AdminCommand::User(AdminUserCommand::Add {
            username,
            new_password,
            admin,
        }) => {
            let mut body = json!({"username": username, "is_admin": admin});
            if let Some(p) = new_password {
                body["password"] = json!(p);
            }
            let v: Value = api.post_json("/api/v1/admin/users", token, &body).await?;
            out.emit(&v, || {
                let mut t = format!("created user {username}");
                if let Some(p) = v.get("password").and_then(Value::as_str) {
                    let _ = write!(t, "\npassword (shown once, pass it on safely): {p}");
                }
                t
            });
        }
        AdminCommand::Member(AdminMemberCommand::Add {
            project,
            username,
            role,
        }) => {
            let path = format!("/api/v1/admin/projects/{project}/members");
            let v: Value = api
                .post_json(&path, token, &json!({"username": username, "role": role}))
                .await?;
            out.emit(&v, || {
                format!("{username} is now {role} in project {project}")
            });
        }
        AdminCommand::Member(AdminMemberCommand::Remove { project, username }) => {
            let path = format!("/api/v1/admin/projects/{project}/members/{username}/remove");
            let v: Value = api.post_json(&path, token, &json!({})).await?;
            out.emit(&v, || {
                format!(
                    "{username} is no longer a member of project {project}; their devices delete its records at their next sync"
                )
            });
        }
        AdminCommand::Enrol(e) => {
            let mut body = json!({"username": e.username});
            if let Some(h) = e.expires_in_hours {
                body["expires_in_hours"] = json!(h);
            }
            let v: Value = api
                .post_json("/api/v1/admin/enrolments", token, &body)
                .await?;
            let code = s(&v, "code");
            let payload = crate::qr::payload(api.server(), &code);
            if let Some(path) = &e.qr_svg {
                crate::qr::write_svg(&payload, path)?;
            }
            if let Some(path) = &e.qr_png {
                crate::qr::write_png(&payload, path)?;
            }
            if !out.json && !e.no_qr {
                eprintln!("{}", crate::qr::terminal(&payload)?);
            }
            if !out.json {
                eprintln!(
                    "single-use enrolment code for {}, valid until {}; on a phone, open the QR \
                     code's link with the camera:\n  {payload}\nor on a computer run:\n  \
                     bothy enrol --server {} --code {code}",
                    e.username,
                    match v.get("expires_at") {
                        Some(Value::Number(n)) => n.as_i64().map_or(n.to_string(), output::time),
                        Some(other) => plain(other),
                        None => "-".into(),
                    },
                    api.server()
                );
            }
            let mut v = v;
            v["qr_payload"] = json!(payload);
            out.emit(&v, || code.clone());
        }
        AdminCommand::Device(AdminDeviceCommand::Revoke { id, reason }) => {
            let path = format!("/api/v1/admin/devices/{}/revoke", id.trim());
            let v: Value = api
                .post_json(&path, token, &json!({"reason": reason}))
                .await?;
            out.emit(&v, || {
                format!(
                    "revoked device {} ({} of {}): at its next contact with the server it is \
                     wiped (every record and its credential deleted) and reports what it had not \
                     synced; see `bothy admin devices`",
                    s(&v, "device_id"),
                    s(&v, "name"),
                    s(&v, "username")
                )
            });
        }
        AdminCommand::User(AdminUserCommand::ResetPassword {
            username,
            new_password,
        }) => {
            let path = format!("/api/v1/admin/users/{username}/password");
            let v: Value = api
                .post_json(&path, token, &json!({"new_password": new_password}))
                .await?;
            out.emit(&v, || {
                format!(
                    "reset the password of {username}: they must choose a new one when they \
                     next log in (`bothy password`); {} login(s) ended",
                    plain(&v["refresh_tokens_revoked"])
                )
            });
        }
        AdminCommand::User(AdminUserCommand::Remove { username, reason }) => {
            let path = format!("/api/v1/admin/users/{username}/remove");
            let v: Value = api
                .post_json(&path, token, &json!({"reason": reason}))
                .await?;
            out.emit(&v, || {
                format!(
                    "removed user {username}: no more logins; {} device(s) will be wiped at their \
                     next contact with the server",
                    s(&v, "wipes_ordered")
                )
            });
        }
        AdminCommand::Audit(f) => {
            let mut path = format!("/api/v1/admin/audit?limit={}", f.limit);
            for (key, value) in [("project", &f.project), ("action", &f.action)] {
                if let Some(v) = value {
                    path.push_str(&format!("&{key}={}", query_value(v)));
                }
            }
            let v: Value = api.get_json(&path, token).await?;
            out.emit(&v, || {
                rows(
                    &v,
                    |e| {
                        let who = match (e["username"].as_str(), e["device_id"].as_str()) {
                            (Some(u), Some(d)) => format!("{u} (device {d})"),
                            (Some(u), None) => u.to_owned(),
                            (None, Some(d)) => format!("device {d}"),
                            (None, None) => "server".to_owned(),
                        };
                        let mut line = format!(
                            "{:>6}  {}  {:<20} {:<16}",
                            s(e, "id"),
                            e["at"].as_i64().map_or("?".into(), output::time),
                            s(e, "action"),
                            who
                        );
                        if let Some(p) = e["project"].as_str() {
                            line.push_str(&format!(" project {p}"));
                        }
                        if let Some(t) = e["target"].as_str() {
                            line.push_str(&format!(" {t}"));
                        }
                        if e["details"].as_object().is_some_and(|d| !d.is_empty()) {
                            line.push_str(&format!(" {}", e["details"]));
                        }
                        line
                    },
                    "no audit entries",
                )
            });
        }
        AdminCommand::Devices | AdminCommand::Device(AdminDeviceCommand::List) => {
            let v: Value = api.get_json("/api/v1/admin/devices", token).await?;
            out.emit(&v, || {
                rows(
                    &v,
                    |d| {
                        let mut state = String::new();
                        if d["revoked"].as_bool() == Some(true) {
                            state.push_str("  REVOKED");
                        }
                        if d["user_active"].as_bool() == Some(false) {
                            state.push_str("  USER REMOVED");
                        }
                        state.push_str(&wipe_state(d));
                        let pending = match d.get("pending_records").and_then(Value::as_i64) {
                            Some(n) => format!("{n} unsynced"),
                            None => "unsynced ?".into(),
                        };
                        format!(
                            "{}  {:<24} {:<16} last sync {:<20} {:<12} {}{state}",
                            s(d, "device_id"),
                            s(d, "name"),
                            s(d, "username"),
                            d.get("last_sync_at")
                                .and_then(Value::as_i64)
                                .map_or("never".into(), output::time),
                            pending,
                            d.get("app")
                                .filter(|v| !v.is_null())
                                .map_or("-".into(), plain),
                        )
                    },
                    "no devices",
                )
            });
        }
    }
    Ok(())
}

/// A device's wipe, for the device list: when it was ordered, sent and confirmed, and under it
/// one line per record whose unsynced changes the wipe destroyed.
fn wipe_state(d: &Value) -> String {
    let at = |key: &str| d.get(key).and_then(Value::as_i64).map(output::time);
    let Some(ordered) = at("wipe_requested_at") else {
        return String::new();
    };
    let Some(confirmed) = at("wipe_confirmed_at") else {
        return match at("wipe_sent_at") {
            Some(sent) => format!("  WIPE ORDERED {ordered}, SENT {sent}, NOT YET CONFIRMED"),
            None => format!("  WIPE ORDERED {ordered}, NOT YET SENT (no contact since)"),
        };
    };
    let mut t = format!(
        "  WIPED: ordered {ordered}, sent {}, confirmed {confirmed}; lost {} records, {} \
         unsynced changes",
        at("wipe_sent_at").unwrap_or_else(|| "-".into()),
        s(d, "lost_records"),
        s(d, "lost_changes"),
    );
    for l in d["lost"].as_array().into_iter().flatten() {
        let _ = write!(
            t,
            "\n    lost {:<11} {}  project {}  {} unsynced changes, last edited {}",
            s(l, "kind"),
            s(l, "record_id"),
            s(l, "project"),
            s(l, "unsynced_changes"),
            l.get("last_edited_at")
                .and_then(Value::as_i64)
                .map_or("?".into(), output::time),
        );
    }
    t
}

/// The server this device is enrolled with, if the store exists and is enrolled.
pub(super) async fn enrolled_server(store: &Path) -> Option<String> {
    if !store.exists() {
        return None;
    }
    // The server's address is kept in clear: no PIN is needed for it.
    let device = Device::open(store).await.ok()?;
    let server = device.enrolled_server().await.ok()?;
    device.close().await;
    server
}

/// `bothy admin participant export | erase`.
async fn participant_command(
    api: &ServerApi,
    token: Option<&str>,
    command: AdminParticipantCommand,
    out: Output,
) -> Result<()> {
    match command {
        AdminParticipantCommand::Export {
            project,
            id,
            output,
        } => {
            let path = format!(
                "/api/v1/projects/{}/participants/{}/export",
                query_value(&project),
                query_value(id.trim())
            );
            let v: Value = api.get_json(&path, token).await?;
            match output {
                Some(file) => {
                    write_private(&file, &serde_json::to_string_pretty(&v)?)?;
                    out.emit(&json!({"written": file.display().to_string()}), || {
                        format!(
                            "wrote everything held about participant {} to {} (it holds \
                             direct identifiers: keep it safe)",
                            id.trim(),
                            file.display()
                        )
                    });
                }
                None => output::print_line(&serde_json::to_string_pretty(&v)?),
            }
        }
        AdminParticipantCommand::Erase {
            project,
            id,
            reason,
            yes,
        } => {
            if !yes
                && !confirm(&format!(
                    "Erase participant {} from project {project}? Their records and history leave \
                 the server and every device for good. Type `erase` to go on: ",
                    id.trim()
                ))?
            {
                anyhow::bail!("not erased");
            }
            let path = format!(
                "/api/v1/projects/{}/participants/{}/erase",
                query_value(&project),
                query_value(id.trim())
            );
            let mut body = json!({});
            if let Some(r) = reason {
                body["reason"] = json!(r);
            }
            let v: Value = api.post_json(&path, token, &body).await?;
            out.emit(&v, || {
                if v["already_erased"] == true {
                    format!("participant {} was already erased", id.trim())
                } else {
                    let c = &v["counts"];
                    format!(
                        "erased participant {}: {} wellbeing response(s), {} story(ies), \
                         attendance taken off {} session(s); devices purge them at their next sync",
                        id.trim(),
                        plain(&c["wellbeing_responses"]),
                        plain(&c["stories"]),
                        plain(&c["sessions_updated"])
                    )
                }
            });
        }
    }
    Ok(())
}

/// Asks on the terminal; true only for the word `erase`.
fn confirm(question: &str) -> Result<bool> {
    use std::io::{BufRead, IsTerminal};
    if !std::io::stdin().is_terminal() {
        anyhow::bail!("erasure cannot be undone: confirm with --yes when not at a terminal");
    }
    eprint!("{question}");
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(answer.trim() == "erase")
}

/// Writes a file readable by its owner only.
fn write_private(path: &Path, text: &str) -> Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .map_err(|e| anyhow!("cannot write {}: {e}", path.display()))?;
    file.write_all(text.as_bytes())?;
    file.write_all(b"\n")?;
    Ok(())
}

fn plain(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn s(v: &Value, key: &str) -> String {
    v.get(key).map(plain).unwrap_or_default()
}

fn rows(v: &Value, row: impl Fn(&Value) -> String, none: &str) -> String {
    match v.as_array() {
        Some(items) if !items.is_empty() => items.iter().map(row).collect::<Vec<_>>().join("\n"),
        _ => none.to_owned(),
    }
}

/// A query string value, percent-encoded.
pub(super) fn query_value(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `bothy admin site ...` and `bothy admin activity ...`.
async fn setup_command(
    api: &ServerApi,
    token: Option<&str>,
    what: &str,
    command: AdminSetupCommand,
    out: Output,
) -> Result<()> {
    match command {
        AdminSetupCommand::Add {
            project,
            slug,
            name,
            activity_type,
            site,
        } => {
            let mut body = json!({"slug": slug, "name": name});
            if what == "activities" {
                let t = activity_type
                    .ok_or_else(|| anyhow!("--activity-type: an activity needs its type"))?;
                body["activity_type"] = json!(t);
                body["site"] = json!(site);
            } else if activity_type.is_some() || site.is_some() {
                return Err(anyhow!(
                    "--activity-type and --site are for activities, not sites"
                ));
            }
            let path = format!("/api/v1/admin/projects/{}/{what}", query_value(&project));
            let v: Value = api.post_json(&path, token, &body).await?;
            out.emit(&v, || format!("added {slug} ({name}) to {project}"));
        }
        AdminSetupCommand::List { project } => {
            let path = format!("/api/v1/admin/projects/{}/{what}", query_value(&project));
            let v: Value = api.get_json(&path, token).await?;
            out.emit(&v, || {
                rows(
                    &v,
                    |x| {
                        format!(
                            "{:<24} {:<32} {}{}",
                            s(x, "slug"),
                            s(x, "name"),
                            x["activity_type"].as_str().unwrap_or(""),
                            if x["archived"] == json!(true) {
                                " (archived)"
                            } else {
                                ""
                            }
                        )
                    },
                    &format!("no {what} in {project}"),
                )
            });
        }
        AdminSetupCommand::Archive { project, slug } => {
            let path = format!(
                "/api/v1/admin/projects/{}/{what}/{}",
                query_value(&project),
                query_value(&slug)
            );
            let v: Value = api
                .patch_json(&path, token, &json!({"archived": true}))
                .await?;
            out.emit(&v, || format!("archived {slug} in {project}"));
        }
    }
    Ok(())
}
