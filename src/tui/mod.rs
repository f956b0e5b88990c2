//! `rehearse tui`: replay a rollout in the terminal. [`load`] precomputes the whole
//! run (from a dataset directory, a scenario generated in memory, or a recorded event
//! log); [`run_tui`] owns the terminal and the event loop: crossterm events become
//! messages (`keys.rs`), `model::update` applies them and `view::view` draws the model.
//! While playing the loop wakes for the next frame; while paused it blocks on input. The
//! terminal is restored on exit, on error and on panic. The screen and keys are
//! documented in `docs/tui.md`.

pub mod data;
pub mod explain;
pub mod fmt;
pub mod keys;
pub mod model;
pub mod tune;
pub mod view;

use std::io::{self, Stdout};
use std::path::Path;
use std::time::Instant;

use anyhow::{Context, bail};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use ratatui::crossterm::event::{self, Event};
use ratatui::crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use ratatui::crossterm::{cursor, execute};

use crate::cli::{OnErrorArg, TuiArgs};
use crate::engine::fold::tuning_grid;
use crate::engine::{ReadOptions, Setup, replay_dataset_with_bands, replay_dir_with_bands};
use crate::policy::PolicyBuilder;
use crate::scenario::Scenario;
use crate::source::OnError;

pub use data::{Origin, Session};
pub use model::{Model, Msg, Speed, update};

/// Parses `--speed`: a positive factor (`60`, `600x`) or `max`.
pub fn parse_speed(s: &str) -> Result<Speed, String> {
    let t = s.trim().to_ascii_lowercase();
    if t == "max" {
        return Ok(Speed::Max);
    }
    match t.trim_end_matches('x').parse::<u32>() {
        Ok(n) if n > 0 => Ok(Speed::X(n)),
        _ => Err(format!(
            "`{s}` is not a speed: use a positive factor such as 1, 60, 600, 3600, or max"
        )),
    }
}

/// Reads and replays the input named by the arguments (every error is a usage error).
pub fn load(args: &TuiArgs) -> anyhow::Result<Session> {
    let has_policy = args.policy.policy.is_some() || !args.policy.set.is_empty();
    if let Some(path) = &args.recording {
        if has_policy {
            bail!(
                "--policy and --set do not apply to --recording: a recording carries its run's policy and verdicts"
            );
        }
        let (meta, events) = crate::record::read_record(path)?;
        return Ok(Session::from_recording(
            format!("recording {}", path.display()),
            meta,
            events,
        ));
    }
    let start = match &args.start {
        None => None,
        Some(s) => Some(crate::time::parse_rfc3339(s).with_context(|| {
            format!("--start `{s}` is not an RFC 3339 timestamp such as 2026-03-02T10:00:00Z")
        })?),
    };
    let grid = tuning_grid();
    if let Some(path) = &args.scenario {
        let scenario = Scenario::load(path)?;
        let mut policy = scenario.setup.policy.clone();
        if has_policy {
            let mut b = PolicyBuilder::new().text(&tune::portable_toml(&policy), "the scenario")?;
            if let Some(p) = &args.policy.policy {
                b = b.file(p)?;
            }
            for s in &args.policy.set {
                b = b.set(s)?;
            }
            policy = b.build()?;
        }
        let setup = Setup::new(policy)?;
        let ds = scenario.dataset()?;
        let replay = replay_dataset_with_bands(&setup, &ds, start, 8192, &grid)?;
        return Ok(Session::from_replay(
            format!("scenario {}", scenario.name),
            Origin::Scenario,
            setup.policy,
            replay,
        ));
    }
    let Some(dir) = &args.dataset else {
        bail!("give a dataset directory, --scenario FILE or --recording FILE");
    };
    let policy = args.policy.builder()?.build()?;
    let setup = Setup::new(policy)?;
    let opts = ReadOptions {
        on_error: match args.on_error {
            OnErrorArg::Fail => OnError::Fail,
            OnErrorArg::Skip => OnError::Skip,
        },
        start,
        ..ReadOptions::default()
    };
    let replay = replay_dir_with_bands(&setup, dir, opts, &grid)?;
    Ok(Session::from_replay(
        format!("dataset {}", dir.display()),
        Origin::Dataset,
        setup.policy,
        replay,
    ))
}

