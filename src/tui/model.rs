//! The terminal UI's state and its only mutator, Elm style: a key becomes a [`Msg`]
//! (see `keys.rs`), [`update`] applies it to the [`Model`], `view/` draws the model, one file per panel.
//! Nothing here touches the terminal or a clock: playback advances by the elapsed time a
//! [`Msg::Frame`] carries, and the one side effect (saving the tuned policy) is handed
//! back as a [`Cmd`] for the caller to perform, so tests drive the model with messages.

use std::path::PathBuf;
use std::time::Duration;

use crate::input::Millis;
use crate::verdict::{Gate, Verdict};

use super::data::Session;
use super::tune::{portable_toml, verdict_diffs};

/// Playback speed: virtual seconds per real second, or as fast as frames are drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Speed {
    X(u32),
    /// One tick per frame, frames back to back.
    Max,
}

impl Speed {
    /// The speeds the number keys and `<`/`>` choose from.
    pub const PRESETS: [Speed; 5] = [
        Speed::X(1),
        Speed::X(60),
        Speed::X(600),
        Speed::X(3600),
        Speed::Max,
    ];

    pub fn label(self) -> String {
        match self {
            Speed::X(n) => format!("{n}x"),
            Speed::Max => "max".into(),
        }
    }

    /// Real time between frames while playing.
    pub fn frame_interval(self) -> Duration {
        match self {
            Speed::X(1) => Duration::from_millis(1000),
            Speed::X(_) => Duration::from_millis(100),
            Speed::Max => Duration::ZERO,
        }
    }

    fn preset_index(self) -> usize {
        match self {
            Speed::Max => Speed::PRESETS.len() - 1,
            Speed::X(n) => Speed::PRESETS
                .iter()
                .rposition(|p| matches!(p, Speed::X(m) if *m <= n))
                .unwrap_or(0),
        }
    }
}

/// The display order of the gate table: the registry's rows (request gates first,
/// then probes, infra, security, logs and pages).
pub const GATE_ORDER: [Gate; crate::gate::ROWS.len()] = crate::gate::ROWS;

/// Which panel the arrow keys move in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Focus {
    Gates,
    Events,
    Tune,
}

/// What an explanation is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Subject {
    /// An event of the log (index into the timeline's events).
    Event(usize),
    /// A gate over the current stage.
    Gate(Gate),
}

/// A window drawn over the screen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Overlay {
    Help,
    Explain { subject: Subject, scroll: u16 },
}

/// Which chart shows when only one fits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChartKind {
    Latency,
    Errors,
    Budget,
}

/// How a status line reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tone {
    Info,
    Warn,
}

/// The verdict changes of the last tuning step.
#[derive(Clone, Debug, PartialEq)]
pub struct Change {
    /// What moved: `triggers.error_rate_5xx 0.50% -> 0.60%`.
    pub what: String,
    /// The stage verdicts that changed, e.g. `ramp-25: rollback -> go`.
    pub diffs: Vec<String>,
    /// How long the re-evaluation took.
    pub elapsed: Duration,
}

/// The whole UI state.
pub struct Model {
    pub session: Session,
    /// The virtual clock: events at or before it are shown.
    pub clock: Millis,
    pub playing: bool,
    pub speed: Speed,
    pub focus: Focus,
    /// Selected row of the gate table (index into [`GATE_ORDER`]).
    pub gate_sel: usize,
    /// Selected log event (index into the timeline's events).
    pub event_sel: Option<usize>,
    pub overlay: Option<Overlay>,
    pub tuning: bool,
    pub knob_sel: usize,
    pub chart: ChartKind,
    /// Where `s` saves the tuned policy.
    pub save_path: PathBuf,
    pub status: Option<(Tone, String)>,
    pub change: Option<Change>,
    /// Show measured durations (off in snapshot tests, which must not depend on speed).
    pub show_timings: bool,
    pub quit: bool,
}

/// Everything that can happen to the model.
#[derive(Clone, Debug, PartialEq)]
pub enum Msg {
    /// Real time passed while playing.
    Frame {
        elapsed: Duration,
    },
    TogglePlay,
    StepForward,
    StepBack,
    NextVerdict,
    PrevVerdict,
    Restart,
    SetSpeed(Speed),
    Faster,
    Slower,
    FocusNext,
    FocusPrev,
    Up,
    Down,
    PageUp,
    PageDown,
    /// Explain the selected gate or event.
    Explain,
    /// Close the open overlay (or the tuning panel).
    Close,
    ToggleHelp,
    ToggleTuning,
    /// Move the selected knob one step up or down.
    Tune {
        up: bool,
    },
    /// Put the selected knob back to the base policy's value.
    ResetKnob,
    Save,
    Saved(Result<PathBuf, String>),
    CycleChart,
    Quit,
}

