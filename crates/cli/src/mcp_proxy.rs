//! `lakepass mcp-proxy`: a stdio MCP server that relays to one Databricks managed MCP server
//! over streamable HTTP, with that server's scoped token taken from the engine on every request.
//! Agents that cannot run a headers helper (Codex, Gemini CLI, OpenCode, Copilot CLI) start it
//! as a local MCP server (`lakepass_launch::mcp_proxy_argv`), so their MCP sessions outlive
//! every token and no token is in their config.

use std::process::ExitCode;

use clap::Args;
use lakepass_config::Workspace;
use lakepass_engine::mcp::McpScope;
use lakepass_launch::mcp_relay::{Relay, TokenSource, TokenUnavailable, mcp_target};
use lakepass_store::Paths;
use lakepass_wire::Secret;

use crate::{app, output};

/// Arguments of `mcp-proxy`.
#[derive(Args, Debug)]
pub struct McpProxyArgs {
    /// The workspace whose token to send (its name in the config).
    #[arg(long, short = 'w')]
    pub workspace: String,
    /// The managed-MCP scope of the server's token (`sql`, `genie`, `unity-catalog`, `ai-search`).
    #[arg(long, value_parser = parse_scope)]
    pub scope: McpScope,
    /// The MCP server's URL; its host must be the workspace's.
    #[arg(long)]
    pub url: String,
}

fn parse_scope(s: &str) -> Result<McpScope, String> {
    s.parse().map_err(|e: lakepass_engine::mcp::UnknownScope| e.to_string())
}

/// Runs `mcp-proxy` until stdin closes. The workspace, its host and the URL are checked before
/// anything is read from stdin or sent anywhere.
pub async fn mcp_proxy(paths: &Paths, a: McpProxyArgs) -> anyhow::Result<ExitCode> {
    let config = app::load_config(paths)?;
    let ws = config.workspace(Some(&a.workspace))?;
    let url = mcp_target(&ws, &a.url).map_err(|e| output::usage(format!("mcp-proxy: {e}")))?;
    let client = config.trust().client();
    let tokens = EngineTokens { paths: paths.clone(), ws, scope: a.scope };
    Relay::run(client, url, tokens, tokio::io::stdin(), tokio::io::stdout()).await?;
    Ok(ExitCode::SUCCESS)
}

/// The scoped token as `lakepass token --scope` gets it: the running engine over its socket,
/// else the vault (refreshed under the scope's lock when due).
struct EngineTokens {
    paths: Paths,
    ws: Workspace,
    scope: McpScope,
}

impl TokenSource for EngineTokens {
    async fn token(&self, refused: Option<&Secret>) -> Result<Secret, TokenUnavailable> {
        let unavailable = |e: anyhow::Error| TokenUnavailable(reason(&e, &self.ws, self.scope));
        let held = crate::tokens::fresh_scoped_token(&self.paths, &self.ws, self.scope)
            .await
            .map_err(unavailable)?;
        if refused.is_none_or(|r| r.secret() != held.token.secret()) {
            return Ok(held.token);
        }
        // The server refused the very token the engine holds (revoked early, say): exchange a
        // new one, as `lakepass refresh --scope` does, under the scope's lock.
        tracing::info!(workspace = %self.ws.name, scope = %self.scope, "token refused; exchanging a new one");
        let engine = app::engine(&self.paths).await.map_err(unavailable)?;
        match engine.refresh_scoped(&self.ws, self.scope, true).await {
            Ok(t) => Ok(t.access_token.clone()),
            Err(e) => Err(unavailable(e.into())),
        }
    }
}

/// What to tell the agent (and stderr) when there is no token: the engine's own message was
/// printed already when it refused (`Exit`); else the error chain.
fn reason(e: &anyhow::Error, ws: &Workspace, scope: McpScope) -> String {
    match e.downcast_ref::<output::Exit>() {
        Some(output::Exit(3)) => format!("workspace `{}` needs a sign-in: run `lakepass login`", ws.name),
        Some(_) => format!(
            "no `{scope}` token for workspace `{}`: run `lakepass doctor --mcp -w {}`",
            ws.name, ws.name
        ),
        None => output::chain_text(e),
    }
}
