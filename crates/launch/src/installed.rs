//! Which coding agents are installed: for `lakepass launch --list`, and for front ends that show
//! only the agents a user can start (the tray's "Launch ▸", the dashboard's buttons).
//!
//! An agent's program is where `[agent.<name>] path` says, else its npm binary name on `PATH`
//! ([`Agent::program`]); found like a shell finds it ([`find_program`]). Its version is asked
//! with `<program> --version` (Claude Code's through its cache, `claude_version.rs`), off the
//! caller's thread and bounded in time, since a broken install must not hang a menu. A missing
//! agent comes with the command that installs it ([`Agent::install_hint`]).

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

use super::claude_version::installed_claude;
use super::find_program;
use super::plan::Agent;
use lakepass_config::Config;

/// How long `<agent> --version` may take before the version is left out.
const VERSION_TIMEOUT: Duration = Duration::from_secs(10);

/// One agent, installed or not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InstalledAgent {
    /// Which agent.
    pub agent: Agent,
    /// The program looked for: the configured path, or the bare name looked up on `PATH`.
    pub wanted: PathBuf,
    /// Whether `wanted` comes from the config (`[agent.<name>] path` / `claude_path`).
    pub configured: bool,
    /// Where it was found; `None`: not installed (or not where the config says).
    pub found: Option<PathBuf>,
    /// What `--version` printed (its first line), when it answered in time.
    pub version: Option<String>,
}

impl InstalledAgent {
    /// Whether it can be launched.
    pub fn is_installed(&self) -> bool {
        self.found.is_some()
    }
}

/// Every agent that runs a program ([`Agent::ALL`] but the terminal), found or not, with its
/// version when `with_versions` (each a process; leave it off for a quick menu).
pub fn installed_agents(
    config: &Config,
    path: Option<&std::ffi::OsStr>,
    data_dir: &Path,
    with_versions: bool,
) -> Vec<InstalledAgent> {
    Agent::ALL
        .iter()
        .filter_map(|&agent| {
            let (wanted, configured) = agent.program(config)?;
            let found = find_program(&wanted, path);
            let version = match (&found, with_versions) {
                (Some(p), true) if agent == Agent::Claude => {
                    installed_claude(p, data_dir).version.map(|v| v.to_string())
                }
                (Some(p), true) => version_of(p),
                _ => None,
            };
            Some(InstalledAgent { agent, wanted, configured: configured.is_some(), found, version })
        })
        .collect()
}

/// The first non-empty line `<program> --version` prints (on stdout, else stderr), if it
/// answers within the timeout.
fn version_of(program: &Path) -> Option<String> {
    let mut cmd = std::process::Command::new(program);
    cmd.arg("--version")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let child = cmd.spawn().ok()?;
    let id = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let out = match rx.recv_timeout(VERSION_TIMEOUT) {
        Ok(out) => out.ok()?,
        Err(_) => {
            kill(id);
            return None;
        }
    };
    if !out.status.success() {
        return None;
    }
    // Pi prints its version on stderr, the others on stdout.
    let first_line = |bytes: &[u8]| {
        let text = String::from_utf8_lossy(bytes);
        text.lines().map(str::trim).find(|l| !l.is_empty()).map(|l| l.chars().take(120).collect::<String>())
    };
    first_line(&out.stdout).or_else(|| first_line(&out.stderr))
}

/// Ends a `--version` that did not answer in time (our own child, by its id).
#[cfg(unix)]
fn kill(id: u32) {
    if let Some(pid) = rustix::process::Pid::from_raw(id as i32) {
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
    }
}

#[cfg(not(unix))]
fn kill(_id: u32) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt as _;
        let p = dir.join(name);
        std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        p
    }

    #[cfg(unix)]
    #[test]
    fn lists_every_agent_found_or_not_with_its_version() {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        script(&bin, "codex", "echo 'codex-cli 0.169.0'");
        let pi = script(dir.path(), "my-pi", "echo; echo 0.73.1 >&2");
        let text = format!("[agent.pi]\npath = '''{}'''\n", pi.display());
        let config = Config::parse(&text, Path::new("config.toml")).unwrap();
        let list = installed_agents(&config, Some(bin.as_os_str()), dir.path(), true);
        let agents: Vec<Agent> = list.iter().map(|a| a.agent).collect();
        assert_eq!(
            agents,
            [Agent::Claude, Agent::Codex, Agent::Gemini, Agent::OpenCode, Agent::Copilot, Agent::Pi],
            "the terminal is not a program"
        );
        assert!(!list[0].is_installed() && !list[0].configured);
        assert_eq!(list[0].wanted, Path::new("claude"));
        assert_eq!(list[1].found.as_deref(), Some(bin.join("codex").as_path()));
        assert_eq!(list[1].version.as_deref(), Some("codex-cli 0.169.0"));
        assert!(list[5].configured && list[5].is_installed());
        assert_eq!(list[5].version.as_deref(), Some("0.73.1"), "the first non-empty line, on stderr");
        let quick = installed_agents(&config, Some(bin.as_os_str()), dir.path(), false);
        assert!(quick.iter().all(|a| a.version.is_none()));
        for a in Agent::ALL.iter().filter(|a| **a != Agent::Terminal) {
            assert!(a.install_hint().is_some_and(|h| h.contains("install")), "{a:?}");
        }
        // A missing agent's error says how to install it, or which config line is wrong.
        let missing = crate::LaunchError::AgentNotFound { agent: Agent::Pi, configured: None }.to_string();
        assert!(
            missing.contains("npm install -g @mariozechner/pi-coding-agent")
                && missing.contains("[agent.pi]"),
            "{missing}"
        );
        let wrong =
            crate::LaunchError::AgentNotFound { agent: Agent::Codex, configured: Some("/opt/codex".into()) };
        assert!(
            wrong.to_string().contains("/opt/codex") && wrong.to_string().contains("[agent.codex] path"),
            "{wrong}"
        );
        assert_eq!(wrong.kind(), lakepass_engine::error::ErrorKind::Config);
        // `~/` in a configured path is the home folder.
        let tilde = Config::parse("[agent.codex]\npath = \"~/bin/codex\"\n", Path::new("c.toml")).unwrap();
        let (wanted, _) = Agent::Codex.program(&tilde).unwrap();
        assert_eq!(Some(wanted), crate::user_home().map(|h| h.join("bin/codex")));
    }
}
