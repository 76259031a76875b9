//! Databricks managed MCP servers, as a workspace serves them: `/api/2.0/mcp/sql`,
//! `/api/2.0/mcp/genie/{space_id}`, `/api/2.0/mcp/functions/{catalog}/{schema}` and the search
//! servers, speaking MCP's Streamable HTTP transport (specification 2025-06-18, "Basic /
//! Transports"; the 2025-03-26 revision reads the same on these points):
//! - every JSON-RPC message is one POST whose `Accept` lists both `application/json` and
//!   `text/event-stream` (else 406); a request gets `application/json` back, a notification or
//!   a response `202 Accepted` with no body; batches (JSON arrays) are refused;
//! - `initialize` opens a session: its response carries `Mcp-Session-Id`, which every later
//!   request must carry (400 without it, 404 for an unknown or ended one, after which a client
//!   starts over); `DELETE` with it ends the session; `GET` (a server-to-client SSE stream) is
//!   not offered: 405, as the specification allows;
//! - an `MCP-Protocol-Version` header naming a version the server does not speak is a 400.
//!
//! Search comes in two spellings. Databricks' own clients build
//! `/api/2.0/mcp/vector-search/{catalog}/{schema}[/{index}]` (databricks/ucode
//! `src/ucode/mcp.py`; databricks/databricks-ai-bridge `databricks_mcp/src/databricks_mcp/mcp.py`
//! `MCP_URL_PATTERNS` and `tests/integration_tests/conftest.py`, which use both the schema and
//! the index form), while the current managed-MCP docs (docs.databricks.com/aws/en/agents/mcp/
//! managed-mcp) list "AI Search" at `/api/2.0/mcp/ai-search/{catalog}/{schema}/{index_name}`.
//! Both are served; the docs show no schema-level `ai-search` form, so it is a 404 here.
//! [`crate::Devstack::set_vector_search_route`] turns the `vector-search` spelling off, as on a
//! workspace that only has the renamed one.
//!
//! Authorization is Databricks': the workspace's own bearer token, carrying either the server's
//! OAuth scope (`sql`, `genie`, `unity-catalog`, `ai-search`/`vector-search`, per the
//! managed-MCP docs' table) or `all-apis`. Databricks' own clients send the workspace's
//! `all-apis` token to these servers: ucode's `src/ucode/mcp_proxy.py` mints it with
//! `databricks auth token` (the CLI's U2M token, `all-apis` by default), and databricks-mcp's
//! integration tests (`databricks_mcp/tests/integration_tests/conftest.py`) connect with a
//! plain `WorkspaceClient()` (M2M, the SDK's default `all-apis`). A token with neither is 403
//! `PERMISSION_DENIED` ("Provided access token does not have required scopes: …", the wording
//! reported in solana-foundation/solana-mcp-official PR #116). A missing, unknown or foreign
//! token is 401 as on every API; a Genie space, function schema or index the workspace does not
//! have is 404 (the server is not enabled there).
//!
//! The data is a small fixed table, `main.default.sales`, which `execute_sql` reads and the
//! Genie space answers questions about; schema `main.tools` has one function, `add`; schema
//! `main.docs` has one search index, `faq`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Extension, Json, Router};
use serde_json::{Value, json};

use crate::errors::{bearer, databricks_error};
use crate::faults::Skew;
use crate::keys::random_hex;
use crate::workspace_state::{WsState, authenticate};

/// The Genie space the devstack workspaces have.
pub const GENIE_SPACE: &str = "01devstackgenie";
/// The Unity Catalog function schema the devstack workspaces have, `catalog.schema`.
pub const FUNCTION_SCHEMA: (&str, &str) = ("main", "tools");
/// The search index the devstack workspaces have, `catalog.schema.index`.
pub const SEARCH_INDEX: (&str, &str, &str) = ("main", "docs", "faq");
/// The documents of [`SEARCH_INDEX`].
const FAQ: &[&str] =
    &["Lakepass keeps Databricks OAuth tokens fresh.", "Managed MCP servers take the workspace token."];
/// The session header.
const SESSION: &str = "mcp-session-id";
/// Protocol versions this server speaks, newest first.
const VERSIONS: &[&str] = &["2025-11-25", "2025-06-18", "2025-03-26"];
/// The fixed table: region, revenue.
const SALES: &[(&str, i64)] = &[("AMER", 3400), ("EMEA", 1200), ("APAC", 900)];

