//! Analyst access: tidy exports (streamed CSV, JSON Lines or Parquet, and the zipped data
//! package of them all), the data dictionary, and reports
//! (wellbeing outcomes, attendance and retention, equity breakdowns, the quarterly report).
//! Open to a project's admins, coordinators and analysts, and to server admins; every export
//! and report is recorded in the audit log.

use crate::access::audit::{self, Actor};
use crate::access::auth::UserAuth;
use crate::access::roles::{Capability, ProjectAccess};
use crate::analysis::export::{self, Dataset, Filters, Format, Redactor, RowMaker, Thresholds};
use crate::analysis::{package, reports, sites};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::storage;
use axum::Json;
use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::{Value, json};

use super::PathParams;

/// Query parameters shared by exports and reports. Everything is optional and checked here so
/// a bad value gets a message that names it.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AnalysisQuery {
    /// `csv` (default), `jsonl` or `parquet` for exports; `json` (default), `md`, `csv` or
    /// `html` for the quarterly report.
    pub format: Option<String>,
    /// Only this site.
    pub site: Option<String>,
    /// Only this activity.
    pub activity: Option<String>,
    /// From this date (`YYYY-MM-DD`, inclusive).
    #[param(format = Date)]
    pub from: Option<String>,
    /// Up to this date (`YYYY-MM-DD`, inclusive; not before `from`).
    #[param(format = Date)]
    pub to: Option<String>,
    /// Wellbeing export: only this timepoint. Outcomes and the `outcome_pairs` export: the
    /// follow-up timepoint paired with baseline (`end`, the default, `interim` or `follow_up`).
    pub timepoint: Option<String>,
    /// Reliable-change threshold for WEMWBS, in points (default: the server's setting).
    #[param(exclusive_minimum = 0, maximum = 56)]
    pub wemwbs_threshold: Option<f64>,
    /// Reliable-change threshold for SWEMWBS metric scores, in points.
    #[param(exclusive_minimum = 0, maximum = 56)]
    pub swemwbs_threshold: Option<f64>,
    /// Outcomes: only this instrument's measures (a built-in id such as `UCLA3`, or one of the
    /// project's own instruments with a total score). Default: every measure.
    pub instrument: Option<String>,
    /// Outcomes, with `instrument`: only this version of a project's own instrument
    /// (default: every version).
    #[param(minimum = 1, maximum = 65535)]
    pub instrument_version: Option<u32>,
    /// Quarterly report: the quarter, `YYYY-Qn` from 2000 to 2200 (default: the current
    /// quarter).
    #[param(pattern = "^(20[0-9]{2}|21[0-9]{2}|2200)[- ][Qq][1-4]$")]
    pub quarter: Option<String>,
}

impl AnalysisQuery {
    /// A date written exactly as `YYYY-MM-DD` (as the document's `format: date` says: no
    /// missing zeros, no signs).
    fn date(name: &str, v: &Option<String>) -> ApiResult<Option<NaiveDate>> {
        v.as_deref()
            .map(|s| {
                NaiveDate::parse_from_str(s, "%Y-%m-%d")
                    .ok()
                    .filter(|d| d.format("%Y-%m-%d").to_string() == s)
                    .ok_or_else(|| {
                        ApiError::bad(
                            "invalid_query",
                            format!("`{name}` must be a date as YYYY-MM-DD, not `{s}`"),
                        )
                    })
            })
            .transpose()
    }

    /// The row filters.
    pub fn filters(&self) -> ApiResult<Filters> {
        Ok(Filters {
            site: self.site.clone().filter(|s| !s.is_empty()),
            activity: self.activity.clone().filter(|s| !s.is_empty()),
            from: Self::date("from", &self.from)?,
            to: Self::date("to", &self.to)?,
            timepoint: self.timepoint.clone(),
        })
    }

