//! The gate policy: the embedded, commented default (`default.toml`), partial policy
//! files and `--set` overrides merged over it (sections key by key, `[[stages]]` entries
//! by stage name, or as the whole stage list under `replace_stages = true`), and the
//! checked, compiled form the engine reads (durations in milliseconds, ratios as exact
//! decimal fractions, latencies in microseconds). Unknown keys and out-of-range values
//! are errors naming the key.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::input::Millis;
use crate::ratio::Ratio;
use crate::time::{format_duration, parse_duration};

/// The default policy, fully commented, as `rehearse policy show` prints it.
pub const DEFAULT_POLICY_TOML: &str = include_str!("default.toml");

/// The top-level key that makes a policy file's `[[stages]]` the whole stage list, in
/// its order (stages it leaves out are removed), instead of merging them by name.
const REPLACE_STAGES: &str = "replace_stages";

/// The keys of a `[[stages]]` entry (those of [`StageSection`]).
const STAGE_FIELDS: [&str; 5] = ["name", "duration", "weight", "go_p95_ms", "probes"];

/// The keys a `[[stages]]` entry adding a new stage must give (`probes` defaults to false).
const NEW_STAGE_FIELDS: [&str; 3] = ["duration", "weight", "go_p95_ms"];

#[derive(Debug, Error)]
pub enum PolicyError {
    /// The I/O error is part of the message and not a `source`, so a printed cause chain
    /// does not repeat it.
    #[error("cannot read policy file {path}: {cause}")]
    Read {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error("policy {origin}: {message}")]
    Parse { origin: String, message: String },
    #[error("policy key `{key}`: {message}")]
    Invalid { key: String, message: String },
    /// An error about a key of a policy file; `at` is "in FILE: PROBLEM" or "in FILE,
    /// line N: PROBLEM".
    #[error("policy key `{key}` {at}")]
    InFile { key: String, at: String },
    #[error("--set `{arg}`: {message} (expected KEY=VALUE, e.g. triggers.latency_p95_ms=300)")]
    Set { arg: String, message: String },
}

fn invalid(key: impl Into<String>, message: impl Into<String>) -> PolicyError {
    PolicyError::Invalid {
        key: key.into(),
        message: message.into(),
    }
}

