//! Compact text for the screen: short gate labels, values and thresholds that fit a
//! table column, gate states with their symbols (so the screen reads without colour),
//! and the trigger threshold a gate is held to.

use crate::events::{Gate, GateState};
use crate::policy::Policy;

/// A short label for a gate (at most 13 characters).
pub fn gate_label(g: Gate) -> &'static str {
    match g {
        Gate::ErrorRate5xx => "5xx rate",
        Gate::ErrorRate4xxNonauth => "4xx non-auth",
        Gate::LatencyP95 => "p95 latency",
        Gate::LatencyP99 => "p99 latency",
        Gate::BudgetBurn => "budget burn",
        Gate::EndpointLatencyP95 => "endpoint p95",
        Gate::Availability => "availability",
        Gate::InsufficientData => "no-data ticks",
        Gate::ProbeFailures => "probe fails",
        Gate::SchemaFailures => "schema fails",
        Gate::ProbeCoverage => "probe cover",
        Gate::CpuHeadroom => "cpu p95",
        Gate::MemoryHeadroom => "mem free p5",
        Gate::DbLatency => "db p95",
        Gate::QueueBacklog => "queue depth",
        Gate::SecurityWafSpike => "waf spike",
        Gate::SecurityAuthFailures => "auth fails",
        Gate::PiiInLogs => "pii in logs",
        Gate::CacheHeaderScope => "cache scope",
        Gate::SeoIndexability => "seo index",
        Gate::AnalyticsExclusion => "kpi exclusion",
        Gate::TrackingGap => "tracking gap",
        Gate::FeeCapture => "fee capture",
        Gate::LedgerIntegrity => "ledger",
    }
}

/// A value in at most 9 characters.
pub fn short(g: Gate, v: f64) -> String {
    match g {
        Gate::ErrorRate5xx | Gate::ErrorRate4xxNonauth => format!("{:.2}%", v * 100.0),
        Gate::Availability => format!("{:.2}%", v * 100.0),
        Gate::InsufficientData | Gate::CpuHeadroom | Gate::MemoryHeadroom => {
            format!("{:.0}%", v * 100.0)
        }
        Gate::LatencyP95 | Gate::LatencyP99 | Gate::DbLatency => format!("{v:.1}ms"),
        Gate::BudgetBurn | Gate::EndpointLatencyP95 => format!("{:.1}%", v * 100.0),
        Gate::SecurityWafSpike | Gate::SecurityAuthFailures => format!("{v:.1}/m"),
        Gate::ProbeCoverage => format!("{v:.0}s"),
        Gate::QueueBacklog
        | Gate::ProbeFailures
        | Gate::SchemaFailures
        | Gate::PiiInLogs
        | Gate::CacheHeaderScope
        | Gate::SeoIndexability
        | Gate::AnalyticsExclusion
        | Gate::TrackingGap
        | Gate::FeeCapture
        | Gate::LedgerIntegrity => format!("{v:.0}"),
    }
}

/// A measured value: latencies from the display sketch are approximate (`≈`).
pub fn value(g: Gate, v: Option<f64>) -> String {
    match v {
        None => "-".into(),
        Some(v) if matches!(g, Gate::LatencyP95 | Gate::LatencyP99) => {
            format!("≈{}", short(g, v))
        }
        Some(v) => short(g, v),
    }
}

/// A threshold.
pub fn threshold(g: Gate, v: Option<f64>) -> String {
    match v {
        None => "-".into(),
        Some(v) => match g {
            Gate::LatencyP95 | Gate::LatencyP99 | Gate::DbLatency => format!("{v}ms"),
            Gate::ErrorRate5xx | Gate::ErrorRate4xxNonauth => {
                format!("{}%", (v * 100.0 * 1e6).round() / 1e6)
            }
            _ => short(g, v),
        },
    }
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

/// The comparison a gate's Go limit uses.
pub fn op(g: Gate) -> &'static str {
    match g {
        Gate::ErrorRate5xx | Gate::ErrorRate4xxNonauth | Gate::CpuHeadroom | Gate::DbLatency => {
            ">="
        }
        Gate::Availability => "<",
        Gate::MemoryHeadroom => "<=",
        _ => ">",
    }
}

/// The threshold a trigger condition compares with, as displayed: the trigger's own
/// limit where it has one, else the tick's (Go) threshold.
pub fn trigger_threshold(p: Option<&Policy>, g: Gate, tick: Option<f64>) -> Option<f64> {
    let Some(p) = p else { return tick };
    match g {
        Gate::ErrorRate5xx => Some(p.trig_5xx.as_f64()),
        Gate::ErrorRate4xxNonauth => Some(p.trig_4xx.as_f64()),
        Gate::LatencyP95 => Some(p.trig_p95_us as f64 / 1000.0),
        Gate::LatencyP99 => Some(p.trig_p99_us as f64 / 1000.0),
        _ => tick,
    }
}

/// Whether a gate carries a sustain counter in the tick records.
pub fn has_sustain(g: Gate) -> bool {
    (g.is_trigger() && g != Gate::ProbeFailures) || g == Gate::QueueBacklog
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
