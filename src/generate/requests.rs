//! The `requests` stream: Poisson arrivals (thinned by traffic drops) split between the
//! cohorts by the stage weights or a canary-share fault, each with an endpoint, a status
//! from the base or fault error rates and a log-normal latency; plus synthetic monitor
//! requests and synthetic bursts. [`RequestChunks`] generates them lazily, in order.

use super::plan::{CompiledScenario, Effect};
use super::rng::{Rand, poisson, stream};
use crate::input::{Cohort, Millis, RequestRow, Source};

const REGIONS: [(&str, f64); 4] = [
    ("eu-west-1", 0.40),
    ("us-east-1", 0.75),
    ("us-west-2", 0.90),
    ("ap-southeast-2", 1.0),
];
const USER_POOL: f64 = 40_000.0;

/// The fixed set of uniforms one request consumes, so that a fault changes only the
/// rows it touches, never the random sequence of later rows.
struct RequestDraws {
    endpoint: f64,
    status: f64,
    code: f64,
    z: f64,
    tail: f64,
    tail_value: f64,
    user: f64,
    region: f64,
    method: f64,
}

impl RequestDraws {
    fn take(rng: &mut Rand) -> Self {
        RequestDraws {
            endpoint: rng.u01(),
            status: rng.u01(),
            code: rng.u01(),
            z: rng.normal(),
            tail: rng.u01(),
            tail_value: rng.u01(),
            user: rng.u01(),
            region: rng.u01(),
            method: rng.u01(),
        }
    }
}

fn pick_cum(cum: impl Iterator<Item = f64>, u: f64, len: usize) -> usize {
    cum.enumerate()
        .find(|&(_, c)| u < c)
        .map_or(len - 1, |(i, _)| i)
}

fn request_row(
    sc: &CompiledScenario,
    d: &RequestDraws,
    ts: Millis,
    cohort: Cohort,
    source: Source,
    burst_5xx: Option<f64>,
) -> RequestRow {
    let ep = &sc.endpoints[pick_cum(
        sc.endpoints.iter().map(|e| e.cum),
        d.endpoint,
        sc.endpoints.len(),
    )];
    let (mut f5, mut f4, mut fa): (Option<f64>, Option<f64>, Option<f64>) = (None, None, None);
    let mut factor = 1.0;
    let mut tail: Option<f64> = None;
    for f in sc.faults.iter().filter(|f| f.applies(ts, cohort)) {
        let max = |cur: Option<f64>, r: f64| Some(cur.map_or(r, |c: f64| c.max(r)));
        match &f.effect {
            Effect::Error5xx(r) => f5 = max(f5, *r),
            Effect::Error4xx(r) => f4 = max(f4, *r),
            Effect::Auth4xx(r) => fa = max(fa, *r),
            Effect::LatencyShift(x) => factor *= x,
            Effect::EndpointLatency { prefix, factor: x }
                if ep.path.starts_with(prefix.as_str()) =>
            {
                factor *= x
            }
            Effect::LatencyTail {
                share,
                min_ms,
                max_ms,
            } if d.tail < *share => tail = Some(min_ms + d.tail_value * (max_ms - min_ms)),
            _ => {}
        }
    }
    let p5 = burst_5xx.or(f5).unwrap_or(sc.base[0]);
    let p4 = f4.unwrap_or(sc.base[1]);
    let pa = fa.unwrap_or(sc.base[2]);
    let u = d.status;
    let status = if u < p5 {
        match d.code {
            c if c < 0.4 => 500,
            c if c < 0.6 => 502,
            c if c < 0.9 => 503,
            _ => 504,
        }
    } else if u < p5 + p4 {
        match d.code {
            c if c < 0.3 => 400,
            c if c < 0.7 => 404,
            c if c < 0.8 => 409,
            c if c < 0.9 => 422,
            _ => 429,
        }
    } else if u < p5 + p4 + pa {
        if d.code < 0.7 { 401 } else { 403 }
    } else {
        200
    };
    let ms = tail.unwrap_or_else(|| (ep.mu + ep.sigma * d.z).exp() * factor);
    let latency_us = (ms * 1000.0).round().clamp(1000.0, 3_600_000_000.0) as u64;
    let user_id = match source {
        Source::Real => format!("usr_{:05}", (d.user * d.user * USER_POOL) as u64),
        Source::Synthetic => "synthetic-monitor".to_string(),
    };
    let region = REGIONS[pick_cum(REGIONS.iter().map(|r| r.1), d.region, REGIONS.len())].0;
    RequestRow {
        ts,
        endpoint: ep.path.clone(),
        cohort,
        source,
        status,
        latency_us,
        user_id: Some(user_id),
        region: Some(region.to_string()),
        method: Some(if d.method < 0.82 { "GET" } else { "POST" }.to_string()),
    }
}

