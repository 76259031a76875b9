//! Team files: one file a company hands its people (`lakepass setup team.toml`, the dashboard's
//! "Import") holding its IdPs, workspaces and Claude gateway settings, and no secrets.
//!
//! The file has the config's own shape, limited to `[idp.*]`, `[workspace.*]` and `[claude.*]`,
//! so every rule of the config applies to it unchanged. What it adds:
//! - **refusals with a line:** a secret (see `secret_scan.rs`), then an unknown key, then any
//!   config rule, each reported as `team.toml:<line>: <field>: …`, before anything is used;
//! - **a plan** ([`TeamPlan`]): per entry, added, already there, or in conflict with an entry
//!   of the same name and different values (with each differing field), so a front end can show
//!   what will change and nothing is overwritten unasked;
//! - **the hosts that receive a token** ([`TeamPlan::hosts`]): every workspace host the import
//!   would add or change receives the user's IdP JWT at its first refresh, and every IdP issuer
//!   the user's refresh token. A workspace host outside the Databricks workspace domains
//!   ([`lakepass_wire::host::DATABRICKS_DNS_ZONES`], from the SDKs' own lists) could exchange
//!   that JWT at the user's real workspaces, so it is refused unless the user names it
//!   ([`ConfigDoc::apply_team`]'s `trusted`). A loopback host is no exception: another local user
//!   may hold the port (issue 23, M2);
//! - **the merge** ([`ConfigDoc::apply_team`]): the team's tables are copied into the user's
//!   document as written (comments included), the user's own bytes stay as they were, and the
//!   result is validated as a whole by [`ConfigDoc::save`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use toml_edit::{DocumentMut, Item, Table};

use super::edit::ConfigDoc;
use super::error::ConfigError;
use super::load::{field_at, line_at, no_parser_panic, syntax_error};
use super::model::{ClaudeConfig, Config, IdpConfig, WorkspaceConfig};
use super::secret_scan::find_secrets;
use lakepass_wire::WorkspaceHost;

/// The keys a team file may hold at its top level (the serde shape refuses any other).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // only parsed, for its refusals; the values are read from `Config`
struct TeamShape {
    #[serde(default)]
    idp: BTreeMap<String, IdpConfig>,
    #[serde(default)]
    workspace: BTreeMap<String, WorkspaceConfig>,
    #[serde(default)]
    claude: BTreeMap<String, ClaudeConfig>,
}

/// A parsed, checked team file.
#[derive(Debug, Clone)]
pub struct TeamFile {
    path: PathBuf,
    doc: DocumentMut,
    config: Config,
}

/// The three kinds of entry a team file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum TeamSection {
    /// `[idp.<name>]`.
    Idp,
    /// `[workspace.<name>]`.
    Workspace,
    /// `[claude.<workspace>]`.
    Claude,
}

impl TeamSection {
    /// The table name in the file: `idp`, `workspace` or `claude`.
    pub fn as_str(self) -> &'static str {
        match self {
            TeamSection::Idp => "idp",
            TeamSection::Workspace => "workspace",
            TeamSection::Claude => "claude",
        }
    }
}

/// What importing one entry does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum TeamChange {
    /// New to the user's config: it will be added.
    Add,
    /// The user's config has it with the same values: nothing to do.
    Unchanged,
    /// The user's config has an entry of that name with other values: kept as it is unless
    /// replacing is asked for.
    Conflict,
}

/// One field of an entry: its value in the team file and, for a conflict, in the user's config
/// (as compact TOML-like text, for display).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct TeamField {
    /// The key, e.g. `issuer`.
    pub key: String,
    /// The team file's value; `None` when only the user's entry sets it.
    pub team: Option<String>,
    /// The user's value, for conflicting fields only.
    pub yours: Option<String>,
}

/// One entry of the team file and what importing it does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct TeamEntry {
    /// Which table.
    pub section: TeamSection,
    /// The entry's name.
    pub name: String,
    /// Added, unchanged or in conflict.
    pub change: TeamChange,
    /// For an added entry, every field; for a conflict, the fields that differ.
    pub fields: Vec<TeamField>,
}

