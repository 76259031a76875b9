//! Claude Code against the devstack's Anthropic endpoints, launched exactly as
//! `lakepass launch claude` launches it.
//!
//! First without Claude Code: what the launch hands over (the gateway environment and the
//! `apiKeyHelper` command) is replayed by hand, streaming and not, against both endpoint shapes
//! (`/ai-gateway/anthropic` and `/serving-endpoints/anthropic`), with the token where Databricks
//! reads it (`Authorization: Bearer`; `x-api-key` alone is refused). Then the real thing (npm
//! `@anthropic-ai/claude-code`, installed by scripts/ci-deps.sh): `claude -p` must answer, its
//! requests must carry the workspace's current token in `Authorization` (the devstack records
//! only that header), and after a rotation the new one — the whole point of the helper, since a
//! token handed over once dies within the hour.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use lakepass_tests::*;

use crate::launch::{recorded, recorder};

/// Each `claude -p` run's bound: a token refused every time makes Claude Code retry for minutes.
pub(crate) const CLAUDE_TIMEOUT: Duration = Duration::from_secs(120);
/// What Claude Code needs to run offline against a local server (TESTING.md).
pub(crate) const OFFLINE_ENV: [(&str, &str); 3] = [
    ("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1"),
    ("DISABLE_TELEMETRY", "1"),
    ("DISABLE_ERROR_REPORTING", "1"),
];

/// The native Claude Code program from tests/peers, if installed and runnable; else `None`
/// after printing "skipped" — or a panic when `CI` is set. npm 11 skips the wrapper's
/// postinstall, so the platform package's `claude` is what runs (TESTING.md).
pub(crate) fn claude_peer() -> Option<PathBuf> {
    let base = peers_dir().join("node_modules").join("@anthropic-ai");
    let arch = match std::env::consts::ARCH {
        "x86_64" => "x64",
        "aarch64" => "arm64",
        other => other,
    };
    let candidates = [
        base.join(format!("claude-code-linux-{arch}")).join("claude"),
        base.join("claude-code/bin/claude.exe"),
    ];
    for c in &candidates {
        let runs = std::process::Command::new(c)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success() && String::from_utf8_lossy(&o.stdout).contains("Claude Code"));
        if runs {
            return Some(c.clone());
        }
    }
    let msg = format!(
        "Claude Code (npm @anthropic-ai/claude-code) is not installed or does not run ({} missing): run scripts/ci-deps.sh",
        candidates[0].display()
    );
    assert!(may_skip(&msg));
    None
}