/// A side effect for the caller to perform; its result comes back as a message.
#[derive(Clone, Debug, PartialEq)]
pub enum Cmd {
    /// Write `text` to `path` atomically, then send [`Msg::Saved`].
    Save { path: PathBuf, text: String },
}

/// Performs a command (file IO) and returns the message reporting its result.
pub fn perform(cmd: Cmd) -> Msg {
    match cmd {
        Cmd::Save { path, text } => Msg::Saved(
            crate::output::write_atomic(&path, text.as_bytes())
                .map(|()| path.clone())
                .map_err(|e| format!("cannot write {}: {e}", path.display())),
        ),
    }
}

impl Model {
    pub fn new(session: Session, speed: Speed, save_path: PathBuf) -> Self {
        let clock = session.t0;
        Model {
            session,
            clock,
            playing: true,
            speed,
            focus: Focus::Gates,
            gate_sel: 0,
            event_sel: None,
            overlay: None,
            tuning: false,
            knob_sel: 0,
            chart: ChartKind::Latency,
            save_path,
            status: None,
            change: None,
            show_timings: true,
            quit: false,
        }
    }

    /// Real time until the next frame while playing; `None` while paused (the event
    /// loop then blocks on input and uses no CPU).
    pub fn frame_interval(&self) -> Option<Duration> {
        self.playing.then(|| self.speed.frame_interval())
    }

    /// The end of playback: the last event (the outcome).
    pub fn end(&self) -> Millis {
        self.session.timeline.end
    }

    pub fn at_end(&self) -> bool {
        self.clock >= self.end()
    }

    /// The stage shown in the gate table and the charts.
    pub fn current_stage(&self) -> usize {
        self.session.timeline.stage_at(self.clock)
    }

    pub fn selected_gate(&self) -> Gate {
        GATE_ORDER[self.gate_sel.min(GATE_ORDER.len() - 1)]
    }

    fn seek(&mut self, to: Millis) {
        self.clock = to.clamp(self.session.t0, self.end());
        if let Some(i) = self.event_sel
            && !self.session.timeline.is_visible(i, self.clock)
        {
            self.event_sel = None;
        }
        if let Some(Overlay::Explain {
            subject: Subject::Event(i),
            ..
        }) = self.overlay
            && !self.session.timeline.is_visible(i, self.clock)
        {
            self.overlay = None;
        }
    }

    fn next_tick(&self) -> Millis {
        let t = self.session.tick_ms;
        let d = self.clock - self.session.t0;
        self.session.t0 + (d.div_euclid(t) + 1) * t
    }

    fn prev_tick(&self) -> Millis {
        let t = self.session.tick_ms;
        let d = self.clock - self.session.t0;
        self.session.t0 + ((d + t - 1).div_euclid(t) - 1) * t
    }

    fn finished(&mut self) {
        self.playing = false;
        let text = match self.session.timeline.outcome {
            Some((at, o)) => format!(
                "replay finished: {} at {}",
                o.as_str().to_uppercase(),
                crate::time::format_clock(at)
            ),
            None => "replay finished".into(),
        };
        self.status = Some((Tone::Info, text));
    }

    fn advance(&mut self, elapsed: Duration) {
        let to = match self.speed {
            Speed::Max => self.next_tick(),
            Speed::X(f) => {
                let ms = elapsed.as_millis().min(i64::MAX as u128 / 4) as i64;
                self.clock.saturating_add(ms.saturating_mul(i64::from(f)))
            }
        };
        self.seek(to);
        if self.at_end() {
            self.finished();
        }
    }

    fn move_event_sel(&mut self, delta: isize) {
        let list = self.session.timeline.log_visible(self.clock);
        if list.is_empty() {
            self.event_sel = None;
            return;
        }
        let pos = self
            .event_sel
            .and_then(|i| list.iter().position(|x| *x == i));
        let new = match pos {
            None => 0,
            Some(p) => (p as isize + delta).clamp(0, list.len() as isize - 1) as usize,
        };
        self.event_sel = Some(list[new]);
    }

    fn move_sel(&mut self, delta: isize) {
        match self.focus {
            Focus::Gates => {
                self.gate_sel = (self.gate_sel as isize + delta)
                    .clamp(0, GATE_ORDER.len() as isize - 1)
                    as usize;
            }
            Focus::Events => self.move_event_sel(delta),
            Focus::Tune => {
                let n = self.session.tuner.as_ref().map_or(0, |t| t.knobs.len());
                if n > 0 {
                    self.knob_sel =
                        (self.knob_sel as isize + delta).clamp(0, n as isize - 1) as usize;
                }
            }
        }
    }

