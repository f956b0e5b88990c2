//! Reading the analytics streams: the same events in CSV, NDJSON, Parquet, Arrow, held
//! in memory or as a Segment-spec export give the same report; malformed files give
//! errors naming the file, the row and the column (or counted skips); and the
//! `rehearse funnel` command end to end (JSON contract, Parquet tables, exit statuses).

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use rehearse::analytics::{AnalyticsData, AnalyticsPolicy, analyze};
use rehearse::app::scenario::gen_plan;
use rehearse::generate::{FunnelSpec, generate_funnel};
use rehearse::input::{Dataset, FunnelRow};
use rehearse::output::dataset::{Format, write_dataset};
use rehearse::policy::Policy;
use rehearse::source::OnError;
use rehearse::time::format_rfc3339;
use serde_json::{Value, json};

const T0: i64 = 1_772_445_600_000;

fn generated() -> Dataset {
    let spec = FunnelSpec {
        users_per_hour: 150.0,
        synthetic_per_hour: 10.0,
        providers: 12,
        bookings_per_hour: 20.0,
        ..Default::default()
    };
    let (funnel, ledger) =
        generate_funnel(&spec, &gen_plan(&Policy::default_policy()), T0, 42).unwrap();
    Dataset {
        start: Some(T0),
        funnel: Some(funnel),
        ledger,
        ..Default::default()
    }
}

/// The report as JSON without the parts that name files.
fn comparable(data: &AnalyticsData) -> Value {
    let r = analyze(data, &AnalyticsPolicy::default(), "x")
        .unwrap()
        .report;
    let mut v = serde_json::to_value(&r).unwrap();
    let o = v.as_object_mut().unwrap();
    o.remove("inputs");
    o.remove("dataset");
    v
}

#[test]
fn every_encoding_gives_the_same_report() {
    let ds = generated();
    let reference = comparable(&AnalyticsData::from_dataset(&ds).unwrap());
    assert!(reference["persons"]["total"].as_u64().unwrap() > 100);
    assert!(reference["ledger"]["transactions"].as_u64().unwrap() > 10);
    for format in Format::ALL {
        let dir = tempfile::tempdir().unwrap();
        write_dataset(&ds, dir.path(), format).unwrap();
        let data = AnalyticsData::load(dir.path(), OnError::Fail)
            .unwrap()
            .unwrap();
        assert_eq!(comparable(&data), reference, "{format}");
    }
}

fn segment_line(r: &FunnelRow) -> Value {
    let mut props = serde_json::Map::new();
    if let Some(c) = r.cohort {
        props.insert("cohort".into(), json!(c.as_str()));
    }
    if let Some(v) = r.revenue {
        props.insert("revenue".into(), json!(v));
    }
    if let Some(v) = &r.currency {
        props.insert("currency".into(), json!(v));
    }
    if let Some(v) = r.test_mode {
        props.insert("test_mode".into(), json!(v));
    }
    if let Some(v) = &r.provider_id {
        props.insert("provider_id".into(), json!(v));
    }
    if let Some(v) = r.source {
        props.insert("source".into(), json!(v.as_str()));
    }
    let mut o = json!({
        "type": if r.event == "visit" { "page" } else { "track" },
        "timestamp": format_rfc3339(r.ts),
        "messageId": r.message_id,
        "properties": props,
        "context": {
            "campaign": {"source": r.utm_source, "medium": r.utm_medium, "name": r.utm_campaign},
            "device": {"type": r.platform},
            "userAgent": r.user_agent,
            "page": {"url": r.page_url},
        },
    });
    if r.event != "visit" {
        o["event"] = json!(r.event);
    } else {
        o["name"] = json!("Home");
    }
    if let Some(u) = &r.user_id {
        o["userId"] = json!(u);
    }
    if let Some(a) = &r.anonymous_id {
        o["anonymousId"] = json!(a);
    }
    o
}

