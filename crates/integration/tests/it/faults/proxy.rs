//! The agents' proxy (`lakepass_engine::proxy`) over real loopback HTTP, in front of the
//! devstack's Gemini API: only a grant's key gets in, and nothing else reaches the workspace; the
//! token on each request is the engine's current one; a refused token is renewed once and the
//! request retried once; SSE flows event by event; the agent's own credentials never go on.

use lakepass_devstack::{FaultKind, FaultRule, Target, fingerprint};
use lakepass_engine::ipc::IpcServer;
use lakepass_engine::proxy::{Proxy, ProxyError, ProxyGrant, open_grant_at};
use serde_json::{Value, json};

use super::*;

const MODEL: &str = "databricks-gemini-2-5-pro";

fn generate(grant: &ProxyGrant, method: &str) -> String {
    grant.url(&format!("/ai-gateway/gemini/v1beta/models/{MODEL}:{method}")).secret().to_string()
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

fn prompt() -> Value {
    json!({"contents": [{"role": "user", "parts": [{"text": "say pong"}]}]})
}

/// What the devstack's Gemini paths of `dev` saw: requests and token fingerprints.
fn gemini_seen(f: &Fixture) -> (u64, Vec<String>) {
    let stats = f.ds.stats();
    let mut requests = 0;
    let mut fps = Vec::new();
    for (path, p) in &stats.workspaces["dev"].paths {
        if path.starts_with("/ai-gateway/gemini/") {
            requests += p.requests;
            fps.extend(p.token_fingerprints.iter().cloned());
        }
    }
    (requests, fps)
}

async fn granted() -> (Fixture, Engine, Proxy, ProxyGrant) {
    let f = fixture().await;
    let e = f.signed_in_engine().await;
    let proxy = Proxy::new(e.clone());
    let grant = proxy.grant(&ws(&e, "dev")).await.unwrap();
    (f, e, proxy, grant)
}

#[tokio::test]
async fn a_wrong_or_missing_key_is_404_and_never_reaches_the_workspace() {
    within(CASE_TIMEOUT, async {
        let (f, _e, _proxy, grant) = granted().await;
        let base = grant.base_url.secret().to_string();
        let (origin, key) = base.rsplit_once('/').unwrap();
        let before = f.ds.stats().workspaces["dev"].clone();
        let mut wrong_key = key.to_string();
        wrong_key.replace_range(0..1, if key.starts_with('A') { "B" } else { "A" });
        for url in [
            format!("{origin}/ai-gateway/gemini/v1beta/models/{MODEL}:generateContent"),
            format!("{origin}/{wrong_key}/ai-gateway/gemini/v1beta/models/{MODEL}:generateContent"),
            format!("{origin}/{}/ai-gateway/gemini", &key[..20]),
        ] {
            let resp = client().post(&url).json(&prompt()).send().await.unwrap();
            assert_eq!(resp.status(), 404, "{}", url.replace(key, "<key>"));
            assert!(resp.bytes().await.unwrap().is_empty(), "a refusal says nothing more");
        }
        assert_eq!(f.ds.stats().workspaces["dev"], before, "nothing reached the workspace");
    })
    .await
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn another_local_user_without_the_key_gets_nothing() {
    if !nix_is_root() {
        eprintln!("skipped: needs root to run curl as another user (setpriv)");
        return;
    }
    within(CASE_TIMEOUT, async {
        let (f, _e, _proxy, grant) = granted().await;
        let base = grant.base_url.secret().to_string();
        let (origin, _key) = base.rsplit_once('/').unwrap();
        let before = f.ds.stats().workspaces["dev"].clone();
        let url = format!("{origin}/ai-gateway/gemini/v1beta/models/{MODEL}:generateContent");
        let out = tokio::process::Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", "curl", "-s", "-o", "/dev/null"])
            .args(["-w", "%{http_code}", "-X", "POST", "-d", "{}", &url])
            .output()
            .await
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), "404", "{out:?}");
        assert_eq!(f.ds.stats().workspaces["dev"], before, "nothing reached the workspace");
    })
    .await
}

