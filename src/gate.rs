//! The gate registry: every gate of the policy defined once. A [`GateDef`] says what a
//! gate is called, which stream it reads, whether it is a Go gate, a rollback trigger
//! or both (and where it stands among the reasons of a verdict), when it is judged,
//! how its values and thresholds read, and which policy keys sweeps and live tuning may
//! move. The evaluator, the report, the event log, the terminal UI and the what-if
//! evaluator iterate over [`GATES`] instead of keeping lists of their own; adding a
//! gate is one definition here plus its evaluation in the engine.

use serde::{Deserialize, Serialize};

use crate::input::Stream;

/// Every gate of the contract. The declaration order is [`GATES`]' order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Gate {
    #[serde(rename = "error_rate_5xx")]
    ErrorRate5xx,
    #[serde(rename = "error_rate_4xx_nonauth")]
    ErrorRate4xxNonauth,
    #[serde(rename = "latency_p95")]
    LatencyP95,
    SchemaFailures,
    Availability,
    InsufficientData,
    BudgetBurn,
    #[serde(rename = "endpoint_latency_p95")]
    EndpointLatencyP95,
    CpuHeadroom,
    MemoryHeadroom,
    DbLatency,
    QueueBacklog,
    SecurityWafSpike,
    SecurityAuthFailures,
    PiiInLogs,
    ProbeCoverage,
    CacheHeaderScope,
    SeoIndexability,
    #[serde(rename = "latency_p99")]
    LatencyP99,
    ProbeFailures,
    AnalyticsExclusion,
    TrackingGap,
    FeeCapture,
    LedgerIntegrity,
    PaidAcquisition,
    LeverInstrumentation,
    CanaryJudge,
}

/// When a gate is judged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Judged {
    /// At every tick, over the window ending there.
    Tick,
    /// Once, at the stage's end, over the whole stage.
    StageEnd,
    /// On the probe that completes a run of failures (between ticks too).
    Probe,
}

/// How a gate's measured value reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    /// A fraction of requests, as a percentage with two decimals.
    Rate,
    /// The share of good requests, as a percentage with three decimals.
    Availability,
    /// The share of ticks without enough data.
    TickShare,
    /// A latency quantile from the display sketch (approximate), in ms.
    Latency,
    /// A share of the error budget.
    BudgetShare,
    /// The share of an endpoint prefix's requests above its limit.
    SlowShare,
    /// A utilisation fraction, as a whole percentage.
    Fraction,
    /// Milliseconds measured exactly.
    Ms,
    /// A queue depth.
    Depth,
    /// Events per minute.
    PerMinute,
    /// Failures in a row.
    InARow,
    /// A gap in seconds.
    GapSeconds,
    /// A count of findings.
    Count,
    /// A Bayes factor (evidence against "the canary fails like the baseline").
    BayesFactor,
}

/// How a tunable value moves and reads (live tuning and sweeps).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum KnobKind {
    /// A rate (fraction), in steps of 0.001, shown as a percentage.
    Rate,
    /// Milliseconds, in 5 ms steps (the tuning grid).
    Ms,
    /// The sustain span in ticks, shown as a duration.
    SustainTicks,
    /// A plain number in fixed steps.
    Step(f64),
    /// A whole count.
    Count,
}

/// A policy value that sweeps or live tuning may move. `key` is the `--set` key;
/// `stages.*.` stands for one knob per stage (`stages.NAME.go_p95_ms`).
#[derive(Clone, Copy, Debug)]
pub struct KnobDef {
    pub key: &'static str,
    /// A short label (`{stage}` is replaced by the stage's name).
    pub label: &'static str,
    pub kind: KnobKind,
    /// The gates whose verdicts it moves.
    pub gates: &'static [Gate],
    /// Whether `rehearse sweep` may vary it (its per-tick tables judge it exactly).
    pub sweep: bool,
}

