//! Plausibility checks after a replay: warnings about data that was read without error
//! but is most likely mis-encoded (latencies in seconds, epoch seconds read as
//! milliseconds, rows outside the rollout window, a stage whose gates need a stream the
//! dataset lacks). They are computed from the fold's aggregates and the per-stream read
//! counts only (no second pass over the data); `rehearse run` prints them on stderr, and
//! `--strict` makes them an error. The rules are documented in `docs/semantics.md`.

use crate::engine::Folded;
use crate::gate::Gate;
use crate::input::{Stream, StreamInput};
use crate::policy::Policy;
use crate::time::{YEAR_2000_MS, format_rfc3339};

/// Canary real requests needed before their latencies are judged.
const MIN_LATENCY_ROWS: u64 = 1000;
/// A canary p95 below this (microseconds) looks like seconds read as milliseconds.
const SECONDS_P95_US: u64 = 10_000;

/// Plausibility warnings were found and `--strict` makes them an error.
#[derive(Debug, thiserror::Error)]
#[error("--strict: {} plausibility warning(s): {}", .0.len(), .0.join("; "))]
pub struct Implausible(pub Vec<String>);

/// The plausibility warnings of a replay, each saying what was seen and the likely fix.
/// `evaluated` is the run's per-gate "had its data" list.
pub fn warnings(
    policy: &Policy,
    folded: &Folded,
    inputs: &[StreamInput],
    evaluated: &[(Gate, bool)],
) -> Vec<String> {
    let mut out = Vec::new();
    latency_in_seconds(folded, &mut out);
    if folded.t0 < YEAR_2000_MS {
        out.push(format!(
            "the rollout start T0 is {}, before the year 2000: timestamps look like epoch seconds read as epoch milliseconds (write RFC 3339 timestamps or epoch milliseconds, or set `start` in dataset.toml)",
            format_rfc3339(folded.t0)
        ));
    }
    for i in inputs {
        if i.stats.rows > 0 && i.before_2000 * 2 > i.stats.rows && folded.t0 >= YEAR_2000_MS {
            // Rule (b) for one stream: the rollout's T0 is right (from the manifest or
            // another stream) but this file's timestamps are epoch seconds.
            out.push(format!(
                "{}: {} of {} rows are timed before the year 2000 while the rollout starts {}: its timestamps look like epoch seconds read as epoch milliseconds (multiply by 1000, or write RFC 3339 timestamps)",
                i.file,
                i.before_2000,
                i.stats.rows,
                format_rfc3339(folded.t0)
            ));
        } else if i.stats.rows > 0 && i.outside * 2 > i.stats.rows {
            out.push(format!(
                "{}: {} of {} rows fall outside the rollout window (T0 {}): check that its timestamps are epoch milliseconds or RFC 3339 (not epoch seconds) and that the manifest's `start` or --start is right",
                i.file,
                i.outside,
                i.stats.rows,
                format_rfc3339(folded.t0)
            ));
        }
    }
    if !inputs.iter().any(|i| i.stream == Stream::Probes) {
        let stages: Vec<&str> = policy
            .stages
            .iter()
            .filter(|s| s.probes)
            .map(|s| s.name.as_str())
            .collect();
        if !stages.is_empty() {
            out.push(format!(
                "stage {} needs probe gates but the dataset has no `probes` stream, so they were never evaluated (add probes.csv, .ndjson, .jsonl, .parquet or .arrow)",
                stages.join(", ")
            ));
        }
    }
    absent_streams(inputs, evaluated, &mut out);
    out
}

/// Rule (d) for every stream but probes (whose gates belong to some stages only): the
/// streams the dataset lacks whose gates were therefore never evaluated, in one warning.
fn absent_streams(inputs: &[StreamInput], evaluated: &[(Gate, bool)], out: &mut Vec<String>) {
    let mut absent = Vec::new();
    for stream in Stream::ALL {
        if stream == Stream::Probes || inputs.iter().any(|i| i.stream == stream) {
            continue;
        }
        let gates: Vec<&str> = evaluated
            .iter()
            .filter(|(g, e)| !e && g.stream() == stream)
            .map(|(g, _)| g.as_str())
            .collect();
        if !gates.is_empty() {
            absent.push(format!("`{}` ({})", stream.as_str(), gates.join(", ")));
        }
    }
    if !absent.is_empty() {
        out.push(format!(
            "the dataset has no {} stream{}, so {} gates were never evaluated and cannot hold or roll back any stage (add the stream's file, e.g. {}.csv, if the rollout should be judged on it)",
            absent.join(", "),
            if absent.len() == 1 { "" } else { "s" },
            if absent.len() == 1 { "its" } else { "their" },
            absent[0].split('`').nth(1).unwrap_or("infra")
        ));
    }
}

/// Rule (a): many canary requests whose p95 is under 10 ms.
fn latency_in_seconds(folded: &Folded, out: &mut Vec<String>) {
    let (n, pcts) = folded.canary_latency_percentiles(&[50, 95]);
    if n < MIN_LATENCY_ROWS {
        return;
    }
    let [Some(p50), Some(p95)] = pcts[..] else {
        return;
    };
    if p95 < SECONDS_P95_US {
        out.push(format!(
            "the {n} canary requests have p50 {} ms and p95 {} ms, far below any web latency: `latency_ms` looks like seconds (multiply by 1000 to give milliseconds)",
            ms(p50),
            ms(p95)
        ));
    }
}

/// Microseconds as milliseconds with three decimals.
fn ms(us: u64) -> String {
    format!("{}.{:03}", us / 1000, us % 1000)
}
