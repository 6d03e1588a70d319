//! Typed exports end to end: for every dataset, the Parquet export read back with the parquet
//! crate holds the rows of the JSON Lines export, typed as the data dictionary says; the data
//! package holds a `datapackage.json` and the CSV of each dataset, filtered as asked. Then, where
//! pyarrow and frictionless are installed (CI installs them: `BOTHY_REQUIRE_PYTHON=1`), Python
//! reads the same files with no typing by hand (tests/python/check_typed.py).

use super::analysis::{
    FIXTURE, P, get_response, get_text, jsonl_rows, researcher_and_analyst, seed,
};
use arrow_array::cast::AsArray;
use arrow_array::types::{Date32Type, Float64Type, Int16Type, Int64Type, TimestampMicrosecondType};
use arrow_array::{Array, DictionaryArray};
use bothy_server::analysis::export::{ColumnType, Dataset};
use bothy_tests::{Backend, Harness, on_both_backends};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde_json::{Value, json};
use std::io::Read;

on_both_backends!(parquet_and_package_match_jsonl);

async fn get_bytes(h: &Harness, path: &str, token: &str) -> (u16, String, Vec<u8>) {
    let res = get_response(h, path, token).await;
    let status = res.status().as_u16();
    let ty = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (status, ty, res.bytes().await.unwrap().to_vec())
}

/// A Parquet cell as the JSON Lines export writes it (times as microseconds, compared apart).
fn cell(array: &dyn Array, r: usize) -> Value {
    if array.is_null(r) {
        return Value::Null;
    }
    use arrow_schema::DataType::*;
    match array.data_type() {
        Utf8 => json!(array.as_string::<i32>().value(r)),
        Int64 => json!(array.as_primitive::<Int64Type>().value(r)),
        Float64 => json!(array.as_primitive::<Float64Type>().value(r)),
        Boolean => json!(array.as_boolean().value(r)),
        Date32 => {
            let days = array.as_primitive::<Date32Type>().value(r);
            json!(
                (chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap()
                    + chrono::Duration::days(i64::from(days)))
                .to_string()
            )
        }
        Timestamp(_, _) => json!({"us": array.as_primitive::<TimestampMicrosecondType>().value(r)}),
        Dictionary(_, _) => {
            let d = array
                .as_any()
                .downcast_ref::<DictionaryArray<Int16Type>>()
                .unwrap();
            let k = d.keys().value(r) as usize;
            json!(d.values().as_string::<i32>().value(k))
        }
        other => panic!("unexpected Arrow type {other}"),
    }
}

/// Compares a Parquet file with the JSON Lines rows of the same export.
fn check_parquet(dataset: Dataset, file: &[u8], want: &[serde_json::Map<String, Value>]) {
    assert!(
        file.starts_with(b"PAR1") && file.ends_with(b"PAR1"),
        "{dataset:?}"
    );
    let reader = ParquetRecordBatchReaderBuilder::try_new(bytes(file)).unwrap();
    let meta = reader
        .metadata()
        .file_metadata()
        .key_value_metadata()
        .unwrap();
    let meta_of = |k: &str| {
        meta.iter()
            .find(|kv| kv.key == k)
            .and_then(|kv| kv.value.clone())
    };
    assert_eq!(meta_of("bothy:dataset").as_deref(), Some(dataset.as_str()));
    assert!(meta_of("bothy:exported_at").is_some());
    let schema = reader.schema().clone();
    for c in dataset.columns() {
        let f = schema.field_with_name(c.name).unwrap();
        let dictionary = matches!(f.data_type(), arrow_schema::DataType::Dictionary(_, _));
        assert_eq!(dictionary, c.ty == ColumnType::Category, "{}", c.name);
        assert_eq!(f.is_nullable(), c.nullable, "{}", c.name);
    }
    let mut i = 0;
    for batch in reader.build().unwrap() {
        let batch = batch.unwrap();
        for r in 0..batch.num_rows() {
            let row = &want[i];
            // (serde_json's maps are sorted by key.)
            let names: Vec<&String> = row.keys().collect();
            let mut columns: Vec<&String> = schema.fields().iter().map(|f| f.name()).collect();
            columns.sort();
            assert_eq!(names, columns, "{dataset:?}: columns");
            for (c, f) in schema.fields().iter().enumerate() {
                let got = cell(batch.column(c).as_ref(), r);
                let expected = &row[f.name()];
                let same = match (&got, expected) {
                    (Value::Object(t), Value::String(s)) => {
                        chrono::DateTime::parse_from_rfc3339(s)
                            .unwrap()
                            .timestamp_micros()
                            == t["us"].as_i64().unwrap()
                    }
                    (Value::Number(g), Value::Number(w)) => {
                        (g.as_f64().unwrap() - w.as_f64().unwrap()).abs() <= 1e-12
                    }
                    (g, w) => g == w,
                };
                assert!(
                    same,
                    "{dataset:?} row {i} `{}`: {got} != {expected}",
                    f.name()
                );
            }
            i += 1;
        }
    }
    assert_eq!(i, want.len(), "{dataset:?}: rows");
}

