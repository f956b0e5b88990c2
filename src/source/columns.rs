//! What each column of the dataset format means, for people: one entry per stream and
//! column (type, unit, meaning), beside the column specs the readers ask for
//! ([`super::read`]'s `*_COLUMNS` and the analytics layer's `FUNNEL_COLUMNS` and
//! `LEDGER_COLUMNS`), and the closed value lists the decoders check and name in their
//! errors. `rehearse schema` prints these entries joined with the specs (which say
//! required or optional), and `docs/dataset-format.md` is their long form; a test in
//! `app::schema` holds the entries and the specs to the same columns.

use crate::input::Stream;
use ColumnType::{Boolean, Integer, Json, Number, OneOf, Text, Timestamp};
use Stream::{Funnel, Infra, Ledger, Logs, Pages, Probes, Requests, Security};

/// The `cohort` values (requests, infra, funnel).
pub const COHORTS: &str = "canary, baseline";
/// The `source` values (requests, funnel).
pub const SOURCES: &str = "real, synthetic";
/// The `kind` values of `security`.
pub const SECURITY_KINDS: &str = "waf_block, auth_failure, rate_limited";
/// The `kind` values of `pages`.
pub const PAGE_KINDS: &str = "seo, api, app";
/// The `kind` values of `ledger`.
pub const LEDGER_KINDS: &str = "booking, payout";

/// The type of a column's values, as the decoders read them (`src/source/cell.rs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColumnType {
    /// RFC 3339 with an offset, an integer of epoch milliseconds, or a timestamp column.
    Timestamp,
    /// Any text; numbers written where text is expected are read as their text.
    Text,
    /// A whole number (`200.0` is accepted as 200).
    Integer,
    /// A finite number (decimal text, or an integer or float column).
    Number,
    /// `true`/`false` in any case, `1`/`0`, or a boolean column.
    Boolean,
    /// JSON text (in NDJSON, a nested object or array as written).
    Json,
    /// One value of a closed list, lower case as listed (comma separated).
    OneOf(&'static str),
}

impl ColumnType {
    /// The type's name: `timestamp`, `text`, ..., `enum` for a closed list.
    pub fn name(self) -> &'static str {
        match self {
            ColumnType::Timestamp => "timestamp",
            ColumnType::Text => "text",
            ColumnType::Integer => "integer",
            ColumnType::Number => "number",
            ColumnType::Boolean => "boolean",
            ColumnType::Json => "json",
            ColumnType::OneOf(_) => "enum",
        }
    }

    /// The allowed values of a closed list (none for the other types).
    pub fn values(self) -> Vec<&'static str> {
        match self {
            ColumnType::OneOf(list) => list.split(", ").collect(),
            _ => Vec::new(),
        }
    }
}

/// One column of one stream, described.
#[derive(Clone, Copy, Debug)]
pub struct ColumnDoc {
    pub stream: Stream,
    pub name: &'static str,
    pub ty: ColumnType,
    /// The unit of the values; empty when they have none.
    pub unit: &'static str,
    /// What the column means and what an absent value means, in one line.
    pub meaning: &'static str,
}

const fn c(
    stream: Stream,
    name: &'static str,
    ty: ColumnType,
    unit: &'static str,
    meaning: &'static str,
) -> ColumnDoc {
    ColumnDoc {
        stream,
        name,
        ty,
        unit,
        meaning,
    }
}

const UTC: &str = "UTC, ms";
const HTTP: &str = "HTTP status";
const MS: &str = "ms";
const FRACTION: &str = "fraction 0..1";
const ISO4217: &str = "ISO 4217 code";

