//! The dashboard's link to the host when they live in two processes (Linux: `lakepass tray`
//! holds the host, the Tauri dashboard runs only while its window is open).
//!
//! Every dashboard command is a [`Call`], and this enum is the only list of them: the Tauri side
//! is one command that takes a `Call`, and the dashboard's TypeScript reads the calls and their
//! answers ([`Answered`]) from the types ts-rs generates from these two. [`dispatch`] carries a
//! call out on a host, so the in-process app (macOS, Windows) and the socket below run the same
//! code. Adding a command is a variant here, its answer in [`Answered`] and its arm in
//! [`dispatch`] (the compiler asks for its [`Call::name`]).
//!
//! On Unix the tray serves calls on `app.sock`, beside the engine socket and by the same server
//! with the same walls and limits (`lakepass_engine::ipc::LineServer`): one JSON line in, one
//! line out (`{"ok": …}` or `{"err": AppError}`). A [`Call::Follow`] connection instead stays open and gets the current
//! view and events at once, then each new one, until the tray quits — which is how the
//! dashboard knows to close with it. Nothing on this socket carries a token: views hold expiry
//! times and states only.

use std::sync::Arc;

use lakepass_config::TeamPlan;
use lakepass_doctor::Report;
use lakepass_engine::ErrorKind;
use lakepass_store::Paths;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::app_error::AppError;
use crate::events::Event;
use crate::forms::{self, IdpForm, PresetForm, PresetView, WorkspaceForm};
use crate::host::Host;
use crate::onboarding;
use crate::view::AppView;

#[cfg(unix)]
mod unix;
#[cfg(unix)]
pub use unix::{Follow, OnShow, RemoteHost, Server, Update};

/// The socket's file name, beside the engine socket.
pub(crate) const APP_SOCKET_NAME: &str = "app.sock";

/// Where the tray serves the dashboard: the engine socket's folder, `app.sock`.
pub fn app_socket_path(paths: &Paths) -> std::path::PathBuf {
    let engine = lakepass_engine::ipc::socket_path(paths);
    engine.with_file_name(APP_SOCKET_NAME)
}

/// One dashboard command: the dashboard sends it as JSON tagged by its snake_case name
/// (`{"call": "set_active", "name": "dev"}`), to the Tauri command `call` or over `app.sock`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
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
    /// The browser sign-in for an IdP (answers when it is done, with who signed in).
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
    /// Launch an agent (one of the view's `agents`; `terminal` opens a terminal) for a
    /// workspace (default: the active one).
    Launch {
        /// The agent's name (`lakepass launch <name>`).
        agent: String,
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
        /// The hosts outside the Databricks workspace domains the user confirmed, each by name
        /// ([`lakepass_config::TeamHost::needs_confirmation`]); any other such host is refused.
        #[serde(default)]
        trusted_hosts: Vec<String>,
    },
    /// "Try it locally": start the devstack and set up on it.
    TryLocally,
    /// The IdP presets the first-run set-up offers, with the values each needs.
    IdpPresets,
    /// The workspace host a URL pasted from the browser stands for (paths and `?o=` accepted).
    WorkspaceHost {
        /// The pasted URL.
        url: String,
    },
    /// Whether the app starts at login (answered by the front end: it owns the autostart entry).
    GetAutostart,
    /// Turn start-at-login on or off (answered by the front end).
    SetAutostart {
        /// On or off.
        enabled: bool,
    },
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
            Call::Launch { .. } => "launch",
            Call::Diagnose { .. } => "diagnose",
            Call::PreviewTeam { .. } => "preview_team",
            Call::ImportTeam { .. } => "import_team",
            Call::TryLocally => "try_locally",
            Call::IdpPresets => "idp_presets",
            Call::WorkspaceHost { .. } => "workspace_host",
            Call::GetAutostart => "get_autostart",
            Call::SetAutostart { .. } => "set_autostart",
            Call::Ping => "ping",
            Call::ShowDashboard => "show_dashboard",
            Call::Follow => "follow",
        }
    }
}

/// What each call answers, under the call's name: [`dispatch`] answers a call with the variant
/// of the same name, so the answer's type is pinned beside the call (and, through ts-rs, in the
/// dashboard's TypeScript). Only its `value` crosses the wire (a unit answer is `null`).
/// [`Call::Follow`] has none: its connection carries pushes instead.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(tag = "call", content = "value", rename_all = "snake_case")]
#[allow(missing_docs)] // Each variant is the answer to the call of the same name.
pub enum Answered {
    GetView(Box<AppView>),
    GetEvents(Vec<Event>),
    SetActive,
    RefreshNow,
    /// Who signed in, in the verified id_token's words.
    SignIn(String),
    SignOut,
    SaveWorkspace,
    RemoveWorkspace,
    SaveIdp,
    RemoveIdp,
    SaveIdpPreset,
    Launch,
    Diagnose(Box<Report>),
    PreviewTeam(TeamPlan),
    ImportTeam(TeamPlan),
    TryLocally,
    IdpPresets(Vec<PresetView>),
    WorkspaceHost(String),
    GetAutostart(bool),
    SetAutostart,
    /// This tray's version.
    Ping(String),
    ShowDashboard,
}

