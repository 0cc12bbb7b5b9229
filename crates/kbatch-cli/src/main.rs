//! `kbatch`: bounded, exact reads of Kafka topics, aggregated as they arrive.
//!
//! Thin glue over `kbatch-reader`: flags become a [`kbatch_reader::Config`] and a
//! [`kbatch_reader::ReadSpec`], subcommands pick a job, and outputs are rendered here.
//! Exit codes: 0 success (also when stdout is a closed pipe), 1 runtime or range errors,
//! 2 usage or SPEC syntax errors, 101 internal errors (a panic caught in a read, as Rust's own
//! exit code for a panic), 130 on Ctrl-C (the default SIGINT disposition). A read's error
//! picks its code from its [`ErrorKind`]: [`exit_code`].
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod args;
mod dump;
mod export;
mod progress;

use std::io::Write;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use clap::Parser;
use kbatch_reader::{Count, CountReport, ErrorKind, PartitionSpec, Progress, ReadError, Reader};

use args::{Cli, Command, CommonArgs, TopArgs, TrendingFormat, ValueFormatArg};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    init_logging(cli.verbose);
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if is_broken_pipe(&e) {
                return ExitCode::SUCCESS;
            }
            if let Some(usage) = e.downcast_ref::<args::UsageError>() {
                eprintln!("kbatch: {usage}");
                return ExitCode::from(2);
            }
            eprintln!("kbatch: {}", one_line(&e));
            // An export's error (its kind is its read error's, when a read failed) or a read's.
            let kind = e.chain().find_map(|c| {
                c.downcast_ref::<kbatch_export::ExportError>()
                    .map(|x| x.kind())
                    .or_else(|| c.downcast_ref::<ReadError>().map(|r| r.kind()))
            });
            ExitCode::from(kind.map_or(1, exit_code))
        }
    }
}

/// The exit code of a read that failed with an error of `kind`.
fn exit_code(kind: ErrorKind) -> u8 {
    match kind {
        ErrorKind::Usage => 2,
        ErrorKind::Range | ErrorKind::Broker | ErrorKind::Auth | ErrorKind::Data => 1,
        ErrorKind::Internal => 101,
    }
}

fn one_line(e: &anyhow::Error) -> String {
    kbatch_reader::one_line(e.chain())
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info,kbatch=debug",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Offsets(common) => offsets(&common),
        Command::Count(common) => count(&common),
        Command::Dump {
            common,
            binary,
            formats,
        } => dump::dump(&common, binary, &formats),
        Command::Export(args) => export::export(&args),
        Command::Trending {
            common,
            top,
            format,
            strict,
            values,
        } => trending(&common, top, format, strict, &values),
        Command::Top(args) => top(&args),
    }
}

fn connect(common: &CommonArgs) -> anyhow::Result<Reader> {
    let (config, ignored) = common.config()?;
    warn_ignored(&ignored);
    warn_security(&config);
    let bootstrap = config.bootstrap.join(",");
    Reader::connect(config).with_context(|| format!("connecting to {bootstrap}"))
}

/// Credentials in clear or certificate checks off: said once, before connecting.
fn warn_security(config: &kbatch_reader::Config) {
    for w in config.security_warnings() {
        eprintln!("kbatch: warning: {w}");
    }
}

fn warn_ignored(ignored: &[String]) {
    if !ignored.is_empty() {
        eprintln!(
            "kbatch: warning: ignoring keys that mean nothing to a bounded read: {}",
            ignored.join(", ")
        );
    }
}

fn offsets(common: &CommonArgs) -> anyhow::Result<()> {
    common.spec()?; // flags are checked the same way for every subcommand
    let reader = connect(common)?;
    let offsets = reader.offsets(&common.topic, common.partitions.as_deref())?;
    let out = serde_json::json!({ "partitions": offsets });
    write_stdout(&format!("{out}\n"))
}

fn plan_and_progress(
    reader: &Reader,
    common: &CommonArgs,
) -> anyhow::Result<(Vec<kbatch_reader::PartitionPlan>, Progress)> {
    let plan = reader.plan(&common.spec()?)?;
    let specs: Vec<PartitionSpec> = plan.iter().map(|p| p.spec.clone()).collect();
    let progress = Progress::new(&specs);
    Ok((plan, progress))
}

fn count(common: &CommonArgs) -> anyhow::Result<()> {
    let reader = connect(common)?;
    let (plan, progress) = plan_and_progress(&reader, common)?;
    let started = Instant::now();
    let outcome =
        progress::while_running(&progress, || reader.run(&plan, &Count, Some(&progress)))?;
    let report = CountReport::from_stats(&outcome.stats);
    let records = report.records;
    // Through a `Value` so the keys print sorted, as they always have.
    let out = serde_json::to_value(&report)?;
    summary(records, None, outcome.stats.len(), started);
    write_stdout(&format!("{out}\n"))
}

