//! `rehearse report`: the ship-room pack of a rollout rehearsal. Replays a dataset (or
//! reads a recorded event log), builds [`crate::output::ship::ShipRoom`] from the verdict
//! events and what the replay measured beside them ([`extras`], which `rehearse run
//! --record` also writes into the recording, so both inputs give the same pack), and
//! writes what was asked: `--html` (the dashboard), `--markdown` (the go/no-go
//! checklist), `--updates` (Slack Block Kit NDJSON), and `--post URL` sends the updates
//! to a webhook (`https://` verified against the machine's trust store or `--cacert`).
//! Every free-text detail is passed through the PII detectors' redaction. Exit status 0
//! when every file was written (the outcome is in the files), 2 for unusable input, 1
//! when a file cannot be written or the webhook refuses.

use std::path::PathBuf;

use crate::analytics::{AnalyticsPolicy, FunnelAnalysis};
use crate::engine::Setup;
use crate::input::Millis;
use crate::output::record::{RecordExtras, RecordMeta, TickDisplay, read_record_with};
use crate::output::ship::{self, DashFunnel, FunnelNote, ShipRoom};
use crate::output::write_atomic;
use crate::pii::{PiiDetector, redact_message};
use crate::source::read::ReadOptions;
use crate::verdict::TickRecord;

use super::replay::replay_dir;
use super::{AppError, Context, Output};

/// What the pack is built from.
pub enum ReportInput {
    Dataset(PathBuf),
    Recording(PathBuf),
}

/// The checked settings of `rehearse report`.
pub struct ReportSettings {
    pub input: ReportInput,
    pub setup: Setup,
    pub read: ReadOptions,
    pub html: Option<PathBuf>,
    pub markdown: Option<PathBuf>,
    pub updates: Option<PathBuf>,
    pub post: Option<String>,
    /// The CA certificates (PEM) an `https://` webhook is verified against, instead of
    /// the machine's trust store.
    pub cacert: Option<PathBuf>,
}

/// Nothing to write.
#[derive(Debug, thiserror::Error)]
#[error(
    "rehearse report writes nothing without --html FILE, --markdown FILE, --updates FILE or --post URL"
)]
pub struct NothingToDo;

/// Free -> paid of the non-synthetic persons who first arrived after `from` (the full
/// stage's start) and up to `to` (the board note's early funnel conversion). Canary-only
/// persons count: at 100 % of traffic every real user is on the canary build.
fn funnel_note(
    data: &crate::analytics::AnalyticsData,
    policy: &AnalyticsPolicy,
    from: Millis,
    to: Millis,
) -> Option<FunnelNote> {
    let fa = FunnelAnalysis::new(data, policy, Some(to))?;
    let p = &fa.persons;
    let (mut visitors, mut paying) = (0, 0);
    for i in 0..p.len() {
        if p.synthetic[i] || p.first_ts[i] <= from || p.furthest[i] < 0 {
            continue;
        }
        visitors += 1;
        if p.first_purchase[i] != crate::analytics::funnel::UNREACHED {
            paying += 1;
        }
    }
    Some(FunnelNote { visitors, paying })
}

/// The canary p50 latency (ms) of every tick record, over the same window as the tick's
/// p95 (the last `window` intervals up to the tick, not before its stage's start), from
/// the fold's display sketches, nearest rank; `None` below the minimum of requests.
fn p50_per_tick(
    ticks: &[&TickRecord],
    folded: &crate::engine::Folded,
    policy: &crate::policy::Policy,
) -> Vec<Option<f64>> {
    use crate::engine::fold::slot;
    ticks
        .iter()
        .map(|t| {
            let k = t.k as usize;
            let m = policy
                .stages
                .get(t.stage)
                .map_or(0, |s| (s.start_ms / folded.tick_ms) as usize);
            let lo = k.saturating_sub(policy.window_ticks).max(m);
            let mut sketch = crate::sketch::Sketch::default();
            let mut n = 0u64;
            for j in lo..k.min(folded.ticks) {
                n += folded.interval_counters(j)[slot::N];
                if let Some(s) = &folded.sketches[j] {
                    sketch.merge(s);
                }
            }
            if n < policy.min_requests {
                return None;
            }
            sketch
                .value_at_rank(n.div_ceil(2))
                .map(|us| us as f64 / 1000.0)
        })
        .collect()
}