#[test]
fn a_segment_export_reads_like_the_flat_stream_and_drops_duplicates() {
    let ds = generated();
    let rows = ds.funnel.as_ref().unwrap();
    let flat = comparable(&AnalyticsData::from_rows(Some(rows), None));
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::new();
    let mut dups = 0;
    for (i, r) in rows.iter().enumerate() {
        let line = segment_line(r).to_string();
        text.push_str(&line);
        text.push('\n');
        if i % 17 == 0 {
            // A delivery duplicate, later in the file.
            text.push_str(&line);
            text.push('\n');
            dups += 1;
        }
    }
    std::fs::write(dir.path().join("funnel.ndjson"), text).unwrap();
    let data = AnalyticsData::load(dir.path(), OnError::Fail)
        .unwrap()
        .unwrap();
    assert!(data.inputs[0].segment);
    assert_eq!(data.inputs[0].duplicates, dups);
    let mut got = comparable(&data);
    assert_eq!(got["identity"]["duplicates_dropped"], json!(dups));
    assert_eq!(got["duplicates_dropped"], json!(dups));
    got["identity"]["duplicates_dropped"] = json!(0);
    got["duplicates_dropped"] = json!(0);
    assert_eq!(got, flat);
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn load(dir: &Path, on_error: OnError) -> Result<AnalyticsData, String> {
    AnalyticsData::load(dir, on_error)
        .map_err(|e| e.to_string())
        .map(|d| d.expect("streams present"))
}

#[test]
fn segment_identify_and_alias_feed_identity_only() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "funnel.ndjson",
        r#"{"type":"page","timestamp":"2026-03-02T10:00:00Z","anonymousId":"a1","messageId":"m1"}
{"type":"identify","timestamp":"2026-03-02T10:05:00Z","userId":"u1","anonymousId":"a1","messageId":"m2","traits":{"email":"x@example.test"}}
{"type":"track","event":"search","timestamp":"2026-03-02T10:06:00Z","userId":"u1","messageId":"m3"}
{"type":"screen","timestamp":"2026-03-02T10:00:00Z","anonymousId":"a2","messageId":"m4","context":{"device":{"type":"mobile"}}}
{"type":"alias","timestamp":"2026-03-02T10:07:00Z","previousId":"a2","userId":"u2","messageId":"m5"}
{"type":"track","event":"search","timestamp":"2026-03-02T10:08:00Z","userId":"u2","messageId":"m6"}
{"type":"group","timestamp":"2026-03-02T10:09:00Z","userId":"u3","groupId":"g","messageId":"m7"}
{"type":"track","event":"search","timestamp":"2026-03-02T10:08:00Z","userId":"u2","messageId":"m6"}
"#,
    );
    let data = load(dir.path(), OnError::Fail).unwrap();
    let r = analyze(&data, &AnalyticsPolicy::default(), "x")
        .unwrap()
        .report;
    // u1 and u2; the identify, alias and group calls make no person.
    assert_eq!(r.persons.total, 2);
    assert_eq!(r.funnel.steps[0].persons, 2);
    assert_eq!(r.funnel.steps[1].persons, 2);
    assert_eq!(r.identity.duplicates_dropped, 1);
    assert_eq!(r.inputs[0].rows, 8);
}

