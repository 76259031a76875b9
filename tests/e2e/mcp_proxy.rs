//! `lakepass mcp-proxy`, the stdio MCP server agents without a headers helper start: the
//! official MCP TypeScript SDK's stdio client (npm `@modelcontextprotocol/sdk`,
//! `tests/peers/mcp_stdio_client.mjs`) spawns it as a coding agent would and calls the devstack's
//! managed MCP servers through it, one client and one proxy process across a token rotation, a
//! token refused before its time (401) and a session the server ended (404); and the proxy
//! refuses to send a workspace's token anywhere but that workspace's MCP servers.

use std::process::Stdio;
use std::time::Duration;

use lakepass_devstack::{FaultKind, FaultRule, GENIE_SPACE, Target};
use lakepass_tests::*;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout};

/// A home signed in to a devstack whose `dev` workspace offers SQL and one Genie space.
async fn mcp_home(ds: &Devstack) -> TempHome {
    let home = TempHome::new();
    home.write_config(&format!("{}\n[mcp.dev]\ngenie = [\"{GENIE_SPACE}\"]\n", devstack_config(ds)));
    home.login(&[]).await;
    home
}

/// The `sql` token Lakepass holds now (what `lakepass token --scope sql` prints).
async fn sql_token(home: &TempHome) -> String {
    let out = home.run(&["token", "-w", "dev", "--scope", "sql", "--raw"]).await.success();
    out.stdout.trim().to_string()
}

/// `lakepass --config <file> mcp-proxy --workspace dev --scope <scope> --url <url>`.
fn proxy_argv(home: &TempHome, scope: &str, url: &str) -> Vec<String> {
    let bin = lakepass_bin().display().to_string();
    let config = home.config_path().display().to_string();
    [bin.as_str(), "--config", &config, "mcp-proxy", "--workspace", "dev", "--scope", scope, "--url", url]
        .map(String::from)
        .to_vec()
}

/// The SDK's stdio client, driven line by line: one client, one `lakepass mcp-proxy`.
struct StdioClient {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Lines<BufReader<ChildStdout>>,
}

impl StdioClient {
    async fn start(home: &TempHome, argv: &[String]) -> (StdioClient, Value) {
        let mut cmd = home.command("node");
        cmd.arg(peers_dir().join("mcp_stdio_client.mjs"))
            .arg(serde_json::to_string(argv).unwrap())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        let mut child = cmd.spawn().expect("node mcp_stdio_client.mjs");
        let stdin = child.stdin.take();
        let lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let mut client = StdioClient { child, stdin, lines };
        let hello = client.next().await;
        (client, hello)
    }

    async fn next(&mut self) -> Value {
        let line = tokio::time::timeout(COMMAND_TIMEOUT, self.lines.next_line())
            .await
            .expect("the client answers in time")
            .expect("read the client's stdout")
            .expect("the client printed a line");
        serde_json::from_str(&line).unwrap_or_else(|_| panic!("one JSON line: {}", redact(&line)))
    }

    async fn call(&mut self, tool: &str, arguments: Value) -> Value {
        let line = format!("{}\n", json!({"tool": tool, "arguments": arguments}));
        self.stdin.as_mut().expect("open").write_all(line.as_bytes()).await.expect("write");
        self.next().await
    }

    /// Closes the client (and so the proxy's stdin): the proxy's stderr.
    async fn close(mut self) -> String {
        self.stdin = None;
        let closed = self.next().await;
        assert_eq!(closed["closed"], true, "{}", redact(&closed.to_string()));
        let status = tokio::time::timeout(COMMAND_TIMEOUT, self.child.wait()).await.expect("exits").unwrap();
        assert!(status.success(), "the client exited with {status}");
        closed["stderr"].as_str().unwrap_or_default().to_string()
    }
}

fn text_of(v: &Value) -> &str {
    v["result"]["content"][0]["text"].as_str().unwrap_or_default()
}

fn sdk_installed() -> bool {
    let Some(peers) = peer_node() else { return false };
    if !peers.join("node_modules/@modelcontextprotocol/sdk/package.json").is_file() {
        assert!(may_skip("npm @modelcontextprotocol/sdk is not installed: run scripts/ci-deps.sh"));
        return false;
    }
    true
}

