//! Headless tests of the terminal UI: the model driven by messages (and keys) and drawn
//! to ratatui's `TestBackend`; insta snapshots of the key screens; tuning checked
//! against a fresh replay (and `rehearse run`) with the saved policy file.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use clap::Parser;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use rehearse::analytics::{AnalyticsData, analyze};
use rehearse::app::odds::of_fold;
use rehearse::app::replay::{replay_dataset, replay_dir};
use rehearse::app::scenario::{Scenario, gen_plan};
use rehearse::app::tui::{load, scenario_session};
use rehearse::cli::{Cli, Command as Sub};
use rehearse::generate::{Fault, FaultKind, GenSpec};
use rehearse::input::Cohort;
use rehearse::output::dataset::{Format, write_dataset};
use rehearse::policy::{Policy, PolicyBuilder};
use rehearse::time::parse_rfc3339;
use rehearse::tui::data::{FunnelPanel, OddsData};
use rehearse::tui::explain::{explain, gate_odds_rows};
use rehearse::tui::keys::key_to_msg;
use rehearse::tui::model::{Cmd, Focus, GATE_ORDER, Overlay, Subject, perform};
use rehearse::tui::{Model, Msg, Session, Speed, update};
use rehearse::verdict::{Gate, Verdict, VerdictEvent};

const SCENARIO: &str = "scenarios/02-5xx-sustained.toml";

fn at(s: &str) -> i64 {
    parse_rfc3339(s).expect("a valid instant")
}

fn model_of(session: Session) -> Model {
    let mut m = Model::new(session, Speed::X(600), PathBuf::from("tuned-policy.toml"));
    m.show_timings = false;
    m
}

fn scenario_model() -> Model {
    model_of(scenario_session(Path::new(SCENARIO)).expect("scenario 02 loads"))
}

/// Applies a message and performs any command it returns (as the event loop does).
fn send(m: &mut Model, msg: Msg) {
    if let Some(cmd) = update(m, msg) {
        let r = perform(cmd);
        update(m, r);
    }
}

fn key(m: &mut Model, code: KeyCode) {
    if let Some(msg) = key_to_msg(KeyEvent::new(code, KeyModifiers::NONE), m) {
        send(m, msg);
    }
}

fn draw(m: &Model, w: u16, h: u16) -> String {
    let mut t = Terminal::new(TestBackend::new(w, h)).expect("a test terminal");
    t.draw(|f| rehearse::tui::view::view(m, f))
        .expect("drawing never fails");
    t.backend().to_string()
}

/// Seeks by stepping a tick at a time until `clock >= to` (through the public messages).
fn seek(m: &mut Model, to: i64) {
    while m.clock < to && !m.at_end() {
        send(m, Msg::StepForward);
    }
}

fn verdicts(m: &Model) -> Vec<Verdict> {
    m.session.timeline.final_verdicts()
}

#[test]
fn start_screen() {
    let m = scenario_model();
    assert_eq!(m.clock, at("2026-03-02T10:00:00Z"));
    insta::assert_snapshot!("start_100x30", draw(&m, 100, 30));
}

#[test]
fn mid_stage_breach() {
    let mut m = scenario_model();
    // The fault starts 4 minutes into ramp-5 (12:04); the window sees it from 12:05.
    seek(&mut m, at("2026-03-02T12:08:00Z"));
    let screen = draw(&m, 100, 30);
    assert!(screen.contains("✗ breach"), "{screen}");
    assert!(screen.contains("ramp-5"), "{screen}");
    insta::assert_snapshot!("mid_breach_100x30", screen);
    insta::assert_snapshot!("mid_breach_80x24", draw(&m, 80, 24));
}

#[test]
fn rollback_screen_and_explain() {
    let mut m = scenario_model();
    send(&mut m, Msg::NextVerdict); // synthetic: go at 12:00
    assert_eq!(m.clock, at("2026-03-02T12:00:00Z"));
    send(&mut m, Msg::NextVerdict); // ramp-5: rollback at 12:15
    assert_eq!(m.clock, at("2026-03-02T12:15:00Z"));
    assert!(m.at_end());
    assert_eq!(
        verdicts(&m),
        [
            Verdict::Go,
            Verdict::Rollback,
            Verdict::NotRun,
            Verdict::NotRun
        ]
    );
    insta::assert_snapshot!("rollback_100x30", draw(&m, 100, 30));

    // Explain the rollback verdict: select it in the event log.
    send(&mut m, Msg::FocusNext);
    assert_eq!(m.focus, Focus::Events);
    let sel = m.event_sel.expect("the newest event is selected");
    assert!(matches!(
        m.session.timeline.events[sel],
        VerdictEvent::Outcome { .. }
    ));
    // Down moves to older events: follow-up, then the verdict.
    loop {
        send(&mut m, Msg::Down);
        let i = m.event_sel.expect("a selection");
        if matches!(
            m.session.timeline.events[i],
            VerdictEvent::StageVerdict { .. }
        ) {
            break;
        }
    }
    send(&mut m, Msg::Explain);
    assert!(matches!(
        m.overlay,
        Some(Overlay::Explain {
            subject: Subject::Event(_),
            ..
        })
    ));
    let screen = draw(&m, 100, 30);
    assert!(screen.contains("ramp-5: ROLLBACK at 12:15"), "{screen}");
    assert!(screen.contains("11/11"), "{screen}");
    insta::assert_snapshot!("explain_rollback_100x30", screen);
}