/// Probes passed and failed (bad status or schema) in each tick record's interval
/// `(at - tick, at]` (the fold keeps its probes sorted by time).
fn probes_per_tick(ticks: &[&TickRecord], folded: &crate::engine::Folded) -> Vec<(u32, u32)> {
    let probes = &folded.probes;
    ticks
        .iter()
        .map(|t| {
            let from = t.at - folded.tick_ms;
            let lo = probes.partition_point(|p| p.ts <= from);
            let hi = probes.partition_point(|p| p.ts <= t.at);
            probes[lo..hi.max(lo)].iter().fold((0, 0), |(ok, bad), p| {
                if p.result == crate::engine::fold::ProbeResult::Pass {
                    (ok + 1, bad)
                } else {
                    (ok, bad + 1)
                }
            })
        })
        .collect()
}

/// WAF blocks and rate-limited requests in each tick record's interval `(at - tick, at]`.
fn security_per_tick(ticks: &[&TickRecord], folded: &crate::engine::Folded) -> Vec<[u64; 2]> {
    ticks
        .iter()
        .map(|t| match folded.interval(t.at) {
            Some(k) => [folded.security[k][0], folded.rate_limited[k]],
            None => [0, 0],
        })
        .collect()
}

/// What the pack shows of a replay beyond its verdict events (the recording's extras):
/// which gates had their data, the board note's early funnel and, when `dashboard`, the
/// per-tick display columns and the dashboard's funnel section. `rehearse run --record`
/// writes them into the recording, so a pack from it equals the pack from the dataset.
pub fn extras(
    replay: &super::replay::Replay,
    policy: &crate::policy::Policy,
    meta: &RecordMeta,
    dashboard: bool,
) -> Result<RecordExtras, AppError> {
    let mut x = RecordExtras {
        evaluated: Some(replay.run.evaluated.clone()),
        ..RecordExtras::default()
    };
    let end = replay
        .run
        .events
        .iter()
        .rev()
        .find_map(|e| match e {
            crate::verdict::VerdictEvent::Outcome { at, .. } => Some(*at),
            _ => None,
        })
        .unwrap_or_else(|| meta.stages.last().map_or(meta.t0, |s| s.end));
    let full = meta.stages.iter().find(|s| s.weight >= 1.0);
    if let (Some(data), Some(full)) = (&replay.analytics, full) {
        let note = funnel_note(data, &policy.file.analytics, full.start, end);
        x.board_funnel = note
            .map(|n| serde_json::to_string(&n))
            .transpose()
            .map_err(AppError::internal)?;
    }
    if !dashboard {
        return Ok(x);
    }
    let ticks: Vec<&TickRecord> = replay
        .run
        .events
        .iter()
        .filter_map(|e| match e {
            crate::verdict::VerdictEvent::Tick(t) => Some(t),
            _ => None,
        })
        .collect();
    let folded = &replay.folded;
    let p50 = p50_per_tick(&ticks, folded, policy);
    let probes = (!folded.probes.is_empty()).then(|| probes_per_tick(&ticks, folded));
    let security = crate::engine::fold::stream_idx(crate::input::Stream::Security);
    let security = folded.present[security].then(|| security_per_tick(&ticks, folded));
    x.ticks = (0..ticks.len())
        .map(|i| TickDisplay {
            p50_ms: p50[i],
            probes: probes.as_ref().map(|p| p[i]),
            security: security.as_ref().map(|s| s[i]),
        })
        .collect();
    if let Some(data) = &replay.analytics {
        let dataset = meta.dataset.as_str();
        let a = crate::analytics::analyze(data, &policy.file.analytics, dataset)
            .map_err(AppError::internal)?;
        let dash = serde_json::to_string(&DashFunnel::of(&a.report)).map_err(AppError::internal)?;
        x.dashboard_funnel = Some(dash);
    }
    Ok(x)
}

/// A recording's extras that do not parse.
#[derive(Debug, thiserror::Error)]
#[error("{path}: metadata `{key}` is not the JSON rehearse writes there: {source}")]
pub struct BadExtras {
    path: String,
    key: &'static str,
    source: serde_json::Error,
}

