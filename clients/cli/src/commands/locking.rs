//! `bothy unlock`, `bothy lock`, `bothy pin change`: the PIN that encrypts the store, and how
//! long the store stays unlocked.

use crate::output::Output;
use crate::unlock::{self, Unlocked};
use anyhow::Result;
use serde_json::json;
use std::path::Path;
use std::time::Duration;

/// Minutes or hours, for people.
fn span(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        s if s % 3600 == 0 => format!("{} h", s / 3600),
        s if s % 60 == 0 => format!("{} min", s / 60),
        s => format!("{s} s"),
    }
}

/// `bothy unlock`.
pub async fn unlock(store: &Path, lock_after: Option<Duration>, out: Output) -> Result<()> {
    let (device, how, kept) = unlock::open_unlocked_as(store, lock_after).await?;
    device.close().await;
    let how_text = match how {
        Unlocked::Session => "this store was already unlocked",
        Unlocked::Pin => "unlocked this store",
        Unlocked::NewPin => "this store now has a PIN and is encrypted; unlocked it",
    };
    out.emit(
        &json!({
            "unlocked": true,
            "kept_for_idle_secs": kept.map(|d| d.as_secs()),
        }),
        || match kept {
            Some(d) => format!(
                "{how_text}: it stays unlocked for your user until it has not been used for {} \
                 (`bothy lock` locks it now)",
                span(d)
            ),
            None if unlock::sessions_kept() => format!(
                "{how_text} for this command only (--lock-after 0): the next command asks for \
                 the PIN or uses $BOTHY_PIN"
            ),
            None => format!(
                "{how_text} for this command only: there is no runtime directory \
                 ($XDG_RUNTIME_DIR) to keep it unlocked in, so every command asks for the PIN \
                 or uses $BOTHY_PIN"
            ),
        },
    );
    Ok(())
}

/// `bothy lock`.
pub async fn lock(store: &Path, out: Output) -> Result<()> {
    let key_id = if store.exists() {
        let device = super::open(store).await?;
        let id = device.key_id().await?;
        device.close().await;
        id
    } else {
        None
    };
    let ended = key_id.as_deref().and_then(unlock::end_session);
    out.emit(
        &json!({ "locked": true, "was_unlocked": ended.unwrap_or(false) }),
        || match (key_id, ended) {
            (None, _) => {
                "this store has no PIN yet: the next command that uses it asks for one".to_owned()
            }
            (Some(_), Some(true)) => "locked: the next command asks for the PIN".to_owned(),
            (Some(_), _) => {
                "this store was not unlocked: the next command asks for the PIN".to_owned()
            }
        },
    );
    Ok(())
}

/// `bothy pin change`.
pub async fn change(store: &Path, out: Output) -> Result<()> {
    let device = super::open(store).await?;
    let result = async {
        if !device.has_pin() {
            anyhow::bail!(
                "this store has no PIN yet: any command that uses it asks for one (or takes \
                 $BOTHY_PIN)"
            );
        }
        let current = unlock::current_pin()?;
        let new = unlock::changed_pin()?;
        device.change_pin(&current, &new).await?;
        Ok(())
    }
    .await;
    device.close().await;
    result?;
    // The data key is the same: a session kept for the store stays valid.
    out.emit(&json!({ "changed": true }), || {
        "changed the PIN of this store (the records were not rewritten: the store's key is \
         wrapped with the new PIN)"
            .to_owned()
    });
    Ok(())
}