/// A refusal, boxed: a `Response` is large, and most calls are not refused.
type Refused = Box<Response>;

/// Open sessions of one workspace, by id.
#[derive(Default)]
pub(crate) struct Sessions(Mutex<HashMap<String, Session>>);

struct Session {
    path: String,
    user: String,
}

/// The MCP routes of a workspace, each workspace with its own sessions.
pub(crate) fn routes() -> Router<WsState> {
    let sessions = Arc::new(Sessions::default());
    let any = || post(handle_post).get(handle_get).delete(handle_delete);
    Router::new()
        .route("/api/2.0/mcp/sql", any())
        .route("/api/2.0/mcp/genie/{space}", any())
        .route("/api/2.0/mcp/functions/{catalog}/{schema}", any())
        .route("/api/2.0/mcp/vector-search/{catalog}/{schema}", any())
        .route("/api/2.0/mcp/vector-search/{catalog}/{schema}/{index}", any())
        .route("/api/2.0/mcp/ai-search/{catalog}/{schema}/{index}", any())
        .layer(Extension(sessions))
}

/// Which managed server a path names.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Server {
    Sql,
    Genie(String),
    Functions(String, String),
    /// A search schema (every index in it), or one index of it.
    Search(String, String, Option<String>),
}

impl Server {
    /// The server `path` names; `vector_search` says whether that spelling is served.
    fn parse(path: &str, vector_search: bool) -> Option<Server> {
        let rest = path.strip_prefix("/api/2.0/mcp/")?;
        let parts: Vec<&str> = rest.split('/').collect();
        let search = |c: &&str, s: &&str, i: Option<&&str>| {
            Some(Server::Search(c.to_string(), s.to_string(), i.map(|i| i.to_string())))
        };
        match parts.as_slice() {
            ["sql"] => Some(Server::Sql),
            ["genie", id] => Some(Server::Genie(id.to_string())),
            ["functions", c, s] => Some(Server::Functions(c.to_string(), s.to_string())),
            ["vector-search", c, s] if vector_search => search(c, s, None),
            ["vector-search", c, s, i] if vector_search => search(c, s, Some(i)),
            ["ai-search", c, s, i] => search(c, s, Some(i)),
            _ => None,
        }
    }

