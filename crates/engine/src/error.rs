//! The one vocabulary of failure every front end shares.
//!
//! An error crosses three boundaries: the CLI turns it into an exit code, the engine socket
//! sends it to another process, and the tray shows it with a hint and picks an action. Each
//! used to keep its own table of strings. [`ErrorKind`] is that table, once: a closed set of
//! stable, `snake_case` names (they are wire format: the IPC reply, `status --json`, the tray's
//! IPC errors, the audit log), each with its exit code and a one-sentence hint. Front ends match
//! on the enum, never on a message.
//!
//! [`Failure`] is what is shown later: a kind plus the message of the error that caused it.

use std::fmt;

use serde::{Deserialize, Serialize};

/// What kind of failure, for exit codes, hints and the UI's actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The config file is missing, broken or names something that is not there.
    Config,
    /// A value a person typed (a form field, an argument) is not acceptable.
    Invalid,
    /// A request on a local channel was malformed.
    BadRequest,
    /// The asked-for workspace is not in the config (or not at that host).
    UnknownWorkspace,
    /// Never signed in, or the session is gone: a sign-in is needed.
    NeedsLogin,
    /// The identity provider ended the session (a refresh token refused: `invalid_grant`).
    SessionEnded,
    /// The IdP issued no refresh token, so the session cannot be renewed unattended.
    NoRefreshToken,
    /// A service principal's client secret is not in the vault.
    NeedsSecret,
    /// The IdP or the workspace could not be reached, or kept failing (5xx, 429).
    Network,
    /// A server's TLS certificate comes from a CA this computer does not trust (most often a
    /// company's TLS-inspecting proxy): no retry helps, a `ca_file` does.
    UntrustedCertificate,
    /// The identity provider answered, but not as the protocol says (bad id_token, issuer…).
    Idp,
    /// The workspace refused the token exchange: most often a federation-policy mismatch.
    FederationRejected,
    /// No service principal is mapped for the user's role claim.
    NoMappedRole,
    /// The secret store (OS keyring or file) failed.
    Vault,
    /// Another Lakepass process held a lock too long.
    Lock,
    /// The token is good, but a file other tools read (`~/.databrickscfg`) was not updated.
    CredentialsFile,
    /// The same action is already under way.
    Busy,
    /// A terminal or Claude Code could not be started.
    Launch,
    /// Starting at login could not be switched.
    Autostart,
    /// The live token service cannot listen on its port (another program holds it).
    LiveService,
    /// Anything else.
    Unexpected,
}

