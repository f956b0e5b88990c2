//! Equivalence tests: the same events give the same run whatever the thread count,
//! the encoding or the way requests were generated (in memory or streamed in chunks).

use rehearse::app::replay::{replay_dataset, replay_dir};
use rehearse::app::scenario::gen_plan;
use rehearse::engine::Setup;
use rehearse::generate::{Fault, FaultKind, GenSpec, generate, generate_streaming};
use rehearse::output::dataset::{Format, write_dataset, write_dataset_streaming};
use rehearse::policy::{Policy, PolicyBuilder};
use rehearse::source::read::ReadOptions;

fn spec() -> GenSpec {
    let mut spec = GenSpec::new(99);
    spec.rps = 6.0; // about 120 000 requests: two Parquet row groups
    let mut f = Fault::new(FaultKind::Error5xx, "ramp-25");
    f.at = "5m".into();
    f.rate = Some(0.05);
    spec.faults.push(f);
    spec
}

fn setup() -> Setup {
    rehearse::app::setup(
        PolicyBuilder::new()
            .set("rollout.min_requests=20")
            .unwrap()
            .build()
            .unwrap(),
    )
    .unwrap()
}

#[test]
fn thread_count_does_not_change_the_run() {
    let ds = generate(&spec(), &gen_plan(&Policy::default_policy())).unwrap();
    assert!(ds.requests.len() > 70_000, "{}", ds.requests.len());
    let dir = tempfile::tempdir().unwrap();
    write_dataset(&ds, dir.path(), Format::Parquet).unwrap();
    let setup = setup();
    let run_with = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| replay_dir(&setup, dir.path(), ReadOptions::default()).unwrap())
    };
    let one = run_with(1);
    let two = run_with(2);
    let three = run_with(3);
    assert_eq!(one.run, two.run);
    assert_eq!(one.run, three.run);
    assert_eq!(one.inputs, two.inputs);
    assert_eq!(one.run.outcome.as_str(), "rollback");
    // And the file replay equals the in-memory replay of the same rows.
    let mem = replay_dataset(&setup, &ds, None, 4096).unwrap();
    assert_eq!(mem.run, one.run);
}

#[test]
fn streamed_generation_writes_the_same_files() {
    let plan = gen_plan(&Policy::default_policy());
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let ds = generate(&spec(), &plan).unwrap();
    write_dataset(&ds, a.path(), Format::Csv).unwrap();
    let (rest, chunks) = generate_streaming(&spec(), &plan, 1000).unwrap();
    write_dataset_streaming(&rest, chunks, b.path(), Format::Csv).unwrap();
    for name in ["requests.csv", "probes.csv", "dataset.toml"] {
        let x = std::fs::read(a.path().join(name)).unwrap();
        let y = std::fs::read(b.path().join(name)).unwrap();
        assert!(x == y, "{name} differs");
    }
}

#[test]
fn parallel_read_reports_the_first_bad_row_of_the_file() {
    // A bad row in each row group: the error names the earliest, as a serial read does.
    let mut ds = generate(&spec(), &gen_plan(&Policy::default_policy())).unwrap();
    let n = ds.requests.len();
    ds.requests[70_000].endpoint = String::new();
    ds.requests[n - 10].endpoint = String::new();
    let dir = tempfile::tempdir().unwrap();
    write_dataset(&ds, dir.path(), Format::Parquet).unwrap();
    let setup = setup();
    for threads in [1, 2] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        let err = pool.install(|| {
            replay_dir(&setup, dir.path(), ReadOptions::default())
                .err()
                .unwrap()
        });
        let msg = err.to_string();
        assert!(
            msg.contains("row 70001") && msg.contains("`endpoint`"),
            "{threads}: {msg}"
        );
    }
}
