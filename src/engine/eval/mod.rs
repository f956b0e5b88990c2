//! The evaluator: a pure fold over ticks. At each tick the window aggregates are summed
//! and every stream's gates judged (`requests.rs`, `infra.rs`, `security.rs`,
//! `probes.rs`, `logs.rs`; the optional canary judge in `judge.rs`), each pushing its
//! gate ticks and evidence into a `TickOut`; this module owns what is common to all
//! gates: sustain counters and firing, Go
//! breaches and their events, stage verdicts (with the stage-end gates of `requests.rs`,
//! `probes.rs`, `pages.rs` and the plugged-in [`super::StageCheck`]), rollbacks and the
//! outcome, as the contract's sections 4-6 and 8 say. No clock, no IO, no randomness:
//! every instant comes from the data (T0 and the tick grid).

mod infra;
pub(crate) mod judge;
mod logs;
mod pages;
pub(crate) mod probes;
mod requests;
mod security;

use crate::input::{Millis, Stream};
use crate::policy::Policy;
use crate::ratio::Ratio;
use crate::sketch::Sketch;
use crate::time::format_clock;
use crate::verdict::{
    Evidence, FollowUp, Gate, GateState, GateTick, Outcome, TickRecord, Verdict, VerdictEvent,
};

use super::fold::{Folded, slot, stream_idx};
use infra::InfraState;
use probes::first_probe_firing;
use requests::{RequestState, StageCounts, split_drift};

/// How one stage ended.
#[derive(Clone, Debug, PartialEq)]
pub struct StageOutcome {
    pub name: String,
    pub start: Millis,
    pub end: Millis,
    pub weight: f64,
    pub verdict: Verdict,
    /// When the stage was judged (its end, or the rollback instant).
    pub judged_at: Option<Millis>,
    pub reasons: Vec<Gate>,
    /// One entry per reason, in the same order.
    pub evidence: Vec<Evidence>,
    /// Canary real requests in the stage up to its judgement.
    pub canary_requests: u64,
    /// Real requests of every cohort in the stage up to its judgement.
    pub real_requests: u64,
    pub ticks: u32,
    pub no_data_ticks: u32,
}

/// The run's result: every event, plus the summary the report needs.
#[derive(Clone, Debug, PartialEq)]
pub struct Run {
    pub t0: Millis,
    pub end: Millis,
    pub outcome: Outcome,
    pub rollback: Option<(Millis, usize, Vec<Gate>)>,
    pub stages: Vec<StageOutcome>,
    pub events: Vec<VerdictEvent>,
    pub follow_ups: Vec<FollowUp>,
    /// Per gate of [`Gate::ALL`] the policy has on (all but a disabled canary judge):
    /// whether its stream (and column) is present.
    pub evaluated: Vec<(Gate, bool)>,
    /// Per gate of `evaluated`: breached or fired anywhere in the evaluated stages.
    pub gate_hits: Vec<(Gate, u32)>,
}

/// Window aggregates of one tick.
struct Window {
    counters: Vec<u64>,
    intervals: usize,
    sketch: Sketch,
}

/// Mutable evaluator state carried from tick to tick.
struct State {
    stage: usize,
    /// Sustain run per trigger (index into `Gate::TRIGGERS`).
    sustain: [u32; Gate::TRIGGERS.len()],
    /// First tick instant of the current run per trigger.
    since: [Millis; Gate::TRIGGERS.len()],
    requests: RequestState,
    infra: InfraState,
    judge: judge::JudgeState,
    prev_breach: Vec<bool>,
    /// Go gate breaches of the current stage: (gate, evidence of the first breach, ticks).
    stage_breaches: Vec<Evidence>,
    no_data_ticks: u32,
    ticks: u32,
    hits: Vec<u32>,
}

/// What every gate sees at one tick: the policy, the fold, the stage, the tick instant
/// and its window (intervals `lo..k`, their summed counters and display sketch).
pub(super) struct TickCx<'a> {
    pub p: &'a Policy,
    pub f: &'a Folded,
    pub stage: &'a crate::policy::Stage,
    pub t: Millis,
    pub lo: usize,
    pub k: usize,
    /// Summed request counters of the window.
    pub w: &'a [u64],
    pub intervals: usize,
    pub sketch: &'a Sketch,
    /// Canary real requests in the window, and whether they reach the minimum.
    pub n: u64,
    pub has_req: bool,
    /// Whether approximate display values are computed.
    pub display: bool,
    evaluated: &'a [(Gate, bool)],
}

