//! Databricks managed MCP servers through Lakepass: each server's own least-privilege token
//! (`lakepass token --scope S --headers-json`, Claude Code's `headersHelper`), the devstack's
//! Streamable HTTP transport and scope checks, and two real clients: Claude Code launched by
//! `lakepass launch claude`, and the official MCP TypeScript SDK (npm
//! `@modelcontextprotocol/sdk`, installed by scripts/ci-deps.sh) — both again after a rotation.

use std::time::Duration;

use lakepass_devstack::GENIE_SPACE;
use lakepass_tests::*;
use serde_json::{Value, json};

use crate::claude_code::{OFFLINE_ENV, claude_peer};

const ACCEPT: &str = "application/json, text/event-stream";

/// A home signed in to a devstack whose `dev` workspace offers SQL and one Genie space.
async fn mcp_home(ds: &Devstack) -> TempHome {
    let home = TempHome::new();
    home.write_config(&format!("{}\n[mcp.dev]\ngenie = [\"{GENIE_SPACE}\"]\n", devstack_config(ds)));
    home.login(&[]).await;
    home
}

async fn scoped(home: &TempHome, scope: &str) -> String {
    let out = home.run(&["token", "-w", "dev", "--scope", scope, "--headers-json"]).await.success();
    let headers = out.json();
    let obj = headers.as_object().expect("a JSON object");
    assert_eq!(obj.keys().collect::<Vec<_>>(), ["Authorization"], "only the Authorization header");
    let value = obj["Authorization"].as_str().expect("a string value");
    value.strip_prefix("Bearer ").expect("a bearer token").to_string()
}

