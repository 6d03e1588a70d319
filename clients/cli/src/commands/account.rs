//! `bothy password` and `bothy logout`: the user's own account on the server. Like the admin
//! commands, these log in for the one command and keep nothing.

use crate::args::{LogoutArgs, PasswordArgs};
use crate::commands::APP;
use crate::interact;
use crate::output::Output;
use anyhow::{Result, anyhow, bail};
use bothy_device::{DeviceError, ServerApi};
use serde_json::{Value, json};
use std::io::IsTerminal;
use std::path::Path;

/// The server given, or the one this device is enrolled with.
async fn server_of(given: Option<String>, store: &Path) -> Result<String> {
    match given {
        Some(s) => Ok(s),
        None => super::admin::enrolled_server(store)
            .await
            .ok_or_else(|| anyhow!("give the server with --server URL or $BOTHY_SERVER")),
    }
}

/// The new password given, or asked for twice at a terminal (once from a script's input).
fn new_password(given: Option<String>) -> Result<String> {
    if let Some(p) = given {
        return Ok(p);
    }
    let missing = "no new password given: use --new-password, or type it when asked";
    let first = interact::secret("new password", missing)?;
    if std::io::stdin().is_terminal() {
        let again = interact::secret("new password again", missing)?;
        if again != first {
            bail!("the two new passwords differ: the password was not changed");
        }
    }
    Ok(first)
}

/// `bothy password`: logs in with the current password and changes it. After an admin's
/// reset, the temporary password is the current one, and the change happens at that login.
pub async fn password(a: PasswordArgs, store: &Path, out: Output) -> Result<()> {
    let server = server_of(a.server, store).await?;
    let api = ServerApi::new(&server, APP)?;
    let current = interact::password(a.password, &a.user)?;
    let new = new_password(a.new_password)?;
    let login = api
        .post_json::<Value>(
            "/api/v1/auth/login",
            None,
            &json!({"username": a.user, "password": current}),
        )
        .await;
    let answer = match login {
        Ok(tokens) => {
            let access = tokens["access_token"]
                .as_str()
                .ok_or_else(|| anyhow!("the server's login answer has no access token"))?;
            // The change ends every login of the user, this one included.
            api.post_json::<Value>(
                "/api/v1/auth/password",
                Some(access),
                &json!({"current_password": current, "new_password": new}),
            )
            .await?
        }
        Err(DeviceError::Rejected { code, .. }) if code == "password_change_required" => {
            let tokens: Value = api
                .post_json(
                    "/api/v1/auth/login",
                    None,
                    &json!({"username": a.user, "password": current, "new_password": new}),
                )
                .await?;
            // Nothing is kept: end the login that carried the change.
            if let Some(refresh) = tokens["refresh_token"].as_str() {
                api.post_json::<Value>(
                    "/api/v1/auth/logout",
                    None,
                    &json!({"refresh_token": refresh}),
                )
                .await?;
            }
            json!({"changed": true})
        }
        Err(e) => return Err(e.into()),
    };
    out.emit(&answer, || {
        format!(
            "changed the password of {} on {}: log in again with it wherever you were logged \
             in (this device's own credential is unaffected)",
            a.user,
            api.server()
        )
    });
    Ok(())
}

/// `bothy logout`: revokes a login's refresh token, when one is given; this tool keeps none.
pub async fn logout(a: LogoutArgs, store: &Path, out: Output) -> Result<()> {
    let Some(token) = a.refresh_token else {
        out.emit(
            &json!({"logged_out": false, "reason": "no login is kept"}),
            || {
                "nothing to log out: this tool keeps no login (admin commands log in for one \
                 command only). This device's own credential is not a login: an admin revokes \
                 it with `bothy admin device revoke`"
                    .to_owned()
            },
        );
        return Ok(());
    };
    let server = server_of(a.server, store).await?;
    let api = ServerApi::new(&server, APP)?;
    let answer: Value = api
        .post_json(
            "/api/v1/auth/logout",
            None,
            &json!({"refresh_token": token}),
        )
        .await?;
    out.emit(&answer, || {
        format!(
            "logged out on {}: that login's refresh tokens no longer work",
            api.server()
        )
    });
    Ok(())
}
