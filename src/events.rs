//! Verdict events: the one contract between the engine, the report writer, the
//! recorder and the terminal UI. The engine emits them in time order; every consumer
//! reads only these (plus the per-tick records they carry).

use serde::{Deserialize, Serialize};

use crate::model::Millis;

/// Every gate of the contract, in the order reasons are listed (Go gates of section 4,
/// then those of section 8, then the analytics gates; triggers of section 5 then 8).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Gate {
    #[serde(rename = "error_rate_5xx")]
    ErrorRate5xx,
    #[serde(rename = "error_rate_4xx_nonauth")]
    ErrorRate4xxNonauth,
    #[serde(rename = "latency_p95")]
    LatencyP95,
    #[serde(rename = "latency_p99")]
    LatencyP99,
    ProbeFailures,
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
    AnalyticsExclusion,
    TrackingGap,
    FeeCapture,
    LedgerIntegrity,
}

impl Gate {
    /// Go gates in reason order.
    pub const GO: [Gate; 22] = [
        Gate::ErrorRate5xx,
        Gate::ErrorRate4xxNonauth,
        Gate::LatencyP95,
        Gate::SchemaFailures,
        Gate::Availability,
        Gate::InsufficientData,
        Gate::BudgetBurn,
        Gate::EndpointLatencyP95,
        Gate::CpuHeadroom,
        Gate::MemoryHeadroom,
        Gate::DbLatency,
        Gate::QueueBacklog,
        Gate::SecurityWafSpike,
        Gate::SecurityAuthFailures,
        Gate::PiiInLogs,
        Gate::ProbeCoverage,
        Gate::CacheHeaderScope,
        Gate::SeoIndexability,
        Gate::AnalyticsExclusion,
        Gate::TrackingGap,
        Gate::FeeCapture,
        Gate::LedgerIntegrity,
    ];

    /// Rollback triggers in reason order.
    pub const TRIGGERS: [Gate; 10] = [
        Gate::ErrorRate5xx,
        Gate::ErrorRate4xxNonauth,
        Gate::LatencyP95,
        Gate::LatencyP99,
        Gate::ProbeFailures,
        Gate::BudgetBurn,
        Gate::SecurityWafSpike,
        Gate::SecurityAuthFailures,
        Gate::SchemaFailures,
        Gate::PiiInLogs,
    ];

    /// Every gate once, Go gates first, then trigger-only gates, then analytics gates.
    pub const ALL: [Gate; 24] = [
        Gate::ErrorRate5xx,
        Gate::ErrorRate4xxNonauth,
        Gate::LatencyP95,
        Gate::SchemaFailures,
        Gate::Availability,
        Gate::InsufficientData,
        Gate::BudgetBurn,
        Gate::EndpointLatencyP95,
        Gate::CpuHeadroom,
        Gate::MemoryHeadroom,
        Gate::DbLatency,
        Gate::QueueBacklog,
        Gate::SecurityWafSpike,
        Gate::SecurityAuthFailures,
        Gate::PiiInLogs,
        Gate::ProbeCoverage,
        Gate::CacheHeaderScope,
        Gate::SeoIndexability,
        Gate::LatencyP99,
        Gate::ProbeFailures,
        Gate::AnalyticsExclusion,
        Gate::TrackingGap,
        Gate::FeeCapture,
        Gate::LedgerIntegrity,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Gate::ErrorRate5xx => "error_rate_5xx",
            Gate::ErrorRate4xxNonauth => "error_rate_4xx_nonauth",
            Gate::LatencyP95 => "latency_p95",
            Gate::LatencyP99 => "latency_p99",
            Gate::ProbeFailures => "probe_failures",
            Gate::SchemaFailures => "schema_failures",
            Gate::Availability => "availability",
            Gate::InsufficientData => "insufficient_data",
            Gate::BudgetBurn => "budget_burn",
            Gate::EndpointLatencyP95 => "endpoint_latency_p95",
            Gate::CpuHeadroom => "cpu_headroom",
            Gate::MemoryHeadroom => "memory_headroom",
            Gate::DbLatency => "db_latency",
            Gate::QueueBacklog => "queue_backlog",
            Gate::SecurityWafSpike => "security_waf_spike",
            Gate::SecurityAuthFailures => "security_auth_failures",
            Gate::PiiInLogs => "pii_in_logs",
            Gate::ProbeCoverage => "probe_coverage",
            Gate::CacheHeaderScope => "cache_header_scope",
            Gate::SeoIndexability => "seo_indexability",
            Gate::AnalyticsExclusion => "analytics_exclusion",
            Gate::TrackingGap => "tracking_gap",
            Gate::FeeCapture => "fee_capture",
            Gate::LedgerIntegrity => "ledger_integrity",
        }
    }

    pub fn parse(s: &str) -> Option<Gate> {
        Gate::ALL.into_iter().find(|g| g.as_str() == s)
    }

    pub fn is_go(self) -> bool {
        Gate::GO.contains(&self)
    }

    pub fn is_trigger(self) -> bool {
        Gate::TRIGGERS.contains(&self)
    }

    /// Position among Go gates (reason order of a hold).
    pub fn go_rank(self) -> usize {
        Gate::GO
            .iter()
            .position(|g| *g == self)
            .unwrap_or(usize::MAX)
    }

    /// Position among triggers (reason order of a rollback).
    pub fn trigger_rank(self) -> usize {
        Gate::TRIGGERS
            .iter()
            .position(|g| *g == self)
            .unwrap_or(usize::MAX)
    }

    /// The stream a gate reads.
    pub fn stream(self) -> crate::model::Stream {
        use crate::model::Stream;
        match self {
            Gate::ErrorRate5xx
            | Gate::ErrorRate4xxNonauth
            | Gate::LatencyP95
            | Gate::LatencyP99
            | Gate::Availability
            | Gate::InsufficientData
            | Gate::BudgetBurn
            | Gate::EndpointLatencyP95 => Stream::Requests,
            Gate::ProbeFailures | Gate::SchemaFailures | Gate::ProbeCoverage => Stream::Probes,
            Gate::CpuHeadroom | Gate::MemoryHeadroom | Gate::DbLatency | Gate::QueueBacklog => {
                Stream::Infra
            }
            Gate::SecurityWafSpike | Gate::SecurityAuthFailures => Stream::Security,
            Gate::PiiInLogs => Stream::Logs,
            Gate::CacheHeaderScope | Gate::SeoIndexability => Stream::Pages,
            Gate::AnalyticsExclusion | Gate::TrackingGap => Stream::Funnel,
            Gate::FeeCapture | Gate::LedgerIntegrity => Stream::Ledger,
        }
    }
}

