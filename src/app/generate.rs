//! `rehearse generate`: generate a scenario's dataset (deterministic, seeded) into a
//! dataset directory in one encoding.

use std::path::PathBuf;

use crate::output::dataset::Format;

use super::scenario::Scenario;
use super::{AppError, Output};

/// The settings of `rehearse generate`.
pub struct GenerateSettings {
    pub scenario: PathBuf,
    pub out: PathBuf,
    pub format: Format,
    /// Overrides the scenario's seed.
    pub seed: Option<u64>,
}

/// Generates the dataset; says what was written on stderr.
pub fn run(settings: &GenerateSettings) -> Result<Output, AppError> {
    let mut scenario = Scenario::load(&settings.scenario).map_err(AppError::usage)?;
    if let Some(seed) = settings.seed {
        scenario.spec.seed = seed;
    }
    let requests = scenario
        .write(&settings.out, settings.format)
        .map_err(AppError::internal)?;
    eprintln!(
        "wrote {} ({requests} requests) to {}",
        scenario.name,
        settings.out.display()
    );
    Ok(Output::new(String::new(), 0))
}