#[test]
fn help_overlay_lists_every_key() {
    let mut m = scenario_model();
    key(&mut m, KeyCode::Char('?'));
    assert_eq!(m.overlay, Some(Overlay::Help));
    let screen = draw(&m, 80, 24);
    for (keys, _) in rehearse::tui::keys::HELP {
        assert!(screen.contains(keys), "help lacks {keys}:\n{screen}");
    }
    insta::assert_snapshot!("help_80x24", screen);
    key(&mut m, KeyCode::Esc);
    assert_eq!(m.overlay, None);
}

#[test]
fn playback_speeds_steps_and_restart() {
    let mut m = scenario_model();
    let t0 = m.clock;
    assert!(m.playing);
    assert_eq!(m.frame_interval(), Some(Duration::from_millis(100)));
    // 600x: 100 ms of real time is one minute of rollout.
    send(
        &mut m,
        Msg::Frame {
            elapsed: Duration::from_millis(100),
        },
    );
    assert_eq!(m.clock, t0 + 60_000);
    key(&mut m, KeyCode::Char('1'));
    assert_eq!(m.speed, Speed::X(1));
    send(
        &mut m,
        Msg::Frame {
            elapsed: Duration::from_millis(1500),
        },
    );
    assert_eq!(m.clock, t0 + 61_500);
    // A step snaps to the tick grid and pauses; paused, frames do nothing and the
    // event loop blocks.
    key(&mut m, KeyCode::Right);
    assert_eq!(m.clock, t0 + 120_000);
    assert!(!m.playing);
    assert_eq!(m.frame_interval(), None);
    send(
        &mut m,
        Msg::Frame {
            elapsed: Duration::from_secs(10),
        },
    );
    assert_eq!(m.clock, t0 + 120_000);
    key(&mut m, KeyCode::Left);
    key(&mut m, KeyCode::Left);
    assert_eq!(m.clock, t0);
    key(&mut m, KeyCode::Left);
    assert_eq!(m.clock, t0, "never before T0");
    // Max: one tick per frame, frames back to back; it stops at the end.
    key(&mut m, KeyCode::Char('5'));
    key(&mut m, KeyCode::Char(' '));
    assert_eq!(m.frame_interval(), Some(Duration::ZERO));
    let mut frames = 0;
    while m.playing {
        send(
            &mut m,
            Msg::Frame {
                elapsed: Duration::ZERO,
            },
        );
        frames += 1;
    }
    assert_eq!(m.clock, at("2026-03-02T12:15:00Z"));
    assert_eq!(frames, 135);
    assert!(draw(&m, 80, 24).contains("replay finished: ROLLBACK at 12:15"));
    key(&mut m, KeyCode::Char('p'));
    assert_eq!(m.clock, at("2026-03-02T12:00:00Z"));
    key(&mut m, KeyCode::Char('r'));
    assert_eq!(m.clock, t0);
    assert!(m.playing);
    key(&mut m, KeyCode::Char('<'));
    assert_eq!(m.speed, Speed::X(3600));
    key(&mut m, KeyCode::Char('>'));
    assert_eq!(m.speed, Speed::Max);
    key(&mut m, KeyCode::Char('q'));
    assert!(m.quit);
}

