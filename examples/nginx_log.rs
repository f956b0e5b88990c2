//! Writes a large nginx access log for the access-log benchmark (`bench/accesslog.sh`):
//! a dataset directory holding `dataset.toml` (an `[access_log]` section reading
//! `access.log.gz` with the nginx `log_format` below) and the log itself, gzip-compressed
//! as logs are rotated. The requests spread evenly over the default policy's 5.5-hour
//! rollout, answered by the canary upstream at each stage's traffic share (none in the
//! synthetic stage, then 5 %, 25 %, 100 %), healthy: 0.05 % 5xx, 0.3 % 4xx, latencies
//! of 10 to 90 ms with a thin slow tail (0.2 % at 300 to 700 ms). Seeded ChaCha8, so a
//! seed gives the same bytes.
//!
//! Usage: `cargo run --release --example nginx_log -- OUT_DIR LINES [SEED]`

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::PathBuf;

use flate2::Compression;
use flate2::write::GzEncoder;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The log's format, as the manifest gives it to the reader.
const LOG_FORMAT: &str = "$remote_addr - $remote_user [$time_local] $msec \"$request\" $status $body_bytes_sent $request_time \"$http_referer\" \"$http_user_agent\" $upstream_addr";

/// 2026-03-02T10:00:00Z in seconds.
const START_S: u64 = 1_772_445_600;
/// The default policy's rollout: 120 + 30 + 60 + 120 minutes.
const ROLLOUT_S: u64 = 19_800;

const ENDPOINTS: [&str; 6] = [
    "/api/ttv/summary",
    "/api/search?q=flat",
    "/api/listings/48213",
    "/api/security/sessions",
    "/api/infra/health",
    "/api/admin/users",
];

/// The canary's share of the requests at second `s` of the rollout.
fn canary_share(s: u64) -> f64 {
    match s {
        0..7_200 => 0.0,
        7_200..9_000 => 0.05,
        9_000..12_600 => 0.25,
        _ => 1.0,
    }
}

/// Uniform in [0, 1) with 53 random bits.
fn u01(rng: &mut ChaCha8Rng) -> f64 {
    (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: nginx_log OUT_DIR LINES [SEED]";
    let out = PathBuf::from(args.next().ok_or(usage)?);
    let lines: u64 = args.next().ok_or(usage)?.parse()?;
    let seed: u64 = args.next().map_or(Ok(7), |s| s.parse())?;
    fs::create_dir_all(&out)?;
    fs::write(
        out.join("dataset.toml"),
        format!(
            "start = \"2026-03-02T10:00:00Z\"\nnotes = \"Written by examples/nginx_log.rs for the access-log benchmark.\"\n\n[access_log]\nfile = \"access.log.gz\"\nformat = \"nginx\"\nlog_format = '{LOG_FORMAT}'\ncohort_field = \"$upstream_addr\"\ncanary_values = [\"10.0.9.2:8080\"]\n"
        ),
    )?;
    let file = File::create(out.join("access.log.gz"))?;
    let mut w = BufWriter::with_capacity(1 << 20, GzEncoder::new(file, Compression::fast()));
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let span_ms = ROLLOUT_S * 1000;
    for i in 0..lines {
        // Evenly spread completion instants, in order.
        let ms = i * span_ms / lines.max(1);
        let (s, milli) = (ms / 1000, ms % 1000);
        let (h, m, sec) = (10 + s / 3600, (s / 60) % 60, s % 60);
        let canary = u01(&mut rng) < canary_share(s);
        let u = u01(&mut rng);
        let status = if u < 0.0005 {
            503
        } else if u < 0.0035 {
            404
        } else {
            200
        };
        let v = u01(&mut rng);
        let latency_ms = if v < 0.002 {
            300 + (v * 1e5) as u64 % 400
        } else {
            10 + (v * 1e6) as u64 % 80
        };
        let endpoint = ENDPOINTS[(rng.next_u64() % ENDPOINTS.len() as u64) as usize];
        let ua = if u01(&mut rng) < 0.01 {
            "SyntheticCanary/1.0"
        } else {
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36"
        };
        writeln!(
            w,
            "10.1.{}.{} - - [02/Mar/2026:{h:02}:{m:02}:{sec:02} +0000] {}.{milli:03} \"GET {endpoint} HTTP/1.1\" {status} {} {}.{:03} \"-\" \"{ua}\" 10.0.9.{}:8080",
            i % 200,
            (i / 200) % 250,
            START_S + s,
            512 + (i % 1024),
            latency_ms / 1000,
            latency_ms % 1000,
            if canary { 2 } else { 1 },
        )?;
    }
    w.into_inner().map_err(|e| e.into_error())?.finish()?;
    Ok(())
}
