//! The recording of a run: `rehearse run DATASET --record FILE` writes the run's verdict
//! events as one Arrow IPC file (one row per event, in event order) with the run's
//! metadata in the schema metadata, and this module reads it back. It owns the file's
//! schema, which the terminal UI, notebooks and policy diffs rely on and which
//! `docs/record-format.md` documents: columns are only ever added, and
//! [`RECORD_FORMAT_VERSION`] bumps on any incompatible change.
//!
//! This file holds the format itself: the columns and their types, the metadata
//! ([`RecordMeta`], [`StageMeta`]) and its encoding to and from the schema metadata, and
//! the errors ([`RecordError`]). The writer ([`write_record`]) lives in `write`, the
//! reader ([`read_record`]) in `read`.

mod read;
mod write;

#[cfg(test)]
mod fixtures;

pub use read::{read_record, read_record_with};
pub use write::{write_record, write_record_with};

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};

use arrow_schema::{ArrowError, DataType, Field, Schema, TimeUnit};
use serde::{Deserialize, Serialize};

use crate::input::Millis;
use crate::time::{format_rfc3339, parse_rfc3339};
use crate::verdict::Gate;

/// Version of the recording format, stored as `rehearse.record_format`.
pub const RECORD_FORMAT_VERSION: u32 = 1;

const KEY_FORMAT: &str = "rehearse.record_format";
const KEY_T0: &str = "rehearse.t0";
const KEY_TICK_MS: &str = "rehearse.tick_ms";
const KEY_DATASET: &str = "rehearse.dataset";
const KEY_POLICY: &str = "rehearse.policy";
const KEY_STAGES: &str = "rehearse.stages";
const KEY_EVALUATED: &str = "rehearse.evaluated";
const KEY_BOARD_FUNNEL: &str = "rehearse.board_funnel";
const KEY_DASHBOARD_FUNNEL: &str = "rehearse.dashboard_funnel";

/// What `rehearse report` shows of a run that its verdict events do not carry, so that a
/// pack built from a recording equals the one built from the dataset: per tick, the
/// display columns; for the run, which gates had their data, the board note's early
/// funnel and the dashboard's funnel section (both JSON text, owned by the ship-room
/// pack). A recording written without them (or before they existed) reads back with
/// the default: nothing known.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RecordExtras {
    /// One per `tick` event, in event order (empty: not recorded).
    pub ticks: Vec<TickDisplay>,
    /// Each gate and whether its stream or column was there.
    pub evaluated: Option<Vec<(Gate, bool)>>,
    pub board_funnel: Option<String>,
    pub dashboard_funnel: Option<String>,
}

/// The display columns of one tick row: measured by the replay, judged by no gate.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct TickDisplay {
    /// The canary p50 latency (ms) over the tick's window.
    pub p50_ms: Option<f64>,
    /// Probes passed and failed in the tick's interval (the dataset has probes).
    pub probes: Option<(u32, u32)>,
    /// WAF blocks and rate-limited requests in the tick's interval (the dataset has a
    /// security stream).
    pub security: Option<[u64; 2]>,
}

