//! A deliberately naive reference evaluator of the rollout contract
//! (`shared/spec/rollout-semantics.md`, sections 1-8, and `dataset-format.md`), written
//! from the contract alone, without looking at the engine's evaluator or fold. For every
//! tick it rescans every row of the dataset, sorts the window's values and takes the
//! nearest-rank element; sustained conditions are found by looking back over the
//! recomputed per-tick conditions; probes are walked in (timestamp, file order); stage
//! checks are recomputed from scratch. It is slow (ticks x rows) and meant for small
//! datasets: the property test compares it with the engine.
//!
//! Readings taken where the contract leaves room (each is a place where a disagreement
//! with the engine is a question about the contract, not necessarily a bug):
//!
//! - Request gates apply to whatever canary real requests a window holds, in every stage:
//!   the synthetic stage has no request data only because it normally holds no canary
//!   traffic, not by rule (section 2 states it as a consequence of weight 0).
//! - `endpoint_latency_p95` is a request metric, so a window below `min_requests` canary
//!   real requests has no data for it either (section 2); above that, a prefix needs its own
//!   `endpoints.min_requests` requests, and the gate has data when at least one prefix has.
//! - `latency_p99` (a trigger without Go gate) reports `breach` at a tick where its trigger
//!   condition holds, `ok` where it does not, `no_data` without request data.
//! - Event-stream gates that count occurrences (`schema_failures`, `pii_in_logs`, the two
//!   security gates) have data whenever their stream is present: an empty window is `ok`.
//!   Infra gates have no data in a window without samples (section 8 says so); for
//!   `db_latency` and `queue_backlog` a sample is a canary row whose column is non-null.
//! - `queue_backlog` is breached at a tick when `max queue_depth > threshold` held at the
//!   last `sustain` ticks (11), all with data and in the tick's stage; it is no trigger.
//! - Probe failures and schema failures count probes of every target in the stream, not
//!   only the policy's targets; probe coverage only looks at the policy's targets, and any
//!   probe of the target (failed or not) counts as coverage.
//! - Gates that are not triggers report `trigger = false` at every tick.
//! - `insufficient_data` counts the stage's ticks without request data (fewer than
//!   `min_requests` canary real requests in the window) against all its ticks; it is only
//!   judged at the stage's end (a rolled-back stage is judged by its triggers alone).
//! - `cache_header_scope`: `cache_control` is split on `,`; a directive's name is the text
//!   before any `=`, trimmed, compared case-insensitively with `no-cache` and `no-store`.
//! - `seo_indexability`: `robots` tokens are split on commas and whitespace and compared
//!   case-insensitively with `noindex` and `none` (`max-image-preview:none` holds neither);
//!   an empty `canonical` is the empty string.
//! - Security baseline: "the stream's earliest event" is the earliest event of any kind.
//!   With the first-stage baseline, the first stage's events are counted over the whole
//!   stage (also at ticks before its end).
//! - Infra values are compared as read (`f64`) with the policy's `f64` thresholds:
//!   `cpu` p95 `>= infra.cpu_p95`, `mem_free` p5 `<= infra.mem_free_p5`, `db_p95_ms` p95
//!   `>= infra.db_p95_ms`, max `queue_depth > infra.queue_depth`.
//! - `budget_burn` reads `0.001` as `1 - budget.slo` and `30 d` as `budget.period`.
//! - When several triggers fire at one instant they are all reported, the probe trigger
//!   included. Reasons follow the order of the contract's tables ([`GO_ORDER`],
//!   [`TRIGGER_ORDER`]: section 4 then 8 for Go gates, section 5 then 8 for triggers;
//!   `schema_failures`, listed in both 4 and 8, takes its first place).

use std::collections::BTreeMap;

use rehearse::input::{Cohort, Dataset, Millis, PageKind, PageRow, ProbeRow, SecurityKind, Source};
use rehearse::pii::PiiDetector;
use rehearse::policy::Policy;
use rehearse::ratio::Ratio;
use rehearse::verdict::{Gate, GateState, Outcome, Verdict};

