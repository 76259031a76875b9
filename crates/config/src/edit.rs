//! [`ConfigDoc`]: changing the config file the way a person would, one key at a time.
//!
//! Rewriting the whole file from [`Config`] would drop the user's comments and reorder their
//! keys (other tools lost users' settings that way), so edits go through a `toml_edit` document:
//! only the keys an edit changes are touched, an unchanged value stays byte for byte, and the
//! result is validated as a whole before it is written atomically.

use std::path::{Path, PathBuf};

use toml_edit::{Array, DocumentMut, InlineTable, Item, Table, Value};

use lakepass_store::atomic::write_atomic;

use super::error::ConfigError;
use super::load::{no_parser_panic, syntax_error};
use super::model::{Config, IdpConfig, WorkspaceAuth, WorkspaceConfig};
use super::validate::{invalid_name_message, is_valid_name};

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
        let doc = no_parser_panic(path, || text.parse::<DocumentMut>())?
            .map_err(|e| syntax_error(text, path, &e))?;
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
        // No form or flag names a CA, so a hand-set `ca_file` stays unless one is given.
        if let Some(ca) = &idp.ca_file {
            set(t, "ca_file", Some(path_value(ca)));
        }
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
        set(t, "auth", (ws.auth != WorkspaceAuth::default()).then(|| ws.auth.as_str().into()));
        set(t, "account_id", ws.account_id.as_deref().map(Value::from));
        set(t, "account_host", ws.account_host.as_deref().map(Value::from));
        // TOML integers are i64; a workspace id past that could not be written back.
        set(t, "workspace_id", ws.workspace_id.and_then(|id| i64::try_from(id).ok()).map(Value::from));
        if let Some(ca) = &ws.ca_file {
            set(t, "ca_file", Some(path_value(ca)));
        }
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
        // Its launcher tables name it: left behind, they would make the file invalid.
        self.remove("claude", name);
        self.remove("mcp", name);
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

    /// The `active` workspace named in the document, if any.
    pub fn active(&self) -> Option<&str> {
        self.doc.get("active").and_then(Item::as_str)
    }

    /// Puts a whole `[<section>.<name>]` table in place (a new one, or replacing one), as given:
    /// for copying a team file's entries with their comments.
    pub(super) fn put_table(
        &mut self,
        section: &str,
        name: &str,
        mut table: Table,
    ) -> Result<(), ConfigError> {
        let last = last_position(self.doc.as_table());
        let old = self.entry(section, name, "an entry", true)?;
        // A replaced entry keeps its place in the user's file; a new one goes after the rest
        // (not at the position it had in the file it came from).
        match old.position().filter(|_| !old.is_empty()) {
            Some(p) => table.set_position(p),
            None => table.set_position(last + 1),
        }
        let parent = self.doc[section].as_table_mut().expect("entry() made it a table");
        parent.insert(name, Item::Table(table));
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
        if !is_valid_name(name) {
            return Err(ConfigError::Invalid {
                path: PathBuf::new(),
                line: None,
                field: format!("{section}.{name}"),
                message: invalid_name_message(name),
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

/// The highest table position in the document (tables are written in position order).
fn last_position(t: &Table) -> isize {
    t.iter()
        .filter_map(|(_, item)| item.as_table())
        .map(|inner| inner.position().unwrap_or(0).max(last_position(inner)))
        .max()
        .unwrap_or(0)
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

/// A path as a TOML string. A path read from a config is UTF-8 already (TOML is UTF-8).
fn path_value(p: &std::path::Path) -> Value {
    p.to_string_lossy().as_ref().into()
}

fn string_array(items: &[String]) -> Value {
    Value::Array(items.iter().map(String::as_str).collect::<Array>())
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{EXAMPLE, path};
    use super::*;

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
    fn ca_file_is_written_and_a_hand_set_one_survives_a_replace_that_names_none() {
        let mut doc = ConfigDoc::parse(EXAMPLE, path()).unwrap();
        let mut idp = IdpConfig::new("https://idp.example", "c");
        idp.ca_file = Some("/etc/corp/ca.pem".into());
        doc.add_idp("tls", &idp, false).unwrap();
        let mut ws = WorkspaceConfig::new("tls", "https://adb-1.1.azuredatabricks.net");
        ws.ca_file = Some("/etc/corp/ws.pem".into());
        doc.add_workspace("tls", &ws, false).unwrap();
        let config = doc.to_config(path()).unwrap();
        assert_eq!(config.idp["tls"].ca_file.as_deref(), Some(std::path::Path::new("/etc/corp/ca.pem")));
        assert_eq!(
            config.workspace["tls"].ca_file.as_deref(),
            Some(std::path::Path::new("/etc/corp/ws.pem"))
        );
        // The dashboard's form and `workspace add --replace` name no CA: the file's one stays.
        doc.add_idp("tls", &IdpConfig::new("https://idp.example", "c"), true).unwrap();
        doc.add_workspace("tls", &WorkspaceConfig::new("tls", "https://adb-1.1.azuredatabricks.net"), true)
            .unwrap();
        assert_eq!(doc.to_config(path()).unwrap(), config);
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
