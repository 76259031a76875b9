//! The proxy's decisions, pure: which grant a request is for ([`admit`]), where it goes
//! ([`target_url`]), which headers go with it ([`forwarded_headers`], [`returned_headers`]) and
//! whether an answer means the token must be renewed ([`needs_new_token`]). The IO around them
//! is `server.rs`.

use axum::http::{HeaderMap, HeaderName, StatusCode, Uri, header};

use crate::serve::{BrowserSigns, Refusal, refuse_browser_or_rebinding};
use lakepass_wire::host::WorkspaceHost;
use lakepass_wire::secret::Secret;

/// The largest request body kept for a retry after a token renewal: a larger one still
/// streams through, and is not retried. Coding agents' requests are JSON of a few KiB to a
/// few MiB (a long conversation with files in it).
pub const MAX_REPLAY: usize = 8 * 1024 * 1024;

/// How much of a 400 answer is read to see whether it is the gateway's "Invalid Token".
pub(crate) const MAX_ERROR_PEEK: usize = 64 * 1024;

/// The headers an agent sends its own credential in, none of which reaches the workspace:
/// `Authorization` (OpenAI-style SDKs, Copilot), `x-api-key` (Anthropic), `x-goog-api-key`
/// (Google's GenAI SDK, Gemini CLI: googleapis/js-genai `src/_api_client.ts`), `api-key`
/// (Azure OpenAI-style clients). The workspace token replaces them.
pub const AGENT_CREDENTIAL_HEADERS: [&str; 4] = ["authorization", "x-api-key", "x-goog-api-key", "api-key"];

/// Hop-by-hop headers (RFC 9110 §7.6.1, and the de-facto `keep-alive` and `proxy-connection`):
/// they describe one connection, never the next one.
const HOP_BY_HOP: [&str; 9] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// Which grant a request is for (its index in `keys`), and the rest of its target (path and
/// query, starting with `/`), or why it is refused. A request must pass the live service's
/// walls ([`refuse_browser_or_rebinding`]) and start with a known key (`/<key>/…`), compared
/// in constant time with every key; an unknown key is [`Refusal::NotFound`], whatever else.
pub fn admit(target: &Uri, headers: &HeaderMap, keys: &[&Secret]) -> Result<(usize, String), Refusal> {
    refuse_browser_or_rebinding(target, headers, BrowserSigns::PageHeaders)?;
    let path = target.path();
    let after = path.strip_prefix('/').ok_or(Refusal::NotFound)?;
    let (given, rest) = match after.split_once('/') {
        Some((key, rest)) => (key, format!("/{rest}")),
        None => (after, "/".to_string()),
    };
    // Every key is compared (no early exit), so the time says nothing about which matched.
    let mut found = None;
    for (i, key) in keys.iter().enumerate() {
        if key.matches(given) && found.is_none() {
            found = Some(i);
        }
    }
    let index = found.ok_or(Refusal::NotFound)?;
    let query = target.query().map(without_key_param).filter(|q| !q.is_empty());
    Ok((
        index,
        match query {
            Some(q) => format!("{rest}?{q}"),
            None => rest,
        },
    ))
}

