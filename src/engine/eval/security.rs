//! The gates over the `security` stream: WAF blocks and authentication failures per
//! minute over the window against a floor and a multiple of their baseline (the hour
//! before T0 when the data reaches back that far, else the synthetic stage).

use crate::gate::Gate;
use crate::input::Millis;
use crate::policy::Policy;
use crate::time::format_duration;
use crate::verdict::GateState;

use super::super::fold::Folded;
use super::{TickCx, TickOut, mul3, state_of};

/// Per kind (WAF blocks, auth failures): baseline events and the baseline's length.
pub(super) struct Baseline([(u64, Millis); 2]);

impl Baseline {
    pub fn new(p: &Policy, f: &Folded) -> Self {
        let first = &p.stages[0];
        let use_pre = f
            .security_earliest
            .is_some_and(|e| e <= f.t0 - p.security_baseline_ms);
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
        Baseline(b)
    }
}

/// WAF spikes and authentication failure surges over the window.
pub(super) fn anomalies(cx: &TickCx, base: &Baseline, out: &mut TickOut) {
    let (p, f) = (cx.p, cx.f);
    let l_ms = cx.intervals as u64 * f.tick_ms as u64;
    let ev = cx.is_eval(Gate::SecurityWafSpike);
    for (i, g) in [(0, Gate::SecurityWafSpike), (1, Gate::SecurityAuthFailures)] {
        let c: u64 = (cx.lo..cx.k).map(|j| f.security[j][i]).sum();
        let (nbase, b_ms) = base.0[i];
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
            state_of(true, breach)
        } else {
            GateState::NotEvaluated
        };
        out.push(g, state, ev.then_some(per_min), Some(thr), breach);
        out.detail(
            g,
            ">",
            format!(
                "{c} events in {} (baseline {base_per_min:.2}/min)",
                format_duration(l_ms as Millis)
            ),
        );
    }
}
