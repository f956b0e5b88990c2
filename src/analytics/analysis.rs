//! One analysis of a funnel slice (every event, or those up to a stage's end): identity,
//! synthetic events, the person table, exclusion, the purchases, the leak count and the
//! tracking-gap tests. The report's polars rollups and the run gates both start here, so
//! `rehearse funnel` and `rehearse run` can never disagree on a number.

use rayon::prelude::*;

use super::data::{
    AnalyticsData, COHORT_BASELINE, COHORT_CANARY, FLAG_IDENTITY, FLAG_REVENUE, FunnelEvents,
    PURCHASE, SOURCE_SYNTHETIC, STEP_NAMES,
};
use super::exclusion::synthetic_events;
use super::funnel::{PersonTable, STEPS, person_table};
use super::identity::{Identity, stitch};
use super::policy::AnalyticsPolicy;
use super::symbols::NONE;
use crate::input::Millis;

/// The `credit_purchase` events of a slice.
#[derive(Clone, Debug, Default)]
pub struct Purchases {
    pub person: Vec<u32>,
    pub ts: Vec<Millis>,
    /// [`NONE`] without a currency.
    pub currency: Vec<u32>,
    pub revenue_minor: Vec<i64>,
    pub has_revenue: Vec<bool>,
}

/// A two-proportion z-test of one step, canary against baseline.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct StepTest {
    pub step: &'static str,
    /// Persons of each cohort who reached the previous step, and of those this step.
    pub canary_n: u64,
    pub canary_x: u64,
    pub baseline_n: u64,
    pub baseline_x: u64,
    /// `None` without volume in a cohort or with a pooled rate of 0 or 1.
    pub z: Option<f64>,
    /// z below the threshold with both cohorts at the minimum volume.
    pub gap: bool,
}

/// The analysis of one slice.
#[derive(Clone, Debug)]
pub struct FunnelAnalysis {
    /// Events in the slice (the first `n` of the funnel table).
    pub n: usize,
    pub identity: Identity,
    pub synthetic_event: Vec<bool>,
    pub persons: PersonTable,
    /// Per person: left out of KPI rollups by the policy.
    pub excluded: Vec<bool>,
    pub purchases: Purchases,
    /// Events with `source = synthetic` whose person is not excluded; `None` without a
    /// `source` column.
    pub leaked_events: Option<u64>,
    /// Distinct persons behind the leaked events.
    pub leaked_persons: u64,
    /// `credit_purchase` events of non-synthetic persons lacking revenue or currency.
    pub missing_revenue: u64,
    pub step_tests: Vec<StepTest>,
}

impl FunnelAnalysis {
    /// Analyses the funnel events with `ts <= end` (all with `None`); `None` when the
    /// data has no funnel stream.
    pub fn new(
        data: &AnalyticsData,
        policy: &AnalyticsPolicy,
        end: Option<Millis>,
    ) -> Option<FunnelAnalysis> {
        let ev = data.funnel.as_ref()?;
        let n = end.map_or(ev.len(), |e| ev.count_until(e));
        Some(Self::of(ev, n, data, policy))
    }

    fn of(
        ev: &FunnelEvents,
        n: usize,
        data: &AnalyticsData,
        policy: &AnalyticsPolicy,
    ) -> FunnelAnalysis {
        let (identity, synthetic_event) = rayon::join(
            || stitch(ev, n, data.ids.len()),
            || synthetic_events(ev, n, &data.symbols, policy),
        );
        let persons = person_table(ev, n, &identity, &synthetic_event, policy.window_ms());
        let excluded: Vec<bool> = (0..persons.len())
            .map(|p| {
                (policy.exclude_synthetic && persons.synthetic[p])
                    || (policy.exclude_canary_only && persons.canary_only[p])
            })
            .collect();

        // The events in chunks, in parallel; the chunks' purchases joined in order.
        struct Part {
            purchases: Purchases,
            leaked: u64,
            leaking: Vec<u32>,
            missing_revenue: u64,
        }
        const CHUNK: usize = 1 << 20;
        let parts: Vec<Part> = (0..n.div_ceil(CHUNK))
            .into_par_iter()
            .map(|c| {
                let mut part = Part {
                    purchases: Purchases::default(),
                    leaked: 0,
                    leaking: Vec::new(),
                    missing_revenue: 0,
                };
                for i in c * CHUNK..((c + 1) * CHUNK).min(n) {
                    if ev.flags[i] & FLAG_IDENTITY != 0 {
                        continue;
                    }
                    let p = identity.person_of[i] as usize;
                    if ev.source[i] == SOURCE_SYNTHETIC && !excluded[p] {
                        part.leaked += 1;
                        part.leaking.push(p as u32);
                    }
                    if ev.event[i] == PURCHASE {
                        let has_revenue = ev.flags[i] & FLAG_REVENUE != 0;
                        if !persons.synthetic[p] && (!has_revenue || ev.currency[i] == NONE) {
                            part.missing_revenue += 1;
                        }
                        let pu = &mut part.purchases;
                        pu.person.push(p as u32);
                        pu.ts.push(ev.ts[i]);
                        pu.currency.push(ev.currency[i]);
                        pu.revenue_minor.push(ev.revenue_minor[i]);
                        pu.has_revenue.push(has_revenue);
                    }
                }
                part
            })
            .collect();
        let mut purchases = Purchases::default();
        let mut leaked = 0u64;
        let mut leaking = vec![false; persons.len()];
        let mut missing_revenue = 0u64;
        for part in parts {
            leaked += part.leaked;
            missing_revenue += part.missing_revenue;
            for p in part.leaking {
                leaking[p as usize] = true;
            }
            let pu = part.purchases;
            purchases.person.extend(pu.person);
            purchases.ts.extend(pu.ts);
            purchases.currency.extend(pu.currency);
            purchases.revenue_minor.extend(pu.revenue_minor);
            purchases.has_revenue.extend(pu.has_revenue);
        }
        let step_tests = step_tests(&persons, policy);
        FunnelAnalysis {
            n,
            identity,
            synthetic_event,
            persons,
            excluded,
            purchases,
            leaked_events: data.has_source.then_some(leaked),
            leaked_persons: leaking.iter().filter(|l| **l).count() as u64,
            missing_revenue,
            step_tests,
        }
    }

