//! The report of `rehearse sweep`: every combination of the varied values grouped by
//! what the rollout does (outcome, stage, instant, reasons), in order of first
//! appearance, with the values each group saw per axis and its exact combinations as
//! disjoint boxes (per axis a run of consecutive values); as JSON or for a person.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::ser::SerializeSeq as _;
use serde::{Serialize, Serializer};
use serde_json::value::RawValue;

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
    /// Per axis, the values seen in the group (in axis order): a summary, since a group
    /// over several axes need not hold every combination of them; `boxes` says which.
    pub values: Vec<Vec<String>>,
    /// The group's combinations exactly: disjoint boxes whose union is the group, in
    /// order of their first combination.
    #[serde(serialize_with = "compact_boxes")]
    pub boxes: Vec<ComboBox>,
}

/// A box of combinations: per axis (in axis order), an inclusive range `[first, last]`
/// of indexes into the axis's values. It holds every combination of those values.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ComboBox(pub Vec<[usize; 2]>);

impl ComboBox {
    /// How many combinations the box holds.
    pub fn combinations(&self) -> u64 {
        self.0.iter().map(|[lo, hi]| (hi - lo + 1) as u64).product()
    }

    /// Its first combination's value index on each axis.
    fn first(&self) -> Vec<usize> {
        self.0.iter().map(|r| r[0]).collect()
    }
}

