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
//! claude_path = "/usr/local/bin/claude"   # else `claude` on PATH
//! terminal = "kitty"          # a program (its run-a-command flag is known) or an exact argv prefix
//! launch_dir = "~/src"        # where `launch terminal` / `launch claude --new-terminal` start
//!
//! [claude.dev]                # Claude Code through workspace `dev`'s gateway
//! base_path = "/ai-gateway/anthropic"   # default; older workspaces: "/serving-endpoints/anthropic"
//! opus_model = "system.ai.claude-opus-4-5"      # defaults follow base_path
//! headers = ["x-databricks-use-coding-agent-mode: true"]   # default
//! helper_ttl_ms = 900000      # how long Claude Code caches a token (default 15 min)
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

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use toml_edit::{Array, DocumentMut, InlineTable, Item, Table, Value};

use crate::WorkspaceHost;
use crate::atomic::write_atomic;

/// The whole config file, as written (defaults filled in).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The workspace commands use when none is named.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<String>,
    /// Identity providers by name.
    #[serde(default)]
    pub idp: BTreeMap<String, IdpConfig>,
    /// Databricks workspaces by name.
    #[serde(default)]
    pub workspace: BTreeMap<String, WorkspaceConfig>,
    /// The Claude Code program `launch claude` runs; else `claude` on `PATH`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claude_path: Option<PathBuf>,
    /// The terminal emulator launchers open; else `$TERMINAL`, then the platform's usual ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub terminal: Option<TerminalSetting>,
    /// The folder launched terminals start in (`~` expands to the home folder).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub launch_dir: Option<String>,
    /// Claude Code gateway settings per workspace (`[claude.<workspace>]`); kept out of
    /// `[workspace.*]` so code building a [`WorkspaceConfig`] need not know about launchers.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub claude: BTreeMap<String, ClaudeConfig>,
    /// How each workspace's own `~/.databrickscfg` profile is written (top-level key).
    #[serde(default, skip_serializing_if = "ProfileFlavour::is_static")]
    pub profile_flavour: ProfileFlavour,
    /// The live token service run by the daemon and the tray app (`[serve]`).
    #[serde(default, skip_serializing_if = "ServeConfig::is_default")]
    pub serve: ServeConfig,
}

/// How the engine writes a workspace's `~/.databrickscfg` profile.
///
/// `static` (the default) writes `host` and `token`: every tool reads it, but the token is a
/// copy that is only as fresh as the last refresh. `cli-helper` writes `host`,
/// `auth_type = databricks-cli` and `databricks_cli_path = <lakepass>` and no token: the
/// Databricks SDKs then run `lakepass auth token` whenever they need one, so they keep working
/// with no Lakepass process running.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProfileFlavour {
    /// `host` + `token`.
    #[default]
    Static,
    /// `host` + `auth_type = databricks-cli` + `databricks_cli_path`.
    CliHelper,
}

impl ProfileFlavour {
    fn is_static(&self) -> bool {
        *self == ProfileFlavour::Static
    }
}

/// The default port of the live token service: stable, so the `-live` profiles keep working
/// across restarts.
pub const DEFAULT_SERVE_PORT: u16 = 8731;

/// `[serve]`: the live token service (the Databricks metadata-service protocol on loopback).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServeConfig {
    /// TCP port on 127.0.0.1. Keep it stable: the `-live` profiles name it.
    #[serde(default = "default_serve_port")]
    pub port: u16,
}

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig { port: DEFAULT_SERVE_PORT }
    }
}

impl ServeConfig {
    fn is_default(&self) -> bool {
        *self == ServeConfig::default()
    }
}

fn default_serve_port() -> u16 {
    DEFAULT_SERVE_PORT
}

/// The `terminal` setting: a program name (Lakepass knows how to make the usual ones run a
/// command), or an exact argv prefix to which the command is appended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum TerminalSetting {
    /// `terminal = "kitty"`.
    Program(String),
    /// `terminal = ["wezterm", "start", "--"]`.
    Command(Vec<String>),
}

/// How Claude Code reaches one workspace's Anthropic endpoint (`[claude.<workspace>]`); unset
/// keys take the defaults of `launch::ClaudeGateway`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClaudeConfig {
    /// Path of the Anthropic API on the workspace host: `/ai-gateway/anthropic` (default) or
    /// `/serving-endpoints/<name>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_path: Option<String>,
    /// Model pinned as `ANTHROPIC_DEFAULT_OPUS_MODEL`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opus_model: Option<String>,
    /// Model pinned as `ANTHROPIC_DEFAULT_SONNET_MODEL`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sonnet_model: Option<String>,
    /// Model pinned as `ANTHROPIC_DEFAULT_HAIKU_MODEL`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub haiku_model: Option<String>,
    /// Extra request headers, each `name: value` (`ANTHROPIC_CUSTOM_HEADERS`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headers: Option<Vec<String>>,
    /// How long Claude Code reuses a token from the helper, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub helper_ttl_ms: Option<u64>,
}

/// The longest helper TTL the config accepts: half of Databricks' one-hour token lifetime.
pub const MAX_HELPER_TTL_MS: u64 = 30 * 60 * 1000;

/// One OIDC identity provider (`[idp.<name>]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdpConfig {
    /// The issuer, exactly as in the id_token's `iss` claim (a trailing slash matters).
    pub issuer: String,
    /// The OAuth client (application) id registered at the IdP.
    pub client_id: String,
    /// Scopes asked for at sign-in.
    #[serde(default = "default_idp_scopes")]
    pub scopes: Vec<String>,
    /// Loopback port for the sign-in redirect; 0 picks any free port.
    #[serde(default)]
    pub redirect_port: u16,
    /// Extra parameters for the authorize URL (`prompt`, `domain_hint`, …).
    #[serde(default)]
    pub auth_params: BTreeMap<String, String>,
}

