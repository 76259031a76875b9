//! The result table (stdout) and `docs/benchmarks.md`, plus the hyperfine wrapper: every
//! figure is a median with its same-run baseline and a ratio.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context as _;

use crate::setup::{Home, median};

/// One line of the table.
#[derive(Debug, Clone)]
pub struct Row {
    /// Target number and short name, e.g. `1a cached token, engine running`.
    pub what: String,
    /// The measured figure, with unit.
    pub value: String,
    /// The baseline and its figure.
    pub baseline: String,
    /// value / baseline (or the relevant ratio), formatted.
    pub ratio: String,
    /// The target, in words.
    pub target: String,
    /// Met, missed, or not applicable (informational / not measured).
    pub met: Option<bool>,
    /// Why, by how much, what was measured exactly.
    pub note: String,
}

impl Row {
    /// A row with no verdict.
    pub fn info(what: &str, value: String, note: &str) -> Row {
        Row {
            what: what.into(),
            value,
            baseline: "-".into(),
            ratio: "-".into(),
            target: "-".into(),
            met: None,
            note: note.into(),
        }
    }
}

/// Formats seconds as ms with sensible precision.
pub fn ms(secs: f64) -> String {
    let m = secs * 1e3;
    if m < 10.0 {
        format!("{m:.2} ms")
    } else if m < 100.0 {
        format!("{m:.1} ms")
    } else {
        format!("{m:.0} ms")
    }
}

/// One hyperfine command's result.
#[derive(Debug, Clone)]
pub struct Timed {
    /// Median wall time, seconds.
    pub median: f64,
    /// Every run's wall time.
    pub times: Vec<f64>,
    /// Mean CPU time (user + system) of the command's process tree, seconds, as hyperfine
    /// reads it from the children's rusage.
    pub cpu: f64,
}

/// Runs hyperfine (no shell, `-N`) on `commands` in `home`'s environment; medians per command.
pub fn hyperfine(
    home: &Home,
    out_dir: &Path,
    label: &str,
    warmup: u32,
    runs: u32,
    commands: &[String],
) -> anyhow::Result<Vec<Timed>> {
    let json = out_dir.join(format!("hyperfine-{label}.json"));
    let mut c = home.command("hyperfine");
    c.args([
        "-N",
        "--style",
        "basic",
        "--warmup",
        &warmup.to_string(),
        "--runs",
        &runs.to_string(),
        "--export-json",
    ])
    .arg(&json)
    .args(commands);
    let out = c.output().context("running hyperfine (apt-get install hyperfine)")?;
    anyhow::ensure!(out.status.success(), "hyperfine failed: {}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&json)?)?;
    let results = v["results"].as_array().context("hyperfine JSON has results")?;
    Ok(results
        .iter()
        .map(|r| {
            let times: Vec<f64> =
                r["times"].as_array().into_iter().flatten().filter_map(|t| t.as_f64()).collect();
            let cpu = r["user"].as_f64().unwrap_or(0.0) + r["system"].as_f64().unwrap_or(0.0);
            Timed { median: median(&times), times, cpu }
        })
        .collect())
}

/// The table, as monospace text for a terminal.
pub fn table(rows: &[Row]) -> String {
    let head = ["#", "figure", "baseline", "ratio", "target", "met"];
    let cells: Vec<[String; 6]> = rows
        .iter()
        .map(|r| {
            [
                r.what.clone(),
                r.value.clone(),
                r.baseline.clone(),
                r.ratio.clone(),
                r.target.clone(),
                verdict(r.met).into(),
            ]
        })
        .collect();
    let mut w = head.map(|h| h.chars().count());
    for c in &cells {
        for (i, s) in c.iter().enumerate() {
            w[i] = w[i].max(s.chars().count());
        }
    }
    let mut s = String::new();
    let line = |s: &mut String, c: &[String]| {
        for (i, x) in c.iter().enumerate() {
            let _ = write!(s, "{x:<width$}  ", width = w[i]);
        }
        s.push('\n');
    };
    line(&mut s, &head.map(String::from));
    for c in &cells {
        line(&mut s, c);
    }
    s
}

fn verdict(m: Option<bool>) -> &'static str {
    match m {
        Some(true) => "met",
        Some(false) => "MISSED",
        None => "-",
    }
}

/// The whole `docs/benchmarks.md`.
pub fn markdown(rows: &[Row], machine: &str, commands: &str, changes: &str, extra: &str) -> String {
    let mut s = String::from("# Benchmarks\n\n");
    s.push_str(
        "Written by `bash bench/run.sh` (do not edit by hand; rerun it). Every figure is a median over \
         repeated runs, next to a baseline measured in the same run on the same machine, because the \
         machines here are shared and noisy: read the ratios first. None of this runs in CI.\n\n",
    );
    s.push_str(machine);
    s.push_str(
        "\n## Results\n\n| # | figure | baseline | ratio | target | met |\n|---|---|---|---|---|---|\n",
    );
    for r in rows {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} |",
            r.what,
            r.value,
            r.baseline,
            r.ratio,
            r.target,
            verdict(r.met)
        );
    }
    s.push_str("\n## Notes per figure\n\n");
    for r in rows.iter().filter(|r| !r.note.is_empty()) {
        let _ = writeln!(s, "- **{}**: {}", r.what, r.note);
    }
    s.push_str(extra);
    s.push_str("\n## What was changed to meet the targets\n\n");
    s.push_str(changes);
    s.push_str("\n## Reproduce\n\n");
    s.push_str(commands);
    s
}
