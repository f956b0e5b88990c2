//! `rehearse tune`: a policy chosen from evidence. A library directory holds scenarios
//! (generated in memory; their `[expect]` table says whether they are incidents and
//! which stage must stop them) and datasets labelled in their manifest's `[label]`
//! table. Each item is replayed once with the latency bands of every varied limit,
//! then every combination of the `--vary` values is judged over every item with the
//! sweep's per-tick tables ([`crate::engine::whatif::Sweep`]) and scored against the
//! labels: incidents caught, caught late, missed or stopped before their fault began;
//! false holds and rollbacks on clean items; time to detect; canary requests exposed.
//! The scores reduce to a shard summary ([`crate::output::tune::TunePartial`]: the
//! Pareto front and the best variant of a range of combinations), and summaries merge
//! into the report, so a sharded run and a single one print the same bytes.

use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::engine::fold::slot;
use crate::engine::whatif::{Sweep, SweepVerdict, Variant, WhatIf};
use crate::input::Millis;
use crate::output::tune::{
    AxisReport, ItemOutcome, ItemReport, Score, ShardReport, StageOddsBrief, TunePartial, finish,
    human, partial,
};
use crate::output::write_atomic;
use crate::policy::{Policy, PolicyBuilder, PolicyError};
use crate::source::dataset::{Label, read_label};
use crate::source::read::ReadOptions;
use crate::time::{format_rfc3339, parse_duration};
use crate::verdict::Outcome;

use super::merge::Shard;
use super::replay::{replay_dataset_with_bands, replay_dir_with_bands};
use super::scenario::{Scenario, ScenarioFile};
use super::sweep::{Axis, SweepError, check_axes, extra_bands, parse_axis};
use super::{AppError, Context, Output, SettingsError};

/// Why a library cannot be tuned over.
#[derive(Debug, thiserror::Error)]
pub enum TuneError {
    #[error(transparent)]
    Sweep(#[from] SweepError),
    #[error("{0}: {1}")]
    Item(PathBuf, String),
    #[error(
        "{0}: the library holds no scenario (*.toml) and no labelled dataset (a directory with dataset.toml)"
    )]
    Empty(PathBuf),
    #[error(
        "{0}: the library holds incidents only or clean items only; tuning needs both (add clean twins or past incidents)"
    )]
    OneSided(PathBuf),
}

/// The checked arguments of `rehearse tune`.
pub struct TuneSettings {
    pub library: PathBuf,
    pub policy_file: Option<PathBuf>,
    pub sets: Vec<String>,
    pub vary: Vec<String>,
    pub json: bool,
    pub out: Option<PathBuf>,
    pub shard: Option<Shard>,
    axes: Vec<Axis>,
    total: u64,
}

impl TuneSettings {
    /// Checks the varied keys against the base policy (default, `--policy`, `--set`).
    pub fn new(
        library: PathBuf,
        policy_file: Option<PathBuf>,
        sets: Vec<String>,
        vary: Vec<String>,
        json: bool,
        out: Option<PathBuf>,
        shard: Option<Shard>,
    ) -> Result<Self, TuneError> {
        let builder = || base_builder(policy_file.as_deref(), None, &sets, None);
        let policy = builder()
            .and_then(PolicyBuilder::build)
            .map_err(|e| SweepError::Settings(SettingsError::from(e)))?;
        let axes = vary
            .iter()
            .map(|a| parse_axis(a, &policy, &builder))
            .collect::<Result<Vec<_>, _>>()?;
        let total = check_axes(&axes)?;
        Ok(TuneSettings {
            library,
            policy_file,
            sets,
            vary,
            json,
            out,
            shard,
            axes,
            total,
        })
    }
}

/// The default policy, then the `--policy` file, an item's own `[policy]` table, and
/// the `--set` overrides, in that order.
fn base_builder(
    file: Option<&Path>,
    table: Option<toml::Table>,
    sets: &[String],
    dir: Option<&Path>,
) -> Result<PolicyBuilder, PolicyError> {
    let mut b = PolicyBuilder::new();
    if let Some(d) = dir {
        b = b.base_dir(d);
    }
    if let Some(f) = file {
        b = b.file(f)?;
    }
    if let Some(t) = table {
        b = b.table(t)?;
    }
    for s in sets {
        b = b.set(s)?;
    }
    Ok(b)
}