    /// The OAuth scopes that admit a token here besides `all-apis`.
    fn scopes(&self) -> &'static [&'static str] {
        match self {
            Server::Sql => &["sql"],
            Server::Genie(_) => &["genie"],
            Server::Functions(..) => &["unity-catalog"],
            // The current docs pair search with `ai-search`, older ones with `vector-search`.
            Server::Search(..) => &["ai-search", "vector-search"],
        }
    }

    fn exists(&self) -> bool {
        match self {
            Server::Sql => true,
            Server::Genie(id) => id == GENIE_SPACE,
            Server::Functions(c, s) => (c.as_str(), s.as_str()) == FUNCTION_SCHEMA,
            Server::Search(c, s, i) => {
                (c.as_str(), s.as_str()) == (SEARCH_INDEX.0, SEARCH_INDEX.1)
                    && i.as_deref().is_none_or(|i| i == SEARCH_INDEX.2)
            }
        }
    }

    fn name(&self) -> String {
        match self {
            Server::Sql => "databricks-sql".into(),
            Server::Genie(id) => format!("databricks-genie-{id}"),
            Server::Functions(c, s) => format!("databricks-functions-{c}-{s}"),
            Server::Search(c, s, None) => format!("databricks-search-{c}-{s}"),
            Server::Search(c, s, Some(i)) => format!("databricks-search-{c}-{s}-{i}"),
        }
    }

    fn tools(&self) -> Value {
        let tool = |name: String, description: &str, properties: Value, required: &[&str]| {
            json!({
                "name": name,
                "description": description,
                "inputSchema": {"type": "object", "properties": properties, "required": required},
            })
        };
        let list = match self {
            Server::Sql => vec![tool(
                "execute_sql".into(),
                "Run a SQL statement on a SQL warehouse and return its rows.",
                json!({"query": {"type": "string", "description": "The SQL statement"}}),
                &["query"],
            )],
            Server::Genie(id) => vec![tool(
                format!("query_space_{id}"),
                "Ask the Genie space a question about sales in natural language.",
                json!({"query": {"type": "string", "description": "The question"}}),
                &["query"],
            )],
            Server::Functions(c, s) => vec![tool(
                format!("{c}__{s}__add"),
                "Adds two integers (a Unity Catalog SQL function).",
                json!({"a": {"type": "integer"}, "b": {"type": "integer"}}),
                &["a", "b"],
            )],
            // One tool per index, named as databricks-mcp reads it back (`__` for `.`).
            Server::Search(c, s, _) => vec![tool(
                format!("{c}__{s}__{}", SEARCH_INDEX.2),
                "Searches the FAQ index for documents matching a query.",
                json!({"query": {"type": "string", "description": "What to look for"}}),
                &["query"],
            )],
        };
        json!({ "tools": list })
    }

    /// A tool's result; `Err` for an unknown tool (a JSON-RPC error, not a tool error).
    fn call(&self, name: &str, args: &Value) -> Result<Value, String> {
        let text = |t: String, is_error: bool| json!({"content": [{"type": "text", "text": t}], "isError": is_error});
        let arg = |k: &str| args.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
        match self {
            Server::Sql if name == "execute_sql" => Ok(match execute_sql(&arg("query")) {
                Ok(rows) => text(rows.to_string(), false),
                Err(e) => text(e, true),
            }),
            Server::Genie(id) if name == format!("query_space_{id}") => {
                let (region, revenue) = SALES[0];
                Ok(text(format!("{region} has the highest revenue: {revenue}."), false))
            }
            Server::Functions(c, s) if name == format!("{c}__{s}__add") => {
                let n = |k: &str| args.get(k).and_then(Value::as_i64);
                Ok(match (n("a"), n("b")) {
                    (Some(a), Some(b)) => text(json!({"result": a + b}).to_string(), false),
                    _ => text("`a` and `b` must be integers".into(), true),
                })
            }
            Server::Search(c, s, _) if name == format!("{c}__{s}__{}", SEARCH_INDEX.2) => {
                let words: Vec<String> = arg("query").split_whitespace().map(str::to_lowercase).collect();
                let hits: Vec<&str> = FAQ
                    .iter()
                    .copied()
                    .filter(|d| words.iter().any(|w| d.to_lowercase().contains(w.as_str())))
                    .collect();
                Ok(text(json!({"results": hits}).to_string(), false))
            }
            _ => Err(format!("Unknown tool: {name}")),
        }
    }
}

/// The tiny SQL the devstack understands: `SELECT <integer>`, and any query reading
/// `main.default.sales` (or `sales`), which returns the whole table.
fn execute_sql(query: &str) -> Result<Value, String> {
    let q = query.trim().trim_end_matches(';').trim();
    let lower = q.to_ascii_lowercase();
    if let Some(n) = lower.strip_prefix("select ").and_then(|r| r.trim().parse::<i64>().ok()) {
        return Ok(json!({"columns": ["value"], "rows": [[n]]}));
    }
    if lower.starts_with("select") && lower.contains("sales") {
        let rows: Vec<Value> = SALES.iter().map(|(r, v)| json!([r, v])).collect();
        return Ok(json!({"columns": ["region", "revenue"], "rows": rows}));
    }
    Err(format!("[TABLE_OR_VIEW_NOT_FOUND] The devstack warehouse only has main.default.sales: {q}"))
}

/// 401 for a missing, unknown or expired token (as on every API); 403 when the token carries
/// neither `all-apis` nor the server's scope.
fn authorize(st: &WsState, headers: &HeaderMap, skew: Skew, server: &Server) -> Result<String, Refused> {
    let principal = authenticate(st, headers, skew, &[]).map_err(|r| Box::new(r.into_response()))?;
    let scopes =
        bearer(headers).and_then(|t| st.ws().lookup(t, skew.now())).map(|(_, s)| s).unwrap_or_default();
    let admits = |s: &String| s == "all-apis" || server.scopes().contains(&s.as_str());
    if !scopes.iter().any(admits) {
        return Err(Box::new(databricks_error(
            StatusCode::FORBIDDEN,
            "PERMISSION_DENIED",
            &format!("Provided access token does not have required scopes: {}", server.scopes()[0]),
        )));
    }
    Ok(principal.user_name)
}

