//! The recording of a run: `rehearse run DATASET --record FILE` writes the run's verdict
//! events as one Arrow IPC file (one row per event, in event order) with the run's
//! metadata in the schema metadata, and this module reads it back. It owns the file's
//! schema, which the terminal UI, notebooks and policy diffs rely on and which
//! `docs/record-format.md` documents: columns are only ever added, and
//! [`RECORD_FORMAT_VERSION`] bumps on any incompatible change.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::builder::{
    BooleanBuilder, Float64Builder, StringBuilder, TimestampMillisecondBuilder, UInt32Builder,
    UInt64Builder,
};
use arrow_array::types::ArrowPrimitiveType;
use arrow_array::{
    Array, ArrayRef, BooleanArray, Float64Array, PrimitiveArray, RecordBatch, StringArray,
    TimestampMillisecondArray, UInt32Array, UInt64Array,
};
use arrow_ipc::reader::FileReader;
use arrow_ipc::writer::FileWriter;
use arrow_schema::{ArrowError, DataType, Field, Schema, SchemaRef, TimeUnit};
use serde::{Deserialize, Serialize};
use tempfile::NamedTempFile;

use crate::input::Millis;
use crate::time::{format_rfc3339, parse_rfc3339};
use crate::verdict::{
    Evidence, FollowUp, Gate, GateState, GateTick, Outcome, TickRecord, Verdict, VerdictEvent,
};

/// Version of the recording format, stored as `rehearse.record_format`.
pub const RECORD_FORMAT_VERSION: u32 = 1;

/// Rows per record batch: memory while writing is bounded by one batch.
const BATCH_ROWS: usize = 4096;

const KEY_FORMAT: &str = "rehearse.record_format";
const KEY_T0: &str = "rehearse.t0";
const KEY_TICK_MS: &str = "rehearse.tick_ms";
const KEY_DATASET: &str = "rehearse.dataset";
const KEY_POLICY: &str = "rehearse.policy";
const KEY_STAGES: &str = "rehearse.stages";

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
        .collect();
    Schema::new_with_metadata(fields, metadata)
}

/// The nullable columns of one row; everything left `None` is written as null.
struct Row<'a> {
    stage: Option<&'a str>,
    k: Option<u32>,
    requests: Option<u64>,
    gates: Option<String>,
    /// Per slot of [`Gate::ALL`].
    gate_ticks: [Option<&'a GateTick>; Gate::ALL.len()],
    evidence: Option<&'a Evidence>,
    follow_up: Option<&'a str>,
    detail: Option<&'a str>,
    verdict: Option<&'static str>,
    reasons: Option<String>,
    outcome: Option<&'static str>,
}

impl Row<'_> {
    fn empty() -> Self {
        Row {
            stage: None,
            k: None,
            requests: None,
            gates: None,
            gate_ticks: [None; Gate::ALL.len()],
            evidence: None,
            follow_up: None,
            detail: None,
            verdict: None,
            reasons: None,
            outcome: None,
        }
    }
}

fn gate_slot(g: Gate) -> usize {
    g.index()
}

fn join_gates(gates: impl Iterator<Item = Gate>) -> String {
    gates.map(Gate::as_str).collect::<Vec<_>>().join(",")
}

/// Column builders of one record batch, in file order.
struct Chunk {
    seq: UInt64Builder,
    event: StringBuilder,
    at: TimestampMillisecondBuilder,
    stage: StringBuilder,
    k: UInt32Builder,
    requests: UInt64Builder,
    gates: StringBuilder,
    g_value: Vec<Float64Builder>,
    g_threshold: Vec<Float64Builder>,
    g_state: Vec<StringBuilder>,
    g_sustain: Vec<UInt32Builder>,
    g_trigger: Vec<BooleanBuilder>,
    gate: StringBuilder,
    value: Float64Builder,
    threshold: Float64Builder,
    op: StringBuilder,
    since: TimestampMillisecondBuilder,
    ticks: UInt32Builder,
    detail: StringBuilder,
    follow_up: StringBuilder,
    verdict: StringBuilder,
    reasons: StringBuilder,
    outcome: StringBuilder,
}

