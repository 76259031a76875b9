//! The proxy grant a launch needs, opened where the agent starts: for agents that cannot ask
//! for a token themselves (Gemini CLI), the plan names the variable that gets the engine
//! proxy's URL ([`ProxyEnv`]), and the grant is opened just before the agent starts, in the
//! process that becomes it (here, or the `lakepass launch --plan` inside a new terminal). So a
//! plan, and a plan file, never holds the grant's key.
//!
//! The proxy lives in the running engine (the daemon or the tray app). When none runs, the
//! launch starts `lakepass daemon` in the background, says so, and asks again: the agent's
//! session then lasts as long as that daemon runs.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::LaunchError;
use super::plan::LaunchPlan;
use lakepass_engine::engine::EngineError;
use lakepass_engine::proxy::{ProxyError, open_grant};
use lakepass_store::paths::Paths;

/// How long a just-started daemon is given to open its socket.
const DAEMON_START: Duration = Duration::from_secs(20);

/// A variable that gets a proxy grant's URL when the agent starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProxyEnv {
    /// The variable (`GOOGLE_GEMINI_BASE_URL`).
    pub var: String,
    /// The path after the grant's base URL (`/ai-gateway/gemini`).
    pub path: String,
}

/// Opens the grant `plan.proxy` asks for and sets its variable (as a secret: never written to a
/// plan file), starting `lakepass daemon` first when no engine runs. Returns what to tell.
pub async fn open_proxy_env(plan: &mut LaunchPlan, paths: &Paths) -> Result<Vec<String>, LaunchError> {
    let Some(want) = plan.proxy.clone() else {
        return Ok(Vec::new());
    };
    let sign_in = |error: EngineError| LaunchError::SignIn {
        agent: plan.agent,
        workspace: plan.workspace.clone(),
        error: Box::new(error),
    };
    let mut told = Vec::new();
    let grant = match open_grant(paths, &plan.workspace).await {
        Ok(g) => g,
        Err(EngineError::Proxy(ProxyError::NoEngine { .. })) => {
            let pid = start_daemon(&plan.lakepass, super::planner::explicit_config(paths).as_deref(), paths)?;
            told.push(format!(
                "note: no Lakepass engine was running; started `lakepass daemon` in the background (pid {pid}, \
                 log {}). It keeps {}'s token fresh; stop it with `kill {pid}` when you are done.",
                daemon_log(paths).display(),
                plan.agent.title()
            ));
            let deadline = Instant::now() + DAEMON_START;
            loop {
                match open_grant(paths, &plan.workspace).await {
                    Ok(g) => break g,
                    Err(EngineError::Proxy(ProxyError::NoEngine { .. })) if Instant::now() < deadline => {
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                    Err(e) => return Err(sign_in(e)),
                }
            }
        }
        Err(e) => return Err(sign_in(e)),
    };
    plan.env.secrets.retain(|(k, _)| *k != want.var);
    plan.env.secrets.push((want.var.clone(), grant.url(&want.path)));
    Ok(told)
}

fn daemon_log(paths: &Paths) -> std::path::PathBuf {
    paths.data_dir.join("launch").join("daemon.log")
}

/// Starts `lakepass [--config F] daemon` detached from this terminal, its output in a log file.
fn start_daemon(lakepass: &Path, config: Option<&Path>, paths: &Paths) -> Result<u32, LaunchError> {
    let log_path = daemon_log(paths);
    let io = |source| LaunchError::Io { action: "write", path: log_path.clone(), source };
    lakepass_store::atomic::create_private_dirs(log_path.parent().expect("a folder")).map_err(io)?;
    let log = std::fs::OpenOptions::new().create(true).append(true).open(&log_path).map_err(io)?;
    let mut cmd = Command::new(lakepass);
    if let Some(c) = config {
        cmd.arg("--config").arg(c);
    }
    cmd.arg("daemon").stdin(Stdio::null()).stdout(log.try_clone().map_err(io)?).stderr(log);
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt as _;
        cmd.process_group(0);
    }
    let child = cmd
        .spawn()
        .map_err(|source| LaunchError::Spawn { program: lakepass.display().to_string(), source })?;
    Ok(child.id())
}
