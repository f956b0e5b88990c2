//! Repeatability: every output is the same bytes whatever the run. Each output is made
//! by several runs of the binary that differ only in what must not matter: a repeat of
//! the same run, the rayon thread count (1, 2 and 4), the columnar batch size (where
//! `--batch-size` is accepted) and whether a CSV file is read whole or in byte ranges
//! (`REHEARSE_CSV_SPLIT_BYTES`). Covered: generated datasets in every encoding, the
//! human and JSON run reports, the event log (`run --record`), the human and JSON sweep
//! reports, the human and JSON funnel reports, the funnel tables (`funnel --out`) and
//! the JUnit report of `check`. The fee-rounding scenario's `fee_capture` examples
//! (once ordered by a parallel group-by) are checked against the ledger file itself.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// One way to run the binary: a rayon thread count, a batch size and whether CSV
/// files are split into byte ranges. The first is the reference; the second repeats it.
struct Variant {
    threads: &'static str,
    batch: Option<&'static str>,
    split: bool,
}

const VARIANTS: [Variant; 4] = [
    Variant {
        threads: "1",
        batch: None,
        split: false,
    },
    Variant {
        threads: "1",
        batch: None,
        split: false,
    },
    Variant {
        threads: "2",
        batch: Some("1000"),
        split: true,
    },
    Variant {
        threads: "4",
        batch: Some("77"),
        split: true,
    },
];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs the binary under a variant; returns the exit status and stdout. Usage errors
/// and internal errors fail the test.
fn rehearse(v: &Variant, args: &[&str]) -> (Option<i32>, Vec<u8>) {
    let mut c = Command::new(env!("CARGO_BIN_EXE_rehearse"));
    c.args(args)
        .stdin(Stdio::null())
        .env("RAYON_NUM_THREADS", v.threads)
        .env("REHEARSE_PROGRESS", "never");
    if v.split {
        c.env("REHEARSE_CSV_SPLIT_BYTES", "1");
    } else {
        c.env_remove("REHEARSE_CSV_SPLIT_BYTES");
    }
    let o = c.output().expect("the binary runs");
    assert!(
        o.status.code().is_some_and(|c| c != 1 && c != 2),
        "rehearse {} exited {:?}: {}",
        args.join(" "),
        o.status.code(),
        String::from_utf8_lossy(&o.stderr)
    );
    (o.status.code(), o.stdout)
}

/// Every file below `dir` by relative path.
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("a directory") {
            let p = e.expect("an entry").path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir).expect("below").display().to_string();
                out.insert(rel, std::fs::read(&p).expect("reads"));
            }
        }
    }
    out
}

/// Asserts that every variant's outputs equal the first's, naming the first that differs.
fn assert_same(what: &str, outputs: &[BTreeMap<String, Vec<u8>>]) {
    let reference = &outputs[0];
    assert!(!reference.is_empty(), "{what}: no outputs");
    for (i, o) in outputs.iter().enumerate().skip(1) {
        assert_eq!(
            o.keys().collect::<Vec<_>>(),
            reference.keys().collect::<Vec<_>>(),
            "{what}: variant {i} wrote other outputs"
        );
        for (name, bytes) in o {
            assert!(
                bytes == &reference[name],
                "{what}: `{name}` differs between variant 0 (threads {}) and variant {i} \
                 (threads {}, batch {:?}, split {})",
                VARIANTS[0].threads,
                VARIANTS[i].threads,
                VARIANTS[i].batch,
                VARIANTS[i].split
            );
        }
    }
}

fn generate(v: &Variant, scenario: &str, format: &str, out: &Path) {
    let s = root().join("scenarios").join(scenario);
    let _ = std::fs::remove_dir_all(out);
    rehearse(
        v,
        &[
            "generate",
            s.to_str().expect("utf-8"),
            "--out",
            out.to_str().expect("utf-8"),
            "--format",
            format,
        ],
    );
}

