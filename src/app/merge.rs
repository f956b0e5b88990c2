//! Shards and their merge. `--shard i/N` (or `--shard N` with the index from
//! Kubernetes Indexed Jobs' `JOB_COMPLETION_INDEX`, see [`Shard::parse`]) gives a
//! command one contiguous range of its work; `rehearse merge FILE...` reads the shard
//! summaries and prints the report the unsharded command prints, byte for byte: for
//! `tune` its `--json` report, for `sweep` its `--json` report, for `check` its
//! `--json` results (exit status 5 when a scenario failed, as `check`'s).

use std::path::PathBuf;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::engine::whatif::{Sweep, SweepVerdict, Variant};
use crate::output::check::{CheckResult, Phase};
use crate::output::sweep::{AxisReport, SweepReport};
use crate::output::tune::{PARTIAL_KIND, ShardReport, TunePartial, finish};
use crate::policy::{Policy, Stage};
use crate::verdict::Outcome;

use super::check::EXIT_CHECK_FAILED;
use super::sweep::Axis;

use super::{AppError, Context, Output};

/// One shard of N: the `index`-th (0-based) contiguous range of the work.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    pub index: u64,
    pub count: u64,
}

/// A bad `--shard`.
#[derive(Debug, thiserror::Error)]
pub enum ShardError {
    #[error("--shard `{0}`: expected i/N with 0 <= i < N, e.g. --shard 0/4")]
    Syntax(String),
    #[error(
        "JOB_COMPLETION_INDEX `{0}` is not an index below the shard count {1} (give --shard i/N or N as --shard N)"
    )]
    Env(String, u64),
}

impl Shard {
    /// Parses `i/N`, or `N` alone with `i` from `job_index` (Kubernetes Indexed Jobs'
    /// `JOB_COMPLETION_INDEX`).
    pub fn parse(arg: &str, job_index: Option<&str>) -> Result<Self, ShardError> {
        let bad = || ShardError::Syntax(arg.into());
        let (i, n) = match arg.split_once('/') {
            Some((i, n)) => (
                i.trim().parse::<u64>().map_err(|_| bad())?,
                n.trim().parse::<u64>().map_err(|_| bad())?,
            ),
            None => {
                let n = arg.trim().parse::<u64>().map_err(|_| bad())?;
                let j = job_index.ok_or_else(bad)?;
                let i = j
                    .trim()
                    .parse::<u64>()
                    .map_err(|_| ShardError::Env(j.into(), n))?;
                if i >= n {
                    return Err(ShardError::Env(j.into(), n));
                }
                (i, n)
            }
        };
        if n == 0 || i >= n {
            return Err(bad());
        }
        Ok(Shard { index: i, count: n })
    }

    /// This shard's range of `0..total`.
    pub fn range(&self, total: u64) -> std::ops::Range<u64> {
        let at = |k: u64| ((total as u128 * k as u128) / self.count as u128) as u64;
        at(self.index)..at(self.index + 1)
    }
}

/// The kind tag of a sweep shard summary.
pub const SWEEP_KIND: &str = "sweep_shard";
/// The kind tag of a check shard summary.
pub const CHECK_KIND: &str = "check_shard";

/// A sweep verdict as numbers: outcome (0 complete, 1 hold, 2 rollback), stage, instant
/// (ms), reason bits.
type VerdictRow = (u8, usize, i64, u32);

fn row(v: &SweepVerdict) -> VerdictRow {
    let o = match v.outcome {
        Outcome::Complete => 0,
        Outcome::Hold => 1,
        Outcome::Rollback => 2,
    };
    (o, v.stage, v.at, v.reasons)
}

fn verdict(r: &VerdictRow) -> SweepVerdict {
    SweepVerdict {
        outcome: match r.0 {
            1 => Outcome::Hold,
            2 => Outcome::Rollback,
            _ => Outcome::Complete,
        },
        stage: r.1,
        at: r.2,
        reasons: r.3,
    }
}

/// The verdicts of one range of a sweep's combinations (`rehearse sweep --shard`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SweepPartial {
    pub kind: String,
    pub dataset: String,
    /// The policy's stage names (all the report needs of it).
    pub stages: Vec<String>,
    pub axes: Vec<(String, Vec<String>)>,
    pub combinations: u64,
    pub shard: ShardReport,
    pub base: VerdictRow,
    pub results: Vec<VerdictRow>,
}

