//! `rehearse sweep`: which verdicts a range of thresholds would give. Each `--vary
//! KEY=SPEC` names a request threshold or the sustain span and the values to try; the
//! sweep replays the dataset once (counting latencies at every varied limit, so each is
//! judged exactly), evaluates every combination on the rayon pool with
//! [`crate::engine::whatif::Sweep`], and groups the combinations by what the rollout
//! does. Every value is checked as `rehearse run --set KEY=VALUE` would check it, and
//! the variant it makes is that policy's, so a row of the sweep is what `run` reports.

use std::path::PathBuf;

use rayon::prelude::*;

use crate::engine::Setup;
use crate::engine::whatif::{Sweep, SweepVerdict, Variant, WhatIf};
use crate::output::sweep::{AxisReport, SweepReport, human, indexes, report};
use crate::policy::{Policy, PolicyBuilder, PolicyError};
use crate::source::read::ReadOptions;
use crate::time::{format_duration, parse_duration};

use super::replay::{ReplayError, replay_dir_with_bands};
use super::{AppError, Output, SettingsError};

/// The most combinations one sweep evaluates.
pub const MAX_VARIANTS: u64 = 50_000_000;

/// Why a `--vary` cannot be swept.
#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    #[error(
        "--vary `{0}`: expected KEY=LO:HI:STEP or KEY=V1,V2,... (e.g. triggers.error_rate_5xx=0.002:0.01:0.001)"
    )]
    Syntax(String),
    #[error(
        "--vary `{0}`: `{1}` cannot be swept; sweep {keys}",
        keys = sweepable_keys()
    )]
    Key(String, String),
    /// A bad range, or a key the base policy makes moot.
    #[error("--vary `{arg}`: {message}")]
    Range { arg: String, message: String },
    #[error("--vary `{arg}`: value `{value}`")]
    Value {
        arg: String,
        value: String,
        source: PolicyError,
    },
    #[error("--vary: `{0}` is varied twice")]
    Twice(String),
    #[error("the sweep has {0} combinations, more than {MAX_VARIANTS}; vary fewer values")]
    TooMany(u64),
    #[error("give at least one --vary KEY=SPEC")]
    Nothing,
    /// A bad `--shard`.
    #[error("{0}")]
    Shard(String),
    /// A problem with the arguments `run` shares (policy, schemas, `--start`).
    #[error(transparent)]
    Settings(#[from] SettingsError),
}

/// The keys a sweep may vary, in words: `a, b, ... or z`.
fn sweepable_keys() -> String {
    let keys: Vec<String> = crate::gate::knobs()
        .into_iter()
        .filter(|k| k.sweep)
        .map(|k| k.key.replace("stages.*.", "stages.NAME."))
        .collect();
    match keys.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        _ => keys.join(", "),
    }
}

/// The checked arguments of `rehearse sweep`, built before any work starts.
pub struct SweepSettings {
    pub setup: Setup,
    pub dataset: PathBuf,
    pub read: ReadOptions,
    pub axes: Vec<Axis>,
    pub total: u64,
    pub json: bool,
    /// Evaluate only this shard and print its summary for `rehearse merge`.
    pub shard: Option<super::merge::Shard>,
}

impl SweepSettings {
    /// Checks the varied keys against the base policy `builder` builds (each value as
    /// `--set` would check it) and compiles the base policy's schemas.
    pub fn new(
        dataset: PathBuf,
        builder: &dyn Fn() -> Result<PolicyBuilder, PolicyError>,
        vary: &[String],
        read: ReadOptions,
        json: bool,
    ) -> Result<Self, SweepError> {
        let policy = builder()
            .and_then(PolicyBuilder::build)
            .map_err(SettingsError::from)?;
        let axes = vary
            .iter()
            .map(|a| parse_axis(a, &policy, builder))
            .collect::<Result<Vec<_>, _>>()?;
        let total = check_axes(&axes)?;
        Ok(SweepSettings {
            setup: super::setup(policy).map_err(SettingsError::from)?,
            dataset,
            read,
            axes,
            total,
            json,
            shard: None,
        })
    }
}

/// Runs the sweep and reports it.
pub fn run(s: &SweepSettings) -> Result<Output, AppError> {
    if let Some(shard) = s.shard {
        let replay = replay_dir_with_bands(&s.setup, &s.dataset, s.read, &extra_bands(&s.axes))
            .map_err(AppError::usage)?;
        let policy = &s.setup.policy;
        let sweep = WhatIf::new(policy, replay.folded).tables();
        let part = super::merge::sweep_partial(
            &s.dataset.display().to_string(),
            policy,
            &sweep,
            &Variant::of(policy),
            &s.axes,
            s.total,
            shard,
        );
        return Ok(Output::new(super::merge::json(&part)?, 0));
    }
    let r = run_sweep(s).map_err(AppError::usage)?;
    let text = if s.json {
        let mut t = serde_json::to_string_pretty(&r).map_err(AppError::internal)?;
        t.push('\n');
        t
    } else {
        human(&r)
    };
    Ok(Output::new(text, 0))
}