impl Chunk {
    fn new() -> Self {
        let n = Gate::ALL.len();
        Chunk {
            seq: UInt64Builder::new(),
            event: StringBuilder::new(),
            at: TimestampMillisecondBuilder::new().with_timezone("UTC"),
            stage: StringBuilder::new(),
            k: UInt32Builder::new(),
            requests: UInt64Builder::new(),
            gates: StringBuilder::new(),
            g_value: (0..n).map(|_| Float64Builder::new()).collect(),
            g_threshold: (0..n).map(|_| Float64Builder::new()).collect(),
            g_state: (0..n).map(|_| StringBuilder::new()).collect(),
            g_sustain: (0..n).map(|_| UInt32Builder::new()).collect(),
            g_trigger: (0..n).map(|_| BooleanBuilder::new()).collect(),
            gate: StringBuilder::new(),
            value: Float64Builder::new(),
            threshold: Float64Builder::new(),
            op: StringBuilder::new(),
            since: TimestampMillisecondBuilder::new().with_timezone("UTC"),
            ticks: UInt32Builder::new(),
            detail: StringBuilder::new(),
            follow_up: StringBuilder::new(),
            verdict: StringBuilder::new(),
            reasons: StringBuilder::new(),
            outcome: StringBuilder::new(),
        }
    }

    fn append(&mut self, seq: u64, event: &str, at: Millis, r: &Row) {
        self.seq.append_value(seq);
        self.event.append_value(event);
        self.at.append_value(at);
        self.stage.append_option(r.stage);
        self.k.append_option(r.k);
        self.requests.append_option(r.requests);
        self.gates.append_option(r.gates.as_deref());
        for (i, gt) in r.gate_ticks.iter().enumerate() {
            self.g_value[i].append_option(gt.and_then(|t| t.value));
            self.g_threshold[i].append_option(gt.and_then(|t| t.threshold));
            self.g_state[i].append_option(gt.map(|t| t.state.as_str()));
            self.g_sustain[i].append_option(gt.map(|t| t.sustain));
            self.g_trigger[i].append_option(gt.map(|t| t.trigger));
        }
        let ev = r.evidence;
        self.gate.append_option(ev.map(|e| e.gate.as_str()));
        self.value.append_option(ev.and_then(|e| e.value));
        self.threshold.append_option(ev.and_then(|e| e.threshold));
        self.op.append_option(ev.map(|e| e.op.as_str()));
        self.since.append_option(ev.and_then(|e| e.since));
        self.ticks.append_option(ev.map(|e| e.ticks));
        self.detail.append_option(r.detail);
        self.follow_up.append_option(r.follow_up);
        self.verdict.append_option(r.verdict);
        self.reasons.append_option(r.reasons.as_deref());
        self.outcome.append_option(r.outcome);
    }

    fn finish(&mut self) -> Vec<ArrayRef> {
        let mut c: Vec<ArrayRef> = vec![
            Arc::new(self.seq.finish()),
            Arc::new(self.event.finish()),
            Arc::new(self.at.finish()),
            Arc::new(self.stage.finish()),
            Arc::new(self.k.finish()),
            Arc::new(self.requests.finish()),
            Arc::new(self.gates.finish()),
        ];
        for i in 0..Gate::ALL.len() {
            c.push(Arc::new(self.g_value[i].finish()));
            c.push(Arc::new(self.g_threshold[i].finish()));
            c.push(Arc::new(self.g_state[i].finish()));
            c.push(Arc::new(self.g_sustain[i].finish()));
            c.push(Arc::new(self.g_trigger[i].finish()));
        }
        c.extend([
            Arc::new(self.gate.finish()) as ArrayRef,
            Arc::new(self.value.finish()),
            Arc::new(self.threshold.finish()),
            Arc::new(self.op.finish()),
            Arc::new(self.since.finish()),
            Arc::new(self.ticks.finish()),
            Arc::new(self.detail.finish()),
            Arc::new(self.follow_up.finish()),
            Arc::new(self.verdict.finish()),
            Arc::new(self.reasons.finish()),
            Arc::new(self.outcome.finish()),
        ]);
        c
    }
}

/// The `event` value of a variant.
fn event_name(e: &VerdictEvent) -> &'static str {
    match e {
        VerdictEvent::StageStarted { .. } => "stage_started",
        VerdictEvent::Tick(_) => "tick",
        VerdictEvent::Breach { .. } => "breach",
        VerdictEvent::Trigger { .. } => "trigger",
        VerdictEvent::FollowUp(_) => "follow_up",
        VerdictEvent::StageVerdict { .. } => "stage_verdict",
        VerdictEvent::Outcome { .. } => "outcome",
    }
}

