//! The application layer: one module per command. Each takes a checked settings value
//! (built from the command line by [`crate::cli`] before any work starts), opens what
//! the command needs (datasets, policies, schemas, scenarios, recordings), wires the
//! readers to the engine and the engine to the outputs, and returns what to print and
//! the exit status. Nothing below this layer opens a dataset, and clap types stop at
//! [`crate::cli`].

pub mod check;
pub mod export;
pub mod funnel;
pub mod generate;
pub mod merge;
pub mod odds;
pub mod odds_mc;
pub mod plausibility;
pub mod policy;
pub mod progress;
pub mod replay;
pub mod report;
pub mod run;
pub mod scenario;
pub mod schema;
pub mod setup;
pub mod sweep;
pub mod tui;
pub mod tune;

use std::error::Error;

pub use setup::setup;

/// A boxed error that keeps its chain of causes.
pub type BoxError = Box<dyn Error + Send + Sync + 'static>;

/// What a command prints on stdout, its exit status, and the warnings it prints on
/// stderr (as `warning: ...` lines).
#[derive(Debug)]
pub struct Output {
    pub text: String,
    pub code: u8,
    pub warnings: Vec<String>,
}

impl Output {
    pub fn new(text: String, code: u8) -> Self {
        Self {
            text,
            code,
            warnings: Vec::new(),
        }
    }
}

/// Why a command failed, with its exit status: 2 for unusable input or a usage error,
/// 1 for an internal error (documented in the README and `rehearse --help`; a command
/// that ran reports 0, 3, 4 or 5 through [`Output`]).
#[derive(Debug, thiserror::Error)]
#[error("{error}")]
pub struct AppError {
    pub code: u8,
    #[source]
    pub error: BoxError,
}

impl AppError {
    /// Unusable input or a usage error (exit status 2).
    pub fn usage(e: impl Into<BoxError>) -> Self {
        Self {
            code: 2,
            error: e.into(),
        }
    }

    /// An internal error (exit status 1).
    pub fn internal(e: impl Into<BoxError>) -> Self {
        Self {
            code: 1,
            error: e.into(),
        }
    }
}

/// An error with what was being done when it happened: `what: cause`.
#[derive(Debug, thiserror::Error)]
#[error("{what}")]
pub struct Context {
    pub what: String,
    #[source]
    pub source: BoxError,
}

impl Context {
    pub fn new(what: impl Into<String>, source: impl Into<BoxError>) -> Self {
        Self {
            what: what.into(),
            source: source.into(),
        }
    }
}

/// A settings problem shared by the commands that replay a dataset: always a usage
/// error (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error(transparent)]
    Policy(#[from] crate::policy::PolicyError),
    #[error(transparent)]
    Schema(#[from] setup::SchemaError),
    #[error("--start `{0}` is not an RFC 3339 timestamp such as 2026-03-02T10:00:00Z")]
    Start(String),
    #[error("--batch-size must be at least 1")]
    BatchSize,
}
