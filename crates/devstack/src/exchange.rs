//! Verifying an IdP JWT against a workspace's federation policies, as Databricks does for
//! RFC 8693 token exchange.
//!
//! The verification is real: the issuer's keys are fetched over HTTP from its discovery document
//! (`/.well-known/openid-configuration` → `jwks_uri`), cached per issuer and refetched once when
//! a token names an unknown kid. So the devstack trusts its own IdP through the same path it
//! would trust an external one (e.g. `oidc-provider` added with `add_federation_policy`).
//!
//! An account policy's `jwks_json` or `jwks_uri` replaces discovery for its issuer (`pin`).
//!
//! Checks, in order, each with the terse reason a refusal carries in `error_description`:
//! shape ("Token is malformed"), `alg` RS256/ES256 only ("Token algorithm is not allowed"), a
//! policy whose issuer equals `iss` exactly ("Token issuer is not trusted"; "No federation policy
//! for this service principal" when a `client_id` names none), the issuer's JWKS ("Could not fetch
//! the issuer's signing keys", "Token has no kid, and the issuer's JWKS has several keys",
//! "Token signing key is unknown"), the signature ("Invalid
//! signature"), `exp` with no leeway, since the exchanged token may not outlive it ("Token has no
//! expiry", "Token is expired"), `nbf` with 30 s leeway ("Token is not yet valid"), `aud` ("Token audience is not allowed"), and the subject claim ("Token
//! subject claim is missing", "Token subject is not allowed").

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;

use crate::FederationPolicy;
use crate::workspace_state::Principal;

/// Leeway on `nbf`, in seconds.
const LEEWAY: i64 = 30;

pub(crate) struct Key {
    kid: Option<String>,
    alg: Algorithm,
    key: DecodingKey,
}

/// What an accepted subject token stands for, and until when.
pub(crate) struct Verified {
    /// Who the exchanged token is for.
    pub(crate) principal: Principal,
    /// The subject JWT's `exp` (unix seconds): the exchanged token must not outlive it.
    pub(crate) expires_at: i64,
    /// Whether it stands for an account user (an account-wide policy), not a service principal.
    pub(crate) is_user: bool,
}

/// Fetches and caches issuers' JWKS; checks tokens.
pub(crate) struct Verifier {
    /// For remote issuers: honours the environment's proxy settings.
    http: reqwest::Client,
    /// For loopback issuers, which a configured proxy could not reach.
    direct: reqwest::Client,
    cache: tokio::sync::Mutex<HashMap<String, Arc<Vec<Key>>>>,
    /// Per issuer, the keys an account policy names instead of discovery (`jwks_uri`,
    /// `jwks_json`; see `account.rs`).
    pins: std::sync::Mutex<HashMap<String, KeySource>>,
}

/// Where an account policy says an issuer's keys are.
#[derive(Clone)]
enum KeySource {
    Uri(String),
    Json(String),
}

/// The usable signing keys of a JWKS given as JSON text; `None` when there are none.
pub(crate) fn parse_jwks(json: &str) -> Option<Vec<Key>> {
    let v: Value = serde_json::from_str(json).ok()?;
    let keys: Vec<Key> = v.get("keys")?.as_array()?.iter().filter_map(parse_jwk).collect();
    (!keys.is_empty()).then_some(keys)
}

fn decode_part(part: &str) -> Option<Value> {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part.trim_end_matches('=')).ok()?).ok()
}

fn parse_jwk(jwk: &Value) -> Option<Key> {
    if jwk.get("use").and_then(Value::as_str).is_some_and(|u| u != "sig") {
        return None;
    }
    let s = |k: &str| jwk.get(k).and_then(Value::as_str);
    let (alg, key) = match s("kty")? {
        "RSA" => (Algorithm::RS256, DecodingKey::from_rsa_components(s("n")?, s("e")?).ok()?),
        "EC" if s("crv") == Some("P-256") => {
            (Algorithm::ES256, DecodingKey::from_ec_components(s("x")?, s("y")?).ok()?)
        }
        _ => return None,
    };
    Some(Key { kid: s("kid").map(str::to_owned), alg, key })
}