/// The reading of `endpoint_latency_p95` taken here (see the module notes): a window below
/// `rollout.min_requests` canary real requests has no data for it, whatever the prefixes
/// hold. `false` gives the other reading (only `endpoints.min_requests` per prefix counts).
pub const ENDPOINT_GATE_NEEDS_WINDOW_MINIMUM: bool = true;

/// The gates the oracle evaluates at every tick, in the order they are compared.
pub const TICK_GATES: [Gate; 14] = [
    Gate::ErrorRate5xx,
    Gate::ErrorRate4xxNonauth,
    Gate::LatencyP95,
    Gate::LatencyP99,
    Gate::SchemaFailures,
    Gate::BudgetBurn,
    Gate::EndpointLatencyP95,
    Gate::CpuHeadroom,
    Gate::MemoryHeadroom,
    Gate::DbLatency,
    Gate::QueueBacklog,
    Gate::SecurityWafSpike,
    Gate::SecurityAuthFailures,
    Gate::PiiInLogs,
];

/// Go gates in the order of the tables of sections 4 and 8 (reasons of a hold).
pub const GO_ORDER: [Gate; 18] = [
    Gate::ErrorRate5xx,
    Gate::ErrorRate4xxNonauth,
    Gate::LatencyP95,
    Gate::SchemaFailures,
    Gate::Availability,
    Gate::InsufficientData,
    Gate::BudgetBurn,
    Gate::EndpointLatencyP95,
    Gate::CpuHeadroom,
    Gate::MemoryHeadroom,
    Gate::DbLatency,
    Gate::QueueBacklog,
    Gate::SecurityWafSpike,
    Gate::SecurityAuthFailures,
    Gate::PiiInLogs,
    Gate::ProbeCoverage,
    Gate::CacheHeaderScope,
    Gate::SeoIndexability,
];

/// Rollback triggers in the order of the tables of sections 5 and 8 (reasons of a rollback).
pub const TRIGGER_ORDER: [Gate; 10] = [
    Gate::ErrorRate5xx,
    Gate::ErrorRate4xxNonauth,
    Gate::LatencyP95,
    Gate::LatencyP99,
    Gate::ProbeFailures,
    Gate::BudgetBurn,
    Gate::SecurityWafSpike,
    Gate::SecurityAuthFailures,
    Gate::SchemaFailures,
    Gate::PiiInLogs,
];

/// Tick-based gates that are rollback triggers (sustained).
const SUSTAINED_TRIGGERS: [Gate; 9] = [
    Gate::ErrorRate5xx,
    Gate::ErrorRate4xxNonauth,
    Gate::LatencyP95,
    Gate::LatencyP99,
    Gate::BudgetBurn,
    Gate::SecurityWafSpike,
    Gate::SecurityAuthFailures,
    Gate::SchemaFailures,
    Gate::PiiInLogs,
];

/// One tick as the oracle sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct OracleTick {
    pub k: u32,
    pub at: Millis,
    pub stage: usize,
    /// Canary real requests in the window.
    pub requests: u64,
    /// Per tick-based gate: its state and whether its trigger condition held.
    pub gates: BTreeMap<Gate, (GateState, bool)>,
}

/// A stage's verdict and reasons (contract order).
#[derive(Clone, Debug, PartialEq)]
pub struct OracleStage {
    pub verdict: Verdict,
    pub reasons: Vec<Gate>,
}

/// What the oracle says about a dataset.
#[derive(Clone, Debug, PartialEq)]
pub struct OracleRun {
    pub outcome: Outcome,
    /// Instant, stage index and the triggers that fired (contract order).
    pub rollback: Option<(Millis, usize, Vec<Gate>)>,
    pub stages: Vec<OracleStage>,
    /// Every tick of the policy (also those after the rollout stopped).
    pub ticks: Vec<OracleTick>,
}

/// `a / b >= r`, exactly.
fn ge_ratio(a: u64, b: u64, r: Ratio) -> bool {
    a as u128 * r.den as u128 >= r.num as u128 * b as u128
}

/// `a / b < r`, exactly.
fn lt_ratio(a: u64, b: u64, r: Ratio) -> bool {
    (a as u128) * (r.den as u128) < (r.num as u128) * (b as u128)
}

