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
        // The first daemon's stop already removed the profiles (L2); this start must not write
        // them back while the port is taken, and must say why in the snapshot.
        wait_until(|| e.snapshot().warnings.iter().any(|w| w.kind == ErrorKind::LiveService)).await;
        assert!(live(&f).is_none(), "no -live profile while the port is squatted");

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

/// Runs `curl` on `url` as another local user (uid 65534) and returns the HTTP status it got;
/// `None` when this machine cannot run a command as another user (then [`may_skip`] decides).
///
/// [`may_skip`]: crate::support::may_skip
async fn curl_as_another_user(url: &str) -> Option<String> {
    let out = tokio::process::Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "curl", "-q", "-s", "-o", "/dev/null"])
        .args(["-w", "%{http_code}", "--max-time", "20", url])
        .env("HOME", "/")
        .output()
        .await;
    match out {
        Ok(o) if o.status.success() => Some(String::from_utf8_lossy(&o.stdout).trim().to_string()),
        Ok(o)
            if crate::support::may_skip(&format!(
                "cannot run curl as another user: {}",
                String::from_utf8_lossy(&o.stderr)
            )) =>
        {
            None
        }
        Err(e) if crate::support::may_skip(&format!("cannot run setpriv: {e}")) => None,
        other => panic!("curl as another user failed: {other:?}"),
    }
}

/// Signs in through the devstack's login page as `email`; returns the callback URL it redirects to.
async fn approve_as(c: &reqwest::Client, authorize: url::Url, email: &str) -> String {
    let html = c.get(authorize.clone()).send().await.unwrap().text().await.unwrap();
    let id = html.split("name=\"request_id\" value=\"").nth(1).unwrap().split('"').next().unwrap();
    let login = format!("{}://{}/authorize/login", authorize.scheme(), authorize.authority());
    let resp = c.post(login).form(&[("request_id", id), ("email", email)]).send().await.unwrap();
    resp.headers()["location"].to_str().unwrap().to_string()
}

/// The review's login CSRF (issue 23 M1), at its worst: another local user read the start link
/// in `/proc/*/cmdline` and knows everything the browser would learn from it (the authorize URL
/// with our `state`), and holds a code of their own for it. Their start-link visit and their
/// callback come from a socket of another uid: both get 403 and neither ends the sign-in, which
/// completes with the real browser's code, as the real user.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_user_cannot_finish_a_sign_in_with_the_start_link_or_the_callback() {
    use lakepass_wire::http::Http;
    use lakepass_wire::idp::{self, Loopback, SignInRequest};
    within(CASE_TIMEOUT, async {
        let ds = crate::support::devstack(None).await; // a login page: the user chooses who signs in
        let d = idp::discover(&Http::new(), &ds.info().issuer).await.unwrap();
        let mut cfg = lakepass_config::IdpConfig::new(ds.info().issuer.clone(), ds.info().client_id.clone());
        cfg.scopes = vec!["openid".into(), "email".into(), "offline_access".into()];
        let client = cfg.client();
        let lb = Loopback::bind(0).await.unwrap();
        let start = lb.start_url();
        let req = SignInRequest::new(&d, &client, &lb.redirect_uri).unwrap();
        let no_redirects =
            reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let attacker_callback = approve_as(&no_redirects, req.url.clone(), "mallory@example.com").await;
        let mut users = tokio::spawn(async move {
            let start_status = curl_as_another_user(start.as_str()).await?;
            let callback_status = curl_as_another_user(&attacker_callback).await?;
            // Then the real user's browser: the start link still works, and so does the sign-in.
            let authorize = no_redirects.get(start).send().await.unwrap().headers()["location"]
                .to_str()
                .unwrap()
                .parse::<url::Url>()
                .unwrap();
            let callback = approve_as(&no_redirects, authorize, "ada@example.com").await;
            let page = reqwest::get(callback).await.unwrap().text().await.unwrap();
            Some((start_status, callback_status, page))
        });
        let callback = tokio::select! {
            waited = lb.wait(&req, &d.issuer, Duration::from_secs(60)) => {
                waited.expect("the sign-in waits out the other user and completes")
            }
            ended = &mut users => match ended.unwrap() {
                None => return, // cannot run as another user here (may_skip said so)
                Some(_) => panic!("the browser got its page before the sign-in completed"),
            },
        };
        let http = Http::new();
        let now = lakepass_wire::Clock::now(&lakepass_wire::SystemClock);
        let form = idp::code_request(&d, &client, &req, &callback.code);
        let session =
            idp::redeem(&http, &d, &client, form, idp::Grant::code(&req.nonce), now, &Default::default())
                .await
                .expect("the real browser's code redeems");
        callback.signed_in(&format!("Signed in to devstack as {}", session.who())).await;
        let (start_status, callback_status, page) = users.await.unwrap().expect("ran as another user");
        assert_eq!(start_status, "403", "another user's start-link visit is refused");
        assert_eq!(callback_status, "403", "another user's callback is refused");
        assert_eq!(session.who(), "ada@example.com", "signed in as the real user, not the other one");
        assert!(page.contains("as ada@example.com"), "the page names who signed in: {page}");
    })
    .await
}

/// The review's slow-loris on the sign-in listener (issue 23 L1): eight idle sockets held the
/// browser's redirect back 79 s, one at a time, and `login --timeout 60` failed. Connections
/// are now served at once, a bounded number of them, the oldest idle one giving way: with more
/// idle sockets open than the listener serves at once, the real browser still signs in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_sockets_on_the_sign_in_listener_do_not_hold_the_browser_back() {
    within(CASE_TIMEOUT, async {
        let f = fixture().await;
        let e = f.engine().await;
        let (tx, rx) = tokio::sync::oneshot::channel::<url::Url>();
        let browser = tokio::spawn(async move {
            let start = rx.await.unwrap();
            let addr = (start.host_str().unwrap(), start.port().unwrap());
            let mut idle = Vec::new();
            for _ in 0..2 * lakepass_wire::idp::MAX_CONNECTIONS {
                idle.push(tokio::net::TcpStream::connect(addr).await.unwrap());
            }
            let resp = reqwest::get(start).await.unwrap();
            let page = (resp.status(), resp.text().await.unwrap());
            drop(idle);
            page
        });
        // The login's own timeout, as `lakepass login --timeout 30` would have it.
        let (session, failures) = e
            .login("devstack", move |u| tx.send(u.clone()).unwrap(), Duration::from_secs(30))
            .await
            .expect("the browser's sign-in completes while idle sockets are open");
        assert!(failures.is_empty(), "{failures:?}");
        let (status, page) = browser.await.unwrap();
        assert_eq!(status, 200, "{page}");
        assert!(page.contains(&format!("Signed in to devstack as {}", session.who())), "{page}");
    })
    .await
}
