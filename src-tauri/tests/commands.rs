//! The IPC command through Tauri's mock runtime: no display, no bus. Each dashboard call is
//! invoked the way the dashboard invokes it (`invoke("call", { call: { call: name, ...args } })`)
//! and must delegate to the host, with errors arriving as `{kind, message, field}` data.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use lakepass_app::host::{Host, HostOptions};
use lakepass_app::platform::{Autostart, Launcher};
use lakepass_app::view::AppView;
use lakepass_config::{ConfigDoc, IdpConfig, WorkspaceConfig};
use lakepass_engine::engine::EngineOptions;
use lakepass_launch::{LaunchError, LaunchPlan};
use lakepass_store::Paths;
use lakepass_store::vault::VaultKind;
use lakepass_tray::commands::{AppState, Backend};
use serde_json::{Value, json};
use tauri::test::{INVOKE_KEY, MockRuntime, get_ipc_response, mock_builder, mock_context, noop_assets};
use tauri::webview::{InvokeRequest, WebviewWindowBuilder};
use tauri::{WebviewWindow, ipc::InvokeBody};

#[derive(Default)]
struct FakeAutostart(Mutex<bool>);
impl Autostart for FakeAutostart {
    fn is_enabled(&self) -> Result<bool, String> {
        Ok(*self.0.lock().unwrap())
    }
    fn set_enabled(&self, on: bool) -> Result<(), String> {
        *self.0.lock().unwrap() = on;
        Ok(())
    }
}

#[derive(Default)]
struct FakeLauncher(Mutex<Vec<String>>);
impl Launcher for FakeLauncher {
    fn carry_out(&self, plan: &LaunchPlan, _: &Paths, _: std::time::Instant) -> Result<String, LaunchError> {
        self.0.lock().unwrap().push(format!("{} {}", plan.agent.as_str(), plan.workspace));
        let source = std::io::Error::other("no terminal emulator found (tried xterm)");
        Err(LaunchError::Spawn { program: "xterm".into(), source })
    }
}

struct App {
    _app: tauri::App<MockRuntime>,
    webview: WebviewWindow<MockRuntime>,
    launcher: Arc<FakeLauncher>,
    paths: Paths,
    _dir: tempfile::TempDir,
}

fn app() -> App {
    let dir = tempfile::tempdir().unwrap();
    let paths = Paths::under(dir.path());
    let mut doc = ConfigDoc::default();
    // An IdP nobody can reach: these tests never sign in; the engine just sits in NeedsLogin.
    doc.add_idp("corp", &IdpConfig::new("https://127.0.0.1:9/", "lp"), false).unwrap();
    doc.add_workspace("dev", &WorkspaceConfig::new("corp", "https://dev.cloud.databricks.com"), false)
        .unwrap();
    doc.add_workspace("prod", &WorkspaceConfig::new("corp", "https://prod.cloud.databricks.com"), false)
        .unwrap();
    doc.save(&paths.config).unwrap();
    // Programs that exist everywhere, so that planning a launch gets as far as the token.
    let text = std::fs::read_to_string(&paths.config).unwrap();
    std::fs::write(&paths.config, format!("claude_path = \"/bin/sh\"\nterminal = \"/bin/sh\"\n{text}"))
        .unwrap();
    let launcher = Arc::new(FakeLauncher::default());
    let opts = HostOptions {
        open_url: Arc::new(|_| Ok(())),
        launcher: launcher.clone(),
        engine: EngineOptions {
            cli_helper_path: Some("/opt/lakepass/bin/lakepass".into()),
            ..Default::default()
        },
        vault_kind: Some(VaultKind::File),
        sign_in_timeout: Duration::from_secs(1),
        sinks: false,
    };
    let host = tauri::async_runtime::block_on(Host::start(paths.clone(), opts));
    let app = mock_builder()
        .manage(AppState { backend: Backend::Local(host), autostart: Box::new(FakeAutostart::default()) })
        .invoke_handler(lakepass_tray::commands::handler())
        .build(mock_context(noop_assets()))
        .expect("mock app");
    let webview = WebviewWindowBuilder::new(&app, "main", Default::default()).build().unwrap();
    App { _app: app, webview, launcher, paths, _dir: dir }
}

/// Invokes the dashboard call `name` with `args` (a JSON object), as `ui/src/api.ts` does.
fn invoke(w: &WebviewWindow<MockRuntime>, name: &str, args: Value) -> Result<Value, Value> {
    let mut call = json!({ "call": name });
    call.as_object_mut().unwrap().extend(args.as_object().expect("arguments are an object").clone());
    get_ipc_response(
        w,
        InvokeRequest {
            cmd: "call".into(),
            callback: tauri::ipc::CallbackFn(0),
            error: tauri::ipc::CallbackFn(1),
            url: "tauri://localhost".parse().unwrap(),
            body: InvokeBody::Json(json!({ "call": call })),
            headers: Default::default(),
            invoke_key: INVOKE_KEY.to_string(),
        },
    )
    .map(|b| b.deserialize::<Value>().unwrap())
}