impl Verifier {
    /// A verifier whose JWKS fetches also trust `root` (the devstack's own CA under `--tls`).
    pub(crate) fn new(root: Option<reqwest::Certificate>) -> anyhow::Result<Self> {
        let builder = || {
            let b = reqwest::Client::builder().timeout(Duration::from_secs(10));
            match &root {
                Some(r) => b.add_root_certificate(r.clone()),
                None => b,
            }
        };
        Ok(Self {
            http: builder().build()?,
            direct: builder().no_proxy().build()?,
            cache: Default::default(),
            pins: Default::default(),
        })
    }

    fn client_for(&self, url: &str) -> &reqwest::Client {
        let loopback = url::Url::parse(url).ok().is_some_and(|u| match u.host() {
            Some(url::Host::Domain(d)) => d == "localhost",
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            None => false,
        });
        if loopback { &self.direct } else { &self.http }
    }

    /// Makes `issuer`'s keys come from `jwks_uri` or `jwks_json` (an account policy's) rather than
    /// its discovery document; neither given leaves discovery in charge.
    pub(crate) fn pin(&self, issuer: &str, jwks_uri: Option<String>, jwks_json: Option<String>) {
        let source = jwks_json.map(KeySource::Json).or(jwks_uri.map(KeySource::Uri));
        if let Some(source) = source {
            self.pins.lock().expect("pins poisoned").insert(issuer.to_owned(), source);
        }
    }

    async fn fetch(&self, issuer: &str) -> Result<Vec<Key>, reqwest::Error> {
        let pinned = self.pins.lock().expect("pins poisoned").get(issuer).cloned();
        match pinned {
            Some(KeySource::Json(j)) => return Ok(parse_jwks(&j).unwrap_or_default()),
            Some(KeySource::Uri(u)) => return self.fetch_jwks(&u).await,
            None => {}
        }
        let discovery_url = format!("{}/.well-known/openid-configuration", issuer.trim_end_matches('/'));
        let discovery: Value = self
            .client_for(&discovery_url)
            .get(&discovery_url)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let jwks_uri = discovery.get("jwks_uri").and_then(Value::as_str).unwrap_or_default();
        self.fetch_jwks(jwks_uri).await
    }

    async fn fetch_jwks(&self, jwks_uri: &str) -> Result<Vec<Key>, reqwest::Error> {
        let jwks: Value =
            self.client_for(jwks_uri).get(jwks_uri).send().await?.error_for_status()?.json().await?;
        Ok(jwks
            .get("keys")
            .and_then(Value::as_array)
            .map(|keys| keys.iter().filter_map(parse_jwk).collect())
            .unwrap_or_default())
    }

    async fn keys(&self, issuer: &str, refetch: bool) -> Result<Arc<Vec<Key>>, String> {
        // Pinned keys are read afresh each time: a new policy may have just pinned them.
        let pinned = self.pins.lock().expect("pins poisoned").contains_key(issuer);
        if !refetch
            && !pinned
            && let Some(keys) = self.cache.lock().await.get(issuer)
        {
            return Ok(keys.clone());
        }
        let keys = Arc::new(self.fetch(issuer).await.map_err(|err| {
            tracing::warn!(issuer, %err, "devstack could not fetch an issuer's JWKS");
            "Could not fetch the issuer's signing keys".to_owned()
        })?);
        self.cache.lock().await.insert(issuer.to_owned(), keys.clone());
        Ok(keys)
    }