#[test]
fn malformed_funnel_rows_name_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let header = "ts,event,user_id,anonymous_id,cohort,revenue,currency\n";
    write(
        dir.path(),
        "funnel.csv",
        &format!(
            "{header}2026-03-02T10:00:00Z,visit,u1,,canary,,\n2026-03-02T10:01:00Z,search,u1,,Canary,,\n2026-03-02T10:02:00Z,credit_purchase,u1,,canary,12;50,USD\n2026-03-02T10:03:00Z,search,,,baseline,,\nyesterday,visit,u2,,,,\n"
        ),
    );
    let e = load(dir.path(), OnError::Fail).unwrap_err();
    assert!(
        e.contains("funnel.csv: line 3, column `cohort`") && e.contains("canary, baseline"),
        "{e}"
    );
    let data = load(dir.path(), OnError::Skip).unwrap();
    let i = &data.inputs[0];
    assert_eq!((i.rows, i.skipped), (1, 4));
    assert!(i.first_skip.as_deref().unwrap().contains("line 3"));
    // Each bad row alone.
    for (row, column) in [
        (
            "2026-03-02T10:02:00Z,credit_purchase,u1,,canary,12;50,USD",
            "revenue",
        ),
        ("2026-03-02T10:03:00Z,search,,,baseline,,", "user_id"),
        ("yesterday,visit,u2,,,,", "ts"),
        ("2026-03-02T10:03:00Z,,u1,,,,", "event"),
        (
            "2026-03-02T10:03:00Z,credit_purchase,u1,,,1e999,USD",
            "revenue",
        ),
    ] {
        write(dir.path(), "funnel.csv", &format!("{header}{row}\n"));
        let e = load(dir.path(), OnError::Fail).unwrap_err();
        assert!(
            e.contains(&format!("line 2, column `{column}`")),
            "{row}: {e}"
        );
    }
    // A file without either id column is unusable, whatever --on-error says.
    write(
        dir.path(),
        "funnel.csv",
        "ts,event\n2026-03-02T10:00:00Z,visit\n",
    );
    for mode in [OnError::Fail, OnError::Skip] {
        let e = load(dir.path(), mode).unwrap_err();
        assert!(e.contains("user_id") && e.contains("anonymous_id"), "{e}");
    }
    write(
        dir.path(),
        "funnel.csv",
        "ts,user_id\n2026-03-02T10:00:00Z,u\n",
    );
    let e = load(dir.path(), OnError::Skip).unwrap_err();
    assert!(e.contains("required column `event` is missing"), "{e}");
    write(dir.path(), "funnel.csv", "");
    assert!(
        load(dir.path(), OnError::Fail)
            .unwrap_err()
            .contains("empty")
    );
}

#[test]
fn malformed_segment_rows_name_the_segment_field() {
    let dir = tempfile::tempdir().unwrap();
    let first = r#"{"type":"page","timestamp":"2026-03-02T10:00:00Z","userId":"u"}"#;
    for (row, column) in [
        (
            r#"{"type":"track","event":"credit_purchase","timestamp":"2026-03-02T10:01:00Z","userId":"u","properties":{"revenue":"lots","currency":"USD"}}"#,
            "properties.revenue",
        ),
        (
            r#"{"type":"track","timestamp":"2026-03-02T10:01:00Z","userId":"u"}"#,
            "event",
        ),
        (
            r#"{"type":"track","event":"search","timestamp":"soon","userId":"u"}"#,
            "timestamp",
        ),
        (
            r#"{"type":"track","event":"search","timestamp":"2026-03-02T10:01:00Z"}"#,
            "userId",
        ),
        (
            r#"{"type":"teleport","timestamp":"2026-03-02T10:01:00Z","userId":"u"}"#,
            "type",
        ),
        (
            r#"{"type":"track","event":"search","timestamp":"2026-03-02T10:01:00Z","userId":"u","properties":{"cohort":"beta"}}"#,
            "properties.cohort",
        ),
        (r#"{"type":"track", "event":"#, "*"),
    ] {
        write(dir.path(), "funnel.ndjson", &format!("{first}\n\n{row}\n"));
        let e = load(dir.path(), OnError::Fail).unwrap_err();
        assert!(
            e.contains(&format!("funnel.ndjson: line 3, column `{column}`")),
            "{row}: {e}"
        );
        let data = load(dir.path(), OnError::Skip).unwrap();
        assert_eq!((data.inputs[0].rows, data.inputs[0].skipped), (1, 1));
    }
}

#[test]
fn malformed_ledger_rows_name_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let header = "ts,txn_id,entry_id,account,debit_minor,credit_minor,currency,kind\n";
    for (row, column) in [
        (
            "2026-03-02T10:00:00Z,t1,e1,cash,,,USD,booking",
            "debit_minor",
        ),
        (
            "2026-03-02T10:00:00Z,t1,e1,cash,12.5,,USD,booking",
            "debit_minor",
        ),
        (
            "2026-03-02T10:00:00Z,t1,e1,cash,,ten,USD,booking",
            "credit_minor",
        ),
        ("2026-03-02T10:00:00Z,t1,e1,cash,100,,USD,refund", "kind"),
        ("2026-03-02T10:00:00Z,t1,e1,cash,100,,USD,Booking", "kind"),
        ("2026-03-02T10:00:00Z,,e1,cash,100,,USD,booking", "txn_id"),
        ("2026-03-02T10:00:00Z,t1,e1,,100,,USD,booking", "account"),
        ("2026-03-02T10:00:00Z,t1,e1,cash,100,,,booking", "currency"),
        ("02/03/2026,t1,e1,cash,100,,USD,booking", "ts"),
    ] {
        write(dir.path(), "ledger.csv", &format!("{header}{row}\n"));
        let e = load(dir.path(), OnError::Fail).unwrap_err();
        assert!(
            e.contains(&format!("ledger.csv: line 2, column `{column}`")),
            "{row}: {e}"
        );
    }
    write(
        dir.path(),
        "ledger.csv",
        "ts,txn_id,entry_id,account,debit_minor,currency,kind\n2026-03-02T10:00:00Z,t1,e1,cash,100,USD,booking\n",
    );
    let e = load(dir.path(), OnError::Skip).unwrap_err();
    assert!(
        e.contains("required column `credit_minor` is missing"),
        "{e}"
    );
}

