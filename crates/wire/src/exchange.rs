//! Trading the IdP's JWT for a Databricks OAuth token (RFC 8693 token exchange).
//!
//! `POST https://<workspace>/oidc/v1/token` with `grant_type=…:token-exchange`,
//! `subject_token_type=…:jwt`, the IdP JWT and the workspace's scopes; `client_id` only for
//! service-principal (workload identity) federation. The request is built by a pure function
//! ([`exchange_request`]) so tests can assert its exact form. A token is always bound to the
//! [`WorkspaceHost`] it came from, so it cannot be handed to another workspace.

use serde::{Deserialize, Serialize};

use crate::clock::UnixTime;
use crate::host::WorkspaceHost;
use crate::http::{FormRequest, Http, HttpError, OAuthError};
use crate::secret::Secret;

/// RFC 8693 grant type.
pub const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
/// RFC 8693 token type for a JWT subject token.
pub const JWT_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:jwt";

/// A Databricks OAuth token for exactly one workspace.
#[derive(Clone, Serialize, Deserialize)]
pub struct WorkspaceToken {
    /// The workspace that minted it; the only place it may be sent.
    pub host: WorkspaceHost,
    /// The bearer token.
    pub access_token: Secret,
    /// When it expires.
    pub expires_at: UnixTime,
    /// When it was issued (by our clock).
    pub issued_at: UnixTime,
    /// Scopes granted.
    pub scope: Option<String>,
}

impl std::fmt::Debug for WorkspaceToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkspaceToken")
            .field("host", &self.host)
            .field("expires_at", &self.expires_at)
            .field("scope", &self.scope)
            .finish()
    }
}

impl<'de> Deserialize<'de> for WorkspaceHost {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        WorkspaceHost::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// Why an exchange failed.
#[derive(Debug, thiserror::Error)]
pub enum ExchangeError {
    /// Network trouble or overload, after retries.
    #[error("token exchange at {host} failed: {source}")]
    Http {
        /// The workspace.
        host: WorkspaceHost,
        /// What failed.
        #[source]
        source: HttpError,
    },
    /// The workspace refused the JWT: a federation policy mismatch, most often.
    #[error(
        "{host} refused the token exchange (HTTP {status}): {error}. Run `lakepass doctor --workspace {workspace}` to compare the JWT's iss/aud/sub/exp with the federation policy"
    )]
    Rejected {
        /// The workspace.
        host: WorkspaceHost,
        /// Workspace name in config, for the hint.
        workspace: String,
        /// HTTP status.
        status: u16,
        /// What the server said.
        error: OAuthError,
    },
    /// 200 but not a token.
    #[error("{host} answered the token exchange without an access_token")]
    Malformed {
        /// The workspace.
        host: WorkspaceHost,
    },
}

/// What an exchange needs besides the JWT.
#[derive(Debug, Clone)]
pub struct ExchangeParams<'a> {
    /// The workspace.
    pub host: &'a WorkspaceHost,
    /// Its name in config, for messages.
    pub workspace: &'a str,
    /// Scopes to ask for.
    pub scopes: &'a [String],
    /// Service principal application id, for workload-identity federation.
    pub client_id: Option<&'a str>,
}

/// Builds the token-exchange request.
pub(crate) fn exchange_request(p: &ExchangeParams<'_>, subject_token: &Secret) -> FormRequest {
    let mut req = FormRequest::post(p.host.join("/oidc/v1/token"))
        .field("grant_type", TOKEN_EXCHANGE)
        .field("subject_token_type", JWT_TOKEN_TYPE)
        .secret_field("subject_token", subject_token)
        .field("scope", p.scopes.join(" "));
    if let Some(id) = p.client_id {
        req = req.field("client_id", id);
    }
    req
}

#[derive(Deserialize)]
struct TokenBody {
    access_token: Option<Secret>,
    expires_in: Option<i64>,
    scope: Option<String>,
}

