//! `rehearse generate`: generate a scenario's dataset (deterministic, seeded) into a
//! dataset directory in one encoding, without ever destroying or faking data. An
//! existing, non-empty `--out` is refused unless `--force` is given, and then only when
//! it holds nothing but a dataset. The dataset is written into a fresh temporary
//! directory beside `--out` and moved into place only once every file is complete: a
//! rename for a new `--out`; with `--force` the new directory and the old one swap
//! places in one step (`renameat2` exchange on Linux; elsewhere the old one is moved
//! aside first and the new one renamed in) and the old one is removed. An error or an interrupt (SIGINT, SIGTERM,
//! SIGHUP) at any point leaves either the old directory or the complete new one, and no
//! temporary directory behind; an interrupt exits with status 130.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tempfile::TempDir;

use crate::output::dataset::Format;
use crate::source::dataset::stream_file;

use super::scenario::Scenario;
use super::{AppError, Output};

/// The settings of `rehearse generate`.
pub struct GenerateSettings {
    pub scenario: PathBuf,
    pub out: PathBuf,
    pub format: Format,
    /// Overrides the scenario's seed.
    pub seed: Option<u64>,
    /// Replace the dataset of an existing, non-empty `--out` directory.
    pub force: bool,
}

/// Why `--out` cannot be written, or why the finished dataset could not be moved into
/// place. Every variant names the directory and says what to do.
#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    #[error(
        "--out {}: the directory exists and is not empty; pass --force to replace its dataset, or choose another directory",
        dir.display()
    )]
    NotEmpty { dir: PathBuf },
    #[error(
        "--out {}: --force replaces a dataset directory as a whole, but this one also holds {}, which is not part of a dataset; move it out, or choose another directory",
        dir.display(),
        entries.join(", ")
    )]
    NotADataset { dir: PathBuf, entries: Vec<String> },
    #[error(
        "--out {}: exists and is not a directory; remove it, or choose another directory",
        path.display()
    )]
    NotADirectory { path: PathBuf },
    #[error("--out {}: names no directory; give a directory path such as `out/dataset`", path.display())]
    NoName { path: PathBuf },
    #[error("cannot read the --out directory {}: {source} (check its permissions)", path.display())]
    Inspect { path: PathBuf, source: io::Error },
    #[error(
        "cannot create a temporary directory in {}: {source} (check that it exists, is writable and has free space)",
        parent.display()
    )]
    Temp { parent: PathBuf, source: io::Error },
    #[error(
        "cannot move the existing {} aside to replace it: {source} (check the permissions of its parent directory); it is unchanged",
        dir.display()
    )]
    MoveAside { dir: PathBuf, source: io::Error },
    #[error(
        "cannot move the finished dataset into place as {}: {source} (check the permissions of its parent directory); {} is unchanged",
        dir.display(),
        dir.display()
    )]
    MoveIn { dir: PathBuf, source: io::Error },
    #[error(
        "cannot move the finished dataset into place as {}: {source}, nor the previous one back: {back}; the previous dataset is in {}: move it back by hand",
        dir.display(),
        kept.display()
    )]
    Restore {
        dir: PathBuf,
        kept: PathBuf,
        source: io::Error,
        back: io::Error,
    },
    #[error(
        "the new dataset is in place in {}, but the replaced one could not be removed from {}: {source}; remove it by hand",
        dir.display(),
        aside.display()
    )]
    RemoveReplaced {
        dir: PathBuf,
        aside: PathBuf,
        source: io::Error,
    },
    #[error(
        "cannot install the handler that cleans up after an interrupt: {0} (nothing was written; try again)"
    )]
    Signal(#[from] ctrlc::Error),
}

