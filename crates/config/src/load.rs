//! Reading the config file into [`Config`], with every error pointing at a file:line and a
//! dotted field.
//!
//! serde (through `toml`) builds the model but forgets where things were; `toml_edit` keeps the
//! spans. So the text is parsed twice: `toml_edit` for syntax errors and positions, `toml` for
//! the model, and the spans map serde's and the validator's complaints back to lines.

use std::ops::Range;
use std::path::Path;

use toml_edit::Table;

use super::error::ConfigError;
use super::model::Config;

/// Runs a TOML parser, turning a panic inside it into an error: toml_edit 0.23 panics ("all items
/// have spans") on some malformed files, e.g. `==\n.==\n.==`, found by the `config_parse` fuzz
/// target. A broken config must be an error that names the file, not a crash.
pub(super) fn no_parser_panic<T>(
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
        let doc = no_parser_panic(path, || toml_edit::Document::parse(text))?
            .map_err(|e| syntax_error(text, path, &e))?;
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
}

/// A TOML syntax error, located by line (no field: the text did not parse that far).
pub(super) fn syntax_error(text: &str, path: &Path, e: &toml_edit::TomlError) -> ConfigError {
    ConfigError::Invalid {
        path: path.into(),
        line: e.span().map(|s| line_at(text, s.start)),
        field: String::new(),
        message: format!("{}; fix the TOML syntax", e.message().trim_end()),
    }
}

pub(super) fn line_at(text: &str, offset: usize) -> usize {
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
pub(super) fn field_at(root: &Table, span: Range<usize>) -> String {
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

#[cfg(test)]
mod tests {
    use super::super::fixtures::{EXAMPLE, MINIMAL, invalid, path};
    use super::super::model::default_idp_scopes;
    use super::super::{Config, ConfigDoc, SubjectTokenKind};

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
                swap(".azuredatabricks.net\"", ".azuredatabricks.net/?o=123#job/5\""),
                14,
                "workspace.dev.host",
                "write `host = \"https://adb-123.4.azuredatabricks.net\"` and `workspace_id = 123`",
            ),
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
    fn load_reports_a_missing_file_with_next_steps() {
        let dir = tempfile::tempdir().unwrap();
        let err = Config::load(&dir.path().join("config.toml")).unwrap_err().to_string();
        assert!(err.contains("lakepass idp add") && err.contains("devstack --write-config"), "{err}");
        assert_eq!(ConfigDoc::load(&dir.path().join("config.toml")).unwrap().to_string(), "");
    }
}
