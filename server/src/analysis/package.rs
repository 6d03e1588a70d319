//! The data package: every export of a project (or the ones asked for) as CSV files in one zip,
//! with a `datapackage.json` that says what they hold, in the Frictionless Data "tabular data
//! package" form that R (`frictionless`), Python (`frictionless`), Stata and SPSS importers
//! read: each column's type, whether it may be empty, its codes and, where the app names them,
//! their labels; the empty string as the missing value; the filters, thresholds and time of the
//! export.
//!
//! The zip is written as it streams (sizes after each file's data), so nothing is spooled: each
//! CSV comes from the same stream as `GET …/exports/{dataset}?format=csv`
//! ([`export::stream_rows`]), is compressed on a blocking thread and goes out in chunks through a
//! bounded channel, so memory stays flat whatever the number of rows.

use crate::analysis::export::{
    self, ColumnType, Dataset, Filters, Format, OutputColumn, RowMaker, Thresholds,
};
use crate::analysis::typed::typed_columns;
use crate::storage::Db;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::io::Write;
use std::sync::LazyLock;
use tokio::sync::mpsc;

/// The media type of the package.
pub const MEDIA_TYPE: &str = "application/zip";

/// The descriptor's name inside the zip.
pub const DESCRIPTOR: &str = "datapackage.json";

/// Bytes per streamed chunk.
const CHUNK: usize = 64 * 1024;

/// What the package says of text that a spreadsheet would run as a formula.
pub const FORMULA_GUARD: &str = "In text and category columns, a value that begins with =, +, \
    -, @, a tab or a carriage return is written with a single quote ' in front, so that \
    spreadsheets show it as text; remove that quote to get the value as recorded (JSON Lines \
    and Parquet exports hold it without).";

/// The labels the app shows for choice codes, by `kind.field` (the field's path with `.`), then
/// code: read from the web app's English strings (`choice.<kind>.<field>.<code>`), the one place
/// they are written.
static LABELS: LazyLock<HashMap<String, HashMap<String, String>>> = LazyLock::new(|| {
    let mut labels: HashMap<String, HashMap<String, String>> = HashMap::new();
    for line in include_str!("../../../clients/web/src/i18n/en.ts").lines() {
        let Some(rest) = line.trim().strip_prefix("\"choice.") else {
            continue;
        };
        let Some((key, value)) = rest.split_once("\": \"") else {
            continue;
        };
        let Some(label) = value.strip_suffix("\",") else {
            continue;
        };
        if let Some((path, code)) = key.rsplit_once('.') {
            labels
                .entry(path.to_owned())
                .or_default()
                .insert(code.to_owned(), label.replace("\\\"", "\""));
        }
    }
    labels
});

/// The labels of a category column's codes, where the app names them: a column is matched to a
/// choice field of its dataset's record kind by name (`referral_source` is the participant's
/// `referral.source`); an attendance `status` is the session's attendance mark.
pub fn labels(dataset: Dataset, column: &str) -> Option<&'static HashMap<String, String>> {
    if dataset == Dataset::Attendance && column == "status" {
        return LABELS.get("session.attendance");
    }
    let (kind, _) = dataset.kind()?;
    let kind = kind.as_str();
    LABELS.iter().find_map(|(path, codes)| {
        let field = path.strip_prefix(kind)?.strip_prefix('.')?;
        (field.replace('.', "_") == column).then_some(codes)
    })
}

/// The columns that identify a row, where one column does.
fn primary_key(dataset: Dataset) -> &'static [&'static str] {
    match dataset {
        Dataset::Participants => &["participant_id"],
        Dataset::Sessions => &["session_id"],
        Dataset::Wellbeing => &["response_id"],
        Dataset::Stories => &["story_id"],
        _ => &[],
    }
}

/// A Table Schema field for a column.
fn field(dataset: Dataset, c: &crate::analysis::typed::TypedColumn) -> Value {
    let ty = match c.ty {
        ColumnType::Text | ColumnType::Category => "string",
        ColumnType::Integer => "integer",
        ColumnType::Decimal => "number",
        ColumnType::Boolean => "boolean",
        ColumnType::Date => "date",
        ColumnType::Datetime => "datetime",
    };
    let mut f = json!({"name": c.name, "type": ty});
    if !c.description.is_empty() {
        f["description"] = json!(c.description);
    }
    let mut constraints = serde_json::Map::new();
    if !c.nullable {
        constraints.insert("required".into(), json!(true));
    }
    match c.ty {
        ColumnType::Category if !c.values.is_empty() => {
            constraints.insert("enum".into(), json!(c.values));
            let labels = labels(dataset, &c.name);
            f["categories"] = c
                .values
                .iter()
                .map(|v| match labels.and_then(|l| l.get(*v)) {
                    Some(label) => json!({"value": v, "label": label}),
                    None => json!({"value": v}),
                })
                .collect();
        }
        ColumnType::Boolean => {
            f["trueValues"] = json!(["true"]);
            f["falseValues"] = json!(["false"]);
        }
        ColumnType::Datetime => f["format"] = json!("any"),
        _ => {}
    }
    if !constraints.is_empty() {
        f["constraints"] = Value::Object(constraints);
    }
    f
}

