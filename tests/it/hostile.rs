//! Hostile and malformed input: CSV rows with more or fewer fields than the header (a
//! row error naming the line, or a counted skip, the same from the whole-file reader and
//! the byte-range reader), and inputs built to exhaust memory or time (a huge line, a
//! huge header, deep JSON nesting, a gzip bomb, a Parquet footer or page header that
//! lies, an Arrow IPC message or compressed buffer that claims terabytes), each of
//! which must end in a clear error within the bounds stated in docs/reliability.md.
//! The fuzz corpus and every crasher the fuzzer found are replayed here through the
//! fuzz targets themselves (`fuzz/src/targets.rs`).

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

/// The peak resident memory any hostile input may drive the binary to (a debug build
/// reading a small valid dataset peaks near 20-40 MB; the readers' own bound is one
/// 16 MiB row plus their 1 MiB buffers). Stated in docs/reliability.md.
const MEMORY_BOUND_MB: u64 = 256;

/// Runs the binary and reports its exit status, stderr and peak resident set (MB),
/// measured by GNU time (`/usr/bin/time`, Debian package `time`) for that process alone:
/// the `wait4` of a child spawned from this test process would count this process's
/// own pages (Linux carries the memory high-water mark across the spawn's exec).
fn measured(args: &[&str], envs: &[(&str, &str)]) -> (Option<i32>, String, u64) {
    let time = Path::new("/usr/bin/time");
    assert!(time.exists(), "GNU time is needed: apt-get install time");
    let rss = tempfile::NamedTempFile::new().expect("a temp file");
    let mut c = Command::new(time);
    c.args(["-f", "%M", "-o"])
        .arg(rss.path())
        .arg(env!("CARGO_BIN_EXE_rehearse"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    for (k, v) in envs {
        c.env(k, v);
    }
    let o = c.output().expect("the binary runs");
    let kb: u64 = std::fs::read_to_string(rss.path())
        .expect("the measure")
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .next_back()
        .expect("a peak in kilobytes");
    let mb = kb / 1024;
    eprintln!("rehearse {}: peak {mb} MB", args.join(" "));
    (o.status.code(), stderr(&o), mb)
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write as _;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(bytes).expect("compresses");
    e.finish().expect("compresses")
}

#[test]
fn a_gigabyte_line_inflated_from_a_thousandfold_gzip_is_refused_within_the_bound() {
    // 1 GiB of one line from about 1 MiB of gzip (concatenated members, as log
    // rotation makes): the reader stops at the row bound, never holding the line.
    let dir = tempfile::tempdir().expect("a temp dir");
    let member = gzip(&vec![b'7'; 4 << 20]);
    let mut file = gzip(REQ_HEADER.as_bytes());
    for _ in 0..256 {
        file.extend_from_slice(&member);
    }
    assert!(file.len() < (4 << 20), "{} bytes of gzip", file.len());
    std::fs::write(dir.path().join("requests.csv.gz"), &file).expect("writes");
    manifest(dir.path());
    let (code, err, mb) = measured(&["run", dir.path().to_str().expect("utf-8")], &[]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("requests.csv.gz") && err.contains("the row on line 2 is longer than 16 MiB"),
        "{err}"
    );
    assert!(mb < MEMORY_BOUND_MB, "peak {mb} MB");
}

#[test]
fn an_overlong_line_is_refused_by_every_text_reader() {
    let dir = tempfile::tempdir().expect("a temp dir");
    manifest(dir.path());
    let long = "9".repeat((16 << 20) + 10);
    let csv = format!("{REQ_HEADER}{},/a,canary,real,200,1\n{long}\n", T0 + 1);
    let ndjson = format!(
        "{{\"ts\":{},\"endpoint\":\"/a\",\"cohort\":\"canary\",\"source\":\"real\",\"status\":200,\"latency_ms\":1}}\n{{\"endpoint\":\"{long}\"}}\n",
        T0 + 1
    );
    // A quoted CSV field is one row whatever line ends it holds: bounded as a whole.
    let quoted_lines = "x\n".repeat((8 << 20) + 10);
    let quoted = format!(
        "{REQ_HEADER}{},\"{quoted_lines}\",canary,real,200,1\n",
        T0 + 1
    );
    let d = dir.path().to_str().expect("utf-8");
    for (file, text, threads, line) in [
        ("requests.csv", &csv, "1", 3),
        ("requests.csv", &csv, "4", 3),
        ("requests.ndjson", &ndjson, "1", 2),
        ("requests.csv", &quoted, "1", 2),
    ] {
        for f in ["requests.csv", "requests.ndjson"] {
            let _ = std::fs::remove_file(dir.path().join(f));
        }
        std::fs::write(dir.path().join(file), text).expect("writes");
        let (code, err, mb) = measured(
            &["run", d, "--on-error", "skip"],
            &[
                ("RAYON_NUM_THREADS", threads),
                ("REHEARSE_CSV_SPLIT_BYTES", "1"),
            ],
        );
        assert_eq!(code, Some(2), "{file}: {err}");
        assert!(
            err.contains(file) && err.contains(&format!("the row on line {line} is longer")),
            "{file} ({threads} threads): {err}"
        );
        assert!(mb < MEMORY_BOUND_MB, "{file}: peak {mb} MB");
    }
}

#[test]
fn a_hundred_thousand_column_header_is_refused() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let mut header = REQ_HEADER.trim_end().to_string();
    for i in 0..100_000 {
        header.push_str(&format!(",c{i}"));
    }
    std::fs::write(
        dir.path().join("requests.csv"),
        format!("{header}\n{},/a,canary,real,200,1\n", T0 + 1),
    )
    .expect("writes");
    manifest(dir.path());
    let (code, err, mb) = measured(&["run", dir.path().to_str().expect("utf-8")], &[]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("requests.csv: the header has 100006 columns, more than the 10000"),
        "{err}"
    );
    assert!(mb < MEMORY_BOUND_MB, "peak {mb} MB");
}

#[test]
fn ten_thousand_deep_json_is_a_row_error() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let good = |i: i64| {
        format!(
            "{{\"ts\":{},\"endpoint\":\"/a\",\"cohort\":\"canary\",\"source\":\"real\",\"status\":200,\"latency_ms\":1}}\n",
            T0 + 1 + i
        )
    };
    let mut text = String::new();
    for i in 0..50 {
        text.push_str(&good(i));
    }
    // Deep in a key the stream ignores (skipped without recursion: the row is read), and
    // deep in one it reads (a row error that does not echo the whole value).
    text.push_str(&format!(
        "{{\"extra\":{deep},\"ts\":{},\"endpoint\":\"/a\",\"cohort\":\"canary\",\"source\":\"real\",\"status\":200,\"latency_ms\":1}}\n",
        T0 + 60
    ));
    text.push_str(&format!(
        "{{\"ts\":{},\"endpoint\":\"/a\",\"cohort\":\"canary\",\"source\":\"real\",\"status\":200,\"latency_ms\":{deep}}}\n",
        T0 + 61
    ));
    std::fs::write(dir.path().join("requests.ndjson"), text).expect("writes");
    manifest(dir.path());
    let d = dir.path().to_str().expect("utf-8");
    let (code, err, mb) = measured(&["run", d], &[]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("requests.ndjson: line 52, column `latency_ms`"),
        "{err}"
    );
    assert!(
        err.len() < 2_000,
        "the error does not echo the value: {err}"
    );
    assert!(mb < MEMORY_BOUND_MB, "peak {mb} MB");
    let o = rehearse(&["run", d, "--json", "--on-error", "skip"], &[]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("a JSON report");
    assert_eq!(v["inputs"][0]["skipped"], 1, "{}", stderr(&o));
    assert_eq!(v["inputs"][0]["rows"], 51);
}

/// A small valid dataset in `format`, for the footer tests.
fn columnar(dir: &Path, format: &str) -> std::path::PathBuf {
    let scenario = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/12-low-traffic.toml");
    let o = rehearse(
        &[
            "generate",
            scenario.to_str().expect("utf-8"),
            "--out",
            dir.to_str().expect("utf-8"),
            "--format",
            format,
        ],
        &[],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    dir.join(format!("requests.{format}"))
}

#[test]
fn a_parquet_footer_that_lies_about_its_length_is_a_clear_error() {
    let tmp = tempfile::tempdir().expect("a temp dir");
    let ds = tmp.path().join("ds");
    let file = columnar(&ds, "parquet");
    let mut bytes = std::fs::read(&file).expect("reads");
    let n = bytes.len();
    // The footer: metadata length (4 bytes, little endian), then `PAR1`.
    for claim in [u32::MAX, (n as u32) * 4, 0] {
        bytes[n - 8..n - 4].copy_from_slice(&claim.to_le_bytes());
        std::fs::write(&file, &bytes).expect("writes");
        let (code, err, mb) = measured(&["run", ds.to_str().expect("utf-8")], &[]);
        assert_eq!(code, Some(2), "claim {claim}: {err}");
        assert!(err.contains("requests.parquet"), "{err}");
        assert!(mb < MEMORY_BOUND_MB, "claim {claim}: peak {mb} MB");
    }
}

/// A seeded xorshift.
fn next(x: &mut u64) -> u64 {
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    *x
}

#[test]
fn corrupted_parquet_and_arrow_footers_never_panic() {
    // Seeded byte mutations of the footer (the metadata every reader trusts first):
    // each read ends in rows or a clear error naming the file, in the library, never a
    // panic.
    use rehearse::source::{ColumnSpec, Encoding, OnError, open_table};
    let columns = [
        ColumnSpec::required("ts"),
        ColumnSpec::required("endpoint"),
        ColumnSpec::required("status"),
    ];
    let tmp = tempfile::tempdir().expect("a temp dir");
    let mut seed = 0x00C0_FFEE_u64;
    for (format, encoding) in [("parquet", Encoding::Parquet), ("arrow", Encoding::Arrow)] {
        let file = columnar(&tmp.path().join(format), format);
        let good = std::fs::read(&file).expect("reads");
        let footer = good.len().min(4_096);
        let (mut errors, mut reads) = (0, 0);
        for _ in 0..300 {
            let mut bytes = good.clone();
            for _ in 0..1 + next(&mut seed) % 4 {
                let at = good.len() - 1 - (next(&mut seed) as usize % footer);
                bytes[at] = next(&mut seed) as u8;
            }
            std::fs::write(&file, &bytes).expect("writes");
            let result = std::panic::catch_unwind(|| {
                let mut t = open_table(&file, encoding, 1024)?;
                t.for_each_row(&columns, OnError::Skip, &mut |_| Ok(()))
            });
            match result {
                Ok(Ok(_)) => reads += 1,
                Ok(Err(e)) => {
                    errors += 1;
                    assert!(e.to_string().contains(format), "{e}");
                }
                Err(_) => panic!("a corrupted {format} footer panicked the reader"),
            }
        }
        assert!(errors > 0, "{format}: {reads} reads, no error");
    }
}

/// The fuzz targets (`fuzz/src/targets.rs`), shared with the AFL++ harness.
#[path = "../../fuzz/src/targets.rs"]
mod fuzz_targets;

#[test]
fn fuzz_corpus_and_crashers_replay_without_panics() {
    // Every seed of `fuzz/corpus/<target>/` and every crasher AFL++ found, kept in
    // `fuzz/regressions/<target>/`, through its target: each must end without a panic.
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut ran = 0;
    for target in fuzz_targets::TARGETS {
        for dir in ["corpus", "regressions"] {
            let Ok(entries) = std::fs::read_dir(root.join(dir).join(target)) else {
                continue;
            };
            let mut files: Vec<_> = entries.map(|e| e.expect("an entry").path()).collect();
            files.sort();
            for f in files {
                let data = std::fs::read(&f).expect("reads");
                let r = std::panic::catch_unwind(|| fuzz_targets::run(target, &data));
                assert!(r.is_ok(), "{target}: {} panics", f.display());
                ran += 1;
            }
        }
    }
    assert!(ran >= fuzz_targets::TARGETS.len(), "{ran} inputs");
}

#[test]
fn an_arrow_footer_claiming_gigabyte_blocks_is_refused_within_the_bound() {
    // Found by fuzzing: blocks claiming gigabytes made the IPC reader allocate them
    // (5 GB peak for an 11 KB file) before reading.
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions/arrow");
    for name in ["alloc-0.arrow", "alloc-1.arrow"] {
        let dir = tempfile::tempdir().expect("a temp dir");
        std::fs::copy(fuzz.join(name), dir.path().join("requests.arrow")).expect("copies");
        manifest(dir.path());
        let (code, err, mb) = measured(&["run", dir.path().to_str().expect("utf-8")], &[]);
        assert_eq!(code, Some(2), "{name}: {err}");
        assert!(err.contains("requests.arrow"), "{name}: {err}");
        assert!(mb < MEMORY_BOUND_MB, "{name}: peak {mb} MB");
    }
}

#[test]
fn a_parquet_page_header_claiming_a_huge_dictionary_is_refused_within_the_bound() {
    // Found by fuzzing (`fuzz/findings` then, now `fuzz/regressions/parquet`): a 3.8 KB
    // file whose first page header claims a dictionary of ~2^48 values made the Parquet
    // library allocate 2.9 GB before decoding a byte.
    let bomb = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/regressions/parquet/page-size-bomb.parquet");
    let dir = tempfile::tempdir().expect("a temp dir");
    std::fs::copy(bomb, dir.path().join("requests.parquet")).expect("copies");
    manifest(dir.path());
    let (code, err, mb) = measured(&["run", dir.path().to_str().expect("utf-8")], &[]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains(
            "requests.parquet: the Parquet file is corrupt: row group 0, column `ts`: page 0 \
             at offset 4: the page header claims num_values = 498676139841701, past a 32-bit \
             integer"
        ),
        "{err}"
    );
    assert!(mb < MEMORY_BOUND_MB, "peak {mb} MB");
}

/// Where the header of the dictionary page (`dictionary`) or the first data page of
/// `column` (row group 0) of a Parquet file keeps its page type, its uncompressed size
/// and the `num_values` of its sub-header: (offset, length) of each varint, as written
/// by arrow-rs (fields 1, 2, 3, then the data page header, field 5, or the dictionary
/// page header, field 7), and the group's rows.
fn page_header(file: &Path, column: &str, dictionary: bool) -> ([(usize, usize); 3], i64) {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    let bytes = std::fs::read(file).expect("reads");
    let r = SerializedFileReader::new(std::fs::File::open(file).expect("opens")).expect("parquet");
    let group = r.metadata().row_group(0);
    let chunk = group
        .columns()
        .iter()
        .find(|c| c.column_path().string() == column)
        .expect("the column");
    let mut at = if dictionary {
        chunk.dictionary_page_offset().expect("a dictionary page")
    } else {
        chunk.data_page_offset()
    } as usize;
    let varint = |at: &mut usize| {
        let start = *at;
        while bytes[*at] & 0x80 != 0 {
            *at += 1;
        }
        *at += 1;
        (start, *at - start)
    };
    // 0x15: field delta 1, type i32.
    assert_eq!(bytes[at], 0x15, "the page type");
    at += 1;
    let kind = varint(&mut at);
    assert_eq!(bytes[at], 0x15, "the uncompressed size");
    at += 1;
    let uncompressed = varint(&mut at);
    assert_eq!(bytes[at], 0x15, "the compressed size");
    at += 1;
    varint(&mut at);
    // The sub-header (0x2c: field 5, 0x4c: field 7, both structs), num_values first.
    assert!([0x2c, 0x4c].contains(&bytes[at]), "{:x}", bytes[at]);
    assert_eq!(bytes[at + 1], 0x15, "num_values");
    at += 2;
    let values = varint(&mut at);
    ([kind, uncompressed, values], group.num_rows())
}

/// The largest value a zigzag varint of `len` bytes holds, written over `bytes[at..]`.
fn patch_varint(bytes: &mut [u8], (at, len): (usize, usize)) -> i64 {
    for i in 0..len {
        // The low bit (the zigzag sign) clear, every other value bit set.
        let low = if i == 0 { 0x7e } else { 0x7f };
        bytes[at + i] = if i + 1 < len { low | 0x80 } else { low };
    }
    // All ones but the zigzag sign bit: 2^(7 len - 1) - 1.
    (1i64 << (7 * len - 1)) - 1
}

#[test]
fn parquet_page_headers_that_lie_are_refused_naming_the_page_and_value() {
    let tmp = tempfile::tempdir().expect("a temp dir");
    let ds = tmp.path().join("ds");
    let file = columnar(&ds, "parquet");
    let good = std::fs::read(&file).expect("reads");
    let read = |bytes: &[u8]| {
        std::fs::write(&file, bytes).expect("writes");
        let (code, err, mb) = measured(&["run", ds.to_str().expect("utf-8")], &[]);
        assert!(mb < MEMORY_BOUND_MB, "peak {mb} MB");
        (code, err)
    };
    // The untouched file reads.
    let (code, err) = read(&good);
    assert!(matches!(code, Some(0 | 3 | 4)), "{err}");

    // A data page of the flat `ts` column claiming more values than its row group has
    // rows.
    let ([_, _, values], rows) = page_header(&file, "ts", false);
    let mut bytes = good.clone();
    let claim = patch_varint(&mut bytes, values);
    assert!(claim > rows, "{claim} values fit in {rows} rows");
    let (code, err) = read(&bytes);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("requests.parquet: the Parquet file is corrupt: row group 0, column `ts`: page 1 at offset"), "{err}");
    assert!(
        err.contains(&format!(
            "the data page claims {claim} values in a row group of {rows} rows"
        )),
        "{err}"
    );

    // A dictionary page (the `endpoint` column's) claiming more values than
    // its bytes hold (a byte array takes at least its 4-byte length).
    let ([kind, _, values], _) = page_header(&file, "endpoint", true);
    assert_eq!(
        good[kind.0], 4,
        "a dictionary page first (type 2, zigzag 4)"
    );
    let mut bytes = good.clone();
    let claim = patch_varint(&mut bytes, values);
    let (code, err) = read(&bytes);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("column `endpoint`: page 0 at offset"), "{err}");
    assert!(err.contains("(at most "), "{err}");
    assert!(
        err.contains(&format!("the dictionary page claims {claim} values in")),
        "{err}"
    );
}

