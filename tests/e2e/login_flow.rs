//! Sign-in end to end: config made with `lakepass idp add` / `workspace add`, `login`, then
//! `status`, `~/.databrickscfg` (other people's bytes kept), `token` in its three modes, and
//! `whoami`, all checked against what the devstack workspaces accept.

use std::time::Duration;

use lakepass_tests::*;

/// What the user already had in `~/.databrickscfg`: a comment, someone else's profile, a
/// `#` comment. Lakepass must keep every byte of it.
const FOREIGN_PREFIX: &str = "; my notes\n[foreign]\nhost = https://x\ntoken = dapi-foreign\n";
const FOREIGN_SUFFIX: &str = "\n# hash comment\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_writes_profiles_keeps_foreign_bytes_and_serves_working_tokens() {
    let ds = start_devstack(Duration::from_secs(3600)).await;
    let home = TempHome::new();
    let (dev, prod) = (ws_host(&ds, "dev"), ws_host(&ds, "prod"));
    let issuer = ds.info().issuer.clone();

    // The config, made through the CLI.
    home.run(&["idp", "add", "devstack", "--issuer", &issuer, "--client-id", "lakepass-dev"]).await.success();
    for (name, host) in [("dev", &dev), ("prod", &prod)] {
        let profile = format!("devstack-{name}");
        home.run(&["workspace", "add", name, "--host", host, "--profile", &profile]).await.success();
    }
    home.run(&["workspace", "use", "dev"]).await.success();
    let listed = home.run(&["workspace", "list"]).await.success();
    assert!(
        listed.stdout.lines().any(|l| l.starts_with('*') && l.contains("dev") && l.contains(&dev)),
        "`workspace list` marks dev active: {listed:?}"
    );
    let config = std::fs::read_to_string(home.config_path()).expect("config written");
    assert!(config.contains(&issuer) && config.contains(&prod), "config:\n{config}");

    let original = format!("{FOREIGN_PREFIX}{FOREIGN_SUFFIX}");
    std::fs::write(home.databrickscfg(), &original).unwrap();

    let login = home.login(&[]).await;
    assert!(
        login.stderr.contains(&format!("Signed in to `devstack` as {USER_EMAIL}")),
        "login names the user: {login:?}"
    );

    // status --json: both workspaces fresh, about an hour left, secrets in the file vault.
    let status = home.run(&["status", "--json"]).await.success().json();
    let rows = status["workspaces"].as_array().expect("workspaces array");
    assert_eq!(rows.len(), 2, "{status:#}");
    for (row, host) in rows.iter().zip([&dev, &prod]) {
        assert_eq!(row["state"], "fresh", "{status:#}");
        assert_eq!(row["host"].as_str(), Some(host.as_str()), "{status:#}");
        let left = row["seconds_left"].as_i64().expect("seconds_left");
        assert!((3000..=3600).contains(&left), "seconds_left {left}: {status:#}");
        assert!(row["last_error"].is_null(), "{status:#}");
    }
    assert_eq!(status["vault"]["kind"], "file", "{status:#}");

    // ~/.databrickscfg: the user's bytes first and untouched, then our two profiles.
    let cfg = home.databrickscfg_text();
    assert!(
        cfg.starts_with(&original),
        "the foreign profile and comments must survive byte for byte:\n{}",
        redact(&cfg)
    );
    let (p, s) = (cfg.find(FOREIGN_PREFIX), cfg.find(FOREIGN_SUFFIX));
    assert!(p.is_some() && s.is_some() && p < s, "foreign parts in order:\n{}", redact(&cfg));
    assert_eq!(ini_value(&cfg, "foreign", "token").as_deref(), Some("dapi-foreign"));
    assert_eq!(home.profile_value("devstack-dev", "host").as_deref(), Some(dev.as_str()));
    assert_eq!(home.profile_value("devstack-prod", "host").as_deref(), Some(prod.as_str()));
    let dev_tok = home.profile_value("devstack-dev", "token").expect("dev token in profile");
    let prod_tok = home.profile_value("devstack-prod", "token").expect("prod token in profile");
    assert!(dev_tok.len() >= 20 && prod_tok.len() >= 20, "tokens look real");
    assert_ne!(fingerprint(&dev_tok), fingerprint(&prod_tok), "one token per workspace");

    // token --raw: the cached token, which the dev workspace accepts.
    let raw = home.run(&["token", "--raw", "-w", "dev"]).await.success();
    let token = raw.stdout.trim().to_string();
    assert_eq!(raw.stdout, format!("{token}\n"), "--raw prints the bare token and a newline");
    assert_eq!(fingerprint(&token), fingerprint(&dev_tok), "token --raw = the profile's token");
    let (code, me) = scim_me(&dev, &token).await;
    assert_eq!(code, 200, "dev SCIM Me accepts the token: {me}");
    assert_eq!(me["userName"], USER_EMAIL);

    // token --json
    let json = home.run(&["token", "--json", "-w", "dev"]).await.success().json();
    assert_eq!(json["token"].as_str().map(fingerprint), Some(fingerprint(&token)));
    assert_eq!(json["host"].as_str(), Some(dev.as_str()));
    let expires_in = json["expires_in"].as_i64().expect("expires_in");
    assert!((3000..=3600).contains(&expires_in), "expires_in {expires_in}");

    // token --check: silent success while a valid token is cached.
    let check = home.run(&["token", "--check", "-w", "prod"]).await.success();
    assert_eq!(check.stdout, "", "--check prints nothing");

    // whoami: the workspace's own answer, through the CLI.
    let who = home.run(&["whoami", "-w", "prod"]).await.success();
    // The layout is the CLI's to choose; the values are the workspace's answer.
    assert!(who.stdout.split_whitespace().any(|w| w == USER_EMAIL), "{who:?}");
    assert!(who.stdout.contains(&prod), "{who:?}");

    // Files holding tokens are private.
    assert_eq!(mode(&home.databrickscfg()), 0o600, "~/.databrickscfg mode");
    assert_eq!(mode(&home.vault_path()), 0o600, "vault.json mode");

    // One login: one code grant, one exchange per workspace, no refresh needed.
    let stats = ds.stats();
    assert_eq!(stats.idp.authorization_code_grants, 1, "{stats:?}");
    assert_eq!(stats.workspaces["dev"].exchanges_ok, 1, "{stats:?}");
    assert_eq!(stats.workspaces["prod"].exchanges_ok, 1, "{stats:?}");

    // logout takes back exactly what Lakepass added: the user's file is as it was.
    let out = home.run(&["logout"]).await.success();
    assert!(out.stderr.contains("devstack-dev") && out.stderr.contains("devstack-prod"), "{out:?}");
    assert_eq!(
        home.databrickscfg_text(),
        original,
        "after logout ~/.databrickscfg is byte-identical to before login"
    );
    assert!(home.vault_secrets().is_empty(), "no secret left in the vault after logout");
    let status = home.run(&["status", "--json"]).await.success().json();
    assert_eq!(status["workspaces"][0]["state"], "needs_login", "{status:#}");
    home.run(&["token", "-w", "dev"]).await.code(3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_check_fails_with_6_before_login() {
    let ds = start_devstack(Duration::from_secs(3600)).await;
    let home = TempHome::new();
    home.write_devstack_config(&ds);
    let out = home.run(&["token", "--check", "-w", "dev"]).await.code(6);
    assert_eq!(out.stdout, "");
    let out = home.run(&["token", "-w", "dev"]).await.code(3);
    assert!(out.stderr.contains("lakepass login"), "{out:?}");
    assert_eq!(ds.stats().workspaces["dev"].exchanges_ok, 0);
}