/// The display columns, added after every other column; a recording without them
/// still reads (they are then unknown).
fn display_columns() -> [(&'static str, DataType); 5] {
    [
        ("p50_ms", DataType::Float64),
        ("probes_passed", DataType::UInt32),
        ("probes_failed", DataType::UInt32),
        ("waf_blocks", DataType::UInt64),
        ("rate_limited", DataType::UInt64),
    ]
}

/// Metadata stored in the Arrow schema's metadata (string key/values).
#[derive(Clone, Debug, PartialEq)]
pub struct RecordMeta {
    /// The rollout start T0.
    pub t0: Millis,
    /// The tick length.
    pub tick_ms: Millis,
    /// The dataset as given on the command line.
    pub dataset: String,
    /// The effective policy, as TOML text.
    pub policy_toml: String,
    /// The stages in order; events refer to them by index.
    pub stages: Vec<StageMeta>,
}

impl RecordMeta {
    /// The metadata of a run of `policy` over `dataset`.
    pub fn of_run(run: &crate::engine::Run, policy: &crate::policy::Policy, dataset: &str) -> Self {
        RecordMeta {
            t0: run.t0,
            tick_ms: policy.tick_ms,
            dataset: dataset.to_string(),
            policy_toml: policy.to_toml(),
            stages: run
                .stages
                .iter()
                .map(|s| StageMeta {
                    name: s.name.clone(),
                    start: s.start,
                    end: s.end,
                    weight: s.weight,
                })
                .collect(),
        }
    }
}

/// One stage of the rollout as recorded.
#[derive(Clone, Debug, PartialEq)]
pub struct StageMeta {
    pub name: String,
    pub start: Millis,
    pub end: Millis,
    pub weight: f64,
}

/// Why a recording could not be written or read. Every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("{}: {what}: {source}", path.display())]
    Io {
        path: PathBuf,
        what: &'static str,
        source: io::Error,
    },
    #[error("{}: {what}: {source}", path.display())]
    Arrow {
        path: PathBuf,
        what: &'static str,
        source: ArrowError,
    },
    #[error("{} is not a rehearse recording: {problem}", path.display())]
    NotARecording { path: PathBuf, problem: String },
    #[error(
        "{}: recording format version `{found}` is not supported (this rehearse reads version {RECORD_FORMAT_VERSION})",
        path.display()
    )]
    Version { path: PathBuf, found: String },
    #[error("{}: invalid recording: {problem}", path.display())]
    Invalid { path: PathBuf, problem: String },
    #[error("cannot record to {}: {problem}", path.display())]
    Unrecordable { path: PathBuf, problem: String },
}

/// A stage as written in `rehearse.stages`.
#[derive(Serialize, Deserialize)]
struct StageJson {
    name: String,
    start: String,
    end: String,
    weight: f64,
}

fn ts_type() -> DataType {
    DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into()))
}

fn gate_col(g: Gate, field: &str) -> String {
    format!("{}.{field}", g.as_str())
}

/// The columns, in file order: (name, type, nullable).
fn columns() -> Vec<(String, DataType, bool)> {
    let mut c: Vec<(String, DataType, bool)> = vec![
        ("seq".into(), DataType::UInt64, false),
        ("event".into(), DataType::Utf8, false),
        ("at".into(), ts_type(), false),
        ("stage".into(), DataType::Utf8, true),
        ("k".into(), DataType::UInt32, true),
        ("requests".into(), DataType::UInt64, true),
        ("gates".into(), DataType::Utf8, true),
    ];
    for g in Gate::ALL {
        c.push((gate_col(g, "value"), DataType::Float64, true));
        c.push((gate_col(g, "threshold"), DataType::Float64, true));
        c.push((gate_col(g, "state"), DataType::Utf8, true));
        c.push((gate_col(g, "sustain"), DataType::UInt32, true));
        c.push((gate_col(g, "trigger"), DataType::Boolean, true));
    }
    for (name, ty) in [
        ("gate", DataType::Utf8),
        ("value", DataType::Float64),
        ("threshold", DataType::Float64),
        ("op", DataType::Utf8),
        ("since", ts_type()),
        ("ticks", DataType::UInt32),
        ("detail", DataType::Utf8),
        ("follow_up", DataType::Utf8),
        ("verdict", DataType::Utf8),
        ("reasons", DataType::Utf8),
        ("outcome", DataType::Utf8),
    ] {
        c.push((name.into(), ty, true));
    }
    c
}

/// Checks that a timestamp survives RFC 3339 text (years 0000-9999).
fn rfc3339_checked(ms: Millis, what: &str) -> Result<String, String> {
    let s = format_rfc3339(ms);
    if parse_rfc3339(&s) == Some(ms) {
        Ok(s)
    } else {
        Err(format!(
            "{what} ({ms} ms since the epoch) is outside the years 0000-9999 that RFC 3339 text can hold"
        ))
    }
}

