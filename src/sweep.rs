//! `rehearse sweep`: which verdicts a range of thresholds would give. Each `--vary
//! KEY=SPEC` names a request threshold or the sustain span and the values to try; the
//! sweep replays the dataset once (counting latencies at every varied limit, so each is
//! judged exactly), evaluates every combination on the rayon pool with
//! [`crate::engine::sweep::Sweep`], and groups the combinations by what the rollout
//! does. Every value is checked as `rehearse run --set KEY=VALUE` would check it, and
//! the variant it makes is that policy's, so a row of the sweep is what `run` reports.

use std::collections::HashMap;
use std::fmt::Write as _;

use rayon::prelude::*;
use serde::Serialize;

use crate::cli::{OnErrorArg, SettingsError, SweepArgs};
use crate::engine::sweep::{Sweep, SweepVerdict, Variant};
use crate::engine::{ReadOptions, Setup, replay_dir_with_bands};
use crate::events::Outcome;
use crate::policy::{Policy, PolicyBuilder, PolicyError};
use crate::source::OnError;
use crate::time::{format_clock, format_duration, parse_duration};

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
        "--vary `{0}`: `{1}` cannot be swept; sweep go.error_rate_5xx, go.error_rate_4xx_nonauth, triggers.error_rate_5xx, triggers.error_rate_4xx_nonauth, triggers.latency_p95_ms, triggers.latency_p99_ms, stages.NAME.go_p95_ms or rollout.sustain"
    )]
    Key(String, String),
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
    /// A problem with the arguments `run` shares (policy, schemas, `--start`).
    #[error(transparent)]
    Settings(#[from] SettingsError),
}

/// The checked arguments of `rehearse sweep`, built before any work starts.
pub struct SweepSettings {
    pub setup: Setup,
    pub dataset: std::path::PathBuf,
    pub read: ReadOptions,
    pub axes: Vec<Axis>,
    pub total: u64,
    pub json: bool,
}

impl SweepSettings {
    pub fn new(args: &SweepArgs) -> Result<Self, SweepError> {
        let policy = args
            .policy
            .builder()
            .and_then(PolicyBuilder::build)
            .map_err(SettingsError::from)?;
        let builder = || args.policy.builder();
        let axes = args
            .vary
            .iter()
            .map(|a| parse_axis(a, &policy, &builder))
            .collect::<Result<Vec<_>, _>>()?;
        let total = check_axes(&axes)?;
        let start = match &args.start {
            None => None,
            Some(s) => {
                Some(crate::time::parse_rfc3339(s).ok_or_else(|| SettingsError::Start(s.clone()))?)
            }
        };
        Ok(SweepSettings {
            setup: Setup::new(policy).map_err(SettingsError::from)?,
            dataset: args.dataset.clone(),
            read: ReadOptions {
                on_error: match args.on_error {
                    OnErrorArg::Fail => OnError::Fail,
                    OnErrorArg::Skip => OnError::Skip,
                },
                start,
                ..ReadOptions::default()
            },
            axes,
            total,
            json: args.json,
        })
    }
}