/// Leaves the alternate screen, shows the cursor and disables raw mode.
fn restore_terminal() {
    let _ = disable_raw_mode();
    let _ = execute!(io::stdout(), LeaveAlternateScreen, cursor::Show);
}

/// The terminal in raw mode on the alternate screen; restored when dropped.
struct TerminalGuard {
    terminal: Terminal<CrosstermBackend<Stdout>>,
}

impl TerminalGuard {
    fn enter() -> anyhow::Result<Self> {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore_terminal();
            previous(info);
        }));
        enable_raw_mode().context("rehearse tui needs an interactive terminal")?;
        if let Err(e) = execute!(io::stdout(), EnterAlternateScreen, cursor::Hide) {
            restore_terminal();
            return Err(e.into());
        }
        match Terminal::new(CrosstermBackend::new(io::stdout())) {
            Ok(terminal) => Ok(TerminalGuard { terminal }),
            Err(e) => {
                restore_terminal();
                Err(e.into())
            }
        }
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore_terminal();
    }
}

/// Runs the UI until the user quits.
pub fn run_tui(session: Session, args: &TuiArgs) -> anyhow::Result<()> {
    let mut model = Model::new(session, args.speed, args.save.clone());
    let mut guard = TerminalGuard::enter()?;
    event_loop(&mut model, &mut guard.terminal)
}

fn apply(model: &mut Model, msg: Msg) {
    if let Some(cmd) = update(model, msg) {
        let result = model::perform(cmd);
        update(model, result);
    }
}

fn event_loop(
    model: &mut Model,
    terminal: &mut Terminal<CrosstermBackend<Stdout>>,
) -> anyhow::Result<()> {
    let mut last_frame = Instant::now();
    loop {
        terminal.draw(|f| view::view(model, f))?;
        // Debug builds only: a deliberate panic after the first frame, so a test can
        // check that the panic hook restores the terminal (`tests/it/tui_pty.rs`).
        #[cfg(debug_assertions)]
        if std::env::var_os("REHEARSE_TUI_TEST_PANIC").is_some() {
            panic!("REHEARSE_TUI_TEST_PANIC is set: a deliberate panic after the first frame");
        }
        if model.quit {
            return Ok(());
        }
        let was_playing = model.playing;
        // Wait for input: until the next frame while playing, indefinitely while paused.
        let input = match model.frame_interval() {
            None => Some(event::read()?),
            Some(interval) => {
                let wait = interval.saturating_sub(last_frame.elapsed());
                if event::poll(wait)? {
                    Some(event::read()?)
                } else {
                    None
                }
            }
        };
        if let Some(ev) = input {
            handle_event(model, ev);
            // Drain what else is queued, so a held key does not lag behind the screen.
            while !model.quit && event::poll(std::time::Duration::ZERO)? {
                let ev = event::read()?;
                handle_event(model, ev);
            }
        }
        if model.playing && !was_playing {
            last_frame = Instant::now();
        }
        if let Some(interval) = model.frame_interval()
            && last_frame.elapsed() >= interval
        {
            let elapsed = last_frame.elapsed();
            last_frame = Instant::now();
            apply(model, Msg::Frame { elapsed });
        }
    }
}

fn handle_event(model: &mut Model, ev: Event) {
    match ev {
        Event::Key(key) => {
            if let Some(msg) = keys::key_to_msg(key, model) {
                apply(model, msg);
            }
        }
        // The next draw picks up the new size.
        Event::Resize(..) => {}
        _ => {}
    }
}

/// A session over a scenario file with the tuning grid, for tests and tools.
pub fn scenario_session(path: &Path) -> anyhow::Result<Session> {
    let scenario = Scenario::load(path)?;
    let ds = scenario.dataset()?;
    let replay = replay_dataset_with_bands(&scenario.setup, &ds, None, 8192, &tuning_grid())?;
    Ok(Session::from_replay(
        format!("scenario {}", scenario.name),
        Origin::Scenario,
        scenario.setup.policy.clone(),
        replay,
    ))
}