/// The extras' metadata keys (only those known).
fn extras_to_map(x: &RecordExtras, map: &mut HashMap<String, String>) -> Result<(), String> {
    if let Some(ev) = &x.evaluated {
        let pairs: Vec<(&str, bool)> = ev.iter().map(|(g, ok)| (g.as_str(), *ok)).collect();
        let text = serde_json::to_string(&pairs)
            .map_err(|e| format!("cannot encode the evaluated gates: {e}"))?;
        map.insert(KEY_EVALUATED.to_string(), text);
    }
    if let Some(t) = &x.board_funnel {
        map.insert(KEY_BOARD_FUNNEL.to_string(), t.clone());
    }
    if let Some(t) = &x.dashboard_funnel {
        map.insert(KEY_DASHBOARD_FUNNEL.to_string(), t.clone());
    }
    Ok(())
}

/// The extras' metadata keys read back (the per-tick columns are read with the rows).
fn extras_from_schema(path: &Path, schema: &Schema) -> Result<RecordExtras, RecordError> {
    let md = schema.metadata();
    let evaluated = match md.get(KEY_EVALUATED) {
        None => None,
        Some(text) => {
            let pairs: Vec<(String, bool)> =
                serde_json::from_str(text).map_err(|e| RecordError::Invalid {
                    path: path.to_path_buf(),
                    problem: format!(
                        "metadata `{KEY_EVALUATED}` is not a JSON array of [gate, bool] pairs: {e}"
                    ),
                })?;
            let mut out = Vec::with_capacity(pairs.len());
            for (id, ok) in pairs {
                let g = Gate::parse(&id).ok_or_else(|| RecordError::Invalid {
                    path: path.to_path_buf(),
                    problem: format!("metadata `{KEY_EVALUATED}` names an unknown gate `{id}`"),
                })?;
                out.push((g, ok));
            }
            Some(out)
        }
    };
    Ok(RecordExtras {
        ticks: Vec::new(),
        evaluated,
        board_funnel: md.get(KEY_BOARD_FUNNEL).cloned(),
        dashboard_funnel: md.get(KEY_DASHBOARD_FUNNEL).cloned(),
    })
}

fn meta_to_map(meta: &RecordMeta) -> Result<HashMap<String, String>, String> {
    let mut seen = HashMap::new();
    let mut stages = Vec::with_capacity(meta.stages.len());
    for (i, s) in meta.stages.iter().enumerate() {
        if let Some(j) = seen.insert(s.name.as_str(), i) {
            return Err(format!(
                "stages {j} and {i} are both named `{}`: events name their stage, so stage names must be distinct",
                s.name
            ));
        }
        if !s.weight.is_finite() {
            return Err(format!(
                "stage `{}` has a non-finite weight {}",
                s.name, s.weight
            ));
        }
        stages.push(StageJson {
            name: s.name.clone(),
            start: rfc3339_checked(s.start, &format!("the start of stage `{}`", s.name))?,
            end: rfc3339_checked(s.end, &format!("the end of stage `{}`", s.name))?,
            weight: s.weight,
        });
    }
    let stages =
        serde_json::to_string(&stages).map_err(|e| format!("cannot encode the stages: {e}"))?;
    Ok(HashMap::from([
        (KEY_FORMAT.to_string(), RECORD_FORMAT_VERSION.to_string()),
        (KEY_T0.to_string(), rfc3339_checked(meta.t0, "t0")?),
        (KEY_TICK_MS.to_string(), meta.tick_ms.to_string()),
        (KEY_DATASET.to_string(), meta.dataset.clone()),
        (KEY_POLICY.to_string(), meta.policy_toml.clone()),
        (KEY_STAGES.to_string(), stages),
    ]))
}

fn record_schema(metadata: HashMap<String, String>) -> Schema {
    let fields: Vec<Field> = columns()
        .into_iter()
        .map(|(n, t, null)| Field::new(n, t, null))
        .chain(
            display_columns()
                .into_iter()
                .map(|(n, t)| Field::new(n, t, true)),
        )
        .collect();
    Schema::new_with_metadata(fields, metadata)
}