/// Which server the request names, checked for auth and existence: everything a method does first.
fn admit(st: &WsState, headers: &HeaderMap, skew: Skew, uri: &Uri) -> Result<(Server, String), Refused> {
    let vector_search = st.shared.vector_search_route.load(std::sync::atomic::Ordering::SeqCst);
    let server = Server::parse(uri.path(), vector_search).ok_or_else(|| {
        Box::new(databricks_error(StatusCode::NOT_FOUND, "ENDPOINT_NOT_FOUND", "No such MCP server"))
    })?;
    let user = authorize(st, headers, skew, &server)?;
    if !server.exists() {
        return Err(Box::new(databricks_error(
            StatusCode::NOT_FOUND,
            "RESOURCE_DOES_NOT_EXIST",
            &format!("MCP server {} does not exist in this workspace", uri.path()),
        )));
    }
    Ok((server, user))
}

fn rpc_error(status: StatusCode, id: Value, code: i64, message: &str) -> Response {
    (status, Json(json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}})))
        .into_response()
}

fn accepts_both(headers: &HeaderMap) -> bool {
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let has = |t: &str| accept.split(',').any(|p| p.split(';').next().is_some_and(|m| m.trim() == t));
    has("application/json") && has("text/event-stream")
}

/// The session a request names, if it is open and was opened for this server by this user.
fn session_of(sessions: &Sessions, headers: &HeaderMap, uri: &Uri, user: &str) -> Result<String, Refused> {
    let Some(id) = headers.get(SESSION).and_then(|v| v.to_str().ok()) else {
        return Err(Box::new(rpc_error(
            StatusCode::BAD_REQUEST,
            Value::Null,
            -32000,
            "Bad Request: Mcp-Session-Id header is required",
        )));
    };
    let open = sessions.0.lock().expect("sessions");
    match open.get(id) {
        Some(s) if s.path == uri.path() && s.user == user => Ok(id.to_string()),
        _ => Err(Box::new(rpc_error(StatusCode::NOT_FOUND, Value::Null, -32001, "Session not found"))),
    }
}

async fn handle_post(
    State(st): State<WsState>,
    Extension(skew): Extension<Skew>,
    Extension(sessions): Extension<Arc<Sessions>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (server, user) = match admit(&st, &headers, skew, &uri) {
        Ok(ok) => ok,
        Err(resp) => return *resp,
    };
    if !accepts_both(&headers) {
        return rpc_error(
            StatusCode::NOT_ACCEPTABLE,
            Value::Null,
            -32000,
            "Not Acceptable: Accept must list application/json and text/event-stream",
        );
    }
    let Ok(msg) = serde_json::from_slice::<Value>(&body) else {
        return rpc_error(StatusCode::BAD_REQUEST, Value::Null, -32700, "Parse error");
    };
    if !msg.is_object() {
        return rpc_error(
            StatusCode::BAD_REQUEST,
            Value::Null,
            -32600,
            "Invalid Request: one JSON-RPC message per POST",
        );
    }
    let method = msg.get("method").and_then(Value::as_str);
    let id = msg.get("id").cloned();
    if method == Some("initialize") {
        let Some(id) = id else {
            return rpc_error(StatusCode::BAD_REQUEST, Value::Null, -32600, "initialize must be a request");
        };
        let asked = msg.pointer("/params/protocolVersion").and_then(Value::as_str).unwrap_or_default();
        let version = VERSIONS.iter().find(|v| **v == asked).unwrap_or(&VERSIONS[0]);
        let sid = random_hex(16);
        sessions.0.lock().expect("sessions").insert(sid.clone(), Session { path: uri.path().into(), user });
        let result = json!({
            "protocolVersion": version,
            "capabilities": {"tools": {"listChanged": false}},
            "serverInfo": {"name": server.name(), "version": env!("CARGO_PKG_VERSION")},
        });
        let mut resp = Json(json!({"jsonrpc": "2.0", "id": id, "result": result})).into_response();
        resp.headers_mut().insert(SESSION, HeaderValue::from_str(&sid).expect("hex is a header value"));
        return resp;
    }
    if let Err(resp) = session_of(&sessions, &headers, &uri, &user) {
        return *resp;
    }
    let version = headers.get("mcp-protocol-version").and_then(|v| v.to_str().ok());
    if version.is_some_and(|v| !VERSIONS.contains(&v)) {
        return rpc_error(
            StatusCode::BAD_REQUEST,
            Value::Null,
            -32000,
            "Bad Request: unsupported MCP-Protocol-Version",
        );
    }
    let (Some(method), Some(id)) = (method, id) else {
        // A notification (`notifications/initialized`, …) or a response: accepted, no body.
        return StatusCode::ACCEPTED.into_response();
    };
    let params = msg.get("params").cloned().unwrap_or(Value::Null);
    let result = match method {
        "ping" => Ok(json!({})),
        "tools/list" => Ok(server.tools()),
        "tools/call" => {
            let name = params.get("name").and_then(Value::as_str).unwrap_or_default();
            let args = params.get("arguments").cloned().unwrap_or_else(|| json!({}));
            server.call(name, &args).map_err(|m| (-32602, m))
        }
        other => Err((-32601, format!("Method not found: {other}"))),
    };
    match result {
        Ok(r) => Json(json!({"jsonrpc": "2.0", "id": id, "result": r})).into_response(),
        Err((code, message)) => rpc_error(StatusCode::OK, id, code, &message),
    }
}

