//! Explanations: for a stage verdict, a breach, a trigger, a follow-up or a gate, the
//! ticks, values and thresholds behind it, as plain lines the view lays out in an
//! overlay. Built from the verdict events and their tick records only, so a recording
//! explains exactly like a live replay; a stage verdict, a breach, a trigger and a gate
//! end with the odds of a false stop the session loaded with (a recording says they
//! are unavailable).

use crate::engine::odds::{GateOdds, Odds, StageOdds};
use crate::input::Millis;
use crate::output::report::describe;
use crate::time::format_clock;
use crate::verdict::{Evidence, Gate, GateState, TickRecord, Verdict, VerdictEvent};

use super::data::{Session, gate_tick};
use super::fmt;
use super::model::{Model, Subject};
use super::tune::words;

/// How a line of an explanation reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A section heading.
    Heading,
    Text,
    /// A table's column names.
    Head,
    Row,
    /// A row where the gate breached or the trigger condition held.
    Hot,
}

/// An explanation: a title and its lines.
#[derive(Clone, Debug, PartialEq)]
pub struct Doc {
    pub title: String,
    pub lines: Vec<(Kind, String)>,
}

impl Doc {
    fn new(title: String) -> Self {
        Doc {
            title,
            lines: Vec::new(),
        }
    }
    fn push(&mut self, k: Kind, s: impl Into<String>) {
        self.lines.push((k, s.into()));
    }
}

fn stage_name(s: &Session, i: usize) -> String {
    s.stages
        .get(i)
        .map_or_else(|| format!("stage {i}"), |x| x.name.clone())
}

/// The explanation of a subject at the model's clock.
pub fn explain(m: &Model, subject: Subject) -> Doc {
    match subject {
        Subject::Gate(g) => explain_gate(m, g),
        Subject::Event(i) => match m.session.timeline.events.get(i) {
            Some(e) => explain_event(m, e),
            None => Doc::new("nothing selected".into()),
        },
    }
}

fn sustain_text(s: &Session) -> String {
    match s.sustain_ticks() {
        Some(n) => format!("{n} consecutive ticks"),
        None => "the sustain span".into(),
    }
}

/// Rows of a trigger's ticks: value against the trigger threshold, condition, sustain.
fn trigger_rows(doc: &mut Doc, s: &Session, g: Gate, ticks: &[&TickRecord]) {
    let n = s.sustain_ticks();
    doc.push(
        Kind::Head,
        format!(
            "  {:>3}  {:>5}  {:>9}  {:>9}  {:<10}  sustain",
            "k", "time", "value", "trigger", "condition"
        ),
    );
    for t in ticks {
        let Some(gt) = gate_tick(t, g) else { continue };
        let thr = fmt::trigger_threshold(s.policy.as_ref(), g, gt.threshold);
        let cond = match gt.state {
            GateState::NoData => "? no data",
            GateState::NotEvaluated => "- not eval",
            _ if gt.trigger => "✗ held",
            _ => "✓ not met",
        };
        let sus = match n {
            Some(n) => format!("{}/{n}", gt.sustain),
            None => gt.sustain.to_string(),
        };
        doc.push(
            if gt.trigger { Kind::Hot } else { Kind::Row },
            format!(
                "  {:>3}  {:>5}  {:>9}  {:>9}  {:<10}  {sus}",
                t.k,
                format_clock(t.at),
                fmt::value(g, gt.value),
                format!("{} {}", fmt::op(g), fmt::threshold(g, thr)),
                cond
            ),
        );
    }
}

/// Rows of a Go gate's ticks: value against the Go limit and the state.
fn go_rows(doc: &mut Doc, g: Gate, ticks: &[&TickRecord]) {
    doc.push(
        Kind::Head,
        format!(
            "  {:>3}  {:>5}  {:>9}  {:>10}  {:<10}  sustain",
            "k", "time", "value", "go limit", "state"
        ),
    );
    for t in ticks {
        let Some(gt) = gate_tick(t, g) else { continue };
        doc.push(
            if gt.state == GateState::Breach {
                Kind::Hot
            } else {
                Kind::Row
            },
            format!(
                "  {:>3}  {:>5}  {:>9}  {:>10}  {:<10}  {}",
                t.k,
                format_clock(t.at),
                fmt::value(g, gt.value),
                format!("{} {}", fmt::op(g), fmt::threshold(g, gt.threshold)),
                fmt::state(gt.state),
                if fmt::has_sustain(g) {
                    gt.sustain.to_string()
                } else {
                    String::new()
                }
            ),
        );
    }
}