/// One Databricks workspace (`[workspace.<name>]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkspaceConfig {
    /// Name of the `[idp.<name>]` whose token is exchanged (not used by `auth = "m2m"`).
    #[serde(default)]
    pub idp: String,
    /// Workspace URL, `https://…` (http only on loopback).
    pub host: String,
    /// Databricks OAuth scopes asked for in the exchange.
    #[serde(default = "default_workspace_scopes")]
    pub scopes: Vec<String>,
    /// Which IdP token is the exchange's subject token.
    #[serde(default)]
    pub token: SubjectTokenKind,
    /// Service principal application id, for service-principal (workload identity) federation.
    #[serde(default)]
    pub client_id: Option<String>,
    /// The `~/.databrickscfg` profile Lakepass owns; defaults to the workspace name.
    #[serde(default)]
    pub profile: Option<String>,
    /// How the token is obtained: IdP token federation (default) or an SP's client credentials.
    #[serde(default)]
    pub auth: WorkspaceAuth,
    /// Role mapping: a claim of the IdP JWT picks the service principal `client_id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roles: Option<RoleMapping>,
    /// The federation policy the workspace is expected to enforce, for `lakepass doctor`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<ExpectedPolicy>,
    /// The Databricks account id, for `lakepass admin` and for policies fetched by `doctor`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    /// The account console host for account APIs [default: derived from `host`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_host: Option<String>,
}

/// How a workspace's token is obtained (`auth = "…"`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WorkspaceAuth {
    /// Exchange the signed-in user's IdP JWT (RFC 8693).
    #[default]
    Federation,
    /// A service principal's OAuth client credentials (`client_id` in config, secret in the vault).
    M2m,
}

/// `[workspace.<name>.roles]`: `claim = "roles"`, `map = { "analyst" = "<sp application id>" }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleMapping {
    /// The IdP JWT claim holding the user's roles or groups (a string or a list of strings).
    #[serde(default = "default_role_claim")]
    pub claim: String,
    /// Claim value → service principal application id.
    pub map: BTreeMap<String, String>,
}

fn default_role_claim() -> String {
    "roles".into()
}

/// `[workspace.<name>.policy]`: what the workspace's federation policy says, as the admin set it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectedPolicy {
    /// The trusted issuer, exactly as in the policy.
    pub issuer: String,
    /// Accepted audiences.
    #[serde(default)]
    pub audiences: Vec<String>,
    /// The claim naming the user (Databricks' default is `sub`).
    #[serde(default = "default_subject_claim")]
    pub subject_claim: String,
    /// The required subject value (service-principal policies).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
}

fn default_subject_claim() -> String {
    "sub".into()
}

/// Which of the IdP's tokens is sent as `subject_token` in the exchange.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubjectTokenKind {
    /// The OIDC id_token (its `aud` is the IdP client id).
    #[default]
    IdToken,
    /// The OAuth access token (when it is a JWT meant for Databricks).
    AccessToken,
}

impl SubjectTokenKind {
    /// The config spelling: `id_token` or `access_token`.
    pub fn as_str(self) -> &'static str {
        match self {
            SubjectTokenKind::IdToken => "id_token",
            SubjectTokenKind::AccessToken => "access_token",
        }
    }
}

/// A workspace with everything resolved: the form the engine works with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Workspace {
    /// The workspace's name in the config.
    pub name: String,
    /// Name of its identity provider.
    pub idp: String,
    /// The validated, normalised host.
    pub host: WorkspaceHost,
    /// Databricks OAuth scopes.
    pub scopes: Vec<String>,
    /// Which IdP token is exchanged.
    pub token: SubjectTokenKind,
    /// Service principal application id, for service-principal federation.
    pub client_id: Option<String>,
    /// The `~/.databrickscfg` profile.
    pub profile: String,
    /// Federation or M2M.
    pub auth: WorkspaceAuth,
    /// Role → service principal mapping, if any.
    pub roles: Option<RoleMapping>,
    /// The expected federation policy, if configured.
    pub policy: Option<ExpectedPolicy>,
    /// The Databricks account id, if configured.
    pub account_id: Option<String>,
    /// The account console host, if configured.
    pub account_host: Option<String>,
}

/// Why the config could not be read, understood or written.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// There is no config file yet.
    #[error(
        "no Lakepass config at {path}; create one with `lakepass idp add` then `lakepass \
         workspace add`, or try Lakepass locally with `lakepass devstack --write-config`"
    )]
    Missing {
        /// Where it was looked for.
        path: PathBuf,
    },
    /// The file exists but could not be read.
    #[error("cannot read {path}: {source}; check that you can read it")]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The file could not be written; the old one is intact.
    #[error(
        "cannot write {path}: {source}; the file was left as it was; check free space and the \
         permissions of its folder"
    )]
    Write {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// Bad TOML, an unknown key, a wrong type or a failed check.
    #[error("{}{message}", location(path, *line, field))]
    Invalid {
        /// The file (empty for a config built in code).
        path: PathBuf,
        /// 1-based line, when known.
        line: Option<usize>,
        /// Dotted field, e.g. `workspace.dev.host`; empty for syntax errors.
        field: String,
        /// What is wrong and what to do.
        message: String,
    },
    /// A workspace name that is not in the config.
    #[error(
        "no workspace named `{name}` in the config (known: {}); pick one of those or add it with `lakepass workspace add`",
        list(known)
    )]
    UnknownWorkspace {
        /// The name asked for.
        name: String,
        /// The names that exist.
        known: Vec<String>,
    },
    /// No workspace was named and none is active.
    #[error("{}", no_workspace_message(known))]
    NoActiveWorkspace {
        /// The names that exist (maybe none).
        known: Vec<String>,
    },
    /// An IdP name that is not in the config.
    #[error(
        "no identity provider named `{name}` in the config (known: {}); pick one of those or add it with `lakepass idp add`",
        list(known)
    )]
    UnknownIdp {
        /// The name asked for.
        name: String,
        /// The names that exist.
        known: Vec<String>,
    },
    /// Adding something that exists, without asking to replace it.
    #[error(
        "{kind} `{name}` already exists in the config; replace it explicitly (--replace) or choose another name"
    )]
    Exists {
        /// `an IdP` or `a workspace`.
        kind: &'static str,
        /// The name.
        name: String,
    },
    /// Removing an IdP that workspaces still use.
    #[error(
        "identity provider `{name}` is used by workspace(s) {}; remove or re-point them first",
        list(workspaces)
    )]
    IdpInUse {
        /// The IdP.
        name: String,
        /// The workspaces naming it.
        workspaces: Vec<String>,
    },
}

