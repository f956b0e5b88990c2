//! The status updates the ship room would see, as Slack Block Kit messages (one JSON
//! object per line): one per stage transition (a stage's verdict and what comes next),
//! the P0 alert when a stage rolls back (it replaces that stage's transition message),
//! the final outcome, and, after a complete rollout whose full stage ran 2 h stable, the
//! board note (uptime, latency, early funnel conversion, "customer note: eligible").

use serde_json::{Value, json};

use super::{ShipRoom, outcome_words, pct};
use crate::gate::Gate;
use crate::input::Millis;
use crate::time::{format_clock, format_rfc3339};
use crate::verdict::{GateState, Outcome, Verdict};

/// How long the full stage must run stable before the board note.
pub const STABLE_MS: Millis = 2 * 3_600_000;

fn message(fallback: &str, header: &str, body: &str, context: &str) -> Value {
    json!({
        "text": fallback,
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": header, "emoji": true}},
            {"type": "section", "text": {"type": "mrkdwn", "text": body}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": context}]},
        ]
    })
}

/// The board note's figures over the full stage, when the rollout earned it.
#[derive(Clone, Debug, PartialEq)]
pub struct BoardNote {
    pub stage: String,
    pub stable_ms: Millis,
    /// The lowest windowed availability (1 - the 5xx share of canary requests in the
    /// window), and the worst windowed p95 and p99 (ms).
    pub availability: Option<f64>,
    pub p95: Option<f64>,
    pub p99: Option<f64>,
    /// Free -> paid conversion of the included persons (paying / visitors).
    pub conversion: Option<(u64, u64)>,
}

/// The board note, when the outcome is complete and the first stage at 100 % of traffic
/// ran at least [`STABLE_MS`] to the rollout's end.
pub fn board_note(room: &ShipRoom) -> Option<BoardNote> {
    if room.outcome != Outcome::Complete {
        return None;
    }
    let si = room.stages.iter().position(|s| s.weight >= 1.0)?;
    let full = &room.stages[si];
    let stable = room.end - full.start;
    if full.verdict != Verdict::Go || stable < STABLE_MS {
        return None;
    }
    let worst = |g: Gate, high: bool| -> Option<f64> {
        room.ticks
            .iter()
            .filter(|t| t.stage >= si)
            .filter_map(|t| t.gates.iter().find(|x| x.gate == g))
            .filter(|x| x.state != GateState::NotEvaluated)
            .filter_map(|x| x.value.filter(|v| v.is_finite()))
            .reduce(|a, b| if (b > a) == high { b } else { a })
    };
    Some(BoardNote {
        stage: full.name.clone(),
        stable_ms: stable,
        availability: worst(Gate::ErrorRate5xx, true).map(|r| 1.0 - r),
        p95: worst(Gate::LatencyP95, true),
        p99: worst(Gate::LatencyP99, true),
        conversion: room.funnel.as_ref().map(|f| (f.paying, f.visitors)),
    })
}

fn hours(ms: Millis) -> String {
    let h = ms as f64 / 3_600_000.0;
    if (h - h.round()).abs() < 1e-9 {
        format!("{h:.0} h")
    } else {
        format!("{h:.1} h")
    }
}