/// One gate, defined once.
#[derive(Clone, Copy, Debug)]
pub struct GateDef {
    pub gate: Gate,
    /// The gate's id in reports, event logs and scenario files.
    pub id: &'static str,
    /// The stream it reads.
    pub stream: Stream,
    /// A short label for tables (at most 13 characters).
    pub label: &'static str,
    /// Whether a breach holds the stage (a Go gate).
    pub go: bool,
    /// Its place among the triggers of a rollback, when it is a trigger.
    pub trigger: Option<u8>,
    /// Its row in the terminal UI's gate table, when it has one.
    pub row: Option<u8>,
    pub judged: Judged,
    pub unit: Unit,
    /// The comparison that breaches, as written in evidence: `>=`, `>`, `<`, `<=`.
    pub op: &'static str,
    /// Whether evidence prints the threshold (not for "any finding breaches" gates).
    pub shows_threshold: bool,
    /// Whether a tick record carries a sustain counter for it.
    pub sustained: bool,
    /// The policy keys that set its limits.
    pub keys: &'static [&'static str],
    /// The values sweeps and live tuning may move for it.
    pub knobs: &'static [KnobDef],
}

/// The sustain span: moves every sustained trigger at once.
pub const SUSTAIN_KNOB: KnobDef = sweepable_knob(
    "rollout.sustain",
    "sustain",
    KnobKind::SustainTicks,
    &[
        Gate::ErrorRate5xx,
        Gate::ErrorRate4xxNonauth,
        Gate::LatencyP95,
        Gate::LatencyP99,
        Gate::BudgetBurn,
        Gate::SecurityWafSpike,
        Gate::SecurityAuthFailures,
        Gate::SchemaFailures,
        Gate::PiiInLogs,
        Gate::QueueBacklog,
    ],
);

/// A knob live tuning may move, but sweeps may not.
const fn knob(
    key: &'static str,
    label: &'static str,
    kind: KnobKind,
    gates: &'static [Gate],
) -> KnobDef {
    KnobDef {
        key,
        label,
        kind,
        gates,
        sweep: false,
    }
}

/// A knob both live tuning and sweeps may move.
const fn sweepable_knob(
    key: &'static str,
    label: &'static str,
    kind: KnobKind,
    gates: &'static [Gate],
) -> KnobDef {
    KnobDef {
        sweep: true,
        ..knob(key, label, kind, gates)
    }
}

/// A gate definition with the defaults most gates share.
const fn def(gate: Gate, id: &'static str, stream: Stream, label: &'static str) -> GateDef {
    GateDef {
        gate,
        id,
        stream,
        label,
        go: true,
        trigger: None,
        row: None,
        judged: Judged::Tick,
        unit: Unit::Count,
        op: ">",
        shows_threshold: true,
        sustained: false,
        keys: &[],
        knobs: &[],
    }
}

use Gate as G;
use KnobKind as K;