/// No server-to-client stream is offered (the specification's 405).
async fn handle_get(
    State(st): State<WsState>,
    Extension(skew): Extension<Skew>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    if let Err(resp) = admit(&st, &headers, skew, &uri) {
        return *resp;
    }
    (StatusCode::METHOD_NOT_ALLOWED, [(header::ALLOW, "POST, DELETE")]).into_response()
}

/// Ends a session: 200, then 404 for anything that names it.
async fn handle_delete(
    State(st): State<WsState>,
    Extension(skew): Extension<Skew>,
    Extension(sessions): Extension<Arc<Sessions>>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let user = match admit(&st, &headers, skew, &uri) {
        Ok((_, user)) => user,
        Err(resp) => return *resp,
    };
    match session_of(&sessions, &headers, &uri, &user) {
        Ok(id) => {
            sessions.0.lock().expect("sessions").remove(&id);
            StatusCode::OK.into_response()
        }
        Err(resp) => *resp,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_name_servers_and_their_scopes() {
        let parse = |p: &str| Server::parse(p, true);
        assert_eq!(parse("/api/2.0/mcp/sql"), Some(Server::Sql));
        let g = parse(&format!("/api/2.0/mcp/genie/{GENIE_SPACE}")).unwrap();
        assert_eq!((g.scopes(), g.exists()), (&["genie"][..], true));
        let f = parse("/api/2.0/mcp/functions/main/tools").unwrap();
        assert_eq!((f.scopes(), f.exists()), (&["unity-catalog"][..], true));
        assert!(!parse("/api/2.0/mcp/genie/nope").unwrap().exists());
        assert_eq!(parse("/api/2.0/mcp/sql/extra"), None);
        for p in [
            "/api/2.0/mcp/vector-search/main/docs",
            "/api/2.0/mcp/vector-search/main/docs/faq",
            "/api/2.0/mcp/ai-search/main/docs/faq",
        ] {
            assert!(parse(p).unwrap().exists(), "{p}");
        }
        assert!(!parse("/api/2.0/mcp/ai-search/main/docs/other").unwrap().exists());
        assert_eq!(parse("/api/2.0/mcp/ai-search/main/docs"), None, "no schema-level ai-search in the docs");
        assert_eq!(Server::parse("/api/2.0/mcp/vector-search/main/docs", false), None, "that spelling off");
    }

    #[test]
    fn the_warehouse_answers_from_its_table() {
        let rows = execute_sql("SELECT region, revenue FROM main.default.sales;").unwrap();
        assert_eq!(rows["rows"][0], json!(["AMER", 3400]));
        assert_eq!(execute_sql("select 42").unwrap()["rows"], json!([[42]]));
        assert!(execute_sql("SELECT * FROM other").is_err());
        let f = Server::Functions("main".into(), "tools".into());
        let r = f.call("main__tools__add", &json!({"a": 2, "b": 3})).unwrap();
        assert_eq!(r["content"][0]["text"], r#"{"result":5}"#);
        assert!(f.call("nope", &json!({})).is_err());
    }

    #[test]
    fn accept_must_list_both_types() {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT, "application/json, text/event-stream".parse().unwrap());
        assert!(accepts_both(&h));
        h.insert(header::ACCEPT, "application/json".parse().unwrap());
        assert!(!accepts_both(&h));
        h.insert(header::ACCEPT, "text/event-stream;q=0.9,application/json;q=1".parse().unwrap());
        assert!(accepts_both(&h));
    }
}