/// Every update, in order.
pub fn updates(room: &ShipRoom) -> Vec<Value> {
    let mut out = Vec::new();
    let ctx = |at: Millis| format!("rehearsal of {} · {}", room.dataset, format_rfc3339(at));
    for (i, s) in room.stages.iter().enumerate() {
        let Some(at) = s.judged_at else { continue };
        let next = room.stages.get(i + 1);
        let evidence: Vec<String> = s
            .rows
            .iter()
            .flat_map(|r| r.evidence.iter().map(|e| format!("• {e}")))
            .collect();
        match s.verdict {
            Verdict::Go => {
                let then = match next {
                    Some(n) => format!(
                        "Next: *{}* at {} of traffic from {}.",
                        n.name,
                        pct(n.weight),
                        format_clock(n.start)
                    ),
                    None => "That was the last stage.".to_string(),
                };
                let body = format!(
                    "*{}* ({} of traffic, {} -> {}) went: every Go gate held and no trigger fired. {then}",
                    s.name,
                    pct(s.weight),
                    format_clock(s.start),
                    format_clock(s.end)
                );
                out.push(message(
                    &format!("{}: GO", s.name),
                    &format!("✅ {}: GO", s.name),
                    &body,
                    &ctx(at),
                ));
            }
            Verdict::Hold => {
                let reasons: Vec<&str> = s.reasons.iter().map(|g| g.as_str()).collect();
                let body = format!(
                    "*{}* ({} of traffic) holds at {} on {}. The rollout stays at this stage until the cause is fixed.\n{}",
                    s.name,
                    pct(s.weight),
                    format_clock(at),
                    reasons.join(", "),
                    evidence.join("\n")
                );
                out.push(message(
                    &format!("{}: HOLD ({})", s.name, reasons.join(", ")),
                    &format!("⚠️ {}: HOLD", s.name),
                    &body,
                    &ctx(at),
                ));
            }
            Verdict::Rollback => {
                let fired: Vec<&str> = room
                    .rollback
                    .as_ref()
                    .map(|r| r.2.iter().map(|g| g.as_str()).collect())
                    .unwrap_or_default();
                let p0: Vec<String> = room
                    .follow_ups
                    .iter()
                    .filter(|f| f.kind == "p0_incident")
                    .map(|f| format!("• {}: {}", f.kind, f.detail))
                    .collect();
                let body = format!(
                    "*P0*: *{}* ({} of traffic) rolled back at {}: {} fired. Traffic returns to the baseline build; open the P0 incident and follow the rollback runbook.\n{}{}{}",
                    s.name,
                    pct(s.weight),
                    format_clock(at),
                    fired.join(", "),
                    evidence.join("\n"),
                    if p0.is_empty() { "" } else { "\n" },
                    p0.join("\n")
                );
                out.push(message(
                    &format!("P0: {} rolled back ({})", s.name, fired.join(", ")),
                    &format!("🚨 P0: {} ROLLBACK", s.name),
                    &body,
                    &ctx(at),
                ));
            }
            Verdict::NotRun => {}
        }
    }
    let words = outcome_words(room);
    out.push(message(
        &format!("Rollout outcome: {words}"),
        &format!("Rollout outcome: {}", room.outcome.as_str().to_uppercase()),
        &format!("*{words}*"),
        &ctx(room.end),
    ));
    if let Some(b) = board_note(room) {
        let na = || "not measured".to_string();
        let body = format!(
            "Board note: the rollout is complete and *{}* has run {} stable at 100 % of traffic.\n• uptime: {}\n• latency: p95 {}, p99 {}\n• early funnel conversion (free -> paid): {}\n*customer note: eligible*",
            b.stage,
            hours(b.stable_ms),
            b.availability
                .map_or_else(na, |a| format!("{:.3} % (lowest window)", a * 100.0)),
            b.p95.map_or_else(na, |v| format!("≈{v:.1} ms")),
            b.p99
                .map_or_else(na, |v| format!("≈{v:.1} ms (worst window)")),
            b.conversion.map_or_else(na, |(x, n)| if n == 0 {
                "no visitors".to_string()
            } else {
                format!("{:.2} % ({x} of {n} visitors)", x as f64 * 100.0 / n as f64)
            }),
        );
        out.push(message(
            "Board note: rollout complete, customer note: eligible",
            "📋 Board note",
            &body,
            &ctx(room.end),
        ));
    }
    out
}

/// The updates as NDJSON (one message per line, final newline).
pub fn ndjson(room: &ShipRoom) -> String {
    let mut s = String::new();
    for m in updates(room) {
        s.push_str(&m.to_string());
        s.push('\n');
    }
    s
}
