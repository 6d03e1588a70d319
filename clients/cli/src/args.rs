//! The command line: every command, option and its help, in one place.
//!
//! Choice options (age band, activity type, timepoint...) take their allowed values from
//! sync-core's schema, so `--help` lists exactly what the records accept.

use bothy_sync_core::roles::Role;
use bothy_sync_core::schema::{self, FieldType, RecordKind};
use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

const ABOUT: &str = "Bothy in a terminal: record sessions, attendance, wellbeing questionnaires and \
stories offline, and sync them when there is signal.";

const LONG_ABOUT: &str = "\
Bothy in a terminal: record sessions, attendance, wellbeing questionnaires and stories offline, \
and sync them when there is signal.

Enrol this device once, in the office, before going to the field:
    bothy enrol --server https://bothy.example.org --code CODE
(or `bothy login --server URL --user NAME`). Capture is refused until then, because every
record is signed with the identity the server gives this device. After that, everything works
offline for as long as it must; `bothy sync` sends and receives when there is signal, and
nothing is lost if it cannot.

The store is encrypted with a PIN (at least 6 characters; a passphrase is safer) that you choose
when the store is made (at enrolment), so a lost laptop reveals nobody. A command asks for the
PIN at a terminal, or takes it from $BOTHY_PIN (for scripts). Once unlocked, the store stays
unlocked for your user until it has been idle for 15 minutes (--lock-after, $BOTHY_LOCK_AFTER);
`bothy lock` locks it at once, `bothy pin change` changes the PIN. After 5 wrong PINs in a row
each further try must wait, longer each time. A forgotten PIN cannot be recovered: enrol again
with a new store; the server keeps everything that was synced, and changes not yet synced are
lost.";

/// The `bothy` command line.
#[derive(Debug, Parser)]
#[command(name = "bothy", version, about = ABOUT, long_about = LONG_ABOUT,
          after_help = crate::failure::EXIT_CODES)]
pub struct Cli {
    /// The device's local store [default: ~/.local/share/bothy/device.db].
    #[arg(long, global = true, env = "BOTHY_STORE", value_name = "PATH")]
    pub store: Option<PathBuf>,

    /// Print machine-readable JSON instead of text.
    #[arg(long, global = true)]
    pub json: bool,

    /// How long an unlocked store stays unlocked without use: seconds, or a number with s, m
    /// or h (`90s`, `15m`, `1h`; at most 24h); 0 keeps it unlocked for one command only
    /// [default: 15m].
    #[arg(long, global = true, env = "BOTHY_LOCK_AFTER", value_name = "DURATION",
          value_parser = parse_lock_after)]
    pub lock_after: Option<std::time::Duration>,

    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Enrol this device with a code from a project admin (once, before fieldwork).
    Enrol(EnrolArgs),
    /// Log in and register this device for your account (the password is not stored).
    Login(LoginArgs),
    /// Unlock the store with its PIN (asked for, or $BOTHY_PIN) for a while, so that other
    /// commands do not ask (see --lock-after). A forgotten PIN cannot be recovered: enrol again
    /// with a new store (unsynced changes are lost).
    Unlock,
    /// Lock the store now: the next command asks for the PIN.
    Lock,
    /// The store's PIN.
    #[command(subcommand)]
    Pin(PinCommand),
    /// Change your password (also after an admin reset it: give the temporary one as the
    /// current password). Every other login of yours ends; devices keep their credentials.
    Password(PasswordArgs),
    /// End a login on the server by revoking its refresh token. This tool keeps no login of
    /// its own (admin commands log in for one command only), so without a token there is
    /// nothing to end.
    Logout(LogoutArgs),
    /// Register participants.
    #[command(subcommand)]
    Participant(ParticipantCommand),
    /// Record sessions and attendance.
    #[command(subcommand)]
    Session(SessionCommand),
    /// Record wellbeing questionnaires.
    #[command(subcommand)]
    Wellbeing(WellbeingCommand),
    /// Write and edit stories.
    #[command(subcommand)]
    Story(StoryCommand),
    /// List the records on this device.
    List(ListArgs),
    /// Show one record in full: fields, scores, conflicts.
    Show(ShowArgs),
    /// Who changed which field of a record, when, from which device (this device's copy, and
    /// the server's when it can be reached).
    History(HistoryArgs),
    /// List true conflicts on this device, or resolve one (`bothy conflicts resolve`).
    Conflicts(ConflictsArgs),
    /// Where this device stands: server, user, unsynced records, last sync, reports.
    Status(StatusArgs),
    /// Send this device's changes and receive others'.
    Sync,
    /// Choose the project capture goes to when --project is not given.
    Use(UseArgs),
    /// List the project's sites, as last received on sync (works offline).
    Sites(SetupArgs),
    /// List the project's activities, as last received on sync (works offline).
    Activities(SetupArgs),
    /// Administer the server (projects, users, members, enrolment codes, devices).
    Admin(AdminArgs),
    /// Export a project's data for analysis as CSV, JSON Lines or Parquet, or every dataset as
    /// a data package (analysts, coordinators, admins): participants, sessions, attendance,
    /// wellbeing (one row per response),
    /// wellbeing_items (one row per answered item), outcome_pairs (the outcomes report's
    /// baseline and follow-up pairs, one row per participant and measure) or stories.
    Export(ExportArgs),
    /// A project's reports: outcomes, attendance, equity, sites (several sites or all, with a
    /// per-site breakdown) or quarterly.
    Report(ReportArgs),
}

