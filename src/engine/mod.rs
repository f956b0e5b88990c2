//! The replay engine, a pure fold: readers push events into [`Folded`] (the per-tick
//! aggregates, through [`crate::input::EventSink`]), then [`evaluate`] walks the
//! rollout tick by tick and returns the verdict events. No clock, no IO, no unseeded
//! randomness (the odds' Monte Carlo fallback, [`odds`], draws from a fixed seed):
//! every instant comes from the data, schemas arrive compiled, and gates
//! over streams the engine does not fold (the analytics gates) plug in through
//! [`StageCheck`]. The engine imports no reader, analytics, polars or UI code.

pub mod eval;
pub mod fold;
pub mod odds;
pub mod schema;
pub mod whatif;

use crate::gate::Gate;
use crate::input::Millis;
use crate::policy::Policy;

pub use eval::{Run, StageOutcome, evaluate, evaluate_with};
pub use fold::Folded;
use schema::SchemaSet;

/// Everything checked before any work starts: the policy and its compiled schemas.
#[derive(Clone)]
pub struct Setup {
    pub policy: Policy,
    pub schemas: SchemaSet,
}

impl Setup {
    pub fn new(policy: Policy, schemas: SchemaSet) -> Self {
        Self { policy, schemas }
    }
}

/// Gates judged at each stage's end over events the fold does not hold (the funnel and
/// ledger streams). The analytics layer implements it; the engine only asks.
pub trait StageCheck: Send + Sync {
    /// Each gate this check judges, and whether its data is there (a gate without its
    /// data is `not_evaluated` and never breaches).
    fn evaluated(&self) -> Vec<(Gate, bool)>;
    /// The gates breached over the events up to `end` (inclusive), each with a detail
    /// in words, in report order.
    fn breaches(&self, policy: &Policy, end: Millis) -> Vec<(Gate, String)>;
}

/// Why a rollout start cannot be used.
#[derive(Debug, thiserror::Error)]
#[error(
    "{name}: the rollout start {t0} ms since the epoch is out of range: the rollout and its security baseline must fall within the years 0000-9999 (check --start or the earliest request and probe timestamps)"
)]
pub struct StartOutOfRange {
    pub name: String,
    pub t0: Millis,
}

/// Checks that the stages, baseline and ticks from `t0` all fall within RFC 3339's
/// years 0000-9999, so no instant computed from T0 can overflow.
pub fn check_start(policy: &Policy, t0: Millis, name: &str) -> Result<Millis, StartOutOfRange> {
    const MIN: Millis = -62_167_219_200_000; // 0000-01-01T00:00:00Z
    const MAX: Millis = 253_402_300_799_999; // 9999-12-31T23:59:59.999Z
    let ok = t0
        .checked_sub(policy.security_baseline_ms)
        .is_some_and(|b| b >= MIN)
        && t0.checked_add(policy.total_ms()).is_some_and(|e| e <= MAX);
    if ok {
        Ok(t0)
    } else {
        Err(StartOutOfRange {
            name: name.to_string(),
            t0,
        })
    }
}