const SALES_QUERY: &str = "SELECT * FROM main.default.sales";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sdks_stdio_client_queries_the_warehouse_through_mcp_proxy_with_each_new_token_of_one_session() {
    if !sdk_installed() {
        return;
    }
    let ds = start_devstack(Duration::from_secs(3600)).await;
    let home = mcp_home(&ds).await;
    let url = format!("{}/api/2.0/mcp/sql", ws_host(&ds, "dev"));
    let first = sql_token(&home).await;

    let (mut client, hello) = StdioClient::start(&home, &proxy_argv(&home, "sql", &url)).await;
    assert_eq!(hello["tools"], json!(["execute_sql"]), "{hello}");
    assert_eq!(hello["server"]["name"], "databricks-sql", "the server's own initialize answer: {hello}");
    let v = client.call("execute_sql", json!({"query": SALES_QUERY})).await;
    assert!(text_of(&v).contains("EMEA") && text_of(&v).contains("1200"), "{v}");
    let seen = ds.stats().workspaces["dev"].seen_token_fingerprints.clone();
    assert!(seen.contains(&fingerprint(&first)), "the proxy sent the sql-scoped token");

    // A rotation while the same client and proxy run: the next call carries the new token.
    home.run(&["refresh", "-w", "dev", "--scope", "sql"]).await.success();
    let second = sql_token(&home).await;
    assert_ne!(second, first, "the rotation gave a new sql token");
    let v = client.call("execute_sql", json!({"query": "SELECT 7"})).await;
    assert_eq!(v["result"]["isError"], false, "{v}");
    assert!(text_of(&v).contains('7'), "{v}");
    let seen = ds.stats().workspaces["dev"].seen_token_fingerprints.clone();
    assert!(seen.contains(&fingerprint(&second)), "the second call carried the new token");

    let stderr = client.close().await;
    for token in [&first, &second] {
        assert!(!stderr.contains(token.as_str()), "no token on the proxy's stderr");
    }
    assert!(!stderr.contains("EMEA"), "no body on the proxy's stderr: {}", redact(&stderr));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_token_is_exchanged_again_and_an_ended_session_opened_again_without_the_client_noticing() {
    if !sdk_installed() {
        return;
    }
    let ds = start_devstack(Duration::from_secs(3600)).await;
    let home = mcp_home(&ds).await;
    let url = format!("{}/api/2.0/mcp/genie/{GENIE_SPACE}", ws_host(&ds, "dev"));
    let (mut client, hello) = StdioClient::start(&home, &proxy_argv(&home, "genie", &url)).await;
    let tool = format!("query_space_{GENIE_SPACE}");
    assert_eq!(hello["tools"], json!([tool]), "{hello}");
    let before = sql_genie(&home).await;

    // The workspace refuses the token the engine holds (revoked before its time): the proxy
    // asks again, gets a newly exchanged token, and the call goes through.
    let unauthorized = r#"{"error_code":"UNAUTHENTICATED","message":"Invalid access token."}"#;
    let fault = FaultKind::Body { code: 401, body: unauthorized.into(), content_type: None };
    ds.faults().add(FaultRule::new(Target::WorkspaceApi, fault).on_workspace("dev").times(1));
    let v = client.call(&tool, json!({"query": "Which region sells most?"})).await;
    assert!(text_of(&v).contains("AMER"), "{v}");
    let after = sql_genie(&home).await;
    assert_ne!(after, before, "a new genie token was exchanged");
    assert!(ds.stats().workspaces["dev"].seen_token_fingerprints.contains(&fingerprint(&after)));

    // The server ended the session (404 to a request carrying it): a new one is opened with the
    // client's own initialize, and the call answered.
    let gone = r#"{"jsonrpc":"2.0","id":null,"error":{"code":-32001,"message":"Session not found"}}"#;
    let fault = FaultKind::Body { code: 404, body: gone.into(), content_type: None };
    ds.faults().add(FaultRule::new(Target::WorkspaceApi, fault).on_workspace("dev").times(1));
    let v = client.call(&tool, json!({"query": "And again?"})).await;
    assert!(text_of(&v).contains("AMER"), "{v}");

    // A failure the proxy cannot mend is the call's error, not a hang.
    let fault = FaultKind::Status { code: 503, retry_after_secs: None };
    ds.faults().add(FaultRule::new(Target::WorkspaceApi, fault).on_workspace("dev").times(1));
    let v = client.call(&tool, json!({"query": "once more"})).await;
    let err = v["error"].as_str().unwrap_or_default();
    assert!(err.contains("503"), "{v}");
    let v = client.call(&tool, json!({"query": "and after it"})).await;
    assert!(text_of(&v).contains("AMER"), "the proxy still serves: {v}");

    let stderr = client.close().await;
    assert!(stderr.contains("opening a new one") && stderr.contains("503"), "{}", redact(&stderr));
    for token in [&before, &after] {
        assert!(!stderr.contains(token.as_str()), "no token on the proxy's stderr");
    }
}

async fn sql_genie(home: &TempHome) -> String {
    let out = home.run(&["token", "-w", "dev", "--scope", "genie", "--raw"]).await.success();
    out.stdout.trim().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mcp_proxy_sends_a_workspaces_token_to_that_workspaces_mcp_servers_only() {
    let ds = start_devstack(Duration::from_secs(3600)).await;
    let home = mcp_home(&ds).await;
    let dev = ws_host(&ds, "dev");
    let prod = ws_host(&ds, "prod");
    let calls =
        ds.stats().workspaces["prod"].api_calls_ok + ds.stats().workspaces["prod"].api_calls_unauthorized;
    for url in [
        format!("{prod}/api/2.0/mcp/sql"),
        "https://evil.example.com/api/2.0/mcp/sql".to_string(),
        format!("{dev}/api/2.0/preview/scim/v2/Me"),
        format!("{dev}/api/2.0/mcp/../preview/scim/v2/Me"),
        format!("{}/api/2.0/mcp/sql", dev.replace("127.0.0.1", "localhost")),
    ] {
        let mut p = Proc::spawn(
            "lakepass mcp-proxy",
            home.lakepass(
                &proxy_argv(&home, "sql", &url)[1..].iter().map(String::as_str).collect::<Vec<_>>(),
            ),
        );
        p.close_stdin();
        let out = p.wait(COMMAND_TIMEOUT).await.code(2);
        assert!(out.stderr.contains("mcp-proxy:"), "{url}: {}", out.stderr);
        assert!(out.stdout.is_empty(), "nothing on stdout: {}", out.stdout);
    }
    let after =
        ds.stats().workspaces["prod"].api_calls_ok + ds.stats().workspaces["prod"].api_calls_unauthorized;
    assert_eq!(after, calls, "no request reached another workspace");
    let bad =
        home.run(&["mcp-proxy", "--workspace", "dev", "--scope", "all-apis", "--url", &dev]).await.code(2);
    assert!(bad.stderr.contains("not a managed MCP scope"), "{}", bad.stderr);
    let unknown = home.run(&["mcp-proxy", "--workspace", "nope", "--scope", "sql", "--url", &dev]).await;
    assert_eq!(unknown.code, Some(2), "{unknown:?}");
}
