//! The report of `rehearse check`: the pass/fail table people read, with the diff of
//! every mismatch, and the JUnit XML for CI dashboards (one test case per scenario,
//! with the mismatches or the error of a failed one).

use std::path::PathBuf;

/// One scenario's result.
pub struct CheckResult {
    pub name: String,
    pub path: PathBuf,
    pub outcome: String,
    pub diffs: Vec<String>,
    pub error: Option<String>,
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
            text.push_str(&format!("      error: {e}\n"));
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

/// JUnit XML for CI dashboards.
pub fn junit(results: &[CheckResult]) -> String {
    let failures = results.iter().filter(|r| !r.passed()).count();
    let mut s = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n<testsuite name=\"rehearse check\" tests=\"{}\" failures=\"{failures}\">\n",
        results.len()
    );
    for r in results {
        s.push_str(&format!(
            "  <testcase classname=\"scenarios\" name=\"{}\"",
            xml_escape(&r.name)
        ));
        if r.passed() {
            s.push_str("/>\n");
        } else {
            let msg = r.error.clone().unwrap_or_else(|| r.diffs.join("\n"));
            s.push_str(&format!(
                ">\n    <failure message=\"scenario mismatch\">{}</failure>\n  </testcase>\n",
                xml_escape(&msg)
            ));
        }
    }
    s.push_str("</testsuite>\n</testsuites>\n");
    s
}
