//! Dataset writers: this module owns turning an in-memory [`Dataset`] into a dataset
//! directory as `dataset-format.md` describes it — the `dataset.toml` manifest and one
//! file per present stream in CSV, NDJSON, Parquet or Arrow IPC. Every file is written
//! to a temporary file in the target directory and then renamed into place, and stale
//! files of the same streams in other encodings are removed, so a directory never holds
//! two files for one stream. Column names, value encodings and null handling are the
//! same in every encoding, so a reader gets the same events back from each.

use std::fmt;
use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use arrow_array::{
    ArrayRef, BooleanArray, Float64Array, Int32Array, Int64Array, RecordBatch, StringArray,
    TimestampMillisecondArray,
};
use arrow_schema::{ArrowError, DataType, Field, Schema, SchemaRef, TimeUnit};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::errors::ParquetError;
use parquet::file::properties::WriterProperties;
use tempfile::NamedTempFile;

use crate::input::{
    Dataset, FunnelRow, InfraRow, LedgerRow, LogRow, PageRow, ProbeRow, RequestRow, SecurityRow,
    Stream,
};
use crate::time::format_rfc3339;

/// Rows per Parquet row group and per Arrow IPC record batch; record batches are built
/// from chunks of this many rows, so memory stays bounded per batch.
pub const BATCH_ROWS: usize = 65_536;

/// Every file extension a reader accepts for a stream; stale files with any of these
/// (other than the one just written) are removed.
const READ_EXTENSIONS: [&str; 5] = ["csv", "ndjson", "jsonl", "parquet", "arrow"];

/// The streams this writer owns (the ones [`Dataset`] holds).
const OWNED_STREAMS: [Stream; 8] = [
    Stream::Requests,
    Stream::Probes,
    Stream::Infra,
    Stream::Security,
    Stream::Logs,
    Stream::Pages,
    Stream::Funnel,
    Stream::Ledger,
];

/// The encoding of the stream files of a written dataset.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    Csv,
    Ndjson,
    Parquet,
    Arrow,
}

impl Format {
    /// Every format, in the order of the command-line help.
    pub const ALL: [Format; 4] = [Format::Csv, Format::Ndjson, Format::Parquet, Format::Arrow];

    /// The file extension (without the dot), also the name `FromStr` accepts.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Ndjson => "ndjson",
            Format::Parquet => "parquet",
            Format::Arrow => "arrow",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.extension())
    }
}

/// A format name that is not one of `csv`, `ndjson`, `parquet`, `arrow`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown dataset format `{0}`: use one of csv, ndjson, parquet, arrow")]
pub struct ParseFormatError(pub String);

impl FromStr for Format {
    type Err = ParseFormatError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Format::ALL
            .into_iter()
            .find(|f| f.extension() == s)
            .ok_or_else(|| ParseFormatError(s.to_string()))
    }
}

/// Why a dataset could not be written. Every variant names the file or directory.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error(
        "cannot create the dataset directory {}: {source} (check that its parent exists and is writable)",
        path.display()
    )]
    CreateDir { path: PathBuf, source: io::Error },
    #[error("cannot write {}: {source} (check free space and permissions)", path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error("cannot write the CSV file {}: {source} (check free space and permissions)", path.display())]
    Csv { path: PathBuf, source: csv::Error },
    #[error("cannot write the Arrow data of {}: {source}", path.display())]
    Arrow { path: PathBuf, source: ArrowError },
    #[error("cannot write the Parquet file {}: {source}", path.display())]
    Parquet { path: PathBuf, source: ParquetError },
    #[error(
        "cannot move the finished temporary file into place as {}: {source} (check permissions of the directory)",
        path.display()
    )]
    Persist { path: PathBuf, source: io::Error },
    #[error(
        "cannot remove the stale stream file {}: {source} (remove it by hand: a directory may hold only one file per stream)",
        path.display()
    )]
    RemoveStale { path: PathBuf, source: io::Error },
    #[error(
        "{}: row {row} has {value} in column `{column}`, which no dataset encoding can carry; use a finite number",
        path.display()
    )]
    NonFinite {
        path: PathBuf,
        row: usize,
        column: &'static str,
        value: f64,
    },
}

/// Writes `ds` into `dir` (created if needed) as `dataset.toml` plus one
/// `<stream>.<ext>` file per present stream, and removes files of the dataset's eight
/// streams (`requests` .. `ledger`) in other encodings, or of streams that are `None`.
///
/// NDJSON cannot represent an empty stream (an empty file is an error for readers), so
/// an empty `Some(vec![])` stream writes no file in NDJSON: that stream then reads back
/// as absent. The other formats write a header-only CSV or a zero-row Parquet/Arrow file.
pub fn write_dataset(ds: &Dataset, dir: &Path, format: Format) -> Result<(), WriteError> {
    fs::create_dir_all(dir).map_err(|source| WriteError::CreateDir {
        path: dir.to_path_buf(),
        source,
    })?;
    write_manifest(ds, dir)?;

    let mut written: Vec<(Stream, bool)> = Vec::with_capacity(OWNED_STREAMS.len());
    written.push((Stream::Requests, write_stream(dir, &ds.requests, format)?));
    written.push((
        Stream::Probes,
        write_opt(dir, ds.probes.as_deref(), format)?,
    ));
    written.push((Stream::Infra, write_opt(dir, ds.infra.as_deref(), format)?));
    written.push((
        Stream::Security,
        write_opt(dir, ds.security.as_deref(), format)?,
    ));
    written.push((Stream::Logs, write_opt(dir, ds.logs.as_deref(), format)?));
    written.push((Stream::Pages, write_opt(dir, ds.pages.as_deref(), format)?));
    written.push((
        Stream::Funnel,
        write_opt(dir, ds.funnel.as_deref(), format)?,
    ));
    written.push((
        Stream::Ledger,
        write_opt(dir, ds.ledger.as_deref(), format)?,
    ));

    for (stream, wrote) in written {
        for ext in READ_EXTENSIONS {
            if wrote && ext == format.extension() {
                continue;
            }
            let path = dir.join(format!("{}.{ext}", stream.as_str()));
            match fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(source) => return Err(WriteError::RemoveStale { path, source }),
            }
        }
    }
    Ok(())
}

