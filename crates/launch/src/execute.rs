//! The one executor: carries out a [`LaunchPlan`], here or in a new terminal window, and writes
//! the launch to the audit log.
//!
//! Here: the plan's files are written, and this process becomes the agent (exec on Unix; on
//! Windows the agent runs as our child and its exit code is passed on).
//!
//! In a new terminal: the files are written, and the terminal is started with the workspace's
//! environment. For an agent (not the plain terminal) the terminal must run something that
//! applies the agent's environment and becomes the agent, which a terminal emulator cannot be
//! trusted to do itself (gnome-terminal hands the command to a server, macOS apps do not
//! inherit our environment, Windows Terminal may open a tab in a running window). So the
//! finished plan goes into a 0600 file in Lakepass's private `<data_dir>/launch` folder, and
//! the terminal runs `lakepass launch --plan <file>`, which reads the file, deletes it, shows
//! the plan's messages and carries it out here ([`take_plan_file`]): the plan is never made
//! twice, and exactly one `lakepass` process stands between the click and the agent. A plan
//! holds no secret (tokens reach agents only through helpers); one that does is refused.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::time::{Duration, Instant};

use super::LaunchError;
use super::plan::{Agent, LaunchPlan};
use super::platform::{hand_over, spawn_detached};
use super::terminal::{TerminalContext, terminal_invocation};
use lakepass_engine::audit::{self, AuditEvent, EventKind};
use lakepass_store::atomic::{create_private_dirs, write_atomic};
use lakepass_store::paths::Paths;
use lakepass_wire::clock::{Clock, SystemClock};

/// A plan file older than this was never picked up (the terminal failed): it is swept.
const STALE_PLAN: Duration = Duration::from_secs(3600);

/// How a carried-out launch ended.
#[derive(Debug)]
pub enum Carried {
    /// A terminal window was opened; the program started in it.
    Opened(String),
    /// The agent ran here and ended with this status (Windows; on Unix this process became it).
    Exited(ExitStatus),
}

/// Carries `plan` out: writes its files (telling each), then opens its terminal or becomes its
/// program. `tell` receives each line for the user. The launch is written to the audit log,
/// failed or not.
pub fn carry_out(
    plan: &LaunchPlan,
    paths: &Paths,
    started: Instant,
    tell: &mut dyn FnMut(&str),
) -> Result<Carried, LaunchError> {
    let r = carry(plan, paths, started, tell);
    if let Err(e) = &r {
        record(paths, &plan.workspace, started, Err(e));
    }
    r
}

fn carry(
    plan: &LaunchPlan,
    paths: &Paths,
    started: Instant,
    tell: &mut dyn FnMut(&str),
) -> Result<Carried, LaunchError> {
    plan.messages.iter().for_each(|m| tell(m));
    for file in &plan.files {
        if let Some(dir) = file.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            // A private file's missing folders are private too (an agent overlay: 0700).
            let private = file.mode & 0o077 == 0;
            let made = if private { create_private_dirs(dir) } else { std::fs::create_dir_all(dir) };
            made.map_err(|source| LaunchError::Io { action: "write", path: file.path.clone(), source })?;
        }
        write_atomic(&file.path, file.contents.as_bytes(), file.mode).map_err(|source| LaunchError::Io {
            action: "write",
            path: file.path.clone(),
            source,
        })?;
        file.told.iter().for_each(|t| tell(t));
    }
    match &plan.terminal {
        Some(_) => open_terminal(plan, paths, started).map(Carried::Opened),
        None => {
            for line in removed_notes(plan, |k| std::env::var_os(k).is_some()) {
                tell(&line);
            }
            let program = plan.program.as_ref().ok_or(LaunchError::PlanFile {
                path: PathBuf::new(),
                reason: "it names no program to run".into(),
            })?;
            record(
                paths,
                &plan.workspace,
                started,
                Ok(format!("{} ({})", plan.agent.as_str(), program.display())),
            );
            let mut cmd = Command::new(program);
            cmd.args(&plan.args);
            if let Some(dir) = &plan.dir {
                cmd.current_dir(dir);
            }
            plan.env.apply(&mut cmd);
            hand_over(&mut cmd).map(Carried::Exited)
        }
    }
}

/// Opens the plan's terminal (its program, via a plan file, or the user's shell).
fn open_terminal(plan: &LaunchPlan, paths: &Paths, started: Instant) -> Result<String, LaunchError> {
    let t = plan.terminal.as_ref().expect("a plan with a terminal");
    let launch_dir = paths.data_dir.join("launch");
    let plan_file = match plan.program {
        Some(_) => Some(save_plan_file(&launch_dir, &plan.for_inside_terminal())?),
        None => None,
    };
    let command = plan_file.as_deref().and_then(|f| plan.terminal_command(f));
    let stamp =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
    let script = launch_dir.join(format!("terminal-{}-{stamp}.command", std::process::id()));
    let ctx = TerminalContext { shell: t.shell.as_deref(), ..Default::default() };
    let inv =
        terminal_invocation(&t.candidate, &t.program, &ctx, &t.dir, command.as_deref(), &t.env, &script);
    if let Err(e) = spawn_detached(&inv, &t.dir, &t.env, &script) {
        if let Some(f) = &plan_file {
            let _ = std::fs::remove_file(f);
        }
        return Err(e);
    }
    let what = match plan.agent {
        Agent::Terminal => format!("terminal {}", t.program),
        agent => format!("{} in a new terminal ({})", agent.as_str(), t.program),
    };
    record(paths, &plan.workspace, started, Ok(what));
    Ok(t.program.clone())
}

