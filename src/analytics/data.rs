//! Reading the `funnel` and `ledger` streams into columnar, interned event tables.
//! Rows go through the project's row-exact readers (`crate::source`), so a bad value is
//! an error naming the file, the row and the column, or a counted skip under
//! `--on-error skip`; a Segment-spec NDJSON export is recognised by its first row and
//! read by [`super::segment`], a PostHog one by [`super::posthog`]. Both tables end sorted by timestamp, file order on ties,
//! which is the order every rule of the contract takes events in.

use std::borrow::Cow;
use std::path::Path;

use super::money::{Decimal, iso4217_exponent};

use super::symbols::{IdLog, MessageLog, NONE, Names, Symbols, fingerprint};
use crate::input::{Cohort, Dataset, FunnelRow, LedgerKind, LedgerRow, Millis, Source, Stream};
use crate::source::cell::{self, Cell};
use crate::source::columns::{COHORTS, LEDGER_KINDS, SOURCES};
use crate::source::dataset::DatasetDir;
use crate::source::{ColumnSpec, Encoding, InputError, OnError, RowProblem, open_table};

/// The B2C funnel steps, in order; their symbols are 0..5 in every [`AnalyticsData`].
pub const STEP_NAMES: [&str; 5] = [
    "visit",
    "search",
    "shortlist",
    "application_start",
    "credit_purchase",
];
/// The step index of `credit_purchase`.
pub const PURCHASE: u32 = 4;

/// `cohort` codes.
pub const COHORT_NONE: u8 = 0;
pub const COHORT_CANARY: u8 = 1;
pub const COHORT_BASELINE: u8 = 2;
/// `source` codes.
pub const SOURCE_NONE: u8 = 0;
pub const SOURCE_REAL: u8 = 1;
pub const SOURCE_SYNTHETIC: u8 = 2;
/// Event flags.
pub const FLAG_TEST_MODE: u8 = 1;
/// The event has a `revenue` value (in `revenue_minor` when it also has a currency).
pub const FLAG_REVENUE: u8 = 2;
/// A Segment `identify`, `group` or `alias` call: identity only, not an event.
pub const FLAG_IDENTITY: u8 = 4;

/// Ledger `kind` codes.
pub const KIND_BOOKING: u8 = 0;
pub const KIND_PAYOUT: u8 = 1;

/// The columns of the `funnel` stream, in the order decoders see them.
pub const FUNNEL_COLUMNS: [ColumnSpec; 18] = [
    ColumnSpec::required("ts"),
    ColumnSpec::required("event"),
    ColumnSpec::optional("user_id"),
    ColumnSpec::optional("anonymous_id"),
    ColumnSpec::optional("cohort"),
    ColumnSpec::optional("platform"),
    ColumnSpec::optional("utm_source"),
    ColumnSpec::optional("utm_medium"),
    ColumnSpec::optional("utm_campaign"),
    ColumnSpec::optional("revenue"),
    ColumnSpec::optional("currency"),
    ColumnSpec::optional("order_id"),
    ColumnSpec::optional("test_mode"),
    ColumnSpec::optional("user_agent"),
    ColumnSpec::optional("page_url"),
    ColumnSpec::optional("provider_id"),
    ColumnSpec::optional("message_id"),
    ColumnSpec::optional("source"),
];
/// Index of `source` in [`FUNNEL_COLUMNS`].
pub const SOURCE_COLUMN: usize = 17;

/// The columns of the `ledger` stream.
pub const LEDGER_COLUMNS: [ColumnSpec; 11] = [
    ColumnSpec::required("ts"),
    ColumnSpec::required("txn_id"),
    ColumnSpec::required("entry_id"),
    ColumnSpec::required("account"),
    ColumnSpec::required("debit_minor"),
    ColumnSpec::required("credit_minor"),
    ColumnSpec::required("currency"),
    ColumnSpec::required("kind"),
    ColumnSpec::optional("order_id"),
    ColumnSpec::optional("provider_id"),
    ColumnSpec::optional("payout_id"),
];

/// Funnel events, one entry per event in every column, sorted by `ts` (file order on
/// ties). String columns hold symbols of [`AnalyticsData::symbols`] ([`NONE`] when
/// absent).
#[derive(Clone, Debug, Default)]
pub struct FunnelEvents {
    pub ts: Vec<Millis>,
    /// The event name; symbols 0..5 are the funnel steps ([`STEP_NAMES`]).
    pub event: Vec<u32>,
    pub user: Vec<u32>,
    /// The anonymous id (a Segment `alias` call's `previousId`).
    pub anon: Vec<u32>,
    pub cohort: Vec<u8>,
    pub platform: Vec<u32>,
    pub utm_source: Vec<u32>,
    /// The `utm_medium` symbol ([`NONE`] when absent).
    pub utm_medium: Vec<u32>,
    /// Revenue in minor units of `currency` (0 without revenue or currency).
    pub revenue_minor: Vec<i64>,
    pub currency: Vec<u32>,
    pub user_agent: Vec<u32>,
    pub page_url: Vec<u32>,
    pub provider: Vec<u32>,
    pub source: Vec<u8>,
    pub flags: Vec<u8>,
}

