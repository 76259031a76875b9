//! The real Codex CLI (npm `@openai/codex`, pinned in tests/peers), launched by `lakepass launch
//! codex` against the devstack's Responses API (`/ai-gateway/codex/v1/responses`).
//!
//! First `codex exec`: it must answer "pong", and the devstack must have seen the workspace's
//! current token on that path, sent by Codex's provider `auth.command` (the launch hands it no
//! token). Then the long session: one `codex app-server` process (Codex's own JSON-RPC over
//! stdio, what its IDE clients drive) asks twice, the second time after the first token has
//! expired at the workspace (`--token-ttl 60`): both answers arrive, and the devstack saw two
//! different tokens. This takes one token lifetime of real time (about a minute): Codex keeps a
//! token by its own clock (`refresh_interval_ms`), which no devstack knob can move.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use lakepass_tests::*;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout};

/// Where Codex's requests arrive on the devstack.
const RESPONSES_PATH: &str = "/ai-gateway/codex/v1/responses";
/// One agent turn's bound (a refused token makes an agent retry for a while).
pub(crate) const TURN_TIMEOUT: Duration = Duration::from_secs(90);
/// A prompt without the answer's word in it, so "pong" in the output is the model's.
pub(crate) const PROMPT: &str = "reply with the usual word";

/// The pinned program `name` from tests/peers' `node_modules/.bin`, if installed; else `None`
/// after printing "skipped" (a panic under `CI`).
pub(crate) fn peer_bin(name: &str, package: &str) -> Option<PathBuf> {
    let p = peers_dir().join("node_modules").join(".bin").join(name);
    let runs = std::process::Command::new(&p).arg("--version").output().is_ok_and(|o| o.status.success());
    if runs {
        return Some(p);
    }
    assert!(may_skip(&format!("{package} is not installed in tests/peers ({} does not run)", p.display())));
    None
}

/// The workspace's current token, as the helper hands it out.
pub(crate) async fn current_token(home: &TempHome, ws: &str) -> String {
    home.run(&["token", "--raw", "-w", ws]).await.success().stdout.trim().to_string()
}

/// The token fingerprints the devstack saw on `path` of workspace `ws`.
pub(crate) fn seen_on(ds: &lakepass_devstack::Devstack, ws: &str, path: &str) -> Vec<String> {
    ds.stats().workspaces[ws].paths.get(path).map(|p| p.token_fingerprints.clone()).unwrap_or_default()
}

