//! Criterion benchmarks of the replay engine: the in-memory fold of request batches
//! (events per second on one core), the tick-by-tick evaluation of a whole rollout from
//! per-tick aggregates and the sweep evaluator's (policy variants per second), and the
//! CSV and Parquet readers.
//! Datasets are generated here; nothing large is committed.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

use rehearse::app::replay::replay_dir;
use rehearse::app::scenario::gen_plan;
use rehearse::engine::evaluate;
use rehearse::engine::fold::Folded;
use rehearse::engine::whatif::{Sweep, Variant};
use rehearse::generate::{GenSpec, generate};
use rehearse::input::{Cohort, EventSink, RequestBatch, Source};
use rehearse::output::dataset::{Format, write_dataset};
use rehearse::policy::{Policy, PolicyBuilder};
use rehearse::ratio::Ratio;
use rehearse::source::read::ReadOptions;

const T0: i64 = 1_772_445_600_000;

/// A batch of `n` request events spread over the whole default rollout.
fn batch(n: usize) -> RequestBatch {
    let total = Policy::default_policy().total_ms();
    let mut b = RequestBatch::with_capacity(n);
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for i in 0..n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let ts = T0 + 1 + (i as i64 * total) / n as i64;
        let cohort = if x % 4 == 0 {
            Cohort::Canary
        } else {
            Cohort::Baseline
        };
        let status = if x % 997 == 0 { 503 } else { 200 };
        let latency = 20_000 + (x >> 40) % 300_000;
        b.push(
            ts,
            cohort,
            Source::Real,
            status,
            latency,
            if x % 13 == 0 { 0 } else { u8::MAX },
        );
    }
    b
}

fn fold(c: &mut Criterion) {
    let setup = rehearse::app::setup(Policy::default_policy()).unwrap();
    let n = 1 << 20;
    let b = batch(n);
    let mut g = c.benchmark_group("fold");
    g.throughput(Throughput::Elements(n as u64));
    g.bench_function("requests_1M", |bench| {
        bench.iter(|| {
            let mut f = Folded::new(&setup, T0);
            f.requests(black_box(&b));
            f
        })
    });
    g.finish();
}

fn reevaluate(c: &mut Criterion) {
    let setup = rehearse::app::setup(Policy::default_policy()).unwrap();
    let mut f = Folded::new(&setup, T0);
    f.requests(&batch(1 << 20));
    let p = setup.policy.clone();
    let mut g = c.benchmark_group("evaluate");
    g.throughput(Throughput::Elements(1));
    g.bench_function("whole_rollout", |bench| {
        bench.iter(|| evaluate(black_box(&p), &f))
    });
    g.bench_function("whole_rollout_verdicts_only", |bench| {
        bench.iter(|| rehearse::engine::evaluate_with(black_box(&p), &f, false))
    });
    g.finish();

    // Sweeps: 1,000 variants (5xx and 4xx rates, sustain span) over the same tables.
    let sweep = Sweep::new(&p, &f);
    let base = Variant::of(&p);
    let variants: Vec<Variant> = (0..1000u64)
        .map(|i| Variant {
            trig_5xx: Ratio::new(1 + i % 20, 1000),
            go_5xx: Ratio::new(1 + i % 10, 1000),
            trig_4xx: Ratio::new(1 + (i / 20) % 20, 1000),
            sustain_ticks: 1 + (i % 15) as usize,
            ..base.clone()
        })
        .collect();
    let mut g = c.benchmark_group("sweep");
    g.bench_function("tables", |bench| {
        bench.iter(|| Sweep::new(black_box(&p), &f))
    });
    g.throughput(Throughput::Elements(variants.len() as u64));
    g.bench_function("variants_1000", |bench| {
        bench.iter(|| {
            variants
                .iter()
                .map(|v| sweep.eval(black_box(v)).at)
                .fold(0i64, i64::wrapping_add)
        })
    });
    g.finish();
}

fn readers(c: &mut Criterion) {
    let policy = PolicyBuilder::new().build().unwrap();
    let mut spec = GenSpec::new(3);
    spec.rps = 10.0;
    let ds = generate(&spec, &gen_plan(&policy)).unwrap();
    let rows = ds.requests.len() as u64;
    let setup = rehearse::app::setup(policy).unwrap();
    let mut g = c.benchmark_group("read_and_run");
    g.sample_size(10);
    g.throughput(Throughput::Elements(rows));
    for format in [Format::Csv, Format::Parquet, Format::Ndjson, Format::Arrow] {
        let dir = tempfile::tempdir().unwrap();
        write_dataset(&ds, dir.path(), format).unwrap();
        g.bench_function(format.to_string(), |bench| {
            bench.iter(|| {
                replay_dir(&setup, dir.path(), ReadOptions::default())
                    .unwrap()
                    .run
                    .outcome
            })
        });
    }
    g.finish();
}

criterion_group!(benches, fold, reevaluate, readers);
criterion_main!(benches);
