//! Interoperability: access logs written by a real nginx (started here on 127.0.0.1)
//! replayed as the `requests` stream and compared with the same requests in the dataset
//! format; Envoy and ALB logs written from their documentation; `rehearse export`
//! outputs checked by the real `promtool`.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

fn rehearse(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rehearse"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("the binary runs")
}

fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    })
}

/// The parts of a run report that do not name input files or timings.
fn verdict_parts(v: &serde_json::Value) -> serde_json::Value {
    let mut out = serde_json::Map::new();
    for k in [
        "outcome",
        "rollback",
        "stages",
        "t0",
        "end",
        "gates",
        "follow_ups",
        "skipped_rows",
    ] {
        out.insert(k.into(), v[k].clone());
    }
    let inputs: Vec<serde_json::Value> = v["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            serde_json::json!({"stream": i["stream"], "rows": i["rows"], "skipped": i["skipped"],
                "outside": i["outside_rollout"]})
        })
        .collect();
    out.insert("inputs".into(), inputs.into());
    out.into()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A real nginx under a temporary prefix; stopped (gracefully, so its logs are
/// complete) on drop.
struct Nginx {
    child: Child,
    prefix: PathBuf,
}

impl Nginx {
    fn start(prefix: &Path, conf: &str, port: u16) -> Self {
        let nginx = ["nginx", "/usr/sbin/nginx"]
            .into_iter()
            .find(|n| Command::new(n).arg("-v").output().is_ok())
            .expect("nginx is not installed: apt-get install -y nginx (.ci/run does)");
        std::fs::create_dir_all(prefix.join("tmp")).unwrap();
        std::fs::write(prefix.join("nginx.conf"), conf).unwrap();
        let child = Command::new(nginx)
            .arg("-p")
            .arg(prefix)
            .arg("-c")
            .arg(prefix.join("nginx.conf"))
            .arg("-e")
            .arg(prefix.join("error.log"))
            .args(["-g", "daemon off;"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nginx starts");
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "nginx did not listen on 127.0.0.1:{port}: {}",
                std::fs::read_to_string(prefix.join("error.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Self {
            child,
            prefix: prefix.to_path_buf(),
        }
    }

    /// Graceful stop (SIGQUIT): workers finish and close their logs.
    fn stop(&mut self) {
        let _ = Command::new("kill")
            .arg("-QUIT")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.child.try_wait().ok().flatten().is_none() {
            if Instant::now() > deadline {
                let _ = self.child.kill();
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.wait();
        let _ = &self.prefix;
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            self.stop();
        }
    }
}

/// One HTTP/1.0 request; the response's status.
fn get(port: u16, path: &str, headers: &[(&str, &str)]) -> u16 {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut req = format!("GET {path} HTTP/1.0\r\nHost: shop.test\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    resp.split(' ').nth(1).unwrap().parse().unwrap()
}

/// The nginx `log_format` under test: the request line, `$time_local` before the
/// completion instant `$msec`, and the upstream that answered.
const LOG_FORMAT: &str = "$remote_addr - $remote_user [$time_local] $msec \"$request\" $status $body_bytes_sent $request_time \"$http_referer\" \"$http_user_agent\" $upstream_addr";

/// Seconds text (`1772445600.123`, `0.004`) in milliseconds, exactly.
fn ms_text(s: &str) -> String {
    let (i, f) = s.split_once('.').unwrap_or((s, ""));
    let f = format!("{f:0<3}");
    let ms: i64 = format!("{i}{}", &f[..3]).parse().unwrap();
    format!(
        "{ms}{}",
        if f.len() > 3 {
            format!(".{}", &f[3..])
        } else {
            String::new()
        }
    )
}

#[test]
fn nginx_access_log_replays_like_the_same_requests_in_the_dataset_format() {
    let tmp = tempfile::tempdir().unwrap();
    let (front, stable, canary) = (free_port(), free_port(), free_port());
    let p = tmp.path().join("nginx");
    let conf = format!(
        r#"worker_processes 1;
pid {p}/nginx.pid;
events {{ worker_connections 64; }}
http {{
    client_body_temp_path {p}/tmp/body;
    proxy_temp_path {p}/tmp/proxy;
    fastcgi_temp_path {p}/tmp/fastcgi;
    uwsgi_temp_path {p}/tmp/uwsgi;
    scgi_temp_path {p}/tmp/scgi;
    log_format rehearse '{LOG_FORMAT}';
    log_format check escape=json '{{"msec":"$msec","uri":"$request_uri","status":"$status","time":"$request_time","ua":"$http_user_agent","up":"$upstream_addr"}}';
    upstream stable {{ server 127.0.0.1:{stable}; }}
    upstream canary {{ server 127.0.0.1:{canary}; }}
    map $http_x_cohort $pool {{ canary canary; default stable; }}
    server {{
        listen 127.0.0.1:{front};
        access_log {p}/access.log rehearse;
        access_log {p}/check.json check;
        location / {{ proxy_pass http://$pool; }}
    }}
    server {{
        listen 127.0.0.1:{stable};
        access_log off;
        location / {{ return 200 "stable\n"; }}
    }}
    server {{
        listen 127.0.0.1:{canary};
        access_log off;
        location / {{ return 200 "canary\n"; }}
        location /api/fail {{ return 503; }}
        location /api/missing {{ return 404; }}
    }}
}}
"#,
        p = p.display()
    );
    let mut nginx = Nginx::start(&p, &conf, front);
    // 150 real canary requests (6 of them 503, 2 of them 404), 150 baseline ones, 30
    // synthetic checks of the canary that fail and must not count.
    let mut sent = Vec::new();
    for i in 0..150 {
        let path = match i % 25 {
            0 => format!("/api/fail?i={i}"),
            7 if i < 40 => format!("/api/missing?i={i}"),
            _ => format!("/api/search?q={i}"),
        };
        sent.push(get(
            front,
            &path,
            &[("X-Cohort", "canary"), ("User-Agent", "Mozilla/5.0")],
        ));
        sent.push(get(
            front,
            &format!("/api/fail?i={i}"),
            &[("User-Agent", "Mozilla/5.0 (X11)")],
        ));
    }
    for i in 0..30 {
        sent.push(get(
            front,
            &format!("/api/fail?probe={i}"),
            &[
                ("X-Cohort", "canary"),
                ("User-Agent", "probe SyntheticCanary/2.1"),
            ],
        ));
    }
    nginx.stop();
    assert_eq!(sent.iter().filter(|s| **s == 503).count(), 6 + 30);
    assert_eq!(sent.iter().filter(|s| **s == 404).count(), 2);
    assert_eq!(
        sent.iter().filter(|s| **s == 200).count(),
        292,
        "stable answers 200 everywhere"
    );

    // The same requests in the dataset format, from nginx's second (JSON) log of them.
    let check = std::fs::read_to_string(p.join("check.json")).unwrap();
    let mut csv = String::from("ts,endpoint,cohort,source,status,latency_ms\n");
    let mut first_ms = i64::MAX;
    for line in check.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let s = |k: &str| v[k].as_str().unwrap().to_string();
        let ts = ms_text(&s("msec"));
        first_ms = first_ms.min(ts.parse().unwrap());
        let uri = s("uri");
        let endpoint = uri.split('?').next().unwrap();
        let cohort = if s("up") == format!("127.0.0.1:{canary}") {
            "canary"
        } else {
            "baseline"
        };
        let source = if s("ua").contains("SyntheticCanary") {
            "synthetic"
        } else {
            "real"
        };
        csv.push_str(&format!(
            "{ts},{endpoint},{cohort},{source},{},{}\n",
            s("status"),
            ms_text(&s("time"))
        ));
    }
    assert_eq!(check.lines().count(), sent.len());
    let access = std::fs::read(p.join("access.log")).unwrap();
    assert_eq!(access.iter().filter(|b| **b == b'\n').count(), sent.len());

    // T0 two hours before the requests' minute: they fall in ramp-5, where 6 real canary
    // 5xx of 150 breach the 0.5 % Go gate (a hold), however the synthetic ones are read.
    let t0 = (first_ms.div_euclid(60_000) - 120) * 60_000;
    let start = rehearse_time(t0);
    let from_csv = tmp.path().join("csv");
    std::fs::create_dir_all(&from_csv).unwrap();
    std::fs::write(from_csv.join("requests.csv"), &csv).unwrap();
    std::fs::write(
        from_csv.join("dataset.toml"),
        format!("start = \"{start}\"\n"),
    )
    .unwrap();
    let manifest = format!(
        "start = \"{start}\"\n\n[access_log]\nfile = \"access.log.gz\"\nformat = \"nginx\"\nlog_format = '{LOG_FORMAT}'\ncohort_field = \"$upstream_addr\"\ncanary_values = [\"127.0.0.1:{canary}\"]\n"
    );
    let from_log = tmp.path().join("log");
    std::fs::create_dir_all(&from_log).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&access).unwrap();
    std::fs::write(from_log.join("access.log.gz"), gz.finish().unwrap()).unwrap();
    std::fs::write(from_log.join("dataset.toml"), &manifest).unwrap();
    let plain = tmp.path().join("plain");
    std::fs::create_dir_all(&plain).unwrap();
    std::fs::write(plain.join("access.log"), &access).unwrap();
    std::fs::write(
        plain.join("dataset.toml"),
        manifest.replace("access.log.gz", "access.log"),
    )
    .unwrap();

    let a = rehearse(&["run", from_csv.to_str().unwrap(), "--json"]);
    let b = rehearse(&["run", from_log.to_str().unwrap(), "--json"]);
    let c = rehearse(&["run", plain.to_str().unwrap(), "--json"]);
    assert_eq!(
        a.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&a.stderr)
    );
    assert_eq!(
        b.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&b.stderr)
    );
    let (ja, jb, jc) = (json(&a), json(&b), json(&c));
    assert_eq!(ja["outcome"], "hold");
    assert_eq!(ja["stages"][1]["name"], "ramp-5");
    assert_eq!(ja["stages"][1]["verdict"], "hold");
    assert!(
        ja["stages"][1]["reasons"]
            .as_array()
            .unwrap()
            .contains(&"error_rate_5xx".into())
    );
    assert_eq!(verdict_parts(&ja), verdict_parts(&jb));
    assert_eq!(verdict_parts(&jb), verdict_parts(&jc));
    assert_eq!(jb["inputs"][0]["file"], "access.log.gz");
    assert_eq!(jb["inputs"][0]["rows"], sent.len() as u64);
}

/// RFC 3339 of epoch milliseconds (whole minutes here), without a date library.
fn rehearse_time(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

fn write_dir(dir: &Path, files: &[(&str, &str)]) {
    std::fs::create_dir_all(dir).unwrap();
    for (name, text) in files {
        std::fs::write(dir.join(name), text).unwrap();
    }
}

#[test]
fn a_bad_access_log_line_names_file_line_and_field_and_skip_counts_it() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("ds");
    let fmt = "$msec \"$request\" $status $request_time \"$http_user_agent\"";
    write_dir(
        &d,
        &[
            (
                "dataset.toml",
                &format!(
                    "start = \"2026-03-02T10:00:00Z\"\n[access_log]\nfile = \"access.log\"\nformat = \"nginx\"\nlog_format = '{fmt}'\ncohort = \"canary\"\n"
                ),
            ),
            (
                "access.log",
                "1772452800.100 \"GET /a HTTP/1.1\" 200 0.010 \"x\"\n1772452800.200 \"GET /b HTTP/1.1\" 2oo 0.010 \"x\"\n",
            ),
        ],
    );
    let o = rehearse(&["run", d.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("access.log: line 2, column `$status`") && err.contains("`2oo`"),
        "{err}"
    );
    let o = rehearse(&["run", d.to_str().unwrap(), "--on-error", "skip", "--json"]);
    let j = json(&o);
    assert_eq!(j["inputs"][0]["rows"], 1);
    assert_eq!(j["inputs"][0]["skipped"], 1);
    // A requests file beside the access log is two sources for one stream.
    std::fs::write(
        d.join("requests.csv"),
        "ts,endpoint,cohort,source,status,latency_ms\n",
    )
    .unwrap();
    let o = rehearse(&["run", d.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("two sources for the stream `requests`"));
    std::fs::remove_file(d.join("requests.csv")).unwrap();
    // Unknown keys in the section stay errors.
    std::fs::write(
        d.join("dataset.toml"),
        "[access_log]\nfile = \"access.log\"\nformat = \"nginx\"\nlogformat = 'x'\n",
    )
    .unwrap();
    let o = rehearse(&["run", d.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("did you mean `log_format`"));
}

/// A 5.5-hour rollout's requests (the generator's, 2 a second, a 5xx fault in ramp-25)
/// with latencies cut to whole milliseconds, which is what nginx `$request_time` and
/// Envoy `%DURATION%` can hold.
fn long_rollout() -> rehearse::input::Dataset {
    use rehearse::app::scenario::gen_plan;
    use rehearse::generate::{Fault, FaultKind, GenSpec};
    let mut spec = GenSpec::new(11);
    spec.rps = 2.0;
    spec.base_5xx = 0.0;
    spec.base_4xx_nonauth = 0.0;
    let mut f = Fault::new(FaultKind::Error5xx, "ramp-25");
    f.at = "20m".into();
    f.rate = Some(0.2);
    spec.faults.push(f);
    let policy = rehearse::policy::Policy::default_policy();
    let mut ds = rehearse::generate::generate(&spec, &gen_plan(&policy)).unwrap();
    for r in &mut ds.requests {
        r.latency_us = r.latency_us / 1000 * 1000;
    }
    ds
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

fn ua(r: &rehearse::input::RequestRow) -> &'static str {
    match r.source {
        rehearse::input::Source::Synthetic => "Mozilla/5.0 (X11; Linux x86_64) SyntheticCanary/2.1",
        rehearse::input::Source::Real => "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X)",
    }
}

fn canary(r: &rehearse::input::RequestRow) -> bool {
    r.cohort == rehearse::input::Cohort::Canary
}

/// nginx's combined format plus `$msec`, `$request_time` and `$upstream_addr`, written
/// the way nginx writes each variable.
fn nginx_line(r: &rehearse::input::RequestRow) -> String {
    let iso = rehearse::time::format_rfc3339(r.ts);
    let (y, mo, d, hms) = (&iso[0..4], &iso[5..7], &iso[8..10], &iso[11..19]);
    let mon = MONTHS[mo.parse::<usize>().unwrap() - 1];
    format!(
        "10.1.2.3 - - [{d}/{mon}/{y}:{hms} +0000] \"GET {}?page=2 HTTP/1.1\" {} 512 \"-\" \"{}\" {}.{:03} {}.{:03} {}",
        r.endpoint,
        r.status,
        ua(r),
        r.ts.div_euclid(1000),
        r.ts.rem_euclid(1000),
        r.latency_us / 1_000_000,
        r.latency_us / 1000 % 1000,
        if canary(r) {
            "10.0.9.2:8080"
        } else {
            "10.0.9.1:8080"
        }
    )
}

/// Envoy's default format: START_TIME is when the request started (completion minus
/// DURATION).
fn envoy_line(r: &rehearse::input::RequestRow, i: usize) -> String {
    let ms = r.latency_us / 1000;
    let start = rehearse::time::format_rfc3339(r.ts - ms as i64);
    format!(
        "[{start}] \"GET {}?page=2 HTTP/1.1\" {} - 0 512 {ms} {} \"10.1.2.3\" \"{}\" \"req-{i}\" \"shop.test\" \"{}\"",
        r.endpoint,
        r.status,
        ms.saturating_sub(1),
        ua(r),
        if canary(r) {
            "10.0.9.2:8080"
        } else {
            "10.0.9.1:8080"
        }
    )
}

/// An ALB entry as AWS documents it (HTTPS, every field through `conn_trace_id`); the
/// latency split over the three processing times.
fn alb_line(r: &rehearse::input::RequestRow) -> String {
    let iso = rehearse::time::format_rfc3339(r.ts);
    let time = format!("{}641Z", &iso[..iso.len() - 1]);
    let us = r.latency_us;
    let (req, tgt) = (us.min(1000), us - us.min(1000));
    let tg = if canary(r) { "canary" } else { "stable" };
    format!(
        "https {time} app/shop-lb/50dc6c495c0c9188 10.1.2.3:2817 10.0.9.{}:8080 {}.{:06} {}.{:06} 0.000 {} {} 34 512 \"GET https://shop.test:443{}?page=2 HTTP/1.1\" \"{}\" ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/{tg}/73e2d6bc24d8a067 \"Root=1-58337281-1d84f3d73c47ec4e58577259\" \"shop.test\" \"arn:aws:acm:us-east-2:123456789012:certificate/12345678-1234-1234-1234-123456789012\" 0 {time} \"forward\" \"-\" \"-\" \"10.0.9.2:8080\" \"{}\" \"-\" \"-\" TID_1234abcd",
        if canary(r) { 2 } else { 1 },
        req / 1_000_000,
        req % 1_000_000,
        tgt / 1_000_000,
        tgt % 1_000_000,
        r.status,
        r.status,
        r.endpoint,
        ua(r),
        r.status
    )
}

#[test]
fn a_long_rollout_in_nginx_envoy_and_alb_logs_rehearses_like_the_dataset_format() {
    let ds = long_rollout();
    assert!(ds.requests.len() > 30_000);
    let tmp = tempfile::tempdir().unwrap();
    let csv = tmp.path().join("csv");
    rehearse::output::dataset::write_dataset(
        &rehearse::input::Dataset {
            start: ds.start,
            requests: ds.requests.clone(),
            ..rehearse::input::Dataset::default()
        },
        &csv,
        rehearse::output::dataset::Format::Csv,
    )
    .unwrap();
    let start = rehearse::time::format_rfc3339(ds.start.unwrap());
    let lines = |f: &dyn Fn(usize, &rehearse::input::RequestRow) -> String| -> String {
        ds.requests
            .iter()
            .enumerate()
            .map(|(i, r)| f(i, r) + "\n")
            .collect()
    };
    let nginx_fmt = "$remote_addr - $remote_user [$time_local] \"$request\" $status $body_bytes_sent \"$http_referer\" \"$http_user_agent\" $msec $request_time $upstream_addr";
    let cases = [
        (
            "nginx",
            "access.log",
            format!(
                "format = \"nginx\"\nlog_format = '{nginx_fmt}'\ncohort_field = \"$upstream_addr\"\ncanary_values = [\"10.0.9.2:8080\"]\n"
            ),
            lines(&|_, r| nginx_line(r)),
        ),
        (
            "envoy",
            "envoy.log",
            "format = \"envoy\"\ncohort_field = \"%UPSTREAM_HOST%\"\ncanary_regex = '^10\\.0\\.9\\.2:'\n"
                .to_string(),
            lines(&|i, r| envoy_line(r, i)),
        ),
        (
            "alb",
            "alb.log.gz",
            "format = \"alb\"\ncohort_field = \"target_group_arn\"\ncanary_regex = ':targetgroup/canary/'\n"
                .to_string(),
            lines(&|_, r| alb_line(r)),
        ),
    ];
    let args = |d: &Path| {
        rehearse(&[
            "run",
            d.to_str().unwrap(),
            "--json",
            "--set",
            "rollout.min_requests=5",
        ])
    };
    let want = args(&csv);
    assert_eq!(
        want.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&want.stderr)
    );
    let want = json(&want);
    assert_eq!(want["rollback"]["stage"], "ramp-25");
    for (name, file, section, text) in cases {
        let d = tmp.path().join(name);
        std::fs::create_dir_all(&d).unwrap();
        let bytes = if file.ends_with(".gz") {
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            gz.write_all(text.as_bytes()).unwrap();
            gz.finish().unwrap()
        } else {
            text.into_bytes()
        };
        std::fs::write(d.join(file), bytes).unwrap();
        std::fs::write(
            d.join("dataset.toml"),
            format!("start = \"{start}\"\n\n[access_log]\nfile = \"{file}\"\n{section}"),
        )
        .unwrap();
        let got = args(&d);
        assert_eq!(
            got.status.code(),
            Some(4),
            "{name}: {}",
            String::from_utf8_lossy(&got.stderr)
        );
        assert_eq!(verdict_parts(&json(&got)), verdict_parts(&want), "{name}");
    }
}

fn promtool() -> &'static str {
    assert!(
        Command::new("promtool").arg("--version").output().is_ok(),
        "promtool is not installed: apt-get install -y prometheus (.ci/run does)"
    );
    "promtool"
}

/// Runs `promtool test rules` on the test file inside `dir`.
fn promtool_passes(dir: &Path) -> Result<(), String> {
    let o = Command::new(promtool())
        .args(["test", "rules", rehearse::app::export::TEST_FILE])
        .current_dir(dir)
        .output()
        .unwrap();
    if o.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ))
    }
}

const REQUEST_TRIGGERS: [&str; 5] = [
    "error_rate_5xx",
    "error_rate_4xx_nonauth",
    "latency_p95",
    "latency_p99",
    "budget_burn",
];

#[test]
fn promtool_fires_the_exported_alerts_at_every_request_trigger_scenarios_instant() {
    use rehearse::app::scenario::{Scenario, discover};
    let names = rehearse::output::export::prometheus::PromNames::default();
    let tmp = tempfile::tempdir().unwrap();
    let mut checked = Vec::new();
    let mut failures = Vec::new();
    for path in discover(Path::new("scenarios")).unwrap() {
        let sc = Scenario::load(&path).unwrap();
        let triggers = sc.expect.triggers.clone().unwrap_or_default();
        if sc.expect.outcome != "rollback"
            || !triggers
                .iter()
                .any(|t| REQUEST_TRIGGERS.contains(&t.as_str()))
        {
            continue;
        }
        let ds = sc.dataset().unwrap();
        let (run, rules, test) =
            rehearse::app::export::promtool_for_dataset(&sc.setup, &ds, &names).unwrap();
        let (at, _, gates) = run.rollback.clone().expect("the scenario rolls back");
        assert!(gates.iter().any(|g| REQUEST_TRIGGERS.contains(&g.as_str())));
        let eval = rehearse::time::format_duration(at - run.t0);
        assert!(
            test.contains(&format!("eval_time: \"{eval}\"")),
            "{}",
            sc.name
        );
        let dir = tmp.path().join(&sc.name);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(rehearse::app::export::RULE_FILE), rules).unwrap();
        std::fs::write(dir.join(rehearse::app::export::TEST_FILE), test).unwrap();
        if let Err(e) = promtool_passes(&dir) {
            failures.push(format!("{}: {}", sc.name, &e[..e.len().min(3000)]));
        }
        checked.push(sc.name);
    }
    assert!(checked.len() >= 6, "request-trigger scenarios: {checked:?}");
    for name in ["5xx-sustained", "latency-p99", "budget-burn-leak"] {
        assert!(
            checked.iter().any(|c| c == name),
            "{name} not checked: {checked:?}"
        );
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// 200 canary real requests a minute over `minutes` (minute `m` covers
/// `(T0 + m - 1 min, T0 + m min]`), `errors(m)` of them 503.
fn minutes_of_requests(
    minutes: std::ops::RangeInclusive<i64>,
    errors: impl Fn(i64) -> usize,
) -> rehearse::input::Dataset {
    use rehearse::input::{Cohort, RequestRow, Source};
    let t0 = rehearse::time::parse_rfc3339("2026-03-02T10:00:00Z").unwrap();
    let mut requests = Vec::new();
    for m in minutes {
        for i in 0..200 {
            requests.push(RequestRow {
                ts: t0 + (m - 1) * 60_000 + 250 + i as i64 * 250,
                endpoint: "/api/search".into(),
                cohort: Cohort::Canary,
                source: Source::Real,
                status: if i < errors(m) { 503 } else { 200 },
                latency_us: 10_000,
                user_id: None,
                region: None,
                method: None,
            });
        }
    }
    rehearse::input::Dataset {
        start: Some(t0),
        requests,
        ..rehearse::input::Dataset::default()
    }
}

fn promtool_on(ds: &rehearse::input::Dataset, sets: &[&str], want_at: &str) {
    let mut b = rehearse::policy::PolicyBuilder::new();
    for kv in sets {
        b = b.set(kv).unwrap();
    }
    let setup = rehearse::app::setup(b.build().unwrap()).unwrap();
    let names = rehearse::output::export::prometheus::PromNames::default();
    let (run, rules, test) =
        rehearse::app::export::promtool_for_dataset(&setup, ds, &names).unwrap();
    let (at, _, gates) = run.rollback.expect("the rehearsal rolls back");
    assert_eq!(rehearse::time::format_duration(at - run.t0), want_at);
    assert_eq!(gates, [rehearse::gate::Gate::ErrorRate5xx]);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(rehearse::app::export::RULE_FILE), rules).unwrap();
    std::fs::write(dir.path().join(rehearse::app::export::TEST_FILE), test).unwrap();
    promtool_passes(dir.path()).unwrap();
}

#[test]
fn promtool_agrees_on_a_rate_exactly_at_the_limit_and_a_window_clipped_at_the_stage_start() {
    // Synthetic stage minutes without errors, then exactly 1 in 200 (= the 0.5 % limit)
    // from ramp-5's first minute: the clipped windows breach from 2h1m, so the trigger
    // fires at 2h11m; unclipped windows would start breaching only at 2h5m.
    promtool_on(
        &minutes_of_requests(111..=140, |m| usize::from(m > 120)),
        &[],
        "2h11m",
    );
}

#[test]
fn promtool_agrees_that_a_run_of_breaches_restarts_at_a_stage_boundary() {
    // 1 in 200 from 1h51m: nine breaching ticks in the synthetic stage, then the run
    // restarts in ramp-5 and fires at 2h11m (not at 2h2m, where 11 consecutive ticks
    // across the boundary end). The Go limits are lowered so that the synthetic stage
    // goes instead of holding.
    promtool_on(
        &minutes_of_requests(112..=140, |_| 1),
        &["go.error_rate_5xx=0.01", "go.availability=0.99"],
        "2h11m",
    );
}

#[test]
fn the_argo_and_flagger_queries_turn_to_one_at_a_mid_stage_rollback_instant() {
    use rehearse::app::scenario::Scenario;
    let names = rehearse::output::export::prometheus::PromNames::default();
    let sc = Scenario::load(Path::new("scenarios/02-5xx-sustained.toml")).unwrap();
    let ds = sc.dataset().unwrap();
    let (run, rules, test) =
        rehearse::app::export::promtool_for_dataset(&sc.setup, &ds, &names).unwrap();
    let (at, _, gates) = run.rollback.clone().unwrap();
    assert_eq!(gates, [rehearse::gate::Gate::ErrorRate5xx]);
    // The same input series, with expression tests of the controllers' queries instead
    // of the alert tests.
    let cut = test.find("    alert_rule_test:").unwrap();
    let mut t = test[..cut].to_string();
    t.push_str("    promql_expr_test:\n");
    let queries = rehearse::output::export::canary::queries(&sc.setup.policy, &names);
    let at = at - run.t0;
    for (gate, q) in &queries {
        for (when, fired) in [(at - 60_000, false), (at, *gate == "error_rate_5xx")] {
            let expr = q.replace('\n', "\n          ");
            t.push_str(&format!(
                "      - expr: |-\n          {expr}\n        eval_time: {}\n        exp_samples:\n          - labels: '{{}}'\n            value: {}\n",
                rehearse::time::format_duration(when),
                u8::from(fired)
            ));
        }
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(rehearse::app::export::RULE_FILE), rules).unwrap();
    std::fs::write(dir.path().join(rehearse::app::export::TEST_FILE), t).unwrap();
    promtool_passes(dir.path()).unwrap();
}

#[test]
fn export_commands_write_rules_promtool_accepts_with_the_teams_names() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("rules.yml");
    let o = rehearse(&[
        "export",
        "prometheus",
        "--set",
        "triggers.latency_p95_ms=300",
        "--requests-metric",
        "shop_http_requests_total",
        "--duration-metric",
        "shop_http_duration_seconds",
        "--status-label",
        "status",
        "--selector",
        "track=\"canary\",synthetic!=\"true\"",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(o.stdout.is_empty());
    let rules = std::fs::read_to_string(&out).unwrap();
    assert!(rules.contains(
        "shop_http_requests_total{track=\"canary\",synthetic!=\"true\",status=~\"5..\"}"
    ));
    assert!(rules.contains(
        "shop_http_duration_seconds_bucket{track=\"canary\",synthetic!=\"true\",le=\"0.3\"}"
    ));
    assert!(!rules.contains("le=\"0.25\""));
    let check = Command::new(promtool())
        .args(["check", "rules"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );
    // Argo and Flagger queries are valid PromQL: promtool checks them as rules.
    let policy = rehearse::policy::Policy::default_policy();
    let names = rehearse::output::export::prometheus::PromNames::default();
    let mut file = String::from("groups:\n  - name: q\n    rules:\n");
    for (gate, q) in rehearse::output::export::canary::queries(&policy, &names) {
        file.push_str(&format!(
            "      - record: rehearse:{gate}:sustained\n        expr: |-\n          {}\n",
            q.replace('\n', "\n          ")
        ));
    }
    let qfile = tmp.path().join("queries.yml");
    std::fs::write(&qfile, file).unwrap();
    let check = Command::new(promtool())
        .args(["check", "rules"])
        .arg(&qfile)
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );
    for kind in ["argo", "flagger"] {
        let o = rehearse(&["export", kind]);
        assert_eq!(o.status.code(), Some(0));
        let text = String::from_utf8_lossy(&o.stdout);
        assert!(
            text.contains("min_over_time(") && text.contains("[10m:1m])"),
            "{kind}"
        );
        assert!(
            text.contains("# Differences from the rehearsed semantics"),
            "{kind}"
        );
    }
    // A bad --set is a usage error.
    let o = rehearse(&["export", "prometheus", "--set", "triggers.nope=1"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn export_promtool_test_on_a_dataset_directory_passes_promtool() {
    let tmp = tempfile::tempdir().unwrap();
    let ds = minutes_of_requests(111..=140, |m| usize::from(m > 120));
    let d = tmp.path().join("ds");
    rehearse::output::dataset::write_dataset(&ds, &d, rehearse::output::dataset::Format::Ndjson)
        .unwrap();
    let out = tmp.path().join("out");
    let o = rehearse(&[
        "export",
        "promtool-test",
        d.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let test = std::fs::read_to_string(out.join(rehearse::app::export::TEST_FILE)).unwrap();
    assert!(test.contains("eval_time: \"2h11m\"\n        alertname: \"RehearseRollback5xx\"\n        exp_alerts:\n          - exp_labels:"));
    promtool_passes(&out).unwrap();
    // A missing dataset is a usage error naming it.
    let o = rehearse(&[
        "export",
        "promtool-test",
        "/nonexistent/ds",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("/nonexistent/ds"));
}

/// A query_range response (matrix) of one infra column: a series per host, labelled
/// `instance` and `track`, a missing step where the value is absent (`NaN` for every
/// other absent value, as Prometheus writes it), timestamps in Unix seconds.
fn query_range(
    rows: &[rehearse::input::InfraRow],
    value: impl Fn(&rehearse::input::InfraRow) -> Option<f64>,
) -> String {
    let mut series: std::collections::BTreeMap<(String, String), Vec<String>> = Default::default();
    for (i, r) in rows.iter().enumerate() {
        let track = match r.cohort {
            Some(rehearse::input::Cohort::Canary) => "canary",
            Some(rehearse::input::Cohort::Baseline) => "stable",
            None => "none",
        };
        let host = r.host.clone().unwrap_or_default();
        let t = format!("{}.{:03}", r.ts.div_euclid(1000), r.ts.rem_euclid(1000));
        let entry = series.entry((host, track.to_string())).or_default();
        match value(r) {
            Some(v) => entry.push(format!("[{t},\"{v}\"]")),
            None if i % 2 == 0 => entry.push(format!("[{t},\"NaN\"]")),
            None => {}
        }
    }
    let result: Vec<String> = series
        .into_iter()
        .map(|((host, track), values)| {
            format!(
                "{{\"metric\":{{\"__name__\":\"x\",\"instance\":\"{host}\",\"track\":\"{track}\"}},\"values\":[{}]}}",
                values.join(",")
            )
        })
        .collect();
    format!(
        "{{\"status\":\"success\",\"data\":{{\"resultType\":\"matrix\",\"result\":[{}]}}}}",
        result.join(",\n")
    )
}

#[test]
fn prometheus_query_range_responses_as_infra_rehearse_like_the_dataset_format() {
    use rehearse::app::scenario::Scenario;
    for name in ["25-cpu-saturation", "29-slow-db", "31-queue-backlog"] {
        let sc = Scenario::load(&PathBuf::from(format!("scenarios/{name}.toml"))).unwrap();
        let ds = sc.dataset().unwrap();
        let infra = ds.infra.clone().unwrap();
        assert!(infra.iter().all(|r| r.host.is_some()));
        let tmp = tempfile::tempdir().unwrap();
        let csv = tmp.path().join("csv");
        rehearse::output::dataset::write_dataset(&ds, &csv, rehearse::output::dataset::Format::Csv)
            .unwrap();
        let prom = tmp.path().join("prom");
        rehearse::output::dataset::write_dataset(
            &ds,
            &prom,
            rehearse::output::dataset::Format::Csv,
        )
        .unwrap();
        std::fs::remove_file(prom.join("infra.csv")).unwrap();
        std::fs::write(prom.join("cpu.json"), query_range(&infra, |r| Some(r.cpu))).unwrap();
        std::fs::write(
            prom.join("mem.json"),
            query_range(&infra, |r| Some(r.mem_free)),
        )
        .unwrap();
        std::fs::write(prom.join("db.json"), query_range(&infra, |r| r.db_p95_ms)).unwrap();
        std::fs::write(
            prom.join("queue.json"),
            query_range(&infra, |r| r.queue_depth),
        )
        .unwrap();
        let manifest = std::fs::read_to_string(prom.join("dataset.toml")).unwrap();
        std::fs::write(
            prom.join("dataset.toml"),
            format!(
                "{manifest}\n[infra_prometheus]\ncpu = \"cpu.json\"\nmem_free = \"mem.json\"\ndb_p95_ms = \"db.json\"\nqueue_depth = \"queue.json\"\nhost_label = \"instance\"\ncohort_label = \"track\"\ncanary_values = [\"canary\"]\n"
            ),
        )
        .unwrap();
        let a = rehearse(&["run", csv.to_str().unwrap(), "--json"]);
        let b = rehearse(&["run", prom.to_str().unwrap(), "--json"]);
        assert_eq!(
            a.status.code(),
            b.status.code(),
            "{name}: {}",
            String::from_utf8_lossy(&b.stderr)
        );
        let (ja, jb) = (json(&a), json(&b));
        assert_eq!(ja["outcome"], sc.expect.outcome.as_str(), "{name}");
        assert_eq!(verdict_parts(&ja), verdict_parts(&jb), "{name}");
        let infra_input = jb["inputs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["stream"] == "infra")
            .unwrap()
            .clone();
        assert_eq!(infra_input["file"], "cpu.json");
        assert_eq!(infra_input["rows"], infra.len() as u64);
    }
}

/// A Python with the vendors' SDKs (tests/sdk/requirements.txt): `target/sdk-venv`,
/// created with pip on first use (`.ci/run` creates it too).
fn sdk_python() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let venv = root.join("target").join("sdk-venv");
    let python = venv.join("bin").join("python");
    let ok = Command::new(&python)
        .args([
            "-c",
            "import segment.analytics, rudderstack.analytics, posthog",
        ])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        let st = Command::new("python3")
            .arg("-m")
            .arg("venv")
            .arg(&venv)
            .status()
            .unwrap();
        assert!(st.success(), "python3 -m venv failed");
        let st = Command::new(venv.join("bin").join("pip"))
            .args(["install", "--quiet", "--disable-pip-version-check", "-r"])
            .arg(root.join("tests/sdk/requirements.txt"))
            .status()
            .unwrap();
        assert!(
            st.success(),
            "pip install -r tests/sdk/requirements.txt failed"
        );
    }
    python
}

/// A capture server on 127.0.0.1 standing in for the vendor's API: every POST body
/// (gunzipped when `Content-Encoding: gzip`) is a batch whose messages are kept in
/// arrival order. Returns the URL and the messages.
fn capture_server() -> (
    String,
    std::sync::Arc<std::sync::Mutex<Vec<serde_json::Value>>>,
) {
    use std::io::BufRead;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let got = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = std::sync::Arc::clone(&got);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            stream
                .set_read_timeout(Some(Duration::from_secs(10)))
                .unwrap();
            let mut r = std::io::BufReader::new(stream);
            let (mut len, mut gzip) = (0usize, false);
            let mut line = String::new();
            loop {
                line.clear();
                if r.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                let l = line.to_ascii_lowercase();
                if let Some(v) = l.strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
                if l.starts_with("content-encoding:") && l.contains("gzip") {
                    gzip = true;
                }
            }
            let mut body = vec![0; len];
            if r.read_exact(&mut body).is_err() {
                continue;
            }
            if gzip {
                let mut plain = Vec::new();
                flate2::read::GzDecoder::new(&body[..])
                    .read_to_end(&mut plain)
                    .unwrap();
                body = plain;
            }
            if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&body)
                && let Some(batch) = v["batch"].as_array()
            {
                sink.lock().unwrap().extend(batch.iter().cloned());
            }
            let mut s = r.into_inner();
            let _ = s.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}",
            );
        }
    });
    (url, got)
}

#[test]
fn segment_and_rudderstack_sdk_batches_read_as_the_funnel_stream() {
    let python = sdk_python();
    let tmp = tempfile::tempdir().unwrap();
    let mut reports = Vec::new();
    for sdk in ["segment", "rudderstack"] {
        let (url, got) = capture_server();
        let o = Command::new(&python)
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sdk/send_events.py"))
            .args([sdk, &url])
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "{sdk}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let messages = got.lock().unwrap().clone();
        // 30 visits, 30 searches, 10 identifies, 10 purchases and one redelivery.
        assert_eq!(messages.len(), 81, "{sdk}");
        assert!(
            messages
                .iter()
                .all(|m| m["messageId"].as_str().unwrap().starts_with(sdk))
        );
        let d = tmp.path().join(sdk);
        std::fs::create_dir_all(&d).unwrap();
        let lines: String = messages.iter().map(|m| format!("{m}\n")).collect();
        std::fs::write(d.join("funnel.ndjson"), lines).unwrap();
        std::fs::write(d.join("dataset.toml"), "start = \"2026-03-02T10:00:00Z\"\n").unwrap();
        let o = rehearse(&["funnel", d.to_str().unwrap(), "--json"]);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{sdk}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        reports.push(json(&o));
    }
    let strip = |v: &serde_json::Value| {
        let mut v = v.clone();
        v.as_object_mut()
            .unwrap()
            .retain(|k, _| k != "inputs" && k != "dataset" && k != "rehearse");
        v
    };
    assert_eq!(strip(&reports[0]), strip(&reports[1]));
    // What the SDKs sent, as the funnel report counts it.
    for r in &reports {
        assert_eq!(r["inputs"][0]["segment"], true);
        assert_eq!(r["inputs"][0]["rows"], 81);
        assert_eq!(r["duplicates_dropped"], 1);
        assert_eq!(r["persons"]["total"], 30);
        assert_eq!(r["identity"]["stitched_anonymous_ids"], 10);
        assert_eq!(r["revenue_minor_without_exclusion"]["USD"], 49_500);
        let first = &r["attribution_without_exclusion"]["first_touch"];
        let google = first
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["utm_source"] == "google")
            .unwrap();
        assert_eq!(google["conversions"], 10);
    }
}

/// The funnel `tests/sdk/send_posthog.py` sends, written in the dataset format: the
/// `$identify` link is carried by the purchase row holding both ids, the redelivered
/// purchase repeats its `message_id`.
fn posthog_funnel_as_csv() -> String {
    let mut csv = String::from(
        "ts,event,user_id,anonymous_id,cohort,platform,utm_source,utm_medium,utm_campaign,revenue,currency,order_id,user_agent,page_url,message_id\n",
    );
    let t0 = 1_772_445_600i64; // 2026-03-02T10:00:00Z
    let ts = |s: i64| {
        let t = t0 + s;
        format!(
            "2026-03-02T{:02}:{:02}:{:02}Z",
            t / 3600 % 24,
            t / 60 % 60,
            t % 60
        )
    };
    for u in 0..30i64 {
        let at = 120 * u + u;
        let anon = format!("anon-{u:03}");
        let cohort = if u % 2 == 1 { "canary" } else { "baseline" };
        let platform = if u % 4 == 1 { "mobile" } else { "desktop" };
        let utm = match u % 3 {
            0 => "google,cpc,spring",
            1 => "newsletter,cpc,spring",
            _ => ",,",
        };
        let tail = "Mozilla/5.0 (X11; Linux x86_64),https://shop.test/";
        for (dt, event) in [(0, "visit"), (20, "search")] {
            csv.push_str(&format!(
                "{},{event},,{anon},{cohort},{platform},{utm},,,,{tail},{u}-{event}\n",
                ts(at + dt)
            ));
        }
        if u % 3 == 0 {
            let purchase = format!(
                "{},credit_purchase,usr-{u:03},{anon},{cohort},{platform},{utm},49.5,USD,ord-{u},{tail},{u}-purchase\n",
                ts(at + 50)
            );
            csv.push_str(&purchase);
            if u == 0 {
                csv.push_str(&purchase);
            }
        }
    }
    csv
}

#[test]
fn posthog_sdk_batches_read_as_the_funnel_stream_like_the_dataset_format() {
    let python = sdk_python();
    let tmp = tempfile::tempdir().unwrap();
    let (url, got) = capture_server();
    let o = Command::new(&python)
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sdk/send_posthog.py"))
        .arg(&url)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let messages = got.lock().unwrap().clone();
    // 30 pageviews, 30 searches, 10 identifies, 10 sets, 10 purchases, one redelivery.
    assert_eq!(messages.len(), 91);
    assert!(
        messages
            .iter()
            .all(|m| m["distinct_id"].is_string() && m["uuid"].is_string())
    );
    let ph = tmp.path().join("posthog");
    let ds = tmp.path().join("dataset");
    for d in [&ph, &ds] {
        std::fs::create_dir_all(d).unwrap();
        std::fs::write(d.join("dataset.toml"), "start = \"2026-03-02T10:00:00Z\"\n").unwrap();
    }
    let lines: String = messages.iter().map(|m| format!("{m}\n")).collect();
    std::fs::write(ph.join("funnel.ndjson"), lines).unwrap();
    std::fs::write(ds.join("funnel.csv"), posthog_funnel_as_csv()).unwrap();
    let mut reports = Vec::new();
    for d in [&ph, &ds] {
        let o = rehearse(&["funnel", d.to_str().unwrap(), "--json"]);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{}: {}",
            d.display(),
            String::from_utf8_lossy(&o.stderr)
        );
        reports.push(json(&o));
    }
    let (p, c) = (&reports[0], &reports[1]);
    assert_eq!(p["inputs"][0]["posthog"], true);
    assert_eq!(p["inputs"][0]["rows"], 91);
    assert!(c["inputs"][0].get("posthog").is_none());
    let strip = |v: &serde_json::Value| {
        let mut v = v.clone();
        v.as_object_mut()
            .unwrap()
            .retain(|k, _| k != "inputs" && k != "dataset" && k != "rehearse");
        v
    };
    assert_eq!(strip(p), strip(c));
    // What the SDK sent, as the funnel report counts it.
    assert_eq!(p["duplicates_dropped"], 1);
    assert_eq!(p["persons"]["total"], 30);
    assert_eq!(p["identity"]["stitched_anonymous_ids"], 10);
    assert_eq!(p["revenue_minor_without_exclusion"]["USD"], 49_500);
    let first = &p["attribution_without_exclusion"]["first_touch"];
    let google = first
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["utm_source"] == "google")
        .unwrap();
    assert_eq!(google["conversions"], 10);
    // The human summary says which reader read the file.
    let o = rehearse(&["funnel", ph.to_str().unwrap()]);
    assert!(
        String::from_utf8_lossy(&o.stdout)
            .contains("funnel.ndjson 91 rows (PostHog export), 1 duplicates dropped")
    );
}