/// The generated Arrow dataset's batches rewritten as an IPC stream (LZ4-compressed
/// when `lz4`) at the same path; returns the stream's bytes.
fn arrow_stream(file: &Path, lz4: bool) -> Vec<u8> {
    use arrow_ipc::writer::{IpcWriteOptions, StreamWriter};
    let reader =
        arrow_ipc::reader::FileReader::try_new(std::fs::File::open(file).expect("opens"), None)
            .expect("an IPC file");
    let schema = reader.schema();
    let batches: Vec<_> = reader.map(|b| b.expect("a batch")).collect();
    let mut options = IpcWriteOptions::default();
    if lz4 {
        options = options
            .try_with_compression(Some(arrow_ipc::CompressionType::LZ4_FRAME))
            .expect("lz4");
    }
    let mut out = Vec::new();
    let mut w = StreamWriter::try_new_with_options(&mut out, &schema, options).expect("a writer");
    for b in &batches {
        w.write(b).expect("writes");
    }
    w.finish().expect("finishes");
    drop(w);
    std::fs::write(file, &out).expect("writes");
    out
}

/// The messages of an IPC stream: (offset, metadata start, metadata length).
fn stream_messages(bytes: &[u8]) -> Vec<(usize, usize, usize)> {
    let mut out = Vec::new();
    let mut at = 0;
    while at + 8 <= bytes.len() {
        assert_eq!(bytes[at..at + 4], [0xff; 4], "a continuation marker");
        let len = i32::from_le_bytes(bytes[at + 4..at + 8].try_into().expect("4 bytes")) as usize;
        if len == 0 {
            break;
        }
        let m = arrow_ipc::root_as_message(&bytes[at + 8..at + 8 + len]).expect("a message");
        out.push((at, at + 8, len));
        at += 8 + len + m.bodyLength() as usize;
    }
    out
}