/// One decoded funnel row.
#[derive(Clone, Copy, Debug)]
pub struct FunnelEvent {
    pub ts: Millis,
    pub event: u32,
    pub user: u32,
    pub anon: u32,
    pub cohort: u8,
    pub platform: u32,
    pub utm_source: u32,
    pub utm_medium: u32,
    pub revenue_minor: i64,
    pub currency: u32,
    pub user_agent: u32,
    pub page_url: u32,
    pub provider: u32,
    pub source: u8,
    pub flags: u8,
    /// The fingerprint of `message_id`, if any.
    pub message: Option<u128>,
}

impl FunnelEvents {
    pub fn len(&self) -> usize {
        self.ts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ts.is_empty()
    }

    pub fn push(&mut self, e: &FunnelEvent) {
        self.ts.push(e.ts);
        self.event.push(e.event);
        self.user.push(e.user);
        self.anon.push(e.anon);
        self.cohort.push(e.cohort);
        self.platform.push(e.platform);
        self.utm_source.push(e.utm_source);
        self.utm_medium.push(e.utm_medium);
        self.revenue_minor.push(e.revenue_minor);
        self.currency.push(e.currency);
        self.user_agent.push(e.user_agent);
        self.page_url.push(e.page_url);
        self.provider.push(e.provider);
        self.source.push(e.source);
        self.flags.push(e.flags);
    }

    /// Keeps the first `n` rows of every column.
    pub(crate) fn truncate(&mut self, n: usize) {
        self.ts.truncate(n);
        self.event.truncate(n);
        self.user.truncate(n);
        self.anon.truncate(n);
        self.cohort.truncate(n);
        self.platform.truncate(n);
        self.utm_source.truncate(n);
        self.utm_medium.truncate(n);
        self.revenue_minor.truncate(n);
        self.currency.truncate(n);
        self.user_agent.truncate(n);
        self.page_url.truncate(n);
        self.provider.truncate(n);
        self.source.truncate(n);
        self.flags.truncate(n);
    }

    fn reserve(&mut self, n: usize) {
        self.ts.reserve(n);
        self.event.reserve(n);
        self.user.reserve(n);
        self.anon.reserve(n);
        self.cohort.reserve(n);
        self.platform.reserve(n);
        self.utm_source.reserve(n);
        self.utm_medium.reserve(n);
        self.revenue_minor.reserve(n);
        self.currency.reserve(n);
        self.user_agent.reserve(n);
        self.page_url.reserve(n);
        self.provider.reserve(n);
        self.source.reserve(n);
        self.flags.reserve(n);
    }

    /// Drops the rows marked in `drop`.
    fn retain(&mut self, drop: &[bool]) {
        fn keep<T: Copy>(v: &mut Vec<T>, drop: &[bool]) {
            let mut i = 0;
            v.retain(|_| {
                i += 1;
                !drop[i - 1]
            });
        }
        keep(&mut self.ts, drop);
        keep(&mut self.event, drop);
        keep(&mut self.user, drop);
        keep(&mut self.anon, drop);
        keep(&mut self.cohort, drop);
        keep(&mut self.platform, drop);
        keep(&mut self.utm_source, drop);
        keep(&mut self.utm_medium, drop);
        keep(&mut self.revenue_minor, drop);
        keep(&mut self.currency, drop);
        keep(&mut self.user_agent, drop);
        keep(&mut self.page_url, drop);
        keep(&mut self.provider, drop);
        keep(&mut self.source, drop);
        keep(&mut self.flags, drop);
    }

    /// Sorts by `ts`, stably (file order on ties).
    fn sort(&mut self) {
        if let Some(perm) = sort_permutation(&self.ts) {
            permute(&mut self.ts, &perm);
            permute(&mut self.event, &perm);
            permute(&mut self.user, &perm);
            permute(&mut self.anon, &perm);
            permute(&mut self.cohort, &perm);
            permute(&mut self.platform, &perm);
            permute(&mut self.utm_source, &perm);
            permute(&mut self.utm_medium, &perm);
            permute(&mut self.revenue_minor, &perm);
            permute(&mut self.currency, &perm);
            permute(&mut self.user_agent, &perm);
            permute(&mut self.page_url, &perm);
            permute(&mut self.provider, &perm);
            permute(&mut self.source, &perm);
            permute(&mut self.flags, &perm);
        }
    }

    /// How many events have `ts <= end` (they are the first ones).
    pub fn count_until(&self, end: Millis) -> usize {
        self.ts.partition_point(|&t| t <= end)
    }
}

/// Ledger lines, sorted by `ts` (file order on ties).
#[derive(Clone, Debug, Default)]
pub struct LedgerLines {
    pub ts: Vec<Millis>,
    pub txn: Vec<u32>,
    pub account: Vec<u32>,
    pub debit: Vec<i64>,
    pub credit: Vec<i64>,
    pub currency: Vec<u32>,
    pub kind: Vec<u8>,
    pub order: Vec<u32>,
    pub provider: Vec<u32>,
    pub payout: Vec<u32>,
}

/// One decoded ledger row.
#[derive(Clone, Copy, Debug)]
pub struct LedgerLine {
    pub ts: Millis,
    pub txn: u32,
    pub account: u32,
    pub debit: i64,
    pub credit: i64,
    pub currency: u32,
    pub kind: u8,
    pub order: u32,
    pub provider: u32,
    pub payout: u32,
}

impl LedgerLines {
    pub fn len(&self) -> usize {
        self.ts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ts.is_empty()
    }

