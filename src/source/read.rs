//! Reading a dataset directory: the columns each stream asks for, the conversion of a
//! row's cells into events, and the driver that pushes every stream into an
//! [`EventSink`] (requests in columnar batches, on the rayon pool for large Parquet and
//! CSV files). The same decoders serve every encoding, which is what makes the same
//! events in CSV, NDJSON, Parquet or Arrow give the same report.

use std::borrow::Cow;

use crate::input::{
    Cohort, EventSink, InfraSample, Millis, PageEvent, PageKind, ProbeEvent, RequestBatch,
    SecurityKind, Source, Stream, StreamInput, prefix_index,
};

use super::cell::{self, Cell};
use super::columns::{COHORTS, PAGE_KINDS, SECURITY_KINDS, SOURCES};
use super::dataset::DatasetDir;
use super::{ColumnSpec, InputError, OnError, RequestRow, RowProblem};

/// How to read a dataset.
#[derive(Clone, Copy, Debug)]
pub struct ReadOptions {
    pub on_error: OnError,
    /// Rows per columnar batch.
    pub batch_rows: usize,
    /// T0 given on the command line.
    pub start: Option<Millis>,
}

impl Default for ReadOptions {
    fn default() -> Self {
        Self {
            on_error: OnError::Fail,
            batch_rows: 8192,
            start: None,
        }
    }
}

pub const REQUEST_COLUMNS: [ColumnSpec; 6] = [
    ColumnSpec::required("ts"),
    ColumnSpec::required("endpoint"),
    ColumnSpec::required("cohort"),
    ColumnSpec::required("source"),
    ColumnSpec::required("status"),
    ColumnSpec::required("latency_ms"),
];
pub const PROBE_COLUMNS: [ColumnSpec; 6] = [
    ColumnSpec::required("ts"),
    ColumnSpec::required("target"),
    ColumnSpec::required("status"),
    ColumnSpec::required("latency_ms"),
    ColumnSpec::optional("payload"),
    ColumnSpec::optional("schema_ok"),
];
pub const INFRA_COLUMNS: [ColumnSpec; 6] = [
    ColumnSpec::required("ts"),
    ColumnSpec::required("cpu"),
    ColumnSpec::required("mem_free"),
    ColumnSpec::optional("cohort"),
    ColumnSpec::optional("db_p95_ms"),
    ColumnSpec::optional("queue_depth"),
];
pub const SECURITY_COLUMNS: [ColumnSpec; 2] =
    [ColumnSpec::required("ts"), ColumnSpec::required("kind")];
pub const LOG_COLUMNS: [ColumnSpec; 2] =
    [ColumnSpec::required("ts"), ColumnSpec::required("message")];
pub const PAGE_COLUMNS: [ColumnSpec; 10] = [
    ColumnSpec::required("ts"),
    ColumnSpec::required("path"),
    ColumnSpec::required("kind"),
    ColumnSpec::required("status"),
    ColumnSpec::required("cache_control"),
    ColumnSpec::optional("test_mode"),
    ColumnSpec::optional("canonical"),
    ColumnSpec::optional("robots"),
    ColumnSpec::optional("in_sitemap"),
    ColumnSpec::optional("prerendered"),
];

fn at<T>(cols: &[ColumnSpec], i: usize, r: Result<T, String>) -> Result<T, RowProblem> {
    r.map_err(|p| RowProblem::new(cols[i].name, p))
}

/// T0 from the data: the earliest `requests` or `probes` event floored to the minute.
/// Only rows the main pass accepts are events: each row goes through the same decoder
/// as in [`read_streams`], and a row it rejects is ignored here (the main pass reports it,
/// or counts it as a skip), so a skipped row never moves T0.
pub fn earliest_start(ds: &DatasetDir, batch_rows: usize) -> Result<Option<Millis>, InputError> {
    let mut earliest: Option<Millis> = None;
    let mut note = |t: Millis| earliest = Some(earliest.map_or(t, |e| e.min(t)));
    for s in [Stream::Requests, Stream::Probes] {
        let Some(mut table) = ds.open_stream(s, batch_rows)? else {
            continue;
        };
        if s == Stream::Requests {
            let cols = &REQUEST_COLUMNS;
            table.for_each_row(cols, super::OnError::Skip, &mut |c: &[Cell]| {
                let (ts, ..) = request_cells(cols, c, &[])?;
                note(ts);
                Ok(())
            })?;
        } else {
            let cols = &PROBE_COLUMNS;
            table.for_each_row(cols, super::OnError::Skip, &mut |c: &[Cell]| {
                note(probe_cells(cols, c)?.0);
                Ok(())
            })?;
        }
    }
    Ok(earliest.map(floor_minute))
}