/// Runs a TOML parser, turning a panic inside it into an error: toml_edit 0.23 panics ("all items
/// have spans") on some malformed files, e.g. `==\n.==\n.==`, found by the `config_parse` fuzz
/// target. A broken config must be an error that names the file, not a crash.
fn no_parser_panic<T>(
    path: &Path,
    parse: impl FnOnce() -> T + std::panic::UnwindSafe,
) -> Result<T, ConfigError> {
    std::panic::catch_unwind(parse).map_err(|_| ConfigError::Invalid {
        path: path.into(),
        line: None,
        field: String::new(),
        message: "the TOML parser could not read this file (malformed keys or dots); fix the TOML syntax"
            .into(),
    })
}

fn location(path: &Path, line: Option<usize>, field: &str) -> String {
    let mut s = if path.as_os_str().is_empty() { "config".to_string() } else { path.display().to_string() };
    if let Some(line) = line {
        s.push_str(&format!(":{line}"));
    }
    s.push_str(": ");
    if !field.is_empty() {
        s.push_str(field);
        s.push_str(": ");
    }
    s
}

fn list(names: &[String]) -> String {
    if names.is_empty() {
        "none".into()
    } else {
        names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
    }
}

fn no_workspace_message(known: &[String]) -> String {
    if known.is_empty() {
        "no workspace is configured; add one with `lakepass workspace add`".into()
    } else {
        format!(
            "several workspaces are configured ({}) and none is active; name one (--workspace \
             <name>) or set `active = \"<name>\"` in the config",
            list(known)
        )
    }
}

fn default_idp_scopes() -> Vec<String> {
    ["openid", "profile", "email", "offline_access"].map(String::from).to_vec()
}

fn default_workspace_scopes() -> Vec<String> {
    vec!["all-apis".to_string()]
}

impl IdpConfig {
    /// An IdP with default scopes, any redirect port and no extra parameters.
    pub fn new(issuer: impl Into<String>, client_id: impl Into<String>) -> Self {
        IdpConfig {
            issuer: issuer.into(),
            client_id: client_id.into(),
            scopes: default_idp_scopes(),
            redirect_port: 0,
            auth_params: BTreeMap::new(),
        }
    }
}

impl WorkspaceConfig {
    /// A workspace with default scopes, exchanging the id_token, in its own-named profile.
    pub fn new(idp: impl Into<String>, host: impl Into<String>) -> Self {
        WorkspaceConfig {
            idp: idp.into(),
            host: host.into(),
            scopes: default_workspace_scopes(),
            token: SubjectTokenKind::IdToken,
            client_id: None,
            profile: None,
            auth: WorkspaceAuth::Federation,
            roles: None,
            policy: None,
            account_id: None,
            account_host: None,
        }
    }
}

/// Authorize-URL parameters Lakepass sets itself; letting the config override them would break
/// PKCE, the state check or the redirect.
const RESERVED_AUTH_PARAMS: &[&str] = &[
    "client_id",
    "redirect_uri",
    "response_type",
    "scope",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
];

/// A failed check: where (dotted path segments) and why.
struct Problem {
    at: Vec<String>,
    message: String,
}

fn problem(at: &[&str], message: impl Into<String>) -> Problem {
    Problem { at: at.iter().map(|s| s.to_string()).collect(), message: message.into() }
}

