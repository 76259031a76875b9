//! The IdP's browser-facing half: discovery, JWKS, `/authorize` and its login page.
//!
//! `/authorize` is strict on purpose (PKCE S256 only, `state`, `nonce` and an `openid` scope all
//! required) so that a client bug shows up here rather than against a real IdP. A redirect URI
//! must be one the client registered, compared as a string; the only freedom is the one
//! RFC 8252 §7.3 demands for native apps: any port on a loopback IP literal (`127.0.0.1`,
//! `[::1]`), same path. `localhost` is not a loopback IP literal (RFC 8252 §8.3), so it is
//! refused unless registered, as the certified `oidc-provider` refuses it. Every refusal is an HTML 400 page naming the problem:
//! we never redirect to a URI we have not validated. The login page is plain HTML with one form so
//! tests can "sign in" with any HTTP client. The token endpoint lives in `idp_token.rs`.

use std::sync::Arc;

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::{StatusCode, header};
use axum::middleware::from_fn_with_state;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, body::Bytes};
use serde_json::{Value, json};
use url::Url;

use crate::errors::{escape_html, html_error, parse_form};
use crate::faults::{self, Listener, Site};
use crate::idp_token::AuthRequest;
use crate::owner::{self, ConnAddrs};
use crate::{CLIENT_ID, Shared, control, idp_token};

/// The IdP listener's routes (including the `/_devstack` control endpoints).
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    let site = Site { listener: Listener::Idp, faults: shared.faults.clone() };
    Router::new()
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/jwks", get(jwks))
        .route("/authorize", get(authorize))
        .route("/authorize/login", post(login))
        .route("/token", post(idp_token::token))
        .merge(control::routes())
        .layer(from_fn_with_state(site, faults::middleware))
        .with_state(shared)
}

