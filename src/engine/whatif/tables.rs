//! Per-tick tables for sweeps: the verdicts of many variants of one policy over the same per-tick
//! aggregates, at hundreds of thousands of variants per second. A variant moves the
//! request thresholds (the 5xx and non-auth 4xx Go and trigger rates, each stage's Go
//! p95, the p95 and p99 trigger latencies), the sustain span and the canary judge's
//! switch and false-alarm bound (its Bayes factor per tick is kept, from the base
//! policy's prior); every other value is
//! the base policy's. [`Sweep::new`] runs the base policy once with every stage
//! evaluated over its whole span ([`crate::engine::eval::evaluate_through`]) and keeps, per
//! tick, the window counts of the request gates, the latency counts above every band,
//! and the trigger conditions of the other gates (which no variant moves); per stage,
//! the hold reasons no variant moves. [`Sweep::eval`] then walks the ticks with a few
//! integer comparisons each and no allocation, applying the same rules as
//! [`crate::engine::evaluate`], whose verdicts it must reproduce exactly (property-tested in
//! `tests/it/sweep.rs`).

use crate::input::Millis;
use crate::policy::Policy;
use crate::ratio::Ratio;
use crate::time::format_duration;
use crate::verdict::{Gate, Outcome, Verdict, VerdictEvent};

use super::super::eval::evaluate_through;
use super::super::eval::judge::{JudgeState, ln_threshold};
use super::super::eval::probes::first_probe_firing;
use super::super::fold::{Folded, slot};

/// The request-gate window counts of one tick, and what no variant moves.
#[derive(Clone, Debug)]
struct TickRow {
    at: Millis,
    /// Canary requests, 5xx and non-auth 4xx in the window.
    n: u64,
    e5: u64,
    e4: u64,
    /// The request gates are evaluated and the window holds the policy's minimum of
    /// requests.
    has_req: bool,
    /// `p95 > limit` exactly when the count above the limit exceeds these.
    lim95: u64,
    lim99: u64,
    /// Trigger conditions of the gates no variant moves (bits by trigger rank).
    other_triggers: u16,
    /// The queue depth is above its limit at this tick (the backlog gate's sustain
    /// depends on the variant's sustain span).
    queue_over: bool,
    /// The canary judge's log Bayes factor since the stage's start (`-inf` without
    /// evidence of a regression); it fires where it reaches the variant's level.
    judge: f64,
}

/// A stage's ticks and the hold reasons no variant moves.
#[derive(Clone, Debug)]
struct StageRow {
    ticks: std::ops::Range<usize>,
    /// Go gates breached in the stage by gates no variant moves, or by its stage-level
    /// checks (bits by Go rank).
    fixed_hold: u32,
}

/// The values a variant moves; everything else is the base policy's.
#[derive(Clone, Debug, PartialEq)]
pub struct Variant {
    pub go_5xx: Ratio,
    pub go_4xx: Ratio,
    pub trig_5xx: Ratio,
    pub trig_4xx: Ratio,
    /// Per stage, the Go p95 limit in microseconds.
    pub go_p95_us: Vec<u64>,
    pub trig_p95_us: u64,
    pub trig_p99_us: u64,
    /// Consecutive ticks a sustained trigger needs.
    pub sustain_ticks: usize,
    /// Whether the canary judge runs, and its false-alarm bound.
    pub judge: bool,
    pub judge_alpha: f64,
}

impl Variant {
    /// The variant that is exactly `p`'s values.
    pub fn of(p: &Policy) -> Self {
        Variant {
            go_5xx: p.go_5xx,
            go_4xx: p.go_4xx,
            trig_5xx: p.trig_5xx,
            trig_4xx: p.trig_4xx,
            go_p95_us: p.stages.iter().map(|s| s.go_p95_us).collect(),
            trig_p95_us: p.trig_p95_us,
            trig_p99_us: p.trig_p99_us,
            sustain_ticks: p.sustain_ticks,
            judge: p.judge_enabled,
            judge_alpha: p.judge_alpha,
        }
    }