impl Config {
    /// Reads and validates the config at `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        match std::fs::read_to_string(path) {
            Ok(text) => Config::parse(&text, path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Err(ConfigError::Missing { path: path.into() })
            }
            Err(source) => Err(ConfigError::Read { path: path.into(), source }),
        }
    }

    /// Parses and validates `text`; `path` is only used in error messages.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let doc = no_parser_panic(path, || toml_edit::Document::parse(text))?.map_err(|e| {
            ConfigError::Invalid {
                path: path.into(),
                line: e.span().map(|s| line_at(text, s.start)),
                field: String::new(),
                message: format!("{}; fix the TOML syntax", e.message().trim_end()),
            }
        })?;
        let config: Config = toml::from_str(text).map_err(|e| {
            let span = e.span();
            let mut message = e.message().trim_end().to_string();
            if message.starts_with("unknown field") {
                message.push_str("; check its spelling or remove it");
            }
            ConfigError::Invalid {
                path: path.into(),
                line: span.as_ref().map(|s| line_at(text, s.start)),
                field: span.map(|s| field_at(doc.as_table(), s)).unwrap_or_default(),
                message,
            }
        })?;
        let problems = config.problems();
        let located = problems.into_iter().map(|p| {
            let line = span_of(doc.as_table(), &p.at).map(|s| line_at(text, s.start));
            (line, p)
        });
        match located.min_by_key(|(line, _)| line.unwrap_or(usize::MAX)) {
            None => Ok(config),
            Some((line, p)) => Err(ConfigError::Invalid {
                path: path.into(),
                line,
                field: p.at.join("."),
                message: p.message,
            }),
        }
    }

    /// Checks a config built in code (no line numbers); [`Config::parse`] does this already.
    pub fn validate(&self, path: &Path) -> Result<(), ConfigError> {
        match self.problems().into_iter().next() {
            None => Ok(()),
            Some(p) => Err(ConfigError::Invalid {
                path: path.into(),
                line: None,
                field: p.at.join("."),
                message: p.message,
            }),
        }
    }

    /// Every workspace, resolved, in name order.
    pub fn workspaces(&self) -> Result<Vec<Workspace>, ConfigError> {
        self.workspace.keys().map(|name| self.resolve(name)).collect()
    }

    /// The workspace called `name`; with `None`, the active one, else the only one.
    pub fn workspace(&self, name: Option<&str>) -> Result<Workspace, ConfigError> {
        let known = || self.workspace.keys().cloned().collect::<Vec<_>>();
        let name = match (name, &self.active) {
            (Some(n), _) => n,
            (None, Some(active)) => active.as_str(),
            (None, None) if self.workspace.len() == 1 => self.workspace.keys().next().unwrap(),
            (None, None) => return Err(ConfigError::NoActiveWorkspace { known: known() }),
        };
        if !self.workspace.contains_key(name) {
            return Err(ConfigError::UnknownWorkspace { name: name.into(), known: known() });
        }
        self.resolve(name)
    }

    /// The identity provider called `name`.
    pub fn idp(&self, name: &str) -> Result<&IdpConfig, ConfigError> {
        self.idp.get(name).ok_or_else(|| ConfigError::UnknownIdp {
            name: name.into(),
            known: self.idp.keys().cloned().collect(),
        })
    }

    fn resolve(&self, name: &str) -> Result<Workspace, ConfigError> {
        let w = &self.workspace[name];
        let host = WorkspaceHost::parse(&w.host).map_err(|e| ConfigError::Invalid {
            path: PathBuf::new(),
            line: None,
            field: format!("workspace.{name}.host"),
            message: e.to_string(),
        })?;
        if w.auth == WorkspaceAuth::Federation {
            self.idp(&w.idp)?;
        }
        Ok(Workspace {
            name: name.into(),
            idp: w.idp.clone(),
            host,
            scopes: w.scopes.clone(),
            token: w.token,
            client_id: w.client_id.clone(),
            profile: w.profile.clone().unwrap_or_else(|| name.into()),
            auth: w.auth,
            roles: w.roles.clone(),
            policy: w.policy.clone(),
            account_id: w.account_id.clone(),
            account_host: w.account_host.clone(),
        })
    }

    /// Every failed check, in no particular order.
    fn problems(&self) -> Vec<Problem> {
        let mut out = Vec::new();
        if let Some(active) = &self.active
            && !self.workspace.contains_key(active)
        {
            out.push(problem(
                &["active"],
                format!(
                    "names workspace `{active}`, which is not defined (known: {}); set it to one \
                     of those or remove the line",
                    list(&self.workspace.keys().cloned().collect::<Vec<_>>())
                ),
            ));
        }
        for (name, idp) in &self.idp {
            check_name(&mut out, "idp", name);
            let at = |field: &'static str| ["idp", name.as_str(), field];
            if let Err(msg) = check_issuer(&idp.issuer) {
                out.push(problem(&at("issuer"), msg));
            }
            if idp.client_id.trim().is_empty() {
                out.push(problem(
                    &at("client_id"),
                    "is empty; copy the client (application) id registered at the IdP",
                ));
            }
            check_scopes(&mut out, &at("scopes"), &idp.scopes);
            for key in idp.auth_params.keys() {
                if RESERVED_AUTH_PARAMS.contains(&key.as_str()) {
                    out.push(problem(
                        &["idp", name, "auth_params", key],
                        "is set by Lakepass itself during sign-in; remove it from auth_params",
                    ));
                }
            }
        }
        check_launchers(self, &mut out);
        let mut profiles: BTreeMap<String, &str> = BTreeMap::new();
        for (name, ws) in &self.workspace {
            check_name(&mut out, "workspace", name);
            let at = |field: &'static str| ["workspace", name.as_str(), field];
            check_federation_settings(&mut out, name, ws);
            if ws.auth == WorkspaceAuth::Federation && !self.idp.contains_key(&ws.idp) {
                out.push(problem(
                    &at("idp"),
                    format!(
                        "names identity provider `{}`, which is not defined (known: {}); add \
                         [idp.{}] or fix the name",
                        ws.idp,
                        list(&self.idp.keys().cloned().collect::<Vec<_>>()),
                        ws.idp
                    ),
                ));
            }
            if let Err(e) = WorkspaceHost::parse(&ws.host) {
                out.push(problem(&at("host"), e.to_string()));
            }
            check_scopes(&mut out, &at("scopes"), &ws.scopes);
            if ws.client_id.as_deref().is_some_and(|c| c.trim().is_empty()) {
                out.push(problem(
                    &at("client_id"),
                    "is empty; remove the line or set the service principal's application id",
                ));
            }
            if let Some(p) = &ws.profile
                && !is_profile_name(p)
            {
                out.push(problem(
                    &at("profile"),
                    format!("`{p}` is not a usable profile name; use letters, digits, `-`, `_` and `.`"),
                ));
            }
            let profile = ws.profile.clone().unwrap_or_else(|| name.clone());
            if let Some(other) = profiles.insert(profile.clone(), name) {
                out.push(problem(
                    &at("profile"),
                    format!(
                        "profile `{profile}` is also used by workspace `{other}`; each workspace \
                         needs its own ~/.databrickscfg profile: set a different `profile`"
                    ),
                ));
            }
        }
        out
    }
}

fn check_launchers(c: &Config, out: &mut Vec<Problem>) {
    if c.claude_path.as_ref().is_some_and(|p| p.as_os_str().is_empty()) {
        out.push(problem(&["claude_path"], "is empty; remove the line to use `claude` on PATH"));
    }
    let empty_terminal = match &c.terminal {
        Some(TerminalSetting::Program(p)) => p.trim().is_empty(),
        Some(TerminalSetting::Command(argv)) => argv.first().is_none_or(|p| p.trim().is_empty()),
        None => false,
    };
    if empty_terminal {
        out.push(problem(
            &["terminal"],
            "names no program; write e.g. \"kitty\" or [\"wezterm\", \"start\", \"--\"]",
        ));
    }
    if c.launch_dir.as_deref().is_some_and(|d| d.trim().is_empty()) {
        out.push(problem(&["launch_dir"], "is empty; remove the line to start in the current folder"));
    }
    for (name, cc) in &c.claude {
        let at = |field: &'static str| ["claude", name.as_str(), field];
        if !c.workspace.contains_key(name) {
            out.push(problem(
                &["claude", name],
                format!("names workspace `{name}`, which is not defined; use [claude.<workspace name>]"),
            ));
        }
        if let Some(p) = &cc.base_path {
            let bad = !p.starts_with('/')
                || p.ends_with('/')
                || p.contains(['?', '#'])
                || p.contains(char::is_whitespace);
            if bad {
                out.push(problem(
                    &at("base_path"),
                    format!("`{p}` is not a path like \"/ai-gateway/anthropic\" or \"/serving-endpoints/<name>\" (leading `/`, no trailing `/`, no query)"),
                ));
            }
        }
        for (field, model) in [
            ("opus_model", &cc.opus_model),
            ("sonnet_model", &cc.sonnet_model),
            ("haiku_model", &cc.haiku_model),
        ] {
            if model.as_deref().is_some_and(|m| m.trim().is_empty() || m.contains(char::is_whitespace)) {
                out.push(problem(
                    &at(field),
                    "is empty or has spaces; write the model name as the workspace serves it",
                ));
            }
        }
        for h in cc.headers.iter().flatten() {
            let name = h.split_once(':').map(|(n, _)| n.trim()).unwrap_or("");
            let token_char = |ch: char| ch.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(ch);
            if name.is_empty() || !name.chars().all(token_char) || h.contains(['\r', '\n']) {
                out.push(problem(&at("headers"), format!("`{h}` is not a `name: value` header line")));
            }
        }
        if let Some(ttl) = cc.helper_ttl_ms
            && !(1_000..=MAX_HELPER_TTL_MS).contains(&ttl)
        {
            out.push(problem(
                &at("helper_ttl_ms"),
                format!("{ttl} is out of range; use 1000 to {MAX_HELPER_TTL_MS} (30 min), well inside the one-hour token lifetime"),
            ));
        }
    }
}

