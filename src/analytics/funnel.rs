//! The per-person pass (contract sections 1-4): group a slice's events by person (after
//! identity stitching), take each person's platform and cohort from their earliest
//! event, flag synthetic and canary-only persons, find their furthest B2C funnel step
//! and the step instants of the visit that reached it, and their first- and last-touch
//! UTM sources. Rollups over the resulting person table run in polars
//! ([`super::report`]); the sequential step matching is a linear scan per person.
//!
//! Step matching: a person's step events are ordered by timestamp, then step order
//! (equal timestamps count in step order), then file order. From each `visit`, the
//! chain takes the first later event of each next step in turn while it is no more than
//! the window after that visit; one event fills one step. The furthest step is the best
//! chain over all visits (the earliest visit among equals gives the step instants).

use rayon::prelude::*;

use super::data::{COHORT_CANARY, FLAG_IDENTITY, FunnelEvents, PURCHASE};
use super::identity::Identity;
use super::symbols::NONE;
use crate::input::Millis;

/// The number of B2C funnel steps.
pub const STEPS: usize = 5;
/// A step instant that was not reached.
pub const UNREACHED: Millis = Millis::MIN;

/// One row per person.
#[derive(Clone, Debug, Default)]
pub struct PersonTable {
    /// The person's symbol (user id or anonymous id).
    pub key: Vec<u32>,
    /// Platform and cohort of the earliest event ([`NONE`] / 0 when null).
    pub platform: Vec<u32>,
    pub cohort: Vec<u8>,
    pub synthetic: Vec<bool>,
    pub canary_only: Vec<bool>,
    /// The furthest step reached (0 = visit .. 4 = credit_purchase), -1 without a visit.
    pub furthest: Vec<i8>,
    /// The instant of each step on the chain that reached `furthest` ([`UNREACHED`]).
    pub step_ts: [Vec<Millis>; STEPS],
    /// The `utm_source` of the earliest event having one, [`NONE`] for `(direct)`.
    pub first_touch: Vec<u32>,
    /// The `utm_source` of the latest event having one at or before the first
    /// `credit_purchase`; [`NONE`] for `(direct)` or a person without a purchase.
    pub last_touch: Vec<u32>,
    /// The first `credit_purchase` instant ([`UNREACHED`] when none).
    pub first_purchase: Vec<Millis>,
    pub first_ts: Vec<Millis>,
    pub events: Vec<u32>,
}

impl PersonTable {
    pub fn len(&self) -> usize {
        self.key.len()
    }

    pub fn is_empty(&self) -> bool {
        self.key.is_empty()
    }

    pub fn paying(&self, p: usize) -> bool {
        self.first_purchase[p] != UNREACHED
    }
}

/// The furthest step of one person's step events, given as `(ts, step)` already ordered
/// by timestamp, step, file order; with the step instants of the winning chain.
/// `next` is scratch space.
pub fn best_chain(
    steps: &[(Millis, u8)],
    window: Millis,
    next: &mut Vec<[u32; STEPS]>,
) -> (i8, [Millis; STEPS]) {
    let m = steps.len();
    let mut best: i8 = -1;
    let mut best_ts = [UNREACHED; STEPS];
    if m == 0 {
        return (best, best_ts);
    }
    next.clear();
    next.resize(m + 1, [m as u32; STEPS]);
    for j in (0..m).rev() {
        let mut row = next[j + 1];
        row[steps[j].1 as usize] = j as u32;
        next[j] = row;
    }
    for (i, &(tv, step)) in steps.iter().enumerate() {
        if step != 0 {
            continue;
        }
        let limit = tv.saturating_add(window);
        let mut times = [UNREACHED; STEPS];
        times[0] = tv;
        let mut cur = i;
        let mut depth: i8 = 0;
        for (k, slot) in times.iter_mut().enumerate().skip(1) {
            let j = next[cur + 1][k] as usize;
            if j == m || steps[j].0 > limit {
                break;
            }
            cur = j;
            depth = k as i8;
            *slot = steps[j].0;
        }
        if depth > best {
            best = depth;
            best_ts = times;
            if best as usize == STEPS - 1 {
                break;
            }
        }
    }
    (best, best_ts)
}