async fn token(home: &TempHome, ws: &str) -> String {
    home.run(&["token", "--raw", "-w", ws]).await.success().stdout.trim().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_launch_claude_hands_over_reaches_both_devstack_endpoint_shapes() {
    let ds = start_devstack(Duration::from_secs(3600)).await;
    let home = TempHome::new();
    let fake = home.root().join("fakebin").join("claude");
    home.write_config(&format!(
        "claude_path = '''{}'''\n{}\n[claude.prod]\nbase_path = \"/serving-endpoints/anthropic\"\n\
         headers = [\"x-databricks-use-coding-agent-mode: true\", \"x-lakepass-test: yes\"]\n",
        fake.display(),
        devstack_config(&ds)
    ));
    home.login(&[]).await;
    for (ws, path) in [("dev", "/ai-gateway/anthropic"), ("prod", "/serving-endpoints/anthropic")] {
        let out = home.root().join(format!("claude-{ws}"));
        recorder(&fake, &out, "exit 0");
        home.run(&["launch", "claude", "-w", ws]).await.success();
        let rec = recorded(&out, "the fake claude").await;
        let base = &rec.env["ANTHROPIC_BASE_URL"];
        // Claude Code strips a `[1m]` suffix from a model id before sending it (its binary:
        // `e.replace(/\[1m\]/gi,"")`); the replay does the same.
        let model = |family: &str| rec.env[&format!("ANTHROPIC_DEFAULT_{family}_MODEL")].replace("[1m]", "");
        assert_eq!(base, &format!("{}{path}", ws_host(&ds, ws)));
        let settings: serde_json::Value = serde_json::from_str(&rec.argv[1]).expect("settings JSON");
        // Run the helper as Claude Code does: `/bin/sh -c`, in the environment it was given.
        let mut sh = tokio::process::Command::new("/bin/sh");
        sh.arg("-c").arg(settings["apiKeyHelper"].as_str().expect("helper")).env_clear().envs(&rec.env);
        let mut p = Proc::spawn("apiKeyHelper", sh);
        p.close_stdin();
        let key = p.wait(COMMAND_TIMEOUT).await.success().stdout.trim().to_string();
        assert!(key == token(&home, ws).await, "the helper prints the workspace's current token");

        // The token only in `x-api-key` is refused: Databricks reads `Authorization: Bearer`.
        let before = ds.stats().workspaces[ws].clone();
        let resp = http()
            .post(format!("{base}/v1/messages"))
            .header("x-api-key", &key)
            .header("anthropic-version", "2023-06-01")
            .json(&serde_json::json!({"model": model("SONNET"), "max_tokens": 16,
                "messages": [{"role": "user", "content": "say pong"}]}))
            .send()
            .await
            .expect("messages request");
        assert_eq!(resp.status().as_u16(), 401, "{ws}: x-api-key is not a Databricks credential");
        assert!(!ds.stats().workspaces[ws].messages_token_fingerprints.contains(&fingerprint(&key)));
        assert_eq!(ds.stats().workspaces[ws].api_calls_unauthorized, before.api_calls_unauthorized + 1);

        for stream in [false, true] {
            let mut req = http()
                .post(format!("{base}/v1/messages?beta=true"))
                .bearer_auth(&key)
                .header("anthropic-version", "2023-06-01");
            for line in rec.env["ANTHROPIC_CUSTOM_HEADERS"].lines() {
                let (name, value) = line.split_once(':').expect("name: value");
                req = req.header(name.trim(), value.trim());
            }
            let body = serde_json::json!({
                "model": model("SONNET"),
                "max_tokens": 16,
                "stream": stream,
                "messages": [{"role": "user", "content": "say pong"}],
            });
            let resp = req.json(&body).send().await.expect("messages request");
            let status = resp.status().as_u16();
            let text = resp.text().await.unwrap_or_default();
            assert_eq!(status, 200, "{ws} stream={stream}: {}", redact(&text));
            if stream {
                assert!(text.contains("event: message_stop") && text.contains("\"pong\""), "{text}");
            } else {
                let v: serde_json::Value = serde_json::from_str(&text).expect("JSON reply");
                assert_eq!(v["content"][0]["text"], "pong", "{v}");
                assert_eq!(v["model"], model("SONNET").as_str());
            }
        }
        // Every pinned model is one the workspace serves (a name it does not is a 404).
        for family in ["OPUS", "SONNET", "HAIKU"] {
            let id = model(family);
            let resp = http()
                .post(format!("{base}/v1/messages"))
                .bearer_auth(&key)
                .json(&serde_json::json!({"model": id, "max_tokens": 8,
                    "messages": [{"role": "user", "content": "hi"}]}))
                .send()
                .await
                .expect("messages request");
            assert_eq!(resp.status().as_u16(), 200, "{ws} {family} {id}");
        }
    }
}

async fn claude_says_pong(home: &TempHome) -> (serde_json::Value, Duration) {
    let started = Instant::now();
    let out = home
        .run_timeout(
            &["launch", "claude", "-w", "dev", "--", "-p", "say pong", "--output-format", "json"],
            CLAUDE_TIMEOUT,
        )
        .await
        .success();
    // The real Claude Code is new enough for everything the launch uses.
    assert!(
        !out.stderr.contains("warning: Claude Code")
            && !out.stderr.contains("could not read Claude Code's version"),
        "{out:?}"
    );
    let v = out.json();
    assert_eq!(v["is_error"], false, "{out:?}");
    assert!(v["result"].as_str().is_some_and(|r| r.contains("pong")), "{out:?}");
    (v, started.elapsed())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_claude_code_sends_the_current_token_and_the_new_one_after_a_rotation() {
    let Some(claude) = claude_peer() else { return };
    let ds = start_devstack(Duration::from_secs(3600)).await;
    let mut home = TempHome::new();
    home.write_config(&format!("claude_path = '''{}'''\n{}", claude.display(), devstack_config(&ds)));
    home.login(&[]).await;
    for (k, v) in OFFLINE_ENV {
        home.set_env(k, v);
    }

    let first = token(&home, "dev").await;
    let before = ds.stats().workspaces["dev"].clone();
    let (_, took) = claude_says_pong(&home).await;
    let after = ds.stats().workspaces["dev"].clone();
    assert!(after.api_calls_ok > before.api_calls_ok, "Claude Code called the workspace: {after:?}");
    assert_eq!(after.api_calls_unauthorized, before.api_calls_unauthorized, "no request was refused");
    // Only Claude Code sends Messages requests (the launch itself only lists models), and the
    // devstack reads the token from `Authorization` alone: so that header carried it.
    assert_eq!(
        after.messages_token_fingerprints,
        [fingerprint(&first)],
        "Claude Code sent the current token as Authorization: Bearer"
    );
    eprintln!("claude -p (first run) took {took:?}");

    // Rotate: a forced exchange; the next Claude Code request must carry the new token.
    home.run(&["refresh", "-w", "dev"]).await.success();
    let second = token(&home, "dev").await;
    assert!(second != first, "refresh gave a new token");
    let (_, took) = claude_says_pong(&home).await;
    let last = ds.stats().workspaces["dev"].clone();
    assert_eq!(
        last.messages_token_fingerprints,
        [fingerprint(&first), fingerprint(&second)],
        "it sent the rotated token"
    );
    assert!(last.api_calls_ok > after.api_calls_ok);
    assert_eq!(last.api_calls_unauthorized, before.api_calls_unauthorized);
    eprintln!("claude -p (after rotation) took {took:?}");

    // Claude Code's own list of its tools (the `init` event of stream-json output), deferred
    // ones included: WebSearch is not among them, because the launch denied it (it is there
    // without the deny; 2.1.x defers it behind ToolSearch, so the Messages request alone would
    // not show it).
    let out = home
        .run_timeout(
            &[
                "launch",
                "claude",
                "-w",
                "dev",
                "--",
                "-p",
                "say pong",
                "--output-format",
                "stream-json",
                "--verbose",
            ],
            CLAUDE_TIMEOUT,
        )
        .await
        .success();
    let init: serde_json::Value = out
        .stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["type"] == "system" && v["subtype"] == "init")
        .expect("an init event");
    let tools: Vec<&str> =
        init["tools"].as_array().expect("tools").iter().filter_map(|t| t.as_str()).collect();
    assert!(tools.contains(&"Bash") && !tools.contains(&"WebSearch"), "{tools:?}");
}
