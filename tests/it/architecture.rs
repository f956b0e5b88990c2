//! The house rules of `docs/architecture.md`, checked on the source: which module may
//! import which (`crate::...` paths outside comments), that the engine stays a pure fold
//! (no file access, clock, polars, UI or randomness), that clap stays in the command
//! line layer, that anyhow stays in `main.rs`, and that every module says what it owns.

use std::path::{Path, PathBuf};

use regex::Regex;

/// What each top-level module may import from the crate: a module, or a path inside
/// one (`analytics::policy` allows `crate::analytics::policy::...` only).
const RULES: &[(&str, &[&str])] = &[
    ("input", &[]),
    ("ratio", &[]),
    ("sketch", &[]),
    ("pii", &[]),
    ("suggest", &[]),
    ("time", &["input"]),
    ("gate", &["input"]),
    ("verdict", &["gate", "input"]),
    (
        "policy",
        &[
            "gate",
            "input",
            "ratio",
            "suggest",
            "time",
            "analytics::policy",
        ],
    ),
    (
        "engine",
        &[
            "gate", "input", "pii", "policy", "ratio", "sketch", "time", "verdict",
        ],
    ),
    ("source", &["input", "suggest", "time"]),
    (
        "analytics",
        &[
            "engine::StageCheck",
            "gate",
            "input",
            "policy",
            "source",
            "time",
        ],
    ),
    (
        "generate",
        &["analytics::data", "analytics::money", "input", "time"],
    ),
    (
        "output",
        &[
            "analytics",
            "engine",
            "gate",
            "input",
            "policy",
            "time",
            "verdict",
        ],
    ),
    (
        "tui",
        &[
            "analytics",
            "engine",
            "gate",
            "input",
            "output",
            "policy",
            "sketch",
            "time",
            "verdict",
        ],
    ),
    (
        "app",
        &[
            "analytics",
            "engine",
            "gate",
            "generate",
            "input",
            "output",
            "pii",
            "policy",
            "sketch",
            "source",
            "time",
            "tui",
            "verdict",
        ],
    ),
    (
        "cli",
        &["app", "input", "output", "policy", "source", "time"],
    ),
];

fn src() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every `.rs` file below `dir`, sorted.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// The top-level module a source file belongs to (`lib` and `main` for the roots).
fn module_of(file: &Path) -> String {
    let rel = file.strip_prefix(src()).unwrap();
    let first = rel
        .components()
        .next()
        .unwrap()
        .as_os_str()
        .to_string_lossy();
    first.trim_end_matches(".rs").to_string()
}

/// The file's code lines: comments and doc comments left out.
fn code_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l))
        .filter(|(_, l)| !l.trim_start().starts_with("//"))
}

#[test]
fn modules_import_only_what_the_house_rules_allow() {
    let path = Regex::new(r"crate::([A-Za-z_][A-Za-z0-9_]*(?:::[A-Za-z_][A-Za-z0-9_]*)*)").unwrap();
    let mut broken = Vec::new();
    let mut seen_modules = std::collections::BTreeSet::new();
    for file in files(&src()) {
        let module = module_of(&file);
        seen_modules.insert(module.clone());
        if module == "lib" || module == "main" {
            continue;
        }
        let Some((_, allowed)) = RULES.iter().find(|(m, _)| *m == module) else {
            broken.push(format!(
                "{}: module `{module}` has no rule in tests/it/architecture.rs and docs/architecture.md",
                file.display()
            ));
            continue;
        };
        let text = std::fs::read_to_string(&file).unwrap();
        for (n, line) in code_lines(&text) {
            for c in path.captures_iter(line) {
                let p = &c[1];
                let top = p.split("::").next().unwrap();
                if top == module {
                    continue;
                }
                let ok = allowed
                    .iter()
                    .any(|a| p == *a || p.starts_with(&format!("{a}::")));
                if !ok {
                    broken.push(format!(
                        "{}:{n}: `{module}` may not import `crate::{p}`",
                        file.display()
                    ));
                }
            }
        }
    }
    // Every rule names a module that exists, so a renamed module cannot slip through.
    for (m, _) in RULES {
        assert!(seen_modules.contains(*m), "rule for a missing module `{m}`");
    }
    assert!(broken.is_empty(), "{}", broken.join("\n"));
}

/// Lines of the files below `dir` (or the file itself) matching `pattern`, outside comments.
fn offending(dir: &Path, pattern: &Regex) -> Vec<String> {
    let list = if dir.is_dir() {
        files(dir)
    } else {
        vec![dir.to_path_buf()]
    };
    let mut out = Vec::new();
    for file in list {
        let text = std::fs::read_to_string(&file).unwrap();
        for (n, line) in code_lines(&text) {
            if pattern.is_match(line) {
                out.push(format!("{}:{n}: {}", file.display(), line.trim()));
            }
        }
    }
    out
}

#[test]
fn the_engine_is_a_pure_fold() {
    let forbidden = Regex::new(
        r"std::fs|File::|Instant|SystemTime|polars|ratatui|crossterm|rayon|\brand\b|rand_chacha|std::env|std::io",
    )
    .unwrap();
    let found = offending(&src().join("engine"), &forbidden);
    assert!(found.is_empty(), "{}", found.join("\n"));
}

#[test]
fn clap_stays_in_the_command_line_layer_and_anyhow_in_main() {
    let clap = Regex::new(r"\bclap\b").unwrap();
    let anyhow = Regex::new(r"\banyhow\b").unwrap();
    let mut found = Vec::new();
    for file in files(&src()) {
        let name = file
            .strip_prefix(src())
            .unwrap()
            .to_string_lossy()
            .into_owned();
        if name != "cli.rs" && name != "main.rs" {
            found.extend(offending(&file, &clap));
        }
        if name != "main.rs" {
            found.extend(offending(&file, &anyhow));
        }
    }
    assert!(found.is_empty(), "{}", found.join("\n"));
}

#[test]
fn every_module_says_what_it_owns() {
    let mut missing = Vec::new();
    for file in files(&src()) {
        let text = std::fs::read_to_string(&file).unwrap();
        if !text.trim_start().starts_with("//!") {
            missing.push(file.display().to_string());
        }
    }
    assert!(
        missing.is_empty(),
        "files without a `//!` paragraph:\n{}",
        missing.join("\n")
    );
}