/// Checks `auth`, `roles` and `policy` of one workspace.
fn check_federation_settings(out: &mut Vec<Problem>, name: &str, ws: &WorkspaceConfig) {
    let at = |field: &'static str| ["workspace", name, field];
    let has_client_id = ws.client_id.as_deref().is_some_and(|c| !c.trim().is_empty());
    if ws.auth == WorkspaceAuth::M2m && !has_client_id {
        out.push(problem(
            &at("client_id"),
            "is required with `auth = \"m2m\"`: set the service principal's application id (its \
             secret goes in the vault: `lakepass workspace set-secret`)",
        ));
    }
    if let Some(roles) = &ws.roles {
        if ws.auth == WorkspaceAuth::M2m {
            out.push(problem(&at("roles"), "does not apply to `auth = \"m2m\"`; remove it"));
        } else if has_client_id {
            out.push(problem(
                &at("roles"),
                "and `client_id` both choose the service principal; keep one of them",
            ));
        }
        if roles.claim.trim().is_empty() {
            out.push(problem(
                &["workspace", name, "roles", "claim"],
                "is empty; name a claim such as `roles` or `groups`",
            ));
        }
        if roles.map.is_empty() {
            out.push(problem(
                &["workspace", name, "roles", "map"],
                "is empty; map at least one role to a service principal application id",
            ));
        }
        for (role, sp) in &roles.map {
            if sp.trim().is_empty() {
                out.push(problem(
                    &["workspace", name, "roles", "map", role],
                    "is empty; set the service principal's application id",
                ));
            }
        }
    }
    if let Some(p) = &ws.policy {
        if p.issuer.trim().is_empty() {
            out.push(problem(&["workspace", name, "policy", "issuer"], "is empty; copy the policy's issuer"));
        }
        if p.subject_claim.trim().is_empty() {
            out.push(problem(
                &["workspace", name, "policy", "subject_claim"],
                "is empty; remove it for `sub`",
            ));
        }
    }
}

fn is_name(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fn is_profile_name(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

fn check_name(out: &mut Vec<Problem>, table: &str, name: &str) {
    if !is_name(name) {
        out.push(problem(
            &[table, name],
            format!("`{name}` is not a valid name; use only letters, digits, `-` and `_`"),
        ));
    }
}

fn check_scopes(out: &mut Vec<Problem>, at: &[&str], scopes: &[String]) {
    if scopes.is_empty() {
        out.push(problem(at, "is empty; list at least one scope, or remove the line for the default"));
    } else if scopes.iter().any(|s| s.is_empty() || s.chars().any(char::is_whitespace)) {
        out.push(problem(at, "contains an empty scope or one with spaces; write one scope per string"));
    }
}

/// The issuer is compared as an exact string, so it is checked but never normalised.
fn check_issuer(issuer: &str) -> Result<(), String> {
    let url = url::Url::parse(issuer).map_err(|e| {
        format!("`{issuer}` is not a valid URL ({e}); copy `issuer` from the IdP's discovery document")
    })?;
    let loopback = match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        _ => {
            return Err(format!("`{issuer}` must use https:// (plain http only on 127.0.0.1/localhost)"));
        }
    }
    if url.host().is_none() || !url.username().is_empty() || url.password().is_some() {
        return Err(format!("`{issuer}` needs a host name and no user info"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!("`{issuer}` has a query or fragment; an issuer is a plain URL"));
    }
    Ok(())
}

fn line_at(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())].iter().filter(|b| **b == b'\n').count() + 1
}

/// The span of the key at `at` (or of the deepest ancestor that exists).
fn span_of(root: &Table, at: &[String]) -> Option<Range<usize>> {
    let mut table: &dyn toml_edit::TableLike = root;
    let mut found = None;
    for segment in at {
        let Some((key, item)) = table.get_key_value(segment) else {
            break;
        };
        found = key.span().or_else(|| item.span()).or(found);
        match item.as_table_like() {
            Some(t) => table = t,
            None => break,
        }
    }
    found
}

/// The dotted path of the deepest key whose key, value or table header holds `span.start`.
fn field_at(root: &Table, span: Range<usize>) -> String {
    fn walk(t: &dyn toml_edit::TableLike, path: &mut Vec<String>, pos: usize, best: &mut Vec<String>) {
        for (name, _) in t.iter() {
            let Some((key, item)) = t.get_key_value(name) else {
                continue;
            };
            path.push(name.to_string());
            let header = item.as_table().and_then(Table::span);
            let hit = [key.span(), item.span(), header]
                .into_iter()
                .flatten()
                .any(|s| s.contains(&pos) || s.start == pos);
            if hit && path.len() > best.len() {
                *best = path.clone();
            }
            if let Some(inner) = item.as_table_like() {
                walk(inner, path, pos, best);
            }
            path.pop();
        }
    }
    let mut best = Vec::new();
    walk(root, &mut Vec::new(), span.start, &mut best);
    best.join(".")
}

/// The config file as an editable document: edits touch only the keys they change, so the
/// user's comments, key order and layout survive. Validated before it is saved.
#[derive(Debug, Clone, Default)]
pub struct ConfigDoc {
    doc: DocumentMut,
}

