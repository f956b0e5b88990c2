//! `rehearse tui` start-up: read and replay the input (a dataset directory, a scenario
//! generated in memory, or a recorded event log) into a [`Session`] with the tuning
//! grid's latency bands and each stage's odds of a false stop (computed once here, as
//! `rehearse run` computes them), then hand it to the terminal UI.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use crate::engine::fold::tuning_grid;
use crate::output::record::read_record;
use crate::policy::PolicyBuilder;
use crate::source::OnError;
use crate::source::read::ReadOptions;
use crate::tui::tune::portable_toml;
use crate::tui::{Origin, Session, run_tui};

use super::progress::Progress;
use super::replay::{replay_dataset_with_bands, replay_dir_with_bands};
use super::scenario::Scenario;
use super::{AppError, BoxError, Context, Output};

pub use crate::tui::Speed;

/// What the terminal UI replays.
pub enum TuiInput {
    Dataset(PathBuf),
    Scenario(PathBuf),
    Recording(PathBuf),
    Nothing,
}

/// The settings of `rehearse tui`.
pub struct TuiSettings {
    pub input: TuiInput,
    pub policy_file: Option<PathBuf>,
    pub sets: Vec<String>,
    pub speed: Speed,
    /// Where `s` saves the tuned policy.
    pub save: PathBuf,
    pub on_error: OnError,
    pub start: Option<String>,
}

/// Parses `--speed`: a positive factor (`60`, `600x`) or `max`.
pub fn parse_speed(s: &str) -> Result<Speed, String> {
    let t = s.trim().to_ascii_lowercase();
    if t == "max" {
        return Ok(Speed::Max);
    }
    match t.trim_end_matches('x').parse::<u32>() {
        Ok(n) if n > 0 => Ok(Speed::X(n)),
        _ => Err(format!(
            "`{s}` is not a speed: use a positive factor such as 1, 60, 600, 3600, or max"
        )),
    }
}

/// Loads the session and runs the UI until the user quits.
pub fn run(settings: &TuiSettings) -> Result<Output, AppError> {
    if !std::io::stdout().is_terminal() {
        return Err(AppError::usage(
            "rehearse tui draws on a terminal, and stdout is not one",
        ));
    }
    let session = load(settings).map_err(AppError::usage)?;
    run_tui(session, settings.speed, settings.save.clone())
        .map_err(|e| AppError::internal(Context::new("the terminal UI failed", e)))?;
    Ok(Output::new(String::new(), 0))
}

/// The policy overrides on top of `base` (the default when `None`).
fn policy_builder(s: &TuiSettings, base: Option<PolicyBuilder>) -> Result<PolicyBuilder, BoxError> {
    let mut b = base.unwrap_or_default();
    if let Some(p) = &s.policy_file {
        b = b.file(p)?;
    }
    for set in &s.sets {
        b = b.set(set)?;
    }
    Ok(b)
}

/// Reads and replays the input named by the settings (every error is a usage error).
pub fn load(s: &TuiSettings) -> Result<Session, BoxError> {
    let has_policy = s.policy_file.is_some() || !s.sets.is_empty();
    if let TuiInput::Recording(path) = &s.input {
        if has_policy {
            return Err(
                "--policy and --set do not apply to --recording: a recording carries its run's policy and verdicts".into(),
            );
        }
        let (meta, events) = read_record(path)?;
        return Ok(Session::from_recording(
            format!("recording {}", path.display()),
            meta,
            events,
        ));
    }
    let start = match &s.start {
        None => None,
        Some(t) => Some(crate::time::parse_rfc3339(t).ok_or_else(|| {
            format!("--start `{t}` is not an RFC 3339 timestamp such as 2026-03-02T10:00:00Z")
        })?),
    };
    let grid = tuning_grid();
    match &s.input {
        TuiInput::Scenario(path) => {
            let scenario = Scenario::load(path)?;
            let mut policy = scenario.setup.policy.clone();
            if has_policy {
                let base = PolicyBuilder::new().text(&portable_toml(&policy), "the scenario")?;
                policy = policy_builder(s, Some(base))?.build()?;
            }
            let setup = super::setup(policy)?;
            let progress = Progress::spinner(format!("generating and replaying {}", scenario.name));
            let ds = scenario.dataset()?;
            let replay = replay_dataset_with_bands(&setup, &ds, start, 8192, &grid)?;
            let odds = super::odds::of_fold(&setup.policy, &replay.folded);
            progress.finish();
            Ok(Session::from_replay(
                format!("scenario {}", scenario.name),
                Origin::Scenario,
                setup.policy,
                replay.run,
                replay.folded,
                replay.analytics.as_deref(),
                odds,
            ))
        }
        TuiInput::Dataset(dir) => {
            let policy = policy_builder(s, None)?.build()?;
            let setup = super::setup(policy)?;
            let opts = ReadOptions {
                on_error: s.on_error,
                start,
                ..ReadOptions::default()
            };
            let replay = replay_dir_with_bands(&setup, dir, opts, &grid)?;
            let progress = Progress::spinner("computing the odds of a false stop");
            let odds = super::odds::of_fold(&setup.policy, &replay.folded);
            progress.finish();
            Ok(Session::from_replay(
                format!("dataset {}", dir.display()),
                Origin::Dataset,
                setup.policy,
                replay.run,
                replay.folded,
                replay.analytics.as_deref(),
                odds,
            ))
        }
        TuiInput::Recording(_) | TuiInput::Nothing => {
            Err("give a dataset directory, --scenario FILE or --recording FILE".into())
        }
    }
}

/// A session over a scenario file with the tuning grid, for tests and tools.
pub fn scenario_session(path: &Path) -> Result<Session, BoxError> {
    let scenario = Scenario::load(path)?;
    let ds = scenario.dataset()?;
    let replay = replay_dataset_with_bands(&scenario.setup, &ds, None, 8192, &tuning_grid())?;
    let odds = super::odds::of_fold(&scenario.setup.policy, &replay.folded);
    Ok(Session::from_replay(
        format!("scenario {}", scenario.name),
        Origin::Scenario,
        scenario.setup.policy.clone(),
        replay.run,
        replay.folded,
        replay.analytics.as_deref(),
        odds,
    ))
}