    /// The full policy: `base` with this variant's values (its TOML form included, so
    /// `Policy::to_toml` writes the variant).
    pub fn apply(&self, base: &Policy) -> Policy {
        let mut p = base.clone();
        p.go_5xx = self.go_5xx;
        p.go_4xx = self.go_4xx;
        p.trig_5xx = self.trig_5xx;
        p.trig_4xx = self.trig_4xx;
        p.trig_p95_us = self.trig_p95_us;
        p.trig_p99_us = self.trig_p99_us;
        p.sustain_ticks = self.sustain_ticks.max(1);
        p.judge_enabled = self.judge;
        p.judge_alpha = self.judge_alpha;
        for (s, us) in p.stages.iter_mut().zip(&self.go_p95_us) {
            s.go_p95_us = *us;
        }
        let f = &mut p.file;
        f.go.error_rate_5xx = self.go_5xx.as_f64();
        f.go.error_rate_4xx_nonauth = self.go_4xx.as_f64();
        f.triggers.error_rate_5xx = self.trig_5xx.as_f64();
        f.triggers.error_rate_4xx_nonauth = self.trig_4xx.as_f64();
        f.triggers.latency_p95_ms = self.trig_p95_us as f64 / 1000.0;
        f.triggers.latency_p99_ms = self.trig_p99_us as f64 / 1000.0;
        for (s, us) in f.stages.iter_mut().zip(&self.go_p95_us) {
            s.go_p95_ms = *us as f64 / 1000.0;
        }
        f.rollout.sustain = format_duration((p.sustain_ticks as Millis - 1) * p.tick_ms);
        f.judge.enabled = self.judge;
        f.judge.alpha = self.judge_alpha;
        p
    }
}

/// What a variant's rollout does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SweepVerdict {
    pub outcome: Outcome,
    /// The last stage that ran (rolled back, held, or the last one when complete).
    pub stage: usize,
    /// When the rollout ended: the rollback instant, or the last stage's end.
    pub at: Millis,
    /// The reasons, as bits: by trigger rank for a rollback ([`Gate::TRIGGERS`]), by
    /// Go rank for a hold ([`Gate::GO`]).
    pub reasons: u32,
}

impl SweepVerdict {
    /// Every stage's verdict, given the stage count.
    pub fn verdicts(&self, stages: usize) -> Vec<Verdict> {
        (0..stages)
            .map(|i| {
                if i < self.stage {
                    Verdict::Go
                } else if i > self.stage {
                    Verdict::NotRun
                } else {
                    match self.outcome {
                        Outcome::Rollback => Verdict::Rollback,
                        Outcome::Hold => Verdict::Hold,
                        Outcome::Complete => Verdict::Go,
                    }
                }
            })
            .collect()
    }

    /// The reason gates, in report order.
    pub fn reason_gates(&self) -> Vec<Gate> {
        let order: &[Gate] = match self.outcome {
            Outcome::Rollback => &Gate::TRIGGERS,
            Outcome::Hold => &Gate::GO,
            Outcome::Complete => &[],
        };
        order
            .iter()
            .enumerate()
            .filter(|(i, _)| self.reasons & (1 << i) != 0)
            .map(|(_, g)| *g)
            .collect()
    }
}

/// The base policy's per-tick tables, ready for variants.
#[derive(Clone, Debug)]
pub struct Sweep {
    t0: Millis,
    tick_ms: Millis,
    bands: Vec<u64>,
    rows: Vec<TickRow>,
    /// Per tick, `bands.len() + 1` counts: window latencies above each band, then 0
    /// (the count above a limit that is not a band: such a limit never breaches).
    above: Vec<u64>,
    stages: Vec<StageRow>,
    /// When the probe-failure trigger fires, if it does.
    probe_fire: Option<Millis>,
    ends: Vec<Millis>,
}

/// The request gates a variant moves.
const MOVED: [Gate; 4] = [
    Gate::ErrorRate5xx,
    Gate::ErrorRate4xxNonauth,
    Gate::LatencyP95,
    Gate::LatencyP99,
];

fn trig_bit(g: Gate) -> u32 {
    1 << g.trigger_rank()
}

fn go_bit(g: Gate) -> u32 {
    1 << g.go_rank()
}

