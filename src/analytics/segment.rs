//! Segment-spec NDJSON exports read directly as the `funnel` stream. A funnel NDJSON
//! file whose first row has a `type` field is one: `page` and `screen` calls are `visit`
//! events, `track` calls keep their `event`; `identify`, `group` and `alias` calls only
//! feed identity stitching; rows repeating an earlier `messageId` are delivery
//! duplicates, dropped and counted. Fields map to the funnel columns as
//! `dataset-format.md` lists them, and errors name the Segment field (`properties.revenue`).

use std::borrow::Cow;
use std::io::{BufRead, BufReader};
use std::path::Path;

use serde_json::{Map, Value};

use super::data::{
    Decoded, FLAG_IDENTITY, FUNNEL_COLUMNS, FunnelBuilder, FunnelEvent, decode_funnel,
};
use super::symbols::{NONE, Symbols, fingerprint};
use crate::source::cell::{self, Cell};
use crate::source::text::{open_text, read_error};
use crate::source::{InputError, OnError, ReadStats, RowLoc, RowProblem, handle_row};

/// The Segment field each funnel column comes from, in [`FUNNEL_COLUMNS`] order.
pub const SEGMENT_FIELDS: [&str; 18] = [
    "timestamp",
    "event",
    "userId",
    "anonymousId",
    "properties.cohort",
    "context.device.type",
    "context.campaign.source",
    "context.campaign.medium",
    "context.campaign.name",
    "properties.revenue",
    "properties.currency",
    "properties.order_id",
    "properties.test_mode",
    "context.userAgent",
    "context.page.url",
    "properties.provider_id",
    "messageId",
    "properties.source",
];

/// What reading a Segment export produced besides its rows.
#[derive(Clone, Debug, Default)]
pub struct SegmentStats {
    pub rows: u64,
    pub skipped: u64,
    pub first_skip: Option<String>,
    /// Whether any row has `properties.source`.
    pub has_source: bool,
}

/// Whether an NDJSON file is a Segment export: its first non-blank line is a JSON
/// object with a `type` field.
pub fn is_segment(path: &Path) -> Result<bool, InputError> {
    Ok(first_row(path)?.is_some_and(|m| m.contains_key("type")))
}

/// The first non-blank line of an NDJSON file when it is a JSON object (what tells an
/// SDK export from a dataset-format file); `None` otherwise.
pub(super) fn first_row(path: &Path) -> Result<Option<Map<String, Value>>, InputError> {
    let mut reader = BufReader::new(open_text(path, false)?);
    let mut line = String::new();
    loop {
        line.clear();
        match reader.read_line(&mut line) {
            Ok(0) => return Ok(None),
            Ok(_) => {}
            // Not UTF-8 or unreadable: the NDJSON reader reports it.
            Err(_) => return Ok(None),
        }
        let t = line.trim_start_matches('\u{feff}').trim();
        if t.is_empty() {
            continue;
        }
        return Ok(match serde_json::from_str::<Value>(t) {
            Ok(Value::Object(m)) => Some(m),
            _ => None,
        });
    }
}

pub(super) fn at<'v>(obj: &'v Map<String, Value>, path: &str) -> Option<&'v Value> {
    let mut parts = path.split('.');
    let mut v = obj.get(parts.next()?)?;
    for p in parts {
        v = v.as_object()?.get(p)?;
    }
    Some(v)
}

pub(super) fn to_cell(v: Option<&Value>) -> Cell<'_> {
    match v {
        None | Some(Value::Null) => Cell::Null,
        Some(Value::String(s)) if s.is_empty() => Cell::Null,
        Some(Value::String(s)) => Cell::Str(Cow::Borrowed(s)),
        Some(Value::Bool(b)) => Cell::Bool(*b),
        Some(Value::Number(n)) => match n.as_i64() {
            Some(i) => Cell::Int(i),
            None => Cell::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        Some(other) => Cell::Str(Cow::Owned(other.to_string())),
    }
}

/// An identity call (Segment `identify`/`alias`, PostHog `$identify` and the like) as a
/// funnel row: no event of its own, only the link between the ids it is added with and
/// its message id for deduplication.
pub(super) fn identity_event(ts: crate::input::Millis, message: Option<u128>) -> FunnelEvent {
    FunnelEvent {
        ts,
        event: NONE,
        user: NONE,
        anon: NONE,
        cohort: 0,
        platform: NONE,
        utm_source: NONE,
        utm_medium: NONE,
        revenue_minor: 0,
        currency: NONE,
        user_agent: NONE,
        page_url: NONE,
        provider: NONE,
        source: 0,
        flags: FLAG_IDENTITY,
        message,
    }
}

