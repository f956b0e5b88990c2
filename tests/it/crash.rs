//! Crash safety: every file or directory `rehearse` writes (`run --record`, `funnel
//! --out`, `generate --out` with and without `--force`, `check --junit`) is, after the
//! writer is killed with SIGKILL at any moment, either absent or complete, and a
//! previous file or directory at the target is never replaced by a part of the new one.
//! Each writer is run once to completion (the reference output and its duration), then
//! killed at seeded random points over that duration, half of them with a previous
//! output at the target and the later part of the run (where the writing happens)
//! sampled more densely. After each kill the target must be absent (when nothing was
//! there), the previous output, or the reference, byte for byte.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Kill points per writer.
const POINTS: u64 = 10;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn scenario(name: &str) -> String {
    root()
        .join("scenarios")
        .join(name)
        .to_str()
        .expect("utf-8")
        .to_string()
}

fn command(args: &[String]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_rehearse"));
    c.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .env("REHEARSE_PROGRESS", "never");
    c
}

/// Runs to completion; fails on usage or internal errors.
fn complete(args: &[String]) -> Duration {
    let start = Instant::now();
    let status = command(args).status().expect("the binary runs");
    assert!(
        status.code().is_some_and(|c| c != 1 && c != 2),
        "rehearse {} exited {status}",
        args.join(" ")
    );
    start.elapsed()
}

/// What is at a target: nothing, a file's bytes, or a directory's files.
#[derive(Debug, PartialEq, Eq)]
enum Found {
    Absent,
    File(Vec<u8>),
    Dir(BTreeMap<String, Vec<u8>>),
}

fn found(path: &Path) -> Found {
    match std::fs::symlink_metadata(path) {
        Err(_) => Found::Absent,
        Ok(m) if m.is_dir() => {
            let mut files = BTreeMap::new();
            for e in std::fs::read_dir(path).expect("a directory") {
                let p = e.expect("an entry").path();
                let name = p
                    .file_name()
                    .expect("a name")
                    .to_string_lossy()
                    .into_owned();
                files.insert(name, std::fs::read(&p).expect("reads"));
            }
            Found::Dir(files)
        }
        Ok(_) => Found::File(std::fs::read(path).expect("reads")),
    }
}

/// Puts `what` at `path` (removing what was there).
fn restore(path: &Path, what: &Found) {
    if path.is_dir() {
        std::fs::remove_dir_all(path).expect("removes");
    } else if path.exists() {
        std::fs::remove_file(path).expect("removes");
    }
    match what {
        Found::Absent => {}
        Found::File(b) => std::fs::write(path, b).expect("writes"),
        Found::Dir(files) => {
            std::fs::create_dir(path).expect("creates");
            for (name, b) in files {
                std::fs::write(path.join(name), b).expect("writes");
            }
        }
    }
}

/// A seeded xorshift in [0, 1).
struct Rng(u64);