fn write_manifest(ds: &Dataset, dir: &Path) -> Result<(), WriteError> {
    let path = dir.join("dataset.toml");
    let mut text = String::new();
    if let Some(start) = ds.start {
        text.push_str(&format!("start = \"{}\"\n", format_rfc3339(start)));
    }
    text.push_str("notes = \"Generated by rehearse: synthetic events, not a recording.\"\n");
    write_atomic(dir, &path, |w| {
        w.write_all(text.as_bytes())
            .map_err(|source| WriteError::Io {
                path: path.clone(),
                source,
            })
    })
}

fn write_opt<R: Rows>(dir: &Path, rows: Option<&[R]>, format: Format) -> Result<bool, WriteError> {
    match rows {
        Some(rows) => write_stream(dir, rows, format),
        None => Ok(false),
    }
}

/// Writes one stream file; returns whether a file was written.
fn write_stream<R: Rows>(dir: &Path, rows: &[R], format: Format) -> Result<bool, WriteError> {
    if format == Format::Ndjson && rows.is_empty() {
        return Ok(false);
    }
    write_chunks(dir, std::iter::once(rows), format)?;
    Ok(true)
}

/// Writes one stream file from chunks of rows, holding one chunk at a time.
fn write_chunks<R: Rows, C: AsRef<[R]>>(
    dir: &Path,
    chunks: impl Iterator<Item = C>,
    format: Format,
) -> Result<(), WriteError> {
    let path = dir.join(format!("{}.{}", R::STREAM.as_str(), format.extension()));
    let checked = |base: usize, rows: &[R]| -> Result<(), WriteError> {
        for (i, row) in rows.iter().enumerate() {
            if let Err((column, value)) = row.check() {
                return Err(WriteError::NonFinite {
                    path: path.clone(),
                    row: base + i + 1,
                    column,
                    value,
                });
            }
        }
        Ok(())
    };
    let mut seen = 0usize;
    let mut chunks = chunks.map(|c| {
        let r = checked(seen, c.as_ref());
        seen += c.as_ref().len();
        r.map(|()| c)
    });
    write_atomic(dir, &path, |w| match format {
        Format::Csv => write_csv(w, &mut chunks, &path),
        Format::Ndjson => write_ndjson(w, &mut chunks, &path),
        Format::Parquet => write_parquet(w, &mut chunks, &path),
        Format::Arrow => write_arrow(w, &mut chunks, &path),
    })
}

/// Writes a dataset whose requests come as sorted chunks (see
/// [`crate::generate::generate_streaming`]); `ds.requests` is ignored. Memory holds one
/// chunk of requests at a time.
pub fn write_dataset_streaming(
    ds: &Dataset,
    requests: impl Iterator<Item = Vec<RequestRow>>,
    dir: &Path,
    format: Format,
) -> Result<(), WriteError> {
    fs::create_dir_all(dir).map_err(|source| WriteError::CreateDir {
        path: dir.to_path_buf(),
        source,
    })?;
    let rest = Dataset {
        requests: Vec::new(),
        ..ds.clone()
    };
    write_dataset(&rest, dir, format)?;
    write_chunks(dir, requests, format)
}

/// Runs `body` on a buffered temporary file in `dir`, then renames it to `path`.
fn write_atomic<F>(dir: &Path, path: &Path, body: F) -> Result<(), WriteError>
where
    F: FnOnce(&mut BufWriter<&mut File>) -> Result<(), WriteError>,
{
    let io_err = |source| WriteError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut builder = tempfile::Builder::new();
    builder.prefix(".rehearse-").suffix(".tmp");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(fs::Permissions::from_mode(0o644));
    }
    let mut tmp: NamedTempFile = builder.tempfile_in(dir).map_err(io_err)?;
    {
        let mut w = BufWriter::new(tmp.as_file_mut());
        body(&mut w)?;
        w.flush().map_err(io_err)?;
    }
    tmp.as_file().sync_all().map_err(io_err)?;
    tmp.persist(path).map_err(|e| WriteError::Persist {
        path: path.to_path_buf(),
        source: e.error,
    })?;
    Ok(())
}

/// One value of a text-encoded row.
enum Cell<'a> {
    /// Absent: an empty CSV field, a JSON `null`.
    Null,
    /// A string: a JSON string in NDJSON.
    Str(&'a str),
    /// A string computed for this row (timestamps).
    Owned(String),
    /// A number or boolean: bare in JSON.
    Raw(String),
}

impl Cell<'_> {
    fn text(&self) -> &str {
        match self {
            Cell::Null => "",
            Cell::Str(s) => s,
            Cell::Owned(s) | Cell::Raw(s) => s,
        }
    }
}

fn ts_cell<'a>(ts: i64) -> Cell<'a> {
    Cell::Owned(format_rfc3339(ts))
}