/// One `--set FIELD=VALUE`: a field named by its name in the record schema, and its value as
/// typed (typed for the field when the record is written).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    /// The field's name.
    pub field: String,
    /// The value as typed; empty clears the field (on edit).
    pub value: String,
}

/// The fields `--set` may name on a `kind` record: every top-level field of the schema that
/// holds one value (text, a choice, a date, a time, a number, yes/no, a record id, or a
/// record's collaborative text), so a field added to the schema can be set with no option of
/// its own. Maps and sets (attendance, consent, facilitators, themes) have their own options.
pub fn settable(kind: RecordKind) -> impl Iterator<Item = &'static schema::Field> {
    schema::fields(kind)
        .iter()
        .filter(|f| !matches!(f.ty, FieldType::Map(_) | FieldType::Set))
}

/// Parses `FIELD=VALUE` for a `kind` record, refusing a field the kind does not have (or one
/// that holds several values), naming it.
fn assignment(kind: RecordKind) -> impl Fn(&str) -> Result<Assignment, String> + Clone {
    move |s: &str| {
        let Some((field, value)) = s.split_once('=') else {
            return Err(format!(
                "`{s}` is not FIELD=VALUE (e.g. location=Back room)"
            ));
        };
        let field = field.trim();
        if settable(kind).any(|f| f.name == field) {
            return Ok(Assignment {
                field: field.to_owned(),
                value: value.to_owned(),
            });
        }
        let names: Vec<&str> = settable(kind).map(|f| f.name).collect();
        Err(match schema::field(kind, field) {
            Some(_) => format!(
                "the {kind} field `{field}` holds several values and has options of its own; \
                 --set takes one of: {}",
                names.join(", ")
            ),
            None if field.is_empty() => format!("`{s}` names no field (FIELD=VALUE)"),
            None => format!(
                "a {kind} has no field `{field}`; --set takes one of: {}",
                names.join(", ")
            ),
        })
    }
}

/// The help of `--set` for a `kind` record, listing the fields it takes.
fn set_help(kind: RecordKind, edit: bool) -> String {
    let names: Vec<&str> = settable(kind).map(|f| f.name).collect();
    let clear = if edit {
        " An empty VALUE (`FIELD=`) removes the field's value."
    } else {
        ""
    };
    format!(
        "Set a field by its name in the record schema, as FIELD=VALUE (repeat for several): \
         numbers as digits, yes/no as true or false, times as RFC 3339.{clear} Fields: {}.",
        names.join(", ")
    )
}

/// Who reads, where from, and the filters shared by `bothy export` and `bothy report`.
#[derive(Debug, Args)]
pub struct AnalysisArgs {
    /// The server [default: the one this device is enrolled with].
    #[arg(long, env = "BOTHY_SERVER", value_name = "URL")]
    pub server: Option<String>,
    /// Your username (an analyst, coordinator or admin of the project).
    #[arg(long, env = "BOTHY_USER")]
    pub user: Option<String>,
    /// Your password (else $BOTHY_PASSWORD, else asked for).
    #[arg(
        long,
        allow_hyphen_values = true,
        env = "BOTHY_PASSWORD",
        hide_env_values = true
    )]
    pub password: Option<String>,
    /// The project.
    #[arg(long)]
    pub project: String,
    /// Only this site.
    #[arg(long)]
    pub site: Option<String>,
    /// Only this activity.
    #[arg(long)]
    pub activity: Option<String>,
    /// From this date (YYYY-MM-DD, inclusive).
    #[arg(long)]
    pub from: Option<String>,
    /// Up to this date (YYYY-MM-DD, inclusive).
    #[arg(long)]
    pub to: Option<String>,
    /// Write to this file instead of standard output.
    #[arg(long, short)]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The dataset (with `--format datapackage`: only this one; default every dataset).
    #[arg(value_parser = PossibleValuesParser::new(["participants", "sessions", "attendance", "wellbeing", "wellbeing_items", "outcome_pairs", "stories"]))]
    pub dataset: Option<String>,
    /// csv, jsonl, parquet (typed columns), or datapackage (a zip of the CSVs with a
    /// Frictionless datapackage.json describing them). Parquet and packages are binary: write
    /// them to a file with `-o` (or pipe them).
    #[arg(long, default_value = "csv", value_parser = PossibleValuesParser::new(["csv", "jsonl", "parquet", "datapackage"]))]
    pub format: String,
    /// Wellbeing and wellbeing_items: only this timepoint. outcome_pairs: the follow-up
    /// timepoint paired with baseline (end, the default, interim or follow_up).
    #[arg(long, value_parser = PossibleValuesParser::new(schema::TIMEPOINTS))]
    pub timepoint: Option<String>,
    #[command(flatten)]
    pub common: AnalysisArgs,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The report.
    #[arg(value_parser = PossibleValuesParser::new(["outcomes", "attendance", "equity", "sites", "quarterly"]))]
    pub report: String,
    /// Sites report: `all` [default] or site codes separated by commas, as `a,b` (each
    /// participant is counted at their home site among them).
    #[arg(long)]
    pub sites: Option<String>,
    /// Quarterly report: json, md, csv or html (the others are JSON).
    #[arg(long, value_parser = PossibleValuesParser::new(["json", "md", "csv", "html"]))]
    pub format: Option<String>,
    /// Quarterly report: the quarter, as 2026-Q3 [default: the current one].
    #[arg(long)]
    pub quarter: Option<String>,
    /// Outcomes, equity and sites: the timepoint paired with baseline (end, interim,
    /// follow_up).
    #[arg(long)]
    pub timepoint: Option<String>,
    /// Reliable-change threshold for WEMWBS, in points.
    #[arg(long)]
    pub wemwbs_threshold: Option<f64>,
    /// Reliable-change threshold for SWEMWBS metric scores, in points.
    #[arg(long)]
    pub swemwbs_threshold: Option<f64>,
    /// Outcomes: report one instrument only (a built-in or one of the project's own with a
    /// total score) [default: every instrument with responses].
    #[arg(long)]
    pub instrument: Option<String>,
    /// Outcomes, with --instrument: the version of the project's own definition [default: 1].
    #[arg(long, requires = "instrument")]
    pub instrument_version: Option<u32>,
    #[command(flatten)]
    pub common: AnalysisArgs,
}