#[test]
fn generated_datasets_are_the_same_bytes_in_every_encoding() {
    let tmp = tempfile::tempdir().expect("a temp dir");
    for format in ["csv", "ndjson", "parquet", "arrow"] {
        let outputs: Vec<_> = VARIANTS
            .iter()
            .map(|v| {
                let out = tmp.path().join("ds");
                generate(v, "55-all-streams-clean.toml", format, &out);
                files(&out)
            })
            .collect();
        assert_same(&format!("generate --format {format}"), &outputs);
    }
}

/// Runs one command under a variant and keeps its stdout and exit status.
fn call(v: &Variant, out: &mut BTreeMap<String, Vec<u8>>, name: &str, args: &[&str]) {
    let (code, stdout) = rehearse(v, args);
    out.insert(
        format!("{name} (exit status)"),
        format!("{code:?}").into_bytes(),
    );
    out.insert(name.to_string(), stdout);
}

/// Every output of `run`, `sweep` and (when the dataset has a funnel stream) `funnel`
/// over one dataset, per variant.
fn dataset_outputs(v: &Variant, ds: &Path, work: &Path) -> BTreeMap<String, Vec<u8>> {
    let d = ds.to_str().expect("utf-8");
    let batch: Vec<&str> = v.batch.map_or(vec![], |b| vec!["--batch-size", b]);
    fn with<'a>(args: &[&'a str], batch: &[&'a str]) -> Vec<&'a str> {
        args.iter().chain(batch).copied().collect()
    }
    let mut out = BTreeMap::new();
    call(v, &mut out, "run", &with(&["run", d], &batch));
    call(
        v,
        &mut out,
        "run --json",
        &with(&["run", d, "--json"], &batch),
    );
    let record = work.join("run.arrow");
    let _ = std::fs::remove_file(&record);
    let r = record.to_str().expect("utf-8");
    call(
        v,
        &mut out,
        "run --record",
        &with(&["run", d, "--record", r], &batch),
    );
    out.insert(
        "run.arrow".into(),
        std::fs::read(&record).expect("the event log"),
    );
    let sweep = [
        "sweep",
        d,
        "--vary",
        "triggers.latency_p95_ms=200,250,400",
        "--vary",
        "rollout.sustain=5m,10m",
    ];
    call(v, &mut out, "sweep", &sweep);
    call(
        v,
        &mut out,
        "sweep --json",
        &[&sweep[..], &["--json"]].concat(),
    );
    let has_funnel = std::fs::read_dir(ds).expect("the dataset").any(|e| {
        let name = e.expect("an entry").file_name();
        name.to_string_lossy().starts_with("funnel.")
    });
    if !has_funnel {
        return out;
    }
    call(v, &mut out, "funnel", &["funnel", d]);
    call(v, &mut out, "funnel --json", &["funnel", d, "--json"]);
    let tables = work.join("tables");
    let _ = std::fs::remove_dir_all(&tables);
    let t = tables.to_str().expect("utf-8");
    call(v, &mut out, "funnel --out", &["funnel", d, "--out", t]);
    for (name, bytes) in files(&tables) {
        out.insert(format!("tables/{name}"), bytes);
    }
    out
}

fn outputs_repeat(scenario: &str, format: &str) {
    let tmp = tempfile::tempdir().expect("a temp dir");
    let ds = tmp.path().join("ds");
    generate(&VARIANTS[0], scenario, format, &ds);
    let outputs: Vec<_> = VARIANTS
        .iter()
        .map(|v| dataset_outputs(v, &ds, tmp.path()))
        .collect();
    assert_same(&format!("{scenario} ({format})"), &outputs);
}

#[test]
fn run_sweep_and_funnel_outputs_repeat_over_csv() {
    outputs_repeat("63-analytics-fee-rounding.toml", "csv");
}

#[test]
fn run_and_sweep_outputs_repeat_with_every_ops_stream_over_parquet() {
    outputs_repeat("55-all-streams-clean.toml", "parquet");
}

