//! Process-level faults for the fault suite (issue 6) that need the real binary: fifty
//! `lakepass token` callers racing on a due token, and `lakepass` killed with SIGKILL inside a
//! write (stopped there by the debug build's write hook). In-process faults live in crates/integration/tests/it/faults/.

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

/// The write hook of debug builds (`lakepass_store::atomic::PAUSE_IN_WRITE` and `…_OF`; named
/// here because this crate does not link core).
const PAUSE_IN_WRITE: &str = "LAKEPASS_TEST_PAUSE_IN_WRITE";
const PAUSE_IN_WRITE_OF: &str = "LAKEPASS_TEST_PAUSE_IN_WRITE_OF";

/// The path a paused writer announces on `fifo`: from then on it sits between its complete temp
/// file and the rename until it is told to go on, or killed.
async fn paused_at(fifo: &std::path::Path) -> String {
    let fifo = fifo.to_path_buf();
    let read = tokio::task::spawn_blocking(move || std::fs::read_to_string(fifo).unwrap());
    tokio::time::timeout(Duration::from_secs(60), read)
        .await
        .expect("the writer reached the pause")
        .unwrap()
        .trim()
        .to_string()
}

/// `.tmp` files in `dir`.
fn temp_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".tmp"))
        .collect()
}

/// SIGKILL inside the write, every time: the debug-build hook stops `lakepass refresh` between
/// its complete temp file and the rename, and the test kills it there. The target is then
/// exactly the old version (never torn, never half-renamed), the temp file left behind is
/// private, and a restart recovers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_sigkill_mid_write_leaves_no_torn_file_and_a_restart_recovers() {
    let ds = start_devstack(Duration::from_secs(3600)).await;
    let home = TempHome::new();
    home.write_devstack_config(&ds);
    home.login(&[]).await;
    let fifo = home.root().join("pause.fifo");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status().expect("mkfifo runs");
    assert!(made.success());
    let targets = [home.vault_path(), home.databrickscfg()];
    let mut kills = 0;
    for i in 0..6 {
        let target = &targets[i % targets.len()];
        let name = target.file_name().unwrap().to_string_lossy().into_owned();
        let before = std::fs::read(target).unwrap();
        let temps_before = temp_files(target.parent().unwrap()).len();
        let mut cmd = home.lakepass(&["refresh", "-w", "dev"]);
        cmd.env(PAUSE_IN_WRITE, &fifo).env(PAUSE_IN_WRITE_OF, &name);
        let mut p = Proc::spawn(format!("lakepass refresh #{i} (paused in writing {name})"), cmd);
        p.close_stdin();
        assert_eq!(paused_at(&fifo).await, target.display().to_string(), "kill #{i}");
        // Inside the write: the new content is whole in a private temp file, the target untouched.
        let temps = temp_files(target.parent().unwrap());
        assert_eq!(temps.len(), temps_before + 1, "kill #{i}: one temp file being written");
        let _ = std::process::Command::new("kill").args(["-KILL", &p.pid().to_string()]).status();
        let out = p.wait(Duration::from_secs(30)).await;
        assert_eq!(out.code, None, "kill #{i} landed (no exit code: killed by a signal): {out:?}");
        assert_eq!(
            std::fs::read(target).unwrap(),
            before,
            "kill #{i}: {name} is the old version, byte for byte"
        );
        // Both files are whole, and the profile's token works.
        let token = home.profile_value("devstack-dev", "token").unwrap_or_else(|| {
            panic!("no dev token in ~/.databrickscfg after kill #{i}:\n{}", home.databrickscfg_text())
        });
        assert_eq!(scim_me(&ws_host(&ds, "dev"), &token).await.0, 200, "a torn token after kill #{i}");
        let raw = std::fs::read_to_string(home.vault_path()).unwrap();
        serde_json::from_str::<std::collections::BTreeMap<String, String>>(&raw)
            .unwrap_or_else(|e| panic!("torn vault.json after kill #{i}: {e}"));
        for temp in temp_files(target.parent().unwrap()) {
            assert_eq!(mode(&temp), 0o600, "{} is readable by others", temp.display());
        }
        kills += 1;
    }
    eprintln!("sigkill: {kills} kills inside a write, each leaving the old file and a private temp file");
    // The hook lets a write go on when told: the same refresh, paused and resumed, completes.
    let mut cmd = home.lakepass(&["refresh", "-w", "dev"]);
    cmd.env(PAUSE_IN_WRITE, &fifo).env(PAUSE_IN_WRITE_OF, "vault.json");
    let mut p = Proc::spawn("lakepass refresh (paused, then resumed)", cmd);
    p.close_stdin();
    paused_at(&fifo).await;
    let resume = fifo.clone();
    tokio::task::spawn_blocking(move || std::fs::write(resume, "go\n").unwrap()).await.unwrap();
    p.wait(Duration::from_secs(60)).await.success();
    // The restart: the next call recovers and its token works.
    let token = home.run(&["token", "--raw", "--workspace", "dev"]).await.success().stdout;
    assert_eq!(scim_me(&ws_host(&ds, "dev"), token.trim()).await.0, 200);
    home.run(&["refresh", "-w", "dev"]).await.success();
    assert_eq!(
        home.profile_value("devstack-dev", "token").as_deref(),
        Some(home.run(&["token", "--raw", "--workspace", "dev"]).await.success().stdout.trim())
    );
}

/// Issue 23, L2: `lakepass daemon` stopped by SIGTERM (what systemd and `kill` send) removes the
/// `-live` profiles naming its port, so nobody who binds the port next receives the SDKs'
/// requests; the user's own profiles and comments, and the workspaces' static profiles, stay.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_sigterm_to_the_daemon_removes_its_live_profiles() {
    let ds = start_devstack(Duration::from_secs(600)).await;
    let home = TempHome::new();
    let port = free_port();
    home.write_config(&format!("{}\n[serve]\nport = {port}\n", devstack_config(&ds)));
    let theirs = "; my profiles, by hand\n[mine]\nhost = https://mine.example\ntoken = dapi-mine\n\n";
    std::fs::write(home.databrickscfg(), theirs).unwrap();
    home.login(&[]).await;

    let (daemon, _) = Proc::spawn_until(
        "lakepass daemon",
        home.lakepass(&["daemon"]),
        Stream::Stderr,
        Duration::from_secs(30),
        |l| l.contains("live token service on").then_some(()),
    )
    .await;
    assert!(home.profile_value("devstack-dev-live", "metadata_service_url").is_some());
    daemon.sigterm();
    let out = daemon.wait(Duration::from_secs(20)).await;
    assert_eq!(out.code, Some(0), "{out:?}");

    let text = home.databrickscfg_text();
    for live in ["devstack-dev-live", "devstack-prod-live"] {
        assert_eq!(home.profile_value(live, "metadata_service_url"), None, "{live} is gone:\n{text}");
    }
    assert!(text.starts_with(theirs), "the user's profiles and comments are kept:\n{text}");
    assert!(home.profile_value("devstack-dev", "token").is_some(), "the static profile stays:\n{text}");
}