/// What an item is known to be, resolved against its policy.
#[derive(Clone, Debug)]
pub enum Truth {
    Incident {
        stage: usize,
        fault_start: Millis,
        stop_by: Millis,
    },
    Clean,
}

/// One library item, replayed and ready for variants.
pub struct Item {
    pub name: String,
    pub source: &'static str,
    pub truth: Truth,
    pub policy: Policy,
    sweep: Sweep,
    base: Variant,
    /// The fold (for the odds of a false stop: its canary traffic and baseline counts).
    whatif: WhatIf,
    t0: Millis,
    tick_ms: Millis,
    /// Prefix sums of the canary requests per tick interval (`cum[j]`: intervals `< j`).
    cum: Vec<u64>,
}

/// How one variant fares on one item.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fate {
    /// Stopped in time: the time to detect and the canary requests exposed.
    Caught {
        ttd: Millis,
        exposed: u64,
    },
    /// Stopped after its stage or its `stop_by`.
    Late {
        ttd: Millis,
        exposed: u64,
    },
    /// Never stopped: the canary requests exposed to the fault to the rollout's end.
    Missed {
        exposed: u64,
    },
    /// Stopped before its fault began (a stop on noise).
    Premature,
    Pass,
    FalseHold,
    FalseRollback,
}

impl Fate {
    pub fn as_str(self) -> &'static str {
        match self {
            Fate::Caught { .. } => "caught",
            Fate::Late { .. } => "late",
            Fate::Missed { .. } => "missed",
            Fate::Premature => "premature",
            Fate::Pass => "pass",
            Fate::FalseHold => "false_hold",
            Fate::FalseRollback => "false_rollback",
        }
    }
}

impl Item {
    /// Canary requests in the tick intervals from `from` to `to`.
    fn canary(&self, from: Millis, to: Millis) -> u64 {
        let idx = |t: Millis, up: bool| {
            let d = (t - self.t0).max(0);
            let j = if up {
                (d + self.tick_ms - 1) / self.tick_ms
            } else {
                d / self.tick_ms
            };
            (j as usize).min(self.cum.len() - 1)
        };
        let (a, b) = (idx(from, false), idx(to, true));
        self.cum[b].saturating_sub(self.cum[a])
    }

    fn end(&self) -> Millis {
        self.t0 + self.policy.total_ms()
    }

    /// The variant of this item's policy with the combination's values.
    pub fn variant(&self, axes: &[Axis], idx: &[usize], v: &mut Variant) {
        v.clone_from(&self.base);
        for (a, j) in axes.iter().zip(idx) {
            a.set(v, *j);
        }
    }

    /// The verdict of a variant over this item.
    pub fn eval(&self, v: &Variant) -> SweepVerdict {
        self.sweep.eval(v)
    }

    /// Scores a verdict against the item's truth.
    pub fn fate(&self, r: &SweepVerdict) -> Fate {
        match (&self.truth, r.outcome) {
            (Truth::Clean, Outcome::Complete) => Fate::Pass,
            (Truth::Clean, Outcome::Hold) => Fate::FalseHold,
            (Truth::Clean, Outcome::Rollback) => Fate::FalseRollback,
            (Truth::Incident { fault_start, .. }, Outcome::Complete) => Fate::Missed {
                exposed: self.canary(*fault_start, self.end()),
            },
            (
                Truth::Incident {
                    stage,
                    fault_start,
                    stop_by,
                },
                _,
            ) => {
                if r.at < *fault_start {
                    return Fate::Premature;
                }
                let ttd = r.at - fault_start;
                let exposed = self.canary(*fault_start, r.at);
                if r.stage <= *stage && r.at <= *stop_by {
                    Fate::Caught { ttd, exposed }
                } else {
                    Fate::Late { ttd, exposed }
                }
            }
        }
    }
}

