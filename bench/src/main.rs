//! `lakepass-bench`: Lakepass side by side with what users compare it to, on this machine, in
//! one run. Started by `bash bench/run.sh`, which builds the release binaries and the Python
//! baseline's venv first. Prints a table and writes `docs/benchmarks.md`.
//!
//! Everything talks to an in-process devstack on 127.0.0.1; every loop is bounded in count and
//! time. See `docs/benchmarks.md` for what each figure means.

mod baseline;
mod cli;
mod day;
mod proxy;
mod refresh;
mod report;
mod setup;
mod tray;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use lakepass_devstack::DevstackOptions;

use crate::report::Row;
use crate::setup::{Home, config_text, free_port};

/// Where things are and how long to run.
pub struct Opts {
    /// The repository root.
    pub root: PathBuf,
    /// The release `lakepass` binary.
    pub lakepass: PathBuf,
    /// This binary (for hyperfine's `--prepare`).
    pub self_exe: PathBuf,
    /// The venv Python with requests, keyring and msal.
    pub python: PathBuf,
    /// The release tray binary, if any.
    pub tray: Option<PathBuf>,
    /// The native Claude Code program, for the launch click (6d).
    pub claude: Option<PathBuf>,
    /// Fewer runs (a smoke test of the harness, not for the record).
    pub quick: bool,
    /// Raw outputs (hyperfine JSON, logs).
    pub out_dir: PathBuf,
    /// Temp homes.
    pub tmp: PathBuf,
    /// The markdown report.
    pub report: PathBuf,
    /// `--only 1,3`: run only these target numbers (and write no report); `6c` is the
    /// simulated day alone.
    pub only: Option<String>,
}

impl Opts {
    fn runs(&self, targets: &[&str]) -> bool {
        self.only.as_deref().is_none_or(|o| o.split(',').any(|t| targets.contains(&t.trim())))
    }
}

const WORKSPACES_MANY: usize = 100;
const LATENCY_MS: u64 = 50;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    if args.get(1).map(String::as_str) == Some("serve-baseline") {
        let port: u16 = args.get(2).context("port")?.parse().context("port")?;
        return rt.block_on(baseline::serve(port));
    }
    if args.get(1).map(String::as_str) == Some("make-stale") {
        let (d, c) = (args.get(2).context("data dir")?, args.get(3).context("config")?);
        return rt.block_on(refresh::make_stale_cmd(d, c));
    }
    let flag =
        |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).map(PathBuf::from);
    let root = flag("--root").unwrap_or_else(|| PathBuf::from("."));
    let out_dir = root.join("bench/out");
    std::fs::create_dir_all(&out_dir)?;
    let tmp = tempfile::Builder::new().prefix("lakepass-bench-").tempdir()?;
    let o = Opts {
        lakepass: flag("--lakepass").unwrap_or_else(|| root.join("target/release/lakepass")),
        self_exe: std::env::current_exe()?,
        python: flag("--python").unwrap_or_else(|| root.join("bench/.venv/bin/python")),
        tray: flag("--tray"),
        claude: flag("--claude"),
        only: flag("--only").map(|p| p.display().to_string()),
        quick: args.iter().any(|a| a == "--quick"),
        report: flag("--report").unwrap_or_else(|| root.join("docs/benchmarks.md")),
        tmp: tmp.path().to_path_buf(),
        out_dir,
        root,
    };
    let result = rt.block_on(run(&o));
    rt.shutdown_timeout(Duration::from_secs(1));
    result
}

