//! Parquet exports: the same rows as the CSV and JSON Lines exports, typed, so that analysts'
//! tools (R's arrow, pandas, Polars, DuckDB, Stata through them) read them with no guessing.
//!
//! Each column's type comes from the data dictionary ([`ColumnType`]): text as UTF-8 strings,
//! whole numbers as 64-bit integers, decimals as doubles, `true`/`false` as booleans, dates as
//! dates (days), device times as UTC timestamps in microseconds, and category columns as
//! dictionary-encoded strings whose dictionary starts with the column's documented codes. Empty
//! values are nulls. A column's description and its codes go in the field's metadata, the
//! dataset, the filters and the export time in the file's.
//!
//! Memory stays flat: rows go into column builders, a batch of [`BATCH`] rows at a time is
//! handed to the Parquet writer, which closes a row group every [`ROW_GROUP`] rows, and the
//! bytes written so far are taken out of its buffer as the export streams them. At most one row
//! group is held, encoded, whatever the number of rows.

use crate::analysis::export::{ColumnType, Dataset, OutputColumn, Val};
use arrow_array::builder::{
    BooleanBuilder, Date32Builder, Float64Builder, Int64Builder, StringBuilder,
    StringDictionaryBuilder, TimestampMicrosecondBuilder,
};
use arrow_array::types::Int16Type;
use arrow_array::{ArrayRef, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;
use std::fmt::Write as _;
use std::sync::Arc;

/// The media type of a Parquet file.
pub const MEDIA_TYPE: &str = "application/vnd.apache.parquet";

/// Rows per batch handed to the Parquet writer.
pub const BATCH: usize = 8 * 1024;

/// Rows per row group.
pub const ROW_GROUP: usize = 64 * 1024;

/// Bytes written before a chunk is worth sending.
const CHUNK: usize = 64 * 1024;

/// The time zone of every timestamp column.
const UTC: &str = "UTC";

/// Why a Parquet export could not be written.
#[derive(Debug, thiserror::Error)]
pub enum TypedError {
    /// A value does not have its column's type (a date that is not `YYYY-MM-DD`, say).
    #[error("column `{column}`: {problem}")]
    Value {
        /// The column's name.
        column: String,
        /// What is wrong.
        problem: String,
    },
    /// The Arrow or Parquet library refused (a bug here, or a full disk's worth of memory).
    #[error("writing Parquet: {0}")]
    Parquet(String),
}

impl From<parquet::errors::ParquetError> for TypedError {
    fn from(e: parquet::errors::ParquetError) -> Self {
        TypedError::Parquet(e.to_string())
    }
}

impl From<arrow_schema::ArrowError> for TypedError {
    fn from(e: arrow_schema::ArrowError) -> Self {
        TypedError::Parquet(e.to_string())
    }
}

/// A column as the typed formats see it: the output column with what the dictionary says of it.
#[derive(Debug, Clone)]
pub struct TypedColumn {
    /// Its name.
    pub name: String,
    /// Its type.
    pub ty: ColumnType,
    /// Whether it may be empty.
    pub nullable: bool,
    /// The documented codes of a category column.
    pub values: &'static [&'static str],
    /// What it means (empty when the dictionary does not list it).
    pub description: String,
}

/// The typed columns of a dataset's output columns: the dictionary's type, nullability, codes
/// and description for the columns it lists; the extra `item_n` columns of a wide wellbeing
/// export are whole numbers that may be empty.
pub fn typed_columns(dataset: Option<Dataset>, columns: &[OutputColumn]) -> Vec<TypedColumn> {
    columns
        .iter()
        .map(|c| {
            let listed = dataset.and_then(|d| d.columns().iter().find(|l| l.name == c.name));
            match listed {
                Some(l) => TypedColumn {
                    name: c.name.to_string(),
                    ty: c.ty,
                    nullable: l.nullable,
                    values: l.values,
                    description: l.description.to_owned(),
                },
                None => TypedColumn {
                    name: c.name.to_string(),
                    ty: c.ty,
                    nullable: true,
                    values: &[],
                    description: if c.name.starts_with("item_") {
                        format!("The answer to item {}.", &c.name[5..])
                    } else {
                        String::new()
                    },
                },
            }
        })
        .collect()
}

