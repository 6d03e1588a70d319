//! The `bothy-server` command: `serve` (the default), `backup` and `restore`, `demo` (a demo
//! project of synthetic people, and its removal), and `admin` commands that work on the
//! database directly, for an operator on the server machine.

use crate::config::{Config, ServeArgs};
use clap::{Parser, Subcommand};

/// Bothy's central server.
#[derive(Debug, Parser)]
#[command(name = "bothy-server", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server (the default).
    Serve,
    /// Administer projects, users and devices directly on the database.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Print the data dictionary of the exports (Markdown, as docs/data-dictionary.md).
    DataDictionary,
    /// Write a consistent copy of the database to FILE while the server runs (SQLite: VACUUM
    /// INTO and an integrity check; PostgreSQL: pg_dump --format=custom, then read back).
    Backup {
        /// The backup file to write.
        file: std::path::PathBuf,
        /// Replace FILE if it exists.
        #[arg(long)]
        force: bool,
    },
    /// Replace the database with a backup, keeping what it replaces, and start a new generation
    /// of the data. Stop every server on the database first.
    Restore {
        /// The backup file (made by `bothy-server backup`).
        file: std::path::PathBuf,
        /// Confirm: the servers are stopped and the database is to be replaced.
        #[arg(long)]
        yes: bool,
    },
    /// Make a demo project filled with a synthetic year of a programme (synthetic people, not
    /// real data), or remove it with `--remove --yes`.
    Demo {
        /// The demo project's slug.
        #[arg(long, default_value = crate::demo::DEFAULT_SLUG)]
        slug: String,
        /// The generator's seed: the same seed gives the same people and figures.
        #[arg(long, default_value_t = crate::demo::DEFAULT_SEED)]
        seed: u64,
        /// How many participants.
        #[arg(long, default_value_t = crate::demo::DEFAULT_PARTICIPANTS)]
        participants: usize,
        /// Remove the demo project and all its data instead (refused for a project that is not
        /// a demo).
        #[arg(long)]
        remove: bool,
        /// Confirm the removal.
        #[arg(long)]
        yes: bool,
    },
}

#[derive(Debug, Subcommand)]
enum AdminCommand {
    /// Create a project.
    CreateProject {
        /// Short id: lowercase letters, digits, hyphens.
        slug: String,
        /// Display name.
        #[arg(long)]
        name: String,
    },
    /// Add a user. Prints a generated password if none is given.
    AddUser {
        /// Username.
        username: String,
        /// Password (at least 10 characters); or set BOTHY_NEW_PASSWORD.
        #[arg(long, env = "BOTHY_NEW_PASSWORD", hide_env_values = true)]
        password: Option<String>,
        /// Make the user a server admin.
        #[arg(long)]
        admin: bool,
    },
    /// Give a user a role in a project: admin, coordinator, researcher, peer_worker, analyst.
    AddMember {
        /// Project slug.
        project: String,
        /// Username.
        username: String,
        /// Role.
        role: String,
    },
    /// Show which database this is and its generation (a restore starts a new one).
    Generation,
    /// Make a single-use enrolment code for a user's device.
    Enrol {
        /// Username.
        username: String,
        /// Hours until the code expires.
        #[arg(long, default_value_t = 72)]
        hours: i64,
    },
}

/// Runs the command line; returns the process exit code.
pub fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("bothy-server: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bothy-server: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    if let Some(Command::DataDictionary) = cli.command {
        print!("{}", crate::analysis::export::dictionary_markdown());
        return Ok(());
    }
    let config = Config::resolve(cli.serve)?;
    crate::telemetry::init(&config.log_format);
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(config).await,
        Command::Admin { command } => admin(config, command).await,
        Command::DataDictionary => Ok(()),
        Command::Backup { file, force } => backup(config, &file, force).await,
        Command::Restore { file, yes } => restore(config, &file, yes).await,
        Command::Demo {
            slug,
            seed,
            participants,
            remove,
            yes,
        } => demo(config, &slug, seed, participants, remove, yes).await,
    }
}

async fn demo(
    config: Config,
    slug: &str,
    seed: u64,
    participants: usize,
    remove: bool,
    yes: bool,
) -> anyhow::Result<()> {
    let fail = |e: crate::error::ApiError| anyhow::anyhow!("{e}");
    if remove {
        anyhow::ensure!(
            yes,
            "removing deletes the demo project `{slug}` and all its data: add --yes to confirm"
        );
        let state = crate::prepare(config).await?;
        let r = crate::demo::remove(&state.db, slug).await.map_err(fail)?;
        println!(
            "removed the demo project {slug}: {} records, {} change log rows, {} memberships",
            r.records, r.change_log_rows, r.memberships
        );
        println!("Members' devices delete its records at their next sync.");
        return Ok(());
    }
    let state = crate::prepare(config).await?;
    let today = chrono::Utc::now().date_naive();
    let opts = crate::demo::DemoOptions::ending(slug, seed, participants, today);
    let started = std::time::Instant::now();
    let c = crate::demo::create(&state.db, &opts).await.map_err(fail)?;
    println!(
        "created the demo project {slug} ({}) in {:.1} s: {} participants, {} contact records, \
         {} sessions, {} questionnaires, {} stories, from {} (seed {seed})",
        crate::demo::DEMO_NAME,
        started.elapsed().as_secs_f64(),
        c.participants,
        c.contacts,
        c.sessions,
        c.responses,
        c.stories,
        opts.start
    );
    println!(
        "Next: give yourself a role in it (bothy-server admin add-member {slug} USERNAME \
         coordinator) and open the dashboard. Remove it with: bothy-server demo --remove --yes"
    );
    Ok(())
}

