//! The `drift-check` binary: parse arguments, set up logging, run the
//! library, map the outcome to an exit code.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use drift_check::Progress;
use drift_check::cli::{Cli, Command, ConfigCommand, LogFormat, ProgressMode, RunArgs};
use drift_check::config::Config;
use drift_check::fleet::shard::{self, ShardArgError};
use drift_check::report::Format;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse_layered();
    if let Err(message) = init_logging(&cli) {
        eprintln!("drift-check: {message}");
        return ExitCode::from(2);
    }
    match run(cli).await {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            let message = drift_check::redact::text(&format!("{e:#}"));
            eprintln!(
                "drift-check: {}",
                drift_check::report::escape_text(&message)
            );
            ExitCode::from(2)
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<u8> {
    let progress = show_progress(&cli);
    let mut stdout = std::io::stdout().lock();
    match cli.command {
        Command::Check(args) => {
            let config = Config::load(&args.common, args.output, args.diff_mode)?;
            if let Some(fleet) = config.fleet.as_ref().filter(|f| f.is_many()) {
                let report = drift_check::fleet::run(fleet, &config.settings, progress).await;
                stdout.write_all(report.render(config.output).as_bytes())?;
                write_page(args.html_out.as_deref(), report.render(Format::Html))?;
                return Ok(report.exit_code());
            }
            let report = match &config.fleet {
                Some(fleet) => {
                    drift_check::check_cluster(&fleet.members[0], &config.settings, progress).await
                }
                None => drift_check::check(&config.settings, progress).await,
            };
            stdout.write_all(report.render(config.output).as_bytes())?;
            write_html(args.html_out.as_deref(), &report)?;
            Ok(report.exit_code())
        }
        Command::Config(ConfigCommand::Example) => {
            stdout.write_all(drift_check::config::EXAMPLE.as_bytes())?;
            Ok(0)
        }
        Command::Run(RunArgs { check: args, shard }) => {
            let shard = shard.settings()?;
            let config = Config::load(&args.common, args.output, args.diff_mode)?;
            let mut html = Ok(());
            if let Some(shard) = &shard {
                let fleet = config.fleet.as_ref().ok_or(ShardArgError::NoFleet)?;
                let code = Box::pin(shard::run(
                    fleet,
                    &config.settings,
                    shard,
                    progress,
                    |report| {
                        let _ = stdout.write_all(report.render(config.output).as_bytes());
                        let _ = stdout.flush();
                        html = write_page(args.html_out.as_deref(), report.render(Format::Html));
                    },
                ))
                .await;
                html?;
                return Ok(code);
            }
            if let Some(fleet) = &config.fleet {
                // One cluster (`--cluster NAME`): its report as a single run prints it.
                let one = !fleet.is_many();
                let code = drift_check::run_fleet(fleet, &config.settings, progress, |report| {
                    let single = report.clusters.first().and_then(|c| c.report.as_ref());
                    let (text, page) = match single.filter(|_| one) {
                        Some(r) => (r.render(config.output), r.render(Format::Html)),
                        None => (report.render(config.output), report.render(Format::Html)),
                    };
                    let _ = stdout.write_all(text.as_bytes());
                    let _ = stdout.flush();
                    html = write_page(args.html_out.as_deref(), page);
                })
                .await;
                html?;
                return Ok(code);
            }
            let code = drift_check::run(&config.settings, progress, |report| {
                let _ = stdout.write_all(report.render(config.output).as_bytes());
                let _ = stdout.flush();
                html = write_html(args.html_out.as_deref(), report);
            })
            .await;
            html?;
            Ok(code)
        }
        Command::Render(args) => {
            let file = args.kustomization_file;
            let settings = Config::load(&args.common, None, None)?
                .settings
                .map(|mut s| {
                    s.discover.kustomization_file = file;
                    s
                });
            let renders = drift_check::render(&settings).await;
            for (ks, objects) in &renders.kustomizations {
                for object in objects.iter().flatten() {
                    writeln!(stdout, "---\n# Kustomization {ks}")?;
                    stdout.write_all(drift_check::yaml::to_string(object).as_bytes())?;
                }
            }
            for note in &renders.notes {
                eprintln!("drift-check: note: {note}");
            }
            let errors = &renders.issues;
            for e in errors {
                let scope = e
                    .kustomization
                    .as_deref()
                    .map(|k| format!(" {k}"))
                    .unwrap_or_default();
                let message = drift_check::report::escape_text(&e.message);
                eprintln!("drift-check: {}{scope}: {message}", e.stage);
            }
            Ok(if errors.is_empty() { 0 } else { 2 })
        }
    }
}

/// `--html-out`: the report as an HTML page, written to a file.
fn write_html(
    path: Option<&std::path::Path>,
    report: &drift_check::report::Report,
) -> anyhow::Result<()> {
    match path {
        Some(_) => write_page(path, report.render(Format::Html)),
        None => Ok(()),
    }
}

/// `--html-out`: an HTML page, written to a file.
fn write_page(path: Option<&std::path::Path>, html: String) -> anyhow::Result<()> {
    use anyhow::Context;
    let Some(path) = path else {
        return Ok(());
    };
    std::fs::write(path, html).with_context(|| {
        format!(
            "--html-out {}: cannot write the HTML report",
            path.display()
        )
    })
}

/// JSON logs when asked, or when stderr is not a terminal (in the cluster).
fn json_logs(cli: &Cli) -> bool {
    match cli.log_format {
        Some(format) => format == LogFormat::Json,
        None => !std::io::stderr().is_terminal(),
    }
}

/// Progress on a terminal for manual runs; never in JSON-log mode.
fn show_progress(cli: &Cli) -> Progress {
    let shown = match cli.progress {
        ProgressMode::Always => true,
        ProgressMode::Never => false,
        ProgressMode::Auto => std::io::stderr().is_terminal() && !json_logs(cli),
    };
    if shown {
        Progress::Stderr
    } else {
        Progress::Quiet
    }
}

/// Sets up logging; an invalid `--log-level` is an error, not `warn`.
fn init_logging(cli: &Cli) -> Result<(), String> {
    let filter = drift_check::cli::log_filter(&cli.log_level)?;
    let json = json_logs(cli);
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
    Ok(())
}
