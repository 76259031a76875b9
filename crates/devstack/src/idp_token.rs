//! The IdP's token endpoint (RFC 6749 §4.1.3 and §6) and the grants behind it.
//!
//! Behaves like the strict IdPs Lakepass must survive: codes are single-use and a replayed code
//! revokes what it issued (RFC 6749 §4.1.2); PKCE is checked with S256 (RFC 7636 §4.6); refresh
//! tokens rotate, and presenting an already-rotated one is treated as theft, revoking the whole
//! token family (OAuth 2.0 Security BCP §4.14.2). A refresh may name a `scope` (RFC 6749 §6;
//! MSAL always does): the original or a narrower one is granted, a wider one is `invalid_scope`.
//! A refresh answer carries a new id_token only when the client is set up so (OIDC Core §12.2:
//! the answer "might not contain an id_token"). The body must be
//! `application/x-www-form-urlencoded` (RFC 6749 §4.1.3, §6). Only fingerprints of codes and
//! refresh tokens are stored.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Extension;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use crate::errors::{basic_auth, oauth_error, token_form};
use crate::faults::Skew;
use crate::keys::{random_b64, random_hex};
use crate::{Shared, fingerprint};

const CODE_TTL: Duration = Duration::from_secs(120);
const PENDING_TTL: Duration = Duration::from_secs(600);

/// A validated authorization request waiting for login, or the one a code was issued for.
#[derive(Debug, Clone)]
pub(crate) struct AuthRequest {
    pub(crate) client_id: String,
    pub(crate) redirect_uri: String,
    pub(crate) code_challenge: String,
    pub(crate) state: String,
    pub(crate) nonce: Option<String>,
    pub(crate) scope: String,
    /// RFC 8707 `resource`: the audience of the access tokens this grant yields.
    pub(crate) resource: Option<String>,
}

struct CodeRecord {
    req: AuthRequest,
    email: String,
    issued: Instant,
    used: bool,
    family: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RefreshStatus {
    Active,
    Rotated,
    Revoked,
}

struct RefreshRecord {
    family: u64,
    client_id: String,
    email: String,
    scope: String,
    resource: Option<String>,
    status: RefreshStatus,
}

/// Pending logins, codes and refresh tokens (keyed by fingerprint).
#[derive(Default)]
pub(crate) struct IdpStore {
    pending: HashMap<String, (AuthRequest, Instant)>,
    codes: HashMap<String, CodeRecord>,
    refresh: HashMap<String, RefreshRecord>,
    next_family: u64,
}

/// What a successful grant yields before tokens are minted.
#[cfg_attr(test, derive(Debug))]
struct Grant {
    email: String,
    scope: String,
    resource: Option<String>,
    nonce: Option<String>,
    refresh_token: Option<String>,
}

impl IdpStore {
    pub(crate) fn add_pending(&mut self, req: AuthRequest) -> String {
        self.pending.retain(|_, (_, at)| at.elapsed() < PENDING_TTL);
        let id = random_hex(16);
        self.pending.insert(id.clone(), (req, Instant::now()));
        id
    }

    pub(crate) fn has_pending(&self, id: &str) -> bool {
        self.pending.get(id).is_some_and(|(_, at)| at.elapsed() < PENDING_TTL)
    }

    pub(crate) fn take_pending(&mut self, id: &str) -> Option<AuthRequest> {
        self.pending.remove(id).map(|(req, _)| req)
    }

    pub(crate) fn issue_code(&mut self, req: AuthRequest, email: &str) -> String {
        self.codes.retain(|_, c| c.issued.elapsed() < CODE_TTL * 10);
        let code = random_b64(32);
        self.codes.insert(
            fingerprint(&code),
            CodeRecord { req, email: email.to_owned(), issued: Instant::now(), used: false, family: None },
        );
        code
    }

    /// Revokes every refresh token issued so far.
    pub(crate) fn revoke_all(&mut self) {
        for r in self.refresh.values_mut() {
            r.status = RefreshStatus::Revoked;
        }
    }

    fn revoke_family(&mut self, family: u64) {
        for r in self.refresh.values_mut().filter(|r| r.family == family) {
            r.status = RefreshStatus::Revoked;
        }
    }