    /// The thresholds: the request's, else the server's settings.
    pub fn thresholds(&self, state: &AppState) -> ApiResult<Thresholds> {
        let t = Thresholds {
            wemwbs: self
                .wemwbs_threshold
                .unwrap_or(state.config.wemwbs_threshold),
            swemwbs: self
                .swemwbs_threshold
                .unwrap_or(state.config.swemwbs_threshold),
        };
        for (name, v) in [
            ("wemwbs_threshold", t.wemwbs),
            ("swemwbs_threshold", t.swemwbs),
        ] {
            if !(v.is_finite() && v > 0.0 && v <= 56.0) {
                return Err(ApiError::bad(
                    "invalid_query",
                    format!("`{name}` must be a number of points above 0, not {v}"),
                ));
            }
        }
        Ok(t)
    }
}

/// The query, with its quarter checked as the document writes it wherever it is given.
pub(crate) fn query_params(
    q: Result<Query<AnalysisQuery>, QueryRejection>,
) -> ApiResult<AnalysisQuery> {
    let q = q
        .map(|Query(q)| q)
        .map_err(|e| ApiError::bad("invalid_query", e.body_text()))?;
    if let Some(text) = q.quarter.as_deref()
        && !quarter_syntax(text)
    {
        return Err(ApiError::bad(
            "invalid_query",
            format!("`quarter` must look like 2026-Q3, not `{text}`"),
        ));
    }
    if let Some(v) = q.instrument_version
        && !(1..=65_535).contains(&v)
    {
        return Err(ApiError::bad(
            "invalid_query",
            format!("`instrument_version` must be 1 to 65535, not {v}"),
        ));
    }
    Ok(q)
}

/// Whether the project is a demo programme (synthetic people): its reports say so and its
/// downloads are named `bothy-demo-…`.
async fn is_demo(state: &AppState, slug: &str) -> ApiResult<bool> {
    Ok(storage::demo::is_demo(&state.db.pool, slug)
        .await?
        .unwrap_or(false))
}

/// A JSON report with `demo` added: `true` for a demo programme, else `false`.
fn with_demo(mut report: Value, demo: bool) -> Value {
    if let Some(fields) = report.as_object_mut() {
        fields.insert("demo".to_owned(), Value::Bool(demo));
    }
    report
}

/// The start of a download's file name: `bothy-demo-{slug}` for a demo programme, else
/// `bothy-{slug}`.
fn file_stem(slug: &str, demo: bool) -> String {
    if demo {
        format!("bothy-demo-{slug}")
    } else {
        format!("bothy-{slug}")
    }
}