/// `t` floored to the minute, saturating at the ends of the `i64` range.
pub fn floor_minute(t: Millis) -> Millis {
    t.div_euclid(60_000).saturating_mul(60_000)
}

/// One request row's cells decoded and checked: timestamp, cohort, source, status,
/// latency in microseconds and endpoint prefix index (among `prefixes`).
fn request_cells(
    cols: &[ColumnSpec],
    c: &[Cell],
    prefixes: &[String],
) -> Result<(Millis, Cohort, Source, u16, u64, u8), RowProblem> {
    let ts = at(cols, 0, cell::ts(&c[0]))?;
    let endpoint = at(cols, 1, cell::text(&c[1]))?;
    let cohort = at(cols, 2, cell::one_of(&c[2], Cohort::parse, COHORTS))?;
    let source = at(cols, 3, cell::one_of(&c[3], Source::parse, SOURCES))?;
    let status = at(cols, 4, cell::status(&c[4]))?;
    let lat = at(cols, 5, cell::latency_us(&c[5]))?;
    Ok((
        ts,
        cohort,
        source,
        status,
        lat,
        prefix_index(prefixes, &endpoint),
    ))
}

/// One probe row's cells decoded and checked: timestamp, target, status, payload and
/// `schema_ok`.
#[allow(clippy::type_complexity)]
fn probe_cells<'c>(
    cols: &[ColumnSpec],
    c: &'c [Cell],
) -> Result<(Millis, Cow<'c, str>, u16, Option<&'c str>, Option<bool>), RowProblem> {
    let ts = at(cols, 0, cell::ts(&c[0]))?;
    let target = at(cols, 1, cell::text(&c[1]))?;
    let status = at(cols, 2, cell::status(&c[2]))?;
    at(cols, 3, cell::latency_us(&c[3]))?;
    let payload = match &c[4] {
        Cell::Null => None,
        Cell::Str(s) => Some(s.as_ref()),
        Cell::Json(s) | Cell::Num(s) => Some(*s),
        other => {
            return Err(RowProblem::new(
                "payload",
                format!("{other:?} is not JSON text"),
            ));
        }
    };
    let schema_ok = at(cols, 5, cell::opt_bool(&c[5]))?;
    Ok((ts, target, status, payload, schema_ok))
}