#[test]
fn get_view_returns_the_joined_view() {
    let a = app();
    let v: AppView = serde_json::from_value(invoke(&a.webview, "get_view", json!({})).unwrap()).unwrap();
    assert_eq!(v.workspaces.len(), 2);
    assert_eq!(v.active.as_deref(), Some("dev"));
    assert_eq!(v.workspaces[0].state, lakepass_engine::status::TokenState::NeedsLogin);
    assert!(v.workspaces[0].hint.as_deref().unwrap().contains("Sign in to `corp`"));
    assert_eq!(v.idps[0].name, "corp");
    assert!(v.vault.starts_with("file "), "{}", v.vault);
}

#[test]
fn set_active_saves_and_unknown_names_fail_as_data() {
    let a = app();
    invoke(&a.webview, "set_active", json!({ "name": "prod" })).unwrap();
    let v = invoke(&a.webview, "get_view", json!({})).unwrap();
    assert_eq!(v["active"], "prod");
    assert!(std::fs::read_to_string(&a.paths.config).unwrap().contains("active = \"prod\""));
    let err = invoke(&a.webview, "set_active", json!({ "name": "nope" })).unwrap_err();
    assert_eq!(err["kind"], "config");
    assert!(err["message"].as_str().unwrap().contains("no workspace named `nope`"));
}

