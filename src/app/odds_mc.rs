//! Monte Carlo odds of a false stop through the real engine, for the chains too large
//! to walk exactly: [`REPLAYS`] replays of a healthy canary, each a fold whose canary
//! requests are baseline requests resampled (status class and latency band drawn
//! together from the fold's [`crate::engine::odds::BaselineCounts`]) and relabelled
//! canary, as many per tick interval as the stage's canary actually had, evaluated by
//! the engine's own evaluator with every stage judged on its own
//! (`evaluate_through`). The odds at the ends of the baseline rates' 95 % intervals come
//! from the same replays, importance-weighted. Seeded ChaCha8, one stream per replay,
//! so the estimates are the same whatever the thread count.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Binomial, Distribution};
use rayon::prelude::*;

use crate::engine::Folded;
use crate::engine::eval::evaluate_through;
use crate::engine::fold::{slot, stream_idx};
use crate::engine::odds::{BaselineTally, GATES, ReplayEstimate, ReplayHits, class, wilson};
use crate::gate::Gate;
use crate::input::Stream;
use crate::policy::Policy;
use crate::verdict::{GateState, VerdictEvent};

/// Replays per level.
pub const REPLAYS: u32 = 1000;

/// What a canary request is drawn from: probabilities over (status class, group of
/// latency bands), and the band each group's requests are counted in.
struct Draw {
    /// `probs[class * groups + group]`.
    probs: Vec<f64>,
    groups: usize,
}

/// The latency groups the policy tells apart: the bands between consecutive limits
/// of its latency gates (every stage's Go p95, the p95 and p99 triggers). Returns the
/// fold band counted for each group (its top band) and each fold band's group.
fn groups(p: &Policy, f: &Folded) -> (Vec<usize>, Vec<usize>) {
    let mut limits: Vec<u64> = p.stages.iter().map(|s| s.go_p95_us).collect();
    limits.extend([p.trig_p95_us, p.trig_p99_us]);
    limits.sort_unstable();
    limits.dedup();
    // Band j holds latencies in (bands[j-1], bands[j]]; a limit L = bands[i] splits
    // bands up to i from those above.
    let nb = f.bands.len() + 1;
    let mut group_of = vec![0usize; nb];
    let mut top = Vec::new();
    let mut g = 0;
    for (j, slot) in group_of.iter_mut().enumerate() {
        *slot = g;
        let closes = j + 1 == nb || limits.binary_search(&f.bands[j]).is_ok();
        if closes {
            top.push(j);
            g += 1;
        }
    }
    (top, group_of)
}

impl Draw {
    /// The baseline as counted: whole requests, class and latency together.
    fn empirical(f: &Folded, group_of: &[usize], groups: usize) -> Self {
        let b = &f.baseline;
        let mut counts = vec![0u64; class::COUNT * groups];
        for c in 0..class::COUNT {
            for (j, g) in group_of.iter().enumerate() {
                counts[c * groups + g] += b.get(c, j);
            }
        }
        let n: u64 = counts.iter().sum();
        Draw {
            probs: counts.iter().map(|k| *k as f64 / n.max(1) as f64).collect(),
            groups,
        }
    }

    /// Draws `n` requests: counts per category (conditional binomials).
    fn sample(&self, n: u64, rng: &mut ChaCha8Rng, out: &mut [u64]) {
        let mut left = n;
        let mut mass = 1.0f64;
        for (o, p) in out.iter_mut().zip(&self.probs) {
            if left == 0 || mass <= 0.0 {
                *o = 0;
                continue;
            }
            let q = (p / mass).clamp(0.0, 1.0);
            let k = if q >= 1.0 {
                left
            } else if q <= 0.0 {
                0
            } else {
                Binomial::new(left, q).map_or(0, |d| d.sample(rng))
            };
            *o = k;
            left -= k;
            mass -= p;
        }
    }
}

/// A fold with the replay's configuration and no data: requests present, every other
/// stream absent.
fn shell(f: &Folded) -> Folded {
    let mut s = f.request_part();
    s.infra = vec![Vec::new(); f.ticks];
    s.security = vec![[0; 2]; f.ticks];
    s.pii = vec![0; f.ticks];
    s.pages = f.pages.iter().map(|_| Default::default()).collect();
    s.present[stream_idx(Stream::Requests)] = true;
    s
}