    fn focus_order(&self) -> Vec<Focus> {
        let mut v = vec![Focus::Gates, Focus::Events];
        if self.tuning {
            v.push(Focus::Tune);
        }
        v
    }

    fn cycle_focus(&mut self, forward: bool) {
        let order = self.focus_order();
        let i = order.iter().position(|f| *f == self.focus).unwrap_or(0);
        let n = order.len();
        self.focus = order[if forward {
            (i + 1) % n
        } else {
            (i + n - 1) % n
        }];
        if self.focus == Focus::Events && self.event_sel.is_none() {
            self.move_event_sel(0);
        }
    }

    fn toggle_tuning(&mut self) {
        if self.tuning {
            self.tuning = false;
            if self.focus == Focus::Tune {
                self.focus = Focus::Gates;
            }
            return;
        }
        self.tuning = true;
        self.focus = Focus::Tune;
        let Some(t) = &self.session.tuner else {
            self.status = Some((
                Tone::Warn,
                "no tuning for a recording: it holds the run's events, not the data".into(),
            ));
            return;
        };
        // Pick the selected gate's first knob.
        let g = self.selected_gate();
        if let Some(i) = t.knobs.iter().position(|k| k.gates.contains(&g)) {
            self.knob_sel = i;
        }
    }

    fn tune(&mut self, value: Option<f64>) {
        let Some(t) = &self.session.tuner else {
            self.status = Some((
                Tone::Warn,
                "no tuning for a recording: it holds the run's events, not the data".into(),
            ));
            return;
        };
        let Some(knob) = t.knobs.get(self.knob_sel).cloned() else {
            return;
        };
        let Some(v) = value else {
            self.status = Some((Tone::Warn, format!("{}: at the end of its range", knob.key)));
            return;
        };
        if (v - knob.value).abs() < 1e-12 {
            return;
        }
        match t.try_value(self.knob_sel, v) {
            Err(e) => {
                self.status = Some((
                    Tone::Warn,
                    format!(
                        "{} = {}: refused: {e}",
                        knob.key,
                        knob.show(v, t.base.tick_ms)
                    ),
                ));
            }
            Ok(re) => {
                let names: Vec<String> =
                    self.session.stages.iter().map(|s| s.name.clone()).collect();
                let before = self.session.timeline.final_verdicts();
                let after: Vec<Verdict> = re.run.stages.iter().map(|s| s.verdict).collect();
                let diffs = verdict_diffs(&names, &before, &after);
                let what = format!(
                    "{} {} -> {}",
                    knob.key,
                    knob.show(knob.value, t.base.tick_ms),
                    knob.show(v, t.base.tick_ms)
                );
                let n_stages = self.session.stages.len();
                let t0 = self.session.t0;
                let tl = super::data::Timeline::new(re.run.events, n_stages, t0);
                if let Some(t) = &mut self.session.tuner {
                    t.commit(self.knob_sel, v);
                }
                self.session.timeline = tl;
                self.session.policy = Some(re.policy);
                self.event_sel = None;
                if matches!(
                    self.overlay,
                    Some(Overlay::Explain {
                        subject: Subject::Event(_),
                        ..
                    })
                ) {
                    self.overlay = None;
                }
                self.seek(self.clock);
                self.status = Some((
                    Tone::Info,
                    if diffs.is_empty() {
                        format!("{what}: no verdict changes")
                    } else {
                        format!("{what}: {}", diffs.join(", "))
                    },
                ));
                self.change = Some(Change {
                    what,
                    diffs,
                    elapsed: re.elapsed,
                });
            }
        }
    }

    /// The TOML of the policy in force (the tuned one after tuning).
    pub fn policy_toml(&self) -> Option<String> {
        self.session.policy.as_ref().map(portable_toml)
    }
}

