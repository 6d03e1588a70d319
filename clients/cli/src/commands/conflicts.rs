//! `bothy conflicts`: the true conflicts on this device (fields two devices set differently
//! while apart), and resolving one by choosing a value or entering a new one. A resolution is an
//! ordinary edit: it replaces every conflicting value and reaches the others on the next sync.

use crate::args::{ConflictsArgs, ConflictsCommand, ResolveArgs};
use crate::output::{self, Output};
use anyhow::{Result, bail};
use bothy_device::Device;
use serde_json::json;
use std::fmt::Write;

pub async fn run(device: &Device, a: ConflictsArgs, out: Output) -> Result<()> {
    match a.command {
        None => list(device, out).await,
        Some(ConflictsCommand::Resolve(r)) => resolve(device, r, out).await,
    }
}

async fn list(device: &Device, out: Output) -> Result<()> {
    let records = device.conflicts().await?;
    let ours = device.actor().await?.map(|a| a.to_hex_string());
    out.emit(&records, || {
        if records.is_empty() {
            return "no conflicts on this device".to_owned();
        }
        let mut t = String::new();
        for r in &records {
            let _ = writeln!(t, "{} {}  {}", r.kind, r.id, r.label);
            for c in &r.conflicts {
                let _ = writeln!(t, "  {}:", c.field);
                for (n, v) in c.values.iter().enumerate() {
                    let who = if Some(v.actor.as_str()) == ours.as_deref() {
                        "this device".to_owned()
                    } else if bothy_sync_core::is_server_actor_hex(&v.actor) {
                        "the server".to_owned()
                    } else {
                        format!("device {}", &v.actor[..v.actor.len().min(8)])
                    };
                    let shown = if v.winner { ", shown now" } else { "" };
                    let _ = writeln!(
                        t,
                        "    {}. {:?} ({who}, {}{shown})",
                        n + 1,
                        v.value,
                        output::time(v.time)
                    );
                }
            }
        }
        let _ = writeln!(
            t,
            "resolve with: bothy conflicts resolve RECORD FIELD (--choose N | --value VALUE)"
        );
        t
    });
    Ok(())
}

async fn resolve(device: &Device, a: ResolveArgs, out: Output) -> Result<()> {
    let id = device.find(None, &a.record).await?;
    let value = match (a.choose, a.value) {
        (_, Some(v)) => v,
        (Some(n), None) => {
            let details = device.get(id).await?;
            let Some(c) = details.conflicts.iter().find(|c| c.field == a.field) else {
                bail!(
                    "{} has no conflict on record {id} on this device (it may have been \
                     resolved already: sync, then look again)",
                    a.field
                );
            };
            match n.checked_sub(1).and_then(|i| c.values.get(i)) {
                Some(v) => v.value.clone(),
                None => bail!(
                    "--choose takes 1 to {} for {} (see bothy conflicts)",
                    c.values.len(),
                    a.field
                ),
            }
        }
        (None, None) => bail!("give --choose N or --value VALUE"),
    };
    device.resolve_conflict(id, &a.field, &value).await?;
    let result = json!({"record_id": id, "field": a.field, "value": value});
    out.emit(&result, || {
        format!(
            "resolved {} on {id}: kept {value:?} (sync to send it to the server)",
            a.field
        )
    });
    Ok(())
}
