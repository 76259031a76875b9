//! Federation that explains itself, through the built binary: `doctor` names a misconfigured
//! policy (text and `--json`), an M2M secret entered on stdin stays in the vault, `admin
//! --dry-run` prints exactly the request, admin commands work on the devstack, `idp add
//! --preset` fills an IdP in, and the audit log holds no secret, survives rotation and skips a
//! corrupt line.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncWriteExt;

use lakepass_tests::*;

async fn run_with_stdin(home: &TempHome, args: &[&str], stdin: &str) -> Output {
    let mut cmd = home.lakepass(args);
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).kill_on_drop(true);
    let mut child = cmd.spawn().expect("lakepass starts");
    let mut pipe = child.stdin.take().unwrap();
    pipe.write_all(stdin.as_bytes()).await.unwrap();
    drop(pipe);
    let out =
        tokio::time::timeout(COMMAND_TIMEOUT, child.wait_with_output()).await.expect("in time").unwrap();
    Output {
        what: format!("lakepass {}", args.join(" ")),
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_names_a_trailing_slash_issuer_in_text_and_json() {
    let ds = start_devstack(Duration::from_secs(3600)).await;
    let info = ds.info().clone();
    let home = TempHome::new();
    let slashed = format!("{}/", info.issuer);
    home.write_config(&format!(
        "{}\n[workspace.dev.policy]\nissuer = \"{slashed}\"\naudiences = [\"{}\"]\nsubject_claim = \"email\"\n",
        devstack_config(&ds),
        info.client_id
    ));
    home.login(&[]).await.success();
    home.run(&["doctor", "-w", "prod"]).await.success();
    ds.set_federation_policies(
        "dev",
        vec![devstack::FederationPolicy {
            subject_claim: "email".into(),
            ..devstack::FederationPolicy::new(&slashed, vec![info.client_id.clone()])
        }],
    );
    let out = home.run(&["doctor", "-w", "dev"]).await.code(5);
    assert!(out.stdout.contains("✓ Signature") && out.stdout.contains("✗ Federation policy"), "{out:?}");
    assert!(out.stdout.contains("only by a trailing slash") && out.stdout.contains("    fix: "), "{out:?}");
    assert!(!out.stdout.contains("✓ Token exchange"), "the chain stops at the first broken link: {out:?}");
    let json = home.run(&["doctor", "-w", "dev", "--json"]).await.code(5).json();
    let failed = json["steps"].as_array().unwrap().iter().find(|s| s["status"] == "failed").unwrap().clone();
    assert_eq!(failed["problem"]["kind"], "issuer_trailing_slash", "{json}");
    assert_eq!(json["claims"]["subject_claim"], "email");
    // The exchange error itself points at the doctor.
    let refresh = home.run(&["refresh", "-w", "dev"]).await.code(5);
    assert!(refresh.stderr.contains("lakepass doctor --workspace dev"), "{refresh:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn m2m_secret_stays_in_the_vault_and_admin_dry_run_prints_exactly_the_request() {
    let ds = start_devstack(Duration::from_secs(3600)).await;
    let info = ds.info().clone();
    let dev = ws_host(&ds, "dev");
    let home = TempHome::new();
    home.write_config(&format!(
        "{}\n[workspace.robot]\nauth = \"m2m\"\nhost = \"{dev}\"\nclient_id = \"{}\"\naccount_id = \"{}\"\naccount_host = \"{}\"\nprofile = \"robot\"\n",
        devstack_config(&ds),
        info.service_principal.client_id,
        info.account_id,
        info.account_host
    ));
    let secret = info.service_principal.client_secret.clone();
    let mut outputs = Vec::new();
    outputs.push(
        run_with_stdin(&home, &["workspace", "set-secret", "robot"], &format!("{secret}\n")).await.success(),
    );
    outputs.push(home.run(&["token", "-w", "robot", "--json"]).await.success());
    let who = home.run(&["whoami", "-w", "robot"]).await.success();
    assert!(
        who.stdout
            .contains(&format!("service principal, application id {}", info.service_principal.client_id)),
        "{who:?}"
    );
    outputs.push(who);
    outputs.push(home.run(&["doctor", "-w", "robot"]).await.success());

    let dry = home
        .run(&["admin", "-w", "robot", "policy", "create", "--from-idp", "devstack", "--dry-run"])
        .await
        .success();
    let want = format!(
        "POST {accounts}/api/2.0/accounts/{acct}/federationPolicies\nAccept: application/json\nAuthorization: Bearer <withheld>\n\
         Content-Type: application/json\nUser-Agent: lakepass/{ver}\n\n{{\n  \"oidc_policy\": {{\n    \"audiences\": [\n      \"{cid}\"\n    ],\n    \
         \"issuer\": \"{iss}\",\n    \"subject_claim\": \"sub\"\n  }}\n}}\n",
        accounts = info.account_host,
        acct = info.account_id,
        ver = env!("CARGO_PKG_VERSION"),
        cid = info.client_id,
        iss = info.issuer
    );
    assert_eq!(dry.stdout, want);
    let gw = home
        .run(&[
            "admin",
            "-w",
            "robot",
            "gateway",
            "set",
            "anthropic",
            "--user-rate",
            "10",
            "--usage-tracking",
            "true",
            "--dry-run",
        ])
        .await
        .success();
    assert_eq!(
        gw.stdout,
        format!(
            "PUT {dev}/api/2.0/serving-endpoints/anthropic/ai-gateway\nAccept: application/json\nAuthorization: Bearer <withheld>\n\
             Content-Type: application/json\nUser-Agent: lakepass/{}\n\n{{\n  \"rate_limits\": [\n    {{\n      \"calls\": 10,\n      \
             \"key\": \"user\",\n      \"renewal_period\": \"minute\"\n    }}\n  ],\n  \"usage_tracking_config\": {{\n    \"enabled\": true\n  }}\n}}\n",
            env!("CARGO_PKG_VERSION")
        )
    );
    assert!(ds.stats().workspaces["dev"].api_calls_ok <= 1, "dry runs send nothing");

    // For real: create, list, delete a policy; an endpoint and its gateway options.
    let created = home
        .run(&["admin", "-w", "robot", "policy", "create", "--from-idp", "devstack", "--policy-id", "corp"])
        .await
        .success();
    assert_eq!(created.json()["policy_id"], "corp");
    let listed = home.run(&["admin", "-w", "robot", "policy", "list"]).await.success().json();
    assert_eq!(listed["policies"].as_array().unwrap().len(), 1);
    home.run(&["admin", "-w", "robot", "endpoint", "create", "anthropic", "--secret-ref", "llm/anthropic"])
        .await
        .success();
    home.run(&["admin", "-w", "robot", "gateway", "set", "anthropic", "--user-rate", "10", "--pii", "block"])
        .await
        .success();
    let ep = home.run(&["admin", "-w", "robot", "endpoint", "get", "anthropic"]).await.success().json();
    assert_eq!(ep["ai_gateway"]["guardrails"]["input"]["pii"]["behavior"], "BLOCK");
    home.run(&["admin", "-w", "robot", "policy", "delete", "corp"]).await.success();

    // A service principal's policy, named by application id (looked up) or by numeric id.
    let sp_app = info.service_principal.client_id.clone();
    let dry = home
        .run(&["admin", "-w", "robot", "sp-policy", "list", "--service-principal", &sp_app, "--dry-run"])
        .await
        .success();
    assert!(
        dry.stdout.starts_with(&format!(
            "GET {}/api/2.0/accounts/{}/scim/v2/ServicePrincipals?filter=applicationId+eq+%22{sp_app}%22\n",
            info.account_host, info.account_id
        )),
        "{dry:?}"
    );
    let sp = home
        .run(&[
            "admin",
            "-w",
            "robot",
            "sp-policy",
            "create",
            "--service-principal",
            &sp_app,
            "--issuer",
            "https://token.actions.githubusercontent.com",
            "--audience",
            "https://github.com/corp",
            "--subject",
            "repo:corp/app:environment:prod",
            "--policy-id",
            "gha",
        ])
        .await
        .success()
        .json();
    let sp_id = sp["service_principal_id"].as_u64().expect("a numeric service principal id");
    let by_id = home
        .run(&["admin", "-w", "robot", "sp-policy", "list", "--service-principal-id", &sp_id.to_string()])
        .await
        .success()
        .json();
    assert_eq!(by_id["policies"][0]["policy_id"], "gha", "{by_id}");
    let both = home
        .run(&[
            "admin",
            "-w",
            "robot",
            "sp-policy",
            "list",
            "--service-principal",
            &sp_app,
            "--service-principal-id",
            "1",
        ])
        .await;
    both.code(2);
    let subject = home
        .run(&[
            "admin",
            "-w",
            "robot",
            "policy",
            "create",
            "--issuer",
            "https://i.example.com",
            "--subject",
            "x",
        ])
        .await
        .code(2);
    assert!(subject.stderr.contains("--subject"), "an account policy takes no --subject: {subject:?}");
    let pinned = home
        .run(&[
            "admin",
            "-w",
            "robot",
            "policy",
            "create",
            "--issuer",
            "https://i.example.com",
            "--jwks-uri",
            "https://i.example.com/keys",
            "--dry-run",
        ])
        .await
        .success();
    assert!(pinned.stdout.contains("\"jwks_uri\": \"https://i.example.com/keys\""), "{pinned:?}");
    home.run(&["admin", "-w", "robot", "sp-policy", "delete", "--service-principal", &sp_app, "gha"])
        .await
        .success();
    assert!(
        home.run(&["admin", "-w", "robot", "policy", "list"]).await.success().json()["policies"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    outputs.push(home.run(&["log", "--json"]).await.success());

    // The secret: in the vault, nowhere else.
    assert!(home.vault_secrets().contains(&secret), "the secret is in the vault");
    for o in &outputs {
        assert!(!o.stdout.contains(&secret) && !o.stderr.contains(&secret), "{o:?}");
    }
    for f in files(home.root()) {
        if f.file_name().is_some_and(|n| n == "vault.json") {
            continue;
        }
        let text = String::from_utf8_lossy(&std::fs::read(&f).unwrap_or_default()).into_owned();
        assert!(!text.contains(&secret), "{} holds the client secret", f.display());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_log_has_no_secret_survives_rotation_and_skips_a_corrupt_line() {
    let ds = start_devstack(Duration::from_secs(3600)).await;
    let home = TempHome::new();
    home.write_devstack_config(&ds);
    home.login(&[]).await.success();
    home.run(&["refresh"]).await.success();
    let audit = home.data_dir().join("audit.jsonl");
    let text = std::fs::read_to_string(&audit).expect("audit log written");
    for s in home.vault_secrets() {
        assert!(!text.contains(&s), "the audit log holds a secret (sha256 {})", &fingerprint(&s)[..8]);
    }
    assert!(text.contains("\"event\":\"sign_in\"") && text.contains("\"event\":\"exchange\""), "{text}");

    // Fill the log past 1 MiB with valid lines, add a corrupt one: the next event rotates it.
    let line = text.lines().next().unwrap().to_string();
    let mut big = String::new();
    while big.len() < 1024 * 1024 {
        big.push_str(&line);
        big.push('\n');
    }
    big.push_str("{\"time\": \"2025-01-01T00:00:00Z\", \"event\": tru\n");
    std::fs::write(&audit, big).unwrap();
    home.run(&["refresh", "-w", "prod"]).await.success();
    assert!(home.data_dir().join("audit.jsonl.1").exists(), "rotated");
    assert!(std::fs::metadata(&audit).unwrap().len() < 4096);
    let out = home.run(&["log", "-n", "3"]).await.success();
    assert!(out.stderr.contains("skipped line"), "{out:?}");
    assert_eq!(out.stdout.lines().count(), 3, "{out:?}");
    assert!(
        out.stdout.lines().last().unwrap().contains("exchange") && out.stdout.contains("prod"),
        "{out:?}"
    );
    let json = home.run(&["log", "-n", "1", "--json"]).await.success();
    let last: serde_json::Value = serde_json::from_str(json.stdout.trim()).unwrap();
    assert_eq!((last["workspace"].as_str(), last["outcome"].as_str()), (Some("prod"), Some("ok")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idp_presets_fill_issuer_scopes_and_redirect_port() {
    let home = TempHome::new();
    let out = home
        .run(&[
            "idp",
            "add",
            "corp",
            "--preset",
            "auth0",
            "--domain",
            "acme.eu.auth0.com",
            "--client-id",
            "abc",
        ])
        .await
        .success();
    assert!(out.stderr.contains("http://127.0.0.1:8400/callback"), "{out:?}");
    home.run(&["idp", "add", "ms", "--preset", "entra", "--tenant", "t-1", "--client-id", "c"])
        .await
        .success();
    let text = std::fs::read_to_string(home.config_path()).unwrap();
    assert!(text.contains("issuer = \"https://acme.eu.auth0.com/\""), "{text}");
    assert!(text.contains("redirect_port = 8400"), "{text}");
    assert!(text.contains("issuer = \"https://login.microsoftonline.com/t-1/v2.0\""), "{text}");
    assert!(text.contains("\"offline_access\""), "{text}");
    let bad = home
        .run(&["idp", "add", "kc", "--preset", "keycloak", "--url", "https://kc", "--client-id", "c"])
        .await;
    assert_eq!(bad.code, Some(2), "a preset argument error is bad usage: {bad:?}");
    assert!(bad.stderr.contains("--realm"), "{bad:?}");
}

fn files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// A loopback stand-in for login.microsoftonline.com that serves one tenant's OIDC discovery
/// document, shaped as Entra's (`issuer` names the tenant GUID), and 404 for anything else.
async fn entra_discovery(domain: &'static str, guid: &'static str) -> String {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let issuer_base = base.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let issuer_base = issuer_base.clone();
            tokio::spawn(async move {
                let mut stream = BufReader::new(stream);
                let mut line = String::new();
                stream.read_line(&mut line).await.ok()?;
                loop {
                    let mut header = String::new();
                    stream.read_line(&mut header).await.ok()?;
                    if header.trim().is_empty() {
                        break;
                    }
                }
                let path = line.split_whitespace().nth(1).unwrap_or_default();
                let (status, body) = if path == format!("/{domain}/v2.0/.well-known/openid-configuration") {
                    let b = serde_json::json!({
                        "issuer": format!("{issuer_base}/{guid}/v2.0"),
                        "authorization_endpoint": format!("{issuer_base}/{guid}/oauth2/v2.0/authorize"),
                        "token_endpoint": format!("{issuer_base}/{guid}/oauth2/v2.0/token"),
                        "jwks_uri": format!("{issuer_base}/{guid}/discovery/v2.0/keys"),
                    });
                    ("200 OK", b.to_string())
                } else {
                    ("404 Not Found", "{}".to_string())
                };
                let resp = format!(
                    "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                stream.into_inner().write_all(resp.as_bytes()).await.ok()
            });
        }
    });
    base
}

/// `--tenant contoso.onmicrosoft.com` is looked up: the stored issuer names the tenant GUID,
/// as Entra's tokens do, never the domain (which no token carries).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_entra_tenant_domain_is_stored_as_its_guid_issuer() {
    let guid = "9188040d-6c67-4c5b-b112-36a304b66dad";
    let authority = entra_discovery("contoso.onmicrosoft.com", guid).await;
    let mut home = TempHome::new();
    home.set_env("LAKEPASS_ENTRA_AUTHORITY", authority.clone());
    let add = |name: &'static str, tenant: &'static str| {
        ["idp", "add", name, "--preset", "entra", "--tenant", tenant, "--client-id", "c"]
    };
    home.run(&add("corp", "contoso.onmicrosoft.com")).await.success();
    let text = std::fs::read_to_string(home.config_path()).unwrap();
    assert!(text.contains(&format!("issuer = \"https://login.microsoftonline.com/{guid}/v2.0\"")), "{text}");
    assert!(!text.contains("contoso"), "{text}");
    // A domain the authority does not know, and the multi-tenant pseudo-tenant, are refused.
    let unknown = home.run(&add("other", "fabrikam.onmicrosoft.com")).await.code(2);
    assert!(unknown.stderr.contains("fabrikam.onmicrosoft.com"), "{unknown:?}");
    home.run(&add("multi", "common")).await.code(2);
    // Only a loopback URL may stand in for Microsoft's authority.
    home.set_env("LAKEPASS_ENTRA_AUTHORITY", "https://login.evil.example");
    home.run(&add("evil", "contoso.onmicrosoft.com")).await.code(2);
}

/// `doctor --admin-workspace` fetches the account's policies with the M2M workspace's account
/// token; a service principal the account does not know is reported, and the chain goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_with_an_admin_workspace_reports_a_failed_lookup_and_goes_on() {
    let ds = start_devstack(Duration::from_secs(3600)).await;
    let info = ds.info().clone();
    let dev = ws_host(&ds, "dev");
    let home = TempHome::new();
    let robot = format!(
        "{}\n[workspace.robot]\nauth = \"m2m\"\nhost = \"{dev}\"\nclient_id = \"{}\"\naccount_id = \"{}\"\naccount_host = \"{}\"\nprofile = \"robot\"\n",
        devstack_config(&ds),
        info.service_principal.client_id,
        info.account_id,
        info.account_host,
    );
    home.write_config(&robot);
    run_with_stdin(
        &home,
        &["workspace", "set-secret", "robot"],
        &format!("{}\n", info.service_principal.client_secret),
    )
    .await
    .success();
    home.login(&[]).await;
    // A workspace whose service principal the account does not have, added after sign-in.
    home.write_config(&format!(
        "{robot}\n[workspace.partner]\nidp = \"devstack\"\nhost = \"{dev}\"\nclient_id = \"0e0e0e0e-not-in-the-account\"\naccount_id = \"{}\"\nprofile = \"partner\"\n",
        info.account_id
    ));
    let ok = home.run(&["doctor", "-w", "dev", "--admin-workspace", "robot"]).await.success();
    assert!(ok.stdout.contains("the account has no federation policy"), "{ok:?}");
    let json =
        home.run(&["doctor", "-w", "partner", "--admin-workspace", "robot", "--json"]).await.code(5).json();
    let steps = json["steps"].as_array().unwrap();
    let warned = steps.iter().find(|s| s["status"] == "warning" && s["id"] == "policy");
    assert!(
        warned.is_some_and(|s| s["detail"].as_str().unwrap().contains("0e0e0e0e-not-in-the-account")),
        "{json}"
    );
    assert_eq!(steps.last().unwrap()["id"], "exchange", "the chain went on: {json}");
    // The admin token came from the account's own token endpoint, not a workspace's.
    assert_eq!(ds.stats().workspaces["dev"].client_credentials_ok, 0, "{:?}", ds.stats());
}
