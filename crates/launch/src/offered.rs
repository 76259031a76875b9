//! What the tray's "Launch ▸" and the dashboard's cards offer, in order: the configured
//! `default_agent` first (else Claude Code), the other coding agents whose programs are found,
//! in [`Agent::ALL`] order, and the terminal last (its program is the terminal emulator, found
//! when it is opened, so it is always offered). A quick look along `PATH`, no process started:
//! the tray asks it every time it redraws.
//!
//! Generic over [`Agent::ALL`]: an agent added there (its [`Agent::program`]) is offered with no
//! change here or in the front ends.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use lakepass_config::Config;

use super::installed::installed_agents;
use super::plan::Agent;

/// The agent offered first: the config's `default_agent` when it names an agent this build
/// launches, else Claude Code.
pub fn default_agent(config: &Config) -> Agent {
    config
        .default_agent
        .as_deref()
        .and_then(|name| Agent::ALL.into_iter().find(|a| a.as_str() == name && *a != Agent::Terminal))
        .unwrap_or(Agent::Claude)
}

/// The agents whose programs are found (the configured path, else the name on `path`, a `PATH`
/// value), each with its program; the default agent first, [`Agent::Terminal`] last with none.
pub fn offered_agents(config: &Config, path: Option<&OsStr>) -> Vec<(Agent, Option<PathBuf>)> {
    let first = default_agent(config);
    // No versions asked, so no data folder read.
    let mut found: Vec<(Agent, Option<PathBuf>)> = installed_agents(config, path, Path::new(""), false)
        .into_iter()
        .filter_map(|a| a.found.map(|p| (a.agent, Some(p))))
        .collect();
    found.sort_by_key(|(a, _)| *a != first);
    found.push((Agent::Terminal, None));
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    fn exe(dir: &std::path::Path, name: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt as _;
        let p = dir.join(name);
        std::fs::write(&p, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        p
    }

    #[cfg(unix)]
    #[test]
    fn found_agents_come_default_first_and_the_terminal_last() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().as_os_str();
        let none = Config::default();
        assert_eq!(offered_agents(&none, Some(path)), vec![(Agent::Terminal, None)], "nothing installed");
        assert_eq!(offered_agents(&none, None), vec![(Agent::Terminal, None)], "no PATH");
        // Every agent this build has, each as its own program on PATH.
        let mut want = Vec::new();
        for a in Agent::ALL {
            if let Some((wanted, _)) = a.program(&none) {
                want.push((a, Some(exe(dir.path(), &wanted.to_string_lossy()))));
            }
        }
        want.push((Agent::Terminal, None));
        assert_eq!(offered_agents(&none, Some(path)), want, "Agent::ALL order, Claude Code first");
        assert_eq!(want[0].0, Agent::Claude);
        // A configured default goes first; the others keep their order.
        for a in Agent::ALL.into_iter().filter(|a| *a != Agent::Terminal) {
            let config = Config { default_agent: Some(a.as_str().into()), ..Config::default() };
            let got: Vec<Agent> = offered_agents(&config, Some(path)).into_iter().map(|(a, _)| a).collect();
            let mut rest: Vec<Agent> = want.iter().map(|(a, _)| *a).filter(|x| *x != a).collect();
            rest.insert(0, a);
            assert_eq!(got, rest, "default_agent = {a:?}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_configured_program_path_wins_and_a_missing_default_is_left_out() {
        let dir = tempfile::tempdir().unwrap();
        let other = tempfile::tempdir().unwrap();
        let claude = exe(other.path(), "my-claude");
        let config = Config { claude_path: Some(claude.clone()), ..Config::default() };
        assert_eq!(
            offered_agents(&config, Some(dir.path().as_os_str())),
            vec![(Agent::Claude, Some(claude)), (Agent::Terminal, None)]
        );
        // The default agent is not installed: it is not offered, and nothing takes its place
        // wrongly (the terminal stays last).
        let missing = Config { claude_path: Some(other.path().join("gone")), ..Config::default() };
        assert_eq!(offered_agents(&missing, Some(dir.path().as_os_str())), vec![(Agent::Terminal, None)]);
    }

    #[test]
    fn default_agent_names_an_agent_else_claude() {
        assert_eq!(default_agent(&Config::default()), Agent::Claude);
        let terminal = Config { default_agent: Some("terminal".into()), ..Config::default() };
        assert_eq!(default_agent(&terminal), Agent::Claude, "the terminal is never the default agent");
        for a in Agent::ALL.into_iter().filter(|a| *a != Agent::Terminal) {
            let c = Config { default_agent: Some(a.as_str().into()), ..Config::default() };
            assert_eq!(default_agent(&c), a);
        }
    }

    /// The config crate cannot name the agents (it comes before this crate), so it keeps their
    /// names in `AGENT_NAMES`: exactly the coding agents here, in the same order.
    #[test]
    fn the_config_names_exactly_the_coding_agents() {
        let ours: Vec<&str> =
            Agent::ALL.into_iter().filter(|a| *a != Agent::Terminal).map(Agent::as_str).collect();
        assert_eq!(ours, lakepass_config::AGENT_NAMES);
    }
}