    pub fn push(&mut self, l: &LedgerLine) {
        self.ts.push(l.ts);
        self.txn.push(l.txn);
        self.account.push(l.account);
        self.debit.push(l.debit);
        self.credit.push(l.credit);
        self.currency.push(l.currency);
        self.kind.push(l.kind);
        self.order.push(l.order);
        self.provider.push(l.provider);
        self.payout.push(l.payout);
    }

    fn sort(&mut self) {
        if let Some(perm) = sort_permutation(&self.ts) {
            permute(&mut self.ts, &perm);
            permute(&mut self.txn, &perm);
            permute(&mut self.account, &perm);
            permute(&mut self.debit, &perm);
            permute(&mut self.credit, &perm);
            permute(&mut self.currency, &perm);
            permute(&mut self.kind, &perm);
            permute(&mut self.order, &perm);
            permute(&mut self.provider, &perm);
            permute(&mut self.payout, &perm);
        }
    }

    /// How many lines have `ts <= end` (they are the first ones).
    pub fn count_until(&self, end: Millis) -> usize {
        self.ts.partition_point(|&t| t <= end)
    }
}

/// The stable order of `ts`, or `None` when it is sorted already.
fn sort_permutation(ts: &[Millis]) -> Option<Vec<u32>> {
    if ts.windows(2).all(|w| w[0] <= w[1]) {
        return None;
    }
    let mut perm: Vec<u32> = (0..ts.len() as u32).collect();
    perm.sort_by_key(|&i| ts[i as usize]);
    Some(perm)
}

fn permute<T: Copy>(v: &mut Vec<T>, perm: &[u32]) {
    let out: Vec<T> = perm.iter().map(|&i| v[i as usize]).collect();
    *v = out;
}

/// What was read from one analytics stream file.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct AnalyticsInput {
    pub stream: String,
    pub file: String,
    /// Rows accepted (delivery duplicates included).
    pub rows: u64,
    /// Rows skipped under `--on-error skip`.
    pub skipped: u64,
    /// The first skipped row's error.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_skip: Option<String>,
    /// Rows dropped as delivery duplicates (a `messageId` or PostHog `uuid` seen before).
    pub duplicates: u64,
    /// Whether the file was read as a Segment-spec export.
    pub segment: bool,
    /// Whether the file was read as a PostHog export (omitted when not).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub posthog: bool,
}

/// The analytics streams of a dataset, decoded and sorted.
#[derive(Clone, Debug, Default)]
pub struct AnalyticsData {
    /// Every string but user and anonymous ids: event names, platforms, UTM sources,
    /// currencies, user agents, URLs, provider ids, ledger ids and accounts.
    pub symbols: Symbols,
    /// User and anonymous ids (the `user` and `anon` columns).
    pub ids: Names,
    /// `None` when the dataset has no `funnel` stream.
    pub funnel: Option<FunnelEvents>,
    /// `None` when the dataset has no `ledger` stream.
    pub ledger: Option<LedgerLines>,
    /// Whether the funnel data carries the ground-truth `source` column.
    pub has_source: bool,
    pub inputs: Vec<AnalyticsInput>,
}

/// A decoded funnel row, its ids still as text (they are interned in batches).
#[derive(Debug)]
pub(crate) struct Decoded<'c> {
    pub event: FunnelEvent,
    pub user: Option<Cow<'c, str>>,
    pub anon: Option<Cow<'c, str>>,
}

/// Accumulates funnel rows: ids logged and interned at the end, in parallel
/// ([`IdLog`]); delivery duplicates removed at the end (rows repeating an earlier
/// message id, in file order).
pub(crate) struct FunnelBuilder {
    events: FunnelEvents,
    /// The message fingerprint of every row with a message id.
    messages: MessageLog,
    /// The user and anonymous ids of the rows, not yet interned.
    ids: IdLog,
    /// Scratch space of the logs' batches.
    order: Vec<u32>,
    /// Rows expected in all ([`Self::expect_rows`]); the id log is sized by the first
    /// batch logged, to hold as many ids per row, of the same mean length.
    expected_rows: usize,
}

impl FunnelBuilder {
    pub fn new() -> Self {
        Self {
            events: FunnelEvents::default(),
            messages: MessageLog::new(),
            ids: IdLog::new(),
            order: Vec::new(),
            expected_rows: 0,
        }
    }

    /// Says how many rows this builder will log in all (an estimate; 0 when unknown).
    pub fn expect_rows(&mut self, rows: usize) {
        self.expected_rows = rows;
    }

    /// Makes room for `n` rows.
    pub fn reserve(&mut self, n: usize) {
        self.events.reserve(n);
        self.messages.reserve(n);
    }

    /// Adds a decoded row.
    pub fn add(&mut self, d: &Decoded) {
        let row = self.events.len() as u32;
        self.events.push(&d.event);
        if let Some(m) = d.event.message {
            self.messages.push(row, m);
        }
        if let Some(text) = &d.user {
            self.ids.push(row, false, text);
        }
        if let Some(text) = &d.anon {
            self.ids.push(row, true, text);
        }
    }

    /// The event columns, for a reader that appends a batch of rows column by column
    /// (their `user` and `anon` columns [`NONE`]) and then calls [`Self::log_rows`], or
    /// truncates them back ([`FunnelEvents::truncate`]).
    pub(crate) fn columns(&mut self) -> &mut FunnelEvents {
        &mut self.events
    }