/// The ticks of `stage` in `(from, to]`.
fn ticks_between(s: &Session, stage: usize, from: Millis, to: Millis) -> Vec<&TickRecord> {
    s.timeline
        .stage_ticks(stage, to)
        .into_iter()
        .filter(|t| t.at > from)
        .collect()
}

/// The trigger behind a rollback: the sustain run and a few ticks before it.
fn trigger_section(doc: &mut Doc, s: &Session, stage: usize, at: Millis, e: &Evidence) {
    doc.push(Kind::Text, describe(e, true));
    if e.gate == Gate::ProbeFailures {
        doc.push(
            Kind::Text,
            "fires at the probe that makes a target's failures consecutive enough; probes are not tick-based",
        );
        return;
    }
    doc.push(
        Kind::Text,
        format!(
            "fires when its condition holds at {} with data, all in one stage",
            sustain_text(s)
        ),
    );
    let since = e.since.unwrap_or(at);
    let from = since - 3 * s.tick_ms;
    trigger_rows(doc, s, e.gate, &ticks_between(s, stage, from, at));
}

/// A Go breach: its first tick and the run of breaching ticks that follows (up to `until`).
fn breach_section(doc: &mut Doc, s: &Session, stage: usize, e: &Evidence, until: Millis) {
    doc.push(Kind::Text, describe(e, false));
    let Some(since) = e.since else {
        doc.push(
            Kind::Text,
            "checked once over the whole stage at its end (no per-tick values)",
        );
        return;
    };
    let ticks = s.timeline.stage_ticks(stage, until);
    let breached = ticks
        .iter()
        .filter(|t| gate_tick(t, e.gate).is_some_and(|g| g.state == GateState::Breach))
        .count();
    doc.push(
        Kind::Text,
        format!(
            "breached at {breached} of {} ticks of the stage so far; one breach holds the stage at its end",
            ticks.len()
        ),
    );
    let from = since - 3 * s.tick_ms;
    let mut rows: Vec<&TickRecord> = ticks.into_iter().filter(|t| t.at > from).collect();
    // The run of breaching ticks from `since`, plus one after it.
    let mut end = rows.len();
    let mut in_run = false;
    for (i, t) in rows.iter().enumerate() {
        let b = gate_tick(t, e.gate).is_some_and(|g| g.state == GateState::Breach);
        if t.at >= since && b {
            in_run = true;
        } else if in_run && t.at > since {
            end = i + 1;
            break;
        }
    }
    rows.truncate(end.min(24));
    go_rows(doc, e.gate, &rows);
}

/// The evidence events of a stage (breaches and triggers) at or before `until`.
fn stage_evidence(s: &Session, stage: usize, until: Millis) -> Vec<(bool, Millis, &Evidence)> {
    s.timeline
        .events
        .iter()
        .filter_map(|e| match e {
            VerdictEvent::Breach {
                stage: st,
                at,
                evidence,
            } if *st == stage && *at <= until => Some((false, *at, evidence)),
            VerdictEvent::Trigger {
                stage: st,
                at,
                evidence,
            } if *st == stage && *at <= until => Some((true, *at, evidence)),
            _ => None,
        })
        .collect()
}

/// One line of the odds table: gate, stop, odds, interval, method, least traffic.
fn odds_line(
    gate: &str,
    stop: &str,
    odds: &str,
    interval: &str,
    method: &str,
    least: &str,
) -> String {
    format!("  {gate:<13} {stop:<8} {odds:>7}  {interval:<15}  {method:<11}  {least:>8}")
        .trim_end()
        .to_string()
}

