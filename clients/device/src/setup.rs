//! The project set-up received on sync: sites, activities, instrument wording and the
//! project's own instrument definitions, kept in the store so forms show them offline.
//!
//! Sessions are checked against it at capture: when the set-up lists sites (or activities) for
//! a project, a new session's `site` (or `activity`) must be one of them, and capture is refused
//! with the field named otherwise. A project whose set-up lists none accepts any value, so a
//! device that has not synced since enrolment can still log sessions.
//!
//! A project's own instruments ([`Definition`]s) arrive in the set-up too. They are made known
//! to sync-core's catalogue ([`instrument::define`]) when a set-up is received, before the
//! records of the same answer are applied, and again whenever the store is opened, so a device
//! checks and scores responses of them offline, after a restart as before.

use crate::error::Result;
use crate::store::{self, key};
use crate::{Device, DeviceError};
use bothy_sync_core::instrument::{self, Definition, Scale};
use bothy_sync_core::protocol::{InstrumentWording, ProjectSetup, Setup, SetupActivity, SetupSite};
use bothy_sync_core::{FieldError, FieldValue, Instrument, wording};
use serde::Serialize;
use sqlx::SqliteConnection;
use std::collections::BTreeMap;

/// One project's set-up as forms use it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProjectForms {
    /// The project.
    pub project: String,
    /// Its sites (archived ones left out).
    pub sites: Vec<SetupSite>,
    /// Its activities (archived ones left out).
    pub activities: Vec<SetupActivity>,
    /// The wording of each instrument (WEMWBS, SWEMWBS, ONS4), one per language supplied, or
    /// the neutral fallback ("WEMWBS item 1"...; ONS4's public wording) when none was.
    pub instruments: Vec<InstrumentWording>,
    /// The questionnaires forms offer: the built-ins, then the newest version of each of the
    /// project's own (by id).
    pub definitions: Vec<Definition>,
}

/// A questionnaire ready to show: its items with the words to show and their answers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InstrumentForm {
    /// The instrument's id (`WEMWBS`, a project's `FEEDBACK5`).
    pub instrument: String,
    /// The version of its definition.
    pub version: u32,
    /// Its name for people.
    pub name: String,
    /// Built into Bothy, rather than defined by the project.
    pub builtin: bool,
    /// The language of the wording supplied for it, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// The licence the wording is used under, if one was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub licence: Option<String>,
    /// The questions, in order.
    pub items: Vec<FormItem>,
}

/// One question of an [`InstrumentForm`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FormItem {
    /// Its number (answers are stored under it).
    pub number: u8,
    /// Its short name, if the definition gives one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// What to show: the wording supplied, else the definition's text, else a neutral label
    /// (`WEMWBS item 1`) when the wording is licensed and none was supplied.
    pub text: String,
    /// The allowed answers.
    pub scale: Scale,
    /// Labels of answers, by value (from the wording supplied, else the definition).
    pub labels: BTreeMap<i64, String>,
    /// Reverse-scored.
    pub reverse: bool,
}

impl ProjectForms {
    /// The wording of one instrument to show (the first language supplied, else the fallback).
    pub fn wording(&self, instrument: Instrument) -> InstrumentWording {
        self.instruments
            .iter()
            .find(|w| w.instrument == instrument.as_str())
            .cloned()
            .unwrap_or_else(|| wording::fallback(instrument))
    }

    /// The questionnaire with this id (ignoring case): a built-in or the newest version of one
    /// of the project's own.
    pub fn definition(&self, id: &str) -> Option<&Definition> {
        let id = id.trim();
        self.definitions
            .iter()
            .find(|d| d.id.eq_ignore_ascii_case(id))
    }

    /// The ids of the questionnaires forms offer, built-ins first.
    pub fn instrument_ids(&self) -> Vec<&str> {
        self.definitions.iter().map(|d| d.id.as_str()).collect()
    }

    /// A questionnaire ready to show (see [`ProjectForms::definition`] for `id`).
    pub fn form(&self, id: &str) -> Option<InstrumentForm> {
        let def = self.definition(id)?;
        let supplied = self
            .instruments
            .iter()
            .find(|w| w.instrument == def.id && !w.language.is_empty());
        let items = def
            .items
            .iter()
            .map(|item| {
                let text = supplied
                    .and_then(|w| w.items.get(&item.number).cloned())
                    .or_else(|| item.text.clone())
                    .unwrap_or_else(|| format!("{} item {}", def.id, item.number));
                let mut labels: BTreeMap<i64, String> = item
                    .scale
                    .values
                    .iter()
                    .filter_map(|v| Some((v.value, v.label.clone()?)))
                    .collect();
                if let Some(w) = supplied {
                    for (value, label) in &w.responses {
                        if item.scale.allows(*value) {
                            labels.insert(*value, label.clone());
                        }
                    }
                }
                FormItem {
                    number: item.number,
                    key: item.key.clone(),
                    text,
                    scale: item.scale.clone(),
                    labels,
                    reverse: item.reverse,
                }
            })
            .collect();
        Some(InstrumentForm {
            instrument: def.id.clone(),
            version: def.version,
            name: def.name.clone(),
            builtin: instrument::builtin(&def.id).is_some(),
            language: supplied.map(|w| w.language.clone()),
            licence: supplied.and_then(|w| w.licence.clone()),
            items,
        })
    }
}

