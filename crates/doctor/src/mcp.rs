//! `lakepass doctor --mcp`: why Claude Code cannot use a workspace's managed MCP servers.
//!
//! For each server `[mcp.<ws>]` offers, two links: the server's own scoped token (its RFC 8693
//! exchange asking for that one scope), then an MCP `initialize` at the server's URL with it.
//! Each broken link is named, as data ([`McpFinding`]) with a fix in words:
//! - the workspace refused to mint a token with the scope (the federation policy's or the
//!   service principal's allowed scopes, or the workspace, lack it): where the workspace's own
//!   `all-apis` token may stand in, the server works with it, and that is said
//!   ([`McpFinding::WorkspaceToken`]); with `least_privilege` it is the error;
//! - the URL answers 404: the server is not enabled there (the managed MCP preview is off, or
//!   the Genie space / function schema / index does not exist);
//! - the server refused the token it was minted for (403): the token lacks the scope it needs.
//!
//! Separate from the federation report ([`super::Report`]): that one stops at the first broken
//! link of one chain; here each server is its own chain, and every one is reported.

use serde::Serialize;
use serde_json::json;

use lakepass_config::Workspace;
use lakepass_engine::engine::{Engine, EngineError};
use lakepass_engine::error::ErrorKind;
use lakepass_engine::mcp::McpServer;
use lakepass_wire::exchange::ExchangeError;

/// What was found for one server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum McpFinding {
    /// A scoped token was minted and the server opened a session with it.
    Ok,
    /// The workspace refused the server's scope, so the server opened a session with the
    /// workspace's own `all-apis` token instead: it works, with more than least privilege.
    WorkspaceToken {
        /// What the workspace said when it refused the scope.
        reason: String,
    },
    /// The workspace refused the scope and the workspace token may not stand in
    /// (`least_privilege`, or it lacks `all-apis`).
    ScopeRefused {
        /// What the workspace said.
        reason: String,
        /// What to do, from the engine.
        hint: String,
    },
    /// The workspace would not mint a token carrying the scope.
    ScopeNotGranted {
        /// HTTP status of the refused exchange.
        status: u16,
        /// The OAuth error code (`invalid_scope`, …).
        error: String,
        /// What the workspace said.
        description: Option<String>,
    },
    /// No token for another reason (not signed in, network, …).
    NoToken {
        /// Its kind.
        error_kind: ErrorKind,
        /// What happened.
        message: String,
    },
    /// The server's URL is 404: it is not enabled in this workspace.
    NotEnabled,
    /// The server refused the token minted for its scope (403).
    TokenRejected {
        /// What the server said.
        message: String,
    },
    /// The server did not accept the token at all (401).
    Unauthorized,
    /// Any other answer.
    Unexpected {
        /// HTTP status.
        status: u16,
    },
    /// The server could not be reached.
    Unreachable {
        /// What failed.
        message: String,
    },
}

impl McpFinding {
    /// What to do about it, in words; `None` when all is well.
    pub fn fix(&self, server: &McpServer, ws: &Workspace) -> Option<String> {
        let scope = server.scope;
        Some(match self {
            McpFinding::Ok => return None,
            McpFinding::WorkspaceToken { .. } => format!(
                "works, with the workspace's all-apis token: {} refused a token of scope `{scope}` alone. \
                 To have least privilege, a workspace admin must allow `{scope}` for token exchange; to \
                 refuse rather than use the broad token, set `[mcp.{}] least_privilege = true`",
                ws.host, ws.name
            ),
            McpFinding::ScopeRefused { hint, .. } => hint.clone(),
            McpFinding::ScopeNotGranted { .. } => format!(
                "the workspace refused a token with scope `{scope}`: the federation policy (or the \
                 service principal's OAuth scopes) of {} must allow `{scope}`; ask a workspace admin",
                ws.host
            ),
            McpFinding::NoToken { .. } => {
                format!("fix the sign-in first: run `lakepass doctor -w {}`", ws.name)
            }
            McpFinding::NotEnabled => format!(
                "{} is not enabled in this workspace: enable the managed MCP servers preview, or \
                 check the Genie space, function schema or index name in [mcp.{}]",
                server.url, ws.name
            ),
            McpFinding::TokenRejected { .. } => format!(
                "the server refused a token minted for `{scope}`: it needs a scope the workspace \
                 did not grant; check the scope with a workspace admin"
            ),
            McpFinding::Unauthorized => {
                format!(
                    "the server did not accept the workspace's token; run `lakepass refresh -w {} --scope {scope}`",
                    ws.name
                )
            }
            McpFinding::Unexpected { status } => {
                format!("{} answered HTTP {status}; try again later", server.url)
            }
            McpFinding::Unreachable { .. } => "check the network (proxy, VPN) to the workspace".to_string(),
        })
    }
}

