//! Verdict events: the one contract between the engine, the report writer, the
//! recorder and the terminal UI. The engine emits them in time order; every consumer
//! reads only these (plus the per-tick records they carry). Gates themselves are
//! defined in [`crate::gate`].

use serde::{Deserialize, Serialize};

use crate::input::Millis;

pub use crate::gate::Gate;

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