/// `GET /api/v1/projects/{slug}/exports/{dataset}`: one dataset as CSV, JSON Lines or Parquet.
#[utoipa::path(
    get,
    path = "/api/v1/projects/{slug}/exports/{dataset}",
    tag = "analysis",
    security(("user_token" = [])),
    params(
        ("slug" = String, Path, description = "The project's slug"),
        ("dataset" = String, Path, description = "`participants`, `sessions`, `attendance`, `wellbeing`, `wellbeing_items`, `outcome_pairs` (the outcomes report's baseline and follow-up pairs, one row per participant and measure) or `stories`"),
        AnalysisQuery,
    ),
    responses(
        (status = 200, description = "The rows, streamed: `text/csv` with a header row, `application/x-ndjson`, or `application/vnd.apache.parquet` (typed columns: categories as dictionaries, dates as dates; the filters and export time in the file's metadata). Columns as in the data dictionary."),
        (status = 400, description = "`invalid_query`: an unknown dataset or format, a bad date, `from` after `to`, `timepoint` outside wellbeing and outcome_pairs (or `baseline` for outcome_pairs)", body = crate::openapi::ErrorBody),
        (status = 401, description = "no valid credential", body = crate::openapi::ErrorBody),
        (status = 403, description = "not an admin, coordinator or analyst of the project", body = crate::openapi::ErrorBody),
        (status = 404, description = "no such project (server admins; others get 403)", body = crate::openapi::ErrorBody),
        (status = 500, description = "internal error", body = crate::openapi::ErrorBody),
        (status = 503, description = "the database is unavailable", body = crate::openapi::ErrorBody),
    )
)]
pub async fn export(
    State(state): State<AppState>,
    user: UserAuth,
    PathParams((slug, dataset)): PathParams<(String, String)>,
    q: Result<Query<AnalysisQuery>, QueryRejection>,
) -> ApiResult<Response> {
    let q = query_params(q)?;
    let dataset = Dataset::parse(&dataset).ok_or_else(|| {
        ApiError::bad(
            "invalid_query",
            format!(
                "no dataset `{dataset}`: choose participants, sessions, attendance, wellbeing, wellbeing_items, outcome_pairs or stories"
            ),
        )
    })?;
    let format = match q.format.as_deref() {
        None => Format::Csv,
        Some(f) => Format::parse(f).ok_or_else(|| {
            ApiError::bad(
                "invalid_query",
                format!("`format` must be csv, jsonl or parquet, not `{f}`"),
            )
        })?,
    };
    let filters = q.filters()?;
    filters
        .check(dataset)
        .map_err(|m| ApiError::bad("invalid_query", m))?;
    let thresholds = q.thresholds(&state)?;
    ProjectAccess::require(&state, &user, &slug, Capability::Analyse).await?;
    let demo = is_demo(&state, &slug).await?;

    let redactor = Redactor::load(&state.db, &slug).await?;
    let mut maker = RowMaker::new(dataset, thresholds, redactor).for_demo(demo);
    if dataset == Dataset::Wellbeing {
        maker = maker
            .with_item_columns(export::wellbeing_item_columns(&state.db, &slug, &filters).await?);
    }
    audit::record(
        &state.db.pool,
        &Actor::user(&user),
        "export",
        Some(&slug),
        Some(dataset.as_str()),
        json!({
            "dataset": dataset.as_str(),
            "format": format.extension(),
            "site": filters.site, "activity": filters.activity,
            "from": filters.from, "to": filters.to, "timepoint": filters.timepoint,
        }),
    )
    .await?;

    let mut chunks = export::stream_rows(
        state.db.clone(),
        slug.clone(),
        dataset,
        format,
        filters,
        maker,
    );
    // The first chunk (the header, or an error before any row) decides the status.
    let first = match chunks.recv().await {
        Some(Ok(c)) => c,
        Some(Err(e)) => return Err(e.into()),
        None => Vec::new(),
    };
    // The rest straight from the channel. A response body may be polled again after it has
    // ended (the compression layer does, looking for trailers), so the stream must keep
    // answering "ended": a closed channel does, for ever, where an `unfold` would panic.
    let rest = futures_util::stream::poll_fn(move |cx| chunks.poll_recv(cx)).map(|c| {
        c.map_err(|e| {
            tracing::error!(error = %e, "export stopped by a database error");
            std::io::Error::other("export stopped")
        })
    });
    let body = futures_util::stream::once(async move { Ok::<_, std::io::Error>(first) })
        .chain(rest)
        .fuse();
    let file = format!(
        "attachment; filename=\"{}-{}-{}.{}\"",
        file_stem(&slug, demo),
        dataset.as_str(),
        chrono::Utc::now().format("%Y-%m-%d"),
        format.extension()
    );
    let mut resp = Body::from_stream(body).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    if let Ok(v) = HeaderValue::from_str(&file) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(resp)
}

/// The datasets of a data package.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PackageQuery {
    /// Only these datasets, separated by commas (default: every dataset).
    pub datasets: Option<String>,
}