/// The replays' estimates for the gates of the odds in the stages `stages` (indexes
/// into the policy's; the other stages' stay empty), see [`ReplayHits`]. Only those
/// stages are replayed: the engine judges each stage on its own (its window never
/// reaches into an earlier stage, its sustain counters start at 0), so a policy
/// holding just them gives each the verdicts it would have in the whole rollout.
pub fn replay_hits(
    p: &Policy,
    f: &Folded,
    stages: &[usize],
    seed: u64,
    replays: u32,
) -> ReplayHits {
    let mut sub = p.clone();
    sub.stages = stages.iter().map(|&si| p.stages[si].clone()).collect();
    let (top, group_of) = groups(p, f);
    let g = top.len();
    let draw = Draw::empirical(f, &group_of, g);
    let spans: Vec<(usize, usize)> = sub
        .stages
        .iter()
        .map(|s| {
            let m = (s.start_ms / f.tick_ms) as usize;
            let end = ((s.end_ms() / f.tick_ms) as usize).min(f.ticks);
            (m, end)
        })
        .collect();
    // Per replayed stage and gate: the limit (us) whose slower requests are bad for
    // the hold and for the rollback chain (`None`: the 5xx or non-auth 4xx count).
    let limits: Vec<[[Option<u64>; 2]; GATES.len()]> = sub
        .stages
        .iter()
        .map(|s| {
            [
                [None, None],
                [None, None],
                [Some(s.go_p95_us), Some(p.trig_p95_us)],
                [Some(p.trig_p99_us), Some(p.trig_p99_us)],
            ]
        })
        .collect();
    let outcomes: Vec<Vec<Replayed>> = (0..replays)
        .into_par_iter()
        .map_init(
            || (shell(f), vec![0u64; class::COUNT * g]),
            |(fold, cats), r| {
                let mut rng = ChaCha8Rng::seed_from_u64(seed);
                rng.set_stream(u64::from(r));
                fill(fold, f, &spans, &draw, &top, cats, &mut rng);
                let judged = judge(&sub, fold);
                judged
                    .into_iter()
                    .zip(&spans)
                    .zip(&limits)
                    .map(|((hit, &(m, end)), lim)| Replayed {
                        hit,
                        bad: bad_counts(fold, m..end, lim),
                    })
                    .collect()
            },
        )
        .collect();
    let t = BaselineTally::of(f);
    let rate_of = |limit: Option<u64>, gi: usize| -> u64 {
        match (limit, GATES[gi]) {
            (Some(l), _) => t
                .limits
                .iter()
                .position(|x| *x == l)
                .map_or(0, |i| t.above[i]),
            (None, Gate::ErrorRate5xx) => t.e5,
            (None, _) => t.e4,
        }
    };
    let mut hits = vec![[[ReplayEstimate::default(); 2]; GATES.len()]; p.stages.len()];
    for (k, &si) in stages.iter().enumerate() {
        let (m, end) = spans[k];
        let n_stage: u64 = (m..end).map(|j| f.interval_counters(j)[slot::N]).sum();
        for gi in 0..GATES.len() {
            for kind in 0..2 {
                let bad = rate_of(limits[k][gi][kind], gi);
                let (r, (lo, hi)) = (bad as f64 / t.n.max(1) as f64, wilson(bad, t.n));
                let rows: Vec<(bool, u64)> = outcomes
                    .iter()
                    .map(|o| (o[k].hit[gi][kind], o[k].bad[gi][kind]))
                    .collect();
                let (low, low_se) = reweighted(&rows, n_stage, r, lo);
                let (high, high_se) = reweighted(&rows, n_stage, r, hi);
                hits[si][gi][kind] = ReplayEstimate {
                    hits: rows.iter().filter(|(h, _)| *h).count() as u32,
                    low,
                    low_se,
                    high,
                    high_se,
                };
            }
        }
    }
    ReplayHits { replays, hits }
}

/// One replay of one stage: per gate of the odds, whether it held and rolled back, and
/// the bad requests each of those chains counted over the stage.
struct Replayed {
    hit: [[bool; 2]; GATES.len()],
    bad: [[u64; 2]; GATES.len()],
}

/// Bad requests over intervals `span` of a replay's fold: 5xx, non-auth 4xx, or
/// slower than the limit.
fn bad_counts(
    fold: &Folded,
    span: std::ops::Range<usize>,
    limits: &[[Option<u64>; 2]; GATES.len()],
) -> [[u64; 2]; GATES.len()] {
    let mut out = [[0u64; 2]; GATES.len()];
    for (gi, lim) in limits.iter().enumerate() {
        for (kind, l) in lim.iter().enumerate() {
            out[gi][kind] = span
                .clone()
                .map(|j| {
                    let c = fold.interval_counters(j);
                    match (l, GATES[gi]) {
                        (Some(l), _) => {
                            let i = fold.bands.partition_point(|b| b < l);
                            // Band i holds latencies up to the limit; slower ones above.
                            c[slot::BANDS + i + 1..slot::BANDS + fold.bands.len() + 1]
                                .iter()
                                .sum::<u64>()
                        }
                        (None, Gate::ErrorRate5xx) => c[slot::E5XX],
                        (None, _) => c[slot::E4XX],
                    }
                })
                .sum();
        }
    }
    out
}

