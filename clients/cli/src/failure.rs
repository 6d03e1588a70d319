//! How a failed command ends: one line on standard error, and an exit code a script can test.
//!
//! Exit codes: 0 done; 1 bad input or not found (nothing was written); 2 the command line
//! itself is wrong; 3 the server is unreachable or failing (nothing was lost: try again
//! later); 4 the server refused the request (also when it withdrew this device, which has
//! wiped itself).

use bothy_device::DeviceError;
use std::process::ExitCode;

/// The exit codes, for `--help`.
pub const EXIT_CODES: &str = "\
Exit codes: 0 done; 1 bad input or not found (nothing was written); 2 wrong command line; \
3 server unreachable or failing (nothing lost, try again later); 4 the server refused.";

/// Prints an error as one line and picks the exit code.
pub fn report(e: &anyhow::Error) -> ExitCode {
    eprintln!("error: {}", one_line(&format!("{e:#}")));
    let code = match e.downcast_ref::<DeviceError>() {
        Some(d) if d.is_temporary() => 3,
        Some(DeviceError::Rejected { .. } | DeviceError::Wiped(_)) => 4,
        _ => 1,
    };
    ExitCode::from(code)
}

/// Prints a command-line error as one line (help and version go out as clap renders them).
pub fn report_usage(e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion)
        || e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    {
        let _ = e.print();
        return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
    }
    let rendered = e.render().to_string();
    let lines: Vec<&str> = rendered
        .lines()
        .map(str::trim)
        .filter(|l| {
            !l.is_empty() && !l.starts_with("Usage:") && !l.starts_with("For more information")
        })
        .collect();
    let message = lines.join(" ");
    let message = message.strip_prefix("error: ").unwrap_or(&message);
    eprintln!("error: {} (see --help)", one_line(message));
    ExitCode::from(2)
}

/// Collapses any line breaks (a server's message may contain some).
fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}
