//! The `rehearse tune` report: the shard summary a range of combinations reduces to
//! ([`TunePartial`]: its Pareto front over (missed, false stops, mean time to detect)
//! and its best combination, with each item's outcome), the merge of summaries into
//! the report ([`finish`]: the same bytes whether the combinations were judged in one
//! process or many), the recommended policy as a partial policy file, and the table.
//! Combinations are ordered by one total order ([`better`]): fewer misses, then fewer
//! false stops, then a shorter mean time to detect, then the looser policy, then the
//! earlier combination; the recommended one is the first in that order.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A varied key and its values, as given.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AxisReport {
    pub key: String,
    pub values: Vec<String>,
}

/// A combination's tally over the library.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Score {
    /// Incidents stopped in time.
    pub caught: u32,
    /// Incidents stopped, but after their stage or their `stop_by`.
    pub late: u32,
    /// Incidents never stopped.
    pub missed: u32,
    /// Incidents stopped before their fault began.
    pub premature: u32,
    /// Clean items held or rolled back.
    pub false_holds: u32,
    pub false_rollbacks: u32,
    /// The sum of the times to detect of the incidents stopped (caught or late), ms.
    pub ttd_ms: u64,
    /// Canary requests exposed to a fault before its stop (or to the rollout's end).
    pub exposed: u64,
}

impl Score {
    /// Incidents not stopped in time (missed or late).
    pub fn misses(&self) -> u32 {
        self.missed + self.late
    }

    /// Stops on noise: false holds, false rollbacks, stops before a fault began.
    pub fn false_stops(&self) -> u32 {
        self.false_holds + self.false_rollbacks + self.premature
    }

    pub fn detected(&self) -> u32 {
        self.caught + self.late
    }

    /// The mean time to detect as a reduced fraction of ms (`None` when nothing was
    /// detected: worse than any time).
    fn mean(&self) -> Option<(u64, u64)> {
        let d = self.detected() as u64;
        if d == 0 {
            return None;
        }
        let g = gcd(self.ttd_ms, d);
        Some((self.ttd_ms / g, d / g))
    }

    pub fn mean_ttd_s(&self) -> Option<f64> {
        self.mean().map(|(n, d)| n as f64 / d as f64 / 1000.0)
    }

    /// The Pareto objectives, exactly.
    fn objectives(&self) -> Objectives {
        (self.misses(), self.false_stops(), self.mean())
    }

    /// Whether it misses nothing and stops nothing clean.
    pub fn meets_goal(&self) -> bool {
        self.misses() == 0 && self.false_stops() == 0
    }
}

/// Misses, false stops and the mean time to detect (a reduced fraction of ms).
type Objectives = (u32, u32, Option<(u64, u64)>);

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a.max(1)
}

fn cmp_mean(a: Option<(u64, u64)>, b: Option<(u64, u64)>) -> Ordering {
    match (a, b) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Greater,
        (Some(_), None) => Ordering::Less,
        (Some((an, ad)), Some((bn, bd))) => {
            (an as u128 * bd as u128).cmp(&(bn as u128 * ad as u128))
        }
    }
}

/// A combination: its index, values, looseness (the sum of its values' ranks from the
/// tightest) and score.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Combo {
    pub index: u64,
    pub values: Vec<String>,
    pub looseness: u64,
    pub score: Score,
}

/// The total order of combinations: `Less` when `a` is the better.
pub fn better(a: &Combo, b: &Combo) -> Ordering {
    a.score
        .misses()
        .cmp(&b.score.misses())
        .then(a.score.false_stops().cmp(&b.score.false_stops()))
        .then(cmp_mean(a.score.mean(), b.score.mean()))
        .then(b.looseness.cmp(&a.looseness))
        .then(a.index.cmp(&b.index))
}

/// Whether `a`'s objectives dominate `b`'s.
fn dominates(a: &Score, b: &Score) -> bool {
    let le = a.misses() <= b.misses()
        && a.false_stops() <= b.false_stops()
        && cmp_mean(a.mean(), b.mean()) != Ordering::Greater;
    le && a.objectives() != b.objectives()
}