    fn new_refresh(
        &mut self,
        family: u64,
        client_id: &str,
        email: &str,
        scope: &str,
        resource: Option<&str>,
    ) -> String {
        let token = random_b64(32);
        self.refresh.insert(
            fingerprint(&token),
            RefreshRecord {
                family,
                client_id: client_id.to_owned(),
                email: email.to_owned(),
                scope: scope.to_owned(),
                resource: resource.map(str::to_owned),
                status: RefreshStatus::Active,
            },
        );
        token
    }

    fn redeem_code(
        &mut self,
        code: &str,
        client_id: &str,
        redirect_uri: &str,
        verifier: &str,
    ) -> Result<Grant, &'static str> {
        let rec = self.codes.get_mut(&fingerprint(code)).ok_or("Authorization code is unknown")?;
        if rec.used {
            if let Some(family) = rec.family {
                self.revoke_family(family);
            }
            return Err("Authorization code was already used; tokens issued from it are revoked");
        }
        if rec.issued.elapsed() > CODE_TTL {
            return Err("Authorization code has expired");
        }
        if rec.req.client_id != client_id {
            return Err("Authorization code was issued to another client");
        }
        if rec.req.redirect_uri != redirect_uri {
            return Err("redirect_uri does not match the authorization request");
        }
        let digest = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        let verifier_ok = (43..=128).contains(&verifier.len())
            && verifier.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
        if !verifier_ok || digest != rec.req.code_challenge {
            return Err("PKCE verification failed: code_verifier does not match code_challenge");
        }
        rec.used = true;
        let (email, scope, nonce) = (rec.email.clone(), rec.req.scope.clone(), rec.req.nonce.clone());
        let resource = rec.req.resource.clone();
        let refresh_token = if scope.split(' ').any(|s| s == "offline_access") {
            self.next_family += 1;
            let family = self.next_family;
            if let Some(rec) = self.codes.get_mut(&fingerprint(code)) {
                rec.family = Some(family);
            }
            Some(self.new_refresh(family, client_id, &email, &scope, resource.as_deref()))
        } else {
            None
        };
        Ok(Grant { email, scope, resource, nonce, refresh_token })
    }

    /// Redeems refresh token `token` for `requested` scopes (RFC 6749 §6: optional, and never
    /// wider than the original grant; the answer carries the narrowed scope, a rotated refresh
    /// token keeps the original one). A refused wider scope spends nothing.
    fn redeem_refresh(
        &mut self,
        token: &str,
        client_id: &str,
        rotate: bool,
        requested: Option<&str>,
    ) -> Result<Grant, RefreshRefusal> {
        let rec = self.refresh.get_mut(&fingerprint(token)).ok_or("Refresh token is unknown")?;
        match rec.status {
            RefreshStatus::Revoked => return Err("Refresh token has been revoked".into()),
            RefreshStatus::Rotated => {
                let family = rec.family;
                self.revoke_family(family);
                return Err(
                    "Refresh token was already used (reuse detected); the whole token family is revoked"
                        .into(),
                );
            }
            RefreshStatus::Active => {}
        }
        if rec.client_id != client_id {
            return Err("Refresh token was issued to another client".into());
        }
        let (family, email, scope) = (rec.family, rec.email.clone(), rec.scope.clone());
        // RFC 8707 §2.2: a refresh without `resource` is for what the grant was issued for.
        let resource = rec.resource.clone();
        let answered = match requested.map(str::trim).filter(|r| !r.is_empty()) {
            None => scope.clone(),
            Some(r) if r.split_whitespace().all(|s| scope.split_whitespace().any(|g| g == s)) => {
                r.split_whitespace().collect::<Vec<_>>().join(" ")
            }
            Some(_) => return Err(RefreshRefusal::WiderScope),
        };
        let refresh_token = if rotate {
            rec.status = RefreshStatus::Rotated;
            self.new_refresh(family, client_id, &email, &scope, resource.as_deref())
        } else {
            token.to_owned()
        };
        Ok(Grant { email, scope: answered, resource, nonce: None, refresh_token: Some(refresh_token) })
    }
}

/// Why a refresh grant is refused: RFC 6749 §5.2 gives a wider scope its own error code.
#[derive(Debug, PartialEq, Eq)]
enum RefreshRefusal {
    /// `invalid_grant`, with this description.
    Grant(&'static str),
    /// `invalid_scope`: the request asked for more than the original grant.
    WiderScope,
}

impl From<&'static str> for RefreshRefusal {
    fn from(reason: &'static str) -> Self {
        RefreshRefusal::Grant(reason)
    }
}