/// The odds table's column names.
pub fn odds_head() -> String {
    odds_line(
        "gate",
        "stop",
        "odds",
        "95 % interval",
        "method",
        "1 % from",
    )
}

/// The odds and interval columns of one kind of stop (`-` and `missing` when absent).
fn odds_cells(o: Option<&Odds>, missing: &str) -> (String, String) {
    match o {
        Some(o) => (fmt::pct(o.p), fmt::interval(o)),
        None => ("-".into(), missing.into()),
    }
}

/// A method as shown: `exact`, `monte carlo`, whatever the odds say.
fn method_text(m: crate::engine::odds::Method) -> String {
    m.as_str().replace('_', " ")
}

/// A gate's two rows in the odds table: its false hold, with the method and the least
/// canary requests per window that keep both below 1 % (`any` when the baseline had no
/// bad request for the gate, `-` when no count does), then its false rollback.
pub fn gate_odds_rows(g: &GateOdds) -> [String; 2] {
    let (hp, hi) = odds_cells(g.hold.as_ref(), "not a Go gate");
    let (rp, ri) = odds_cells(g.rollback.as_ref(), "not a trigger");
    let least = match g.min_window_requests {
        None => "-".to_string(),
        Some(0) => "any".to_string(),
        Some(n) => n.to_string(),
    };
    [
        odds_line(
            fmt::gate_label(g.gate),
            "hold",
            &hp,
            &hi,
            &method_text(g.method),
            &least,
        ),
        odds_line("", "rollback", &rp, &ri, "", ""),
    ]
}

/// The stage's combined rows (`any gate`, the gates taken as independent).
pub fn stage_odds_rows(o: &StageOdds) -> [String; 2] {
    [
        odds_line(
            "any gate",
            "hold",
            &fmt::pct(o.hold.p),
            &fmt::interval(&o.hold),
            &method_text(o.method),
            "",
        ),
        odds_line(
            "",
            "rollback",
            &fmt::pct(o.rollback.p),
            &fmt::interval(&o.rollback),
            "",
            "",
        ),
    ]
}

/// The odds of a false stop in `stage`: of every modelled gate and combined, or of
/// `only`. Says why when there are none.
fn odds_section(doc: &mut Doc, m: &Model, stage: usize, only: Option<Gate>) {
    let s = &m.session;
    doc.push(
        Kind::Heading,
        format!("odds of a false stop in {}", stage_name(s, stage)),
    );
    let weight = s.stages.get(stage).map_or(0.0, |x| x.weight);
    let o = match s.odds.stage(stage, weight) {
        Ok(o) => o,
        Err(why) => {
            doc.push(Kind::Text, why);
            return;
        }
    };
    let gates: Vec<&GateOdds> = o
        .gates
        .iter()
        .filter(|g| only.is_none_or(|x| x == g.gate))
        .collect();
    if let (Some(g), true) = (only, gates.is_empty()) {
        doc.push(
            Kind::Text,
            format!(
                "not modelled for {} (only the request rate and latency gates are)",
                g.as_str()
            ),
        );
        return;
    }
    doc.push(
        Kind::Text,
        "for a canary like the baseline, over the whole stage at its canary traffic:",
    );
    doc.push(Kind::Head, odds_head());
    for g in gates {
        for row in gate_odds_rows(g) {
            doc.push(Kind::Row, row);
        }
    }
    if only.is_none() {
        for row in stage_odds_rows(o) {
            doc.push(Kind::Row, row);
        }
    }
    doc.push(
        Kind::Text,
        "1 % from: the least canary requests per window keeping both below 1 %",
    );
    if s.tuner.as_ref().is_some_and(|t| t.moved() > 0) {
        doc.push(
            Kind::Text,
            "for the policy as loaded: tuning does not recompute the odds",
        );
    }
}

