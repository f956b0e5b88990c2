//! The report of `rehearse check`: the pass/fail table people read, with the diff of
//! every mismatch, and the JUnit XML for CI dashboards (one test case per scenario: a
//! `<failure>` with the mismatches of one that ran, an `<error>` for one that could not
//! be loaded or run).

use std::path::PathBuf;

/// One scenario's result.
pub struct CheckResult {
    pub name: String,
    pub path: PathBuf,
    pub outcome: String,
    pub diffs: Vec<String>,
    /// Why the scenario has no result to compare, if it has none.
    pub error: Option<CheckError>,
}

/// A scenario that could not be checked: where it stopped, and why.
pub struct CheckError {
    pub phase: Phase,
    pub message: String,
}

/// Where a scenario that could not be checked stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Reading the file, parsing it, building its policy.
    Load,
    /// Generating its dataset or replaying it.
    Run,
}

impl Phase {
    /// The JUnit `<error>` message.
    fn junit_message(self) -> &'static str {
        match self {
            Phase::Load => "scenario could not be loaded",
            Phase::Run => "scenario could not be run",
        }
    }
}

impl CheckResult {
    pub fn passed(&self) -> bool {
        self.error.is_none() && self.diffs.is_empty()
    }
}

/// The pass/fail table, one line per scenario with its mismatches, then the totals.
pub fn table(results: &[CheckResult]) -> String {
    let mut text = String::new();
    let width = results
        .iter()
        .map(|r| r.name.len())
        .max()
        .unwrap_or(4)
        .max(8);
    for r in results {
        let status = if r.passed() { "PASS" } else { "FAIL" };
        text.push_str(&format!("{status}  {:width$}  {}\n", r.name, r.outcome));
        if let Some(e) = &r.error {
            text.push_str(&format!("      error: {}\n", e.message));
        }
        for d in &r.diffs {
            text.push_str(&format!("      {d}\n"));
        }
    }
    let passed = results.iter().filter(|r| r.passed()).count();
    let failed = results.len() - passed;
    text.push_str(&format!("\n{passed} passed, {failed} failed\n"));
    text
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// JUnit XML for CI dashboards. A mismatch is a `<failure>`, a scenario that could not
/// be loaded or run an `<error>`; the suite's `errors` count is written when there are
/// any (JUnit readers take a missing count as 0).
pub fn junit(results: &[CheckResult]) -> String {
    let errors = results.iter().filter(|r| r.error.is_some()).count();
    let failures = results.iter().filter(|r| !r.passed()).count() - errors;
    let errors_attr = if errors > 0 {
        format!(" errors=\"{errors}\"")
    } else {
        String::new()
    };
    let mut s = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n<testsuite name=\"rehearse check\" tests=\"{}\" failures=\"{failures}\"{errors_attr}>\n",
        results.len()
    );
    for r in results {
        s.push_str(&format!(
            "  <testcase classname=\"scenarios\" name=\"{}\"",
            xml_escape(&r.name)
        ));
        if let Some(e) = &r.error {
            s.push_str(&format!(
                ">\n    <error message=\"{}\">{}</error>\n  </testcase>\n",
                e.phase.junit_message(),
                xml_escape(&e.message)
            ));
        } else if r.passed() {
            s.push_str("/>\n");
        } else {
            s.push_str(&format!(
                ">\n    <failure message=\"scenario mismatch\">{}</failure>\n  </testcase>\n",
                xml_escape(&r.diffs.join("\n"))
            ));
        }
    }
    s.push_str("</testsuite>\n</testsuites>\n");
    s
}
