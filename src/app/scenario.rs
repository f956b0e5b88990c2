//! Saved incident scenarios: a TOML file holding a generator spec, optional policy
//! overrides and the expected outcome. Loading one builds its policy and compiles its
//! schemas; `rehearse check` generates each scenario in memory, runs it and compares
//! the result with the expectations, field by field.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use thiserror::Error;

use crate::engine::{Run, Setup};
use crate::output::check::{CheckError, CheckResult, Phase};

use super::progress::Progress;
use super::replay::replay_dataset;
use crate::generate::{GenPlan, GenSpec, StagePlan, generate};
use crate::input::Dataset;
use crate::policy::{Policy, PolicyBuilder};
use crate::time::{format_rfc3339, parse_rfc3339};

#[derive(Debug, Error)]
pub enum ScenarioError {
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

/// A scenario file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioFile {
    pub name: Option<String>,
    #[serde(default)]
    pub description: String,
    /// Partial policy merged over the default (same keys as a policy file).
    #[serde(default)]
    pub policy: Option<toml::Table>,
    pub generate: GenSpec,
    /// The optional funnel and ledger streams (`crate::generate`).
    #[serde(default)]
    pub funnel: Option<crate::generate::FunnelSpec>,
    pub expect: Expect,
}

/// What the scenario must produce.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    pub outcome: String,
    /// Verdict per stage, in policy order.
    #[serde(default)]
    pub stages: Option<Vec<String>>,
    /// The rollback instant (RFC 3339).
    #[serde(default)]
    pub rollback_at: Option<String>,
    /// The triggers that fired, in report order.
    #[serde(default)]
    pub triggers: Option<Vec<String>>,
    /// Reasons per stage name.
    #[serde(default)]
    pub reasons: Option<toml::Table>,
    /// Follow-up kinds that must be present.
    #[serde(default)]
    pub follow_ups: Option<Vec<String>>,
}

/// A loaded scenario, ready to run.
pub struct Scenario {
    pub path: PathBuf,
    pub name: String,
    pub description: String,
    pub setup: Setup,
    pub spec: GenSpec,
    pub funnel: Option<crate::generate::FunnelSpec>,
    pub expect: Expect,
}

impl Scenario {
    pub fn load(path: &Path) -> Result<Self, ScenarioError> {
        let err = |m: String| ScenarioError::Invalid {
            path: path.to_path_buf(),
            message: m,
        };
        let text = std::fs::read_to_string(path).map_err(|e| err(format!("cannot read: {e}")))?;
        let file: ScenarioFile = toml::from_str(&text).map_err(|e| err(e.to_string()))?;
        let base = path.parent().unwrap_or(Path::new("."));
        let mut b = PolicyBuilder::new().base_dir(base);
        if let Some(t) = file.policy {
            b = b.table(t).map_err(|e| err(e.to_string()))?;
        }
        let policy = b.build().map_err(|e| err(e.to_string()))?;
        let setup = super::setup(policy).map_err(|e| err(e.to_string()))?;
        let name = file.name.unwrap_or_else(|| {
            path.file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default()
        });
        Ok(Self {
            path: path.to_path_buf(),
            name,
            description: file.description,
            setup,
            spec: file.generate,
            funnel: file.funnel,
            expect: file.expect,
        })
    }

    /// Generates the scenario's dataset in memory.
    pub fn dataset(&self) -> Result<Dataset, ScenarioError> {
        let mut ds = generate(&self.spec, &gen_plan(&self.setup.policy)).map_err(|e| {
            ScenarioError::Invalid {
                path: self.path.clone(),
                message: e.to_string(),
            }
        })?;
        self.add_funnel(&mut ds)?;
        Ok(ds)
    }

    /// Adds the funnel and ledger streams of the scenario's `[funnel]` table, if any.
    fn add_funnel(&self, ds: &mut Dataset) -> Result<(), ScenarioError> {
        let Some(spec) = &self.funnel else {
            return Ok(());
        };
        let t0 = ds
            .start
            .or_else(|| parse_rfc3339(&self.spec.start))
            .unwrap_or_default();
        let (funnel, ledger) = crate::generate::generate_funnel(
            spec,
            &gen_plan(&self.setup.policy),
            t0,
            self.spec.seed,
        )
        .map_err(|e| ScenarioError::Invalid {
            path: self.path.clone(),
            message: e.to_string(),
        })?;
        ds.funnel = Some(funnel);
        ds.ledger = ledger;
        Ok(())
    }

    /// Generates the scenario into a dataset directory, streaming the requests in
    /// chunks so memory stays bounded whatever the traffic. Returns the number of
    /// requests written.
    ///
    /// `dir` should be new or empty: the writer removes files of the dataset's streams
    /// in other encodings (see [`crate::output::dataset::write_dataset`]), and an error
    /// leaves the files written so far. `rehearse generate` gives it a fresh temporary
    /// directory and moves that into place only when this returns `Ok`.
    pub fn write(
        &self,
        dir: &Path,
        format: crate::output::dataset::Format,
    ) -> Result<u64, ScenarioError> {
        let err = |m: String| ScenarioError::Invalid {
            path: self.path.clone(),
            message: m,
        };
        let (mut ds, chunks) =
            crate::generate::generate_streaming(&self.spec, &gen_plan(&self.setup.policy), 65_536)
                .map_err(|e| err(e.to_string()))?;
        self.add_funnel(&mut ds)?;
        let mut count = 0u64;
        let progress = Progress::counter("requests");
        progress.set_message(format!("generating {}", self.name));
        let counted = chunks.inspect(|c| {
            count += c.len() as u64;
            progress.inc(c.len() as u64);
        });
        crate::output::dataset::write_dataset_streaming(&ds, counted, dir, format)
            .map_err(|e| err(e.to_string()))?;
        Ok(count)
    }

