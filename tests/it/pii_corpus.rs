//! Runs the PII detectors over `tests/data/pii_corpus.tsv` (`expected<TAB>kind<TAB>message`)
//! and checks every positive is found with its kind, every near miss is clean, and the
//! redacted form of each positive line no longer holds the detected value.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use rehearse::pii::{PiiDetector, PiiKind, redact_message};

thread_local! {
    /// Allocations made by the current thread (counted by [`CountingAlloc`]).
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

/// The system allocator, counting allocations per thread so a test can check that a call
/// does not allocate while other tests run on other threads.
struct CountingAlloc;

// SAFETY: every call is forwarded unchanged to `System`; the counter is a const-initialised
// thread-local `Cell` without destructor, so touching it never allocates or re-enters.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

struct Case {
    line_no: usize,
    expected_pii: bool,
    kind: Option<PiiKind>,
    message: String,
}

fn parse_kind(s: &str) -> Option<PiiKind> {
    PiiKind::ALL.into_iter().find(|k| k.as_str() == s)
}

fn load_corpus() -> Vec<Case> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/pii_corpus.tsv");
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {path}: {e}"));
    let mut cases = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line_no = i + 1;
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let mut cols = line.splitn(3, '\t');
        let (Some(expected), Some(kind), Some(message)) = (cols.next(), cols.next(), cols.next())
        else {
            panic!("{path}:{line_no}: expected three tab-separated columns: {line:?}");
        };
        let expected_pii = match expected {
            "pii" => true,
            "clean" => false,
            other => panic!("{path}:{line_no}: expected `pii` or `clean`, got {other:?}"),
        };
        let kind = match (expected_pii, kind) {
            (false, "-") => None,
            (true, k) => Some(
                parse_kind(k).unwrap_or_else(|| panic!("{path}:{line_no}: unknown PII kind {k:?}")),
            ),
            (false, k) => panic!("{path}:{line_no}: clean line with kind {k:?}, expected `-`"),
        };
        cases.push(Case {
            line_no,
            expected_pii,
            kind,
            message: message.to_string(),
        });
    }
    cases
}

#[test]
fn corpus_detection_and_redaction() {
    let cases = load_corpus();
    let det = PiiDetector::new();

    let positives = cases.iter().filter(|c| c.expected_pii).count();
    let negatives = cases.len() - positives;
    assert!(cases.len() >= 120, "corpus has only {} lines", cases.len());
    assert!(positives >= 50, "corpus has only {positives} positives");
    assert!(negatives >= 60, "corpus has only {negatives} near misses");
    for kind in PiiKind::ALL {
        assert!(
            cases.iter().any(|c| c.kind == Some(kind)),
            "no positive of kind {kind}"
        );
    }

    let mut failures = Vec::new();
    let mut detected_positives = 0usize;
    let mut false_positives = 0usize;
    for case in &cases {
        let matches = det.find_all(&case.message);
        let quick = det.contains_pii(&case.message);
        if quick == matches.is_empty() {
            failures.push(format!(
                "line {}: contains_pii={quick} but find_all found {} match(es): {:?}",
                case.line_no,
                matches.len(),
                case.message
            ));
        }
        match case.kind {
            Some(kind) => {
                let of_kind: Vec<_> = matches.iter().filter(|m| m.kind == kind).collect();
                if of_kind.is_empty() {
                    let got: Vec<_> = matches.iter().map(|m| m.kind.as_str()).collect();
                    failures.push(format!(
                        "line {}: expected {kind}, found {got:?}: {:?}",
                        case.line_no, case.message
                    ));
                    continue;
                }
                detected_positives += 1;
                let redacted = redact_message(&det, &case.message);
                for m in of_kind {
                    let clear = &case.message[m.start..m.end];
                    if redacted.contains(clear) {
                        failures.push(format!(
                            "line {}: redacted line still holds {clear:?}: {redacted:?}",
                            case.line_no
                        ));
                    }
                }
            }
            None => {
                if !matches.is_empty() {
                    false_positives += 1;
                    let got: Vec<_> = matches
                        .iter()
                        .map(|m| format!("{}={:?}", m.kind, &case.message[m.start..m.end]))
                        .collect();
                    failures.push(format!(
                        "line {}: expected clean, found {}: {:?}",
                        case.line_no,
                        got.join(", "),
                        case.message
                    ));
                }
            }
        }
    }

    let fp_rate = false_positives as f64 / negatives as f64;
    let recall = detected_positives as f64 / positives as f64;
    eprintln!(
        "pii corpus: {} lines, {positives} positives, {negatives} near misses; \
         false-positive rate {false_positives}/{negatives} = {:.1}%, \
         recall {detected_positives}/{positives} = {:.1}%",
        cases.len(),
        fp_rate * 100.0,
        recall * 100.0
    );
    assert!(
        failures.is_empty(),
        "{} corpus mismatch(es):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn contains_pii_does_not_allocate() {
    let cases = load_corpus();
    let det = PiiDetector::new();
    // Warm up: the regex engines build their per-thread caches on first use.
    let expected: Vec<bool> = cases.iter().map(|c| det.contains_pii(&c.message)).collect();
    let before = ALLOCATIONS.with(Cell::get);
    let mut found = 0usize;
    for case in &cases {
        found += usize::from(det.contains_pii(&case.message));
    }
    let allocations = ALLOCATIONS.with(Cell::get) - before;
    assert_eq!(found, expected.iter().filter(|&&b| b).count());
    assert_eq!(
        allocations, 0,
        "contains_pii allocated {allocations} time(s)"
    );
}