/// `POST /token`.
pub(crate) async fn token(
    State(shared): State<Arc<Shared>>,
    Extension(skew): Extension<Skew>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = match token_form(&headers, &body, "/token") {
        Ok(form) => form,
        Err(refusal) => return refusal.into_response(),
    };
    let param = |k: &str| form.get(k).map(String::as_str).filter(|v| !v.is_empty());
    let basic = basic_auth(&headers);
    let Some(client_id) = param("client_id").or(basic.as_ref().map(|(id, _)| id.as_str())) else {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", "client_id is missing");
    };
    let Some(client) = shared.clients.iter().find(|c| c.id == client_id) else {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", "Unknown client");
    };
    let grant = match param("grant_type") {
        None => {
            return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", "grant_type is missing");
        }
        Some("authorization_code") => {
            let (Some(code), Some(redirect_uri), Some(verifier)) =
                (param("code"), param("redirect_uri"), param("code_verifier"))
            else {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "code, redirect_uri and code_verifier are required",
                );
            };
            let result = shared.idp.lock().expect("idp store poisoned").redeem_code(
                code,
                client_id,
                redirect_uri,
                verifier,
            );
            if result.is_ok() {
                shared.stats.idp(|s| s.authorization_code_grants += 1);
            }
            result
        }
        Some("refresh_token") => {
            let Some(refresh_token) = param("refresh_token") else {
                shared.stats.idp(|s| s.refresh_failures += 1);
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", "refresh_token is missing");
            };
            let result = shared.idp.lock().expect("idp store poisoned").redeem_refresh(
                refresh_token,
                client_id,
                shared.rotate_refresh_tokens,
                param("scope"),
            );
            shared.stats.idp(|s| match result {
                Ok(_) => s.refresh_grants += 1,
                Err(_) => s.refresh_failures += 1,
            });
            match result {
                Ok(g) => Ok(g),
                Err(RefreshRefusal::Grant(reason)) => Err(reason),
                Err(RefreshRefusal::WiderScope) => {
                    return oauth_error(
                        StatusCode::BAD_REQUEST,
                        "invalid_scope",
                        "The requested scope exceeds the scope originally granted",
                    );
                }
            }
        }
        Some(other) => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                &format!("grant_type {other:?} is not supported"),
            );
        }
    };
    let with_id_token = param("grant_type") != Some("refresh_token") || client.id_token_on_refresh;
    match grant {
        Ok(grant) => token_response(&shared, skew, client_id, grant, with_id_token),
        Err(reason) => oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", reason),
    }
}

/// The `sub` for an email: the email itself, lowercased. Databricks' default federation policy
/// takes the Databricks user name from `sub` (docs, "Configure a federation policy": with
/// `subject_claim: "sub"`, a JWT with `"sub": "username@mycompany.com"` authenticates as that
/// user), so the devstack IdP names its users the way that policy expects.
pub(crate) fn subject_for(email: &str) -> String {
    email.to_lowercase()
}