fn bin(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rehearse"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

#[test]
fn the_funnel_command_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    write_dataset(&generated(), &data, Format::Parquet).unwrap();
    let out = dir.path().join("tables");
    let o = bin(&[
        "funnel",
        data.to_str().unwrap(),
        "--json",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    for key in [
        "persons",
        "funnel",
        "funnel_without_exclusion",
        "revenue_minor",
        "leaked_events",
        "tracking_gaps",
        "fee_violations",
        "ledger",
    ] {
        assert!(v.get(key).is_some(), "{key}");
    }
    for key in ["total", "synthetic", "canary_only", "included"] {
        assert!(v["persons"][key].is_u64(), "{key}");
    }
    let names: Vec<&str> = v["funnel"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "visit",
            "search",
            "shortlist",
            "application_start",
            "credit_purchase"
        ]
    );
    for key in [
        "unbalanced_txns",
        "duplicate_payouts",
        "overdrawn_providers",
    ] {
        assert_eq!(v["ledger"][key], json!(0), "{key}");
    }
    assert_eq!(v["leaked_events"], json!(0));
    for table in [
        "persons",
        "purchases",
        "funnel",
        "kpis",
        "attribution",
        "tracking",
        "other_events",
        "ledger_transactions",
        "provider_flow",
    ] {
        let p = out.join(format!("{table}.parquet"));
        assert!(std::fs::metadata(&p).unwrap().len() > 0, "{table}");
    }
    assert!(out.join("report.json").is_file());

    // The human summary.
    let o = bin(&[
        "funnel",
        data.to_str().unwrap(),
        "--set",
        "analytics.conversion_window=30m",
    ]);
    assert_eq!(o.status.code(), Some(0));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("B2C funnel (window 30m)") && text.contains("ledger:"),
        "{text}"
    );

    // A policy file's analytics section; a bad key is a usage error naming it.
    let pol = write(
        dir.path(),
        "p.toml",
        "[analytics]\nfee_rounding = \"floor\"\n",
    );
    let o = bin(&[
        "funnel",
        data.to_str().unwrap(),
        "--json",
        "--policy",
        pol.to_str().unwrap(),
    ]);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(v["fee_violations"].as_u64().unwrap() > 0);
    let pol = write(dir.path(), "p.toml", "[analytics]\nwindow = \"1h\"\n");
    let o = bin(&[
        "funnel",
        data.to_str().unwrap(),
        "--policy",
        pol.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("analytics.window"));

    // No analytics stream, and a malformed row: usage errors.
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    write(&empty, "dataset.toml", "start = \"2026-03-02T10:00:00Z\"\n");
    let o = bin(&["funnel", empty.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no `funnel` or `ledger` stream"));
    write(
        &empty,
        "ledger.csv",
        "ts,txn_id,entry_id,account,debit_minor,credit_minor,currency,kind\n2026-03-02T10:00:00Z,t,e,cash,1,,USD,bonus\n",
    );
    let o = bin(&["funnel", empty.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("ledger.csv: line 2, column `kind`"));
    let o = bin(&[
        "funnel",
        empty.to_str().unwrap(),
        "--on-error",
        "skip",
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(0));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["inputs"][0]["skipped"], json!(1));
}
