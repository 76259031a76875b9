//! JWTs from the IdP: decoding for display and expiry, and verification of id_tokens.
//!
//! Two jobs, kept apart. [`decode_unverified`] reads a JWT's header and claims without checking
//! the signature — enough to learn `exp` for scheduling and to show `iss`/`aud`/`sub` in
//! `doctor` — and refuses malformed input with a precise reason and hard size limits.
//! [`verify`] checks a signature against the issuer's JWKS (RS256/ES256 only; `none` and HMAC
//! are refused outright) plus `iss`, `aud`, `nonce` and `exp`, with time from an injected clock.
//! Signature maths is jsonwebtoken's; we only choose what to accept.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;

use crate::clock::UnixTime;
use crate::text::server_text;

/// The longest JWT we look at. Real id_tokens are 1–4 KiB.
pub(crate) const MAX_JWT_LEN: usize = 16 * 1024;
/// Clock leeway when checking `exp`.
pub const LEEWAY_SECS: i64 = 60;
/// The last second of the year 9999 (RFC 7519 §2 NumericDate): an `exp` past it, or before
/// 1970, is no date at all but a number meant to overflow whoever adds to it.
pub const MAX_NUMERIC_DATE: i64 = 253_402_300_799;

/// Why a JWT was refused. Messages never contain the token.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum JwtError {
    /// Not three dot-separated parts.
    #[error("not a JWT: expected 3 dot-separated parts, found {0}")]
    Parts(usize),
    /// Larger than [`MAX_JWT_LEN`].
    #[error("JWT is {0} bytes, larger than the 16 KiB limit")]
    TooLarge(usize),
    /// A part is not base64url.
    #[error("JWT {part} is not valid base64url")]
    Base64 {
        /// "header", "payload" or "signature".
        part: &'static str,
    },
    /// A part is not a JSON object.
    #[error("JWT {part} is not a JSON object: {message}")]
    Json {
        /// "header" or "payload".
        part: &'static str,
        /// The parser's complaint.
        message: String,
    },
    /// `alg` is none, HMAC or unknown.
    #[error("JWT is signed with `{0}`; only RS256 and ES256 are accepted")]
    Algorithm(String),
    /// The `kid` is not in the issuer's JWKS.
    #[error("JWT key id `{0}` is not in the issuer's JWKS (keys rotated, or a token from another issuer)")]
    UnknownKey(String),
    /// Bad signature.
    #[error("JWT signature does not verify against the issuer's JWKS")]
    Signature,
    /// `iss` differs.
    #[error("JWT issuer `{found}` is not the expected `{expected}`")]
    Issuer {
        /// Expected issuer.
        expected: String,
        /// What the token says.
        found: String,
    },
    /// `aud` does not contain the expected audience.
    #[error("JWT audience {found} does not contain `{expected}`")]
    Audience {
        /// Expected audience.
        expected: String,
        /// What the token says.
        found: String,
    },
    /// `nonce` differs from the one we sent.
    #[error("id_token nonce does not match the sign-in request (possible replay); sign in again")]
    Nonce,
    /// Expired.
    #[error("JWT expired {0} seconds ago")]
    Expired(i64),
    /// A required claim is missing or has the wrong type.
    #[error("JWT has no valid `{0}` claim")]
    MissingClaim(&'static str),
}

/// A JWT's header and claims, signature not checked.
#[derive(Debug, Clone)]
pub struct UnverifiedJwt {
    /// The JOSE header.
    pub header: serde_json::Map<String, Value>,
    /// The claims.
    pub claims: serde_json::Map<String, Value>,
}

impl UnverifiedJwt {
    /// `alg` from the header.
    pub fn alg(&self) -> Option<&str> {
        self.header.get("alg").and_then(Value::as_str)
    }
    /// `kid` from the header.
    pub fn kid(&self) -> Option<&str> {
        self.header.get("kid").and_then(Value::as_str)
    }
    /// A string claim.
    pub fn str_claim(&self, name: &str) -> Option<&str> {
        self.claims.get(name).and_then(Value::as_str)
    }
    /// `exp`, when it is a number that is a date (1970 ..= [`MAX_NUMERIC_DATE`]).
    pub fn exp(&self) -> Option<UnixTime> {
        self.claims.get("exp").and_then(Value::as_i64).filter(|e| (0..=MAX_NUMERIC_DATE).contains(e))
    }
    /// `iat`, when it is a number.
    pub fn iat(&self) -> Option<UnixTime> {
        self.claims.get("iat").and_then(Value::as_i64)
    }
    /// `aud` as a list (a single string becomes one element).
    pub fn audiences(&self) -> Vec<String> {
        match self.claims.get("aud") {
            Some(Value::String(s)) => vec![s.clone()],
            Some(Value::Array(a)) => a.iter().filter_map(|v| v.as_str().map(String::from)).collect(),
            _ => Vec::new(),
        }
    }
}

