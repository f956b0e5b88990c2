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

use super::data::{COHORT_CANARY, FunnelEvents, PURCHASE};
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

/// One event of a person, gathered for the per-person pass (16 bytes).
#[derive(Clone, Copy)]
struct Ev {
    ts: Millis,
    utm: u32,
    /// The funnel step (0..[`STEPS`]), [`OTHER`] for any other event.
    step: u8,
    /// Whether the event is a `credit_purchase`.
    purchase: bool,
    cohort: u8,
    synthetic: bool,
}

/// The `step` of an event that is no funnel step.
const OTHER: u8 = u8::MAX;

/// Where person rows are written: one chunk of persons of every column.
struct Rows<'a> {
    platform: &'a mut [u32],
    cohort: &'a mut [u8],
    synthetic: &'a mut [bool],
    canary_only: &'a mut [bool],
    furthest: &'a mut [i8],
    step_ts: [&'a mut [Millis]; STEPS],
    first_touch: &'a mut [u32],
    last_touch: &'a mut [u32],
    first_purchase: &'a mut [Millis],
    first_ts: &'a mut [Millis],
    events: &'a mut [u32],
}

/// The rows of persons `from..from + rows.len()`, from their events
/// `evs[start[p]..start[p + 1]]` (and each one's first event in `ev`).
fn person_rows(
    ev: &FunnelEvents,
    id: &Identity,
    evs: &[Ev],
    start: &[u32],
    window: Millis,
    from: usize,
    mut rows: Rows,
) {
    let mut steps: Vec<(Millis, u8)> = Vec::new();
    let mut next = Vec::new();
    for j in 0..rows.platform.len() {
        let p = from + j;
        let list = &evs[start[p] as usize..start[p + 1] as usize];
        rows.platform[j] = ev.platform[id.first_event[p] as usize];
        rows.cohort[j] = list[0].cohort;
        rows.first_ts[j] = list[0].ts;
        rows.events[j] = list.len() as u32;
        rows.synthetic[j] = list.iter().any(|e| e.synthetic);
        rows.canary_only[j] = list.iter().all(|e| e.cohort == COHORT_CANARY);
        rows.first_touch[j] = list
            .iter()
            .map(|e| e.utm)
            .find(|&u| u != NONE)
            .unwrap_or(NONE);
        let fp = list.iter().find(|e| e.purchase).map_or(UNREACHED, |e| e.ts);
        rows.first_purchase[j] = fp;
        rows.last_touch[j] = if fp == UNREACHED {
            NONE
        } else {
            list.iter()
                .take_while(|e| e.ts <= fp)
                .map(|e| e.utm)
                .filter(|&u| u != NONE)
                .last()
                .unwrap_or(NONE)
        };
        steps.clear();
        steps.extend(
            list.iter()
                .filter(|e| e.step != OTHER)
                .map(|e| (e.ts, e.step)),
        );
        // Already in (ts, file) order: put equal timestamps in step order, stably.
        if steps
            .windows(2)
            .any(|w| w[0].0 == w[1].0 && w[0].1 > w[1].1)
        {
            steps.sort_by_key(|&(ts, s)| (ts, s));
        }
        let (furthest, times) = best_chain(&steps, window, &mut next);
        rows.furthest[j] = furthest;
        for (k, col) in rows.step_ts.iter_mut().enumerate() {
            col[j] = times[k];
        }
    }
}

/// A buffer that threads fill at distinct indices.
struct Scatter<T> {
    ptr: *mut T,
    len: usize,
}

// SAFETY: `Scatter` is only written through `write`, whose callers write each index
// from one thread only; `T: Send` values move between threads.
unsafe impl<T: Send> Sync for Scatter<T> {}

impl<T> Scatter<T> {
    /// Writes `v` at index `i` (checked against the length).
    ///
    /// # Safety
    /// No other thread writes or reads index `i` while the buffer is being filled.
    #[inline]
    unsafe fn write(&self, i: usize, v: T) {
        assert!(i < self.len, "scatter index {i} out of {}", self.len);
        // SAFETY: in bounds (checked above) and not shared (the caller's promise).
        unsafe { self.ptr.add(i).write(v) }
    }
}

