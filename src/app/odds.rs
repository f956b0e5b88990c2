//! The odds of a false stop for `rehearse run` and `rehearse tune`: each stage's odds
//! from a replay's fold alone (its canary traffic per tick and the baseline's counts
//! by status class and latency band, kept as the requests were folded). The engine
//! walks the exact chains ([`crate::engine::odds::odds`]); where one is too large, the
//! replays of [`super::odds_mc`] (seeded, so the report is deterministic) give the
//! odds of those chains.

use crate::engine::Folded;
use crate::engine::odds::{StageOdds, chains_needing_replays, odds};
use crate::policy::Policy;

use super::odds_mc::{REPLAYS, replay_hits};

/// The seed of the Monte Carlo replays.
pub const SEED: u64 = 0x00dd_50ff_a15e;

/// Each stage's odds over a replay's fold (`None` for a stage without canary traffic).
pub fn of_fold(policy: &Policy, folded: &Folded) -> Vec<Option<StageOdds>> {
    let chains = chains_needing_replays(policy, folded);
    let hits = (!chains.is_empty()).then(|| replay_hits(policy, folded, &chains, SEED, REPLAYS));
    // With the replays every chain has its odds; without, every chain is exact.
    odds(policy, folded, hits.as_ref()).unwrap_or_default()
}