    /// Logs the ids and messages of rows `first..` (appended through
    /// [`Self::columns`]): `each(i)` gives row `first + i`'s user id, anonymous id and
    /// message fingerprint. With those, the same as [`Self::add`] of each row in turn.
    pub(crate) fn log_rows<'a>(
        &mut self,
        first: usize,
        each: impl Fn(usize) -> (Option<&'a str>, Option<&'a str>, Option<u128>),
    ) {
        let n = self.events.len() - first;
        let mut ids: Vec<(u32, bool, &str)> = Vec::with_capacity(2 * n);
        let mut messages: Vec<(u32, u128)> = Vec::with_capacity(n);
        for i in 0..n {
            let row = (first + i) as u32;
            let (user, anon, message) = each(i);
            if let Some(m) = message {
                messages.push((row, m));
            }
            if let Some(text) = user {
                ids.push((row, false, text));
            }
            if let Some(text) = anon {
                ids.push((row, true, text));
            }
        }
        self.messages.push_batch(&messages, &mut self.order);
        if self.expected_rows > 0 && n > 0 {
            // The first batch: the log sized for the rows to come, as it goes.
            let more = self.expected_rows.saturating_sub(first) as f64 / n as f64;
            let bytes: usize = ids.iter().map(|(_, _, t)| t.len()).sum();
            self.ids.reserve(
                (ids.len() as f64 * more) as usize,
                (bytes as f64 * more) as usize,
            );
            self.expected_rows = 0;
        }
        self.ids.push_batch(&ids, &mut self.order);
    }

    /// Appends the rows of `other`, renumbering its symbols through `sym_map` (indexed
    /// by the old symbol; [`NONE`] stays [`NONE`]); its ids join the log.
    pub(crate) fn append(&mut self, other: FunnelBuilder, sym_map: &[u32]) {
        let offset = self.events.len() as u32;
        self.ids.extend(offset, other.ids);
        self.messages.extend(offset, other.messages);
        let o = other.events;
        fn map(v: &mut Vec<u32>, from: Vec<u32>, m: &[u32]) {
            v.extend(
                from.into_iter()
                    .map(|s| if s == NONE { NONE } else { m[s as usize] }),
            );
        }
        let FunnelEvents {
            ts,
            event,
            user,
            anon,
            cohort,
            platform,
            utm_source,
            utm_medium,
            revenue_minor,
            currency,
            user_agent,
            page_url,
            provider,
            source,
            flags,
        } = &mut self.events;
        // Each column on its own: the work is copying and renumbering memory.
        rayon::scope(|sc| {
            sc.spawn(|_| ts.extend(o.ts));
            sc.spawn(|_| map(event, o.event, sym_map));
            // Not interned yet: every id is still NONE.
            sc.spawn(|_| user.extend(o.user));
            sc.spawn(|_| anon.extend(o.anon));
            sc.spawn(|_| map(platform, o.platform, sym_map));
            sc.spawn(|_| map(utm_source, o.utm_source, sym_map));
            sc.spawn(|_| map(utm_medium, o.utm_medium, sym_map));
            sc.spawn(|_| revenue_minor.extend(o.revenue_minor));
            sc.spawn(|_| map(currency, o.currency, sym_map));
            sc.spawn(|_| map(user_agent, o.user_agent, sym_map));
            sc.spawn(|_| map(page_url, o.page_url, sym_map));
            sc.spawn(|_| map(provider, o.provider, sym_map));
            sc.spawn(|_| {
                cohort.extend(o.cohort);
                source.extend(o.source);
                flags.extend(o.flags);
            });
        });
    }

    /// The events, without delivery duplicates, sorted by time; the duplicate count;
    /// and the user and anonymous ids by symbol.
    pub fn finish(self) -> (FunnelEvents, u64, Names) {
        let mut events = self.events;
        let ids = self.ids.intern(&mut events.user, &mut events.anon);
        let dups = self.messages.duplicates();
        let duplicates = dups.len() as u64;
        release_free_heap();
        if duplicates > 0 {
            let mut drop = vec![false; events.len()];
            for r in dups {
                drop[r as usize] = true;
            }
            events.retain(&drop);
        }
        events.sort();
        (events, duplicates, ids)
    }
}

/// Hands the heap's free pages back to the kernel once the id and message logs are
/// freed. Their partitions are blocks below glibc's mmap threshold (see `main.rs`), so
/// they come from the heap and stay resident after they are freed, while the blocks
/// of the per-person pass are larger and mapped afresh: without this, the logs'
/// 600 MB (10 M events) would count twice in the peak memory.
fn release_free_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free pages of the heap to the kernel.
    unsafe {
        libc::malloc_trim(0);
    }
}

impl AnalyticsData {
    /// An empty value whose symbol table starts with the funnel steps.
    pub fn empty() -> Self {
        let mut symbols = Symbols::new();
        for s in STEP_NAMES {
            symbols.intern(s);
        }
        Self {
            symbols,
            ..Default::default()
        }
    }

    /// Reads the `funnel` and `ledger` streams of a dataset directory; `None` when it
    /// has neither.
    pub fn load(dir: &Path, on_error: OnError) -> Result<Option<Self>, InputError> {
        Self::load_dir(&DatasetDir::open(dir)?, on_error)
    }

