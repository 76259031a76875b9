//! The Lakepass config file: which identity providers and Databricks workspaces to use.
//!
//! ```toml
//! # Lakepass configuration
//! active = "dev"              # default workspace for commands
//! profile_flavour = "static"  # profile per workspace: "static" (host + token, default) or
//!                             # "cli-helper" (SDKs run `lakepass auth token`; no token in the file)
//!
//! [idp.corp]
//! issuer = "https://login.microsoftonline.com/<tenant>/v2.0"   # exact string, as in the id_token `iss`
//! client_id = "00000000-0000-0000-0000-000000000000"
//! scopes = ["openid", "profile", "email", "offline_access"]     # default
//! redirect_port = 8400        # loopback port for the sign-in redirect; 0 = any free port (default 0)
//! auth_params = { prompt = "consent" }   # extra authorize-URL parameters, optional
//!
//! [workspace.dev]
//! idp = "corp"
//! host = "https://adb-123.4.azuredatabricks.net"
//! scopes = ["all-apis"]       # default
//! token = "id_token"          # which IdP token to exchange: "id_token" (default) or "access_token"
//! client_id = "sp-app-id"     # optional: service-principal (workload identity) federation
//! profile = "dev"             # ~/.databrickscfg profile Lakepass owns; default = the workspace name
//!
//! [serve]                     # the live token service (`lakepass daemon`, the tray app)
//! port = 8731                 # on 127.0.0.1; default 8731. `<profile>-live` profiles name it
//!
//! # Launchers (all optional)
//! claude_path = "/usr/local/bin/claude"   # else `claude` on PATH (same as [agent.claude] path)
//! default_agent = "codex"     # offered first in the tray's Launch menu (default: claude)
//! terminal = "kitty"          # a program (its run-a-command flag is known) or an exact argv prefix
//! launch_dir = "~/src"        # where `launch terminal` / `launch claude --new-terminal` start
//!
//! [claude.dev]                # Claude Code through workspace `dev`'s gateway
//! base_path = "/ai-gateway/anthropic"   # default: asked at launch; else "/serving-endpoints/anthropic"
//! opus_model = "databricks-claude-opus-4-6"     # default: the newest the workspace lists
//! headers = ["x-databricks-use-coding-agent-mode: true"]   # default
//! helper_ttl_ms = 900000      # how long Claude Code caches a token (default 15 min)
//!
//! [agent.codex]              # one table per agent: claude, codex, gemini, opencode, copilot, pi
//! path = "/opt/bin/codex"     # else `codex` on PATH
//! model = "system.ai.gpt-5-2" # else the newest the workspace serves for the agent's API
//! [agent.codex.workspace.dev] # per workspace overrides
//! model = "system.ai.gpt-5-1"
//!
//! [mcp.dev]                   # Databricks managed MCP servers Claude Code gets (optional)
//! sql = true                  # default: /api/2.0/mcp/sql with its own `sql`-scoped token
//! genie = ["01ef..."]         # Genie space ids (scope `genie`)
//! functions = ["main.tools"]  # Unity Catalog function schemas (scope `unity-catalog`)
//! search = ["main.docs.idx"]  # AI Search indexes (scope `ai-search`)
//! ```
//!
//! Shaped like ripgrep's low/high args: [`Config`] is the raw file (serde, unknown keys refused so
//! a typo is an error, not a silently ignored setting), validated as a whole when parsed;
//! [`Workspace`] is the resolved form the engine uses (host normalised, profile defaulted).
//! Every error names the file, the line and the dotted field (`config.toml:12:
//! workspace.dev.host: ...`): lines come from `toml_edit` spans, because serde alone loses them.
//!
//! Commands that change the file (`idp add`, `workspace remove`, …) go through [`ConfigDoc`],
//! which edits a `toml_edit` document in place, so the user's comments and layout survive, and
//! which validates the result before writing it atomically. The file holds no secrets.
//!
//! One file per job, so a front end (the CLI, the tray) finds the rule it needs instead of
//! copying it: `model.rs` is the file's shape, `load.rs` turns text into it with file:line
//! errors, `validate.rs` holds the rules (including the name rules, [`is_valid_name`] and
//! [`is_valid_profile_name`]), `resolve.rs` derives what the engine uses (the default workspace,
//! [`Config::default_workspace_name`]; the default profile, [`WorkspaceConfig::profile_name`]),
//! `edit.rs` is the comment-keeping editor, `team.rs` imports a team's shared file into it
//! (`secret_scan.rs` keeps secrets out of such files) and `error.rs` says what went wrong.
//!
//! lakepass-config: the config file as data (raw → validated → resolved), its lossless edits and
//! the team set-up files. What it may use: `lakepass-wire` (host and TLS rules) and
//! `lakepass-store` (atomic writes). It does no network IO and holds no secrets.

mod agent;
mod edit;
mod error;
#[cfg(test)]
mod fixtures;
mod load;
mod mcp;
mod model;
mod resolve;
mod scopes;
mod secret_scan;
mod team;
mod validate;

pub use agent::{AGENT_NAMES, AgentConfig, AgentWorkspaceConfig};
pub use edit::ConfigDoc;
pub use error::{ConfigError, UnknownValue};
pub use mcp::McpConfig;
pub use mcp::dotted;
pub use model::{
    ClaudeConfig, Config, DEFAULT_SERVE_PORT, ExpectedPolicy, IdpConfig, MAX_HELPER_TTL_MS, ProfileFlavour,
    RoleMapping, ServeConfig, SubjectTokenKind, TerminalSetting, WorkspaceAuth, WorkspaceConfig,
};
pub use resolve::Workspace;
pub use scopes::{DATABRICKS_SCOPES, unknown_scope};
pub use team::{TeamChange, TeamEntry, TeamField, TeamFile, TeamHost, TeamHostRole, TeamPlan, TeamSection};
pub use validate::{is_valid_name, is_valid_profile_name, reserved_profile};
