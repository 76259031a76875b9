//! The bundled CLI as the app's sidecar: the `lakepass` found beside the app (where the .deb
//! installs it and where cargo builds it), not one on `PATH`, is what the host's launch plans
//! name, and a new terminal runs it on the plan file (`lakepass launch --plan <file>`), which it
//! carries out without planning again; and the packaging config, the sidecar name and the
//! webview's capabilities agree. Needs the CLI built first (`cargo build -p lakepass-cli`;
//! scripts/ci-ui.sh does).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use lakepass_app::platform::{Launcher, TerminalLauncher};
use lakepass_config::Config;
use lakepass_launch::{Agent, LaunchRequest, Surroundings, plan_terminal};
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

fn script(path: &Path, body: &str) {
    std::fs::write(path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
}

fn wait_for(file: &Path) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !file.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    std::fs::read_to_string(file).unwrap_or_else(|_| panic!("{} was not written", file.display()))
}

#[test]
fn plans_name_the_cli_beside_the_app_and_the_terminal_runs_it_on_the_plan() {
    let cli = built_cli();
    let app = mock_builder().plugin(tauri_plugin_shell::init()).build(mock_context(noop_assets())).unwrap();
    assert_eq!(cli_path(app.handle()), Some(cli.clone()), "the sidecar is the CLI beside the app");

    let dir = tempfile::tempdir().unwrap();
    let (record, terminal) = (dir.path().join("terminal.out"), dir.path().join("terminal.sh"));
    let (agent_record, agent) = (dir.path().join("agent.out"), dir.path().join("agent.sh"));
    // A stand-in terminal: records the environment it was given, then runs its command.
    let t =
        format!("echo \"$DATABRICKS_HOST $DATABRICKS_CONFIG_PROFILE\" > '{}'\nexec \"$@\"", record.display());
    script(&terminal, &t);
    // A stand-in agent: records what the plan set.
    script(&agent, &format!("echo \"$MARK $DATABRICKS_CONFIG_PROFILE\" > '{}'", agent_record.display()));
    let paths = Paths::under(dir.path());
    let text = format!(
        "terminal = ['''{}''']\nlaunch_dir = '''{}'''\n[idp.corp]\nissuer = \"https://127.0.0.1:9/\"\nclient_id = \"lp\"\n\
         [workspace.dev]\nidp = \"corp\"\nhost = \"https://dev.cloud.databricks.com\"\n",
        terminal.display(),
        dir.path().display()
    );
    let config = Config::parse(&text, &paths.config).unwrap();
    let env = Surroundings {
        lakepass: cli_path(app.handle()).unwrap(),
        cwd: dir.path().into(),
        shell: Some("/bin/true".into()),
        ..Default::default()
    };
    let req = LaunchRequest { workspace: Some("dev".into()), new_terminal: true, ..Default::default() };
    let plan = plan_terminal(&config, &paths, &req, &env).unwrap();
    assert_eq!(plan.lakepass, cli);
    let launcher = TerminalLauncher;
    assert_eq!(launcher.carry_out(&plan, &paths, Instant::now()).unwrap(), terminal.to_string_lossy());
    assert_eq!(wait_for(&record).trim(), "https://dev.cloud.databricks.com dev-live");

    // An agent's plan: the terminal runs the sidecar on the plan file, which becomes the agent.
    std::fs::remove_file(&record).unwrap();
    let mut agent_plan = plan.clone();
    agent_plan.agent = Agent::Claude;
    agent_plan.program = Some(agent.clone());
    agent_plan.env.set("MARK", "from-the-plan");
    launcher.carry_out(&agent_plan, &paths, Instant::now()).unwrap();
    assert_eq!(wait_for(&agent_record).trim(), "from-the-plan dev-live");
    let left: Vec<_> = std::fs::read_dir(paths.data_dir.join("launch"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("plan-"))
        .collect();
    assert!(left.is_empty(), "the plan file was read once and deleted: {left:?}");

    let unknown = LaunchRequest { workspace: Some("nope".into()), ..req };
    let err = plan_terminal(&config, &paths, &unknown, &env).unwrap_err();
    assert!(err.to_string().contains("nope") && err.kind() == lakepass_engine::ErrorKind::Config, "{err}");
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
