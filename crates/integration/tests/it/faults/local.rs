//! What another user on the same machine can try against a running Lakepass (docs/security.md,
//! "another local user"): squat the live service's port, exhaust its connections, place a
//! socket where our client looks for the engine, or read which resources we lock.

use std::time::Duration;

use lakepass_engine::ipc::{self, IpcError, IpcServer, Reply, TokenRequest};
use lakepass_engine::serve::LiveService;
use lakepass_engine::{Daemon, DaemonOptions, ErrorKind, Notice};

use super::*;
use crate::support::live::{sdk_get, sdk_get_within};

/// Another local user opens 200 idle sockets to the live service (the review's exhaustion:
/// with 80 idle sockets a good request waited 4.7 s). Idle sockets hold no request slot, so the
/// SDK's request is answered while they stay open; the deadline sits below the header timeout
/// that used to be the only way a slot came back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_idle_sockets_do_not_starve_a_good_request() {
    within(CASE_TIMEOUT, async {
        let f = fixture().await;
        let e = f.engine().await;
        f.sign_in(&e).await;
        let svc = LiveService::start(e.clone(), 0).await.unwrap();
        let mut idle = Vec::new();
        for _ in 0..200 {
            idle.push(tokio::net::TcpStream::connect(svc.local_addr()).await.unwrap());
        }
        let url = svc.url_for("dev").unwrap().secret().to_string();
        let deadline = lakepass_engine::serve::HEADER_TIMEOUT - Duration::from_millis(500);
        let resp = sdk_get_within(deadline, &url, &f.host("dev"), "while 200 idle sockets are open").await;
        assert_eq!(resp.status(), 200);
        drop(idle);
        svc.shutdown().await;
    })
    .await
}

/// Another local user floods the live service with connections that open and close at once
/// (the review saw 9–14 s for a good request under such a flood). The SDK's request is still
/// answered within the header timeout while four flooders run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reconnect_flood_does_not_starve_a_good_request() {
    within(CASE_TIMEOUT, async {
        let f = fixture().await;
        let e = f.engine().await;
        f.sign_in(&e).await;
        let svc = LiveService::start(e.clone(), 0).await.unwrap();
        let addr = svc.local_addr();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let mut flooders = Vec::new();
        for _ in 0..4 {
            let stop = stop.clone();
            flooders.push(tokio::spawn(async move {
                let mut n = 0u32;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    if let Ok(s) = tokio::net::TcpStream::connect(addr).await {
                        drop(s);
                        n += 1;
                    }
                    tokio::task::yield_now().await;
                }
                n
            }));
        }
        tokio::time::sleep(Duration::from_millis(200)).await; // the flood is under way
        let url = svc.url_for("dev").unwrap().secret().to_string();
        let deadline = lakepass_engine::serve::HEADER_TIMEOUT - Duration::from_millis(500);
        let resp = sdk_get_within(deadline, &url, &f.host("dev"), "during the flood").await;
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let mut connections = 0;
        for flooder in flooders {
            connections += flooder.await.unwrap();
        }
        assert_eq!(resp.status(), 200);
        assert!(connections > 100, "the flood really ran: {connections} connections");
        svc.shutdown().await;
    })
    .await
}

/// Another local user squats the live service's port while Lakepass is stopped (the review's
/// medium finding). The next start cannot bind: it removes the `-live` profiles, so no SDK sends
/// its request (and path secret) to the squatter, warns in every snapshot, and binds as soon as
/// the port is free again, with new path secrets; a URL the squatter collected is worthless.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_squatted_port_removes_the_live_profiles_and_the_service_comes_back() {
    within(CASE_TIMEOUT, async {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut setup = setup();
        setup.config.serve_port = Some(port);
        let f = Fixture::start(setup).await;
        let e = f.engine().await;
        f.sign_in(&e).await;
        let opts =
            DaemonOptions { socket: false, live_retry: Duration::from_millis(200), ..Default::default() };
        let first = Daemon::start(e, opts).await.unwrap();
        let live = |f: &Fixture| {
            let ini = std::fs::read_to_string(&f.paths.databrickscfg).unwrap_or_default();
            lakepass_store::databrickscfg::read_profile(&ini, "dev-live").unwrap()
        };
        let old_url = live(&f)
            .expect("the first start writes dev-live")
            .into_iter()
            .find(|(k, _)| k == "metadata_service_url")
            .unwrap()
            .1;
        first.shutdown().await;

        // Lakepass is stopped; someone else takes the port.
        let squatter = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.unwrap();
        let e = f.engine().await;
        let second = Daemon::start(e.clone(), opts).await.unwrap();
        assert!(
            second.notices().iter().any(|n| matches!(n, Notice::LiveFailed(_))),
            "{:?}",
            second.notices()
        );
        wait_until(|| live(&f).is_none()).await;
        let warned = e.snapshot().warnings;
        assert!(warned.iter().any(|w| w.kind == ErrorKind::LiveService), "{warned:?}");

        // The port comes free: the service binds, writes new URLs, and the warning goes.
        drop(squatter);
        wait_until(|| live(&f).is_some()).await;
        wait_until(|| e.snapshot().warnings.is_empty()).await;
        let new_url = live(&f).unwrap().into_iter().find(|(k, _)| k == "metadata_service_url").unwrap().1;
        assert_ne!(new_url, old_url, "a URL the squatter may have collected must not work again");
        let host = f.host("dev");
        assert_eq!(sdk_get(&old_url, &host).await.status().as_u16(), 404);
        assert_eq!(sdk_get(&new_url, &host).await.status().as_u16(), 200);
        second.shutdown().await;
    })
    .await
}