/// Makes the project definitions of a set-up known to this process's catalogue of instruments,
/// so responses of them are checked and scored. A definition that fails its own checks (which
/// the server never sends) is skipped with a warning rather than trusted.
pub(crate) fn register(setup: &Setup) {
    for p in &setup.projects {
        for def in &p.definitions {
            match def.validate() {
                Ok(()) => instrument::define(&p.project, def.clone()),
                Err(errs) => {
                    let list: Vec<String> = errs.iter().map(ToString::to_string).collect();
                    tracing::warn!(
                        project = %p.project,
                        instrument = %def.id,
                        version = def.version,
                        problems = %list.join("; "),
                        "ignoring an invalid instrument definition in the set-up"
                    );
                }
            }
        }
    }
}

/// Registers the definitions of the set-up held in the store (see [`register`]).
pub(crate) async fn register_stored(conn: &mut SqliteConnection) -> Result<()> {
    register(&stored(conn).await?);
    Ok(())
}

/// The set-up held, as received (or empty).
pub(crate) async fn stored(conn: &mut SqliteConnection) -> Result<Setup> {
    Ok(store::meta_get(conn, key::SETUP)
        .await?
        .and_then(|s| serde_json::from_str(&s).ok())
        .unwrap_or_default())
}

/// Keeps a set-up received on sync (replacing the one held) and registers its instrument
/// definitions ([`register`]).
pub(crate) async fn keep(conn: &mut SqliteConnection, setup: &Setup) -> Result<()> {
    register(setup);
    if setup.version.is_empty() {
        store::meta_delete(conn, key::SETUP).await
    } else {
        let json = serde_json::to_string(setup).expect("a set-up always serialises");
        store::meta_set(conn, key::SETUP, &json).await
    }
}

pub(crate) fn forms(project: &str, got: Option<&ProjectSetup>) -> ProjectForms {
    let mut instruments = got.map(|p| p.instruments.clone()).unwrap_or_default();
    for inst in [Instrument::Wemwbs, Instrument::Swemwbs, Instrument::Ons4] {
        if !instruments.iter().any(|w| w.instrument == inst.as_str()) {
            instruments.push(wording::fallback(inst));
        }
    }
    let mut definitions: Vec<Definition> = instrument::builtins().to_vec();
    let mut own: BTreeMap<&str, &Definition> = BTreeMap::new();
    for def in got.map(|p| p.definitions.as_slice()).unwrap_or_default() {
        if instrument::builtin(&def.id).is_some() {
            continue; // a built-in id always means the built-in
        }
        match own.get(def.id.as_str()) {
            Some(have) if have.version >= def.version => {}
            _ => {
                own.insert(&def.id, def);
            }
        }
    }
    definitions.extend(own.into_values().cloned());
    ProjectForms {
        project: project.to_owned(),
        sites: got.map(|p| p.sites.clone()).unwrap_or_default(),
        activities: got.map(|p| p.activities.clone()).unwrap_or_default(),
        instruments,
        definitions,
    }
}

/// Refuses a session whose `site` or `activity` is not in the project's set-up, when the
/// set-up lists any.
pub(crate) async fn check_session(
    conn: &mut SqliteConnection,
    project: &str,
    fields: &[(&str, FieldValue)],
) -> Result<()> {
    let setup = stored(conn).await?;
    let Some(p) = setup.projects.iter().find(|p| p.project == project) else {
        return Ok(());
    };
    let value = |name: &str| {
        fields.iter().find_map(|(f, v)| match v {
            FieldValue::Str(s) if *f == name => Some(s.clone()),
            _ => None,
        })
    };
    let mut errors = Vec::new();
    let checks: [(&str, Vec<&str>); 2] = [
        ("site", p.sites.iter().map(|s| s.slug.as_str()).collect()),
        (
            "activity",
            p.activities.iter().map(|a| a.slug.as_str()).collect(),
        ),
    ];
    for (field, known) in checks {
        if known.is_empty() {
            continue;
        }
        if let Some(v) = value(field)
            && !known.contains(&v.as_str())
        {
            errors.push(FieldError::new(
                field,
                format!(
                    "`{v}` is not a {field} of project {project}; choose one of: {} \
                     (sync to receive new ones)",
                    known.join(", ")
                ),
            ));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(DeviceError::Invalid(errors))
    }
}

impl Device {
    /// The set-up of every project this device's user belongs to: sites, activities, the
    /// instrument wording forms show and the questionnaires they offer, as last received on
    /// sync (works offline).
    pub async fn setup(&self) -> Result<Vec<ProjectForms>> {
        let identity = self.require_identity().await?;
        let mut conn = self.pool.acquire().await?;
        let setup = stored(&mut conn).await?;
        let mut projects: Vec<String> = identity
            .memberships
            .iter()
            .map(|m| m.project.clone())
            .collect();
        for p in &setup.projects {
            if !projects.contains(&p.project) {
                projects.push(p.project.clone());
            }
        }
        projects.sort();
        Ok(projects
            .iter()
            .map(|p| forms(p, setup.projects.iter().find(|s| &s.project == p)))
            .collect())
    }

    /// The set-up of one project (the default project if `None`).
    pub async fn project_setup(&self, project: Option<&str>) -> Result<ProjectForms> {
        let identity = self.require_identity().await?;
        let project = match project {
            Some(p) => p.to_owned(),
            None => identity.writable_project(None)?,
        };
        let mut conn = self.pool.acquire().await?;
        let setup = stored(&mut conn).await?;
        Ok(forms(
            &project,
            setup.projects.iter().find(|s| s.project == project),
        ))
    }
}
