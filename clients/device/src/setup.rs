//! The project set-up received on sync: sites, activities and instrument wording, kept in the
//! store so forms show them offline.
//!
//! Sessions are checked against it at capture: when the set-up lists sites (or activities) for
//! a project, a new session's `site` (or `activity`) must be one of them, and capture is refused
//! with the field named otherwise. A project whose set-up lists none accepts any value, so a
//! device that has not synced since enrolment can still log sessions.

use crate::error::Result;
use crate::store::{self, key};
use crate::{Device, DeviceError};
use bothy_sync_core::protocol::{InstrumentWording, ProjectSetup, Setup, SetupActivity, SetupSite};
use bothy_sync_core::{FieldError, FieldValue, Instrument, wording};
use sqlx::SqliteConnection;

/// One project's set-up as forms use it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
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
}

/// The set-up held, as received (or empty).
pub(crate) async fn stored(conn: &mut SqliteConnection) -> Result<Setup> {
    Ok(store::meta_get(conn, key::SETUP)
        .await?
        .and_then(|s| serde_json::from_str(&s).ok())
        .unwrap_or_default())
}

/// Keeps a set-up received on sync (replacing the one held).
pub(crate) async fn keep(conn: &mut SqliteConnection, setup: &Setup) -> Result<()> {
    if setup.version.is_empty() {
        store::meta_delete(conn, key::SETUP).await
    } else {
        let json = serde_json::to_string(setup).expect("a set-up always serialises");
        store::meta_set(conn, key::SETUP, &json).await
    }
}

fn forms(project: &str, got: Option<&ProjectSetup>) -> ProjectForms {
    let mut instruments = got.map(|p| p.instruments.clone()).unwrap_or_default();
    for inst in [Instrument::Wemwbs, Instrument::Swemwbs, Instrument::Ons4] {
        if !instruments.iter().any(|w| w.instrument == inst.as_str()) {
            instruments.push(wording::fallback(inst));
        }
    }
    ProjectForms {
        project: project.to_owned(),
        sites: got.map(|p| p.sites.clone()).unwrap_or_default(),
        activities: got.map(|p| p.activities.clone()).unwrap_or_default(),
        instruments,
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
    /// The set-up of every project this device's user belongs to: sites, activities and the
    /// instrument wording forms show, as last received on sync (works offline).
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
