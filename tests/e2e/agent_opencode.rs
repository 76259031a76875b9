//! OpenCode (npm `opencode-ai` 1.18.33, pinned in tests/peers) launched by `lakepass launch
//! opencode`: its `@ai-sdk/anthropic` provider points at a grant on the running engine's
//! authenticating proxy (no token in its config, argv or environment), which forwards to the
//! devstack's AI Gateway Messages API with the engine's token; the managed SQL MCP server comes
//! through `lakepass mcp-proxy`. `opencode run` answers "pong" and the devstack saw the
//! workspace's current token on the Messages path.

use std::time::Duration;

use lakepass_tests::*;

use crate::agent_copilot::{agent_home, current_token, peer_bin, seen_on};

/// Where the devstack counts OpenCode's model requests (the proxy forwards `<grant>/<rest>`).
const MESSAGES_PATH: &str = "/ai-gateway/anthropic/v1/messages";

/// `lakepass daemon` for `home`, running until dropped: the engine whose proxy OpenCode uses.
async fn daemon(home: &TempHome) -> Proc {
    let (mut daemon, _) = Proc::spawn_until(
        "lakepass daemon",
        home.lakepass(&["daemon"]),
        Stream::Stderr,
        Duration::from_secs(30),
        |l| l.contains("keeping").then_some(()),
    )
    .await;
    daemon.close_stdin();
    daemon
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opencode_says_pong_through_the_engines_proxy_with_the_current_token_and_no_token_at_rest() {
    let Some(opencode) = peer_bin("opencode") else { return };
    let ds = start_devstack(Duration::from_secs(3600)).await;
    let home = agent_home(&ds, "opencode", &opencode).await;
    let config = std::fs::read_to_string(home.config_path()).unwrap();
    home.write_config(&format!("{config}\n[serve]\nport = {}\n", free_port()));
    let engine = daemon(&home).await;
    let (token, _) = current_token(&home).await;

    let out = home
        .run_timeout(&["launch", "opencode", "-w", "dev", "--", "run", "say pong"], Duration::from_secs(120))
        .await
        .success();
    assert!(out.stdout.to_lowercase().contains("pong"), "{}", redact(&out.stdout));
    assert!(out.stderr.contains("local proxy"), "{}", redact(&out.stderr));
    let (requests, tokens) = seen_on(&ds, MESSAGES_PATH);
    assert!(requests >= 1, "OpenCode asked the Messages API through the proxy");
    assert_eq!(tokens, [fingerprint(&token)], "with the engine's current token");

    // The overlay holds neither a token nor the grant's key: its base URL names the variable the
    // grant arrives in when OpenCode starts (so a plan file for a new terminal holds no key
    // either); 0600.
    let overlay = home.data_dir().join("launch/opencode/dev/opencode.json");
    let text = std::fs::read_to_string(&overlay).unwrap();
    assert_eq!(mode(&overlay) & 0o777, 0o600);
    assert!(!text.contains(&token), "no token in OpenCode's config");
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let base = v["provider"]["lakepass-dev"]["options"]["baseURL"].as_str().unwrap();
    assert_eq!(base, "{env:LAKEPASS_OPENCODE_BASE_URL}");
    assert!(v["mcp"]["databricks-sql"]["command"].to_string().contains("mcp-proxy"), "{}", redact(&text));
    drop(engine);
}

/// The long session: ONE OpenCode process (`opencode serve`, started by `lakepass launch
/// opencode`) holds one proxy grant, and is asked twice (`opencode run --attach`) across two
/// token lifetimes (`--token-ttl 60`, real time: about 65 s); both requests reach the Messages
/// API, none is refused, and the second carries the engine's new token.
///
/// What it does not check: the answer's text. OpenCode 1.18.33 in server mode (its TUI, and
/// `run --attach`) shows the answer block of the devstack's "pong" without its text, whether it
/// goes through the proxy or straight to the devstack; `opencode run` alone prints it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_opencode_server_keeps_its_proxy_grant_across_two_token_lifetimes() {
    let Some(opencode) = peer_bin("opencode") else { return };
    let ds = start_devstack(Duration::from_secs(60)).await;
    let home = agent_home(&ds, "opencode", &opencode).await;
    let config = std::fs::read_to_string(home.config_path()).unwrap();
    home.write_config(&format!("{config}\n[serve]\nport = {}\n", free_port()));
    let engine = daemon(&home).await;
    let port = free_port().to_string();
    let (server, _) = Proc::spawn_until(
        "lakepass launch opencode -- serve",
        home.lakepass(&["launch", "opencode", "-w", "dev", "--", "serve", "--port", &port]),
        Stream::Stdout,
        Duration::from_secs(60),
        |l| l.contains("listening").then_some(()),
    )
    .await;
    let ask = |prompt: &'static str| {
        let mut cmd = home.command(&opencode);
        cmd.args(["run", "--attach", &format!("http://127.0.0.1:{port}"), prompt]);
        let mut p = Proc::spawn("opencode run --attach", cmd);
        p.close_stdin(); // `opencode run` reads a piped stdin as more of the message
        p.wait(Duration::from_secs(90))
    };

    ask("say pong").await.success();
    let (first_requests, first_tokens) = seen_on(&ds, MESSAGES_PATH);
    assert!(first_requests >= 1 && !first_tokens.is_empty(), "the first ask reached the Messages API");
    let (now_token, expires) = current_token(&home).await;
    assert!(first_tokens.contains(&fingerprint(&now_token)), "with the engine's token");

    // That token's lifetime ends; the same OpenCode server, the same grant, asks again.
    sleep_until_unix(expires, Duration::from_secs(2)).await;
    ask("say pong again").await.success();
    let (requests, tokens) = seen_on(&ds, MESSAGES_PATH);
    let (live, _) = current_token(&home).await;
    assert!(requests > first_requests, "the second ask reached the Messages API");
    assert!(!first_tokens.contains(&fingerprint(&live)), "the engine has a new token by now");
    assert_eq!(tokens.last(), Some(&fingerprint(&live)), "the second ask carried it");
    assert_eq!(ds.stats().workspaces["dev"].api_calls_unauthorized, 0, "no request was refused");
    drop(server);
    drop(engine);
}
