//! `lakepass log`: the audit log's recent events (sign-ins, exchanges, refreshes, launches).

use std::process::ExitCode;

use clap::Args;
use lakepass_engine::audit::{AuditLog, Outcome};
use lakepass_store::Paths;

/// Arguments of `log`.
#[derive(Args, Debug)]
pub struct LogArgs {
    /// How many of the most recent events to show.
    #[arg(short = 'n', long, default_value_t = 20)]
    pub lines: usize,
    /// Print the events as JSON Lines (one event per line, as stored).
    #[arg(long)]
    pub json: bool,
}

/// Shows the audit log; damaged lines are skipped with a note on stderr.
pub fn log(paths: &Paths, a: LogArgs) -> anyhow::Result<ExitCode> {
    let log = AuditLog::new(&paths.data_dir);
    let read = log.read();
    for s in &read.skipped {
        eprintln!("note: skipped line {} of {}: {}", s.line, s.file.display(), s.reason);
    }
    let start = read.events.len().saturating_sub(a.lines);
    let events = &read.events[start..];
    if a.json {
        for e in events {
            println!("{}", serde_json::to_string(e)?);
        }
        return Ok(ExitCode::SUCCESS);
    }
    if events.is_empty() {
        eprintln!("No events yet in {}.", log.path().display());
    }
    for e in events {
        let what = serde_json::to_value(e.event)?.as_str().unwrap_or("").to_string();
        let target = e.workspace.as_deref().or(e.idp.as_deref()).unwrap_or("-");
        match e.outcome {
            Outcome::Ok => println!("{}  ✓ {what:<9} {target:<14} {} ms", e.time, e.latency_ms),
            Outcome::Failure => println!(
                "{}  ✗ {what:<9} {target:<14} {} ms  {}{}: {}",
                e.time,
                e.latency_ms,
                e.error_kind.as_deref().unwrap_or("error"),
                e.error_code.as_deref().map(|c| format!(" ({c})")).unwrap_or_default(),
                e.message.as_deref().unwrap_or("")
            ),
        }
    }
    Ok(ExitCode::SUCCESS)
}