fn gate_slot(g: Gate) -> usize {
    g.index()
}

/// Reads the metadata keys back into a [`RecordMeta`].
fn meta_from_schema(path: &Path, schema: &Schema) -> Result<RecordMeta, RecordError> {
    let md = schema.metadata();
    let not_rec = |problem: String| RecordError::NotARecording {
        path: path.to_path_buf(),
        problem,
    };
    let invalid = |problem: String| RecordError::Invalid {
        path: path.to_path_buf(),
        problem,
    };
    let version = md.get(KEY_FORMAT).ok_or_else(|| {
        not_rec(format!(
            "the Arrow schema metadata has no `{KEY_FORMAT}` key"
        ))
    })?;
    if version.trim().parse::<u32>().ok() != Some(RECORD_FORMAT_VERSION) {
        return Err(RecordError::Version {
            path: path.to_path_buf(),
            found: version.clone(),
        });
    }
    let key = |k: &str| {
        md.get(k)
            .ok_or_else(|| not_rec(format!("the Arrow schema metadata has no `{k}` key")))
    };
    let t0_text = key(KEY_T0)?;
    let t0 = parse_rfc3339(t0_text).ok_or_else(|| {
        invalid(format!(
            "metadata `{KEY_T0}` is not an RFC 3339 timestamp: `{t0_text}`"
        ))
    })?;
    let tick_text = key(KEY_TICK_MS)?;
    let tick_ms = tick_text.trim().parse::<Millis>().map_err(|_| {
        invalid(format!(
            "metadata `{KEY_TICK_MS}` is not an integer: `{tick_text}`"
        ))
    })?;
    let dataset = key(KEY_DATASET)?.clone();
    let policy_toml = key(KEY_POLICY)?.clone();
    let stages_json: Vec<StageJson> = serde_json::from_str(key(KEY_STAGES)?).map_err(|e| {
        invalid(format!(
            "metadata `{KEY_STAGES}` is not a JSON array of stages: {e}"
        ))
    })?;
    let mut stages = Vec::with_capacity(stages_json.len());
    for s in stages_json {
        let ts = |text: &str, what: &str| {
            parse_rfc3339(text).ok_or_else(|| {
                invalid(format!(
                    "metadata `{KEY_STAGES}`: the {what} of stage `{}` is not an RFC 3339 timestamp: `{text}`",
                    s.name
                ))
            })
        };
        let start = ts(&s.start, "start")?;
        let end = ts(&s.end, "end")?;
        stages.push(StageMeta {
            start,
            end,
            weight: s.weight,
            name: s.name,
        });
    }
    Ok(RecordMeta {
        t0,
        tick_ms,
        dataset,
        policy_toml,
        stages,
    })
}

/// Gates added to the format after recordings were first written: a recording made
/// before one of them has none of its columns (and no tick listing it), and still reads.
pub(super) const LATER_GATES: [Gate; 1] = [Gate::CanaryJudge];

