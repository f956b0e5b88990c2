//! `rehearse`: replay recorded or generated event streams through a canary rollout's
//! gate policy and say what would have happened. This crate root only wires modules.

pub mod analytics;
pub mod app;
pub mod cli;
pub mod engine;
pub mod gate;
pub mod generate;
pub mod input;
pub mod output;
pub mod pii;
pub mod policy;
pub mod ratio;
pub mod sketch;
pub mod source;
pub mod suggest;
pub mod time;
pub mod tui;
pub mod verdict;
