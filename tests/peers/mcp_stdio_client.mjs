// The official MCP TypeScript SDK (npm @modelcontextprotocol/sdk) as a stdio client, the way a
// coding agent (Codex, Gemini CLI, OpenCode, Copilot CLI) starts a local MCP server: it spawns
// the given argv (`lakepass mcp-proxy …`) and speaks newline-delimited JSON-RPC over its
// stdin/stdout. One client, one server process, for as long as this script runs.
//
// Usage: node mcp_stdio_client.mjs '<argv as a JSON array>'
// Prints one JSON line once connected: {"server", "tools": [names]}; then, for each line read
// from stdin ({"tool": name, "arguments": {...}}), one JSON line {"result": <tool result>} or
// {"error": message}. On EOF it closes the client (the server's stdin) and prints
// {"closed": true, "stderr": <the server's stderr>}.
import { createInterface } from "node:readline";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";

const [command, ...args] = JSON.parse(process.argv[2]);
const transport = new StdioClientTransport({ command, args, env: { ...process.env }, stderr: "pipe" });
let stderr = "";
transport.stderr.on("data", (d) => (stderr += d));
const client = new Client({ name: "lakepass-e2e-stdio", version: "1.0.0" });
await client.connect(transport);
const tools = (await client.listTools()).tools.map((t) => t.name);
console.log(JSON.stringify({ server: client.getServerVersion(), tools }));
for await (const line of createInterface({ input: process.stdin })) {
  if (!line.trim()) continue;
  const { tool, arguments: a } = JSON.parse(line);
  try {
    console.log(JSON.stringify({ result: await client.callTool({ name: tool, arguments: a ?? {} }) }));
  } catch (e) {
    console.log(JSON.stringify({ error: String(e?.message ?? e) }));
  }
}
await client.close();
console.log(JSON.stringify({ closed: true, stderr }));
