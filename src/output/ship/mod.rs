//! The ship-room pack of `rehearse report`: what the room running a rollout would see,
//! built from a run's verdict events (a fresh replay or a recording) and nothing else.
//! [`ShipRoom`] gathers, per stage, each Go gate's and trigger's state over the stage
//! (worst value against its threshold, breach ticks, the evidence of a breach or a
//! firing), the follow-ups and the outcome; [`markdown`] writes the pinned go/no-go
//! checklist, [`updates`] the Slack Block Kit status updates (one per stage transition,
//! a P0 on rollback, the outcome, and the board note after a complete rollout with 2 h
//! stable), [`html`] the self-contained dashboard. Every free-text detail passes through
//! the caller's redaction (the PII detectors) before it is kept here.

pub mod html;
pub mod markdown;
pub mod post;
pub mod updates;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::gate::{Gate, Judged};
use crate::input::Millis;
use crate::output::record::RecordMeta;
use crate::verdict::{
    Evidence, FollowUp, GateState, GateTick, Outcome, TickRecord, Verdict, VerdictEvent,
};

/// A gate's state over one stage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RowState {
    /// Judged and never breached.
    Ok,
    /// A Go gate breached (the stage holds unless a trigger fired).
    Breach,
    /// A trigger fired (the stage rolled back).
    Fired,
    /// Judged, but no tick had enough data.
    NoData,
    /// Its stream or column is absent.
    NotEvaluated,
    /// A stage-end gate of a stage that rolled back before its end: never judged.
    NotJudged,
    /// A stage-end gate of a recording: no breach was recorded (a recording does not say
    /// whether its data was there).
    NoBreachRecorded,
}

impl RowState {
    pub fn as_str(self) -> &'static str {
        match self {
            RowState::Ok => "ok",
            RowState::Breach => "breach",
            RowState::Fired => "fired",
            RowState::NoData => "no data",
            RowState::NotEvaluated => "not evaluated",
            RowState::NotJudged => "not judged (rolled back before the stage's end)",
            RowState::NoBreachRecorded => "no breach recorded",
        }
    }

    /// Whether the checklist ticks its box.
    pub fn passed(self) -> bool {
        matches!(self, RowState::Ok | RowState::NoBreachRecorded)
    }
}

/// One Go gate or trigger over one stage.
#[derive(Clone, Debug)]
pub struct GateRow {
    pub gate: Gate,
    pub state: RowState,
    /// The worst displayed value over the stage's ticks, with the threshold at that tick.
    pub worst: Option<(f64, Option<f64>)>,
    /// Ticks of the stage that carried the gate, and those that breached.
    pub ticks: u32,
    pub breach_ticks: u32,
    /// The breach or firing evidence, in words (redacted).
    pub evidence: Vec<String>,
}

/// One stage of the rollout.
#[derive(Clone, Debug)]
pub struct StageRoom {
    pub name: String,
    pub weight: f64,
    pub start: Millis,
    pub end: Millis,
    pub verdict: Verdict,
    pub judged_at: Option<Millis>,
    pub reasons: Vec<Gate>,
    pub rows: Vec<GateRow>,
}

/// The early funnel of the full stage for the board note (from the analytics report).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FunnelNote {
    /// Persons (after exclusion) who visited, and who bought credits.
    pub visitors: u64,
    pub paying: u64,
}

/// The dashboard's funnel, fees and ledger section: what it shows of the analytics
/// report over the dataset, and no more. A recording carries it as JSON (metadata
/// `rehearse.dashboard_funnel`), so its shape is part of the recording format.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DashFunnel {
    /// Persons: every one, kept in KPI rollups, synthetic, canary-only.
    pub persons: [u64; 4],
    /// Per funnel step: name, persons kept, conversion from the previous step, persons
    /// excluded.
    pub steps: Vec<(String, u64, Option<f64>, u64)>,
    /// Per platform (kept persons) and per cohort (every person): step names, then per
    /// group its value (`None` for none) and persons at each step.
    pub by_platform: DashGroups,
    pub by_cohort: DashGroups,
    /// Tracking gaps: step, z score, purchases without revenue or currency.
    pub tracking_gaps: Vec<(String, Option<f64>, Option<u64>)>,
    /// Bookings, fee violations, unbalanced transactions, duplicate payouts, overdrawn
    /// providers.
    pub ledger: [u64; 5],
    /// Gross, fees captured and paid out, minor units per currency.
    pub money: [BTreeMap<String, i64>; 3],
}

