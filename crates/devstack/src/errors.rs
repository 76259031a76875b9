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
    fn reads_basic_and_bearer() {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, "Basic aWQ6c2VjcmV0".parse().unwrap());
        assert_eq!(basic_auth(&h), Some(("id".into(), "secret".into())));
        assert_eq!(bearer(&h), None);
        h.insert(header::AUTHORIZATION, "bearer abc".parse().unwrap());
        assert_eq!(bearer(&h), Some("abc"));
    }
}
