//! The commands, one module per area. Each takes its parsed arguments, calls the device
//! library (or the admin API), and prints through [`Output`].

mod account;
mod admin;
mod analysis;
mod capture;
mod conflicts;
mod enrolment;
mod followups;
mod instruments;
mod locking;
mod records;
mod syncing;

use crate::args::{Cli, Command, PinCommand};
use crate::interact;
use crate::output::Output;
use anyhow::{Context, Result};
use bothy_device::Device;
use std::path::Path;

/// How this app names itself to the server.
pub const APP: &str = concat!("bothy-cli/", env!("CARGO_PKG_VERSION"));

/// Runs one command.
pub async fn run(cli: Cli) -> Result<()> {
    let out = Output { json: cli.json };
    let store = cli.store.unwrap_or_else(interact::default_store);
    match cli.command {
        Command::Admin(args) => admin::run(args, &store, out).await,
        Command::Password(args) => account::password(args, &store, out).await,
        Command::Logout(args) => account::logout(args, &store, out).await,
        Command::Export(args) => analysis::export(args, &store).await,
        Command::Report(args) => analysis::report(args, &store).await,
        Command::Unlock => locking::unlock(&store, cli.lock_after, out).await,
        Command::Lock => locking::lock(&store, out).await,
        Command::Pin(PinCommand::Change) => locking::change(&store, out).await,
        command => {
            let device = crate::unlock::open_unlocked(&store, cli.lock_after).await?;
            let result = dispatch(command, &device, out).await;
            device.close().await;
            result
        }
    }
}

async fn dispatch(command: Command, device: &Device, out: Output) -> Result<()> {
    match command {
        Command::Enrol(a) => enrolment::enrol(device, a, out).await,
        Command::Login(a) => enrolment::login(device, a, out).await,
        Command::Use(a) => enrolment::use_project(device, a, out).await,
        Command::Participant(c) => capture::participant(device, c, out).await,
        Command::Session(c) => capture::session(device, c, out).await,
        Command::Wellbeing(c) => capture::wellbeing(device, c, out).await,
        Command::Story(c) => capture::story(device, c, out).await,
        Command::List(a) => records::list(device, a, out).await,
        Command::Show(a) => records::show(device, a, out).await,
        Command::Conflicts(a) => conflicts::run(device, a, out).await,
        Command::History(a) => records::history(device, a, out).await,
        Command::Status(a) => syncing::status(device, a, out).await,
        Command::Sync => syncing::sync(device, out).await,
        Command::Sites(a) => records::sites(device, a, out).await,
        Command::Activities(a) => records::activities(device, a, out).await,
        Command::Admin(_)
        | Command::Export(_)
        | Command::Report(_)
        | Command::Password(_)
        | Command::Logout(_)
        | Command::Unlock
        | Command::Lock
        | Command::Pin(_) => {
            unreachable!("handled before the store is unlocked")
        }
    }
}

/// Opens (creating if need be) the device store, locked if it has a PIN (see
/// [`crate::unlock::open_unlocked`] for a store ready for records).
pub async fn open(store: &Path) -> Result<Device> {
    let device = Device::open(store)
        .await
        .with_context(|| format!("cannot open the store {}", store.display()))?;
    Ok(device.with_app(APP))
}
