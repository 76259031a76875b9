//! Plain-HTTP helpers: a PKCE pair, the sign-in dance, and token exchange, all over loopback.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use lakepass_devstack::{Devstack, DevstackOptions};
use rand::RngCore as _;
use reqwest::StatusCode;
use serde_json::Value;
use sha2::{Digest as _, Sha256};

pub const REDIRECT_URI: &str = "http://127.0.0.1:9/callback";
pub const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
pub const JWT_TYPE: &str = "urn:ietf:params:oauth:token-type:jwt";

/// A devstack that signs everyone in as `alice@example.com` without a login page.
pub async fn auto_approving() -> Devstack {
    lakepass_devstack::start(DevstackOptions {
        auto_approve: Some("alice@example.com".into()),
        ..Default::default()
    })
    .await
    .expect("devstack starts")
}

/// A client that shows redirects instead of following them.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).no_proxy().build().unwrap()
}

pub struct Pkce {
    pub verifier: String,
    pub challenge: String,
}

pub fn pkce() -> Pkce {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let verifier = URL_SAFE_NO_PAD.encode(bytes);
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    Pkce { verifier, challenge }
}

pub fn authorize_url(issuer: &str, pkce: &Pkce, scope: &str) -> String {
    let mut url = url::Url::parse(&format!("{issuer}/authorize")).unwrap();
    url.query_pairs_mut()
        .append_pair("client_id", "lakepass-dev")
        .append_pair("response_type", "code")
        .append_pair("redirect_uri", REDIRECT_URI)
        .append_pair("code_challenge", &pkce.challenge)
        .append_pair("code_challenge_method", "S256")
        .append_pair("state", "state-123")
        .append_pair("nonce", "nonce-456")
        .append_pair("scope", scope);
    url.into()
}

/// The value of query parameter `key` in a redirect's Location.
pub fn location_param(resp: &reqwest::Response, key: &str) -> String {
    let location = resp.headers()["location"].to_str().unwrap();
    let url = url::Url::parse(location).unwrap();
    assert!(location.starts_with(REDIRECT_URI), "{location}");
    url.query_pairs()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| panic!("{key} missing from {location}"))
}

/// Follows `/authorize` on an auto-approving devstack; returns the code.
pub async fn authorize(stack: &Devstack, pkce: &Pkce, scope: &str) -> String {
    let resp = client().get(authorize_url(&stack.info().issuer, pkce, scope)).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::FOUND);
    location_param(&resp, "code")
}

/// `POST /token` with form `params`; returns status and JSON.
pub async fn idp_token(stack: &Devstack, params: &[(&str, &str)]) -> (StatusCode, Value) {
    let resp = client().post(format!("{}/token", stack.info().issuer)).form(params).send().await.unwrap();
    (resp.status(), resp.json().await.unwrap())
}

pub async fn redeem(stack: &Devstack, code: &str, verifier: &str) -> (StatusCode, Value) {
    idp_token(
        stack,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", "lakepass-dev"),
            ("code", code),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", verifier),
        ],
    )
    .await
}

pub async fn refresh(stack: &Devstack, refresh_token: &str) -> (StatusCode, Value) {
    idp_token(
        stack,
        &[("grant_type", "refresh_token"), ("client_id", "lakepass-dev"), ("refresh_token", refresh_token)],
    )
    .await
}

/// Signs in as alice with `openid email offline_access`; returns the token response.
pub async fn sign_in(stack: &Devstack) -> Value {
    let pkce = pkce();
    let code = authorize(stack, &pkce, "openid email offline_access").await;
    let (status, body) = redeem(stack, &code, &pkce.verifier).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

pub fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or_else(|| panic!("{key} missing in {v}"))
}

/// Decodes one JWT part (0 = header, 1 = claims) without verifying.
pub fn jwt_part(jwt: &str, index: usize) -> Value {
    let part = jwt.split('.').nth(index).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

/// The host of workspace `name`.
pub fn host(stack: &Devstack, name: &str) -> String {
    stack.info().workspaces.iter().find(|w| w.name == name).unwrap().host.clone()
}

/// RFC 8693 exchange at workspace `name`.
pub async fn exchange(
    stack: &Devstack,
    name: &str,
    subject_token: &str,
    extra: &[(&str, &str)],
) -> (StatusCode, Value) {
    let mut form = vec![
        ("grant_type", TOKEN_EXCHANGE),
        ("subject_token_type", JWT_TYPE),
        ("subject_token", subject_token),
    ];
    if !extra.iter().any(|(k, _)| *k == "scope") {
        form.push(("scope", "all-apis"));
    }
    form.extend_from_slice(extra);
    let resp =
        client().post(format!("{}/oidc/v1/token", host(stack, name))).form(&form).send().await.unwrap();
    (resp.status(), resp.json().await.unwrap())
}

/// `GET /api/2.0/preview/scim/v2/Me` with a Bearer token.
pub async fn scim_me(stack: &Devstack, name: &str, token: &str) -> (StatusCode, Value) {
    let resp = client()
        .get(format!("{}/api/2.0/preview/scim/v2/Me", host(stack, name)))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    (resp.status(), resp.json().await.unwrap())
}
