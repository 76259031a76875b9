//! The real Gemini CLI (npm `@google/gemini-cli`, pinned in tests/peers) launched by
//! `lakepass launch gemini`, against the devstack's Gemini API through the engine's proxy.
//!
//! With no engine running, the launch starts `lakepass daemon` and says so; `gemini -p` answers
//! "pong", and the only token the devstack saw on the Gemini paths is the workspace's current
//! one (the CLI itself was given none: a placeholder key and the proxy's URL). Then the long
//! session: one interactive Gemini CLI under tmux asks twice across two token lifetimes
//! (`--token-ttl 60`: real time, about 70 s, bounded at 150 s), and the devstack sees two tokens.

use std::path::PathBuf;
use std::time::Duration;

use lakepass_tests::*;

/// One `gemini -p` run's bound.
const GEMINI_TIMEOUT: Duration = Duration::from_secs(120);

/// `node_modules/.bin` of the peers, if Gemini CLI is installed there; else `None` after
/// printing "skipped" (a panic under `CI`).
fn gemini_bin_dir() -> Option<PathBuf> {
    let bin = peers_dir().join("node_modules").join(".bin");
    if bin.join("gemini").exists() && peer_node().is_some() {
        return Some(bin);
    }
    assert!(may_skip(
        "Gemini CLI (npm @google/gemini-cli) is not installed in tests/peers: run scripts/ci-deps.sh"
    ));
    None
}

/// Kills the daemon a launch started, when the test ends (passed or not).
struct DaemonGuard(Option<u32>);

impl Drop for DaemonGuard {
    fn drop(&mut self) {
        if let Some(pid) = self.0 {
            let _ = std::process::Command::new("kill").arg(pid.to_string()).status();
        }
    }
}

/// The pid in "started `lakepass daemon` in the background (pid N".
fn started_daemon(stderr: &str) -> Option<u32> {
    let rest = stderr.split("in the background (pid ").nth(1)?;
    rest.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok()
}

/// The token fingerprints the devstack saw on `dev`'s Gemini paths, and how many requests.
fn gemini_seen(ds: &lakepass_devstack::Devstack) -> (u64, Vec<String>) {
    let stats = ds.stats();
    let mut requests = 0;
    let mut fps: Vec<String> = Vec::new();
    for (path, p) in &stats.workspaces["dev"].paths {
        if path.starts_with("/ai-gateway/gemini/") {
            requests += p.requests;
            for fp in &p.token_fingerprints {
                if !fps.contains(fp) {
                    fps.push(fp.clone());
                }
            }
        }
    }
    (requests, fps)
}

async fn gemini_home(ds: &lakepass_devstack::Devstack, bin: &std::path::Path) -> TempHome {
    let mut home = TempHome::new();
    home.write_devstack_config(ds);
    home.login(&[]).await;
    let path = std::env::var("PATH").unwrap_or_default();
    home.set_env("PATH", format!("{}:{path}", bin.display()));
    // Gemini CLI offline: no telemetry, no update check; the folder is trusted for the session.
    home.set_env("GEMINI_CLI_TRUST_WORKSPACE", "true");
    home.set_env("GEMINI_TELEMETRY_ENABLED", "false");
    home.set_env("NO_BROWSER", "1");
    home
}

async fn token(home: &TempHome) -> String {
    home.run(&["token", "--raw", "-w", "dev"]).await.success().stdout.trim().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_gemini_cli_answers_through_the_proxy_with_the_workspaces_current_token() {
    let Some(bin) = gemini_bin_dir() else { return };
    let ds = start_devstack(Duration::from_secs(3600)).await;
    let home = gemini_home(&ds, &bin).await;
    let current = token(&home).await;
    let out =
        home.run_timeout(&["launch", "gemini", "-w", "dev", "--", "-p", "say pong"], GEMINI_TIMEOUT).await;
    let _daemon = DaemonGuard(started_daemon(&out.stderr));
    assert!(
        _daemon.0.is_some(),
        "with no engine running, the launch started one and said so: {}",
        redact(&out.stderr)
    );
    let out = out.success();
    assert!(out.stdout.contains("pong"), "{out:?}");
    let (requests, fps) = gemini_seen(&ds);
    assert!(requests >= 1, "Gemini CLI called the Gemini API");
    assert_eq!(fps, [fingerprint(&current)], "only the workspace's current token reached the Gemini API");
    // The CLI's environment held no token: only the placeholder key it sent was dropped by the proxy.
    assert!(!ds.stats().workspaces["dev"].seen_token_fingerprints.contains(&fingerprint("lakepass-proxy")));
    // The overlay is Lakepass's own, private, and holds no token.
    let overlay =
        home.data_dir().join("launch").join("gemini").join("dev").join(".gemini").join("settings.json");
    assert_eq!(mode(&overlay) & 0o777, 0o600);
    let text = std::fs::read_to_string(&overlay).unwrap();
    assert!(!text.contains(&current) && text.contains("gemini-api-key"), "{text}");
}

/// `tmux -L <socket> …` with `home`'s environment (a server of its own, started with it).
fn tmux(home: &TempHome, socket: &str, args: &[&str]) -> std::process::Output {
    let mut cmd = std::process::Command::new("tmux");
    cmd.env_clear().envs(home.env()).current_dir(home.root());
    cmd.arg("-L").arg(socket).args(args);
    cmd.output().expect("tmux runs")
}

/// What the tmux pane shows now.
fn pane(home: &TempHome, socket: &str) -> String {
    String::from_utf8_lossy(&tmux(home, socket, &["capture-pane", "-p", "-t", "gemini"]).stdout).into_owned()
}

/// Ends the tmux server when the test ends (passed or not).
struct TmuxGuard<'h>(&'h TempHome, String);

