//! The sweep evaluator (`engine::whatif`) against the full evaluator: on saved incident
//! scenarios covering every kind of trigger and hold, random variants of the request
//! thresholds and the sustain span must give exactly `evaluate`'s outcome, rollback
//! instant and reasons, and stage verdicts and hold reasons.

use std::path::Path;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

use rehearse::app::replay::replay_dataset_with_bands;
use rehearse::app::scenario::Scenario;
use rehearse::engine::fold::tuning_grid;
use rehearse::engine::whatif::{Sweep, Variant};
use rehearse::engine::{Folded, evaluate};
use rehearse::policy::Policy;
use rehearse::ratio::Ratio;
use rehearse::verdict::{Outcome, Verdict};

/// Scenarios whose outcomes come from every path a variant can move or not: request
/// triggers and Go breaches, probe firings between ticks, budget burn, queue backlog
/// (sustain-dependent Go gate), security, schema, PII, stage-level holds.
const SCENARIOS: [&str; 12] = [
    "01-clean-rollout",
    "02-5xx-sustained",
    "03-4xx-nonauth-sustained",
    "04-latency-p95",
    "05-latency-p99",
    "06-probe-failures",
    "12-low-traffic",
    "20-budget-burn-leak",
    "31-queue-backlog",
    "33-waf-spike",
    "41-pii-email",
    "47-probe-gap",
];

fn load(name: &str) -> (Policy, Folded) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("scenarios/{name}.toml"));
    let s = Scenario::load(&path).expect("the scenario loads");
    let ds = s.dataset().expect("it generates");
    let replay =
        replay_dataset_with_bands(&s.setup, &ds, None, 8192, &tuning_grid()).expect("replays");
    (s.setup.policy.clone(), replay.folded)
}

/// A rate between 0.1 % and 5 % in steps of 0.1 %.
fn rate() -> impl Strategy<Value = Ratio> {
    (1u64..=50).prop_map(|k| Ratio::new(k, 1000))
}

/// A latency on the tuning grid: 5 ms steps from 50 ms to 1 s.
fn latency() -> impl Strategy<Value = u64> {
    (10u64..=200).prop_map(|k| k * 5_000)
}

fn variant(stages: usize) -> impl Strategy<Value = Variant> {
    (
        (rate(), rate(), rate(), rate()),
        proptest::collection::vec(latency(), stages),
        (latency(), latency()),
        1usize..=14,
        // The canary judge, off or on at alpha from 0.001 to 0.3.
        (proptest::bool::ANY, 1u32..=300),
    )
        .prop_map(
            |(
                (go_5xx, go_4xx, trig_5xx, trig_4xx),
                go_p95_us,
                (p95, p99),
                sustain,
                (judge, alpha),
            )| Variant {
                go_5xx,
                go_4xx,
                trig_5xx,
                trig_4xx,
                go_p95_us,
                trig_p95_us: p95,
                trig_p99_us: p99,
                sustain_ticks: sustain,
                judge,
                judge_alpha: alpha as f64 / 1000.0,
            },
        )
}

fn check(base: &Policy, f: &Folded, sweep: &Sweep, v: &Variant) -> Result<(), TestCaseError> {
    prop_assert!(sweep.supports(v));
    let p = v.apply(base);
    let run = evaluate(&p, f);
    let got = sweep.eval(v);
    prop_assert_eq!(got.outcome, run.outcome);
    let verdicts: Vec<Verdict> = run.stages.iter().map(|s| s.verdict).collect();
    prop_assert_eq!(got.verdicts(p.stages.len()), verdicts);
    match run.outcome {
        Outcome::Rollback => {
            let (at, stage, gates) = run.rollback.clone().expect("a rollback instant");
            prop_assert_eq!((got.at, got.stage), (at, stage));
            prop_assert_eq!(got.reason_gates(), gates);
        }
        Outcome::Hold => {
            let s = &run.stages[got.stage];
            prop_assert_eq!(Some(got.at), s.judged_at);
            prop_assert_eq!(got.reason_gates(), s.reasons.clone());
        }
        Outcome::Complete => prop_assert_eq!(got.reasons, 0),
    }
    Ok(())
}

#[test]
fn the_base_policy_gives_the_full_evaluators_verdicts() {
    for name in SCENARIOS {
        let (base, f) = load(name);
        let sweep = Sweep::new(&base, &f);
        let v = Variant::of(&base);
        let run = evaluate(&base, &f);
        let got = sweep.eval(&v);
        assert_eq!(got.outcome, run.outcome, "{name}");
        assert_eq!(
            got.verdicts(base.stages.len()),
            run.stages.iter().map(|s| s.verdict).collect::<Vec<_>>(),
            "{name}"
        );
        // The variant of the base policy rebuilds the base policy.
        assert_eq!(v.apply(&base).to_toml(), base.to_toml(), "{name}");
    }
}