/// "jane.doe@x" → "Jane Doe".
fn display_name(email: &str) -> String {
    let local = email.split('@').next().unwrap_or(email);
    local
        .split(['.', '_', '-', '+'])
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut c = w.chars();
            c.next().map(|f| f.to_uppercase().chain(c).collect::<String>()).unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The `roles` claim for `email`: the configured table's roles, plus the `+tag` of a
/// plus-addressed local part (`bob+analyst@x` → `analyst`), so a test or a demo can sign in
/// with a role without configuring anything.
fn roles_for(shared: &Shared, email: &str) -> Vec<String> {
    let email = email.to_lowercase();
    let mut roles = shared.user_roles.get(&email).cloned().unwrap_or_default();
    let local = email.split('@').next().unwrap_or_default();
    if let Some((_, tag)) = local.split_once('+')
        && !tag.is_empty()
        && !roles.iter().any(|r| r == tag)
    {
        roles.push(tag.to_owned());
    }
    roles
}

fn token_response(
    shared: &Shared,
    skew: Skew,
    client_id: &str,
    grant: Grant,
    with_id_token: bool,
) -> Response {
    let now = skew.now();
    let ttl = shared.idp_token_ttl.as_secs() as i64;
    let iss = &shared.info.issuer;
    let sub = subject_for(&grant.email);
    let name = display_name(&grant.email);
    let mut id_claims = json!({
        "iss": iss, "sub": sub, "aud": client_id, "azp": client_id,
        "email": grant.email, "email_verified": true, "name": name,
        "iat": now, "exp": now + ttl,
    });
    if let Some(nonce) = &grant.nonce {
        id_claims["nonce"] = Value::from(nonce.as_str());
    }
    let mut access_claims = json!({
        "iss": iss, "sub": sub,
        // RFC 8707: the resource the sign-in named is the access token's audience.
        "aud": grant.resource.clone().unwrap_or_else(|| format!("api://{client_id}")), "azp": client_id,
        "email": grant.email, "scope": grant.scope, "jti": random_hex(8),
        "iat": now, "exp": now + ttl,
    });
    let roles = roles_for(shared, &grant.email);
    if !roles.is_empty() {
        id_claims["roles"] = json!(roles);
        access_claims["roles"] = json!(roles);
    }
    let mut body = json!({
        "access_token": shared.keys.sign(&access_claims),
        "token_type": "Bearer",
        "expires_in": ttl,
        "scope": grant.scope,
    });
    if with_id_token {
        body["id_token"] = Value::from(shared.keys.sign(&id_claims));
    }
    if let Some(rt) = grant.refresh_token {
        body["refresh_token"] = Value::from(rt);
    }
    ([(header::CACHE_CONTROL, "no-store"), (header::PRAGMA, "no-cache")], axum::Json(body)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CLIENT_ID;

    fn request(scope: &str) -> AuthRequest {
        AuthRequest {
            client_id: CLIENT_ID.into(),
            redirect_uri: "http://127.0.0.1:1/cb".into(),
            // SHA-256 of VERIFIER, base64url.
            code_challenge: "ngF5GsXcbwljx6u133FFr3Xht9xooA_DuaX_3QwODtc".into(),
            state: "s".into(),
            nonce: Some("n".into()),
            scope: scope.into(),
            resource: None,
        }
    }
    const VERIFIER: &str = "dBjftJeZ4CVP-mJ92K27uhbUJU1p1r_wW1gFWFOEjXk";

    #[test]
    fn names_and_subjects() {
        assert_eq!(display_name("jane.doe@example.com"), "Jane Doe");
        assert_eq!(subject_for("A@x"), subject_for("a@x"));
        assert_eq!(subject_for("Ada@Example.com"), "ada@example.com");
    }

    #[test]
    fn replayed_code_revokes_its_refresh_family() {
        let mut store = IdpStore::default();
        let code = store.issue_code(request("openid offline_access"), "a@x");
        let g = store.redeem_code(&code, CLIENT_ID, "http://127.0.0.1:1/cb", VERIFIER).unwrap();
        let rt = g.refresh_token.unwrap();
        assert!(
            store
                .redeem_code(&code, CLIENT_ID, "http://127.0.0.1:1/cb", VERIFIER)
                .unwrap_err()
                .contains("already used")
        );
        assert_eq!(
            store.redeem_refresh(&rt, CLIENT_ID, true, None).err(),
            Some("Refresh token has been revoked".into())
        );
    }

    #[test]
    fn no_offline_access_no_refresh_token() {
        let mut store = IdpStore::default();
        let code = store.issue_code(request("openid email"), "a@x");
        let g = store.redeem_code(&code, CLIENT_ID, "http://127.0.0.1:1/cb", VERIFIER).unwrap();
        assert_eq!(g.refresh_token, None);
        assert_eq!(g.nonce.as_deref(), Some("n"));
    }

    #[test]
    fn non_rotating_refresh_keeps_the_token() {
        let mut store = IdpStore::default();
        let code = store.issue_code(request("openid offline_access"), "a@x");
        let rt = store
            .redeem_code(&code, CLIENT_ID, "http://127.0.0.1:1/cb", VERIFIER)
            .unwrap()
            .refresh_token
            .unwrap();
        for _ in 0..2 {
            let g = store.redeem_refresh(&rt, CLIENT_ID, false, None).unwrap();
            assert_eq!(g.refresh_token.as_deref(), Some(rt.as_str()));
        }
    }
}