#[test]
fn an_arrow_stream_message_claiming_a_huge_body_is_refused_within_the_bound() {
    let tmp = tempfile::tempdir().expect("a temp dir");
    let ds = tmp.path().join("ds");
    let file = columnar(&ds, "arrow");
    let good = arrow_stream(&file, false);
    let (code, err, _) = measured(&["run", ds.to_str().expect("utf-8")], &[]);
    assert!(matches!(code, Some(0 | 3 | 4)), "the stream reads: {err}");
    // The first record batch's body length (an i64 in its metadata) set to 1 TiB.
    let &(at, meta, len) = stream_messages(&good).get(1).expect("a record batch");
    let body = arrow_ipc::root_as_message(&good[meta..meta + len])
        .expect("a message")
        .bodyLength();
    let mut bytes = good.clone();
    let field = bytes[meta..meta + len]
        .windows(8)
        .position(|w| w == body.to_le_bytes())
        .expect("the body length in the metadata")
        + meta;
    bytes[field..field + 8].copy_from_slice(&(1i64 << 40).to_le_bytes());
    std::fs::write(&file, &bytes).expect("writes");
    let (code, err, mb) = measured(&["run", ds.to_str().expect("utf-8")], &[]);
    assert_eq!(code, Some(2), "{err}");
    let left = good.len() - meta - len;
    assert!(
        err.contains(&format!(
            "requests.arrow: the Arrow IPC data is corrupt: message 1 at offset {at}: it claims a body of 1099511627776 bytes, but {left} bytes of the file follow"
        )),
        "{err}"
    );
    assert!(mb < MEMORY_BOUND_MB, "peak {mb} MB");
    // A metadata length past the end of the file.
    let mut bytes = good.clone();
    bytes[at + 4..at + 8].copy_from_slice(&i32::MAX.to_le_bytes());
    std::fs::write(&file, &bytes).expect("writes");
    let (code, err, mb) = measured(&["run", ds.to_str().expect("utf-8")], &[]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains(&format!(
            "message 1 at offset {at}: it claims 2147483647 bytes of metadata, but"
        )),
        "{err}"
    );
    assert!(mb < MEMORY_BOUND_MB, "peak {mb} MB");
}

