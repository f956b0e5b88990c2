//! Compact text for the screen: short gate labels, values and thresholds that fit a
//! table column, gate states with their symbols (so the screen reads without colour),
//! the trigger threshold a gate is held to, and probabilities (the odds of a false stop).

use crate::engine::odds::Odds;
use crate::policy::Policy;
use crate::verdict::{Gate, GateState};

/// A short label for a gate (at most 13 characters).
pub fn gate_label(g: Gate) -> &'static str {
    g.def().label
}

/// A measured value: latencies from the display sketch are approximate (`≈`).
pub fn value(g: Gate, v: Option<f64>) -> String {
    let unit = g.def().unit;
    match v {
        None => "-".into(),
        Some(v) if unit.approximate() => format!("≈{}", unit.short(v)),
        Some(v) => unit.short(v),
    }
}

/// A threshold.
pub fn threshold(g: Gate, v: Option<f64>) -> String {
    v.map_or_else(|| "-".into(), |v| g.def().unit.short_threshold(v))
}

/// A gate state in words, with its symbol.
pub fn state(s: GateState) -> &'static str {
    match s {
        GateState::Ok => "✓ ok",
        GateState::Breach => "✗ breach",
        GateState::NoData => "? no data",
        GateState::NotEvaluated => "- not eval",
    }
}

/// The comparison that breaches a gate.
pub fn op(g: Gate) -> &'static str {
    g.def().op
}

/// The threshold a trigger condition compares with, as displayed: the trigger's own
/// limit where it has one, else the tick's (Go) threshold.
pub fn trigger_threshold(p: Option<&Policy>, g: Gate, tick: Option<f64>) -> Option<f64> {
    p.and_then(|p| p.trigger_limit(g)).or(tick)
}

/// Whether a gate carries a sustain counter in the tick records.
pub fn has_sustain(g: Gate) -> bool {
    g.def().sustained
}

/// Truncates to `w` characters, marking the cut with `…`.
pub fn fit(s: &str, w: usize) -> String {
    let n = s.chars().count();
    if n <= w {
        return s.to_string();
    }
    if w == 0 {
        return String::new();
    }
    let mut out: String = s.chars().take(w - 1).collect();
    out.push('…');
    out
}

/// A probability in percent with two decimals; below 0.01 % but above zero `<0.01%`
/// (as in `rehearse run`'s summary).
pub fn pct(p: f64) -> String {
    if p > 0.0 && p < 0.0001 {
        "<0.01%".into()
    } else {
        format!("{:.2}%", p * 100.0)
    }
}

/// A probability's 95 % interval: `2.43%–10.93%`.
pub fn interval(o: &Odds) -> String {
    format!("{}–{}", pct(o.low), pct(o.high))
}
