//! `[agent.<name>]`: per coding agent settings for `lakepass launch <name>`: where its program
//! is, which model it asks for, and per workspace overrides (`[agent.<name>.workspace.<ws>]`).
//!
//! Kept beside, not inside, `[workspace.*]` (as `[claude.<ws>]` and `[mcp.<ws>]` are) so code
//! building a workspace need not know about launchers. The agent names are a closed list here
//! ([`AGENT_NAMES`], the same spellings as `lakepass launch <agent>`): the config cannot depend on
//! the launch crate, and a misspelt agent must be an error naming the key, not a table silently
//! ignored. The top-level `claude_path` of older files stays valid: it is the same setting as
//! `[agent.claude] path` ([`Config::agent_path`]); setting both is refused.
//!
//! ```toml
//! [agent.codex]
//! path = "/opt/codex/bin/codex"        # else `codex` on PATH
//! model = "system.ai.gpt-5-2"          # else the newest the workspace serves
//!
//! [agent.codex.workspace.dev]          # only for workspace `dev`
//! model = "system.ai.gpt-5-1"
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::error::list;
use super::model::Config;
use super::validate::{Problem, problem};

/// The agents `[agent.<name>]` may name: every `lakepass launch <agent>` that runs a program
/// (the terminal's program is the top-level `terminal`).
pub const AGENT_NAMES: &[&str] = &["claude", "codex", "gemini", "opencode", "copilot", "pi"];

/// `[agent.<name>]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentConfig {
    /// The agent's program; else its usual name on `PATH` (`~/` is the home folder).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
    /// The model the agent asks for, as the workspace serves it; else the newest the workspace
    /// lists for the agent's API. Not for Claude Code, which takes three (`[claude.<ws>]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Overrides for one workspace (`[agent.<name>.workspace.<ws>]`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub workspace: BTreeMap<String, AgentWorkspaceConfig>,
}

/// `[agent.<name>.workspace.<ws>]`: what differs for one workspace.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentWorkspaceConfig {
    /// The model for this workspace (wins over `[agent.<name>] model`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
}

impl Config {
    /// The configured program of agent `name`: `[agent.<name>] path`, or for `claude` the older
    /// top-level `claude_path` (the two are one setting; validation refuses both at once).
    pub fn agent_path(&self, name: &str) -> Option<&Path> {
        let own = self.agent.get(name).and_then(|a| a.path.as_deref());
        match name {
            "claude" => own.or(self.claude_path.as_deref()),
            _ => own,
        }
    }

    /// The configured model of agent `name` for workspace `workspace`:
    /// `[agent.<name>.workspace.<ws>] model`, else `[agent.<name>] model`.
    pub fn agent_model(&self, name: &str, workspace: &str) -> Option<&str> {
        let a = self.agent.get(name)?;
        a.workspace.get(workspace).and_then(|w| w.model.as_deref()).or(a.model.as_deref())
    }
}