fn trending(
    common: &CommonArgs,
    top: u32,
    format: TrendingFormat,
    strict: bool,
    values: &ValueFormatArg,
) -> anyhow::Result<()> {
    if top == 0 {
        return Err(args::UsageError("--top must be at least 1".into()).into());
    }
    let decoder = values.decoder(&common.client_config()?)?;
    let reader = connect(common)?;
    let (plan, progress) = plan_and_progress(&reader, common)?;
    let started = Instant::now();
    let report = match decoder {
        // Framed values: trending's question run as `top`, which reads decoded records.
        Some(decoder) => {
            let mut job = kbatch_trending::TopJob::trending(top, strict, decoder);
            let specs: Vec<PartitionSpec> = plan.iter().map(|p| p.spec.clone()).collect();
            job.bind(&specs);
            let outcome =
                progress::while_running(&progress, || reader.run(&plan, &job, Some(&progress)))?;
            kbatch_trending::Report::from_top(outcome.output?)
        }
        None => {
            let job = kbatch_trending::Trending { top, strict };
            let outcome =
                progress::while_running(&progress, || reader.run(&plan, &job, Some(&progress)))?;
            outcome.output
        }
    };
    summary(
        report.records,
        Some(report.invalid),
        report.partitions.len(),
        started,
    );
    let text = match format {
        TrendingFormat::Table => kbatch_trending::render_table(&report),
        TrendingFormat::Json => format!("{}\n", serde_json::to_string(&report)?),
        TrendingFormat::Csv => kbatch_trending::render_csv(&report),
    };
    write_stdout(&text)
}

fn top(args: &TopArgs) -> anyhow::Result<()> {
    let usage = |e: kbatch_trending::SpecError| args::UsageError(e.to_string());
    let wheres: Vec<&str> = args.filters.iter().map(String::as_str).collect();
    let mut spec = kbatch_trending::TopSpec::parse(
        &args.group,
        &args.item,
        Some(&args.metric),
        &wheres,
        args.window.as_deref(),
        Some(&args.top),
    )
    .map_err(usage)?;
    spec.strict = args.strict;
    let mut job = kbatch_trending::TopJob::new(spec).map_err(usage)?;
    let common = &args.common;
    if let Some(decoder) = args.values.decoder(&common.client_config()?)? {
        job = job.with_decoder(decoder);
    }
    // Partition filters choose the partitions read, a timestamp lower bound the start.
    let mut read = common.spec()?;
    job.spec().narrow(&mut read);
    let reader = connect(common)?;
    let plan = reader.plan(&read)?;
    let specs: Vec<PartitionSpec> = plan.iter().map(|p| p.spec.clone()).collect();
    job.bind(&specs);
    let progress = Progress::new(&specs);
    let started = Instant::now();
    let outcome = progress::while_running(&progress, || reader.run(&plan, &job, Some(&progress)))?;
    let report = outcome.output?;
    summary(
        report.records,
        Some(report.invalid),
        report.partitions.len(),
        started,
    );
    if report.filtered > 0 {
        let (batches, records) = report.partitions.iter().fold((0, 0), |(b, r), p| {
            (b + p.skipped_batches, r + p.skipped_records)
        });
        let skipped = if batches > 0 {
            format!(
                " ({records} of them in {batches} batches skipped undecoded by their timestamps)"
            )
        } else {
            String::new()
        };
        eprintln!("kbatch: {} records filtered{skipped}", report.filtered);
    }
    let text = match args.format {
        TrendingFormat::Table => kbatch_trending::render_top_table(&report),
        TrendingFormat::Json => format!("{}\n", serde_json::to_string(&report)?),
        TrendingFormat::Csv => kbatch_trending::render_top_csv(&report),
    };
    write_stdout(&text)
}

fn summary(records: u64, invalid: Option<u64>, partitions: usize, started: Instant) {
    let secs = started.elapsed().as_secs_f64();
    let rate = if secs > 0.0 {
        records as f64 / secs
    } else {
        0.0
    };
    let invalid = invalid.map_or(String::new(), |i| format!(", {i} invalid"));
    eprintln!(
        "kbatch: {records} records{invalid}, {partitions} partitions, {secs:.2} s, {rate:.0} records/s"
    );
}

fn write_stdout(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use kbatch_reader::{ErrorKind, ReadError};

    use super::exit_code;

    #[test]
    fn exit_codes_follow_the_error_kind() {
        let table = [
            (ErrorKind::Usage, 2),
            (ErrorKind::Range, 1),
            (ErrorKind::Broker, 1),
            (ErrorKind::Auth, 1),
            (ErrorKind::Data, 1),
            (ErrorKind::Internal, 101),
        ];
        for (kind, code) in table {
            assert_eq!(exit_code(kind), code, "{kind:?}");
        }
    }

    #[test]
    fn a_read_error_under_context_is_found_for_its_exit_code() {
        let e = anyhow::Error::new(ReadError::Config("no bootstrap address".into()))
            .context("connecting to ");
        let read = e.chain().find_map(|c| c.downcast_ref::<ReadError>());
        assert_eq!(read.map(|r| exit_code(r.kind())), Some(2));
    }
}
