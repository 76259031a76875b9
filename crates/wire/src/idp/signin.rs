//! The sign-in itself as plain values: the authorization request (PKCE S256, `state`, `nonce`),
//! the checks on the callback's query, and the code and refresh grants with the id_token's
//! validation.
//!
//! Everything here but [`redeem`] is pure, so tests and fuzzing drive it without a browser or a
//! socket; receiving the callback is `loopback`'s job.

use oauth2::{CsrfToken, PkceCodeChallenge};
use serde::Deserialize;
use url::Url;

use super::discovery::{Discovery, KeyCache};
use super::{IdpError, IdpSession};
use crate::clock::UnixTime;
use crate::http::{FormRequest, Http, OAuthError};
use crate::jwt::{self, Expectations, JwtError};
use crate::secret::Secret;
use crate::text::server_text;

/// The OAuth client Lakepass is at one IdP, as the sign-in and refresh requests need it. The
/// config file's `[idp.<name>]` section gives it (`lakepass_config::IdpConfig::client`); this
/// crate knows nothing of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdpClient {
    /// The OAuth client (application) id registered at the IdP; also the id_token's audience.
    pub client_id: String,
    /// Scopes asked for at sign-in and on refresh.
    pub scopes: Vec<String>,
    /// Extra parameters for the authorize URL (`prompt`, `domain_hint`, …).
    pub auth_params: std::collections::BTreeMap<String, String>,
}

/// An authorization request in flight: what the callback and the code redemption must match.
#[derive(Debug)]
pub struct SignInRequest {
    /// The URL to open in the browser.
    pub url: Url,
    /// `state` sent; the callback must return it.
    pub state: Secret,
    /// `nonce` sent; the id_token must carry it.
    pub nonce: Secret,
    /// PKCE verifier, sent when redeeming the code.
    pub verifier: Secret,
    /// The loopback redirect URI.
    pub redirect_uri: String,
}

impl SignInRequest {
    /// Builds the authorization URL with PKCE S256, state and nonce.
    pub fn new(d: &Discovery, idp: &IdpClient, redirect_uri: &str) -> Result<Self, IdpError> {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let state = CsrfToken::new_random();
        let nonce = CsrfToken::new_random();
        let mut url = Url::parse(&d.authorization_endpoint)
            .map_err(|e| IdpError::Url { url: d.authorization_endpoint.clone(), message: e.to_string() })?;
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("response_type", "code")
                .append_pair("client_id", &idp.client_id)
                .append_pair("redirect_uri", redirect_uri)
                .append_pair("scope", &idp.scopes.join(" "))
                .append_pair("state", state.secret())
                .append_pair("nonce", nonce.secret())
                .append_pair("code_challenge", challenge.as_str())
                .append_pair("code_challenge_method", "S256");
            for (k, v) in &idp.auth_params {
                q.append_pair(k, v);
            }
        }
        Ok(SignInRequest {
            url,
            state: Secret::new(state.secret().clone()),
            nonce: Secret::new(nonce.secret().clone()),
            verifier: Secret::new(verifier.secret().clone()),
            redirect_uri: redirect_uri.to_string(),
        })
    }
}

/// What the loopback callback can carry that we refuse.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CallbackError {
    /// `state` missing or different: a forged or stale redirect.
    #[error(
        "sign-in callback has a wrong or missing `state` (a stale tab or a forged request); run `lakepass login` again"
    )]
    State,
    /// No `code`.
    #[error("sign-in callback has no authorization `code`; run `lakepass login` again")]
    MissingCode,
    /// The IdP sent an error instead of a code.
    #[error("the identity provider refused the sign-in: {error}{}", description.as_deref().map(|d| format!(" ({d})")).unwrap_or_default())]
    Denied {
        /// e.g. `access_denied`.
        error: String,
        /// The IdP's explanation.
        description: Option<String>,
    },
    /// RFC 9207 `iss` names another issuer: a mix-up attack.
    #[error("sign-in callback came from issuer `{0}`, not the one we asked; refusing it")]
    Issuer(String),
    /// The one-time start link was opened twice: someone else may have opened it first.
    #[error(
        "the one-time sign-in link was opened twice, so another program may have used it first; \
         run `lakepass login` again"
    )]
    LinkReused,
}

