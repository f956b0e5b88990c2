//! The `infra` stream: every 10 s a sample per host (three canary, three baseline) of
//! CPU, free memory, database p95 and queue depth, each an AR(1) process around its
//! baseline. Infra faults saturate the CPU, leak memory, slow the database or back up
//! the queue of the hosts they cover.

use super::plan::{CompiledScenario, Effect};
use super::rng::{grid, round_to, stream};
use crate::input::{Cohort, InfraRow, Millis};

const HOSTS: [(&str, Cohort); 6] = [
    ("web-canary-1", Cohort::Canary),
    ("web-canary-2", Cohort::Canary),
    ("web-canary-3", Cohort::Canary),
    ("web-1", Cohort::Baseline),
    ("web-2", Cohort::Baseline),
    ("web-3", Cohort::Baseline),
];
const INFRA_PERIOD: Millis = 10_000;

/// An AR(1) process around `mean` with stationary standard deviation `sd`.
struct Ar1 {
    mean: f64,
    sd: f64,
    x: f64,
}

impl Ar1 {
    const PHI: f64 = 0.8;
    fn new(mean: f64, sd: f64) -> Self {
        Ar1 { mean, sd, x: mean }
    }
    fn step(&mut self, z: f64) -> f64 {
        let innovation = self.sd * (1.0 - Self::PHI * Self::PHI).sqrt();
        self.x = self.mean + Self::PHI * (self.x - self.mean) + innovation * z;
        self.x
    }
}

/// Every host sample of the scenario, in timestamp order.
pub(super) fn infra(sc: &CompiledScenario) -> Vec<InfraRow> {
    let mut rng = sc.rng(stream::INFRA);
    let mut state: Vec<[Ar1; 4]> = HOSTS
        .iter()
        .map(|_| {
            [
                Ar1::new(0.30, 0.05),
                Ar1::new(0.55, 0.02),
                Ar1::new(18.0_f64.ln(), 0.12),
                Ar1::new(50.0, 8.0),
            ]
        })
        .collect();
    let mut rows = Vec::new();
    for ts in grid(sc.t0, sc.from, sc.to, INFRA_PERIOD) {
        for (h, (host, cohort)) in HOSTS.iter().enumerate() {
            let z = [
                rng.normal(),
                rng.normal(),
                rng.normal(),
                rng.normal(),
                rng.normal(),
            ];
            let s = &mut state[h];
            let mut cpu = s[0].step(z[0]);
            let mut mem = s[1].step(z[1]);
            let mut db = s[2].step(z[2]).exp();
            let mut queue = s[3].step(z[3]);
            for f in sc.faults.iter().filter(|f| f.applies(ts, *cohort)) {
                match f.effect {
                    Effect::CpuSaturation(level) => cpu = level + 0.02 * z[4],
                    Effect::MemoryLeak(to) => {
                        let p = (ts - f.from) as f64 / (f.to - f.from) as f64;
                        mem = mem * (1.0 - p) + to * p;
                    }
                    Effect::SlowDb(p95) => db = p95 * (0.05 * z[4]).exp(),
                    Effect::QueueBacklog(depth) => queue = depth * (1.0 + 0.05 * z[4]),
                    _ => {}
                }
            }
            cpu = cpu.clamp(0.01, 1.0);
            mem = mem.clamp(0.0, 0.99);
            db = db.max(0.5);
            queue = queue.max(0.0);
            rows.push(InfraRow {
                ts,
                cpu: round_to(cpu, 3),
                mem_free: round_to(mem, 3),
                host: Some(host.to_string()),
                cohort: Some(*cohort),
                db_p95_ms: Some(round_to(db, 1)),
                queue_depth: Some(queue.round()),
            });
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use crate::generate::generate;
    use crate::generate::test_support::{plan, spec};

    #[test]
    fn infra_baseline() {
        let mut s = spec(4, 0.0);
        s.streams = vec!["infra".into()];
        let infra = generate(&s, &plan()).unwrap().infra.unwrap();
        assert_eq!(infra.len(), 330 * 6 * 6);
        let mean_cpu = infra.iter().map(|r| r.cpu).sum::<f64>() / infra.len() as f64;
        assert!((mean_cpu - 0.30).abs() < 0.02, "{mean_cpu}");
    }
}