/// One POST to an MCP endpoint: status, session header, JSON body (or null).
async fn post(
    url: &str,
    token: &str,
    session: Option<&str>,
    accept: &str,
    body: Value,
) -> (u16, Option<String>, Value) {
    let mut req = http().post(url).bearer_auth(token).header("accept", accept).json(&body);
    if let Some(s) = session {
        req = req.header("mcp-session-id", s).header("mcp-protocol-version", "2025-06-18");
    }
    let resp = req.send().await.expect("MCP POST");
    let status = resp.status().as_u16();
    let sid = resp.headers().get("mcp-session-id").and_then(|v| v.to_str().ok()).map(String::from);
    let text = resp.text().await.unwrap_or_default();
    (status, sid, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn initialize() -> Value {
    json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "lakepass-e2e", "version": "1"},
    }})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_mcp_server_gets_its_own_scoped_token_and_the_devstack_enforces_the_transport_and_scope() {
    let ds = start_devstack(Duration::from_secs(3600)).await;
    let home = mcp_home(&ds).await;
    let host = ws_host(&ds, "dev");
    let sql_url = format!("{host}/api/2.0/mcp/sql");
    let genie_url = format!("{host}/api/2.0/mcp/genie/{GENIE_SPACE}");

    let list = home.run(&["mcp", "list", "-w", "dev", "--json"]).await.success().json();
    assert_eq!(
        list["servers"],
        json!([
            {"name": "databricks-sql", "url": sql_url, "scope": "sql"},
            {"name": format!("databricks-genie-{GENIE_SPACE}"), "url": genie_url, "scope": "genie"},
        ])
    );

    // Three exchanges, three tokens, three vault entries: none is a copy of another.
    let all_apis = home.run(&["token", "--raw", "-w", "dev"]).await.success().stdout.trim().to_string();
    let sql = scoped(&home, "sql").await;
    let genie = scoped(&home, "genie").await;
    assert!(sql != all_apis && genie != all_apis && sql != genie, "one token per scope");
    assert_eq!(scoped(&home, "sql").await, sql, "served from the cache while fresh");
    let keys = home.vault_keys();
    for key in [format!("ws:{host}"), format!("ws:{host}#sql"), format!("ws:{host}#genie")] {
        assert!(keys.contains(&key), "vault key {key} in {keys:?}");
    }
    let entry = home.vault_entry(&format!("ws:{host}#sql")).expect("the sql entry");
    assert_eq!(entry["scope"], "sql", "the exchange asked for `sql` alone");
    let bad = home.run(&["token", "-w", "dev", "--scope", "all-apis", "--headers-json"]).await.code(2);
    assert!(bad.stderr.contains("not a managed MCP scope"), "{bad:?}");

    // The transport: initialize opens a session; later requests need it.
    let (status, sid, body) = post(&sql_url, &sql, None, ACCEPT, initialize()).await;
    assert_eq!(status, 200, "{body}");
    let sid = sid.expect("Mcp-Session-Id on the InitializeResult");
    assert_eq!(body["result"]["protocolVersion"], "2025-06-18");
    let note = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    assert_eq!(post(&sql_url, &sql, Some(&sid), ACCEPT, note).await.0, 202);
    let (status, _, tools) =
        post(&sql_url, &sql, Some(&sid), ACCEPT, json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}))
            .await;
    assert_eq!(status, 200);
    assert_eq!(tools["result"]["tools"][0]["name"], "execute_sql", "{tools}");
    let call = json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call",
        "params": {"name": "execute_sql", "arguments": {"query": "SELECT region, revenue FROM main.default.sales"}}});
    let (_, _, rows) = post(&sql_url, &sql, Some(&sid), ACCEPT, call.clone()).await;
    let text = rows["result"]["content"][0]["text"].as_str().expect("text content");
    assert!(text.contains("AMER") && text.contains("3400"), "{rows}");
    assert_eq!(post(&sql_url, &sql, None, ACCEPT, call.clone()).await.0, 400, "no session header");
    assert_eq!(post(&sql_url, &sql, Some("nope"), ACCEPT, call.clone()).await.0, 404, "unknown session");
    assert_eq!(post(&sql_url, &sql, Some(&sid), "application/json", call.clone()).await.0, 406, "Accept");
    let get =
        http().get(&sql_url).bearer_auth(&sql).header("accept", "text/event-stream").send().await.unwrap();
    assert_eq!(get.status().as_u16(), 405, "no server-to-client stream is offered");
    let del = http().delete(&sql_url).bearer_auth(&sql).header("mcp-session-id", &sid).send().await.unwrap();
    assert_eq!(del.status().as_u16(), 200);
    assert_eq!(post(&sql_url, &sql, Some(&sid), ACCEPT, call).await.0, 404, "the session ended");

    // Scopes: the workspace's all-apis token opens the SQL server (as Databricks' own clients
    // send it: ucode's mcp_proxy.py, databricks-mcp's integration tests); the Genie token does
    // not; Genie takes its own.
    assert_eq!(post(&sql_url, &all_apis, None, ACCEPT, initialize()).await.0, 200, "all-apis on sql");
    let (status, _, body) = post(&sql_url, &genie, None, ACCEPT, initialize()).await;
    assert_eq!(status, 403, "genie on sql");
    assert_eq!(body["error_code"], "PERMISSION_DENIED");
    assert!(body["message"].as_str().unwrap_or_default().contains("required scopes: sql"), "{body}");
    assert_eq!(post(&genie_url, &genie, None, ACCEPT, initialize()).await.0, 200);
    let (status, _, body) =
        post(&format!("{host}/api/2.0/mcp/genie/nope"), &genie, None, ACCEPT, initialize()).await;
    assert_eq!(status, 404, "a space the workspace lacks: {body}");
    assert_eq!(post(&sql_url, "dvs-unknown", None, ACCEPT, initialize()).await.0, 401);
    // Isolation across workspaces: dev's sql token means nothing to prod.
    let prod_sql = format!("{}/api/2.0/mcp/sql", ws_host(&ds, "prod"));
    assert_eq!(post(&prod_sql, &sql, None, ACCEPT, initialize()).await.0, 401);

    let status = home.run(&["status", "--json"]).await.success().json();
    let rows = status["mcp"].as_array().expect("mcp rows");
    let sql_row = rows.iter().find(|r| r["scope"] == "sql").expect("the sql row");
    assert_eq!(sql_row["workspace"], "dev");
    assert_eq!(sql_row["servers"], json!(["databricks-sql"]));
    assert!(sql_row["seconds_left"].as_i64().unwrap() > 3000, "{sql_row}");
    assert_eq!(sql_row["state"], "fresh", "judged by the core's rule, as the tray shows it: {sql_row}");
    let text = home.run(&["status"]).await.success().stdout;
    assert!(text.contains("mcp token `sql`") && text.contains("mcp token `genie`"), "{text}");
}

