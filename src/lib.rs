//! `rehearse`: replay recorded or generated event streams through a canary rollout's
//! gate policy and say what would have happened. This crate root only wires modules.

pub mod generate;
pub mod model;
pub mod pii;
pub mod time;
pub mod write;