/// The Arrow type of a dictionary type.
pub fn arrow_type(ty: ColumnType) -> DataType {
    match ty {
        ColumnType::Text => DataType::Utf8,
        ColumnType::Integer => DataType::Int64,
        ColumnType::Decimal => DataType::Float64,
        ColumnType::Boolean => DataType::Boolean,
        ColumnType::Date => DataType::Date32,
        ColumnType::Datetime => DataType::Timestamp(TimeUnit::Microsecond, Some(UTC.into())),
        ColumnType::Category => {
            DataType::Dictionary(Box::new(DataType::Int16), Box::new(DataType::Utf8))
        }
    }
}

/// The schema and footer metadata key marking a demo programme's file.
pub const DEMO_KEY: &str = "bothy:demo";

/// The Arrow schema of these columns: a field per column, typed and with the dictionary's
/// nullability, its description (`description`) and a category's codes (`bothy:values`, a JSON
/// array) in the field's metadata; `bothy:dataset` in the schema's.
pub fn arrow_schema(dataset: Option<Dataset>, columns: &[TypedColumn]) -> Schema {
    let fields: Vec<Field> = columns
        .iter()
        .map(|c| {
            let mut meta = vec![("description".to_owned(), c.description.clone())];
            if c.ty == ColumnType::Category {
                meta.push((
                    "bothy:values".to_owned(),
                    serde_json::to_string(c.values).unwrap_or_default(),
                ));
            }
            Field::new(c.name.as_str(), arrow_type(c.ty), c.nullable).with_metadata(
                meta.into_iter()
                    .collect::<std::collections::HashMap<_, _>>(),
            )
        })
        .collect();
    let mut schema = Schema::new(fields);
    if let Some(d) = dataset {
        schema = schema.with_metadata(
            [("bothy:dataset".to_owned(), d.as_str().to_owned())]
                .into_iter()
                .collect::<std::collections::HashMap<_, _>>(),
        );
    }
    schema
}

/// One column's values of the batch being built.
enum Builder {
    Text(StringBuilder),
    Integer(Int64Builder),
    Decimal(Float64Builder),
    Boolean(BooleanBuilder),
    Date(Date32Builder),
    Datetime(TimestampMicrosecondBuilder),
    /// The builder and the documented codes every batch's dictionary starts with.
    Category(Box<(StringDictionaryBuilder<Int16Type>, StringArray)>),
}

impl Builder {
    fn new(c: &TypedColumn) -> Builder {
        match c.ty {
            ColumnType::Text => Builder::Text(StringBuilder::with_capacity(BATCH, BATCH * 16)),
            ColumnType::Integer => Builder::Integer(Int64Builder::with_capacity(BATCH)),
            ColumnType::Decimal => Builder::Decimal(Float64Builder::with_capacity(BATCH)),
            ColumnType::Boolean => Builder::Boolean(BooleanBuilder::with_capacity(BATCH)),
            ColumnType::Date => Builder::Date(Date32Builder::with_capacity(BATCH)),
            ColumnType::Datetime => Builder::Datetime(
                TimestampMicrosecondBuilder::with_capacity(BATCH).with_timezone(UTC),
            ),
            ColumnType::Category => {
                let codes = StringArray::from_iter_values(c.values.iter());
                Builder::Category(Box::new((category_builder(&codes), codes)))
            }
        }
    }

    /// The batch's array; the builder starts again, empty (a category's with its codes).
    fn finish(&mut self) -> ArrayRef {
        match self {
            Builder::Text(b) => Arc::new(b.finish()),
            Builder::Integer(b) => Arc::new(b.finish()),
            Builder::Decimal(b) => Arc::new(b.finish()),
            Builder::Boolean(b) => Arc::new(b.finish()),
            Builder::Date(b) => Arc::new(b.finish()),
            Builder::Datetime(b) => Arc::new(b.finish()),
            Builder::Category(c) => {
                let (b, codes) = &mut **c;
                let array = Arc::new(b.finish());
                *b = category_builder(codes);
                array
            }
        }
    }
}