/// `GET /api/v1/projects/{slug}/data-package`: every export (or those named) as CSV files in a
/// zip with a Frictionless `datapackage.json` describing them.
#[utoipa::path(
    get,
    path = "/api/v1/projects/{slug}/data-package",
    tag = "analysis",
    security(("user_token" = [])),
    params(
        ("slug" = String, Path, description = "The project's slug"),
        AnalysisQuery,
        PackageQuery,
    ),
    responses(
        (status = 200, description = "`application/zip`, streamed: `datapackage.json` (a Frictionless tabular data package: each column's type, codes and their labels, missing values, the filters, thresholds and export time), then one CSV per dataset, as `GET …/exports/{dataset}?format=csv` writes it."),
        (status = 400, description = "`invalid_query`: an unknown dataset, a `format` other than `csv` (the package is always CSV), a bad date, `from` after `to`, `timepoint` with a dataset it does not apply to", body = crate::openapi::ErrorBody),
        (status = 401, description = "no valid credential", body = crate::openapi::ErrorBody),
        (status = 403, description = "not an admin, coordinator or analyst of the project", body = crate::openapi::ErrorBody),
        (status = 404, description = "no such project (server admins; others get 403)", body = crate::openapi::ErrorBody),
        (status = 500, description = "internal error", body = crate::openapi::ErrorBody),
        (status = 503, description = "the database is unavailable", body = crate::openapi::ErrorBody),
    )
)]
pub async fn data_package(
    State(state): State<AppState>,
    user: UserAuth,
    PathParams(slug): PathParams<String>,
    q: Result<Query<AnalysisQuery>, QueryRejection>,
    datasets: Result<Query<PackageQuery>, QueryRejection>,
) -> ApiResult<Response> {
    let q = query_params(q)?;
    let datasets = datasets
        .map(|Query(d)| d)
        .map_err(|e| ApiError::bad("invalid_query", e.body_text()))?;
    // The package is always CSV files: `format` may be left out, empty or `csv`.
    if let Some(f) = q.format.as_deref().filter(|f| !f.is_empty() && *f != "csv") {
        return Err(ApiError::bad(
            "invalid_query",
            format!(
                "a data package is always CSV files: leave out `format` or give `csv` (not `{f}`)"
            ),
        ));
    }
    let datasets: Vec<Dataset> = match datasets.datasets.as_deref() {
        None | Some("") => Dataset::ALL.to_vec(),
        Some(list) => {
            let mut chosen = Vec::new();
            for name in list.split(',').map(str::trim) {
                let d = Dataset::parse(name).ok_or_else(|| {
                    ApiError::bad(
                        "invalid_query",
                        format!(
                            "no dataset `{name}` in `datasets`: choose from {}",
                            Dataset::ALL.map(Dataset::as_str).join(", ")
                        ),
                    )
                })?;
                if !chosen.contains(&d) {
                    chosen.push(d);
                }
            }
            chosen
        }
    };
    let mut filters = q.filters()?;
    // A form leaves `timepoint` empty when the package's datasets take none.
    if filters.timepoint.as_deref() == Some("") {
        filters.timepoint = None;
    }
    for d in &datasets {
        filters
            .check(*d)
            .map_err(|m| ApiError::bad("invalid_query", format!("{}: {m}", d.as_str())))?;
    }
    let thresholds = q.thresholds(&state)?;
    ProjectAccess::require(&state, &user, &slug, Capability::Analyse).await?;
    let demo = is_demo(&state, &slug).await?;

    let redactor = Redactor::load(&state.db, &slug).await?;
    let mut parts = Vec::with_capacity(datasets.len());
    for d in &datasets {
        let mut maker = RowMaker::new(*d, thresholds, redactor.clone()).for_demo(demo);
        if *d == Dataset::Wellbeing {
            maker = maker.with_item_columns(
                export::wellbeing_item_columns(&state.db, &slug, &filters).await?,
            );
        }
        parts.push((*d, maker));
    }
    let now = chrono::Utc::now();
    let described: Vec<_> = parts
        .iter()
        .map(|(d, m)| (*d, m.output_columns()))
        .collect();
    let descriptor = package::descriptor(&slug, &described, &filters, thresholds, now, demo);
    audit::record(
        &state.db.pool,
        &Actor::user(&user),
        "export",
        Some(&slug),
        Some("data-package"),
        json!({
            "datasets": datasets.iter().map(|d| d.as_str()).collect::<Vec<_>>(),
            "format": "datapackage",
            "site": filters.site, "activity": filters.activity,
            "from": filters.from, "to": filters.to, "timepoint": filters.timepoint,
        }),
    )
    .await?;

    let mut chunks =
        package::stream_package(state.db.clone(), slug.clone(), parts, filters, descriptor);
    // A closed channel keeps answering "ended" (see `export`).
    let body = futures_util::stream::poll_fn(move |cx| chunks.poll_recv(cx)).fuse();
    let file = format!(
        "attachment; filename=\"{}-data-package-{}.zip\"",
        file_stem(&slug, demo),
        now.format("%Y-%m-%d"),
    );
    let mut resp = Body::from_stream(body).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(package::MEDIA_TYPE),
    );
    if let Ok(v) = HeaderValue::from_str(&file) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(resp)
}

