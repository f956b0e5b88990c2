//! The gates over the `requests` stream: the canary's 5xx and non-auth 4xx rates and
//! p95/p99 latency over the window, the error-budget burn since T0, the outlier
//! endpoint prefixes (with their perf-ticket follow-ups), and at each stage's end its
//! availability, the share of ticks without enough data and the traffic split.

use crate::gate::Gate;
use crate::input::Millis;
use crate::policy::{Policy, Stage};
use crate::ratio::Ratio;
use crate::time::format_clock;
use crate::verdict::{FollowUp, GateState};

use super::super::fold::slot;
use super::{Finding, TickCx, TickOut, above, ms, mul4, quantile_above, state_of};

/// Request state carried from tick to tick.
pub(super) struct RequestState {
    /// 5xx of canary requests and real requests of every cohort, since T0.
    pub cum_5xx: u64,
    pub cum_real: u64,
    /// Per outlier prefix: ticks above the ticket limit in a row, since when, filed.
    pub perf_run: Vec<u32>,
    pub perf_since: Vec<Millis>,
    pub perf_filed: Vec<bool>,
}

impl RequestState {
    pub fn new(prefixes: usize) -> Self {
        RequestState {
            cum_5xx: 0,
            cum_real: 0,
            perf_run: vec![0; prefixes],
            perf_since: vec![0; prefixes],
            perf_filed: vec![false; prefixes],
        }
    }

    /// A new stage: no prefix is running or filed.
    pub fn new_stage(&mut self) {
        self.perf_run.iter_mut().for_each(|r| *r = 0);
        self.perf_filed.iter_mut().for_each(|r| *r = false);
    }
}

/// 5xx and non-auth 4xx rates, p95 and p99 latency over the window.
pub(super) fn rates(cx: &TickCx, out: &mut TickOut) {
    let (p, f, w, n, has_req) = (cx.p, cx.f, cx.w, cx.n, cx.has_req);
    let bands = cx.bands();
    let e5 = w[slot::E5XX];
    let e4 = w[slot::E4XX];
    let v5 = has_req.then(|| e5 as f64 / n as f64);
    let v4 = has_req.then(|| e4 as f64 / n as f64);
    let go5 = has_req && p.go_5xx.le_frac(e5, n);
    let tr5 = has_req && p.trig_5xx.le_frac(e5, n);
    out.push(
        Gate::ErrorRate5xx,
        state_of(has_req, go5),
        v5,
        Some(p.go_5xx.as_f64()),
        tr5,
    );
    let go4 = has_req && p.go_4xx.le_frac(e4, n);
    let tr4 = has_req && p.trig_4xx.le_frac(e4, n);
    out.push(
        Gate::ErrorRate4xxNonauth,
        state_of(has_req, go4),
        v4,
        Some(p.go_4xx.as_f64()),
        tr4,
    );
    let p95v = if has_req && cx.display {
        cx.sketch.value_at_rank(p.q95.ceil_mul(n)).map(ms)
    } else {
        None
    };
    let p99v = if has_req && cx.display {
        cx.sketch.value_at_rank(p.q99.ceil_mul(n)).map(ms)
    } else {
        None
    };
    let go95 = has_req && quantile_above(p.q95, n, above(&f.bands, bands, cx.stage.go_p95_us));
    let tr95 = has_req && quantile_above(p.q95, n, above(&f.bands, bands, p.trig_p95_us));
    out.push(
        Gate::LatencyP95,
        state_of(has_req, go95),
        p95v,
        Some(ms(cx.stage.go_p95_us)),
        tr95,
    );
    let tr99 = has_req && quantile_above(p.q99, n, above(&f.bands, bands, p.trig_p99_us));
    out.push(
        Gate::LatencyP99,
        state_of(has_req, tr99),
        p99v,
        Some(ms(p.trig_p99_us)),
        tr99,
    );
    out.detail(
        Gate::ErrorRate5xx,
        ">=",
        format!("{e5} of {n} canary requests in the window"),
    );
    out.detail(
        Gate::ErrorRate4xxNonauth,
        ">=",
        format!("{e4} of {n} canary requests in the window"),
    );
    out.detail(
        Gate::LatencyP95,
        ">",
        format!("{n} canary requests in the window"),
    );
    out.detail(
        Gate::LatencyP99,
        ">",
        format!("{n} canary requests in the window"),
    );
}