impl Sweep {
    /// Builds the tables of `base` over `f` (one full evaluation of every stage).
    pub fn new(base: &Policy, f: &Folded) -> Self {
        let p = base;
        let through = evaluate_through(p, f);
        // Without a requests stream the request gates are not evaluated: never breached.
        let requests = through
            .evaluated
            .iter()
            .any(|(g, e)| *g == Gate::ErrorRate5xx && *e);
        let nb = f.bands.len();
        let width = nb + 1;
        let mut rows = Vec::new();
        let mut above = Vec::new();
        let mut stages = Vec::with_capacity(p.stages.len());
        let mut band_sum = vec![0u64; nb + 1];
        let mut held: Vec<u32> = vec![0; p.stages.len()];
        // Trigger conditions and the queue of the through run's tick records.
        let mut records = through.events.iter().filter_map(|e| match e {
            VerdictEvent::Tick(t) => Some(t),
            _ => None,
        });
        for e in &through.events {
            if let VerdictEvent::StageVerdict { stage, reasons, .. } = e
                && let Some(h) = held.get_mut(*stage)
            {
                for g in reasons {
                    if !MOVED.contains(g) && *g != Gate::QueueBacklog && g.is_go() {
                        *h |= go_bit(*g);
                    }
                }
            }
        }
        for (si, stage) in p.stages.iter().enumerate() {
            let m = (stage.start_ms / f.tick_ms) as usize;
            let k_end = (stage.end_ms() / f.tick_ms) as usize;
            let first = rows.len();
            let mut judge = JudgeState::new(stage.weight, p.judge_prior);
            for k in m + 1..=k_end {
                let lo = k.saturating_sub(p.window_ticks).max(m);
                let (mut n, mut e5, mut e4) = (0u64, 0u64, 0u64);
                band_sum.iter_mut().for_each(|b| *b = 0);
                for j in lo..k {
                    let c = f.interval_counters(j);
                    n += c[slot::N];
                    e5 += c[slot::E5XX];
                    e4 += c[slot::E4XX];
                    for (b, x) in band_sum
                        .iter_mut()
                        .zip(&c[slot::BANDS..slot::BANDS + nb + 1])
                    {
                        *b += *x;
                    }
                }
                // Counts above band j: the bands after it.
                let mut acc = 0u64;
                let start = above.len();
                above.resize(start + width, 0);
                for j in (0..nb).rev() {
                    acc += band_sum[j + 1];
                    above[start + j] = acc;
                }
                let cur = f.interval_counters(k - 1);
                let canary = cur[slot::N];
                let j = judge.step(
                    canary,
                    [cur[slot::E5XX], cur[slot::E4XX]],
                    cur[slot::REAL_ALL].saturating_sub(canary),
                    f.baseline_errors.at(k - 1),
                );
                let mut other = 0u16;
                let mut queue_over = false;
                if let Some(rec) = records.next() {
                    debug_assert_eq!(rec.k as usize, k);
                    for g in &rec.gates {
                        if g.trigger
                            && g.gate.is_trigger()
                            && g.gate != Gate::ProbeFailures
                            && !MOVED.contains(&g.gate)
                            && g.gate != Gate::CanaryJudge
                        {
                            other |= trig_bit(g.gate) as u16;
                        }
                        if g.gate == Gate::QueueBacklog && g.sustain > 0 {
                            queue_over = true;
                        }
                    }
                }
                rows.push(TickRow {
                    at: f.t0 + k as Millis * f.tick_ms,
                    n,
                    e5,
                    e4,
                    has_req: requests && n >= p.min_requests,
                    lim95: n - p.q95.ceil_mul(n),
                    lim99: n - p.q99.ceil_mul(n),
                    other_triggers: other,
                    queue_over,
                    judge: if requests && j.data {
                        j.score
                    } else {
                        f64::NEG_INFINITY
                    },
                });
            }
            stages.push(StageRow {
                ticks: first..rows.len(),
                fixed_hold: held[si],
            });
        }
        Sweep {
            t0: f.t0,
            tick_ms: f.tick_ms,
            bands: f.bands.clone(),
            rows,
            above,
            stages,
            probe_fire: first_probe_firing(p, f).map(|(at, _, _)| at),
            ends: p.stages.iter().map(|s| f.t0 + s.end_ms()).collect(),
        }
    }

    /// The index of a latency limit among the bands (`bands.len()` when it is none).
    fn band(&self, us: u64) -> usize {
        self.bands
            .iter()
            .position(|b| *b == us)
            .unwrap_or(self.bands.len())
    }

    /// Whether every latency limit of `v` is a band of the aggregates, so the sweep
    /// judges it exactly (a limit between bands cannot be judged; see
    /// `Folded::supports`).
    pub fn supports(&self, v: &Variant) -> bool {
        let ok = |us: u64| self.bands.contains(&us);
        ok(v.trig_p95_us) && ok(v.trig_p99_us) && v.go_p95_us.iter().all(|us| ok(*us))
    }

