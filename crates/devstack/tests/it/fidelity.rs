//! Where the devstack is as strict as Databricks (issue 24): form-only account token endpoint,
//! required Messages fields, real scope names, managed MCP servers that take the workspace's
//! `all-apis` token, the narrow-scope switch of the exchange, the search server routes, and
//! account users.

use lakepass_devstack::{Devstack, NarrowScopes};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

/// A workspace token for `scope` from the service principal's client credentials.
async fn sp_token(stack: &Devstack, scope: &str) -> (StatusCode, Value) {
    let sp = &stack.info().service_principal;
    let resp = client()
        .post(format!("{}/oidc/v1/token", host(stack, "dev")))
        .basic_auth(&sp.client_id, Some(&sp.client_secret))
        .form(&[("grant_type", "client_credentials"), ("scope", scope)])
        .send()
        .await
        .unwrap();
    (resp.status(), resp.json().await.unwrap())
}

/// The account admin's token.
async fn account_token(stack: &Devstack) -> String {
    let (info, sp) = (stack.info(), &stack.info().service_principal);
    let body: Value = client()
        .post(format!("{}/oidc/accounts/{}/v1/token", info.account_host, info.account_id))
        .basic_auth(&sp.client_id, Some(&sp.client_secret))
        .form(&[("grant_type", "client_credentials"), ("scope", "all-apis")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    str_of(&body, "access_token").to_owned()
}

/// `initialize` at MCP server `path` of `dev` with `token`: the status.
async fn mcp_initialize(stack: &Devstack, path: &str, token: &str) -> StatusCode {
    client()
        .post(format!("{}{path}", host(stack, "dev")))
        .bearer_auth(token)
        .header("accept", "application/json, text/event-stream")
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "t", "version": "1"}}}))
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn the_account_token_endpoint_takes_only_a_form() {
    let stack = auto_approving().await;
    let (info, sp) = (stack.info(), &stack.info().service_principal);
    let url = format!("{}/oidc/accounts/{}/v1/token", info.account_host, info.account_id);
    let resp = client()
        .post(&url)
        .basic_auth(&sp.client_id, Some(&sp.client_secret))
        .json(&json!({"grant_type": "client_credentials", "scope": "all-apis"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"], "invalid_request", "{body}");
    assert!(str_of(&body, "error_description").contains("x-www-form-urlencoded"), "{body}");
    assert!(!account_token(&stack).await.is_empty(), "the same request as a form is answered");
}

#[tokio::test]
async fn messages_need_max_tokens_and_messages() {
    let stack = auto_approving().await;
    let (_, body) = sp_token(&stack, "model-serving").await;
    let token = str_of(&body, "access_token").to_owned();
    let url = format!("{}/ai-gateway/anthropic/v1/messages", host(&stack, "dev"));
    let model = "databricks-claude-sonnet-4-5";
    let hi = json!([{"role": "user", "content": "hi"}]);
    let cases = [
        (json!({"model": model, "messages": hi}), "max_tokens: Field required"),
        (json!({"model": model, "max_tokens": 0, "messages": hi}), "max_tokens: must be an integer ≥ 1"),
        (json!({"model": model, "max_tokens": 8}), "messages: Field required"),
        (
            json!({"model": model, "max_tokens": 8, "messages": "hi"}),
            "messages: Input should be a valid list",
        ),
    ];
    for (request, message) in cases {
        let resp = client().post(&url).bearer_auth(&token).json(&request).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{request}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!((&body["error_code"], &body["message"]), (&json!("BAD_REQUEST"), &json!(message)));
    }
    let ok = json!({"model": model, "max_tokens": 8, "messages": hi});
    let resp = client().post(&url).bearer_auth(&token).json(&ok).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
}

#[tokio::test]
async fn only_scopes_databricks_defines_are_granted() {
    let stack = auto_approving().await;
    for scope in ["serving", "iam", "sql:write", "clusters:restricted-query"] {
        let (status, body) = sp_token(&stack, scope).await;
        assert_eq!((status, str_of(&body, "error")), (StatusCode::BAD_REQUEST, "invalid_scope"), "{scope}");
        assert!(str_of(&body, "error_description").contains(scope.split(':').next().unwrap()), "{body}");
    }
    for scope in
        ["model-serving", "sql genie unity-catalog ai-search", "clusters:read", "sql:read:restricted-query"]
    {
        let (status, body) = sp_token(&stack, scope).await;
        assert_eq!(status, StatusCode::OK, "{scope}: {body}");
        assert_eq!(body["scope"], scope);
    }
    // A `model-serving` token reaches model serving; no `serving` scope exists to do it.
    let meta: Value = client()
        .get(format!("{}/oidc/.well-known/oauth-authorization-server", host(&stack, "dev")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let supported: Vec<&str> =
        meta["scopes_supported"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert!(supported.contains(&"model-serving") && !supported.contains(&"serving"), "{supported:?}");
}

#[tokio::test]
async fn managed_mcp_servers_take_their_scope_or_all_apis_and_nothing_else() {
    let stack = auto_approving().await;
    let token = |scope: &'static str| {
        let stack = &stack;
        async move { str_of(&sp_token(stack, scope).await.1, "access_token").to_owned() }
    };
    let (all_apis, sql, genie, search) =
        (token("all-apis").await, token("sql").await, token("genie").await, token("ai-search").await);
    let index = "/api/2.0/mcp/ai-search/main/docs/faq";
    for (path, good) in
        [("/api/2.0/mcp/sql", &sql), ("/api/2.0/mcp/vector-search/main/docs", &search), (index, &search)]
    {
        assert_eq!(mcp_initialize(&stack, path, &all_apis).await, StatusCode::OK, "all-apis at {path}");
        assert_eq!(mcp_initialize(&stack, path, good).await, StatusCode::OK, "its own scope at {path}");
        assert_eq!(
            mcp_initialize(&stack, path, &genie).await,
            StatusCode::FORBIDDEN,
            "another scope at {path}"
        );
    }
    let vs_index = "/api/2.0/mcp/vector-search/main/docs/faq";
    assert_eq!(mcp_initialize(&stack, vs_index, &all_apis).await, StatusCode::OK);
    assert_eq!(
        mcp_initialize(&stack, "/api/2.0/mcp/ai-search/main/docs", &all_apis).await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        mcp_initialize(&stack, "/api/2.0/mcp/ai-search/main/docs/nope", &all_apis).await,
        StatusCode::NOT_FOUND
    );
    // A workspace with only the renamed spelling: `vector-search` is not found, `ai-search` is.
    stack.set_vector_search_route(false);
    assert_eq!(mcp_initialize(&stack, vs_index, &all_apis).await, StatusCode::NOT_FOUND);
    assert_eq!(mcp_initialize(&stack, index, &all_apis).await, StatusCode::OK);
}

#[tokio::test]
async fn the_exchange_can_refuse_narrow_scopes_or_answer_all_apis() {
    let stack = auto_approving().await;
    let id_token = str_of(&sign_in(&stack).await, "id_token").to_owned();
    let (status, body) = exchange(&stack, "dev", &id_token, &[("scope", "sql")]).await;
    assert_eq!((status, &body["scope"]), (StatusCode::OK, &json!("sql")), "granted by default");

    stack.set_narrow_scopes(NarrowScopes::Refuse);
    let (status, body) = exchange(&stack, "dev", &id_token, &[("scope", "sql")]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        json!({"error": "invalid_scope", "error_description": "Scope \"sql\" is not allowed for token exchange"})
    );
    let (status, body) = exchange(&stack, "dev", &id_token, &[("scope", "all-apis offline_access")]).await;
    assert_eq!(status, StatusCode::OK, "the workspace token is still granted: {body}");

    stack.set_narrow_scopes(NarrowScopes::AnswerAllApis);
    let (status, body) = exchange(&stack, "dev", &id_token, &[("scope", "sql")]).await;
    assert_eq!((status, &body["scope"]), (StatusCode::OK, &json!("all-apis")), "{body}");
}

#[tokio::test]
async fn an_exchange_for_a_subject_with_no_account_user_is_refused() {
    let stack = auto_approving().await;
    let id_token = str_of(&sign_in(&stack).await, "id_token").to_owned();
    assert!(stack.account_users().contains(&"alice@example.com".to_owned()), "signing in provisions");
    let (status, _) = exchange(&stack, "dev", &id_token, &[]).await;
    assert_eq!(status, StatusCode::OK);

    assert!(stack.remove_account_user("alice@example.com"));
    let (status, body) = exchange(&stack, "dev", &id_token, &[]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        body,
        json!({"error": "invalid_request",
            "error_description": "Token subject \"alice@example.com\" does not match any user in the account"})
    );

    // The account SCIM API lists users and adds one back.
    let (info, admin) = (stack.info(), account_token(&stack).await);
    let users = format!("{}/api/2.0/accounts/{}/scim/v2/Users", info.account_host, info.account_id);
    let listed: Value = client()
        .get(&users)
        .query(&[("filter", "userName eq \"alice@example.com\"")])
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["totalResults"], 0, "{listed}");
    let resp = client()
        .post(&users)
        .bearer_auth(&admin)
        .json(&json!({"userName": "alice@example.com"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    let (status, body) = exchange(&stack, "dev", &id_token, &[]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// The same switches over the control endpoints, for tests in another process.
#[tokio::test]
async fn the_switches_have_control_endpoints() {
    let stack = auto_approving().await;
    let iss = stack.info().issuer.clone();
    let post = |path: &str, body: Value| client().post(format!("{iss}/_devstack/{path}")).json(&body).send();
    let id_token = str_of(&sign_in(&stack).await, "id_token").to_owned();

    assert_eq!(
        post("narrow-scopes", json!({"mode": "refuse"})).await.unwrap().status(),
        StatusCode::NO_CONTENT
    );
    let (status, body) = exchange(&stack, "dev", &id_token, &[("scope", "genie")]).await;
    assert_eq!((status, str_of(&body, "error")), (StatusCode::BAD_REQUEST, "invalid_scope"));
    assert_eq!(
        post("narrow-scopes", json!({"mode": "grant"})).await.unwrap().status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(exchange(&stack, "dev", &id_token, &[("scope", "genie")]).await.0, StatusCode::OK);

    let user = json!({"user_name": "alice@example.com"});
    let resp = client().delete(format!("{iss}/_devstack/users")).json(&user).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert_eq!(exchange(&stack, "dev", &id_token, &[]).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(post("users", user).await.unwrap().status(), StatusCode::NO_CONTENT);
    assert_eq!(exchange(&stack, "dev", &id_token, &[]).await.0, StatusCode::OK);

    let (_, body) = sp_token(&stack, "all-apis").await;
    let token = str_of(&body, "access_token").to_owned();
    let index = "/api/2.0/mcp/vector-search/main/docs/faq";
    assert_eq!(
        post("mcp-routes", json!({"vector_search": false})).await.unwrap().status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(mcp_initialize(&stack, index, &token).await, StatusCode::NOT_FOUND);
    assert_eq!(
        post("mcp-routes", json!({"vector_search": true})).await.unwrap().status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(mcp_initialize(&stack, index, &token).await, StatusCode::OK);
}
