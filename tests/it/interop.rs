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
