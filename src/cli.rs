//! Command-line arguments in two steps: clap structs that mirror the flags, then the
//! application layer's checked settings value built from them before any work starts
//! (policy merged and validated, schemas compiled, times parsed), so a bad flag fails
//! fast with exit status 2. clap types stop here: nothing below imports this module.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::app::SettingsError;
use crate::app::check::CheckSettings;
use crate::app::funnel::FunnelSettings;
use crate::app::generate::GenerateSettings;
use crate::app::merge::{MergeSettings, Shard, ShardError};
use crate::app::report::{ReportInput, ReportSettings};
use crate::app::run::RunSettings;
use crate::app::schema::{SchemaError, SchemaSettings, parse_stream};
use crate::app::sweep::{SweepError, SweepSettings};
use crate::app::tui::{Speed, TuiInput, TuiSettings};
use crate::app::tune::{TuneError, TuneSettings};
use crate::input::Millis;
use crate::output::dataset::Format;
use crate::policy::{PolicyBuilder, PolicyError};
use crate::source::OnError;
use crate::source::read::ReadOptions;

/// Every exit status, as `rehearse --help` lists them (and the README).
const EXIT_STATUSES: &str = "\
Exit status:
  0  complete: the rollout completes (run), every scenario passed (check), or the command succeeded
  1  internal error
  2  unusable input or usage error
  3  hold: a stage holds (run)
  4  rollback: a trigger rolled a stage back (run)
  5  a check failed: some scenario mismatched its [expect] or could not be loaded or run (check)";

#[derive(Parser, Debug)]
#[command(
    name = "rehearse",
    version,
    about = "Rehearse a canary rollout: replay event streams through the rollout's gate policy and see which stage goes, holds or rolls back, when and why.",
    after_help = EXIT_STATUSES
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
    /// Print the columns of a stream (or of every stream): required or optional, type, unit, meaning.
    Schema(SchemaArgs),
    /// Export the policy to the tool that runs the real canary: Prometheus rules, a promtool test, Argo, Flagger.
    #[command(subcommand)]
    Export(ExportCmd),
    /// The ship-room pack: dashboard (HTML), go/no-go checklist (Markdown), status updates (Slack Block Kit NDJSON, --post to a webhook).
    Report(ReportArgs),
    /// Choose thresholds from an incident library: every combination of varied values
    /// scored against labelled incidents and clean rollouts; the Pareto front and the
    /// recommended policy.
    Tune(TuneArgs),
    /// Merge the shard summaries of `--shard i/N` runs into the unsharded report.
    Merge(MergeArgs),
}

/// `rehearse tune`: thresholds chosen from an incident library.
#[derive(Args, Debug)]
pub struct TuneArgs {
    /// The library: scenario files (*.toml) and labelled dataset directories.
    pub library: PathBuf,
    #[command(flatten)]
    pub policy: PolicyArgs,
    /// A threshold and its values, as in `sweep`: `KEY=LO:HI:STEP` or `KEY=V1,V2,...`.
    #[arg(long = "vary", value_name = "KEY=SPEC", required = true)]
    pub vary: Vec<String>,
    /// Print the JSON report on stdout instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Write the recommended policy (a partial policy file) here.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Judge only shard i of N (0-based) and print its summary for `rehearse merge`;
    /// `--shard N` takes i from JOB_COMPLETION_INDEX.
    #[arg(long, value_name = "i/N")]
    pub shard: Option<String>,
}

/// `rehearse merge`: shard summaries into one report.
#[derive(Args, Debug)]
pub struct MergeArgs {
    /// The shard summaries (JSON), one per shard, in any order.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
}

/// `--shard` as a shard, the index from `JOB_COMPLETION_INDEX` when only N is given.
pub fn parse_shard(arg: &Option<String>) -> Result<Option<Shard>, ShardError> {
    match arg {
        None => Ok(None),
        Some(a) => {
            let job = std::env::var("JOB_COMPLETION_INDEX").ok();
            Shard::parse(a, job.as_deref()).map(Some)
        }
    }
}