impl Answered {
    /// The answer as it crosses the wire: its `value`, or `null` for a unit answer.
    pub fn into_value(self) -> serde_json::Value {
        self.into_parts().1
    }

    /// The name of the call it answers (its wire name), and its value.
    fn into_parts(self) -> (String, serde_json::Value) {
        let serde_json::Value::Object(mut fields) = serde_json::to_value(self).expect("answers serialize")
        else {
            unreachable!("an adjacently tagged enum serializes as an object")
        };
        let Some(serde_json::Value::String(call)) = fields.remove("call") else {
            unreachable!("an answer is tagged with its call")
        };
        (call, fields.remove("value").unwrap_or_default())
    }
}

/// What a call answers, as JSON: the `value` of its [`Answered`].
pub type Answer = Result<serde_json::Value, AppError>;

/// Carries out `call` on `host`, answering with its [`Answered`]'s value.
pub async fn dispatch(host: &Arc<Host>, call: Call) -> Answer {
    // The benchmark times the dashboard's opening to its first `get_view` (bench/tray_probe.py).
    let name = call.name();
    tracing::debug!(call = name, "dashboard call");
    let (answered, value) = answer(host, call).await?.into_parts();
    debug_assert_eq!(answered, name, "a call answered with another call's answer");
    Ok(value)
}

/// Carries out `call` on `host`. [`Call::Ping`] is answered here (this host serves);
/// [`Call::ShowDashboard`], [`Call::Follow`] and the autostart calls belong to the front end
/// and the socket, not the host: here they are refused.
pub async fn answer(host: &Arc<Host>, call: Call) -> Result<Answered, AppError> {
    Ok(match call {
        Call::GetView => Answered::GetView(Box::new(host.view())),
        Call::GetEvents => Answered::GetEvents(host.events()),
        Call::SetActive { name } => host.set_active(&name).map(|()| Answered::SetActive)?,
        Call::RefreshNow => host.refresh_now().await.map(|()| Answered::RefreshNow)?,
        Call::SignIn { idp } => host.sign_in(&idp).await.map(Answered::SignIn)?,
        Call::SignOut { idp } => host.sign_out(&idp).await.map(|()| Answered::SignOut)?,
        Call::SaveWorkspace { name, workspace, replace } => {
            host.save_workspace(&name, &workspace, replace).await?;
            Answered::SaveWorkspace
        }
        Call::RemoveWorkspace { name } => {
            host.remove_workspace(&name).await.map(|()| Answered::RemoveWorkspace)?
        }
        Call::SaveIdp { name, idp, replace } => {
            host.save_idp(&name, &idp, replace).await?;
            Answered::SaveIdp
        }
        Call::RemoveIdp { name } => host.remove_idp(&name).await.map(|()| Answered::RemoveIdp)?,
        Call::SaveIdpPreset { name, form } => {
            host.save_idp(&name, &form.to_idp_form()?, false).await?;
            Answered::SaveIdpPreset
        }
        Call::Launch { agent, workspace } => {
            let agent = crate::view::agent_named(&agent).ok_or_else(|| {
                AppError::new(
                    ErrorKind::BadRequest,
                    format!("`{agent}` is not an agent this Lakepass launches"),
                )
            })?;
            host.launch(agent, workspace.as_deref()).await?;
            Answered::Launch
        }
        Call::Diagnose { workspace } => Answered::Diagnose(Box::new(host.diagnose(&workspace).await?)),
        Call::PreviewTeam { name, text } => {
            let (_, _, plan) = forms::team_plan(&host.paths().config, &name, &text)?;
            Answered::PreviewTeam(plan)
        }
        Call::ImportTeam { name, text, replace, trusted_hosts } => {
            Answered::ImportTeam(onboarding::import_team(host, &name, &text, replace, &trusted_hosts).await?)
        }
        Call::TryLocally => match host.cli_program() {
            Some(program) => onboarding::try_locally(host, &program).await.map(|()| Answered::TryLocally)?,
            None => {
                return Err(AppError::new(
                    ErrorKind::Launch,
                    "the bundled `lakepass` command cannot be found; reinstall Lakepass",
                ));
            }
        },
        Call::IdpPresets => Answered::IdpPresets(forms::presets()),
        Call::WorkspaceHost { url } => Answered::WorkspaceHost(forms::workspace_host(&url)?),
        Call::Ping => Answered::Ping(env!("CARGO_PKG_VERSION").to_string()),
        Call::ShowDashboard | Call::Follow | Call::GetAutostart | Call::SetAutostart { .. } => {
            return Err(AppError::new(
                ErrorKind::BadRequest,
                "this call is answered by the tray or the dashboard, not the host",
            ));
        }
    })
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
