//! A simulated day (issue 13, figure 6): the daemon's memory while it keeps 100 workspaces
//! fresh through a day's worth of refreshes. A day of one-hour tokens is 24 refreshes per
//! workspace, 2,400 exchanges for 100; here tokens live 20 s (the IdP's 30 s), so the real
//! daemon, on the real clock, does that work in minutes. Compressing the clock through short
//! lifetimes instead of an injected clock keeps every part real: the devstack's `exp` checks,
//! the engine's wall-clock scheduler, the file locks and the files. The figure is the daemon's
//! RSS sampled over the run: flat means the last quarter's samples are no higher than the
//! second quarter's plus a small slack (allocator noise), i.e. nothing grows per refresh.

use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use lakepass_devstack::DevstackOptions;

use crate::Opts;
use crate::report::Row;
use crate::setup::{Child, Home, config_text, free_port, rss_kib, wait_until};

/// Workspaces the daemon keeps fresh.
const WORKSPACES: usize = 100;
/// Exchanges in a day of one-hour tokens for [`WORKSPACES`].
const DAY_EXCHANGES: u64 = 24 * WORKSPACES as u64;
/// Allowed growth from the second quarter to the last: allocator noise, not a leak.
const SLACK_KIB: u64 = 2048;

/// Runs the simulated day and pushes one row.
pub async fn run(o: &Opts, rows: &mut Vec<Row>) -> anyhow::Result<()> {
    let ds = lakepass_devstack::start(DevstackOptions {
        auto_approve: Some("ada@example.com".into()),
        idp_token_ttl: Duration::from_secs(30),
        workspace_token_ttl: Duration::from_secs(20),
        extra_workspaces: WORKSPACES,
        ..DevstackOptions::default()
    })
    .await?;
    let info = ds.info().clone();
    let extra: Vec<_> =
        info.workspaces.iter().filter(|w| w.name.starts_with("ws")).take(WORKSPACES).collect();
    anyhow::ensure!(extra.len() == WORKSPACES, "the devstack has {} extra workspaces", extra.len());
    let home = Home::new(&o.tmp, "day")?;
    home.write_config(&config_text(&info, &extra, free_port()))?;
    home.login().await?;

    let log = std::fs::File::create(o.out_dir.join("day-daemon.log"))?;
    let mut daemon = Child(
        home.command(&o.lakepass)
            .arg("daemon")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("starting lakepass daemon")?,
    );
    let sock = home.paths.data_dir.join("lakepass.sock");
    anyhow::ensure!(wait_until(Duration::from_secs(30), || sock.exists()).await, "the daemon did not start");

    let exchanged =
        |s: &lakepass_devstack::Stats| -> u64 { s.workspaces.values().map(|w| w.exchanges_ok).sum() };
    let start = ds.stats();
    // `LAKEPASS_BENCH_DAYS=N` simulates N days (a longer look at a trend; the report's figure is one).
    let days: u64 =
        std::env::var("LAKEPASS_BENCH_DAYS").ok().and_then(|d| d.parse().ok()).unwrap_or(1).max(1);
    let target = if o.quick { DAY_EXCHANGES / 4 } else { DAY_EXCHANGES * days };
    let deadline = Instant::now() + Duration::from_secs(if o.quick { 240 } else { 900 * days });
    let t0 = Instant::now();
    let mut samples: Vec<(f64, u64, u64)> = Vec::new(); // (seconds, exchanges so far, RSS KiB)
    let mut threads: Vec<u64> = Vec::new();
    loop {
        let s = ds.stats();
        let done = exchanged(&s) - exchanged(&start);
        samples.push((t0.elapsed().as_secs_f64(), done, rss_kib(daemon.pid()).context("daemon exited")?));
        threads.push(crate::setup::proc_status_field(daemon.pid(), "Threads:").unwrap_or(0));
        if done >= target || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    let end = ds.stats();
    daemon.stop();
    // Every sample, for a look at the trend (bench/out/day-samples.csv).
    let csv: String = std::iter::once("seconds,exchanges,rss_kib,threads\n".to_string())
        .chain(samples.iter().zip(&threads).map(|((t, d, r), n)| format!("{t:.1},{d},{r},{n}\n")))
        .collect();
    std::fs::write(o.out_dir.join("day-samples.csv"), csv)?;
    let (done, grants) =
        (exchanged(&end) - exchanged(&start), end.idp.refresh_grants - start.idp.refresh_grants);
    let failed: u64 = end.workspaces.values().map(|w| w.exchanges_failed).sum::<u64>()
        - start.workspaces.values().map(|w| w.exchanges_failed).sum::<u64>();
    anyhow::ensure!(done >= target, "only {done} of {target} exchanges before the deadline");
    let q = samples.len() / 4;
    let max_of = |xs: &[(f64, u64, u64)]| xs.iter().map(|s| s.2).max().unwrap_or(0);
    let (second, last) = (max_of(&samples[q..2 * q]), max_of(&samples[3 * q..]));
    let first = samples.first().map_or(0, |s| s.2);
    rows.push(Row {
        what: format!("6c daemon memory over a simulated day, {WORKSPACES} workspaces"),
        value: format!("RSS {first} → {second} → {last} KiB"),
        baseline: "its own second quarter".into(),
        ratio: format!("{:+} KiB last vs second quarter", last as i64 - second as i64),
        target: "flat".into(),
        met: Some(last <= second + SLACK_KIB),
        note: format!(
            "`lakepass daemon` (release) keeping {WORKSPACES} devstack workspaces fresh with 20 s workspace tokens and \
             30 s IdP tokens, sampled every 2 s for {:.0} s: {done} exchanges ({:.1} per workspace; a day of one-hour \
             tokens is 24), {grants} IdP refresh grants, {failed} failed exchanges. Figures: RSS at the first sample, \
             the highest in the second quarter of the run, the highest in the last quarter; flat means the last is \
             within {SLACK_KIB} KiB of the second.",
            t0.elapsed().as_secs_f64(),
            done as f64 / WORKSPACES as f64
        ),
    });
    ds.shutdown().await;
    Ok(())
}