/// Every gate, in report order: the Go gates in the order a hold lists its reasons,
/// then the trigger-only gates, then the analytics gates.
pub const GATES: [GateDef; 27] = [
    GateDef {
        trigger: Some(0),
        row: Some(0),
        unit: Unit::Rate,
        op: ">=",
        sustained: true,
        keys: &["go.error_rate_5xx", "triggers.error_rate_5xx"],
        knobs: &[
            sweepable_knob("go.error_rate_5xx", "5xx go", K::Rate, &[G::ErrorRate5xx]),
            sweepable_knob(
                "triggers.error_rate_5xx",
                "5xx trigger",
                K::Rate,
                &[G::ErrorRate5xx],
            ),
        ],
        ..def(
            G::ErrorRate5xx,
            "error_rate_5xx",
            Stream::Requests,
            "5xx rate",
        )
    },
    GateDef {
        trigger: Some(1),
        row: Some(1),
        unit: Unit::Rate,
        op: ">=",
        sustained: true,
        keys: &[
            "go.error_rate_4xx_nonauth",
            "triggers.error_rate_4xx_nonauth",
        ],
        knobs: &[
            sweepable_knob(
                "go.error_rate_4xx_nonauth",
                "4xx go",
                K::Rate,
                &[G::ErrorRate4xxNonauth],
            ),
            sweepable_knob(
                "triggers.error_rate_4xx_nonauth",
                "4xx trigger",
                K::Rate,
                &[G::ErrorRate4xxNonauth],
            ),
        ],
        ..def(
            G::ErrorRate4xxNonauth,
            "error_rate_4xx_nonauth",
            Stream::Requests,
            "4xx non-auth",
        )
    },
    GateDef {
        trigger: Some(2),
        row: Some(2),
        unit: Unit::Latency,
        sustained: true,
        keys: &["stages.*.go_p95_ms", "triggers.latency_p95_ms"],
        knobs: &[
            sweepable_knob(
                "stages.*.go_p95_ms",
                "p95 go {stage}",
                K::Ms,
                &[G::LatencyP95],
            ),
            sweepable_knob(
                "triggers.latency_p95_ms",
                "p95 trigger",
                K::Ms,
                &[G::LatencyP95],
            ),
        ],
        ..def(
            G::LatencyP95,
            "latency_p95",
            Stream::Requests,
            "p95 latency",
        )
    },
    GateDef {
        trigger: Some(8),
        row: Some(9),
        shows_threshold: false,
        sustained: true,
        keys: &["probes.schemas"],
        ..def(
            G::SchemaFailures,
            "schema_failures",
            Stream::Probes,
            "schema fails",
        )
    },
    GateDef {
        row: Some(6),
        judged: Judged::StageEnd,
        unit: Unit::Availability,
        op: "<",
        keys: &["go.availability"],
        knobs: &[knob(
            "go.availability",
            "availability",
            K::Step(0.0005),
            &[G::Availability],
        )],
        ..def(
            G::Availability,
            "availability",
            Stream::Requests,
            "availability",
        )
    },
    GateDef {
        row: Some(7),
        judged: Judged::StageEnd,
        unit: Unit::TickShare,
        keys: &["go.max_no_data_ticks", "rollout.min_requests"],
        knobs: &[knob(
            "go.max_no_data_ticks",
            "no-data share",
            K::Step(0.01),
            &[G::InsufficientData],
        )],
        ..def(
            G::InsufficientData,
            "insufficient_data",
            Stream::Requests,
            "no-data ticks",
        )
    },
    GateDef {
        trigger: Some(5),
        row: Some(4),
        unit: Unit::BudgetShare,
        sustained: true,
        keys: &["budget.slo", "budget.period", "budget.max_burn"],
        knobs: &[knob(
            "budget.max_burn",
            "budget burn",
            K::Step(0.01),
            &[G::BudgetBurn],
        )],
        ..def(
            G::BudgetBurn,
            "budget_burn",
            Stream::Requests,
            "budget burn",
        )
    },
    GateDef {
        row: Some(5),
        unit: Unit::SlowShare,
        keys: &[
            "endpoints.prefixes",
            "endpoints.p95_ms",
            "endpoints.min_requests",
        ],
        knobs: &[knob(
            "endpoints.p95_ms",
            "endpoint p95",
            K::Ms,
            &[G::EndpointLatencyP95],
        )],
        ..def(
            G::EndpointLatencyP95,
            "endpoint_latency_p95",
            Stream::Requests,
            "endpoint p95",
        )
    },
    GateDef {
        row: Some(11),
        unit: Unit::Fraction,
        op: ">=",
        keys: &["infra.cpu_p95"],
        knobs: &[knob(
            "infra.cpu_p95",
            "cpu p95",
            K::Step(0.01),
            &[G::CpuHeadroom],
        )],
        ..def(G::CpuHeadroom, "cpu_headroom", Stream::Infra, "cpu p95")
    },
    GateDef {
        row: Some(12),
        unit: Unit::Fraction,
        op: "<=",
        keys: &["infra.mem_free_p5"],
        knobs: &[knob(
            "infra.mem_free_p5",
            "mem free p5",
            K::Step(0.01),
            &[G::MemoryHeadroom],
        )],
        ..def(
            G::MemoryHeadroom,
            "memory_headroom",
            Stream::Infra,
            "mem free p5",
        )
    },
    GateDef {
        row: Some(13),
        unit: Unit::Ms,
        op: ">=",
        keys: &["infra.db_p95_ms"],
        knobs: &[knob(
            "infra.db_p95_ms",
            "db p95",
            K::Step(5.0),
            &[G::DbLatency],
        )],
        ..def(G::DbLatency, "db_latency", Stream::Infra, "db p95")
    },
    GateDef {
        row: Some(14),
        unit: Unit::Depth,
        sustained: true,
        keys: &["infra.queue_depth"],
        knobs: &[knob(
            "infra.queue_depth",
            "queue depth",
            K::Step(100.0),
            &[G::QueueBacklog],
        )],
        ..def(
            G::QueueBacklog,
            "queue_backlog",
            Stream::Infra,
            "queue depth",
        )
    },
    GateDef {
        trigger: Some(6),
        row: Some(15),
        unit: Unit::PerMinute,
        sustained: true,
        keys: &[
            "security.factor",
            "security.min_per_minute",
            "security.baseline",
        ],
        knobs: &SECURITY_KNOBS,
        ..def(
            G::SecurityWafSpike,
            "security_waf_spike",
            Stream::Security,
            "waf spike",
        )
    },
    GateDef {
        trigger: Some(7),
        row: Some(16),
        unit: Unit::PerMinute,
        sustained: true,
        keys: &[
            "security.factor",
            "security.min_per_minute",
            "security.baseline",
        ],
        ..def(
            G::SecurityAuthFailures,
            "security_auth_failures",
            Stream::Security,
            "auth fails",
        )
    },
    GateDef {
        trigger: Some(9),
        row: Some(17),
        shows_threshold: false,
        sustained: true,
        ..def(G::PiiInLogs, "pii_in_logs", Stream::Logs, "pii in logs")
    },
    GateDef {
        row: Some(10),
        judged: Judged::StageEnd,
        unit: Unit::GapSeconds,
        keys: &["probes.max_gap", "probes.targets"],
        ..def(
            G::ProbeCoverage,
            "probe_coverage",
            Stream::Probes,
            "probe cover",
        )
    },
    GateDef {
        row: Some(18),
        judged: Judged::StageEnd,
        shows_threshold: false,
        ..def(
            G::CacheHeaderScope,
            "cache_header_scope",
            Stream::Pages,
            "cache scope",
        )
    },
    GateDef {
        row: Some(19),
        judged: Judged::StageEnd,
        shows_threshold: false,
        ..def(
            G::SeoIndexability,
            "seo_indexability",
            Stream::Pages,
            "seo index",
        )
    },
    GateDef {
        go: false,
        trigger: Some(3),
        row: Some(3),
        unit: Unit::Latency,
        sustained: true,
        keys: &["triggers.latency_p99_ms"],
        knobs: &[sweepable_knob(
            "triggers.latency_p99_ms",
            "p99 trigger",
            K::Ms,
            &[G::LatencyP99],
        )],
        ..def(
            G::LatencyP99,
            "latency_p99",
            Stream::Requests,
            "p99 latency",
        )
    },
    GateDef {
        go: false,
        trigger: Some(4),
        row: Some(8),
        judged: Judged::Probe,
        unit: Unit::InARow,
        op: ">=",
        shows_threshold: false,
        keys: &["probes.consecutive_failures"],
        knobs: &[knob(
            "probes.consecutive_failures",
            "probe fails",
            K::Count,
            &[G::ProbeFailures],
        )],
        ..def(
            G::ProbeFailures,
            "probe_failures",
            Stream::Probes,
            "probe fails",
        )
    },
    GateDef {
        judged: Judged::StageEnd,
        keys: &["analytics.synthetic_markers"],
        ..def(
            G::AnalyticsExclusion,
            "analytics_exclusion",
            Stream::Funnel,
            "kpi exclusion",
        )
    },
    GateDef {
        judged: Judged::StageEnd,
        keys: &["analytics.tracking_gap"],
        ..def(
            G::TrackingGap,
            "tracking_gap",
            Stream::Funnel,
            "tracking gap",
        )
    },
    GateDef {
        judged: Judged::StageEnd,
        keys: &["analytics.fee_rate", "analytics.fee_rounding"],
        ..def(G::FeeCapture, "fee_capture", Stream::Ledger, "fee capture")
    },
    GateDef {
        judged: Judged::StageEnd,
        ..def(
            G::LedgerIntegrity,
            "ledger_integrity",
            Stream::Ledger,
            "ledger",
        )
    },
    GateDef {
        judged: Judged::StageEnd,
        keys: &["analytics.paid_mediums"],
        ..def(
            G::PaidAcquisition,
            "paid_acquisition",
            Stream::Funnel,
            "paid traffic",
        )
    },
    GateDef {
        judged: Judged::StageEnd,
        keys: &["analytics.levers", "analytics.lever_min_expected"],
        ..def(
            G::LeverInstrumentation,
            "lever_instrumentation",
            Stream::Funnel,
            "rev. levers",
        )
    },
    // The canary-versus-baseline judge (src/engine/eval/judge.rs): an always-valid
    // sequential test, off unless `judge.enabled`. It fires at once (the test is
    // already sequential: sustaining it would only delay a decision that is final).
    GateDef {
        go: false,
        trigger: Some(10),
        unit: Unit::BayesFactor,
        op: ">=",
        keys: &["judge.enabled", "judge.alpha", "judge.prior_strength"],
        knobs: &[
            sweepable_knob(
                "judge.alpha",
                "judge alpha",
                K::Step(0.001),
                &[G::CanaryJudge],
            ),
            knob(
                "judge.prior_strength",
                "judge prior",
                K::Step(1.0),
                &[G::CanaryJudge],
            ),
        ],
        ..def(
            G::CanaryJudge,
            "canary_judge",
            Stream::Requests,
            "canary judge",
        )
    },
];