#[cfg(target_os = "linux")]
fn nix_is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("Uid:")).map(|l| l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

#[tokio::test]
async fn each_request_carries_the_engines_current_token_and_the_next_after_a_rotation() {
    within(CASE_TIMEOUT, async {
        let (f, e, _proxy, grant) = granted().await;
        let dev = ws(&e, "dev");
        let first = e.live_token(&dev).await.unwrap();
        // The agent's own credentials (and Gemini's `?key=`) never reach the workspace.
        let resp = client()
            .post(format!("{}?key=AIza-agent-query-key", generate(&grant, "generateContent")))
            .header("x-goog-api-key", "agent-goog-key")
            .header("authorization", "Bearer agent-own-key")
            .header("x-api-key", "agent-x-api-key")
            .header("connection", "keep-alive, x-private-hop")
            .header("x-private-hop", "agent-hop-secret")
            .json(&prompt())
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["candidates"][0]["content"]["parts"][0]["text"], "pong", "{body}");
        let (requests, fps) = gemini_seen(&f);
        assert_eq!((requests, fps.clone()), (1, vec![fingerprint(first.access_token.secret())]));
        let seen = &f.ds.stats().workspaces["dev"].seen_token_fingerprints;
        for own in ["agent-goog-key", "agent-own-key", "agent-x-api-key", "AIza-agent-query-key"] {
            assert!(!seen.contains(&fingerprint(own)), "{own} reached the workspace");
        }

        let second = e.refresh_workspace(&dev, true).await.unwrap();
        assert_ne!(second.access_token, first.access_token);
        let resp = client().post(generate(&grant, "generateContent")).json(&prompt()).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        let (requests, fps) = gemini_seen(&f);
        assert_eq!(requests, 2);
        assert_eq!(
            fps,
            [fingerprint(first.access_token.secret()), fingerprint(second.access_token.secret())]
        );
    })
    .await
}

#[tokio::test]
async fn a_401_upstream_renews_the_token_once_and_retries_once() {
    within(CASE_TIMEOUT, async {
        let (f, e, _proxy, grant) = granted().await;
        let dev = ws(&e, "dev");
        let before = e.live_token(&dev).await.unwrap();
        let exchanges = f.ds.stats().workspaces["dev"].exchanges_ok;
        f.faults().add(
            FaultRule::new(Target::WorkspaceApi, FaultKind::Status { code: 401, retry_after_secs: None })
                .times(1),
        );
        let resp = client().post(generate(&grant, "generateContent")).json(&prompt()).send().await.unwrap();
        assert_eq!(resp.status(), 200, "the retry with a renewed token went through");
        assert_eq!(consumed(&f.faults(), 1, Target::WorkspaceApi), 1);
        assert_eq!(f.ds.stats().workspaces["dev"].exchanges_ok, exchanges + 1, "one renewal");
        let now = e.live_token(&dev).await.unwrap();
        assert_ne!(now.access_token, before.access_token);
        assert_eq!(gemini_seen(&f).1, [fingerprint(now.access_token.secret())]);

        // A path that keeps refusing (a 403 for want of permission) costs no exchange storm:
        // right after a renewal, a refusal with the same token is passed on, not retried.
        f.faults().clear();
        f.faults().add(
            FaultRule::new(Target::WorkspaceApi, FaultKind::Status { code: 403, retry_after_secs: None })
                .times(5),
        );
        let resp = client().post(generate(&grant, "generateContent")).json(&prompt()).send().await.unwrap();
        assert_eq!(resp.status(), 403);
        assert_eq!(consumed(&f.faults(), 5, Target::WorkspaceApi), 1, "no retry within the renewal gap");
        assert_eq!(f.ds.stats().workspaces["dev"].exchanges_ok, exchanges + 1, "no second renewal");
    })
    .await
}

#[tokio::test]
async fn a_token_refused_twice_is_renewed_once_and_retried_once_then_the_refusal_is_the_answer() {
    within(CASE_TIMEOUT, async {
        let (f, _e, _proxy, grant) = granted().await;
        let exchanges = f.ds.stats().workspaces["dev"].exchanges_ok;
        f.faults().add(
            FaultRule::new(Target::WorkspaceApi, FaultKind::Status { code: 401, retry_after_secs: None })
                .times(5),
        );
        let resp = client().post(generate(&grant, "generateContent")).json(&prompt()).send().await.unwrap();
        assert_eq!(resp.status(), 401);
        assert_eq!(consumed(&f.faults(), 5, Target::WorkspaceApi), 2, "the request and one retry");
        assert_eq!(f.ds.stats().workspaces["dev"].exchanges_ok, exchanges + 1, "one renewal");
    })
    .await
}

