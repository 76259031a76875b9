//! Least-privilege tokens for managed MCP servers, against a real devstack: one exchange per
//! workspace and scope however many ask at once, never the workspace's own token, shared across
//! engines through the vault, refreshed by the run loop once asked for, served over the engine
//! socket only with the scope named, and forgotten on sign-out.

use std::io::Write as _;

use lakepass_config::Workspace;
use lakepass_engine::Engine;
use lakepass_engine::ipc::{self, IpcServer, Reply, ScopedTokenRequest, TokenRequest};
use lakepass_engine::mcp::McpScope;

use crate::support::{Fixture, Setup};

/// A fixture whose `dev` workspace offers the SQL server and one Genie space.
async fn fixture(manual_clock: bool) -> Fixture {
    let f = Fixture::start(Setup { manual_clock, ..Setup::default() }).await;
    let mut file = std::fs::OpenOptions::new().append(true).open(&f.paths.config).unwrap();
    writeln!(file, "\n[mcp.dev]\ngenie = [\"{}\"]", lakepass_devstack::GENIE_SPACE).unwrap();
    f
}

fn dev(e: &Engine) -> Workspace {
    e.config().workspace(Some("dev")).unwrap()
}

fn exchanges(f: &Fixture) -> u64 {
    f.ds.stats().workspaces["dev"].exchanges_ok
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_exchange_per_scope_kept_apart_shared_refreshed_and_forgotten() {
    let f = fixture(true).await;
    let e = f.signed_in_engine().await;
    let ws = dev(&e);
    let own = e.token(&ws).await.unwrap();
    let before = exchanges(&f);

    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let (e, ws) = (e.clone(), ws.clone());
        tasks.spawn(async move { e.scoped_token(&ws, McpScope::Sql).await.unwrap() });
    }
    let mut tokens = std::collections::BTreeSet::new();
    while let Some(t) = tasks.join_next().await {
        let t = t.unwrap();
        assert_eq!(t.scope.as_deref(), Some("sql"), "the exchange asked for `sql` alone");
        tokens.insert(t.access_token.secret().to_string());
    }
    assert_eq!(tokens.len(), 1, "twenty callers, one token");
    assert_eq!(exchanges(&f), before + 1, "twenty callers, one exchange");
    let sql = tokens.into_iter().next().unwrap();
    assert_ne!(sql, own.access_token.secret(), "never the workspace's own token");
    let genie = e.scoped_token(&ws, McpScope::Genie).await.unwrap();
    assert_ne!(genie.access_token.secret(), sql.as_str());
    assert_eq!(exchanges(&f), before + 2);
    assert_eq!(
        f.file_token(&ws.profile).as_deref(),
        Some(own.access_token.secret()),
        "profiles keep the own token"
    );

    // A second engine (another process) adopts the vault's token: no exchange.
    let other = f.engine().await;
    assert_eq!(other.scoped_token(&ws, McpScope::Sql).await.unwrap().access_token.secret(), sql);
    assert_eq!(exchanges(&f), before + 2);
    let status = other.scoped_status();
    assert!(status.iter().any(|s| s.scope == McpScope::Sql && s.expires_at.is_some()), "{status:?}");

    // Asleep past the refresh time: the run loop renews the scoped tokens too.
    f.sleep_laptop(3600 - 30);
    e.tick().await;
    let renewed = f.store().await.scoped_token(&ws, McpScope::Sql).await.unwrap().unwrap();
    assert_ne!(renewed.access_token.secret(), sql.as_str(), "renewed by the run loop");
    assert!(renewed.expires_at > f.now() + 600);

    e.logout("devstack").await.unwrap();
    let store = f.store().await;
    for scope in [McpScope::Sql, McpScope::Genie] {
        assert!(store.scoped_token(&ws, scope).await.unwrap().is_none(), "{scope} forgotten on sign-out");
    }
    assert!(e.scoped_status().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_socket_answers_a_scoped_request_with_that_scope_only() {
    let f = fixture(false).await;
    let e = f.signed_in_engine().await;
    let ws = dev(&e);
    let socket = f.paths.data_dir.join("run").join(ipc::SOCKET_NAME);
    let _server = IpcServer::start(e.clone(), socket.clone()).await.unwrap();
    let req = ScopedTokenRequest { workspace: "dev".into(), host: f.host("dev"), scope: McpScope::Sql };
    let held = e.scoped_token(&ws, McpScope::Sql).await.unwrap();
    match ipc::ask_scoped(&socket, &req).await.unwrap() {
        Reply::Ok { access_token, scope, host, .. } => {
            assert_eq!(access_token.secret(), held.access_token.secret());
            assert_eq!(scope, Some(McpScope::Sql));
            assert_eq!(host, f.host("dev"));
        }
        other => panic!("expected a token, got {other:?}"),
    }
    // The plain request still gets the workspace's own token, saying no scope.
    let plain = TokenRequest { workspace: "dev".into(), host: f.host("dev") };
    match ipc::ask(&socket, &plain).await.unwrap() {
        Reply::Ok { access_token, scope: None, .. } => {
            assert_ne!(access_token.secret(), held.access_token.secret())
        }
        other => panic!("expected the own token, got {other:?}"),
    }
    let wrong_host = ScopedTokenRequest { host: f.host("prod"), ..req };
    assert!(matches!(ipc::ask_scoped(&socket, &wrong_host).await.unwrap(), Reply::Error { .. }));
}

/// An MCP token takes the same path as the workspace's own (the generic `token_for` and the
/// named `scoped_token` are one call), but the hand-off gives it to no sink: no profile, no
/// state-file entry, no change to the published workspace view.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_mcp_token_takes_the_one_token_path_but_reaches_no_sink() {
    use lakepass_engine::engine::TokenScope;

    let f = fixture(false).await;
    let e = f.signed_in_engine().await;
    let ws = dev(&e);
    let profiles_before = std::fs::read(&f.paths.databrickscfg).unwrap();
    let state_before = std::fs::read(f.paths.state_file()).ok();
    let view_before = e.snapshot().workspaces;

    let first = e.token_for(&ws, TokenScope::Mcp(McpScope::Sql)).await.unwrap();
    assert_eq!(
        e.scoped_token(&ws, McpScope::Sql).await.unwrap().access_token,
        first.access_token,
        "one cache"
    );
    let forced = e.refresh_scoped(&ws, McpScope::Sql, true).await.unwrap();
    assert_ne!(forced.access_token, first.access_token, "a forced refresh exchanges anew");
    assert_eq!(e.live_scoped_token(&ws, McpScope::Sql).await.unwrap().access_token, forced.access_token);

    assert_eq!(std::fs::read(&f.paths.databrickscfg).unwrap(), profiles_before, "no profile holds it");
    assert_eq!(std::fs::read(f.paths.state_file()).ok(), state_before, "no state-file entry for it");
    assert_eq!(e.snapshot().workspaces, view_before, "the workspace view did not move");
    assert!(e.sink_failures("dev").is_empty());
    let status = e.scoped_status();
    assert_eq!(status.len(), 1, "{status:?}");
    assert_eq!(status[0].state(f.now()), lakepass_engine::status::TokenState::Fresh);
    assert_eq!(status[0].expires_at, Some(forced.expires_at));
}

/// A fixture whose `dev` workspace offers the SQL server, with `extra` lines in its `[mcp.dev]`.
async fn fixture_with(extra: &str) -> Fixture {
    let f = Fixture::start(Setup { manual_clock: true, ..Setup::default() }).await;
    let mut file = std::fs::OpenOptions::new().append(true).open(&f.paths.config).unwrap();
    writeln!(file, "\n[mcp.dev]\n{extra}").unwrap();
    f
}

fn failed_exchanges(f: &Fixture) -> u64 {
    f.ds.stats().workspaces["dev"].exchanges_failed
}

/// `initialize` at the devstack's SQL server with `token`: the status.
async fn sql_server_status(f: &Fixture, token: &str) -> u16 {
    reqwest::Client::new()
        .post(format!("{}/api/2.0/mcp/sql", f.host("dev")))
        .bearer_auth(token)
        .header("accept", "application/json, text/event-stream")
        .json(&serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Issue 24 point 1: a workspace whose exchange refuses the narrow scope. The SQL server is
/// served with the workspace's own all-apis token (which the server accepts), that is remembered
/// per workspace (one refused exchange, however often and from however many engines it is
/// asked), said in the status, and re-probed by a forced refresh: once the scope is granted the
/// server gets its own token again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_scope_falls_back_to_the_workspace_token_remembered_and_said() {
    let f = fixture_with("").await;
    let e = f.signed_in_engine().await;
    let ws = dev(&e);
    let own = e.token(&ws).await.unwrap();
    f.ds.set_narrow_scopes(lakepass_devstack::NarrowScopes::Refuse);
    let (ok, failed) = (exchanges(&f), failed_exchanges(&f));

    for _ in 0..3 {
        let t = e.scoped_token(&ws, McpScope::Sql).await.unwrap();
        assert_eq!(t.access_token.secret(), own.access_token.secret(), "the workspace's own token");
    }
    assert_eq!(
        (exchanges(&f), failed_exchanges(&f)),
        (ok, failed + 1),
        "one refused exchange, then remembered"
    );
    let status = e.scoped_status();
    let sql = status.iter().find(|s| s.scope == McpScope::Sql).unwrap();
    let note = sql.fallback_note().expect("the status says so");
    assert!(
        note.contains("all-apis") && note.contains("invalid_scope") && note.contains("least_privilege"),
        "{note}"
    );
    assert_eq!(sql_server_status(&f, own.access_token.secret()).await, 200, "the server takes all-apis");

    // Another engine (another process) reads the remembered fallback: no exchange.
    let other = f.engine().await;
    let t = other.scoped_token(&ws, McpScope::Sql).await.unwrap();
    assert_eq!(t.access_token.secret(), own.access_token.secret());
    assert_eq!(failed_exchanges(&f), failed + 1);
    assert!(other.scoped_status().iter().any(|s| s.fallback.is_some()));

    // A new sign-in forgets the fallback: the next ask asks for the narrow scope again.
    f.ds.set_narrow_scopes(lakepass_devstack::NarrowScopes::Grant);
    f.sign_in(&e).await;
    assert!(f.store().await.scoped_fallback(&ws, McpScope::Sql).await.unwrap().is_none(), "forgotten");
    let t = e.scoped_token(&ws, McpScope::Sql).await.unwrap();
    assert_eq!(t.scope.as_deref(), Some("sql"), "its own token after the sign-in");

    // A forced refresh asks again too; granted, the server gets its own `sql` token.
    f.ds.set_narrow_scopes(lakepass_devstack::NarrowScopes::Refuse);
    e.refresh_scoped(&ws, McpScope::Sql, true).await.unwrap();
    assert!(e.scoped_status().iter().any(|s| s.fallback.is_some()), "refused again: the fallback again");
    f.ds.set_narrow_scopes(lakepass_devstack::NarrowScopes::Grant);
    let narrow = e.refresh_scoped(&ws, McpScope::Sql, true).await.unwrap();
    assert_eq!(narrow.scope.as_deref(), Some("sql"));
    assert!(e.scoped_status().iter().all(|s| s.fallback.is_none()), "no longer said");
    assert_eq!(e.scoped_token(&ws, McpScope::Sql).await.unwrap().access_token, narrow.access_token);
}

/// Issue 24 point 1 with `least_privilege = true`: the refusal is the error, with what to do,
/// and nothing is remembered or handed out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn least_privilege_refuses_instead_of_falling_back() {
    let f = fixture_with("least_privilege = true").await;
    let e = f.signed_in_engine().await;
    let ws = dev(&e);
    f.ds.set_narrow_scopes(lakepass_devstack::NarrowScopes::Refuse);
    let err = e.scoped_token(&ws, McpScope::Sql).await.unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, lakepass_engine::engine::EngineError::McpScopeRefused { .. }), "{text}");
    assert!(
        text.contains("`sql`") && text.contains("least_privilege = true") && text.contains("invalid_scope"),
        "{text}"
    );
    assert_eq!(err.kind(), lakepass_engine::ErrorKind::FederationRejected);
    let store = f.store().await;
    assert!(store.scoped_fallback(&ws, McpScope::Sql).await.unwrap().is_none(), "nothing remembered");
    assert!(store.scoped_token(&ws, McpScope::Sql).await.unwrap().is_none());
    assert!(e.scoped_status().iter().all(|s| s.fallback.is_none() && s.last_error.is_some()));
}

