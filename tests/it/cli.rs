//! End-to-end tests of the `rehearse` binary: exit statuses, the report contract, one
//! test per input error path, `--on-error skip`, invariance of the report across
//! encodings and batch sizes, and the recorded event log matching the run.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use rehearse::app::scenario::gen_plan;
use rehearse::generate::{Fault, FaultKind, GenSpec};
use rehearse::output::dataset::{Format, write_dataset};
use rehearse::policy::Policy;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_rehearse"))
}

fn run(args: &[&str]) -> Output {
    bin()
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("the binary runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A small generated dataset (2 real requests/s) with a 5xx fault in ramp-25.
fn small_dataset(dir: &Path, format: Format) {
    let mut spec = GenSpec::new(7);
    spec.rps = 2.0;
    spec.base_5xx = 0.0;
    spec.base_4xx_nonauth = 0.0;
    let mut f = Fault::new(FaultKind::Error5xx, "ramp-25");
    f.at = "20m".into();
    f.rate = Some(0.2);
    spec.faults.push(f);
    let ds = rehearse::generate::generate(&spec, &gen_plan(&Policy::default_policy())).unwrap();
    write_dataset(&ds, dir, format).unwrap();
}

const LOW_MIN: &str = "rollout.min_requests=5";

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

const REQ_HEADER: &str = "ts,endpoint,cohort,source,status,latency_ms\n";

/// The manifest with the rollout start T0 = 2026-03-02T10:00:00Z.
fn manifest(dir: &Path) {
    write(dir, "dataset.toml", "start = \"2026-03-02T10:00:00Z\"\n");
}

fn tiny(dir: &Path, rows: &str) {
    manifest(dir);
    write(dir, "requests.csv", &format!("{REQ_HEADER}{rows}"));
}

#[test]
fn rollback_report_and_exit_status() {
    let d = tempfile::tempdir().unwrap();
    small_dataset(d.path(), Format::Csv);
    let o = run(&[
        "run",
        d.path().to_str().unwrap(),
        "--json",
        "--set",
        LOW_MIN,
    ]);
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["outcome"], "rollback");
    assert_eq!(v["rollback"]["stage"], "ramp-25");
    assert_eq!(v["rollback"]["triggers"][0], "error_rate_5xx");
    let stages = v["stages"].as_array().unwrap();
    assert_eq!(stages.len(), 4);
    assert_eq!(stages[3]["verdict"], "not_run");
    assert_eq!(stages[0]["start"], "2026-03-02T10:00:00.000Z");
    // The rollback lands 10 minutes after the fault's first breaching tick at the earliest.
    let at = v["rollback"]["at"].as_str().unwrap();
    assert!(
        at > "2026-03-02T12:59:59.999Z" && at < "2026-03-02T13:30:00.001Z",
        "{at}"
    );
    // Human output names the trigger, its value and threshold.
    let o = run(&["run", d.path().to_str().unwrap(), "--set", LOW_MIN]);
    assert_eq!(o.status.code(), Some(4));
    let text = stdout(&o);
    assert!(
        text.contains("ramp-25") && text.contains("ROLLBACK") && text.contains("error_rate_5xx"),
        "{text}"
    );
    assert!(text.contains(">= 0.50% for 11 ticks since"), "{text}");
}

#[test]
fn hold_and_complete_exit_statuses() {
    let d = tempfile::tempdir().unwrap();
    small_dataset(d.path(), Format::Csv);
    // With the default minimum of 100 requests, 2 requests/s never has data at 5 %.
    let o = run(&["run", d.path().to_str().unwrap(), "--json"]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["stages"][1]["reasons"][0], "insufficient_data");
    // A single synthetic stage with no data and clean probes completes.
    let o = run(&[
        "run",
        d.path().to_str().unwrap(),
        "--policy",
        write(
            d.path(),
            "p.toml",
            "replace_stages = true\n[[stages]]\nname = \"only\"\nduration = \"30m\"\nweight = 0.0\ngo_p95_ms = 200.0\n",
        )
        .to_str()
        .unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
}

#[test]
fn encodings_and_batch_sizes_give_identical_reports() {
    let mut reports = Vec::new();
    let dirs: Vec<_> = [Format::Csv, Format::Ndjson, Format::Parquet, Format::Arrow]
        .into_iter()
        .map(|f| {
            let d = tempfile::tempdir().unwrap();
            small_dataset(d.path(), f);
            d
        })
        .collect();
    for d in &dirs {
        for batch in ["1", "7", "8192"] {
            let o = run(&[
                "run",
                d.path().to_str().unwrap(),
                "--json",
                "--set",
                LOW_MIN,
                "--batch-size",
                batch,
            ]);
            assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
            let mut v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
            // Fields that name input files may differ; nothing else may.
            v["rehearse"]["dataset"] = serde_json::Value::Null;
            for i in v["inputs"].as_array_mut().unwrap() {
                i["file"] = serde_json::Value::Null;
            }
            reports.push(serde_json::to_string(&v).unwrap());
        }
    }
    for r in &reports[1..] {
        assert_eq!(r, &reports[0]);
    }
}

#[test]
fn recording_replays_the_run() {
    let d = tempfile::tempdir().unwrap();
    small_dataset(d.path(), Format::Parquet);
    let rec = d.path().join("run.arrow");
    let o = run(&[
        "run",
        d.path().to_str().unwrap(),
        "--set",
        LOW_MIN,
        "--record",
        rec.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    let (meta, events) = rehearse::output::record::read_record(&rec).unwrap();
    assert_eq!(meta.stages.len(), 4);
    let setup = rehearse::app::setup(
        rehearse::policy::PolicyBuilder::new()
            .set(LOW_MIN)
            .unwrap()
            .build()
            .unwrap(),
    )
    .unwrap();
    let replay = rehearse::app::replay::replay_dir(&setup, d.path(), Default::default()).unwrap();
    assert_eq!(events, replay.run.events);
    let ticks = events
        .iter()
        .filter(|e| matches!(e, rehearse::verdict::VerdictEvent::Tick(_)))
        .count();
    assert!(ticks > 150, "{ticks}");
}

fn expect_usage_error(args: &[&str], needles: &[&str]) {
    let o = run(args);
    assert_eq!(
        o.status.code(),
        Some(2),
        "args {args:?}: stdout {} stderr {}",
        stdout(&o),
        stderr(&o)
    );
    let e = stderr(&o);
    for n in needles {
        assert!(e.contains(n), "stderr lacks `{n}`: {e}");
    }
    assert!(!e.contains("panicked"), "{e}");
}

#[test]
fn dataset_without_requests_is_unusable() {
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "probes.csv", "ts,target,status,latency_ms\n");
    expect_usage_error(&["run", d.path().to_str().unwrap()], &["requests"]);
}

#[test]
fn missing_dataset_directory() {
    expect_usage_error(
        &["run", "/nonexistent/rehearse-dataset"],
        &["/nonexistent/rehearse-dataset"],
    );
}

#[test]
fn two_files_for_one_stream() {
    let d = tempfile::tempdir().unwrap();
    tiny(d.path(), "");
    write(d.path(), "requests.ndjson", "{}\n");
    expect_usage_error(
        &["run", d.path().to_str().unwrap()],
        &["two files", "requests.csv", "requests.ndjson"],
    );
}

#[test]
fn empty_file() {
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "requests.csv", "");
    expect_usage_error(
        &["run", d.path().to_str().unwrap()],
        &["requests.csv", "empty"],
    );
}

#[test]
fn header_only_is_an_empty_stream() {
    let d = tempfile::tempdir().unwrap();
    tiny(d.path(), "");
    let o = run(&["run", d.path().to_str().unwrap(), "--json"]);
    // No request data at all: ramp-5 holds on insufficient data.
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
}

#[test]
fn missing_required_column() {
    let d = tempfile::tempdir().unwrap();
    write(
        d.path(),
        "requests.csv",
        "ts,endpoint,cohort,source,status\n2026-03-02T10:00:01Z,/a,canary,real,200\n",
    );
    expect_usage_error(
        &["run", d.path().to_str().unwrap()],
        &["requests.csv", "latency_ms", "missing"],
    );
}

#[test]
fn bad_values_name_file_line_and_column() {
    let cases = [
        ("not-a-time,/a,canary,real,200,1.0\n", "ts"),
        ("2026-03-02T10:00:01Z,/a,canary,real,200,-1\n", "latency_ms"),
        (
            "2026-03-02T10:00:01Z,/a,canary,real,200,NaN\n",
            "latency_ms",
        ),
        ("2026-03-02T10:00:01Z,/a,canary,real,600,1.0\n", "status"),
        ("2026-03-02T10:00:01Z,/a,canary,real,ok,1.0\n", "status"),
        ("2026-03-02T10:00:01Z,/a,Canary,real,200,1.0\n", "cohort"),
        ("2026-03-02T10:00:01Z,/a,canary,bot,200,1.0\n", "source"),
        ("2026-03-02T10:00:01Z,,canary,real,200,1.0\n", "endpoint"),
    ];
    for (row, column) in cases {
        let d = tempfile::tempdir().unwrap();
        tiny(
            d.path(),
            &format!("2026-03-02T10:00:01Z,/ok,canary,real,200,1.0\n{row}"),
        );
        expect_usage_error(
            &["run", d.path().to_str().unwrap()],
            &["requests.csv", "line 3", &format!("`{column}`")],
        );
    }
}

#[test]
fn ndjson_and_parquet_errors_name_the_row() {
    let d = tempfile::tempdir().unwrap();
    manifest(d.path());
    write(
        d.path(),
        "requests.ndjson",
        "{\"ts\":\"2026-03-02T10:00:01Z\",\"endpoint\":\"/a\",\"cohort\":\"canary\",\"source\":\"real\",\"status\":200,\"latency_ms\":3}\n\n{\"ts\": 5,\n",
    );
    expect_usage_error(
        &["run", d.path().to_str().unwrap()],
        &["requests.ndjson", "line 3", "JSON"],
    );
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "requests.parquet", "PAR1 this is not parquet");
    expect_usage_error(
        &["run", d.path().to_str().unwrap()],
        &["requests.parquet", "Parquet"],
    );
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "requests.arrow", "ARROW1 nope");
    expect_usage_error(
        &["run", d.path().to_str().unwrap()],
        &["requests.arrow", "Arrow"],
    );
}

#[test]
fn skip_mode_counts_bad_rows_per_file() {
    let d = tempfile::tempdir().unwrap();
    tiny(
        d.path(),
        "2026-03-02T10:00:01Z,/ok,canary,real,200,1.0\nbad,/a,canary,real,200,1\n2026-03-02T10:00:02Z,/a,canary,real,999,1\n",
    );
    let o = run(&[
        "run",
        d.path().to_str().unwrap(),
        "--json",
        "--on-error",
        "skip",
    ]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["skipped_rows"], 2);
    assert_eq!(v["inputs"][0]["skipped"], 2);
    assert_eq!(v["inputs"][0]["rows"], 1);
    assert!(
        v["inputs"][0]["first_skip"]
            .as_str()
            .unwrap()
            .contains("line 3")
    );
    let o = run(&["run", d.path().to_str().unwrap(), "--on-error", "skip"]);
    assert!(
        stdout(&o).contains("skipped 2 bad rows in requests.csv"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn bad_manifest_start() {
    let d = tempfile::tempdir().unwrap();
    tiny(d.path(), "");
    write(d.path(), "dataset.toml", "start = \"tuesday\"\n");
    expect_usage_error(
        &["run", d.path().to_str().unwrap()],
        &["dataset.toml", "start"],
    );
}

#[test]
fn start_falls_back_to_the_earliest_event_floored_to_the_minute() {
    let d = tempfile::tempdir().unwrap();
    write(
        d.path(),
        "requests.csv",
        &format!("{REQ_HEADER}2026-03-02T10:07:31.5Z,/a,canary,real,200,1\n"),
    );
    let o = run(&["run", d.path().to_str().unwrap(), "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["t0"], "2026-03-02T10:07:00.000Z");
    let o = run(&[
        "run",
        d.path().to_str().unwrap(),
        "--json",
        "--start",
        "2026-03-02T09:00:00Z",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["t0"], "2026-03-02T09:00:00.000Z");
}

#[test]
fn policy_errors_are_usage_errors() {
    let d = tempfile::tempdir().unwrap();
    tiny(d.path(), "");
    let ds = d.path().to_str().unwrap();
    expect_usage_error(
        &["run", ds, "--set", "triggers.latency_p95_ms=-3"],
        &["triggers.latency_p95_ms"],
    );
    expect_usage_error(&["run", ds, "--set", "trigers.x=1"], &["trigers.x"]);
    expect_usage_error(&["run", ds, "--set", "novalue"], &["novalue"]);
    let p = write(d.path(), "bad.toml", "[go]\nerror_rate_5xxx = 0.1\n");
    expect_usage_error(
        &["run", ds, "--policy", p.to_str().unwrap()],
        &["error_rate_5xxx"],
    );
    expect_usage_error(&["run", ds, "--start", "noon"], &["--start"]);
    expect_usage_error(&["run", ds, "--on-error", "ignore"], &["ignore"]);
}

#[test]
fn policy_show_prints_the_commented_default() {
    let o = run(&["policy", "show"]);
    assert_eq!(o.status.code(), Some(0));
    let text = stdout(&o);
    assert_eq!(text, rehearse::policy::DEFAULT_POLICY_TOML);
    assert!(text.contains("latency_p95_ms = 250.0") && text.contains("# "));
    let o = run(&["policy", "show", "--set", "triggers.latency_p95_ms=300"]);
    assert!(
        stdout(&o).contains("latency_p95_ms = 300"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn closed_pipe_exits_quietly() {
    let mut child = bin()
        .args(["policy", "show"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let o = child.wait_with_output().unwrap();
    assert!(!stderr(&o).contains("panicked"), "{}", stderr(&o));
    assert_eq!(o.status.code(), Some(0));
}

#[test]
fn saved_scenarios_pass_rehearse_check() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    // The same run the golden test hashes, made once for both (crate::shared).
    let o = crate::shared::check_scenarios();
    let text = &o.stdout;
    assert_eq!(o.code, Some(0), "{text}{}", o.stderr);
    let n = std::fs::read_dir(root.join("scenarios")).unwrap().count();
    assert!(n >= 12);
    assert_eq!(text.matches("PASS").count(), n, "{text}");
    let xml = String::from_utf8_lossy(&o.junit);
    assert!(
        xml.contains(&format!("tests=\"{n}\" failures=\"0\"")),
        "{xml}"
    );
}

#[test]
fn check_reports_a_mismatch_with_its_diff() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let d = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(root.join("scenarios/02-5xx-sustained.toml")).unwrap();
    let wrong = text.replace("outcome = \"rollback\"", "outcome = \"complete\"");
    let p = write(d.path(), "wrong.toml", &wrong);
    let o = run(&["check", p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(5));
    let out = stdout(&o);
    assert!(
        out.contains("FAIL") && out.contains("outcome: expected complete, got rollback"),
        "{out}"
    );
}

/// `rehearse policy check --policy FILE` with `text` as the file: exit status and output.
fn policy_check(text: &str) -> (Option<i32>, String) {
    let d = tempfile::tempdir().unwrap();
    let p = write(d.path(), "policy.toml", text);
    let o = run(&["policy", "check", "--policy", p.to_str().unwrap()]);
    (o.status.code(), format!("{}{}", stdout(&o), stderr(&o)))
}

#[test]
fn a_partial_stage_keeps_the_other_stages_and_its_other_fields() {
    let (code, out) = policy_check("[[stages]]\nname = \"ramp-5\"\nduration = \"45m\"\n");
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(
        out,
        "policy ok: synthetic 2h (0%) -> ramp-5 45m (5%) -> ramp-25 1h (25%) -> full 2h (100%)\n"
    );
    // The merged policy keeps ramp-5's weight and Go p95 (no `weight` in the file).
    let d = tempfile::tempdir().unwrap();
    let p = write(
        d.path(),
        "policy.toml",
        "[[stages]]\nname = \"ramp-5\"\nduration = \"45m\"\n",
    );
    let o = run(&["policy", "show", "--policy", p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let shown = stdout(&o);
    assert!(
        shown.contains("name = \"ramp-5\"\nduration = \"45m\"\nweight = 0.05\ngo_p95_ms = 200.0\n"),
        "{shown}"
    );
    // The shown policy is a complete file: it reads back as the same plan.
    let again = write(d.path(), "shown.toml", &shown);
    let o = run(&["policy", "check", "--policy", again.to_str().unwrap()]);
    assert_eq!(
        stdout(&o),
        "policy ok: synthetic 2h (0%) -> ramp-5 45m (5%) -> ramp-25 1h (25%) -> full 2h (100%)\n",
        "{}",
        stderr(&o)
    );
    // A run with the partial file rehearses all four stages.
    let ds = tempfile::tempdir().unwrap();
    small_dataset(ds.path(), Format::Csv);
    let v = report(&[
        "run",
        ds.path().to_str().unwrap(),
        "--json",
        "--policy",
        p.to_str().unwrap(),
    ]);
    let stages = v["stages"].as_array().expect("stages");
    assert_eq!(stages.len(), 4, "{v}");
    assert_eq!(stages[1]["name"], "ramp-5");
}

#[test]
fn new_stages_need_every_field_and_replace_stages_sets_the_list() {
    // A new name with only some fields: the error names the key and the stages.
    let (code, out) = policy_check("[[stages]]\nname = \"ramp-50\"\nduration = \"45m\"\n");
    assert_eq!(code, Some(2), "{out}");
    assert!(
        out.contains("stages[0].weight") && out.contains("synthetic, ramp-5, ramp-25, full"),
        "{out}"
    );
    // With every required field it is appended.
    let (code, out) = policy_check(
        "[[stages]]\nname = \"ramp-50\"\nduration = \"45m\"\nweight = 0.5\ngo_p95_ms = 200.0\n",
    );
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.ends_with("-> full 2h (100%) -> ramp-50 45m (50%)\n"),
        "{out}"
    );
    // replace_stages = true: the file's stages, in its order, inheriting by name.
    let (code, out) = policy_check(
        "replace_stages = true\n[[stages]]\nname = \"synthetic\"\nduration = \"1h\"\n\
         [[stages]]\nname = \"full\"\n",
    );
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(out, "policy ok: synthetic 1h (0%) -> full 2h (100%)\n");
}

/// A scenario directory holding 02-5xx-sustained with `expect`'s outcome replaced.
fn scenario_expecting(dir: &Path, outcome: &str) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(root.join("scenarios/02-5xx-sustained.toml")).unwrap();
    // Copied whole: this scenario names no schema file, so no relative path breaks.
    write(
        dir,
        "a-5xx.toml",
        &text.replace(
            "outcome = \"rollback\"",
            &format!("outcome = \"{outcome}\""),
        ),
    )
}

#[test]
fn a_failing_check_exits_5_and_a_broken_scenario_is_a_junit_error() {
    let d = tempfile::tempdir().unwrap();
    scenario_expecting(d.path(), "hold");
    let dir = d.path().to_str().unwrap();
    let o = run(&["check", dir]);
    assert_eq!(o.status.code(), Some(5), "{}{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains("outcome: expected hold, got rollback"));

    // A file that is not TOML: an <error>, not a <failure>; the mismatch stays a failure.
    write(d.path(), "b-broken.toml", "[generate\nseed = 1\n");
    let junit = d.path().join("junit.xml");
    let o = run(&["check", dir, "--junit", junit.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(5), "{}{}", stdout(&o), stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("FAIL  b-broken") && out.contains("error: "),
        "{out}"
    );
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(
        xml.contains("tests=\"2\" failures=\"1\" errors=\"1\""),
        "{xml}"
    );
    assert!(
        xml.contains("name=\"b-broken\">\n    <error message=\"scenario could not be loaded\">"),
        "{xml}"
    );
    assert!(
        xml.contains("<failure message=\"scenario mismatch\">outcome: expected hold"),
        "{xml}"
    );
    assert_eq!(xml.matches("<failure").count(), 1, "{xml}");

    // Passing scenarios exit 0.
    let ok = tempfile::tempdir().unwrap();
    scenario_expecting(ok.path(), "rollback");
    let o = run(&["check", ok.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    // Piped, no progress is drawn: stderr stays empty (a terminal gets a progress
    // line, tested in tui_pty.rs).
    assert_eq!(stderr(&o), "");
}

#[test]
fn help_lists_every_exit_status() {
    let o = run(&["--help"]);
    assert_eq!(o.status.code(), Some(0));
    let text = stdout(&o);
    for status in [
        "0  complete",
        "1  internal error",
        "2  unusable input or usage",
        "3  hold",
        "4  rollback",
        "5  a check failed",
    ] {
        assert!(text.contains(status), "{status}: {text}");
    }
}

/// The JSON report of `rehearse ARGS` (which must include `--json`); a run that prints
/// none fails the test with its stderr.
fn report(args: &[&str]) -> serde_json::Value {
    let o = run(args);
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("no JSON report ({e}): {}", stderr(&o)))
}

const NDJSON_ROW: &str = "{\"ts\":\"2026-03-02T10:00:01Z\",\"endpoint\":\"/a\",\"cohort\":\"canary\",\"source\":\"real\",\"status\":200,\"latency_ms\":3}\n";

#[test]
fn ndjson_column_no_row_has_is_a_file_error() {
    // No row has `latency_ms`: a file-level error under both modes, and it wins over the
    // bad row at line 1 (which also lacks a `status`).
    let d = tempfile::tempdir().unwrap();
    manifest(d.path());
    let no_latency = NDJSON_ROW.replace(",\"latency_ms\":3", "");
    let rows = format!("{}{no_latency}", no_latency.replace(",\"status\":200", ""));
    write(d.path(), "requests.ndjson", &rows);
    let ds = d.path().to_str().unwrap();
    for mode in ["fail", "skip"] {
        expect_usage_error(
            &["run", ds, "--on-error", mode],
            &["requests.ndjson", "required column `latency_ms` is missing"],
        );
    }
    // When some row has the key, a row without it is a row error, skippable.
    write(
        d.path(),
        "requests.ndjson",
        &format!("{no_latency}{NDJSON_ROW}"),
    );
    expect_usage_error(&["run", ds], &["line 1", "`latency_ms`"]);
    let v = report(&["run", ds, "--json", "--on-error", "skip"]);
    assert_eq!(v["inputs"][0]["skipped"], 1);
    assert_eq!(v["inputs"][0]["rows"], 1);
}

#[test]
fn ndjson_invalid_utf8_spoils_its_line_only() {
    let d = tempfile::tempdir().unwrap();
    manifest(d.path());
    let mut bytes = NDJSON_ROW.as_bytes().to_vec();
    bytes.extend_from_slice(b"{\"ts\":\"\xff\xfe\"}\n");
    bytes.extend_from_slice(NDJSON_ROW.as_bytes());
    std::fs::write(d.path().join("requests.ndjson"), bytes).unwrap();
    let ds = d.path().to_str().unwrap();
    expect_usage_error(&["run", ds], &["requests.ndjson", "line 2", "UTF-8"]);
    let v = report(&["run", ds, "--json", "--on-error", "skip"]);
    assert_eq!(v["inputs"][0]["skipped"], 1);
    assert_eq!(v["inputs"][0]["rows"], 2);
}

#[test]
fn empty_log_message_is_a_missing_required_value() {
    let d = tempfile::tempdir().unwrap();
    tiny(d.path(), "2026-03-02T10:00:01Z,/a,canary,real,200,1.0\n");
    write(
        d.path(),
        "logs.csv",
        "ts,message\n2026-03-02T10:00:01Z,ok\n2026-03-02T10:00:02Z,\n",
    );
    let ds = d.path().to_str().unwrap();
    expect_usage_error(&["run", ds], &["logs.csv", "line 3", "`message`"]);
    let v = report(&["run", ds, "--json", "--on-error", "skip"]);
    let logs = v["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["stream"] == "logs")
        .unwrap();
    assert_eq!(logs["skipped"], 1);
    assert_eq!(logs["rows"], 1);
}

#[test]
fn skipped_rows_do_not_move_the_fallback_start() {
    // Without a manifest, T0 is the earliest accepted event: the 09:58 row has a bad
    // status and is skipped, so T0 is 10:07, not 09:58.
    let d = tempfile::tempdir().unwrap();
    write(
        d.path(),
        "requests.csv",
        &format!(
            "{REQ_HEADER}2026-03-02T09:58:00Z,/a,canary,real,700,1\n2026-03-02T10:07:31.5Z,/a,canary,real,200,1\n"
        ),
    );
    write(
        d.path(),
        "probes.csv",
        "ts,target,status,latency_ms\n2026-03-02T09:59:00Z,ttv,200,-4\n",
    );
    let v = report(&[
        "run",
        d.path().to_str().unwrap(),
        "--json",
        "--on-error",
        "skip",
    ]);
    assert_eq!(v["t0"], "2026-03-02T10:07:00.000Z");
    assert_eq!(v["skipped_rows"], 2);
}

#[test]
fn byte_order_mark_before_a_quoted_header() {
    let d = tempfile::tempdir().unwrap();
    manifest(d.path());
    write(
        d.path(),
        "requests.csv",
        "\u{feff}\"ts\",\"endpoint\",cohort,source,status,latency_ms\n2026-03-02T10:00:01Z,/a,canary,real,200,1\n",
    );
    let v = report(&["run", d.path().to_str().unwrap(), "--json"]);
    assert_eq!(v["inputs"][0]["rows"], 1);
}

#[test]
fn extreme_timestamps_fall_outside_the_rollout() {
    // Epoch values at the ends of the i64 range are events outside the rollout, not a
    // crash; a start derived from one is out of range, a usage error.
    let d = tempfile::tempdir().unwrap();
    tiny(
        d.path(),
        "9223372036854775807,/a,canary,real,200,1\n-9223372036854775808,/a,canary,real,200,1\n",
    );
    let o = run(&["run", d.path().to_str().unwrap(), "--json"]);
    assert_eq!(o.status.code(), Some(3));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["inputs"][0]["outside_rollout"], 2);
    std::fs::remove_file(d.path().join("dataset.toml")).unwrap();
    expect_usage_error(&["run", d.path().to_str().unwrap()], &["out of range"]);
}

#[test]
fn csv_errors_name_the_physical_line() {
    // `\r\n` line ends, blank lines and a quoted field spanning two lines: the bad row is
    // on line 5 each time, whichever reader (one, or ranges on two threads) reads it.
    let bodies = [
        "ts,endpoint,cohort,source,status,latency_ms\r\n1772445601000,/a,canary,real,200,1\r\n\r\n\r\n1772445602000,/a,canary,,200,1\r\n",
        "ts,endpoint,cohort,source,status,latency_ms\n1772445601000,\"/a\nb\",canary,real,200,1\n\n1772445602000,/a,canary,,200,1\n",
    ];
    for body in bodies {
        let d = tempfile::tempdir().unwrap();
        manifest(d.path());
        write(d.path(), "requests.csv", body);
        for threads in ["1", "2"] {
            let o = bin()
                .args(["run", d.path().to_str().unwrap()])
                .env("RAYON_NUM_THREADS", threads)
                .env("REHEARSE_CSV_SPLIT_BYTES", "1")
                .output()
                .unwrap();
            let e = stderr(&o);
            assert!(e.contains("line 5, column `source`"), "{threads}: {e}");
        }
    }
}

#[test]
fn schema_lists_the_request_columns() {
    let o = run(&["schema", "requests"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    let columns: Vec<&str> = out
        .lines()
        .skip(2)
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(
        columns,
        ["ts", "endpoint", "cohort", "source", "status", "latency_ms"],
        "{out}"
    );
    assert!(out.contains("canary|baseline"), "{out}");
    assert!(
        !out.contains("optional"),
        "every request column is required: {out}"
    );
}

#[test]
fn schema_without_a_stream_lists_every_stream() {
    let o = run(&["schema"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    let streams: Vec<&str> = out
        .lines()
        .filter_map(|l| l.strip_prefix("stream "))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(
        streams,
        [
            "requests", "probes", "infra", "security", "logs", "pages", "funnel", "ledger"
        ]
    );
}

#[test]
fn schema_json_parses_and_matches_the_readers() {
    let o = run(&["schema", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let streams = v.as_array().unwrap();
    assert_eq!(streams.len(), 8);
    for s in streams {
        let stream = rehearse::app::schema::parse_stream(s["stream"].as_str().unwrap()).unwrap();
        let specs = rehearse::app::schema::specs(stream);
        let columns = s["columns"].as_array().unwrap();
        assert_eq!(columns.len(), specs.len(), "{}", s["stream"]);
        for (c, spec) in columns.iter().zip(specs) {
            assert_eq!(c["name"], spec.name);
            assert_eq!(c["required"], spec.required);
            for field in ["type", "unit", "meaning"] {
                assert!(
                    c[field].is_string(),
                    "{}.{}: {field}",
                    s["stream"],
                    spec.name
                );
            }
            assert!(c["values"].is_array());
        }
    }
    let one = run(&["schema", "ledger", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&one.stdout).unwrap();
    assert_eq!(v[0]["stream"], "ledger");
    assert_eq!(v[0]["columns"][7]["name"], "kind");
    assert_eq!(
        v[0]["columns"][7]["values"],
        serde_json::json!(["booking", "payout"])
    );
}

#[test]
fn schema_of_an_unknown_stream_is_a_usage_error() {
    expect_usage_error(
        &["schema", "nope"],
        &[
            "`nope`",
            "requests, probes, infra, security, logs, pages, funnel, ledger",
        ],
    );
}

/// `docs/dataset-format.md` has a section per stream whose table has a row for every
/// column the stream's reader asks for, saying required or optional as the reader does.
#[test]
fn dataset_format_doc_describes_every_column() {
    let doc = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/dataset-format.md"),
    )
    .unwrap();
    let mut missing = Vec::new();
    for stream in rehearse::input::Stream::ALL {
        let heading = format!("### `{}`\n", stream.as_str());
        let Some(at) = doc.find(&heading) else {
            missing.push(format!("no section `{heading}`"));
            continue;
        };
        let section = &doc[at + heading.len()..];
        let section = &section[..section.find("\n### ").unwrap_or(section.len())];
        for spec in rehearse::app::schema::specs(stream) {
            let row = format!("| `{}` | ", spec.name);
            let need = if spec.required {
                "required"
            } else {
                "optional"
            };
            match section.lines().find(|l| l.starts_with(&row)) {
                None => missing.push(format!("{}: no row for `{}`", stream.as_str(), spec.name)),
                Some(l) if !l[row.len()..].starts_with(need) => missing.push(format!(
                    "{}: `{}` should say {need}",
                    stream.as_str(),
                    spec.name
                )),
                Some(_) => {}
            }
        }
    }
    assert!(missing.is_empty(), "{}", missing.join("\n"));
}

/// The CSV example of every stream in `docs/dataset-format.md` reads without an error.
#[test]
fn dataset_format_doc_examples_read() {
    let doc = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/dataset-format.md"),
    )
    .unwrap();
    let d = tempfile::tempdir().unwrap();
    manifest(d.path());
    for stream in rehearse::input::Stream::ALL {
        let heading = format!("### `{}`\n", stream.as_str());
        let section = &doc[doc.find(&heading).unwrap()..];
        let body = &section[section.find("```csv\n").unwrap() + 7..];
        let body = &body[..body.find("```").unwrap()];
        write(d.path(), &format!("{}.csv", stream.as_str()), body);
    }
    let dir = d.path().to_str().unwrap();
    let v = report(&["run", dir, "--json"]);
    let inputs = v["inputs"].as_array().unwrap();
    assert_eq!(inputs.len(), 8, "{inputs:?}");
    for i in inputs {
        assert!(i["rows"].as_u64().unwrap() > 0, "{i}");
    }
    let o = run(&["funnel", dir, "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

/// A scenario file of `rps` real requests/s over the default policy's stages.
fn scenario_file(dir: &Path, rps: u32) -> PathBuf {
    write(
        dir,
        &format!("rps-{rps}.toml"),
        &format!("[generate]\nseed = 5\nrps = {rps}.0\n\n[expect]\noutcome = \"complete\"\n"),
    )
}

/// The sorted names in a directory.
fn entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn generate(scenario: &Path, out: &Path, more: &[&str]) -> Output {
    let mut args = vec![
        "generate",
        scenario.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(more);
    run(&args)
}

#[test]
fn generate_refuses_a_non_empty_out_and_leaves_it_untouched() {
    let d = tempfile::tempdir().unwrap();
    let scenario = scenario_file(d.path(), 1);
    let out = d.path().join("mine");
    std::fs::create_dir(&out).unwrap();
    write(&out, "requests.csv", "my own requests\n");
    write(&out, "notes.md", "my notes\n");
    let o = generate(&scenario, &out, &["--format", "parquet"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains(out.to_str().unwrap()) && err.contains("--force"),
        "{err}"
    );
    assert_eq!(entries(&out), ["notes.md", "requests.csv"]);
    let mine = std::fs::read_to_string(out.join("requests.csv")).unwrap();
    assert_eq!(mine, "my own requests\n");
    assert_eq!(entries(d.path()), ["mine", "rps-1.toml"]);

    // `--force` replaces a dataset, never other files.
    let o = generate(&scenario, &out, &["--force"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("`notes.md`"), "{}", stderr(&o));
    assert_eq!(entries(&out), ["notes.md", "requests.csv"]);
    assert_eq!(entries(d.path()), ["mine", "rps-1.toml"]);
}

#[test]
fn generate_writes_a_fresh_out_and_force_replaces_the_dataset() {
    let d = tempfile::tempdir().unwrap();
    let scenario = scenario_file(d.path(), 1);
    let out = d.path().join("new/dataset");
    let o = generate(&scenario, &out, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        entries(&out),
        ["dataset.toml", "probes.csv", "requests.csv"]
    );
    assert_eq!(entries(&d.path().join("new")), ["dataset"]);
    let r = run(&["run", out.to_str().unwrap(), "--json"]);
    assert!(matches!(r.status.code(), Some(0 | 3 | 4)), "{}", stderr(&r));

    // The previous dataset is replaced as a whole, old leftovers included.
    write(&out, ".rehearse-abc123.tmp", "half a file");
    let o = generate(&scenario, &out, &["--force", "--format", "parquet"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        entries(&out),
        ["dataset.toml", "probes.parquet", "requests.parquet"]
    );
    assert_eq!(entries(&d.path().join("new")), ["dataset"]);
}

/// Starts `generate` on a scenario that runs for many seconds, interrupts it once its
/// temporary directory exists, and returns its exit status.
fn interrupted_generate(scenario: &Path, out: &Path, more: &[&str]) -> Option<i32> {
    let parent = out.parent().unwrap();
    let before = entries(parent);
    let mut child = bin()
        .args(["generate", scenario.to_str().unwrap(), "--out"])
        .arg(out)
        .args(more)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while entries(parent) == before {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(20),
            "no temporary directory appeared in {}",
            parent.display()
        );
        assert!(child.try_wait().unwrap().is_none(), "generate ended early");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    // Let it write for a while.
    std::thread::sleep(std::time::Duration::from_millis(300));
    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    child.wait().unwrap().code()
}

#[test]
fn an_interrupted_generate_leaves_the_old_directory_and_no_temporary_one() {
    let d = tempfile::tempdir().unwrap();
    let big = scenario_file(d.path(), 400);
    let parent = d.path().join("data");
    std::fs::create_dir(&parent).unwrap();

    let out = parent.join("fresh");
    assert_eq!(interrupted_generate(&big, &out, &[]), Some(130));
    assert!(entries(&parent).is_empty(), "{:?}", entries(&parent));

    // With `--force` the old dataset stays as it was.
    let small = scenario_file(d.path(), 1);
    let o = generate(&small, &out, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let old = std::fs::read(out.join("requests.csv")).unwrap();
    assert_eq!(
        interrupted_generate(&big, &out, &["--force", "--format", "ndjson"]),
        Some(130)
    );
    assert_eq!(entries(&parent), ["fresh"]);
    assert_eq!(
        entries(&out),
        ["dataset.toml", "probes.csv", "requests.csv"]
    );
    assert_eq!(std::fs::read(out.join("requests.csv")).unwrap(), old);
}

#[test]
fn tab_or_semicolon_separated_header_names_the_delimiter() {
    for (sep, name, tr) in [
        ('\t', "tab", "tr '\\t' ','"),
        (';', "semicolon", "tr ';' ','"),
    ] {
        let d = tempfile::tempdir().unwrap();
        manifest(d.path());
        let header = REQ_HEADER.replace(',', &sep.to_string());
        write(d.path(), "requests.csv", &header);
        expect_usage_error(
            &["run", d.path().to_str().unwrap()],
            &[
                "requests.csv: the header is one column",
                &format!("it looks {name}-separated"),
                "rehearse reads comma-separated CSV",
                tr,
            ],
        );
    }
}

#[test]
fn a_timestamp_without_offset_says_how_to_give_it() {
    let d = tempfile::tempdir().unwrap();
    manifest(d.path());
    write(
        d.path(),
        "requests.csv",
        &format!("{REQ_HEADER}2026-03-02 10:00:01,/api/x,canary,real,200,12\n"),
    );
    expect_usage_error(
        &["run", d.path().to_str().unwrap()],
        &[
            "requests.csv: line 2, column `ts`",
            "has no UTC offset",
            "append `Z` for UTC, e.g. `2026-03-02 10:00:01Z`",
            "only the manifest's `start` is read as UTC without one",
        ],
    );
}

#[test]
fn ndjson_missing_key_hints_at_case_and_aliases() {
    for (line, needles) in [
        (
            r#"{"ts":"2026-03-02T10:00:01Z","endpoint":"/api/x","cohort":"canary","source":"real","Status":200,"latency_ms":12}"#,
            &[
                "requests.ndjson: required column `status` is missing: no row has the key",
                "a column `Status` exists; column names are lower case",
            ][..],
        ),
        (
            r#"{"timestamp":"2026-03-02T10:00:01Z","endpoint":"/api/x","cohort":"canary","source":"real","status":200,"latency_ms":12}"#,
            &[
                "`ts` is missing",
                "a column `timestamp` exists: rehearse calls it `ts`",
            ][..],
        ),
    ] {
        let d = tempfile::tempdir().unwrap();
        manifest(d.path());
        write(d.path(), "requests.ndjson", &format!("{line}\n{line}\n"));
        expect_usage_error(&["run", d.path().to_str().unwrap()], needles);
    }
}

#[test]
fn missing_column_hints_at_case_typos_and_aliases() {
    for (header, needles) in [
        (
            "ts,endpoint,cohort,source,Status,latency_ms\n",
            &[
                "`status` is missing",
                "a column `Status` exists; column names are lower case",
            ][..],
        ),
        (
            "ts,endpoint,cohort,source,status,latency\n",
            &[
                "`latency_ms` is missing",
                "a column `latency` exists",
                "`latency_ms`",
            ][..],
        ),
        (
            "ts,endpoint,cohort,source,status,latncy_ms\n",
            &["a column `latncy_ms` exists: did you mean `latency_ms`?"][..],
        ),
        (
            "timestamp,endpoint,cohort,source,status,latency_ms\n",
            &[
                "`ts` is missing",
                "a column `timestamp` exists: rehearse calls it `ts`",
            ][..],
        ),
    ] {
        let d = tempfile::tempdir().unwrap();
        manifest(d.path());
        write(d.path(), "requests.csv", header);
        expect_usage_error(&["run", d.path().to_str().unwrap()], needles);
    }
}

#[test]
fn gzip_compressed_text_streams_replay_as_the_plain_files() {
    use std::io::Write;
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("ds");
    clean_dataset_with(&dir, |col, v| {
        // A slower canary, so the run stops and the comparison means something.
        if col == "latency_ms" {
            format!("{}", v.parse::<f64>().unwrap() * 3.0)
        } else {
            v.to_string()
        }
    });
    let ds = dir.to_str().unwrap();
    let plain = run(&["run", ds, "--json"]);
    // The requests as two gzip members (as `cat` of rotated logs gives), the probes
    // as one; the infra samples as NDJSON, gzipped.
    let requests = std::fs::read(dir.join("requests.csv")).unwrap();
    let cut = requests.len() / 2;
    let cut = cut + requests[cut..].iter().position(|&b| b == b'\n').unwrap() + 1;
    let mut gz = Vec::new();
    for part in [&requests[..cut], &requests[cut..]] {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(part).unwrap();
        gz.extend(e.finish().unwrap());
    }
    std::fs::write(dir.join("requests.csv.gz"), gz).unwrap();
    std::fs::remove_file(dir.join("requests.csv")).unwrap();
    let probes = std::fs::read(dir.join("probes.csv")).unwrap();
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(&probes).unwrap();
    std::fs::write(dir.join("probes.csv.gz"), e.finish().unwrap()).unwrap();
    std::fs::remove_file(dir.join("probes.csv")).unwrap();
    let gzipped = run(&["run", ds, "--json"]);
    assert_eq!(
        gzipped.status.code(),
        plain.status.code(),
        "{}",
        stderr(&gzipped)
    );
    assert!(
        matches!(plain.status.code(), Some(3 | 4)),
        "the canary is slow: {}",
        stdout(&plain)
    );
    let renamed = stdout(&plain)
        .replace("\"requests.csv\"", "\"requests.csv.gz\"")
        .replace("\"probes.csv\"", "\"probes.csv.gz\"");
    assert_eq!(stdout(&gzipped), renamed);
    // A corrupt one is an error naming the file.
    std::fs::write(dir.join("probes.csv.gz"), b"not gzip at all").unwrap();
    let o = run(&["run", ds]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("probes.csv.gz"), "{}", stderr(&o));
}

#[test]
fn funnel_without_its_streams_names_the_look_alike_files() {
    let d = tempfile::tempdir().unwrap();
    manifest(d.path());
    write(d.path(), "Funnel.csv", "ts,event,user_id\n");
    write(d.path(), "ledgers.parquet.gz", "x");
    let o = run(&["funnel", d.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(e.contains("no `funnel` or `ledger` stream"), "{e}");
    assert!(
        e.contains("`Funnel.csv`: file names are lower case (rename it to funnel.csv)"),
        "{e}"
    );
    assert!(
        e.contains("`ledgers.parquet.gz`: the stream's file is named `ledger`"),
        "{e}"
    );
    assert_eq!(e.matches("error").count(), 1, "one message: {e}");
}

#[test]
fn missing_stream_names_the_files_that_look_like_it() {
    for (file, needles) in [
        (
            "requests.parquet.gz",
            &[
                "`requests.parquet.gz`: only CSV and NDJSON files are read gzip-compressed",
                "gunzip requests.parquet.gz",
            ][..],
        ),
        (
            "requests.csv.zst",
            &[
                "`requests.csv.zst`: of compressed files only gzip (`.gz`) is read",
                "unzstd requests.csv.zst",
            ][..],
        ),
        (
            "request.csv.gz",
            &[
                "`request.csv.gz`: the stream's file is named `requests` (rename it to requests.csv.gz)",
            ][..],
        ),
        (
            "request.csv",
            &[
                "`request.csv`: the stream's file is named `requests`",
                "requests.csv",
            ][..],
        ),
        (
            "requests.CSV",
            &["`requests.CSV`: file names are lower case (rename it to requests.csv)"][..],
        ),
        (
            "Requests.csv",
            &["`Requests.csv`: file names are lower case"][..],
        ),
        (
            "requests.tsv",
            &["`requests.tsv`: `.tsv` is not one of the encodings"][..],
        ),
    ] {
        let d = tempfile::tempdir().unwrap();
        manifest(d.path());
        write(d.path(), file, REQ_HEADER);
        let mut all = vec!["no `requests` stream"];
        all.extend_from_slice(needles);
        expect_usage_error(&["run", d.path().to_str().unwrap()], &all);
    }
}

#[test]
fn unknown_manifest_keys_are_refused() {
    let d = tempfile::tempdir().unwrap();
    tiny(d.path(), "");
    write(
        d.path(),
        "dataset.toml",
        "strat = \"2026-03-02T10:00:00Z\"\n",
    );
    expect_usage_error(
        &["run", d.path().to_str().unwrap()],
        &[
            "dataset.toml",
            "unknown key `strat`",
            "did you mean `start`?",
            "`start`, `notes`",
        ],
    );
}

#[test]
fn policy_errors_point_at_the_fix() {
    let d = tempfile::tempdir().unwrap();
    tiny(d.path(), "");
    let ds = d.path().to_str().unwrap();
    let p = write(d.path(), "bad.toml", "[go]\nerror_rate_5xxx = 0.1\n");
    expect_usage_error(
        &["run", ds, "--policy", p.to_str().unwrap()],
        &[
            "policy key `go.error_rate_5xxx`",
            "bad.toml, line 2",
            "did you mean `error_rate_5xx`?",
        ],
    );
    expect_usage_error(
        &["run", ds, "--set", "triggers.latency_p96_ms=300"],
        &["triggers.latency_p96_ms", "did you mean `latency_p95_ms`?"],
    );
    expect_usage_error(
        &["run", ds, "--set", "stages.ramp-50.duration=30m"],
        &["no stage named `ramp-50`", "ramp-5, ramp-25"],
    );
    expect_usage_error(
        &["run", ds, "--set", "stages.ramp-5.wieght=0.1"],
        &["did you mean `weight`?"],
    );
    expect_usage_error(
        &["run", ds, "--set", "go.error_rate_5xx=0.5%"],
        &[
            "go.error_rate_5xx",
            "expected a number such as 0.005 (a fraction, not a percentage)",
        ],
    );
    let missing = d.path().join("nope.toml");
    let o = run(&["run", ds, "--policy", missing.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(e.contains("cannot read policy file"), "{e}");
    assert_eq!(e.matches("No such file").count(), 1, "printed once: {e}");
}

/// A clean generated CSV dataset (5 real requests/s, probes included) whose request
/// and probe cells are passed through `cell(column, value)`.
fn clean_dataset_with(dir: &Path, cell: impl Fn(&str, &str) -> String) {
    // Generated once for every test that rewrites it (crate::shared).
    write_dataset(crate::shared::clean_dataset(), dir, Format::Csv).unwrap();
    for name in ["requests.csv", "probes.csv"] {
        let path = dir.join(name);
        let text = std::fs::read_to_string(&path).unwrap();
        let mut lines = text.lines();
        let header: Vec<&str> = lines.next().unwrap().split(',').collect();
        let mut out = header.join(",") + "\n";
        for line in lines {
            // Only the first columns are rewritten (ts, latency_ms), before any quoted
            // payload: split at most as many cells as the header names.
            let cells: Vec<&str> = line.splitn(header.len(), ',').collect();
            let row: Vec<String> = cells
                .iter()
                .enumerate()
                .map(|(i, v)| cell(header.get(i).copied().unwrap_or(""), v))
                .collect();
            out.push_str(&row.join(","));
            out.push('\n');
        }
        std::fs::write(&path, out).unwrap();
    }
}

fn warnings_of(o: &Output) -> Vec<String> {
    stderr(o)
        .lines()
        .filter(|l| l.starts_with("warning: "))
        .map(str::to_string)
        .collect()
}

/// The absent-streams warning (rule d) every dataset of [`clean_dataset_with`] gets: it
/// has no funnel and ledger streams (and no infra, security, logs, pages).
const ABSENT: &str = "gates were never evaluated and cannot hold or roll back any stage";

/// The warnings but the absent-streams one (asserted present).
fn other_warnings(o: &Output) -> Vec<String> {
    let w = warnings_of(o);
    assert_eq!(w.iter().filter(|w| w.contains(ABSENT)).count(), 1, "{w:?}");
    w.into_iter().filter(|w| !w.contains(ABSENT)).collect()
}

#[test]
fn latencies_in_seconds_warn_and_strict_exits_2() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("ds");
    clean_dataset_with(&dir, |col, v| {
        if col == "latency_ms" {
            format!("{}", v.parse::<f64>().unwrap() / 1000.0)
        } else {
            v.to_string()
        }
    });
    let ds = dir.to_str().unwrap();
    let plain = run(&["run", ds, "--json"]);
    assert_ne!(plain.status.code(), Some(2), "{}", stderr(&plain));
    let w = other_warnings(&plain);
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(
        w[0].contains("canary requests have p50") && w[0].contains("looks like seconds"),
        "{w:?}"
    );
    let strict = run(&["run", ds, "--json", "--strict"]);
    assert_eq!(strict.status.code(), Some(2), "{}", stderr(&strict));
    assert!(strict.stdout.is_empty());
    let err = stderr(&strict);
    assert!(
        err.starts_with("error: --strict: 2 plausibility warning(s)")
            && err.contains("looks like seconds"),
        "{err}"
    );
}

/// An RFC 3339 timestamp as epoch seconds.
fn epoch_seconds(v: &str) -> String {
    let ms = rehearse::time::parse_rfc3339(v).unwrap();
    (ms / 1000).to_string()
}

#[test]
fn epoch_seconds_timestamps_warn() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("ds");
    clean_dataset_with(&dir, |col, v| {
        if col == "ts" {
            epoch_seconds(v)
        } else {
            v.to_string()
        }
    });
    // With the manifest's start, each file's rows are timed in 1970: named per file.
    let ds = dir.to_str().unwrap();
    let o = run(&["run", ds]);
    let w = other_warnings(&o);
    assert_eq!(w.len(), 2, "{w:?}");
    for (w, file) in w.iter().zip(["requests.csv", "probes.csv"]) {
        assert!(
            w.starts_with(&format!("warning: {file}: "))
                && w.contains("rows are timed before the year 2000 while the rollout starts 2026-")
                && w.contains("epoch seconds"),
            "{w}"
        );
    }
    assert_eq!(run(&["run", ds, "--strict"]).status.code(), Some(2));
    // Without a start, T0 falls in 1970.
    std::fs::remove_file(dir.join("dataset.toml")).unwrap();
    let o = run(&["run", ds]);
    let w = warnings_of(&o);
    assert!(
        w.iter()
            .any(|w| w.contains("T0 is 1970-") && w.contains("epoch seconds")),
        "{w:?}"
    );
}

#[test]
fn a_dataset_without_probes_warns() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("ds");
    clean_dataset_with(&dir, |_, v| v.to_string());
    let ds = dir.to_str().unwrap();
    let o = run(&["run", ds]);
    assert_eq!(other_warnings(&o), Vec::<String>::new(), "{}", stderr(&o));
    std::fs::remove_file(dir.join("probes.csv")).unwrap();
    let o = run(&["run", ds]);
    let w = other_warnings(&o);
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(
        w[0].contains("no `probes` stream") && w[0].contains("never evaluated"),
        "{w:?}"
    );
    assert_eq!(run(&["run", ds, "--strict"]).status.code(), Some(2));
}

#[test]
fn one_stream_in_epoch_seconds_is_named() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("ds");
    clean_dataset_with(&dir, |_, v| v.to_string());
    // Only the security events are written in epoch seconds; T0 comes from the manifest.
    let events = (0..40)
        .map(|i| format!("{},waf_block\n", 1_772_445_600 + i * 60))
        .collect::<String>();
    std::fs::write(dir.join("security.csv"), format!("ts,kind\n{events}")).unwrap();
    let o = run(&["run", dir.to_str().unwrap()]);
    let w = other_warnings(&o);
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(
        w[0].starts_with("warning: security.csv: 40 of 40 rows are timed before the year 2000")
            && w[0].contains("epoch seconds"),
        "{w:?}"
    );
}

#[test]
fn absent_streams_name_their_unevaluated_gates() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("ds");
    clean_dataset_with(&dir, |_, v| v.to_string());
    let ds = dir.to_str().unwrap();
    let o = run(&["run", ds]);
    let w = warnings_of(&o);
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(
        w[0].contains(
            "no `infra` (cpu_headroom, memory_headroom, db_latency, queue_backlog), `security` ("
        ) && w[0].contains(
            "`ledger` (fee_capture, ledger_integrity) streams, so their gates were never evaluated"
        ),
        "{w:?}"
    );
    // The summary names them too, and --strict refuses the run.
    assert!(stdout(&o).contains("not evaluated (stream or column absent): "));
    assert_eq!(run(&["run", ds, "--strict"]).status.code(), Some(2));
    // A security stream present: no longer listed.
    std::fs::write(
        dir.join("security.csv"),
        "ts,kind\n2026-03-02T10:00:30Z,waf_block\n",
    )
    .unwrap();
    let w = warnings_of(&run(&["run", ds]));
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(!w[0].contains("`security`"), "{w:?}");
}

#[test]
fn the_bundled_dataset_gives_no_warning() {
    let o = run(&[
        "run",
        concat!(env!("CARGO_MANIFEST_DIR"), "/datasets/demo"),
        "--strict",
    ]);
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    assert_eq!(stderr(&o), "");
}