#[test]
fn seeking_anywhere_is_instant() {
    let mut m = scenario_model();
    let started = std::time::Instant::now();
    for _ in 0..50 {
        send(&mut m, Msg::NextVerdict);
        send(&mut m, Msg::Restart);
        send(&mut m, Msg::NextVerdict);
        send(&mut m, Msg::NextVerdict);
        let _ = draw(&m, 120, 40);
    }
    // 50 seeks across the run and 50 full redraws, in a debug build.
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

/// Moves the selected knob until the verdicts change (at most `limit` steps).
fn tune_until_change(m: &mut Model, up: bool, limit: usize) -> Vec<String> {
    for _ in 0..limit {
        send(m, Msg::Tune { up });
        if let Some(c) = &m.change
            && !c.diffs.is_empty()
        {
            return c.diffs.clone();
        }
    }
    panic!("no verdict changed in {limit} steps: {:?}", m.status);
}

fn select_knob(m: &mut Model, key: &str) {
    let i = m
        .session
        .tuner
        .as_ref()
        .and_then(|t| t.knobs.iter().position(|k| k.key == key))
        .expect("the knob exists");
    m.knob_sel = i;
}

#[test]
fn tuning_marks_changes_and_matches_a_fresh_replay_of_the_saved_policy() {
    let mut m = scenario_model();
    let dir = tempfile::tempdir().expect("a temp dir");
    m.save_path = dir.path().join("tuned.toml");
    // Pick the 5xx gate in the table and open tuning: its first knob is selected.
    key(&mut m, KeyCode::Char('t'));
    assert!(m.tuning);
    assert_eq!(m.focus, Focus::Tune);
    // Raise the 5xx trigger until ramp-5 no longer rolls back (3 % 5xx: at 0.04).
    select_knob(&mut m, "triggers.error_rate_5xx");
    let diffs = tune_until_change(&mut m, true, 60);
    assert_eq!(diffs[0], "ramp-5: rollback -> hold", "{diffs:?}");
    let c = m.change.clone().expect("a change");
    assert!(c.elapsed < Duration::from_millis(1000), "{:?}", c.elapsed);
    // The rollback is gone: ramp-5 runs its 30 minutes and holds.
    assert_eq!(m.session.timeline.end, at("2026-03-02T12:30:00Z"));
    seek(&mut m, at("2026-03-02T12:30:00Z"));
    let save_to = std::mem::replace(&mut m.save_path, PathBuf::from("tuned.toml"));
    insta::assert_snapshot!("tuning_diff_100x30", draw(&m, 100, 30));
    insta::assert_snapshot!("tuning_diff_80x24", draw(&m, 80, 24));
    m.save_path = save_to;

    // Save, then replay the same data with the saved file: identical events.
    key(&mut m, KeyCode::Char('s'));
    let saved = std::fs::read_to_string(&m.save_path).expect("the tuned policy was saved");
    assert!(
        saved.contains("--set triggers.error_rate_5xx=0.021"),
        "{saved}"
    );
    assert!(
        m.status
            .as_ref()
            .is_some_and(|(_, s)| s.contains("saved the tuned policy")),
        "{:?}",
        m.status
    );
    let policy = PolicyBuilder::new()
        .file(&m.save_path)
        .and_then(PolicyBuilder::build)
        .expect("the saved policy reads back");
    assert_eq!(policy.trig_5xx.as_f64(), 0.021);
    let scenario = Scenario::load(Path::new(SCENARIO)).expect("loads");
    let ds = scenario.dataset().expect("generates");
    let fresh = replay_dataset(
        &rehearse::app::setup(policy).expect("setup"),
        &ds,
        None,
        8192,
    )
    .expect("replays");
    assert_eq!(fresh.run.events, m.session.timeline.events);
    assert_eq!(
        fresh
            .run
            .stages
            .iter()
            .map(|s| s.verdict)
            .collect::<Vec<_>>(),
        verdicts(&m)
    );

    // The sustain span, in ticks: 12 ticks let ramp-5 survive the 11-tick run.
    send(&mut m, Msg::ResetKnob);
    assert_eq!(
        verdicts(&m),
        [
            Verdict::Go,
            Verdict::Rollback,
            Verdict::NotRun,
            Verdict::NotRun
        ]
    );
    select_knob(&mut m, "rollout.sustain");
    send(&mut m, Msg::Tune { up: false });
    let diffs = &m.change.as_ref().expect("a change").diffs;
    assert!(diffs.is_empty(), "{diffs:?}");
    let policy = m.session.policy.clone().expect("a policy");
    assert_eq!(policy.sustain_ticks, 10);
    // The rollback comes one tick earlier.
    assert_eq!(m.session.timeline.end, at("2026-03-02T12:14:00Z"));
}

#[test]
fn tuning_refuses_what_the_aggregates_cannot_judge() {
    let mut m = scenario_model();
    select_knob(&mut m, "triggers.latency_p99_ms");
    m.tuning = true;
    m.focus = Focus::Tune;
    let before = m.session.timeline.events.clone();
    // The tuning grid stops at 2 s: from 1990 ms, two steps reach it, the third is past.
    let i = m.knob_sel;
    m.session.tuner.as_mut().expect("a tuner").commit(i, 1990.0);
    for _ in 0..3 {
        send(&mut m, Msg::Tune { up: true });
    }
    let status = m.status.clone().expect("a status");
    assert!(status.1.contains("refused"), "{status:?}");
    assert!(
        m.session
            .policy
            .as_ref()
            .is_some_and(|p| p.trig_p99_us == 2_000_000)
    );
    // A rate cannot go below one step.
    select_knob(&mut m, "go.error_rate_5xx");
    for _ in 0..10 {
        send(&mut m, Msg::Tune { up: false });
    }
    assert!(
        m.session
            .policy
            .as_ref()
            .is_some_and(|p| p.go_5xx.as_f64() == 0.001)
    );
    assert_ne!(before, m.session.timeline.events);
}

/// A small dataset on disk (2 requests/s, 5xx fault in ramp-25).
fn small_dataset(dir: &Path) {
    let mut spec = GenSpec::new(7);
    spec.rps = 2.0;
    spec.base_5xx = 0.0;
    spec.base_4xx_nonauth = 0.0;
    let mut f = Fault::new(FaultKind::Error5xx, "ramp-25");
    f.at = "20m".into();
    f.rate = Some(0.2);
    spec.faults.push(f);
    let ds = rehearse::generate::generate(&spec, &gen_plan(&Policy::default_policy()))
        .expect("generates");
    write_dataset(&ds, dir, Format::Csv).expect("writes");
}

fn tui_args(args: &[&str]) -> rehearse::cli::TuiArgs {
    let mut all = vec!["rehearse", "tui"];
    all.extend_from_slice(args);
    match Cli::try_parse_from(all).expect("valid arguments").command {
        Sub::Tui(a) => a,
        _ => unreachable!("parsed a tui command"),
    }
}

#[test]
fn tuned_policy_file_gives_the_same_verdicts_in_rehearse_run() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let data = dir.path().join("data");
    small_dataset(&data);
    let policy_file = dir.path().join("base.toml");
    std::fs::write(&policy_file, "[rollout]\nmin_requests = 5\n").expect("writes");
    let args = tui_args(&[
        data.to_str().expect("utf-8"),
        "--policy",
        policy_file.to_str().expect("utf-8"),
    ]);
    let mut m = model_of(load(&args.settings()).expect("the dataset loads"));
    m.save_path = dir.path().join("tuned.toml");
    assert_eq!(
        verdicts(&m),
        [Verdict::Go, Verdict::Go, Verdict::Rollback, Verdict::NotRun]
    );
    select_knob(&mut m, "triggers.error_rate_5xx");
    m.tuning = true;
    m.focus = Focus::Tune;
    // The fault runs at 20 % 5xx: start just below the rates it sustains.
    let i = m.knob_sel;
    m.session.tuner.as_mut().expect("a tuner").commit(i, 0.15);
    let diffs = tune_until_change(&mut m, true, 60);
    assert!(diffs[0].starts_with("ramp-25: rollback -> "), "{diffs:?}");
    send(&mut m, Msg::Save);
    let out = Command::new(env!("CARGO_BIN_EXE_rehearse"))
        .args(["run", "--json", "--policy"])
        .arg(&m.save_path)
        .arg(&data)
        .stdin(Stdio::null())
        .output()
        .expect("the binary runs");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("a JSON report");
    let run_verdicts: Vec<String> = report["stages"]
        .as_array()
        .expect("stages")
        .iter()
        .map(|s| s["verdict"].as_str().unwrap_or("?").to_string())
        .collect();
    let tui_verdicts: Vec<String> = verdicts(&m)
        .iter()
        .map(|v| v.as_str().to_string())
        .collect();
    assert_eq!(run_verdicts, tui_verdicts);
    assert_eq!(
        report["outcome"],
        m.session.timeline.outcome.map_or("?", |o| o.1.as_str())
    );
    // And the same events as a fresh in-process replay of the directory.
    let policy = PolicyBuilder::new()
        .file(&m.save_path)
        .and_then(PolicyBuilder::build)
        .expect("reads back");
    let fresh = replay_dir(
        &rehearse::app::setup(policy).expect("setup"),
        &data,
        Default::default(),
    )
    .expect("replays");
    assert_eq!(fresh.run.events, m.session.timeline.events);
}