/// The pack of a run's events and extras.
fn room_of(
    meta: &RecordMeta,
    events: &[crate::verdict::VerdictEvent],
    x: &RecordExtras,
    source: &str,
) -> Result<ShipRoom, AppError> {
    let det = PiiDetector::new();
    let redact = |s: &str| redact_message(&det, s);
    let mut room = ship::build(meta, events, x.evaluated.as_deref(), &redact);
    let bad = |key, e| {
        AppError::usage(BadExtras {
            path: source.to_string(),
            key,
            source: e,
        })
    };
    if let Some(t) = &x.board_funnel {
        room.funnel = Some(serde_json::from_str(t).map_err(|e| bad("rehearse.board_funnel", e))?);
    }
    if let Some(t) = &x.dashboard_funnel {
        room.analytics =
            Some(serde_json::from_str(t).map_err(|e| bad("rehearse.dashboard_funnel", e))?);
    }
    if x.ticks.len() == room.ticks.len() && !x.ticks.is_empty() {
        room.p50 = Some(x.ticks.iter().map(|t| t.p50_ms).collect());
        if x.ticks.iter().all(|t| t.probes.is_some()) {
            room.probes = Some(x.ticks.iter().filter_map(|t| t.probes).collect());
        }
        if x.ticks.iter().all(|t| t.security.is_some()) {
            room.security = Some(x.ticks.iter().filter_map(|t| t.security).collect());
        }
    }
    Ok(room)
}

/// Builds the pack of the settings' input.
pub fn build_room(settings: &ReportSettings) -> Result<ShipRoom, AppError> {
    match &settings.input {
        ReportInput::Recording(path) => {
            let (meta, events, x) = read_record_with(path).map_err(|e| {
                AppError::usage(Context::new(
                    format!("cannot read the recording {}", path.display()),
                    e,
                ))
            })?;
            room_of(&meta, &events, &x, &path.display().to_string())
        }
        ReportInput::Dataset(dir) => {
            let replay =
                replay_dir(&settings.setup, dir, settings.read).map_err(AppError::usage)?;
            let policy = &settings.setup.policy;
            let meta = RecordMeta::of_run(&replay.run, policy, &dir.display().to_string());
            let x = extras(&replay, policy, &meta, settings.html.is_some())?;
            room_of(&meta, &replay.run.events, &x, &dir.display().to_string())
        }
    }
}

/// Writes the pack.
pub fn run(settings: &ReportSettings) -> Result<Output, AppError> {
    if settings.html.is_none()
        && settings.markdown.is_none()
        && settings.updates.is_none()
        && settings.post.is_none()
    {
        return Err(AppError::usage(NothingToDo));
    }
    let hook = match &settings.post {
        Some(url) => Some(
            ship::post::Webhook::new(url, settings.cacert.as_deref()).map_err(AppError::usage)?,
        ),
        None => None,
    };
    let room = build_room(settings)?;
    let mut written = Vec::new();
    let write = |path: &PathBuf, text: &str, what: &str| -> Result<(), AppError> {
        write_atomic(path, text.as_bytes()).map_err(|e| {
            AppError::internal(Context::new(
                format!("cannot write the {what} {}", path.display()),
                e,
            ))
        })
    };
    if let Some(path) = &settings.markdown {
        write(path, &ship::markdown::checklist(&room), "checklist")?;
        written.push(format!("checklist {}", path.display()));
    }
    let messages: Vec<String> = ship::updates::updates(&room)
        .iter()
        .map(|m| m.to_string())
        .collect();
    if let Some(path) = &settings.updates {
        write(path, &ship::updates::ndjson(&room), "updates")?;
        written.push(format!("{} updates {}", messages.len(), path.display()));
    }
    if let Some(path) = &settings.html {
        let html = ship::html::page(&room);
        write(path, &html, "dashboard")?;
        written.push(format!(
            "dashboard {} ({} ticks, {} bytes)",
            path.display(),
            room.ticks.len(),
            html.len()
        ));
    }
    if let (Some(url), Some(hook)) = (&settings.post, &hook) {
        ship::post::post_all(hook, &messages).map_err(AppError::internal)?;
        written.push(format!("{} updates posted to {url}", messages.len()));
    }
    Ok(Output::new(
        format!(
            "rehearse report {}: {}\n{}\n",
            room.dataset,
            ship::outcome_words(&room),
            written.join("\n")
        ),
        0,
    ))
}
