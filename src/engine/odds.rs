//! The odds of a false stop: for each stage and each request rate and latency gate, the
//! probability that a healthy canary (one that behaves exactly like the baseline, at
//! the stage's observed canary traffic) breaches the Go gate at some tick of the stage
//! (a false hold) or keeps the trigger condition for the sustain span (a false
//! rollback), with a 95 % interval, and the least canary requests per window that keep
//! each below 1 %. Pure: the baseline's counts come from the fold's [`BaselineCounts`]
//! (kept by [`Folded`] as the requests stream by, so nothing is read twice), the canary
//! traffic from its per-tick counters.
//!
//! The model: each tick interval's count of bad canary requests (5xx, non-auth 4xx, or
//! slower than the limit) is Binomial(canary requests of the interval, baseline rate),
//! independent across intervals. Windows overlap, so the per-window probabilities do
//! not multiply: the chain's state is the counts of the window's last `window - 1`
//! intervals (each capped at the largest count a breach needs, which keeps every
//! breach decision exact) and the trigger's sustain counter, walked tick by tick over
//! the stage with the engine's rules (a window below `min_requests` is not judged and
//! resets the sustain counter). The interval propagates the baseline rate's 95 %
//! Wilson interval through the chain (the odds rise with the rate). When the state
//! space is too large, a union bound over the windows answers if it is small
//! ([`Method::Bound`]); otherwise the odds come from replays of a healthy canary
//! through the real engine, which the application layer draws ([`ReplayHits`]: the
//! engine has no random numbers). Only the least-traffic search, a guide, samples the
//! chain itself when it is large (SplitMix64 from a fixed seed).

use crate::gate::Gate;
use crate::policy::Policy;
use crate::ratio::Ratio;

use super::fold::{Folded, slot};

/// Replays per step of the least-traffic search when its chain is sampled.
const SEARCH_REPLAYS: u32 = 300;
/// The largest exact chain: states times counts per step.
const MAX_EXACT_WORK: usize = 50_000;
/// The odds the least traffic is sought for.
pub const TARGET: f64 = 0.01;

/// The status classes of [`BaselineCounts`].
pub mod class {
    /// Neither 5xx nor non-auth 4xx (2xx, 3xx, 401, 403, ...).
    pub const OTHER: usize = 0;
    pub const E5XX: usize = 1;
    /// 4xx other than 401 and 403.
    pub const E4XX: usize = 2;
    pub const COUNT: usize = 3;
}

/// The status class of a request's status code.
#[inline]
pub fn status_class(status: u16) -> usize {
    // Without a branch: the fold takes it for every request.
    let e5xx = status.wrapping_sub(500) < 100;
    let e4xx = (status.wrapping_sub(400) < 100) & (status != 401) & (status != 403);
    usize::from(e5xx) * class::E5XX + usize::from(e4xx) * class::E4XX
}

/// The baseline's real requests within the rollout, counted by the fold: per status
/// class and latency band (the fold's bands), a fixed-size table whatever the data
/// volume. The odds need its margins; the Monte Carlo replays draw whole requests
/// (class and band together) from it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BaselineCounts {
    /// Latency bands (the fold's band thresholds plus one).
    nb: usize,
    /// `counts[class * nb + band]`.
    counts: Vec<u64>,
}

impl BaselineCounts {
    /// An empty table over `nb` latency bands.
    pub fn new(nb: usize) -> Self {
        BaselineCounts {
            nb,
            counts: vec![0; class::COUNT * nb],
        }
    }

    /// Counts `n` baseline requests of status class `class` and latency band `band`.
    #[inline]
    pub fn add_n(&mut self, class: usize, band: usize, n: u64) {
        self.counts[class * self.nb + band] += n;
    }

    /// Adds another part's counts (sums: the split of the requests does not matter).
    pub fn merge(&mut self, other: &BaselineCounts) {
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += *b;
        }
    }

    /// Latency bands per class.
    pub fn bands(&self) -> usize {
        self.nb
    }

    /// Requests of status class `class` in latency band `band`.
    pub fn get(&self, class: usize, band: usize) -> u64 {
        self.counts[class * self.nb + band]
    }

    /// Every baseline request counted.
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }
}

/// The baseline's margins the chain needs: its real requests within the rollout and
/// the counts of 5xx, non-auth 4xx and latencies above each of the fold's latency
/// bands, all read off the fold's [`BaselineCounts`].
#[derive(Clone, Debug)]
pub struct BaselineTally {
    /// Latency limits (us): the fold's band thresholds.
    pub limits: Vec<u64>,
    pub n: u64,
    pub e5: u64,
    pub e4: u64,
    /// Per limit, requests slower than it.
    pub above: Vec<u64>,
}

impl BaselineTally {
    /// The margins of the baseline the fold counted.
    pub fn of(f: &Folded) -> Self {
        let b = &f.baseline;
        let nb = b.bands();
        let row = |c: usize| (0..nb).map(|j| b.get(c, j)).sum::<u64>();
        let per_band: Vec<u64> = (0..nb)
            .map(|j| (0..class::COUNT).map(|c| b.get(c, j)).sum())
            .collect();
        // Slower than threshold i: in band i + 1 or above.
        let above = (0..f.bands.len())
            .map(|i| per_band[i + 1..].iter().sum())
            .collect();
        BaselineTally {
            limits: f.bands.clone(),
            n: b.total(),
            e5: row(class::E5XX),
            e4: row(class::E4XX),
            above,
        }
    }