#[test]
fn a_compressed_arrow_buffer_claiming_a_terabyte_is_refused_within_the_bound() {
    // The IPC reader reserves a compressed buffer's claimed uncompressed length (its
    // first 8 bytes) before inflating it.
    let tmp = tempfile::tempdir().expect("a temp dir");
    let ds = tmp.path().join("ds");
    let file = columnar(&ds, "arrow");
    let good = arrow_stream(&file, true);
    let (code, err, _) = measured(&["run", ds.to_str().expect("utf-8")], &[]);
    assert!(
        matches!(code, Some(0 | 3 | 4)),
        "the compressed stream reads: {err}"
    );
    let &(at, meta, len) = stream_messages(&good).get(1).expect("a record batch");
    let m = arrow_ipc::root_as_message(&good[meta..meta + len]).expect("a message");
    let batch = m.header_as_record_batch().expect("a record batch");
    let (i, b) = batch
        .buffers()
        .expect("buffers")
        .iter()
        .enumerate()
        .find(|(_, b)| b.length() >= 8)
        .expect("a compressed buffer");
    let prefix = meta + len + b.offset() as usize;
    let mut bytes = good.clone();
    bytes[prefix..prefix + 8].copy_from_slice(&(1i64 << 40).to_le_bytes());
    std::fs::write(&file, &bytes).expect("writes");
    let (code, err, mb) = measured(&["run", ds.to_str().expect("utf-8")], &[]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains(&format!(
            "requests.arrow: the Arrow IPC data is corrupt: message 1 at offset {at}: compressed buffer {i} claims 1099511627776 bytes uncompressed, more than the 1073741824 bytes (1 GiB)"
        )),
        "{err}"
    );
    assert!(mb < MEMORY_BOUND_MB, "peak {mb} MB");
}

