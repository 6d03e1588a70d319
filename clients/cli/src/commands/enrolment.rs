//! `bothy enrol`, `bothy login`, `bothy use`: giving this device its identity and choosing
//! where capture goes.

use crate::args::{EnrolArgs, LoginArgs, UseArgs};
use crate::interact;
use crate::output::Output;
use anyhow::Result;
use bothy_device::{Device, Enrolled};

pub async fn enrol(device: &Device, a: EnrolArgs, out: Output) -> Result<()> {
    let name = a.name.unwrap_or_else(interact::default_device_name);
    let (server, code) = match (a.qr_payload, a.server, a.code) {
        (Some(payload), _, _) => crate::qr::parse_payload(&payload)?,
        (None, Some(server), Some(code)) => (server, code),
        _ => anyhow::bail!("give --server and --code, or --qr-payload"),
    };
    let enrolled = device.enrol(&server, &code, &name).await?;
    print_enrolled(&enrolled, out);
    Ok(())
}

pub async fn login(device: &Device, a: LoginArgs, out: Output) -> Result<()> {
    let password = interact::password(a.password, &a.user)?;
    let name = a.name.unwrap_or_else(interact::default_device_name);
    let enrolled = device.login(&a.server, &a.user, &password, &name).await?;
    print_enrolled(&enrolled, out);
    Ok(())
}

pub async fn use_project(device: &Device, a: UseArgs, out: Output) -> Result<()> {
    device.set_default_project(&a.project).await?;
    out.emit(&serde_json::json!({ "default_project": a.project }), || {
        format!("capture now goes to project {} by default", a.project)
    });
    Ok(())
}

fn print_enrolled(e: &Enrolled, out: Output) {
    out.emit(e, || {
        let mut text = format!(
            "this device is enrolled with {} as {} (device {})\n",
            e.server, e.username, e.device_id
        );
        match &e.default_project {
            Some(p) => text.push_str(&format!("capture goes to project {p} by default\n")),
            None if e.memberships.is_empty() => {
                text.push_str("you are not a member of any project yet: ask a project admin\n")
            }
            None => text.push_str("choose a project with `bothy use PROJECT` or --project\n"),
        }
        text
    });
}