/// A gate's state at one tick.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GateState {
    Ok,
    Breach,
    NoData,
    NotEvaluated,
}

impl GateState {
    pub fn as_str(self) -> &'static str {
        match self {
            GateState::Ok => "ok",
            GateState::Breach => "breach",
            GateState::NoData => "no_data",
            GateState::NotEvaluated => "not_evaluated",
        }
    }
}

/// A stage's verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Go,
    Hold,
    Rollback,
    NotRun,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Go => "go",
            Verdict::Hold => "hold",
            Verdict::Rollback => "rollback",
            Verdict::NotRun => "not_run",
        }
    }
}

/// The rollout's outcome.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Complete,
    Hold,
    Rollback,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Complete => "complete",
            Outcome::Hold => "hold",
            Outcome::Rollback => "rollback",
        }
    }
    /// The exit status of `rehearse run` for this outcome.
    pub fn exit_code(self) -> i32 {
        match self {
            Outcome::Complete => 0,
            Outcome::Hold => 3,
            Outcome::Rollback => 4,
        }
    }
}

/// One gate at one tick: its displayed value, the threshold it is held to, its state and
/// the number of consecutive ticks its trigger condition has held.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GateTick {
    pub gate: Gate,
    pub state: GateState,
    /// The displayed value (a rate, milliseconds, events per minute...); `None` without data.
    pub value: Option<f64>,
    /// The Go threshold at this tick, as displayed.
    pub threshold: Option<f64>,
    /// Whether the trigger condition held at this tick (triggers only).
    pub trigger: bool,
    /// Consecutive ticks the trigger condition has held (0 when it did not).
    pub sustain: u32,
}

/// Everything the engine computed at one tick.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TickRecord {
    /// Tick number k (the tick falls at T0 + k * tick).
    pub k: u32,
    pub at: Millis,
    pub stage: usize,
    /// Canary real requests in the window.
    pub requests: u64,
    pub gates: Vec<GateTick>,
}

/// Why a gate breached or fired: the measured value against the threshold.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    pub gate: Gate,
    /// Displayed value (rates as fractions, latencies in ms).
    pub value: Option<f64>,
    pub threshold: Option<f64>,
    /// Comparison as written: `>=`, `>`, `<`, `<=`.
    pub op: String,
    /// First tick of the run that led here, when tick-based.
    pub since: Option<Millis>,
    /// Ticks the condition held (sustained triggers) or ticks breached (Go gates).
    pub ticks: u32,
    /// Free text: which target, prefix, page or log line (PII redacted).
    pub detail: String,
}

/// A follow-up action that never blocks.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FollowUp {
    pub kind: String,
    pub stage: String,
    pub at: Millis,
    pub detail: String,
}

/// The events of a run, in time order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum VerdictEvent {
    StageStarted {
        stage: usize,
        at: Millis,
    },
    Tick(TickRecord),
    /// A Go gate breached at a tick where it was not breached at the previous tick
    /// (or a stage-level gate at the stage's end).
    Breach {
        stage: usize,
        at: Millis,
        evidence: Evidence,
    },
    /// A rollback trigger fired.
    Trigger {
        stage: usize,
        at: Millis,
        evidence: Evidence,
    },
    FollowUp(FollowUp),
    StageVerdict {
        stage: usize,
        at: Millis,
        verdict: Verdict,
        reasons: Vec<Gate>,
    },
    Outcome {
        at: Millis,
        outcome: Outcome,
    },
}