/// Reads every present stream of a dataset directory (but the funnel and ledger, which
/// the analytics reader loads) into `f`.
pub fn read_streams<S: EventSink + Send + Sync>(
    ds: &DatasetDir,
    f: &mut S,
    opts: ReadOptions,
) -> Result<Vec<StreamInput>, InputError> {
    let mut inputs = Vec::new();
    for (&stream, (path, enc)) in &ds.streams {
        if matches!(stream, Stream::Funnel | Stream::Ledger) {
            continue;
        }
        let Some(mut table) = ds.open_stream(stream, opts.batch_rows)? else {
            continue;
        };
        let before = f.outside(stream);
        let before_old = f.before_2000(stream);
        f.begin(stream);
        let stats = match stream {
            Stream::Requests => {
                let threads = rayon::current_num_threads();
                if *enc == super::Encoding::Parquet && threads > 1 {
                    read_requests_parallel(path, f, opts, threads)?
                } else if *enc == super::Encoding::Csv
                    && threads > 1
                    && let Some(parts) = csv_split(path, threads)?
                {
                    read_requests_csv_parallel(path, parts, f, opts)?
                } else {
                    read_requests(table.as_mut(), f, opts)?
                }
            }
            Stream::Probes => {
                let cols = &PROBE_COLUMNS;
                table.for_each_row(cols, opts.on_error, &mut |c: &[Cell]| {
                    let (ts, target, status, payload, schema_ok) = probe_cells(cols, c)?;
                    f.probe(ProbeEvent {
                        ts,
                        target: &target,
                        status,
                        payload,
                        schema_ok,
                    });
                    Ok(())
                })?
            }
            Stream::Infra => {
                let cols = &INFRA_COLUMNS;
                let stats = table.for_each_row(cols, opts.on_error, &mut |c: &[Cell]| {
                    let ts = at(cols, 0, cell::ts(&c[0]))?;
                    let cpu = at(cols, 1, cell::number(&c[1]))?;
                    let mem = at(cols, 2, cell::number(&c[2]))?;
                    let cohort = at(cols, 3, cell::opt_one_of(&c[3], Cohort::parse, COHORTS))?;
                    let db = at(cols, 4, cell::opt_number(&c[4]))?;
                    let queue = at(cols, 5, cell::opt_number(&c[5]))?;
                    f.infra(
                        ts,
                        InfraSample {
                            cpu,
                            mem_free: mem,
                            db: db.unwrap_or(f64::NAN),
                            queue: queue.unwrap_or(f64::NAN),
                            canary: cohort == Some(Cohort::Canary),
                        },
                    );
                    Ok(())
                })?;
                f.columns(stream, &|name| present(cols, &stats, name));
                stats
            }
            Stream::Security => {
                let cols = &SECURITY_COLUMNS;
                table.for_each_row(cols, opts.on_error, &mut |c: &[Cell]| {
                    let ts = at(cols, 0, cell::ts(&c[0]))?;
                    let kind = at(
                        cols,
                        1,
                        cell::one_of(&c[1], SecurityKind::parse, SECURITY_KINDS),
                    )?;
                    f.security(ts, kind);
                    Ok(())
                })?
            }
            Stream::Logs => {
                let cols = &LOG_COLUMNS;
                table.for_each_row(cols, opts.on_error, &mut |c: &[Cell]| {
                    let ts = at(cols, 0, cell::ts(&c[0]))?;
                    let message = at(cols, 1, cell::text(&c[1]))?;
                    f.log(ts, &message);
                    Ok(())
                })?
            }
            Stream::Pages => {
                let cols = &PAGE_COLUMNS;
                let stats = table.for_each_row(cols, opts.on_error, &mut |c: &[Cell]| {
                    let ts = at(cols, 0, cell::ts(&c[0]))?;
                    let path = at(cols, 1, cell::text(&c[1]))?;
                    let kind = at(cols, 2, cell::one_of(&c[2], PageKind::parse, PAGE_KINDS))?;
                    let status = at(cols, 3, cell::status(&c[3]))?;
                    let cache = at(cols, 4, cell::text(&c[4]))?;
                    let test_mode = at(cols, 5, cell::opt_bool(&c[5]))?;
                    let canonical = cell::opt_text(&c[6]);
                    let robots = cell::opt_text(&c[7]);
                    let in_sitemap = at(cols, 8, cell::opt_bool(&c[8]))?;
                    let prerendered = at(cols, 9, cell::opt_bool(&c[9]))?;
                    f.page(PageEvent {
                        ts,
                        path: &path,
                        kind,
                        status,
                        cache_control: &cache,
                        test_mode,
                        canonical: canonical.as_deref(),
                        robots: robots.as_deref(),
                        in_sitemap,
                        prerendered,
                    });
                    Ok(())
                })?;
                f.columns(stream, &|name| present(cols, &stats, name));
                stats
            }
            Stream::Funnel | Stream::Ledger => unreachable!("skipped above"),
        };
        // Rows the decoder rejected never reached the fold; rows counted by the fold are
        // the accepted ones.
        inputs.push(StreamInput {
            stream,
            file: path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            stats,
            outside: f.outside(stream) - before,
            before_2000: f.before_2000(stream) - before_old,
        });
    }
    Ok(inputs)
}

/// Whether the file had column `name` of `cols`.
fn present(cols: &[ColumnSpec], stats: &super::ReadStats, name: &str) -> bool {
    cols.iter()
        .position(|c| c.name == name)
        .and_then(|i| stats.present.get(i).copied())
        .unwrap_or(false)
}

