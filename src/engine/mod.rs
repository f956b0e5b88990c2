//! The replay engine: fold a dataset's events into per-tick aggregates
//! ([`fold::Folded`]), then evaluate the rollout tick by tick ([`eval::evaluate`]).
//! This module owns the glue: the checked setup (policy plus compiled schemas), reading
//! a dataset directory or an in-memory dataset into the fold, and T0.

pub mod eval;
pub mod fold;
pub mod schema;
pub mod sweep;

use crate::model::{Dataset, Millis, Stream};
use crate::policy::Policy;
use crate::source::dataset::DatasetDir;
use crate::source::{InputError, OnError, ReadStats};

pub use eval::{Run, StageOutcome, evaluate, evaluate_with};
pub use fold::{Folded, RequestBatch};
use schema::SchemaSet;

/// Everything checked before any work starts: the policy and its compiled schemas.
#[derive(Clone)]
pub struct Setup {
    pub policy: Policy,
    pub schemas: SchemaSet,
}

impl Setup {
    pub fn new(policy: Policy) -> Result<Self, schema::SchemaError> {
        let schemas = SchemaSet::load(&policy.probe_schemas)?;
        Ok(Self { policy, schemas })
    }
}

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

/// What was read from one stream file.
#[derive(Clone, Debug, PartialEq)]
pub struct StreamInput {
    pub stream: Stream,
    pub file: String,
    pub stats: ReadStats,
    /// Rows outside `(T0, end of the last stage]`.
    pub outside: u64,
}

/// A run over a dataset, with what was read.
pub struct Replay {
    pub run: Run,
    pub inputs: Vec<StreamInput>,
    pub folded: Folded,
}

/// Why a replay could not start or finish.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error(transparent)]
    Input(#[from] InputError),
    #[error(
        "{0}: the dataset has no `requests` stream, which `rehearse run` needs (add requests.csv, .ndjson, .jsonl, .parquet or .arrow)"
    )]
    NoRequests(String),
    #[error(
        "{0}: cannot tell the rollout start: the manifest has no `start`, no --start was given and the requests and probes hold no rows"
    )]
    NoStart(String),
    #[error(
        "{0}: the rollout start {1} ms since the epoch is out of range: the rollout and its security baseline must fall within the years 0000-9999 (check --start or the earliest request and probe timestamps)"
    )]
    StartOutOfRange(String, Millis),
}

/// The earliest and latest rollout starts whose stages, baseline and ticks all fall
/// within RFC 3339's years 0000-9999, so no instant computed from T0 can overflow.
fn check_start(setup: &Setup, t0: Millis, name: &str) -> Result<Millis, ReplayError> {
    const MIN: Millis = -62_167_219_200_000; // 0000-01-01T00:00:00Z
    const MAX: Millis = 253_402_300_799_999; // 9999-12-31T23:59:59.999Z
    let p = &setup.policy;
    let ok = t0
        .checked_sub(p.security_baseline_ms)
        .is_some_and(|b| b >= MIN)
        && t0.checked_add(p.total_ms()).is_some_and(|e| e <= MAX);
    if ok {
        Ok(t0)
    } else {
        Err(ReplayError::StartOutOfRange(name.to_string(), t0))
    }
}

/// The fold of a replay: exactly [`Folded::new`]'s without extra bands.
fn new_folded(setup: &Setup, t0: Millis, extra: &[u64]) -> Folded {
    if extra.is_empty() {
        Folded::new(setup, t0)
    } else {
        Folded::with_extra_bands(setup, t0, extra)
    }
}

/// Reads a dataset directory and runs the rollout over it.
pub fn replay_dir(
    setup: &Setup,
    dir: &std::path::Path,
    opts: ReadOptions,
) -> Result<Replay, ReplayError> {
    replay_dir_with_bands(setup, dir, opts, &[])
}

/// [`replay_dir`], with the fold also counting latencies between the `extra` thresholds
/// (microseconds, e.g. [`fold::tuning_grid`]), so a policy whose latency limits are any
/// of them can be evaluated exactly over the same aggregates (live tuning). The run
/// itself is the same as [`replay_dir`]'s.
pub fn replay_dir_with_bands(
    setup: &Setup,
    dir: &std::path::Path,
    opts: ReadOptions,
    extra: &[u64],
) -> Result<Replay, ReplayError> {
    let ds = DatasetDir::open(dir)?;
    if !ds.streams.contains_key(&Stream::Requests) {
        return Err(ReplayError::NoRequests(dir.display().to_string()));
    }
    let t0 = match opts.start.or(ds.start) {
        Some(t) => t,
        None => crate::source::decode::earliest_start(&ds, opts.batch_rows)?
            .ok_or_else(|| ReplayError::NoStart(dir.display().to_string()))?,
    };
    let t0 = check_start(setup, t0, &dir.display().to_string())?;
    let mut folded = new_folded(setup, t0, extra);
    let mut inputs = crate::source::decode::read_all(&ds, &mut folded, opts)?;
    if let Some(data) = crate::analytics::data::AnalyticsData::load(dir, opts.on_error)? {
        inputs.extend(analytics_inputs(&data));
        folded.analytics = Some(std::sync::Arc::new(data));
    }
    folded.finish();
    let run = evaluate(&setup.policy, &folded);
    Ok(Replay {
        run,
        inputs,
        folded,
    })
}

/// What was read of the funnel and ledger streams, as report inputs (their events are
/// not bound to ticks: none is counted as outside the rollout).
fn analytics_inputs(data: &crate::analytics::data::AnalyticsData) -> Vec<StreamInput> {
    data.inputs
        .iter()
        .map(|i| StreamInput {
            stream: if i.stream == "ledger" {
                Stream::Ledger
            } else {
                Stream::Funnel
            },
            file: i.file.clone(),
            stats: crate::source::ReadStats {
                rows: i.rows,
                skipped: i.skipped,
                first_skip: i.first_skip.clone(),
                present: Vec::new(),
            },
            outside: 0,
        })
        .collect()
}

/// Folds an in-memory dataset (generated scenarios) and runs the rollout over it.
pub fn replay_dataset(
    setup: &Setup,
    ds: &Dataset,
    start: Option<Millis>,
    batch_rows: usize,
) -> Result<Replay, ReplayError> {
    replay_dataset_with_bands(setup, ds, start, batch_rows, &[])
}

/// [`replay_dataset`], with the extra latency bands of [`replay_dir_with_bands`].
pub fn replay_dataset_with_bands(
    setup: &Setup,
    ds: &Dataset,
    start: Option<Millis>,
    batch_rows: usize,
    extra: &[u64],
) -> Result<Replay, ReplayError> {
    let t0 = match start.or(ds.start) {
        Some(t) => t,
        None => {
            let earliest = ds
                .requests
                .iter()
                .map(|r| r.ts)
                .chain(ds.probes.iter().flatten().map(|p| p.ts))
                .min();
            earliest
                .map(crate::source::decode::floor_minute)
                .ok_or_else(|| ReplayError::NoStart("dataset".into()))?
        }
    };
    let t0 = check_start(setup, t0, "dataset")?;
    let mut folded = new_folded(setup, t0, extra);
    let mut inputs = crate::source::decode::fold_dataset(ds, &mut folded, batch_rows.max(1));
    if let Some(data) = crate::analytics::data::AnalyticsData::from_dataset(ds) {
        inputs.extend(analytics_inputs(&data));
        folded.analytics = Some(std::sync::Arc::new(data));
    }
    folded.finish();
    let run = evaluate(&setup.policy, &folded);
    Ok(Replay {
        run,
        inputs,
        folded,
    })
}
