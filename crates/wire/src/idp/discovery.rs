//! Where the identity provider says its endpoints and keys are (OIDC Discovery §3, RFC 7517).
//!
//! The issuer in the document must equal the configured one byte for byte: Databricks compares
//! `iss` exactly, so a mismatch here is the error to catch before any sign-in. The endpoints it
//! names get the issuer's own rule (https, or http on loopback only): the code, the PKCE
//! verifier and the refresh token are posted to them.

use jsonwebtoken::jwk::JwkSet;
use serde::{Deserialize, Serialize};

use super::IdpError;
use crate::http::Http;

/// The parts of an OpenID Provider's discovery document we use (OIDC Discovery §3).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Discovery {
    /// Must equal the configured issuer exactly.
    pub issuer: String,
    /// Where the browser goes.
    pub authorization_endpoint: String,
    /// Where codes and refresh tokens are redeemed.
    pub token_endpoint: String,
    /// The signing keys.
    pub jwks_uri: String,
}

/// Fetches the discovery document and checks its issuer.
pub async fn discover(http: &Http, issuer: &str) -> Result<Discovery, IdpError> {
    let url = format!("{}/.well-known/openid-configuration", issuer.trim_end_matches('/'));
    let d: Discovery = http.get_json(&url).await?;
    if d.issuer != issuer {
        let hint = if d.issuer.trim_end_matches('/') == issuer.trim_end_matches('/') {
            " (they differ only by a trailing slash, which matters: Databricks compares `iss` exactly)"
        } else {
            ""
        };
        return Err(IdpError::IssuerMismatch {
            configured: issuer.into(),
            found: crate::text::server_text(&d.issuer),
            hint,
        });
    }
    for endpoint in [&d.authorization_endpoint, &d.token_endpoint, &d.jwks_uri] {
        crate::host::check_secure_url(endpoint).map_err(|message| IdpError::Url {
            url: endpoint.clone(),
            message: format!("the discovery document names an unsafe endpoint: {message}"),
        })?;
    }
    // A `ca_file` of this IdP vouches for the endpoints its issuer names.
    http.trust_like(issuer, &[&d.authorization_endpoint, &d.token_endpoint, &d.jwks_uri]);
    Ok(d)
}

/// Fetches the issuer's signing keys.
pub async fn fetch_jwks(http: &Http, d: &Discovery) -> Result<JwkSet, IdpError> {
    Ok(http.get_json(&d.jwks_uri).await?)
}

/// An issuer's signing keys, kept between refreshes: they are fetched the first time and again
/// only when an id_token names a key (`kid`) the kept set does not have. A refresh is then two
/// round trips (grant, exchange), not three.
#[derive(Debug, Default)]
pub struct KeyCache {
    keys: std::sync::Mutex<Option<JwkSet>>,
}

impl KeyCache {
    /// The kept keys, fetched first if there are none yet.
    pub async fn keys(&self, http: &Http, d: &Discovery) -> Result<JwkSet, IdpError> {
        if let Some(k) = self.keys.lock().expect("key cache").clone() {
            return Ok(k);
        }
        self.refetch(http, d).await
    }

    /// Fetches the keys again (a key was unknown) and keeps them.
    pub async fn refetch(&self, http: &Http, d: &Discovery) -> Result<JwkSet, IdpError> {
        let k = fetch_jwks(http, d).await?;
        *self.keys.lock().expect("key cache") = Some(k.clone());
        Ok(k)
    }
}