    /// Checks `token` against `policies` at unix time `now`; on success, who it stands for and
    /// when it expires.
    pub(crate) async fn verify(
        &self,
        token: &str,
        policies: &[FederationPolicy],
        client_id: Option<&str>,
        now: i64,
    ) -> Result<Verified, String> {
        let parts: Vec<&str> = token.split('.').collect();
        let [header_b64, payload_b64, _sig] = parts[..] else {
            return Err("Token is malformed".into());
        };
        let (Some(header), Some(claims)) = (decode_part(header_b64), decode_part(payload_b64)) else {
            return Err("Token is malformed".into());
        };
        let alg = match header.get("alg").and_then(Value::as_str) {
            Some("RS256") => Algorithm::RS256,
            Some("ES256") => Algorithm::ES256,
            _ => return Err("Token algorithm is not allowed".into()),
        };
        let iss = claims.get("iss").and_then(Value::as_str).ok_or("Token has no issuer")?;
        let for_principal: Vec<&FederationPolicy> =
            policies.iter().filter(|p| p.service_principal_client_id.as_deref() == client_id).collect();
        if client_id.is_some() && for_principal.is_empty() {
            return Err("No federation policy for this service principal".into());
        }
        let candidates: Vec<&FederationPolicy> =
            for_principal.into_iter().filter(|p| p.issuer == iss).collect();
        if candidates.is_empty() {
            return Err("Token issuer is not trusted".into());
        }

        let kid = header.get("kid").and_then(Value::as_str);
        let mut keys = self.keys(iss, false).await?;
        if kid.is_none() && keys.len() > 1 {
            // RFC 7515 §4.1.4 leaves `kid` optional, but with several keys nothing says which
            // one signed; verifiers refuse rather than try each (jose: "multiple matching keys
            // found in the JSON Web Key Set"). Databricks' wording is not published.
            return Err("Token has no kid, and the issuer's JWKS has several keys".into());
        }
        let matching =
            |keys: &[Key]| keys.iter().any(|k| k.alg == alg && (kid.is_none() || k.kid.as_deref() == kid));
        if !matching(&keys) {
            keys = self.keys(iss, true).await?;
            if !matching(&keys) {
                return Err("Token signing key is unknown".into());
            }
        }
        let mut validation = Validation::new(alg);
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        let signed = keys
            .iter()
            .filter(|k| k.alg == alg && (kid.is_none() || k.kid.as_deref() == kid))
            .any(|k| jsonwebtoken::decode::<Value>(token, &k.key, &validation).is_ok());
        if !signed {
            return Err("Invalid signature".into());
        }

        let exp = claims.get("exp").and_then(Value::as_i64).ok_or("Token has no expiry")?;
        // No leeway on `exp` for an exchange: the token minted must not outlive the subject
        // token, so one at or past its expiry could only buy a token of 0 s or less. Whether
        // Databricks grants a leeway here is not published; refusing is the strict assumption.
        if exp <= now {
            return Err("Token is expired".into());
        }
        if claims.get("nbf").and_then(Value::as_i64).is_some_and(|nbf| nbf.saturating_sub(LEEWAY) > now) {
            return Err("Token is not yet valid".into());
        }
        let audiences: Vec<&str> = match claims.get("aud") {
            Some(Value::String(a)) => vec![a.as_str()],
            Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        let candidates: Vec<&FederationPolicy> = candidates
            .into_iter()
            .filter(|p| p.audiences.iter().any(|a| audiences.contains(&a.as_str())))
            .collect();
        if candidates.is_empty() {
            return Err("Token audience is not allowed".into());
        }
        let mut refusal = "Token subject claim is missing";
        for policy in candidates {
            let Some(subject) = claims.get(&policy.subject_claim).and_then(Value::as_str) else {
                continue;
            };
            if policy.subject.as_deref().is_some_and(|want| want != subject) {
                refusal = "Token subject is not allowed";
                continue;
            }
            return Ok(Verified {
                principal: principal(&claims, subject, policy),
                expires_at: exp,
                is_user: policy.service_principal_client_id.is_none(),
            });
        }
        Err(refusal.into())
    }
}

fn principal(claims: &Value, subject: &str, policy: &FederationPolicy) -> Principal {
    if let Some(sp) = &policy.service_principal_client_id {
        return Principal { user_name: sp.clone(), display_name: sp.clone(), email: None };
    }
    let email = claims
        .get("email")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .or_else(|| subject.contains('@').then(|| subject.to_owned()));
    Principal {
        user_name: subject.to_owned(),
        display_name: claims.get("name").and_then(Value::as_str).unwrap_or(subject).to_owned(),
        email,
    }
}