fn opt_str(v: &Option<String>) -> Cell<'_> {
    match v {
        Some(s) => Cell::Str(s),
        None => Cell::Null,
    }
}

fn opt_bool<'a>(v: Option<bool>) -> Cell<'a> {
    match v {
        Some(b) => Cell::Raw(b.to_string()),
        None => Cell::Null,
    }
}

fn opt_f64<'a>(v: Option<f64>) -> Cell<'a> {
    match v {
        Some(x) => Cell::Raw(x.to_string()),
        None => Cell::Null,
    }
}

/// `latency_us` as the exact decimal `latency_ms` text: `123.456`, `123.45`, `120`.
pub fn format_latency_ms(latency_us: u64) -> String {
    let whole = latency_us / 1000;
    let frac = latency_us % 1000;
    if frac == 0 {
        return whole.to_string();
    }
    let mut s = format!("{whole}.{frac:03}");
    while s.ends_with('0') {
        s.pop();
    }
    s
}

fn ts_field() -> Field {
    Field::new(
        "ts",
        DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
        false,
    )
}

fn ts_array<R>(rows: &[R], ts: impl Fn(&R) -> i64) -> ArrayRef {
    Arc::new(TimestampMillisecondArray::from_iter_values(rows.iter().map(ts)).with_timezone("UTC"))
}

fn str_array<'a, R: 'a>(rows: &'a [R], f: impl Fn(&'a R) -> &'a str) -> ArrayRef {
    Arc::new(StringArray::from_iter_values(rows.iter().map(f)))
}

fn opt_str_array<'a, R: 'a>(rows: &'a [R], f: impl Fn(&'a R) -> Option<&'a str>) -> ArrayRef {
    Arc::new(rows.iter().map(f).collect::<StringArray>())
}

fn opt_bool_array<R>(rows: &[R], f: impl Fn(&R) -> Option<bool>) -> ArrayRef {
    Arc::new(rows.iter().map(f).collect::<BooleanArray>())
}

fn status_array<R>(rows: &[R], f: impl Fn(&R) -> u16) -> ArrayRef {
    Arc::new(Int32Array::from_iter_values(
        rows.iter().map(|r| i32::from(f(r))),
    ))
}

fn latency_array<R>(rows: &[R], f: impl Fn(&R) -> u64) -> ArrayRef {
    Arc::new(Float64Array::from_iter_values(
        rows.iter().map(|r| f(r) as f64 / 1000.0),
    ))
}

/// A row type of one stream: its columns, their text cells and their Arrow arrays.
trait Rows: Sized {
    const STREAM: Stream;
    /// The Arrow fields, in file column order.
    fn fields() -> Vec<Field>;
    /// This row's cells, in the order of [`Rows::fields`].
    fn cells<'a>(&'a self, out: &mut Vec<Cell<'a>>);
    /// The Arrow columns of `rows`, in the order of [`Rows::fields`].
    fn arrays(rows: &[Self]) -> Vec<ArrayRef>;
    /// A value no encoding can carry (a non-finite float): its column and value.
    fn check(&self) -> Result<(), (&'static str, f64)> {
        Ok(())
    }
}

impl Rows for RequestRow {
    const STREAM: Stream = Stream::Requests;
    fn fields() -> Vec<Field> {
        vec![
            ts_field(),
            Field::new("endpoint", DataType::Utf8, false),
            Field::new("cohort", DataType::Utf8, false),
            Field::new("source", DataType::Utf8, false),
            Field::new("status", DataType::Int32, false),
            Field::new("latency_ms", DataType::Float64, false),
            Field::new("user_id", DataType::Utf8, true),
            Field::new("region", DataType::Utf8, true),
            Field::new("method", DataType::Utf8, true),
        ]
    }
    fn cells<'a>(&'a self, out: &mut Vec<Cell<'a>>) {
        out.push(ts_cell(self.ts));
        out.push(Cell::Str(&self.endpoint));
        out.push(Cell::Str(self.cohort.as_str()));
        out.push(Cell::Str(self.source.as_str()));
        out.push(Cell::Raw(self.status.to_string()));
        out.push(Cell::Raw(format_latency_ms(self.latency_us)));
        out.push(opt_str(&self.user_id));
        out.push(opt_str(&self.region));
        out.push(opt_str(&self.method));
    }
    fn arrays(rows: &[Self]) -> Vec<ArrayRef> {
        vec![
            ts_array(rows, |r| r.ts),
            str_array(rows, |r| &r.endpoint),
            str_array(rows, |r| r.cohort.as_str()),
            str_array(rows, |r| r.source.as_str()),
            status_array(rows, |r| r.status),
            latency_array(rows, |r| r.latency_us),
            opt_str_array(rows, |r| r.user_id.as_deref()),
            opt_str_array(rows, |r| r.region.as_deref()),
            opt_str_array(rows, |r| r.method.as_deref()),
        ]
    }
}

impl Rows for ProbeRow {
    const STREAM: Stream = Stream::Probes;
    fn fields() -> Vec<Field> {
        vec![
            ts_field(),
            Field::new("target", DataType::Utf8, false),
            Field::new("status", DataType::Int32, false),
            Field::new("latency_ms", DataType::Float64, false),
            Field::new("payload", DataType::Utf8, true),
            Field::new("schema_ok", DataType::Boolean, true),
        ]
    }
    fn cells<'a>(&'a self, out: &mut Vec<Cell<'a>>) {
        out.push(ts_cell(self.ts));
        out.push(Cell::Str(&self.target));
        out.push(Cell::Raw(self.status.to_string()));
        out.push(Cell::Raw(format_latency_ms(self.latency_us)));
        out.push(opt_str(&self.payload));
        out.push(opt_bool(self.schema_ok));
    }
    fn arrays(rows: &[Self]) -> Vec<ArrayRef> {
        vec![
            ts_array(rows, |r| r.ts),
            str_array(rows, |r| &r.target),
            status_array(rows, |r| r.status),
            latency_array(rows, |r| r.latency_us),
            opt_str_array(rows, |r| r.payload.as_deref()),
            opt_bool_array(rows, |r| r.schema_ok),
        ]
    }
}