#[test]
fn random_variants_match_the_full_evaluator() {
    let seen = std::cell::RefCell::new(std::collections::BTreeSet::new());
    for (i, name) in SCENARIOS.iter().enumerate() {
        let (base, f) = load(name);
        let sweep = Sweep::new(&base, &f);
        let mut runner = TestRunner::new_with_rng(
            Config {
                cases: 32,
                failure_persistence: None,
                ..Config::default()
            },
            proptest::test_runner::TestRng::from_seed(
                proptest::test_runner::RngAlgorithm::ChaCha,
                &[i as u8 + 1; 32],
            ),
        );
        runner
            .run(&variant(base.stages.len()), |v| {
                seen.borrow_mut()
                    .insert(format!("{:?}", sweep.eval(&v).outcome));
                check(&base, &f, &sweep, &v)
            })
            .unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    // The variants reach every outcome.
    let seen = seen.into_inner();
    assert_eq!(seen.len(), 3, "{seen:?}");
}

#[test]
fn a_limit_off_the_band_grid_is_not_supported() {
    let (base, f) = load("02-5xx-sustained");
    let sweep = Sweep::new(&base, &f);
    let mut v = Variant::of(&base);
    assert!(sweep.supports(&v));
    v.trig_p95_us = 251_234;
    assert!(!sweep.supports(&v));
}

/// `rehearse` with the given arguments, from the project root.
fn rehearse(args: &[&str], threads: &str) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_rehearse"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("RAYON_NUM_THREADS", threads)
        .output()
        .expect("the binary runs")
}

fn json(o: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&o.stderr)))
}

#[test]
fn the_sweep_command_agrees_with_run_for_each_value() {
    let values = ["0.004", "0.01", "0.02", "0.05"];
    let spec = format!("triggers.error_rate_5xx={}", values.join(","));
    let o = rehearse(&["sweep", "datasets/demo", "--vary", &spec, "--json"], "2");
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let sweep = json(&o);
    assert_eq!(sweep["variants"], 4);
    let groups = sweep["groups"].as_array().expect("groups");
    for v in values {
        let set = format!("triggers.error_rate_5xx={v}");
        let run = json(&rehearse(
            &["run", "datasets/demo", "--set", &set, "--json"],
            "2",
        ));
        let g = groups
            .iter()
            .find(|g| {
                g["values"][0]
                    .as_array()
                    .is_some_and(|a| a.iter().any(|x| x == v))
            })
            .unwrap_or_else(|| panic!("{v} is in no group: {sweep}"));
        assert_eq!(g["outcome"], run["outcome"], "{v}");
        match &run["rollback"] {
            serde_json::Value::Null => {
                let st = run["stages"]
                    .as_array()
                    .expect("stages")
                    .iter()
                    .rev()
                    .find(|s| s["verdict"] != "not_run")
                    .expect("a judged stage");
                if run["outcome"] == "hold" {
                    assert_eq!(g["stage"], st["name"], "{v}");
                }
            }
            rb => {
                assert_eq!(g["at"], rb["at"], "{v}");
                assert_eq!(g["stage"], rb["stage"], "{v}");
                assert_eq!(g["reasons"], rb["triggers"], "{v}");
            }
        }
    }
    // The base policy (5xx trigger at 0.5 %) rolls back in ramp-25 at 12:56.
    assert_eq!(sweep["base"]["at"], "2026-03-02T12:56:00.000Z");
    // Looser triggers move the rollback later, then turn it into a hold.
    let outcomes: Vec<&str> = groups
        .iter()
        .filter_map(|g| g["outcome"].as_str())
        .collect();
    assert!(
        outcomes.contains(&"rollback") && outcomes.contains(&"hold"),
        "{outcomes:?}"
    );
}

#[test]
fn the_sweep_report_does_not_depend_on_the_thread_count() {
    let args = [
        "sweep",
        "datasets/demo",
        "--vary",
        "triggers.error_rate_5xx=0.002:0.03:0.002",
        "--vary",
        "rollout.sustain=2m:20m:2m",
        "--vary",
        "triggers.latency_p95_ms=150,250",
    ];
    let one = rehearse(&args, "1");
    let two = rehearse(&args, "2");
    assert_eq!(one.status.code(), Some(0));
    assert_eq!(one.stdout, two.stdout);
    let text = String::from_utf8_lossy(&one.stdout);
    assert!(
        text.starts_with("sweep over datasets/demo: 300 variants"),
        "{text}"
    );
    assert!(text.contains("(as the base)"), "{text}");
}