/// A Bayes factor in at most 9 characters: one decimal below 1000, then powers of ten.
fn bayes(v: f64) -> String {
    if !v.is_finite() {
        "inf".to_string()
    } else if v < 1000.0 {
        format!("{v:.1}")
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_string()
    } else {
        format!("{v:.2e}")
    }
}

/// The security limits, shared by both security gates (listed once, on the first).
const SECURITY_KNOBS: [KnobDef; 2] = [
    knob(
        "security.factor",
        "sec. factor",
        K::Step(0.5),
        &[G::SecurityWafSpike, G::SecurityAuthFailures],
    ),
    knob(
        "security.min_per_minute",
        "sec. min/min",
        K::Step(1.0),
        &[G::SecurityWafSpike, G::SecurityAuthFailures],
    ),
];

/// The Go gates in reason order.
pub const GO: [Gate; count(Order::Go)] = ordered(Order::Go);
/// The triggers in reason order.
pub const TRIGGERS: [Gate; count(Order::Trigger)] = ordered(Order::Trigger);
/// The gates of the terminal UI's gate table, in row order.
pub const ROWS: [Gate; count(Order::Row)] = ordered(Order::Row);

/// The orders gates are listed in besides the registry's own.
#[derive(Clone, Copy)]
enum Order {
    Registry,
    Go,
    Trigger,
    Row,
}