#[test]
fn a_recording_replays_without_tuning() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = dir.path().join("run.arrow");
    let scenario = Scenario::load(Path::new(SCENARIO)).expect("loads");
    let run = scenario.run().expect("runs");
    let p = &scenario.setup.policy;
    let meta = rehearse::output::record::RecordMeta {
        t0: run.t0,
        tick_ms: p.tick_ms,
        dataset: "scenario".into(),
        policy_toml: p.to_toml(),
        stages: run
            .stages
            .iter()
            .map(|s| rehearse::output::record::StageMeta {
                name: s.name.clone(),
                start: s.start,
                end: s.end,
                weight: s.weight,
            })
            .collect(),
    };
    rehearse::output::record::write_record(&path, &meta, &run.events).expect("records");
    let args = tui_args(&["--recording", path.to_str().expect("utf-8")]);
    let mut m = model_of(load(&args.settings()).expect("the recording loads"));
    assert_eq!(m.session.timeline.events, run.events);
    assert!(m.session.tuner.is_none());
    send(&mut m, Msg::NextVerdict);
    send(&mut m, Msg::NextVerdict);
    assert_eq!(
        verdicts(&m),
        [
            Verdict::Go,
            Verdict::Rollback,
            Verdict::NotRun,
            Verdict::NotRun
        ]
    );
    key(&mut m, KeyCode::Char('t'));
    let screen = draw(&m, 80, 24);
    assert!(screen.contains("No tuning: a recording"), "{screen}");
    key(&mut m, KeyCode::Char('+'));
    assert!(
        m.status
            .as_ref()
            .is_some_and(|(_, s)| s.contains("no tuning for a recording")),
        "{:?}",
        m.status
    );
    assert_eq!(update(&mut m, Msg::Save), None);
    // Explaining still works from the recorded tick records.
    key(&mut m, KeyCode::Esc);
    m.gate_sel = 0;
    m.focus = Focus::Gates;
    key(&mut m, KeyCode::Enter);
    let screen = draw(&m, 100, 30);
    assert!(screen.contains("error_rate_5xx in ramp-5"), "{screen}");
    assert!(screen.contains("✗ held"), "{screen}");
    // It holds no requests, so no odds of a false stop; the explanation says so.
    assert_eq!(m.session.odds, OddsData::Recording);
    let doc = explain(&m, Subject::Gate(Gate::ErrorRate5xx));
    assert!(
        doc.lines.iter().any(|(_, l)| l
            == "unavailable: a recording holds verdicts, not the requests they come from"),
        "{doc:#?}"
    );
    // A recording carries no funnel events; the panel says so.
    assert_eq!(m.session.funnel, FunnelPanel::Recording);
    key(&mut m, KeyCode::Esc);
    let screen = draw(&m, 100, 30);
    assert!(screen.contains("a recording holds"), "{screen}");
}

