//! Secrets never leak: with every log turned up to trace, no command prints a refresh token,
//! id_token or access token — except the one token `lakepass token` exists to print — and the
//! daemon's command line holds none.

use std::collections::BTreeSet;
use std::time::Duration;

use lakepass_tests::*;

const TTL: Duration = Duration::from_secs(6);

struct Captured {
    output: Output,
    /// The token this command legitimately printed on stdout (`lakepass token`).
    printed: Option<String>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_command_prints_a_secret_even_at_trace_level() {
    let ds = start_devstack(TTL).await;
    let mut home = TempHome::new();
    home.set_env("LAKEPASS_LOG", "trace");
    home.write_devstack_config(&ds);

    let mut secrets: BTreeSet<String> = BTreeSet::new();
    let mut runs: Vec<Captured> = Vec::new();

    let login = home.login(&["-vvv"]).await;
    secrets.extend(home.vault_secrets());
    runs.push(Captured { output: login, printed: None });

    for args in [
        &["-vvv", "status", "--json"][..],
        &["-vvv", "status"],
        &["-vvv", "refresh"],
        &["-vvv", "whoami", "-w", "prod"],
    ] {
        let output = home.run(args).await.success();
        secrets.extend(home.vault_secrets());
        runs.push(Captured { output, printed: None });
    }
    for args in [&["-vvv", "token", "-w", "dev"][..], &["-vvv", "token", "--json", "-w", "prod"]] {
        let output = home.run(args).await.success();
        let printed = if args.contains(&"--json") {
            output.json()["token"].as_str().map(String::from)
        } else {
            Some(output.stdout.trim().to_string())
        };
        assert!(printed.as_ref().is_some_and(|t| t.len() >= 20), "a token was printed");
        secrets.extend(home.vault_secrets());
        runs.push(Captured { output, printed });
    }

    // The daemon, long enough to refresh the IdP session (new refresh token) and re-exchange.
    let daemon = home.spawn(&["-vvv", "daemon"]);
    let grants_before = ds.stats().idp.refresh_grants;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while ds.stats().idp.refresh_grants < grants_before + 1 && std::time::Instant::now() < deadline {
        secrets.extend(home.vault_secrets());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    secrets.extend(home.vault_secrets());
    // Read while it runs (right after spawn the kernel may not have set up the new argv yet).
    let proc_file = |name: &str| std::fs::read(format!("/proc/{}/{name}", daemon.pid())).expect("read /proc");
    let (cmdline, environ) = (proc_file("cmdline"), proc_file("environ"));
    daemon.sigterm();
    let out = daemon.wait(Duration::from_secs(10)).await;
    assert_eq!(out.code, Some(0), "{out:?}");
    runs.push(Captured { output: out, printed: None });
    let stats = ds.stats();
    assert!(stats.idp.refresh_grants > grants_before, "the daemon refreshed the IdP session: {stats:?}");

    // Sanity: we really collected the session's tokens and several workspace tokens.
    let jwts = secrets.iter().filter(|s| s.starts_with("eyJ")).count();
    assert!(jwts >= 2, "id_tokens collected from the vault: {jwts}");
    assert!(secrets.len() >= 8, "collected {} secrets from the vault", secrets.len());
    let logged: usize = runs.iter().map(|r| r.output.stderr.lines().count()).sum();
    assert!(logged > 50, "trace logging produced output ({logged} lines)");

    let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
    assert!(
        cmdline.contains("lakepass") && cmdline.contains("daemon"),
        "read the daemon's own argv: {cmdline}"
    );
    let environ = String::from_utf8_lossy(&environ);
    assert!(environ.contains("LAKEPASS_DATA_DIR="), "read the daemon's own environment");
    for s in &secrets {
        let fp = &fingerprint(s)[..12];
        assert!(!cmdline.contains(s.as_str()), "the daemon's argv holds a secret (sha256 {fp}…)");
        assert!(!environ.contains(s.as_str()), "the daemon's environment holds a secret (sha256 {fp}…)");
    }
    for run in &runs {
        for s in &secrets {
            let fp = &fingerprint(s)[..12];
            assert!(
                !run.output.stderr.contains(s.as_str()),
                "`{}` printed a secret (sha256 {fp}…) on stderr",
                run.output.what
            );
            let allowed = run.printed.as_deref() == Some(s.as_str());
            assert!(
                allowed || !run.output.stdout.contains(s.as_str()),
                "`{}` printed a secret (sha256 {fp}…) on stdout",
                run.output.what
            );
        }
    }
}
