//! The sign-in steps: the IdP answers (discovery and JWKS), and there is something to sign in
//! with — a live IdP session, a JWT given on stdin, or a service principal's secret.
//!
//! They come first because every later step reads what they return: the JWKS checks the
//! signature, the subject token is what the workspace is asked to exchange.

use jsonwebtoken::jwk::JwkSet;

use super::problems::{KnownPolicy, Problem, span};
use super::report::{Run, StepId, StepStatus, Stopped};
use lakepass_config::{IdpConfig, SubjectTokenKind, Workspace};
use lakepass_engine::engine::{Engine, EngineError};
use lakepass_wire::Secret;
use lakepass_wire::idp::{self, IdpError, IdpSession};

/// The key ids of a JWKS, in its order (keys without one are left out).
pub(super) fn key_ids(jwks: &JwkSet) -> Vec<String> {
    jwks.keys.iter().filter_map(|k| k.common.key_id.clone()).collect()
}

/// Where the keys Databricks verifies with come from, for the IdP step: an admin-fetched policy
/// for this issuer may name them (`jwks_json`, `jwks_uri`) instead of discovery.
fn policy_keys<'a>(issuer: &str, policies: &'a [KnownPolicy]) -> Option<&'a KnownPolicy> {
    policies.iter().find(|p| p.policy.issuer == issuer && (p.jwks_json.is_some() || p.jwks_uri.is_some()))
}

/// True for an address only this machine or its network can reach: loopback, private or
/// link-local IPs, `localhost`, single-label and `.local`/`.internal` names.
pub(super) fn only_reachable_here(url: &str) -> bool {
    let Some(host) = url::Url::parse(url).ok().and_then(|u| u.host().map(|h| h.to_owned())) else {
        return false;
    };
    match host {
        url::Host::Ipv4(ip) => ip.is_loopback() || ip.is_private() || ip.is_link_local(),
        url::Host::Ipv6(ip) => ip.is_loopback() || (ip.segments()[0] & 0xfe00) == 0xfc00,
        url::Host::Domain(d) => {
            let d = d.to_ascii_lowercase();
            d == "localhost" || !d.contains('.') || d.ends_with(".local") || d.ends_with(".internal")
        }
    }
}

/// The IdP step: discovery names the configured issuer, and the signing keys Databricks will
/// verify with can be had — told apart: this machine cannot fetch them, or Databricks cannot
/// (keys at an address only this network reaches, for a workspace in the cloud).
pub(super) async fn idp(
    engine: &Engine,
    idp_cfg: &IdpConfig,
    policies: &[KnownPolicy],
    workspace_is_local: bool,
    run: &mut Run,
) -> Result<JwkSet, Stopped> {
    const TITLE: &str = "Identity provider";
    let d = match idp::discover(engine.http(), &idp_cfg.issuer).await {
        Ok(d) => d,
        Err(IdpError::IssuerMismatch { configured, found, .. }) => {
            let trailing_slash = configured.trim_end_matches('/') == found.trim_end_matches('/');
            return Err(run.fail(
                StepId::Idp,
                TITLE,
                Problem::DiscoveryIssuerMismatch { configured, found, trailing_slash },
            ));
        }
        Err(e) => {
            let p = Problem::or_untrusted(&e, Problem::IdpUnreachable { message: e.to_string() });
            return Err(run.fail(StepId::Idp, TITLE, p));
        }
    };
    let pinned = policy_keys(&idp_cfg.issuer, policies);
    if let Some(json) = pinned.and_then(|p| p.jwks_json.as_deref()) {
        // Databricks fetches nothing: the policy carries the keys.
        if let Ok(jwks) = serde_json::from_str::<JwkSet>(json) {
            let kids = key_ids(&jwks);
            run.step(
                StepId::Idp,
                TITLE,
                StepStatus::Ok,
                format!(
                    "discovery at {} answers with the configured issuer; the {} carries the signing keys (jwks_json, {} key(s): {}), so Databricks needs to reach nothing",
                    idp_cfg.issuer,
                    pinned.map(|p| p.source.as_str()).unwrap_or("policy"),
                    kids.len(),
                    kids.join(", ")
                ),
            );
            return Ok(jwks);
        }
    }
    let url = pinned.and_then(|p| p.jwks_uri.clone()).unwrap_or_else(|| d.jwks_uri.clone());
    let jwks: JwkSet = match engine.http().get_json(&url).await {
        Ok(k) => k,
        Err(e) => {
            let p = Problem::or_untrusted(&e, Problem::JwksUnreachable { url, message: e.to_string() });
            return Err(run.fail(StepId::Idp, TITLE, p));
        }
    };
    if !workspace_is_local && only_reachable_here(&url) {
        return Err(run.fail(StepId::Idp, TITLE, Problem::JwksNotPublic { url }));
    }
    let kids = key_ids(&jwks);
    run.step(
        StepId::Idp,
        TITLE,
        StepStatus::Ok,
        format!(
            "discovery at {} answers with the configured issuer; JWKS at {url} has {} key(s): {}",
            idp_cfg.issuer,
            kids.len(),
            kids.join(", ")
        ),
    );
    Ok(jwks)
}

/// The session step when a JWT was given: it is diagnosed as if a refresh could renew it.
pub(super) fn given(token: &Secret, run: &mut Run) -> (Secret, bool) {
    run.step(
        StepId::Session,
        "Session",
        StepStatus::Skipped,
        "diagnosing the JWT given on stdin instead of the signed-in session",
    );
    (token.clone(), true)
}