/// One grouping of the funnel (platform or cohort).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DashGroups {
    pub steps: Vec<String>,
    pub groups: Vec<(Option<String>, Vec<u64>)>,
}

impl DashFunnel {
    /// The dashboard's part of an analytics report.
    pub fn of(r: &crate::analytics::AnalyticsReport) -> Self {
        let groups = |gs: &[crate::analytics::rollup::GroupFunnel]| DashGroups {
            steps: gs
                .first()
                .map(|g| g.steps.iter().map(|s| s.name.to_string()).collect())
                .unwrap_or_default(),
            groups: gs
                .iter()
                .map(|g| (g.value.clone(), g.steps.iter().map(|s| s.persons).collect()))
                .collect(),
        };
        let l = &r.ledger;
        DashFunnel {
            persons: [
                r.persons.total,
                r.persons.included,
                r.persons.synthetic,
                r.persons.canary_only,
            ],
            steps: r
                .funnel
                .steps
                .iter()
                .enumerate()
                .map(|(i, s)| {
                    let excluded = r.funnel_excluded.steps.get(i).map_or(0, |x| x.persons);
                    (
                        s.name.to_string(),
                        s.persons,
                        s.conversion_from_previous,
                        excluded,
                    )
                })
                .collect(),
            by_platform: groups(&r.funnel.by_platform),
            by_cohort: groups(&r.funnel_without_exclusion.by_cohort),
            tracking_gaps: r
                .tracking_gaps
                .iter()
                .map(|g| (g.step.to_string(), g.z, g.events))
                .collect(),
            ledger: [
                l.bookings,
                l.fee_violations,
                l.unbalanced_txns,
                l.duplicate_payouts,
                l.overdrawn_providers,
            ],
            money: [
                l.gross_minor.clone(),
                l.fees_minor.clone(),
                l.paid_out_minor.clone(),
            ],
        }
    }
}

/// Everything the pack is made of.
#[derive(Clone, Debug)]
pub struct ShipRoom {
    pub dataset: String,
    pub t0: Millis,
    pub tick_ms: Millis,
    pub end: Millis,
    pub outcome: Outcome,
    /// Rollback instant, stage index and triggers.
    pub rollback: Option<(Millis, usize, Vec<Gate>)>,
    pub stages: Vec<StageRoom>,
    pub follow_ups: Vec<FollowUp>,
    /// Per-tick records (for the dashboard), in time order.
    pub ticks: Vec<TickRecord>,
    /// Breach and trigger events: stage, instant, evidence (redacted).
    pub marks: Vec<(usize, Millis, bool, Evidence)>,
    pub funnel: Option<FunnelNote>,
    /// The dashboard's funnel, fees and ledger section, when the dataset has funnel or
    /// ledger data.
    pub analytics: Option<DashFunnel>,
    /// The canary p50 latency (ms) per tick record, when the pack comes from a replay
    /// (the verdict events carry the p95 and p99 only).
    pub p50: Option<Vec<Option<f64>>>,
    /// Probes passed and failed per tick record, when the pack comes from a replay of a
    /// dataset with probes.
    pub probes: Option<Vec<(u32, u32)>>,
    /// WAF blocks and rate-limited requests in each tick record's interval, when the
    /// pack comes from a replay of a dataset with a security stream (no gate judges
    /// rate-limited requests, so the verdict events do not carry them).
    pub security: Option<Vec<[u64; 2]>>,
    /// The stage availability limit (`go.availability` of the run's policy).
    pub availability_go: Option<f64>,
}

/// Whether a gate is part of the run: listed in `evaluated` when known; else, for the
/// canary judge (off unless the policy enables it), listed by a tick record.
fn in_run(g: Gate, evaluated: Option<&[(Gate, bool)]>, ticks: &[TickRecord]) -> bool {
    match evaluated {
        Some(e) => e.iter().any(|(x, _)| *x == g),
        None => {
            g != Gate::CanaryJudge || ticks.iter().any(|t| t.gates.iter().any(|gt| gt.gate == g))
        }
    }
}