/// What a host named by a team file will be sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum TeamHostRole {
    /// An IdP issuer: sent the sign-in and, on every refresh, the refresh token.
    Idp,
    /// A workspace (or its account console): sent the IdP's JWT on every exchange.
    Workspace,
}

/// A host that will receive one of the user's tokens if the team file is imported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct TeamHost {
    /// `scheme://host[:port]`, normalised.
    pub host: String,
    /// What it receives.
    pub role: TeamHostRole,
    /// The entries that name it (`workspace.dev`, `idp.corp`).
    pub named_by: Vec<String>,
    /// A workspace host outside the Databricks workspace domains: imported only when the user
    /// confirms it by name.
    pub needs_confirmation: bool,
}

/// What importing a team file into a config will do, entry by entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct TeamPlan {
    /// IdPs first, then workspaces, then Claude settings, each by name.
    pub entries: Vec<TeamEntry>,
    /// The IdPs to sign in to afterwards: the team's IdPs used by its workspaces.
    pub sign_in: Vec<String>,
    /// Every host the entries that the import adds or changes would send a token to, IdPs
    /// first; those that need confirming are marked.
    pub hosts: Vec<TeamHost>,
}

impl TeamPlan {
    /// True when importing would change the config.
    pub fn changes_anything(&self, replace: bool) -> bool {
        self.entries
            .iter()
            .any(|e| e.change == TeamChange::Add || replace && e.change == TeamChange::Conflict)
    }

    /// The entries in conflict with the user's config.
    pub fn conflicts(&self) -> impl Iterator<Item = &TeamEntry> {
        self.entries.iter().filter(|e| e.change == TeamChange::Conflict)
    }

    /// The hosts that need confirming and are not among `trusted` (host URLs or bare names, as
    /// the user typed them; compared in normal form).
    pub fn unconfirmed_hosts(&self, trusted: &[String]) -> Vec<&TeamHost> {
        let trusted: Vec<WorkspaceHost> =
            trusted.iter().filter_map(|t| WorkspaceHost::parse(t.trim()).ok()).collect();
        self.hosts
            .iter()
            .filter(|h| h.needs_confirmation && !trusted.iter().any(|t| t.as_str() == h.host))
            .collect()
    }
}

impl TeamFile {
    /// Reads and checks the team file at `path`.
    pub fn load(path: &Path) -> Result<TeamFile, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ConfigError::Read { path: path.into(), source })?;
        TeamFile::parse(&text, path)
    }

    /// Checks `text` (`path` is for messages): secrets first, then unknown keys, then the
    /// config's rules. The first problem, nearest the top, is the error.
    pub fn parse(text: &str, path: &Path) -> Result<TeamFile, ConfigError> {
        let spans = no_parser_panic(path, || toml_edit::Document::parse(text))?
            .map_err(|e| syntax_error(text, path, &e))?;
        if let Some(hit) = find_secrets(spans.as_table()).into_iter().next() {
            return Err(ConfigError::Invalid {
                path: path.into(),
                line: hit.span.map(|s| line_at(text, s.start)),
                field: hit.at.join("."),
                message: format!(
                    "looks like {}; a team file is shared, so it must hold no secrets: remove it \
                     (each person signs in for their own tokens)",
                    hit.what
                ),
            });
        }
        toml::from_str::<TeamShape>(text).map_err(|e| {
            let span = e.span();
            let mut message = e.message().trim_end().to_string();
            if message.starts_with("unknown field") {
                message.push_str("; a team file holds only [idp.*], [workspace.*] and [claude.*] tables");
            }
            ConfigError::Invalid {
                path: path.into(),
                line: span.as_ref().map(|s| line_at(text, s.start)),
                field: span.map(|s| field_at(spans.as_table(), s)).unwrap_or_default(),
                message,
            }
        })?;
        let config = Config::parse(text, path)?;
        if config.idp.is_empty() && config.workspace.is_empty() && config.claude.is_empty() {
            return Err(ConfigError::Invalid {
                path: path.into(),
                line: None,
                field: String::new(),
                message: "holds no [idp.*], [workspace.*] or [claude.*] table; nothing to set up".into(),
            });
        }
        let doc = text.parse::<DocumentMut>().map_err(|e| syntax_error(text, path, &e))?;
        Ok(TeamFile { path: path.into(), doc, config })
    }

    /// The file's path, as given.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The team's entries as a config.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// What importing this file into `current` does.
    pub fn plan(&self, current: &Config) -> TeamPlan {
        let mut entries = Vec::new();
        for (name, idp) in &self.config.idp {
            entries.push(entry(TeamSection::Idp, name, idp, current.idp.get(name)));
        }
        for (name, ws) in &self.config.workspace {
            entries.push(entry(TeamSection::Workspace, name, ws, current.workspace.get(name)));
        }
        for (name, c) in &self.config.claude {
            entries.push(entry(TeamSection::Claude, name, c, current.claude.get(name)));
        }
        let mut sign_in: Vec<String> = self
            .config
            .workspace
            .values()
            .filter(|w| self.config.idp.contains_key(&w.idp))
            .map(|w| w.idp.clone())
            .collect();
        sign_in.sort();
        sign_in.dedup();
        let hosts = token_hosts(&self.config, &entries);
        TeamPlan { entries, sign_in, hosts }
    }

    fn table(&self, section: TeamSection, name: &str) -> Option<Table> {
        let item = self.doc.get(section.as_str())?.as_table_like()?.get(name)?.clone();
        match item {
            Item::Table(t) => Some(t),
            Item::Value(toml_edit::Value::InlineTable(t)) => Some(t.into_table()),
            _ => None,
        }
    }
}