/// The boxes as JSON, one compact line each (`[[0,2],[5,5]]`): pretty-printed, every
/// index would take a line and a large sweep's report several times the bytes.
fn compact_boxes<S: Serializer>(boxes: &[ComboBox], s: S) -> Result<S::Ok, S::Error> {
    let mut seq = s.serialize_seq(Some(boxes.len()))?;
    for b in boxes {
        let ranges: Vec<String> = b.0.iter().map(|[lo, hi]| format!("[{lo},{hi}]")).collect();
        let raw = RawValue::from_string(format!("[{}]", ranges.join(",")))
            .map_err(serde::ser::Error::custom)?;
        seq.serialize_element(&raw)?;
    }
    seq.end()
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
/// appearance among the combinations, each with the boxes that cover it exactly.
pub fn report(
    dataset: &str,
    policy: &Policy,
    axes: &[AxisReport],
    results: &[SweepVerdict],
    base: &SweepVerdict,
) -> SweepReport {
    let dims: Vec<usize> = axes.iter().map(|a| a.values.len()).collect();
    let mut index: BTreeMap<(u8, usize, i64, u32), usize> = BTreeMap::new();
    let mut verdicts: Vec<SweepVerdict> = Vec::new();
    let boxes = cover(&dims, results, &mut |r: &SweepVerdict| {
        *index.entry(group_key(r)).or_insert_with(|| {
            verdicts.push(*r);
            verdicts.len() - 1
        })
    });
    let mut per_group: Vec<Vec<ComboBox>> = vec![Vec::new(); verdicts.len()];
    for (g, b) in boxes {
        per_group[g].push(b);
    }
    SweepReport {
        dataset: dataset.to_string(),
        axes: axes.to_vec(),
        variants: results.len() as u64,
        base: VerdictReport::of(base, policy),
        groups: verdicts
            .iter()
            .zip(per_group)
            .map(|(v, mut boxes)| {
                boxes.sort_by_cached_key(ComboBox::first);
                GroupReport {
                    verdict: VerdictReport::of(v, policy),
                    variants: boxes.iter().map(ComboBox::combinations).sum(),
                    values: axes
                        .iter()
                        .enumerate()
                        .map(|(a, axis)| values_seen(&boxes, a, &axis.values))
                        .collect(),
                    boxes,
                }
            })
            .collect(),
    }
}

/// The values the boxes hold on axis `a`, in axis order.
fn values_seen(boxes: &[ComboBox], a: usize, values: &[String]) -> Vec<String> {
    let mut ranges: Vec<[usize; 2]> = boxes.iter().map(|b| b.0[a]).collect();
    ranges.sort_unstable();
    let mut seen = Vec::new();
    let mut next = 0;
    for [lo, hi] in ranges {
        if hi >= next {
            seen.extend_from_slice(&values[lo.max(next)..=hi]);
            next = hi + 1;
        }
    }
    seen
}

/// Covers a grid of items (axes of `dims` values, the last varying fastest) with
/// disjoint boxes of equal items, greedily: runs along the last axis, then, on each
/// earlier axis from the last up, a box of the axes after it stretches over consecutive
/// values that hold the same box. `group` names an item's group and is called in order
/// of first appearance. The boxes come as (group, box), in no particular order.
fn cover<T: PartialEq>(
    dims: &[usize],
    items: &[T],
    group: &mut impl FnMut(&T) -> usize,
) -> Vec<(usize, ComboBox)> {
    let mut out = cover_reversed(dims, items, group);
    for (_, b) in &mut out {
        b.0.reverse();
    }
    out
}

/// [`cover`], with each box's ranges from the last axis to the first.
fn cover_reversed<T: PartialEq>(
    dims: &[usize],
    items: &[T],
    group: &mut impl FnMut(&T) -> usize,
) -> Vec<(usize, ComboBox)> {
    let Some((&n, rest)) = dims.split_first() else {
        return Vec::new();
    };
    if n == 0 || items.is_empty() {
        return Vec::new();
    }
    debug_assert_eq!(items.len() % n, 0, "the items fill the grid");
    let mut out = Vec::new();
    if rest.is_empty() {
        let mut lo = 0;
        for i in 1..=n {
            if i == n || items[i] != items[lo] {
                out.push((group(&items[lo]), ComboBox(vec![[lo, i - 1]])));
                lo = i;
            }
        }
        return out;
    }
    let stride = items.len() / n;
    // The boxes of the axes after this one that hold at the current value, with the
    // first value since which they have held without a break.
    let mut open: BTreeMap<(usize, ComboBox), usize> = BTreeMap::new();
    for i in 0..n {
        let mut now = BTreeMap::new();
        for key in cover_reversed(rest, &items[i * stride..(i + 1) * stride], group) {
            let since = open.remove(&key).unwrap_or(i);
            now.insert(key, since);
        }
        for ((g, mut b), since) in std::mem::replace(&mut open, now) {
            b.0.push([since, i - 1]);
            out.push((g, b));
        }
    }
    for ((g, mut b), since) in open {
        b.0.push([since, n - 1]);
        out.push((g, b));
    }
    out
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

/// `1 variant`, `2 variants`.
fn variants_text(n: u64) -> String {
    if n == 1 {
        "1 variant".to_string()
    } else {
        format!("{n} variants")
    }
}

/// A box on one line: `key=values x key=values`, each axis's values as
/// [`values_text`] shortens them (exact, since a box's values on an axis are consecutive).
fn box_text(axes: &[AxisReport], b: &ComboBox) -> String {
    axes.iter()
        .zip(&b.0)
        .map(|(a, &[lo, hi])| {
            format!(
                "{}={}",
                a.key,
                values_text(&a.values[lo..=hi], a.values.len())
            )
        })
        .collect::<Vec<_>>()
        .join(" x ")
}

/// The report for a person.
pub fn human(r: &SweepReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "sweep over {}: {} of {}",
        r.dataset,
        variants_text(r.variants),
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
        let _ = writeln!(
            out,
            "{}  {}{mark}",
            g.verdict.line(),
            variants_text(g.variants)
        );
        for (a, vals) in r.axes.iter().zip(&g.values) {
            let _ = writeln!(
                out,
                "    {:<34} {}",
                a.key,
                values_text(vals, a.values.len())
            );
        }
        let n = g.boxes.len();
        let _ = writeln!(
            out,
            "    combinations ({n} {}):",
            if n == 1 { "box" } else { "boxes" }
        );
        for b in &g.boxes {
            let _ = writeln!(out, "      {}", box_text(&r.axes, b));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A grid's dimensions and a group id per combination.
    fn grid() -> impl Strategy<Value = (Vec<usize>, Vec<u8>)> {
        proptest::collection::vec(1usize..=5, 1..=4).prop_flat_map(|dims| {
            let total: usize = dims.iter().product();
            // Few groups make large boxes, many make fragments.
            (1u8..=5).prop_flat_map(move |k| {
                (Just(dims.clone()), proptest::collection::vec(0..k, total))
            })
        })
    }

    /// The combination indexes of a box.
    fn expand(dims: &[usize], b: &ComboBox) -> Vec<usize> {
        let mut out = vec![0usize];
        for (&n, &[lo, hi]) in dims.iter().zip(&b.0) {
            assert!(lo <= hi && hi < n, "{b:?} within {dims:?}");
            out = out
                .iter()
                .flat_map(|i| (lo..=hi).map(move |j| i * n + j))
                .collect();
        }
        out
    }

    fn verdict(id: u8) -> SweepVerdict {
        SweepVerdict {
            outcome: [Outcome::Complete, Outcome::Hold, Outcome::Rollback][id as usize % 3],
            stage: 1,
            at: 1_000 * id as i64,
            reasons: 1,
        }
    }

    fn axes(dims: &[usize]) -> Vec<AxisReport> {
        dims.iter()
            .enumerate()
            .map(|(a, &n)| AxisReport {
                key: format!("k{a}"),
                values: (0..n).map(|j| format!("v{a}.{j}")).collect(),
            })
            .collect()
    }

    proptest! {
        #[test]
        fn boxes_cover_each_group_exactly_and_do_not_overlap((dims, ids) in grid()) {
            let mut order: Vec<u8> = Vec::new();
            let boxes = cover(&dims, &ids, &mut |id: &u8| {
                match order.iter().position(|x| x == id) {
                    Some(g) => g,
                    None => {
                        order.push(*id);
                        order.len() - 1
                    }
                }
            });
            // Groups are named in order of first appearance.
            let mut first: Vec<u8> = Vec::new();
            for id in &ids {
                if !first.contains(id) {
                    first.push(*id);
                }
            }
            prop_assert_eq!(&order, &first);
            let mut owner: Vec<Option<usize>> = vec![None; ids.len()];
            for (g, b) in &boxes {
                prop_assert_eq!(b.0.len(), dims.len());
                for i in expand(&dims, b) {
                    prop_assert!(owner[i].is_none(), "{:?} overlaps at {}", b, i);
                    owner[i] = Some(*g);
                }
            }
            for (i, id) in ids.iter().enumerate() {
                prop_assert_eq!(owner[i].map(|g| order[g]), Some(*id), "combination {}", i);
            }
        }

        #[test]
        fn the_report_counts_and_summarises_its_boxes((dims, ids) in grid()) {
            let results: Vec<SweepVerdict> = ids.iter().map(|&i| verdict(i)).collect();
            let axes = axes(&dims);
            let r = report("d", &Policy::default_policy(), &axes, &results, &results[0]);
            let mut first: Vec<u8> = Vec::new();
            for id in &ids {
                if !first.contains(id) {
                    first.push(*id);
                }
            }
            prop_assert_eq!(r.groups.len(), first.len());
            let combos: Vec<Vec<usize>> = (0..ids.len())
                .map(|i| {
                    let mut idx = vec![0usize; axes.len()];
                    indexes(&axes, i as u64, &mut idx);
                    idx
                })
                .collect();
            for (g, id) in r.groups.iter().zip(&first) {
                prop_assert_eq!(&g.verdict, &VerdictReport::of(&verdict(*id), &Policy::default_policy()));
                let count = ids.iter().filter(|x| *x == id).count() as u64;
                prop_assert_eq!(g.variants, count);
                prop_assert_eq!(g.boxes.iter().map(ComboBox::combinations).sum::<u64>(), count);
                let firsts: Vec<Vec<usize>> = g.boxes.iter().map(ComboBox::first).collect();
                prop_assert!(firsts.windows(2).all(|w| w[0] < w[1]), "in order: {:?}", firsts);
                for (a, axis) in axes.iter().enumerate() {
                    let want: Vec<String> = (0..axis.values.len())
                        .filter(|&j| (0..ids.len()).any(|i| ids[i] == *id && combos[i][a] == j))
                        .map(|j| axis.values[j].clone())
                        .collect();
                    prop_assert_eq!(&g.values[a], &want);
                }
            }
        }
    }

    #[test]
    fn a_group_lists_exactly_its_combinations_in_json_and_text() {
        // 3 x 3: the group of id 1 holds (0,0), (0,1) and (1,0), not all 9 pairs.
        let ids = [1, 1, 0, 1, 0, 0, 0, 0, 0];
        let results: Vec<SweepVerdict> = ids.iter().map(|&i| verdict(i)).collect();
        let axes = axes(&[3, 3]);
        let r = report("d", &Policy::default_policy(), &axes, &results, &results[8]);
        let g = &r.groups[0];
        assert_eq!(g.variants, 3);
        assert_eq!(
            g.boxes,
            [
                ComboBox(vec![[0, 0], [0, 1]]),
                ComboBox(vec![[1, 1], [0, 0]])
            ]
        );
        let json = serde_json::to_string_pretty(&r).unwrap();
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(
            v["groups"][0]["boxes"],
            serde_json::json!([[[0, 0], [0, 1]], [[1, 1], [0, 0]]])
        );
        assert!(
            json.contains("\"boxes\": [\n        [[0,0],[0,1]],\n"),
            "{json}"
        );
        let text = human(&r);
        assert!(
            text.contains(
                "  3 variants\n    k0                                 v0.0, v0.1\n    k1                                 v1.0, v1.1\n    combinations (2 boxes):\n      k0=v0.0 x k1=v1.0, v1.1\n      k0=v0.1 x k1=v1.0\n"
            ),
            "{text}"
        );
        assert!(text.contains("  6 variants  (as the base)\n"), "{text}");
    }

    #[test]
    fn one_variant_is_singular() {
        let results = [verdict(2)];
        let axes = axes(&[1]);
        let text = human(&report(
            "d",
            &Policy::default_policy(),
            &axes,
            &results,
            &results[0],
        ));
        assert!(
            text.starts_with("sweep over d: 1 variant of k0 (1 values)\n"),
            "{text}"
        );
        assert!(text.contains("  1 variant  (as the base)\n"), "{text}");
        assert!(
            text.contains("    combinations (1 box):\n      k0=v0.0\n"),
            "{text}"
        );
    }

    #[test]
    fn a_million_combinations_in_regions_make_a_report_of_a_few_mb() {
        // 100 x 100 x 100 with verdicts that change across slanted planes (every row
        // of the last axis cut differently): the hard common case for boxes.
        let dims = [100usize, 100, 100];
        let results: Vec<SweepVerdict> = (0..1_000_000usize)
            .map(|i| verdict(((i / 10_000 + i / 100 % 100 + i % 100) / 60) as u8))
            .collect();
        let axes = axes(&dims);
        let r = report("d", &Policy::default_policy(), &axes, &results, &results[0]);
        assert_eq!(r.groups.len(), 5);
        let json = serde_json::to_string_pretty(&r).unwrap();
        let text = human(&r);
        assert!(json.len() < 3_000_000, "{} bytes of JSON", json.len());
        assert!(text.len() < 3_000_000, "{} bytes of text", text.len());
    }
}
