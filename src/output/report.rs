//! The run report: the JSON document of the contract's section 7 (and more), and the
//! human summary, both built from a [`Run`] and what was read.

use serde::Serialize;

use crate::engine::Run;
use crate::engine::odds::{Odds, StageOdds};
use crate::input::Millis;
use crate::input::StreamInput;
use crate::policy::Policy;
use crate::time::{format_clock, format_rfc3339};
use crate::verdict::{Evidence, Gate, Outcome, Verdict};

#[derive(Serialize)]
pub struct Report {
    pub outcome: &'static str,
    pub rollback: Option<RollbackJson>,
    pub stages: Vec<StageJson>,
    pub t0: String,
    pub end: String,
    pub gates: Vec<GateJson>,
    pub follow_ups: Vec<FollowUpJson>,
    pub inputs: Vec<InputJson>,
    pub skipped_rows: u64,
    pub rehearse: Meta,
}

#[derive(Serialize)]
pub struct Meta {
    pub version: &'static str,
    pub report_format: u32,
    pub dataset: String,
}

#[derive(Serialize)]
pub struct RollbackJson {
    pub at: String,
    pub stage: String,
    pub triggers: Vec<&'static str>,
}

#[derive(Serialize)]
pub struct StageJson {
    pub name: String,
    pub verdict: &'static str,
    pub start: String,
    pub end: String,
    pub reasons: Vec<&'static str>,
    pub weight: f64,
    pub judged_at: Option<String>,
    pub evidence: Vec<EvidenceJson>,
    pub canary_requests: u64,
    pub real_requests: u64,
    pub ticks: u32,
    pub no_data_ticks: u32,
    /// The odds of a false stop on noise (`null` without canary traffic, or where the
    /// report was built without them).
    pub odds: Option<StageOddsJson>,
}

/// A probability and its 95 % interval.
#[derive(Serialize)]
pub struct OddsJson {
    pub p: f64,
    pub low: f64,
    pub high: f64,
}

impl From<Odds> for OddsJson {
    fn from(o: Odds) -> Self {
        OddsJson {
            p: o.p,
            low: o.low,
            high: o.high,
        }
    }
}

/// A stage's odds of a false hold and a false rollback, per gate and combined.
#[derive(Serialize)]
pub struct StageOddsJson {
    /// `exact` or `monte_carlo` (when any gate's chain was sampled).
    pub method: &'static str,
    pub false_hold: OddsJson,
    pub false_rollback: OddsJson,
    pub gates: Vec<GateOddsJson>,
}

#[derive(Serialize)]
pub struct GateOddsJson {
    pub gate: &'static str,
    pub baseline_rate: f64,
    pub false_hold: Option<OddsJson>,
    pub false_rollback: Option<OddsJson>,
    pub method: &'static str,
    /// The least canary requests per window keeping both below 1 %.
    pub min_window_requests: Option<u64>,
}

impl From<&StageOdds> for StageOddsJson {
    fn from(o: &StageOdds) -> Self {
        StageOddsJson {
            method: o.method.as_str(),
            false_hold: o.hold.into(),
            false_rollback: o.rollback.into(),
            gates: o
                .gates
                .iter()
                .map(|g| GateOddsJson {
                    gate: g.gate.as_str(),
                    baseline_rate: g.baseline_rate,
                    false_hold: g.hold.map(Into::into),
                    false_rollback: g.rollback.map(Into::into),
                    method: g.method.as_str(),
                    min_window_requests: g.min_window_requests,
                })
                .collect(),
        }
    }
}

/// Fills every stage's odds into a report.
pub fn set_odds(report: &mut Report, odds: &[Option<StageOdds>]) {
    for (s, o) in report.stages.iter_mut().zip(odds) {
        s.odds = o.as_ref().map(Into::into);
    }
}

fn pct(p: f64) -> String {
    if p > 0.0 && p < 0.0001 {
        "<0.01%".into()
    } else {
        format!("{:.2}%", p * 100.0)
    }
}

/// The human summary's odds lines: one per stage with canary traffic.
pub fn odds_lines(policy: &Policy, odds: &[Option<StageOdds>]) -> String {
    let mut out = String::new();
    if odds.iter().all(Option::is_none) {
        return out;
    }
    out.push_str(
        "odds of a false stop (a canary behaving like the baseline, at each stage's traffic):\n",
    );
    let width = policy
        .stages
        .iter()
        .map(|s| s.name.len())
        .max()
        .unwrap_or(0);
    for (s, o) in policy.stages.iter().zip(odds) {
        let Some(o) = o else { continue };
        let worst = o
            .gates
            .iter()
            .filter_map(|g| g.min_window_requests.map(|n| (g.gate, n)))
            .max_by_key(|(_, n)| *n);
        out.push_str(&format!(
            "  {:width$}  hold {} [{}, {}]  rollback {} [{}, {}]  ({}){}\n",
            s.name,
            pct(o.hold.p),
            pct(o.hold.low),
            pct(o.hold.high),
            pct(o.rollback.p),
            pct(o.rollback.low),
            pct(o.rollback.high),
            o.method.as_str().replace('_', " "),
            worst.map_or(String::new(), |(g, n)| format!(
                "; below 1 % from {n} canary requests per window ({})",
                g.as_str()
            ))
        ));
    }
    out
}

