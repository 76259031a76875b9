//! The IdP side: interactive sign-in, forgetting a session, and the IdP session every token's
//! exchange starts from (refreshed under a per-IdP lock, one refresh serving every workspace).
//!
//! The token path ([`super::refresh`], [`super::sign_in`]) calls into this module for a subject
//! token or a session; nothing here touches tokens or their runtime state.

use std::collections::HashMap;
use std::time::Duration;

use url::Url;

use super::error::LoginCause;
use super::{Engine, EngineError, LOCK_TIMEOUT};
use crate::audit::{AuditEvent, EventKind};
use crate::error::ErrorKind;
use crate::store::{BoundSession, SessionLookup, SessionOwner};
use lakepass_config::{SubjectTokenKind, Workspace};
use lakepass_store::lock;
use lakepass_wire::clock::UnixTime;
use lakepass_wire::idp::{self, Discovery, Grant, IdpError, IdpSession, KeyCache, Loopback, SignInRequest};
use lakepass_wire::secret::Secret;

/// What the engine keeps per IdP besides the session itself (which lives in the vault).
pub(super) struct Idps {
    /// Discovery documents, fetched once.
    discovery: std::sync::Mutex<HashMap<String, Discovery>>,
    /// The kept signing keys.
    keys: HashMap<String, KeyCache>,
    /// This engine's session locks: its tasks queue here, not on the file lock.
    locks: HashMap<String, tokio::sync::Mutex<()>>,
}

impl Idps {
    pub(super) fn new(config: &lakepass_config::Config) -> Self {
        Idps {
            discovery: Default::default(),
            keys: config.idp.keys().map(|k| (k.clone(), KeyCache::default())).collect(),
            locks: config.idp.keys().map(|k| (k.clone(), Default::default())).collect(),
        }
    }
}

impl Engine {
    /// Interactive sign-in to one IdP: discovery, loopback listener, browser (via `on_url`),
    /// code redemption, id_token validation; the session is saved under the IdP's locks. The
    /// tokens it backs are the token path's business ([`Engine::login`]).
    pub(super) async fn sign_in(
        &self,
        idp_name: &str,
        on_url: impl FnOnce(&Url),
        timeout: Duration,
    ) -> Result<IdpSession, EngineError> {
        let idp_section = self.0.config.idp(idp_name)?;
        let (idp_cfg, redirect_port) = (idp_section.client(), idp_section.redirect_port);
        let d = self.discovery(idp_name).await?;
        let lb = Loopback::bind(redirect_port).await?;
        let req = SignInRequest::new(&d, &idp_cfg, &lb.redirect_uri)?;
        on_url(&lb.start_url());
        let callback = lb.wait(&req, &d.issuer, timeout).await?;
        let redeemed = async {
            let form = idp::code_request(&d, &idp_cfg, &req, &callback.code);
            let session = idp::redeem(
                &self.0.http,
                &d,
                &idp_cfg,
                form,
                Grant::code(&req.nonce),
                self.now(),
                self.keys(idp_name)?,
            )
            .await?;
            let _g = self.idp_lock(idp_name).await?;
            let binding = self.session_owner(idp_name)?.bind(&d.token_endpoint);
            self.0.store.save_idp_session(&BoundSession { binding, session: session.clone() }).await?;
            Ok::<_, EngineError>(session)
        }
        .await;
        // The browser's page says who is signed in (from the verified id_token), so a user who
        // finds another identity there knows at once.
        match &redeemed {
            Ok(session) => {
                let who = session.who();
                callback
                    .signed_in(&format!("Signed in to {idp_name} as {who}. You can close this tab."))
                    .await
            }
            Err(e) => callback.failed(&format!("Lakepass sign-in failed: {e}")).await,
        }
        let session = redeemed?;
        tracing::info!(idp = idp_name, subject = %session.subject, "signed in");
        Ok(session)
    }

    /// Forgets an IdP's session (the vault entry); the tokens it backed are the token path's
    /// business ([`Engine::logout`]).
    pub(super) async fn end_session(&self, idp_name: &str) -> Result<(), EngineError> {
        self.0.store.forget_idp(&self.session_owner(idp_name)?).await?;
        Ok(())
    }

