//! What the dashboard's pages show, computed from storage: the projects a user may analyse, and
//! the sites and activities its filter form offers, named as analysts see them. The pages'
//! HTML is made by the dashboard's routes.

use crate::access::auth::UserAuth;
use crate::access::roles::{Capability, Role};
use crate::analysis::redact::Redactor;
use crate::storage::{self, Db};
use std::collections::{BTreeSet, HashMap};

/// A project a user may analyse.
#[derive(Debug, Clone)]
pub struct AnalysableProject {
    /// Its slug.
    pub slug: String,
    /// Its name.
    pub name: String,
    /// The user's role in it; empty for a server admin who is not a member.
    pub role: String,
}

/// The projects a user may analyse, by name.
pub async fn analysable_projects(
    db: &Db,
    user: &UserAuth,
) -> Result<Vec<AnalysableProject>, sqlx::Error> {
    Ok(
        storage::analysis::projects_with_role(&db.pool, &user.user_id)
            .await?
            .into_iter()
            .map(|r| AnalysableProject {
                slug: r.slug,
                name: r.name,
                role: r.role.unwrap_or_default(),
            })
            .filter(|p| {
                crate::access::roles::allows(
                    user.is_admin,
                    Role::parse(&p.role).ok(),
                    Capability::Analyse,
                )
            })
            .collect(),
    )
}

/// Sites and activities to offer in the filter form: (value, name) of each, from the project's
/// set-up and from the sessions recorded.
#[derive(Debug, Clone, Default)]
pub struct FilterOptions {
    /// The sites, by name.
    pub sites: Vec<(String, String)>,
    /// The activities, by name.
    pub activities: Vec<(String, String)>,
}

/// Codes and names both as analysts see them (codes of sessions are typed in the field: see
/// [`crate::analysis::redact`]).
fn redacted(rows: Vec<storage::analysis::Named>, redactor: &Redactor) -> HashMap<String, String> {
    rows.into_iter()
        .map(|r| (redactor.redact(&r.slug), redactor.redact(&r.name)))
        .collect()
}

/// The names of a project's sites by code, as analysts see them.
pub async fn site_names(
    db: &Db,
    project: &str,
    redactor: &Redactor,
) -> Result<HashMap<String, String>, sqlx::Error> {
    Ok(redacted(
        storage::analysis::sites(&db.pool, project).await?,
        redactor,
    ))
}

/// The names of a project's activities by code, as analysts see them.
pub async fn activity_names(
    db: &Db,
    project: &str,
    redactor: &Redactor,
) -> Result<HashMap<String, String>, sqlx::Error> {
    Ok(redacted(
        storage::analysis::activities(&db.pool, project).await?,
        redactor,
    ))
}

/// The sites and activities a project's filter form offers: those of its set-up and those its
/// sessions were recorded with, each with its name (its code when it has none), by name.
pub async fn filter_options(db: &Db, project: &str) -> Result<FilterOptions, sqlx::Error> {
    let redactor = Redactor::load(db, project).await?;
    let site_names = site_names(db, project, &redactor).await?;
    let activity_names = activity_names(db, project, &redactor).await?;
    let rows = storage::analysis::session_sites_and_activities(&db.pool, project).await?;
    let mut sites: BTreeSet<String> = site_names.keys().cloned().collect();
    let mut activities: BTreeSet<String> = activity_names.keys().cloned().collect();
    for r in rows {
        sites.insert(redactor.redact(&r.site));
        activities.insert(redactor.redact(&r.activity));
    }
    let named = |set: BTreeSet<String>, names: &HashMap<String, String>| {
        let mut v: Vec<(String, String)> = set
            .into_iter()
            .map(|s| {
                let n = names.get(&s).cloned().unwrap_or_else(|| s.clone());
                (s, n)
            })
            .collect();
        v.sort_by_key(|a| a.1.to_lowercase());
        v
    };
    Ok(FilterOptions {
        sites: named(sites, &site_names),
        activities: named(activities, &activity_names),
    })
}