#[test]
fn save_workspace_validates_then_rebuilds() {
    let a = app();
    let bad = json!({ "name": "qa", "replace": false, "workspace": { "idp": "corp", "host": "ftp://qa" } });
    let err = invoke(&a.webview, "save_workspace", bad).unwrap_err();
    assert_eq!(err["kind"], "invalid");
    assert_eq!(err["field"], "workspace.qa.host");
    let good = json!({ "name": "qa", "replace": false, "workspace": { "idp": "corp", "host": "https://qa.cloud.databricks.com", "scopes": ["sql"] } });
    invoke(&a.webview, "save_workspace", good).unwrap();
    let v = invoke(&a.webview, "get_view", json!({})).unwrap();
    let names: Vec<&str> =
        v["workspaces"].as_array().unwrap().iter().map(|w| w["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["dev", "prod", "qa"]);
    invoke(&a.webview, "remove_workspace", json!({ "name": "qa" })).unwrap();
    assert_eq!(invoke(&a.webview, "get_view", json!({})).unwrap()["workspaces"].as_array().unwrap().len(), 2);
}

#[test]
fn idp_edits_and_in_use_refusal() {
    let a = app();
    let err = invoke(&a.webview, "remove_idp", json!({ "name": "corp" })).unwrap_err();
    assert_eq!(err["kind"], "invalid");
    let idp = json!({ "name": "partner", "replace": false, "idp": { "issuer": "https://partner.example.com", "client_id": "x", "scopes": [], "redirect_port": 8400 } });
    invoke(&a.webview, "save_idp", idp).unwrap();
    let v = invoke(&a.webview, "get_view", json!({})).unwrap();
    assert_eq!(v["idps"][1]["name"], "partner");
    assert_eq!(v["idps"][1]["redirect_port"], 8400);
    invoke(&a.webview, "remove_idp", json!({ "name": "partner" })).unwrap();
}

#[test]
fn launches_delegate_and_failures_keep_their_kind() {
    let a = app();
    // Never signed in: the plan stops at the missing token, with the kind that offers a sign-in,
    // and nothing is opened.
    let err = invoke(&a.webview, "launch", json!({ "agent": "claude", "workspace": null })).unwrap_err();
    assert_eq!(err["kind"], "needs_login", "{err}");
    assert!(a.launcher.0.lock().unwrap().is_empty());
    // An agent this build does not launch is refused before anything is planned.
    let err = invoke(&a.webview, "launch", json!({ "agent": "vim", "workspace": "prod" })).unwrap_err();
    assert_eq!(err["kind"], "bad_request", "{err}");
    assert!(a.launcher.0.lock().unwrap().is_empty());
    let err = invoke(&a.webview, "launch", json!({ "agent": "terminal", "workspace": "prod" })).unwrap_err();
    assert_eq!(*a.launcher.0.lock().unwrap(), vec!["terminal prod"]);
    assert_eq!(err["kind"], "launch");
    let events = invoke(&a.webview, "get_events", json!({})).unwrap();
    assert!(events[0]["text"].as_str().unwrap().contains("no terminal emulator found"), "{events}");
}

#[test]
fn autostart_is_off_by_default_and_toggles() {
    let a = app();
    assert_eq!(invoke(&a.webview, "get_autostart", json!({})).unwrap(), json!(false));
    invoke(&a.webview, "set_autostart", json!({ "enabled": true })).unwrap();
    assert_eq!(invoke(&a.webview, "get_autostart", json!({})).unwrap(), json!(true));
}

#[test]
fn sign_in_to_an_unreachable_idp_fails_as_network_data() {
    let a = app();
    let err = invoke(&a.webview, "sign_in", json!({ "idp": "corp" })).unwrap_err();
    assert_eq!(err["kind"], "network", "{err}");
    let v = invoke(&a.webview, "get_view", json!({})).unwrap();
    assert_eq!(v["idps"][0]["signing_in"], false);
    let err = invoke(&a.webview, "sign_out", json!({ "idp": "nope" })).unwrap_err();
    assert_eq!(err["kind"], "config");
}

#[test]
fn diagnose_returns_the_doctors_report_as_data() {
    let a = app();
    let r = invoke(&a.webview, "diagnose", json!({ "workspace": "dev" })).unwrap();
    assert_eq!(r["workspace"], "dev");
    assert_eq!(r["ok"], false, "{r}");
    let steps = r["steps"].as_array().unwrap();
    assert!(steps.iter().any(|s| s["status"] == "failed"), "{r}");
    let err = invoke(&a.webview, "diagnose", json!({ "workspace": "nope" })).unwrap_err();
    assert_eq!(err["kind"], "config");
}

#[test]
fn first_run_commands_delegate_to_the_core_rules() {
    let a = app();
    // The presets are the core's table: Entra asks for its tenant.
    let presets = invoke(&a.webview, "idp_presets", json!({})).unwrap();
    let entra = presets.as_array().unwrap().iter().find(|p| p["name"] == "entra").unwrap();
    assert_eq!(entra["fields"][0]["key"], "tenant");
    assert_eq!(
        entra["redirect_uri"].as_str().unwrap(),
        lakepass_admin::presets::Preset::Entra { tenant: "t".into() }.redirect_uri_to_register()
    );

    // A preset with a value missing is refused at that field, before anything is saved.
    let before = std::fs::read(&a.paths.config).unwrap();
    let form = json!({ "preset": "entra", "values": { "tenant": " " }, "client_id": "app" });
    let err = invoke(&a.webview, "save_idp_preset", json!({ "name": "entra", "form": form })).unwrap_err();
    assert_eq!((err["kind"].as_str(), err["field"].as_str()), (Some("invalid"), Some("tenant")), "{err}");
    assert_eq!(std::fs::read(&a.paths.config).unwrap(), before);
    let form = json!({ "preset": "entra", "values": { "tenant": "contoso" }, "client_id": "app" });
    invoke(&a.webview, "save_idp_preset", json!({ "name": "entra", "form": form })).unwrap();
    let config = lakepass_config::Config::load(&a.paths.config).unwrap();
    assert_eq!(config.idp["entra"].issuer, "https://login.microsoftonline.com/contoso/v2.0");

    // A workspace URL from the address bar: the host, by the core's parser.
    let host = invoke(
        &a.webview,
        "workspace_host",
        json!({ "url": "https://adb-1.2.azuredatabricks.net/browse?o=1" }),
    );
    assert_eq!(host.unwrap(), "https://adb-1.2.azuredatabricks.net");
    let err = invoke(&a.webview, "workspace_host", json!({ "url": "http://adb-1.example.net" })).unwrap_err();
    assert_eq!(err["field"], "host", "{err}");

    // A team file: the plan first, then the import; a secret is refused with its line.
    let team = "[idp.acme]\nissuer = \"https://login.acme.example/\"\nclient_id = \"a\"\n\n[workspace.ml]\nidp = \"acme\"\nhost = \"https://ml.cloud.databricks.com\"\n";
    let plan = invoke(&a.webview, "preview_team", json!({ "name": "acme.toml", "text": team })).unwrap();
    assert_eq!(plan["entries"][1]["change"], "add", "{plan}");
    assert_eq!(plan["sign_in"], json!(["acme"]));
    let secret = format!("{team}password = \"x\"\n");
    let err =
        invoke(&a.webview, "import_team", json!({ "name": "acme.toml", "text": secret, "replace": false }))
            .unwrap_err();
    assert!(err["message"].as_str().unwrap().starts_with("acme.toml:8: workspace.ml.password: "), "{err}");
    invoke(&a.webview, "import_team", json!({ "name": "acme.toml", "text": team, "replace": false }))
        .unwrap();
    let v = invoke(&a.webview, "get_view", json!({})).unwrap();
    assert_eq!(v["workspaces"].as_array().unwrap().len(), 3, "{v}");
    assert_eq!(v["first_run"], false);
}

#[test]
fn the_page_cannot_send_the_sockets_own_calls_or_an_unknown_one() {
    let a = app();
    for name in ["follow", "show_dashboard"] {
        let err = invoke(&a.webview, name, json!({})).unwrap_err();
        assert_eq!(err["kind"], "bad_request", "{name}: {err}");
    }
    // A call the Rust side does not know is refused before anything runs.
    assert!(invoke(&a.webview, "get_everything", json!({})).is_err());
    assert_eq!(invoke(&a.webview, "ping", json!({})).unwrap(), env!("CARGO_PKG_VERSION"));
}
