//! The project set-up a device is sent on sync ([`setup_for`]): sites, activities, instrument
//! wording, the project's own instrument definitions ([`crate::instruments`]) and its
//! follow-up schedule, with the user's role in each project, so forms show them offline and
//! devices refuse at capture what that role may not record.

use crate::storage::{self, Db};
use bothy_sync_core::Instrument;
use bothy_sync_core::protocol::{InstrumentWording, ProjectSetup, Setup, SetupActivity, SetupSite};
use std::collections::BTreeMap;

/// The set-up of the projects in `roles` (project slug to the user's role) as devices receive
/// it, with the roles and its version: sites, activities, instrument wording, every version
/// of the project's own instrument definitions, and its follow-up schedule. The version is a
/// hash of all of it, so any change reaches devices. Projects with nothing set up are left out
/// of `projects`; when the user has no project at all, the version is empty.
pub async fn setup_for(db: &Db, roles: &BTreeMap<String, String>) -> Result<Setup, sqlx::Error> {
    // Read before computing: a change made meanwhile moves the epoch past what is kept.
    let Some(row) = storage::setup::setup_epoch(&db.pool).await? else {
        return compute_setup(db, roles).await;
    };
    let epoch = row.n;
    let generation = row.generation.unwrap_or_default();
    let key = serde_json::to_string(roles).unwrap_or_default();
    if let Some(setup) = db.setup_cache.get(&key, &generation, epoch) {
        return Ok(setup);
    }
    let setup = compute_setup(db, roles).await?;
    db.setup_cache.put(key, generation, epoch, setup.clone());
    Ok(setup)
}

/// Computes the set-up for a user with `roles`, from the database.
async fn compute_setup(db: &Db, roles: &BTreeMap<String, String>) -> Result<Setup, sqlx::Error> {
    let sorted: Vec<&String> = roles.keys().collect();
    let mut out = Vec::new();
    let wording = storage::setup::wordings(&db.pool).await?;
    for project in sorted {
        let sites = storage::setup::live_sites(&db.pool, project)
            .await?
            .into_iter()
            .map(|r| SetupSite {
                slug: r.slug,
                name: r.name,
            })
            .collect::<Vec<_>>();
        let activities = storage::setup::live_activities(&db.pool, project)
            .await?
            .into_iter()
            .map(|r| SetupActivity {
                slug: r.slug,
                name: r.name,
                activity_type: r.activity_type,
                site: r.site,
            })
            .collect::<Vec<_>>();
        let mut instruments = Vec::new();
        for inst in [Instrument::Wemwbs, Instrument::Swemwbs, Instrument::Ons4] {
            let of = |p: &str| {
                wording
                    .iter()
                    .filter(|r| r.instrument == inst.as_str() && r.project == p)
                    .collect::<Vec<_>>()
            };
            let mut rows = of(project);
            if rows.is_empty() {
                rows = of("");
            }
            for r in rows {
                instruments.push(InstrumentWording {
                    instrument: inst.as_str().to_owned(),
                    language: r.language.clone(),
                    licence: r.licence.clone(),
                    version: u32::try_from(r.version).unwrap_or(u32::MAX),
                    items: serde_json::from_str(&r.items).unwrap_or_default(),
                    responses: serde_json::from_str(&r.responses).unwrap_or_default(),
                });
            }
        }
        let definitions = crate::instruments::stored(db, project).await?;
        // A definition stored by another server process on the same database becomes known to
        // this one here, at the latest at the next sync of one of the project's devices.
        for def in &definitions {
            if bothy_sync_core::instrument::lookup(project, &def.id, Some(def.version)).as_deref()
                != Some(def)
            {
                bothy_sync_core::instrument::define(project, def.clone());
            }
        }
        let followups = storage::setup::followup_schedule(&db.pool, project).await?;
        if !(sites.is_empty()
            && activities.is_empty()
            && instruments.is_empty()
            && definitions.is_empty()
            && followups.is_empty())
        {
            out.push(ProjectSetup {
                project: project.clone(),
                sites,
                activities,
                instruments,
                definitions,
                followups,
            });
        }
    }
    let version = if out.is_empty() && roles.is_empty() {
        String::new()
    } else {
        let canonical = serde_json::to_string(&(&out, roles)).unwrap_or_default();
        crate::access::auth::sha256_hex(&canonical)[..16].to_owned()
    };
    Ok(Setup {
        version,
        projects: out,
        roles: Some(roles.clone()),
    })
}
