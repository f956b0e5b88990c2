//! Golden outputs: every scenario in `scenarios/` and the bundled dataset, run through
//! the binary, must give byte-identical outputs to the files in `tests/golden/`. This
//! guards refactors and determinism: the generated dataset (one encoding per scenario,
//! rotating through all four), the human and JSON run reports with their exit status,
//! the recorded event log, a sweep report, the funnel report and tables, and the JUnit
//! report of `rehearse check`.
//!
//! Each golden file holds the human report verbatim (readable diffs) and a SHA-256 and
//! size for every other output. On a mismatch the actual files are left in
//! `target/golden-actual/` for inspection. To update the goldens on purpose, run
//! `REHEARSE_UPDATE_GOLDEN=1 cargo test golden` and commit the new files with a message
//! that says why they changed.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use rayon::prelude::*;
use sha2::{Digest, Sha256};

const FORMATS: [&str; 4] = ["csv", "ndjson", "parquet", "arrow"];

/// The sweep every item is put through: small, valid for every scenario's policy.
const SWEEP: [&str; 4] = [
    "--vary",
    "triggers.latency_p95_ms=250,400",
    "--vary",
    "rollout.sustain=5m,10m",
];

/// The repository root, relative: tests run there, and every path the binary is given
/// (hence every path embedded in a report or event log) is relative to it, so the
/// outputs are the same in any clone.
fn root() -> PathBuf {
    PathBuf::from(".")
}

fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

struct Ran {
    code: Option<i32>,
    stdout: Vec<u8>,
}

fn rehearse(args: &[&str]) -> Ran {
    let o = Command::new(env!("CARGO_BIN_EXE_rehearse"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(Stdio::null())
        .output()
        .expect("the binary runs");
    assert!(
        o.status.code().is_some_and(|c| c != 1 && c != 2),
        "rehearse {} exited {:?}: {}",
        args.join(" "),
        o.status.code(),
        String::from_utf8_lossy(&o.stderr)
    );
    Ran {
        code: o.status.code(),
        stdout: o.stdout,
    }
}

fn line(out: &mut String, what: &str, bytes: &[u8]) {
    let _ = writeln!(
        out,
        "{what}: sha256 {} ({} bytes)",
        sha256(bytes),
        bytes.len()
    );
}

/// Every file below `dir`, sorted by relative path, hashed.
fn hash_dir(out: &mut String, prefix: &str, dir: &Path) {
    let mut files: Vec<PathBuf> = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                files.push(p);
            }
        }
    }
    files.sort();
    for f in files {
        let rel = f.strip_prefix(dir).unwrap().display().to_string();
        line(out, &format!("{prefix}{rel}"), &std::fs::read(&f).unwrap());
    }
}

/// The scenario's `[policy]` table as a policy file (schema paths relative to it), if any.
fn policy_file(scenario: &Path, work: &Path) -> Option<PathBuf> {
    let text = std::fs::read_to_string(scenario).unwrap();
    let mut doc: toml::Table = toml::from_str(&text).unwrap();
    let mut policy = doc.remove("policy")?.as_table()?.clone();
    let base = scenario.parent().unwrap();
    if let Some(schemas) = policy
        .get_mut("probes")
        .and_then(|p| p.as_table_mut())
        .and_then(|p| p.get_mut("schemas"))
        .and_then(|s| s.as_table_mut())
    {
        // The policy file sits three levels below the root (target/golden-actual/NAME).
        for (_, v) in schemas.iter_mut() {
            if let Some(s) = v.as_str() {
                *v = toml::Value::String(format!("../../../{}", base.join(s).display()));
            }
        }
    }
    let path = work.join("policy.toml");
    std::fs::write(&path, toml::to_string(&policy).unwrap()).unwrap();
    Some(path)
}

/// Runs one dataset directory through every command and describes the outputs.
fn describe_dataset(out: &mut String, dataset: &Path, policy: Option<&Path>, work: &Path) {
    let ds = dataset.to_str().unwrap();
    let mut pol: Vec<&str> = Vec::new();
    if let Some(p) = policy {
        pol.extend(["--policy", p.to_str().unwrap()]);
    }
    let with = |args: &[&str]| -> Vec<String> {
        args.iter()
            .chain(pol.iter())
            .map(|s| s.to_string())
            .collect()
    };
    let call = |args: Vec<String>| {
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        rehearse(&refs)
    };

    let human = call(with(&["run", ds]));
    let _ = writeln!(out, "== rehearse run (exit {:?})", human.code);
    out.push_str(&String::from_utf8_lossy(&human.stdout));

    let record = work.join("run.arrow");
    let json = call(with(&[
        "run",
        ds,
        "--json",
        "--record",
        record.to_str().unwrap(),
    ]));
    let _ = writeln!(
        out,
        "== rehearse run --json --record (exit {:?})",
        json.code
    );
    line(out, "report.json", &json.stdout);
    line(out, "run.arrow", &std::fs::read(&record).unwrap());

    let mut sweep = with(&["sweep", ds, "--json"]);
    sweep.extend(SWEEP.iter().map(|s| s.to_string()));
    let sweep = call(sweep);
    let _ = writeln!(out, "== rehearse sweep --json (exit {:?})", sweep.code);
    line(out, "sweep.json", &sweep.stdout);

    let has_funnel = std::fs::read_dir(dataset).unwrap().any(|e| {
        let n = e.unwrap().file_name().to_string_lossy().into_owned();
        n.starts_with("funnel.") || n.starts_with("ledger.")
    });
    if has_funnel {
        let tables = work.join("tables");
        let funnel = call(with(&[
            "funnel",
            ds,
            "--json",
            "--out",
            tables.to_str().unwrap(),
        ]));
        let _ = writeln!(
            out,
            "== rehearse funnel --json --out (exit {:?})",
            funnel.code
        );
        line(out, "funnel.json", &funnel.stdout);
        hash_dir(out, "tables/", &tables);
    }
}