#[test]
fn funnel_panel_shows_the_analytics_report() {
    // Scenario 61: the canary build stops sending `shortlist` from ramp-25 on.
    let path = Path::new("scenarios/61-analytics-tracking-gap.toml");
    let scenario = Scenario::load(path).expect("scenario 61 loads");
    let m = model_of(scenario_session(path).expect("scenario 61 replays"));
    // The panel holds the figures of the analytics report over the same events.
    let ds = scenario.dataset().expect("generates");
    let data = AnalyticsData::from_dataset(&ds).expect("the scenario has funnel events");
    let report = analyze(&data, &scenario.setup.policy.file.analytics, "x")
        .expect("the report builds")
        .report;
    let FunnelPanel::Summary(s) = &m.session.funnel else {
        panic!("no funnel summary: {:?}", m.session.funnel);
    };
    assert!(s.has_funnel && s.has_ledger);
    let steps: Vec<_> = report
        .funnel
        .steps
        .iter()
        .zip(&report.funnel_excluded.steps)
        .map(|(a, b)| (a.name, a.persons, b.persons))
        .collect();
    assert_eq!(s.steps, steps);
    assert_eq!(s.persons, report.persons);
    assert!(
        s.persons.synthetic > 0 && s.persons.canary_only > 0,
        "{:?}",
        s.persons
    );
    assert!(s.steps[0].1 > s.steps[4].1, "{:?}", s.steps);
    assert_eq!(s.gaps.len(), report.tracking_gaps.len());
    assert!(
        s.gaps.iter().any(|g| g.starts_with("shortlist z=-")),
        "{:?}",
        s.gaps
    );
    assert_eq!((s.fee_violations, s.ledger_findings), (0, 0));

    let screen = draw(&m, 100, 30);
    assert!(screen.contains("✗ gap shortlist z=-"), "{screen}");
    assert!(screen.contains("✓ fees  ✓ ledger"), "{screen}");
    let visit = format!("visit{:>12}{:>6}", s.steps[0].1, s.steps[0].2);
    assert!(screen.contains(&visit), "{visit:?} not on\n{screen}");
    // A taller terminal shows the excluded persons under the steps.
    let tall = draw(&m, 100, 40);
    let p = &s.persons;
    let excluded = format!("excluded {} of {}", p.total - p.included, p.total);
    assert!(tall.contains(&excluded), "{excluded:?} not on\n{tall}");
    assert!(tall.contains("purchase"), "{tall}");
    insta::assert_snapshot!("funnel_gap_100x40", tall);

    // Without funnel or ledger streams the panel says there is nothing to show.
    let plain = scenario_model();
    assert_eq!(plain.session.funnel, FunnelPanel::NoData);
    assert!(draw(&plain, 100, 30).contains("no funnel data"));
}

#[test]
fn ledger_findings_show_in_the_funnel_panel() {
    // Scenario 64: a payout paid twice.
    let path = Path::new("scenarios/64-analytics-double-payout.toml");
    let m = model_of(scenario_session(path).expect("scenario 64 replays"));
    let FunnelPanel::Summary(s) = &m.session.funnel else {
        panic!("no funnel summary: {:?}", m.session.funnel);
    };
    assert!(s.ledger_findings > 0, "{s:?}");
    let screen = draw(&m, 100, 30);
    assert!(
        screen.contains(&format!("✗ ledger {}", s.ledger_findings)),
        "{screen}"
    );
}

#[test]
fn recording_rejects_policy_flags_and_bad_speed() {
    let args = tui_args(&["--recording", "x.arrow", "--set", "go.error_rate_5xx=0.01"]);
    let e = load(&args.settings()).err().expect("an error");
    assert!(e.to_string().contains("--recording"), "{e}");
    assert!(Cli::try_parse_from(["rehearse", "tui", "d", "--speed", "0"]).is_err());
    assert!(Cli::try_parse_from(["rehearse", "tui", "d", "--speed", "fast"]).is_err());
    assert!(Cli::try_parse_from(["rehearse", "tui", "d", "--scenario", "s.toml"]).is_err());
    assert!(Cli::try_parse_from(["rehearse", "tui"]).is_err());
    assert_eq!(tui_args(&["d", "--speed", "max"]).speed, Speed::Max);
    assert_eq!(tui_args(&["d", "--speed", "60x"]).speed, Speed::X(60));
}

#[test]
fn save_reports_write_errors() {
    let mut m = scenario_model();
    m.save_path = PathBuf::from("/nonexistent-dir/x/tuned.toml");
    let cmd = update(&mut m, Msg::Save).expect("a save command");
    assert!(matches!(cmd, Cmd::Save { .. }));
    let r = perform(cmd);
    update(&mut m, r);
    assert!(
        m.status
            .as_ref()
            .is_some_and(|(_, s)| s.contains("cannot write")),
        "{:?}",
        m.status
    );
}

