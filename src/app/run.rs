//! `rehearse run`: replay a dataset directory through the policy, optionally record the
//! run's event log, and report (human summary or JSON); the exit status says the
//! outcome (0 complete, 3 hold, 4 rollback). Plausibility warnings
//! ([`super::plausibility`]) go to stderr, or with `--strict` are an error (exit 2).

use std::path::PathBuf;

use crate::engine::Setup;
use crate::output::{record, report};
use crate::source::read::ReadOptions;

use super::plausibility;
use super::replay::replay_dir;
use super::{AppError, Context, Output};

/// The checked settings of `rehearse run`.
pub struct RunSettings {
    pub setup: Setup,
    pub dataset: PathBuf,
    pub read: ReadOptions,
    pub json: bool,
    pub record: Option<PathBuf>,
    /// Plausibility warnings are an error (exit status 2) instead of `warning:` lines.
    pub strict: bool,
}

/// Runs the rollout over the dataset and reports it.
pub fn run(settings: &RunSettings) -> Result<Output, AppError> {
    let replay =
        replay_dir(&settings.setup, &settings.dataset, settings.read).map_err(AppError::usage)?;
    let dataset = settings.dataset.display().to_string();
    let policy = &settings.setup.policy;
    let warnings = plausibility::warnings(
        policy,
        &replay.folded,
        &replay.inputs,
        &replay.run.evaluated,
    );
    if settings.strict && !warnings.is_empty() {
        return Err(AppError::usage(plausibility::Implausible(warnings)));
    }
    if let Some(path) = &settings.record {
        let meta = record::RecordMeta::of_run(&replay.run, policy, &dataset);
        // What `rehearse report --recording` shows beyond the events.
        let extras = super::report::extras(&replay, policy, &meta, true)?;
        record::write_record_with(path, &meta, &replay.run.events, &extras).map_err(|e| {
            AppError::internal(Context::new(
                format!("cannot write the recording {}", path.display()),
                e,
            ))
        })?;
    }
    let code = replay.run.outcome.exit_code() as u8;
    let odds = super::odds::of_fold(policy, &replay.folded);
    let text = if settings.json {
        let mut r = report::build(&replay.run, &replay.inputs, &dataset);
        report::set_odds(&mut r, &odds);
        report::to_json(&r)
    } else {
        let mut t = report::human(&replay.run, &replay.inputs, policy, &dataset);
        t.push_str(&report::odds_lines(policy, &odds));
        t
    };
    let mut out = Output::new(text, code);
    out.warnings = warnings;
    Ok(out)
}
