//! The config file's shape: the serde structs and enums, exactly as written in the file.
//!
//! This is the raw, "low" form: unknown keys are refused so a typo is an error, defaults are
//! filled in by serde, and nothing is checked or derived here (that is `validate.rs` and
//! `resolve.rs`). The enums also parse from their config spelling ([`std::str::FromStr`]) and are
//! [`clap::ValueEnum`]s, so a command-line flag or a dashboard form accepts exactly what the file
//! accepts, with no second list of spellings to drift.

use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::ValueEnum;
use serde::{Deserialize, Serialize};

use super::error::UnknownValue;

/// The whole config file, as written (defaults filled in).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The workspace commands use when none is named.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<String>,
    /// A PEM file of CA certificates to trust for every host, beyond the system's store: a
    /// company's TLS-inspecting CA.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
    /// Identity providers by name.
    #[serde(default)]
    pub idp: BTreeMap<String, IdpConfig>,
    /// Databricks workspaces by name.
    #[serde(default)]
    pub workspace: BTreeMap<String, WorkspaceConfig>,
    /// The Claude Code program `launch claude` runs; else `claude` on `PATH`. The same setting
    /// as `[agent.claude] path` (kept for older files; see [`Config::agent_path`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claude_path: Option<PathBuf>,
    /// Per coding agent settings (`[agent.<name>]`): program, model, per workspace overrides.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub agent: BTreeMap<String, super::agent::AgentConfig>,
    /// The terminal emulator launchers open; else `$TERMINAL`, then the platform's usual ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub terminal: Option<TerminalSetting>,
    /// The folder launched terminals start in (`~` expands to the home folder).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub launch_dir: Option<String>,
    /// The coding agent the tray and the dashboard offer first (one of [`crate::AGENT_NAMES`]);
    /// else `claude`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_agent: Option<String>,
    /// Claude Code gateway settings per workspace (`[claude.<workspace>]`); kept out of
    /// `[workspace.*]` so code building a [`WorkspaceConfig`] need not know about launchers.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub claude: BTreeMap<String, ClaudeConfig>,
    /// Databricks managed MCP servers Claude Code gets, per workspace (`[mcp.<workspace>]`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub mcp: BTreeMap<String, super::mcp::McpConfig>,
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
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ValueEnum)]
#[serde(rename_all = "kebab-case")]
#[value(rename_all = "kebab-case")]
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

    /// The config spelling: `static` or `cli-helper`.
    pub fn as_str(self) -> &'static str {
        match self {
            ProfileFlavour::Static => "static",
            ProfileFlavour::CliHelper => "cli-helper",
        }
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
    /// A PEM file of CA certificates to trust, for this IdP's certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
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
    /// The numeric workspace id (the `?o=` of the workspace's browser URL), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workspace_id: Option<u64>,
    /// A PEM file of CA certificates to trust, for this workspace's certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
}

/// How a workspace's token is obtained (`auth = "…"`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, ValueEnum)]
#[serde(rename_all = "snake_case")]
#[value(rename_all = "snake_case")]
pub enum WorkspaceAuth {
    /// Exchange the signed-in user's IdP JWT (RFC 8693).
    #[default]
    Federation,
    /// A service principal's OAuth client credentials (`client_id` in config, secret in the vault).
    M2m,
}

impl WorkspaceAuth {
    /// The config spelling: `federation` or `m2m`.
    pub fn as_str(self) -> &'static str {
        match self {
            WorkspaceAuth::Federation => "federation",
            WorkspaceAuth::M2m => "m2m",
        }
    }
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
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, ValueEnum)]
#[serde(rename_all = "snake_case")]
#[value(rename_all = "snake_case")]
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

pub(super) fn default_idp_scopes() -> Vec<String> {
    ["openid", "profile", "email", "offline_access"].map(String::from).to_vec()
}

fn default_workspace_scopes() -> Vec<String> {
    vec!["all-apis".to_string()]
}