impl Rows for InfraRow {
    const STREAM: Stream = Stream::Infra;
    fn fields() -> Vec<Field> {
        vec![
            ts_field(),
            Field::new("cpu", DataType::Float64, false),
            Field::new("mem_free", DataType::Float64, false),
            Field::new("host", DataType::Utf8, true),
            Field::new("cohort", DataType::Utf8, true),
            Field::new("db_p95_ms", DataType::Float64, true),
            Field::new("queue_depth", DataType::Float64, true),
        ]
    }
    fn cells<'a>(&'a self, out: &mut Vec<Cell<'a>>) {
        out.push(ts_cell(self.ts));
        out.push(Cell::Raw(self.cpu.to_string()));
        out.push(Cell::Raw(self.mem_free.to_string()));
        out.push(opt_str(&self.host));
        out.push(match self.cohort {
            Some(c) => Cell::Str(c.as_str()),
            None => Cell::Null,
        });
        out.push(opt_f64(self.db_p95_ms));
        out.push(opt_f64(self.queue_depth));
    }
    fn arrays(rows: &[Self]) -> Vec<ArrayRef> {
        vec![
            ts_array(rows, |r| r.ts),
            Arc::new(Float64Array::from_iter_values(rows.iter().map(|r| r.cpu))),
            Arc::new(Float64Array::from_iter_values(
                rows.iter().map(|r| r.mem_free),
            )),
            opt_str_array(rows, |r| r.host.as_deref()),
            opt_str_array(rows, |r| r.cohort.map(|c| c.as_str())),
            Arc::new(rows.iter().map(|r| r.db_p95_ms).collect::<Float64Array>()),
            Arc::new(rows.iter().map(|r| r.queue_depth).collect::<Float64Array>()),
        ]
    }
    fn check(&self) -> Result<(), (&'static str, f64)> {
        let values = [
            ("cpu", Some(self.cpu)),
            ("mem_free", Some(self.mem_free)),
            ("db_p95_ms", self.db_p95_ms),
            ("queue_depth", self.queue_depth),
        ];
        for (column, value) in values {
            if let Some(v) = value.filter(|v| !v.is_finite()) {
                return Err((column, v));
            }
        }
        Ok(())
    }
}

impl Rows for SecurityRow {
    const STREAM: Stream = Stream::Security;
    fn fields() -> Vec<Field> {
        vec![
            ts_field(),
            Field::new("kind", DataType::Utf8, false),
            Field::new("source_ip", DataType::Utf8, true),
            Field::new("rule", DataType::Utf8, true),
        ]
    }
    fn cells<'a>(&'a self, out: &mut Vec<Cell<'a>>) {
        out.push(ts_cell(self.ts));
        out.push(Cell::Str(self.kind.as_str()));
        out.push(opt_str(&self.source_ip));
        out.push(opt_str(&self.rule));
    }
    fn arrays(rows: &[Self]) -> Vec<ArrayRef> {
        vec![
            ts_array(rows, |r| r.ts),
            str_array(rows, |r| r.kind.as_str()),
            opt_str_array(rows, |r| r.source_ip.as_deref()),
            opt_str_array(rows, |r| r.rule.as_deref()),
        ]
    }
}

impl Rows for LogRow {
    const STREAM: Stream = Stream::Logs;
    fn fields() -> Vec<Field> {
        vec![
            ts_field(),
            Field::new("message", DataType::Utf8, false),
            Field::new("service", DataType::Utf8, true),
            Field::new("level", DataType::Utf8, true),
        ]
    }
    fn cells<'a>(&'a self, out: &mut Vec<Cell<'a>>) {
        out.push(ts_cell(self.ts));
        out.push(Cell::Str(&self.message));
        out.push(opt_str(&self.service));
        out.push(opt_str(&self.level));
    }
    fn arrays(rows: &[Self]) -> Vec<ArrayRef> {
        vec![
            ts_array(rows, |r| r.ts),
            str_array(rows, |r| &r.message),
            opt_str_array(rows, |r| r.service.as_deref()),
            opt_str_array(rows, |r| r.level.as_deref()),
        ]
    }
}