#[test]
fn run_sweep_and_funnel_outputs_repeat_over_arrow() {
    outputs_repeat("64-analytics-double-payout.toml", "arrow");
}

#[test]
fn check_junit_repeats() {
    let tmp = tempfile::tempdir().expect("a temp dir");
    let dir = tmp.path().join("scenarios");
    std::fs::create_dir(&dir).expect("a dir");
    for s in [
        "02-5xx-sustained.toml",
        "07-5xx-burst-short.toml",
        "41-pii-email.toml",
        "63-analytics-fee-rounding.toml",
    ] {
        std::fs::copy(root().join("scenarios").join(s), dir.join(s)).expect("copies");
    }
    let junit = tmp.path().join("junit.xml");
    let outputs: Vec<_> = VARIANTS
        .iter()
        .map(|v| {
            let _ = std::fs::remove_file(&junit);
            let (code, stdout) = rehearse(
                v,
                &[
                    "check",
                    dir.to_str().expect("utf-8"),
                    "--junit",
                    junit.to_str().expect("utf-8"),
                ],
            );
            assert_eq!(code, Some(0), "{}", String::from_utf8_lossy(&stdout));
            BTreeMap::from([
                ("check".to_string(), stdout),
                ("junit.xml".into(), std::fs::read(&junit).expect("JUnit")),
            ])
        })
        .collect();
    assert_same("check --junit", &outputs);
}

/// The fee rule of the default analytics policy: 3 % of the gross, rounded half up.
fn expected_fee(gross_minor: i64) -> i64 {
    (gross_minor * 3 + 50) / 100
}

#[test]
fn fee_capture_examples_are_the_first_ten_violations_in_sorted_order() {
    let tmp = tempfile::tempdir().expect("a temp dir");
    let ds = tmp.path().join("ds");
    generate(&VARIANTS[0], "63-analytics-fee-rounding.toml", "csv", &ds);
    // The violations, from the ledger file: booking transactions whose platform fee is
    // not 3 % of the cash taken.
    let mut reader = csv::Reader::from_path(ds.join("ledger.csv")).expect("the ledger");
    let header = reader.headers().expect("a header").clone();
    let col = |n: &str| header.iter().position(|h| h == n).expect("a column");
    let (txn, account, debit, credit, kind) = (
        col("txn_id"),
        col("account"),
        col("debit_minor"),
        col("credit_minor"),
        col("kind"),
    );
    let mut txns: BTreeMap<String, (String, i64, i64)> = BTreeMap::new();
    for r in reader.records() {
        let r = r.expect("a row");
        let e = txns
            .entry(r[txn].to_string())
            .or_insert_with(|| (r[kind].to_string(), 0, 0));
        let num = |i: usize| r[i].parse::<i64>().unwrap_or(0);
        match &r[account] {
            "cash" => e.1 += num(debit),
            "platform_fees" => e.2 += num(credit),
            _ => {}
        }
    }
    let violations: Vec<&String> = txns
        .iter()
        .filter(|(_, (k, gross, fee))| k == "booking" && *fee != expected_fee(*gross))
        .map(|(id, _)| id)
        .collect();
    assert!(violations.len() > 10, "the scenario plants fee violations");
    let first_ten: Vec<&str> = violations.iter().take(10).map(|s| s.as_str()).collect();
    for v in &VARIANTS {
        let (_, stdout) = rehearse(v, &["funnel", ds.to_str().expect("utf-8"), "--json"]);
        let report: serde_json::Value = serde_json::from_slice(&stdout).expect("JSON");
        assert_eq!(report["ledger"]["fee_violations"], violations.len() as u64);
        let examples: Vec<&str> = report["ledger"]["examples"]["fee_violations"]
            .as_array()
            .expect("examples")
            .iter()
            .map(|x| x.as_str().expect("an id"))
            .collect();
        assert_eq!(examples, first_ten, "threads {}", v.threads);
    }
}
