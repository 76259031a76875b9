//! Bad input and broken peers: every failure is a clear message with the documented exit code,
//! and nothing the user had is lost.

use std::time::Duration;

use lakepass_tests::*;

const HOUR: Duration = Duration::from_secs(3600);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_with_an_unknown_key_names_file_line_and_field() {
    let ds = start_devstack(HOUR).await;
    let home = TempHome::new();
    let good = devstack_config(&ds);
    // `hots` is a typo of `host`, on the line right after `[workspace.prod]`.
    let bad = good.replace("[workspace.prod]\n", "[workspace.prod]\nhots = \"https://typo\"\n");
    let line = bad.lines().position(|l| l.starts_with("hots")).expect("typo line") + 1;
    home.write_config(&bad);
    let before = std::fs::read(home.config_path()).unwrap();

    for args in [&["status"][..], &["token", "-w", "dev"], &["login", "--no-browser"]] {
        let out = home.run(args).await.code(2);
        let path = home.config_path().display().to_string();
        assert!(out.stderr.contains(&format!("{path}:{line}")), "names file and line {line}: {out:?}");
        assert!(out.stderr.contains("hots"), "names the field: {out:?}");
        assert_eq!(out.stdout, "");
    }
    assert_eq!(std::fs::read(home.config_path()).unwrap(), before, "config untouched");
    let stats = ds.stats();
    assert_eq!(stats.idp.authorization_code_grants + stats.workspaces["dev"].exchanges_ok, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_with_a_plain_http_host_is_refused() {
    let ds = start_devstack(HOUR).await;
    let home = TempHome::new();
    let dev = ws_host(&ds, "dev");
    home.write_config(&devstack_config(&ds).replace(&dev, "http://example.com"));
    let out = home.run(&["status"]).await.code(2);
    assert!(out.stderr.contains("https"), "says https is required: {out:?}");
    assert!(out.stderr.contains("workspace.dev.host"), "names the field: {out:?}");
    assert!(out.stderr.contains(&home.config_path().display().to_string()), "{out:?}");

    // `workspace add` refuses it too, and leaves the config as it was.
    home.write_devstack_config(&ds);
    let before = std::fs::read(home.config_path()).unwrap();
    let out = home.run(&["workspace", "add", "web", "--host", "http://example.com"]).await.code(2);
    assert!(out.stderr.contains("https"), "{out:?}");
    assert_eq!(std::fs::read(home.config_path()).unwrap(), before, "config untouched");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hand_broken_databrickscfg_is_left_byte_identical() {
    let ds = start_devstack(HOUR).await;
    let home = TempHome::new();
    home.write_devstack_config(&ds);
    home.login(&[]).await;
    let exchanges = ds.stats().workspaces["dev"].exchanges_ok;

    // Line 3 is not INI; everything else is somebody's precious profile.
    let broken = "[mine]\nhost = https://mine.example\nthis is not ini\ntoken = dapi-mine\n";
    std::fs::write(home.databrickscfg(), broken).unwrap();
    let out = home.run(&["refresh", "-w", "dev"]).await;
    assert_eq!(
        std::fs::read_to_string(home.databrickscfg()).unwrap(),
        broken,
        "the broken file must be left byte-identical: {out:?}"
    );
    assert!(out.stderr.contains("line 3"), "the error names the line: {out:?}");
    assert!(
        out.stderr.contains(&home.databrickscfg().display().to_string()),
        "the error names the file: {out:?}"
    );
    assert!(!out.stderr.contains("dapi-mine"), "never quotes the file's values: {out:?}");
    assert_eq!(ds.stats().workspaces["dev"].exchanges_ok, exchanges + 1, "the exchange itself ran");
    assert_eq!(out.code, Some(2), "a profile that could not be written is a failure: {out:?}");
    assert!(out.stderr.contains("credentials file was not updated"), "{out:?}");
    let status = home.run(&["status", "--json"]).await.success().json();
    assert!(
        status["workspaces"][0]["last_error"].as_str().is_some_and(|e| e.contains("line 3")),
        "status keeps the profile error: {status:#}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idp_down_is_exit_4_naming_the_idp() {
    let ttl = Duration::from_secs(3);
    let ds = start_devstack(ttl).await;
    let home = TempHome::new();
    home.write_devstack_config(&ds);
    home.login(&[]).await;
    tokio::time::sleep(ttl + Duration::from_secs(1)).await; // both tokens expired

    ds.faults().idp_down(true);
    let started = std::time::Instant::now();
    let out = home.run(&["token", "-w", "dev"]).await.code(4);
    assert!(out.stderr.contains(&ds.info().issuer), "names the IdP URL: {out:?}");
    assert!(out.stderr.contains("503"), "says what it answered: {out:?}");
    assert!(started.elapsed() < Duration::from_secs(20), "gives up quickly: {:?}", started.elapsed());
    assert_eq!(out.stdout, "");

    // Back up: the same command works, no sign-in needed.
    ds.faults().idp_down(false);
    let out = home.run(&["token", "-w", "dev"]).await.success();
    assert_eq!(scim_me(&ws_host(&ds, "dev"), out.stdout.trim()).await.0, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idp_gone_is_exit_4_naming_the_idp() {
    let ds = start_devstack(HOUR).await;
    let issuer = ds.info().issuer.clone();
    let home = TempHome::new();
    home.write_devstack_config(&ds);
    ds.shutdown().await; // nothing listens on the IdP port any more
    let out = home.run(&["login", "--no-browser", "--timeout", "10"]).await.code(4);
    assert!(out.stderr.contains(&issuer), "names the IdP URL: {out:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_exchange_is_exit_5_with_the_servers_reason() {
    let ds = start_devstack(HOUR).await;
    let home = TempHome::new();
    let dev = ws_host(&ds, "dev");
    // `sp` names a service principal the workspace has no federation policy for.
    home.write_config(&format!(
        "{}\n[workspace.sp]\nidp = \"devstack\"\nhost = \"{dev}\"\nclient_id = \"unknown-sp\"\n\
         profile = \"devstack-sp\"\n",
        devstack_config(&ds)
    ));
    let pending = home.start_login(&[]).await;
    http().get(pending.idp_url.clone()).send().await.expect("follow the sign-in URL");
    let out = pending.finish().await.code(5);
    for want in ["No federation policy for this service principal", "lakepass doctor", "401", "sp"] {
        assert!(out.stderr.contains(want), "login stderr mentions {want:?}: {out:?}");
    }
    // The other workspaces still got their tokens.
    assert!(home.profile_value("devstack-dev", "token").is_some());
    assert!(home.profile_value("devstack-sp", "token").is_none());

    let out = home.run(&["token", "-w", "sp"]).await.code(5);
    assert!(out.stderr.contains("No federation policy for this service principal"), "{out:?}");
    assert!(out.stderr.contains("lakepass doctor"), "{out:?}");
    assert_eq!(out.stdout, "");
    assert!(ds.stats().workspaces["dev"].exchanges_failed >= 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_callbacks_fail_the_login() {
    let ds = start_devstack(HOUR).await;
    let home = TempHome::new();
    home.write_devstack_config(&ds);
    type Query = fn(&str) -> String;
    let cases: [(&str, Query, &str); 2] = [
        ("missing code", |state| format!("state={state}"), "`code`"),
        (
            "IdP error",
            |state| format!("state={state}&error=access_denied&error_description=nope"),
            "access_denied",
        ),
    ];
    for (case, query, want) in cases {
        let pending = home.start_login(&[]).await;
        let state = pending.param("state").expect("state in the sign-in URL");
        let mut callback = pending.redirect_uri();
        callback.set_query(Some(&query(&state)));
        let resp = http().get(callback).send().await.expect("GET the callback");
        assert_eq!(resp.status().as_u16(), 400, "{case}: the browser is told it failed");
        let page = resp.text().await.unwrap_or_default();
        assert!(page.contains("sign-in failed"), "{case}: {}", redact(&page));
        let out = pending.finish().await;
        assert!(matches!(out.code, Some(c) if c != 0), "{case}: login fails: {out:?}");
        assert!(out.stderr.contains(want), "{case}: stderr mentions {want}: {out:?}");
    }
    assert_eq!(ds.stats().idp.authorization_code_grants, 0, "no code was redeemed");
    assert!(!home.vault_path().exists() || home.vault_secrets().is_empty(), "nothing stored");
}

/// A web page or another local user sends `/callback?code=x&state=wrong` while a sign-in waits
/// (the review's finding 2): it gets a 400, and the real sign-in still completes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_callback_does_not_abort_a_sign_in() {
    let ds = start_devstack(HOUR).await;
    let home = TempHome::new();
    home.write_devstack_config(&ds);
    let pending = home.start_login(&[]).await;
    let mut forged = pending.redirect_uri();
    forged.set_query(Some("code=x&state=wrong"));
    let resp = http().get(forged).send().await.expect("GET the callback");
    assert_eq!(resp.status().as_u16(), 400, "the forged callback is refused");
    let resp = http().get(pending.idp_url.clone()).send().await.expect("follow the sign-in URL");
    assert!(resp.status().is_success(), "the real callback: {}", resp.status());
    pending.finish().await.success();
    assert_eq!(ds.stats().idp.authorization_code_grants, 1, "only the real code was redeemed");
}

/// The URL Lakepass hands to the browser (and so to `xdg-open`'s argv, readable by any local
/// user) carries none of the sign-in's secrets, works once, and a second use stops the sign-in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_browser_gets_a_one_time_link_without_the_sign_in_secrets() {
    let ds = start_devstack(HOUR).await;
    let home = TempHome::new();
    home.write_devstack_config(&ds);
    let pending = home.start_login(&[]).await;
    assert_eq!(pending.url.host_str(), Some("127.0.0.1"), "a local link: {}", pending.url.path());
    assert_eq!(pending.url.query(), None, "no state, nonce or code challenge in the link");
    for secret in ["state", "nonce", "code_challenge"] {
        let value = pending.param(secret).expect("the IdP URL carries it");
        assert!(!pending.url.as_str().contains(&value), "{secret} leaked into the link");
    }
    // Someone opens the link again (the first use was the test's): the sign-in stops.
    let again = http().get(pending.url.clone()).send().await.expect("GET the link again");
    assert_eq!(again.status().as_u16(), 400);
    let out = pending.finish().await;
    assert!(matches!(out.code, Some(c) if c != 0), "login fails: {out:?}");
    assert!(out.stderr.contains("opened twice"), "{out:?}");
    assert_eq!(ds.stats().idp.authorization_code_grants, 0, "no code was redeemed");
}

/// A workspace answers the exchange with an `error_description` of terminal escapes (`ESC[2J`
/// clears the screen, an OSC 8 link hides its target, U+202E reverses text). What `refresh`,
/// `status` and `log` print, and `audit.jsonl` and `state.json`, carry the text made visible,
/// never an escape (the review saw them printed raw).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn escape_sequences_from_a_server_never_reach_the_terminal_or_the_files() {
    use lakepass_devstack::{FaultKind, FaultRule, Target};
    let ds = start_devstack(HOUR).await;
    let home = TempHome::new();
    home.write_devstack_config(&ds);
    home.login(&[]).await;
    let body = serde_json::json!({
        "error": "invalid_request",
        "error_description":
            "\u{1b}[2Jcall \u{1b}]8;;https://evil.example\u{7}your admin\u{1b}]8;;\u{7} \u{202e}gnp.exe",
    })
    .to_string();
    let fault = FaultKind::Body { code: 400, body, content_type: None };
    ds.faults().add(FaultRule::new(Target::WorkspaceToken, fault).on_workspace("dev"));
    let raw = |text: &str| text.contains('\u{1b}') || text.contains('\u{7}') || text.contains('\u{202e}');
    let refresh = home.run(&["refresh", "-w", "dev"]).await;
    assert_ne!(refresh.code, Some(0), "{refresh:?}");
    assert!(refresh.stderr.contains("\\u{1b}[2Jcall"), "the text is kept, made visible: {refresh:?}");
    for out in [
        refresh,
        home.run(&["status"]).await,
        home.run(&["log"]).await,
        home.run(&["status", "--json"]).await,
    ] {
        assert!(!raw(&out.stdout) && !raw(&out.stderr), "{out:?}");
    }
    for file in ["audit.jsonl", "state.json"] {
        let text = std::fs::read_to_string(home.data_dir().join(file)).unwrap();
        assert!(text.contains("2Jcall"), "{file} has the failure: {text}");
        let escaped = ["\\u001b", "\\u0007", "\\u202e"].iter().any(|e| text.to_lowercase().contains(e));
        assert!(!raw(&text) && !escaped, "{file}: {text}");
    }
}

/// Runs `curl` as another local user (uid 65534, the review's second user) and returns the
/// HTTP status it got, or `None` when this machine cannot run a command as another user (not
/// root, no `setpriv`), which [`may_skip`] decides about.
async fn curl_as_another_user(method: &str, url: &str) -> Option<String> {
    let out = tokio::process::Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "curl", "-q", "-s", "-o", "/dev/null"])
        .args(["-w", "%{http_code}", "-X", method, "--max-time", "20", url])
        .env("HOME", "/")
        .output()
        .await;
    match out {
        Ok(o) if o.status.success() => Some(String::from_utf8_lossy(&o.stdout).trim().to_string()),
        Ok(o)
            if may_skip(&format!(
                "cannot run curl as another user: {}",
                String::from_utf8_lossy(&o.stderr)
            )) =>
        {
            None
        }
        Err(e) if may_skip(&format!("cannot run setpriv: {e}")) => None,
        other => panic!("curl as another user failed: {other:?}"),
    }
}

/// Issue 23 M1 (login CSRF): the one-time start link is in the browser's argv, so another local
/// user can read it in `/proc/*/cmdline` and used to open it first, sign in as themselves and
/// leave this user's Lakepass signed in as the attacker. Now the listener serves only sockets of
/// its own user: the other user's start link and callback get 403 and change nothing, and the
/// real browser then signs in as the right person, named on its page and by `login`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_user_cannot_complete_a_sign_in_through_the_start_link() {
    let ds = start_devstack(HOUR).await;
    let home = TempHome::new();
    home.write_devstack_config(&ds);
    let (proc, start) = Proc::spawn_until(
        "lakepass login",
        home.lakepass(&["login", "--no-browser", "--timeout", "60"]),
        Stream::Stderr,
        Duration::from_secs(30),
        |line| url::Url::parse(line.trim()).ok().filter(|u| u.scheme() == "http"),
    )
    .await;
    let callback = format!("http://127.0.0.1:{}/callback?code=attacker&state=guess", start.port().unwrap());

    // The attacker first: the start link they read from `ps`, then a callback of their own.
    let Some(status) = curl_as_another_user("GET", start.as_str()).await else { return };
    assert_eq!(status, "403", "another user's visit to the start link is refused");
    let Some(status) = curl_as_another_user("GET", &callback).await else { return };
    assert_eq!(status, "403", "another user's callback is refused");

    // The real browser: the start link still works (it was not used up), and sign-in completes.
    let authorize = open_start_link(&start).await;
    let resp = http().get(authorize).send().await.expect("follow the sign-in");
    let status = resp.status();
    let page = resp.text().await.unwrap_or_default();
    let out = proc.wait(Duration::from_secs(60)).await.success();
    assert!(status.is_success(), "the browser's page: HTTP {status}: {}", redact(&page));
    assert!(
        page.contains(&format!("Signed in to devstack as {USER_EMAIL}")),
        "the browser's page names who signed in: {}",
        redact(&page)
    );
    assert!(out.stderr.contains(&format!("Signed in to `devstack` as {USER_EMAIL}")), "{out:?}");
    assert_eq!(ds.stats().idp.authorization_code_grants, 1, "only the real browser's code was redeemed");
}

/// Issue 23 (info): any local user could drive the devstack's control endpoints and have its
/// auto-approve sign them in. Both now serve only the user who started the devstack.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_user_cannot_drive_the_devstack() {
    let ds = start_devstack(HOUR).await;
    let issuer = ds.info().issuer.clone();
    let authorize = format!(
        "{issuer}/authorize?client_id={}&redirect_uri=http%3A%2F%2F127.0.0.1%3A5000%2Fcallback\
         &response_type=code&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM\
         &code_challenge_method=S256&state=s&nonce=n&scope=openid",
        ds.info().client_id
    );
    for (method, url) in [
        ("GET", format!("{issuer}/_devstack/info")),
        ("POST", format!("{issuer}/_devstack/revoke")),
        ("DELETE", format!("{issuer}/_devstack/faults")),
        ("GET", authorize.clone()),
    ] {
        let Some(status) = curl_as_another_user(method, &url).await else { return };
        assert_eq!(status, "403", "{method} {} from another user", url.split('?').next().unwrap());
    }
    // The same requests from this user are served: the refusals were for the user, not the request.
    let no_redirects =
        reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    assert_eq!(no_redirects.get(&authorize).send().await.unwrap().status(), 302, "auto-approved");
    assert_eq!(http().get(format!("{issuer}/_devstack/info")).send().await.unwrap().status(), 200);
}