impl ConfigDoc {
    /// Reads the config at `path` for editing; a missing file is an empty document.
    pub fn load(path: &Path) -> Result<ConfigDoc, ConfigError> {
        match std::fs::read_to_string(path) {
            Ok(text) => ConfigDoc::parse(&text, path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(ConfigDoc::default()),
            Err(source) => Err(ConfigError::Read { path: path.into(), source }),
        }
    }

    /// Parses `text` for editing (TOML syntax only; validation happens in [`ConfigDoc::save`]).
    pub fn parse(text: &str, path: &Path) -> Result<ConfigDoc, ConfigError> {
        let doc =
            no_parser_panic(path, || text.parse::<DocumentMut>())?.map_err(|e| ConfigError::Invalid {
                path: path.into(),
                line: e.span().map(|s| line_at(text, s.start)),
                field: String::new(),
                message: format!("{}; fix the TOML syntax", e.message().trim_end()),
            })?;
        Ok(ConfigDoc { doc })
    }

    /// Adds `[idp.<name>]`; an existing one is refused unless `replace`, which updates its keys
    /// in place.
    pub fn add_idp(&mut self, name: &str, idp: &IdpConfig, replace: bool) -> Result<(), ConfigError> {
        let t = self.entry("idp", name, "an IdP", replace)?;
        set(t, "issuer", Some(idp.issuer.as_str().into()));
        set(t, "client_id", Some(idp.client_id.as_str().into()));
        set(t, "scopes", Some(string_array(&idp.scopes)));
        set(t, "redirect_port", (idp.redirect_port != 0).then(|| i64::from(idp.redirect_port).into()));
        let params: InlineTable =
            idp.auth_params.iter().map(|(k, v)| (k.as_str(), Value::from(v.as_str()))).collect();
        set(t, "auth_params", (!params.is_empty()).then(|| params.into()));
        Ok(())
    }

    /// Removes `[idp.<name>]`; refused while a workspace uses it.
    pub fn remove_idp(&mut self, name: &str) -> Result<(), ConfigError> {
        let users: Vec<String> = self
            .tables("workspace")
            .filter(|(_, t)| t.get("idp").and_then(Item::as_str) == Some(name))
            .map(|(n, _)| n.to_string())
            .collect();
        if !users.is_empty() {
            return Err(ConfigError::IdpInUse { name: name.into(), workspaces: users });
        }
        if self.remove("idp", name).is_none() {
            let known = self.tables("idp").map(|(n, _)| n.to_string()).collect();
            return Err(ConfigError::UnknownIdp { name: name.into(), known });
        }
        Ok(())
    }

    /// Adds `[workspace.<name>]` (the first workspace becomes the active one); an existing one
    /// is refused unless `replace`, which updates its keys in place.
    pub fn add_workspace(
        &mut self,
        name: &str,
        ws: &WorkspaceConfig,
        replace: bool,
    ) -> Result<(), ConfigError> {
        let first = self.tables("workspace").next().is_none();
        let t = self.entry("workspace", name, "a workspace", replace)?;
        set(t, "idp", (!ws.idp.is_empty()).then(|| ws.idp.as_str().into()));
        set(t, "host", Some(ws.host.as_str().into()));
        set(t, "scopes", Some(string_array(&ws.scopes)));
        set(t, "token", Some(ws.token.as_str().into()));
        set(t, "client_id", ws.client_id.as_deref().map(Value::from));
        set(t, "profile", ws.profile.as_deref().map(Value::from));
        set(t, "auth", (ws.auth == WorkspaceAuth::M2m).then(|| "m2m".into()));
        set(t, "account_id", ws.account_id.as_deref().map(Value::from));
        set(t, "account_host", ws.account_host.as_deref().map(Value::from));
        if first && !self.doc.contains_key("active") {
            set(&mut self.doc, "active", Some(name.into()));
        }
        Ok(())
    }

    /// Removes `[workspace.<name>]`, and `active` if it named it.
    pub fn remove_workspace(&mut self, name: &str) -> Result<(), ConfigError> {
        if self.remove("workspace", name).is_none() {
            let known = self.tables("workspace").map(|(n, _)| n.to_string()).collect();
            return Err(ConfigError::UnknownWorkspace { name: name.into(), known });
        }
        if self.doc.get("active").and_then(Item::as_str) == Some(name) {
            self.doc.remove("active");
        }
        Ok(())
    }

    /// Makes `name` the default workspace.
    pub fn set_active(&mut self, name: &str) -> Result<(), ConfigError> {
        if !self.tables("workspace").any(|(n, _)| n == name) {
            let known = self.tables("workspace").map(|(n, _)| n.to_string()).collect();
            return Err(ConfigError::UnknownWorkspace { name: name.into(), known });
        }
        set(&mut self.doc, "active", Some(name.into()));
        Ok(())
    }

    /// The document as a validated [`Config`]; `path` is used in error messages.
    pub fn to_config(&self, path: &Path) -> Result<Config, ConfigError> {
        Config::parse(&self.doc.to_string(), path)
    }

    /// Validates, then writes the file atomically with mode `0600`.
    pub fn save(&self, path: &Path) -> Result<(), ConfigError> {
        let text = self.doc.to_string();
        Config::parse(&text, path)?;
        write_atomic(path, text.as_bytes(), 0o600)
            .map_err(|source| ConfigError::Write { path: path.into(), source })
    }

    /// `[<section>.<name>]`, created if missing; an existing one only when `replace`.
    fn entry(
        &mut self,
        section: &str,
        name: &str,
        kind: &'static str,
        replace: bool,
    ) -> Result<&mut Table, ConfigError> {
        let not_editable = |field: String| ConfigError::Invalid {
            path: PathBuf::new(),
            line: None,
            message: format!(
                "is not written as a [{field}] table, which Lakepass needs to edit it; rewrite it so"
            ),
            field,
        };
        if !is_name(name) {
            return Err(ConfigError::Invalid {
                path: PathBuf::new(),
                line: None,
                field: format!("{section}.{name}"),
                message: format!("`{name}` is not a valid name; use only letters, digits, `-` and `_`"),
            });
        }
        let parent = self.doc.entry(section).or_insert_with(|| {
            let mut t = Table::new();
            t.set_implicit(true);
            Item::Table(t)
        });
        let parent = parent.as_table_mut().ok_or_else(|| not_editable(section.into()))?;
        if parent.contains_key(name) && !replace {
            return Err(ConfigError::Exists { kind, name: name.into() });
        }
        parent
            .entry(name)
            .or_insert_with(|| Item::Table(Table::new()))
            .as_table_mut()
            .ok_or_else(|| not_editable(format!("{section}.{name}")))
    }

    fn remove(&mut self, section: &str, name: &str) -> Option<Item> {
        self.doc.get_mut(section)?.as_table_like_mut()?.remove(name)
    }

    fn tables(&self, section: &str) -> impl Iterator<Item = (&str, &dyn toml_edit::TableLike)> {
        self.doc
            .get(section)
            .and_then(Item::as_table_like)
            .into_iter()
            .flat_map(|t| t.iter())
            .filter_map(|(n, item)| Some((n, item.as_table_like()?)))
    }
}

impl std::fmt::Display for ConfigDoc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.doc)
    }
}

