//! The README's exit-code table ("CLI reference"), walked with one real case per code, so the
//! table and the binary cannot drift apart.

use std::time::Duration;

use lakepass_tests::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_exit_code_has_a_real_case() {
    let readme = std::fs::read_to_string(workspace_root().join("README.md")).expect("README.md");
    for code in 0..=6 {
        assert!(readme.contains(&format!("`{code}` ")), "the README documents exit code {code}");
    }
    let ds = start_devstack(Duration::from_secs(3600)).await;
    let home = TempHome::new();
    home.write_devstack_config(&ds);

    // 0 success.
    home.run(&["version"]).await.success();
    // 2 bad usage or config: a flag that belongs to another preset, an unknown host, a
    // non-loopback devstack address.
    let out = home
        .run(&[
            "idp",
            "add",
            "x",
            "--preset",
            "okta",
            "--domain",
            "x.okta.com",
            "--tenant",
            "t",
            "--client-id",
            "c",
        ])
        .await
        .code(2);
    assert!(out.stderr.contains("does not take --tenant"), "{out:?}");
    home.run(&["auth", "token", "--host", "https://unknown.example"]).await.code(2);
    home.run(&["devstack", "--addr", "0.0.0.0:0"]).await.code(2);
    // 3 sign-in needed.
    let out = home.run(&["whoami"]).await.code(3);
    assert!(out.stderr.contains("lakepass login"), "{out:?}");
    home.run(&["token"]).await.code(3);
    // 6 `token --check`: no valid token cached.
    home.run(&["token", "--check"]).await.code(6);
    // 5 the workspace refused the exchange: a service principal without a federation policy.
    let dev = ws_host(&ds, "dev");
    home.write_config(&format!(
        "{}\n[workspace.sp]\nidp = \"devstack\"\nhost = \"{dev}\"\nclient_id = \"unknown-sp\"\nprofile = \"sp\"\n",
        devstack_config(&ds)
    ));
    let pending = home.start_login(&[]).await;
    http().get(pending.idp_url.clone()).send().await.expect("follow the sign-in URL");
    pending.finish().await.code(5);
    home.run(&["token", "-w", "sp"]).await.code(5);
    // 1 an unexpected error: the secret store cannot be read (its file is a folder).
    let vault = home.vault_path();
    std::fs::remove_file(&vault).expect("the file vault exists after a sign-in");
    std::fs::create_dir(&vault).unwrap();
    home.run(&["token", "--check"]).await.code(1);
    std::fs::remove_dir(&vault).unwrap();
    // 4 unreachable: the IdP is gone.
    ds.shutdown().await;
    home.run(&["login", "--no-browser", "--timeout", "10"]).await.code(4);
}