/// Rewrites the Parquet file at `file` (every batch of it) with `props`.
fn rewrite_parquet(file: &Path, props: parquet::file::properties::WriterProperties) {
    use arrow_array::RecordBatchReader as _;
    use parquet::arrow::ArrowWriter;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let reader =
        ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(file).expect("opens"))
            .expect("a Parquet file")
            .build()
            .expect("a reader");
    let schema = reader.schema();
    let batches: Vec<_> = reader.map(|b| b.expect("a batch")).collect();
    let mut out = Vec::new();
    let mut w = ArrowWriter::try_new(&mut out, schema, Some(props)).expect("a writer");
    for b in &batches {
        w.write(b).expect("writes");
    }
    w.close().expect("closes");
    std::fs::write(file, &out).expect("writes");
}

/// The codec of every column chunk of a Parquet file, and whether any of its pages is
/// a v2 data page.
fn parquet_codecs(file: &Path) -> (Vec<parquet::basic::Compression>, bool) {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    let r = SerializedFileReader::new(std::fs::File::open(file).expect("opens")).expect("parquet");
    let mut codecs = Vec::new();
    let mut v2 = false;
    for g in 0..r.num_row_groups() {
        let group = r.get_row_group(g).expect("a row group");
        for c in 0..group.num_columns() {
            codecs.push(group.metadata().column(c).compression());
            for page in group.get_column_page_reader(c).expect("pages") {
                v2 |= page.expect("a page").page_type() == parquet::basic::PageType::DATA_PAGE_V2;
            }
        }
    }
    codecs.dedup();
    (codecs, v2)
}

#[test]
fn gzip_and_lz4_parquet_files_read_as_their_snappy_twin() {
    use parquet::basic::{Compression, GzipLevel};
    use parquet::file::properties::{WriterProperties, WriterVersion};
    // A rollout the 5xx gate rolls back, generated in Snappy; the same rows rewritten
    // in GZIP (v1 and v2 data pages: v2 keeps its levels uncompressed ahead of the
    // data) and in LZ4 (the Hadoop framing parquet-rs writes) must read to the same
    // report and exit status.
    let tmp = tempfile::tempdir().expect("a temp dir");
    let ds = tmp.path().join("ds");
    let scenario = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/02-5xx-sustained.toml");
    let o = rehearse(
        &[
            "generate",
            scenario.to_str().expect("utf-8"),
            "--out",
            ds.to_str().expect("utf-8"),
            "--format",
            "parquet",
        ],
        &[],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let file = ds.join("requests.parquet");
    let run = || {
        let o = rehearse(&["run", ds.to_str().expect("utf-8"), "--json"], &[]);
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr(&o),
        )
    };
    assert_eq!(parquet_codecs(&file).0, [Compression::SNAPPY]);
    let (code, snappy, err) = run();
    assert_eq!(code, Some(4), "{err}");
    assert!(snappy.contains("\"outcome\": \"rollback\""), "{snappy}");
    let gzip = Compression::GZIP(GzipLevel::default());
    for (codec, version) in [
        (gzip, WriterVersion::PARQUET_1_0),
        (gzip, WriterVersion::PARQUET_2_0),
        (Compression::LZ4, WriterVersion::PARQUET_1_0),
    ] {
        let props = WriterProperties::builder()
            .set_compression(codec)
            .set_writer_version(version)
            .set_max_row_group_row_count(Some(100_000))
            .build();
        rewrite_parquet(&file, props);
        let (codecs, v2) = parquet_codecs(&file);
        assert_eq!(codecs, [codec]);
        assert_eq!(
            v2,
            version == WriterVersion::PARQUET_2_0,
            "{codec:?} {version:?}"
        );
        let (code, report, err) = run();
        assert_eq!(code, Some(4), "{codec:?} {version:?}: {err}");
        assert_eq!(report, snappy, "{codec:?} {version:?}");
    }
}

