//! What a terminal session replays: the rollout's stages, one run's verdict events with
//! the indexes playback needs (ticks per stage, the log-worthy events, each stage's
//! start and verdict), and, when the raw data was read, the tuner that re-evaluates it
//! and each stage's odds of a false stop. Everything here is computed once per run; a
//! seek only moves a clock over it.

use std::ops::Range;

use crate::analytics::AnalyticsData;
use crate::analytics::report::PersonCounts;
use crate::engine::odds::StageOdds;
use crate::engine::{Folded, Run};
use crate::input::Millis;
use crate::output::record::RecordMeta;
use crate::policy::{Policy, PolicyBuilder};
use crate::verdict::{Gate, GateState, GateTick, Outcome, TickRecord, Verdict, VerdictEvent};

use super::tune::Tuner;

/// One stage of the rollout plan, with absolute bounds.
#[derive(Clone, Debug, PartialEq)]
pub struct StageInfo {
    pub name: String,
    pub start: Millis,
    pub end: Millis,
    pub weight: f64,
}

/// A stage as seen at some instant of the replay.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StageStatus {
    Go,
    Hold,
    Rollback,
    /// Started, not judged yet.
    Running,
    /// Not reached yet (the rollout has not ended).
    Pending,
    /// Never ran: the rollout ended before it.
    NotRun,
}

impl StageStatus {
    pub fn label(self) -> &'static str {
        match self {
            StageStatus::Go => "go",
            StageStatus::Hold => "hold",
            StageStatus::Rollback => "rollback",
            StageStatus::Running => "running",
            StageStatus::Pending => "pending",
            StageStatus::NotRun => "not run",
        }
    }

    /// The symbol shown next to the colour, so the screen reads without colour.
    pub fn symbol(self) -> &'static str {
        match self {
            StageStatus::Go => "✓",
            StageStatus::Hold => "‖",
            StageStatus::Rollback => "✗",
            StageStatus::Running => "▶",
            StageStatus::Pending => "·",
            StageStatus::NotRun => "-",
        }
    }

    pub fn from_verdict(v: Verdict) -> Self {
        match v {
            Verdict::Go => StageStatus::Go,
            Verdict::Hold => StageStatus::Hold,
            Verdict::Rollback => StageStatus::Rollback,
            Verdict::NotRun => StageStatus::NotRun,
        }
    }
}

/// A stage's verdict as emitted: when, what, why.
#[derive(Clone, Debug, PartialEq)]
pub struct StageJudgement {
    pub at: Millis,
    pub verdict: Verdict,
    pub reasons: Vec<Gate>,
}

/// One run's events with the indexes playback needs.
#[derive(Clone, Debug)]
pub struct Timeline {
    pub events: Vec<VerdictEvent>,
    /// The instant of each event, made non-decreasing (events come in time order).
    times: Vec<Millis>,
    /// Event indexes of the tick records, in order.
    ticks: Vec<usize>,
    /// Per stage, the range of `ticks` belonging to it.
    stage_ticks: Vec<Range<usize>>,
    /// Event indexes of the events the log shows: breaches, triggers, follow-ups,
    /// stage verdicts and the outcome.
    pub log: Vec<usize>,
    /// Per stage, when it started.
    pub started: Vec<Option<Millis>>,
    /// Per stage, its verdict event.
    pub judged: Vec<Option<StageJudgement>>,
    pub outcome: Option<(Millis, Outcome)>,
    /// The instant of the last event: playback ends there.
    pub end: Millis,
}

/// The instant of an event.
pub fn event_at(e: &VerdictEvent) -> Millis {
    match e {
        VerdictEvent::StageStarted { at, .. }
        | VerdictEvent::Breach { at, .. }
        | VerdictEvent::Trigger { at, .. }
        | VerdictEvent::StageVerdict { at, .. }
        | VerdictEvent::Outcome { at, .. } => *at,
        VerdictEvent::Tick(t) => t.at,
        VerdictEvent::FollowUp(f) => f.at,
    }
}

/// The stage an event belongs to, when it names one by index.
pub fn event_stage(e: &VerdictEvent) -> Option<usize> {
    match e {
        VerdictEvent::StageStarted { stage, .. }
        | VerdictEvent::Breach { stage, .. }
        | VerdictEvent::Trigger { stage, .. }
        | VerdictEvent::StageVerdict { stage, .. } => Some(*stage),
        VerdictEvent::Tick(t) => Some(t.stage),
        VerdictEvent::FollowUp(_) | VerdictEvent::Outcome { .. } => None,
    }
}