/// The `datapackage.json` of a package holding these datasets with these columns;
/// `bothy:demo` says whether the project is a demo programme (synthetic people).
pub fn descriptor(
    slug: &str,
    parts: &[(Dataset, Vec<OutputColumn>)],
    filters: &Filters,
    thresholds: Thresholds,
    exported_at: chrono::DateTime<chrono::Utc>,
    demo: bool,
) -> Value {
    let resources: Vec<Value> = parts
        .iter()
        .map(|(d, columns)| {
            let typed = typed_columns(Some(*d), columns);
            let mut schema = json!({
                "fields": typed.iter().map(|c| field(*d, c)).collect::<Vec<_>>(),
                "missingValues": [""],
            });
            if !primary_key(*d).is_empty() {
                schema["primaryKey"] = json!(primary_key(*d));
            }
            let mut r = json!({
                "name": d.as_str().replace('_', "-"),
                "path": format!("{}.csv", d.as_str()),
                "profile": "tabular-data-resource",
                "title": d.as_str(),
                "description": format!("One row is {}.", d.row_meaning()),
                "format": "csv",
                "mediatype": "text/csv",
                "encoding": "utf-8",
                "dialect": {"delimiter": ",", "lineTerminator": "\r\n", "header": true,
                            "quoteChar": "\"", "doubleQuote": true},
                "schema": schema,
            });
            if let Some(more) = d.more_columns() {
                r["bothy:more_columns"] = json!(more);
            }
            r
        })
        .collect();
    json!({
        "profile": "tabular-data-package",
        "name": format!("bothy-{slug}"),
        "title": format!("Bothy exports of project {slug}"),
        "created": exported_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "resources": resources,
        "bothy:project": slug,
        "bothy:demo": demo,
        "bothy:filters": filters.to_json(),
        "bothy:thresholds": thresholds,
        "bothy:formula_guard": FORMULA_GUARD,
        "bothy:data_dictionary": "docs/data-dictionary.md; also GET /api/v1/data-dictionary",
    })
}

/// What the zip thread is told.
enum Part {
    /// A new file.
    File(String),
    /// More of the current file.
    Bytes(Vec<u8>),
}

/// A `Write` that sends what it is given in chunks through the response channel (from a
/// blocking thread: it waits while the client is slow).
struct ChannelWriter {
    tx: mpsc::Sender<Result<Vec<u8>, std::io::Error>>,
    buf: Vec<u8>,
}

impl ChannelWriter {
    fn send(&mut self) -> std::io::Result<()> {
        let chunk = std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK + 4096));
        self.tx
            .blocking_send(Ok(chunk))
            .map_err(|_| std::io::Error::other("the client went away"))
    }
}

impl Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.send()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if !self.buf.is_empty() {
            self.send()?;
        }
        Ok(())
    }
}

/// The files' time in the zip: the export time (the descriptor's `created`) in UK time, as a
/// zip's timestamps carry no zone; the zip format's earliest time if it cannot be read.
fn zip_time(created: &str) -> zip::DateTime {
    use chrono::{Datelike, Timelike};
    chrono::DateTime::parse_from_rfc3339(created)
        .ok()
        .map(|t| {
            let t = t.with_timezone(&chrono::Utc);
            t + chrono::Duration::hours(bothy_sync_core::time::uk_offset_hours(t))
        })
        .and_then(|t| {
            zip::DateTime::from_date_and_time(
                u16::try_from(t.year()).ok()?,
                t.month() as u8,
                t.day() as u8,
                t.hour() as u8,
                t.minute() as u8,
                t.second() as u8,
            )
            .ok()
        })
        .unwrap_or_default()
}

