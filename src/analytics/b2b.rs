//! The B2B provider flow: signup -> onboarded -> first booking, per `provider_id`.
//! A provider's signup is their earliest `provider_signup` (or `signup`) event carrying
//! the provider id; onboarding the earliest `provider_onboarded` (or `onboarded`) event
//! at or after it; the first booking the earliest `booking` funnel event of the
//! provider or ledger booking line of the provider (its `provider_id`, or the account
//! `provider:<id>`) at or after onboarding. No window applies: providers onboard over days.

use serde::Serialize;

use super::data::{AnalyticsData, KIND_BOOKING};
use super::funnel::UNREACHED;
use super::ledger::PROVIDER_PREFIX;
use super::symbols::{FxMap, NONE};
use crate::input::Millis;

pub const PROVIDER_STEPS: [&str; 3] = ["signup", "onboarded", "first_booking"];

/// One step of the provider flow.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ProviderStep {
    pub name: &'static str,
    pub providers: u64,
    pub conversion_from_previous: Option<f64>,
    pub median_s_from_previous: Option<f64>,
}

/// The provider flow of a slice.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ProviderFlow {
    pub steps: Vec<ProviderStep>,
}

fn median(v: &mut [Millis]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_unstable();
    let m = v.len() / 2;
    Some(if v.len() % 2 == 1 {
        v[m] as f64
    } else {
        (v[m - 1] as f64 + v[m] as f64) / 2.0
    })
}

/// The provider flow over the first `nf` funnel events and `nl` ledger lines.
pub fn provider_flow(data: &AnalyticsData, nf: usize, nl: usize) -> ProviderFlow {
    let syms = &data.symbols;
    let ids = |names: [&str; 2]| names.map(|n| syms.get(n).unwrap_or(NONE));
    let signup = ids(["provider_signup", "signup"]);
    let onboarded = ids(["provider_onboarded", "onboarded"]);
    let booking = ids(["booking", "first_booking"]);
    // Per provider: the instants of each kind of event, in time order.
    let mut events: FxMap<u32, [Vec<Millis>; 3]> = FxMap::default();
    if let Some(ev) = &data.funnel {
        for i in 0..nf {
            let p = ev.provider[i];
            if p == NONE {
                continue;
            }
            let e = ev.event[i];
            let k = if signup.contains(&e) {
                0
            } else if onboarded.contains(&e) {
                1
            } else if booking.contains(&e) {
                2
            } else {
                continue;
            };
            events.entry(p).or_default()[k].push(ev.ts[i]);
        }
    }
    if let Some(l) = &data.ledger {
        for i in 0..nl {
            if l.kind[i] != KIND_BOOKING {
                continue;
            }
            let p = if l.provider[i] != NONE {
                l.provider[i]
            } else {
                match syms.name(l.account[i]).strip_prefix(PROVIDER_PREFIX) {
                    Some(id) => syms.get(id).unwrap_or(NONE),
                    None => NONE,
                }
            };
            if p != NONE {
                events.entry(p).or_default()[2].push(l.ts[i]);
            }
        }
    }
    let mut reached = [0u64; 3];
    let mut deltas: [Vec<Millis>; 3] = Default::default();
    for times in events.values() {
        let mut at = UNREACHED;
        for (k, ts) in times.iter().enumerate() {
            let next = ts.iter().copied().filter(|&t| k == 0 || t >= at).min();
            match next {
                Some(t) => {
                    if k > 0 {
                        deltas[k].push(t.saturating_sub(at));
                    }
                    reached[k] += 1;
                    at = t;
                }
                None => break,
            }
        }
    }
    let steps = PROVIDER_STEPS
        .iter()
        .enumerate()
        .map(|(k, name)| ProviderStep {
            name,
            providers: reached[k],
            conversion_from_previous: (k > 0 && reached[k - 1] > 0)
                .then(|| reached[k] as f64 / reached[k - 1] as f64),
            median_s_from_previous: median(&mut deltas[k]).map(|ms| ms / 1000.0),
        })
        .collect();
    ProviderFlow { steps }
}
