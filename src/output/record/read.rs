//! The reader of a recording: checks the file is a recording of this format, then decodes
//! every row back into the verdict event that was written ([`read_record`]).

use std::collections::HashMap;
use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use arrow_array::types::ArrowPrimitiveType;
use arrow_array::{
    Array, BooleanArray, Float64Array, PrimitiveArray, RecordBatch, StringArray,
    TimestampMillisecondArray, UInt32Array, UInt64Array,
};
use arrow_ipc::reader::FileReader;

use super::{
    KEY_STAGES, LATER_GATES, RecordError, RecordExtras, RecordMeta, TickDisplay, check_columns,
    extras_from_schema, gate_col, gate_slot, meta_from_schema,
};
use crate::verdict::{
    Evidence, FollowUp, Gate, GateState, GateTick, Outcome, TickRecord, Verdict, VerdictEvent,
};

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

/// The typed columns of one batch.
struct Cols<'a> {
    seq: &'a UInt64Array,
    event: &'a StringArray,
    at: &'a TimestampMillisecondArray,
    stage: &'a StringArray,
    k: &'a UInt32Array,
    requests: &'a UInt64Array,
    gates: &'a StringArray,
    /// Per gate; `None` for the columns of a gate added after the recording was
    /// written (`record::LATER_GATES`), which none of its ticks lists.
    g_value: Vec<Option<&'a Float64Array>>,
    g_threshold: Vec<Option<&'a Float64Array>>,
    g_state: Vec<Option<&'a StringArray>>,
    g_sustain: Vec<Option<&'a UInt32Array>>,
    g_trigger: Vec<Option<&'a BooleanArray>>,
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
    /// The display columns, absent from recordings made before they existed.
    p50_ms: Option<&'a Float64Array>,
    probes_passed: Option<&'a UInt32Array>,
    probes_failed: Option<&'a UInt32Array>,
    waf_blocks: Option<&'a UInt64Array>,
    rate_limited: Option<&'a UInt64Array>,
}

/// An optional column: absent is `None`, present with the wrong type an error.
fn opt_col<'a, T: 'static>(batch: &'a RecordBatch, name: &str) -> Result<Option<&'a T>, String> {
    match batch.column_by_name(name) {
        None => Ok(None),
        Some(_) => col(batch, name).map(Some),
    }
}

pub(super) fn col<'a, T: 'static>(batch: &'a RecordBatch, name: &str) -> Result<&'a T, String> {
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
                .zip(Gate::ALL)
                .map(|(n, g)| gate_column(b, n, g))
                .collect::<Result<_, _>>()?,
            g_threshold: per_gate("threshold")
                .iter()
                .zip(Gate::ALL)
                .map(|(n, g)| gate_column(b, n, g))
                .collect::<Result<_, _>>()?,
            g_state: per_gate("state")
                .iter()
                .zip(Gate::ALL)
                .map(|(n, g)| gate_column(b, n, g))
                .collect::<Result<_, _>>()?,
            g_sustain: per_gate("sustain")
                .iter()
                .zip(Gate::ALL)
                .map(|(n, g)| gate_column(b, n, g))
                .collect::<Result<_, _>>()?,
            g_trigger: per_gate("trigger")
                .iter()
                .zip(Gate::ALL)
                .map(|(n, g)| gate_column(b, n, g))
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
            p50_ms: opt_col(b, "p50_ms")?,
            probes_passed: opt_col(b, "probes_passed")?,
            probes_failed: opt_col(b, "probes_failed")?,
            waf_blocks: opt_col(b, "waf_blocks")?,
            rate_limited: opt_col(b, "rate_limited")?,
        })
    }
}

