//! The one decision the live service makes before a token leaves: which workspace a request is
//! for, or why it is refused. Pure: no IO, no engine, typed refusals with stable codes.

use std::net::IpAddr;

use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};

use super::{HOST_HEADER, VERSION_HEADER};
use lakepass_config::Workspace;
use lakepass_wire::host::WorkspaceHost;
use lakepass_wire::secret::Secret;

/// Why a request was refused: the status and a stable `error` code for the JSON body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Not `GET`.
    Method,
    /// A browser sent it (`Origin`, `Sec-Fetch-*`).
    Browser,
    /// `Host` is not a loopback name (DNS rebinding) or is missing.
    NotLoopback,
    /// No such workspace URL (unknown workspace, wrong or missing secret).
    NotFound,
    /// `X-Databricks-Metadata-Version` missing or not `1`.
    Version,
    /// `X-Databricks-Host` missing or not parseable.
    MissingHost,
    /// `X-Databricks-Host` is another workspace than the URL's.
    HostMismatch,
    /// The request target is not in origin form (`GET http://host/path`), which no SDK sends.
    AbsoluteTarget,
    /// More than one `Host` header: which one a proxy or a check reads is ambiguous.
    DuplicateHost,
    /// More than one `X-Databricks-Host` header: the check would read one and a reader another.
    DuplicateDatabricksHost,
}

impl Refusal {
    /// The HTTP status.
    pub fn status(self) -> StatusCode {
        match self {
            Refusal::Method => StatusCode::METHOD_NOT_ALLOWED,
            Refusal::Browser | Refusal::NotLoopback | Refusal::HostMismatch => StatusCode::FORBIDDEN,
            Refusal::NotFound => StatusCode::NOT_FOUND,
            Refusal::Version
            | Refusal::MissingHost
            | Refusal::AbsoluteTarget
            | Refusal::DuplicateHost
            | Refusal::DuplicateDatabricksHost => StatusCode::BAD_REQUEST,
        }
    }

    /// The stable `error` code.
    pub fn code(self) -> &'static str {
        match self {
            Refusal::Method => "method_not_allowed",
            Refusal::Browser => "browser_request",
            Refusal::NotLoopback => "non_loopback_host",
            Refusal::NotFound => "not_found",
            Refusal::Version => "unsupported_metadata_version",
            Refusal::MissingHost => "missing_databricks_host",
            Refusal::HostMismatch => "host_mismatch",
            Refusal::AbsoluteTarget => "absolute_target",
            Refusal::DuplicateHost => "duplicate_host",
            Refusal::DuplicateDatabricksHost => "duplicate_databricks_host",
        }
    }

    pub(super) fn message(self) -> &'static str {
        match self {
            Refusal::Method => "only GET is served",
            Refusal::Browser => "requests from web pages are refused",
            Refusal::NotLoopback => "the Host header must be 127.0.0.1, localhost or [::1]",
            Refusal::NotFound => {
                "no such token URL; copy metadata_service_url from the -live profile Lakepass wrote"
            }
            Refusal::Version => "X-Databricks-Metadata-Version must be 1",
            Refusal::MissingHost => "X-Databricks-Host must name the workspace",
            Refusal::HostMismatch => "X-Databricks-Host is not the workspace this URL serves",
            Refusal::AbsoluteTarget => "the request target must be a path",
            Refusal::DuplicateHost => "exactly one Host header is accepted",
            Refusal::DuplicateDatabricksHost => "exactly one X-Databricks-Host header is accepted",
        }
    }
}