/// A point of the Pareto front: the best combination with these objectives and how
/// many combinations share them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FrontPoint {
    pub combo: Combo,
    pub variants: u64,
}

/// What a library item is.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ItemReport {
    pub name: String,
    /// `scenario` or `dataset`.
    pub source: String,
    /// `incident` or `clean`.
    pub kind: String,
    /// An incident's stage, fault start and the instant it must be stopped by.
    pub stage: Option<String>,
    pub fault_start: Option<String>,
    pub stop_by: Option<String>,
}

/// How one combination fares on one item.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ItemOutcome {
    pub name: String,
    /// caught, late, missed, premature (incidents); pass, false_hold, false_rollback (clean).
    pub result: String,
    /// complete, hold or rollback.
    pub outcome: String,
    pub stage: Option<String>,
    pub at: Option<String>,
    pub reasons: Vec<String>,
    pub time_to_detect_s: Option<f64>,
    pub exposed: Option<u64>,
    /// Clean items: per stage with canary traffic, the odds of a false hold and of a
    /// false rollback under this combination, each `[p, low, high]`.
    pub false_stop_odds: Vec<StageOddsBrief>,
}

/// One stage's odds of a false stop.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StageOddsBrief {
    pub stage: String,
    pub hold: [f64; 3],
    pub rollback: [f64; 3],
}

/// A combination with every item's outcome.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    pub combo: Combo,
    pub items: Vec<ItemOutcome>,
}

/// Which range of combinations a summary covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardReport {
    pub index: u64,
    pub count: u64,
    /// Combinations `first..end` (0-based, in `--vary` order, the last key fastest).
    pub first: u64,
    pub end: u64,
}

/// The summary of a range of combinations (`rehearse tune --shard i/N` prints it;
/// `rehearse merge` reads it).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TunePartial {
    /// Always `tune_shard`.
    pub kind: String,
    pub library: String,
    pub axes: Vec<AxisReport>,
    pub items: Vec<ItemReport>,
    pub combinations: u64,
    pub shard: ShardReport,
    /// Combinations of the range that miss nothing and stop nothing clean.
    pub meeting_goal: u64,
    pub front: Vec<FrontPoint>,
    pub best: Option<Candidate>,
}

/// The kind tag of a tune shard summary.
pub const PARTIAL_KIND: &str = "tune_shard";

/// Reduces the scores of a range of combinations (`(index, score, looseness)`, any
/// order) to its summary. `values` gives a combination's values; `outcomes` its items'.
#[allow(clippy::too_many_arguments)]
pub fn partial(
    library: String,
    axes: Vec<AxisReport>,
    items: Vec<ItemReport>,
    combinations: u64,
    shard: ShardReport,
    scores: &[(u64, Score, u64)],
    values: &dyn Fn(u64) -> Vec<String>,
    outcomes: &dyn Fn(u64) -> Vec<ItemOutcome>,
) -> TunePartial {
    let combo = |(i, s, l): &(u64, Score, u64)| Combo {
        index: *i,
        values: Vec::new(),
        looseness: *l,
        score: *s,
    };
    let mut groups: BTreeMap<Objectives, FrontPoint> = BTreeMap::new();
    let mut best: Option<Combo> = None;
    let mut meeting = 0u64;
    for t in scores {
        let c = combo(t);
        if c.score.meets_goal() {
            meeting += 1;
        }
        if best
            .as_ref()
            .is_none_or(|b| better(&c, b) == Ordering::Less)
        {
            best = Some(c.clone());
        }
        let e = groups.entry(c.score.objectives()).or_insert(FrontPoint {
            combo: c.clone(),
            variants: 0,
        });
        e.variants += 1;
        if better(&c, &e.combo) == Ordering::Less {
            e.combo = c;
        }
    }
    let mut front = pareto(groups.into_values().collect());
    for p in &mut front {
        p.combo.values = values(p.combo.index);
    }
    let best = best.map(|mut c| {
        c.values = values(c.index);
        Candidate {
            items: outcomes(c.index),
            combo: c,
        }
    });
    TunePartial {
        kind: PARTIAL_KIND.into(),
        library,
        axes,
        items,
        combinations,
        shard,
        meeting_goal: meeting,
        front,
        best,
    }
}

