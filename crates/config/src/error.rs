//! What goes wrong with the config: [`ConfigError`] for the file, [`UnknownValue`] for a
//! config enum parsed from a flag or a form.
//!
//! Every message says where (file, line, dotted field), what is wrong and what to do next, so
//! the CLI prints it as is and the tray shows it next to the field.

use std::path::{Path, PathBuf};

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
    /// A team file's entries that differ from the user's entries of the same name.
    #[error(
        "{} differs from your config in {} (shown above); nothing was changed. Keep yours, or \
         replace them with the team's explicitly (--replace)",
        path.display(),
        list(entries)
    )]
    TeamConflict {
        /// The team file.
        path: PathBuf,
        /// `idp.<name>`, `workspace.<name>`, `claude.<name>`.
        entries: Vec<String>,
    },
    /// A team file sends the user's sign-in token to hosts that are not Databricks workspace
    /// domains and that the user did not confirm by name.
    #[error(
        "{} sends your sign-in token to {}, which {} not a Databricks workspace domain; nothing was \
         changed. Import it only if you trust each of them, confirming it by name (`lakepass setup \
         FILE --trust-host <host>` for each, or tick it in the dashboard's import)",
        path.display(),
        list(hosts),
        if hosts.len() == 1 { "is" } else { "are" }
    )]
    UntrustedHost {
        /// The team file.
        path: PathBuf,
        /// The unconfirmed hosts (`scheme://host[:port]`).
        hosts: Vec<String>,
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

/// `` `a`, `b` `` (or `none`), for messages that list names.
pub(super) fn list<S: AsRef<str>>(names: &[S]) -> String {
    if names.is_empty() {
        "none".into()
    } else {
        names.iter().map(|n| format!("`{}`", n.as_ref())).collect::<Vec<_>>().join(", ")
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

/// A value that is none of a config enum's spellings (from [`str::parse`] on
/// [`SubjectTokenKind`](super::SubjectTokenKind) and the other config enums).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{value}` is not a valid {what}; use one of {}", list(allowed))]
pub struct UnknownValue {
    /// What was being parsed, e.g. `subject token kind`.
    pub what: &'static str,
    /// The text given.
    pub value: String,
    /// Every accepted spelling.
    pub allowed: Vec<&'static str>,
}