/// One event of a person, gathered for the per-person pass.
#[derive(Clone, Copy)]
struct Ev {
    ts: Millis,
    event: u32,
    utm: u32,
    cohort: u8,
    synthetic: bool,
}

/// Persons `range` of the table, from their events `order[start[p]..start[p + 1]]`.
fn person_rows(
    ev: &FunnelEvents,
    order: &[u32],
    start: &[u32],
    synthetic: &[bool],
    window: Millis,
    range: std::ops::Range<usize>,
) -> PersonTable {
    let np = range.len();
    let mut t = PersonTable {
        key: Vec::new(),
        platform: Vec::with_capacity(np),
        cohort: Vec::with_capacity(np),
        synthetic: Vec::with_capacity(np),
        canary_only: Vec::with_capacity(np),
        furthest: Vec::with_capacity(np),
        step_ts: std::array::from_fn(|_| Vec::with_capacity(np)),
        first_touch: Vec::with_capacity(np),
        last_touch: Vec::with_capacity(np),
        first_purchase: Vec::with_capacity(np),
        first_ts: Vec::with_capacity(np),
        events: Vec::with_capacity(np),
    };
    let mut list: Vec<Ev> = Vec::new();
    let mut steps: Vec<(Millis, u8)> = Vec::new();
    let mut next = Vec::new();
    for p in range {
        let idx = &order[start[p] as usize..start[p + 1] as usize];
        list.clear();
        list.extend(idx.iter().map(|&i| {
            let i = i as usize;
            Ev {
                ts: ev.ts[i],
                event: ev.event[i],
                utm: ev.utm_source[i],
                cohort: ev.cohort[i],
                synthetic: synthetic[i],
            }
        }));
        let first = idx[0] as usize;
        t.platform.push(ev.platform[first]);
        t.cohort.push(list[0].cohort);
        t.first_ts.push(list[0].ts);
        t.events.push(list.len() as u32);
        t.synthetic.push(list.iter().any(|e| e.synthetic));
        t.canary_only
            .push(list.iter().all(|e| e.cohort == COHORT_CANARY));
        t.first_touch.push(
            list.iter()
                .map(|e| e.utm)
                .find(|&u| u != NONE)
                .unwrap_or(NONE),
        );
        let fp = list
            .iter()
            .find(|e| e.event == PURCHASE)
            .map_or(UNREACHED, |e| e.ts);
        t.first_purchase.push(fp);
        t.last_touch.push(if fp == UNREACHED {
            NONE
        } else {
            list.iter()
                .take_while(|e| e.ts <= fp)
                .map(|e| e.utm)
                .filter(|&u| u != NONE)
                .last()
                .unwrap_or(NONE)
        });
        steps.clear();
        steps.extend(
            list.iter()
                .filter(|e| (e.event as usize) < STEPS)
                .map(|e| (e.ts, e.event as u8)),
        );
        // Already in (ts, file) order: put equal timestamps in step order, stably.
        if steps
            .windows(2)
            .any(|w| w[0].0 == w[1].0 && w[0].1 > w[1].1)
        {
            steps.sort_by_key(|&(ts, s)| (ts, s));
        }
        let (furthest, times) = best_chain(&steps, window, &mut next);
        t.furthest.push(furthest);
        for (k, col) in t.step_ts.iter_mut().enumerate() {
            col.push(times[k]);
        }
    }
    t
}

