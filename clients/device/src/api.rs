//! The HTTP calls a device (and the admin commands of a terminal client) make to the server.
//!
//! One place turns transport failures and error answers into [`DeviceError`]s, so every
//! caller reports an unreachable or refusing server the same way: connection problems become
//! [`DeviceError::Unreachable`], 4xx answers [`DeviceError::Rejected`] with the server's own
//! code and message (`{"error":{"code","message"}}`), 5xx answers [`DeviceError::ServerFault`].
//! Credentials are passed in per call and never logged.

use crate::error::{DeviceError, Result};
use bothy_sync_core::roles::Role;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};
use std::fmt;
use std::time::Duration;

/// How long to wait for a connection to open.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a whole request may take (a large sync over a slow link included).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);

/// A user account as the server describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// The server's id for the user.
    #[serde(deserialize_with = "string_or_number")]
    pub id: String,
    /// The login name.
    pub username: String,
    /// Whether the user administers the whole server.
    #[serde(default)]
    pub is_admin: bool,
}

/// A user's role in one project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Membership {
    /// The project's slug.
    pub project: String,
    /// The role, as the server names it ([`Role::as_str`]); kept as text so that a role this
    /// device does not know is read, and may do nothing here.
    pub role: String,
}

impl Membership {
    /// The role, if this device knows it.
    pub fn role(&self) -> Option<Role> {
        Role::parse(&self.role).ok()
    }

    /// Whether this role may record data in the project (analysts only read); which kinds each
    /// may record is in [`bothy_sync_core::roles`].
    pub fn can_write(&self) -> bool {
        self.role().is_some_and(Role::writes)
    }
}

/// The server's answer to enrolment or registration: the identity this device will use.
#[derive(Clone, Serialize, Deserialize)]
pub struct Enrolment {
    /// The device's id on the server.
    pub device_id: String,
    /// The device's own long-lived credential (`bd1_...`). Secret.
    pub device_token: String,
    /// The Automerge actor (hex) this device must author its changes under.
    pub actor: String,
    /// The user the device belongs to.
    pub user: User,
    /// The user's projects and roles.
    #[serde(default)]
    pub memberships: Vec<Membership>,
    /// The server's clock at enrolment (Unix seconds).
    #[serde(default)]
    pub server_time: i64,
}

impl fmt::Debug for Enrolment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Enrolment")
            .field("device_id", &self.device_id)
            .field("device_token", &"(secret)")
            .field("actor", &self.actor)
            .field("user", &self.user)
            .field("memberships", &self.memberships)
            .field("server_time", &self.server_time)
            .finish()
    }
}

/// The server's answer to a login.
#[derive(Clone, Deserialize)]
pub struct Login {
    /// A short-lived user access token (JWT). Secret.
    pub access_token: String,
    /// The user.
    pub user: User,
    /// The user's projects and roles.
    #[serde(default)]
    pub memberships: Vec<Membership>,
}

impl fmt::Debug for Login {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Login")
            .field("access_token", &"(secret)")
            .field("user", &self.user)
            .field("memberships", &self.memberships)
            .finish()
    }
}

/// The answer of `GET /api/v1/me`.
#[derive(Debug, Clone, Deserialize)]
pub struct Me {
    /// The user.
    pub user: User,
    /// The user's projects and roles.
    #[serde(default)]
    pub memberships: Vec<Membership>,
}

#[derive(Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Deserialize)]
struct ErrorDetail {
    code: String,
    message: String,
}

/// A client for one Bothy server.
#[derive(Debug, Clone)]
pub struct ServerApi {
    base: String,
    http: reqwest::Client,
    app: String,
}

/// How long an unused connection is kept for the next request (below the server's default
/// 15 s header timeout).
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(10);

impl ServerApi {
    /// A client for the server at `server` (`http://` or `https://`, no path needed).
    /// `app` names the calling app and its version for the server's operators.
    pub fn new(server: &str, app: &str) -> Result<Self> {
        let base = normalise_server_url(server)?;
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            // The server closes a kept-alive connection that sends no request for 15 s (its
            // header timeout): dropping it sooner, the client never sends a request on a
            // connection the server is closing at that moment.
            .pool_idle_timeout(POOL_IDLE_TIMEOUT)
            .build()
            .map_err(|e| DeviceError::Usage(format!("cannot set up HTTP: {e}")))?;
        Ok(ServerApi {
            base,
            http,
            app: app.to_owned(),
        })
    }