/// Waits until `token` is refused by workspace `ws` (it expired there): the moment a long
/// session must have moved on to a new one. Polled, as expiry is no event anyone sends.
pub(crate) async fn until_expired(ds: &lakepass_devstack::Devstack, ws: &str, token: &str) {
    let host = ws_host(ds, ws);
    let started = Instant::now();
    while scim_me(&host, token).await.0 != 401 {
        assert!(started.elapsed() < Duration::from_secs(150), "the token did not expire");
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// A child speaking newline-delimited JSON on stdin/stdout (Codex's app-server, Pi's RPC mode).
pub(crate) struct JsonLines {
    child: Child,
    stdin: ChildStdin,
    stdout: Lines<BufReader<ChildStdout>>,
    what: String,
}

impl JsonLines {
    pub(crate) fn spawn(what: &str, mut cmd: tokio::process::Command) -> Self {
        cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::null()).kill_on_drop(true);
        let mut child = cmd.spawn().unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
        let stdin = child.stdin.take().expect("stdin");
        let stdout = BufReader::new(child.stdout.take().expect("stdout")).lines();
        JsonLines { child, stdin, stdout, what: what.into() }
    }

    pub(crate) async fn send(&mut self, v: Value) {
        let line = format!("{v}\n");
        self.stdin.write_all(line.as_bytes()).await.expect("write to the agent");
        self.stdin.flush().await.expect("flush");
    }

    /// Reads messages until `pick` returns `Some`; every message read is kept in `seen`.
    pub(crate) async fn until<T>(
        &mut self,
        seen: &mut Vec<Value>,
        mut pick: impl FnMut(&Value) -> Option<T>,
    ) -> T {
        let what = self.what.clone();
        let read = async {
            while let Some(line) = self.stdout.next_line().await.expect("read the agent's output") {
                let Ok(v) = serde_json::from_str::<Value>(&line) else { continue };
                let found = pick(&v);
                seen.push(v);
                if let Some(t) = found {
                    return Some(t);
                }
            }
            None
        };
        match tokio::time::timeout(TURN_TIMEOUT, read).await {
            Ok(Some(t)) => t,
            Ok(None) => panic!("{what} closed its output; it said: {}", redact(&format!("{seen:?}"))),
            Err(_) => panic!("{what} timed out; it said: {}", redact(&format!("{seen:?}"))),
        }
    }

    pub(crate) async fn stop(mut self) {
        drop(self.stdin);
        let _ = tokio::time::timeout(Duration::from_secs(10), self.child.wait()).await;
        let _ = self.child.kill().await;
    }
}

async fn home_with_codex(ds: &lakepass_devstack::Devstack, codex: &std::path::Path) -> TempHome {
    let home = TempHome::new();
    home.write_config(&format!("{}\n[agent.codex]\npath = '''{}'''\n", devstack_config(ds), codex.display()));
    home.login(&[]).await;
    home
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_codex_exec_answers_through_the_responses_api_with_the_current_token() {
    let Some(codex) = peer_bin("codex", "@openai/codex") else { return };
    let ds = start_devstack(Duration::from_secs(3600)).await;
    let home = home_with_codex(&ds, &codex).await;
    let token = current_token(&home, "dev").await;

    let mut p = Proc::spawn(
        "lakepass launch codex",
        home.lakepass(&["launch", "codex", "-w", "dev", "--", "exec", "--skip-git-repo-check", PROMPT]),
    );
    p.close_stdin();
    let out = p.wait(TURN_TIMEOUT).await.success();
    assert!(out.stdout.contains("pong"), "{out:?}");
    assert_eq!(seen_on(&ds, "dev", RESPONSES_PATH), [fingerprint(&token)], "Codex sent the current token");
    assert!(!out.stderr.contains(&token) && !out.stdout.contains(&token), "no token printed");

    // Nothing of Lakepass's was written into the user's Codex folder (the provider is `-c` only).
    // (Codex itself may create the file.)
    let codex_config = home.home().join(".codex").join("config.toml");
    let text = std::fs::read_to_string(&codex_config).unwrap_or_default();
    assert!(!text.contains("lakepass"), "{text}");

    // `--write-settings` puts the provider into the user's own config (keeping what is there),
    // so a plain `codex`, started without Lakepass, reaches the gateway with a fresh token too.
    std::fs::write(&codex_config, "# my own settings\n").expect("write the user's codex config");
    let mut p = Proc::spawn(
        "lakepass launch codex --write-settings",
        home.lakepass(&[
            "launch",
            "codex",
            "-w",
            "dev",
            "--write-settings",
            "--",
            "exec",
            "--skip-git-repo-check",
            PROMPT,
        ]),
    );
    p.close_stdin();
    p.wait(TURN_TIMEOUT).await.success();
    let text = std::fs::read_to_string(&codex_config).expect("the user's codex config");
    assert!(text.contains("# my own settings\n"), "{text}");
    assert!(
        text.contains("[model_providers.lakepass-dev]") && text.contains("model_provider = \"lakepass-dev\""),
        "{text}"
    );
    assert!(!text.contains(&token), "no token in the user's config");
    let mut plain = home.command(&codex);
    plain.args(["exec", "--skip-git-repo-check", PROMPT]);
    let mut p = Proc::spawn("codex exec", plain);
    p.close_stdin();
    let out = p.wait(TURN_TIMEOUT).await.success();
    assert!(out.stdout.contains("pong"), "a plain codex answers: {out:?}");

    // `--list` finds it where the config says, with its version.
    let out = home.run(&["launch", "--list"]).await.success();
    let line = out.stdout.lines().find(|l| l.trim_start().starts_with("codex")).expect("a codex line");
    assert!(line.contains(&codex.display().to_string()) && line.contains("0.169.0"), "{out:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_codex_process_answers_across_two_token_lifetimes() {
    let Some(codex) = peer_bin("codex", "@openai/codex") else { return };
    let ds = start_devstack(Duration::from_secs(60)).await;
    let home = home_with_codex(&ds, &codex).await;
    let mut cmd = home.lakepass(&["launch", "codex", "-w", "dev", "--", "app-server"]);
    cmd.current_dir(home.root());
    let mut agent = JsonLines::spawn("codex app-server", cmd);
    let mut seen = Vec::new();
    agent.send(json!({"id": 1, "method": "initialize", "params": {"clientInfo": {"name": "lakepass-e2e", "version": "1"}}})).await;
    agent.until(&mut seen, |m| (m["id"] == 1).then_some(())).await;
    agent.send(json!({"method": "initialized", "params": {}})).await;
    agent.send(json!({"id": 2, "method": "thread/start", "params": {}})).await;
    let thread =
        agent.until(&mut seen, |m| (m["id"] == 2).then(|| m["result"]["thread"]["id"].clone())).await;

    let ask = async |agent: &mut JsonLines, id: u64| -> String {
        let mut seen = Vec::new();
        agent
            .send(json!({"id": id, "method": "turn/start",
                "params": {"threadId": thread, "input": [{"type": "text", "text": PROMPT}]}}))
            .await;
        agent.until(&mut seen, |m| (m["method"] == "turn/completed").then_some(())).await;
        seen.iter()
            .filter(|m| m["method"] == "item/completed" && m["params"]["item"]["type"] == "agentMessage")
            .filter_map(|m| m["params"]["item"]["text"].as_str().map(String::from))
            .collect()
    };

    let first = current_token(&home, "dev").await;
    assert!(ask(&mut agent, 3).await.contains("pong"));
    assert_eq!(seen_on(&ds, "dev", RESPONSES_PATH), [fingerprint(&first)]);

    // One token lifetime later the first token is dead at the workspace; the same process asks
    // again and gets through with a new one (its auth command, run again).
    until_expired(&ds, "dev", &first).await;
    assert!(ask(&mut agent, 4).await.contains("pong"), "the second answer arrived");
    let seen = seen_on(&ds, "dev", RESPONSES_PATH);
    assert!(seen.len() >= 2 && seen[0] == fingerprint(&first), "a second, different token: {seen:?}");
    agent.stop().await;
}