/// A bad `tune` argument.
#[derive(Debug, thiserror::Error)]
pub enum TuneArgsError {
    #[error(transparent)]
    Tune(#[from] TuneError),
    #[error(transparent)]
    Shard(#[from] ShardError),
}

impl TuneArgs {
    pub fn settings(&self) -> Result<TuneSettings, TuneArgsError> {
        let shard = parse_shard(&self.shard)?;
        Ok(TuneSettings::new(
            self.library.clone(),
            self.policy.policy.clone(),
            self.policy.set.clone(),
            self.vary.clone(),
            self.json,
            self.out.clone(),
            shard,
        )?)
    }
}

impl MergeArgs {
    pub fn settings(&self) -> MergeSettings {
        MergeSettings {
            files: self.files.clone(),
        }
    }
}

/// `rehearse export ...`.
#[derive(Subcommand, Debug)]
pub enum ExportCmd {
    /// Print a Prometheus rule file: recording rules for the windows, alerts for the request triggers and Go gates.
    Prometheus(ExportArgs),
    /// Write the rule file and a `promtool test rules` file replaying DATASET's requests, expecting the rehearsal's rollback.
    PromtoolTest(PromtoolTestArgs),
    /// Print an Argo Rollouts AnalysisTemplate (Prometheus provider) for the request rollback triggers.
    Argo(ExportArgs),
    /// Print Flagger MetricTemplates and a Canary analysis (stepWeights from the policy) for the request rollback triggers.
    Flagger(ExportArgs),
}

/// The team's metric and label names.
#[derive(Args, Debug, Clone)]
pub struct PromNameArgs {
    /// The request counter, labelled with the status code.
    #[arg(long, value_name = "NAME", default_value = "http_requests_total")]
    pub requests_metric: String,
    /// The request duration histogram (seconds) with a bucket at each latency threshold.
    #[arg(
        long,
        value_name = "NAME",
        default_value = "http_request_duration_seconds"
    )]
    pub duration_metric: String,
    /// The label holding the HTTP status code.
    #[arg(long, value_name = "LABEL", default_value = "code")]
    pub status_label: String,
    /// The stage gauge: present while a stage runs, its value the Unix time the stage started.
    #[arg(
        long,
        value_name = "NAME",
        default_value = "rollout_stage_start_seconds"
    )]
    pub stage_metric: String,
    /// The stage gauge's label holding the stage name.
    #[arg(long, value_name = "LABEL", default_value = "stage")]
    pub stage_label: String,
}

impl PromNameArgs {
    fn names(
        &self,
        selector: Option<(&str, &str)>,
    ) -> crate::output::export::prometheus::PromNames {
        let d = crate::output::export::prometheus::PromNames::default();
        crate::output::export::prometheus::PromNames {
            requests: self.requests_metric.clone(),
            duration: self.duration_metric.clone(),
            status_label: self.status_label.clone(),
            selector: selector.map_or(d.selector, |s| s.0.to_string()),
            real_selector: selector.map_or(d.real_selector, |s| s.1.to_string()),
            stage_metric: self.stage_metric.clone(),
            stage_label: self.stage_label.clone(),
        }
    }
}

/// `rehearse export prometheus|argo|flagger`.
#[derive(Args, Debug)]
pub struct ExportArgs {
    #[command(flatten)]
    pub policy: PolicyArgs,
    #[command(flatten)]
    pub names: PromNameArgs,
    /// Label matchers selecting the canary's real (not synthetic) requests.
    #[arg(
        long,
        value_name = "MATCHERS",
        default_value = "cohort=\"canary\",source=\"real\""
    )]
    pub selector: String,
    /// Label matchers selecting real requests of every cohort (the error budget's traffic).
    #[arg(long, value_name = "MATCHERS", default_value = "source=\"real\"")]
    pub real_selector: String,
    /// Argo and Flagger: the Prometheus address their analysis queries.
    #[arg(
        long,
        value_name = "URL",
        default_value = "http://prometheus.monitoring:9090"
    )]
    pub prometheus_address: String,
    /// Write the output to FILE (atomically) instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

impl ExportArgs {
    pub fn settings(
        &self,
        target: crate::app::export::Target,
    ) -> Result<crate::app::export::ExportSettings, SettingsError> {
        Ok(crate::app::export::ExportSettings {
            target,
            policy: self.policy.builder()?.build()?,
            names: self
                .names
                .names(Some((&self.selector, &self.real_selector))),
            prometheus_address: self.prometheus_address.clone(),
            out: self.out.clone(),
        })
    }
}

/// `rehearse export promtool-test`.
#[derive(Args, Debug)]
pub struct PromtoolTestArgs {
    /// The dataset directory whose requests become the test's input series.
    pub dataset: PathBuf,
    /// The directory to write the rule file and the test file into.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    #[command(flatten)]
    pub policy: PolicyArgs,
    #[command(flatten)]
    pub names: PromNameArgs,
    /// What to do with a bad row: stop with an error (fail) or skip and count it (skip).
    #[arg(long, value_enum, default_value = "fail")]
    pub on_error: OnErrorArg,
    /// The rollout start T0 (RFC 3339), overriding the manifest.
    #[arg(long, value_name = "TIME")]
    pub start: Option<String>,
}