    /// Who a session of `idp_name` must have been issued by and to, as the config says now.
    pub fn session_owner(&self, idp_name: &str) -> Result<SessionOwner, EngineError> {
        Ok(SessionOwner::new(idp_name, self.0.config.idp(idp_name)?))
    }

    /// The stored session of `idp_name`, as it is (not refreshed); `None` when there is none
    /// usable for the configured issuer and client (one made for another is dropped unused).
    pub async fn stored_session(&self, idp_name: &str) -> Result<Option<IdpSession>, EngineError> {
        let owner = self.session_owner(idp_name)?;
        Ok(self.0.store.idp_session(&owner).await?.found().map(|b| b.session))
    }

    /// At load: `Ok` when a usable session of `idp_name` is stored, else why not (`None` for a
    /// plain "never signed in", the sign-in needed and its reason when one was dropped).
    pub(super) async fn session_on_load(
        &self,
        idp_name: &str,
    ) -> Result<Result<(), Option<EngineError>>, EngineError> {
        Ok(match self.bound_session(idp_name).await {
            Ok(_) => Ok(()),
            Err(e @ EngineError::NeedsLogin { reason: Some(_), .. }) => Err(Some(e)),
            Err(EngineError::NeedsLogin { .. }) => Err(None),
            Err(e) => return Err(e),
        })
    }

    /// The stored session of `idp_name` with its binding, or the sign-in it needs and why.
    async fn bound_session(&self, idp_name: &str) -> Result<BoundSession, EngineError> {
        match self.0.store.idp_session(&self.session_owner(idp_name)?).await? {
            SessionLookup::Found(b) => Ok(*b),
            SessionLookup::Missing(why) => {
                Err(EngineError::needs_login(idp_name, LoginCause::NotSignedIn, why.reason()))
            }
        }
    }

    /// The IdP JWT to exchange for `ws`, refreshing the IdP session first when that JWT is stale.
    pub(super) async fn subject_token(&self, ws: &Workspace) -> Result<Secret, EngineError> {
        let session = self.idp_session_for(&ws.idp, ws.token).await?;
        pick_subject(&session, ws)
    }

    /// The IdP session, refreshed if its id_token is stale. One refresh serves every workspace.
    pub async fn idp_session(&self, idp_name: &str) -> Result<IdpSession, EngineError> {
        self.idp_session_for(idp_name, SubjectTokenKind::IdToken).await
    }