    /// Reads the `funnel` and `ledger` streams of an opened dataset directory.
    pub fn load_dir(ds: &DatasetDir, on_error: OnError) -> Result<Option<Self>, InputError> {
        Self::load_streams(
            ds.streams
                .get(&Stream::Funnel)
                .map(|(p, e)| (p.as_path(), *e)),
            ds.streams
                .get(&Stream::Ledger)
                .map(|(p, e)| (p.as_path(), *e)),
            on_error,
        )
    }

    /// Reads the given funnel and ledger files; `None` when both are `None`.
    pub fn load_streams(
        funnel: Option<(&Path, Encoding)>,
        ledger: Option<(&Path, Encoding)>,
        on_error: OnError,
    ) -> Result<Option<Self>, InputError> {
        if funnel.is_none() && ledger.is_none() {
            return Ok(None);
        }
        let mut data = Self::empty();
        if let Some((path, enc)) = funnel {
            data.read_funnel(path, enc, on_error)?;
        }
        if let Some((path, enc)) = ledger {
            data.read_ledger(path, enc, on_error)?;
        }
        Ok(Some(data))
    }

    fn read_funnel(
        &mut self,
        path: &Path,
        enc: Encoding,
        on_error: OnError,
    ) -> Result<(), InputError> {
        let mut b = FunnelBuilder::new();
        let file = file_name(path);
        // An SDK export (Segment and RudderStack, or PostHog) is read message by message.
        let sdk = if enc != Encoding::Ndjson {
            None
        } else if super::segment::is_segment(path)? {
            Some(false)
        } else if super::posthog::is_posthog(path)? {
            Some(true)
        } else {
            None
        };
        let input = if let Some(posthog) = sdk {
            let symbols = &mut self.symbols;
            let stats = if posthog {
                super::posthog::read(path, on_error, symbols, &mut b)?
            } else {
                super::segment::read(path, on_error, symbols, &mut b)?
            };
            self.has_source = stats.has_source;
            AnalyticsInput {
                stream: "funnel".into(),
                file,
                rows: stats.rows,
                skipped: stats.skipped,
                first_skip: stats.first_skip,
                duplicates: 0,
                segment: !posthog,
                posthog,
            }
        } else {
            // Parquet goes column by column when the file allows (same result).
            let fast = if enc == Encoding::Parquet {
                super::columnar::read_funnel_parquet(path, on_error, &mut self.symbols, &mut b)?
            } else {
                None
            };
            let stats = match fast {
                Some(stats) => stats,
                None => {
                    let mut table = open_table(path, enc, 8192)?;
                    if enc == Encoding::Parquet {
                        b.reserve(parquet_rows(path).unwrap_or(0));
                    }
                    let symbols = &mut self.symbols;
                    let b = &mut b;
                    table.for_each_row(&FUNNEL_COLUMNS, on_error, &mut |c: &[Cell]| {
                        let d = decode_funnel(c, symbols)
                            .map_err(|(i, p)| RowProblem::new(FUNNEL_COLUMNS[i].name, p))?;
                        b.add(&d);
                        Ok(())
                    })?
                }
            };
            if !stats.present[2] && !stats.present[3] && (stats.rows > 0 || stats.skipped > 0) {
                return Err(InputError::file(
                    path,
                    "required column `user_id` or `anonymous_id` is missing (a funnel row needs one of them)",
                ));
            }
            self.has_source = stats.present[SOURCE_COLUMN];
            AnalyticsInput {
                stream: "funnel".into(),
                file,
                rows: stats.rows,
                skipped: stats.skipped,
                first_skip: stats.first_skip,
                duplicates: 0,
                segment: false,
                posthog: false,
            }
        };
        let (events, duplicates, ids) = b.finish();
        self.ids = ids;
        self.funnel = Some(events);
        self.inputs.push(AnalyticsInput {
            duplicates,
            ..input
        });
        Ok(())
    }

    fn read_ledger(
        &mut self,
        path: &Path,
        enc: Encoding,
        on_error: OnError,
    ) -> Result<(), InputError> {
        let mut lines = LedgerLines::default();
        let mut table = open_table(path, enc, 8192)?;
        let symbols = &mut self.symbols;
        let stats = {
            let lines = &mut lines;
            table.for_each_row(&LEDGER_COLUMNS, on_error, &mut |c: &[Cell]| {
                let l = decode_ledger(c, symbols)
                    .map_err(|(i, p)| RowProblem::new(LEDGER_COLUMNS[i].name, p))?;
                lines.push(&l);
                Ok(())
            })?
        };
        lines.sort();
        self.ledger = Some(lines);
        self.inputs.push(AnalyticsInput {
            stream: "ledger".into(),
            file: file_name(path),
            rows: stats.rows,
            skipped: stats.skipped,
            first_skip: stats.first_skip,
            duplicates: 0,
            segment: false,
            posthog: false,
        });
        Ok(())
    }

    /// The analytics streams of an in-memory dataset (generated scenarios), decoded by
    /// the same rules as files; `None` when it has neither. A row the file readers
    /// would reject is left out and counted as skipped.
    pub fn from_dataset(ds: &Dataset) -> Option<Self> {
        if ds.funnel.is_none() && ds.ledger.is_none() {
            return None;
        }
        Some(Self::from_rows(ds.funnel.as_deref(), ds.ledger.as_deref()))
    }