/// A dictionary builder whose dictionary starts with the documented codes, so that a code's
/// index is the same in every batch and every file.
fn category_builder(codes: &StringArray) -> StringDictionaryBuilder<Int16Type> {
    StringDictionaryBuilder::new_with_dictionary(BATCH, codes)
        .unwrap_or_else(|_| StringDictionaryBuilder::with_capacity(BATCH, 16, 256))
}

/// Days from 1970-01-01 of a `YYYY-MM-DD` date.
fn epoch_days(s: &str) -> Option<i32> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        b[r].iter().try_fold(0u32, |n, d| {
            d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0'))
        })
    };
    let date = chrono::NaiveDate::from_ymd_opt(num(0..4)? as i32, num(5..7)?, num(8..10)?)?;
    Some((date - chrono::NaiveDate::from_ymd_opt(1970, 1, 1)?).num_days() as i32)
}

/// Writes rows as a Parquet file, a row group at a time; the bytes are taken as they are
/// written ([`ParquetSink::take`]) and the footer by [`ParquetSink::finish`].
pub struct ParquetSink {
    columns: Vec<TypedColumn>,
    builders: Vec<Builder>,
    schema: SchemaRef,
    /// Made with the first batch (or the first bytes taken), once the metadata is known.
    writer: Option<ArrowWriter<Vec<u8>>>,
    /// Rows in the builders.
    rows: usize,
    /// Key-value metadata for the footer.
    metadata: Vec<(String, String)>,
    /// The first value that did not fit its column; the export fails with it.
    error: Option<TypedError>,
    /// Reused to write a number given to a text column.
    scratch: String,
}

impl ParquetSink {
    /// A sink of these columns (of this dataset, if it is one).
    pub fn new(dataset: Option<Dataset>, columns: Vec<TypedColumn>) -> Result<Self, TypedError> {
        let schema = Arc::new(arrow_schema(dataset, &columns));
        let builders = columns.iter().map(Builder::new).collect();
        Ok(ParquetSink {
            columns,
            builders,
            schema,
            writer: None,
            rows: 0,
            metadata: Vec::new(),
            error: None,
            scratch: String::new(),
        })
    }

    /// Adds a key-value pair to the file's metadata: to the Arrow schema's (which readers
    /// such as pyarrow show as the table's) when no bytes are written yet, and in any case to
    /// the footer's.
    pub fn describe(&mut self, key: &str, value: String) {
        if self.writer.is_none() {
            let mut meta = self.schema.metadata().clone();
            meta.insert(key.to_owned(), value.clone());
            self.schema = Arc::new(self.schema.as_ref().clone().with_metadata(meta));
        }
        self.metadata.push((key.to_owned(), value));
    }

    /// Marks the file as a demo programme's (synthetic people, not real data): `bothy:demo` =
    /// `"true"` in the schema's metadata and the footer's. A real project's file has no
    /// `bothy:demo`.
    pub fn mark_demo(&mut self) {
        self.describe(DEMO_KEY, "true".to_owned());
    }

    /// The Parquet writer, made on first use with the schema as it is then.
    fn writer(&mut self) -> Result<&mut ArrowWriter<Vec<u8>>, TypedError> {
        if self.writer.is_none() {
            let props = WriterProperties::builder()
                .set_compression(Compression::SNAPPY)
                .set_max_row_group_row_count(Some(ROW_GROUP))
                .set_created_by(format!("bothy {}", env!("CARGO_PKG_VERSION")))
                .build();
            let w = ArrowWriter::try_new(
                Vec::with_capacity(CHUNK * 2),
                self.schema.clone(),
                Some(props),
            )?;
            self.writer = Some(w);
        }
        Ok(self.writer.as_mut().expect("made above"))
    }

    /// Appends one row, in column order. A value that does not fit its column is kept as the
    /// export's error ([`ParquetSink::finish`] returns it) and later rows are ignored.
    pub fn row(&mut self, row: &[Val]) {
        if self.error.is_some() {
            return;
        }
        debug_assert_eq!(row.len(), self.builders.len());
        for (i, v) in row.iter().enumerate() {
            if let Err(problem) = self.append(i, v) {
                self.error = Some(TypedError::Value {
                    column: self.columns[i].name.clone(),
                    problem,
                });
                return;
            }
        }
        self.rows += 1;
        if self.rows == BATCH
            && let Err(e) = self.write_batch()
        {
            self.error = Some(e);
        }
    }