    /// The IdP session, refreshed if the token of `kind` is stale.
    ///
    /// An IdP may answer a refresh without an id_token (OIDC Core §12.2). Then a workspace that
    /// exchanges the access token goes on, and one that exchanges the id_token needs a new
    /// sign-in, told why; the session is not refreshed again for it, which would only ask the
    /// IdP the same question.
    pub async fn idp_session_for(
        &self,
        idp_name: &str,
        kind: SubjectTokenKind,
    ) -> Result<IdpSession, EngineError> {
        let target = self.target_lifetime();
        let session = self.bound_session(idp_name).await?.session;
        if !stale_for(&session, kind, self.now(), target) {
            return Ok(session);
        }
        if kind == SubjectTokenKind::IdToken && session.kept_id_token_received_at.is_some() {
            return Err(id_token_not_renewed(idp_name));
        }
        // In-process waiters first, then other processes: a task that waited here while another
        // task of this engine refreshed finds the new session without taking the file lock, so
        // a pass over many workspaces does not queue each of them through it.
        let m = self.idp_mutex(idp_name)?;
        let _in_process = m.lock().await;
        let session = self.bound_session(idp_name).await?.session;
        if !stale_for(&session, kind, self.now(), target) {
            return Ok(session); // another task refreshed it while we waited
        }
        let _file = self.idp_file_lock(idp_name).await?;
        let BoundSession { binding, session } = self.bound_session(idp_name).await?;
        let now = self.now();
        if !stale_for(&session, kind, now, target) {
            return Ok(session); // another process refreshed it while we waited
        }
        if kind == SubjectTokenKind::IdToken && session.kept_id_token_received_at.is_some() {
            return Err(id_token_not_renewed(idp_name));
        }
        if session.refresh_token.is_none() {
            return Err(EngineError::needs_login(
                idp_name,
                LoginCause::NoRefreshToken,
                Some("the IdP issued no refresh token; add `offline_access` to its scopes".into()),
            ));
        }
        let idp_cfg = self.0.config.idp(idp_name)?.client();
        let d = self.discovery(idp_name).await?;
        if !binding.allows_token_endpoint(&d.token_endpoint) {
            // The refresh token goes only where it came from.
            self.0.store.forget_idp(&self.session_owner(idp_name)?).await?;
            return Err(EngineError::needs_login(
                idp_name,
                LoginCause::NotSignedIn,
                Some(format!(
                    "the IdP's token endpoint is now on {}, not on {} where the session was issued, \
                     so the session was dropped unused",
                    url::Url::parse(&d.token_endpoint)
                        .map(|u| u.origin().ascii_serialization())
                        .unwrap_or_else(|_| d.token_endpoint.clone()),
                    binding.refresh_origin
                )),
            ));
        }
        let rt = session.refresh_token.as_ref().expect("checked above");
        let form = idp::refresh_request(&d, &idp_cfg, rt);
        let started = std::time::Instant::now();
        let keys = self.keys(idp_name)?;
        let refreshed =
            idp::redeem(&self.0.http, &d, &idp_cfg, form, Grant::refresh(&session), now, keys).await;
        match &refreshed {
            Err(e) => {
                let kind = if refresh_needs_login(e) { ErrorKind::SessionEnded } else { ErrorKind::Idp };
                let code = match e {
                    IdpError::Grant { error, .. } => Some(error.error.as_str()),
                    _ => None,
                };
                let event = AuditEvent::failure(
                    EventKind::Refresh,
                    self.now(),
                    started.elapsed(),
                    kind,
                    &e.to_string(),
                );
                self.record_audit(event.idp(idp_name).error_code(code)).await;
            }
            Ok(_) => self.audit(EventKind::Refresh, None, Some(idp_name), started, None).await,
        }
        if let Err(IdpError::KeysUnavailable { rotated_refresh_token: Some(rotated), .. }) = &refreshed {
            // The old refresh token is spent: keep the rotated one, or the next refresh burns
            // the family. The stale id_token stays; the next refresh replaces it.
            let kept = IdpSession { refresh_token: Some(rotated.clone()), ..session.clone() };
            self.0.store.save_idp_session(&BoundSession { binding: binding.clone(), session: kept }).await?;
            tracing::warn!(idp = idp_name, "kept the rotated refresh token; the IdP's keys were unreachable");
        }
        match refreshed {
            Ok(new) => {
                self.0.store.save_idp_session(&BoundSession { binding, session: new.clone() }).await?;
                tracing::info!(
                    idp = idp_name,
                    id_token_kept = new.kept_id_token_received_at.is_some(),
                    "IdP session refreshed"
                );
                if kind == SubjectTokenKind::IdToken && stale_for(&new, kind, now, target) {
                    return Err(id_token_not_renewed(idp_name));
                }
                Ok(new)
            }
            Err(e) if refresh_needs_login(&e) => Err(EngineError::needs_login(
                idp_name,
                LoginCause::SessionEnded,
                Some(format!("the refresh token was refused: {e}")),
            )),
            Err(e) => Err(e.into()),
        }
    }

    pub(super) async fn idp_lock(
        &self,
        idp_name: &str,
    ) -> Result<(tokio::sync::MutexGuard<'_, ()>, lock::FileLock), EngineError> {
        let g = self.idp_mutex(idp_name)?.lock().await;
        let f = self.idp_file_lock(idp_name).await?;
        Ok((g, f))
    }

    /// This engine's lock of an IdP session (its tasks queue here, not on the file lock).
    fn idp_mutex(&self, idp_name: &str) -> Result<&tokio::sync::Mutex<()>, EngineError> {
        self.0.idps.locks.get(idp_name).ok_or_else(|| {
            EngineError::needs_login(
                idp_name,
                LoginCause::NotSignedIn,
                Some("no such IdP in the config".into()),
            )
        })
    }