    /// Decodes funnel and ledger rows held in memory.
    pub fn from_rows(funnel: Option<&[FunnelRow]>, ledger: Option<&[LedgerRow]>) -> Self {
        let mut data = Self::empty();
        if let Some(rows) = funnel {
            let mut b = FunnelBuilder::new();
            let mut skipped = 0;
            let mut first_skip = None;
            for (i, r) in rows.iter().enumerate() {
                let cells = funnel_row_cells(r);
                match decode_funnel(&cells, &mut data.symbols) {
                    Ok(d) => b.add(&d),
                    Err((c, p)) => {
                        skipped += 1;
                        first_skip.get_or_insert_with(|| {
                            format!("row {}, column `{}`: {p}", i + 1, FUNNEL_COLUMNS[c].name)
                        });
                    }
                }
            }
            data.has_source = rows.iter().any(|r| r.source.is_some());
            let (events, duplicates, ids) = b.finish();
            data.ids = ids;
            data.inputs.push(AnalyticsInput {
                stream: "funnel".into(),
                file: "(generated funnel)".into(),
                rows: rows.len() as u64 - skipped,
                skipped,
                first_skip,
                duplicates,
                segment: false,
                posthog: false,
            });
            data.funnel = Some(events);
        }
        if let Some(rows) = ledger {
            let mut lines = LedgerLines::default();
            let mut skipped = 0;
            let mut first_skip = None;
            for (i, r) in rows.iter().enumerate() {
                let cells = ledger_row_cells(r);
                match decode_ledger(&cells, &mut data.symbols) {
                    Ok(l) => lines.push(&l),
                    Err((c, p)) => {
                        skipped += 1;
                        first_skip.get_or_insert_with(|| {
                            format!("row {}, column `{}`: {p}", i + 1, LEDGER_COLUMNS[c].name)
                        });
                    }
                }
            }
            data.inputs.push(AnalyticsInput {
                stream: "ledger".into(),
                file: "(generated ledger)".into(),
                rows: rows.len() as u64 - skipped,
                skipped,
                first_skip,
                duplicates: 0,
                segment: false,
                posthog: false,
            });
            lines.sort();
            data.ledger = Some(lines);
        }
        data
    }
}

/// The row count of a Parquet file from its footer (a capacity hint only).
fn parquet_rows(path: &Path) -> Option<usize> {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    let file = std::fs::File::open(path).ok()?;
    let reader = SerializedFileReader::new(file).ok()?;
    let rows = reader.metadata().file_metadata().num_rows();
    usize::try_from(rows).ok().map(|r| r.min(1 << 31))
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn s(v: &Option<String>) -> Cell<'_> {
    match v {
        Some(s) => Cell::Str(Cow::Borrowed(s)),
        None => Cell::Null,
    }
}

/// The cells of an in-memory funnel row, in [`FUNNEL_COLUMNS`] order.
pub fn funnel_row_cells(r: &FunnelRow) -> [Cell<'_>; 18] {
    [
        Cell::Ts(r.ts),
        Cell::Str(Cow::Borrowed(&r.event)),
        s(&r.user_id),
        s(&r.anonymous_id),
        r.cohort
            .map_or(Cell::Null, |c| Cell::Str(Cow::Borrowed(c.as_str()))),
        s(&r.platform),
        s(&r.utm_source),
        s(&r.utm_medium),
        s(&r.utm_campaign),
        r.revenue.map_or(Cell::Null, Cell::Float),
        s(&r.currency),
        s(&r.order_id),
        r.test_mode.map_or(Cell::Null, Cell::Bool),
        s(&r.user_agent),
        s(&r.page_url),
        s(&r.provider_id),
        s(&r.message_id),
        r.source
            .map_or(Cell::Null, |v| Cell::Str(Cow::Borrowed(v.as_str()))),
    ]
}

/// The cells of an in-memory ledger row, in [`LEDGER_COLUMNS`] order.
pub fn ledger_row_cells(r: &LedgerRow) -> [Cell<'_>; 11] {
    [
        Cell::Ts(r.ts),
        Cell::Str(Cow::Borrowed(&r.txn_id)),
        Cell::Str(Cow::Borrowed(&r.entry_id)),
        Cell::Str(Cow::Borrowed(&r.account)),
        r.debit_minor.map_or(Cell::Null, Cell::Int),
        r.credit_minor.map_or(Cell::Null, Cell::Int),
        Cell::Str(Cow::Borrowed(&r.currency)),
        Cell::Str(Cow::Borrowed(r.kind.as_str())),
        s(&r.order_id),
        s(&r.provider_id),
        s(&r.payout_id),
    ]
}

/// A problem with the value at a column index.
type Problem = (usize, String);

fn sym(symbols: &mut Symbols, c: &Cell) -> u32 {
    match c {
        Cell::Null => NONE,
        Cell::Str(s) if s.is_empty() => NONE,
        Cell::Str(s) => symbols.intern(s),
        Cell::Num(s) | Cell::Json(s) => symbols.intern(s),
        other => match cell::opt_text(other) {
            Some(t) => symbols.intern(&t),
            None => NONE,
        },
    }
}

