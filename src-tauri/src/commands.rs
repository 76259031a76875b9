//! IPC commands for the dashboard. They only delegate: to the host through a [`Backend`] (in
//! this process, or the Linux tray's over `app.sock`), or to the autostart seam. Errors cross
//! as [`AppError`] data (`kind`, `message`, `field`).

use std::sync::Arc;

use tauri::State;

use lakepass_app::events::Event;
use lakepass_app::forms::{self, PresetForm, PresetView};
use lakepass_app::host::{AppError, Host, IdpForm, WorkspaceForm};
use lakepass_app::platform::Autostart;
use lakepass_app::remote::{self, Call};
use lakepass_app::view::AppView;
use lakepass_core::config::TeamPlan;

/// Where the host is.
pub enum Backend {
    /// In this process (macOS, Windows, and Linux with `LAKEPASS_TRAY_IN_PROCESS=1`).
    Local(Arc<Host>),
    /// In the Linux tray (`lakepass tray`), reached over its socket.
    #[cfg(unix)]
    Remote(remote::RemoteHost),
}

impl Backend {
    /// Carries out a call and decodes its answer.
    pub async fn call<T: serde::de::DeserializeOwned>(&self, call: Call) -> Res<T> {
        let answer = match self {
            Backend::Local(host) => remote::dispatch(host, call).await,
            #[cfg(unix)]
            Backend::Remote(r) => r.call(&call).await,
        };
        remote::decode(answer)
    }
}

/// What the commands reach, managed by Tauri.
pub struct AppState {
    /// The engine host.
    pub backend: Backend,
    /// Start at login.
    pub autostart: Box<dyn Autostart>,
}

type Res<T> = Result<T, AppError>;

/// The current view (workspaces, IdPs, active workspace, config problems).
#[tauri::command]
pub async fn get_view(state: State<'_, AppState>) -> Res<AppView> {
    state.backend.call(Call::GetView).await
}

/// Recent events, newest first.
#[tauri::command]
pub async fn get_events(state: State<'_, AppState>) -> Res<Vec<Event>> {
    state.backend.call(Call::GetEvents).await
}

/// Makes a workspace the active one.
#[tauri::command]
pub async fn set_active(state: State<'_, AppState>, name: String) -> Res<()> {
    state.backend.call(Call::SetActive { name }).await
}

/// Exchanges new tokens now.
#[tauri::command]
pub async fn refresh_now(state: State<'_, AppState>) -> Res<()> {
    state.backend.call(Call::RefreshNow).await
}

/// Starts the browser sign-in for an IdP and waits for it.
#[tauri::command]
pub async fn sign_in(state: State<'_, AppState>, idp: String) -> Res<()> {
    state.backend.call(Call::SignIn { idp }).await
}

/// Signs out of an IdP.
#[tauri::command]
pub async fn sign_out(state: State<'_, AppState>, idp: String) -> Res<()> {
    state.backend.call(Call::SignOut { idp }).await
}

/// Adds (or, with `replace`, updates) a workspace.
#[tauri::command]
pub async fn save_workspace(
    state: State<'_, AppState>,
    name: String,
    workspace: WorkspaceForm,
    replace: bool,
) -> Res<()> {
    state.backend.call(Call::SaveWorkspace { name, workspace, replace }).await
}

/// Removes a workspace.
#[tauri::command]
pub async fn remove_workspace(state: State<'_, AppState>, name: String) -> Res<()> {
    state.backend.call(Call::RemoveWorkspace { name }).await
}

/// Adds (or, with `replace`, updates) an identity provider.
#[tauri::command]
pub async fn save_idp(state: State<'_, AppState>, name: String, idp: IdpForm, replace: bool) -> Res<()> {
    state.backend.call(Call::SaveIdp { name, idp, replace }).await
}