/// Every column of every stream, in the order of `docs/dataset-format.md` (one line per
/// column, so the table reads as one).
#[rustfmt::skip]
pub const COLUMN_DOCS: &[ColumnDoc] = &[
    // requests
    c(Requests, "ts", Timestamp, UTC, "when the request was served"),
    c(Requests, "endpoint", Text, "", "request path; the policy's outlier prefixes match its start"),
    c(Requests, "cohort", OneOf(COHORTS), "", "which build served it; request gates read canary requests"),
    c(Requests, "source", OneOf(SOURCES), "", "a real user or a synthetic client; request gates read real requests"),
    c(Requests, "status", Integer, HTTP, "100..=599; 5xx and 4xx other than 401/403 are errors"),
    c(Requests, "latency_ms", Number, MS, "response time, >= 0, read to the microsecond (half-up)"),
    // probes
    c(Probes, "ts", Timestamp, UTC, "when the probe ran"),
    c(Probes, "target", Text, "", "what was probed, as the policy's probes.targets name it (ttv, security)"),
    c(Probes, "status", Integer, HTTP, "100..=599; anything but 200 is a failed probe"),
    c(Probes, "latency_ms", Number, MS, "probe response time, >= 0; checked, read by no gate"),
    c(Probes, "payload", Json, "", "response body, checked against the target's schema when the policy names one; absent: not checked"),
    c(Probes, "schema_ok", Boolean, "", "upstream schema verdict, used when the payload is not checked here: false fails the probe; absent: passes"),
    // infra
    c(Infra, "ts", Timestamp, UTC, "when the sample was taken"),
    c(Infra, "cpu", Number, FRACTION, "CPU in use on the host"),
    c(Infra, "mem_free", Number, FRACTION, "memory free on the host"),
    c(Infra, "cohort", OneOf(COHORTS), "", "the host's build; with the column, infra gates read canary samples only (absent: not canary)"),
    c(Infra, "db_p95_ms", Number, MS, "database p95 latency; without the column db_latency is not evaluated; absent: no sample"),
    c(Infra, "queue_depth", Number, "items", "queue length; without the column queue_backlog is not evaluated; absent: no sample"),
    // security
    c(Security, "ts", Timestamp, UTC, "when the event happened (the hour before T0 is the baseline)"),
    c(Security, "kind", OneOf(SECURITY_KINDS), "", "what happened; rate_limited is read and counted by no gate"),
    // logs
    c(Logs, "ts", Timestamp, UTC, "when the line was logged"),
    c(Logs, "message", Text, "", "the log line, scanned for PII; must not be empty"),
    // pages
    c(Pages, "ts", Timestamp, UTC, "when the page was checked"),
    c(Pages, "path", Text, "", "the page's path"),
    c(Pages, "kind", OneOf(PAGE_KINDS), "", "seo pages must be indexable; api responses may skip caching"),
    c(Pages, "status", Integer, HTTP, "100..=599; an seo page answering other than 200 is not indexable"),
    c(Pages, "cache_control", Text, "", "Cache-Control header; no-cache or no-store on seo or app pages breaches cache_header_scope"),
    c(Pages, "test_mode", Boolean, "", "true exempts the response from cache_header_scope; absent: false"),
    c(Pages, "canonical", Text, "", "canonical URL; with the column, an seo page without one is not indexable"),
    c(Pages, "robots", Text, "", "robots directives; noindex or none makes an seo page not indexable; absent: none"),
    c(Pages, "in_sitemap", Boolean, "", "false: an seo page missing from the sitemap is not indexable; absent: not judged"),
    c(Pages, "prerendered", Boolean, "", "false: an seo page not prerendered is not indexable; absent: not judged"),
    // funnel
    c(Funnel, "ts", Timestamp, UTC, "when the event happened"),
    c(Funnel, "event", Text, "", "event name; visit, search, shortlist, application_start, credit_purchase are the funnel steps"),
    c(Funnel, "user_id", Text, "", "the signed-in user (the person); a row needs user_id or anonymous_id"),
    c(Funnel, "anonymous_id", Text, "", "device or session id, stitched to a user_id by the earliest event holding both"),
    c(Funnel, "cohort", OneOf(COHORTS), "", "the build the event came from; absent: null cohort (not canary)"),
    c(Funnel, "platform", Text, "", "e.g. desktop, mobile; any value is its own group; absent: null group"),
    c(Funnel, "utm_source", Text, "", "attribution source; a person without one is (direct)"),
    c(Funnel, "utm_medium", Text, "", "campaign medium; read, used by no KPI"),
    c(Funnel, "utm_campaign", Text, "", "campaign name; read, used by no KPI"),
    c(Funnel, "revenue", Number, "major units of currency", "amount of a credit_purchase, exact decimal; absent: no revenue"),
    c(Funnel, "currency", Text, ISO4217, "the revenue's currency (its exponent gives the minor units)"),
    c(Funnel, "order_id", Text, "", "order reference; read, used by no KPI"),
    c(Funnel, "test_mode", Boolean, "", "true marks the event synthetic; absent: false"),
    c(Funnel, "user_agent", Text, "", "a synthetic marker in it (SyntheticCanary, DatadogSynthetics) marks the event synthetic"),
    c(Funnel, "page_url", Text, "", "e2e=1 in its query string marks the event synthetic"),
    c(Funnel, "provider_id", Text, "", "the B2B provider of provider events (provider_signup, provider_onboarded, booking)"),
    c(Funnel, "message_id", Text, "", "delivery id; a row repeating an earlier one is a duplicate, dropped and counted"),
    c(Funnel, "source", OneOf(SOURCES), "", "ground truth of generated data; with the column, analytics_exclusion checks for leaks"),
    // ledger
    c(Ledger, "ts", Timestamp, UTC, "when the line was booked"),
    c(Ledger, "txn_id", Text, "", "the transaction the line belongs to"),
    c(Ledger, "entry_id", Text, "", "the line's own id; must not be empty"),
    c(Ledger, "account", Text, "", "cash, platform_fees or provider:<provider_id>"),
    c(Ledger, "debit_minor", Integer, "minor units of currency", "debit amount, may be negative; absent: 0 (not both amounts absent)"),
    c(Ledger, "credit_minor", Integer, "minor units of currency", "credit amount, may be negative; absent: 0 (not both amounts absent)"),
    c(Ledger, "currency", Text, ISO4217, "the amounts' currency"),
    c(Ledger, "kind", OneOf(LEDGER_KINDS), "", "the transaction's kind is its earliest line's"),
    c(Ledger, "order_id", Text, "", "the booking's order; carried into the ledger tables"),
    c(Ledger, "provider_id", Text, "", "the booking's provider (the provider flow's first booking)"),
    c(Ledger, "payout_id", Text, "", "payout reference; one id in two payout transactions is a duplicate payout"),
];

