//! The real binary against `devstack --tls`, trusting its CA each way a company network does:
//! not at all (a named, unretried refusal), `SSL_CERT_FILE`, the system store
//! (`update-ca-certificates`), through a real HTTP CONNECT proxy (Debian's tinyproxy, as
//! `HTTPS_PROXY`), and the Python
//! SDK with `REQUESTS_CA_BUNDLE`.

use std::path::PathBuf;
use std::time::Duration;

use lakepass_devstack::{CA_NAME, ClientConfigOptions};
use lakepass_tests::*;

pub(crate) async fn tls_devstack() -> Devstack {
    lakepass_devstack::start(DevstackOptions {
        auto_approve: Some(USER_EMAIL.to_string()),
        tls: true,
        ..DevstackOptions::default()
    })
    .await
    .expect("start the TLS devstack")
}

/// Writes the devstack's CA into the home and a config pointing at the devstack; the config
/// names the CA as `ca_file` only when `ca_file` is set.
pub(crate) fn home_over(ds: &Devstack, ca_file: bool) -> (TempHome, PathBuf) {
    let home = TempHome::new();
    let ca = home.root().join("devstack-ca.pem");
    std::fs::write(&ca, ds.info().ca_pem.as_deref().expect("a CA")).unwrap();
    home.write_config(&ds.client_config(&ClientConfigOptions {
        ca_file: ca_file.then(|| ca.display().to_string()),
        ..ClientConfigOptions::like_the_cli()
    }));
    (home, ca)
}

/// `lakepass login`, with a browser that trusts the devstack's CA (the IdP's pages are HTTPS).
pub(crate) async fn login(home: &TempHome, ds: &Devstack) -> Output {
    let pending = home.start_login(&[]).await;
    let root = reqwest::Certificate::from_pem(ds.info().ca_pem.as_deref().unwrap().as_bytes()).unwrap();
    let browser = reqwest::Client::builder().no_proxy().add_root_certificate(root).build().unwrap();
    let resp = browser.get(pending.idp_url.clone()).send().await.expect("follow the sign-in URL");
    assert!(resp.status().is_success(), "callback page: HTTP {}", resp.status());
    pending.finish().await
}

