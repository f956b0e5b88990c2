//! Seeded dataset generator: this module owns the `[generate]` table of scenario files
//! ([`GenSpec`] and its [`Fault`]s) and turns it, with the rollout plan taken from the
//! policy ([`GenPlan`]), into a realistic in-memory [`Dataset`]: Poisson request
//! arrivals split between cohorts by the stage weights, log-normal latencies per
//! endpoint, probes with JSON payloads, and optional infra, security, logs and pages
//! streams, with faults injected in given spans. The optional `[funnel]` table
//! ([`FunnelSpec`]) adds the `funnel` and `ledger` streams ([`generate_funnel`]).
//! Generation is byte-for-byte deterministic for a seed: every stream draws from its own
//! ChaCha8 stream seeded with `seed_from_u64`, only raw 64-bit words are taken from it
//! (all distributions are sampled in `rng`), and no clock, thread RNG or hash-map order
//! is involved.
//!
//! `spec` holds the table and its errors, `plan` compiles it into the scenario every
//! stream reads, and each stream has its own file (`requests`, `probes`, `infra`,
//! `security`, `logs`, `pages`, `funnel`, `ledger`).

mod funnel;
mod infra;
mod ledger;
mod logs;
mod pages;
mod plan;
mod probes;
mod requests;
mod rng;
mod security;
mod spec;
#[cfg(test)]
mod test_support;

pub use funnel::{FunnelFault, FunnelFaultKind, FunnelGenError, FunnelSpec, generate_funnel};
pub use requests::RequestChunks;
pub use spec::{
    EndpointSpec, Fault, FaultKind, GenError, GenPlan, GenSpec, StagePlan, default_endpoints,
};

use crate::input::Dataset;
use plan::CompiledScenario;

/// Generates the dataset `spec` describes over the rollout `plan`. Streams not listed in
/// `spec.streams` (or probes when `spec.probes` is false) are `None`; every stream's
/// rows are in timestamp order.
pub fn generate(spec: &GenSpec, plan: &GenPlan) -> Result<Dataset, GenError> {
    let sc = CompiledScenario::build(spec, plan)?;
    Ok(Dataset {
        start: Some(sc.t0),
        requests: requests::requests(&sc),
        probes: sc.probes.then(|| probes::probes(&sc)),
        infra: sc.infra.then(|| infra::infra(&sc)),
        security: sc.security.then(|| security::security(&sc)),
        logs: sc.logs.then(|| logs::logs(&sc)),
        pages: sc.pages.then(|| pages::pages(&sc)),
        funnel: None,
        ledger: None,
    })
}

/// Like [`generate`], but leaves `requests` empty and returns them as lazily generated,
/// sorted chunks of at most `chunk` rows (for datasets too large to hold in memory).
pub fn generate_streaming(
    spec: &GenSpec,
    plan: &GenPlan,
    chunk: usize,
) -> Result<(Dataset, RequestChunks), GenError> {
    let sc = CompiledScenario::build(spec, plan)?;
    let ds = Dataset {
        start: Some(sc.t0),
        requests: Vec::new(),
        probes: sc.probes.then(|| probes::probes(&sc)),
        infra: sc.infra.then(|| infra::infra(&sc)),
        security: sc.security.then(|| security::security(&sc)),
        logs: sc.logs.then(|| logs::logs(&sc)),
        pages: sc.pages.then(|| pages::pages(&sc)),
        funnel: None,
        ledger: None,
    };
    Ok((ds, RequestChunks::new(sc, chunk)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::plan::STREAM_NAMES;
    use crate::generate::test_support::{MIN, T0, plan, sorted, spec};

    #[test]
    fn deterministic_for_a_seed() {
        let mut s = spec(7, 2.0);
        s.streams = STREAM_NAMES.iter().map(|s| s.to_string()).collect();
        s.synthetic_rps = 0.2;
        let a = generate(&s, &plan()).unwrap();
        let b = generate(&s, &plan()).unwrap();
        assert_eq!(a, b);
        s.seed = 8;
        let c = generate(&s, &plan()).unwrap();
        assert_ne!(a.requests, c.requests);
        assert_ne!(a.logs, c.logs);
        assert_eq!(a.start, Some(T0));
        assert!(sorted(&a.requests, |r| r.ts));
        assert!(sorted(a.probes.as_ref().unwrap(), |r| r.ts));
        assert!(sorted(a.infra.as_ref().unwrap(), |r| r.ts));
        assert!(sorted(a.security.as_ref().unwrap(), |r| r.ts));
        assert!(sorted(a.logs.as_ref().unwrap(), |r| r.ts));
        assert!(sorted(a.pages.as_ref().unwrap(), |r| r.ts));
        let end = T0 + 330 * MIN;
        assert!(a.requests.iter().all(|r| r.ts > T0 && r.ts <= end));
    }

    #[test]
    fn default_streams_and_volume() {
        let ds = generate(&GenSpec::new(1), &plan()).unwrap();
        assert!(ds.probes.is_some());
        assert!(ds.infra.is_none() && ds.security.is_none());
        assert!(ds.logs.is_none() && ds.pages.is_none());
        // 20 rps over 5.5 h.
        let n = ds.requests.len() as f64;
        assert!((n - 396_000.0).abs() < 3000.0, "{n}");
        assert!(ds.requests.iter().all(|r| r.latency_us >= 1000));
        let mut s = GenSpec::new(1);
        s.probes = false;
        assert!(generate(&s, &plan()).unwrap().probes.is_none());
    }
}