fn bytes(b: &[u8]) -> bytes::Bytes {
    bytes::Bytes::from(b.to_vec())
}

/// The files of a zip, by name.
fn unzip(file: &[u8]) -> Vec<(String, String)> {
    let mut z = zip::ZipArchive::new(std::io::Cursor::new(file)).unwrap();
    (0..z.len())
        .map(|i| {
            let mut f = z.by_index(i).unwrap();
            let mut text = String::new();
            f.read_to_string(&mut text).unwrap();
            (f.name().unwrap().to_string(), text)
        })
        .collect()
}

/// The Python interpreter with these modules: `BOTHY_PYTHON`, else `python3`. None (after
/// saying why) when it or a module is missing, unless `BOTHY_REQUIRE_PYTHON=1`.
fn python_with(modules: &[&str]) -> Option<String> {
    let python = std::env::var("BOTHY_PYTHON").unwrap_or_else(|_| "python3".into());
    let import = format!("import {}", modules.join(", "));
    let ok = std::process::Command::new(&python)
        .args(["-c", &import])
        .output()
        .is_ok_and(|o| o.status.success());
    if ok {
        return Some(python);
    }
    let why = format!(
        "{python} cannot `{import}` (install tests/python/requirements.txt, set BOTHY_PYTHON)"
    );
    assert!(
        std::env::var("BOTHY_REQUIRE_PYTHON").as_deref() != Ok("1"),
        "BOTHY_REQUIRE_PYTHON=1 but {why}"
    );
    bothy_tests::print_skip(&format!("the Python typed-export check: {why}"));
    None
}

