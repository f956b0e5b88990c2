//! Monte Carlo odds of a false stop through the real engine, for the chains too large
//! to walk exactly: [`REPLAYS`] replays of a healthy canary, each a fold whose canary
//! requests are baseline requests resampled (status class and latency band drawn
//! together from the fold's [`crate::engine::odds::BaselineCounts`]) and relabelled
//! canary, as many per tick interval as the stage's canary actually had, evaluated by
//! the engine's own evaluator with every stage judged on its own
//! (`evaluate_through`). The odds at the ends of the baseline rates' 95 % intervals come
//! from as many replays again per end, drawn from the baseline tilted so that the
//! chain's bad share is that end. Seeded ChaCha8, one stream per replay, so the
//! estimates are the same whatever the thread count.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Binomial, Distribution};
use rayon::prelude::*;

use crate::engine::Folded;
use crate::engine::eval::evaluate_through;
use crate::engine::fold::{slot, stream_idx};
use crate::engine::odds::{BaselineTally, Chain, GATES, ReplayEstimate, ReplayHits, class, wilson};
use crate::gate::Gate;
use crate::input::Stream;
use crate::policy::Policy;
use crate::verdict::{GateState, VerdictEvent};

/// Replays at the baseline's own rates.
pub const REPLAYS: u32 = 1000;

