//! Probe payload schemas: the JSON Schema files the policy names per target, loaded
//! and compiled once before the run, then applied to every status-200 probe payload.
//! A failure names the failing instance path and keyword.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use thiserror::Error;

#[derive(Debug, Error)]
pub enum SchemaError {
    #[error("probe schema for target `{target}` ({path}): {problem}")]
    Load {
        target: String,
        path: PathBuf,
        problem: String,
    },
}

/// One compiled schema.
#[derive(Clone)]
pub struct ProbeSchema {
    validator: Arc<jsonschema::Validator>,
}

impl ProbeSchema {
    /// Compiles a schema document.
    pub fn compile(schema: &serde_json::Value) -> Result<Self, String> {
        let validator = jsonschema::validator_for(schema)
            .map_err(|e| format!("not a valid JSON Schema: {e}"))?;
        Ok(Self {
            validator: Arc::new(validator),
        })
    }

    /// Validates a payload (JSON text). The error names the path and keyword.
    pub fn check(&self, payload: &str) -> Result<(), String> {
        let value: serde_json::Value =
            serde_json::from_str(payload).map_err(|e| format!("payload is not JSON: {e}"))?;
        match self.validator.validate(&value) {
            Ok(()) => Ok(()),
            Err(e) => {
                let path = e.instance_path().to_string();
                let path = if path.is_empty() {
                    "/".to_string()
                } else {
                    path
                };
                Err(format!("{path}: {} ({e})", e.kind().keyword()))
            }
        }
    }
}

/// The schemas of a policy, by probe target.
#[derive(Clone, Default)]
pub struct SchemaSet {
    by_target: BTreeMap<String, ProbeSchema>,
}

impl SchemaSet {
    /// Loads every schema file the policy names.
    pub fn load(files: &BTreeMap<String, PathBuf>) -> Result<Self, SchemaError> {
        let mut by_target = BTreeMap::new();
        for (target, path) in files {
            let err = |problem: String| SchemaError::Load {
                target: target.clone(),
                path: path.clone(),
                problem,
            };
            let text =
                std::fs::read_to_string(path).map_err(|e| err(format!("cannot read: {e}")))?;
            let doc: serde_json::Value =
                serde_json::from_str(&text).map_err(|e| err(format!("not JSON: {e}")))?;
            by_target.insert(target.clone(), ProbeSchema::compile(&doc).map_err(err)?);
        }
        Ok(Self { by_target })
    }

    /// Builds a set from compiled schemas (tests, embedded examples).
    pub fn from_schemas(schemas: impl IntoIterator<Item = (String, ProbeSchema)>) -> Self {
        Self {
            by_target: schemas.into_iter().collect(),
        }
    }

    pub fn get(&self, target: &str) -> Option<&ProbeSchema> {
        self.by_target.get(target)
    }

    pub fn is_empty(&self) -> bool {
        self.by_target.is_empty()
    }
}

/// Resolves a schema path the way the policy does (relative to a base directory).
pub fn resolve(base: &Path, p: &str) -> PathBuf {
    let pb = Path::new(p);
    if pb.is_absolute() {
        pb.to_path_buf()
    } else {
        base.join(pb)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_name_path_and_keyword() {
        let s = ProbeSchema::compile(&serde_json::json!({
            "type": "object",
            "required": ["service"],
            "properties": {"time_to_value_ms": {"type": "integer"}}
        }))
        .unwrap();
        assert!(
            s.check(r#"{"service":"ttv","time_to_value_ms":12}"#)
                .is_ok()
        );
        let e = s
            .check(r#"{"service":"ttv","time_to_value_ms":"slow"}"#)
            .unwrap_err();
        assert!(e.starts_with("/time_to_value_ms: type"), "{e}");
        let e = s.check(r#"{"time_to_value_ms":1}"#).unwrap_err();
        assert!(e.contains("required"), "{e}");
        assert!(s.check("not json").unwrap_err().contains("not JSON"));
    }
}
