//! Shards and their merge. `--shard i/N` (or `--shard N` with the index from
//! Kubernetes Indexed Jobs' `JOB_COMPLETION_INDEX`, see [`Shard::parse`]) gives a
//! command one contiguous range of its work; `rehearse merge FILE...` reads the shard
//! summaries and prints the report the unsharded command prints, byte for byte.

use std::path::PathBuf;

use crate::output::tune::{PARTIAL_KIND, TunePartial, finish};

use super::{AppError, Context, Output};

/// One shard of N: the `index`-th (0-based) contiguous range of the work.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    pub index: u64,
    pub count: u64,
}

/// A bad `--shard`.
#[derive(Debug, thiserror::Error)]
pub enum ShardError {
    #[error("--shard `{0}`: expected i/N with 0 <= i < N, e.g. --shard 0/4")]
    Syntax(String),
    #[error(
        "JOB_COMPLETION_INDEX `{0}` is not an index below the shard count {1} (give --shard i/N or N as --shard N)"
    )]
    Env(String, u64),
}

impl Shard {
    /// Parses `i/N`, or `N` alone with `i` from `job_index` (Kubernetes Indexed Jobs'
    /// `JOB_COMPLETION_INDEX`).
    pub fn parse(arg: &str, job_index: Option<&str>) -> Result<Self, ShardError> {
        let bad = || ShardError::Syntax(arg.into());
        let (i, n) = match arg.split_once('/') {
            Some((i, n)) => (
                i.trim().parse::<u64>().map_err(|_| bad())?,
                n.trim().parse::<u64>().map_err(|_| bad())?,
            ),
            None => {
                let n = arg.trim().parse::<u64>().map_err(|_| bad())?;
                let j = job_index.ok_or_else(bad)?;
                let i = j
                    .trim()
                    .parse::<u64>()
                    .map_err(|_| ShardError::Env(j.into(), n))?;
                if i >= n {
                    return Err(ShardError::Env(j.into(), n));
                }
                (i, n)
            }
        };
        if n == 0 || i >= n {
            return Err(bad());
        }
        Ok(Shard { index: i, count: n })
    }

    /// This shard's range of `0..total`.
    pub fn range(&self, total: u64) -> std::ops::Range<u64> {
        let at = |k: u64| ((total as u128 * k as u128) / self.count as u128) as u64;
        at(self.index)..at(self.index + 1)
    }
}

/// The settings of `rehearse merge`.
pub struct MergeSettings {
    pub files: Vec<PathBuf>,
}

/// Reads the shard summaries and prints the merged report.
pub fn run(s: &MergeSettings) -> Result<Output, AppError> {
    let mut parts = Vec::new();
    for f in &s.files {
        let text = std::fs::read_to_string(f).map_err(|e| {
            AppError::usage(Context::new(format!("cannot read {}", f.display()), e))
        })?;
        let value: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| AppError::usage(Context::new(format!("{}: not JSON", f.display()), e)))?;
        let kind = value.get("kind").and_then(|k| k.as_str()).unwrap_or("");
        if kind != PARTIAL_KIND {
            return Err(AppError::usage(format!(
                "{}: not a shard summary (print one with `rehearse tune ... --shard i/N`)",
                f.display()
            )));
        }
        let p: TunePartial = serde_json::from_value(value).map_err(|e| {
            AppError::usage(Context::new(
                format!("{}: a damaged shard summary", f.display()),
                e,
            ))
        })?;
        parts.push(p);
    }
    let report = finish(parts).map_err(AppError::usage)?;
    let mut t = serde_json::to_string_pretty(&report).map_err(AppError::internal)?;
    t.push('\n');
    Ok(Output::new(t, 0))
}