/// Checks a callback query string; returns the authorization code. Pure, for tests and fuzzing.
pub fn parse_callback(query: &str, state: &Secret, issuer: &str) -> Result<Secret, CallbackError> {
    let mut code = None;
    let mut got_state = None;
    let mut error = None;
    let mut description = None;
    let mut iss = None;
    for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
        match &*k {
            "code" => code = Some(v.into_owned()),
            "state" => got_state = Some(v.into_owned()),
            "error" => error = Some(v.into_owned()),
            "error_description" => description = Some(v.into_owned()),
            "iss" => iss = Some(v.into_owned()),
            _ => {}
        }
    }
    let state_ok = got_state.as_deref().is_some_and(|s| state.matches(s));
    if !state_ok {
        return Err(CallbackError::State);
    }
    if let Some(i) = iss
        && i != issuer
    {
        return Err(CallbackError::Issuer(server_text(&i)));
    }
    if let Some(error) = error {
        return Err(CallbackError::Denied {
            error: server_text(&error),
            description: description.as_deref().map(server_text),
        });
    }
    code.filter(|c| !c.is_empty()).map(Secret::new).ok_or(CallbackError::MissingCode)
}

/// The code-redemption request (RFC 6749 §4.1.3 + RFC 7636 §4.5).
pub fn code_request(d: &Discovery, idp: &IdpClient, req: &SignInRequest, code: &Secret) -> FormRequest {
    FormRequest::post(&d.token_endpoint)
        .field("grant_type", "authorization_code")
        .secret_field("code", code)
        .field("redirect_uri", &req.redirect_uri)
        .field("client_id", &idp.client_id)
        .secret_field("code_verifier", &req.verifier)
}

/// The refresh request (RFC 6749 §6), naming the configured scopes as the sign-in did.
///
/// `scope` is optional in RFC 6749 §6 and must not exceed the original grant; the same scopes
/// the authorization request named never do. MSAL always sends them, and the Microsoft identity
/// platform documents them on the refresh leg (older revisions as required); without them Entra
/// may answer without an id_token, and every refresh would fail. An IdP that refuses them as
/// wider than the session's grant (the config gained a scope since the sign-in) answers
/// `invalid_scope`, which the engine treats as needing a new sign-in.
pub fn refresh_request(d: &Discovery, idp: &IdpClient, refresh_token: &Secret) -> FormRequest {
    let form = FormRequest::post(&d.token_endpoint)
        .field("grant_type", "refresh_token")
        .secret_field("refresh_token", refresh_token)
        .field("client_id", &idp.client_id);
    if idp.scopes.is_empty() { form } else { form.field("scope", idp.scopes.join(" ")) }
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: Option<Secret>,
    id_token: Option<Secret>,
    refresh_token: Option<Secret>,
    expires_in: Option<i64>,
}

/// Which grant a token request is, and what its answer must match.
#[derive(Debug, Clone, Copy)]
pub struct Grant<'a> {
    /// "authorization_code" or "refresh_token", for messages.
    pub name: &'static str,
    /// The nonce the id_token must carry (authorization-code flow only).
    pub nonce: Option<&'a Secret>,
    /// The session being refreshed: its refresh token is kept when the IdP does not rotate it,
    /// and its id_token when the answer carries none.
    pub previous: Option<&'a IdpSession>,
}

impl<'a> Grant<'a> {
    /// Redeeming an authorization code issued for a request with `nonce`.
    pub fn code(nonce: &'a Secret) -> Self {
        Grant { name: "authorization_code", nonce: Some(nonce), previous: None }
    }
    /// Refreshing `session` with its refresh token.
    pub fn refresh(session: &'a IdpSession) -> Self {
        Grant { name: "refresh_token", nonce: None, previous: Some(session) }
    }
}

