//! Errors as they cross IPC to the dashboard: a stable [`ErrorKind`] the UI acts on, a message
//! for people, and the config field at fault when there is one.

use lakepass_config::ConfigError;
use lakepass_engine::engine::EngineError;
use lakepass_engine::{BuildError, ErrorKind};
use lakepass_launch::LaunchError;
use serde::{Deserialize, Serialize};

/// An error as it crosses IPC: a stable kind the UI can act on, a message for people, and the
/// config field at fault when there is one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error, ts_rs::TS)]
#[error("{message}")]
pub struct AppError {
    /// What kind of failure: the UI acts on it (`needs_login`, `network`, `invalid`, …).
    pub kind: ErrorKind,
    /// What happened and what to do.
    pub message: String,
    /// The dotted config field at fault, e.g. `workspace.dev.host`.
    pub field: Option<String>,
}

impl AppError {
    /// An error of `kind`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        AppError { kind, message: message.into(), field: None }
    }
}

impl From<EngineError> for AppError {
    fn from(e: EngineError) -> Self {
        match e {
            EngineError::Config(c) => c.into(),
            e => AppError::new(e.kind(), e.to_string()),
        }
    }
}

impl From<LaunchError> for AppError {
    /// A launch keeps its kind: no token is `needs_login` (the UI offers "Sign in"), a missing
    /// program or terminal is `config`, one that would not start is `launch`.
    fn from(e: LaunchError) -> Self {
        match e {
            LaunchError::Config(c) => (*c).into(),
            e => AppError::new(e.kind(), e.to_string()),
        }
    }
}

impl From<BuildError> for AppError {
    fn from(e: BuildError) -> Self {
        match e {
            BuildError::Config(c) => c.into(),
            BuildError::Engine(e) => e.into(),
            e => AppError::new(e.kind(), e.to_string()),
        }
    }
}

impl From<ConfigError> for AppError {
    fn from(e: ConfigError) -> Self {
        let field = match &e {
            ConfigError::Invalid { field, .. } if !field.is_empty() => Some(field.clone()),
            _ => None,
        };
        let kind = match &e {
            ConfigError::Invalid { .. } | ConfigError::Exists { .. } | ConfigError::IdpInUse { .. } => {
                ErrorKind::Invalid
            }
            _ => ErrorKind::Config,
        };
        // The message for a form: the field's own problem, without the file and line prefix.
        let message = match &e {
            ConfigError::Invalid { message, .. } => message.clone(),
            e => e.to_string(),
        };
        AppError { kind, message, field }
    }
}