impl TickCx<'_> {
    /// Whether the gate's stream (and column) is present.
    pub fn is_eval(&self, g: Gate) -> bool {
        self.evaluated[gate_slot(g)].1
    }

    /// The window's counts per latency band of the canary real requests.
    pub fn bands(&self) -> &[u64] {
        &self.w[slot::BANDS..slot::BANDS + self.f.bands.len() + 1]
    }
}

/// What a tick's gates produce: their ticks in order, the comparison and detail each
/// reads with, and follow-ups filed at this tick.
pub(super) struct TickOut {
    pub gates: Vec<GateTick>,
    pub details: Vec<(Gate, &'static str, String)>,
    pub follow_ups: Vec<FollowUp>,
}

impl TickOut {
    /// A gate's tick (its sustain counter is set afterwards).
    pub fn push(
        &mut self,
        gate: Gate,
        state: GateState,
        value: Option<f64>,
        threshold: Option<f64>,
        trigger: bool,
    ) {
        self.gates.push(GateTick {
            gate,
            state,
            value,
            threshold,
            trigger,
            sustain: 0,
        });
    }

    /// A gate any finding in the window breaches (it fires as a trigger too), with
    /// `count` findings; `not_evaluated` without its stream. Whether it breached.
    pub fn any_finding(&mut self, cx: &TickCx, gate: Gate, count: u64) -> bool {
        let ev = cx.is_eval(gate);
        let breach = ev && count > 0;
        let state = if ev {
            state_of(true, breach)
        } else {
            GateState::NotEvaluated
        };
        self.push(gate, state, ev.then_some(count as f64), Some(0.0), breach);
        breach
    }

