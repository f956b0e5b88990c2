//! Input adapters. A dataset directory holds one file per stream in one of five
//! encodings; each encoding is an adapter behind the [`Table`] trait, which hands every
//! row to a decoder as a slice of [`Cell`]s for the columns the stream asks for, with
//! the row's location for error messages. Adapters never allocate per row on the
//! common path and read in bounded batches. [`read::read_streams`] pushes a directory's
//! streams into an [`crate::input::EventSink`], [`memory::push_dataset`] an in-memory
//! dataset's. [`columns`] describes every stream's columns for people (`rehearse
//! schema`, `docs/dataset-format.md`).

pub mod accesslog;
pub mod arrowfile;
pub mod cell;
pub mod columns;
pub mod csvfile;
pub mod dataset;
pub mod ipc_guard;
pub mod memory;
pub mod ndjson;
pub mod parquet_guard;
pub mod prometheus;
pub mod read;
pub mod text;

use std::fmt;
use std::path::{Path, PathBuf};

use thiserror::Error;

pub use cell::Cell;

/// Where a row sits in its file: a line number for text formats, a 1-based row
/// number for Parquet and Arrow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RowLoc {
    Line(u64),
    Row(u64),
}

impl fmt::Display for RowLoc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RowLoc::Line(n) => write!(f, "line {n}"),
            RowLoc::Row(n) => write!(f, "row {n}"),
        }
    }
}

/// A problem with one value of one row, before the adapter adds file and location.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RowProblem {
    pub column: String,
    pub problem: String,
}

impl RowProblem {
    pub fn new(column: &str, problem: impl Into<String>) -> Self {
        Self {
            column: column.to_string(),
            problem: problem.into(),
        }
    }
}

/// Input errors: every one names the file, and row-level ones the row and column.
#[derive(Debug, Error)]
pub enum InputError {
    #[error("{file}: {loc}, column `{column}`: {problem}")]
    Row {
        file: PathBuf,
        loc: RowLoc,
        column: String,
        problem: String,
    },
    #[error("{file}: {problem}")]
    File { file: PathBuf, problem: String },
    #[error("{dir}: {problem}")]
    Dataset { dir: PathBuf, problem: String },
}

impl InputError {
    pub fn file(file: &Path, problem: impl Into<String>) -> Self {
        InputError::File {
            file: file.to_path_buf(),
            problem: problem.into(),
        }
    }
}

/// What to do with a bad row.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum OnError {
    /// Stop with an error naming file, row and column.
    #[default]
    Fail,
    /// Skip the row and count it; the report states the count per file.
    Skip,
}

pub use crate::input::ReadStats;

/// The most columns one stream asks for.
pub const MAX_COLUMNS: usize = 24;

/// A column a stream asks for.
#[derive(Clone, Copy, Debug)]
pub struct ColumnSpec {
    pub name: &'static str,
    pub required: bool,
}

impl ColumnSpec {
    /// A column every file of the stream must have.
    pub const fn required(name: &'static str) -> Self {
        Self {
            name,
            required: true,
        }
    }

    /// A column a file of the stream may leave out.
    pub const fn optional(name: &'static str) -> Self {
        Self {
            name,
            required: false,
        }
    }
}

