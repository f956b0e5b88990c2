//! Dataset writers: this module owns turning an in-memory [`Dataset`] into a dataset
//! directory as `dataset-format.md` describes it — the `dataset.toml` manifest and one
//! file per present stream in CSV, NDJSON, Parquet or Arrow IPC. Every file is written
//! to a temporary file in the target directory and then renamed into place, and stale
//! files of the same streams in other encodings are removed, so a directory never holds
//! two files for one stream. Column names, value encodings and null handling are the
//! same in every encoding, so a reader gets the same events back from each.
//!
//! This file holds the public API ([`Format`], [`write_dataset`],
//! [`write_dataset_streaming`], [`WriteError`], [`format_latency_ms`]), the manifest, the
//! description of a stream's rows that every encoding writes from (`Rows`, with the
//! eight streams' columns in `streams`), and the plumbing: atomic writes, stale-file
//! removal and chunked (streaming) writes. Each encoding has its own file: `csv`,
//! `ndjson`, `parquet` and `arrow`, the latter two building their record batches with
//! `columns`.

mod arrow;
mod columns;
mod csv;
mod ndjson;
mod parquet;
mod streams;

#[cfg(test)]
mod fixtures;

use std::fmt;
use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use ::parquet::errors::ParquetError;
use arrow_array::ArrayRef;
use arrow_schema::{ArrowError, Field};
use tempfile::NamedTempFile;

use crate::input::{Dataset, RequestRow, Stream};
use crate::time::format_rfc3339;

/// Rows per Parquet row group and per Arrow IPC record batch; record batches are built
/// from chunks of this many rows, so memory stays bounded per batch.
pub const BATCH_ROWS: usize = 65_536;

/// Every file extension a reader accepts for a stream; stale files with any of these
/// (other than the one just written) are removed.
const READ_EXTENSIONS: [&str; 5] = ["csv", "ndjson", "jsonl", "parquet", "arrow"];

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
    Csv { path: PathBuf, source: ::csv::Error },
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

    let mut written: Vec<(Stream, bool)> = Vec::with_capacity(Stream::ALL.len());
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
        Format::Csv => csv::write_csv(w, &mut chunks, &path),
        Format::Ndjson => ndjson::write_ndjson(w, &mut chunks, &path),
        Format::Parquet => parquet::write_parquet(w, &mut chunks, &path),
        Format::Arrow => arrow::write_arrow(w, &mut chunks, &path),
    })
}

/// Writes a dataset whose requests come as sorted chunks (see
/// [`crate::generate::generate_streaming`]); `ds.requests` is ignored. Memory holds one
/// chunk of requests at a time.
///
/// Like [`write_dataset`] it removes the stream files of other encodings in `dir`, and
/// each file is complete or absent but the dataset as a whole is not: an error or an
/// interrupt part-way leaves the files written so far. A caller that must not touch
/// existing files, or leave a partial dataset, writes into a fresh directory and moves
/// it into place afterwards (as `rehearse generate` does, `app/generate.rs`).
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

/// The chunks of rows an encoding writes, each checked for values no encoding can carry.
type Chunks<'i, C> = &'i mut dyn Iterator<Item = Result<C, WriteError>>;

#[cfg(test)]
mod tests {
    use super::fixtures::sample;
    use super::*;

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