/// Adds a fate to a variant's score.
pub fn add(score: &mut Score, f: Fate) {
    match f {
        Fate::Caught { ttd, exposed } => {
            score.caught += 1;
            score.ttd_ms += ttd as u64;
            score.exposed += exposed;
        }
        Fate::Late { ttd, exposed } => {
            score.late += 1;
            score.ttd_ms += ttd as u64;
            score.exposed += exposed;
        }
        Fate::Missed { exposed } => {
            score.missed += 1;
            score.exposed += exposed;
        }
        Fate::Premature => score.premature += 1,
        Fate::Pass => {}
        Fate::FalseHold => score.false_holds += 1,
        Fate::FalseRollback => score.false_rollbacks += 1,
    }
}

/// A loaded library: its items, the axes and how loose each value is.
pub struct Library {
    pub dir: PathBuf,
    pub items: Vec<Item>,
    pub axes: Vec<Axis>,
    pub total: u64,
    /// Per axis, per value: its rank from the tightest (0) to the loosest.
    pub ranks: Vec<Vec<u32>>,
}

impl Library {
    /// Loads and replays every item of `s.library`.
    pub fn load(s: &TuneSettings) -> Result<Self, TuneError> {
        let dir = &s.library;
        let rd = std::fs::read_dir(dir)
            .map_err(|e| TuneError::Item(dir.clone(), format!("cannot list the library: {e}")))?;
        let mut paths: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
        paths.sort();
        let paths: Vec<PathBuf> = paths
            .into_iter()
            .filter(|p| {
                (p.is_file() && p.extension().is_some_and(|e| e == "toml"))
                    || (p.is_dir() && p.join("dataset.toml").is_file())
            })
            .collect();
        if paths.is_empty() {
            return Err(TuneError::Empty(dir.clone()));
        }
        let bands = extra_bands(&s.axes);
        let items = paths
            .par_iter()
            .map(|p| load_item(s, p, &bands))
            .collect::<Result<Vec<_>, _>>()?;
        let incidents = items
            .iter()
            .filter(|i| matches!(i.truth, Truth::Incident { .. }))
            .count();
        if incidents == 0 || incidents == items.len() {
            return Err(TuneError::OneSided(dir.clone()));
        }
        check_items(&items, &s.axes)?;
        Ok(Library {
            dir: dir.clone(),
            items,
            axes: s.axes.clone(),
            total: s.total,
            ranks: s.axes.iter().map(ranks).collect(),
        })
    }

    pub fn axis_reports(&self) -> Vec<AxisReport> {
        self.axes
            .iter()
            .map(|a| AxisReport {
                key: a.key.clone(),
                values: a.labels.clone(),
            })
            .collect()
    }

    /// A variant to reuse with [`Library::score`].
    pub fn base_variant(&self) -> Variant {
        self.items[0].base.clone()
    }

    /// The value indexes of combination `i` (the last axis fastest, as in `sweep`).
    pub fn indexes(&self, mut i: u64, out: &mut [usize]) {
        for (a, slot) in self.axes.iter().zip(out.iter_mut()).rev() {
            let n = a.labels.len() as u64;
            *slot = (i % n) as usize;
            i /= n;
        }
    }

    /// How loose combination `i` is: the sum of its values' ranks.
    pub fn looseness(&self, idx: &[usize]) -> u64 {
        idx.iter().zip(&self.ranks).map(|(j, r)| r[*j] as u64).sum()
    }

    /// The score of combination `i` over every item.
    pub fn score(&self, i: u64, idx: &mut [usize], v: &mut Variant) -> Score {
        self.indexes(i, idx);
        let mut score = Score::default();
        for item in &self.items {
            item.variant(&self.axes, idx, v);
            add(&mut score, item.fate(&item.eval(v)));
        }
        score
    }

    /// Each item's report.
    pub fn item_reports(&self) -> Vec<ItemReport> {
        self.items
            .iter()
            .map(|it| {
                let (kind, stage, fault_start, stop_by) = match &it.truth {
                    Truth::Clean => ("clean", None, None, None),
                    Truth::Incident {
                        stage,
                        fault_start,
                        stop_by,
                    } => (
                        "incident",
                        Some(it.policy.stages[*stage].name.clone()),
                        Some(format_rfc3339(*fault_start)),
                        Some(format_rfc3339(*stop_by)),
                    ),
                };
                ItemReport {
                    name: it.name.clone(),
                    source: it.source.into(),
                    kind: kind.into(),
                    stage,
                    fault_start,
                    stop_by,
                }
            })
            .collect()
    }