/// The least replays at each end of a baseline rate's interval; the ends share a
/// budget of as many replays as the baseline's own get.
pub const END_REPLAYS: u32 = 200;

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

    /// The baseline with the share of the `bad` categories set to `to` (an exponential
    /// tilt: within the bad categories and within the others the shares keep their
    /// proportions). A baseline without a bad request spreads `to` over the bad
    /// categories as the requests spread over classes (or latency groups).
    fn tilted(&self, bad: &[bool], to: f64) -> Self {
        let from: f64 = self
            .probs
            .iter()
            .zip(bad)
            .filter(|(_, b)| **b)
            .map(|(p, _)| p)
            .sum();
        let to = to.clamp(0.0, 1.0);
        let probs = if from > 0.0 && from < 1.0 {
            self.probs
                .iter()
                .zip(bad)
                .map(|(p, b)| {
                    if *b {
                        p * to / from
                    } else {
                        p * (1.0 - to) / (1.0 - from)
                    }
                })
                .collect()
        } else if from <= 0.0 {
            let g = self.groups;
            // Each bad category gets `to` times the mass of its "twin" among the
            // others: the same latency group (a class set) or the same class (a
            // latency set), normalised over the bad categories.
            let weight: Vec<f64> = (0..self.probs.len())
                .map(|i| {
                    if !bad[i] {
                        return 0.0;
                    }
                    let (c, gr) = (i / g, i % g);
                    let by_group: f64 = (0..class::COUNT).map(|c2| self.probs[c2 * g + gr]).sum();
                    let by_class: f64 = (0..g).map(|g2| self.probs[c * g + g2]).sum();
                    // A class set holds whole rows of one class; a latency set whole
                    // columns above a group.
                    if (0..g).all(|g2| bad[c * g + g2]) {
                        by_group
                    } else if (0..class::COUNT).all(|c2| bad[c2 * g + gr]) {
                        // The least slow bad group only: requests just over the limit.
                        let first = (0..g).position(|g2| bad[c * g + g2]) == Some(gr);
                        if first { by_class } else { 0.0 }
                    } else {
                        1.0
                    }
                })
                .collect();
            let total: f64 = weight.iter().sum();
            self.probs
                .iter()
                .zip(&weight)
                .map(|(p, w)| {
                    if total > 0.0 && *w > 0.0 {
                        to * w / total
                    } else {
                        p * (1.0 - to)
                    }
                })
                .collect()
        } else {
            self.probs.clone()
        };
        Draw {
            probs,
            groups: self.groups,
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

/// The replays' estimates for the chains `chains` (the other chains' stay empty), see
/// [`ReplayHits`]. Only the stages holding them are replayed: the engine judges each
/// stage on its own (its window never reaches into an earlier stage, its sustain
/// counters start at 0), so a policy holding just them gives each the verdicts it
/// would have in the whole rollout. The ends of the intervals are replayed for the
/// chains only.
pub fn replay_hits(
    p: &Policy,
    f: &Folded,
    chains: &[Chain],
    seed: u64,
    replays: u32,
) -> ReplayHits {
    let mut stages: Vec<usize> = chains.iter().map(|c| c.0).collect();
    stages.sort_unstable();
    stages.dedup();
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
    let run = |draw: &Draw, block: u64, n: u32| {
        Replays {
            f,
            policy: &sub,
            spans: &spans,
            top: &top,
        }
        .run(draw, seed, block, n)
    };
    // Stream block 0 is the baseline's own; each tilt has its own block.
    let outcomes = run(&draw, 0, replays);
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
    // The interval ends: per chain, replays from the baseline tilted so that the
    // chain's bad share is the end of its 95 % interval. Chains judging the same bad
    // requests at the same rate share their replays.
    let mut tilts: Vec<(Bad, u64)> = Vec::new();
    let mut ends = vec![[[[0u32; 2]; 2]; GATES.len()]; stages.len()];
    let mut wanted: Vec<(usize, usize, usize, usize, usize)> = Vec::new();
    for &(si, gi, kind) in chains {
        let Some(k) = stages.iter().position(|x| *x == si) else {
            continue;
        };
        let l = limits[k][gi][kind];
        let bad = match (l, GATES[gi]) {
            (Some(l), _) => Bad::Slower(l),
            (None, Gate::ErrorRate5xx) => Bad::Class(class::E5XX),
            (None, _) => Bad::Class(class::E4XX),
        };
        let (lo, hi) = wilson(rate_of(l, gi), t.n);
        for (end, to) in [lo, hi].into_iter().enumerate() {
            let key = (bad, to.to_bits());
            let set = tilts.iter().position(|x| *x == key).unwrap_or_else(|| {
                tilts.push(key);
                tilts.len() - 1
            });
            wanted.push((set, k, gi, kind, end));
        }
    }
    // The ends share one budget of `replays` (at least [`END_REPLAYS`] each).
    let per_end = (replays / tilts.len().max(1) as u32).max(END_REPLAYS.min(replays));
    for (set, &(bad, to)) in tilts.iter().enumerate() {
        let tilted = draw.tilted(&bad.members(&top, f), f64::from_bits(to));
        let runs = run(&tilted, set as u64 + 1, per_end);
        for &(s, k, gi, kind, end) in &wanted {
            if s == set {
                ends[k][gi][kind][end] = runs.iter().filter(|o| o[k][gi][kind]).count() as u32;
            }
        }
    }
    let se = |h: u32| {
        let p = f64::from(h) / f64::from(per_end.max(1));
        (p, (p * (1.0 - p) / f64::from(per_end.max(1))).sqrt())
    };
    let mut hits = vec![[[ReplayEstimate::default(); 2]; GATES.len()]; p.stages.len()];
    for (k, &si) in stages.iter().enumerate() {
        for gi in 0..GATES.len() {
            for kind in 0..2 {
                let (low, low_se) = se(ends[k][gi][kind][0]);
                let (high, high_se) = se(ends[k][gi][kind][1]);
                hits[si][gi][kind] = ReplayEstimate {
                    hits: outcomes.iter().filter(|o| o[k][gi][kind]).count() as u32,
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

/// The requests a chain counts as bad: a status class, or slower than a limit (us).
#[derive(Clone, Copy, Debug, PartialEq)]
enum Bad {
    Class(usize),
    Slower(u64),
}

impl Bad {
    /// Per (class, latency group) category, in [`Draw`]'s order: whether it is bad.
    fn members(&self, top: &[usize], f: &Folded) -> Vec<bool> {
        let g = top.len();
        (0..class::COUNT * g)
            .map(|i| match *self {
                Bad::Class(c) => i / g == c,
                Bad::Slower(l) => {
                    // Band `b` holds latencies up to the limit; the group is slower
                    // when its top band is above it.
                    let b = f.bands.partition_point(|x| *x < l);
                    top[i % g] > b
                }
            })
            .collect()
    }
}

/// What every replay of one call shares: the fold it resamples, the policy of just the
/// replayed stages, their tick spans and the fold band each latency group counts in.
struct Replays<'a> {
    f: &'a Folded,
    policy: &'a Policy,
    spans: &'a [(usize, usize)],
    top: &'a [usize],
}

impl Replays<'_> {
    /// `n` replays drawn from `draw`, replay `r` on ChaCha8 stream `block << 32 | r` of
    /// `seed`: per replayed stage and gate of the odds, whether it held and rolled back.
    fn run(
        &self,
        draw: &Draw,
        seed: u64,
        block: u64,
        n: u32,
    ) -> Vec<Vec<[[bool; 2]; GATES.len()]>> {
        (0..n)
            .into_par_iter()
            .map_init(
                || (shell(self.f), vec![0u64; class::COUNT * draw.groups]),
                |(fold, cats), r| {
                    let mut rng = ChaCha8Rng::seed_from_u64(seed);
                    rng.set_stream((block << 32) | u64::from(r));
                    fill(fold, self.f, self.spans, draw, self.top, cats, &mut rng);
                    judge(self.policy, fold)
                },
            )
            .collect()
    }
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
