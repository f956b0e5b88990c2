//! `rehearse tui`: replay a rollout in the terminal. The application layer
//! ([`crate::app::tui`]) precomputes the whole run (from a dataset directory, a scenario
//! generated in memory, or a recorded event log) as a [`Session`]; [`run_tui`] owns the
//! terminal and the event loop: crossterm events become
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
use std::path::PathBuf;
use std::time::Instant;

use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use ratatui::crossterm::event::{self, Event};
use ratatui::crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use ratatui::crossterm::{cursor, execute};

pub use data::{Origin, Session};
pub use model::{Model, Msg, Speed, update};

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
    fn enter() -> io::Result<Self> {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore_terminal();
            previous(info);
        }));
        enable_raw_mode().map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("rehearse tui needs an interactive terminal: {e}"),
            )
        })?;
        if let Err(e) = execute!(io::stdout(), EnterAlternateScreen, cursor::Hide) {
            restore_terminal();
            return Err(e);
        }
        match Terminal::new(CrosstermBackend::new(io::stdout())) {
            Ok(terminal) => Ok(TerminalGuard { terminal }),
            Err(e) => {
                restore_terminal();
                Err(e)
            }
        }
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore_terminal();
    }
}

/// Runs the UI until the user quits; `s` saves the tuned policy to `save`.
pub fn run_tui(session: Session, speed: Speed, save: PathBuf) -> io::Result<()> {
    let mut model = Model::new(session, speed, save);
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
) -> io::Result<()> {
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
