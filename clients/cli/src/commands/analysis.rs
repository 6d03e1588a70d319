//! `bothy export` and `bothy report`: an analyst's tools. They log in with the analyst's own
//! account (nothing is stored) and stream the answer to a file or standard output, so a large
//! export never sits in memory.

use crate::args::{AnalysisArgs, ExportArgs, ReportArgs};
use crate::commands::APP;
use crate::commands::admin::{enrolled_server, query_value};
use crate::interact;
use anyhow::{Context, Result, anyhow};
use bothy_device::ServerApi;
use std::path::Path;

/// Logs in; returns the API and an access token.
async fn connect(a: &AnalysisArgs, store: &Path) -> Result<(ServerApi, String)> {
    let server = match &a.server {
        Some(s) => s.clone(),
        None => enrolled_server(store)
            .await
            .ok_or_else(|| anyhow!("give the server with --server URL or $BOTHY_SERVER"))?,
    };
    let user = a
        .user
        .clone()
        .ok_or_else(|| anyhow!("give your username with --user or $BOTHY_USER"))?;
    let api = ServerApi::new(&server, APP)?;
    let password = interact::password(a.password.clone(), &user)?;
    let token = api.login(&user, &password).await?.access_token;
    Ok((api, token))
}

/// The query string of filters and extra parameters (empty values left out).
fn query(a: &AnalysisArgs, extra: &[(&str, Option<String>)]) -> String {
    let mut parts = Vec::new();
    for (k, v) in [
        ("site", a.site.clone()),
        ("activity", a.activity.clone()),
        ("from", a.from.clone()),
        ("to", a.to.clone()),
    ]
    .into_iter()
    .chain(extra.iter().cloned())
    {
        if let Some(v) = v {
            parts.push(format!("{k}={}", query_value(&v)));
        }
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!("?{}", parts.join("&"))
    }
}

/// Streams `path` to the output file (written to a temporary name, then renamed, so a failed
/// download never leaves a partial file under the real name) or to standard output.
async fn download(api: &ServerApi, token: &str, path: &str, output: Option<&Path>) -> Result<()> {
    match output {
        Some(file) => {
            let partial = file.with_extension("partial");
            let mut f = std::io::BufWriter::new(
                std::fs::File::create(&partial)
                    .with_context(|| format!("cannot create {}", partial.display()))?,
            );
            let result = api.get_to(path, Some(token), &mut f).await;
            drop(f);
            match result {
                Ok(bytes) => {
                    std::fs::rename(&partial, file)
                        .with_context(|| format!("cannot write {}", file.display()))?;
                    eprintln!("wrote {} ({bytes} bytes)", file.display());
                    Ok(())
                }
                Err(e) => {
                    let _ = std::fs::remove_file(&partial);
                    Err(e.into())
                }
            }
        }
        None => {
            let mut out = crate::output::stdout();
            api.get_to(path, Some(token), &mut out).await?;
            Ok(())
        }
    }
}

/// `bothy export DATASET --project P`, or `bothy export --format datapackage --project P`.
pub async fn export(a: ExportArgs, store: &Path) -> Result<()> {
    let binary = matches!(a.format.as_str(), "parquet" | "datapackage");
    if binary && a.common.output.is_none() && std::io::IsTerminal::is_terminal(&std::io::stdout()) {
        return Err(anyhow!(
            "a {} export is binary: write it to a file with `-o FILE` (or pipe it to a program)",
            a.format
        ));
    }
    let project = query_value(&a.common.project);
    let path = match (a.format.as_str(), &a.dataset) {
        ("datapackage", dataset) => format!(
            "/api/v1/projects/{project}/data-package{}",
            query(
                &a.common,
                &[
                    ("datasets", dataset.clone()),
                    ("timepoint", a.timepoint.clone())
                ]
            )
        ),
        (format, Some(dataset)) => format!(
            "/api/v1/projects/{project}/exports/{dataset}{}",
            query(
                &a.common,
                &[
                    ("format", Some(format.to_owned())),
                    ("timepoint", a.timepoint.clone())
                ]
            )
        ),
        (_, None) => {
            return Err(anyhow!(
                "name the dataset to export (participants, sessions, attendance, wellbeing, \
                 wellbeing_items, outcome_pairs or stories), or export them all with \
                 `--format datapackage -o FILE.zip`"
            ));
        }
    };
    let (api, token) = connect(&a.common, store).await?;
    download(&api, &token, &path, a.common.output.as_deref()).await
}

/// `bothy report REPORT --project P`.
pub async fn report(a: ReportArgs, store: &Path) -> Result<()> {
    if a.report != "quarterly" && a.format.as_deref().is_some_and(|f| f != "json") {
        return Err(anyhow!(
            "only the quarterly report has formats other than json"
        ));
    }
    if a.report != "sites" && a.sites.is_some() {
        return Err(anyhow!(
            "--sites is for the sites report; for one site in the {} report use --site",
            a.report
        ));
    }
    if a.report == "sites" && a.common.site.is_some() {
        return Err(anyhow!(
            "the sites report takes --sites (codes separated by commas, or all), not --site"
        ));
    }
    let (api, token) = connect(&a.common, store).await?;
    let path = format!(
        "/api/v1/projects/{}/reports/{}{}",
        query_value(&a.common.project),
        a.report,
        query(
            &a.common,
            &[
                ("format", a.format.clone()),
                ("quarter", a.quarter.clone()),
                ("sites", a.sites.clone()),
                ("timepoint", a.timepoint.clone()),
                (
                    "wemwbs_threshold",
                    a.wemwbs_threshold.map(|t| t.to_string())
                ),
                (
                    "swemwbs_threshold",
                    a.swemwbs_threshold.map(|t| t.to_string())
                ),
                ("instrument", a.instrument.clone()),
                (
                    "instrument_version",
                    a.instrument_version.map(|v| v.to_string())
                ),
            ]
        )
    );
    download(&api, &token, &path, a.common.output.as_deref()).await
}
