//! lakepass-core: the engine behind the Lakepass tray app and CLI.
//!
//! It signs a developer into their identity provider (OIDC, PKCE over a loopback redirect),
//! trades the IdP's JWT for a Databricks OAuth token per workspace (RFC 8693 token exchange),
//! keeps every token fresh, and writes it where other tools read it. No GUI, no globals: all IO
//! sits in small modules, time is injected, and secrets are [`Secret`]s that cannot be logged.
//!
//! Where a token goes, in order: [`idp`] signs in and keeps the IdP session;
//! [`engine`] exchanges it per workspace ([`exchange`]) and refreshes it on a schedule;
//! [`store`] keeps it in the [`vault`]; the [`sink`]s write it where other tools read it
//! (`~/.databrickscfg`, the state file); [`serve`] and [`ipc`] hand it out live; [`Daemon`]
//! runs all of that in the one process that owns refreshing.

pub mod admin;
pub mod atomic;
pub mod audit;
pub mod clock;
pub mod config;
pub mod daemon;
pub mod databrickscfg;
pub mod doctor;
pub mod engine;
pub mod error;
pub mod exchange;
mod group_commit;
pub mod host;
pub mod http;
pub mod idp;
pub mod ipc;
pub mod jwt;
pub mod launch;
pub mod lock;
pub mod mcp;
pub mod paths;
pub mod presets;
pub mod roles;
pub mod secret;
pub mod serve;
pub mod sink;
pub mod status;
pub mod store;
pub mod tls;
pub mod vault;

pub use clock::{Clock, ManualClock, SharedClock, SystemClock, UnixTime};
pub use daemon::{Daemon, DaemonOptions, Notice};
pub use engine::{BuildError, Engine, EngineBuilder, EngineError, EngineOptions};
pub use error::{ErrorKind, Failure};
pub use host::{HostError, WorkspaceHost, WorkspaceUrl};
pub use paths::Paths;
pub use secret::Secret;
pub use status::{Snapshot, TokenState, WorkspaceStatus};
pub use store::Store;
pub use vault::{Vault, VaultError, VaultKind};