/// Error budget burn, cumulative from T0.
pub(super) fn budget(cx: &TickCx, st: &RequestState, out: &mut TickOut) {
    let p = cx.p;
    let data = st.cum_real >= p.min_requests;
    let elapsed = (cx.t - cx.f.t0) as u64;
    let (sa, sb) = (p.budget_slo.num, p.budget_slo.den);
    let (mn, md) = (p.budget_max_burn.num, p.budget_max_burn.den);
    // B / ((1 - slo) * N * period / elapsed) > max_burn
    // <=> B * elapsed * sb * md > mn * (sb - sa) * N * period
    let lhs = mul4(st.cum_5xx, elapsed, sb, md);
    let rhs = mul4(mn, sb - sa, st.cum_real, p.budget_period_ms as u64);
    let breach = data
        && match (lhs, rhs) {
            (Some(l), Some(r)) => l > r,
            _ => {
                let burn = st.cum_5xx as f64 * elapsed as f64
                    / ((1.0 - p.budget_slo.as_f64())
                        * st.cum_real as f64
                        * p.budget_period_ms as f64);
                burn > p.budget_max_burn.as_f64()
            }
        };
    let burn = data.then(|| {
        let budget = (1.0 - p.budget_slo.as_f64()) * st.cum_real as f64 * p.budget_period_ms as f64
            / elapsed as f64;
        if budget > 0.0 {
            st.cum_5xx as f64 / budget
        } else {
            0.0
        }
    });
    let state = if cx.is_eval(Gate::BudgetBurn) {
        state_of(data, breach)
    } else {
        GateState::NotEvaluated
    };
    out.push(
        Gate::BudgetBurn,
        state,
        burn,
        Some(p.budget_max_burn.as_f64()),
        breach,
    );
    out.detail(
        Gate::BudgetBurn,
        ">",
        format!(
            "{} canary 5xx against {} real requests since T0",
            st.cum_5xx, st.cum_real
        ),
    );
}

/// Outlier endpoint prefixes, and the perf-ticket follow-up of a prefix slow for the
/// sustain span.
pub(super) fn endpoints(cx: &TickCx, st: &mut RequestState, out: &mut TickOut) {
    let (p, f, w, t) = (cx.p, cx.f, cx.w, cx.t);
    let nb = f.bands.len() + 1;
    let mut any_data = false;
    let mut breach = false;
    let mut worst: Option<f64> = None;
    let mut detail = String::new();
    for pi in 0..f.n_prefixes {
        let base = slot::BANDS + nb + pi * (1 + nb);
        let np = w[base];
        let pb = &w[base + 1..base + 1 + nb];
        let data = cx.has_req && np >= p.endpoint_min_requests;
        let over = data && quantile_above(p.q95, np, above(&f.bands, pb, p.endpoint_p95_us));
        let over_ticket = data && quantile_above(p.q95, np, above(&f.bands, pb, p.ticket_p95_us));
        any_data |= data;
        if over {
            breach = true;
            if detail.is_empty() {
                detail = format!(
                    "{} p95 above {} ms over {np} requests",
                    f.prefixes()[pi],
                    ms(p.endpoint_p95_us)
                );
            }
        }
        if data {
            // Display: the share of the prefix's requests above the limit.
            let share = above(&f.bands, pb, p.endpoint_p95_us) as f64 / np as f64;
            worst = Some(worst.map_or(share, |x: f64| x.max(share)));
        }
        if over_ticket {
            if st.perf_run[pi] == 0 {
                st.perf_since[pi] = t;
            }
            st.perf_run[pi] += 1;
            if st.perf_run[pi] as usize >= p.sustain_ticks && !st.perf_filed[pi] {
                st.perf_filed[pi] = true;
                out.follow_ups.push(FollowUp {
                    kind: "perf_ticket".into(),
                    stage: cx.stage.name.clone(),
                    at: t,
                    detail: format!(
                        "{} p95 above {} ms from {} to {} ({} ticks); check DB indices, N+1 queries and caching on these endpoints",
                        f.prefixes()[pi],
                        ms(p.ticket_p95_us),
                        format_clock(st.perf_since[pi]),
                        format_clock(t),
                        st.perf_run[pi]
                    ),
                });
            }
        } else {
            st.perf_run[pi] = 0;
        }
    }
    let state = if f.n_prefixes == 0 {
        GateState::NoData
    } else {
        state_of(any_data, breach)
    };
    out.push(Gate::EndpointLatencyP95, state, worst, Some(0.05), false);
    out.detail(Gate::EndpointLatencyP95, ">", detail);
}