/// Removes an identity provider.
#[tauri::command]
pub async fn remove_idp(state: State<'_, AppState>, name: String) -> Res<()> {
    state.backend.call(Call::RemoveIdp { name }).await
}

/// Launches Claude Code for a workspace (default: the active one).
#[tauri::command]
pub async fn launch_claude(state: State<'_, AppState>, workspace: Option<String>) -> Res<()> {
    state.backend.call(Call::LaunchClaude { workspace }).await
}

/// Opens a terminal for a workspace (default: the active one).
#[tauri::command]
pub async fn open_terminal(state: State<'_, AppState>, workspace: Option<String>) -> Res<()> {
    state.backend.call(Call::OpenTerminal { workspace }).await
}

/// The doctor's report for a workspace (why an exchange fails, claim by claim).
#[tauri::command]
pub async fn diagnose(state: State<'_, AppState>, workspace: String) -> Res<serde_json::Value> {
    state.backend.call(Call::Diagnose { workspace }).await
}

/// Whether the app starts at login.
#[tauri::command]
pub fn get_autostart(state: State<'_, AppState>) -> Res<bool> {
    state.autostart.is_enabled().map_err(|e| AppError::new(lakepass_core::ErrorKind::Autostart, e))
}

/// Turns start-at-login on or off.
#[tauri::command]
pub fn set_autostart(state: State<'_, AppState>, enabled: bool) -> Res<()> {
    state.autostart.set_enabled(enabled).map_err(|e| AppError::new(lakepass_core::ErrorKind::Autostart, e))
}

/// The IdP presets the first-run set-up offers, with the values each needs.
#[tauri::command]
pub fn idp_presets() -> Vec<PresetView> {
    forms::presets()
}

/// Adds an identity provider built from a preset (issuer, scopes, redirect port by the core).
#[tauri::command]
pub async fn save_idp_preset(state: State<'_, AppState>, name: String, form: PresetForm) -> Res<()> {
    state.backend.call(Call::SaveIdpPreset { name, form }).await
}

/// The workspace host a URL pasted from the browser stands for (paths and `?o=` accepted).
#[tauri::command]
pub fn workspace_host(url: String) -> Res<String> {
    forms::workspace_host(&url)
}

/// What importing a team file (its text, and its name for messages) would change.
#[tauri::command]
pub async fn preview_team(state: State<'_, AppState>, name: String, text: String) -> Res<TeamPlan> {
    state.backend.call(Call::PreviewTeam { name, text }).await
}

/// Imports a team file into the config, as `lakepass setup` does.
#[tauri::command]
pub async fn import_team(
    state: State<'_, AppState>,
    name: String,
    text: String,
    replace: bool,
) -> Res<TeamPlan> {
    state.backend.call(Call::ImportTeam { name, text, replace }).await
}

/// "Try it locally": starts the devstack (through the bundled CLI) and sets Lakepass up on it.
#[tauri::command]
pub async fn try_locally(state: State<'_, AppState>) -> Res<()> {
    state.backend.call(Call::TryLocally).await
}

/// Every command, for `invoke_handler`.
#[macro_export]
macro_rules! all_commands {
    () => {
        tauri::generate_handler![
            $crate::commands::get_view,
            $crate::commands::get_events,
            $crate::commands::set_active,
            $crate::commands::refresh_now,
            $crate::commands::sign_in,
            $crate::commands::sign_out,
            $crate::commands::save_workspace,
            $crate::commands::remove_workspace,
            $crate::commands::save_idp,
            $crate::commands::remove_idp,
            $crate::commands::launch_claude,
            $crate::commands::open_terminal,
            $crate::commands::diagnose,
            $crate::commands::get_autostart,
            $crate::commands::set_autostart,
            $crate::commands::idp_presets,
            $crate::commands::save_idp_preset,
            $crate::commands::workspace_host,
            $crate::commands::preview_team,
            $crate::commands::import_team,
            $crate::commands::try_locally
        ]
    };
}