    /// The comparison and the detail in words a gate's evidence carries.
    pub fn detail(&mut self, gate: Gate, op: &'static str, detail: String) {
        self.details.push((gate, op, detail));
    }
}

/// A gate breached at a stage's end.
pub(super) struct Finding {
    pub gate: Gate,
    pub value: Option<f64>,
    pub threshold: Option<f64>,
    pub op: &'static str,
    pub detail: String,
}

/// The comparison and detail a gate's evidence reads with at this tick.
fn detail_of(details: &[(Gate, &'static str, String)], gate: Gate) -> (String, String) {
    details
        .iter()
        .find(|(g, _, _)| *g == gate)
        .map(|(_, o, d)| (o.to_string(), d.clone()))
        .unwrap_or_default()
}

/// A gate's state from whether it has data and whether it breaches.
pub(super) fn state_of(data: bool, breach: bool) -> GateState {
    if !data {
        GateState::NoData
    } else if breach {
        GateState::Breach
    } else {
        GateState::Ok
    }
}

fn gate_slot(g: Gate) -> usize {
    g.index()
}

fn trig_slot(g: Gate) -> usize {
    g.trigger_rank()
}

/// Count of window latencies strictly above band threshold `t` (which must be a band).
fn above(bands: &[u64], band_counts: &[u64], t: u64) -> u64 {
    let j = bands.iter().position(|b| *b == t).unwrap_or(bands.len());
    band_counts[j + 1..].iter().sum()
}

/// `quantile > t` by nearest rank, from counters.
fn quantile_above(q: Ratio, n: u64, count_above: u64) -> bool {
    count_above > n - q.ceil_mul(n)
}

/// Nearest-rank quantile of a slice (reorders it).
fn nearest_rank(v: &mut [f64], q: Ratio) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    let r = q.ceil_mul(v.len() as u64).max(1) as usize - 1;
    let (_, x, _) = v.select_nth_unstable_by(r, f64::total_cmp);
    Some(*x)
}

fn mul3(a: u64, b: u64, c: u64) -> Option<u128> {
    (a as u128).checked_mul(b as u128)?.checked_mul(c as u128)
}

fn mul4(a: u64, b: u64, c: u64, d: u64) -> Option<u128> {
    mul3(a, b, c)?.checked_mul(d as u128)
}

fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

/// Runs the whole rollout over folded aggregates.
pub fn evaluate(policy: &Policy, f: &Folded) -> Run {
    evaluate_with(policy, f, true)
}

/// Runs the whole rollout; with `display` false the approximate p95/p99 values shown
/// to people are left out (verdicts, events and every exact value are the same), which
/// makes re-evaluating many policy variants several times faster.
pub fn evaluate_with(policy: &Policy, f: &Folded, display: bool) -> Run {
    evaluate_inner(policy, f, display, false)
}

/// Every stage evaluated over its whole span, as if no trigger fired and no stage held:
/// no rollback, no probe firing, and a held stage does not end the rollout. The tick
/// records and stage verdicts are what the policy's gates say of each stage on its own;
/// [`super::sweep`] builds its per-tick tables from them.
pub(crate) fn evaluate_through(policy: &Policy, f: &Folded) -> Run {
    evaluate_inner(policy, f, false, true)
}

fn evaluate_inner(policy: &Policy, f: &Folded, display: bool, through: bool) -> Run {
    let p = policy;
    let t0 = f.t0;
    let mut events = Vec::new();
    let mut follow_ups = Vec::new();
    let present = |s: Stream| f.present[stream_idx(s)];
    let checked: Vec<(Gate, bool)> = f
        .stage_checks
        .as_ref()
        .map(|c| c.evaluated())
        .unwrap_or_default();
    let evaluated: Vec<(Gate, bool)> = Gate::ALL
        .iter()
        .map(|&g| {
            let ok = match g {
                Gate::AnalyticsExclusion
                | Gate::TrackingGap
                | Gate::FeeCapture
                | Gate::LedgerIntegrity
                | Gate::PaidAcquisition
                | Gate::LeverInstrumentation => checked.iter().any(|(c, e)| *c == g && *e),
                Gate::DbLatency => present(g.stream()) && f.infra_has_db,
                Gate::QueueBacklog => present(g.stream()) && f.infra_has_queue,
                Gate::CanaryJudge => present(g.stream()) && p.judge_enabled,
                _ => present(g.stream()),
            };
            (g, ok)
        })
        .collect();
    let is_eval = |g: Gate| evaluated[gate_slot(g)].1;

    let schema_fail = probes::schema_failures_per_interval(f);
    let probe_fire = first_probe_firing(p, f);
    let sec_base = security::Baseline::new(p, f);

    let mut st = State {
        stage: 0,
        sustain: [0; Gate::TRIGGERS.len()],
        since: [0; Gate::TRIGGERS.len()],
        requests: RequestState::new(f.n_prefixes),
        infra: InfraState::default(),
        judge: judge::JudgeState::new(0.0, p.judge_prior),
        prev_breach: vec![false; Gate::ALL.len()],
        stage_breaches: Vec::new(),
        no_data_ticks: 0,
        ticks: 0,
        hits: vec![0; Gate::ALL.len()],
    };

    let mut stages: Vec<StageOutcome> = p
        .stages
        .iter()
        .map(|s| StageOutcome {
            name: s.name.clone(),
            start: t0 + s.start_ms,
            end: t0 + s.end_ms(),
            weight: s.weight,
            verdict: Verdict::NotRun,
            judged_at: None,
            reasons: Vec::new(),
            evidence: Vec::new(),
            canary_requests: 0,
            real_requests: 0,
            ticks: 0,
            no_data_ticks: 0,
        })
        .collect();

    let mut outcome = Outcome::Complete;
    let mut rollback = None;
    let mut window = Window {
        counters: vec![0; f.stride],
        intervals: 0,
        sketch: Sketch::default(),
    };

    'stages: for (si, stage) in p.stages.iter().enumerate() {
        let s_abs = t0 + stage.start_ms;
        let e_abs = t0 + stage.end_ms();
        events.push(VerdictEvent::StageStarted {
            stage: si,
            at: s_abs,
        });
        st.stage = si;
        st.sustain = [0; Gate::TRIGGERS.len()];
        st.infra.queue_run = 0;
        st.requests.new_stage();
        st.judge = judge::JudgeState::new(stage.weight, p.judge_prior);
        st.prev_breach.iter_mut().for_each(|b| *b = false);
        st.stage_breaches.clear();
        st.no_data_ticks = 0;
        st.ticks = 0;
        let m = (stage.start_ms / f.tick_ms) as usize;
        let k_end = (stage.end_ms() / f.tick_ms) as usize;
        let mut stage_canary = 0u64;
        let mut stage_real = 0u64;
        let mut stage_5xx = 0u64;
        for k in m + 1..=k_end {
            let t = t0 + k as Millis * f.tick_ms;
            let prev_t = t - f.tick_ms;
            // A probe firing strictly between the previous tick and this one ends the stage first.
            if !through
                && let Some((fire_at, ref targets, ref ev)) = probe_fire
                && fire_at > prev_t
                && fire_at < t
            {
                let _ = targets;
                let evidence = vec![ev.clone()];
                judge_rollback(
                    &mut stages[si],
                    si,
                    fire_at,
                    vec![Gate::ProbeFailures],
                    evidence,
                    &mut events,
                );
                stages[si].canary_requests = stage_canary;
                stages[si].real_requests = stage_real;
                st.hits[gate_slot(Gate::ProbeFailures)] += 1;
                follow_ups.push(p0(&stages[si], fire_at, &[Gate::ProbeFailures]));
                events.push(VerdictEvent::FollowUp(
                    follow_ups
                        .last()
                        .cloned()
                        .unwrap_or_else(|| p0(&stages[si], fire_at, &[])),
                ));
                outcome = Outcome::Rollback;
                rollback = Some((fire_at, si, vec![Gate::ProbeFailures]));
                break 'stages;
            }
            // Window aggregates.
            let lo = k.saturating_sub(p.window_ticks).max(m);
            window.counters.iter_mut().for_each(|c| *c = 0);
            if display {
                window.sketch.clear();
            }
            window.intervals = k - lo;
            for j in lo..k {
                for (w, c) in window.counters.iter_mut().zip(f.interval_counters(j)) {
                    *w += *c;
                }
                if display && let Some(s) = &f.sketches[j] {
                    window.sketch.merge(s);
                }
            }
            let cur = f.interval_counters(k - 1);
            st.requests.cum_5xx += cur[slot::E5XX];
            st.requests.cum_real += cur[slot::REAL_ALL];
            stage_canary += cur[slot::N];
            stage_real += cur[slot::REAL_ALL];
            stage_5xx += cur[slot::E5XX];
            st.ticks += 1;

            let w = &window.counters;
            let n = w[slot::N];
            let has_req = n >= p.min_requests;
            if !has_req {
                st.no_data_ticks += 1;
            }
            let cx = TickCx {
                p,
                f,
                stage,
                t,
                lo,
                k,
                w,
                intervals: window.intervals,
                sketch: &window.sketch,
                n,
                has_req,
                display,
                evaluated: &evaluated,
            };
            let mut out = TickOut {
                gates: Vec::with_capacity(Gate::ALL.len()),
                details: Vec::new(),
                follow_ups: Vec::new(),
            };
            requests::rates(&cx, &mut out);
            requests::budget(&cx, &st.requests, &mut out);
            requests::endpoints(&cx, &mut st.requests, &mut out);
            infra::headroom(&cx, &mut st.infra, &mut out);
            security::anomalies(&cx, &sec_base, &mut out);
            probes::schema(&cx, &schema_fail, &mut out);
            logs::pii(&cx, &mut out);
            if p.judge_enabled {
                judge::judge(&cx, &mut st.judge, &mut out);
            }
            for fu in out.follow_ups.drain(..) {
                events.push(VerdictEvent::FollowUp(fu.clone()));
                follow_ups.push(fu);
            }
            let details = std::mem::take(&mut out.details);
            let mut gates = std::mem::take(&mut out.gates);
            // Mark request gates not evaluated when the stream is absent (never, for run).
            for g in gates.iter_mut() {
                if !is_eval(g.gate) {
                    g.state = GateState::NotEvaluated;
                    g.trigger = false;
                }
            }

            // Sustain counters and firing.
            let mut fired: Vec<Gate> = Vec::new();
            let mut fired_ev: Vec<Evidence> = Vec::new();
            for g in gates.iter_mut() {
                if !g.gate.is_trigger() || g.gate == Gate::ProbeFailures {
                    continue;
                }
                let ti = trig_slot(g.gate);
                if g.trigger {
                    if st.sustain[ti] == 0 {
                        st.since[ti] = t;
                    }
                    st.sustain[ti] += 1;
                } else {
                    st.sustain[ti] = 0;
                }
                g.sustain = st.sustain[ti];
                // A trigger the registry does not sustain (the canary judge) fires at once.
                let needs = if g.gate.def().sustained {
                    p.sustain_ticks
                } else {
                    1
                };
                if st.sustain[ti] as usize >= needs {
                    fired.push(g.gate);
                    let (op, detail) = detail_of(&details, g.gate);
                    let thr = p.trigger_limit(g.gate).or(g.threshold);
                    fired_ev.push(Evidence {
                        gate: g.gate,
                        value: g.value,
                        threshold: thr,
                        op,
                        since: Some(st.since[ti]),
                        ticks: st.sustain[ti],
                        detail,
                    });
                }
            }
            // Go breaches at this tick.
            for g in &gates {
                if !g.gate.is_go() {
                    continue;
                }
                let gi = gate_slot(g.gate);
                let breach = g.state == GateState::Breach;
                if breach {
                    st.hits[gi] += 1;
                    let (op, detail) = detail_of(&details, g.gate);
                    match st.stage_breaches.iter_mut().find(|e| e.gate == g.gate) {
                        Some(e) => e.ticks += 1,
                        None => st.stage_breaches.push(Evidence {
                            gate: g.gate,
                            value: g.value,
                            threshold: g.threshold,
                            op: op.clone(),
                            since: Some(t),
                            ticks: 1,
                            detail: detail.clone(),
                        }),
                    }
                    if !st.prev_breach[gi] {
                        events.push(VerdictEvent::Breach {
                            stage: si,
                            at: t,
                            evidence: Evidence {
                                gate: g.gate,
                                value: g.value,
                                threshold: g.threshold,
                                op,
                                since: Some(t),
                                ticks: 1,
                                detail,
                            },
                        });
                    }
                }
                st.prev_breach[gi] = breach;
            }
            events.push(VerdictEvent::Tick(TickRecord {
                k: k as u32,
                at: t,
                stage: si,
                requests: n,
                gates,
            }));

            // Probe firing exactly at this tick joins the tick's triggers.
            if !through
                && let Some((fire_at, _, ref ev)) = probe_fire
                && fire_at == t
            {
                fired.push(Gate::ProbeFailures);
                fired_ev.push(ev.clone());
            }
            if !through && !fired.is_empty() {
                let mut pairs: Vec<(Gate, Evidence)> = fired.into_iter().zip(fired_ev).collect();
                pairs.sort_by_key(|(g, _)| g.trigger_rank());
                let gates_fired: Vec<Gate> = pairs.iter().map(|(g, _)| *g).collect();
                for g in &gates_fired {
                    st.hits[gate_slot(*g)] += 1;
                }
                let evidence: Vec<Evidence> = pairs.into_iter().map(|(_, e)| e).collect();
                stages[si].canary_requests = stage_canary;
                stages[si].real_requests = stage_real;
                stages[si].ticks = st.ticks;
                stages[si].no_data_ticks = st.no_data_ticks;
                judge_rollback(
                    &mut stages[si],
                    si,
                    t,
                    gates_fired.clone(),
                    evidence,
                    &mut events,
                );
                let fu = p0(&stages[si], t, &gates_fired);
                events.push(VerdictEvent::FollowUp(fu.clone()));
                follow_ups.push(fu);
                outcome = Outcome::Rollback;
                rollback = Some((t, si, gates_fired));
                break 'stages;
            }
        }
        // The stage ran its full course: stage-level gates, then the verdict.
        let mut breaches = std::mem::take(&mut st.stage_breaches);
        let mut add =
            |g: Gate, value: Option<f64>, threshold: Option<f64>, op: &str, detail: String| {
                st.hits[gate_slot(g)] += 1;
                breaches.push(Evidence {
                    gate: g,
                    value,
                    threshold,
                    op: op.into(),
                    since: None,
                    ticks: 0,
                    detail,
                });
            };
        let counts = StageCounts {
            canary: stage_canary,
            e5xx: stage_5xx,
            ticks: st.ticks,
            no_data_ticks: st.no_data_ticks,
        };
        let mut findings = requests::stage_end(p, stage, &counts);
        if stage.probes && is_eval(Gate::ProbeCoverage) {
            findings.extend(probes::stage_end(p, f, s_abs, e_abs));
        }
        if is_eval(Gate::CacheHeaderScope) {
            findings.extend(pages::stage_end(f, si));
        }
        for x in findings {
            add(x.gate, x.value, x.threshold, x.op, x.detail);
        }
        // Analytics gates, over the funnel and ledger events up to the stage's end.
        if let Some(check) = &f.stage_checks {
            for (g, detail) in check.breaches(p, e_abs) {
                add(g, None, None, ">", detail);
            }
        }
        breaches.sort_by_key(|e| e.gate.go_rank());
        // A gate may appear from both a tick and the stage check (schema failures): keep one.
        breaches.dedup_by_key(|e| e.gate);
        let so = &mut stages[si];
        so.canary_requests = stage_canary;
        so.real_requests = stage_real;
        so.ticks = st.ticks;
        so.no_data_ticks = st.no_data_ticks;
        so.judged_at = Some(e_abs);
        for e in &breaches {
            if e.since.is_none() {
                events.push(VerdictEvent::Breach {
                    stage: si,
                    at: e_abs,
                    evidence: e.clone(),
                });
            }
        }
        if let Some(fu) = split_drift(p, stage, stage_canary, stage_real, e_abs) {
            events.push(VerdictEvent::FollowUp(fu.clone()));
            follow_ups.push(fu);
        }
        if breaches.is_empty() {
            so.verdict = Verdict::Go;
            events.push(VerdictEvent::StageVerdict {
                stage: si,
                at: e_abs,
                verdict: Verdict::Go,
                reasons: vec![],
            });
        } else {
            so.verdict = Verdict::Hold;
            so.reasons = breaches.iter().map(|e| e.gate).collect();
            so.evidence = breaches;
            events.push(VerdictEvent::StageVerdict {
                stage: si,
                at: e_abs,
                verdict: Verdict::Hold,
                reasons: so.reasons.clone(),
            });
            outcome = Outcome::Hold;
            if !through {
                break 'stages;
            }
        }
    }
    // Split drift is also reported for a stage that rolled back, over what it ran.
    if let Some((at, si, _)) = &rollback {
        let s = &stages[*si];
        if let Some(fu) = split_drift(p, &p.stages[*si], s.canary_requests, s.real_requests, *at) {
            events.push(VerdictEvent::FollowUp(fu.clone()));
            follow_ups.push(fu);
        }
    }
    let end_at = match (&rollback, outcome) {
        (Some((at, _, _)), _) => *at,
        _ => stages.iter().rev().find_map(|s| s.judged_at).unwrap_or(t0),
    };
    events.push(VerdictEvent::Outcome {
        at: end_at,
        outcome,
    });
    // A gate the policy leaves off (the canary judge unless enabled) is not part of
    // this run: reports list neither its status nor its hits.
    let listed = |g: Gate| g != Gate::CanaryJudge || p.judge_enabled;
    let gate_hits = Gate::ALL
        .iter()
        .filter(|&&g| listed(g))
        .map(|&g| (g, st.hits[gate_slot(g)]))
        .collect();
    let evaluated = evaluated.into_iter().filter(|(g, _)| listed(*g)).collect();
    Run {
        t0,
        end: t0 + p.total_ms(),
        outcome,
        rollback,
        stages,
        events,
        follow_ups,
        evaluated,
        gate_hits,
    }
}

fn judge_rollback(
    so: &mut StageOutcome,
    si: usize,
    at: Millis,
    reasons: Vec<Gate>,
    evidence: Vec<Evidence>,
    events: &mut Vec<VerdictEvent>,
) {
    for e in &evidence {
        events.push(VerdictEvent::Trigger {
            stage: si,
            at,
            evidence: e.clone(),
        });
    }
    so.verdict = Verdict::Rollback;
    so.judged_at = Some(at);
    so.reasons = reasons.clone();
    so.evidence = evidence;
    events.push(VerdictEvent::StageVerdict {
        stage: si,
        at,
        verdict: Verdict::Rollback,
        reasons,
    });
}

fn p0(so: &StageOutcome, at: Millis, reasons: &[Gate]) -> FollowUp {
    let names: Vec<&str> = reasons.iter().map(|g| g.as_str()).collect();
    FollowUp {
        kind: "p0_incident".into(),
        stage: so.name.clone(),
        at,
        detail: format!(
            "rollback of {} at {}: {}",
            so.name,
            format_clock(at),
            names.join(", ")
        ),
    }
}