impl Timeline {
    pub fn new(events: Vec<VerdictEvent>, n_stages: usize, t0: Millis) -> Self {
        let mut times = Vec::with_capacity(events.len());
        let mut ticks = Vec::new();
        let mut log = Vec::new();
        let mut started = vec![None; n_stages];
        let mut judged = vec![None; n_stages];
        let mut outcome = None;
        let mut stage_ticks = vec![0..0; n_stages];
        let mut last = t0;
        for (i, e) in events.iter().enumerate() {
            last = last.max(event_at(e));
            times.push(last);
            match e {
                VerdictEvent::StageStarted { stage, at } => {
                    if let Some(s) = started.get_mut(*stage) {
                        *s = Some(*at);
                    }
                }
                VerdictEvent::Tick(t) => {
                    if let Some(r) = stage_ticks.get_mut(t.stage) {
                        if r.start == r.end {
                            *r = ticks.len()..ticks.len();
                        }
                        r.end = ticks.len() + 1;
                    }
                    ticks.push(i);
                }
                VerdictEvent::StageVerdict {
                    stage,
                    at,
                    verdict,
                    reasons,
                } => {
                    if let Some(j) = judged.get_mut(*stage) {
                        *j = Some(StageJudgement {
                            at: *at,
                            verdict: *verdict,
                            reasons: reasons.clone(),
                        });
                    }
                    log.push(i);
                }
                VerdictEvent::Outcome { at, outcome: o } => {
                    outcome = Some((*at, *o));
                    log.push(i);
                }
                VerdictEvent::Breach { .. }
                | VerdictEvent::Trigger { .. }
                | VerdictEvent::FollowUp(_) => log.push(i),
            }
        }
        Timeline {
            events,
            times,
            ticks,
            stage_ticks,
            log,
            started,
            judged,
            outcome,
            end: last,
        }
    }

    /// How many events happened at or before `clock`.
    pub fn visible(&self, clock: Millis) -> usize {
        self.times.partition_point(|t| *t <= clock)
    }

    /// Whether event `i` has happened at `clock`.
    pub fn is_visible(&self, i: usize, clock: Millis) -> bool {
        self.times.get(i).is_some_and(|t| *t <= clock)
    }

    /// The stage running (or last run) at `clock`.
    pub fn stage_at(&self, clock: Millis) -> usize {
        self.started
            .iter()
            .enumerate()
            .filter(|(_, s)| s.is_some_and(|at| at <= clock))
            .map(|(i, _)| i)
            .next_back()
            .unwrap_or(0)
    }

    /// A stage's status at `clock`.
    pub fn status(&self, stage: usize, clock: Millis) -> StageStatus {
        if let Some(Some(j)) = self.judged.get(stage)
            && j.at <= clock
        {
            return StageStatus::from_verdict(j.verdict);
        }
        if self
            .started
            .get(stage)
            .is_some_and(|s| s.is_some_and(|at| at <= clock))
        {
            return StageStatus::Running;
        }
        match self.outcome {
            Some((at, _)) if at <= clock => StageStatus::NotRun,
            _ => StageStatus::Pending,
        }
    }

    /// The final verdict of every stage (`not_run` for stages that never ran).
    pub fn final_verdicts(&self) -> Vec<Verdict> {
        self.judged
            .iter()
            .map(|j| j.as_ref().map_or(Verdict::NotRun, |j| j.verdict))
            .collect()
    }

    fn tick_of(&self, ti: usize) -> Option<&TickRecord> {
        match self.events.get(*self.ticks.get(ti)?) {
            Some(VerdictEvent::Tick(t)) => Some(t),
            _ => None,
        }
    }

    /// The tick records of a stage at or before `until`, in order.
    pub fn stage_ticks(&self, stage: usize, until: Millis) -> Vec<&TickRecord> {
        let Some(r) = self.stage_ticks.get(stage) else {
            return Vec::new();
        };
        r.clone()
            .filter_map(|ti| self.tick_of(ti))
            .take_while(|t| t.at <= until)
            .collect()
    }

    /// The last tick record of a stage at or before `until`.
    pub fn last_tick(&self, stage: usize, until: Millis) -> Option<&TickRecord> {
        let r = self.stage_ticks.get(stage)?;
        let times: Vec<Millis> = r
            .clone()
            .filter_map(|ti| self.tick_of(ti).map(|t| t.at))
            .collect();
        let n = times.partition_point(|t| *t <= until);
        if n == 0 {
            return None;
        }
        self.tick_of(r.start + n - 1)
    }

    /// The log events at or before `clock`, newest first.
    pub fn log_visible(&self, clock: Millis) -> Vec<usize> {
        let n = self.log.partition_point(|&i| self.times[i] <= clock);
        self.log[..n].iter().rev().copied().collect()
    }

