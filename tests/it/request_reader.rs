//! The columnar request reader of Parquet and Arrow files against the row-exact path:
//! the same requests, with bad rows scattered through them, written as CSV (read row by
//! row), as Parquet (string columns read back as dictionaries) and as Arrow IPC with
//! dictionary-typed columns (an IPC stream, one dictionary per batch), must give
//! identical reports, including which rows were
//! skipped and the first skip's row and column; under `--on-error fail` the error
//! names the same row and column. A CSV file read in byte ranges on two threads gives the
//! report of one reader.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use arrow_array::builder::{Float64Builder, Int64Builder, StringBuilder, StringDictionaryBuilder};
use arrow_array::types::Int32Type;
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use serde_json::Value;

const ROWS: usize = 30_000;
const T0: i64 = 1_772_445_600_000;

/// One request row as written: `None` is a null (an empty CSV field).
struct Row {
    ts: i64,
    endpoint: Option<&'static str>,
    cohort: Option<&'static str>,
    source: &'static str,
    status: i64,
    latency: Option<f64>,
}

/// Deterministic rows over the first three hours, with faults at known rows (1-based):
/// 17 cohort `blue`, 1000 null latency, 5000 empty endpoint, 9000 status 700,
/// 12000 negative latency, 15000 null cohort.
fn rows() -> Vec<Row> {
    let endpoints = [
        "/api/search",
        "/api/apply",
        "/admin/users",
        "/api/ttv",
        "/",
        "/api/pay",
    ];
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    (0..ROWS)
        .map(|i| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let mut r = Row {
                ts: T0 + 1 + (i as i64 * 3 * 3_600_000) / ROWS as i64,
                endpoint: Some(endpoints[(x % 6) as usize]),
                cohort: Some(if x % 3 == 0 { "canary" } else { "baseline" }),
                source: if x % 50 == 0 { "synthetic" } else { "real" },
                status: [200, 200, 200, 201, 404, 401, 503][(x >> 8) as usize % 7],
                latency: Some(((x >> 20) % 400_000) as f64 / 1000.0),
            };
            match i + 1 {
                17 => r.cohort = Some("blue"),
                1000 => r.latency = None,
                5000 => r.endpoint = Some(""),
                9000 => r.status = 700,
                12000 => r.latency = Some(-1.5),
                15000 => r.cohort = None,
                _ => {}
            }
            r
        })
        .collect()
}

fn manifest(dir: &Path) {
    std::fs::write(
        dir.join("dataset.toml"),
        "start = \"2026-03-02T10:00:00Z\"\n",
    )
    .expect("writes");
}

fn write_csv(dir: &Path, rows: &[Row]) {
    let mut s = String::from("ts,endpoint,cohort,source,status,latency_ms\n");
    for r in rows {
        s.push_str(&format!(
            "{},{},{},{},{},{}\n",
            r.ts,
            r.endpoint.unwrap_or(""),
            r.cohort.unwrap_or(""),
            r.source,
            r.status,
            r.latency.map(|v| v.to_string()).unwrap_or_default()
        ));
    }
    std::fs::write(dir.join("requests.csv"), s).expect("writes");
    manifest(dir);
}

/// The rows as a record batch; `dictionary` types the string columns as dictionaries.
fn batch(rows: &[Row], dictionary: bool) -> RecordBatch {
    let mut ts = Int64Builder::new();
    let mut status = Int64Builder::new();
    let mut latency = Float64Builder::new();
    for r in rows {
        ts.append_value(r.ts);
        status.append_value(r.status);
        latency.append_option(r.latency);
    }
    let text = |f: &dyn Fn(&Row) -> Option<&'static str>| -> ArrayRef {
        if dictionary {
            let mut b = StringDictionaryBuilder::<Int32Type>::new();
            for r in rows {
                b.append_option(f(r));
            }
            Arc::new(b.finish())
        } else {
            let mut b = StringBuilder::new();
            for r in rows {
                b.append_option(f(r));
            }
            Arc::new(b.finish())
        }
    };
    let text_type = if dictionary {
        DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8))
    } else {
        DataType::Utf8
    };
    let schema = Schema::new(vec![
        Field::new("ts", DataType::Int64, false),
        Field::new("endpoint", text_type.clone(), true),
        Field::new("cohort", text_type.clone(), true),
        Field::new("source", text_type, true),
        Field::new("status", DataType::Int64, false),
        Field::new("latency_ms", DataType::Float64, true),
    ]);
    RecordBatch::try_new(
        Arc::new(schema),
        vec![
            Arc::new(ts.finish()),
            text(&|r| r.endpoint),
            text(&|r| r.cohort),
            text(&|r| Some(r.source)),
            Arc::new(status.finish()),
            Arc::new(latency.finish()),
        ],
    )
    .expect("a valid batch")
}

