//! `bothy status` and `bothy sync`: where the device stands, and exchanging changes with the
//! server. A sync that cannot reach the server fails with one line (exit code 3) and changes
//! nothing on the device. A sync told that the device was withdrawn lists what its wipe lost
//! and fails with one line saying so (exit code 4).

use crate::args::StatusArgs;
use crate::output::{self, Output};
use anyhow::Result;
use bothy_device::{Device, DeviceError, Wiped};
use bothy_sync_core::protocol::ReportKind;
use std::fmt::Write;

pub async fn status(device: &Device, a: StatusArgs, out: Output) -> Result<()> {
    if a.refresh {
        device.refresh_memberships().await?;
    }
    let s = device.status().await?;
    out.emit(&s, || {
        let mut t = String::new();
        let mut line = |k: &str, v: String| {
            let _ = writeln!(t, "{k:<11} {v}");
        };
        line("store", s.store.clone());
        match (&s.server, &s.device_id) {
            (Some(server), Some(device_id)) => {
                line("server", server.clone());
                line("device", device_id.clone());
                line("user", s.username.clone().unwrap_or_else(|| "-".into()));
            }
            _ => line(
                "server",
                "not enrolled: bothy enrol --server URL --code CODE".into(),
            ),
        }
        if !s.memberships.is_empty() {
            let list: Vec<String> = s
                .memberships
                .iter()
                .map(|m| format!("{} ({})", m.project, m.role))
                .collect();
            line("projects", list.join(", "));
        }
        if let Some(p) = &s.default_project {
            line("default", format!("capture goes to {p}"));
        }
        line(
            "records",
            format!(
                "{} on this device, {} not yet synced",
                s.records, s.unsynced_records
            ),
        );
        line(
            "last sync",
            s.last_sync_at.map_or("never".into(), output::time),
        );
        line("cursor", s.cursor.seq.to_string());
        if let Some(offset) = s.clock_offset_secs.filter(|o| o.abs() >= 60) {
            let (n, dir) = if offset > 0 {
                (offset, "behind")
            } else {
                (-offset, "ahead of")
            };
            line(
                "clock",
                format!("this device's clock is {} {dir} the server's", duration(n)),
            );
        }
        if !s.recent_reports.is_empty() {
            let _ = writeln!(t, "recent reports from the server:");
            for r in &s.recent_reports {
                let field = r
                    .field
                    .as_deref()
                    .map(|f| format!(" {f}"))
                    .unwrap_or_default();
                let _ = writeln!(
                    t,
                    "  {} {} {}{field}: {}",
                    output::time(r.at),
                    r.kind,
                    r.record_id,
                    r.message
                );
            }
        }
        if s.set_aside_count > 0 {
            let _ = writeln!(
                t,
                "set aside: {} local copies of records the server refused (kept on this device):",
                s.set_aside_count
            );
            for c in &s.set_aside {
                let _ = writeln!(
                    t,
                    "  {} {} {}: {}",
                    output::time(c.at),
                    c.kind.as_deref().unwrap_or("record"),
                    c.record_id,
                    c.reason
                );
            }
        }
        t
    });
    Ok(())
}

pub async fn sync(device: &Device, out: Output) -> Result<()> {
    let summary = match device.sync().await {
        Ok(summary) => summary,
        Err(DeviceError::Wiped(wiped)) => {
            print_wiped(&wiped, out);
            return Err(DeviceError::Wiped(wiped).into());
        }
        Err(e) => return Err(e.into()),
    };
    let left = device.status().await?.unsynced_records;
    out.emit(&summary, || {
        let mut t = String::new();
        if summary.reconciled {
            t.push_str(
                "the server was restored from a backup: this device sent it everything it holds \
                 again\n",
            );
        }
        let _ = write!(
            t,
            "synced: pushed {} records ({} acknowledged), received {}, {} reports",
            summary.pushed,
            summary.acked,
            summary.received,
            summary.reports.len()
        );
        if summary.set_aside > 0 {
            let _ = write!(t, ", {} set aside", summary.set_aside);
        }
        if summary.erased > 0 {
            let _ = write!(t, ", {} erased", summary.erased);
        }
        if left > 0 {
            let _ = write!(t, "; {left} records still to sync");
        }
        t.push('\n');
        if summary.withdrawn > 0 {
            let _ = writeln!(
                t,
                "{} records no longer shared with this device were removed from it{}",
                summary.withdrawn,
                match summary.withdrawn_unsynced {
                    0 => String::new(),
                    n => format!(" ({n} had changes the server never received: they are lost)"),
                }
            );
        }
        if summary.replaced > 0 {
            let _ = writeln!(
                t,
                "{} participant records were replaced by the server's new copies (their contact \
                 details are now kept apart)",
                summary.replaced
            );
        }
        for r in &summary.reports {
            let kind = match r.kind {
                ReportKind::Quarantined => "quarantined",
                ReportKind::Refused => "refused (local copy set aside)",
                ReportKind::Resend => "resent",
                ReportKind::Flagged => "flagged for review",
                ReportKind::Erased => "erased",
                ReportKind::Released => "released by a reviewer",
                ReportKind::Discarded => "discarded by a reviewer",
            };
            let field = r
                .field
                .as_deref()
                .map(|f| format!(" {f}"))
                .unwrap_or_default();
            let _ = writeln!(t, "  {kind} {}{field}: {}", r.id, r.message);
        }
        t
    });
    Ok(())
}

/// What a wipe lost, on standard output (the error line on standard error says what happened):
/// ids, kinds, projects, counts and times only.
fn print_wiped(wiped: &Wiped, out: Output) {
    out.emit(wiped, || {
        let mut t = String::from(
            "this device was withdrawn by an admin and has been wiped; records whose changes had \
             not reached the server:",
        );
        if wiped.lost.is_empty() {
            t.push_str(" none");
        }
        for l in &wiped.lost {
            let _ = write!(
                t,
                "\n  lost {:<11} {}  project {}  {} unsynced changes, last edited {}",
                l.kind,
                l.record_id,
                l.project,
                l.unsynced_changes,
                l.last_edited_at.map_or("?".into(), output::time)
            );
        }
        t
    });
}

fn duration(secs: i64) -> String {
    match secs {
        s if s < 3600 => format!("{} minutes", s / 60),
        s if s < 2 * 86_400 => format!("{} hours", s / 3600),
        s => format!("{} days", s / 86_400),
    }
}