/// `GET /api/v1/data-dictionary`: the columns of every export, as JSON.
#[utoipa::path(
    get,
    path = "/api/v1/data-dictionary",
    tag = "analysis",
    responses(
        (status = 200, description = "`[{\"dataset\",\"row\",\"columns\":[{\"name\",\"type\",\"nullable\",\"values\",\"description\"}]}]`"),
    )
)]
pub async fn data_dictionary() -> Json<Value> {
    Json(export::dictionary_json())
}

/// Loads the shared inputs of a report, checking access.
async fn report_inputs(
    state: &AppState,
    user: &UserAuth,
    slug: &str,
    q: &AnalysisQuery,
) -> ApiResult<(Filters, Thresholds)> {
    let filters = q.filters()?;
    if let (Some(f), Some(t)) = (filters.from, filters.to)
        && f > t
    {
        return Err(ApiError::bad(
            "invalid_query",
            format!("`from` ({f}) is after `to` ({t})"),
        ));
    }
    let thresholds = q.thresholds(state)?;
    ProjectAccess::require(state, user, slug, Capability::Analyse).await?;
    Ok((filters, thresholds))
}

async fn audit_report(
    state: &AppState,
    user: &UserAuth,
    slug: &str,
    report: &str,
    q: &AnalysisQuery,
) -> ApiResult<()> {
    audit_report_with(state, user, slug, report, q, json!({})).await
}

/// Records a report read with its query and `more` fields (an object) of its own.
async fn audit_report_with(
    state: &AppState,
    user: &UserAuth,
    slug: &str,
    report: &str,
    q: &AnalysisQuery,
    more: Value,
) -> ApiResult<()> {
    let mut details = json!({"report": report, "site": q.site, "activity": q.activity,
        "from": q.from, "to": q.to, "timepoint": q.timepoint, "quarter": q.quarter});
    if let (Some(d), Value::Object(more)) = (details.as_object_mut(), more) {
        d.extend(more);
    }
    audit::record(
        &state.db.pool,
        &Actor::user(user),
        "report",
        Some(slug),
        Some(report),
        details,
    )
    .await?;
    Ok(())
}