    fn append(&mut self, i: usize, v: &Val) -> Result<(), String> {
        let nullable = self.columns[i].nullable;
        let scratch = &mut self.scratch;
        let text = |v: &Val, scratch: &mut String| -> Option<()> {
            scratch.clear();
            match v {
                Val::Text(s) => scratch.push_str(s),
                Val::Int(n) => {
                    let _ = write!(scratch, "{n}");
                }
                Val::Num(n) => {
                    let _ = write!(scratch, "{n}");
                }
                Val::Bool(b) => scratch.push_str(if *b { "true" } else { "false" }),
                Val::Null => return None,
            }
            Some(())
        };
        if matches!(v, Val::Null) && !nullable {
            return Err("empty, but the dictionary says it never is".into());
        }
        let wrong = |v: &Val| format!("{v:?} is not a value of this column's type");
        match &mut self.builders[i] {
            Builder::Text(b) => match v {
                Val::Null => b.append_null(),
                Val::Text(s) => b.append_value(s),
                other => {
                    text(other, scratch);
                    b.append_value(scratch.as_str());
                }
            },
            Builder::Category(c) => match v {
                Val::Null => c.0.append_null(),
                Val::Text(s) => {
                    c.0.append(s.as_ref()).map_err(|e| e.to_string())?;
                }
                other => {
                    text(other, scratch);
                    c.0.append(scratch.as_str()).map_err(|e| e.to_string())?;
                }
            },
            Builder::Integer(b) => match v {
                Val::Null => b.append_null(),
                Val::Int(n) => b.append_value(*n),
                Val::Text(s) => b.append_value(s.parse().map_err(|_| wrong(v))?),
                _ => return Err(wrong(v)),
            },
            Builder::Decimal(b) => match v {
                Val::Null => b.append_null(),
                Val::Num(n) => b.append_value(*n),
                Val::Int(n) => b.append_value(*n as f64),
                Val::Text(s) => b.append_value(s.parse().map_err(|_| wrong(v))?),
                _ => return Err(wrong(v)),
            },
            Builder::Boolean(b) => match v {
                Val::Null => b.append_null(),
                Val::Bool(x) => b.append_value(*x),
                Val::Int(0) => b.append_value(false),
                Val::Int(1) => b.append_value(true),
                Val::Text(s) if s == "true" => b.append_value(true),
                Val::Text(s) if s == "false" => b.append_value(false),
                _ => return Err(wrong(v)),
            },
            Builder::Date(b) => match v {
                Val::Null => b.append_null(),
                Val::Text(s) => b.append_value(
                    epoch_days(s).ok_or_else(|| format!("`{s}` is not a date as YYYY-MM-DD"))?,
                ),
                _ => return Err(wrong(v)),
            },
            Builder::Datetime(b) => match v {
                Val::Null => b.append_null(),
                Val::Text(s) => b.append_value(
                    chrono::DateTime::parse_from_rfc3339(s)
                        .map_err(|_| format!("`{s}` is not an RFC 3339 date and time"))?
                        .timestamp_micros(),
                ),
                _ => return Err(wrong(v)),
            },
        }
        Ok(())
    }

    /// Hands the rows in the builders to the Parquet writer (which closes a row group when it
    /// has [`ROW_GROUP`] rows).
    fn write_batch(&mut self) -> Result<(), TypedError> {
        if self.rows == 0 {
            return Ok(());
        }
        let arrays: Vec<ArrayRef> = self.builders.iter_mut().map(Builder::finish).collect();
        self.rows = 0;
        let batch = RecordBatch::try_new(self.schema.clone(), arrays)?;
        self.writer()?.write(&batch)?;
        Ok(())
    }

    /// Whether enough bytes are written to send a chunk.
    pub fn ready(&self) -> bool {
        self.writer
            .as_ref()
            .is_some_and(|w| w.inner().len() >= CHUNK)
    }

    /// Takes the bytes written so far (the writer counts its own offsets: taking them out of
    /// its buffer does not disturb the file).
    pub fn take(&mut self) -> Vec<u8> {
        match &mut self.writer {
            Some(w) => std::mem::replace(w.inner_mut(), Vec::with_capacity(CHUNK * 2)),
            None => Vec::new(),
        }
    }

