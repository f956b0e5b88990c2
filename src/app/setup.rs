//! The checked setup of a run: the policy plus its probe payload schemas, each target's
//! JSON Schema file read, parsed and compiled once before any event is read, so a bad
//! schema fails the command up front with the file named.

use std::collections::BTreeMap;
use std::path::PathBuf;

use thiserror::Error;

use crate::engine::Setup;
use crate::engine::schema::{ProbeSchema, SchemaSet};
use crate::policy::Policy;

#[derive(Debug, Error)]
pub enum SchemaError {
    #[error("probe schema for target `{target}` ({path}): {problem}")]
    Load {
        target: String,
        path: PathBuf,
        problem: String,
    },
}

/// The setup of `policy`: its schema files loaded and compiled.
pub fn setup(policy: Policy) -> Result<Setup, SchemaError> {
    let schemas = load_schemas(&policy.probe_schemas)?;
    Ok(Setup::new(policy, schemas))
}

/// Loads and compiles every schema file of `files` (target to path).
pub fn load_schemas(files: &BTreeMap<String, PathBuf>) -> Result<SchemaSet, SchemaError> {
    let mut by_target = Vec::new();
    for (target, path) in files {
        let err = |problem: String| SchemaError::Load {
            target: target.clone(),
            path: path.clone(),
            problem,
        };
        let text = std::fs::read_to_string(path).map_err(|e| err(format!("cannot read: {e}")))?;
        let doc: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| err(format!("not JSON: {e}")))?;
        by_target.push((target.clone(), ProbeSchema::compile(&doc).map_err(err)?));
    }
    Ok(SchemaSet::from_schemas(by_target))
}