/// Builds the pack from a run's events. `evaluated` lists the gates whose data was
/// there (a replay knows it; a recording passes `None`); `redact` cleans every free-text
/// detail.
pub fn build(
    meta: &RecordMeta,
    events: &[VerdictEvent],
    evaluated: Option<&[(Gate, bool)]>,
    redact: &dyn Fn(&str) -> String,
) -> ShipRoom {
    let mut stages: Vec<StageRoom> = meta
        .stages
        .iter()
        .map(|s| StageRoom {
            name: s.name.clone(),
            weight: s.weight,
            start: s.start,
            end: s.end,
            verdict: Verdict::NotRun,
            judged_at: None,
            reasons: Vec::new(),
            rows: Vec::new(),
        })
        .collect();
    let mut ticks = Vec::new();
    let mut marks = Vec::new();
    let mut follow_ups = Vec::new();
    let mut outcome = Outcome::Complete;
    let mut end = meta.stages.last().map_or(meta.t0, |s| s.end);
    let clean = |e: &Evidence| Evidence {
        detail: redact(&e.detail),
        ..e.clone()
    };
    for ev in events {
        match ev {
            VerdictEvent::Tick(t) => ticks.push(t.clone()),
            VerdictEvent::Breach {
                stage,
                at,
                evidence,
            } => marks.push((*stage, *at, false, clean(evidence))),
            VerdictEvent::Trigger {
                stage,
                at,
                evidence,
            } => marks.push((*stage, *at, true, clean(evidence))),
            VerdictEvent::FollowUp(f) => follow_ups.push(FollowUp {
                detail: redact(&f.detail),
                ..f.clone()
            }),
            VerdictEvent::StageVerdict {
                stage,
                at,
                verdict,
                reasons,
            } => {
                if let Some(s) = stages.get_mut(*stage) {
                    s.verdict = *verdict;
                    s.judged_at = Some(*at);
                    s.reasons = reasons.clone();
                }
            }
            VerdictEvent::Outcome { at, outcome: o } => {
                outcome = *o;
                end = *at;
            }
            VerdictEvent::StageStarted { .. } => {}
        }
    }
    let rollback = stages
        .iter()
        .position(|s| s.verdict == Verdict::Rollback)
        .map(|si| {
            let at = stages[si].judged_at.unwrap_or(end);
            let fired: Vec<Gate> = marks
                .iter()
                .filter(|m| m.0 == si && m.2)
                .map(|m| m.3.gate)
                .collect();
            (at, si, fired)
        });
    for (si, s) in stages.iter_mut().enumerate() {
        if s.verdict == Verdict::NotRun {
            continue;
        }
        let stage_ticks: Vec<&TickRecord> = ticks.iter().filter(|t| t.stage == si).collect();
        s.rows = Gate::ALL
            .iter()
            .filter(|g| g.is_go() || g.is_trigger())
            .filter(|&&g| in_run(g, evaluated, &ticks))
            .map(|&g| {
                let mut r = row(g, si, &stage_ticks, &marks, evaluated);
                if s.verdict == Verdict::Rollback
                    && g.def().judged == Judged::StageEnd
                    && matches!(r.state, RowState::Ok | RowState::NoBreachRecorded)
                {
                    r.state = RowState::NotJudged;
                }
                r
            })
            .collect();
    }
    ShipRoom {
        dataset: meta.dataset.clone(),
        t0: meta.t0,
        tick_ms: meta.tick_ms,
        end,
        outcome,
        rollback,
        stages,
        follow_ups,
        ticks,
        marks,
        funnel: None,
        analytics: None,
        p50: None,
        probes: None,
        security: None,
        availability_go: toml::from_str::<toml::Table>(&meta.policy_toml)
            .ok()
            .and_then(|t| t.get("go")?.get("availability")?.as_float()),
    }
}

/// Whether a higher value is worse for the gate (its breach comparison is `>`/`>=`).
pub fn higher_is_worse(g: Gate) -> bool {
    g.def().op.starts_with('>')
}