/// Replays the dataset once and evaluates every combination: the report, and the base
/// policy's result.
pub fn run_sweep(s: &SweepSettings) -> Result<SweepReport, ReplayError> {
    let replay = replay_dir_with_bands(&s.setup, &s.dataset, s.read, &extra_bands(&s.axes))?;
    let policy = &s.setup.policy;
    let sweep = WhatIf::new(policy, replay.folded).tables();
    let base = Variant::of(policy);
    let results = evaluate_all(&sweep, &base, &s.axes, s.total);
    Ok(report(
        &s.dataset.display().to_string(),
        policy,
        &axis_reports(&s.axes),
        &results,
        &sweep.eval(&base),
    ))
}

/// The policy value an axis moves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Field {
    Go5xx,
    Go4xx,
    Trig5xx,
    Trig4xx,
    TrigP95,
    TrigP99,
    StageGoP95(usize),
    Sustain,
    JudgeAlpha,
}

/// One varied key: its values as written and as the variant field takes them.
#[derive(Clone, Debug)]
pub struct Axis {
    pub key: String,
    pub labels: Vec<String>,
    field: Field,
    /// Per value: the ratio (rates), microseconds (latencies) or ticks (sustain).
    values: Vec<Variant>,
}

impl Axis {
    /// Sets value `i` of this axis on `v`.
    pub fn set(&self, v: &mut Variant, i: usize) {
        let src = &self.values[i];
        match self.field {
            Field::Go5xx => v.go_5xx = src.go_5xx,
            Field::Go4xx => v.go_4xx = src.go_4xx,
            Field::Trig5xx => v.trig_5xx = src.trig_5xx,
            Field::Trig4xx => v.trig_4xx = src.trig_4xx,
            Field::TrigP95 => v.trig_p95_us = src.trig_p95_us,
            Field::TrigP99 => v.trig_p99_us = src.trig_p99_us,
            Field::StageGoP95(s) => v.go_p95_us[s] = src.go_p95_us[s],
            Field::Sustain => v.sustain_ticks = src.sustain_ticks,
            Field::JudgeAlpha => v.judge_alpha = src.judge_alpha,
        }
    }

    /// The latency limits (microseconds) the axis tries.
    fn latencies(&self) -> Vec<u64> {
        self.values
            .iter()
            .filter_map(|v| match self.field {
                Field::TrigP95 => Some(v.trig_p95_us),
                Field::TrigP99 => Some(v.trig_p99_us),
                Field::StageGoP95(s) => Some(v.go_p95_us[s]),
                _ => None,
            })
            .collect()
    }
}

/// Values `lo, lo + step, ..., <= hi`, written without binary noise.
fn range(arg: &str, lo: f64, hi: f64, step: f64) -> Result<Vec<f64>, SweepError> {
    let bad = |m: &str| SweepError::Range {
        arg: arg.into(),
        message: m.into(),
    };
    if !(lo.is_finite() && hi.is_finite() && step.is_finite()) || step <= 0.0 {
        return Err(bad("LO, HI and STEP must be numbers, STEP above 0"));
    }
    if hi < lo {
        return Err(bad("HI is below LO"));
    }
    let n = ((hi - lo) / step + 1e-9).floor() as u64 + 1;
    if n > 1_000_000 {
        return Err(bad("more than 1,000,000 values on one key"));
    }
    Ok((0..n)
        .map(|i| ((lo + i as f64 * step) * 1e9).round() / 1e9)
        .collect())
}

/// The values of a spec: (as people read it, as `--set` takes it).
fn values(arg: &str, key: &str, spec: &str) -> Result<Vec<(String, String)>, SweepError> {
    let duration = key == "rollout.sustain";
    let parts: Vec<&str> = spec.split(':').map(str::trim).collect();
    let list: Vec<(String, String)> = match parts.as_slice() {
        [lo, hi, step] => {
            if duration {
                let d = |s: &str| {
                    parse_duration(s).ok_or_else(|| SweepError::Range {
                        arg: arg.into(),
                        message: format!("`{s}` is not a duration such as 5m or 90s"),
                    })
                };
                let (lo, hi, step) = (d(lo)?, d(hi)?, d(step)?);
                range(arg, lo as f64, hi as f64, step as f64)?
                    .into_iter()
                    .map(|ms| {
                        let d = format_duration(ms as i64);
                        (d.clone(), format!("\"{d}\""))
                    })
                    .collect()
            } else {
                let num = |s: &str| {
                    s.parse::<f64>().map_err(|_| SweepError::Range {
                        arg: arg.into(),
                        message: format!("`{s}` is not a number"),
                    })
                };
                range(arg, num(lo)?, num(hi)?, num(step)?)?
                    .into_iter()
                    .map(|x| {
                        let s = format!("{x}");
                        let set = if s.contains('.') {
                            s.clone()
                        } else {
                            format!("{s}.0")
                        };
                        (s, set)
                    })
                    .collect()
            }
        }
        [one] => one
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                let label = s.trim_matches('"').to_string();
                let set = if duration {
                    format!("\"{label}\"")
                } else {
                    s.to_string()
                };
                (label, set)
            })
            .collect(),
        _ => return Err(SweepError::Syntax(arg.into())),
    };
    if list.is_empty() {
        return Err(SweepError::Syntax(arg.into()));
    }
    Ok(list)
}