/// Appends one event to the chunk, or says why it cannot be recorded.
fn append_event(
    chunk: &mut Chunk,
    meta: &RecordMeta,
    seq: usize,
    e: &VerdictEvent,
) -> Result<(), String> {
    let name = event_name(e);
    let stage_name =
        |idx: usize| -> Result<&str, String> {
            meta.stages.get(idx).map(|s| s.name.as_str()).ok_or_else(|| {
            format!(
                "event {seq} ({name}) refers to stage {idx}, but the metadata lists {} stages",
                meta.stages.len()
            )
        })
        };
    let mut r = Row::empty();
    let at = match e {
        VerdictEvent::StageStarted { stage, at } => {
            r.stage = Some(stage_name(*stage)?);
            *at
        }
        VerdictEvent::Tick(t) => {
            r.stage = Some(stage_name(t.stage)?);
            r.k = Some(t.k);
            r.requests = Some(t.requests);
            for gt in &t.gates {
                let slot = &mut r.gate_ticks[gate_slot(gt.gate)];
                if slot.is_some() {
                    return Err(format!(
                        "event {seq} (tick {}) lists gate `{}` twice; a tick has one column set per gate",
                        t.k,
                        gt.gate.as_str()
                    ));
                }
                *slot = Some(gt);
            }
            r.gates = Some(join_gates(t.gates.iter().map(|g| g.gate)));
            t.at
        }
        VerdictEvent::Breach {
            stage,
            at,
            evidence,
        }
        | VerdictEvent::Trigger {
            stage,
            at,
            evidence,
        } => {
            r.stage = Some(stage_name(*stage)?);
            r.evidence = Some(evidence);
            r.detail = Some(&evidence.detail);
            *at
        }
        VerdictEvent::FollowUp(f) => {
            r.stage = Some(&f.stage);
            r.follow_up = Some(&f.kind);
            r.detail = Some(&f.detail);
            f.at
        }
        VerdictEvent::StageVerdict {
            stage,
            at,
            verdict,
            reasons,
        } => {
            r.stage = Some(stage_name(*stage)?);
            r.verdict = Some(verdict.as_str());
            r.reasons = Some(join_gates(reasons.iter().copied()));
            *at
        }
        VerdictEvent::Outcome { at, outcome } => {
            r.outcome = Some(outcome.as_str());
            *at
        }
    };
    chunk.append(seq as u64, name, at, &r);
    Ok(())
}

/// Writes the recording: the events in batches of at most [`BATCH_ROWS`] rows.
fn write_body<W: Write>(
    w: W,
    path: &Path,
    schema: &SchemaRef,
    meta: &RecordMeta,
    events: &[VerdictEvent],
) -> Result<(), RecordError> {
    let arrow_err = |source| RecordError::Arrow {
        path: path.to_path_buf(),
        what: "cannot write Arrow data",
        source,
    };
    let mut writer = FileWriter::try_new(w, schema).map_err(arrow_err)?;
    for (c, chunk_events) in events.chunks(BATCH_ROWS).enumerate() {
        let mut chunk = Chunk::new();
        for (i, e) in chunk_events.iter().enumerate() {
            append_event(&mut chunk, meta, c * BATCH_ROWS + i, e).map_err(|problem| {
                RecordError::Unrecordable {
                    path: path.to_path_buf(),
                    problem,
                }
            })?;
        }
        let batch = RecordBatch::try_new(schema.clone(), chunk.finish()).map_err(arrow_err)?;
        writer.write(&batch).map_err(arrow_err)?;
    }
    writer.finish().map_err(arrow_err)
}

/// Writes atomically: a NamedTempFile in the target's directory, persisted at the end.
pub fn write_record(
    path: &Path,
    meta: &RecordMeta,
    events: &[VerdictEvent],
) -> Result<(), RecordError> {
    let metadata = meta_to_map(meta).map_err(|problem| RecordError::Unrecordable {
        path: path.to_path_buf(),
        problem,
    })?;
    let schema: SchemaRef = Arc::new(record_schema(metadata));
    let io_err = |what| {
        move |source| RecordError::Io {
            path: path.to_path_buf(),
            what,
            source,
        }
    };
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut builder = tempfile::Builder::new();
    builder.prefix(".rehearse-record-").suffix(".tmp");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o644));
    }
    let mut tmp: NamedTempFile = builder
        .tempfile_in(dir)
        .map_err(io_err("cannot create a temporary file in its directory"))?;
    {
        let mut w = BufWriter::new(tmp.as_file_mut());
        write_body(&mut w, path, &schema, meta, events)?;
        w.flush().map_err(io_err("cannot write"))?;
    }
    tmp.as_file().sync_all().map_err(io_err("cannot write"))?;
    tmp.persist(path).map_err(|e| RecordError::Io {
        path: path.to_path_buf(),
        what: "cannot move the finished recording into place",
        source: e.error,
    })?;
    Ok(())
}

