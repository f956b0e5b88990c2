//! PostHog event exports read directly as the `funnel` stream. A funnel NDJSON file
//! whose first row has `event` and `distinct_id` fields (and no Segment `type`) is one,
//! each line a message as the PostHog SDKs send them to `/batch/`. `$pageview` and
//! `$screen` are `visit` events, every other event keeps its name; `$identify` (with
//! `properties.$anon_distinct_id`), `$create_alias` and `$merge_dangerously` (with
//! `properties.alias`) only feed identity stitching, and the person-property calls
//! `$set`, `$set_once` and `$groupidentify` are no events at all; rows repeating an
//! earlier `uuid` are delivery duplicates, dropped and counted. An event's
//! `distinct_id` is its anonymous id, so it is its own person until an identity call
//! links it to a user id. Errors name the PostHog field (`properties.revenue`).

use std::borrow::Cow;
use std::path::Path;

use serde_json::{Map, Value};

use super::data::{Decoded, FunnelBuilder, decode_funnel};
use super::segment::{SegmentStats, at, first_row, identity_event, read_messages, to_cell};
use super::symbols::{Symbols, fingerprint};
use crate::source::cell::{self, Cell};
use crate::source::{InputError, OnError, RowProblem};

/// The PostHog field each funnel column comes from, in `FUNNEL_COLUMNS` order. An
/// event's `distinct_id` fills `anonymous_id` (`user_id` stays empty), which is why it
/// names both.
pub const POSTHOG_FIELDS: [&str; 18] = [
    "timestamp",
    "event",
    "distinct_id",
    "distinct_id",
    "properties.cohort",
    "properties.$device_type",
    "properties.utm_source",
    "properties.utm_medium",
    "properties.utm_campaign",
    "properties.revenue",
    "properties.currency",
    "properties.order_id",
    "properties.test_mode",
    "properties.$raw_user_agent",
    "properties.$current_url",
    "properties.provider_id",
    "uuid",
    "properties.source",
];

/// Whether an NDJSON file is a PostHog export: its first non-blank line is a JSON
/// object with `event` and `distinct_id` fields and no Segment `type` field.
pub fn is_posthog(path: &Path) -> Result<bool, InputError> {
    Ok(first_row(path)?.is_some_and(|m| {
        m.contains_key("event") && m.contains_key("distinct_id") && !m.contains_key("type")
    }))
}

/// Reads a PostHog export into `b`.
pub(crate) fn read(
    path: &Path,
    on_error: OnError,
    symbols: &mut Symbols,
    b: &mut FunnelBuilder,
) -> Result<SegmentStats, InputError> {
    read_messages(path, on_error, |obj| row(obj, symbols, b))
}

/// A required text field of an identity call.
fn required_text(obj: &Map<String, Value>, field: &str) -> Result<String, RowProblem> {
    match cell::opt_text(&to_cell(at(obj, field))) {
        Some(t) => Ok(t),
        None => Err(RowProblem::new(field, "missing required value")),
    }
}