/// Checks that every column of this format is present with its type (the columns of
/// [`LATER_GATES`] may be absent).
fn check_columns(path: &Path, schema: &Schema) -> Result<(), RecordError> {
    let later: Vec<String> = LATER_GATES
        .iter()
        .flat_map(|g| {
            ["value", "threshold", "state", "sustain", "trigger"].map(|f| gate_col(*g, f))
        })
        .collect();
    for (name, ty, _) in columns() {
        if later.contains(&name) && schema.field_with_name(&name).is_err() {
            continue;
        }
        let field = schema
            .field_with_name(&name)
            .map_err(|_| RecordError::NotARecording {
                path: path.to_path_buf(),
                problem: format!("missing column `{name}`"),
            })?;
        let ok = match (&ty, field.data_type()) {
            // Any time zone holds the same epoch milliseconds.
            (
                DataType::Timestamp(TimeUnit::Millisecond, _),
                DataType::Timestamp(TimeUnit::Millisecond, _),
            ) => true,
            (want, got) => want == got,
        };
        if !ok {
            return Err(RecordError::NotARecording {
                path: path.to_path_buf(),
                problem: format!("column `{name}` is {}, expected {ty}", field.data_type()),
            });
        }
    }
    for (name, ty) in display_columns() {
        if let Ok(field) = schema.field_with_name(name)
            && field.data_type() != &ty
        {
            return Err(RecordError::NotARecording {
                path: path.to_path_buf(),
                problem: format!("column `{name}` is {}, expected {ty}", field.data_type()),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::fs::File;

    use arrow_array::{Array, Float64Array, StringArray};
    use arrow_ipc::reader::FileReader;

    use super::fixtures::{T0, events, gt, meta};
    use super::read::col;
    use super::write::BATCH_ROWS;
    use super::*;
    use crate::verdict::{GateState, TickRecord, VerdictEvent};

    #[test]
    fn round_trips_every_variant() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.arrow");
        let (m, ev) = (meta(), events());
        write_record(&path, &m, &ev).unwrap();
        let (m2, ev2) = read_record(&path).unwrap();
        assert_eq!(m2, m);
        assert_eq!(ev2, ev);
        // -0.0 keeps its sign.
        let VerdictEvent::Tick(t) = &ev2[2] else {
            panic!("not a tick")
        };
        assert!(t.gates[3].value.is_some_and(|v| v.is_sign_negative()));
    }

    /// Writes `ev` as a recording from before the canary judge: without its columns.
    fn write_without_judge(dir: &Path, m: &RecordMeta, ev: &[VerdictEvent]) -> PathBuf {
        let path = dir.join("run.arrow");
        write_record(&path, m, ev).unwrap();
        let reader = FileReader::try_new(File::open(&path).unwrap(), None).unwrap();
        let schema = reader.schema();
        let keep: Vec<usize> = schema
            .fields()
            .iter()
            .enumerate()
            .filter(|(_, f)| !f.name().starts_with("canary_judge."))
            .map(|(i, _)| i)
            .collect();
        assert_eq!(keep.len() + 5, schema.fields().len());
        let old = dir.join(format!("old-{}.arrow", ev.len()));
        let projected = schema.project(&keep).unwrap();
        let mut w = arrow_ipc::writer::FileWriter::try_new(File::create(&old).unwrap(), &projected)
            .unwrap();
        for b in reader {
            w.write(&b.unwrap().project(&keep).unwrap()).unwrap();
        }
        w.finish().unwrap();
        old
    }

    /// A recording written before the canary judge existed has none of its columns
    /// (and no tick listing it): it still reads, to the same events. A tick listing a
    /// gate whose columns are missing is an error naming the column.
    #[test]
    fn a_recording_without_the_later_gates_columns_reads() {
        let dir = tempfile::tempdir().unwrap();
        let m = meta();
        let ev: Vec<VerdictEvent> = events()
            .into_iter()
            .map(|e| match e {
                VerdictEvent::Tick(mut t) => {
                    t.gates.retain(|g| g.gate != Gate::CanaryJudge);
                    VerdictEvent::Tick(t)
                }
                e => e,
            })
            .collect();
        let old = write_without_judge(dir.path(), &m, &ev);
        assert_eq!(read_record(&old).unwrap(), (m.clone(), ev));
        let bad = write_without_judge(dir.path(), &m, &events());
        let err = read_record(&bad).unwrap_err().to_string();
        assert!(err.contains("canary_judge.state"), "{err}");
    }

    #[test]
    fn round_trips_empty_and_multi_batch_runs() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("empty.arrow");
        let m = RecordMeta {
            stages: vec![],
            dataset: String::new(),
            policy_toml: String::new(),
            ..meta()
        };
        write_record(&path, &m, &[]).unwrap();
        assert_eq!(read_record(&path).unwrap(), (m, vec![]));

        let path = dir.path().join("long.arrow");
        let ev: Vec<VerdictEvent> = (0..2 * BATCH_ROWS as u32 + 5)
            .map(|k| {
                VerdictEvent::Tick(TickRecord {
                    k,
                    at: T0 + k as i64 * 60_000,
                    stage: (k % 3) as usize,
                    requests: k as u64 * 7,
                    gates: vec![gt(
                        Gate::Availability,
                        GateState::Ok,
                        Some(k as f64 / 3.0),
                        Some(0.999),
                        false,
                        k,
                    )],
                })
            })
            .collect();
        write_record(&path, &meta(), &ev).unwrap();
        let reader = FileReader::try_new(File::open(&path).unwrap(), None).unwrap();
        assert_eq!(reader.num_batches(), 3);
        for b in reader {
            assert!(b.unwrap().num_rows() <= BATCH_ROWS);
        }
        assert_eq!(read_record(&path).unwrap().1, ev);
    }

    #[test]
    fn schema_has_the_documented_columns() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.arrow");
        write_record(&path, &meta(), &events()).unwrap();
        let reader = FileReader::try_new(File::open(&path).unwrap(), None).unwrap();
        let schema = reader.schema();
        let ts = DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into()));
        for (name, ty) in [
            ("seq", DataType::UInt64),
            ("event", DataType::Utf8),
            ("at", ts.clone()),
            ("stage", DataType::Utf8),
            ("k", DataType::UInt32),
            ("requests", DataType::UInt64),
            ("gates", DataType::Utf8),
            ("latency_p95.value", DataType::Float64),
            ("latency_p95.threshold", DataType::Float64),
            ("error_rate_5xx.state", DataType::Utf8),
            ("probe_failures.sustain", DataType::UInt32),
            ("seo_indexability.trigger", DataType::Boolean),
            ("gate", DataType::Utf8),
            ("since", ts),
            ("ticks", DataType::UInt32),
            ("follow_up", DataType::Utf8),
            ("reasons", DataType::Utf8),
            ("outcome", DataType::Utf8),
            ("p50_ms", DataType::Float64),
            ("probes_passed", DataType::UInt32),
            ("probes_failed", DataType::UInt32),
            ("waf_blocks", DataType::UInt64),
            ("rate_limited", DataType::UInt64),
        ] {
            assert_eq!(
                schema.field_with_name(name).unwrap().data_type(),
                &ty,
                "{name}"
            );
        }
        assert_eq!(schema.fields().len(), 7 + 5 * Gate::ALL.len() + 11 + 5);
        // The display columns come last (columns are only ever added).
        assert_eq!(schema.fields().last().unwrap().name(), "rate_limited");
        assert_eq!(schema.field(0).name(), "seq");
        assert!(!schema.field(0).is_nullable());
        let md = schema.metadata();
        assert_eq!(md["rehearse.record_format"], "1");
        assert_eq!(md["rehearse.t0"], "2026-03-02T10:00:00.000Z");
        assert_eq!(md["rehearse.tick_ms"], "60000");
        assert_eq!(md["rehearse.policy"], meta().policy_toml);
        let stages: serde_json::Value = serde_json::from_str(&md["rehearse.stages"]).unwrap();
        assert_eq!(
            stages[1],
            serde_json::json!({
                "name": "10%",
                "start": "2026-03-02T10:30:00.000Z",
                "end": "2026-03-02T11:00:00.000Z",
                "weight": 0.1,
            })
        );
        // Rows: event names in order, the tick's gate list and nulls outside ticks.
        let batch = FileReader::try_new(File::open(&path).unwrap(), None)
            .unwrap()
            .next()
            .unwrap()
            .unwrap();
        let event: &StringArray = col(&batch, "event").unwrap();
        assert_eq!(event.value(0), "stage_started");
        assert_eq!(event.value(1), "tick");
        let gates: &StringArray = col(&batch, "gates").unwrap();
        assert_eq!(
            gates.value(2),
            "latency_p99,error_rate_5xx,pii_in_logs,latency_p95"
        );
        assert!(gates.is_null(0));
        let p95: &Float64Array = col(&batch, "latency_p95.value").unwrap();
        assert_eq!(p95.value(1), 0.25);
        assert!(p95.is_null(3) && p95.is_null(4));
    }
}
