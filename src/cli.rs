//! Command-line arguments in two steps: clap structs that mirror the flags, then a
//! checked settings value built before any work starts (policy merged and validated,
//! schemas compiled, times parsed), so a bad flag fails fast with exit status 2.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::engine::{ReadOptions, Setup};
use crate::model::Millis;
use crate::policy::{PolicyBuilder, PolicyError};
use crate::source::OnError;

#[derive(Parser, Debug)]
#[command(
    name = "rehearse",
    version,
    about = "Rehearse a canary rollout: replay event streams through the rollout's gate policy and see which stage goes, holds or rolls back, when and why."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Replay a dataset through the policy and report each stage's verdict.
    Run(RunArgs),
    /// Print or check the gate policy.
    #[command(subcommand)]
    Policy(PolicyCmd),
    /// Generate a deterministic dataset from a scenario file.
    Generate(GenerateArgs),
    /// Run every saved scenario and compare with its expected outcome.
    Check(CheckArgs),
    /// Funnel, attribution, revenue and ledger report over a dataset's funnel and ledger streams.
    Funnel(FunnelArgs),
    /// Replay a rollout in the terminal: watch verdicts form, explain breaches, tune thresholds.
    Tui(TuiArgs),
    /// Evaluate every combination of varied thresholds over one replay and group them by verdict.
    Sweep(SweepArgs),
}

#[derive(Args, Debug)]
pub struct SweepArgs {
    /// The dataset directory (dataset.toml plus one file per stream).
    pub dataset: PathBuf,
    #[command(flatten)]
    pub policy: PolicyArgs,
    /// A threshold and its values: `KEY=LO:HI:STEP` or `KEY=V1,V2,...`, e.g.
    /// `triggers.error_rate_5xx=0.002:0.01:0.001` or `rollout.sustain=5m:15m:1m`.
    /// Repeat for more keys; every combination is evaluated.
    #[arg(long = "vary", value_name = "KEY=SPEC", required = true)]
    pub vary: Vec<String>,
    /// Print the JSON report on stdout instead of the summary.
    #[arg(long)]
    pub json: bool,
    /// What to do with a bad row: stop with an error (fail) or skip and count it (skip).
    #[arg(long, value_enum, default_value = "fail")]
    pub on_error: OnErrorArg,
    /// The rollout start T0 (RFC 3339), overriding the manifest.
    #[arg(long, value_name = "TIME")]
    pub start: Option<String>,
}

#[derive(Args, Debug, Clone, Default)]
pub struct PolicyArgs {
    /// A full or partial policy file merged over the default.
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// Override one policy value, e.g. `--set triggers.latency_p95_ms=300` or `--set stages.ramp-5.duration=45m`.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
}

impl PolicyArgs {
    pub fn builder(&self) -> Result<PolicyBuilder, PolicyError> {
        let mut b = PolicyBuilder::new();
        if let Some(p) = &self.policy {
            b = b.file(p)?;
        }
        for s in &self.set {
            b = b.set(s)?;
        }
        Ok(b)
    }
}

#[derive(Copy, Clone, Debug, ValueEnum, PartialEq, Eq)]
pub enum OnErrorArg {
    Fail,
    Skip,
}

#[derive(Args, Debug)]
pub struct RunArgs {
    /// The dataset directory (dataset.toml plus one file per stream).
    pub dataset: PathBuf,
    #[command(flatten)]
    pub policy: PolicyArgs,
    /// Print the JSON report on stdout instead of the summary.
    #[arg(long)]
    pub json: bool,
    /// Write the run's event log as an Arrow IPC file.
    #[arg(long, value_name = "FILE")]
    pub record: Option<PathBuf>,
    /// What to do with a bad row: stop with an error (fail) or skip and count it (skip).
    #[arg(long, value_enum, default_value = "fail")]
    pub on_error: OnErrorArg,
    /// The rollout start T0 (RFC 3339), overriding the manifest.
    #[arg(long, value_name = "TIME")]
    pub start: Option<String>,
    /// Rows per columnar batch (results never depend on it).
    #[arg(long, default_value_t = 8192, hide = true)]
    pub batch_size: usize,
}

#[derive(Subcommand, Debug)]
pub enum PolicyCmd {
    /// Print the policy: the commented default, or the merged result of --policy/--set.
    Show(PolicyArgs),
    /// Check a policy file (and overrides) without running anything.
    Check(PolicyArgs),
}

#[derive(Copy, Clone, Debug, ValueEnum, PartialEq, Eq)]
pub enum FormatArg {
    Csv,
    Ndjson,
    Parquet,
    Arrow,
}