impl Rng {
    fn unit(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Kills `args` (which write `target`) at seeded random points; `previous` is what
/// another complete run put at `target` (used for every other point).
fn kill_at_random_points(name: &str, seed: u64, args: &[String], target: &Path, previous: &Found) {
    assert_ne!(previous, &Found::Absent, "{name}: a previous output");
    restore(target, &Found::Absent);
    let took = complete(args);
    let reference = found(target);
    assert_ne!(
        reference,
        Found::Absent,
        "{name}: the writer writes its target"
    );
    assert_ne!(&reference, previous, "{name}: the previous output differs");
    let mut rng = Rng(seed);
    let mut outcomes = BTreeMap::new();
    for i in 0..POINTS {
        let before = if i % 2 == 0 { &Found::Absent } else { previous };
        restore(target, before);
        // Half the points anywhere in the run, half in its last 40 %, where files are
        // written; a few past its end.
        let frac = if i % 4 < 2 {
            rng.unit() * 1.1
        } else {
            0.6 + rng.unit() * 0.5
        };
        let at = took.mul_f64(frac);
        let mut child = command(args).spawn().expect("the binary starts");
        std::thread::sleep(at);
        // SIGKILL: no handler runs, nothing is cleaned up.
        let _ = child.kill();
        let status = child.wait().expect("waits");
        let after = found(target);
        let outcome = if &after == before {
            "unchanged"
        } else if after == reference {
            "complete"
        } else {
            panic!(
                "{name}: killed at {at:?} of {took:?} ({status}), the target is neither what \
                 was there before ({}) nor the complete output: {after:?}",
                if before == &Found::Absent {
                    "nothing"
                } else {
                    "a previous output"
                }
            );
        };
        *outcomes.entry(outcome).or_insert(0) += 1;
    }
    eprintln!("{name}: {outcomes:?} over {POINTS} kills, run takes {took:?}");
}

fn s(x: &str) -> String {
    x.to_string()
}

fn path(p: &Path) -> String {
    p.to_str().expect("utf-8").to_string()
}

/// Generates a scenario's dataset (CSV) into `dir` to run the other writers over.
fn dataset(file: &str, dir: &Path) -> String {
    complete(&[s("generate"), scenario(file), s("--out"), path(dir)]);
    path(dir)
}

#[test]
fn a_killed_record_is_absent_or_complete() {
    let tmp = tempfile::tempdir().expect("a temp dir");
    let a = dataset("63-analytics-fee-rounding.toml", &tmp.path().join("a"));
    let target = tmp.path().join("out").join("run.arrow");
    std::fs::create_dir(tmp.path().join("out")).expect("a dir");
    complete(&[s("run"), a.clone(), s("--record"), path(&target)]);
    let complete_a = found(&target);
    // The previous recording: the same dataset under another threshold.
    complete(&[
        s("run"),
        a.clone(),
        s("--set"),
        s("triggers.latency_p95_ms=400"),
        s("--record"),
        path(&target),
    ]);
    let previous = found(&target);
    assert_ne!(previous, complete_a);
    let args = [s("run"), a, s("--record"), path(&target)];
    kill_at_random_points("run --record", 0x5EED_0001, &args, &target, &previous);
}

#[test]
fn killed_funnel_tables_are_absent_or_complete() {
    let tmp = tempfile::tempdir().expect("a temp dir");
    let a = dataset("63-analytics-fee-rounding.toml", &tmp.path().join("a"));
    let b = dataset("64-analytics-double-payout.toml", &tmp.path().join("b"));
    let target = tmp.path().join("tables");
    complete(&[s("funnel"), b, s("--out"), path(&target)]);
    let previous = found(&target);
    let args = [s("funnel"), a, s("--out"), path(&target)];
    kill_at_random_points("funnel --out", 0x5EED_0002, &args, &target, &previous);
}

#[test]
fn a_killed_generate_leaves_no_partial_dataset() {
    let tmp = tempfile::tempdir().expect("a temp dir");
    let target = tmp.path().join("ds");
    let scen = scenario("63-analytics-fee-rounding.toml");
    complete(&[
        s("generate"),
        scen.clone(),
        s("--out"),
        path(&target),
        s("--seed"),
        s("1"),
    ]);
    let previous = found(&target);
    let args = [s("generate"), scen, s("--out"), path(&target), s("--force")];
    kill_at_random_points("generate --force", 0x5EED_0003, &args, &target, &previous);
}

#[test]
fn a_killed_junit_report_is_absent_or_complete() {
    let tmp = tempfile::tempdir().expect("a temp dir");
    let copy = |dir: &str, files: &[&str]| {
        let d = tmp.path().join(dir);
        std::fs::create_dir(&d).expect("a dir");
        for f in files {
            std::fs::copy(scenario(f), d.join(f)).expect("copies");
        }
        path(&d)
    };
    let one = copy("one", &["02-5xx-sustained.toml", "41-pii-email.toml"]);
    let two = copy("two", &["07-5xx-burst-short.toml"]);
    let target = tmp.path().join("junit.xml");
    complete(&[s("check"), two, s("--junit"), path(&target)]);
    let previous = found(&target);
    let args = [s("check"), one, s("--junit"), path(&target)];
    kill_at_random_points("check --junit", 0x5EED_0004, &args, &target, &previous);
}

#[test]
fn funnel_out_replaces_a_table_set_whole_and_refuses_other_directories() {
    let tmp = tempfile::tempdir().expect("a temp dir");
    let a = dataset("63-analytics-fee-rounding.toml", &tmp.path().join("a"));
    let target = tmp.path().join("tables");
    // A previous table set with a table the new run does not write: replaced whole, so
    // the stale table is gone.
    std::fs::create_dir(&target).expect("a dir");
    std::fs::write(target.join("stale_table.parquet"), b"PAR1").expect("writes");
    complete(&[s("funnel"), a.clone(), s("--out"), path(&target)]);
    let Found::Dir(files) = found(&target) else {
        panic!("the tables directory")
    };
    assert!(files.contains_key("report.json"), "{:?}", files.keys());
    assert!(!files.contains_key("stale_table.parquet"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(target.join("report.json"))
            .expect("a file")
            .permissions()
            .mode();
        assert_eq!(
            mode & 0o044,
            0o044,
            "readable by others as any file: {mode:o}"
        );
    }
    // A directory holding anything else is refused (exit 2) and left as it was.
    std::fs::write(target.join("notes.txt"), b"mine").expect("writes");
    let before = found(&target);
    let o = command(&[s("funnel"), a, s("--out"), path(&target)])
        .stderr(Stdio::piped())
        .output()
        .expect("runs");
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("notes.txt") && err.contains("new or empty directory"),
        "{err}"
    );
    assert_eq!(found(&target), before);
}
