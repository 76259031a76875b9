//! The tray app idle (target 4) and its start-up (target 6b), when a release build of
//! `lakepass-tray` exists: started under `xvfb-run -a dbus-run-session` with 10 signed-in
//! workspaces and no window open, then watched through `/proc` for a minute.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::Opts;
use crate::report::{Row, ms};
use crate::setup::{Child, Home, cpu_seconds, proc_status_field, rss_kib, wait_until};

/// Target 4 and 6b; rows saying why not when the binary is missing.
pub async fn run(o: &Opts, home: &Home, rows: &mut Vec<Row>) -> anyhow::Result<()> {
    let Some(tray) = o.tray.as_ref().filter(|p| p.is_file()) else {
        let why = "no release build of lakepass-tray was found (pass --tray PATH, or let bench/run.sh find \
                   target/tray/release/lakepass-tray); the tray app was being finished by another engineer when this ran";
        rows.push(Row::info("4 tray idle, 10 workspaces", "not measured".into(), why));
        rows.push(Row::info("6b tray cold start", "not measured".into(), why));
        return Ok(());
    };
    let size = std::fs::metadata(tray)?.len();
    let log = std::fs::File::create(o.out_dir.join("tray.log"))?;
    let started = Instant::now();
    let child = home
        .command("xvfb-run")
        .args(["-a", "dbus-run-session", "--"])
        .arg(tray)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()?;
    let mut child = Child(child);
    let sock = home.paths.data_dir.join("lakepass.sock");
    let up = wait_until(Duration::from_secs(60), || sock.exists()).await;
    let to_socket = started.elapsed().as_secs_f64();
    let pid = find_pid(tray, &home.paths.data_dir);
    let (Some(pid), true) = (pid, up) else {
        child.stop();
        rows.push(Row::info("4 tray idle, 10 workspaces", "did not start".into(), "see bench/out/tray.log"));
        return Ok(());
    };
    // Let it settle (first refreshes, menu build), then watch a quiet minute.
    tokio::time::sleep(Duration::from_secs(10)).await;
    let window = if o.quick { 20 } else { 60 };
    let (cpu0, sw0) = (cpu_seconds(pid).unwrap_or(0.0), switches(pid));
    tokio::time::sleep(Duration::from_secs(window)).await;
    let (cpu1, sw1) = (cpu_seconds(pid).unwrap_or(0.0), switches(pid));
    let rss = rss_kib(pid).unwrap_or(0) as f64 / 1024.0;
    let maps = Smaps::read(pid).unwrap_or_default();
    let threads = proc_status_field(pid, "Threads:").unwrap_or(0);
    child.stop();
    let cpu = cpu1 - cpu0;
    let wakeups = sw1.saturating_sub(sw0) as f64 / window as f64;
    rows.push(Row {
        what: "4 tray idle, 10 workspaces".into(),
        value: format!(
            "RSS {rss:.1} MB (PSS {:.1}, USS {:.1}), CPU {:.2} s / {window} s, {wakeups:.1} wake-ups/s",
            maps.pss_kib as f64 / 1024.0,
            maps.uss_kib as f64 / 1024.0,
            cpu
        ),
        baseline: "-".into(),
        ratio: format!("{:.2}% of one core", cpu / window as f64 * 100.0),
        target: "RSS ≤ 60 MB, CPU ≈ 0".into(),
        met: Some(rss <= 60.0 && cpu / window as f64 <= 0.005),
        note: format!(
            "xvfb-run -a dbus-run-session, window never opened, {threads} threads. Wake-ups are voluntary context switches \
             summed over every thread (/proc/<pid>/task/*/status), per second. Release binary size: {:.1} MB. \
             Largest mappings by RSS (/proc/<pid>/smaps, RSS/PSS MB): {}.",
            size as f64 / 1e6,
            maps.top(10)
        ),
    });
    rows.push(Row::info(
        "6b tray cold start",
        ms(to_socket),
        "Measured to the engine socket appearing (the tray's engine is up); first tray paint is not observable from \
         outside under Xvfb without a tray host, so this is a lower bound. Includes xvfb-run's own start.",
    ));
    Ok(())
}

fn switches(pid: u32) -> u64 {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else { return 0 };
    tasks
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("status")).ok())
        .filter_map(|s| {
            s.lines()
                .find(|l| l.starts_with("voluntary_ctxt_switches:"))?
                .split_whitespace()
                .nth(1)?
                .parse::<u64>()
                .ok()
        })
        .sum()
}

/// Our tray process: that executable, with our data dir in its environment (another one may run).
fn find_pid(exe: &Path, data_dir: &Path) -> Option<u32> {
    let want = std::fs::canonicalize(exe).ok()?;
    let marker = format!("LAKEPASS_DATA_DIR={}", data_dir.display());
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|e| {
        let pid: u32 = e.file_name().to_str()?.parse().ok()?;
        let ours =
            std::fs::read(e.path().join("environ")).ok()?.split(|b| *b == 0).any(|v| v == marker.as_bytes());
        (std::fs::read_link(e.path().join("exe")).ok()? == want && ours).then_some(pid)
    })
}

/// A process's memory by mapping, from `/proc/<pid>/smaps`: where the RSS goes, and the private
/// (USS) and proportional (PSS) figures beside it, since shared libraries count in full in RSS.
#[derive(Default)]
struct Smaps {
    /// (mapping name, RSS KiB, PSS KiB), one entry per file or anonymous kind.
    by_name: Vec<(String, u64, u64)>,
    pss_kib: u64,
    uss_kib: u64,
}

impl Smaps {
    fn read(pid: u32) -> Option<Smaps> {
        let text = std::fs::read_to_string(format!("/proc/{pid}/smaps")).ok()?;
        let mut by: std::collections::BTreeMap<String, (u64, u64)> = Default::default();
        let (mut cur, mut out) = (String::from("[anon]"), Smaps::default());
        for line in text.lines() {
            let mut words = line.split_whitespace();
            let Some(first) = words.next() else { continue };
            if !first.ends_with(':') {
                // A mapping header: range perms offset dev inode [path]
                cur = words.nth(4).map_or("[anon]", |p| p.rsplit('/').next().unwrap_or(p)).to_string();
                continue;
            }
            let kib: u64 = words.next().and_then(|v| v.parse().ok()).unwrap_or(0);
            match first {
                "Rss:" => by.entry(cur.clone()).or_default().0 += kib,
                "Pss:" => {
                    by.entry(cur.clone()).or_default().1 += kib;
                    out.pss_kib += kib;
                }
                "Private_Clean:" | "Private_Dirty:" => out.uss_kib += kib,
                _ => {}
            }
        }
        out.by_name = by.into_iter().map(|(k, (r, p))| (k, r, p)).collect();
        out.by_name.sort_by(|a, b| b.1.cmp(&a.1));
        Some(out)
    }

    fn top(&self, n: usize) -> String {
        let mb = |k: u64| k as f64 / 1024.0;
        self.by_name
            .iter()
            .take(n)
            .map(|(name, r, p)| format!("{name} {:.1}/{:.1}", mb(*r), mb(*p)))
            .collect::<Vec<_>>()
            .join(", ")
    }
}