#[derive(Debug, Args)]
pub struct EnrolArgs {
    /// The server, e.g. https://bothy.example.org (not needed with --qr-payload).
    #[arg(
        long,
        env = "BOTHY_SERVER",
        value_name = "URL",
        required_unless_present = "qr_payload"
    )]
    pub server: Option<String>,
    /// The enrolment code an admin gave you.
    #[arg(
        long,
        required_unless_present = "qr_payload",
        conflicts_with = "qr_payload"
    )]
    pub code: Option<String>,
    /// What an enrolment QR code holds: the link `URL/app/#/enrol?code=CODE`, or the older
    /// `bothy-enrol:?server=URL&code=CODE` (gives both the server and the code).
    #[arg(long, value_name = "STRING")]
    pub qr_payload: Option<String>,
    /// A name for this device, shown to admins [default: this computer's name].
    #[arg(long)]
    pub name: Option<String>,
}

#[derive(Debug, Args)]
pub struct LoginArgs {
    /// The server, e.g. https://bothy.example.org.
    #[arg(long, env = "BOTHY_SERVER", value_name = "URL")]
    pub server: String,
    /// Your username.
    #[arg(long, env = "BOTHY_USER")]
    pub user: String,
    /// Your password (else $BOTHY_PASSWORD, else asked for).
    #[arg(
        long,
        allow_hyphen_values = true,
        env = "BOTHY_PASSWORD",
        hide_env_values = true
    )]
    pub password: Option<String>,
    /// A name for this device, shown to admins [default: this computer's name].
    #[arg(long)]
    pub name: Option<String>,
}

#[derive(Debug, Args)]
pub struct PasswordArgs {
    /// The server [default: the one this device is enrolled with].
    #[arg(long, env = "BOTHY_SERVER", value_name = "URL")]
    pub server: Option<String>,
    /// Your username.
    #[arg(long, env = "BOTHY_USER")]
    pub user: String,
    /// Your current password (else $BOTHY_PASSWORD, else asked for).
    #[arg(
        long,
        allow_hyphen_values = true,
        env = "BOTHY_PASSWORD",
        hide_env_values = true
    )]
    pub password: Option<String>,
    /// The new password, at least 10 characters [default: asked for, twice].
    #[arg(
        long = "new-password",
        allow_hyphen_values = true,
        value_name = "PASSWORD"
    )]
    pub new_password: Option<String>,
}

#[derive(Debug, Args)]
pub struct LogoutArgs {
    /// The server [default: the one this device is enrolled with].
    #[arg(long, env = "BOTHY_SERVER", value_name = "URL")]
    pub server: Option<String>,
    /// The refresh token of the login to end (from `POST /api/v1/auth/login`).
    #[arg(
        long,
        allow_hyphen_values = true,
        env = "BOTHY_REFRESH_TOKEN",
        hide_env_values = true
    )]
    pub refresh_token: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum ParticipantCommand {
    /// Register a participant; prints their id and code.
    Add(Box<ParticipantAddArgs>),
}

#[derive(Debug, Args)]
pub struct ParticipantAddArgs {
    /// The project [default: the device's default project].
    #[arg(long)]
    pub project: Option<String>,
    /// Age band in years.
    #[arg(long, value_parser = PossibleValuesParser::new(schema::AGE_BANDS))]
    pub age_band: Option<String>,
    /// Gender, as the person describes themselves.
    #[arg(long, value_parser = PossibleValuesParser::new(schema::GENDERS))]
    pub gender: Option<String>,
    /// Ethnic group (ONS 2021 high-level groups).
    #[arg(long, value_parser = PossibleValuesParser::new(schema::ETHNIC_GROUPS))]
    pub ethnic_group: Option<String>,
    /// Postcode district, e.g. IV26 (a direct identifier: kept in the contact record).
    #[arg(long)]
    pub postcode_district: Option<String>,
    /// Index of Multiple Deprivation decile, 1 (most deprived) to 10.
    #[arg(long, value_name = "N")]
    pub imd_decile: Option<i64>,
    /// Where the person lives.
    #[arg(long, value_parser = PossibleValuesParser::new(schema::RURALITY))]
    pub rurality: Option<String>,
    /// The day they registered, YYYY-MM-DD [default: today in the UK].
    #[arg(long, value_name = "DATE")]
    pub registered_on: Option<String>,
    /// Who referred them.
    #[arg(long, value_parser = PossibleValuesParser::new(schema::REFERRAL_SOURCES))]
    pub referral_source: Option<String>,
    /// Referral date, YYYY-MM-DD [default: today in the UK, if a referral source is given].
    #[arg(long, value_name = "DATE")]
    pub referral_date: Option<String>,
    /// Why they were referred.
    #[arg(long)]
    pub referral_reason: Option<String>,
    /// They consent to their data being used.
    #[arg(long)]
    pub consent_data_use: bool,
    /// They consent to their stories being shared.
    #[arg(long)]
    pub consent_story_sharing: bool,
    /// They consent to being contacted.
    #[arg(long)]
    pub consent_contact: bool,
    /// Consent date, YYYY-MM-DD [default: today, if any consent is given].
    #[arg(long, value_name = "DATE")]
    pub consent_date: Option<String>,
    /// Version of the consent form.
    #[arg(long)]
    pub consent_version: Option<String>,
    /// Name (a direct identifier: kept in the contact record, which peer workers' and analysts'
    /// devices never receive).
    #[arg(long)]
    pub name: Option<String>,
    /// Phone number (a direct identifier: kept in the contact record).
    #[arg(long)]
    pub phone: Option<String>,
    /// How and when to get in touch (kept in the contact record; nothing clinical).
    #[arg(long)]
    pub contact_notes: Option<String>,
    /// Any other field, as FIELD=VALUE (repeatable).
    #[arg(long = "set", value_name = "FIELD=VALUE",
          long_help = set_help(RecordKind::Participant, false),
          value_parser = assignment(RecordKind::Participant))]
    pub set: Vec<Assignment>,
}

