//! The real `rehearse tui` binary in a pseudo-terminal: start it on scenario 02 at
//! maximum speed, read the screen back through a vt100 parser, send keys (help, speed,
//! play/pause, step, quit) and resize it, check the screen after each, then that it
//! exits 0 and leaves the alternate screen. A second test makes a debug build panic
//! after its first frame and checks the terminal is restored: normal screen, cursor
//! shown, raw mode off, the panic message readable. Every wait polls the screen against
//! a deadline.

use std::io::{Read, Write};
use std::num::NonZeroU16;
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use portable_pty::{CommandBuilder, PtySize, native_pty_system};

const ROWS: u16 = 30;
const COLS: u16 = 100;

/// The terminal as the user sees it: everything the program wrote, parsed.
struct Screen {
    parser: vt100::Parser,
    bytes: Receiver<Vec<u8>>,
    raw: Vec<u8>,
}

impl Screen {
    fn pump(&mut self) {
        while let Ok(chunk) = self.bytes.try_recv() {
            self.parser.process(&chunk);
            self.raw.extend_from_slice(&chunk);
        }
    }

    fn text(&mut self) -> String {
        self.pump();
        self.parser.screen().contents()
    }

    /// Waits until the screen shows `what`; panics with the screen after `secs`.
    fn wait_for(&mut self, what: &str, secs: u64) -> String {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let text = self.text();
            if text.contains(what) {
                return text;
            }
            assert!(
                Instant::now() < deadline,
                "the screen never showed {what:?}:\n{text}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Reads everything the program writes to the pty into a channel.
fn spawn_reader(master: &dyn portable_pty::MasterPty) -> Receiver<Vec<u8>> {
    let mut reader = master.try_clone_reader().expect("a reader");
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    rx
}

/// The binary started on a fresh pseudo-terminal with `args` and `env`: the master
/// side, the child and the screen reading its output.
fn start(
    args: &[&str],
    env: &[(&str, &str)],
) -> (
    Box<dyn portable_pty::MasterPty + Send>,
    Box<dyn portable_pty::Child + Send + Sync>,
    Screen,
) {
    let pty = native_pty_system()
        .openpty(PtySize {
            rows: ROWS,
            cols: COLS,
            pixel_width: 0,
            pixel_height: 0,
        })
        .expect("a pseudo-terminal");
    let mut cmd = CommandBuilder::new(env!("CARGO_BIN_EXE_rehearse"));
    cmd.args(args);
    cmd.cwd(env!("CARGO_MANIFEST_DIR"));
    cmd.env("TERM", "xterm-256color");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let child = pty.slave.spawn_command(cmd).expect("the binary starts");
    drop(pty.slave);
    let screen = Screen {
        parser: vt100::Parser::new(
            NonZeroU16::new(ROWS).expect("rows"),
            NonZeroU16::new(COLS).expect("columns"),
            0,
        ),
        bytes: spawn_reader(&*pty.master),
        raw: Vec::new(),
    };
    (pty.master, child, screen)
}

#[test]
fn a_panic_restores_the_terminal() {
    let (master, mut child, mut screen) = start(
        &["tui", "--scenario", "scenarios/02-5xx-sustained.toml"],
        &[("REHEARSE_TUI_TEST_PANIC", "1"), ("RUST_BACKTRACE", "0")],
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(s) = child.try_wait().expect("the child can be polled") {
            break s;
        }
        assert!(Instant::now() < deadline, "the program did not stop");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(!status.success(), "a panic must fail: {status:?}");
    // The panic message is on the normal screen, after the alternate screen was left
    // and the cursor shown again.
    let text = screen.wait_for("deliberate panic", 10);
    assert!(!screen.parser.screen().alternate_screen(), "{text}");
    assert!(!screen.parser.screen().hide_cursor(), "{text}");
    let raw = String::from_utf8_lossy(&screen.raw).into_owned();
    let entered = raw
        .find("\u{1b}[?1049h")
        .expect("the alternate screen was entered");
    let left = raw
        .find("\u{1b}[?1049l")
        .expect("the alternate screen was left");
    let message = raw.rfind("deliberate panic").expect("the message");
    assert!(entered < left && left < message, "{raw:?}");
    // Raw mode is off again: the line discipline echoes and reads lines.
    let tty = master.tty_name().expect("the pty has a name");
    let out = std::process::Command::new("stty")
        .arg("-a")
        .arg("-F")
        .arg(&tty)
        .output()
        .expect("stty runs");
    let modes = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "stty: {modes}");
    let flags: Vec<&str> = modes.split_whitespace().collect();
    for flag in ["icanon", "echo", "isig"] {
        assert!(flags.contains(&flag), "{flag} is not set again:\n{modes}");
    }
}

#[test]
fn the_binary_draws_replays_and_quits_in_a_terminal() {
    let (master, mut child, mut screen) = start(
        &[
            "tui",
            "--scenario",
            "scenarios/02-5xx-sustained.toml",
            "--speed",
            "max",
        ],
        &[],
    );
    let mut writer = master.take_writer().expect("a writer");
    let mut send = |keys: &[u8]| {
        writer.write_all(keys).expect("keys reach the program");
        writer.flush().expect("flushed");
    };

    // It starts, plays the whole rollout at max speed and stops at the rollback.
    let text = screen.wait_for("scenario 5xx-sustained", 30);
    assert!(text.contains("gates"), "{text}");
    let text = screen.wait_for("■ finished", 30);
    assert!(text.contains("✗ ROLLBACK 12:15"), "{text}");
    assert!(text.contains("✗ FIRED"), "{text}");
    assert!(text.contains("no funnel data"), "{text}");

    // Help overlay, then closed again.
    send(b"?");
    screen.wait_for("keys (? or esc closes)", 10);
    send(b"?");
    let deadline = Instant::now() + Duration::from_secs(10);
    while screen.text().contains("keys (? or esc closes)") {
        assert!(Instant::now() < deadline, "the help never closed");
        std::thread::sleep(Duration::from_millis(20));
    }

    // 1x, then space: the replay starts over from T0 and plays; space again pauses.
    send(b"1");
    screen.wait_for("│ 1x │", 10);
    send(b" ");
    let text = screen.wait_for("▶ playing", 10);
    assert!(text.contains("10:00:0"), "{text}");
    send(b" ");
    screen.wait_for("‖ paused", 10);

    // A resize while paused: the program wakes and redraws at the new size (the
    // footer moves to the new last row).
    master
        .resize(PtySize {
            rows: 24,
            cols: 80,
            pixel_width: 0,
            pixel_height: 0,
        })
        .expect("the terminal resizes");
    screen.parser.set_size(
        NonZeroU16::new(24).expect("rows"),
        NonZeroU16::new(80).expect("columns"),
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        screen.pump();
        let last = screen
            .parser
            .screen()
            .rows(0, 80)
            .last()
            .unwrap_or_default();
        if last.starts_with(" space play") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no redraw after the resize:\n{}",
            screen.text()
        );
        std::thread::sleep(Duration::from_millis(20));
    }

    // One tick forward, then the next verdict (synthetic goes at 12:00).
    send(b"l");
    screen.wait_for("10:01:00", 10);
    send(b"n");
    let text = screen.wait_for("12:00:00", 10);
    assert!(text.contains("synthetic GO"), "{text}");

    // q quits with status 0 and leaves the alternate screen.
    send(b"q");
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(s) = child.try_wait().expect("the child can be polled") {
            break s;
        }
        assert!(Instant::now() < deadline, "the program did not quit");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "exit status {status:?}");
    // The reader thread may still hold the last bytes.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        screen.pump();
        let raw = String::from_utf8_lossy(&screen.raw);
        if raw.contains("\u{1b}[?1049l") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the alternate screen was never left"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Progress lines are drawn on a terminal while `check` works, then cleared: the
/// screen keeps the result table only. (Piped, nothing is drawn: `tests/it/cli.rs`.)
#[test]
fn check_draws_progress_on_a_terminal_and_clears_it() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    for name in [
        "02-5xx-sustained.toml",
        "01-clean-rollout.toml",
        "04-latency-p95.toml",
    ] {
        let from = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("scenarios")
            .join(name);
        std::fs::copy(&from, dir.path().join(name)).expect("a scenario");
    }
    let (_master, mut child, mut screen) =
        start(&["check", dir.path().to_str().expect("a path")], &[]);
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(s) = child.try_wait().expect("the child can be polled") {
            break s;
        }
        assert!(Instant::now() < deadline, "check did not finish");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status:?}: {}", screen.text());
    let text = screen.wait_for("3 passed", 10);
    let raw = String::from_utf8_lossy(&screen.raw).into_owned();
    assert!(raw.contains("/3 scenarios"), "no progress drawn: {raw:?}");
    assert!(
        !text.contains("/3 scenarios"),
        "progress left on screen:\n{text}"
    );
}
