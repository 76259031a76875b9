//! The host against an in-process devstack: sign-in, live view, config edits that rebuild the
//! engine, forced refresh, launches through a fake, and a start with no config at all. No
//! display, no tray host, no notification server: this is also the headless-start check.

use lakepass_engine::ErrorKind;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use lakepass_config::{ConfigDoc, IdpConfig, WorkspaceConfig};
use lakepass_devstack::{Devstack, DevstackOptions};
use lakepass_engine::engine::EngineOptions;
use lakepass_engine::status::TokenState;
use lakepass_store::Paths;
use lakepass_store::vault::VaultKind;

use super::*;
use crate::platform::Launcher;
use lakepass_launch::{LaunchError, LaunchPlan};

/// Records the plans the host made instead of opening windows.
#[derive(Default)]
struct FakeLauncher {
    calls: Mutex<Vec<String>>,
    plans: Mutex<Vec<LaunchPlan>>,
    fail: bool,
}

impl Launcher for FakeLauncher {
    fn carry_out(&self, plan: &LaunchPlan, _: &Paths, _: std::time::Instant) -> Result<String, LaunchError> {
        self.calls.lock().unwrap().push(format!("{} {}", plan.agent.as_str(), plan.workspace));
        self.plans.lock().unwrap().push(plan.clone());
        if self.fail {
            let source = std::io::Error::other("no terminal emulator found");
            return Err(LaunchError::Spawn { program: "x-terminal-emulator".into(), source });
        }
        Ok("fake-term".into())
    }
}

/// A stand-in `claude` and terminal, for the host to plan with (named in the config).
fn fake_programs(f: &Fixture) -> std::path::PathBuf {
    let bin = f._dir.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    for name in ["claude", "xterm"] {
        let p = bin.join(name);
        std::fs::write(&p, "#!/bin/sh\nexit 0\n").unwrap();
        #[cfg(unix)]
        std::fs::set_permissions(
            &p,
            <std::fs::Permissions as std::os::unix::fs::PermissionsExt>::from_mode(0o755),
        )
        .unwrap();
    }
    let text = std::fs::read_to_string(&f.paths.config).unwrap();
    let extra = format!(
        "claude_path = '''{}'''\nterminal = '''{}'''\nlaunch_dir = '''{}'''\n",
        bin.join("claude").display(),
        bin.join("xterm").display(),
        f._dir.path().display()
    );
    std::fs::write(&f.paths.config, format!("{extra}{text}")).unwrap();
    bin
}

/// Plays the browser: follows the sign-in URL (the devstack auto-approves).
fn browser() -> OpenUrl {
    Arc::new(|url: &url::Url| {
        let url = url.clone();
        tokio::spawn(async move {
            let r = reqwest::get(url).await.expect("sign-in page");
            assert!(r.status().is_success(), "{}", r.status());
        });
        Ok(())
    })
}

pub(crate) struct Fixture {
    pub(crate) ds: Devstack,
    pub(crate) _dir: tempfile::TempDir,
    pub(crate) paths: Paths,
    launcher: Arc<FakeLauncher>,
}

pub(crate) async fn fixture(ttl: u64) -> Fixture {
    let ds = lakepass_devstack::start(DevstackOptions {
        auto_approve: Some("ada@example.com".into()),
        idp_token_ttl: Duration::from_secs(ttl),
        workspace_token_ttl: Duration::from_secs(ttl),
        ..Default::default()
    })
    .await
    .expect("devstack");
    let dir = tempfile::tempdir().unwrap();
    let paths = Paths::under(dir.path());
    let info = ds.info();
    let mut doc = ConfigDoc::default();
    doc.add_idp("devstack", &IdpConfig::new(info.issuer.clone(), info.client_id.clone()), false).unwrap();
    for w in &info.workspaces {
        doc.add_workspace(&w.name, &WorkspaceConfig::new("devstack", w.host.clone()), false).unwrap();
    }
    doc.save(&paths.config).unwrap();
    Fixture { ds, _dir: dir, paths, launcher: Arc::new(FakeLauncher::default()) }
}