/// One PostHog message.
fn row(
    obj: &Map<String, Value>,
    symbols: &mut Symbols,
    b: &mut FunnelBuilder,
) -> Result<(), RowProblem> {
    let name = match obj.get("event") {
        Some(Value::String(s)) if !s.is_empty() => s.as_str(),
        Some(Value::Null) | None => {
            return Err(RowProblem::new("event", "missing required value"));
        }
        Some(Value::String(_)) => {
            return Err(RowProblem::new("event", "missing required value"));
        }
        Some(other) => {
            return Err(RowProblem::new(
                "event",
                format!("{other} is not a PostHog event name"),
            ));
        }
    };
    // Identity calls: (user id, anonymous id) linked, or nothing for person-property calls.
    let link = match name {
        "$identify" => Some((
            required_text(obj, "distinct_id")?,
            cell::opt_text(&to_cell(at(obj, "properties.$anon_distinct_id"))),
        )),
        "$create_alias" | "$merge_dangerously" => Some((
            required_text(obj, "distinct_id")?,
            Some(required_text(obj, "properties.alias")?),
        )),
        "$set" | "$set_once" | "$groupidentify" => Some((String::new(), None)),
        _ => None,
    };
    if let Some((user, anon)) = link {
        let ts = cell::ts(&to_cell(obj.get("timestamp")))
            .map_err(|p| RowProblem::new("timestamp", p))?;
        let message = cell::opt_text(&to_cell(obj.get("uuid"))).map(|t| fingerprint(&t));
        let event = identity_event(ts, message);
        // A call without an anonymous id, or linking an id to itself, links nothing:
        // it only takes its `uuid`.
        let (user, anon) = match anon {
            Some(a) if !user.is_empty() && a != user => {
                (Some(Cow::Owned(user)), Some(Cow::Owned(a)))
            }
            _ => (None, None),
        };
        b.add(&Decoded { event, user, anon });
        return Ok(());
    }
    let mut cells: [Cell; 18] = std::array::from_fn(|i| match i {
        2 => Cell::Null,
        _ => to_cell(at(obj, POSTHOG_FIELDS[i])),
    });
    if matches!(name, "$pageview" | "$screen") {
        cells[1] = Cell::Str(Cow::Borrowed("visit"));
    }
    let d =
        decode_funnel(&cells, symbols).map_err(|(i, p)| RowProblem::new(POSTHOG_FIELDS[i], p))?;
    b.add(&d);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytics::data::AnalyticsData;
    use crate::analytics::data::FLAG_IDENTITY;
    use crate::analytics::symbols::NONE;
    use crate::source::{Encoding, OnError};

    fn load(lines: &str) -> Result<AnalyticsData, InputError> {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("funnel.ndjson");
        std::fs::write(&p, lines).unwrap();
        assert!(is_posthog(&p).unwrap());
        AnalyticsData::load_streams(Some((&p, Encoding::Ndjson)), None, OnError::Fail)
            .map(|d| d.unwrap())
    }

    #[test]
    fn pageviews_are_visits_identify_stitches_and_uuid_dedups() {
        let d = load(concat!(
            r#"{"event":"$pageview","distinct_id":"a1","timestamp":"2026-03-02T10:00:00+00:00","uuid":"u1","properties":{"$current_url":"https://shop.test/","utm_source":"google","$device_type":"mobile"}}"#,
            "\n",
            r#"{"event":"$identify","distinct_id":"usr-1","timestamp":"2026-03-02T10:00:30+00:00","uuid":"u2","properties":{"$anon_distinct_id":"a1"}}"#,
            "\n",
            r#"{"event":"$set","distinct_id":"usr-1","timestamp":"2026-03-02T10:00:31+00:00","uuid":"u3","$set":{"plan":"pro"}}"#,
            "\n",
            r#"{"event":"credit_purchase","distinct_id":"usr-1","timestamp":"2026-03-02T10:00:50+00:00","uuid":"u4","properties":{"revenue":49.5,"currency":"USD"}}"#,
            "\n",
            r#"{"event":"credit_purchase","distinct_id":"usr-1","timestamp":"2026-03-02T10:00:50+00:00","uuid":"u4","properties":{"revenue":49.5,"currency":"USD"}}"#,
            "\n",
        ))
        .unwrap();
        let f = d.funnel.as_ref().unwrap();
        assert_eq!(d.inputs[0].duplicates, 1);
        assert!(d.inputs[0].posthog);
        assert_eq!(f.ts.len(), 4);
        assert_eq!(d.symbols.name(f.event[0]), "visit");
        assert_eq!(d.symbols.name(f.page_url[0]), "https://shop.test/");
        assert_eq!(d.symbols.name(f.utm_source[0]), "google");
        assert_eq!(d.symbols.name(f.platform[0]), "mobile");
        assert_eq!(d.ids.name(f.anon[0]), "a1");
        // `$identify` links a1 to usr-1; `$set` links nothing.
        assert_eq!(f.flags[1] & FLAG_IDENTITY, FLAG_IDENTITY);
        assert_eq!(d.ids.name(f.user[1]), "usr-1");
        assert_eq!(d.ids.name(f.anon[1]), "a1");
        assert_eq!(f.flags[2] & FLAG_IDENTITY, FLAG_IDENTITY);
        assert_eq!((f.user[2], f.anon[2]), (NONE, NONE));
        assert_eq!(f.revenue_minor[3], 4950);
        let id = super::super::identity::stitch(f, f.ts.len(), d.ids.len());
        assert_eq!(id.stitched_anonymous_ids, 1);
        assert_eq!(id.person_of[0], id.person_of[3]);
    }

    #[test]
    fn alias_links_the_alias_to_the_distinct_id() {
        let d = load(concat!(
            r#"{"event":"$create_alias","distinct_id":"usr-2","timestamp":"2026-03-02T10:00:00Z","properties":{"distinct_id":"usr-2","alias":"a2"}}"#,
            "\n",
        ))
        .unwrap();
        let f = d.funnel.as_ref().unwrap();
        assert_eq!(d.ids.name(f.user[0]), "usr-2");
        assert_eq!(d.ids.name(f.anon[0]), "a2");
        // An `$identify` of an id already identified links nothing.
        let d = load(concat!(
            r#"{"event":"$identify","distinct_id":"usr-3","timestamp":"2026-03-02T10:00:00Z","properties":{"$anon_distinct_id":"usr-3"}}"#,
            "\n",
        ))
        .unwrap();
        let f = d.funnel.as_ref().unwrap();
        assert_eq!((f.user[0], f.anon[0]), (NONE, NONE));
    }

    #[test]
    fn bad_rows_name_the_posthog_field() {
        let cases = [
            (
                r#"{"event":"search","distinct_id":null,"timestamp":"2026-03-02T10:00:00Z"}"#,
                "distinct_id",
            ),
            (
                r#"{"event":"credit_purchase","distinct_id":"a","timestamp":"2026-03-02T10:00:00Z","properties":{"revenue":"lots","currency":"USD"}}"#,
                "properties.revenue",
            ),
            (
                r#"{"event":"$create_alias","distinct_id":"a","timestamp":"2026-03-02T10:00:00Z","properties":{}}"#,
                "properties.alias",
            ),
            (
                r#"{"event":"search","distinct_id":"a","timestamp":"yesterday"}"#,
                "timestamp",
            ),
            (
                r#"{"event":7,"distinct_id":"a","timestamp":"2026-03-02T10:00:00Z"}"#,
                "event",
            ),
        ];
        for (line, field) in cases {
            let first =
                r#"{"event":"search","distinct_id":"ok","timestamp":"2026-03-02T10:00:00Z"}"#;
            let e = load(&format!("{first}\n{line}\n")).unwrap_err().to_string();
            assert!(e.contains("line 2"), "{e}");
            assert!(e.contains(&format!("`{field}`")), "{field}: {e}");
        }
    }

    #[test]
    fn segment_rows_are_not_posthog() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("funnel.ndjson");
        std::fs::write(
            &p,
            r#"{"type":"track","event":"search","anonymousId":"a","distinct_id":"x"}"#,
        )
        .unwrap();
        assert!(!is_posthog(&p).unwrap());
    }
}
