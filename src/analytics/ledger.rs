//! B2B fees and ledger integrity (contract section 6), in polars. Ledger lines group
//! into transactions by `txn_id`; a transaction's kind is the kind of its earliest line.
//! A booking must debit `cash` the gross, credit `platform_fees` exactly once with the
//! fee (the policy's rate of the gross, rounded by its rule) and credit the provider
//! the rest. Integrity counts unbalanced transactions (per currency), payout ids used by
//! more than one payout transaction, and provider accounts whose balance goes below zero
//! when transactions are applied whole in order of (earliest timestamp, `txn_id`).

use std::collections::BTreeMap;

use polars::prelude::*;
use serde::Serialize;

use super::data::{KIND_BOOKING, LedgerLines};
use super::money::fee_of;
use super::policy::AnalyticsPolicy;
use super::symbols::{NONE, Symbols};

/// The account of the platform's cash.
pub const CASH: &str = "cash";
/// The account fees are credited to.
pub const PLATFORM_FEES: &str = "platform_fees";
/// The prefix of provider accounts.
pub const PROVIDER_PREFIX: &str = "provider:";

/// At most this many example ids are listed per finding.
const EXAMPLES: usize = 10;

/// The ledger checks of one slice.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct LedgerReport {
    pub lines: u64,
    pub transactions: u64,
    pub bookings: u64,
    pub payouts: u64,
    pub unbalanced_txns: u64,
    pub duplicate_payouts: u64,
    pub overdrawn_providers: u64,
    /// Booking transactions breaking the fee rule.
    pub fee_violations: u64,
    /// Gross of bookings (cash debits) per currency.
    pub gross_minor: BTreeMap<String, i64>,
    /// Fees captured (platform_fees credits of bookings) per currency.
    pub fees_minor: BTreeMap<String, i64>,
    /// Paid out (provider debits of payouts) per currency.
    pub paid_out_minor: BTreeMap<String, i64>,
    pub examples: LedgerExamples,
}

/// A few ids behind each finding, for the analyst.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct LedgerExamples {
    pub unbalanced_txns: Vec<String>,
    pub duplicate_payouts: Vec<String>,
    pub overdrawn_providers: Vec<String>,
    pub fee_violations: Vec<String>,
}

/// The ledger's per-transaction table and findings.
pub struct LedgerCheck {
    pub report: LedgerReport,
    /// One row per transaction: `txn_id`, `kind`, `first_ts_ms`, `lines`, `balanced`,
    /// and for bookings `gross_minor`, `fee_minor`, `expected_fee_minor`, `net_minor`,
    /// `fee_ok`.
    pub transactions: DataFrame,
}

/// The lines as a polars frame.
pub fn lines_frame(l: &LedgerLines, n: usize, syms: &Symbols) -> PolarsResult<DataFrame> {
    let name =
        |v: &[u32]| -> Vec<Option<&str>> { v[..n].iter().map(|&s| syms.opt_name(s)).collect() };
    let cash = syms.get(CASH).unwrap_or(NONE);
    let fees = syms.get(PLATFORM_FEES).unwrap_or(NONE);
    // Per account symbol: whether it is a provider account (classified once).
    let mut provider = vec![0u8; syms.len()];
    let is_provider: Vec<bool> = l.account[..n]
        .iter()
        .map(|&a| {
            let c = &mut provider[a as usize];
            if *c == 0 {
                *c = if syms.name(a).starts_with(PROVIDER_PREFIX) {
                    1
                } else {
                    2
                };
            }
            *c == 1
        })
        .collect();
    DataFrame::new(
        n,
        vec![
            Column::new("row".into(), (0..n as u32).collect::<Vec<u32>>()),
            Column::new("ts_ms".into(), l.ts[..n].to_vec()),
            Column::new("txn_id".into(), name(&l.txn)),
            Column::new("account".into(), name(&l.account)),
            Column::new(
                "is_cash".into(),
                l.account[..n]
                    .iter()
                    .map(|&a| a == cash)
                    .collect::<Vec<bool>>(),
            ),
            Column::new(
                "is_fee".into(),
                l.account[..n]
                    .iter()
                    .map(|&a| a == fees)
                    .collect::<Vec<bool>>(),
            ),
            Column::new("is_provider".into(), is_provider),
            Column::new("debit_minor".into(), l.debit[..n].to_vec()),
            Column::new("credit_minor".into(), l.credit[..n].to_vec()),
            Column::new("currency".into(), name(&l.currency)),
            Column::new(
                "line_kind".into(),
                l.kind[..n]
                    .iter()
                    .map(|&k| {
                        if k == KIND_BOOKING {
                            "booking"
                        } else {
                            "payout"
                        }
                    })
                    .collect::<Vec<&str>>(),
            ),
            Column::new("payout_id".into(), name(&l.payout)),
            Column::new("provider_id".into(), name(&l.provider)),
            Column::new("order_id".into(), name(&l.order)),
        ],
    )
}