impl Rows for PageRow {
    const STREAM: Stream = Stream::Pages;
    fn fields() -> Vec<Field> {
        vec![
            ts_field(),
            Field::new("path", DataType::Utf8, false),
            Field::new("kind", DataType::Utf8, false),
            Field::new("status", DataType::Int32, false),
            Field::new("cache_control", DataType::Utf8, false),
            Field::new("test_mode", DataType::Boolean, true),
            Field::new("canonical", DataType::Utf8, true),
            Field::new("robots", DataType::Utf8, true),
            Field::new("in_sitemap", DataType::Boolean, true),
            Field::new("prerendered", DataType::Boolean, true),
        ]
    }
    fn cells<'a>(&'a self, out: &mut Vec<Cell<'a>>) {
        out.push(ts_cell(self.ts));
        out.push(Cell::Str(&self.path));
        out.push(Cell::Str(self.kind.as_str()));
        out.push(Cell::Raw(self.status.to_string()));
        out.push(Cell::Str(&self.cache_control));
        out.push(opt_bool(self.test_mode));
        out.push(opt_str(&self.canonical));
        out.push(opt_str(&self.robots));
        out.push(opt_bool(self.in_sitemap));
        out.push(opt_bool(self.prerendered));
    }
    fn arrays(rows: &[Self]) -> Vec<ArrayRef> {
        vec![
            ts_array(rows, |r| r.ts),
            str_array(rows, |r| &r.path),
            str_array(rows, |r| r.kind.as_str()),
            status_array(rows, |r| r.status),
            str_array(rows, |r| &r.cache_control),
            opt_bool_array(rows, |r| r.test_mode),
            opt_str_array(rows, |r| r.canonical.as_deref()),
            opt_str_array(rows, |r| r.robots.as_deref()),
            opt_bool_array(rows, |r| r.in_sitemap),
            opt_bool_array(rows, |r| r.prerendered),
        ]
    }
}

impl Rows for FunnelRow {
    const STREAM: Stream = Stream::Funnel;
    fn fields() -> Vec<Field> {
        let opt = |name: &str| Field::new(name, DataType::Utf8, true);
        vec![
            ts_field(),
            Field::new("event", DataType::Utf8, false),
            opt("user_id"),
            opt("anonymous_id"),
            opt("cohort"),
            opt("platform"),
            opt("utm_source"),
            opt("utm_medium"),
            opt("utm_campaign"),
            Field::new("revenue", DataType::Float64, true),
            opt("currency"),
            opt("order_id"),
            Field::new("test_mode", DataType::Boolean, true),
            opt("user_agent"),
            opt("page_url"),
            opt("provider_id"),
            opt("message_id"),
            opt("source"),
        ]
    }
    fn cells<'a>(&'a self, out: &mut Vec<Cell<'a>>) {
        out.push(ts_cell(self.ts));
        out.push(Cell::Str(&self.event));
        out.push(opt_str(&self.user_id));
        out.push(opt_str(&self.anonymous_id));
        out.push(match self.cohort {
            Some(c) => Cell::Str(c.as_str()),
            None => Cell::Null,
        });
        out.push(opt_str(&self.platform));
        out.push(opt_str(&self.utm_source));
        out.push(opt_str(&self.utm_medium));
        out.push(opt_str(&self.utm_campaign));
        out.push(opt_f64(self.revenue));
        out.push(opt_str(&self.currency));
        out.push(opt_str(&self.order_id));
        out.push(opt_bool(self.test_mode));
        out.push(opt_str(&self.user_agent));
        out.push(opt_str(&self.page_url));
        out.push(opt_str(&self.provider_id));
        out.push(opt_str(&self.message_id));
        out.push(match self.source {
            Some(s) => Cell::Str(s.as_str()),
            None => Cell::Null,
        });
    }
    fn arrays(rows: &[Self]) -> Vec<ArrayRef> {
        vec![
            ts_array(rows, |r| r.ts),
            str_array(rows, |r| &r.event),
            opt_str_array(rows, |r| r.user_id.as_deref()),
            opt_str_array(rows, |r| r.anonymous_id.as_deref()),
            opt_str_array(rows, |r| r.cohort.map(|c| c.as_str())),
            opt_str_array(rows, |r| r.platform.as_deref()),
            opt_str_array(rows, |r| r.utm_source.as_deref()),
            opt_str_array(rows, |r| r.utm_medium.as_deref()),
            opt_str_array(rows, |r| r.utm_campaign.as_deref()),
            Arc::new(rows.iter().map(|r| r.revenue).collect::<Float64Array>()),
            opt_str_array(rows, |r| r.currency.as_deref()),
            opt_str_array(rows, |r| r.order_id.as_deref()),
            opt_bool_array(rows, |r| r.test_mode),
            opt_str_array(rows, |r| r.user_agent.as_deref()),
            opt_str_array(rows, |r| r.page_url.as_deref()),
            opt_str_array(rows, |r| r.provider_id.as_deref()),
            opt_str_array(rows, |r| r.message_id.as_deref()),
            opt_str_array(rows, |r| r.source.map(|s| s.as_str())),
        ]
    }
    fn check(&self) -> Result<(), (&'static str, f64)> {
        match self.revenue {
            Some(v) if !v.is_finite() => Err(("revenue", v)),
            _ => Ok(()),
        }
    }
}

impl Rows for LedgerRow {
    const STREAM: Stream = Stream::Ledger;
    fn fields() -> Vec<Field> {
        vec![
            ts_field(),
            Field::new("txn_id", DataType::Utf8, false),
            Field::new("entry_id", DataType::Utf8, false),
            Field::new("account", DataType::Utf8, false),
            Field::new("debit_minor", DataType::Int64, true),
            Field::new("credit_minor", DataType::Int64, true),
            Field::new("currency", DataType::Utf8, false),
            Field::new("kind", DataType::Utf8, false),
            Field::new("order_id", DataType::Utf8, true),
            Field::new("provider_id", DataType::Utf8, true),
            Field::new("payout_id", DataType::Utf8, true),
        ]
    }
    fn cells<'a>(&'a self, out: &mut Vec<Cell<'a>>) {
        let int = |v: Option<i64>| match v {
            Some(v) => Cell::Raw(v.to_string()),
            None => Cell::Null,
        };
        out.push(ts_cell(self.ts));
        out.push(Cell::Str(&self.txn_id));
        out.push(Cell::Str(&self.entry_id));
        out.push(Cell::Str(&self.account));
        out.push(int(self.debit_minor));
        out.push(int(self.credit_minor));
        out.push(Cell::Str(&self.currency));
        out.push(Cell::Str(self.kind.as_str()));
        out.push(opt_str(&self.order_id));
        out.push(opt_str(&self.provider_id));
        out.push(opt_str(&self.payout_id));
    }
    fn arrays(rows: &[Self]) -> Vec<ArrayRef> {
        vec![
            ts_array(rows, |r| r.ts),
            str_array(rows, |r| &r.txn_id),
            str_array(rows, |r| &r.entry_id),
            str_array(rows, |r| &r.account),
            Arc::new(rows.iter().map(|r| r.debit_minor).collect::<Int64Array>()),
            Arc::new(rows.iter().map(|r| r.credit_minor).collect::<Int64Array>()),
            str_array(rows, |r| &r.currency),
            str_array(rows, |r| r.kind.as_str()),
            opt_str_array(rows, |r| r.order_id.as_deref()),
            opt_str_array(rows, |r| r.provider_id.as_deref()),
            opt_str_array(rows, |r| r.payout_id.as_deref()),
        ]
    }
}