/// Writes `plan` to a new 0600 file in `dir` (created private) for `lakepass launch --plan`,
/// sweeping plan files that were never picked up. Refuses a plan that holds a secret.
pub fn save_plan_file(dir: &Path, plan: &LaunchPlan) -> Result<PathBuf, LaunchError> {
    if !plan.env.secrets.is_empty() {
        return Err(LaunchError::PlanFile {
            path: dir.into(),
            reason: "a plan that holds a secret is never written".into(),
        });
    }
    let io = |path: &Path, source| LaunchError::Io { action: "write", path: path.into(), source };
    create_private_dirs(dir).map_err(|e| io(dir, e))?;
    sweep_stale_plans(dir);
    let stamp =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
    let path = dir.join(format!("plan-{}-{stamp}.json", std::process::id()));
    let text = serde_json::to_vec(plan).map_err(|e| io(&path, std::io::Error::other(e)))?;
    write_atomic(&path, &text, 0o600).map_err(|e| io(&path, e))?;
    Ok(path)
}

fn sweep_stale_plans(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let old = entry.metadata().ok().and_then(|m| m.modified().ok()).and_then(|t| t.elapsed().ok());
        if name.starts_with("plan-") && name.ends_with(".json") && old.is_some_and(|age| age > STALE_PLAN) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Reads and deletes the plan file at `path` (what `lakepass launch --plan` runs). A plan names
/// a program to run, so a file another user could have written or placed is refused: not a
/// plain file, any group or other permission bit, a folder others can enter, or (Unix) a file
/// or folder owned by someone else.
pub fn take_plan_file(path: &Path) -> Result<LaunchPlan, LaunchError> {
    let bad = |reason: &str| LaunchError::PlanFile { path: path.into(), reason: reason.into() };
    let meta = std::fs::symlink_metadata(path).map_err(|source| LaunchError::Io {
        action: "read",
        path: path.into(),
        source,
    })?;
    if !meta.is_file() {
        return Err(bad("it is not a plain file"));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
        if meta.permissions().mode() & 0o077 != 0 {
            return Err(bad("others may write it (its mode is not 0600)"));
        }
        let folder = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let folder = std::fs::metadata(folder).map_err(|source| LaunchError::Io {
            action: "read",
            path: folder.into(),
            source,
        })?;
        if folder.permissions().mode() & 0o077 != 0 {
            return Err(bad("its folder is open to others (Lakepass keeps plans in a 0700 folder)"));
        }
        let me = rustix::process::geteuid().as_raw();
        if meta.uid() != me || folder.uid() != me {
            return Err(bad("it, or its folder, belongs to another user"));
        }
    }
    let text = std::fs::read(path).map_err(|source| LaunchError::Io {
        action: "read",
        path: path.into(),
        source,
    })?;
    let _ = std::fs::remove_file(path);
    serde_json::from_slice(&text).map_err(|e| bad(&format!("it is not a launch plan ({e})")))
}

/// What the user is told about inherited variables the program will not see, and why.
pub fn removed_notes(plan: &LaunchPlan, inherited: impl Fn(&str) -> bool) -> Vec<String> {
    plan.env
        .removed_present(inherited)
        .into_iter()
        .map(|var| {
            let why = if var.starts_with("ANTHROPIC_") {
                "it would win over the refreshing apiKeyHelper".to_string()
            } else {
                format!("the `{}` profile is used instead", live_profile_for(plan))
            };
            format!("lakepass: not passing {var} on from your environment: {why}.")
        })
        .collect()
}

/// The live profile the plan's environment names (every workspace environment does).
fn live_profile_for(plan: &LaunchPlan) -> &str {
    plan.env.get("DATABRICKS_CONFIG_PROFILE").unwrap_or_default()
}

/// Writes a launch to the audit log (best effort; never a token: none is at hand here).
pub fn record(paths: &Paths, workspace: &str, started: Instant, what: Result<String, &LaunchError>) {
    let now = SystemClock.now();
    let event = match what {
        Ok(what) => AuditEvent::ok(EventKind::Launch, now, started.elapsed()).message(&what),
        Err(e) => AuditEvent::failure(EventKind::Launch, now, started.elapsed(), e.kind(), &e.to_string()),
    };
    audit::record(paths, &event.workspace(workspace));
}
