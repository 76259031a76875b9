//! What Lakepass keeps secret, and under which vault key: the one place that knows the keys.
//!
//! - `idp:<name>@<digest>`: an IdP session (id_token, access and refresh tokens), filed under the
//!   IdP's name and a digest of the issuer and client id it was issued by and to
//!   ([`SessionOwner`]), and stored with its [`SessionBinding`]. A refresh token is only ever
//!   sent where it came from: a config that names another issuer for the same IdP name finds no
//!   session (it never reads one made for another issuer), two configs sharing a data folder or
//!   a keyring never overwrite each other's session (two that name the same issuer and client
//!   under one name share it, as one IdP session should), and a session whose binding disagrees with
//!   the config or whose IdP's token endpoint moved is dropped unused. `idp:<name>` is the key an
//!   older version used, with no binding: such a session is dropped, never bound blindly;
//! - `ws:<host>[|<client_id>]`: a workspace token, keyed by the workspace that minted it and
//!   re-checked against that host when read;
//! - `ws:<host>[|<client_id>]#<scope>`: a least-privilege token carrying only one managed MCP
//!   server's scope ([`McpScope`]); kept apart from the workspace's own token and from every
//!   other scope's, and re-checked against the host and the scope when read;
//! - `m2m:<host>|<client_id>`: a service principal's client secret;
//! - `live:ws:<host>[|<client_id>]`: a path secret an older version kept (now never stored;
//!   removed with its workspace).
//!
//! The non-secret status lives elsewhere ([`crate::status`], written by a sink).

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::mcp::McpScope;
use lakepass_config::{IdpConfig, Workspace};
use lakepass_store::vault::{Vault, VaultError};
use lakepass_wire::exchange::WorkspaceToken;
use lakepass_wire::idp::IdpSession;
use lakepass_wire::secret::Secret;

/// Secrets and state for one Lakepass installation.
#[derive(Debug, Clone)]
pub struct Store {
    vault: Vault,
}

/// A stored value that no longer parses (an older format, a hand edit).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The vault failed.
    #[error(transparent)]
    Vault(#[from] VaultError),
}

impl Store {
    /// Wraps an opened vault.
    pub fn new(vault: Vault) -> Self {
        Store { vault }
    }

    /// The vault underneath (for `status`: where secrets live).
    pub fn vault(&self) -> &Vault {
        &self.vault
    }

    /// The vault key an older version kept an IdP session under, with no binding.
    pub(crate) fn legacy_idp_key(idp: &str) -> String {
        format!("idp:{idp}")
    }

