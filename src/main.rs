//! The `rehearse` binary: parses arguments, hands the checked settings to the
//! application layer ([`rehearse::app`]), prints what it returns and maps failures to
//! the documented exit statuses (0 complete, 1 internal error, 2 unusable input or
//! usage, 3 hold, 4 rollback, 5 a check failed; `rehearse --help` lists them). A closed
//! stdout pipe exits quietly.

use std::io::{self, Write};
use std::process::ExitCode;

use clap::Parser;

use rehearse::app::{self, AppError, Output};
use rehearse::cli::{Cli, Command, ExportCmd, PolicyCmd};

/// Runs one command.
fn run(cli: Cli) -> Result<Output, AppError> {
    match cli.command {
        Command::Run(args) => app::run::run(&args.settings().map_err(AppError::usage)?),
        Command::Policy(PolicyCmd::Show(args)) => {
            let builder = if args.policy.is_none() && args.set.is_empty() {
                None
            } else {
                Some(args.builder().map_err(AppError::usage)?)
            };
            app::policy::show(builder)
        }
        Command::Policy(PolicyCmd::Check(args)) => {
            app::policy::check(args.builder().map_err(AppError::usage)?)
        }
        Command::Generate(args) => app::generate::run(&args.settings()),
        Command::Funnel(args) => app::funnel::run(&args.settings()),
        Command::Check(args) => app::check::run(&args.settings().map_err(AppError::usage)?),
        Command::Sweep(args) => app::sweep::run(&args.settings().map_err(AppError::usage)?),
        Command::Tui(args) => app::tui::run(&args.settings()),
        Command::Report(args) => app::report::run(&args.settings().map_err(AppError::usage)?),
        Command::Schema(args) => app::schema::run(&args.settings().map_err(AppError::usage)?),
        Command::Export(cmd) => {
            use app::export::Target;
            let (args, target) = match cmd {
                ExportCmd::PromtoolTest(args) => {
                    return app::export::promtool_test(&args.settings().map_err(AppError::usage)?);
                }
                ExportCmd::Prometheus(args) => (args, Target::Prometheus),
                ExportCmd::Argo(args) => (args, Target::Argo),
                ExportCmd::Flagger(args) => (args, Target::Flagger),
            };
            app::export::run(&args.settings(target).map_err(AppError::usage)?)
        }
        Command::Tune(args) => app::tune::run(&args.settings().map_err(AppError::usage)?),
        Command::Merge(args) => app::merge::run(&args.settings()),
    }
}

/// Writes to stdout; a closed pipe is not an error.
fn emit(text: &str) -> io::Result<()> {
    let mut out = io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

/// Keeps glibc's allocator from handing freed buffers back to the kernel. The Parquet
/// reader allocates and frees page-sized buffers for every column chunk; with glibc's
/// adaptive thresholds each of them is a fresh `mmap` or a trimmed heap top, faulted in
/// again on the next use (84,000 page faults and a seventh of a `run`'s CPU on a 20
/// M-request zstd file, 8,000 with these settings). Blocks up to 4 MiB come from the
/// heap and the heap is trimmed past 32 MiB of free top: larger thresholds gained
/// nothing more and cost `funnel` 250 MB of peak memory in blocks kept for reuse.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn tune_allocator() {
    // SAFETY: mallopt only sets allocator parameters; it is called before any thread
    // starts, and a refused setting (return value 0) leaves glibc's defaults.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 4 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 32 << 20);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn tune_allocator() {}

fn main() -> ExitCode {
    tune_allocator();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let failure = match run(cli) {
        Ok(out) => {
            for w in &out.warnings {
                eprintln!("warning: {w}");
            }
            match emit(&out.text) {
                Ok(()) => return ExitCode::from(out.code),
                Err(e) => AppError::internal(e),
            }
        }
        Err(f) => f,
    };
    eprintln!("error: {:#}", anyhow::anyhow!(failure.error));
    ExitCode::from(failure.code)
}
