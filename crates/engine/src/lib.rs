//! lakepass-engine: keeps every Databricks token fresh and hands it to the tools that read it.
//!
//! Where a token goes, in order: [`engine`] signs in through the IdP session (with
//! `lakepass_wire::idp`) and exchanges it per workspace (`lakepass_wire::exchange`), on a
//! schedule; [`store`] keeps it in the vault; the [`sink`]s write it where other tools read it
//! (`~/.databrickscfg`, the state file); [`serve`] (the live token service) and [`ipc`] (the
//! engine socket) hand it out live; [`Daemon`] runs all of that in the one process that owns
//! refreshing. [`status`] is what front ends read, [`error`] the closed vocabulary of failures
//! they act on, [`audit`] the log of what happened, [`roles`] and [`mcp`] pick the service
//! principal and the scope a token is exchanged for, and [`proxy`] is the authenticating proxy
//! for coding agents that cannot ask for a token themselves.
//!
//! What it may use: `lakepass-wire`, `lakepass-store`, `lakepass-config`. What uses it: the
//! tools (`lakepass-launch`, `lakepass-doctor`, `lakepass-admin`) and the front ends.

pub mod audit;
mod daemon;
pub mod engine;
pub mod error;
pub mod ipc;
pub mod mcp;
pub mod proxy;
pub mod roles;
pub mod serve;
pub mod sink;
pub mod status;
pub mod store;

pub use daemon::{Daemon, DaemonOptions, Notice};
pub use engine::{BuildError, Engine, EngineBuilder, EngineError, EngineOptions};
pub use error::{ErrorKind, Failure};
pub use status::{Snapshot, TokenState, WorkspaceStatus};
pub use store::{BoundSession, NoSession, SessionBinding, SessionLookup, SessionOwner, Store};