    /// The IdP session of `owner`: found, or why there is none. A session stored by an older
    /// version (no binding) or bound to another issuer or client is deleted unread.
    pub async fn idp_session(&self, owner: &SessionOwner) -> Result<SessionLookup, StoreError> {
        let Some(raw) = self.vault.get(&owner.key()).await? else {
            let legacy = Self::legacy_idp_key(&owner.name);
            if self.vault.get(&legacy).await?.is_none() {
                return Ok(SessionLookup::Missing(NoSession::NeverSignedIn));
            }
            self.vault.delete(&legacy).await?;
            tracing::warn!(
                idp = owner.name,
                "dropped an IdP session stored without its issuer; sign in again"
            );
            return Ok(SessionLookup::Missing(NoSession::Unbound));
        };
        let stored = match serde_json::from_str::<BoundSession>(raw.secret()) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(idp = owner.name, error = %e, "stored IdP session unreadable; sign in again");
                return Ok(SessionLookup::Missing(NoSession::Unreadable));
            }
        };
        if !owner.owns(&stored.binding) {
            self.vault.delete(&owner.key()).await?;
            return Ok(SessionLookup::Missing(NoSession::OtherIssuer {
                stored_issuer: stored.binding.issuer,
                stored_client_id: stored.binding.client_id,
            }));
        }
        Ok(SessionLookup::Found(Box::new(stored)))
    }

    /// Saves an IdP session with what it is bound to, under its owner's key.
    pub async fn save_idp_session(&self, s: &BoundSession) -> Result<(), StoreError> {
        let json = Secret::new(serde_json::to_string(s).expect("session serializes"));
        Ok(self.vault.set(&s.binding.owner_key(), &json).await?)
    }

    /// Forgets the IdP session of `owner` (and one an older version kept under its name);
    /// returns the keys that were there.
    pub async fn forget_idp(&self, owner: &SessionOwner) -> Result<Vec<String>, StoreError> {
        let mut removed = Vec::new();
        for key in [owner.key(), Self::legacy_idp_key(&owner.name)] {
            if self.vault.get(&key).await?.is_some() {
                self.vault.delete(&key).await?;
                removed.push(key);
            }
        }
        Ok(removed)
    }

    /// Forgets the sessions of the IdPs of `before` that `after` removed or rebound to another
    /// issuer or client: what replacing or removing an IdP (`setup --replace`, `idp remove`,
    /// the dashboard) must do, so no session outlives the IdP it was made for. Returns the names
    /// whose session was removed.
    pub async fn forget_replaced_idps(
        &self,
        before: &lakepass_config::Config,
        after: &lakepass_config::Config,
    ) -> Result<Vec<String>, StoreError> {
        let mut removed = Vec::new();
        for (name, old) in &before.idp {
            let kept = after
                .idp
                .get(name)
                .is_some_and(|new| new.issuer == old.issuer && new.client_id == old.client_id);
            if !kept && !self.forget_idp(&SessionOwner::new(name, old)).await?.is_empty() {
                removed.push(name.clone());
            }
        }
        Ok(removed)
    }

    /// The vault key of a workspace's token: its host, and the service principal if any.
    pub(crate) fn workspace_key(ws: &Workspace) -> String {
        match &ws.client_id {
            Some(id) => format!("ws:{}|{id}", ws.host),
            None => format!("ws:{}", ws.host),
        }
    }

    /// The workspace's token, if any, and only if it was minted by that workspace's host.
    pub async fn workspace_token(&self, ws: &Workspace) -> Result<Option<WorkspaceToken>, StoreError> {
        let Some(raw) = self.vault.get(&Self::workspace_key(ws)).await? else {
            return Ok(None);
        };
        let token: Option<WorkspaceToken> = serde_json::from_str(raw.secret()).ok();
        Ok(token.filter(|t| t.host == ws.host))
    }

    /// Saves a workspace token.
    pub async fn save_workspace_token(&self, ws: &Workspace, t: &WorkspaceToken) -> Result<(), StoreError> {
        debug_assert_eq!(t.host, ws.host);
        let json = Secret::new(serde_json::to_string(t).expect("token serializes"));
        Ok(self.vault.set(&Self::workspace_key(ws), &json).await?)
    }

    /// Forgets a workspace token.
    pub(crate) async fn delete_workspace_token(&self, ws: &Workspace) -> Result<(), StoreError> {
        Ok(self.vault.delete(&Self::workspace_key(ws)).await?)
    }

    /// The vault key of `ws`'s token for one MCP scope: the workspace key, `#`, the scope.
    pub(crate) fn scoped_key(ws: &Workspace, scope: McpScope) -> String {
        format!("{}#{scope}", Self::workspace_key(ws))
    }

    /// `ws`'s token for `scope`, if any, and only if that host minted it for that scope alone.
    pub async fn scoped_token(
        &self,
        ws: &Workspace,
        scope: McpScope,
    ) -> Result<Option<WorkspaceToken>, StoreError> {
        let Some(raw) = self.vault.get(&Self::scoped_key(ws, scope)).await? else {
            return Ok(None);
        };
        let token: Option<WorkspaceToken> = serde_json::from_str(raw.secret()).ok();
        Ok(token.filter(|t| {
            t.host == ws.host && crate::mcp::scope_answer(t, scope) == crate::mcp::ScopeAnswer::AsAsked
        }))
    }

    /// The fallback remembered for `ws` and `scope`, if its vault entry holds one rather than a
    /// token: the workspace would not give that scope a token of its own.
    pub async fn scoped_fallback(
        &self,
        ws: &Workspace,
        scope: McpScope,
    ) -> Result<Option<crate::mcp::McpFallback>, StoreError> {
        let Some(raw) = self.vault.get(&Self::scoped_key(ws, scope)).await? else {
            return Ok(None);
        };
        Ok(serde_json::from_str::<FallbackEntry>(raw.secret()).ok().map(|e| e.fallback))
    }

    /// Remembers in `ws`'s entry for `scope` that the scope falls back to the workspace token
    /// (replacing any token held there). A sign-in deletes it with the scoped tokens.
    pub(crate) async fn save_scoped_fallback(
        &self,
        ws: &Workspace,
        scope: McpScope,
        fallback: &crate::mcp::McpFallback,
    ) -> Result<(), StoreError> {
        let entry = FallbackEntry { fallback: fallback.clone() };
        let json = Secret::new(serde_json::to_string(&entry).expect("fallback serializes"));
        Ok(self.vault.set(&Self::scoped_key(ws, scope), &json).await?)
    }

    /// Saves `ws`'s token for `scope`.
    pub(crate) async fn save_scoped_token(
        &self,
        ws: &Workspace,
        scope: McpScope,
        t: &WorkspaceToken,
    ) -> Result<(), StoreError> {
        debug_assert_eq!(t.host, ws.host);
        let json = Secret::new(serde_json::to_string(t).expect("token serializes"));
        Ok(self.vault.set(&Self::scoped_key(ws, scope), &json).await?)
    }

    /// Forgets `ws`'s token for `scope`.
    pub(crate) async fn delete_scoped_token(
        &self,
        ws: &Workspace,
        scope: McpScope,
    ) -> Result<(), StoreError> {
        Ok(self.vault.delete(&Self::scoped_key(ws, scope)).await?)
    }

    /// The vault key of an M2M workspace's client secret: `m2m:<host>|<client_id>`.
    pub(crate) fn m2m_secret_key(ws: &Workspace) -> String {
        format!("m2m:{}|{}", ws.host, ws.client_id.as_deref().unwrap_or(""))
    }

    /// The M2M client secret of `ws`, if one was stored.
    pub async fn m2m_secret(&self, ws: &Workspace) -> Result<Option<Secret>, StoreError> {
        Ok(self.vault.get(&Self::m2m_secret_key(ws)).await?)
    }

    /// Stores the M2M client secret of `ws` (and nowhere else).
    pub(crate) async fn save_m2m_secret(&self, ws: &Workspace, secret: &Secret) -> Result<(), StoreError> {
        Ok(self.vault.set(&Self::m2m_secret_key(ws), secret).await?)
    }

    /// Forgets the M2M client secret of `ws`.
    pub async fn delete_m2m_secret(&self, ws: &Workspace) -> Result<(), StoreError> {
        Ok(self.vault.delete(&Self::m2m_secret_key(ws)).await?)
    }

    /// The vault key under which earlier builds of Lakepass kept a workspace's live-service
    /// path secret. Path secrets are now made anew on every bind and never stored; the key is
    /// known only so that removing a workspace also removes what an older version left.
    pub(crate) fn legacy_path_secret_key(ws: &Workspace) -> String {
        format!("live:{}", Self::workspace_key(ws))
    }

    /// Forgets every secret Lakepass keeps for `ws` (its token, its MCP-scoped tokens, M2M
    /// secret and live-service path secret) that none of `remaining` shares (two workspaces on one host and client id
    /// share keys). Returns the keys that were there and are now gone.
    pub async fn forget_workspace(
        &self,
        ws: &Workspace,
        remaining: &[Workspace],
    ) -> Result<Vec<String>, StoreError> {
        let keys = |w: &Workspace| {
            let own = [Self::workspace_key(w), Self::m2m_secret_key(w), Self::legacy_path_secret_key(w)];
            own.into_iter().chain(McpScope::ALL.map(|s| Self::scoped_key(w, s))).collect::<Vec<_>>()
        };
        let shared: Vec<String> = remaining.iter().filter(|w| w.name != ws.name).flat_map(keys).collect();
        let mut removed = Vec::new();
        for key in keys(ws) {
            if shared.contains(&key) || self.vault.get(&key).await?.is_none() {
                continue;
            }
            self.vault.delete(&key).await?;
            removed.push(key);
        }
        Ok(removed)
    }
}

