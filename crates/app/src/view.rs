//! The view every front end draws: the engine's snapshot joined with the config it runs on.
//!
//! The engine publishes per-workspace token state ([`Snapshot`]); the tray, the dashboard and the
//! notifications also need the config around it (which IdP a workspace uses, its scopes, which
//! workspace is active, whether an IdP is signed in). [`build`] joins them, purely, so every
//! front end agrees and tests need no engine.

use std::collections::{BTreeMap, BTreeSet};

use lakepass_config::{Config, SubjectTokenKind};
use lakepass_engine::Failure;
use lakepass_engine::engine::ScopedStatus;
use lakepass_engine::status::{Snapshot, TokenState};
use lakepass_launch::Agent;
use lakepass_wire::UnixTime;
use serde::{Deserialize, Serialize};

use crate::hints;

/// Everything the front ends show. Never holds a secret.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct AppView {
    /// One entry per configured workspace, in config order.
    pub workspaces: Vec<WorkspaceView>,
    /// One entry per configured identity provider.
    pub idps: Vec<IdpView>,
    /// The workspace the tray's actions apply to.
    pub active: Option<String>,
    /// Where the config file is.
    pub config_path: String,
    /// Why there is no engine: the config is missing or broken (what to do is in the text).
    pub config_error: Option<String>,
    /// Nothing is set up yet (no config file, or one with no IdP and no workspace): the
    /// dashboard opens on its guided set-up.
    pub first_run: bool,
    /// Where secrets are kept, in words.
    pub vault: String,
    /// Why secrets are in a plain file rather than the OS keyring, when they are.
    pub vault_fallback: Option<String>,
    /// When the snapshot behind this view was taken (unix seconds).
    pub at: UnixTime,
    /// Problems of the engine's process as a whole (the live service lost its port, …).
    pub warnings: Vec<Failure>,
    /// What can be launched for a workspace, in the order to offer it: the installed coding
    /// agents (the configured default first), then the terminal. Empty with no config.
    pub agents: Vec<AgentView>,
}

/// One thing a workspace can be launched with: a coding agent found on this machine, or the
/// terminal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct AgentView {
    /// Its name: `lakepass launch <name>`, and the `agent` of a launch call.
    pub name: String,
    /// What it is called: "Claude Code", "Codex"; "Terminal" for the terminal.
    pub title: String,
}

impl AgentView {
    /// The view of `agent`.
    pub fn of(agent: Agent) -> AgentView {
        let title = match agent {
            Agent::Terminal => "Terminal",
            a => a.title(),
        };
        AgentView { name: agent.as_str().into(), title: title.into() }
    }

    /// The agent it names (`None`: a name this build does not launch).
    pub fn agent(&self) -> Option<Agent> {
        agent_named(&self.name)
    }
}

/// The agent called `name` (its `lakepass launch <name>`), if this build launches it.
pub fn agent_named(name: &str) -> Option<Agent> {
    Agent::ALL.into_iter().find(|a| a.as_str() == name)
}

/// One workspace card.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct WorkspaceView {
    /// Name in the config.
    pub name: String,
    /// Workspace URL.
    pub host: String,
    /// Its `~/.databrickscfg` profile.
    pub profile: String,
    /// Its identity provider.
    pub idp: String,
    /// Databricks OAuth scopes asked for.
    pub scopes: Vec<String>,
    /// Which of the IdP's tokens it exchanges (`id_token` or `access_token`).
    pub token: SubjectTokenKind,
    /// Service principal, for service-principal federation.
    pub client_id: Option<String>,
    /// Token state.
    pub state: TokenState,
    /// When the current token expires.
    pub expires_at: Option<UnixTime>,
    /// When the engine will refresh it.
    pub refresh_due_at: Option<UnixTime>,
    /// The last error: its kind and its words (never a token).
    pub last_error: Option<Failure>,
    /// What to do about the state or the error, in plain language.
    pub hint: Option<String>,
    /// Its managed MCP servers' tokens, one per scope `[mcp.<name>]` asks for (none without
    /// the table).
    pub mcp: Vec<McpTokenView>,
}

