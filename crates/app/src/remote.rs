//! The dashboard's link to the host when they live in two processes (Linux: `lakepass tray`
//! holds the host, the Tauri dashboard runs only while its window is open).
//!
//! Every dashboard command is a [`Call`]; [`dispatch`] carries one out on a host, so the
//! in-process app (macOS, Windows) and the socket below run the same code. On Unix the tray
//! serves calls on `app.sock`, beside the engine socket and by the same server with the same
//! walls and limits (`lakepass_core::ipc::LineServer`): one JSON line in, one line out (`{"ok": …}` or
//! `{"err": AppError}`). A [`Call::Follow`] connection instead stays open and gets the current
//! view and events at once, then each new one, until the tray quits — which is how the
//! dashboard knows to close with it. Nothing on this socket carries a token: views hold expiry
//! times and states only.

use std::sync::Arc;

use lakepass_core::config::TeamPlan;
use lakepass_core::{ErrorKind, Paths};
use serde::{Deserialize, Serialize};

use crate::app_error::AppError;
use crate::events::Event;
use crate::forms::{self, IdpForm, PresetForm, WorkspaceForm};
use crate::host::Host;
use crate::onboarding;
use crate::view::AppView;

#[cfg(unix)]
mod unix;
#[cfg(unix)]
pub use unix::{Follow, OnShow, RemoteHost, Server, Update};

/// The socket's file name, beside the engine socket.
pub const APP_SOCKET_NAME: &str = "app.sock";

/// Where the tray serves the dashboard: the engine socket's folder, `app.sock`.
pub fn app_socket_path(paths: &Paths) -> std::path::PathBuf {
    let engine = lakepass_core::ipc::socket_path(paths);
    engine.with_file_name(APP_SOCKET_NAME)
}

/// One dashboard command (the Tauri command of the same name, snake_case).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "call", rename_all = "snake_case")]
pub enum Call {
    /// The current view.
    GetView,
    /// Recent events, newest first.
    GetEvents,
    /// Make a workspace the active one.
    SetActive {
        /// The workspace.
        name: String,
    },
    /// Exchange new tokens now.
    RefreshNow,
    /// The browser sign-in for an IdP (answers when it is done).
    SignIn {
        /// The IdP.
        idp: String,
    },
    /// Sign out of an IdP.
    SignOut {
        /// The IdP.
        idp: String,
    },
    /// Add or replace a workspace.
    SaveWorkspace {
        /// Its name.
        name: String,
        /// Its fields.
        workspace: WorkspaceForm,
        /// Replace an existing one.
        replace: bool,
    },
    /// Remove a workspace.
    RemoveWorkspace {
        /// The workspace.
        name: String,
    },
    /// Add or replace an IdP.
    SaveIdp {
        /// Its name.
        name: String,
        /// Its fields.
        idp: IdpForm,
        /// Replace an existing one.
        replace: bool,
    },
    /// Remove an IdP.
    RemoveIdp {
        /// The IdP.
        name: String,
    },
    /// Add an IdP from a preset.
    SaveIdpPreset {
        /// Its name.
        name: String,
        /// The preset and its values.
        form: PresetForm,
    },
    /// Launch Claude Code (default: the active workspace).
    LaunchClaude {
        /// The workspace.
        workspace: Option<String>,
    },
    /// Open a terminal (default: the active workspace).
    OpenTerminal {
        /// The workspace.
        workspace: Option<String>,
    },
    /// The doctor's report for a workspace.
    Diagnose {
        /// The workspace.
        workspace: String,
    },
    /// What importing a team file would change.
    PreviewTeam {
        /// The file's name, for messages.
        name: String,
        /// Its text.
        text: String,
    },
    /// Import a team file.
    ImportTeam {
        /// The file's name, for messages.
        name: String,
        /// Its text.
        text: String,
        /// Replace conflicting entries.
        replace: bool,
    },
    /// "Try it locally": start the devstack and set up on it.
    TryLocally,
    /// Is a tray serving here? Answers its version (a dashboard's first check, and a second
    /// `lakepass tray --hidden`'s).
    Ping,
    /// Show the dashboard (a second start of the app asks the running tray).
    ShowDashboard,
    /// Keep the connection open and push views and events.
    Follow,
}