/// The row callback: gets the cells of the requested columns in request order.
pub type RowFn<'f> = dyn for<'c> FnMut(&[Cell<'c>]) -> Result<(), RowProblem> + 'f;

/// A request row as a reader hands it over: already decoded by a columnar fast path, or
/// as cells for the row-exact decoder (which names the column of any problem).
pub enum RequestRow<'a, 'c> {
    Decoded {
        ts: crate::input::Millis,
        cohort: crate::input::Cohort,
        source: crate::input::Source,
        status: u16,
        latency_us: u64,
        /// The endpoint's outlier prefix index (`u8::MAX` for none).
        prefix: u8,
    },
    Cells(&'a [Cell<'c>]),
    /// A whole batch a columnar reader decoded column by column, every row of it valid
    /// (a batch with any row the fast path rejects is handed over row by row instead).
    Batch(&'a crate::input::RequestBatch),
}

/// The request callback of [`Table::for_each_request`].
pub type RequestFn<'f> = dyn for<'a, 'c> FnMut(RequestRow<'a, 'c>) -> Result<(), RowProblem> + 'f;

/// One encoding's reader over one file.
pub trait Table {
    /// Calls `f` for every row with the requested columns' cells. A file-level problem
    /// (unreadable, empty, a required column missing) is an error in every mode; a row
    /// problem is an error under [`OnError::Fail`] and a counted skip under `Skip`.
    fn for_each_row(
        &mut self,
        columns: &[ColumnSpec],
        on_error: OnError,
        f: &mut RowFn<'_>,
    ) -> Result<ReadStats, InputError>;

    /// Calls `f` for every row of the requests stream (`columns` is
    /// `read::REQUEST_COLUMNS`): a reader with a columnar fast path hands over the
    /// rows it decoded itself, and the cells of every other row; the default hands over
    /// cells only. Either way the rows, their order, the errors and the skips are those
    /// of [`Table::for_each_row`].
    fn for_each_request(
        &mut self,
        columns: &[ColumnSpec],
        on_error: OnError,
        prefixes: &[String],
        f: &mut RequestFn<'_>,
    ) -> Result<ReadStats, InputError> {
        let _ = prefixes;
        self.for_each_row(columns, on_error, &mut |c: &[Cell]| f(RequestRow::Cells(c)))
    }
}

/// Checks a column request against [`MAX_COLUMNS`].
pub(crate) fn check_columns(columns: &[ColumnSpec]) {
    assert!(
        columns.len() <= MAX_COLUMNS,
        "a stream asks for at most {MAX_COLUMNS} columns"
    );
}

/// The encodings a stream file may come in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    Csv,
    Ndjson,
    Parquet,
    Arrow,
    /// A web-server access log named by the manifest's `[access_log]` section (never
    /// chosen by a file extension; opened by `DatasetDir::open_stream`).
    AccessLog,
    /// Prometheus `query_range` responses named by the manifest's `[infra_prometheus]`
    /// section (opened by `DatasetDir::open_stream`).
    PrometheusMatrix,
}

impl Encoding {
    /// The encoding of a file name extension, if it is one of the five.
    pub fn from_extension(ext: &str) -> Option<Self> {
        match ext {
            "csv" => Some(Self::Csv),
            "ndjson" | "jsonl" => Some(Self::Ndjson),
            "parquet" => Some(Self::Parquet),
            "arrow" => Some(Self::Arrow),
            _ => None,
        }
    }
}

/// Opens a stream file with the adapter of its encoding.
pub fn open_table(
    path: &Path,
    encoding: Encoding,
    batch_rows: usize,
) -> Result<Box<dyn Table>, InputError> {
    let meta =
        std::fs::metadata(path).map_err(|e| InputError::file(path, format!("cannot read: {e}")))?;
    if meta.len() == 0 {
        return Err(InputError::file(
            path,
            "the file is empty (a stream needs at least a header or a schema)",
        ));
    }
    Ok(match encoding {
        Encoding::Csv => Box::new(csvfile::CsvTable::open(path)?),
        Encoding::Ndjson => Box::new(ndjson::NdjsonTable::open(path)?),
        Encoding::Parquet => Box::new(arrowfile::ArrowTable::open_parquet(path, batch_rows)?),
        Encoding::Arrow => Box::new(arrowfile::ArrowTable::open_ipc(path, batch_rows)?),
        Encoding::AccessLog | Encoding::PrometheusMatrix => {
            return Err(InputError::file(
                path,
                "access logs and Prometheus responses are read through dataset.toml's [access_log] and [infra_prometheus] sections",
            ));
        }
    })
}

/// Runs a row callback, turning a row problem into an error or a counted skip.
pub(crate) fn handle_row(
    result: Result<(), RowProblem>,
    file: &Path,
    loc: RowLoc,
    on_error: OnError,
    stats: &mut ReadStats,
) -> Result<(), InputError> {
    match result {
        Ok(()) => {
            stats.rows += 1;
            Ok(())
        }
        Err(p) => {
            let err = InputError::Row {
                file: file.to_path_buf(),
                loc,
                column: p.column,
                problem: p.problem,
            };
            match on_error {
                OnError::Fail => Err(err),
                OnError::Skip => {
                    stats.skipped += 1;
                    if stats.first_skip.is_none() {
                        stats.first_skip = Some(err.to_string());
                    }
                    Ok(())
                }
            }
        }
    }
}

/// Column names people use for a column under another name: (theirs, ours).
const COLUMN_ALIASES: &[(&str, &str)] = &[
    ("timestamp", "ts"),
    ("time", "ts"),
    ("latency", "latency_ms"),
    ("status_code", "status"),
    ("code", "status"),
];

/// What to add to "required column `wanted` is missing" when the file has a column that
/// is probably it: the same name in other case, a known alias, or a near miss (within two
/// edits, or a prefix). Empty when there is none.
pub(crate) fn column_hint(wanted: &str, present: &[&str]) -> String {
    if let Some(p) = present.iter().find(|p| p.eq_ignore_ascii_case(wanted)) {
        return format!("; a column `{p}` exists; column names are lower case");
    }
    if let Some(p) = present
        .iter()
        .find(|p| COLUMN_ALIASES.contains(&(p.to_ascii_lowercase().as_str(), wanted)))
    {
        return format!(
            "; a column `{p}` exists: rehearse calls it `{wanted}` (rename the column)"
        );
    }
    let prefix = |p: &str| p.len() >= 3 && (wanted.starts_with(p) || p.starts_with(wanted));
    let near = present
        .iter()
        .find(|p| prefix(p) || crate::suggest::nearest(p, [wanted]).is_some());
    match near {
        Some(p) => format!("; a column `{p}` exists: did you mean `{wanted}`? (rename the column)"),
        None => String::new(),
    }
}

/// The hint for a CSV header that is one field holding tabs or semicolons which split it
/// into column names the stream knows: the file uses another delimiter.
pub(crate) fn delimiter_hint(header: &[&str], known: &[&str]) -> Option<String> {
    let [only] = header else { return None };
    [('\t', "tab", "\\t"), (';', "semicolon", ";")]
        .into_iter()
        .find(|(d, _, _)| {
            only.contains(*d) && only.split(*d).any(|n| known.contains(&n.trim()))
        })
        .map(|(_, name, esc)| {
            format!(
                "the header is one column; it looks {name}-separated — rehearse reads comma-separated CSV (convert it, e.g. tr '{esc}' ',')"
            )
        })
}