impl Drop for TmuxGuard<'_> {
    fn drop(&mut self) {
        end_tmux(&["-L", &self.1], &self.0.env());
    }
}

/// One interactive Gemini CLI, one proxy grant, two token lifetimes: both questions are
/// answered, with two different tokens, the second after the first token expired. Real time
/// (the devstack's tokens live 60 s and the engine renews them when due): about 75 s, bounded
/// at 150 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_gemini_session_outlives_its_token_with_the_proxy() {
    let Some(bin) = gemini_bin_dir() else { return };
    if std::process::Command::new("tmux").arg("-V").output().is_err() {
        assert!(may_skip("tmux is not installed"));
        return;
    }
    let started = std::time::Instant::now();
    let ds = start_devstack(Duration::from_secs(60)).await;
    let home = gemini_home(&ds, &bin).await;
    let socket = format!("lakepass-gemini-{}", std::process::id());
    let _tmux = TmuxGuard(&home, socket.clone());
    let launch = format!("{} launch gemini -w dev", lakepass_bin().display());
    let out = tmux(&home, &socket, &["new-session", "-d", "-s", "gemini", "-x", "160", "-y", "50", &launch]);
    assert!(out.status.success(), "{out:?}");
    let shown = wait_for("Gemini CLI's prompt", Duration::from_secs(40), || {
        let p = pane(&home, &socket);
        p.contains("Authenticated with gemini-api-key").then_some(p)
    })
    .await;
    // No engine ran: the launch started one (and said so); it ends with the test.
    let _daemon = DaemonGuard(started_daemon(&shown.replace('\n', " ")));
    assert!(_daemon.0.is_some(), "{shown}");

    let ask = |n: u64| {
        let home = &home;
        let socket = socket.clone();
        let ds = &ds;
        async move {
            tmux(home, &socket, &["send-keys", "-t", "gemini", "-l", "say pong"]);
            // Keys that arrive together read as a paste, where Enter is a new line: press it
            // once the prompt shows the text, and again while no request has gone out.
            let deadline = std::time::Instant::now() + Duration::from_secs(40);
            while !pane(home, &socket).contains("> say pong") {
                assert!(std::time::Instant::now() < deadline, "the prompt shows the question");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            let mut presses = 0;
            while gemini_seen(ds).0 < n && presses < 20 {
                tmux(home, &socket, &["send-keys", "-t", "gemini", "C-m"]);
                presses += 1;
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            let deadline = std::time::Instant::now() + Duration::from_secs(40);
            loop {
                let p = pane(home, &socket);
                if gemini_seen(ds).0 >= n && p.matches("pong").count() >= n as usize * 2 {
                    break;
                }
                assert!(
                    std::time::Instant::now() < deadline,
                    "no answer {n}; the pane:\n{p}\n{:?}",
                    gemini_seen(ds)
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    };
    let first_read = std::time::Instant::now();
    let first = token(&home).await;
    ask(1).await;
    assert_eq!(gemini_seen(&ds).1, [fingerprint(&first)], "{}", pane(&home, &socket));
    // The token's lifetime passes; the engine renews it (the agent is told nothing).
    let mut second = first.clone();
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    while second == first {
        assert!(std::time::Instant::now() < deadline, "the engine renewed the 60 s token");
        tokio::time::sleep(Duration::from_secs(1)).await;
        second = token(&home).await;
    }
    // And the first token's whole lifetime is over (it was issued before it was read): the
    // workspace refuses it now, and the same Gemini CLI session asks again.
    let over = first_read + Duration::from_secs(61);
    tokio::time::sleep(over.saturating_duration_since(std::time::Instant::now())).await;
    assert_eq!(scim_me(&ws_host(&ds, "dev"), &first).await.0, 401, "the first token has expired");
    ask(2).await;
    let (_, fps) = gemini_seen(&ds);
    assert!(fps.len() >= 2 && fps[0] == fingerprint(&first), "two tokens, the first one first: {fps:?}");
    assert!(started.elapsed() < Duration::from_secs(150), "took {:?}", started.elapsed());
}
