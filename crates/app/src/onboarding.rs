//! The first-run set-up's two actions that do more than save a form: importing a team file
//! (through the core's `TeamFile`, exactly as `lakepass setup` does) and "Try it locally", which
//! runs `lakepass devstack --write-config` for someone with no IdP yet.
//!
//! The devstack is a child process of the app: it lives while the app does and is stopped when
//! the app quits ([`stop_local_devstack`]), since its ports change on every start.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lakepass_config::{Config, TeamPlan};
use lakepass_engine::ErrorKind;

use crate::app_error::AppError;
use crate::events::Level;
use crate::forms::team_plan;
use crate::host::Host;

/// The email the local devstack signs everyone in as (no login page: it is a demo).
const LOCAL_USER: &str = "you@example.com";

/// The devstack started by "Try it locally", if any.
static LOCAL_DEVSTACK: Mutex<Option<Child>> = Mutex::new(None);

/// Imports a team file into the config (entries new to it; with `replace`, also those in
/// conflict), then restarts the engine on it. A workspace host outside the Databricks
/// workspace domains is imported only when `trusted` names it (the user ticked it, shown by
/// name). Returns the plan that was applied.
pub async fn import_team(
    host: &Arc<Host>,
    name: &str,
    text: &str,
    replace: bool,
    trusted: &[String],
) -> Result<TeamPlan, AppError> {
    let path = host.paths().config.clone();
    let (team, mut doc, plan) = team_plan(&path, name, text)?;
    let before = doc.to_config(&path)?;
    doc.apply_team(&team, &plan, replace, trusted)?;
    if plan.changes_anything(replace) {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| {
                AppError::new(ErrorKind::Config, format!("cannot create {}: {e}", dir.display()))
            })?;
        }
        doc.save(&path)?;
        host.log(Level::Info, None, format!("Team file {name} imported"));
        host.forget_replaced_sessions(&before, &doc.to_config(&path)?).await;
        host.reload().await;
    }
    Ok(plan)
}

/// Starts the local devstack with `program` (the sidecar CLI), waits for the config it writes,
/// and restarts the engine on it.
pub(crate) async fn try_locally(host: &Arc<Host>, program: &Path) -> Result<(), AppError> {
    let config = host.paths().config.clone();
    if has_entries(&config) {
        return Err(AppError::new(
            ErrorKind::Invalid,
            "Lakepass is already set up; the local demo is for a first start with nothing configured.",
        ));
    }
    let child = Command::new(program)
        .args(["devstack", "--auto-approve", LOCAL_USER, "--write-config"])
        .arg(&config)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| AppError::new(ErrorKind::Launch, format!("cannot start {}: {e}", program.display())))?;
    stop_local_devstack();
    *LOCAL_DEVSTACK.lock().expect("devstack") = Some(child);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !has_entries(&config) {
        let exited =
            LOCAL_DEVSTACK.lock().expect("devstack").as_mut().and_then(|c| c.try_wait().ok().flatten());
        if let Some(status) = exited {
            return Err(AppError::new(
                ErrorKind::Launch,
                format!("the local devstack stopped at once ({status})"),
            ));
        }
        if Instant::now() > deadline {
            stop_local_devstack();
            return Err(AppError::new(ErrorKind::Launch, "the local devstack did not start within 30 s"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    host.log(Level::Info, None, "Local devstack started: IdP `devstack`, workspaces `dev` and `prod`");
    host.reload().await;
    Ok(())
}

/// Stops the devstack "Try it locally" started, if it runs.
pub fn stop_local_devstack() {
    if let Some(mut child) = LOCAL_DEVSTACK.lock().expect("devstack").take() {
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// The config at `path` parses and names at least one IdP or workspace.
fn has_entries(path: &Path) -> bool {
    Config::load(path).is_ok_and(|c| !c.idp.is_empty() || !c.workspace.is_empty())
}
