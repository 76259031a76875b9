//! The proxy's grants: per-launch keys, each naming one workspace.
//!
//! A key is 32 random bytes from the OS (base64url, the live service's path secret,
//! [`crate::serve::new_path_secret`]), made when a launch asks and kept only in memory. The
//! number of grants is bounded ([`MAX_GRANTS`]): past it the oldest is forgotten, so a program
//! asking in a loop cannot grow the engine's memory.

use std::collections::VecDeque;

use lakepass_wire::secret::Secret;

/// Most grants held at once; past it the oldest is forgotten (its agent gets 404s).
pub const MAX_GRANTS: usize = 256;

/// One grant: its key and its workspace.
pub(crate) struct Grant {
    pub(crate) key: Secret,
    pub(crate) workspace: String,
}

/// Every live grant, oldest first.
#[derive(Default)]
pub(crate) struct Grants(VecDeque<Grant>);

impl Grants {
    /// A new grant for `workspace`; its key.
    pub(crate) fn add(&mut self, workspace: &str) -> Secret {
        let key = crate::serve::new_path_secret();
        if self.0.len() >= MAX_GRANTS {
            self.0.pop_front();
        }
        self.0.push_back(Grant { key: key.clone(), workspace: workspace.to_string() });
        key
    }

    /// The keys, in the order of [`Grants::workspace`]'s index.
    pub(crate) fn keys(&self) -> Vec<&Secret> {
        self.0.iter().map(|g| &g.key).collect()
    }

    /// The workspace of the grant at `index`.
    pub(crate) fn workspace(&self, index: usize) -> Option<&str> {
        self.0.get(index).map(|g| g.workspace.as_str())
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }
}