#[test]
fn explain_a_breach_and_a_gate() {
    let mut m = scenario_model();
    seek(&mut m, at("2026-03-02T12:08:00Z"));
    // The first breach of the stage in the event log.
    send(&mut m, Msg::FocusNext);
    let target = m
        .session
        .timeline
        .log_visible(m.clock)
        .into_iter()
        .rev()
        .find(|&i| {
            matches!(
                &m.session.timeline.events[i],
                VerdictEvent::Breach { evidence, .. } if evidence.gate == Gate::ErrorRate5xx
            )
        })
        .expect("a 5xx breach by 12:08");
    while m.event_sel != Some(target) {
        send(&mut m, Msg::Down);
    }
    send(&mut m, Msg::Explain);
    let screen = draw(&m, 100, 30);
    assert!(
        screen.contains("BREACH error_rate_5xx in ramp-5"),
        "{screen}"
    );
    assert!(screen.contains("✗ breach"), "{screen}");
    insta::assert_snapshot!("explain_breach_100x30", screen);
    send(&mut m, Msg::Close);
    // A gate: its ticks in the current stage.
    send(&mut m, Msg::FocusPrev);
    assert_eq!(m.focus, Focus::Gates);
    send(&mut m, Msg::Explain);
    let screen = draw(&m, 100, 30);
    assert!(
        screen.contains("error_rate_5xx in ramp-5 up to 12:08"),
        "{screen}"
    );
}

#[test]
fn small_and_resized_terminals_draw() {
    let mut m = scenario_model();
    seek(&mut m, at("2026-03-02T12:10:00Z"));
    for (w, h) in [(80, 24), (120, 40), (200, 60), (60, 20), (30, 8)] {
        let s = draw(&m, w, h);
        assert_eq!(s.lines().count(), h as usize, "{w}x{h}");
    }
    assert!(draw(&m, 30, 8).contains("needs at least"));
    // Wide terminals show all three charts and the trigger column.
    let wide = draw(&m, 160, 50);
    assert!(wide.contains("budget burn %"), "{wide}");
    assert!(wide.contains("trigger"), "{wide}");
}

/// Saves the tuned policy, replays the scenario's data with the saved file and checks
/// the events are exactly those on screen.
fn assert_matches_fresh_replay(m: &mut Model, scenario: &str, dir: &Path) {
    m.save_path = dir.join("tuned.toml");
    send(m, Msg::Save);
    let policy = PolicyBuilder::new()
        .file(&m.save_path)
        .and_then(PolicyBuilder::build)
        .expect("the saved policy reads back");
    let scenario = Scenario::load(Path::new(scenario)).expect("loads");
    let ds = scenario.dataset().expect("generates");
    let fresh = replay_dataset(
        &rehearse::app::setup(policy).expect("setup"),
        &ds,
        None,
        8192,
    )
    .expect("replays");
    assert_eq!(fresh.run.events, m.session.timeline.events);
}

#[test]
fn latency_tuning_matches_a_fresh_replay() {
    const LATENCY: &str = "scenarios/04-latency-p95.toml";
    let dir = tempfile::tempdir().expect("a temp dir");
    let mut m = model_of(scenario_session(Path::new(LATENCY)).expect("scenario 04 loads"));
    assert_eq!(
        verdicts(&m),
        [Verdict::Go, Verdict::Go, Verdict::Rollback, Verdict::NotRun]
    );
    m.tuning = true;
    m.focus = Focus::Tune;
    // A lower p95 trigger fires no later, with latency evidence on the trigger.
    select_knob(&mut m, "triggers.latency_p95_ms");
    send(&mut m, Msg::Tune { up: false });
    let end = m.session.timeline.end;
    assert!(end <= at("2026-03-02T12:48:00Z"), "{end}");
    let trigger = m.session.timeline.events.iter().find_map(|e| match e {
        VerdictEvent::Trigger { evidence, .. } => Some(evidence.clone()),
        _ => None,
    });
    let trigger = trigger.expect("a trigger");
    assert_eq!(trigger.gate, Gate::LatencyP95);
    assert!(trigger.value.is_some_and(|v| v > 245.0), "{trigger:?}");
    assert_matches_fresh_replay(&mut m, LATENCY, dir.path());
    // Above the tail, the trigger no longer fires: ramp-25 holds on its Go limit.
    let i = m.knob_sel;
    m.session.tuner.as_mut().expect("a tuner").commit(i, 440.0);
    let diffs = tune_until_change(&mut m, true, 40);
    assert!(
        diffs[0].starts_with("ramp-25: rollback -> hold"),
        "{diffs:?}"
    );
    assert_matches_fresh_replay(&mut m, LATENCY, dir.path());
}

// ---- odds of a false stop in the explain panel ----

/// A small clean dataset on disk (seed 12, 4 requests/s, the generator's baseline
/// error rates in both cohorts, no fault: every stage goes) and its policy file.
fn odds_dataset(dir: &Path) -> (PathBuf, PathBuf) {
    let data = dir.join("data");
    let mut spec = GenSpec::new(12);
    spec.rps = 4.0;
    spec.streams = Vec::new();
    spec.probes = false;
    let ds = rehearse::generate::generate(&spec, &gen_plan(&Policy::default_policy()))
        .expect("generates");
    write_dataset(&ds, &data, Format::Csv).expect("writes");
    let policy = dir.join("policy.toml");
    std::fs::write(&policy, "[rollout]\nmin_requests = 20\n").expect("writes");
    (data, policy)
}

