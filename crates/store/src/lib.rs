//! lakepass-store: what Lakepass keeps on disk, written so that nothing is lost.
//!
//! [`vault`] holds secrets (the OS keyring, or a 0600 file where there is none);
//! [`databrickscfg`] edits `~/.databrickscfg` losslessly, touching only Lakepass's profiles;
//! [`paths`] says where each file lives. Under them, the file primitives every writer shares:
//! [`atomic`] (temp file → fsync → rename, 0600), [`lock`] (cross-process file locks with
//! in-process queues) and [`group_commit`] (writes that arrive together share one durable write).
//!
//! What it may use: `lakepass-wire` (for [`lakepass_wire::Secret`]). It knows nothing of the
//! config file, the engine or the protocols: callers name keys and profiles.

pub mod atomic;
pub mod databrickscfg;
pub mod group_commit;
pub mod lock;
pub mod paths;
pub mod vault;

pub use paths::Paths;
pub use vault::{Vault, VaultError, VaultKind};