    /// The cross-process lock of an IdP session; take [`Engine::idp_mutex`] first.
    async fn idp_file_lock(&self, idp_name: &str) -> Result<lock::FileLock, EngineError> {
        Ok(lock::acquire_async(self.0.paths.lock_file(&format!("idp-{idp_name}")), LOCK_TIMEOUT).await?)
    }

    /// The kept signing keys of an IdP.
    fn keys(&self, idp_name: &str) -> Result<&KeyCache, EngineError> {
        self.0.config.idp(idp_name)?;
        Ok(&self.0.idps.keys[idp_name])
    }

    async fn discovery(&self, idp_name: &str) -> Result<Discovery, EngineError> {
        if let Some(d) = self.0.idps.discovery.lock().expect("discovery cache").get(idp_name) {
            return Ok(d.clone());
        }
        let issuer = &self.0.config.idp(idp_name)?.issuer;
        let d = idp::discover(&self.0.http, issuer).await?;
        self.0.idps.discovery.lock().expect("discovery cache").insert(idp_name.into(), d.clone());
        Ok(d)
    }

    /// A sign-in in another process (or the tray) clears NeedsLogin here without a restart:
    /// look for an IdP session newer than the moment we learned a sign-in was needed.
    pub(super) async fn signed_in_since(&self, ws: &Workspace, since: UnixTime) -> bool {
        if crate::roles::is_m2m(ws) {
            return matches!(crate::roles::m2m_secret(&self.0.store, ws).await, Ok(Some(_)));
        }
        // A refresh that kept an old id_token is no sign-in for a workspace exchanging it.
        let renews = |s: &IdpSession| {
            ws.token == SubjectTokenKind::AccessToken || s.kept_id_token_received_at.is_none()
        };
        matches!(self.stored_session(&ws.idp).await, Ok(Some(s)) if s.refreshed_at >= since && renews(&s))
    }
}

/// Whether the session's token of `kind` has too little life left at `now`. The access token's
/// expiry is its own when known; an IdP that gave none leaves the id_token's. A kept id_token
/// ages from when it was received, not from the refresh that kept it.
fn stale_for(s: &IdpSession, kind: SubjectTokenKind, now: UnixTime, target: i64) -> bool {
    match kind {
        SubjectTokenKind::IdToken => {
            let received = s.kept_id_token_received_at.unwrap_or(s.refreshed_at);
            super::timing::stale(s.id_token_exp, received, now, target)
        }
        SubjectTokenKind::AccessToken => {
            super::timing::stale(s.access_token_exp.unwrap_or(s.id_token_exp), s.refreshed_at, now, target)
        }
    }
}

fn id_token_not_renewed(idp_name: &str) -> EngineError {
    EngineError::needs_login(
        idp_name,
        LoginCause::IdTokenNotRenewed,
        Some(
            "the IdP refreshed the session without a new id_token, which this workspace exchanges; \
             sign in again, or set `token = \"access_token\"` on the workspace if the IdP's access \
             token is a JWT its federation policy accepts"
                .into(),
        ),
    )
}

/// Whether a refused refresh can only be mended by signing in again: the refresh token is
/// spent (`invalid_grant`), or the configured scopes, which the refresh names, are wider than
/// what the session was granted (`invalid_scope`: the config gained a scope since sign-in).
fn refresh_needs_login(e: &IdpError) -> bool {
    e.needs_login()
        || matches!(e, IdpError::Grant { error, .. } if error.error == lakepass_wire::http::OAuthErrorCode::InvalidScope)
}

fn pick_subject(s: &IdpSession, ws: &Workspace) -> Result<Secret, EngineError> {
    match ws.token {
        SubjectTokenKind::IdToken => Ok(s.id_token.clone()),
        SubjectTokenKind::AccessToken => s.access_token.clone().ok_or_else(|| {
            EngineError::needs_login(
                &ws.idp,
                LoginCause::MissingSubjectToken,
                Some(format!("workspace `{}` exchanges the access_token, but the IdP issued none", ws.name)),
            )
        }),
    }
}
