//! The writer of a recording: turns verdict events into rows of the recording's columns,
//! batch by batch, and writes the Arrow IPC file atomically ([`write_record`]).

use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::Arc;

use arrow_array::builder::{
    BooleanBuilder, Float64Builder, StringBuilder, TimestampMillisecondBuilder, UInt32Builder,
    UInt64Builder,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_ipc::writer::FileWriter;
use arrow_schema::SchemaRef;
use tempfile::NamedTempFile;

use super::{
    RecordError, RecordExtras, RecordMeta, TickDisplay, extras_to_map, gate_slot, meta_to_map,
    record_schema,
};
use crate::input::Millis;
use crate::verdict::{Evidence, Gate, GateTick, VerdictEvent};

/// Rows per record batch: memory while writing is bounded by one batch.
pub(super) const BATCH_ROWS: usize = 4096;

/// The nullable columns of one row; everything left `None` is written as null.
pub(super) struct Row<'a> {
    pub(super) stage: Option<&'a str>,
    pub(super) k: Option<u32>,
    pub(super) requests: Option<u64>,
    pub(super) gates: Option<String>,
    /// Per slot of [`Gate::ALL`].
    pub(super) gate_ticks: [Option<&'a GateTick>; Gate::ALL.len()],
    pub(super) evidence: Option<&'a Evidence>,
    pub(super) follow_up: Option<&'a str>,
    pub(super) detail: Option<&'a str>,
    pub(super) verdict: Option<&'static str>,
    pub(super) reasons: Option<String>,
    pub(super) outcome: Option<&'static str>,
    pub(super) display: Option<&'a TickDisplay>,
}

impl Row<'_> {
    pub(super) fn empty() -> Self {
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
            display: None,
        }
    }
}

fn join_gates(gates: impl Iterator<Item = Gate>) -> String {
    gates.map(Gate::as_str).collect::<Vec<_>>().join(",")
}

/// Column builders of one record batch, in file order.
pub(super) struct Chunk {
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
    p50_ms: Float64Builder,
    probes_passed: UInt32Builder,
    probes_failed: UInt32Builder,
    waf_blocks: UInt64Builder,
    rate_limited: UInt64Builder,
}

impl Chunk {
    pub(super) fn new() -> Self {
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
            p50_ms: Float64Builder::new(),
            probes_passed: UInt32Builder::new(),
            probes_failed: UInt32Builder::new(),
            waf_blocks: UInt64Builder::new(),
            rate_limited: UInt64Builder::new(),
        }
    }

    pub(super) fn append(&mut self, seq: u64, event: &str, at: Millis, r: &Row) {
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
        let d = r.display;
        self.p50_ms.append_option(d.and_then(|d| d.p50_ms));
        self.probes_passed
            .append_option(d.and_then(|d| d.probes.map(|p| p.0)));
        self.probes_failed
            .append_option(d.and_then(|d| d.probes.map(|p| p.1)));
        self.waf_blocks
            .append_option(d.and_then(|d| d.security.map(|s| s[0])));
        self.rate_limited
            .append_option(d.and_then(|d| d.security.map(|s| s[1])));
    }

    pub(super) fn finish(&mut self) -> Vec<ArrayRef> {
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
            Arc::new(self.p50_ms.finish()),
            Arc::new(self.probes_passed.finish()),
            Arc::new(self.probes_failed.finish()),
            Arc::new(self.waf_blocks.finish()),
            Arc::new(self.rate_limited.finish()),
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

/// Appends one event to the chunk (a tick with its display columns, when known), or
/// says why it cannot be recorded.
pub(super) fn append_event(
    chunk: &mut Chunk,
    meta: &RecordMeta,
    seq: usize,
    e: &VerdictEvent,
    display: Option<&TickDisplay>,
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
            r.display = display;
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
    extras: &RecordExtras,
) -> Result<(), RecordError> {
    let arrow_err = |source| RecordError::Arrow {
        path: path.to_path_buf(),
        what: "cannot write Arrow data",
        source,
    };
    let mut writer = FileWriter::try_new(w, schema).map_err(arrow_err)?;
    let mut tick = 0usize;
    for (c, chunk_events) in events.chunks(BATCH_ROWS).enumerate() {
        let mut chunk = Chunk::new();
        for (i, e) in chunk_events.iter().enumerate() {
            let display = match e {
                VerdictEvent::Tick(_) => {
                    tick += 1;
                    extras.ticks.get(tick - 1)
                }
                _ => None,
            };
            append_event(&mut chunk, meta, c * BATCH_ROWS + i, e, display).map_err(|problem| {
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
    write_record_with(path, meta, events, &RecordExtras::default())
}

/// Like [`write_record`], with what the ship-room pack needs beyond the events
/// (`extras.ticks` holds one entry per tick event, or none).
pub fn write_record_with(
    path: &Path,
    meta: &RecordMeta,
    events: &[VerdictEvent],
    extras: &RecordExtras,
) -> Result<(), RecordError> {
    let unrecordable = |problem| RecordError::Unrecordable {
        path: path.to_path_buf(),
        problem,
    };
    let ticks = events
        .iter()
        .filter(|e| matches!(e, VerdictEvent::Tick(_)))
        .count();
    if !extras.ticks.is_empty() && extras.ticks.len() != ticks {
        return Err(unrecordable(format!(
            "{} tick display rows for {ticks} tick events",
            extras.ticks.len()
        )));
    }
    let mut metadata = meta_to_map(meta).map_err(unrecordable)?;
    extras_to_map(extras, &mut metadata).map_err(unrecordable)?;
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
        write_body(&mut w, path, &schema, meta, events, extras)?;
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

#[cfg(test)]
mod tests {
    use super::super::fixtures::{T0, events, gt, meta};
    use super::*;
    use crate::verdict::{GateState, TickRecord};

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