/// The description of column `name` of `stream`, if it has one.
pub fn doc(stream: Stream, name: &str) -> Option<&'static ColumnDoc> {
    COLUMN_DOCS
        .iter()
        .find(|d| d.stream == stream && d.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::{Cohort, LedgerKind, PageKind, SecurityKind, Source};

    /// Every listed value is one the decoder's parser accepts.
    #[test]
    fn closed_lists_are_what_the_decoders_accept() {
        let all = |list: &str, parse: &dyn Fn(&str) -> bool| list.split(", ").all(parse);
        assert!(all(COHORTS, &|v| Cohort::parse(v).is_some()));
        assert!(all(SOURCES, &|v| Source::parse(v).is_some()));
        assert!(all(SECURITY_KINDS, &|v| SecurityKind::parse(v).is_some()));
        assert!(all(PAGE_KINDS, &|v| PageKind::parse(v).is_some()));
        assert!(all(LEDGER_KINDS, &|v| LedgerKind::parse(v).is_some()));
    }

    #[test]
    fn one_entry_per_column() {
        for (i, a) in COLUMN_DOCS.iter().enumerate() {
            assert!(
                !a.meaning.is_empty(),
                "{:?}.{} has no meaning",
                a.stream,
                a.name
            );
            for b in &COLUMN_DOCS[i + 1..] {
                assert!(
                    a.stream != b.stream || a.name != b.name,
                    "{:?}.{} is described twice",
                    a.stream,
                    a.name
                );
            }
        }
    }
}