/// The place of `GATES[i]` in `order`, when it is listed there (a Go gate's place is
/// its position among the Go gates of the registry).
const fn place(i: usize, order: Order) -> Option<usize> {
    let d = &GATES[i];
    match order {
        Order::Registry => Some(i),
        Order::Go => {
            if !d.go {
                return None;
            }
            let (mut n, mut j) = (0, 0);
            while j < i {
                if GATES[j].go {
                    n += 1;
                }
                j += 1;
            }
            Some(n)
        }
        Order::Trigger => match d.trigger {
            Some(r) => Some(r as usize),
            None => None,
        },
        Order::Row => match d.row {
            Some(r) => Some(r as usize),
            None => None,
        },
    }
}

/// How many gates `order` lists.
const fn count(order: Order) -> usize {
    let (mut n, mut i) = (0, 0);
    while i < GATES.len() {
        if place(i, order).is_some() {
            n += 1;
        }
        i += 1;
    }
    n
}

/// The gates `order` lists, in its order.
const fn ordered<const N: usize>(order: Order) -> [Gate; N] {
    let mut out = [Gate::ErrorRate5xx; N];
    let mut i = 0;
    while i < GATES.len() {
        if let Some(r) = place(i, order) {
            out[r] = GATES[i].gate;
        }
        i += 1;
    }
    out
}