async fn run(o: &Opts) -> anyhow::Result<()> {
    anyhow::ensure!(
        o.lakepass.is_file(),
        "no release binary at {}; run bash bench/run.sh",
        o.lakepass.display()
    );
    let ds = lakepass_devstack::start(DevstackOptions {
        auto_approve: Some("ada@example.com".into()),
        // Off so the curl baseline of 2b can repeat its refresh request; Lakepass does the same
        // work either way (it stores whatever session comes back).
        rotate_refresh_tokens: false,
        extra_workspaces: WORKSPACES_MANY.max(10),
        ..DevstackOptions::default()
    })
    .await?;
    let info = ds.info().clone();
    let mut rows: Vec<Row> = Vec::new();

    eprintln!("[bench] 1, 5, 6a: credential helper, live service, status");
    if o.runs(&["1", "5", "6"]) {
        let home = Home::new(&o.tmp, "cli")?;
        home.write_config(&config_text(&info, &[&info.workspaces[0], &info.workspaces[1]], free_port()))?;
        home.login().await?;
        step(cli::run(o, &home, &info, &mut rows).await, "1/5/6a", &mut rows);
    }
    if o.runs(&["2"]) {
        eprintln!("[bench] 2: one full refresh");
        step(refresh::one_refresh(o, &ds, &mut rows).await, "2", &mut rows);
    }
    if o.runs(&["3"]) {
        eprintln!("[bench] 3: {WORKSPACES_MANY} workspaces expiring together");
        step(refresh::many(o, &ds, WORKSPACES_MANY, LATENCY_MS, &mut rows).await, "3", &mut rows);
    }
    // `--only 6c` runs the simulated day alone (four minutes; the other 6s need the tray).
    if o.runs(&["6", "6c"]) {
        eprintln!("[bench] 6c: a simulated day of refreshes, {} workspaces", 100);
        step(day::run(o, &mut rows).await, "6c", &mut rows);
    }
    if o.runs(&["4", "6"]) {
        eprintln!("[bench] 4, 6d: tray app (split and in process), dashboard opening, Launch Claude Code");
        step(tray::run(o, &info, &mut rows).await, "4/6d", &mut rows);
    }
    if o.runs(&["7"]) {
        eprintln!("[bench] 7: the agents' proxy against direct requests");
        step(proxy::run(&o.tmp, o.quick, &mut rows).await, "7", &mut rows);
    }
    if o.only.is_some() {
        println!("\n{}", report::table(&rows));
        eprintln!("[bench] --only: docs/benchmarks.md left as it was");
        ds.shutdown().await;
        return Ok(());
    }

    let table = report::table(&rows);
    println!("\n{table}");
    let md = report::markdown(&rows, &machine(), &reproduce(), CHANGES, "");
    std::fs::write(&o.report, md).with_context(|| format!("writing {}", o.report.display()))?;
    eprintln!("[bench] wrote {}", o.report.display());
    ds.shutdown().await;
    Ok(())
}

fn step(r: anyhow::Result<()>, what: &str, rows: &mut Vec<Row>) {
    if let Err(e) = r {
        eprintln!("[bench] {what} failed: {e:#}");
        rows.push(Row::info(what, "failed".into(), &format!("{e:#}")));
    }
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into());
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| t.lines().next().and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok()))
        .map(|k| format!("{:.1} GiB", k as f64 / 1024.0 / 1024.0))
        .unwrap_or_default();
    let nproc = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let date = std::process::Command::new("date")
        .arg("-u")
        .arg("+%Y-%m-%d %H:%M UTC")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    let rustc = std::process::Command::new("rustc")
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    format!(
        "## Run\n\n- Date: {date}\n- Machine: {nproc} CPUs ({cpu}), {mem} RAM, Linux {}; load average at the end: {}\n- Toolchain: {rustc}; \
         release profile (thin LTO)\n- Shared machine: absolute times vary from run to run (see the load average); ratios are \
         against baselines measured in the same run.\n",
        kernel.trim(),
        load.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
    )
}

fn reproduce() -> String {
    "```sh\n# one command: builds release binaries + the Python venv (bench/.venv), runs everything, rewrites this file\n\
     bash bench/run.sh\n# a faster smoke run of the harness (fewer repetitions; not for the record)\nbash bench/run.sh --quick\n```\n\n\
     Tools: hyperfine and wrk from Debian (`apt-get install hyperfine wrk`), curl, Python 3 with `requests keyring msal` \
     from PyPI in `bench/.venv`, and for the tray figures `xvfb-run` + `dbus-run-session` and a release build of \
     `lakepass-tray` (`cargo build --release -p lakepass-tray`). Raw hyperfine JSON and logs land in `bench/out/`. \
     All traffic stays on 127.0.0.1 against an in-process devstack.\n"
        .into()
}

const CHANGES: &str = include_str!("../changes.md");