#[derive(Debug, Subcommand)]
pub enum SessionCommand {
    /// Record a new session; prints its id.
    New(SessionNewArgs),
    /// Mark a participant's attendance (present unless --absent or --left-early).
    Attend(AttendArgs),
    /// Change a session's details.
    Edit(SessionEditArgs),
}

#[derive(Debug, Args)]
pub struct SessionNewArgs {
    /// The project [default: the device's default project].
    #[arg(long)]
    pub project: Option<String>,
    /// Where it happens (site slug or name).
    #[arg(long)]
    pub site: String,
    /// What activity it is a run of.
    #[arg(long)]
    pub activity: String,
    /// The kind of activity.
    #[arg(long = "type", value_name = "TYPE",
          value_parser = PossibleValuesParser::new(schema::ACTIVITY_TYPES))]
    pub activity_type: String,
    /// Start, e.g. 2026-11-01T10:00:00Z.
    #[arg(long, value_name = "RFC3339")]
    pub start: String,
    /// End, e.g. 2026-11-01T12:00:00Z.
    #[arg(long, value_name = "RFC3339")]
    pub end: Option<String>,
    /// Where exactly (room, meeting point).
    #[arg(long)]
    pub location: Option<String>,
    /// Who ran it (repeat for several).
    #[arg(long = "facilitator", value_name = "NAME")]
    pub facilitators: Vec<String>,
    /// Notes.
    #[arg(long)]
    pub notes: Option<String>,
    /// How many people came without being registered.
    #[arg(long, value_name = "N")]
    pub unregistered: Option<i64>,
    /// Any other field, as FIELD=VALUE (repeatable).
    #[arg(long = "set", value_name = "FIELD=VALUE",
          long_help = set_help(RecordKind::Session, false),
          value_parser = assignment(RecordKind::Session))]
    pub set: Vec<Assignment>,
}

#[derive(Debug, Args)]
pub struct AttendArgs {
    /// The session (id, or a unique start or end of its id).
    pub session: String,
    /// The participant (code, id, or a unique start or end of the id).
    pub participant: String,
    /// They were expected but did not come.
    #[arg(long, conflicts_with = "left_early")]
    pub absent: bool,
    /// They came and left before the end.
    #[arg(long)]
    pub left_early: bool,
}

#[derive(Debug, Args)]
pub struct SessionEditArgs {
    /// The session (id, or a unique start or end of its id).
    pub session: String,
    /// New start, RFC 3339.
    #[arg(long, value_name = "RFC3339")]
    pub start: Option<String>,
    /// New end, RFC 3339.
    #[arg(long, value_name = "RFC3339", conflicts_with = "clear_end")]
    pub end: Option<String>,
    /// Remove the end time.
    #[arg(long)]
    pub clear_end: bool,
    /// New notes (replace the old ones).
    #[arg(long)]
    pub notes: Option<String>,
    /// How many people came without being registered.
    #[arg(long, value_name = "N")]
    pub unregistered: Option<i64>,
    /// New site.
    #[arg(long)]
    pub site: Option<String>,
    /// New activity.
    #[arg(long)]
    pub activity: Option<String>,
    /// New kind of activity.
    #[arg(long = "type", value_name = "TYPE",
          value_parser = PossibleValuesParser::new(schema::ACTIVITY_TYPES))]
    pub activity_type: Option<String>,
    /// New location.
    #[arg(long)]
    pub location: Option<String>,
    /// Add a facilitator (repeat for several).
    #[arg(long, value_name = "NAME")]
    pub add_facilitator: Vec<String>,
    /// Remove a facilitator (repeat for several).
    #[arg(long, value_name = "NAME")]
    pub remove_facilitator: Vec<String>,
    /// Any other field, as FIELD=VALUE; FIELD= removes its value (repeatable).
    #[arg(long = "set", value_name = "FIELD=VALUE",
          long_help = set_help(RecordKind::Session, true),
          value_parser = assignment(RecordKind::Session))]
    pub set: Vec<Assignment>,
}

#[derive(Debug, Subcommand)]
pub enum WellbeingCommand {
    /// Record a questionnaire; prints its score, or why it has none.
    Record(WellbeingRecordArgs),
    /// Show a questionnaire's items, answer scales and labels, as last received on sync
    /// (works offline; "WEMWBS item 1" and so on when no wording was supplied).
    Items {
        /// The questionnaire: a built-in (WEMWBS, SWEMWBS, ONS4, UCLA3, ONS_LONELINESS) or one
        /// of the project's own, as last received on sync.
        #[arg(long)]
        instrument: String,
        /// The project [default: the one chosen with `bothy use`].
        #[arg(long)]
        project: Option<String>,
    },
    /// List the questionnaires this device knows for the project: the built-ins and the
    /// project's own, as last received on sync (works offline).
    Instruments(SetupArgs),
}