/// Runs the official MCP SDK client against `url` with `helper` as its headers command.
async fn sdk_client(home: &TempHome, url: &str, helper: &str) -> Value {
    let script = peers_dir().join("mcp_client.mjs");
    let mut cmd = home.command("node");
    cmd.arg(&script)
        .arg(url)
        .arg(helper)
        .arg("execute_sql")
        .arg(r#"{"query": "SELECT * FROM main.default.sales"}"#);
    let out = Proc::spawn("node mcp_client.mjs", cmd).wait(COMMAND_TIMEOUT).await.success();
    serde_json::from_str(out.stdout.trim())
        .unwrap_or_else(|_| panic!("one JSON line: {}", redact(&out.stdout)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_mcp_sdk_queries_the_warehouse_through_the_helper_before_and_after_a_rotation() {
    let Some(peers) = peer_node() else { return };
    if !peers.join("node_modules/@modelcontextprotocol/sdk/package.json").is_file() {
        assert!(may_skip("npm @modelcontextprotocol/sdk is not installed: run scripts/ci-deps.sh"));
        return;
    }
    let ds = start_devstack(Duration::from_secs(3600)).await;
    let home = mcp_home(&ds).await;
    let url = format!("{}/api/2.0/mcp/sql", ws_host(&ds, "dev"));
    let helper = format!(
        "'{}' --config '{}' token --workspace dev --scope sql --headers-json",
        lakepass_bin().display(),
        home.config_path().display()
    );
    let first = scoped(&home, "sql").await;
    let v = sdk_client(&home, &url, &helper).await;
    assert_eq!(v["tools"], json!(["execute_sql"]), "{v}");
    assert_eq!(v["session"], true, "the server assigned a session");
    let text = v["result"]["content"][0]["text"].as_str().unwrap_or_default();
    assert!(text.contains("EMEA") && text.contains("1200"), "{v}");
    let seen = ds.stats().workspaces["dev"].seen_token_fingerprints.clone();
    assert!(seen.contains(&fingerprint(&first)), "the SDK sent the sql-scoped token");

    home.run(&["refresh", "-w", "dev", "--scope", "sql"]).await.success();
    let second = scoped(&home, "sql").await;
    assert!(second != first, "the rotation gave a new sql token");
    let v = sdk_client(&home, &url, &helper).await;
    assert_eq!(v["result"]["isError"], false, "{v}");
    assert!(ds.stats().workspaces["dev"].seen_token_fingerprints.contains(&fingerprint(&second)));
}

/// `launch claude -- -p … --output-format stream-json --verbose`: the init event's MCP servers.
async fn claude_mcp_servers(home: &TempHome) -> Vec<Value> {
    let args = [
        "launch",
        "claude",
        "-w",
        "dev",
        "--",
        "-p",
        "say pong",
        "--output-format",
        "stream-json",
        "--verbose",
    ];
    let out = home.run_timeout(&args, Duration::from_secs(120)).await.success();
    let init = out
        .stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v["type"] == "system" && v["subtype"] == "init")
        .unwrap_or_else(|| panic!("no init event: {}", redact(&out.stdout)));
    init["mcp_servers"].as_array().cloned().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_claude_code_connects_to_the_sql_mcp_server_through_the_headers_helper_and_after_a_rotation() {
    let Some(claude) = claude_peer() else { return };
    let ds = start_devstack(Duration::from_secs(3600)).await;
    let mut home = TempHome::new();
    home.write_config(&format!(
        "claude_path = '''{}'''\n{}\n[mcp.dev]\n",
        claude.display(),
        devstack_config(&ds)
    ));
    home.login(&[]).await;
    for (k, v) in OFFLINE_ENV {
        home.set_env(k, v);
    }
    for round in ["first", "after a rotation"] {
        let servers = claude_mcp_servers(&home).await;
        let sql =
            servers.iter().find(|s| s["name"] == "databricks-sql").unwrap_or_else(|| panic!("{servers:?}"));
        eprintln!("Claude Code's MCP servers ({round}): {servers:?}");
        assert_eq!(sql["status"], "connected", "{round}: {servers:?}");
        let token = scoped(&home, "sql").await;
        let seen = ds.stats().workspaces["dev"].seen_token_fingerprints.clone();
        assert!(seen.contains(&fingerprint(&token)), "{round}: Claude Code sent the sql-scoped token");
        home.run(&["refresh", "-w", "dev", "--scope", "sql"]).await.success();
    }
}

/// `doctor --mcp -w dev --json`, expected to find a problem (exit 5): finding kind per server.
async fn doctor_findings(home: &TempHome) -> Vec<(String, String)> {
    let out = home.run(&["doctor", "--mcp", "-w", "dev", "--json"]).await.code(5);
    let report = out.json();
    assert_eq!(report["ok"], false);
    let checks = report["checks"].as_array().expect("checks");
    for c in checks {
        let fixed = c["finding"]["kind"] == "ok" || c["fix"].as_str().is_some_and(|f| !f.is_empty());
        assert!(fixed, "every problem has a fix: {c}");
    }
    checks
        .iter()
        .map(|c| {
            (
                c["server"]["name"].as_str().unwrap().to_string(),
                c["finding"]["kind"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_mcp_names_a_refused_scope_a_server_not_enabled_and_a_token_refused_for_its_scope() {
    use lakepass_devstack::{FaultKind, FaultRule, Target};
    let ds = start_devstack(Duration::from_secs(3600)).await;
    let home = TempHome::new();
    home.write_config(&format!(
        "{}\n[mcp.dev]\ngenie = [\"nope\"]\nfunctions = [\"main.tools\"]\n",
        devstack_config(&ds)
    ));
    home.login(&[]).await;
    let kinds = |v: &[(String, String)]| v.iter().map(|(_, k)| k.clone()).collect::<Vec<_>>();

    // The workspace will not mint these scopes (what Databricks answers for a scope it does not
    // grant): the servers work with the workspace's all-apis token, and the doctor says so; the
    // space that does not exist is still not enabled.
    let refused = r#"{"error":"invalid_scope","error_description":"Requested scopes are not allowed"}"#;
    let fault = FaultKind::Body { code: 400, body: refused.into(), content_type: None };
    ds.faults().add(FaultRule::new(Target::WorkspaceToken, fault).on_workspace("dev"));
    let found = doctor_findings(&home).await;
    assert_eq!(kinds(&found), ["workspace_token", "not_enabled", "workspace_token"], "{found:?}");
    let text = home.run(&["doctor", "--mcp", "-w", "dev"]).await.code(5).stdout;
    assert!(
        text.contains("scope `unity-catalog`")
            && text.contains("invalid_scope")
            && text.contains("all-apis token"),
        "{text}"
    );
    // With least privilege required, the refusal is the finding, with what to do.
    let config = std::fs::read_to_string(home.config_path()).unwrap();
    home.write_config(&config.replace("[mcp.dev]\n", "[mcp.dev]\nleast_privilege = true\n"));
    let found = doctor_findings(&home).await;
    assert_eq!(kinds(&found), ["scope_refused"; 3], "{found:?}");
    let text = home.run(&["doctor", "--mcp", "-w", "dev"]).await.code(5).stdout;
    assert!(text.contains("least_privilege = true") && text.contains("invalid_scope"), "{text}");
    home.write_config(&config);
    ds.faults().clear();

    // Tokens now; the Genie space does not exist in the workspace: not enabled (404).
    let found = doctor_findings(&home).await;
    assert_eq!(
        found,
        [
            ("databricks-sql".to_string(), "ok".to_string()),
            ("databricks-genie-nope".into(), "not_enabled".into()),
            ("databricks-functions-main-tools".into(), "ok".into()),
        ]
    );

    // The servers refuse the tokens minted for them (403, Databricks' body).
    let denied = r#"{"error_code":"PERMISSION_DENIED","message":"Provided access token does not have required scopes: sql"}"#;
    let fault = FaultKind::Body { code: 403, body: denied.into(), content_type: None };
    ds.faults().add(FaultRule::new(Target::WorkspaceApi, fault).on_workspace("dev"));
    let found = doctor_findings(&home).await;
    assert_eq!(found[0], ("databricks-sql".to_string(), "token_rejected".to_string()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_claude_code_reaches_the_sql_mcp_server_over_tls() {
    let Some(claude) = claude_peer() else { return };
    let ds = crate::tls::tls_devstack().await;
    let (mut home, ca) = crate::tls::home_over(&ds, true);
    let config = std::fs::read_to_string(home.config_path()).unwrap();
    home.write_config(&format!("claude_path = '''{}'''\n{config}\n[mcp.dev]\n", claude.display()));
    crate::tls::login(&home, &ds).await.success();
    for (k, v) in OFFLINE_ENV {
        home.set_env(k, v);
    }
    // Claude Code (Node) trusts the company CA the way Node tools do; Lakepass's helper has `ca_file`.
    home.set_env("NODE_EXTRA_CA_CERTS", ca.as_os_str());
    let servers = claude_mcp_servers(&home).await;
    assert!(ws_host(&ds, "dev").starts_with("https://"));
    let sql = servers.iter().find(|s| s["name"] == "databricks-sql").unwrap_or_else(|| panic!("{servers:?}"));
    assert_eq!(sql["status"], "connected", "{servers:?}");
    let token = scoped(&home, "sql").await;
    assert!(ds.stats().workspaces["dev"].seen_token_fingerprints.contains(&fingerprint(&token)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_daemon_running_the_headers_helper_answers_from_its_memory_with_the_scoped_token() {
    let ds = start_devstack(Duration::from_secs(3600)).await;
    let home = TempHome::new();
    home.write_config(&format!("{}\n[serve]\nport = {}\n[mcp.dev]\n", devstack_config(&ds), free_port()));
    home.login(&[]).await;
    let (mut daemon, _) = Proc::spawn_until(
        "lakepass daemon",
        home.lakepass(&["daemon"]),
        Stream::Stderr,
        Duration::from_secs(30),
        |l| l.contains("live token service on").then_some(()),
    )
    .await;
    daemon.close_stdin();
    let first = scoped(&home, "sql").await;
    let exchanges = ds.stats().workspaces["dev"].exchanges_ok;

    // Without the vault, only the daemon can answer: the same sql token, not the own one.
    let away = home.vault_path().with_extension("away");
    std::fs::rename(home.vault_path(), &away).unwrap();
    for _ in 0..5 {
        assert_eq!(scoped(&home, "sql").await, first, "the daemon's sql token");
    }
    let own = home.run(&["token", "--raw", "-w", "dev"]).await.success().stdout.trim().to_string();
    assert_ne!(own, first, "the plain request still gets the workspace's own token");
    std::fs::rename(&away, home.vault_path()).unwrap();
    assert_eq!(ds.stats().workspaces["dev"].exchanges_ok, exchanges, "no new exchange");
    // How fast it answers is a benchmark's business (bench/), not this test's.
    daemon.sigterm();
    daemon.wait(Duration::from_secs(20)).await.success();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn launch_claude_names_each_server_first_in_argv_and_write_settings_merges_mcp_json() {
    use crate::launch::{recorded, recorder};
    let ds = start_devstack(Duration::from_secs(3600)).await;
    let home = TempHome::new();
    let fake = home.root().join("fakebin").join("claude");
    home.write_config(&format!(
        "claude_path = '''{}'''\n{}\n[mcp.dev]\ngenie = [\"{GENIE_SPACE}\"]\n",
        fake.display(),
        devstack_config(&ds)
    ));
    home.login(&[]).await;
    let project = home.root().join("project");
    std::fs::create_dir_all(&project).unwrap();
    let mine = r#"{"mcpServers": {"mine": {"command": "my-server"}}, "note": "kept"}"#;
    std::fs::write(project.join(".mcp.json"), mine).unwrap();
    let out = home.root().join("claude-run");
    recorder(&fake, &out, "exit 0");
    let mut cmd = home.lakepass(&["launch", "claude", "-w", "dev", "--write-settings", "--", "-p", "hi"]);
    cmd.current_dir(&project);
    let run = Proc::spawn("lakepass launch claude", cmd).wait(COMMAND_TIMEOUT).await.success();
    assert!(run.stderr.contains("databricks-sql"), "{}", redact(&run.stderr));
    let rec = recorded(&out, "the fake claude").await;

    // `--mcp-config` takes several values, so it comes first; the prompt stays the prompt.
    assert_eq!(rec.argv[0], "--mcp-config");
    assert_eq!(rec.argv[2], "--settings");
    assert_eq!(rec.argv[rec.argv.len() - 2..], ["-p", "hi"]);
    let config: Value = serde_json::from_str(&rec.argv[1]).expect("MCP config JSON");
    let sql = &config["mcpServers"]["databricks-sql"];
    assert_eq!(sql["type"], "http");
    assert_eq!(sql["url"], format!("{}/api/2.0/mcp/sql", ws_host(&ds, "dev")));
    let genie = &config["mcpServers"][format!("databricks-genie-{GENIE_SPACE}")];
    assert!(genie["headersHelper"].as_str().unwrap().ends_with("--scope genie --headers-json"), "{genie}");
    // No token anywhere in what Claude Code is handed: only the helpers' commands.
    for secret in home.vault_secrets() {
        assert!(!rec.argv.iter().any(|a| a.contains(&secret)), "a token in argv");
        assert!(!rec.env.values().any(|v| v.contains(&secret)), "a token in the environment");
    }

    // The helper, run by a shell as Claude Code runs it, prints the sql-scoped token's header.
    let mut sh = tokio::process::Command::new("/bin/sh");
    sh.arg("-c").arg(sql["headersHelper"].as_str().unwrap()).env_clear().envs(&rec.env);
    let printed = Proc::spawn("headersHelper", sh).wait(COMMAND_TIMEOUT).await.success();
    let headers: Value = serde_json::from_str(printed.stdout.trim()).expect("a JSON object");
    assert_eq!(headers["Authorization"], format!("Bearer {}", scoped(&home, "sql").await));

    let merged: Value =
        serde_json::from_str(&std::fs::read_to_string(project.join(".mcp.json")).unwrap()).unwrap();
    assert_eq!(merged["note"], "kept");
    assert_eq!(merged["mcpServers"]["mine"], json!({"command": "my-server"}));
    assert_eq!(merged["mcpServers"]["databricks-sql"], *sql);
}

/// Issue 24 point 2: search servers for a schema and an index, at the `vector-search` URL
/// Databricks' clients build, reached through the official MCP SDK with the `ai-search`
/// helper; and on a workspace that only serves the docs' `ai-search` spelling, the index server
/// moves there (the doctor's resolved URL), while the schema server, which has no such form, is
/// reported not enabled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_servers_for_a_schema_and_an_index_through_the_official_mcp_sdk() {
    let Some(peers) = peer_node() else { return };
    if !peers.join("node_modules/@modelcontextprotocol/sdk/package.json").is_file() {
        assert!(may_skip("npm @modelcontextprotocol/sdk is not installed: run scripts/ci-deps.sh"));
        return;
    }
    let ds = start_devstack(Duration::from_secs(3600)).await;
    let home = TempHome::new();
    home.write_config(&format!(
        "{}\n[mcp.dev]\nsql = false\nsearch = [\"main.docs\", \"main.docs.faq\"]\n",
        devstack_config(&ds)
    ));
    home.login(&[]).await;
    let host = ws_host(&ds, "dev");
    let (schema_url, index_url) = (
        format!("{host}/api/2.0/mcp/vector-search/main/docs"),
        format!("{host}/api/2.0/mcp/vector-search/main/docs/faq"),
    );
    let ai_index_url = format!("{host}/api/2.0/mcp/ai-search/main/docs/faq");
    let list = home.run(&["mcp", "list", "-w", "dev", "--json"]).await.success().json();
    assert_eq!(
        list["servers"],
        json!([
            {"name": "databricks-search-main-docs", "url": schema_url, "scope": "ai-search"},
            {"name": "databricks-search-main-docs-faq", "url": index_url, "scope": "ai-search", "alternate_url": ai_index_url},
        ])
    );
    let helper = format!(
        "'{}' --config '{}' token --workspace dev --scope ai-search --headers-json",
        lakepass_bin().display(),
        home.config_path().display()
    );
    let search = |url: String| {
        let (home, helper) = (&home, &helper);
        async move {
            let mut cmd = home.command("node");
            cmd.arg(peers_dir().join("mcp_client.mjs"))
                .arg(&url)
                .arg(helper)
                .arg("main__docs__faq")
                .arg(r#"{"query": "fresh tokens"}"#);
            let out = Proc::spawn("node mcp_client.mjs", cmd).wait(COMMAND_TIMEOUT).await.success();
            serde_json::from_str::<Value>(out.stdout.trim())
                .unwrap_or_else(|_| panic!("one JSON line: {}", redact(&out.stdout)))
        }
    };
    for url in [schema_url.clone(), index_url.clone()] {
        let v = search(url.clone()).await;
        assert_eq!(v["tools"], json!(["main__docs__faq"]), "{url}: {v}");
        let text = v["result"]["content"][0]["text"].as_str().unwrap_or_default();
        assert!(text.contains("keeps Databricks OAuth tokens fresh"), "{url}: {v}");
    }
    let token = scoped(&home, "ai-search").await;
    assert!(ds.stats().workspaces["dev"].seen_token_fingerprints.contains(&fingerprint(&token)));

    // Only the docs' spelling is served: the index server moves to it, the schema one cannot.
    ds.set_vector_search_route(false);
    let report = home.run(&["doctor", "--mcp", "-w", "dev", "--json"]).await.code(5).json();
    let checks = report["checks"].as_array().unwrap();
    assert_eq!(checks[0]["server"]["url"], schema_url);
    assert_eq!(checks[0]["finding"]["kind"], "not_enabled", "{report}");
    assert_eq!(checks[1]["server"]["url"], ai_index_url, "the index server at the other spelling: {report}");
    assert_eq!(checks[1]["finding"]["kind"], "ok", "{report}");
    let v = search(ai_index_url).await;
    assert!(
        v["result"]["content"][0]["text"]
            .as_str()
            .unwrap_or_default()
            .contains("keeps Databricks OAuth tokens fresh"),
        "{v}"
    );
}
