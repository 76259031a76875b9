//! GitHub Copilot CLI (npm `@github/copilot` 1.0.102, pinned in tests/peers) launched by
//! `lakepass launch copilot`: BYOK mode on the devstack's Chat Completions API
//! (`/ai-gateway/mlflow/v1/chat/completions`) with no GitHub sign-in (`COPILOT_OFFLINE`), its key
//! from `COPILOT_PROVIDER_API_KEY_COMMAND` (`lakepass token --raw`) before every request, and
//! the managed SQL MCP server through `lakepass mcp-proxy`. Print mode answers "pong" with the
//! workspace's current token; one interactive Copilot under tmux asks twice across two token
//! lifetimes (`--token-ttl 60`, real time: about 65 s) and the devstack sees two tokens.

use std::path::{Path, PathBuf};
use std::time::Duration;

use lakepass_tests::*;

/// Where the devstack counts Copilot's model requests.
const CHAT_PATH: &str = "/ai-gateway/mlflow/v1/chat/completions";

/// A program from tests/peers' `node_modules/.bin`, if installed; else `None` after "skipped"
/// (a panic under `CI`).
pub(crate) fn peer_bin(name: &str) -> Option<PathBuf> {
    let bin = peers_dir().join("node_modules").join(".bin").join(name);
    if bin.is_file() {
        return Some(bin);
    }
    assert!(may_skip(&format!("{} is not installed: run scripts/ci-deps.sh", bin.display())));
    None
}

/// A home signed in to `ds`, with `[agent.<agent>] path` the peer's program and the SQL MCP server.
pub(crate) async fn agent_home(ds: &Devstack, agent: &str, program: &Path) -> TempHome {
    let home = TempHome::new();
    home.write_config(&format!(
        "{}\n[agent.{agent}]\npath = '''{}'''\n\n[mcp.dev]\n",
        devstack_config(ds),
        program.display()
    ));
    home.login(&[]).await;
    home
}

/// The workspace token `lakepass token` hands out now, and when it expires (UNIX seconds).
pub(crate) async fn current_token(home: &TempHome) -> (String, i64) {
    let out = home.run(&["token", "-w", "dev", "--json"]).await.success().json();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    (
        out["token"].as_str().expect("a token").to_string(),
        now + out["expires_in"].as_i64().expect("expires_in"),
    )
}

/// The tokens (fingerprints) and request count the devstack saw on `path` of `dev`.
pub(crate) fn seen_on(ds: &Devstack, path: &str) -> (u64, Vec<String>) {
    let stats = ds.stats();
    let p = stats.workspaces["dev"].paths.get(path).cloned().unwrap_or_default();
    (p.requests, p.token_fingerprints)
}

/// An agent running interactively in a detached tmux session of its own server (socket in the
/// home), started with the home's environment.
pub(crate) struct Tmux {
    socket: PathBuf,
    home_env: Vec<(String, std::ffi::OsString)>,
    root: PathBuf,
}

impl Tmux {
    pub(crate) async fn start(home: &TempHome, extra_env: &[(&str, &str)], argv: &[String]) -> Tmux {
        let t =
            Tmux { socket: home.root().join("tmux.sock"), home_env: home.env(), root: home.root().into() };
        let mut cmd = t.tmux(&["new-session", "-d", "-s", "agent", "-x", "160", "-y", "45"]);
        cmd.envs(extra_env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        cmd.arg(argv.iter().map(|a| shell_word(a)).collect::<Vec<_>>().join(" "));
        let out = cmd.output().await.expect("run tmux");
        assert!(out.status.success(), "tmux new-session: {}", String::from_utf8_lossy(&out.stderr));
        t
    }

    fn tmux(&self, args: &[&str]) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new("tmux");
        cmd.env_clear().envs(self.home_env.clone()).current_dir(&self.root);
        cmd.arg("-S").arg(&self.socket).args(args);
        cmd
    }