/// The hosts of the entries the import adds or changes, and what each would be sent.
fn token_hosts(team: &Config, entries: &[TeamEntry]) -> Vec<TeamHost> {
    let changes = |section: TeamSection, name: &str| {
        entries.iter().any(|e| e.section == section && e.name == name && e.change != TeamChange::Unchanged)
    };
    let mut named: BTreeMap<(TeamHostRole, String), Vec<String>> = BTreeMap::new();
    for (name, idp) in team.idp.iter().filter(|(n, _)| changes(TeamSection::Idp, n)) {
        let origin =
            url::Url::parse(&idp.issuer).map(|u| u.origin().ascii_serialization()).unwrap_or_default();
        named.entry((TeamHostRole::Idp, origin)).or_default().push(format!("idp.{name}"));
    }
    for (name, ws) in team.workspace.iter().filter(|(n, _)| changes(TeamSection::Workspace, n)) {
        for h in std::iter::once(&ws.host).chain(ws.account_host.as_ref()) {
            // Validated already: a host that does not parse never got this far.
            let host = WorkspaceHost::parse(h).map(|h| h.as_str().to_string()).unwrap_or_else(|_| h.clone());
            named.entry((TeamHostRole::Workspace, host)).or_default().push(format!("workspace.{name}"));
        }
    }
    named
        .into_iter()
        .map(|((role, host), named_by)| {
            let databricks = WorkspaceHost::parse(&host).is_ok_and(|h| h.is_databricks_domain());
            TeamHost {
                needs_confirmation: role == TeamHostRole::Workspace && !databricks,
                host,
                role,
                named_by,
            }
        })
        .collect()
}

fn entry<T: Serialize + PartialEq>(
    section: TeamSection,
    name: &str,
    team: &T,
    yours: Option<&T>,
) -> TeamEntry {
    let team_fields = fields(team);
    let (change, fields) = match yours {
        None => {
            let all = team_fields.into_iter().map(|(key, v)| TeamField { key, team: Some(v), yours: None });
            (TeamChange::Add, all.collect())
        }
        Some(y) if y == team => (TeamChange::Unchanged, Vec::new()),
        Some(y) => {
            let mut mine = fields(y);
            let mut diff = Vec::new();
            for (key, v) in team_fields {
                let old = mine.remove(&key);
                if old.as_ref() != Some(&v) {
                    diff.push(TeamField { key, team: Some(v), yours: old });
                }
            }
            diff.extend(mine.into_iter().map(|(key, v)| TeamField { key, team: None, yours: Some(v) }));
            (TeamChange::Conflict, diff)
        }
    };
    TeamEntry { section, name: name.into(), change, fields }
}