/// Finding L6: a workspace answering `scope=all-apis` to a `sql` request. Allowed to fall back,
/// that is the fallback (remembered: one exchange, not one per ask) and the broad answer itself
/// is never kept as the `sql` token; with least privilege it is refused and not cached.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_all_apis_answer_to_a_narrow_request_is_the_fallback_or_refused_never_the_scoped_token() {
    let f = fixture_with("").await;
    let e = f.signed_in_engine().await;
    let ws = dev(&e);
    let own = e.token(&ws).await.unwrap();
    f.ds.set_narrow_scopes(lakepass_devstack::NarrowScopes::AnswerAllApis);
    let before = exchanges(&f);
    for _ in 0..3 {
        let t = e.scoped_token(&ws, McpScope::Sql).await.unwrap();
        assert_eq!(t.access_token.secret(), own.access_token.secret());
    }
    assert_eq!(exchanges(&f), before + 1, "asked once, not three times in a row");
    let store = f.store().await;
    assert!(
        store.scoped_token(&ws, McpScope::Sql).await.unwrap().is_none(),
        "the broad answer is not the sql token"
    );
    let fallback = store.scoped_fallback(&ws, McpScope::Sql).await.unwrap().unwrap();
    assert!(fallback.reason.contains("all-apis"), "{fallback:?}");

    let strict = fixture_with("least_privilege = true").await;
    let e = strict.signed_in_engine().await;
    strict.ds.set_narrow_scopes(lakepass_devstack::NarrowScopes::AnswerAllApis);
    let err = e.scoped_token(&dev(&e), McpScope::Sql).await.unwrap_err();
    assert!(err.to_string().contains("answered a request for `sql` with an `all-apis` token"), "{err}");
    assert!(
        strict.store().await.scoped_token(&dev(&e), McpScope::Sql).await.unwrap().is_none(),
        "not cached"
    );
}