/// Evaluates combinations `shard.range(total)` of a sweep.
pub fn sweep_partial(
    dataset: &str,
    policy: &Policy,
    sweep: &Sweep,
    base: &Variant,
    axes: &[Axis],
    total: u64,
    shard: Shard,
) -> SweepPartial {
    let range = shard.range(total);
    let results = range
        .clone()
        .into_par_iter()
        .map_init(
            || (base.clone(), vec![0usize; axes.len()]),
            |(v, idx), i| {
                let mut k = i;
                for (a, slot) in axes.iter().zip(idx.iter_mut()).rev() {
                    let n = a.labels.len() as u64;
                    *slot = (k % n) as usize;
                    k /= n;
                }
                for (a, j) in axes.iter().zip(idx.iter()) {
                    a.set(v, *j);
                }
                row(&sweep.eval(v))
            },
        )
        .collect();
    SweepPartial {
        kind: SWEEP_KIND.into(),
        dataset: dataset.to_string(),
        stages: policy.stages.iter().map(|s| s.name.clone()).collect(),
        axes: axes
            .iter()
            .map(|a| (a.key.clone(), a.labels.clone()))
            .collect(),
        combinations: total,
        shard: ShardReport {
            index: shard.index,
            count: shard.count,
            first: range.start,
            end: range.end,
        },
        base: row(&sweep.eval(base)),
        results,
    }
}

/// One scenario's check result as JSON.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckJson {
    pub name: String,
    pub path: String,
    pub outcome: String,
    pub passed: bool,
    pub diffs: Vec<String>,
    /// `load` or `run`, and why, for a scenario that could not be checked.
    pub error: Option<(String, String)>,
}

impl From<&CheckResult> for CheckJson {
    fn from(r: &CheckResult) -> Self {
        CheckJson {
            name: r.name.clone(),
            path: r.path.display().to_string(),
            outcome: r.outcome.clone(),
            passed: r.passed(),
            diffs: r.diffs.clone(),
            error: r.error.as_ref().map(|e| {
                let phase = match e.phase {
                    Phase::Load => "load",
                    Phase::Run => "run",
                };
                (phase.to_string(), e.message.clone())
            }),
        }
    }
}

/// `rehearse check --json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckReport {
    pub scenarios: Vec<CheckJson>,
    pub passed: u64,
    pub failed: u64,
}

impl CheckReport {
    pub fn of(results: Vec<CheckJson>) -> Self {
        let passed = results.iter().filter(|r| r.passed).count() as u64;
        CheckReport {
            failed: results.len() as u64 - passed,
            passed,
            scenarios: results,
        }
    }

    pub fn code(&self) -> u8 {
        if self.failed == 0 {
            0
        } else {
            EXIT_CHECK_FAILED
        }
    }
}

/// The results of one range of a check's scenario files (`rehearse check --shard`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckPartial {
    pub kind: String,
    pub dir: String,
    pub files: u64,
    pub shard: ShardReport,
    pub results: Vec<CheckJson>,
}

/// Pretty JSON with a final newline.
pub fn json<T: Serialize>(v: &T) -> Result<String, AppError> {
    let mut t = serde_json::to_string_pretty(v).map_err(AppError::internal)?;
    t.push('\n');
    Ok(t)
}

/// Checks that the shards `(index, count)` are each of `0..count` once.
fn complete(shards: &[ShardReport]) -> Result<(), AppError> {
    let count = shards.first().map_or(0, |s| s.count);
    for i in 0..count {
        if shards
            .iter()
            .filter(|s| s.index == i && s.count == count)
            .count()
            != 1
        {
            return Err(AppError::usage(format!(
                "shard {i} of {count} is missing or given twice; merge each of the {count} shards once"
            )));
        }
    }
    if shards.len() as u64 != count {
        return Err(AppError::usage(format!(
            "{} summaries for a split into {count}; merge each shard once",
            shards.len()
        )));
    }
    Ok(())
}