impl ErrorKind {
    /// The stable name, as serialized.
    pub fn as_str(self) -> &'static str {
        use ErrorKind::*;
        match self {
            Config => "config",
            Invalid => "invalid",
            BadRequest => "bad_request",
            UnknownWorkspace => "unknown_workspace",
            NeedsLogin => "needs_login",
            SessionEnded => "session_ended",
            NoRefreshToken => "no_refresh_token",
            NeedsSecret => "needs_secret",
            Network => "network",
            UntrustedCertificate => "untrusted_certificate",
            Idp => "idp",
            FederationRejected => "federation_rejected",
            NoMappedRole => "no_mapped_role",
            Vault => "vault",
            Lock => "lock",
            CredentialsFile => "credentials_file",
            Busy => "busy",
            Launch => "launch",
            Autostart => "autostart",
            LiveService => "live_service",
            Unexpected => "unexpected",
        }
    }

    /// The CLI's exit code (the table in `lakepass --help`): 2 usage or config, 3 sign in
    /// first, 4 unreachable, 5 refused by the workspace, 1 anything else.
    pub fn exit_code(self) -> u8 {
        use ErrorKind::*;
        match self {
            Config | Invalid | BadRequest | UnknownWorkspace | CredentialsFile => 2,
            NeedsLogin | SessionEnded | NoRefreshToken | NeedsSecret => 3,
            Network | UntrustedCertificate => 4,
            FederationRejected | NoMappedRole => 5,
            Idp | Vault | Lock | Busy | Launch | Autostart | LiveService | Unexpected => 1,
        }
    }

    /// True when only a person can help: a sign-in (or a secret) is needed.
    pub fn needs_login(self) -> bool {
        self.exit_code() == 3
    }

    /// One short sentence: what this means and what to do next.
    pub fn hint(self) -> &'static str {
        use ErrorKind::*;
        match self {
            Config => "The Lakepass config has a problem; fix the field the message names.",
            Invalid => "That value is not accepted; correct it and try again.",
            BadRequest => "A local program sent Lakepass a malformed request.",
            UnknownWorkspace => "That workspace is not in the Lakepass config.",
            NeedsLogin => "Sign in to get a token for this workspace.",
            SessionEnded => {
                "Your session was ended by the identity provider (signed out elsewhere, or revoked). Sign in again."
            }
            NoRefreshToken => {
                "The identity provider gave no refresh token, so Lakepass cannot renew it on its own. Add `offline_access` to the IdP's scopes, then sign in again."
            }
            NeedsSecret => "This service principal's client secret is not stored; enter it once.",
            Network => {
                "The workspace or the identity provider could not be reached. Check your network or VPN; Lakepass keeps retrying."
            }
            UntrustedCertificate => {
                "The server's certificate comes from a CA this computer does not trust, often a company proxy that inspects TLS. Set `ca_file` to your company's CA (a PEM file), or add that CA to the system's trust store."
            }
            Idp => "The identity provider answered in a way Lakepass cannot use; see the details.",
            FederationRejected => {
                "The workspace refused the exchange: its federation policy does not match the token from your IdP (issuer, audience or subject). Run the diagnosis, or ask your Databricks admin to check the policy."
            }
            NoMappedRole => {
                "None of your roles maps to a service principal for this workspace; ask for a role, or extend the role map."
            }
            Vault => {
                "Lakepass could not read or write its secret store. Check that your keyring is unlocked, or set LAKEPASS_VAULT=file."
            }
            Lock => {
                "Another Lakepass process held a lock too long. It will retry; if it persists, quit other Lakepass processes."
            }
            CredentialsFile => {
                "The token is fine, but ~/.databrickscfg could not be updated. Check that file's permissions."
            }
            Busy => "That is already under way; wait for it to finish.",
            Launch => "The program could not be started; see the details.",
            Autostart => "Starting at login could not be changed on this system.",
            LiveService => {
                "The live token service could not take its port, so the -live profiles were removed until it can. Lakepass keeps retrying; stop whatever holds the port, or change `[serve] port`."
            }
            Unexpected => "Something unexpected failed; the details say what.",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failure as it is remembered and shown: its kind and the error's message (never a token).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Failure {
    /// What kind of failure.
    pub kind: ErrorKind,
    /// What happened and what to do, in words.
    pub message: String,
}

impl Failure {
    /// A failure of `kind`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Failure { kind, message: message.into() }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [ErrorKind; 21] = {
        use ErrorKind::*;
        [
            Config,
            Invalid,
            BadRequest,
            UnknownWorkspace,
            NeedsLogin,
            SessionEnded,
            NoRefreshToken,
            NeedsSecret,
            Network,
            UntrustedCertificate,
            Idp,
            FederationRejected,
            NoMappedRole,
            Vault,
            Lock,
            CredentialsFile,
            Busy,
            Launch,
            Autostart,
            LiveService,
            Unexpected,
        ]
    };

    #[test]
    fn names_are_the_wire_format() {
        for k in ALL {
            let json = serde_json::to_string(&k).unwrap();
            assert_eq!(json, format!("\"{}\"", k.as_str()));
            assert_eq!(serde_json::from_str::<ErrorKind>(&json).unwrap(), k);
        }
    }

    #[test]
    fn exit_codes_follow_the_help_table() {
        assert_eq!(ErrorKind::Config.exit_code(), 2);
        assert_eq!(ErrorKind::NeedsLogin.exit_code(), 3);
        assert_eq!(ErrorKind::SessionEnded.exit_code(), 3);
        assert_eq!(ErrorKind::Network.exit_code(), 4);
        assert_eq!(ErrorKind::UntrustedCertificate.exit_code(), 4);
        assert_eq!(ErrorKind::FederationRejected.exit_code(), 5);
        assert_eq!(ErrorKind::Unexpected.exit_code(), 1);
        assert!(ALL.iter().all(|k| (1..=5).contains(&k.exit_code())));
        assert!(ErrorKind::NoRefreshToken.needs_login() && !ErrorKind::Network.needs_login());
    }

    #[test]
    fn every_kind_has_a_hint_sentence() {
        for k in ALL {
            assert!(k.hint().ends_with('.'), "{k}: {}", k.hint());
        }
    }
}
