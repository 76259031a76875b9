//! The real Databricks Python SDK (PyPI `databricks-sdk`) kept working across token rotations,
//! in one long-lived Python process, the two ways Lakepass offers:
//! - the `-live` profile, answered by `lakepass daemon`'s live token service (metadata-service
//!   protocol); the static profile also keeps working for new processes meanwhile;
//! - the `cli-helper` profile flavour (`auth_type = databricks-cli`), with NO Lakepass process
//!   running: the SDK runs `lakepass auth token` itself whenever its token expires.
//!
//! The devstack mints 8-second tokens, so the engine rotates them every ~4 s.

use std::collections::BTreeSet;
use std::time::Duration;

use lakepass_tests::*;

const TTL: Duration = Duration::from_secs(8);

struct SdkRun {
    out: Output,
    lines: Vec<serde_json::Value>,
}

impl SdkRun {
    fn summary(&self) -> &serde_json::Value {
        self.lines
            .last()
            .filter(|l| l["summary"] == true)
            .unwrap_or_else(|| panic!("no summary: {:?}", self.out))
    }

    fn fingerprints(&self) -> BTreeSet<String> {
        self.lines.iter().filter_map(|l| l["fp"].as_str().map(String::from)).collect()
    }
}

/// How long to wait for any one rotation: several token lifetimes, so that only a rotation that
/// never comes fails, not a slow machine.
const PER_ROTATION: Duration = Duration::from_secs(60);

/// Runs `sdk_live.py <profile> <rotations>` in the home's environment: one SDK client calling
/// until the token it holds has changed `rotations` times, each within [`PER_ROTATION`].
async fn sdk_live(home: &TempHome, python: &std::path::Path, profile: &str, rotations: u32) -> SdkRun {
    let mut cmd = home.command(python);
    cmd.arg(peers_dir().join("sdk_live.py"))
        .arg(profile)
        .arg(rotations.to_string())
        .arg(PER_ROTATION.as_secs().to_string());
    let mut p = Proc::spawn(format!("python sdk_live.py {profile} {rotations}"), cmd);
    p.close_stdin();
    let out = p.wait(PER_ROTATION * (rotations + 1) + Duration::from_secs(60)).await;
    let lines = out.stdout.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    SdkRun { out, lines }
}