/// A requests dataset in `dir` of `rows` rows whose latencies are random (so its
/// `latency_ms` column chunk, one plain data page, hardly compresses), written with
/// `codec`; returns the file, and the offsets of the page's `uncompressed_page_size`
/// varint (start, length) and of its body (start, length).
fn random_latency_parquet(
    dir: &Path,
    rows: usize,
    codec: parquet::basic::Compression,
) -> (std::path::PathBuf, (usize, usize), (usize, usize)) {
    use arrow_array::{
        Float64Array, Int32Array, RecordBatch, StringArray, TimestampMillisecondArray,
    };
    use parquet::arrow::ArrowWriter;
    use parquet::file::properties::WriterProperties;
    use std::sync::Arc;
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let ts = TimestampMillisecondArray::from_iter_values((0..rows as i64).map(|i| T0 + 1 + i * 10))
        .with_timezone("UTC");
    let cohort = StringArray::from_iter_values(
        (0..rows).map(|i| if i % 4 == 0 { "canary" } else { "baseline" }),
    );
    let latency = Float64Array::from_iter_values(
        (0..rows).map(|_| (next(&mut x) >> 11) as f64 / (1u64 << 53) as f64 * 900.0),
    );
    let batch = RecordBatch::try_from_iter([
        ("ts", Arc::new(ts) as arrow_array::ArrayRef),
        (
            "endpoint",
            Arc::new(StringArray::from_iter_values(
                (0..rows).map(|_| "/api/search"),
            )),
        ),
        ("cohort", Arc::new(cohort)),
        (
            "source",
            Arc::new(StringArray::from_iter_values((0..rows).map(|_| "real"))),
        ),
        (
            "status",
            Arc::new(Int32Array::from_iter_values((0..rows).map(|_| 200))),
        ),
        ("latency_ms", Arc::new(latency)),
    ])
    .expect("a batch");
    let props = WriterProperties::builder()
        .set_compression(codec)
        .set_dictionary_enabled(false)
        .set_data_page_size_limit(64 << 20)
        .set_data_page_row_count_limit(usize::MAX)
        .set_max_row_group_row_count(Some(rows))
        .build();
    let file = dir.join("requests.parquet");
    let mut w = ArrowWriter::try_new(
        std::fs::File::create(&file).expect("creates"),
        batch.schema(),
        Some(props),
    )
    .expect("a writer");
    w.write(&batch).expect("writes");
    w.close().expect("closes");
    manifest(dir);

    let (size, body) = plain_page(&file, "latency_ms", codec);
    (file, size, body)
}

/// The one data page of `column` (row group 0, no dictionary page) of a Parquet file
/// written with `codec`: the offsets of its `uncompressed_page_size` varint (start,
/// length) and of its body (start, length).
fn plain_page(
    file: &Path,
    column: &str,
    codec: parquet::basic::Compression,
) -> ((usize, usize), (usize, usize)) {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    let bytes = std::fs::read(file).expect("reads");
    let r = SerializedFileReader::new(std::fs::File::open(file).expect("opens")).expect("parquet");
    let chunk = r
        .metadata()
        .row_group(0)
        .columns()
        .iter()
        .find(|c| c.column_path().string() == column)
        .expect("the column")
        .clone();
    assert_eq!(chunk.compression(), codec);
    assert!(
        chunk.dictionary_page_offset().is_none(),
        "no dictionary page"
    );
    let start = chunk.data_page_offset() as usize;
    let end = start + chunk.compressed_size() as usize;
    // The page header's first fields: type, uncompressed size, compressed size (0x15:
    // field delta 1, an i32 each).
    let mut at = start;
    let mut varint = || {
        assert_eq!(bytes[at], 0x15, "an i32 field");
        at += 1;
        let from = at;
        let mut v = 0u64;
        while bytes[at] & 0x80 != 0 {
            v |= u64::from(bytes[at] & 0x7f) << (7 * (at - from));
            at += 1;
        }
        v |= u64::from(bytes[at]) << (7 * (at - from));
        at += 1;
        ((from, at - from), (v >> 1) as usize)
    };
    let (_, kind) = varint();
    assert_eq!(kind, 0, "a v1 data page");
    let (uncompressed, _) = varint();
    let (_, compressed) = varint();
    // One page: its body ends the chunk.
    (uncompressed, (end - compressed, compressed))
}

/// Writes `value` as a zigzag varint of exactly `len` bytes (padded with continuation
/// bytes, which Thrift's compact decoders read as the same value) over `bytes[at..]`.
fn write_varint(bytes: &mut [u8], (at, len): (usize, usize), value: i64) {
    let mut z = ((value << 1) ^ (value >> 63)) as u64;
    for i in 0..len {
        let b = (z & 0x7f) as u8;
        z >>= 7;
        bytes[at + i] = if i + 1 < len { b | 0x80 } else { b };
    }
    assert_eq!(z, 0, "{value} fits in {len} bytes");
}

