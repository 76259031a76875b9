//! lakepass-wire: Lakepass's side of the protocols, with no files and no config.
//!
//! It speaks OIDC to identity providers ([`idp`]: discovery, PKCE sign-in over a loopback
//! redirect, refresh, id_token validation) and OAuth to Databricks ([`exchange`]: the RFC 8693
//! token exchange and client credentials at `/oidc/v1/token`), over one [`http`] client with
//! bounded retries, the trust settings of [`tls`] and the host rules of [`host`]. [`jwt`] decodes
//! and verifies tokens; [`secret`] holds them so they cannot be logged; [`clock`] is injected
//! time; [`text`] makes what a server wrote safe to print. [`peer`] tells whether a loopback TCP
//! peer is this user or another local user.
//!
//! What it may use: nothing of Lakepass's own. What may use it: every other Lakepass crate.
//! Requests are built as plain values and sent by thin functions, so the protocol is tested
//! without IO.

pub mod clock;
pub mod exchange;
pub mod host;
pub mod http;
pub mod idp;
pub mod jwt;
pub mod peer;
pub mod secret;
pub mod text;
pub mod tls;

pub use clock::{Clock, ManualClock, SharedClock, SystemClock, UnixTime};
pub use host::{HostError, WorkspaceHost, WorkspaceUrl};
pub use secret::Secret;