/// Builds the M2M request (OAuth client credentials, RFC 6749 §4.4) for `token_url`: the
/// service principal authenticates with HTTP Basic (RFC 6749 §2.3.1), so its secret is never
/// in the form body or a URL.
pub fn client_credentials_request(
    token_url: impl Into<String>,
    client_id: &str,
    client_secret: &Secret,
    scopes: &[String],
) -> FormRequest {
    let mut req = FormRequest::post(token_url)
        .field("grant_type", "client_credentials")
        .field("scope", scopes.join(" "));
    req.basic_auth = Some((client_id.to_string(), client_secret.clone()));
    req
}

/// Sends a client-credentials request built by [`client_credentials_request`]; the token is
/// bound to `host` (the workspace, or the account console for account-level tokens).
pub async fn client_credentials(
    http: &Http,
    host: &WorkspaceHost,
    workspace: &str,
    req: &FormRequest,
    now: UnixTime,
) -> Result<WorkspaceToken, ExchangeError> {
    let p = ExchangeParams { host, workspace, scopes: &[], client_id: None };
    send(http, &p, req, now).await
}

/// Sends the exchange and returns the workspace's token.
pub async fn exchange(
    http: &Http,
    p: &ExchangeParams<'_>,
    subject_token: &Secret,
    now: UnixTime,
) -> Result<WorkspaceToken, ExchangeError> {
    let req = exchange_request(p, subject_token);
    send(http, p, &req, now).await
}

async fn send(
    http: &Http,
    p: &ExchangeParams<'_>,
    req: &FormRequest,
    now: UnixTime,
) -> Result<WorkspaceToken, ExchangeError> {
    let resp =
        http.post_form(req).await.map_err(|source| ExchangeError::Http { host: p.host.clone(), source })?;
    if !resp.is_success() {
        return Err(ExchangeError::Rejected {
            host: p.host.clone(),
            workspace: p.workspace.to_string(),
            status: resp.status.as_u16(),
            error: OAuthError::from_response(&resp),
        });
    }
    let body: TokenBody = resp.json().map_err(|_| ExchangeError::Malformed { host: p.host.clone() })?;
    let access_token = body
        .access_token
        .filter(|t| !t.is_empty())
        .ok_or_else(|| ExchangeError::Malformed { host: p.host.clone() })?;
    Ok(WorkspaceToken {
        host: p.host.clone(),
        access_token,
        expires_at: crate::clock::expires_after(now, body.expires_in, 3600),
        issued_at: now,
        scope: body.scope,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_shows_where_and_until_when_never_the_token() {
        let token = WorkspaceToken {
            host: WorkspaceHost::parse("https://adb-1.azuredatabricks.net/").unwrap(),
            access_token: Secret::new("dapi-ws-secret"),
            expires_at: 1_900_000_000,
            issued_at: 1_899_996_400,
            scope: Some("all-apis".into()),
        };
        let shown = format!("{token:?}");
        assert!(shown.contains("adb-1.azuredatabricks.net") && shown.contains("1900000000"), "{shown}");
        assert!(shown.contains("all-apis") && !shown.contains("dapi-ws-secret"), "{shown}");
    }

    #[test]
    fn request_has_exact_rfc8693_form() {
        let host = WorkspaceHost::parse("https://adb-1.azuredatabricks.net/").unwrap();
        let scopes = vec!["sql".to_string(), "serving".to_string()];
        let p = ExchangeParams { host: &host, workspace: "dev", scopes: &scopes, client_id: None };
        let r = exchange_request(&p, &Secret::new("eyJ.jwt.sig"));
        assert_eq!(r.url, "https://adb-1.azuredatabricks.net/oidc/v1/token");
        assert_eq!(r.get("grant_type"), Some(TOKEN_EXCHANGE));
        assert_eq!(r.get("subject_token_type"), Some(JWT_TOKEN_TYPE));
        assert_eq!(r.get("subject_token"), Some("eyJ.jwt.sig"));
        assert_eq!(r.get("scope"), Some("sql serving"));
        assert_eq!(r.get("client_id"), None);
        let sp = ExchangeParams { client_id: Some("sp-1"), ..p };
        assert_eq!(exchange_request(&sp, &Secret::new("x")).get("client_id"), Some("sp-1"));
    }
}