impl PromtoolTestArgs {
    pub fn settings(&self) -> Result<crate::app::export::PromtoolSettings, SettingsError> {
        let policy = self.policy.builder()?.build()?;
        Ok(crate::app::export::PromtoolSettings {
            setup: crate::app::setup(policy)?,
            names: self.names.names(None),
            dataset: self.dataset.clone(),
            read: ReadOptions {
                on_error: self.on_error.into(),
                start: parse_start(&self.start)?,
                ..ReadOptions::default()
            },
            out: self.out.clone(),
        })
    }
}

/// `rehearse report`: the ship-room pack of a rehearsal.
#[derive(Args, Debug)]
pub struct ReportArgs {
    /// The dataset directory to replay (or give --recording).
    #[arg(required_unless_present = "recording", conflicts_with = "recording")]
    pub dataset: Option<PathBuf>,
    /// Build the pack from a run's recorded event log (`rehearse run --record`) instead.
    #[arg(long, value_name = "FILE")]
    pub recording: Option<PathBuf>,
    #[command(flatten)]
    pub policy: PolicyArgs,
    /// Write the self-contained HTML dashboard.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Write the go/no-go checklist (Markdown).
    #[arg(long, value_name = "FILE")]
    pub markdown: Option<PathBuf>,
    /// Write the status updates (Slack Block Kit messages, one JSON object per line).
    #[arg(long, value_name = "FILE")]
    pub updates: Option<PathBuf>,
    /// Send the status updates to this webhook (http:// or https:// URL), one POST per message.
    #[arg(long, value_name = "URL")]
    pub post: Option<String>,
    /// Verify an https:// --post webhook against the CA certificates in this PEM file instead of the machine's trust store.
    #[arg(long, value_name = "FILE", requires = "post")]
    pub cacert: Option<PathBuf>,
    /// What to do with a bad row: stop with an error (fail) or skip and count it (skip).
    #[arg(long, value_enum, default_value = "fail")]
    pub on_error: OnErrorArg,
    /// The rollout start T0 (RFC 3339), overriding the manifest.
    #[arg(long, value_name = "TIME")]
    pub start: Option<String>,
}

/// `rehearse schema`: the dataset format's columns.
#[derive(Args, Debug)]
pub struct SchemaArgs {
    /// One stream: requests, probes, infra, security, logs, pages, funnel or ledger (all when left out).
    pub stream: Option<String>,
    /// Print JSON (an array of streams, each with its columns) instead of tables.
    #[arg(long)]
    pub json: bool,
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
    /// Evaluate only shard i of N (0-based) of the combinations and print its summary
    /// for `rehearse merge`; `--shard N` takes i from JOB_COMPLETION_INDEX.
    #[arg(long, value_name = "i/N")]
    pub shard: Option<String>,
}

#[derive(Args, Debug, Clone, Default)]
pub struct PolicyArgs {
    /// A full or partial policy file merged over the default (`[[stages]]` entries by
    /// stage name; `replace_stages = true` makes them the whole list).
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
    /// Make plausibility warnings (latencies in seconds, epoch seconds, rows outside the
    /// rollout, stages missing a stream) an error with exit status 2.
    #[arg(long)]
    pub strict: bool,
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
    /// The dataset directory to write: a new or empty directory, or with `--force` an
    /// existing dataset directory.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// The encoding of the stream files.
    #[arg(long, value_enum, default_value = "csv")]
    pub format: FormatArg,
    /// Override the scenario's seed.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Replace the dataset in an existing `--out` directory as a whole (only once the
    /// new one is complete; a directory holding other files is still refused).
    #[arg(long)]
    pub force: bool,
}

