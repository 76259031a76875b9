//! Linux (and other freedesktop Unixes): exec and process groups from `unix.rs`.

use super::Platform;

/// This platform.
pub(crate) const PLATFORM: Platform = Platform::Linux;

pub use super::unix::{detach, hand_over};