    /// Writes the last rows and the footer; returns the bytes not yet taken, or the first
    /// value that did not fit.
    pub fn finish(mut self) -> Result<Vec<u8>, TypedError> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        self.write_batch()?;
        let metadata = std::mem::take(&mut self.metadata);
        let writer = self.writer()?;
        for (k, v) in metadata {
            writer.append_key_value_metadata(KeyValue::new(k, v));
        }
        writer.finish()?;
        Ok(std::mem::take(writer.inner_mut()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::cast::AsArray;
    use arrow_array::types::{Date32Type, Float64Type, Int64Type, TimestampMicrosecondType};
    use arrow_array::{Array, DictionaryArray};
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    use std::borrow::Cow;

    fn columns() -> Vec<TypedColumn> {
        let c = |name: &str, ty, nullable, values: &'static [&'static str]| TypedColumn {
            name: name.into(),
            ty,
            nullable,
            values,
            description: format!("about {name}"),
        };
        vec![
            c("id", ColumnType::Text, false, &[]),
            c("n", ColumnType::Integer, true, &[]),
            c("x", ColumnType::Decimal, true, &[]),
            c("ok", ColumnType::Boolean, true, &[]),
            c("day", ColumnType::Date, true, &[]),
            c("at", ColumnType::Datetime, true, &[]),
            c("band", ColumnType::Category, true, &["low", "mid", "high"]),
        ]
    }

    fn row(i: usize) -> Vec<Val<'static>> {
        let text = |s: String| Val::Text(Cow::Owned(s));
        vec![
            text(format!("r{i}")),
            if i.is_multiple_of(3) {
                Val::Null
            } else {
                Val::Int(i as i64 - 5)
            },
            if i.is_multiple_of(4) {
                Val::Null
            } else {
                Val::Num(i as f64 / 8.0)
            },
            if i.is_multiple_of(5) {
                Val::Null
            } else {
                Val::Bool(i.is_multiple_of(2))
            },
            if i.is_multiple_of(6) {
                Val::Null
            } else {
                text(format!("2026-0{}-1{}", 1 + i % 9, i % 10))
            },
            if i.is_multiple_of(7) {
                Val::Null
            } else {
                text(format!("2026-05-04T10:{:02}:00.123456Z", i % 60))
            },
            match i % 4 {
                0 => Val::Null,
                1 => Val::from("high"),
                2 => Val::from("low"),
                _ => Val::from("unlisted"),
            },
        ]
    }

    /// Writes `n` rows, taking the bytes whenever they are ready; returns the file and the
    /// largest buffer seen.
    fn write(n: usize) -> (Vec<u8>, usize) {
        let mut sink = ParquetSink::new(None, columns()).unwrap();
        sink.describe("bothy:filters", "{}".into());
        let mut file = sink.take();
        let mut largest = 0;
        for i in 0..n {
            sink.row(&row(i));
            largest = largest.max(sink.writer.as_ref().map_or(0, |w| w.inner().len()));
            if sink.ready() {
                file.extend(sink.take());
            }
        }
        file.extend(sink.finish().unwrap());
        (file, largest)
    }