/// Decodes a JWT without verifying it.
pub fn decode_unverified(token: &str) -> Result<UnverifiedJwt, JwtError> {
    let token = token.trim();
    if token.len() > MAX_JWT_LEN {
        return Err(JwtError::TooLarge(token.len()));
    }
    let parts: Vec<&str> = token.split('.').collect();
    if parts.len() != 3 {
        return Err(JwtError::Parts(parts.len()));
    }
    let header = json_part(parts[0], "header")?;
    let claims = json_part(parts[1], "payload")?;
    URL_SAFE_NO_PAD.decode(parts[2]).map_err(|_| JwtError::Base64 { part: "signature" })?;
    Ok(UnverifiedJwt { header, claims })
}

fn json_part(part: &str, name: &'static str) -> Result<serde_json::Map<String, Value>, JwtError> {
    let bytes = URL_SAFE_NO_PAD.decode(part).map_err(|_| JwtError::Base64 { part: name })?;
    // serde_json refuses nesting deeper than 128 levels, so JSON bombs stop early.
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(JwtError::Json { part: name, message: "not an object".into() }),
        Err(e) => Err(JwtError::Json { part: name, message: e.to_string() }),
    }
}

/// What a verified id_token must satisfy.
#[derive(Debug, Clone)]
pub struct Expectations<'a> {
    /// Exact issuer string.
    pub issuer: &'a str,
    /// Audience (the client id).
    pub audience: &'a str,
    /// The nonce we sent, for id_tokens from the authorization-code flow.
    pub nonce: Option<&'a str>,
    /// Now, from the injected clock.
    pub now: UnixTime,
}

/// Verifies signature and claims; returns the decoded token.
pub fn verify(token: &str, jwks: &JwkSet, want: &Expectations<'_>) -> Result<UnverifiedJwt, JwtError> {
    let jwt = decode_unverified(token)?;
    let alg = match jwt.alg() {
        Some("RS256") => Algorithm::RS256,
        Some("ES256") => Algorithm::ES256,
        other => return Err(JwtError::Algorithm(server_text(other.unwrap_or("(missing)")))),
    };
    let kid = jwt.kid().unwrap_or("");
    let jwk = if kid.is_empty() {
        // No kid: acceptable only when the JWKS has exactly one key.
        (jwks.keys.len() == 1).then(|| &jwks.keys[0])
    } else {
        jwks.find(kid)
    }
    .ok_or_else(|| JwtError::UnknownKey(if kid.is_empty() { "(none)".into() } else { server_text(kid) }))?;
    let key = DecodingKey::from_jwk(jwk).map_err(|_| JwtError::Signature)?;
    let mut validation = Validation::new(alg);
    // Claims are checked below against the injected clock and with our own error messages.
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    jsonwebtoken::decode::<serde_json::Map<String, Value>>(token.trim(), &key, &validation)
        .map_err(|_| JwtError::Signature)?;

    let iss = jwt.str_claim("iss").ok_or(JwtError::MissingClaim("iss"))?;
    if iss != want.issuer {
        return Err(JwtError::Issuer { expected: want.issuer.into(), found: server_text(iss) });
    }
    let auds = jwt.audiences();
    if !auds.iter().any(|a| a == want.audience) {
        return Err(JwtError::Audience {
            expected: want.audience.into(),
            found: server_text(&format!("{auds:?}")),
        });
    }
    if let Some(nonce) = want.nonce
        && jwt.str_claim("nonce") != Some(nonce)
    {
        return Err(JwtError::Nonce);
    }
    let exp = jwt.exp().ok_or(JwtError::MissingClaim("exp"))?;
    if let Some(seconds_ago) = expired_for(exp, want.now) {
        return Err(JwtError::Expired(seconds_ago));
    }
    Ok(jwt)
}