fn describe_scenario(i: usize, scenario: &Path, work: &Path) -> String {
    let mut out = String::new();
    let format = FORMATS[i % FORMATS.len()];
    let dataset = work.join("dataset");
    let gen_args = [
        "generate",
        scenario.to_str().unwrap(),
        "--out",
        dataset.to_str().unwrap(),
        "--format",
        format,
    ];
    let generated = rehearse(&gen_args);
    let _ = writeln!(
        out,
        "== rehearse generate --format {format} (exit {:?})",
        generated.code
    );
    hash_dir(&mut out, "dataset/", &dataset);
    let policy = policy_file(scenario, work);
    describe_dataset(&mut out, &dataset, policy.as_deref(), work);
    out
}

struct Item {
    name: String,
    describe: Box<dyn Fn(&Path) -> String + Send + Sync>,
}

fn items() -> Vec<Item> {
    let mut scenarios: Vec<PathBuf> = std::fs::read_dir(root().join("scenarios"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    scenarios.sort();
    let mut items: Vec<Item> = scenarios
        .into_iter()
        .enumerate()
        .map(|(i, p)| Item {
            name: p.file_stem().unwrap().to_string_lossy().into_owned(),
            describe: Box::new(move |work: &Path| describe_scenario(i, &p, work)),
        })
        .collect();
    items.push(Item {
        name: "dataset-demo".into(),
        describe: Box::new(|work: &Path| {
            let mut out = String::new();
            describe_dataset(&mut out, &root().join("datasets/demo"), None, work);
            out
        }),
    });
    items.push(Item {
        name: "check-junit".into(),
        describe: Box::new(|_: &Path| {
            // The run `cli.rs` checks too, made once for both (crate::shared).
            let ran = crate::shared::check_scenarios();
            assert!(
                ran.code.is_some_and(|c| c != 1 && c != 2),
                "rehearse check scenarios exited {:?}: {}",
                ran.code,
                ran.stderr
            );
            let mut out = format!("== rehearse check --junit (exit {:?})\n", ran.code);
            out.push_str(&ran.stdout);
            line(&mut out, "junit.xml", &ran.junit);
            out
        }),
    });
    items
}

#[test]
fn outputs_match_the_golden_files() {
    let golden_dir = root().join("tests/golden");
    let actual_dir = root().join("target/golden-actual");
    let update = std::env::var_os("REHEARSE_UPDATE_GOLDEN").is_some();
    let _ = std::fs::remove_dir_all(&actual_dir);
    std::fs::create_dir_all(&actual_dir).unwrap();
    let mut items = items();
    // The longest item first (check runs every scenario), so it does not finish alone.
    items.sort_by_key(|i| i.name != "check-junit");
    // Rayon over the items (one per task, so a long one never holds others back);
    // the results are put back in name order.
    let mut results: Vec<(String, String)> = items
        .par_iter()
        .with_max_len(1)
        .map(|item| {
            let work = actual_dir.join(&item.name);
            std::fs::create_dir_all(&work).unwrap();
            (item.name.clone(), (item.describe)(&work))
        })
        .collect();
    results.sort();
    let mut mismatches = Vec::new();
    for (name, text) in &results {
        let golden = golden_dir.join(format!("{name}.txt"));
        if update {
            std::fs::create_dir_all(&golden_dir).unwrap();
            std::fs::write(&golden, text).unwrap();
            continue;
        }
        std::fs::write(actual_dir.join(format!("{name}.txt")), text).unwrap();
        match std::fs::read_to_string(&golden) {
            Ok(want) if want == *text => {
                // Keep only the evidence of mismatches.
                let _ = std::fs::remove_dir_all(actual_dir.join(name));
                let _ = std::fs::remove_file(actual_dir.join(format!("{name}.txt")));
            }
            Ok(_) => mismatches.push(format!("{name}: outputs differ from {}", golden.display())),
            Err(_) => mismatches.push(format!("{name}: no golden file {}", golden.display())),
        }
    }
    if !update {
        let mut stale: Vec<String> = std::fs::read_dir(&golden_dir)
            .map(|rd| {
                rd.filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| {
                        n.strip_suffix(".txt")
                            .is_some_and(|stem| !results.iter().any(|(name, _)| name == stem))
                    })
                    .collect()
            })
            .unwrap_or_default();
        stale.sort();
        for n in stale {
            mismatches.push(format!("{n}: a golden file without a scenario (remove it)"));
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} of {} golden outputs differ (actual outputs in {}; `diff -r tests/golden target/golden-actual`):\n{}",
        mismatches.len(),
        results.len(),
        actual_dir.display(),
        mismatches.join("\n")
    );
}