fn explain_event(m: &Model, e: &VerdictEvent) -> Doc {
    let s = &m.session;
    match e {
        VerdictEvent::Trigger {
            stage,
            at,
            evidence,
        } => {
            let mut d = Doc::new(format!(
                "TRIGGER {} in {} at {}",
                evidence.gate.as_str(),
                stage_name(s, *stage),
                format_clock(*at)
            ));
            trigger_section(&mut d, s, *stage, *at, evidence);
            odds_section(&mut d, m, *stage, Some(evidence.gate));
            d
        }
        VerdictEvent::Breach {
            stage,
            at,
            evidence,
        } => {
            let mut d = Doc::new(format!(
                "BREACH {} in {} at {}",
                evidence.gate.as_str(),
                stage_name(s, *stage),
                format_clock(*at)
            ));
            breach_section(&mut d, s, *stage, evidence, m.clock);
            odds_section(&mut d, m, *stage, Some(evidence.gate));
            d
        }
        VerdictEvent::StageVerdict {
            stage,
            at,
            verdict,
            reasons,
        } => explain_verdict(m, *stage, *at, *verdict, reasons),
        VerdictEvent::FollowUp(f) => {
            let mut d = Doc::new(format!(
                "FOLLOW-UP {} ({}) at {}",
                f.kind,
                f.stage,
                format_clock(f.at)
            ));
            d.push(Kind::Text, f.detail.clone());
            d.push(Kind::Text, "follow-ups never block a stage");
            d
        }
        VerdictEvent::Outcome { at, outcome } => {
            let mut d = Doc::new(format!(
                "OUTCOME {} at {}",
                outcome.as_str().to_uppercase(),
                format_clock(*at)
            ));
            for (i, v) in s.timeline.final_verdicts().iter().enumerate() {
                let reasons = s.timeline.judged[i]
                    .as_ref()
                    .map(|j| {
                        j.reasons
                            .iter()
                            .map(|g| g.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    })
                    .unwrap_or_default();
                d.push(
                    Kind::Text,
                    format!("{:<12} {:<9} {reasons}", stage_name(s, i), words(*v)),
                );
            }
            d
        }
        VerdictEvent::StageStarted { stage, at } => Doc::new(format!(
            "{} started at {}",
            stage_name(s, *stage),
            format_clock(*at)
        )),
        VerdictEvent::Tick(t) => Doc::new(format!("tick {} at {}", t.k, format_clock(t.at))),
    }
}

fn explain_verdict(m: &Model, stage: usize, at: Millis, verdict: Verdict, reasons: &[Gate]) -> Doc {
    let mut d = verdict_body(m, stage, at, verdict, reasons);
    odds_section(&mut d, m, stage, None);
    d
}

fn verdict_body(m: &Model, stage: usize, at: Millis, verdict: Verdict, reasons: &[Gate]) -> Doc {
    let s = &m.session;
    let mut d = Doc::new(format!(
        "{}: {} at {}",
        stage_name(s, stage),
        words(verdict).to_uppercase(),
        format_clock(at)
    ));
    let ticks = s.timeline.stage_ticks(stage, at);
    if reasons.is_empty() {
        d.push(
            Kind::Text,
            format!(
                "every Go gate held at each of its {} ticks and no trigger fired",
                ticks.len()
            ),
        );
        d.push(Kind::Heading, "closest approach per gate (peak value)");
        d.push(
            Kind::Head,
            format!(
                "  {:<13}  {:>9}  {:>10}  {:>6}",
                "gate", "peak", "go limit", "no data"
            ),
        );
        for g in super::model::GATE_ORDER {
            let vals: Vec<(Option<f64>, Option<f64>, GateState)> = ticks
                .iter()
                .filter_map(|t| gate_tick(t, g).map(|x| (x.value, x.threshold, x.state)))
                .collect();
            if vals.is_empty() || vals.iter().all(|v| v.2 == GateState::NotEvaluated) {
                continue;
            }
            let peak = if g == Gate::MemoryHeadroom {
                vals.iter().filter_map(|v| v.0).reduce(f64::min)
            } else {
                vals.iter().filter_map(|v| v.0).reduce(f64::max)
            };
            let thr = vals.iter().rev().find_map(|v| v.1);
            let no_data = vals.iter().filter(|v| v.2 == GateState::NoData).count();
            d.push(
                Kind::Row,
                format!(
                    "  {:<13}  {:>9}  {:>10}  {:>6}",
                    fmt::gate_label(g),
                    fmt::value(g, peak),
                    format!("{} {}", fmt::op(g), fmt::threshold(g, thr)),
                    no_data
                ),
            );
        }
        return d;
    }
    let names: Vec<&str> = reasons.iter().map(|g| g.as_str()).collect();
    d.push(
        Kind::Text,
        match verdict {
            Verdict::Rollback => format!("rolled back: {} fired", names.join(", ")),
            Verdict::Hold => format!(
                "held: Go gate{} {} breached during the stage",
                if names.len() == 1 { "" } else { "s" },
                names.join(", ")
            ),
            _ => names.join(", "),
        },
    );
    let evidence = stage_evidence(s, stage, at);
    for g in reasons {
        d.push(Kind::Heading, g.as_str());
        let want_trigger = verdict == Verdict::Rollback;
        match evidence
            .iter()
            .find(|(trig, _, e)| *trig == want_trigger && e.gate == *g)
        {
            Some((true, t_at, e)) => trigger_section(&mut d, s, stage, *t_at, e),
            Some((false, _, e)) => {
                // A hold reports the whole stage: every breach tick, not only the first run.
                let mut e = (*e).clone();
                if e.since.is_some() {
                    e.ticks = ticks
                        .iter()
                        .filter(|t| gate_tick(t, *g).is_some_and(|x| x.state == GateState::Breach))
                        .count() as u32;
                }
                breach_section(&mut d, s, stage, &e, at);
            }
            None => d.push(Kind::Text, "no evidence event recorded"),
        }
    }
    d
}

fn explain_gate(m: &Model, g: Gate) -> Doc {
    let mut d = gate_body(m, g);
    if m.session.gate_evaluated(g) != Some(false) {
        odds_section(&mut d, m, m.current_stage(), Some(g));
    }
    d
}

fn gate_body(m: &Model, g: Gate) -> Doc {
    let s = &m.session;
    let stage = m.current_stage();
    let mut d = Doc::new(format!(
        "{} in {} up to {}",
        g.as_str(),
        stage_name(s, stage),
        format_clock(m.clock)
    ));
    let role = match (g.is_go(), g.is_trigger()) {
        (true, true) => "Go gate and rollback trigger",
        (true, false) => "Go gate",
        (false, true) => "rollback trigger",
        (false, false) => "gate",
    };
    d.push(
        Kind::Text,
        format!("{role} over the {} stream", g.stream().as_str()),
    );
    if s.gate_evaluated(g) == Some(false) {
        d.push(
            Kind::Text,
            "not evaluated: its stream (or column) is absent, so it never breaches",
        );
        return d;
    }
    let ticks = s.timeline.stage_ticks(stage, m.clock);
    let per_tick = ticks.iter().any(|t| gate_tick(t, g).is_some());
    if !per_tick {
        d.push(
            Kind::Text,
            if g == Gate::ProbeFailures {
                "fires at the probe that makes one target's failures consecutive enough"
            } else {
                "checked once over the whole stage at its end"
            },
        );
        for (trig, at, e) in stage_evidence(s, stage, m.clock) {
            if e.gate == g {
                d.push(
                    Kind::Hot,
                    format!("{} {}", format_clock(at), describe(e, trig)),
                );
            }
        }
        return d;
    }
    if g.is_trigger() {
        let thr = ticks
            .last()
            .and_then(|t| gate_tick(t, g))
            .and_then(|x| fmt::trigger_threshold(s.policy.as_ref(), g, x.threshold));
        d.push(
            Kind::Text,
            format!(
                "trigger: {} {} held at {} rolls back",
                fmt::op(g),
                fmt::threshold(g, thr),
                sustain_text(s)
            ),
        );
        trigger_rows(&mut d, s, g, &ticks);
    }
    if g.is_go() {
        if g.is_trigger() {
            d.push(Kind::Heading, "as a Go gate");
        }
        d.push(
            Kind::Text,
            "Go gate: a single breaching tick holds the stage at its end",
        );
        go_rows(&mut d, g, &ticks);
    }
    d
}
