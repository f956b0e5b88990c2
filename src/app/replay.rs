//! One way from data to a run: a dataset directory or an in-memory dataset is opened,
//! T0 settled, its streams pushed into the engine's fold (files through
//! [`crate::source::read`], generated data through [`crate::source::memory`], the same
//! calls either way), the funnel and ledger loaded for the analytics gates, and the
//! rollout evaluated.

use std::path::Path;
use std::sync::Arc;

use crate::analytics::data::AnalyticsData;
use crate::analytics::gates::AnalyticsGates;
use crate::engine::{Folded, Run, Setup, StartOutOfRange, check_start, evaluate};
use crate::input::{Dataset, Millis, ReadStats, Stream, StreamInput};
use crate::source::dataset::DatasetDir;
use crate::source::read::{ReadOptions, earliest_start, floor_minute, read_streams};
use crate::source::{InputError, memory::push_dataset};

use super::progress::{Progress, Watched};

/// A run over a dataset, with what was read.
pub struct Replay {
    pub run: Run,
    pub inputs: Vec<StreamInput>,
    pub folded: Folded,
    /// The funnel and ledger events, when the dataset has either stream.
    pub analytics: Option<Arc<AnalyticsData>>,
}

/// Why a replay could not start or finish.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error(transparent)]
    Input(#[from] InputError),
    #[error(
        "{0}: the dataset has no `requests` stream, which `rehearse run` needs (add requests.csv, .ndjson, .jsonl, .parquet or .arrow){1}"
    )]
    NoRequests(String, String),
    #[error(
        "{0}: cannot tell the rollout start: the manifest has no `start`, no --start was given and the requests and probes hold no rows"
    )]
    NoStart(String),
    #[error(transparent)]
    StartOutOfRange(#[from] StartOutOfRange),
}

/// The fold of a replay, also counting latencies between the `extra` thresholds
/// (microseconds, e.g. [`crate::engine::fold::tuning_grid`]) so that a policy whose
/// latency limits are any of them can be judged exactly over the same aggregates.
fn new_folded(setup: &Setup, t0: Millis, extra: &[u64]) -> Folded {
    if extra.is_empty() {
        Folded::new(setup, t0)
    } else {
        Folded::with_extra_bands(setup, t0, extra)
    }
}

/// Attaches the analytics gates, finishes the fold and evaluates the rollout.
fn finish(
    setup: &Setup,
    mut folded: Folded,
    mut inputs: Vec<StreamInput>,
    analytics: Option<AnalyticsData>,
) -> Replay {
    let analytics = analytics.map(Arc::new);
    if let Some(data) = &analytics {
        inputs.extend(analytics_inputs(data));
        folded.stage_checks = Some(Arc::new(AnalyticsGates(Arc::clone(data), folded.t0)));
    }
    folded.finish();
    let run = evaluate(&setup.policy, &folded);
    Replay {
        run,
        inputs,
        folded,
        analytics,
    }
}

/// Reads a dataset directory and runs the rollout over it.
pub fn replay_dir(setup: &Setup, dir: &Path, opts: ReadOptions) -> Result<Replay, ReplayError> {
    replay_dir_with_bands(setup, dir, opts, &[])
}

/// [`replay_dir`], with the fold also counting latencies at the `extra` thresholds
/// (live tuning, sweeps). The run itself is the same as [`replay_dir`]'s.
pub fn replay_dir_with_bands(
    setup: &Setup,
    dir: &Path,
    opts: ReadOptions,
    extra: &[u64],
) -> Result<Replay, ReplayError> {
    let name = dir.display().to_string();
    let mut ds = DatasetDir::open(dir)?;
    ds.set_policy_markers(&setup.policy.file.analytics.synthetic_user_agents);
    if !ds.streams.contains_key(&Stream::Requests) {
        return Err(ReplayError::NoRequests(
            name,
            ds.lookalikes(Stream::Requests),
        ));
    }
    let t0 = match opts.start.or(ds.start) {
        Some(t) => t,
        None => earliest_start(&ds, opts.batch_rows)?.ok_or(ReplayError::NoStart(name.clone()))?,
    };
    let t0 = check_start(&setup.policy, t0, &name)?;
    let mut folded = new_folded(setup, t0, extra);
    let progress = Progress::counter("rows");
    let inputs = if progress.is_hidden() {
        read_streams(&ds, &mut folded, opts)?
    } else {
        let mut watched = Watched::new(folded, progress.clone());
        let inputs = read_streams(&ds, &mut watched, opts);
        folded = watched.into_inner();
        inputs?
    };
    progress.set_message("loading funnel and ledger");
    let analytics = AnalyticsData::load_dir(&ds, opts.on_error)?;
    progress.finish();
    Ok(finish(setup, folded, inputs, analytics))
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
                .map(floor_minute)
                .ok_or_else(|| ReplayError::NoStart("dataset".into()))?
        }
    };
    let t0 = check_start(&setup.policy, t0, "dataset")?;
    let mut folded = new_folded(setup, t0, extra);
    let inputs = push_dataset(ds, &mut folded, batch_rows);
    Ok(finish(
        setup,
        folded,
        inputs,
        AnalyticsData::from_dataset(ds),
    ))
}

/// What was read of the funnel and ledger streams, as report inputs (their events are
/// not bound to ticks: none is counted as outside the rollout).
fn analytics_inputs(data: &AnalyticsData) -> Vec<StreamInput> {
    data.inputs
        .iter()
        .map(|i| StreamInput {
            stream: if i.stream == "ledger" {
                Stream::Ledger
            } else {
                Stream::Funnel
            },
            file: i.file.clone(),
            stats: ReadStats {
                rows: i.rows,
                skipped: i.skipped,
                first_skip: i.first_skip.clone(),
                present: Vec::new(),
            },
            outside: 0,
            before_2000: 0,
        })
        .collect()
}
