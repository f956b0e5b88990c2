//! The B2B side of the funnel generator and the `ledger` stream: providers sign up and
//! onboard (funnel events), take bookings during the rollout, each a balanced ledger
//! transaction with a 3 % half-up platform fee, and are paid out every hour. A
//! fee-rounding fault changes the fee's rounding; a double-payout fault sends one payout
//! twice.

use super::funnel::{FunnelFaultKind, FunnelGen};
use super::rng::{HOUR, Rand, poisson_per_hour, stream};
use crate::analytics::money::{Rounding, fee_of};
use crate::input::{LedgerKind, LedgerRow, Millis, Source};

/// A provider: its id, ledger currency, when it finished onboarding (if it did), and
/// the balance owed to it since its last payout, in minor units.
struct Provider {
    id: String,
    currency: &'static str,
    onboarded: Option<Millis>,
    balance: i64,
}

/// One entry of ledger transaction `txn`: a debit or a credit to `account`.
fn ledger_line(
    ts: Millis,
    txn: &str,
    entry: u32,
    (account, debit, credit): (&str, Option<i64>, Option<i64>),
    currency: &str,
    kind: LedgerKind,
) -> LedgerRow {
    LedgerRow {
        ts,
        txn_id: txn.into(),
        entry_id: format!("{txn}-{entry}"),
        account: account.into(),
        debit_minor: debit,
        credit_minor: credit,
        currency: currency.into(),
        kind,
        order_id: None,
        provider_id: None,
        payout_id: None,
    }
}

/// The B2B side: provider sign-ups and onboardings into `g`'s funnel rows, and the
/// ledger of their bookings and payouts, in timestamp order.
pub(super) fn providers_and_ledger(g: &mut FunnelGen, seed: u64) -> Vec<LedgerRow> {
    let plan = g.plan;
    let mut rng = Rand::new(seed ^ stream::FUNNEL_SEED_SALT, stream::LEDGER);
    let mut providers: Vec<Provider> = Vec::new();
    let span_from = plan.t0 - 72 * HOUR;
    let span_to = plan.t0 + (plan.end - plan.t0) / 2;
    for _ in 0..g.spec.providers {
        let signup = span_from + rng.below((span_to - span_from).max(1) as u64) as Millis;
        let id = format!("prv-{}", rng.hex_id(8));
        let user = format!("usr-{}", rng.hex_id(10));
        let currency = if rng.chance(0.7) { "USD" } else { "EUR" };
        let mut row = g.row(
            signup,
            "provider_signup",
            Some(&user),
            None,
            None,
            "desktop",
            Source::Real,
        );
        row.provider_id = Some(id.clone());
        g.rows.push(row);
        let onboarded = rng
            .chance(0.85)
            .then(|| signup + HOUR + rng.exp_ms(12.0 * HOUR as f64));
        if let Some(t) = onboarded {
            let mut row = g.row(
                t,
                "provider_onboarded",
                Some(&user),
                None,
                None,
                "desktop",
                Source::Real,
            );
            row.provider_id = Some(id.clone());
            g.rows.push(row);
        }
        providers.push(Provider {
            id,
            currency,
            onboarded,
            balance: 0,
        });
    }
    let mut ledger = Vec::new();
    let bookings = poisson_per_hour(&mut rng, plan.t0, plan.end, g.spec.bookings_per_hour);
    let mut next_payout = plan.t0 + HOUR;
    let mut booking_no = 0u64;
    let mut payout_no = 0u64;
    let mut doubled = false;
    let mut payout =
        |ledger: &mut Vec<LedgerRow>, providers: &mut [Provider], at: Millis| {
            for p in providers.iter_mut().filter(|p| p.balance >= 1_000) {
                payout_no += 1;
                let txn = format!("po-{payout_no:06}");
                let pid = format!("pay-{payout_no:06}");
                let amount = p.balance;
                p.balance = 0;
                let times = if !doubled
                    && plan.faults.iter().any(|f| {
                        f.kind == FunnelFaultKind::DoublePayout && at >= f.from && at < f.to
                    }) {
                    doubled = true;
                    2
                } else {
                    1
                };
                for copy in 0..times {
                    let txn = if copy == 0 {
                        txn.clone()
                    } else {
                        format!("{txn}-retry")
                    };
                    let ts = at + copy * 90_000;
                    let account = format!("provider:{}", p.id);
                    for (entry, (acct, d, c)) in [
                        (account.as_str(), Some(amount), None),
                        ("cash", None, Some(amount)),
                    ]
                    .into_iter()
                    .enumerate()
                    {
                        let mut l = ledger_line(
                            ts,
                            &txn,
                            entry as u32 + 1,
                            (acct, d, c),
                            p.currency,
                            LedgerKind::Payout,
                        );
                        l.provider_id = Some(p.id.clone());
                        l.payout_id = Some(pid.clone());
                        ledger.push(l);
                    }
                }
            }
        };
    for t in bookings {
        while next_payout <= t {
            payout(&mut ledger, &mut providers, next_payout);
            next_payout += HOUR;
        }
        let ready: Vec<usize> = providers
            .iter()
            .enumerate()
            .filter(|(_, p)| p.onboarded.is_some_and(|o| o < t))
            .map(|(i, _)| i)
            .collect();
        if ready.is_empty() {
            continue;
        }
        let p = &mut providers[ready[rng.below(ready.len() as u64) as usize]];
        booking_no += 1;
        let gross = 2_500 + rng.below(37_500) as i64;
        let rounding = plan
            .active(FunnelFaultKind::FeeRounding, t)
            .map_or(Rounding::HalfUp, |f| f.rounding);
        let fee = fee_of(gross, (3, 100), rounding) as i64;
        let net = gross - fee;
        p.balance += net;
        let txn = format!("bk-{booking_no:06}");
        let order = format!("ord-b{booking_no:06}");
        let account = format!("provider:{}", p.id);
        for (entry, (acct, d, c)) in [
            ("cash", Some(gross), None),
            ("platform_fees", None, Some(fee)),
            (account.as_str(), None, Some(net)),
        ]
        .into_iter()
        .enumerate()
        {
            let mut l = ledger_line(
                t,
                &txn,
                entry as u32 + 1,
                (acct, d, c),
                p.currency,
                LedgerKind::Booking,
            );
            l.order_id = Some(order.clone());
            l.provider_id = Some(p.id.clone());
            ledger.push(l);
        }
    }
    while next_payout <= plan.end {
        payout(&mut ledger, &mut providers, next_payout);
        next_payout += HOUR;
    }
    ledger.sort_by_key(|l| l.ts);
    ledger
}
