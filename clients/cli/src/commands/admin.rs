//! `bothy admin`: projects, users, members, enrolment codes and devices, through the server's
//! admin API with a user access token from logging in. The token lives only for this command;
//! nothing is stored.

use crate::args::{
    AdminArgs, AdminCommand, AdminMemberCommand, AdminProjectCommand, AdminUserCommand,
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
        AdminCommand::Enrol(e) => {
            let mut body = json!({"username": e.username});
            if let Some(h) = e.expires_in_hours {
                body["expires_in_hours"] = json!(h);
            }
            let v: Value = api
                .post_json("/api/v1/admin/enrolments", token, &body)
                .await?;
            let code = s(&v, "code");
            if !out.json {
                eprintln!(
                    "single-use enrolment code for {}, valid until {}; on the device run:\n  \
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
            out.emit(&v, || code.clone());
        }
        AdminCommand::Devices => {
            let v: Value = api.get_json("/api/v1/admin/devices", token).await?;
            out.emit(&v, || {
                rows(
                    &v,
                    |d| {
                        let revoked = if d["revoked"].as_bool() == Some(true) {
                            "  REVOKED"
                        } else {
                            ""
                        };
                        format!(
                            "{}  {:<24} {:<16} last sync {}{revoked}",
                            s(d, "device_id"),
                            s(d, "name"),
                            s(d, "username"),
                            d.get("last_sync_at")
                                .filter(|v| !v.is_null())
                                .map_or("never".into(), plain),
                        )
                    },
                    "no devices",
                )
            });
        }
    }
    Ok(())
}

/// The server this device is enrolled with, if the store exists and is enrolled.
async fn enrolled_server(store: &Path) -> Option<String> {
    if !store.exists() {
        return None;
    }
    let device = Device::open(store).await.ok()?;
    let server = device.status().await.ok()?.server;
    device.close().await;
    server
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