impl Gate {
    /// Every gate once, in report order (the order of [`GATES`]).
    pub const ALL: [Gate; GATES.len()] = ordered(Order::Registry);
    /// The Go gates in reason order.
    pub const GO: [Gate; GO.len()] = GO;
    /// The triggers in reason order.
    pub const TRIGGERS: [Gate; TRIGGERS.len()] = TRIGGERS;

    /// The gate's definition.
    pub const fn def(self) -> &'static GateDef {
        &GATES[self as usize]
    }

    /// Its index in [`GATES`] and [`Gate::ALL`].
    pub const fn index(self) -> usize {
        self as usize
    }

    pub fn as_str(self) -> &'static str {
        self.def().id
    }

    pub fn parse(s: &str) -> Option<Gate> {
        GATES.iter().find(|d| d.id == s).map(|d| d.gate)
    }

    pub fn is_go(self) -> bool {
        self.def().go
    }

    pub fn is_trigger(self) -> bool {
        self.def().trigger.is_some()
    }

    /// Position among Go gates (reason order of a hold).
    pub fn go_rank(self) -> usize {
        GO.iter().position(|g| *g == self).unwrap_or(usize::MAX)
    }

    /// Position among triggers (reason order of a rollback).
    pub fn trigger_rank(self) -> usize {
        self.def().trigger.map_or(usize::MAX, usize::from)
    }

    /// The stream a gate reads.
    pub fn stream(self) -> Stream {
        self.def().stream
    }
}

/// Every tunable value, in the gate table's row order, with the sustain span after the
/// latency triggers (the last of the request triggers), then the knobs of gates the
/// table has no row for.
pub fn knobs() -> Vec<&'static KnobDef> {
    let mut out = Vec::new();
    for g in ROWS {
        out.extend(g.def().knobs.iter());
        if g == Gate::LatencyP99 {
            out.push(&SUSTAIN_KNOB);
        }
    }
    // Gates without a row of the gate table (the canary judge) come last.
    for d in GATES.iter().filter(|d| d.row.is_none()) {
        out.extend(d.knobs.iter());
    }
    out
}

/// Whether `key` (`stages.NAME.go_p95_ms` for a stage knob) may be varied by sweeps.
pub fn sweepable(key: &str) -> bool {
    knob_of(key).is_some_and(|k| k.sweep)
}

/// The knob a `--set` key names.
pub fn knob_of(key: &str) -> Option<&'static KnobDef> {
    knobs()
        .into_iter()
        .find(|k| match k.key.strip_prefix("stages.*.") {
            Some(field) => key
                .strip_prefix("stages.")
                .and_then(|rest| rest.rsplit_once('.'))
                .is_some_and(|(name, f)| !name.is_empty() && f == field),
            None => k.key == key,
        })
}