fn parse_state(s: &str) -> Option<GateState> {
    [
        GateState::Ok,
        GateState::Breach,
        GateState::NoData,
        GateState::NotEvaluated,
    ]
    .into_iter()
    .find(|v| v.as_str() == s)
}

fn parse_verdict(s: &str) -> Option<Verdict> {
    [
        Verdict::Go,
        Verdict::Hold,
        Verdict::Rollback,
        Verdict::NotRun,
    ]
    .into_iter()
    .find(|v| v.as_str() == s)
}

fn parse_outcome(s: &str) -> Option<Outcome> {
    [Outcome::Complete, Outcome::Hold, Outcome::Rollback]
        .into_iter()
        .find(|v| v.as_str() == s)
}

fn parse_gate_list(s: &str, column: &str) -> Result<Vec<Gate>, String> {
    if s.is_empty() {
        return Ok(Vec::new());
    }
    s.split(',')
        .map(|id| {
            Gate::parse(id).ok_or_else(|| format!("column `{column}` names an unknown gate `{id}`"))
        })
        .collect()
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

/// Checks that every column of this format is present with its type.
fn check_columns(path: &Path, schema: &Schema) -> Result<(), RecordError> {
    for (name, ty, _) in columns() {
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
    Ok(())
}

/// The typed columns of one batch.
struct Cols<'a> {
    seq: &'a UInt64Array,
    event: &'a StringArray,
    at: &'a TimestampMillisecondArray,
    stage: &'a StringArray,
    k: &'a UInt32Array,
    requests: &'a UInt64Array,
    gates: &'a StringArray,
    g_value: Vec<&'a Float64Array>,
    g_threshold: Vec<&'a Float64Array>,
    g_state: Vec<&'a StringArray>,
    g_sustain: Vec<&'a UInt32Array>,
    g_trigger: Vec<&'a BooleanArray>,
    gate: &'a StringArray,
    value: &'a Float64Array,
    threshold: &'a Float64Array,
    op: &'a StringArray,
    since: &'a TimestampMillisecondArray,
    ticks: &'a UInt32Array,
    detail: &'a StringArray,
    follow_up: &'a StringArray,
    verdict: &'a StringArray,
    reasons: &'a StringArray,
    outcome: &'a StringArray,
}

fn col<'a, T: 'static>(batch: &'a RecordBatch, name: &str) -> Result<&'a T, String> {
    batch
        .column_by_name(name)
        .and_then(|a| a.as_any().downcast_ref::<T>())
        .ok_or_else(|| {
            format!("column `{name}` is missing or has the wrong type in a record batch")
        })
}

impl<'a> Cols<'a> {
    fn new(b: &'a RecordBatch) -> Result<Self, String> {
        let per_gate = |field: &str| -> Vec<String> {
            Gate::ALL.iter().map(|g| gate_col(*g, field)).collect()
        };
        Ok(Cols {
            seq: col(b, "seq")?,
            event: col(b, "event")?,
            at: col(b, "at")?,
            stage: col(b, "stage")?,
            k: col(b, "k")?,
            requests: col(b, "requests")?,
            gates: col(b, "gates")?,
            g_value: per_gate("value")
                .iter()
                .map(|n| col(b, n))
                .collect::<Result<_, _>>()?,
            g_threshold: per_gate("threshold")
                .iter()
                .map(|n| col(b, n))
                .collect::<Result<_, _>>()?,
            g_state: per_gate("state")
                .iter()
                .map(|n| col(b, n))
                .collect::<Result<_, _>>()?,
            g_sustain: per_gate("sustain")
                .iter()
                .map(|n| col(b, n))
                .collect::<Result<_, _>>()?,
            g_trigger: per_gate("trigger")
                .iter()
                .map(|n| col(b, n))
                .collect::<Result<_, _>>()?,
            gate: col(b, "gate")?,
            value: col(b, "value")?,
            threshold: col(b, "threshold")?,
            op: col(b, "op")?,
            since: col(b, "since")?,
            ticks: col(b, "ticks")?,
            detail: col(b, "detail")?,
            follow_up: col(b, "follow_up")?,
            verdict: col(b, "verdict")?,
            reasons: col(b, "reasons")?,
            outcome: col(b, "outcome")?,
        })
    }
}

fn opt<T: ArrowPrimitiveType>(a: &PrimitiveArray<T>, i: usize) -> Option<T::Native> {
    a.is_valid(i).then(|| a.value(i))
}

fn opt_str(a: &StringArray, i: usize) -> Option<&str> {
    a.is_valid(i).then(|| a.value(i))
}

fn opt_bool(a: &BooleanArray, i: usize) -> Option<bool> {
    a.is_valid(i).then(|| a.value(i))
}

fn need<T>(v: Option<T>, column: &str) -> Result<T, String> {
    v.ok_or_else(|| format!("column `{column}` is null"))
}

/// Decodes row `i` of a batch into an event.
fn decode_row(
    c: &Cols,
    i: usize,
    stage_idx: &HashMap<&str, usize>,
) -> Result<VerdictEvent, String> {
    let event = need(opt_str(c.event, i), "event")?;
    let at = need(opt(c.at, i), "at")?;
    let stage = || -> Result<usize, String> {
        let name = need(opt_str(c.stage, i), "stage")?;
        stage_idx
            .get(name)
            .copied()
            .ok_or_else(|| format!("stage `{name}` is not among the stages of `{KEY_STAGES}`"))
    };
    let evidence = || -> Result<Evidence, String> {
        let id = need(opt_str(c.gate, i), "gate")?;
        Ok(Evidence {
            gate: Gate::parse(id)
                .ok_or_else(|| format!("column `gate` names an unknown gate `{id}`"))?,
            value: opt(c.value, i),
            threshold: opt(c.threshold, i),
            op: need(opt_str(c.op, i), "op")?.to_string(),
            since: opt(c.since, i),
            ticks: need(opt(c.ticks, i), "ticks")?,
            detail: need(opt_str(c.detail, i), "detail")?.to_string(),
        })
    };
    Ok(match event {
        "stage_started" => VerdictEvent::StageStarted {
            stage: stage()?,
            at,
        },
        "tick" => {
            let ids = parse_gate_list(need(opt_str(c.gates, i), "gates")?, "gates")?;
            let mut gates = Vec::with_capacity(ids.len());
            for g in ids {
                let s = gate_slot(g);
                let state_col = gate_col(g, "state");
                let state_text = need(opt_str(c.g_state[s], i), &state_col)?;
                gates.push(GateTick {
                    gate: g,
                    state: parse_state(state_text).ok_or_else(|| {
                        format!("column `{state_col}` holds an unknown state `{state_text}`")
                    })?,
                    value: opt(c.g_value[s], i),
                    threshold: opt(c.g_threshold[s], i),
                    trigger: need(opt_bool(c.g_trigger[s], i), &gate_col(g, "trigger"))?,
                    sustain: need(opt(c.g_sustain[s], i), &gate_col(g, "sustain"))?,
                });
            }
            VerdictEvent::Tick(TickRecord {
                k: need(opt(c.k, i), "k")?,
                at,
                stage: stage()?,
                requests: need(opt(c.requests, i), "requests")?,
                gates,
            })
        }
        "breach" => VerdictEvent::Breach {
            stage: stage()?,
            at,
            evidence: evidence()?,
        },
        "trigger" => VerdictEvent::Trigger {
            stage: stage()?,
            at,
            evidence: evidence()?,
        },
        "follow_up" => VerdictEvent::FollowUp(FollowUp {
            kind: need(opt_str(c.follow_up, i), "follow_up")?.to_string(),
            stage: need(opt_str(c.stage, i), "stage")?.to_string(),
            at,
            detail: need(opt_str(c.detail, i), "detail")?.to_string(),
        }),
        "stage_verdict" => {
            let text = need(opt_str(c.verdict, i), "verdict")?;
            VerdictEvent::StageVerdict {
                stage: stage()?,
                at,
                verdict: parse_verdict(text)
                    .ok_or_else(|| format!("column `verdict` holds an unknown verdict `{text}`"))?,
                reasons: parse_gate_list(need(opt_str(c.reasons, i), "reasons")?, "reasons")?,
            }
        }
        "outcome" => {
            let text = need(opt_str(c.outcome, i), "outcome")?;
            VerdictEvent::Outcome {
                at,
                outcome: parse_outcome(text)
                    .ok_or_else(|| format!("column `outcome` holds an unknown outcome `{text}`"))?,
            }
        }
        other => return Err(format!("unknown event kind `{other}`")),
    })
}

/// Reads a recording back: the metadata and the events, equal to what was written.
pub fn read_record(path: &Path) -> Result<(RecordMeta, Vec<VerdictEvent>), RecordError> {
    let file = File::open(path).map_err(|source| RecordError::Io {
        path: path.to_path_buf(),
        what: "cannot open",
        source,
    })?;
    let reader =
        FileReader::try_new(BufReader::new(file), None).map_err(|source| RecordError::Arrow {
            path: path.to_path_buf(),
            what: "not a readable Arrow IPC file",
            source,
        })?;
    let schema = reader.schema();
    let meta = meta_from_schema(path, &schema)?;
    check_columns(path, &schema)?;
    let mut stage_idx: HashMap<&str, usize> = HashMap::with_capacity(meta.stages.len());
    for (i, s) in meta.stages.iter().enumerate() {
        if stage_idx.insert(s.name.as_str(), i).is_some() {
            return Err(RecordError::Invalid {
                path: path.to_path_buf(),
                problem: format!("metadata `{KEY_STAGES}` names stage `{}` twice", s.name),
            });
        }
    }
    let invalid = |problem: String| RecordError::Invalid {
        path: path.to_path_buf(),
        problem,
    };
    let mut events = Vec::new();
    for batch in reader {
        let batch = batch.map_err(|source| RecordError::Arrow {
            path: path.to_path_buf(),
            what: "cannot read a record batch",
            source,
        })?;
        let cols = Cols::new(&batch).map_err(invalid)?;
        for i in 0..batch.num_rows() {
            let row = events.len();
            let seq = opt(cols.seq, i);
            if seq != Some(row as u64) {
                let found = seq.map_or("null".to_string(), |s| s.to_string());
                return Err(invalid(format!(
                    "row {row}: column `seq` is {found}, expected {row}"
                )));
            }
            let event =
                decode_row(&cols, i, &stage_idx).map_err(|p| invalid(format!("row {row}: {p}")))?;
            events.push(event);
        }
    }
    Ok((meta, events))
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: Millis = 1_772_445_600_000;

    fn meta() -> RecordMeta {
        RecordMeta {
            t0: T0,
            tick_ms: 60_000,
            dataset: "datasets/canary-ü".into(),
            policy_toml: "[triggers]\nlatency_p95_ms = 300\n".into(),
            stages: vec![
                StageMeta {
                    name: "1%".into(),
                    start: T0,
                    end: T0 + 1_800_000,
                    weight: 0.01,
                },
                StageMeta {
                    name: "10%".into(),
                    start: T0 + 1_800_000,
                    end: T0 + 3_600_000,
                    weight: 0.1,
                },
                StageMeta {
                    name: "100%".into(),
                    start: T0 + 3_600_000,
                    end: T0 + 7_200_000,
                    weight: 1.0,
                },
            ],
        }
    }

    fn gt(
        gate: Gate,
        state: GateState,
        value: Option<f64>,
        threshold: Option<f64>,
        trigger: bool,
        sustain: u32,
    ) -> GateTick {
        GateTick {
            gate,
            state,
            value,
            threshold,
            trigger,
            sustain,
        }
    }

    fn events() -> Vec<VerdictEvent> {
        let ev = |gate, value, threshold, since, detail: &str| Evidence {
            gate,
            value,
            threshold,
            op: ">=".into(),
            since,
            ticks: 3,
            detail: detail.into(),
        };
        vec![
            VerdictEvent::StageStarted { stage: 0, at: T0 },
            VerdictEvent::Tick(TickRecord {
                k: 1,
                at: T0 + 60_000,
                stage: 0,
                requests: 1234,
                gates: Gate::ALL
                    .iter()
                    .enumerate()
                    .map(|(i, g)| {
                        gt(
                            *g,
                            GateState::Ok,
                            Some(i as f64 * 0.125),
                            Some(0.5),
                            false,
                            0,
                        )
                    })
                    .collect(),
            }),
            // A subset of gates, out of `Gate::ALL` order, with missing values.
            VerdictEvent::Tick(TickRecord {
                k: 2,
                at: T0 + 120_000,
                stage: 0,
                requests: 0,
                gates: vec![
                    gt(
                        Gate::LatencyP99,
                        GateState::Breach,
                        Some(412.5),
                        Some(400.0),
                        true,
                        2,
                    ),
                    gt(
                        Gate::ErrorRate5xx,
                        GateState::NoData,
                        None,
                        Some(0.01),
                        false,
                        0,
                    ),
                    gt(
                        Gate::PiiInLogs,
                        GateState::NotEvaluated,
                        None,
                        None,
                        false,
                        0,
                    ),
                    gt(
                        Gate::LatencyP95,
                        GateState::Ok,
                        Some(-0.0),
                        None,
                        false,
                        u32::MAX,
                    ),
                ],
            }),
            VerdictEvent::Tick(TickRecord {
                k: 3,
                at: T0 + 180_000,
                stage: 1,
                requests: u64::MAX,
                gates: vec![],
            }),
            VerdictEvent::Breach {
                stage: 1,
                at: T0 + 180_000,
                evidence: ev(
                    Gate::LatencyP95,
                    Some(f64::MAX),
                    Some(f64::MIN_POSITIVE),
                    Some(T0 - 1),
                    "prefix /api, café ☕ «x»",
                ),
            },
            VerdictEvent::Trigger {
                stage: 1,
                at: T0 + 240_000,
                evidence: ev(Gate::ErrorRate5xx, None, None, None, ""),
            },
            VerdictEvent::FollowUp(FollowUp {
                kind: "perf_ticket".into(),
                stage: "10%".into(),
                at: T0 + 240_000,
                detail: "line one\nline two, with a comma".into(),
            }),
            VerdictEvent::FollowUp(FollowUp {
                kind: "p0_incident".into(),
                stage: "a stage the metadata does not list".into(),
                at: -5,
                detail: String::new(),
            }),
            VerdictEvent::StageVerdict {
                stage: 0,
                at: T0 + 1_800_000,
                verdict: Verdict::Go,
                reasons: vec![],
            },
            VerdictEvent::StageVerdict {
                stage: 1,
                at: T0 + 240_000,
                verdict: Verdict::Rollback,
                reasons: vec![Gate::ErrorRate5xx, Gate::LatencyP99],
            },
            VerdictEvent::StageVerdict {
                stage: 2,
                at: T0 + 240_000,
                verdict: Verdict::NotRun,
                reasons: vec![],
            },
            VerdictEvent::StageVerdict {
                stage: 2,
                at: T0,
                verdict: Verdict::Hold,
                reasons: vec![Gate::SeoIndexability],
            },
            VerdictEvent::Outcome {
                at: T0 + 240_000,
                outcome: Outcome::Rollback,
            },
            VerdictEvent::Outcome {
                at: T0,
                outcome: Outcome::Complete,
            },
            VerdictEvent::Outcome {
                at: T0,
                outcome: Outcome::Hold,
            },
        ]
    }

    /// Fails to compile when an enum gains a variant the private parsers do not list.
    #[allow(dead_code)]
    fn parsers_are_exhaustive(s: GateState, v: Verdict, o: Outcome) {
        match s {
            GateState::Ok | GateState::Breach | GateState::NoData | GateState::NotEvaluated => {}
        }
        match v {
            Verdict::Go | Verdict::Hold | Verdict::Rollback | Verdict::NotRun => {}
        }
        match o {
            Outcome::Complete | Outcome::Hold | Outcome::Rollback => {}
        }
    }

    fn write_raw(path: &Path, schema: Schema, batches: &[RecordBatch]) {
        let mut w = FileWriter::try_new(File::create(path).unwrap(), &schema).unwrap();
        for b in batches {
            w.write(b).unwrap();
        }
        w.finish().unwrap();
    }

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
        ] {
            assert_eq!(
                schema.field_with_name(name).unwrap().data_type(),
                &ty,
                "{name}"
            );
        }
        assert_eq!(schema.fields().len(), 7 + 5 * Gate::ALL.len() + 11);
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

    #[test]
    fn rejects_files_that_are_not_recordings() {
        let dir = tempfile::tempdir().unwrap();

        let path = dir.path().join("other.arrow");
        let schema = Schema::new(vec![Field::new("x", DataType::Int64, false)]);
        let batch = RecordBatch::try_new(
            Arc::new(schema.clone()),
            vec![Arc::new(arrow_array::Int64Array::from(vec![1, 2, 3]))],
        )
        .unwrap();
        write_raw(&path, schema, &[batch]);
        let err = read_record(&path).unwrap_err();
        assert!(matches!(err, RecordError::NotARecording { .. }), "{err:?}");
        let msg = err.to_string();
        assert!(
            msg.contains("not a rehearse recording") && msg.contains("rehearse.record_format"),
            "{msg}"
        );
        assert!(msg.contains(&path.display().to_string()), "{msg}");

        // A newer format version.
        let path = dir.path().join("v2.arrow");
        let mut md = meta_to_map(&meta()).unwrap();
        md.insert(KEY_FORMAT.into(), "2".into());
        write_raw(&path, record_schema(md), &[]);
        let msg = read_record(&path).unwrap_err().to_string();
        assert!(msg.contains("version `2` is not supported"), "{msg}");

        // A missing column.
        let path = dir.path().join("missing.arrow");
        let full = record_schema(meta_to_map(&meta()).unwrap());
        let fields: Vec<Field> = full
            .fields()
            .iter()
            .filter(|f| f.name() != "reasons")
            .map(|f| f.as_ref().clone())
            .collect();
        write_raw(
            &path,
            Schema::new_with_metadata(fields, full.metadata().clone()),
            &[],
        );
        let msg = read_record(&path).unwrap_err().to_string();
        assert!(msg.contains("missing column `reasons`"), "{msg}");

        // A column of the wrong type.
        let path = dir.path().join("wrongtype.arrow");
        let fields: Vec<Field> = full
            .fields()
            .iter()
            .map(|f| {
                if f.name() == "k" {
                    Field::new("k", DataType::Int64, true)
                } else {
                    f.as_ref().clone()
                }
            })
            .collect();
        write_raw(
            &path,
            Schema::new_with_metadata(fields, full.metadata().clone()),
            &[],
        );
        let msg = read_record(&path).unwrap_err().to_string();
        assert!(
            msg.contains("column `k` is Int64, expected UInt32"),
            "{msg}"
        );

        // A missing metadata key.
        let path = dir.path().join("nostages.arrow");
        let mut md = meta_to_map(&meta()).unwrap();
        md.remove(KEY_STAGES);
        write_raw(&path, record_schema(md), &[]);
        let msg = read_record(&path).unwrap_err().to_string();
        assert!(msg.contains("no `rehearse.stages` key"), "{msg}");

        // Not Arrow at all.
        let path = dir.path().join("text.arrow");
        std::fs::write(&path, "seq,event\n0,tick\n").unwrap();
        let msg = read_record(&path).unwrap_err().to_string();
        assert!(msg.contains("not a readable Arrow IPC file"), "{msg}");
    }

    #[test]
    fn rejects_rows_that_do_not_decode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.arrow");
        let schema = Arc::new(record_schema(meta_to_map(&meta()).unwrap()));
        let mut chunk = Chunk::new();
        append_event(
            &mut chunk,
            &meta(),
            0,
            &VerdictEvent::StageStarted { stage: 0, at: T0 },
        )
        .unwrap();
        let mut r = Row::empty();
        r.stage = Some("no such stage");
        chunk.append(1, "stage_started", T0, &r);
        let batch = RecordBatch::try_new(schema.clone(), chunk.finish()).unwrap();
        write_raw(&path, schema.as_ref().clone(), &[batch]);
        let msg = read_record(&path).unwrap_err().to_string();
        assert!(msg.contains("row 1: stage `no such stage`"), "{msg}");
    }

    #[test]
    fn nonexistent_path_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nope.arrow");
        let msg = read_record(&path).unwrap_err().to_string();
        assert!(
            msg.contains(&path.display().to_string()) && msg.contains("cannot open"),
            "{msg}"
        );
    }

    #[test]
    fn failed_writes_leave_no_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing").join("run.arrow");
        let msg = write_record(&path, &meta(), &events())
            .unwrap_err()
            .to_string();
        assert!(msg.contains(&path.display().to_string()), "{msg}");
        assert!(!path.exists());

        // An event the file cannot hold: the previous recording stays, no temporary remains.
        let path = dir.path().join("run.arrow");
        std::fs::write(&path, "previous").unwrap();
        let bad = [
            VerdictEvent::StageStarted { stage: 0, at: T0 },
            VerdictEvent::StageStarted { stage: 9, at: T0 },
        ];
        let msg = write_record(&path, &meta(), &bad).unwrap_err().to_string();
        assert!(msg.contains("refers to stage 9"), "{msg}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "previous");
        let twice = [VerdictEvent::Tick(TickRecord {
            k: 0,
            at: T0,
            stage: 0,
            requests: 0,
            gates: vec![
                gt(Gate::Availability, GateState::Ok, None, None, false, 0),
                gt(Gate::Availability, GateState::Ok, None, None, false, 0),
            ],
        })];
        let msg = write_record(&path, &meta(), &twice)
            .unwrap_err()
            .to_string();
        assert!(msg.contains("lists gate `availability` twice"), "{msg}");
        let mut dup = meta();
        dup.stages[1].name = "1%".into();
        let msg = write_record(&path, &dup, &[]).unwrap_err().to_string();
        assert!(msg.contains("both named `1%`"), "{msg}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "previous");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("run.arrow")]);
    }
}