/// The events of the first `n` (persons' events only) grouped by person, each
/// person's in time order, as `(events, start)`: person `p`'s are
/// `events[start[p]..start[p + 1]]`. A counting sort in parallel: each chunk of events
/// counts its persons' events, each chunk's events of a person go after those of the
/// chunks before it (so the order is the events' whatever the chunking), and the
/// chunks then place their events at once.
fn group_by_person(
    ev: &FunnelEvents,
    n: usize,
    id: &Identity,
    synthetic: &[bool],
) -> (Vec<Ev>, Vec<u32>) {
    let np = id.person_key.len();
    let person_of = &id.person_of[..n];
    let chunks = rayon::current_num_threads().clamp(1, 64);
    let size = n.div_ceil(chunks).max(1);
    let ranges: Vec<std::ops::Range<usize>> =
        (0..n).step_by(size).map(|a| a..(a + size).min(n)).collect();
    // Per chunk, its events per person; then turned into where each chunk's next event
    // of a person goes. (Event indices fit in `u32`, as person indices do.)
    let mut cursors: Vec<Vec<u32>> = ranges
        .par_iter()
        .map(|r| {
            let mut c = vec![0u32; np];
            for &p in &person_of[r.clone()] {
                if p != NONE {
                    c[p as usize] += 1;
                }
            }
            c
        })
        .collect();
    let mut start = vec![0u32; np + 1];
    let mut at = 0u32;
    for p in 0..np {
        start[p] = at;
        for c in cursors.iter_mut() {
            let k = c[p];
            c[p] = at;
            at += k;
        }
    }
    start[np] = at;
    let total = at as usize;
    let mut evs: Vec<Ev> = Vec::with_capacity(total);
    let out = Scatter {
        ptr: evs.as_mut_ptr(),
        len: total,
    };
    ranges
        .par_iter()
        .zip(cursors.par_iter_mut())
        .for_each(|(r, cursor)| {
            for i in r.clone() {
                let p = person_of[i];
                if p == NONE {
                    continue;
                }
                let slot = &mut cursor[p as usize];
                let event = ev.event[i];
                let e = Ev {
                    ts: ev.ts[i],
                    utm: ev.utm_source[i],
                    step: if (event as usize) < STEPS {
                        event as u8
                    } else {
                        OTHER
                    },
                    purchase: event == PURCHASE,
                    cohort: ev.cohort[i],
                    synthetic: synthetic[i],
                };
                // SAFETY: the chunks' cursors of a person cover disjoint index ranges
                // of its events, so no two writes meet.
                unsafe { out.write(*slot as usize, e) };
                *slot += 1;
            }
        });
    // SAFETY: every index below `total` was written once: each counted event is placed.
    unsafe { evs.set_len(total) };
    (evs, start)
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
    let (evs, start) = group_by_person(ev, n, id, synthetic);
    let mut t = PersonTable {
        key: id.person_key.clone(),
        platform: vec![NONE; np],
        cohort: vec![0; np],
        synthetic: vec![false; np],
        canary_only: vec![false; np],
        furthest: vec![0; np],
        step_ts: std::array::from_fn(|_| vec![0; np]),
        first_touch: vec![0; np],
        last_touch: vec![0; np],
        first_purchase: vec![0; np],
        first_ts: vec![0; np],
        events: vec![0; np],
    };
    // The table in chunks of persons, each chunk's rows written by one task.
    const CHUNK: usize = 1 << 15;
    let [s0, s1, s2, s3, s4] = &mut t.step_ts;
    let mut cols = (
        t.platform.chunks_mut(CHUNK),
        t.cohort.chunks_mut(CHUNK),
        t.synthetic.chunks_mut(CHUNK),
        t.canary_only.chunks_mut(CHUNK),
        t.furthest.chunks_mut(CHUNK),
        [
            s0.chunks_mut(CHUNK),
            s1.chunks_mut(CHUNK),
            s2.chunks_mut(CHUNK),
            s3.chunks_mut(CHUNK),
            s4.chunks_mut(CHUNK),
        ],
        t.first_touch.chunks_mut(CHUNK),
        t.last_touch.chunks_mut(CHUNK),
        t.first_purchase.chunks_mut(CHUNK),
        t.first_ts.chunks_mut(CHUNK),
        t.events.chunks_mut(CHUNK),
    );
    let mut chunks: Vec<(usize, Rows)> = Vec::with_capacity(np.div_ceil(CHUNK));
    // Every column has `np` rows, so all run out together.
    while let (
        Some(platform),
        Some(cohort),
        Some(synthetic),
        Some(canary_only),
        Some(furthest),
        Some(t0),
        Some(t1),
        Some(t2),
        Some(t3),
        Some(t4),
        Some(first_touch),
        Some(last_touch),
        Some(first_purchase),
        Some(first_ts),
        Some(events),
    ) = (
        cols.0.next(),
        cols.1.next(),
        cols.2.next(),
        cols.3.next(),
        cols.4.next(),
        cols.5[0].next(),
        cols.5[1].next(),
        cols.5[2].next(),
        cols.5[3].next(),
        cols.5[4].next(),
        cols.6.next(),
        cols.7.next(),
        cols.8.next(),
        cols.9.next(),
        cols.10.next(),
    ) {
        let rows = Rows {
            platform,
            cohort,
            synthetic,
            canary_only,
            furthest,
            step_ts: [t0, t1, t2, t3, t4],
            first_touch,
            last_touch,
            first_purchase,
            first_ts,
            events,
        };
        chunks.push((chunks.len() * CHUNK, rows));
    }
    chunks
        .into_par_iter()
        .for_each(|(from, rows)| person_rows(ev, id, &evs, &start, window, from, rows));
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

    /// The person table is the same whatever the thread count (the counting sort's
    /// chunks follow it), and each person's events are theirs, in time order.
    #[test]
    fn the_person_table_does_not_depend_on_the_thread_count() {
        use crate::analytics::data::{COHORT_BASELINE, FLAG_IDENTITY};
        use crate::analytics::identity::stitch;
        let n = 20_000;
        let mut ev = FunnelEvents::default();
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut next = |m: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % m
        };
        for i in 0..n {
            ev.ts.push(i as Millis * 1_000 + next(2) as Millis);
            ev.event.push(next(8) as u32);
            let user = next(3);
            ev.user
                .push(if user == 0 { NONE } else { next(900) as u32 });
            ev.anon.push(if user == 2 {
                NONE
            } else {
                900 + next(1_500) as u32
            });
            ev.cohort.push(if next(4) == 0 {
                COHORT_CANARY
            } else {
                COHORT_BASELINE
            });
            ev.platform.push(next(3) as u32);
            ev.utm_source
                .push(if next(3) == 0 { NONE } else { next(5) as u32 });
            ev.flags.push(if next(50) == 0 { FLAG_IDENTITY } else { 0 });
        }
        ev.ts.sort();
        let synthetic: Vec<bool> = (0..n).map(|i| i % 97 == 0).collect();
        let id = stitch(&ev, n, 2_400);
        let tables: Vec<String> = [1, 2, 3, 7]
            .iter()
            .map(|&threads| {
                let pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .unwrap();
                let t = pool.install(|| person_table(&ev, n, &id, &synthetic, 3_600_000));
                format!("{t:?}")
            })
            .collect();
        assert!(tables.iter().all(|t| *t == tables[0]));
        let (evs, start) = group_by_person(&ev, n, &id, &synthetic);
        let mut expected: Vec<Vec<Millis>> = vec![Vec::new(); id.person_key.len()];
        for i in 0..n {
            if id.person_of[i] != NONE {
                expected[id.person_of[i] as usize].push(ev.ts[i]);
            }
        }
        for (p, want) in expected.iter().enumerate() {
            let got: Vec<Millis> = evs[start[p] as usize..start[p + 1] as usize]
                .iter()
                .map(|e| e.ts)
                .collect();
            assert_eq!(&got, want, "person {p}");
        }
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
