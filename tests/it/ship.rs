//! `rehearse report`, the ship-room pack, end to end through the binary: the go/no-go
//! checklist and the Slack status updates (snapshots), the board note after a complete
//! rollout, no PII value in any file, the same pack from a recording, and `--post`
//! against local webhooks on 127.0.0.1, plain and https (a throwaway CA made with
//! openssl, trusted with `--cacert`).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use rehearse::pii::PiiDetector;

fn bin(dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_rehearse"));
    c.current_dir(dir).stdin(Stdio::null());
    c
}

fn run_in(dir: &Path, args: &[&str]) -> Output {
    bin(dir).args(args).output().expect("the binary runs")
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Generates `scenario` (TOML text) as CSV into `dir/ds`.
fn generate(dir: &Path, scenario: &str) {
    std::fs::write(dir.join("s.toml"), scenario).unwrap();
    let o = run_in(
        dir,
        &["generate", "s.toml", "--out", "ds", "--format", "csv"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
}

/// The updates file as JSON values, each checked to be a Block Kit message.
fn messages(text: &str) -> Vec<serde_json::Value> {
    text.lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("one JSON object a line");
            assert!(v["text"].is_string(), "{l}");
            let blocks = v["blocks"].as_array().expect("blocks");
            assert_eq!(blocks[0]["type"], "header", "{l}");
            assert_eq!(blocks[1]["type"], "section", "{l}");
            v
        })
        .collect()
}

fn header(v: &serde_json::Value) -> &str {
    v["blocks"][0]["text"]["text"].as_str().unwrap()
}

#[test]
fn the_demo_rollback_gives_a_checklist_and_a_p0() {
    let d = tempfile::tempdir().unwrap();
    let md = d.path().join("checklist.md");
    let up = d.path().join("updates.ndjson");
    let o = run_in(
        root(),
        &[
            "report",
            "datasets/demo",
            "--markdown",
            md.to_str().unwrap(),
            "--updates",
            up.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let checklist = read(&md);
    // One line per Go gate and trigger per stage that ran (3 stages ran); the canary
    // judge is off by default, so not part of the run.
    let gates = rehearse::gate::Gate::ALL.len() - 1;
    assert!(!checklist.contains("canary_judge"));
    let lines = checklist
        .lines()
        .filter(|l| l.starts_with("- [x] ") || l.starts_with("- [ ] "))
        .filter(|l| l.contains("` ("))
        .count();
    assert_eq!(lines, 3 * gates, "{checklist}");
    assert!(checklist.contains("## Stage 4: full (100 % of traffic, 13:30 -> 15:30): NOT RUN"));
    assert!(checklist.contains("- [ ] 5xx rate `error_rate_5xx` (go + trigger): **fired**"));
    assert!(checklist.contains("- [ ] **QA**: the e2e harness runs with `?e2e=1`"));
    // ramp-25 rolled back at 12:56: its stage-end gates were never judged.
    let ramp25 = &checklist[checklist.find("## Stage 3: ramp-25").unwrap()..];
    assert!(ramp25.contains(
        "- [ ] availability `availability` (go): **not judged (rolled back before the stage's end)**\n"
    ));
    let ramp5 = &checklist[checklist.find("## Stage 2: ramp-5").unwrap()..];
    assert!(
        ramp5.contains(
            "- [x] availability `availability` (go): **ok**: judged at the stage's end\n"
        )
    );
    insta::assert_snapshot!("demo_checklist", checklist);

    let text = read(&up);
    let m = messages(&text);
    let heads: Vec<&str> = m.iter().map(header).collect();
    assert_eq!(
        heads,
        [
            "✅ synthetic: GO",
            "✅ ramp-5: GO",
            "🚨 P0: ramp-25 ROLLBACK",
            "Rollout outcome: ROLLBACK"
        ]
    );
    insta::assert_snapshot!("demo_updates", text);
}

/// A clean rollout, small: 8 requests/s (enough for ramp-5's windows), funnel and ledger.
const CLEAN: &str = r#"
name = "ship-clean"
description = "clean"
[generate]
seed = 1301
rps = 8.0
[funnel]
users_per_hour = 300.0
[expect]
outcome = "complete"
"#;

#[test]
fn a_complete_rollout_with_2h_stable_earns_the_board_note() {
    let d = tempfile::tempdir().unwrap();
    generate(d.path(), CLEAN);
    let o = run_in(
        d.path(),
        &[
            "report",
            "ds",
            "--updates",
            "up.ndjson",
            "--markdown",
            "c.md",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let text = read(&d.path().join("up.ndjson"));
    let m = messages(&text);
    let heads: Vec<&str> = m.iter().map(header).collect();
    assert_eq!(
        heads,
        [
            "✅ synthetic: GO",
            "✅ ramp-5: GO",
            "✅ ramp-25: GO",
            "✅ full: GO",
            "Rollout outcome: COMPLETE",
            "📋 Board note"
        ]
    );
    let note = m[5]["blocks"][1]["text"]["text"].as_str().unwrap();
    assert!(note.contains("*customer note: eligible*"), "{note}");
    assert!(note.contains("has run 2 h stable"), "{note}");
    assert!(note.contains("• uptime: "), "{note}");
    // Early conversion: persons who arrived during the full stage.
    assert!(note.contains(" visitors)"), "{note}");
    insta::assert_snapshot!("clean_board_note", note);
    insta::assert_snapshot!("clean_checklist", read(&d.path().join("c.md")));
}

#[test]
fn a_shorter_full_stage_or_a_hold_earns_no_board_note() {
    let d = tempfile::tempdir().unwrap();
    generate(d.path(), CLEAN);
    // 1 h at full is not 2 h stable.
    let o = run_in(
        d.path(),
        &[
            "report",
            "ds",
            "--set",
            "stages.full.duration=1h",
            "--updates",
            "up.ndjson",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let m = messages(&read(&d.path().join("up.ndjson")));
    assert_eq!(header(m.last().unwrap()), "Rollout outcome: COMPLETE");

    // Paid campaigns from ramp-5: a hold, no P0, no board note.
    let d = tempfile::tempdir().unwrap();
    generate(
        d.path(),
        &CLEAN.replace(
            "[expect]",
            "[[funnel.faults]]\nkind = \"paid_traffic\"\nstage = \"ramp-5\"\nat = \"0m\"\n[expect]",
        ),
    );
    let o = run_in(d.path(), &["report", "ds", "--updates", "up.ndjson"]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let m = messages(&read(&d.path().join("up.ndjson")));
    let heads: Vec<&str> = m.iter().map(header).collect();
    assert_eq!(
        heads,
        [
            "✅ synthetic: GO",
            "⚠️ ramp-5: HOLD",
            "Rollout outcome: HOLD"
        ]
    );
    let body = m[1]["blocks"][1]["text"]["text"].as_str().unwrap();
    assert!(body.contains("on paid_acquisition"), "{body}");
    assert!(body.contains("paid visits in ramp-5"), "{body}");
}

#[test]
fn no_pii_value_reaches_the_checklist_or_the_updates() {
    let d = tempfile::tempdir().unwrap();
    generate(
        d.path(),
        r#"
name = "ship-pii"
description = "an e-mail address in the logs"
[generate]
seed = 4141
rps = 2.0
streams = ["probes", "logs"]
[[generate.faults]]
kind = "pii_leak"
stage = "ramp-5"
at = "10m"
per_min = 2.0
pii = "email"
[expect]
outcome = "rollback"
"#,
    );
    let o = run_in(
        d.path(),
        &[
            "report",
            "ds",
            "--markdown",
            "c.md",
            "--updates",
            "up.ndjson",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let logs = read(&d.path().join("ds/logs.csv"));
    let det = PiiDetector::new();
    assert!(!det.find_all(&logs).is_empty(), "the logs carry PII");
    for f in ["c.md", "up.ndjson"] {
        let text = read(&d.path().join(f));
        assert!(text.contains("pii_in_logs"), "{f}: {text}");
        let found = det.find_all(&text);
        assert!(found.is_empty(), "{f}: {found:?}");
        assert!(!text.contains("@example.com"), "{f}");
    }
}

/// Writes the whole pack (dashboard, checklist, updates) of `input`, run in `dir`, to
/// files named `prefix` plus `.html`, `.md`, `.ndjson`, and returns the three texts.
fn pack(dir: &Path, input: &[&str], prefix: &str) -> [String; 3] {
    let (html, md, up) = (
        format!("{prefix}.html"),
        format!("{prefix}.md"),
        format!("{prefix}.ndjson"),
    );
    let mut args = vec!["report"];
    args.extend_from_slice(input);
    args.extend(["--html", &html, "--markdown", &md, "--updates", &up]);
    let o = run_in(dir, &args);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    [html, md, up].map(|f| read(&dir.join(f)))
}

#[test]
fn a_recording_gives_the_same_pack_as_the_dataset() {
    let d = tempfile::tempdir().unwrap();
    generate(d.path(), &clean_with_security());
    let o = run_in(d.path(), &["run", "ds", "--record", "run.arrow"]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let [html_a, md_a, up_a] = pack(d.path(), &["--recording", "run.arrow"], "a");
    let [html_b, md_b, up_b] = pack(d.path(), &["ds"], "b");
    assert_eq!(up_a, up_b);
    assert_eq!(md_a, md_b);
    assert_eq!(html_a, html_b);
    // The recording knew the funnel stream was there, and the early conversion.
    assert!(
        md_a.contains("- [x] tracking gap `tracking_gap` (go): **ok**"),
        "{md_a}"
    );
    let board = up_a.lines().last().unwrap();
    assert!(board.contains("📋 Board note"), "{board}");
    assert!(board.contains(" visitors)"), "{board}");
    assert!(!board.contains("not measured"), "{board}");
}

#[test]
fn the_demo_pack_from_a_recording_equals_the_pack_from_the_dataset() {
    let d = tempfile::tempdir().unwrap();
    let rec = d.path().join("demo.arrow");
    let o = run_in(
        root(),
        &["run", "datasets/demo", "--record", rec.to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(4), "{}", err(&o));
    // Absolute output paths: the binary runs in the repository (for datasets/demo).
    let prefix = |p: &str| d.path().join(p).to_str().unwrap().to_string();
    let texts = [
        pack(
            root(),
            &["--recording", rec.to_str().unwrap()],
            &prefix("rec"),
        ),
        pack(root(), &["datasets/demo"], &prefix("ds")),
    ];
    assert_eq!(texts[0][2], texts[1][2], "updates");
    assert_eq!(texts[0][1], texts[1][1], "checklist");
    assert_eq!(texts[0][0], texts[1][0], "dashboard");
    // And the recording's dashboard is the full one: the p50, probe results, security
    // events per tick, the funnel, fees and ledger.
    let page = &texts[0][0];
    let data = page_data(page);
    assert!(
        chart_line(&data, "latency", "p50")
            .iter()
            .any(Option::is_some)
    );
    assert!(
        chart_line(&data, "probes", "passed")
            .iter()
            .any(|v| v.unwrap() > 0.0)
    );
    assert!(
        chart_line(&data, "security-events", "rate limited")
            .iter()
            .any(|v| v.unwrap() > 0.0)
    );
    assert!(page.contains("<h3>Tracking gaps</h3>"));
    assert!(page.contains("<td>fee violations</td>"));
    assert!(!page.contains("No funnel or ledger stream"));
}

/// Reads one POST from a webhook client, checks its request line, answers `status` and
/// returns the body (`None` when the client went away, e.g. a refused TLS handshake).
fn serve_one<S: Read + Write>(s: S, status: &str) -> Option<String> {
    let mut r = BufReader::new(s);
    let mut len = 0usize;
    let mut first = String::new();
    r.read_line(&mut first).ok()?;
    if first.is_empty() {
        return None;
    }
    assert!(first.starts_with("POST /hook HTTP/1.1"), "{first}");
    loop {
        let mut l = String::new();
        r.read_line(&mut l).ok()?;
        if l == "\r\n" || l.is_empty() {
            break;
        }
        if let Some(v) = l.to_ascii_lowercase().strip_prefix("content-length:") {
            len = v.trim().parse().unwrap();
        }
    }
    let mut body = vec![0; len];
    r.read_exact(&mut body).ok()?;
    let s = r.get_mut();
    write!(s, "HTTP/1.1 {status}\r\nContent-Length: 2\r\n\r\nok").unwrap();
    s.flush().unwrap();
    Some(String::from_utf8(body).unwrap())
}

/// A webhook on 127.0.0.1 answering `status` to every request, collecting the bodies.
fn webhook(status: &'static str, max: usize) -> (String, std::thread::JoinHandle<Vec<String>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let h = std::thread::spawn(move || {
        let mut bodies = Vec::new();
        for stream in listener.incoming().take(max) {
            let s = stream.unwrap();
            s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
                .unwrap();
            bodies.extend(serve_one(s, status));
            if !status.starts_with('2') {
                break;
            }
        }
        bodies
    });
    (url, h)
}

/// Runs `openssl` (Debian's; .ci/run installs it) in `dir`.
fn openssl(dir: &Path, args: &[&str]) {
    let o = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .expect("openssl runs (apt-get install -y openssl)");
    assert!(o.status.success(), "openssl {args:?}: {}", err(&o));
}

/// A throwaway CA (`ca.pem`) and a server certificate it signed for the IP address
/// 127.0.0.1 (`server.pem`, key `server.key`), made in `dir` for this test only.
fn test_pki(dir: &Path) {
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let mut a = vec!["req", "-x509"];
    a.extend(ec);
    a.extend([
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=rehearse test CA",
    ]);
    openssl(dir, &a);
    let mut a = vec!["req"];
    a.extend(ec);
    a.extend([
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=127.0.0.1",
    ]);
    openssl(dir, &a);
    std::fs::write(
        dir.join("ext.cnf"),
        "basicConstraints=CA:FALSE\nsubjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-set_serial",
            "2",
            "-days",
            "2",
            "-extfile",
            "ext.cnf",
            "-out",
            "server.pem",
        ],
    );
}

/// An https webhook on 127.0.0.1 serving `dir`'s test certificate, answering 200 to
/// up to `max` connections, collecting the bodies (a refused handshake adds none).
fn https_webhook(dir: &Path, max: usize) -> (String, std::thread::JoinHandle<Vec<String>>) {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(dir.join("server.pem"))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_file(dir.join("server.key")).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .unwrap();
    let config = std::sync::Arc::new(config);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("https://{}/hook", listener.local_addr().unwrap());
    let h = std::thread::spawn(move || {
        let mut bodies = Vec::new();
        for stream in listener.incoming().take(max) {
            let s = stream.unwrap();
            s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
                .unwrap();
            let conn = rustls::ServerConnection::new(config.clone()).unwrap();
            let mut tls = rustls::StreamOwned::new(conn, s);
            match serve_one(&mut tls, "200 OK") {
                Some(b) => bodies.push(b),
                None => break,
            }
            tls.conn.send_close_notify();
            let _ = tls.conn.complete_io(&mut tls.sock);
        }
        bodies
    });
    (url, h)
}

#[test]
fn post_sends_the_updates_over_https_verifying_the_certificate() {
    let d = tempfile::tempdir().unwrap();
    test_pki(d.path());
    let up = d.path().join("up.ndjson");
    let ca = d.path().join("ca.pem");
    let (url, h) = https_webhook(d.path(), 4);
    let o = run_in(
        root(),
        &[
            "report",
            "datasets/demo",
            "--updates",
            up.to_str().unwrap(),
            "--post",
            &url,
            "--cacert",
            ca.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("4 updates posted to https://"));
    let bodies = h.join().unwrap();
    let lines: Vec<String> = read(&up).lines().map(str::to_string).collect();
    assert_eq!(bodies, lines);

    // Without --cacert the machine's trust store does not know the test CA: refused,
    // nothing sent.
    let (url, h) = https_webhook(d.path(), 1);
    let o = run_in(root(), &["report", "datasets/demo", "--post", &url]);
    assert_eq!(o.status.code(), Some(1), "{}", err(&o));
    assert!(
        err(&o).contains("message 1: TLS with the webhook failed"),
        "{}",
        err(&o)
    );
    assert!(err(&o).contains("--cacert FILE"), "{}", err(&o));
    assert!(h.join().unwrap().is_empty());

    // A CA that did not sign the server's certificate: refused too.
    let (url, h) = https_webhook(d.path(), 1);
    let server = d.path().join("server.pem");
    let o = run_in(
        root(),
        &[
            "report",
            "datasets/demo",
            "--post",
            &url,
            "--cacert",
            server.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", err(&o));
    assert!(
        err(&o).contains("TLS with the webhook failed"),
        "{}",
        err(&o)
    );
    assert!(h.join().unwrap().is_empty());
}

#[test]
fn post_sends_every_update_to_the_webhook_in_order() {
    let d = tempfile::tempdir().unwrap();
    let up = d.path().join("up.ndjson");
    let (url, h) = webhook("200 OK", 4);
    let o = run_in(
        root(),
        &[
            "report",
            "datasets/demo",
            "--updates",
            up.to_str().unwrap(),
            "--post",
            &url,
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let bodies = h.join().unwrap();
    let lines: Vec<String> = read(&up).lines().map(str::to_string).collect();
    assert_eq!(bodies, lines);

    // A refusing webhook stops at the first message, naming it.
    let (url, h) = webhook("500 Internal Server Error", 4);
    let o = run_in(root(), &["report", "datasets/demo", "--post", &url]);
    assert_eq!(o.status.code(), Some(1), "{}", err(&o));
    assert!(
        err(&o).contains("message 1 was refused: HTTP/1.1 500"),
        "{}",
        err(&o)
    );
    assert_eq!(h.join().unwrap().len(), 1);
}

#[test]
fn report_needs_an_output_a_web_url_and_a_usable_ca_file() {
    let o = run_in(root(), &["report", "datasets/demo"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        err(&o).contains("writes nothing without --html"),
        "{}",
        err(&o)
    );
    let o = run_in(
        root(),
        &["report", "datasets/demo", "--post", "ftp://hooks.example/x"],
    );
    assert_eq!(o.status.code(), Some(2), "{}", err(&o));
    assert!(
        err(&o).contains("not an http:// or https:// URL"),
        "{}",
        err(&o)
    );
    // A CA file is for an https webhook, and must hold a certificate.
    let o = run_in(
        root(),
        &[
            "report",
            "datasets/demo",
            "--markdown",
            "x.md",
            "--cacert",
            "Cargo.toml",
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}", err(&o));
    let o = run_in(
        root(),
        &[
            "report",
            "datasets/demo",
            "--post",
            "https://127.0.0.1:9/hook",
            "--cacert",
            "Cargo.toml",
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}", err(&o));
    assert!(
        err(&o).contains("--cacert Cargo.toml: it holds no certificate"),
        "{}",
        err(&o)
    );
    let o = run_in(root(), &["report", "--markdown", "x.md"]);
    assert_eq!(o.status.code(), Some(2), "{}", err(&o));
}

/// The headless browser, when installed (`chromium` from Debian). CI installs it and
/// sets `CI`, where its absence is a failure.
fn chromium() -> Option<std::path::PathBuf> {
    for name in ["chromium", "chromium-browser"] {
        for dir in std::env::var("PATH").unwrap_or_default().split(':') {
            let p = Path::new(dir).join(name);
            if p.is_file() {
                return Some(p);
            }
        }
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI needs chromium to render the dashboard: apt-get install -y chromium"
    );
    eprintln!("chromium is not installed: the dashboard is not rendered here");
    None
}

fn browser(exe: &Path, args: &[&str]) -> Output {
    Command::new(exe)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-extensions",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("chromium runs")
}

/// The RGB(A) pixels of an 8-bit PNG (colour types 2 and 6, non-interlaced).
fn png_pixels(bytes: &[u8]) -> (usize, usize, usize, Vec<u8>) {
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "a PNG");
    let (mut w, mut h, mut bpp) = (0usize, 0usize, 0usize);
    let mut idat = Vec::new();
    let mut i = 8;
    while i + 8 <= bytes.len() {
        let len = u32::from_be_bytes(bytes[i..i + 4].try_into().unwrap()) as usize;
        let kind = &bytes[i + 4..i + 8];
        let body = &bytes[i + 8..i + 8 + len];
        match kind {
            b"IHDR" => {
                w = u32::from_be_bytes(body[0..4].try_into().unwrap()) as usize;
                h = u32::from_be_bytes(body[4..8].try_into().unwrap()) as usize;
                assert_eq!(body[8], 8, "8-bit");
                bpp = match body[9] {
                    2 => 3,
                    6 => 4,
                    c => panic!("colour type {c}"),
                };
                assert_eq!(body[12], 0, "not interlaced");
            }
            b"IDAT" => idat.extend_from_slice(body),
            _ => {}
        }
        i += 12 + len;
    }
    let mut raw = Vec::new();
    flate2::read::ZlibDecoder::new(&idat[..])
        .read_to_end(&mut raw)
        .unwrap();
    let stride = w * bpp;
    let mut out = vec![0u8; h * stride];
    for y in 0..h {
        let f = raw[y * (stride + 1)];
        let line = &raw[y * (stride + 1) + 1..(y + 1) * (stride + 1)];
        for x in 0..stride {
            let a = if x >= bpp {
                out[y * stride + x - bpp]
            } else {
                0
            } as i32;
            let b = if y > 0 { out[(y - 1) * stride + x] } else { 0 } as i32;
            let c = if x >= bpp && y > 0 {
                out[(y - 1) * stride + x - bpp]
            } else {
                0
            } as i32;
            let pred = match f {
                0 => 0,
                1 => a,
                2 => b,
                3 => (a + b) / 2,
                4 => {
                    let p = a + b - c;
                    let (pa, pb, pc) = ((p - a).abs(), (p - b).abs(), (p - c).abs());
                    if pa <= pb && pa <= pc {
                        a
                    } else if pb <= pc {
                        b
                    } else {
                        c
                    }
                }
                _ => panic!("filter {f}"),
            };
            out[y * stride + x] = (line[x] as i32 + pred) as u8;
        }
    }
    (w, h, bpp, out)
}

#[test]
fn the_demo_dashboard_renders_in_headless_chromium() {
    let d = tempfile::tempdir().unwrap();
    let html = d.path().join("report.html");
    let o = run_in(
        root(),
        &["report", "datasets/demo", "--html", html.to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let page = read(&html);
    assert!(page.len() < 2 * 1024 * 1024, "{} bytes", page.len());
    // Self-contained: no external script, style, image or frame.
    for bad in [
        "src=\"http",
        "href=\"http",
        "src='http",
        "@import",
        "<iframe",
        "<link ",
    ] {
        assert!(!page.contains(bad), "{bad}");
    }
    // The tick count the data says: every tick of the stages that ran.
    let o = run_in(root(), &["run", "datasets/demo", "--json"]);
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let ticks: u64 = report["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["ticks"].as_u64().unwrap())
        .sum();
    assert!(ticks > 100);
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("\"outcome\": \"rollback\""),
        "the demo rolls back"
    );

    let Some(exe) = chromium() else { return };
    let url = format!("file://{}", html.display());
    let o = browser(
        &exe,
        &[
            "--virtual-time-budget=10000",
            "--window-size=1280,800",
            "--dump-dom",
            &url,
        ],
    );
    let dom = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(o.status.success(), "{}", err(&o));
    let attr = |tag: &str, name: &str| -> Option<String> {
        let i = dom.find(tag)?;
        let rest = &dom[i..];
        let end = rest.find('>')?;
        let head = &rest[..end];
        let j = head.find(&format!("{name}=\""))? + name.len() + 2;
        Some(head[j..].split('"').next()?.to_string())
    };
    assert_eq!(
        attr("<body", "data-errors").as_deref(),
        Some("0"),
        "console or script errors"
    );
    assert_eq!(
        attr("<body", "data-violations").as_deref(),
        Some("0"),
        "a network request was attempted (blocked by the page's CSP)"
    );
    let charts = attr("<body", "data-rendered").expect("the charts were drawn");
    let n: usize = charts.parse().unwrap();
    // Nine gate dashboards and, from a replay of a dataset with probes and security
    // events, probe results and the WAF blocks and rate-limited requests per tick.
    assert_eq!(n, 11, "{n} charts");
    let mut seen = 0;
    for (i, _) in dom.match_indices("<div class=\"chart\" id=\"chart-") {
        let head = &dom[i..i + dom[i..].find('>').unwrap()];
        let points = head
            .split("data-points=\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
            .unwrap_or_else(|| panic!("a chart without points: {head}"));
        assert_eq!(points.parse::<u64>().unwrap(), ticks, "{head}");
        seen += 1;
    }
    assert_eq!(seen, n);
    // From a replay the latency chart also draws the p50: p50, p95, p99 and two limits.
    let latency = format!(
        "id=\"chart-latency\" data-expected=\"{ticks}\" data-points=\"{ticks}\" data-series=\"5\""
    );
    assert!(dom.contains(&latency), "{latency}");
    let security = format!(
        "id=\"chart-security-events\" data-expected=\"{ticks}\" data-points=\"{ticks}\" data-series=\"2\""
    );
    assert!(dom.contains(&security), "{security}");
    // The p50 has data exactly where the p95 has, and never exceeds it.
    let json = page
        .split("id=\"rehearse-data\">")
        .nth(1)
        .and_then(|r| r.split("</script>").next())
        .unwrap()
        .replace("<\\/", "</");
    let data: serde_json::Value = serde_json::from_str(&json).unwrap();
    let chart = data["charts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "latency")
        .unwrap();
    let line = |label: &str| -> Vec<Option<f64>> {
        chart["series"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["label"] == label)
            .unwrap()["values"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64())
            .collect()
    };
    let (p50, p95) = (line("p50"), line("p95"));
    assert_eq!(p50.len() as u64, ticks);
    let mut compared = 0;
    for (a, b) in p50.iter().zip(&p95) {
        assert_eq!(a.is_some(), b.is_some());
        if let (Some(a), Some(b)) = (a, b) {
            assert!(a <= b && *a > 0.0, "p50 {a} p95 {b}");
            compared += 1;
        }
    }
    assert!(compared > 30, "{compared}");
    assert!(dom.contains("<canvas"), "uPlot drew its canvases");

    // A screenshot at 1280x800 is not blank: many distinct colours, not one background.
    let shot = d.path().join("shot.png");
    let o = browser(
        &exe,
        &[
            "--virtual-time-budget=10000",
            "--window-size=1280,800",
            &format!("--screenshot={}", shot.display()),
            &url,
        ],
    );
    assert!(o.status.success(), "{}", err(&o));
    let (w, h, bpp, px) = png_pixels(&std::fs::read(&shot).unwrap());
    assert_eq!((w, h), (1280, 800));
    let mut colours = std::collections::BTreeSet::new();
    let mut non_white = 0usize;
    for p in px.chunks(bpp) {
        colours.insert((p[0], p[1], p[2]));
        if p[0] < 240 || p[1] < 240 || p[2] < 240 {
            non_white += 1;
        }
    }
    assert!(colours.len() > 50, "{} colours", colours.len());
    assert!(non_white > w * h / 50, "{non_white} non-white pixels");

    // It prints: a PDF of several pages.
    let pdf = d.path().join("report.pdf");
    let o = browser(
        &exe,
        &[
            "--virtual-time-budget=10000",
            "--no-pdf-header-footer",
            &format!("--print-to-pdf={}", pdf.display()),
            &url,
        ],
    );
    assert!(o.status.success(), "{}", err(&o));
    let bytes = std::fs::read(&pdf).unwrap();
    assert!(bytes.starts_with(b"%PDF"), "a PDF");
    // Page objects: `/Type /Page` not followed by `s` (that is the page tree).
    let marker = b"/Type /Page";
    let pages = bytes
        .windows(marker.len() + 1)
        .filter(|w| &w[..marker.len()] == marker && w[marker.len()] != b's')
        .count();
    assert!(pages >= 2, "{pages} page markers");
}

/// The dashboard's data (the JSON the page's script draws).
fn page_data(page: &str) -> serde_json::Value {
    let json = page
        .split("id=\"rehearse-data\">")
        .nth(1)
        .and_then(|r| r.split("</script>").next())
        .expect("the page carries its data")
        .replace("<\\/", "</");
    serde_json::from_str(&json).unwrap()
}

/// The values of one line of one chart, `None` where the chart has a gap.
fn chart_line(data: &serde_json::Value, chart: &str, label: &str) -> Vec<Option<f64>> {
    let c = data["charts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == chart)
        .unwrap_or_else(|| panic!("no chart {chart}"));
    c["series"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["label"] == label)
        .unwrap_or_else(|| panic!("no line {label} in {chart}"))["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64())
        .collect()
}

/// A clean rollout with a security stream: WAF blocks, auth failures and rate-limited
/// requests throughout.
fn clean_with_security() -> String {
    CLEAN.replace(
        "rps = 8.0",
        "rps = 8.0\nstreams = [\"probes\", \"security\"]",
    )
}

#[test]
fn the_dashboard_charts_waf_blocks_and_rate_limited_requests_per_tick() {
    let d = tempfile::tempdir().unwrap();
    generate(d.path(), &clean_with_security());
    let o = run_in(d.path(), &["report", "ds", "--html", "r.html"]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let page = read(&d.path().join("r.html"));
    assert!(page.contains("id=\"chart-security-events\""));
    let data = page_data(&page);
    let t: Vec<i64> = data["t"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_i64().unwrap() * 1000)
        .collect();
    let tick = t[1] - t[0];
    // Count the security stream's rows by kind into the tick intervals `(at - tick, at]`.
    let csv = read(&d.path().join("ds/security.csv"));
    let (mut waf, mut limited) = (vec![0u64; t.len()], vec![0u64; t.len()]);
    let (mut waf_rows, mut limited_rows) = (0, 0);
    for line in csv.lines().skip(1) {
        let mut f = line.split(',');
        let ts = rehearse::time::parse_rfc3339(f.next().unwrap()).unwrap();
        let kind = f.next().unwrap();
        let Some(i) = t.iter().position(|&at| ts > at - tick && ts <= at) else {
            continue;
        };
        match kind {
            "waf_block" => {
                waf[i] += 1;
                waf_rows += 1;
            }
            "rate_limited" => {
                limited[i] += 1;
                limited_rows += 1;
            }
            _ => {}
        }
    }
    assert!(
        waf_rows > 100 && limited_rows > 100,
        "{waf_rows} {limited_rows}"
    );
    let as_counts = |v: Vec<Option<f64>>| -> Vec<u64> {
        v.into_iter()
            .map(|x| x.expect("a count at every tick") as u64)
            .collect()
    };
    assert_eq!(
        as_counts(chart_line(&data, "security-events", "waf blocks")),
        waf
    );
    assert_eq!(
        as_counts(chart_line(&data, "security-events", "rate limited")),
        limited
    );

    // Without a security stream there is nothing to chart: no empty chart.
    let d = tempfile::tempdir().unwrap();
    generate(d.path(), CLEAN);
    let o = run_in(d.path(), &["report", "ds", "--html", "r.html"]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let page = read(&d.path().join("r.html"));
    assert!(!page.contains("security-events"));
}