#[derive(Debug, Args)]
pub struct SetupArgs {
    /// The project [default: the one chosen with `bothy use`].
    #[arg(long)]
    pub project: Option<String>,
}

#[derive(Debug, Args)]
pub struct WellbeingRecordArgs {
    /// The participant (code, id, or a unique start or end of the id).
    #[arg(long)]
    pub participant: String,
    /// The questionnaire: a built-in (WEMWBS, SWEMWBS, ONS4, UCLA3, ONS_LONELINESS) or one of
    /// the project's own, as last received on sync.
    #[arg(long)]
    pub instrument: String,
    /// When in the programme it was taken.
    #[arg(long, value_parser = PossibleValuesParser::new(schema::TIMEPOINTS))]
    pub timepoint: String,
    /// The day it was answered, YYYY-MM-DD [default: today].
    #[arg(long, value_name = "DATE")]
    pub date: Option<String>,
    /// The session it was taken at.
    #[arg(long)]
    pub session: Option<String>,
    /// Answers in item order, comma-separated; leave an entry blank for an unanswered item
    /// (e.g. 4,3,,5).
    #[arg(long, value_name = "ANSWERS", allow_hyphen_values = true)]
    pub items: String,
}

#[derive(Debug, Subcommand)]
pub enum StoryCommand {
    /// Write a new story (text from --text, or in $EDITOR); prints its id.
    New(StoryNewArgs),
    /// Edit a story's text (from --text, or in $EDITOR starting from the current text).
    Edit(StoryEditArgs),
}

#[derive(Debug, Args)]
pub struct StoryNewArgs {
    /// The project [default: the participant's, else the device's default project].
    #[arg(long)]
    pub project: Option<String>,
    /// The title.
    #[arg(long)]
    pub title: String,
    /// Whose story it is (code, id, or a unique start or end of the id).
    #[arg(long)]
    pub participant: Option<String>,
    /// Who may read it.
    #[arg(long, default_value = "private",
          value_parser = PossibleValuesParser::new(schema::STORY_CONSENT_SCOPES))]
    pub consent_scope: String,
    /// A theme (repeat for several).
    #[arg(long = "theme", value_name = "WORD")]
    pub themes: Vec<String>,
    /// The session it was told at.
    #[arg(long)]
    pub session: Option<String>,
    /// The language it is written in (e.g. en, gd).
    #[arg(long)]
    pub language: Option<String>,
    /// The text ("-" reads it from standard input) [default: write it in $EDITOR].
    #[arg(long, allow_hyphen_values = true)]
    pub text: Option<String>,
    /// Any other field, as FIELD=VALUE (repeatable).
    #[arg(long = "set", value_name = "FIELD=VALUE",
          long_help = set_help(RecordKind::Story, false),
          value_parser = assignment(RecordKind::Story))]
    pub set: Vec<Assignment>,
}

#[derive(Debug, Args)]
pub struct StoryEditArgs {
    /// The story (id, or a unique start or end of its id).
    pub story: String,
    /// The whole new text ("-" reads it from standard input) [default: edit in $EDITOR].
    #[arg(long, allow_hyphen_values = true)]
    pub text: Option<String>,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Which records [default: all].
    #[arg(value_parser = PossibleValuesParser::new([
        "sessions", "participants", "wellbeing", "stories",
        "session", "participant", "story",
    ]))]
    pub kind: Option<String>,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The record (id, a unique start or end of it, or a participant code).
    pub id: String,
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// The record (id, a unique start or end of it, or a participant code).
    pub id: String,
}

#[derive(Debug, Args)]
pub struct ConflictsArgs {
    #[command(subcommand)]
    pub command: Option<ConflictsCommand>,
}

#[derive(Debug, Subcommand)]
pub enum ConflictsCommand {
    /// Resolve a conflict on this device by choosing one of its values or entering a new one:
    /// an ordinary edit, which replaces every conflicting value and syncs like any other.
    Resolve(ResolveArgs),
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("pick").required(true).args(["choose", "value"])))]
pub struct ResolveArgs {
    /// The record (id, a unique start or end of it, or a participant code).
    pub record: String,
    /// The field in conflict, as `bothy conflicts` shows it (e.g. `items.3`, `end`).
    pub field: String,
    /// Keep the Nth value as `bothy conflicts` numbers them (from 1).
    #[arg(long, value_name = "N")]
    pub choose: Option<usize>,
    /// Enter a new value instead.
    #[arg(long, value_name = "VALUE")]
    pub value: Option<String>,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Ask the server for your current projects and roles first.
    #[arg(long)]
    pub refresh: bool,
}

#[derive(Debug, Subcommand)]
pub enum PinCommand {
    /// Change the PIN: the current one is asked for (or $BOTHY_PIN), then the new one twice
    /// (or $BOTHY_NEW_PIN). The records are not rewritten: the store's key is wrapped anew.
    Change,
}

/// Parses `--lock-after`: `900`, `90s`, `15m`, `1h`, `0`.
fn parse_lock_after(s: &str) -> Result<std::time::Duration, String> {
    let s = s.trim();
    let (digits, unit) = match s.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => s.split_at(i),
        None => (s, "s"),
    };
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("`{s}` is not a duration such as 900, 90s, 15m or 1h"))?;
    let seconds = match unit.trim() {
        "s" => n,
        "m" => n.saturating_mul(60),
        "h" => n.saturating_mul(3600),
        _ => {
            return Err(format!(
                "`{s}` is not a duration such as 900, 90s, 15m or 1h"
            ));
        }
    };
    if seconds > 24 * 3600 {
        return Err(format!("`{s}` is longer than 24h"));
    }
    Ok(std::time::Duration::from_secs(seconds))
}