/// `GET /api/v1/projects/{slug}/reports/outcomes`: baseline-to-end wellbeing change.
#[utoipa::path(
    get,
    path = "/api/v1/projects/{slug}/reports/outcomes",
    tag = "analysis",
    security(("user_token" = [])),
    params(("slug" = String, Path, description = "The project's slug"), AnalysisQuery),
    responses(
        (status = 200, description = "Per measure (WEMWBS, SWEMWBS, the four ONS4 items, and the total score of every other instrument with responses, such as UCLA3 or a project's own; or only `instrument`'s): n pairs, mean baseline and end, mean change, SD, 95% CI, paired t and p, Cohen's d_z, shares with reliable improvement and deterioration, the change distribution and, where the definition names bands, the pairs by band; small numbers suppressed. See docs/reports.md."),
        (status = 400, description = "`invalid_query`: also an `instrument` the project does not know, or one scored item by item (no total score to compare)", body = crate::openapi::ErrorBody),
        (status = 401, description = "no valid credential", body = crate::openapi::ErrorBody),
        (status = 403, description = "not an admin, coordinator or analyst of the project", body = crate::openapi::ErrorBody),
        (status = 404, description = "no such project (server admins; others get 403)", body = crate::openapi::ErrorBody),
        (status = 500, description = "internal error", body = crate::openapi::ErrorBody),
        (status = 503, description = "the database is unavailable", body = crate::openapi::ErrorBody),
    )
)]
pub async fn outcomes(
    State(state): State<AppState>,
    user: UserAuth,
    PathParams(slug): PathParams<String>,
    q: Result<Query<AnalysisQuery>, QueryRejection>,
) -> ApiResult<Json<Value>> {
    let q = query_params(q)?;
    let (filters, thresholds) = report_inputs(&state, &user, &slug, &q).await?;
    let to = reports::follow_up_timepoint(q.timepoint.as_deref())?;
    if q.instrument.as_deref() == Some("") {
        return Err(ApiError::bad(
            "invalid_query",
            "`instrument` is empty: give an instrument id, or leave it out for every measure",
        ));
    }
    let selection = reports::Selection::parse(&slug, q.instrument.as_deref(), q.instrument_version)
        .map_err(|m| ApiError::bad("invalid_query", m))?;
    let data = reports::Data::load(&state.db, &slug, &filters).await?;
    audit_report(&state, &user, &slug, "outcomes", &q).await?;
    let demo = is_demo(&state, &slug).await?;
    Ok(Json(with_demo(
        json!(reports::outcomes_of(&data, to, thresholds, &selection)),
        demo,
    )))
}

/// Whether `s` is written as a quarter: four digits, `-` or a space, `Q` or `q`, and 1 to 4
/// (the year's range is checked when it is read).
fn quarter_syntax(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 7
        && b[..4].iter().all(u8::is_ascii_digit)
        && matches!(b[4], b'-' | b' ')
        && matches!(b[5], b'Q' | b'q')
        && (b'1'..=b'4').contains(&b[6])
}

/// Checks access and parameters, loads the project's data, audits the read and computes one
/// JSON report.
async fn json_report(
    state: AppState,
    user: UserAuth,
    slug: String,
    q: Result<Query<AnalysisQuery>, QueryRejection>,
    name: &str,
    compute: impl FnOnce(&reports::Data, &'static str, Thresholds) -> Value,
) -> ApiResult<Json<Value>> {
    let q = query_params(q)?;
    let (filters, thresholds) = report_inputs(&state, &user, &slug, &q).await?;
    let to = reports::follow_up_timepoint(q.timepoint.as_deref())?;
    let data = reports::Data::load(&state.db, &slug, &filters).await?;
    audit_report(&state, &user, &slug, name, &q).await?;
    let demo = is_demo(&state, &slug).await?;
    Ok(Json(with_demo(compute(&data, to, thresholds), demo)))
}

/// `GET /api/v1/projects/{slug}/reports/attendance`: sessions, attendance over time,
/// retention and the referral funnel.
#[utoipa::path(
    get,
    path = "/api/v1/projects/{slug}/reports/attendance",
    tag = "analysis",
    security(("user_token" = [])),
    params(("slug" = String, Path, description = "The project's slug"), AnalysisQuery),
    responses(
        (status = 200, description = "Sessions per activity, attendees per session by month, retention (attending at least 2, 4 and 6 sessions) and the referral funnel by source; small numbers suppressed. See docs/reports.md."),
        (status = 400, description = "`invalid_query`", body = crate::openapi::ErrorBody),
        (status = 401, description = "no valid credential", body = crate::openapi::ErrorBody),
        (status = 403, description = "not an admin, coordinator or analyst of the project", body = crate::openapi::ErrorBody),
        (status = 404, description = "no such project (server admins; others get 403)", body = crate::openapi::ErrorBody),
        (status = 500, description = "internal error", body = crate::openapi::ErrorBody),
        (status = 503, description = "the database is unavailable", body = crate::openapi::ErrorBody),
    )
)]
pub async fn attendance(
    State(state): State<AppState>,
    user: UserAuth,
    PathParams(slug): PathParams<String>,
    q: Result<Query<AnalysisQuery>, QueryRejection>,
) -> ApiResult<Json<Value>> {
    json_report(state, user, slug, q, "attendance", |d, _, _| {
        json!(reports::attendance(d))
    })
    .await
}

