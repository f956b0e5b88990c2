//! Everything `rehearse` writes: the run report (JSON and the human summary,
//! [`report`]), the recorded event log ([`record`]), the pass/fail table and JUnit report of `check`
//! ([`check`]), the sweep report ([`sweep`]) and dataset files ([`dataset`]). Files are
//! written atomically ([`write_atomic`]): to a temporary file in the target's directory,
//! then renamed over the target, so a reader never sees a half-written file.

pub mod check;
pub mod dataset;
pub mod funnel;
pub mod record;
pub mod report;
pub mod sweep;
pub mod tune;

use std::io::Write;
use std::path::Path;

/// Writes `bytes` to `path` atomically.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}