    /// The instant of the first stage verdict (or the outcome) strictly after `clock`.
    pub fn next_verdict(&self, clock: Millis) -> Option<Millis> {
        self.log
            .iter()
            .filter(|&&i| {
                matches!(
                    self.events[i],
                    VerdictEvent::StageVerdict { .. } | VerdictEvent::Outcome { .. }
                )
            })
            .map(|&i| self.times[i])
            .find(|t| *t > clock)
    }

    /// The instant of the last stage verdict strictly before `clock`.
    pub fn prev_verdict(&self, clock: Millis) -> Option<Millis> {
        self.log
            .iter()
            .filter(|&&i| matches!(self.events[i], VerdictEvent::StageVerdict { .. }))
            .map(|&i| self.times[i])
            .rfind(|t| *t < clock)
    }
}

/// A gate's entry in a tick record.
pub fn gate_tick(t: &TickRecord, g: Gate) -> Option<&GateTick> {
    t.gates.iter().find(|x| x.gate == g)
}

/// Where the session's events come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    Dataset,
    Scenario,
    /// A recorded event log: no raw data, so no tuning.
    Recording,
}

/// Everything the screen replays.
pub struct Session {
    /// What is replayed, e.g. `scenario 5xx-sustained`.
    pub label: String,
    pub origin: Origin,
    pub t0: Millis,
    pub tick_ms: Millis,
    pub stages: Vec<StageInfo>,
    /// The policy the events were computed with (the tuned one after tuning); `None`
    /// for a recording whose policy text does not build.
    pub policy: Option<Policy>,
    /// Per gate: whether its stream (and column) was present; `None` for a recording.
    pub evaluated: Option<Vec<(Gate, bool)>>,
    pub timeline: Timeline,
    /// The live tuner; `None` for a recording.
    pub tuner: Option<Tuner>,
    /// What the funnel panel shows.
    pub funnel: FunnelPanel,
    /// The odds of a false stop the explain panel shows.
    pub odds: OddsData,
}

/// The odds of a false stop (docs/tuning.md), computed once by the application layer
/// when the session loads, with the same call as `rehearse run`, for the policy as
/// loaded (tuning does not recompute them).
#[derive(Clone, Debug, PartialEq)]
pub enum OddsData {
    /// Per stage of the plan; `None` for a stage without canary traffic.
    Stages(Vec<Option<StageOdds>>),
    /// A recorded event log: it holds verdicts, not the requests the odds come from.
    Recording,
}

impl OddsData {
    /// A stage's odds: `Err` with the reason in words when there are none.
    pub fn stage(&self, stage: usize, weight: f64) -> Result<&StageOdds, &'static str> {
        match self {
            OddsData::Recording => {
                Err("unavailable: a recording holds verdicts, not the requests they come from")
            }
            OddsData::Stages(v) => match v.get(stage) {
                Some(Some(o)) => Ok(o),
                _ if weight <= 0.0 => {
                    Err("none: the stage sends no traffic to the canary (weight 0 %)")
                }
                _ => {
                    Err("none: no canary requests in this stage (or no baseline to model them on)")
                }
            },
        }
    }
}

/// The funnel panel's content: the analytics report over the whole dataset, computed
/// once when the session loads (tuning changes request thresholds, not the analytics).
#[derive(Clone, Debug, PartialEq)]
pub enum FunnelPanel {
    /// The dataset has neither a `funnel` nor a `ledger` stream.
    NoData,
    /// A recorded event log: it carries verdicts, not funnel events.
    Recording,
    Summary(FunnelSummary),
    /// The report could not be computed (the message says why).
    Failed(String),
}

