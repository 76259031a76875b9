//! The real Pi (npm `@mariozechner/pi-coding-agent`, pinned in tests/peers), launched by
//! `lakepass launch pi` against the devstack's Anthropic Messages API.
//!
//! First print mode (`pi -p`): it must answer "pong", the devstack must have seen the
//! workspace's current token on the Messages path, and the overlay the launch wrote (Pi's
//! `models.json`, 0600 in a 0700 folder) must hold the `!command` that asks Lakepass, never a
//! token. Then the long session: one Pi process in its RPC mode (JSON lines over stdio) asks
//! twice, the second time after the first token expired at the workspace (`--token-ttl 60`):
//! both answers arrive, and the devstack saw two different tokens. Pi runs the command on every
//! request, so the second request carries whatever token the engine holds then. Real time: one
//! token lifetime (about a minute).

use std::time::Duration;

use lakepass_tests::*;
use serde_json::{Value, json};

use crate::agent_codex::{JsonLines, PROMPT, TURN_TIMEOUT, current_token, peer_bin, seen_on, until_expired};

/// Where Pi's requests arrive on the devstack (AI Gateway's Anthropic path).
const MESSAGES_PATH: &str = "/ai-gateway/anthropic/v1/messages";

async fn home_with_pi(ds: &lakepass_devstack::Devstack, pi: &std::path::Path) -> TempHome {
    let home = TempHome::new();
    home.write_config(&format!("{}\n[agent.pi]\npath = '''{}'''\n", devstack_config(ds), pi.display()));
    home.login(&[]).await;
    home
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_pi_answers_through_the_messages_api_with_a_command_key() {
    let Some(pi) = peer_bin("pi", "@mariozechner/pi-coding-agent") else { return };
    let ds = start_devstack(Duration::from_secs(3600)).await;
    let home = home_with_pi(&ds, &pi).await;
    let token = current_token(&home, "dev").await;

    let mut p =
        Proc::spawn("lakepass launch pi", home.lakepass(&["launch", "pi", "-w", "dev", "--", "-p", PROMPT]));
    p.close_stdin();
    let out = p.wait(TURN_TIMEOUT).await.success();
    assert!(out.stdout.contains("pong"), "{out:?}");
    assert_eq!(seen_on(&ds, "dev", MESSAGES_PATH), [fingerprint(&token)], "Pi sent the current token");

    // The overlay: Lakepass's own folder for Pi, private, with a command where a key would be.
    let dir = home.data_dir().join("launch").join("pi").join("dev").join("agent");
    let models = std::fs::read_to_string(dir.join("models.json")).expect("models.json");
    assert!(!models.contains(&token), "no token at rest");
    let v: Value = serde_json::from_str(&models).expect("JSON");
    let key = v["providers"]["lakepass-dev"]["apiKey"].as_str().expect("apiKey");
    assert!(key.starts_with('!') && key.contains("token --raw --workspace 'dev'"), "{key}");
    #[cfg(unix)]
    {
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&dir.join("models.json")), 0o600);
        assert_eq!(mode(&dir.join("settings.json")), 0o600);
    }
    // The user's own Pi folder was not written.
    let own = home.home().join(".pi").join("agent");
    assert!(!own.join("models.json").exists());

    // `--write-settings` adds the provider to the user's own Pi folder (keeping their settings),
    // so a plain `pi`, started without Lakepass, answers through the gateway too.
    std::fs::create_dir_all(&own).expect("mkdir");
    std::fs::write(own.join("settings.json"), r#"{"theme": "dark"}"#).expect("write the user's settings");
    let mut p = Proc::spawn(
        "lakepass launch pi --write-settings",
        home.lakepass(&["launch", "pi", "-w", "dev", "--write-settings", "--", "-p", PROMPT]),
    );
    p.close_stdin();
    assert!(p.wait(TURN_TIMEOUT).await.success().stdout.contains("pong"));
    let settings: Value =
        serde_json::from_str(&std::fs::read_to_string(own.join("settings.json")).expect("settings"))
            .expect("JSON");
    assert_eq!(
        (settings["theme"].as_str(), settings["defaultProvider"].as_str()),
        (Some("dark"), Some("lakepass-dev"))
    );
    assert!(!std::fs::read_to_string(own.join("models.json")).expect("models.json").contains(&token));
    let mut plain = home.command(&pi);
    plain.args(["-p", PROMPT]);
    let mut p = Proc::spawn("pi -p", plain);
    p.close_stdin();
    let out = p.wait(TURN_TIMEOUT).await.success();
    assert!(out.stdout.contains("pong"), "a plain pi answers: {out:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_pi_process_answers_across_two_token_lifetimes() {
    let Some(pi) = peer_bin("pi", "@mariozechner/pi-coding-agent") else { return };
    let ds = start_devstack(Duration::from_secs(60)).await;
    let home = home_with_pi(&ds, &pi).await;
    let cmd = home.lakepass(&["launch", "pi", "-w", "dev", "--", "--mode", "rpc", "--no-session"]);
    let mut agent = JsonLines::spawn("pi --mode rpc", cmd);
    let ask = async |agent: &mut JsonLines, id: &str| -> String {
        let mut seen = Vec::new();
        agent.send(json!({"id": id, "type": "prompt", "message": PROMPT})).await;
        let end = agent.until(&mut seen, |m| (m["type"] == "agent_end").then(|| m.clone())).await;
        // The assistant's text in the messages of the run.
        end["messages"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|m| m["role"] == "assistant")
            .flat_map(|m| m["content"].as_array().cloned().unwrap_or_default())
            .filter_map(|c| c["text"].as_str().map(String::from))
            .collect()
    };

    let first = current_token(&home, "dev").await;
    assert!(ask(&mut agent, "1").await.contains("pong"));
    assert_eq!(seen_on(&ds, "dev", MESSAGES_PATH), [fingerprint(&first)]);

    until_expired(&ds, "dev", &first).await;
    assert!(ask(&mut agent, "2").await.contains("pong"), "the second answer arrived");
    let seen = seen_on(&ds, "dev", MESSAGES_PATH);
    assert!(seen.len() >= 2 && seen[0] == fingerprint(&first), "a second, different token: {seen:?}");
    agent.stop().await;
}