/// The policy of [`odds_dataset`], as `rehearse run --policy` builds it.
fn odds_policy(file: &Path) -> Policy {
    PolicyBuilder::new()
        .file(file)
        .and_then(PolicyBuilder::build)
        .expect("the policy builds")
}

/// A probability as `rehearse run`'s summary prints it (written out here, not taken
/// from the TUI's formatting).
fn percent(p: f64) -> String {
    if p > 0.0 && p < 0.0001 {
        "<0.01%".into()
    } else {
        format!("{:.2}%", p * 100.0)
    }
}

/// The screen line holding `label`'s hold row and the one below it (its rollback row),
/// each cut to the cells after the stop column: `[odds, low–high, ...]`.
fn odds_cells(screen: &str, label: &str) -> (Vec<String>, Vec<String>) {
    let lines: Vec<&str> = screen.lines().collect();
    let i = lines
        .iter()
        .position(|l| l.contains(&format!("  {label:<13} hold ")))
        .unwrap_or_else(|| panic!("no hold row for {label}:\n{screen}"));
    let cells = |l: &str, stop: &str| -> Vec<String> {
        let after = &l[l.find(stop).expect("the stop column") + stop.len()..];
        after
            .split_whitespace()
            .take_while(|c| !c.contains('│'))
            .map(str::to_string)
            .collect()
    };
    (cells(lines[i], " hold "), cells(lines[i + 1], " rollback "))
}

/// Moves the event selection to the newest stage verdict and explains it.
fn explain_newest_verdict(m: &mut Model) {
    m.focus = Focus::Events;
    m.event_sel = None;
    send(m, Msg::Down);
    while !matches!(
        m.session.timeline.events[m.event_sel.expect("a selection")],
        VerdictEvent::StageVerdict { .. }
    ) {
        send(m, Msg::Down);
    }
    send(m, Msg::Explain);
}

#[test]
fn explain_shows_the_odds_of_a_false_stop_as_run_computes_them() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let (data, policy_file) = odds_dataset(dir.path());
    let args = tui_args(&[
        data.to_str().expect("utf-8"),
        "--policy",
        policy_file.to_str().expect("utf-8"),
    ]);
    let mut m = model_of(load(&args.settings()).expect("the dataset loads"));
    // The label names the temporary directory: fixed for the snapshot.
    m.session.label = "dataset odds-demo".into();
    // What `rehearse run` computes: the same call over a plain replay of the directory
    // (without the tuning grid's extra latency bands).
    let setup = rehearse::app::setup(odds_policy(&policy_file)).expect("setup");
    let fresh = replay_dir(&setup, &data, Default::default()).expect("replays");
    let expected = of_fold(&setup.policy, &fresh.folded);
    assert_eq!(m.session.odds, OddsData::Stages(expected.clone()));
    let ramp5 = expected[1].as_ref().expect("ramp-5 had canary traffic");
    assert_eq!(ramp5.gates.len(), 4, "{ramp5:?}");
    assert!(
        ramp5.hold.p > 0.01,
        "the clean data should make a false hold likely at this traffic: {ramp5:?}"
    );

    // ramp-5's verdict (the second), explained at 80 columns.
    send(&mut m, Msg::NextVerdict);
    send(&mut m, Msg::NextVerdict);
    explain_newest_verdict(&mut m);
    let screen = draw(&m, 80, 40);
    assert!(screen.contains("ramp-5: GO at 12:30"), "{screen}");
    assert!(
        screen.contains("odds of a false stop in ramp-5"),
        "{screen}"
    );
    insta::assert_snapshot!("explain_odds_80x40", screen);
    // Every gate's numbers, read back off the screen, are `of_fold`'s.
    for g in &ramp5.gates {
        let label = rehearse::tui::fmt::gate_label(g.gate);
        let (hold, rollback) = odds_cells(&screen, label);
        match g.hold {
            Some(o) => {
                assert_eq!(hold[0], percent(o.p), "{label} hold: {hold:?}");
                assert_eq!(
                    hold[1],
                    format!("{}–{}", percent(o.low), percent(o.high)),
                    "{label} hold interval"
                );
            }
            None => assert_eq!(hold[..4], ["-", "not", "a", "Go"], "{label}"),
        }
        match g.rollback {
            Some(o) => {
                assert_eq!(rollback[0], percent(o.p), "{label} rollback: {rollback:?}");
                assert_eq!(
                    rollback[1],
                    format!("{}–{}", percent(o.low), percent(o.high)),
                    "{label} rollback interval"
                );
            }
            None => assert_eq!(rollback[..2], ["-", "not"], "{label}"),
        }
        let method = g.method.as_str().replace('_', " ");
        let least = match g.min_window_requests {
            None => "-".to_string(),
            Some(0) => "any".to_string(),
            Some(n) => n.to_string(),
        };
        let tail = hold[hold.len() - method.split(' ').count() - 1..].join(" ");
        assert_eq!(tail, format!("{method} {least}"), "{label}: {hold:?}");
        // And the shared formatting gives exactly these rows.
        for row in gate_odds_rows(g) {
            assert!(screen.contains(&row), "{row}\n{screen}");
        }
    }
    let (hold, rollback) = odds_cells(&screen, "any gate");
    assert_eq!(hold[0], percent(ramp5.hold.p));
    assert_eq!(rollback[0], percent(ramp5.rollback.p));

    // A gate: only its own odds, in the current stage (ramp-25 started at 12:30).
    send(&mut m, Msg::Close);
    m.focus = Focus::Gates;
    m.gate_sel = GATE_ORDER
        .iter()
        .position(|g| *g == Gate::ErrorRate4xxNonauth)
        .expect("a gate row");
    send(&mut m, Msg::Explain);
    let doc = explain(&m, Subject::Gate(Gate::ErrorRate4xxNonauth));
    let text: Vec<&str> = doc.lines.iter().map(|(_, l)| l.as_str()).collect();
    assert!(
        text.contains(&"odds of a false stop in ramp-25"),
        "{text:#?}"
    );
    let ramp25 = expected[2].as_ref().expect("ramp-25 had canary traffic");
    let g4 = ramp25
        .gates
        .iter()
        .find(|g| g.gate == Gate::ErrorRate4xxNonauth)
        .expect("the 4xx gate's odds");
    for row in gate_odds_rows(g4) {
        assert!(text.contains(&row.as_str()), "{row}\n{text:#?}");
    }
    assert!(
        !text
            .iter()
            .any(|l| l.contains("5xx rate") || l.contains("any gate")),
        "{text:#?}"
    );
    let screen = draw(&m, 80, 40);
    let (hold, _) = odds_cells(&screen, "4xx non-auth");
    assert_eq!(hold[0], percent(g4.hold.expect("a Go gate").p), "{screen}");
    // A gate the odds do not model says so.
    let doc = explain(&m, Subject::Gate(Gate::BudgetBurn));
    assert!(
        doc.lines
            .iter()
            .any(|(_, l)| l.starts_with("not modelled for budget_burn")),
        "{doc:#?}"
    );
    // Tuning does not recompute the odds: once a knob moved, the panel says whose they are.
    let note = "for the policy as loaded: tuning does not recompute the odds";
    let has_note = |m: &Model| {
        explain(m, Subject::Gate(Gate::ErrorRate4xxNonauth))
            .lines
            .iter()
            .any(|(_, l)| l == note)
    };
    assert!(!has_note(&m));
    select_knob(&mut m, "go.error_rate_4xx_nonauth");
    let i = m.knob_sel;
    m.session.tuner.as_mut().expect("a tuner").commit(i, 0.02);
    assert!(has_note(&m));
}

