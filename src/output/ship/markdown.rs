//! The pinned go/no-go checklist in Markdown: the outcome, then per stage one line per
//! Go gate and trigger with its state and evidence (a ticked box for a gate that held
//! up, an open one for a breach, a firing, missing data or a gate not evaluated), then
//! the sign-offs no data can prove, each an open box with its owner, and the follow-ups.

use super::{GateRow, RowState, ShipRoom, measured, outcome_words, pct, role};
use crate::time::{format_clock, format_rfc3339};
use crate::verdict::Verdict;

/// A sign-off the data cannot prove: owner and what to confirm.
pub const SIGN_OFFS: [(&str, &str); 8] = [
    (
        "QA",
        "the e2e harness runs with `?e2e=1` on every URL and `VITE_E2E_MODE=1` in its build, so its traffic is recognised as synthetic",
    ),
    (
        "QA",
        "the React Query cache is reset between e2e runs (no result leaks from one run into the next)",
    ),
    (
        "Security",
        "the no-cache scope is reviewed: `Cache-Control: no-store` on authenticated and payment responses only, SEO pages cacheable",
    ),
    (
        "Security",
        "the SOC2 evidence registry holds this change (approval, rollout plan, this checklist)",
    ),
    (
        "Security",
        "application logs are sanitized at the source (the rehearsal only samples them for PII)",
    ),
    (
        "Responsible AI",
        "AI features carry their user-facing disclosures in the canary build",
    ),
    (
        "Responsible AI",
        "a red-team pass on the canary build's AI features is done and its findings triaged",
    ),
    (
        "Release owner",
        "runbooks are linked in the channel topic: rollback, P0 incident, paid campaigns switch-on",
    ),
];

fn line(r: &GateRow) -> String {
    let d = r.gate.def();
    let mut s = format!(
        "- [{}] {} `{}` ({}): **{}**",
        if r.state.passed() { "x" } else { " " },
        d.label,
        d.id,
        role(r.gate),
        r.state.as_str()
    );
    let m = measured(r);
    if !m.is_empty() {
        s.push_str(&format!(": {m}"));
    }
    for e in &r.evidence {
        s.push_str(&format!("\n  - evidence: {}", e.replace('\n', " ")));
    }
    if r.state == RowState::NotEvaluated {
        s.push_str(&format!(
            " (no `{}` stream or column: prove it another way or accept the gap)",
            d.stream.as_str()
        ));
    }
    s
}

/// The checklist.
pub fn checklist(room: &ShipRoom) -> String {
    let mut out = String::new();
    out.push_str(&format!("# Go/no-go checklist: {}\n\n", room.dataset));
    out.push_str(&format!(
        "Rehearsal from T0 {} to {}. Outcome: **{}**.\n\n",
        format_rfc3339(room.t0),
        format_rfc3339(room.end),
        outcome_words(room)
    ));
    out.push_str("Boxes ticked by the data are checked; an open box needs a person.\n\n");
    for (i, s) in room.stages.iter().enumerate() {
        let verdict = match s.verdict {
            Verdict::Go => "GO",
            Verdict::Hold => "HOLD",
            Verdict::Rollback => "ROLLBACK",
            Verdict::NotRun => "NOT RUN",
        };
        out.push_str(&format!(
            "## Stage {}: {} ({} of traffic, {} -> {}): {verdict}\n\n",
            i + 1,
            s.name,
            pct(s.weight),
            format_clock(s.start),
            format_clock(s.end),
        ));
        if s.verdict == Verdict::NotRun {
            out.push_str("- [ ] not run: an earlier stage stopped the rollout\n\n");
            continue;
        }
        if let Some(at) = s.judged_at {
            let reasons: Vec<&str> = s.reasons.iter().map(|g| g.as_str()).collect();
            out.push_str(&format!(
                "Judged at {}{}.\n\n",
                format_clock(at),
                if reasons.is_empty() {
                    String::new()
                } else {
                    format!(" on {}", reasons.join(", "))
                }
            ));
        }
        for r in &s.rows {
            out.push_str(&line(r));
            out.push('\n');
        }
        out.push('\n');
    }
    out.push_str("## Sign-offs the data cannot prove\n\n");
    for (owner, what) in SIGN_OFFS {
        out.push_str(&format!("- [ ] **{owner}**: {what}\n"));
    }
    out.push('\n');
    if !room.follow_ups.is_empty() {
        out.push_str("## Follow-ups\n\n");
        for f in &room.follow_ups {
            out.push_str(&format!(
                "- [ ] `{}` in {} at {}: {}\n",
                f.kind,
                f.stage,
                format_clock(f.at),
                f.detail
            ));
        }
        out.push('\n');
    }
    out
}