fn schema<R: Rows>() -> SchemaRef {
    Arc::new(Schema::new(R::fields()))
}

type Chunks<'i, C> = &'i mut dyn Iterator<Item = Result<C, WriteError>>;

fn write_csv<R: Rows, C: AsRef<[R]>>(
    w: &mut BufWriter<&mut File>,
    chunks: Chunks<'_, C>,
    path: &Path,
) -> Result<(), WriteError> {
    let csv_err = |source| WriteError::Csv {
        path: path.to_path_buf(),
        source,
    };
    let mut out = csv::WriterBuilder::new().from_writer(w);
    let fields = R::fields();
    out.write_record(fields.iter().map(|f| f.name().as_str()))
        .map_err(csv_err)?;
    for chunk in chunks {
        let chunk = chunk?;
        let mut cells = Vec::with_capacity(fields.len());
        for row in chunk.as_ref() {
            cells.clear();
            row.cells(&mut cells);
            out.write_record(cells.iter().map(Cell::text))
                .map_err(csv_err)?;
        }
    }
    out.flush().map_err(|source| WriteError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Appends `s` as a JSON string literal.
fn push_json_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

fn write_ndjson<R: Rows, C: AsRef<[R]>>(
    w: &mut BufWriter<&mut File>,
    chunks: Chunks<'_, C>,
    path: &Path,
) -> Result<(), WriteError> {
    let names: Vec<String> = R::fields().iter().map(|f| f.name().clone()).collect();
    let mut line = String::new();
    for chunk in chunks {
        let chunk = chunk?;
        let mut cells = Vec::with_capacity(names.len());
        for row in chunk.as_ref() {
            cells.clear();
            row.cells(&mut cells);
            line.clear();
            line.push('{');
            for (i, (name, cell)) in names.iter().zip(&cells).enumerate() {
                if i > 0 {
                    line.push(',');
                }
                push_json_str(&mut line, name);
                line.push(':');
                match cell {
                    Cell::Null => line.push_str("null"),
                    Cell::Str(s) => push_json_str(&mut line, s),
                    Cell::Owned(s) => push_json_str(&mut line, s),
                    Cell::Raw(s) => line.push_str(s),
                }
            }
            line.push_str("}\n");
            w.write_all(line.as_bytes())
                .map_err(|source| WriteError::Io {
                    path: path.to_path_buf(),
                    source,
                })?;
        }
    }
    Ok(())
}

fn batches<'a, R: Rows>(
    rows: &'a [R],
    schema: &'a SchemaRef,
) -> impl Iterator<Item = Result<RecordBatch, ArrowError>> + 'a {
    rows.chunks(BATCH_ROWS)
        .map(move |chunk| RecordBatch::try_new(schema.clone(), R::arrays(chunk)))
}

fn write_parquet<R: Rows, C: AsRef<[R]>>(
    w: &mut BufWriter<&mut File>,
    chunks: Chunks<'_, C>,
    path: &Path,
) -> Result<(), WriteError> {
    let pq_err = |source| WriteError::Parquet {
        path: path.to_path_buf(),
        source,
    };
    let schema = schema::<R>();
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_max_row_group_row_count(Some(BATCH_ROWS))
        .build();
    let mut writer = ArrowWriter::try_new(w, schema.clone(), Some(props)).map_err(pq_err)?;
    for chunk in chunks {
        let chunk = chunk?;
        for batch in batches(chunk.as_ref(), &schema) {
            let batch = batch.map_err(|source| WriteError::Arrow {
                path: path.to_path_buf(),
                source,
            })?;
            writer.write(&batch).map_err(pq_err)?;
        }
    }
    writer.close().map_err(pq_err)?;
    Ok(())
}

