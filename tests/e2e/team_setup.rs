//! `lakepass setup FILE`: a team's shared file adds an IdP and two workspaces to a user's
//! commented config, signs in, and `status` shows both workspaces fresh; a file holding a secret
//! or an unknown key is refused with its line and leaves the config byte-identical.

use std::time::Duration;

use lakepass_tests::*;

const HOUR: Duration = Duration::from_secs(3600);

/// The user's own config before set-up: a comment and a setting of theirs, no workspace.
const MINE: &str = "# my own notes, keep them\nlaunch_dir = \"~/src\"\n";

fn team_file(ds: &Devstack) -> String {
    let info = ds.info();
    format!(
        "# Acme's Lakepass set-up\n[idp.acme]\nissuer = \"{}\"\nclient_id = \"{}\"\n\n\
         [workspace.analytics]\nidp = \"acme\"\nhost = \"{}\"\nprofile = \"acme-analytics\"\n\n\
         [workspace.ml]\nidp = \"acme\"\nhost = \"{}\"\nprofile = \"acme-ml\"\n\n\
         [claude.analytics]\nbase_path = \"/ai-gateway/anthropic\"\n",
        info.issuer,
        info.client_id,
        ws_host(ds, "dev"),
        ws_host(ds, "prod"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setup_adds_a_teams_idp_and_workspaces_then_signs_in() {
    let ds = start_devstack(HOUR).await;
    let home = TempHome::new();
    home.write_config(MINE);
    let team = home.root().join("acme.toml");
    std::fs::write(&team, team_file(&ds)).unwrap();
    let team_arg = team.to_str().unwrap();

    // Without a terminal and without --yes: the plan is shown, nothing is written.
    let out = home.run(&["setup", team_arg, "--no-login"]).await.code(2);
    assert!(out.stdout.contains("+ [idp.acme]") && out.stdout.contains("+ [workspace.ml]"), "{out:?}");
    assert!(out.stderr.contains("--yes"), "{out:?}");
    assert_eq!(std::fs::read_to_string(home.config_path()).unwrap(), MINE);

    // Issue 23, M2 (a deliberate change): the devstack's workspaces are on loopback, not a
    // Databricks workspace domain, and another local user could hold their ports: the plan names
    // every host that receives a token, and --yes alone does not trust them.
    let (dev, prod) = (ws_host(&ds, "dev"), ws_host(&ds, "prod"));
    for host in [&dev, &prod] {
        assert!(out.stdout.contains(&format!("!! {host}  (NOT a Databricks workspace domain")), "{out:?}");
    }
    let out = home.run(&["setup", team_arg, "--yes", "--no-login", "--trust-host", &dev]).await.code(2);
    assert!(out.stderr.contains(&format!("`{prod}`, which is not a Databricks workspace domain")), "{out:?}");
    assert!(!out.stderr.contains(&format!("`{dev}`")), "the named host is trusted: {out:?}");
    assert_eq!(std::fs::read_to_string(home.config_path()).unwrap(), MINE);

    // With --yes and each host named: merged, then the sign-in the test completes as the browser.
    let trusted = ["--trust-host", dev.as_str(), "--trust-host", prod.as_str()];
    let args = [&["setup", team_arg, "--yes", "--no-browser", "--timeout", "60"][..], &trusted[..]].concat();
    let pending = home.start_sign_in(&args).await;
    let resp = http().get(pending.idp_url.clone()).send().await.expect("follow the sign-in URL");
    assert!(resp.status().is_success(), "{resp:?}");
    let out = pending.finish().await.success();
    assert!(out.stdout.contains("+ [workspace.analytics]"), "{out:?}");
    assert!(out.stderr.contains(&format!("Signed in to `acme` as {USER_EMAIL}")), "{out:?}");

    let config = std::fs::read_to_string(home.config_path()).unwrap();
    assert!(config.starts_with(MINE), "the user's lines are kept byte for byte:\n{config}");
    assert!(config.contains("# Acme's Lakepass set-up\n[idp.acme]"), "{config}");

    let status = home.run(&["status", "--json"]).await.success().json();
    let rows = status["workspaces"].as_array().expect("workspaces");
    let names: Vec<&str> = rows.iter().filter_map(|r| r["name"].as_str()).collect();
    assert_eq!(names, ["analytics", "ml"], "{status:#}");
    for row in rows {
        assert_eq!(row["state"], "fresh", "{status:#}");
    }
    assert!(home.profile_value("acme-ml", "token").is_some(), "the token reached the profile");

    // Again: everything is already there; nothing changes.
    let before = std::fs::read(home.config_path()).unwrap();
    let out = home.run(&["setup", team_arg, "--no-login"]).await.success();
    assert!(out.stdout.contains("= [workspace.ml] already in your config"), "{out:?}");
    assert_eq!(std::fs::read(home.config_path()).unwrap(), before);

    // A team whose IdP differs from the user's `acme`: reported, not overwritten.
    let other = team_file(&ds).replace(&ds.info().client_id, "another-client");
    std::fs::write(&team, other).unwrap();
    let out = home.run(&["setup", team_arg, "--yes", "--no-login"]).await.code(2);
    assert!(out.stdout.contains("! [idp.acme] differs from yours"), "{out:?}");
    assert!(out.stdout.contains("client_id: yours"), "{out:?}");
    assert!(out.stderr.contains("idp.acme") && out.stderr.contains("--replace"), "{out:?}");
    assert_eq!(std::fs::read(home.config_path()).unwrap(), before, "config untouched");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setup_refuses_a_team_file_with_a_secret_or_an_unknown_key_naming_its_line() {
    let ds = start_devstack(HOUR).await;
    let home = TempHome::new();
    home.write_config(MINE);
    let before = std::fs::read(home.config_path()).unwrap();
    let team = home.root().join("acme.toml");
    let good = team_file(&ds);
    let after_host = |extra: &str| {
        good.replacen("profile = \"acme-ml\"\n", &format!("profile = \"acme-ml\"\n{extra}\n"), 1)
    };
    let cases = [
        (after_host("client_secret = \"s3cr3t-value\""), "workspace.ml.client_secret", "secret"),
        (after_host("token = \"dapi0123456789abcdef0123456789abcdef\""), "workspace.ml.token", "secret"),
        (after_host("hots = \"typo\""), "workspace.ml.hots", "unknown field"),
    ];
    for (text, field, needle) in cases {
        let line = text
            .lines()
            .position(|l| l.contains(field.rsplit('.').next().unwrap()) && !l.starts_with('['))
            .unwrap()
            + 1;
        std::fs::write(&team, &text).unwrap();
        let out = home.run(&["setup", team.to_str().unwrap(), "--yes"]).await.code(2);
        let at = format!("{}:{line}: {field}", team.display());
        assert!(out.stderr.contains(&at), "names {at}: {out:?}");
        assert!(out.stderr.contains(needle), "{out:?}");
        assert!(!out.stderr.contains("s3cr3t") && !out.stderr.contains("dapi0"), "no secret echoed: {out:?}");
        assert_eq!(std::fs::read(home.config_path()).unwrap(), before, "config byte-identical");
    }
    assert_eq!(ds.stats().idp.authorization_code_grants, 0, "no sign-in was started");
}

/// Issue 23, H1: signed in at the real IdP, the user imports a team file that repeats
/// `[idp.devstack]` with another issuer (`setup --replace --yes --no-login`). The replaced IdP's
/// session is deleted, and when the IdP token is stale, `refresh` asks for a sign-in instead of
/// presenting the refresh token to the new issuer, which never receives it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setup_replacing_an_idp_never_sends_its_refresh_token_to_the_new_issuer() {
    let ds = start_devstack(Duration::from_secs(6)).await;
    let other = start_devstack(HOUR).await;
    let home = TempHome::new();
    home.write_devstack_config(&ds);
    home.login(&[]).await;
    assert!(home.vault_keys().iter().any(|k| k.starts_with("idp:devstack@")), "{:?}", home.vault_keys());

    let team = home.root().join("team.toml");
    let (issuer, client) = (&other.info().issuer, &other.info().client_id);
    std::fs::write(&team, format!("[idp.devstack]\nissuer = \"{issuer}\"\nclient_id = \"{client}\"\n"))
        .unwrap();
    let out =
        home.run(&["setup", team.to_str().unwrap(), "--replace", "--yes", "--no-login"]).await.success();
    assert!(out.stdout.contains(&format!("issuer: yours \"{}\"", ds.info().issuer)), "{out:?}");
    assert!(out.stderr.contains("Removed the sign-in session of identity provider `devstack`"), "{out:?}");
    assert!(!home.vault_keys().iter().any(|k| k.starts_with("idp:")), "{:?}", home.vault_keys());

    // The 6 s id_token is stale once less than 4/5 of its life is left: after 1.2 s.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let out = home.run(&["refresh", "-w", "dev"]).await.code(3);
    assert!(out.stderr.contains("lakepass login --idp devstack"), "{out:?}");
    let stats = other.stats().idp;
    assert_eq!((stats.refresh_grants, stats.refresh_failures), (0, 0), "the new issuer saw no refresh token");
}

/// Issue 23, M2 at a terminal: `setup` shows each host outside the Databricks domains and asks
/// for it by name; anything but its address stops the import, and typing it imports. The
/// terminal is a real pseudo-terminal (util-linux `script`), fed the answers on its input.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setup_at_a_terminal_asks_for_each_foreign_host_by_name() {
    let ds = start_devstack(HOUR).await;
    let home = TempHome::new();
    home.write_config(MINE);
    let dev = ws_host(&ds, "dev");
    let team = home.root().join("acme.toml");
    let info = ds.info();
    let text = format!(
        "[idp.acme]\nissuer = \"{}\"\nclient_id = \"{}\"\n\n[workspace.analytics]\nidp = \"acme\"\nhost = \"{dev}\"\n",
        info.issuer, info.client_id
    );
    std::fs::write(&team, text).unwrap();
    let at_terminal = |answers: &str| {
        let setup = format!("{} setup {} --no-login", lakepass_bin().display(), team.display());
        let mut cmd = home.command("sh");
        cmd.arg("-c").arg(format!("printf '{answers}' | script -qec '{setup}' /dev/null"));
        let mut p = Proc::spawn("lakepass setup at a terminal", cmd);
        p.close_stdin();
        p.wait(Duration::from_secs(60))
    };

    let out = at_terminal("y\\n").await;
    assert_ne!(out.code, Some(0), "{out:?}");
    assert!(
        out.stdout.contains(&format!("{dev} (workspace.analytics) is NOT a Databricks workspace domain")),
        "{out:?}"
    );
    assert!(out.stdout.contains("not trusted; nothing was changed"), "a `y` is not the host's name: {out:?}");
    assert_eq!(std::fs::read_to_string(home.config_path()).unwrap(), MINE);

    let bare = dev.trim_start_matches("http://");
    let out = at_terminal(&format!("{bare}\\ny\\n")).await;
    assert_eq!(out.code, Some(0), "{out:?}");
    let config = std::fs::read_to_string(home.config_path()).unwrap();
    assert!(config.contains("[workspace.analytics]"), "{config}");
}