    /// The per-item outcomes of combination `i`.
    pub fn outcomes(&self, i: u64) -> Vec<ItemOutcome> {
        let mut idx = vec![0; self.axes.len()];
        self.indexes(i, &mut idx);
        let mut v = self.items[0].base.clone();
        self.items
            .iter()
            .map(|it| {
                it.variant(&self.axes, &idx, &mut v);
                let r = it.eval(&v);
                let fate = it.fate(&r);
                let (ttd, exposed) = match fate {
                    Fate::Caught { ttd, exposed } | Fate::Late { ttd, exposed } => {
                        (Some(ttd as f64 / 1000.0), Some(exposed))
                    }
                    Fate::Missed { exposed } => (None, Some(exposed)),
                    _ => (None, None),
                };
                let stopped = r.outcome != Outcome::Complete;
                let false_stop_odds = match it.truth {
                    Truth::Incident { .. } => Vec::new(),
                    Truth::Clean => {
                        let p = v.apply(&it.policy);
                        super::odds::of_fold(&p, it.whatif.folded())
                            .iter()
                            .zip(&p.stages)
                            .filter_map(|(o, st)| {
                                o.as_ref().map(|o| StageOddsBrief {
                                    stage: st.name.clone(),
                                    hold: [o.hold.p, o.hold.low, o.hold.high],
                                    rollback: [o.rollback.p, o.rollback.low, o.rollback.high],
                                })
                            })
                            .collect()
                    }
                };
                ItemOutcome {
                    name: it.name.clone(),
                    result: fate.as_str().into(),
                    outcome: r.outcome.as_str().into(),
                    stage: stopped.then(|| it.policy.stages[r.stage].name.clone()),
                    at: stopped.then(|| format_rfc3339(r.at)),
                    reasons: r
                        .reason_gates()
                        .iter()
                        .map(|g| g.as_str().to_string())
                        .collect(),
                    time_to_detect_s: ttd,
                    exposed,
                    false_stop_odds,
                }
            })
            .collect()
    }

    /// The shard summary of combinations `range` (all of them without a shard).
    pub fn partial(&self, shard: Option<Shard>) -> TunePartial {
        let shard = shard.unwrap_or(Shard { index: 0, count: 1 });
        let range = shard.range(self.total);
        let n = self.axes.len();
        let scores: Vec<(u64, Score, u64)> = range
            .clone()
            .into_par_iter()
            .map_init(
                || (vec![0usize; n], self.items[0].base.clone()),
                |(idx, v), i| {
                    let s = self.score(i, idx, v);
                    (i, s, self.looseness(idx))
                },
            )
            .collect();
        let values = |i: u64| {
            let mut idx = vec![0; n];
            self.indexes(i, &mut idx);
            idx.iter()
                .zip(&self.axes)
                .map(|(j, a)| a.labels[*j].clone())
                .collect::<Vec<_>>()
        };
        partial(
            self.dir.display().to_string(),
            self.axis_reports(),
            self.item_reports(),
            self.total,
            ShardReport {
                index: shard.index,
                count: shard.count,
                first: range.start,
                end: range.end,
            },
            &scores,
            &values,
            &|i| self.outcomes(i),
        )
    }
}

/// Ranks of an axis's values from the tightest (smallest number or duration) up; for
/// the canary judge's alpha, from the largest (a larger false-alarm bound stops sooner).
fn ranks(a: &Axis) -> Vec<u32> {
    let tighter_when_larger = a.key == "judge.alpha";
    let mag: Vec<f64> = a
        .labels
        .iter()
        .map(|l| {
            l.parse::<f64>()
                .ok()
                .or_else(|| parse_duration(l).map(|d| d as f64))
                .unwrap_or(0.0)
        })
        .collect();
    mag.iter()
        .map(|m| {
            mag.iter()
                .filter(|x| if tighter_when_larger { *x > m } else { *x < m })
                .count() as u32
        })
        .collect()
}