fn merge_sweeps(mut parts: Vec<SweepPartial>) -> Result<Output, AppError> {
    complete(&parts.iter().map(|p| p.shard).collect::<Vec<_>>())?;
    parts.sort_by_key(|p| p.shard.index);
    let first = &parts[0];
    if parts.iter().any(|p| {
        p.dataset != first.dataset
            || p.stages != first.stages
            || p.axes != first.axes
            || p.combinations != first.combinations
            || p.base != first.base
    }) {
        return Err(AppError::usage(
            "the summaries are of different sweeps (dataset, policy or varied values differ); merge the shards of one `rehearse sweep` command",
        ));
    }
    let results: Vec<SweepVerdict> = parts
        .iter()
        .flat_map(|p| p.results.iter().map(verdict))
        .collect();
    if results.len() as u64 != first.combinations {
        return Err(AppError::usage(
            "the summaries do not cover every combination",
        ));
    }
    // The report reads the stage names only.
    let mut policy = Policy::default_policy();
    policy.stages = first
        .stages
        .iter()
        .map(|name| Stage {
            name: name.clone(),
            start_ms: 0,
            duration_ms: 0,
            weight: 0.0,
            go_p95_us: 0,
            probes: false,
        })
        .collect();
    let axes: Vec<AxisReport> = first
        .axes
        .iter()
        .map(|(key, values)| AxisReport {
            key: key.clone(),
            values: values.clone(),
        })
        .collect();
    let r: SweepReport = crate::output::sweep::report(
        &first.dataset,
        &policy,
        &axes,
        &results,
        &verdict(&first.base),
    );
    Ok(Output::new(json(&r)?, 0))
}

fn merge_checks(mut parts: Vec<CheckPartial>) -> Result<Output, AppError> {
    complete(&parts.iter().map(|p| p.shard).collect::<Vec<_>>())?;
    parts.sort_by_key(|p| p.shard.index);
    let first = &parts[0];
    if parts
        .iter()
        .any(|p| p.dir != first.dir || p.files != first.files)
    {
        return Err(AppError::usage(
            "the summaries are of different checks (directory or scenario count differ); merge the shards of one `rehearse check` command",
        ));
    }
    let results: Vec<CheckJson> = parts.iter().flat_map(|p| p.results.clone()).collect();
    let r = CheckReport::of(results);
    let code = r.code();
    Ok(Output::new(json(&r)?, code))
}

/// The settings of `rehearse merge`.
pub struct MergeSettings {
    pub files: Vec<PathBuf>,
}

/// Reads the shard summaries and prints the merged report.
pub fn run(s: &MergeSettings) -> Result<Output, AppError> {
    let mut parts: Vec<TunePartial> = Vec::new();
    let mut sweeps: Vec<SweepPartial> = Vec::new();
    let mut checks: Vec<CheckPartial> = Vec::new();
    for f in &s.files {
        let text = std::fs::read_to_string(f).map_err(|e| {
            AppError::usage(Context::new(format!("cannot read {}", f.display()), e))
        })?;
        let value: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| AppError::usage(Context::new(format!("{}: not JSON", f.display()), e)))?;
        let kind = value
            .get("kind")
            .and_then(|k| k.as_str())
            .unwrap_or("")
            .to_string();
        let damaged = |e: serde_json::Error| {
            AppError::usage(Context::new(
                format!("{}: a damaged shard summary", f.display()),
                e,
            ))
        };
        match kind.as_str() {
            PARTIAL_KIND => parts.push(serde_json::from_value(value).map_err(damaged)?),
            SWEEP_KIND => sweeps.push(serde_json::from_value(value).map_err(damaged)?),
            CHECK_KIND => checks.push(serde_json::from_value(value).map_err(damaged)?),
            _ => {
                return Err(AppError::usage(format!(
                    "{}: not a shard summary (print one with `rehearse tune|sweep|check ... --shard i/N`)",
                    f.display()
                )));
            }
        }
    }
    let kinds = [!parts.is_empty(), !sweeps.is_empty(), !checks.is_empty()];
    if kinds.iter().filter(|k| **k).count() > 1 {
        return Err(AppError::usage(
            "the files mix summaries of different commands; merge the shards of one command",
        ));
    }
    if !sweeps.is_empty() {
        return merge_sweeps(sweeps);
    }
    if !checks.is_empty() {
        return merge_checks(checks);
    }
    let report = finish(parts).map_err(AppError::usage)?;
    let mut t = serde_json::to_string_pretty(&report).map_err(AppError::internal)?;
    t.push('\n');
    Ok(Output::new(t, 0))
}
