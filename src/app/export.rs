//! `rehearse export`: the rollout policy as the configuration of the tool that runs the
//! real canary — a Prometheus rule file, a `promtool test rules` file replaying a
//! dataset through it (with the rehearsal's own rollback instant as the expectation),
//! an Argo Rollouts `AnalysisTemplate` and Flagger `MetricTemplate`s plus a `Canary`.

use std::path::PathBuf;

use crate::engine::{Run, Setup};
use crate::input::{
    Dataset, EventSink, InfraSample, Millis, PageEvent, ProbeEvent, RequestBatch, SecurityKind,
    Stream,
};
use crate::output::export::canary;
use crate::output::export::prometheus::{self, MinuteCounters, PromNames};
use crate::output::write_atomic;
use crate::policy::Policy;
use crate::source::dataset::DatasetDir;
use crate::source::read::{ReadOptions, read_streams};
use crate::verdict::Verdict;

use super::replay::{replay_dataset, replay_dir};
use super::{AppError, Context, Output};

/// Which export.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    Prometheus,
    Argo,
    Flagger,
}

/// The settings of `rehearse export prometheus|argo|flagger`.
pub struct ExportSettings {
    pub target: Target,
    pub policy: Policy,
    pub names: PromNames,
    /// Flagger/Argo: the Prometheus address the analysis queries.
    pub prometheus_address: String,
    /// Write here instead of stdout.
    pub out: Option<PathBuf>,
}

/// The settings of `rehearse export promtool-test`.
pub struct PromtoolSettings {
    pub setup: Setup,
    pub names: PromNames,
    pub dataset: PathBuf,
    pub read: ReadOptions,
    pub out: PathBuf,
}

/// The rule file's name inside a promtool-test directory.
pub const RULE_FILE: &str = "rehearse-rules.yml";
/// The test file's name inside a promtool-test directory.
pub const TEST_FILE: &str = "rehearse-rules_test.yml";

/// Prints or writes one export.
pub fn run(settings: &ExportSettings) -> Result<Output, AppError> {
    let p = &settings.policy;
    let n = &settings.names;
    let text = match settings.target {
        Target::Prometheus => prometheus::rules(p, n).render(),
        Target::Argo => canary::argo(p, n, &settings.prometheus_address),
        Target::Flagger => canary::flagger(p, n, &settings.prometheus_address),
    };
    emit(text, settings.out.as_ref())
}

fn emit(text: String, out: Option<&PathBuf>) -> Result<Output, AppError> {
    match out {
        Some(path) => {
            write_atomic(path, text.as_bytes()).map_err(|e| {
                AppError::usage(Context::new(format!("cannot write {}", path.display()), e))
            })?;
            Ok(Output::new(String::new(), 0))
        }
        None => Ok(Output::new(text, 0)),
    }
}

/// Counts requests per tick for the promtool test's input series.
struct Counting(MinuteCounters);