/// One managed-MCP token of a workspace: the token carrying only `scope`, shared by `servers`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct McpTokenView {
    /// The OAuth scope it carries (`sql`, `genie`, `unity-catalog`, `ai-search`).
    pub scope: String,
    /// The MCP servers that use it, by their Claude Code names (`databricks-sql`, …).
    pub servers: Vec<String>,
    /// Its state, by the core's rules ([`ScopedStatus::state`]); `expiring` with no
    /// `expires_at` means none yet: it is exchanged when Claude Code first asks.
    pub state: TokenState,
    /// When the held token expires.
    pub expires_at: Option<UnixTime>,
    /// When the engine will refresh it.
    pub refresh_due_at: Option<UnixTime>,
    /// Why its last exchange failed: the kind and the words (never a token).
    pub last_error: Option<Failure>,
    /// Set when the workspace refused this scope, so its servers use the workspace's all-apis
    /// token: the sentence saying so ([`ScopedStatus::fallback_note`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub fallback: Option<String>,
}

/// One identity provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct IdpView {
    /// Name in the config.
    pub name: String,
    /// Issuer URL.
    pub issuer: String,
    /// OAuth client id at the IdP.
    pub client_id: String,
    /// Scopes asked for at sign-in.
    pub scopes: Vec<String>,
    /// Loopback redirect port (0 = any).
    pub redirect_port: u16,
    /// A session is stored and its workspaces are not all waiting for a sign-in.
    pub signed_in: bool,
    /// A browser sign-in is under way.
    pub signing_in: bool,
    /// The workspaces that use it.
    pub workspaces: Vec<String>,
}

/// What the host knows besides the snapshot.
#[derive(Debug, Clone)]
pub struct Context<'a> {
    /// The config the engine runs on (none when missing or broken).
    pub config: Option<&'a Config>,
    /// The active workspace.
    pub active: Option<&'a str>,
    /// Per IdP: whether the vault holds a session.
    pub sessions: &'a BTreeMap<String, bool>,
    /// IdPs with a sign-in under way.
    pub signing_in: &'a BTreeSet<String>,
    /// The engine's managed-MCP tokens ([`lakepass_engine::engine::Engine::scoped_status`]).
    pub scoped: &'a [ScopedStatus],
    /// The time their states are judged at.
    pub now: UnixTime,
    /// What can be launched, in order (`lakepass_launch::offered_agents`).
    pub installed: &'a [Agent],
    /// The config's workspaces already resolved (`Config::workspaces`), when the caller keeps
    /// them; `None`: resolved here.
    pub workspaces: Option<&'a [lakepass_config::Workspace]>,
}

/// Joins the snapshot with the config.
pub fn build(cx: &Context<'_>, snap: &Snapshot) -> AppView {
    let Some(config) = cx.config else {
        return AppView { at: snap.at, ..AppView::default() };
    };
    // The resolved workspaces: the core applies its rules (default profile, normalised host),
    // so the tray shows what the engine uses. A config the host holds has been validated.
    let owned;
    let resolved: &[lakepass_config::Workspace] = match cx.workspaces {
        Some(w) => w,
        None => {
            owned = config.workspaces().unwrap_or_default();
            &owned
        }
    };
    let workspaces: Vec<WorkspaceView> = resolved
        .iter()
        .map(|w| {
            let status = snap.workspace(&w.name);
            let state = status.map(|s| s.state).unwrap_or(TokenState::NeedsLogin);
            let last_error = status.and_then(|s| s.last_error.clone());
            WorkspaceView {
                name: w.name.clone(),
                host: w.host.to_string(),
                profile: w.profile.clone(),
                idp: w.idp.clone(),
                scopes: w.scopes.clone(),
                token: w.token,
                client_id: w.client_id.clone(),
                state,
                expires_at: status.and_then(|s| s.expires_at),
                refresh_due_at: status.and_then(|s| s.refresh_due_at),
                hint: hints::hint(state, last_error.as_ref(), &w.idp),
                last_error,
                mcp: mcp_tokens(config, w, cx.scoped, cx.now),
            }
        })
        .collect();
    let idps = config
        .idp
        .iter()
        .map(|(name, i)| {
            let mine: Vec<&WorkspaceView> = workspaces.iter().filter(|w| &w.idp == name).collect();
            let all_waiting = !mine.is_empty() && mine.iter().all(|w| w.state == TokenState::NeedsLogin);
            IdpView {
                name: name.clone(),
                issuer: i.issuer.clone(),
                client_id: i.client_id.clone(),
                scopes: i.scopes.clone(),
                redirect_port: i.redirect_port,
                signed_in: cx.sessions.get(name).copied().unwrap_or(false) && !all_waiting,
                signing_in: cx.signing_in.contains(name),
                workspaces: mine.iter().map(|w| w.name.clone()).collect(),
            }
        })
        .collect();
    // The host resolved it with the config's own rule (`Config::default_workspace_name`).
    let active = cx.active.filter(|a| config.workspace.contains_key(*a)).map(String::from);
    let agents = cx.installed.iter().map(|a| AgentView::of(*a)).collect();
    AppView {
        workspaces,
        idps,
        active,
        agents,
        at: snap.at,
        warnings: snap.warnings.clone(),
        ..AppView::default()
    }
}