/// Applies one message; returns a side effect to perform, if any.
pub fn update(m: &mut Model, msg: Msg) -> Option<Cmd> {
    match msg {
        Msg::Frame { elapsed } => {
            if m.playing {
                m.advance(elapsed);
            }
        }
        Msg::TogglePlay => {
            if m.playing {
                m.playing = false;
            } else {
                if m.at_end() {
                    m.seek(m.session.t0);
                }
                m.playing = true;
                m.status = None;
            }
        }
        Msg::StepForward => {
            m.playing = false;
            let to = m.next_tick();
            m.seek(to);
        }
        Msg::StepBack => {
            m.playing = false;
            let to = m.prev_tick();
            m.seek(to);
        }
        Msg::NextVerdict => {
            m.playing = false;
            if let Some(t) = m.session.timeline.next_verdict(m.clock) {
                m.seek(t);
            }
        }
        Msg::PrevVerdict => {
            m.playing = false;
            let to = m
                .session
                .timeline
                .prev_verdict(m.clock)
                .unwrap_or(m.session.t0);
            m.seek(to);
        }
        Msg::Restart => {
            m.seek(m.session.t0);
            m.playing = true;
            m.status = None;
        }
        Msg::SetSpeed(s) => m.speed = s,
        Msg::Faster => {
            let i = m.speed.preset_index();
            m.speed = Speed::PRESETS[(i + 1).min(Speed::PRESETS.len() - 1)];
        }
        Msg::Slower => {
            let i = m.speed.preset_index();
            m.speed = match m.speed {
                Speed::X(n) if n > 1 && !Speed::PRESETS.contains(&m.speed) => Speed::PRESETS[i],
                _ => Speed::PRESETS[i.saturating_sub(1)],
            };
        }
        Msg::FocusNext => m.cycle_focus(true),
        Msg::FocusPrev => m.cycle_focus(false),
        Msg::Up | Msg::Down | Msg::PageUp | Msg::PageDown => {
            let d = match msg {
                Msg::Up => -1,
                Msg::Down => 1,
                Msg::PageUp => -10,
                _ => 10,
            };
            match &mut m.overlay {
                Some(Overlay::Explain { scroll, .. }) => {
                    *scroll = (i32::from(*scroll) + d).clamp(0, 10_000) as u16;
                }
                Some(Overlay::Help) => {}
                None => m.move_sel(d as isize),
            }
        }
        Msg::Explain => {
            m.overlay = match m.overlay {
                Some(Overlay::Explain { .. }) => None,
                _ => {
                    let subject = match m.focus {
                        Focus::Events => m.event_sel.map(Subject::Event),
                        Focus::Gates => Some(Subject::Gate(m.selected_gate())),
                        Focus::Tune => m
                            .session
                            .tuner
                            .as_ref()
                            .and_then(|t| t.knobs.get(m.knob_sel))
                            .and_then(|k| k.gates.first().copied())
                            .map(Subject::Gate),
                    };
                    match subject {
                        Some(subject) => Some(Overlay::Explain { subject, scroll: 0 }),
                        None => {
                            m.status = Some((
                                Tone::Warn,
                                "nothing to explain yet: no event has happened".into(),
                            ));
                            None
                        }
                    }
                }
            };
        }
        Msg::Close => {
            if m.overlay.is_some() {
                m.overlay = None;
            } else if m.tuning {
                m.toggle_tuning();
            } else {
                m.status = None;
            }
        }
        Msg::ToggleHelp => {
            m.overlay = match m.overlay {
                Some(Overlay::Help) => None,
                _ => Some(Overlay::Help),
            };
        }
        Msg::ToggleTuning => m.toggle_tuning(),
        Msg::Tune { up } => {
            if !m.tuning {
                m.toggle_tuning();
            }
            let v = m
                .session
                .tuner
                .as_ref()
                .and_then(|t| t.knobs.get(m.knob_sel))
                .map(|k| k.moved(up));
            m.tune(v.flatten());
        }
        Msg::ResetKnob => {
            let v = m
                .session
                .tuner
                .as_ref()
                .and_then(|t| t.knobs.get(m.knob_sel))
                .map(|k| k.base);
            if v.is_some() {
                m.tune(v);
            }
        }
        Msg::Save => {
            if m.session.tuner.is_none() {
                m.status = Some((
                    Tone::Warn,
                    "nothing to save: a recording cannot be tuned".into(),
                ));
                return None;
            }
            if let Some(toml) = m.policy_toml() {
                let sets = m
                    .session
                    .tuner
                    .as_ref()
                    .map(|t| t.sets())
                    .unwrap_or_default();
                let mut text = String::from(
                    "# Tuned in `rehearse tui`; read it back with `rehearse run DATASET --policy FILE`.\n",
                );
                if sets.is_empty() {
                    text.push_str("# No value moved from the base policy.\n");
                } else {
                    text.push_str("# Moved from the base policy:\n");
                    for s in &sets {
                        text.push_str(&format!("#   --set {s}\n"));
                    }
                }
                text.push_str(&toml);
                return Some(Cmd::Save {
                    path: m.save_path.clone(),
                    text,
                });
            }
        }
        Msg::Saved(r) => {
            m.status = Some(match r {
                Ok(p) => (
                    Tone::Info,
                    format!("saved the tuned policy to {}", p.display()),
                ),
                Err(e) => (Tone::Warn, e),
            });
        }
        Msg::CycleChart => {
            m.chart = match m.chart {
                ChartKind::Latency => ChartKind::Errors,
                ChartKind::Errors => ChartKind::Budget,
                ChartKind::Budget => ChartKind::Latency,
            };
        }
        Msg::Quit => m.quit = true,
    }
    None
}
