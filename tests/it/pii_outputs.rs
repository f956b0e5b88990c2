//! No detected PII in clear in any output. Each PII scenario (`scenarios/4[1-6]-pii-*`)
//! plants e-mail addresses, card numbers, SSNs, phone numbers or IBANs in its log
//! lines; the planted values are taken from the generated `logs.csv` with the
//! detectors, then every output is searched for each of them, as written and with its
//! separators removed: the human and JSON run reports, the sweep report, the event log
//! (`run --record`, its bytes and its decoded events), the funnel report and tables (the
//! dataset gets the clean scenario's funnel and ledger streams beside its logs), and
//! the TUI screen (drawn headless at every stage verdict and with every event of the
//! log explained).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use clap::Parser;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use rehearse::app::tui::load;
use rehearse::cli::{Cli, Command as Sub};
use rehearse::pii::PiiDetector;
use rehearse::tui::model::{Focus, perform};
use rehearse::tui::{Model, Msg, Speed, update};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn rehearse(args: &[&str]) -> Vec<u8> {
    let o = Command::new(env!("CARGO_BIN_EXE_rehearse"))
        .args(args)
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
    let mut out = o.stdout;
    out.extend_from_slice(&o.stderr);
    out
}

fn generate(scenario: &str, out: &Path) {
    let s = root().join("scenarios").join(scenario);
    rehearse(&[
        "generate",
        s.to_str().expect("utf-8"),
        "--out",
        out.to_str().expect("utf-8"),
    ]);
}

/// The PII values planted in the dataset's log messages, as the detectors find them.
fn planted(ds: &Path) -> Vec<String> {
    let det = PiiDetector::new();
    let mut reader = csv::Reader::from_path(ds.join("logs.csv")).expect("the log stream");
    let col = reader
        .headers()
        .expect("a header")
        .iter()
        .position(|h| h == "message")
        .expect("a message column");
    let mut values: Vec<String> = Vec::new();
    for r in reader.records() {
        let r = r.expect("a row");
        let message = &r[col];
        for m in det.find_all(message) {
            values.push(message[m.start..m.end].to_string());
        }
    }
    values.sort();
    values.dedup();
    values
}

/// The forms a value could be printed in: as written, and without separators.
fn forms(value: &str) -> Vec<String> {
    let bare: String = value
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '@' || *c == '.')
        .collect();
    let mut f = vec![value.to_string()];
    if bare != value && bare.len() >= 8 {
        f.push(bare);
    }
    f
}

fn assert_clean(what: &str, bytes: &[u8], values: &[String]) {
    let text = String::from_utf8_lossy(bytes);
    for v in values {
        for form in forms(v) {
            assert!(
                !text.contains(&form),
                "{what} holds the planted value `{form}` in clear"
            );
        }
    }
}

fn tui_screens(ds: &Path) -> Vec<String> {
    let args = match Cli::try_parse_from(["rehearse", "tui", ds.to_str().expect("utf-8")])
        .expect("valid arguments")
        .command
    {
        Sub::Tui(a) => a,
        _ => unreachable!("parsed a tui command"),
    };
    let mut m = Model::new(
        load(&args.settings()).expect("the dataset loads"),
        Speed::X(600),
        PathBuf::from("tuned-policy.toml"),
    );
    m.show_timings = false;
    let send = |m: &mut Model, msg: Msg| {
        if let Some(cmd) = update(m, msg) {
            let r = perform(cmd);
            update(m, r);
        }
    };
    let draw = |m: &Model| {
        let mut t = Terminal::new(TestBackend::new(200, 60)).expect("a test terminal");
        t.draw(|f| rehearse::tui::view::view(m, f))
            .expect("drawing never fails");
        t.backend().to_string()
    };
    let mut screens = vec![draw(&m)];
    while !m.at_end() {
        send(&mut m, Msg::NextVerdict);
        screens.push(draw(&m));
    }
    m.focus = Focus::Events;
    for i in m.session.timeline.log_visible(m.clock) {
        m.event_sel = Some(i);
        send(&mut m, Msg::Explain);
        screens.push(draw(&m));
        send(&mut m, Msg::Close);
    }
    screens
}

#[test]
fn no_planted_pii_in_any_output() {
    let tmp = tempfile::tempdir().expect("a temp dir");
    let clean = tmp.path().join("clean");
    generate("60-analytics-clean.toml", &clean);
    for scenario in [
        "41-pii-email.toml",
        "42-pii-card.toml",
        "43-pii-ssn.toml",
        "44-pii-phone.toml",
        "45-pii-iban.toml",
        "46-pii-short.toml",
    ] {
        let ds = tmp.path().join(scenario);
        generate(scenario, &ds);
        let values = planted(&ds);
        assert!(values.len() >= 3, "{scenario} plants PII: {values:?}");
        // The planted values are in the input, so a search would find them.
        let input = std::fs::read(ds.join("logs.csv")).expect("the logs");
        assert!(String::from_utf8_lossy(&input).contains(&values[0]));
        for name in ["funnel.csv", "ledger.csv"] {
            std::fs::copy(clean.join(name), ds.join(name)).expect("copies");
        }
        let d = ds.to_str().expect("utf-8");
        let what = |o: &str| format!("{scenario}: {o}");
        assert_clean(&what("run"), &rehearse(&["run", d]), &values);
        assert_clean(
            &what("run --json"),
            &rehearse(&["run", d, "--json"]),
            &values,
        );
        let sweep_out = rehearse(&[
            "sweep",
            d,
            "--vary",
            "triggers.latency_p95_ms=250,400",
            "--json",
        ]);
        assert_clean(&what("sweep --json"), &sweep_out, &values);
        let record = tmp.path().join("run.arrow");
        let r = record.to_str().expect("utf-8");
        rehearse(&["run", d, "--record", r]);
        assert_clean(
            &what("the event log's bytes"),
            &std::fs::read(&record).expect("the log"),
            &values,
        );
        let (meta, events) =
            rehearse::output::record::read_record(&record).expect("the log reads back");
        assert_clean(
            &what("the event log's events"),
            format!("{meta:?}{events:?}").as_bytes(),
            &values,
        );
        assert_clean(
            &what("funnel"),
            &rehearse(&["funnel", d, "--json"]),
            &values,
        );
        let tables = tmp.path().join("tables");
        let _ = std::fs::remove_dir_all(&tables);
        rehearse(&["funnel", d, "--out", tables.to_str().expect("utf-8")]);
        for e in std::fs::read_dir(&tables).expect("the tables") {
            let p = e.expect("an entry").path();
            assert_clean(
                &what(&p.display().to_string()),
                &std::fs::read(&p).expect("reads"),
                &values,
            );
        }
        for (i, screen) in tui_screens(&ds).iter().enumerate() {
            assert_clean(
                &what(&format!("TUI screen {i}")),
                screen.as_bytes(),
                &values,
            );
        }
    }
}