impl Fixture {
    pub(crate) async fn host(&self) -> Arc<Host> {
        let opts = HostOptions {
            open_url: browser(),
            launcher: self.launcher.clone(),
            engine: EngineOptions {
                retry_base: Duration::from_secs(1),
                cli_helper_path: Some("/opt/lakepass/bin/lakepass".into()),
                ..Default::default()
            },
            vault_kind: Some(VaultKind::File),
            sign_in_timeout: Duration::from_secs(20),
            sinks: false,
        };
        Host::start(self.paths.clone(), opts).await
    }
}

/// Waits (bounded) until the published view satisfies `ok`.
pub(crate) async fn until(host: &Host, what: &str, ok: impl Fn(&AppView) -> bool) -> AppView {
    let mut rx = host.subscribe();
    let wait = async {
        loop {
            let v = rx.borrow_and_update().clone();
            if ok(&v) {
                return v;
            }
            rx.changed().await.expect("host alive");
        }
    };
    tokio::time::timeout(Duration::from_secs(20), wait)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}: {:#?}", host.view()))
}

pub(crate) fn state(v: &AppView, ws: &str) -> TokenState {
    v.workspaces.iter().find(|w| w.name == ws).unwrap_or_else(|| panic!("no {ws}")).state
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signs_in_then_both_workspaces_are_fresh_in_the_view() {
    let f = fixture(3600).await;
    let host = f.host().await;
    let v = host.view();
    assert_eq!(state(&v, "dev"), TokenState::NeedsLogin);
    assert!(!v.idps[0].signed_in);
    assert_eq!(v.active.as_deref(), Some("dev"), "the first workspace added is active");
    host.sign_in("devstack").await.expect("sign-in");
    let v = until(&host, "both fresh", |v| {
        state(v, "dev") == TokenState::Fresh && state(v, "prod") == TokenState::Fresh
    })
    .await;
    assert!(v.idps[0].signed_in && !v.idps[0].signing_in);
    assert!(v.workspaces.iter().all(|w| w.expires_at.is_some() && w.hint.is_none()));
    assert!(host.events().iter().any(|e| e.text == "Signed in to devstack as ada@example.com"));
    // Nothing secret reaches the view or the events.
    let dev = host.engine().unwrap();
    let token = dev.token(&dev.workspaces()[0]).await.unwrap();
    let all = format!("{:?}{:?}", host.view(), host.events());
    assert!(!all.contains(token.access_token.secret()));
    assert_eq!(f.ds.stats().workspaces["dev"].exchanges_ok, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fetched_mcp_token_shows_under_its_workspace_with_its_scope_and_expiry() {
    let f = fixture(3600).await;
    let mut text = std::fs::read_to_string(&f.paths.config).unwrap();
    text.push_str(&format!("\n[mcp.dev]\ngenie = [\"{}\"]\n", lakepass_devstack::GENIE_SPACE));
    std::fs::write(&f.paths.config, text).unwrap();
    let host = f.host().await;
    let mcp = |v: &AppView, ws: &str| v.workspaces.iter().find(|w| w.name == ws).unwrap().mcp.clone();
    let before = mcp(&host.view(), "dev");
    assert_eq!(before.iter().map(|m| m.scope.as_str()).collect::<Vec<_>>(), ["sql", "genie"]);
    assert!(before.iter().all(|m| m.expires_at.is_none()), "nothing exchanged yet: {before:?}");
    assert!(mcp(&host.view(), "prod").is_empty(), "prod has no [mcp.prod] table");
    host.sign_in("devstack").await.expect("sign-in");
    // What Claude Code's headersHelper makes the engine do: exchange the SQL server's token.
    let engine = host.engine().unwrap();
    let ws = engine.workspace_named("dev").unwrap().clone();
    let token = engine.scoped_token(&ws, lakepass_engine::mcp::McpScope::Sql).await.unwrap();
    // The engine announces no snapshot for it: the host's poll picks it up.
    let v = until(&host, "the SQL token in the view", |v| {
        mcp(v, "dev").first().is_some_and(|m| m.state == TokenState::Fresh)
    })
    .await;
    let sql = &mcp(&v, "dev")[0];
    assert_eq!(sql.servers, ["databricks-sql"]);
    assert_eq!(sql.expires_at, Some(token.expires_at));
    assert!(sql.last_error.is_none());
    assert_eq!(mcp(&v, "dev")[1].expires_at, None, "genie is asked for separately");
    assert!(!format!("{v:?}").contains(token.access_token.secret()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adding_a_workspace_rebuilds_the_engine_and_it_gets_a_token() {
    let f = fixture(3600).await;
    let host = f.host().await;
    host.sign_in("devstack").await.unwrap();
    let dev_host = f.ds.info().workspaces[0].host.clone();
    let form = WorkspaceForm {
        idp: "devstack".into(),
        host: dev_host,
        scopes: vec!["sql".into(), "model-serving".into()],
        token: None,
        client_id: None,
        profile: Some("third-profile".into()),
    };
    host.save_workspace("third", &form, false).await.expect("saved");
    let v =
        until(&host, "third fresh", |v| v.workspaces.len() == 3 && state(v, "third") == TokenState::Fresh)
            .await;
    assert_eq!(v.workspaces.iter().find(|w| w.name == "third").unwrap().scopes, vec!["sql", "model-serving"]);
    let text = std::fs::read_to_string(&f.paths.config).unwrap();
    assert!(text.contains("[workspace.third]") && text.contains("third-profile"), "{text}");
    // Removing it rebuilds again.
    host.remove_workspace("third").await.unwrap();
    assert_eq!(host.view().workspaces.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_edits_are_refused_with_the_field_and_nothing_is_written() {
    let f = fixture(3600).await;
    let host = f.host().await;
    let before = std::fs::read_to_string(&f.paths.config).unwrap();
    let form = WorkspaceForm {
        idp: "devstack".into(),
        host: "http://example.com".into(),
        scopes: vec![],
        token: None,
        client_id: None,
        profile: None,
    };
    let e = host.save_workspace("bad", &form, false).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Invalid);
    assert_eq!(e.field.as_deref(), Some("workspace.bad.host"), "{e:?}");
    let dup = WorkspaceForm {
        profile: Some("dev".into()),
        host: "https://x.cloud.databricks.com".into(),
        ..form.clone()
    };
    let e = host.save_workspace("other", &dup, false).await.unwrap_err();
    assert_eq!(e.field.as_deref(), Some("workspace.other.profile"), "{e:?}");
    let e = host
        .save_workspace(
            "dev",
            &WorkspaceForm { host: "https://x.cloud.databricks.com".into(), ..form.clone() },
            false,
        )
        .await
        .unwrap_err();
    assert!(e.message.contains("already exists"), "{e:?}");
    let e = host.remove_idp("devstack").await.unwrap_err();
    assert!(e.message.contains("used by workspace"), "{e:?}");
    let e = host
        .save_idp(
            "x",
            &IdpForm {
                issuer: "not a url".into(),
                client_id: "c".into(),
                scopes: vec![],
                redirect_port: None,
            },
            false,
        )
        .await
        .unwrap_err();
    assert_eq!(e.field.as_deref(), Some("idp.x.issuer"));
    assert_eq!(std::fs::read_to_string(&f.paths.config).unwrap(), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn switching_workspace_is_saved_for_the_cli_and_refresh_now_mints_new_tokens() {
    let f = fixture(3600).await;
    let host = f.host().await;
    host.sign_in("devstack").await.unwrap();
    let first = until(&host, "fresh", |v| state(v, "prod") == TokenState::Fresh).await;
    host.set_active("prod").unwrap();
    assert_eq!(host.view().active.as_deref(), Some("prod"));
    let config = lakepass_config::Config::load(&f.paths.config).unwrap();
    assert_eq!(config.active.as_deref(), Some("prod"));
    assert!(host.set_active("nope").is_err());
    let token = |f: &Fixture| {
        let cfg = std::fs::read_to_string(&f.paths.databrickscfg).unwrap();
        let prod = lakepass_store::databrickscfg::read_profile(&cfg, "prod").unwrap().unwrap();
        prod.into_iter().find(|(k, _)| k == "token").map(|(_, v)| v).unwrap()
    };
    let before = token(&f);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    host.refresh_now().await.unwrap();
    let later = host.view();
    // A new token was minted and written. (Its expiry may not be later than the first one's:
    // an exchanged token never outlives the IdP JWT it came from, which is the same JWT here.)
    assert_ne!(token(&f), before, "refresh now should mint a new token");
    let exp = |v: &AppView| v.workspaces[1].expires_at.unwrap();
    assert!(exp(&later) >= exp(&first) - 2, "{} vs {}", exp(&later), exp(&first));
    assert_eq!(f.ds.stats().workspaces["prod"].exchanges_ok, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_engine_keeps_tokens_fresh_with_no_front_end_at_all() {
    let f = fixture(6).await;
    let host = f.host().await;
    host.sign_in("devstack").await.unwrap();
    let first = until(&host, "fresh", |v| state(v, "dev") == TokenState::Fresh).await;
    let exp0 = first.workspaces[0].expires_at.unwrap();
    let v =
        until(&host, "a background refresh", |v| v.workspaces[0].expires_at.is_some_and(|e| e > exp0)).await;
    assert!(matches!(state(&v, "dev"), TokenState::Fresh | TokenState::Expiring | TokenState::Refreshing));
    assert!(host.events().iter().any(|e| e.text.starts_with("New token")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_out_then_launches_go_through_the_launcher() {
    let f = fixture(3600).await;
    let bin = fake_programs(&f);
    let host = f.host().await;
    host.sign_in("devstack").await.unwrap();
    // The view offers the configured Claude Code first and the terminal last (whatever else
    // this machine's PATH has between them).
    let agents: Vec<String> = host.view().agents.iter().map(|a| a.name.clone()).collect();
    assert_eq!((agents.first().unwrap().as_str(), agents.last().unwrap().as_str()), ("claude", "terminal"));
    host.launch(Agent::Claude, None).await.unwrap();
    host.launch(Agent::Terminal, Some("prod")).await.unwrap();
    assert_eq!(*f.launcher.calls.lock().unwrap(), vec!["claude dev", "terminal prod"]);
    // Planned here, once, with the host's engine: the gateway, the helper naming the bundled
    // CLI, and a terminal that will run that CLI on the plan.
    let plans = f.launcher.plans.lock().unwrap().clone();
    let claude = &plans[0];
    assert_eq!(claude.program.as_deref(), Some(bin.join("claude").as_path()));
    assert!(claude.env.get("ANTHROPIC_BASE_URL").unwrap().ends_with("/ai-gateway/anthropic"), "{claude:?}");
    assert!(claude.args.iter().any(|a| a.contains("'/opt/lakepass/bin/lakepass'")), "{:?}", claude.args);
    assert_eq!(claude.terminal.as_ref().unwrap().program, bin.join("xterm").to_string_lossy());
    assert!(claude.env.secrets.is_empty());
    let terminal = &plans[1];
    assert_eq!(terminal.program, None, "the terminal runs the user's shell");
    assert_eq!(terminal.env.get("DATABRICKS_CONFIG_PROFILE"), Some("prod-live"));
    host.sign_out("devstack").await.unwrap();
    let v = host.view();
    assert!(!v.idps[0].signed_in);
    assert_eq!(state(&v, "dev"), TokenState::NeedsLogin);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_launch_is_an_error_and_an_event() {
    let mut f = fixture(3600).await;
    f.launcher = Arc::new(FakeLauncher { fail: true, ..Default::default() });
    fake_programs(&f);
    let host = f.host().await;
    host.sign_in("devstack").await.unwrap();
    let e = host.launch(Agent::Claude, Some("dev")).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Launch);
    assert!(host.events()[0].text.contains("no terminal emulator found"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_launch_before_sign_in_fails_as_needs_login_and_opens_nothing() {
    let f = fixture(3600).await;
    fake_programs(&f);
    let host = f.host().await;
    let e = host.launch(Agent::Claude, Some("dev")).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::NeedsLogin, "{e:?}");
    assert!(e.message.contains("cannot launch Claude Code for workspace `dev`"), "{e:?}");
    assert!(f.launcher.calls.lock().unwrap().is_empty(), "nothing was opened");
    assert!(host.events()[0].text.starts_with("Could not launch Claude Code"));
    // The tray's notice offers the sign-in, not "could not launch".
    let n = crate::notices::launch_failed("launch Claude Code", "dev", e.kind, &e.message);
    assert_eq!(n.summary, "Sign in to launch Claude Code for dev");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_config_yet_is_a_view_not_a_crash_and_the_first_idp_fixes_it() {
    let dir = tempfile::tempdir().unwrap();
    let paths = Paths::under(dir.path());
    let opts = HostOptions {
        open_url: browser(),
        launcher: Arc::new(FakeLauncher::default()),
        engine: EngineOptions::default(),
        vault_kind: Some(VaultKind::File),
        sign_in_timeout: Duration::from_secs(5),
        sinks: false,
    };
    let host = Host::start(paths.clone(), opts).await;
    let v = host.view();
    assert!(v.config_error.as_deref().unwrap().contains("no Lakepass config"), "{v:?}");
    assert_eq!(host.sign_in("x").await.unwrap_err().kind, ErrorKind::Config);
    host.save_idp(
        "corp",
        &IdpForm {
            issuer: "https://login.example.com/".into(),
            client_id: "lp".into(),
            scopes: vec![],
            redirect_port: None,
        },
        false,
    )
    .await
    .unwrap();
    let v = host.view();
    assert_eq!(v.config_error, None);
    assert_eq!(v.idps[0].issuer, "https://login.example.com/");
    assert!(v.idps[0].scopes.contains(&"offline_access".to_string()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_the_daemon_sinks_and_rebinds_them_across_rebuilds() {
    let f = fixture(3600).await;
    // Port 0: any free port, so this test cannot collide with a real daemon.
    let mut text = std::fs::read_to_string(&f.paths.config).unwrap();
    text.push_str("\n[serve]\nport = 0\n");
    std::fs::write(&f.paths.config, text).unwrap();
    let opts = HostOptions {
        open_url: browser(),
        launcher: f.launcher.clone(),
        engine: EngineOptions::default(),
        vault_kind: Some(VaultKind::File),
        sign_in_timeout: Duration::from_secs(20),
        sinks: true,
    };
    let host = Host::start(f.paths.clone(), opts).await;
    host.sign_in("devstack").await.unwrap();
    let cfg = std::fs::read_to_string(&f.paths.databrickscfg).unwrap();
    assert!(cfg.contains("[dev-live]") && cfg.contains("metadata_service_url"), "{cfg}");
    // A config edit rebuilds the engine; the socket and the service come back without a clash.
    let form = WorkspaceForm {
        idp: "devstack".into(),
        host: f.ds.info().workspaces[1].host.clone(),
        scopes: vec![],
        token: None,
        client_id: None,
        profile: Some("again".into()),
    };
    host.save_workspace("again", &form, false).await.unwrap();
    let warnings: Vec<String> =
        host.events().into_iter().filter(|e| e.level == Level::Warn).map(|e| e.text).collect();
    assert!(warnings.is_empty(), "{warnings:?}");
    host.shutdown().await;
}

/// Issue 23, H1 and M2 in the dashboard: importing a team file that replaces the IdP deletes
/// its session (it must not be sent to the new issuer), and a workspace on a host outside the
/// Databricks domains is imported only when the user ticked that host.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_replacing_the_idp_deletes_its_session_and_a_foreign_host_needs_a_tick() {
    let f = fixture(3600).await;
    let host = f.host().await;
    host.sign_in("devstack").await.expect("sign-in");
    let engine = host.engine().unwrap();
    assert!(engine.stored_session("devstack").await.unwrap().is_some());
    let old = engine.session_owner("devstack").unwrap();
    drop(engine);

    let team = "[idp.devstack]\nissuer = \"https://other-idp.example\"\nclient_id = \"c\"\n\n\
                [workspace.extra]\nidp = \"devstack\"\nhost = \"https://collector.example\"\n";
    let e = crate::onboarding::import_team(&host, "team.toml", team, true, &[]).await.unwrap_err();
    assert!(e.message.contains("`https://collector.example`, which is not a Databricks"), "{e:?}");
    let trusted = ["https://collector.example".to_string()];
    crate::onboarding::import_team(&host, "team.toml", team, true, &trusted).await.unwrap();
    let store = lakepass_engine::Store::new(
        lakepass_store::Vault::open(&f.paths.data_dir, Some(VaultKind::File)).await.unwrap(),
    );
    assert!(store.idp_session(&old).await.unwrap().found().is_none(), "the replaced IdP's session is gone");
    assert!(host.events().iter().any(|e| e.text.starts_with("Removed the sign-in session of devstack")));
    assert!(!host.view().idps[0].signed_in);
}
