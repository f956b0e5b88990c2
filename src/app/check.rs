//! `rehearse check`: run every saved scenario of a directory (generated in memory, then
//! replayed) and compare each result with its `[expect]` table; print the pass/fail
//! table and optionally write the JUnit report. Exits 0 when all pass, 5
//! ([`EXIT_CHECK_FAILED`]) when any scenario mismatched or could not be loaded or run.

use std::path::PathBuf;

use crate::output::check::{junit, table};
use crate::output::write_atomic;

use super::merge::{CHECK_KIND, CheckJson, CheckPartial, CheckReport};
use super::progress::Progress;
use super::scenario::{check_one, discover};
use super::{AppError, Context, Output};
use crate::output::tune::ShardReport;

/// The exit status of a check in which some scenario failed (the README's list).
pub const EXIT_CHECK_FAILED: u8 = 5;

/// The settings of `rehearse check`.
pub struct CheckSettings {
    /// A scenario directory or file.
    pub dir: PathBuf,
    /// Where to write the JUnit XML report, if anywhere.
    pub junit: Option<PathBuf>,
    /// Print the results as JSON instead of the table.
    pub json: bool,
    /// Check only this shard of the sorted scenario files and print its summary.
    pub shard: Option<super::merge::Shard>,
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
    let all = files.len() as u64;
    let range = settings.shard.map_or(0..all, |s| s.range(all));
    let files = &files[range.start as usize..range.end as usize];
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
    let json: Vec<CheckJson> = results.iter().map(CheckJson::from).collect();
    if let Some(shard) = settings.shard {
        let part = CheckPartial {
            kind: CHECK_KIND.into(),
            dir: settings.dir.display().to_string(),
            files: all,
            shard: ShardReport {
                index: shard.index,
                count: shard.count,
                first: range.start,
                end: range.end,
            },
            results: json,
        };
        return Ok(Output::new(super::merge::json(&part)?, code));
    }
    if settings.json {
        return Ok(Output::new(
            super::merge::json(&CheckReport::of(json))?,
            code,
        ));
    }
    Ok(Output::new(table(&results), code))
}
