//! The IdP's signing keys and the JWKS that publishes them.
//!
//! Two keys exist from the start, RSA 2048 (`rs256-1`) and P-256 (`es256-1`), because real IdPs
//! use both and a client must verify either. Keys are generated per start and never persisted:
//! the devstack holds no secret worth keeping. The JWK members (`n`/`e`, `x`/`y`) are built here
//! from the key material rather than by a JWK library, so the published JWKS is exactly what a
//! verifier such as Databricks would fetch. Rotation replaces the RSA key under a new kid and the
//! old kid disappears, which is what makes "unknown kid" paths testable.

use std::sync::RwLock;
use std::sync::atomic::{AtomicU32, Ordering};

use anyhow::Context as _;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use p256::elliptic_curve::sec1::ToEncodedPoint as _;
use rand::RngCore as _;
use rand::rngs::OsRng;
use rsa::pkcs8::{EncodePrivateKey as _, LineEnding};
use rsa::traits::PublicKeyParts as _;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// Which key the IdP signs new tokens with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SigningAlg {
    /// RSASSA-PKCS1-v1_5 with SHA-256 (the default, like most IdPs).
    RS256,
    /// ECDSA P-256 with SHA-256.
    ES256,
}

struct KeyPair {
    kid: String,
    alg: Algorithm,
    encoding: EncodingKey,
    jwk: Value,
}

struct Inner {
    rsa: KeyPair,
    ec: KeyPair,
    current: SigningAlg,
}

/// The IdP's keys; cheap to read, rarely written.
pub(crate) struct SigningKeys {
    inner: RwLock<Inner>,
    rsa_generation: AtomicU32,
}

fn rsa_keypair(generation: u32) -> anyhow::Result<KeyPair> {
    let key = rsa::RsaPrivateKey::new(&mut OsRng, 2048).context("generating an RSA key")?;
    let pem = key.to_pkcs8_pem(LineEnding::LF).context("encoding the RSA key")?;
    let kid = format!("rs256-{generation}");
    let jwk = json!({
        "kty": "RSA",
        "kid": kid,
        "alg": "RS256",
        "use": "sig",
        "n": URL_SAFE_NO_PAD.encode(key.n().to_bytes_be()),
        "e": URL_SAFE_NO_PAD.encode(key.e().to_bytes_be()),
    });
    Ok(KeyPair {
        encoding: EncodingKey::from_rsa_pem(pem.as_bytes()).context("loading the RSA key")?,
        kid,
        alg: Algorithm::RS256,
        jwk,
    })
}

fn ec_keypair() -> anyhow::Result<KeyPair> {
    let key = p256::SecretKey::random(&mut OsRng);
    let pem = key.to_pkcs8_pem(LineEnding::LF).context("encoding the P-256 key")?;
    let point = key.public_key().to_encoded_point(false);
    let (x, y) = point.x().zip(point.y()).context("P-256 point at infinity")?;
    let kid = "es256-1".to_owned();
    let jwk = json!({
        "kty": "EC",
        "kid": kid,
        "alg": "ES256",
        "use": "sig",
        "crv": "P-256",
        "x": URL_SAFE_NO_PAD.encode(x),
        "y": URL_SAFE_NO_PAD.encode(y),
    });
    Ok(KeyPair {
        encoding: EncodingKey::from_ec_pem(pem.as_bytes()).context("loading the P-256 key")?,
        kid,
        alg: Algorithm::ES256,
        jwk,
    })
}

impl SigningKeys {
    /// Generates both keys (slow-ish: run it off the async threads).
    pub(crate) fn generate() -> anyhow::Result<Self> {
        Ok(Self {
            inner: RwLock::new(Inner { rsa: rsa_keypair(1)?, ec: ec_keypair()?, current: SigningAlg::RS256 }),
            rsa_generation: AtomicU32::new(1),
        })
    }

    /// The public JWKS document.
    pub(crate) fn jwks(&self) -> Value {
        let inner = self.inner.read().expect("keys poisoned");
        json!({ "keys": [inner.rsa.jwk, inner.ec.jwk] })
    }

    pub(crate) fn set_alg(&self, alg: SigningAlg) {
        self.inner.write().expect("keys poisoned").current = alg;
    }

    /// Signs `claims` with the current key; the header names its kid.
    pub(crate) fn sign(&self, claims: &Value) -> String {
        self.sign_with_kid(claims, true)
    }

    /// Signs `claims` with the current key, naming its kid in the header only when `with_kid`
    /// (a token without one is what some IdPs issue, and what a verifier facing a JWKS of
    /// several keys must refuse).
    pub(crate) fn sign_with_kid(&self, claims: &Value, with_kid: bool) -> String {
        let inner = self.inner.read().expect("keys poisoned");
        let key = match inner.current {
            SigningAlg::RS256 => &inner.rsa,
            SigningAlg::ES256 => &inner.ec,
        };
        let mut header = Header::new(key.alg);
        header.kid = with_kid.then(|| key.kid.clone());
        header.typ = Some("JWT".into());
        jsonwebtoken::encode(&header, claims, &key.encoding)
            .expect("signing with a freshly generated key cannot fail")
    }

    /// Replaces the RSA key with a new one under the next kid; returns that kid.
    pub(crate) async fn rotate_rsa(&self) -> String {
        let generation = self.rsa_generation.fetch_add(1, Ordering::SeqCst) + 1;
        let pair = tokio::task::spawn_blocking(move || rsa_keypair(generation))
            .await
            .expect("RSA key generation panicked")
            .expect("RSA key generation failed");
        let kid = pair.kid.clone();
        self.inner.write().expect("keys poisoned").rsa = pair;
        tracing::info!(%kid, "devstack RSA signing key rotated");
        kid
    }
}

/// `n` random bytes as lowercase hex.
pub(crate) fn random_hex(n: usize) -> String {
    random_bytes(n).iter().map(|b| format!("{b:02x}")).collect()
}

/// `n` random bytes as unpadded base64url (for codes and opaque tokens).
pub(crate) fn random_b64(n: usize) -> String {
    URL_SAFE_NO_PAD.encode(random_bytes(n))
}

/// A random version-4 UUID string.
pub(crate) fn random_uuid() -> String {
    let mut b = random_bytes(16);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
}

pub(crate) fn random_bytes(n: usize) -> Vec<u8> {
    let mut b = vec![0u8; n];
    OsRng.fill_bytes(&mut b);
    b
}