impl IdpConfig {
    /// The OAuth client this section describes, as the sign-in and refresh requests need it.
    pub fn client(&self) -> lakepass_wire::idp::IdpClient {
        lakepass_wire::idp::IdpClient {
            client_id: self.client_id.clone(),
            scopes: self.scopes.clone(),
            auth_params: self.auth_params.clone(),
        }
    }

    /// An IdP with default scopes, any redirect port and no extra parameters.
    pub fn new(issuer: impl Into<String>, client_id: impl Into<String>) -> Self {
        IdpConfig {
            issuer: issuer.into(),
            client_id: client_id.into(),
            scopes: default_idp_scopes(),
            redirect_port: 0,
            auth_params: BTreeMap::new(),
            ca_file: None,
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
            workspace_id: None,
            ca_file: None,
        }
    }
}

/// `Display` and `FromStr` in the config spelling (`as_str`), for flags, forms and messages.
macro_rules! config_spelling {
    ($($ty:ty => $what:literal),* $(,)?) => {$(
        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $ty {
            type Err = UnknownValue;

            /// Exactly the spellings the config file accepts (case and spaces matter).
            fn from_str(s: &str) -> Result<Self, UnknownValue> {
                let all = <$ty as ValueEnum>::value_variants();
                all.iter().copied().find(|v| v.as_str() == s).ok_or_else(|| UnknownValue {
                    what: $what,
                    value: s.to_string(),
                    allowed: all.iter().map(|v| v.as_str()).collect(),
                })
            }
        }
    )*};
}

config_spelling! {
    ProfileFlavour => "profile flavour",
    WorkspaceAuth => "auth method",
    SubjectTokenKind => "subject token kind",
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One spelling per variant: the file (serde), the command line (clap), `as_str` and
    /// `FromStr` must agree, or a flag would accept what the file refuses.
    fn spellings_agree<T>(expected: &[&str])
    where
        T: ValueEnum + Copy + Eq + std::fmt::Debug + std::fmt::Display + Serialize,
        T: for<'de> Deserialize<'de> + std::str::FromStr<Err = UnknownValue>,
    {
        let names: Vec<String> = T::value_variants().iter().map(|v| v.to_string()).collect();
        assert_eq!(names, expected);
        for &v in T::value_variants() {
            let name = v.to_string();
            assert_eq!(serde_json::to_value(v).unwrap(), serde_json::Value::String(name.clone()));
            assert_eq!(serde_json::from_value::<T>(name.clone().into()).unwrap(), v);
            assert_eq!(v.to_possible_value().unwrap().get_name(), name);
            assert_eq!(name.parse::<T>().unwrap(), v);
        }
    }

    #[test]
    fn enum_spellings_match_the_file_the_cli_and_parse() {
        spellings_agree::<SubjectTokenKind>(&["id_token", "access_token"]);
        spellings_agree::<WorkspaceAuth>(&["federation", "m2m"]);
        spellings_agree::<ProfileFlavour>(&["static", "cli-helper"]);
    }

    #[test]
    fn parsing_an_unknown_value_lists_the_allowed_ones() {
        let err = "jwt".parse::<SubjectTokenKind>().unwrap_err();
        assert_eq!(err.allowed, ["id_token", "access_token"]);
        assert_eq!(
            err.to_string(),
            "`jwt` is not a valid subject token kind; use one of `id_token`, `access_token`"
        );
        // Exactly the file's spellings: no case folding, no trimming, no clap-style kebab case.
        for bad in ["ID_TOKEN", " id_token", "id-token", ""] {
            assert!(bad.parse::<SubjectTokenKind>().is_err(), "{bad:?}");
        }
        let err = "cli_helper".parse::<ProfileFlavour>().unwrap_err().to_string();
        assert!(err.contains("`static`, `cli-helper`"), "{err}");
        let err = "oauth".parse::<WorkspaceAuth>().unwrap_err().to_string();
        assert!(err.contains("auth method") && err.contains("`federation`, `m2m`"), "{err}");
    }
}
