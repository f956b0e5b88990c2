//! The report of `rehearse sweep`: every combination of the varied values grouped by
//! what the rollout does (outcome, stage, instant, reasons), in order of first
//! appearance, with the values each group saw per axis; as JSON or for a person.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use crate::engine::whatif::SweepVerdict;
use crate::policy::Policy;
use crate::time::format_clock;
use crate::verdict::Outcome;

/// The combination `i`'s value index on each axis (the last axis varies fastest).
pub fn indexes(axes: &[AxisReport], mut i: u64, out: &mut [usize]) {
    for (a, slot) in axes.iter().zip(out.iter_mut()).rev() {
        let n = a.values.len() as u64;
        *slot = (i % n) as usize;
        i /= n;
    }
}

/// What a rollout does: outcome, the stage that rolled back or held (`null` when
/// complete), when it ended, and why.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct VerdictReport {
    pub outcome: &'static str,
    pub stage: Option<String>,
    pub at: String,
    pub reasons: Vec<&'static str>,
}

impl VerdictReport {
    fn of(v: &SweepVerdict, policy: &Policy) -> Self {
        VerdictReport {
            outcome: v.outcome.as_str(),
            stage: (v.outcome != Outcome::Complete)
                .then(|| policy.stages.get(v.stage).map(|s| s.name.clone()))
                .flatten(),
            at: crate::time::format_rfc3339(v.at),
            reasons: v.reason_gates().iter().map(|g| g.as_str()).collect(),
        }
    }

    /// One line: `ROLLBACK ramp-25 at 12:56:00 (error_rate_5xx)`.
    fn line(&self) -> String {
        let at = crate::time::parse_rfc3339(&self.at).map_or(self.at.clone(), format_clock);
        match &self.stage {
            None => format!("{} at {at}", self.outcome.to_ascii_uppercase()),
            Some(stage) => format!(
                "{} {stage} at {at} ({})",
                self.outcome.to_ascii_uppercase(),
                self.reasons.join(", ")
            ),
        }
    }
}

/// What a group of combinations does, as the report shows it.
#[derive(Clone, Debug, Serialize)]
pub struct GroupReport {
    #[serde(flatten)]
    pub verdict: VerdictReport,
    pub variants: u64,
    /// Per axis, the values seen in the group (in axis order).
    pub values: Vec<Vec<String>>,
}

/// The sweep's report.
#[derive(Clone, Debug, Serialize)]
pub struct SweepReport {
    pub dataset: String,
    pub axes: Vec<AxisReport>,
    pub variants: u64,
    /// What the base policy (without any varied value) does.
    pub base: VerdictReport,
    /// Groups of combinations with the same result, in order of first appearance (the
    /// last axis varies fastest).
    pub groups: Vec<GroupReport>,
}

/// One varied key and its values as written.
#[derive(Clone, Debug, Serialize)]
pub struct AxisReport {
    pub key: String,
    pub values: Vec<String>,
}

fn group_key(v: &SweepVerdict) -> (u8, usize, i64, u32) {
    let o = match v.outcome {
        Outcome::Complete => 0,
        Outcome::Hold => 1,
        Outcome::Rollback => 2,
    };
    (o, v.stage, v.at, v.reasons)
}

/// Groups the results by outcome, stage, instant and reasons, in order of first
/// appearance among the combinations.
pub fn report(
    dataset: &str,
    policy: &Policy,
    axes: &[AxisReport],
    results: &[SweepVerdict],
    base: &SweepVerdict,
) -> SweepReport {
    let mut index: BTreeMap<(u8, usize, i64, u32), usize> = BTreeMap::new();
    let mut groups: Vec<(SweepVerdict, u64, Vec<Vec<bool>>)> = Vec::new();
    let mut idx = vec![0usize; axes.len()];
    for (i, r) in results.iter().enumerate() {
        let g = *index.entry(group_key(r)).or_insert_with(|| {
            groups.push((
                *r,
                0,
                axes.iter().map(|a| vec![false; a.values.len()]).collect(),
            ));
            groups.len() - 1
        });
        indexes(axes, i as u64, &mut idx);
        let entry = &mut groups[g];
        entry.1 += 1;
        for (seen, j) in entry.2.iter_mut().zip(&idx) {
            seen[*j] = true;
        }
    }
    SweepReport {
        dataset: dataset.to_string(),
        axes: axes.to_vec(),
        variants: results.len() as u64,
        base: VerdictReport::of(base, policy),
        groups: groups
            .into_iter()
            .map(|(v, n, seen)| GroupReport {
                verdict: VerdictReport::of(&v, policy),
                variants: n,
                values: seen
                    .iter()
                    .zip(axes)
                    .map(|(s, a)| {
                        s.iter()
                            .zip(&a.values)
                            .filter(|(x, _)| **x)
                            .map(|(_, l)| l.clone())
                            .collect()
                    })
                    .collect(),
            })
            .collect(),
    }
}

/// A group's values on one axis, short: every value, or `first..last (n of m)`.
fn values_text(vals: &[String], all: usize) -> String {
    if vals.len() == all && all > 1 {
        return format!("all {all}");
    }
    if vals.len() <= 4 {
        return vals.join(", ");
    }
    format!(
        "{}..{} ({} of {all})",
        vals[0],
        vals[vals.len() - 1],
        vals.len()
    )
}

/// The report for a person.
pub fn human(r: &SweepReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "sweep over {}: {} variants of {}",
        r.dataset,
        r.variants,
        r.axes
            .iter()
            .map(|a| format!("{} ({} values)", a.key, a.values.len()))
            .collect::<Vec<_>>()
            .join(" x ")
    );
    let _ = writeln!(out, "base policy: {}", r.base.line());
    for g in &r.groups {
        let mark = if g.verdict == r.base {
            "  (as the base)"
        } else {
            ""
        };
        let _ = writeln!(out);
        let _ = writeln!(out, "{}  {} variants{mark}", g.verdict.line(), g.variants);
        for (a, vals) in r.axes.iter().zip(&g.values) {
            let _ = writeln!(
                out,
                "    {:<34} {}",
                a.key,
                values_text(vals, a.values.len())
            );
        }
    }
    out
}
