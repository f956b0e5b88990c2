//! Fixtures several tests of this binary need, computed once however many tests use
//! them (a `OnceLock` each; the tests still run in any order and in parallel): the
//! outputs of `rehearse check scenarios --junit` over the saved scenarios, which the
//! golden test hashes and `cli.rs` checks scenario by scenario, and the clean 5
//! requests/s dataset `cli.rs` rewrites cell by cell for its plausibility and encoding
//! tests.

use std::process::{Command, Stdio};
use std::sync::OnceLock;

use rehearse::app::scenario::gen_plan;
use rehearse::generate::{GenSpec, generate};
use rehearse::input::Dataset;
use rehearse::policy::Policy;

/// What one `rehearse check scenarios --junit FILE` printed and wrote.
pub struct CheckRun {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub junit: Vec<u8>,
}

/// `rehearse check scenarios --junit FILE`, run from the repository root (so every
/// path it prints is relative, as in the golden files), once per test binary.
pub fn check_scenarios() -> &'static CheckRun {
    static RUN: OnceLock<CheckRun> = OnceLock::new();
    RUN.get_or_init(|| {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let junit = dir.path().join("junit.xml");
        let o = Command::new(env!("CARGO_BIN_EXE_rehearse"))
            .args(["check", "scenarios", "--junit"])
            .arg(&junit)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stdin(Stdio::null())
            .output()
            .expect("the binary runs");
        CheckRun {
            code: o.status.code(),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
            junit: std::fs::read(&junit).unwrap_or_default(),
        }
    })
}

/// A clean rollout under the default policy at 5 requests/s (seed 11), generated once.
pub fn clean_dataset() -> &'static Dataset {
    static DS: OnceLock<Dataset> = OnceLock::new();
    DS.get_or_init(|| {
        let mut spec = GenSpec::new(11);
        spec.rps = 5.0;
        generate(&spec, &gen_plan(&Policy::default_policy())).expect("the clean dataset")
    })
}
