//! Keys to messages: the one place the key map lives (the help overlay and
//! `docs/tui.md` list the same keys). What a key means depends only on the open overlay
//! and the focused panel, never on the terminal.

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::model::{Focus, Model, Msg, Overlay, Speed};

/// The key map as the help overlay shows it: (keys, what they do).
pub const HELP: &[(&str, &str)] = &[
    ("space", "play / pause (at the end: replay from T0)"),
    ("→ l / ← h", "one tick forward / back (pauses)"),
    ("n / p", "jump to the next / previous stage verdict"),
    ("r", "restart from T0 and play"),
    ("1 2 3 4 5", "speed 1x, 60x, 600x, 3600x, max"),
    ("> / <", "faster / slower"),
    ("tab / shift-tab", "focus gates, events, tuning"),
    ("↑ k / ↓ j", "select a gate, event or knob"),
    ("pgup / pgdn", "move the selection by 10"),
    ("enter", "explain the selected verdict, breach or gate"),
    ("t", "open / close the tuning panel"),
    ("+ / -", "move the selected knob up / down"),
    ("→ / ← (tuning)", "move the selected knob up / down"),
    ("0", "put the selected knob back to the base value"),
    ("s", "save the tuned policy as TOML"),
    ("c", "next chart (when only one fits)"),
    ("?", "this help"),
    ("esc", "close the overlay or the tuning panel"),
    ("q  ctrl-c", "quit"),
];

/// The message for a key press, if the key means anything now.
pub fn key_to_msg(key: KeyEvent, m: &Model) -> Option<Msg> {
    if key.kind == KeyEventKind::Release {
        return None;
    }
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    match key.code {
        KeyCode::Char('c') if ctrl => return Some(Msg::Quit),
        KeyCode::Char('q') => return Some(Msg::Quit),
        _ => {}
    }
    match m.overlay {
        Some(Overlay::Help) => {
            return match key.code {
                KeyCode::Esc | KeyCode::Char('?') | KeyCode::Enter => Some(Msg::ToggleHelp),
                _ => None,
            };
        }
        Some(Overlay::Explain { .. }) => {
            return match key.code {
                KeyCode::Esc | KeyCode::Enter => Some(Msg::Close),
                KeyCode::Up | KeyCode::Char('k') => Some(Msg::Up),
                KeyCode::Down | KeyCode::Char('j') => Some(Msg::Down),
                KeyCode::PageUp => Some(Msg::PageUp),
                KeyCode::PageDown => Some(Msg::PageDown),
                KeyCode::Char('?') => Some(Msg::ToggleHelp),
                _ => None,
            };
        }
        None => {}
    }
    let tuning = m.focus == Focus::Tune;
    Some(match key.code {
        KeyCode::Char(' ') => Msg::TogglePlay,
        KeyCode::Right | KeyCode::Char('l') if tuning => Msg::Tune { up: true },
        KeyCode::Left | KeyCode::Char('h') if tuning => Msg::Tune { up: false },
        KeyCode::Right | KeyCode::Char('l') => Msg::StepForward,
        KeyCode::Left | KeyCode::Char('h') => Msg::StepBack,
        KeyCode::Char('n') => Msg::NextVerdict,
        KeyCode::Char('p') => Msg::PrevVerdict,
        KeyCode::Char('r') => Msg::Restart,
        KeyCode::Char('1') => Msg::SetSpeed(Speed::X(1)),
        KeyCode::Char('2') => Msg::SetSpeed(Speed::X(60)),
        KeyCode::Char('3') => Msg::SetSpeed(Speed::X(600)),
        KeyCode::Char('4') => Msg::SetSpeed(Speed::X(3600)),
        KeyCode::Char('5') => Msg::SetSpeed(Speed::Max),
        KeyCode::Char('>') => Msg::Faster,
        KeyCode::Char('<') => Msg::Slower,
        KeyCode::Tab => Msg::FocusNext,
        KeyCode::BackTab => Msg::FocusPrev,
        KeyCode::Up | KeyCode::Char('k') => Msg::Up,
        KeyCode::Down | KeyCode::Char('j') => Msg::Down,
        KeyCode::PageUp => Msg::PageUp,
        KeyCode::PageDown => Msg::PageDown,
        KeyCode::Enter => Msg::Explain,
        KeyCode::Char('t') => Msg::ToggleTuning,
        KeyCode::Char('+') | KeyCode::Char('=') => Msg::Tune { up: true },
        KeyCode::Char('-') | KeyCode::Char('_') => Msg::Tune { up: false },
        KeyCode::Char('0') => Msg::ResetKnob,
        KeyCode::Char('s') => Msg::Save,
        KeyCode::Char('c') => Msg::CycleChart,
        KeyCode::Char('?') => Msg::ToggleHelp,
        KeyCode::Esc => Msg::Close,
        _ => return None,
    })
}
