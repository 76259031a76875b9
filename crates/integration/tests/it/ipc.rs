//! The engine socket against an engine signed in to a real devstack: it answers with the
//! engine's token (many callers at once, no extra exchange), says why when it cannot, never
//! answers for a workspace at another host, is private (0600 in a 0700 folder), refuses to
//! start twice, replaces a stale socket, lets a client see quickly that nobody listens, and
//! keeps its limits: clients past the cap wait, a client silent past its first-line timeout is
//! dropped.

use std::os::unix::fs::PermissionsExt as _;
use std::time::Duration;

use lakepass_engine::ipc::{self, IpcError, IpcServer, Reply, SignOutRequest, TokenRequest};

use crate::support::{Fixture, Setup};

/// Engines with the default HTTP client on the system clock.
async fn fixture() -> Fixture {
    Fixture::start(Setup { manual_clock: false, ..Setup::default() }).await
}

/// Where this home's engine socket lives.
fn socket(f: &Fixture) -> std::path::PathBuf {
    f.paths.data_dir.join("run").join(ipc::SOCKET_NAME)
}

/// What a CLI asks for workspace `ws`.
fn request(f: &Fixture, ws: &str) -> TokenRequest {
    TokenRequest { workspace: ws.into(), host: f.host(ws) }
}

fn token_of(r: Reply) -> (String, i64) {
    match r {
        Reply::Ok { access_token, expires_at, .. } => (access_token.secret().to_string(), expires_at),
        Reply::Error { kind, message } => panic!("expected a token, got {kind}: {message}"),
        other => panic!("expected a token, got {other:?}"),
    }
}