/// A query string without a `key` parameter: Google's APIs take an API key as `?key=`, and an
/// agent's own key never reaches the workspace.
fn without_key_param(query: &str) -> String {
    query
        .split('&')
        .filter(|pair| {
            let name = pair.split_once('=').map_or(*pair, |(n, _)| n);
            !name.eq_ignore_ascii_case("key")
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// `<host><rest>`, only when it is still on that host (the scheme, name and port the grant's
/// workspace has): whatever the path holds, a grant never reaches another server.
pub fn target_url(host: &WorkspaceHost, rest: &str) -> Option<String> {
    if !rest.starts_with('/') {
        return None;
    }
    let joined = format!("{}{rest}", host.as_str());
    let url = url::Url::parse(&joined).ok()?;
    let base = url::Url::parse(host.as_str()).ok()?;
    (url.origin() == base.origin()).then(|| url.to_string())
}

/// The names a `Connection` header lists, which are hop-by-hop too.
fn connection_listed(headers: &HeaderMap) -> Vec<HeaderName> {
    headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect()
}

fn strip_hop_by_hop(headers: &mut HeaderMap) {
    for name in connection_listed(headers) {
        headers.remove(name);
    }
    for name in HOP_BY_HOP {
        headers.remove(name);
    }
}

/// The agent's headers as they go to the workspace: without hop-by-hop headers, the agent's
/// own credentials ([`AGENT_CREDENTIAL_HEADERS`]), `Host` (the workspace's is set), `Expect`
/// and `Content-Length` (both are the proxy's own business with each side). The token is added
/// by the caller.
pub fn forwarded_headers(incoming: &HeaderMap) -> HeaderMap {
    let mut out = incoming.clone();
    strip_hop_by_hop(&mut out);
    for name in AGENT_CREDENTIAL_HEADERS {
        out.remove(name);
    }
    out.remove(header::HOST);
    out.remove(header::EXPECT);
    out.remove(header::CONTENT_LENGTH);
    out
}

/// The workspace's headers as they go back to the agent: without hop-by-hop headers.
pub fn returned_headers(upstream: &HeaderMap) -> HeaderMap {
    let mut out = upstream.clone();
    strip_hop_by_hop(&mut out);
    out
}

/// Whether an answer means the token was not accepted, so it is renewed once and the request
/// retried once: 401 and 403, or a 400 whose body says "Invalid Token" (what Databricks' AI
/// Gateway answers for an expired token on some paths: databricks/unity-gateway#451). `body`
/// is the start of a 400's body, when it was read.
pub fn needs_new_token(status: StatusCode, body: Option<&[u8]>) -> bool {
    match status {
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => true,
        StatusCode::BAD_REQUEST => body
            .is_some_and(|b| b.windows(INVALID_TOKEN.len()).any(|w| w.eq_ignore_ascii_case(INVALID_TOKEN))),
        _ => false,
    }
}

const INVALID_TOKEN: &[u8] = b"invalid token";

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(HeaderName::from_bytes(k.as_bytes()).unwrap(), HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn admits_only_a_known_key_from_loopback_and_keeps_the_rest() {
        let (a, b) = (crate::serve::new_path_secret(), crate::serve::new_path_secret());
        let keys = [&a, &b];
        let h = headers(&[("host", "127.0.0.1:4000")]);
        let uri: Uri =
            format!("/{}/ai-gateway/gemini/v1beta/models/m:streamGenerateContent?alt=sse", b.secret())
                .parse()
                .unwrap();
        assert_eq!(
            admit(&uri, &h, &keys),
            Ok((1, "/ai-gateway/gemini/v1beta/models/m:streamGenerateContent?alt=sse".into()))
        );
        let bare: Uri = format!("/{}", a.secret()).parse().unwrap();
        assert_eq!(admit(&bare, &h, &keys), Ok((0, "/".into())));
        // An agent's own `?key=` never goes on.
        let keyed: Uri = format!("/{}/x?key=AIza&alt=sse", a.secret()).parse().unwrap();
        assert_eq!(admit(&keyed, &h, &keys), Ok((0, "/x?alt=sse".into())));
        for wrong in ["/", "/nope/x", &format!("/{}x/y", a.secret()), &format!("//{}/y", a.secret())] {
            let uri: Uri = wrong.parse().unwrap();
            assert_eq!(admit(&uri, &h, &keys), Err(Refusal::NotFound), "{wrong}");
        }
        let uri: Uri = format!("/{}/x", a.secret()).parse().unwrap();
        assert_eq!(admit(&uri, &headers(&[("host", "evil.example")]), &keys), Err(Refusal::NotLoopback));
        assert_eq!(admit(&uri, &HeaderMap::new(), &keys), Err(Refusal::NotLoopback));
        let browser = headers(&[("host", "127.0.0.1"), ("origin", "https://evil.example")]);
        assert_eq!(admit(&uri, &browser, &keys), Err(Refusal::Browser));
        for page in ["sec-fetch-site", "sec-fetch-dest", "sec-fetch-user"] {
            let fetch = headers(&[("host", "localhost"), ("sec-fetch-mode", "cors"), (page, "?1")]);
            assert_eq!(admit(&uri, &fetch, &keys), Err(Refusal::Browser), "{page}");
        }
        // Node's fetch (undici) sends `Sec-Fetch-Mode: cors` alone on every request: not a page.
        let node = headers(&[("host", "127.0.0.1:4000"), ("sec-fetch-mode", "cors")]);
        assert_eq!(admit(&uri, &node, &keys), Ok((0, "/x".into())));
        let two = headers(&[("host", "127.0.0.1"), ("host", "evil.example")]);
        assert_eq!(admit(&uri, &two, &keys), Err(Refusal::DuplicateHost));
        let absolute: Uri = format!("http://evil.example/{}/x", a.secret()).parse().unwrap();
        assert_eq!(admit(&absolute, &h, &keys), Err(Refusal::AbsoluteTarget));
    }

    #[test]
    fn targets_stay_on_the_grants_host() {
        let host = WorkspaceHost::parse("https://ws.example").unwrap();
        assert_eq!(
            target_url(&host, "/ai-gateway/gemini/v1beta/models/m:generateContent").as_deref(),
            Some("https://ws.example/ai-gateway/gemini/v1beta/models/m:generateContent")
        );
        assert_eq!(target_url(&host, "/x?alt=sse").as_deref(), Some("https://ws.example/x?alt=sse"));
        for escape in ["//evil.example/x", "/@evil.example/", "/\\\\evil.example/x", "/../../x"] {
            let url = target_url(&host, escape).unwrap_or_default();
            assert!(url.is_empty() || url.starts_with("https://ws.example/"), "{escape} → {url}");
        }
        assert_eq!(target_url(&host, "x"), None);
    }

    #[test]
    fn strips_hop_by_hop_and_the_agents_credentials() {
        let h = headers(&[
            ("host", "127.0.0.1:1"),
            ("authorization", "Bearer agent-key"),
            ("x-api-key", "k"),
            ("x-goog-api-key", "k"),
            ("api-key", "k"),
            ("connection", "keep-alive, x-private"),
            ("x-private", "1"),
            ("keep-alive", "timeout=5"),
            ("transfer-encoding", "chunked"),
            ("te", "trailers"),
            ("upgrade", "h2c"),
            ("proxy-authorization", "Basic x"),
            ("content-length", "12"),
            ("content-type", "application/json"),
            ("accept", "text/event-stream"),
            ("user-agent", "GeminiCLI/0.61.0"),
        ]);
        let out = forwarded_headers(&h);
        let names: Vec<&str> = out.keys().map(HeaderName::as_str).collect();
        assert_eq!(names, ["content-type", "accept", "user-agent"]);
        let back =
            returned_headers(&headers(&[("connection", "close"), ("content-type", "text/event-stream")]));
        assert_eq!(back.keys().map(HeaderName::as_str).collect::<Vec<_>>(), ["content-type"]);
    }

    #[test]
    fn renews_on_401_403_and_the_gateways_invalid_token() {
        assert!(needs_new_token(StatusCode::UNAUTHORIZED, None));
        assert!(needs_new_token(StatusCode::FORBIDDEN, None));
        assert!(needs_new_token(
            StatusCode::BAD_REQUEST,
            Some(br#"{"error_code":"400","message":"Invalid Token"}"#)
        ));
        assert!(!needs_new_token(
            StatusCode::BAD_REQUEST,
            Some(br#"{"message":"max_tokens: Field required"}"#)
        ));
        assert!(!needs_new_token(StatusCode::BAD_REQUEST, None));
        assert!(!needs_new_token(StatusCode::OK, None));
        assert!(!needs_new_token(StatusCode::TOO_MANY_REQUESTS, None));
    }
}