    /// The server's base URL, without a trailing slash.
    pub fn server(&self) -> &str {
        &self.base
    }

    /// Logs a user in.
    pub async fn login(&self, username: &str, password: &str) -> Result<Login> {
        let body = serde_json::json!({ "username": username, "password": password });
        self.post_json("/api/v1/auth/login", None, &body).await
    }

    /// Enrols this device with a single-use enrolment code. `enrolment_id` is made by the
    /// device and kept until the answer arrives: sending the same code and id again (after a
    /// lost answer) gets the same device back.
    pub async fn enrol(&self, code: &str, name: &str, enrolment_id: &str) -> Result<Enrolment> {
        let body = serde_json::json!({
            "code": code, "name": name, "app": self.app, "enrolment_id": enrolment_id,
        });
        self.post_json("/api/v1/devices/enrol", None, &body).await
    }

    /// Registers this device for the user whose access token is given.
    pub async fn register(&self, access_token: &str, name: &str) -> Result<Enrolment> {
        let body = serde_json::json!({ "name": name, "app": self.app });
        self.post_json("/api/v1/devices/register", Some(access_token), &body)
            .await
    }

    /// Who a credential (device token or user access token) belongs to.
    pub async fn me(&self, token: &str) -> Result<Me> {
        self.get_json("/api/v1/me", Some(token)).await
    }

    /// Sends an encoded sync request with the device token; returns the encoded response.
    pub async fn sync(&self, device_token: &str, body: Vec<u8>) -> Result<Vec<u8>> {
        let req = self
            .http
            .post(self.url("/api/v1/sync"))
            .bearer_auth(device_token)
            .header(
                reqwest::header::CONTENT_TYPE,
                bothy_sync_core::protocol::MEDIA_TYPE,
            )
            .body(body);
        let resp = self.send(req).await?;
        let bytes = resp.bytes().await.map_err(|e| self.unreachable(&e))?;
        Ok(bytes.to_vec())
    }