    #[test]
    fn a_file_reads_back_with_the_values_written() {
        let n = 1000;
        let (file, _) = write(n);
        assert!(file.starts_with(b"PAR1") && file.ends_with(b"PAR1"));
        let reader = ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(file)).unwrap();
        let meta = reader
            .metadata()
            .file_metadata()
            .key_value_metadata()
            .unwrap();
        assert!(meta.iter().any(|kv| kv.key == "bothy:filters"));
        let schema = reader.schema().clone();
        assert_eq!(
            schema.field_with_name("band").unwrap().data_type(),
            &arrow_type(ColumnType::Category)
        );
        assert_eq!(
            schema.field_with_name("band").unwrap().metadata()["description"],
            "about band"
        );
        assert!(!schema.field_with_name("id").unwrap().is_nullable());
        let mut i = 0;
        for batch in reader.build().unwrap() {
            let batch = batch.unwrap();
            let ids = batch.column(0).as_string::<i32>();
            let ns = batch.column(1).as_primitive::<Int64Type>();
            let xs = batch.column(2).as_primitive::<Float64Type>();
            let oks = batch.column(3).as_boolean();
            let days = batch.column(4).as_primitive::<Date32Type>();
            let ats = batch.column(5).as_primitive::<TimestampMicrosecondType>();
            let bands = batch
                .column(6)
                .as_any()
                .downcast_ref::<DictionaryArray<Int16Type>>()
                .unwrap();
            let band_values = bands.values().as_string::<i32>();
            for r in 0..batch.num_rows() {
                let want = row(i);
                assert_eq!(Val::from(ids.value(r)), want[0]);
                let n = (!ns.is_null(r)).then(|| ns.value(r));
                assert_eq!(Val::from(n), want[1]);
                let x = (!xs.is_null(r)).then(|| xs.value(r));
                assert_eq!(Val::from(x), want[2]);
                let ok = (!oks.is_null(r)).then(|| oks.value(r));
                assert_eq!(Val::from(ok), want[3]);
                let day = (!days.is_null(r)).then(|| {
                    (chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap()
                        + chrono::Days::new(days.value(r) as u64))
                    .format("%Y-%m-%d")
                    .to_string()
                });
                assert_eq!(Val::from(day), want[4]);
                let at = (!ats.is_null(r)).then(|| {
                    chrono::DateTime::from_timestamp_micros(ats.value(r))
                        .unwrap()
                        .format("%Y-%m-%dT%H:%M:%S%.6fZ")
                        .to_string()
                });
                assert_eq!(Val::from(at), want[5]);
                let band = bands.key(r).map(|k| band_values.value(k).to_owned());
                assert_eq!(Val::from(band), want[6]);
                i += 1;
            }
        }
        assert_eq!(i, n);
    }

    #[test]
    fn many_rows_make_several_row_groups_and_the_buffer_is_drained_between_them() {
        let n = ROW_GROUP * 3 + 17;
        let (file, largest) = write(n);
        let reader = ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(file)).unwrap();
        let groups = reader.metadata().row_groups();
        assert_eq!(groups.len(), 4);
        assert!(groups.iter().all(|g| g.num_rows() <= ROW_GROUP as i64));
        let total: i64 = groups.iter().map(|g| g.num_rows()).sum();
        assert_eq!(total, n as i64);
        // The buffer never holds much more than a row group's worth of encoded bytes.
        let one_group = groups.iter().map(|g| g.compressed_size()).max().unwrap() as usize;
        assert!(largest <= one_group + CHUNK * 2, "{largest} > {one_group}");
    }

    #[test]
    fn a_value_that_does_not_fit_fails_the_export() {
        let mut sink = ParquetSink::new(None, columns()).unwrap();
        let mut r = row(1);
        r[4] = Val::from("4 May 2026");
        sink.row(&r);
        let e = sink.finish().unwrap_err();
        assert!(e.to_string().contains("`day`"), "{e}");
        let mut sink = ParquetSink::new(None, columns()).unwrap();
        let mut r = row(1);
        r[0] = Val::Null;
        sink.row(&r);
        assert!(sink.finish().is_err());
    }

    #[test]
    fn every_dataset_has_a_schema_as_the_dictionary_says() {
        use crate::analysis::export::{Dataset, output_columns};
        for d in Dataset::ALL {
            let typed = typed_columns(Some(d), &output_columns(d, 16));
            let schema = arrow_schema(Some(d), &typed);
            assert_eq!(schema.metadata()["bothy:dataset"], d.as_str());
            let listed = d.columns();
            for c in listed {
                let f = schema.field_with_name(c.name).unwrap();
                assert_eq!(
                    f.data_type(),
                    &arrow_type(c.ty),
                    "{}.{}",
                    d.as_str(),
                    c.name
                );
                assert_eq!(f.is_nullable(), c.nullable, "{}.{}", d.as_str(), c.name);
                assert_eq!(f.metadata()["description"], c.description);
                if c.ty == ColumnType::Category {
                    let codes: Vec<String> =
                        serde_json::from_str(&f.metadata()["bothy:values"]).unwrap();
                    assert_eq!(codes, c.values);
                }
            }
            let extra = if d == Dataset::Wellbeing { 2 } else { 0 };
            assert_eq!(schema.fields().len(), listed.len() + extra);
        }
    }
}