    /// Requests slower than `us`, which must be one of the fold's bands (0 otherwise).
    fn above_of(&self, us: u64) -> u64 {
        self.limits
            .iter()
            .position(|l| *l == us)
            .map_or(0, |i| self.above[i])
    }
}

/// A probability with its 95 % interval.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Odds {
    pub p: f64,
    pub low: f64,
    pub high: f64,
}

/// How the odds were computed (in order: a row or stage takes its gates' last).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Method {
    Exact,
    /// Far below the threshold: the chain is not walked, the union of the per-tick
    /// breach probabilities bounds the odds from above (below [`BOUND_MAX`]).
    Bound,
    MonteCarlo,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Exact => "exact",
            Method::Bound => "bound",
            Method::MonteCarlo => "monte_carlo",
        }
    }
}

/// The largest union bound (at the top of the baseline rate's interval) reported as
/// the odds instead of walking or replaying the chain.
pub const BOUND_MAX: f64 = 1e-3;

/// How a chain's odds are found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tier {
    Exact,
    Bound,
    Replays,
}

/// P(X >= k) for X ~ Binomial(n, r), when k is above the mean (`None` otherwise):
/// the terms from k up, which fall geometrically, summed in log space for the first.
fn upper_tail(n: u64, r: f64, k: u64) -> Option<f64> {
    if r <= 0.0 || k > n {
        return Some(0.0);
    }
    if (k as f64) <= n as f64 * r {
        return None;
    }
    if r >= 1.0 {
        return Some(1.0);
    }
    // ln C(n, k) + k ln r + (n - k) ln(1 - r), C(n, k) through ln Γ: O(1) whatever k.
    let (nf, kf) = (n as f64, k as f64);
    let ln = ln_gamma(nf + 1.0) - ln_gamma(kf + 1.0) - ln_gamma(nf - kf + 1.0)
        + kf * r.ln()
        + (nf - kf) * (-r).ln_1p();
    let mut term = ln.exp();
    let mut sum = 0.0;
    let mut x = k;
    while term > 0.0 && x <= n {
        sum += term;
        if term < sum * 1e-17 {
            break;
        }
        term *= (n - x) as f64 / (x + 1) as f64 * r / (1.0 - r);
        x += 1;
    }
    Some(sum.min(1.0))
}

/// The union bound: the sum over the stage's judged windows of the probability that
/// the window alone breaches (`None` when some window's need is not above its mean).
/// A sustained breach needs a breach, so it bounds the rollback odds too.
fn union_bound(plan: &StagePlan, rule: Rule, rate: f64) -> Option<f64> {
    let (need, _) = needs(plan, rule);
    let mut sum = 0.0;
    for (n, k) in plan.window_n.iter().zip(&need) {
        if *n > 0 {
            sum += upper_tail(*n, rate, *k)?;
        }
    }
    Some(sum.min(1.0))
}

/// The largest single window's breach probability: a lower bound on the hold odds.
fn max_window(plan: &StagePlan, rule: Rule, rate: f64) -> f64 {
    let (need, _) = needs(plan, rule);
    plan.window_n
        .iter()
        .zip(&need)
        .filter(|(n, _)| **n > 0)
        .map(|(n, k)| upper_tail(*n, rate, *k).unwrap_or(0.0))
        .fold(0.0, f64::max)
}

/// How the chain of `rule` is found at baseline rates up to `high`.
fn tier(plan: &StagePlan, rule: Rule, sustain: Option<usize>, high: f64) -> Tier {
    if tractable(plan, rule, sustain) {
        Tier::Exact
    } else if union_bound(plan, rule, high).is_some_and(|u| u <= BOUND_MAX) {
        Tier::Bound
    } else {
        Tier::Replays
    }
}

/// One gate's odds in one stage.
#[derive(Clone, Debug, PartialEq)]
pub struct GateOdds {
    pub gate: Gate,
    /// The baseline's rate of bad requests for this gate (5xx, non-auth 4xx, slower
    /// than the limit).
    pub baseline_rate: f64,
    /// A Go breach at some tick of the stage (a false hold), when the gate is a Go gate.
    pub hold: Option<Odds>,
    /// The trigger held for the sustain span (a false rollback), when it is a trigger.
    pub rollback: Option<Odds>,
    pub method: Method,
    /// The least canary requests per window that keep the hold and rollback odds
    /// (point estimates) below 1 %, when some count up to 10 million does.
    pub min_window_requests: Option<u64>,
}

/// A stage's odds: per gate, and combined (the gates taken as independent).
#[derive(Clone, Debug, PartialEq)]
pub struct StageOdds {
    pub gates: Vec<GateOdds>,
    pub hold: Odds,
    pub rollback: Odds,
    /// Exact when every gate's is.
    pub method: Method,
}

/// One bad-request gate in one stage: the threshold that decides a breach.
#[derive(Clone, Copy)]
enum Rule {
    /// Breach when `bad / n >= ratio`.
    Rate(Ratio),
    /// Breach when `bad > n - ceil(q * n)` (a quantile above the limit).
    Quantile(Ratio),
}