/// `GET /api/v1/projects/{slug}/reports/equity`: every figure by IMD quintile, ethnic group,
/// age band, gender and urban/rural.
#[utoipa::path(
    get,
    path = "/api/v1/projects/{slug}/reports/equity",
    tag = "analysis",
    security(("user_token" = [])),
    params(("slug" = String, Path, description = "The project's slug"), AnalysisQuery),
    responses(
        (status = 200, description = "Per dimension: reach, attendances, retention and the referral funnel as a protected table, and wellbeing outcomes per group; counts below 5 suppressed, with secondary suppression. See docs/reports.md."),
        (status = 400, description = "`invalid_query`", body = crate::openapi::ErrorBody),
        (status = 401, description = "no valid credential", body = crate::openapi::ErrorBody),
        (status = 403, description = "not an admin, coordinator or analyst of the project", body = crate::openapi::ErrorBody),
        (status = 404, description = "no such project (server admins; others get 403)", body = crate::openapi::ErrorBody),
        (status = 500, description = "internal error", body = crate::openapi::ErrorBody),
        (status = 503, description = "the database is unavailable", body = crate::openapi::ErrorBody),
    )
)]
pub async fn equity(
    State(state): State<AppState>,
    user: UserAuth,
    PathParams(slug): PathParams<String>,
    q: Result<Query<AnalysisQuery>, QueryRejection>,
) -> ApiResult<Json<Value>> {
    json_report(state, user, slug, q, "equity", |d, to, t| {
        json!(reports::equity(d, to, t))
    })
    .await
}

/// The sites of the sites report.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SitesQuery {
    /// `all` (the default: every site that held a matching session) or site codes separated
    /// by commas, reported in that order.
    pub sites: Option<String>,
}

/// `GET /api/v1/projects/{slug}/reports/sites`: several sites (or all) in one report, each
/// participant counted at their home site.
#[utoipa::path(
    get,
    path = "/api/v1/projects/{slug}/reports/sites",
    tag = "analysis",
    security(("user_token" = [])),
    params(
        ("slug" = String, Path, description = "The project's slug"),
        AnalysisQuery,
        SitesQuery,
    ),
    responses(
        (status = 200, description = "Per selected site and for all of them: sessions and attendances, participants by sessions attended with first attendance and retention, participants by equity group (IMD quintile, ethnic group, age band, gender, rurality) and WEMWBS/SWEMWBS outcomes; each participant counted at one home site; the people and equity tables protected together. See docs/reports.md."),
        (status = 400, description = "`invalid_query`: also a site code the project does not know, an empty code in `sites`, or `site` (use `sites`)", body = crate::openapi::ErrorBody),
        (status = 401, description = "no valid credential", body = crate::openapi::ErrorBody),
        (status = 403, description = "not an admin, coordinator or analyst of the project", body = crate::openapi::ErrorBody),
        (status = 404, description = "no such project (server admins; others get 403)", body = crate::openapi::ErrorBody),
        (status = 500, description = "internal error", body = crate::openapi::ErrorBody),
        (status = 503, description = "the database is unavailable", body = crate::openapi::ErrorBody),
    )
)]
pub async fn sites(
    State(state): State<AppState>,
    user: UserAuth,
    PathParams(slug): PathParams<String>,
    q: Result<Query<AnalysisQuery>, QueryRejection>,
    chosen: Result<Query<SitesQuery>, QueryRejection>,
) -> ApiResult<Json<Value>> {
    let q = query_params(q)?;
    let chosen = chosen
        .map(|Query(s)| s)
        .map_err(|e| ApiError::bad("invalid_query", e.body_text()))?;
    if q.site.as_deref().is_some_and(|s| !s.is_empty()) {
        return Err(ApiError::bad(
            "invalid_query",
            "the sites report takes `sites` (codes separated by commas, or `all`), not `site`",
        ));
    }
    let selection = sites::SiteSelection::parse(chosen.sites.as_deref())?;
    let (filters, thresholds) = report_inputs(&state, &user, &slug, &q).await?;
    let to = reports::follow_up_timepoint(q.timepoint.as_deref())?;
    let data = sites::SitesData::load(&state.db, &slug, &filters, &selection).await?;
    audit_report_with(
        &state,
        &user,
        &slug,
        "sites",
        &q,
        json!({"sites": data.sites.iter().map(|s| s.code.as_str()).collect::<Vec<_>>()}),
    )
    .await?;
    let demo = is_demo(&state, &slug).await?;
    Ok(Json(with_demo(
        json!(sites::sites(&data, to, thresholds)),
        demo,
    )))
}

