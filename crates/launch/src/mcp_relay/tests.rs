use super::*;

fn ws(host: &str) -> Workspace {
    let config: lakepass_config::Config = toml_config(host);
    config.workspace(Some("dev")).unwrap()
}

fn toml_config(host: &str) -> lakepass_config::Config {
    let text = format!(
        "[idp.corp]\nissuer = \"https://idp.example.com\"\nclient_id = \"c\"\n\
         [workspace.dev]\nidp = \"corp\"\nhost = \"{host}\"\n"
    );
    lakepass_config::Config::parse(&text, std::path::Path::new("config.toml")).unwrap()
}

#[test]
fn only_the_workspace_hosts_managed_mcp_paths_are_targets() {
    let dev = ws("https://adb-1.example.net");
    let ok = mcp_target(&dev, "https://adb-1.example.net/api/2.0/mcp/sql").unwrap();
    assert_eq!(ok.as_str(), "https://adb-1.example.net/api/2.0/mcp/sql");
    assert!(mcp_target(&dev, "https://ADB-1.example.net:443/api/2.0/mcp/genie/x").is_ok());
    let other = |u: &str| matches!(mcp_target(&dev, u), Err(TargetError::OtherHost { .. }));
    assert!(other("https://evil.example.net/api/2.0/mcp/sql"));
    assert!(other("https://adb-1.example.net.evil.io/api/2.0/mcp/sql"));
    assert!(other("http://adb-1.example.net/api/2.0/mcp/sql"), "no plain http off loopback");
    assert!(other("https://adb-1.example.net:8443/api/2.0/mcp/sql"), "another port");
    let not_mcp = |u: &str| matches!(mcp_target(&dev, u), Err(TargetError::NotMcp { .. }));
    assert!(not_mcp("https://adb-1.example.net/api/2.0/token/create"));
    assert!(not_mcp("https://adb-1.example.net/api/2.0/mcp/../token/create"), "dot segments resolve first");
    assert!(not_mcp("https://adb-1.example.net/api/2.0/mcp/%2e%2e/%2e%2e/preview/scim/v2/Me"));
    assert!(not_mcp("https://me@adb-1.example.net/api/2.0/mcp/sql"));
    assert!(not_mcp("https://adb-1.example.net/api/2.0/mcp/sql#x"));
    assert!(matches!(mcp_target(&dev, "adb-1.example.net/api/2.0/mcp/sql"), Err(TargetError::NotUrl { .. })));
    let local = ws("http://127.0.0.1:8080");
    assert!(mcp_target(&local, "http://127.0.0.1:8080/api/2.0/mcp/sql").is_ok());
    assert!(matches!(
        mcp_target(&local, "http://127.0.0.1:8081/api/2.0/mcp/sql"),
        Err(TargetError::OtherHost { .. })
    ));
}

#[test]
fn requests_are_told_from_notifications_and_responses() {
    let req = json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call"});
    assert_eq!(classify(&req), Some(Incoming::Request { id: json!(3), method: "tools/call".into() }));
    assert_eq!(
        classify(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"})),
        Some(Incoming::Other)
    );
    assert_eq!(classify(&json!({"jsonrpc": "2.0", "id": "s1", "result": {}})), Some(Incoming::Other));
    assert_eq!(classify(&json!([1])), None);
}

#[test]
fn failures_keep_the_servers_code_and_message() {
    let rpc = json!({"jsonrpc": "2.0", "id": null, "error": {"code": -32000, "message": "Bad Request"}});
    assert_eq!(failure_of(Some(&rpc)), (None, Some("Bad Request".into())));
    let dbx = json!({"error_code": "PERMISSION_DENIED", "message": "no scope"});
    assert_eq!(failure_of(Some(&dbx)), (Some("PERMISSION_DENIED".into()), Some("no scope".into())));
    assert_eq!(failure_of(None), (None, None));
}