fn write_parquet(dir: &Path, rows: &[Row]) {
    let b = batch(rows, false);
    let file = std::fs::File::create(dir.join("requests.parquet")).expect("creates");
    let props = parquet::file::properties::WriterProperties::builder()
        .set_max_row_group_row_count(Some(7_000))
        .build();
    let mut w =
        parquet::arrow::ArrowWriter::try_new(file, b.schema(), Some(props)).expect("a writer");
    w.write(&b).expect("writes");
    w.close().expect("closes");
    manifest(dir);
}

fn write_ipc(dir: &Path, rows: &[Row]) {
    let file = std::fs::File::create(dir.join("requests.arrow")).expect("creates");
    // The stream format: each batch may carry its own dictionaries.
    let mut w = arrow_ipc::writer::StreamWriter::try_new(file, &batch(rows, true).schema())
        .expect("a writer");
    for chunk in rows.chunks(5_000) {
        w.write(&batch(chunk, true)).expect("writes");
    }
    w.finish().expect("finishes");
    manifest(dir);
}

fn run(dir: &Path, on_error: &str, threads: &str) -> (Option<i32>, Value, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_rehearse"))
        .args([
            "run",
            dir.to_str().expect("utf-8"),
            "--json",
            "--on-error",
            on_error,
        ])
        .env("RAYON_NUM_THREADS", threads)
        // Split even this small CSV file into ranges when there are threads to read them.
        .env("REHEARSE_CSV_SPLIT_BYTES", "1")
        .output()
        .expect("runs");
    let json = serde_json::from_slice(&o.stdout).unwrap_or(Value::Null);
    (
        o.status.code(),
        json,
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// The report without the file names (`requests.csv` against `requests.parquet`).
fn comparable(mut v: Value) -> Value {
    for i in v["inputs"].as_array_mut().expect("inputs") {
        i["file"] = Value::Null;
        // The skip message names the file; keep its row and column part.
        if let Some(s) = i["first_skip"].as_str() {
            i["first_skip"] = Value::String(s.split_once(": ").map_or(s, |x| x.1).to_string());
        }
    }
    v
}

#[test]
fn columnar_reads_match_the_row_exact_reader_with_bad_rows() {
    let rows = rows();
    let root = tempfile::tempdir().expect("a temp dir");
    let (csv, pq, ipc) = (
        root.path().join("csv"),
        root.path().join("pq"),
        root.path().join("ipc"),
    );
    for d in [&csv, &pq, &ipc] {
        std::fs::create_dir(d).expect("a dir");
    }
    write_csv(&csv, &rows);
    write_parquet(&pq, &rows);
    write_ipc(&ipc, &rows);

    let (code, base, err) = run(&csv, "skip", "1");
    // The CSV file read in byte ranges on two threads gives the very same report.
    let (c2, split, err2) = run(&csv, "skip", "2");
    assert_eq!((c2, &split), (code, &base), "{err2}");
    let (c3, _, err3) = run(&csv, "fail", "2");
    assert_eq!(c3, Some(2), "{err3}");
    assert!(
        err3.contains("line 18") && err3.contains("`cohort`"),
        "{err3}"
    );
    assert!(code.is_some_and(|c| c != 2), "{err}");
    let input = &base["inputs"][0];
    assert_eq!(input["skipped"], 6, "{input}");
    assert_eq!(input["rows"], (ROWS - 6) as u64, "{input}");
    let first = input["first_skip"].as_str().expect("a first skip");
    assert!(
        first.contains("row 17") || first.contains("line 18"),
        "{first}"
    );
    assert!(first.contains("cohort"), "{first}");
    let want = comparable(base);
    for (dir, threads) in [(&pq, "1"), (&pq, "2"), (&ipc, "1")] {
        let (c, got, err) = run(dir, "skip", threads);
        assert_eq!(c, code, "{err}");
        let got = comparable(got);
        assert_eq!(
            got["inputs"][0]["rows"], want["inputs"][0]["rows"],
            "{dir:?}"
        );
        assert_eq!(got["stages"], want["stages"], "{dir:?}");
        assert_eq!(got["gates"], want["gates"], "{dir:?}");
        assert_eq!(got["outcome"], want["outcome"], "{dir:?}");
        let skip = got["inputs"][0]["first_skip"]
            .as_str()
            .expect("a first skip");
        assert!(
            skip.contains("row 17") && skip.contains("cohort"),
            "{dir:?}: {skip}"
        );
    }

    // A bad row far into the file, read in ranges: its line number is the whole file's.
    let mut late = rows;
    for r in late.iter_mut() {
        if r.cohort.is_none_or(|c| c == "blue") {
            r.cohort = Some("canary");
        }
        r.endpoint = r.endpoint.filter(|e| !e.is_empty()).or(Some("/api/x"));
        r.status = r.status.min(599);
        r.latency = Some(r.latency.unwrap_or(1.0).abs());
    }
    late[24_999].cohort = Some("blue");
    let csv_late = root.path().join("csv_late");
    std::fs::create_dir(&csv_late).expect("a dir");
    write_csv(&csv_late, &late);
    let (c1, _, one) = run(&csv_late, "fail", "1");
    let (c2, _, two) = run(&csv_late, "fail", "2");
    assert_eq!((c1, c2), (Some(2), Some(2)), "{one}{two}");
    assert!(
        one.contains("line 25001") && one.contains("`cohort`"),
        "{one}"
    );
    assert_eq!(one, two);

    // Under --on-error fail the first bad row stops the run, named by row and column.
    for dir in [&pq, &ipc] {
        let (c, _, err) = run(dir, "fail", "2");
        assert_eq!(c, Some(2), "{err}");
        assert!(err.contains("row 17") && err.contains("`cohort`"), "{err}");
        assert!(err.contains("`blue`"), "{err}");
    }
}

#[test]
fn plain_line_ranges_match_the_csv_parser() {
    // Ranges of a quote-free CSV file are split at commas without the CSV parser; line
    // ends `\r\n`, blank lines, short and long rows, non-UTF-8 bytes and bad values must
    // give the report (and the first error) of the parser over the whole file. Files
    // with a bare `\r` or a leading blank line are not split; they agree all the same.
    let mut body = String::new();
    for i in 0..3_000u64 {
        let ts = T0 + 1 + i as i64 * 3_000;
        let cohort = if i % 3 == 0 { "canary" } else { "baseline" };
        let status = [200, 503, 404, 200][i as usize % 4];
        match i {
            100 => body.push_str("\r\n"),
            200 => body.push_str(&format!("{ts},/api/a,{cohort}\r\n")),
            300 => body.push_str(&format!("{ts},/api/a,purple,real,200,1.5\r\n")),
            400 => body.push_str(&format!(
                "{ts},/api/a,{cohort},real,200,1.5,extra,fields\r\n"
            )),
            500 => body.push_str(&format!("{ts},,{cohort},real,200,1.5\r\n")),
            _ => body.push_str(&format!(
                "{ts},/api/admin/{i},{cohort},real,{status},{}.{}\r\n",
                i % 700,
                i % 1000
            )),
        }
    }
    let mut bytes = format!("ts,endpoint,cohort,source,status,latency_ms\r\n{body}").into_bytes();
    // A non-UTF-8 byte in the endpoint of a line in the middle of the file.
    let at = bytes.len() / 2;
    let nl = at + bytes[at..].iter().position(|&b| b == b'\n').unwrap() + 1;
    bytes.insert(nl + 15, 0xff);
    let cases: [(&str, Vec<u8>); 3] = [
        ("crlf", bytes.clone()),
        ("bare_cr", {
            let mut b = bytes.clone();
            let end = b.len();
            b.splice(end..end, b"\r".iter().copied());
            b.extend_from_slice(b"1772445600500,/api/a,canary,real,200,1\n");
            b
        }),
        ("leading_blank", [b"\n".as_slice(), &bytes].concat()),
    ];
    let root = tempfile::tempdir().expect("a temp dir");
    for (name, data) in cases {
        let dir = root.path().join(name);
        std::fs::create_dir(&dir).expect("a dir");
        std::fs::write(dir.join("requests.csv"), &data).expect("writes");
        manifest(&dir);
        let (c1, one, e1) = run(&dir, "skip", "1");
        let (c2, two, e2) = run(&dir, "skip", "2");
        assert_eq!((c2, &two), (c1, &one), "{name}: {e1}{e2}");
        assert!(
            one["inputs"][0]["skipped"].as_u64() >= Some(4),
            "{name}: {one}"
        );
        let (f1, _, fail1) = run(&dir, "fail", "1");
        let (f2, _, fail2) = run(&dir, "fail", "2");
        assert_eq!((f1, &fail1), (f2, &fail2), "{name}");
        assert_eq!(f1, Some(2), "{name}: {fail1}");
    }
}

#[test]
fn empty_arrow_batches_are_no_rows() {
    // An IPC stream may hold batches without rows, and dictionary columns without
    // values; they add nothing, and no row count goes astray around them.
    let clean: Vec<Row> = rows().into_iter().skip(20_000).collect();
    let dir = tempfile::tempdir().expect("a temp dir");
    let file = std::fs::File::create(dir.path().join("requests.arrow")).expect("creates");
    let schema = batch(&clean, true).schema();
    let mut w = arrow_ipc::writer::StreamWriter::try_new(file, &schema).expect("a writer");
    w.write(&batch(&[], true)).expect("writes");
    for chunk in clean.chunks(4_000) {
        w.write(&batch(chunk, true)).expect("writes");
        w.write(&batch(&[], true)).expect("writes");
    }
    // A batch whose endpoint column is all null: its dictionary has no values.
    let mut nulls: Vec<Row> = rows().into_iter().skip(20_000).take(100).collect();
    nulls.iter_mut().for_each(|r| r.endpoint = None);
    w.write(&batch(&nulls, true)).expect("writes");
    w.finish().expect("finishes");
    manifest(dir.path());
    let (code, report, err) = run(dir.path(), "skip", "1");
    assert!(code.is_some_and(|c| c != 2), "{err}");
    assert_eq!(report["inputs"][0]["rows"], clean.len() as u64, "{err}");
    assert_eq!(report["inputs"][0]["skipped"], 100);
    let first = report["inputs"][0]["first_skip"]
        .as_str()
        .unwrap_or_default();
    assert!(
        first.contains(&format!("row {}", clean.len() + 1)),
        "{first}"
    );
    assert!(first.contains("`endpoint`"), "{first}");
}

#[test]
fn csv_fast_path_matches_the_csv_parser() {
    // Plain-line ranges decode the common shapes of the requests stream straight from
    // the bytes (RFC 3339 UTC with milliseconds, known cohort and source, three-digit
    // status, latency with at most three decimals) and send every other line through
    // the cells. The same rows in a file with one quoted field are read whole by the CSV
    // parser and the cell decoder: reports and first errors must be identical.
    let fmt = rehearse::time::format_rfc3339;
    let mut lines: Vec<String> = Vec::new();
    for i in 0..6_000i64 {
        let ms = T0 + 7 + i * 3_217; // crosses hours, minutes and seconds
        let ts = fmt(ms);
        let cohort = if i % 3 == 0 { "canary" } else { "baseline" };
        let status = [200, 503, 404, 200, 401, 201][i as usize % 6];
        let endpoint = [
            "/api/admin/u",
            "/api/security/k",
            "/api/ttv/s",
            "/",
            "/api/infra",
        ][i as usize % 5];
        let latency = format!("{}.{}", (i * 37) % 700, (i * 11) % 1000);
        let mut row = [
            ts,
            endpoint.to_string(),
            cohort.to_string(),
            "real".to_string(),
            status.to_string(),
            latency,
        ];
        match i {
            10 => {
                row[0] = fmt(ms)
                    .replace(".", "")
                    .replacen(&format!("{:03}Z", ms % 1000), "Z", 1)
            }
            11 => row[0] = fmt(ms).replace("Z", "9Z"),
            12 => row[0] = fmt(ms).replace("Z", "+00:00"),
            13 => row[0] = ms.to_string(),
            14 => row[0] = "2026-02-30T10:00:00.000Z".into(),
            15 => row[0] = fmt(ms).replace("T10", "T25"),
            16 => row[0] = fmt(ms).replace("Z", "z"),
            20 => row[5] = "12.3455".into(),
            21 => row[5] = "47.".into(),
            22 => row[5] = ".5".into(),
            23 => row[5] = "007.5".into(),
            24 => row[5] = "-1".into(),
            25 => row[5] = "1e2".into(),
            26 => row[5] = " 5".into(),
            27 => row[5] = "1234567890123.5".into(),
            28 => row[5] = "".into(),
            30 => row[4] = "099".into(),
            31 => row[4] = "2000".into(),
            32 => row[4] = "200.0".into(),
            33 => row[4] = "600".into(),
            40 => row[2] = "Canary".into(),
            41 => row[3] = "synthetic".into(),
            42 => row[3] = "".into(),
            50 => row[1] = "/api/admin/é".into(),
            51 => row[1] = "".into(),
            _ => {}
        }
        lines.push(row.join(","));
    }
    lines[60].push_str(",extra");
    lines.insert(70, String::new());
    let body = |note: &str| {
        let mut s = String::from("ts,endpoint,cohort,source,status,latency_ms,note\n");
        for (i, l) in lines.iter().enumerate() {
            if l.is_empty() {
                s.push('\n');
                continue;
            }
            let n = if i == 3_000 { note } else { "" };
            s.push_str(&format!("{l},{n}\n"));
        }
        s.into_bytes()
    };
    let mut plain = body("q");
    let mut quoted = body("\"q\"");
    // Bad UTF-8: in a requested column (an error) and in an unrequested one (no error).
    for bytes in [&mut plain, &mut quoted] {
        let at = bytes
            .windows(12)
            .position(|w| w == b"/api/ttv/s,b")
            .expect("a row")
            + 9;
        bytes.insert(at, 0xff);
        let note_at = bytes.len() - 2;
        bytes.insert(note_at, 0xfe);
    }
    let root = tempfile::tempdir().expect("a temp dir");
    let mut reports = Vec::new();
    for (name, data) in [("plain", &plain), ("quoted", &quoted)] {
        let dir = root.path().join(name);
        std::fs::create_dir(&dir).expect("a dir");
        std::fs::write(dir.join("requests.csv"), data).expect("writes");
        manifest(&dir);
        let (code, json, err) = run(&dir, "skip", "2");
        assert!(json.is_object(), "{name}: {err}");
        let skipped = json["inputs"][0]["skipped"].as_u64().unwrap_or(0);
        assert!(
            skipped >= 12,
            "{name}: the odd rows were not all refused: {json}"
        );
        let (fcode, _, ferr) = run(&dir, "fail", "2");
        let json = json.to_string().replace(&format!("/{name}"), "/DIR");
        reports.push((code, json, fcode, ferr.replace(&format!("/{name}"), "/DIR")));
    }
    let (a, b) = (&reports[0], &reports[1]);
    assert_eq!(a.1, b.1, "the fast path's report differs from the parser's");
    assert_eq!((a.0, a.2, &a.3), (b.0, b.2, &b.3));
    // The first bad row is the one with a non-UTF-8 byte in its endpoint (line 4).
    assert_eq!(a.2, Some(2), "{}", a.3);
    assert!(a.3.contains("line 4, column `endpoint`"), "{}", a.3);
}
