//! Process-level faults for the fault suite (issue 6) that need the real binary: fifty
//! `lakepass token` callers racing on a due token, and `lakepass` killed with SIGKILL while it
//! writes. In-process faults live in crates/core/tests/it/faults/.

use std::time::Duration;

use lakepass_tests::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_fifty_parallel_token_callers_make_one_exchange() {
    let ds = start_devstack(Duration::from_secs(20)).await;
    let home = TempHome::new();
    home.write_devstack_config(&ds);
    home.login(&[]).await;
    // A 20 s token is due 10 s before it expires: wait until then, so every caller finds it due.
    let left = home.run(&["token", "--json", "--workspace", "dev"]).await.success().json()["expires_in"]
        .as_i64()
        .unwrap();
    tokio::time::sleep(Duration::from_secs((left - 10).max(0) as u64) + Duration::from_millis(700)).await;
    let before = ds.stats();
    let procs: Vec<Proc> = (0..50)
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
        tokens.push(p.wait(Duration::from_secs(120)).await.success().stdout.trim().to_string());
    }
    let after = ds.stats();
    assert!(tokens.iter().all(|t| !t.is_empty() && *t == tokens[0]), "all fifty got the same token");
    assert_eq!(
        after.workspaces["dev"].exchanges_ok,
        before.workspaces["dev"].exchanges_ok + 1,
        "one exchange"
    );
    assert!(after.idp.refresh_grants <= before.idp.refresh_grants + 1);
    assert_eq!(after.idp.refresh_failures, 0, "no refresh-token reuse");
    assert_eq!(scim_me(&ws_host(&ds, "dev"), &tokens[0]).await.0, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_sigkill_mid_write_leaves_no_torn_file_and_a_restart_recovers() {
    let ds = start_devstack(Duration::from_secs(3600)).await;
    let home = TempHome::new();
    home.write_devstack_config(&ds);
    home.login(&[]).await;
    for i in 0..16u64 {
        let mut p = Proc::spawn(format!("lakepass refresh #{i}"), home.lakepass(&["refresh", "-w", "dev"]));
        p.close_stdin();
        // Spread the kills over the run: before, during and after the exchange and the writes.
        tokio::time::sleep(Duration::from_millis(15 + (i * 37) % 400)).await;
        let _ = std::process::Command::new("kill").args(["-KILL", &p.pid().to_string()]).status();
        let _ = p.wait(Duration::from_secs(30)).await;
        // Whatever moment it died at, both files are whole: the old version or the new one.
        let token = home.profile_value("devstack-dev", "token").unwrap_or_else(|| {
            panic!("no dev token in ~/.databrickscfg after kill #{i}:\n{}", home.databrickscfg_text())
        });
        assert_eq!(scim_me(&ws_host(&ds, "dev"), &token).await.0, 200, "a torn token after kill #{i}");
        let raw = std::fs::read_to_string(home.vault_path()).unwrap();
        serde_json::from_str::<std::collections::BTreeMap<String, String>>(&raw)
            .unwrap_or_else(|e| panic!("torn vault.json after kill #{i}: {e}"));
    }
    // A temp file a kill left behind is private; report how many.
    let mut leftovers = 0;
    for dir in [home.home(), home.data_dir()] {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.to_string_lossy().ends_with(".tmp") {
                assert_eq!(mode(&path), 0o600, "{} is readable by others", path.display());
                leftovers += 1;
            }
        }
    }
    eprintln!("sigkill: {leftovers} temp file(s) left behind by 16 kills (all 0600)");
    // The restart: the next call recovers and its token works.
    let token = home.run(&["token", "--raw", "--workspace", "dev"]).await.success().stdout;
    assert_eq!(scim_me(&ws_host(&ds, "dev"), token.trim()).await.0, 200);
    home.run(&["refresh", "-w", "dev"]).await.success();
    assert_eq!(
        home.profile_value("devstack-dev", "token").as_deref(),
        Some(home.run(&["token", "--raw", "--workspace", "dev"]).await.success().stdout.trim())
    );
}