impl Rule {
    /// The least bad count that breaches a window of `n` requests.
    fn least(&self, n: u64) -> u64 {
        match self {
            Rule::Rate(r) => r.ceil_mul(n).max(1),
            Rule::Quantile(q) => n - q.ceil_mul(n) + 1,
        }
    }
}

/// What the chain needs about a stage: each tick's interval traffic and window.
struct StagePlan {
    /// Per tick of the stage: the newest interval's canary requests.
    n: Vec<u64>,
    /// Per tick: the window's requests (0 when below `min_requests`).
    window_n: Vec<u64>,
    window: usize,
    /// The policy's least window that is judged.
    min_requests: u64,
}

/// The gates the odds cover, in report order.
pub const GATES: [Gate; 4] = [
    Gate::ErrorRate5xx,
    Gate::ErrorRate4xxNonauth,
    Gate::LatencyP95,
    Gate::LatencyP99,
];

/// One chain's replays (see [`ReplayHits`]): how many stopped at the baseline's own
/// rates, and the odds at the low and the high ends of the baseline rate's 95 %
/// interval, each from as many replays again drawn from the baseline tilted to that
/// end, with their standard errors.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ReplayEstimate {
    pub hits: u32,
    pub low: f64,
    pub low_se: f64,
    pub high: f64,
    pub high_se: f64,
}

/// Replays of a healthy canary through the engine, drawn by the application layer
/// (the engine has no random numbers) where a chain is too large to walk and too
/// likely to bound: per stage, per gate of [`GATES`], a Go breach at some tick of the
/// stage (a false hold, `[0]`) and the trigger held for the sustain span (a false
/// rollback, `[1]`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ReplayHits {
    pub replays: u32,
    pub hits: Vec<[[ReplayEstimate; 2]; GATES.len()]>,
}

/// Some chain of the policy over this fold is too large to walk exactly: its odds
/// need [`ReplayHits`].
#[derive(Debug, thiserror::Error)]
#[error("the odds of stage {stage} need Monte Carlo replays (an exact chain is too large to walk)")]
pub struct NeedsReplays {
    pub stage: String,
}

/// One gate's chains in one stage: its bad count and the rules that judge it.
struct Spec {
    gate: Gate,
    bad: u64,
    go: Option<Rule>,
    trig: Option<Rule>,
}

/// Per stage: its plan and its gates' chains, `None` for a stage without canary
/// traffic (or without a baseline).
fn specs(p: &Policy, f: &Folded, base: &BaselineTally) -> Vec<Option<(StagePlan, Vec<Spec>)>> {
    p.stages
        .iter()
        .map(|stage| {
            let m = (stage.start_ms / f.tick_ms) as usize;
            let k_end = ((stage.end_ms() / f.tick_ms) as usize).min(f.ticks);
            let n: Vec<u64> = (m..k_end)
                .map(|j| f.interval_counters(j)[slot::N])
                .collect();
            if stage.weight <= 0.0 || n.iter().all(|x| *x == 0) || base.n == 0 {
                return None;
            }
            let window_n = (0..n.len())
                .map(|t| {
                    let lo = (t + 1).saturating_sub(p.window_ticks);
                    let w: u64 = n[lo..=t].iter().sum();
                    if w >= p.min_requests { w } else { 0 }
                })
                .collect();
            let plan = StagePlan {
                n,
                window_n,
                window: p.window_ticks.max(1),
                min_requests: p.min_requests,
            };
            let mut v = vec![
                Spec {
                    gate: Gate::ErrorRate5xx,
                    bad: base.e5,
                    go: Some(Rule::Rate(p.go_5xx)),
                    trig: Some(Rule::Rate(p.trig_5xx)),
                },
                Spec {
                    gate: Gate::ErrorRate4xxNonauth,
                    bad: base.e4,
                    go: Some(Rule::Rate(p.go_4xx)),
                    trig: Some(Rule::Rate(p.trig_4xx)),
                },
            ];
            // The stage's Go p95 and the p95 trigger judge the same quantile against
            // different limits: two chains (one row) when the limits differ.
            let go95 = stage.go_p95_us;
            if go95 == p.trig_p95_us {
                v.push(Spec {
                    gate: Gate::LatencyP95,
                    bad: base.above_of(go95),
                    go: Some(Rule::Quantile(p.q95)),
                    trig: Some(Rule::Quantile(p.q95)),
                });
            } else {
                v.push(Spec {
                    gate: Gate::LatencyP95,
                    bad: base.above_of(go95),
                    go: Some(Rule::Quantile(p.q95)),
                    trig: None,
                });
                v.push(Spec {
                    gate: Gate::LatencyP95,
                    bad: base.above_of(p.trig_p95_us),
                    go: None,
                    trig: Some(Rule::Quantile(p.q95)),
                });
            }
            v.push(Spec {
                gate: Gate::LatencyP99,
                bad: base.above_of(p.trig_p99_us),
                go: Gate::LatencyP99.is_go().then_some(Rule::Quantile(p.q99)),
                trig: Some(Rule::Quantile(p.q99)),
            });
            Some((plan, v))
        })
        .collect()
}

/// The stages (indexes into the policy's) with a chain too large to walk exactly:
/// their odds need [`ReplayHits`]. Empty when every chain is exact.
pub fn stages_needing_replays(p: &Policy, f: &Folded) -> Vec<usize> {
    let mut stages: Vec<usize> = chains_needing_replays(p, f).iter().map(|c| c.0).collect();
    stages.dedup();
    stages
}