/// Builds the person table of the first `n` events, persons in parallel.
pub fn person_table(
    ev: &FunnelEvents,
    n: usize,
    id: &Identity,
    synthetic: &[bool],
    window: Millis,
) -> PersonTable {
    let np = id.person_key.len();
    // Counting sort of event indices by person, keeping time order within a person.
    let mut start = vec![0u32; np + 1];
    for &p in &id.person_of[..n] {
        if p != NONE {
            start[p as usize + 1] += 1;
        }
    }
    for p in 0..np {
        start[p + 1] += start[p];
    }
    let mut fill = start.clone();
    let mut order = vec![0u32; start[np] as usize];
    for (i, &p) in id.person_of[..n].iter().enumerate() {
        if p != NONE && ev.flags[i] & FLAG_IDENTITY == 0 {
            let slot = &mut fill[p as usize];
            order[*slot as usize] = i as u32;
            *slot += 1;
        }
    }
    drop(fill);

    const CHUNK: usize = 1 << 15;
    let ranges: Vec<std::ops::Range<usize>> = (0..np)
        .step_by(CHUNK)
        .map(|from| from..(from + CHUNK).min(np))
        .collect();
    let parts: Vec<PersonTable> = ranges
        .into_par_iter()
        .map(|r| person_rows(ev, &order, &start, synthetic, window, r))
        .collect();
    let mut t = PersonTable {
        key: id.person_key.clone(),
        ..Default::default()
    };
    for part in parts {
        t.platform.extend(part.platform);
        t.cohort.extend(part.cohort);
        t.synthetic.extend(part.synthetic);
        t.canary_only.extend(part.canary_only);
        t.furthest.extend(part.furthest);
        for (col, p) in t.step_ts.iter_mut().zip(part.step_ts) {
            col.extend(p);
        }
        t.first_touch.extend(part.first_touch);
        t.last_touch.extend(part.last_touch);
        t.first_purchase.extend(part.first_purchase);
        t.first_ts.extend(part.first_ts);
        t.events.extend(part.events);
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: Millis = 3_600_000;
    const W: Millis = 24 * H;

    fn chain(steps: &[(Millis, u8)]) -> (i8, [Millis; STEPS]) {
        best_chain(steps, W, &mut Vec::new())
    }

    #[test]
    fn sequential_steps_within_the_window() {
        let (d, ts) = chain(&[(0, 0), (10, 1), (20, 2), (30, 3), (40, 4)]);
        assert_eq!(d, 4);
        assert_eq!(ts, [0, 10, 20, 30, 40]);
        // A purchase without a shortlist first stops at search.
        assert_eq!(chain(&[(0, 0), (10, 1), (30, 3), (40, 4)]).0, 1);
        // No visit, no funnel.
        assert_eq!(chain(&[(10, 1), (20, 2)]).0, -1);
    }

    #[test]
    fn the_window_is_measured_from_the_visit_inclusive() {
        assert_eq!(chain(&[(0, 0), (W, 1)]).0, 1);
        assert_eq!(chain(&[(0, 0), (W + 1, 1)]).0, 0);
        // Each step within 24 h of the visit, not of the previous step.
        assert_eq!(chain(&[(0, 0), (20 * H, 1), (25 * H, 2)]).0, 1);
        // A later visit restarts the window.
        assert_eq!(chain(&[(0, 0), (20 * H, 1), (21 * H, 0), (25 * H, 2)]).0, 1);
        assert_eq!(
            chain(&[(0, 0), (21 * H, 0), (22 * H, 1), (25 * H, 2)]),
            (2, [21 * H, 22 * H, 25 * H, UNREACHED, UNREACHED])
        );
    }

    #[test]
    fn equal_timestamps_count_in_step_order_and_one_event_fills_one_step() {
        // Given already ordered by (ts, step): visit and search at the same instant.
        assert_eq!(chain(&[(5, 0), (5, 1), (5, 2)]).0, 2);
        // One search event cannot fill two steps.
        assert_eq!(chain(&[(0, 0), (5, 1), (6, 3)]).0, 1);
        // The earliest later event of each step: the second shortlist is not needed.
        let (d, ts) = chain(&[(0, 0), (1, 1), (2, 2), (3, 2), (4, 3)]);
        assert_eq!((d, ts[2]), (3, 2));
    }

    #[test]
    fn best_over_all_visits_earliest_among_equals() {
        // Both visits reach shortlist (102 ms is within 24 h of either): the earliest wins.
        let (d, ts) = chain(&[(0, 0), (1, 1), (100, 0), (101, 1), (102, 2)]);
        assert_eq!(d, 2);
        assert_eq!(ts[0], 0);
        let (d, ts) = chain(&[(0, 0), (1, 1), (100, 0), (101, 1)]);
        assert_eq!((d, ts[0]), (1, 0));
    }
}
