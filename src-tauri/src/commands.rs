//! The dashboard's one IPC command, `call`: it takes a [`Call`] (the list of dashboard commands
//! lives in `lakepass_app::remote`, nowhere else) and only delegates: to the host through a
//! [`Backend`] (in this process, or the Linux tray's over `app.sock`), or, for the calls the
//! front end answers itself, to the autostart seam. The answer is the call's
//! [`Answered`](lakepass_app::remote::Answered) value; errors cross as [`AppError`] data
//! (`kind`, `message`, `field`).

use std::sync::Arc;

use tauri::ipc::Invoke;
use tauri::{Runtime, State};

use lakepass_app::app_error::AppError;
use lakepass_app::host::Host;
use lakepass_app::platform::Autostart;
use lakepass_app::remote::{self, Answer, Answered, Call};
use lakepass_engine::ErrorKind;

/// Where the host is.
pub enum Backend {
    /// In this process (macOS, Windows, and Linux with `LAKEPASS_TRAY_IN_PROCESS=1`).
    Local(Arc<Host>),
    /// In the Linux tray (`lakepass tray`), reached over its socket.
    #[cfg(unix)]
    Remote(remote::RemoteHost),
}

impl Backend {
    /// Carries out a call on the host; the answer is its JSON value.
    pub async fn call(&self, call: Call) -> Answer {
        match self {
            Backend::Local(host) => remote::dispatch(host, call).await,
            #[cfg(unix)]
            Backend::Remote(r) => r.call(&call).await,
        }
    }
}

/// What the command reaches, managed by Tauri.
pub struct AppState {
    /// The engine host.
    pub backend: Backend,
    /// Start at login.
    pub autostart: Box<dyn Autostart>,
}

/// Carries out one dashboard call. Autostart belongs to this app, so it is answered here; a
/// follow connection or "show the dashboard" are the socket's and the tray's, never the page's.
#[tauri::command]
pub async fn call(state: State<'_, AppState>, call: Call) -> Answer {
    let autostart = |e: String| AppError::new(ErrorKind::Autostart, e);
    match call {
        Call::GetAutostart => {
            state.autostart.is_enabled().map(|on| Answered::GetAutostart(on).into_value()).map_err(autostart)
        }
        Call::SetAutostart { enabled } => state
            .autostart
            .set_enabled(enabled)
            .map(|()| Answered::SetAutostart.into_value())
            .map_err(autostart),
        Call::Follow | Call::ShowDashboard => {
            Err(AppError::new(ErrorKind::BadRequest, format!("`{}` is not a dashboard call", call.name())))
        }
        call => state.backend.call(call).await,
    }
}

/// The invoke handler: the one command, for `Builder::invoke_handler`.
pub fn handler<R: Runtime>() -> impl Fn(Invoke<R>) -> bool + Send + Sync + 'static {
    tauri::generate_handler![call]
}