    /// The rollout of variant `v`. Exactly [`crate::engine::evaluate`]'s verdicts for
    /// `v.apply(base)` when [`Sweep::supports`] holds.
    pub fn eval(&self, v: &Variant) -> SweepVerdict {
        let width = self.bands.len() + 1;
        let b95 = self.band(v.trig_p95_us);
        let b99 = self.band(v.trig_p99_us);
        let sustain = v.sustain_ticks.max(1) as u32;
        let (bit5, bit4, bit95, bit99) = (
            trig_bit(Gate::ErrorRate5xx),
            trig_bit(Gate::ErrorRate4xxNonauth),
            trig_bit(Gate::LatencyP95),
            trig_bit(Gate::LatencyP99),
        );
        let (go5, go4, go95, go99, goq) = (
            go_bit(Gate::ErrorRate5xx),
            go_bit(Gate::ErrorRate4xxNonauth),
            go_bit(Gate::LatencyP95),
            if Gate::LatencyP99.is_go() {
                go_bit(Gate::LatencyP99)
            } else {
                0
            },
            go_bit(Gate::QueueBacklog),
        );
        let probe_bit = trig_bit(Gate::ProbeFailures);
        let judge_bit = trig_bit(Gate::CanaryJudge);
        // The judge's level, or one no score reaches when it is off.
        let judge_level = if v.judge {
            ln_threshold(v.judge_alpha)
        } else {
            f64::INFINITY
        };
        let mut last = 0;
        for (si, stage) in self.stages.iter().enumerate() {
            last = si;
            let bgo = self.band(v.go_p95_us.get(si).copied().unwrap_or(u64::MAX));
            // Per trigger bit, the tick from which its condition has held without a
            // break (meaningful while its bit is in `was`): the sustain counter of
            // the engine is `ti - since + 1`, so a healthy tick costs no loop.
            let mut since = [0usize; 10];
            let mut was = 0u32;
            let mut queue_run = 0u32;
            let mut hold = stage.fixed_hold;
            for ti in stage.ticks.clone() {
                let r = &self.rows[ti];
                let prev = r.at - self.tick_ms;
                if let Some(fire) = self.probe_fire
                    && fire > prev
                    && fire < r.at
                {
                    return SweepVerdict {
                        outcome: Outcome::Rollback,
                        stage: si,
                        at: fire,
                        reasons: probe_bit,
                    };
                }
                let mut cond = r.other_triggers as u32;
                if r.has_req {
                    let above = &self.above[ti * width..(ti + 1) * width];
                    if v.trig_5xx.le_frac(r.e5, r.n) {
                        cond |= bit5;
                    }
                    if v.trig_4xx.le_frac(r.e4, r.n) {
                        cond |= bit4;
                    }
                    if above[b95] > r.lim95 {
                        cond |= bit95;
                    }
                    if above[b99] > r.lim99 {
                        cond |= bit99;
                        hold |= go99;
                    }
                    if v.go_5xx.le_frac(r.e5, r.n) {
                        hold |= go5;
                    }
                    if v.go_4xx.le_frac(r.e4, r.n) {
                        hold |= go4;
                    }
                    if above[bgo] > r.lim95 {
                        hold |= go95;
                    }
                }
                if r.queue_over {
                    queue_run += 1;
                    if queue_run >= sustain {
                        hold |= goq;
                    }
                } else {
                    queue_run = 0;
                }
                let mut fired = 0u32;
                // The sustained triggers are ranks 0 to 9 (the judge, rank 10, is not).
                let counted = cond & 0x3ff;
                let mut started = counted & !was;
                while started != 0 {
                    since[started.trailing_zeros() as usize] = ti;
                    started &= started - 1;
                }
                was = counted;
                let mut held = counted;
                while held != 0 {
                    let i = held.trailing_zeros() as usize;
                    if (ti - since[i]) as u32 + 1 >= sustain {
                        fired |= 1 << i;
                    }
                    held &= held - 1;
                }
                if self.probe_fire == Some(r.at) {
                    fired |= probe_bit;
                }
                // The judge is not sustained: it fires at the first tick it reaches its level.
                if r.judge >= judge_level {
                    fired |= judge_bit;
                }
                if fired != 0 {
                    return SweepVerdict {
                        outcome: Outcome::Rollback,
                        stage: si,
                        at: r.at,
                        reasons: fired,
                    };
                }
            }
            if hold != 0 {
                return SweepVerdict {
                    outcome: Outcome::Hold,
                    stage: si,
                    at: self.ends[si],
                    reasons: hold,
                };
            }
        }
        SweepVerdict {
            outcome: Outcome::Complete,
            stage: last,
            at: self.ends.last().copied().unwrap_or(self.t0),
            reasons: 0,
        }
    }
}