fn config_with(ds: &Devstack, head: &str, tail: &str) -> String {
    format!("{head}{}{tail}", devstack_config(ds))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_profile_keeps_one_sdk_process_working_across_rotations() {
    let Some(python) = peer_python() else { return };
    let ds = start_devstack(TTL).await;
    let home = TempHome::new();
    let port = free_port();
    home.write_config(&config_with(&ds, "", &format!("\n[serve]\nport = {port}\n")));
    home.login(&[]).await;

    let (_daemon, line) = Proc::spawn_until(
        "lakepass daemon",
        home.lakepass(&["daemon"]),
        Stream::Stderr,
        Duration::from_secs(30),
        |l| l.contains("live token service on").then(|| l.to_string()),
    )
    .await;
    assert!(line.contains(&format!("127.0.0.1:{port}")) && line.contains("devstack-dev-live"), "{line}");
    let url = home.profile_value("devstack-dev-live", "metadata_service_url").expect("live profile written");
    assert!(url.starts_with(&format!("http://127.0.0.1:{port}/dev/")), "{}", redact(&url));
    assert_eq!(home.profile_value("devstack-dev-live", "auth_type").as_deref(), Some("metadata-service"));
    assert_eq!(home.profile_value("devstack-dev-live", "host"), Some(ws_host(&ds, "dev")));
    assert_eq!(home.profile_value("devstack-dev-live", "token"), None);

    let exchanges_before = ds.stats().workspaces["dev"].exchanges_ok;
    let run = sdk_live(&home, &python, "devstack-dev-live", 3).await;
    let summary = run.summary();
    assert_eq!(summary["failures"], 0, "every call worked: {:?}", run.out);
    assert_eq!(summary["timed_out"], false, "each rotation came: {:?}", run.out);
    assert!(run.lines.iter().filter(|l| l["ok"] == true).all(|l| l["userName"] == USER_EMAIL));
    let distinct = run.fingerprints();
    assert_eq!(distinct.len(), 4, "three rotations seen by one SDK client: {:?}", run.out);
    let stats = ds.stats();
    assert!(stats.workspaces["dev"].exchanges_ok >= exchanges_before + 3, "{:?}", stats.workspaces["dev"]);
    let seen = &stats.workspaces["dev"].seen_token_fingerprints;
    assert!(distinct.iter().all(|fp| seen.contains(fp)), "every token the SDK held came from the workspace");
    assert!(!run.out.stderr.contains("Traceback"), "{:?}", run.out);

    // Meanwhile the static profile works for each new process, whatever rotation it lands on.
    for _ in 0..3 {
        assert!(home.profile_value("devstack-dev", "token").is_some(), "static token");
        let mut cmd = home.command(&python);
        cmd.arg(peers_dir().join("sdk_me.py")).arg("devstack-dev");
        let mut p = Proc::spawn("python sdk_me.py devstack-dev", cmd);
        p.close_stdin();
        let out = p.wait(Duration::from_secs(60)).await.success();
        assert_eq!(out.json()["userName"], USER_EMAIL, "{out:?}");
        tokio::time::sleep(Duration::from_secs(4)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_helper_flavour_refreshes_through_lakepass_with_no_lakepass_process() {
    let Some(python) = peer_python() else { return };
    let ds = start_devstack(TTL).await;
    let home = TempHome::new();
    home.write_config(&config_with(&ds, "profile_flavour = \"cli-helper\"\n", ""));
    home.login(&[]).await;

    let bin = std::fs::canonicalize(lakepass_bin()).unwrap();
    // The helper profile names `lakepass`; the workspace's own profile stays a token profile,
    // which the Databricks CLI (whose `databricks-cli` auth ignores `databricks_cli_path`) reads.
    assert_eq!(home.profile_value("devstack-dev-helper", "auth_type").as_deref(), Some("databricks-cli"));
    assert_eq!(
        home.profile_value("devstack-dev-helper", "databricks_cli_path"),
        Some(bin.display().to_string())
    );
    assert_eq!(home.profile_value("devstack-dev-helper", "host"), Some(ws_host(&ds, "dev")));
    assert_eq!(home.profile_value("devstack-dev-helper", "token"), None, "no token in the helper profile");
    assert!(home.profile_value("devstack-dev", "token").is_some(), "the main profile is a token profile");

    // What the SDK runs, by hand: a version that is Lakepass's own, and the token JSON.
    let v = home.run(&["version", "--output", "json"]).await.success();
    assert_eq!(v.json()["name"], "lakepass", "{v:?}");
    assert!(!v.stdout.contains("Databricks CLI"));
    let host = ws_host(&ds, "dev");
    let t = home.run(&["auth", "token", "--host", &host]).await.success();
    let j = t.json();
    assert_eq!(j["token_type"], "Bearer", "{t:?}");
    assert!(j["access_token"].as_str().is_some_and(|s| !s.is_empty()));
    let expiry = j["expiry"].as_str().unwrap();
    assert!(
        expiry.contains('.') && (expiry.contains('+') || expiry[10..].contains('-')),
        "RFC 3339 with offset: {expiry}"
    );
    let by_profile =
        home.run(&["auth", "token", "--profile", "devstack-dev-helper", "--force-refresh"]).await.success();
    assert_eq!(by_profile.json()["access_token"], j["access_token"]);
    home.run(&["auth", "token", "--host", "https://unknown.example"]).await.code(2);

    let exchanges_before = ds.stats().workspaces["dev"].exchanges_ok;
    let run = sdk_live(&home, &python, "devstack-dev-helper", 2).await;
    assert_eq!(run.summary()["failures"], 0, "every call worked: {:?}", run.out);
    assert_eq!(run.summary()["timed_out"], false, "each rotation came: {:?}", run.out);
    let distinct = run.fingerprints();
    assert_eq!(distinct.len(), 3, "two rotations seen through `lakepass auth token`: {:?}", run.out);
    assert!(ds.stats().workspaces["dev"].exchanges_ok >= exchanges_before + 2);
    eprintln!(
        "python stderr (SDK warnings about the version probe are expected):\n{}",
        redact(&run.out.stderr)
    );
}

/// The JavaScript SDK (npm `@databricks/sdk-experimental`) through the `-live` profile, one
/// client across token rotations, against workspaces that, like real ones, have no port in
/// their URL: the devstack serves each on its own loopback address at port 443 over TLS
/// (`port_443`), so an SDK that drops or mishandles a URL's port is tested as it meets
/// Databricks. Needs root to bind port 443 (CI runs as root).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_profile_keeps_one_javascript_sdk_client_working_across_rotations_on_port_443() {
    let Some(peers) = peer_node() else { return };
    let sdk = peers.join("node_modules/@databricks/sdk-experimental/package.json");
    if !sdk.is_file()
        && may_skip(&format!("the npm peer @databricks/sdk-experimental is missing ({})", sdk.display()))
    {
        return;
    }
    if !is_root() && may_skip("binding port 443 needs root (CI runs as root)") {
        return;
    }
    let ds = lakepass_devstack::start(DevstackOptions {
        auto_approve: Some(USER_EMAIL.to_string()),
        idp_token_ttl: TTL,
        workspace_token_ttl: TTL,
        tls: true,
        port_443: true,
        ..DevstackOptions::default()
    })
    .await
    .expect("start the devstack on port 443");
    let dev = ws_host(&ds, "dev");
    assert!(dev.starts_with("https://127.") && !dev.trim_start_matches("https://").contains(':'), "{dev}");

    let (mut home, ca) = crate::tls::home_over(&ds, true);
    let port = free_port();
    let config = std::fs::read_to_string(home.config_path()).unwrap();
    home.write_config(&format!("{config}\n[serve]\nport = {port}\n"));
    home.set_env("NODE_EXTRA_CA_CERTS", ca);
    crate::tls::login(&home, &ds).await.success();
    let (_daemon, _) = Proc::spawn_until(
        "lakepass daemon",
        home.lakepass(&["daemon"]),
        Stream::Stderr,
        Duration::from_secs(30),
        |l| l.contains("live token service on").then_some(()),
    )
    .await;
    assert_eq!(home.profile_value("devstack-dev-live", "host"), Some(dev.clone()));

    let mut cmd = home.command("node");
    cmd.arg(peers.join("sdk_live.mjs"))
        .arg("devstack-dev-live")
        .arg("2")
        .arg(PER_ROTATION.as_secs().to_string());
    let mut p = Proc::spawn("node sdk_live.mjs devstack-dev-live 2", cmd);
    p.close_stdin();
    let out = p.wait(PER_ROTATION * 3 + Duration::from_secs(60)).await;
    let run =
        SdkRun { lines: out.stdout.lines().filter_map(|l| serde_json::from_str(l).ok()).collect(), out };
    assert_eq!(run.summary()["failures"], 0, "every call worked: {:?}", run.out);
    assert_eq!(run.summary()["timed_out"], false, "each rotation came: {:?}", run.out);
    assert!(run.lines.iter().filter(|l| l["ok"] == true).all(|l| l["userName"] == USER_EMAIL));
    let distinct = run.fingerprints();
    assert_eq!(distinct.len(), 3, "two rotations seen by one JavaScript SDK client: {:?}", run.out);
    let seen = &ds.stats().workspaces["dev"].seen_token_fingerprints;
    assert!(distinct.iter().all(|fp| seen.contains(fp)), "every token the SDK held came from the workspace");
}
