//! AI Gateway's Responses API for Codex (`/ai-gateway/codex/v1/responses`): Bearer only, the
//! request shape OpenAI documents, the streamed events Codex parses, and the per-path counter
//! of the tokens it saw.

use lakepass_devstack::{DevstackOptions, fingerprint};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{client, host};
use crate::workspace::workspace_token;

const PATH: &str = "/ai-gateway/codex/v1/responses";

fn ask(model: &str, stream: bool) -> Value {
    json!({"model": model, "input": [{"role": "user", "content": [{"type": "input_text", "text": "say pong"}]}],
           "instructions": "be brief", "stream": stream, "store": false})
}

#[tokio::test]
async fn responses_answers_pong_plain_and_streamed_and_counts_the_token() {
    let ds = lakepass_devstack::start(DevstackOptions::default()).await.unwrap();
    let token = workspace_token(&ds, "dev", "all-apis").await;
    let url = format!("{}{PATH}", host(&ds, "dev"));

    // Plain: the response object, the text in output[0].content[0].
    let resp =
        client().post(&url).bearer_auth(&token).json(&ask("databricks-gpt-5-2", false)).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let body: Value = resp.json().await.unwrap();
    assert_eq!((body["object"].as_str(), body["status"].as_str()), (Some("response"), Some("completed")));
    assert_eq!(body["output"][0]["content"][0]["text"], "pong");
    assert_eq!(body["model"], "databricks-gpt-5-2");

    // Streamed, by the model's Unity Catalog name: SSE events ending in response.completed.
    let resp =
        client().post(&url).bearer_auth(&token).json(&ask("system.ai.gpt-5-1", true)).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    let text = resp.text().await.unwrap();
    let events: Vec<Value> = text
        .split("\n\n")
        .filter_map(|e| e.lines().find_map(|l| l.strip_prefix("data: ")))
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    assert_eq!(events.first().unwrap()["type"], "response.created");
    assert_eq!(events.last().unwrap()["type"], "response.completed");
    let deltas: String = events
        .iter()
        .filter(|e| e["type"] == "response.output_text.delta")
        .map(|e| e["delta"].as_str().unwrap())
        .collect();
    assert_eq!(deltas, "pong");
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e["sequence_number"], i, "{e}");
    }

    let stats = ds.stats();
    let path = &stats.workspaces["dev"].paths[PATH];
    assert_eq!(path.requests, 2);
    assert_eq!(path.token_fingerprints, [fingerprint(&token)]);
}

#[tokio::test]
async fn responses_is_strict_about_credentials_shape_and_model() {
    let ds = lakepass_devstack::start(DevstackOptions::default()).await.unwrap();
    let token = workspace_token(&ds, "dev", "all-apis").await;
    let url = format!("{}{PATH}", host(&ds, "dev"));
    let send = |req: reqwest::RequestBuilder| async move {
        let resp = req.send().await.unwrap();
        let status = resp.status();
        (status, resp.text().await.unwrap())
    };

    // Bearer only: no credential, Basic with the token, or the token as x-api-key are refused.
    let good = ask("databricks-gpt-5-2", false);
    for req in [
        client().post(&url).json(&good),
        client().post(&url).basic_auth("token", Some(&token)).json(&good),
        client().post(&url).header("x-api-key", &token).json(&good),
        client().post(&url).bearer_auth("not-a-token").json(&good),
    ] {
        let (status, body) = send(req).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
        assert!(body.contains("UNAUTHENTICATED"), "{body}");
    }

    // The request shape.
    for (body, says) in [
        (json!({"input": "hi"}), "model: Field required"),
        (json!({"model": "databricks-gpt-5-2"}), "input: Field required"),
        (json!({"model": "databricks-gpt-5-2", "input": 3}), "input:"),
        (
            json!({"model": "databricks-gpt-5-2", "messages": [{"role": "user", "content": "hi"}]}),
            "messages:",
        ),
        (json!({"model": "databricks-gpt-5-2", "input": "hi", "max_output_tokens": 4}), "max_output_tokens"),
        (json!({"model": "databricks-gpt-5-2", "input": "hi", "stream": "yes"}), "stream"),
    ] {
        let (status, text) = send(client().post(&url).bearer_auth(&token).json(&body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {text}");
        assert!(text.contains(says), "{body}: {text}");
    }
    let (status, text) = send(client().post(&url).bearer_auth(&token).body("{nope")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{text}");

    // A model the workspace does not serve (a Claude model is not served on this path).
    for model in ["gpt-5", "databricks-claude-sonnet-4-5"] {
        let (status, text) = send(client().post(&url).bearer_auth(&token).json(&ask(model, true))).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{model}: {text}");
        assert!(text.contains("RESOURCE_DOES_NOT_EXIST"), "{text}");
    }
    assert!(!ds.stats().workspaces["dev"].paths[PATH].token_fingerprints.is_empty());

    // Without AI Gateway the path is a FEATURE_DISABLED 404.
    let off =
        lakepass_devstack::start(DevstackOptions { ai_gateway: false, ..Default::default() }).await.unwrap();
    let token = workspace_token(&off, "dev", "all-apis").await;
    let url = format!("{}{PATH}", host(&off, "dev"));
    let (status, text) = send(client().post(&url).bearer_auth(&token).json(&good)).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{text}");
    assert!(text.contains("FEATURE_DISABLED"), "{text}");
}