/// 1-based nearest rank `ceil(num / den * n)`.
fn rank(num: u64, den: u64, n: usize) -> usize {
    (num as usize * n).div_ceil(den as usize)
}

/// Nearest-rank quantile `num/den` of the values (sorted here).
fn nearest_rank_u64(mut v: Vec<u64>, num: u64, den: u64) -> u64 {
    v.sort_unstable();
    v[rank(num, den, v.len()).max(1) - 1]
}

fn nearest_rank_f64(mut v: Vec<f64>, num: u64, den: u64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[rank(num, den, v.len()).max(1) - 1]
}

/// The stage (index) whose interval `(s, e]` (relative to T0) holds `rel`.
fn stage_of(policy: &Policy, rel: Millis) -> Option<usize> {
    policy
        .stages
        .iter()
        .position(|s| s.start_ms < rel && rel <= s.start_ms + s.duration_ms)
}

/// A probe failure per section 5 (payload is never set by the property test; a present
/// payload without schema is treated like a missing one).
fn probe_fails(p: &ProbeRow) -> bool {
    p.status != 200 || p.schema_ok == Some(false)
}

/// A schema failure: a status-200 probe failing validation.
fn schema_fails(p: &ProbeRow) -> bool {
    p.status == 200 && p.schema_ok == Some(false)
}

fn cache_bad(p: &PageRow) -> bool {
    if p.kind == PageKind::Api || p.test_mode == Some(true) {
        return false;
    }
    p.cache_control.split(',').any(|d| {
        let name = d
            .split('=')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        name == "no-cache" || name == "no-store"
    })
}

fn seo_bad(p: &PageRow) -> bool {
    if p.kind != PageKind::Seo {
        return false;
    }
    let robots_bad = p.robots.as_deref().is_some_and(|r| {
        r.split(|c: char| c == ',' || c.is_whitespace())
            .any(|t| t.eq_ignore_ascii_case("noindex") || t.eq_ignore_ascii_case("none"))
    });
    p.status != 200
        || p.canonical.as_deref().is_none_or(str::is_empty)
        || robots_bad
        || p.in_sitemap == Some(false)
        || p.prerendered == Some(false)
}

/// Raw per-tick result of one gate: state and the condition (the trigger condition for
/// triggers, the breach condition otherwise, before any sustain rule).
#[derive(Clone, Copy, Debug)]
struct Raw {
    state: GateState,
    go: bool,
    trig: bool,
}

impl Raw {
    fn not_evaluated() -> Raw {
        Raw {
            state: GateState::NotEvaluated,
            go: false,
            trig: false,
        }
    }
    fn no_data() -> Raw {
        Raw {
            state: GateState::NoData,
            go: false,
            trig: false,
        }
    }
    fn of(go: bool, trig: bool) -> Raw {
        Raw {
            state: if go { GateState::Breach } else { GateState::Ok },
            go,
            trig,
        }
    }
}

/// The security baseline of one kind: `(n events, baseline length in ms)`.
fn security_baseline(
    policy: &Policy,
    ds: &Dataset,
    t0: Millis,
    kind: SecurityKind,
) -> (u64, Millis) {
    let rows = ds.security.as_deref().unwrap_or(&[]);
    let earliest = rows.iter().map(|r| r.ts).min();
    let b = policy.security_baseline_ms;
    if earliest.is_some_and(|e| e <= t0 - b) {
        let n = rows
            .iter()
            .filter(|r| r.kind == kind && t0 - b <= r.ts && r.ts < t0)
            .count() as u64;
        (n, b)
    } else {
        let s = &policy.stages[0];
        let (lo, hi) = (t0 + s.start_ms, t0 + s.start_ms + s.duration_ms);
        let n = rows
            .iter()
            .filter(|r| r.kind == kind && lo < r.ts && r.ts <= hi)
            .count() as u64;
        (n, s.duration_ms)
    }
}