    /// What the pane shows now.
    pub(crate) async fn screen(&self) -> String {
        let out = self.tmux(&["capture-pane", "-p", "-t", "agent"]).output().await.expect("capture-pane");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Types `text` and Enter.
    pub(crate) async fn type_line(&self, text: &str) {
        let ok = self.tmux(&["send-keys", "-t", "agent", "-l", text]).status().await.expect("send-keys");
        assert!(ok.success());
        let ok = self.tmux(&["send-keys", "-t", "agent", "Enter"]).status().await.expect("send-keys");
        assert!(ok.success());
    }

    /// Waits until the pane shows `needle` `times` times.
    pub(crate) async fn wait_screen(&self, needle: &str, times: usize, timeout: Duration) -> String {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let screen = self.screen().await;
            if screen.matches(needle).count() >= times {
                return screen;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the agent never showed {needle:?} {times}×; its screen:\n{}",
                redact(&screen)
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        end_tmux(&["-S", &self.socket.to_string_lossy()], &self.home_env);
    }
}

fn shell_word(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copilot_says_pong_through_the_chat_completions_api_with_the_current_token_and_reaches_mcp() {
    let Some(copilot) = peer_bin("copilot") else { return };
    let ds = start_devstack(Duration::from_secs(3600)).await;
    let home = agent_home(&ds, "copilot", &copilot).await;
    let (token, _) = current_token(&home).await;
    let out = home
        .run_timeout(&["launch", "copilot", "-w", "dev", "--", "-p", "say pong"], Duration::from_secs(120))
        .await
        .success();
    assert!(out.stdout.to_lowercase().contains("pong"), "{}", redact(&out.stdout));
    assert!(out.stderr.contains("databricks-sql"), "the MCP server is told: {}", redact(&out.stderr));
    let (requests, tokens) = seen_on(&ds, CHAT_PATH);
    assert!(requests >= 1, "Copilot asked the Chat Completions API");
    assert_eq!(tokens, [fingerprint(&token)], "with the workspace's current token, from the key command");
    // Copilot started `lakepass mcp-proxy`, which initialized the SQL server with the sql token.
    let sql = home.run(&["token", "-w", "dev", "--scope", "sql", "--raw"]).await.success().stdout;
    assert!(
        ds.stats().workspaces["dev"].seen_token_fingerprints.contains(&fingerprint(sql.trim())),
        "the SQL MCP server saw its scoped token through mcp-proxy"
    );
    let config = std::fs::read_to_string(home.data_dir().join("launch/copilot/dev/mcp-config.json")).unwrap();
    assert!(config.contains("mcp-proxy") && !config.contains(&token), "{}", redact(&config));
    assert_eq!(mode(&home.data_dir().join("launch/copilot/dev/mcp-config.json")) & 0o777, 0o600);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_interactive_copilot_asks_across_two_token_lifetimes_and_each_answer_carries_a_live_token() {
    let Some(copilot) = peer_bin("copilot") else { return };
    let ds = start_devstack(Duration::from_secs(60)).await;
    let home = agent_home(&ds, "copilot", &copilot).await;
    let (first, expires) = current_token(&home).await;
    let argv =
        [lakepass_bin().display().to_string(), "launch".into(), "copilot".into(), "-w".into(), "dev".into()];
    // COPILOT_ALLOW_ALL=true trusts the folder without a prompt (`copilot help environment`).
    let tmux = Tmux::start(&home, &[("COPILOT_ALLOW_ALL", "true")], &argv).await;
    tmux.wait_screen("Interactive", 1, Duration::from_secs(60)).await;
    tmux.type_line("say pong").await;
    tmux.wait_screen("● pong", 1, Duration::from_secs(60)).await;
    let (_, tokens) = seen_on(&ds, CHAT_PATH);
    assert_eq!(tokens, [fingerprint(&first)], "the first answer carried the first token");

    // The first token's lifetime ends; the same Copilot asks again.
    sleep_until_unix(expires, Duration::from_secs(2)).await;
    tmux.type_line("say pong again").await;
    tmux.wait_screen("● pong", 2, Duration::from_secs(60)).await;
    let (second, _) = current_token(&home).await;
    assert_ne!(second, first, "a new token after the first one's lifetime");
    let (_, tokens) = seen_on(&ds, CHAT_PATH);
    assert_eq!(tokens.len(), 2, "two tokens seen on the chat path");
    assert_eq!(tokens.last(), Some(&fingerprint(&second)), "the second answer carried the live token");
    assert_eq!(ds.stats().workspaces["dev"].api_calls_unauthorized, 0, "no request was refused");
}