async fn discovery(State(shared): State<Arc<Shared>>) -> Json<Value> {
    let iss = &shared.info.issuer;
    Json(json!({
        "issuer": iss,
        "authorization_endpoint": format!("{iss}/authorize"),
        "token_endpoint": format!("{iss}/token"),
        "jwks_uri": format!("{iss}/jwks"),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "subject_types_supported": ["public"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "code_challenge_methods_supported": ["S256"],
        "id_token_signing_alg_values_supported": ["RS256", "ES256"],
        "token_endpoint_auth_methods_supported": ["none"],
        "scopes_supported": ["openid", "email", "profile", "offline_access"],
        "claims_supported": ["iss", "sub", "aud", "exp", "iat", "email", "name", "nonce"],
        "authorization_response_iss_parameter_supported": true,
    }))
}

async fn jwks(State(shared): State<Arc<Shared>>) -> Response {
    ([(header::CACHE_CONTROL, "max-age=300")], Json(shared.keys.jwks())).into_response()
}

/// A client registered at the devstack IdP, as an administrator registers one at a real IdP.
#[derive(Debug, Clone)]
pub(crate) struct Client {
    /// Its `client_id`.
    pub(crate) id: String,
    /// The registered redirect URIs (see [`redirect_allowed`]).
    pub(crate) redirect_uris: Vec<String>,
    /// Whether a refresh answer carries a new id_token. OIDC Core §12.2 says it "might not";
    /// an IdP set up so (or asked without `openid`) answers a refresh with access and refresh
    /// tokens only.
    pub(crate) id_token_on_refresh: bool,
}

impl Client {
    /// The one public client the devstack knows ([`CLIENT_ID`]): a native app redirecting to
    /// `/callback` on either loopback address, any port.
    pub(crate) fn lakepass_dev(id_token_on_refresh: bool) -> Self {
        Self {
            id: CLIENT_ID.to_owned(),
            redirect_uris: vec!["http://127.0.0.1/callback".into(), "http://[::1]/callback".into()],
            id_token_on_refresh,
        }
    }
}

/// `uri` with the port taken out of its authority when that is a loopback IP literal on `http`,
/// compared as written, as `oidc-provider` does (`lib/models/client.js`, `stripLoopbackPort`).
fn without_loopback_port(uri: &str) -> Option<String> {
    let rest = uri.strip_prefix("http://")?;
    let (authority, tail) = rest.split_at(rest.find(['/', '?', '#']).unwrap_or(rest.len()));
    let is_port = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    let host = ["127.0.0.1", "[::1]"].into_iter().find(|h| {
        authority == *h || authority.strip_prefix(h).and_then(|p| p.strip_prefix(':')).is_some_and(is_port)
    })?;
    Some(format!("http://{host}{tail}"))
}

/// Whether `requested` is one of `registered`: the same string, or (RFC 8252 §7.3) the same but
/// for the port of a loopback IP literal.
fn redirect_allowed(requested: &str, registered: &[String]) -> bool {
    registered.iter().any(|r| r == requested)
        || without_loopback_port(requested)
            .is_some_and(|w| registered.iter().any(|r| without_loopback_port(r).as_deref() == Some(&w)))
}

/// Validates an authorization request (RFC 6749 §4.1.1, RFC 7636 §4.3, OIDC Core §3.1.2.1) from
/// one of `clients`.
fn validate(
    query: &std::collections::HashMap<String, String>,
    clients: &[Client],
) -> Result<AuthRequest, String> {
    let get = |k: &str| query.get(k).map(String::as_str).filter(|v| !v.is_empty());
    let client_id = get("client_id").ok_or("client_id is missing")?;
    let client = clients
        .iter()
        .find(|c| c.id == client_id)
        .ok_or_else(|| format!("Unknown client_id {client_id:?}"))?;
    let redirect_uri = get("redirect_uri").ok_or("redirect_uri is missing")?;
    Url::parse(redirect_uri).map_err(|_| "redirect_uri is not a valid URL")?;
    if !redirect_allowed(redirect_uri, &client.redirect_uris) {
        // oidc-provider's words (lib/helpers/errors.js).
        return Err("redirect_uri did not match any of the client's registered redirect_uris".into());
    }
    match get("response_type") {
        Some("code") => {}
        Some(other) => {
            return Err(format!("response_type {other:?} is not supported; use code"));
        }
        None => return Err("response_type is missing".into()),
    }
    let challenge = get("code_challenge").ok_or("PKCE code_challenge is missing")?;
    match get("code_challenge_method") {
        Some("S256") => {}
        Some(other) => {
            return Err(format!("PKCE code_challenge_method {other:?} is refused; use S256"));
        }
        None => return Err("PKCE code_challenge_method is missing; use S256".into()),
    }
    let valid_challenge = challenge.len() == 43
        && challenge.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !valid_challenge {
        return Err("PKCE code_challenge is not a base64url SHA-256 digest".into());
    }
    let state = get("state").ok_or("state is missing")?;
    let nonce = get("nonce").ok_or("nonce is missing")?;
    let scope = get("scope").ok_or("scope is missing")?;
    if !scope.split(' ').any(|s| s == "openid") {
        return Err("scope must contain openid".into());
    }
    Ok(AuthRequest {
        client_id: client_id.to_owned(),
        redirect_uri: redirect_uri.to_owned(),
        code_challenge: challenge.to_owned(),
        state: state.to_owned(),
        nonce: Some(nonce.to_owned()),
        scope: scope.to_owned(),
    })
}

async fn authorize(
    State(shared): State<Arc<Shared>>,
    RawQuery(query): RawQuery,
    addrs: Option<Extension<ConnAddrs>>,
) -> Response {
    let query = parse_form(query.unwrap_or_default().as_bytes());
    let req = match validate(&query, &shared.clients) {
        Ok(req) => req,
        Err(problem) => return html_error(StatusCode::BAD_REQUEST, &problem),
    };
    if let Some(email) = &shared.auto_approve {
        // Auto-approval signs in without a page: only for the user who started the devstack.
        if !owner::from_this_user(addrs.as_deref()).await {
            return owner::refusal_page();
        }
        return approve(&shared, req, email);
    }
    let request_id = shared.idp.lock().expect("idp store poisoned").add_pending(req);
    login_page(&request_id, None, StatusCode::OK)
}

fn login_page(request_id: &str, problem: Option<&str>, status: StatusCode) -> Response {
    let problem = problem.map(|p| format!("<p id=\"error\">{}</p>", escape_html(p))).unwrap_or_default();
    let body = format!(
        "<!doctype html><html><head><title>Lakepass devstack sign-in</title></head><body>\
         <h1>Sign in to the Lakepass devstack</h1>{problem}\
         <form method=\"post\" action=\"/authorize/login\">\
         <input type=\"hidden\" name=\"request_id\" value=\"{}\">\
         <label>Email <input type=\"email\" name=\"email\" required autofocus></label>\
         <button type=\"submit\">Sign in</button></form>\
         <p>Any email is accepted: this is a local test identity provider.</p></body></html>",
        escape_html(request_id)
    );
    (status, Html(body)).into_response()
}

async fn login(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let form = parse_form(&body);
    let request_id = form.get("request_id").cloned().unwrap_or_default();
    let email = form.get("email").map(|e| e.trim()).unwrap_or_default();
    let valid_email = email.contains('@') && !email.contains(char::is_whitespace);
    let mut store = shared.idp.lock().expect("idp store poisoned");
    if !store.has_pending(&request_id) {
        return html_error(
            StatusCode::BAD_REQUEST,
            "This sign-in request is unknown or has expired; start the sign-in again",
        );
    }
    if !valid_email {
        return login_page(&request_id, Some("Enter an email address"), StatusCode::BAD_REQUEST);
    }
    let req = store.take_pending(&request_id).expect("checked above");
    drop(store);
    approve(&shared, req, email)
}

/// Issues a code for `email` and sends the browser back to the client (RFC 9207 adds `iss`).
fn approve(shared: &Shared, req: AuthRequest, email: &str) -> Response {
    let mut url = Url::parse(&req.redirect_uri).expect("validated in /authorize");
    let state = req.state.clone();
    // Signing someone in provisions their account user, as an IdP's SCIM provisioning would.
    shared.account.add_user(&crate::idp_token::subject_for(email));
    let code = shared.idp.lock().expect("idp store poisoned").issue_code(req, email);
    url.query_pairs_mut()
        .append_pair("code", &code)
        .append_pair("state", &state)
        .append_pair("iss", &shared.info.issuer);
    tracing::info!(email, "devstack IdP approved a sign-in");
    (StatusCode::FOUND, [(header::LOCATION, url.to_string())]).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(pairs: &[(&str, &str)]) -> std::collections::HashMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect()
    }

    fn good() -> Vec<(&'static str, &'static str)> {
        vec![
            ("client_id", "lakepass-dev"),
            ("redirect_uri", "http://127.0.0.1:5000/callback"),
            ("response_type", "code"),
            ("code_challenge", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"),
            ("code_challenge_method", "S256"),
            ("state", "s"),
            ("nonce", "n"),
            ("scope", "openid email offline_access"),
        ]
    }

    fn clients() -> Vec<Client> {
        vec![Client::lakepass_dev(true)]
    }

    #[test]
    fn accepts_a_loopback_pkce_request() {
        let req = validate(&query(&good()), &clients()).unwrap();
        assert_eq!(req.redirect_uri, "http://127.0.0.1:5000/callback");
    }

    #[test]
    fn redirect_uris_are_exact_but_for_a_loopback_port() {
        let registered = Client::lakepass_dev(true).redirect_uris;
        for ok in [
            "http://127.0.0.1/callback",
            "http://127.0.0.1:5000/callback",
            "http://127.0.0.1:1/callback",
            "http://[::1]:65535/callback",
        ] {
            assert!(redirect_allowed(ok, &registered), "{ok}");
        }
        for refused in [
            "http://localhost:5000/callback",
            "http://127.0.0.2:5000/callback",
            "http://127.0.0.1:5000/callback/",
            "http://127.0.0.1:5000/other",
            "http://127.0.0.1:5000/callback?x=1",
            "http://127.0.0.1:5000/callback#f",
            "http://127.0.0.1:/callback",
            "http://127.0.0.1:5000@evil.example/callback",
            "https://127.0.0.1:5000/callback",
            "http://127.0.0.1.evil.example/callback",
        ] {
            assert!(!redirect_allowed(refused, &registered), "{refused}");
        }
    }

    #[test]
    fn refuses_what_a_strict_idp_refuses() {
        let cases = [
            ("redirect_uri", "https://evil.example/cb", "registered redirect_uris"),
            ("redirect_uri", "http://localhost:5000/callback", "registered redirect_uris"),
            ("code_challenge_method", "plain", "S256"),
            ("scope", "email", "openid"),
            ("client_id", "other", "Unknown client_id"),
        ];
        for (key, value, expect) in cases {
            let mut q = good();
            q.retain(|(k, _)| *k != key);
            q.push((key, value));
            let err = validate(&query(&q), &clients()).unwrap_err();
            assert!(err.contains(expect), "{key}={value}: {err}");
        }
        let mut q = good();
        q.retain(|(k, _)| *k != "code_challenge_method");
        assert!(validate(&query(&q), &clients()).unwrap_err().contains("missing"));
    }
}
