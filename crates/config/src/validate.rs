//! The config's rules: everything serde's types cannot say (URLs, names, references between
//! tables, ranges), checked on the whole file at once.
//!
//! Checks return [`Problem`]s (a dotted path and a message) rather than errors, so `load.rs` can
//! report the one nearest the top of the file with its line, and [`Config::validate`] can report
//! one for a config built in code. The name rules are public ([`is_valid_name`],
//! [`is_valid_profile_name`]) so a front end can check a form field before it saves.

use std::collections::BTreeMap;
use std::path::Path;

use lakepass_wire::WorkspaceHost;

use super::error::{ConfigError, list};
use super::mcp::{dotted, is_segment};
use super::model::{Config, MAX_HELPER_TTL_MS, TerminalSetting, WorkspaceAuth, WorkspaceConfig};

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
pub(super) struct Problem {
    /// The dotted path's segments, e.g. `["workspace", "dev", "host"]`.
    pub(super) at: Vec<String>,
    /// What is wrong and what to do.
    pub(super) message: String,
}

pub(super) fn problem(at: &[&str], message: impl Into<String>) -> Problem {
    Problem { at: at.iter().map(|s| s.to_string()).collect(), message: message.into() }
}

impl Config {
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

    /// Every failed check, in no particular order.
    pub(super) fn problems(&self) -> Vec<Problem> {
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
            check_ca_file(&mut out, &at("ca_file"), idp.ca_file.as_deref());
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
        super::agent::check_agents(self, &mut out);
        check_mcp(self, &mut out);
        check_ca_file(&mut out, &["ca_file"], self.ca_file.as_deref());
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
                // A URL pasted from the browser: still refused here (the file says exactly what
                // is used), but the message says what to write instead.
                let message = match lakepass_wire::host::WorkspaceUrl::parse(&ws.host) {
                    Ok(u) => format!(
                        "{e}: write `host = \"{}\"`{}",
                        u.host,
                        u.workspace_id.map(|id| format!(" and `workspace_id = {id}`")).unwrap_or_default()
                    ),
                    Err(_) => e.to_string(),
                };
                out.push(problem(&at("host"), message));
            }
            if let Some(h) = &ws.account_host
                && let Err(e) = WorkspaceHost::parse(h)
            {
                out.push(problem(&at("account_host"), e.to_string()));
            }
            check_scopes(&mut out, &at("scopes"), &ws.scopes);
            for scope in &ws.scopes {
                if let Some(why) = super::scopes::unknown_scope(scope) {
                    out.push(problem(&at("scopes"), why));
                }
            }
            check_ca_file(&mut out, &at("ca_file"), ws.ca_file.as_deref());
            if ws.client_id.as_deref().is_some_and(|c| c.trim().is_empty()) {
                out.push(problem(
                    &at("client_id"),
                    "is empty; remove the line or set the service principal's application id",
                ));
            }
            if let Some(p) = &ws.profile
                && !is_valid_profile_name(p)
            {
                out.push(problem(
                    &at("profile"),
                    format!("`{p}` is not a usable profile name; use letters, digits, `-`, `_` and `.`"),
                ));
            }
            let profile = ws.profile_name(name).to_string();
            if let Some(why) = reserved_profile(&profile) {
                // Point at `profile` when the file sets it, else at the workspace whose name it is.
                let field: &[&str] = if ws.profile.is_some() { &at("profile") } else { &["workspace", name] };
                out.push(problem(field, format!("profile `{profile}` {why}; set another `profile`")));
            }
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

fn check_ca_file(out: &mut Vec<Problem>, at: &[&str], file: Option<&Path>) {
    if file.is_some_and(|p| p.as_os_str().is_empty()) {
        out.push(problem(at, "is empty; set it to a PEM file of CA certificates, or remove the line"));
    }
}

fn check_launchers(c: &Config, out: &mut Vec<Problem>) {
    if c.claude_path.as_ref().is_some_and(|p| p.as_os_str().is_empty()) {
        out.push(problem(&["claude_path"], "is empty; remove the line to use `claude` on PATH"));
    }
    if let Some(a) = c.default_agent.as_deref().filter(|a| !crate::AGENT_NAMES.contains(a)) {
        out.push(problem(
            &["default_agent"],
            format!(
                "`{a}` is not a coding agent Lakepass launches; use one of {}",
                crate::AGENT_NAMES.join(", ")
            ),
        ));
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

/// Whether `name` can name a workspace or an identity provider (`[workspace.<name>]`,
/// `[idp.<name>]`): not empty, only ASCII letters, digits, `-` and `_`, so it is a bare TOML key,
/// a plain command-line argument and safe in file and profile names.
pub fn is_valid_name(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// Whether `name` can be a `~/.databrickscfg` profile Lakepass writes: not empty, only ASCII
/// letters, digits, `-`, `_` and `.` (an INI section name every Databricks tool reads).
pub fn is_valid_profile_name(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// Why `profile` cannot be a `~/.databrickscfg` profile a workspace owns, if it cannot.
///
/// - `DEFAULT` is the section every Databricks tool uses when no profile is named: the Python
///   SDK reads `~/.databrickscfg` with `configparser`, whose default section is `DEFAULT`, and
///   falls back to it (databricks/databricks-sdk-py, `databricks/sdk/config.py`,
///   `_load_from_config_file`: `if not has_explicit_profile: profile = "DEFAULT"`). Writing a token there would hand it to every tool run without a
///   profile. `configparser` matches it case-sensitively; any case is refused here, so a
///   `default` profile is never mistaken for it by a person or a tool.
/// - `<profile>-live` and `<profile>-helper` are the profiles Lakepass writes beside a
///   workspace's own (the live service's and the `cli-helper` flavour's): a workspace owning
///   one would collide with another workspace's, so the suffixes are Lakepass's (in any case).
pub fn reserved_profile(profile: &str) -> Option<&'static str> {
    let lower = profile.to_ascii_lowercase();
    if lower == "default" {
        Some("is the section Databricks tools use when no profile is named, so Lakepass never writes it")
    } else if lower.ends_with("-live") || lower.ends_with("-helper") {
        Some(
            "ends in `-live` or `-helper`, which Lakepass keeps for the profiles it writes beside each workspace's",
        )
    } else {
        None
    }
}

/// Why `name` fails [`is_valid_name`], and what to do.
pub(super) fn invalid_name_message(name: &str) -> String {
    format!("`{name}` is not a valid name; use only letters, digits, `-` and `_`")
}

fn check_name(out: &mut Vec<Problem>, table: &str, name: &str) {
    if !is_valid_name(name) {
        out.push(problem(&[table, name], invalid_name_message(name)));
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
    let url = lakepass_wire::host::check_secure_url(issuer)
        .map_err(|e| format!("{e}; copy `issuer` from the IdP's discovery document"))?;
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!("`{issuer}` has a query or fragment; an issuer is a plain URL"));
    }
    Ok(())
}

/// The checks of every `[mcp.*]` table, added to the config's.
fn check_mcp(c: &Config, out: &mut Vec<Problem>) {
    for (ws, m) in &c.mcp {
        if !c.workspace.contains_key(ws) {
            out.push(problem(
                &["mcp", ws],
                format!("names workspace `{ws}`, which is not defined; add [workspace.{ws}] or fix the name"),
            ));
        }
        for id in &m.genie {
            if !is_segment(id) {
                out.push(problem(&["mcp", ws, "genie"], format!("`{id}` is not a Genie space id")));
            }
        }
        for name in &m.functions {
            if dotted(name, 2).is_none() {
                out.push(problem(
                    &["mcp", ws, "functions"],
                    format!("`{name}` is not `catalog.schema` (letters, digits, `_`, `-`)"),
                ));
            }
        }
        for name in &m.search {
            if dotted(name, 2).is_none() && dotted(name, 3).is_none() {
                out.push(problem(
                    &["mcp", ws, "search"],
                    format!(
                        "`{name}` is neither `catalog.schema` nor `catalog.schema.index` (letters, digits, `_`, `-`)"
                    ),
                ));
            }
        }
        if !m.sql && m.genie.is_empty() && m.functions.is_empty() && m.search.is_empty() {
            out.push(problem(&["mcp", ws], "offers no server; remove the table, or list a server"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{MINIMAL, invalid, path};
    use super::*;

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
    fn reserved_profiles_are_refused_with_their_line() {
        for (extra, line, field) in [
            ("profile = \"DEFAULT\"\n", 13, "workspace.b.profile"),
            ("profile = \"Default\"\n", 13, "workspace.b.profile"),
            ("profile = \"a-live\"\n", 13, "workspace.b.profile"),
            ("profile = \"x-HELPER\"\n", 13, "workspace.b.profile"),
        ] {
            let (msg, got, f) = invalid(&format!("{MINIMAL}{extra}"));
            assert_eq!((got, f.as_str()), (Some(line), field), "{msg}");
            assert!(msg.contains("set another `profile`"), "{msg}");
        }
        let named = MINIMAL.replace("[workspace.b]", "[workspace.DEFAULT]");
        let (msg, _, f) = invalid(&named);
        assert_eq!(f, "workspace.DEFAULT", "{msg}");
        for fine in ["defaults", "live", "helper", "dev-lived", "my-helpers"] {
            assert_eq!(reserved_profile(fine), None, "{fine}");
        }
    }

    #[test]
    fn default_agent_is_one_of_the_agents() {
        let with = |a: &str| format!("default_agent = \"{a}\"\n{MINIMAL}");
        for good in crate::AGENT_NAMES.iter().copied() {
            let c = Config::parse(&with(good), path()).unwrap();
            assert_eq!(c.default_agent.as_deref(), Some(good));
        }
        for bad in ["terminal", "Claude", "", "vim"] {
            let (msg, line, field) = invalid(&with(bad));
            assert_eq!((line, field.as_str()), (Some(1), "default_agent"), "{msg}");
            assert!(msg.contains("use one of claude, codex, gemini, opencode, copilot, pi"), "{msg}");
        }
    }

    #[test]
    fn name_rules() {
        for good in ["dev", "Prod-2", "a_b"] {
            assert!(is_valid_name(good) && is_valid_profile_name(good), "{good}");
        }
        for bad in ["", "my corp", "a.b", "ü", "a/b", "[x]"] {
            assert!(!is_valid_name(bad), "{bad:?}");
        }
        assert!(is_valid_profile_name("dev.lakepass"));
        for bad in ["", "a b", "a]b", "a=b"] {
            assert!(!is_valid_profile_name(bad), "{bad:?}");
        }
    }
}