/// Every request of the scenario, in timestamp order.
pub(super) fn requests(sc: &CompiledScenario) -> Vec<RequestRow> {
    RequestChunks::new(sc.clone(), usize::MAX)
        .flatten()
        .collect()
}

/// The requests of a scenario in timestamp order, in chunks of at most `chunk` rows,
/// generated lazily so that a large dataset never sits in memory whole. Real requests
/// come first on equal timestamps, as a stable sort of (real, then synthetic) would give.
pub struct RequestChunks {
    sc: CompiledScenario,
    chunk: usize,
    arrivals: std::vec::IntoIter<Millis>,
    rng: Rand,
    drops: Vec<usize>,
    bound: f64,
    /// Synthetic requests (few), sorted, merged in as the real ones pass them.
    synthetic: std::iter::Peekable<std::vec::IntoIter<RequestRow>>,
}

impl RequestChunks {
    pub(super) fn new(sc: CompiledScenario, chunk: usize) -> Self {
        let drops: Vec<usize> = sc
            .faults
            .iter()
            .enumerate()
            .filter(|(_, f)| matches!(f.effect, Effect::TrafficDrop(_)))
            .map(|(i, _)| i)
            .collect();
        // Thinning: arrivals at the highest rate any span can reach, each kept with
        // probability (its rate factor) / bound.
        let bound: f64 = drops
            .iter()
            .filter_map(|&i| match sc.faults[i].effect {
                Effect::TrafficDrop(x) if x > 1.0 => Some(x),
                _ => None,
            })
            .product::<f64>()
            .max(1.0);
        let mut arrivals_rng = sc.rng(stream::ARRIVALS);
        let arrivals = poisson(&mut arrivals_rng, sc.from, sc.to, &[], |_| {
            sc.rps * bound / 1000.0
        });
        let rng = sc.rng(stream::REQUESTS);
        let mut synthetic = synthetic_requests(&sc);
        synthetic.sort_by_key(|r| r.ts);
        RequestChunks {
            chunk: chunk.max(1),
            arrivals: arrivals.into_iter(),
            rng,
            drops,
            bound,
            synthetic: synthetic.into_iter().peekable(),
            sc,
        }
    }

    /// The next real request, if any arrival is left.
    fn next_real(&mut self) -> Option<RequestRow> {
        let sc = &self.sc;
        for ts in self.arrivals.by_ref() {
            let u_cohort = self.rng.u01();
            let u_keep = self.rng.u01();
            let draws = RequestDraws::take(&mut self.rng);
            let share = sc
                .faults
                .iter()
                .filter(|f| f.contains(ts))
                .fold(None, |acc, f| match f.effect {
                    Effect::CanaryShare(s) => Some(s),
                    _ => acc,
                })
                .unwrap_or_else(|| sc.weight_at(ts));
            let cohort = if u_cohort < share {
                Cohort::Canary
            } else {
                Cohort::Baseline
            };
            let keep: f64 = self
                .drops
                .iter()
                .map(|&i| &sc.faults[i])
                .filter(|f| f.applies(ts, cohort))
                .map(|f| match f.effect {
                    Effect::TrafficDrop(x) => x,
                    _ => 1.0,
                })
                .product();
            if u_keep * self.bound >= keep {
                continue;
            }
            return Some(request_row(sc, &draws, ts, cohort, Source::Real, None));
        }
        None
    }
}

impl Iterator for RequestChunks {
    type Item = Vec<RequestRow>;
    fn next(&mut self) -> Option<Vec<RequestRow>> {
        let mut out = Vec::with_capacity(self.chunk.min(65_536));
        while out.len() < self.chunk {
            match self.next_real() {
                Some(real) => {
                    while let Some(s) = self.synthetic.next_if(|s| s.ts < real.ts) {
                        out.push(s);
                    }
                    out.push(real);
                }
                None => {
                    out.extend(self.synthetic.by_ref().take(self.chunk - out.len()));
                    break;
                }
            }
        }
        (!out.is_empty()).then_some(out)
    }
}

