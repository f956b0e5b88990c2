//! The odds of a false stop for `rehearse run` and `rehearse tune`: each stage's odds
//! from a replay's fold alone (its canary traffic per tick and the baseline's counts
//! by status class and latency band, kept as the requests were folded), through
//! [`crate::engine::odds::odds`]. The seed of the Monte Carlo fallback is fixed, so the
//! report is deterministic.

use crate::engine::Folded;
use crate::engine::odds::{StageOdds, odds};
use crate::policy::Policy;

/// The seed of the Monte Carlo replays.
pub const SEED: u64 = 0x00dd_50ff_a15e;

/// Each stage's odds over a replay's fold (`None` for a stage without canary traffic).
pub fn of_fold(policy: &Policy, folded: &Folded) -> Vec<Option<StageOdds>> {
    odds(policy, folded, SEED)
}