#[derive(Args, Debug)]
pub struct GenerateArgs {
    /// The scenario file (its `[generate]` table and `[policy]` overrides are used).
    pub scenario: PathBuf,
    /// The dataset directory to write.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// The encoding of the stream files.
    #[arg(long, value_enum, default_value = "csv")]
    pub format: FormatArg,
    /// Override the scenario's seed.
    #[arg(long)]
    pub seed: Option<u64>,
}

#[derive(Args, Debug)]
pub struct CheckArgs {
    /// A scenario directory or file.
    #[arg(default_value = "scenarios")]
    pub dir: PathBuf,
    /// Also write a JUnit XML report.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
}

/// `rehearse tui`: exactly one of a dataset directory, `--scenario` or `--recording`.
#[derive(Args, Debug)]
#[command(group(
    clap::ArgGroup::new("input")
        .required(true)
        .args(["dataset", "scenario", "recording"])
))]
pub struct TuiArgs {
    /// The dataset directory (dataset.toml plus one file per stream).
    pub dataset: Option<PathBuf>,
    /// Generate this scenario's dataset in memory and replay it (its `[policy]` applies).
    #[arg(long, value_name = "FILE")]
    pub scenario: Option<PathBuf>,
    /// Replay a run's recorded event log (`rehearse run --record`); no tuning.
    #[arg(long, value_name = "FILE")]
    pub recording: Option<PathBuf>,
    #[command(flatten)]
    pub policy: PolicyArgs,
    /// Playback speed: a factor such as 1, 60, 600 or 3600, or `max`.
    #[arg(long, default_value = "600", value_parser = crate::tui::parse_speed)]
    pub speed: crate::tui::Speed,
    /// Where `s` saves the tuned policy (TOML).
    #[arg(long, value_name = "FILE", default_value = "tuned-policy.toml")]
    pub save: PathBuf,
    /// What to do with a bad row: stop with an error (fail) or skip and count it (skip).
    #[arg(long, value_enum, default_value = "fail")]
    pub on_error: OnErrorArg,
    /// The rollout start T0 (RFC 3339), overriding the manifest.
    #[arg(long, value_name = "TIME")]
    pub start: Option<String>,
}

/// `rehearse funnel`: the analytics report.
#[derive(Args, Debug)]
pub struct FunnelArgs {
    /// The dataset directory (its `funnel` and `ledger` streams are read).
    pub dataset: PathBuf,
    /// Print the JSON report on stdout instead of the summary.
    #[arg(long)]
    pub json: bool,
    /// Write the report's tables as Parquet files (and report.json) into this directory.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// A policy file whose `[analytics]` section applies (other sections are ignored).
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// Override one analytics value, e.g. `--set analytics.conversion_window=30m`.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// What to do with a bad row: stop with an error (fail) or skip and count it (skip).
    #[arg(long, value_enum, default_value = "fail")]
    pub on_error: OnErrorArg,
}

/// The checked settings of `rehearse run`.
pub struct RunSettings {
    pub setup: Setup,
    pub dataset: PathBuf,
    pub read: ReadOptions,
    pub json: bool,
    pub record: Option<PathBuf>,
}

/// A settings problem: always a usage error (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error(transparent)]
    Policy(#[from] PolicyError),
    #[error(transparent)]
    Schema(#[from] crate::engine::schema::SchemaError),
    #[error("--start `{0}` is not an RFC 3339 timestamp such as 2026-03-02T10:00:00Z")]
    Start(String),
    #[error("--batch-size must be at least 1")]
    BatchSize,
}

impl RunArgs {
    pub fn settings(&self) -> Result<RunSettings, SettingsError> {
        let policy = self.policy.builder()?.build()?;
        let setup = Setup::new(policy)?;
        let start: Option<Millis> = match &self.start {
            None => None,
            Some(s) => {
                Some(crate::time::parse_rfc3339(s).ok_or_else(|| SettingsError::Start(s.clone()))?)
            }
        };
        if self.batch_size == 0 {
            return Err(SettingsError::BatchSize);
        }
        Ok(RunSettings {
            setup,
            dataset: self.dataset.clone(),
            read: ReadOptions {
                on_error: match self.on_error {
                    OnErrorArg::Fail => OnError::Fail,
                    OnErrorArg::Skip => OnError::Skip,
                },
                batch_rows: self.batch_size,
                start,
            },
            json: self.json,
            record: self.record.clone(),
        })
    }
}