/// Generates the dataset; says what was written on stderr.
pub fn run(settings: &GenerateSettings) -> Result<Output, AppError> {
    let mut scenario = Scenario::load(&settings.scenario).map_err(AppError::usage)?;
    if let Some(seed) = settings.seed {
        scenario.spec.seed = seed;
    }
    let target = Target::check(&settings.out, settings.force).map_err(AppError::usage)?;
    let staged = stage(&target).map_err(AppError::internal)?;
    let written = scenario.write(staged.path(), settings.format);
    // From here on every step holds the lock: an interrupt under way holds it already
    // (and exits), a later one waits until the directories are settled.
    let mut pending = pending();
    let committed = match written {
        Ok(requests) => commit(staged, &target).map(|()| requests),
        Err(e) => {
            drop(staged);
            *pending = None;
            return Err(AppError::internal(e));
        }
    };
    *pending = None;
    drop(pending);
    let requests = committed.map_err(AppError::internal)?;
    eprintln!(
        "wrote {} ({requests} requests) to {}",
        scenario.name,
        settings.out.display()
    );
    Ok(Output::new(String::new(), 0))
}

/// Where the dataset goes: the `--out` directory with symbolic links resolved, so that
/// the temporary directory beside it is on the same file system.
struct Target {
    dir: PathBuf,
    /// Whether `dir` exists (empty, or a dataset to replace under `--force`).
    exists: bool,
}

impl Target {
    /// Refuses an `--out` that is not a directory, or that holds anything without
    /// `--force`, or anything but a dataset with it.
    fn check(out: &Path, force: bool) -> Result<Self, GenerateError> {
        let inspect = |source| GenerateError::Inspect {
            path: out.to_path_buf(),
            source,
        };
        match fs::metadata(out) {
            Ok(meta) if !meta.is_dir() => Err(GenerateError::NotADirectory {
                path: out.to_path_buf(),
            }),
            Ok(_) => {
                let dir = fs::canonicalize(out).map_err(inspect)?;
                let mut names = Vec::new();
                for entry in fs::read_dir(&dir).map_err(inspect)? {
                    names.push(entry.map_err(inspect)?.file_name());
                }
                if !names.is_empty() && !force {
                    return Err(GenerateError::NotEmpty {
                        dir: out.to_path_buf(),
                    });
                }
                let mut strangers: Vec<String> = names
                    .iter()
                    .filter(|n| !is_dataset_file(&dir.join(n)))
                    .map(|n| format!("`{}`", n.to_string_lossy()))
                    .collect();
                if !strangers.is_empty() {
                    strangers.sort();
                    return Err(GenerateError::NotADataset {
                        dir: out.to_path_buf(),
                        entries: strangers,
                    });
                }
                Ok(Self { dir, exists: true })
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                if fs::symlink_metadata(out).is_ok() {
                    // A symbolic link to nothing: replacing the link would lose it.
                    return Err(GenerateError::NotADirectory {
                        path: out.to_path_buf(),
                    });
                }
                let name = out.file_name().ok_or_else(|| GenerateError::NoName {
                    path: out.to_path_buf(),
                })?;
                let parent = match out.parent() {
                    Some(p) if !p.as_os_str().is_empty() => p,
                    _ => Path::new("."),
                };
                Ok(Self {
                    dir: parent.join(name),
                    exists: false,
                })
            }
            Err(e) => Err(inspect(e)),
        }
    }

    /// The directory the temporary directories are made in (created if needed).
    fn parent(&self) -> &Path {
        self.dir.parent().unwrap_or(Path::new("."))
    }
}

/// Whether a directory entry belongs to a dataset: a plain file that is the manifest, a
/// stream file in any encoding a reader accepts, or a temporary file an earlier writer
/// left behind (`.rehearse-*.tmp`).
fn is_dataset_file(path: &Path) -> bool {
    let is_file = fs::symlink_metadata(path).is_ok_and(|m| m.is_file());
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return false;
    };
    let stream_file = stream_file(name).is_some();
    let leftover = name.starts_with(".rehearse-") && name.ends_with(".tmp");
    is_file && (name == "dataset.toml" || stream_file || leftover)
}