/// What a stage counted up to its judgement.
pub(super) struct StageCounts {
    /// Canary real requests, and the 5xx among them.
    pub canary: u64,
    pub e5xx: u64,
    pub ticks: u32,
    pub no_data_ticks: u32,
}

/// The stage-end request gates: availability and insufficient data.
pub(super) fn stage_end(p: &Policy, stage: &Stage, c: &StageCounts) -> Vec<Finding> {
    let mut out = Vec::new();
    if c.canary >= p.min_requests {
        let a = p.go_availability;
        // (n - e) / n < a  <=>  (n - e) * den < num * n
        let good = c.canary - c.e5xx;
        if (good as u128) * (a.den as u128) < (a.num as u128) * (c.canary as u128) {
            out.push(Finding {
                gate: Gate::Availability,
                value: Some(good as f64 / c.canary as f64),
                threshold: Some(a.as_f64()),
                op: "<",
                detail: format!(
                    "{} 5xx of {} canary requests in the stage",
                    c.e5xx, c.canary
                ),
            });
        }
    }
    if stage.weight > 0.0
        && c.ticks > 0
        && p.go_max_no_data
            .lt_frac(c.no_data_ticks as u64, c.ticks as u64)
    {
        out.push(Finding {
            gate: Gate::InsufficientData,
            value: Some(c.no_data_ticks as f64 / c.ticks as f64),
            threshold: Some(p.go_max_no_data.as_f64()),
            op: ">",
            detail: format!(
                "{} of {} ticks had fewer than {} canary requests in the window",
                c.no_data_ticks, c.ticks, p.min_requests
            ),
        });
    }
    out
}

/// The traffic split follow-up: the canary's share of real requests against the
/// stage's weight, beyond the tolerance.
pub(super) fn split_drift(
    p: &Policy,
    stage: &Stage,
    canary: u64,
    real: u64,
    at: Millis,
) -> Option<FollowUp> {
    if real < p.split_min_requests || real == 0 {
        return None;
    }
    let w = Ratio::from_f64(stage.weight)?;
    let tol = p.split_tolerance;
    // |canary/real - wn/wd| > tn/td  <=>  |canary*wd - wn*real| * td > tn * real * wd
    let diff = (canary as i128 * w.den as i128 - w.num as i128 * real as i128).unsigned_abs();
    let lhs = diff.checked_mul(tol.den as u128)?;
    let rhs = (tol.num as u128)
        .checked_mul(real as u128)?
        .checked_mul(w.den as u128)?;
    (lhs > rhs).then(|| FollowUp {
        kind: "traffic_split_drift".into(),
        stage: stage.name.clone(),
        at,
        detail: format!(
            "canary share {:.2}% of {real} real requests against a weight of {}%",
            canary as f64 * 100.0 / real as f64,
            stage.weight * 100.0
        ),
    })
}