/// One chain of the odds: a stage (index into the policy's), a gate (index into
/// [`GATES`]) and its kind (`0` the hold, `1` the rollback).
pub type Chain = (usize, usize, usize);

/// The chains too large to walk exactly and too likely to bound: the ones whose odds
/// come from [`ReplayHits`], in stage, gate and kind order.
pub fn chains_needing_replays(p: &Policy, f: &Folded) -> Vec<Chain> {
    let tally = BaselineTally::of(f);
    let sustain = p.sustain_ticks.max(1);
    let mut out = Vec::new();
    for (si, spec) in specs(p, f, &tally).iter().enumerate() {
        let Some((plan, gates)) = spec.as_ref() else {
            continue;
        };
        for g in gates {
            let gi = GATES.iter().position(|x| *x == g.gate).unwrap_or(0);
            let high = wilson(g.bad, tally.n).1;
            for (kind, rule, s) in [(0, g.go, None), (1, g.trig, Some(sustain))] {
                if rule.is_some_and(|r| tier(plan, r, s, high) == Tier::Replays) {
                    out.push((si, gi, kind));
                }
            }
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// Whether every chain of `p` over `f` can be walked exactly; when not, the first
/// stage whose odds need [`ReplayHits`].
pub fn check_exact(p: &Policy, f: &Folded) -> Result<(), NeedsReplays> {
    match stages_needing_replays(p, f).first() {
        None => Ok(()),
        Some(&si) => Err(NeedsReplays {
            stage: p.stages[si].name.clone(),
        }),
    }
}

/// The odds of every stage with canary traffic (`None` for the others): exact where
/// every chain can be walked, else from `replays` for the chains that cannot (an
/// error when none were given).
pub fn odds(
    p: &Policy,
    f: &Folded,
    replays: Option<&ReplayHits>,
) -> Result<Vec<Option<StageOdds>>, NeedsReplays> {
    if replays.is_none() {
        check_exact(p, f)?;
    }
    let tally = BaselineTally::of(f);
    let n = tally.n;
    Ok(specs(p, f, &tally)
        .into_iter()
        .enumerate()
        .map(|(si, spec)| {
            let (plan, specs) = spec?;
            let hits = replays.map(|r| (r.replays, &r.hits[si]));
            let mut gates: Vec<GateOdds> = Vec::with_capacity(GATES.len());
            for sp in &specs {
                let gi = GATES.iter().position(|g| *g == sp.gate).unwrap_or(0);
                let gh = hits.map(|(r, h)| (r, &h[gi]));
                let g = gate_odds(&plan, sp, n, p, gh);
                // A second chain of the same gate (the p95 trigger's own limit) fills
                // the row's rollback.
                match gates.last_mut() {
                    Some(prev) if prev.gate == g.gate => {
                        prev.rollback = g.rollback;
                        prev.min_window_requests =
                            match (prev.min_window_requests, g.min_window_requests) {
                                (Some(a), Some(b)) => Some(a.max(b)),
                                _ => None,
                            };
                        prev.method = prev.method.max(g.method);
                    }
                    _ => gates.push(g),
                }
            }
            let combine = |pick: &dyn Fn(&GateOdds) -> Option<Odds>| {
                let all: Vec<Odds> = gates.iter().filter_map(pick).collect();
                let any = |f: &dyn Fn(&Odds) -> f64| {
                    1.0 - all.iter().map(|o| 1.0 - f(o)).product::<f64>()
                };
                Odds {
                    p: any(&|o| o.p),
                    low: any(&|o| o.low),
                    high: any(&|o| o.high),
                }
            };
            let method = gates
                .iter()
                .map(|g| g.method)
                .max()
                .unwrap_or(Method::Exact);
            Some(StageOdds {
                hold: combine(&|g| g.hold),
                rollback: combine(&|g| g.rollback),
                gates,
                method,
            })
        })
        .collect())
}

/// The 95 % Wilson interval of `k` successes in `n`.
pub fn wilson(k: u64, n: u64) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    let z = 1.959_963_984_540_054_f64;
    let (k, n) = (k as f64, n as f64);
    let ph = k / n;
    let d = 1.0 + z * z / n;
    let c = (ph + z * z / (2.0 * n)) / d;
    let h = z * ((ph * (1.0 - ph) + z * z / (4.0 * n)) / n).sqrt() / d;
    ((c - h).max(0.0), (c + h).min(1.0))
}

/// One gate's odds from its chains: exact where they can be walked, else from the
/// replays' hits (`(replays, [level][hold, rollback])`).
fn gate_odds(
    plan: &StagePlan,
    spec: &Spec,
    n: u64,
    p: &Policy,
    hits: Option<(u32, &[ReplayEstimate; 2])>,
) -> GateOdds {
    let bad = spec.bad;
    let rate = bad as f64 / n as f64;
    let (lo, hi) = wilson(bad, n);
    let sustain = p.sustain_ticks.max(1);
    let mut method = Method::Exact;
    let mut one = |rule: Rule, sustain: Option<usize>, kind: usize| {
        match tier(plan, rule, sustain, hi) {
            Tier::Exact => {
                let pt = chain(plan, rule, sustain, rate);
                let pl = chain(plan, rule, sustain, lo);
                let ph = chain(plan, rule, sustain, hi);
                return Odds {
                    p: pt,
                    low: pl.min(pt),
                    high: ph.max(pt),
                };
            }
            Tier::Bound => {
                method = method.max(Method::Bound);
                let bound = |r: f64| union_bound(plan, rule, r).unwrap_or(BOUND_MAX);
                // A hold needs one window to breach: the likeliest one bounds it from
                // below; a sustained breach has no such simple floor.
                let floor = if sustain.is_none() {
                    max_window(plan, rule, lo)
                } else {
                    0.0
                };
                return Odds {
                    p: bound(rate),
                    low: floor,
                    high: bound(hi),
                };
            }
            Tier::Replays => {}
        }
        method = Method::MonteCarlo;
        let Some((r, h)) = hits else {
            // Not reached: `odds` checks every chain first when it has no replays.
            return Odds {
                p: 0.0,
                low: 0.0,
                high: 1.0,
            };
        };
        let e = h[kind];
        let pt = e.hits as f64 / r as f64;
        // The sampling error of the replays, and the ends of the baseline's interval
        // (each replayed, widened by 1.96 standard errors).
        let (wl, wh) = wilson(e.hits as u64, r as u64);
        let low = wl.min((e.low - 1.96 * e.low_se).max(0.0));
        let high = wh.max((e.high + 1.96 * e.high_se).min(1.0));
        Odds { p: pt, low, high }
    };
    let hold = spec.go.map(|r| one(r, None, 0));
    let rollback = spec.trig.map(|r| one(r, Some(sustain), 1));
    let min_window_requests = least_traffic(plan, spec.go, spec.trig, sustain, rate);
    GateOdds {
        gate: spec.gate,
        baseline_rate: rate,
        hold,
        rollback,
        method,
        min_window_requests,
    }
}

/// The least window size (requests, spread evenly over the window's intervals) at
/// which both odds fall below [`TARGET`], by bisection from `min_requests` to 10 million requests
/// (the odds fall as the traffic grows, up to the steps of whole requests a threshold
/// rounds to, so the result is the crossing the bisection finds, within 2 %).
fn least_traffic(
    plan: &StagePlan,
    go: Option<Rule>,
    trig: Option<Rule>,
    sustain: usize,
    rate: f64,
) -> Option<u64> {
    if rate <= 0.0 {
        return Some(0);
    }
    let ticks = plan.n.len();
    let w = plan.window as u64;
    let below = |size: u64| {
        let per = size.div_ceil(w);
        let even = StagePlan {
            n: vec![per; ticks],
            window_n: (0..ticks)
                .map(|t| {
                    let n = per * ((t + 1).min(plan.window) as u64);
                    if n >= plan.min_requests { n } else { 0 }
                })
                .collect(),
            window: plan.window,
            min_requests: plan.min_requests,
        };
        let ok = |r: Option<Rule>, s: Option<usize>| {
            r.is_none_or(|r| chain_or_sample(&even, r, s, rate) < TARGET)
        };
        ok(go, None) && ok(trig, Some(sustain))
    };
    // Smaller windows are not judged at all; the search starts at the least judged.
    let mut lo = plan.min_requests.max(10);
    if below(lo) {
        return Some(lo.div_ceil(w) * w);
    }
    // Doubling to the first size below, then bisection between the last two.
    let mut hi = lo * 2;
    while !below(hi) {
        if hi >= 10_000_000 {
            return None;
        }
        lo = hi;
        hi = (hi * 2).min(10_000_000);
    }
    while hi > lo + lo / 50 + 1 {
        let mid = ((lo as f64) * (hi as f64)).sqrt() as u64;
        let mid = mid.clamp(lo + 1, hi - 1);
        if below(mid) {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    Some(hi.div_ceil(w) * w)
}

/// Each tick's least breaching count (`u64::MAX` for a window not judged), and the
/// largest of them, the cap of the chain's counts (`None` when no window is judged).
fn needs(plan: &StagePlan, rule: Rule) -> (Vec<u64>, Option<u64>) {
    let need: Vec<u64> = plan
        .window_n
        .iter()
        .map(|n| if *n == 0 { u64::MAX } else { rule.least(*n) })
        .collect();
    let cap = need.iter().copied().filter(|k| *k != u64::MAX).max();
    (need, cap)
}

/// Whether the chain of `rule` over the stage is small enough to walk exactly.
fn tractable(plan: &StagePlan, rule: Rule, sustain: Option<usize>) -> bool {
    let Some(cap) = needs(plan, rule).1 else {
        return true;
    };
    let base = cap as usize + 1;
    let states = base
        .checked_pow(plan.window as u32 - 1)
        .and_then(|h| h.checked_mul(sustain.unwrap_or(1)));
    states.is_some_and(|st| st.saturating_mul(base) <= MAX_EXACT_WORK)
}

/// The probability that `rule` breaches at some tick (`sustain` `None`) or for
/// `sustain` consecutive ticks, over the stage, at bad-request rate `rate`, from the
/// exact chain (which must be [`tractable`]).
fn chain(plan: &StagePlan, rule: Rule, sustain: Option<usize>, rate: f64) -> f64 {
    if rate <= 0.0 {
        return 0.0;
    }
    let (need, Some(cap)) = needs(plan, rule) else {
        return 0.0;
    };
    let pmfs: Vec<Vec<f64>> = plan.n.iter().map(|n| capped_pmf(*n, rate, cap)).collect();
    exact(
        &pmfs,
        &need,
        plan.window - 1,
        cap as usize + 1,
        sustain.unwrap_or(1),
    )
}

/// The least-traffic search's chain: exact when it is small, else sampled
/// ([`SEARCH_REPLAYS`] seeded draws of the same Binomial counts; a guide, not a
/// reported probability).
fn chain_or_sample(plan: &StagePlan, rule: Rule, sustain: Option<usize>, rate: f64) -> f64 {
    if rate <= 0.0 || tractable(plan, rule, sustain) {
        return chain(plan, rule, sustain, rate);
    }
    let (need, Some(cap)) = needs(plan, rule) else {
        return 0.0;
    };
    // One CDF per distinct interval count (the search spreads a window evenly, so
    // usually one), each over the counts that carry any mass: its memory and time
    // grow with the standard deviation, not with the count.
    let mut cdfs: Vec<(u64, (u64, Vec<f64>))> = Vec::new();
    let at: Vec<usize> = plan
        .n
        .iter()
        .map(|n| {
            cdfs.iter().position(|(m, _)| m == n).unwrap_or_else(|| {
                cdfs.push((*n, truncated_cdf(*n, rate, cap)));
                cdfs.len() - 1
            })
        })
        .collect();
    let ticks: Vec<(u64, &[f64])> = at
        .iter()
        .map(|&i| (cdfs[i].1.0, cdfs[i].1.1.as_slice()))
        .collect();
    sample_cdfs(
        &ticks,
        &need,
        plan.window,
        sustain.unwrap_or(1),
        7,
        SEARCH_REPLAYS,
    )
}

/// ln Γ(x) for x >= 0.5 (Lanczos, g = 7, nine terms; relative error about 1e-15).
fn ln_gamma(x: f64) -> f64 {
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    let x = x - 1.0;
    let t = x + 7.5;
    let a = C[1..]
        .iter()
        .enumerate()
        .fold(C[0], |a, (i, c)| a + c / (x + i as f64 + 1.0));
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

/// The CDF of a Binomial(n, p) count capped at `cap` (as [`capped_pmf`]) over the
/// counts within 12 standard deviations of the mean: `(first count, cumulative
/// probabilities)`, its last entry standing for every count from there up. The mass
/// dropped below is under 1e-30.
fn truncated_cdf(n: u64, p: f64, cap: u64) -> (u64, Vec<f64>) {
    let cap = cap.min(n + 1);
    if p >= 1.0 {
        return (n.min(cap), vec![1.0]);
    }
    let (mean, sd) = (n as f64 * p, (n as f64 * p * (1.0 - p)).sqrt());
    let lo = ((mean - 12.0 * sd - 1.0).floor().max(0.0) as u64).min(cap);
    let hi = ((mean + 12.0 * sd + 1.0).ceil().max(0.0) as u64).clamp(lo, cap);
    let (nf, k) = (n as f64, lo as f64);
    let mut term = if lo > n {
        0.0
    } else {
        (ln_gamma(nf + 1.0) - ln_gamma(k + 1.0) - ln_gamma(nf - k + 1.0)
            + k * p.ln()
            + (nf - k) * (1.0 - p).ln())
        .exp()
    };
    let mut v = Vec::with_capacity((hi - lo + 1) as usize);
    let mut acc = 0.0;
    for x in lo..hi {
        acc += term;
        v.push(acc);
        term *= (n - x.min(n)) as f64 / (x as f64 + 1.0) * p / (1.0 - p);
    }
    v.push(1.0f64.max(acc));
    (lo, v)
}

/// P(X = x) for x < cap and P(X >= cap), X ~ Binomial(n, p).
fn capped_pmf(n: u64, p: f64, cap: u64) -> Vec<f64> {
    let cap = cap.min(n + 1) as usize;
    let mut v = Vec::with_capacity(cap + 1);
    let mut term = (n as f64 * (1.0 - p).ln()).exp();
    let mut sum = 0.0;
    for x in 0..cap {
        if x as u64 > n {
            term = 0.0;
        }
        v.push(term);
        sum += term;
        term *= (n - (x as u64).min(n)) as f64 / (x as f64 + 1.0) * p / (1.0 - p);
    }
    v.push((1.0 - sum).max(0.0));
    v
}

/// The exact chain: state = (the last `hist` capped counts, the sustain counter).
fn exact(pmfs: &[Vec<f64>], need: &[u64], hist: usize, base: usize, s: usize) -> f64 {
    let hsize = base.pow(hist as u32);
    let mut dist = vec![0.0f64; hsize * s];
    let mut next = vec![0.0f64; hsize * s];
    dist[0] = 1.0;
    let mut fired = 0.0;
    let top = if hist == 0 {
        1
    } else {
        base.pow(hist as u32 - 1)
    };
    // Per history: the window sum of its counts, and the history with its oldest
    // count (the highest digit) dropped and room for the newest, computed once.
    let mut sums = vec![0u64; hsize];
    let mut shifted = vec![0usize; hsize];
    for h in 0..hsize {
        let mut r = h;
        for _ in 0..hist {
            sums[h] += (r % base) as u64;
            r /= base;
        }
        if hist > 0 {
            shifted[h] = (h % top) * base;
        }
    }
    let last = base - 1;
    for (t, pmf) in pmfs.iter().enumerate() {
        next.fill(0.0);
        let need_t = need[t];
        for h in 0..hsize {
            let sum = sums[h];
            let push = shifted[h];
            for c in 0..s {
                let mass = dist[h * s + c];
                if mass == 0.0 {
                    continue;
                }
                for (x, &px) in pmf.iter().enumerate() {
                    if px == 0.0 {
                        continue;
                    }
                    let breach = sum + x as u64 >= need_t;
                    let c2 = if breach { c + 1 } else { 0 };
                    if c2 >= s {
                        fired += mass * px;
                        continue;
                    }
                    // Drop the oldest count, push x.
                    let h2 = if hist == 0 { 0 } else { push + x.min(last) };
                    next[h2 * s + c2] += mass * px;
                }
            }
        }
        std::mem::swap(&mut dist, &mut next);
    }
    fired.min(1.0)
}

/// The chain sampled: `replays` seeded draws.
#[cfg(test)]
fn sample(
    pmfs: &[Vec<f64>],
    need: &[u64],
    window: usize,
    s: usize,
    seed: u64,
    replays: u32,
) -> f64 {
    let cdfs: Vec<Vec<f64>> = pmfs
        .iter()
        .map(|p| {
            let mut acc = 0.0;
            p.iter()
                .map(|x| {
                    acc += x;
                    acc
                })
                .collect()
        })
        .collect();
    let ticks: Vec<(u64, &[f64])> = cdfs.iter().map(|c| (0, c.as_slice())).collect();
    sample_cdfs(&ticks, need, window, s, seed, replays)
}

/// The chain sampled from each tick's count CDF (`(first count, cumulative
/// probabilities)`): `replays` seeded draws.
fn sample_cdfs(
    cdfs: &[(u64, &[f64])],
    need: &[u64],
    window: usize,
    s: usize,
    seed: u64,
    replays: u32,
) -> f64 {
    let mut rng = SplitMix64(seed);
    let mut counts = vec![0u64; window];
    let mut hits = 0u32;
    for _ in 0..replays {
        counts.fill(0);
        // The window's sum, kept as counts enter and leave it.
        let mut sum = 0u64;
        let mut run = 0usize;
        for (t, (first, cdf)) in cdfs.iter().enumerate() {
            let u = rng.u01();
            let x = first + cdf.partition_point(|c| *c <= u).min(cdf.len() - 1) as u64;
            let slot = &mut counts[t % window];
            sum = sum - *slot + x;
            *slot = x;
            if sum >= need[t] {
                run += 1;
                if run >= s {
                    hits += 1;
                    break;
                }
            } else {
                run = 0;
            }
        }
    }
    hits as f64 / replays as f64
}

/// SplitMix64 (Steele, Lea and Flood, 2014): a small, seeded, well-mixed generator.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1) with 53 random bits.
    fn u01(&mut self) -> f64 {
        (self.next() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(n: Vec<u64>, window: usize, min: u64) -> StagePlan {
        let window_n = (0..n.len())
            .map(|t| {
                let lo = (t + 1).saturating_sub(window);
                let w: u64 = n[lo..=t].iter().sum();
                if w >= min { w } else { 0 }
            })
            .collect();
        StagePlan {
            n,
            window_n,
            window,
            min_requests: min,
        }
    }

    /// With one-tick windows and no sustain the stage breaches unless every tick
    /// stays under: 1 - prod P(X_t < k).
    #[test]
    fn one_tick_windows_match_the_closed_form() {
        let pl = plan(vec![200; 30], 1, 1);
        let rule = Rule::Rate(Ratio::new(1, 100)); // 2 of 200
        assert!(tractable(&pl, rule, None));
        let got = chain(&pl, rule, None, 0.003);
        let p0 = 0.997f64.powi(200);
        let p1 = 200.0 * 0.003 * 0.997f64.powi(199);
        let want = 1.0 - (p0 + p1).powi(30);
        assert!((got - want).abs() < 1e-9, "{got} vs {want}");
    }

    /// The truncated CDF the least-traffic search samples from is the capped one
    /// where both can be built, and stays small at ten million requests.
    #[test]
    fn the_truncated_cdf_matches_the_capped_pmf_and_stays_small() {
        for (n, p, cap) in [
            (50u64, 0.01, 6u64),
            (2_000, 0.05, 130),
            (30_000, 0.003, 200),
        ] {
            let pmf = capped_pmf(n, p, cap);
            let mut acc = 0.0;
            let full: Vec<f64> = pmf
                .iter()
                .map(|x| {
                    acc += x;
                    acc
                })
                .collect();
            let (first, cdf) = truncated_cdf(n, p, cap);
            assert!(first as usize + cdf.len() <= full.len(), "{n} {p}");
            for (i, c) in cdf.iter().enumerate().take(cdf.len() - 1) {
                let want = full[first as usize + i];
                assert!(
                    (c - want).abs() < 1e-9,
                    "n {n} count {}: {c} vs {want}",
                    first as usize + i
                );
            }
            assert_eq!(*cdf.last().expect("an entry"), 1.0);
        }
        // Ten million requests at 5 %: a capped PMF would hold 600,001 entries.
        let (first, cdf) = truncated_cdf(10_000_000, 0.05, 600_000);
        assert!(cdf.len() < 20_000, "{}", cdf.len());
        assert!(first > 400_000 && first < 500_000, "{first}");
        assert!(
            (cdf[cdf.len() / 2] - 0.5).abs() < 0.05,
            "the median is mid-range"
        );
    }

    /// The exact chain and the sampled one agree on overlapping windows with a
    /// sustain span (within the sampling error).
    #[test]
    fn the_exact_chain_and_its_samples_agree() {
        let pl = plan(vec![40; 60], 5, 100);
        let rule = Rule::Rate(Ratio::new(1, 100));
        let need: Vec<u64> = pl
            .window_n
            .iter()
            .map(|n| if *n == 0 { u64::MAX } else { rule.least(*n) })
            .collect();
        let cap = *need.iter().filter(|k| **k != u64::MAX).max().unwrap();
        let pmfs: Vec<Vec<f64>> = pl.n.iter().map(|n| capped_pmf(*n, 0.004, cap)).collect();
        for s in [1, 3] {
            let e = exact(&pmfs, &need, 4, cap as usize + 1, s);
            let mc = sample(&pmfs, &need, 5, s, 42, 4000);
            let sd = (e * (1.0 - e) / 4000.0).sqrt();
            assert!((e - mc).abs() < 4.0 * sd + 1e-3, "sustain {s}: {e} vs {mc}");
            assert!(e > 0.01 && e < 0.99, "a test that can fail: {e}");
        }
    }

    /// The Binomial upper tail against the sum of its terms, and the union bound and
    /// the likeliest window around the exact chain's hold odds.
    #[test]
    fn the_bound_brackets_the_exact_chain() {
        // P(X >= 3), X ~ Bin(40, 0.02), from the terms below 3.
        let (n, r) = (40u64, 0.02f64);
        let term = |x: u64| {
            let mut c = 1.0f64;
            for i in 0..x {
                c *= (n - i) as f64 / (i + 1) as f64;
            }
            c * r.powi(x as i32) * (1.0 - r).powi((n - x) as i32)
        };
        let want = 1.0 - (0..3).map(term).sum::<f64>();
        let got = upper_tail(n, r, 3).unwrap();
        assert!((got - want).abs() < 1e-12, "{got} vs {want}");
        assert_eq!(
            upper_tail(n, r, 0),
            None,
            "at or below the mean: no tail bound"
        );
        let pl = plan(vec![40; 30], 5, 100);
        let rule = Rule::Rate(Ratio::new(1, 100));
        assert!(tractable(&pl, rule, None));
        for rate in [0.0005, 0.001, 0.002] {
            let exact = chain(&pl, rule, None, rate);
            let upper = union_bound(&pl, rule, rate).unwrap();
            let lower = max_window(&pl, rule, rate);
            assert!(
                lower <= exact && exact <= upper,
                "{lower} <= {exact} <= {upper}"
            );
            assert!(exact > 1e-4, "a test that can fail: {exact}");
        }
    }

    /// At window sizes of real traffic (k in the thousands) the tail through ln Γ
    /// agrees with one that builds ln C(n, k) term by term.
    #[test]
    fn the_upper_tail_through_ln_gamma_matches_the_term_by_term_one() {
        let naive = |n: u64, r: f64, k: u64| {
            let mut ln = k as f64 * r.ln() + (n - k) as f64 * (-r).ln_1p();
            for i in 1..=k {
                ln += ((n - k + i) as f64 / i as f64).ln();
            }
            let (mut term, mut sum, mut x) = (ln.exp(), 0.0, k);
            while term > 0.0 && x <= n {
                sum += term;
                term *= (n - x) as f64 / (x + 1) as f64 * r / (1.0 - r);
                x += 1;
            }
            sum
        };
        for (n, r, k) in [
            (60_000u64, 0.04f64, 2_520u64),
            (60_000, 0.04, 2_700),
            (1_000_000, 0.001, 1_100),
            (5_000, 0.002, 25),
            (300, 0.01, 9),
        ] {
            let (got, want) = (upper_tail(n, r, k).unwrap(), naive(n, r, k));
            assert!(want > 1e-12, "a tail that can be compared: {want}");
            assert!(
                ((got - want) / want).abs() < 1e-8,
                "n {n} r {r} k {k}: {got} vs {want}"
            );
        }
    }

    #[test]
    fn status_classes_are_5xx_non_auth_4xx_and_the_rest() {
        for st in 0..=u16::MAX {
            let want = if (500..=599).contains(&st) {
                class::E5XX
            } else if (400..=499).contains(&st) && st != 401 && st != 403 {
                class::E4XX
            } else {
                class::OTHER
            };
            assert_eq!(status_class(st), want, "{st}");
        }
    }

    #[test]
    fn wilson_brackets_the_estimate() {
        let (lo, hi) = wilson(5, 1000);
        assert!(lo < 0.005 && 0.005 < hi && lo > 0.001 && hi < 0.012);
        assert!(wilson(0, 100).0 < 1e-12 && wilson(0, 100).1 > 0.01);
    }
}