/// Everything the oracle computes at tick `k`, before sustain rules.
fn raw_tick(
    policy: &Policy,
    ds: &Dataset,
    t0: Millis,
    k: u32,
    det: &PiiDetector,
) -> (OracleTick, BTreeMap<Gate, Raw>) {
    let t = t0 + k as Millis * policy.tick_ms;
    let stage = stage_of(policy, t - t0).expect("a tick inside the rollout");
    let st = &policy.stages[stage];
    let s_abs = t0 + st.start_ms;
    let window_ms = policy.window_ticks as Millis * policy.tick_ms;
    let lower = (t - window_ms).max(s_abs);
    let inside = |x: Millis| lower < x && x <= t;
    let mut g = BTreeMap::new();

    // Section 2-5: canary real requests in the window.
    let win: Vec<_> = ds
        .requests
        .iter()
        .filter(|r| r.cohort == Cohort::Canary && r.source == Source::Real && inside(r.ts))
        .collect();
    let n = win.len() as u64;
    let has_data = n >= policy.min_requests;
    if has_data {
        let c5 = win
            .iter()
            .filter(|r| (500..=599).contains(&r.status))
            .count() as u64;
        let c4 = win
            .iter()
            .filter(|r| (400..=499).contains(&r.status) && r.status != 401 && r.status != 403)
            .count() as u64;
        let lat: Vec<u64> = win.iter().map(|r| r.latency_us).collect();
        let p95 = nearest_rank_u64(lat.clone(), 95, 100);
        let p99 = nearest_rank_u64(lat, 99, 100);
        g.insert(
            Gate::ErrorRate5xx,
            Raw::of(
                ge_ratio(c5, n, policy.go_5xx),
                ge_ratio(c5, n, policy.trig_5xx),
            ),
        );
        g.insert(
            Gate::ErrorRate4xxNonauth,
            Raw::of(
                ge_ratio(c4, n, policy.go_4xx),
                ge_ratio(c4, n, policy.trig_4xx),
            ),
        );
        g.insert(
            Gate::LatencyP95,
            Raw::of(p95 > st.go_p95_us, p95 > policy.trig_p95_us),
        );
        let p99_trig = p99 > policy.trig_p99_us;
        g.insert(Gate::LatencyP99, Raw::of(p99_trig, p99_trig));
    } else {
        for gate in [
            Gate::ErrorRate5xx,
            Gate::ErrorRate4xxNonauth,
            Gate::LatencyP95,
            Gate::LatencyP99,
        ] {
            g.insert(gate, Raw::no_data());
        }
    }
    // Section 8: endpoint outliers.
    if has_data || !ENDPOINT_GATE_NEEDS_WINDOW_MINIMUM {
        let mut any_data = false;
        let mut breach = false;
        for prefix in &policy.outlier_prefixes {
            let lat: Vec<u64> = win
                .iter()
                .filter(|r| r.endpoint.starts_with(prefix.as_str()))
                .map(|r| r.latency_us)
                .collect();
            if (lat.len() as u64) >= policy.endpoint_min_requests {
                any_data = true;
                if nearest_rank_u64(lat, 95, 100) > policy.endpoint_p95_us {
                    breach = true;
                }
            }
        }
        g.insert(
            Gate::EndpointLatencyP95,
            if any_data {
                Raw::of(breach, false)
            } else {
                Raw::no_data()
            },
        );
    } else {
        g.insert(Gate::EndpointLatencyP95, Raw::no_data());
    }

    // budget_burn: cumulative over (T0, t].
    let cum = |r: &&rehearse::input::RequestRow| t0 < r.ts && r.ts <= t && r.source == Source::Real;
    let n_all = ds.requests.iter().filter(cum).count() as u64;
    let b = ds
        .requests
        .iter()
        .filter(cum)
        .filter(|r| r.cohort == Cohort::Canary && (500..=599).contains(&r.status))
        .count() as u64;
    if n_all < policy.min_requests {
        g.insert(Gate::BudgetBurn, Raw::no_data());
    } else {
        // B / ((1 - slo) * N * P / (t - T0)) > max_burn
        let slo = policy.budget_slo;
        let burn = policy.budget_max_burn;
        let lhs = b as u128 * (t - t0) as u128 * slo.den as u128 * burn.den as u128;
        let rhs = burn.num as u128
            * (slo.den - slo.num) as u128
            * n_all as u128
            * policy.budget_period_ms as u128;
        let c = lhs > rhs;
        g.insert(Gate::BudgetBurn, Raw::of(c, c));
    }

    // Probes: schema failures in the window.
    match &ds.probes {
        None => {
            g.insert(Gate::SchemaFailures, Raw::not_evaluated());
        }
        Some(probes) => {
            let c = probes.iter().any(|p| inside(p.ts) && schema_fails(p));
            g.insert(Gate::SchemaFailures, Raw::of(c, c));
        }
    }

    // Infra.
    match &ds.infra {
        None => {
            for gate in [
                Gate::CpuHeadroom,
                Gate::MemoryHeadroom,
                Gate::DbLatency,
                Gate::QueueBacklog,
            ] {
                g.insert(gate, Raw::not_evaluated());
            }
        }
        Some(rows) => {
            let samples: Vec<_> = rows
                .iter()
                .filter(|r| inside(r.ts) && r.cohort == Some(Cohort::Canary))
                .collect();
            if samples.is_empty() {
                g.insert(Gate::CpuHeadroom, Raw::no_data());
                g.insert(Gate::MemoryHeadroom, Raw::no_data());
            } else {
                let cpu = nearest_rank_f64(samples.iter().map(|r| r.cpu).collect(), 95, 100);
                let mem = nearest_rank_f64(samples.iter().map(|r| r.mem_free).collect(), 5, 100);
                g.insert(
                    Gate::CpuHeadroom,
                    Raw::of(cpu >= policy.infra.cpu_p95, false),
                );
                g.insert(
                    Gate::MemoryHeadroom,
                    Raw::of(mem <= policy.infra.mem_free_p5, false),
                );
            }
            let db: Vec<f64> = samples.iter().filter_map(|r| r.db_p95_ms).collect();
            if db.is_empty() {
                g.insert(Gate::DbLatency, Raw::no_data());
            } else {
                g.insert(
                    Gate::DbLatency,
                    Raw::of(
                        nearest_rank_f64(db, 95, 100) >= policy.infra.db_p95_ms,
                        false,
                    ),
                );
            }
            let q: Vec<f64> = samples.iter().filter_map(|r| r.queue_depth).collect();
            if q.is_empty() {
                g.insert(Gate::QueueBacklog, Raw::no_data());
            } else {
                let max = q.into_iter().fold(f64::NEG_INFINITY, f64::max);
                // `go` holds the raw condition; the sustain rule is applied later.
                g.insert(
                    Gate::QueueBacklog,
                    Raw {
                        state: GateState::Ok,
                        go: max > policy.infra.queue_depth,
                        trig: false,
                    },
                );
            }
        }
    }

    // Security spikes.
    for (gate, kind) in [
        (Gate::SecurityWafSpike, SecurityKind::WafBlock),
        (Gate::SecurityAuthFailures, SecurityKind::AuthFailure),
    ] {
        match &ds.security {
            None => {
                g.insert(gate, Raw::not_evaluated());
            }
            Some(rows) => {
                let c = rows
                    .iter()
                    .filter(|r| r.kind == kind && inside(r.ts))
                    .count() as u64;
                let l_ms = (t - lower) as u128;
                let (base_n, base_ms) = security_baseline(policy, ds, t0, kind);
                let mpm = policy.security_min_per_minute;
                let f = policy.security_factor;
                // c / L > min_per_minute, L in minutes = l_ms / 60000.
                let above_min = c as u128 * 60_000 * mpm.den as u128 > mpm.num as u128 * l_ms;
                // c / L > factor * n / baseline_minutes.
                let above_base = c as u128 * base_ms as u128 * f.den as u128
                    > f.num as u128 * base_n as u128 * l_ms;
                let cond = above_min && above_base;
                g.insert(gate, Raw::of(cond, cond));
            }
        }
    }

    // Logs.
    match &ds.logs {
        None => {
            g.insert(Gate::PiiInLogs, Raw::not_evaluated());
        }
        Some(rows) => {
            let c = rows
                .iter()
                .any(|r| inside(r.ts) && det.contains_pii(&r.message));
            g.insert(Gate::PiiInLogs, Raw::of(c, c));
        }
    }

    (
        OracleTick {
            k,
            at: t,
            stage,
            requests: n,
            gates: BTreeMap::new(),
        },
        g,
    )
}