impl Unit {
    /// A value as the report prints it.
    pub fn report(self, v: f64) -> String {
        match self {
            Unit::Rate => format!("{:.2}%", v * 100.0),
            Unit::Availability => format!("{:.3}%", v * 100.0),
            Unit::TickShare => format!("{:.0}% of ticks", v * 100.0),
            Unit::Latency => format!("≈{v:.1} ms"),
            Unit::BudgetShare => format!("{:.1}% of budget", v * 100.0),
            Unit::SlowShare => format!("{:.1}% slow", v * 100.0),
            Unit::Fraction => format!("{:.0}%", v * 100.0),
            Unit::Ms => format!("{v:.1} ms"),
            Unit::Depth | Unit::Count => format!("{v:.0}"),
            Unit::PerMinute => format!("{v:.1}/min"),
            Unit::InARow => format!("{v:.0} in a row"),
            Unit::GapSeconds => format!("{v:.0}s gap"),
            Unit::BayesFactor => format!("Bayes factor {}", bayes(v)),
        }
    }

    /// A threshold as the report prints it.
    pub fn report_threshold(self, v: f64) -> String {
        match self {
            Unit::Latency => format!("{v} ms"),
            Unit::SlowShare => format!("{:.0}%", v * 100.0),
            Unit::BayesFactor => bayes(v),
            _ => self.report(v).trim_start_matches('≈').to_string(),
        }
    }

    /// A value in at most 9 characters (tables).
    pub fn short(self, v: f64) -> String {
        match self {
            Unit::Rate | Unit::Availability => format!("{:.2}%", v * 100.0),
            Unit::TickShare | Unit::Fraction => format!("{:.0}%", v * 100.0),
            Unit::Latency | Unit::Ms => format!("{v:.1}ms"),
            Unit::BudgetShare | Unit::SlowShare => format!("{:.1}%", v * 100.0),
            Unit::PerMinute => format!("{v:.1}/m"),
            Unit::GapSeconds => format!("{v:.0}s"),
            Unit::Depth | Unit::InARow | Unit::Count => format!("{v:.0}"),
            Unit::BayesFactor => bayes(v),
        }
    }

    /// A threshold in at most 9 characters (tables).
    pub fn short_threshold(self, v: f64) -> String {
        match self {
            Unit::Latency | Unit::Ms => format!("{v}ms"),
            Unit::Rate => format!("{}%", (v * 100.0 * 1e6).round() / 1e6),
            _ => self.short(v),
        }
    }

    /// Whether values come from the display sketch (approximate, marked `≈`).
    pub fn approximate(self) -> bool {
        self == Unit::Latency
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_is_indexed_by_the_enum() {
        for (i, d) in GATES.iter().enumerate() {
            assert_eq!(d.gate as usize, i, "{} is out of place", d.id);
            assert_eq!(Gate::parse(d.id), Some(d.gate));
            assert!(d.label.chars().count() <= 13, "{} label too long", d.id);
        }
    }

    #[test]
    fn ranks_are_dense_and_distinct() {
        let mut t: Vec<u8> = GATES.iter().filter_map(|d| d.trigger).collect();
        t.sort_unstable();
        assert_eq!(t, (0..t.len() as u8).collect::<Vec<_>>());
        let mut r: Vec<u8> = GATES.iter().filter_map(|d| d.row).collect();
        r.sort_unstable();
        assert_eq!(r, (0..r.len() as u8).collect::<Vec<_>>());
        assert_eq!(GO.len() + 3, GATES.len());
        assert_eq!(TRIGGERS[3], Gate::LatencyP99);
        assert!(GO.iter().all(|g| g.is_go()));
    }

    #[test]
    fn serde_names_are_the_ids() {
        for d in &GATES {
            let json = serde_json::to_string(&d.gate).unwrap();
            assert_eq!(json, format!("\"{}\"", d.id));
        }
    }

    #[test]
    fn knobs_resolve_by_key() {
        assert!(sweepable("stages.ramp-25.go_p95_ms"));
        assert!(sweepable("rollout.sustain"));
        assert!(sweepable("triggers.latency_p99_ms"));
        assert!(!sweepable("budget.max_burn"));
        assert!(sweepable("judge.alpha"));
        assert!(!sweepable("judge.prior_strength"));
        assert_eq!(TRIGGERS[10], Gate::CanaryJudge);
        assert!(!sweepable("stages..go_p95_ms"));
        assert!(knob_of("nope").is_none());
    }
}