/// Synthetic monitors (from T0, when the canary exists), then synthetic bursts, each
/// from its own random stream.
fn synthetic_requests(sc: &CompiledScenario) -> Vec<RequestRow> {
    let mut rows = Vec::new();
    let mut synth_rng = sc.rng(stream::SYNTHETIC);
    let synth = poisson(&mut synth_rng, sc.t0.max(sc.from), sc.to, &[], |_| {
        sc.synthetic_rps / 1000.0
    });
    for ts in synth {
        let draws = RequestDraws::take(&mut synth_rng);
        rows.push(request_row(
            sc,
            &draws,
            ts,
            Cohort::Canary,
            Source::Synthetic,
            None,
        ));
    }
    for (i, f) in sc.faults.iter().enumerate() {
        if let Effect::SyntheticBurst { rps } = f.effect {
            let mut r = sc.rng(stream::FAULT_BASE + i as u64);
            let from = f.from.max(sc.from);
            let to = f.to.min(sc.to);
            if from >= to {
                continue;
            }
            for ts in poisson(&mut r, from, to, &[], |_| rps / 1000.0) {
                let draws = RequestDraws::take(&mut r);
                rows.push(request_row(
                    sc,
                    &draws,
                    ts,
                    Cohort::Canary,
                    Source::Synthetic,
                    Some(0.5),
                ));
            }
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::test_support::{MIN, T0, plan, spec, stage_of};
    use crate::generate::{Fault, FaultKind, generate};

    #[test]
    fn canary_share_follows_stage_weights() {
        let ds = generate(&spec(3, 20.0), &plan()).unwrap();
        for (stage, weight) in [
            ("synthetic", 0.0),
            ("ramp-5", 0.05),
            ("ramp-25", 0.25),
            ("full", 1.0),
        ] {
            let (mut canary, mut all) = (0.0f64, 0.0f64);
            for r in ds.requests.iter().filter(|r| stage_of(r.ts) == Some(stage)) {
                all += 1.0;
                if r.cohort == Cohort::Canary {
                    canary += 1.0;
                }
            }
            let share = canary / all;
            assert!((share - weight).abs() < 0.006, "{stage}: {share}");
        }
    }

    fn rate_5xx<'a>(rows: impl Iterator<Item = &'a RequestRow>) -> (f64, usize) {
        let (mut bad, mut n) = (0usize, 0usize);
        for r in rows {
            n += 1;
            if (500..=599).contains(&r.status) {
                bad += 1;
            }
        }
        (bad as f64 / n as f64, n)
    }

    #[test]
    fn error_5xx_fault_hits_canary_in_span_only() {
        let mut s = spec(11, 20.0);
        let mut f = Fault::new(FaultKind::Error5xx, "ramp-25");
        f.at = "10m".into();
        f.duration = Some("20m".into());
        f.rate = Some(0.05);
        s.faults.push(f);
        let ds = generate(&s, &plan()).unwrap();
        let (from, to) = (T0 + 160 * MIN, T0 + 180 * MIN);
        let in_span = |r: &&RequestRow| r.ts > from && r.ts <= to;
        let real = |r: &&RequestRow| r.source == Source::Real;
        let (canary_in, n) = rate_5xx(
            ds.requests
                .iter()
                .filter(in_span)
                .filter(real)
                .filter(|r| r.cohort == Cohort::Canary),
        );
        assert!(
            n > 5000 && (canary_in - 0.05).abs() < 0.01,
            "{canary_in} of {n}"
        );
        let (baseline_in, _) = rate_5xx(
            ds.requests
                .iter()
                .filter(in_span)
                .filter(|r| r.cohort == Cohort::Baseline),
        );
        assert!(baseline_in < 0.003, "{baseline_in}");
        let (canary_out, n) = rate_5xx(
            ds.requests
                .iter()
                .filter(|r| !in_span(r))
                .filter(|r| r.cohort == Cohort::Canary),
        );
        assert!(n > 100_000 && canary_out < 0.002, "{canary_out}");
    }
}