/// The odds at rate `to` from replays drawn at rate `from` (`(hit, bad requests)`
/// each, over `n` canary requests): the mean of the hits weighted by each replay's
/// likelihood ratio `(to/from)^bad ((1-to)/(1-from))^(n-bad)`, and its standard error.
fn reweighted(rows: &[(bool, u64)], n: u64, from: f64, to: f64) -> (f64, f64) {
    if rows.is_empty() || from <= 0.0 || from >= 1.0 || to >= 1.0 {
        return (0.0, 0.0);
    }
    let (a, b) = ((to / from).ln(), ((1.0 - to) / (1.0 - from)).ln());
    let ws: Vec<f64> = rows
        .iter()
        .map(|&(hit, bad)| {
            if hit {
                (bad as f64 * a + (n - bad.min(n)) as f64 * b).exp()
            } else {
                0.0
            }
        })
        .collect();
    let r = ws.len() as f64;
    let mean = ws.iter().sum::<f64>() / r;
    let var = (ws.iter().map(|w| w * w).sum::<f64>() / r - mean * mean).max(0.0);
    (mean.clamp(0.0, 1.0), (var / r).sqrt())
}

/// One replay's canary counters: per tick interval of the replayed stages' `spans`
/// with canary traffic, its requests drawn from `draw`; the real requests of every
/// cohort as folded; the outlier prefixes empty.
fn fill(
    fold: &mut Folded,
    f: &Folded,
    spans: &[(usize, usize)],
    draw: &Draw,
    top: &[usize],
    cats: &mut [u64],
    rng: &mut ChaCha8Rng,
) {
    fold.counters.fill(0);
    let g = draw.groups;
    for j in spans.iter().flat_map(|&(m, end)| m..end) {
        let src = f.interval_counters(j);
        let base = j * f.stride;
        let c = &mut fold.counters[base..base + f.stride];
        c[slot::REAL_ALL] = src[slot::REAL_ALL];
        c[slot::SYNTHETIC] = src[slot::SYNTHETIC];
        let n = src[slot::N];
        if n == 0 {
            continue;
        }
        draw.sample(n, rng, cats);
        c[slot::N] = n;
        for (gi, &band) in top.iter().enumerate() {
            let (o, e5, e4) = (
                cats[class::OTHER * g + gi],
                cats[class::E5XX * g + gi],
                cats[class::E4XX * g + gi],
            );
            c[slot::E5XX] += e5;
            c[slot::E4XX] += e4;
            c[slot::BANDS + band] += o + e5 + e4;
        }
    }
}

/// Per stage of `p` and gate of the odds: whether the replay held it (a Go breach at
/// some tick of the stage) and rolled it back (the trigger held for the sustain span).
fn judge(p: &Policy, fold: &Folded) -> Vec<[[bool; 2]; GATES.len()]> {
    let run = evaluate_through(p, fold);
    let mut out = vec![[[false; 2]; GATES.len()]; p.stages.len()];
    let sustain = p.sustain_ticks.max(1) as u32;
    for e in &run.events {
        let VerdictEvent::Tick(t) = e else { continue };
        for gt in &t.gates {
            let Some(gi) = GATES.iter().position(|g| *g == gt.gate) else {
                continue;
            };
            let o = &mut out[t.stage][gi];
            o[0] |= gt.gate.is_go() && gt.state == GateState::Breach;
            o[1] |= gt.sustain >= sustain;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multinomial_draws_keep_the_total_and_the_shares() {
        let d = Draw {
            probs: vec![0.5, 0.3, 0.0, 0.2],
            groups: 2,
        };
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut out = [0u64; 4];
        let mut sums = [0u64; 4];
        for _ in 0..200 {
            d.sample(1000, &mut rng, &mut out);
            assert_eq!(out.iter().sum::<u64>(), 1000);
            assert_eq!(out[2], 0, "a category of probability 0 is never drawn");
            for (s, o) in sums.iter_mut().zip(out) {
                *s += o;
            }
        }
        let share = |k: u64| k as f64 / 200_000.0;
        assert!((share(sums[0]) - 0.5).abs() < 0.01, "{sums:?}");
        assert!((share(sums[1]) - 0.3).abs() < 0.01, "{sums:?}");
        assert!((share(sums[3]) - 0.2).abs() < 0.01, "{sums:?}");
    }
}
