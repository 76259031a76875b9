//! `lakepass mcp-proxy`: a stdio MCP server that relays to one Databricks managed MCP server
//! over streamable HTTP, with that server's scoped token taken from the engine on every request.
//! Agents that cannot run a headers helper (Codex, Gemini CLI, OpenCode, Copilot CLI) start it
//! as a local MCP server (`lakepass_launch::mcp_proxy_argv`), so their MCP sessions outlive
//! every token and no token is in their config.

use std::process::ExitCode;

use clap::Args;
use lakepass_engine::mcp::McpScope;
use lakepass_store::Paths;

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

/// Runs `mcp-proxy` until stdin closes.
pub async fn mcp_proxy(_paths: &Paths, _a: McpProxyArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("lakepass mcp-proxy is not finished yet")
}