/// The non-dominated points of distinct objectives, in objective order.
fn pareto(points: Vec<FrontPoint>) -> Vec<FrontPoint> {
    let mut front: Vec<FrontPoint> = points
        .iter()
        .filter(|p| {
            !points
                .iter()
                .any(|q| dominates(&q.combo.score, &p.combo.score))
        })
        .cloned()
        .collect();
    front.sort_by(|a, b| {
        a.combo
            .score
            .misses()
            .cmp(&b.combo.score.misses())
            .then(
                a.combo
                    .score
                    .false_stops()
                    .cmp(&b.combo.score.false_stops()),
            )
            .then(cmp_mean(a.combo.score.mean(), b.combo.score.mean()))
    });
    front
}

/// Why shard summaries do not merge.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    #[error("nothing to merge")]
    Nothing,
    #[error(
        "the summaries are of different tunes (library, varied values or items differ); merge the shards of one `rehearse tune` command"
    )]
    Mismatch,
    #[error("shard {0} of {1} is missing or given twice; merge each of the {1} shards once")]
    Shards(u64, u64),
}

/// One row of the report's Pareto front.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FrontRow {
    pub values: Vec<String>,
    pub missed: u32,
    pub false_stops: u32,
    pub mean_time_to_detect_s: Option<f64>,
    pub caught: u32,
    pub late: u32,
    pub never_stopped: u32,
    pub premature: u32,
    pub false_holds: u32,
    pub false_rollbacks: u32,
    pub exposed: u64,
    /// Combinations with these objectives (the loosest is shown).
    pub variants: u64,
}

impl FrontRow {
    fn of(c: &Combo, variants: u64) -> Self {
        let s = &c.score;
        FrontRow {
            values: c.values.clone(),
            missed: s.misses(),
            false_stops: s.false_stops(),
            mean_time_to_detect_s: s.mean_ttd_s(),
            caught: s.caught,
            late: s.late,
            never_stopped: s.missed,
            premature: s.premature,
            false_holds: s.false_holds,
            false_rollbacks: s.false_rollbacks,
            exposed: s.exposed,
            variants,
        }
    }
}

/// The recommended combination.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Recommendation {
    /// Whether it misses no incident and stops no clean item; when `false` no
    /// combination does and this is the least bad (fewest misses, then fewest false
    /// stops, then the fastest).
    pub meets_goal: bool,
    pub values: Vec<KeyValue>,
    /// The partial policy file (`rehearse run --policy` takes it).
    pub policy: String,
    pub score: FrontRow,
    pub items: Vec<ItemOutcome>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct KeyValue {
    pub key: String,
    pub value: String,
}

/// The `rehearse tune` report.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TuneReport {
    pub library: String,
    pub items: Vec<ItemReport>,
    pub axes: Vec<AxisReport>,
    pub combinations: u64,
    pub meeting_goal: u64,
    pub recommended: Recommendation,
    pub pareto_front: Vec<FrontRow>,
}

