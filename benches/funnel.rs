//! Benchmark (not a test): the funnel report over 10 million funnel events, from
//! decoded events in memory and end to end from a Parquet dataset. The event count can
//! be lowered with `REHEARSE_BENCH_EVENTS` (e.g. `1000000`) for a quick run; the
//! figure for the docs is the default 10 M on the CI machine class (2 cores).

use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use rehearse::analytics::{AnalyticsData, AnalyticsPolicy, analyze};
use rehearse::app::scenario::gen_plan;
use rehearse::generate::{FunnelSpec, generate_funnel};
use rehearse::input::Dataset;
use rehearse::output::dataset::{Format, write_dataset};
use rehearse::policy::Policy;
use rehearse::source::OnError;

const T0: i64 = 1_772_445_600_000;

fn events_wanted() -> usize {
    std::env::var("REHEARSE_BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000_000)
}

/// Exactly `n` funnel events over the default rollout (5.5 h): the generator yields
/// about 3.2 events per user, so users arrive at `n / 3.0` over the rollout (about 10 %
/// more events than needed, checked, and scaled up if ever short), then the stream is
/// cut to its first `n` events in time order.
fn dataset(n: usize) -> Dataset {
    let hours = 5.5;
    let plan = gen_plan(&Policy::default_policy());
    let started = Instant::now();
    let mut per_user = 3.0;
    let (mut funnel, ledger) = loop {
        let spec = FunnelSpec {
            users_per_hour: n as f64 / per_user / hours,
            synthetic_per_hour: n as f64 / 5_000.0 / hours,
            providers: 400,
            bookings_per_hour: 2_000.0,
            ..Default::default()
        };
        let (funnel, ledger) = generate_funnel(&spec, &plan, T0, 10).unwrap();
        if funnel.len() >= n {
            break (funnel, ledger);
        }
        eprintln!(
            "generated only {} funnel events for {n}: more users",
            funnel.len()
        );
        per_user *= funnel.len() as f64 / n as f64 * 0.95;
    };
    let generated = funnel.len();
    funnel.truncate(n);
    assert_eq!(funnel.len(), n);
    eprintln!(
        "generated {generated} funnel events, kept the first {} (by time), and {} ledger lines in {:.1} s",
        funnel.len(),
        ledger.as_ref().map_or(0, Vec::len),
        started.elapsed().as_secs_f64()
    );
    Dataset {
        start: Some(T0),
        funnel: Some(funnel),
        ledger,
        ..Default::default()
    }
}

fn bench(c: &mut Criterion) {
    let n = events_wanted();
    let ds = dataset(n);
    let policy = AnalyticsPolicy::default();
    let data = AnalyticsData::from_dataset(&ds).unwrap();
    let r = analyze(&data, &policy, "bench").unwrap().report;
    eprintln!(
        "analysing {} funnel events: {} persons ({} included), {} anonymous ids stitched",
        data.funnel.as_ref().map_or(0, |f| f.len()),
        r.persons.total,
        r.persons.included,
        r.identity.stitched_anonymous_ids
    );

    let mut g = c.benchmark_group("funnel_report");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(30));
    g.bench_function(format!("analyze_{n}_events"), |b| {
        b.iter(|| analyze(&data, &policy, "bench").unwrap())
    });

    let dir = tempfile::tempdir().unwrap();
    write_dataset(&ds, dir.path(), Format::Parquet).unwrap();
    drop(data);
    g.bench_function(format!("load_parquet_and_analyze_{n}_events"), |b| {
        b.iter(|| {
            let data = AnalyticsData::load(dir.path(), OnError::Fail)
                .unwrap()
                .unwrap();
            analyze(&data, &policy, "bench").unwrap()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
