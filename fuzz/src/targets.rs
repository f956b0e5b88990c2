//! The fuzz targets: each feeds one input to one reader or parser of rehearse and must
//! end in a value or an error for any input; a panic is a finding. Shared by the AFL++
//! harness (`fuzz/src/main.rs`) and the main crate's regression test, which replays the
//! corpus and every crasher (`tests/it/hostile.rs` includes this file).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use rehearse::source::read::REQUEST_COLUMNS;
use rehearse::source::{Encoding, OnError, open_table};

/// The targets, by name.
#[allow(dead_code)]
pub const TARGETS: [&str; 12] = [
    "csv",
    "ndjson",
    "parquet",
    "arrow",
    "segment",
    "dataset_toml",
    "policy",
    "scenario",
    "json_schema",
    "time",
    "pii",
    "csv_ranges",
];

/// A directory of this process for the files a reader needs.
fn scratch() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let base = if Path::new("/dev/shm").is_dir() {
            PathBuf::from("/dev/shm")
        } else {
            std::env::temp_dir()
        };
        let d = base.join(format!("rehearse-fuzz-{}", std::process::id()));
        std::fs::create_dir_all(&d).expect("a scratch directory");
        d
    })
}

fn file(name: &str, data: &[u8]) -> PathBuf {
    let p = scratch().join(name);
    std::fs::write(&p, data).expect("writes the input");
    p
}

fn read_table(name: &str, encoding: Encoding, data: &[u8]) {
    if data.is_empty() {
        return;
    }
    let p = file(name, data);
    for on_error in [OnError::Skip, OnError::Fail] {
        if let Ok(mut t) = open_table(&p, encoding, 64) {
            let _ = t.for_each_row(&REQUEST_COLUMNS, on_error, &mut |_| Ok(()));
        }
    }
}

/// A dataset directory holding `dataset.toml` and one stream file.
fn dataset(manifest: &[u8], stream: &str, data: &[u8]) -> PathBuf {
    let d = scratch().join("ds");
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("a dataset dir");
    std::fs::write(d.join("dataset.toml"), manifest).expect("writes");
    std::fs::write(d.join(stream), data).expect("writes");
    d
}

/// The CSV byte-range reader against the whole-file reader: the same rows and skips.
fn csv_ranges(data: &[u8]) {
    use rehearse::source::Table;
    use rehearse::source::csvfile::{CsvTable, csv_parts};
    if data.is_empty() {
        return;
    }
    let p = file("ranges.csv", data);
    let whole = CsvTable::open(&p)
        .and_then(|mut t| t.for_each_row(&REQUEST_COLUMNS, OnError::Skip, &mut |_| Ok(())));
    let Ok(Some(parts)) = csv_parts(&p, 3) else {
        return;
    };
    let mut rows = 0;
    let mut skipped = 0;
    for part in &parts {
        match CsvTable::open_part(&p, part)
            .and_then(|mut t| t.for_each_row(&REQUEST_COLUMNS, OnError::Skip, &mut |_| Ok(())))
        {
            Ok(s) => {
                rows += s.rows;
                skipped += s.skipped;
            }
            Err(_) => return,
        }
    }
    if let Ok(w) = whole {
        assert_eq!(
            (w.rows, w.skipped),
            (rows, skipped),
            "byte ranges read other rows than one reader"
        );
    }
}

/// Runs one input through a target.
pub fn run(target: &str, data: &[u8]) {
    let text = std::str::from_utf8(data).ok();
    match target {
        "csv" => read_table("requests.csv", Encoding::Csv, data),
        "csv_ranges" => csv_ranges(data),
        "ndjson" => read_table("requests.ndjson", Encoding::Ndjson, data),
        "parquet" => read_table("requests.parquet", Encoding::Parquet, data),
        "arrow" => read_table("requests.arrow", Encoding::Arrow, data),
        "segment" => {
            let d = dataset(b"start = \"2026-03-02T10:00:00Z\"\n", "funnel.ndjson", data);
            if let Ok(ds) = rehearse::source::dataset::DatasetDir::open(&d) {
                let _ = rehearse::analytics::AnalyticsData::load_dir(&ds, OnError::Skip);
            }
        }
        "dataset_toml" => {
            let d = dataset(
                data,
                "requests.csv",
                b"ts,endpoint,cohort,source,status,latency_ms\n",
            );
            let _ = rehearse::source::dataset::read_manifest(&d.join("dataset.toml"));
            let _ = rehearse::source::dataset::DatasetDir::open(&d);
        }
        "policy" => {
            if let Some(t) = text
                && let Ok(b) = rehearse::policy::PolicyBuilder::new().text(t, "fuzz.toml")
            {
                let _ = b.build();
            }
        }
        "scenario" => {
            let p = file("scenario.toml", data);
            let _ = rehearse::app::scenario::Scenario::load(&p);
        }
        "json_schema" => {
            // The schema, a NUL byte, then the payload.
            let (schema, payload) = match data.iter().position(|&b| b == 0) {
                Some(i) => (&data[..i], &data[i + 1..]),
                None => (data, &b"{}"[..]),
            };
            if let Ok(v) = serde_json::from_slice::<serde_json::Value>(schema)
                && let Ok(s) = rehearse::engine::schema::ProbeSchema::compile(&v)
            {
                let _ = s.check(&String::from_utf8_lossy(payload));
            }
        }
        "time" => {
            if let Some(t) = text {
                if let Some(ms) = rehearse::time::parse_rfc3339(t) {
                    let shown = rehearse::time::format_rfc3339(ms);
                    assert_eq!(rehearse::time::parse_rfc3339(&shown), Some(ms), "{t}");
                }
                let _ = rehearse::time::parse_ts_text(t);
                if let Some(d) = rehearse::time::parse_duration(t) {
                    let _ = rehearse::time::format_duration(d);
                }
            }
        }
        "pii" => {
            if let Some(t) = text {
                // Built once: its patterns are compiled on creation.
                static DET: OnceLock<rehearse::pii::PiiDetector> = OnceLock::new();
                let det = DET.get_or_init(rehearse::pii::PiiDetector::new);
                let found = det.find_all(t);
                assert_eq!(det.contains_pii(t), !found.is_empty(), "{t:?}");
                let red = rehearse::pii::redact_message(det, t);
                // The redaction holds nothing the detectors take for PII: neither a value
                // detected in the message nor one that masking its neighbours made (digits
                // of a longer run that become a card number once the run is masked).
                let again = det.find_all(&red);
                assert!(again.is_empty(), "{again:?} survive redaction: {red:?}");
                // Redacting again changes nothing.
                assert_eq!(rehearse::pii::redact_message(det, &red), red, "{t:?}");
            }
        }
        other => panic!("unknown target {other}; one of {TARGETS:?}"),
    }
}
