//! The odds of a false stop for `rehearse run`: the dataset's requests stream is read a
//! second time into a [`BaselineTally`] (the baseline's 5xx, non-auth 4xx and slow
//! requests within the rollout; the fold keeps canary counts only), and
//! [`crate::engine::odds::odds`] turns it and the fold's canary traffic into each
//! stage's odds. The seed of the Monte Carlo fallback is fixed, so the report is
//! deterministic.

use std::path::Path;

use crate::engine::Folded;
use crate::engine::odds::{BaselineTally, StageOdds, odds};
use crate::input::Stream;
use crate::policy::Policy;
use crate::source::InputError;
use crate::source::dataset::DatasetDir;
use crate::source::read::{ReadOptions, read_streams};

/// The seed of the Monte Carlo replays.
pub const SEED: u64 = 0x00dd_50ff_a15e;

/// The baseline of the dataset in `dir`: its requests read again, latencies also
/// counted above the `extra` limits (us).
pub fn tally_dir(
    policy: &Policy,
    t0: crate::input::Millis,
    dir: &Path,
    opts: ReadOptions,
    extra: &[u64],
) -> Result<BaselineTally, InputError> {
    let mut ds = DatasetDir::open(dir)?;
    ds.streams.retain(|s, _| *s == Stream::Requests);
    let mut tally = BaselineTally::with_limits(policy, t0, extra);
    read_streams(&ds, &mut tally, opts)?;
    Ok(tally)
}

/// Each stage's odds over the dataset in `dir` (already replayed into `folded`).
pub fn of_dir(
    policy: &Policy,
    folded: &Folded,
    dir: &Path,
    opts: ReadOptions,
) -> Result<Vec<Option<StageOdds>>, InputError> {
    let tally = tally_dir(policy, folded.t0, dir, opts, &[])?;
    Ok(odds(policy, folded, &tally, SEED))
}