/// Replays the dataset once and evaluates every combination: the report, and the base
/// policy's result.
pub fn run_sweep(s: &SweepSettings) -> Result<SweepReport, crate::engine::ReplayError> {
    let replay = replay_dir_with_bands(&s.setup, &s.dataset, s.read, &extra_bands(&s.axes))?;
    let policy = &s.setup.policy;
    let sweep = Sweep::new(policy, &replay.folded);
    let base = Variant::of(policy);
    let results = evaluate_all(&sweep, &base, &s.axes, s.total);
    Ok(report(
        &s.dataset.display().to_string(),
        policy,
        &s.axes,
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
    fn set(&self, v: &mut Variant, i: usize) {
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
    let field = match key {
        "go.error_rate_5xx" => Field::Go5xx,
        "go.error_rate_4xx_nonauth" => Field::Go4xx,
        "triggers.error_rate_5xx" => Field::Trig5xx,
        "triggers.error_rate_4xx_nonauth" => Field::Trig4xx,
        "triggers.latency_p95_ms" => Field::TrigP95,
        "triggers.latency_p99_ms" => Field::TrigP99,
        "rollout.sustain" => Field::Sustain,
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

/// The value indexes of combination `i` (the last axis varies fastest).
fn indexes(axes: &[Axis], mut i: u64, out: &mut [usize]) {
    for (a, slot) in axes.iter().zip(out.iter_mut()).rev() {
        let n = a.labels.len() as u64;
        *slot = (i % n) as usize;
        i /= n;
    }
}

/// Evaluates every combination (in parallel; the result is in combination order).
pub fn evaluate_all(sweep: &Sweep, base: &Variant, axes: &[Axis], total: u64) -> Vec<SweepVerdict> {
    (0..total)
        .into_par_iter()
        .map_init(
            || (base.clone(), vec![0usize; axes.len()]),
            |(v, idx), i| {
                indexes(axes, i, idx);
                for (a, j) in axes.iter().zip(idx.iter()) {
                    a.set(v, *j);
                }
                sweep.eval(v)
            },
        )
        .collect()
}

/// What a rollout does: outcome, the stage that rolled back or held (`null` when
/// complete), when it ended, and why.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct VerdictReport {
    pub outcome: &'static str,
    pub stage: Option<String>,
    pub at: String,
    pub reasons: Vec<&'static str>,
}

impl VerdictReport {
    fn of(v: &SweepVerdict, policy: &Policy) -> Self {
        VerdictReport {
            outcome: v.outcome.as_str(),
            stage: (v.outcome != Outcome::Complete)
                .then(|| policy.stages.get(v.stage).map(|s| s.name.clone()))
                .flatten(),
            at: crate::time::format_rfc3339(v.at),
            reasons: v.reason_gates().iter().map(|g| g.as_str()).collect(),
        }
    }

    /// One line: `ROLLBACK ramp-25 at 12:56:00 (error_rate_5xx)`.
    fn line(&self) -> String {
        let at = crate::time::parse_rfc3339(&self.at).map_or(self.at.clone(), format_clock);
        match &self.stage {
            None => format!("{} at {at}", self.outcome.to_ascii_uppercase()),
            Some(stage) => format!(
                "{} {stage} at {at} ({})",
                self.outcome.to_ascii_uppercase(),
                self.reasons.join(", ")
            ),
        }
    }
}

/// What a group of combinations does, as the report shows it.
#[derive(Clone, Debug, Serialize)]
pub struct GroupReport {
    #[serde(flatten)]
    pub verdict: VerdictReport,
    pub variants: u64,
    /// Per axis, the values seen in the group (in axis order).
    pub values: Vec<Vec<String>>,
}

/// The sweep's report.
#[derive(Clone, Debug, Serialize)]
pub struct SweepReport {
    pub dataset: String,
    pub axes: Vec<AxisReport>,
    pub variants: u64,
    /// What the base policy (without any varied value) does.
    pub base: VerdictReport,
    /// Groups of combinations with the same result, in order of first appearance (the
    /// last axis varies fastest).
    pub groups: Vec<GroupReport>,
}

#[derive(Clone, Debug, Serialize)]
pub struct AxisReport {
    pub key: String,
    pub values: Vec<String>,
}

fn group_key(v: &SweepVerdict) -> (u8, usize, i64, u32) {
    let o = match v.outcome {
        Outcome::Complete => 0,
        Outcome::Hold => 1,
        Outcome::Rollback => 2,
    };
    (o, v.stage, v.at, v.reasons)
}

/// Groups the results by outcome, stage, instant and reasons, in order of first
/// appearance among the combinations.
pub fn report(
    dataset: &str,
    policy: &Policy,
    axes: &[Axis],
    results: &[SweepVerdict],
    base: &SweepVerdict,
) -> SweepReport {
    let mut index: HashMap<(u8, usize, i64, u32), usize> = HashMap::new();
    let mut groups: Vec<(SweepVerdict, u64, Vec<Vec<bool>>)> = Vec::new();
    let mut idx = vec![0usize; axes.len()];
    for (i, r) in results.iter().enumerate() {
        let g = *index.entry(group_key(r)).or_insert_with(|| {
            groups.push((
                *r,
                0,
                axes.iter().map(|a| vec![false; a.labels.len()]).collect(),
            ));
            groups.len() - 1
        });
        indexes(axes, i as u64, &mut idx);
        let entry = &mut groups[g];
        entry.1 += 1;
        for (seen, j) in entry.2.iter_mut().zip(&idx) {
            seen[*j] = true;
        }
    }
    SweepReport {
        dataset: dataset.to_string(),
        axes: axes
            .iter()
            .map(|a| AxisReport {
                key: a.key.clone(),
                values: a.labels.clone(),
            })
            .collect(),
        variants: results.len() as u64,
        base: VerdictReport::of(base, policy),
        groups: groups
            .into_iter()
            .map(|(v, n, seen)| GroupReport {
                verdict: VerdictReport::of(&v, policy),
                variants: n,
                values: seen
                    .iter()
                    .zip(axes)
                    .map(|(s, a)| {
                        s.iter()
                            .zip(&a.labels)
                            .filter(|(x, _)| **x)
                            .map(|(_, l)| l.clone())
                            .collect()
                    })
                    .collect(),
            })
            .collect(),
    }
}

/// A group's values on one axis, short: every value, or `first..last (n of m)`.
fn values_text(vals: &[String], all: usize) -> String {
    if vals.len() == all && all > 1 {
        return format!("all {all}");
    }
    if vals.len() <= 4 {
        return vals.join(", ");
    }
    format!(
        "{}..{} ({} of {all})",
        vals[0],
        vals[vals.len() - 1],
        vals.len()
    )
}

/// The report for a person.
pub fn human(r: &SweepReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "sweep over {}: {} variants of {}",
        r.dataset,
        r.variants,
        r.axes
            .iter()
            .map(|a| format!("{} ({} values)", a.key, a.values.len()))
            .collect::<Vec<_>>()
            .join(" x ")
    );
    let _ = writeln!(out, "base policy: {}", r.base.line());
    for g in &r.groups {
        let mark = if g.verdict == r.base {
            "  (as the base)"
        } else {
            ""
        };
        let _ = writeln!(out);
        let _ = writeln!(out, "{}  {} variants{mark}", g.verdict.line(), g.variants);
        for (a, vals) in r.axes.iter().zip(&g.values) {
            let _ = writeln!(
                out,
                "    {:<34} {}",
                a.key,
                values_text(vals, a.values.len())
            );
        }
    }
    out
}
