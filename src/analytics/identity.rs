//! Identity stitching (contract section 1): a person is a `user_id`; an event with only
//! an `anonymous_id` belongs to the user id that the same anonymous id carries on the
//! earliest event holding both (timestamp order, file order on ties), otherwise the
//! anonymous id is the person. Segment `identify`, `group` and `alias` calls take part
//! in the "earliest event holding both" but are no events of any person.

use super::data::{FLAG_IDENTITY, FunnelEvents};
use super::symbols::NONE;

/// The person of every event of a slice.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Identity {
    /// Person index of each event; [`NONE`] for identity-only rows.
    pub person_of: Vec<u32>,
    /// Each person's symbol: their user id, or the anonymous id that is the person.
    pub person_key: Vec<u32>,
    /// Each person's first event (index into the events).
    pub first_event: Vec<u32>,
    /// How many anonymous ids were stitched to a user id.
    pub stitched_anonymous_ids: u64,
}

/// Stitches the first `n` events (they are in timestamp order, file order on ties).
/// `n_symbols` bounds every id symbol of the events (`AnalyticsData::ids`).
pub fn stitch(ev: &FunnelEvents, n: usize, n_symbols: usize) -> Identity {
    let mut user_of_anon = vec![NONE; n_symbols];
    let mut stitched = 0;
    for i in 0..n {
        let (u, a) = (ev.user[i], ev.anon[i]);
        if u != NONE && a != NONE && user_of_anon[a as usize] == NONE {
            user_of_anon[a as usize] = u;
            stitched += 1;
        }
    }
    let mut index = vec![NONE; n_symbols];
    let mut person_of = Vec::with_capacity(n);
    let mut person_key = Vec::new();
    let mut first_event = Vec::new();
    for i in 0..n {
        if ev.flags[i] & FLAG_IDENTITY != 0 {
            person_of.push(NONE);
            continue;
        }
        let (u, a) = (ev.user[i], ev.anon[i]);
        let key = if u != NONE {
            u
        } else if user_of_anon[a as usize] != NONE {
            user_of_anon[a as usize]
        } else {
            a
        };
        let slot = &mut index[key as usize];
        if *slot == NONE {
            *slot = person_key.len() as u32;
            person_key.push(key);
            first_event.push(i as u32);
        }
        person_of.push(*slot);
    }
    Identity {
        person_of,
        person_key,
        first_event,
        stitched_anonymous_ids: stitched,
    }
}
