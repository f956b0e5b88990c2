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
//! resets the sustain counter). When that state space is too large (high traffic, long
//! windows) the same chain is sampled instead: [`MC_REPLAYS`] seeded replays (SplitMix64,
//! kept here so the engine needs no random-number crate),
//! the interval widened by the sampling error. The interval propagates the baseline
//! rate's 95 % Wilson interval through the chain (the odds rise with the rate).

use crate::gate::Gate;
use crate::policy::Policy;
use crate::ratio::Ratio;

use super::fold::{Folded, slot};

/// Monte Carlo replays when the exact chain is too large.
pub const MC_REPLAYS: u32 = 1000;
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
    if (500..=599).contains(&status) {
        class::E5XX
    } else if (400..=499).contains(&status) && status != 401 && status != 403 {
        class::E4XX
    } else {
        class::OTHER
    }
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

    /// Counts one baseline request: its status code and latency band.
    #[inline]
    pub fn add(&mut self, status: u16, band: usize) {
        self.counts[status_class(status) * self.nb + band] += 1;
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

/// How the odds were computed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Exact,
    MonteCarlo,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Exact => "exact",
            Method::MonteCarlo => "monte_carlo",
        }
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

/// The odds of every stage with canary traffic (`None` for the others).
pub fn odds(p: &Policy, f: &Folded, seed: u64) -> Vec<Option<StageOdds>> {
    let tally = BaselineTally::of(f);
    let base = &tally;
    p.stages
        .iter()
        .enumerate()
        .map(|(si, stage)| {
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
            let seed = seed ^ (si as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
            let mut gates = vec![
                gate_odds(
                    &plan,
                    Gate::ErrorRate5xx,
                    (base.e5, base.n),
                    Some(Rule::Rate(p.go_5xx)),
                    Some(Rule::Rate(p.trig_5xx)),
                    p,
                    seed ^ 1,
                ),
                gate_odds(
                    &plan,
                    Gate::ErrorRate4xxNonauth,
                    (base.e4, base.n),
                    Some(Rule::Rate(p.go_4xx)),
                    Some(Rule::Rate(p.trig_4xx)),
                    p,
                    seed ^ 2,
                ),
            ];
            // The stage's Go p95 and the p95 trigger judge the same quantile against
            // different limits: two rows when the limits differ.
            let go95 = stage.go_p95_us;
            if go95 == p.trig_p95_us {
                gates.push(gate_odds(
                    &plan,
                    Gate::LatencyP95,
                    (base.above_of(go95), base.n),
                    Some(Rule::Quantile(p.q95)),
                    Some(Rule::Quantile(p.q95)),
                    p,
                    seed ^ 3,
                ));
            } else {
                let mut g = gate_odds(
                    &plan,
                    Gate::LatencyP95,
                    (base.above_of(go95), base.n),
                    Some(Rule::Quantile(p.q95)),
                    None,
                    p,
                    seed ^ 3,
                );
                let t = gate_odds(
                    &plan,
                    Gate::LatencyP95,
                    (base.above_of(p.trig_p95_us), base.n),
                    None,
                    Some(Rule::Quantile(p.q95)),
                    p,
                    seed ^ 4,
                );
                g.rollback = t.rollback;
                g.min_window_requests = match (g.min_window_requests, t.min_window_requests) {
                    (Some(a), Some(b)) => Some(a.max(b)),
                    _ => None,
                };
                if t.method == Method::MonteCarlo {
                    g.method = Method::MonteCarlo;
                }
                gates.push(g);
            }
            let p99_go = Gate::LatencyP99.is_go();
            gates.push(gate_odds(
                &plan,
                Gate::LatencyP99,
                (base.above_of(p.trig_p99_us), base.n),
                p99_go.then_some(Rule::Quantile(p.q99)),
                Some(Rule::Quantile(p.q99)),
                p,
                seed ^ 5,
            ));
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
            let method = if gates.iter().all(|g| g.method == Method::Exact) {
                Method::Exact
            } else {
                Method::MonteCarlo
            };
            Some(StageOdds {
                hold: combine(&|g| g.hold),
                rollback: combine(&|g| g.rollback),
                gates,
                method,
            })
        })
        .collect()
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

fn gate_odds(
    plan: &StagePlan,
    gate: Gate,
    (bad, n): (u64, u64),
    go: Option<Rule>,
    trig: Option<Rule>,
    p: &Policy,
    seed: u64,
) -> GateOdds {
    let rate = bad as f64 / n as f64;
    let (lo, hi) = wilson(bad, n);
    let sustain = p.sustain_ticks.max(1);
    let mut method = Method::Exact;
    let mut one = |rule: Rule, sustain: Option<usize>| {
        let (pt, m) = chain(plan, rule, sustain, rate, seed, MC_REPLAYS);
        let (pl, _) = chain(plan, rule, sustain, lo, seed, MC_REPLAYS);
        let (ph, _) = chain(plan, rule, sustain, hi, seed, MC_REPLAYS);
        let (mut low, mut high) = (pl.min(pt), ph.max(pt));
        if m == Method::MonteCarlo {
            method = Method::MonteCarlo;
            // The sampling error of the replays at the bounds.
            let r = MC_REPLAYS as u64;
            low = wilson((low * r as f64).round() as u64, r).0;
            high = wilson((high * r as f64).round() as u64, r).1;
        }
        Odds { p: pt, low, high }
    };
    let hold = go.map(|r| one(r, None));
    let rollback = trig.map(|r| one(r, Some(sustain)));
    let min_window_requests = least_traffic(plan, go, trig, sustain, rate);
    GateOdds {
        gate,
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
            r.is_none_or(|r| chain(&even, r, s, rate, 7, SEARCH_REPLAYS).0 < TARGET)
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

/// The probability that `rule` breaches at some tick (`sustain` `None`) or for
/// `sustain` consecutive ticks, over the stage, at bad-request rate `rate`.
fn chain(
    plan: &StagePlan,
    rule: Rule,
    sustain: Option<usize>,
    rate: f64,
    seed: u64,
    replays: u32,
) -> (f64, Method) {
    if rate <= 0.0 {
        return (0.0, Method::Exact);
    }
    let need: Vec<u64> = plan
        .window_n
        .iter()
        .map(|n| if *n == 0 { u64::MAX } else { rule.least(*n) })
        .collect();
    let cap = need.iter().copied().filter(|k| *k != u64::MAX).max();
    let Some(cap) = cap else {
        return (0.0, Method::Exact);
    };
    let hist = plan.window - 1;
    let s = sustain.unwrap_or(1);
    let base = cap as usize + 1;
    let states = base.checked_pow(hist as u32).and_then(|h| h.checked_mul(s));
    // Per tick: the capped count's distribution.
    let pmfs: Vec<Vec<f64>> = plan.n.iter().map(|n| capped_pmf(*n, rate, cap)).collect();
    match states {
        Some(st) if st.saturating_mul(base) <= MAX_EXACT_WORK => {
            (exact(&pmfs, &need, hist, base, s), Method::Exact)
        }
        _ => (
            sample(&pmfs, &need, plan.window, s, seed, replays),
            Method::MonteCarlo,
        ),
    }
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

/// The chain sampled: [`MC_REPLAYS`] seeded replays.
fn sample(
    pmfs: &[Vec<f64>],
    need: &[u64],
    window: usize,
    s: usize,
    seed: u64,
    replays: u32,
) -> f64 {
    let mut rng = SplitMix64(seed);
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
    let mut counts = vec![0u64; window];
    let mut hits = 0u32;
    for _ in 0..replays {
        counts.fill(0);
        // The window's sum, kept as counts enter and leave it.
        let mut sum = 0u64;
        let mut run = 0usize;
        for (t, cdf) in cdfs.iter().enumerate() {
            let u = rng.u01();
            let x = cdf.partition_point(|c| *c <= u).min(cdf.len() - 1) as u64;
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
        let (got, m) = chain(&pl, rule, None, 0.003, 1, MC_REPLAYS);
        assert_eq!(m, Method::Exact);
        let p0 = 0.997f64.powi(200);
        let p1 = 200.0 * 0.003 * 0.997f64.powi(199);
        let want = 1.0 - (p0 + p1).powi(30);
        assert!((got - want).abs() < 1e-9, "{got} vs {want}");
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

    #[test]
    fn wilson_brackets_the_estimate() {
        let (lo, hi) = wilson(5, 1000);
        assert!(lo < 0.005 && 0.005 < hi && lo > 0.001 && hi < 0.012);
        assert!(wilson(0, 100).0 < 1e-12 && wilson(0, 100).1 > 0.01);
    }
}