/// The tokens `[mcp.<ws>]` asks for, in scope order, each with the servers that use it and what
/// the engine holds for it (`ScopedStatus` with nothing held when it has none yet).
fn mcp_tokens(
    config: &Config,
    ws: &lakepass_config::Workspace,
    scoped: &[ScopedStatus],
    now: UnixTime,
) -> Vec<McpTokenView> {
    let servers = lakepass_engine::mcp::servers(config, ws);
    lakepass_engine::mcp::scopes(config, ws)
        .into_iter()
        .map(|scope| {
            let held = scoped.iter().find(|s| s.workspace == ws.name && s.scope == scope).cloned();
            let s = held.unwrap_or(ScopedStatus {
                workspace: ws.name.clone(),
                scope,
                expires_at: None,
                refresh_due_at: None,
                last_error: None,
                fallback: None,
            });
            let fallback = s.fallback_note();
            McpTokenView {
                scope: scope.as_str().to_string(),
                servers: servers.iter().filter(|m| m.scope == scope).map(|m| m.name.clone()).collect(),
                state: s.state(now),
                expires_at: s.expires_at,
                refresh_due_at: s.refresh_due_at,
                last_error: s.last_error,
                fallback,
            }
        })
        .collect()
}

impl AppView {
    /// The active workspace's card.
    pub(crate) fn active_workspace(&self) -> Option<&WorkspaceView> {
        let name = self.active.as_deref()?;
        self.workspaces.iter().find(|w| w.name == name)
    }

    /// Whether the user must act before Lakepass can work (a broken config, nothing set up,
    /// nobody signed in): both trays then open the dashboard at start unless told `--hidden`.
    pub fn needs_user(&self) -> bool {
        self.config_error.is_some() || self.workspaces.is_empty() || self.idps.iter().all(|i| !i.signed_in)
    }
}

/// "52 min", "1 h 05 min", "<1 min", "expired": the core's coarse words for time left.
pub use lakepass_engine::status::time_left_coarse as time_left;

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use lakepass_engine::status::WorkspaceStatus;

    pub(crate) const CONFIG: &str = r#"
