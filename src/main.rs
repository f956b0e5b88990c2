//! The `rehearse` binary: parses arguments, runs one subcommand, maps failures to the
//! documented exit statuses (0 complete, 3 hold, 4 rollback, 2 unusable input or
//! usage, 1 internal error) and exits quietly when stdout is a closed pipe.

use std::io::{self, Write};
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;

use rehearse::cli::{Cli, Command, FormatArg, PolicyCmd};
use rehearse::engine::replay_dir;
use rehearse::scenario::{Scenario, check_one, discover, junit};
use rehearse::write::Format;
use rehearse::{policy, record, report};

/// A failure and its exit status.
struct Failure {
    code: u8,
    error: anyhow::Error,
}

fn usage(e: impl Into<anyhow::Error>) -> Failure {
    Failure {
        code: 2,
        error: e.into(),
    }
}

fn internal(e: impl Into<anyhow::Error>) -> Failure {
    Failure {
        code: 1,
        error: e.into(),
    }
}

/// Writes to stdout; a closed pipe ends the program quietly with `code`.
fn emit(text: &str, code: u8) -> Result<u8, Failure> {
    let mut out = io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(code),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(code),
        Err(e) => Err(internal(e)),
    }
}

fn run(cli: Cli) -> Result<u8, Failure> {
    match cli.command {
        Command::Run(args) => {
            let settings = args.settings().map_err(usage)?;
            let replay =
                replay_dir(&settings.setup, &settings.dataset, settings.read).map_err(usage)?;
            let dataset = settings.dataset.display().to_string();
            if let Some(path) = &settings.record {
                let p = &settings.setup.policy;
                let meta = record::RecordMeta {
                    t0: replay.run.t0,
                    tick_ms: p.tick_ms,
                    dataset: dataset.clone(),
                    policy_toml: p.to_toml(),
                    stages: replay
                        .run
                        .stages
                        .iter()
                        .map(|s| record::StageMeta {
                            name: s.name.clone(),
                            start: s.start,
                            end: s.end,
                            weight: s.weight,
                        })
                        .collect(),
                };
                record::write_record(path, &meta, &replay.run.events)
                    .with_context(|| format!("cannot write the recording {}", path.display()))
                    .map_err(internal)?;
            }
            let code = replay.run.outcome.exit_code() as u8;
            let text = if settings.json {
                report::to_json(&report::build(&replay.run, &replay.inputs, &dataset))
            } else {
                report::human(
                    &replay.run,
                    &replay.inputs,
                    &settings.setup.policy,
                    &dataset,
                )
            };
            emit(&text, code)
        }
        Command::Policy(PolicyCmd::Show(args)) => {
            if args.policy.is_none() && args.set.is_empty() {
                return emit(policy::DEFAULT_POLICY_TOML, 0);
            }
            let p = args.builder().and_then(|b| b.build()).map_err(usage)?;
            emit(
                &format!(
                    "# merged policy (default, then --policy, then --set)\n{}",
                    p.to_toml()
                ),
                0,
            )
        }
        Command::Policy(PolicyCmd::Check(args)) => {
            let p = args.builder().and_then(|b| b.build()).map_err(usage)?;
            rehearse::engine::Setup::new(p.clone()).map_err(usage)?;
            emit(&format!("policy ok: {}\n", policy::describe_stages(&p)), 0)
        }
        Command::Generate(args) => {
            let mut scenario = Scenario::load(&args.scenario).map_err(usage)?;
            if let Some(seed) = args.seed {
                scenario.spec.seed = seed;
            }
            let format = match args.format {
                FormatArg::Csv => Format::Csv,
                FormatArg::Ndjson => Format::Ndjson,
                FormatArg::Parquet => Format::Parquet,
                FormatArg::Arrow => Format::Arrow,
            };
            let requests = scenario.write(&args.out, format).map_err(internal)?;
            eprintln!(
                "wrote {} ({requests} requests) to {}",
                scenario.name,
                args.out.display()
            );
            Ok(0)
        }
        Command::Funnel(args) => {
            use rehearse::analytics::{AnalyticsData, AnalyticsPolicy, analyze, report};
            let policy = AnalyticsPolicy::build(args.policy.as_deref(), &args.set)
                .map_err(|e| usage(anyhow::anyhow!(e)))?;
            let on_error = match args.on_error {
                rehearse::cli::OnErrorArg::Fail => rehearse::source::OnError::Fail,
                rehearse::cli::OnErrorArg::Skip => rehearse::source::OnError::Skip,
            };
            let dataset = args.dataset.display().to_string();
            let data = AnalyticsData::load(&args.dataset, on_error)
                .map_err(usage)?
                .ok_or_else(|| {
                    usage(anyhow::anyhow!(
                        "{dataset}: the dataset has no `funnel` or `ledger` stream (add funnel.csv, .ndjson, .jsonl, .parquet or .arrow, or a Segment NDJSON export as funnel.ndjson)"
                    ))
                })?;
            let mut analytics = analyze(&data, &policy, &dataset).map_err(internal)?;
            if let Some(dir) = &args.out {
                analytics.write_tables(&data, dir).map_err(internal)?;
            }
            let text = if args.json {
                report::to_json(&analytics.report)
            } else {
                report::human(&analytics.report)
            };
            emit(&text, 0)
        }
        Command::Check(args) => {
            let files = discover(&args.dir).map_err(usage)?;
            if files.is_empty() {
                return Err(usage(anyhow::anyhow!(
                    "{}: no scenario files (*.toml)",
                    args.dir.display()
                )));
            }
            let results: Vec<_> = files.iter().map(|f| check_one(f)).collect();
            let mut text = String::new();
            let width = results
                .iter()
                .map(|r| r.name.len())
                .max()
                .unwrap_or(4)
                .max(8);
            for r in &results {
                let status = if r.passed() { "PASS" } else { "FAIL" };
                text.push_str(&format!("{status}  {:width$}  {}\n", r.name, r.outcome));
                if let Some(e) = &r.error {
                    text.push_str(&format!("      error: {e}\n"));
                }
                for d in &r.diffs {
                    text.push_str(&format!("      {d}\n"));
                }
            }
            let passed = results.iter().filter(|r| r.passed()).count();
            let failed = results.len() - passed;
            text.push_str(&format!("\n{passed} passed, {failed} failed\n"));
            if let Some(path) = &args.junit {
                rehearse::output::write_atomic(path, junit(&results).as_bytes())
                    .with_context(|| format!("cannot write {}", path.display()))
                    .map_err(internal)?;
            }
            emit(&text, if failed == 0 { 0 } else { 1 })
        }
        Command::Sweep(args) => {
            let settings = rehearse::sweep::SweepSettings::new(&args).map_err(usage)?;
            let r = rehearse::sweep::run_sweep(&settings).map_err(usage)?;
            let text = if settings.json {
                let mut t = serde_json::to_string_pretty(&r).map_err(internal)?;
                t.push('\n');
                t
            } else {
                rehearse::sweep::human(&r)
            };
            emit(&text, 0)
        }
        Command::Tui(args) => {
            if !std::io::IsTerminal::is_terminal(&io::stdout()) {
                return Err(usage(anyhow::anyhow!(
                    "rehearse tui draws on a terminal, and stdout is not one"
                )));
            }
            let session = rehearse::tui::load(&args).map_err(usage)?;
            rehearse::tui::run_tui(session, &args)
                .context("the terminal UI failed")
                .map_err(internal)?;
            Ok(0)
        }
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(f) => {
            eprintln!("error: {:#}", f.error);
            ExitCode::from(f.code)
        }
    }
}