/// Merges shard summaries (or the one summary of a whole run) into the report.
pub fn finish(parts: Vec<TunePartial>) -> Result<TuneReport, MergeError> {
    let first = parts.first().ok_or(MergeError::Nothing)?;
    let count = first.shard.count;
    for p in &parts {
        if p.library != first.library
            || p.axes != first.axes
            || p.items != first.items
            || p.combinations != first.combinations
            || p.shard.count != count
        {
            return Err(MergeError::Mismatch);
        }
    }
    for i in 0..count {
        if parts.iter().filter(|p| p.shard.index == i).count() != 1 {
            return Err(MergeError::Shards(i, count));
        }
    }
    if parts.len() as u64 != count {
        return Err(MergeError::Shards(count, count));
    }
    let mut groups: BTreeMap<Objectives, FrontPoint> = BTreeMap::new();
    for p in &parts {
        for f in &p.front {
            match groups.entry(f.combo.score.objectives()) {
                std::collections::btree_map::Entry::Vacant(v) => {
                    v.insert(f.clone());
                }
                std::collections::btree_map::Entry::Occupied(mut o) => {
                    let e = o.get_mut();
                    e.variants += f.variants;
                    if better(&f.combo, &e.combo) == Ordering::Less {
                        e.combo = f.combo.clone();
                    }
                }
            }
        }
    }
    let front = pareto(groups.into_values().collect());
    let best = parts
        .iter()
        .filter_map(|p| p.best.as_ref())
        .min_by(|a, b| better(&a.combo, &b.combo))
        .ok_or(MergeError::Nothing)?;
    let keys: Vec<&str> = first.axes.iter().map(|a| a.key.as_str()).collect();
    let values: Vec<KeyValue> = keys
        .iter()
        .zip(&best.combo.values)
        .map(|(k, v)| KeyValue {
            key: k.to_string(),
            value: v.clone(),
        })
        .collect();
    Ok(TuneReport {
        library: first.library.clone(),
        items: first.items.clone(),
        axes: first.axes.clone(),
        combinations: first.combinations,
        meeting_goal: parts.iter().map(|p| p.meeting_goal).sum(),
        recommended: Recommendation {
            meets_goal: best.combo.score.meets_goal(),
            policy: policy_toml(&first.library, &values, best.combo.score.meets_goal()),
            values,
            score: FrontRow::of(&best.combo, 1),
            items: best.items.clone(),
        },
        pareto_front: front
            .iter()
            .map(|p| FrontRow::of(&p.combo, p.variants))
            .collect(),
    })
}

/// The recommended values as a partial policy file.
pub fn policy_toml(library: &str, values: &[KeyValue], meets: bool) -> String {
    let mut root = toml::Table::new();
    let mut stages: Vec<toml::Table> = Vec::new();
    for kv in values {
        let value = if kv.key == "rollout.sustain" {
            toml::Value::String(kv.value.clone())
        } else {
            match kv.value.parse::<f64>() {
                Ok(x) => toml::Value::Float(x),
                Err(_) => toml::Value::String(kv.value.clone()),
            }
        };
        let parts: Vec<&str> = kv.key.split('.').collect();
        match parts.as_slice() {
            ["stages", rest @ ..] if rest.len() >= 2 => {
                let field = rest[rest.len() - 1];
                let name = rest[..rest.len() - 1].join(".");
                let pos = stages
                    .iter()
                    .position(|t| t.get("name").and_then(|v| v.as_str()) == Some(name.as_str()));
                let t = match pos {
                    Some(i) => &mut stages[i],
                    None => {
                        let mut t = toml::Table::new();
                        t.insert("name".into(), toml::Value::String(name));
                        stages.push(t);
                        stages.last_mut().expect("just pushed")
                    }
                };
                t.insert(field.into(), value);
            }
            [section, key] => {
                let t = root
                    .entry(section.to_string())
                    .or_insert_with(|| toml::Value::Table(toml::Table::new()));
                if let toml::Value::Table(t) = t {
                    t.insert(key.to_string(), value);
                    // The judge's alpha is only varied with the judge on (sweep refuses
                    // it otherwise): the file turns it on too, or its alpha moves nothing.
                    if kv.key == "judge.alpha" {
                        t.insert("enabled".into(), toml::Value::Boolean(true));
                    }
                }
            }
            _ => {}
        }
    }
    if !stages.is_empty() {
        root.insert(
            "stages".into(),
            toml::Value::Array(stages.into_iter().map(toml::Value::Table).collect()),
        );
    }
    let body = toml::to_string(&root).unwrap_or_default();
    let note = if meets {
        "misses no incident and stops no clean item"
    } else {
        "no combination misses nothing and stops nothing clean: this is the least bad"
    };
    format!(
        "# Recommended by `rehearse tune {library}`: {note}.\n# A partial policy: merge it with `rehearse run --policy FILE`.\n{body}"
    )
}

fn secs(s: Option<f64>) -> String {
    match s {
        None => "-".into(),
        Some(s) => crate::time::format_duration((s * 1000.0).round() as i64),
    }
}