fn count(df: &DataFrame) -> u64 {
    df.height() as u64
}

/// The first [`EXAMPLES`] distinct values of a column in sorted order, so the examples
/// never depend on the order a parallel group-by produced its rows in.
fn strings(df: &DataFrame, name: &str) -> PolarsResult<Vec<String>> {
    let s = df.column(name)?.cast(&DataType::String)?;
    let ca = s.str()?;
    let mut all: Vec<&str> = (0..ca.len()).filter_map(|i| ca.get(i)).collect();
    all.sort_unstable();
    all.dedup();
    Ok(all.into_iter().take(EXAMPLES).map(str::to_string).collect())
}

fn sums(df: &DataFrame) -> PolarsResult<BTreeMap<String, i64>> {
    let cur = df.column("currency")?.cast(&DataType::String)?;
    let v = df.column("amount")?.cast(&DataType::Int64)?;
    let (cur, v) = (cur.str()?, v.i64()?);
    Ok((0..cur.len())
        .filter_map(|i| Some((cur.get(i)?.to_string(), v.get(i).unwrap_or(0))))
        .collect())
}

/// Checks the first `n` ledger lines.
pub fn check(
    l: &LedgerLines,
    n: usize,
    syms: &Symbols,
    policy: &AnalyticsPolicy,
) -> PolarsResult<LedgerCheck> {
    let lines = lines_frame(l, n, syms)?.lazy();
    // Transactions: kind of the earliest line (lines are in time order, file order on ties).
    let txns = lines.clone().group_by_stable([col("txn_id")]).agg([
        col("ts_ms").min().alias("first_ts_ms"),
        col("line_kind").first().alias("kind"),
        len().cast(DataType::UInt64).alias("lines"),
    ]);
    let with_kind = lines.clone().inner_join(
        txns.clone().select([col("txn_id"), col("kind")]),
        col("txn_id"),
        col("txn_id"),
    );

    let unbalanced = lines
        .clone()
        .group_by_stable([col("txn_id"), col("currency")])
        .agg([
            col("debit_minor").sum().alias("debits"),
            col("credit_minor").sum().alias("credits"),
        ])
        .filter(col("debits").neq(col("credits")))
        .group_by_stable([col("txn_id")])
        .agg([len().alias("currencies")])
        .with_column(lit(false).alias("balanced"))
        .collect()?;

    let duplicate = with_kind
        .clone()
        .filter(
            col("kind")
                .eq(lit("payout"))
                .and(col("payout_id").is_not_null()),
        )
        .group_by_stable([col("payout_id"), col("txn_id")])
        .agg([len()])
        .group_by_stable([col("payout_id")])
        .agg([len().alias("transactions")])
        .filter(col("transactions").gt(lit(1)))
        .collect()?;

    let overdrawn = lines
        .clone()
        .filter(col("is_provider"))
        .group_by_stable([col("txn_id"), col("account"), col("currency")])
        .agg([(col("credit_minor") - col("debit_minor"))
            .sum()
            .alias("delta")])
        .inner_join(
            txns.clone().select([col("txn_id"), col("first_ts_ms")]),
            col("txn_id"),
            col("txn_id"),
        )
        .sort(
            ["first_ts_ms", "txn_id"],
            SortMultipleOptions::default().with_maintain_order(true),
        )
        .with_column(
            col("delta")
                .cum_sum(false)
                .over([col("account"), col("currency")])?
                .alias("balance"),
        )
        .filter(col("balance").lt(lit(0)))
        .group_by_stable([col("account")])
        .agg([col("balance").min().alias("lowest")])
        .collect()?;

    let bookings = with_kind
        .clone()
        .filter(col("kind").eq(lit("booking")))
        .group_by_stable([col("txn_id")])
        .agg([
            col("debit_minor")
                .filter(col("is_cash"))
                .sum()
                .alias("gross_minor"),
            col("is_cash")
                .cast(DataType::UInt32)
                .sum()
                .alias("cash_lines"),
            col("is_fee")
                .cast(DataType::UInt32)
                .sum()
                .alias("fee_lines"),
            col("credit_minor")
                .filter(col("is_fee"))
                .sum()
                .alias("fee_minor"),
            col("credit_minor")
                .filter(col("is_provider"))
                .sum()
                .alias("net_minor"),
        ])
        .collect()?;
    // The fee rule, in exact integer arithmetic.
    let rate = policy.fee_fraction();
    let gross = bookings.column("gross_minor")?.cast(&DataType::Int64)?;
    let fee = bookings.column("fee_minor")?.cast(&DataType::Int64)?;
    let net = bookings.column("net_minor")?.cast(&DataType::Int64)?;
    let cash_lines = bookings.column("cash_lines")?.cast(&DataType::UInt32)?;
    let fee_lines = bookings.column("fee_lines")?.cast(&DataType::UInt32)?;
    let (gross, fee, net) = (gross.i64()?, fee.i64()?, net.i64()?);
    let (cash_lines, fee_lines) = (cash_lines.u32()?, fee_lines.u32()?);
    let mut expected = Vec::with_capacity(bookings.height());
    let mut fee_ok = Vec::with_capacity(bookings.height());
    for i in 0..bookings.height() {
        let g = gross.get(i).unwrap_or(0);
        let f = fee.get(i).unwrap_or(0);
        let nt = net.get(i).unwrap_or(0);
        let want = fee_of(g, rate, policy.fee_rounding);
        expected.push(i64::try_from(want).ok());
        fee_ok.push(
            cash_lines.get(i).unwrap_or(0) >= 1
                && fee_lines.get(i).unwrap_or(0) == 1
                && i128::from(f) == want
                && i128::from(f) + i128::from(nt) == i128::from(g),
        );
    }
    let mut bookings = bookings;
    bookings.with_column(Column::new("expected_fee_minor".into(), expected))?;
    bookings.with_column(Column::new("fee_ok".into(), fee_ok))?;
    let violations = bookings
        .clone()
        .lazy()
        .filter(col("fee_ok").not())
        .collect()?;

    let transactions = txns
        .left_join(
            unbalanced
                .clone()
                .lazy()
                .select([col("txn_id"), col("balanced")]),
            col("txn_id"),
            col("txn_id"),
        )
        .with_column(col("balanced").fill_null(lit(true)))
        .left_join(
            bookings.clone().lazy().select([
                col("txn_id"),
                col("gross_minor"),
                col("fee_minor"),
                col("expected_fee_minor"),
                col("net_minor"),
                col("fee_ok"),
            ]),
            col("txn_id"),
            col("txn_id"),
        )
        .sort(
            ["first_ts_ms", "txn_id"],
            SortMultipleOptions::default().with_maintain_order(true),
        )
        .collect()?;

    let by_currency =
        |kind: &str, account: &str, amount: &str| -> PolarsResult<BTreeMap<String, i64>> {
            let df = with_kind
                .clone()
                .filter(col("kind").eq(lit(kind)).and(col(account)))
                .group_by_stable([col("currency")])
                .agg([col(amount).sum().alias("amount")])
                .collect()?;
            sums(&df)
        };

    let kinds = transactions.column("kind")?.cast(&DataType::String)?;
    let kinds = kinds.str()?;
    let report = LedgerReport {
        lines: n as u64,
        transactions: count(&transactions),
        bookings: (0..kinds.len())
            .filter(|&i| kinds.get(i) == Some("booking"))
            .count() as u64,
        payouts: (0..kinds.len())
            .filter(|&i| kinds.get(i) == Some("payout"))
            .count() as u64,
        unbalanced_txns: count(&unbalanced),
        duplicate_payouts: count(&duplicate),
        overdrawn_providers: count(&overdrawn),
        fee_violations: count(&violations),
        gross_minor: by_currency("booking", "is_cash", "debit_minor")?,
        fees_minor: by_currency("booking", "is_fee", "credit_minor")?,
        paid_out_minor: by_currency("payout", "is_provider", "debit_minor")?,
        examples: LedgerExamples {
            unbalanced_txns: strings(&unbalanced, "txn_id")?,
            duplicate_payouts: strings(&duplicate, "payout_id")?,
            overdrawn_providers: strings(&overdrawn, "account")?,
            fee_violations: strings(&violations, "txn_id")?,
        },
    };
    Ok(LedgerCheck {
        report,
        transactions,
    })
}
