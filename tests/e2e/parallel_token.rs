//! `lakepass token --raw`, the credential helper Claude Code and scripts call often and in
//! parallel: with no engine running, ten callers racing on a token that is due make ONE
//! exchange; with `lakepass daemon` running, the answer comes from the daemon's memory over
//! the local socket (the vault is not even read), in a few milliseconds.

use std::time::{Duration, Instant};

use lakepass_tests::*;

async fn token_json(home: &TempHome) -> serde_json::Value {
    home.run(&["token", "--json", "--workspace", "dev"]).await.success().json()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_parallel_callers_without_an_engine_make_one_exchange() {
    let ttl = Duration::from_secs(20);
    let ds = start_devstack(ttl).await;
    let home = TempHome::new();
    home.write_devstack_config(&ds);
    home.login(&[]).await;
    // A 20 s token is due for refresh 10 s before it expires: wait until then.
    let left = token_json(&home).await["expires_in"].as_i64().unwrap();
    tokio::time::sleep(Duration::from_secs((left - 10).max(0) as u64) + Duration::from_millis(700)).await;

    let before = ds.stats();
    let procs: Vec<Proc> = (0..10)
        .map(|i| {
            let mut p = Proc::spawn(
                format!("lakepass token --raw #{i}"),
                home.lakepass(&["token", "--raw", "--workspace", "dev"]),
            );
            p.close_stdin();
            p
        })
        .collect();
    let mut tokens = Vec::new();
    for p in procs {
        let out = p.wait(COMMAND_TIMEOUT).await.success();
        tokens.push(out.stdout.trim().to_string());
    }
    let after = ds.stats();
    assert!(tokens.iter().all(|t| !t.is_empty() && *t == tokens[0]), "every caller got the same token");
    assert_eq!(
        after.workspaces["dev"].exchanges_ok,
        before.workspaces["dev"].exchanges_ok + 1,
        "ten parallel callers, one exchange"
    );
    assert!(after.idp.refresh_grants <= before.idp.refresh_grants + 1, "at most one IdP refresh");
    assert_eq!(after.idp.refresh_failures, 0, "no refresh-token reuse");
    let (status, _) = scim_me(&ws_host(&ds, "dev"), &tokens[0]).await;
    assert_eq!(status, 200);
}

fn median_ms(mut v: Vec<Duration>) -> f64 {
    v.sort();
    v[v.len() / 2].as_secs_f64() * 1000.0
}

async fn time_calls(home: &TempHome, n: usize) -> Vec<Duration> {
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let started = Instant::now();
        home.run(&["token", "--raw", "--workspace", "dev"]).await.success();
        times.push(started.elapsed());
    }
    times
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_daemon_running_the_token_comes_from_its_memory() {
    let ds = start_devstack(Duration::from_secs(3600)).await;
    let home = TempHome::new();
    let port = free_port();
    home.write_config(&format!("{}\n[serve]\nport = {port}\n", devstack_config(&ds)));
    home.login(&[]).await;
    let expected = home.run(&["token", "--raw", "--workspace", "dev"]).await.success().stdout;
    let without = time_calls(&home, 15).await;

    let (mut daemon, _) = Proc::spawn_until(
        "lakepass daemon",
        home.lakepass(&["daemon"]),
        Stream::Stderr,
        Duration::from_secs(30),
        |l| l.contains("live token service on").then_some(()),
    )
    .await;
    daemon.close_stdin();
    let socket = home.data_dir().join("lakepass.sock");
    assert!(socket.exists(), "the daemon listens on {}", socket.display());
    assert_eq!(mode(&socket), 0o600);

    // Without the vault, only the daemon can answer.
    let away = home.vault_path().with_extension("away");
    std::fs::rename(home.vault_path(), &away).unwrap();
    let out = home.run(&["token", "--raw", "--workspace", "dev"]).await.success();
    assert_eq!(out.stdout, expected, "the daemon's token");
    let json = home.run(&["token", "--json", "--workspace", "prod"]).await.success().json();
    assert_eq!(json["host"], ws_host(&ds, "prod"));
    let with = time_calls(&home, 15).await;
    std::fs::rename(&away, home.vault_path()).unwrap();

    eprintln!(
        "lakepass token --raw, median of 15 sequential runs: {:.1} ms with the daemon, {:.1} ms without",
        median_ms(with.clone()),
        median_ms(without)
    );
    assert!(median_ms(with) < 1000.0);

    daemon.sigterm();
    daemon.wait(Duration::from_secs(20)).await.success();
    assert!(!socket.exists(), "the daemon removes its socket when it stops");
    // And without it, the vault again (no stale socket to trip over).
    let out = home.run(&["token", "--raw", "--workspace", "dev"]).await.success();
    assert_eq!(out.stdout, expected);
}