async fn parquet_and_package_match_jsonl(backend: Backend) {
    let Some(h) = Harness::start(backend).await else {
        return;
    };
    let fixture: Value = serde_json::from_str(FIXTURE).unwrap();
    let (d, analyst) = researcher_and_analyst(&h, P).await;
    seed(&d, &fixture).await;
    let dir = tempfile::tempdir().unwrap();
    let base = format!("/api/v1/projects/{P}");

    // Every dataset: Parquet equals JSON Lines, read in Rust.
    let mut names = Vec::new();
    for dataset in Dataset::ALL {
        let name = dataset.as_str();
        let (status, text) =
            get_text(&h, &format!("{base}/exports/{name}?format=jsonl"), &analyst).await;
        assert_eq!(status, 200, "{name}: {text}");
        let rows: Vec<serde_json::Map<String, Value>> = jsonl_rows(&text);
        assert!(!rows.is_empty(), "{name}: no rows to compare");
        let (status, ty, file) = get_bytes(
            &h,
            &format!("{base}/exports/{name}?format=parquet"),
            &analyst,
        )
        .await;
        assert_eq!(status, 200, "{name}");
        assert_eq!(ty, "application/vnd.apache.parquet");
        check_parquet(dataset, &file, &rows);
        std::fs::write(dir.path().join(format!("{name}.jsonl")), &text).unwrap();
        std::fs::write(dir.path().join(format!("{name}.parquet")), &file).unwrap();
        names.push(name);
    }

    // The whole package: the descriptor and one CSV per dataset, as the CSV export writes it.
    let (status, ty, package) = get_bytes(&h, &format!("{base}/data-package"), &analyst).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&package));
    assert_eq!(ty, "application/zip");
    let files = unzip(&package);
    assert_eq!(files[0].0, "datapackage.json");
    let descriptor: Value = serde_json::from_str(&files[0].1).unwrap();
    assert_eq!(descriptor["profile"], "tabular-data-package");
    // Every file in the zip carries the export time, in UK time (a zip's times have no zone).
    let created = chrono::DateTime::parse_from_rfc3339(descriptor["created"].as_str().unwrap())
        .unwrap()
        .with_timezone(&chrono::Utc);
    let uk = created + chrono::Duration::hours(bothy_sync_core::time::uk_offset_hours(created));
    let want = format!("{}", uk.format("%Y-%m-%d %H:%M"));
    let mut z = zip::ZipArchive::new(std::io::Cursor::new(&package)).unwrap();
    for i in 0..z.len() {
        let f = z.by_index(i).unwrap();
        let t = f.last_modified().expect("a file time");
        let got = format!(
            "{:04}-{:02}-{:02} {:02}:{:02}",
            t.year(),
            t.month(),
            t.day(),
            t.hour(),
            t.minute()
        );
        assert_eq!(got, want, "{}", f.name().unwrap());
    }
    for name in &names {
        let (_, csv) = get_text(&h, &format!("{base}/exports/{name}"), &analyst).await;
        let (_, inside) = files
            .iter()
            .find(|(f, _)| *f == format!("{name}.csv"))
            .unwrap_or_else(|| panic!("{name}.csv missing"));
        assert_eq!(inside, &csv, "{name}.csv");
    }
    std::fs::write(dir.path().join("package.zip"), &package).unwrap();

    // A filtered package lists its filters and holds the filtered rows.
    let filter = "site=ullapool-library&from=2026-07-20";
    let (status, _, filtered) = get_bytes(
        &h,
        &format!("{base}/data-package?{filter}&datasets=sessions,attendance"),
        &analyst,
    )
    .await;
    assert_eq!(status, 200);
    let files = unzip(&filtered);
    let names_in: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names_in,
        ["datapackage.json", "sessions.csv", "attendance.csv"]
    );
    let descriptor: Value = serde_json::from_str(&files[0].1).unwrap();
    assert_eq!(descriptor["bothy:filters"]["site"], "ullapool-library");
    assert_eq!(descriptor["bothy:filters"]["from"], "2026-07-20");
    for (name, inside) in &files[1..] {
        let dataset = name.trim_end_matches(".csv");
        let (_, csv) = get_text(&h, &format!("{base}/exports/{dataset}?{filter}"), &analyst).await;
        assert_eq!(inside, &csv, "filtered {name}");
        assert!(csv.lines().count() > 1, "filtered {name} is empty");
    }

    // Refusals name the problem.
    for (query, says) in [
        ("datasets=visits", "no dataset `visits`"),
        ("format=parquet", "always CSV"),
        ("timepoint=end", "timepoint"),
    ] {
        let (status, body) = get_text(&h, &format!("{base}/data-package?{query}"), &analyst).await;
        assert_eq!(status, 400, "{query}: {body}");
        assert!(body.contains(says), "{query}: {body}");
    }
    // What the package always is may be said, or left empty as a form leaves it.
    for query in ["format=csv", "format=&timepoint=&datasets=sessions"] {
        let (status, body) = get_text(&h, &format!("{base}/data-package?{query}"), &analyst).await;
        assert_eq!(status, 200, "{query}: {body}");
    }

    // The dashboard's project page links each download, with its filters, behind its cookie.
    let login = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(format!("{}/dashboard/login", h.url()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("username=ana&password=ana-password")
        .send()
        .await
        .unwrap();
    let cookie = login
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .expect("a session cookie")
        .to_owned();
    let dashboard = |path: String| {
        let req = h
            .http
            .get(format!("{}{path}", h.url()))
            .header("cookie", &cookie);
        async move {
            let res = req.send().await.unwrap();
            (res.status().as_u16(), res.bytes().await.unwrap().to_vec())
        }
    };
    let (status, page) = dashboard(format!("/dashboard/projects/{P}?site=ullapool-library")).await;
    assert_eq!(status, 200);
    let page = String::from_utf8(page).unwrap();
    assert!(page.contains("Download the data"), "{page}");
    let link = format!(
        "/dashboard/projects/{P}/exports/sessions?format=parquet&amp;site=ullapool-library"
    );
    assert!(page.contains(&link), "{link} not in the page");
    let (status, file) = dashboard(link.replace("&amp;", "&")).await;
    assert_eq!(status, 200);
    let (_, text) = get_text(
        &h,
        &format!("{base}/exports/sessions?format=jsonl&site=ullapool-library"),
        &analyst,
    )
    .await;
    check_parquet(
        Dataset::Sessions,
        &file,
        &jsonl_rows::<serde_json::Map<String, Value>>(&text),
    );
    assert!(page.contains(&format!(
        "/dashboard/projects/{P}/data-package?site=ullapool-library"
    )));
    let (status, zip) = dashboard(format!(
        "/dashboard/projects/{P}/data-package?site=ullapool-library"
    ))
    .await;
    assert_eq!(status, 200);
    assert_eq!(unzip(&zip).len(), Dataset::ALL.len() + 1);

    // Python: pyarrow and frictionless read the same files with no typing by hand.
    if let Some(python) = python_with(&["pyarrow", "frictionless"]) {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/python/check_typed.py");
        let out = std::process::Command::new(python)
            .arg(script)
            .arg(dir.path())
            .args(&names)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "check_typed.py:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