/// How long ago a token with this `exp` expired, when it is past [`LEEWAY_SECS`] at `now`;
/// `None` while it is still valid.
///
/// `exp` is the server's number: an id_token may say `i64::MAX` or `i64::MIN`, so the sums
/// saturate instead of overflowing (which panics a debug build and wraps a release one into
/// "valid" or "expired" at random). The clamp to a sane lifetime comes after, in
/// `clock::clamp_expiry`.
pub fn expired_for(exp: UnixTime, now: UnixTime) -> Option<i64> {
    (exp.saturating_add(LEEWAY_SECS) < now).then(|| now.saturating_sub(exp))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> String {
        URL_SAFE_NO_PAD.encode(s)
    }

    #[test]
    fn decodes_claims_without_verifying() {
        let t = format!(
            "{}.{}.{}",
            b64(r#"{"alg":"RS256","kid":"k1"}"#),
            b64(r#"{"iss":"https://i","aud":["a","b"],"exp":10}"#),
            b64("sig")
        );
        let j = decode_unverified(&t).unwrap();
        assert_eq!(j.alg(), Some("RS256"));
        assert_eq!(j.kid(), Some("k1"));
        assert_eq!(j.audiences(), vec!["a", "b"]);
        assert_eq!(j.exp(), Some(10));
    }

    #[test]
    fn malformed_tokens_get_precise_errors() {
        let h = b64(r#"{"alg":"RS256"}"#);
        let p = b64(r#"{"exp":1}"#);
        assert_eq!(decode_unverified("abc").unwrap_err(), JwtError::Parts(1));
        assert_eq!(decode_unverified("a.b.c.d").unwrap_err(), JwtError::Parts(4));
        assert_eq!(decode_unverified(&format!("!!.{p}.x")).unwrap_err(), JwtError::Base64 { part: "header" });
        assert_eq!(
            decode_unverified(&format!("{h}.{p}.%%")).unwrap_err(),
            JwtError::Base64 { part: "signature" }
        );
        assert!(matches!(
            decode_unverified(&format!("{h}.{}.x", b64("[1]"))).unwrap_err(),
            JwtError::Json { part: "payload", .. }
        ));
        let bomb = format!("{h}.{}.x", b64(&format!("{}{}", "[".repeat(5000), "]".repeat(5000))));
        assert!(matches!(
            decode_unverified(&bomb).unwrap_err(),
            JwtError::Json { .. } | JwtError::TooLarge(_)
        ));
        let huge = format!("{h}.{}.x", "A".repeat(MAX_JWT_LEN));
        assert!(matches!(decode_unverified(&huge).unwrap_err(), JwtError::TooLarge(_)));
    }

    #[test]
    fn extreme_exp_values_neither_overflow_nor_pass_as_expired() {
        assert_eq!(expired_for(i64::MAX, 1_000), None);
        assert_eq!(expired_for(i64::MIN, 1_000), Some(i64::MAX));
        assert_eq!(expired_for(i64::MIN, i64::MIN), None);
        assert_eq!(expired_for(100, 161), Some(61));
        assert_eq!(expired_for(100, 160), None);
        let with_exp = |exp: i64| {
            let t =
                format!("{}.{}.{}", b64(r#"{"alg":"RS256"}"#), b64(&format!(r#"{{"exp":{exp}}}"#)), b64("s"));
            decode_unverified(&t).unwrap().exp()
        };
        assert_eq!(with_exp(i64::MAX), None);
        assert_eq!(with_exp(i64::MIN), None);
        assert_eq!(with_exp(-1), None);
        assert_eq!(with_exp(MAX_NUMERIC_DATE), Some(MAX_NUMERIC_DATE));
        assert_eq!(with_exp(1_700_000_000), Some(1_700_000_000));
    }

    #[test]
    fn none_and_hmac_are_refused_before_any_key_lookup() {
        let jwks = JwkSet { keys: vec![] };
        let want = Expectations { issuer: "i", audience: "a", nonce: None, now: 0 };
        for alg in ["none", "HS256"] {
            let t = format!("{}.{}.", b64(&format!(r#"{{"alg":"{alg}"}}"#)), b64(r#"{"iss":"i"}"#));
            assert_eq!(verify(&t, &jwks, &want).unwrap_err(), JwtError::Algorithm(alg.into()));
        }
    }
}