/// The entry's fields as display text, in key order (serde's view, defaults filled in).
fn fields<T: Serialize>(value: &T) -> BTreeMap<String, String> {
    let Ok(serde_json::Value::Object(map)) = serde_json::to_value(value) else {
        return BTreeMap::new();
    };
    map.into_iter()
        .filter(|(_, v)| !v.is_null())
        .filter(|(_, v)| !v.as_object().is_some_and(|o| o.is_empty()))
        .filter(|(k, v)| !(k == "redirect_port" && v.as_u64() == Some(0)))
        .map(|(k, v)| (k, v.to_string()))
        .collect()
}

impl ConfigDoc {
    /// Adds the team file's entries that `plan` (made against this document) marks as new, and
    /// with `replace` also those in conflict; the first workspace becomes the active one when
    /// none is. Refused, changing nothing, when there are conflicts and `replace` is false, or
    /// when a host that needs confirming ([`TeamHost::needs_confirmation`]) is not in `trusted`.
    pub fn apply_team(
        &mut self,
        team: &TeamFile,
        plan: &TeamPlan,
        replace: bool,
        trusted: &[String],
    ) -> Result<(), ConfigError> {
        let conflicts: Vec<String> =
            plan.conflicts().map(|e| format!("{}.{}", e.section.as_str(), e.name)).collect();
        if !conflicts.is_empty() && !replace {
            return Err(ConfigError::TeamConflict { path: team.path.clone(), entries: conflicts });
        }
        let unconfirmed: Vec<String> =
            plan.unconfirmed_hosts(trusted).iter().map(|h| h.host.clone()).collect();
        if !unconfirmed.is_empty() {
            return Err(ConfigError::UntrustedHost { path: team.path.clone(), hosts: unconfirmed });
        }
        let mut added_workspace = None;
        for e in &plan.entries {
            let wanted = e.change == TeamChange::Add || replace && e.change == TeamChange::Conflict;
            let Some(table) = team.table(e.section, &e.name).filter(|_| wanted) else {
                continue;
            };
            self.put_table(e.section.as_str(), &e.name, table)?;
            if e.section == TeamSection::Workspace && added_workspace.is_none() {
                added_workspace = Some(e.name.clone());
            }
        }
        if let Some(first) = added_workspace
            && self.active().is_none()
        {
            self.set_active(&first)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{EXAMPLE, path};
    use super::*;

    const TEAM: &str = r#"# Acme's Lakepass set-up: no secrets here, everyone signs in for their own tokens.
[idp.acme]
issuer = "https://login.microsoftonline.com/acme-tenant/v2.0"
client_id = "11111111-2222-3333-4444-555555555555"

# analytics, the team's main workspace
[workspace.analytics]
idp = "acme"
host = "https://adb-1.2.azuredatabricks.net"

[workspace.ml]
idp = "acme"
host = "https://adb-3.4.azuredatabricks.net"
profile = "acme-ml"

[claude.analytics]
base_path = "/ai-gateway/anthropic"
"#;

    fn team_path() -> &'static Path {
        Path::new("team.toml")
    }

    fn refused(text: &str) -> (String, Option<usize>, String) {
        match TeamFile::parse(text, team_path()) {
            Err(e @ ConfigError::Invalid { .. }) => {
                let ConfigError::Invalid { line, ref field, .. } = e else { unreachable!() };
                (e.to_string(), line, field.clone())
            }
            other => panic!("expected a refusal for {text:?}, got {other:?}"),
        }
    }

    #[test]
    fn a_team_file_merges_into_a_commented_config_keeping_every_byte() {
        let team = TeamFile::parse(TEAM, team_path()).unwrap();
        let mut doc = ConfigDoc::parse(EXAMPLE, path()).unwrap();
        let plan = team.plan(&doc.to_config(path()).unwrap());
        let changes: Vec<_> = plan.entries.iter().map(|e| (e.section, e.name.as_str(), e.change)).collect();
        assert_eq!(
            changes,
            [
                (TeamSection::Idp, "acme", TeamChange::Add),
                (TeamSection::Workspace, "analytics", TeamChange::Add),
                (TeamSection::Workspace, "ml", TeamChange::Add),
                (TeamSection::Claude, "analytics", TeamChange::Add),
            ]
        );
        assert_eq!(plan.sign_in, ["acme"]);
        let issuer = plan.entries[0].fields.iter().find(|f| f.key == "issuer").unwrap();
        assert_eq!(issuer.team.as_deref(), Some("\"https://login.microsoftonline.com/acme-tenant/v2.0\""));
        assert!(plan.changes_anything(false));

        doc.apply_team(&team, &plan, false, &[]).unwrap();
        let merged = doc.to_string();
        assert!(merged.starts_with(EXAMPLE), "the user's file is kept byte for byte:\n{merged}");
        assert!(merged.contains("# analytics, the team's main workspace\n[workspace.analytics]"), "{merged}");
        let config = doc.to_config(path()).unwrap();
        assert_eq!(config.active.as_deref(), Some("dev"), "the user's active workspace stays");
        assert_eq!(config.workspace(Some("ml")).unwrap().profile, "acme-ml");
        assert_eq!(config.claude["analytics"].base_path.as_deref(), Some("/ai-gateway/anthropic"));

        // Importing again changes nothing.
        let again = team.plan(&config);
        assert!(again.entries.iter().all(|e| e.change == TeamChange::Unchanged), "{again:?}");
        assert!(!again.changes_anything(true));
        doc.apply_team(&team, &again, false, &[]).unwrap();
        assert_eq!(doc.to_string(), merged);
    }

    #[test]
    fn into_an_empty_config_the_first_team_workspace_becomes_active() {
        let team = TeamFile::parse(TEAM, team_path()).unwrap();
        let mut doc = ConfigDoc::default();
        let plan = team.plan(&Config::default());
        doc.apply_team(&team, &plan, false, &[]).unwrap();
        let config = doc.to_config(path()).unwrap();
        assert_eq!(config.active.as_deref(), Some("analytics"));
        assert_eq!(config.workspaces().unwrap().len(), 2);
    }

    #[test]
    fn conflicts_are_reported_field_by_field_and_never_overwritten_unasked() {
        let user = EXAMPLE.to_string();
        let team_text = "[idp.corp]\nissuer = \"https://login.microsoftonline.com/other/v2.0\"\n\
                         client_id = \"00000000-0000-0000-0000-000000000000\"\nredirect_port = 8400\n\
                         auth_params = { prompt = \"consent\" }\n";
        let team = TeamFile::parse(team_text, team_path()).unwrap();
        let mut doc = ConfigDoc::parse(&user, path()).unwrap();
        let plan = team.plan(&doc.to_config(path()).unwrap());
        let entry = &plan.entries[0];
        assert_eq!(entry.change, TeamChange::Conflict);
        assert_eq!(entry.fields.len(), 1, "only the differing field: {entry:?}");
        assert_eq!(entry.fields[0].key, "issuer");
        assert_eq!(
            entry.fields[0].yours.as_deref(),
            Some("\"https://login.microsoftonline.com/<tenant>/v2.0\"")
        );
        assert!(!plan.changes_anything(false) && plan.changes_anything(true));

        let err = doc.apply_team(&team, &plan, false, &[]).unwrap_err();
        assert!(
            matches!(err, ConfigError::TeamConflict { ref entries, .. } if entries == &["idp.corp"]),
            "{err}"
        );
        assert!(err.to_string().contains("--replace"), "{err}");
        assert_eq!(doc.to_string(), user, "nothing changed");

        doc.apply_team(&team, &plan, true, &[]).unwrap();
        let replaced = doc.to_config(path()).unwrap();
        assert_eq!(replaced.idp["corp"].issuer, "https://login.microsoftonline.com/other/v2.0");
        let text = doc.to_string();
        assert!(
            text.find("[idp.corp]") < text.find("[workspace.dev]"),
            "a replaced entry keeps its place:\n{text}"
        );
    }

    #[test]
    fn every_host_that_receives_a_token_is_listed_and_a_foreign_one_must_be_named() {
        let text = format!(
            "{TEAM}\n[workspace.odd]\nidp = \"acme\"\nhost = \"https://Collector.Example\"\n\n\
             [workspace.local]\nidp = \"acme\"\nhost = \"http://127.0.0.1:9000\"\n"
        );
        let team = TeamFile::parse(&text, team_path()).unwrap();
        let plan = team.plan(&Config::default());
        let hosts: Vec<(&str, TeamHostRole, bool)> =
            plan.hosts.iter().map(|h| (h.host.as_str(), h.role, h.needs_confirmation)).collect();
        assert_eq!(
            hosts,
            [
                ("https://login.microsoftonline.com", TeamHostRole::Idp, false),
                ("http://127.0.0.1:9000", TeamHostRole::Workspace, true),
                ("https://adb-1.2.azuredatabricks.net", TeamHostRole::Workspace, false),
                ("https://adb-3.4.azuredatabricks.net", TeamHostRole::Workspace, false),
                ("https://collector.example", TeamHostRole::Workspace, true),
            ]
        );
        let mut doc = ConfigDoc::default();
        let err = doc.apply_team(&team, &plan, false, &["https://collector.example".into()]).unwrap_err();
        assert!(
            matches!(&err, ConfigError::UntrustedHost { hosts, .. } if hosts == &["http://127.0.0.1:9000"]),
            "a loopback host is not trusted by itself: {err}"
        );
        assert!(err.to_string().contains("--trust-host"), "{err}");
        assert_eq!(doc.to_string(), "", "nothing changed");
        let trusted = ["collector.example".to_string(), "http://127.0.0.1:9000/".to_string()];
        doc.apply_team(&team, &plan, false, &trusted).unwrap();
        assert_eq!(doc.to_config(path()).unwrap().workspace.len(), 4);
        // Imported again, nothing changes, so nothing needs confirming.
        assert!(team.plan(&doc.to_config(path()).unwrap()).hosts.is_empty());
    }

    #[test]
    fn secrets_unknown_keys_and_broken_rules_are_refused_with_their_line() {
        // `line` inserted after the line that holds `at`.
        let with = |at: &str, line: &str| {
            let start = TEAM.find(at).unwrap_or_else(|| panic!("{at}"));
            let end = start + TEAM[start..].find('\n').unwrap() + 1;
            format!("{}{line}\n{}", &TEAM[..end], &TEAM[end..])
        };
        let checks = [
            (
                with("client_id = \"1111", "client_secret = \"abc\""),
                5,
                "idp.acme.client_secret",
                "a client secret",
            ),
            (
                with("idp = \"acme\"", "password = \"hunter2\""),
                9,
                "workspace.analytics.password",
                "a password",
            ),
            (
                with("profile = \"acme-ml\"", "token = \"eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln\""),
                15,
                "workspace.ml.token",
                "a token",
            ),
            (
                with("base_path", "headers = [\"x: dapi0123456789abcdef0123456789abcdef\"]"),
                18,
                "claude.analytics.headers",
                "a Databricks token",
            ),
            (with("host = \"https://adb-3.4", "hots = \"x\""), 14, "workspace.ml.hots", "unknown field"),
            (format!("active = \"ml\"\n{TEAM}"), 1, "active", "only [idp.*], [workspace.*] and [claude.*]"),
            (TEAM.replace("https://adb-1.2", "http://adb-1.2"), 9, "workspace.analytics.host", "https://"),
        ];
        for (text, line, field, needle) in checks {
            let (msg, got_line, got_field) = refused(&text);
            assert_eq!((got_line, got_field.as_str()), (Some(line), field), "{msg}");
            assert!(msg.starts_with(&format!("team.toml:{line}: {field}: ")), "{msg}");
            assert!(msg.contains(needle), "{msg}");
            assert!(
                !msg.contains("hunter2") && !msg.contains("eyJ") && !msg.contains("dapi0"),
                "no secret echoed: {msg}"
            );
        }
        assert!(TeamFile::parse("# nothing\n", team_path()).is_err());
    }
}
