//! AI Gateway's Chat Completions API (`/ai-gateway/mlflow/v1/chat/completions`), as Copilot CLI
//! and OpenAI-compatible clients call it: Bearer only, the request shape checked, "pong" as one
//! JSON answer or as `chat.completion.chunk` events ending in `data: [DONE]`, and each request
//! counted under its path with the token's fingerprint.

use lakepass_devstack::{DevstackOptions, fingerprint};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{client, host};
use crate::workspace::workspace_token;

const PATH: &str = "/ai-gateway/mlflow/v1/chat/completions";

fn ask(model: &str) -> Value {
    json!({"model": model, "messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "say pong"}]})
}

#[tokio::test]
async fn chat_completions_answer_pong_as_json_and_as_chunks_and_count_the_token_per_path() {
    let ds = lakepass_devstack::start(DevstackOptions::default()).await.expect("devstack starts");
    let token = workspace_token(&ds, "dev", "all-apis").await;
    let url = format!("{}{PATH}", host(&ds, "dev"));

    let resp =
        client().post(&url).bearer_auth(&token).json(&ask("databricks-claude-sonnet-4-5")).send().await;
    let body: Value = resp.unwrap().json().await.unwrap();
    assert_eq!(body["object"], "chat.completion", "{body}");
    assert_eq!(body["choices"][0]["message"], json!({"role": "assistant", "content": "pong"}));
    assert_eq!(body["choices"][0]["finish_reason"], "stop");
    assert!(body["usage"]["total_tokens"].as_u64().unwrap() > 1);

    let mut streamed = ask("system.ai.claude-sonnet-4-5");
    streamed["stream"] = json!(true);
    streamed["stream_options"] = json!({"include_usage": true});
    let resp = client().post(&url).bearer_auth(&token).json(&streamed).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
    let text = resp.text().await.unwrap();
    let events: Vec<&str> = text.split("\n\n").filter(|e| !e.is_empty()).collect();
    assert_eq!(events.last(), Some(&"data: [DONE]"), "{text}");
    let chunks: Vec<Value> = events[..events.len() - 1]
        .iter()
        .map(|e| serde_json::from_str(e.strip_prefix("data: ").expect("data events only")).unwrap())
        .collect();
    assert!(chunks.iter().all(|c| c["object"] == "chat.completion.chunk" && c["id"] == chunks[0]["id"]));
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    let content: String =
        chunks.iter().filter_map(|c| c["choices"][0]["delta"]["content"].as_str()).collect();
    assert_eq!(content, "pong");
    assert_eq!(chunks[2]["choices"][0]["finish_reason"], "stop");
    assert_eq!(chunks[3]["choices"], json!([]), "the usage chunk has no choices");
    assert!(chunks[3]["usage"]["prompt_tokens"].as_u64().is_some());

    let seen = &ds.stats().workspaces["dev"].paths[PATH];
    assert_eq!(seen.requests, 2);
    assert_eq!(seen.token_fingerprints, [fingerprint(&token)]);
}

#[tokio::test]
async fn chat_completions_refuse_other_credentials_shapes_and_models_as_the_gateway_does() {
    let ds = lakepass_devstack::start(DevstackOptions::default()).await.expect("devstack starts");
    let token = workspace_token(&ds, "dev", "model-serving").await;
    let url = format!("{}{PATH}", host(&ds, "dev"));
    let model = "databricks-claude-sonnet-4-5";

    let anon = client().post(&url).json(&ask(model)).send().await.unwrap();
    assert_eq!(anon.status(), StatusCode::UNAUTHORIZED);
    let key = client().post(&url).header("x-api-key", &token).json(&ask(model)).send().await.unwrap();
    assert_eq!(key.status(), StatusCode::UNAUTHORIZED, "an x-api-key is not a credential");
    let basic = client().post(&url).basic_auth("token", Some(&token)).json(&ask(model)).send().await.unwrap();
    assert_eq!(basic.status(), StatusCode::UNAUTHORIZED, "Bearer only");
    let bogus = client().post(&url).bearer_auth("dvs-unknown").json(&ask(model)).send().await.unwrap();
    assert_eq!(bogus.status(), StatusCode::UNAUTHORIZED);

    let post = |body: Value| client().post(&url).bearer_auth(&token).json(&body).send();
    let resp = post(ask("databricks-gpt-nope")).await.unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error_code"], "RESOURCE_DOES_NOT_EXIST");
    let mut no_stream = ask(model);
    no_stream["stream_options"] = json!({"include_usage": true});
    for bad in
        [json!({"model": model, "input": "say pong"}), json!({"model": model, "messages": []}), no_stream]
    {
        let resp = post(bad.clone()).await.unwrap();
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{bad}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["error_code"], "BAD_REQUEST", "{body}");
    }
    assert_eq!(ds.stats().workspaces["dev"].paths[PATH].token_fingerprints, [fingerprint(&token)]);
}