#[derive(Serialize)]
pub struct EvidenceJson {
    pub gate: &'static str,
    pub value: Option<f64>,
    pub op: String,
    pub threshold: Option<f64>,
    pub since: Option<String>,
    pub ticks: u32,
    pub detail: String,
}

#[derive(Serialize)]
pub struct GateJson {
    pub id: &'static str,
    pub stream: &'static str,
    pub go: bool,
    pub trigger: bool,
    /// `not_evaluated`, `ok`, `breached` (a Go gate held a stage or breached at a tick), `fired`.
    pub status: &'static str,
    /// Ticks (or stage checks) at which the gate breached, over the stages that ran.
    pub breaches: u32,
}

#[derive(Serialize)]
pub struct FollowUpJson {
    pub kind: String,
    pub stage: String,
    pub at: String,
    pub detail: String,
}

#[derive(Serialize)]
pub struct InputJson {
    pub stream: &'static str,
    pub file: String,
    pub rows: u64,
    pub skipped: u64,
    pub first_skip: Option<String>,
    pub outside_rollout: u64,
}

fn evidence_json(e: &Evidence) -> EvidenceJson {
    EvidenceJson {
        gate: e.gate.as_str(),
        value: e.value,
        op: e.op.clone(),
        threshold: e.threshold,
        since: e.since.map(format_rfc3339),
        ticks: e.ticks,
        detail: e.detail.clone(),
    }
}

/// Builds the report of a run.
pub fn build(run: &Run, inputs: &[StreamInput], dataset: &str) -> Report {
    let fired: Vec<Gate> = run
        .rollback
        .as_ref()
        .map(|(_, _, g)| g.clone())
        .unwrap_or_default();
    let held: Vec<Gate> = run
        .stages
        .iter()
        .filter(|s| s.verdict == Verdict::Hold)
        .flat_map(|s| s.reasons.clone())
        .collect();
    let gates = run
        .evaluated
        .iter()
        .zip(&run.gate_hits)
        .map(|(&(g, evaluated), &(_, hits))| GateJson {
            id: g.as_str(),
            stream: g.stream().as_str(),
            go: g.is_go(),
            trigger: g.is_trigger(),
            status: if !evaluated {
                "not_evaluated"
            } else if fired.contains(&g) {
                "fired"
            } else if held.contains(&g) || hits > 0 {
                "breached"
            } else {
                "ok"
            },
            breaches: hits,
        })
        .collect();
    Report {
        outcome: run.outcome.as_str(),
        rollback: run.rollback.as_ref().map(|(at, si, g)| RollbackJson {
            at: format_rfc3339(*at),
            stage: run.stages[*si].name.clone(),
            triggers: g.iter().map(|g| g.as_str()).collect(),
        }),
        stages: run
            .stages
            .iter()
            .map(|s| StageJson {
                name: s.name.clone(),
                verdict: s.verdict.as_str(),
                start: format_rfc3339(s.start),
                end: format_rfc3339(s.end),
                reasons: s.reasons.iter().map(|g| g.as_str()).collect(),
                weight: s.weight,
                judged_at: s.judged_at.map(format_rfc3339),
                evidence: s.evidence.iter().map(evidence_json).collect(),
                canary_requests: s.canary_requests,
                real_requests: s.real_requests,
                ticks: s.ticks,
                no_data_ticks: s.no_data_ticks,
                odds: None,
            })
            .collect(),
        t0: format_rfc3339(run.t0),
        end: format_rfc3339(run.end),
        gates,
        follow_ups: run
            .follow_ups
            .iter()
            .map(|f| FollowUpJson {
                kind: f.kind.clone(),
                stage: f.stage.clone(),
                at: format_rfc3339(f.at),
                detail: f.detail.clone(),
            })
            .collect(),
        inputs: inputs
            .iter()
            .map(|i| InputJson {
                stream: i.stream.as_str(),
                file: i.file.clone(),
                rows: i.stats.rows,
                skipped: i.stats.skipped,
                first_skip: i.stats.first_skip.clone(),
                outside_rollout: i.outside,
            })
            .collect(),
        skipped_rows: inputs.iter().map(|i| i.stats.skipped).sum(),
        rehearse: Meta {
            version: env!("CARGO_PKG_VERSION"),
            report_format: 1,
            dataset: dataset.to_string(),
        },
    }
}

/// The JSON report, pretty-printed, with a final newline.
pub fn to_json(report: &Report) -> String {
    let mut s =
        serde_json::to_string_pretty(report).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    s.push('\n');
    s
}