impl Call {
    /// The call's name on the wire (and in the debug log; its arguments are never logged).
    pub fn name(&self) -> &'static str {
        match self {
            Call::GetView => "get_view",
            Call::GetEvents => "get_events",
            Call::SetActive { .. } => "set_active",
            Call::RefreshNow => "refresh_now",
            Call::SignIn { .. } => "sign_in",
            Call::SignOut { .. } => "sign_out",
            Call::SaveWorkspace { .. } => "save_workspace",
            Call::RemoveWorkspace { .. } => "remove_workspace",
            Call::SaveIdp { .. } => "save_idp",
            Call::RemoveIdp { .. } => "remove_idp",
            Call::SaveIdpPreset { .. } => "save_idp_preset",
            Call::LaunchClaude { .. } => "launch_claude",
            Call::OpenTerminal { .. } => "open_terminal",
            Call::Diagnose { .. } => "diagnose",
            Call::PreviewTeam { .. } => "preview_team",
            Call::ImportTeam { .. } => "import_team",
            Call::TryLocally => "try_locally",
            Call::Ping => "ping",
            Call::ShowDashboard => "show_dashboard",
            Call::Follow => "follow",
        }
    }
}

/// What a call answers, as JSON (each call's own type: `AppView`, `()`, the doctor's report…).
pub type Answer = Result<serde_json::Value, AppError>;

fn json<T: Serialize>(r: Result<T, AppError>) -> Answer {
    r.map(|v| serde_json::to_value(v).expect("answers serialize"))
}

/// Carries out `call` on `host`. [`Call::Ping`] is answered here (this host serves);
/// [`Call::ShowDashboard`] and [`Call::Follow`] belong to the front end and the socket, not the
/// host: here they are refused.
pub async fn dispatch(host: &Arc<Host>, call: Call) -> Answer {
    // The benchmark times the dashboard's opening to its first `get_view` (bench/tray_probe.py).
    tracing::debug!(call = call.name(), "dashboard call");
    match call {
        Call::GetView => json(Ok(host.view())),
        Call::GetEvents => json(Ok(host.events())),
        Call::SetActive { name } => json(host.set_active(&name)),
        Call::RefreshNow => json(host.refresh_now().await),
        Call::SignIn { idp } => json(host.sign_in(&idp).await),
        Call::SignOut { idp } => json(host.sign_out(&idp).await),
        Call::SaveWorkspace { name, workspace, replace } => {
            json(host.save_workspace(&name, &workspace, replace).await)
        }
        Call::RemoveWorkspace { name } => json(host.remove_workspace(&name).await),
        Call::SaveIdp { name, idp, replace } => json(host.save_idp(&name, &idp, replace).await),
        Call::RemoveIdp { name } => json(host.remove_idp(&name).await),
        Call::SaveIdpPreset { name, form } => match form.to_idp_form() {
            Ok(idp) => json(host.save_idp(&name, &idp, false).await),
            Err(e) => Err(e),
        },
        Call::LaunchClaude { workspace } => json(host.launch_claude(workspace.as_deref()).await),
        Call::OpenTerminal { workspace } => json(host.open_terminal(workspace.as_deref()).await),
        Call::Diagnose { workspace } => json(host.diagnose(&workspace).await),
        Call::PreviewTeam { name, text } => {
            json::<TeamPlan>(forms::team_plan(&host.paths().config, &name, &text).map(|(_, _, plan)| plan))
        }
        Call::ImportTeam { name, text, replace } => {
            json(onboarding::import_team(host, &name, &text, replace).await)
        }
        Call::TryLocally => match host.cli_program() {
            Some(program) => json(onboarding::try_locally(host, &program).await),
            None => Err(AppError::new(
                ErrorKind::Launch,
                "the bundled `lakepass` command cannot be found; reinstall Lakepass",
            )),
        },
        Call::Ping => json(Ok(env!("CARGO_PKG_VERSION"))),
        Call::ShowDashboard | Call::Follow => {
            Err(AppError::new(ErrorKind::BadRequest, "this call is answered by the tray, not the host"))
        }
    }
}

/// Decodes an answer into the call's type.
pub fn decode<T: serde::de::DeserializeOwned>(answer: Answer) -> Result<T, AppError> {
    let value = answer?;
    serde_json::from_value(value)
        .map_err(|e| AppError::new(ErrorKind::BadRequest, format!("the tray's answer does not parse: {e}")))
}

/// What the events list and the view look like on the wire, for a follower.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Push {
    View(Box<AppView>),
    Events(Vec<Event>),
}

/// A reply line.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Reply {
    Ok(serde_json::Value),
    Err(AppError),
}

#[cfg(test)]
mod tests;