/// The combinations a group's `boxes` hold, as (value, value) labels of two axes.
fn combinations(sweep: &serde_json::Value, group: &serde_json::Value) -> Vec<(String, String)> {
    let label = |axis: usize, i: u64| {
        sweep["axes"][axis]["values"][i as usize]
            .as_str()
            .expect("a value")
            .to_string()
    };
    let range =
        |r: &serde_json::Value| r[0].as_u64().expect("first")..=r[1].as_u64().expect("last");
    let mut out = Vec::new();
    for b in group["boxes"].as_array().expect("boxes") {
        for i in range(&b[0]) {
            for j in range(&b[1]) {
                out.push((label(0, i), label(1, j)));
            }
        }
    }
    out
}

#[test]
fn a_group_lists_exactly_its_combinations() {
    // On the demo, a looser 5xx trigger with a shorter sustain span rolls back at the
    // same minute: the 12:50 group holds one diagonal of the 3 x 3 grid, so it sees
    // every value of both axes yet holds 3 combinations, not 9.
    let args = [
        "sweep",
        "datasets/demo",
        "--vary",
        "triggers.error_rate_5xx=0.004,0.006,0.012",
        "--vary",
        "rollout.sustain=2m,3m,4m",
    ];
    let o = rehearse(&[&args[..], &["--json"]].concat(), "2");
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let sweep = json(&o);
    let groups = sweep["groups"].as_array().expect("groups");
    let g = groups
        .iter()
        .find(|g| g["at"] == "2026-03-02T12:50:00.000Z")
        .unwrap_or_else(|| panic!("no group at 12:50: {sweep}"));
    assert_eq!(g["variants"], 3);
    assert_eq!(
        g["values"],
        serde_json::json!([["0.004", "0.006", "0.012"], ["2m", "3m", "4m"]])
    );
    let mut got = combinations(&sweep, g);
    got.sort();
    let want: Vec<(String, String)> = [("0.004", "4m"), ("0.006", "3m"), ("0.012", "2m")]
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    assert_eq!(got, want);
    // Every combination is in exactly one group's boxes.
    let mut all: Vec<(String, String)> = groups
        .iter()
        .flat_map(|g| combinations(&sweep, g))
        .collect();
    all.sort();
    let before = all.len();
    all.dedup();
    assert_eq!((before, all.len()), (9, 9));
    // The text says the same, one line per box.
    let text = String::from_utf8_lossy(&rehearse(&args, "2").stdout).into_owned();
    assert!(
        text.contains(
            "ROLLBACK ramp-25 at 12:50 (error_rate_5xx)  3 variants\n\
             \x20   triggers.error_rate_5xx            all 3\n\
             \x20   rollout.sustain                    all 3\n\
             \x20   combinations (3 boxes):\n\
             \x20     triggers.error_rate_5xx=0.004 x rollout.sustain=4m\n\
             \x20     triggers.error_rate_5xx=0.006 x rollout.sustain=3m\n\
             \x20     triggers.error_rate_5xx=0.012 x rollout.sustain=2m\n"
        ),
        "{text}"
    );
    assert!(text.contains("  1 variant\n"), "{text}");
}

#[test]
fn sweep_usage_errors_name_the_key_or_value() {
    let cases: [(&[&str], &str); 5] = [
        (
            &["--vary", "go.availability=0.99"],
            "`go.availability` cannot be swept",
        ),
        (
            &["--vary", "triggers.error_rate_5xx=2"],
            "policy key `triggers.error_rate_5xx`",
        ),
        (
            &["--vary", "triggers.error_rate_5xx=0.01:0.001:0.001"],
            "HI is below LO",
        ),
        (
            &[
                "--vary",
                "rollout.sustain=5m",
                "--vary",
                "rollout.sustain=6m",
            ],
            "`rollout.sustain` is varied twice",
        ),
        (
            &["--vary", "stages.nope.go_p95_ms=200"],
            "`stages.nope.go_p95_ms` cannot be swept",
        ),
    ];
    for (extra, want) in cases {
        let mut args = vec!["sweep", "datasets/demo"];
        args.extend_from_slice(extra);
        let o = rehearse(&args, "1");
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{extra:?}: {err}");
        assert!(err.contains(want), "{extra:?}: {err}");
        assert!(o.stdout.is_empty(), "{extra:?}");
    }
}
