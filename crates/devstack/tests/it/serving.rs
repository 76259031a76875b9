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

#[tokio::test]
async fn model_services_lists_system_ai_page_by_page_and_is_strict_about_its_query() {
    let ds = stack(
        &["databricks-claude-opus-5", "databricks-claude-sonnet-4-5", "databricks-claude-haiku-4-5"],
        true,
    )
    .await;
    let token = workspace_token(&ds, "dev", "all-apis").await;
    let url = format!("{}/api/2.1/unity-catalog/model-services", host(&ds, "dev"));
    let get = |query: String, token: Option<String>| {
        let mut req = client().get(format!("{url}?{query}"));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        async move {
            let resp = req.send().await.unwrap();
            let status = resp.status();
            (status, resp.text().await.unwrap())
        }
    };
    let mut names = Vec::new();
    let mut query = "parent=schemas%2Fsystem.ai&page_size=2".to_string();
    loop {
        let (status, body) = get(query.clone(), Some(token.clone())).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let page: Value = serde_json::from_str(&body).unwrap();
        names.extend(
            page["model_services"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap().to_owned()),
        );
        match page["next_page_token"].as_str() {
            Some(t) => query = format!("parent=schemas%2Fsystem.ai&page_size=2&page_token={t}"),
            None => break,
        }
    }
    assert_eq!(
        names,
        [
            "model-services/system.ai.claude-opus-5",
            "model-services/system.ai.claude-sonnet-4-5",
            "model-services/system.ai.claude-haiku-4-5",
            // The GPT models the Responses API serves (`DevstackOptions::openai_models`).
            "model-services/system.ai.gpt-5-2",
            "model-services/system.ai.gpt-5-1",
            // The workspace also serves Gemini (issue 25: Gemini CLI through AI Gateway).
            "model-services/system.ai.gemini-2-5-pro",
            "model-services/system.ai.gemini-2-5-flash"
        ]
    );
    // Unbounded or too large a page: 499 with no body, as ucode saw it.
    for q in ["parent=schemas%2Fsystem.ai", "page_size=0", "page_size=500"] {
        let (status, body) = get(q.into(), Some(token.clone())).await;
        assert_eq!((status.as_u16(), body.as_str()), (499, ""), "{q}");
    }
    let (status, body) = get("parent=schemas%2Fmain.nope&page_size=10".into(), Some(token.clone())).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert!(body.contains("RESOURCE_DOES_NOT_EXIST"), "{body}");
    let (status, body) = get("page_size=10&page_token=forged".into(), Some(token.clone())).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, _) = get("page_size=10".into(), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "no token");

    // Without AI Gateway, or with the listing off, the path is unknown.
    for opts in [
        DevstackOptions { ai_gateway: false, ..Default::default() },
        DevstackOptions { model_services: false, ..Default::default() },
    ] {
        let ds = lakepass_devstack::start(opts).await.unwrap();
        let token = workspace_token(&ds, "dev", "all-apis").await;
        let resp = client()
            .get(format!("{}/api/2.1/unity-catalog/model-services?page_size=10", host(&ds, "dev")))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::NOT_FOUND);
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["error_code"], "ENDPOINT_NOT_FOUND");
    }
}