    /// The tracking gaps: the step tests that are gaps, then `missing_revenue`.
    pub fn gaps(&self) -> Vec<TrackingGap> {
        let mut out: Vec<TrackingGap> = self
            .step_tests
            .iter()
            .filter(|t| t.gap)
            .map(|t| TrackingGap {
                step: t.step,
                z: t.z,
                events: None,
            })
            .collect();
        if self.missing_revenue > 0 {
            out.push(TrackingGap {
                step: "missing_revenue",
                z: None,
                events: Some(self.missing_revenue),
            });
        }
        out
    }
}

/// One entry of `tracking_gaps`.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct TrackingGap {
    pub step: &'static str,
    pub z: Option<f64>,
    /// For `missing_revenue`: the purchases lacking revenue or currency.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub events: Option<u64>,
}

/// The pooled two-proportion z statistic of `x1/n1` against `x2/n2`; `None` when a
/// sample is empty or the pooled rate is 0 or 1.
pub fn two_proportion_z(x1: u64, n1: u64, x2: u64, n2: u64) -> Option<f64> {
    if n1 == 0 || n2 == 0 {
        return None;
    }
    let (x1f, n1f, x2f, n2f) = (x1 as f64, n1 as f64, x2 as f64, n2 as f64);
    let pooled = (x1f + x2f) / (n1f + n2f);
    if pooled <= 0.0 || pooled >= 1.0 {
        return None;
    }
    let se = (pooled * (1.0 - pooled) * (1.0 / n1f + 1.0 / n2f)).sqrt();
    Some((x1f / n1f - x2f / n2f) / se)
}

/// Steps 2..5 over non-synthetic persons by cohort (canary-only persons included).
fn step_tests(persons: &PersonTable, policy: &AnalyticsPolicy) -> Vec<StepTest> {
    // reach[cohort][k]: persons of the cohort whose furthest step is k or beyond.
    let mut reach = [[0u64; STEPS]; 2];
    for p in 0..persons.len() {
        if persons.synthetic[p] {
            continue;
        }
        let c = match persons.cohort[p] {
            COHORT_CANARY => 0,
            COHORT_BASELINE => 1,
            _ => continue,
        };
        let f = persons.furthest[p];
        for (k, r) in reach[c].iter_mut().enumerate() {
            if f >= k as i8 {
                *r += 1;
            }
        }
    }
    (1..STEPS)
        .map(|k| {
            let (cn, cx, bn, bx) = (reach[0][k - 1], reach[0][k], reach[1][k - 1], reach[1][k]);
            let z = two_proportion_z(cx, cn, bx, bn);
            let volume = cn >= policy.gap_min_n && bn >= policy.gap_min_n;
            StepTest {
                step: STEP_NAMES[k],
                canary_n: cn,
                canary_x: cx,
                baseline_n: bn,
                baseline_x: bx,
                z,
                gap: volume && z.is_some_and(|z| z < policy.gap_z),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn z_test_pooled() {
        // 10/100 against 30/100: pooled 0.2, se = sqrt(0.16 * 0.02) = 0.0566.
        let z = two_proportion_z(10, 100, 30, 100).unwrap();
        assert!((z - (-3.5355)).abs() < 1e-3, "{z}");
        assert!(two_proportion_z(30, 100, 10, 100).unwrap() > 3.0);
        assert_eq!(two_proportion_z(0, 50, 0, 50), None);
        assert_eq!(two_proportion_z(50, 50, 40, 40), None);
        assert_eq!(two_proportion_z(0, 0, 5, 10), None);
        // Zero canary conversions against a healthy baseline: a clear gap.
        assert!(two_proportion_z(0, 40, 20, 40).unwrap() < -3.0);
    }
}