/// Streams the package: `datapackage.json`, then each dataset's CSV. The first chunk is sent
/// once the first CSV's first rows are read (a database error before then is the first item).
pub fn stream_package(
    db: Db,
    project: String,
    parts: Vec<(Dataset, RowMaker)>,
    filters: Filters,
    descriptor: Value,
) -> mpsc::Receiver<Result<Vec<u8>, std::io::Error>> {
    let (out_tx, out_rx) = mpsc::channel(4);
    let (part_tx, mut part_rx) = mpsc::channel::<Part>(4);
    let descriptor_time = descriptor["created"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    // The zip is written on a blocking thread: compressing is CPU work.
    let zip_out = out_tx.clone();
    tokio::task::spawn_blocking(move || {
        use zip::write::SimpleFileOptions;
        let writer = ChannelWriter {
            tx: zip_out.clone(),
            buf: Vec::with_capacity(CHUNK + 4096),
        };
        let mut zip = zip::ZipWriter::new_stream(writer);
        let options = SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .large_file(true)
            .last_modified_time(zip_time(&descriptor_time));
        let written = || -> zip::result::ZipResult<()> {
            while let Some(part) = part_rx.blocking_recv() {
                match part {
                    Part::File(name) => zip.start_file(name, options)?,
                    Part::Bytes(b) => zip.write_all(&b)?,
                }
            }
            let mut inner = zip.finish()?.into_inner();
            inner.flush()?;
            Ok(())
        };
        if let Err(e) = written() {
            let _ = zip_out.blocking_send(Err(std::io::Error::other(e)));
        }
    });
    tokio::spawn(async move {
        let json = serde_json::to_vec_pretty(&descriptor).unwrap_or_default();
        if part_tx.send(Part::File(DESCRIPTOR.into())).await.is_err()
            || part_tx.send(Part::Bytes(json)).await.is_err()
        {
            return;
        }
        for (dataset, maker) in parts {
            let name = format!("{}.csv", dataset.as_str());
            if part_tx.send(Part::File(name)).await.is_err() {
                return;
            }
            let mut chunks = export::stream_rows(
                db.clone(),
                project.clone(),
                dataset,
                Format::Csv,
                filters.clone(),
                maker,
            );
            while let Some(chunk) = chunks.recv().await {
                match chunk {
                    Ok(b) => {
                        if part_tx.send(Part::Bytes(b)).await.is_err() {
                            return;
                        }
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "data package stopped by a database error");
                        let _ = out_tx
                            .send(Err(std::io::Error::other("data package stopped")))
                            .await;
                        return;
                    }
                }
            }
        }
        // Dropping the sender ends the zip.
    });
    out_rx
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::export::output_columns;

    fn parts(item_columns: u8) -> Vec<(Dataset, Vec<OutputColumn>)> {
        Dataset::ALL
            .iter()
            .map(|d| (*d, output_columns(*d, item_columns)))
            .collect()
    }

    #[test]
    fn every_column_of_every_dataset_is_described_with_its_type() {
        let now = chrono::Utc::now();
        let p = descriptor(
            "demo",
            &parts(20),
            &Filters::default(),
            Thresholds::default(),
            now,
            true,
        );
        assert_eq!(p["profile"], "tabular-data-package");
        assert_eq!(p["bothy:demo"], true);
        let resources = p["resources"].as_array().unwrap();
        assert_eq!(resources.len(), Dataset::ALL.len());
        for (d, r) in Dataset::ALL.iter().zip(resources) {
            assert_eq!(r["path"], format!("{}.csv", d.as_str()));
            let fields = r["schema"]["fields"].as_array().unwrap();
            for c in d.columns() {
                let f = fields.iter().find(|f| f["name"] == c.name).unwrap();
                let ty = match c.ty {
                    ColumnType::Text | ColumnType::Category => "string",
                    ColumnType::Integer => "integer",
                    ColumnType::Decimal => "number",
                    ColumnType::Boolean => "boolean",
                    ColumnType::Date => "date",
                    ColumnType::Datetime => "datetime",
                };
                assert_eq!(f["type"], ty, "{}.{}", d.as_str(), c.name);
                assert_eq!(
                    f["constraints"]["required"].as_bool().unwrap_or(false),
                    !c.nullable
                );
                if c.ty == ColumnType::Category && !c.values.is_empty() {
                    assert_eq!(f["constraints"]["enum"], json!(c.values));
                    assert_eq!(f["categories"].as_array().unwrap().len(), c.values.len());
                }
            }
            if *d == Dataset::Wellbeing {
                for i in 15..=20 {
                    let name = format!("item_{i}");
                    let f = fields.iter().find(|f| f["name"] == name).unwrap();
                    assert_eq!(f["type"], "integer");
                }
                assert_eq!(fields.len(), d.columns().len() + 6);
            } else {
                assert_eq!(fields.len(), d.columns().len());
            }
        }
    }

    #[test]
    fn choice_codes_carry_the_labels_the_app_shows() {
        let source = labels(Dataset::Participants, "referral_source").unwrap();
        assert_eq!(source["gp"], "GP");
        assert!(labels(Dataset::Participants, "gender").is_some());
        assert!(labels(Dataset::Attendance, "status").is_some());
        assert!(labels(Dataset::Wellbeing, "timepoint").is_none());
    }
}