active = "dev"
[idp.corp]
issuer = "https://login.example.com/"
client_id = "lakepass"
[idp.partner]
issuer = "https://partner.example.com/"
client_id = "lp"
[workspace.dev]
idp = "corp"
host = "https://dev.cloud.databricks.com"
[workspace.prod]
idp = "corp"
host = "https://prod.cloud.databricks.com"
scopes = ["sql", "model-serving"]
"#;

    pub(crate) fn config() -> Config {
        Config::parse(CONFIG, std::path::Path::new("config.toml")).unwrap()
    }

    pub(crate) fn status(name: &str, state: TokenState, expires_at: Option<i64>) -> WorkspaceStatus {
        WorkspaceStatus {
            name: name.into(),
            host: format!("https://{name}.cloud.databricks.com"),
            profile: name.into(),
            state,
            expires_at,
            refresh_due_at: expires_at.map(|e| e - 300),
            last_error: matches!(state, TokenState::Failed)
                .then(|| Failure::new(lakepass_engine::ErrorKind::Network, "the workspace did not answer")),
        }
    }

    pub(crate) fn view_of(states: &[(&str, TokenState, Option<i64>)], active: Option<&str>) -> AppView {
        let config = config();
        let sessions = BTreeMap::from([("corp".to_string(), true)]);
        let signing_in = BTreeSet::new();
        let cx = Context {
            config: Some(&config),
            active,
            sessions: &sessions,
            signing_in: &signing_in,
            scoped: &[],
            now: 1_000,
            installed: &[Agent::Claude, Agent::Terminal],
            workspaces: None,
        };
        let snap = Snapshot {
            workspaces: states.iter().map(|(n, s, e)| status(n, *s, *e)).collect(),
            at: 1_000,
            warnings: vec![],
        };
        build(&cx, &snap)
    }

    #[test]
    fn the_view_lists_what_can_be_launched_by_name_in_the_hosts_order() {
        let v = view_of(&[("dev", TokenState::Fresh, Some(2_000))], Some("dev"));
        let names: Vec<(&str, &str)> = v.agents.iter().map(|a| (a.name.as_str(), a.title.as_str())).collect();
        assert_eq!(names, [("claude", "Claude Code"), ("terminal", "Terminal")]);
        // Every agent's name leads back to it: the dashboard's launch call and the menu's id.
        for a in Agent::ALL {
            assert_eq!(AgentView::of(a).agent(), Some(a));
        }
        assert_eq!(agent_named("vim"), None);
        let none = build(&Context { config: None, ..cx_without_config() }, &Snapshot::default());
        assert!(none.agents.is_empty(), "nothing to launch with no config");
    }

    fn cx_without_config() -> Context<'static> {
        static SESSIONS: BTreeMap<String, bool> = BTreeMap::new();
        static SIGNING_IN: BTreeSet<String> = BTreeSet::new();
        Context {
            config: None,
            active: None,
            sessions: &SESSIONS,
            signing_in: &SIGNING_IN,
            scoped: &[],
            now: 0,
            installed: &[Agent::Claude, Agent::Terminal],
            workspaces: None,
        }
    }

    #[test]
    fn the_user_is_needed_with_a_broken_config_nothing_set_up_or_nobody_signed_in() {
        let v = view_of(&[("dev", TokenState::Fresh, Some(2_000))], Some("dev"));
        assert!(!v.needs_user(), "signed in with a workspace");
        let mut broken = v.clone();
        broken.config_error = Some("bad".into());
        assert!(broken.needs_user());
        let mut empty = v.clone();
        empty.workspaces.clear();
        assert!(empty.needs_user());
        let mut signed_out = v.clone();
        signed_out.idps.iter_mut().for_each(|i| i.signed_in = false);
        assert!(signed_out.needs_user());
    }

    #[test]
    fn joins_config_and_snapshot() {
        let v = view_of(
            &[("dev", TokenState::Fresh, Some(4_000)), ("prod", TokenState::Failed, Some(2_000))],
            Some("dev"),
        );
        assert_eq!(v.active.as_deref(), Some("dev"));
        assert_eq!(v.workspaces.len(), 2);
        let prod = &v.workspaces[1];
        assert_eq!(prod.scopes, vec!["sql", "model-serving"]);
        assert_eq!(prod.idp, "corp");
        assert!(prod.hint.is_some());
        let corp = v.idps.iter().find(|i| i.name == "corp").unwrap();
        assert!(corp.signed_in);
        assert_eq!(corp.workspaces, vec!["dev", "prod"]);
        let partner = v.idps.iter().find(|i| i.name == "partner").unwrap();
        assert!(!partner.signed_in && partner.workspaces.is_empty());
    }

    #[test]
    fn an_idp_whose_workspaces_all_wait_for_sign_in_is_signed_out() {
        let v =
            view_of(&[("dev", TokenState::NeedsLogin, None), ("prod", TokenState::NeedsLogin, None)], None);
        assert!(!v.idps[0].signed_in);
    }

    #[test]
    fn an_unknown_active_name_is_dropped() {
        let v = view_of(&[], Some("gone"));
        assert_eq!(v.active, None);
    }

    /// The view of `[mcp.prod]` (SQL and two Genie spaces) with `scoped` held by the engine.
    pub(crate) fn view_with_mcp(scoped: &[ScopedStatus]) -> AppView {
        let text = format!("{CONFIG}\n[mcp.prod]\ngenie = [\"01ab\", \"02cd\"]\n");
        let config = Config::parse(&text, std::path::Path::new("config.toml")).unwrap();
        let sessions = BTreeMap::from([("corp".to_string(), true)]);
        let signing_in = BTreeSet::new();
        let cx = Context {
            config: Some(&config),
            active: Some("prod"),
            sessions: &sessions,
            signing_in: &signing_in,
            scoped,
            now: 1_000,
            installed: &[Agent::Claude, Agent::Terminal],
            workspaces: None,
        };
        let snap = Snapshot {
            workspaces: vec![status("prod", TokenState::Fresh, Some(4_000))],
            at: 1_000,
            warnings: vec![],
        };
        build(&cx, &snap)
    }

    pub(crate) fn scoped(scope: McpScope, expires_at: Option<i64>, err: Option<Failure>) -> ScopedStatus {
        ScopedStatus {
            workspace: "prod".into(),
            scope,
            expires_at,
            refresh_due_at: expires_at.map(|e| e - 300),
            last_error: err,
            fallback: None,
        }
    }

    use lakepass_engine::mcp::McpScope;

    #[test]
    fn a_workspace_with_an_mcp_table_lists_a_token_per_scope_with_the_cores_state() {
        let failed = Failure::new(lakepass_engine::ErrorKind::FederationRejected, "scope genie refused");
        let v = view_with_mcp(&[
            scoped(McpScope::Sql, Some(1_000 + 52 * 60), None),
            scoped(McpScope::Genie, None, Some(failed.clone())),
            // Another workspace's token is not prod's.
            ScopedStatus { workspace: "dev".into(), ..scoped(McpScope::Sql, Some(9_000), None) },
        ]);
        let prod = v.workspaces.iter().find(|w| w.name == "prod").unwrap();
        let sql = McpTokenView {
            scope: "sql".into(),
            servers: vec!["databricks-sql".into()],
            state: TokenState::Fresh,
            expires_at: Some(1_000 + 52 * 60),
            refresh_due_at: Some(1_000 + 52 * 60 - 300),
            last_error: None,
            fallback: None,
        };
        let genie = McpTokenView {
            scope: "genie".into(),
            servers: vec!["databricks-genie-01ab".into(), "databricks-genie-02cd".into()],
            state: TokenState::Failed,
            expires_at: None,
            refresh_due_at: None,
            last_error: Some(failed),
            fallback: None,
        };
        assert_eq!(prod.mcp, vec![sql, genie]);
        let dev = v.workspaces.iter().find(|w| w.name == "dev").unwrap();
        assert!(dev.mcp.is_empty(), "no [mcp.dev] table: no MCP tokens, whatever the engine holds");
    }

    #[test]
    fn an_mcp_scope_with_no_token_yet_is_listed_as_waiting_and_a_due_one_as_expiring() {
        let none = view_with_mcp(&[]);
        let prod = none.workspaces.iter().find(|w| w.name == "prod").unwrap();
        assert_eq!(
            prod.mcp.iter().map(|m| (m.scope.as_str(), m.state)).collect::<Vec<_>>(),
            [("sql", TokenState::Expiring), ("genie", TokenState::Expiring)]
        );
        assert!(prod.mcp.iter().all(|m| m.expires_at.is_none()));
        let due = view_with_mcp(&[scoped(McpScope::Sql, Some(1_200), None)]);
        let prod = due.workspaces.iter().find(|w| w.name == "prod").unwrap();
        assert_eq!(prod.mcp[0].state, TokenState::Expiring, "refresh was due at 900, now is 1000");
    }

    #[test]
    fn time_left_reads_well() {
        assert_eq!(time_left(-5), "expired");
        assert_eq!(time_left(30), "<1 min");
        assert_eq!(time_left(52 * 60 + 10), "52 min");
        assert_eq!(time_left(3600 + 5 * 60), "1 h 05 min");
    }
}
