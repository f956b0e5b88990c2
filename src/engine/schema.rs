//! Probe payload schemas, compiled: the JSON Schemas the policy names per target
//! (loaded from their files by [`crate::app::setup()`] before the run), applied to
//! every status-200 probe payload. A failure names the failing instance path and keyword.

use std::collections::BTreeMap;
use std::sync::Arc;

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
    /// Builds a set from compiled schemas, by target.
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