/// Decides which workspace a request is for, or why it is refused. Pure: no IO, no engine.
/// `secrets` is per workspace (name, path secret); `workspaces` resolves names to hosts.
pub fn authorize<'w>(
    method: &Method,
    target: &Uri,
    headers: &HeaderMap,
    secrets: &[(String, Secret)],
    workspaces: &'w [Workspace],
) -> Result<&'w Workspace, Refusal> {
    if method != Method::GET {
        return Err(Refusal::Method);
    }
    if headers.get_all(HOST_HEADER).iter().count() > 1 {
        return Err(Refusal::DuplicateDatabricksHost);
    }
    refuse_browser_or_rebinding(target, headers, BrowserSigns::AnySecFetch)?;
    let path = target.path();
    let mut parts = path.strip_prefix('/').unwrap_or("").splitn(2, '/');
    let (name, given) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let ws = workspaces.iter().find(|w| w.name == name);
    let expected = secrets.iter().find(|(n, _)| n == name).map(|(_, s)| s);
    let (Some(ws), Some(expected)) = (ws, expected) else {
        return Err(Refusal::NotFound);
    };
    if !expected.matches(given) {
        return Err(Refusal::NotFound);
    }
    match headers.get(VERSION_HEADER).map(HeaderValue::as_bytes) {
        Some(b"1") => {}
        _ => return Err(Refusal::Version),
    }
    let asked = headers
        .get(HOST_HEADER)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| WorkspaceHost::parse(h).ok())
        .ok_or(Refusal::MissingHost)?;
    if asked != ws.host {
        return Err(Refusal::HostMismatch);
    }
    Ok(ws)
}

/// Which headers mark a request as a browser's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BrowserSigns {
    /// `Origin` or any `Sec-Fetch-*` (the live service: the Databricks SDKs send none).
    AnySecFetch,
    /// `Origin`, `Sec-Fetch-Site`, `Sec-Fetch-Dest` or `Sec-Fetch-User`: what a page's request
    /// carries (Fetch Metadata, w3c webappsec-fetch-metadata). Not `Sec-Fetch-Mode` alone:
    /// Node's own `fetch` (undici, under Gemini CLI's SDK and other agents) sends
    /// `Sec-Fetch-Mode: cors` on every request, and no `Origin` or `Sec-Fetch-Site`.
    PageHeaders,
}

/// The walls of every loopback HTTP server Lakepass runs (this live service, the agents' proxy
/// [`crate::proxy`]): the target is a path (origin form), there is exactly one `Host` and it is
/// a loopback name (DNS rebinding: a page whose name resolves to 127.0.0.1 still sends its own
/// name), and no browser sent it (`signs`). Pure.
pub fn refuse_browser_or_rebinding(
    target: &Uri,
    headers: &HeaderMap,
    signs: BrowserSigns,
) -> Result<(), Refusal> {
    if target.scheme().is_some() || target.authority().is_some() {
        return Err(Refusal::AbsoluteTarget);
    }
    if headers.get_all(header::HOST).iter().count() > 1 {
        return Err(Refusal::DuplicateHost);
    }
    let browser = match signs {
        BrowserSigns::AnySecFetch => headers.keys().any(|k| k.as_str().starts_with("sec-fetch-")),
        BrowserSigns::PageHeaders => {
            ["sec-fetch-site", "sec-fetch-dest", "sec-fetch-user"].iter().any(|h| headers.contains_key(*h))
        }
    };
    if browser || headers.contains_key(header::ORIGIN) {
        return Err(Refusal::Browser);
    }
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    if !host.is_some_and(is_loopback_authority) {
        return Err(Refusal::NotLoopback);
    }
    Ok(())
}

/// `127.0.0.1[:port]`, `localhost[:port]` or `[::1][:port]` (any loopback IP, in fact).
pub fn is_loopback_authority(authority: &str) -> bool {
    let host = if let Some(rest) = authority.strip_prefix('[') {
        match rest.split_once(']') {
            Some((ip, tail)) if tail.is_empty() || valid_port(tail) => ip,
            _ => return false,
        }
    } else {
        match authority.split_once(':') {
            Some((h, tail)) if valid_port(&format!(":{tail}")) => h,
            Some(_) => return false,
            None => authority,
        }
    };
    host.eq_ignore_ascii_case("localhost") || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

fn valid_port(tail: &str) -> bool {
    tail.strip_prefix(':').is_some_and(|p| !p.is_empty() && p.parse::<u16>().is_ok())
}