/// One server's check.
#[derive(Debug, Clone, Serialize)]
pub struct McpCheck {
    /// The server.
    pub server: McpServer,
    /// What was found.
    pub finding: McpFinding,
    /// What to do, when something is wrong.
    pub fix: Option<String>,
}

/// The servers of one workspace, each checked.
#[derive(Debug, Clone, Serialize)]
pub struct McpReport {
    /// The workspace.
    pub workspace: String,
    /// One per server, in `[mcp.<ws>]` order.
    pub checks: Vec<McpCheck>,
    /// True when every server works (vacuously, when there is none).
    pub ok: bool,
}

/// Checks every managed MCP server `ws` offers.
pub async fn check_mcp(engine: &Engine, ws: &Workspace) -> McpReport {
    let mut checks = Vec::new();
    for server in engine.mcp_servers(ws).await {
        let finding = check_one(engine, ws, &server).await;
        let fix = finding.fix(&server, ws);
        checks.push(McpCheck { server, finding, fix });
    }
    let ok = checks.iter().all(|c| matches!(c.finding, McpFinding::Ok | McpFinding::WorkspaceToken { .. }));
    McpReport { workspace: ws.name.clone(), checks, ok }
}

async fn check_one(engine: &Engine, ws: &Workspace, server: &McpServer) -> McpFinding {
    // A forced refresh asks for the narrow scope again even where a fallback is remembered:
    // the doctor reports what the workspace does now.
    let token = match engine.refresh_scoped(ws, server.scope, true).await {
        Ok(t) => t,
        Err(e) => return token_finding(&e),
    };
    let initialize = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "lakepass-doctor", "version": env!("CARGO_PKG_VERSION")},
    }});
    let headers = [("accept", "application/json, text/event-stream")];
    let finding = match engine.http().post_json(&server.url, &token.access_token, &headers, &initialize).await
    {
        Ok(resp) => {
            let body = if resp.is_success() { String::new() } else { resp.body_excerpt() };
            probe_finding(resp.status.as_u16(), &body)
        }
        Err(e) => McpFinding::Unreachable { message: e.to_string() },
    };
    let fallback = engine
        .scoped_status()
        .into_iter()
        .find(|s| s.workspace == ws.name && s.scope == server.scope)
        .and_then(|s| s.fallback);
    match (finding, fallback) {
        (McpFinding::Ok, Some(f)) => McpFinding::WorkspaceToken { reason: f.reason },
        (finding, _) => finding,
    }
}

fn token_finding(e: &EngineError) -> McpFinding {
    match e {
        EngineError::Exchange(ExchangeError::Rejected { status, error, .. }) => McpFinding::ScopeNotGranted {
            status: *status,
            error: error.error.as_str().to_string(),
            description: error.error_description.clone(),
        },
        EngineError::McpScopeRefused { reason, hint, .. } => {
            McpFinding::ScopeRefused { reason: reason.clone(), hint: hint.clone() }
        }
        other => McpFinding::NoToken { error_kind: other.kind(), message: other.to_string() },
    }
}

/// The finding for the status (and, for errors, the body) of the `initialize` probe.
fn probe_finding(status: u16, error_body: &str) -> McpFinding {
    let message = || {
        serde_json::from_str::<serde_json::Value>(error_body)
            .ok()
            .and_then(|v| v.get("message").and_then(|m| m.as_str()).map(lakepass_wire::text::server_text))
            .unwrap_or_else(|| lakepass_wire::text::server_text(error_body))
    };
    match status {
        200..=299 => McpFinding::Ok,
        401 => McpFinding::Unauthorized,
        403 => McpFinding::TokenRejected { message: message() },
        404 => McpFinding::NotEnabled,
        status => McpFinding::Unexpected { status },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_statuses_name_the_broken_link() {
        assert_eq!(probe_finding(200, ""), McpFinding::Ok);
        assert_eq!(probe_finding(404, "{}"), McpFinding::NotEnabled);
        assert_eq!(probe_finding(401, ""), McpFinding::Unauthorized);
        let denied = r#"{"error_code":"PERMISSION_DENIED","message":"does not have required scopes: sql"}"#;
        assert_eq!(
            probe_finding(403, denied),
            McpFinding::TokenRejected { message: "does not have required scopes: sql".into() }
        );
        assert_eq!(probe_finding(502, "x"), McpFinding::Unexpected { status: 502 });
    }
}