#[derive(Debug, Args)]
pub struct UseArgs {
    /// The project's slug.
    pub project: String,
}

#[derive(Debug, Args)]
pub struct AdminArgs {
    /// The server [default: the one this device is enrolled with].
    #[arg(long, global = true, env = "BOTHY_SERVER", value_name = "URL")]
    pub server: Option<String>,
    /// An admin's username.
    #[arg(long, global = true, env = "BOTHY_USER")]
    pub user: Option<String>,
    /// The admin's password (else $BOTHY_PASSWORD, else asked for).
    #[arg(
        long,
        allow_hyphen_values = true,
        global = true,
        env = "BOTHY_PASSWORD",
        hide_env_values = true
    )]
    pub password: Option<String>,
    #[command(subcommand)]
    pub command: AdminCommand,
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Projects.
    #[command(subcommand)]
    Project(AdminProjectCommand),
    /// User accounts.
    #[command(subcommand)]
    User(AdminUserCommand),
    /// One device: revoke it (and wipe it at its next contact), or list them all.
    #[command(subcommand)]
    Device(AdminDeviceCommand),
    /// Project membership.
    #[command(subcommand)]
    Member(AdminMemberCommand),
    /// Make a single-use enrolment code for a user's device; prints the code.
    Enrol(AdminEnrolArgs),
    /// List enrolled devices: last sync, app, unsynced records, revoked, wiped (and what the
    /// wipe lost). The same as `bothy admin device list`.
    Devices,
    /// Read the audit log, newest first (server admins; see also a project's own log).
    Audit(AdminAuditArgs),
    /// A project's sites.
    #[command(subcommand)]
    Site(AdminSetupCommand),
    /// A project's activities.
    #[command(subcommand)]
    Activity(AdminSetupCommand),
    /// A project's follow-up schedule: when questionnaires after baseline are due, in weeks
    /// after a participant's baseline or in sessions attended (project admins and
    /// coordinators set it; devices receive it on sync).
    #[command(subcommand)]
    Followups(AdminFollowupsCommand),
    /// Instruments: a project's own questionnaires (project admins and coordinators), and
    /// the wording of licensed ones (server admins).
    #[command(subcommand)]
    Instrument(AdminInstrumentCommand),
    /// A participant's subject rights: export everything held about them, or erase them
    /// (project admins and coordinators, server admins).
    #[command(subcommand)]
    Participant(AdminParticipantCommand),
}