/// Replaces the `latency_ms` page of a [`random_latency_parquet`] file by `bomb` (which
/// must be exactly the page body's length) claiming 1 KiB uncompressed; checks that the
/// untouched file reads first.
fn plant_page_bomb(
    ds: &Path,
    file: &Path,
    size: (usize, usize),
    bomb: &[u8],
    (body, len): (usize, usize),
) {
    let (code, err, _) = measured(&["run", ds.to_str().expect("utf-8")], &[]);
    assert!(
        matches!(code, Some(0 | 3 | 4)),
        "the untouched file reads: {err}"
    );
    assert_eq!(bomb.len(), len, "the bomb fills the page body exactly");
    let mut bytes = std::fs::read(file).expect("reads");
    write_varint(&mut bytes, size, 1024);
    bytes[body..body + len].copy_from_slice(bomb);
    std::fs::write(file, &bytes).expect("writes");
}

/// GZIP data of exactly `len` bytes inflating to `members` x 4 MiB of zeros (gzip
/// members of about 4 KB each), padded with empty members whose comments (a gzip
/// header field of up to 64 KiB in flate2) fill the rest.
fn gzip_bomb(len: usize, members: usize) -> Vec<u8> {
    let member = gzip(&vec![0; 4 << 20]);
    let mut bomb: Vec<u8> = (0..members).flat_map(|_| member.iter().copied()).collect();
    let empty = |comment: usize| {
        flate2::GzBuilder::new()
            .comment(vec![b'x'; comment])
            .write(Vec::new(), flate2::Compression::best())
            .finish()
            .expect("compresses")
    };
    let base = empty(0).len();
    let left = len
        .checked_sub(bomb.len())
        .expect("the page holds the bomb");
    let pads = left.div_ceil(base + 60_000);
    let comments = left - pads * base;
    for m in 0..pads {
        let extra = usize::from(m < comments % pads);
        bomb.extend(empty(comments / pads + extra));
    }
    bomb
}

/// Runs the dataset whose `file` has a page bomb in `column` (planted by
/// [`plant_page_bomb`] at `size`) and checks the refusal names the page and says its
/// `data` ("GZIP data", "LZ4 frame data") inflates past the claim, within `bound_mb`.
fn assert_bomb_refused(
    ds: &Path,
    file: &str,
    column: &str,
    size: (usize, usize),
    data: &str,
    bound_mb: u64,
) {
    let (code, err, mb) = measured(&["run", ds.to_str().expect("utf-8")], &[]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains(&format!(
            "{file}: the Parquet file is corrupt: row group 0, column `{column}`: page 0 at offset {}: the page header claims 1024 bytes uncompressed, but its {data} inflates past that (a decompression bomb?)",
            size.0 - 3
        )),
        "{err}"
    );
    assert!(mb < bound_mb, "peak {mb} MB");
}

#[test]
fn a_gzip_parquet_page_inflating_to_a_gigabyte_is_refused_within_the_bound() {
    // The Parquet library inflates a GZIP page to its end whatever its header claims:
    // a page claiming 1 KiB that holds 1 GiB of zeros (256 gzip members of 4 MiB, about
    // 1 MiB in all) would make it allocate the gigabyte.
    let tmp = tempfile::tempdir().expect("a temp dir");
    let ds = tmp.path().join("ds");
    std::fs::create_dir(&ds).expect("a dir");
    let codec = parquet::basic::Compression::GZIP(Default::default());
    let (file, size, body) = random_latency_parquet(&ds, 200_000, codec);
    let bomb = gzip_bomb(body.1, 256);
    plant_page_bomb(&ds, &file, size, &bomb, body);
    assert_bomb_refused(
        &ds,
        "requests.parquet",
        "latency_ms",
        size,
        "GZIP data",
        MEMORY_BOUND_MB,
    );
}

#[test]
fn an_lz4_frame_parquet_page_inflating_to_a_gigabyte_is_refused_within_the_bound() {
    // For the deprecated LZ4 codec the library tries the Hadoop framing, then reads the
    // page as an LZ4 frame to its end: a page claiming 1 KiB holding one frame of 256
    // blocks of 4 MiB of zeros (about 4 MiB) would make it allocate the gigabyte.
    use lz4_flex::frame::{BlockSize, FrameEncoder, FrameInfo};
    use std::io::Write as _;
    let tmp = tempfile::tempdir().expect("a temp dir");
    let ds = tmp.path().join("ds");
    std::fs::create_dir(&ds).expect("a dir");
    let (file, size, body) = random_latency_parquet(&ds, 640_000, parquet::basic::Compression::LZ4);
    // One frame of one 4 MiB block: its 7-byte header, the block (a 4-byte length and
    // the data), and the 4-byte end mark.
    let mut e =
        FrameEncoder::with_frame_info(FrameInfo::new().block_size(BlockSize::Max4MB), Vec::new());
    e.write_all(&vec![0; 4 << 20]).expect("compresses");
    let one = e.finish().expect("compresses");
    let (header, block) = (&one[..7], &one[7..one.len() - 4]);
    let mut bomb = header.to_vec();
    for _ in 0..256 {
        bomb.extend(block);
    }
    // Padded to the body's length by uncompressed blocks (length with the high bit set).
    let mut left = body
        .1
        .checked_sub(bomb.len() + 4)
        .expect("the page holds the bomb");
    while left > 0 {
        assert!(left >= 4, "room for a block length");
        let k = (left - 4).min(4 << 20);
        bomb.extend((0x8000_0000u32 | k as u32).to_le_bytes());
        bomb.extend(vec![b'x'; k]);
        left -= 4 + k;
    }
    bomb.extend([0; 4]);
    plant_page_bomb(&ds, &file, size, &bomb, body);
    assert_bomb_refused(
        &ds,
        "requests.parquet",
        "latency_ms",
        size,
        "LZ4 frame data",
        MEMORY_BOUND_MB,
    );
}

