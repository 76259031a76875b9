//! The bundled CLI as the app's sidecar: the launcher runs the `lakepass` found beside the app
//! (where the .deb installs it and where cargo builds it), not one on `PATH`, and hands it the
//! app's config; and the packaging config, the sidecar name and the webview's capabilities agree.
//! Needs the CLI built first (`cargo build -p lakepass-cli`; scripts/ci-ui.sh does).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use lakepass_app::platform::{CliLauncher, Launcher};
use lakepass_store::Paths;
use lakepass_tray::sidecar::{CLI_SIDECAR, cli_path};
use tauri::test::{mock_builder, mock_context, noop_assets};

/// Where cargo put the CLI: the target folder this test binary runs from (…/debug/deps/…).
fn built_cli() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let cli = exe.parent().and_then(|deps| deps.parent()).unwrap().join(CLI_SIDECAR);
    assert!(cli.is_file(), "no CLI at {}: run `cargo build -p lakepass-cli` first", cli.display());
    cli
}

#[test]
fn the_launcher_runs_the_cli_beside_the_app_with_the_apps_config() {
    let cli = built_cli();
    let app = mock_builder().plugin(tauri_plugin_shell::init()).build(mock_context(noop_assets())).unwrap();
    assert_eq!(cli_path(app.handle()), Some(cli.clone()), "the sidecar is the CLI beside the app");

    let dir = tempfile::tempdir().unwrap();
    let (record, terminal) = (dir.path().join("terminal.out"), dir.path().join("terminal.sh"));
    // A stand-in terminal: records the environment the CLI gave it.
    std::fs::write(
        &terminal,
        format!("#!/bin/sh\necho \"$DATABRICKS_HOST $DATABRICKS_CONFIG_PROFILE\" > '{}'\n", record.display()),
    )
    .unwrap();
    std::fs::set_permissions(&terminal, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let paths = Paths::under(dir.path());
    std::fs::create_dir_all(paths.config.parent().unwrap()).unwrap();
    std::fs::write(
        &paths.config,
        format!(
            "terminal = ['''{}''']\nlaunch_dir = '''{}'''\n[idp.corp]\nissuer = \"https://127.0.0.1:9/\"\nclient_id = \"lp\"\n\
             [workspace.dev]\nidp = \"corp\"\nhost = \"https://dev.cloud.databricks.com\"\n",
            terminal.display(),
            dir.path().display()
        ),
    )
    .unwrap();

    let launcher = CliLauncher::new(cli_path(app.handle()));
    assert_eq!(launcher.open_terminal(&paths, "dev"), Ok(()));
    let deadline = Instant::now() + Duration::from_secs(10);
    while !record.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let got = std::fs::read_to_string(&record).expect("the terminal ran");
    assert_eq!(got.trim(), "https://dev.cloud.databricks.com dev-live");

    let err = launcher.open_terminal(&paths, "nope").unwrap_err();
    assert!(err.contains("nope") && !err.starts_with("error:"), "the CLI's own sentence: {err}");
}

#[test]
fn the_package_ships_the_sidecar_and_the_webview_cannot_run_it() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let package: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("tauri.package.conf.json")).unwrap()).unwrap();
    assert_eq!(package["bundle"]["externalBin"], serde_json::json!([format!("binaries/{CLI_SIDECAR}")]));
    // The app runs the CLI from Rust; the dashboard has no business spawning programs.
    for cap in std::fs::read_dir(dir.join("capabilities")).unwrap() {
        let cap: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(cap.unwrap().path()).unwrap()).unwrap();
        let granted = cap["permissions"].as_array().expect("a permissions list");
        let identifier =
            |p: &serde_json::Value| p.as_str().or(p["identifier"].as_str()).unwrap_or("").to_string();
        let shell: Vec<String> = granted.iter().map(identifier).filter(|p| p.starts_with("shell:")).collect();
        assert!(shell.is_empty(), "a capability grants the webview {shell:?}");
    }
}
