//! The three error dialects the devstack speaks, plus small request-parsing helpers shared by the
//! IdP and the workspaces.
//!
//! - OAuth token endpoints (IdP `/token`, workspace `/oidc/v1/token`): RFC 6749 §5.2,
//!   `{"error": "...", "error_description": "..."}`.
//! - Databricks REST APIs (SCIM, serving): `{"error_code": "...", "message": "..."}`.
//! - Browser-facing `/authorize`: a small HTML page naming the problem (a redirect URI that
//!   failed validation must never be redirected to, RFC 6749 §4.1.2.1).

use std::collections::HashMap;

use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::json;

/// An RFC 6749 §5.2 error response.
pub(crate) fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    let mut resp =
        (status, axum::Json(json!({ "error": error, "error_description": description }))).into_response();
    resp.headers_mut().insert(header::CACHE_CONTROL, "no-store".parse().expect("static"));
    resp
}

/// A Databricks REST error response.
pub(crate) fn databricks_error(status: StatusCode, error_code: &str, message: &str) -> Response {
    (status, axum::Json(json!({ "error_code": error_code, "message": message }))).into_response()
}

/// An HTML error page for the browser leg of the flow.
pub(crate) fn html_error(status: StatusCode, problem: &str) -> Response {
    let body = format!(
        "<!doctype html><html><head><title>Sign-in error</title></head><body>\
         <h1>Sign-in request refused</h1><p id=\"error\">{}</p></body></html>",
        escape_html(problem)
    );
    (status, Html(body)).into_response()
}

/// Escapes text for HTML element content and attribute values.
pub(crate) fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Parses an `application/x-www-form-urlencoded` body (last value wins on repeats).
pub(crate) fn parse_form(body: &[u8]) -> HashMap<String, String> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

/// A token-endpoint request whose body is not a form; answers as `invalid_request`.
#[derive(Debug)]
pub(crate) struct NotAForm {
    path: &'static str,
}

impl IntoResponse for NotAForm {
    fn into_response(self) -> Response {
        let path = self.path;
        oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            &format!(
                "only application/x-www-form-urlencoded content-type bodies are supported on POST {path}"
            ),
        )
    }
}

/// The form of a token-endpoint request, whose body RFC 6749 §4.1.3 and §3.2 require to be
/// `application/x-www-form-urlencoded`. Another media type is refused as `invalid_request`, in
/// the words of the certified `oidc-provider` (`lib/shared/selective_body.js`); a request with no
/// `Content-Type` at all has no parameters, as there, so it fails on the first one it lacks.
pub(crate) fn token_form(
    headers: &HeaderMap,
    body: &[u8],
    path: &'static str,
) -> Result<HashMap<String, String>, NotAForm> {
    let Some(content_type) = headers.get(header::CONTENT_TYPE) else {
        return Ok(HashMap::new());
    };
    let media_type = content_type.to_str().unwrap_or_default().split(';').next().unwrap_or_default();
    if media_type.trim().eq_ignore_ascii_case("application/x-www-form-urlencoded") {
        return Ok(parse_form(body));
    }
    Err(NotAForm { path })
}

/// The credentials of an `Authorization: Basic` header, if any (RFC 6749 §2.3.1).
pub(crate) fn basic_auth(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, rest) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(rest.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    Some((id.to_owned(), secret.to_owned()))
}

/// The token of an `Authorization: Bearer` header, if any.
pub(crate) fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim()).filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(escape_html("<a href=\"x\">&'"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
    }

    #[test]
    fn token_forms_must_be_urlencoded() {
        let mut h = HeaderMap::new();
        assert!(token_form(&h, b"grant_type=x", "/token").unwrap().is_empty(), "no type, no parameters");
        h.insert(header::CONTENT_TYPE, "Application/X-WWW-Form-Urlencoded; charset=UTF-8".parse().unwrap());
        assert_eq!(token_form(&h, b"grant_type=x", "/token").unwrap()["grant_type"], "x");
        for refused in ["application/json", "text/plain", "multipart/form-data; boundary=x"] {
            h.insert(header::CONTENT_TYPE, refused.parse().unwrap());
            let resp = token_form(&h, b"grant_type=x", "/token").unwrap_err().into_response();
            assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{refused}");
        }
    }

    #[test]
    fn reads_basic_and_bearer() {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, "Basic aWQ6c2VjcmV0".parse().unwrap());
        assert_eq!(basic_auth(&h), Some(("id".into(), "secret".into())));
        assert_eq!(bearer(&h), None);
        h.insert(header::AUTHORIZATION, "bearer abc".parse().unwrap());
        assert_eq!(bearer(&h), Some("abc"));
    }
}