/// Every item must judge every varied value exactly, and stage-scoped keys must name
/// the same stage in every item.
fn check_items(items: &[Item], axes: &[Axis]) -> Result<(), TuneError> {
    let staged = axes.iter().any(|a| a.key.starts_with("stages."));
    let first = &items[0];
    for it in items {
        if staged {
            let names = |p: &Policy| p.stages.iter().map(|s| s.name.clone()).collect::<Vec<_>>();
            if names(&it.policy) != names(&first.policy) {
                return Err(TuneError::Item(
                    PathBuf::from(&it.name),
                    format!(
                        "its stages ({}) differ from {}'s ({}), so a `stages.NAME` key cannot be varied over both; vary a rollout-wide key or keep one stage plan in the library",
                        names(&it.policy).join(", "),
                        first.name,
                        names(&first.policy).join(", ")
                    ),
                ));
            }
        }
        let mut v = it.base.clone();
        for a in axes {
            for j in 0..a.labels.len() {
                v.clone_from(&it.base);
                a.set(&mut v, j);
                if !it.sweep.supports(&v) {
                    return Err(TuneError::Item(
                        PathBuf::from(&it.name),
                        format!(
                            "`{}={}` cannot be judged exactly over this item's aggregates",
                            a.key, a.labels[j]
                        ),
                    ));
                }
            }
        }
    }
    Ok(())
}

fn load_item(s: &TuneSettings, path: &Path, bands: &[u64]) -> Result<Item, TuneError> {
    // A scenario is named by its file stem, a dataset by its directory.
    let name = if path.is_dir() {
        path.file_name()
    } else {
        path.file_stem()
    }
    .map(|n| n.to_string_lossy().into_owned())
    .unwrap_or_default();
    let err = |m: String| TuneError::Item(path.to_path_buf(), m);
    if path.is_dir() {
        let label = read_label(&path.join("dataset.toml"))
            .map_err(|e| err(e.to_string()))?
            .ok_or_else(|| {
                err("its dataset.toml has no [label] table: add kind = \"incident\" (with stage and fault_start) or kind = \"clean\" (docs/tuning.md)".into())
            })?;
        let policy = base_builder(s.policy_file.as_deref(), None, &s.sets, None)
            .and_then(PolicyBuilder::build)
            .map_err(|e| err(e.to_string()))?;
        let setup = super::setup(policy).map_err(|e| err(e.to_string()))?;
        let replay = replay_dir_with_bands(&setup, path, ReadOptions::default(), bands)
            .map_err(|e| err(e.to_string()))?;
        let truth = match label {
            Label::Clean => Truth::Clean,
            Label::Incident {
                stage,
                fault_start,
                stop_by,
            } => {
                let p = &setup.policy;
                let si = stage_index(p, &stage).map_err(err)?;
                let end = replay.folded.t0 + p.stages[si].end_ms();
                Truth::Incident {
                    stage: si,
                    fault_start,
                    stop_by: stop_by.unwrap_or(end).min(end),
                }
            }
        };
        Ok(item(name, "dataset", truth, setup.policy, replay.folded))
    } else {
        let text = std::fs::read_to_string(path).map_err(|e| err(format!("cannot read: {e}")))?;
        let file: ScenarioFile = toml::from_str(&text).map_err(|e| err(e.to_string()))?;
        let policy = base_builder(
            s.policy_file.as_deref(),
            file.policy.clone(),
            &s.sets,
            path.parent(),
        )
        .and_then(PolicyBuilder::build)
        .map_err(|e| err(e.to_string()))?;
        let setup = super::setup(policy).map_err(|e| err(e.to_string()))?;
        let sc = Scenario {
            path: path.to_path_buf(),
            name: name.clone(),
            description: file.description.clone(),
            setup,
            spec: file.generate.clone(),
            funnel: file.funnel.clone(),
            expect: file.expect.clone(),
        };
        let ds = sc.dataset().map_err(|e| err(e.to_string()))?;
        let replay = replay_dataset_with_bands(&sc.setup, &ds, None, 8192, bands)
            .map_err(|e| err(e.to_string()))?;
        let t0 = replay.folded.t0;
        let truth = scenario_truth(&file, &sc.setup.policy, t0).map_err(err)?;
        Ok(item(
            name,
            "scenario",
            truth,
            sc.setup.policy,
            replay.folded,
        ))
    }
}