/// Issue 23, L2: the `-live` profiles named a port that a stopped Lakepass no longer holds, so
/// another local user who binds it next hands every SDK forged tokens. Stopping the daemon
/// (`shutdown`, what SIGTERM, SIGINT and the tray's quit run) removes them, and so does a daemon
/// dropped without it; the user's other profiles and comments stay byte for byte.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_daemon_leaves_no_live_profile_for_a_squatter() {
    within(CASE_TIMEOUT, async {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut setup = setup();
        setup.config.serve_port = Some(port);
        let f = Fixture::start(setup).await;
        let theirs = "# my own profiles\n[mine]\nhost = https://mine.example\ntoken = dapi-mine ; keep\n\n";
        std::fs::write(&f.paths.databrickscfg, theirs).unwrap();
        let e = f.engine().await;
        f.sign_in(&e).await;
        let opts = DaemonOptions { socket: false, ..Default::default() };
        let ini = |f: &Fixture| std::fs::read_to_string(&f.paths.databrickscfg).unwrap();
        let lives = |text: &str| {
            ["dev-live", "prod-live"]
                .into_iter()
                .filter(|p| lakepass_store::databrickscfg::read_profile(text, p).unwrap().is_some())
                .count()
        };

        let daemon = Daemon::start(e.clone(), opts).await.unwrap();
        assert_eq!(lives(&ini(&f)), 2, "{}", ini(&f));
        daemon.shutdown().await;
        let after = ini(&f);
        assert_eq!(lives(&after), 0, "no -live profile outlives the service:\n{after}");
        assert!(after.starts_with(theirs), "the user's profiles and comments are kept:\n{after}");
        assert!(lakepass_store::databrickscfg::read_profile(&after, "dev").unwrap().is_some(), "dev stays");
        // Nothing answers on the port now; the profile that named it is gone with it.
        assert!(tokio::net::TcpListener::bind(("127.0.0.1", port)).await.is_ok());

        let daemon = Daemon::start(e, opts).await.unwrap();
        assert_eq!(lives(&ini(&f)), 2);
        drop(daemon); // no shutdown: a panic or an early return
        assert_eq!(lives(&ini(&f)), 0, "{}", ini(&f));
        assert!(ini(&f).starts_with(theirs));
    })
    .await
}

/// Polls `done` every 50 ms until it holds; the case's own deadline bounds the wait.
async fn wait_until(mut done: impl FnMut() -> bool) {
    while !done() {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The review's finding 3: after a non-login `su`, `XDG_RUNTIME_DIR` can point into another
/// user's private folder, where that user serves a socket. The client must not trust it even
/// though the folder is private and its owner runs the server: it must be our own folder.
/// Needs root to give the folder to another user (CI and the project machines run as root).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socket_in_another_users_folder_is_not_trusted() {
    use std::os::unix::fs::MetadataExt as _;
    let f = fixture().await;
    let e = f.engine().await;
    f.sign_in(&e).await;
    let socket = |f: &Fixture| f.paths.data_dir.join("run").join(ipc::SOCKET_NAME);
    let request = |f: &Fixture, ws: &str| TokenRequest { workspace: ws.into(), host: f.host(ws) };
    let _server = IpcServer::start(e.clone(), socket(&f)).await.unwrap();
    // As served by ourselves, it answers.
    assert!(matches!(ipc::ask(&socket(&f), &request(&f, "dev")).await.unwrap(), Reply::Ok { .. }));
    let dir = socket(&f).parent().unwrap().to_path_buf();
    let me = std::fs::metadata(&dir).unwrap().uid();
    std::os::unix::fs::chown(&dir, Some(65534), None)
        .expect("this case gives the socket folder to `nobody`, which needs root");
    let refused = ipc::ask(&socket(&f), &request(&f, "dev")).await;
    std::os::unix::fs::chown(&dir, Some(me), None).unwrap();
    match refused {
        Err(IpcError::Untrusted { reason, .. }) => assert!(reason.contains("another user"), "{reason}"),
        other => panic!("a socket in another user's folder must be refused: {other:?}"),
    }
}

/// The lock files name the IdPs and workspaces being refreshed: their folder is this user's only.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lock_folder_is_private() {
    use std::os::unix::fs::PermissionsExt as _;
    within(CASE_TIMEOUT, async {
        let f = fixture().await;
        let e = f.engine().await;
        f.sign_in(&e).await;
        let locks = f.paths.data_dir.join("locks");
        let mode = std::fs::metadata(&locks).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700, "{}", locks.display());
    })
    .await
}