/// One evidence item in words: `error_rate_5xx 2.90% >= 0.50% for 11 ticks since 12:04`.
pub fn describe(e: &Evidence, rollback: bool) -> String {
    let mut s = e.gate.as_str().to_string();
    if let Some(v) = e.value {
        s.push_str(&format!(" {}", e.gate.def().unit.report(v)));
    }
    if let Some(t) = e.threshold
        && e.gate.def().shows_threshold
    {
        s.push_str(&format!(
            " {} {}",
            e.op,
            e.gate.def().unit.report_threshold(t)
        ));
    }
    if rollback {
        if e.ticks > 0 {
            s.push_str(&format!(" for {} ticks", e.ticks));
        }
        if let Some(since) = e.since {
            s.push_str(&format!(" since {}", format_clock(since)));
        }
    } else if let Some(since) = e.since {
        s.push_str(&format!(
            " at {} tick{}, first {}",
            e.ticks,
            if e.ticks == 1 { "" } else { "s" },
            format_clock(since)
        ));
    }
    if !e.detail.is_empty() {
        s.push_str(&format!(" ({})", e.detail));
    }
    s
}

/// The human summary: one line per stage, then the outcome, follow-ups and inputs.
pub fn human(run: &Run, inputs: &[StreamInput], policy: &Policy, dataset: &str) -> String {
    let mut out = String::new();
    let rows: Vec<String> = inputs
        .iter()
        .map(|i| format!("{} {} rows", i.file, i.stats.rows))
        .collect();
    out.push_str(&format!("rehearse run {dataset} ({})\n", rows.join(", ")));
    out.push_str(&format!(
        "T0 {}   {}\n\n",
        format_rfc3339(run.t0),
        crate::policy::describe_stages(policy)
    ));
    let width = run.stages.iter().map(|s| s.name.len()).max().unwrap_or(0);
    for s in &run.stages {
        let verdict = match s.verdict {
            Verdict::Go => "GO",
            Verdict::Hold => "HOLD",
            Verdict::Rollback => "ROLLBACK",
            Verdict::NotRun => "NOT RUN",
        };
        match s.verdict {
            Verdict::Go => out.push_str(&format!(
                "{:width$}  {verdict:<8}  {} -> {}  {} canary requests\n",
                s.name,
                format_clock(s.start),
                format_clock(s.end),
                s.canary_requests
            )),
            Verdict::NotRun => out.push_str(&format!("{:width$}  {verdict}\n", s.name)),
            Verdict::Hold | Verdict::Rollback => {
                let at = s.judged_at.map(format_clock).unwrap_or_default();
                let mut first = true;
                for e in &s.evidence {
                    let lead = if first {
                        format!("{:width$}  {verdict:<8} at {at}  ", s.name)
                    } else {
                        format!("{:width$}  {:<8}    {:w2$}  ", "", "", "", w2 = at.len())
                    };
                    first = false;
                    out.push_str(&lead);
                    out.push_str(&describe(e, s.verdict == Verdict::Rollback));
                    out.push('\n');
                }
            }
        }
    }
    out.push('\n');
    match (run.outcome, &run.rollback) {
        (Outcome::Rollback, Some((at, si, g))) => {
            let names: Vec<&str> = g.iter().map(|g| g.as_str()).collect();
            out.push_str(&format!(
                "outcome: ROLLBACK at {} in {} ({})\n",
                format_rfc3339(*at),
                run.stages[*si].name,
                names.join(", ")
            ));
        }
        (Outcome::Hold, _) => {
            let s = run.stages.iter().find(|s| s.verdict == Verdict::Hold);
            out.push_str(&format!(
                "outcome: HOLD at {}\n",
                s.map(|s| s.name.as_str()).unwrap_or("?")
            ));
        }
        _ => out.push_str("outcome: COMPLETE (every stage go)\n"),
    }
    if !run.follow_ups.is_empty() {
        out.push_str("follow-ups:\n");
        for f in &run.follow_ups {
            out.push_str(&format!(
                "  {:<20} {:<10} {}  {}\n",
                f.kind,
                f.stage,
                format_clock(f.at),
                f.detail
            ));
        }
    }
    let not_eval: Vec<&str> = run
        .evaluated
        .iter()
        .filter(|(_, e)| !e)
        .map(|(g, _)| g.as_str())
        .collect();
    if !not_eval.is_empty() {
        out.push_str(&format!(
            "not evaluated (stream or column absent): {}\n",
            not_eval.join(", ")
        ));
    }
    for i in inputs {
        if i.stats.skipped > 0 {
            out.push_str(&format!(
                "skipped {} bad rows in {} (first: {})\n",
                i.stats.skipped,
                i.file,
                i.stats.first_skip.clone().unwrap_or_default()
            ));
        }
        if i.outside > 0 {
            out.push_str(&format!(
                "{}: {} rows outside the rollout window (no gate reads them)\n",
                i.file, i.outside
            ));
        }
    }
    out
}

/// Milliseconds to the report's time format (re-exported for callers).
pub fn ts(ms: Millis) -> String {
    format_rfc3339(ms)
}