impl EventSink for Counting {
    fn begin(&mut self, _stream: Stream) {}
    fn requests(&mut self, b: &RequestBatch) {
        for i in 0..b.len() {
            self.0.add(
                b.ts[i],
                b.canary[i],
                b.real[i],
                b.status[i],
                b.latency_us[i],
            );
        }
    }
    fn probe(&mut self, _p: ProbeEvent<'_>) {}
    fn infra(&mut self, _ts: Millis, _s: InfraSample) {}
    fn security(&mut self, _ts: Millis, _kind: SecurityKind) {}
    fn log(&mut self, _ts: Millis, _message: &str) {}
    fn page(&mut self, _p: PageEvent<'_>) {}
    fn columns(&mut self, _stream: Stream, _has: &dyn Fn(&str) -> bool) {}
    fn outside(&self, _stream: Stream) -> u64 {
        0
    }
    fn before_2000(&self, _stream: Stream) -> u64 {
        0
    }
    fn prefixes(&self) -> &[String] {
        &[]
    }
    fn request_part(&self) -> Self {
        let c = &self.0;
        Counting(MinuteCounters::new(
            c.t0,
            c.tick_ms,
            c.ticks,
            c.thresholds.clone(),
        ))
    }
    fn merge_requests(&mut self, part: &Self) {
        self.0.merge(&part.0);
    }
}

/// Where the promtool test stops: the rollback instant, else the end of the last stage
/// that ran (a held stage's end, or the rollout's).
fn until(run: &Run) -> Millis {
    match &run.rollback {
        Some((at, _, _)) => *at,
        None => run
            .stages
            .iter()
            .rev()
            .find(|s| s.verdict != Verdict::NotRun)
            .map_or(run.end, |s| s.end),
    }
}

fn counters_for(p: &Policy, run: &Run) -> MinuteCounters {
    let ticks = ((until(run) - run.t0) / p.tick_ms).max(0) as usize;
    MinuteCounters::new(run.t0, p.tick_ms, ticks, prometheus::thresholds(p))
}

/// The rule file and the test file for a rehearsed run over the counted requests.
pub fn promtool_files(
    p: &Policy,
    n: &PromNames,
    run: &Run,
    counters: &MinuteCounters,
) -> (String, String) {
    let rules = prometheus::rules(p, n).render();
    let rollback = run.rollback.as_ref().map(|(at, stage, gates)| {
        (
            at - run.t0,
            p.stages.get(*stage).map_or("", |s| s.name.as_str()),
            gates.as_slice(),
        )
    });
    let test = prometheus::promtool_test(p, n, counters, RULE_FILE, rollback, until(run) - run.t0)
        .render();
    (rules, test)
}

/// The promtool files for an in-memory dataset (a generated scenario), rehearsed as
/// `rehearse check` does.
pub fn promtool_for_dataset(
    setup: &Setup,
    ds: &Dataset,
    n: &PromNames,
) -> Result<(Run, String, String), AppError> {
    let replay = replay_dataset(setup, ds, None, 8192).map_err(AppError::usage)?;
    let mut sink = Counting(counters_for(&setup.policy, &replay.run));
    crate::source::memory::push_dataset(ds, &mut sink, 8192);
    let (rules, test) = promtool_files(&setup.policy, n, &replay.run, &sink.0);
    Ok((replay.run, rules, test))
}

/// Writes the rule file and its promtool test for a dataset directory into `out`.
pub fn promtool_test(settings: &PromtoolSettings) -> Result<Output, AppError> {
    let replay =
        replay_dir(&settings.setup, &settings.dataset, settings.read).map_err(AppError::usage)?;
    let mut ds = DatasetDir::open(&settings.dataset).map_err(AppError::usage)?;
    ds.set_policy_markers(&settings.setup.policy.file.analytics.synthetic_user_agents);
    let mut sink = Counting(counters_for(&settings.setup.policy, &replay.run));
    read_streams(&ds, &mut sink, settings.read).map_err(AppError::usage)?;
    let (rules, test) = promtool_files(
        &settings.setup.policy,
        &settings.names,
        &replay.run,
        &sink.0,
    );
    std::fs::create_dir_all(&settings.out).map_err(|e| {
        AppError::usage(Context::new(
            format!("cannot create {}", settings.out.display()),
            e,
        ))
    })?;
    for (name, text) in [(RULE_FILE, rules), (TEST_FILE, test)] {
        let path = settings.out.join(name);
        write_atomic(&path, text.as_bytes()).map_err(|e| {
            AppError::usage(Context::new(format!("cannot write {}", path.display()), e))
        })?;
    }
    Ok(Output::new(
        format!(
            "wrote {} and {} to {} (run: cd {} && promtool test rules {})\n",
            RULE_FILE,
            TEST_FILE,
            settings.out.display(),
            settings.out.display(),
            TEST_FILE
        ),
        0,
    ))
}
