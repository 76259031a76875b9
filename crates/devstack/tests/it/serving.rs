//! The Anthropic gateway as Databricks serves it: the models list a launcher reads, and the
//! refusals a client must meet here first (a model that is not served, a path that is not
//! served, Claude Code's WebSearch server tool, a workspace without AI Gateway).

use lakepass_devstack::{Devstack, DevstackOptions};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{client, host};
use crate::workspace::workspace_token;

async fn stack(models: &[&str], ai_gateway: bool) -> Devstack {
    lakepass_devstack::start(DevstackOptions {
        claude_models: models.iter().map(|m| m.to_string()).collect(),
        ai_gateway,
        ..Default::default()
    })
    .await
    .expect("devstack starts")
}

async fn post(url: String, token: &str, body: Value) -> (StatusCode, Value) {
    let resp = client().post(url).bearer_auth(token).json(&body).send().await.unwrap();
    (resp.status(), resp.json().await.unwrap())
}

fn hello(model: &str) -> Value {
    json!({"model": model, "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}]})
}

#[tokio::test]
async fn models_list_has_anthropics_shape_and_serves_the_knobs_models() {
    let ds = stack(&["databricks-claude-opus-5", "databricks-claude-sonnet-4-5"], true).await;
    let token = workspace_token(&ds, "dev", "all-apis").await;
    let base = host(&ds, "dev");
    let resp =
        client().get(format!("{base}/ai-gateway/anthropic/v1/models")).bearer_auth(&token).send().await;
    let list: Value = resp.unwrap().json().await.unwrap();
    assert_eq!(list["has_more"], false);
    assert_eq!(list["first_id"], "databricks-claude-opus-5");
    assert_eq!(list["last_id"], "databricks-claude-sonnet-4-5");
    let first = &list["data"][0];
    assert_eq!((&first["type"], &first["display_name"]), (&json!("model"), &json!("Claude Opus 5")));
    assert!(first["created_at"].as_str().is_some_and(|t| t.ends_with('Z')), "{first}");
    assert!(list["data"][0]["created_at"].as_str() > list["data"][1]["created_at"].as_str(), "newest first");

    // Without a token: 401, as every workspace API.
    let anon = client().get(format!("{base}/ai-gateway/anthropic/v1/models")).send().await.unwrap();
    assert_eq!(anon.status(), StatusCode::UNAUTHORIZED);

    // A served model by endpoint name on both paths, and by its Unity Catalog name on AI Gateway.
    for (path, model) in [
        ("/ai-gateway/anthropic", "databricks-claude-opus-5"),
        ("/ai-gateway/anthropic", "system.ai.claude-opus-5"),
        ("/serving-endpoints/anthropic", "databricks-claude-sonnet-4-5"),
    ] {
        let (status, body) = post(format!("{base}{path}/v1/messages"), &token, hello(model)).await;
        assert_eq!(status, StatusCode::OK, "{path} {model}: {body}");
    }
}

#[tokio::test]
async fn unknown_models_paths_and_web_search_get_databricks_errors() {
    let ds = stack(&["databricks-claude-sonnet-4-5"], true).await;
    let token = workspace_token(&ds, "dev", "model-serving").await;
    let base = host(&ds, "dev");

    let (status, body) =
        post(format!("{base}/ai-gateway/anthropic/v1/messages"), &token, hello("databricks-claude-opus-4-5"))
            .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error_code"], "RESOURCE_DOES_NOT_EXIST");
    assert!(body["message"].as_str().unwrap().contains("'databricks-claude-opus-4-5'"), "{body}");
    // The serving-endpoints path takes endpoint names only.
    let (status, _) = post(
        format!("{base}/serving-endpoints/anthropic/v1/messages"),
        &token,
        hello("system.ai.claude-sonnet-4-5"),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    for path in [
        "/serving-endpoints/databricks-claude-sonnet-4-5/v1/messages",
        "/serving-endpoints/anthropic/v1/models",
    ] {
        let resp = client().request(
            if path.ends_with("models") { reqwest::Method::GET } else { reqwest::Method::POST },
            format!("{base}{path}"),
        );
        let resp =
            resp.bearer_auth(&token).json(&hello("databricks-claude-sonnet-4-5")).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::NOT_FOUND, "{path}");
        let body: Value = resp.json().await.unwrap();
        assert!(
            body["message"].as_str().unwrap().starts_with("Path must be of form /serving-endpoints/"),
            "{body}"
        );
    }

    let mut search = hello("databricks-claude-sonnet-4-5");
    search["tools"] = json!([{"type": "web_search_20250305", "name": "web_search", "max_uses": 8}]);
    let (status, body) = post(format!("{base}/ai-gateway/anthropic/v1/messages"), &token, search).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["message"].as_str().unwrap().contains("'web_search_20250305'"), "{body}");
}

#[tokio::test]
async fn a_workspace_without_ai_gateway_answers_only_on_serving_endpoints() {
    let ds = stack(&["databricks-claude-sonnet-4-5"], false).await;
    let token = workspace_token(&ds, "dev", "all-apis").await;
    let base = host(&ds, "dev");
    let resp = client()
        .get(format!("{base}/ai-gateway/anthropic/v1/models"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error_code"], "FEATURE_DISABLED");
    let (status, _) = post(
        format!("{base}/ai-gateway/anthropic/v1/messages"),
        &token,
        hello("databricks-claude-sonnet-4-5"),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = post(
        format!("{base}/serving-endpoints/anthropic/v1/messages"),
        &token,
        hello("databricks-claude-sonnet-4-5"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}
