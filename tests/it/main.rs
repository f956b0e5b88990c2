//! The integration tests, linked into one test binary (one link of the dependency tree
//! instead of one per file keeps a clean debug build small and quick). Each module is a
//! test suite of its own; `oracle` is the naive reference evaluator the property tests
//! compare the engine with.

mod analytics;
mod analytics_io;
mod analytics_scenarios;
mod architecture;
mod cli;
mod crash;
mod equivalence;
mod funnel_columnar;
mod golden;
mod hostile;
mod interop;
mod odds;
mod oracle;
mod pii_corpus;
mod pii_outputs;
mod property_oracle;
mod repeat;
mod request_reader;
mod shared;
mod ship;
mod sweep;
mod tui;
mod tui_pty;
mod tune;