#[test]
fn explain_says_when_a_stage_has_no_canary_traffic() {
    // The synthetic stage sends the canary no traffic (weight 0).
    let mut m = scenario_model();
    let OddsData::Stages(odds) = &m.session.odds else {
        panic!("a replayed scenario has odds")
    };
    assert!(odds[0].is_none());
    assert!(odds[1].is_some());
    send(&mut m, Msg::NextVerdict);
    explain_newest_verdict(&mut m);
    let screen = draw(&m, 80, 40);
    assert!(screen.contains("synthetic: GO at 12:00"), "{screen}");
    assert!(
        screen.contains("none: the stage sends no traffic to the canary (weight 0 %)"),
        "{screen}"
    );
    insta::assert_snapshot!("explain_odds_synthetic_80x40", screen);

    // A stage with weight whose canary requests are missing from the data.
    let dir = tempfile::tempdir().expect("a temp dir");
    let data = dir.path().join("data");
    let policy = Policy::default_policy();
    let mut spec = GenSpec::new(12);
    spec.rps = 4.0;
    spec.streams = Vec::new();
    spec.probes = false;
    let mut ds = rehearse::generate::generate(&spec, &gen_plan(&policy)).expect("generates");
    let (from, to) = (at("2026-03-02T12:00:00Z"), at("2026-03-02T12:30:00Z"));
    ds.requests
        .retain(|r| !(r.cohort == Cohort::Canary && r.ts >= from && r.ts <= to));
    write_dataset(&ds, &data, Format::Csv).expect("writes");
    let args = tui_args(&[data.to_str().expect("utf-8")]);
    let mut m = model_of(load(&args.settings()).expect("the dataset loads"));
    let fresh = replay_dir(
        &rehearse::app::setup(policy.clone()).expect("setup"),
        &data,
        Default::default(),
    )
    .expect("replays");
    let expected = of_fold(&policy, &fresh.folded);
    assert!(expected[1].is_none(), "{:?}", expected[1]);
    assert_eq!(m.session.odds, OddsData::Stages(expected));
    seek(&mut m, at("2026-03-02T12:10:00Z"));
    m.focus = Focus::Gates;
    m.gate_sel = 0;
    let doc = explain(&m, Subject::Gate(GATE_ORDER[0]));
    let text: Vec<&str> = doc.lines.iter().map(|(_, l)| l.as_str()).collect();
    assert!(
        text.contains(&"odds of a false stop in ramp-5"),
        "{text:#?}"
    );
    assert!(
        text.contains(&"none: no canary requests in this stage (or no baseline to model them on)"),
        "{text:#?}"
    );
}
