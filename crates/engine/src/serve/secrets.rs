//! Path secrets: the unguessable part of each workspace's live-service URL.
//!
//! A new one is made every time the service binds, and never stored: a URL that outlived its
//! service (a `-live` profile left while Lakepass was stopped) is worthless to whoever binds the
//! port next, because the next Lakepass start makes new URLs (docs/security.md, "squatting").

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore as _;

use lakepass_config::Workspace;
use lakepass_wire::secret::Secret;

/// A new path secret: 32 random bytes from the OS, base64url without padding (43 characters).
pub fn new_path_secret() -> Secret {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let s = Secret::new(URL_SAFE_NO_PAD.encode(bytes));
    bytes.fill(0);
    s
}

/// A new path secret for every workspace: made each time the service binds, never stored.
pub fn new_path_secrets(workspaces: &[Workspace]) -> Vec<(String, Secret)> {
    workspaces.iter().map(|w| (w.name.clone(), new_path_secret())).collect()
}

#[cfg(test)]
pub(super) fn is_path_secret(s: &Secret) -> bool {
    s.secret().len() >= 43 && s.secret().bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The URL an SDK is given for `workspace`: `http://127.0.0.1:<port>/<workspace>/<secret>`.
/// A [`Secret`], because whoever holds it gets tokens.
pub fn service_url(port: u16, workspace: &str, path_secret: &Secret) -> Secret {
    Secret::new(format!("http://127.0.0.1:{port}/{workspace}/{}", path_secret.secret()))
}

pub use lakepass_wire::secret::constant_time_eq;
