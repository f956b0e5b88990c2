//! The what-if evaluator: one fold, many policies. [`WhatIf`] keeps a replay's per-tick
//! aggregates (folded with the latency bands of every limit to be tried) and judges
//! other policies over them exactly: [`WhatIf::judge`] re-evaluates one policy in full
//! (live tuning: every event, with the displayed latencies patched in), and
//! [`WhatIf::tables`] builds the per-tick tables that judge millions of variants of the
//! request thresholds and sustain span (sweeps). Which keys may be tuned or swept is
//! the gate registry's ([`crate::gate::knobs`]).

mod tables;

pub use tables::{Sweep, SweepVerdict, Variant};

use crate::gate::Gate;
use crate::input::Millis;
use crate::policy::Policy;
use crate::sketch::Sketch;
use crate::verdict::{Verdict, VerdictEvent};

use super::eval::{Run, evaluate_with};
use super::fold::{Folded, slot};

/// Why a policy cannot be judged over these aggregates.
#[derive(Debug, thiserror::Error)]
pub enum WhatIfError {
    #[error("the window and min_requests cannot be tuned here")]
    Window,
    #[error(
        "outside what the per-tick aggregates can judge exactly (latency limits in 5 ms steps up to 2 s)"
    )]
    Unsupported,
}

/// A replay's aggregates, ready to judge other policies.
pub struct WhatIf {
    folded: Folded,
    base: Policy,
    display: LatencyDisplay,
}

impl WhatIf {
    /// The aggregates of `folded` (built for `base`).
    pub fn new(base: &Policy, folded: Folded) -> Self {
        WhatIf {
            display: LatencyDisplay::new(base, &folded),
            folded,
            base: base.clone(),
        }
    }

    pub fn folded(&self) -> &Folded {
        &self.folded
    }

    /// The full run of `policy` over these aggregates: exactly what a replay of the
    /// data under `policy` gives, or an error when the aggregates cannot judge it.
    pub fn judge(&self, policy: &Policy) -> Result<Run, WhatIfError> {
        if policy.window_ticks != self.base.window_ticks
            || policy.min_requests != self.base.min_requests
        {
            return Err(WhatIfError::Window);
        }
        if !self.folded.supports(policy) {
            return Err(WhatIfError::Unsupported);
        }
        let mut run = evaluate_with(policy, &self.folded, false);
        self.display.patch(&mut run);
        Ok(run)
    }

    /// The per-tick tables of the base policy, for sweeps of its request thresholds
    /// and sustain span.
    pub fn tables(&self) -> Sweep {
        Sweep::new(&self.base, &self.folded)
    }
}

/// The displayed (approximate, sketch-based) p95 and p99 of every tick's window, in
/// ms. They depend on the data, the stage plan, the window and `min_requests`, none of
/// which a knob moves, so they are computed once and every re-evaluation runs without
/// them ([`evaluate_with`] with `display` off, several times faster) and gets them
/// patched back in: the events are then exactly those of a full evaluation.
struct LatencyDisplay {
    t0: Millis,
    tick_ms: Millis,
    /// Indexed by tick number k (index 0 unused).
    p95: Vec<Option<f64>>,
    p99: Vec<Option<f64>>,
}

impl LatencyDisplay {
    fn new(p: &Policy, f: &Folded) -> Self {
        let mut p95 = vec![None; f.ticks + 1];
        let mut p99 = vec![None; f.ticks + 1];
        let ms = |us: u64| us as f64 / 1000.0;
        let mut window = Sketch::default();
        for stage in &p.stages {
            let m = (stage.start_ms / f.tick_ms) as usize;
            let k_end = ((stage.end_ms() / f.tick_ms) as usize).min(f.ticks);
            for k in m + 1..=k_end {
                let lo = k.saturating_sub(p.window_ticks).max(m);
                let n: u64 = (lo..k).map(|j| f.interval_counters(j)[slot::N]).sum();
                if n < p.min_requests {
                    continue;
                }
                window.clear();
                for s in f.sketches[lo..k].iter().flatten() {
                    window.merge(s);
                }
                p95[k] = window.value_at_rank(p.q95.ceil_mul(n)).map(ms);
                p99[k] = window.value_at_rank(p.q99.ceil_mul(n)).map(ms);
            }
        }
        LatencyDisplay {
            t0: f.t0,
            tick_ms: f.tick_ms,
            p95,
            p99,
        }
    }

    fn at(&self, g: Gate, at: Millis) -> Option<f64> {
        let d = at - self.t0;
        if d <= 0 || d % self.tick_ms != 0 {
            return None;
        }
        let k = (d / self.tick_ms) as usize;
        match g {
            Gate::LatencyP95 => self.p95.get(k).copied().flatten(),
            Gate::LatencyP99 => self.p99.get(k).copied().flatten(),
            _ => None,
        }
    }

    /// Fills the displayed latencies into a run evaluated without them.
    fn patch(&self, run: &mut Run) {
        let latency = |g: Gate| matches!(g, Gate::LatencyP95 | Gate::LatencyP99);
        for e in &mut run.events {
            match e {
                VerdictEvent::Tick(t) => {
                    for gt in t.gates.iter_mut().filter(|gt| latency(gt.gate)) {
                        gt.value = self.at(gt.gate, t.at);
                    }
                }
                VerdictEvent::Breach { at, evidence, .. }
                | VerdictEvent::Trigger { at, evidence, .. }
                    if latency(evidence.gate) && evidence.since.is_some() =>
                {
                    evidence.value = self.at(evidence.gate, *at);
                }
                _ => {}
            }
        }
        for s in &mut run.stages {
            let rollback = s.verdict == Verdict::Rollback;
            for e in s.evidence.iter_mut().filter(|e| latency(e.gate)) {
                // A trigger's value is the one at its firing; a Go breach's at its first tick.
                let at = if rollback { s.judged_at } else { e.since };
                if let (Some(at), Some(_)) = (at, e.since) {
                    e.value = self.at(e.gate, at);
                }
            }
        }
    }
}