/// Decodes request rows into columnar batches folded as they fill.
fn read_requests<S: EventSink>(
    table: &mut dyn super::Table,
    f: &mut S,
    opts: ReadOptions,
) -> Result<super::ReadStats, InputError> {
    let cols = &REQUEST_COLUMNS;
    let prefixes = f.prefixes().to_vec();
    let mut batch = RequestBatch::with_capacity(opts.batch_rows);
    let stats = table.for_each_request(cols, opts.on_error, &prefixes, &mut |row| {
        match row {
            RequestRow::Decoded {
                ts,
                cohort,
                source,
                status,
                latency_us,
                prefix,
            } => batch.push(ts, cohort, source, status, latency_us, prefix),
            RequestRow::Cells(c) => {
                let (ts, cohort, source, status, lat, prefix) = request_cells(cols, c, &prefixes)?;
                batch.push(ts, cohort, source, status, lat, prefix);
            }
            // The fold's sums commute: a decoded batch is folded as it comes.
            RequestRow::Batch(b) => {
                f.requests(b);
                return Ok(());
            }
        }
        if batch.len() >= opts.batch_rows {
            f.requests(&batch);
            batch.clear();
        }
        Ok(())
    })?;
    f.requests(&batch);
    Ok(stats)
}

/// Reads a Parquet requests file in contiguous shares of row groups on the rayon
/// pool, each folded into its own part, then merged in share order. Row numbers in
/// errors are those of the whole file; with `--on-error fail` the error of the
/// earliest share wins, so the result never depends on the thread count.
fn read_requests_parallel<S: EventSink + Send + Sync>(
    path: &std::path::Path,
    f: &mut S,
    opts: ReadOptions,
    threads: usize,
) -> Result<super::ReadStats, InputError> {
    use rayon::prelude::*;
    let parts = super::arrowfile::ArrowTable::parquet_parts(path, threads)?;
    let base: &S = f;
    let results: Vec<Result<(S, super::ReadStats), InputError>> = parts
        .into_par_iter()
        .map(|part| {
            let mut table =
                super::arrowfile::ArrowTable::open_parquet_part(path, opts.batch_rows, part);
            let mut local = base.request_part();
            let stats = read_requests(&mut table, &mut local, opts)?;
            Ok((local, stats))
        })
        .collect();
    merge_parts(f, results)
}

/// CSV requests files smaller than this are read by one reader (splitting them gains
/// nothing); `REHEARSE_CSV_SPLIT_BYTES` changes it (tests set it low).
const CSV_SPLIT_BYTES: u64 = 32 << 20;

/// The byte ranges of a large CSV requests file, one per thread; `None` to read it whole.
fn csv_split(
    path: &std::path::Path,
    threads: usize,
) -> Result<Option<Vec<super::csvfile::CsvPart>>, InputError> {
    // A compressed file has no byte ranges to start a reader at.
    if super::text::is_gzip(path) {
        return Ok(None);
    }
    let len = std::fs::metadata(path).map_or(0, |m| m.len());
    let min = std::env::var("REHEARSE_CSV_SPLIT_BYTES")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(CSV_SPLIT_BYTES);
    if len < min {
        return Ok(None);
    }
    super::csvfile::csv_parts(path, threads)
}

/// Reads a CSV requests file in byte ranges on the rayon pool, each folded into its own
/// part, then merged in file order. Line numbers in errors are those of the whole file
/// and, as for Parquet shares, the earliest range's error wins.
fn read_requests_csv_parallel<S: EventSink + Send + Sync>(
    path: &std::path::Path,
    parts: Vec<super::csvfile::CsvPart>,
    f: &mut S,
    opts: ReadOptions,
) -> Result<super::ReadStats, InputError> {
    use rayon::prelude::*;
    let base: &S = f;
    let results: Vec<Result<(S, super::ReadStats), InputError>> = parts
        .par_iter()
        .map(|part| {
            let mut table = super::csvfile::CsvTable::open_part(path, part)?;
            let mut local = base.request_part();
            let stats = read_requests(&mut table, &mut local, opts)?;
            Ok((local, stats))
        })
        .collect();
    merge_parts(f, results)
}

/// Merges request parts in order: sums, and the first error or skip of the earliest.
fn merge_parts<S: EventSink>(
    f: &mut S,
    results: Vec<Result<(S, super::ReadStats), InputError>>,
) -> Result<super::ReadStats, InputError> {
    let mut total = super::ReadStats::default();
    for r in results {
        let (local, stats) = r?;
        f.merge_requests(&local);
        total.rows += stats.rows;
        total.skipped += stats.skipped;
        if total.first_skip.is_none() {
            total.first_skip = stats.first_skip;
        }
        if total.present.is_empty() {
            total.present = stats.present;
        }
    }
    Ok(total)
}