fn write_arrow<R: Rows, C: AsRef<[R]>>(
    w: &mut BufWriter<&mut File>,
    chunks: Chunks<'_, C>,
    path: &Path,
) -> Result<(), WriteError> {
    let arrow_err = |source| WriteError::Arrow {
        path: path.to_path_buf(),
        source,
    };
    let schema = schema::<R>();
    let mut writer = arrow_ipc::writer::FileWriter::try_new(w, &schema).map_err(arrow_err)?;
    for chunk in chunks {
        let chunk = chunk?;
        for batch in batches(chunk.as_ref(), &schema) {
            writer
                .write(&batch.map_err(arrow_err)?)
                .map_err(arrow_err)?;
        }
    }
    writer.finish().map_err(arrow_err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::{Cohort, PageKind, SecurityKind, Source};
    use arrow_array::Array;
    use arrow_array::cast::AsArray;
    use arrow_array::types::TimestampMillisecondType;

    const T0: i64 = 1_772_445_600_000;

    fn sample() -> Dataset {
        let requests = (0..5)
            .map(|i| RequestRow {
                ts: T0 + 1000 * i + 7,
                endpoint: "/api/search".into(),
                cohort: if i % 2 == 0 {
                    Cohort::Canary
                } else {
                    Cohort::Baseline
                },
                source: Source::Real,
                status: if i == 3 { 503 } else { 200 },
                latency_us: [123_456, 120_000, 123_450, 1_000, 999][i as usize],
                user_id: (i != 1).then(|| format!("usr_{i:05}")),
                region: Some("eu-west-1".into()),
                method: Some("GET".into()),
            })
            .collect();
        Dataset {
            start: Some(T0),
            requests,
            probes: Some(vec![ProbeRow {
                ts: T0 + 60_000,
                target: "ttv".into(),
                status: 200,
                latency_us: 84_200,
                payload: Some(r#"{"service":"ttv","note":"a, \"quoted\" one"}"#.into()),
                schema_ok: Some(true),
            }]),
            infra: Some(vec![InfraRow {
                ts: T0 + 10_000,
                cpu: 0.31,
                mem_free: 0.55,
                host: Some("web-canary-1".into()),
                cohort: Some(Cohort::Canary),
                db_p95_ms: None,
                queue_depth: Some(50.0),
            }]),
            security: Some(vec![SecurityRow {
                ts: T0 + 5,
                kind: SecurityKind::WafBlock,
                source_ip: Some("203.0.113.7".into()),
                rule: None,
            }]),
            logs: Some(Vec::new()),
            pages: Some(vec![PageRow {
                ts: T0 + 1,
                path: "/pricing".into(),
                kind: PageKind::Seo,
                status: 200,
                cache_control: "public, max-age=300".into(),
                test_mode: Some(false),
                canonical: Some("https://www.example.com/pricing".into()),
                robots: Some("index, follow".into()),
                in_sitemap: Some(true),
                prerendered: None,
            }]),
            funnel: None,
            ledger: None,
        }
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn latency_text_is_exact() {
        assert_eq!(format_latency_ms(123_456), "123.456");
        assert_eq!(format_latency_ms(120_000), "120");
        assert_eq!(format_latency_ms(123_450), "123.45");
        assert_eq!(format_latency_ms(999), "0.999");
        assert_eq!(format_latency_ms(1_500), "1.5");
    }

    #[test]
    fn format_names_parse() {
        for f in Format::ALL {
            assert_eq!(f.extension().parse::<Format>().unwrap(), f);
        }
        let err = "json".parse::<Format>().unwrap_err();
        assert!(err.to_string().contains("`json`"));
    }

    #[test]
    fn each_format_writes_expected_files() {
        let ds = sample();
        for format in Format::ALL {
            let tmp = tempfile::tempdir().unwrap();
            let dir = tmp.path().join("out");
            write_dataset(&ds, &dir, format).unwrap();
            let ext = format.extension();
            let mut expected = vec!["dataset.toml".to_string()];
            for s in ["infra", "logs", "pages", "probes", "requests", "security"] {
                if s == "logs" && format == Format::Ndjson {
                    continue;
                }
                expected.push(format!("{s}.{ext}"));
            }
            expected.sort();
            assert_eq!(names(&dir), expected, "{format}");
            let manifest = fs::read_to_string(dir.join("dataset.toml")).unwrap();
            let parsed: toml::Table = toml::from_str(&manifest).unwrap();
            assert_eq!(parsed["start"].as_str(), Some("2026-03-02T10:00:00.000Z"));
            assert!(parsed["notes"].as_str().unwrap().contains("Generated"));
        }
    }

    #[test]
    fn csv_first_lines() {
        let tmp = tempfile::tempdir().unwrap();
        write_dataset(&sample(), tmp.path(), Format::Csv).unwrap();
        let text = fs::read_to_string(tmp.path().join("requests.csv")).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "ts,endpoint,cohort,source,status,latency_ms,user_id,region,method"
        );
        assert_eq!(
            lines[1],
            "2026-03-02T10:00:00.007Z,/api/search,canary,real,200,123.456,usr_00000,eu-west-1,GET"
        );
        assert_eq!(
            lines[2],
            "2026-03-02T10:00:01.007Z,/api/search,baseline,real,200,120,,eu-west-1,GET"
        );
        let probes = fs::read_to_string(tmp.path().join("probes.csv")).unwrap();
        let mut reader = csv::Reader::from_reader(probes.as_bytes());
        let row = reader.records().next().unwrap().unwrap();
        assert_eq!(&row[4], r#"{"service":"ttv","note":"a, \"quoted\" one"}"#);
        assert_eq!(&row[5], "true");
        let logs = fs::read_to_string(tmp.path().join("logs.csv")).unwrap();
        assert_eq!(logs, "ts,message,service,level\n");
        let infra = fs::read_to_string(tmp.path().join("infra.csv")).unwrap();
        assert_eq!(
            infra.lines().nth(1).unwrap(),
            "2026-03-02T10:00:10.000Z,0.31,0.55,web-canary-1,canary,,50"
        );
    }

    #[test]
    fn ndjson_first_lines() {
        let tmp = tempfile::tempdir().unwrap();
        write_dataset(&sample(), tmp.path(), Format::Ndjson).unwrap();
        let text = fs::read_to_string(tmp.path().join("requests.ndjson")).unwrap();
        let first = text.lines().next().unwrap();
        assert_eq!(
            first,
            r#"{"ts":"2026-03-02T10:00:00.007Z","endpoint":"/api/search","cohort":"canary","source":"real","status":200,"latency_ms":123.456,"user_id":"usr_00000","region":"eu-west-1","method":"GET"}"#
        );
        let second: serde_json::Value = serde_json::from_str(text.lines().nth(1).unwrap()).unwrap();
        assert!(second["user_id"].is_null());
        assert_eq!(second["latency_ms"], serde_json::json!(120));
        let probes = fs::read_to_string(tmp.path().join("probes.ndjson")).unwrap();
        let p: serde_json::Value = serde_json::from_str(probes.trim_end()).unwrap();
        assert_eq!(
            p["payload"].as_str().unwrap(),
            r#"{"service":"ttv","note":"a, \"quoted\" one"}"#
        );
        assert_eq!(p["schema_ok"], serde_json::json!(true));
        assert!(!tmp.path().join("logs.ndjson").exists());
    }

    fn ts_values(batches: &[RecordBatch]) -> Vec<i64> {
        let mut out = Vec::new();
        for b in batches {
            let col = b.column_by_name("ts").unwrap();
            assert_eq!(
                col.data_type(),
                &DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into()))
            );
            out.extend(
                col.as_primitive::<TimestampMillisecondType>()
                    .values()
                    .iter(),
            );
        }
        out
    }

    #[test]
    fn parquet_and_arrow_round_trip() {
        let mut ds = sample();
        // More than one batch / row group.
        let base = ds.requests[0].clone();
        ds.requests = (0..(BATCH_ROWS as i64 + 10))
            .map(|i| RequestRow {
                ts: T0 + i * 3,
                latency_us: 1000 + i as u64,
                ..base.clone()
            })
            .collect();
        let want: Vec<i64> = ds.requests.iter().map(|r| r.ts).collect();
        let tmp = tempfile::tempdir().unwrap();

        write_dataset(&ds, tmp.path(), Format::Parquet).unwrap();
        let file = File::open(tmp.path().join("requests.parquet")).unwrap();
        let builder =
            parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file).unwrap();
        assert_eq!(builder.metadata().num_row_groups(), 2);
        let batches: Vec<RecordBatch> = builder.build().unwrap().map(|b| b.unwrap()).collect();
        assert_eq!(ts_values(&batches), want);
        let lat = batches[0].column_by_name("latency_ms").unwrap();
        assert_eq!(
            lat.as_primitive::<arrow_array::types::Float64Type>()
                .value(1),
            1.001
        );
        let file = File::open(tmp.path().join("logs.parquet")).unwrap();
        let reader =
            parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file).unwrap();
        assert_eq!(reader.schema().fields().len(), 4);
        assert_eq!(reader.metadata().file_metadata().num_rows(), 0);

        write_dataset(&ds, tmp.path(), Format::Arrow).unwrap();
        let file = File::open(tmp.path().join("requests.arrow")).unwrap();
        let reader = arrow_ipc::reader::FileReader::try_new(file, None).unwrap();
        assert_eq!(reader.num_batches(), 2);
        let batches: Vec<RecordBatch> = reader.map(|b| b.unwrap()).collect();
        assert_eq!(ts_values(&batches), want);
        let user = batches[0].column_by_name("user_id").unwrap();
        assert_eq!(user.null_count(), 0);
        let file = File::open(tmp.path().join("logs.arrow")).unwrap();
        let reader = arrow_ipc::reader::FileReader::try_new(file, None).unwrap();
        assert_eq!(reader.schema().fields().len(), 4);
        assert_eq!(reader.map(|b| b.unwrap().num_rows()).sum::<usize>(), 0);
        let file = File::open(tmp.path().join("infra.arrow")).unwrap();
        let batch = arrow_ipc::reader::FileReader::try_new(file, None)
            .unwrap()
            .next()
            .unwrap()
            .unwrap();
        assert!(batch.column_by_name("db_p95_ms").unwrap().is_null(0));
    }

    #[test]
    fn stale_files_of_other_encodings_are_removed() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let ds = sample();
        write_dataset(&ds, dir, Format::Parquet).unwrap();
        fs::write(dir.join("requests.jsonl"), "{}\n").unwrap();
        // The dataset has no funnel stream: a stale funnel file goes too.
        fs::write(dir.join("funnel.csv"), "ts,event,user_id\n").unwrap();
        write_dataset(&ds, dir, Format::Csv).unwrap();
        let mut expected: Vec<String> = [
            "dataset.toml",
            "infra.csv",
            "logs.csv",
            "pages.csv",
            "probes.csv",
            "requests.csv",
            "security.csv",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(names(dir), expected);

        // Streams now absent lose their files too; NDJSON drops the empty logs stream.
        let mut less = ds.clone();
        less.infra = None;
        write_dataset(&less, dir, Format::Ndjson).unwrap();
        expected = [
            "dataset.toml",
            "pages.ndjson",
            "probes.ndjson",
            "requests.ndjson",
            "security.ndjson",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(names(dir), expected);
    }

    #[test]
    fn non_finite_values_are_errors_naming_the_file() {
        let mut ds = sample();
        if let Some(infra) = ds.infra.as_mut() {
            infra[0].cpu = f64::NAN;
        }
        let tmp = tempfile::tempdir().unwrap();
        let err = write_dataset(&ds, tmp.path(), Format::Csv).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("infra.csv") && msg.contains("`cpu`"), "{msg}");
    }
}
