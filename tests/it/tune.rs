//! `rehearse tune` end to end: a small library (a scenario incident, a clean scenario
//! and a labelled dataset directory) scored over a grid of thresholds, checked against
//! an oracle that replays every item with `rehearse run --set` for every combination;
//! the recommended policy file accepted by `run --policy`; label errors; shards merged
//! byte for byte.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_rehearse"))
}

fn run(args: &[&str]) -> Output {
    bin()
        .args(args)
        .stdin(Stdio::null())
        .env_remove("JOB_COMPLETION_INDEX")
        .output()
        .expect("the binary runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

const T0: i64 = 1_772_445_600_000; // 2026-03-02T10:00:00Z, the generator's default start

/// A scenario at 4 requests/s without background errors; `fault` is a `[[generate.faults]]`
/// table or empty.
fn scenario(seed: u64, fault: &str, expect: &str) -> String {
    format!(
        "[generate]\nseed = {seed}\nrps = 4.0\nbase_5xx = 0.0\nbase_4xx_nonauth = 0.0\n\n{fault}\n[expect]\n{expect}\n"
    )
}

/// An item as a dataset directory, and for an incident its stage, fault start and
/// stop-by instant.
type Truth = (PathBuf, Option<(&'static str, i64, i64)>);

const POLICY: &str = "[rollout]\nmin_requests = 20\n\n[go]\navailability = 0.5\n";
const VARY: [&str; 4] = [
    "--vary",
    "triggers.error_rate_5xx=0.02,0.05,0.5",
    "--vary",
    "go.error_rate_5xx=0.03,0.5",
];

/// The library: an incident scenario stopped in ramp-25, a clean scenario, and a
/// dataset directory labelled as an incident of ramp-5 (generated from a scenario kept
/// outside the library). Returns the library and, for the oracle, each item as a
/// dataset directory with its truth.
fn library(root: &Path) -> (PathBuf, Vec<Truth>) {
    let lib = root.join("lib");
    let gen_dir = root.join("gen");
    std::fs::create_dir_all(&lib).unwrap();
    std::fs::create_dir_all(&gen_dir).unwrap();
    std::fs::write(root.join("policy.toml"), POLICY).unwrap();
    let incident = scenario(
        11,
        "[[generate.faults]]\nkind = \"error_5xx\"\nstage = \"ramp-25\"\nat = \"10m\"\nrate = 0.1\n",
        "outcome = \"rollback\"\nstages = [\"go\", \"go\", \"rollback\", \"not_run\"]\n",
    );
    let clean = scenario(12, "", "outcome = \"complete\"\n");
    let early = scenario(
        13,
        "[[generate.faults]]\nkind = \"error_5xx\"\nstage = \"ramp-5\"\nat = \"5m\"\nrate = 0.2\n",
        "outcome = \"rollback\"\n",
    );
    std::fs::write(lib.join("a-incident.toml"), &incident).unwrap();
    std::fs::write(lib.join("b-clean.toml"), &clean).unwrap();
    std::fs::write(gen_dir.join("c.toml"), &early).unwrap();
    let mut oracle = Vec::new();
    for (name, body) in [("a", &incident), ("b", &clean)] {
        let f = gen_dir.join(format!("{name}.toml"));
        std::fs::write(&f, body).unwrap();
        let out = root.join(format!("ds-{name}"));
        let o = run(&[
            "generate",
            f.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", text(&o.stderr));
        oracle.push(out);
    }
    let c = lib.join("c-dataset");
    let o = run(&[
        "generate",
        gen_dir.join("c.toml").to_str().unwrap(),
        "--out",
        c.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let manifest = c.join("dataset.toml");
    let mut m = std::fs::read_to_string(&manifest).unwrap();
    m.push_str(
        "\n[label]\nkind = \"incident\"\nstage = \"ramp-5\"\nfault_start = \"2026-03-02T12:05:00Z\"\n",
    );
    std::fs::write(&manifest, m).unwrap();
    let truths = vec![
        (
            oracle[0].clone(),
            Some(("ramp-25", T0 + (150 + 10) * 60_000, T0 + 210 * 60_000)),
        ),
        (oracle[1].clone(), None),
        (c, Some(("ramp-5", T0 + 125 * 60_000, T0 + 150 * 60_000))),
    ];
    (lib, truths)
}

fn ms(s: &str) -> i64 {
    rehearse::time::parse_rfc3339(s).expect("an instant")
}

/// The oracle's score of one combination: (misses, false stops, sum of times to
/// detect in ms, detected, per-item (outcome, at)).
type OracleScore = (u32, u32, i64, u32, Vec<(String, Option<i64>)>);

fn oracle_score(root: &Path, items: &[Truth], sets: &[String]) -> OracleScore {
    let (mut misses, mut false_stops, mut ttd, mut detected) = (0, 0, 0, 0);
    let mut per = Vec::new();
    let stages = ["synthetic", "ramp-5", "ramp-25", "full"];
    for (dir, truth) in items {
        let mut args = vec![
            "run".to_string(),
            dir.display().to_string(),
            "--json".into(),
            "--policy".into(),
            root.join("policy.toml").display().to_string(),
        ];
        for s in sets {
            args.push("--set".into());
            args.push(s.clone());
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = run(&args);
        let r: Value = serde_json::from_slice(&o.stdout).expect("run --json");
        let outcome = r["outcome"].as_str().unwrap().to_string();
        // The stop instant: the rollback, or the end of the stage that held.
        let stop = match outcome.as_str() {
            "rollback" => Some((
                ms(r["rollback"]["at"].as_str().unwrap()),
                r["rollback"]["stage"].as_str().unwrap().to_string(),
            )),
            "hold" => r["stages"]
                .as_array()
                .unwrap()
                .iter()
                .find(|s| s["verdict"] == "hold")
                .map(|s| {
                    (
                        ms(s["end"].as_str().unwrap()),
                        s["name"].as_str().unwrap().to_string(),
                    )
                }),
            _ => None,
        };
        per.push((outcome.clone(), stop.as_ref().map(|s| s.0)));
        match (truth, stop) {
            (None, Some(_)) => false_stops += 1,
            (None, None) => {}
            (Some(_), None) => misses += 1,
            (Some((stage, start, by)), Some((at, st))) => {
                let si = stages.iter().position(|s| *s == st).unwrap();
                let want = stages.iter().position(|s| s == stage).unwrap();
                if at < *start {
                    false_stops += 1;
                } else {
                    detected += 1;
                    ttd += at - start;
                    if si > want || at > *by {
                        misses += 1;
                    }
                }
            }
        }
    }
    (misses, false_stops, ttd, detected, per)
}

#[test]
fn tune_matches_an_oracle_of_full_runs_and_its_policy_is_accepted() {
    let tmp = tempfile::tempdir().unwrap();
    let (lib, items) = library(tmp.path());
    let out = tmp.path().join("recommended.toml");
    let policy = tmp.path().join("policy.toml");
    let mut args = vec![
        "tune",
        lib.to_str().unwrap(),
        "--json",
        "--policy",
        policy.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend(VARY);
    let o = run(&args);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let r: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(r["combinations"], 6);
    assert_eq!(r["items"].as_array().unwrap().len(), 3);
    assert_eq!(r["items"][2]["source"], "dataset");
    assert_eq!(r["items"][0]["kind"], "incident");
    assert_eq!(r["items"][1]["kind"], "clean");

    // The oracle: every combination, every item, through `rehearse run`.
    let t5 = ["0.02", "0.05", "0.5"];
    let g5 = ["0.03", "0.5"];
    let mut scores = Vec::new();
    for (i, t) in t5.iter().enumerate() {
        for (j, g) in g5.iter().enumerate() {
            let sets = vec![
                format!("triggers.error_rate_5xx={t}"),
                format!("go.error_rate_5xx={g}"),
            ];
            let s = oracle_score(tmp.path(), &items, &sets);
            scores.push((i + j, vec![t.to_string(), g.to_string()], s));
        }
    }
    let meeting = scores
        .iter()
        .filter(|(_, _, s)| s.0 == 0 && s.1 == 0)
        .count();
    assert_eq!(r["meeting_goal"], meeting as u64);
    // Both 0.5 thresholds let the incidents through: the oracle says so too, so the
    // goal is not trivially met.
    assert!(scores.iter().any(|(_, _, s)| s.0 > 0));
    assert!(meeting > 0);
    // The recommendation: fewest misses, false stops, then mean ttd, then loosest.
    let best = scores
        .iter()
        .min_by(|a, b| {
            let (sa, sb) = (&a.2, &b.2);
            sa.0.cmp(&sb.0)
                .then(sa.1.cmp(&sb.1))
                .then((sa.2 as i128 * sb.3 as i128).cmp(&(sb.2 as i128 * sa.3 as i128)))
                .then(b.0.cmp(&a.0))
        })
        .unwrap();
    let rec = &r["recommended"];
    assert_eq!(rec["meets_goal"], true);
    let values: Vec<&str> = rec["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|kv| kv["value"].as_str().unwrap())
        .collect();
    assert_eq!(values, best.1);
    for (k, ((_, at), it)) in best
        .2
        .4
        .iter()
        .zip(rec["items"].as_array().unwrap())
        .enumerate()
    {
        assert_eq!(
            it["at"].as_str().map(ms),
            *at,
            "item {k}: the stop instant differs from run's"
        );
    }
    // Every front point is one of the oracle's objective vectors, none dominated.
    for f in r["pareto_front"].as_array().unwrap() {
        let (m, fs) = (
            f["missed"].as_u64().unwrap(),
            f["false_stops"].as_u64().unwrap(),
        );
        assert!(
            scores
                .iter()
                .any(|(_, _, s)| s.0 as u64 == m && s.1 as u64 == fs),
            "{f}"
        );
        assert!(
            !scores
                .iter()
                .any(|(_, _, s)| (s.0 as u64) < m && (s.1 as u64) <= fs && s.3 > 0),
            "front point {f} is dominated"
        );
    }

    // The written file is a partial policy `run --policy` takes, and it stops the
    // incident and lets the clean rollout through.
    let written = std::fs::read_to_string(&out).unwrap();
    assert_eq!(written, rec["policy"].as_str().unwrap());
    let check = run(&["policy", "check", "--policy", out.to_str().unwrap()]);
    assert!(check.status.success(), "{}", text(&check.stderr));
    let a = run(&[
        "run",
        items[0].0.to_str().unwrap(),
        "--policy",
        out.to_str().unwrap(),
        "--set",
        "rollout.min_requests=20",
        "--set",
        "go.availability=0.5",
    ]);
    assert!(
        matches!(a.status.code(), Some(3 | 4)),
        "{}",
        text(&a.stdout)
    );
    let b = run(&[
        "run",
        items[1].0.to_str().unwrap(),
        "--policy",
        out.to_str().unwrap(),
        "--set",
        "rollout.min_requests=20",
        "--set",
        "go.availability=0.5",
    ]);
    assert_eq!(b.status.code(), Some(0), "{}", text(&b.stdout));

    // The table says the same.
    let mut args = vec![
        "tune",
        lib.to_str().unwrap(),
        "--policy",
        policy.to_str().unwrap(),
    ];
    args.extend(VARY);
    let h = run(&args);
    let h = text(&h.stdout);
    assert!(h.contains("recommended: triggers.error_rate_5xx="), "{h}");
    assert!(h.contains("Pareto front"), "{h}");

    // Shards: each summary, merged in any order, prints the unsharded JSON.
    let mut files = Vec::new();
    for i in [2, 0, 1] {
        let shard = format!("{i}/3");
        let mut args = vec![
            "tune",
            lib.to_str().unwrap(),
            "--policy",
            policy.to_str().unwrap(),
            "--shard",
            &shard,
        ];
        args.extend(VARY);
        let s = run(&args);
        assert!(s.status.success(), "{}", text(&s.stderr));
        let f = tmp.path().join(format!("shard-{i}.json"));
        std::fs::write(&f, &s.stdout).unwrap();
        files.push(f);
    }
    let mut margs = vec!["merge"];
    margs.extend(files.iter().map(|f| f.to_str().unwrap()));
    let m = run(&margs);
    assert!(m.status.success(), "{}", text(&m.stderr));
    assert_eq!(text(&m.stdout), text(&o.stdout));
    // A missing shard is an error naming it.
    let m = run(&[
        "merge",
        files[0].to_str().unwrap(),
        files[1].to_str().unwrap(),
    ]);
    assert_eq!(m.status.code(), Some(2));
    assert!(
        text(&m.stderr).contains("shard 1 of 3"),
        "{}",
        text(&m.stderr)
    );
    // The index may come from JOB_COMPLETION_INDEX.
    let mut args = vec![
        "tune",
        lib.to_str().unwrap(),
        "--policy",
        policy.to_str().unwrap(),
        "--shard",
        "3",
    ];
    args.extend(VARY);
    let j = bin()
        .args(&args)
        .env("JOB_COMPLETION_INDEX", "2")
        .output()
        .unwrap();
    assert_eq!(text(&j.stdout), std::fs::read_to_string(&files[0]).unwrap());
}

#[test]
fn labels_are_checked_key_by_key() {
    let tmp = tempfile::tempdir().unwrap();
    let lib = tmp.path().join("lib");
    std::fs::create_dir_all(lib.join("d")).unwrap();
    std::fs::write(
        lib.join("clean.toml"),
        scenario(1, "", "outcome = \"complete\"\n"),
    )
    .unwrap();
    let manifest = lib.join("d/dataset.toml");
    let cases = [
        ("start = \"2026-03-02T10:00:00Z\"\n", "has no [label] table"),
        (
            "[label]\nkind = \"incident\"\nstage = \"ramp-5\"\nfault_start = \"2026-03-02T12:05:00Z\"\nstopby = \"x\"\n",
            "unknown key `label.stopby` (did you mean `stop_by`?",
        ),
        ("[label]\nkind = \"incidnet\"\n", "`incidnet` is neither"),
        (
            "[label]\nkind = \"incident\"\nstage = \"ramp-5\"\n",
            "`label.fault_start` is missing",
        ),
        (
            "[label]\nkind = \"clean\"\nstage = \"ramp-5\"\n",
            "key `label.stage`: a clean dataset has no fault",
        ),
        (
            "[label]\nkind = \"incident\"\nstage = \"ramp-5\"\nfault_start = \"noon\"\n",
            "key `label.fault_start`: `noon` is not an RFC 3339 timestamp",
        ),
    ];
    for (body, want) in cases {
        std::fs::write(&manifest, body).unwrap();
        let o = run(&[
            "tune",
            lib.to_str().unwrap(),
            "--vary",
            "triggers.error_rate_5xx=0.01",
        ]);
        assert_eq!(o.status.code(), Some(2), "{body}");
        let e = text(&o.stderr);
        assert!(e.contains(want), "{body}: {e}");
        assert!(e.contains("dataset.toml") || e.contains("/d:"), "{e}");
    }
    // `rehearse run` reads a labelled manifest as before (the label is tune's).
    let o = run(&["run", lib.join("d").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("no `requests` stream"),
        "{}",
        text(&o.stderr)
    );
}

#[test]
fn a_one_sided_library_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("clean.toml"),
        scenario(1, "", "outcome = \"complete\"\n"),
    )
    .unwrap();
    let o = run(&[
        "tune",
        tmp.path().to_str().unwrap(),
        "--vary",
        "triggers.error_rate_5xx=0.01",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("needs both"),
        "{}",
        text(&o.stderr)
    );
}

/// The starter library's documented grid (docs/tuning.md).
const STARTER_GRID: [&str; 6] = [
    "--vary",
    "go.error_rate_5xx=0.005,0.01,0.02",
    "--vary",
    "go.error_rate_4xx_nonauth=0.01,0.02,0.03",
    "--vary",
    "rollout.sustain=1m,3m,5m,8m,11m",
];

/// On the bundled library the recommendation catches every incident without a false
/// stop, and each item's verdict under the written policy is the full engine's: every
/// scenario generated and replayed with its own `[policy]`, the recommended file and
/// nothing else.
#[test]
fn the_starter_library_recommendation_holds_under_the_full_engine() {
    use rehearse::app::replay::replay_dataset;
    use rehearse::app::scenario::{Scenario, ScenarioFile};
    use rehearse::policy::PolicyBuilder;

    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let lib = root.join("library");
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("rec.toml");
    let mut args = vec![
        "tune",
        lib.to_str().unwrap(),
        "--json",
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend(STARTER_GRID);
    let o = run(&args);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let r: Value = serde_json::from_slice(&o.stdout).unwrap();
    let rec = &r["recommended"];
    assert_eq!(rec["meets_goal"], true, "{rec}");
    // The default policy is one of the combinations and is not the recommendation:
    // it stops clean items on noise.
    assert!(r["meeting_goal"].as_u64().unwrap() < r["combinations"].as_u64().unwrap());
    let items = rec["items"].as_array().unwrap();
    let files = r["items"].as_array().unwrap();
    assert!(files.iter().any(|i| i["kind"] == "clean"));
    for (it, meta) in items.iter().zip(files) {
        let path = lib.join(format!("{}.toml", meta["name"].as_str().unwrap()));
        let file: ScenarioFile = toml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let mut b = PolicyBuilder::new();
        if let Some(t) = file.policy.clone() {
            b = b.table(t).unwrap();
        }
        let policy = b.file(&out).unwrap().build().unwrap();
        let setup = rehearse::app::setup(policy).unwrap();
        let sc = Scenario {
            path: path.clone(),
            name: String::new(),
            description: String::new(),
            setup,
            spec: file.generate.clone(),
            funnel: None,
            expect: file.expect.clone(),
        };
        let ds = sc.dataset().unwrap();
        let run = replay_dataset(&sc.setup, &ds, None, 8192).unwrap().run;
        assert_eq!(run.outcome.as_str(), it["outcome"], "{}", path.display());
        if let Some((at, _, _)) = run.rollback {
            assert_eq!(
                Some(rehearse::time::format_rfc3339(at).as_str()),
                it["at"].as_str()
            );
        }
        let want = if meta["kind"] == "clean" {
            "pass"
        } else {
            "caught"
        };
        assert_eq!(it["result"], want, "{}", path.display());
    }
}

/// Runs `args` once per shard of `n` (given in reverse order) and merges the summaries.
fn sharded(tmp: &Path, args: &[&str], n: u64) -> Output {
    let mut files = Vec::new();
    for i in (0..n).rev() {
        let shard = format!("{i}/{n}");
        let mut a = args.to_vec();
        a.extend(["--shard", &shard]);
        let o = run(&a);
        assert!(
            matches!(o.status.code(), Some(0 | 5)),
            "{}",
            text(&o.stderr)
        );
        let f = tmp.join(format!("part-{i}.json"));
        std::fs::write(&f, &o.stdout).unwrap();
        files.push(f);
    }
    let mut m = vec!["merge"];
    m.extend(files.iter().map(|f| f.to_str().unwrap()));
    run(&m)
}

#[test]
fn sharded_sweeps_merge_to_the_unsharded_json() {
    let tmp = tempfile::tempdir().unwrap();
    let args = [
        "sweep",
        "datasets/demo",
        "--vary",
        "triggers.error_rate_5xx=0.005:0.03:0.005",
        "--vary",
        "rollout.sustain=3m,11m,20m",
    ];
    let mut whole = args.to_vec();
    whole.push("--json");
    let w = run(&whole);
    assert!(w.status.success(), "{}", text(&w.stderr));
    let m = sharded(tmp.path(), &args, 4);
    assert!(m.status.success(), "{}", text(&m.stderr));
    assert_eq!(text(&m.stdout), text(&w.stdout));
    // More shards than combinations: some are empty, the merge is still whole.
    let m = sharded(tmp.path(), &args, 25);
    assert_eq!(text(&m.stdout), text(&w.stdout));
}

#[test]
fn sharded_checks_merge_to_the_unsharded_json() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("sc");
    std::fs::create_dir_all(&dir).unwrap();
    let pass =
        scenario(1, "", "outcome = \"complete\"\n") + "\n[policy.rollout]\nmin_requests = 20\n";
    std::fs::write(dir.join("a.toml"), pass).unwrap();
    // A scenario whose expectation is wrong: check fails with 5.
    std::fs::write(
        dir.join("b.toml"),
        scenario(2, "", "outcome = \"rollback\"\n"),
    )
    .unwrap();
    std::fs::write(dir.join("c.toml"), "not toml [").unwrap();
    let d = dir.to_str().unwrap();
    let w = run(&["check", d, "--json"]);
    assert_eq!(w.status.code(), Some(5));
    let r: Value = serde_json::from_slice(&w.stdout).unwrap();
    assert_eq!(r["passed"], 1);
    assert_eq!(r["failed"], 2);
    assert_eq!(r["scenarios"][2]["error"][0], "load");
    let m = sharded(tmp.path(), &["check", d], 2);
    assert_eq!(m.status.code(), Some(5));
    assert_eq!(text(&m.stdout), text(&w.stdout));
    // Shards of different splits do not merge.
    let s = run(&["check", d, "--shard", "0/1"]);
    let f = tmp.path().join("check.json");
    std::fs::write(&f, &s.stdout).unwrap();
    let t = tmp.path().join("part-1.json");
    let m = run(&["merge", f.to_str().unwrap(), t.to_str().unwrap()]);
    assert_eq!(m.status.code(), Some(2));
    assert!(
        text(&m.stderr).contains("merge each shard once"),
        "{}",
        text(&m.stderr)
    );
    // The one-shard summary merges alone to the whole.
    let m = run(&["merge", f.to_str().unwrap()]);
    assert_eq!(text(&m.stdout), text(&w.stdout));
    // A bad --shard is a usage error.
    let b = run(&["check", d, "--shard", "2/2"]);
    assert_eq!(b.status.code(), Some(2));
    assert!(
        text(&b.stderr).contains("0 <= i < N"),
        "{}",
        text(&b.stderr)
    );
}