/// A decimal amount of money in major units.
pub fn decimal(c: &Cell) -> Result<Option<Decimal>, String> {
    let bad = |what: &str| format!("{what} is not a decimal amount of money");
    match c {
        Cell::Null => Ok(None),
        Cell::Int(v) => Ok(Decimal::parse(&v.to_string())),
        Cell::Float(f) if !f.is_finite() => Err(format!("{f} is not a finite amount")),
        Cell::Float(f) => Decimal::from_f64(*f)
            .map(Some)
            .ok_or_else(|| format!("{f:e} is out of range for an amount of money")),
        Cell::Str(_) | Cell::Num(_) => {
            let t = c.textual().unwrap_or_default();
            Decimal::parse(t).map(Some).ok_or_else(|| {
                if t.trim().parse::<f64>().is_ok_and(f64::is_finite) {
                    format!("`{t}` is out of range for an amount of money")
                } else {
                    bad(&format!("`{t}`"))
                }
            })
        }
        Cell::Bool(b) => Err(bad(&format!("the boolean {b}"))),
        Cell::Ts(_) => Err(bad("a timestamp")),
        Cell::Json(j) => Err(bad(&format!("the JSON value {j}"))),
    }
}

/// A whole number of minor units; absent stays `None`.
pub fn minor_units(c: &Cell) -> Result<Option<i64>, String> {
    let not_whole = |what: String| format!("{what} is not a whole number of minor units");
    match c {
        Cell::Null => Ok(None),
        Cell::Int(v) => Ok(Some(*v)),
        Cell::Float(f) if f.is_finite() && f.fract() == 0.0 && f.abs() < 9.0e15 => {
            Ok(Some(*f as i64))
        }
        Cell::Float(f) => Err(not_whole(f.to_string())),
        Cell::Str(_) | Cell::Num(_) => {
            let t = c.textual().unwrap_or_default().trim();
            if let Ok(v) = t.parse::<i64>() {
                return Ok(Some(v));
            }
            match Decimal::parse(t) {
                Some(d) if d.scale == 0 => i64::try_from(d.digits)
                    .map(|m| Some(if d.neg { -m } else { m }))
                    .map_err(|_| format!("`{t}` is out of range")),
                _ => Err(not_whole(format!("`{t}`"))),
            }
        }
        Cell::Bool(b) => Err(not_whole(format!("the boolean {b}"))),
        Cell::Ts(_) => Err(not_whole("a timestamp".into())),
        Cell::Json(j) => Err(not_whole(format!("the JSON value {j}"))),
    }
}

fn message(c: &Cell) -> Option<u128> {
    match c {
        Cell::Null => None,
        Cell::Str(s) if s.is_empty() => None,
        Cell::Str(s) => Some(fingerprint(s)),
        Cell::Num(s) | Cell::Json(s) => Some(fingerprint(s)),
        other => cell::opt_text(other).map(|t| fingerprint(&t)),
    }
}

/// An id as text (numbers as written); `None` when absent.
fn id_text<'c>(c: &'c Cell) -> Option<Cow<'c, str>> {
    match c {
        Cell::Null => None,
        Cell::Str(s) if s.is_empty() => None,
        Cell::Str(s) => Some(Cow::Borrowed(s)),
        Cell::Num(s) | Cell::Json(s) => Some(Cow::Borrowed(s)),
        other => cell::opt_text(other).map(Cow::Owned),
    }
}

/// Decodes one funnel row (cells in [`FUNNEL_COLUMNS`] order): strings other than the
/// user and anonymous ids are interned in `symbols`; the ids are returned as text.
pub(crate) fn decode_funnel<'c>(
    c: &'c [Cell],
    symbols: &mut Symbols,
) -> Result<Decoded<'c>, Problem> {
    let ts = cell::ts(&c[0]).map_err(|p| (0, p))?;
    let event = match &c[1] {
        Cell::Null => return Err((1, "missing required value".into())),
        Cell::Str(s) if s.is_empty() => return Err((1, "missing required value".into())),
        Cell::Str(_) | Cell::Num(_) => sym(symbols, &c[1]),
        other => {
            return Err((1, format!("{other:?} is not an event name")));
        }
    };
    let user = id_text(&c[2]);
    let anon = id_text(&c[3]);
    if user.is_none() && anon.is_none() {
        return Err((
            2,
            "missing required value: a funnel row needs `user_id` or `anonymous_id`".into(),
        ));
    }
    let cohort = match cell::opt_one_of(&c[4], Cohort::parse, COHORTS).map_err(|p| (4, p))? {
        None => COHORT_NONE,
        Some(Cohort::Canary) => COHORT_CANARY,
        Some(Cohort::Baseline) => COHORT_BASELINE,
    };
    let source = match cell::opt_one_of(&c[17], Source::parse, SOURCES).map_err(|p| (17, p))? {
        None => SOURCE_NONE,
        Some(Source::Real) => SOURCE_REAL,
        Some(Source::Synthetic) => SOURCE_SYNTHETIC,
    };
    let revenue = decimal(&c[9]).map_err(|p| (9, p))?;
    let currency = sym(symbols, &c[10]);
    let mut flags = 0u8;
    let mut revenue_minor = 0;
    if let Some(d) = revenue {
        flags |= FLAG_REVENUE;
        if currency != NONE {
            let code = symbols.name(currency);
            revenue_minor = d.to_minor(iso4217_exponent(code)).ok_or_else(|| {
                (
                    9,
                    format!("the amount is out of range in minor units of {code}"),
                )
            })?;
        }
    }
    if cell::opt_bool(&c[12]).map_err(|p| (12, p))? == Some(true) {
        flags |= FLAG_TEST_MODE;
    }
    let event = FunnelEvent {
        ts,
        event,
        user: NONE,
        anon: NONE,
        cohort,
        platform: sym(symbols, &c[5]),
        utm_source: sym(symbols, &c[6]),
        utm_medium: sym(symbols, &c[7]),
        revenue_minor,
        currency,
        user_agent: sym(symbols, &c[13]),
        page_url: sym(symbols, &c[14]),
        provider: sym(symbols, &c[15]),
        source,
        flags,
        message: message(&c[16]),
    };
    Ok(Decoded { event, user, anon })
}

