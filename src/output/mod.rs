//! Everything `rehearse` writes: the run report (JSON and the human summary,
//! [`report`]), the recorded event log ([`record`]), the pass/fail table and JUnit report of `check`
//! ([`check`]), the sweep report ([`sweep`]) and dataset files ([`dataset`]). Files are
//! written atomically ([`write_atomic`]): to a temporary file in the target's directory,
//! then renamed over the target, so a reader never sees a half-written file.
//! Directories (`funnel --out`, `generate`) are written into a hidden temporary
//! directory beside the target and put in place whole ([`commit_dir`]).

pub mod check;
pub mod dataset;
pub mod export;
pub mod funnel;
pub mod record;
pub mod report;
pub mod ship;
pub mod sweep;
pub mod tune;

use std::io::Write;
use std::path::Path;

/// Writes `bytes` to `path` atomically: into a hidden temporary file in the target's
/// directory (`.rehearse-*.tmp`, mode 0644 before the umask), flushed to disk, then
/// renamed over the target, and the directory entry flushed too. A reader, or a run
/// killed at any moment, finds the previous file or the new one whole, never a part; a
/// killed run may leave its hidden temporary file behind, never the target's name.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = parent_dir(path);
    let mut builder = tempfile::Builder::new();
    builder.prefix(".rehearse-").suffix(".tmp");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o644));
    }
    let mut tmp = builder.tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    sync_dir(dir)
}

/// The directory a path's entry lives in (`.` for a bare file name).
pub fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    }
}

/// Flushes a directory's entries (a rename into it) to disk; a no-op where directories
/// cannot be opened as files.
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    std::fs::File::open(dir)?.sync_all()?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// A hidden temporary directory beside `target` (in its parent, created if needed), to
/// write a directory's files into before [`commit_dir`] puts it in place.
pub fn stage_dir(target: &Path, prefix: &str) -> std::io::Result<tempfile::TempDir> {
    let parent = parent_dir(target);
    std::fs::create_dir_all(parent)?;
    tempfile::Builder::new().prefix(prefix).tempdir_in(parent)
}

/// Atomically swaps two directory entries (Linux `renameat2(RENAME_EXCHANGE)`), both of
/// which must exist. `Ok(false)` where the system or file system cannot do it.
pub fn exchange(a: &Path, b: &Path) -> std::io::Result<bool> {
    #[cfg(target_os = "linux")]
    {
        use std::ffi::CString;
        use std::os::unix::ffi::OsStrExt;
        let c = |p: &Path| {
            CString::new(p.as_os_str().as_bytes())
                .map_err(|_| std::io::Error::other("a path holds a NUL byte"))
        };
        let (ca, cb) = (c(a)?, c(b)?);
        // SAFETY: both are valid NUL-terminated paths that outlive the call.
        let rc = unsafe {
            libc::renameat2(
                libc::AT_FDCWD,
                ca.as_ptr(),
                libc::AT_FDCWD,
                cb.as_ptr(),
                libc::RENAME_EXCHANGE,
            )
        };
        if rc == 0 {
            return Ok(true);
        }
        let e = std::io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::ENOSYS | libc::EINVAL | libc::EOPNOTSUPP) => Ok(false),
            _ => Err(e),
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (a, b);
        Ok(false)
    }
}

/// Puts a complete staged directory (from [`stage_dir`]) at `target` in one step: a
/// rename when nothing is there, an atomic [`exchange`] with the directory that is
/// there (the old one, now in the staged place, is then removed). A reader, or a run
/// killed at any moment, finds the old directory or the new one whole. Where the
/// exchange is not supported the old directory is moved aside first, so a kill between
/// the two renames leaves it in a hidden `.rehearse-replaced-*` directory beside the
/// target.
pub fn commit_dir(staged: tempfile::TempDir, target: &Path) -> std::io::Result<()> {
    sync_dir(staged.path())?;
    let parent = parent_dir(target);
    if std::fs::symlink_metadata(target).is_err() {
        std::fs::rename(staged.path(), target)?;
        let _ = staged.keep();
        return sync_dir(parent);
    }
    if exchange(staged.path(), target)? {
        sync_dir(parent)?;
        // `staged` now names the old directory.
        return staged.close();
    }
    let aside = tempfile::Builder::new()
        .prefix(".rehearse-replaced-")
        .tempdir_in(parent)?;
    let old = aside.path().join("old");
    std::fs::rename(target, &old)?;
    if let Err(e) = std::fs::rename(staged.path(), target) {
        let _ = std::fs::rename(&old, target);
        return Err(e);
    }
    let _ = staged.keep();
    sync_dir(parent)?;
    aside.close()
}