/// The IdP a session is looked up for: the config's name for it, and the issuer and client id
/// the config names now. The vault key is derived from all three.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionOwner {
    /// The `[idp.<name>]` name.
    pub name: String,
    /// The issuer, exactly as configured.
    pub issuer: String,
    /// The OAuth client id, as configured.
    pub client_id: String,
}

impl SessionOwner {
    /// The owner of `[idp.<name>]` as `idp` configures it.
    pub fn new(name: &str, idp: &IdpConfig) -> Self {
        SessionOwner { name: name.into(), issuer: idp.issuer.clone(), client_id: idp.client_id.clone() }
    }

    /// `idp:<name>@<digest of issuer and client id>`: no two issuers or clients share a key,
    /// whichever config (or data folder, on one keyring) they come from.
    pub(crate) fn key(&self) -> String {
        session_key(&self.name, &self.issuer, &self.client_id)
    }

    /// Whether a session bound to `b` may be used (and refreshed) for this owner.
    fn owns(&self, b: &SessionBinding) -> bool {
        b.idp == self.name && b.issuer == self.issuer && b.client_id == self.client_id
    }

    /// The binding of a session signed in now, whose tokens came from `token_endpoint`.
    pub fn bind(&self, token_endpoint: &str) -> SessionBinding {
        SessionBinding {
            idp: self.name.clone(),
            issuer: self.issuer.clone(),
            client_id: self.client_id.clone(),
            refresh_origin: origin(token_endpoint),
        }
    }
}

fn session_key(name: &str, issuer: &str, client_id: &str) -> String {
    // Length-prefixed, so no issuer/client split can be read two ways.
    let mut h = Sha256::new();
    for part in [issuer, client_id] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part.as_bytes());
    }
    let digest: String = h.finalize()[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("idp:{name}@{digest}")
}