    /// Generates and runs the scenario.
    pub fn run(&self) -> Result<Run, ScenarioError> {
        let ds = self.dataset()?;
        let replay =
            replay_dataset(&self.setup, &ds, None, 8192).map_err(|e| ScenarioError::Invalid {
                path: self.path.clone(),
                message: e.to_string(),
            })?;
        Ok(replay.run)
    }
}

/// The generator's view of a policy.
pub fn gen_plan(p: &Policy) -> GenPlan {
    GenPlan {
        stages: p
            .stages
            .iter()
            .map(|s| StagePlan {
                name: s.name.clone(),
                duration_ms: s.duration_ms,
                weight: s.weight,
            })
            .collect(),
        probe_targets: p.probe_targets.clone(),
        probe_interval_ms: p.probe_interval_ms,
    }
}

/// Compares a run with the expectations; each mismatch in words.
pub fn compare(expect: &Expect, run: &Run) -> Vec<String> {
    let mut diffs = Vec::new();
    if expect.outcome != run.outcome.as_str() {
        diffs.push(format!(
            "outcome: expected {}, got {}",
            expect.outcome,
            run.outcome.as_str()
        ));
    }
    if let Some(stages) = &expect.stages {
        let got: Vec<&str> = run.stages.iter().map(|s| s.verdict.as_str()).collect();
        if *stages != got {
            diffs.push(format!(
                "stages: expected [{}], got [{}]",
                stages.join(", "),
                got.join(", ")
            ));
        }
    }
    let got_at = run.rollback.as_ref().map(|(at, _, _)| *at);
    if let Some(at) = &expect.rollback_at {
        match parse_rfc3339(at) {
            None => diffs.push(format!("rollback_at: `{at}` is not an RFC 3339 timestamp")),
            Some(want) if Some(want) != got_at => diffs.push(format!(
                "rollback_at: expected {}, got {}",
                format_rfc3339(want),
                got_at.map(format_rfc3339).unwrap_or_else(|| "none".into())
            )),
            Some(_) => {}
        }
    }
    if let Some(trig) = &expect.triggers {
        let got: Vec<&str> = run
            .rollback
            .as_ref()
            .map(|(_, _, g)| g.iter().map(|g| g.as_str()).collect())
            .unwrap_or_default();
        if *trig != got {
            diffs.push(format!(
                "triggers: expected [{}], got [{}]",
                trig.join(", "),
                got.join(", ")
            ));
        }
    }
    if let Some(reasons) = &expect.reasons {
        for (stage, want) in reasons {
            let want: Vec<String> = want
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            match run.stages.iter().find(|s| s.name == *stage) {
                None => diffs.push(format!("reasons: no stage named `{stage}`")),
                Some(s) => {
                    let got: Vec<String> =
                        s.reasons.iter().map(|g| g.as_str().to_string()).collect();
                    if got != want {
                        diffs.push(format!(
                            "reasons of {stage}: expected [{}], got [{}]",
                            want.join(", "),
                            got.join(", ")
                        ));
                    }
                }
            }
        }
    }
    if let Some(fus) = &expect.follow_ups {
        for kind in fus {
            if !run.follow_ups.iter().any(|f| f.kind == *kind) {
                let got: Vec<&str> = run.follow_ups.iter().map(|f| f.kind.as_str()).collect();
                diffs.push(format!(
                    "follow_ups: expected a `{kind}`, got [{}]",
                    got.join(", ")
                ));
            }
        }
    }
    diffs
}

/// The scenario files of a directory (`*.toml`, sorted), or the file itself.
pub fn discover(path: &Path) -> Result<Vec<PathBuf>, ScenarioError> {
    if path.is_file() {
        return Ok(vec![path.to_path_buf()]);
    }
    let rd = std::fs::read_dir(path).map_err(|e| ScenarioError::Invalid {
        path: path.to_path_buf(),
        message: format!("cannot list scenarios: {e}"),
    })?;
    let mut v: Vec<PathBuf> = rd
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "toml") && p.is_file())
        .collect();
    v.sort();
    Ok(v)
}

/// Runs one scenario file and compares.
pub fn check_one(path: &Path) -> CheckResult {
    let name_of = |p: &Path| {
        p.file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    let errored = |name: String, phase: Phase, e: ScenarioError| CheckResult {
        name,
        path: path.to_path_buf(),
        outcome: "error".into(),
        diffs: vec![],
        error: Some(CheckError {
            phase,
            message: e.to_string(),
        }),
    };
    let s = match Scenario::load(path) {
        Ok(s) => s,
        Err(e) => return errored(name_of(path), Phase::Load, e),
    };
    match s.run() {
        Ok(run) => CheckResult {
            name: s.name.clone(),
            path: path.to_path_buf(),
            outcome: run.outcome.as_str().to_string(),
            diffs: compare(&s.expect, &run),
            error: None,
        },
        Err(e) => errored(s.name.clone(), Phase::Run, e),
    }
}
