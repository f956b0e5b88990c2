//! `rehearse check`: run every saved scenario of a directory (generated in memory, then
//! replayed) and compare each result with its `[expect]` table; print the pass/fail
//! table and optionally write the JUnit report. Exits 0 when all pass, 5
//! ([`EXIT_CHECK_FAILED`]) when any scenario mismatched or could not be loaded or run.

use std::path::PathBuf;

use crate::output::check::{junit, table};
use crate::output::write_atomic;

use super::progress::Progress;
use super::scenario::{check_one, discover};
use super::{AppError, Context, Output};

/// The exit status of a check in which some scenario failed (the README's list).
pub const EXIT_CHECK_FAILED: u8 = 5;

/// The settings of `rehearse check`.
pub struct CheckSettings {
    /// A scenario directory or file.
    pub dir: PathBuf,
    /// Where to write the JUnit XML report, if anywhere.
    pub junit: Option<PathBuf>,
}

/// Runs the scenarios and reports.
pub fn run(settings: &CheckSettings) -> Result<Output, AppError> {
    let files = discover(&settings.dir).map_err(AppError::usage)?;
    if files.is_empty() {
        return Err(AppError::usage(format!(
            "{}: no scenario files (*.toml)",
            settings.dir.display()
        )));
    }
    let progress = Progress::bar(files.len() as u64, "scenarios");
    let results: Vec<_> = files
        .iter()
        .map(|f| {
            progress.set_message(
                f.file_name()
                    .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
            );
            let r = check_one(f);
            progress.inc(1);
            r
        })
        .collect();
    progress.finish();
    if let Some(path) = &settings.junit {
        write_atomic(path, junit(&results).as_bytes()).map_err(|e| {
            AppError::internal(Context::new(format!("cannot write {}", path.display()), e))
        })?;
    }
    let code = if results.iter().all(|r| r.passed()) {
        0
    } else {
        EXIT_CHECK_FAILED
    };
    Ok(Output::new(table(&results), code))
}
