//! Support for Lakepass's end-to-end tests: the BUILT `lakepass` binary run as a real process
//! against a real devstack (in-process, over real HTTP on 127.0.0.1) and real third-party peers.
//!
//! One module per job, everything re-exported here:
//! - `binary`: where the binary is ([`lakepass_bin`]; `LAKEPASS_BIN` overrides) and running it
//!   in a home ([`TempHome::run`], [`TempHome::spawn`]).
//! - `home`: [`TempHome`], a throwaway HOME with every path Lakepass and the Databricks tools
//!   read pointed into it, and a scrubbed environment for children (no inherited `DATABRICKS_*`,
//!   proxies or log settings), `LAKEPASS_VAULT=file` so no keyring is needed.
//! - `process`: [`Proc`], a child that is killed when dropped and whose pipes are drained in the
//!   background, so a hung or chatty child can neither hang nor deadlock a test.
//! - `login`: [`PendingLogin`] / [`TempHome::login`], `lakepass login --no-browser` with the
//!   test playing the browser.
//! - `stack`: starting a devstack ([`start_devstack`]), the config pointing at it
//!   ([`devstack_config`]) and the test's own requests ([`scim_me`]).
//! - `files`: reading `~/.databrickscfg` and the vault the way the Databricks tools would.
//! - `peers` ([`peer_node`], [`peer_python`]): the npm/PyPI peers installed by
//!   `scripts/ci-deps.sh`; missing peers fail under `CI` and skip elsewhere.
//! - `skip` ([`may_skip`]): the one helper that decides whether a test may skip (never under CI).
//! - `redaction`: leak checks. Tokens never appear in assertion messages: use [`redact`] on
//!   anything printed, or compare [`fingerprint`]s; [`TempHome::vault_secrets`] lists what to
//!   search for.
//! - `wait` and `system`: polling, sleeping to a wall-clock time, file modes, free ports.

mod binary;
mod files;
mod home;
mod login;
mod peers;
mod process;
mod redaction;
mod skip;
mod stack;
mod system;
mod wait;

use std::time::Duration;

pub use binary::{lakepass_bin, workspace_root};
pub use files::ini_value;
pub use home::TempHome;
pub use login::{PendingLogin, open_start_link};
pub use peers::{peer_node, peer_python, peers_dir};
pub use process::{Output, Proc, Stream};
pub use redaction::redact;
pub use skip::may_skip;
pub use stack::{devstack_config, http, scim_me, start_devstack, ws_host};
pub use system::{end_tmux, free_port, is_root, mode};
pub use wait::{sleep_until_unix, wait_for};

pub use lakepass_devstack::{self as devstack, Devstack, DevstackOptions, fingerprint};

/// The email the devstack approves sign-ins as.
pub const USER_EMAIL: &str = "ada@example.com";
/// The default bound on any one `lakepass` command.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);