/// The session step: present, fresh or refreshed. Returns the subject token and whether the
/// session can be renewed.
pub(super) async fn session(
    engine: &Engine,
    ws: &Workspace,
    run: &mut Run,
) -> Result<(Secret, bool), Stopped> {
    const TITLE: &str = "Session";
    let stored = match engine.stored_session(&ws.idp).await {
        Ok(Some(s)) => s,
        Ok(None) => {
            return Err(run.fail(StepId::Session, TITLE, Problem::NotSignedIn { idp: ws.idp.clone() }));
        }
        Err(e) => {
            return Err(run.fail(
                StepId::Session,
                TITLE,
                Problem::RefreshFailed { idp: ws.idp.clone(), needs_login: false, message: e.to_string() },
            ));
        }
    };
    let who = stored.username.clone().unwrap_or_else(|| stored.subject.clone());
    let refreshable = stored.refresh_token.is_some();
    let pick = |s: &IdpSession| match ws.token {
        SubjectTokenKind::IdToken => Some(s.id_token.clone()),
        SubjectTokenKind::AccessToken => s.access_token.clone(),
    };
    let (session, detail, status) = match engine.idp_session_for(&ws.idp, ws.token).await {
        Ok(s) if ws.token == SubjectTokenKind::IdToken && s.kept_id_token_received_at.is_some() => {
            // Decided on the session, not on words: the IdP's last refresh kept the old id_token.
            let left = s.id_token_exp - engine.clock().now();
            let (detail, fix) =
                Problem::IdTokenNotRenewed { idp: ws.idp.clone(), audience: policy_audience(ws) }
                    .explain(&ws.name, &ws.idp);
            (
                s,
                format!("signed in as {who}; id_token valid for {}; but {detail}. {fix}", span(left)),
                StepStatus::Warning,
            )
        }
        Ok(s) if s.refreshed_at > stored.refreshed_at => {
            (s, format!("signed in as {who}; the session was stale and a refresh worked"), StepStatus::Ok)
        }
        Ok(s) => {
            let left = s.id_token_exp - engine.clock().now();
            let (note, status) = if refreshable {
                ("a refresh token is kept, so it renews itself", StepStatus::Ok)
            } else {
                (
                    "no refresh token: add `offline_access` to the IdP scopes, or you must sign in hourly",
                    StepStatus::Warning,
                )
            };
            (s, format!("signed in as {who}; id_token valid for {}; {note}", span(left)), status)
        }
        // No refresh token was stored, so that is why a sign-in is needed (decided on the
        // session, not on the error's words). Keep going with the stale token: the JWT step
        // names the expiry exactly.
        Err(EngineError::NeedsLogin { .. }) if !refreshable => (
            stored.clone(),
            format!("signed in as {who}, but the session is stale and the IdP gave no refresh token"),
            StepStatus::Warning,
        ),
        Err(EngineError::NeedsLogin { .. })
            if ws.token == SubjectTokenKind::IdToken && kept_id_token(engine, &ws.idp).await =>
        {
            let p = Problem::IdTokenNotRenewed { idp: ws.idp.clone(), audience: policy_audience(ws) };
            return Err(run.fail(StepId::Session, TITLE, p));
        }
        Err(EngineError::NeedsLogin { reason, .. }) => {
            let message = reason.unwrap_or_else(|| "the session is gone".into());
            return Err(run.fail(
                StepId::Session,
                TITLE,
                Problem::RefreshFailed { idp: ws.idp.clone(), needs_login: true, message },
            ));
        }
        Err(e) => {
            return Err(run.fail(
                StepId::Session,
                TITLE,
                Problem::RefreshFailed { idp: ws.idp.clone(), needs_login: false, message: e.to_string() },
            ));
        }
    };
    let Some(subject) = pick(&session) else {
        return Err(run.fail(StepId::Session, TITLE, Problem::NoAccessToken { idp: ws.idp.clone() }));
    };
    run.step(StepId::Session, TITLE, status, detail);
    Ok((subject, refreshable))
}

/// True when the stored session kept an old id_token through a refresh that brought none.
async fn kept_id_token(engine: &Engine, idp: &str) -> bool {
    matches!(engine.stored_session(idp).await, Ok(Some(s)) if s.kept_id_token_received_at.is_some())
}

/// The audience to suggest as the access token's `resource`: the expected policy's first.
fn policy_audience(ws: &Workspace) -> Option<String> {
    ws.policy.as_ref().and_then(|p| p.audiences.first().cloned())
}

/// The M2M session step: the service principal's secret is in the vault.
pub(super) async fn client_secret(
    engine: &Engine,
    ws: &Workspace,
    client_id: &str,
    run: &mut Run,
) -> Result<Secret, Stopped> {
    const TITLE: &str = "Client secret";
    let secret = match lakepass_engine::roles::m2m_secret(engine.store(), ws).await {
        Ok(Some(s)) => s,
        Ok(None) => {
            return Err(run.fail(
                StepId::Session,
                TITLE,
                Problem::SecretMissing { workspace: ws.name.clone() },
            ));
        }
        Err(e) => {
            return Err(run.fail(
                StepId::Session,
                TITLE,
                Problem::RefreshFailed { idp: "vault".into(), needs_login: false, message: e.to_string() },
            ));
        }
    };
    run.step(
        StepId::Session,
        TITLE,
        StepStatus::Ok,
        format!("the secret of `{client_id}` is in the vault ({})", engine.store().vault().kind()),
    );
    Ok(secret)
}