/// What a stored session was issued by and for: the only place its refresh token may go.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionBinding {
    /// The `[idp.<name>]` name it was signed in under.
    pub idp: String,
    /// The issuer it was signed in to.
    pub issuer: String,
    /// The OAuth client id it was issued to.
    pub client_id: String,
    /// The origin (`scheme://host:port`) of the token endpoint that issued it: a refresh goes
    /// only to a token endpoint of the same origin.
    pub refresh_origin: String,
}

impl SessionBinding {
    fn owner_key(&self) -> String {
        session_key(&self.idp, &self.issuer, &self.client_id)
    }

    /// Whether `token_endpoint` (from the issuer's discovery now) may receive this session's
    /// refresh token.
    pub fn allows_token_endpoint(&self, token_endpoint: &str) -> bool {
        origin(token_endpoint) == self.refresh_origin
    }
}

/// `scheme://host[:port]` of `url`; an unparsable URL is its own text (and then matches nothing
/// else).
fn origin(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(u) => u.origin().ascii_serialization(),
        Err(_) => url.to_string(),
    }
}

/// An IdP session as the vault keeps it: the tokens and what they are bound to.
#[derive(Clone, Serialize, Deserialize)]
pub struct BoundSession {
    /// Where the session came from.
    pub binding: SessionBinding,
    /// The tokens.
    pub session: IdpSession,
}

impl std::fmt::Debug for BoundSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BoundSession")
            .field("binding", &self.binding)
            .field("session", &self.session)
            .finish()
    }
}

/// What looking up an IdP session found.
#[derive(Debug)]
pub enum SessionLookup {
    /// A session bound to the configured issuer and client.
    Found(Box<BoundSession>),
    /// None usable, and why.
    Missing(NoSession),
}

impl SessionLookup {
    /// The session, if one was found.
    pub fn found(self) -> Option<BoundSession> {
        match self {
            SessionLookup::Found(s) => Some(*s),
            SessionLookup::Missing(_) => None,
        }
    }
}

/// Why no usable IdP session was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoSession {
    /// Never signed in with this issuer and client (or signed out).
    NeverSignedIn,
    /// An older version stored a session with no record of its issuer: it was dropped unused.
    Unbound,
    /// The stored session no longer parses.
    Unreadable,
    /// The stored session was made for another issuer or client: it was dropped unused.
    OtherIssuer {
        /// Its issuer.
        stored_issuer: String,
        /// Its client id.
        stored_client_id: String,
    },
}

impl NoSession {
    /// Why, in words, for "sign in again"; `None` for a plain "not signed in".
    pub fn reason(&self) -> Option<String> {
        match self {
            NoSession::NeverSignedIn => None,
            NoSession::Unbound => Some(
                "the stored session was saved by an older Lakepass without its issuer, so it was \
                 dropped unused"
                    .into(),
            ),
            NoSession::Unreadable => Some("the stored session could not be read".into()),
            NoSession::OtherIssuer { stored_issuer, stored_client_id } => Some(format!(
                "the stored session was made for issuer {stored_issuer} and client {stored_client_id}, \
                 not the ones configured now, so it was dropped unused"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owner(issuer: &str, client_id: &str) -> SessionOwner {
        SessionOwner { name: "corp".into(), issuer: issuer.into(), client_id: client_id.into() }
    }

    #[test]
    fn each_issuer_and_client_has_its_own_key_and_none_is_the_old_one() {
        let keys = [
            owner("https://a", "b|c").key(),
            owner("https://a|b", "c").key(),
            owner("https://a/", "b|c").key(),
            owner("https://a", "B|c").key(),
        ];
        for (i, k) in keys.iter().enumerate() {
            assert!(k.starts_with("idp:corp@") && k.len() == "idp:corp@".len() + 32, "{k}");
            assert_ne!(k, &Store::legacy_idp_key("corp"));
            assert!(keys[i + 1..].iter().all(|o| o != k), "{keys:?}");
        }
        assert_eq!(owner("https://a", "b|c").key(), keys[0], "stable");
    }

    #[test]
    fn a_refresh_goes_only_to_the_token_endpoint_origin_it_came_from() {
        let b = owner("https://idp.example/t", "c").bind("https://idp.example/oauth2/token");
        assert_eq!(b.refresh_origin, "https://idp.example");
        assert!(b.allows_token_endpoint("https://idp.example/other/token"));
        for elsewhere in [
            "https://idp.example.evil/oauth2/token",
            "http://idp.example/oauth2/token",
            "https://idp.example:8443/oauth2/token",
            "https://evil@idp.example.attacker.test/token",
        ] {
            assert!(!b.allows_token_endpoint(elsewhere), "{elsewhere}");
        }
    }
}

/// What a scoped vault entry holds instead of a token when its scope falls back.
#[derive(serde::Serialize, serde::Deserialize)]
struct FallbackEntry {
    fallback: crate::mcp::McpFallback,
}