/// Sets (or with `None` removes) `key`, keeping an unchanged value byte for byte and a changed
/// one's surrounding comment.
fn set(t: &mut Table, key: &str, value: Option<Value>) {
    let Some(mut value) = value else {
        t.remove(key);
        return;
    };
    if let Some(old) = t.get(key).and_then(Item::as_value) {
        if same(old, &value) {
            return;
        }
        *value.decor_mut() = old.decor().clone();
    }
    t[key] = Item::Value(value);
}

fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::String(x), Value::String(y)) => x.value() == y.value(),
        (Value::Integer(x), Value::Integer(y)) => x.value() == y.value(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y.iter()).all(|(a, b)| same(a, b))
        }
        (Value::InlineTable(x), Value::InlineTable(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => false,
    }
}

fn string_array(items: &[String]) -> Value {
    Value::Array(items.iter().map(String::as_str).collect::<Array>())
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = r#"# Lakepass configuration
active = "dev"              # default workspace for commands

[idp.corp]
issuer = "https://login.microsoftonline.com/<tenant>/v2.0"   # exact string, as in the id_token `iss`
client_id = "00000000-0000-0000-0000-000000000000"
scopes = ["openid", "profile", "email", "offline_access"]     # default
redirect_port = 8400        # loopback port for the sign-in redirect; 0 = any free port (default 0)
auth_params = { prompt = "consent" }   # extra authorize-URL parameters, optional

# the team's development workspace
[workspace.dev]
idp = "corp"
host = "https://adb-123.4.azuredatabricks.net"
scopes = ["all-apis"]       # default
token = "id_token"          # which IdP token to exchange: "id_token" (default) or "access_token"
client_id = "sp-app-id"     # optional: service-principal (workload identity) federation
profile = "dev"             # ~/.databrickscfg profile Lakepass owns; default = the workspace name
"#;

    const MINIMAL: &str = r#"[idp.okta]
issuer = "http://127.0.0.1:8080/oidc"
client_id = "lakepass"

[workspace.a]
idp = "okta"
host = "adb-1.azuredatabricks.net"

[workspace.b]
idp = "okta"
host = "http://localhost:9000"
token = "access_token"
"#;

    fn path() -> &'static Path {
        Path::new("config.toml")
    }

    fn invalid(text: &str) -> (String, Option<usize>, String) {
        match Config::parse(text, path()) {
            Err(e @ ConfigError::Invalid { .. }) => {
                let ConfigError::Invalid { line, ref field, .. } = e else { unreachable!() };
                (e.to_string(), line, field.clone())
            }
            other => panic!("expected Invalid for {text:?}, got {other:?}"),
        }
    }

    #[test]
    fn the_documented_example_parses() {
        let c = Config::parse(EXAMPLE, path()).unwrap();
        let idp = c.idp("corp").unwrap();
        assert_eq!(idp.redirect_port, 8400);
        assert_eq!(idp.auth_params["prompt"], "consent");
        let ws = c.workspace(None).unwrap();
        assert_eq!(ws.name, "dev");
        assert_eq!(ws.host.as_str(), "https://adb-123.4.azuredatabricks.net");
        assert_eq!(ws.client_id.as_deref(), Some("sp-app-id"));
        assert_eq!((ws.profile.as_str(), ws.token), ("dev", SubjectTokenKind::IdToken));
    }

    #[test]
    fn defaults_fill_in() {
        let c = Config::parse(MINIMAL, path()).unwrap();
        let idp = c.idp("okta").unwrap();
        assert_eq!(idp.scopes, default_idp_scopes());
        assert_eq!((idp.redirect_port, idp.auth_params.len()), (0, 0));
        let all = c.workspaces().unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].host.as_str(), "https://adb-1.azuredatabricks.net");
        assert_eq!(all[0].scopes, vec!["all-apis".to_string()]);
        assert_eq!((all[0].profile.as_str(), all[0].token), ("a", SubjectTokenKind::IdToken));
        assert_eq!(all[1].token, SubjectTokenKind::AccessToken);
        assert!(Config::parse("", path()).unwrap().workspaces().unwrap().is_empty());
    }

    #[test]
    fn choosing_a_workspace() {
        let c = Config::parse(MINIMAL, path()).unwrap();
        assert_eq!(c.workspace(Some("b")).unwrap().name, "b");
        let err = c.workspace(None).unwrap_err().to_string();
        assert!(err.contains("`a`, `b`") && err.contains("none is active"), "{err}");
        let err = c.workspace(Some("zz")).unwrap_err().to_string();
        assert!(err.contains("`zz`") && err.contains("`a`, `b`"), "{err}");
        let one = MINIMAL.split("[workspace.b]").next().unwrap();
        assert_eq!(Config::parse(one, path()).unwrap().workspace(None).unwrap().name, "a");
        let err = Config::default().workspace(None).unwrap_err().to_string();
        assert!(err.contains("lakepass workspace add"), "{err}");
        assert!(c.idp("nope").unwrap_err().to_string().contains("`okta`"));
    }

    #[test]
    fn errors_name_file_line_and_field() {
        let swap = |from: &str, to: &str| {
            assert!(EXAMPLE.contains(from), "{from}");
            EXAMPLE.replacen(from, to, 1)
        };
        let checks = [
            (
                swap("profile = \"dev\"", "profle = \"dev\""),
                18,
                "workspace.dev.profle",
                "unknown field `profle`",
            ),
            (
                swap("redirect_port = 8400", "redirect_port = \"8400\""),
                8,
                "idp.corp.redirect_port",
                "expected u16",
            ),
            (swap("https://adb-123.4", "http://adb-123.4"), 14, "workspace.dev.host", "https://"),
            (
                swap("idp = \"corp\"", "idp = \"okta\""),
                13,
                "workspace.dev.idp",
                "`okta`, which is not defined",
            ),
            (swap("active = \"dev\"", "active = \"prod\""), 2, "active", "`prod`"),
            (swap("scopes = [\"all-apis\"]", "scopes = []"), 15, "workspace.dev.scopes", "is empty"),
            (swap("https://login", "http://login"), 5, "idp.corp.issuer", "https://"),
            (
                swap("prompt = \"consent\"", "state = \"x\""),
                9,
                "idp.corp.auth_params.state",
                "set by Lakepass",
            ),
            (swap("[idp.corp]", "[idp.\"my corp\"]"), 4, "idp.my corp", "not a valid name"),
            (swap("token = \"id_token\"", "token = \"jwt\""), 16, "workspace.dev.token", "unknown variant"),
            (swap("client_id = \"sp-app-id\"", "client_id = \"sp-app-id"), 17, "", "fix the TOML syntax"),
        ];
        for (text, line, field, needle) in checks {
            let (msg, got_line, got_field) = invalid(&text);
            assert_eq!((got_line, got_field.as_str()), (Some(line), field), "{msg}");
            let prefix = if field.is_empty() {
                format!("config.toml:{line}: ")
            } else {
                format!("config.toml:{line}: {field}: ")
            };
            assert!(msg.starts_with(&prefix), "{msg}");
            assert!(msg.contains(needle), "{msg}");
        }
    }

    #[test]
    fn shared_profiles_and_loopback_issuers() {
        let clash = format!("{MINIMAL}profile = \"a\"\n");
        let (msg, line, field) = invalid(&clash);
        assert_eq!((line, field.as_str()), (Some(13), "workspace.b.profile"), "{msg}");
        assert!(msg.contains("also used by workspace `a`"), "{msg}");
        // http issuers are fine on loopback (the devstack), as in MINIMAL.
        assert!(Config::parse(MINIMAL, path()).is_ok());
        let (msg, line, field) = invalid(&format!("{MINIMAL}[extra]\n"));
        assert_eq!((line, field.as_str()), (Some(13), "extra"), "{msg}");
    }

    #[test]
    fn load_reports_a_missing_file_with_next_steps() {
        let dir = tempfile::tempdir().unwrap();
        let err = Config::load(&dir.path().join("config.toml")).unwrap_err().to_string();
        assert!(err.contains("lakepass idp add") && err.contains("devstack --write-config"), "{err}");
        assert_eq!(ConfigDoc::load(&dir.path().join("config.toml")).unwrap().to_string(), "");
    }

    #[test]
    fn doc_edits_keep_comments_byte_for_byte() {
        let mut doc = ConfigDoc::parse(EXAMPLE, path()).unwrap();
        let mut prod = WorkspaceConfig::new("corp", "https://prod.cloud.databricks.com");
        prod.profile = Some("prod-lakepass".into());
        doc.add_workspace("prod", &prod, false).unwrap();
        doc.add_idp("okta", &IdpConfig::new("https://example.okta.com", "abc"), false).unwrap();
        let both = doc.to_string();
        assert!(both.starts_with(&EXAMPLE[..EXAMPLE.find("# the team's").unwrap()]), "{both}");
        assert!(
            both.contains("[workspace.prod]\nidp = \"corp\"\nhost = \"https://prod.cloud.databricks.com\"\n")
        );
        let config = doc.to_config(path()).unwrap();
        assert_eq!(config.active.as_deref(), Some("dev"), "only the first workspace becomes active");
        assert_eq!(config.workspace(Some("prod")).unwrap().profile, "prod-lakepass");
        doc.remove_workspace("prod").unwrap();
        doc.remove_idp("okta").unwrap();
        assert_eq!(doc.to_string(), EXAMPLE);

        // Replacing with equal values changes nothing; a changed value keeps its comment.
        let mut dev = config.workspace["dev"].clone();
        doc.add_workspace("dev", &dev, true).unwrap();
        assert_eq!(doc.to_string(), EXAMPLE);
        dev.host = "https://adb-999.9.azuredatabricks.net".into();
        dev.client_id = None;
        doc.add_workspace("dev", &dev, true).unwrap();
        let want = EXAMPLE.replace("adb-123.4", "adb-999.9").replace(
            "client_id = \"sp-app-id\"     # optional: service-principal (workload identity) federation\n",
            "",
        );
        assert_eq!(doc.to_string(), want);
        doc.set_active("dev").unwrap();
        assert_eq!(doc.to_string(), want);
    }

    #[test]
    fn doc_refusals() {
        let mut doc = ConfigDoc::parse(EXAMPLE, path()).unwrap();
        let idp = IdpConfig::new("https://x.example", "c");
        assert!(matches!(doc.add_idp("corp", &idp, false), Err(ConfigError::Exists { .. })));
        let err = doc.remove_idp("corp").unwrap_err();
        assert!(matches!(err, ConfigError::IdpInUse { .. }) && err.to_string().contains("`dev`"), "{err}");
        assert!(matches!(doc.remove_workspace("nope"), Err(ConfigError::UnknownWorkspace { .. })));
        assert!(matches!(doc.remove_idp("nope"), Err(ConfigError::UnknownIdp { .. })));
        assert!(matches!(doc.set_active("nope"), Err(ConfigError::UnknownWorkspace { .. })));
        assert!(matches!(doc.add_idp("a.b", &idp, false), Err(ConfigError::Invalid { .. })));
        let err = ConfigDoc::parse("x = [", path()).unwrap_err().to_string();
        assert!(err.starts_with("config.toml:1: "), "{err}");
        // Removing the active workspace clears `active`; removing the IdP is then allowed.
        doc.remove_workspace("dev").unwrap();
        assert!(doc.to_config(path()).unwrap().active.is_none());
        doc.remove_idp("corp").unwrap();
    }

    #[test]
    fn save_validates_then_writes_privately() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("lakepass").join("config.toml");
        let mut doc = ConfigDoc::load(&file).unwrap();
        doc.add_idp("corp", &IdpConfig::new("https://login.example.com", "cid"), false).unwrap();
        doc.add_workspace("dev", &WorkspaceConfig::new("corp", "https://dev.example.com"), false).unwrap();
        doc.save(&file).unwrap();
        let config = Config::load(&file).unwrap();
        assert_eq!(config.active.as_deref(), Some("dev"));
        assert_eq!(config.workspace(None).unwrap().idp, "corp");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        let before = std::fs::read_to_string(&file).unwrap();
        let mut bad = ConfigDoc::load(&file).unwrap();
        bad.add_workspace("x", &WorkspaceConfig::new("missing", "https://x.example.com"), false).unwrap();
        let err = bad.save(&file).unwrap_err().to_string();
        assert!(err.contains("workspace.x.idp"), "{err}");
        assert_eq!(std::fs::read_to_string(&file).unwrap(), before);
    }
}