#[derive(Debug, Subcommand)]
pub enum AdminParticipantCommand {
    /// Export everything the server holds about one participant as JSON, direct identifiers
    /// included (a subject access request). Keep the file safe.
    Export {
        /// The project's slug.
        project: String,
        /// The participant's record id.
        id: String,
        /// Write the JSON to this file (readable by its owner only) instead of printing it.
        #[arg(long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Erase a participant: their record, responses, stories and history leave the server,
    /// their attendance marks leave sessions, and devices purge them at their next sync. It
    /// cannot be undone.
    Erase {
        /// The project's slug.
        project: String,
        /// The participant's record id.
        id: String,
        /// Why (kept in the audit log: say why, never who).
        #[arg(long)]
        reason: Option<String>,
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum AdminSetupCommand {
    /// Add one.
    Add {
        /// The project's slug.
        project: String,
        /// Its slug: lowercase letters, digits and hyphens.
        slug: String,
        /// Its name.
        #[arg(long)]
        name: String,
        /// For an activity: its type.
        #[arg(long, value_parser = PossibleValuesParser::new(schema::ACTIVITY_TYPES))]
        activity_type: Option<String>,
        /// For an activity: the site it usually takes place at.
        #[arg(long)]
        site: Option<String>,
    },
    /// List them, archived ones too.
    List {
        /// The project's slug.
        project: String,
    },
    /// Archive one: devices stop offering it; sessions that name it keep it.
    Archive {
        /// The project's slug.
        project: String,
        /// Its slug.
        slug: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum AdminFollowupsCommand {
    /// Set (replace) the schedule, in order: each step is TIMEPOINT:Nw (N weeks after the
    /// participant's baseline, 1-260) or TIMEPOINT:Ns (after N sessions attended, 1-500), for
    /// timepoints interim, end and follow_up, each at most once. E.g. `interim:8w end:12w`,
    /// or `end:10s`.
    Set {
        /// The project's slug.
        project: String,
        /// The steps, in order.
        #[arg(required = true, value_name = "TIMEPOINT:Nw|Ns")]
        steps: Vec<String>,
    },
    /// Show the schedule.
    Show {
        /// The project's slug.
        project: String,
    },
    /// Clear the schedule: no follow-up is due by it any more.
    Clear {
        /// The project's slug.
        project: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum AdminInstrumentCommand {
    /// Load (replace) an instrument's wording from a JSON file:
    /// {"language","licence","items":{"1":"..."},"responses":{"1":"..."}}.
    Load {
        /// The wording file.
        file: PathBuf,
        /// WEMWBS, SWEMWBS or ONS4.
        #[arg(long)]
        instrument: String,
        /// Only for this project [default: server-wide].
        #[arg(long)]
        project: Option<String>,
    },
    /// Define (or correct) one of a project's own questionnaires from a JSON definition, or
    /// from a CSV file of items (one row per item) with a JSON scoring sidecar. It is checked
    /// here first, naming the line and column or field of every problem; devices receive it
    /// on their next sync.
    Define(AdminInstrumentDefineArgs),
    /// With --project: the questionnaires the project may use (built-ins and its own, every
    /// version). Without: the wordings loaded (not their text).
    List {
        /// The project's slug.
        #[arg(long)]
        project: Option<String>,
    },
}

#[derive(Debug, Args)]
pub struct AdminInstrumentDefineArgs {
    /// The definition: a JSON file, or a CSV file of items (a name ending in .csv; then
    /// --scoring is required).
    pub file: PathBuf,
    /// For a CSV definition: the JSON sidecar with its scoring (and optionally description,
    /// licensed_wording, codes, sources).
    #[arg(long, value_name = "SIDECAR.json")]
    pub scoring: Option<PathBuf>,
    /// The project's slug.
    #[arg(long)]
    pub project: String,
}

#[derive(Debug, Subcommand)]
pub enum AdminDeviceCommand {
    /// Revoke a device (a lost phone): at its next contact with the server it deletes every
    /// record and its credential, and reports what had not been synced.
    Revoke {
        /// The device's id (see `bothy admin devices`).
        id: String,
        /// Why (kept in the audit log).
        #[arg(long)]
        reason: String,
    },
    /// List enrolled devices (the same as `bothy admin devices`).
    List,
}

#[derive(Debug, Subcommand)]
pub enum AdminProjectCommand {
    /// Create a project.
    Create {
        /// Its slug: lowercase letters, digits and hyphens.
        slug: String,
        /// Its name.
        #[arg(long)]
        name: String,
    },
    /// List projects.
    List,
}

#[derive(Debug, Subcommand)]
pub enum AdminUserCommand {
    /// Create a user account (prints a generated password if none is given).
    Add {
        /// The login name.
        username: String,
        /// The new account's password [default: generated and printed once].
        #[arg(
            long = "new-password",
            allow_hyphen_values = true,
            value_name = "PASSWORD"
        )]
        new_password: Option<String>,
        /// Make the account a server admin.
        #[arg(long)]
        admin: bool,
    },
    /// Give a user a temporary password, which they must replace when they next log in
    /// (`bothy password`). Their logins end; their devices keep syncing.
    ResetPassword {
        /// The login name.
        username: String,
        /// The temporary password (at least 10 characters): pass it on safely.
        #[arg(
            long = "new-password",
            allow_hyphen_values = true,
            value_name = "PASSWORD"
        )]
        new_password: String,
    },
    /// Remove a user: no more logins, and none of their devices syncs again. Nothing they
    /// recorded is deleted.
    Remove {
        /// The login name.
        username: String,
        /// Why (kept in the audit log).
        #[arg(long)]
        reason: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum AdminMemberCommand {
    /// Give a user a role in a project.
    Add {
        /// The project's slug.
        project: String,
        /// The user.
        username: String,
        /// The role.
        #[arg(value_parser = PossibleValuesParser::new(Role::NAMES)
            .map(|name| Role::parse(&name).expect("a role's name")))]
        role: Role,
    },
    /// Take a user out of a project: their devices delete its records at their next sync.
    Remove {
        /// The project's slug.
        project: String,
        /// The user.
        username: String,
    },
}

#[derive(Debug, Args)]
pub struct AdminEnrolArgs {
    /// The user whose device will be enrolled.
    pub username: String,
    /// How long the code stays valid, in hours [default: the server's, 72].
    #[arg(long, value_name = "HOURS")]
    pub expires_in_hours: Option<u32>,
    /// Also write the QR code as an SVG image to FILE.
    #[arg(long, value_name = "FILE")]
    pub qr_svg: Option<PathBuf>,
    /// Also write the QR code as a PNG image to FILE.
    #[arg(long, value_name = "FILE")]
    pub qr_png: Option<PathBuf>,
    /// Do not print the QR code in the terminal.
    #[arg(long)]
    pub no_qr: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("bothy").chain(args.iter().copied()))
    }

    fn followups_command(args: &[&str]) -> AdminFollowupsCommand {
        match parse(args).unwrap().command {
            Command::Admin(AdminArgs {
                command: AdminCommand::Followups(c),
                ..
            }) => c,
            other => panic!("not `admin followups`: {other:?}"),
        }
    }

    #[test]
    fn followups_are_set_shown_and_cleared() {
        match followups_command(&["admin", "followups", "set", "p", "interim:8w", "end:12w"]) {
            AdminFollowupsCommand::Set { project, steps } => {
                assert_eq!(project, "p");
                assert_eq!(steps, ["interim:8w", "end:12w"]);
            }
            other => panic!("not set: {other:?}"),
        }
        match followups_command(&["admin", "followups", "set", "p", "end:10s"]) {
            AdminFollowupsCommand::Set { steps, .. } => assert_eq!(steps, ["end:10s"]),
            other => panic!("not set: {other:?}"),
        }
        assert!(matches!(
            followups_command(&["admin", "followups", "show", "p"]),
            AdminFollowupsCommand::Show { project } if project == "p"
        ));
        assert!(matches!(
            followups_command(&["admin", "followups", "clear", "p"]),
            AdminFollowupsCommand::Clear { project } if project == "p"
        ));
        // Setting nothing is not how a schedule is cleared.
        let err = parse(&["admin", "followups", "set", "p"]).unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::MissingRequiredArgument);
    }