/// Decodes one ledger row (cells in [`LEDGER_COLUMNS`] order).
pub(crate) fn decode_ledger(c: &[Cell], symbols: &mut Symbols) -> Result<LedgerLine, Problem> {
    let ts = cell::ts(&c[0]).map_err(|p| (0, p))?;
    let mut text = |i: usize| -> Result<u32, Problem> {
        let t = cell::text(&c[i]).map_err(|p| (i, p))?;
        Ok(symbols.intern(&t))
    };
    let txn = text(1)?;
    cell::text(&c[2]).map_err(|p| (2, p))?;
    let account = text(3)?;
    let debit = minor_units(&c[4]).map_err(|p| (4, p))?;
    let credit = minor_units(&c[5]).map_err(|p| (5, p))?;
    if debit.is_none() && credit.is_none() {
        return Err((
            4,
            "missing required value: `debit_minor` and `credit_minor` are both empty (one of them may be)"
                .into(),
        ));
    }
    let currency = text(6)?;
    let kind = match cell::one_of(&c[7], LedgerKind::parse, LEDGER_KINDS).map_err(|p| (7, p))? {
        LedgerKind::Booking => KIND_BOOKING,
        LedgerKind::Payout => KIND_PAYOUT,
    };
    Ok(LedgerLine {
        ts,
        txn,
        account,
        debit: debit.unwrap_or(0),
        credit: credit.unwrap_or(0),
        currency,
        kind,
        order: sym(symbols, &c[8]),
        provider: sym(symbols, &c[9]),
        payout: sym(symbols, &c[10]),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn st(v: &str) -> Cell<'_> {
        Cell::Str(Cow::Borrowed(v))
    }

    #[test]
    fn minor_units_are_whole_numbers() {
        assert_eq!(minor_units(&st("1250")), Ok(Some(1250)));
        assert_eq!(minor_units(&st("1250.0")), Ok(Some(1250)));
        assert_eq!(minor_units(&st("-3")), Ok(Some(-3)));
        assert_eq!(minor_units(&Cell::Float(7.0)), Ok(Some(7)));
        assert_eq!(minor_units(&Cell::Null), Ok(None));
        assert!(minor_units(&st("12.5")).is_err());
        assert!(minor_units(&st("ten")).is_err());
        assert!(minor_units(&Cell::Float(0.5)).is_err());
    }

    #[test]
    fn ledger_rows_need_one_amount() {
        let mut syms = Symbols::new();
        let row = LedgerRow {
            ts: 5,
            txn_id: "t1".into(),
            entry_id: "e1".into(),
            account: "cash".into(),
            debit_minor: None,
            credit_minor: None,
            currency: "USD".into(),
            kind: LedgerKind::Booking,
            order_id: None,
            provider_id: None,
            payout_id: None,
        };
        let e = decode_ledger(&ledger_row_cells(&row), &mut syms).unwrap_err();
        assert_eq!(e.0, 4);
        let row = LedgerRow {
            debit_minor: Some(100),
            ..row
        };
        let l = decode_ledger(&ledger_row_cells(&row), &mut syms).unwrap();
        assert_eq!((l.debit, l.credit), (100, 0));
    }

    #[test]
    fn funnel_rows_need_an_id_and_valid_values() {
        let mut syms = Symbols::new();
        let row = FunnelRow {
            ts: 1,
            event: "visit".into(),
            ..Default::default()
        };
        assert_eq!(
            decode_funnel(&funnel_row_cells(&row), &mut syms)
                .unwrap_err()
                .0,
            2
        );
        let row = FunnelRow {
            anonymous_id: Some("a".into()),
            revenue: Some(19.995),
            currency: Some("USD".into()),
            ..row
        };
        let cells = funnel_row_cells(&row);
        let e = decode_funnel(&cells, &mut syms).unwrap().event;
        assert_eq!(e.revenue_minor, 2000);
        assert_eq!(e.flags & FLAG_REVENUE, FLAG_REVENUE);
        let row = FunnelRow {
            currency: None,
            ..row
        };
        let cells = funnel_row_cells(&row);
        let e = decode_funnel(&cells, &mut syms).unwrap().event;
        assert_eq!(e.revenue_minor, 0);
        assert_eq!(e.flags & FLAG_REVENUE, FLAG_REVENUE);
        let mut cells = funnel_row_cells(&row);
        cells[4] = st("Canary");
        assert_eq!(decode_funnel(&cells, &mut syms).unwrap_err().0, 4);
        cells[4] = Cell::Null;
        cells[9] = st("12,50");
        assert_eq!(decode_funnel(&cells, &mut syms).unwrap_err().0, 9);
        cells[9] = Cell::Null;
        cells[12] = st("yes");
        assert_eq!(decode_funnel(&cells, &mut syms).unwrap_err().0, 12);
    }
}