#[tokio::test]
async fn the_gateways_400_invalid_token_renews_too_and_other_400s_pass_through() {
    within(CASE_TIMEOUT, async {
        let (f, e, _proxy, grant) = granted().await;
        let exchanges = f.ds.stats().workspaces["dev"].exchanges_ok;
        let invalid = r#"{"error_code":"BAD_REQUEST","message":"Invalid Token"}"#;
        f.faults().add(
            FaultRule::new(
                Target::WorkspaceApi,
                FaultKind::Body { code: 400, body: invalid.into(), content_type: None },
            )
            .times(1),
        );
        let resp = client().post(generate(&grant, "generateContent")).json(&prompt()).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(f.ds.stats().workspaces["dev"].exchanges_ok, exchanges + 1);
        // A 400 about the request itself is the devstack's own answer, whole, with no renewal.
        let resp = client()
            .post(generate(&grant, "generateContent"))
            .json(&json!({"contents": []}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 400);
        assert!(resp.text().await.unwrap().contains("contents"), "the body is relayed whole");
        assert_eq!(f.ds.stats().workspaces["dev"].exchanges_ok, exchanges + 1);
        drop(e);
    })
    .await
}

#[tokio::test]
async fn sse_flows_event_by_event() {
    within(CASE_TIMEOUT, async {
        let (f, _e, _proxy, grant) = granted().await;
        f.ds.hold_streams(true);
        let url = format!("{}?alt=sse", generate(&grant, "streamGenerateContent"));
        let mut resp = client().post(url).json(&prompt()).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.headers()["content-type"], "text/event-stream");
        // The devstack holds the rest of the stream: this first event can only arrive if the
        // proxy passes it on before the stream ends.
        let first =
            String::from_utf8(resp.chunk().await.unwrap().expect("the first event").to_vec()).unwrap();
        assert!(first.starts_with("data: ") && first.contains(r#""text":"po""#), "{first}");
        assert!(!first.contains("STOP"), "only the first event: {first}");
        f.ds.hold_streams(false);
        let mut rest = String::new();
        while let Some(chunk) = resp.chunk().await.unwrap() {
            rest.push_str(std::str::from_utf8(&chunk).unwrap());
        }
        assert!(rest.contains(r#""text":"ng""#) && rest.contains("STOP"), "{rest}");
    })
    .await
}

#[tokio::test]
async fn browser_and_rebinding_requests_are_refused_before_the_workspace() {
    within(CASE_TIMEOUT, async {
        let (f, _e, _proxy, grant) = granted().await;
        let before = f.ds.stats().workspaces["dev"].clone();
        let url = generate(&grant, "generateContent");
        let tries: [(&str, &str, u16); 4] = [
            ("origin", "https://evil.example", 403),
            ("sec-fetch-site", "cross-site", 403),
            ("host", "evil.example", 403),
            ("host", "rebind.evil.example:1234", 403),
        ];
        for (name, value, status) in tries {
            let resp = client().post(&url).header(name, value).json(&prompt()).send().await.unwrap();
            assert_eq!(resp.status().as_u16(), status, "{name}: {value}");
        }
        assert_eq!(f.ds.stats().workspaces["dev"], before, "nothing reached the workspace");
    })
    .await
}

#[cfg(unix)]
#[tokio::test]
async fn grants_come_over_the_engine_socket_for_the_asked_workspace_and_host_only() {
    within(CASE_TIMEOUT, async {
        let f = fixture().await;
        let e = f.signed_in_engine().await;
        let socket = f.paths.data_dir.join("proxy-test.sock");
        let dev = ws(&e, "dev");
        let err = open_grant_at(&socket, "dev", &dev.host).await.unwrap_err();
        assert!(matches!(err, ProxyError::NoEngine { .. }), "{err}");
        let _server = IpcServer::start(e.clone(), socket.clone()).await.unwrap();
        let grant = open_grant_at(&socket, "dev", &dev.host).await.unwrap();
        assert_eq!(grant.host, dev.host);
        assert!(!format!("{grant:?}").contains(grant.base_url.secret()));
        let resp = client().post(generate(&grant, "generateContent")).json(&prompt()).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        // Another grant is another key on the same port.
        let other = open_grant_at(&socket, "dev", &dev.host).await.unwrap();
        assert_ne!(other.base_url, grant.base_url);
        let prod = ws(&e, "prod");
        let err = open_grant_at(&socket, "dev", &prod.host).await.unwrap_err();
        assert!(
            matches!(err, ProxyError::Refused { kind: lakepass_engine::ErrorKind::UnknownWorkspace, .. }),
            "{err}"
        );
        let err = open_grant_at(&socket, "nope", &dev.host).await.unwrap_err();
        assert!(matches!(err, ProxyError::Refused { .. }), "{err}");
        // A grant for prod forwards to prod only: dev's counters do not move.
        let pg = open_grant_at(&socket, "prod", &prod.host).await.unwrap();
        let before = f.ds.stats().workspaces["dev"].clone();
        let resp = client().post(generate(&pg, "generateContent")).json(&prompt()).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(f.ds.stats().workspaces["dev"], before);
    })
    .await
}