    /// `GET` a JSON resource, with a bearer credential if given.
    pub async fn get_json<T: DeserializeOwned>(
        &self,
        path: &str,
        token: Option<&str>,
    ) -> Result<T> {
        let mut req = self.http.get(self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        self.json_answer(req).await
    }

    /// `POST` a JSON body, with a bearer credential if given.
    pub async fn post_json<T: DeserializeOwned>(
        &self,
        path: &str,
        token: Option<&str>,
        body: &serde_json::Value,
    ) -> Result<T> {
        let mut req = self.http.post(self.url(path)).json(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        self.json_answer(req).await
    }

    /// `PUT` a JSON body, with a bearer credential if given.
    pub async fn put_json<T: DeserializeOwned>(
        &self,
        path: &str,
        token: Option<&str>,
        body: &serde_json::Value,
    ) -> Result<T> {
        let mut req = self.http.put(self.url(path)).json(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        self.json_answer(req).await
    }

    /// `PATCH` a JSON body, with a bearer credential if given.
    pub async fn patch_json<T: DeserializeOwned>(
        &self,
        path: &str,
        token: Option<&str>,
        body: &serde_json::Value,
    ) -> Result<T> {
        let mut req = self.http.patch(self.url(path)).json(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        self.json_answer(req).await
    }

    /// `GET` a resource of any type and copy its body into `sink` chunk by chunk (memory
    /// stays flat however large the answer); returns the bytes written.
    pub async fn get_to(
        &self,
        path: &str,
        token: Option<&str>,
        sink: &mut (dyn std::io::Write + Send),
    ) -> Result<u64> {
        let mut req = self
            .http
            .get(self.url(path))
            .header(reqwest::header::USER_AGENT, &self.app);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let mut resp = self.send(req).await?;
        let mut written = 0u64;
        while let Some(chunk) = resp.chunk().await.map_err(|e| self.unreachable(&e))? {
            sink.write_all(&chunk).map_err(|e| {
                DeviceError::Protocol(format!("cannot write the answer from {}: {e}", self.base))
            })?;
            written += chunk.len() as u64;
        }
        sink.flush().map_err(|e| {
            DeviceError::Protocol(format!("cannot write the answer from {}: {e}", self.base))
        })?;
        Ok(written)
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn json_answer<T: DeserializeOwned>(&self, req: reqwest::RequestBuilder) -> Result<T> {
        // Sync requests carry the app in their body instead: every byte counts on 2G.
        let req = req.header(reqwest::header::USER_AGENT, &self.app);
        let resp = self.send(req).await?;
        let bytes = resp.bytes().await.map_err(|e| self.unreachable(&e))?;
        serde_json::from_slice(&bytes).map_err(|e| {
            DeviceError::Protocol(format!("unexpected answer from {}: {e}", self.base))
        })
    }

    /// Sends a request and turns anything but a 2xx answer into an error.
    async fn send(&self, req: reqwest::RequestBuilder) -> Result<reqwest::Response> {
        let resp = req.send().await.map_err(|e| self.unreachable(&e))?;
        let status = resp.status();
        if status.is_success() {
            return Ok(resp);
        }
        // Seconds only: the server never sends an HTTP date.
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        let bytes = resp.bytes().await.unwrap_or_default();
        let parsed = serde_json::from_slice::<ErrorBody>(&bytes).ok();
        let reason = status.canonical_reason().unwrap_or("error").to_lowercase();
        let (code, message) = match parsed {
            Some(b) => (b.error.code, b.error.message),
            None => (format!("http_{}", status.as_u16()), reason),
        };
        if status.is_client_error() {
            Err(DeviceError::Rejected {
                status: status.as_u16(),
                code,
                message,
            })
        } else if status.is_server_error() {
            Err(DeviceError::ServerFault {
                server: self.base.clone(),
                status: status.as_u16(),
                message,
                retry_after,
            })
        } else {
            Err(DeviceError::Protocol(format!(
                "unexpected HTTP status {status} from {}",
                self.base
            )))
        }
    }

    fn unreachable(&self, e: &reqwest::Error) -> DeviceError {
        let detail = if e.is_timeout() {
            "no answer in time".to_owned()
        } else {
            innermost(e)
        };
        DeviceError::Unreachable {
            server: self.base.clone(),
            detail,
        }
    }
}

/// The innermost cause of an error, which names the real problem ("Connection refused").
fn innermost(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

/// Checks a server URL and removes any trailing slash.
pub fn normalise_server_url(server: &str) -> Result<String> {
    let s = server.trim().trim_end_matches('/');
    let lower = s.to_ascii_lowercase();
    if !lower.starts_with("http://") && !lower.starts_with("https://") {
        return Err(DeviceError::Usage(format!(
            "server URL {server:?} must start with http:// or https:// (e.g. https://bothy.example.org)"
        )));
    }
    let parsed = reqwest::Url::parse(s).map_err(|e| {
        DeviceError::Usage(format!(
            "server URL {server:?} is not a URL ({e}); give it like https://bothy.example.org"
        ))
    })?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(DeviceError::Usage(format!(
            "server URL {server:?} must start with http:// or https:// and name a host"
        )));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(DeviceError::Usage(format!(
            "server URL {server:?} must not have a query or fragment"
        )));
    }
    Ok(s.to_owned())
}

fn string_or_number<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Id {
        S(String),
        N(i64),
    }
    Ok(match Id::deserialize(d)? {
        Id::S(s) => s,
        Id::N(n) => n.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_urls_are_checked() {
        assert_eq!(
            normalise_server_url("https://bothy.example.org/").unwrap(),
            "https://bothy.example.org"
        );
        assert!(normalise_server_url("bothy.example.org").is_err());
        assert!(normalise_server_url("ftp://bothy.example.org").is_err());
        assert!(normalise_server_url("https://x.org/?a=b").is_err());
    }

    #[test]
    fn user_ids_may_be_numbers() {
        let u: User = serde_json::from_str(r#"{"id":7,"username":"ana"}"#).unwrap();
        assert_eq!(u.id, "7");
        assert!(!u.is_admin);
    }
}