fn row(
    g: Gate,
    si: usize,
    ticks: &[&TickRecord],
    marks: &[(usize, Millis, bool, Evidence)],
    evaluated: Option<&[(Gate, bool)]>,
) -> GateRow {
    let gt: Vec<&GateTick> = ticks
        .iter()
        .filter_map(|t| t.gates.iter().find(|x| x.gate == g))
        .collect();
    let mut worst: Option<(f64, Option<f64>)> = None;
    for t in &gt {
        if let Some(v) = t.value.filter(|v| v.is_finite()) {
            let better = match worst {
                None => true,
                Some((w, _)) => {
                    if higher_is_worse(g) {
                        v > w
                    } else {
                        v < w
                    }
                }
            };
            if better {
                worst = Some((v, t.threshold));
            }
        }
    }
    let breach_ticks = gt.iter().filter(|t| t.state == GateState::Breach).count() as u32;
    let mine: Vec<&(usize, Millis, bool, Evidence)> = marks
        .iter()
        .filter(|m| m.0 == si && m.3.gate == g)
        .collect();
    let evidence: Vec<String> = mine
        .iter()
        .map(|m| crate::output::report::describe(&m.3, m.2))
        .collect();
    let fired = mine.iter().any(|m| m.2);
    let breached = mine.iter().any(|m| !m.2) || breach_ticks > 0;
    let known = evaluated.and_then(|e| e.iter().find(|(x, _)| *x == g).map(|(_, ok)| *ok));
    let state = if fired {
        RowState::Fired
    } else if breached {
        RowState::Breach
    } else if known == Some(false)
        || (!gt.is_empty() && gt.iter().all(|t| t.state == GateState::NotEvaluated))
    {
        RowState::NotEvaluated
    } else if !gt.is_empty() && gt.iter().all(|t| t.state == GateState::NoData) {
        RowState::NoData
    } else if gt.is_empty() && known.is_none() && g.def().judged != Judged::Tick {
        RowState::NoBreachRecorded
    } else {
        RowState::Ok
    };
    GateRow {
        gate: g,
        state,
        worst,
        ticks: gt.len() as u32,
        breach_ticks,
        evidence,
    }
}

/// The summary of a gate row's measurements, e.g. `worst 0.12% (limit 0.50%) over 120 ticks`.
pub fn measured(r: &GateRow) -> String {
    let unit = r.gate.def().unit;
    let mut s = String::new();
    if let Some((v, t)) = r.worst {
        s.push_str(&format!("worst {}", unit.report(v)));
        if let Some(t) = t.filter(|_| r.gate.def().shows_threshold) {
            s.push_str(&format!(
                " (breaches {} {})",
                r.gate.def().op,
                unit.report_threshold(t)
            ));
        }
    }
    if r.ticks > 0 {
        if !s.is_empty() {
            s.push(' ');
        }
        s.push_str(&format!("over {} ticks", r.ticks));
        if r.breach_ticks > 0 {
            s.push_str(&format!(", {} breached", r.breach_ticks));
        }
    } else if r.gate.def().judged == Judged::StageEnd && r.state != RowState::NotJudged {
        if !s.is_empty() {
            s.push(' ');
        }
        s.push_str("judged at the stage's end");
    }
    s
}

/// A gate's role: `go`, `trigger` or `go + trigger`.
pub fn role(g: Gate) -> &'static str {
    match (g.is_go(), g.is_trigger()) {
        (true, true) => "go + trigger",
        (true, false) => "go",
        _ => "trigger",
    }
}

/// The outcome in words, e.g. `ROLLBACK at 12:56 in ramp-25 (error_rate_5xx)`.
pub fn outcome_words(room: &ShipRoom) -> String {
    match (room.outcome, &room.rollback) {
        (Outcome::Rollback, Some((at, si, g))) => {
            let names: Vec<&str> = g.iter().map(|g| g.as_str()).collect();
            format!(
                "ROLLBACK at {} in {} ({})",
                crate::time::format_rfc3339(*at),
                room.stages[*si].name,
                names.join(", ")
            )
        }
        (Outcome::Hold, _) => {
            let s = room.stages.iter().find(|s| s.verdict == Verdict::Hold);
            let reasons: Vec<&str> = s
                .map(|s| s.reasons.iter().map(|g| g.as_str()).collect())
                .unwrap_or_default();
            format!(
                "HOLD at {} ({})",
                s.map_or("?", |s| s.name.as_str()),
                reasons.join(", ")
            )
        }
        _ => "COMPLETE: every stage went".to_string(),
    }
}

/// A weight as a percentage of traffic, e.g. `5 %`.
pub fn pct(weight: f64) -> String {
    let p = weight * 100.0;
    if (p - p.round()).abs() < 1e-9 {
        format!("{p:.0} %")
    } else {
        format!("{p} %")
    }
}