/// The figures the funnel panel shows.
#[derive(Clone, Debug, PartialEq)]
pub struct FunnelSummary {
    pub has_funnel: bool,
    pub has_ledger: bool,
    /// Per funnel step: its name, persons reaching it in KPI rollups (exclusion
    /// applied) and excluded persons reaching it.
    pub steps: Vec<(&'static str, u64, u64)>,
    pub persons: PersonCounts,
    /// Tracking gaps: the step (or `missing_revenue`) and its z statistic or event count.
    pub gaps: Vec<String>,
    pub fee_violations: u64,
    /// Unbalanced transactions, duplicate payouts and overdrawn providers.
    pub ledger_findings: u64,
}

impl FunnelPanel {
    /// The panel for the analytics data a replay read, judged with `policy`.
    pub fn of(data: Option<&AnalyticsData>, policy: &Policy, label: &str) -> Self {
        let Some(data) = data else {
            return FunnelPanel::NoData;
        };
        match crate::analytics::analyze(data, &policy.file.analytics, label) {
            Err(e) => FunnelPanel::Failed(e.to_string()),
            Ok(a) => {
                let r = &a.report;
                let excluded: Vec<u64> =
                    r.funnel_excluded.steps.iter().map(|s| s.persons).collect();
                let steps = r
                    .funnel
                    .steps
                    .iter()
                    .enumerate()
                    .map(|(i, s)| (s.name, s.persons, excluded.get(i).copied().unwrap_or(0)))
                    .collect();
                let gaps = r
                    .tracking_gaps
                    .iter()
                    .map(|g| match (g.z, g.events) {
                        (_, Some(n)) => format!("{} ({n})", g.step),
                        (Some(z), None) => format!("{} z={z:.1}", g.step),
                        (None, None) => g.step.to_string(),
                    })
                    .collect();
                let l = &r.ledger;
                FunnelPanel::Summary(FunnelSummary {
                    has_funnel: r.streams.funnel,
                    has_ledger: r.streams.ledger,
                    steps,
                    persons: r.persons.clone(),
                    gaps,
                    fee_violations: r.fee_violations,
                    ledger_findings: l.unbalanced_txns
                        + l.duplicate_payouts
                        + l.overdrawn_providers,
                })
            }
        }
    }
}

impl Session {
    /// A session over a replay of raw data (whose fold should carry the tuning grid),
    /// with the funnel and ledger events when the dataset has them and each stage's
    /// odds of a false stop (`crate::app::odds::of_fold` over the same fold).
    pub fn from_replay(
        label: String,
        origin: Origin,
        policy: Policy,
        run: Run,
        folded: Folded,
        analytics: Option<&AnalyticsData>,
        odds: Vec<Option<StageOdds>>,
    ) -> Self {
        let funnel = FunnelPanel::of(analytics, &policy, &label);
        let stages = stages_of(&run);
        let timeline = Timeline::new(run.events.clone(), stages.len(), run.t0);
        let tuner = Tuner::new(&policy, folded, &run);
        Session {
            label,
            origin,
            t0: run.t0,
            tick_ms: policy.tick_ms,
            stages,
            evaluated: Some(run.evaluated.clone()),
            policy: Some(policy),
            timeline,
            tuner: Some(tuner),
            funnel,
            odds: OddsData::Stages(odds),
        }
    }

    /// A session over a recorded event log.
    pub fn from_recording(label: String, meta: RecordMeta, events: Vec<VerdictEvent>) -> Self {
        let policy = PolicyBuilder::new()
            .complete(&meta.policy_toml, "the recording's policy")
            .and_then(PolicyBuilder::build)
            .ok();
        let stages: Vec<StageInfo> = meta
            .stages
            .iter()
            .map(|s| StageInfo {
                name: s.name.clone(),
                start: s.start,
                end: s.end,
                weight: s.weight,
            })
            .collect();
        let timeline = Timeline::new(events, stages.len(), meta.t0);
        Session {
            label,
            origin: Origin::Recording,
            t0: meta.t0,
            tick_ms: meta.tick_ms.max(1),
            stages,
            policy,
            evaluated: None,
            timeline,
            tuner: None,
            funnel: FunnelPanel::Recording,
            odds: OddsData::Recording,
        }
    }

    /// The end of the last stage.
    pub fn span_end(&self) -> Millis {
        self.stages.last().map_or(self.t0, |s| s.end)
    }

    /// Consecutive ticks a sustained trigger needs, when the policy is known.
    pub fn sustain_ticks(&self) -> Option<usize> {
        self.policy.as_ref().map(|p| p.sustain_ticks)
    }

    /// Whether a gate was evaluated: from the run when known, else from the tick
    /// records (a gate of a stream with any evaluated tick gate), else unknown.
    pub fn gate_evaluated(&self, g: Gate) -> Option<bool> {
        if let Some(ev) = &self.evaluated {
            return ev.iter().find(|(x, _)| *x == g).map(|(_, e)| *e);
        }
        let stream = g.stream();
        let mut seen = false;
        for e in &self.timeline.events {
            if let VerdictEvent::Tick(t) = e {
                for gt in t.gates.iter().filter(|gt| gt.gate.stream() == stream) {
                    seen = true;
                    if gt.state != GateState::NotEvaluated {
                        return Some(true);
                    }
                }
                if seen {
                    return Some(false);
                }
            }
        }
        None
    }
}

/// The stage plan of a run.
pub fn stages_of(run: &Run) -> Vec<StageInfo> {
    run.stages
        .iter()
        .map(|s| StageInfo {
            name: s.name.clone(),
            start: s.start,
            end: s.end,
            weight: s.weight,
        })
        .collect()
}