/// Sends a token request and validates the answer into a session, checking the id_token with
/// the kept keys (fetched again only for an unknown `kid`).
///
/// A grant with a rotating refresh token is spent the moment the IdP answers. When the keys for
/// its new id_token cannot be fetched then (the IdP rotated its keys during a JWKS outage), the
/// error carries the rotated refresh token so that the caller keeps it: the next refresh uses it
/// instead of the spent one, which a strict IdP would answer by revoking the whole family
/// (fault suite: `jwks_down_while_keys_rotate_keeps_the_rotated_refresh_token`).
///
/// A refresh answered without an id_token keeps the previous one, marked
/// [`IdpSession::kept_id_token_received_at`]; an authorization-code answer without one is an error.
pub async fn redeem(
    http: &Http,
    d: &Discovery,
    idp: &IdpClient,
    req: FormRequest,
    grant: Grant<'_>,
    now: UnixTime,
    keys: &KeyCache,
) -> Result<IdpSession, IdpError> {
    // With no keys kept yet, fetch them before spending the grant.
    let jwks = keys.keys(http, d).await?;
    let resp = http.post_form(&req).await?;
    if !resp.is_success() {
        return Err(IdpError::Grant { grant: grant.name, error: OAuthError::from_response(&resp) });
    }
    let body: TokenResponse = resp.json().map_err(|_| IdpError::MissingToken("valid JSON body"))?;
    let access_token_exp = body
        .expires_in
        .map(|s| crate::clock::expires_after(now, Some(s), s))
        .or_else(|| {
            body.access_token
                .as_ref()
                .and_then(|t| jwt::decode_unverified(t.secret()).ok())
                .and_then(|j| j.exp())
        })
        .map(|exp| crate::clock::clamp_expiry(now, exp));
    let refresh_token =
        body.refresh_token.clone().or_else(|| grant.previous.and_then(|p| p.refresh_token.clone()));
    let Some(id_token) = body.id_token.clone() else {
        // OIDC Core §12.2: a refresh answer "might not contain an id_token". The session goes
        // on with the new access and refresh tokens (the old refresh token may be spent) and
        // keeps the id_token it had, marked so that whoever needs a fresh one asks for a sign-in
        // instead of refreshing again and again.
        let previous = grant.previous.ok_or(IdpError::MissingToken("id_token"))?;
        return Ok(IdpSession {
            access_token: body.access_token,
            access_token_exp,
            refresh_token,
            refreshed_at: now,
            kept_id_token_received_at: Some(
                previous.kept_id_token_received_at.unwrap_or(previous.refreshed_at),
            ),
            ..previous.clone()
        });
    };
    let want = Expectations {
        issuer: &d.issuer,
        audience: &idp.client_id,
        nonce: grant.nonce.map(Secret::secret),
        now,
    };
    let claims = match jwt::verify(id_token.secret(), &jwks, &want) {
        Err(JwtError::UnknownKey(_)) => {
            // Keys rotated since we fetched them: fetch once more.
            let jwks = keys.refetch(http, d).await.map_err(|e| IdpError::KeysUnavailable {
                rotated_refresh_token: body.refresh_token.clone(),
                source: Box::new(e),
            })?;
            jwt::verify(id_token.secret(), &jwks, &want)?
        }
        other => other?,
    };
    Ok(IdpSession {
        id_token_exp: crate::clock::clamp_expiry(
            now,
            claims.exp().ok_or(IdpError::IdToken(JwtError::MissingClaim("exp")))?,
        ),
        subject: claims.str_claim("sub").ok_or(JwtError::MissingClaim("sub"))?.to_string(),
        username: claims
            .str_claim("email")
            .or_else(|| claims.str_claim("preferred_username"))
            .map(String::from),
        id_token,
        access_token: body.access_token,
        access_token_exp,
        refresh_token,
        refreshed_at: now,
        kept_id_token_received_at: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn idp() -> IdpClient {
        IdpClient {
            client_id: "cid".into(),
            scopes: vec!["openid".into(), "offline_access".into()],
            auth_params: [("prompt".to_string(), "consent".to_string())].into(),
        }
    }

    fn disc() -> Discovery {
        Discovery {
            issuer: "https://idp.example".into(),
            authorization_endpoint: "https://idp.example/authorize".into(),
            token_endpoint: "https://idp.example/token".into(),
            jwks_uri: "https://idp.example/jwks".into(),
        }
    }

    #[test]
    fn authorize_url_carries_pkce_state_nonce() {
        let r = SignInRequest::new(&disc(), &idp(), "http://127.0.0.1:5/callback").unwrap();
        let q: std::collections::HashMap<_, _> = r.url.query_pairs().into_owned().collect();
        assert_eq!(q["code_challenge_method"], "S256");
        assert_eq!(q["state"], r.state.secret());
        assert_eq!(q["nonce"], r.nonce.secret());
        assert_eq!(q["scope"], "openid offline_access");
        assert_eq!(q["prompt"], "consent");
        assert_eq!(q["redirect_uri"], "http://127.0.0.1:5/callback");
        // The challenge is the S256 of the verifier, never the verifier itself.
        use base64::Engine as _;
        use sha2::Digest as _;
        let want = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(sha2::Sha256::digest(r.verifier.secret().as_bytes()));
        assert_eq!(q["code_challenge"], want);
        assert!(r.verifier.secret().len() >= 43);
        let code = code_request(&disc(), &idp(), &r, &Secret::new("c0de"));
        assert_eq!(code.get("code_verifier"), Some(r.verifier.secret()));
        assert_eq!(code.get("grant_type"), Some("authorization_code"));
    }

    #[test]
    fn refresh_carries_the_configured_scopes_as_msal_does() {
        let rt = Secret::new("rt-1");
        let r = refresh_request(&disc(), &idp(), &rt);
        assert_eq!(r.get("grant_type"), Some("refresh_token"));
        assert_eq!(r.get("refresh_token"), Some("rt-1"));
        assert_eq!(r.get("client_id"), Some("cid"));
        // The same scopes the authorization request named, so never wider than the grant.
        let auth = SignInRequest::new(&disc(), &idp(), "http://127.0.0.1:5/callback").unwrap();
        let asked = auth.url.query_pairs().find(|(k, _)| k == "scope").unwrap().1.into_owned();
        assert_eq!(r.get("scope"), Some(asked.as_str()));
        assert_eq!(r.get("scope"), Some("openid offline_access"));
        // No scopes configured: no empty `scope` parameter.
        let bare = IdpClient { scopes: vec![], ..idp() };
        assert_eq!(refresh_request(&disc(), &bare, &rt).get("scope"), None);
    }

    #[test]
    fn callback_checks_state_code_error_and_issuer() {
        let st = Secret::new("s1");
        let iss = "https://idp.example";
        assert_eq!(parse_callback("code=abc&state=s1", &st, iss).unwrap().secret(), "abc");
        assert_eq!(parse_callback("code=abc&state=s2", &st, iss).unwrap_err(), CallbackError::State);
        assert_eq!(parse_callback("code=abc", &st, iss).unwrap_err(), CallbackError::State);
        assert_eq!(parse_callback("state=s1", &st, iss).unwrap_err(), CallbackError::MissingCode);
        assert_eq!(parse_callback("state=s1&code=", &st, iss).unwrap_err(), CallbackError::MissingCode);
        assert!(matches!(
            parse_callback("state=s1&error=access_denied&error_description=no", &st, iss).unwrap_err(),
            CallbackError::Denied { ref error, .. } if error == "access_denied"
        ));
        assert_eq!(
            parse_callback("state=s1&code=a&iss=https://evil", &st, iss).unwrap_err(),
            CallbackError::Issuer("https://evil".into())
        );
    }
}
