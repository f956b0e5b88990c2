//! Product analytics over the `funnel` and `ledger` streams (`analytics-semantics.md`):
//! identity stitching, exclusion of synthetic and canary-only persons, the B2C funnel
//! with its conversion window, first- and last-touch attribution, revenue in minor
//! units, ARPU/ARPPU and free -> paid, tracking gaps between the canary and baseline
//! builds, the B2B provider flow, platform fees and ledger integrity. `rehearse funnel`
//! reports them ([`report`]); `rehearse run` evaluates the analytics gates at each
//! stage's end ([`gates::stage_gates`]). Reading is row-exact ([`data`], [`segment`], [`posthog`]),
//! with a columnar fast path for Parquet that gives the same result ([`columnar`]);
//! sequential per-person logic is plain Rust ([`funnel`]), and so are the rollups over
//! the person table ([`rollup`]); the ledger checks and the `--out` tables use polars
//! ([`ledger`], [`rollup::persons_frame`]). docs/analytics.md documents every reading.

pub mod analysis;
pub mod b2b;
pub mod columnar;
pub mod data;
pub mod exclusion;
pub mod funnel;
pub mod gates;
pub mod identity;
pub mod ledger;
pub mod levers;
pub mod money;
pub mod policy;
pub mod posthog;
pub mod report;
pub mod rollup;
pub mod segment;
pub mod symbols;

pub use analysis::FunnelAnalysis;
pub use data::{AnalyticsData, AnalyticsInput};
pub use gates::{evaluated, span_gates, stage_gates};
pub use money::Rounding;
pub use policy::{AnalyticsPolicy, DEFAULT_ANALYTICS_TOML};
pub use report::{Analytics, AnalyticsReport, analyze};