/// Parses one `--vary` against the policy built by `builder` (the base).
pub fn parse_axis(
    arg: &str,
    base: &Policy,
    builder: &dyn Fn() -> Result<PolicyBuilder, PolicyError>,
) -> Result<Axis, SweepError> {
    let (key, spec) = arg
        .split_once('=')
        .ok_or_else(|| SweepError::Syntax(arg.into()))?;
    let key = key.trim();
    if !crate::gate::sweepable(key) {
        return Err(SweepError::Key(arg.into(), key.into()));
    }
    let field = match key {
        "go.error_rate_5xx" => Field::Go5xx,
        "go.error_rate_4xx_nonauth" => Field::Go4xx,
        "triggers.error_rate_5xx" => Field::Trig5xx,
        "triggers.error_rate_4xx_nonauth" => Field::Trig4xx,
        "triggers.latency_p95_ms" => Field::TrigP95,
        "triggers.latency_p99_ms" => Field::TrigP99,
        "rollout.sustain" => Field::Sustain,
        "judge.alpha" if !base.judge_enabled => {
            return Err(SweepError::Range {
                arg: arg.into(),
                message: "the canary judge is off in the base policy, so its alpha moves \
                          nothing: add --set judge.enabled=true"
                    .into(),
            });
        }
        "judge.alpha" => Field::JudgeAlpha,
        k => match k
            .strip_prefix("stages.")
            .and_then(|r| r.strip_suffix(".go_p95_ms"))
            .and_then(|name| base.stages.iter().position(|s| s.name == name))
        {
            Some(i) => Field::StageGoP95(i),
            None => return Err(SweepError::Key(arg.into(), k.into())),
        },
    };
    let mut labels = Vec::new();
    let mut variants = Vec::new();
    for (label, value) in values(arg, key, spec)? {
        let policy = builder()
            .and_then(|b| b.set(&format!("{key}={value}")))
            .and_then(PolicyBuilder::build)
            .map_err(|source| SweepError::Value {
                arg: arg.into(),
                value: value.clone(),
                source,
            })?;
        labels.push(label);
        variants.push(Variant::of(&policy));
    }
    Ok(Axis {
        key: key.to_string(),
        labels,
        field,
        values: variants,
    })
}

/// Checks the axes together: each key once, a bounded product.
pub fn check_axes(axes: &[Axis]) -> Result<u64, SweepError> {
    if axes.is_empty() {
        return Err(SweepError::Nothing);
    }
    for (i, a) in axes.iter().enumerate() {
        if axes[..i].iter().any(|b| b.key == a.key) {
            return Err(SweepError::Twice(a.key.clone()));
        }
    }
    let mut total: u64 = 1;
    for a in axes {
        total = total.saturating_mul(a.labels.len() as u64);
    }
    if total > MAX_VARIANTS {
        return Err(SweepError::TooMany(total));
    }
    Ok(total)
}

/// Every latency limit the axes try (extra bands for the fold).
pub fn extra_bands(axes: &[Axis]) -> Vec<u64> {
    let mut v: Vec<u64> = axes.iter().flat_map(Axis::latencies).collect();
    v.sort_unstable();
    v.dedup();
    v
}

/// Evaluates every combination (in parallel; the result is in combination order).
pub fn evaluate_all(sweep: &Sweep, base: &Variant, axes: &[Axis], total: u64) -> Vec<SweepVerdict> {
    let reports = axis_reports(axes);
    (0..total)
        .into_par_iter()
        .map_init(
            || (base.clone(), vec![0usize; axes.len()]),
            |(v, idx), i| {
                indexes(&reports, i, idx);
                for (a, j) in axes.iter().zip(idx.iter()) {
                    a.set(v, *j);
                }
                sweep.eval(v)
            },
        )
        .collect()
}

/// The axes as the report shows them.
fn axis_reports(axes: &[Axis]) -> Vec<AxisReport> {
    axes.iter()
        .map(|a| AxisReport {
            key: a.key.clone(),
            values: a.labels.clone(),
        })
        .collect()
}