/// `GET /api/v1/projects/{slug}/reports/quarterly`: the quarterly programme report.
#[utoipa::path(
    get,
    path = "/api/v1/projects/{slug}/reports/quarterly",
    tag = "analysis",
    security(("user_token" = [])),
    params(("slug" = String, Path, description = "The project's slug"), AnalysisQuery),
    responses(
        (status = 200, description = "Activities run, sessions, attendances, new participants, sites and referral sources, and a wellbeing summary for one quarter: JSON, Markdown (`format=md`), tidy CSV (`format=csv`) or a standalone HTML page (`format=html`)."),
        (status = 400, description = "`invalid_query`: a bad quarter or format", body = crate::openapi::ErrorBody),
        (status = 401, description = "no valid credential", body = crate::openapi::ErrorBody),
        (status = 403, description = "not an admin, coordinator or analyst of the project", body = crate::openapi::ErrorBody),
        (status = 404, description = "no such project (server admins; others get 403)", body = crate::openapi::ErrorBody),
        (status = 500, description = "internal error", body = crate::openapi::ErrorBody),
        (status = 503, description = "the database is unavailable", body = crate::openapi::ErrorBody),
    )
)]
pub async fn quarterly(
    State(state): State<AppState>,
    user: UserAuth,
    PathParams(slug): PathParams<String>,
    q: Result<Query<AnalysisQuery>, QueryRejection>,
) -> ApiResult<Response> {
    let q = query_params(q)?;
    let quarter = reports::Quarter::parse_or_current(q.quarter.as_deref())?;
    let format = q.format.as_deref().unwrap_or("json");
    if !["json", "md", "csv", "html"].contains(&format) {
        return Err(ApiError::bad(
            "invalid_query",
            format!("`format` must be json, md, csv or html, not `{format}`"),
        ));
    }
    let (mut filters, thresholds) = report_inputs(&state, &user, &slug, &q).await?;
    filters.from = Some(quarter.first_day());
    filters.to = Some(quarter.last_day());
    let name = storage::projects::name(&state.db.pool, &slug)
        .await?
        .ok_or(sqlx::Error::RowNotFound)?;
    let mut report =
        reports::quarterly(&state.db, &slug, &name, quarter, &filters, thresholds).await?;
    report.demo = is_demo(&state, &slug).await?;
    audit_report(&state, &user, &slug, "quarterly", &q).await?;
    let (ctype, body) = match format {
        "md" => ("text/markdown; charset=utf-8", report.markdown()),
        "csv" => ("text/csv; charset=utf-8", report.csv()),
        "html" => ("text/html; charset=utf-8", report.html()),
        _ => ("application/json", json!(report).to_string()),
    };
    let mut resp = body.into_response();
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(ctype));
    if format == "html" {
        resp.headers_mut().insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'",
            ),
        );
    }
    Ok(resp)
}
