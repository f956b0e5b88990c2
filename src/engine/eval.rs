//! The evaluator: a pure fold over ticks. `step` takes the state, the policy and one
//! tick's window aggregates and returns the verdict events of that tick; stage
//! verdicts and the outcome follow the contract's sections 4-6 and 8. No clock, no IO,
//! no randomness: every instant comes from the data (T0 and the tick grid).

use crate::input::{Millis, Stream};
use crate::policy::Policy;
use crate::ratio::Ratio;
use crate::sketch::Sketch;
use crate::time::{format_clock, format_duration};
use crate::verdict::{
    Evidence, FollowUp, Gate, GateState, GateTick, Outcome, TickRecord, Verdict, VerdictEvent,
};

use super::fold::{Folded, ProbeResult, slot, stream_idx};

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
    /// Per gate of [`Gate::ALL`]: whether its stream (and column) is present.
    pub evaluated: Vec<(Gate, bool)>,
    /// Per gate: breached or fired anywhere in the evaluated stages.
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
    sustain: [u32; 10],
    /// First tick instant of the current run per trigger.
    since: [Millis; 10],
    queue_run: u32,
    queue_since: Millis,
    perf_run: Vec<u32>,
    perf_since: Vec<Millis>,
    perf_filed: Vec<bool>,
    prev_breach: Vec<bool>,
    /// Go gate breaches of the current stage: (gate, evidence of the first breach, ticks).
    stage_breaches: Vec<Evidence>,
    no_data_ticks: u32,
    ticks: u32,
    cum_5xx: u64,
    cum_real: u64,
    hits: Vec<u32>,
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
    let nb = f.bands.len() + 1;
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
                | Gate::LedgerIntegrity => checked.iter().any(|(c, e)| *c == g && *e),
                Gate::DbLatency => present(g.stream()) && f.infra_has_db,
                Gate::QueueBacklog => present(g.stream()) && f.infra_has_queue,
                _ => present(g.stream()),
            };
            (g, ok)
        })
        .collect();
    let is_eval = |g: Gate| evaluated[gate_slot(g)].1;

    // Per-interval schema failures, and the earliest probe firing.
    let mut schema_fail = vec![0u64; f.ticks];
    for pr in &f.probes {
        if pr.result == ProbeResult::Schema
            && let Some(k) = f.interval(pr.ts)
        {
            schema_fail[k] += 1;
        }
    }
    let probe_fire = first_probe_firing(p, f);

    // Security baselines: (events, baseline length in ms) per kind.
    let first = &p.stages[0];
    let sec_base: [(u64, Millis); 2] = {
        let use_pre = f
            .security_earliest
            .is_some_and(|e| e <= t0 - p.security_baseline_ms);
        let mut b = [(0, 0); 2];
        for (i, slot_b) in b.iter_mut().enumerate() {
            *slot_b = if use_pre {
                (f.security_pre[i], p.security_baseline_ms)
            } else {
                let k0 = (first.start_ms / f.tick_ms) as usize;
                let k1 = (first.end_ms() / f.tick_ms) as usize;
                ((k0..k1).map(|k| f.security[k][i]).sum(), first.duration_ms)
            };
        }
        b
    };

    let mut st = State {
        stage: 0,
        sustain: [0; 10],
        since: [0; 10],
        queue_run: 0,
        queue_since: 0,
        perf_run: vec![0; f.n_prefixes],
        perf_since: vec![0; f.n_prefixes],
        perf_filed: vec![false; f.n_prefixes],
        prev_breach: vec![false; Gate::ALL.len()],
        stage_breaches: Vec::new(),
        no_data_ticks: 0,
        ticks: 0,
        cum_5xx: 0,
        cum_real: 0,
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
    let mut scratch: Vec<f64> = Vec::new();

    'stages: for (si, stage) in p.stages.iter().enumerate() {
        let s_abs = t0 + stage.start_ms;
        let e_abs = t0 + stage.end_ms();
        events.push(VerdictEvent::StageStarted {
            stage: si,
            at: s_abs,
        });
        st.stage = si;
        st.sustain = [0; 10];
        st.queue_run = 0;
        st.perf_run.iter_mut().for_each(|r| *r = 0);
        st.perf_filed.iter_mut().for_each(|r| *r = false);
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
            st.cum_5xx += cur[slot::E5XX];
            st.cum_real += cur[slot::REAL_ALL];
            stage_canary += cur[slot::N];
            stage_real += cur[slot::REAL_ALL];
            stage_5xx += cur[slot::E5XX];
            st.ticks += 1;

            let w = &window.counters;
            let n = w[slot::N];
            let bands = &w[slot::BANDS..slot::BANDS + nb];
            let has_req = n >= p.min_requests;
            if !has_req {
                st.no_data_ticks += 1;
            }
            let mut gates: Vec<GateTick> = Vec::with_capacity(Gate::ALL.len());
            // (gate, go breach, trigger condition, value, go threshold, op, detail)
            let push = |gates: &mut Vec<GateTick>,
                        g: Gate,
                        state: GateState,
                        value: Option<f64>,
                        threshold: Option<f64>,
                        trig: bool| {
                gates.push(GateTick {
                    gate: g,
                    state,
                    value,
                    threshold,
                    trigger: trig,
                    sustain: 0,
                });
            };
            let st_of = |data: bool, breach: bool| {
                if !data {
                    GateState::NoData
                } else if breach {
                    GateState::Breach
                } else {
                    GateState::Ok
                }
            };
            let mut details: Vec<(Gate, String, String)> = Vec::new(); // gate, op, detail

            // Request rates.
            {
                let e5 = w[slot::E5XX];
                let e4 = w[slot::E4XX];
                let v5 = has_req.then(|| e5 as f64 / n as f64);
                let v4 = has_req.then(|| e4 as f64 / n as f64);
                let go5 = has_req && p.go_5xx.le_frac(e5, n);
                let tr5 = has_req && p.trig_5xx.le_frac(e5, n);
                push(
                    &mut gates,
                    Gate::ErrorRate5xx,
                    st_of(has_req, go5),
                    v5,
                    Some(p.go_5xx.as_f64()),
                    tr5,
                );
                let go4 = has_req && p.go_4xx.le_frac(e4, n);
                let tr4 = has_req && p.trig_4xx.le_frac(e4, n);
                push(
                    &mut gates,
                    Gate::ErrorRate4xxNonauth,
                    st_of(has_req, go4),
                    v4,
                    Some(p.go_4xx.as_f64()),
                    tr4,
                );
                let p95v = if has_req && display {
                    window.sketch.value_at_rank(p.q95.ceil_mul(n)).map(ms)
                } else {
                    None
                };
                let p99v = if has_req && display {
                    window.sketch.value_at_rank(p.q99.ceil_mul(n)).map(ms)
                } else {
                    None
                };
                let go95 =
                    has_req && quantile_above(p.q95, n, above(&f.bands, bands, stage.go_p95_us));
                let tr95 =
                    has_req && quantile_above(p.q95, n, above(&f.bands, bands, p.trig_p95_us));
                push(
                    &mut gates,
                    Gate::LatencyP95,
                    st_of(has_req, go95),
                    p95v,
                    Some(ms(stage.go_p95_us)),
                    tr95,
                );
                let tr99 =
                    has_req && quantile_above(p.q99, n, above(&f.bands, bands, p.trig_p99_us));
                push(
                    &mut gates,
                    Gate::LatencyP99,
                    st_of(has_req, tr99),
                    p99v,
                    Some(ms(p.trig_p99_us)),
                    tr99,
                );
                details.push((
                    Gate::ErrorRate5xx,
                    ">=".into(),
                    format!("{e5} of {n} canary requests in the window"),
                ));
                details.push((
                    Gate::ErrorRate4xxNonauth,
                    ">=".into(),
                    format!("{e4} of {n} canary requests in the window"),
                ));
                details.push((
                    Gate::LatencyP95,
                    ">".into(),
                    format!("{n} canary requests in the window"),
                ));
                details.push((
                    Gate::LatencyP99,
                    ">".into(),
                    format!("{n} canary requests in the window"),
                ));
            }
            // Error budget burn, cumulative from T0.
            {
                let data = st.cum_real >= p.min_requests;
                let elapsed = (t - t0) as u64;
                let (sa, sb) = (p.budget_slo.num, p.budget_slo.den);
                let (mn, md) = (p.budget_max_burn.num, p.budget_max_burn.den);
                // B / ((1 - slo) * N * period / elapsed) > max_burn
                // <=> B * elapsed * sb * md > mn * (sb - sa) * N * period
                let lhs = mul4(st.cum_5xx, elapsed, sb, md);
                let rhs = mul4(mn, sb - sa, st.cum_real, p.budget_period_ms as u64);
                let breach = data
                    && match (lhs, rhs) {
                        (Some(l), Some(r)) => l > r,
                        _ => {
                            let burn = st.cum_5xx as f64 * elapsed as f64
                                / ((1.0 - p.budget_slo.as_f64())
                                    * st.cum_real as f64
                                    * p.budget_period_ms as f64);
                            burn > p.budget_max_burn.as_f64()
                        }
                    };
                let burn = data.then(|| {
                    let budget = (1.0 - p.budget_slo.as_f64())
                        * st.cum_real as f64
                        * p.budget_period_ms as f64
                        / elapsed as f64;
                    if budget > 0.0 {
                        st.cum_5xx as f64 / budget
                    } else {
                        0.0
                    }
                });
                let state = if is_eval(Gate::BudgetBurn) {
                    st_of(data, breach)
                } else {
                    GateState::NotEvaluated
                };
                push(
                    &mut gates,
                    Gate::BudgetBurn,
                    state,
                    burn,
                    Some(p.budget_max_burn.as_f64()),
                    breach,
                );
                details.push((
                    Gate::BudgetBurn,
                    ">".into(),
                    format!(
                        "{} canary 5xx against {} real requests since T0",
                        st.cum_5xx, st.cum_real
                    ),
                ));
            }
            // Outlier endpoint prefixes.
            {
                let mut any_data = false;
                let mut breach = false;
                let mut worst: Option<f64> = None;
                let mut detail = String::new();
                for pi in 0..f.n_prefixes {
                    let base = slot::BANDS + nb + pi * (1 + nb);
                    let np = w[base];
                    let pb = &w[base + 1..base + 1 + nb];
                    let data = has_req && np >= p.endpoint_min_requests;
                    let over =
                        data && quantile_above(p.q95, np, above(&f.bands, pb, p.endpoint_p95_us));
                    let over_ticket =
                        data && quantile_above(p.q95, np, above(&f.bands, pb, p.ticket_p95_us));
                    any_data |= data;
                    if over {
                        breach = true;
                        if detail.is_empty() {
                            detail = format!(
                                "{} p95 above {} ms over {np} requests",
                                f.prefixes()[pi],
                                ms(p.endpoint_p95_us)
                            );
                        }
                    }
                    if data {
                        // Display: the share of the prefix's requests above the limit.
                        let share = above(&f.bands, pb, p.endpoint_p95_us) as f64 / np as f64;
                        worst = Some(worst.map_or(share, |x: f64| x.max(share)));
                    }
                    // perf_ticket follow-up.
                    if over_ticket {
                        if st.perf_run[pi] == 0 {
                            st.perf_since[pi] = t;
                        }
                        st.perf_run[pi] += 1;
                        if st.perf_run[pi] as usize >= p.sustain_ticks && !st.perf_filed[pi] {
                            st.perf_filed[pi] = true;
                            let fu = FollowUp {
                                kind: "perf_ticket".into(),
                                stage: stage.name.clone(),
                                at: t,
                                detail: format!(
                                    "{} p95 above {} ms from {} to {} ({} ticks); check DB indices, N+1 queries and caching on these endpoints",
                                    f.prefixes()[pi],
                                    ms(p.ticket_p95_us),
                                    format_clock(st.perf_since[pi]),
                                    format_clock(t),
                                    st.perf_run[pi]
                                ),
                            };
                            events.push(VerdictEvent::FollowUp(fu.clone()));
                            follow_ups.push(fu);
                        }
                    } else {
                        st.perf_run[pi] = 0;
                    }
                }
                let state = if f.n_prefixes == 0 {
                    GateState::NoData
                } else {
                    st_of(any_data, breach)
                };
                push(
                    &mut gates,
                    Gate::EndpointLatencyP95,
                    state,
                    worst,
                    Some(0.05),
                    false,
                );
                details.push((Gate::EndpointLatencyP95, ">".into(), detail));
            }
            // Infra headroom.
            {
                let inf = &p.infra;
                let ev = is_eval(Gate::CpuHeadroom);
                let use_cohort = f.infra_has_cohort;
                let samples = || {
                    (lo..k)
                        .flat_map(|j| f.infra[j].iter())
                        .filter(|s| !use_cohort || s.canary)
                };
                scratch.clear();
                scratch.extend(samples().map(|s| s.cpu));
                let cpu = nearest_rank(&mut scratch, p.q95);
                scratch.clear();
                scratch.extend(samples().map(|s| s.mem_free));
                let mem = nearest_rank(&mut scratch, p.q05);
                scratch.clear();
                scratch.extend(samples().map(|s| s.db).filter(|v| !v.is_nan()));
                let db = nearest_rank(&mut scratch, p.q95);
                let queue = samples()
                    .map(|s| s.queue)
                    .filter(|v| !v.is_nan())
                    .reduce(f64::max);
                let gs = |e: bool, v: Option<f64>, breach: bool| {
                    if !e {
                        GateState::NotEvaluated
                    } else {
                        st_of(v.is_some(), breach)
                    }
                };
                let cpu_b = cpu.is_some_and(|v| v >= inf.cpu_p95);
                push(
                    &mut gates,
                    Gate::CpuHeadroom,
                    gs(ev, cpu, cpu_b),
                    cpu,
                    Some(inf.cpu_p95),
                    false,
                );
                let mem_b = mem.is_some_and(|v| v <= inf.mem_free_p5);
                push(
                    &mut gates,
                    Gate::MemoryHeadroom,
                    gs(ev, mem, mem_b),
                    mem,
                    Some(inf.mem_free_p5),
                    false,
                );
                let db_b = db.is_some_and(|v| v >= inf.db_p95_ms);
                push(
                    &mut gates,
                    Gate::DbLatency,
                    gs(is_eval(Gate::DbLatency), db, db_b),
                    db,
                    Some(inf.db_p95_ms),
                    false,
                );
                let q_over = queue.is_some_and(|v| v > inf.queue_depth);
                if q_over {
                    if st.queue_run == 0 {
                        st.queue_since = t;
                    }
                    st.queue_run += 1;
                } else {
                    st.queue_run = 0;
                }
                let q_b = st.queue_run as usize >= p.sustain_ticks;
                let mut qt = GateTick {
                    gate: Gate::QueueBacklog,
                    state: gs(is_eval(Gate::QueueBacklog), queue, q_b),
                    value: queue,
                    threshold: Some(inf.queue_depth),
                    trigger: false,
                    sustain: st.queue_run,
                };
                if !is_eval(Gate::QueueBacklog) {
                    qt.sustain = 0;
                }
                gates.push(qt);
                details.push((
                    Gate::CpuHeadroom,
                    ">=".into(),
                    "p95 of cpu samples in the window".into(),
                ));
                details.push((
                    Gate::MemoryHeadroom,
                    "<=".into(),
                    "p5 of mem_free samples in the window".into(),
                ));
                details.push((
                    Gate::DbLatency,
                    ">=".into(),
                    "p95 of db_p95_ms samples in the window".into(),
                ));
                details.push((
                    Gate::QueueBacklog,
                    ">".into(),
                    format!(
                        "max queue_depth above the limit for {} ticks since {}",
                        st.queue_run,
                        format_clock(st.queue_since)
                    ),
                ));
            }
            // Security anomalies.
            {
                let l_ms = window.intervals as u64 * f.tick_ms as u64;
                let ev = is_eval(Gate::SecurityWafSpike);
                for (i, g) in [(0, Gate::SecurityWafSpike), (1, Gate::SecurityAuthFailures)] {
                    let c: u64 = (lo..k).map(|j| f.security[j][i]).sum();
                    let (nbase, b_ms) = sec_base[i];
                    let min = p.security_min_per_minute;
                    let fac = p.security_factor;
                    let over_min = mul3(c, 60_000, min.den)
                        .zip(mul3(min.num, l_ms, 1))
                        .is_some_and(|(a, b)| a > b);
                    let over_base = mul3(c, b_ms as u64, fac.den)
                        .zip(mul3(fac.num, nbase, l_ms))
                        .is_some_and(|(a, b)| a > b);
                    let breach = ev && over_min && over_base;
                    let per_min = c as f64 * 60_000.0 / l_ms as f64;
                    let base_per_min = if b_ms > 0 {
                        nbase as f64 * 60_000.0 / b_ms as f64
                    } else {
                        0.0
                    };
                    let thr = (fac.as_f64() * base_per_min).max(min.as_f64());
                    let state = if ev {
                        st_of(true, breach)
                    } else {
                        GateState::NotEvaluated
                    };
                    push(
                        &mut gates,
                        g,
                        state,
                        ev.then_some(per_min),
                        Some(thr),
                        breach,
                    );
                    details.push((
                        g,
                        ">".into(),
                        format!(
                            "{c} events in {} (baseline {base_per_min:.2}/min)",
                            format_duration(l_ms as Millis)
                        ),
                    ));
                }
            }
            // Schema failures in the window.
            {
                let ev = is_eval(Gate::SchemaFailures);
                let c: u64 = (lo..k).map(|j| schema_fail[j]).sum();
                let breach = ev && c > 0;
                let state = if ev {
                    st_of(true, breach)
                } else {
                    GateState::NotEvaluated
                };
                push(
                    &mut gates,
                    Gate::SchemaFailures,
                    state,
                    ev.then_some(c as f64),
                    Some(0.0),
                    breach,
                );
                let first_detail = if breach {
                    f.probes
                        .iter()
                        .find(|pr| {
                            pr.result == ProbeResult::Schema
                                && f.interval(pr.ts).is_some_and(|j| j >= lo && j < k)
                        })
                        .map(|pr| {
                            let why = f
                                .probe_details
                                .get(pr.detail as usize)
                                .cloned()
                                .unwrap_or_default();
                            format!(
                                "target {} at {}: {why}",
                                f.probe_targets[pr.target as usize],
                                format_clock(pr.ts)
                            )
                        })
                        .unwrap_or_default()
                } else {
                    String::new()
                };
                details.push((Gate::SchemaFailures, ">".into(), first_detail));
            }
            // PII in logs.
            {
                let ev = is_eval(Gate::PiiInLogs);
                let c: u64 = (lo..k).map(|j| f.pii[j]).sum();
                let breach = ev && c > 0;
                let state = if ev {
                    st_of(true, breach)
                } else {
                    GateState::NotEvaluated
                };
                push(
                    &mut gates,
                    Gate::PiiInLogs,
                    state,
                    ev.then_some(c as f64),
                    Some(0.0),
                    breach,
                );
                let ex = if breach {
                    f.pii_examples
                        .iter()
                        .find(|(ts, _, _)| f.interval(*ts).is_some_and(|j| j >= lo && j < k))
                        .map(|(ts, kinds, red)| format!("{kinds} at {}: {red}", format_clock(*ts)))
                        .unwrap_or_default()
                } else {
                    String::new()
                };
                details.push((Gate::PiiInLogs, ">".into(), ex));
            }
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
                if st.sustain[ti] as usize >= p.sustain_ticks {
                    fired.push(g.gate);
                    let (op, detail) = details
                        .iter()
                        .find(|(dg, _, _)| *dg == g.gate)
                        .map(|(_, o, d)| (o.clone(), d.clone()))
                        .unwrap_or_default();
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
                    let (op, detail) = details
                        .iter()
                        .find(|(dg, _, _)| *dg == g.gate)
                        .map(|(_, o, d)| (o.clone(), d.clone()))
                        .unwrap_or_default();
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
        // Availability.
        if stage_canary >= p.min_requests {
            let a = p.go_availability;
            // (n - e) / n < a  <=>  (n - e) * den < num * n
            let good = stage_canary - stage_5xx;
            if (good as u128) * (a.den as u128) < (a.num as u128) * (stage_canary as u128) {
                add(
                    Gate::Availability,
                    Some(good as f64 / stage_canary as f64),
                    Some(a.as_f64()),
                    "<",
                    format!("{stage_5xx} 5xx of {stage_canary} canary requests in the stage"),
                );
            }
        }
        // Insufficient data.
        if stage.weight > 0.0
            && st.ticks > 0
            && p.go_max_no_data
                .lt_frac(st.no_data_ticks as u64, st.ticks as u64)
        {
            add(
                Gate::InsufficientData,
                Some(st.no_data_ticks as f64 / st.ticks as f64),
                Some(p.go_max_no_data.as_f64()),
                ">",
                format!(
                    "{} of {} ticks had fewer than {} canary requests in the window",
                    st.no_data_ticks, st.ticks, p.min_requests
                ),
            );
        }
        // Probe coverage.
        if stage.probes && is_eval(Gate::ProbeCoverage) {
            for target in &p.probe_targets {
                if let Some(gap) = coverage_gap(p, f, target, s_abs, e_abs) {
                    add(
                        Gate::ProbeCoverage,
                        Some(gap.0 as f64 / 1000.0),
                        Some(p.probe_max_gap_ms as f64 / 1000.0),
                        ">",
                        gap.1,
                    );
                    break;
                }
            }
        }
        // Pages.
        if is_eval(Gate::CacheHeaderScope) {
            let ps = &f.pages[si];
            if ps.cache_breaches > 0 {
                add(
                    Gate::CacheHeaderScope,
                    Some(ps.cache_breaches as f64),
                    Some(0.0),
                    ">",
                    format!(
                        "{} responses; first: {}",
                        ps.cache_breaches,
                        ps.cache_example.clone().unwrap_or_default()
                    ),
                );
            }
            let cols = f.page_cols;
            let seo = ps.seo_status
                + if cols.canonical { ps.seo_canonical } else { 0 }
                + if cols.robots { ps.seo_robots } else { 0 }
                + if cols.in_sitemap { ps.seo_sitemap } else { 0 }
                + if cols.prerendered {
                    ps.seo_prerendered
                } else {
                    0
                };
            if seo > 0 {
                let allowed = |r: u8| match r {
                    1 => cols.canonical,
                    2 => cols.robots,
                    3 => cols.in_sitemap,
                    4 => cols.prerendered,
                    _ => true,
                };
                let ex: Vec<&str> = ps
                    .seo_examples
                    .iter()
                    .filter(|(r, _)| allowed(*r))
                    .map(|(_, s)| s.as_str())
                    .collect();
                add(
                    Gate::SeoIndexability,
                    Some(seo as f64),
                    Some(0.0),
                    ">",
                    ex.join("; "),
                );
            }
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
    let gate_hits = Gate::ALL
        .iter()
        .map(|&g| (g, st.hits[gate_slot(g)]))
        .collect();
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

fn split_drift(
    p: &Policy,
    stage: &crate::policy::Stage,
    canary: u64,
    real: u64,
    at: Millis,
) -> Option<FollowUp> {
    if real < p.split_min_requests || real == 0 {
        return None;
    }
    let w = Ratio::from_f64(stage.weight)?;
    let tol = p.split_tolerance;
    // |canary/real - wn/wd| > tn/td  <=>  |canary*wd - wn*real| * td > tn * real * wd
    let diff = (canary as i128 * w.den as i128 - w.num as i128 * real as i128).unsigned_abs();
    let lhs = diff.checked_mul(tol.den as u128)?;
    let rhs = (tol.num as u128)
        .checked_mul(real as u128)?
        .checked_mul(w.den as u128)?;
    (lhs > rhs).then(|| FollowUp {
        kind: "traffic_split_drift".into(),
        stage: stage.name.clone(),
        at,
        detail: format!(
            "canary share {:.2}% of {real} real requests against a weight of {}%",
            canary as f64 * 100.0 / real as f64,
            stage.weight * 100.0
        ),
    })
}

/// The earliest instant some target's probes failed `consecutive` times in a row,
/// with the targets failing then and the evidence.
pub(crate) fn first_probe_firing(
    p: &Policy,
    f: &Folded,
) -> Option<(Millis, Vec<String>, Evidence)> {
    let nt = f.probe_targets.len();
    let mut run = vec![0u32; nt];
    let mut since = vec![0 as Millis; nt];
    let mut last_status = vec![0u16; nt];
    let mut last_why = vec![u32::MAX; nt];
    let mut first: Vec<Option<Millis>> = vec![None; nt];
    for pr in &f.probes {
        let t = pr.target as usize;
        if first[t].is_some() {
            continue;
        }
        if pr.result == ProbeResult::Pass {
            run[t] = 0;
            continue;
        }
        if run[t] == 0 {
            since[t] = pr.ts;
        }
        run[t] += 1;
        last_status[t] = pr.status;
        last_why[t] = if pr.result == ProbeResult::Schema {
            pr.detail
        } else {
            u32::MAX
        };
        if run[t] >= p.probe_consecutive {
            first[t] = Some(pr.ts);
        }
    }
    let at = first.iter().flatten().min().copied()?;
    let targets: Vec<usize> = (0..nt).filter(|&t| first[t] == Some(at)).collect();
    let names: Vec<String> = targets
        .iter()
        .map(|&t| f.probe_targets[t].clone())
        .collect();
    let detail = targets
        .iter()
        .map(|&t| {
            let why = match f.probe_details.get(last_why[t] as usize) {
                Some(w) => format!(", schema: {w}"),
                None => String::new(),
            };
            format!(
                "target {}: {} consecutive failures since {} (last status {}{why})",
                f.probe_targets[t],
                p.probe_consecutive,
                format_clock(since[t]),
                last_status[t]
            )
        })
        .collect::<Vec<_>>()
        .join("; ");
    let since_min = targets.iter().map(|&t| since[t]).min();
    Some((
        at,
        names,
        Evidence {
            gate: Gate::ProbeFailures,
            value: Some(p.probe_consecutive as f64),
            threshold: Some(p.probe_consecutive as f64),
            op: ">=".into(),
            since: since_min,
            ticks: 0,
            detail,
        },
    ))
}

/// The first coverage gap of a target in a stage longer than allowed: (gap ms, words).
fn coverage_gap(
    p: &Policy,
    f: &Folded,
    target: &str,
    s: Millis,
    e: Millis,
) -> Option<(Millis, String)> {
    let ti = f.probe_targets.iter().position(|x| x == target);
    let times: Vec<Millis> = match ti {
        Some(ti) => f
            .probes
            .iter()
            .filter(|pr| pr.target as usize == ti && pr.ts > s && pr.ts <= e)
            .map(|pr| pr.ts)
            .collect(),
        None => Vec::new(),
    };
    if times.is_empty() {
        return Some((e - s, format!("target {target} has no probe in the stage")));
    }
    let mut prev = s;
    for &t in times.iter().chain(std::iter::once(&e)) {
        if t - prev > p.probe_max_gap_ms {
            return Some((
                t - prev,
                format!(
                    "target {target}: no probe from {} to {} ({})",
                    format_clock(prev),
                    format_clock(t),
                    format_duration(t - prev)
                ),
            ));
        }
        prev = t;
    }
    None
}