#[derive(Args, Debug)]
pub struct CheckArgs {
    /// A scenario directory or file.
    #[arg(default_value = "scenarios")]
    pub dir: PathBuf,
    /// Also write a JUnit XML report.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Print the results as JSON instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Check only shard i of N (0-based) of the sorted scenario files and print its
    /// summary for `rehearse merge`; `--shard N` takes i from JOB_COMPLETION_INDEX.
    #[arg(long, value_name = "i/N")]
    pub shard: Option<String>,
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
    #[arg(long, default_value = "600", value_parser = crate::app::tui::parse_speed)]
    pub speed: Speed,
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

impl From<OnErrorArg> for OnError {
    fn from(a: OnErrorArg) -> Self {
        match a {
            OnErrorArg::Fail => OnError::Fail,
            OnErrorArg::Skip => OnError::Skip,
        }
    }
}

impl From<FormatArg> for Format {
    fn from(a: FormatArg) -> Self {
        match a {
            FormatArg::Csv => Format::Csv,
            FormatArg::Ndjson => Format::Ndjson,
            FormatArg::Parquet => Format::Parquet,
            FormatArg::Arrow => Format::Arrow,
        }
    }
}

/// `--start` as an instant.
fn parse_start(start: &Option<String>) -> Result<Option<Millis>, SettingsError> {
    match start {
        None => Ok(None),
        Some(s) => crate::time::parse_rfc3339(s)
            .map(Some)
            .ok_or_else(|| SettingsError::Start(s.clone())),
    }
}

impl RunArgs {
    pub fn settings(&self) -> Result<RunSettings, SettingsError> {
        let policy = self.policy.builder()?.build()?;
        let setup = crate::app::setup(policy)?;
        let start = parse_start(&self.start)?;
        if self.batch_size == 0 {
            return Err(SettingsError::BatchSize);
        }
        Ok(RunSettings {
            setup,
            dataset: self.dataset.clone(),
            read: ReadOptions {
                on_error: self.on_error.into(),
                batch_rows: self.batch_size,
                start,
            },
            json: self.json,
            record: self.record.clone(),
            strict: self.strict,
        })
    }
}

impl SweepArgs {
    pub fn settings(&self) -> Result<SweepSettings, SweepError> {
        let read = ReadOptions {
            on_error: self.on_error.into(),
            start: parse_start(&self.start)?,
            ..ReadOptions::default()
        };
        let mut s = SweepSettings::new(
            self.dataset.clone(),
            &|| self.policy.builder(),
            &self.vary,
            read,
            self.json,
        )?;
        s.shard = parse_shard(&self.shard).map_err(|e| SweepError::Shard(e.to_string()))?;
        Ok(s)
    }
}

impl GenerateArgs {
    pub fn settings(&self) -> GenerateSettings {
        GenerateSettings {
            scenario: self.scenario.clone(),
            out: self.out.clone(),
            format: self.format.into(),
            seed: self.seed,
            force: self.force,
        }
    }
}

impl CheckArgs {
    pub fn settings(&self) -> Result<CheckSettings, ShardError> {
        Ok(CheckSettings {
            dir: self.dir.clone(),
            junit: self.junit.clone(),
            json: self.json,
            shard: parse_shard(&self.shard)?,
        })
    }
}

impl FunnelArgs {
    pub fn settings(&self) -> FunnelSettings {
        FunnelSettings {
            dataset: self.dataset.clone(),
            policy: self.policy.clone(),
            set: self.set.clone(),
            on_error: self.on_error.into(),
            json: self.json,
            out: self.out.clone(),
        }
    }
}

impl SchemaArgs {
    pub fn settings(&self) -> Result<SchemaSettings, SchemaError> {
        Ok(SchemaSettings {
            stream: self.stream.as_deref().map(parse_stream).transpose()?,
            json: self.json,
        })
    }
}

impl TuiArgs {
    pub fn settings(&self) -> TuiSettings {
        let input = match (&self.dataset, &self.scenario, &self.recording) {
            (_, _, Some(path)) => TuiInput::Recording(path.clone()),
            (_, Some(path), None) => TuiInput::Scenario(path.clone()),
            (Some(dir), None, None) => TuiInput::Dataset(dir.clone()),
            (None, None, None) => TuiInput::Nothing,
        };
        TuiSettings {
            input,
            policy_file: self.policy.policy.clone(),
            sets: self.policy.set.clone(),
            speed: self.speed,
            save: self.save.clone(),
            on_error: self.on_error.into(),
            start: self.start.clone(),
        }
    }
}

impl ReportArgs {
    pub fn settings(&self) -> Result<ReportSettings, SettingsError> {
        let policy = self.policy.builder()?.build()?;
        let setup = crate::app::setup(policy)?;
        let input = match (&self.recording, &self.dataset) {
            (Some(path), _) => ReportInput::Recording(path.clone()),
            (None, Some(dir)) => ReportInput::Dataset(dir.clone()),
            (None, None) => ReportInput::Dataset(PathBuf::from(".")),
        };
        Ok(ReportSettings {
            input,
            setup,
            read: ReadOptions {
                on_error: self.on_error.into(),
                start: parse_start(&self.start)?,
                ..ReadOptions::default()
            },
            html: self.html.clone(),
            markdown: self.markdown.clone(),
            updates: self.updates.clone(),
            post: self.post.clone(),
            cacert: self.cacert.clone(),
        })
    }
}