/// True when `held(k')` for each of the `span` ticks ending at `k`, all in `k`'s stage.
fn sustained(
    policy: &Policy,
    raws: &[BTreeMap<Gate, Raw>],
    stages: &[usize],
    k: usize,
    gate: Gate,
    use_go: bool,
) -> bool {
    let span = policy.sustain_ticks;
    if k < span {
        return false;
    }
    (k + 1 - span..=k).all(|j| {
        let r = raws[j - 1][&gate];
        stages[j - 1] == stages[k - 1]
            && r.state != GateState::NoData
            && r.state != GateState::NotEvaluated
            && if use_go { r.go } else { r.trig }
    })
}

/// Evaluates the rollout of `ds` from `t0` under `policy`, naively.
pub fn evaluate(policy: &Policy, ds: &Dataset, t0: Millis) -> OracleRun {
    let det = PiiDetector::new();
    let total_ms: Millis = policy.stages.iter().map(|s| s.duration_ms).sum();
    let n_ticks = (total_ms / policy.tick_ms) as usize;

    let mut ticks = Vec::new();
    let mut raws = Vec::new();
    for k in 1..=n_ticks {
        let (tick, raw) = raw_tick(policy, ds, t0, k as u32, &det);
        ticks.push(tick);
        raws.push(raw);
    }
    let stage_idx: Vec<usize> = ticks.iter().map(|t| t.stage).collect();

    // Per tick: final states, trigger flags and which sustained triggers fire.
    let mut fired_at_tick: Vec<Vec<Gate>> = vec![Vec::new(); n_ticks];
    for k in 1..=n_ticks {
        let mut map = BTreeMap::new();
        for gate in TICK_GATES {
            let r = raws[k - 1][&gate];
            let state = if gate == Gate::QueueBacklog && r.state == GateState::Ok {
                if sustained(policy, &raws, &stage_idx, k, gate, true) {
                    GateState::Breach
                } else {
                    GateState::Ok
                }
            } else {
                r.state
            };
            map.insert(gate, (state, r.trig));
        }
        for gate in SUSTAINED_TRIGGERS {
            if sustained(policy, &raws, &stage_idx, k, gate, false) {
                fired_at_tick[k - 1].push(gate);
            }
        }
        ticks[k - 1].gates = map;
    }

    // Probe-failure firings: (instant, stage).
    let end_abs = t0 + total_ms;
    let mut probe_fires: Vec<Millis> = Vec::new();
    if let Some(probes) = &ds.probes {
        let mut order: Vec<(Millis, usize)> = probes
            .iter()
            .enumerate()
            .filter(|(_, p)| t0 < p.ts && p.ts <= end_abs)
            .map(|(i, p)| (p.ts, i))
            .collect();
        order.sort();
        let mut run: BTreeMap<&str, u32> = BTreeMap::new();
        for (_, i) in order {
            let p = &probes[i];
            let c = run.entry(p.target.as_str()).or_insert(0);
            if probe_fails(p) {
                *c += 1;
                if *c == policy.probe_consecutive {
                    probe_fires.push(p.ts);
                }
            } else {
                *c = 0;
            }
        }
    }

    let mut stages: Vec<OracleStage> = policy
        .stages
        .iter()
        .map(|_| OracleStage {
            verdict: Verdict::NotRun,
            reasons: Vec::new(),
        })
        .collect();
    for (i, st) in policy.stages.iter().enumerate() {
        let s_abs = t0 + st.start_ms;
        let e_abs = s_abs + st.duration_ms;
        // Earliest firing in the stage.
        let mut first: Option<Millis> = None;
        for (k0, fired) in fired_at_tick.iter().enumerate() {
            if stage_idx[k0] == i && !fired.is_empty() {
                first = Some(ticks[k0].at);
                break;
            }
        }
        for &x in &probe_fires {
            if s_abs < x && x <= e_abs && first.is_none_or(|f| x < f) {
                first = Some(x);
            }
        }
        if let Some(at) = first {
            let mut gates: Vec<Gate> = Vec::new();
            if let Some(k0) = ticks.iter().position(|t| t.at == at) {
                gates.extend(fired_at_tick[k0].iter().copied());
            }
            if probe_fires.contains(&at) {
                gates.push(Gate::ProbeFailures);
            }
            gates.sort_by_key(|g| TRIGGER_ORDER.iter().position(|x| x == g));
            gates.dedup();
            stages[i] = OracleStage {
                verdict: Verdict::Rollback,
                reasons: gates.clone(),
            };
            return OracleRun {
                outcome: Outcome::Rollback,
                rollback: Some((at, i, gates)),
                stages,
                ticks,
            };
        }

        // Go gates over the stage.
        let mut breached: Vec<Gate> = Vec::new();
        let stage_ticks: Vec<&OracleTick> = ticks.iter().filter(|t| t.stage == i).collect();
        for t in &stage_ticks {
            for (gate, (state, _)) in &t.gates {
                if *state == GateState::Breach && GO_ORDER.contains(gate) {
                    breached.push(*gate);
                }
            }
        }
        let in_stage = |x: Millis| s_abs < x && x <= e_abs;
        // availability
        let canary: Vec<_> = ds
            .requests
            .iter()
            .filter(|r| r.cohort == Cohort::Canary && r.source == Source::Real && in_stage(r.ts))
            .collect();
        let all = canary.len() as u64;
        if all >= policy.min_requests {
            let c5 = canary
                .iter()
                .filter(|r| (500..=599).contains(&r.status))
                .count() as u64;
            if lt_ratio(all - c5, all, policy.go_availability) {
                breached.push(Gate::Availability);
            }
        }
        // insufficient_data
        if st.weight > 0.0 {
            let total = stage_ticks.len() as u64;
            let no_data = stage_ticks
                .iter()
                .filter(|t| t.requests < policy.min_requests)
                .count() as u64;
            let r = policy.go_max_no_data;
            if total > 0 && (no_data as u128) * (r.den as u128) > (r.num as u128) * (total as u128)
            {
                breached.push(Gate::InsufficientData);
            }
        }
        if let Some(probes) = &ds.probes {
            // schema_failures, once per stage
            if probes.iter().any(|p| in_stage(p.ts) && schema_fails(p)) {
                breached.push(Gate::SchemaFailures);
            }
            // probe_coverage
            if st.probes {
                for target in &policy.probe_targets {
                    let mut ts: Vec<Millis> = probes
                        .iter()
                        .filter(|p| &p.target == target && in_stage(p.ts))
                        .map(|p| p.ts)
                        .collect();
                    ts.sort_unstable();
                    let ok = !ts.is_empty()
                        && ts[0] - s_abs <= policy.probe_max_gap_ms
                        && e_abs - ts[ts.len() - 1] <= policy.probe_max_gap_ms
                        && ts
                            .windows(2)
                            .all(|w| w[1] - w[0] <= policy.probe_max_gap_ms);
                    if !ok {
                        breached.push(Gate::ProbeCoverage);
                    }
                }
            }
        }
        if let Some(pages) = &ds.pages {
            if pages.iter().any(|p| in_stage(p.ts) && cache_bad(p)) {
                breached.push(Gate::CacheHeaderScope);
            }
            if pages.iter().any(|p| in_stage(p.ts) && seo_bad(p)) {
                breached.push(Gate::SeoIndexability);
            }
        }
        breached.sort_by_key(|g| GO_ORDER.iter().position(|x| x == g));
        breached.dedup();
        if !breached.is_empty() {
            stages[i] = OracleStage {
                verdict: Verdict::Hold,
                reasons: breached,
            };
            return OracleRun {
                outcome: Outcome::Hold,
                rollback: None,
                stages,
                ticks,
            };
        }
        stages[i] = OracleStage {
            verdict: Verdict::Go,
            reasons: Vec::new(),
        };
    }
    OracleRun {
        outcome: Outcome::Complete,
        rollback: None,
        stages,
        ticks,
    }
}