fn stage_index(p: &Policy, name: &str) -> Result<usize, String> {
    p.stages.iter().position(|s| s.name == name).ok_or_else(|| {
        format!(
            "stage `{name}` is not one of the policy's stages ({})",
            p.stages
                .iter()
                .map(|s| s.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )
    })
}

/// A scenario's truth from its `[expect]` table: `complete` is clean; `hold` or
/// `rollback` is an incident that must be stopped by the end of the stage its
/// expected verdicts stop in, whose fault begins with its earliest fault.
fn scenario_truth(f: &ScenarioFile, p: &Policy, t0: Millis) -> Result<Truth, String> {
    match f.expect.outcome.as_str() {
        "complete" => return Ok(Truth::Clean),
        "hold" | "rollback" => {}
        o => {
            return Err(format!(
                "expect.outcome `{o}` is not complete, hold or rollback"
            ));
        }
    }
    let stages = f.expect.stages.as_ref().ok_or_else(|| {
        "an incident scenario needs expect.stages, to tell which stage must stop it".to_string()
    })?;
    let si = stages
        .iter()
        .position(|v| v == "hold" || v == "rollback")
        .ok_or_else(|| "expect.stages has no hold or rollback verdict".to_string())?;
    if si >= p.stages.len() {
        return Err(format!(
            "expect.stages stops in stage {} of a {}-stage policy",
            si + 1,
            p.stages.len()
        ));
    }
    let mut start: Option<Millis> = None;
    for fault in &f.generate.faults {
        let fi = stage_index(p, &fault.stage)?;
        let at = parse_duration(&fault.at)
            .ok_or_else(|| format!("fault at `{}` is not a duration", fault.at))?;
        let t = t0 + p.stages[fi].start_ms + at;
        start = Some(start.map_or(t, |s: Millis| s.min(t)));
    }
    let fault_start = start.ok_or_else(|| {
        "an incident scenario needs a [[generate.faults]] entry, to tell when its fault began"
            .to_string()
    })?;
    Ok(Truth::Incident {
        stage: si,
        fault_start,
        stop_by: t0 + p.stages[si].end_ms(),
    })
}

fn item(
    name: String,
    source: &'static str,
    truth: Truth,
    policy: Policy,
    folded: crate::engine::Folded,
) -> Item {
    let (t0, tick_ms, ticks) = (folded.t0, folded.tick_ms, folded.ticks);
    let mut cum = Vec::with_capacity(ticks + 1);
    let mut acc = 0u64;
    cum.push(0);
    for j in 0..ticks {
        acc += folded.interval_counters(j)[slot::N];
        cum.push(acc);
    }
    let whatif = WhatIf::new(&policy, folded);
    Item {
        name,
        source,
        truth,
        base: Variant::of(&policy),
        sweep: whatif.tables(),
        whatif,
        policy,
        t0,
        tick_ms,
        cum,
    }
}

/// Runs `rehearse tune`.
pub fn run(s: &TuneSettings) -> Result<Output, AppError> {
    let lib = Library::load(s).map_err(AppError::usage)?;
    let part = lib.partial(s.shard);
    if s.shard.is_some() {
        let mut t = serde_json::to_string_pretty(&part).map_err(AppError::internal)?;
        t.push('\n');
        return Ok(Output::new(t, 0));
    }
    let report = finish(vec![part]).map_err(AppError::internal)?;
    if let Some(out) = &s.out {
        write_atomic(out, report.recommended.policy.as_bytes()).map_err(|e| {
            AppError::internal(Context::new(format!("cannot write {}", out.display()), e))
        })?;
    }
    let text = if s.json {
        let mut t = serde_json::to_string_pretty(&report).map_err(AppError::internal)?;
        t.push('\n');
        t
    } else {
        human(&report)
    };
    Ok(Output::new(text, 0))
}