/// Reads a Segment export into `b`.
pub(crate) fn read(
    path: &Path,
    on_error: OnError,
    symbols: &mut Symbols,
    b: &mut FunnelBuilder,
) -> Result<SegmentStats, InputError> {
    read_messages(path, on_error, |obj| row(obj, symbols, b))
}

/// Reads an NDJSON export one message per line, handing each JSON object to `row`;
/// a line that is not one is an error of column `*` (or a counted skip).
pub(super) fn read_messages(
    path: &Path,
    on_error: OnError,
    mut row: impl FnMut(&Map<String, Value>) -> Result<(), RowProblem>,
) -> Result<SegmentStats, InputError> {
    let mut reader = BufReader::with_capacity(1 << 20, open_text(path, false)?);
    let mut stats = ReadStats {
        present: vec![false; FUNNEL_COLUMNS.len()],
        ..Default::default()
    };
    let mut has_source = false;
    let mut line = String::new();
    let mut line_no = 0u64;
    loop {
        line.clear();
        let n = reader
            .read_line(&mut line)
            .map_err(|e| InputError::file(path, read_error(&e, line_no + 1)))?;
        if n == 0 {
            break;
        }
        line_no += 1;
        let text = if line_no == 1 {
            line.trim_start_matches('\u{feff}')
        } else {
            &line
        }
        .trim();
        if text.is_empty() {
            continue;
        }
        let result = match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(obj)) => {
                has_source |= at(&obj, "properties.source").is_some_and(|v| !v.is_null());
                row(&obj)
            }
            Ok(_) => Err(RowProblem::new("*", "not a JSON object")),
            Err(e) => Err(RowProblem::new("*", format!("not a JSON object: {e}"))),
        };
        handle_row(result, path, RowLoc::Line(line_no), on_error, &mut stats)?;
    }
    if line_no == 0 || stats.rows + stats.skipped == 0 {
        return Err(InputError::file(path, "the file holds no JSON rows"));
    }
    Ok(SegmentStats {
        rows: stats.rows,
        skipped: stats.skipped,
        first_skip: stats.first_skip,
        has_source,
    })
}

/// One Segment call.
fn row(
    obj: &Map<String, Value>,
    symbols: &mut Symbols,
    b: &mut FunnelBuilder,
) -> Result<(), RowProblem> {
    let kind = match obj.get("type") {
        Some(Value::String(s)) => s.as_str(),
        Some(Value::Null) | None => {
            return Err(RowProblem::new("type", "missing required value"));
        }
        Some(other) => {
            return Err(RowProblem::new(
                "type",
                format!("{other} is not a Segment call type"),
            ));
        }
    };
    match kind {
        "track" | "page" | "screen" => {
            let mut cells: [Cell; 18] =
                std::array::from_fn(|i| to_cell(at(obj, SEGMENT_FIELDS[i])));
            if kind != "track" {
                cells[1] = Cell::Str(Cow::Borrowed("visit"));
            }
            let d = decode_funnel(&cells, symbols)
                .map_err(|(i, p)| RowProblem::new(SEGMENT_FIELDS[i], p))?;
            b.add(&d);
            Ok(())
        }
        "identify" | "group" | "alias" => {
            let ts = cell::ts(&to_cell(obj.get("timestamp")))
                .map_err(|p| RowProblem::new("timestamp", p))?;
            let text = |field: &str| cell::opt_text(&to_cell(obj.get(field)));
            let user = text("userId");
            let mut anon = None;
            if kind == "alias" {
                anon = text("previousId");
            }
            if anon.is_none() {
                anon = text("anonymousId");
            }
            let message = text("messageId").map(|t| fingerprint(&t));
            let event = identity_event(ts, message);
            b.add(&Decoded {
                event,
                user: user.map(Cow::Owned),
                anon: anon.map(Cow::Owned),
            });
            Ok(())
        }
        other => Err(RowProblem::new(
            "type",
            format!("`{other}` is not one of track, page, screen, identify, group, alias"),
        )),
    }
}