async fn backup(config: Config, file: &std::path::Path, force: bool) -> anyhow::Result<()> {
    let s = crate::backup::backup(&config, file, force).await?;
    println!(
        "wrote {} ({} bytes), checked: {}, migration {}",
        s.file.display(),
        s.bytes,
        s.generation,
        s.migration
    );
    println!(
        "It holds everything, secrets included: store it encrypted, readable by operators only."
    );
    Ok(())
}

async fn restore(config: Config, file: &std::path::Path, yes: bool) -> anyhow::Result<()> {
    let s = crate::backup::restore(&config, file, yes).await?;
    println!("restored {}", file.display());
    match &s.backup {
        Some(g) => println!("  backup:    {g}"),
        None => println!("  backup:    (taken before generations were recorded)"),
    }
    match &s.replaced {
        Some(g) => println!("  replaced:  {g}"),
        None => println!("  replaced:  (no database, or none recorded)"),
    }
    println!("  now:       {}", s.new);
    if let Some(aside) = &s.moved_aside {
        println!(
            "  the replaced database files are kept at {} (delete them once you are sure)",
            aside.display()
        );
    }
    match &s.erasures {
        Some(e) => println!(
            "  erasures:  made again {} erasure(s) of participants recorded in the replaced \
             database after this backup was taken ({} tombstone(s) added)",
            e.participants_erased_again, e.tombstones_added
        ),
        None => println!(
            "  erasures:  the replaced database's erasures could not be read: make again by \
             hand any erasure made after this backup was taken (from your notes of erasures)"
        ),
    }
    println!(
        "Next: start the server(s). At their next sync, devices send back what the server lost \
         since the backup (docs/operations.md, \"What devices do after a restore\"); a device \
         enrolled after the backup must be enrolled again, keeping its store."
    );
    Ok(())
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let listen = config.listen;
    let db_url = crate::storage::redact(&config.database_url);
    // Bind before preparing the database, so a start that cannot listen creates no first admin
    // (and the next start still prints the one-time password).
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {listen}: {e}"))?;
    let state = crate::prepare(config).await?;
    tracing::info!(address = %listener.local_addr()?, database = %db_url, "bothy-server listening");
    let limits = crate::listener::Limits::of(&state.config);
    crate::listener::serve(listener, crate::app(state), limits, shutdown_signal()).await;
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM (what systemd and container runtimes send).
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}

async fn admin(config: Config, command: AdminCommand) -> anyhow::Result<()> {
    use crate::access::accounts as a;
    if let AdminCommand::Generation = command {
        let db = crate::storage::Db::connect(&config.database_url).await?;
        let g = crate::storage::generation(&db).await?;
        println!("database_id:   {}", g.database_id);
        println!("generation:    {}", g.generation);
        println!("generation_id: {}", g.generation_id);
        return Ok(());
    }
    let state = crate::prepare(config).await?;
    let db = &state.db;
    let fail = |e: crate::error::ApiError| anyhow::anyhow!("{e}");
    let (action, project, target) = match &command {
        AdminCommand::CreateProject { slug, .. } => ("project.create", Some(slug.clone()), None),
        AdminCommand::AddUser { username, .. } => ("user.create", None, Some(username.clone())),
        AdminCommand::AddMember {
            project, username, ..
        } => ("member.set", Some(project.clone()), Some(username.clone())),
        AdminCommand::Enrol { username, .. } => ("enrolment.create", None, Some(username.clone())),
        AdminCommand::Generation => return Ok(()),
    };
    match command {
        AdminCommand::CreateProject { slug, name } => {
            a::create_project_in(db, &slug, &name).await.map_err(fail)?;
            println!("created project {slug}");
        }
        AdminCommand::AddUser {
            username,
            password,
            admin,
        } => {
            let generated = password.is_none();
            let password =
                password.unwrap_or_else(|| crate::access::auth::random_secret()[..16].to_owned());
            a::create_user_in(db, &username, &password, admin)
                .await
                .map_err(fail)?;
            if generated {
                println!("created user {username} with password: {password}");
            } else {
                println!("created user {username}");
            }
        }
        AdminCommand::AddMember {
            project,
            username,
            role,
        } => {
            a::add_member_in(db, &project, &username, &role)
                .await
                .map_err(fail)?;
            println!("{username} is now {role} in {project}");
        }
        AdminCommand::Enrol { username, hours } => {
            let (code, _) = a::create_enrolment_in(db, &username, None, hours)
                .await
                .map_err(fail)?;
            println!("enrolment code for {username} (single use, expires in {hours} h): {code}");
        }
        AdminCommand::Generation => {}
    }
    crate::access::audit::record(
        &db.pool,
        &crate::access::audit::Actor::system(),
        action,
        project.as_deref(),
        target.as_deref(),
        serde_json::json!({"via": "server command line"}),
    )
    .await?;
    Ok(())
}
