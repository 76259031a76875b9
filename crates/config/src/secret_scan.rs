//! Finding secrets in a file meant to be shared: a team file (`lakepass setup`) is mailed around
//! and committed to wikis, so one holding a client secret, a password or a token must be refused
//! before anything of it is used, with the line, and without repeating the secret.
//!
//! Two signals, both on the `toml_edit` document so each hit has a span:
//! - **key names** that only ever hold secrets (`client_secret`, `password`, `api_key`, …), and
//!   `token` unless it holds one of the config's subject-token spellings (`id_token`,
//!   `access_token`, which name a token kind, not a token);
//! - **values** that look like credentials wherever they are: a JWT (three base64url parts, the
//!   first starting `eyJ`, the encoding of `{"`), a Databricks personal access token (`dapi` +
//!   32 hex digits, optionally `-<n>`) or OAuth secret (`dose` + hex), or an
//!   `Authorization: Bearer …` header.

use std::ops::Range;

use toml_edit::{Item, TableLike, Value};

use super::model::SubjectTokenKind;

/// A secret found in a document: the dotted path and span of the key or value holding it, and
/// what it looks like (never the value itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct SecretHit {
    /// The dotted path's segments.
    pub(super) at: Vec<String>,
    /// Where in the text (for the line number).
    pub(super) span: Option<Range<usize>>,
    /// `a client secret`, `a JWT`, …
    pub(super) what: &'static str,
}

/// Key names that hold secrets and nothing else (compared in lower case, `-` as `_`).
const SECRET_KEYS: &[&str] = &[
    "client_secret",
    "secret",
    "password",
    "passwd",
    "api_key",
    "apikey",
    "access_token",
    "refresh_token",
    "id_token",
    "private_key",
    "pat",
];

/// Every secret in `root`, in document order.
pub(super) fn find_secrets(root: &dyn TableLike) -> Vec<SecretHit> {
    let mut out = Vec::new();
    walk_table(root, &mut Vec::new(), &mut out);
    out.sort_by_key(|h| h.span.as_ref().map_or(usize::MAX, |s| s.start));
    out
}

fn walk_table(t: &dyn TableLike, path: &mut Vec<String>, out: &mut Vec<SecretHit>) {
    for (name, _) in t.iter() {
        let Some((key, item)) = t.get_key_value(name) else {
            continue;
        };
        path.push(name.to_string());
        let span = key.span().or_else(|| item.span());
        if let Some(what) = secret_key(name, item.as_str()) {
            out.push(SecretHit { at: path.clone(), span, what });
        } else {
            match item {
                Item::Table(inner) => walk_table(inner, path, out),
                Item::ArrayOfTables(arr) => arr.iter().for_each(|inner| walk_table(inner, path, out)),
                Item::Value(v) => walk_value(v, path, span, out),
                Item::None => {}
            }
        }
        path.pop();
    }
}

fn walk_value(v: &Value, path: &mut Vec<String>, span: Option<Range<usize>>, out: &mut Vec<SecretHit>) {
    match v {
        Value::String(s) => {
            if let Some(what) = secret_value(s.value()) {
                out.push(SecretHit { at: path.clone(), span: v.span().or(span), what });
            }
        }
        Value::Array(a) => {
            a.iter().for_each(|item| walk_value(item, path, item.span().or(span.clone()), out))
        }
        Value::InlineTable(t) => walk_table(t, path, out),
        _ => {}
    }
}

/// What a key holding `value` is, if its name says it is a secret.
fn secret_key(name: &str, value: Option<&str>) -> Option<&'static str> {
    let n = name.to_ascii_lowercase().replace('-', "_");
    if n == "token" {
        // `token = "id_token"` picks which IdP token is exchanged: a setting, not a secret.
        let kind = value.is_some_and(|v| v.parse::<SubjectTokenKind>().is_ok());
        return (!kind).then_some("a token");
    }
    if n.contains("client_secret") {
        Some("a client secret")
    } else if n.contains("password") || n == "passwd" {
        Some("a password")
    } else if SECRET_KEYS.contains(&n.as_str()) || n.ends_with("_secret") || n.ends_with("_token") {
        Some("a secret")
    } else {
        None
    }
}

/// What `s` looks like, if it holds a credential anywhere in it.
pub(super) fn secret_value(s: &str) -> Option<&'static str> {
    let lower = s.to_ascii_lowercase();
    if lower.contains("bearer ") || lower.contains("basic ") && lower.contains("authorization") {
        return Some("an Authorization header");
    }
    let words = s.split(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')));
    for word in words {
        if looks_like_jwt(word) {
            return Some("a JWT");
        }
        if looks_like_databricks_token(word) {
            return Some("a Databricks token");
        }
    }
    None
}

fn looks_like_jwt(word: &str) -> bool {
    let parts: Vec<&str> = word.split('.').collect();
    let b64url =
        |p: &&str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    parts.len() == 3 && parts[0].starts_with("eyJ") && parts[..2].iter().all(b64url) && parts[1].len() >= 4
}

fn looks_like_databricks_token(word: &str) -> bool {
    let Some(rest) = word.strip_prefix("dapi").or_else(|| word.strip_prefix("dose")) else {
        return false;
    };
    let hex = rest
        .split_once('-')
        .map_or(rest, |(h, n)| if n.bytes().all(|b| b.is_ascii_digit()) { h } else { "" });
    hex.len() >= 32 && hex.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hits(text: &str) -> Vec<(String, &'static str)> {
        let doc = toml_edit::Document::parse(text).unwrap();
        find_secrets(doc.as_table()).into_iter().map(|h| (h.at.join("."), h.what)).collect()
    }

    #[test]
    fn secret_keys_and_values_are_found_in_document_order() {
        let text = r#"
[idp.corp]
issuer = "https://login.example.com"
client_id = "abc"
client_secret = "s3cret"
auth_params = { prompt = "consent", password = "hunter2" }

[workspace.dev]
token = "id_token"
host = "https://dev.example.com"
profile = "dapi0123456789abcdef0123456789abcdef-2"

[workspace.qa]
token = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"

[claude.dev]
headers = ["x-databricks-use-coding-agent-mode: true", "Authorization: Bearer abc"]
"#;
        assert_eq!(
            hits(text),
            [
                ("idp.corp.client_secret".to_string(), "a client secret"),
                ("idp.corp.auth_params.password".into(), "a password"),
                ("workspace.dev.profile".into(), "a Databricks token"),
                ("workspace.qa.token".into(), "a token"),
                ("claude.dev.headers".into(), "an Authorization header"),
            ]
        );
    }

    #[test]
    fn settings_that_only_look_sensitive_are_not_secrets() {
        let text = r#"
[idp.corp]
issuer = "https://login.microsoftonline.com/t/v2.0"
client_id = "00000000-0000-0000-0000-000000000000"
scopes = ["openid", "offline_access"]
[workspace.dev]
token = "access_token"
host = "https://adb-123.4.azuredatabricks.net"
profile = "dapi-notes"
[claude.dev]
opus_model = "system.ai.claude-opus-4-5"
"#;
        assert_eq!(hits(text), []);
        assert_eq!(secret_value("dapi0123456789abcdef0123456789abcdef"), Some("a Databricks token"));
        assert_eq!(secret_value("doseABCDEF0123456789abcdef0123456789ab"), Some("a Databricks token"));
        assert_eq!(secret_value("dapi0123"), None);
        assert_eq!(secret_value("a.b.c"), None);
    }
}