/// The human table.
pub fn human(r: &TuneReport) -> String {
    use std::fmt::Write;
    let mut o = String::new();
    let incidents = r.items.iter().filter(|i| i.kind == "incident").count();
    let _ = writeln!(
        o,
        "library {}: {} items ({} incidents, {} clean), {} combinations, {} miss nothing and stop nothing clean",
        r.library,
        r.items.len(),
        incidents,
        r.items.len() - incidents,
        r.combinations,
        r.meeting_goal
    );
    let rec = &r.recommended;
    let vals: Vec<String> = rec
        .values
        .iter()
        .map(|kv| format!("{}={}", kv.key, kv.value))
        .collect();
    let s = &rec.score;
    let _ = writeln!(
        o,
        "\n{}: {}\n  caught {} of {} incidents in time ({} late, {} never stopped), {} false stops ({} holds, {} rollbacks, {} before the fault), mean time to detect {}, {} canary requests exposed",
        if rec.meets_goal {
            "recommended"
        } else {
            "no combination catches every incident without a false stop; least bad"
        },
        vals.join(" "),
        s.caught,
        incidents,
        s.late,
        s.never_stopped,
        s.false_stops,
        s.false_holds,
        s.false_rollbacks,
        s.premature,
        secs(s.mean_time_to_detect_s),
        s.exposed
    );
    let w = rec
        .items
        .iter()
        .map(|i| i.name.len())
        .max()
        .unwrap_or(4)
        .max(4);
    let _ = writeln!(
        o,
        "\n  {:w$}  {:8}  {:14}  {:9}  {:10}  {:>8}  {:>8}  why",
        "item", "truth", "result", "outcome", "stage", "ttd", "exposed"
    );
    for (it, rep) in rec.items.iter().zip(&r.items) {
        let _ = writeln!(
            o,
            "  {:w$}  {:8}  {:14}  {:9}  {:10}  {:>8}  {:>8}  {}",
            it.name,
            rep.kind,
            it.result,
            it.outcome,
            it.stage.as_deref().unwrap_or("-"),
            secs(it.time_to_detect_s),
            it.exposed.map_or("-".into(), |e| e.to_string()),
            it.reasons.join(", ")
        );
    }
    let odds: Vec<&ItemOutcome> = rec
        .items
        .iter()
        .filter(|i| !i.false_stop_odds.is_empty())
        .collect();
    if !odds.is_empty() {
        let pct = |x: f64| format!("{:.2}%", x * 100.0);
        let _ = writeln!(
            o,
            "\n  odds of a false stop under it on the clean items (a canary behaving like the baseline):"
        );
        for it in odds {
            let per: Vec<String> = it
                .false_stop_odds
                .iter()
                .map(|s| {
                    format!(
                        "{} hold {} rollback {}",
                        s.stage,
                        pct(s.hold[0]),
                        pct(s.rollback[0])
                    )
                })
                .collect();
            let _ = writeln!(o, "  {:w$}  {}", it.name, per.join("; "));
        }
    }
    let _ = writeln!(
        o,
        "\nPareto front (missed, false stops, mean time to detect; the loosest of each point):"
    );
    let _ = writeln!(
        o,
        "  {:>6}  {:>11}  {:>8}  {:>8}  {:>8}  values",
        "missed", "false stops", "ttd", "exposed", "variants"
    );
    for f in &r.pareto_front {
        let vals: Vec<String> = r
            .axes
            .iter()
            .zip(&f.values)
            .map(|(a, v)| format!("{}={v}", a.key))
            .collect();
        let _ = writeln!(
            o,
            "  {:>6}  {:>11}  {:>8}  {:>8}  {:>8}  {}",
            f.missed,
            f.false_stops,
            secs(f.mean_time_to_detect_s),
            f.exposed,
            f.variants,
            vals.join(" ")
        );
    }
    let _ = writeln!(o, "\npolicy (written by --out FILE):\n{}", rec.policy);
    let mut t: String = o.lines().map(|l| format!("{}\n", l.trim_end())).collect();
    if !o.ends_with('\n') {
        t.pop();
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    fn score(missed: u32, false_holds: u32, caught: u32, ttd_ms: u64) -> Score {
        Score {
            caught,
            missed,
            false_holds,
            ttd_ms,
            ..Score::default()
        }
    }

    fn shard(index: u64, count: u64, total: u64) -> ShardReport {
        let at = |k: u64| total * k / count;
        ShardReport {
            index,
            count,
            first: at(index),
            end: at(index + 1),
        }
    }

    fn part(scores: &[(u64, Score, u64)], s: ShardReport) -> TunePartial {
        partial(
            "lib".into(),
            vec![AxisReport {
                key: "triggers.error_rate_5xx".into(),
                values: (0..6).map(|i| format!("0.0{}", i + 1)).collect(),
            }],
            Vec::new(),
            6,
            s,
            scores,
            &|i| vec![format!("0.0{}", i + 1)],
            &|_| Vec::new(),
        )
    }

    /// Six combinations: 0 and 1 meet the goal with the same mean time to detect (1 is
    /// looser), 2 is slower, 3 misses one but detects faster, 4 is dominated by 3, 5
    /// false-stops once and is fastest.
    fn scores() -> Vec<(u64, Score, u64)> {
        vec![
            (0, score(0, 0, 2, 600_000), 0),
            (1, score(0, 0, 2, 600_000), 1),
            (2, score(0, 0, 2, 900_000), 2),
            (3, score(1, 0, 1, 120_000), 3),
            (4, score(1, 0, 1, 240_000), 4),
            (5, score(0, 1, 2, 60_000), 0),
        ]
    }

    #[test]
    fn ties_go_to_the_looser_and_dominated_points_leave_the_front() {
        let r = finish(vec![part(&scores(), shard(0, 1, 6))]).unwrap();
        assert!(r.recommended.meets_goal);
        assert_eq!(r.recommended.values[0].value, "0.02");
        assert_eq!(r.meeting_goal, 3);
        let front: Vec<(&str, u64)> = r
            .pareto_front
            .iter()
            .map(|f| (f.values[0].as_str(), f.variants))
            .collect();
        // (0,0,5m) twice (the looser shown), (1,0,2m), (0,1,1m); 0.03 and 0.05 dominated.
        assert_eq!(front, vec![("0.02", 2), ("0.06", 1), ("0.04", 1)]);
        assert!(
            r.recommended
                .policy
                .contains("[triggers]\nerror_rate_5xx = 0.02\n")
        );
    }

    #[test]
    fn without_a_goal_meeting_combination_the_least_bad_is_named() {
        let s: Vec<_> = scores().into_iter().filter(|(i, ..)| *i >= 3).collect();
        let r = finish(vec![part(&s, shard(0, 1, 6))]).unwrap();
        assert!(!r.recommended.meets_goal);
        // Fewer misses first: 5 (no miss, one false stop) beats 3.
        assert_eq!(r.recommended.values[0].value, "0.06");
        assert!(r.recommended.policy.contains("least bad"));
    }

    #[test]
    fn shards_merge_to_the_whole() {
        let all = scores();
        let whole = finish(vec![part(&all, shard(0, 1, 6))]).unwrap();
        let parts: Vec<TunePartial> = (0..4)
            .rev()
            .map(|k| {
                let s = shard(k, 4, 6);
                let mine: Vec<_> = all
                    .iter()
                    .filter(|(i, ..)| (s.first..s.end).contains(i))
                    .cloned()
                    .collect();
                part(&mine, s)
            })
            .collect();
        assert_eq!(finish(parts.clone()).unwrap(), whole);
        assert!(matches!(
            finish(parts[1..].to_vec()),
            Err(MergeError::Shards(..))
        ));
    }
}

#[cfg(test)]
mod judge_tests {
    use super::*;
    use crate::policy::PolicyBuilder;

    #[test]
    fn a_recommended_judge_alpha_turns_the_judge_on() {
        let values = [
            KeyValue {
                key: "judge.alpha".into(),
                value: "0.05".into(),
            },
            KeyValue {
                key: "rollout.sustain".into(),
                value: "5m".into(),
            },
        ];
        let text = policy_toml("library", &values, true);
        let p = PolicyBuilder::new()
            .text(&text, "the recommendation")
            .and_then(PolicyBuilder::build)
            .expect("the partial policy reads back");
        assert!(p.judge_enabled, "{text}");
        assert_eq!(p.judge_alpha, 0.05);
        assert_eq!(p.sustain_ticks, 6);
    }
}