fn error_kind(r: Reply) -> String {
    match r {
        Reply::Error { kind, .. } => kind.to_string(),
        Reply::Ok { .. } => panic!("expected an error, got a token"),
        other => panic!("expected an error, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_many_callers_with_the_engines_token_and_no_extra_exchange() {
    let f = fixture().await;
    let e = f.signed_in_engine().await;
    let server = IpcServer::start(e.clone(), socket(&f)).await.unwrap();
    assert_eq!(server.path(), socket(&f));
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&socket(&f)), 0o600);
    assert_eq!(mode(socket(&f).parent().unwrap()), 0o700);

    let held = e.token(&e.config().workspace(Some("dev")).unwrap()).await.unwrap();
    let exchanges = f.ds.stats().workspaces["dev"].exchanges_ok;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..50 {
        let (path, req) = (socket(&f), request(&f, "dev"));
        tasks.spawn(async move { ipc::ask(&path, &req).await });
    }
    while let Some(r) = tasks.join_next().await {
        let (token, expires_at) = token_of(r.unwrap().unwrap());
        assert_eq!(token, held.access_token.secret());
        assert_eq!(expires_at, held.expires_at);
    }
    assert_eq!(f.ds.stats().workspaces["dev"].exchanges_ok, exchanges, "answered from memory");

    // Each workspace its own token.
    let (prod, _) = token_of(ipc::ask(&socket(&f), &request(&f, "prod")).await.unwrap());
    assert_ne!(prod, held.access_token.secret());

    // A workspace name the engine knows, but at another host (a CLI with another config):
    // refused, never a token for the wrong workspace.
    let mut wrong = request(&f, "dev");
    wrong.host = request(&f, "prod").host;
    assert_eq!(error_kind(ipc::ask(&socket(&f), &wrong).await.unwrap()), "unknown_workspace");
    let unknown = TokenRequest { workspace: "nope".into(), host: "https://nope.example".into() };
    assert_eq!(error_kind(ipc::ask(&socket(&f), &unknown).await.unwrap()), "unknown_workspace");

    // Signed out: the engine says so, with the kind the CLI maps to exit code 3.
    e.logout("devstack").await.unwrap();
    assert_eq!(error_kind(ipc::ask(&socket(&f), &request(&f, "dev")).await.unwrap()), "needs_login");
    drop(server);
    assert!(!socket(&f).exists(), "the socket is removed when the server stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_out_request_makes_the_running_engine_forget_its_tokens_at_once() {
    let f = fixture().await;
    let e = f.signed_in_engine().await;
    let _server = IpcServer::start(e.clone(), socket(&f)).await.unwrap();
    token_of(ipc::ask(&socket(&f), &request(&f, "dev")).await.unwrap());
    let issuer = e.config().idp("devstack").unwrap().issuer.clone();

    // Another config's IdP of the same name: refused, nothing forgotten.
    let elsewhere = SignOutRequest { idp: "devstack".into(), issuer: "https://other.example".into() };
    assert_eq!(error_kind(ipc::sign_out(&socket(&f), &elsewhere).await.unwrap()), "unknown_workspace");
    token_of(ipc::ask(&socket(&f), &request(&f, "dev")).await.unwrap());

    let req = SignOutRequest { idp: "devstack".into(), issuer };
    match ipc::sign_out(&socket(&f), &req).await.unwrap() {
        Reply::SignedOut { removed } => assert!(removed.contains(&"dev".to_string()), "{removed:?}"),
        other => panic!("expected a sign-out, got {other:?}"),
    }
    // The token it held in memory is gone: a refusal, not a token.
    assert_eq!(error_kind(ipc::ask(&socket(&f), &request(&f, "dev")).await.unwrap()), "needs_login");
    assert_eq!(error_kind(ipc::ask(&socket(&f), &request(&f, "prod")).await.unwrap()), "needs_login");
}

#[tokio::test]
async fn one_engine_per_socket_and_stale_sockets_are_replaced() {
    let f = fixture().await;
    let e = f.engine().await;
    // A socket left behind by a crashed engine: the file exists, nobody listens.
    std::fs::create_dir_all(socket(&f).parent().unwrap()).unwrap();
    drop(std::os::unix::net::UnixListener::bind(socket(&f)).unwrap());
    assert!(socket(&f).exists());
    let first = IpcServer::start(e.clone(), socket(&f)).await.expect("a stale socket is replaced");
    let err = IpcServer::start(e.clone(), socket(&f)).await.unwrap_err();
    assert!(matches!(err, IpcError::AlreadyRunning { .. }), "{err:?}");
    assert!(err.to_string().contains("already running"), "{err}");
    // The first one still answers.
    assert_eq!(error_kind(ipc::ask(&socket(&f), &request(&f, "dev")).await.unwrap()), "needs_login");
    drop(first);
}

#[tokio::test]
async fn no_server_is_known_at_once() {
    // The outcome is what matters: `NoServer` (the caller then does the work itself), not a
    // timeout or another error after a wait. The deadline only turns a hang into a failure; it
    // is no speed requirement on a loaded machine.
    let f = fixture().await;
    let (path, req) = (socket(&f), request(&f, "dev"));
    let ask = || tokio::time::timeout(Duration::from_secs(30), ipc::ask(&path, &req));
    let err = ask().await.expect("no hang").unwrap_err();
    assert!(matches!(err, IpcError::NoServer { .. }), "no socket file: {err:?}");
    // A socket file with nobody behind it is the same.
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
    let err = ask().await.expect("no hang").unwrap_err();
    assert!(matches!(err, IpcError::NoServer { .. }), "a dead socket file: {err:?}");
}

#[tokio::test]
async fn a_socket_in_a_folder_open_to_others_is_not_trusted() {
    let f = fixture().await;
    let e = f.engine().await;
    let _server = IpcServer::start(e, socket(&f)).await.unwrap();
    let dir = socket(&f).parent().unwrap().to_path_buf();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    let err = ipc::ask(&socket(&f), &request(&f, "dev")).await.unwrap_err();
    assert!(matches!(err, IpcError::Untrusted { .. }), "{err:?}");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_past_the_cap_wait_and_a_client_silent_past_the_first_line_timeout_is_dropped() {
    use tokio::io::AsyncReadExt as _;

    let f = fixture().await;
    let e = f.engine().await;
    let server = IpcServer::start(e, socket(&f)).await.unwrap();

    // Clients that connect and never send a request hold every slot.
    let start = std::time::Instant::now();
    let mut silent = Vec::new();
    for _ in 0..ipc::MAX_CLIENTS {
        silent.push(tokio::net::UnixStream::connect(socket(&f)).await.unwrap());
    }
    let (path, req) = (socket(&f), request(&f, "dev"));
    let late = tokio::spawn(async move { ipc::ask(&path, &req).await });
    tokio::time::sleep(ipc::FIRST_LINE_TIMEOUT / 2).await;
    assert!(!late.is_finished(), "a client past the cap is not served while the slots are held");
    assert!(start.elapsed() < ipc::FIRST_LINE_TIMEOUT, "the check ran before the silent clients' timeout");

    // At the timeout each silent client is dropped unanswered, and the waiting one is served.
    for s in &mut silent {
        let mut got = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(30), s.read_to_end(&mut got)).await;
        assert!(matches!(read, Ok(Ok(0))), "dropped with no answer: {read:?} {got:?}");
    }
    assert!(start.elapsed() >= ipc::FIRST_LINE_TIMEOUT, "not dropped before the timeout");
    let answer = tokio::time::timeout(Duration::from_secs(30), late).await.expect("served in time").unwrap();
    assert_eq!(error_kind(answer.unwrap()), "needs_login");

    drop(server);
    assert!(!socket(&f).exists(), "the socket is removed when the engine stops");
}