/// The policy file as written (all sections required after merging over the default).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyFile {
    pub rollout: RolloutSection,
    pub stages: Vec<StageSection>,
    pub go: GoSection,
    pub triggers: TriggerSection,
    pub probes: ProbeSection,
    pub budget: BudgetSection,
    pub endpoints: EndpointSection,
    pub infra: InfraSection,
    pub security: SecuritySection,
    pub followups: FollowupSection,
    /// The canary-versus-baseline judge (off unless `enabled`); optional in files.
    #[serde(default)]
    pub judge: JudgeSection,
    /// The analytics section, checked by [`crate::analytics::policy::AnalyticsPolicy::from_table`].
    #[serde(default)]
    pub analytics: crate::analytics::policy::AnalyticsPolicy,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RolloutSection {
    pub tick: String,
    pub window: String,
    pub sustain: String,
    pub min_requests: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StageSection {
    pub name: String,
    pub duration: String,
    pub weight: f64,
    pub go_p95_ms: f64,
    #[serde(default)]
    pub probes: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GoSection {
    pub error_rate_5xx: f64,
    pub error_rate_4xx_nonauth: f64,
    pub availability: f64,
    pub max_no_data_ticks: f64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TriggerSection {
    pub error_rate_5xx: f64,
    pub error_rate_4xx_nonauth: f64,
    pub latency_p95_ms: f64,
    pub latency_p99_ms: f64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProbeSection {
    pub targets: Vec<String>,
    pub interval: String,
    pub consecutive_failures: u32,
    pub max_gap_intervals: u32,
    #[serde(default)]
    pub schemas: BTreeMap<String, String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BudgetSection {
    pub slo: f64,
    pub period: String,
    pub max_burn: f64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndpointSection {
    pub outlier_prefixes: Vec<String>,
    pub p95_ms: f64,
    pub min_requests: u64,
    pub ticket_p95_ms: f64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InfraSection {
    pub cpu_p95: f64,
    pub mem_free_p5: f64,
    pub db_p95_ms: f64,
    pub queue_depth: f64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecuritySection {
    pub factor: f64,
    pub min_per_minute: f64,
    pub baseline: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FollowupSection {
    pub split_tolerance: f64,
    pub split_min_requests: u64,
}

/// The canary-versus-baseline judge: an always-valid sequential test of the canary's
/// share of the errors against its share of the traffic (`canary_judge`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JudgeSection {
    pub enabled: bool,
    /// The false-alarm bound per stage, over the whole stage (time-uniform).
    pub alpha: f64,
    /// The Beta prior's concentration around the traffic share.
    pub prior_strength: f64,
}

impl Default for JudgeSection {
    fn default() -> Self {
        JudgeSection {
            enabled: false,
            alpha: 0.01,
            prior_strength: 10.0,
        }
    }
}

/// A stage of the checked policy, with its bounds relative to T0.
#[derive(Clone, Debug, PartialEq)]
pub struct Stage {
    pub name: String,
    /// Offset of the stage start from T0 (the stage covers `(start, end]`).
    pub start_ms: Millis,
    pub duration_ms: Millis,
    pub weight: f64,
    /// Go limit for the canary p95, microseconds.
    pub go_p95_us: u64,
    pub probes: bool,
}

impl Stage {
    pub fn end_ms(&self) -> Millis {
        self.start_ms + self.duration_ms
    }
}

/// The checked policy the engine runs: every value validated and converted.
#[derive(Clone, Debug)]
pub struct Policy {
    pub file: PolicyFile,
    pub tick_ms: Millis,
    /// Window length in ticks.
    pub window_ticks: usize,
    /// Consecutive ticks a sustained condition needs (sustain / tick + 1).
    pub sustain_ticks: usize,
    pub min_requests: u64,
    pub stages: Vec<Stage>,
    pub go_5xx: Ratio,
    pub go_4xx: Ratio,
    pub go_availability: Ratio,
    pub go_max_no_data: Ratio,
    pub trig_5xx: Ratio,
    pub trig_4xx: Ratio,
    pub trig_p95_us: u64,
    pub trig_p99_us: u64,
    pub q95: Ratio,
    pub q99: Ratio,
    pub q05: Ratio,
    pub probe_targets: Vec<String>,
    pub probe_interval_ms: Millis,
    pub probe_consecutive: u32,
    pub probe_max_gap_ms: Millis,
    /// Absolute paths of JSON Schema files per probe target.
    pub probe_schemas: BTreeMap<String, PathBuf>,
    pub budget_slo: Ratio,
    pub budget_period_ms: Millis,
    pub budget_max_burn: Ratio,
    pub outlier_prefixes: Vec<String>,
    pub endpoint_p95_us: u64,
    pub endpoint_min_requests: u64,
    pub ticket_p95_us: u64,
    pub infra: InfraSection,
    pub security_factor: Ratio,
    pub security_min_per_minute: Ratio,
    pub security_baseline_ms: Millis,
    pub split_tolerance: Ratio,
    pub split_min_requests: u64,
    /// Whether the canary judge runs, its false-alarm bound `alpha` in (0, 1) and its
    /// prior's strength (positive).
    pub judge_enabled: bool,
    pub judge_alpha: f64,
    pub judge_prior: f64,
}

impl Policy {
    /// Total rollout length from T0 to the end of the last stage.
    pub fn total_ms(&self) -> Millis {
        self.stages.last().map_or(0, Stage::end_ms)
    }
    pub fn total_ticks(&self) -> usize {
        (self.total_ms() / self.tick_ms) as usize
    }
    /// The stage index holding a tick number `k` (1-based); `None` past the end.
    pub fn stage_of_tick(&self, k: usize) -> Option<usize> {
        let t = k as Millis * self.tick_ms;
        self.stages
            .iter()
            .position(|s| s.start_ms < t && t <= s.end_ms())
    }
    /// The default policy, checked.
    pub fn default_policy() -> Policy {
        PolicyBuilder::new()
            .build()
            .expect("the embedded default policy is valid")
    }
    /// The limit a trigger fires at, as displayed (rates as fractions, latencies in
    /// ms), for the triggers that have a limit of their own (not the Go threshold).
    pub fn trigger_limit(&self, g: crate::gate::Gate) -> Option<f64> {
        use crate::gate::Gate;
        match g {
            Gate::ErrorRate5xx => Some(self.trig_5xx.as_f64()),
            Gate::ErrorRate4xxNonauth => Some(self.trig_4xx.as_f64()),
            Gate::LatencyP95 => Some(self.trig_p95_us as f64 / 1000.0),
            Gate::LatencyP99 => Some(self.trig_p99_us as f64 / 1000.0),
            _ => None,
        }
    }
    /// The policy as a TOML document (the merged values, without comments), as the
    /// event log stores it; read it back with [`PolicyBuilder::complete`].
    pub fn to_toml(&self) -> String {
        toml::to_string(&self.file).unwrap_or_default()
    }
}

impl PolicyFile {
    /// The policy as a file that reads back as itself over any base: every section,
    /// after `replace_stages = true` so its stages are the whole list.
    pub fn to_complete_toml(&self) -> String {
        format!(
            "{REPLACE_STAGES} = true\n\n{}",
            toml::to_string(self).unwrap_or_default()
        )
    }
}

/// Builds a policy: default, then policy files (merged in order), then `--set` values.
#[derive(Debug)]
pub struct PolicyBuilder {
    table: toml::Table,
    base_dir: PathBuf,
}

impl Default for PolicyBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl PolicyBuilder {
    pub fn new() -> Self {
        let table: toml::Table =
            toml::from_str(DEFAULT_POLICY_TOML).expect("the embedded default policy parses");
        Self {
            table,
            base_dir: PathBuf::from("."),
        }
    }

    /// Merges a full or partial policy file over the current values; its directory
    /// becomes the base for relative schema paths.
    pub fn file(mut self, path: &Path) -> Result<Self, PolicyError> {
        let text = std::fs::read_to_string(path).map_err(|cause| PolicyError::Read {
            path: path.to_path_buf(),
            cause,
        })?;
        self = self.text(&text, &path.display().to_string())?;
        self.base_dir = path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        Ok(self)
    }

    /// Merges policy text (a full or partial policy) over the current values.
    pub fn text(mut self, text: &str, origin: &str) -> Result<Self, PolicyError> {
        let overlay: toml::Table = toml::from_str(text).map_err(|e| PolicyError::Parse {
            origin: origin.to_string(),
            message: e.to_string(),
        })?;
        merge_policy(&mut self.table, overlay).map_err(|e| in_file(e, text, origin))?;
        Ok(self)
    }

    /// Reads a complete policy written by [`Policy::to_toml`] (an event log's) over the
    /// current values: its stages are the whole list, with or without `replace_stages`.
    pub fn complete(mut self, text: &str, origin: &str) -> Result<Self, PolicyError> {
        let mut overlay: toml::Table = toml::from_str(text).map_err(|e| PolicyError::Parse {
            origin: origin.to_string(),
            message: e.to_string(),
        })?;
        if overlay.contains_key("stages") {
            overlay.insert(REPLACE_STAGES.to_string(), toml::Value::Boolean(true));
        }
        merge_policy(&mut self.table, overlay)?;
        Ok(self)
    }

    /// Merges an already parsed table (e.g. a scenario's `[policy]`).
    pub fn table(mut self, overlay: toml::Table) -> Result<Self, PolicyError> {
        merge_policy(&mut self.table, overlay)?;
        Ok(self)
    }

    /// Sets the directory relative schema paths are resolved against.
    pub fn base_dir(mut self, dir: &Path) -> Self {
        self.base_dir = dir.to_path_buf();
        self
    }

    /// Applies one `KEY=VALUE` override. `stages.NAME.FIELD` addresses a stage by name.
    pub fn set(mut self, arg: &str) -> Result<Self, PolicyError> {
        let set_err = |m: &str| PolicyError::Set {
            arg: arg.to_string(),
            message: m.to_string(),
        };
        let (key, raw) = arg.split_once('=').ok_or_else(|| set_err("missing `=`"))?;
        let key = key.trim();
        let raw = raw.trim();
        let value: toml::Value = match toml::from_str::<toml::Table>(&format!("v = {raw}")) {
            Ok(mut t) => t
                .remove("v")
                .unwrap_or(toml::Value::String(raw.to_string())),
            Err(_) => toml::Value::String(raw.to_string()),
        };
        let parts: Vec<&str> = key.split('.').collect();
        if parts.iter().any(|p| p.is_empty()) {
            return Err(set_err("empty key segment"));
        }
        if parts[0] == "stages" {
            if parts.len() != 3 {
                return Err(set_err("stage keys look like stages.NAME.FIELD"));
            }
            let stages = self
                .table
                .get_mut("stages")
                .and_then(toml::Value::as_array_mut)
                .ok_or_else(|| set_err("the policy has no stages"))?;
            let stage_names: Vec<String> = stages
                .iter()
                .filter_map(|t| t.get("name").and_then(toml::Value::as_str))
                .map(str::to_string)
                .collect();
            let stage = stages
                .iter_mut()
                .filter_map(toml::Value::as_table_mut)
                .find(|t| t.get("name").and_then(toml::Value::as_str) == Some(parts[1]))
                .ok_or_else(|| {
                    set_err(&format!(
                        "no stage named `{}` ({}the policy's stages: {})",
                        parts[1],
                        did_you_mean(parts[1], stage_names.iter().map(String::as_str)),
                        stage_names.join(", ")
                    ))
                })?;
            if !STAGE_FIELDS.contains(&parts[2]) {
                return Err(set_err(&format!(
                    "unknown stage field `{}` ({}fields: {})",
                    parts[2],
                    did_you_mean(parts[2], STAGE_FIELDS),
                    STAGE_FIELDS.join(", ")
                )));
            }
            check_value(key, stage.get(parts[2]), &value)?;
            stage.insert(parts[2].to_string(), value);
            return Ok(self);
        }
        let mut table = &mut self.table;
        for (i, part) in parts.iter().enumerate() {
            if i + 1 == parts.len() {
                let is_schema = i == 2 && parts[..2] == ["probes", "schemas"];
                if !table.contains_key(*part) && !is_schema {
                    return Err(PolicyError::Invalid {
                        key: key.to_string(),
                        message: format!(
                            "unknown key ({}{}; see `rehearse policy show`)",
                            did_you_mean(part, table.keys().map(String::as_str)),
                            known_keys(table, i == 0)
                        ),
                    });
                }
                check_value(key, table.get(*part), &value)?;
                table.insert(part.to_string(), value);
                break;
            }
            if !matches!(table.get(*part), Some(toml::Value::Table(_))) {
                return Err(PolicyError::Invalid {
                    key: key.to_string(),
                    message: format!(
                        "unknown section `{part}` ({}{}; see `rehearse policy show`)",
                        did_you_mean(part, table.keys().map(String::as_str)),
                        known_keys(table, i == 0)
                    ),
                });
            }
            table = table
                .get_mut(*part)
                .and_then(toml::Value::as_table_mut)
                .expect("checked to be a table");
        }
        Ok(self)
    }

    /// Checks every value and compiles the policy.
    pub fn build(mut self) -> Result<Policy, PolicyError> {
        // The analytics section is checked key by key, so errors name the key.
        let analytics = match self.table.remove("analytics") {
            None => crate::analytics::policy::AnalyticsPolicy::default(),
            Some(toml::Value::Table(t)) => {
                crate::analytics::policy::AnalyticsPolicy::from_table(&t).map_err(|e| {
                    PolicyError::Invalid {
                        key: format!("analytics.{}", e.key),
                        message: e.problem,
                    }
                })?
            }
            Some(_) => return Err(invalid("analytics", "must be a table")),
        };
        let mut file: PolicyFile =
            toml::Value::Table(self.table)
                .try_into()
                .map_err(|e: toml::de::Error| PolicyError::Parse {
                    origin: "after merging".into(),
                    message: e.to_string(),
                })?;
        file.analytics = analytics;
        compile(file, &self.base_dir)
    }
}

/// Merges one policy layer (a file, a scenario's `[policy]`) over the current values:
/// `[[stages]]` by stage name ([`merge_stages`]), every other section by [`merge`].
fn merge_policy(base: &mut toml::Table, mut overlay: toml::Table) -> Result<(), PolicyError> {
    let replace = match overlay.remove(REPLACE_STAGES) {
        None => false,
        Some(toml::Value::Boolean(b)) => b,
        Some(v) => {
            return Err(invalid(
                REPLACE_STAGES,
                format!("{v} must be true or false"),
            ));
        }
    };
    match overlay.remove("stages") {
        Some(stages) => merge_stages(base, stages, replace)?,
        None if replace => {
            return Err(invalid(
                REPLACE_STAGES,
                "`replace_stages = true` needs a [[stages]] list in the same file: \
                 give every stage of the rollout, in order",
            ));
        }
        None => {}
    }
    merge(base, overlay, "")
}

/// Merges `[[stages]]` entries into the current stages by name. An entry naming a
/// current stage overrides only the fields it gives; an entry with a new name must give
/// every field of [`NEW_STAGE_FIELDS`]. Without `replace`, stages keep their places and
/// new ones are appended in the entries' order; with `replace`, the entries are the
/// whole list, in their order (each still inheriting the fields of the current stage of
/// its name).
fn merge_stages(
    base: &mut toml::Table,
    overlay: toml::Value,
    replace: bool,
) -> Result<(), PolicyError> {
    let toml::Value::Array(entries) = overlay else {
        return Err(invalid(
            "stages",
            "must be a list of [[stages]] tables, each with a `name`",
        ));
    };
    let mut current: Vec<toml::Table> = match base.remove("stages") {
        Some(toml::Value::Array(a)) => a
            .into_iter()
            .filter_map(|v| match v {
                toml::Value::Table(t) => Some(t),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    let name_of = |t: &toml::Table| {
        t.get("name")
            .and_then(toml::Value::as_str)
            .map(str::to_string)
    };
    let existing = current
        .iter()
        .filter_map(name_of)
        .collect::<Vec<_>>()
        .join(", ");
    let mut listed: Vec<toml::Table> = Vec::new();
    let mut seen: Vec<String> = Vec::new();
    for (i, entry) in entries.into_iter().enumerate() {
        let key = |f: &str| format!("stages[{i}].{f}");
        let toml::Value::Table(entry) = entry else {
            return Err(invalid(
                format!("stages[{i}]"),
                "must be a table ([[stages]] with a `name`)",
            ));
        };
        if let Some(f) = entry.keys().find(|f| !STAGE_FIELDS.contains(&f.as_str())) {
            return Err(invalid(
                key(f),
                format!(
                    "unknown stage field ({}fields: {})",
                    did_you_mean(f, STAGE_FIELDS),
                    STAGE_FIELDS.join(", ")
                ),
            ));
        }
        let name = match entry.get("name") {
            Some(toml::Value::String(s)) => s.clone(),
            Some(v) => {
                return Err(invalid(key("name"), format!("{v} must be a string")));
            }
            None => {
                return Err(invalid(
                    key("name"),
                    format!(
                        "missing: each [[stages]] entry names the stage it changes \
                         (the policy's stages: {existing}) or adds"
                    ),
                ));
            }
        };
        if seen.contains(&name) {
            return Err(invalid(
                key("name"),
                format!("`{name}` appears twice in this [[stages]] list"),
            ));
        }
        seen.push(name.clone());
        match current
            .iter()
            .position(|t| name_of(t).as_deref() == Some(&name))
        {
            Some(at) if replace => {
                let mut stage = current[at].clone();
                stage.extend(entry);
                listed.push(stage);
            }
            Some(at) => current[at].extend(entry),
            None => {
                let missing: Vec<&str> = NEW_STAGE_FIELDS
                    .into_iter()
                    .filter(|f| !entry.contains_key(*f))
                    .collect();
                if let Some(first) = missing.first() {
                    return Err(invalid(
                        key(first),
                        format!(
                            "`{name}` is not one of the policy's stages ({existing}), so it \
                             adds a stage, which must give {}; missing {} (or fix the name \
                             to change an existing stage)",
                            NEW_STAGE_FIELDS.join(", "),
                            missing.join(", ")
                        ),
                    ));
                }
                if replace {
                    listed.push(entry);
                } else {
                    current.push(entry);
                }
            }
        }
    }
    let stages = if replace { listed } else { current };
    base.insert(
        "stages".to_string(),
        toml::Value::Array(stages.into_iter().map(toml::Value::Table).collect()),
    );
    Ok(())
}

/// "did you mean `X`? " for the known name nearest `name`, or nothing.
fn did_you_mean<'k>(name: &str, known: impl IntoIterator<Item = &'k str>) -> String {
    crate::suggest::nearest(name, known)
        .map(|k| format!("did you mean `{k}`? "))
        .unwrap_or_default()
}

/// "the section's keys: a, b, c" for a table of the policy ("the policy's sections"
/// for the top level).
fn known_keys(table: &toml::Table, top: bool) -> String {
    let what = if top {
        "the policy's sections"
    } else {
        "the section's keys"
    };
    format!(
        "{what}: {}",
        table.keys().cloned().collect::<Vec<_>>().join(", ")
    )
}

/// Refuses a string where the policy has a number, with a hint for a percentage given
/// for a fraction (`"0.5%"` is 0.005).
fn check_value(
    key: &str,
    current: Option<&toml::Value>,
    new: &toml::Value,
) -> Result<(), PolicyError> {
    let (Some(toml::Value::Float(_) | toml::Value::Integer(_)), toml::Value::String(s)) =
        (current, new)
    else {
        return Ok(());
    };
    let message = match s.trim().strip_suffix('%').map(|n| n.trim().parse::<f64>()) {
        Some(Ok(pct)) => format!(
            "`{s}`: expected a number such as {} (a fraction, not a percentage)",
            pct / 100.0
        ),
        _ => format!("`{s}`: expected a number, not a string"),
    };
    Err(invalid(key, message))
}

/// Adds the policy file (and the key's line, when a line of `text` sets it) to an error
/// about one of its keys.
fn in_file(e: PolicyError, text: &str, origin: &str) -> PolicyError {
    let PolicyError::Invalid { key, message } = e else {
        return e;
    };
    let last = key.rsplit(['.', ']']).next().unwrap_or(&key);
    let line = text
        .lines()
        .position(|l| {
            l.trim_start()
                .strip_prefix(last)
                .is_some_and(|r| r.trim_start().starts_with('='))
        })
        .map(|i| format!(", line {}", i + 1))
        .unwrap_or_default();
    PolicyError::InFile {
        key,
        at: format!("in {origin}{line}: {message}"),
    }
}

/// Deep-merges `overlay` into `base`: tables merge key by key, anything else (arrays
/// such as `probes.targets` included) replaces. A key the current values lack is
/// unknown (the embedded default gives every key), except under `probes.schemas`, a
/// map from target to schema file.
fn merge(base: &mut toml::Table, overlay: toml::Table, prefix: &str) -> Result<(), PolicyError> {
    for (k, v) in overlay {
        let path = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        if !base.contains_key(&k) && prefix != "probes.schemas" {
            let what = if prefix.is_empty() { "section" } else { "key" };
            return Err(invalid(
                path,
                format!(
                    "unknown {what} ({}{}; see `rehearse policy show`)",
                    did_you_mean(&k, base.keys().map(String::as_str)),
                    known_keys(base, prefix.is_empty())
                ),
            ));
        }
        check_value(&path, base.get(&k), &v)?;
        match (base.get_mut(&k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o, &path)?,
            (Some(toml::Value::Table(_)), _) => {
                return Err(invalid(path, "must be a table"));
            }
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
    Ok(())
}

fn duration(key: &str, s: &str) -> Result<Millis, PolicyError> {
    match parse_duration(s) {
        Some(ms) if ms > 0 => Ok(ms),
        _ => Err(invalid(
            key,
            format!("`{s}` is not a positive duration such as \"90s\", \"30m\", \"2h\""),
        )),
    }
}

fn fraction(key: &str, v: f64, lo_open: bool) -> Result<Ratio, PolicyError> {
    let ok = v.is_finite() && v <= 1.0 && if lo_open { v > 0.0 } else { v >= 0.0 };
    if !ok {
        let range = if lo_open { "in (0, 1]" } else { "in [0, 1]" };
        return Err(invalid(
            key,
            format!("{v} is out of range: must be a fraction {range}"),
        ));
    }
    Ratio::from_f64(v).ok_or_else(|| invalid(key, format!("{v} has too many decimal digits")))
}

/// A probability strictly between 0 and 1 (the judge's false-alarm bound).
fn open_fraction(key: &str, v: f64) -> Result<f64, PolicyError> {
    if v.is_finite() && v > 0.0 && v < 1.0 {
        Ok(v)
    } else {
        Err(invalid(
            key,
            format!("{v} is out of range: must be a probability in (0, 1), such as 0.01"),
        ))
    }
}

fn positive(key: &str, v: f64) -> Result<f64, PolicyError> {
    if v.is_finite() && v > 0.0 {
        Ok(v)
    } else {
        Err(invalid(
            key,
            format!("{v} is out of range: must be a positive number"),
        ))
    }
}

/// Milliseconds (a policy latency) to microseconds, the resolution latencies compare at.
fn ms_to_us(key: &str, v: f64) -> Result<u64, PolicyError> {
    let v = positive(key, v)?;
    if v > 1e9 {
        return Err(invalid(key, format!("{v} ms is out of range")));
    }
    Ok((v * 1000.0).round() as u64)
}

fn compile(file: PolicyFile, base_dir: &Path) -> Result<Policy, PolicyError> {
    let r = &file.rollout;
    let tick_ms = duration("rollout.tick", &r.tick)?;
    let window_ms = duration("rollout.window", &r.window)?;
    let sustain_ms = match parse_duration(&r.sustain) {
        Some(ms) if ms >= 0 => ms,
        _ => {
            return Err(invalid(
                "rollout.sustain",
                format!("`{}` is not a duration", r.sustain),
            ));
        }
    };
    if window_ms % tick_ms != 0 {
        return Err(invalid(
            "rollout.window",
            format!("{} is not a whole number of ticks ({})", r.window, r.tick),
        ));
    }
    if sustain_ms % tick_ms != 0 {
        return Err(invalid(
            "rollout.sustain",
            format!("{} is not a whole number of ticks ({})", r.sustain, r.tick),
        ));
    }
    if r.min_requests == 0 {
        return Err(invalid("rollout.min_requests", "must be at least 1"));
    }
    if file.stages.is_empty() {
        return Err(invalid("stages", "the policy needs at least one stage"));
    }
    let mut stages = Vec::new();
    let mut at = 0;
    for (i, s) in file.stages.iter().enumerate() {
        let key = |f: &str| format!("stages[{i}].{f} ({})", s.name);
        if s.name.trim().is_empty() || stages.iter().any(|x: &Stage| x.name == s.name) {
            return Err(invalid(
                format!("stages[{i}].name"),
                format!("`{}` must be a unique, non-empty name", s.name),
            ));
        }
        let d = duration(&key("duration"), &s.duration)?;
        if d % tick_ms != 0 {
            return Err(invalid(
                key("duration"),
                format!("{} is not a whole number of ticks ({})", s.duration, r.tick),
            ));
        }
        if !(s.weight.is_finite() && (0.0..=1.0).contains(&s.weight)) {
            return Err(invalid(
                key("weight"),
                format!("{} must be in [0, 1]", s.weight),
            ));
        }
        stages.push(Stage {
            name: s.name.clone(),
            start_ms: at,
            duration_ms: d,
            weight: s.weight,
            go_p95_us: ms_to_us(&key("go_p95_ms"), s.go_p95_ms)?,
            probes: s.probes,
        });
        at += d;
    }
    let p = &file.probes;
    if p.consecutive_failures == 0 {
        return Err(invalid("probes.consecutive_failures", "must be at least 1"));
    }
    if p.max_gap_intervals == 0 {
        return Err(invalid("probes.max_gap_intervals", "must be at least 1"));
    }
    let probe_interval_ms = duration("probes.interval", &p.interval)?;
    let mut probe_schemas = BTreeMap::new();
    for (target, path) in &p.schemas {
        let pb = Path::new(path);
        probe_schemas.insert(
            target.clone(),
            if pb.is_absolute() {
                pb.to_path_buf()
            } else {
                base_dir.join(pb)
            },
        );
    }
    let e = &file.endpoints;
    if e.outlier_prefixes.iter().any(|p| p.is_empty()) {
        return Err(invalid(
            "endpoints.outlier_prefixes",
            "an empty prefix would match every endpoint",
        ));
    }
    if e.outlier_prefixes.len() > 16 {
        return Err(invalid("endpoints.outlier_prefixes", "at most 16 prefixes"));
    }
    let inf = &file.infra;
    fraction("infra.cpu_p95", inf.cpu_p95, false)?;
    fraction("infra.mem_free_p5", inf.mem_free_p5, false)?;
    positive("infra.db_p95_ms", inf.db_p95_ms)?;
    if !(inf.queue_depth.is_finite() && inf.queue_depth >= 0.0) {
        return Err(invalid(
            "infra.queue_depth",
            format!("{} must be a non-negative number", inf.queue_depth),
        ));
    }
    let sec = &file.security;
    let ratio_pos = |key: &str, v: f64| -> Result<Ratio, PolicyError> {
        if !(0.0..=1e9).contains(&v) {
            return Err(invalid(key, format!("{v} must be a non-negative number")));
        }
        Ratio::from_f64(v).ok_or_else(|| invalid(key, format!("{v} has too many decimal digits")))
    };
    Ok(Policy {
        tick_ms,
        window_ticks: (window_ms / tick_ms) as usize,
        sustain_ticks: (sustain_ms / tick_ms) as usize + 1,
        min_requests: r.min_requests,
        stages,
        go_5xx: fraction("go.error_rate_5xx", file.go.error_rate_5xx, true)?,
        go_4xx: fraction(
            "go.error_rate_4xx_nonauth",
            file.go.error_rate_4xx_nonauth,
            true,
        )?,
        go_availability: fraction("go.availability", file.go.availability, false)?,
        go_max_no_data: fraction("go.max_no_data_ticks", file.go.max_no_data_ticks, false)?,
        trig_5xx: fraction(
            "triggers.error_rate_5xx",
            file.triggers.error_rate_5xx,
            true,
        )?,
        trig_4xx: fraction(
            "triggers.error_rate_4xx_nonauth",
            file.triggers.error_rate_4xx_nonauth,
            true,
        )?,
        trig_p95_us: ms_to_us("triggers.latency_p95_ms", file.triggers.latency_p95_ms)?,
        trig_p99_us: ms_to_us("triggers.latency_p99_ms", file.triggers.latency_p99_ms)?,
        q95: Ratio::new(95, 100),
        q99: Ratio::new(99, 100),
        q05: Ratio::new(5, 100),
        probe_targets: p.targets.clone(),
        probe_interval_ms,
        probe_consecutive: p.consecutive_failures,
        probe_max_gap_ms: probe_interval_ms * p.max_gap_intervals as Millis,
        probe_schemas,
        budget_slo: fraction("budget.slo", file.budget.slo, false)?,
        budget_period_ms: duration("budget.period", &file.budget.period)?,
        budget_max_burn: ratio_pos("budget.max_burn", file.budget.max_burn)?,
        outlier_prefixes: e.outlier_prefixes.clone(),
        endpoint_p95_us: ms_to_us("endpoints.p95_ms", e.p95_ms)?,
        endpoint_min_requests: e.min_requests.max(1),
        ticket_p95_us: ms_to_us("endpoints.ticket_p95_ms", e.ticket_p95_ms)?,
        infra: inf.clone(),
        security_factor: ratio_pos("security.factor", sec.factor)?,
        security_min_per_minute: ratio_pos("security.min_per_minute", sec.min_per_minute)?,
        security_baseline_ms: duration("security.baseline", &sec.baseline)?,
        split_tolerance: fraction(
            "followups.split_tolerance",
            file.followups.split_tolerance,
            false,
        )?,
        split_min_requests: file.followups.split_min_requests,
        judge_enabled: file.judge.enabled,
        judge_alpha: open_fraction("judge.alpha", file.judge.alpha)?,
        judge_prior: positive("judge.prior_strength", file.judge.prior_strength)?,
        file,
    })
}

/// A one-line human description of the stage plan, e.g. `synthetic 2h (0%) -> ramp-5 30m (5%)`.
pub fn describe_stages(p: &Policy) -> String {
    p.stages
        .iter()
        .map(|s| {
            format!(
                "{} {} ({}%)",
                s.name,
                format_duration(s.duration_ms),
                s.weight * 100.0
            )
        })
        .collect::<Vec<_>>()
        .join(" -> ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_policy_has_the_directive_numbers() {
        let p = Policy::default_policy();
        assert_eq!(p.tick_ms, 60_000);
        assert_eq!(p.window_ticks, 5);
        assert_eq!(p.sustain_ticks, 11);
        let names: Vec<_> = p.stages.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["synthetic", "ramp-5", "ramp-25", "full"]);
        assert_eq!(p.total_ms(), 5 * 3_600_000 + 30 * 60_000);
        assert_eq!(p.stages[3].go_p95_us, 120_000);
        assert_eq!(p.trig_p95_us, 250_000);
        assert_eq!(p.trig_p99_us, 600_000);
        assert_eq!(p.go_5xx, Ratio::new(5, 1000));
        assert_eq!(p.probe_consecutive, 3);
        assert_eq!(p.probe_max_gap_ms, 120_000);
        assert_eq!(p.stage_of_tick(120), Some(0));
        assert_eq!(p.stage_of_tick(121), Some(1));
        assert_eq!(p.stage_of_tick(331), None);
    }

    #[test]
    fn partial_files_and_sets_override() {
        let p = PolicyBuilder::new()
            .text("[triggers]\nlatency_p95_ms = 300.0\n", "test")
            .unwrap()
            .set("stages.ramp-5.duration=45m")
            .unwrap()
            .set("rollout.min_requests=50")
            .unwrap()
            .build()
            .unwrap();
        assert_eq!(p.trig_p95_us, 300_000);
        assert_eq!(p.stages[1].duration_ms, 45 * 60_000);
        assert_eq!(p.min_requests, 50);
        assert_eq!(p.stages[2].start_ms, 2 * 3_600_000 + 45 * 60_000);
    }

    #[test]
    fn unknown_keys_and_bad_values_name_the_key() {
        let e = PolicyBuilder::new()
            .text("[triggers]\nlatency_p96_ms = 1.0\n", "t")
            .unwrap_err();
        let e = e.to_string();
        assert!(
            e.contains("latency_p96_ms") && e.contains("in t, line 2"),
            "{e}"
        );
        assert!(e.contains("did you mean `latency_p95_ms`?"), "{e}");
        let e = PolicyBuilder::new()
            .set("go.error_rate_5xx=0.5%")
            .unwrap_err();
        assert!(
            e.to_string()
                .contains("such as 0.005 (a fraction, not a percentage)"),
            "{e}"
        );
        let e = PolicyBuilder::new()
            .set("go.error_rate_5xx=1.5")
            .unwrap()
            .build()
            .unwrap_err();
        assert!(e.to_string().contains("go.error_rate_5xx"), "{e}");
        let e = PolicyBuilder::new().set("nope.x=1").unwrap_err();
        assert!(e.to_string().contains("nope.x"), "{e}");
        let e = PolicyBuilder::new()
            .set("stages.ramp-5.duration=45s")
            .unwrap()
            .build()
            .unwrap_err();
        assert!(e.to_string().contains("stages[1].duration"), "{e}");
        let e = PolicyBuilder::new()
            .set("stages.nope.duration=45m")
            .unwrap_err();
        assert!(e.to_string().contains("nope"), "{e}");
        let e = PolicyBuilder::new()
            .text("[rollout]\ntick = \"7x\"\n", "t")
            .unwrap()
            .build()
            .unwrap_err();
        assert!(e.to_string().contains("rollout.tick"), "{e}");
    }

    fn stage_plan(p: &Policy) -> Vec<(&str, Millis, f64, u64)> {
        p.stages
            .iter()
            .map(|s| {
                (
                    s.name.as_str(),
                    s.duration_ms / 60_000,
                    s.weight,
                    s.go_p95_us,
                )
            })
            .collect()
    }

    #[test]
    fn a_stage_entry_overrides_only_the_fields_it_gives() {
        let p = PolicyBuilder::new()
            .text("[[stages]]\nname = \"ramp-5\"\nduration = \"45m\"\n", "t")
            .unwrap()
            .build()
            .unwrap();
        assert_eq!(
            stage_plan(&p),
            [
                ("synthetic", 120, 0.0, 200_000),
                ("ramp-5", 45, 0.05, 200_000),
                ("ramp-25", 60, 0.25, 200_000),
                ("full", 120, 1.0, 120_000),
            ]
        );
        assert!(p.stages[0].probes && !p.stages[1].probes);
        // Entries in any order each find their stage; a second layer merges over the first.
        let p = PolicyBuilder::new()
            .text(
                "[[stages]]\nname = \"full\"\ngo_p95_ms = 150.0\n\
                 [[stages]]\nname = \"synthetic\"\nprobes = false\n",
                "t",
            )
            .unwrap()
            .table(toml::from_str("[[stages]]\nname = \"full\"\nweight = 0.9\n").unwrap())
            .unwrap()
            .build()
            .unwrap();
        assert_eq!(p.stages[3].go_p95_us, 150_000);
        assert_eq!(p.stages[3].weight, 0.9);
        assert!(!p.stages[0].probes);
        assert_eq!(p.stages.len(), 4);
    }

    #[test]
    fn a_new_stage_needs_every_required_field_and_is_appended() {
        let p = PolicyBuilder::new()
            .text(
                "[[stages]]\nname = \"canary-50\"\nduration = \"30m\"\nweight = 0.5\n\
                 go_p95_ms = 180.0\n",
                "t",
            )
            .unwrap()
            .build()
            .unwrap();
        let names: Vec<_> = p.stages.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            ["synthetic", "ramp-5", "ramp-25", "full", "canary-50"]
        );
        assert_eq!(p.stages[4].go_p95_us, 180_000);
        assert!(!p.stages[4].probes);
        assert_eq!(p.stages[4].start_ms, p.stages[3].end_ms());

        let e = PolicyBuilder::new()
            .text("[[stages]]\nname = \"ramp-50\"\nduration = \"45m\"\n", "t")
            .unwrap_err()
            .to_string();
        assert!(e.contains("`stages[0].weight`"), "{e}");
        assert!(e.contains("synthetic, ramp-5, ramp-25, full"), "{e}");
        assert!(e.contains("missing weight, go_p95_ms"), "{e}");
    }

    #[test]
    fn replace_stages_gives_the_whole_list_in_order() {
        let p = PolicyBuilder::new()
            .text(
                "replace_stages = true\n\
                 [[stages]]\nname = \"ramp-25\"\nduration = \"15m\"\n\
                 [[stages]]\nname = \"only\"\nduration = \"30m\"\nweight = 1.0\n\
                 go_p95_ms = 100.0\n\
                 [[stages]]\nname = \"synthetic\"\n",
                "t",
            )
            .unwrap()
            .build()
            .unwrap();
        assert_eq!(
            stage_plan(&p),
            [
                ("ramp-25", 15, 0.25, 200_000),
                ("only", 30, 1.0, 100_000),
                ("synthetic", 120, 0.0, 200_000),
            ]
        );
        assert!(p.stages[2].probes);
        // replace_stages = false is the ordinary merge.
        let p = PolicyBuilder::new()
            .text(
                "replace_stages = false\n[[stages]]\nname = \"full\"\nduration = \"1h\"\n",
                "t",
            )
            .unwrap()
            .build()
            .unwrap();
        assert_eq!(p.stages.len(), 4);
        assert_eq!(p.stages[3].duration_ms, 3_600_000);
    }

    #[test]
    fn complete_policies_read_back_as_themselves() {
        let custom = PolicyBuilder::new()
            .text(
                "replace_stages = true\n[[stages]]\nname = \"only\"\nduration = \"30m\"\n\
                 weight = 0.0\ngo_p95_ms = 200.0\n",
                "t",
            )
            .unwrap()
            .build()
            .unwrap();
        let names = |p: &Policy| p.stages.iter().map(|s| s.name.clone()).collect::<Vec<_>>();
        let again = PolicyBuilder::new()
            .text(&custom.file.to_complete_toml(), "t")
            .unwrap()
            .build()
            .unwrap();
        assert_eq!(names(&again), ["only"]);
        // An event log's policy carries no marker: `complete` reads its stages whole.
        let logged = PolicyBuilder::new()
            .complete(&custom.to_toml(), "t")
            .unwrap()
            .build()
            .unwrap();
        assert_eq!(names(&logged), ["only"]);
        assert_eq!(logged.stages, custom.stages);
    }

    #[test]
    fn stage_merge_errors_name_the_key() {
        let err = |text: &str| {
            PolicyBuilder::new()
                .text(text, "t")
                .unwrap_err()
                .to_string()
        };
        let e = err("[[stages]]\nduration = \"45m\"\n");
        assert!(
            e.contains("`stages[0].name`") && e.contains("ramp-25"),
            "{e}"
        );
        let e = err("[[stages]]\nname = \"ramp-5\"\nwieght = 0.1\n");
        assert!(
            e.contains("`stages[0].wieght`") && e.contains("unknown"),
            "{e}"
        );
        let e = err("[[stages]]\nname = \"full\"\n[[stages]]\nname = \"full\"\n");
        assert!(e.contains("`stages[1].name`") && e.contains("twice"), "{e}");
        let e = err("replace_stages = true\n[go]\navailability = 0.9\n");
        assert!(
            e.contains("`replace_stages`") && e.contains("[[stages]]"),
            "{e}"
        );
        let e = err("replace_stages = \"yes\"\n");
        assert!(e.contains("`replace_stages`"), "{e}");
        let e = err("stages = 3\n");
        assert!(e.contains("`stages`"), "{e}");
        let e = PolicyBuilder::new()
            .set("stages.ramp-5.wieght=0.1")
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown stage field `wieght`"), "{e}");
        // A merged value still goes through the stage checks, by its merged index.
        let e = PolicyBuilder::new()
            .text("[[stages]]\nname = \"ramp-25\"\nweight = 2.0\n", "t")
            .unwrap()
            .build()
            .unwrap_err()
            .to_string();
        assert!(e.contains("stages[2].weight (ramp-25)"), "{e}");
    }
}