/// A gate's column: required, unless the gate was added to the format after recordings
/// were first written (then a recording without it has no tick listing the gate).
fn gate_column<'a, T: 'static>(
    b: &'a RecordBatch,
    name: &str,
    g: Gate,
) -> Result<Option<&'a T>, String> {
    match col(b, name) {
        Ok(c) => Ok(Some(c)),
        Err(_) if LATER_GATES.contains(&g) && b.column_by_name(name).is_none() => Ok(None),
        Err(e) => Err(e),
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
                let missing = || format!("column `{state_col}` is missing for a tick listing it");
                let state_text = need(opt_str(c.g_state[s].ok_or_else(missing)?, i), &state_col)?;
                gates.push(GateTick {
                    gate: g,
                    state: parse_state(state_text).ok_or_else(|| {
                        format!("column `{state_col}` holds an unknown state `{state_text}`")
                    })?,
                    value: c.g_value[s].and_then(|a| opt(a, i)),
                    threshold: c.g_threshold[s].and_then(|a| opt(a, i)),
                    trigger: need(
                        c.g_trigger[s].and_then(|a| opt_bool(a, i)),
                        &gate_col(g, "trigger"),
                    )?,
                    sustain: need(
                        c.g_sustain[s].and_then(|a| opt(a, i)),
                        &gate_col(g, "sustain"),
                    )?,
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

/// The display columns of tick row `i`: each pair known only when both halves are.
fn display_of(c: &Cols, i: usize) -> TickDisplay {
    let get = |a: Option<&UInt32Array>| a.and_then(|a| opt(a, i));
    let get64 = |a: Option<&UInt64Array>| a.and_then(|a| opt(a, i));
    TickDisplay {
        p50_ms: c.p50_ms.and_then(|a| opt(a, i)),
        probes: get(c.probes_passed).zip(get(c.probes_failed)),
        security: get64(c.waf_blocks)
            .zip(get64(c.rate_limited))
            .map(|(w, r)| [w, r]),
    }
}

/// Reads a recording back: the metadata and the events, equal to what was written.
pub fn read_record(path: &Path) -> Result<(RecordMeta, Vec<VerdictEvent>), RecordError> {
    read_record_with(path).map(|(m, e, _)| (m, e))
}

/// Reads a recording back with its extras (empty `ticks` when the file has no display
/// columns or none of its tick rows has a display value).
pub fn read_record_with(
    path: &Path,
) -> Result<(RecordMeta, Vec<VerdictEvent>, RecordExtras), RecordError> {
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
    let mut extras = extras_from_schema(path, &schema)?;
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
            if matches!(event, VerdictEvent::Tick(_)) {
                extras.ticks.push(display_of(&cols, i));
            }
            events.push(event);
        }
    }
    if extras.ticks.iter().all(|t| *t == TickDisplay::default()) {
        extras.ticks.clear();
    }
    Ok((meta, events, extras))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_ipc::writer::FileWriter;
    use arrow_schema::{DataType, Field, Schema};

    use super::super::fixtures::{T0, meta};
    use super::super::write::{Chunk, Row, append_event};
    use super::super::{KEY_FORMAT, meta_to_map, record_schema};
    use super::*;

    /// Every state, verdict and outcome reads back from its text. The matches fail to
    /// compile when an enum gains a variant, a reminder to list it in its parser too.
    #[test]
    fn parsers_are_exhaustive() {
        use GateState as S;
        for s in [S::Ok, S::Breach, S::NoData, S::NotEvaluated] {
            match s {
                S::Ok | S::Breach | S::NoData | S::NotEvaluated => {}
            }
            assert_eq!(parse_state(s.as_str()), Some(s));
        }
        for v in [
            Verdict::Go,
            Verdict::Hold,
            Verdict::Rollback,
            Verdict::NotRun,
        ] {
            match v {
                Verdict::Go | Verdict::Hold | Verdict::Rollback | Verdict::NotRun => {}
            }
            assert_eq!(parse_verdict(v.as_str()), Some(v));
        }
        for o in [Outcome::Complete, Outcome::Hold, Outcome::Rollback] {
            match o {
                Outcome::Complete | Outcome::Hold | Outcome::Rollback => {}
            }
            assert_eq!(parse_outcome(o.as_str()), Some(o));
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
    fn extras_round_trip_and_older_recordings_read_without_them() {
        use super::super::{RecordExtras, TickDisplay, write_record_with};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.arrow");
        let (m, ev) = (
            super::super::fixtures::meta(),
            super::super::fixtures::events(),
        );
        let ticks = ev
            .iter()
            .filter(|e| matches!(e, VerdictEvent::Tick(_)))
            .count();
        assert!(ticks >= 2);
        let x = RecordExtras {
            ticks: (0..ticks)
                .map(|i| TickDisplay {
                    p50_ms: (i > 0).then_some(i as f64 + 0.25),
                    probes: Some((i as u32, 1)),
                    security: Some([i as u64 * 3, 7]),
                })
                .collect(),
            evaluated: Some(vec![
                (Gate::Availability, true),
                (Gate::CacheHeaderScope, false),
            ]),
            board_funnel: Some("{\"visitors\":3,\"paying\":1}".into()),
            dashboard_funnel: Some("{}".into()),
        };
        write_record_with(&path, &m, &ev, &x).unwrap();
        let (m2, ev2, x2) = read_record_with(&path).unwrap();
        assert_eq!((m2, ev2), (m.clone(), ev.clone()));
        assert_eq!(x2, x);

        // A tick display row per tick event, or none.
        let mut short = x.clone();
        short.ticks.pop();
        let msg = write_record_with(&path, &m, &ev, &short)
            .unwrap_err()
            .to_string();
        assert!(msg.contains("tick display rows for"), "{msg}");

        // A recording made before the display columns and extras keys existed: the same
        // events, nothing known beyond them.
        let plain = dir.path().join("plain.arrow");
        super::super::write_record(&plain, &m, &ev).unwrap();
        let reader = FileReader::try_new(File::open(&plain).unwrap(), None).unwrap();
        let schema = reader.schema();
        let keep: Vec<usize> = (0..schema.fields().len())
            .filter(|&i| {
                ![
                    "p50_ms",
                    "probes_passed",
                    "probes_failed",
                    "waf_blocks",
                    "rate_limited",
                ]
                .contains(&schema.field(i).name().as_str())
            })
            .collect();
        let old_schema = schema.project(&keep).unwrap();
        let batches: Vec<RecordBatch> =
            reader.map(|b| b.unwrap().project(&keep).unwrap()).collect();
        let old = dir.path().join("old.arrow");
        write_raw(&old, old_schema, &batches);
        let (m3, ev3, x3) = read_record_with(&old).unwrap();
        assert_eq!((m3, ev3), (m, ev));
        assert_eq!(x3, RecordExtras::default());
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
            None,
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
}