#[test]
fn a_brotli_parquet_file_is_refused_before_a_page_is_inflated() {
    // Brotli is not compiled into rehearse's Parquet library: a GZIP file whose footer
    // says Brotli instead is refused when the library makes the codec, before any page
    // is read, and the page checks pass its chunks (they skip other codecs' pages).
    use parquet::basic::{BrotliLevel, Compression, GzipLevel};
    use parquet::file::metadata::ParquetMetaDataWriter;
    use parquet::file::properties::WriterProperties;
    use parquet::file::reader::{FileReader, SerializedFileReader};
    let tmp = tempfile::tempdir().expect("a temp dir");
    let ds = tmp.path().join("ds");
    let file = columnar(&ds, "parquet");
    let props = WriterProperties::builder()
        .set_compression(Compression::GZIP(GzipLevel::default()))
        .build();
    rewrite_parquet(&file, props);
    let (code, err, _) = measured(&["run", ds.to_str().expect("utf-8")], &[]);
    assert!(
        matches!(code, Some(0 | 3 | 4)),
        "the GZIP file reads: {err}"
    );
    let bytes = std::fs::read(&file).expect("reads");
    let n = bytes.len();
    let footer = u32::from_le_bytes(bytes[n - 8..n - 4].try_into().expect("4 bytes")) as usize;
    let meta = SerializedFileReader::new(std::fs::File::open(&file).expect("opens"))
        .expect("parquet")
        .metadata()
        .clone();
    let mut builder = meta.into_builder();
    let groups = builder
        .take_row_groups()
        .into_iter()
        .map(|g| {
            let columns = g
                .columns()
                .iter()
                .map(|c| {
                    c.clone()
                        .into_builder()
                        .set_compression(Compression::BROTLI(BrotliLevel::default()))
                        .build()
                        .expect("a chunk")
                })
                .collect();
            g.into_builder()
                .set_column_metadata(columns)
                .build()
                .expect("a row group")
        })
        .collect();
    let meta = builder.set_row_groups(groups).build();
    let mut out = bytes[..n - 8 - footer].to_vec();
    ParquetMetaDataWriter::new(&mut out, &meta)
        .finish()
        .expect("a footer");
    std::fs::write(&file, &out).expect("writes");
    let (code, err, mb) = measured(&["run", ds.to_str().expect("utf-8")], &[]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("requests.parquet: cannot decode a batch after row 0: ")
            && err.contains("Disabled feature at compile time: brotli"),
        "{err}"
    );
    assert!(mb < MEMORY_BOUND_MB, "peak {mb} MB");
}

/// Rewrites a `funnel.parquet` file with `props`, its `message_id`s replaced by
/// random 32-digit hex ids (so that column's page hardly compresses).
fn random_message_ids(file: &Path, props: parquet::file::properties::WriterProperties) {
    use arrow_array::{RecordBatch, RecordBatchReader as _, StringArray};
    use parquet::arrow::ArrowWriter;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    use std::sync::Arc;
    let reader =
        ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(file).expect("opens"))
            .expect("a Parquet file")
            .build()
            .expect("a reader");
    let schema = reader.schema();
    let at = schema.index_of("message_id").expect("a message_id column");
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let mut out = Vec::new();
    let mut w = ArrowWriter::try_new(&mut out, schema.clone(), Some(props)).expect("a writer");
    for b in reader {
        let b = b.expect("a batch");
        let ids = StringArray::from_iter_values(
            (0..b.num_rows()).map(|_| format!("{:016x}{:016x}", next(&mut x), next(&mut x))),
        );
        let mut columns = b.columns().to_vec();
        columns[at] = Arc::new(ids);
        w.write(&RecordBatch::try_new(schema.clone(), columns).expect("a batch"))
            .expect("writes");
    }
    w.close().expect("closes");
    std::fs::write(file, &out).expect("writes");
}

#[test]
fn a_gzip_page_bomb_in_the_funnel_is_refused_before_the_columnar_reader_inflates_it() {
    // The funnel's columnar fast path decodes a share of the file itself; it runs the
    // page checks first, so a bomb never reaches the library. Without them this bomb
    // (each 4 KB of the page's gzip holding 4 MiB) peaked above 200 MB before the
    // row-exact reader refused it; the bound here is the small one of a clean refusal.
    use parquet::basic::{Compression, GzipLevel};
    use parquet::file::properties::WriterProperties;
    let tmp = tempfile::tempdir().expect("a temp dir");
    let ds = tmp.path().join("ds");
    std::fs::create_dir(&ds).expect("a dir");
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets/demo");
    for f in ["dataset.toml", "requests.parquet", "funnel.parquet"] {
        std::fs::copy(demo.join(f), ds.join(f)).expect("copies");
    }
    let file = ds.join("funnel.parquet");
    let codec = Compression::GZIP(GzipLevel::default());
    random_message_ids(
        &file,
        WriterProperties::builder()
            .set_compression(codec)
            .set_dictionary_enabled(false)
            .set_data_page_size_limit(64 << 20)
            .set_data_page_row_count_limit(usize::MAX)
            .set_max_row_group_row_count(Some(1 << 20))
            .build(),
    );
    let (size, body) = plain_page(&file, "message_id", codec);
    let members = body.1 / 4096 - 1;
    assert!(members >= 32, "the page holds {members} members");
    let bomb = gzip_bomb(body.1, members);
    plant_page_bomb(&ds, &file, size, &bomb, body);
    assert_bomb_refused(&ds, "funnel.parquet", "message_id", size, "GZIP data", 64);
}