/// The checks of every `[agent.*]` table, added to the config's.
pub(super) fn check_agents(c: &Config, out: &mut Vec<Problem>) {
    for (name, a) in &c.agent {
        if !AGENT_NAMES.contains(&name.as_str()) {
            out.push(problem(
                &["agent", name],
                format!("is not an agent Lakepass launches; use one of {}", list(AGENT_NAMES)),
            ));
            continue;
        }
        if a.path.as_ref().is_some_and(|p| p.as_os_str().is_empty()) {
            out.push(problem(
                &["agent", name, "path"],
                format!("is empty; remove the line to use `{name}` on PATH"),
            ));
        }
        if name == "claude" && a.path.is_some() && c.claude_path.is_some() {
            out.push(problem(
                &["claude_path"],
                "and [agent.claude] path both name Claude Code's program; keep `[agent.claude] path` \
                 and remove `claude_path`",
            ));
        }
        let models = std::iter::once((vec!["agent", name.as_str(), "model"], &a.model)).chain(
            a.workspace
                .iter()
                .map(|(ws, w)| (vec!["agent", name.as_str(), "workspace", ws.as_str(), "model"], &w.model)),
        );
        for (at, model) in models {
            let Some(m) = model else { continue };
            if name == "claude" {
                out.push(problem(
                    &at,
                    "does not apply to Claude Code, which takes three models: set opus_model, \
                     sonnet_model and haiku_model under [claude.<workspace>]",
                ));
            } else if m.trim().is_empty() || m.contains(char::is_whitespace) || m.contains(char::is_control) {
                out.push(problem(
                    &at,
                    "is empty or has spaces; write the model name as the workspace serves it",
                ));
            }
        }
        for ws in a.workspace.keys() {
            if !c.workspace.contains_key(ws) {
                out.push(problem(
                    &["agent", name, "workspace", ws],
                    format!(
                        "names workspace `{ws}`, which is not defined; use [agent.{name}.workspace.<workspace name>]"
                    ),
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{MINIMAL, invalid, path};
    use super::*;

    #[test]
    fn agent_tables_set_path_and_model_per_workspace() {
        let text = format!(
            "{MINIMAL}\n[agent.codex]\npath = \"/opt/codex\"\nmodel = \"system.ai.gpt-5-2\"\n\n\
             [agent.codex.workspace.b]\nmodel = \"system.ai.gpt-5-1\"\n\n[agent.pi]\npath = \"pi-dev\"\n"
        );
        let c = Config::parse(&text, path()).unwrap();
        assert_eq!(c.agent_path("codex"), Some(Path::new("/opt/codex")));
        assert_eq!(c.agent_path("pi"), Some(Path::new("pi-dev")));
        assert_eq!(c.agent_path("gemini"), None);
        assert_eq!(c.agent_model("codex", "a"), Some("system.ai.gpt-5-2"));
        assert_eq!(c.agent_model("codex", "b"), Some("system.ai.gpt-5-1"), "the workspace's wins");
        assert_eq!(c.agent_model("pi", "a"), None);
        assert_eq!(Config::parse(&toml::to_string(&c).unwrap(), path()).unwrap(), c, "round-trips");
    }

    #[test]
    fn claude_path_is_agent_claude_path() {
        let old = Config::parse(&format!("claude_path = \"/opt/claude\"\n{MINIMAL}"), path()).unwrap();
        assert_eq!(old.agent_path("claude"), Some(Path::new("/opt/claude")));
        let new = Config::parse(&format!("{MINIMAL}[agent.claude]\npath = \"/opt/c2\"\n"), path()).unwrap();
        assert_eq!(new.agent_path("claude"), Some(Path::new("/opt/c2")));
        let (msg, line, field) =
            invalid(&format!("claude_path = \"/opt/claude\"\n{MINIMAL}[agent.claude]\npath = \"/opt/c2\"\n"));
        assert_eq!((line, field.as_str()), (Some(1), "claude_path"), "{msg}");
        assert!(msg.contains("remove `claude_path`"), "{msg}");
    }

    #[test]
    fn agent_tables_are_strict() {
        // An agent Lakepass does not launch: the key is named, with the known ones.
        let (msg, line, field) = invalid(&format!("{MINIMAL}[agent.codx]\npath = \"x\"\n"));
        assert_eq!((line, field.as_str()), (Some(13), "agent.codx"), "{msg}");
        assert!(msg.contains("`codex`") && msg.contains("`pi`"), "{msg}");
        // An unknown key inside a known agent's table (serde's deny_unknown_fields).
        let (msg, line, field) = invalid(&format!("{MINIMAL}[agent.codex]\nmodle = \"x\"\n"));
        assert_eq!((line, field.as_str()), (Some(14), "agent.codex.modle"), "{msg}");
        assert!(msg.contains("unknown field `modle`"), "{msg}");
        let (msg, _, field) =
            invalid(&format!("{MINIMAL}[agent.codex.workspace.a]\nmodel = \"m\"\npath = \"x\"\n"));
        assert_eq!(field, "agent.codex.workspace.a.path", "{msg}");
        for (extra, at) in [
            ("[agent.codex]\npath = \"\"\n", "agent.codex.path"),
            ("[agent.codex]\nmodel = \"gpt 5\"\n", "agent.codex.model"),
            ("[agent.pi.workspace.a]\nmodel = \"\"\n", "agent.pi.workspace.a.model"),
            ("[agent.pi.workspace.zz]\nmodel = \"m\"\n", "agent.pi.workspace.zz"),
            ("[agent.claude]\nmodel = \"m\"\n", "agent.claude.model"),
        ] {
            let (msg, _, field) = invalid(&format!("{MINIMAL}{extra}"));
            assert_eq!(field, at, "{msg}");
        }
    }
}
