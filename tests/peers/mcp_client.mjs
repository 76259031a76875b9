// A second MCP client for the end-to-end tests: the official MCP TypeScript SDK
// (npm @modelcontextprotocol/sdk) over Streamable HTTP, its headers taken from Lakepass's
// headersHelper command exactly as Claude Code takes them (run by a shell, stdout = a JSON
// object of headers).
//
// Usage: node mcp_client.mjs <server url> <headersHelper command> [<tool> <JSON arguments>]
// Prints one JSON line: {"server", "tools": [names], "result": <tool result or null>}.
import { execSync } from "node:child_process";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

const [url, helper, tool, args] = process.argv.slice(2);
const headers = JSON.parse(execSync(helper, { shell: "/bin/sh", encoding: "utf8" }));
const transport = new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } });
const client = new Client({ name: "lakepass-e2e", version: "1.0.0" });
await client.connect(transport);
const tools = (await client.listTools()).tools.map((t) => t.name);
const result = tool ? await client.callTool({ name: tool, arguments: JSON.parse(args ?? "{}") }) : null;
console.log(JSON.stringify({ server: client.getServerVersion(), session: Boolean(transport.sessionId), tools, result }));
await transport.terminateSession();
await client.close();
