//! The dashboard's calls over a real `app.sock` to a host on an in-process devstack.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use lakepass_engine::ErrorKind;
use lakepass_engine::status::TokenState;

use super::*;
use crate::host::tests::{fixture, state, until};

fn counting_show() -> (Arc<AtomicUsize>, OnShow) {
    let n = Arc::new(AtomicUsize::new(0));
    let m = n.clone();
    (
        n,
        Arc::new(move || {
            m.fetch_add(1, Ordering::SeqCst);
        }),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_over_the_socket_do_what_the_host_does_and_errors_keep_their_kind() {
    let f = fixture(3600).await;
    let host = f.host().await;
    let path = f._dir.path().join("run").join(APP_SOCKET_NAME);
    let (shown, on_show) = counting_show();
    let _server = Server::start(host.clone(), path.clone(), on_show).await.expect("serves");
    let remote = RemoteHost::new(path.clone());

    let v: AppView = decode(remote.call(&Call::GetView).await).expect("a view");
    assert_eq!(v, host.view());
    assert_eq!(state(&v, "dev"), TokenState::NeedsLogin);

    // A sign-in over the socket answers when the host's sign-in is done, with who signed in.
    let who: String = decode(remote.call(&Call::SignIn { idp: "devstack".into() }).await).expect("signed in");
    assert_eq!(who, "ada@example.com");
    until(&host, "dev fresh", |v| state(v, "dev") == TokenState::Fresh).await;
    let stats = f.ds.stats();
    assert_eq!(stats.workspaces["dev"].exchanges_ok, 1, "the tray's host made the exchange");

    let () = decode(remote.call(&Call::SetActive { name: "prod".into() }).await).expect("switched");
    assert_eq!(host.view().active.as_deref(), Some("prod"));
    assert!(std::fs::read_to_string(&f.paths.config).unwrap().contains("active = \"prod\""));

    let err = remote.call(&Call::SetActive { name: "nope".into() }).await.expect_err("unknown workspace");
    let direct = host.set_active("nope").expect_err("unknown workspace");
    assert_eq!(err, direct, "the error crosses the socket whole: kind, words, field");
    assert_eq!(err.kind, ErrorKind::Config);

    let version: String = decode(remote.call(&Call::Ping).await).expect("a tray answers");
    assert_eq!(version, env!("CARGO_PKG_VERSION"));
    let () = decode(remote.call(&Call::ShowDashboard).await).expect("shown");
    assert_eq!(shown.load(Ordering::SeqCst), 1, "a second start's request reaches the tray");

    // The set-up's pure calls answer over the socket too; autostart is the front end's, not the
    // host's.
    let presets: Vec<PresetView> = decode(remote.call(&Call::IdpPresets).await).expect("presets");
    assert_eq!(presets, forms::presets());
    let url = "https://adb-1.2.azuredatabricks.net/browse?o=1".to_string();
    let host_of: String = decode(remote.call(&Call::WorkspaceHost { url }).await).expect("a host");
    assert_eq!(host_of, "https://adb-1.2.azuredatabricks.net");
    let err = remote.call(&Call::GetAutostart).await.expect_err("not the host's");
    assert_eq!(err.kind, ErrorKind::BadRequest);

    // A line that is no call is refused with a reason, and the server goes on.
    let mut raw = tokio::net::UnixStream::connect(&path).await.unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut raw, b"{\"call\":\"format_disk\"}\n").await.unwrap();
    let mut line = String::new();
    tokio::io::AsyncBufReadExt::read_line(&mut tokio::io::BufReader::new(raw), &mut line).await.unwrap();
    assert!(line.starts_with("{\"err\":") && line.contains("bad_request"), "{line}");
    let again: AppView = decode(remote.call(&Call::GetView).await).expect("still serving");
    assert_eq!(again.active.as_deref(), Some("prod"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_gets_the_view_at_once_then_each_change_and_sees_the_end_when_the_tray_quits() {
    let f = fixture(3600).await;
    let host = f.host().await;
    let path = f._dir.path().join(APP_SOCKET_NAME);
    let (_, on_show) = counting_show();
    let server = Server::start(host.clone(), path.clone(), on_show).await.expect("serves");
    let mut follow = RemoteHost::new(path.clone()).follow().await.expect("follows");

    async fn next(f: &mut Follow) -> Option<Update> {
        tokio::time::timeout(Duration::from_secs(20), f.next()).await.expect("an update in time")
    }
    match next(&mut follow).await {
        Some(Update::View(v)) => assert_eq!(*v, host.view()),
        other => panic!("the view first, got {other:?}"),
    }
    assert!(matches!(next(&mut follow).await, Some(Update::Events(_))));

    host.set_active("prod").expect("switch");
    let mut saw_view = false;
    let mut saw_event = false;
    while !(saw_view && saw_event) {
        match next(&mut follow).await {
            Some(Update::View(v)) => saw_view |= v.active.as_deref() == Some("prod"),
            Some(Update::Events(e)) => saw_event |= e.first().is_some_and(|e| e.text.contains("active")),
            None => panic!("the stream ended while the tray runs"),
        }
    }

    drop(server);
    loop {
        match next(&mut follow).await {
            None => break,
            Some(_) => continue, // updates already on the wire
        }
    }
    assert!(!path.exists(), "the socket is removed when the tray stops");
    let err = RemoteHost::new(path).call(&Call::GetView).await.expect_err("nobody serves");
    assert!(err.message.contains("does not answer"), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_tray_is_refused_while_the_first_serves_and_a_stale_socket_is_replaced() {
    let f = fixture(3600).await;
    let host = f.host().await;
    let path = f._dir.path().join(APP_SOCKET_NAME);
    let (_, show) = counting_show();
    let first = Server::start(host.clone(), path.clone(), show.clone()).await.expect("serves");
    let second = Server::start(host.clone(), path.clone(), show.clone()).await;
    assert!(second.is_err(), "a live tray keeps its socket");
    drop(first);
    // A socket file nobody listens on (a tray that crashed) does not stop the next start.
    drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
    assert!(path.exists());
    let _third = Server::start(host, path.clone(), show).await.expect("replaces the stale socket");
    let v: AppView = decode(RemoteHost::new(path).call(&Call::GetView).await).expect("answers");
    assert_eq!(v.workspaces.len(), 2);
}

#[test]
fn an_answer_crosses_the_wire_as_its_bare_value_and_is_named_by_its_call() {
    assert_eq!(Answered::SetActive.into_value(), serde_json::Value::Null);
    assert_eq!(Answered::GetAutostart(true).into_value(), serde_json::json!(true));
    let host = "https://h.example.com".to_string();
    assert_eq!(Answered::WorkspaceHost(host.clone()).into_value(), serde_json::json!(host));
    assert_eq!(Answered::WorkspaceHost(host).into_parts().0, Call::WorkspaceHost { url: "x".into() }.name());
    assert_eq!(Answered::Ping("0.1.0".into()).into_parts().0, Call::Ping.name());
}

#[test]
fn every_call_round_trips_as_json_with_its_snake_case_name() {
    let call = Call::SaveWorkspace {
        name: "dev".into(),
        workspace: crate::forms::WorkspaceForm {
            idp: "devstack".into(),
            host: "https://dev.example.com".into(),
            scopes: vec![],
            token: None,
            client_id: None,
            profile: None,
        },
        replace: true,
    };
    let text = serde_json::to_string(&call).unwrap();
    assert!(text.starts_with("{\"call\":\"save_workspace\""), "{text}");
    assert_eq!(serde_json::from_str::<Call>(&text).unwrap(), call);
    assert_eq!(serde_json::to_string(&Call::GetView).unwrap(), "{\"call\":\"get_view\"}");
    // The logged name is the wire name.
    for c in [Call::GetView, Call::TryLocally, Call::SignIn { idp: "x".into() }, call] {
        let wire = serde_json::to_value(&c).unwrap()["call"].as_str().unwrap().to_string();
        assert_eq!(c.name(), wire);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_past_the_cap_wait_and_a_client_silent_past_the_first_line_timeout_is_dropped() {
    use lakepass_engine::ipc::{FIRST_LINE_TIMEOUT, MAX_CLIENTS};
    use tokio::io::AsyncReadExt as _;

    let f = fixture(3600).await;
    let host = f.host().await;
    let path = f._dir.path().join(APP_SOCKET_NAME);
    let (_, on_show) = counting_show();
    let _server = Server::start(host.clone(), path.clone(), on_show).await.expect("serves");

    // Clients that connect and never send a call hold every slot.
    let start = std::time::Instant::now();
    let mut silent = Vec::new();
    for _ in 0..MAX_CLIENTS {
        silent.push(tokio::net::UnixStream::connect(&path).await.unwrap());
    }
    let remote = RemoteHost::new(path.clone());
    let late = tokio::spawn(async move { remote.call(&Call::GetView).await });
    tokio::time::sleep(FIRST_LINE_TIMEOUT / 2).await;
    assert!(!late.is_finished(), "a client past the cap is not served while the slots are held");
    assert!(start.elapsed() < FIRST_LINE_TIMEOUT, "the check ran before the silent clients' timeout");

    // At the timeout each silent client is dropped unanswered, and the waiting call is served.
    for s in &mut silent {
        let mut got = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(30), s.read_to_end(&mut got)).await;
        assert!(matches!(read, Ok(Ok(0))), "dropped with no answer: {read:?} {got:?}");
    }
    assert!(start.elapsed() >= FIRST_LINE_TIMEOUT, "not dropped before the timeout");
    let answer = tokio::time::timeout(Duration::from_secs(30), late).await.expect("served in time").unwrap();
    let v: AppView = decode(answer).expect("a view");
    assert_eq!(v, host.view());
}
