//! macOS: exec and process groups from `unix.rs`; terminals are apps opened with `open -a`,
//! which the pure table in `terminal.rs` already handles with a script.

use super::Platform;

/// This platform.
pub(crate) const PLATFORM: Platform = Platform::MacOs;

pub use super::unix::{detach, hand_over};