fn exchanges(ds: &Devstack) -> u64 {
    ds.stats().workspaces.values().map(|w| w.exchanges_ok).sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_untrusted_ca_is_named_exit_4_and_not_retried() {
    let ds = tls_devstack().await;
    let (home, _) = home_over(&ds, false);
    let before = ds.connections().accepted;
    let out = home.run(&["login", "--no-browser", "--timeout", "20"]).await.code(4);
    assert!(out.stderr.contains(CA_NAME) && out.stderr.contains("ca_file"), "{out:?}");
    assert!(!out.stderr.contains("unreachable"), "{out:?}");
    assert_eq!(ds.connections().accepted - before, 1, "one attempt, no retries: {out:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ca_file_then_a_token_over_https() {
    let ds = tls_devstack().await;
    let (home, _) = home_over(&ds, true);
    login(&home, &ds).await.success();
    assert_eq!(exchanges(&ds), 2, "dev and prod");
    let out = home.run(&["token", "--raw", "--workspace", "dev"]).await.success();
    assert!(!out.stdout.trim().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ssl_cert_file_is_trusted() {
    let ds = tls_devstack().await;
    let (mut home, ca) = home_over(&ds, false);
    home.set_env("SSL_CERT_FILE", ca);
    login(&home, &ds).await.success();
    assert_eq!(exchanges(&ds), 2);
}

/// Removes the test CA from the system store again, whatever happens.
struct SystemCa(PathBuf);

impl Drop for SystemCa {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
        let _ = std::process::Command::new("update-ca-certificates").arg("--fresh").output();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ca_in_the_system_store_needs_no_setting() {
    let dir = std::path::Path::new("/usr/local/share/ca-certificates");
    let writable = dir.is_dir() && std::fs::metadata(dir).is_ok_and(|m| !m.permissions().readonly());
    let tool = std::process::Command::new("update-ca-certificates").arg("--help").output().is_ok();
    if !(writable && tool && is_root())
        && may_skip("needs root and update-ca-certificates to add a CA to the system store (CI runs as root)")
    {
        return;
    }
    let ds = tls_devstack().await;
    let (home, ca) = home_over(&ds, false);
    let guard = SystemCa(dir.join("lakepass-devstack-test.crt"));
    std::fs::copy(&ca, &guard.0).unwrap();
    let added = std::process::Command::new("update-ca-certificates").output().unwrap();
    assert!(added.status.success(), "{added:?}");
    login(&home, &ds).await.success();
    assert_eq!(exchanges(&ds), 2);
    drop(guard);
}

/// Debian's tinyproxy, a real HTTP CONNECT proxy, on a free loopback port in the foreground,
/// logging each request it forwards; killed on drop.
struct Tinyproxy {
    child: std::process::Child,
    url: String,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Tinyproxy {
    fn start() -> Option<Tinyproxy> {
        let path = std::env::var_os("PATH").unwrap_or_default();
        let program = std::env::split_paths(&path)
            .chain([PathBuf::from("/usr/bin"), PathBuf::from("/usr/sbin")])
            .map(|d| d.join("tinyproxy"))
            .find(|p| p.is_file());
        let Some(program) = program else {
            may_skip("tinyproxy is not installed (apt-get install tinyproxy; scripts/ci-deps.sh does)");
            return None;
        };
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let log = dir.path().join("tinyproxy.log");
        let conf = dir.path().join("tinyproxy.conf");
        // No ConnectPort line: CONNECT to any port (the devstack's are random), loopback only.
        std::fs::write(
            &conf,
            format!(
                "Port {port}\nListen 127.0.0.1\nTimeout 60\nLogFile \"{}\"\nLogLevel Info\nMaxClients 64\n\
                 Allow 127.0.0.1\nDisableViaHeader Yes\n",
                log.display()
            ),
        )
        .unwrap();
        let child = std::process::Command::new(program)
            .arg("-d")
            .arg("-c")
            .arg(&conf)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start tinyproxy");
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(std::time::Instant::now() < deadline, "tinyproxy did not listen on {port}");
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(Tinyproxy { child, url: format!("http://127.0.0.1:{port}"), log, _dir: dir })
    }

    /// The CONNECT tunnels it was asked to open, from its log.
    fn tunnels(&self) -> usize {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains("): CONNECT "))
            .count()
    }
}

impl Drop for Tinyproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_proxy_carries_every_request() {
    let ds = tls_devstack().await;
    let (mut home, _) = home_over(&ds, true);
    let Some(proxy) = Tinyproxy::start() else { return };
    // reqwest bypasses only what NO_PROXY names: loopback is not special-cased.
    home.set_env("HTTPS_PROXY", &proxy.url);
    login(&home, &ds).await.success();
    assert_eq!(exchanges(&ds), 2);
    // Discovery, JWKS, the code grant and two exchanges: each a tunnel unless a connection was reused.
    assert!(proxy.tunnels() >= 2, "the requests went through the proxy: {} tunnels", proxy.tunnels());

    // With the devstack's address in NO_PROXY, no tunnel is opened.
    let before = proxy.tunnels();
    home.set_env("NO_PROXY", "127.0.0.1");
    home.run(&["doctor", "--workspace", "dev"]).await.success();
    assert_eq!(proxy.tunnels(), before, "NO_PROXY is honoured");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_sdk_trusts_the_ca_through_requests_ca_bundle() {
    let Some(python) = peer_python() else { return };
    let ds = tls_devstack().await;
    let (home, ca) = home_over(&ds, true);
    login(&home, &ds).await.success();
    let mut cmd = home.command(&python);
    cmd.arg(peers_dir().join("sdk_me.py")).arg("devstack-dev").env("REQUESTS_CA_BUNDLE", &ca);
    let mut p = Proc::spawn("python sdk_me.py devstack-dev", cmd);
    p.close_stdin();
    let out = p.wait(Duration::from_secs(60)).await.success();
    assert_eq!(out.json()["userName"], USER_EMAIL, "{out:?}");
}

/// What a launched program is handed when the config names a `ca_file`: each CA variable,
/// unless the user set it, pointing at the CA (Node) or at a bundle of the system's roots plus
/// the CA (requests, OpenSSL), so the company CA is trusted and public hosts still are.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn launched_programs_get_the_configured_ca_unless_the_user_chose_one() {
    let ds = tls_devstack().await;
    let (mut home, ca) = home_over(&ds, true);
    login(&home, &ds).await.success();
    let out = home.root().join("exec");
    let script = format!(
        "printf '%s\\n%s\\n%s\\n' \"$NODE_EXTRA_CA_CERTS\" \"$REQUESTS_CA_BUNDLE\" \"$SSL_CERT_FILE\" > '{}'",
        out.display()
    );
    home.set_env("SSL_CERT_FILE", "/users/own/choice.pem");
    home.run(&["exec", "-w", "dev", "--", "sh", "-c", &script]).await.success();
    let seen = std::fs::read_to_string(&out).unwrap();
    let lines: Vec<&str> = seen.lines().collect();
    assert_eq!(lines[0], ca.to_str().unwrap(), "Node adds NODE_EXTRA_CA_CERTS to its own roots");
    assert_eq!(lines[2], "/users/own/choice.pem", "the user's SSL_CERT_FILE stays");
    let bundle = std::fs::read_to_string(lines[1]).expect("the bundle REQUESTS_CA_BUNDLE names");
    let ca_pem = std::fs::read_to_string(&ca).unwrap();
    assert!(bundle.contains(ca_pem.trim()), "the bundle holds the configured CA");
    if let Ok(system) = std::fs::read_to_string("/etc/ssl/certs/ca-certificates.crt") {
        let first = system.lines().nth(1).unwrap_or_default();
        assert!(bundle.contains(first), "and the system's roots, since requests replaces its own");
    }
}

/// The real Claude Code, launched by `lakepass launch claude` against the HTTPS devstack whose
/// CA only the config's `ca_file` names: it reaches the gateway because the launch passed the CA
/// on (NODE_EXTRA_CA_CERTS), with no CA variable set by the test.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_claude_code_reaches_the_https_gateway_with_the_ca_passed_on() {
    let Some(claude) = crate::claude_code::claude_peer() else { return };
    let ds = tls_devstack().await;
    let (mut home, _) = home_over(&ds, true);
    let text = std::fs::read_to_string(home.config_path()).unwrap();
    home.write_config(&format!("claude_path = '''{}'''\n{text}", claude.display()));
    login(&home, &ds).await.success();
    for (k, v) in crate::claude_code::OFFLINE_ENV {
        home.set_env(k, v);
    }
    let before = ds.stats().workspaces["dev"].clone();
    let out = home
        .run_timeout(
            &["launch", "claude", "-w", "dev", "--", "-p", "say pong", "--output-format", "json"],
            crate::claude_code::CLAUDE_TIMEOUT,
        )
        .await
        .success();
    let v = out.json();
    assert_eq!(v["is_error"], false, "{out:?}");
    assert!(v["result"].as_str().is_some_and(|r| r.contains("pong")), "{out:?}");
    let after = ds.stats().workspaces["dev"].clone();
    assert!(after.messages_token_fingerprints.len() > before.messages_token_fingerprints.len(), "{after:?}");
}

/// The real Databricks Python SDK, started by `lakepass exec` with no CA variable of its own:
/// the bundle passed on as REQUESTS_CA_BUNDLE (system roots plus `ca_file`) is what lets its
/// `requests` trust the HTTPS devstack.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_sdk_started_by_exec_trusts_the_ca_passed_on() {
    let Some(python) = peer_python() else { return };
    let ds = tls_devstack().await;
    let (home, _) = home_over(&ds, true);
    login(&home, &ds).await.success();
    let script = peers_dir().join("sdk_me.py");
    let out = home
        .run_timeout(
            &["exec", "-w", "dev", "--", python.to_str().unwrap(), script.to_str().unwrap(), "devstack-dev"],
            Duration::from_secs(60),
        )
        .await
        .success();
    assert_eq!(out.json()["userName"], USER_EMAIL, "{out:?}");
}

/// README's way, as a user types it: `lakepass devstack --tls --write-config lp.toml`, then
/// `lakepass --config lp.toml login`. The config the devstack writes must name its CA
/// (`ca_file`), or the sign-in fails on "a CA this computer does not trust"; the other TLS tests
/// write their config through a fixture, so only this one catches a `--write-config` that
/// forgets it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devstack_tls_write_config_then_login_as_the_readme_says() {
    let home = TempHome::new();
    let config = home.root().join("lp.toml");
    let config_arg = config.to_str().unwrap();
    let (_devstack, ca_pem) = Proc::spawn_until(
        "lakepass devstack --tls",
        home.lakepass(&["devstack", "--tls", "--auto-approve", USER_EMAIL, "--write-config", config_arg]),
        Stream::Stdout,
        Duration::from_secs(30),
        |line| {
            let info: serde_json::Value = serde_json::from_str(line).ok()?;
            info["ca_pem"].as_str().map(String::from)
        },
    )
    .await;
    let written = std::fs::read_to_string(&config).unwrap();
    assert!(written.contains("ca_file"), "--write-config names the CA:\n{written}");

    let pending =
        home.start_sign_in(&["--config", config_arg, "login", "--no-browser", "--timeout", "60"]).await;
    let root = reqwest::Certificate::from_pem(ca_pem.as_bytes()).unwrap();
    let browser = reqwest::Client::builder().no_proxy().add_root_certificate(root).build().unwrap();
    let resp = browser.get(pending.idp_url.clone()).send().await.expect("follow the sign-in URL");
    assert!(resp.status().is_success(), "callback page: HTTP {}", resp.status());
    pending.finish().await.success();
    let token = home.run(&["--config", config_arg, "token", "--raw", "--workspace", "dev"]).await.success();
    assert!(!token.stdout.trim().is_empty());
}
