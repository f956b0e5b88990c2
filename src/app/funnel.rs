//! `rehearse funnel`: the funnel, attribution, revenue and ledger report over a
//! dataset's funnel and ledger streams, optionally with its tables as Parquet files.

use std::path::PathBuf;

use crate::analytics::{AnalyticsData, AnalyticsPolicy, analyze};
use crate::input::Stream;
use crate::output::funnel as report;
use crate::source::OnError;
use crate::source::dataset::DatasetDir;

use super::progress::Progress;
use super::{AppError, Output};

/// The settings of `rehearse funnel`.
pub struct FunnelSettings {
    pub dataset: PathBuf,
    pub policy: Option<PathBuf>,
    pub set: Vec<String>,
    pub on_error: OnError,
    pub json: bool,
    /// Where to write the report's tables.
    pub out: Option<PathBuf>,
}

/// Loads the streams, analyses them and reports.
pub fn run(s: &FunnelSettings) -> Result<Output, AppError> {
    let policy = AnalyticsPolicy::build(s.policy.as_deref(), &s.set).map_err(AppError::usage)?;
    let dataset = s.dataset.display().to_string();
    if let Some(dir) = &s.out {
        report::check_tables_dir(dir).map_err(AppError::usage)?;
    }
    let progress = Progress::spinner("loading funnel and ledger");
    let dir = DatasetDir::open(&s.dataset).map_err(AppError::usage)?;
    let data = AnalyticsData::load_dir(&dir, s.on_error)
        .map_err(AppError::usage)?
        .ok_or_else(|| {
            AppError::usage(format!(
                "{dataset}: the dataset has no `funnel` or `ledger` stream (add funnel.csv, .ndjson, .jsonl, .parquet or .arrow, or a Segment, RudderStack or PostHog NDJSON export as funnel.ndjson){}{}",
                dir.lookalikes(Stream::Funnel),
                dir.lookalikes(Stream::Ledger)
            ))
        })?;
    progress.set_message("analysing");
    let mut analytics = analyze(&data, &policy, &dataset).map_err(AppError::internal)?;
    progress.finish();
    if let Some(dir) = &s.out {
        report::write_tables(&mut analytics, &data, dir).map_err(AppError::internal)?;
    }
    let text = if s.json {
        report::to_json(&analytics.report)
    } else {
        report::human(&analytics.report)
    };
    Ok(Output::new(text, 0))
}