/// The temporary directory an interrupt removes before the process exits. The signal
/// handler holds the lock while it removes it and exits, and the command holds it
/// around every step that creates or moves a directory, so an interrupt sees the state
/// before such a step or after it, never half of it.
static PENDING: Mutex<Option<PathBuf>> = Mutex::new(None);

fn pending() -> MutexGuard<'static, Option<PathBuf>> {
    PENDING.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Installs the interrupt handler and makes the temporary directory the dataset is
/// written into, beside the target.
fn stage(target: &Target) -> Result<TempDir, GenerateError> {
    ctrlc::set_handler(on_interrupt)?;
    let parent = target.parent();
    let temp_err = |source| GenerateError::Temp {
        parent: parent.to_path_buf(),
        source,
    };
    fs::create_dir_all(parent).map_err(temp_err)?;
    let mut pending = pending();
    let staged = tempfile::Builder::new()
        .prefix(".rehearse-generate-")
        .tempdir_in(parent)
        .map_err(temp_err)?;
    *pending = Some(staged.path().to_path_buf());
    Ok(staged)
}

/// Moves the finished dataset into place; the caller holds the lock. On an error the
/// target is as it was and the temporary directories are gone (unless the old dataset
/// could not be put back: the error says where it is).
fn commit(staged: TempDir, target: &Target) -> Result<(), GenerateError> {
    let dir = &target.dir;
    if !target.exists {
        fs::rename(staged.path(), dir).map_err(|source| GenerateError::MoveIn {
            dir: dir.clone(),
            source,
        })?;
        let _ = staged.keep();
        return Ok(());
    }
    // Where the system can, the new dataset and the old one swap places in one step, so
    // a run killed at any moment leaves the old dataset or the new one at `dir`.
    match crate::output::exchange(staged.path(), dir) {
        Ok(true) => {
            // `staged` now names the old dataset.
            let aside = staged.path().to_path_buf();
            return staged
                .close()
                .map_err(|source| GenerateError::RemoveReplaced {
                    dir: dir.clone(),
                    aside,
                    source,
                });
        }
        Ok(false) => {}
        Err(source) => {
            return Err(GenerateError::MoveIn {
                dir: dir.clone(),
                source,
            });
        }
    }
    let aside = tempfile::Builder::new()
        .prefix(".rehearse-replaced-")
        .tempdir_in(target.parent())
        .map_err(|source| GenerateError::Temp {
            parent: target.parent().to_path_buf(),
            source,
        })?;
    let old = aside.path().join("dataset");
    fs::rename(dir, &old).map_err(|source| GenerateError::MoveAside {
        dir: dir.clone(),
        source,
    })?;
    if let Err(source) = fs::rename(staged.path(), dir) {
        return Err(match fs::rename(&old, dir) {
            Ok(()) => GenerateError::MoveIn {
                dir: dir.clone(),
                source,
            },
            Err(back) => {
                let _ = aside.keep();
                GenerateError::Restore {
                    dir: dir.clone(),
                    kept: old,
                    source,
                    back,
                }
            }
        });
    }
    let _ = staged.keep();
    let aside_path = aside.path().to_path_buf();
    aside
        .close()
        .map_err(|source| GenerateError::RemoveReplaced {
            dir: dir.clone(),
            aside: aside_path,
            source,
        })
}

/// The signal handler: removes the unfinished dataset and exits with status 130.
fn on_interrupt() {
    let pending = pending();
    if let Some(dir) = pending.as_deref() {
        remove_while_written(dir);
        eprintln!("interrupted: the unfinished dataset was removed; --out is unchanged");
    } else {
        eprintln!("interrupted");
    }
    std::process::exit(130);
}

/// Removes a directory that the command may still be writing into: a file created
/// while the directory is being emptied makes one attempt fail, so it tries again
/// until the directory is gone (or gives up after about two seconds).
fn remove_while_written(dir: &Path) {
    for _ in 0..200 {
        let _ = fs::remove_dir_all(dir);
        if fs::symlink_metadata(dir).is_err_and(|e| e.kind() == io::ErrorKind::NotFound) {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}
