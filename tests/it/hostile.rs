//! Hostile and malformed input: CSV rows with more or fewer fields than the header (a
//! row error naming the line, or a counted skip, the same from the whole-file reader and
//! the byte-range reader), and inputs built to exhaust memory or time (a huge line, a
//! huge header, deep JSON nesting, a gzip bomb, a Parquet footer that lies), each of
//! which must end in a clear error within the bounds stated in docs/reliability.md.

use std::path::Path;
use std::process::{Command, Output, Stdio};

const T0_ISO: &str = "2026-03-02T10:00:00Z";
const T0: i64 = 1_772_445_600_000;
const REQ_HEADER: &str = "ts,endpoint,cohort,source,status,latency_ms\n";

fn rehearse(args: &[&str], envs: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_rehearse"));
    c.args(args).stdin(Stdio::null());
    for (k, v) in envs {
        c.env(k, v);
    }
    c.output().expect("the binary runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn manifest(dir: &Path) {
    std::fs::write(dir.join("dataset.toml"), format!("start = \"{T0_ISO}\"\n")).expect("writes");
}

/// 2,000 good request rows, with `bad` lines (1-based, the header is line 1) replaced.
fn requests(bad: &[(u64, &str)]) -> String {
    let mut s = String::from(REQ_HEADER);
    for i in 0..2_000u64 {
        let line = i + 2;
        if let Some((_, text)) = bad.iter().find(|(l, _)| *l == line) {
            s.push_str(text);
            s.push('\n');
            continue;
        }
        let ts = T0 + 1 + i as i64 * 2_000;
        let cohort = if i % 4 == 0 { "canary" } else { "baseline" };
        s.push_str(&format!(
            "{ts},/api/search,{cohort},real,200,{}.5\n",
            i % 90
        ));
    }
    s
}

/// Runs `rehearse run --json` over the dataset with the whole-file reader (1 thread)
/// and the byte-range reader (4 threads, every file split).
fn run_both(dir: &Path, on_error: &str) -> [(Option<i32>, String, String); 2] {
    ["1", "4"].map(|threads| {
        let o = rehearse(
            &[
                "run",
                dir.to_str().expect("utf-8"),
                "--json",
                "--on-error",
                on_error,
            ],
            &[
                ("RAYON_NUM_THREADS", threads),
                ("REHEARSE_CSV_SPLIT_BYTES", "1"),
            ],
        );
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr(&o),
        )
    })
}

#[test]
fn a_row_with_extra_fields_is_an_error_naming_its_line() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let ts = T0 + 5_000;
    let bad = format!("{ts},/api/search,canary,real,200,44.016,extra,fields");
    std::fs::write(dir.path().join("requests.csv"), requests(&[(1_234, &bad)])).expect("writes");
    manifest(dir.path());
    for (code, _, err) in run_both(dir.path(), "fail") {
        assert_eq!(code, Some(2), "{err}");
        assert!(err.contains("requests.csv: line 1234"), "{err}");
        assert!(
            err.contains("the row has 8 fields but the header has 6"),
            "{err}"
        );
    }
}

#[test]
fn a_row_with_missing_fields_is_an_error_naming_its_line() {
    let dir = tempfile::tempdir().expect("a temp dir");
    // The latency is missing (not empty): the row is short by one field.
    let bad = format!("{},/api/search,canary,real,200", T0 + 9_000);
    std::fs::write(dir.path().join("requests.csv"), requests(&[(1_500, &bad)])).expect("writes");
    manifest(dir.path());
    for (code, _, err) in run_both(dir.path(), "fail") {
        assert_eq!(code, Some(2), "{err}");
        assert!(err.contains("requests.csv: line 1500"), "{err}");
        assert!(
            err.contains("the row has 5 fields but the header has 6"),
            "{err}"
        );
    }
}

#[test]
fn ragged_rows_are_counted_skips_and_both_readers_agree() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let long = format!("{},/api/search,canary,real,200,1.5,x", T0 + 7_000);
    let short = format!("{},/api/search,canary", T0 + 8_000);
    // Quoted fields keep the file whole (no byte ranges): commas inside quotes do not
    // count, so that file's only ragged row is the unquoted one.
    let text = requests(&[(10, &long), (700, &short), (1_900, &long)]);
    std::fs::write(dir.path().join("requests.csv"), &text).expect("writes");
    manifest(dir.path());
    let [one, four] = run_both(dir.path(), "skip");
    assert_eq!(one.0, four.0, "{}{}", one.2, four.2);
    assert_eq!(
        one.1, four.1,
        "the byte-range reader reports what one reader does"
    );
    let v: serde_json::Value = serde_json::from_str(&one.1).expect("a JSON report");
    let input = &v["inputs"][0];
    assert_eq!(input["skipped"], 3, "{input}");
    assert_eq!(input["rows"], 2_000 - 3, "{input}");
    let first = input["first_skip"].as_str().expect("a first skip");
    assert!(
        first.contains("line 10") && first.contains("7 fields but the header has 6"),
        "{first}"
    );

    let quoted = text.replacen(
        &format!("{},/api/search,", T0 + 2 * 2_000 + 1),
        &format!("{},\"/api/search?a=1,2\",", T0 + 2 * 2_000 + 1),
        1,
    );
    assert_ne!(quoted, text, "the quoted row is in the file");
    std::fs::write(dir.path().join("requests.csv"), &quoted).expect("writes");
    let [one, four] = run_both(dir.path(), "skip");
    assert_eq!(one.1, four.1);
    let v: serde_json::Value = serde_json::from_str(&one.1).expect("a JSON report");
    assert_eq!(v["inputs"][0]["skipped"], 3, "{}", v["inputs"][0]);
}

#[test]
fn blank_lines_are_not_ragged_rows() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let text = requests(&[(50, ""), (51, "\r"), (1_000, "")]);
    std::fs::write(dir.path().join("requests.csv"), text).expect("writes");
    manifest(dir.path());
    for (code, out, err) in run_both(dir.path(), "fail") {
        assert!(code.is_some_and(|c| c != 2), "{err}");
        let v: serde_json::Value = serde_json::from_str(&out).expect("a JSON report");
        assert_eq!(v["inputs"][0]["rows"], 2_000 - 3);
    }
}

#[test]
fn analytics_csv_rows_with_extra_fields_name_their_line() {
    // The funnel and ledger streams go through the same CSV reader.
    let dir = tempfile::tempdir().expect("a temp dir");
    let d = dir.path().join("ds");
    let scenario = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/60-analytics-clean.toml");
    let o = rehearse(
        &[
            "generate",
            scenario.to_str().expect("utf-8"),
            "--out",
            d.to_str().expect("utf-8"),
        ],
        &[],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let ledger = d.join("ledger.csv");
    let text = std::fs::read_to_string(&ledger).expect("reads");
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    lines[4].push_str(",surplus");
    std::fs::write(&ledger, lines.join("\n") + "\n").expect("writes");
    let ds = d.to_str().expect("utf-8");
    let o = rehearse(&["funnel", ds], &[]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("ledger.csv: line 5") && err.contains("12 fields but the header has 11"),
        "{err}"
    );
    let o = rehearse(&["funnel", ds, "--json", "--on-error", "skip"], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let report = String::from_utf8_lossy(&o.stdout);
    assert!(report.contains("ledger.csv: line 5"), "{report}");
}
