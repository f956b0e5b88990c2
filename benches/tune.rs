//! `rehearse tune`'s throughput: (item x variant) evaluations per second over the
//! bundled starter library (`library/`), each one a verdict from the per-tick tables
//! scored against the item's label. The library is loaded (generated and replayed)
//! once, outside the measurement; the measured loop judges 1,000 combinations of the
//! 5xx trigger rate, the p95 trigger latency and the sustain span over every item, on
//! one thread (`Library::score`), on the rayon pool, and on the rayon pool through
//! `Library::partial` (the whole reduction to the Pareto front and the best
//! combination, which also computes the odds of a false stop of the clean items under
//! the best combination: Monte Carlo replays where the chains are too large). A third measurement turns
//! the canary judge on and varies its alpha too (10,000 combinations), which adds one
//! comparison per tick. Criterion's `thrpt` line is the (item x variant) evaluations
//! per second. `cargo test --bench tune` runs each measurement once, in debug, as a
//! check that the benchmark works.

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

use rehearse::app::tune::{Library, TuneSettings};

/// The starter library loaded for these `--set`s and `--vary`s.
fn load(sets: &[&str], vary: &[&str]) -> Library {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("library");
    let settings = TuneSettings::new(
        dir,
        None,
        sets.iter().map(|s| s.to_string()).collect(),
        vary.iter().map(|s| s.to_string()).collect(),
        true,
        None,
        None,
    )
    .expect("the settings are valid");
    Library::load(&settings).expect("the starter library loads")
}

const VARY: [&str; 3] = [
    "triggers.error_rate_5xx=0.001:0.01:0.001",
    "triggers.latency_p95_ms=200:290:10",
    "rollout.sustain=1m:10m:1m",
];

/// Every combination of `lib` scored in turn on this thread.
fn score_one_thread(b: &mut criterion::Bencher, lib: &Library) {
    let mut idx = vec![0usize; lib.axes.len()];
    let mut v = lib.base_variant();
    b.iter(|| {
        (0..lib.total)
            .map(|i| lib.score(black_box(i), &mut idx, &mut v).caught)
            .sum::<u32>()
    })
}

fn tune(c: &mut Criterion) {
    let lib = load(&[], &VARY);
    let items = lib.items.len() as u64;
    let mut g = c.benchmark_group("tune");
    g.throughput(Throughput::Elements(lib.total * items));
    g.bench_function("score 1000 variants x library, one thread", |b| {
        score_one_thread(b, &lib)
    });
    g.bench_function("score 1000 variants x library, rayon", |b| {
        use rayon::prelude::*;
        b.iter(|| {
            (0..lib.total)
                .into_par_iter()
                .map_init(
                    || (vec![0usize; lib.axes.len()], lib.base_variant()),
                    |(idx, v), i| lib.score(black_box(i), idx, v).caught,
                )
                .sum::<u32>()
        })
    });
    g.bench_function("partial 1000 variants x library, rayon", |b| {
        b.iter(|| lib.partial(None).meeting_goal)
    });
    g.finish();

    let mut vary = VARY.to_vec();
    vary.push("judge.alpha=0.001:0.01:0.001");
    let lib = load(&["judge.enabled=true"], &vary);
    let items = lib.items.len() as u64;
    let mut g = c.benchmark_group("tune_judge");
    g.throughput(Throughput::Elements(lib.total * items));
    g.bench_function(
        "score 10000 variants x library with the judge, one thread",
        |b| score_one_thread(b, &lib),
    );
    g.finish();
}

criterion_group!(benches, tune);
criterion_main!(benches);