    fn instrument_command(args: &[&str]) -> AdminInstrumentCommand {
        match parse(args).unwrap().command {
            Command::Admin(AdminArgs {
                command: AdminCommand::Instrument(c),
                ..
            }) => c,
            other => panic!("not `admin instrument`: {other:?}"),
        }
    }

    #[test]
    fn the_lock_time_is_seconds_minutes_or_hours_up_to_a_day() {
        let secs = |s: &str| parse_lock_after(s).map(|d| d.as_secs());
        assert_eq!(secs("900"), Ok(900));
        assert_eq!(secs("90s"), Ok(90));
        assert_eq!(secs("15m"), Ok(900));
        assert_eq!(secs("2h"), Ok(7200));
        assert_eq!(secs("0"), Ok(0));
        assert_eq!(secs("24h"), Ok(86_400));
        assert!(secs("25h").unwrap_err().contains("longer than 24h"));
        for bad in ["", "m", "15 min", "-5", "1.5h", "3x"] {
            assert!(secs(bad).is_err(), "{bad:?}");
        }
        match parse(&["--lock-after", "5m", "list"]) {
            Ok(cli) => assert_eq!(cli.lock_after, Some(std::time::Duration::from_secs(300))),
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn secrets_may_start_with_a_hyphen() {
        // Refresh tokens are base64url and passwords are anyone's choice: `-_x...` is a value.
        match parse(&["logout", "--refresh-token", "-_abc"])
            .unwrap()
            .command
        {
            Command::Logout(a) => assert_eq!(a.refresh_token.as_deref(), Some("-_abc")),
            other => panic!("not logout: {other:?}"),
        }
        match parse(&[
            "password",
            "--user",
            "rhona",
            "--password",
            "-old-password-",
            "--new-password",
            "--new-password-",
        ])
        .unwrap()
        .command
        {
            Command::Password(a) => {
                assert_eq!(a.password.as_deref(), Some("-old-password-"));
                assert_eq!(a.new_password.as_deref(), Some("--new-password-"));
            }
            other => panic!("not password: {other:?}"),
        }
    }

    #[test]
    fn admin_instrument_define_takes_a_file_an_optional_sidecar_and_the_project() {
        let c = instrument_command(&[
            "admin",
            "instrument",
            "define",
            "feedback.csv",
            "--scoring",
            "scoring.json",
            "--project",
            "highland-heritage",
        ]);
        let AdminInstrumentCommand::Define(d) = c else {
            panic!("not define: {c:?}")
        };
        assert_eq!(d.file, PathBuf::from("feedback.csv"));
        assert_eq!(d.scoring, Some(PathBuf::from("scoring.json")));
        assert_eq!(d.project, "highland-heritage");

        let c = instrument_command(&["admin", "instrument", "define", "d.json", "--project", "p"]);
        assert!(matches!(c, AdminInstrumentCommand::Define(d) if d.scoring.is_none()));

        let e = parse(&["admin", "instrument", "define", "d.json"]).unwrap_err();
        assert_eq!(e.kind(), clap::error::ErrorKind::MissingRequiredArgument);
        assert!(e.to_string().contains("--project"), "{e}");
        let e = parse(&["admin", "instrument", "define", "--project", "p"]).unwrap_err();
        assert_eq!(e.kind(), clap::error::ErrorKind::MissingRequiredArgument);
    }

    #[test]
    fn admin_instrument_list_and_load_keep_their_forms() {
        let c = instrument_command(&["admin", "instrument", "list", "--project", "p"]);
        assert!(matches!(c, AdminInstrumentCommand::List { project: Some(p) } if p == "p"));
        let c = instrument_command(&["admin", "instrument", "list"]);
        assert!(matches!(c, AdminInstrumentCommand::List { project: None }));
        let c = instrument_command(&[
            "admin",
            "instrument",
            "load",
            "w.json",
            "--instrument",
            "WEMWBS",
        ]);
        assert!(matches!(
            c,
            AdminInstrumentCommand::Load { project: None, .. }
        ));
    }

    #[test]
    fn wellbeing_commands_take_any_instrument_id() {
        let cli = parse(&[
            "wellbeing",
            "record",
            "--participant",
            "K7Q2-0001",
            "--instrument",
            "FEEDBACK5",
            "--timepoint",
            "baseline",
            "--items",
            "1,2,3",
        ])
        .unwrap();
        let Command::Wellbeing(WellbeingCommand::Record(r)) = cli.command else {
            panic!("not wellbeing record")
        };
        assert_eq!(r.instrument, "FEEDBACK5");

        let cli = parse(&["wellbeing", "items", "--instrument", "ucla3"]).unwrap();
        assert!(matches!(
            cli.command,
            Command::Wellbeing(WellbeingCommand::Items { instrument, project: None })
                if instrument == "ucla3"
        ));
        let cli = parse(&["wellbeing", "instruments", "--project", "p"]).unwrap();
        assert!(matches!(
            cli.command,
            Command::Wellbeing(WellbeingCommand::Instruments(SetupArgs { project: Some(p) }))
                if p == "p"
        ));
        let e = parse(&["wellbeing", "items"]).unwrap_err();
        assert_eq!(e.kind(), clap::error::ErrorKind::MissingRequiredArgument);
    }
}

#[derive(Debug, Args)]
pub struct AdminAuditArgs {
    /// Only entries about this project.
    #[arg(long)]
    pub project: Option<String>,
    /// Only this action (`device.enrol`) or family of actions (`device`).
    #[arg(long)]
    pub action: Option<String>,
    /// At most this many entries.
    #[arg(long, default_value_t = 100)]
    pub limit: u32,
}
